//! `kubectl ai audit`: Pod Security Standards, misconfigurations, RBAC and image vulnerabilities.

use std::collections::BTreeSet;
use std::io::{IsTerminal as _, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;

use crate::audit::{self, Level, Object, Options, Source, trivy};
use crate::cli::{self, ClusterArgs, LogArgs, ScopeArgs, parse_duration};
use crate::cli::{AUDIT_FORMATS, LEVELS, LlmArgs, SEVERITIES, one_of};
use crate::cluster::{Cluster, Scope};
use crate::error::{Error, Exit};
use crate::findings::Severity;
use crate::findings::audit::{AuditReport, AuditSource, AuditSummary, FileError};
use crate::llm::{ChatOptions, Client, ModelConfig};
use crate::render::Format;
use crate::render::dryrun::{self, DryRequest};
use crate::snapshot::selector::LabelSelector;
use crate::snapshot::{FetchPlan, Kind, Snapshot};

const EXAMPLES: &str = r#"Examples:
  # The whole cluster, worst first, with a score
  kubectl ai audit -A

  # Manifests in CI, before deploy: fail the job on high or critical findings
  kubectl ai audit -f k8s/ --fail-on high -o sarif > audit.sarif

  # Exactly what `pod-security.kubernetes.io/enforce: restricted` would reject
  kubectl ai audit -n shop --level restricted

  # One object, and the vulnerabilities of its images (needs trivy)
  kubectl ai audit deploy web -n shop --scan-images

Exit codes: 0 nothing at or above --fail-on, 1 a finding at or above --fail-on, 2 usage or no input
could be read, 3 cluster unreachable, 4 some input could not be read (and --fail-on was not reached)."#;

/// Audit workloads and RBAC for security problems.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "kubectl-ai-audit",
    bin_name = "kubectl ai audit",
    version,
    about = "Audit a cluster or manifests: Pod Security Standards, misconfigurations, RBAC, image vulnerabilities",
    long_about = "Audit a cluster, a snapshot or manifests with deterministic checks: every Pod Security \
                  Standards control (pod-security-admission semantics), hardening, resources, images, \
                  secrets, network exposure, RBAC and deprecated APIs. Each finding names the equivalent \
                  checks of PSA, Polaris, kube-score, kubesec, trivy and CIS. No model is needed.",
    after_help = EXAMPLES
)]
pub struct AuditArgs {
    /// What to audit in the cluster: TYPE, TYPE/NAME or TYPE NAME (default: everything)
    #[arg(value_name = "TYPE[/NAME]", num_args = 0..=2)]
    pub target: Vec<String>,

    #[command(flatten)]
    pub cluster: ClusterArgs,

    /// `-A`; `-l` reports only objects with these labels
    #[command(flatten)]
    pub scope: ScopeArgs,

    /// Audit local manifests: a file, a directory (recursively) or '-' for stdin
    #[arg(short = 'f', long = "filename", value_name = "PATH", conflicts_with = "snapshot", help_heading = "Input")]
    pub files: Vec<PathBuf>,

    /// Audit a saved snapshot (`kubectl ai analyze --dump`, or `kubectl get -o yaml`)
    #[arg(long, value_name = "FILE", help_heading = "Input")]
    pub snapshot: Option<PathBuf>,

    /// Run exactly the Pod Security Standards controls of this level (PSA semantics)
    #[arg(long, value_parser = one_of(LEVELS), help_heading = "Checks")]
    pub level: Option<Level>,

    /// Report findings of this severity and above
    #[arg(long, value_parser = one_of(SEVERITIES), default_value_t = Severity::Info, help_heading = "Checks")]
    pub severity: Severity,

    /// Exit with code 1 when a finding of this severity or above is reported
    #[arg(long, value_parser = one_of(SEVERITIES), value_name = "SEVERITY", help_heading = "Checks")]
    pub fail_on: Option<Severity>,

    /// Run only these checks (comma-separated ids, e.g. POD-001,RBAC-004)
    #[arg(long, value_delimiter = ',', value_name = "IDS", help_heading = "Checks")]
    pub checks: Vec<String>,

    /// Skip these checks (comma-separated ids)
    #[arg(long, value_delimiter = ',', value_name = "IDS", help_heading = "Checks")]
    pub skip_checks: Vec<String>,

    /// A registry images may come from (repeatable); enables IMG-003
    #[arg(long = "trusted-registry", value_name = "REGISTRY", help_heading = "Checks")]
    pub trusted_registries: Vec<String>,

