//! Rule-based analyzers: they read a [`Snapshot`] and report [`Finding`]s, with no model involved.
//!
//! Each analyzer reports on one kind (its subject) and reads others as evidence; a live run fetches
//! exactly what the selected analyzers read. After they run, grouping makes each problem appear
//! once: identical failures of one owner's pods become one finding on the owner, and symptoms (a
//! Deployment short of replicas) are merged into the finding of their cause (its crashing pods).

mod analysis;
mod autoscaling;
mod events;
mod group;
mod index;
mod jobs;
pub(crate) mod logs;
mod network;
mod node;
mod pod;
mod quota;
mod references;
mod storage;
pub(crate) use storage::is_default as is_default_storage_class;
#[cfg(test)]
mod testkit;
mod webhooks;
mod workloads;

use std::collections::BTreeSet;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

pub use analysis::{Analysis, AnalyzeOptions, Input, analyze};
pub(crate) use index::{Index, Owner, OwnerLink, event_time};

use crate::cluster::Scope;
use crate::error::Error;
use crate::findings::{Finding, ObjectRef, Severity};
use crate::snapshot::{Kind, Snapshot};

/// What an analyzer sees.
pub(crate) struct Context<'a> {
    pub snapshot: &'a Snapshot,
    pub index: Index<'a>,
    /// The moment the snapshot describes; ages are measured from it.
    pub now: Timestamp,
    /// The Log analyzer is on: Pod findings carry error lines of their containers' logs.
    pub log_evidence: bool,
}

impl Context<'_> {
    /// How long ago `t` was, as of the snapshot.
    pub(crate) fn age(&self, t: Timestamp) -> SignedDuration {
        self.now.duration_since(t)
    }

    /// Warning events about an object, newest first, with their distinct messages.
    pub(crate) fn warning_messages(&self, kind: &str, meta: &ObjectMeta, reasons: &[&str]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for e in self.index.events(kind, meta) {
            let wanted = e.type_.as_deref() == Some("Warning")
                && (reasons.is_empty() || e.reason.as_deref().is_some_and(|r| reasons.contains(&r)));
            if let Some(m) = e.message.as_ref().filter(|m| wanted && !out.contains(m)) {
                out.push(m.trim().to_string());
            }
        }
        out
    }

    /// The owner chain of an object, as references.
    pub(crate) fn owners(&self, meta: &ObjectMeta) -> Vec<ObjectRef> {
        self.index.owner_chain(meta).into_iter().map(|l| l.reference).collect()
    }
}

/// What an analyzer is: the name `--filter` takes, what it reports on, what it reads.
#[derive(Debug)]
pub struct Info {
    /// The name `--analyzers` and `--list-analyzers` use.
    pub name: &'static str,
    /// One line for `--list-analyzers`.
    pub description: &'static str,
    /// The kind it reports on; the analyzer is skipped when the snapshot lacks it.
    pub subject: Kind,
    /// Other kinds it reads (events, owners…). Kinds it only uses when present (Secrets) are not here.
    pub evidence: &'static [Kind],
    /// In the default set. Analyzers that need extra permissions (reading Secrets) or add cost (logs)
    /// run only when asked for with `--filter`.
    pub default_enabled: bool,
}

/// One analyzer of the catalog.
pub(crate) trait Analyzer: Sync {
    fn info(&self) -> &'static Info;
    fn analyze(&self, cx: &Context<'_>, out: &mut Vec<Finding>);

    fn name(&self) -> &'static str {
        self.info().name
    }
    fn subject(&self) -> Kind {
        self.info().subject
    }
    fn evidence(&self) -> &'static [Kind] {
        self.info().evidence
    }
    fn default_enabled(&self) -> bool {
        self.info().default_enabled
    }
}

impl std::fmt::Debug for dyn Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The catalog, in reporting order.
pub(crate) static ANALYZERS: &[&dyn Analyzer] = &[
    &pod::PodAnalyzer,
    &workloads::DeploymentAnalyzer,
    &workloads::ReplicaSetAnalyzer,
    &workloads::StatefulSetAnalyzer,
    &workloads::DaemonSetAnalyzer,
    &jobs::JobAnalyzer,
    &jobs::CronJobAnalyzer,
    &network::ServiceAnalyzer,
    &network::IngressAnalyzer,
    &network::NetworkPolicyAnalyzer,
    &storage::ClaimAnalyzer,
    &storage::VolumeAnalyzer,
    &storage::StorageClassAnalyzer,
    &node::NodeAnalyzer,
    &autoscaling::HpaAnalyzer,
    &autoscaling::PdbAnalyzer,
    &webhooks::ValidatingWebhookAnalyzer,
    &webhooks::MutatingWebhookAnalyzer,
    &references::ConfigMapAnalyzer,
    &references::SecretAnalyzer,
    &quota::QuotaAnalyzer,
    &events::EventsAnalyzer,
    &pod::LogAnalyzer,
];

