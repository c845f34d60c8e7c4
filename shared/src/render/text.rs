//! The human text report: findings worst first, whatever their namespace. A report of one
//! namespace names it once above its findings; otherwise each finding names its namespace (and
//! cluster). More than a screenful starts with the summary line too.

use std::io::{self, Write};

use anstyle::{AnsiColor, Effects, Style};

use super::{severity_counts, severity_style};
use crate::findings::{Finding, Report};

/// Lines past which the summary is also printed first.
const SCREENFUL: usize = 40;

pub(super) fn report(out: &mut dyn Write, report: &Report) -> io::Result<()> {
    let bold = Style::new().effects(Effects::BOLD);
    let dim = Style::new().effects(Effects::DIMMED);
    let hint_style = AnsiColor::Green.on_default();
    let mut body = Vec::new();
    let places: Vec<(&Option<String>, &Option<String>)> = {
        let mut p: Vec<_> = report.results.iter().map(|f| (&f.cluster, &f.namespace)).collect();
        p.sort();
        p.dedup();
        p
    };
    let one_place = places.len() == 1;
    if let [(cluster, namespace)] = places.as_slice() {
        let cluster = cluster.as_ref().map(|c| format!("Cluster {c} · ")).unwrap_or_default();
        match namespace {
            Some(ns) => writeln!(body, "{bold}{cluster}Namespace {ns}{bold:#}")?,
            None => writeln!(body, "{bold}{cluster}Cluster-scoped{bold:#}")?,
        }
    }
    for f in &report.results {
        finding(&mut body, f, !one_place, dim, hint_style)?;
    }
    if !report.results.is_empty() {
        writeln!(body)?;
    }
    let summary = summary(report, bold);
    if body.iter().filter(|b| **b == b'\n').count() > SCREENFUL {
        writeln!(out, "{summary}\n")?;
    }
    out.write_all(&body)?;
    writeln!(out, "{summary}")
}

/// The closing line: how many problems of each severity, where.
fn summary(report: &Report, bold: Style) -> String {
    let scope = match (&report.source.namespace, report.source.clusters.as_slice()) {
        (_, [_, ..]) => format!("{} clusters", report.source.clusters.len()),
        (Some(ns), []) => format!("namespace {ns}"),
        (None, []) => "all namespaces".to_string(),
    };
    let partial =
        if report.partial { " Results are partial: some kinds could not be read (see warnings)." } else { "" };
    match report.summary.problems {
        0 if report.nothing_analyzed() => format!("Nothing was analyzed in {scope} (see the warning)."),
        0 => format!("No problems found in {scope}.{partial}"),
        n => format!(
            "{bold}{n} problem{} found{bold:#} in {scope}: {}.{partial}",
            if n == 1 { "" } else { "s" },
            severity_counts(report)
        ),
    }
}

/// One finding; `placed` names its namespace (and cluster) with the object.
fn finding(out: &mut dyn Write, f: &Finding, placed: bool, dim: Style, hint_style: Style) -> io::Result<()> {
    let sev = severity_style(f.severity);
    let name = match (placed, &f.cluster) {
        (false, _) => f.name.clone(),
        (true, Some(c)) => format!("{c}:{}", f.object_name()),
        (true, None) => f.object_name(),
    };
    let parent = match &f.parent {
        Some(p) => format!(" {dim}({} {}){dim:#}", p.kind, p.name),
        None => String::new(),
    };
    writeln!(
        out,
        "  {sev}{:<8}{sev:#} {} {}{parent}  {sev}{}{sev:#}",
        f.severity.as_str().to_uppercase(),
        f.kind,
        name,
        super::reasons(f)
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
