//! `analyze --explain`: one model request per distinct problem, never one per object.
//!
//! Findings that describe the same failure (same analyzer, kind and reason, same words once names
//! and numbers are set aside) share one request and one explanation. What is sent is the finding's
//! evidence — summary, the cluster's messages, the rule's hint, log lines — redacted, optionally
//! anonymized, and fitted to the model's window (messages first, then hints, then logs). Answers are
//! cached on disk by provider, model, language and prompt.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::findings::{Finding, Report};
use crate::llm::tokens::{self, Counter, MESSAGE_OVERHEAD, Section};
use crate::llm::{ChatOptions, Client, Message, ModelConfig, reply};
use crate::redact::{Anonymizer, redact_text, redact_value};
use crate::snapshot::Snapshot;

/// What the model says about a problem.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    /// The root cause, in a sentence or two.
    pub cause: String,
    /// Steps to fix it, with kubectl commands where they fit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fix: Vec<String>,
    /// How to check that it is fixed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub verify: String,
}

impl Explanation {
    /// As markdown, for the terminal.
    pub fn markdown(&self) -> String {
        let mut md = format!("**Cause:** {}\n", self.cause);
        if !self.fix.is_empty() {
            md.push_str("\n**Fix:**\n");
            for (i, step) in self.fix.iter().enumerate() {
                md.push_str(&format!("{}. {step}\n", i + 1));
            }
        }
        if !self.verify.is_empty() {
            md.push_str(&format!("\n**Verify:** {}\n", self.verify));
        }
        md
    }

    /// From an answer: the JSON it was asked for, else its text as the cause (never asked twice).
    pub fn from_answer(text: &str) -> Explanation {
        if let Some(v) = reply::extract_json(text) {
            let strings = |v: &serde_json::Value| -> Vec<String> {
                match v {
                    serde_json::Value::Array(items) => {
                        items.iter().filter_map(|i| i.as_str().map(str::to_string)).collect()
                    }
                    serde_json::Value::String(s) => vec![s.clone()],
                    _ => Vec::new(),
                }
            };
            let cause = v["cause"].as_str().or_else(|| v["root_cause"].as_str()).unwrap_or_default().to_string();
            if !cause.is_empty() {
                return Explanation { cause, fix: strings(&v["fix"]), verify: strings(&v["verify"]).join(" ") };
            }
        }
        Explanation { cause: reply::strip_think(text), ..Explanation::default() }
    }

    fn restored(self, anonymizer: Option<&Anonymizer>) -> Explanation {
        match anonymizer {
            None => self,
            Some(a) => Explanation {
                cause: a.restore(&self.cause),
                fix: self.fix.iter().map(|f| a.restore(f)).collect(),
                verify: a.restore(&self.verify),
            },
        }
    }
}

/// How to explain.
#[derive(Clone, Debug)]
pub struct Options {
    pub concurrency: usize,
    pub cache: bool,
    pub anonymize: bool,
    /// Longest answer asked for, in tokens.
    pub max_answer: u32,
}

/// One request to send: the findings it explains and its messages.
#[derive(Clone, Debug)]
pub struct Planned {
    pub findings: Vec<usize>,
    pub title: String,
    pub messages: Vec<Message>,
    /// Whether evidence had to be trimmed to fit the window.
    pub trimmed: bool,
}

/// What a run cost.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub problems: usize,
    pub requests: usize,
    pub cached: usize,
    pub failed: usize,
    pub prompt_tokens: usize,
}

const SYSTEM: &str = "You are a senior Kubernetes operator. You get one problem found in a cluster, with the cluster's own messages and a hint from OpsAgent's rules. Explain its root cause and how to fix it. Use only the evidence; when it is not enough, say what to check. Answer in LANGUAGE, as one JSON object: {\"cause\": \"one or two sentences\", \"fix\": [\"a step, with the kubectl command when one fits\"], \"verify\": \"how to check it is fixed\"}.";

