//! The terminal side of the core's notices: warnings and notes on stderr, a progress bar while
//! work of several steps goes on (only when stderr is a terminal).

use std::io::{IsTerminal as _, Write as _};
use std::sync::Mutex;

use crate::progress::Progress;

/// Notices on stderr.
#[derive(Default)]
pub(crate) struct Terminal {
    bar: Mutex<Option<indicatif::ProgressBar>>,
    spinner: Mutex<Option<indicatif::ProgressBar>>,
}

impl Terminal {
    /// Runs `f` with the progress bar (if any) out of the way, so a line is not drawn over it.
    fn above_bar(&self, f: impl FnOnce()) {
        match self.bar.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }
}

impl Progress for Terminal {
    fn warn(&self, message: &str) {
        self.above_bar(|| super::warn(message));
    }

    fn note(&self, message: &str) {
        self.above_bar(|| {
            let _ = writeln!(std::io::stderr(), "{message}");
        });
    }

    fn waiting(&self, what: &str, elapsed: Option<std::time::Duration>) {
        let mut spinner = self.spinner.lock().unwrap_or_else(|e| e.into_inner());
        let Some(elapsed) = elapsed else {
            if let Some(s) = spinner.take() {
                s.finish_and_clear();
            }
            return;
        };
        // Only alone on a terminal: a progress bar already says that work goes on.
        if spinner.is_none() && std::io::stderr().is_terminal() && self.bar.lock().map_or(true, |b| b.is_none()) {
            let s = indicatif::ProgressBar::new_spinner();
            s.enable_steady_tick(std::time::Duration::from_millis(120));
            *spinner = Some(s);
        }
        if let Some(s) = spinner.as_ref() {
            s.set_message(format!("{what} ({}s)", elapsed.as_secs()));
        }
    }

    fn advance(&self, what: &str, done: usize, total: usize) {
        let mut bar = self.bar.lock().unwrap_or_else(|e| e.into_inner());
        if done >= total {
            if let Some(b) = bar.take() {
                b.finish_and_clear();
            }
            return;
        }
        if bar.is_none() && total >= 2 && std::io::stderr().is_terminal() {
            let b = indicatif::ProgressBar::new(total as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg} {pos}/{len} {bar:30} {elapsed}")
            {
                b.set_style(style);
            }
            b.set_message(what.to_string());
            *bar = Some(b);
        }
        if let Some(b) = bar.as_ref() {
            b.set_length(total as u64);
            b.set_position(done as u64);
        }
    }
}
