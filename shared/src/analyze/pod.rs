//! The Pod analyzer: pods that cannot be scheduled, cannot start, keep crashing, never become ready,
//! were evicted, failed, or are stuck terminating — each with the cluster's own words and a hint.
//!
//! Silent on purpose: completed pods, pods of a controller scaled to zero, pods terminating normally,
//! containers that restarted long ago and are healthy now, Job pods whose Job retried and went on.

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Container, ContainerStatus, Event, Pod, PodSpec, PodStatus, Probe};

use super::{Analyzer, Context, Info, Owner, OwnerLink, Problem, combine, condition_is};
use crate::findings::{Finding, ObjectRef, Severity};
use crate::snapshot::Kind;

pub(super) struct PodAnalyzer;

/// A pod terminating this long past its deletion deadline is stuck.
const STUCK_TERMINATING: SignedDuration = SignedDuration::from_mins(5);
/// A container running but not ready this long, with no probe event to explain it, is reported.
const NOT_READY_FOR: SignedDuration = SignedDuration::from_mins(10);
/// A pod still creating its containers after this long, with warning events, is stuck.
const CREATING_FOR: SignedDuration = SignedDuration::from_mins(2);
/// A pod no scheduler has looked at after this long is reported.
const UNSCHEDULED_FOR: SignedDuration = SignedDuration::from_mins(5);

const IMAGE_REASONS: &[&str] = &[
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "ErrImageNeverPull",
    "RegistryUnavailable",
    "SignatureValidationFailed",
];
const CONFIG_REASONS: &[&str] = &[
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
    "PreStartHookError",
    "PostStartHookError",
    "ContainerCannotRun",
];
const CREATING_EVENTS: &[&str] =
    &["FailedMount", "FailedAttachVolume", "FailedCreatePodSandBox", "FailedCreatePodContainer", "NetworkNotReady"];

impl Analyzer for PodAnalyzer {
    fn info(&self) -> &'static Info {
        &Info {
            name: "Pod",
            description: "pods that cannot be scheduled, start, stay up or become ready; evicted, failed and stuck pods",
            subject: Kind::Pod,
            evidence: &[
                Kind::Event,
                Kind::ReplicaSet,
                Kind::Deployment,
                Kind::StatefulSet,
                Kind::DaemonSet,
                Kind::Job,
                Kind::CronJob,
                Kind::ReplicationController,
            ],
            default_enabled: true,
        }
    }

    fn analyze(&self, cx: &Context<'_>, out: &mut Vec<Finding>) {
        for pod in &cx.snapshot.objects.pods {
            let owners = cx.index.owner_chain(&pod.metadata);
            let view = PodView::new(cx, pod);
            let problems = view.problems(&owners);
            let Some(mut finding) = combine("Pod", "Pod", &pod.metadata, problems) else { continue };
            finding = finding.owned_by(owners.into_iter().map(|l| l.reference).collect());
            // The node controller marks every pod of a node that stopped reporting not ready: that
            // is the node's problem, said once in its finding.
            if let Some(node) = view.node_ready().is_some_and(|ready| !ready).then(|| view.node())
                && finding.reason == "NotReady"
            {
                finding.messages = vec![format!("pod {}/{} on it is not ready", view.ns, view.name)];
                finding.hint = format!(
                    "Its node {node} is not ready, and the node controller marks the node's pods not ready: the node's finding says why (kubectl describe node {node})."
                );
                finding =
                    finding.caused_by(vec![ObjectRef { kind: "Node".into(), namespace: None, name: node.to_string() }]);
            }
            if cx.log_evidence {
                finding.logs = view.log_evidence(cx);
            }
            out.push(finding);
        }
    }
}

/// A pod with what the analyzer needs close at hand.
struct PodView<'a> {
    pod: &'a Pod,
    ns: &'a str,
    name: &'a str,
    spec: Option<&'a PodSpec>,
    status: Option<&'a PodStatus>,
    events: Vec<&'a Event>,
    now: Timestamp,
    index: &'a super::Index<'a>,
    /// Whether the nodes were read (a namespace run reads none).
    nodes_read: bool,
}

impl<'a> PodView<'a> {
    fn new(cx: &'a Context<'a>, pod: &'a Pod) -> Self {
        PodView {
            pod,
            ns: pod.metadata.namespace.as_deref().unwrap_or("default"),
            name: pod.metadata.name.as_deref().unwrap_or(""),
            spec: pod.spec.as_ref(),
            status: pod.status.as_ref(),
            events: cx.index.events("Pod", &pod.metadata),
            now: cx.now,
            index: &cx.index,
            nodes_read: cx.snapshot.has(Kind::Node),
        }
    }

    /// Error-looking lines of the failing containers' log tails (previous instance first).
    fn log_evidence(&self, cx: &Context<'_>) -> Vec<String> {
        let Some(status) = self.status else { return Vec::new() };
        let statuses =
            status.init_container_statuses.iter().flatten().chain(status.container_statuses.iter().flatten());
        let mut lines = Vec::new();
        for cs in statuses.filter(|cs| !cs.ready) {
            // The previous instance first: its last lines say why it exited.
            for previous in [true, false] {
                if let Some(text) = cx.snapshot.log(self.ns, self.name, &cs.name, previous) {
                    let label = if previous { format!("{} (previous)", cs.name) } else { cs.name.clone() };
                    lines.extend(
                        super::logs::evidence(text, super::logs::TAIL).into_iter().map(|l| format!("{label}: {l}")),
                    );
                }
            }
        }
        lines.truncate(MAX_LOG_LINES);
        lines
    }

    fn age(&self, t: Option<Timestamp>) -> Option<SignedDuration> {
        t.map(|t| self.now.duration_since(t))
    }

    fn created_age(&self) -> Option<SignedDuration> {
        self.age(self.pod.metadata.creation_timestamp.as_ref().map(|t| t.0))
    }

