//! What k8sgpt would send for the same state, computed from its documented behaviour, for the
//! token benchmark of `analyze --explain` (`make bench`).
//!
//! k8sgpt's Pod analyzer reports, per pod: the scheduler's message of a pending pod that cannot be
//! scheduled; the waiting message of a container waiting for an error reason; for a container in
//! CrashLoopBackOff, "the last termination reason is R container=C pod=P". Its Deployment analyzer
//! reports a Deployment whose spec.replicas differs from status.replicas. Each result becomes one
//! request: its failure texts joined by spaces, in the default prompt, in one user message.

use opsagent::llm::tokens::{Counter, MESSAGE_OVERHEAD};
use opsagent::snapshot::Snapshot;

/// k8sgpt's default prompt (pkg/ai/prompts.go); `%s` are the language and the failure texts.
pub const DEFAULT_PROMPT: &str = "Simplify the following Kubernetes error message delimited by triple dashes written in --- %s --- language; --- %s ---.
	Provide the most possible solution in a step by step style in no more than 280 characters. Write the output in the following format:
	Error: {Explain error here}
	Solution: {Step by step solution here}";

const ERROR_REASONS: &[&str] = &[
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "CreateContainerConfigError",
    "PreCreateHookError",
    "CreateContainerError",
    "PreStartHookError",
    "RunContainerError",
    "ImageInspectError",
    "ErrImagePull",
    "ErrImageNeverPull",
    "InvalidImageName",
];

/// One k8sgpt result: the object and its failure texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Result {
    pub name: String,
    pub failures: Vec<String>,
}

/// The results of k8sgpt's default Pod and Deployment analyzers on a snapshot.
pub fn results(snapshot: &Snapshot) -> Vec<Result> {
    let mut out = Vec::new();
    for pod in &snapshot.objects.pods {
        let (ns, name) =
            (pod.metadata.namespace.clone().unwrap_or_default(), pod.metadata.name.clone().unwrap_or_default());
        let Some(status) = &pod.status else { continue };
        let mut failures = Vec::new();
        if status.phase.as_deref() == Some("Pending") {
            for c in status.conditions.iter().flatten() {
                if c.type_ == "PodScheduled" && c.reason.as_deref() == Some("Unschedulable") {
                    failures.extend(c.message.clone().filter(|m| !m.is_empty()));
                }
            }
        }
        for cs in status.container_statuses.iter().flatten() {
            let Some(waiting) = cs.state.as_ref().and_then(|s| s.waiting.as_ref()) else { continue };
            let reason = waiting.reason.as_deref().unwrap_or_default();
            if ERROR_REASONS.contains(&reason) {
                failures.extend(waiting.message.clone().filter(|m| !m.is_empty()));
            }
            if reason == "CrashLoopBackOff" {
                let last = cs.last_state.as_ref().and_then(|s| s.terminated.as_ref()).and_then(|t| t.reason.clone());
                failures.push(format!(
                    "the last termination reason is {} container={} pod={name}",
                    last.unwrap_or_default(),
                    cs.name
                ));
            }
        }
        if !failures.is_empty() {
            out.push(Result { name: format!("{ns}/{name}"), failures });
        }
    }
    for d in &snapshot.objects.deployments {
        let (ns, name) =
            (d.metadata.namespace.clone().unwrap_or_default(), d.metadata.name.clone().unwrap_or_default());
        let spec = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let status = d.status.as_ref().and_then(|s| s.replicas).unwrap_or(0);
        if spec != status {
            out.push(Result {
                name: format!("{ns}/{name}"),
                failures: vec![format!("Deployment {ns}/{name} has {spec} replicas but {status} are available")],
            });
        }
    }
    out
}

/// The prompt k8sgpt sends for a result.
pub fn prompt(result: &Result, language: &str) -> String {
    DEFAULT_PROMPT.replacen("%s", language, 1).replacen("%s", &result.failures.join(" "), 1)
}

/// Requests and prompt tokens k8sgpt would send, counted like OpsAgent's own requests.
pub fn cost(snapshot: &Snapshot, model: &str) -> (usize, usize) {
    let counter = Counter::for_model(model);
    let results = results(snapshot);
    let tokens = results.iter().map(|r| counter.count(&prompt(r, "english")) + MESSAGE_OVERHEAD).sum();
    (results.len(), tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crash_looping_pod_reads_like_k8sgpt_output() {
        let yaml = r#"
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: demo}
status:
  phase: Running
  containerStatuses:
  - name: nginx
    ready: false
    restartCount: 5
    image: nginx
    imageID: ""
    state: {waiting: {reason: CrashLoopBackOff, message: "back-off 5m0s restarting failed container=nginx pod=web-1_demo(6cee8bb0)"}}
    lastState: {terminated: {reason: Error, exitCode: 1}}
"#;
        let dir = std::env::temp_dir().join(format!("k8sgpt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pod.yaml");
        std::fs::write(&file, yaml).unwrap();
        let snapshot = Snapshot::from_file(&file).unwrap();
        let r = results(&snapshot);
        assert_eq!(
            r,
            vec![Result {
                name: "demo/web-1".into(),
                failures: vec![
                    "back-off 5m0s restarting failed container=nginx pod=web-1_demo(6cee8bb0)".into(),
                    "the last termination reason is Error container=nginx pod=web-1".into()
                ]
            }]
        );
        let p = prompt(&r[0], "english");
        assert!(p.starts_with("Simplify the following Kubernetes error message delimited by triple dashes written in --- english --- language; --- back-off 5m0s"), "{p}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
