//! The `audit` verb: read a cluster, a saved state or manifests, run the checks, scan the images
//! when asked, and return the report.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{Level, Object, Options, Source, trivy};
use crate::cluster::{Cluster, ConnectOptions, Scope};
use crate::error::Error;
use crate::findings::Severity;
use crate::findings::audit::{AuditReport, AuditSource, AuditSummary, FileError};
use crate::progress::Progress;
use crate::snapshot::LabelSelector;
use crate::snapshot::{FetchPlan, Intake, Kind, Snapshot};

/// What is audited.
#[derive(Clone, Debug)]
pub enum AuditInput {
    /// The cluster of one kubeconfig context.
    Cluster(ConnectOptions),
    /// A saved state (`analyze --dump`, or `kubectl get -o yaml|json`).
    Snapshot(PathBuf),
    /// The same, read from this process's standard input as it streams in (never held whole).
    SnapshotStdin,
    /// The same, already read.
    SnapshotText {
        /// What it is called in messages (`stdin`).
        name: String,
        /// The text.
        text: String,
    },
    /// Manifests: files and directories (read recursively), and text already read (stdin).
    Manifests(Vec<Manifests>),
}

/// One place manifests come from.
#[derive(Clone, Debug)]
pub enum Manifests {
    /// A file, or a directory of `*.yaml`, `*.yml` and `*.json` files.
    Path(PathBuf),
    /// Text already read: its name for reports, and the text.
    Text {
        /// What it is called in messages (`stdin`).
        name: String,
        /// The text.
        text: String,
    },
}

/// The limits of image scans.
#[derive(Clone, Copy, Debug)]
pub struct ScanOptions {
    /// Images scanned at the same time.
    pub parallel: usize,
    /// The longest one scan may take.
    pub timeout: Duration,
}

/// What to audit, and how.
#[derive(Clone, Debug)]
pub struct AuditOptions {
    /// What is audited.
    pub input: AuditInput,
    /// `-n` (default: the context's namespace; every namespace of a snapshot).
    pub namespace: Option<String>,
    /// `-A`: every namespace, and the cluster-scoped objects (RBAC).
    pub all_namespaces: bool,
    /// `-l`: report only objects with these labels (everything is still read: bindings need roles).
    pub selector: Option<String>,
    /// `TYPE` or `TYPE/NAME`: report only these objects.
    pub target: Option<Target>,
    /// Which checks run.
    pub checks: Options,
    /// Findings below this severity are left out.
    pub severity: Severity,
    /// Scan the images with trivy (found on `PATH`).
    pub scan_images: Option<ScanOptions>,
}

/// The kinds the audit reads from a cluster.
const KINDS: &[Kind] = &[
    Kind::Pod,
    Kind::Deployment,
    Kind::ReplicaSet,
    Kind::StatefulSet,
    Kind::DaemonSet,
    Kind::Job,
    Kind::CronJob,
    Kind::ReplicationController,
    Kind::ConfigMap,
    Kind::ServiceAccount,
    Kind::Service,
    Kind::Ingress,
    Kind::NetworkPolicy,
    Kind::Role,
    Kind::RoleBinding,
    Kind::ClusterRole,
    Kind::ClusterRoleBinding,
];

