//! `kubectl ai analyze`: find what is broken, with rule-based analyzers.

use std::io::Write as _;
use std::path::PathBuf;

use clap::Parser;

use super::input::{self, Over};
use super::terminal::Terminal;
use super::watch::Plan;
use crate::analyze::{self, AnalyzeOptions, Input, Selection};
use crate::cli::{self, CommonArgs, LlmArgs, WatchArgs};
use crate::error::{Error, Exit};
use crate::explain::diagnose::{self, DiagnoseOptions, Target};
use crate::explain::pipe::{self, InputReport};
use crate::explain::{self, OneRequest, ask_one};
use crate::llm::{Client, ModelConfig};
use crate::progress::Progress;
use crate::render::dryrun::{self, DryRequest};
use crate::render::{self, Format};
use crate::watch::RunOutput;
use crate::watch::alerts::{self, Plugin};
use crate::watch::metrics::RunFacts;

const EXAMPLES: &str = r#"Examples:
  # What is broken in the current namespace, and across the cluster
  kubectl ai analyze
  kubectl ai analyze -A

  # One namespace, as JSON for scripts
  kubectl ai analyze -n shop -o json

  # Save the state (Secret values are never written), analyze it offline
  kubectl ai analyze -A --dump cluster.yaml
  kubectl ai analyze --snapshot cluster.yaml

  # Analyze what kubectl prints
  kubectl get pods,events -A -o yaml | kubectl ai analyze --snapshot -

  # Diagnose one object (cause, evidence, fix, how to verify), or explain logs
  kubectl ai analyze pod checkout-6f8d9c7b5-2xkqp -n shop
  kubectl ai analyze deploy/checkout -n shop --question "why did it stop?"
  kubectl logs -n shop deploy/checkout --previous | kubectl ai analyze -

  # Explain every problem with the model, or see first what would be sent
  kubectl ai analyze -A --explain
  kubectl ai analyze -A --explain --dry-run

  # Several clusters at once, in one report
  kubectl ai analyze -A --context prod-eu,prod-us
  kubectl ai analyze -A --all-contexts

  # In the cluster: every 5 minutes, metrics on :9090, changes to Alertmanager
  kubectl ai analyze -A --watch 5m --metrics-addr :9090 \
    --notify alertmanager+http://alertmanager.monitoring:9093

  # From a CronJob: tell Slack what changed since the last run
  kubectl ai analyze -A --notify env:SLACK_WEBHOOK_URL --state-file state.json

  # For an agent (Claude Code, Cursor …): these analyzers as MCP tools
  kubectl ai exec --mcp-server

Exit codes:
  0  nothing found
  1  problems found (also: a diagnosed object with findings)
  2  usage or input error
  3  the cluster could not be used (unreachable, credentials rejected)
  4  partial or empty: some kinds could not be read, or the namespace or
     selector matched nothing; nothing found
  5  the model failed or is not configured
  7  a --notify sink could not be told (the report was written)
  8  a spending cap was reached (--max-tokens, --max-cost, max_cost_per_day)"#;

/// Find what is broken in a cluster, without a model.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "kubectl-ai-analyze",
    bin_name = "kubectl ai analyze",
    version,
    about = "Find what is broken in a Kubernetes cluster",
    long_about = "Find what is broken in a Kubernetes cluster: pods that crash, cannot pull their image, \
                  cannot be scheduled or never become ready — with the cluster's own messages and a hint \
                  of what to do. Rule-based: no model, no data leaves the machine.",
    after_help = EXAMPLES
)]
pub struct AnalyzeArgs {
    /// `KIND NAME` (or KIND/NAME) diagnoses one object; `-` explains what is piped in
    #[arg(value_name = "KIND NAME | -", num_args = 0..=2)]
    pub target: Vec<String>,

    /// The flags analyze shares with the others.
    #[command(flatten)]
    pub common: CommonArgs,

    /// Explain a file of logs, metrics or an alert (like `-` does with stdin)
    #[arg(long, alias = "file", value_name = "FILE", conflicts_with = "target", help_heading = "Input")]
    pub input: Option<PathBuf>,

    /// A question about the input or the object
    #[arg(long, value_name = "TEXT", help_heading = "Input")]
    pub question: Option<String>,

    /// Analyze a saved state instead of the cluster: a --dump, or `kubectl get … -o yaml|json` output ('-' reads stdin)
    #[arg(long, value_name = "FILE", conflicts_with_all = ["kubeconfig", "context"], help_heading = "Input")]
    pub snapshot: Option<PathBuf>,

