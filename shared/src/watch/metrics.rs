//! The metrics of runs, in the Prometheus text format (0.0.4) or OpenMetrics 1.0.0: findings of
//! the last good run by severity, rule, namespace and kind (never by object name, so their number
//! stays bounded by the cluster's namespaces), objects read per kind, runs, errors by cause, the
//! last run's duration, the last success, tokens sent to a model and notifications.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use jiff::Timestamp;

use super::alerts::{Alert, Plugin};
use crate::error::Error;
use crate::findings::Severity;

/// Which exposition format to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Prometheus' text format 0.0.4 (also node-exporter's textfile collector).
    Text,
    /// OpenMetrics 1.0.0 (`# EOF`-terminated; counters declared without `_total`).
    OpenMetrics,
}

impl Format {
    /// The format a scraper asks for in its `Accept` header: OpenMetrics when it lists it.
    pub fn negotiate(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Text,
        }
    }

    /// The response's `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// What one good run gives the metrics.
#[derive(Clone, Debug, Default)]
pub struct RunFacts {
    /// Every finding, as alerts (all severities).
    pub findings: Vec<Alert>,
    /// Objects read per kind.
    pub objects: BTreeMap<String, usize>,
    /// Some kinds could not be read.
    pub partial: bool,
    /// Tokens sent to the model (`--explain`).
    pub prompt_tokens: u64,
}

/// The metrics of a process's runs.
#[derive(Clone, Debug)]
pub struct Metrics {
    plugin: Plugin,
    successes: u64,
    failures: u64,
    errors: BTreeMap<&'static str, u64>,
    last_duration: Option<f64>,
    last_run: Option<Timestamp>,
    last_success: Option<Timestamp>,
    findings: BTreeMap<(Severity, String, String, String), u64>,
    objects: BTreeMap<String, usize>,
    partial: bool,
    prompt_tokens: u64,
    notifications: BTreeMap<(String, &'static str), u64>,
}

impl Metrics {
    /// No run yet.
    pub fn new(plugin: Plugin) -> Metrics {
        Metrics {
            plugin,
            successes: 0,
            failures: 0,
            errors: BTreeMap::new(),
            last_duration: None,
            last_run: None,
            last_success: None,
            findings: BTreeMap::new(),
            objects: BTreeMap::new(),
            partial: false,
            prompt_tokens: 0,
            notifications: BTreeMap::new(),
        }
    }

    /// A run that gave a report: its findings and objects replace the previous run's.
    pub fn succeeded(&mut self, facts: &RunFacts, seconds: f64, at: Timestamp) {
        self.successes += 1;
        self.last_duration = Some(seconds);
        self.last_run = Some(at);
        self.last_success = Some(at);
        self.findings.clear();
        for a in &facts.findings {
            let key = (a.severity, a.rule.clone(), a.namespace.clone().unwrap_or_default(), a.kind.clone());
            *self.findings.entry(key).or_default() += 1;
        }
        self.objects.clone_from(&facts.objects);
        self.partial = facts.partial;
        self.prompt_tokens += facts.prompt_tokens;
    }

    /// A run that failed: counted by cause; the previous run's findings stay.
    pub fn failed(&mut self, error: &Error, seconds: f64, at: Timestamp) {
        self.failures += 1;
        self.last_duration = Some(seconds);
        self.last_run = Some(at);
        *self.errors.entry(cause(error)).or_default() += 1;
    }

    /// One delivery to a sink, sent or failed.
    pub fn notified(&mut self, sink: &str, ok: bool) {
        *self.notifications.entry((sink.to_string(), if ok { "sent" } else { "failed" })).or_default() += 1;
    }

    /// Whether a run has succeeded yet.
    pub fn ready(&self) -> bool {
        self.last_success.is_some()
    }

