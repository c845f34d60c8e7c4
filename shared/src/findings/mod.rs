//! Findings and the versioned report every output format renders (docs/report-format.md).

pub mod audit;

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::snapshot::{Snapshot, Warning};

/// The report's `apiVersion`; bumped on any incompatible change of the JSON shape.
pub const REPORT_API_VERSION: &str = "opsagent.dev/v1";

/// How bad a finding is. Ordered: `Info < Low < Medium < High < Critical`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; nothing is broken.
    #[default]
    Info,
    /// A small risk or inefficiency.
    Low,
    /// Degraded, or a risk worth fixing soon.
    Medium,
    /// Broken for some users, or a serious risk.
    High,
    /// Down, or an open door.
    Critical,
}

impl Severity {
    /// Every severity, least severe first.
    pub const ALL: &'static [Severity] =
        &[Severity::Info, Severity::Low, Severity::Medium, Severity::High, Severity::Critical];

    /// The lowercase name the flags and reports use.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A reference to an object: kind, namespace (absent when cluster-scoped), name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectRef {
    /// The kind, as Kubernetes names it (`Deployment`).
    pub kind: String,
    /// Absent for cluster-scoped objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The name.
    pub name: String,
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {ns}/{}", self.kind, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// One problem found by an analyzer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// The kubeconfig context, when several clusters are analyzed at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// The analyzer that found it (`Pod`, …).
    pub analyzer: String,
    /// The kind of the object it is about.
    pub kind: String,
    /// Its namespace; absent when cluster-scoped.
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
    /// How bad it is.
    pub severity: Severity,
    /// A short machine-readable cause: `CrashLoopBackOff`, `Unschedulable`, `ImagePullBackOff`, …
    pub reason: String,
    /// One sentence in our words.
    pub summary: String,
    /// The cluster's own words, verbatim: status messages and event messages.
    pub messages: Vec<String>,
    /// What to do, deterministic, with a kubectl command where one fits.
    pub hint: String,
    /// The topmost owner (the object people manage, e.g. the Deployment), if any.
    pub parent: Option<ObjectRef>,
    /// The owner chain, nearest first (ReplicaSet, then Deployment).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owners: Vec<ObjectRef>,
    /// The pods of a finding that groups identical failures of one owner's pods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pods: Vec<String>,
    /// Log lines that look like errors (the Log analyzer), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<String>,
    /// Every problem of the object, worst first, when it has more than one (an Ingress whose backend
    /// Service and TLS Secret are both missing): `severity`, `reason` and `hint` above are the
    /// worst's and the others', `summary` joins their summaries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
    /// What the model says (`--explain`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanation: Option<crate::explain::Explanation>,
    /// A consequence of another problem (a Deployment short of replicas because its pods crash): merged
    /// into the finding of its cause when there is one, so a problem is reported once.
    #[serde(skip)]
    pub symptom: bool,
    /// For a symptom: other objects (a Service's pods) whose findings would explain it.
    #[serde(skip)]
    pub causes: Vec<ObjectRef>,
}

/// One of several problems of an object's finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// How bad this one is.
    pub severity: Severity,
    /// Its machine-readable cause.
    pub reason: String,
    /// One sentence in our words.
    pub summary: String,
}

impl Finding {
    /// A finding on an object, to be completed with messages, a hint and owners.
    pub(crate) fn on(
        analyzer: &str,
        kind: &str,
        meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
        severity: Severity,
        reason: impl Into<String>,
        summary: impl Into<String>,
    ) -> Finding {
        Finding {
            analyzer: analyzer.to_string(),
            kind: kind.to_string(),
            namespace: meta.namespace.clone(),
            name: meta.name.clone().unwrap_or_default(),
            severity,
            reason: reason.into(),
            summary: summary.into(),
            ..Finding::default()
        }
    }

    pub(crate) fn messages(mut self, messages: impl IntoIterator<Item = String>) -> Finding {
        for m in messages {
            if !m.is_empty() && !self.messages.contains(&m) {
                self.messages.push(m);
            }
        }
        self
    }

    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Finding {
        self.hint = hint.into();
        self
    }

    /// Sets the owner chain (nearest first); the parent is its last element.
    pub(crate) fn owned_by(mut self, owners: Vec<ObjectRef>) -> Finding {
        self.parent = owners.last().cloned();
        self.owners = owners;
        self
    }

    pub(crate) fn symptom(mut self) -> Finding {
        self.symptom = true;
        self
    }

    /// A symptom that findings on these objects would explain.
    pub(crate) fn caused_by(mut self, causes: Vec<ObjectRef>) -> Finding {
        self.symptom = true;
        self.causes = causes;
        self
    }

    /// `namespace/name`, or `name` when cluster-scoped.
    pub fn object_name(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{ns}/{}", self.name),
            None => self.name.clone(),
        }
    }

    /// The object it is about.
    pub fn object(&self) -> ObjectRef {
        ObjectRef { kind: self.kind.clone(), namespace: self.namespace.clone(), name: self.name.clone() }
    }
}

