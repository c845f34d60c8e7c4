//! The four plugins' command lines and entry points. Each binary in `bins/` parses one of these
//! argument structs and calls its `run`; the flags live here so completions and man pages come from
//! the same definitions.

pub mod analyze;
pub mod audit;
pub mod exec;
pub mod generate;

use crate::error::Error;

/// The answer of a plugin whose features have not landed yet (its flags already parse).
pub(crate) fn not_implemented(plugin: &str) -> anyhow::Result<crate::Exit> {
    Err(Error::Usage(format!("kubectl ai {plugin} is not implemented yet; see kubectl ai analyze")).into())
}
