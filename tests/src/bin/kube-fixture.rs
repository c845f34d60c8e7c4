//! `kube-fixture`: serve a YAML cluster state over the real Kubernetes HTTP API.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use opsagent_tests::fixture::{self, Fault};

/// A Kubernetes API server over a YAML state, for tests and demos.
#[derive(Parser, Debug)]
#[command(name = "kube-fixture", version, after_help = "Prints `ready <url>` on stdout once it serves.")]
struct Args {
    /// State files or directories (YAML/JSON objects; a directory's logs/ holds container logs)
    #[arg(required = true, value_name = "STATE")]
    states: Vec<PathBuf>,
    /// Directory of <namespace>/<pod>/<container>[.previous].log files
    #[arg(long, value_name = "DIR")]
    logs: Option<PathBuf>,
    /// Address to listen on (port 0 picks a free one)
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Serve HTTPS with a generated CA
    #[arg(long)]
    tls: bool,
    /// Require this bearer token
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,
    /// Write a kubeconfig for the server to this file
    #[arg(long, value_name = "PATH")]
    kubeconfig: Option<PathBuf>,
    /// Context (and cluster, user) name in the kubeconfig
    #[arg(long, default_value = "fixture")]
    context: String,
    /// The context's namespace
    #[arg(long, default_value = "default")]
    namespace: String,
    /// Write the CA certificate (PEM) to this file
    #[arg(long, value_name = "PATH")]
    ca_out: Option<PathBuf>,
    /// Append every mutating request as a JSON line to this file
    #[arg(long, value_name = "PATH")]
    record: Option<PathBuf>,
    /// Append every request (method, path, query, status) as a JSON line to this file
    #[arg(long, value_name = "PATH")]
    access_log: Option<PathBuf>,
    /// Inject a fault, e.g. resource=replicasets,status=403 or path=/api/v1/pods,status=500,times=1
    #[arg(long, value_name = "RULE", value_parser = Fault::parse)]
    fault: Vec<Fault>,

    /// Return at most N items per page of a list that asks for a limit (to test pagination)
    #[arg(long, value_name = "N")]
    max_page: Option<usize>,
    /// Shift the state's timestamps so that its newest moment is now
    #[arg(long)]
    rebase_time: bool,
    /// The server version to report
    #[arg(long, default_value = "v1.32.4")]
    server_version: String,
}

fn main() -> ExitCode {
    let a = Args::parse();
    let config = fixture::Config {
        states: a.states,
        logs: a.logs,
        listen: a.listen,
        tls: a.tls,
        token: a.token,
        kubeconfig_out: a.kubeconfig,
        context: a.context,
        namespace: a.namespace,
        ca_out: a.ca_out,
        record: a.record,
        access_log: a.access_log,
        faults: a.fault,
        max_page: a.max_page,
        rebase_time: a.rebase_time,
        server_version: a.server_version,
    };
    match fixture::run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kube-fixture: {e:#}");
            ExitCode::from(2)
        }
    }
}
