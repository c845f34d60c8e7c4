//! Checks on a pod spec (a Pod's own, or a workload's template): Pod Security Standards with the
//! exact semantics of pod-security-admission v1.37, then hardening, resources, images, secrets.
//!
//! Where the tools disagree on one condition (PSA compares capability names exactly, Polaris
//! ignores case), each reference is added only when that tool's own condition fails.

use serde_json::Value;

use super::{All, Emit, Hit, namespace_of};
use crate::findings::Severity;

/// A pod spec inside an object, with the metadata that holds its annotations.
pub(crate) struct PodView<'a> {
    pub object: &'a Value,
    pub spec: &'a Value,
    pub meta: &'a Value,
    /// JSON path of `spec` in the object.
    pub at: &'static str,
}

/// One container of any list.
pub(crate) struct Container<'a> {
    pub c: &'a Value,
    pub name: Option<&'a str>,
    pub path: String,
    pub ephemeral: bool,
    pub init: bool,
}

impl<'a> PodView<'a> {
    pub(crate) fn of(object: &'a Value) -> Option<PodView<'a>> {
        let spec = &object["spec"];
        let candidates: [(&Value, &Value, &'static str); 3] = [
            (
                &spec["jobTemplate"]["spec"]["template"]["spec"],
                &spec["jobTemplate"]["spec"]["template"]["metadata"],
                "spec.jobTemplate.spec.template.spec",
            ),
            (&spec["template"]["spec"], &spec["template"]["metadata"], "spec.template.spec"),
            (spec, &object["metadata"], "spec"),
        ];
        candidates.into_iter().find(|(s, _, _)| s["containers"].is_array()).map(|(spec, meta, at)| PodView {
            object,
            spec,
            meta,
            at,
        })
    }

    /// Init, regular and ephemeral containers (what PSA's visitor walks).
    pub(crate) fn containers(&self) -> Vec<Container<'a>> {
        let mut out = Vec::new();
        for list in ["initContainers", "containers", "ephemeralContainers"] {
            for (i, c) in self.spec[list].as_array().into_iter().flatten().enumerate() {
                out.push(Container {
                    c,
                    name: c["name"].as_str(),
                    path: format!("{}.{list}[{i}]", self.at),
                    ephemeral: list == "ephemeralContainers",
                    init: list == "initContainers",
                });
            }
        }
        out
    }

    fn pod_sc(&self) -> &'a Value {
        &self.spec["securityContext"]
    }

    fn windows(&self) -> bool {
        self.spec["os"]["name"] == "windows"
    }

    fn host_users_off(&self) -> bool {
        self.spec["hostUsers"] == false
    }

    fn annotation(&self, key: &str) -> Option<&'a str> {
        self.meta["annotations"][key].as_str()
    }

    fn path(&self, rest: &str) -> String {
        format!("{}.{rest}", self.at)
    }
}

fn sc<'a>(c: &Container<'a>) -> &'a Value {
    &c.c["securityContext"]
}

fn names(list: &Value) -> impl Iterator<Item = &str> {
    list.as_array().into_iter().flatten().filter_map(Value::as_str)
}

fn upper(name: &str) -> String {
    let n = name.to_ascii_uppercase();
    n.strip_prefix("CAP_").map(str::to_string).unwrap_or(n)
}

/// The capabilities PSA baseline allows to add.
const DEFAULT_CAPS: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// Polaris's insecure capabilities: dropping all of them is as good as dropping ALL.
const POLARIS_INSECURE: &[&str] = &[
    "NET_ADMIN",
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "MKNOD",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
];

/// Sysctls pods may set (PSA v1.37).
const SAFE_SYSCTLS: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
    "net.ipv4.tcp_slow_start_after_idle",
    "net.ipv4.tcp_notsent_lowat",
];

