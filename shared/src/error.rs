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
//! | 4 | partial or empty results: some kinds could not be read, or the scope matched nothing; nothing found |
//! | 5 | the model could not be used: not configured, rejected the request, unreachable |
//! | 6 | `exec`: a change was asked for and not made (read-only, declined, no terminal) |
//! | 7 | `analyze`, `audit`: a `--notify` sink could not be told (the report was written) |
//! | 8 | a spending cap was reached (`--max-tokens`, `--max-cost`, `max_cost_per_day`) |

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
    /// Partial or empty results (some kinds unreadable, or the scope matched nothing), nothing found.
    Partial = 4,
    /// The model could not be used.
    Model = 5,
    /// A change was asked for and not made: read-only, declined, or no terminal to ask on.
    NotDone = 6,
    /// A `--notify` sink could not be told (the report was written; the state file keeps it).
    NotNotified = 7,
    /// A spending cap was reached: `--max-tokens`, `--max-cost`, a profile's `max_cost_per_day`.
    Budget = 8,
}

impl Exit {
    /// The number the process exits with.
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// A cause kept with an error, for callers that look into it ([`std::error::Error::source`]).
pub(crate) type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The errors of the library, by what the person can do about them (each maps to an exit code).
/// Messages are written to be read on one line; the original error, when there is one, is kept as
/// the source.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag value or combination that cannot work.
    #[error("{0}")]
    Usage(String),
    /// An input (a snapshot, manifests, a config file, stdin) that cannot be read or parsed.
    #[error("{name}: {message}")]
    Input {
        /// The input (`stdin`, a file).
        name: String,
        /// What is wrong with it.
        message: String,
        /// The I/O error, when it could not be read.
        #[source]
        source: Option<std::io::Error>,
    },
    /// A file that cannot be written (a dump, manifests, the change log).
    #[error("cannot write {}", path.display())]
    Write {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// No usable kubeconfig, or a context, cluster or user it does not define.
    #[error("{message}")]
    Kubeconfig {
        /// What is wrong.
        message: String,
        /// The error it was worded from.
        #[source]
        source: Option<Cause>,
    },
    /// Nothing says which cluster to use: no kubeconfig, and not in a pod.
    #[error(
        "no kubeconfig found ($KUBECONFIG, ~/.kube/config) and no in-cluster configuration: {why}{}",
        hint.as_deref().map(|h| format!("; {h}")).unwrap_or_default()
    )]
    NoCluster {
        /// Why the in-cluster configuration could not be used.
        why: String,
        /// What the caller can do instead (each plugin knows its own alternatives).
        hint: Option<String>,
    },
    /// The API server could not be reached (connection, DNS, TLS, timeout).
    #[error("cannot reach the cluster at {server}: {reason}")]
    Unreachable {
        /// The API server's URL.
        server: String,
        /// Why, in a few words.
        reason: String,
        /// The transport error.
        #[source]
        source: Option<Cause>,
    },
    /// The API server rejected the credentials.
    #[error("the cluster at {server} rejected the credentials (401 Unauthorized): {hint}")]
    Unauthorized {
        /// The API server's URL.
        server: String,
        /// What to do about it.
        hint: String,
    },
    /// Nothing at all could be read from the cluster.
    #[error("{message}")]
    Api {
        /// What could not be read, and why.
        message: String,
        /// The API's error.
        #[source]
        source: Option<Cause>,
    },
    /// The model is not configured, refused the request, or could not be reached.
    #[error("{message}")]
    Model {
        /// What failed, and how to fix it.
        message: String,
        /// The client's error.
        #[source]
        source: Option<Cause>,
    },
    /// A spending cap was reached before the next model call.
    #[error("{0}")]
    Budget(String),
}

impl Error {
    /// The exit code this error ends a plugin with.
    pub fn exit(&self) -> Exit {
        match self {
            Error::Usage(_) | Error::Input { .. } | Error::Write { .. } => Exit::Usage,
            Error::Kubeconfig { .. }
            | Error::NoCluster { .. }
            | Error::Unreachable { .. }
            | Error::Unauthorized { .. }
            | Error::Api { .. } => Exit::Cluster,
            Error::Model { .. } => Exit::Model,
            Error::Budget(_) => Exit::Budget,
        }
    }

    /// An input that cannot be used, and why.
    pub fn input(name: impl fmt::Display, message: impl fmt::Display) -> Self {
        Error::Input { name: name.to_string(), message: message.to_string(), source: None }
    }

