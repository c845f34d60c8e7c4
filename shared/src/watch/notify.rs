//! Telling people what changed: findings pushed to Alertmanager, Slack or any webhook.
//!
//! Each sink remembers what it was last told (in memory, and in `--state-file` when given), so that
//! only changes are sent: the first run sends everything open, later runs what is new and what was
//! resolved. Alertmanager is the exception that keeps its own rule: an alert it is not told about
//! again ends by itself at its `endsAt`, so open alerts are renewed when half their time to live has
//! passed (as Prometheus does), and a resolved one is sent with `endsAt` now.
//!
//! A sink's URL may be a secret (a Slack webhook is one): given with `file:PATH` or `env:NAME` it is
//! never printed — messages name a sink by its scheme and host only.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::alerts::{Alert, Plugin};
use crate::error::Error;
use crate::findings::REPORT_API_VERSION;

/// Where findings go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SinkKind {
    /// Alertmanager's v2 API (`alertmanager+http(s)://host:port`).
    Alertmanager,
    /// A Slack incoming webhook (`slack+https://hooks.slack.com/…`).
    Slack,
    /// Any HTTP endpoint, sent the JSON of what changed (`https://…`).
    Webhook,
}

impl SinkKind {
    /// `alertmanager`, `slack` or `webhook`.
    pub fn as_str(self) -> &'static str {
        match self {
            SinkKind::Alertmanager => "alertmanager",
            SinkKind::Slack => "slack",
            SinkKind::Webhook => "webhook",
        }
    }
}

/// One `--notify` destination.
#[derive(Clone)]
pub struct Sink {
    kind: SinkKind,
    /// The URL requests go to (may hold a secret: never printed).
    endpoint: String,
    /// `Authorization: Basic …` from the URL's user information.
    authorization: Option<String>,
    /// The scheme and host, for messages.
    name: String,
    /// What the state file knows it by: a digest of the URL.
    id: String,
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sink").field("kind", &self.kind).field("name", &self.name).finish_non_exhaustive()
    }
}

const SCHEMES: &str =
    "alertmanager+http(s)://HOST:PORT, slack+https://… or http(s)://… (a webhook), or file:PATH / env:NAME holding one";