const SELINUX_TYPES: &[&str] = &["", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"];

const RESTRICTED_VOLUMES: &[&str] = &[
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

const SENSITIVE_HOST_PATHS: &[&str] =
    &["/", "/etc", "/proc", "/sys", "/dev", "/boot", "/lib", "/usr", "/var/lib/docker", "/var/lib/kubelet"];

pub(crate) fn check(pod: &PodView<'_>, all: &All<'_>, emit: &mut Emit<'_>) {
    let containers = pod.containers();
    host(pod, emit);
    for c in &containers {
        container_security(pod, c, emit);
    }
    volumes(pod, emit);
    pod_level(pod, emit);
    run_as(pod, &containers, emit);
    hardening(pod, &containers, all, emit);
    for c in containers.iter().filter(|c| !c.ephemeral) {
        resources(c, emit);
        image(c, emit);
        env(c, emit);
    }
    namespaces(pod, emit);
}

/// POD-002/3/4, POD-032, POD-034.
fn host(pod: &PodView<'_>, emit: &mut Emit<'_>) {
    for (id, field, polaris, kubesec, ksv, cis) in [
        ("POD-002", "hostNetwork", "polaris:hostNetworkSet", "kubesec:HostNetwork", "ksv:KSV-0009", "cis:5.2.5"),
        ("POD-003", "hostPID", "polaris:hostPIDSet", "kubesec:HostPID", "ksv:KSV-0010", "cis:5.2.3"),
        ("POD-004", "hostIPC", "polaris:hostIPCSet", "kubesec:HostIPC", "ksv:KSV-0008", "cis:5.2.4"),
    ] {
        if emit.runs(id) && pod.spec[field] == true {
            let refs = ["pss:baseline/hostNamespaces", polaris, kubesec, ksv, cis];
            emit.report(id, Hit::new(pod.path(field), format!("{field}=true shares the node's namespace"), &refs));
        }
    }
    if emit.runs("POD-032") && pod.spec["hostAliases"].as_array().is_some_and(|a| !a.is_empty()) {
        emit.report(
            "POD-032",
            Hit::new(
                pod.path("hostAliases"),
                "hostAliases rewrites /etc/hosts",
                &["kubesec:HostAliases", "ksv:KSV-0007"],
            ),
        );
    }
    if emit.runs("POD-034") && pod.spec["hostUsers"] != false {
        emit.report(
            "POD-034",
            Hit::new(pod.path("hostUsers"), "the pod shares the node's user namespace", &["kubesec:HostUsers"]),
        );
    }
}

/// Per container: POD-001, 005, 006, 009, 010, 011, 012, 015, 016, 017, 020, 021, 024, 033.
fn container_security(pod: &PodView<'_>, c: &Container<'_>, emit: &mut Emit<'_>) {
    let sc = sc(c);
    let name = c.name;
    let who = format!("container {:?}", name.unwrap_or(""));
    if emit.runs("POD-001") && sc["privileged"] == true {
        let refs = [
            "pss:baseline/privileged",
            "polaris:runAsPrivileged",
            "kubesec:Privileged",
            "kube-score:container-security-context-privileged",
            "ksv:KSV-0017",
            "cis:5.2.2",
        ];
        emit.report(
            "POD-001",
            Hit::new(format!("{}.securityContext.privileged", c.path), format!("{who} is privileged"), &refs)
                .container(name),
        );
    }
    let add: Vec<&str> = names(&sc["capabilities"]["add"]).collect();
    let drop: Vec<&str> = names(&sc["capabilities"]["drop"]).collect();
    let add_path = format!("{}.securityContext.capabilities.add", c.path);
    if emit.runs("POD-005") {
        let beyond: Vec<&str> = add.iter().copied().filter(|a| !DEFAULT_CAPS.contains(a)).collect();
        if !beyond.is_empty() {
            let refs = ["pss:baseline/capabilities_baseline", "ksv:KSV-0022", "cis:5.2.9"];
            let message = format!("{who} adds {}", beyond.join(", "));
            emit.report("POD-005", Hit::new(&add_path, message, &refs).container(name));
        } else if !add.is_empty() {
            // trivy counts any added capability; the default set is only a low concern.
            let message = format!("{who} adds {} (within the default set)", add.join(", "));
            emit.report(
                "POD-005",
                Hit::new(&add_path, message, &["ksv:KSV-0022"]).container(name).severity(Severity::Low),
            );
        }
    }
    if emit.runs("POD-006") {
        for cap in &add {
            let u = upper(cap);
            let severity = match u.as_str() {
                "ALL" | "SYS_ADMIN" => Severity::Critical,
                "NET_ADMIN" | "SYS_MODULE" | "NET_RAW" | "SYS_PTRACE" | "BPF" | "PERFMON" => Severity::High,
                _ => continue,
            };
            let mut refs = vec![];
            if !DEFAULT_CAPS.contains(cap) {
                refs.push("pss:baseline/capabilities_baseline");
            }
            if matches!(u.as_str(), "ALL" | "SYS_ADMIN" | "NET_ADMIN") {
                refs.push("polaris:dangerousCapabilities");
            }
            match u.as_str() {
                "SYS_ADMIN" => refs.extend(["kubesec:CapSysAdmin", "ksv:KSV-0005"]),
                "NET_RAW" => refs.push("ksv:KSV-0119"),
                "SYS_MODULE" | "SYS_PTRACE" | "BPF" | "PERFMON" | "NET_ADMIN" => refs.push("ksv:KSV-0120"),
                _ => {}
            }
            refs.push("cis:5.2.8");
            let message = format!("{who} adds {cap}");
            emit.report("POD-006", Hit::new(&add_path, message, &refs).container(name).severity(severity));
        }
    }
    if emit.runs("POD-009") {
        for (i, p) in c.c["ports"].as_array().into_iter().flatten().enumerate() {
            if p["hostPort"].as_i64().is_some_and(|h| h != 0) {
                let refs = ["pss:baseline/hostPorts", "polaris:hostPortSet", "ksv:KSV-0024", "cis:5.2.12"];
                let message = format!("{who} binds host port {}", p["hostPort"]);
                emit.report(
                    "POD-009",
                    Hit::new(format!("{}.ports[{i}].hostPort", c.path), message, &refs).container(name),
                );
            }
        }
    }
    if emit.runs("POD-010")
        && let Some(t) =
            sc["appArmorProfile"]["type"].as_str().filter(|t| !matches!(*t, "RuntimeDefault" | "Localhost"))
    {
        let refs = ["pss:baseline/appArmorProfile", "kubesec:ApparmorUnconfined", "ksv:KSV-0002"];
        let message = format!("{who} sets AppArmor profile {t}");
        emit.report(
            "POD-010",
            Hit::new(format!("{}.securityContext.appArmorProfile.type", c.path), message, &refs).container(name),
        );
    }

    if emit.runs("POD-011") {
        selinux(&sc["seLinuxOptions"], &format!("{}.securityContext.seLinuxOptions", c.path), name, emit);
    }
    if emit.runs("POD-012") && sc["procMount"].as_str().is_some_and(|p| p != "Default") {
        let mut refs = vec!["pss:restricted/procMount_restricted"];
        if !pod.host_users_off() {
            refs.extend(["pss:baseline/procMount", "polaris:procMount", "ksv:KSV-0027"]);
        }
        let message = format!("{who} sets procMount {}", sc["procMount"]);
        emit.report(
            "POD-012",
            Hit::new(format!("{}.securityContext.procMount", c.path), message, &refs).container(name),
        );
    }
    if emit.runs("POD-013") && sc["seccompProfile"]["type"] == "Unconfined" {
        let refs = ["pss:baseline/seccompProfile_baseline", "kubesec:SeccompUnconfined", "ksv:KSV-0104", "cis:5.6.2"];
        let message = format!("{who} runs without seccomp (Unconfined)");
        emit.report(
            "POD-013",
            Hit::new(format!("{}.securityContext.seccompProfile.type", c.path), message, &refs).container(name),
        );
    }
    if emit.runs("POD-015") && sc["windowsOptions"]["hostProcess"] == true {
        let refs = ["pss:baseline/windowsHostProcess", "polaris:hostProcess", "ksv:KSV-0103", "cis:5.2.10"];
        let message = format!("{who} is a Windows HostProcess container");
        emit.report(
            "POD-015",
            Hit::new(format!("{}.securityContext.windowsOptions.hostProcess", c.path), message, &refs).container(name),
        );
    }
    if emit.runs("POD-016") {
        let handlers = [
            ("livenessProbe", &c.c["livenessProbe"]),
            ("readinessProbe", &c.c["readinessProbe"]),
            ("startupProbe", &c.c["startupProbe"]),
            ("lifecycle.postStart", &c.c["lifecycle"]["postStart"]),
            ("lifecycle.preStop", &c.c["lifecycle"]["preStop"]),
        ];
        for (at, handler) in handlers {
            for action in ["httpGet", "tcpSocket"] {
                if let Some(host) = handler[action]["host"].as_str().filter(|h| !h.is_empty()) {
                    let message = format!("{who}'s {at} targets host {host}");
                    let refs = ["pss:baseline/hostProbesAndHostLifecycle"];
                    emit.report(
                        "POD-016",
                        Hit::new(format!("{}.{at}.{action}.host", c.path), message, &refs).container(name),
                    );
                }
            }
        }
    }
    if emit.runs("POD-017") && !pod.windows() && sc["allowPrivilegeEscalation"] != false {
        let explicit = sc["allowPrivilegeEscalation"] == true;
        let mut refs = vec!["pss:restricted/allowPrivilegeEscalation", "polaris:privilegeEscalationAllowed"];
        if explicit {
            refs.push("kubesec:AllowPrivilegeEscalation");
        }
        refs.extend(["ksv:KSV-0001", "cis:5.2.6"]);
        let message = if explicit {
            format!("{who} sets allowPrivilegeEscalation=true")
        } else {
            format!("{who} must set securityContext.allowPrivilegeEscalation=false")
        };
        emit.report(
            "POD-017",
            Hit::new(format!("{}.securityContext.allowPrivilegeEscalation", c.path), message, &refs).container(name),
        );
    }
    if emit.runs("POD-020") && !pod.windows() {
        let psa = !drop.contains(&"ALL");
        let drops_all = drop.iter().any(|d| upper(d) == "ALL")
            || POLARIS_INSECURE.iter().all(|i| drop.iter().any(|d| upper(d) == *i));
        let polaris = !drops_all || add.iter().any(|a| upper(a) == "ALL");
        if psa || polaris {
            let mut refs = vec![];
            if psa {
                refs.extend(["pss:restricted/capabilities_restricted", "kubesec:CapDropAll"]);
            }
            if !drop.iter().any(|d| upper(d) == "ALL") {
                refs.push("ksv:KSV-0003");
            }
            if polaris {
                refs.push("polaris:insecureCapabilities");
            }
            if drop.is_empty() {
                refs.extend(["kubesec:CapDropAny", "ksv:KSV-0004"]);
            }
            refs.push("cis:5.2.9");
            let message = format!("{who} must set securityContext.capabilities.drop=[\"ALL\"]");
            emit.report(
                "POD-020",
                Hit::new(format!("{}.securityContext.capabilities.drop", c.path), message, &refs).container(name),
            );
        }
    }
    if emit.runs("POD-021") && !pod.windows() {
        let other: Vec<&str> = add.iter().copied().filter(|a| *a != "NET_BIND_SERVICE").collect();
        if !other.is_empty() {
            let refs = ["pss:restricted/capabilities_restricted", "ksv:KSV-0106", "cis:5.2.9"];
            let message = format!("{who} adds {} (only NET_BIND_SERVICE may be added)", other.join(", "));
            emit.report("POD-021", Hit::new(&add_path, message, &refs).container(name));
        }
    }
    if emit.runs("POD-024") && !c.ephemeral && sc["readOnlyRootFilesystem"] != true {
        let refs = [
            "polaris:notReadOnlyRootFilesystem",
            "kubesec:ReadOnlyRootFilesystem",
            "kube-score:container-security-context-readonlyrootfilesystem",
            "ksv:KSV-0014",
        ];
        let message = format!("{who} can write to its root filesystem");
        emit.report(
            "POD-024",
            Hit::new(format!("{}.securityContext.readOnlyRootFilesystem", c.path), message, &refs).container(name),
        );
    }
    if emit.runs("POD-033") {
        for (i, p) in c.c["ports"].as_array().into_iter().flatten().enumerate() {
            if p["containerPort"].as_i64().is_some_and(|n| n < 1024) {
                let message = format!("{who} listens on privileged port {}", p["containerPort"]);
                let refs = ["ksv:KSV-0117"];
                emit.report(
                    "POD-033",
                    Hit::new(format!("{}.ports[{i}].containerPort", c.path), message, &refs).container(name),
                );
            }
        }
    }
}

/// POD-011 on one `seLinuxOptions`.
fn selinux(options: &Value, path: &str, container: Option<&str>, emit: &mut Emit<'_>) {
    let refs = ["pss:baseline/seLinuxOptions", "ksv:KSV-0025"];
    if let Some(t) = options["type"].as_str().filter(|t| !SELINUX_TYPES.contains(t)) {
        emit.report(
            "POD-011",
            Hit::new(format!("{path}.type"), format!("SELinux type {t} is not allowed"), &refs).container(container),
        );
    }
    for field in ["user", "role"] {
        if let Some(v) = options[field].as_str().filter(|v| !v.is_empty()) {
            let message = format!("SELinux {field} {v} must not be set");
            emit.report("POD-011", Hit::new(format!("{path}.{field}"), message, &refs).container(container));
        }
    }
}

/// POD-007, 008, 023.
fn volumes(pod: &PodView<'_>, emit: &mut Emit<'_>) {
    let (hostpath, sensitive, restricted) = (emit.runs("POD-007"), emit.runs("POD-008"), emit.runs("POD-023"));
    for (i, v) in pod.spec["volumes"].as_array().into_iter().flatten().enumerate() {
        let at = pod.path(&format!("volumes[{i}]"));
        let vname = v["name"].as_str().unwrap_or("");
        if v.get("hostPath").is_some_and(|h| !h.is_null()) {
            let path = v["hostPath"]["path"].as_str().unwrap_or("");
            if hostpath {
                let refs = ["pss:baseline/hostPathVolumes", "polaris:hostPathSet", "ksv:KSV-0023", "cis:5.2.11"];
                emit.report(
                    "POD-007",
                    Hit::new(format!("{at}.hostPath"), format!("volume {vname:?} mounts host path {path}"), &refs),
                );
            }
            let trimmed = if path.len() > 1 { path.trim_end_matches('/') } else { path };
            let socket = ["docker.sock", "containerd.sock", "crio.sock"].iter().any(|s| trimmed.ends_with(s));
            if sensitive && (socket || SENSITIVE_HOST_PATHS.contains(&trimmed)) {
                let mut refs = vec!["pss:baseline/hostPathVolumes"];
                if trimmed.ends_with("docker.sock") {
                    refs.extend(["kubesec:DockerSock", "ksv:KSV-0006"]);
                } else {
                    refs.push("ksv:KSV-0121");
                }
                let message = format!("volume {vname:?} mounts {path} from the node");
                emit.report("POD-008", Hit::new(format!("{at}.hostPath.path"), message, &refs));
            }
        }
        if restricted {
            let kinds: Vec<&str> = v
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(k, val)| k.as_str() != "name" && !val.is_null())
                .map(|(k, _)| k.as_str())
                .filter(|k| !RESTRICTED_VOLUMES.contains(k))
                .collect();
            if !kinds.is_empty() {
                let refs = ["pss:restricted/restrictedVolumes", "ksv:KSV-0028"];
                let message = format!("volume {vname:?} has type {}", kinds.join(", "));
                emit.report("POD-023", Hit::new(&at, message, &refs));
            }
        }
    }
}

/// Pod-level security context: POD-010, 011, 013, 014, 015, 025; legacy annotations.
fn pod_level(pod: &PodView<'_>, emit: &mut Emit<'_>) {
    let psc = pod.pod_sc();
    if emit.runs("POD-010") {
        let refs = ["pss:baseline/appArmorProfile", "kubesec:ApparmorUnconfined", "ksv:KSV-0002"];
        if let Some(t) =
            psc["appArmorProfile"]["type"].as_str().filter(|t| !matches!(*t, "RuntimeDefault" | "Localhost"))
        {
            let message = format!("the pod sets AppArmor profile {t}");
            emit.report("POD-010", Hit::new(pod.path("securityContext.appArmorProfile.type"), message, &refs));
        }
        for (key, value) in pod.meta["annotations"].as_object().into_iter().flatten() {
            let Some(container) = key.strip_prefix("container.apparmor.security.beta.kubernetes.io/") else { continue };
            let value = value.as_str().unwrap_or("");
            if !(value.is_empty() || value == "runtime/default" || value.starts_with("localhost/")) {
                let message = format!("container {container:?} has AppArmor profile {value}");
                let path = format!("metadata.annotations[{key}]");
                emit.report("POD-010", Hit::new(path, message, &refs).container(Some(container)));
            }
        }
    }
    if emit.runs("POD-011") {
        selinux(&psc["seLinuxOptions"], &pod.path("securityContext.seLinuxOptions"), None, emit);
    }
    if emit.runs("POD-013") {
        if psc["seccompProfile"]["type"] == "Unconfined" {
            let refs =
                ["pss:baseline/seccompProfile_baseline", "kubesec:SeccompUnconfined", "ksv:KSV-0104", "cis:5.6.2"];
            emit.report(
                "POD-013",
                Hit::new(
                    pod.path("securityContext.seccompProfile.type"),
                    "the pod runs without seccomp (Unconfined)",
                    &refs,
                ),
            );
        }
        // Annotations (before v1.19): PSA v1.37 reads the fields only, the others still read these.
        for (key, value) in pod.meta["annotations"].as_object().into_iter().flatten() {
            let legacy = key == "seccomp.security.alpha.kubernetes.io/pod"
                || key.starts_with("container.seccomp.security.alpha.kubernetes.io/");
            if legacy && value == "unconfined" {
                let refs = ["kubesec:SeccompUnconfined", "ksv:KSV-0104"];
                emit.report(
                    "POD-013",
                    Hit::new(format!("metadata.annotations[{key}]"), "seccomp is unconfined", &refs),
                );
            }
        }
    }
    if emit.runs("POD-014") {
        for (i, s) in psc["sysctls"].as_array().into_iter().flatten().enumerate() {
            let name = s["name"].as_str().unwrap_or("");
            if !SAFE_SYSCTLS.contains(&name) {
                let refs = ["pss:baseline/sysctls", "ksv:KSV-0026"];
                emit.report(
                    "POD-014",
                    Hit::new(
                        pod.path(&format!("securityContext.sysctls[{i}].name")),
                        format!("sysctl {name} is not safe"),
                        &refs,
                    ),
                );
            }
        }
    }
    if emit.runs("POD-015") && psc["windowsOptions"]["hostProcess"] == true {
        let refs = ["pss:baseline/windowsHostProcess", "polaris:hostProcess", "ksv:KSV-0103", "cis:5.2.10"];
        emit.report(
            "POD-015",
            Hit::new(
                pod.path("securityContext.windowsOptions.hostProcess"),
                "the pod is a Windows HostProcess pod",
                &refs,
            ),
        );
    }
    if emit.runs("POD-025") {
        let refs = ["ksv:KSV-0116"];
        for field in ["runAsGroup", "fsGroup"] {
            if psc[field] == 0 {
                emit.report(
                    "POD-025",
                    Hit::new(pod.path(&format!("securityContext.{field}")), format!("{field} is 0 (root)"), &refs),
                );
            }
        }
        if psc["supplementalGroups"].as_array().is_some_and(|g| g.iter().any(|g| g == 0)) {
            emit.report(
                "POD-025",
                Hit::new(pod.path("securityContext.supplementalGroups"), "supplementalGroups contains 0 (root)", &refs),
            );
        }
    }
}

/// Who the containers run as: POD-018, 019, 022, 025 (containers), 026, 027, 028.
fn run_as(pod: &PodView<'_>, containers: &[Container<'_>], emit: &mut Emit<'_>) {
    let psc = pod.pod_sc();
    let pod_non_root = psc["runAsNonRoot"].as_bool();
    let pod_user = psc["runAsUser"].as_i64();
    if emit.runs("POD-018") {
        let pss = !pod.host_users_off();
        if pod_non_root == Some(false) && pss {
            let refs = ["pss:restricted/runAsNonRoot", "ksv:KSV-0012", "cis:5.2.7"];
            emit.report(
                "POD-018",
                Hit::new(pod.path("securityContext.runAsNonRoot"), "the pod sets runAsNonRoot=false", &refs),
            );
        }
        for c in containers {
            let own = sc(c)["runAsNonRoot"].as_bool();
            let psa_fails = own == Some(false) || (own.is_none() && pod_non_root != Some(true));
            let effective_non_root = own.or(pod_non_root) == Some(true);
            let effective_user = sc(c)["runAsUser"].as_i64().or(pod_user);
            let polaris_fails = !c.ephemeral && !effective_non_root && effective_user.is_none_or(|u| u <= 0);
            if !(polaris_fails || psa_fails && pss) {
                continue;
            }
            let mut refs = vec![];
            if psa_fails && pss {
                refs.extend(["pss:restricted/runAsNonRoot", "kubesec:RunAsNonRoot", "ksv:KSV-0012"]);
            }
            if polaris_fails {
                refs.push("polaris:runAsRootAllowed");
            }
            refs.push("cis:5.2.7");
            let who = format!("container {:?}", c.name.unwrap_or(""));
            let message = if own == Some(false) {
                format!("{who} sets runAsNonRoot=false")
            } else {
                format!("pod or {who} must set securityContext.runAsNonRoot=true")
            };
            emit.report(
                "POD-018",
                Hit::new(format!("{}.securityContext.runAsNonRoot", c.path), message, &refs).container(c.name),
            );
        }
    }
    if emit.runs("POD-019") && !pod.host_users_off() {
        let refs = ["pss:restricted/runAsUser", "ksv:KSV-0105", "cis:5.2.7"];
        if pod_user == Some(0) {
            emit.report("POD-019", Hit::new(pod.path("securityContext.runAsUser"), "the pod sets runAsUser=0", &refs));
        }
        for c in containers.iter().filter(|c| sc(c)["runAsUser"] == 0) {
            let message = format!("container {:?} sets runAsUser=0", c.name.unwrap_or(""));
            emit.report(
                "POD-019",
                Hit::new(format!("{}.securityContext.runAsUser", c.path), message, &refs).container(c.name),
            );
        }
    }
    if emit.runs("POD-022") && !pod.windows() {
        let valid = |t: &Value| t == "RuntimeDefault" || t == "Localhost";
        let pod_type = &psc["seccompProfile"]["type"];
        let refs = ["pss:restricted/seccompProfile_restricted", "ksv:KSV-0030", "cis:5.6.2"];
        if !pod_type.is_null() && !valid(pod_type) {
            let message = format!("the pod sets seccompProfile.type={pod_type}");
            emit.report("POD-022", Hit::new(pod.path("securityContext.seccompProfile.type"), message, &refs));
        }
        let annotated =
            ["seccomp.security.alpha.kubernetes.io/pod", "seccomp.security.alpha.kubernetes.io/defaultProfileName"]
                .iter()
                .any(|k| pod.annotation(k).is_some_and(|a| a != "unconfined"));
        // kubesec: one container (of any list) with a profile is enough.
        let any_profile = !pod_type.is_null() || containers.iter().any(|c| !sc(c)["seccompProfile"]["type"].is_null());
        for c in containers {
            let own = &sc(c)["seccompProfile"]["type"];
            let psa_fails = if own.is_null() { !valid(pod_type) } else { !valid(own) };
            if !psa_fails {
                continue;
            }
            let mut refs = refs.to_vec();
            if !any_profile {
                refs.push("kubesec:SeccompAny");
            }
            let container_annotation = c
                .name
                .and_then(|n| pod.annotation(&format!("container.seccomp.security.alpha.kubernetes.io/{n}")))
                .is_some_and(|a| a != "unconfined");
            if !c.ephemeral && !annotated && !container_annotation {
                refs.push("kube-score:container-seccomp-profile");
            }
            let message = format!(
                "pod or container {:?} must set securityContext.seccompProfile.type to RuntimeDefault or Localhost",
                c.name.unwrap_or("")
            );
            emit.report(
                "POD-022",
                Hit::new(format!("{}.securityContext.seccompProfile.type", c.path), message, &refs).container(c.name),
            );
        }
    }
    if emit.runs("POD-025") {
        for c in containers.iter().filter(|c| sc(c)["runAsGroup"] == 0) {
            let message = format!("container {:?} sets runAsGroup=0 (root)", c.name.unwrap_or(""));
            emit.report(
                "POD-025",
                Hit::new(format!("{}.securityContext.runAsGroup", c.path), message, &["ksv:KSV-0116"])
                    .container(c.name),
            );
        }
    }
    for (id, field, kubesec, ksv) in [
        ("POD-026", "runAsUser", "kubesec:RunAsUser", "ksv:KSV-0020"),
        ("POD-027", "runAsGroup", "kubesec:RunAsGroup", "ksv:KSV-0021"),
    ] {
        if !emit.runs(id) {
            continue;
        }
        for c in containers.iter().filter(|c| !c.ephemeral) {
            let effective = sc(c)[field].as_i64().or(psc[field].as_i64());
            if effective.is_some_and(|n| n > 10000) {
                continue;
            }
            let mut refs = vec![kubesec, ksv];
            if effective.is_none_or(|n| n < 10000) {
                refs.push("kube-score:container-security-context-user-group-id");
            }
            let who = format!("container {:?}", c.name.unwrap_or(""));
            let message = match effective {
                Some(n) => format!("{who} runs with {field} {n} (10000 or below)"),
                None => format!("{who} does not set {field}: the image decides"),
            };
            emit.report(id, Hit::new(format!("{}.securityContext.{field}", c.path), message, &refs).container(c.name));
        }
    }
    if emit.runs("POD-028") {
        let refs = ["ksv:KSV-0118", "cis:5.6.3"];
        if psc.as_object().is_none_or(|o| o.is_empty()) {
            emit.report("POD-028", Hit::new(pod.path("securityContext"), "the pod sets no securityContext", &refs));
        }
        for c in containers.iter().filter(|c| !c.ephemeral && sc(c).as_object().is_none_or(|o| o.is_empty())) {
            let message = format!("container {:?} sets no securityContext", c.name.unwrap_or(""));
            emit.report("POD-028", Hit::new(format!("{}.securityContext", c.path), message, &refs).container(c.name));
        }
    }
}

