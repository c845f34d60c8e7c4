//! `--dry-run`: the exact messages that would be sent, their tokens, the window and the cost —
//! and no request. Works with no key configured.

use std::io::{self, Write};

use serde_json::json;

use crate::llm::Message;
use crate::llm::ModelConfig;
use crate::llm::chat_url;
use crate::llm::tokens::{self, Counter, MESSAGE_OVERHEAD};
use crate::render::Format;

/// One request a command would send.
pub struct DryRequest<'a> {
    /// What it is about.
    pub title: &'a str,
    /// What would be sent.
    pub messages: &'a [Message],
    /// Whether evidence was cut to fit.
    pub trimmed: bool,
    /// The longest answer asked for.
    pub max_answer: u32,
}

/// Prints what would be sent, its tokens and its cost; `cached` problems need no request.
pub fn print(
    out: &mut dyn Write,
    config: &ModelConfig,
    requests: &[DryRequest<'_>],
    cached: usize,
    format: Format,
) -> io::Result<()> {
    let counter = Counter::for_model(&config.model);
    let (window, window_known) = tokens::context_window(&config.model, config.context_window);
    let url = chat_url(config).unwrap_or_else(|_| "(endpoint not configured)".into());
    let counted: Vec<Vec<usize>> = requests
        .iter()
        .map(|r| r.messages.iter().map(|m| counter.count(&m.content) + MESSAGE_OVERHEAD).collect())
        .collect();
    let prompt: usize = counted.iter().flatten().sum();
    let answer: usize = requests.iter().map(|r| r.max_answer as usize).sum();
    let price = tokens::price(config.provider, &config.model, &config.prices);
    let cost = price.map(|p| (prompt as f64 * p.input + answer as f64 * p.output) / 1e6);
    if format == Format::Json {
        let reqs: Vec<_> = requests
            .iter()
            .zip(&counted)
            .map(|(r, counts)| {
                let msgs: Vec<_> =
                    r.messages.iter().zip(counts).map(|(m, t)| json!({"role": m.role, "content": m.content, "tokens": t})).collect();
                json!({"title": r.title, "messages": msgs, "tokens": counts.iter().sum::<usize>(), "trimmed": r.trimmed})
            })
            .collect();
        let doc = json!({
            "dryRun": true,
            "provider": config.provider,
            "model": config.model,
            "url": url,
            "window": window,
            "exactTokens": counter.exact,
            "requests": reqs,
            "cachedProblems": cached,
            "promptTokens": prompt,
            "maxAnswerTokens": answer,
            "estimatedCostUsd": cost,
        });
        let mut text = serde_json::to_vec_pretty(&doc).map_err(io::Error::other)?;
        text.push(b'\n');
        return out.write_all(&text);
    }
    writeln!(
        out,
        "Dry run: nothing is sent. Model {} ({}, {url}), {window}-token window{}.",
        config.model,
        config.provider.name(),
        if window_known { "" } else { " (unknown model: a conservative guess; set --context-window)" }
    )?;
    for (i, (r, counts)) in requests.iter().zip(&counted).enumerate() {
        writeln!(
            out,
            "\nRequest {} of {}: {}{}",
            i + 1,
            requests.len(),
            r.title,
            if r.trimmed { " (evidence trimmed to fit)" } else { "" }
        )?;
        for (m, t) in r.messages.iter().zip(counts) {
            writeln!(
                out,
                "--- {} ({t} tokens)",
                serde_json::to_value(m.role).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
            )?;
            writeln!(out, "{}", m.content.trim_end())?;
        }
    }
    writeln!(
        out,
        "\nTotal: {} request(s), {prompt} prompt tokens{}, at most {answer} answer tokens.",
        requests.len(),
        if counter.exact { "" } else { " (an estimate: this model's tokenizer is not known)" }
    )?;
    if cached > 0 {
        writeln!(
            out,
            "{cached} problem(s) answered from the cache: nothing to send for them (--no-cache to ask again)."
        )?;
    }
    match (cost, price) {
        (Some(usd), Some(p)) => writeln!(
            out,
            "Estimated cost: ${usd:.4} ({}: ${} in / ${} out per million tokens).",
            config.model, p.input, p.output
        ),
        _ => writeln!(out, "Estimated cost: unknown for {} (add it under [prices] in the config file).", config.model),
    }
}
