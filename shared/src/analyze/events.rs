//! Warning events that no other finding explains, grouped by reason.
//!
//! Runs after the other analyzers. An event is explained when its object, or an owner of it, has a
//! finding. Old events (more than an hour before the snapshot), events about pods that are healthy
//! now, and events about objects that no longer exist are history, not problems.

use std::collections::{BTreeMap, HashSet};

use jiff::SignedDuration;
use k8s_openapi::api::core::v1::{Event, Pod};

use super::{Analyzer, Context, Info, condition_is, event_time};
use crate::findings::{Finding, ObjectRef, Severity};
use crate::snapshot::Kind;

pub(super) struct EventsAnalyzer;

const RECENT: SignedDuration = SignedDuration::from_hours(1);
/// A pod younger than this is still settling in: its warnings (a volume not yet attached) pass.
const SETTLING: SignedDuration = SignedDuration::from_mins(5);

impl Analyzer for EventsAnalyzer {
    fn info(&self) -> &'static Info {
        &Info {
            name: "Events",
            description: "recent warning events that no other finding explains, grouped by reason",
            subject: Kind::Event,
            evidence: &[Kind::Pod],
            default_enabled: true,
        }
    }

    fn analyze(&self, _cx: &Context<'_>, _out: &mut Vec<Finding>) {
        // Run by `analyze::run` after the others, through `unexplained`.
    }
}

pub(super) fn unexplained(cx: &Context<'_>, findings: &[Finding]) -> Vec<Finding> {
    let mut explained: HashSet<ObjectRef> = HashSet::new();
    for f in findings {
        explained.insert(f.object());
        explained.extend(f.owners.iter().cloned());
        explained.extend(f.pods.iter().map(|p| ObjectRef {
            kind: "Pod".into(),
            namespace: f.namespace.clone(),
            name: p.clone(),
        }));
    }
    // A node's finding (NotReady, pressure) explains the warnings about the pods it runs; a pod
    // killed for memory explains its node's OOM events (the kernel names a process, not a pod).
    let troubled_nodes: HashSet<&str> =
        findings.iter().filter(|f| f.kind == "Node" && f.namespace.is_none()).map(|f| f.name.as_str()).collect();
    let oom_nodes: HashSet<&str> = findings
        .iter()
        .filter(|f| f.kind == "Pod" && mentions_oom(f))
        .flat_map(|f| {
            let ns = f.namespace.as_deref().unwrap_or("default");
            std::iter::once(f.name.as_str())
                .chain(f.pods.iter().map(String::as_str))
                .filter_map(move |name| node_of(cx, ns, name))
        })
        .collect();
    let mut groups: BTreeMap<(Option<String>, String, String), Vec<&Event>> = BTreeMap::new();
    for e in &cx.snapshot.objects.events {
        if e.type_.as_deref() != Some("Warning") || event_time(e).is_none_or(|t| cx.age(t) > RECENT) {
            continue;
        }
        let object = involved(e);
        if explained.contains(&object) || is_history(cx, &object) {
            continue;
        }
        let reason = e.reason.clone().unwrap_or_else(|| "Warning".into());
        let on_troubled_node = object.kind == "Pod"
            && node_of(cx, object.namespace.as_deref().unwrap_or("default"), &object.name)
                .is_some_and(|n| troubled_nodes.contains(n));
        let oom =
            object.kind == "Node" && OOM_REASONS.contains(&reason.as_str()) && oom_nodes.contains(object.name.as_str());
        if on_troubled_node || oom {
            continue;
        }
        groups.entry((object.namespace.clone(), object.kind.clone(), reason)).or_default().push(e);
    }
    groups
        .into_iter()
        .map(|((ns, kind, reason), events)| {
            let mut objects: Vec<String> = Vec::new();
            let mut messages: Vec<String> = Vec::new();
            let mut count = 0;
            for e in &events {
                count += e.count.unwrap_or(1);
                let name = e.involved_object.name.clone().unwrap_or_default();
                if !objects.contains(&name) {
                    objects.push(name);
                }
                if let Some(m) = e
                    .message
                    .as_ref()
                    .map(|m| m.trim().to_string())
                    .filter(|m| !messages.contains(m) && messages.len() < 5)
                {
                    messages.push(m);
                }
            }
            let selector = match &ns {
                Some(ns) => format!("-n {ns}"),
                None => "-A".to_string(),
            };
            let about = match objects.as_slice() {
                [one] => format!("{}/{one}", kind.to_ascii_lowercase()),
                all => format!("{} {}s: {}", all.len(), kind.to_ascii_lowercase(), all.join(", ")),
            };
            let first = objects.first().cloned().unwrap_or_default();
            let one = objects.len() == 1;
            Finding {
                analyzer: "Events".into(),
                kind: kind.clone(),
                namespace: ns.clone(),
                name: first.clone(),
                severity: Severity::Low,
                reason: reason.clone(),
                summary: format!("{count} warning event(s) {reason} that no other finding explains, about {about}"),
                hint: if one {
                    format!(
                        "kubectl get events {selector} --field-selector type=Warning,reason={reason},involvedObject.name={first}"
                    )
                } else {
                    format!("kubectl get events {selector} --field-selector type=Warning,reason={reason}")
                },
                pods: if kind == "Pod" && !one { objects.clone() } else { Vec::new() },
                ..Finding::default()
            }
            .messages(messages)
        })
        .collect()
}

