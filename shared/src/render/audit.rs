//! The audit report's renderings: text and markdown grouped by check (or one entry per object with
//! [`View::Details`]), JSON/YAML, and SARIF 2.1.0 for code scanning.

use std::io::{self, Write};

use anstyle::{AnsiColor, Effects, Style};
use serde_json::{Value, json};

use crate::audit::CHECKS;
use crate::findings::Severity;
use crate::findings::audit::{AuditFinding, AuditReport};
use crate::render::{Format, json, severity_style};

/// The check catalog (`--list-checks`): one line per check, or as JSON/YAML with remediations.
pub fn checks(out: &mut dyn Write, format: Format) -> io::Result<()> {
    let all: Vec<Value> = CHECKS
        .iter()
        .map(|c| {
            json!({"id": c.id, "severity": c.severity, "title": c.title, "podSecurityStandard": c.pss, "remediation": c.remediation})
        })
        .collect();
    match format {
        Format::Json | Format::Sarif => json(out, &all),
        Format::Yaml => out.write_all(serde_saphyr::to_string(&all).map_err(io::Error::other)?.as_bytes()),
        Format::Text | Format::Markdown => {
            for c in CHECKS {
                writeln!(out, "{:<9} {:<8}  {}", c.id, c.severity.as_str(), c.title)?;
            }
            Ok(())
        }
    }
}

/// How text and markdown present the findings (JSON, YAML and SARIF always list each one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// One entry per check and severity: how many objects, the first few, one fix.
    ByCheck,
    /// One entry per object and container, with what is wrong and where (`--details`).
    Details,
}

/// Writes the audit report in the chosen format.
pub fn render(out: &mut dyn Write, report: &AuditReport, format: Format, view: View) -> io::Result<()> {
    match (format, view) {
        (Format::Text, View::ByCheck) => text_by_check(out, report),
        (Format::Text, View::Details) => text(out, report),
        (Format::Markdown, view) => markdown(out, report, view),
        (Format::Json, _) => json(out, report),
        (Format::Sarif, _) => json(out, &sarif(report)),
        (Format::Yaml, _) => out.write_all(serde_saphyr::to_string(report).map_err(io::Error::other)?.as_bytes()),
    }
}

fn object(f: &AuditFinding) -> String {
    match &f.namespace {
        Some(ns) => format!("{} {ns}/{}", f.kind, f.name),
        None => format!("{} {}", f.kind, f.name),
    }
}

fn location(f: &AuditFinding) -> Option<String> {
    f.source.as_ref().map(|s| format!("{}:{}", s.file, s.line))
}

fn counts(report: &AuditReport) -> String {
    let parts: Vec<String> =
        report.summary.by_severity.iter().rev().map(|(s, n)| format!("{n} {}", s.as_str())).collect();
    parts.join(", ")
}

/// The findings of one check at one severity, in report order (worst first).
struct Group<'a> {
    check: &'static str,
    title: &'static str,
    severity: Severity,
    remediation: &'static str,
    findings: Vec<&'a AuditFinding>,
}

impl Group<'_> {
    /// The distinct objects, in order.
    fn objects(&self) -> Vec<String> {
        let mut objects: Vec<String> = Vec::new();
        for f in &self.findings {
            let o = object(f);
            if !objects.contains(&o) {
                objects.push(o);
            }
        }
        objects
    }

    /// `ClusterRole ci-deployer`, or `11 objects: Deployment shop/api, … and 8 more`.
    fn objects_text(&self, shown: usize) -> String {
        let objects = self.objects();
        match objects.as_slice() {
            [one] => {
                let mut containers: Vec<&str> = Vec::new();
                for c in self.findings.iter().filter_map(|f| f.container.as_deref()) {
                    if !containers.contains(&c) {
                        containers.push(c);
                    }
                }
                match containers.as_slice() {
                    [] => one.clone(),
                    [c] => format!("{one} · container {c}"),
                    all => format!("{one} · containers {}", all.join(", ")),
                }
            }
            all => {
                let first = all.iter().take(shown).cloned().collect::<Vec<_>>().join(", ");
                let more = all.len().saturating_sub(shown);
                let more = if more > 0 { format!(" and {more} more") } else { String::new() };
                format!("{} objects: {first}{more}", all.len())
            }
        }
    }
}

