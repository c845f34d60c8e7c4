//! The page's view of the cluster's problems: analyze and audit run on the session's cluster, every
//! namespace, as rows a table can sort and filter. Shown to the person only; a question asked
//! about a row goes through the same session (and redaction) as any other.

use serde_json::{Value, json};

use crate::analyze::{AnalyzeOptions, Input};
use crate::audit::{AuditInput, AuditOptions};
use crate::error::Error;
use crate::exec::ExecOptions;
use crate::findings::Severity;

/// The most rows one report sends; the rest are counted.
const MAX_ROWS: usize = 2_000;

/// Which report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Which {
    Analyze,
    Audit,
}

/// Runs the report on the session's cluster: `{rows, more, partial, warnings}`, worst first.
pub(super) fn report(which: Which, exec: &ExecOptions) -> Result<Value, Error> {
    let (mut rows, partial, warnings) = match which {
        Which::Analyze => {
            let options = AnalyzeOptions {
                input: Input::Cluster(exec.connect.clone()),
                all_namespaces: true,
                ..AnalyzeOptions::default()
            };
            let report = crate::analyze::analyze(&options)?.report;
            let rows: Vec<(Severity, Value)> = report
                .results
                .iter()
                .map(|f| {
                    let row = json!({"severity": f.severity, "kind": f.kind, "namespace": f.namespace, "name": f.name,
                        "reason": f.reason, "message": f.messages.first().unwrap_or(&f.summary), "hint": f.hint});
                    (f.severity, row)
                })
                .collect();
            (rows, report.partial, report.warnings.iter().map(|w| w.message.clone()).collect::<Vec<_>>())
        }
        Which::Audit => {
            let options = AuditOptions {
                input: AuditInput::Cluster(exec.connect.clone()),
                namespace: None,
                all_namespaces: true,
                selector: None,
                target: None,
                checks: crate::audit::Options::default(),
                severity: Severity::Info,
                scan_images: None,
            };
            let report = crate::audit::run(&options, &crate::progress::Quiet)?;
            let rows: Vec<(Severity, Value)> = report
                .findings
                .iter()
                .map(|f| {
                    let row = json!({"severity": f.severity, "check": f.check, "title": f.title, "kind": f.kind,
                        "namespace": f.namespace, "name": f.name, "message": f.message, "hint": f.remediation});
                    (f.severity, row)
                })
                .collect();
            (rows, report.partial, report.warnings.clone())
        }
    };
    rows.sort_by_key(|row| std::cmp::Reverse(row.0));
    let more = rows.len().saturating_sub(MAX_ROWS);
    let rows: Vec<Value> = rows.into_iter().take(MAX_ROWS).map(|(_, row)| row).collect();
    Ok(json!({"rows": rows, "more": more, "partial": partial, "warnings": warnings}))
}