    fn problems(&self, owners: &[OwnerLink<'_>]) -> Vec<Problem> {
        let Some(status) = self.status else {
            return Vec::new();
        };
        let phase = status.phase.as_deref().unwrap_or("Pending");
        if phase == "Succeeded" {
            return Vec::new();
        }
        if self.pod.metadata.deletion_timestamp.is_some() {
            return self.terminating().into_iter().collect();
        }
        // Leftovers of a controller scaled to zero (or an old ReplicaSet after a rollout) are being
        // removed; they are not a problem.
        if owners.iter().any(|l| l.object.and_then(|o| o.desired_replicas()) == Some(0)) {
            return Vec::new();
        }
        match phase {
            "Failed" => self.failed(owners).into_iter().collect(),
            "Unknown" => vec![Problem {
                severity: Severity::High,
                reason: "Unknown".into(),
                summary: "the pod's node stopped reporting its state".into(),
                messages: status.message.iter().cloned().collect(),
                hint: format!(
                    "Check the node: kubectl get node {} and kubectl describe node {}.",
                    self.node(),
                    self.node()
                ),
            }],
            _ => self.active(),
        }
    }

    fn node(&self) -> &str {
        self.spec.and_then(|s| s.node_name.as_deref()).unwrap_or("(none)")
    }

    /// The pod's PersistentVolumeClaims, with the claim when it was read.
    fn claims(&self) -> Vec<(&'a str, Option<&'a k8s_openapi::api::core::v1::PersistentVolumeClaim>)> {
        self.spec
            .iter()
            .flat_map(|s| s.volumes.iter().flatten())
            .filter_map(|v| v.persistent_volume_claim.as_ref())
            .map(|c| (c.claim_name.as_str(), self.index.claims.get(&(self.ns, c.claim_name.as_str())).copied()))
            .collect()
    }

    /// Whether the pod's node is ready; `None` when the node is unknown (not read, or gone).
    fn node_ready(&self) -> Option<bool> {
        self.index.nodes.get(self.node()).map(|n| {
            let conditions = n.status.as_ref().and_then(|s| s.conditions.as_ref());
            condition_is(conditions, "Ready", "True").is_some()
        })
    }

    /// Problems of a Pending or Running pod.
    fn active(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        out.extend(self.scheduling());
        let mut creating = false;
        for (cs, spec, init) in self.containers() {
            let label = if init { "init container" } else { "container" };
            if let Some(w) = cs.state.as_ref().and_then(|s| s.waiting.as_ref()) {
                let reason = w.reason.as_deref().unwrap_or_default();
                let message = w.message.clone().unwrap_or_default();
                let prefix = if init { "Init:" } else { "" };
                match reason {
                    "" | "ContainerCreating" | "PodInitializing" => creating = true,
                    "CrashLoopBackOff" => out.push(self.crash_loop(cs, spec, label, prefix, &message)),
                    r if IMAGE_REASONS.contains(&r) => out.push(self.image_pull(cs, label, prefix, r, &message)),
                    r if CONFIG_REASONS.contains(&r) => out.push(self.bad_config(cs, label, prefix, r, &message)),
                    r => out.push(Problem {
                        severity: Severity::Medium,
                        reason: format!("{prefix}{r}"),
                        summary: format!("{label} {} is waiting: {r}", cs.name),
                        messages: vec![message],
                        hint: self.describe_hint(),
                    }),
                }
            } else if let Some(t) = cs.state.as_ref().and_then(|s| s.terminated.as_ref()) {
                if t.exit_code != 0 {
                    out.push(Problem {
                        severity: Severity::High,
                        reason: format!(
                            "{}{}",
                            if init { "Init:" } else { "" },
                            t.reason.as_deref().unwrap_or("Error")
                        ),
                        summary: format!("{label} {} exited with code {}", cs.name, t.exit_code),
                        messages: t.message.iter().cloned().collect(),
                        hint: exit_hint(
                            t.exit_code,
                            t.reason.as_deref(),
                            memory_limit(spec).as_deref(),
                            &self.logs_cmd(&cs.name, false),
                        ),
                    });
                }
            } else if cs.state.as_ref().is_some_and(|s| s.running.is_some()) && !cs.ready && !init {
                out.extend(self.not_ready(cs, spec));
            }
        }
        if creating
            || self
                .status
                .is_some_and(|s| s.container_statuses.is_none() && self.spec.is_some_and(|sp| sp.node_name.is_some()))
        {
            out.extend(self.stuck_creating());
        }
        out
    }

    /// Init containers (up to the first unfinished one) and containers, with their specs. Sidecars
    /// (init containers with restartPolicy Always) count as containers.
    fn containers(&self) -> Vec<(&'a ContainerStatus, Option<&'a Container>, bool)> {
        let (Some(status), spec) = (self.status, self.spec) else {
            return Vec::new();
        };
        let find = |list: Option<&'a Vec<Container>>, name: &str| list.and_then(|l| l.iter().find(|c| c.name == name));
        let mut out = Vec::new();
        for cs in status.init_container_statuses.iter().flatten() {
            let c = find(spec.and_then(|s| s.init_containers.as_ref()), &cs.name);
            let sidecar = c.and_then(|c| c.restart_policy.as_deref()) == Some("Always");
            let done = cs.state.as_ref().and_then(|s| s.terminated.as_ref()).is_some_and(|t| t.exit_code == 0);
            if done {
                continue;
            }
            out.push((cs, c, !sidecar));
            if !sidecar {
                return out; // later init containers have not run yet
            }
        }
        for cs in status.container_statuses.iter().flatten() {
            out.push((cs, find(spec.map(|s| &s.containers), &cs.name), false));
        }
        out
    }

    fn scheduling(&self) -> Option<Problem> {
        let status = self.status?;
        let cond = status.conditions.iter().flatten().find(|c| c.type_ == "PodScheduled");
        match cond {
            Some(c) if c.status == "False" && c.reason.as_deref() == Some("Unschedulable") => {
                let message = c.message.clone().unwrap_or_default();
                let mut messages = vec![message.clone()];
                messages.extend(self.warning_messages(&["FailedScheduling"], None).into_iter().take(1));
                Some(Problem {
                    severity: Severity::High,
                    reason: "Unschedulable".into(),
                    summary: "the pod cannot be scheduled on any node".into(),
                    messages,
                    hint: self.scheduling_hint(&message),
                })
            }
            None if self.spec.and_then(|s| s.node_name.as_ref()).is_none()
                && self.created_age().is_some_and(|a| a > UNSCHEDULED_FOR) =>
            {
                let scheduler = self.spec.and_then(|s| s.scheduler_name.as_deref()).unwrap_or("default-scheduler");
                Some(Problem {
                    severity: Severity::Medium,
                    reason: "NotScheduled".into(),
                    summary: "no scheduler has placed the pod".into(),
                    messages: Vec::new(),
                    hint: format!(
                        "Pods with schedulerName {scheduler:?} are not being scheduled: check that this scheduler runs (kubectl get pods -n kube-system)."
                    ),
                })
            }
            _ => None,
        }
    }

    fn crash_loop(
        &self,
        cs: &ContainerStatus,
        spec: Option<&Container>,
        label: &str,
        prefix: &str,
        message: &str,
    ) -> Problem {
        let last = cs.last_state.as_ref().and_then(|s| s.terminated.as_ref());
        let mut summary = format!("{label} {} keeps crashing", cs.name);
        if let Some(t) = last {
            summary.push_str(&format!(
                ": last exit code {}{}",
                t.exit_code,
                t.reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default()
            ));
        }
        summary.push_str(&format!(", {} restart{}", cs.restart_count, if cs.restart_count == 1 { "" } else { "s" }));
        let mut messages = vec![message.to_string()];
        messages.extend(last.and_then(|t| t.message.clone()));
        messages.extend(self.warning_messages(&["BackOff"], Some(&cs.name)).into_iter().take(1));
        let logs = self.logs_cmd(&cs.name, true);
        // The kubelet kills a container whose liveness probe fails: then the exit code (0, 137, 143)
        // is the kill's, not the process's own.
        let liveness = self
            .warnings(&["Unhealthy"], Some(&cs.name))
            .into_iter()
            .filter_map(|e| e.message.as_deref())
            .find(|m| m.starts_with("Liveness probe failed"));
        let hint = match (liveness, last) {
            (Some(failed), _) => {
                messages.push(failed.to_string());
                let probe = probe_hint("liveness", spec.and_then(|c| c.liveness_probe.as_ref()), failed);
                format!(
                    "The kubelet restarts it because its liveness probe fails, not because it exits by itself. {probe}"
                )
            }
            (None, Some(t)) => exit_hint(t.exit_code, t.reason.as_deref(), memory_limit(spec).as_deref(), &logs),
            (None, None) => format!("Its last run's output says why: {logs}"),
        };
        Problem { severity: Severity::High, reason: format!("{prefix}CrashLoopBackOff"), summary, messages, hint }
    }

    fn image_pull(&self, cs: &ContainerStatus, label: &str, prefix: &str, reason: &str, message: &str) -> Problem {
        let image = if cs.image.is_empty() { "(unknown)" } else { cs.image.as_str() };
        let mut messages = vec![message.to_string()];
        let pulls: Vec<String> = self
            .warning_messages(&["Failed"], Some(&cs.name))
            .into_iter()
            .filter(|m| m.contains("pull") || m.contains(image))
            .take(2)
            .collect();
        messages.extend(pulls);
        let words = messages.join(" ").to_ascii_lowercase();
        let registry = image.split('/').next().filter(|h| h.contains('.') || h.contains(':')).unwrap_or("docker.io");
        let hint = if reason == "InvalidImageName" {
            format!("The image reference {image:?} is not valid: fix the image field.")
        } else if reason == "ErrImageNeverPull" {
            format!(
                "imagePullPolicy is Never and {image} is not on node {}: load it there or change the policy.",
                self.node()
            )
        } else if ["pull access denied", "unauthorized", "authentication required", "forbidden", "denied"]
            .iter()
            .any(|w| words.contains(w))
        {
            let sa = self.spec.and_then(|s| s.service_account_name.as_deref()).unwrap_or("default");
            format!(
                "The registry refused to serve {image} (or the repository does not exist): if it is private, create a pull secret (kubectl create secret docker-registry -n {} …) and list it in imagePullSecrets of the pod or of service account {sa}.",
                self.ns
            )
        } else if ["not found", "manifest unknown", "does not exist", "no such image"].iter().any(|w| words.contains(w))
        {
            format!("The image {image} does not exist in the registry: check the repository name and the tag.")
        } else if ["toomanyrequests", "rate limit"].iter().any(|w| words.contains(w)) {
            format!("{registry} is rate-limiting pulls: authenticate the pulls or use a mirror.")
        } else if [
            "no such host",
            "i/o timeout",
            "connection refused",
            "dial tcp",
            "tls handshake timeout",
            "network is unreachable",
        ]
        .iter()
        .any(|w| words.contains(w))
        {
            format!("Node {} cannot reach the registry {registry}: check its DNS, proxy and firewall.", self.node())
        } else {
            format!("Check the image name, tag and registry access: {}", self.describe_cmd())
        };
        Problem {
            severity: Severity::High,
            reason: format!("{prefix}{reason}"),
            summary: format!("{label} {} cannot pull image {image}", cs.name),
            messages,
            hint,
        }
    }

    fn bad_config(&self, cs: &ContainerStatus, label: &str, prefix: &str, reason: &str, message: &str) -> Problem {
        let mut messages = vec![message.to_string()];
        messages
            .extend(self.warning_messages(&["Failed"], Some(&cs.name)).into_iter().filter(|m| m != message).take(1));
        let hint = reference_hint(self.ns, message).unwrap_or_else(|| {
            if message.contains("executable file not found") || message.contains("no such file or directory") {
                "The command does not exist in the image: fix command/args or the image.".to_string()
            } else if message.contains("no command specified") {
                "The image has no entrypoint: set command in the container spec.".to_string()
            } else {
                format!("The container cannot be created as specified: {}", self.describe_cmd())
            }
        });
        Problem {
            severity: Severity::High,
            reason: format!("{prefix}{reason}"),
            summary: format!("{label} {} cannot start: {reason}", cs.name),
            messages,
            hint,
        }
    }

    fn not_ready(&self, cs: &ContainerStatus, spec: Option<&Container>) -> Option<Problem> {
        let started =
            cs.state.as_ref().and_then(|s| s.running.as_ref()).and_then(|r| r.started_at.as_ref()).map(|t| t.0);
        let unhealthy: Vec<&Event> = self
            .warnings(&["Unhealthy"], Some(&cs.name))
            .into_iter()
            .filter(|e| match (super::index::event_time(e), started) {
                (Some(at), Some(started)) => at >= started,
                _ => true,
            })
            .collect();
        if let Some(latest) = unhealthy.first() {
            let text = latest.message.as_deref().unwrap_or_default();
            let (kind, probe, severity) = if text.starts_with("Liveness") {
                ("liveness", spec.and_then(|c| c.liveness_probe.as_ref()), Severity::High)
            } else if text.starts_with("Startup") {
                ("startup", spec.and_then(|c| c.startup_probe.as_ref()), Severity::Medium)
            } else {
                ("readiness", spec.and_then(|c| c.readiness_probe.as_ref()), Severity::Medium)
            };
            let mut messages: Vec<String> = Vec::new();
            for e in &unhealthy {
                if let Some(m) = &e.message
                    && !messages.contains(m)
                    && messages.len() < 3
                {
                    messages.push(m.clone());
                }
            }
            let mut hint = probe_hint(kind, probe, text);
            if kind == "liveness" {
                hint.push_str(" A failing liveness probe also restarts the container.");
            }
            return Some(Problem {
                severity,
                reason: format!("{}ProbeFailed", capitalize(kind)),
                summary: format!("container {} is running but not ready: its {kind} probe fails", cs.name),
                messages,
                hint,
            });
        }
        let since = self
            .status
            .and_then(|s| s.conditions.iter().flatten().find(|c| c.type_ == "Ready" && c.status == "False"))
            .and_then(|c| c.last_transition_time.as_ref().map(|t| t.0))
            .or(started);
        if self.age(since).is_some_and(|a| a > NOT_READY_FOR) {
            let what = spec.and_then(|c| c.readiness_probe.as_ref()).map(describe_probe);
            return Some(Problem {
                severity: Severity::Medium,
                reason: "NotReady".into(),
                summary: format!("container {} has been running but not ready for more than 10 minutes", cs.name),
                messages: Vec::new(),
                hint: match what {
                    Some(w) => format!("Check its readiness probe ({w}): {}", self.describe_cmd()),
                    None => format!("Check why the container is not ready: {}", self.describe_cmd()),
                },
            });
        }
        None
    }

    fn stuck_creating(&self) -> Option<Problem> {
        if self.created_age().is_some_and(|a| a < CREATING_FOR) {
            return None;
        }
        let events = self.warnings(CREATING_EVENTS, None);
        let latest = events.first()?;
        let reason = latest.reason.clone().unwrap_or_default();
        let messages: Vec<String> = events
            .iter()
            .filter(|e| e.reason.as_deref() == Some(&reason))
            .filter_map(|e| e.message.clone())
            .take(2)
            .collect();
        let text = messages.join(" ");
        let (what, hint) = match reason.as_str() {
            "FailedMount" | "FailedAttachVolume" => (
                "a volume cannot be mounted",
                reference_hint(self.ns, &text).unwrap_or_else(|| {
                    format!(
                        "Check the pod's volumes and claims: kubectl get pvc -n {} and {}",
                        self.ns,
                        self.describe_cmd()
                    )
                }),
            ),
            "FailedCreatePodSandBox" | "NetworkNotReady" => (
                "its sandbox (network) cannot be created",
                format!(
                    "The container runtime or the CNI plugin on node {} fails: check the CNI pods in kube-system and the node's kubelet log.",
                    self.node()
                ),
            ),
            _ => ("its containers cannot be created", self.describe_hint()),
        };
        Some(Problem {
            severity: Severity::High,
            reason,
            summary: format!("the pod is stuck in ContainerCreating: {what}"),
            messages,
            hint,
        })
    }

    fn failed(&self, owners: &[OwnerLink<'_>]) -> Option<Problem> {
        let status = self.status?;
        let reason = status.reason.as_deref().unwrap_or("");
        let message = status.message.clone().unwrap_or_default();
        let replaced = match owners.first() {
            Some(owner) => format!("its {} {} replaces it", owner.reference.kind, owner.reference.name),
            None => "nothing replaces a bare pod".to_string(),
        };
        if reason == "Evicted" {
            let resource = message
                .split("low on resource: ")
                .nth(1)
                .map(|r| r.split(['.', ',', ' ']).next().unwrap_or(r).to_string())
                .unwrap_or_else(|| "resources".to_string());
            return Some(Problem {
                severity: Severity::Low,
                reason: "Evicted".into(),
                summary: format!("the pod was evicted from node {}", self.node()),
                messages: vec![message],
                hint: format!(
                    "Node {} ran low on {resource} and {replaced}. Set requests close to real use to avoid evictions; delete the record with kubectl delete pod -n {} {}.",
                    self.node(),
                    self.ns,
                    self.name
                ),
            });
        }
        // A Job retries failed pods; only a Job that gave up makes its pods' failures a problem.
        let mut job_messages = Vec::new();
        if let Some(OwnerLink { object: Some(Owner::Job(job)), .. }) = owners.first() {
            if !job_failed(job) || !self.index.is_latest_run(job) {
                return None;
            }
            job_messages = job_failure_messages(job);
        }
        if matches!(reason, "Shutdown" | "Terminated" | "NodeShutdown") {
            return Some(Problem {
                severity: Severity::Low,
                reason: reason.to_string(),
                summary: format!("the pod was stopped by the shutdown of node {}", self.node()),
                messages: vec![message],
                hint: format!(
                    "A controller replaces such pods; delete the record with kubectl delete pod -n {} {}.",
                    self.ns, self.name
                ),
            });
        }
        let failed: Vec<(&ContainerStatus, i32, Option<&str>, Option<String>)> = status
            .init_container_statuses
            .iter()
            .flatten()
            .chain(status.container_statuses.iter().flatten())
            .filter_map(|cs| {
                let t = cs.state.as_ref()?.terminated.as_ref()?;
                (t.exit_code != 0).then_some((cs, t.exit_code, t.reason.as_deref(), t.message.clone()))
            })
            .collect();
        let mut messages: Vec<String> = vec![message];
        messages.extend(failed.iter().filter_map(|f| f.3.clone()));
        messages.extend(job_messages);
        let summary = match failed.first() {
            Some((cs, code, why, _)) => format!(
                "the pod failed: container {} exited with code {code}{}",
                cs.name,
                why.map(|w| format!(" ({w})")).unwrap_or_default()
            ),
            None if !reason.is_empty() => format!("the pod failed: {reason}"),
            None => "the pod failed".to_string(),
        };
        let hint = match failed.first() {
            Some((cs, code, why, _)) => exit_hint(*code, *why, None, &self.logs_cmd(&cs.name, false)),
            None => self.describe_hint(),
        };
        Some(Problem {
            severity: if matches!(reason, "OutOfcpu" | "OutOfmemory" | "NodeAffinity" | "UnexpectedAdmissionError") {
                Severity::Medium
            } else {
                Severity::High
            },
            reason: if reason.is_empty() { "Failed".to_string() } else { reason.to_string() },
            summary,
            messages,
            hint,
        })
    }

    fn terminating(&self) -> Option<Problem> {
        let status = self.status?;
        if status.reason.as_deref() == Some("NodeLost") {
            return Some(Problem {
                severity: Severity::High,
                reason: "NodeLost".into(),
                summary: format!("the pod is lost with its node {}", self.node()),
                messages: status.message.iter().cloned().collect(),
                hint: format!("Check node {}: kubectl get node {}.", self.node(), self.node()),
            });
        }
        let deadline = self.pod.metadata.deletion_timestamp.as_ref()?.0;
        if self.age(Some(deadline)).is_none_or(|late| late <= STUCK_TERMINATING) {
            return None; // terminating normally
        }
        let finalizers = self.pod.metadata.finalizers.clone().unwrap_or_default();
        let node = self.node();
        let ready = self.node_ready();
        let force = format!("kubectl delete pod -n {} {} --grace-period=0 --force", self.ns, self.name);
        let hint = if !finalizers.is_empty() {
            format!(
                "Finalizers {} block the deletion: the controller that owns them must finish its cleanup (or remove them with kubectl patch pod -n {} {} --type=merge -p '{{\"metadata\":{{\"finalizers\":null}}}}').",
                finalizers.join(", "),
                self.ns,
                self.name
            )
        } else if ready == Some(false) {
            format!(
                "Its node {node} is not ready, so no kubelet can confirm the deletion: the pod goes when the node comes back or its Node object is deleted. Only once the machine is known to be off, {force} (a StatefulSet pod forced away while still running can run twice)."
            )
        } else if ready == Some(true) {
            format!(
                "Its node {node} is ready but its kubelet has not confirmed the deletion: check the kubelet's log and the container runtime on {node} (a process that ignores SIGTERM, a volume that will not unmount) before {force}."
            )
        } else if self.nodes_read && node != "(none)" {
            format!(
                "Its node {node} no longer exists: nothing will confirm the deletion, {force} removes the leftover."
            )
        } else {
            format!(
                "Its node {node} may be down: check kubectl get node {node}; once the node is known to be gone, {force}."
            )
        };
        Some(Problem {
            severity: Severity::Medium,
            reason: "StuckTerminating".into(),
            summary: "the pod has been terminating for more than 5 minutes past its grace period".into(),
            messages: Vec::new(),
            hint,
        })
    }

    fn warnings(&self, reasons: &[&str], container: Option<&str>) -> Vec<&'a Event> {
        self.events
            .iter()
            .copied()
            .filter(|e| e.type_.as_deref() == Some("Warning"))
            .filter(|e| e.reason.as_deref().is_some_and(|r| reasons.contains(&r)))
            .filter(|e| match (container, e.involved_object.field_path.as_deref()) {
                (Some(c), Some(path)) => path.ends_with(&format!("{{{c}}}")),
                _ => true,
            })
            .collect()
    }

    fn warning_messages(&self, reasons: &[&str], container: Option<&str>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for e in self.warnings(reasons, container) {
            if let Some(m) = &e.message
                && !out.contains(m)
            {
                out.push(m.clone());
            }
        }
        out
    }

    fn scheduling_hint(&self, message: &str) -> String {
        let m = message.to_ascii_lowercase();
        let mut hints: Vec<String> = Vec::new();
        // Resource names keep their dots and slashes (nvidia.com/gpu); only the sentence's ends go.
        let insufficient: Vec<&str> = message
            .split("Insufficient ")
            .skip(1)
            .filter_map(|rest| rest.split([',', ' ']).next())
            .map(|r| r.trim_end_matches('.'))
            .filter(|r| !r.is_empty())
            .collect();
        let (absent, short): (Vec<&str>, Vec<&str>) = insufficient.iter().partition(|r| self.no_node_offers(r));
        let requests =
            |names: &[&str]| names.iter().map(|r| format!("{r} {}", self.total_request(r))).collect::<Vec<_>>();
        // cpu, memory, ephemeral-storage: capacity every node has; an extended resource
        // (vendor/name) may be offered by no node at all, which the nodes read here may not show.
        let (extended, standard): (Vec<&str>, Vec<&str>) = short.iter().partition(|r| r.contains('/'));
        if !standard.is_empty() {
            hints.push(format!(
                "No node has enough free {} for the pod's requests ({}): lower the requests or add capacity (kubectl describe nodes, Allocated resources).",
                standard.join(" and "),
                requests(&standard).join(", ")
            ));
        }
        if !extended.is_empty() {
            hints.push(format!(
                "No node has enough free {} for the pod's requests ({}): check which nodes offer it at all (kubectl describe nodes, Allocatable) — none means its device plugin is not running — and how much of it is already allocated.",
                extended.join(" and "),
                requests(&extended).join(", ")
            ));
        }
        if !absent.is_empty() {
            hints.push(format!(
                "No node offers {} at all (none lists it in its allocatable resources; the pod asks for {}): if the nodes have the device, its device plugin is not running on them, otherwise add nodes that have it.",
                absent.join(" or "),
                requests(&absent).join(", ")
            ));
        }
        // The control-plane taint is how a cluster keeps workloads off its control plane: a normal
        // fact, worth saying only when nothing else keeps the pod out.
        let taints: Vec<&str> =
            message.split("taint {").skip(1).filter_map(|rest| rest.split([':', '}']).next()).map(str::trim).collect();
        let control_plane =
            |k: &&str| matches!(*k, "node-role.kubernetes.io/control-plane" | "node-role.kubernetes.io/master");
        let other_taints: Vec<&str> = taints.iter().copied().filter(|k| !control_plane(k)).collect();
        if !other_taints.is_empty()
            || (taints.is_empty() && (m.contains("untolerated taint") || m.contains("had taint")))
        {
            let named = if other_taints.is_empty() { String::new() } else { format!(" ({})", other_taints.join(", ")) };
            hints.push(format!("Nodes carry taints the pod does not tolerate{named}: add a toleration or use other nodes (kubectl get nodes -o custom-columns=NAME:.metadata.name,TAINTS:.spec.taints)."));
        }
        if m.contains("node affinity/selector") || m.contains("node(s) didn't match node selector") {
            let selector = self
                .spec
                .and_then(|s| s.node_selector.as_ref())
                .map(|s| s.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","))
                .filter(|s| !s.is_empty());
            hints.push(match selector {
                Some(sel) => format!("No node matches the pod's nodeSelector {sel}: kubectl get nodes -l {sel}."),
                None => {
                    "No node matches the pod's node affinity: compare it with kubectl get nodes --show-labels.".into()
                }
            });
        }
        let claims = self.claims();
        if m.contains("persistentvolumeclaim") {
            let unbound: Vec<(&str, &str)> = claims
                .iter()
                .filter_map(|(name, claim)| {
                    let phase = (*claim)?.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
                    (phase != "Bound").then_some((*name, phase))
                })
                .collect();
            hints.push(if unbound.is_empty() {
                format!("A PersistentVolumeClaim of the pod is not bound: kubectl get pvc -n {}.", self.ns)
            } else {
                format!(
                    "The pod waits for its claims ({}): the claims' findings, or kubectl describe pvc -n {} {}, say why.",
                    unbound.iter().map(|(n, p)| format!("{n} is {p}")).collect::<Vec<_>>().join(", "),
                    self.ns,
                    unbound.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(" ")
                )
            });
        }
        if m.contains("volume node affinity conflict") {
            let volumes: Vec<String> = claims
                .iter()
                .filter_map(|(name, claim)| {
                    let volume = (*claim)?.spec.as_ref()?.volume_name.as_deref()?;
                    Some(format!("claim {name} → PersistentVolume {volume}"))
                })
                .collect();
            let pv = volumes.first().and_then(|v| v.rsplit(' ').next()).unwrap_or("NAME");
            hints.push(format!(
                "Its volumes can only attach where no node can take the pod{}: compare the volume's nodeAffinity (kubectl get pv {pv} -o jsonpath='{{.spec.nodeAffinity}}') with the nodes' zones (kubectl get nodes -L topology.kubernetes.io/zone). A node there lets it start; otherwise the data must move to a volume where the nodes are.",
                if volumes.is_empty() { String::new() } else { format!(" ({})", volumes.join(", ")) }
            ));
        }
        if m.contains("free ports") {
            hints.push("Another pod already uses the requested hostPort on every node.".into());
        }
        if m.contains("too many pods") {
            hints.push("Nodes have reached their maximum number of pods.".into());
        }
        if m.contains("affinity rules") || m.contains("anti-affinity") {
            hints.push("The pod's (anti-)affinity rules leave no node.".into());
        }
        if m.contains("were unschedulable") || m.contains("node(s) were unschedulable") {
            hints.push("Nodes are cordoned: kubectl uncordon NODE once maintenance is over.".into());
        }
        if hints.is_empty() && taints.iter().any(control_plane) {
            hints.push("Only control-plane nodes are left for it, and they repel workloads by design: the cluster needs worker nodes that can take the pod (kubectl get nodes); tolerating the control-plane taint is rarely the fix.".into());
        }
        if hints.is_empty() {
            hints.push(format!("The scheduler's reasons are above: {}", self.describe_cmd()));
        }
        hints.join(" ")
    }