/// The findings grouped by check and severity, worst first, then by how many objects they touch.
fn groups(findings: &[AuditFinding]) -> Vec<Group<'_>> {
    let mut groups: Vec<Group<'_>> = Vec::new();
    for f in findings {
        match groups.iter_mut().find(|g| g.check == f.check && g.severity == f.severity) {
            Some(g) => g.findings.push(f),
            None => groups.push(Group {
                check: f.check,
                title: f.title,
                severity: f.severity,
                remediation: f.remediation,
                findings: vec![f],
            }),
        }
    }
    groups.sort_by_cached_key(|g| (std::cmp::Reverse(g.severity), std::cmp::Reverse(g.objects().len()), g.check));
    groups
}

/// Objects named in a group's line before "and N more".
const SHOWN: usize = 3;

/// Text, one check per entry: `SEVERITY  CHECK  title · objects`, then its fix (and the model's
/// remediation summary, with --explain).
fn text_by_check(out: &mut dyn Write, report: &AuditReport) -> io::Result<()> {
    let bold = Style::new().effects(Effects::BOLD);
    let dim = Style::new().effects(Effects::DIMMED);
    let green = AnsiColor::Green.on_default();
    for g in groups(&report.findings) {
        let style = severity_style(g.severity);
        writeln!(
            out,
            "{style}{:<9}{style:#}{bold}{:<9}{bold:#} {} · {}",
            g.severity.as_str().to_uppercase(),
            g.check,
            g.title,
            g.objects_text(SHOWN)
        )?;
        writeln!(out, "{:<19}{green}fix:{green:#} {}", "", g.remediation)?;
        if let Some(e) = report.explanations.get(g.check) {
            for line in e.lines() {
                writeln!(out, "{:<19}{dim}│{dim:#} {line}", "")?;
            }
        }
    }
    images_and_errors(out, report)?;
    score(out, report, " --details lists each object with what is wrong and where.")
}

fn text(out: &mut dyn Write, report: &AuditReport) -> io::Result<()> {
    let bold = Style::new().effects(Effects::BOLD);
    let dim = Style::new().effects(Effects::DIMMED);
    let green = AnsiColor::Green.on_default();
    let mut current = None;
    for f in &report.findings {
        if current != Some(f.severity) {
            if current.is_some() {
                writeln!(out)?;
            }
            let style = severity_style(f.severity);
            let n = report.summary.by_severity.get(&f.severity).copied().unwrap_or(0);
            writeln!(out, "{style}{} ({n}){style:#}", f.severity.as_str().to_uppercase())?;
            current = Some(f.severity);
        }
        let container = f.container.as_ref().map(|c| format!(" · container {c}")).unwrap_or_default();
        writeln!(out, "  {bold}{}{bold:#} {} — {}{container}", f.check, f.title, object(f))?;
        writeln!(out, "    {}", f.message)?;
        let at = location(f).map(|l| format!("{l} · ")).unwrap_or_default();
        writeln!(out, "    {dim}{at}{}{dim:#}", f.path)?;
        writeln!(out, "    {green}fix:{green:#} {}", f.remediation)?;
        if let Some(e) = report.explanations.get(f.check).filter(|_| is_first_of_check(report, f)) {
            for line in e.lines() {
                writeln!(out, "    {dim}│{dim:#} {line}")?;
            }
        }
    }
    images_and_errors(out, report)?;
    score(out, report, "")
}

/// The image scans and the manifests that could not be read, after the findings.
fn images_and_errors(out: &mut dyn Write, report: &AuditReport) -> io::Result<()> {
    let bold = Style::new().effects(Effects::BOLD);
    if !report.images.is_empty() {
        if !report.findings.is_empty() {
            writeln!(out)?;
        }
        writeln!(out, "{bold}Images{bold:#}")?;
        for scan in &report.images {
            match &scan.error {
                Some(e) => writeln!(out, "  {} — not scanned: {e}", scan.image)?,
                None if scan.counts.is_empty() => writeln!(out, "  {} — no known vulnerabilities", scan.image)?,
                None => {
                    writeln!(out, "  {} — {}", scan.image, scan.summary(Severity::Info))?;
                    for v in &scan.top {
                        let fixed = v
                            .fixed
                            .as_ref()
                            .map(|f| format!(", fixed in {f}"))
                            .unwrap_or_else(|| ", no fix yet".into());
                        writeln!(out, "    {} {} {} {}{fixed}", v.severity.as_str(), v.id, v.package, v.installed)?;
                    }
                }
            }
        }
    }
    for e in &report.errors {
        let line = e.line.map(|l| format!(":{l}")).unwrap_or_default();
        writeln!(out, "\n{}{line}: not audited: {}", e.file, e.message)?;
    }
    if !report.findings.is_empty() || !report.images.is_empty() {
        writeln!(out)?;
    }
    Ok(())
}

