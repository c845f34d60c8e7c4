//! Which model to talk to, and how: flags, then environment, then the config file.
//!
//! The config file is TOML at `$OPSAGENT_CONFIG`, else `<XDG config dir>/opsagent/config.toml`
//! (`~/.config/opsagent/config.toml`), with named profiles (docs/configuration.md). API keys come
//! from the environment (or a profile's `api_key_env`/`api_key`) and are never printed: [`ApiKey`]
//! shows as `****`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::duration::parse_duration;
use crate::error::Error;

/// The model APIs OpsAgent speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// OpenAI and every OpenAI-compatible endpoint (DeepSeek, DashScope, SiliconFlow, vLLM, LM Studio…)
    Openai,
    /// Azure OpenAI
    Azure,
    /// Ollama's native API
    Ollama,
}

impl Provider {
    /// Every provider.
    pub const ALL: &'static [Provider] = &[Provider::Openai, Provider::Azure, Provider::Ollama];

    /// The name flags, the environment and the config file use: `openai`, `azure`, `ollama`.
    pub fn id(self) -> &'static str {
        match self {
            Provider::Openai => "openai",
            Provider::Azure => "azure",
            Provider::Ollama => "ollama",
        }
    }

    /// The provider named by `id`, in any case.
    pub fn from_id(id: &str) -> Option<Provider> {
        Provider::ALL.iter().copied().find(|p| p.id().eq_ignore_ascii_case(id.trim()))
    }

    /// The name people know it by, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Provider::Openai => "OpenAI",
            Provider::Azure => "Azure OpenAI",
            Provider::Ollama => "Ollama",
        }
    }
}

/// What the caller chose about the model (on the command line: the `--provider`, `--model`, …
/// flags); everything left `None` comes from the environment, then the config file.
#[derive(Debug, Clone, Default)]
pub struct ModelOptions {
    /// The API spoken.
    pub provider: Option<Provider>,
    /// Model name (for Azure: the deployment).
    pub model: Option<String>,
    /// The API base URL.
    pub base_url: Option<String>,
    /// A profile of the config file.
    pub profile: Option<String>,
    /// The config file (default: `$OPSAGENT_CONFIG`, then the XDG default).
    pub config: Option<PathBuf>,
    /// A CA bundle (PEM) for the model endpoint.
    pub ca_cert: Option<PathBuf>,
    /// The model's window in tokens, when the built-in table does not know it.
    pub context_window: Option<usize>,
    /// The language of the answers.
    pub language: Option<String>,
    /// The house rules' file (`--instructions`), instead of the profile's.
    pub instructions: Option<PathBuf>,
    /// The most tokens (sent and answered) one question or run may spend (`--max-tokens`).
    pub max_tokens: Option<u64>,
    /// The most estimated US dollars one question or run may spend (`--max-cost`).
    pub max_cost: Option<f64>,
}

/// An API key. Never printed, logged or serialized.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// A key, as given.
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }

    /// The key itself, for the request header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("****")
    }
}

/// A profile of the config file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Profile {
    pub provider: Option<Provider>,
    pub model: Option<String>,
    pub base_url: Option<String>,
    /// The environment variable that holds the key (preferred to `api_key`).
    pub api_key_env: Option<String>,
    pub api_key: Option<String>,
    pub azure_deployment: Option<String>,
    pub azure_api_version: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub ca_cert: Option<PathBuf>,
    pub connect_timeout: Option<String>,
    pub read_timeout: Option<String>,
    pub first_byte_timeout: Option<String>,
    pub retries: Option<u32>,
    pub retry_base: Option<String>,
    pub context_window: Option<usize>,
    pub language: Option<String>,
    /// House rules added to every prompt: the text, or a file holding it.
    pub instructions: Option<String>,
    pub instructions_file: Option<PathBuf>,
    /// `false` for models without tool calling: exec speaks the JSON ReAct protocol to them.
    pub tool_calling: Option<bool>,
    /// exec refuses every change, as with `--read-only`.
    pub read_only: Option<bool>,
    /// The most estimated US dollars this profile may spend in a local day, every plugin together.
    pub max_cost_per_day: Option<f64>,
}

