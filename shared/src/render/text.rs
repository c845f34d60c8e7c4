//! The human text report: findings grouped by namespace, worst first.

use std::io::{self, Write};

use anstyle::{AnsiColor, Effects, Style};

use super::{severity_counts, severity_style};
use crate::findings::{Finding, Report};

pub(super) fn report(out: &mut dyn Write, report: &Report) -> io::Result<()> {
    let bold = Style::new().effects(Effects::BOLD);
    let dim = Style::new().effects(Effects::DIMMED);
    let hint_style = AnsiColor::Green.on_default();
    let mut current: Option<(&Option<String>, &Option<String>)> = None;
    for f in &report.results {
        if current != Some((&f.cluster, &f.namespace)) {
            if current.is_some() {
                writeln!(out)?;
            }
            let cluster = f.cluster.as_ref().map(|c| format!("Cluster {c} · ")).unwrap_or_default();
            match &f.namespace {
                Some(ns) => writeln!(out, "{bold}{cluster}Namespace {ns}{bold:#}")?,
                None => writeln!(out, "{bold}{cluster}Cluster-scoped{bold:#}")?,
            }
            current = Some((&f.cluster, &f.namespace));
        }
        finding(out, f, dim, hint_style)?;
    }
    if !report.results.is_empty() {
        writeln!(out)?;
    }
    let scope = match (&report.source.namespace, report.source.clusters.as_slice()) {
        (_, [_, ..]) => format!("{} clusters", report.source.clusters.len()),
        (Some(ns), []) => format!("namespace {ns}"),
        (None, []) => "all namespaces".to_string(),
    };
    let partial =
        if report.partial { " Results are partial: some kinds could not be read (see warnings)." } else { "" };
    match report.summary.problems {
        0 => writeln!(out, "No problems found in {scope}.{partial}")?,
        n => writeln!(
            out,
            "{bold}{n} problem{} found{bold:#} in {scope}: {}.{partial}",
            if n == 1 { "" } else { "s" },
            severity_counts(report)
        )?,
    }
    Ok(())
}

fn finding(out: &mut dyn Write, f: &Finding, dim: Style, hint_style: Style) -> io::Result<()> {
    let sev = severity_style(f.severity);
    let parent = match &f.parent {
        Some(p) => format!(" {dim}({} {}){dim:#}", p.kind, p.name),
        None => String::new(),
    };
    writeln!(
        out,
        "  {sev}{:<8}{sev:#} {} {}{parent}  {sev}{}{sev:#}",
        f.severity.as_str().to_uppercase(),
        f.kind,
        f.name,
        f.reason
    )?;
    let indent = "           ";
    writeln!(out, "{indent}{}", f.summary)?;
    if !f.pods.is_empty() {
        writeln!(out, "{indent}pods: {}", list(&f.pods, 5))?;
    }
    for m in &f.messages {
        writeln!(out, "{indent}{dim}> {}{dim:#}", m.split_whitespace().collect::<Vec<_>>().join(" "))?;
    }
    for line in &f.logs {
        writeln!(out, "{indent}{dim}log| {line}{dim:#}")?;
    }
    writeln!(out, "{indent}{hint_style}hint:{hint_style:#} {}", f.hint)?;
    if let Some(e) = &f.explanation {
        let skin = termimad::MadSkin::default();
        let rendered = skin.text(&e.markdown(), Some(100)).to_string();
        writeln!(out, "{indent}{hint_style}explanation:{hint_style:#}")?;
        for line in rendered.lines() {
            writeln!(out, "{indent}  {line}")?;
        }
    }
    Ok(())
}

/// The first `n` items, then how many more.
fn list(items: &[String], n: usize) -> String {
    let shown = items.iter().take(n).cloned().collect::<Vec<_>>().join(", ");
    match items.len().saturating_sub(n) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}