/// The request plan: one per distinct problem, evidence redacted, anonymized and fitted.
pub fn plan(
    report: &Report,
    snapshots: &[Snapshot],
    config: &ModelConfig,
    options: &Options,
    anonymizer: Option<&mut Anonymizer>,
) -> Vec<Planned> {
    let counter = Counter::for_model(&config.model);
    let (window, _) = tokens::context_window(&config.model, config.context_window);
    let system = SYSTEM.replace("LANGUAGE", &config.language);
    let budget =
        window.saturating_sub(counter.count(&system) + 2 * MESSAGE_OVERHEAD + options.max_answer as usize + 3).max(256);
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for (i, f) in report.results.iter().enumerate() {
        let key = problem_key(f);
        if !groups.contains_key(&key) {
            order.push(key.clone());
        }
        groups.entry(key).or_default().push(i);
    }
    let mut anonymizer = anonymizer;
    order
        .into_iter()
        .map(|key| {
            let members = groups.remove(&key).unwrap_or_default();
            let f = &report.results[members[0]];
            let snapshot = snapshots.iter().find(|s| f.cluster.is_none() || s.info.context == f.cluster);
            let spec = snapshot.and_then(|s| s.objects.find_json(&f.kind, f.namespace.as_deref(), &f.name));
            let (evidence, trimmed) = tokens::fit(&sections(f, &members, report, spec), budget, &counter);
            let text = redact_text(&evidence);
            let text = match anonymizer.as_deref_mut() {
                Some(a) => a.apply(&text),
                None => text,
            };
            Planned {
                findings: members,
                title: format!("{} {} — {}", f.kind, f.object_name(), f.reason),
                messages: vec![Message::system(system.clone()), Message::user(text)],
                trimmed,
            }
        })
        .collect()
}

/// The evidence of a finding: the problem and the cluster's messages first, then the hint, the log
/// lines, and last the object's spec (redacted).
fn sections(f: &Finding, members: &[usize], report: &Report, object: Option<serde_json::Value>) -> Vec<Section> {
    let mut head = format!("{} {} ({}): {}\n{}", f.kind, f.object_name(), f.severity.as_str(), f.reason, f.summary);
    if let Some(parent) = &f.parent {
        head.push_str(&format!("\nOwned by {} {}", parent.kind, parent.name));
    }
    if !f.pods.is_empty() {
        head.push_str(&format!("\nPods: {}", f.pods.join(", ")));
    }
    if members.len() > 1 {
        let others: Vec<String> = members[1..].iter().map(|i| report.results[*i].object_name()).collect();
        head.push_str(&format!("\nThe same problem also affects: {}", others.join(", ")));
    }
    let mut out = vec![Section { title: "Problem".into(), text: head, priority: 0 }];
    if !f.messages.is_empty() {
        out.push(Section { title: "Cluster messages".into(), text: f.messages.join("\n"), priority: 0 });
    }
    if !f.hint.is_empty() {
        out.push(Section { title: "OpsAgent hint".into(), text: f.hint.clone(), priority: 1 });
    }
    if !f.logs.is_empty() {
        out.push(Section { title: "Log lines".into(), text: f.logs.join("\n"), priority: 2 });
    }
    if let Some(mut object) = object {
        let spec = object.get_mut("spec").map(std::mem::take).unwrap_or_default();
        let mut spec = serde_json::json!({"spec": spec});
        redact_value(&mut spec);
        if let Ok(yaml) = serde_saphyr::to_string(&spec) {
            out.push(Section { title: format!("{} spec", f.kind), text: yaml, priority: 3 });
        }
    }
    out
}

/// Findings with the same failure share a key: names, hashes and numbers are set aside.
fn problem_key(f: &Finding) -> String {
    let mut names: Vec<&str> = vec![f.name.as_str()];
    names.extend(f.namespace.as_deref());
    names.extend(f.pods.iter().map(String::as_str));
    names.extend(f.owners.iter().map(|o| o.name.as_str()));
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    let mut text = format!("{}\n{}\n{}\n{}\n{}", f.analyzer, f.kind, f.reason, f.summary, f.messages.join("\n"));
    for n in names.into_iter().filter(|n| n.len() > 1) {
        text = text.replace(n, "∗");
    }
    // Numbers (restart counts, back-off delays) vary between identical failures: one `#` per run.
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if !c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('#') {
            out.push('#');
        }
    }
    out
}

