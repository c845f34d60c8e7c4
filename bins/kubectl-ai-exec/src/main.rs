//! `kubectl ai exec`: answers questions and performs operations in natural language.
//!
//! A thin front: flags are defined in `opsagent::cli::exec`, all logic lives in the `opsagent`
//! crate, and `opsagent::cli::finish` maps the outcome to the documented exit codes.

use std::process::ExitCode;

use opsagent::cli::exec::{ExecArgs, run};

fn main() -> ExitCode {
    let args = match opsagent::cli::parse::<ExecArgs>() {
        Ok(args) => args,
        Err(code) => return code,
    };
    opsagent::cli::init(&args.log);
    opsagent::cli::finish(run(&args))
}