/// POD-029, 030, 031; NET-001.
fn hardening(pod: &PodView<'_>, containers: &[Container<'_>], all: &All<'_>, emit: &mut Emit<'_>) {
    let psc = pod.pod_sc();
    if emit.runs("POD-029") {
        let hardened_type = |t: &Value| t == "RuntimeDefault" || t == "Localhost";
        let non_empty = |v: &Value| v.as_object().is_some_and(|o| !o.is_empty());
        for c in containers.iter().filter(|c| !c.ephemeral) {
            let own = &sc(c)["seccompProfile"]["type"];
            let seccomp =
                if own.is_null() { hardened_type(&psc["seccompProfile"]["type"]) } else { hardened_type(own) };
            let selinux = non_empty(&sc(c)["seLinuxOptions"]) || non_empty(&psc["seLinuxOptions"]);
            let apparmor = c
                .name
                .and_then(|n| pod.annotation(&format!("container.apparmor.security.beta.kubernetes.io/{n}")))
                .is_some()
                || sc(c)["appArmorProfile"]["type"].is_string()
                || psc["appArmorProfile"]["type"].is_string();
            let caps = &sc(c)["capabilities"];
            let dropped =
                names(&caps["drop"]).any(|d| upper(d) == "ALL") && !names(&caps["add"]).any(|a| upper(a) == "ALL");
            if !(seccomp || selinux || apparmor || dropped) {
                let message = format!(
                    "container {:?} has no seccomp profile, SELinux options, AppArmor profile or dropped capabilities",
                    c.name.unwrap_or("")
                );
                emit.report("POD-029", Hit::new(&c.path, message, &["polaris:linuxHardening"]).container(c.name));
            }
        }
    }
    let account =
        pod.spec["serviceAccountName"].as_str().or(pod.spec["serviceAccount"].as_str()).filter(|s| !s.is_empty());
    if emit.runs("POD-030") {
        let own = pod.spec["automountServiceAccountToken"].as_bool();
        let from_account = account
            .and_then(|a| all.find("ServiceAccount", Some(namespace_of(pod.object)), a))
            .and_then(|sa| sa["automountServiceAccountToken"].as_bool());
        if own.or(from_account) != Some(false) {
            let mut refs =
                vec!["polaris:automountServiceAccountToken", "kubesec:AutomountServiceAccountToken", "cis:5.1.6"];
            // trivy: a container that mounts the token path itself.
            let mounts_token = containers.iter().any(|c| {
                c.c["volumeMounts"].as_array().into_iter().flatten().any(|m| {
                    m["mountPath"]
                        .as_str()
                        .is_some_and(|p| p.starts_with("/var/run/secrets/kubernetes.io/serviceaccount"))
                })
            });
            if mounts_token {
                refs.push("ksv:KSV-0036");
            }
            let message = "the ServiceAccount token is mounted into the pod; set automountServiceAccountToken: false unless it calls the API";
            emit.report("POD-030", Hit::new(pod.path("automountServiceAccountToken"), message, &refs));
        }
    }
    if emit.runs("POD-031") && account.is_none_or(|a| a == "default") {
        let refs = ["kubesec:ServiceAccountName", "cis:5.1.5"];
        emit.report(
            "POD-031",
            Hit::new(pod.path("serviceAccountName"), "the pod runs as the default ServiceAccount", &refs),
        );
    }
    if emit.runs("NET-001") {
        super::resources::network_policy_coverage(pod, all, emit);
    }
}

