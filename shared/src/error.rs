//! Typed errors that callers branch on, and the documented exit codes they map to.
//!
//! Exit codes (docs/exit-codes.md):
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | success: nothing to report |
//! | 1 | problems found |
//! | 2 | invalid usage or input (flags, files), or another local failure |
//! | 3 | the cluster could not be used: kubeconfig, context, connection, TLS, authentication |
//! | 4 | partial results: some kinds could not be read and nothing was found in the rest |
//! | 5 | the model could not be used: not configured, rejected the request, unreachable |

use std::fmt;

/// The process exit codes of every plugin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Success: nothing to report.
    Clean = 0,
    /// Problems were found.
    Problems = 1,
    /// Invalid usage or input, or another local failure.
    Usage = 2,
    /// The cluster could not be used at all.
    Cluster = 3,
    /// Partial results with nothing found in what could be read.
    Partial = 4,
    /// The model could not be used.
    Model = 5,
}

impl Exit {
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// Errors a caller may want to branch on. Everything else travels as `anyhow::Error`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag value or combination that cannot work.
    #[error("{0}")]
    Usage(String),
    /// An input file (snapshot, manifest) that cannot be read or parsed.
    #[error("{source_name}: {message}")]
    Input { source_name: String, message: String },
    /// No usable kubeconfig, or a context/cluster/user it does not define.
    #[error("{0}")]
    Kubeconfig(String),
    /// The API server could not be reached (connection, DNS, TLS, timeout).
    #[error("cannot reach the cluster at {server}: {reason}")]
    Unreachable { server: String, reason: String },
    /// The API server rejected the credentials.
    #[error("the cluster at {server} rejected the credentials (401 Unauthorized): {hint}")]
    Unauthorized { server: String, hint: String },
    /// Nothing at all could be read from the cluster.
    #[error("{0}")]
    Api(String),
    /// The model is not configured, refused the request, or could not be reached.
    #[error("{0}")]
    Model(String),
}

impl Error {
    pub fn exit(&self) -> Exit {
        match self {
            Error::Usage(_) | Error::Input { .. } => Exit::Usage,
            Error::Kubeconfig(_) | Error::Unreachable { .. } | Error::Unauthorized { .. } | Error::Api(_) => {
                Exit::Cluster
            }
            Error::Model(_) => Exit::Model,
        }
    }

    pub fn input(source_name: impl fmt::Display, message: impl fmt::Display) -> Self {
        Error::Input { source_name: source_name.to_string(), message: message.to_string() }
    }
}

/// The exit code for an error that reached `main`.
pub fn exit_for(err: &anyhow::Error) -> Exit {
    err.chain().find_map(|cause| cause.downcast_ref::<Error>()).map_or(Exit::Usage, Error::exit)
}

/// True when the error is a closed pipe on output (`… | head`): not a failure, like ripgrep.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Renders an error chain as one line: causes joined by ": ", inner newlines folded, repeats dropped.
pub fn one_line(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let text = cause.to_string().split_whitespace().collect::<Vec<_>>().join(" ");
        if text.is_empty() || parts.iter().any(|p| p.contains(&text)) {
            continue;
        }
        parts.push(text);
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_error_kind() {
        let cases: [(Error, u8); 6] = [
            (Error::Model("x".into()), 5),
            (Error::Usage("x".into()), 2),
            (Error::input("f.yaml", "bad"), 2),
            (Error::Kubeconfig("x".into()), 3),
            (Error::Unreachable { server: "s".into(), reason: "r".into() }, 3),
            (Error::Api("x".into()), 3),
        ];
        for (err, code) in cases {
            assert_eq!(exit_for(&anyhow::Error::new(err)).code(), code);
        }
        assert_eq!(exit_for(&anyhow::anyhow!("other")).code(), 2);
    }

    #[test]
    fn context_wrapping_keeps_the_exit_code() {
        let err = anyhow::Error::new(Error::Kubeconfig("no context".into())).context("loading");
        assert_eq!(exit_for(&err), Exit::Cluster);
    }

    #[test]
    fn one_line_folds_newlines_and_repeats() {
        let err = anyhow::anyhow!("inner\nproblem").context("outer");
        assert_eq!(one_line(&err), "outer: inner problem");
        let err = anyhow::anyhow!("same").context("same");
        assert_eq!(one_line(&err), "same");
    }

    #[test]
    fn broken_pipe_is_recognised_through_context() {
        let io = std::io::Error::new(std::io::ErrorKind::BrokenPipe, "pipe");
        assert!(is_broken_pipe(&anyhow::Error::new(io).context("writing")));
        assert!(!is_broken_pipe(&anyhow::anyhow!("x")));
    }
}