    /// Whether the nodes are known and none of them offers `resource` (an extended resource no
    /// device plugin advertises). Unknown nodes, or nodes without their allocatable list, say
    /// nothing.
    fn no_node_offers(&self, resource: &str) -> bool {
        let nodes = &self.index.nodes;
        !nodes.is_empty()
            && nodes.values().all(|n| {
                n.status
                    .as_ref()
                    .and_then(|s| s.allocatable.as_ref())
                    .is_some_and(|a| a.get(resource).is_none_or(|q| q.0.trim_start_matches('0').is_empty()))
            })
    }

    /// The pod's total request of a resource, for hints (`cpu 1500m`).
    fn total_request(&self, resource: &str) -> String {
        let requests: Vec<String> = self
            .spec
            .map(|s| s.containers.iter())
            .into_iter()
            .flatten()
            .filter_map(|c| c.resources.as_ref()?.requests.as_ref()?.get(resource).map(|q| q.0.clone()))
            .collect();
        if requests.is_empty() { "none set".to_string() } else { requests.join(" + ") }
    }

    fn logs_cmd(&self, container: &str, previous: bool) -> String {
        format!("kubectl logs -n {} {} -c {container}{}", self.ns, self.name, if previous { " --previous" } else { "" })
    }

    fn describe_cmd(&self) -> String {
        format!("kubectl describe pod -n {} {}", self.ns, self.name)
    }

