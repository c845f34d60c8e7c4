//! `kubectl ai exec`: an agent that answers questions and performs operations, asking before changes.

use clap::Parser;

use crate::cli::CommonArgs;

/// Ask questions about the cluster or ask for operations, in natural language.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "kubectl-ai-exec",
    bin_name = "kubectl ai exec",
    version,
    about = "Answer questions and perform operations in natural language, asking before any change",
    after_help = "Examples:\n  kubectl ai exec \"how many namespaces are there?\"\n  kubectl ai exec --read-only \"why is web not ready?\""
)]
pub struct ExecArgs {
    #[command(flatten)]
    pub common: CommonArgs,

    /// The question or instruction; none starts an interactive session
    #[arg(value_name = "QUESTION")]
    pub question: Option<String>,

    /// Run changes without asking
    #[arg(long, short = 'y', conflicts_with = "read_only")]
    pub yes: bool,

    /// Refuse every change
    #[arg(long)]
    pub read_only: bool,

    /// Show the first request and its tokens; call no model
    #[arg(long)]
    pub dry_run: bool,

    /// Maximum tool calls before giving up
    #[arg(long, value_name = "N", default_value_t = 15)]
    pub max_iterations: u16,
}

pub fn run(_args: &ExecArgs) -> anyhow::Result<crate::Exit> {
    super::not_implemented("exec")
}