/// Price of a model, in US dollars per million tokens.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
pub struct Price {
    /// Per million tokens sent.
    pub input: f64,
    /// Per million tokens answered.
    pub output: f64,
}

/// The config file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileConfig {
    pub default_profile: Option<String>,
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
    #[serde(default)]
    pub prices: BTreeMap<String, Price>,
    /// Tools `exec` offers besides kubectl and jq.
    #[serde(default)]
    pub tools: Vec<CustomTool>,
}

/// A tool of the config file: a program run with an argv template, never through a shell.
///
/// ```toml
/// [[tools]]
/// name = "helm_releases"
/// description = "Helm releases of a namespace"
/// command = ["helm", "list", "-n", "{namespace}", "-o", "json"]
/// read_only = true
/// [tools.parameters.namespace]
/// type = "string"
/// description = "the namespace"
/// ```
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CustomTool {
    pub name: String,
    pub description: String,
    /// The program and its arguments; `{param}` is replaced by the parameter's value.
    pub command: Vec<String>,
    #[serde(default)]
    pub parameters: BTreeMap<String, ToolParameter>,
    /// A tool that changes nothing runs without asking; otherwise it is confirmed like a kubectl write.
    #[serde(default)]
    pub read_only: bool,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ToolParameter {
    /// `string`, `integer` or `boolean`.
    #[serde(rename = "type", default = "string_type")]
    pub kind: String,
    #[serde(default)]
    pub description: String,
}

fn string_type() -> String {
    "string".into()
}

impl FileConfig {
    /// Reads the config file: `--config`, `$OPSAGENT_CONFIG`, or the XDG default. A missing default
    /// file is an empty config; a missing named file or invalid TOML is an error.
    pub(super) fn load(flag: Option<&Path>) -> Result<(FileConfig, Option<PathBuf>), Error> {
        let named = flag
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("OPSAGENT_CONFIG").filter(|v| !v.is_empty()).map(PathBuf::from));
        let path = match named {
            Some(p) => {
                if !p.exists() {
                    return Err(Error::Usage(format!("config file {} does not exist", p.display())));
                }
                p
            }
            None => match default_path() {
                Some(p) if p.exists() => p,
                _ => return Ok((FileConfig::default(), None)),
            },
        };
        let text = std::fs::read_to_string(&path).map_err(|e| Error::input(path.display(), e))?;
        let config: FileConfig = toml::from_str(&text)
            .map_err(|e| Error::input(path.display(), e.message().to_string() + &line_of(&text, e.span())))?;
        Ok((config, Some(path)))
    }
}

fn line_of(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    span.map(|s| format!(" (line {})", text[..s.start.min(text.len())].matches('\n').count() + 1)).unwrap_or_default()
}

/// `<XDG config dir>/opsagent/config.toml`.
pub(super) fn default_path() -> Option<PathBuf> {
    use etcetera::BaseStrategy as _;
    etcetera::choose_base_strategy().ok().map(|s| s.config_dir().join("opsagent").join("config.toml"))
}

/// Everything needed to talk to one model, resolved.
#[derive(Clone, Debug)]
pub struct ModelConfig {
    /// The API spoken.
    pub provider: Provider,
    /// The model (for Azure: the deployment).
    pub model: String,
    /// The base URL as configured (keys never live in URLs).
    pub base_url: String,
    /// The key; never printed.
    pub api_key: Option<ApiKey>,
    /// Where the key would come from, for error messages ("set OPENAI_API_KEY").
    pub key_source: String,
    /// Azure's deployment, when it differs from the model.
    pub azure_deployment: Option<String>,
    /// Azure's `api-version`.
    pub azure_api_version: String,
    /// Extra headers sent with every request (gateways).
    pub headers: Vec<(String, String)>,
    /// A CA bundle (PEM) for the endpoint.
    pub ca_cert: Option<PathBuf>,
    /// The longest a connection may take.
    pub connect_timeout: Duration,
    /// The longest silence between bytes once an answer flows.
    pub read_timeout: Duration,
    /// The longest wait for an answer's first byte (a server reading a long prompt).
    pub first_byte_timeout: Duration,
    /// Retries of a failed request.
    pub retries: u32,
    /// The first back-off between retries (doubled each time).
    pub retry_base: Duration,
    /// The model's window in tokens, when configured.
    pub context_window: Option<usize>,
    /// The language of the answers.
    pub language: String,
    /// Native tool calling (else the ReAct protocol).
    pub tool_calling: bool,
    /// exec refuses changes by default.
    pub read_only: bool,
    /// The config file's tools.
    pub custom_tools: Vec<CustomTool>,
    /// Prices per model from the config file (US dollars per million tokens).
    pub prices: BTreeMap<String, Price>,
    /// The team's house rules, added to every system prompt in a section of their own.
    pub instructions: Option<String>,
    /// When every model call of this run must have ended (`--timeout`).
    pub deadline: Option<std::time::Instant>,
    /// The profile used, if any.
    pub profile: Option<String>,
    /// What a question (exec) or a run may spend, and the profile's day.
    pub caps: super::budget::Caps,
    /// The plugin that talks to the model (`analyze`, `audit`, `gen`, `exec`), for the usage ledger.
    pub plugin: &'static str,
    /// Whether anything configured a model at all (dry runs work without).
    pub configured: bool,
}

