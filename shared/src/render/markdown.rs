//! The markdown report, for tickets and pull requests.

use std::io::{self, Write};

use super::severity_counts;
use crate::findings::Report;

pub(super) fn report(out: &mut dyn Write, report: &Report) -> io::Result<()> {
    writeln!(out, "# Cluster analysis\n")?;
    let mut facts = Vec::new();
    if let Some(ctx) = &report.source.context {
        facts.push(format!("context `{ctx}`"));
    }
    if !report.source.clusters.is_empty() {
        facts.push(format!(
            "contexts {}",
            report.source.clusters.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")
        ));
    }
    if let Some(file) = &report.source.snapshot {
        facts.push(format!("snapshot `{file}`"));
    }
    facts.push(match &report.source.namespace {
        Some(ns) => format!("namespace `{ns}`"),
        None => "all namespaces".to_string(),
    });
    facts.push(format!("captured {}", report.source.captured_at));
    writeln!(out, "{}\n", facts.join(" · "))?;
    match report.summary.problems {
        0 if report.nothing_analyzed() => writeln!(out, "**Nothing was analyzed.**\n")?,
        0 => writeln!(out, "**No problems found.**\n")?,
        n => writeln!(out, "**{n} problem{}**: {}.\n", if n == 1 { "" } else { "s" }, severity_counts(report))?,
    }
    if report.partial {
        writeln!(out, "{}", if report.nothing_analyzed() { "> Why:" } else { "> Results are partial:" })?;
        for w in &report.warnings {
            match &w.cluster {
                Some(c) => writeln!(out, "> - context `{c}`: {}", w.message)?,
                None => writeln!(out, "> - {}", w.message)?,
            }
        }
        writeln!(out)?;
    }
    // Worst first, whatever the namespace: one section per severity, each finding naming its place.
    let mut current = None;
    for f in &report.results {
        if current != Some(f.severity) {
            let n = report.summary.by_severity.get(&f.severity).copied().unwrap_or_default();
            writeln!(out, "## {} ({n})\n", f.severity.as_str().to_uppercase())?;
            current = Some(f.severity);
        }
        let object = match &f.cluster {
            Some(c) => format!("{c}:{}", f.object_name()),
            None => f.object_name(),
        };
        writeln!(out, "### {} `{object}` — {}\n", f.kind, super::reasons(f))?;
        if let Some(p) = &f.parent {
            writeln!(out, "Owner: {} `{}`\n", p.kind, p.name)?;
        }
        writeln!(out, "{}\n", f.summary)?;
        if !f.pods.is_empty() {
            writeln!(out, "Pods: {}\n", f.pods.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", "))?;
        }
        code_block(out, f.messages.iter().chain(&f.logs))?;
        writeln!(out, "**Hint:** {}\n", f.hint)?;
        if let Some(e) = &f.explanation {
            writeln!(out, "{}", e.markdown())?;
        }
    }
    Ok(())
}

/// Lines in a fenced block (none: no block); fences inside are defused.
fn code_block<'a>(out: &mut dyn Write, lines: impl Iterator<Item = &'a String>) -> io::Result<()> {
    let mut lines = lines.peekable();
    if lines.peek().is_none() {
        return Ok(());
    }
    writeln!(out, "```text")?;
    for line in lines {
        writeln!(out, "{}", line.replace("```", "'''"))?;
    }
    writeln!(out, "```\n")
}