    /// Also write the state that was analyzed to FILE (Secret values removed; log tails of failing containers kept)
    #[arg(long, value_name = "FILE", help_heading = "Input")]
    pub dump: Option<PathBuf>,

    /// Log lines read per failing container (for a dump and the Log analyzer)
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(i64).range(1..=10_000), help_heading = "Input")]
    pub log_lines: i64,

    /// How many API requests run at once
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=256), help_heading = "Cluster")]
    pub max_concurrency: u16,

    /// Run only these analyzers (comma-separated names; see --list-analyzers)
    #[arg(long, alias = "filter", value_name = "NAMES", value_delimiter = ',', help_heading = "Analyzers")]
    pub analyzers: Vec<String>,

    /// Also run these optional analyzers besides the default ones, e.g. --enable Log,Secret
    #[arg(long, value_name = "NAMES", value_delimiter = ',', help_heading = "Analyzers")]
    pub enable: Vec<String>,

    /// Do not run these analyzers (comma-separated names)
    #[arg(long, alias = "exclude", value_name = "NAMES", value_delimiter = ',', help_heading = "Analyzers")]
    pub skip_analyzers: Vec<String>,

    /// List the analyzers (default or optional) and exit
    #[arg(long, help_heading = "Analyzers")]
    pub list_analyzers: bool,

    /// Analyze every context of the kubeconfig concurrently, in one report (or several: --context a,b)
    #[arg(long, conflicts_with_all = ["snapshot", "context"], help_heading = "Cluster")]
    pub all_contexts: bool,

    /// Ask the model to explain each distinct problem: cause, fix steps, how to verify
    #[arg(long, help_heading = "Model")]
    pub explain: bool,

    /// Most distinct problems explained by one request (1: one request per problem)
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=32), help_heading = "Model")]
    pub batch: u16,

    /// Model requests in flight at once
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=32), help_heading = "Model")]
    pub llm_concurrency: u16,

    /// Do not read or write the cache of explanations
    #[arg(long, help_heading = "Model")]
    pub no_cache: bool,

    /// Replace namespaces, names, images, hosts, IPs and emails by placeholders in what is sent (restored in the answers)
    #[arg(long, help_heading = "Model")]
    pub anonymize: bool,

    /// The model.
    #[command(flatten)]
    pub llm: LlmArgs,

    /// Watch and notify.
    #[command(flatten)]
    pub watching: WatchArgs,
}

/// The longest explanation asked for, in tokens.
const MAX_ANSWER: u32 = 1024;

/// Runs `kubectl ai analyze`.
pub fn run(args: &AnalyzeArgs) -> anyhow::Result<Exit> {
    cli::no_cluster_hint(
        run_plugin(args),
        "give one with --kubeconfig FILE, analyze a saved state with --snapshot FILE, or try the demo cluster of the source tree (make demo)",
    )
}

fn run_plugin(args: &AnalyzeArgs) -> anyhow::Result<Exit> {
    let progress = Terminal::default();
    let mut stdout = anstream::stdout().lock();
    if args.list_analyzers {
        let width = analyze::catalog().map(|a| a.name.len()).max().unwrap_or(0);
        for a in analyze::catalog() {
            writeln!(stdout, "{:<width$}  {}", a.name, a.description)?;
        }
        return Ok(Exit::Clean);
    }
    if args.target == ["-"] || args.input.is_some() {
        return explain_input(args, &progress, &mut stdout);
    }
    if !args.target.is_empty() {
        return diagnose_object(args, &progress, &mut stdout);
    }
    let plan = Plan::new(&args.watching, Plugin::Analyze)?;
    if plan.watching() {
        let stdin = matches!(input_of(args, true)?, Input::SnapshotStdin);
        plan.rerunnable(stdin, &[("--dump", args.dump.is_some()), ("--dry-run", args.llm.dry_run)])?;
        if args.explain {
            // Before the first run: every run would fail the same way.
            ModelConfig::resolve(&args.llm.options())?.require("--explain")?;
        }
        let cluster = plan.cluster.clone();
        return plan.watch(|| {
            let (report, prompt_tokens, _) = analysis(args, &progress)?;
            let mut json = Vec::new();
            render::report(&mut json, &report, Format::Json)
                .map_err(|e| Error::Usage(format!("cannot write the report: {e}")))?;
            Ok(RunOutput { report: json, facts: facts(&report, prompt_tokens, cluster.as_deref()) })
        });
    }
    let started = std::time::Instant::now();
    let common = &args.common;
    if args.llm.dry_run {
        let analysis = analyze::analyze(&options_of(args)?)?;
        let model = args.llm.resolve("analyze")?;
        let prepared = explain::prepare(&analysis, &model, &explain_options(args));
        let requests: Vec<DryRequest<'_>> = prepared.requests().iter().map(|r| r.dry()).collect();
        dryrun::print(&mut stdout, &model, &requests, prepared.cached(), common.output)?;
        stdout.flush()?;
        return Ok(Exit::Clean);
    }
    let (report, prompt_tokens, capped) = analysis(args, &progress)?;
    for w in &report.warnings {
        match &w.cluster {
            Some(cluster) => cli::warn(format!("context {cluster}: {}", w.message)),
            None => cli::warn(&w.message),
        }
    }
    render::report(&mut stdout, &report, common.output)?;
    stdout.flush()?;
    let exit = if capped {
        Exit::Budget
    } else if !report.results.is_empty() {
        Exit::Problems
    } else if report.partial {
        Exit::Partial
    } else {
        Exit::Clean
    };
    if plan.after_run() {
        let cluster = plan.cluster.clone();
        if let Some(failed) = plan.finish(&facts(&report, prompt_tokens, cluster.as_deref()), started)? {
            return Ok(failed);
        }
    }
    Ok(exit)
}