    /// The exposition in `format`.
    pub fn render(&self, format: Format) -> String {
        let mut out = Exposition { out: String::new(), format };
        let plugin = ("plugin", self.plugin.as_str().to_string());
        out.family("opsagent_build_info", Kind::Gauge, "The plugin and its version (always 1).");
        out.sample("opsagent_build_info", &[plugin.clone(), ("version", env!("CARGO_PKG_VERSION").to_string())], 1.0);
        out.family("opsagent_runs", Kind::Counter, "Runs, by result (success: a report was made).");
        for (result, n) in [("success", self.successes), ("failure", self.failures)] {
            out.sample("opsagent_runs_total", &[plugin.clone(), ("result", result.into())], n as f64);
        }
        out.family("opsagent_run_errors", Kind::Counter, "Failed runs, by cause.");
        for (cause, n) in &self.errors {
            out.sample("opsagent_run_errors_total", &[plugin.clone(), ("cause", (*cause).into())], *n as f64);
        }
        out.family("opsagent_run_duration_seconds", Kind::Gauge, "How long the last run took.");
        if let Some(s) = self.last_duration {
            out.sample("opsagent_run_duration_seconds", std::slice::from_ref(&plugin), s);
        }
        for (name, help, at) in [
            ("opsagent_last_run_timestamp_seconds", "When the last run ended (Unix time).", self.last_run),
            ("opsagent_last_success_timestamp_seconds", "When the last good run ended (Unix time).", self.last_success),
        ] {
            out.family(name, Kind::Gauge, help);
            if let Some(at) = at {
                out.sample(name, std::slice::from_ref(&plugin), at.as_millisecond() as f64 / 1000.0);
            }
        }
        out.family(
            "opsagent_findings",
            Kind::Gauge,
            "Findings of the last good run, by severity, analyzer or check, namespace and kind.",
        );
        for ((severity, rule, namespace, kind), n) in &self.findings {
            let labels = [
                plugin.clone(),
                ("severity", severity.as_str().into()),
                (self.plugin.rule_label(), rule.clone()),
                ("namespace", namespace.clone()),
                ("kind", kind.clone()),
            ];
            out.sample("opsagent_findings", &labels, *n as f64);
        }
        out.family("opsagent_objects", Kind::Gauge, "Objects read by the last good run, per kind.");
        for (kind, n) in &self.objects {
            out.sample("opsagent_objects", &[plugin.clone(), ("kind", kind.clone())], *n as f64);
        }
        out.family("opsagent_partial", Kind::Gauge, "1 when the last good run could not read some kinds.");
        if self.ready() {
            out.sample("opsagent_partial", std::slice::from_ref(&plugin), f64::from(u8::from(self.partial)));
        }
        out.family("opsagent_model_prompt_tokens", Kind::Counter, "Tokens sent to the model (--explain).");
        out.sample("opsagent_model_prompt_tokens_total", std::slice::from_ref(&plugin), self.prompt_tokens as f64);
        out.family("opsagent_notifications", Kind::Counter, "Deliveries to --notify sinks, by sink and result.");
        for ((sink, result), n) in &self.notifications {
            let labels = [plugin.clone(), ("sink", sink.clone()), ("result", (*result).into())];
            out.sample("opsagent_notifications_total", &labels, *n as f64);
        }
        if format == Format::OpenMetrics {
            out.out.push_str("# EOF\n");
        }
        out.out
    }
}

/// The cause of a failed run, as the `cause` label says it.
pub fn cause(error: &Error) -> &'static str {
    match error {
        Error::Usage(_) => "usage",
        Error::Input { .. } => "input",
        Error::Write { .. } => "write",
        Error::Kubeconfig { .. } | Error::NoCluster { .. } => "kubeconfig",
        Error::Unreachable { .. } => "unreachable",
        Error::Unauthorized { .. } => "unauthorized",
        Error::Api { .. } => "api",
        Error::Model { .. } => "model",
        Error::Budget(_) => "budget",
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
}

struct Exposition {
    out: String,
    format: Format,
}

impl Exposition {
    /// `# HELP` and `# TYPE` of a family. OpenMetrics names a counter without its `_total`.
    fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let (name, kind) = match kind {
            Kind::Counter if self.format == Format::Text => (format!("{name}_total"), "counter"),
            Kind::Counter => (name.to_string(), "counter"),
            Kind::Gauge => (name.to_string(), "gauge"),
        };
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
        if self.format == Format::OpenMetrics && name.ends_with("_seconds") {
            let _ = writeln!(self.out, "# UNIT {name} seconds");
        }
    }

