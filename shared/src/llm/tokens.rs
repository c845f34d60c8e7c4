//! Token counts, context windows, prices, and fitting evidence into a budget.
//!
//! Counts use tiktoken's encoding for OpenAI model names; other models (qwen-plus, deepseek-*,
//! llama…) get a fallback encoding and their counts are marked as estimates — never an error.

use std::collections::BTreeMap;

use tiktoken_rs::CoreBPE;

use super::config::{Price, Provider};

/// Counts tokens for one model.
#[derive(Clone, Copy)]
pub struct Counter {
    bpe: &'static CoreBPE,
    /// True for OpenAI models (their own encoding), false for a fallback estimate.
    pub exact: bool,
}

impl std::fmt::Debug for Counter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Counter").field("exact", &self.exact).finish()
    }
}

/// How much more than o200k other models' tokenizers may count, in tenths: Qwen's counted up to
/// 26 % more on kubectl output and logs (measured against a real llama.cpp server), so estimates
/// are raised by 30 % and every budget built on them keeps that margin.
const ESTIMATE_MARGIN_TENTHS: usize = 13;

/// Tokens a chat message costs beyond its text (role and separators, as OpenAI counts them).
pub const MESSAGE_OVERHEAD: usize = 4;

impl Counter {
    /// The model's own tokenizer when tiktoken knows it, else o200k (an estimate).
    pub fn for_model(model: &str) -> Counter {
        let name = model.rsplit('/').next().unwrap_or(model);
        let known = tiktoken_rs::tokenizer::get_tokenizer(name).and_then(|t| tiktoken_rs::bpe_for_tokenizer(t).ok());
        match known {
            Some(bpe) => Counter { bpe, exact: true },
            None => Counter { bpe: tiktoken_rs::o200k_base_singleton(), exact: false },
        }
    }

    /// Tokens in `text`: exact for OpenAI models, else o200k's count with [`ESTIMATE_MARGIN_TENTHS`].
    pub fn count(&self, text: &str) -> usize {
        let raw: usize = pieces(text).map(|p| self.bpe.encode_with_special_tokens(p).len()).sum();
        if self.exact { raw } else { (raw * ESTIMATE_MARGIN_TENTHS).div_ceil(10) }
    }

    /// The first `max` tokens of `text` (as [`Counter::count`] counts them).
    pub fn truncate(&self, text: &str, max: usize) -> String {
        let max = if self.exact { max } else { max * 10 / ESTIMATE_MARGIN_TENTHS };
        let mut kept = String::new();
        let mut used = 0;
        for piece in pieces(text) {
            let tokens = self.bpe.encode_with_special_tokens(piece);
            if used + tokens.len() <= max {
                used += tokens.len();
                kept.push_str(piece);
                continue;
            }
            kept.push_str(&self.bpe.decode(&tokens[..max - used]).unwrap_or_default());
            return cut_at_line(kept);
        }
        kept
    }
}

impl Counter {
    /// About `max` tokens of `text`: a third from its head, the rest from its tail (where logs keep
    /// their latest lines), whole lines, with `marker` where the middle was.
    pub fn head_and_tail(&self, text: &str, max: usize, marker: &str) -> String {
        if self.count(text) <= max {
            return text.to_string();
        }
        let room = max.saturating_sub(self.count(marker));
        let head = self.truncate(text, room / 3);
        let mut tail: Vec<&str> = Vec::new();
        let mut used = 0;
        for line in text[head.len()..].lines().rev() {
            let cost = self.count(line) + 1;
            if used + cost > room - room / 3 {
                break;
            }
            used += cost;
            tail.push(line);
        }
        tail.reverse();
        format!("{head}{marker}{}", tail.join("\n"))
    }
}

/// The longest run of non-whitespace encoded at once. BPE is quadratic in the length of a run
/// (a 64 MiB log line without a space would take minutes); longer runs are encoded in pieces,
/// which counts at most one token more per piece.
const MAX_RUN: usize = 256;

/// `text` in pieces that hold no run of non-whitespace longer than [`MAX_RUN`] bytes; ordinary
/// text is one piece.
fn pieces(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut run = 0;
        let mut cut = rest.len();
        for (i, c) in rest.char_indices() {
            run = if c.is_whitespace() { 0 } else { run + c.len_utf8() };
            if run > MAX_RUN && i > 0 {
                cut = i;
                break;
            }
        }
        let (piece, after) = rest.split_at(cut);
        rest = after;
        Some(piece)
    })
}

/// A cut text, without its last broken line.
fn cut_at_line(mut cut: String) -> String {
    if let Some(i) = cut.rfind('\n') {
        cut.truncate(i);
    }
    cut
}

