//! The blocking model client: OpenAI (and compatible endpoints), Azure OpenAI, Ollama.
//!
//! Transient failures (429, 5xx, timeouts, resets, a stream cut short) are retried with exponential
//! backoff and jitter, honouring `Retry-After`, a bounded number of times; 400/401/403/404 fail at
//! once with one line naming the provider, the URL (never the key) and a fix.

use std::io::{BufRead, BufReader, Read};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::budget::{Meter, Spend};
use super::config::{ModelConfig, Provider};
use crate::error::Error;
use crate::progress::{Progress, Quiet};

/// Why a chat ended that its caller can act on, kept as the [`Error::Model`]'s source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Ended {
    /// The question's deadline ([`ChatOptions::deadline`]) passed before the model answered.
    #[error("the question's deadline passed")]
    Deadline,
    /// The provider rejected the request's tools: ask again without them.
    #[error("the provider rejected tool calling")]
    NoTools,
}

impl Ended {
    /// The reason `error` carries, if it is one of these.
    pub(crate) fn of(error: &Error) -> Option<Ended> {
        std::error::Error::source(error).and_then(|s| s.downcast_ref::<Ended>()).copied()
    }
}

/// Who says a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The instructions.
    System,
    /// The person (or the program asking).
    User,
    /// The model.
    Assistant,
    /// A tool's result (native tool calling).
    Tool,
}

/// One chat message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Who says it.
    pub role: Role,
    /// What is said.
    pub content: String,
    /// The tools an assistant message calls (native tool calling).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// The call a tool message answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

/// A tool call the model asked for; `arguments` is the JSON text it wrote (possibly not JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The id its result answers to.
    pub id: String,
    /// The tool.
    pub name: String,
    /// Its arguments, as the model wrote them.
    pub arguments: String,
}

impl Message {
    fn new(role: Role, content: impl Into<String>) -> Self {
        Message { role, content: content.into(), tool_calls: Vec::new(), tool_call_id: None }
    }

    /// Instructions.
    pub fn system(content: impl Into<String>) -> Self {
        Message::new(Role::System, content)
    }

    /// A message of the person.
    pub fn user(content: impl Into<String>) -> Self {
        Message::new(Role::User, content)
    }

    /// An answer of the model.
    pub fn assistant(content: impl Into<String>) -> Self {
        Message::new(Role::Assistant, content)
    }

    /// An assistant message that calls tools.
    pub fn calls(content: impl Into<String>, calls: Vec<ToolCall>) -> Self {
        Message { tool_calls: calls, ..Message::new(Role::Assistant, content) }
    }

    /// The result of one tool call.
    pub fn tool(call_id: impl Into<String>, content: impl Into<String>) -> Self {
        Message { tool_call_id: Some(call_id.into()), ..Message::new(Role::Tool, content) }
    }
}

/// Token counts the provider reported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens sent.
    pub prompt_tokens: u64,
    /// Tokens answered.
    pub completion_tokens: u64,
}

/// A model's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The text of the answer.
    pub content: String,
    /// Why the model stopped (`stop`, `length`, `tool_calls`).
    pub finish_reason: Option<String>,
    /// The tokens, when the provider reports them.
    pub usage: Option<Usage>,
    /// The tools the model calls (native tool calling); empty for a final answer.
    pub tool_calls: Vec<ToolCall>,
}

/// How to ask.
#[derive(Clone, Copy, Debug)]
pub struct ChatOptions {
    /// The longest answer, in tokens.
    pub max_tokens: u32,
    /// Sampling temperature (left out for reasoning models).
    pub temperature: f64,
    /// The moment the answer must have come by, retries included (a question's `--timeout`).
    pub deadline: Option<std::time::Instant>,
}

impl Default for ChatOptions {
    fn default() -> Self {
        ChatOptions { max_tokens: 1024, temperature: 0.2, deadline: None }
    }
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Failure {
    /// The provider answered with an error status.
    Status { code: u16, message: String, retry_after: Option<Duration> },
    /// No answer in time (ureq's own timeouts: connecting).
    Timeout,
    /// The server said nothing for too long: for the first byte (reading the prompt) or between
    /// bytes once answering.
    Silent(&'static str, Duration),
    /// The question's deadline passed while the answer was awaited or read.
    Deadline,
    /// An error the server sent inside a 200 answer or stream (`data: {"error": …}`).
    Reported(String),
    /// A 200 answer with nothing in it.
    Empty,
    /// The connection failed or was cut.
    Transport(String),
    /// A stream that ended before its end marker.
    Cut,
    /// Retrying cannot help: an untrusted certificate, an unknown host, a bad proxy URL.
    Unreachable(String),
    /// An answer that is not what the API promises.
    Malformed(String),
}

impl Failure {
    fn retryable(&self) -> bool {
        match self {
            Failure::Status { code, .. } => matches!(code, 408 | 409 | 429 | 500 | 502 | 503 | 504),
            Failure::Timeout | Failure::Silent(..) | Failure::Transport(_) | Failure::Cut => true,
            Failure::Malformed(_)
            | Failure::Unreachable(_)
            | Failure::Reported(_)
            | Failure::Empty
            | Failure::Deadline => false,
        }
    }

    /// The server's own words, when it gave any.
    fn message(&self) -> Option<&str> {
        match self {
            Failure::Status { message, .. } | Failure::Reported(message) => Some(message),
            _ => None,
        }
    }
}

/// A client for one configured model; notices (an answer cut short) go to its [`Progress`].
#[derive(Clone)]
pub struct Client<'p> {
    config: ModelConfig,
    agent: ureq::Agent,
    url: String,
    progress: &'p dyn Progress,
    /// What this client's calls spent, shared by its clones (explain's threads).
    meter: std::sync::Arc<Meter>,
}

impl std::fmt::Debug for Client<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("provider", &self.config.provider).field("url", &self.url).finish()
    }
}

