//! `--watch`, `--notify`, `--state-file` and `--metrics-file` of analyze and audit: the flags made
//! into the library's options, and what a person reads on stderr as runs go by.

use std::io::Write as _;
use std::time::{Duration, Instant};

use super::args::WatchArgs;
use crate::error::{Error, Exit};
use crate::findings::Severity;
use crate::watch::alerts::Plugin;
use crate::watch::metrics::RunFacts;
use crate::watch::notify::{Delivery, NotifyOptions, Retry, Sink};
use crate::watch::{self, Event, MIN_INTERVAL, RunOutput, WatchOptions};

/// How long an Alertmanager alert of a one-shot run fires unless the next run renews it.
const ONE_SHOT_TTL: Duration = Duration::from_secs(2 * 3600);

/// What the flags ask for, checked before anything is read.
pub(crate) struct Plan {
    plugin: Plugin,
    interval: Option<Duration>,
    runs: Option<u64>,
    metrics_addr: Option<String>,
    metrics_file: Option<std::path::PathBuf>,
    notify: Option<NotifyOptions>,
    /// The `cluster` label given with `--cluster-name`.
    pub(crate) cluster: Option<String>,
}

impl Plan {
    /// The flags checked: the interval, the sinks (parsed now, so a bad URL stops the run before it
    /// reads the cluster), the time alerts live.
    pub(crate) fn new(args: &WatchArgs, plugin: Plugin) -> Result<Plan, Error> {
        if let Some(interval) = args.watch
            && interval < MIN_INTERVAL
            && !args.force
        {
            return Err(Error::Usage(format!(
                "--watch {}: every run reads the whole cluster, so the interval is at least {}s; add --force to run that often",
                crate::duration::display(interval),
                MIN_INTERVAL.as_secs()
            )));
        }
        let ttl = match (args.alert_ttl, args.watch) {
            (Some(ttl), Some(interval)) if ttl <= interval => {
                return Err(Error::Usage(format!(
                    "--alert-ttl {} is not longer than --watch {}: alerts would end between runs",
                    crate::duration::display(ttl),
                    crate::duration::display(interval)
                )));
            }
            (Some(ttl), _) => ttl,
            (None, Some(interval)) => (interval * 4).max(Duration::from_secs(300)),
            (None, None) => ONE_SHOT_TTL,
        };
        let env = |name: &str| std::env::var(name).ok();
        let sinks = args.notify.iter().map(|spec| Sink::parse(spec, &env)).collect::<Result<Vec<_>, _>>()?;
        let notify = (!sinks.is_empty()).then(|| NotifyOptions {
            sinks,
            state_file: args.state_file.clone(),
            alert_ttl: ttl,
            retry: Retry::default(),
            plugin,
            min_severity: args.notify_severity.unwrap_or(match plugin {
                Plugin::Analyze => Severity::Info,
                Plugin::Audit => Severity::High,
            }),
        });
        if notify.as_ref().is_some_and(|n| n.state_file.is_none()) && args.watch.is_none() {
            super::warn(
                "--notify without --state-file: every run sends every open finding as new (give --state-file FILE to send only changes)",
            );
        }
        Ok(Plan {
            plugin,
            interval: args.watch,
            runs: args.watch_runs,
            metrics_addr: args.metrics_addr.clone(),
            metrics_file: args.metrics_file.clone(),
            notify,
            cluster: args.cluster_name.clone(),
        })
    }

    /// Whether `--watch` was given.
    pub(crate) fn watching(&self) -> bool {
        self.interval.is_some()
    }

    /// What a watch cannot do, checked before its first run: read stdin again each run (`stdin`:
    /// the input is stdin), or honour the flags that are for one run (`one_run`: their names, given).
    pub(crate) fn rerunnable(&self, stdin: bool, one_run: &[(&str, bool)]) -> Result<(), Error> {
        let given: Vec<&str> = one_run.iter().filter(|(_, on)| *on).map(|(name, _)| *name).collect();
        if let Some(flag) = given.first() {
            return Err(Error::Usage(format!("--watch serves its reports: {flag} is for one run")));
        }
        if stdin {
            return Err(Error::Usage("--watch reads its input again each run: stdin cannot be read twice".into()));
        }
        Ok(())
    }

    /// Whether a one-shot run has anything to do after its report.
    pub(crate) fn after_run(&self) -> bool {
        self.notify.is_some() || self.metrics_file.is_some()
    }

    /// Runs `run` on the interval until a signal: one line per run on stderr.
    pub(crate) fn watch(self, run: impl FnMut() -> Result<RunOutput, Error>) -> anyhow::Result<Exit> {
        let options = WatchOptions {
            plugin: self.plugin,
            interval: self.interval.unwrap_or(MIN_INTERVAL),
            runs: self.runs,
            metrics_addr: self.metrics_addr,
            notify: self.notify,
        };
        watch::watch(options, run, &mut |event| match event {
            Event::Listening(addr) => say(format!("serving /metrics, /healthz, /readyz and /report on http://{addr}")),
            Event::Run { number, seconds, outcome: Ok(facts), delivery } => {
                let took = match seconds {
                    s if s < 1.0 => format!("{:.0}ms", s * 1000.0),
                    s => format!("{s:.1}s"),
                };
                let mut line = format!("run {number}: {} in {took}", findings(facts.findings.len()));
                if facts.partial {
                    line.push_str(" (partial: some kinds could not be read)");
                }
                told(&mut line, delivery);
                say(line);
                delivery.iter().for_each(|d| undelivered(d, "it is told again next run"));
            }
            Event::Run { number, outcome: Err(e), .. } => {
                super::warn(format!("run {number} failed: {}; the last report is kept", crate::error::one_line(e)));
            }
            Event::Stopped => say("stopped by a signal".into()),
        })?;
        Ok(Exit::Clean)
    }

    /// After a one-shot run: its metrics file and notifications. `Some(NotNotified)` when a sink
    /// could not be told.
    pub(crate) fn finish(self, facts: &RunFacts, started: Instant) -> anyhow::Result<Option<Exit>> {
        if let Some(path) = &self.metrics_file {
            watch::write_metrics_file(path, self.plugin, facts, started.elapsed().as_secs_f64())?;
        }
        let Some(notify) = self.notify else { return Ok(None) };
        let delivery = watch::notify_once(notify, facts)?;
        let mut line = String::new();
        told(&mut line, Some(&delivery));
        if let Some(line) = line.strip_prefix("; ") {
            say(line.to_string());
        }
        undelivered(&delivery, "the state file keeps it for the next run");
        Ok((!delivery.failed.is_empty()).then_some(Exit::NotNotified))
    }
}

fn findings(n: usize) -> String {
    match n {
        1 => "1 finding".into(),
        n => format!("{n} findings"),
    }
}

/// `; told alertmanager http://…: 2 new, 1 resolved` for each sink told something.
fn told(line: &mut String, delivery: Option<&Delivery>) {
    for (sink, new, resolved) in delivery.map(|d| d.sent.as_slice()).unwrap_or_default() {
        line.push_str(&format!("; told {sink}: {new} new, {resolved} resolved"));
    }
}

/// One warning per sink that could not be told.
fn undelivered(delivery: &Delivery, then: &str) {
    for (sink, why) in &delivery.failed {
        super::warn(format!("{sink}: not delivered: {why}; {then}"));
    }
}

fn say(line: String) {
    let _ = writeln!(anstream::stderr(), "{line}");
}
