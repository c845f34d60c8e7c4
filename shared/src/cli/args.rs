//! The flags the plugins share, defined once: kubectl's cluster flags, scope, output and logging.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, ValueEnum};

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

#[cfg(test)]
mod tests {
    use super::*;

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