/// RES-001…004.
fn resources(c: &Container<'_>, emit: &mut Emit<'_>) {
    let r = &c.c["resources"];
    for (id, section, resource, polaris, kubesec, ksv) in [
        ("RES-001", "limits", "cpu", "polaris:cpuLimitsMissing", "kubesec:LimitsCPU", "ksv:KSV-0011"),
        ("RES-002", "limits", "memory", "polaris:memoryLimitsMissing", "kubesec:LimitsMemory", "ksv:KSV-0018"),
        ("RES-003", "requests", "cpu", "polaris:cpuRequestsMissing", "kubesec:RequestsCPU", "ksv:KSV-0015"),
        ("RES-004", "requests", "memory", "polaris:memoryRequestsMissing", "kubesec:RequestsMemory", "ksv:KSV-0016"),
    ] {
        let value = &r[section][resource];
        if emit.runs(id) && (value.is_null() || value == "") {
            let mut refs = vec![polaris, kubesec, ksv];
            if !c.init {
                refs.push("kube-score:container-resources");
            }
            let message =
                format!("container {:?} sets no {resource} {}", c.name.unwrap_or(""), &section[..section.len() - 1]);
            emit.report(
                id,
                Hit::new(format!("{}.resources.{section}.{resource}", c.path), message, &refs).container(c.name),
            );
        }
    }
}