impl Sink {
    /// Parses a `--notify` value: a URL, or `file:PATH` / `env:NAME` holding one. `env` looks up a
    /// variable (the process environment, or a test's).
    pub fn parse(spec: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Sink, Error> {
        let bad = |what: String| Error::Usage(format!("--notify {what}"));
        let (url, given_as, secret) = if let Some(path) = spec.strip_prefix("file:") {
            let text = std::fs::read_to_string(path).map_err(|e| Error::Input {
                name: path.to_string(),
                message: "cannot read the --notify URL from it".into(),
                source: Some(e),
            })?;
            let url = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("").to_string();
            (url, spec.to_string(), true)
        } else if let Some(name) = spec.strip_prefix("env:") {
            let url = env(name).map(|v| v.trim().to_string()).unwrap_or_default();
            if url.is_empty() {
                return Err(bad(format!("{spec}: the variable {name} is not set or empty")));
            }
            (url, spec.to_string(), true)
        } else {
            (spec.to_string(), String::new(), false)
        };
        // What the person gave, for messages: never a URL read from a file or the environment.
        let shown = if secret { given_as.clone() } else { url.clone() };
        let (kind, rest) = if let Some(rest) = url.strip_prefix("alertmanager+") {
            (SinkKind::Alertmanager, rest)
        } else if let Some(rest) = url.strip_prefix("slack+") {
            (SinkKind::Slack, rest)
        } else {
            (SinkKind::Webhook, url.as_str())
        };
        let uri: http::Uri = rest.parse().map_err(|_| bad(format!("{shown}: not a URL; give {SCHEMES}")))?;
        let scheme = uri.scheme_str().unwrap_or("");
        if !matches!(scheme, "http" | "https") {
            let scheme = url.split_once("://").map_or("(none)", |(s, _)| s);
            return Err(bad(format!("{shown}: unknown scheme {scheme:?}; give {SCHEMES}")));
        }
        let Some(authority) = uri.authority() else {
            return Err(bad(format!("{shown}: no host; give {SCHEMES}")));
        };
        let loopback = matches!(authority.host(), "localhost" | "127.0.0.1" | "[::1]");
        if kind == SinkKind::Slack && scheme != "https" && !loopback {
            return Err(bad(format!("{shown}: Slack webhooks are https only (http only to a loopback address)")));
        }
        if kind == SinkKind::Alertmanager && uri.query().is_some() {
            return Err(bad(format!("{shown}: an Alertmanager URL takes no query")));
        }
        let port = authority.port_u16().map(|p| format!(":{p}")).unwrap_or_default();
        let origin = format!("{scheme}://{}{port}", authority.host());
        let userinfo = authority.as_str().rsplit_once('@').map(|(u, _)| u.to_string());
        let carries_secret = kind == SinkKind::Slack || userinfo.is_some() || uri.query().is_some();
        if carries_secret && !secret {
            return Err(bad(format!(
                "{} {origin}: this URL carries a secret ({}): give it from a file (--notify file:PATH) or the environment (--notify env:NAME), never on the command line",
                kind.as_str(),
                if kind == SinkKind::Slack { "a Slack webhook's path is its key" } else { "credentials or a query" },
            )));
        }
        let authorization = userinfo.map(|u| {
            use base64::Engine as _;
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(percent_decode(&u)))
        });
        let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("");
        let endpoint = match kind {
            SinkKind::Alertmanager => format!("{origin}{}/api/v2/alerts", uri.path().trim_end_matches('/')),
            _ => format!("{origin}{}", if path.is_empty() { "/" } else { path }),
        };
        let digest = ring::digest::digest(&ring::digest::SHA256, url.as_bytes());
        Ok(Sink {
            kind,
            endpoint,
            authorization,
            name: format!("{} {origin}", kind.as_str()),
            id: crate::hex::hex(&digest.as_ref()[..8]),
        })
    }

    /// What the sink is, for messages and metrics: its kind, scheme and host (`slack
    /// https://hooks.slack.com`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Alertmanager, Slack or a webhook.
    pub fn kind(&self) -> SinkKind {
        self.kind
    }
}

/// `%XX` sequences of a URL's user information decoded (a password may hold `@` or `:`).
fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) =
                (bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// How deliveries are retried: `attempts` in all, waiting `first_delay`, then twice as long each
/// time.
#[derive(Clone, Copy, Debug)]
pub struct Retry {
    /// Tries in all (at least one).
    pub attempts: u32,
    /// The wait before the second try.
    pub first_delay: Duration,
    /// The longest one request may take.
    pub timeout: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry { attempts: 4, first_delay: Duration::from_secs(1), timeout: Duration::from_secs(15) }
    }
}

/// What notifications need besides the sinks.
#[derive(Clone, Debug)]
pub struct NotifyOptions {
    /// The destinations.
    pub sinks: Vec<Sink>,
    /// Where what each sink was told is kept between runs (a CronJob's volume); in memory only when
    /// absent.
    pub state_file: Option<PathBuf>,
    /// How long an alert stays firing in Alertmanager without being renewed.
    pub alert_ttl: Duration,
    /// Retries of each delivery.
    pub retry: Retry,
    /// The plugin whose findings are sent.
    pub plugin: Plugin,
    /// Findings below this severity are not sent.
    pub min_severity: crate::findings::Severity,
}

/// What one sink was told.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Told {
    /// The sink's kind and host, for a person reading the file.
    sink: String,
    /// The alerts it knows to be open, by key.
    open: BTreeMap<String, Sent>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Sent {
    alert: Alert,
    /// When the finding was first seen.
    starts_at: Timestamp,
    /// When the sink was last told about it.
    sent_at: Timestamp,
}

/// The `--state-file`: what each sink was last told, so that a CronJob sends only changes.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StateFile {
    api_version: String,
    kind: String,
    plugin: Option<Plugin>,
    /// By sink id (a digest of its URL).
    sinks: BTreeMap<String, Told>,
}

