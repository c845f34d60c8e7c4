//! What the core tells the person running it while it works. The core never prints: it hands
//! notices to a [`Progress`] the edge implements — the terminal (`cli`: warning lines and a progress
//! bar on stderr), a protocol's log messages, a web page's events.

/// Notices from the core. Every method has a quiet default, so an implementation picks what it shows.
pub trait Progress: Sync {
    /// Something the person should know that does not stop the work: a kind that could not be read,
    /// an answer cut at its token limit, a request left unexplained.
    fn warn(&self, message: &str) {
        tracing::warn!("{message}");
    }

    /// A step worth a line of its own while the work goes on (`repair 1 of 2: …`).
    fn note(&self, message: &str) {
        tracing::info!("{message}");
    }

    /// `done` of `total` units of `what` are finished (`explaining`, `problems`); the total may grow
    /// between calls, and `done == total` ends that work.
    fn advance(&self, _what: &str, _done: usize, _total: usize) {}

    /// Still waiting for `what` (a model server reading a long prompt) after `elapsed`; `None` when
    /// the wait is over. Called about once a second while it lasts.
    fn waiting(&self, _what: &str, _elapsed: Option<std::time::Duration>) {}
}

/// Nobody to tell: notices go to the log only (`-v`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Quiet;

impl Progress for Quiet {}

/// Notices kept in memory, in order: for tests and for callers that report them later.
#[derive(Debug, Default)]
pub struct Collected {
    warnings: std::sync::Mutex<Vec<String>>,
}

impl Collected {
    /// The warnings so far.
    pub fn warnings(&self) -> Vec<String> {
        self.warnings.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Progress for Collected {
    fn warn(&self, message: &str) {
        self.warnings.lock().unwrap_or_else(|e| e.into_inner()).push(message.to_string());
    }
}
