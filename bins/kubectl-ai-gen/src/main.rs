//! `kubectl ai gen`: generates validated manifests from a prompt.
//!
//! A thin front: flags are defined in `opsagent::cli::generate`, all logic lives in the `opsagent`
//! crate, and `opsagent::cli::finish` maps the outcome to the documented exit codes.

use std::process::ExitCode;

use opsagent::cli::generate::{GenArgs, run};

fn main() -> ExitCode {
    let args = match opsagent::cli::parse::<GenArgs>() {
        Ok(args) => args,
        Err(code) => return code,
    };
    opsagent::cli::init(&args.log);
    opsagent::cli::finish(run(&args))
}