const STATE_KIND: &str = "NotificationState";

/// What changed for one sink.
#[derive(Debug, Default)]
struct Changes<'a> {
    new: Vec<&'a Alert>,
    still_open: Vec<&'a Alert>,
    resolved: Vec<Sent>,
}

/// What a delivery did: per sink, how many new and resolved findings it was told, and the sinks
/// that failed (after their retries), each with one line.
#[derive(Debug, Default)]
pub struct Delivery {
    /// `(sink, new, resolved)` of the sinks that were told something.
    pub sent: Vec<(String, usize, usize)>,
    /// `(sink, why)` of the sinks that could not be told: they are told again next run.
    pub failed: Vec<(String, String)>,
}

/// The sinks and what each was told.
pub struct Notifier {
    options: NotifyOptions,
    state: StateFile,
    agent: ureq::Agent,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier").field("sinks", &self.options.sinks).finish_non_exhaustive()
    }
}

impl Notifier {
    /// The sinks of `options`, with what they were told as the state file says (nothing when it
    /// does not exist yet).
    pub fn new(options: NotifyOptions) -> Result<Notifier, Error> {
        let state = match &options.state_file {
            Some(path) => read_state(path, options.plugin)?,
            None => StateFile::default(),
        };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(options.retry.timeout))
            .proxy(ureq::Proxy::try_from_env())
            .user_agent(format!("opsagent/{}", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(Notifier { options, state, agent })
    }

    /// Tells every sink what changed since it was last told, given every finding open now. A sink
    /// that fails keeps what it was told before, so the next run tells it again; the state file is
    /// written once all were tried.
    pub fn deliver(&mut self, alerts: &[Alert], now: Timestamp) -> Delivery {
        let mut delivery = Delivery::default();
        let Notifier { options, state, agent } = self;
        let current: BTreeMap<String, &Alert> =
            alerts.iter().filter(|a| a.severity >= options.min_severity).map(|a| (a.key(), a)).collect();
        let post = |sink: &Sink, body: &Value| post(agent, options.retry, sink, body);
        let renew = options.alert_ttl / 2;
        let ttl = jiff::SignedDuration::try_from(options.alert_ttl).unwrap_or(jiff::SignedDuration::MAX);
        let ends = now.checked_add(ttl).unwrap_or(Timestamp::MAX);
        for sink in &options.sinks {
            let told = state.sinks.entry(sink.id.clone()).or_default();
            told.sink = sink.name.clone();
            let changes = changes(told, &current);
            let result = match sink.kind {
                SinkKind::Alertmanager => {
                    let due = |a: &&Alert| {
                        told.open.get(&a.key()).is_none_or(|s| {
                            now.duration_since(s.sent_at).unsigned_abs() >= renew
                                || s.alert.message != a.message
                                || s.alert.hint != a.hint
                        })
                    };
                    let renewed: Vec<&Alert> = changes.still_open.iter().copied().filter(due).collect();
                    let mut batch = Vec::new();
                    for a in changes.new.iter().chain(&renewed) {
                        let starts = told.open.get(&a.key()).map_or(now, |s| s.starts_at);
                        batch.push(alertmanager_alert(a, options.plugin, starts, ends));
                    }
                    for r in &changes.resolved {
                        batch.push(alertmanager_alert(&r.alert, options.plugin, r.starts_at, now));
                    }
                    let sent = batch.chunks(500).try_for_each(|chunk| post(sink, &Value::Array(chunk.to_vec())));
                    sent.map(|()| renewed)
                }
                SinkKind::Slack | SinkKind::Webhook if changes.new.is_empty() && changes.resolved.is_empty() => {
                    Ok(Vec::new())
                }
                SinkKind::Slack => post(sink, &slack_message(&changes, options.plugin)).map(|()| Vec::new()),
                SinkKind::Webhook => post(sink, &webhook_body(&changes, options.plugin, now)).map(|()| Vec::new()),
            };
            match result {
                Ok(renewed) => {
                    if !changes.new.is_empty() || !changes.resolved.is_empty() {
                        delivery.sent.push((sink.name.clone(), changes.new.len(), changes.resolved.len()));
                    }
                    for r in &changes.resolved {
                        told.open.remove(&r.alert.key());
                    }
                    for a in changes.new.iter().chain(&renewed) {
                        let starts_at = told.open.get(&a.key()).map_or(now, |s| s.starts_at);
                        told.open.insert(a.key(), Sent { alert: (*a).clone(), starts_at, sent_at: now });
                    }
                }
                Err(why) => delivery.failed.push((sink.name.clone(), why)),
            }
        }
        let ids: Vec<&str> = options.sinks.iter().map(|s| s.id.as_str()).collect();
        state.sinks.retain(|id, _| ids.contains(&id.as_str()));
        if let Some(path) = &options.state_file
            && let Err(e) = write_state(path, state, options.plugin)
        {
            delivery.failed.push(("--state-file".into(), crate::error::one_line(&e)));
        }
        delivery
    }
}

/// Posts one JSON body, retried with backoff on failures that may pass (connection, timeout, 408,
/// 429, 5xx); one line of why when it cannot be delivered.
fn post(agent: &ureq::Agent, retry: Retry, sink: &Sink, body: &Value) -> Result<(), String> {
    let body = body.to_string();
    let mut delay = retry.first_delay;
    let mut attempt = 1;
    loop {
        let mut request = agent.post(&sink.endpoint).header("Content-Type", "application/json");
        if let Some(auth) = &sink.authorization {
            request = request.header("Authorization", auth);
        }
        let (why, again) = match request.send(body.as_bytes()) {
            Ok(response) if response.status().is_success() => return Ok(()),
            Ok(mut response) => {
                let status = response.status();
                let text = response.body_mut().read_to_string().unwrap_or_default();
                let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(200).collect();
                let again = status.is_server_error() || matches!(status.as_u16(), 408 | 429);
                (format!("{status}{}", if text.is_empty() { String::new() } else { format!(": {text}") }), again)
            }
            Err(e) => (transport(&e), true),
        };
        if !again || attempt >= retry.attempts.max(1) {
            let tries = if attempt > 1 { format!(" (after {attempt} tries)") } else { String::new() };
            return Err(format!("{why}{tries}"));
        }
        tracing::info!("{}: {why}; trying again in {delay:?}", sink.name);
        std::thread::sleep(delay);
        delay = delay.saturating_mul(2);
        attempt += 1;
    }
}

/// Why a request could not be made, without the URL (it may hold a secret).
fn transport(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => "timed out".into(),
        ureq::Error::HostNotFound => "host not found".into(),
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
        ureq::Error::Io(io) => format!("{}", io.kind()).to_lowercase(),
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => "TLS failed (is the certificate trusted?)".into(),
        _ => "the request failed".into(),
    }
}

