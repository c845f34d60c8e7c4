//! `kubectl ai exec`: an agent that answers questions and performs operations through kubectl and
//! jq, asking before any change. [`Exec::prepare`] sets a session up (the cluster, the model's
//! window, the tools on offer); [`Exec::start`] connects the model and kubectl; [`Running::ask`]
//! answers one question.

mod agent;
mod tools;

use std::time::Duration;

use crate::cluster::{Cluster, ConnectOptions};
use crate::error::Error;
use crate::llm::tokens::{self, Counter};
use crate::llm::{Client, Message, ModelConfig};
use crate::progress::Progress;
pub use agent::{Answer, Observer, Protocol, Usage};
use agent::{Conversation, Limits};
use tools::extra::Extra;
pub use tools::kubectl::Class;
use tools::kubectl::Session;
pub use tools::pipeline;
pub use tools::{Approver, Decision, Step};
use tools::{Toolbox, budget};

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
            agent::system_prompt(context.as_deref().unwrap_or("in-cluster"), &namespace),
            protocol,
            tools::react_lines(&extras),
        );
        Ok(Exec { options: options.clone(), model, cluster, context, namespace, conversation, extras, counter, cap })
    }

    /// The question with what was piped in, fitted to the cap and redacted.
    pub fn with_context(&self, question: &str, stdin: &str) -> String {
        let context = budget::fit(&self.counter, &crate::llm::redact::redact_input(stdin), self.cap);
        format!("Context from stdin:\n```\n{}\n```\n\n{question}", context.trim_end())
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
        let kubectl = which::which("kubectl")
            .map_err(|_| Error::Usage("kubectl was not found on PATH: exec runs the real kubectl".into()))?;
        if let Some(cluster) = &self.cluster {
            cluster.server_version()?;
        }
        let read_only = self.options.read_only || self.model.read_only;
        let client = Client::new(self.model)?.reporting_to(progress);
        let connect = &self.options.connect;
        let session = Session {
            kubectl,
            kubeconfig: connect.kubeconfig.clone(),
            context: self.context,
            namespace: self.options.namespace.clone(),
            default_namespace: Some(self.namespace),
            timeout: self.options.tool_timeout,
            request_timeout: Some(connect.request_timeout).filter(|t| !t.is_zero()),
            endless_for: ENDLESS_FOR,
        };
        let mut toolbox = Toolbox::new(session, approver, progress, self.counter, self.cap);
        toolbox.read_only = read_only;
        toolbox.extras = self.extras;
        toolbox.approved = self.options.yes;
        let limits = Limits {
            max_iterations: self.options.max_iterations,
            max_answer: MAX_ANSWER,
            timeout: self.options.timeout,
        };
        Ok(Running { client, conversation: self.conversation, toolbox, limits })
    }
}

/// A session with its model and tools, answering questions.
pub struct Running<'a> {
    client: Client<'a>,
    conversation: Conversation,
    toolbox: Toolbox<'a>,
    limits: Limits,
}

impl Running<'_> {
    /// Answers one question, running tools until an answer (or a stop).
    pub fn ask(&mut self, question: &str, observer: &mut dyn Observer) -> Result<Answer, Error> {
        agent::ask(&self.client, &mut self.conversation, question, &mut self.toolbox, self.limits, observer)
    }

    /// Forgets the conversation (the instructions stay).
    pub fn reset(&mut self) {
        self.conversation.reset();
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