/// What the flags ask analyze to read and run.
fn options_of(args: &AnalyzeArgs) -> Result<AnalyzeOptions, Error> {
    let common = &args.common;
    // An explanation is better with the log lines of the failing containers.
    let mut enable = args.enable.clone();
    if args.explain {
        enable.push("Log".to_string());
    }
    Ok(AnalyzeOptions {
        input: input_of(args, true)?,
        namespace: common.cluster.namespace.clone(),
        all_namespaces: common.scope.all_namespaces,
        selector: common.scope.selector.clone(),
        analyzers: Selection { only: args.analyzers.clone(), enable, skip: args.skip_analyzers.clone() },
        log_lines: args.log_lines,
        max_concurrency: usize::from(args.max_concurrency),
        dump: args.dump.clone(),
        // An explanation shows the objects whole; a report reads only what its analyzers read.
        whole_objects: args.explain,
    })
}

fn explain_options(args: &AnalyzeArgs) -> explain::Options {
    explain::Options {
        concurrency: usize::from(args.llm_concurrency),
        cache: !args.no_cache,
        anonymize: args.anonymize,
        max_answer: MAX_ANSWER,
        batch: usize::from(args.batch),
    }
}

/// One analysis, explained with `--explain`: the report, the tokens sent, and whether a spending cap
/// left problems unexplained.
fn analysis(args: &AnalyzeArgs, progress: &Terminal) -> Result<(crate::findings::Report, u64, bool), Error> {
    let mut analysis = analyze::analyze(&options_of(args)?)?;
    let mut tokens = 0;
    let mut capped = false;
    if args.explain {
        let model = args.llm.resolve("analyze")?;
        let options = explain_options(args);
        let prepared = explain::prepare(&analysis, &model, &options);
        let client = Client::for_use(model, "--explain")?.reporting_to(progress);
        let stats = explain::explain(&mut analysis.report, &prepared, &client, &options, progress)?;
        tokens = stats.prompt_tokens as u64;
        capped = stats.capped.is_some();
    }
    Ok((analysis.report, tokens, capped))
}

/// What the metrics and notifications read of a report: every finding (`--notify-severity` is
/// applied by the sinks).
fn facts(report: &crate::findings::Report, prompt_tokens: u64, cluster: Option<&str>) -> RunFacts {
    let cluster = cluster.or(report.source.context.as_deref());
    RunFacts {
        findings: alerts::from_analysis(report, crate::findings::Severity::Info, cluster),
        objects: report.source.objects.clone(),
        partial: report.partial,
        prompt_tokens,
    }
}

/// Where the state comes from: `--snapshot` (a file, or `-` for stdin), several contexts
/// (`--context a,b`, `--all-contexts`, when `several`), or the cluster.
fn input_of(args: &AnalyzeArgs, several: bool) -> Result<Input, Error> {
    let cluster = &args.common.cluster;
    if let Some(path) = &args.snapshot {
        if path.as_os_str() != "-" {
            return Ok(Input::Snapshot(path.clone()));
        }
        if !input::piped() {
            return Err(Error::Usage(
                "--snapshot - reads the state from stdin, and nothing is piped in: kubectl get pods,events -A -o yaml | kubectl ai analyze --snapshot -".into(),
            ));
        }
        // Read as it streams in, however large: never held whole.
        return Ok(Input::SnapshotStdin);
    }
    let connect = cluster.connect_options();
    let listed =
        cluster.context.as_deref().filter(|c| c.contains(',')).map(|list| {
            list.split(',').map(str::trim).filter(|c| !c.is_empty()).map(str::to_string).collect::<Vec<_>>()
        });
    Ok(match (args.all_contexts, listed) {
        (true, _) if several => Input::Clusters { connect, contexts: None },
        (false, Some(contexts)) if several => Input::Clusters { connect, contexts: Some(contexts) },
        _ => Input::Cluster(connect),
    })
}