/// The tag of an image reference, if any (`registry:5000/app` has none), and whether it is pinned
/// by digest.
pub(crate) fn image_tag(image: &str) -> (Option<&str>, bool) {
    if image.contains('@') {
        return (None, true);
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    (last.split_once(':').map(|(_, t)| t), false)
}

/// The registry of an image reference (`docker.io` when it names none).
pub(crate) fn registry_of(image: &str) -> &str {
    match image.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first,
        _ => "docker.io",
    }
}

/// IMG-001, 002, 003.
fn image(c: &Container<'_>, emit: &mut Emit<'_>) {
    let image = c.c["image"].as_str().unwrap_or("");
    let (tag, digest) = image_tag(image);
    let latest = !digest && tag.is_none_or(|t| t == "latest");
    let who = format!("container {:?}", c.name.unwrap_or(""));
    if emit.runs("IMG-001") && latest {
        let refs = ["polaris:tagNotSpecified", "kube-score:container-image-tag", "ksv:KSV-0013"];
        let message = format!("{who} runs {image}: no pinned tag");
        emit.report("IMG-001", Hit::new(format!("{}.image", c.path), message, &refs).container(c.name));
    }
    let policy = c.c["imagePullPolicy"].as_str();
    if emit.runs("IMG-002") && policy != Some("Always") {
        let mut refs = vec!["polaris:pullPolicyNotAlways"];
        // kube-score: an unset policy on an untagged or latest image defaults to Always.
        if policy.is_some() || !latest {
            refs.push("kube-score:container-image-pull-policy");
        }
        let message = match policy {
            Some(p) => format!("{who} has imagePullPolicy {p}"),
            None => format!("{who} sets no imagePullPolicy"),
        };
        emit.report("IMG-002", Hit::new(format!("{}.imagePullPolicy", c.path), message, &refs).container(c.name));
    }
    let trusted = emit.options().trusted_registries.clone();
    if !trusted.is_empty() && emit.runs("IMG-003") {
        let registry = registry_of(image);
        if !trusted.iter().any(|t| t == registry || image.starts_with(&format!("{}/", t.trim_end_matches('/')))) {
            let message = format!("{who} pulls {image} from {registry}, not a trusted registry");
            emit.report(
                "IMG-003",
                Hit::new(format!("{}.image", c.path), message, &["ksv:KSV-0125", "cis:5.5.1"]).container(c.name),
            );
        }
    }
}

