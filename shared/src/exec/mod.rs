//! `kubectl ai exec`: an agent that answers questions and performs operations through kubectl and
//! jq, asking before any change. [`Exec::prepare`] sets a session up (the cluster, the model's
//! window, the tools on offer); [`Exec::start`] connects the model and kubectl; [`Running::ask`]
//! answers one question.

mod agent;
pub mod sessions;
mod tools;

use std::time::Duration;

use crate::cluster::{Cluster, ConnectOptions};
use crate::error::Error;
use crate::llm::tokens::{self, Counter};
use crate::llm::{Client, Message, ModelConfig};
use crate::progress::Progress;
pub use agent::{Answer, Observer, Protocol, Usage};
use agent::{Conversation, Limits};
use tools::Toolbox;
pub(crate) use tools::budget::{self, fit};
use tools::extra::Extra;
pub use tools::jq::serve_worker as serve_jq_worker;
pub use tools::kubectl::Class;
use tools::kubectl::Session;
pub use tools::pipeline;
pub use tools::{Approver, Change, Decision, NotRun, Step};

/// A kubectl command line as exec reads and judges it: what would run, and whether it may.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubectlLine {
    /// The command path kubectl finds (`get`, `rollout restart`).
    pub command: String,
    /// The arguments kubectl would get (the session's flags left out), in canonical form.
    pub argv: Vec<String>,
    /// The arguments before `--` (resource types, names).
    pub args: Vec<String>,
    /// A read (`Ok(false)`), a change that needs a yes (`Ok(true)`), or refused, and why.
    pub verdict: Result<bool, String>,
}

/// Reads and judges a kubectl command line (kubectl's arguments, without `kubectl`) as exec does,
/// without running it.
pub fn kubectl_line(args: &[String]) -> Result<KubectlLine, String> {
    let judged = tools::kubectl::judge(args)?;
    let verdict = match judged.verdict {
        tools::kubectl::Verdict::Read => Ok(false),
        tools::kubectl::Verdict::Write => Ok(true),
        tools::kubectl::Verdict::Refused(why) => Err(why),
    };
    Ok(KubectlLine {
        command: judged.parsed.command.to_string(),
        argv: judged.parsed.canonical(),
        args: judged.parsed.args.clone(),
        verdict,
    })
}

/// The kubectl version exec's flag table was read from.
pub fn kubectl_grammar_version() -> &'static str {
    tools::kubectl::grammar_version()
}

/// The longest answer of one model call, in tokens.
pub const MAX_ANSWER: u32 = 1024;
/// How long `logs -f` and `get -w` run.
const ENDLESS_FOR: Duration = Duration::from_secs(5);

/// How a session works.
#[derive(Clone, Debug)]
pub struct ExecOptions {
    /// The cluster (its `request_timeout` is also kubectl's).
    pub connect: ConnectOptions,
    /// `-n`: kubectl's namespace when the model names none.
    pub namespace: Option<String>,
    /// Changes run without asking.
    pub yes: bool,
    /// Every change is refused (also the profile's `read_only`).
    pub read_only: bool,
    /// Most tool calls for one question.
    pub max_iterations: u16,
    /// Longest one kubectl call may run.
    pub tool_timeout: Duration,
    /// Longest one question may take.
    pub timeout: Duration,
    /// Most tokens one tool result may take (default: 15 % of the window, at most 8000).
    pub max_tool_tokens: Option<usize>,
    /// A program that serves jq evaluations ([`serve_jq_worker`]; the plugins' own binaries do):
    /// filters then run in a bounded process. Without one they run in this process, bounded in
    /// output only.
    pub jq_worker: Option<std::path::PathBuf>,
}

/// A session set up: what it will send, before anything is sent. Works without a model or a
/// cluster (a dry run shows it).
pub struct Exec {
    options: ExecOptions,
    model: ModelConfig,
    cluster: Option<Cluster>,
    context: Option<String>,
    namespace: String,
    conversation: Conversation,
    extras: Vec<Extra>,
    counter: Counter,
    /// The most tokens one tool result (or the context from stdin) may take.
    pub cap: usize,
}

