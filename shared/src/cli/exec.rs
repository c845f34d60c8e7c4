//! `kubectl ai exec`: an agent that answers questions and performs operations, asking before changes.

use std::io::{IsTerminal as _, Write as _};
use std::time::Duration;

use clap::Parser;

use crate::cli::{self, ClusterArgs, LogArgs, parse_duration};
use crate::cli::{ANSWER_FORMATS, LlmArgs, one_of};
use crate::cluster::Cluster;
use crate::error::{Error, Exit};
use crate::exec::agent::{self, Conversation, Limits, Observer, Protocol};
use crate::exec::tools::kubectl::{Class, Session};
use crate::exec::tools::{self, Approver, Decision, Step, Toolbox, budget};
use crate::llm::tokens::{self, Counter};
use crate::llm::{Client, Message, ModelConfig};
use crate::render::Format;
use crate::render::dryrun::{self, DryRequest};

const EXAMPLES: &str = r#"Examples:
  # Questions: read-only kubectl calls run at once
  kubectl ai exec "how many namespaces are there?"
  kubectl ai exec -n shop "which pods use more than 1Gi of memory limit, as CSV?"

  # Operations: every change is shown and asked for first (--yes approves, --read-only refuses)
  kubectl ai exec "scale web to 3 replicas" -n shop

  # Context from stdin
  kubectl logs web-0 | kubectl ai exec "why does this fail?"

  # No question on a terminal: an interactive session (/reset, /model, /tools, /exit)
  kubectl ai exec

Exit codes: 0 answered, 1 stopped without an answer (--max-iterations, a repeated call), 2 usage,
3 cluster unreachable, 5 the model failed."#;

/// Ask questions about the cluster or ask for operations, in natural language.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "kubectl-ai-exec",
    bin_name = "kubectl ai exec",
    version,
    about = "Answer questions and perform operations in natural language, asking before any change",
    long_about = "Answer questions and perform operations in natural language. The model works through \
                  kubectl (run directly, never through a shell; pipes into jq, grep, wc, head, tail, sort \
                  and uniq run in-process) and jq. Reads run at once; every change is shown and confirmed \
                  first, and written to the audit log. Nothing secret reaches the model.",
    after_help = EXAMPLES
)]
pub struct ExecArgs {
    /// The question or instruction; none on a terminal starts an interactive session
    #[arg(value_name = "QUESTION")]
    pub question: Vec<String>,

    #[command(flatten)]
    pub cluster: ClusterArgs,

    /// Run changes without asking
    #[arg(long, short = 'y', conflicts_with = "read_only", help_heading = "Safety")]
    pub yes: bool,

    /// Refuse every change (also `read_only = true` in the profile)
    #[arg(long, help_heading = "Safety")]
    pub read_only: bool,

    /// Most tool calls for one question
    #[arg(long, value_name = "N", default_value_t = 15, value_parser = clap::value_parser!(u16).range(1..=200), help_heading = "Agent")]
    pub max_iterations: u16,

    /// Longest one kubectl call may run
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration, help_heading = "Agent")]
    pub tool_timeout: Duration,

    /// Longest one question may take, model calls and tools together
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration, help_heading = "Agent")]
    pub timeout: Duration,

    /// Most tokens one tool result may take (default: 15 % of the window, at most 8000)
    #[arg(long, value_name = "TOKENS", help_heading = "Agent")]
    pub max_tool_tokens: Option<usize>,

    /// Output format
    #[arg(short = 'o', long, value_parser = one_of(ANSWER_FORMATS), default_value_t = Format::Text, help_heading = "Output")]
    pub output: Format,

    #[command(flatten)]
    pub llm: LlmArgs,

    #[command(flatten)]
    pub log: LogArgs,
}

/// The longest answer of one model call, in tokens.
const MAX_ANSWER: u32 = 1024;
/// How long `logs -f` and `get -w` run.
const ENDLESS_FOR: Duration = Duration::from_secs(5);
/// Context read from stdin, at most.
const MAX_STDIN: u64 = 8 * 1024 * 1024;

/// Asks on the terminal, showing the exact command, context and namespace.
struct TerminalApprover {
    can_prompt: bool,
}

