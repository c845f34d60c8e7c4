//! Table tests of the analyzers: a small state written as YAML, and the findings it must give,
//! one line each.
//!
//! A case lists every finding expected, worst first, as `severity Kind ns/name Reason`, optionally
//! followed by ` … ` and a fragment of the hint that must be there; a look-alike that must stay
//! silent lists nothing. The clock is the newest timestamp of the state.

use crate::findings::Finding;
use crate::snapshot::Snapshot;

/// The findings of the default analyzers over `state`.
pub(crate) fn findings(state: &str) -> Vec<Finding> {
    let snapshot = Snapshot::from_text("case", state).unwrap_or_else(|e| panic!("the case's state: {e}"));
    super::run(&snapshot, &super::defaults())
}

/// A finding as a case names it.
pub(crate) fn line(f: &Finding) -> String {
    format!("{} {} {}/{} {}", f.severity.as_str(), f.kind, f.namespace.as_deref().unwrap_or("-"), f.name, f.reason)
}

/// Checks each case: `(what it shows, state, expected findings)`.
#[track_caller]
pub(crate) fn check(cases: &[(&str, String, &[&str])]) {
    let mut failures = Vec::new();
    for (what, state, want) in cases {
        let got = findings(state);
        let lines: Vec<String> = got.iter().map(|f| format!("{} … {}", line(f), f.hint)).collect();
        let matches = got.len() == want.len()
            && got.iter().zip(want.iter()).all(|(f, w)| {
                let (head, fragment) = w.split_once(" … ").unwrap_or((w, ""));
                line(f) == head && f.hint.contains(fragment)
            });
        if !matches {
            failures.push(format!("{what}:\n  want {want:#?}\n  got  {lines:#?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A node, ready or not (`True`, `False`, `Unknown`), with extra conditions written as YAML flow
/// items.
pub(crate) fn node(name: &str, ready: &str, extra_conditions: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Node\nmetadata: {{name: {name}, creationTimestamp: '2026-04-01T08:00:00Z'}}\n\
         status: {{conditions: [{{type: Ready, status: '{ready}', reason: {reason}, message: 'm'}}{extra_conditions}]}}\n---\n",
        reason = if ready == "True" { "KubeletReady" } else { "NodeStatusUnknown" },
    )
}

/// A running, ready pod on a node, created an hour before the clock of [`CLOCK`].
pub(crate) fn running_pod(ns: &str, name: &str, node: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {ns}, creationTimestamp: '2026-05-01T11:00:00Z'}}\n\
         spec: {{nodeName: {node}, containers: [{{name: app, image: app:1}}]}}\n\
         status: {{phase: Running, conditions: [{{type: Ready, status: 'True'}}],\n  \
         containerStatuses: [{{name: app, image: app:1, imageID: '', ready: true, restartCount: 0, state: {{running: {{startedAt: '2026-05-01T11:00:05Z'}}}}}}]}}\n---\n"
    )
}

/// A warning event about an object, at the clock.
pub(crate) fn warning(filed_in: &str, kind: &str, object_ns: &str, name: &str, reason: &str, message: &str) -> String {
    let object_ns = if object_ns.is_empty() { String::new() } else { format!(", namespace: {object_ns}") };
    format!(
        "apiVersion: v1\nkind: Event\nmetadata: {{name: {name}.{reason}, namespace: {filed_in}}}\n\
         involvedObject: {{kind: {kind}, name: {name}{object_ns}}}\n\
         type: Warning\nreason: {reason}\nmessage: '{message}'\ncount: 3\nlastTimestamp: '{CLOCK}'\n---\n"
    )
}

/// The moment the helpers' states describe.
pub(crate) const CLOCK: &str = "2026-05-01T12:00:00Z";
