//! `kubectl ai audit`: Pod Security Standards, misconfigurations, RBAC and image vulnerabilities.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use super::input::{self, Over};
use super::terminal::Terminal;
use super::watch::Plan;
use crate::audit::{self, AuditInput, AuditOptions, Level, Manifests, ScanOptions, Target};
use crate::cli::{
    self, AUDIT_FORMATS, ClusterArgs, LEVELS, LlmArgs, LogArgs, SEVERITIES, ScopeArgs, WatchArgs, one_of,
    parse_duration,
};
use crate::error::{Error, Exit};
use crate::explain;
use crate::findings::Severity;
use crate::findings::audit::AuditReport;
use crate::llm::{Client, ModelConfig};
use crate::render::Format;
use crate::render::audit::View;
use crate::render::dryrun::{self, DryRequest};
use crate::watch::RunOutput;
use crate::watch::alerts::{self, Plugin};
use crate::watch::metrics::RunFacts;

const EXAMPLES: &str = r#"Examples:
  # The whole cluster, worst first, with a score
  kubectl ai audit -A

  # Manifests in CI, before deploy: fail the job on high or critical findings
  kubectl ai audit -f k8s/ --fail-on high -o sarif > audit.sarif

  # Exactly what `pod-security.kubernetes.io/enforce: restricted` would reject
  kubectl ai audit -n shop --level restricted

  # One object, and the vulnerabilities of its images (needs trivy)
  kubectl ai audit deploy web -n shop --scan-images

  # In the cluster: every hour, high and critical findings to Alertmanager
  kubectl ai audit -A --watch 1h --metrics-addr :9090 \
    --notify alertmanager+http://alertmanager.monitoring:9093

  # For an agent (Claude Code, Cursor …): the audit as MCP tools
  kubectl ai exec --mcp-server

Exit codes:
  0  nothing at or above --fail-on
  1  a finding at or above --fail-on
  2  usage error, or no input could be read
  3  the cluster could not be used (unreachable, credentials rejected)
  4  some input could not be read, and --fail-on was not reached
  5  --explain: the model failed or is not configured
  7  a --notify sink could not be told (the report was written)
  8  --explain: a spending cap was reached (the report was written)"#;

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

    /// How to reach the cluster.
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
    #[arg(long, value_parser = one_of(SEVERITIES), value_name = "SEVERITY", conflicts_with = "watch", help_heading = "Checks")]
    pub fail_on: Option<Severity>,

    /// Run only these checks (comma-separated ids, e.g. POD-001,RBAC-004; see --list-checks)
    #[arg(long, value_delimiter = ',', value_name = "IDS", help_heading = "Checks")]
    pub checks: Vec<String>,

    /// Skip these checks (comma-separated ids)
    #[arg(long, value_delimiter = ',', value_name = "IDS", help_heading = "Checks")]
    pub skip_checks: Vec<String>,

    /// List the checks (id, severity, title) and exit; with -o json, also their remediations
    #[arg(long, help_heading = "Checks")]
    pub list_checks: bool,

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

    /// Text and markdown: one entry per object and container, with what is wrong and where
    /// (default: one entry per check, naming the first objects)
    #[arg(long, help_heading = "Output")]
    pub details: bool,

    /// Add a remediation summary from the model: one request per distinct check, not per object
    #[arg(long, help_heading = "Model")]
    pub explain: bool,

    /// Do not read or write the cache of explanations
    #[arg(long, help_heading = "Model")]
    pub no_cache: bool,

    /// The model.
    #[command(flatten)]
    pub llm: LlmArgs,

    /// Colors and logging.
    #[command(flatten)]
    pub log: LogArgs,

    /// Watch and notify.
    #[command(flatten)]
    pub watching: WatchArgs,
}

/// The largest manifests or state read from stdin.
const MAX_STDIN: u64 = 256 * 1024 * 1024;

/// Runs `kubectl ai audit`.
pub fn run(args: &AuditArgs) -> anyhow::Result<Exit> {
    cli::no_cluster_hint(
        run_plugin(args),
        "give one with --kubeconfig FILE, audit manifests with -f FILE|DIR, or a saved state with --snapshot FILE",
    )
}