/// The chat endpoint of a configuration. OpenAI-compatible bases may or may not end in a version
/// segment (`/v1`, DashScope's `/compatible-mode/v1`, Zhipu's `/api/paas/v4`): `/v1` is added only
/// when the path has none.
pub fn chat_url(config: &ModelConfig) -> Result<String, Error> {
    let base = config.base_url.trim().trim_end_matches('/');
    match config.provider {
        Provider::Openai => {
            if base.ends_with("/chat/completions") {
                return Ok(base.to_string());
            }
            let path = base.split_once("://").map(|(_, rest)| rest).unwrap_or(base);
            let versioned = path
                .split('/')
                .skip(1)
                .any(|seg| seg.len() >= 2 && seg.starts_with('v') && seg.as_bytes()[1].is_ascii_digit());
            Ok(if versioned { format!("{base}/chat/completions") } else { format!("{base}/v1/chat/completions") })
        }
        Provider::Azure => {
            if base.is_empty() {
                return Err(Error::model(
                    "Azure OpenAI needs its endpoint: set AZURE_OPENAI_ENDPOINT or --base-url https://NAME.openai.azure.com",
                ));
            }
            let deployment = config.azure_deployment.clone().unwrap_or_else(|| config.model.clone());
            Ok(format!(
                "{base}/openai/deployments/{deployment}/chat/completions?api-version={}",
                config.azure_api_version
            ))
        }
        Provider::Ollama => Ok(format!("{base}/api/chat")),
    }
}

/// OpenAI's reasoning models take `max_completion_tokens` and no temperature.
pub(super) fn is_reasoning_model(model: &str) -> bool {
    let m = model.rsplit('/').next().unwrap_or(model).to_ascii_lowercase();
    ["o1", "o3", "o4", "gpt-5"].iter().any(|p| m == *p || m.starts_with(&format!("{p}-")))
}

impl Client<'static> {
    /// A client for a resolved configuration, with nobody to tell about notices (see
    /// [`Client::reporting_to`]). A missing key is an error for OpenAI and Azure, and so is a cost
    /// cap for a model whose price is unknown.
    pub fn new(config: ModelConfig) -> Result<Client<'static>, Error> {
        let url = chat_url(&config)?;
        let meter = std::sync::Arc::new(Meter::new(&config)?);
        if config.provider != Provider::Ollama && config.api_key.is_none() {
            return Err(Error::model(format!(
                "no API key for {} ({url}): set {}",
                config.provider.name(),
                if config.key_source.is_empty() { "an API key in the profile" } else { &config.key_source }
            )));
        }
        let mut builder = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(config.connect_timeout))
            .proxy(ureq::Proxy::try_from_env())
            .user_agent(format!("opsagent/{}", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &config.ca_cert {
            let pem = std::fs::read(path).map_err(|e| Error::Usage(format!("--ca-cert {}: {e}", path.display())))?;
            let certs: Vec<ureq::tls::Certificate<'static>> = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect();
            if certs.is_empty() {
                return Err(Error::Usage(format!("--ca-cert {}: no PEM certificate in it", path.display())));
            }
            let tls = ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::new_with_certs(&certs)).build();
            builder = builder.tls_config(tls);
        }
        Ok(Client { agent: builder.build().into(), url, config, progress: &Quiet, meter })
    }

    /// A client for `what` ("--explain", "a diagnosis"): an error that says how to configure a model
    /// when none is.
    pub fn for_use(config: ModelConfig, what: &str) -> Result<Client<'static>, Error> {
        config.require(what)?;
        Client::new(config)
    }
}

