//! One in-memory model of cluster state that every analyzer reads.
//!
//! A snapshot is filled from the live API ([`crate::cluster::Cluster::snapshot`]) or from a file
//! ([`Snapshot::from_file`]), and can be written back out with [`Snapshot::write_dump`]. Secret values
//! never enter it: a Secret keeps its key names and metadata only.
//!
//! The file format is documented in docs/snapshot-format.md: Kubernetes objects as `kubectl get -o yaml`
//! prints them, plus two extension documents of `apiVersion: opsagent.dev/v1` — one `SnapshotInfo`
//! (when and where it was captured, which kinds are complete, what could not be read) and one
//! `ContainerLog` per log tail.

mod documents;
mod dump;
mod fetch;
mod kinds;
mod load;
mod selector;

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

pub(crate) use documents::each_document_in;
pub use documents::{Document, ParseError, looks_like_timestamp, newest_timestamp, parse_documents};
pub use fetch::FetchPlan;
pub use kinds::{Kind, Objects};

pub use load::read_log_dir;
pub use selector::LabelSelector;

/// The pod spec an object runs, as JSON: its own (Pod), its template's (workloads, Jobs), its job
/// template's (CronJob).
pub fn pod_spec_of(object: &serde_json::Value) -> Option<&serde_json::Value> {
    let spec = &object["spec"];
    [&spec["jobTemplate"]["spec"]["template"]["spec"], &spec["template"]["spec"], spec]
        .into_iter()
        .find(|s| s["containers"].is_array())
}

use crate::cluster::Scope;

/// Whether a plugin keeps an object it has read (its kind and metadata tell).
pub type Keep = fn(Kind, &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> bool;

/// Drops the fields of an object (as JSON, before it is typed) that a plugin does not read.
pub type Trim = fn(Kind, &mut serde_json::Value);

/// What a reader keeps of what it reads: the kinds a plugin reads, of those the objects `keep`
/// accepts, and of those the fields `trim` leaves. The rest is never typed, or dropped as soon as it is, so that a plugin holds only what
/// it reads (the audit never holds the pods and ReplicaSets a controller owns: it audits the
/// controller). The kinds a plain state file is taken to hold completely are still the kinds it
/// holds, kept or not.
#[derive(Clone, Copy, Debug)]
pub struct Intake {
    /// The kinds kept; `None` keeps every kind.
    pub kinds: Option<&'static [Kind]>,
    /// Which objects of those kinds are kept; `None` keeps them all.
    pub keep: Option<Keep>,
    /// What is dropped of each object kept; `None` keeps it whole.
    pub trim: Option<Trim>,
}

impl Intake {
    /// Everything a snapshot can hold.
    pub const ALL: Intake = Intake { kinds: None, keep: None, trim: None };

    fn wants(&self, kind: Kind) -> bool {
        self.kinds.is_none_or(|kinds| kinds.contains(&kind))
    }
}

/// The `apiVersion` of OpsAgent's extension documents.
pub const EXTENSION_API_VERSION: &str = "opsagent.dev/v1";
/// Annotation that carries a Secret's key names in a dump (its values are never written).
pub const SECRET_KEYS_ANNOTATION: &str = "opsagent.dev/secret-keys";
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Cluster state for the analyzers.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// The objects, by kind.
    pub objects: Objects,
    /// Log tails of failing containers (fetched for dumps and the log analyzer).
    pub logs: Vec<ContainerLog>,
    /// Where and when it was taken, and what is missing.
    pub info: SnapshotInfo,
    /// Objects of kinds a snapshot does not model (CRDs, other versions), counted by `apiVersion/kind`.
    pub skipped: BTreeMap<String, usize>,
}

/// Where and when a snapshot was taken, and how complete it is.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotInfo {
    /// The moment the state describes; analyzers measure ages from it.
    pub captured_at: Timestamp,
    /// The kubeconfig context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// The API server's URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The server's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
    /// The namespace it was restricted to; absent for all namespaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The label selector it was restricted to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// Kinds read completely (an empty list in a kind means "none exist", not "not read").
    #[serde(with = "kind_names")]
    pub kinds: BTreeSet<Kind>,
    /// What could not be read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
}

/// Something that could not be read; the results are partial.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// The kubeconfig context, when several clusters are analyzed at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// The kind concerned, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// A short machine-readable reason: `Forbidden`, `NotFound`, `Error`.
    pub reason: String,
    /// What could not be read, and why.
    pub message: String,
}

/// The tail of one container's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerLog {
    /// The pod's namespace.
    pub namespace: String,
    /// The pod.
    pub pod: String,
    /// The container.
    pub container: String,
    /// The previous (terminated) instance rather than the current one.
    pub previous: bool,
    /// The log lines.
    pub text: String,
}