    fn describe_hint(&self) -> String {
        format!("See the pod's events: {}.", self.describe_cmd())
    }
}

/// How many log lines a finding carries (the tails of a container's previous and current
/// instances, or of two failing containers).
const MAX_LOG_LINES: usize = 24;

/// The Log analyzer: no findings of its own. When selected, log tails of failing containers are
/// fetched and their error lines become evidence on the Pod findings.
pub(super) struct LogAnalyzer;

impl Analyzer for LogAnalyzer {
    fn info(&self) -> &'static Info {
        &Info {
            name: "Log",
            description: "(opt-in) the last lines of failing containers' logs, previous and current, with the error lines before them, as evidence on Pod findings",
            subject: Kind::Pod,
            evidence: &[],
            default_enabled: false,
        }
    }

    fn analyze(&self, _cx: &Context<'_>, _out: &mut Vec<Finding>) {}
}

fn job_failed(job: &Job) -> bool {
    job.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| (c.type_ == "Failed" || c.type_ == "FailureTarget") && c.status == "True"))
}

/// The Job's own words for giving up (`Job has reached the specified backoff limit`).
fn job_failure_messages(job: &Job) -> Vec<String> {
    let conditions = job.status.as_ref().and_then(|s| s.conditions.as_ref());
    conditions
        .into_iter()
        .flatten()
        .filter(|c| c.type_ == "Failed" && c.status == "True")
        .filter_map(|c| c.message.clone())
        .collect()
}