/// Runs an audit. What cannot be read (a kind, a manifest, an image) is a warning in the report
/// (`partial`); nothing at all to audit is an error.
pub fn run(options: &AuditOptions, progress: &dyn Progress) -> Result<AuditReport, Error> {
    let checks = &options.checks;
    for id in checks.checks.iter().chain(&checks.skip) {
        if super::check(id).is_none() {
            return Err(Error::Usage(format!(
                "unknown check {id:?}: kubectl ai audit --list-checks lists them (e.g. POD-001, RBAC-004)"
            )));
        }
    }
    let selector = options
        .selector
        .as_deref()
        .map(LabelSelector::parse)
        .transpose()
        .map_err(|e| Error::Usage(format!("invalid label selector: {e}")))?;
    if options.target.is_some() && matches!(options.input, AuditInput::Manifests(_)) {
        return Err(Error::Usage(
            "a TYPE/NAME target selects cluster objects; with -f, give the files to audit".into(),
        ));
    }
    let mut source = AuditSource { level: checks.level, ..AuditSource::default() };
    let mut partial = false;
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    // The checks the state read cannot judge, with the kinds it lacks (not for manifests: they are
    // audited as they are).
    let mut unjudged: Vec<(Vec<Kind>, Vec<&'static str>)> = Vec::new();
    let mut saved = |snapshot: Snapshot, source: &mut AuditSource| {
        let scope = match &options.namespace {
            Some(ns) => Scope::Namespace(ns.clone()),
            None => Scope::All,
        };
        source.context = snapshot.info.context.clone();
        unjudged = unjudgeable(&snapshot);
        (from_snapshot(snapshot, &scope), scope)
    };
    let (objects, scope) = match &options.input {
        AuditInput::Manifests(manifests) => {
            source.files = manifests
                .iter()
                .map(|m| match m {
                    Manifests::Path(p) => p.display().to_string(),
                    Manifests::Text { name, .. } => name.clone(),
                })
                .collect();
            (read_manifests(manifests, &mut errors)?, Scope::All)
        }
        AuditInput::Snapshot(path) => {
            source.snapshot = Some(path.display().to_string());
            saved(Snapshot::from_file_keeping(path, INTAKE)?, &mut source)
        }
        AuditInput::SnapshotStdin => {
            source.snapshot = Some("stdin".into());
            saved(Snapshot::from_reader_keeping("stdin", std::io::stdin().lock(), INTAKE)?, &mut source)
        }
        AuditInput::SnapshotText { name, text } => {
            source.snapshot = Some(name.clone());
            saved(Snapshot::from_text_keeping(name, text, INTAKE)?, &mut source)
        }
        AuditInput::Cluster(connect) => {
            let cluster = Cluster::connect(connect)?;
            let scope = cluster.scope(options.namespace.as_deref(), options.all_namespaces);
            let plan = FetchPlan {
                kinds: KINDS.iter().copied().collect(),
                scope: scope.clone(),
                selector: None,
                max_concurrency: 8,
                log_lines: None,
                keep: INTAKE.keep,
                trim: INTAKE.trim,
            };
            let snapshot = cluster.snapshot(&plan)?;
            source.context = cluster.context.clone();
            unjudged = unjudgeable(&snapshot);
            for w in &snapshot.info.warnings {
                progress.warn(&w.message);
                warnings.push(w.message.clone());
                partial = true;
            }
            (from_snapshot(snapshot, &scope), scope)
        }
    };
    source.namespace = scope.namespace().map(str::to_string);
    let place = |e: &FileError| format!("{}{}", e.file, e.line.map(|l| format!(":{l}")).unwrap_or_default());
    if let ([only], true) = (errors.as_slice(), objects.is_empty()) {
        return Err(Error::Usage(format!("{}: {}", place(only), only.message)));
    }
    for e in &errors {
        progress.warn(&format!("{}: not audited: {}", place(e), e.message));
    }
    if objects.is_empty() && !errors.is_empty() {
        return Err(Error::Usage(format!("none of the {} manifests could be read", errors.len())));
    }
    let mut checks = checks.clone();
    for (kinds, ids) in &unjudged {
        let ran: Vec<&str> = ids.iter().copied().filter(|id| checks.enabled(id)).collect();
        if ran.is_empty() || checks.level.is_some_and(|_| !ran.iter().any(|id| super::check(id).is_some_and(|c| c.pss)))
        {
            continue;
        }
        let names = kinds.iter().map(|k| k.plural()).collect::<Vec<_>>().join(", ");
        let what = match source.snapshot {
            Some(_) => format!("the snapshot holds no {names}"),
            None => format!("{names} could not be read"),
        };
        let message = format!("{}: not run, {what} (they would be judged without them)", check_list(&ran));
        progress.warn(&message);
        warnings.push(message);
        partial = true;
        checks.skip.extend(ran.iter().map(|id| id.to_string()));
    }
    let checks = &checks;
    let mut read = BTreeMap::new();
    for o in &objects {
        *read.entry(kind_of(o).to_string()).or_insert(0) += 1;
    }
    let mut outcome = super::audit(&objects, checks);
    if let Some(t) = &options.target {
        outcome.findings.retain(|f| t.matches(&f.kind, &f.name));
        outcome.objects = objects.iter().filter(|o| t.matches(kind_of(o), name_of(o))).count();
        if outcome.objects == 0 {
            return Err(Error::Usage(format!(
                "{} not found{}",
                t,
                scope.namespace().map(|n| format!(" in namespace {n}")).unwrap_or_default()
            )));
        }
    }
    if let Some(selector) = &selector {
        // Everything was read (bindings need their roles); only matching objects are reported.
        let labelled: BTreeSet<(String, Option<String>, String)> = objects
            .iter()
            .filter(|o| {
                let labels: Option<BTreeMap<String, String>> =
                    serde_json::from_value(o.value["metadata"]["labels"].clone()).ok();
                selector.matches(labels.as_ref())
            })
            .map(|o| {
                let ns = o.value["metadata"]["namespace"].as_str().map(str::to_string);
                (kind_of(o).to_string(), ns, name_of(o).to_string())
            })
            .collect();
        outcome.objects = labelled.len();
        outcome.findings.retain(|f| {
            // A cluster-scoped object (no namespace) is its findings' whatever their namespace.
            let key = |ns: Option<String>| (f.kind.clone(), ns, f.name.clone());
            labelled.contains(&key(f.namespace.clone())) || labelled.contains(&key(None))
        });
    }
    if let Scope::Namespace(_) = scope {
        // Cluster-scoped objects were read to resolve bindings; they are audited with -A.
        outcome.findings.retain(|f| f.namespace.is_some());
    }
    let mut images = Vec::new();
    if let Some(scan) = options.scan_images.filter(|_| checks.level.is_none()) {
        match trivy::find() {
            None => {
                progress.warn(trivy::INSTALL_HINT);
                warnings.push(trivy::INSTALL_HINT.to_string());
            }
            Some(path) => {
                let wanted =
                    super::images(&objects, options.target.as_ref().map(|t| |k: &str, n: &str| t.matches(k, n)));
                images = trivy::scan(&path, &wanted, scan.parallel, scan.timeout);
                for scan in &images {
                    if let Some(e) = &scan.error {
                        let message = format!("{}: not scanned: {e}", scan.image);
                        progress.warn(&message);
                        warnings.push(message);
                        partial = true;
                    }
                }
                outcome.findings.extend(super::vulnerability_findings(&objects, &images, options.severity));
            }
        }
    }
    let score = super::score(&outcome);
    let findings: Vec<_> = outcome.findings.into_iter().filter(|f| f.severity >= options.severity).collect();
    let mut by_severity = BTreeMap::new();
    for f in &findings {
        *by_severity.entry(f.severity).or_insert(0) += 1;
    }
    Ok(AuditReport {
        api_version: crate::findings::REPORT_API_VERSION,
        kind: "AuditReport",
        generated_at: jiff::Timestamp::now(),
        source,
        summary: AuditSummary { objects: outcome.objects, findings: findings.len(), by_severity, score },
        findings,
        images,
        partial: partial || !errors.is_empty(),
        read,
        errors,
        warnings,
        explanations: BTreeMap::new(),
    })
}

/// What each group of checks needs to be judged: NET-001 without the NetworkPolicies would call
/// every pod uncovered; the RBAC checks without roles and bindings would miss grants or suspect
/// every binding (a role that was not read cannot be vouched for).
fn unjudgeable(snapshot: &Snapshot) -> Vec<(Vec<Kind>, Vec<&'static str>)> {
    let rbac: Vec<&'static str> = super::CHECKS.iter().map(|c| c.id).filter(|id| id.starts_with("RBAC-")).collect();
    let needs: [(&[Kind], Vec<&'static str>); 2] = [
        (&[Kind::NetworkPolicy], vec!["NET-001"]),
        (&[Kind::Role, Kind::RoleBinding, Kind::ClusterRole, Kind::ClusterRoleBinding], rbac),
    ];
    needs
        .into_iter()
        .filter_map(|(kinds, ids)| {
            let missing: Vec<Kind> = kinds.iter().copied().filter(|k| !snapshot.has(*k)).collect();
            (!missing.is_empty()).then_some((missing, ids))
        })
        .collect()
}

/// `NET-001`, or `RBAC-001…RBAC-012 (12 checks)`.
fn check_list(ids: &[&str]) -> String {
    match ids {
        [one] => (*one).to_string(),
        [first, .., last] => format!("{first}…{last} ({} checks)", ids.len()),
        [] => String::new(),
    }
}

fn kind_of(o: &Object) -> &str {
    o.value["kind"].as_str().unwrap_or("")
}

fn name_of(o: &Object) -> &str {
    o.value["metadata"]["name"].as_str().unwrap_or("")
}

/// The objects to report on: `pod`, `deploy/web`, `pod web-0`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The kind, as Kubernetes names it (`Deployment`).
    pub kind: String,
    /// One object of that kind, or all.
    pub name: Option<String>,
}

impl Target {
    /// `TYPE`, `TYPE/NAME` or `TYPE NAME` with kubectl's names of the kinds the audit checks; none
    /// is no target.
    pub fn parse(words: &[String]) -> Result<Option<Target>, Error> {
        let (kind, name) = match words {
            [] => return Ok(None),
            [one] => match one.split_once('/') {
                Some((k, n)) => (k, Some(n.to_string())),
                None => (one.as_str(), None),
            },
            [k, n] => (k.as_str(), Some(n.clone())),
            _ => return Err(Error::Usage("give TYPE, TYPE/NAME or TYPE NAME".into())),
        };
        let full = Kind::from_kubectl_name(kind).filter(|k| KINDS.contains(k)).ok_or_else(|| {
            Error::Usage(format!("the audit does not check objects of type {:?}", kind.to_ascii_lowercase()))
        })?;
        Ok(Some(Target { kind: full.name().to_string(), name }))
    }

    fn matches(&self, kind: &str, name: &str) -> bool {
        self.kind == kind && self.name.as_deref().is_none_or(|n| n == name)
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{} {n}", self.kind),
            None => write!(f, "no {}", self.kind),
        }
    }
}

