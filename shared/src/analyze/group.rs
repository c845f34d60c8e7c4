//! Making each problem appear once.
//!
//! 1. Identical failures (same reason) of two or more pods with the same top owner become one
//!    finding on that owner, with the pod names ("Deployment shop/api: 10/10 pods CrashLoopBackOff").
//! 2. When every replica a controller asks for is failing, its pods' findings become critical.
//! 3. Symptoms (a Deployment short of replicas, a failed Job) are merged into the finding of their
//!    cause (the pods' failure), keeping their messages; a symptom without a cause stays.

use std::collections::{BTreeMap, HashMap};

use super::Context;
use crate::findings::{Finding, ObjectRef, Severity};

/// Pod reasons that do not make a replica "failing": leftovers a controller has already replaced.
const LEFTOVERS: &[&str] = &["Evicted", "StuckTerminating", "Shutdown", "Terminated", "NodeShutdown"];

pub(super) fn consolidate(cx: &Context<'_>, findings: Vec<Finding>) -> Vec<Finding> {
    let findings = escalate(cx, findings);
    let findings = group_pods(cx, findings);
    absorb_symptoms(findings)
}

fn is_pod_failure(f: &Finding) -> bool {
    f.kind == "Pod" && f.analyzer == "Pod" && f.severity >= Severity::Medium && !LEFTOVERS.contains(&f.reason.as_str())
}

/// Critical when the failing pods of a controller cover all the replicas it asks for.
fn escalate(cx: &Context<'_>, mut findings: Vec<Finding>) -> Vec<Finding> {
    let mut failing: HashMap<ObjectRef, usize> = HashMap::new();
    for f in findings.iter().filter(|f| is_pod_failure(f)) {
        if let Some(parent) = &f.parent {
            *failing.entry(parent.clone()).or_default() += 1;
        }
    }
    for f in findings.iter_mut().filter(|f| is_pod_failure(f)) {
        let Some(parent) = &f.parent else { continue };
        let desired = cx
            .index
            .controller(&parent.kind, parent.namespace.as_deref().unwrap_or(""), &parent.name)
            .and_then(|o| o.desired_replicas());
        let count = failing.get(parent).copied().unwrap_or(0);
        if desired.is_some_and(|d| d > 0 && count >= d as usize) {
            f.severity = Severity::Critical;
        }
    }
    findings
}

/// One finding on the owner for two or more pods failing the same way.
fn group_pods(cx: &Context<'_>, findings: Vec<Finding>) -> Vec<Finding> {
    let mut groups: BTreeMap<(ObjectRef, String), Vec<Finding>> = BTreeMap::new();
    let mut out = Vec::new();
    for f in findings {
        match (&f.parent, f.kind == "Pod" && f.analyzer == "Pod") {
            (Some(parent), true) => groups.entry((parent.clone(), f.reason.clone())).or_default().push(f),
            _ => out.push(f),
        }
    }
    for ((parent, _), mut pods) in groups {
        if pods.len() == 1 {
            out.extend(pods);
            continue;
        }
        pods.sort_by(|a, b| a.name.cmp(&b.name));
        let desired = cx
            .index
            .controller(&parent.kind, parent.namespace.as_deref().unwrap_or(""), &parent.name)
            .and_then(|o| o.desired_replicas())
            .filter(|d| *d > 0);
        let count = match desired {
            Some(d) => format!("{}/{d} pods", pods.len()),
            None => format!("{} pods", pods.len()),
        };
        let first = &pods[0];
        let mut grouped = Finding {
            cluster: first.cluster.clone(),
            analyzer: first.analyzer.clone(),
            kind: parent.kind.clone(),
            namespace: parent.namespace.clone(),
            name: parent.name.clone(),
            severity: pods.iter().map(|p| p.severity).max().unwrap_or(first.severity),
            reason: first.reason.clone(),
            summary: format!("{count} {}: {}", first.reason, first.summary),
            parent: None,
            owners: first.owners.iter().filter(|o| **o != parent).cloned().collect(),
            pods: pods.iter().map(|p| p.name.clone()).collect(),
            ..Finding::default()
        };
        // The first pod's words stand for all: the others differ only by pod name.
        grouped = grouped.messages(first.messages.iter().cloned()).hint(first.hint.clone());
        grouped.logs = first.logs.clone();
        out.push(grouped);
    }
    out
}

/// Merges each symptom into the finding of its cause: a finding on the same object, on something
/// the object owns, or on an object the symptom names as a possible cause (a Service's pods).
/// Causes are indexed by every object they concern, so this is linear in the findings.
fn absorb_symptoms(findings: Vec<Finding>) -> Vec<Finding> {
    let (symptoms, mut causes): (Vec<Finding>, Vec<Finding>) = findings.into_iter().partition(|f| f.symptom);
    let mut concerned: HashMap<ObjectRef, Vec<usize>> = HashMap::new();
    for (i, c) in causes.iter().enumerate() {
        let pods =
            c.pods.iter().map(|p| ObjectRef { kind: "Pod".into(), namespace: c.namespace.clone(), name: p.clone() });
        for object in std::iter::once(c.object()).chain(c.owners.iter().cloned()).chain(pods) {
            concerned.entry(object).or_default().push(i);
        }
    }
    let mut kept = Vec::new();
    for symptom in symptoms {
        let candidates = std::iter::once(symptom.object()).chain(symptom.causes.iter().cloned());
        let best = candidates
            .filter_map(|o| concerned.get(&o))
            .flatten()
            .copied()
            .max_by_key(|i| (causes[*i].severity, std::cmp::Reverse(*i)));
        match best {
            Some(i) => {
                // A stuck rollout adds its way back to the cause's hint: the old pods still serve.
                let rollback = (symptom.reason == "ProgressDeadlineExceeded")
                    .then(|| format!("{} {}: {}. {}", symptom.kind, symptom.name, symptom.summary, symptom.hint));
                // A symptom without words of the cluster's own says what it knows in its summary.
                let words = if symptom.messages.is_empty() { vec![symptom.summary] } else { symptom.messages };
                let mut merged = std::mem::take(&mut causes[i]).messages(words);
                if let Some(rollback) = rollback {
                    let end = if merged.hint.ends_with('.') { "" } else { "." };
                    merged.hint = format!("{}{end} {rollback}", merged.hint);
                }
                // The symptom measures the impact: a readiness failure that takes a Service down is high.
                merged.severity = merged.severity.max(symptom.severity);
                causes[i] = merged;
            }
            None => kept.push(symptom),
        }
    }
    causes.extend(kept);
    causes
}
