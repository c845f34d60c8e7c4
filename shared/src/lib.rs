//! OpsAgent: the shared library of the `kubectl ai` plugins.
//!
//! Data flows one way: **cluster or file → [`snapshot`] → [`analyze`] → [`findings`] → [`render`]**.
//! The binaries in `bins/` parse flags with [`cmd`] and call into here; nothing else lives in them.

pub mod agent;
pub mod analyze;
pub mod audit;
pub mod audit_log;
pub mod cli;
pub mod cluster;
pub mod cmd;
pub mod diagnose;
pub mod error;
pub mod explain;
pub mod findings;
#[doc(hidden)]
pub mod fuzzing;
pub mod generate;
pub mod llm;
pub mod manifest;
pub mod output;
pub mod pipe;
pub mod redact;
pub mod render;
pub mod selector;
pub mod snapshot;
pub mod tools;

#[cfg(test)]
mod properties;
mod runtime;

pub use error::{Error, Exit};
