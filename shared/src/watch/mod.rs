//! Running in the cluster and telling people: `--watch` re-runs analyze or audit on an interval,
//! serves the last report and its metrics (`--metrics-addr`), and pushes what changed to
//! Alertmanager, Slack or webhooks (`--notify`); a one-shot run can do the same with a state file
//! (`--state-file`) and write its metrics for node-exporter (`--metrics-file`).
//!
//! The loop runs in the calling thread, one run after the other (never two at once); the HTTP
//! server and the signal handling live on a thread of their own, so a scrape is answered while a
//! run works. SIGINT or SIGTERM ends the loop once the run in progress is done (`/readyz` says so
//! at once); a second signal ends the process.

pub mod alerts;
pub mod metrics;
pub mod notify;
mod server;

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use jiff::Timestamp;

use self::alerts::Plugin;
use self::metrics::{Metrics, RunFacts};
use self::notify::{Delivery, Notifier, NotifyOptions};
use crate::error::Error;

/// The shortest interval accepted without `--force`: a loop tighter than this mostly loads the API
/// server.
pub const MIN_INTERVAL: Duration = Duration::from_secs(30);

/// How a watch runs.
#[derive(Clone, Debug)]
pub struct WatchOptions {
    /// The plugin whose runs are watched.
    pub plugin: Plugin,
    /// Time from the start of one run to the start of the next (±10 % jitter); a run that takes
    /// longer is followed at once by the next.
    pub interval: Duration,
    /// Stop after this many runs (tests and benchmarks); forever when absent.
    pub runs: Option<u64>,
    /// Serve `/metrics`, `/healthz`, `/readyz` and `/report` here (`:9090`, `127.0.0.1:9090`).
    pub metrics_addr: Option<String>,
    /// Push what changed to these sinks.
    pub notify: Option<NotifyOptions>,
}

/// What one run produced.
#[derive(Debug)]
pub struct RunOutput {
    /// The JSON report, served on `/report`.
    pub report: Vec<u8>,
    /// What the metrics and notifications read.
    pub facts: RunFacts,
}

/// What a watch tells its caller as it goes.
#[derive(Debug)]
pub enum Event<'a> {
    /// The metrics server listens here.
    Listening(std::net::SocketAddr),
    /// A run ended.
    Run {
        /// Its number, from 1.
        number: u64,
        /// How long it took.
        seconds: f64,
        /// Its facts, or why it failed.
        outcome: Result<&'a RunFacts, &'a Error>,
        /// What the sinks were told.
        delivery: Option<&'a Delivery>,
    },
    /// A signal ended the watch (after the run that was in progress).
    Stopped,
}

/// What the loop and the HTTP thread share.
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