/// Tokens left in a window for the variable part of a request: the window less the fixed texts
/// (system prompt, question…, one message each), the longest answer, and a margin.
pub fn room(counter: &Counter, window: usize, fixed: &[&str], answer: u32) -> usize {
    let fixed: usize = fixed.iter().map(|t| counter.count(t) + MESSAGE_OVERHEAD).sum();
    window.saturating_sub(fixed + answer as usize + 16)
}

/// The context window of a model: the override, else the table, else a conservative 8,192.
/// Returns (tokens, known).
pub fn context_window(model: &str, override_: Option<usize>) -> (usize, bool) {
    if let Some(w) = override_ {
        return (w, true);
    }
    let name = model.rsplit('/').next().unwrap_or(model).to_ascii_lowercase();
    const TABLE: &[(&str, usize)] = &[
        ("gpt-4.1", 1_047_576),
        ("gpt-4o", 128_000),
        ("gpt-4-turbo", 128_000),
        ("gpt-4", 8_192),
        ("gpt-3.5-turbo", 16_385),
        ("gpt-5", 400_000),
        ("o1", 200_000),
        ("o3", 200_000),
        ("o4", 200_000),
        ("deepseek", 64_000),
        ("qwen-long", 1_000_000),
        ("qwen-turbo", 1_000_000),
        ("qwen-plus", 131_072),
        ("qwen-max", 32_768),
        ("qwen", 32_768),
        ("claude", 200_000),
        ("gemini", 1_000_000),
        ("llama3", 128_000),
        ("llama-3", 128_000),
        ("mistral", 32_768),
        ("mixtral", 32_768),
        ("gemma", 8_192),
        ("phi", 4_096),
    ];
    TABLE.iter().find(|(prefix, _)| name.starts_with(prefix)).map_or((8_192, false), |(_, w)| (*w, true))
}

/// The price of a model: the config's `[prices]`, else the built-in table (US dollars per million
/// tokens, an estimate). Local models cost nothing.
pub fn price(provider: Provider, model: &str, overrides: &BTreeMap<String, Price>) -> Option<Price> {
    if let Some(p) = overrides.get(model) {
        return Some(*p);
    }
    if provider == Provider::Ollama {
        return Some(Price { input: 0.0, output: 0.0 });
    }
    let name = model.rsplit('/').next().unwrap_or(model).to_ascii_lowercase();
    const TABLE: &[(&str, f64, f64)] = &[
        ("gpt-4.1-nano", 0.10, 0.40),
        ("gpt-4.1-mini", 0.40, 1.60),
        ("gpt-4.1", 2.00, 8.00),
        ("gpt-4o-mini", 0.15, 0.60),
        ("gpt-4o", 2.50, 10.00),
        ("gpt-5-mini", 0.25, 2.00),
        ("gpt-5", 1.25, 10.00),
        ("o4-mini", 1.10, 4.40),
        ("o3", 2.00, 8.00),
        ("o1", 15.00, 60.00),
        ("deepseek-chat", 0.27, 1.10),
        ("deepseek-reasoner", 0.55, 2.19),
    ];
    TABLE.iter().find(|(p, _, _)| name.starts_with(p)).map(|(_, i, o)| Price { input: *i, output: *o })
}

/// A piece of evidence; lower priority numbers are kept first when the budget is short.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// Its heading in the text sent (none for the head).
    pub title: String,
    /// The evidence.
    pub text: String,
    /// Lower is kept first.
    pub priority: u8,
}

/// The most a cut's marker costs, in tokens.
const MARKER: usize = 16;