impl<'p> Client<'p> {
    /// The same client, telling `progress` what the person should know (an answer cut short).
    pub fn reporting_to<'q>(self, progress: &'q dyn Progress) -> Client<'q> {
        Client { config: self.config, agent: self.agent, url: self.url, progress, meter: self.meter }
    }

    /// A new question: the caps (`--max-tokens`, `--max-cost`) count from nothing again.
    pub fn begin_question(&self) {
        self.meter.begin();
    }

    /// What the current question (or run) has spent.
    pub fn spent(&self) -> Spend {
        self.meter.spent()
    }

    /// The line of the cap that stopped the current question (or run), if one did.
    pub fn stopped(&self) -> Option<String> {
        self.meter.stopped()
    }

    /// The configuration it talks with.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The chat endpoint (no key in it).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends a chat and returns the answer. With `on_delta`, asks for a stream and hands each piece
    /// of text over as it arrives; a stream is not retried once something was handed over.
    pub fn chat(
        &self,
        messages: &[Message],
        options: &ChatOptions,
        on_delta: Option<&mut dyn FnMut(&str)>,
    ) -> Result<Reply, Error> {
        self.chat_with(messages, options, &[], on_delta)
    }

    /// [`Client::chat`] offering tools (OpenAI function schemas): the reply may call them.
    ///
    /// A request the server finds too long for its window is rebuilt once to fit the window it
    /// names (the longest messages cut, head and tail kept, the cut marked) and the window is
    /// remembered for this endpoint and model.
    pub fn chat_with(
        &self,
        messages: &[Message],
        options: &ChatOptions,
        tools: &[Value],
        mut on_delta: Option<&mut dyn FnMut(&str)>,
    ) -> Result<Reply, Error> {
        // The one gate: whatever built them, the messages are redacted as text once more, last.
        let mut messages: Vec<Message> = messages
            .iter()
            .map(|m| Message { content: crate::llm::redact::redact_text(&m.content), ..m.clone() })
            .collect();
        let mut options = *options;
        options.deadline = options.deadline.or(self.config.deadline);
        // Before every call: a cap reached stops here, so a question goes past it by one call at most.
        self.meter.check()?;
        let mut rebuilt = false;
        let mut usage_option = true;
        let mut attempt = 0;
        loop {
            if options.deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                return Err(self.past_deadline());
            }
            let mut emitted = false;
            let result = match on_delta.as_mut() {
                Some(f) => self.send(
                    &messages,
                    &options,
                    tools,
                    usage_option,
                    Some(&mut |d: &str| {
                        emitted = true;
                        f(d)
                    }),
                ),
                None => self.send(&messages, &options, tools, usage_option, None),
            };
            let overflow = result.as_ref().err().and_then(Failure::message).and_then(super::window::overflow);
            if let Err(Failure::Deadline) = result {
                return Err(self.past_deadline());
            }
            if let Ok(reply) = &result {
                self.meter_reply(&messages, reply);
            }
            match result {
                // A call where text was expected: no tool was offered, so nothing can answer it.
                Ok(reply) if tools.is_empty() && reply.content.trim().is_empty() && !reply.tool_calls.is_empty() => {
                    let why = format!("a call of tool {:?} where text was expected", reply.tool_calls[0].name);
                    return Err(self.error(&Failure::Malformed(why), attempt));
                }
                Ok(reply) => {
                    if reply.finish_reason.as_deref() == Some("length") {
                        self.progress.warn(&format!(
                            "the answer of {} was cut at its token limit (finish_reason: length) and may be incomplete",
                            self.who()
                        ));
                    }
                    return Ok(reply);
                }
                // Too long for the server's window: fit it once, and remember the window.
                Err(failure) if overflow.is_some() && !rebuilt && !emitted => {
                    let overflow = overflow.unwrap_or(super::window::Overflow { window: None, requested: None });
                    let window =
                        overflow.window.or(self.config.context_window).unwrap_or(super::window::OLLAMA_DEFAULT);
                    if overflow.window.is_some() {
                        super::window::remember(&self.url, &self.config.model, window);
                    }
                    self.progress.warn(&format!(
                        "{} rejected the request as too long for its {window}-token window ({}): shortening it to fit",
                        self.who(),
                        failure.message().unwrap_or_default()
                    ));
                    rebuilt = true;
                    fit_window(&mut messages, &mut options, window, overflow.requested, &self.config.model);
                }
                // A server that cannot call tools says so, whatever its status (llama.cpp answers
                // 500): retrying cannot help, asking without tools can.
                Err(failure) if !tools.is_empty() && failure.message().is_some_and(rejects_tools) => {
                    let said = match &failure {
                        Failure::Status { code, message, .. } => format!("{code}: {message}"),
                        other => describe(other),
                    };
                    return Err(Error::model(format!(
                        "{} rejected the request ({said}): the model may not support tool calling",
                        self.who()
                    ))
                    .caused_by(Ended::NoTools));
                }
                // A server that does not know `stream_options` (some OpenAI-compatible ones).
                Err(Failure::Status { code: 400 | 422, message, .. })
                    if usage_option && message.contains("stream_options") && !emitted =>
                {
                    usage_option = false;
                }
                Err(failure) if failure.retryable() && attempt < self.config.retries && !emitted => {
                    let mut wait = match &failure {
                        Failure::Status { retry_after: Some(d), .. } => (*d).min(Duration::from_secs(60)),
                        _ => crate::duration::backoff(self.config.retry_base, attempt, Duration::from_secs(60)),
                    };
                    if let Some(deadline) = options.deadline {
                        wait = wait.min(deadline.saturating_duration_since(std::time::Instant::now()));
                    }
                    if attempt == 0 {
                        self.progress.note(&format!(
                            "{} answered {}: retrying (at most {} times)",
                            self.who(),
                            describe(&failure),
                            self.config.retries
                        ));
                    }
                    tracing::info!("{} request failed ({}), retrying in {:?}", self.who(), describe(&failure), wait);
                    std::thread::sleep(wait);
                    attempt += 1;
                }
                Err(failure) => return Err(self.error(&failure, attempt)),
            }
        }
    }

    /// Records what an answered call spent: the provider's counts, else ours (its reply and the
    /// messages sent).
    fn meter_reply(&self, messages: &[Message], reply: &Reply) {
        let (usage, counted) = match reply.usage {
            Some(u) if u.prompt_tokens + u.completion_tokens > 0 => (u, false),
            _ => {
                let counter = super::tokens::Counter::for_model(&self.config.model);
                let sent: usize =
                    messages.iter().map(|m| counter.count(&m.content) + super::tokens::MESSAGE_OVERHEAD).sum();
                let answered = counter.count(&reply.content)
                    + reply
                        .tool_calls
                        .iter()
                        .map(|c| counter.count(&c.name) + counter.count(&c.arguments))
                        .sum::<usize>();
                (Usage { prompt_tokens: sent as u64, completion_tokens: answered as u64 }, true)
            }
        };
        if let Some(warning) = self.meter.record(usage, counted) {
            self.progress.warn(&warning);
        }
    }

    /// The question's deadline passed before the answer came.
    fn past_deadline(&self) -> Error {
        Error::model(format!("{} did not answer within the time left for this question (--timeout)", self.who()))
            .caused_by(Ended::Deadline)
    }

    /// Who answers, for messages: the provider by name, or "the model at URL" for an
    /// OpenAI-compatible endpoint that is not OpenAI's.
    fn who(&self) -> String {
        match self.config.provider {
            Provider::Openai if !self.url.starts_with("https://api.openai.com/") => {
                format!("the model at {}", self.url)
            }
            provider => format!("{} ({})", provider.name(), self.url),
        }
    }

    fn send(
        &self,
        messages: &[Message],
        options: &ChatOptions,
        tools: &[Value],
        usage_option: bool,
        on_delta: Option<&mut dyn FnMut(&str)>,
    ) -> Result<Reply, Failure> {
        // Ollama has dropped tool calls from streamed answers: a turn that offers tools is not
        // streamed there, and its text is handed over whole.
        let stream = on_delta.is_some() && (self.config.provider != Provider::Ollama || tools.is_empty());
        let mut body = self.body(messages, options, stream);
        if !usage_option {
            body.as_object_mut().map(|b| b.remove("stream_options"));
        }
        if !tools.is_empty() {
            body["tools"] = json!(tools);
        }
        let timing = super::wire::Timing {
            first_byte: self.config.first_byte_timeout,
            between: self.config.read_timeout,
            deadline: options.deadline,
        };
        let mut request = self
            .agent
            .post(&self.url)
            .header("content-type", "application/json")
            .config()
            .timeout_per_read(Some(timing.first_byte.max(timing.between)))
            .build();
        if let Some(deadline) = options.deadline {
            let left = deadline.saturating_duration_since(std::time::Instant::now()).max(Duration::from_millis(1));
            request = request.config().timeout_global(Some(left)).build();
        }
        if let Some(key) = &self.config.api_key {
            request = match self.config.provider {
                Provider::Azure => request.header("api-key", key.expose()),
                _ => request.header("authorization", format!("Bearer {}", key.expose())),
            };
        }
        for (name, value) in &self.config.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let waiting = format!("waiting for {} to read the prompt", self.who());
        let mut exchange = super::wire::send(request, bytes, timing, self.progress, waiting);
        let head = exchange.head().map_err(broken)?;
        if head.status >= 400 {
            let mut text = String::new();
            let _ = (&mut exchange).take(16 * 1024).read_to_string(&mut text);
            return Err(Failure::Status {
                code: head.status,
                message: error_message(&text),
                retry_after: head.retry_after,
            });
        }
        // A server that ignores `stream` answers with one JSON document, as if not asked to stream.
        let streamed =
            head.content_type.starts_with("text/event-stream") || head.content_type.starts_with("application/x-ndjson");
        let read = |exchange: &mut super::wire::Exchange<'_>, e: Failure| exchange.broken().map_or(e, broken);
        match (on_delta, self.config.provider) {
            (Some(f), Provider::Ollama) if streamed => {
                read_ollama_stream(&mut exchange, f).map_err(|e| read(&mut exchange, e))
            }
            (Some(f), _) if streamed => read_sse(&mut exchange, f).map_err(|e| read(&mut exchange, e)),
            (on_delta, provider) => {
                let mut text = String::new();
                if let Err(e) = (&mut exchange).take(MAX_ANSWER_BYTES).read_to_string(&mut text) {
                    return Err(read(&mut exchange, transport_io(&e)));
                }
                if text.trim().is_empty() {
                    return Err(Failure::Empty);
                }
                let value: Value = serde_json::from_str(&text)
                    .map_err(|e| Failure::Malformed(format!("the answer is not JSON: {e}")))?;
                if !value["error"].is_null() {
                    return Err(Failure::Reported(error_message(&text)));
                }
                let reply = parse_reply(provider, &value)?;
                if let Some(f) = on_delta {
                    f(&reply.content);
                }
                Ok(reply)
            }
        }
    }

    /// The request body for this provider.
    pub fn body(&self, messages: &[Message], options: &ChatOptions, stream: bool) -> Value {
        let ollama = self.config.provider == Provider::Ollama;
        let msgs: Vec<Value> = messages.iter().map(|m| message_json(m, ollama)).collect();
        match self.config.provider {
            Provider::Ollama => {
                let mut opts = json!({"temperature": options.temperature, "num_predict": options.max_tokens});
                if let Some(window) = self.config.context_window {
                    opts["num_ctx"] = json!(window);
                }
                json!({"model": self.config.model, "messages": msgs, "stream": stream, "options": opts})
            }
            _ => {
                let mut body = json!({"model": self.config.model, "messages": msgs, "stream": stream});
                if stream {
                    // The tokens of a streamed answer come in its last event, when asked for.
                    body["stream_options"] = json!({"include_usage": true});
                }
                if is_reasoning_model(&self.config.model) {
                    body["max_completion_tokens"] = json!(options.max_tokens);
                } else {
                    body["max_tokens"] = json!(options.max_tokens);
                    body["temperature"] = json!(options.temperature);
                }
                body
            }
        }
    }

    /// The one line for a failure: provider, URL, what happened, what to do.
    fn error(&self, failure: &Failure, retries: u32) -> Error {
        let who = self.who();
        let tried = if retries > 0 { format!(" after {} attempts", retries + 1) } else { String::new() };
        let line = match failure {
            Failure::Status { code: 401, message, .. } => {
                format!(
                    "{who} rejected the API key (401{}): check {}",
                    detail(message),
                    if self.config.key_source.is_empty() { "the profile's api_key" } else { &self.config.key_source }
                )
            }
            Failure::Status { code: 403, message, .. } => {
                format!("{who} refused access (403{}): check the key's permissions and the model name", detail(message))
            }
            Failure::Status { code: 404, message, .. } => format!(
                "{who} answered 404{}: check that the base URL ends in /v1 (or the provider's API path) and that model {:?} exists",
                detail(message),
                self.config.model
            ),
            Failure::Status { code: 400, message, .. } if message.to_ascii_lowercase().contains("tool") => {
                return Error::model(format!(
                    "{who} rejected the request (400: {message}): the model may not support tool calling"
                ))
                .caused_by(Ended::NoTools);
            }
            Failure::Status { code, message, .. } if super::window::overflow(message).is_some() => format!(
                "{who} rejected the request as too long for its window ({code}: {message}), even shortened: set context_window in the profile or --context-window to the server's window"
            ),
            Failure::Status { code: 400, message, .. } => format!("{who} rejected the request (400: {message})"),
            Failure::Status { code, message, .. } => format!("{who} failed{tried} ({code}{})", detail(message)),
            Failure::Timeout => {
                format!("{who} did not answer in time{tried} (connect_timeout {:?})", self.config.connect_timeout)
            }
            Failure::Silent("first byte", after) => format!(
                "{who} sent nothing for {after:?} while reading the prompt{tried} (first_byte_timeout in the profile)"
            ),
            Failure::Silent(_, after) => format!(
                "{who} went silent for {after:?} in the middle of its answer{tried} (read_timeout in the profile)"
            ),
            Failure::Deadline => return self.past_deadline(),
            Failure::Reported(message) => format!("{who} reported an error instead of an answer: {message}"),
            Failure::Empty => format!(
                "{who} answered with nothing (an empty 200 answer): the server may have failed while reading the prompt; check its log"
            ),
            Failure::Transport(why) => format!("cannot reach {who}{tried}: {why}"),
            Failure::Cut => {
                format!("{who} cut its answer short: the stream ended before the answer was complete{tried}")
            }
            Failure::Unreachable(why) => format!("cannot reach {who}: {why}"),
            Failure::Malformed(why) => format!("{who} sent an unexpected answer: {why}"),
        };
        Error::model(line)
    }
}