impl ContainerLog {
    /// Reads a `ContainerLog` extension document.
    pub fn from_document(value: &serde_json::Value) -> Result<ContainerLog, String> {
        let field =
            |v: &serde_json::Value, what: &str| v.as_str().map(str::to_string).ok_or_else(|| format!("missing {what}"));
        Ok(ContainerLog {
            namespace: field(&value["metadata"]["namespace"], "metadata.namespace")?,
            pod: field(&value["metadata"]["name"], "metadata.name")?,
            container: field(&value["container"], "container")?,
            previous: value["previous"].as_bool().unwrap_or(false),
            text: field(&value["log"], "log")?,
        })
    }
}

impl Snapshot {
    /// True when the kind was read completely, so an absent object really is absent.
    pub fn has(&self, kind: Kind) -> bool {
        self.info.kinds.contains(&kind)
    }

    /// True when something could not be read.
    pub fn partial(&self) -> bool {
        !self.info.warnings.is_empty()
    }

    /// How many objects of each kind it holds (kinds it holds none of left out).
    pub fn counts(&self) -> std::collections::BTreeMap<String, usize> {
        Kind::ALL.iter().map(|k| (k.name().to_string(), self.objects.count(*k))).filter(|(_, n)| *n > 0).collect()
    }

    /// Whether it holds no object other than events and nodes (which say nothing of a scope:
    /// events outlive their objects, nodes belong to no namespace).
    pub fn is_empty(&self) -> bool {
        Kind::ALL.iter().filter(|k| !matches!(k, Kind::Event | Kind::Node)).all(|k| self.objects.count(*k) == 0)
    }

    /// The log tail of a container, if kept.
    pub fn log(&self, namespace: &str, pod: &str, container: &str, previous: bool) -> Option<&str> {
        self.logs
            .iter()
            .find(|l| l.namespace == namespace && l.pod == pod && l.container == container && l.previous == previous)
            .map(|l| l.text.as_str())
    }

    /// Keeps only what is inside the namespace scope and matches the label selector. The selector
    /// applies to namespaced kinds other than Events (events carry no labels of their object).
    pub fn restrict(&mut self, scope: &Scope, selector: Option<&LabelSelector>) {
        self.objects.retain(|kind, meta| {
            let ns = meta.namespace.as_deref();
            if kind.namespaced() && !scope.contains(ns.or(Some(""))) {
                return false;
            }
            match selector {
                Some(sel) if selector_applies(kind) => sel.matches(meta.labels.as_ref()),
                _ => true,
            }
        });
        if let Scope::Namespace(ns) = scope {
            self.logs.retain(|l| &l.namespace == ns);
            self.info.namespace = Some(ns.clone());
        }
    }

    /// Removes what must never be kept: Secret values, last-applied configurations (a Secret's holds
    /// its data), and managed fields (large, and of no use to an analyzer).
    pub(crate) fn scrub(&mut self) {
        for secret in &mut self.objects.secrets {
            let mut keys: BTreeSet<String> = secret.data.take().unwrap_or_default().into_keys().collect();
            keys.extend(secret.string_data.take().unwrap_or_default().into_keys());
            if let Some(listed) = secret.metadata.annotations.as_mut().and_then(|a| a.remove(SECRET_KEYS_ANNOTATION)) {
                keys.extend(listed.split(',').filter(|k| !k.is_empty()).map(str::to_string));
            }
            if !keys.is_empty() {
                let empty = k8s_openapi::ByteString(Vec::new());
                secret.data = Some(keys.into_iter().map(|k| (k, empty.clone())).collect());
            }
        }
        self.objects.for_each_meta_mut(|_, meta| {
            meta.managed_fields = None;
            if let Some(annotations) = &mut meta.annotations {
                annotations.remove(LAST_APPLIED);
                if annotations.is_empty() {
                    meta.annotations = None;
                }
            }
        });
    }
}

/// Drops an object's managed fields and last-applied configuration before it is typed: they are
/// often the larger part of an object, no analyzer reads them, and dropped only once typed they
/// would all be allocated first (and leave the heap fragmented when freed among what is kept).
pub(crate) fn lean(value: &mut serde_json::Value) {
    if let Some(meta) = value.get_mut("metadata").and_then(serde_json::Value::as_object_mut) {
        meta.remove("managedFields");
        if let Some(annotations) = meta.get_mut("annotations").and_then(serde_json::Value::as_object_mut) {
            annotations.remove(LAST_APPLIED);
        }
    }
}

/// Whether `-l` filters a kind (see [`Snapshot::restrict`]).
pub(crate) fn selector_applies(kind: Kind) -> bool {
    kind.namespaced() && kind != Kind::Event
}

mod kind_names {
    use super::Kind;
    use serde::{Deserialize, Deserializer, Serializer};
    use std::collections::BTreeSet;

    pub(super) fn serialize<S: Serializer>(kinds: &BTreeSet<Kind>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(kinds.iter().map(|k| k.name()))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeSet<Kind>, D::Error> {
        let names: Vec<String> = Vec::deserialize(d)?;
        names
            .iter()
            .map(|n| Kind::from_kind_name(n).ok_or_else(|| serde::de::Error::custom(format!("unknown kind {n:?}"))))
            .collect()
    }
}