/// The reasons the kubelet and node-problem-detector give a node's OOM kills.
const OOM_REASONS: &[&str] = &["SystemOOM", "OOMKilling"];

/// Whether a pod finding is about a container killed for memory.
fn mentions_oom(f: &Finding) -> bool {
    f.reason.contains("OOM") || f.summary.contains("OOMKilled") || f.messages.iter().any(|m| m.contains("OOMKilled"))
}

/// A pod by namespace and name.
fn pod_named<'a>(cx: &Context<'a>, namespace: &str, name: &str) -> Option<&'a Pod> {
    cx.index.pods_in(namespace).iter().copied().find(|p| p.metadata.name.as_deref() == Some(name))
}

/// The node a pod runs on.
fn node_of<'a>(cx: &Context<'a>, namespace: &str, pod: &str) -> Option<&'a str> {
    pod_named(cx, namespace, pod).and_then(|p| p.spec.as_ref()?.node_name.as_deref())
}

/// The object an event is about. A cluster-scoped object has no namespace, although its events are
/// filed in one (`default`, for a node's).
fn involved(e: &Event) -> ObjectRef {
    let io = &e.involved_object;
    let kind = io.kind.clone().unwrap_or_default();
    let cluster_scoped = Kind::from_kind_name(&kind).is_some_and(|k| !k.namespaced());
    let namespace = match io.namespace.as_deref().filter(|n| !n.is_empty()) {
        Some(ns) => Some(ns.to_string()),
        None if cluster_scoped => None,
        None => e.metadata.namespace.clone().filter(|n| !n.is_empty()),
    };
    ObjectRef { kind, namespace, name: io.name.clone().unwrap_or_default() }
}

