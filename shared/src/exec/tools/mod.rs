//! The tools of `kubectl ai exec`: kubectl (run directly, never through a shell, with in-process
//! pipelines) and jq (jaq, in-process). Every output goes through the redaction pass before a model
//! sees it, and is capped to a token budget.

pub(crate) mod budget;
pub(crate) mod extra;
mod jq;
pub(crate) mod kubectl;
pub mod pipeline;

use serde::Serialize;
use serde_json::{Value, json};

use crate::cluster::change_log;
use crate::llm::tokens::Counter;
use crate::progress::Progress;
use extra::Extra;
use kubectl::{Class, Session};

/// What the user says to a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Run it.
    Yes,
    /// Yes, and to every further change of this session.
    Always,
    /// Do not run it.
    No,
    /// Nobody can be asked (no terminal).
    NoTerminal,
}

/// Asks before a change.
pub trait Approver {
    /// Whether `command` (of `class`, on `context` and `namespace`) may run.
    fn approve(&mut self, command: &str, class: Class, context: &str, namespace: &str) -> Decision;
}

/// One tool call as reported (`-o json` steps).
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    /// The tool called.
    pub tool: String,
    /// Its input, as the model wrote it.
    pub input: String,
    /// What a kubectl call does to the cluster.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classification: Option<Class>,
    /// How it ended, when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Why it did not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// Tokens of its output before the cap.
    pub output_tokens: usize,
}

/// The tools of one session.
pub(super) struct Toolbox<'a> {
    pub session: Session,
    pub read_only: bool,
    /// Changes run without asking (`--yes`, or "yes to all" once).
    pub approved: bool,
    pub approver: &'a mut dyn Approver,
    pub counter: Counter,
    /// The most tokens one result may take.
    pub cap: usize,
    /// The previous tool output, for jq.
    last: String,
    /// trivy, web_search and the config file's tools, when offered.
    pub extras: Vec<Extra>,
    /// Who is told what does not stop the work (a change log that cannot be written).
    progress: &'a dyn Progress,
}

/// The tools' schemas (OpenAI function format), as short as they can be: kubectl, jq, then the
/// optional ones.
pub(super) fn schemas(extras: &[Extra]) -> Vec<Value> {
    let mut all = vec![
        json!({"type": "function", "function": {
            "name": "kubectl",
            "description": "Run kubectl. Pipes into jq, grep, wc -l, head, tail, sort, uniq run in-process; no shell.",
            "parameters": {"type": "object", "properties": {"command": {"type": "string", "description": "e.g. get pods -n web -o json | jq '.items|length'"}}, "required": ["command"]},
        }}),
        json!({"type": "function", "function": {
            "name": "jq",
            "description": "A jq filter over the previous tool output.",
            "parameters": {"type": "object", "properties": {"filter": {"type": "string"}}, "required": ["filter"]},
        }}),
    ];
    all.extend(extras.iter().map(Extra::schema));
    all
}

/// The names of the tools on offer.
pub(super) fn names(extras: &[Extra]) -> Vec<String> {
    ["kubectl", "jq"].iter().map(|s| s.to_string()).chain(extras.iter().map(|e| e.name().to_string())).collect()
}

