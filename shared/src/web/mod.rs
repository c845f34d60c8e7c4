//! `kubectl ai exec --ui`: exec in a local web page — a conversation, each tool call as it runs,
//! approvals with a click, the model picked per question, saved sessions.
//!
//! The page is this binary's own files (no network fetch, no build step) served on loopback unless
//! TLS is configured. It drives the same session as the terminal would — the same agent, guard,
//! redaction gate, approvals and change log — on a thread of its own ([`worker`]); the HTTP side
//! ([`server`]) shares the MCP server's gate (token, Host and Origin checks, TLS).

mod reports;
mod server;
mod worker;

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::error::Error;
use crate::exec::ExecOptions;
use crate::llm::{ModelConfig, ModelOptions};

/// How the page is served.
#[derive(Clone, Debug)]
pub struct WebOptions {
    /// The cluster, the namespace, `--yes`, `--read-only`, the limits of a question.
    pub exec: ExecOptions,
    /// The model of the first question.
    pub model: ModelConfig,
    /// The model flags as given, for the profiles picked later (`--config` among them).
    pub choices: ModelOptions,
    /// Where to listen (`127.0.0.1:0`: a free port).
    pub listen: SocketAddr,
    /// A certificate chain and its key (PEM): HTTPS, required to listen beyond loopback.
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// Serves the page until SIGINT/SIGTERM. The session starts first (model, kubectl, cluster: an
/// error ends it before anything is served); `announce` gets the page's URL, with the one-time
/// token in its fragment, once it can be opened.
pub fn serve(options: WebOptions, announce: &mut dyn FnMut(&str)) -> Result<(), Error> {
    let worker = worker::Worker::start(options.exec.clone(), options.model.clone(), options.choices.clone())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Usage(format!("cannot start the web server: {e}")))?;
    runtime.block_on(server::serve(worker, options, announce))
}
