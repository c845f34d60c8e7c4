//! Warning events that no other finding explains, grouped by reason.
//!
//! Runs after the other analyzers. An event is explained when its object, or an owner of it, has a
//! finding. Old events (more than an hour before the snapshot), events about pods that are healthy
//! now, and events about objects that no longer exist are history, not problems.

use std::collections::{BTreeMap, HashSet};

use jiff::SignedDuration;
use k8s_openapi::api::core::v1::Event;

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
    let mut groups: BTreeMap<(String, String), Vec<&Event>> = BTreeMap::new();
    for e in &cx.snapshot.objects.events {
        if e.type_.as_deref() != Some("Warning") || event_time(e).is_none_or(|t| cx.age(t) > RECENT) {
            continue;
        }
        let io = &e.involved_object;
        let ns = io.namespace.clone().or_else(|| e.metadata.namespace.clone());
        let object = ObjectRef {
            kind: io.kind.clone().unwrap_or_default(),
            namespace: ns.clone(),
            name: io.name.clone().unwrap_or_default(),
        };
        if explained.contains(&object) || is_history(cx, &object) {
            continue;
        }
        let reason = e.reason.clone().unwrap_or_else(|| "Warning".into());
        groups.entry((ns.unwrap_or_default(), reason)).or_default().push(e);
    }
    groups
        .into_iter()
        .map(|((ns, reason), events)| {
            let mut objects: Vec<String> = Vec::new();
            let mut messages: Vec<String> = Vec::new();
            let mut count = 0;
            for e in &events {
                count += e.count.unwrap_or(1);
                let io = &e.involved_object;
                let obj = format!(
                    "{}/{}",
                    io.kind.clone().unwrap_or_default().to_ascii_lowercase(),
                    io.name.clone().unwrap_or_default()
                );
                if !objects.contains(&obj) {
                    objects.push(obj);
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
            let selector = if ns.is_empty() { "-A".to_string() } else { format!("-n {ns}") };
            Finding {
                analyzer: "Events".into(),
                kind: "Event".into(),
                namespace: Some(ns.clone()).filter(|n| !n.is_empty()),
                name: reason.clone(),
                severity: Severity::Low,
                reason: reason.clone(),
                summary: format!(
                    "{count} warning event(s) {reason} that no other finding explains, about {}",
                    objects.join(", ")
                ),
                hint: format!("kubectl get events {selector} --field-selector type=Warning,reason={reason}"),
                ..Finding::default()
            }
            .messages(messages)
        })
        .collect()
}

/// Events about a pod that is healthy now, still settling in, or gone, are history.
fn is_history(cx: &Context<'_>, object: &ObjectRef) -> bool {
    if object.kind != "Pod" || !cx.snapshot.has(Kind::Pod) {
        return false;
    }
    let pods = cx.index.pods_in(object.namespace.as_deref().unwrap_or(""));
    let Some(pod) = pods.iter().find(|p| p.metadata.name.as_deref() == Some(object.name.as_str())) else {
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
