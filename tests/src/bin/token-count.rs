//! Prompt tokens for `make bench`: what OpsAgent sent (the fake model's record) and what k8sgpt
//! would send for the same state (computed from its documented prompt and analyzers).

use std::path::PathBuf;

use clap::Parser;
use opsagent::llm::tokens::{Counter, MESSAGE_OVERHEAD};

#[derive(Parser)]
#[command(about = "Prompt tokens: recorded requests, or k8sgpt's for a state")]
enum Cli {
    /// Requests and prompt tokens in a fake-model record (JSON lines)
    Sent {
        record: PathBuf,
        #[arg(long, default_value = "gpt-4o-mini")]
        model: String,
    },
    /// Tokens of a file's text (an MCP server's tool list)
    Text {
        file: PathBuf,
        #[arg(long, default_value = "gpt-4o-mini")]
        model: String,
    },
    /// Requests and prompt tokens k8sgpt's `analyze --explain` would send for a state
    K8sgpt {
        state: PathBuf,
        #[arg(long, default_value = "gpt-4o-mini")]
        model: String,
    },
}

fn main() -> anyhow::Result<()> {
    let mut fixed = 0;
    let mut last_result = 0;
    let (requests, tokens) = match Cli::parse() {
        Cli::Sent { record, model } => {
            let counter = Counter::for_model(&model);
            let text = std::fs::read_to_string(&record).unwrap_or_default();
            let mut requests = 0;
            let mut tokens = 0;
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let r: serde_json::Value = serde_json::from_str(line)?;
                requests += 1;
                let messages = r["body"]["messages"].as_array().cloned().unwrap_or_default();
                for m in &messages {
                    tokens += counter.count(m["content"].as_str().unwrap_or_default()) + MESSAGE_OVERHEAD;
                }
                // Tool schemas travel with every request (exec).
                let schemas: usize =
                    r["body"]["tools"].as_array().into_iter().flatten().map(|t| counter.count(&t.to_string())).sum();
                tokens += schemas;
                if requests == 1 {
                    let system = messages.first().filter(|m| m["role"] == "system");
                    fixed = schemas + system.map_or(0, |m| counter.count(m["content"].as_str().unwrap_or_default()));
                }
                if let Some(tool) = messages.iter().rev().find(|m| m["role"] == "tool") {
                    last_result = counter.count(tool["content"].as_str().unwrap_or_default());
                }
            }
            (requests, tokens)
        }
        Cli::Text { file, model } => (0, Counter::for_model(&model).count(&std::fs::read_to_string(file)?)),
        Cli::K8sgpt { state, model } => {
            let snapshot = opsagent::snapshot::Snapshot::from_file(&state)?;
            opsagent_tests::k8sgpt::cost(&snapshot, &model)
        }
    };
    println!(
        "{}",
        serde_json::json!({"requests": requests, "tokens": tokens, "fixed": fixed, "lastToolResult": last_result})
    );
    Ok(())
}