    /// An input that cannot be read.
    pub fn unreadable(name: impl fmt::Display, source: std::io::Error) -> Self {
        Error::Input { name: name.to_string(), message: source.to_string(), source: Some(source) }
    }

    /// A kubeconfig that cannot be used.
    pub fn kubeconfig(message: impl Into<String>) -> Self {
        Error::Kubeconfig { message: message.into(), source: None }
    }

    /// A cluster that answered with an error.
    pub fn api(message: impl Into<String>) -> Self {
        Error::Api { message: message.into(), source: None }
    }

    /// A model that cannot be used.
    pub fn model(message: impl Into<String>) -> Self {
        Error::Model { message: message.into(), source: None }
    }

    /// The same error, keeping `cause` as its source.
    pub fn caused_by(mut self, cause: impl Into<Cause>) -> Self {
        let cause = Some(cause.into());
        match &mut self {
            Error::Kubeconfig { source, .. }
            | Error::Unreachable { source, .. }
            | Error::Api { source, .. }
            | Error::Model { source, .. } => *source = cause,
            Error::Usage(_)
            | Error::Input { .. }
            | Error::Write { .. }
            | Error::NoCluster { .. }
            | Error::Unauthorized { .. }
            | Error::Budget(_) => {}
        }
        self
    }

    /// Whether the message already says what its source says (it was worded from it): the line
    /// then ends with this error.
    fn words_its_source(&self) -> bool {
        matches!(self, Error::Kubeconfig { .. } | Error::Unreachable { .. } | Error::Api { .. } | Error::Model { .. })
    }
}

/// The exit code for an error that reached `main`.
pub(crate) fn exit_for(err: &anyhow::Error) -> Exit {
    err.chain().find_map(|cause| cause.downcast_ref::<Error>()).map_or(Exit::Usage, Error::exit)
}

/// True when the error is a closed pipe on output (`… | head`): not a failure, like ripgrep.
pub(crate) fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Renders an error and its causes as one line — the one place a chain is rendered: causes joined by
/// ": ", inner newlines folded, repeats dropped; an [`Error`] that words its source ends the line.
pub(crate) fn one_line(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cause = Some(err);
    while let Some(e) = cause {
        let text = e.to_string().split_whitespace().collect::<Vec<_>>().join(" ");
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        if e.downcast_ref::<Error>().is_some_and(Error::words_its_source) {
            break;
        }
        cause = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_error_kind() {
        let cases: [(Error, u8); 7] = [
            (Error::model("x"), 5),
            (Error::Budget("x".into()), 8),
            (Error::Usage("x".into()), 2),
            (Error::input("f.yaml", "bad"), 2),
            (Error::kubeconfig("x"), 3),
            (Error::Unreachable { server: "s".into(), reason: "r".into(), source: None }, 3),
            (Error::api("x"), 3),
        ];
        for (err, code) in cases {
            assert_eq!(exit_for(&anyhow::Error::new(err)).code(), code);
        }
        assert_eq!(exit_for(&anyhow::anyhow!("other")).code(), 2);
    }

    #[test]
    fn context_wrapping_keeps_the_exit_code() {
        let err = anyhow::Error::new(Error::kubeconfig("no context")).context("loading");
        assert_eq!(exit_for(&err), Exit::Cluster);
    }

    #[test]
    fn one_line_folds_newlines_and_repeats() {
        let err = anyhow::anyhow!("inner\nproblem").context("outer");
        assert_eq!(one_line(err.as_ref()), "outer: inner problem");
        let err = anyhow::anyhow!("same").context("same");
        assert_eq!(one_line(err.as_ref()), "same");
        // A cause kept as the source, already worded in the message, is not repeated.
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "tcp connect error");
        let err =
            anyhow::Error::new(Error::model("cannot reach the model: refused").caused_by(io)).context("explaining");
        assert_eq!(one_line(err.as_ref()), "explaining: cannot reach the model: refused");
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let err = Error::Write { path: "out.yaml".into(), source: io };
        assert_eq!(one_line(&err), "cannot write out.yaml: no such file");
        assert!(std::error::Error::source(&err).is_some(), "the cause is kept");
    }

    #[test]
    fn broken_pipe_is_recognised_through_context() {
        let io = std::io::Error::new(std::io::ErrorKind::BrokenPipe, "pipe");
        assert!(is_broken_pipe(&anyhow::Error::new(io).context("writing")));
        assert!(!is_broken_pipe(&anyhow::anyhow!("x")));
    }
}
