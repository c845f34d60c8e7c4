//! `audit --explain`: one model request per distinct check (not per object), asking for a
//! remediation summary. The request carries the check, its remediation and references, and a few
//! affected objects with their paths and messages — never object contents (messages name env
//! variables and ConfigMap keys, never their values), and it goes through the redaction pass.

use std::collections::BTreeMap;

use crate::audit::AuditFinding;
use crate::llm::Message;
use crate::llm::redact::redact_text;

/// Examples of affected objects per request.
const EXAMPLES: usize = 5;

pub const SYSTEM: &str = "You are a Kubernetes security engineer. For one audit check that failed, write a short remediation summary for the team: why it matters here (one or two sentences), how to fix it (a minimal YAML snippet of the fields to set), and how to check the fix (one kubectl command). Do not repeat the list of objects. Be brief.";

/// The requests, worst check first: `(check id, messages)`.
pub fn requests(findings: &[AuditFinding]) -> Vec<(&'static str, Vec<Message>)> {
    let mut by_check: BTreeMap<&'static str, Vec<&AuditFinding>> = BTreeMap::new();
    for f in findings {
        by_check.entry(f.check).or_default().push(f);
    }
    let mut checks: Vec<(&'static str, Vec<&AuditFinding>)> = by_check.into_iter().collect();
    checks.sort_by(|a, b| b.1[0].severity.cmp(&a.1[0].severity).then(a.0.cmp(b.0)));
    checks
        .into_iter()
        .map(|(id, list)| {
            let first = list[0];
            let mut user = format!(
                "Check {id}: {} (severity {}).\nOur remediation: {}\nEquivalent checks: {}\n\n{} finding(s), for example:\n",
                first.title,
                first.severity.as_str(),
                first.remediation,
                first.references.join(", "),
                list.len()
            );
            for f in list.iter().take(EXAMPLES) {
                let object = match &f.namespace {
                    Some(ns) => format!("{} {ns}/{}", f.kind, f.name),
                    None => format!("{} {}", f.kind, f.name),
                };
                user.push_str(&format!("- {object} at {}: {}\n", f.path, f.message));
            }
            (id, vec![Message::system(SYSTEM), Message::user(redact_text(&user))])
        })
        .collect()
}
