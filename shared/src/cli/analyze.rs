//! `kubectl ai analyze`: find what is broken, with rule-based analyzers.

use std::io::Write as _;
use std::path::PathBuf;

use clap::Parser;

use crate::analyze::{self, ANALYZERS, Analyzer};
use crate::cli::LlmArgs;
use crate::cli::{self, CommonArgs};
use crate::cluster::{Cluster, Scope};
use crate::error::{Error, Exit};
use crate::explain;
use crate::explain::diagnose::{self, Diagnosis, Target};
use crate::explain::pipe;
use crate::findings::Report;
use crate::llm::redact::Anonymizer;
use crate::llm::reply::ThinkFilter;
use crate::llm::{ChatOptions, Message};
use crate::llm::{Client, ModelConfig};
use crate::render;
use crate::render::Format;
use crate::render::dryrun::{self, DryRequest};
use crate::snapshot::selector::LabelSelector;
use crate::snapshot::{FetchPlan, Snapshot, Warning};

const EXAMPLES: &str = r#"Examples:
  # What is broken in the current namespace, and across the cluster
  kubectl ai analyze
  kubectl ai analyze -A

  # One namespace, as JSON for scripts
  kubectl ai analyze -n shop -o json

  # Save the state for later (Secret values are never written), analyze it offline
  kubectl ai analyze -A --dump cluster.yaml
  kubectl ai analyze --snapshot cluster.yaml

  # Analyze what kubectl prints
  kubectl get pods,events -A -o yaml | kubectl ai analyze --snapshot -

  # Diagnose one object (root cause, evidence, fix, how to verify), or explain logs
  kubectl ai analyze pod checkout-6f8d9c7b5-2xkqp -n shop
  kubectl ai analyze deploy/checkout -n shop --question "why did the rollout stop?"
  kubectl logs -n shop deploy/checkout --previous | kubectl ai analyze -

  # Explain every problem with the model, or see first what would be sent
  kubectl ai analyze -A --explain
  kubectl ai analyze -A --explain --dry-run

  # Several clusters at once, in one report
  kubectl ai analyze -A --context prod-eu,prod-us
  kubectl ai analyze -A --all-contexts

Exit codes: 0 nothing found, 1 problems found, 2 usage or input error,
3 cluster unreachable or credentials rejected, 4 partial results with nothing found,
5 the model failed or is not configured."#;

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

    #[command(flatten)]
    pub common: CommonArgs,

    /// Explain a file of logs, metrics or an alert, instead of stdin
    #[arg(long, value_name = "FILE", conflicts_with = "target", help_heading = "Input")]
    pub file: Option<PathBuf>,

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

    /// Run only these analyzers (comma-separated; see --list-analyzers)
    #[arg(long, value_name = "NAMES", value_delimiter = ',', help_heading = "Analyzers")]
    pub filter: Vec<String>,

    /// Do not run these analyzers (comma-separated)
    #[arg(long, value_name = "NAMES", value_delimiter = ',', help_heading = "Analyzers")]
    pub exclude: Vec<String>,

    /// List the analyzers and exit
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

    #[command(flatten)]
    pub llm: LlmArgs,
}

/// The longest explanation asked for, in tokens.
const MAX_ANSWER: u32 = 1024;

