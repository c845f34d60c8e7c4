//! What every plugin shares on its command line, and the way every plugin ends.
//!
//! The flags follow kubectl's conventions: kubectl rejects global flags placed before a plugin name
//! (`kubectl -n x ai analyze` fails), so each plugin parses `-n/-A/--context/--kubeconfig` itself.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgAction, Args, ValueEnum};

use crate::error::{self, Exit};

/// Flags shared by the plugins that read many objects (analyze, audit, exec), flattened into each
/// plugin's own arguments.
#[derive(Args, Debug, Clone, Default)]
pub struct CommonArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,

    #[command(flatten)]
    pub scope: ScopeArgs,

    /// Output format
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Text, help_heading = "Output")]
    pub output: OutputFormat,

    #[command(flatten)]
    pub log: LogArgs,
}

/// Which objects to read: kubectl's `-A` and `-l` (the plugins that read many objects).
#[derive(Args, Debug, Clone, Default)]
pub struct ScopeArgs {
    /// Work across all namespaces
    #[arg(short = 'A', long, conflicts_with = "namespace", help_heading = "Cluster")]
    pub all_namespaces: bool,

    /// Label selector to filter objects, e.g. -l app=web,tier!=cache
    #[arg(short = 'l', long, value_name = "SELECTOR", help_heading = "Cluster")]
    pub selector: Option<String>,
}

/// How to reach the cluster: kubectl's flags (every plugin has them).
#[derive(Args, Debug, Clone, Default)]
pub struct ClusterArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then in-cluster)
    #[arg(long, value_name = "PATH", help_heading = "Cluster")]
    pub kubeconfig: Option<PathBuf>,

    /// The kubeconfig context to use
    #[arg(long, value_name = "NAME", help_heading = "Cluster")]
    pub context: Option<String>,

    /// Namespace to work in (default: the context's namespace)
    #[arg(short = 'n', long, value_name = "NAMESPACE", help_heading = "Cluster")]
    pub namespace: Option<String>,

    /// Time to wait for any one API request, e.g. 30s, 2m (0 waits forever)
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration, help_heading = "Cluster")]
    pub request_timeout: Duration,
}

/// Colors and logging (every plugin has them).
#[derive(Args, Debug, Clone, Default)]
pub struct LogArgs {
    /// Never use colors (also: the NO_COLOR environment variable)
    #[arg(long, help_heading = "Output")]
    pub no_color: bool,

    /// Log more to stderr: -v progress, -vv API requests, -vvv everything
    #[arg(short = 'v', long = "verbose", action = ArgAction::Count, help_heading = "Output")]
    pub verbose: u8,
}

/// The output formats every plugin understands.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// Human-readable text, colored on a terminal
    #[default]
    Text,
    /// The versioned JSON report (docs/report-format.md)
    Json,
    /// The same report as YAML
    Yaml,
    /// Markdown, for tickets and pull requests
    #[value(alias = "md")]
    Markdown,
}

/// Parses kubectl-style durations: `30s`, `2m`, `1h`, `1m30s`, `500ms`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return Err("empty duration".into());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("invalid duration {text:?}: expected a number, like 30s or 2m"));
        }
        let value: u64 = rest[..digits].parse().map_err(|_| format!("invalid duration {text:?}"))?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        total += match unit {
            "ms" => Duration::from_millis(value),
            "s" => Duration::from_secs(value),
            "m" => Duration::from_secs(value * 60),
            "h" => Duration::from_secs(value * 3600),
            _ => {
                return Err(format!("invalid duration {text:?}: unknown unit {unit:?} (use ms, s, m or h)"));
            }
        };
    }
    Ok(total)
}

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
            let _ = writeln!(std::io::stderr(), "error: {}", error::one_line(&err));
            ExitCode::from(error::exit_for(&err).code())
        }
    }
}

/// Parses a plugin's command line. `Err` is the exit code when parsing ended the run: the hidden
/// `--completions`/`--man-page` were printed, `--help`/`--version` were, or the usage was wrong —
/// then one line on stderr (clap's own message would add a usage block) and exit 2.
pub fn parse<C: clap::Parser>() -> Result<C, ExitCode> {
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

    #[test]
    fn durations() {
        let cases: &[(&str, u64)] =
            &[("30", 30_000), ("30s", 30_000), ("2m", 120_000), ("1m30s", 90_000), ("500ms", 500), ("1h", 3_600_000)];
        for (text, ms) in cases {
            assert_eq!(parse_duration(text).map(|d| d.as_millis() as u64), Ok(*ms), "{text}");
        }
        for bad in ["", "s", "10x", "1.5s", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
