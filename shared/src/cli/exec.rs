//! `kubectl ai exec`: an agent that answers questions and performs operations, asking before changes.

use std::io::{IsTerminal as _, Write as _};
use std::path::Path;
use std::time::Duration;

use clap::Parser;

use super::input::{self, Over};
use super::terminal::Terminal;
use crate::cli::{self, ANSWER_FORMATS, ClusterArgs, LlmArgs, LogArgs, one_of, parse_duration};
use crate::error::{Error, Exit};
use crate::exec::Class;
use crate::exec::Observer;
use crate::exec::{Approver, Change, Decision, Step};
use crate::exec::{Exec, ExecOptions, MAX_ANSWER, Running, sessions};
use crate::mcp::McpOptions;
use crate::render::dryrun::{self, DryRequest};
use crate::render::{self, Format};

const EXAMPLES: &str = r#"Examples:
  # Questions: read-only kubectl calls run at once
  kubectl ai exec "how many namespaces are there?"
  kubectl ai exec -n shop "which pods have a memory limit over 1Gi, as CSV?"

  # Operations: every change is shown and asked for first
  # (--yes approves, --read-only refuses)
  kubectl ai exec "scale web to 3 replicas" -n shop

  # Context from stdin
  kubectl logs web-0 | kubectl ai exec "why does this fail?"

  # No question on a terminal: an interactive session (/reset, /model, /exit)
  kubectl ai exec

  # Every session is saved: go on with the last one, or a listed one
  kubectl ai exec --resume "and what changed since?"
  kubectl ai exec --list-sessions
  kubectl ai exec --resume=20261203-141002-7f3a "is it fixed now?"

  # A budget per question, and what was spent (every plugin)
  kubectl ai exec --max-cost 0.05 "why is checkout slow?"
  kubectl ai exec --usage

  # The same, in a browser on this machine
  kubectl ai exec --ui

  # Serve the tools to another agent over MCP (read-only unless --allow-writes)
  claude mcp add opsagent -- kubectl-ai-exec --mcp-server

