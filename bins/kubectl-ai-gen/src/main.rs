//! `kubectl ai gen`: generates validated manifests from a prompt.
//!
//! A thin front: flags are defined in `opsagent::cmd::generate`, all logic lives in the `opsagent`
//! crate, and `opsagent::cli::finish` maps the outcome to the documented exit codes.

use std::process::ExitCode;

use clap::Parser as _;
use opsagent::cmd::generate::{GenArgs, run};

fn main() -> ExitCode {
    if let Some(code) = opsagent::cli::generated::<GenArgs>() {
        return code;
    }
    let args = GenArgs::parse();
    opsagent::cli::init(&args.log);
    opsagent::cli::finish(run(&args))
}
