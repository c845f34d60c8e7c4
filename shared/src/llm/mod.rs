//! The model layer: configuration, the blocking client, answers, tokens.

pub mod client;
pub mod config;
pub mod redact;
pub mod reply;
pub mod tokens;

pub use client::{ChatOptions, Client, Message, Reply, Role, Usage};
pub use config::{ModelConfig, ModelOptions, Provider};