/// `base` followed by the house rules, in a clearly labelled section.
pub(crate) fn house_rules_section(base: &str, rules: &str) -> String {
    format!("{base}\n\n## House rules (from the team's configuration; they never override the rules above)\n{rules}")
}

/// The most house rules read: they ride on every request.
const MAX_INSTRUCTIONS: u64 = 16 * 1024;

/// The house rules: `--instructions FILE`, else the profile's `instructions_file`, else its
/// `instructions` text. Redacted like everything sent.
fn house_rules(flag: Option<&Path>, profile: &Profile) -> Result<Option<String>, Error> {
    let text = match flag.or(profile.instructions_file.as_deref()) {
        Some(path) => {
            use std::io::Read as _;
            let file = std::fs::File::open(path).map_err(|e| Error::input(path.display(), e))?;
            let mut text = String::new();
            file.take(MAX_INSTRUCTIONS + 1).read_to_string(&mut text).map_err(|e| Error::input(path.display(), e))?;
            if text.len() as u64 > MAX_INSTRUCTIONS {
                return Err(Error::input(
                    path.display(),
                    format!(
                        "is over {} KiB: house rules ride on every request, keep them short",
                        MAX_INSTRUCTIONS >> 10
                    ),
                ));
            }
            text
        }
        None => profile.instructions.clone().unwrap_or_default(),
    };
    let text = text.trim();
    Ok((!text.is_empty()).then(|| crate::llm::redact::redact_text(text)))
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn duration(field: &str, value: Option<&String>, default: Duration) -> Result<Duration, Error> {
    match value {
        Some(v) => parse_duration(v).map_err(|e| Error::Usage(format!("config {field}: {e}"))),
        None => Ok(default),
    }
}

/// A profile as a model picker shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileInfo {
    /// Its name in the config file.
    pub name: String,
    /// `openai`, `azure`, `ollama`.
    pub provider: String,
    /// The model.
    pub model: String,
    /// Whether it calls tools natively (else exec speaks the JSON protocol to it).
    pub tool_calling: bool,
    /// Its window, when the profile sets one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_window: Option<usize>,
    /// Whether it is the config's default profile.
    pub default: bool,
}

/// The profiles of the config file (`--config`, `$OPSAGENT_CONFIG`, the XDG default), by name.
/// Nothing secret is in them: keys stay where they are.
pub fn profiles(config: Option<&Path>) -> Result<Vec<ProfileInfo>, Error> {
    let (file, _) = FileConfig::load(config)?;
    Ok(file
        .profiles
        .iter()
        .map(|(name, p)| {
            let provider = p.provider.unwrap_or(Provider::Openai);
            ProfileInfo {
                name: name.clone(),
                provider: provider.id().to_string(),
                model: p.model.clone().unwrap_or_else(|| match provider {
                    Provider::Ollama => "llama3.1".into(),
                    _ => "gpt-4o-mini".into(),
                }),
                tool_calling: p.tool_calling.unwrap_or(true),
                context_window: p.context_window,
                default: file.default_profile.as_deref() == Some(name),
            }
        })
        .collect())
}

