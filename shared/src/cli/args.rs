//! The flags the plugins share, defined once: kubectl's cluster flags, scope, output and logging.

use std::path::PathBuf;
use std::time::Duration;

pub use crate::duration::parse_duration;

use clap::{ArgAction, Args};

use crate::audit::Level;
use crate::cluster::{Cluster, ConnectOptions, Scope};
use crate::findings::Severity;
use crate::llm::{ModelOptions, Provider};
use crate::render::Format;

/// Flags shared by the plugins that read many objects (analyze, audit, exec), flattened into each
/// plugin's own arguments.
#[derive(Args, Debug, Clone, Default)]
pub struct CommonArgs {
    /// How to reach the cluster.
    #[command(flatten)]
    pub cluster: ClusterArgs,

    /// `-A` and `-l`.
    #[command(flatten)]
    pub scope: ScopeArgs,

    /// Output format
    #[arg(short = 'o', long, value_parser = one_of(REPORT_FORMATS), default_value_t = Format::Text, help_heading = "Output")]
    pub output: Format,

    /// Colors and logging.
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

impl ClusterArgs {
    /// How to reach the cluster these flags name.
    pub fn connect_options(&self) -> ConnectOptions {
        ConnectOptions {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
            request_timeout: self.request_timeout,
        }
    }

    /// The namespaces to look at, following kubectl: `-A`, else `-n`, else the context's namespace.
    pub fn scope(&self, cluster: &Cluster, scope: &ScopeArgs) -> Scope {
        cluster.scope(self.namespace.as_deref(), scope.all_namespaces)
    }
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

/// The model flags of every plugin that talks to a model.
#[derive(Args, Debug, Clone, Default)]
pub struct LlmArgs {
    /// Model provider: openai (and OpenAI-compatible endpoints), azure, ollama
    #[arg(long, value_parser = one_of(PROVIDERS), help_heading = "Model")]
    pub provider: Option<Provider>,

    /// Model name (for Azure: the deployment)
    #[arg(long, value_name = "NAME", help_heading = "Model")]
    pub model: Option<String>,

    /// API base URL, e.g. https://api.deepseek.com/v1 (a trailing /v1 may be left out)
    #[arg(long, value_name = "URL", help_heading = "Model")]
    pub base_url: Option<String>,

    /// A profile of the config file
    #[arg(long, value_name = "NAME", help_heading = "Model")]
    pub profile: Option<String>,

    /// The config file (default: $OPSAGENT_CONFIG, then ~/.config/opsagent/config.toml)
    #[arg(long, value_name = "PATH", help_heading = "Model")]
    pub config: Option<PathBuf>,

    /// CA bundle (PEM) that signs the model endpoint's certificate, for private gateways
    #[arg(long, value_name = "PATH", help_heading = "Model")]
    pub ca_cert: Option<PathBuf>,

    /// The model's context window in tokens, when the built-in table does not know it
    #[arg(long, value_name = "TOKENS", help_heading = "Model")]
    pub context_window: Option<usize>,

    /// Language of the answers, e.g. English, zh, Deutsch
    #[arg(long, value_name = "LANG", help_heading = "Model")]
    pub language: Option<String>,

    /// The team's house rules (a text file), added to every prompt; also `instructions` in a profile
    #[arg(long, value_name = "FILE", help_heading = "Model")]
    pub instructions: Option<PathBuf>,

    /// Longest the model may take, retries and streams included [default: 10m; exec: per question]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, help_heading = "Model")]
    pub timeout: Option<Duration>,

    /// Stop once a question (exec) or run has used N tokens, sent and answered (exit 8)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..), help_heading = "Model")]
    pub max_tokens: Option<u64>,

    /// Stop once a question (exec) or run has cost an estimated USD dollars (exit 8)
    #[arg(long, value_name = "USD", value_parser = parse_dollars, help_heading = "Model")]
    pub max_cost: Option<f64>,