/// Which analyzers run: the default set (or exactly `only`), plus `enable`, minus `skip`. Names
/// are case-insensitive; the catalog's order is kept.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// Exactly these (the defaults when empty).
    pub only: Vec<String>,
    /// Added to the defaults (the optional analyzers: `Log`, `Secret`).
    pub enable: Vec<String>,
    /// Left out.
    pub skip: Vec<String>,
}

impl Selection {
    /// The analyzers of the catalog this selection names.
    pub(crate) fn resolve(&self) -> Result<Vec<&'static dyn Analyzer>, Error> {
        let known = || ANALYZERS.iter().map(|a| a.name()).collect::<Vec<_>>().join(", ");
        let named = |list: &[String], a: &dyn Analyzer| list.iter().any(|n| a.name().eq_ignore_ascii_case(n));
        for name in self.only.iter().chain(&self.enable).chain(&self.skip) {
            if !ANALYZERS.iter().any(|a| a.name().eq_ignore_ascii_case(name)) {
                return Err(Error::Usage(format!("unknown analyzer {name:?} (known: {})", known())));
            }
        }
        let picked: Vec<&'static dyn Analyzer> = ANALYZERS
            .iter()
            .copied()
            .filter(|a| match self.only.is_empty() {
                true => a.default_enabled() || named(&self.enable, *a),
                false => named(&self.only, *a) || named(&self.enable, *a),
            })
            .filter(|a| !named(&self.skip, *a))
            .collect();
        if picked.is_empty() {
            return Err(Error::Usage("the analyzers chosen leave none to run".to_string()));
        }
        Ok(picked)
    }
}

/// Every analyzer of the catalog, in reporting order (`--list-analyzers`).
pub fn catalog() -> impl Iterator<Item = &'static Info> {
    ANALYZERS.iter().map(|a| a.info())
}

impl Selection {
    /// The kinds a live run of these analyzers reads (across all namespaces).
    pub fn kinds_read(&self) -> Result<BTreeSet<Kind>, Error> {
        Ok(kinds_needed(&self.resolve()?))
    }
}

/// The default analyzers.
pub(crate) fn defaults() -> Vec<&'static dyn Analyzer> {
    ANALYZERS.iter().copied().filter(|a| a.default_enabled()).collect()
}

/// The analyzers that apply to a scope: cluster-scoped subjects (nodes, volumes, webhooks…) only
/// when all namespaces are analyzed, so that `-n shop` reports what concerns that namespace.
pub(crate) fn for_scope<'a>(analyzers: &[&'a dyn Analyzer], scope: &Scope) -> Vec<&'a dyn Analyzer> {
    analyzers.iter().copied().filter(|a| *scope == Scope::All || a.subject().namespaced()).collect()
}

/// The kinds the analyzers read, to fetch from a live cluster.
pub(crate) fn kinds_needed(analyzers: &[&dyn Analyzer]) -> BTreeSet<Kind> {
    analyzers.iter().flat_map(|a| std::iter::once(a.subject()).chain(a.evidence().iter().copied())).collect()
}

/// Whether the analyzers want log tails (the Log analyzer).
pub(crate) fn wants_logs(analyzers: &[&dyn Analyzer]) -> bool {
    analyzers.iter().any(|a| a.name() == pod::LogAnalyzer.name())
}

