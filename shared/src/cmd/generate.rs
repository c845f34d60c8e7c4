//! `kubectl ai gen`: manifests from a prompt, validated, applied only on request.

use clap::Parser;

use crate::cli::CommonArgs;

/// Generate Kubernetes manifests from a prompt.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "kubectl-ai-gen",
    bin_name = "kubectl ai gen",
    version,
    about = "Generate validated Kubernetes manifests from a prompt",
    after_help = "Examples:\n  kubectl ai gen \"nginx deployment with 3 replicas behind a service\" | kubectl apply -f -"
)]
pub struct GenArgs {
    #[command(flatten)]
    pub common: CommonArgs,

    /// What to generate
    #[arg(value_name = "PROMPT")]
    pub prompt: Option<String>,

    /// Apply the result to the cluster (asks first unless --yes)
    #[arg(long)]
    pub apply: bool,

    /// Do not ask for confirmation
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// Print only the YAML
    #[arg(long)]
    pub raw: bool,

    /// Show the prompt and its tokens; call no model
    #[arg(long)]
    pub dry_run: bool,

    /// Repair rounds when validation fails
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub max_repairs: u8,
}

pub fn run(_args: &GenArgs) -> anyhow::Result<crate::Exit> {
    super::not_implemented("gen")
}
