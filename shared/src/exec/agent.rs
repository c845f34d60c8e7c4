//! The agent of `kubectl ai exec`: a loop of model calls and tool calls until an answer.
//!
//! Native tool calling by default; when the provider rejects `tools` (or the profile says the model
//! has none) the same conversation continues in a JSON ReAct protocol. A reply that carries an
//! answer is used as it is — never a second model call just because its JSON did not parse. The
//! loop stops at `max_iterations` tool calls or when the model repeats the same call.

use serde::Serialize;
use serde_json::Value;

use crate::error::Error;
use crate::exec::tools::{self, Step, Toolbox};
use crate::llm::reply::{extract_json, strip_think};
use crate::llm::{ChatOptions, Client, Message};

/// The instructions, native protocol. Kept short on purpose (every request carries them).
pub(super) fn system_prompt(context: &str, namespace: &str) -> String {
    format!(
        "You operate a Kubernetes cluster (context {context}, namespace {namespace}) through tools. \
         Call kubectl with the verb first (get, describe, logs…). Ask narrow: -n, -l, --field-selector, \
         -o jsonpath or | jq; never dump everything. Base every statement on tool output; never invent \
         output. Changes need the user's approval; if refused, say what you would run. Answer briefly, in markdown."
    )
}

/// The ReAct protocol, for models without tool calling.
pub(super) const REACT: &str = "Tools: kubectl (input: the command, e.g. get pods -o json | jq '.items|length'), jq (input: a filter over the previous output). Reply with JSON only: {\"thought\": \"…\", \"action\": {\"name\": \"kubectl\", \"input\": \"…\"}} to use a tool, or {\"thought\": \"…\", \"final_answer\": \"…\"} when done.";

/// Which protocol a conversation uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// The provider's tool calling.
    Native,
    /// JSON actions in text, for models without tool calling.
    React,
}

/// Token counts over the whole question.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Usage {
    /// Model calls.
    pub calls: u32,
    /// Tokens sent.
    pub prompt_tokens: u64,
    /// Tokens answered.
    pub completion_tokens: u64,
}

/// The outcome of one question.
#[derive(Clone, Debug, Serialize)]
pub struct Answer {
    /// The answer, markdown (empty when stopped).
    pub answer: String,
    /// The tool calls, in order.
    pub steps: Vec<Step>,
    /// The tokens spent.
    pub usage: Usage,
    /// How tools were called.
    pub protocol: Protocol,
    /// Why the loop stopped before an answer, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

/// Limits of one question.
#[derive(Clone, Copy, Debug)]
pub(super) struct Limits {
    pub max_iterations: u16,
    pub max_answer: u32,
    /// The longest one question may take (model calls and tools together).
    pub timeout: std::time::Duration,
}

/// A conversation: kept across questions in an interactive session.
pub(super) struct Conversation {
    pub messages: Vec<Message>,
    pub protocol: Protocol,
    react_tools: String,
}

impl Conversation {
    /// `react_tools`: the optional tools, described for the ReAct protocol.
    pub(super) fn new(system: String, protocol: Protocol, react_tools: String) -> Conversation {
        let messages = vec![Message::system(system)];
        let mut c = Conversation { messages, protocol: Protocol::Native, react_tools };
        if protocol == Protocol::React {
            c.switch_to_react();
        }
        c
    }

    /// Back to the instructions alone.
    pub(super) fn reset(&mut self) {
        self.messages.truncate(1);
    }