/// Runs the analyzers over the snapshot, makes each problem appear once, and sorts the findings:
/// namespace, then severity (worst first), kind, name.
pub(crate) fn run(snapshot: &Snapshot, analyzers: &[&dyn Analyzer]) -> Vec<Finding> {
    let cx = Context {
        snapshot,
        index: Index::new(snapshot),
        now: snapshot.info.captured_at,
        log_evidence: wants_logs(analyzers),
    };
    let mut out = Vec::new();
    let mut events = false;
    for analyzer in analyzers {
        if !snapshot.has(analyzer.subject()) {
            tracing::info!(
                "skipping the {} analyzer: the snapshot has no {}",
                analyzer.name(),
                analyzer.subject().plural()
            );
            continue;
        }
        if analyzer.name() == events::EventsAnalyzer.name() {
            events = true; // runs last: it reports what nothing else explains
            continue;
        }
        analyzer.analyze(&cx, &mut out);
    }
    let mut out = group::consolidate(&cx, out);
    if events {
        let unexplained = events::unexplained(&cx, &out);
        out.extend(unexplained);
    }
    crate::findings::sort(&mut out);
    out
}

/// One thing wrong with an object; a finding gathers an object's problems, worst first.
#[derive(Debug, Clone)]
pub(crate) struct Problem {
    pub severity: Severity,
    pub reason: String,
    pub summary: String,
    pub messages: Vec<String>,
    pub hint: String,
}

impl Problem {
    pub(crate) fn new(severity: Severity, reason: impl Into<String>, summary: impl Into<String>) -> Problem {
        Problem { severity, reason: reason.into(), summary: summary.into(), messages: Vec::new(), hint: String::new() }
    }

    pub(crate) fn messages(mut self, messages: impl IntoIterator<Item = String>) -> Problem {
        self.messages.extend(messages);
        self
    }

    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Problem {
        self.hint = hint.into();
        self
    }
}

/// One finding from an object's problems: the worst problem gives severity, reason and the start of
/// the summary; messages and hints are gathered without repeats.
pub(crate) fn combine(analyzer: &str, kind: &str, meta: &ObjectMeta, mut problems: Vec<Problem>) -> Option<Finding> {
    if problems.is_empty() {
        return None;
    }
    problems.sort_by_key(|p| std::cmp::Reverse(p.severity));
    let primary = &problems[0];
    let summary = problems.iter().map(|p| p.summary.as_str()).collect::<Vec<_>>().join("; ");
    let mut hints: Vec<&str> = Vec::new();
    for p in &problems {
        if !p.hint.is_empty() && !hints.contains(&p.hint.as_str()) {
            hints.push(&p.hint);
        }
    }
    let hint = hints.join(" ");
    let mut finding = Finding::on(analyzer, kind, meta, primary.severity, primary.reason.clone(), summary)
        .messages(problems.iter().flat_map(|p| p.messages.iter().cloned()))
        .hint(hint);
    if problems.len() > 1 {
        finding.problems = problems
            .iter()
            .map(|p| crate::findings::Problem {
                severity: p.severity,
                reason: p.reason.clone(),
                summary: p.summary.clone(),
            })
            .collect();
    }
    Some(finding)
}

/// `kubectl describe` of an object, for hints.
pub(crate) fn describe(kind: &str, meta: &ObjectMeta) -> String {
    match meta.namespace.as_deref() {
        Some(ns) => {
            format!("kubectl describe {} -n {ns} {}", kind.to_ascii_lowercase(), meta.name.as_deref().unwrap_or(""))
        }
        None => format!("kubectl describe {} {}", kind.to_ascii_lowercase(), meta.name.as_deref().unwrap_or("")),
    }
}

/// Whether a selector targets the pods of a workload scaled to zero: matching nothing is then intended.
pub(crate) fn targets_scaled_to_zero(
    cx: &Context<'_>,
    namespace: &str,
    selector: &crate::snapshot::LabelSelector,
) -> bool {
    let o = &cx.snapshot.objects;
    let zero = |replicas: Option<i32>| replicas == Some(0);
    let in_ns = |m: &ObjectMeta| m.namespace.as_deref() == Some(namespace);
    let deployments = o
        .deployments
        .iter()
        .filter(|d| in_ns(&d.metadata))
        .filter_map(|d| d.spec.as_ref())
        .filter(|s| zero(s.replicas))
        .map(|s| &s.template);
    let sets = o
        .stateful_sets
        .iter()
        .filter(|d| in_ns(&d.metadata))
        .filter_map(|d| d.spec.as_ref())
        .filter(|s| zero(s.replicas))
        .map(|s| &s.template);
    deployments.chain(sets).any(|t| selector.matches(t.metadata.as_ref().and_then(|m| m.labels.as_ref())))
}