    /// Print the exact messages that would be sent, with their tokens and cost; call no model
    #[arg(long, help_heading = "Model")]
    pub dry_run: bool,
}

/// An amount of US dollars above 0: `0.50`, `$2`.
fn parse_dollars(text: &str) -> Result<f64, String> {
    let amount = text.trim().trim_start_matches('$');
    match amount.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("{text:?} is not an amount of US dollars above 0 (e.g. 0.50)")),
    }
}

impl LlmArgs {
    /// The model the flags choose; the rest comes from the environment and the config file.
    pub fn options(&self) -> ModelOptions {
        ModelOptions {
            provider: self.provider,
            model: self.model.clone(),
            base_url: self.base_url.clone(),
            profile: self.profile.clone(),
            config: self.config.clone(),
            ca_cert: self.ca_cert.clone(),
            context_window: self.context_window,
            language: self.language.clone(),
            instructions: self.instructions.clone(),
            max_tokens: self.max_tokens,
            max_cost: self.max_cost,
        }
    }

    /// The longest the model may take (`--timeout`, 10 minutes by default).
    pub fn timeout(&self) -> Duration {
        self.timeout.unwrap_or(Duration::from_secs(600))
    }

    /// The model these flags choose, resolved: its window learned (asked of a local server, unless
    /// this is a dry run, which contacts nothing) and its deadline `--timeout` from now. `plugin`
    /// names who spends, in the usage ledger.
    pub fn resolve(&self, plugin: &'static str) -> Result<crate::llm::ModelConfig, crate::error::Error> {
        let mut model = crate::llm::ModelConfig::resolve(&self.options())?;
        model.plugin = plugin;
        if model.configured {
            model.learn_window(!self.dry_run);
        }
        model.deadline = Some(std::time::Instant::now() + self.timeout());
        Ok(model)
    }
}

/// One value a flag takes: a core enum's value and its line in `--help`.
pub(crate) struct Choice<T: 'static> {
    pub value: T,
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub help: &'static str,
}

/// A value parser for exactly `choices` (their names and aliases), shown with their help lines in
/// `--help`, the completions and the man pages.
pub(crate) fn one_of<T: Copy + Send + Sync + 'static>(
    choices: &'static [Choice<T>],
) -> impl clap::builder::TypedValueParser<Value = T> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser as _};
    let values = choices.iter().map(|c| {
        let value = PossibleValue::new(c.name).aliases(c.aliases.iter().copied());
        if c.help.is_empty() { value } else { value.help(c.help) }
    });
    PossibleValuesParser::new(values).map(move |given: String| {
        // The parser let through only names and aliases of `choices`.
        let hit = choices.iter().find(|c| c.name == given || c.aliases.contains(&given.as_str()));
        hit.unwrap_or(&choices[0]).value
    })
}

const fn choice<T>(value: T, name: &'static str, help: &'static str) -> Choice<T> {
    Choice { value, name, aliases: &[], help }
}

const TEXT: Choice<Format> = choice(Format::Text, "text", "Human-readable text, colored on a terminal");
const MARKDOWN: Choice<Format> = Choice {
    value: Format::Markdown,
    name: "markdown",
    aliases: &["md"],
    help: "Markdown, for tickets and pull requests",
};

/// `-o` of the reports (analyze).
pub(crate) const REPORT_FORMATS: &[Choice<Format>] = &[
    TEXT,
    choice(Format::Json, "json", "The versioned JSON report (opsagent.dev/v1 AnalysisReport)"),
    choice(Format::Yaml, "yaml", "The same report as YAML"),
    MARKDOWN,
];

/// `-o` of the audit.
pub(crate) const AUDIT_FORMATS: &[Choice<Format>] = &[
    choice(Format::Text, "text", "Text for people, grouped by severity, colored on a terminal"),
    choice(Format::Json, "json", "The versioned JSON report"),
    choice(Format::Yaml, "yaml", "The same report as YAML"),
    MARKDOWN,
    choice(Format::Sarif, "sarif", "SARIF 2.1.0, for GitHub code scanning"),
];