impl ModelConfig {
    /// Resolves the model settings with precedence flags > environment > config file.
    pub fn resolve(args: &ModelOptions) -> Result<ModelConfig, Error> {
        let (file, path) = FileConfig::load(args.config.as_deref())?;
        let profile_name = args.profile.clone().or_else(|| env("OPSAGENT_PROFILE")).or(file.default_profile.clone());
        let profile = match &profile_name {
            Some(name) => file.profiles.get(name).cloned().ok_or_else(|| {
                let known = file.profiles.keys().cloned().collect::<Vec<_>>().join(", ");
                let place = path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "the config file".into());
                Error::Usage(format!(
                    "profile {name:?} is not in {place} (profiles: {})",
                    if known.is_empty() { "none" } else { &known }
                ))
            })?,
            None => Profile::default(),
        };
        let inferred = if env("AZURE_OPENAI_ENDPOINT").is_some() {
            Some(Provider::Azure)
        } else if env("OPENAI_API_KEY").is_some()
            || env("OPENAI_BASE_URL").is_some()
            || env("OPENAI_API_BASE").is_some()
        {
            Some(Provider::Openai)
        } else if env("OLLAMA_HOST").is_some() {
            Some(Provider::Ollama)
        } else {
            None
        };
        let env_provider = match env("OPSAGENT_PROVIDER") {
            Some(p) => Some(
                Provider::from_id(&p)
                    .ok_or_else(|| Error::Usage(format!("OPSAGENT_PROVIDER={p:?}: use openai, azure or ollama")))?,
            ),
            None => None,
        };
        let chosen = args.provider.or(env_provider).or(profile.provider).or(inferred);
        let configured = chosen.is_some() || args.model.is_some() || args.base_url.is_some();
        let provider = chosen.unwrap_or(Provider::Openai);

