//! Rendering reports: text for people (colored on a terminal), markdown, JSON and YAML.

pub mod answers;
pub mod audit;
pub mod dryrun;
mod markdown;
mod text;
pub mod usage;

use std::io::{self, Write};

use jiff::SignedDuration;

use crate::findings::{Report, Severity};

/// The formats of everything the plugins print. Each plugin offers those that fit what it prints
/// (SARIF is for the audit, YAML and markdown for reports).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// Text for people, colored on a terminal.
    #[default]
    Text,
    /// JSON: the versioned report, or the answer with its steps.
    Json,
    /// The same as JSON, in YAML.
    Yaml,
    /// Markdown, for tickets and pull requests.
    Markdown,
    /// SARIF 2.1.0, for code scanning.
    Sarif,
}

impl Format {
    /// The name `-o` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
            Format::Yaml => "yaml",
            Format::Markdown => "markdown",
            Format::Sarif => "sarif",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Writes the report in the chosen format. Text and markdown write ANSI styles; give them an
/// `anstream` stream so styles are dropped where colors are off.
pub fn report(out: &mut dyn Write, report: &Report, format: Format) -> io::Result<()> {
    match format {
        Format::Text => text::report(out, report),
        Format::Markdown => markdown::report(out, report),
        Format::Json | Format::Sarif => json(out, report),
        Format::Yaml => {
            let text = serde_saphyr::to_string(report).map_err(io::Error::other)?;
            out.write_all(text.as_bytes())
        }
    }
}

/// Manifests as YAML (as they were checked) or JSON (the object, or a `List` of several).
pub fn manifests(
    out: &mut dyn Write,
    yaml: &str,
    documents: &[crate::snapshot::Document],
    format: Format,
) -> io::Result<()> {
    match format {
        Format::Json => match documents {
            [one] => json(out, &one.value),
            many => {
                let items: Vec<&serde_json::Value> = many.iter().map(|d| &d.value).collect();
                json(out, &serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}))
            }
        },
        _ => out.write_all(yaml.as_bytes()),
    }
}

/// Pretty JSON and a newline. Serialized first, then written: an I/O error (a closed pipe) stays an
/// I/O error.
/// Pretty JSON, written as it is serialized: a large report is never held a second time as text.
pub(crate) fn json(out: &mut dyn Write, value: &impl serde::Serialize) -> io::Result<()> {
    let mut out = io::BufWriter::with_capacity(64 * 1024, out);
    // An I/O error (a closed pipe) keeps its kind through serde_json's error.
    serde_json::to_writer_pretty(&mut out, value).map_err(io::Error::from)?;
    out.write_all(b"\n")?;
    out.flush()
}

pub(crate) fn severity_style(s: Severity) -> anstyle::Style {
    use anstyle::{AnsiColor, Effects};
    match s {
        Severity::Critical => AnsiColor::BrightRed.on_default().effects(Effects::BOLD),
        Severity::High => AnsiColor::Red.on_default().effects(Effects::BOLD),
        Severity::Medium => AnsiColor::Yellow.on_default(),
        Severity::Low => AnsiColor::Cyan.on_default(),
        Severity::Info => anstyle::Style::new().effects(Effects::DIMMED),
    }
}

/// A finding's reason, or each of its problems' reasons when it has several:
/// `MissingBackendService, MissingTLSSecret`.
pub(crate) fn reasons(f: &crate::findings::Finding) -> String {
    if f.problems.is_empty() {
        return f.reason.clone();
    }
    let mut reasons: Vec<&str> = Vec::new();
    for p in &f.problems {
        if !reasons.contains(&p.reason.as_str()) {
            reasons.push(&p.reason);
        }
    }
    reasons.join(", ")
}

/// "3 high, 1 low", worst first.
pub(crate) fn severity_counts(report: &Report) -> String {
    report.summary.by_severity.iter().rev().map(|(s, n)| format!("{n} {}", s.as_str())).collect::<Vec<_>>().join(", ")
}

/// A duration the way kubectl prints ages: `45s`, `3m12s`, `15m`, `5h30m`, `3d4h`, `400d`, `2y10d`.
pub fn human_duration(d: SignedDuration) -> String {
    let secs = d.as_secs();
    if secs < -1 {
        return "<invalid>".to_string();
    }
    if secs < 0 {
        return "0s".to_string();
    }
    if secs < 60 * 2 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        let s = secs % 60;
        return if s == 0 { format!("{minutes}m") } else { format!("{minutes}m{s}s") };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 { format!("{hours}h") } else { format!("{hours}h{m}m") };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 { format!("{}d", hours / 24) } else { format!("{}d{h}h", hours / 24) };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 { format!("{}y", hours / 24 / 365) } else { format!("{}y{dy}d", hours / 24 / 365) };
    }
    format!("{}y", hours / 24 / 365)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_like_kubectl() {
        let cases: &[(i64, &str)] = &[
            (-5, "<invalid>"),
            (0, "0s"),
            (119, "119s"),
            (120, "2m"),
            (192, "3m12s"),
            (600, "10m"),
            (179 * 60, "179m"),
            (3 * 3600, "3h"),
            (5 * 3600 + 30 * 60, "5h30m"),
            (47 * 3600, "47h"),
            (3 * 86400 + 4 * 3600, "3d4h"),
            (400 * 86400, "400d"),
            (3 * 365 * 86400 + 10 * 86400, "3y10d"),
            (9 * 365 * 86400, "9y"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(SignedDuration::from_secs(*secs)), *want, "{secs}");
        }
    }
}