impl Exec {
    /// Sets a session up. A cluster that cannot be reached is an error, except for a dry run.
    pub fn prepare(options: &ExecOptions, model: ModelConfig, dry_run: bool) -> Result<Exec, Error> {
        let counter = Counter::for_model(&model.model);
        let (window, _) = tokens::context_window(&model.model, model.context_window);
        let cap = options.max_tool_tokens.unwrap_or_else(|| budget::default_cap(window));
        let cluster = match Cluster::connect(&options.connect) {
            Ok(c) => Some(c),
            Err(_) if dry_run => None,
            Err(e) => return Err(e),
        };
        let context = cluster.as_ref().and_then(|c| c.context.clone()).or_else(|| options.connect.context.clone());
        let namespace = options
            .namespace
            .clone()
            .or_else(|| cluster.as_ref().map(|c| c.default_namespace.clone()))
            .unwrap_or_else(|| "default".into());
        let protocol = if model.tool_calling { Protocol::Native } else { Protocol::React };
        let extras = tools::extra::available(&model.custom_tools)?;
        let conversation = Conversation::new(
            model.system_prompt(&agent::system_prompt(context.as_deref().unwrap_or("in-cluster"), &namespace)),
            protocol,
            tools::react_lines(&extras),
        );
        Ok(Exec { options: options.clone(), model, cluster, context, namespace, conversation, extras, counter, cap })
    }

    /// The question with what was piped in, fitted to the cap and redacted.
    pub fn with_context(&self, question: &str, stdin: &str) -> String {
        let context = budget::fit(&self.counter, &crate::llm::redact::redact_input(stdin), self.cap);
        format!("Context from stdin:\n{}\n\n{question}", crate::llm::redact::as_data("stdin", context.trim_end()))
    }

    /// The messages the first request of `question` would send (a dry run).
    pub fn first_messages(&self, question: &str) -> Vec<Message> {
        let mut messages = self.conversation.messages.clone();
        messages.push(Message::user(crate::llm::redact::redact_text(question)));
        messages
    }

    /// The tools offered, and what their schemas and the system prompt cost on every request.
    pub fn overhead(&self) -> (Vec<String>, usize, usize) {
        let schemas: usize = tools::schemas(&self.extras).iter().map(|s| self.counter.count(&s.to_string())).sum();
        let system = self.counter.count(&self.conversation.messages[0].content);
        (tools::names(&self.extras), schemas, system)
    }

    /// The model it will talk to.
    pub fn model(&self) -> &ModelConfig {
        &self.model
    }

    /// Connects the model and kubectl: the model must be configured, kubectl on `PATH`, and the
    /// cluster usable (one line and exit 3 before the model is asked anything).
    pub fn start<'a>(self, approver: &'a mut dyn Approver, progress: &'a dyn Progress) -> Result<Running<'a>, Error> {
        self.model.require("exec")?;
        if let Some(cluster) = &self.cluster {
            cluster.server_version()?;
        }
        let read_only = self.options.read_only || self.model.read_only;
        let client = Client::new(self.model)?.reporting_to(progress);
        let session = session(&self.options, self.context, self.namespace)?;
        let mut toolbox = Toolbox::new(session, approver, progress, self.counter, self.cap);
        toolbox.read_only = read_only;
        toolbox.extras = self.extras;
        toolbox.approved = self.options.yes;
        toolbox.server = self.cluster.as_ref().map(|c| c.server.clone()).unwrap_or_default();
        toolbox.jq = sandbox(&self.options);
        let limits = Limits {
            max_iterations: self.options.max_iterations,
            max_answer: MAX_ANSWER,
            timeout: self.options.timeout,
        };
        let c = client.config();
        let saved = sessions::Saved {
            context: toolbox.session.context.clone().unwrap_or_default(),
            namespace: toolbox.session.default_namespace.clone().unwrap_or_default(),
            server: toolbox.server.clone(),
            provider: c.provider.id().to_string(),
            model: c.model.clone(),
            ..sessions::Saved::default()
        }
        .fresh();
        Ok(Running { client, conversation: self.conversation, toolbox, limits, yes: self.options.yes, saved, progress })
    }
}

/// A session with its model and tools, answering questions.
pub struct Running<'a> {
    client: Client<'a>,
    conversation: Conversation,
    toolbox: Toolbox<'a>,
    limits: Limits,
    /// `--yes`: changes run without asking for the whole run.
    yes: bool,
    /// The session as saved after every question.
    saved: sessions::Saved,
    progress: &'a dyn Progress,
}