/// SEC-001, 002.
fn env(c: &Container<'_>, emit: &mut Emit<'_>) {
    let who = format!("container {:?}", c.name.unwrap_or(""));
    for (i, e) in c.c["env"].as_array().into_iter().flatten().enumerate() {
        let name = e["name"].as_str().unwrap_or("");
        if emit.runs("SEC-001")
            && let Some(value) = e["value"].as_str().filter(|v| !v.is_empty())
            && (super::resources::sensitive_name(name) || super::resources::private_key(value))
        {
            let message = format!("{who} has a literal value in {name}");
            let refs = ["polaris:sensitiveContainerEnvVar"];
            emit.report("SEC-001", Hit::new(format!("{}.env[{i}].value", c.path), message, &refs).container(c.name));
        }
        if emit.runs("SEC-002") && e["valueFrom"]["secretKeyRef"].is_object() {
            let message = format!("{who} reads Secret {} into {name}", e["valueFrom"]["secretKeyRef"]["name"]);
            let refs = ["kubesec:SecretsAsEnvironmentVariables", "cis:5.4.1"];
            emit.report(
                "SEC-002",
                Hit::new(format!("{}.env[{i}].valueFrom.secretKeyRef", c.path), message, &refs).container(c.name),
            );
        }
    }
    if emit.runs("SEC-002") {
        for (i, e) in c.c["envFrom"].as_array().into_iter().flatten().enumerate() {
            if e["secretRef"].is_object() {
                let message = format!("{who} reads all of Secret {} into its environment", e["secretRef"]["name"]);
                let refs = ["kubesec:SecretsAsEnvironmentVariables", "cis:5.4.1"];
                emit.report(
                    "SEC-002",
                    Hit::new(format!("{}.envFrom[{i}].secretRef", c.path), message, &refs).container(c.name),
                );
            }
        }
    }
}

