//! The four plugins' command lines and entry points. Each binary in `bins/` parses one of these
//! argument structs and calls its `run`; the flags live here so completions and man pages come from
//! the same definitions.

pub mod analyze;
pub mod audit;
pub mod exec;
pub mod generate;
