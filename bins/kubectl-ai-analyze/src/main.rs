//! `kubectl ai analyze`: finds what is broken in a cluster.
//!
//! A thin front: flags are defined in `opsagent::cmd::analyze`, all logic lives in the `opsagent`
//! crate, and `opsagent::cli::finish` maps the outcome to the documented exit codes.

use std::process::ExitCode;

use clap::Parser as _;
use opsagent::cmd::analyze::{AnalyzeArgs, run};

fn main() -> ExitCode {
    if let Some(code) = opsagent::cli::generated::<AnalyzeArgs>() {
        return code;
    }
    let args = AnalyzeArgs::parse();
    opsagent::cli::init(&args.common.log);
    opsagent::cli::finish(run(&args))
}
