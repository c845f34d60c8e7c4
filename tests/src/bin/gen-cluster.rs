//! `gen-cluster`: writes a large, realistic cluster state for benchmarks (deterministic for a seed).
//!
//! Namespaces of Deployments (each with its ReplicaSet, Service, Endpoints and pods), nodes, and
//! events; a share of the pods broken in mixed ways (crash loops, OOM kills, image pulls,
//! scheduling, readiness, missing Secrets). Objects carry what a real API server returns, managed
//! fields included, so sizes are realistic.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use serde_json::{Value, json};

#[derive(Parser, Debug)]
#[command(name = "gen-cluster", about = "Write a large cluster state (JSON) for benchmarks")]
struct Args {
    #[arg(long, default_value_t = 10_000)]
    pods: usize,
    #[arg(long, default_value_t = 50)]
    namespaces: usize,
    /// Replicas per Deployment
    #[arg(long, default_value_t = 10)]
    replicas: usize,
    #[arg(long, default_value_t = 50)]
    nodes: usize,
    /// Share of broken pods, in percent
    #[arg(long, default_value_t = 5)]
    broken: u64,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    #[arg(long, short)]
    out: PathBuf,
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn hash(&mut self, len: usize) -> String {
        const A: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        (0..len).map(|_| A[self.below(A.len() as u64) as usize] as char).collect()
    }
}

const NOW: &str = "2026-05-01T12:00:00Z";
const EARLIER: &str = "2026-04-20T08:00:00Z";