fn memory_limit(c: Option<&Container>) -> Option<String> {
    c?.resources.as_ref()?.limits.as_ref()?.get("memory").map(|q| q.0.clone())
}

/// What an exit code usually means, and what to look at.
fn exit_hint(code: i32, reason: Option<&str>, memory_limit: Option<&str>, logs: &str) -> String {
    match (reason, code) {
        // The runtime could not start the process: nothing ran, so there is no output to read.
        (Some("StartError" | "ContainerCannotRun"), _) | (_, 128) => "It never started (the runtime could not run its command, exit 128), so kubectl logs has nothing to show: the runtime's message (above, or Last State in kubectl describe pod) says why — usually a command, args or workingDir that does not exist in the image.".to_string(),
        (Some("OOMKilled"), _) => match memory_limit {
            Some(limit) => format!("It was killed for using more memory than its limit ({limit}): raise resources.limits.memory or lower the app's memory use."),
            None => "It was killed for lack of memory and has no memory limit: set resources.requests.memory and limits.memory to what it needs.".to_string(),
        },
        (_, 137) => format!("It was killed with SIGKILL (exit 137), usually by a failing liveness probe or memory pressure: check the events and {logs}"),
        (_, 143) => format!("It was stopped with SIGTERM (exit 143): check the liveness probe and {logs}"),
        (_, 127) => "Exit 127: the command was not found in the image; check command/args and the image's entrypoint.".to_string(),
        (_, 126) => "Exit 126: the command is not executable; check its path and permissions in the image.".to_string(),
        (_, 139) => format!("Exit 139: the process crashed with a segmentation fault; {logs}"),
        (Some("Completed"), _) | (_, 0) => "The process exits successfully, but restartPolicy Always starts it again: a long-running container must not exit (run one-off work as a Job).".to_string(),
        _ => format!("The process exits with code {code}; its output says why: {logs}"),
    }
}