/// The most of a non-streamed answer read (a longer one is not an answer).
const MAX_ANSWER_BYTES: u64 = 16 << 20;

/// A failed exchange as a failure of the request.
fn broken(b: super::wire::Broken) -> Failure {
    match b {
        super::wire::Broken::Silent(stage, after) => Failure::Silent(stage, after),
        super::wire::Broken::Deadline => Failure::Deadline,
        super::wire::Broken::Request(e) => transport(e),
        super::wire::Broken::Read(e) => transport_io(&e),
    }
}

/// Fits `messages` into `window` tokens with room for the answer: the longest messages after the
/// instructions are cut (head and tail kept, the cut marked) until the whole fits. The server's
/// count (`requested`), when it gave one, calibrates ours: a tokenizer we do not have may count
/// more than our estimate.
fn fit_window(
    messages: &mut [Message],
    options: &mut ChatOptions,
    window: usize,
    requested: Option<usize>,
    model: &str,
) {
    let counter = super::tokens::Counter::for_model(model);
    let answer = (options.max_tokens as usize).min(window / 4).max(64);
    options.max_tokens = answer as u32;
    let count = |m: &Message| counter.count(&m.content) + super::tokens::MESSAGE_OVERHEAD;
    let ours: usize = messages.iter().map(count).sum();
    let mut target = window.saturating_sub(answer + 64) * 9 / 10;
    if let Some(theirs) = requested.filter(|t| *t > ours && ours > 0) {
        target = target * ours / theirs;
    }
    let mut total = ours;
    while total > target {
        let longest = messages
            .iter()
            .enumerate()
            .skip(1)
            .map(|(i, m)| (counter.count(&m.content), i))
            .filter(|(tokens, _)| *tokens > 128)
            .max();
        let Some((tokens, i)) = longest else { break };
        let keep = tokens.saturating_sub(total - target + 32).max(96);
        let marker = format!("\n[… cut to fit the model's {window}-token window …]\n");
        messages[i].content = counter.head_and_tail(&messages[i].content, keep, &marker);
        let now = counter.count(&messages[i].content);
        if now >= tokens {
            break;
        }
        total -= tokens - now;
    }
}

