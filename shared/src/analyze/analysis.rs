//! The `analyze` verb: read a cluster (or several, or a saved state), run the chosen analyzers, and
//! return the report with the snapshots it was built from.

use std::path::PathBuf;

use super::{Analyzer, Selection};
use crate::cluster::{Cluster, ConnectOptions, Scope};
use crate::error::Error;
use crate::findings::Report;
use crate::snapshot::LabelSelector;
use crate::snapshot::{FetchPlan, Intake, Kind, Snapshot, Warning};

/// Where the state to analyze comes from.
#[derive(Clone, Debug)]
pub enum Input {
    /// The cluster of one kubeconfig context.
    Cluster(ConnectOptions),
    /// Several contexts of one kubeconfig, read concurrently into one report; `None` is every
    /// context the kubeconfig defines. `connect.context` is ignored.
    Clusters {
        /// The kubeconfig and the request timeout.
        connect: ConnectOptions,
        /// The contexts to read.
        contexts: Option<Vec<String>>,
    },
    /// A saved state: a `--dump`, `kubectl get … -o yaml|json` output, or a directory of them.
    Snapshot(PathBuf),
    /// The same, read from this process's standard input as it streams in (never held whole).
    SnapshotStdin,
    /// The same, already read: its name for messages, and its text.
    SnapshotText {
        /// What it is called in messages (`stdin`).
        name: String,
        /// The text.
        text: String,
    },
}

impl Default for Input {
    fn default() -> Self {
        Input::Cluster(ConnectOptions::default())
    }
}

/// What to analyze, and how.
#[derive(Clone, Debug)]
pub struct AnalyzeOptions {
    /// Where the state comes from.
    pub input: Input,
    /// `-n`: the namespace (default: the context's, or every namespace of a snapshot).
    pub namespace: Option<String>,
    /// `-A`.
    pub all_namespaces: bool,
    /// `-l`: only objects with these labels (namespaced kinds other than events).
    pub selector: Option<String>,
    /// Which analyzers run.
    pub analyzers: Selection,
    /// Log lines kept per failing container (for a dump and the Log analyzer).
    pub log_lines: i64,
    /// API requests in flight at once.
    pub max_concurrency: usize,
    /// Also write what was read to this file (one cluster only).
    pub dump: Option<PathBuf>,
    /// Keep every field of every object read, for what shows whole objects (an explanation: the
    /// snapshots returned). Otherwise what no analyzer reads is dropped as it is read (see
    /// [`INTAKE`]). A dump always keeps them.
    pub whole_objects: bool,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        AnalyzeOptions {
            input: Input::default(),
            namespace: None,
            all_namespaces: false,
            selector: None,
            analyzers: Selection::default(),
            log_lines: 50,
            max_concurrency: 10,
            dump: None,
            whole_objects: true,
        }
    }
}

/// The outcome: the report, and the state each cluster's part of it was built from (what an
/// explanation reads).
#[derive(Clone, Debug)]
pub struct Analysis {
    /// The findings, and where they come from.
    pub report: Report,
    /// The state of each cluster read.
    pub snapshots: Vec<Snapshot>,
}

/// Runs an analysis. A cluster that cannot be used at all is an error; kinds that cannot be read
/// are warnings in the report (`report.partial`).
pub fn analyze(options: &AnalyzeOptions) -> Result<Analysis, Error> {
    let analyzers = options.analyzers.resolve()?;
    let selector = options.selector.as_deref().map(LabelSelector::parse).transpose().map_err(Error::Usage)?;
    if options.dump.as_deref().is_some_and(|p| p.as_os_str() == "-") {
        return Err(Error::Usage("--dump needs a file name (stdout carries the report)".into()));
    }
    match &options.input {
        Input::Clusters { connect, contexts } => {
            let contexts = match contexts {
                Some(names) => names.clone(),
                None => Cluster::contexts(connect.kubeconfig.as_deref())?,
            };
            analyze_clusters(options, &analyzers, selector.as_ref(), connect, contexts)
        }
        _ => analyze_one(options, &analyzers, selector.as_ref()),
    }
}

