//! Image vulnerabilities with trivy (IMG-004): `trivy image --format json --quiet IMAGE`, once per
//! distinct image, a few at a time, each with a timeout. trivy exits 0 with or without
//! vulnerabilities, so the verdict comes from the JSON: `Results[].Vulnerabilities[]`; a report
//! without `Results` is a clean image.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::findings::Severity;

/// How to get trivy, for the one line printed when it is missing.
pub const INSTALL_HINT: &str = "trivy was not found on PATH: images were not scanned (install it: https://trivy.dev/latest/getting-started/installation/)";

/// trivy on PATH, if any.
pub fn find() -> Option<PathBuf> {
    which::which("trivy").ok()
}

/// One vulnerability of an image.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Vulnerability {
    /// The advisory (`CVE-2024-…`).
    pub id: String,
    /// The package affected.
    pub package: String,
    /// Its installed version.
    pub installed: String,
    /// The version that fixes it, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed: Option<String>,
    /// Its severity.
    pub severity: Severity,
    /// The advisory's title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// The scan of one image.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageScan {
    /// The image, as the pod spec names it.
    pub image: String,
    /// Counts by severity (`critical`, `high`, …).
    pub counts: BTreeMap<Severity, usize>,
    /// The worst first, at most `TOP` (all of them are counted).
    pub top: Vec<Vulnerability>,
    /// Why it was not scanned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Vulnerabilities listed per image in reports.
pub const TOP: usize = 5;

impl ImageScan {
    /// The worst severity found.
    pub fn worst(&self) -> Option<Severity> {
        self.counts.keys().next_back().copied()
    }

    /// Counts at or above `min`, as `2 critical, 1 high`.
    pub fn summary(&self, min: Severity) -> String {
        self.counts
            .iter()
            .rev()
            .filter(|(s, _)| **s >= min)
            .map(|(s, n)| format!("{n} {}", s.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Report {
    #[serde(default)]
    results: Vec<ResultEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ResultEntry {
    #[serde(default)]
    vulnerabilities: Option<Vec<RawVulnerability>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawVulnerability {
    #[serde(rename = "VulnerabilityID")]
    id: String,
    #[serde(default)]
    pkg_name: String,
    #[serde(default)]
    installed_version: String,
    #[serde(default)]
    fixed_version: Option<String>,
    #[serde(default)]
    severity: String,
    #[serde(default)]
    title: Option<String>,
}

fn severity(trivy: &str) -> Severity {
    match trivy {
        "CRITICAL" => Severity::Critical,
        "HIGH" => Severity::High,
        "MEDIUM" => Severity::Medium,
        "LOW" => Severity::Low,
        _ => Severity::Info,
    }
}

/// Reads one `trivy image --format json` report.
pub fn parse(image: &str, json: &str) -> Result<ImageScan, String> {
    let report: Report = serde_json::from_str(json).map_err(|e| format!("trivy printed no valid JSON report: {e}"))?;
    let mut all: Vec<Vulnerability> = report
        .results
        .into_iter()
        .flat_map(|r| r.vulnerabilities.unwrap_or_default())
        .map(|v| Vulnerability {
            id: v.id,
            package: v.pkg_name,
            installed: v.installed_version,
            fixed: v.fixed_version.filter(|f| !f.is_empty()),
            severity: severity(&v.severity),
            title: v.title,
        })
        .collect();
    all.sort_by(|a, b| {
        b.severity.cmp(&a.severity).then(b.fixed.is_some().cmp(&a.fixed.is_some())).then(a.id.cmp(&b.id))
    });
    all.dedup_by(|a, b| a.id == b.id && a.package == b.package);
    let mut counts = BTreeMap::new();
    for v in &all {
        *counts.entry(v.severity).or_insert(0) += 1;
    }
    all.truncate(TOP);
    Ok(ImageScan { image: image.to_string(), counts, top: all, error: None })
}

/// Scans every image, `parallel` at a time; an image that fails or times out carries its error.
pub fn scan(trivy: &Path, images: &[String], parallel: usize, timeout: Duration) -> Vec<ImageScan> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::with_capacity(images.len()));
    std::thread::scope(|s| {
        for _ in 0..parallel.clamp(1, images.len().max(1)) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(image) = images.get(i) else { break };
                    let scan = scan_one(trivy, image, timeout).unwrap_or_else(|error| ImageScan {
                        image: image.clone(),
                        counts: BTreeMap::new(),
                        top: Vec::new(),
                        error: Some(error),
                    });
                    results.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((i, scan));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, s)| s).collect()
}

fn scan_one(trivy: &Path, image: &str, timeout: Duration) -> Result<ImageScan, String> {
    let mut child = Command::new(trivy)
        .args(["image", "--format", "json", "--quiet", image])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("trivy could not be run: {e}"))?;
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let mut stderr = child.stderr.take().ok_or("no stderr")?;
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("the scan took longer than {}s and was stopped", timeout.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(e.to_string()),
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    if !status.success() {
        let why = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no message").trim().to_string();
        return Err(format!("trivy failed ({status}): {why}"));
    }
    parse(image, &stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_without_results_is_clean() {
        let scan = parse("alpine:3.9", r#"{"SchemaVersion": 2, "ArtifactName": "x"}"#).unwrap();
        assert!(scan.counts.is_empty() && scan.top.is_empty() && scan.worst().is_none());
    }

    #[test]
    fn vulnerabilities_are_counted_worst_first() {
        let json = r#"{"Results": [
            {"Target": "os", "Vulnerabilities": [
                {"VulnerabilityID": "CVE-1", "PkgName": "a", "InstalledVersion": "1", "FixedVersion": "2", "Severity": "MEDIUM"},
                {"VulnerabilityID": "CVE-2", "PkgName": "b", "InstalledVersion": "1", "Severity": "CRITICAL"}]},
            {"Target": "Ruby", "Vulnerabilities": null}]}"#;
        let scan = parse("x", json).unwrap();
        assert_eq!(scan.top[0].id, "CVE-2");
        assert_eq!(scan.worst(), Some(Severity::Critical));
        assert_eq!(scan.summary(Severity::Info), "1 critical, 1 medium");
        assert_eq!(scan.summary(Severity::High), "1 critical");
        assert!(parse("x", "not json").is_err());
    }
}
