//! The model layer: configuration, the blocking client, answers, tokens, and the redaction of
//! everything sent.

pub mod budget;
mod client;
mod config;
pub mod redact;
pub mod reply;
pub mod tokens;
mod window;
mod wire;

pub(crate) use client::Ended;
pub use client::{ChatOptions, Client, Message, Reply, Role, ToolCall, Usage, chat_url};
#[cfg(test)]
pub(crate) use config::ToolParameter;
pub use config::{ApiKey, ModelConfig, ModelOptions, Price, ProfileInfo, Provider, profiles};
pub(crate) use config::{CustomTool, house_rules_section};
