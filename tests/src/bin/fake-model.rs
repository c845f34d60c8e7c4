//! `fake-model`: a scripted OpenAI / Azure OpenAI / Ollama server that records every request.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use opsagent_tests::model::{self, Script};

#[derive(Parser, Debug)]
#[command(name = "fake-model", after_help = "Prints `ready <url>` on stdout once it serves.")]
struct Args {
    /// Scripted replies (JSON or YAML; see the module documentation)
    #[arg(long, value_name = "PATH")]
    script: Option<PathBuf>,
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Append every request (path, headers, body) as a JSON line to this file
    #[arg(long, value_name = "PATH")]
    record: Option<PathBuf>,
    /// Serve HTTPS with a generated CA
    #[arg(long)]
    tls: bool,
    /// Write the CA certificate (PEM) to this file
    #[arg(long, value_name = "PATH")]
    ca_out: Option<PathBuf>,
}

fn main() -> ExitCode {
    let a = Args::parse();
    let script = match &a.script {
        // YAML is a superset of JSON: one reader for both.
        Some(path) => match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|text| serde_saphyr::from_str::<Script>(&text).map_err(|e| e.to_string()))
        {
            Ok(s) => s,
            Err(e) => {
                eprintln!("fake-model: {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
        None => Script::default(),
    };
    match model::run(model::Config { listen: a.listen, script, record: a.record, tls: a.tls, ca_out: a.ca_out }) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fake-model: {e:#}");
            ExitCode::from(2)
        }
    }
}