impl Running<'_> {
    /// Answers one question, running tools until an answer (or a stop).
    /// The session is saved after every question, answered or not; a spending cap reached
    /// ([`Error::Budget`]) ends the question after the session is saved, and says how to go on.
    pub fn ask(&mut self, question: &str, observer: &mut dyn Observer) -> Result<Answer, Error> {
        self.client.begin_question();
        let result =
            agent::ask(&self.client, &mut self.conversation, question, &mut self.toolbox, self.limits, observer);
        self.saved.questions.push(crate::llm::redact::redact_text(question).chars().take(200).collect());
        let spent = self.client.spent();
        self.saved.usage.calls += spent.calls as u32;
        self.saved.usage.prompt_tokens += spent.prompt_tokens;
        self.saved.usage.completion_tokens += spent.completion_tokens;
        self.saved.messages = self.conversation.messages[1..].to_vec();
        self.saved.updated = jiff::Timestamp::now().to_string();
        let saved = sessions::save(&self.saved);
        if let Err(e) = &saved {
            self.progress.warn(&format!("the session could not be saved: {e}"));
        }
        let result = match result {
            Err(Error::Budget(why)) if saved.is_ok() => Err(Error::Budget(format!(
                "{why}; the session is saved: kubectl ai exec --resume={} goes on with it",
                self.saved.id
            ))),
            other => other,
        };
        result.map(|mut a| {
            a.session = Some(self.saved.id.clone());
            a
        })
    }

    /// The saved session's id.
    pub fn session_id(&self) -> &str {
        &self.saved.id
    }

    /// Whether `saved` worked on another context than this session's: (its context, its server).
    pub fn elsewhere<'s>(&self, saved: &'s sessions::Saved) -> Option<(&'s str, &'s str)> {
        (saved.context != self.saved.context || (!saved.server.is_empty() && saved.server != self.saved.server))
            .then_some((saved.context.as_str(), saved.server.as_str()))
    }

    /// Continues a saved session: its turns follow this session's instructions (rebuilt for the
    /// context in use), and it is saved under its own id from now on.
    pub fn resume(&mut self, saved: sessions::Saved) {
        self.conversation.reset();
        self.conversation.messages.extend(saved.messages.iter().cloned());
        self.forget_approval();
        self.saved = sessions::Saved {
            context: self.saved.context.clone(),
            namespace: self.saved.namespace.clone(),
            server: self.saved.server.clone(),
            provider: self.saved.provider.clone(),
            model: self.saved.model.clone(),
            ..saved
        };
    }

    /// Forgets the conversation (the instructions stay) and any yes given for the whole session;
    /// what follows is saved as a new session.
    pub fn reset(&mut self) {
        self.conversation.reset();
        self.forget_approval();
        self.saved = self.saved.fresh();
    }

    /// Drops a yes given for the whole session: the next change is asked for again.
    pub fn forget_approval(&mut self) {
        self.toolbox.approved = self.yes;
    }

    /// Answers the next questions with another model (the web page's picker): the conversation
    /// goes on, in the protocol the new model speaks (native tool calls, or the JSON protocol).
    pub fn use_model(&mut self, model: ModelConfig) -> Result<(), Error> {
        model.require("exec")?;
        let client = Client::new(model)?.reporting_to(self.progress);
        match (client.config().tool_calling, self.conversation.protocol) {
            (false, agent::Protocol::Native) => self.conversation.switch_to_react(),
            (true, agent::Protocol::React) => self.conversation.switch_to_native(),
            _ => {}
        }
        self.saved.provider = client.config().provider.id().to_string();
        self.saved.model = client.config().model.clone();
        self.client = client;
        Ok(())
    }

    /// The model in use.
    pub fn model(&self) -> &ModelConfig {
        self.client.config()
    }

    /// Where the session works: its context, namespace and API server.
    pub fn place(&self) -> (&str, &str, &str) {
        (&self.saved.context, &self.saved.namespace, &self.saved.server)
    }

    /// The model in use, for `/model`.
    pub fn model_line(&self) -> String {
        let c = self.client.config();
        format!("{} {} at {}", c.provider.name(), c.model, self.client.url())
    }

    /// The tools on offer, for `/tools`.
    pub fn tool_names(&self) -> Vec<String> {
        tools::names(&self.toolbox.extras)
    }
}