/// What changed for a sink that was told `told`, given what is open now.
fn changes<'a>(told: &Told, current: &BTreeMap<String, &'a Alert>) -> Changes<'a> {
    let mut c = Changes::default();
    for (key, alert) in current {
        match told.open.contains_key(key) {
            true => c.still_open.push(alert),
            false => c.new.push(alert),
        }
    }
    c.resolved = told.open.iter().filter(|(k, _)| !current.contains_key(*k)).map(|(_, s)| s.clone()).collect();
    c
}

/// One alert of Alertmanager's v2 API.
fn alertmanager_alert(a: &Alert, plugin: Plugin, starts: Timestamp, ends: Timestamp) -> Value {
    let mut labels = serde_json::Map::new();
    labels.insert("alertname".into(), json!(a.rule));
    labels.insert("source".into(), json!(format!("opsagent-{}", plugin.as_str())));
    labels.insert("severity".into(), json!(a.severity.as_str()));
    labels.insert("kind".into(), json!(a.kind));
    labels.insert("name".into(), json!(a.name));
    labels.insert("reason".into(), json!(a.reason));
    for (label, value) in [("namespace", &a.namespace), ("cluster", &a.cluster), ("container", &a.container)] {
        if let Some(v) = value {
            labels.insert(label.into(), json!(v));
        }
    }
    json!({
        "labels": labels,
        "annotations": {"summary": format!("{}: {}", a.object(), a.reason), "message": a.message, "hint": a.hint},
        "startsAt": starts.to_string(),
        "endsAt": ends.to_string(),
    })
}