Exit codes:
  0  answered
  1  stopped without an answer (--max-iterations, a repeated call)
  2  usage or input error
  3  the cluster could not be used (unreachable, credentials rejected)
  5  the model failed or is not configured
  6  a change was asked for and not made (read-only, declined, no terminal)
  8  a spending cap was reached (--max-tokens, --max-cost, max_cost_per_day)"#;

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

    /// How to reach the cluster.
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

    /// Most tokens one tool result may take (default: 15 % of the window, at most 8000)
    #[arg(long, value_name = "TOKENS", help_heading = "Agent")]
    pub max_tool_tokens: Option<usize>,

    /// Output format
    #[arg(short = 'o', long, value_parser = one_of(ANSWER_FORMATS), default_value_t = Format::Text, help_heading = "Output")]
    pub output: Format,

    /// Continue a saved session: the last one, or --resume=ID (see --list-sessions)
    #[arg(long, value_name = "ID", num_args = 0..=1, require_equals = true, default_missing_value = "", help_heading = "Sessions")]
    pub resume: Option<String>,

    /// List the saved sessions, newest first
    #[arg(long, conflicts_with_all = ["question", "resume", "delete_session", "mcp_server"], help_heading = "Sessions")]
    pub list_sessions: bool,

    /// Delete a saved session, or every one (--delete-session --all)
    #[arg(long, value_name = "ID", num_args = 0..=1, default_missing_value = "", conflicts_with_all = ["question", "resume", "mcp_server"], help_heading = "Sessions")]
    pub delete_session: Option<String>,

    /// With --delete-session: every saved session
    #[arg(long, requires = "delete_session", help_heading = "Sessions")]
    pub all: bool,

    /// Print the usage ledger of every plugin: tokens and estimated cost per day, plugin, profile
    /// and model, for the last 30 days
    #[arg(long, conflicts_with_all = ["question", "resume", "list_sessions", "delete_session", "mcp_server", "dry_run"], help_heading = "Sessions")]
    pub usage: bool,

    /// Serve exec as a local web page: the conversation, tool calls as they run, approvals with a
    /// click, the model picked per question, saved sessions (prints its URL with a one-time token)
    #[arg(long, conflicts_with_all = ["question", "dry_run", "mcp_server", "list_sessions", "delete_session", "usage", "resume"], help_heading = "Web page")]
    pub ui: bool,

    /// With --ui: print the URL only, do not open a browser
    #[arg(long, requires = "ui", help_heading = "Web page")]
    pub no_browser: bool,

    /// Serve analyze, audit, manifest validation and the guarded kubectl to another agent over MCP
    /// (stdio; --listen for HTTP); --context a,b names the contexts it may use
    #[arg(long, conflicts_with_all = ["question", "dry_run"], help_heading = "MCP server")]
    pub mcp_server: bool,

    /// Serve MCP over streamable HTTP on ADDR/mcp (e.g. 127.0.0.1:8931), with a bearer token;
    /// with --ui, the page's address (default 127.0.0.1 on a free port)
    #[arg(long, value_name = "ADDR", help_heading = "MCP server")]
    pub listen: Option<std::net::SocketAddr>,

    /// Offer kubectl_change: changes, each approved by the user through the client (or --yes)
    #[arg(long, requires = "mcp_server", conflicts_with = "read_only", help_heading = "MCP server")]
    pub allow_writes: bool,

    /// The bearer token's file (first line); default: a new token, printed once on stderr
    #[arg(long, value_name = "FILE", requires_all = ["listen", "mcp_server"], help_heading = "MCP server")]
    pub token_file: Option<std::path::PathBuf>,

    /// TLS certificate chain (PEM) for --listen; needed beyond loopback
    #[arg(long, value_name = "FILE", requires_all = ["listen", "tls_key"], help_heading = "MCP server")]
    pub tls_cert: Option<std::path::PathBuf>,

    /// TLS private key (PEM) for --tls-cert
    #[arg(long, value_name = "FILE", requires = "tls_cert", help_heading = "MCP server")]
    pub tls_key: Option<std::path::PathBuf>,

    /// The model.
    #[command(flatten)]
    pub llm: LlmArgs,

    /// Colors and logging.
    #[command(flatten)]
    pub log: LogArgs,
}

/// Context read from stdin, at most.
const MAX_STDIN: u64 = 8 * 1024 * 1024;

/// Asks on the terminal, showing the exact command, context and namespace.
struct TerminalApprover {
    can_prompt: bool,
}

impl Approver for TerminalApprover {
    fn approve(&mut self, change: &Change<'_>) -> Decision {
        if !self.can_prompt {
            return Decision::NoTerminal;
        }
        let what = if change.class == Class::Write {
            "changes the cluster"
        } else {
            "may change the cluster or reach beyond it"
        };
        eprintln!(
            "\n  {}\n  {what} · context {} · server {} · namespace {}",
            change.command, change.context, change.server, change.namespace
        );
        let choices = ["No", "Yes", "Yes, and every change in this session (each is still shown)"];
        match dialoguer::Select::new().with_prompt("Run it?").items(choices).default(0).interact_opt() {
            Ok(Some(1)) => Decision::Yes,
            Ok(Some(2)) => Decision::Always,
            _ => Decision::No,
        }
    }

    fn running(&mut self, change: &Change<'_>) {
        let _ = writeln!(
            anstream::stderr(),
            "running (approved): {} · context {} · namespace {}",
            change.command,
            change.context,
            change.namespace
        );
    }
}

/// `-v`: thoughts and tool calls on stderr as they happen.
struct Verbose {
    verbose: bool,
}

impl Observer for Verbose {
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
    cli::no_cluster_hint(run_plugin(args), "give one with --kubeconfig FILE: exec works on a cluster through kubectl")
}