/// One cluster, live or from a snapshot file; `--dump` writes what was read.
fn analyze_one(
    args: &AnalyzeArgs,
    analyzers: &[&'static dyn Analyzer],
    selector: Option<&LabelSelector>,
) -> anyhow::Result<(Report, Vec<Snapshot>)> {
    let common = &args.common;
    let (mut snapshot, analyzers) = match &args.snapshot {
        Some(path) => {
            let scope = match &common.cluster.namespace {
                Some(ns) if !common.scope.all_namespaces => Scope::Namespace(ns.clone()),
                _ => Scope::All,
            };
            let mut snapshot = Snapshot::from_file(path)?;
            snapshot.restrict(&scope, selector);
            (snapshot, analyze::for_scope(analyzers, &scope))
        }
        None => {
            let cluster = Cluster::connect(&common.cluster.connect_options())?;
            let scope = common.cluster.scope(&cluster, &common.scope);
            let analyzers = analyze::for_scope(analyzers, &scope);
            let plan = plan(args, &analyzers, scope.clone());
            let mut snapshot = cluster.snapshot(&plan)?;
            snapshot.restrict(&scope, selector);
            (snapshot, analyzers)
        }
    };
    snapshot.info.selector = common.scope.selector.clone().or(snapshot.info.selector.take());
    if let Some(path) = &args.dump {
        snapshot.write_dump(path)?;
    }
    let results = analyze::run(&snapshot, &analyzers);
    let names = analyzers.iter().map(|a| a.name().to_string()).collect();
    let file = args.snapshot.as_ref().map(|p| p.display().to_string());
    let report = Report::new(&snapshot, file, names, results);
    Ok((report, vec![snapshot]))
}

/// Several contexts, read concurrently and merged; a context that cannot be read is a warning.
fn analyze_clusters(
    args: &AnalyzeArgs,
    analyzers: &[&'static dyn Analyzer],
    selector: Option<&LabelSelector>,
    contexts: Vec<String>,
) -> anyhow::Result<(Report, Vec<Snapshot>)> {
    let common = &args.common;
    if args.dump.is_some() {
        return Err(Error::Usage("--dump writes one cluster: give a single --context".into()).into());
    }
    if contexts.is_empty() {
        return Err(Error::Kubeconfig("the kubeconfig defines no context".into()).into());
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
        match Cluster::connect_to(common.cluster.kubeconfig.as_deref(), Some(&name), common.cluster.request_timeout) {
            Ok(cluster) => {
                let scope = common.cluster.scope(&cluster, &common.scope);
                let chosen = analyze::for_scope(analyzers, &scope);
                let plan = plan(args, &chosen, scope.clone());
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
                let results = analyze::run(&snapshot, &chosen);
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
        return Err(Error::Api(format!("no context could be analyzed ({})", why.join("; "))).into());
    }
    Ok((Report::merge(reports, failed), snapshots))
}

fn plan(args: &AnalyzeArgs, analyzers: &[&dyn Analyzer], scope: Scope) -> FetchPlan {
    FetchPlan {
        kinds: analyze::kinds_needed(analyzers),
        scope,
        selector: args.common.scope.selector.clone(),
        max_concurrency: usize::from(args.max_concurrency),
        log_lines: (args.dump.is_some() || analyze::wants_logs(analyzers)).then_some(args.log_lines),
    }
}

/// Explains what is piped in (or `--file`).
fn explain_input(args: &AnalyzeArgs, out: &mut dyn std::io::Write) -> anyhow::Result<Exit> {
    let path = args.file.clone().unwrap_or_else(|| PathBuf::from("-"));
    let input = pipe::read(&path)?;
    input.warnings().iter().for_each(cli::warn);
    let model = ModelConfig::resolve(&args.llm.options())?;
    let (messages, trimmed) = pipe::messages(
        &input,
        args.question.as_deref(),
        &model.model,
        model.context_window,
        &model.language,
        MAX_ANSWER,
    );
    let title = format!("explain {}", input.source);
    let request = OneRequest { title: &title, messages, trimmed, anonymizer: args.anonymize.then(Anonymizer::default) };
    let Some(answer) = one_answer(args, model, request, "explaining input", None, out)? else {
        return Ok(Exit::Clean);
    };
    if args.common.output == Format::Json {
        let doc = serde_json::json!({
            "source": input.source,
            "lines": input.text.lines().count(),
            "distinct": pipe::collapse(&input.text).len(),
            "trimmed": trimmed,
            "answer": answer,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
    }
    Ok(Exit::Clean)
}

/// Diagnoses one object: live through discovery, or from `--snapshot`.
fn diagnose_object(args: &AnalyzeArgs, out: &mut dyn std::io::Write) -> anyhow::Result<Exit> {
    let common = &args.common;
    let target = Target::parse(&args.target)?;
    let model = ModelConfig::resolve(&args.llm.options())?;
    let namespace = common.cluster.namespace.as_deref();
    let diagnose::Collected { mut snapshot, object, node } = match &args.snapshot {
        Some(path) => {
            diagnose::collect_offline(Snapshot::from_file(path)?, &path.display().to_string(), &target, namespace)?
        }
        None => diagnose::collect_live(
            &Cluster::connect(&common.cluster.connect_options())?,
            &target,
            namespace,
            args.log_lines,
            usize::from(args.max_concurrency),
        )?,
    };
    for w in &snapshot.info.warnings {
        cli::warn(format!("{} (left out of the evidence)", w.message));
    }
    let findings = analyze::run(&snapshot, &analyze::for_scope(&analyze::select(&[], &[])?, &Scope::All));
    let evidence = diagnose::gather(&snapshot, &object, &findings, node.as_ref());
    snapshot.logs.clear();
    let (messages, trimmed) = diagnose::messages(&evidence, args.question.as_deref(), &model, MAX_ANSWER);
    let exit = if evidence.findings.is_empty() { Exit::Clean } else { Exit::Problems };
    let json = common.output == Format::Json;
    let object_line = format!("{} {}", evidence.object.kind, evidence.object_name());
    if !model.configured && !args.llm.dry_run {
        if json {
            let sections: Vec<_> =
                evidence.sections.iter().map(|s| serde_json::json!({"title": s.title, "text": s.text})).collect();
            let doc = serde_json::json!({"object": evidence.object, "findings": evidence.findings, "diagnosis": null, "evidence": sections});
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        } else {
            writeln!(out, "Evidence about {object_line}\n")?;
            for s in &evidence.sections {
                writeln!(out, "## {}\n{}\n", s.title, s.text.trim_end())?;
            }
            writeln!(
                out,
                "No model is configured, so this is the evidence only. For a diagnosis: {}",
                ModelConfig::how_to_configure()
            )?;
        }
        return Ok(exit);
    }
    let anonymizer = args.anonymize.then(|| {
        let mut a = Anonymizer::default();
        a.learn(&snapshot);
        a
    });
    let title = format!("diagnose {object_line}");
    let heading = format!("Diagnosis of {object_line}\n");
    let request = OneRequest { title: &title, messages, trimmed, anonymizer };
    let Some(answer) = one_answer(args, model, request, "a diagnosis", Some(&heading), out)? else {
        return Ok(Exit::Clean);
    };
    if json {
        let doc = serde_json::json!({"object": evidence.object, "findings": evidence.findings, "diagnosis": Diagnosis::from_markdown(&answer), "trimmed": trimmed});
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
    }
    Ok(exit)
}

/// A request for one answer, as a command builds it.
struct OneRequest<'a> {
    title: &'a str,
    messages: Vec<Message>,
    trimmed: bool,
    /// With `--anonymize`: names are hidden in what is sent and put back in the answer.
    anonymizer: Option<Anonymizer>,
}

/// Sends one request and returns its answer (reasoning left out, names restored). For text
/// output the answer is printed too, under `heading`: as it streams in, or whole once restored
/// when anonymized. Under `--dry-run` the request is printed instead and nothing is sent (`None`).
fn one_answer(
    args: &AnalyzeArgs,
    model: ModelConfig,
    mut request: OneRequest<'_>,
    what: &str,
    heading: Option<&str>,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<Option<String>> {
    if let Some(a) = request.anonymizer.as_mut() {
        request.messages.iter_mut().for_each(|m| m.content = a.apply(&m.content));
    }
    if args.llm.dry_run {
        let dry = DryRequest {
            title: request.title,
            messages: &request.messages,
            trimmed: request.trimmed,
            max_answer: MAX_ANSWER,
        };
        dryrun::print(out, &model, &[dry], 0, args.common.output)?;
        return Ok(None);
    }
    let client = model_client(model, what)?;
    let text = args.common.output != Format::Json;
    let stream = text && request.anonymizer.is_none();
    if let Some(h) = heading.filter(|_| text) {
        writeln!(out, "{h}")?;
    }
    let answer = ask(&client, &request.messages, stream, out)?;
    let answer = request.anonymizer.as_ref().map_or(answer.clone(), |a| a.restore(&answer));
    if text && !stream {
        writeln!(out, "{answer}")?;
    }
    Ok(Some(answer))
}

fn model_client(model: ModelConfig, what: &str) -> anyhow::Result<Client> {
    if !model.configured {
        return Err(Error::Model(format!("{what} needs a model: {}", ModelConfig::how_to_configure())).into());
    }
    Ok(Client::new(model)?)
}

/// Asks, printing the answer as it streams in when `stream`; returns it whole. Reasoning
/// (`<think>…</think>`) is left out of both.
fn ask(client: &Client, messages: &[Message], stream: bool, out: &mut dyn std::io::Write) -> anyhow::Result<String> {
    let options = ChatOptions { max_tokens: MAX_ANSWER, ..ChatOptions::default() };
    if !stream {
        return Ok(crate::llm::reply::strip_think(&client.chat(messages, &options, None)?.content));
    }
    let mut filter = ThinkFilter::default();
    let mut failed: Option<std::io::Error> = None;
    let mut show = |d: &str| {
        let visible = filter.push(d);
        if failed.is_none()
            && !visible.is_empty()
            && let Err(e) = out.write_all(visible.as_bytes()).and_then(|()| out.flush())
        {
            failed = Some(e);
        }
    };
    let reply = client.chat(messages, &options, Some(&mut show))?;
    let rest = filter.finish();
    if let Some(e) = failed {
        return Err(e.into());
    }
    writeln!(out, "{rest}")?;
    Ok(crate::llm::reply::strip_think(&reply.content))
}

/// Runs `kubectl ai analyze`.
pub fn run(args: &AnalyzeArgs) -> anyhow::Result<Exit> {
    let mut stdout = anstream::stdout().lock();
    if args.list_analyzers {
        let width = ANALYZERS.iter().map(|a| a.name().len()).max().unwrap_or(0);
        for a in ANALYZERS {
            writeln!(stdout, "{:<width$}  {}", a.name(), a.description())?;
        }
        return Ok(Exit::Clean);
    }
    if args.target == ["-"] || args.file.is_some() {
        return explain_input(args, &mut stdout);
    }
    if !args.target.is_empty() {
        return diagnose_object(args, &mut stdout);
    }
    let mut analyzers = analyze::select(&args.filter, &args.exclude)?;
    // An explanation is better with the log lines of the failing containers.
    if args.explain && !analyze::wants_logs(&analyzers) {
        analyzers.push(&analyze::pod::LogAnalyzer);
    }
    let common = &args.common;
    let selector = common.scope.selector.as_deref().map(LabelSelector::parse).transpose().map_err(Error::Usage)?;
    if args.dump.as_deref().is_some_and(|p| p.as_os_str() == "-") {
        return Err(Error::Usage("--dump needs a file name (stdout carries the report)".into()).into());
    }

    let several = match (&common.cluster.context, args.all_contexts) {
        (_, true) => Some(Cluster::contexts(common.cluster.kubeconfig.as_deref())?),
        (Some(list), false) if list.contains(',') => {
            Some(list.split(',').map(str::trim).filter(|c| !c.is_empty()).map(str::to_string).collect())
        }
        _ => None,
    };
    let (mut report, snapshots) = match several {
        Some(contexts) => analyze_clusters(args, &analyzers, selector.as_ref(), contexts)?,
        None => analyze_one(args, &analyzers, selector.as_ref())?,
    };
    if args.explain || args.llm.dry_run {
        let model = ModelConfig::resolve(&args.llm.options())?;
        let options = explain::Options {
            concurrency: usize::from(args.llm_concurrency),
            cache: !args.no_cache,
            anonymize: args.anonymize,
            max_answer: MAX_ANSWER,
            batch: usize::from(args.batch),
        };
        let mut anonymizer = args.anonymize.then(|| {
            let mut a = Anonymizer::default();
            snapshots.iter().for_each(|s| a.learn(s));
            a
        });
        let plan = explain::plan(&report, &snapshots, &model, &options, anonymizer.as_mut());
        if args.llm.dry_run {
            let requests: Vec<DryRequest<'_>> = plan
                .requests
                .iter()
                .map(|r| DryRequest {
                    title: &r.title,
                    messages: &r.messages,
                    trimmed: r.trimmed,
                    max_answer: r.max_answer,
                })
                .collect();
            dryrun::print(&mut stdout, &model, &requests, plan.cached.len(), common.output)?;
            stdout.flush()?;
            return Ok(Exit::Clean);
        }
        if !model.configured {
            return Err(Error::Model(format!("--explain needs a model: {}", ModelConfig::how_to_configure())).into());
        }
        let client = Client::new(model)?;
        if !plan.problems.is_empty() {
            let (stats, warnings) = explain::run(&mut report, &plan, &client, &options, anonymizer.as_ref())?;
            tracing::info!(
                "explained {} problem(s): {} request(s), {} from the cache, {} prompt tokens",
                stats.problems,
                stats.requests,
                stats.cached,
                stats.prompt_tokens
            );
            warnings.iter().for_each(cli::warn);
        }
    }
    for w in &report.warnings {
        match &w.cluster {
            Some(cluster) => cli::warn(format!("context {cluster}: {}", w.message)),
            None => cli::warn(&w.message),
        }
    }
    render::report(&mut stdout, &report, common.output)?;
    stdout.flush()?;
    Ok(if !report.results.is_empty() {
        Exit::Problems
    } else if report.partial {
        Exit::Partial
    } else {
        Exit::Clean
    })
}