struct State {
    metrics: Metrics,
    report: Option<Bytes>,
    stopping: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Runs `run` every interval until a signal (or `options.runs`), serving and notifying as asked.
/// Fails only when it cannot start (the address cannot be listened on, the state file cannot be
/// read); a failing run is reported through `on` and the watch goes on.
pub fn watch(
    options: WatchOptions,
    mut run: impl FnMut() -> Result<RunOutput, Error>,
    on: &mut dyn FnMut(Event<'_>),
) -> Result<(), Error> {
    let mut notifier = options.notify.map(Notifier::new).transpose()?;
    let shared = Arc::new(Shared {
        state: Mutex::new(State { metrics: Metrics::new(options.plugin), report: None, stopping: false }),
        wake: Condvar::new(),
    });
    let background = Background::start(shared.clone(), options.metrics_addr.as_deref())?;
    if let Some(addr) = background.listening {
        on(Event::Listening(addr));
    }
    let mut number = 0;
    while !shared.lock().stopping {
        number += 1;
        let started = Instant::now();
        let result = run();
        let seconds = started.elapsed().as_secs_f64();
        let now = Timestamp::now();
        match result {
            Ok(output) => {
                let delivery = notifier.as_mut().map(|n| n.deliver(&output.facts.findings, now));
                {
                    let mut state = shared.lock();
                    state.metrics.succeeded(&output.facts, seconds, now);
                    if let Some(d) = &delivery {
                        record(&mut state.metrics, d);
                    }
                    state.report = Some(Bytes::from(output.report));
                }
                on(Event::Run { number, seconds, outcome: Ok(&output.facts), delivery: delivery.as_ref() });
            }
            Err(error) => {
                shared.lock().metrics.failed(&error, seconds, now);
                on(Event::Run { number, seconds, outcome: Err(&error), delivery: None });
            }
        }
        if options.runs.is_some_and(|n| number >= n) {
            break;
        }
        let next = started + jittered(options.interval);
        let mut state = shared.lock();
        while !state.stopping {
            let left = next.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = shared.wake.wait_timeout(state, left).unwrap_or_else(std::sync::PoisonError::into_inner).0;
        }
    }
    if background.signalled() {
        on(Event::Stopped);
    }
    background.stop();
    Ok(())
}

/// The deliveries of one run, counted.
fn record(metrics: &mut Metrics, delivery: &Delivery) {
    for (sink, ..) in &delivery.sent {
        metrics.notified(sink, true);
    }
    for (sink, _) in &delivery.failed {
        metrics.notified(sink, false);
    }
}

/// One-shot `--notify`: tells the sinks what changed since the state file's run.
pub fn notify_once(options: NotifyOptions, facts: &RunFacts) -> Result<Delivery, Error> {
    Ok(Notifier::new(options)?.deliver(&facts.findings, Timestamp::now()))
}

/// One-shot `--metrics-file`: the run's metrics in the text format node-exporter's textfile
/// collector reads, written atomically (it must never read half a file).
pub fn write_metrics_file(path: &Path, plugin: Plugin, facts: &RunFacts, seconds: f64) -> Result<(), Error> {
    let mut metrics = Metrics::new(plugin);
    metrics.succeeded(facts, seconds, Timestamp::now());
    let text = metrics.render(metrics::Format::Text);
    crate::files::write_atomic(path, |w| w.write_all(text.as_bytes()))
}

/// The interval ±10 %, so that many watches started together do not load the API server together.
fn jittered(interval: Duration) -> Duration {
    let mut bytes = [0u8; 4];
    if ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes).is_err() {
        return interval;
    }
    // A factor in [0.9, 1.1).
    let factor = 0.9 + 0.2 * f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0);
    interval.mul_f64(factor)
}

/// The thread that handles signals and serves HTTP.
struct Background {
    thread: Option<std::thread::JoinHandle<()>>,
    stop: tokio_util::sync::CancellationToken,
    signalled: Arc<std::sync::atomic::AtomicBool>,
    listening: Option<std::net::SocketAddr>,
}

