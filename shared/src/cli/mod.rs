//! What every plugin shares on its command line, and the way every plugin ends.
//!
//! The flags follow kubectl's conventions: kubectl rejects global flags placed before a plugin name
//! (`kubectl -n x ai analyze` fails), so each plugin parses `-n/-A/--context/--kubeconfig` itself.

pub mod analyze;
mod args;
pub mod audit;
pub mod exec;
pub mod generate;
mod input;
mod terminal;
mod watch;

pub(crate) use args::{ANSWER_FORMATS, AUDIT_FORMATS, LEVELS, MANIFEST_FORMATS, SEVERITIES, one_of};
pub use args::{ClusterArgs, CommonArgs, LlmArgs, LogArgs, ScopeArgs, WatchArgs, parse_duration};

use std::io::Write as _;
use std::process::ExitCode;

use crate::error::{self, Exit};

/// Sets up colors and logging from the shared flags. Call once, first thing in `main`.
pub fn init(log: &LogArgs) {
    if log.no_color {
        anstream::ColorChoice::Never.write_global();
    }
    init_logging(log.verbose, !log.no_color);
}

fn init_logging(verbose: u8, color: bool) {
    use tracing::Level;
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::prelude::*;

    let targets = match verbose {
        0 => Targets::new().with_target("opsagent", Level::ERROR),
        1 => Targets::new().with_target("opsagent", Level::INFO),
        2 => Targets::new().with_target("opsagent", Level::DEBUG).with_target("kube", Level::DEBUG),
        _ => Targets::new().with_default(LevelFilter::TRACE),
    };
    let ansi = color && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && is_terminal_stderr();
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(ansi).with_target(verbose >= 2);
    // A second init (tests calling in-process) is not an error worth reporting.
    let _ = tracing_subscriber::registry().with(layer).with(targets).try_init();
}

fn is_terminal_stderr() -> bool {
    use std::io::IsTerminal as _;
    std::io::stderr().is_terminal()
}

/// Ends a plugin: maps the outcome to its documented exit code and prints at most one error line.
/// A closed output pipe (`… | head`) is not an error.
pub fn finish(result: anyhow::Result<Exit>) -> ExitCode {
    match result {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(err) if error::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            let _ = writeln!(std::io::stderr(), "error: {}", error::one_line(err.as_ref()));
            ExitCode::from(error::exit_for(&err).code())
        }
    }
}

/// Parses a plugin's command line. `Err` is the exit code when parsing ended the run: the hidden
/// `--completions`/`--man-page` were printed, `--help`/`--version` were, or the usage was wrong —
/// then one line on stderr (clap's own message would add a usage block) and exit 2.
pub fn parse<C: clap::Parser>() -> Result<C, ExitCode> {
    // Started as a jq sandbox by exec: serve one evaluation and end (nothing else is read).
    if let Some(code) = crate::exec::serve_jq_worker() {
        return Err(code);
    }
    if let Some(code) = generated::<C>() {
        return Err(code);
    }
    C::try_parse().map_err(|err| {
        if !err.use_stderr() {
            return match err.print() {
                Ok(()) => ExitCode::SUCCESS,
                Err(_) => ExitCode::from(Exit::Usage.code()),
            };
        }
        let _ = writeln!(std::io::stderr(), "{}", usage_line(&err.render().to_string()));
        ExitCode::from(Exit::Usage.code())
    })
}

/// clap's error message on one line: the error, its possible values and tip, no usage block.
fn usage_line(rendered: &str) -> String {
    let parts: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty())
        .collect();
    format!("{} (see --help)", parts.join("; "))
}

/// The hidden `--completions SHELL` and `--man-page` of every plugin: printed from the same clap
/// definitions as the flags (like ripgrep's `--generate`). `None` when neither was asked for.
pub fn generated<C: clap::CommandFactory>() -> Option<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut cmd = C::command();
    let name = cmd.get_name().to_string();
    let mut out = std::io::stdout().lock();
    let written = match args.as_slice() {
        [flag, shell] if flag == "--completions" => {
            let Ok(shell) = shell.parse::<clap_complete::Shell>() else {
                let _ = writeln!(
                    std::io::stderr(),
                    "error: unknown shell {shell:?}: bash, zsh, fish, elvish or powershell"
                );
                return Some(ExitCode::from(Exit::Usage.code()));
            };
            clap_complete::generate(shell, &mut cmd, name, &mut out);
            Ok(())
        }
        [flag] if flag == "--man-page" => clap_mangen::Man::new(cmd).render(&mut out),
        _ => return None,
    };
    Some(match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {e}");
            ExitCode::from(Exit::Usage.code())
        }
    })
}

/// Adds what the plugin offers instead to a "no cluster configured" error (`--snapshot`, `-f`,
/// `--no-cluster`…).
pub(crate) fn no_cluster_hint(result: anyhow::Result<Exit>, instead: &str) -> anyhow::Result<Exit> {
    result.map_err(|mut err| {
        if let Some(error::Error::NoCluster { hint, .. }) = err.downcast_mut::<error::Error>() {
            *hint = Some(instead.to_string());
        }
        err
    })
}

/// Prints one warning line on stderr.
pub fn warn(message: impl std::fmt::Display) {
    let style = anstyle::AnsiColor::Yellow.on_default().bold();
    let _ = writeln!(anstream::stderr(), "{style}warning:{style:#} {message}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_fit_on_one_line() {
        let rendered = "error: invalid value 'xml' for '--output <OUTPUT>'\n  [possible values: text, json]\n\n  tip: a similar value exists: 'json'\n\nUsage: kubectl ai analyze [OPTIONS]\n\nFor more information, try '--help'.\n";
        assert_eq!(
            usage_line(rendered),
            "error: invalid value 'xml' for '--output <OUTPUT>'; [possible values: text, json]; tip: a similar value exists: 'json' (see --help)"
        );
    }
}