/// One message as the provider wants it, with tool calls and results.
fn message_json(m: &Message, ollama: bool) -> Value {
    let mut v = json!({"role": m.role, "content": m.content});
    if !m.tool_calls.is_empty() {
        v["tool_calls"] = m
            .tool_calls
            .iter()
            .map(|c| {
                if ollama {
                    let args: Value = serde_json::from_str(&c.arguments).unwrap_or(json!({}));
                    json!({"function": {"name": c.name, "arguments": args}})
                } else {
                    json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}})
                }
            })
            .collect();
    }
    if let (Some(id), false) = (&m.tool_call_id, ollama) {
        v["tool_call_id"] = json!(id);
    }
    v
}

/// The tool calls of a message (`arguments` a JSON string for OpenAI, an object for Ollama); a call
/// without an id gets `call_N`, numbered from `first` (the calls already received in the answer).
fn tool_calls(message: &Value, first: usize) -> Vec<ToolCall> {
    message["tool_calls"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, c)| ToolCall {
            id: c["id"].as_str().map_or_else(|| format!("call_{}", first + i), str::to_string),
            name: c["function"]["name"].as_str().unwrap_or_default().to_string(),
            arguments: match &c["function"]["arguments"] {
                Value::String(s) => s.clone(),
                Value::Null => "{}".into(),
                other => other.to_string(),
            },
        })
        .collect()
}

/// Whether an error message says the server cannot take tools: it names tools and says they are
/// unsupported or need a server option. The real servers' words: llama.cpp ("tools param requires
/// --jinja flag", a 500), vLLM ("\"auto\" tool choice requires --enable-auto-tool-choice and
/// --tool-call-parser to be set"), Ollama ("… does not support tools"), OpenAI ("tools is not
/// supported with this model").
fn rejects_tools(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    let names_tools = ["tool", "function calling", "function_call"].iter().any(|w| m.contains(w));
    let refuses = ["not supported", "not support", "unsupported", "requires", "not enabled", "not implemented"]
        .iter()
        .any(|w| m.contains(w));
    names_tools && refuses
}