/// The most findings a Slack message lists (each section); the rest is a count.
const SLACK_LINES: usize = 20;

/// A compact Slack message of what is new and what was resolved.
fn slack_message(c: &Changes<'_>, plugin: Plugin) -> Value {
    let mut text = format!("*kubectl ai {}*: {} new, {} resolved", plugin.as_str(), c.new.len(), c.resolved.len());
    let mut cluster =
        c.new.iter().copied().chain(c.resolved.iter().map(|r| &r.alert)).filter_map(|a| a.cluster.as_deref());
    if let Some(name) = cluster.next() {
        text.push_str(&format!(" on `{}`", slack_escape(name)));
    }
    let mut section = |title: &str, alerts: Vec<&Alert>| {
        if alerts.is_empty() {
            return;
        }
        text.push_str(&format!("\n*{title}*"));
        for a in alerts.iter().take(SLACK_LINES) {
            text.push_str(&format!(
                "\n• `{}` {} {}: {}",
                a.severity.as_str().to_uppercase(),
                slack_escape(&a.object()),
                slack_escape(&a.reason),
                slack_escape(&a.message)
            ));
        }
        if alerts.len() > SLACK_LINES {
            text.push_str(&format!("\n… and {} more", alerts.len() - SLACK_LINES));
        }
    };
    section("New", c.new.clone());
    section("Resolved", c.resolved.iter().map(|r| &r.alert).collect());
    json!({ "text": text })
}

/// Slack's three control characters escaped, so that cluster text cannot mention `@channel` or
/// forge links.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The JSON a webhook is sent: what is new, what was resolved, what is still open.
fn webhook_body(c: &Changes<'_>, plugin: Plugin, now: Timestamp) -> Value {
    json!({
        "apiVersion": REPORT_API_VERSION,
        "kind": "FindingChanges",
        "plugin": plugin.as_str(),
        "generatedAt": now.to_string(),
        "new": c.new,
        "resolved": c.resolved.iter().map(|r| &r.alert).collect::<Vec<_>>(),
        "open": c.still_open,
    })
}

fn read_state(path: &Path, plugin: Plugin) -> Result<StateFile, Error> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(StateFile::default()),
        Err(e) => {
            return Err(Error::Input {
                name: path.display().to_string(),
                message: "cannot read the state file".into(),
                source: Some(e),
            });
        }
    };
    let state: StateFile = serde_json::from_str(&text).map_err(|e| {
        Error::input(path.display(), format!("not a state file of kubectl ai ({e}); remove it to start afresh"))
    })?;
    if state.kind != STATE_KIND {
        return Err(Error::input(path.display(), format!("not a state file of kubectl ai (kind {:?})", state.kind)));
    }
    if let Some(other) = state.plugin.filter(|p| *p != plugin) {
        return Err(Error::input(
            path.display(),
            format!("is the state of `kubectl ai {}`: give {} its own file", other.as_str(), plugin.as_str()),
        ));
    }
    Ok(state)
}

