//! The tools of `kubectl ai exec`: kubectl (read as kubectl reads it, judged by a positive model,
//! run directly — never through a shell — with in-process pipelines) and jq (jaq, in a sandbox).
//! Every output is redacted as objects before any filter reads it and as text after, and capped to
//! a token budget; every change runs only after a person's yes and is logged.

pub(crate) mod budget;
pub(crate) mod extra;
pub(crate) mod jq;
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

/// A change waiting for a yes, as a person should see it: the exact command line that will run
/// (shell-quoted, the session's flags included), where it runs, and what kind of change it is.
#[derive(Clone, Copy, Debug)]
pub struct Change<'c> {
    /// The exact command line, shell-quoted.
    pub command: &'c str,
    /// What it does to the cluster.
    pub class: Class,
    /// The kubeconfig context.
    pub context: &'c str,
    /// The API server's URL.
    pub server: &'c str,
    /// The namespace it works in.
    pub namespace: &'c str,
}

/// Asks before a change.
pub trait Approver {
    /// Whether the change may run.
    fn approve(&mut self, change: &Change<'_>) -> Decision;
    /// A change runs without asking (`--yes`, or a yes for the whole session): the person still
    /// sees each one.
    fn running(&mut self, _change: &Change<'_>) {}
}

/// A change that was asked for and not made, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NotRun {
    /// The command line.
    pub command: String,
    /// Why: `read-only`, `declined`, `no terminal`.
    pub why: String,
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
    /// The command line that ran, as kubectl got it (the session's flags included).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
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
    /// Where jq filters run.
    pub jq: jq::Sandbox,
    /// The API server's URL, for confirmations.
    pub server: String,
    /// Changes asked for and not made, for the end of the answer.
    pub not_run: Vec<NotRun>,
    /// Who asked for the changes, in the change log: `exec`, `mcp`.
    pub origin: &'static str,
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
            jq: jq::Sandbox { worker: None, timeout: std::time::Duration::from_secs(10) },
            server: String::new(),
            not_run: Vec::new(),
            origin: "exec",
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
                let result = self.jq.run(&input, &self.last, false).unwrap_or_else(|e| format!("error: {e}"));
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
        if tool.egress() && self.read_only {
            let why = format!("this session is read-only, and {name} sends what it is given beyond the cluster");
            return (format!("refused: {why}"), self.step(&name, arguments, Some(class), None, Some(why)));
        }
        let shown = match tool.command_line(&args) {
            Ok(argv) => shell_words::join(&argv),
            Err(e) => {
                let text = format!("error: {e}");
                return (text.clone(), self.step(&name, arguments, Some(class), None, Some(e)));
            }
        };
        let namespace = self.session.namespace.clone().or(self.session.default_namespace.clone()).unwrap_or_default();
        if (class != Class::Read || tool.egress())
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
        let text = crate::llm::redact::redact_text(&crate::llm::redact::redact_output(
            &result.unwrap_or_else(|e| format!("error: {e}")),
        ));
        let tokens = self.counter.count(&text);
        let step = Step { output_tokens: tokens, ..self.step(&name, arguments, Some(class), Some(code), None) };
        (self.fit(&text), step)
    }

    /// One executed change in the audit log.
    fn log_change(&self, command: &str, namespace: &str, result: &str, exit_code: i32) {
        let logged = change_log::record(&change_log::Entry {
            time: change_log::now(),
            tool: self.origin,
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

    /// Asks before a change; the reason it may not run, if it may not (also kept for the end of
    /// the answer).
    fn confirm(&mut self, shown: &str, class: Class, namespace: &str) -> Option<String> {
        let context = self.session.context.clone().unwrap_or_else(|| "(current)".into());
        let change = Change { command: shown, class, context: &context, server: &self.server, namespace };
        let (why, kind) = if self.read_only {
            (format!("this session is read-only: {shown} was not run; tell the user the command instead"), "read-only")
        } else if self.approved {
            self.approver.running(&change);
            return None;
        } else {
            match self.approver.approve(&change) {
                Decision::Yes => return None,
                Decision::Always => {
                    self.approved = true;
                    return None;
                }
                Decision::No => (format!("the user declined {shown}: it was not run"), "declined"),
                Decision::NoTerminal => (
                    format!(
                        "{shown} changes the cluster and needs a yes, and there is no terminal to ask on: it was not run (the user may rerun with --yes)"
                    ),
                    "no terminal",
                ),
            }
        };
        self.not_run.push(NotRun { command: shown.to_string(), why: kind.into() });
        Some(why)
    }

    fn step(&self, tool: &str, input: &str, class: Option<Class>, code: Option<i32>, refused: Option<String>) -> Step {
        let output_tokens = refused.as_deref().map_or(0, |r| self.counter.count(r));
        Step {
            tool: tool.into(),
            input: input.into(),
            classification: class,
            exit_code: code,
            command: None,
            refused,
            output_tokens,
        }
    }

    pub(super) fn kubectl(&mut self, command: &str) -> (String, Step) {
        let refuse = |me: &Self, class: Option<Class>, why: String| {
            let text = format!("refused: {why}");
            (text.clone(), me.step("kubectl", command, class, None, Some(why)))
        };
        let pipeline = match pipeline::parse(command) {
            Ok(p) => p,
            Err(why) => return refuse(self, None, why),
        };
        let judged = match kubectl::judge(&pipeline.args) {
            Ok(j) => j,
            Err(why) => return refuse(self, None, why),
        };
        let class = match judged.verdict {
            kubectl::Verdict::Read => Class::Read,
            kubectl::Verdict::Write => Class::Write,
            kubectl::Verdict::Refused(why) => return refuse(self, None, why),
        };
        let argv = self.session.argv(&judged.parsed);
        let shown = format!("kubectl {}", kubectl::shell_line(&argv));
        let namespace = self.session.namespace_for(&judged.parsed).unwrap_or_else(|| "(the context's)".into());
        if class != Class::Read
            && let Some(why) = self.confirm(&shown, class, &namespace)
        {
            return refuse(self, Some(class), why);
        }
        let out = self.session.run(&judged.parsed);
        if class != Class::Read {
            let result = if out.code == 0 { out.stdout.trim() } else { out.stderr.trim() };
            self.log_change(&shown, &namespace, result.lines().next().unwrap_or(""), out.code);
        }
        // Objects are redacted as objects first, so that no filter sees a value the redaction
        // would have masked; the text is redacted again once filtered.
        let stdout = crate::llm::redact::redact_output(&out.stdout);
        self.last = stdout.clone();
        let mut text = if out.code == 0 {
            let mut piped = Ok(stdout);
            for stage in &pipeline.stages {
                piped = piped.and_then(|input| pipeline::apply_in(stage, &input, &self.jq));
            }
            piped.unwrap_or_else(|e| format!("error: {e}"))
        } else {
            let mut t = format!("exit code {}\n{}", out.code, crate::llm::redact::redact_text(out.stderr.trim_end()));
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
        let step = Step {
            output_tokens: tokens,
            command: Some(shown),
            ..self.step("kubectl", command, Some(class), Some(out.code), None)
        };
        (fitted, step)
    }

    /// The result within the cap: JSON summarized by its structure, text cut in the middle.
    fn fit(&self, text: &str) -> String {
        budget::fit(&self.counter, text, self.cap)
    }
}