fn detail(message: &str) -> String {
    if message.is_empty() { String::new() } else { format!(": {message}") }
}

fn describe(f: &Failure) -> String {
    match f {
        Failure::Status { code, .. } => code.to_string(),
        Failure::Timeout => "timeout".into(),
        Failure::Silent(stage, after) => format!("no {stage} for {after:?}"),
        Failure::Deadline => "the deadline passed".into(),
        Failure::Reported(m) => m.clone(),
        Failure::Empty => "an empty answer".into(),
        Failure::Cut => "the stream was cut".into(),
        Failure::Transport(w) | Failure::Malformed(w) | Failure::Unreachable(w) => w.clone(),
    }
}

/// The provider's own words from an error body (`{"error": {"message": …}}`, `{"error": "…"}`).
fn error_message(body: &str) -> String {
    let text = match serde_json::from_str::<Value>(body) {
        Ok(v) => v["error"]["message"]
            .as_str()
            .or_else(|| v["error"].as_str())
            .or_else(|| v["message"].as_str())
            .map(str::to_string)
            .unwrap_or_else(|| body.to_string()),
        Err(_) => body.to_string(),
    };
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() > 300 { text.chars().take(300).collect::<String>() + "…" } else { text }
}

fn transport(e: ureq::Error) -> Failure {
    match e {
        ureq::Error::Timeout(_) => Failure::Timeout,
        ureq::Error::Io(io) => transport_io(&io),
        ureq::Error::HostNotFound => Failure::Unreachable("host not found: check the base URL".into()),
        e @ (ureq::Error::Tls(_)
        | ureq::Error::Rustls(_)
        | ureq::Error::InvalidProxyUrl
        | ureq::Error::RequireHttpsOnly(_)) => Failure::Unreachable(tls_advice(&e.to_string())),
        other => Failure::Transport(other.to_string()),
    }
}

fn transport_io(e: &std::io::Error) -> Failure {
    let text = e.to_string();
    if matches!(e.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock) || text.contains("timeout") {
        Failure::Timeout
    } else if text.contains("certificate") || text.contains("UnknownIssuer") {
        Failure::Unreachable(tls_advice(&text))
    } else {
        Failure::Transport(text)
    }
}

fn tls_advice(text: &str) -> String {
    if text.contains("certificate") || text.contains("UnknownIssuer") {
        format!("{text}: the endpoint's TLS certificate is not trusted (a private CA? give it with --ca-cert)")
    } else {
        text.to_string()
    }
}

/// A non-streamed answer.
fn parse_reply(provider: Provider, v: &Value) -> Result<Reply, Failure> {
    match provider {
        Provider::Ollama => {
            let content = v["message"]["content"]
                .as_str()
                .ok_or_else(|| Failure::Malformed("no message in the answer".into()))?;
            Ok(Reply {
                content: content.to_string(),
                tool_calls: tool_calls(&v["message"], 0),
                finish_reason: v["done_reason"].as_str().map(str::to_string),
                usage: Some(Usage {
                    prompt_tokens: v["prompt_eval_count"].as_u64().unwrap_or(0),
                    completion_tokens: v["eval_count"].as_u64().unwrap_or(0),
                }),
            })
        }
        _ => {
            let choice = v["choices"]
                .as_array()
                .and_then(|c| c.first())
                .ok_or_else(|| Failure::Malformed("the answer has no choices".into()))?;
            Ok(Reply {
                content: choice["message"]["content"].as_str().unwrap_or_default().to_string(),
                tool_calls: tool_calls(&choice["message"], 0),
                finish_reason: choice["finish_reason"].as_str().map(str::to_string),
                usage: v["usage"].is_object().then(|| Usage {
                    prompt_tokens: v["usage"]["prompt_tokens"].as_u64().unwrap_or(0),
                    completion_tokens: v["usage"]["completion_tokens"].as_u64().unwrap_or(0),
                }),
            })
        }
    }
}

/// Server-sent events (`data: {…}` lines, `data: [DONE]` at the end).
fn read_sse(reader: impl Read, on_delta: &mut dyn FnMut(&str)) -> Result<Reply, Failure> {
    let mut content = String::new();
    let mut finish = None;
    let mut usage = None;
    let mut choices = false;
    let mut events = false;
    // Tool calls arrive in pieces: the name first, the arguments spread over events, by index.
    let mut calls: Vec<ToolCall> = Vec::new();
    for line in BufReader::new(reader).lines() {
        let line = line.map_err(|e| transport_io(&e))?;
        let Some(data) = line.strip_prefix("data:").map(str::trim) else { continue };
        events = true;
        if data == "[DONE]" {
            if !choices {
                return Err(Failure::Malformed("the answer has no choices".into()));
            }
            return Ok(Reply { content, finish_reason: finish, usage, tool_calls: calls });
        }
        let v: Value =
            serde_json::from_str(data).map_err(|e| Failure::Malformed(format!("a stream event is not JSON: {e}")))?;
        // llama.cpp and vLLM report a failure inside the stream, after a 200.
        if !v["error"].is_null() {
            return Err(Failure::Reported(error_message(data)));
        }
        if let Some(choice) = v["choices"].as_array().and_then(|c| c.first()) {
            choices = true;
            if let Some(delta) = choice["delta"]["content"].as_str().filter(|d| !d.is_empty()) {
                content.push_str(delta);
                on_delta(delta);
            }
            for (i, part) in choice["delta"]["tool_calls"].as_array().into_iter().flatten().enumerate() {
                let index = part["index"].as_u64().map_or(i, |n| n as usize).min(64);
                if calls.len() <= index {
                    calls.resize_with(index + 1, || ToolCall {
                        id: String::new(),
                        name: String::new(),
                        arguments: String::new(),
                    });
                }
                let call = &mut calls[index];
                if let Some(id) = part["id"].as_str() {
                    call.id = id.to_string();
                }
                // Some servers repeat the whole name in every piece; others split it.
                if let Some(name) = part["function"]["name"].as_str()
                    && call.name != name
                {
                    call.name.push_str(name);
                }
                if let Some(args) = part["function"]["arguments"].as_str() {
                    call.arguments.push_str(args);
                }
            }
            if let Some(f) = choice["finish_reason"].as_str() {
                finish = Some(f.to_string());
            }
        }
        if v["usage"].is_object() {
            usage = Some(Usage {
                prompt_tokens: v["usage"]["prompt_tokens"].as_u64().unwrap_or(0),
                completion_tokens: v["usage"]["completion_tokens"].as_u64().unwrap_or(0),
            });
        }
    }
    Err(if events { Failure::Cut } else { Failure::Empty })
}