/// One cluster, live or from a snapshot; `dump` writes what was read.
fn analyze_one(
    options: &AnalyzeOptions,
    analyzers: &[&'static dyn Analyzer],
    selector: Option<&LabelSelector>,
) -> Result<Analysis, Error> {
    // A saved state holds what it holds: every namespace unless one is named.
    let saved = |mut snapshot: Snapshot, file: String| {
        let scope = match &options.namespace {
            Some(ns) if !options.all_namespaces => Scope::Namespace(ns.clone()),
            _ => Scope::All,
        };
        snapshot.restrict(&scope, selector);
        (snapshot, super::for_scope(analyzers, &scope), Some(file))
    };
    let (mut snapshot, analyzers, file) = match &options.input {
        Input::Cluster(connect) => {
            let cluster = Cluster::connect(connect)?;
            let scope = cluster.scope(options.namespace.as_deref(), options.all_namespaces);
            let analyzers = super::for_scope(analyzers, &scope);
            let plan = plan(options, &analyzers, scope.clone());
            let mut snapshot = cluster.snapshot(&plan)?;
            snapshot.restrict(&scope, selector);
            // An empty namespace and a namespace that does not exist read alike: ask.
            if let Scope::Namespace(ns) = &scope
                && snapshot.is_empty()
                && let Ok(None) = cluster.get_json(&format!("/api/v1/namespaces/{ns}"))
            {
                snapshot.info.warnings.push(Warning {
                    cluster: None,
                    kind: Some("Namespace".into()),
                    reason: "NotFound".into(),
                    message: format!(
                        "namespace {ns:?} not found: nothing was analyzed (kubectl get namespaces lists them)"
                    ),
                });
            }
            (snapshot, analyzers, None)
        }
        Input::Snapshot(path) => saved(Snapshot::from_file_keeping(path, intake(options))?, path.display().to_string()),
        Input::SnapshotText { name, text } => {
            saved(Snapshot::from_text_keeping(name, text, intake(options))?, name.clone())
        }
        Input::SnapshotStdin => {
            saved(Snapshot::from_reader_keeping("stdin", std::io::stdin().lock(), intake(options))?, "stdin".into())
        }
        Input::Clusters { .. } => return Err(Error::Usage("several contexts make several snapshots".into())),
    };
    snapshot.info.selector = options.selector.clone().or(snapshot.info.selector.take());
    empty_scope(&mut snapshot);
    if let Some(path) = &options.dump {
        snapshot.write_dump(path)?;
    }
    let results = super::run(&snapshot, &analyzers);
    let names = analyzers.iter().map(|a| a.name().to_string()).collect();
    let report = Report::new(&snapshot, file, names, results);
    Ok(Analysis { report, snapshots: vec![snapshot] })
}

/// Several contexts, read concurrently and merged; a context that cannot be read is a warning.
fn analyze_clusters(
    options: &AnalyzeOptions,
    analyzers: &[&'static dyn Analyzer],
    selector: Option<&LabelSelector>,
    connect: &ConnectOptions,
    contexts: Vec<String>,
) -> Result<Analysis, Error> {
    if options.dump.is_some() {
        return Err(Error::Usage("--dump writes one cluster: give a single --context".into()));
    }
    if contexts.is_empty() {
        return Err(Error::kubeconfig("the kubeconfig defines no context"));
    }
    let unreachable = |cluster: &str, err: &Error| Warning {
        cluster: Some(cluster.to_string()),
        kind: None,
        reason: "Unreachable".into(),
        message: err.to_string(),
    };
    let mut failed = Vec::new();
    let mut targets = Vec::new();
    for name in contexts {
        let one = ConnectOptions { context: Some(name.clone()), ..connect.clone() };
        match Cluster::connect(&one) {
            Ok(cluster) => {
                let scope = cluster.scope(options.namespace.as_deref(), options.all_namespaces);
                let chosen = super::for_scope(analyzers, &scope);
                let plan = plan(options, &chosen, scope.clone());
                targets.push((name, cluster, plan, chosen, scope));
            }
            Err(err) => failed.push(unreachable(&name, &err)),
        }
    }
    let reads: Vec<(Cluster, FetchPlan)> = targets.iter().map(|t| (t.1.clone(), t.2.clone())).collect();
    let mut reports = Vec::new();
    let mut snapshots = Vec::new();
    for ((name, _, _, chosen, scope), result) in targets.into_iter().zip(Cluster::snapshot_all(&reads)?) {
        match result {
            Ok(mut snapshot) => {
                snapshot.restrict(&scope, selector);
                snapshot.info.selector = options.selector.clone();
                empty_scope(&mut snapshot);
                let results = super::run(&snapshot, &chosen);
                let names = chosen.iter().map(|a| a.name().to_string()).collect();
                reports.push((name, Report::new(&snapshot, None, names, results)));
                snapshots.push(snapshot);
            }
            Err(err) => failed.push(unreachable(&name, &err)),
        }
    }
    if reports.is_empty() {
        let why: Vec<String> =
            failed.iter().map(|w| format!("{}: {}", w.cluster.as_deref().unwrap_or(""), w.message)).collect();
        return Err(Error::api(format!("no context could be analyzed ({})", why.join("; "))));
    }
    Ok(Analysis { report: Report::merge(reports, failed), snapshots })
}

/// A scope that matched nothing is said, not reported as healthy: a warning (so the report is
/// partial, exit 4) naming the namespace and selector that matched no object.
pub(crate) fn empty_scope(snapshot: &mut Snapshot) {
    if !snapshot.is_empty() || snapshot.info.warnings.iter().any(|w| w.reason == "NotFound") {
        return;
    }
    let info = &snapshot.info;
    let place = info.namespace.as_deref().map_or_else(|| "any namespace".to_string(), |ns| format!("namespace {ns}"));
    let message = match &info.selector {
        Some(selector) => format!("the selector {selector} matched no object in {place}: nothing was analyzed"),
        None => format!("no object was found in {place}: nothing was analyzed"),
    };
    snapshot.info.warnings.push(Warning { cluster: None, kind: None, reason: "Empty".into(), message });
}

fn plan(options: &AnalyzeOptions, analyzers: &[&dyn Analyzer], scope: Scope) -> FetchPlan {
    FetchPlan {
        kinds: super::kinds_needed(analyzers),
        scope,
        selector: options.selector.clone(),
        max_concurrency: options.max_concurrency,
        log_lines: (options.dump.is_some() || super::wants_logs(analyzers)).then_some(options.log_lines),
        keep: None,
        trim: intake(options).trim,
    }
}

/// What analyze drops as it reads, where no analyzer reads it: of a pod with owners, the volumes
/// other than claims (the claims are read for storage hints; configMap, secret and projected
/// volumes only of pods without owners, whose references are checked). The service account's
/// projected volume alone is about 4.5 of the 15.6 KB a generated pod takes typed.
const INTAKE: Intake = Intake { kinds: None, keep: None, trim: Some(trim) };

/// [`INTAKE`], or everything when whole objects are asked for.
fn intake(options: &AnalyzeOptions) -> Intake {
    if options.whole_objects || options.dump.is_some() { Intake::ALL } else { INTAKE }
}

fn trim(kind: Kind, object: &mut serde_json::Value) {
    let owned = object["metadata"]["ownerReferences"].as_array().is_some_and(|owners| !owners.is_empty());
    if kind == Kind::Pod
        && owned
        && let Some(volumes) = object.pointer_mut("/spec/volumes").and_then(serde_json::Value::as_array_mut)
    {
        volumes.retain(|v| v.get("persistentVolumeClaim").is_some());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATE: &str = r#"
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata:
    name: owned
    namespace: shop
    ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: rs, uid: u1, controller: true}]
  spec:
    containers: [{name: app, image: app:1}]
    volumes:
    - {name: data, persistentVolumeClaim: {claimName: data}}
    - {name: config, configMap: {name: config}}
    - {name: kube-api-access, projected: {sources: [{serviceAccountToken: {path: token}}]}}
- apiVersion: v1
  kind: Pod
  metadata: {name: bare, namespace: shop}
  spec:
    containers: [{name: app, image: app:1}]
    volumes:
    - {name: config, configMap: {name: config}}
"#;

    fn volumes(options: &AnalyzeOptions) -> Vec<(String, Vec<String>)> {
        let analysis = analyze(options).unwrap();
        analysis.snapshots[0]
            .objects
            .pods
            .iter()
            .map(|p| {
                let names = p.spec.iter().flat_map(|s| s.volumes.iter().flatten()).map(|v| v.name.clone()).collect();
                (p.metadata.name.clone().unwrap(), names)
            })
            .collect()
    }

    #[test]
    fn a_report_reads_only_the_volumes_its_analyzers_read_and_an_explanation_all() {
        let text = Input::SnapshotText { name: "s.yaml".into(), text: STATE.into() };
        let lean = AnalyzeOptions { input: text.clone(), whole_objects: false, ..AnalyzeOptions::default() };
        let owned = |names: &[&str]| ("owned".to_string(), names.iter().map(|n| n.to_string()).collect::<Vec<_>>());
        let bare = ("bare".to_string(), vec!["config".to_string()]);
        // A pod with owners keeps its claims; one without keeps every volume (its references are checked).
        assert_eq!(volumes(&lean), [owned(&["data"]), bare.clone()]);
        let whole = AnalyzeOptions { input: text.clone(), ..AnalyzeOptions::default() };
        let all = [owned(&["data", "config", "kube-api-access"]), bare];
        assert_eq!(volumes(&whole), all);
        // A dump writes what was read: whole objects.
        let dir = std::env::temp_dir().join(format!("opsagent-lean-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dump = AnalyzeOptions { dump: Some(dir.join("dump.yaml")), ..lean };
        assert_eq!(volumes(&dump), all);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
