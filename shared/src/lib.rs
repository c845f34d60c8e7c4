//! OpsAgent: the library behind the `kubectl ai` plugins.
//!
//! Data flows one way, and the modules are declared in its order: a cluster or a file becomes a
//! [`snapshot`]; the [`analyze`]rs and the [`audit`] checks read it and report [`findings`]; a model
//! ([`llm`]) may [`explain`] them; [`render`] prints them. [`generate`] and [`exec`] are the verbs
//! that start from a model. Only [`cli`] knows the command line and the terminal: everything else
//! takes plain option structs, returns typed results, and never prints — what a person should
//! know while it works goes to a [`Progress`].
//!
//! Analyzing a saved state:
//!
//! ```
//! use opsagent::analyze::{AnalyzeOptions, Input, analyze};
//!
//! let state = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/states/demo");
//! let options = AnalyzeOptions { input: Input::Snapshot(state.into()), ..AnalyzeOptions::default() };
//! let analysis = analyze(&options)?;
//! for f in &analysis.report.results {
//!     println!("{} {} {}: {} — {}", f.severity, f.kind, f.object_name(), f.reason, f.hint);
//! }
//! assert!(analysis.report.results.iter().any(|f| f.reason == "CrashLoopBackOff"));
//! # Ok::<(), opsagent::Error>(())
//! ```

#![warn(unreachable_pub, missing_docs)]

// Reaching a cluster: kubeconfig and context like kubectl, the client, discovery, retries, and
// the log of every change made.
pub mod cluster;

// The state analyzers read: typed objects per kind and log tails, from the API or from files.
pub mod snapshot;

// The rule-based analyzers and the `analyze` verb.
pub mod analyze;

// The security checks (Pod Security Standards, hardening, RBAC, images) and the `audit` verb.
pub mod audit;

// What the analyzers and checks report, and the versioned reports.
pub mod findings;

// Talking to a model: configuration, the client, tokens, and the redaction of all that is sent.
pub mod llm;

// What the model is asked after the findings: explanations, diagnoses, piped input.
pub mod explain;

// Everything printed for a person or a program: text, markdown, JSON, YAML, SARIF, dry runs.
pub mod render;

// The `gen` verb: manifests from a prompt, checked, repaired, applied only when asked.
pub mod generate;

// The `exec` verb: an agent over kubectl and jq that asks before any change.
pub mod exec;

// Running in the cluster: re-runs on an interval, Prometheus metrics, findings pushed to
// Alertmanager, Slack or webhooks.
pub mod watch;

// exec's tools, and the analyzers and audit, served to other agents over MCP.
pub mod mcp;

// exec in a local web page: the same session, guard and approvals, in a browser.
pub mod web;

// The edge: the plugins' command lines, the terminal, exit codes.
pub mod cli;

mod duration;
mod error;
mod files;
mod gate;
mod hex;
mod progress;
#[cfg(test)]
mod testing;

pub use duration::parse_duration;
pub use error::{Error, Exit};
pub use progress::{Collected, Progress, Quiet};
