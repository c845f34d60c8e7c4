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
    /// Requests and prompt tokens k8sgpt's `analyze --explain` would send for a state
    K8sgpt {
        state: PathBuf,
        #[arg(long, default_value = "gpt-4o-mini")]
        model: String,
    },
}

fn main() -> anyhow::Result<()> {
    let (requests, tokens) = match Cli::parse() {
        Cli::Sent { record, model } => {
            let counter = Counter::for_model(&model);
            let text = std::fs::read_to_string(&record).unwrap_or_default();
            let mut requests = 0;
            let mut tokens = 0;
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let r: serde_json::Value = serde_json::from_str(line)?;
                requests += 1;
                for m in r["body"]["messages"].as_array().into_iter().flatten() {
                    tokens += counter.count(m["content"].as_str().unwrap_or_default()) + MESSAGE_OVERHEAD;
                }
            }
            (requests, tokens)
        }
        Cli::K8sgpt { state, model } => {
            let snapshot = opsagent::snapshot::Snapshot::from_file(&state)?;
            opsagent_tests::k8sgpt::cost(&snapshot, &model)
        }
    };
    println!("{}", serde_json::json!({"requests": requests, "tokens": tokens}));
    Ok(())
}