/// Hints for "secret/configmap/key not found" style messages.
fn reference_hint(ns: &str, message: &str) -> Option<String> {
    for (what, kind, create) in [
        ("secret \"", "Secret", "kubectl create secret generic"),
        ("configmap \"", "ConfigMap", "kubectl create configmap"),
        ("persistentvolumeclaim \"", "PersistentVolumeClaim", ""),
    ] {
        if let Some(rest) = message.split(what).nth(1) {
            let name = rest.split('"').next().unwrap_or_default();
            if rest.contains("not found") {
                return Some(if create.is_empty() {
                    format!(
                        "{kind} {name} does not exist in namespace {ns}: create it or fix the claimName in the pod spec."
                    )
                } else {
                    format!(
                        "{kind} {name} does not exist in namespace {ns}: create it ({create} {name} -n {ns} …) or fix the reference in the pod spec."
                    )
                });
            }
        }
    }
    // "couldn't find key password in Secret shop/db-creds"
    let rest = message.split("couldn't find key ").nth(1)?;
    let mut words = rest.split_whitespace();
    let key = words.next()?;
    let kind = words.nth(1)?;
    let object = words.next()?.rsplit('/').next()?;
    Some(format!("{kind} {object} has no key {key}: add the key or fix the key reference in the pod spec."))
}

/// What a failing probe's message says about it, as the kubelet words it: a path that does not
/// exist (404), an app that calls itself unhealthy (5xx), nothing listening (connection refused), no
/// answer in time, a failing exec command; otherwise what to check to tell these apart.
fn probe_hint(kind: &str, probe: Option<&Probe>, message: &str) -> String {
    let what = probe.map(describe_probe).unwrap_or_else(|| "the probe".to_string());
    let m = message.to_ascii_lowercase();
    let status = m.split("statuscode: ").nth(1).and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next());
    let exec = probe.is_some_and(|p| p.exec.is_some());
    match status {
        Some("404") => format!("Its {kind} probe ({what}) gets 404: the app has no such path; fix the probe's path."),
        Some(code) if code.starts_with('5') => format!(
            "Its {kind} probe ({what}) gets {code}: the app answers but reports itself unhealthy; what the endpoint checks (often a database or another dependency) says why."
        ),
        _ if m.contains("connection refused") => format!(
            "Its {kind} probe ({what}) finds nothing listening: check the probe's port against the port the app listens on, or whether the app listens yet (initialDelaySeconds, startupProbe)."
        ),
        _ if m.contains("timeout") || m.contains("deadline exceeded") => format!(
            "Its {kind} probe ({what}) gets no answer within timeoutSeconds: the app is blocked or overloaded, or the timeout is too short for it."
        ),
        _ if exec => format!(
            "Its {kind} probe's command fails ({what}): run it in the container to see why (kubectl exec … -- the same command)."
        ),
        _ => format!(
            "Its {kind} probe ({what}) fails: check that the endpoint answers and that the app starts in time (initialDelaySeconds, startupProbe)."
        ),
    }
}

