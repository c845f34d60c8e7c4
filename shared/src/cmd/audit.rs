//! `kubectl ai audit`: Pod Security Standards, misconfigurations, RBAC and image vulnerabilities.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

use crate::cli::CommonArgs;
use crate::findings::Severity;

/// Audit workloads and RBAC for security problems.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "kubectl-ai-audit",
    bin_name = "kubectl ai audit",
    version,
    about = "Audit a cluster or manifests: Pod Security Standards, misconfigurations, RBAC, image vulnerabilities",
    after_help = "Examples:\n  kubectl ai audit -A\n  kubectl ai audit -f manifests/ --level restricted --fail-on high"
)]
pub struct AuditArgs {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Audit local manifests (file, directory or '-') instead of the cluster
    #[arg(short = 'f', long = "filename", value_name = "PATH", help_heading = "Input")]
    pub files: Vec<PathBuf>,

    /// Audit a saved snapshot instead of the cluster
    #[arg(long, value_name = "FILE", help_heading = "Input")]
    pub snapshot: Option<PathBuf>,

    /// Run exactly the Pod Security Standards controls of this level
    #[arg(long, value_enum, help_heading = "Checks")]
    pub level: Option<PssLevel>,

    /// Report findings of this severity and above
    #[arg(long, value_enum, default_value_t = Severity::Info, help_heading = "Checks")]
    pub severity: Severity,

    /// Exit with code 1 when a finding of this severity or above is reported
    #[arg(long, value_enum, help_heading = "Checks")]
    pub fail_on: Option<Severity>,

    /// Run only these checks (comma-separated ids)
    #[arg(long, value_delimiter = ',', value_name = "IDS", help_heading = "Checks")]
    pub checks: Vec<String>,

    /// Skip these checks (comma-separated ids)
    #[arg(long, value_delimiter = ',', value_name = "IDS", help_heading = "Checks")]
    pub skip_checks: Vec<String>,

    /// Scan images for vulnerabilities with trivy
    #[arg(long, help_heading = "Checks")]
    pub scan_images: bool,
}

/// Pod Security Standards levels.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PssLevel {
    Baseline,
    Restricted,
}

pub fn run(_args: &AuditArgs) -> anyhow::Result<crate::Exit> {
    super::not_implemented("audit")
}
