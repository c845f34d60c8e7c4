//! Integration tests: the real binaries against the fixture cluster, and the real kubectl against
//! the fixture cluster. One test binary for the whole crate (links once).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod analyze;
mod attacks;
mod audit;
mod browser;
mod budget;
mod canary;
mod diagnose;
mod exec;
mod fuzz;
mod generate;
mod hardening;
mod kubectl;
mod kubectl_grammar;
mod mcp;
mod model;
mod plugins;
mod quirks;
mod ship;
mod support;
mod watch;
mod web;
