//! `kubectl ai audit`: audits workloads and RBAC for security problems.
//!
//! A thin front: flags are defined in `opsagent::cli::audit`, all logic lives in the `opsagent`
//! crate, and `opsagent::cli::finish` maps the outcome to the documented exit codes.

use std::process::ExitCode;

use opsagent::cli::audit::{AuditArgs, run};

fn main() -> ExitCode {
    let args = match opsagent::cli::parse::<AuditArgs>() {
        Ok(args) => args,
        Err(code) => return code,
    };
    opsagent::cli::init(&args.log);
    opsagent::cli::finish(run(&args))
}