/// Sends the plan (or takes answers from the cache) and attaches the explanations to the findings.
/// Requests that fail are reported in the returned warnings; the report keeps its findings.
pub fn run(
    report: &mut Report,
    plan: &[Planned],
    client: &Client,
    options: &Options,
    anonymizer: Option<&Anonymizer>,
) -> Result<(Stats, Vec<String>), Error> {
    let config = client.config();
    let counter = Counter::for_model(&config.model);
    let mut stats = Stats { problems: plan.len(), ..Stats::default() };
    let answers: Mutex<Vec<Option<Result<Explanation, String>>>> = Mutex::new(vec![None; plan.len()]);
    let mut todo = Vec::new();
    for (i, p) in plan.iter().enumerate() {
        stats.prompt_tokens += p.messages.iter().map(|m| counter.count(&m.content) + MESSAGE_OVERHEAD).sum::<usize>();
        match options.cache.then(|| cache_get(config, &p.messages)).flatten() {
            Some(found) => {
                stats.cached += 1;
                answers.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(Ok(found));
            }
            None => todo.push(i),
        }
    }
    stats.requests = todo.len();
    let progress = progress_bar(todo.len());
    let next = AtomicUsize::new(0);
    let chat = ChatOptions { max_tokens: options.max_answer, ..ChatOptions::default() };
    std::thread::scope(|scope| {
        for _ in 0..options.concurrency.clamp(1, 32).min(todo.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let n = next.fetch_add(1, Ordering::SeqCst);
                    let Some(&i) = todo.get(n) else { break };
                    let p = &plan[i];
                    let result = client.chat(&p.messages, &chat, None).map(|r| Explanation::from_answer(&r.content));
                    if let Ok(e) = &result
                        && options.cache
                    {
                        cache_put(config, &p.messages, e);
                    }
                    answers.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(result.map_err(|e| e.to_string()));
                    if let Some(bar) = &progress {
                        bar.inc(1);
                    }
                }
            });
        }
    });
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    let mut warnings = Vec::new();
    let mut last_error = None;
    for (p, answer) in plan.iter().zip(answers.into_inner().unwrap_or_else(|e| e.into_inner())) {
        match answer {
            Some(Ok(explanation)) => {
                let explanation = explanation.restored(anonymizer);
                for &i in &p.findings {
                    report.results[i].explanation = Some(explanation.clone());
                }
            }
            Some(Err(e)) => {
                stats.failed += 1;
                warnings.push(format!("no explanation for {}: {e}", p.title));
                last_error = Some(e);
            }
            None => {}
        }
    }
    if stats.failed > 0 && stats.failed == plan.len() {
        return Err(Error::Model(last_error.unwrap_or_default()));
    }
    Ok((stats, warnings))
}

fn progress_bar(total: usize) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal as _;
    if total < 2 || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total as u64);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{spinner} explaining {pos}/{len} problems {bar:30} {elapsed}")
    {
        bar.set_style(style);
    }
    Some(bar)
}

/// `<XDG cache dir>/opsagent/explain`.
fn cache_dir() -> Option<PathBuf> {
    use etcetera::BaseStrategy as _;
    etcetera::choose_base_strategy().ok().map(|s| s.cache_dir().join("opsagent").join("explain"))
}

fn cache_key(config: &ModelConfig, messages: &[Message]) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for part in
        [format!("{:?}", config.provider), config.model.clone(), config.base_url.clone(), config.language.clone()]
    {
        ctx.update(part.as_bytes());
        ctx.update(b"\0");
    }
    ctx.update(serde_json::to_string(messages).unwrap_or_default().as_bytes());
    ctx.finish().as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn cache_get(config: &ModelConfig, messages: &[Message]) -> Option<Explanation> {
    let path = cache_dir()?.join(format!("{}.json", cache_key(config, messages)));
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

fn cache_put(config: &ModelConfig, messages: &[Message], explanation: &Explanation) {
    let Some(dir) = cache_dir() else { return };
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let path = dir.join(format!("{}.json", cache_key(config, messages)));
    let written = crate::output::write_atomic(&path, |w| {
        serde_json::to_writer(&mut *w, explanation).map_err(std::io::Error::other)
    });
    if let Err(e) = written {
        tracing::info!("cannot cache an explanation: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_become_explanations() {
        let json = "<think>x</think>```json\n{\"cause\": \"no DB\", \"fix\": [\"create it\"], \"verify\": \"kubectl get pods\"}\n```";
        let e = Explanation::from_answer(json);
        assert_eq!(
            e,
            Explanation { cause: "no DB".into(), fix: vec!["create it".into()], verify: "kubectl get pods".into() }
        );
        let prose = Explanation::from_answer("<think>hm</think>The database is down.");
        assert_eq!(prose.cause, "The database is down.");
        assert!(e.markdown().contains("1. create it"));
    }

    #[test]
    fn identical_failures_share_a_key() {
        let f = |name: &str, ns: &str, msg: &str| Finding {
            analyzer: "Pod".into(),
            kind: "Pod".into(),
            namespace: Some(ns.into()),
            name: name.into(),
            reason: "CrashLoopBackOff".into(),
            summary: "container app keeps crashing: last exit code 1 (Error), 9 restarts".into(),
            messages: vec![msg.into()],
            ..Finding::default()
        };
        let a = f("api-1", "shop", "back-off 5m0s restarting failed container=app pod=api-1_shop");
        let b = f("web-7", "blog", "back-off 2m40s restarting failed container=app pod=web-7_blog");
        let c = f("web-8", "blog", "something else entirely");
        assert_eq!(problem_key(&a), problem_key(&b));
        assert_ne!(problem_key(&a), problem_key(&c));
    }
}
