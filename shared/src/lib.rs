//! OpsAgent: the shared library of the `kubectl ai` plugins.
//!
//! Data flows one way, and the modules are declared in its order:
//! **cluster or file → [`snapshot`] → [`analyze`] / [`audit`] → [`findings`] → ([`llm`], [`explain`])
//! → [`render`]**; [`generate`] and [`exec`] are the two verbs that talk to a model first. Only [`cli`]
//! knows the command line and the terminal.

pub mod analyze;
pub mod audit;
pub mod cli;
pub mod cluster;
pub mod exec;
pub mod explain;
pub mod findings;
pub mod generate;
pub mod llm;
pub mod render;
pub mod snapshot;

pub mod duration;
pub mod error;
pub mod files;
#[doc(hidden)]
pub mod fuzzing;
pub mod progress;
#[cfg(test)]
mod properties;

pub use error::{Error, Exit};
