//! `kubectl ai audit`: audits workloads and RBAC for security problems.
//!
//! A thin front: flags are defined in `opsagent::cmd::audit`, all logic lives in the `opsagent`
//! crate, and `opsagent::cli::finish` maps the outcome to the documented exit codes.

use std::process::ExitCode;

use clap::Parser as _;
use opsagent::cmd::audit::{AuditArgs, run};

fn main() -> ExitCode {
    if let Some(code) = opsagent::cli::generated::<AuditArgs>() {
        return code;
    }
    let args = AuditArgs::parse();
    opsagent::cli::init(&args.log);
    opsagent::cli::finish(run(&args))
}