/// The closing line: score, counts, objects; `more` says how to see more, when there is more.
fn score(out: &mut dyn Write, report: &AuditReport, more: &str) -> io::Result<()> {
    let bold = Style::new().effects(Effects::BOLD);
    let s = &report.summary;
    let level = report
        .source
        .level
        .map(|l| format!(" (Pod Security Standards, level {l:?})").to_lowercase())
        .unwrap_or_default();
    match s.findings {
        0 => writeln!(out, "{bold}Score {}/100{bold:#} · no findings in {} object(s){level}.", s.score, s.objects),
        n => writeln!(
            out,
            "{bold}Score {}/100{bold:#} · {n} finding(s): {} in {} object(s){level}.{more}",
            s.score,
            counts(report),
            s.objects
        ),
    }
}

fn is_first_of_check(report: &AuditReport, f: &AuditFinding) -> bool {
    report.findings.iter().find(|g| g.check == f.check).is_some_and(|g| std::ptr::eq(g, f))
}

fn markdown(out: &mut dyn Write, report: &AuditReport, view: View) -> io::Result<()> {
    let s = &report.summary;
    writeln!(out, "# Security audit\n")?;
    writeln!(
        out,
        "**Score {}/100** · {} finding(s) in {} object(s){}\n",
        s.score,
        s.findings,
        s.objects,
        if s.findings > 0 { format!(": {}", counts(report)) } else { String::new() }
    )?;
    let cell = |t: &str| t.replace('|', "\\|").replace('\n', " ");
    if !report.findings.is_empty() && view == View::ByCheck {
        writeln!(out, "| Severity | Check | Objects | Fix |")?;
        writeln!(out, "|---|---|---|---|")?;
        for g in groups(&report.findings) {
            let objects = g.objects_text(10);
            writeln!(
                out,
                "| {} | {} {} | {} | {} |",
                g.severity.as_str(),
                g.check,
                cell(g.title),
                cell(&objects),
                cell(g.remediation)
            )?;
        }
    }
    if !report.findings.is_empty() && view == View::Details {
        writeln!(out, "| Severity | Check | Object | Container | Problem | Fix |")?;
        writeln!(out, "|---|---|---|---|---|---|")?;
        for f in &report.findings {
            let object = match location(f) {
                Some(l) => format!("{} (`{l}`)", object(f)),
                None => object(f),
            };
            writeln!(
                out,
                "| {} | {} {} | {} | {} | {} | {} |",
                f.severity.as_str(),
                f.check,
                cell(f.title),
                cell(&object),
                f.container.as_deref().map(cell).unwrap_or_default(),
                cell(&f.message),
                cell(f.remediation)
            )?;
        }
    }
    if !report.images.is_empty() {
        writeln!(out, "\n## Images\n")?;
        writeln!(out, "| Image | Vulnerabilities | Worst |")?;
        writeln!(out, "|---|---|---|")?;
        for scan in &report.images {
            let summary = match &scan.error {
                Some(e) => format!("not scanned: {e}"),
                None if scan.counts.is_empty() => "none known".into(),
                None => scan.summary(Severity::Info),
            };
            let worst = scan
                .top
                .first()
                .map(|v| {
                    format!(
                        "{} {}{}",
                        v.id,
                        v.package,
                        v.fixed.as_ref().map(|f| format!(" (fixed in {f})")).unwrap_or_default()
                    )
                })
                .unwrap_or_default();
            writeln!(out, "| `{}` | {summary} | {worst} |", scan.image)?;
        }
    }
    if !report.explanations.is_empty() {
        writeln!(out, "\n## Remediation notes\n")?;
        for (check, text) in &report.explanations {
            writeln!(out, "### {check}\n\n{text}\n")?;
        }
    }
    for e in &report.errors {
        writeln!(
            out,
            "\n> `{}`{}: not audited: {}",
            e.file,
            e.line.map(|l| format!(" line {l}")).unwrap_or_default(),
            e.message
        )?;
    }
    Ok(())
}

fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub's `security-severity` (CVSS-like, 0–10).
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "0.0",
    }
}