/// What the audit keeps of what it reads: its kinds, and of those what no controller owns (the
/// controller is audited instead). The rest is dropped as it is read.
const INTAKE: Intake = Intake { kinds: Some(KINDS), keep: Some(unowned), trim: None };

/// Whether an object is audited on its own rather than through the controller that owns it.
fn unowned(kind: Kind, meta: &ObjectMeta) -> bool {
    !meta.owner_references.iter().flatten().any(|r| {
        r.controller == Some(true)
            && matches!(
                (kind, r.kind.as_str()),
                (Kind::Pod, _) | (Kind::ReplicaSet, "Deployment") | (Kind::Job, "CronJob")
            )
    })
}

/// Every object in the scope of a snapshot read with [`INTAKE`] (so only what the audit keeps),
/// as JSON, one object at a time.
fn from_snapshot(mut snapshot: Snapshot, scope: &Scope) -> Vec<Object> {
    let kinds: BTreeSet<Kind> = KINDS.iter().copied().collect();
    snapshot.objects.retain(|_, meta| match (scope.namespace(), meta.namespace.as_deref()) {
        (Some(ns), Some(own)) => own == ns,
        _ => true,
    });
    // No check reads an object's status: what a cluster reports of an object is not its
    // configuration (the same object from a manifest has none).
    let configuration = |mut value: serde_json::Value| {
        if let Some(fields) = value.as_object_mut() {
            fields.shift_remove("status");
        }
        Object { value, source: None }
    };
    snapshot.objects.into_values(&kinds, configuration)
}