impl Approver for TerminalApprover {
    fn approve(&mut self, command: &str, class: Class, context: &str, namespace: &str) -> Decision {
        if !self.can_prompt {
            return Decision::NoTerminal;
        }
        let what = if class == Class::Write { "changes the cluster" } else { "may change the cluster" };
        eprintln!("\n  {command}\n  {what} · context {context} · namespace {namespace}");
        let choices = ["No", "Yes", "Yes, and every change in this session"];
        match dialoguer::Select::new().with_prompt("Run it?").items(choices).default(0).interact_opt() {
            Ok(Some(1)) => Decision::Yes,
            Ok(Some(2)) => Decision::Always,
            _ => Decision::No,
        }
    }
}

/// `-v`: thoughts and tool calls on stderr as they happen.
struct Progress {
    verbose: bool,
}

impl Observer for Progress {
    fn thought(&mut self, text: &str) {
        if self.verbose {
            let dim = anstyle::Style::new().effects(anstyle::Effects::DIMMED);
            let _ = writeln!(anstream::stderr(), "{dim}{text}{dim:#}");
        }
    }

    fn tool(&mut self, step: &Step) {
        if self.verbose {
            let status = match (&step.refused, step.exit_code) {
                (Some(why), _) => format!("refused: {why}"),
                (None, Some(code)) => format!("exit {code}, {} tokens", step.output_tokens),
                (None, None) => format!("{} tokens", step.output_tokens),
            };
            let _ = writeln!(anstream::stderr(), "→ {} {} ({status})", step.tool, step.input);
        }
    }
}

/// Runs `kubectl ai exec`.
pub fn run(args: &ExecArgs) -> anyhow::Result<Exit> {
    let mut question = args.question.join(" ").trim().to_string();
    let stdin = read_stdin()?;
    if question.is_empty() && stdin.is_some() {
        return Err(Error::Usage(
            "something was piped in: say what to do with it, e.g. kubectl ai exec \"why does this fail?\"".into(),
        )
        .into());
    }
    let interactive = question.is_empty();
    if interactive && !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Err(Error::Usage("give a question: kubectl ai exec \"how many namespaces are there?\"".into()).into());
    }
    let model = ModelConfig::resolve(&args.llm.options())?;
    let counter = Counter::for_model(&model.model);
    let (window, _) = tokens::context_window(&model.model, model.context_window);
    let cap = args.max_tool_tokens.unwrap_or_else(|| budget::default_cap(window));
    if let Some(input) = stdin {
        let context = budget::fit(&counter, &crate::llm::redact::redact_input(&input), cap);
        question = format!("Context from stdin:\n```\n{}\n```\n\n{question}", context.trim_end());
    }
    // A dry run shows the request even where no cluster is configured.
    let cluster = match Cluster::connect(&args.cluster.connect_options()) {
        Ok(c) => Some(c),
        Err(_) if args.llm.dry_run => None,
        Err(e) => return Err(e.into()),
    };
    let context = cluster.as_ref().and_then(|c| c.context.clone()).or_else(|| args.cluster.context.clone());
    let namespace = args
        .cluster
        .namespace
        .clone()
        .or_else(|| cluster.as_ref().map(|c| c.default_namespace.clone()))
        .unwrap_or_else(|| "default".into());
    let protocol = if model.tool_calling { Protocol::Native } else { Protocol::React };
    let extras = tools::extra::available(&model.custom_tools)?;
    let mut conversation = Conversation::new(
        agent::system_prompt(context.as_deref().unwrap_or("in-cluster"), &namespace),
        protocol,
        tools::react_lines(&extras),
    );
    if args.llm.dry_run {
        let mut messages = conversation.messages.clone();
        messages.push(Message::user(crate::llm::redact::redact_text(&question)));
        let dry = DryRequest { title: "exec", messages: &messages, trimmed: false, max_answer: MAX_ANSWER };
        let format = args.output;
        let mut out = anstream::stdout().lock();
        dryrun::print(&mut out, &model, &[dry], 0, format)?;
        if format == Format::Text {
            let schemas: usize = tools::schemas(&extras).iter().map(|s| counter.count(&s.to_string())).sum();
            let system = counter.count(&conversation.messages[0].content);
            writeln!(
                out,
                "tools offered: {} ({schemas} tokens of schemas); fixed overhead (system prompt + schemas): {} tokens",
                tools::names(&extras).join(", "),
                system + schemas
            )?;
        }
        return Ok(Exit::Clean);
    }
    if !model.configured {
        return Err(Error::Model(format!("exec needs a model: {}", ModelConfig::how_to_configure())).into());
    }
    let kubectl = which::which("kubectl")
        .map_err(|_| Error::Usage("kubectl was not found on PATH: exec runs the real kubectl".into()))?;
    // A cluster that cannot be used at all (refused, untrusted certificate, rejected credentials)
    // is one line and exit 3 before the model is asked anything.
    if let Some(cluster) = &cluster {
        cluster.server_version()?;
    }
    let read_only = args.read_only || model.read_only;
    let client = Client::new(model)?;
    let session = Session {
        kubectl,
        kubeconfig: args.cluster.kubeconfig.clone(),
        context: context.clone(),
        namespace: args.cluster.namespace.clone(),
        default_namespace: Some(namespace.clone()),
        timeout: args.tool_timeout,
        request_timeout: Some(args.cluster.request_timeout).filter(|t| !t.is_zero()),
        endless_for: ENDLESS_FOR,
    };
    let mut approver =
        TerminalApprover { can_prompt: std::io::stdin().is_terminal() && std::io::stderr().is_terminal() };
    let mut toolbox = Toolbox::new(session, &mut approver, counter, cap);
    toolbox.read_only = read_only;
    toolbox.extras = extras;
    toolbox.approved = args.yes;
    let limits = Limits { max_iterations: args.max_iterations, max_answer: MAX_ANSWER, timeout: args.timeout };
    let mut progress = Progress { verbose: args.log.verbose > 0 };
    if interactive {
        return session_loop(&client, &mut conversation, &mut toolbox, limits, &mut progress);
    }
    let answer = agent::ask(&client, &mut conversation, &question, &mut toolbox, limits, &mut progress)?;
    let mut out = anstream::stdout().lock();
    match args.output {
        Format::Json => {
            let mut text = serde_json::to_vec_pretty(&answer)?;
            text.push(b'\n');
            out.write_all(&text)?;
        }
        _ => print_answer(&mut out, &answer.answer)?,
    }
    out.flush()?;
    if let Some(why) = &answer.stopped {
        eprintln!("error: stopped without an answer: {why}");
        return Ok(Exit::Problems);
    }
    Ok(Exit::Clean)
}