fn describe_probe(p: &Probe) -> String {
    if let Some(h) = &p.http_get {
        let port = match &h.port {
            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(i) => i.to_string(),
            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s) => s.clone(),
        };
        format!("HTTP GET {} on port {port}", h.path.as_deref().unwrap_or("/"))
    } else if let Some(t) = &p.tcp_socket {
        let port = match &t.port {
            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(i) => i.to_string(),
            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s) => s.clone(),
        };
        format!("TCP port {port}")
    } else if let Some(e) = &p.exec {
        format!("exec {}", e.command.clone().unwrap_or_default().join(" "))
    } else if let Some(g) = &p.grpc {
        format!("gRPC port {}", g.port)
    } else {
        "the probe".to_string()
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_hints() {
        let cases: &[(&str, Option<&str>)] = &[
            (
                "secret \"db\" not found",
                Some(
                    "Secret db does not exist in namespace shop: create it (kubectl create secret generic db -n shop …) or fix the reference in the pod spec.",
                ),
            ),
            (
                "MountVolume.SetUp failed for volume \"cfg\" : configmap \"app-cfg\" not found",
                Some(
                    "ConfigMap app-cfg does not exist in namespace shop: create it (kubectl create configmap app-cfg -n shop …) or fix the reference in the pod spec.",
                ),
            ),
            (
                "couldn't find key password in Secret shop/db-creds",
                Some("Secret db-creds has no key password: add the key or fix the key reference in the pod spec."),
            ),
            ("something else", None),
        ];
        for (message, want) in cases {
            assert_eq!(reference_hint("shop", message).as_deref(), *want, "{message}");
        }
    }

    #[test]
    fn exit_hints() {
        assert!(exit_hint(137, Some("OOMKilled"), Some("256Mi"), "L").contains("(256Mi)"));
        assert!(exit_hint(137, Some("OOMKilled"), None, "L").contains("no memory limit"));
        assert!(exit_hint(1, Some("Error"), None, "L").ends_with("says why: L"));
        assert!(exit_hint(0, Some("Completed"), None, "L").contains("Job"));
        assert!(exit_hint(127, None, None, "L").starts_with("Exit 127"));
        let probe = |p: &str| serde_json::from_str::<Probe>(p).unwrap();
        let http = probe(r#"{"httpGet": {"path": "/healthz", "port": 8080}}"#);
        let exec = probe(r#"{"exec": {"command": ["cat", "/tmp/healthy"]}}"#);
        let cases = [
            (Some(&http), "Liveness probe failed: HTTP probe failed with statuscode: 404", "no such path"),
            (Some(&http), "Readiness probe failed: HTTP probe failed with statuscode: 503", "gets 503"),
            (
                Some(&http),
                "Liveness probe failed: Get \"http://10.0.0.1:8080/healthz\": dial tcp 10.0.0.1:8080: connect: connection refused",
                "nothing listening",
            ),
            (
                Some(&http),
                "Readiness probe failed: Get \"http://10.0.0.1:8080/healthz\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
                "timeoutSeconds",
            ),
            (Some(&exec), "Liveness probe failed: cat: /tmp/healthy: No such file or directory", "command fails"),
            (None, "Liveness probe failed: something else", "check that the endpoint answers"),
        ];
        for (p, message, said) in cases {
            let hint = probe_hint("liveness", p, message);
            assert!(hint.contains(said), "{message}: {hint}");
        }
        for (code, reason) in [(128, Some("StartError")), (128, None), (127, Some("ContainerCannotRun"))] {
            let hint = exit_hint(code, reason, None, "L");
            assert!(hint.contains("never started") && !hint.contains(": L"), "{code} {reason:?}: {hint}");
        }
    }

    #[test]
    fn a_pod_stuck_terminating_is_told_by_its_nodes_state() {
        use crate::analyze::testkit::{check, node, running_pod};
        let terminating = |node: &str, finalizers: &str| {
            running_pod("shop", "db-0", node).replace(
                "creationTimestamp: '2026-05-01T11:00:00Z'}",
                &format!("creationTimestamp: '2026-05-01T11:00:00Z', deletionTimestamp: '2026-05-01T11:30:00Z', deletionGracePeriodSeconds: 30{finalizers}}}"),
            )
        };
        let clock = node("clock", "True", "").replace("2026-04-01T08:00:00Z", "2026-05-01T12:00:00Z");
        let cases: &[(&str, String, &[&str])] = &[
            (
                "its node is not ready: wait for it, force only once the machine is off",
                node("n1", "Unknown", "") + &clock + &terminating("n1", ""),
                &[
                    "critical Node -/n1 NodeStatusUnknown",
                    "medium Pod shop/db-0 StuckTerminating … Its node n1 is not ready",
                ],
            ),
            (
                "its node is ready: look at the kubelet before forcing",
                node("n1", "True", "") + &clock + &terminating("n1", ""),
                &["medium Pod shop/db-0 StuckTerminating … is ready but its kubelet has not confirmed"],
            ),
            (
                "its node is gone: the leftover can go",
                clock.clone() + &terminating("n1", ""),
                &["medium Pod shop/db-0 StuckTerminating … Its node n1 no longer exists"],
            ),
            (
                "nodes not read: say what to check",
                terminating("n1", "").replace("2026-05-01T11:00:05Z", "2026-05-01T12:00:00Z"),
                &["medium Pod shop/db-0 StuckTerminating … Its node n1 may be down: check kubectl get node n1"],
            ),
            (
                "finalizers hold it, whatever the node",
                node("n1", "True", "") + &clock + &terminating("n1", ", finalizers: [example.com/backup]"),
                &["medium Pod shop/db-0 StuckTerminating … Finalizers example.com/backup block the deletion"],
            ),
            (
                "look-alike: within its grace period it is terminating normally",
                node("n1", "True", "")
                    + &terminating("n1", "").replace("2026-05-01T11:30:00Z", "2026-05-01T11:59:50Z")
                    + &clock,
                &[],
            ),
        ];
        check(cases);
    }

    #[test]
    fn unschedulable_pods_are_told_the_scheduler_s_reason() {
        use crate::analyze::testkit::check;
        let pending = |message: &str, spec: &str| {
            let message = message.replace('\'', "''");
            format!(
                "apiVersion: v1\nkind: Pod\nmetadata: {{name: job, namespace: ml, creationTimestamp: '2026-05-01T11:00:00Z'}}\n\
                 spec: {{{spec}containers: [{{name: train, image: t:1, resources: {{requests: {{cpu: '2', nvidia.com/gpu: '5'}}, limits: {{nvidia.com/gpu: '5'}}}}}}]}}\n\
                 status: {{phase: Pending, conditions: [{{type: PodScheduled, status: 'False', reason: Unschedulable, lastTransitionTime: '2026-05-01T12:00:00Z',\n  \
                 message: '{message}'}}]}}\n---\n"
            )
        };
        let gpu_node = "apiVersion: v1\nkind: Node\nmetadata: {name: g1}\nstatus: {allocatable: {cpu: '8', nvidia.com/gpu: '4'}, conditions: [{type: Ready, status: 'True'}]}\n---\n";
        let cpu_node = "apiVersion: v1\nkind: Node\nmetadata: {name: c1}\nstatus: {allocatable: {cpu: '8'}, conditions: [{type: Ready, status: 'True'}]}\n---\n";
        let cases: &[(&str, String, &[&str])] = &[
            (
                "an extended resource keeps its name and the pod's request",
                pending(
                    "0/2 nodes are available: 1 Insufficient nvidia.com/gpu, 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }. preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling.",
                    "",
                ) + gpu_node,
                &[
                    "high Pod ml/job Unschedulable … No node has enough free nvidia.com/gpu for the pod's requests (nvidia.com/gpu 5)",
                ],
            ),
            (
                "look-alike: no node offers it at all: the device plugin, not the requests",
                pending(
                    "0/2 nodes are available: 1 Insufficient nvidia.com/gpu, 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }.",
                    "",
                ) + cpu_node,
                &["high Pod ml/job Unschedulable … No node offers nvidia.com/gpu at all"],
            ),
            (
                "the control-plane taint is not offered as the fix when a selector is why",
                pending(
                    "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 node(s) didn't match Pod's node affinity/selector.",
                    "nodeSelector: {disktype: ssd}, ",
                ) + cpu_node,
                &[
                    "high Pod ml/job Unschedulable … No node matches the pod's nodeSelector disktype=ssd: kubectl get nodes -l disktype=ssd.",
                ],
            ),
            (
                "another taint is named",
                pending("0/2 nodes are available: 2 node(s) had untolerated taint {dedicated: gpu}.", "") + cpu_node,
                &["high Pod ml/job Unschedulable … Nodes carry taints the pod does not tolerate (dedicated)"],
            ),
            (
                "only control-plane nodes: say so, and that tolerating is rarely the fix",
                pending(
                    "0/1 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }.",
                    "",
                ) + cpu_node,
                &["high Pod ml/job Unschedulable … tolerating the control-plane taint is rarely the fix"],
            ),
            (
                "cpu short: lower the requests or add capacity",
                pending("0/1 nodes are available: 1 Insufficient cpu.", "") + cpu_node,
                &[
                    "high Pod ml/job Unschedulable … No node has enough free cpu for the pod's requests (cpu 2): lower the requests",
                ],
            ),
        ];
        check(cases);
        // The control-plane fact is not a hint of its own beside the real reason.
        let hint = &crate::analyze::testkit::findings(&cases[2].1)[0].hint;
        assert!(!hint.contains("control-plane") && !hint.contains("taint"), "{hint}");
    }

    #[test]
    fn a_crash_is_read_from_the_kubelet_s_words() {
        use crate::analyze::testkit::{CLOCK, check};
        let crashing = |code: i32, reason: &str, probe: &str| {
            format!(
                "apiVersion: v1\nkind: Pod\nmetadata: {{name: web, namespace: shop, uid: p, creationTimestamp: '2026-05-01T10:00:00Z'}}\n\
                 spec: {{nodeName: n1, containers: [{{name: app, image: app:1{probe}}}]}}\n\
                 status: {{phase: Running, conditions: [{{type: Ready, status: 'False'}}], containerStatuses: [{{name: app, image: app:1, imageID: '',\n  \
                 ready: false, restartCount: 9, state: {{waiting: {{reason: CrashLoopBackOff, message: back-off 5m0s restarting failed container}}}},\n  \
                 lastState: {{terminated: {{exitCode: {code}, reason: {reason}, finishedAt: '{CLOCK}'}}}}}}]}}\n---\n"
            )
        };
        let event = |reason: &str, message: &str| {
            format!(
                "apiVersion: v1\nkind: Event\nmetadata: {{name: web.{reason}, namespace: shop}}\n\
                 involvedObject: {{kind: Pod, name: web, namespace: shop, fieldPath: 'spec.containers{{app}}'}}\n\
                 type: {kind}\nreason: {reason}\nmessage: '{message}'\ncount: 9\nlastTimestamp: '{CLOCK}'\n---\n",
                kind = if reason == "Killing" { "Normal" } else { "Warning" },
            )
        };
        let http = ", livenessProbe: {httpGet: {path: /healthz, port: 8080}}";
        let exec = ", livenessProbe: {exec: {command: [cat, /tmp/healthy]}}";
        let cases: &[(&str, String, &[&str])] = &[
            (
                "killed by its liveness probe with exit 0: not a process that ends by itself",
                crashing(0, "Completed", http)
                    + &event("Unhealthy", "Liveness probe failed: HTTP probe failed with statuscode: 404")
                    + &event("Killing", "Container app failed liveness probe, will be restarted"),
                &[
                    "high Pod shop/web CrashLoopBackOff … not because it exits by itself. Its liveness probe (HTTP GET /healthz on port 8080) gets 404",
                ],
            ),
            (
                "killed by its liveness probe with exit 137: not memory",
                crashing(137, "Error", http)
                    + &event(
                        "Unhealthy",
                        "Liveness probe failed: Get \"http://10.1.0.7:8080/healthz\": dial tcp 10.1.0.7:8080: connect: connection refused",
                    ),
                &["high Pod shop/web CrashLoopBackOff … nothing listening"],
            ),
            (
                "an exec probe whose command fails has no endpoint to check",
                crashing(137, "Error", exec)
                    + &event("Unhealthy", "Liveness probe failed: cat: /tmp/healthy: No such file or directory"),
                &["high Pod shop/web CrashLoopBackOff … command fails"],
            ),
            (
                "look-alike: exit 0 with no probe failing: it ends by itself",
                crashing(0, "Completed", http),
                &["high Pod shop/web CrashLoopBackOff … Job"],
            ),
            (
                "look-alike: a readiness failure does not make the crash the probe's",
                crashing(1, "Error", http)
                    + &event("Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503"),
                &["high Pod shop/web CrashLoopBackOff … kubectl logs -n shop web -c app --previous"],
            ),
        ];
        check(cases);
    }
}