/// Joins sections under their titles within `budget` tokens, in their original order. When they do
/// not fit, the lowest-priority sections are cut first — shortened, or left out — and every cut is
/// marked, so the model knows something is missing. Returns the text and whether anything was cut.
pub(crate) fn fit(sections: &[Section], budget: usize, counter: &Counter) -> (String, bool) {
    let render = |s: &Section, text: &str| match s.title.as_str() {
        "" => format!("{}\n", text.trim_end()),
        title => format!("## {title}\n{}\n", text.trim_end()),
    };
    let costs: Vec<usize> = sections.iter().map(|s| counter.count(&render(s, &s.text))).collect();
    let mut allowed: Vec<Option<usize>> = vec![None; sections.len()]; // None: whole
    let mut total: usize = costs.iter().sum();
    let mut order: Vec<usize> = (0..sections.len()).collect();
    order.sort_by_key(|i| std::cmp::Reverse((sections[*i].priority, *i)));
    let mut trimmed = false;
    for i in order {
        if total <= budget {
            break;
        }
        trimmed = true;
        let over = total - budget;
        let keep = costs[i].saturating_sub(over + MARKER); // room for the marker
        allowed[i] = Some(keep);
        total = total - costs[i] + keep + MARKER;
    }
    let mut out = String::new();
    for (i, s) in sections.iter().enumerate() {
        match allowed[i] {
            None => out.push_str(&render(s, &s.text)),
            Some(0) => out.push_str(&render(s, "[… left out: over the token budget …]")),
            Some(keep) => {
                let cut = counter.truncate(&s.text, keep);
                out.push_str(&render(s, &format!("{cut}\n[… trimmed: over the token budget …]")));
            }
        }
    }
    (out, trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_runs_are_counted_in_pieces_quickly() {
        let c = Counter::for_model("gpt-4o");
        let run = "x".repeat(4 * 1024 * 1024);
        let started = std::time::Instant::now();
        let n = c.count(&run);
        assert!(n > 4 * 1024 * 1024 / 256 && n < 4 * 1024 * 1024, "{n}");
        assert!(c.truncate(&run, 100).len() > 100);
        assert!(started.elapsed() < std::time::Duration::from_secs(60), "linear, not quadratic");
        assert_eq!(pieces("a b\nc").collect::<Vec<_>>(), ["a b\nc"], "ordinary text is one piece");
        let long = format!("{} tail", "é".repeat(200));
        let parts: Vec<&str> = pieces(&long).collect();
        assert_eq!(parts.concat(), long);
        assert!(
            parts.iter().all(|p| p.len() <= MAX_RUN + 8),
            "{:?}",
            parts.iter().map(|p| p.len()).collect::<Vec<_>>()
        );
        assert_eq!(c.count("hello world"), c.bpe.encode_with_special_tokens("hello world").len());
    }

    #[test]
    fn counts_and_fallbacks() {
        let openai = Counter::for_model("gpt-4o-mini");
        assert!(openai.exact);
        // Estimates keep a margin over o200k: other tokenizers count more (Qwen: up to 26 %).
        let text = "kubectl get pods -n shop -o json | jq '.items[].status.containerStatuses'";
        let raw = Counter::for_model("gpt-4o").count(text);
        let estimate = Counter::for_model("qwen2.5-coder-7b").count(text);
        assert_eq!(estimate, (raw * 13).div_ceil(10));
        let cut = Counter::for_model("qwen2.5-coder-7b").truncate(&text.repeat(50), 100);
        assert!(Counter::for_model("qwen2.5-coder-7b").count(&cut) <= 100);
        assert_eq!(openai.count("hello world"), 2);
        for unknown in ["qwen-plus", "deepseek-chat", "llama3.1:8b", "my-own-model"] {
            let c = Counter::for_model(unknown);
            assert!(!c.exact, "{unknown} is an estimate");
            assert!(c.count("hello world") > 0);
        }
    }

    #[test]
    fn windows_and_prices() {
        assert_eq!(context_window("gpt-4o-mini", None), (128_000, true));
        assert_eq!(context_window("qwen-plus", None), (131_072, true));
        assert_eq!(context_window("unknown", None), (8_192, false));
        assert_eq!(context_window("unknown", Some(4_000)), (4_000, true));
        assert_eq!(price(Provider::Openai, "gpt-4o-mini", &BTreeMap::new()), Some(Price { input: 0.15, output: 0.6 }));
        assert_eq!(price(Provider::Ollama, "llama3.1", &BTreeMap::new()), Some(Price { input: 0.0, output: 0.0 }));
        assert_eq!(price(Provider::Openai, "qwen-plus", &BTreeMap::new()), None);
    }

    #[test]
    fn fitting_cuts_the_lowest_priority_first() {
        let c = Counter::for_model("gpt-4o");
        let sections = vec![
            Section { title: "Messages".into(), text: "the pod crashes".into(), priority: 0 },
            Section { title: "Logs".into(), text: "log line\n".repeat(500), priority: 2 },
            Section { title: "Spec".into(), text: "spec: x\n".repeat(500), priority: 3 },
        ];
        let (all, cut) = fit(&sections, 100_000, &c);
        assert!(!cut && all.contains("the pod crashes") && !all.contains("trimmed"));
        let (small, cut) = fit(&sections, 600, &c);
        assert!(cut);
        assert!(c.count(&small) <= 600, "{}", c.count(&small));
        assert!(small.contains("the pod crashes"), "errors are kept");
        assert!(
            small.contains("## Spec\n[… left out: over the token budget …]") || small.contains("trimmed"),
            "{small}"
        );
        let spec_at = small.find("## Spec").unwrap();
        assert!(small.find("## Logs").unwrap() < spec_at, "original order");
    }
}