/// Markdown rendered for a terminal; as it is when piped.
fn print_answer(out: &mut dyn std::io::Write, answer: &str) -> std::io::Result<()> {
    if std::io::stdout().is_terminal() {
        let skin = termimad::MadSkin::default();
        write!(out, "{}", skin.term_text(answer))
    } else {
        writeln!(out, "{}", answer.trim_end())
    }
}

/// What stdin holds, when something is piped in (an empty pipe is nothing).
fn read_stdin() -> anyhow::Result<Option<String>> {
    if std::io::stdin().is_terminal() {
        return Ok(None);
    }
    let input = crate::explain::pipe::read_from(std::io::stdin().lock(), "stdin".into(), MAX_STDIN)?;
    if input.text.trim().is_empty() {
        return Ok(None);
    }
    input.warnings().iter().for_each(cli::warn);
    Ok(Some(input.text))
}

/// The interactive session: one conversation, several questions.
fn session_loop(
    client: &Client,
    conversation: &mut Conversation,
    toolbox: &mut Toolbox<'_>,
    limits: Limits,
    progress: &mut Progress,
) -> anyhow::Result<Exit> {
    eprintln!("Ask about the cluster or ask for a change. /reset forgets, /model, /tools, /exit.");
    loop {
        let line: String = match dialoguer::Input::new().with_prompt("›").allow_empty(true).interact_text() {
            Ok(l) => l,
            Err(_) => return Ok(Exit::Clean),
        };
        match line.trim() {
            "" => continue,
            "/exit" | "/quit" => return Ok(Exit::Clean),
            "/reset" => {
                conversation.reset();
                eprintln!("(the conversation was reset)");
            }
            "/model" => {
                let c = client.config();
                eprintln!("{} {} at {}", c.provider.name(), c.model, client.url());
            }
            "/tools" => eprintln!("{}", tools::names(&toolbox.extras).join(", ")),
            q if q.starts_with('/') => eprintln!("unknown command {q}: /reset, /model, /tools, /exit"),
            q => match agent::ask(client, conversation, q, toolbox, limits, progress) {
                Ok(a) => {
                    let mut out = anstream::stdout().lock();
                    print_answer(&mut out, &a.answer)?;
                    if let Some(why) = a.stopped {
                        cli::warn(format!("stopped without an answer: {why}"));
                    }
                }
                Err(e) => eprintln!("error: {e}"),
            },
        }
    }
}