    /// Scan the images for vulnerabilities with trivy (found on PATH)
    #[arg(long, help_heading = "Images")]
    pub scan_images: bool,

    /// The longest one image scan may take
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration, help_heading = "Images")]
    pub scan_timeout: Duration,

    /// Images scanned at the same time
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u8).range(1..=32), help_heading = "Images")]
    pub scan_parallel: u8,

    /// Output format
    #[arg(short = 'o', long, value_parser = one_of(AUDIT_FORMATS), default_value_t = Format::Text, help_heading = "Output")]
    pub output: Format,

    /// Add a remediation summary from the model: one request per distinct check, not per object
    #[arg(long, help_heading = "Model")]
    pub explain: bool,

    #[command(flatten)]
    pub llm: LlmArgs,

    #[command(flatten)]
    pub log: LogArgs,
}

/// The longest remediation summary asked for, in tokens.
const MAX_ANSWER: u32 = 700;

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

/// Runs `kubectl ai audit`.
pub fn run(args: &AuditArgs) -> anyhow::Result<Exit> {
    for id in args.checks.iter().chain(&args.skip_checks) {
        if audit::check(id).is_none() {
            return Err(Error::Usage(format!(
                "unknown check {id:?}: the ids are listed in docs/audit.md (e.g. POD-001, RBAC-004)"
            ))
            .into());
        }
    }
    let target = Target::parse(&args.target)?;
    let selector = args
        .scope
        .selector
        .as_deref()
        .map(LabelSelector::parse)
        .transpose()
        .map_err(|e| Error::Usage(format!("invalid label selector: {e}")))?;
    if target.is_some() && !args.files.is_empty() {
        return Err(Error::Usage(
            "a TYPE/NAME target selects cluster objects; with -f, give the files to audit".into(),
        )
        .into());
    }
    if args.llm.dry_run && !args.explain {
        return Err(Error::Usage("--dry-run shows what --explain would send: add --explain".into()).into());
    }
    let model = if args.explain {
        let model = ModelConfig::resolve(&args.llm.options())?;
        if !model.configured && !args.llm.dry_run {
            return Err(Error::Model(format!("--explain needs a model: {}", ModelConfig::how_to_configure())).into());
        }
        Some(model)
    } else {
        None
    };
    let mut source = AuditSource { level: args.level, ..AuditSource::default() };
    let mut partial = false;
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let (objects, scope) = if !args.files.is_empty() {
        source.files = args.files.iter().map(|p| p.display().to_string()).collect();
        (read_files(&args.files, &mut errors)?, Scope::All)
    } else if let Some(path) = &args.snapshot {
        source.snapshot = Some(path.display().to_string());
        let snapshot = Snapshot::from_file(path)?;
        let scope = match &args.cluster.namespace {
            Some(ns) => Scope::Namespace(ns.clone()),
            None => Scope::All,
        };
        source.context = snapshot.info.context.clone();
        (from_snapshot(snapshot, &scope), scope)
    } else {
        let cluster = Cluster::connect(&args.cluster.connect_options())?;
        let scope = args.cluster.scope(&cluster, &args.scope);
        let plan = FetchPlan {
            kinds: KINDS.iter().copied().collect(),
            scope: scope.clone(),
            selector: None,
            max_concurrency: 8,
            log_lines: None,
        };
        let snapshot = cluster.snapshot(&plan)?;
        source.context = cluster.context.clone();
        for w in &snapshot.info.warnings {
            cli::warn(&w.message);
            warnings.push(w.message.clone());
            partial = true;
        }
        (from_snapshot(snapshot, &scope), scope)
    };
    source.namespace = scope.namespace().map(str::to_string);
    let place = |e: &FileError| format!("{}{}", e.file, e.line.map(|l| format!(":{l}")).unwrap_or_default());
    if let ([only], true) = (errors.as_slice(), objects.is_empty()) {
        return Err(Error::Usage(format!("{}: {}", place(only), only.message)).into());
    }
    for e in &errors {
        cli::warn(format!("{}: not audited: {}", place(e), e.message));
    }
    if objects.is_empty() && !errors.is_empty() {
        return Err(Error::Usage(format!("none of the {} manifests could be read", errors.len())).into());
    }
    let options = Options {
        level: args.level,
        checks: args.checks.iter().cloned().collect(),
        skip: args.skip_checks.iter().cloned().collect(),
        trusted_registries: args.trusted_registries.clone(),
    };
    let mut outcome = audit::audit(&objects, &options);
    if let Some(t) = &target {
        outcome.findings.retain(|f| t.matches(&f.kind, &f.name));
        outcome.objects = objects
            .iter()
            .filter(|o| {
                t.matches(o.value["kind"].as_str().unwrap_or(""), o.value["metadata"]["name"].as_str().unwrap_or(""))
            })
            .count();
        if outcome.objects == 0 {
            return Err(Error::Usage(format!(
                "{} not found{}",
                t,
                scope.namespace().map(|n| format!(" in namespace {n}")).unwrap_or_default()
            ))
            .into());
        }
    }
    if let Some(selector) = &selector {
        // Everything was read (bindings need their roles); only matching objects are reported.
        let labelled: BTreeSet<(String, Option<String>, String)> = objects
            .iter()
            .filter(|o| {
                let labels: Option<std::collections::BTreeMap<String, String>> =
                    serde_json::from_value(o.value["metadata"]["labels"].clone()).ok();
                selector.matches(labels.as_ref())
            })
            .map(|o| {
                let v = &o.value;
                let ns = v["metadata"]["namespace"].as_str().map(str::to_string);
                (
                    v["kind"].as_str().unwrap_or("").to_string(),
                    ns,
                    v["metadata"]["name"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        outcome.objects = labelled.len();
        outcome.findings.retain(|f| {
            labelled.iter().any(|(k, ns, n)| *k == f.kind && *n == f.name && (ns.is_none() || *ns == f.namespace))
        });
    }
    if let Scope::Namespace(_) = scope {
        // Cluster-scoped objects were read to resolve bindings; they are audited with -A.
        outcome.findings.retain(|f| f.namespace.is_some());
    }
    let mut images = Vec::new();
    if args.scan_images && args.level.is_none() {
        match trivy::find() {
            None => {
                cli::warn(trivy::INSTALL_HINT);
                warnings.push(trivy::INSTALL_HINT.to_string());
            }
            Some(path) => {
                let wanted = audit::images(&objects, target.as_ref().map(|t| |k: &str, n: &str| t.matches(k, n)));
                images = trivy::scan(&path, &wanted, usize::from(args.scan_parallel), args.scan_timeout);
                for scan in &images {
                    if let Some(e) = &scan.error {
                        let message = format!("{}: not scanned: {e}", scan.image);
                        cli::warn(&message);
                        warnings.push(message);
                        partial = true;
                    }
                }
                outcome.findings.extend(audit::vulnerability_findings(&objects, &images, args.severity));
            }
        }
    }
    let score = audit::score(&outcome);
    let findings: Vec<_> = outcome.findings.into_iter().filter(|f| f.severity >= args.severity).collect();
    let mut by_severity = std::collections::BTreeMap::new();
    for f in &findings {
        *by_severity.entry(f.severity).or_insert(0) += 1;
    }
    let failed = args.fail_on.is_some_and(|min| findings.iter().any(|f| f.severity >= min));
    let mut out = anstream::stdout().lock();
    let mut explanations = std::collections::BTreeMap::new();
    if let Some(model) = model {
        let requests = crate::explain::audit::requests(&findings);
        if args.llm.dry_run {
            let dry: Vec<DryRequest<'_>> = requests
                .iter()
                .map(|(id, messages)| DryRequest { title: id, messages, trimmed: false, max_answer: MAX_ANSWER })
                .collect();
            let format = if args.output == Format::Json { Format::Json } else { Format::Text };
            dryrun::print(&mut out, &model, &dry, 0, format)?;
            return Ok(Exit::Clean);
        }
        let client = Client::new(model)?;
        let options = ChatOptions { max_tokens: MAX_ANSWER, ..ChatOptions::default() };
        let mut unexplained = 0;
        for (id, messages) in &requests {
            match client.chat(messages, &options, None) {
                Ok(reply) => {
                    explanations
                        .insert(id.to_string(), crate::llm::reply::strip_think(&reply.content).trim().to_string());
                }
                Err(e) if requests.len() > 1 => {
                    unexplained += 1;
                    let message = format!("{id} was not explained: {e}");
                    cli::warn(&message);
                    warnings.push(message);
                }
                Err(e) => return Err(e.into()),
            }
        }
        if unexplained > 0 && unexplained == requests.len() {
            return Err(Error::Model("no check could be explained (see the warnings)".into()).into());
        }
    }
    let report = AuditReport {
        api_version: crate::findings::REPORT_API_VERSION,
        kind: "AuditReport",
        generated_at: jiff::Timestamp::now(),
        source,
        summary: AuditSummary { objects: outcome.objects, findings: findings.len(), by_severity, score },
        findings,
        images,
        errors,
        warnings,
        explanations,
    };
    crate::render::audit::render(&mut out, &report, args.output)?;
    out.flush()?;
    Ok(if failed {
        Exit::Problems
    } else if partial || !report.errors.is_empty() {
        Exit::Partial
    } else {
        Exit::Clean
    })
}

/// `pod`, `deploy/web`, `pod web-0`.
struct Target {
    kind: String,
    name: Option<String>,
}

impl Target {
    fn parse(words: &[String]) -> Result<Option<Target>, Error> {
        let (kind, name) = match words {
            [] => return Ok(None),
            [one] => match one.split_once('/') {
                Some((k, n)) => (k, Some(n.to_string())),
                None => (one.as_str(), None),
            },
            [k, n] => (k.as_str(), Some(n.clone())),
            _ => return Err(Error::Usage("give TYPE, TYPE/NAME or TYPE NAME".into())),
        };
        let kind = kind.to_ascii_lowercase();
        let full = match kind.as_str() {
            "po" | "pod" | "pods" => "Pod",
            "deploy" | "deployment" | "deployments" => "Deployment",
            "rs" | "replicaset" | "replicasets" => "ReplicaSet",
            "sts" | "statefulset" | "statefulsets" => "StatefulSet",
            "ds" | "daemonset" | "daemonsets" => "DaemonSet",
            "job" | "jobs" => "Job",
            "cj" | "cronjob" | "cronjobs" => "CronJob",
            "rc" | "replicationcontroller" | "replicationcontrollers" => "ReplicationController",
            "cm" | "configmap" | "configmaps" => "ConfigMap",
            "svc" | "service" | "services" => "Service",
            "ing" | "ingress" | "ingresses" => "Ingress",
            "netpol" | "networkpolicy" | "networkpolicies" => "NetworkPolicy",
            "role" | "roles" => "Role",
            "rolebinding" | "rolebindings" => "RoleBinding",
            "clusterrole" | "clusterroles" => "ClusterRole",
            "clusterrolebinding" | "clusterrolebindings" => "ClusterRoleBinding",
            "sa" | "serviceaccount" | "serviceaccounts" => "ServiceAccount",
            other => return Err(Error::Usage(format!("the audit does not check objects of type {other:?}"))),
        };
        Ok(Some(Target { kind: full.to_string(), name }))
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

/// Every object of a snapshot, except those a controller owns (their owner is audited instead).
fn from_snapshot(snapshot: Snapshot, scope: &Scope) -> Vec<Object> {
    let kinds: BTreeSet<Kind> = KINDS.iter().copied().collect();
    let objects = snapshot.objects.to_values(&kinds);
    let owned = |v: &serde_json::Value| {
        v["metadata"]["ownerReferences"].as_array().into_iter().flatten().any(|r| {
            r["controller"] == true
                && matches!(
                    (v["kind"].as_str(), r["kind"].as_str()),
                    (Some("Pod"), _) | (Some("ReplicaSet"), Some("Deployment")) | (Some("Job"), Some("CronJob"))
                )
        })
    };
    objects
        .into_iter()
        .filter(|v| !owned(v))
        .filter(|v| match (scope.namespace(), v["metadata"]["namespace"].as_str()) {
            (Some(ns), Some(own)) => own == ns,
            _ => true,
        })
        .map(|value| Object { value, source: None })
        .collect()
}

/// Reads every manifest; a file that cannot be read or parsed is an error of its own, the others
/// are still audited.
fn read_files(paths: &[PathBuf], errors: &mut Vec<FileError>) -> anyhow::Result<Vec<Object>> {
    let mut files = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            files.push(path.clone());
        } else if path.is_dir() {
            collect_dir(path, &mut files, errors);
        } else if path.exists() {
            files.push(path.clone());
        } else {
            return Err(Error::Usage(format!("{}: no such file or directory", path.display())).into());
        }
    }
    let mut objects = Vec::new();
    for file in files {
        let name = file.display().to_string();
        let text = if file.as_os_str() == "-" {
            if std::io::stdin().is_terminal() {
                return Err(Error::Usage("-f - reads manifests from stdin, and stdin is a terminal".into()).into());
            }
            let mut bytes = Vec::new();
            std::io::stdin().read_to_end(&mut bytes)?;
            String::from_utf8(bytes).map_err(|_| "not UTF-8")
        } else {
            std::fs::read(&file)
                .map_err(|_| "cannot be read")
                .and_then(|b| String::from_utf8(b).map_err(|_| "not UTF-8"))
        };
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