    fn switch_to_react(&mut self) {
        self.protocol = Protocol::React;
        let extra = if self.react_tools.is_empty() { String::new() } else { format!(" Also: {}.", self.react_tools) };
        self.messages[0].content = format!("{}\n{REACT}{extra}", self.messages[0].content);
    }
}

/// Called as things happen (`-v`).
pub trait Observer {
    /// The model said something before calling tools.
    fn thought(&mut self, _text: &str) {}
    /// A tool call ran (or was refused).
    fn tool(&mut self, _step: &Step) {}
}

/// Asks one question (with what stdin held, if anything) and runs tools until an answer.
pub(super) fn ask(
    client: &Client<'_>,
    conversation: &mut Conversation,
    question: &str,
    tools: &mut Toolbox<'_>,
    limits: Limits,
    observer: &mut dyn Observer,
) -> Result<Answer, Error> {
    conversation.messages.push(Message::user(crate::llm::redact::redact_text(question)));
    let options = ChatOptions { max_tokens: limits.max_answer, ..ChatOptions::default() };
    let schemas = tools::schemas(&tools.extras);
    let mut usage = Usage::default();
    let mut steps: Vec<Step> = Vec::new();
    let mut last_call: Option<(String, String)> = None;
    let mut repeats = 0;
    let started = std::time::Instant::now();
    loop {
        if started.elapsed() > limits.timeout {
            let why = format!("the question took longer than {}s (--timeout)", limits.timeout.as_secs());
            return Ok(stopped(conversation, steps, usage, why));
        }
        let native = conversation.protocol == Protocol::Native;
        let reply = match client.chat_with(&conversation.messages, &options, if native { &schemas } else { &[] }, None)
        {
            Ok(r) => r,
            Err(Error::Model { message: m, .. }) if native && m.contains("may not support tool calling") => {
                tracing::info!("the provider rejected tools: continuing with the ReAct protocol");
                conversation.switch_to_react();
                continue;
            }
            Err(e) => return Err(e),
        };
        usage.calls += 1;
        if let Some(u) = reply.usage {
            usage.prompt_tokens += u.prompt_tokens;
            usage.completion_tokens += u.completion_tokens;
        }
        // What to run next: native tool calls, or the ReAct action; else this is the answer.
        let calls: Vec<(String, String, String, bool)> = if native {
            reply.tool_calls.iter().map(|c| (c.id.clone(), c.name.clone(), c.arguments.clone(), true)).collect()
        } else {
            react_action(&reply.content)
                .map(|(name, input)| vec![(String::new(), name, input, false)])
                .unwrap_or_default()
        };
        let visible = strip_think(&reply.content);
        if calls.is_empty() {
            let answer = if native { visible.trim().to_string() } else { react_answer(&reply.content) };
            conversation.messages.push(Message::assistant(answer.clone()));
            if answer.is_empty() {
                return Err(Error::model("the model returned an empty answer"));
            }
            return Ok(Answer { answer, steps, usage, protocol: conversation.protocol, stopped: None });
        }
        if !visible.trim().is_empty() {
            observer.thought(visible.trim());
        }
        if native {
            let tool_calls = reply.tool_calls.clone();
            conversation.messages.push(Message::calls(reply.content.clone(), tool_calls));
        } else {
            conversation.messages.push(Message::assistant(reply.content.clone()));
        }
        for (id, name, input, native_call) in calls {
            let this = (name.clone(), input.clone());
            if last_call.as_ref() == Some(&this) {
                repeats += 1;
            } else {
                repeats = 0;
            }
            last_call = Some(this);
            if repeats >= 2 {
                let why = format!("the model asked for the same {name} call three times in a row");
                return Ok(stopped(conversation, steps, usage, why));
            }
            if steps.len() >= usize::from(limits.max_iterations) {
                let why = format!("no answer after {} tool calls (--max-iterations)", limits.max_iterations);
                return Ok(stopped(conversation, steps, usage, why));
            }
            let (result, step) = tools.call(&name, &input, native_call);
            observer.tool(&step);
            steps.push(step);
            if native_call {
                conversation.messages.push(Message::tool(id, result));
            } else {
                conversation.messages.push(Message::user(format!("Observation:\n{result}")));
            }
        }
    }
}

fn stopped(conversation: &Conversation, steps: Vec<Step>, usage: Usage, why: String) -> Answer {
    Answer { answer: String::new(), steps, usage, protocol: conversation.protocol, stopped: Some(why) }
}

/// The action of a ReAct reply: `{"action": {"name": …, "input": …}}`.
fn react_action(content: &str) -> Option<(String, String)> {
    let v = extract_json(content)?;
    if v.get("final_answer").is_some_and(|a| !a.is_null()) {
        return None;
    }
    let action = &v["action"];
    let name = action["name"].as_str().or_else(|| v["tool"].as_str())?.to_string();
    let input = match &action["input"] {
        Value::String(s) => s.clone(),
        Value::Null => match &v["input"] {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        },
        Value::Object(o) => o
            .get("command")
            .or_else(|| o.get("filter"))
            .and_then(Value::as_str)
            .map_or_else(|| Value::Object(o.clone()).to_string(), str::to_string),
        other => other.to_string(),
    };
    Some((name, input))
}

/// The answer of a ReAct reply: its `final_answer`, else the whole visible text as it is.
fn react_answer(content: &str) -> String {
    match extract_json(content) {
        Some(v) => match &v["final_answer"] {
            Value::String(s) => s.trim().to_string(),
            Value::Null => strip_think(content).trim().to_string(),
            other => other.to_string(),
        },
        None => strip_think(content).trim().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn react_replies() {
        let fenced = "<think>count them</think>Sure.\n```json\n{\"thought\": \"t\", \"action\": {\"name\": \"kubectl\", \"input\": \"get ns -o json | jq '.items | length'\"}}\n```\ntrailing";
        assert_eq!(react_action(fenced), Some(("kubectl".into(), "get ns -o json | jq '.items | length'".into())));
        let done = "{\"thought\": \"t\", \"final_answer\": \"There are 3 namespaces.\"}";
        assert_eq!(react_action(done), None);
        assert_eq!(react_answer(done), "There are 3 namespaces.");
        // Not JSON at all: the text is the answer, as it is.
        assert_eq!(react_answer("<think>x</think>There are 3."), "There are 3.");
        assert_eq!(
            react_action("{\"action\": {\"name\": \"kubectl\", \"input\": {\"command\": \"get ns\"}}}"),
            Some(("kubectl".into(), "get ns".into()))
        );
    }
}
