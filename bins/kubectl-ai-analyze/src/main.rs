//! `kubectl ai analyze`: finds what is broken in a cluster.
//!
//! A thin front: flags are defined in `opsagent::cli::analyze`, all logic lives in the `opsagent`
//! crate, and `opsagent::cli::finish` maps the outcome to the documented exit codes.

use std::process::ExitCode;

use opsagent::cli::analyze::{AnalyzeArgs, run};

fn main() -> ExitCode {
    let args = match opsagent::cli::parse::<AnalyzeArgs>() {
        Ok(args) => args,
        Err(code) => return code,
    };
    opsagent::cli::init(&args.common.log);
    opsagent::cli::finish(run(&args))
}
