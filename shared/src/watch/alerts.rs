//! A finding seen as something that fires and resolves: one [`Alert`] per finding, identified by
//! what it is about (never by its wording), so that two runs can be compared.

use serde::{Deserialize, Serialize};

use crate::findings::audit::AuditReport;
use crate::findings::{Report, Severity};

/// Which plugin produced the findings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Plugin {
    /// `kubectl ai analyze`: what is broken.
    Analyze,
    /// `kubectl ai audit`: what is insecure or misconfigured.
    Audit,
}

impl Plugin {
    /// `analyze` or `audit`.
    pub fn as_str(self) -> &'static str {
        match self {
            Plugin::Analyze => "analyze",
            Plugin::Audit => "audit",
        }
    }

    /// The label naming the rule that found a finding: `analyzer` or `check`.
    pub fn rule_label(self) -> &'static str {
        match self {
            Plugin::Analyze => "analyzer",
            Plugin::Audit => "check",
        }
    }
}

/// One open finding, as notifications and metrics see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// The analyzer (`Pod`) or check (`POD-001`) that found it.
    pub rule: String,
    /// How bad it is.
    pub severity: Severity,
    /// The cluster: a context of several analyzed at once, or `--cluster-name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// The object's namespace; absent when cluster-scoped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The object's kind.
    pub kind: String,
    /// The object's name.
    pub name: String,
    /// The container concerned (audit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// The machine-readable cause (analyze: `CrashLoopBackOff`; audit: the check's title).
    pub reason: String,
    /// What is wrong, in a sentence, with the cluster's first message when there is one.
    pub message: String,
    /// What to do (analyze's hint, audit's remediation).
    pub hint: String,
}

impl Alert {
    /// What identifies the finding from one run to the next: the rule, the object, the container,
    /// the cause and the severity — not the wording, which may carry counts and times.
    pub fn key(&self) -> String {
        let parts = [
            self.rule.as_str(),
            self.severity.as_str(),
            self.cluster.as_deref().unwrap_or(""),
            self.namespace.as_deref().unwrap_or(""),
            self.kind.as_str(),
            self.name.as_str(),
            self.container.as_deref().unwrap_or(""),
            self.reason.as_str(),
        ];
        // The unit separator cannot occur in Kubernetes names or our rule names.
        parts.join("\u{1f}")
    }

    /// `Kind namespace/name` (and `[container]`), for one-line messages.
    pub fn object(&self) -> String {
        let mut s = match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        };
        if let Some(c) = &self.container {
            s.push_str(&format!(" [{c}]"));
        }
        s
    }
}

/// The findings of an analysis as alerts, at or above `min`; `cluster` names the cluster of
/// findings that do not carry their own.
pub fn from_analysis(report: &Report, min: Severity, cluster: Option<&str>) -> Vec<Alert> {
    report
        .results
        .iter()
        .filter(|f| f.severity >= min)
        .map(|f| {
            let message = match f.messages.first() {
                Some(m) if !f.summary.contains(m.as_str()) => format!("{} ({m})", f.summary),
                _ => f.summary.clone(),
            };
            Alert {
                rule: f.analyzer.clone(),
                severity: f.severity,
                cluster: f.cluster.clone().or_else(|| cluster.map(str::to_string)),
                namespace: f.namespace.clone(),
                kind: f.kind.clone(),
                name: f.name.clone(),
                container: None,
                reason: f.reason.clone(),
                message,
                hint: f.hint.clone(),
            }
        })
        .collect()
}

/// The findings of an audit as alerts, at or above `min`.
pub fn from_audit(report: &AuditReport, min: Severity, cluster: Option<&str>) -> Vec<Alert> {
    report
        .findings
        .iter()
        .filter(|f| f.severity >= min)
        .map(|f| Alert {
            rule: f.check.to_string(),
            severity: f.severity,
            cluster: cluster.map(str::to_string),
            namespace: f.namespace.clone(),
            kind: f.kind.clone(),
            name: f.name.clone(),
            container: f.container.clone(),
            reason: f.title.to_string(),
            message: f.message.clone(),
            hint: f.remediation.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(rule: &str, name: &str) -> Alert {
        Alert {
            rule: rule.into(),
            severity: Severity::High,
            cluster: None,
            namespace: Some("shop".into()),
            kind: "Pod".into(),
            name: name.into(),
            container: None,
            reason: "CrashLoopBackOff".into(),
            message: "restarted 5 times".into(),
            hint: "kubectl logs".into(),
        }
    }

    #[test]
    fn the_key_ignores_wording_but_not_identity() {
        let a = alert("Pod", "web-1");
        let mut reworded = a.clone();
        reworded.message = "restarted 6 times".into();
        reworded.hint = "other".into();
        assert_eq!(a.key(), reworded.key());
        for changed in [
            Alert { name: "web-2".into(), ..a.clone() },
            Alert { severity: Severity::Critical, ..a.clone() },
            Alert { namespace: None, ..a.clone() },
            Alert { container: Some("app".into()), ..a.clone() },
            Alert { reason: "OOMKilled".into(), ..a.clone() },
            Alert { cluster: Some("prod".into()), ..a.clone() },
        ] {
            assert_ne!(a.key(), changed.key(), "{changed:?}");
        }
    }

    #[test]
    fn objects_read_like_kubectl() {
        assert_eq!(alert("Pod", "web-1").object(), "Pod shop/web-1");
        let node = Alert { namespace: None, kind: "Node".into(), ..alert("Node", "n1") };
        assert_eq!(node.object(), "Node n1");
        let c = Alert { container: Some("app".into()), ..alert("POD-001", "web-1") };
        assert_eq!(c.object(), "Pod shop/web-1 [app]");
    }
}