        let (env_base, key_env) = match provider {
            Provider::Openai => (env("OPENAI_BASE_URL").or_else(|| env("OPENAI_API_BASE")), Some("OPENAI_API_KEY")),
            Provider::Azure => (env("AZURE_OPENAI_ENDPOINT"), Some("AZURE_OPENAI_API_KEY")),
            Provider::Ollama => (env("OLLAMA_HOST"), None),
        };
        let mut base_url =
            args.base_url.clone().or(env_base).or(profile.base_url.clone()).unwrap_or_else(|| match provider {
                Provider::Openai => "https://api.openai.com/v1".into(),
                Provider::Azure => String::new(),
                Provider::Ollama => "http://localhost:11434".into(),
            });
        if provider == Provider::Ollama && !base_url.contains("://") {
            base_url = format!("http://{base_url}"); // OLLAMA_HOST=localhost:11434
        }
        let (api_key, key_source) = match (&profile.api_key_env, key_env) {
            (Some(name), _) => (env(name).map(ApiKey::new).or(profile.api_key.clone().map(ApiKey::new)), name.clone()),
            (None, Some(name)) => {
                (env(name).map(ApiKey::new).or(profile.api_key.clone().map(ApiKey::new)), name.to_string())
            }
            (None, None) => (profile.api_key.clone().map(ApiKey::new), String::new()),
        };
        let azure_deployment = env("AZURE_OPENAI_DEPLOYMENT").or(profile.azure_deployment.clone());
        let model = args
            .model
            .clone()
            .or_else(|| env("OPSAGENT_MODEL"))
            .or(profile.model.clone())
            .or_else(|| if provider == Provider::Azure { azure_deployment.clone() } else { None })
            .unwrap_or_else(|| match provider {
                Provider::Ollama => "llama3.1".into(),
                _ => "gpt-4o-mini".into(),
            });
        let instructions = house_rules(args.instructions.as_deref(), &profile)?;
        let dollars = |what: &str, value: Option<f64>| match value {
            Some(v) if !(v.is_finite() && v > 0.0) => {
                Err(Error::Usage(format!("{what} {v}: give an amount of US dollars above 0, e.g. 0.50")))
            }
            _ => Ok(value),
        };
        let caps = super::budget::Caps {
            max_tokens: args.max_tokens,
            max_cost: dollars("--max-cost", args.max_cost)?,
            max_cost_per_day: dollars("max_cost_per_day", profile.max_cost_per_day)?,
        };
        let mut headers: Vec<(String, String)> = profile.headers.into_iter().collect();
        if let Some(extra) = env("OPSAGENT_HEADERS") {
            for pair in extra.split(',').filter(|p| !p.trim().is_empty()) {
                let (k, v) = pair
                    .split_once('=')
                    .ok_or_else(|| Error::Usage(format!("OPSAGENT_HEADERS: expected name=value, got {pair:?}")))?;
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        Ok(ModelConfig {
            provider,
            model,
            base_url,
            api_key,
            key_source,
            azure_deployment,
            azure_api_version: env("AZURE_OPENAI_API_VERSION")
                .or_else(|| env("OPENAI_API_VERSION"))
                .or(profile.azure_api_version)
                .unwrap_or_else(|| "2024-10-21".into()),
            headers,
            ca_cert: args.ca_cert.clone().or_else(|| env("OPSAGENT_CA_CERT").map(PathBuf::from)).or(profile.ca_cert),
            connect_timeout: duration("connect_timeout", profile.connect_timeout.as_ref(), Duration::from_secs(10))?,
            read_timeout: duration("read_timeout", profile.read_timeout.as_ref(), Duration::from_secs(120))?,
            first_byte_timeout: duration(
                "first_byte_timeout",
                profile.first_byte_timeout.as_ref(),
                Duration::from_secs(600),
            )?,
            retries: profile.retries.unwrap_or(4),
            retry_base: duration("retry_base", profile.retry_base.as_ref(), Duration::from_secs(1))?,
            context_window: args.context_window.or(profile.context_window),
            language: args
                .language
                .clone()
                .or_else(|| env("OPSAGENT_LANGUAGE"))
                .or(profile.language)
                .unwrap_or_else(|| "English".into()),
            tool_calling: profile.tool_calling.unwrap_or(true),
            read_only: profile.read_only.unwrap_or(false),
            custom_tools: file.tools,
            prices: file.prices,
            instructions,
            deadline: None,
            profile: profile_name,
            caps,
            plugin: "",
            configured,
        })
    }

    /// The system prompt `base` with the house rules, if any, in a section of their own. The rules
    /// shape answers only: no guard reads the prompt, so they cannot allow what a guard refuses.
    pub fn system_prompt(&self, base: &str) -> String {
        match &self.instructions {
            Some(rules) => house_rules_section(base, rules),
            None => base.to_string(),
        }
    }

    /// Settles the window budgets are built on when none is configured: one a rejection taught for
    /// this endpoint and model, else (with `ask`) what a local server reports.
    pub fn learn_window(&mut self, ask: bool) {
        if self.context_window.is_some() {
            return;
        }
        let url = super::client::chat_url(self).unwrap_or_default();
        let detected = if ask { super::window::detect(self) } else { None };
        self.context_window = match (super::window::remembered(&url, &self.model), detected) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(w) = self.context_window {
            tracing::info!("the model's window: {w} tokens");
        }
    }

    /// An error saying how to configure a model, unless one is: `what` needs it ("--explain").
    pub fn require(&self, what: &str) -> Result<(), Error> {
        match self.configured {
            true => Ok(()),
            false => Err(Error::model(format!("{what} needs a model: {}", ModelConfig::how_to_configure()))),
        }
    }

    /// What to tell someone who has not configured a model.
    pub fn how_to_configure() -> &'static str {
        concat!(
            "set OPENAI_API_KEY (or AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_API_KEY, or OLLAMA_HOST), or add a profile to ~/.config/opsagent/config.toml (",
            env!("CARGO_PKG_REPOSITORY"),
            "/blob/main/docs/configuration.md)"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_never_print() {
        let key = ApiKey::new("sk-secret");
        assert_eq!(format!("{key:?}"), "****");
        let cfg = format!("{:?}", Some(key));
        assert!(!cfg.contains("sk-secret"));
    }

    #[test]
    fn config_file_errors_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[profiles.a]\nprovider = \"openai\"\nbogus = 1\n").unwrap();
        let err = FileConfig::load(Some(&path)).unwrap_err().to_string();
        assert!(err.contains("c.toml: unknown field `bogus`") && err.contains("(line 3)"), "{err}");
        let err = FileConfig::load(Some(&dir.path().join("none.toml"))).unwrap_err().to_string();
        assert!(err.ends_with("none.toml does not exist"), "{err}");
    }
}