/// Explains what is piped in (or `--file`).
fn explain_input(args: &AnalyzeArgs, progress: &Terminal, out: &mut dyn std::io::Write) -> anyhow::Result<Exit> {
    let path = args.input.clone().unwrap_or_else(|| PathBuf::from("-"));
    if path.as_os_str() == "-" && !input::piped() {
        return Err(Error::Usage(
            "nothing is piped in: kubectl logs POD | kubectl ai analyze -, or --input FILE".into(),
        )
        .into());
    }
    let input = input::read(&path, pipe::MAX_INPUT, Over::Cut)?;
    if input.text.trim().is_empty() {
        return Err(Error::input(
            &input.source,
            "is empty: pipe logs, metrics or an alert into it (kubectl logs POD | kubectl ai analyze -)",
        )
        .into());
    }
    input.warnings().iter().for_each(cli::warn);
    let model = args.llm.resolve("analyze")?;
    let request = pipe::request(&input, args.question.as_deref(), &model, MAX_ANSWER, args.anonymize);
    let Some(answer) = one_answer(args, model, &request, "explaining input", None, progress, out)? else {
        return Ok(Exit::Clean);
    };
    if args.common.output == Format::Json {
        render::answers::input_json(out, &InputReport::new(&input, &request, answer))?;
    }
    Ok(Exit::Clean)
}

/// Diagnoses one object: live through discovery, or from `--snapshot`.
fn diagnose_object(args: &AnalyzeArgs, progress: &Terminal, out: &mut dyn std::io::Write) -> anyhow::Result<Exit> {
    let common = &args.common;
    let model = args.llm.resolve("analyze")?;
    let options = DiagnoseOptions {
        target: Target::parse(&args.target)?,
        input: input_of(args, false)?,
        namespace: common.cluster.namespace.clone(),
        log_lines: args.log_lines,
        max_concurrency: usize::from(args.max_concurrency),
        question: args.question.clone(),
        anonymize: args.anonymize,
        max_answer: MAX_ANSWER,
    };
    let diagnose::Prepared { evidence, request } = diagnose::prepare(&options, &model, progress)?;
    let exit = if evidence.findings.is_empty() { Exit::Clean } else { Exit::Problems };
    if !model.configured && !args.llm.dry_run {
        render::answers::evidence(out, &evidence, common.output, ModelConfig::how_to_configure())?;
        return Ok(exit);
    }
    let heading = render::answers::diagnosis_heading(&evidence);
    let Some(answer) = one_answer(args, model, &request, "a diagnosis", Some(&heading), progress, out)? else {
        return Ok(Exit::Clean);
    };
    if common.output == Format::Json {
        render::answers::diagnosis_json(out, &evidence, &answer, request.trimmed)?;
    }
    Ok(exit)
}

/// Sends one request and returns its answer. For text output the answer is printed too, under the
/// heading: as it streams in, or whole once its names are restored. Under `--dry-run` the request
/// is printed instead and nothing is sent (`None`).
fn one_answer(
    args: &AnalyzeArgs,
    model: ModelConfig,
    request: &OneRequest,
    what: &str,
    heading: Option<&str>,
    progress: &dyn Progress,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<Option<String>> {
    if args.llm.dry_run {
        dryrun::print(out, &model, &[request.dry()], 0, args.common.output)?;
        return Ok(None);
    }
    let client = Client::for_use(model, what)?.reporting_to(progress);
    if args.common.output == Format::Json {
        return Ok(Some(ask_one(&client, request, None)?.text));
    }
    if let Some(heading) = heading {
        writeln!(out, "{heading}")?;
    }
    let mut failed: Option<std::io::Error> = None;
    let mut show = |text: &str| {
        if failed.is_none()
            && let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush())
        {
            failed = Some(e);
        }
    };
    let answer = ask_one(&client, request, Some(&mut show))?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    if answer.streamed {
        writeln!(out)?;
    } else {
        writeln!(out, "{}", answer.text)?;
    }
    Ok(Some(answer.text))
}