fn managed_fields(manager: &str) -> Value {
    json!([
        {"manager": manager, "operation": "Update", "apiVersion": "v1", "time": EARLIER, "fieldsType": "FieldsV1",
         "fieldsV1": {"f:metadata": {"f:generateName": {}, "f:labels": {".": {}, "f:app": {}, "f:pod-template-hash": {}}, "f:ownerReferences": {".": {}, "k:{\"uid\":\"x\"}": {}}},
                      "f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {".": {}, "f:env": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {}, "f:ports": {}, "f:readinessProbe": {}, "f:resources": {}}}}}},
        {"manager": "kubelet", "operation": "Update", "apiVersion": "v1", "time": EARLIER, "fieldsType": "FieldsV1", "subresource": "status",
         "fieldsV1": {"f:status": {"f:conditions": {"k:{\"type\":\"Ready\"}": {".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {}}}, "f:containerStatuses": {}, "f:hostIP": {}, "f:phase": {}, "f:podIP": {}, "f:startTime": {}}}}
    ])
}

fn main() -> ExitCode {
    let a = Args::parse();
    let mut rng = Rng(a.seed | 1);
    let mut items: Vec<Value> = Vec::new();
    let nodes: Vec<String> = (0..a.nodes).map(|i| format!("node-{i:03}")).collect();
    for (i, n) in nodes.iter().enumerate() {
        let images: Vec<Value> = (0..10).map(|k| json!({"names": [format!("registry.example.com/team/app-{k}@sha256:{:064x}", k), format!("registry.example.com/team/app-{k}:1.{k}.0")], "sizeBytes": 50_000_000 + k * 1_000_000})).collect();
        items.push(json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": n, "uid": format!("uid-node-{i}"), "creationTimestamp": EARLIER,
                         "labels": {"kubernetes.io/hostname": n, "kubernetes.io/os": "linux", "node.kubernetes.io/instance-type": "m6i.2xlarge", "topology.kubernetes.io/zone": format!("eu-west-1{}", ["a", "b", "c"][i % 3])},
                         "managedFields": managed_fields("kubelet")},
            "spec": {"podCIDR": format!("10.244.{i}.0/24"), "providerID": format!("aws:///eu-west-1a/i-{i:017x}")},
            "status": {
                "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi"},
                "allocatable": {"cpu": "7910m", "memory": "31Gi", "pods": "110", "ephemeral-storage": "92Gi"},
                "conditions": [
                    {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory", "lastHeartbeatTime": NOW, "lastTransitionTime": EARLIER},
                    {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure", "lastHeartbeatTime": NOW, "lastTransitionTime": EARLIER},
                    {"type": "PIDPressure", "status": "False", "reason": "KubeletHasSufficientPID", "lastHeartbeatTime": NOW, "lastTransitionTime": EARLIER},
                    {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status", "lastHeartbeatTime": NOW, "lastTransitionTime": EARLIER}],
                "addresses": [{"type": "InternalIP", "address": format!("10.0.{}.{}", i / 250, i % 250)}, {"type": "Hostname", "address": n}],
                "nodeInfo": {"kubeletVersion": "v1.32.4", "kubeProxyVersion": "", "osImage": "Ubuntu 24.04 LTS", "kernelVersion": "6.8.0-45-generic", "containerRuntimeVersion": "containerd://1.7.22",
                             "architecture": "amd64", "operatingSystem": "linux", "bootID": "", "machineID": "", "systemUUID": ""},
                "images": images}
        }));
    }
    let per_ns = a.pods / a.namespaces.max(1);
    let deployments = (per_ns / a.replicas.max(1)).max(1);
    let mut event_no = 0u64;
    let mut event = |items: &mut Vec<Value>,
                     ns: &str,
                     pod: &str,
                     uid: &str,
                     reason: &str,
                     kind: &str,
                     message: String,
                     count: u64| {
        event_no += 1;
        items.push(json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": format!("{pod}.{event_no:x}"), "namespace": ns, "uid": format!("uid-ev-{event_no}"), "creationTimestamp": NOW},
            "involvedObject": {"kind": "Pod", "namespace": ns, "name": pod, "uid": uid, "apiVersion": "v1", "fieldPath": "spec.containers{app}"},
            "reason": reason, "message": message, "type": kind, "count": count,
            "firstTimestamp": "2026-05-01T11:00:00Z", "lastTimestamp": NOW,
            "source": {"component": "kubelet", "host": "node-000"}, "reportingComponent": "kubelet", "reportingInstance": "node-000"
        }));
    };
    for n in 0..a.namespaces {
        let ns = format!("team-{n:02}");
        items.push(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "uid": format!("uid-ns-{n}"), "creationTimestamp": EARLIER, "labels": {"kubernetes.io/metadata.name": ns}}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}));
        for d in 0..deployments {
            let app = format!("svc-{d:02}");
            let hash = rng.hash(10);
            let rs = format!("{app}-{hash}");
            let (duid, rsuid) = (format!("uid-{ns}-{app}"), format!("uid-{ns}-{rs}"));
            let image = format!("registry.example.com/{ns}/{app}:1.{}.{}", d % 7, n % 5);
            let container = json!({
                "name": "app", "image": image, "imagePullPolicy": "IfNotPresent",
                "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                "env": [{"name": "APP_NAME", "value": app}, {"name": "LOG_LEVEL", "value": "info"}, {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
                        {"name": "DB_HOST", "value": format!("db.{ns}.svc")}, {"name": "FEATURE_FLAGS", "value": "a,b,c"}],
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
                "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080, "scheme": "HTTP"}, "periodSeconds": 10, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3},
                "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"}, "periodSeconds": 10, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3},
                "volumeMounts": [{"name": "kube-api-access", "readOnly": true, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
                "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"
            });
            let labels = json!({"app": app, "team": ns, "pod-template-hash": hash});
            let template = json!({"metadata": {"labels": {"app": app, "team": ns}}, "spec": {"containers": [container.clone()], "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "serviceAccountName": "default"}});
            let mut ready_ips = Vec::new();
            let mut not_ready = Vec::new();
            let mut ready_count = 0;
            let mut pods = Vec::new();
            for r in 0..a.replicas {
                let pod = format!("{rs}-{}", rng.hash(5));
                let uid = format!("uid-{ns}-{pod}");
                let node = &nodes[rng.below(nodes.len() as u64) as usize];
                let ip = format!("10.{}.{}.{}", 100 + n, d, r + 10);
                let broken = rng.below(100) < a.broken;
                let mode = rng.below(6);
                let mut status = json!({
                    "phase": "Running", "hostIP": "10.0.0.1", "podIP": ip, "podIPs": [{"ip": ip}], "qosClass": "Burstable", "startTime": EARLIER,
                    "conditions": [
                        {"type": "PodReadyToStartContainers", "status": "True", "lastTransitionTime": EARLIER},
                        {"type": "Initialized", "status": "True", "lastTransitionTime": EARLIER},
                        {"type": "Ready", "status": "True", "lastTransitionTime": EARLIER},
                        {"type": "ContainersReady", "status": "True", "lastTransitionTime": EARLIER},
                        {"type": "PodScheduled", "status": "True", "lastTransitionTime": EARLIER}],
                    "containerStatuses": [{"name": "app", "image": image, "imageID": format!("{image}@sha256:{:064x}", d), "containerID": format!("containerd://{:064x}", rng.next()),
                                           "ready": true, "started": true, "restartCount": 0, "state": {"running": {"startedAt": EARLIER}}}]
                });
                if broken {
                    let cs = &mut status["containerStatuses"][0];
                    match mode {
                        0 | 1 => {
                            let (code, why) = if mode == 0 { (1, "Error") } else { (137, "OOMKilled") };
                            cs["ready"] = json!(false);
                            cs["restartCount"] = json!(7);
                            cs["state"] = json!({"waiting": {"reason": "CrashLoopBackOff", "message": format!("back-off 5m0s restarting failed container=app pod={pod}_{ns}({uid})")}});
                            cs["lastState"] = json!({"terminated": {"exitCode": code, "reason": why, "startedAt": "2026-05-01T11:55:00Z", "finishedAt": "2026-05-01T11:56:00Z"}});
                            event(
                                &mut items,
                                &ns,
                                &pod,
                                &uid,
                                "BackOff",
                                "Warning",
                                format!("Back-off restarting failed container app in pod {pod}_{ns}({uid})"),
                                30,
                            );
                        }
                        2 => {
                            cs["ready"] = json!(false);
                            cs["state"] = json!({"waiting": {"reason": "ImagePullBackOff", "message": format!("Back-off pulling image \"{image}\"")}});
                            status["phase"] = json!("Pending");
                            event(
                                &mut items,
                                &ns,
                                &pod,
                                &uid,
                                "Failed",
                                "Warning",
                                format!(
                                    "Failed to pull image \"{image}\": rpc error: code = NotFound desc = {image}: not found"
                                ),
                                5,
                            );
                        }
                        3 => {
                            status = json!({"phase": "Pending", "qosClass": "Burstable", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                "message": format!("0/{} nodes are available: {} Insufficient memory. preemption: 0/{} nodes are available: {} No preemption victims found for incoming pod.", a.nodes, a.nodes, a.nodes, a.nodes)}]});
                        }
                        4 => {
                            cs["ready"] = json!(false);
                            status["conditions"][2]["status"] = json!("False");
                            event(
                                &mut items,
                                &ns,
                                &pod,
                                &uid,
                                "Unhealthy",
                                "Warning",
                                "Readiness probe failed: HTTP probe failed with statuscode: 503".into(),
                                200,
                            );
                        }
                        _ => {
                            cs["ready"] = json!(false);
                            cs["state"] = json!({"waiting": {"reason": "CreateContainerConfigError", "message": format!("secret \"{app}-creds\" not found")}});
                            status["phase"] = json!("Pending");
                        }
                    }
                    not_ready.push(json!({"ip": ip, "nodeName": node, "targetRef": {"kind": "Pod", "namespace": ns, "name": pod, "uid": uid}}));
                } else {
                    ready_count += 1;
                    ready_ips.push(json!({"ip": ip, "nodeName": node, "targetRef": {"kind": "Pod", "namespace": ns, "name": pod, "uid": uid}}));
                    if rng.below(4) == 0 {
                        event(
                            &mut items,
                            &ns,
                            &pod,
                            &uid,
                            "Pulled",
                            "Normal",
                            format!("Container image \"{image}\" already present on machine"),
                            1,
                        );
                    }
                }
                let mut spec = template["spec"].clone();
                spec["nodeName"] = json!(node);
                spec["volumes"] = json!([{"name": "kube-api-access", "projected": {"defaultMode": 420, "sources": [{"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}, {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}, {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}}]);
                spec["tolerations"] = json!([{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}, {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]);
                pods.push(json!({
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": pod, "generateName": format!("{rs}-"), "namespace": ns, "uid": uid, "resourceVersion": "1", "creationTimestamp": EARLIER,
                                 "labels": labels, "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "8080"},
                                 "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs, "uid": rsuid, "controller": true, "blockOwnerDeletion": true}],
                                 "managedFields": managed_fields("kube-controller-manager")},
                    "spec": spec, "status": status
                }));
            }
            let replicas = a.replicas as i64;
            let mut dstatus = json!({"observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas, "readyReplicas": ready_count, "availableReplicas": ready_count,
                "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability."},
                               {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable", "message": format!("ReplicaSet \"{rs}\" has successfully progressed.")}]});
            if ready_count < a.replicas {
                dstatus["unavailableReplicas"] = json!(replicas - ready_count as i64);
            }
            items.push(json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": app, "namespace": ns, "uid": duid, "generation": 1, "creationTimestamp": EARLIER, "labels": {"app": app, "team": ns}, "annotations": {"deployment.kubernetes.io/revision": "1"}, "managedFields": managed_fields("kubectl")},
                "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": app}}, "template": template, "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600},
                "status": dstatus}));
            items.push(json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": rs, "namespace": ns, "uid": rsuid, "generation": 1, "creationTimestamp": EARLIER, "labels": labels,
                             "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": app, "uid": duid, "controller": true, "blockOwnerDeletion": true}], "managedFields": managed_fields("kube-controller-manager")},
                "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": app, "pod-template-hash": hash}}, "template": {"metadata": {"labels": labels}, "spec": template["spec"]}},
                "status": {"replicas": replicas, "fullyLabeledReplicas": replicas, "readyReplicas": ready_count, "availableReplicas": ready_count, "observedGeneration": 1}}));
            items.push(json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": app, "namespace": ns, "uid": format!("uid-svc-{ns}-{app}"), "creationTimestamp": EARLIER, "labels": {"app": app}},
                "spec": {"selector": {"app": app}, "type": "ClusterIP", "clusterIP": format!("10.96.{n}.{d}"), "clusterIPs": [format!("10.96.{n}.{d}")], "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}], "sessionAffinity": "None", "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack", "internalTrafficPolicy": "Cluster"},
                "status": {"loadBalancer": {}}}));
            let mut subset = json!({"ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]});
            if !ready_ips.is_empty() {
                subset["addresses"] = json!(ready_ips);
            }
            if !not_ready.is_empty() {
                subset["notReadyAddresses"] = json!(not_ready);
            }
            items.push(json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": app, "namespace": ns, "uid": format!("uid-ep-{ns}-{app}"), "creationTimestamp": EARLIER, "labels": {"app": app}}, "subsets": [subset]}));
            items.extend(pods);
        }
    }
    let list = json!({"apiVersion": "v1", "kind": "List", "items": items});
    let result = std::fs::File::create(&a.out).and_then(|f| {
        let mut w = std::io::BufWriter::new(f);
        serde_json::to_writer(&mut w, &list).map_err(std::io::Error::other)?;
        w.flush()
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gen-cluster: {}: {e}", a.out.display());
            ExitCode::from(2)
        }
    }
}