    fn sample(&mut self, name: &str, labels: &[(&str, String)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (label, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{label}=\"{}\"", escape(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }
}

/// A label value escaped as both formats require: backslash, double quote and line feed.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(rule: &str, ns: Option<&str>, severity: Severity) -> Alert {
        Alert {
            rule: rule.into(),
            severity,
            cluster: None,
            namespace: ns.map(str::to_string),
            kind: "Pod".into(),
            name: "web-1".into(),
            container: None,
            reason: "CrashLoopBackOff".into(),
            message: String::new(),
            hint: String::new(),
        }
    }

    #[test]
    fn findings_are_counted_without_object_names() {
        let mut m = Metrics::new(Plugin::Analyze);
        let facts = RunFacts {
            findings: vec![
                finding("Pod", Some("shop"), Severity::High),
                Alert { name: "web-2".into(), ..finding("Pod", Some("shop"), Severity::High) },
                finding("Node", None, Severity::Critical),
            ],
            objects: [("Pod".to_string(), 12)].into(),
            partial: true,
            prompt_tokens: 0,
        };
        m.succeeded(&facts, 1.5, Timestamp::from_second(1_700_000_000).unwrap());
        let text = m.render(Format::Text);
        assert!(
            text.contains(
                "opsagent_findings{plugin=\"analyze\",severity=\"high\",analyzer=\"Pod\",namespace=\"shop\",kind=\"Pod\"} 2\n"
            ),
            "{text}"
        );
        assert!(text.contains("namespace=\"\",kind=\"Pod\"} 1\n"), "cluster-scoped: empty namespace");
        assert!(!text.contains("web-1"), "no object names as labels");
        assert!(text.contains("opsagent_objects{plugin=\"analyze\",kind=\"Pod\"} 12\n"));
        assert!(text.contains("opsagent_partial{plugin=\"analyze\"} 1\n"));
        assert!(text.contains("opsagent_last_success_timestamp_seconds{plugin=\"analyze\"} 1700000000\n"));
        assert!(text.contains(
            "# TYPE opsagent_runs_total counter\nopsagent_runs_total{plugin=\"analyze\",result=\"success\"} 1\n"
        ));
        assert!(!text.contains("# EOF"));
    }

    #[test]
    fn a_failed_run_keeps_the_findings_and_counts_its_cause() {
        let mut m = Metrics::new(Plugin::Audit);
        let at = Timestamp::UNIX_EPOCH;
        m.succeeded(
            &RunFacts { findings: vec![finding("POD-001", Some("a"), Severity::High)], ..RunFacts::default() },
            1.0,
            at,
        );
        let err = Error::Unreachable { server: "https://x".into(), reason: "refused".into(), source: None };
        m.failed(&err, 0.5, at);
        m.failed(&err, 0.5, at);
        let text = m.render(Format::Text);
        assert!(text.contains("check=\"POD-001\""), "{text}");
        assert!(text.contains("opsagent_run_errors_total{plugin=\"audit\",cause=\"unreachable\"} 2\n"));
        assert!(text.contains("result=\"failure\"} 2\n"));
        assert!(m.ready());
    }

    #[test]
    fn openmetrics_names_counters_by_family_and_ends_with_eof() {
        let mut m = Metrics::new(Plugin::Analyze);
        m.notified("slack https://hooks.slack.com", false);
        let text = m.render(Format::OpenMetrics);
        assert!(text.contains("# TYPE opsagent_notifications counter\n"), "{text}");
        assert!(text.contains(
            "opsagent_notifications_total{plugin=\"analyze\",sink=\"slack https://hooks.slack.com\",result=\"failed\"} 1\n"
        ));
        assert!(text.contains("# UNIT opsagent_run_duration_seconds seconds\n"));
        assert!(text.ends_with("# EOF\n"));
        assert!(!m.ready());
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;version=1.0.0,text/plain;q=0.5")),
            Format::OpenMetrics
        );
        assert_eq!(Format::negotiate(Some("*/*")), Format::Text);
        assert_eq!(Format::negotiate(None), Format::Text);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
