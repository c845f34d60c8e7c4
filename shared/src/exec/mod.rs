//! `kubectl ai exec`: the agent and its tools.

pub mod agent;
pub mod tools;
