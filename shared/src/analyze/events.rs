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