/// A label selector the way `-l` takes it: `app=web,tier in (a,b)`.
pub(crate) fn selector_text(sel: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector) -> String {
    let mut parts: Vec<String> = sel.match_labels.iter().flatten().map(|(k, v)| format!("{k}={v}")).collect();
    for e in sel.match_expressions.iter().flatten() {
        let values = e.values.clone().unwrap_or_default().join(",");
        parts.push(match e.operator.as_str() {
            "In" => format!("{} in ({values})", e.key),
            "NotIn" => format!("{} notin ({values})", e.key),
            "Exists" => e.key.clone(),
            _ => format!("!{}", e.key),
        });
    }
    parts.join(",")
}

/// A condition of any Kubernetes status, seen through its common fields.
pub(crate) trait Condition {
    fn type_(&self) -> &str;
    fn status(&self) -> &str;
    fn reason(&self) -> Option<&str>;
    fn message(&self) -> Option<&str>;
}

macro_rules! condition {
    ($($ty:ty),* $(,)?) => {$(
        impl Condition for $ty {
            fn type_(&self) -> &str { &self.type_ }
            fn status(&self) -> &str { &self.status }
            fn reason(&self) -> Option<&str> { self.reason.as_deref() }
            fn message(&self) -> Option<&str> { self.message.as_deref() }
        }
    )*};
}

condition!(
    k8s_openapi::api::apps::v1::DeploymentCondition,
    k8s_openapi::api::apps::v1::ReplicaSetCondition,
    k8s_openapi::api::apps::v1::StatefulSetCondition,
    k8s_openapi::api::batch::v1::JobCondition,
    k8s_openapi::api::core::v1::NodeCondition,
    k8s_openapi::api::core::v1::PodCondition,
    k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerCondition,
    k8s_openapi::api::core::v1::PersistentVolumeClaimCondition,
);

/// The condition of a type, if present.
pub(crate) fn condition<'c, C: Condition>(conditions: Option<&'c Vec<C>>, type_: &str) -> Option<&'c C> {
    conditions.into_iter().flatten().find(|c| c.type_() == type_)
}

/// A condition of a type with a status.
pub(crate) fn condition_is<'c, C: Condition>(
    conditions: Option<&'c Vec<C>>,
    type_: &str,
    status: &str,
) -> Option<&'c C> {
    condition(conditions, type_).filter(|c| c.status() == status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection() {
        let select = |only: &[&str], enable: &[&str], skip: &[&str]| {
            let names = |l: &[&str]| l.iter().map(|s| s.to_string()).collect();
            Selection { only: names(only), enable: names(enable), skip: names(skip) }.resolve()
        };
        let defaults = select(&[], &[], &[]).unwrap();
        assert!(defaults.iter().all(|a| a.default_enabled()));
        assert_eq!(defaults.len(), super::defaults().len());
        assert!(!defaults.iter().any(|a| a.name() == "Secret" || a.name() == "Log"), "opt-in analyzers");
        assert_eq!(select(&["pod"], &[], &[]).unwrap()[0].name(), "Pod");
        assert_eq!(select(&["secret"], &[], &[]).unwrap()[0].name(), "Secret", "naming one enables opt-in ones");
        let with_log = select(&[], &["log"], &[]).unwrap();
        assert_eq!(with_log.len(), defaults.len() + 1, "enable adds to the defaults");
        assert_eq!(with_log.last().unwrap().name(), "Log");
        let err = select(&["nope"], &[], &[]).unwrap_err().to_string();
        assert!(err.starts_with("unknown analyzer \"nope\" (known: Pod, Deployment"), "{err}");
        assert!(select(&["Pod"], &[], &["Pod"]).is_err());
        assert!(select(&[], &["nope"], &[]).is_err() && select(&[], &[], &["nope"]).is_err());
        let names: Vec<&str> = ANALYZERS.iter().map(|a| a.name()).collect();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "analyzer names are unique");
    }

    #[test]
    fn cluster_scoped_analyzers_need_all_namespaces() {
        let all = defaults();
        let ns = for_scope(&all, &Scope::Namespace("shop".into()));
        assert!(ns.iter().all(|a| a.subject().namespaced()));
        assert!(!ns.iter().any(|a| a.name() == "Node"));
        assert_eq!(for_scope(&all, &Scope::All).len(), all.len());
    }
}
