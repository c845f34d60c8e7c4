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
    pub file: String,
    pub line: usize,
}

/// One failed check on one object (and container).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditFinding {
    pub check: &'static str,
    pub title: &'static str,
    pub severity: Severity,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// Where in the object, as a JSON path (`spec.template.spec.containers[0].securityContext`).
    pub path: String,
    pub message: String,
    pub remediation: &'static str,
    /// The equivalent checks of other tools (`pss:baseline/privileged`, `ksv:KSV-0017`, …).
    pub references: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
}

/// What was audited.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditSource {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<Level>,
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditSummary {
    pub objects: usize,
    pub findings: usize,
    pub by_severity: BTreeMap<Severity, usize>,
    /// 0–100: the weighted share of evaluated (check, object) pairs that passed.
    pub score: u8,
}

/// A file that could not be read or parsed (the others are still audited).
#[derive(Clone, Debug, Serialize)]
pub struct FileError {
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub message: String,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditReport {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub generated_at: Timestamp,
    pub source: AuditSource,
    pub summary: AuditSummary,
    pub findings: Vec<AuditFinding>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<ImageScan>,
    /// Something could not be read (a kind, a manifest, an image): the report is partial.
    #[serde(skip)]
    pub partial: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FileError>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The model's remediation summary per check (`--explain`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub explanations: BTreeMap<String, String>,
}