fn write_state(path: &Path, state: &mut StateFile, plugin: Plugin) -> Result<(), Error> {
    state.api_version = REPORT_API_VERSION.to_string();
    state.kind = STATE_KIND.to_string();
    state.plugin = Some(plugin);
    crate::files::write_atomic(path, |w| serde_json::to_writer(w, &*state).map_err(std::io::Error::other))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::Severity;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn parse(spec: &str) -> Result<Sink, String> {
        Sink::parse(spec, &no_env).map_err(|e| e.to_string())
    }

    #[test]
    fn sinks_by_scheme() {
        let am = parse("alertmanager+http://am.monitoring:9093").unwrap();
        assert_eq!(
            (am.kind, am.endpoint.as_str(), am.name()),
            (
                SinkKind::Alertmanager,
                "http://am.monitoring:9093/api/v2/alerts",
                "alertmanager http://am.monitoring:9093"
            )
        );
        let prefixed = parse("alertmanager+https://am.example.com/alertmanager/").unwrap();
        assert_eq!(prefixed.endpoint, "https://am.example.com/alertmanager/api/v2/alerts");
        let hook = parse("https://hooks.example.com/opsagent").unwrap();
        assert_eq!((hook.kind, hook.endpoint.as_str()), (SinkKind::Webhook, "https://hooks.example.com/opsagent"));
        assert_eq!(parse("http://receiver:8080").unwrap().endpoint, "http://receiver:8080/");
    }

    #[test]
    fn bad_sinks_say_what_is_accepted_in_one_line() {
        for (spec, says) in [
            ("smtp://mail:25", "unknown scheme \"smtp\""),
            ("alertmanager+ftp://am:9093", "unknown scheme \"alertmanager+ftp\""),
            ("am.monitoring:9093", "unknown scheme"),
            ("slack+http://hooks.slack.com/services/T/B/x", "https only"),
            ("slack+http://127.0.0.2:8080/x", "https only"),
            ("http://", "not a URL"),
            ("alertmanager+http://am:9093?x=1", "takes no query"),
        ] {
            let err = parse(spec).unwrap_err();
            assert!(err.contains(says) && !err.contains('\n'), "{spec}: {err}");
        }
    }

    #[test]
    fn secrets_come_from_files_or_the_environment_and_are_never_shown() {
        let secret = "https://hooks.slack.com/services/T000/B000/XXXXSECRET";
        for spec in
            [&format!("slack+{secret}"), "https://user:pw@hooks.example.com/x", "https://h.example.com/x?token=s"]
        {
            let err = parse(spec).unwrap_err();
            assert!(err.contains("carries a secret") && err.contains("env:NAME"), "{err}");
            assert!(!err.contains("XXXXSECRET") && !err.contains("pw") && !err.contains("token=s"), "{err}");
        }
        let env = |name: &str| (name == "SLACK_URL").then(|| format!("slack+{secret}\n"));
        let sink = Sink::parse("env:SLACK_URL", &env).unwrap();
        assert_eq!(
            (sink.kind, sink.endpoint.as_str(), sink.name()),
            (SinkKind::Slack, secret, "slack https://hooks.slack.com")
        );
        assert!(!format!("{sink:?}").contains("SECRET"));
        let local = |_: &str| Some("slack+http://127.0.0.1:8080/hook".to_string());
        assert_eq!(
            Sink::parse("env:X", &local).unwrap().endpoint,
            "http://127.0.0.1:8080/hook",
            "a stand-in on loopback"
        );
        let err = Sink::parse("env:MISSING", &env).unwrap_err().to_string();
        assert!(err.contains("MISSING is not set"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("url");
        std::fs::write(&file, "\n  slack+https://hooks.slack.com/services/T/B/SECRETFILE\n").unwrap();
        let err = parse(&format!("file:{}", dir.path().join("nope").display())).unwrap_err();
        assert!(err.contains("cannot read"), "{err}");
        std::fs::write(&file, "slack+http://hooks.slack.com/services/T/B/SECRETFILE").unwrap();
        let err = parse(&format!("file:{}", file.display())).unwrap_err();
        assert!(err.contains("https only") && !err.contains("SECRETFILE") && err.contains("file:"), "{err}");
    }

    #[test]
    fn credentials_in_a_url_become_basic_authorization() {
        let env = |_: &str| Some("alertmanager+https://ops%40corp:p%3Ass@am.example.com".to_string());
        let sink = Sink::parse("env:AM", &env).unwrap();
        assert_eq!(sink.endpoint, "https://am.example.com/api/v2/alerts");
        // base64("ops@corp:p:ss")
        assert_eq!(sink.authorization.as_deref(), Some("Basic b3BzQGNvcnA6cDpzcw=="));
        assert_eq!(sink.name(), "alertmanager https://am.example.com");
    }

    fn alert(name: &str) -> Alert {
        Alert {
            rule: "Pod".into(),
            severity: Severity::High,
            cluster: Some("prod".into()),
            namespace: Some("shop".into()),
            kind: "Pod".into(),
            name: name.into(),
            container: None,
            reason: "CrashLoopBackOff".into(),
            message: "back-off <@U123> restarting".into(),
            hint: "kubectl logs".into(),
        }
    }

    #[test]
    fn changes_are_new_still_open_and_resolved() {
        let (a, b, c) = (alert("a"), alert("b"), alert("c"));
        let mut told = Told::default();
        let at = Timestamp::UNIX_EPOCH;
        for x in [&a, &b] {
            told.open.insert(x.key(), Sent { alert: x.clone(), starts_at: at, sent_at: at });
        }
        let current: BTreeMap<String, &Alert> = [&b, &c].into_iter().map(|x| (x.key(), x)).collect();
        let ch = changes(&told, &current);
        assert_eq!(ch.new, vec![&c]);
        assert_eq!(ch.still_open, vec![&b]);
        assert_eq!(ch.resolved.iter().map(|r| r.alert.name.as_str()).collect::<Vec<_>>(), ["a"]);
    }

    #[test]
    fn slack_messages_are_bounded_and_escaped() {
        let alerts: Vec<Alert> = (0..25).map(|i| alert(&format!("p{i}"))).collect();
        let c = Changes { new: alerts.iter().collect(), ..Changes::default() };
        let text = slack_message(&c, Plugin::Analyze)["text"].as_str().unwrap().to_string();
        assert!(text.starts_with("*kubectl ai analyze*: 25 new, 0 resolved on `prod`"), "{text}");
        assert_eq!(text.matches("\n• ").count(), SLACK_LINES);
        assert!(text.ends_with("… and 5 more"), "{text}");
        assert!(text.contains("&lt;@U123&gt;") && !text.contains("<@U123>"), "{text}");
    }

    #[test]
    fn alertmanager_alerts_carry_the_labels_routes_use() {
        let a = Alert { container: Some("app".into()), ..alert("web") };
        let at = Timestamp::UNIX_EPOCH;
        let v = alertmanager_alert(&a, Plugin::Audit, at, at);
        assert_eq!(
            v["labels"],
            json!({"alertname": "Pod", "source": "opsagent-audit", "severity": "high", "kind": "Pod", "name": "web",
                   "reason": "CrashLoopBackOff", "namespace": "shop", "cluster": "prod", "container": "app"})
        );
        assert_eq!(v["annotations"]["hint"], "kubectl logs");
        assert_eq!(v["endsAt"], "1970-01-01T00:00:00Z");
    }

    #[test]
    fn state_files_belong_to_one_plugin_and_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        assert!(read_state(&path, Plugin::Audit).unwrap().sinks.is_empty(), "a missing file is a first run");
        write_state(&path, &mut StateFile::default(), Plugin::Analyze).unwrap();
        let err = read_state(&path, Plugin::Audit).unwrap_err().to_string();
        assert!(err.contains("is the state of `kubectl ai analyze`"), "{err}");
        read_state(&path, Plugin::Analyze).unwrap();
        std::fs::write(&path, "{\"kind\": \"ConfigMap\"}").unwrap();
        assert!(read_state(&path, Plugin::Analyze).unwrap_err().to_string().contains("not a state file"));
        std::fs::write(&path, "garbage").unwrap();
        assert!(read_state(&path, Plugin::Analyze).unwrap_err().to_string().contains("remove it to start afresh"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            write_state(&path, &mut StateFile::default(), Plugin::Analyze).unwrap();
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }

    /// A receiver on loopback that answers 200 (or the scripted statuses) and keeps each body.
    fn receiver(statuses: Vec<u16>) -> (String, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
        use std::io::{BufRead as _, Read as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = bodies.clone();
        std::thread::spawn(move || {
            let mut statuses = statuses.into_iter();
            for mut stream in listener.incoming().flatten() {
                let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if line.trim().is_empty() {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                kept.lock().unwrap().push(serde_json::from_slice(&body).unwrap());
                let status = statuses.next().unwrap_or(200);
                let _ = write!(stream, "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            }
        });
        (url, bodies)
    }

    fn notifier(spec: &str, ttl: Duration) -> Notifier {
        Notifier::new(NotifyOptions {
            sinks: vec![parse(spec).unwrap()],
            state_file: None,
            alert_ttl: ttl,
            retry: Retry { attempts: 2, first_delay: Duration::from_millis(1), timeout: Duration::from_secs(5) },
            plugin: Plugin::Analyze,
            min_severity: Severity::Medium,
        })
        .unwrap()
    }

    #[test]
    fn alertmanager_alerts_are_renewed_at_half_their_time_to_live_and_ended_when_resolved() {
        let (url, bodies) = receiver(Vec::new());
        let hour = Duration::from_secs(3600);
        let mut n = notifier(&format!("alertmanager+{url}"), hour);
        let t0 = Timestamp::from_second(1_800_000_000).unwrap();
        let at = |secs: i64| t0.checked_add(jiff::SignedDuration::from_secs(secs)).unwrap();
        let (a, b) = (alert("a"), alert("b"));
        let low = Alert { severity: Severity::Low, ..alert("quiet") };

        let d = n.deliver(&[a.clone(), low.clone()], t0);
        assert_eq!((d.sent.len(), d.failed.len()), (1, 0));
        n.deliver(std::slice::from_ref(&a), at(600));
        n.deliver(&[a.clone(), b.clone()], at(1800));
        n.deliver(std::slice::from_ref(&b), at(1900));
        let bodies = bodies.lock().unwrap().clone();
        let sent: Vec<Vec<(String, String, String)>> = bodies
            .iter()
            .map(|body| {
                body.as_array()
                    .unwrap()
                    .iter()
                    .map(|x| {
                        let s = |k: &str| x[k].as_str().unwrap().to_string();
                        (x["labels"]["name"].as_str().unwrap().to_string(), s("startsAt"), s("endsAt"))
                    })
                    .collect()
            })
            .collect();
        let ts = |secs: i64| at(secs).to_string();
        assert_eq!(
            sent,
            vec![
                // The first run: `a` (the low one is below --notify-severity), firing for an hour.
                vec![("a".into(), ts(0), ts(3600))],
                // At 10 minutes nothing changed and nothing is due: nothing sent. At 30 minutes `b` is
                // new and `a` is renewed, keeping its start.
                vec![("b".into(), ts(1800), ts(5400)), ("a".into(), ts(0), ts(5400))],
                // `a` resolved: ended now.
                vec![("a".into(), ts(0), ts(1900))],
            ]
        );
    }

    #[test]
    fn a_failed_delivery_is_tried_again_next_time() {
        let (url, bodies) = receiver(vec![500, 500]);
        let mut n = notifier(&url, Duration::from_secs(3600));
        let d = n.deliver(&[alert("a")], Timestamp::UNIX_EPOCH);
        assert_eq!(d.failed.len(), 1, "{d:?}");
        assert!(
            d.failed[0].1.starts_with("500 Internal Server Error") && d.failed[0].1.ends_with("(after 2 tries)"),
            "{d:?}"
        );
        let d = n.deliver(&[alert("a")], Timestamp::UNIX_EPOCH);
        assert_eq!((d.sent.len(), d.failed.len()), (1, 0), "{d:?}");
        let bodies = bodies.lock().unwrap();
        assert_eq!(bodies.len(), 3);
        assert_eq!(bodies[2]["new"][0]["name"], "a", "told as new: the failed run told it nothing");
        let d = n.deliver(&[alert("a")], Timestamp::UNIX_EPOCH);
        assert!(d.sent.is_empty() && d.failed.is_empty());
    }
}