/// NS-001, 002.
fn namespaces(pod: &PodView<'_>, emit: &mut Emit<'_>) {
    let ns = namespace_of(pod.object);
    if emit.runs("NS-001") && ns == "default" {
        emit.report(
            "NS-001",
            Hit::new(
                "metadata.namespace",
                "the workload runs in the default namespace",
                &["ksv:KSV-0110", "cis:5.6.4"],
            ),
        );
    }
    if emit.runs("NS-002") && ns == "kube-system" && !system_component(pod.object) {
        emit.report("NS-002", Hit::new("metadata.namespace", "a user workload runs in kube-system", &["ksv:KSV-0037"]));
    }
}

/// Components that belong in kube-system (by name or `k8s-app`/`component`/`tier` label).
fn system_component(object: &Value) -> bool {
    const KNOWN: &[&str] = &[
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kube-proxy",
        "etcd",
        "coredns",
        "kube-dns",
        "metrics-server",
        "calico-node",
        "calico-kube-controllers",
        "cilium",
        "cilium-operator",
        "aws-node",
        "kindnet",
        "konnectivity-agent",
        "cloud-controller-manager",
    ];
    let meta = &object["metadata"];
    let name = meta["name"].as_str().unwrap_or("");
    let labels = &meta["labels"];
    KNOWN.iter().any(|k| name == *k || name.starts_with(&format!("{k}-")))
        || ["k8s-app", "component"].iter().any(|l| labels[l].as_str().is_some_and(|v| KNOWN.contains(&v)))
        || labels["tier"] == "control-plane"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references() {
        for (image, tag, digest) in [
            ("nginx", None, false),
            ("nginx:1.27", Some("1.27"), false),
            ("registry:5000/app", None, false),
            ("registry:5000/app:v2", Some("v2"), false),
            ("nginx@sha256:abc", None, true),
        ] {
            assert_eq!(image_tag(image), (tag, digest), "{image}");
        }
        assert_eq!(registry_of("nginx"), "docker.io");
        assert_eq!(registry_of("ghcr.io/x/y:1"), "ghcr.io");
        assert_eq!(registry_of("localhost:5000/y"), "localhost:5000");
        assert_eq!(registry_of("library/nginx"), "docker.io");
    }
}