/// Events about a pod that is healthy now, still settling in, or gone, are history.
fn is_history(cx: &Context<'_>, object: &ObjectRef) -> bool {
    if object.kind != "Pod" || !cx.snapshot.has(Kind::Pod) {
        return false;
    }
    let Some(pod) = pod_named(cx, object.namespace.as_deref().unwrap_or(""), &object.name) else {
        return true; // deleted since
    };
    if pod.metadata.creation_timestamp.as_ref().is_some_and(|t| cx.age(t.0) < SETTLING) {
        return true;
    }
    let status = pod.status.as_ref();
    match status.and_then(|s| s.phase.as_deref()) {
        Some("Succeeded") => true,
        Some("Running") => condition_is(status.and_then(|s| s.conditions.as_ref()), "Ready", "True").is_some(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use crate::analyze::testkit::{CLOCK, check, node, running_pod, warning};

    /// A pod whose container was killed for memory, on a node.
    fn oom_killed(name: &str, node: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: shop, creationTimestamp: '2026-05-01T10:00:00Z'}}\n\
             spec: {{nodeName: {node}, containers: [{{name: app, image: app:1}}]}}\n\
             status: {{phase: Running, conditions: [{{type: Ready, status: 'False'}}], containerStatuses: [{{name: app, image: app:1, imageID: '',\n  \
             ready: false, restartCount: 6, state: {{waiting: {{reason: CrashLoopBackOff, message: back-off}}}},\n  \
             lastState: {{terminated: {{exitCode: 137, reason: OOMKilled, finishedAt: '{CLOCK}'}}}}}}]}}\n---\n"
        )
    }

    #[test]
    fn warnings_are_attributed_to_their_object() {
        let down = node("n1", "Unknown", "");
        let ok = node("n2", "True", "");
        let cases: &[(&str, String, &[&str])] = &[
            (
                "a node's warning, filed in default, is the node's: cluster-scoped, named after it",
                ok.clone() + &warning("default", "Node", "", "n2", "Rebooted", "Node n2 has been rebooted"),
                &["low Node -/n2 Rebooted … involvedObject.name=n2"],
            ),
            (
                "explained by the node's own finding",
                down.clone()
                    + &warning("default", "Node", "", "n1", "NodeNotReady", "Node n1 status is now: NodeNotReady"),
                &["critical Node -/n1 NodeStatusUnknown"],
            ),
            (
                "a pod's warning on a node with a finding is the node's",
                down.clone()
                    + &running_pod("shop", "web", "n1").replace("status: 'True'}]", "status: 'False'}]")
                    + &warning("shop", "Pod", "shop", "web", "FailedMount", "timed out waiting for the condition"),
                &["critical Node -/n1 NodeStatusUnknown"],
            ),
            (
                "look-alike: the same warning on a healthy node's pod that is not ready is reported",
                ok.clone()
                    + &running_pod("shop", "web", "n2").replace("status: 'True'}]", "status: 'False'}]")
                    + &warning("shop", "Pod", "shop", "web", "FailedMount", "timed out waiting for the condition"),
                &["low Pod shop/web FailedMount … involvedObject.name=web"],
            ),
            (
                "a node's SystemOOM is explained by the pod it killed",
                ok.clone()
                    + &oom_killed("cache", "n2")
                    + &warning("default", "Node", "", "n2", "SystemOOM", "System OOM encountered, victim process: app"),
                &["high Pod shop/cache CrashLoopBackOff"],
            ),
            (
                "look-alike: a SystemOOM no pod explains (a process outside any pod) is reported",
                ok.clone()
                    + &warning(
                        "default",
                        "Node",
                        "",
                        "n2",
                        "SystemOOM",
                        "System OOM encountered, victim process: dockerd",
                    ),
                &["low Node -/n2 SystemOOM … involvedObject.name=n2"],
            ),
            (
                "history: a pod that is healthy now, a pod deleted since, an event over an hour old",
                ok.clone()
                    + &running_pod("shop", "web", "n2")
                    + &warning("shop", "Pod", "shop", "web", "Unhealthy", "Readiness probe failed")
                    + &warning("shop", "Pod", "shop", "gone", "BackOff", "Back-off restarting failed container")
                    + &warning("shop", "Deployment", "shop", "api", "Old", "m").replace(CLOCK, "2026-05-01T10:30:00Z"),
                &[],
            ),
            (
                "several objects with one reason are one finding on the first",
                ok.clone()
                    + &warning(
                        "shop",
                        "PersistentVolumeClaim",
                        "shop",
                        "data-a",
                        "ProvisioningFailed",
                        "no volume plugin",
                    )
                    + &warning(
                        "shop",
                        "PersistentVolumeClaim",
                        "shop",
                        "data-b",
                        "ProvisioningFailed",
                        "no volume plugin",
                    ),
                &["low PersistentVolumeClaim shop/data-a ProvisioningFailed … reason=ProvisioningFailed"],
            ),
        ];
        check(cases);
    }
}