/// SARIF 2.1.0: one rule per check, one result per finding, with file and line for manifests.
pub fn sarif(report: &AuditReport) -> Value {
    let rules: Vec<Value> = CHECKS
        .iter()
        .map(|c| {
            json!({
                "id": c.id,
                "name": c.title,
                "shortDescription": {"text": c.title},
                "fullDescription": {"text": format!("{}. {}", c.title, c.remediation)},
                "help": {"text": c.remediation},
                "defaultConfiguration": {"level": sarif_level(c.severity)},
                "properties": {"security-severity": security_severity(c.severity), "tags": ["security", "kubernetes"]},
            })
        })
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let index = CHECKS.iter().position(|c| c.id == f.check).unwrap_or(0);
            let location = match &f.source {
                Some(s) => json!({
                    "physicalLocation": {"artifactLocation": {"uri": s.file}, "region": {"startLine": s.line.max(1)}},
                    "logicalLocations": [{"fullyQualifiedName": format!("{}/{}", object(f), f.path), "kind": "object"}],
                }),
                None => json!({"logicalLocations": [{"fullyQualifiedName": format!("{}/{}", object(f), f.path), "kind": "object"}]}),
            };
            json!({
                "ruleId": f.check,
                "ruleIndex": index,
                "level": sarif_level(f.severity),
                "message": {"text": format!("{}: {}", object(f), f.message)},
                "locations": [location],
                "partialFingerprints": {"opsagent/v1": format!("{}|{}|{}|{}", f.check, object(f), f.container.as_deref().unwrap_or(""), f.path)},
                "properties": {"severity": f.severity.as_str(), "references": f.references, "security-severity": security_severity(f.severity)},
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "kubectl-ai-audit",
                "informationUri": "https://github.com/opsagent/opsagent",
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(check: &'static str, severity: Severity, object: &str, container: Option<&str>) -> AuditFinding {
        let (kind, rest) = object.split_once(' ').unwrap();
        let (namespace, name) = match rest.split_once('/') {
            Some((ns, name)) => (Some(ns.to_string()), name.to_string()),
            None => (None, rest.to_string()),
        };
        AuditFinding {
            check,
            title: "t",
            severity,
            kind: kind.into(),
            namespace,
            name,
            container: container.map(str::to_string),
            path: String::new(),
            message: String::new(),
            remediation: "r",
            references: Vec::new(),
            source: None,
        }
    }

    #[test]
    fn findings_are_grouped_by_check_and_severity_worst_and_widest_first() {
        use Severity::*;
        type Row = (&'static str, Severity, &'static str, Option<&'static str>);
        let cases: &[(&[Row], &[&str])] = &[
            (
                &[
                    ("POD-001", High, "Deployment shop/api", Some("app")),
                    ("POD-001", High, "Deployment shop/api", Some("sidecar")),
                ],
                &["high POD-001 Deployment shop/api · containers app, sidecar"],
            ),
            (
                &[
                    ("POD-002", Medium, "Deployment shop/a", Some("app")),
                    ("POD-002", Medium, "Deployment shop/b", Some("app")),
                    ("POD-002", Medium, "Deployment shop/a", Some("init")),
                    ("POD-002", Medium, "StatefulSet shop/c", None),
                    ("POD-002", Medium, "DaemonSet kube-system/d", None),
                ],
                &["medium POD-002 4 objects: Deployment shop/a, Deployment shop/b, StatefulSet shop/c and 1 more"],
            ),
            (
                &[
                    ("RBAC-004", Critical, "ClusterRoleBinding ci", None),
                    ("POD-003", Low, "Pod shop/x", None),
                    ("POD-003", Low, "Pod shop/y", None),
                    ("POD-004", Low, "Pod shop/z", None),
                    ("RBAC-004", High, "RoleBinding shop/dev", None),
                ],
                &[
                    "critical RBAC-004 ClusterRoleBinding ci",
                    "high RBAC-004 RoleBinding shop/dev",
                    "low POD-003 2 objects: Pod shop/x, Pod shop/y",
                    "low POD-004 Pod shop/z",
                ],
            ),
            (&[], &[]),
        ];
        for (findings, want) in cases {
            let findings: Vec<AuditFinding> =
                findings.iter().map(|(c, s, o, container)| finding(c, *s, o, *container)).collect();
            let got: Vec<String> = groups(&findings)
                .iter()
                .map(|g| format!("{} {} {}", g.severity.as_str(), g.check, g.objects_text(SHOWN)))
                .collect();
            assert_eq!(got, *want);
        }
    }
}