/// How kubectl reaches the cluster: kubectl on `PATH`, the session's kubeconfig, context and
/// namespace.
fn session(options: &ExecOptions, context: Option<String>, namespace: String) -> Result<Session, Error> {
    let kubectl = which::which("kubectl")
        .map_err(|_| Error::Usage("kubectl was not found on PATH: exec runs the real kubectl".into()))?;
    Ok(Session {
        kubectl,
        kubeconfig: options.connect.kubeconfig.clone(),
        context,
        namespace: options.namespace.clone(),
        default_namespace: Some(namespace),
        timeout: options.tool_timeout,
        request_timeout: Some(options.connect.request_timeout).filter(|t| !t.is_zero()),
        endless_for: ENDLESS_FOR,
    })
}

/// Where jq filters run: the worker process, bounded within the tool timeout.
fn sandbox(options: &ExecOptions) -> tools::jq::Sandbox {
    tools::jq::Sandbox { worker: options.jq_worker.clone(), timeout: options.tool_timeout.min(Duration::from_secs(30)) }
}

/// A kubectl call judged and waiting to run: what a person must see before a change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    /// The exact command line that will run, shell-quoted (the session's flags included).
    pub command: String,
    /// A read, or a change that needs a yes.
    pub class: Class,
    /// The kubeconfig context.
    pub context: String,
    /// The API server's URL.
    pub server: String,
    /// The namespace it works in.
    pub namespace: String,
}

/// kubectl as a tool for an agent that is not exec's own (the MCP server): the same parser,
/// policy, jq pipeline, redaction and cap as exec, without a model. A change runs only after the
/// [`Approver`] says yes, and is logged under the tool's origin.
#[derive(Clone, Debug)]
pub struct KubectlTool {
    session: Session,
    server: String,
    read_only: bool,
    jq: tools::jq::Sandbox,
    counter: Counter,
    cap: usize,
    origin: &'static str,
}

impl KubectlTool {
    /// Connects to the cluster of `options` (one line, exit 3, when it cannot be used). `cap` is the
    /// most tokens one result may take; `origin` names the caller in the change log.
    pub fn connect(options: &ExecOptions, cap: usize, origin: &'static str) -> Result<KubectlTool, Error> {
        let cluster = Cluster::connect(&options.connect)?;
        cluster.server_version()?;
        let context = cluster.context.clone().or_else(|| options.connect.context.clone());
        let namespace = options.namespace.clone().unwrap_or_else(|| cluster.default_namespace.clone());
        Ok(KubectlTool {
            session: session(options, context, namespace)?,
            server: cluster.server.clone(),
            read_only: options.read_only,
            jq: sandbox(options),
            counter: Counter::for_model(""),
            cap,
            origin,
        })
    }

    /// What `command` (kubectl's arguments, with `| jq` stages) would run, or why it may not.
    pub fn judge(&self, command: &str) -> Result<Pending, String> {
        let pipeline = pipeline::parse(command)?;
        let judged = tools::kubectl::judge(&pipeline.args)?;
        let class = match judged.verdict {
            tools::kubectl::Verdict::Read => Class::Read,
            tools::kubectl::Verdict::Write => Class::Write,
            tools::kubectl::Verdict::Refused(why) => return Err(why),
        };
        let argv = self.session.argv(&judged.parsed);
        Ok(Pending {
            command: format!("kubectl {}", tools::kubectl::shell_line(&argv)),
            class,
            context: self.session.context.clone().unwrap_or_else(|| "(current)".into()),
            server: self.server.clone(),
            namespace: self.session.namespace_for(&judged.parsed).unwrap_or_else(|| "(the context's)".into()),
        })
    }

    /// Runs `command` as exec would: the result for the agent (redacted, capped; a refusal is
    /// `refused: …`) and what happened.
    pub fn run(&self, command: &str, approver: &mut dyn Approver) -> (String, Step) {
        let quiet = crate::progress::Quiet;
        let mut toolbox = Toolbox::new(self.session.clone(), approver, &quiet, self.counter, self.cap);
        toolbox.read_only = self.read_only;
        toolbox.server = self.server.clone();
        toolbox.jq = self.jq.clone();
        toolbox.origin = self.origin;
        toolbox.kubectl(command)
    }
}