fn run_plugin(args: &ExecArgs) -> anyhow::Result<Exit> {
    if args.listen.is_some() && !(args.mcp_server || args.ui) {
        return Err(Error::Usage("--listen serves MCP (--mcp-server) or the page (--ui): add one".into()).into());
    }
    if args.mcp_server {
        return mcp_server(args);
    }
    if args.ui {
        return web_page(args);
    }
    if args.list_sessions {
        return list_sessions(args.output);
    }
    if args.usage {
        return usage(args.output);
    }
    if let Some(id) = &args.delete_session {
        let every = match (id.as_str(), args.all) {
            ("", true) | ("all", false) => true,
            ("", false) | (_, true) => {
                return Err(
                    Error::Usage("--delete-session takes one session's ID, or --all for every one".into()).into()
                );
            }
            _ => false,
        };
        let n = sessions::delete((!every).then_some(id.as_str()))?;
        eprintln!("deleted {n} session{}", if n == 1 { "" } else { "s" });
        return Ok(Exit::Clean);
    }
    let progress = Terminal::default();
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
    let mut model = args.llm.resolve("exec")?;
    // exec's deadline is per question (interactive sessions last longer than one).
    model.deadline = None;
    let options = exec_options(args);
    let exec = Exec::prepare(&options, model, args.llm.dry_run)?;
    if let Some(input) = stdin {
        question = exec.with_context(&question, &input);
    }
    if args.llm.dry_run {
        let messages = exec.first_messages(&question);
        let dry = DryRequest { title: "exec", messages: &messages, trimmed: false, max_answer: MAX_ANSWER };
        let mut out = anstream::stdout().lock();
        dryrun::print(&mut out, exec.model(), &[dry], 0, args.output)?;
        if args.output == Format::Text {
            let (names, schemas, system) = exec.overhead();
            writeln!(
                out,
                "tools offered: {} ({schemas} tokens of schemas); fixed overhead (system prompt + schemas): {} tokens",
                names.join(", "),
                system + schemas
            )?;
        }
        return Ok(Exit::Clean);
    }
    let mut approver =
        TerminalApprover { can_prompt: std::io::stdin().is_terminal() && std::io::stderr().is_terminal() };
    let mut running = exec.start(&mut approver, &progress)?;
    if let Some(id) = &args.resume {
        resume(&mut running, (!id.is_empty()).then_some(id.as_str()))?;
    }
    let mut verbose = Verbose { verbose: args.log.verbose > 0 };
    if interactive {
        return session_loop(&mut running, &mut verbose);
    }
    let answer = running.ask(&question, &mut verbose)?;
    let mut out = anstream::stdout().lock();
    match args.output {
        Format::Json => render::answers::serialized(&mut out, &answer)?,
        _ => render::answers::answer(&mut out, &answer.answer, std::io::stdout().is_terminal())?,
    }
    out.flush()?;
    // On a terminal the answer already ends with what was not done; elsewhere stderr says it too,
    // one line each, for the logs of a pipeline.
    if !std::io::stdout().is_terminal() {
        for n in &answer.not_run {
            eprintln!("not done: {} ({})", n.command, n.why);
        }
    }
    if !answer.not_run.is_empty() {
        return Ok(Exit::NotDone);
    }
    if let Some(why) = &answer.stopped {
        eprintln!("error: stopped without an answer: {why}");
        return Ok(Exit::Problems);
    }
    Ok(Exit::Clean)
}

fn exec_options(args: &ExecArgs) -> ExecOptions {
    ExecOptions {
        connect: args.cluster.connect_options(),
        namespace: args.cluster.namespace.clone(),
        yes: args.yes,
        read_only: args.read_only,
        max_iterations: args.max_iterations,
        tool_timeout: args.tool_timeout,
        timeout: args.llm.timeout(),
        max_tool_tokens: args.max_tool_tokens,
        jq_worker: std::env::current_exe().ok(),
    }
}