/// Reads every manifest; a file that cannot be read or parsed is an error of its own, the others
/// are still audited. A path that does not exist stops everything.
fn read_manifests(manifests: &[Manifests], errors: &mut Vec<FileError>) -> Result<Vec<Object>, Error> {
    let mut texts: Vec<(String, Result<String, &'static str>)> = Vec::new();
    for m in manifests {
        match m {
            Manifests::Text { name, text } => texts.push((name.clone(), Ok(text.clone()))),
            Manifests::Path(path) if path.is_dir() => {
                let mut files = Vec::new();
                collect_dir(path, &mut files, errors);
                texts.extend(files.iter().map(|f| (f.display().to_string(), read_file(f))));
            }
            Manifests::Path(path) if path.exists() => texts.push((path.display().to_string(), read_file(path))),
            Manifests::Path(path) => {
                return Err(Error::Usage(format!("{}: no such file or directory", path.display())));
            }
        }
    }
    let mut objects = Vec::new();
    for (name, text) in texts {
        let text = match text {
            Ok(t) => t,
            Err(why) => {
                errors.push(FileError { file: name, line: None, message: why.to_string() });
                continue;
            }
        };
        match crate::snapshot::parse_documents(&text) {
            Ok(docs) => objects.extend(
                docs.into_iter()
                    .filter(|d| d.value["kind"].is_string())
                    .map(|d| Object { value: d.value, source: Some(Source { file: name.clone(), line: d.line }) }),
            ),
            Err(e) => errors.push(FileError { file: name, line: e.line, message: e.message }),
        }
    }
    Ok(objects)
}

fn read_file(path: &Path) -> Result<String, &'static str> {
    std::fs::read(path).map_err(|_| "cannot be read").and_then(|b| String::from_utf8(b).map_err(|_| "not UTF-8"))
}

fn collect_dir(dir: &Path, files: &mut Vec<PathBuf>, errors: &mut Vec<FileError>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push(FileError { file: dir.display().to_string(), line: None, message: e.to_string() });
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            collect_dir(&p, files, errors);
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml" || e == "json") {
            files.push(p);
        }
    }
}

/// The level's name, for messages.
impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