impl Background {
    fn start(shared: Arc<Shared>, addr: Option<&str>) -> Result<Background, Error> {
        let addr = addr
            .map(|a| {
                server::parse_addr(a).ok_or_else(|| {
                    Error::Usage(format!("--metrics-addr {a}: give HOST:PORT, [V6]:PORT or :PORT (every address)"))
                })
            })
            .transpose()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Usage(format!("cannot start the watch's runtime: {e}")))?;
        let listener = match addr {
            Some(addr) => Some(runtime.block_on(async {
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| Error::Usage(format!("--metrics-addr: cannot listen on {addr}: {e}")))?;
                Ok::<_, Error>(listener)
            })?),
            None => None,
        };
        let listening = listener.as_ref().and_then(|l| l.local_addr().ok());
        let stop = tokio_util::sync::CancellationToken::new();
        let signalled = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let thread = {
            let (stop, signalled) = (stop.clone(), signalled.clone());
            std::thread::Builder::new()
                .name("watch-http".into())
                .spawn(move || {
                    runtime.block_on(async move {
                        let signals = async {
                            crate::gate::shutdown_signal().await;
                            signalled.store(true, std::sync::atomic::Ordering::SeqCst);
                            shared.lock().stopping = true;
                            shared.wake.notify_all();
                            // A second signal does not wait for the run in progress.
                            crate::gate::shutdown_signal().await;
                            std::process::exit(130);
                        };
                        let serving = async {
                            match listener {
                                Some(listener) => server::serve(listener, shared.clone(), stop.clone()).await,
                                None => stop.cancelled().await,
                            }
                        };
                        tokio::select! {
                            () = signals => {}
                            () = serving => {}
                        }
                    });
                })
                .map_err(|e| Error::Usage(format!("cannot start the watch's thread: {e}")))?
        };
        Ok(Background { thread: Some(thread), stop, signalled, listening })
    }

    fn signalled(&self) -> bool {
        self.signalled.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn stop(mut self) {
        self.stop.cancel();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_ten_percent() {
        let base = Duration::from_secs(300);
        for _ in 0..200 {
            let d = jittered(base);
            assert!(d >= Duration::from_secs(270) && d < Duration::from_secs(330), "{d:?}");
        }
    }

    fn get(addr: std::net::SocketAddr, path: &str, accept: Option<&str>) -> (u16, String, String) {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let mut request = agent.get(&format!("http://{addr}{path}"));
        if let Some(a) = accept {
            request = request.header("Accept", a);
        }
        let mut response = request.call().unwrap();
        let ct = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        (response.status().as_u16(), ct, response.body_mut().read_to_string().unwrap())
    }

    #[test]
    fn runs_in_turn_serve_the_last_good_report_and_count_failures() {
        let options = WatchOptions {
            plugin: Plugin::Analyze,
            interval: Duration::from_millis(1),
            runs: Some(3),
            metrics_addr: Some("127.0.0.1:0".into()),
            notify: None,
        };
        let addr = std::cell::Cell::new(None);
        let seen = std::cell::RefCell::new(Vec::new());
        let mut events = Vec::new();
        let mut calls = 0;
        let run = || {
            calls += 1;
            let a = addr.get().expect("listening is told before the first run");
            // While a run works, the server answers from the previous one.
            seen.borrow_mut().push(get(a, "/report", None));
            seen.borrow_mut().push(get(a, "/readyz", None));
            if calls == 3 {
                let (status, content_type, text) = get(a, "/metrics", None);
                assert_eq!((status, content_type.as_str()), (200, "text/plain; version=0.0.4; charset=utf-8"));
                assert!(text.contains("opsagent_runs_total{plugin=\"analyze\",result=\"failure\"} 1\n"), "{text}");
                assert!(text.contains("opsagent_run_errors_total{plugin=\"analyze\",cause=\"api\"} 1\n"), "{text}");
                let (_, content_type, text) = get(a, "/metrics", Some("application/openmetrics-text; version=1.0.0"));
                assert!(content_type.starts_with("application/openmetrics-text") && text.ends_with("# EOF\n"));
                assert_eq!(get(a, "/nothing", None).0, 404);
                assert_eq!(get(a, "/healthz", None).0, 200);
            }
            match calls {
                2 => Err(Error::api("the API server answered 500")),
                n => Ok(RunOutput { report: format!("{{\"run\":{n}}}").into_bytes(), facts: RunFacts::default() }),
            }
        };
        let mut on = |e: Event<'_>| match e {
            Event::Listening(a) => addr.set(Some(a)),
            Event::Run { number, outcome, .. } => events.push((number, outcome.is_ok())),
            Event::Stopped => events.push((0, false)),
        };
        watch(options, run, &mut on).unwrap();
        assert_eq!(events, [(1, true), (2, false), (3, true)]);
        let seen: Vec<(u16, String)> = seen.into_inner().into_iter().map(|(s, _, b)| (s, b)).collect();
        assert_eq!(seen[0], (503, "no run has succeeded yet".to_string()), "no report before the first run ends");
        assert_eq!(seen[1].0, 503, "not ready before the first run ends");
        assert_eq!(seen[2], (200, "{\"run\":1}".to_string()));
        assert_eq!(seen[3], (200, "ready".to_string()));
        assert_eq!(seen[4], (200, "{\"run\":1}".to_string()), "a failed run keeps the previous report");
        assert!(std::net::TcpStream::connect(addr.get().unwrap()).is_err(), "the server ends with the watch");
    }

    #[test]
    fn an_address_in_use_is_one_line() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let options = WatchOptions {
            plugin: Plugin::Audit,
            interval: MIN_INTERVAL,
            runs: Some(1),
            metrics_addr: Some(taken.local_addr().unwrap().to_string()),
            notify: None,
        };
        let err = watch(options, || unreachable!(), &mut |_| {}).unwrap_err().to_string();
        assert!(err.starts_with("--metrics-addr: cannot listen on 127.0.0.1:"), "{err}");
        let options = WatchOptions {
            metrics_addr: Some("nowhere".into()),
            ..WatchOptions {
                plugin: Plugin::Audit,
                interval: MIN_INTERVAL,
                runs: Some(1),
                metrics_addr: None,
                notify: None,
            }
        };
        let err = watch(options, || unreachable!(), &mut |_| {}).unwrap_err().to_string();
        assert!(err.contains("give HOST:PORT"), "{err}");
    }
}