/// Ollama's stream: one JSON object per line, the last with `"done": true`.
fn read_ollama_stream(reader: impl Read, on_delta: &mut dyn FnMut(&str)) -> Result<Reply, Failure> {
    let mut content = String::new();
    let mut calls = Vec::new();
    let mut lines = false;
    for line in BufReader::new(reader).lines() {
        let line = line.map_err(|e| transport_io(&e))?;
        if line.trim().is_empty() {
            continue;
        }
        let v: Value =
            serde_json::from_str(&line).map_err(|e| Failure::Malformed(format!("a stream line is not JSON: {e}")))?;
        lines = true;
        if !v["error"].is_null() {
            return Err(Failure::Reported(error_message(&line)));
        }
        // Ollama sends each tool call whole, in a line of its own.
        calls.extend(tool_calls(&v["message"], calls.len()));
        if let Some(delta) = v["message"]["content"].as_str().filter(|d| !d.is_empty()) {
            content.push_str(delta);
            on_delta(delta);
        }
        if v["done"].as_bool() == Some(true) {
            return Ok(Reply {
                content,
                tool_calls: calls,
                finish_reason: v["done_reason"].as_str().map(str::to_string),
                usage: Some(Usage {
                    prompt_tokens: v["prompt_eval_count"].as_u64().unwrap_or(0),
                    completion_tokens: v["eval_count"].as_u64().unwrap_or(0),
                }),
            });
        }
    }
    Err(if lines { Failure::Cut } else { Failure::Empty })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(provider: Provider, base: &str) -> ModelConfig {
        let mut cfg = crate::llm::ModelConfig::resolve(&Default::default()).unwrap();
        cfg.provider = provider;
        cfg.base_url = base.to_string();
        cfg.model = "m".into();
        cfg
    }

    #[test]
    fn servers_that_cannot_take_tools_are_recognised_by_their_words() {
        for message in [
            "tools param requires --jinja flag",
            "\"auto\" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set",
            "registry.ollama.ai/library/gemma:2b does not support tools",
            "tools is not supported with this model",
            "Function calling is not enabled for this model",
        ] {
            assert!(rejects_tools(message), "{message}");
        }
        for message in ["", "the server is overloaded", "tool call parsing failed: retry", "model not found"] {
            assert!(!rejects_tools(message), "{message}");
        }
    }

    #[test]
    fn openai_compatible_urls() {
        let cases = [
            ("https://api.openai.com/v1", "https://api.openai.com/v1/chat/completions"),
            ("https://api.openai.com", "https://api.openai.com/v1/chat/completions"),
            ("https://api.openai.com/v1/", "https://api.openai.com/v1/chat/completions"),
            (
                "https://dashscope.aliyuncs.com/compatible-mode/v1",
                "https://dashscope.aliyuncs.com/compatible-mode/v1/chat/completions",
            ),
            ("https://api.deepseek.com", "https://api.deepseek.com/v1/chat/completions"),
            ("https://open.bigmodel.cn/api/paas/v4", "https://open.bigmodel.cn/api/paas/v4/chat/completions"),
            (
                "https://generativelanguage.googleapis.com/v1beta/openai",
                "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions",
            ),
            ("http://vllm:8000/v1/chat/completions", "http://vllm:8000/v1/chat/completions"),
            ("http://localhost:8000", "http://localhost:8000/v1/chat/completions"),
        ];
        for (base, want) in cases {
            assert_eq!(chat_url(&config(Provider::Openai, base)).unwrap(), want, "{base}");
        }
        assert_eq!(
            chat_url(&config(Provider::Ollama, "http://localhost:11434/")).unwrap(),
            "http://localhost:11434/api/chat"
        );
        let mut azure = config(Provider::Azure, "https://x.openai.azure.com");
        azure.azure_deployment = Some("gpt4o".into());
        assert_eq!(
            chat_url(&azure).unwrap(),
            "https://x.openai.azure.com/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21"
        );
        assert!(chat_url(&config(Provider::Azure, "")).is_err());
    }

    #[test]
    fn reasoning_models() {
        for (m, want) in [
            ("o1", true),
            ("o3-mini", true),
            ("o4-mini", true),
            ("gpt-5", true),
            ("gpt-4o", false),
            ("openai/o3", true),
            ("qwen-plus", false),
            ("gpt-4o1", false),
        ] {
            assert_eq!(is_reasoning_model(m), want, "{m}");
        }
    }

    #[test]
    fn streams() {
        let sse = "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n";
        let mut seen = String::new();
        let reply = read_sse(sse.as_bytes(), &mut |d| seen.push_str(d)).unwrap();
        assert_eq!(
            (reply.content.as_str(), seen.as_str(), reply.finish_reason.as_deref()),
            ("Hello", "Hello", Some("stop"))
        );
        let cut = "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n";
        assert_eq!(read_sse(cut.as_bytes(), &mut |_| {}), Err(Failure::Cut));
        let none = "data: {\"choices\":[]}\n\ndata: [DONE]\n";
        assert_eq!(read_sse(none.as_bytes(), &mut |_| {}), Err(Failure::Malformed("the answer has no choices".into())));
        let call = "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"c\",\"function\":{\"name\":\"kubectl\",\"arguments\":\"{\\\"com\"}}]}}]}\n\ndata: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"mand\\\": 1}\"}}]}}]}\n\ndata: [DONE]\n";
        let reply = read_sse(call.as_bytes(), &mut |_| {}).unwrap();
        assert_eq!(
            reply.tool_calls,
            [ToolCall { id: "c".into(), name: "kubectl".into(), arguments: "{\"command\": 1}".into() }]
        );
        let ollama = "{\"message\":{\"content\":\"Hi\"},\"done\":false}\n{\"message\":{\"content\":\"!\"},\"done\":true,\"prompt_eval_count\":5,\"eval_count\":2}\n";
        let reply = read_ollama_stream(ollama.as_bytes(), &mut |_| {}).unwrap();
        assert_eq!(reply.content, "Hi!");
        assert_eq!(reply.usage, Some(Usage { prompt_tokens: 5, completion_tokens: 2 }));
    }

    /// What real servers do in streams: names repeated in every piece of a call, errors after a 200,
    /// nothing at all, Ollama's whole tool calls in lines of their own.
    #[test]
    fn stream_quirks() {
        let piece = |id: &str, args: &str| {
            format!(
                "data: {}\n\n",
                json!({"choices": [{"delta": {"tool_calls": [{"index": 0, "id": id, "function": {"name": "kubectl", "arguments": args}}]}}]})
            )
        };
        let repeated =
            format!("{}{}{}data: [DONE]\n", piece("c1", "{\"command\""), piece("", ": \"get"), piece("", " ns\"}"));
        let reply = read_sse(repeated.as_bytes(), &mut |_| {}).unwrap();
        assert_eq!(reply.tool_calls.len(), 1);
        assert_eq!(
            (reply.tool_calls[0].name.as_str(), reply.tool_calls[0].arguments.as_str()),
            ("kubectl", "{\"command\": \"get ns\"}")
        );
        let split = "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"name\":\"kub\"}}]}}]}\n\ndata: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"name\":\"ectl\",\"arguments\":\"{}\"}}]}}]}\n\ndata: [DONE]\n";
        assert_eq!(read_sse(split.as_bytes(), &mut |_| {}).unwrap().tool_calls[0].name, "kubectl");
        let error = "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\ndata: {\"error\":{\"message\":\"CUDA error: out of memory\",\"code\":500}}\n\n";
        assert_eq!(read_sse(error.as_bytes(), &mut |_| {}), Err(Failure::Reported("CUDA error: out of memory".into())));
        assert_eq!(read_sse("".as_bytes(), &mut |_| {}), Err(Failure::Empty));
        assert_eq!(read_sse(": keep-alive\n\n".as_bytes(), &mut |_| {}), Err(Failure::Empty));
        let ollama = "{\"message\":{\"content\":\"\",\"tool_calls\":[{\"function\":{\"name\":\"kubectl\",\"arguments\":{\"command\":\"get ns\"}}}]},\"done\":false}\n{\"message\":{\"content\":\"\",\"tool_calls\":[{\"function\":{\"name\":\"jq\",\"arguments\":{\"filter\":\".\"}}}]},\"done\":false}\n{\"message\":{\"content\":\"\"},\"done\":true}\n";
        let reply = read_ollama_stream(ollama.as_bytes(), &mut |_| {}).unwrap();
        let calls: Vec<(&str, &str)> = reply.tool_calls.iter().map(|c| (c.id.as_str(), c.name.as_str())).collect();
        assert_eq!(calls, [("call_0", "kubectl"), ("call_1", "jq")]);
        assert_eq!(
            read_ollama_stream("{\"error\":\"model requires more system memory\"}\n".as_bytes(), &mut |_| {}),
            Err(Failure::Reported("model requires more system memory".into()))
        );
        assert_eq!(read_ollama_stream("".as_bytes(), &mut |_| {}), Err(Failure::Empty));
    }

    #[test]
    fn a_request_too_long_is_cut_to_the_window_keeping_head_and_tail() {
        let log: String = (0..4000).map(|i| format!("line {i} connection refused by db-{i}:5432\n")).collect();
        let mut messages = vec![Message::system("You explain logs."), Message::user(log)];
        let mut options = ChatOptions::default();
        fit_window(&mut messages, &mut options, 4096, Some(60_000), "qwen2.5-coder");
        let counter = crate::llm::tokens::Counter::for_model("qwen2.5-coder");
        let total: usize = messages.iter().map(|m| counter.count(&m.content)).sum();
        assert!(total + options.max_tokens as usize <= 4096, "{total} + {}", options.max_tokens);
        assert_eq!(messages[0].content, "You explain logs.", "the instructions are never cut");
        let user = &messages[1].content;
        assert!(user.starts_with("line 0 ") && user.contains("line 3999 "), "head and tail kept");
        assert!(user.contains("[… cut to fit the model's 4096-token window …]"));
        assert_eq!(options.max_tokens, 1024);
    }

    #[test]
    fn error_bodies_and_retry_after() {
        assert_eq!(error_message(r#"{"error":{"message":"Incorrect API key","type":"x"}}"#), "Incorrect API key");
        assert_eq!(error_message(r#"{"error":"model 'x' not found"}"#), "model 'x' not found");
        assert_eq!(error_message("plain\ntext"), "plain text");
        assert_eq!(crate::duration::parse_retry_after("0.5"), Some(Duration::from_millis(500)));
    }
}