/// `--mcp-server`: serves until the client leaves or a signal; stdin and stdout are the transport
/// (stdio), so only stderr speaks.
fn mcp_server(args: &ExecArgs) -> anyhow::Result<Exit> {
    let mut exec = exec_options(args);
    let contexts: Vec<String> = exec
        .connect
        .context
        .take()
        .map(|c| c.split(',').map(str::trim).filter(|c| !c.is_empty()).map(str::to_string).collect())
        .unwrap_or_default();
    exec.connect.context = contexts.first().cloned();
    let options = McpOptions {
        exec,
        contexts,
        allow_writes: args.allow_writes,
        listen: args.listen,
        token_file: args.token_file.clone(),
        tls: args.tls_cert.clone().zip(args.tls_key.clone()),
        call_timeout: args.llm.timeout().min(Duration::from_secs(300)),
        max_requests: 16,
    };
    crate::mcp::serve(&options, &mut |listening| match &listening.token {
        Some(token) => eprintln!("MCP server on {} (Authorization: Bearer {token})", listening.url),
        None => eprintln!("MCP server on {} (token from --token-file)", listening.url),
    })?;
    Ok(Exit::Clean)
}

/// `--ui`: serves the page until SIGINT/SIGTERM, opening a browser on it unless `--no-browser`.
fn web_page(args: &ExecArgs) -> anyhow::Result<Exit> {
    let mut model = args.llm.resolve("exec")?;
    model.deadline = None;
    let options = crate::web::WebOptions {
        exec: exec_options(args),
        model,
        choices: args.llm.options(),
        listen: args.listen.unwrap_or_else(|| std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
        tls: args.tls_cert.clone().zip(args.tls_key.clone()),
    };
    let open = !args.no_browser;
    crate::web::serve(options, &mut |url| {
        eprintln!("exec's page: {url}");
        eprintln!("(the link works once: it logs this browser in; Ctrl-C ends the server)");
        if open {
            open_browser(url);
        }
    })?;
    Ok(Exit::Clean)
}

/// Opens `url` in the person's browser (`$BROWSER`, xdg-open, open), if one can be found.
fn open_browser(url: &str) {
    let program = std::env::var_os("BROWSER")
        .filter(|b| !b.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| ["xdg-open", "open"].iter().find_map(|p| which::which(p).ok()));
    let Some(program) = program else {
        cli::warn("no browser found ($BROWSER, xdg-open, open): open the URL above yourself");
        return;
    };
    let started = std::process::Command::new(&program)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if let Err(e) = started {
        cli::warn(format!("cannot start {}: {e}: open the URL above yourself", program.display()));
    }
}

/// What stdin holds, when something is piped in (an empty pipe is nothing).
fn read_stdin() -> anyhow::Result<Option<String>> {
    if !input::piped() {
        return Ok(None);
    }
    let input = input::read(Path::new("-"), MAX_STDIN, Over::Cut)?;
    if input.text.trim().is_empty() {
        return Ok(None);
    }
    input.warnings().iter().for_each(cli::warn);
    Ok(Some(input.text))
}

/// The days `--usage` shows.
const USAGE_DAYS: i32 = 30;

/// `--usage`: the ledger's last 30 days and their total.
fn usage(format: Format) -> anyhow::Result<Exit> {
    use crate::llm::budget::{Ledger, recent};
    let ledger = Ledger::default_place().ok_or_else(|| {
        Error::Usage("no directory for the usage ledger: set XDG_STATE_HOME or OPSAGENT_USAGE".into())
    })?;
    let (rows, total) = recent(&ledger.rows()?, USAGE_DAYS);
    let mut out = anstream::stdout().lock();
    render::usage::ledger(&mut out, ledger.path(), USAGE_DAYS, &rows, &total, format)?;
    out.flush()?;
    Ok(Exit::Clean)
}

/// `--list-sessions`: one line each, newest first (`-o json`: the sessions without their messages).
fn list_sessions(format: Format) -> anyhow::Result<Exit> {
    let (all, warnings) = sessions::list();
    warnings.iter().for_each(cli::warn);
    let mut out = anstream::stdout().lock();
    if format == Format::Json {
        let brief: Vec<serde_json::Value> = all
            .iter()
            .map(|s| {
                let mut v = serde_json::to_value(s).unwrap_or_default();
                v.as_object_mut().map(|o| o.remove("messages"));
                v
            })
            .collect();
        serde_json::to_writer_pretty(&mut out, &brief)?;
        writeln!(out)?;
    } else {
        for s in &all {
            writeln!(out, "{}", session_line(s))?;
        }
    }
    out.flush()?;
    Ok(Exit::Clean)
}

fn session_line(s: &sessions::Saved) -> String {
    let first = s.questions.first().map(String::as_str).unwrap_or("");
    let first: String = first.chars().take(60).collect();
    format!(
        "{}  {}  {}/{}  {} {}  {} question{}  {:?}",
        s.id,
        s.updated.get(..16).unwrap_or(&s.updated),
        s.context,
        s.namespace,
        s.provider,
        s.model,
        s.questions.len(),
        if s.questions.len() == 1 { "" } else { "s" },
        first
    )
}

/// Loads a saved session into `running`; one saved on another context is continued only after a
/// yes on the terminal.
fn resume(running: &mut Running<'_>, id: Option<&str>) -> anyhow::Result<()> {
    let saved = sessions::load(id)?;
    if let Some((context, server)) = running.elsewhere(&saved) {
        let question =
            format!("session {} worked on context {context} ({server}); continue it on this context?", saved.id);
        let can_prompt = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
        let yes = can_prompt
            && dialoguer::Confirm::new().with_prompt(question).default(false).interact_opt().ok().flatten()
                == Some(true);
        if !yes {
            return Err(Error::Usage(format!(
                "session {} worked on context {context}: resume it there (--context {context}), or confirm on a terminal",
                saved.id
            ))
            .into());
        }
    }
    eprintln!(
        "resumed session {} ({} earlier question{})",
        saved.id,
        saved.questions.len(),
        if saved.questions.len() == 1 { "" } else { "s" }
    );
    running.resume(saved);
    Ok(())
}

/// The interactive session: one conversation, several questions.
fn session_loop(running: &mut Running<'_>, verbose: &mut Verbose) -> anyhow::Result<Exit> {
    eprintln!(
        "Ask about the cluster or ask for a change. /reset forgets, /model, /tools, /usage, /sessions, /resume ID, /exit."
    );
    loop {
        let line: String = match dialoguer::Input::new().with_prompt("›").allow_empty(true).interact_text() {
            Ok(l) => l,
            Err(_) => return Ok(Exit::Clean),
        };
        match line.trim() {
            "" => continue,
            "/exit" | "/quit" => return Ok(Exit::Clean),
            "/reset" => {
                running.reset();
                eprintln!("(the conversation was reset)");
            }
            "/model" => {
                running.forget_approval();
                eprintln!("{}", running.model_line());
            }
            "/tools" => eprintln!("{}", running.tool_names().join(", ")),
            "/usage" => {
                if let Err(e) = usage(Format::Text) {
                    eprintln!("error: {e}");
                }
            }
            "/sessions" => {
                let (all, warnings) = sessions::list();
                warnings.iter().for_each(cli::warn);
                all.iter().take(10).for_each(|s| eprintln!("{}", session_line(s)));
                eprintln!("(this one: {})", running.session_id());
            }
            q if q.starts_with("/resume") => {
                let id = q["/resume".len()..].trim();
                if let Err(e) = resume(running, (!id.is_empty()).then_some(id)) {
                    eprintln!("error: {e}");
                }
            }
            q if q.starts_with('/') => {
                eprintln!("unknown command {q}: /reset, /model, /tools, /usage, /sessions, /resume ID, /exit")
            }
            q => match running.ask(q, verbose) {
                Ok(a) => {
                    let mut out = anstream::stdout().lock();
                    render::answers::answer(&mut out, &a.answer, std::io::stdout().is_terminal())?;
                    if let Some(why) = a.stopped {
                        cli::warn(format!("stopped without an answer: {why}"));
                    }
                }
                Err(e) => eprintln!("error: {e}"),
            },
        }
    }
}
