//! The one reader of what a plugin is given from outside: stdin (`-`) or a file, at most a limit.

use std::io::IsTerminal as _;
use std::path::Path;

use crate::error::Error;
use crate::explain::pipe::{Input, read_from};

/// What to do with input past the limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Over {
    /// Keep its beginning; the input says it was cut ([`Input::warnings`]).
    Cut,
    /// Refuse it, saying what to do instead: a cut would change its meaning (objects, manifests).
    Refuse(&'static str),
}

/// Whether stdin is piped (not a terminal).
pub(crate) fn piped() -> bool {
    !std::io::stdin().is_terminal()
}

/// Reads stdin (`-`) or a file, at most `limit` bytes.
pub(crate) fn read(path: &Path, limit: u64, over: Over) -> Result<Input, Error> {
    let input = if path.as_os_str() == "-" {
        read_from(std::io::stdin().lock(), "stdin".into(), limit)?
    } else {
        let name = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|e| Error::input(&name, e))?;
        read_from(file, name, limit)?
    };
    if let (true, Over::Refuse(instead)) = (input.truncated, over) {
        return Err(Error::input(&input.source, format!("is larger than {} MiB: {instead}", limit >> 20)));
    }
    Ok(input)
}
