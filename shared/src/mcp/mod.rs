//! `kubectl ai exec --mcp-server`: OpsAgent's analyzers, audit, manifest validation and exec's
//! guarded kubectl as tools for any agent that speaks the Model Context Protocol (through the
//! official Rust SDK, `rmcp`). The calling agent is the model: no model key is needed here.
//!
//! What the client says is never trusted: the server is read-only unless started with
//! `--allow-writes`, every kubectl call goes through exec's parser and policy, every result through
//! the redaction gate and the untrusted-data marking, a change runs only after a person's yes
//! (asked through MCP elicitation; `--yes` alone skips it), the `context` argument is limited to
//! the contexts named at start, and every call is bounded in time and size.
//!
//! Transports: stdio (the default), and streamable HTTP on `/mcp` ([`http`]) behind a bearer
//! token, Host and Origin checks, loopback unless TLS is configured.

mod http;
mod server;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::Error;
use crate::exec::ExecOptions;

/// How the server runs.
#[derive(Clone, Debug)]
pub struct McpOptions {
    /// The cluster, the namespace, `--yes`, `--read-only`, kubectl's timeout, the jq worker and the
    /// cap of one result (`max_tool_tokens`, default 8,000 tokens).
    pub exec: ExecOptions,
    /// The contexts a call may name; empty: only the kubeconfig's current one (or `exec.connect`'s).
    pub contexts: Vec<String>,
    /// Offer `kubectl_change`: writes, each confirmed by a person through the client.
    pub allow_writes: bool,
    /// Serve streamable HTTP on this address instead of stdio.
    pub listen: Option<SocketAddr>,
    /// The bearer token's file (HTTP); without one a token is generated and announced.
    pub token_file: Option<PathBuf>,
    /// A certificate chain and its key (PEM): HTTPS, required to listen beyond loopback.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// The longest one tool call may take.
    pub call_timeout: Duration,
    /// HTTP requests served at once.
    pub max_requests: usize,
}

/// Where an HTTP server listens, announced once when it is ready.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listening {
    /// `http://127.0.0.1:PORT/mcp` (or https).
    pub url: String,
    /// The bearer token, when it was generated here (to be shown once); `None` when read from a
    /// file.
    pub token: Option<String>,
}

/// The most tokens one result may take when `max_tool_tokens` is not set.
const DEFAULT_CAP: usize = 8_000;
/// The largest request body accepted over HTTP.
const MAX_BODY: usize = 1024 * 1024;

/// Serves until the client leaves (stdio: end of input) or SIGINT/SIGTERM. `announce` is called
/// once an HTTP server listens. The cluster is checked first: a cluster that cannot be used is an
/// error before anything is served.
pub fn serve(options: &McpOptions, announce: &mut dyn FnMut(&Listening)) -> Result<(), Error> {
    let tools = server::Tools::connect(options)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Usage(format!("cannot start the MCP server: {e}")))?;
    match options.listen {
        None => runtime.block_on(server::stdio(tools)),
        Some(addr) => runtime.block_on(http::serve(tools, addr, options, announce)),
    }
}