/// The order of findings everywhere (text, markdown, JSON): severity (worst first), then cluster,
/// namespace, kind, name, reason — so that the worst comes first whatever namespace it is in.
pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        (std::cmp::Reverse(a.severity), &a.cluster, &a.namespace, &a.kind, &a.name, &a.reason).cmp(&(
            std::cmp::Reverse(b.severity),
            &b.cluster,
            &b.namespace,
            &b.kind,
            &b.name,
            &b.reason,
        ))
    });
}

/// Where the analyzed state came from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportSource {
    /// The kubeconfig context read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// The API server's URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The snapshot file, when analyzing one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    /// The namespace analyzed; absent for all namespaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The moment the state describes.
    pub captured_at: Timestamp,
    /// The contexts analyzed together (`--context a,b`, `--all-contexts`); each result names its own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<String>,
    /// The label selector (`-l`), when one chose the objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// How many objects of each kind were analyzed (one cluster; absent when several are merged).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub objects: BTreeMap<String, usize>,
}

/// Counts for a one-line summary.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Findings reported.
    pub problems: usize,
    /// Findings by severity.
    pub by_severity: BTreeMap<Severity, usize>,
    /// The analyzers that ran.
    pub analyzers: Vec<String>,
}

/// The result of `kubectl ai analyze`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// `opsagent.dev/v1`.
    pub api_version: String,
    /// `AnalysisReport`.
    pub kind: String,
    /// Where the state came from.
    pub source: ReportSource,
    /// True when something could not be read: see `warnings`.
    pub partial: bool,
    /// Counts.
    pub summary: Summary,
    /// The findings, in the order of [`sort`].
    pub results: Vec<Finding>,
    /// What could not be read.
    pub warnings: Vec<Warning>,
}

impl Report {
    pub(crate) fn new(
        snapshot: &Snapshot,
        snapshot_file: Option<String>,
        analyzers: Vec<String>,
        results: Vec<Finding>,
    ) -> Self {
        let mut by_severity = BTreeMap::new();
        for f in &results {
            *by_severity.entry(f.severity).or_insert(0) += 1;
        }
        let info = &snapshot.info;
        Report {
            api_version: REPORT_API_VERSION.to_string(),
            kind: "AnalysisReport".to_string(),
            source: ReportSource {
                context: info.context.clone(),
                server: info.server.clone(),
                snapshot: snapshot_file,
                namespace: info.namespace.clone(),
                captured_at: info.captured_at,
                clusters: Vec::new(),
                selector: info.selector.clone(),
                objects: snapshot.counts(),
            },
            partial: snapshot.partial(),
            summary: Summary { problems: results.len(), by_severity, analyzers },
            results,
            warnings: info.warnings.clone(),
        }
    }

    /// Whether nothing was analyzed: the scope matched no object, or its namespace does not exist
    /// (the report's warnings say which).
    pub fn nothing_analyzed(&self) -> bool {
        !self.warnings.is_empty()
            && self
                .warnings
                .iter()
                .all(|w| w.reason == "Empty" || (w.reason == "NotFound" && w.kind.as_deref() == Some("Namespace")))
    }

    /// One report for several clusters: results and warnings carry their cluster; `extra` are the
    /// warnings of clusters that could not be read at all.
    pub(crate) fn merge(reports: Vec<(String, Report)>, extra: Vec<Warning>) -> Report {
        let mut clusters = Vec::new();
        let mut results = Vec::new();
        let mut warnings = Vec::new();
        let mut analyzers: Vec<String> = Vec::new();
        let mut captured_at = Timestamp::UNIX_EPOCH;
        for (cluster, report) in reports {
            captured_at = captured_at.max(report.source.captured_at);
            for a in report.summary.analyzers {
                if !analyzers.contains(&a) {
                    analyzers.push(a);
                }
            }
            results.extend(report.results.into_iter().map(|f| Finding { cluster: Some(cluster.clone()), ..f }));
            warnings.extend(report.warnings.into_iter().map(|w| Warning { cluster: Some(cluster.clone()), ..w }));
            clusters.push(cluster);
        }
        warnings.extend(extra);
        sort(&mut results);
        let mut by_severity = BTreeMap::new();
        for f in &results {
            *by_severity.entry(f.severity).or_insert(0) += 1;
        }
        Report {
            api_version: REPORT_API_VERSION.to_string(),
            kind: "AnalysisReport".to_string(),
            source: ReportSource { captured_at, clusters, ..ReportSource::default() },
            partial: !warnings.is_empty(),
            summary: Summary { problems: results.len(), by_severity, analyzers },
            results,
            warnings,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_comes_before_namespace() {
        let f = |cluster: Option<&str>, ns: Option<&str>, name: &str, severity| Finding {
            cluster: cluster.map(str::to_string),
            namespace: ns.map(str::to_string),
            kind: "Pod".into(),
            name: name.into(),
            severity,
            ..Finding::default()
        };
        let mut findings = vec![
            f(None, Some("a-default"), "low", Severity::Low),
            f(None, Some("z-prod"), "critical", Severity::Critical),
            f(None, None, "node", Severity::High),
            f(None, Some("a-default"), "high", Severity::High),
            f(Some("west"), Some("a"), "west-critical", Severity::Critical),
            f(Some("east"), Some("z"), "east-critical", Severity::Critical),
        ];
        sort(&mut findings);
        let names: Vec<&str> = findings.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["critical", "east-critical", "west-critical", "node", "high", "low"]);
    }
}