/// The optional tools for the ReAct protocol's instructions.
pub(super) fn react_lines(extras: &[Extra]) -> String {
    extras
        .iter()
        .map(|e| match e.only_parameter() {
            Some(p) => format!("{} (input: the {p})", e.name()),
            None => format!("{} (input: a JSON object of its parameters)", e.name()),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl<'a> Toolbox<'a> {
    pub(super) fn new(
        session: Session,
        approver: &'a mut dyn Approver,
        progress: &'a dyn Progress,
        counter: Counter,
        cap: usize,
    ) -> Toolbox<'a> {
        Toolbox {
            session,
            read_only: false,
            approved: false,
            approver,
            counter,
            cap,
            last: String::new(),
            extras: Vec::new(),
            progress,
        }
    }

    /// Runs one call with arguments as the model wrote them (native: a JSON object; ReAct: the
    /// input string). Always returns text for the model: a result or a tool error.
    pub(super) fn call(&mut self, name: &str, arguments: &str, native: bool) -> (String, Step) {
        let field = match name {
            "kubectl" => "command",
            "jq" => "filter",
            other => match self.extras.iter().position(|e| e.name() == other) {
                Some(i) => return self.extra(i, arguments, native),
                None => {
                    let text =
                        format!("error: there is no tool {other:?}; the tools are {}", names(&self.extras).join(", "));
                    return (text.clone(), self.step(name, arguments, None, None, Some(text)));
                }
            },
        };
        let input = if native {
            match serde_json::from_str::<Value>(arguments) {
                Ok(v) => match v[field].as_str() {
                    Some(s) => s.to_string(),
                    None => {
                        let text = format!("error: {name} needs {{\"{field}\": \"…\"}}, got {arguments}");
                        return (text.clone(), self.step(name, arguments, None, None, Some(text)));
                    }
                },
                Err(e) => {
                    let text =
                        format!("error: the arguments are not JSON ({e}); call {name} with {{\"{field}\": \"…\"}}");
                    return (text.clone(), self.step(name, arguments, None, None, Some(text)));
                }
            }
        } else {
            arguments.trim().to_string()
        };
        match name {
            "kubectl" => self.kubectl(&input),
            _ => {
                let result = jq::run(&input, &self.last, false).unwrap_or_else(|e| format!("error: {e}"));
                let text = self.fit(&result);
                let step = self.step("jq", &input, None, None, None);
                (text, Step { output_tokens: self.counter.count(&result), ..step })
            }
        }
    }

    /// An optional tool: arguments checked, confirmation when it is not read-only, output redacted
    /// and capped.
    fn extra(&mut self, i: usize, arguments: &str, native: bool) -> (String, Step) {
        let tool = self.extras[i].clone();
        let name = tool.name().to_string();
        let args: Value = match (native, tool.only_parameter()) {
            (false, Some(p)) if !arguments.trim_start().starts_with('{') => json!({ p: arguments.trim() }),
            _ => match serde_json::from_str(arguments) {
                Ok(v @ Value::Object(_)) => v,
                _ => {
                    let text = format!("error: the arguments of {name} must be a JSON object, got {arguments}");
                    return (text.clone(), self.step(&name, arguments, None, None, Some(text)));
                }
            },
        };
        let class = if tool.read_only() { Class::Read } else { Class::Unknown };
        let shown = match tool.command_line(&args) {
            Ok(argv) => shell_words::join(&argv),
            Err(e) => {
                let text = format!("error: {e}");
                return (text.clone(), self.step(&name, arguments, Some(class), None, Some(e)));
            }
        };
        let namespace = self.session.namespace.clone().or(self.session.default_namespace.clone()).unwrap_or_default();
        if class != Class::Read
            && let Some(refused) = self.confirm(&shown, class, &namespace)
        {
            let text = format!("refused: {refused}");
            return (text, self.step(&name, arguments, Some(class), None, Some(refused)));
        }
        let result = tool.run(&args, self.session.timeout);
        let code = i32::from(result.is_err());
        if class != Class::Read {
            let first = result.as_ref().map_or_else(|e| e.clone(), |o| o.lines().next().unwrap_or("").to_string());
            self.log_change(&shown, &namespace, &first, code);
        }
        let text = crate::llm::redact::redact_text(&redact_output(&result.unwrap_or_else(|e| format!("error: {e}"))));
        let tokens = self.counter.count(&text);
        let step = Step { output_tokens: tokens, ..self.step(&name, arguments, Some(class), Some(code), None) };
        (self.fit(&text), step)
    }

    /// One executed change in the audit log.
    fn log_change(&self, command: &str, namespace: &str, result: &str, exit_code: i32) {
        let logged = change_log::record(&change_log::Entry {
            time: change_log::now(),
            tool: "exec",
            context: self.session.context.as_deref(),
            namespace: Some(namespace),
            command,
            result,
            exit_code,
        });
        if let Err(e) = logged {
            self.progress.warn(&e);
        }
    }

    /// Asks before a change; the reason it may not run, if it may not.
    fn confirm(&mut self, shown: &str, class: Class, namespace: &str) -> Option<String> {
        if self.read_only {
            return Some(format!("this session is read-only: {shown} was not run; tell the user the command instead"));
        }
        if self.approved {
            return None;
        }
        let context = self.session.context.clone().unwrap_or_else(|| "(current)".into());
        match self.approver.approve(shown, class, &context, namespace) {
            Decision::Yes => None,
            Decision::Always => {
                self.approved = true;
                None
            }
            Decision::No => Some(format!("the user declined {shown}")),
            Decision::NoTerminal => Some(format!(
                "{shown} changes the cluster and needs a confirmation, and there is no terminal to ask on (the user may rerun with --yes)"
            )),
        }
    }

    fn step(&self, tool: &str, input: &str, class: Option<Class>, code: Option<i32>, refused: Option<String>) -> Step {
        let output_tokens = refused.as_deref().map_or(0, |r| self.counter.count(r));
        Step { tool: tool.into(), input: input.into(), classification: class, exit_code: code, refused, output_tokens }
    }

    fn kubectl(&mut self, command: &str) -> (String, Step) {
        let refuse = |me: &Self, class: Option<Class>, why: String| {
            let text = format!("refused: {why}");
            (text.clone(), me.step("kubectl", command, class, None, Some(why)))
        };
        let pipeline = match pipeline::parse(command) {
            Ok(p) => p,
            Err(why) => return refuse(self, None, why),
        };
        if let Some(why) = kubectl::refusal(&pipeline.args) {
            return refuse(self, None, why);
        }
        let class = kubectl::classify(&pipeline.args);
        let shown = format!("kubectl {}", shell_words::join(&pipeline.args));
        let namespace = self.session.namespace_for(&pipeline.args).unwrap_or_else(|| "(the context's)".into());
        if class != Class::Read
            && let Some(why) = self.confirm(&shown, class, &namespace)
        {
            return refuse(self, Some(class), why);
        }
        let out = self.session.run(&pipeline.args);
        if class != Class::Read {
            let result = if out.code == 0 { out.stdout.trim() } else { out.stderr.trim() };
            self.log_change(&shown, &namespace, result.lines().next().unwrap_or(""), out.code);
        }
        let stdout = redact_output(&out.stdout);
        self.last = stdout.clone();
        let mut text = if out.code == 0 {
            let mut piped = Ok(stdout);
            for stage in &pipeline.stages {
                piped = piped.and_then(|input| pipeline::apply(stage, &input));
            }
            piped.unwrap_or_else(|e| format!("error: {e}"))
        } else {
            let mut t = format!("exit code {}\n{}", out.code, out.stderr.trim_end());
            if !stdout.trim().is_empty() {
                t = format!("{t}\n{stdout}");
            }
            t
        };
        if out.stopped {
            text.push_str(&format!("\n(stopped after {}s: this is what arrived)", self.session.endless_for.as_secs()));
        }
        if text.trim().is_empty() {
            text = "(no output)".into();
        }
        let text = crate::llm::redact::redact_text(&text);
        let tokens = self.counter.count(&text);
        let fitted = self.fit(&text);
        let step = Step { output_tokens: tokens, ..self.step("kubectl", command, Some(class), Some(out.code), None) };
        (fitted, step)
    }

    /// The result within the cap: JSON summarized by its structure, text cut in the middle.
    fn fit(&self, text: &str) -> String {
        budget::fit(&self.counter, text, self.cap)
    }
}

/// kubectl output with Secret values and sensitive literals removed, when it is objects (JSON or
/// YAML); other text is left to the text pass.
pub(super) fn redact_output(stdout: &str) -> String {
    let trimmed = stdout.trim_start();
    let structured = trimmed.starts_with('{') || trimmed.starts_with("apiVersion:") || trimmed.contains("\nkind:");
    if !structured {
        return stdout.to_string();
    }
    if trimmed.starts_with('{') {
        return match serde_json::from_str::<Value>(trimmed) {
            Ok(mut v) => {
                crate::llm::redact::redact_value(&mut v);
                serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
            }
            Err(_) => crate::llm::redact::redact_text(stdout),
        };
    }
    match crate::snapshot::parse_documents(stdout) {
        Ok(docs) => docs
            .into_iter()
            .map(|d| {
                let mut v = d.value;
                crate::llm::redact::redact_value(&mut v);
                serde_saphyr::to_string(&v).unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join("---\n"),
        // Not parseable: nothing structured is passed on whole.
        Err(_) => crate::llm::redact::redact_text(stdout),
    }
}