fn run_plugin(args: &AuditArgs) -> anyhow::Result<Exit> {
    let progress = Terminal::default();
    if args.list_checks {
        let mut out = anstream::stdout().lock();
        crate::render::audit::checks(&mut out, args.output)?;
        out.flush()?;
        return Ok(Exit::Clean);
    }
    if args.llm.dry_run && !args.explain {
        return Err(Error::Usage("--dry-run shows what --explain would send: add --explain".into()).into());
    }
    let target = Target::parse(&args.target)?;
    let model = match args.explain {
        true => {
            let model = args.llm.resolve("audit")?;
            if !args.llm.dry_run {
                // Before anything is read: the run would end there anyway.
                model.require("--explain")?;
            }
            Some(model)
        }
        false => None,
    };
    let options = AuditOptions {
        input: input_of(args)?,
        namespace: args.cluster.namespace.clone(),
        all_namespaces: args.scope.all_namespaces,
        selector: args.scope.selector.clone(),
        target,
        checks: audit::Options {
            level: args.level,
            checks: args.checks.iter().cloned().collect(),
            skip: args.skip_checks.iter().cloned().collect(),
            trusted_registries: args.trusted_registries.clone(),
        },
        severity: args.severity,
        scan_images: args
            .scan_images
            .then(|| ScanOptions { parallel: usize::from(args.scan_parallel), timeout: args.scan_timeout }),
    };
    let plan = Plan::new(&args.watching, Plugin::Audit)?;
    // The tokens sent, and whether a spending cap left checks unexplained.
    let explained = |report: &mut AuditReport, model: ModelConfig| -> Result<(usize, bool), Error> {
        let client = Client::for_use(model, "--explain")?.reporting_to(&progress);
        let tokens = explain::audit::explain(report, &client, !args.no_cache, &progress)?;
        Ok((tokens, client.stopped().is_some()))
    };
    if plan.watching() {
        let stdin =
            matches!(options.input, AuditInput::SnapshotStdin) || args.files.iter().any(|f| f.as_os_str() == "-");
        plan.rerunnable(stdin, &[("--dry-run", args.llm.dry_run)])?;
        let cluster = plan.cluster.clone();
        return plan.watch(|| {
            let mut report = audit::run(&options, &progress)?;
            let tokens = match &model {
                Some(model) => explained(&mut report, model.clone())?.0,
                None => 0,
            };
            let mut json = Vec::new();
            crate::render::audit::render(&mut json, &report, Format::Json, View::ByCheck)
                .map_err(|e| Error::Usage(format!("cannot write the report: {e}")))?;
            Ok(RunOutput { report: json, facts: facts(&report, tokens, cluster.as_deref()) })
        });
    }
    let started = std::time::Instant::now();
    let mut report = audit::run(&options, &progress)?;
    let mut tokens = 0;
    let mut capped = false;
    let failed = args.fail_on.is_some_and(|min| report.findings.iter().any(|f| f.severity >= min));
    let mut out = anstream::stdout().lock();
    if let Some(model) = model {
        if args.llm.dry_run {
            let requests = explain::audit::requests(&report, &model);
            let dry: Vec<DryRequest<'_>> = requests.iter().map(|r| r.dry()).collect();
            let format = if args.output == Format::Json { Format::Json } else { Format::Text };
            dryrun::print(&mut out, &model, &dry, 0, format)?;
            return Ok(Exit::Clean);
        }
        (tokens, capped) = explained(&mut report, model)?;
    }
    let view = if args.details { View::Details } else { View::ByCheck };
    crate::render::audit::render(&mut out, &report, args.output, view)?;
    out.flush()?;
    if plan.after_run() {
        let cluster = plan.cluster.clone();
        if let Some(not_told) = plan.finish(&facts(&report, tokens, cluster.as_deref()), started)? {
            return Ok(not_told);
        }
    }
    Ok(if capped {
        Exit::Budget
    } else if failed {
        Exit::Problems
    } else if report.partial {
        Exit::Partial
    } else {
        Exit::Clean
    })
}

/// What the metrics and notifications read of an audit: every finding (`--notify-severity` is
/// applied by the sinks).
fn facts(report: &AuditReport, prompt_tokens: usize, cluster: Option<&str>) -> RunFacts {
    RunFacts {
        findings: alerts::from_audit(report, Severity::Info, cluster.or(report.source.context.as_deref())),
        objects: report.read.clone(),
        partial: report.partial,
        prompt_tokens: prompt_tokens as u64,
    }
}

/// What to audit: `-f` manifests (`-` reads stdin), `--snapshot`, or the cluster.
fn input_of(args: &AuditArgs) -> Result<AuditInput, Error> {
    let piped = |what: &str| match input::piped() {
        true => Ok(()),
        false => Err(Error::Usage(format!("{what} from stdin, and stdin is a terminal"))),
    };
    let stdin = |what: &str| -> Result<(String, String), Error> {
        piped(what)?;
        let read =
            input::read(std::path::Path::new("-"), MAX_STDIN, Over::Refuse("save it to files and give them with -f"))?;
        if read.lossy {
            return Err(Error::input("-", "not UTF-8"));
        }
        Ok((read.source, read.text))
    };
    if !args.files.is_empty() {
        let mut manifests = Vec::new();
        for path in &args.files {
            manifests.push(match path.as_os_str() == "-" {
                true => Manifests::Text { name: "-".into(), text: stdin("-f - reads manifests")?.1 },
                false => Manifests::Path(path.clone()),
            });
        }
        return Ok(AuditInput::Manifests(manifests));
    }
    Ok(match &args.snapshot {
        Some(path) if path.as_os_str() == "-" => {
            piped("--snapshot - reads the state")?;
            // Read as it streams in, however large: never held whole.
            AuditInput::SnapshotStdin
        }
        Some(path) => AuditInput::Snapshot(path.clone()),
        None => AuditInput::Cluster(args.cluster.connect_options()),
    })
}