/// `-o` of gen's manifests.
pub(crate) const MANIFEST_FORMATS: &[Choice<Format>] = &[
    choice(Format::Yaml, "yaml", "YAML documents separated by ---, as kubectl apply -f takes them"),
    choice(Format::Json, "json", "JSON: the object, or a List of several"),
];

/// `-o` of exec's answers.
pub(crate) const ANSWER_FORMATS: &[Choice<Format>] = &[
    choice(Format::Text, "text", "The answer (rendered markdown on a terminal, plain when piped)"),
    choice(Format::Json, "json", "{answer, steps, usage}"),
];

pub(crate) const SEVERITIES: &[Choice<Severity>] = &[
    choice(Severity::Info, "info", ""),
    choice(Severity::Low, "low", ""),
    choice(Severity::Medium, "medium", ""),
    choice(Severity::High, "high", ""),
    choice(Severity::Critical, "critical", ""),
];

pub(crate) const LEVELS: &[Choice<Level>] =
    &[choice(Level::Baseline, "baseline", ""), choice(Level::Restricted, "restricted", "")];

pub(crate) const PROVIDERS: &[Choice<Provider>] = &[
    choice(
        Provider::Openai,
        "openai",
        "OpenAI and every OpenAI-compatible endpoint (DeepSeek, DashScope, SiliconFlow, vLLM, LM Studio…)",
    ),
    choice(Provider::Azure, "azure", "Azure OpenAI"),
    choice(Provider::Ollama, "ollama", "Ollama's native API"),
];

/// Running on a schedule and telling people: `--watch`, metrics and `--notify` (analyze, audit).
#[derive(Args, Debug, Clone, Default)]
pub struct WatchArgs {
    /// Run again every INTERVAL (e.g. 5m; ±10 % jitter), keeping the last report; ends on SIGINT/SIGTERM
    #[arg(long, value_name = "INTERVAL", value_parser = parse_duration, help_heading = "Watch and notify")]
    pub watch: Option<Duration>,

    /// Accept a --watch interval below 30s
    #[arg(long, requires = "watch", help_heading = "Watch and notify")]
    pub force: bool,

    /// Stop --watch after N runs (for tests and benchmarks)
    #[arg(long, value_name = "N", requires = "watch", value_parser = clap::value_parser!(u64).range(1..), help_heading = "Watch and notify")]
    pub watch_runs: Option<u64>,

    /// With --watch, serve /metrics, /healthz, /readyz and /report on ADDR (:9090 is every address)
    #[arg(long, value_name = "ADDR", requires = "watch", help_heading = "Watch and notify")]
    pub metrics_addr: Option<String>,

    /// Write the run's metrics to FILE in node-exporter's textfile format (one-shot runs)
    #[arg(long, value_name = "FILE", conflicts_with = "watch", help_heading = "Watch and notify")]
    pub metrics_file: Option<PathBuf>,

    /// Send new and resolved findings to alertmanager+http(s)://HOST:PORT, slack+https://…, or a
    /// webhook http(s)://…; a URL holding a secret as file:PATH or env:NAME (repeatable)
    #[arg(long, value_name = "URL", help_heading = "Watch and notify")]
    pub notify: Vec<String>,

    /// Keep what each --notify sink was told in FILE, so that the next run sends only what changed
    #[arg(long, value_name = "FILE", requires = "notify", help_heading = "Watch and notify")]
    pub state_file: Option<PathBuf>,

    /// Send findings of this severity and above (default: every finding of analyze, high for audit)
    #[arg(long, value_name = "SEVERITY", value_parser = one_of(SEVERITIES), requires = "notify", help_heading = "Watch and notify")]
    pub notify_severity: Option<Severity>,

    /// How long an Alertmanager alert fires unless renewed (default: 4 × --watch, or 2h)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, requires = "notify", help_heading = "Watch and notify")]
    pub alert_ttl: Option<Duration>,

    /// The `cluster` label of notifications (default: the context's name)
    #[arg(long, value_name = "NAME", help_heading = "Watch and notify")]
    pub cluster_name: Option<String>,
}
