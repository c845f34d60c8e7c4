//! The audit's findings and its report (`opsagent.dev/v1 AuditReport`).

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;

use super::Severity;
use crate::audit::Level;
use crate::audit::trivy::ImageScan;

/// Where an object was read from, for reports (`-f`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Source {
    /// The file, as given.
    pub file: String,
    /// The line its document starts on.
    pub line: usize,
}

/// One failed check on one object (and container).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditFinding {
    /// The check that failed (`POD-001`).
    pub check: &'static str,
    /// The check's title.
    pub title: &'static str,
    /// How bad it is (the check's severity, or the finding's own).
    pub severity: Severity,
    /// The object's kind.
    pub kind: String,
    /// Its namespace; absent when cluster-scoped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
    /// The container concerned, if one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// Where in the object, as a JSON path (`spec.template.spec.containers[0].securityContext`).
    pub path: String,
    /// What is wrong, in a sentence.
    pub message: String,
    /// How to fix it.
    pub remediation: &'static str,
    /// The equivalent checks of other tools (`pss:baseline/privileged`, `ksv:KSV-0017`, …).
    pub references: Vec<&'static str>,
    /// The file and line of a manifest (`-f`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
}

/// What was audited.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditSource {
    /// The kubeconfig context of a live audit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// The namespace audited; absent for all namespaces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The manifests audited (`-f`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    /// The snapshot audited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    /// The Pod Security Standards level, when only its controls ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<Level>,
}

/// Counts for a one-line summary, and the score.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditSummary {
    /// Objects audited.
    pub objects: usize,
    /// Findings reported.
    pub findings: usize,
    /// Findings by severity.
    pub by_severity: BTreeMap<Severity, usize>,
    /// 0–100: the weighted share of evaluated (check, object) pairs that passed.
    pub score: u8,
}

/// A file that could not be read or parsed (the others are still audited).
#[derive(Clone, Debug, Serialize)]
pub struct FileError {
    /// The file.
    pub file: String,
    /// The line, when the error has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// Why it could not be audited.
    pub message: String,
}

/// The result of `kubectl ai audit` (docs/audit.md).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditReport {
    /// `opsagent.dev/v1`.
    pub api_version: &'static str,
    /// `AuditReport`.
    pub kind: &'static str,
    /// When the audit ran.
    pub generated_at: Timestamp,
    /// What was audited.
    pub source: AuditSource,
    /// Counts and score.
    pub summary: AuditSummary,
    /// The findings, worst first.
    pub findings: Vec<AuditFinding>,
    /// The image scans (`--scan-images`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<ImageScan>,
    /// Something could not be read (a kind, a manifest, an image): the report is partial.
    #[serde(skip)]
    pub partial: bool,
    /// How many objects of each kind were read (the metrics of `--watch`).
    #[serde(skip)]
    pub read: BTreeMap<String, usize>,
    /// Manifests that could not be read.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FileError>,
    /// What could not be read or scanned, and checks left unexplained.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The model's remediation summary per check (`--explain`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub explanations: BTreeMap<String, String>,
}
