//! The watch mode and notifications against real peers: a real Prometheus scraping `/metrics`, a
//! real Alertmanager receiving alerts (and their resolution), promtool checking the exposition, and
//! a local HTTP receiver standing in for Slack and webhooks. The fixture cluster's state changes
//! between runs (a broken pod deleted, another created) to show new and resolved findings.

use std::collections::{BTreeSet, VecDeque};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Fixture, run, state};

/// The demo state's broken pod that the tests fix (delete): an evicted pod.
const FIXED: &str = "reports-66d8c9b7f-x9v2n";

/// A pod the tests break: its image cannot be pulled.
const BROKEN: &str = r#"apiVersion: v1
kind: Pod
metadata: {name: payments-1, namespace: shop}
spec:
  containers: [{name: payments, image: "registry.example.com/payments:9.9"}]
status:
  phase: Pending
  containerStatuses:
  - name: payments
    image: registry.example.com/payments:9.9
    imageID: ""
    ready: false
    restartCount: 0
    state: {waiting: {reason: ImagePullBackOff, message: "Back-off pulling image \"registry.example.com/payments:9.9\""}}
"#;

/// Fixes one pod and breaks another, with the real kubectl.
fn change_the_cluster(fixture: &Fixture) {
    let deleted = run(&mut fixture.kubectl(&["delete", "pod", "-n", "shop", FIXED]));
    assert_eq!(deleted.code, 0, "{}", deleted.stderr);
    let file = fixture.dir.path().join("broken.yaml");
    std::fs::write(&file, BROKEN).unwrap();
    let created = run(&mut fixture.kubectl(&["create", "-f", file.to_str().unwrap()]));
    assert_eq!(created.code, 0, "{}", created.stderr);
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `GET` over plain HTTP/1.0: the status and body.
fn get(url: &str) -> Option<(u16, String)> {
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = rest.split_once('/').map_or((rest, "/".to_string()), |(a, p)| (a, format!("/{p}")));
    let mut stream = TcpStream::connect(authority).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {authority}\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Some((status, body))
}

/// Waits until `check` gives a value, or fails with what was last seen.
fn eventually<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Result<T, String>) -> T {
    let start = Instant::now();
    loop {
        match check() {
            Ok(v) => return v,
            Err(last) if start.elapsed() > timeout => panic!("{what}: not within {timeout:?}; last: {last}"),
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// Whether the Debian packages the tests need are installed; says skipped when not.
fn installed(programs: &[&str]) -> bool {
    let missing: Vec<&&str> = programs.iter().filter(|p| which(p).is_none()).collect();
    if !missing.is_empty() {
        eprintln!(
            "skipped: {missing:?} not installed (make monitoring installs Debian's prometheus and prometheus-alertmanager; needs apt-get)"
        );
    }
    missing.is_empty()
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(program)).find(|p| p.is_file())
}

/// A child process killed when the test ends.
struct Server {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a server and waits for its readiness URL.
fn start(mut cmd: Command, dir: tempfile::TempDir, url: String, ready: &str) -> Server {
    let log = std::fs::File::create(dir.path().join("log")).unwrap();
    let child = cmd.stdout(Stdio::null()).stderr(log).spawn().expect("start the server");
    let server = Server { child, url, _dir: dir };
    eventually(&format!("{} ready", server.url), Duration::from_secs(30), || {
        match get(&format!("{}{ready}", server.url)) {
            Some((200, _)) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
    server
}

/// A real Prometheus scraping `target` every second.
fn prometheus(target: &str) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nscrape_configs:\n- job_name: opsagent\n  static_configs: [{{targets: ['{target}']}}]\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let mut cmd = Command::new("prometheus");
    cmd.arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"));
    start(cmd, dir, format!("http://127.0.0.1:{port}"), "/-/ready")
}

/// A real Alertmanager, routing everything nowhere (the API is what the tests read).
fn alertmanager() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("alertmanager.yml");
    std::fs::write(&config, "route: {receiver: nowhere}\nreceivers: [{name: nowhere}]\n").unwrap();
    let port = free_port();
    let mut cmd = Command::new("prometheus-alertmanager");
    cmd.arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.path={}", dir.path().join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=");
    start(cmd, dir, format!("http://127.0.0.1:{port}"), "/-/ready")
}

/// The instant value of a PromQL query, by the label `by`.
fn query(prometheus: &Server, promql: &str, by: &str) -> Vec<(String, f64)> {
    let encoded: String = promql
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let Some((200, body)) = get(&format!("{}/api/v1/query?query={encoded}", prometheus.url)) else { return Vec::new() };
    let v: Value = serde_json::from_str(&body).unwrap();
    let mut out: Vec<(String, f64)> = v["data"]["result"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let label = r["metric"][by].as_str().unwrap_or("").to_string();
            (label, r["value"][1].as_str().unwrap_or("0").parse().unwrap_or(0.0))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The names of the objects of Alertmanager's active alerts.
fn active_alerts(am: &Server) -> BTreeSet<String> {
    let Some((200, body)) = get(&format!("{}/api/v2/alerts?active=true", am.url)) else { return BTreeSet::new() };
    let alerts: Vec<Value> = serde_json::from_str(&body).unwrap();
    alerts.iter().map(|a| a["labels"]["name"].as_str().unwrap_or("").to_string()).collect()
}

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Received {
    path: String,
    authorization: Option<String>,
    body: Value,
}

/// A local HTTP receiver standing in for Slack and webhooks: records every request, answers with
/// the scripted statuses (then 200).
struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
    statuses: Arc<Mutex<VecDeque<u16>>>,
}

impl Receiver {
    fn start(statuses: &[u16]) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let statuses = Arc::new(Mutex::new(statuses.iter().copied().collect::<VecDeque<u16>>()));
        let (r, s) = (received.clone(), statuses.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = answer(stream, &r, &s);
            }
        });
        Receiver { url, received, statuses }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn answer(stream: TcpStream, received: &Mutex<Vec<Received>>, statuses: &Mutex<VecDeque<u16>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let (mut length, mut authorization) = (0, None);
    loop {
        let mut header = String::new();
        reader.read_line(&mut header)?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').unwrap_or((header, ""));
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().unwrap_or(0),
            "authorization" => authorization = Some(value.trim().to_string()),
            _ => {}
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    received.lock().unwrap().push(Received {
        path,
        authorization,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    let status = statuses.lock().unwrap().pop_front().unwrap_or(200);
    let text = if status == 200 { "ok" } else { "rejected: bad alert" };
    let mut stream = stream;
    write!(stream, "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}", text.len())
}

/// A watch run in the background; its stderr lines are collected.
struct Watch {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Watch {
    fn start(mut cmd: Command) -> Watch {
        let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let collected = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                collected.lock().unwrap().push(line);
            }
        });
        Watch { child, lines }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// The address of `/metrics`, from the line that announces it.
    fn metrics_url(&self) -> String {
        eventually("the metrics server", Duration::from_secs(20), || {
            self.lines()
                .iter()
                .find_map(|l| l.strip_prefix("serving /metrics, /healthz, /readyz and /report on ").map(str::to_string))
                .ok_or_else(|| self.lines().join("\n"))
        })
    }

    /// Sends SIGTERM and waits for the exit code.
    fn terminate(mut self) -> i32 {
        let pid = rustix::process::Pid::from_child(&self.child);
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                eventually("the last line", Duration::from_secs(5), || match self.lines().last() {
                    Some(l) if l == "stopped by a signal" => Ok(()),
                    other => Err(format!("{other:?}")),
                });
                return status.code().unwrap_or(-1);
            }
            assert!(start.elapsed() < Duration::from_secs(20), "no exit after SIGTERM: {:?}", self.lines());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn findings_by_severity(prometheus: &Server) -> Vec<(String, f64)> {
    query(prometheus, "sum by (severity) (opsagent_findings{plugin=\"analyze\"})", "severity")
}

#[test]
fn a_real_prometheus_scrapes_the_findings_and_sees_them_change() {
    if !installed(&["prometheus", "promtool"]) {
        return;
    }
    let fixture = Fixture::start(&state("demo"), &[]);
    let watch = Watch::start(
        fixture.plugin("kubectl-ai-analyze", &["-A", "--watch", "1s", "--force", "--metrics-addr", "127.0.0.1:0"]),
    );
    let url = watch.metrics_url();
    let target = url.trim_start_matches("http://");
    let prometheus = prometheus(target);

    // What Prometheus stored is what one run reports.
    let report = run(&mut fixture.plugin("kubectl-ai-analyze", &["-A", "-o", "json"])).json();
    let mut expected: Vec<(String, f64)> = report["summary"]["bySeverity"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_f64().unwrap()))
        .collect();
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    let before = eventually("the findings in Prometheus", Duration::from_secs(30), || {
        let got = findings_by_severity(&prometheus);
        if got == expected { Ok(got) } else { Err(format!("{got:?} != {expected:?}")) }
    });
    let up = query(&prometheus, "up{job=\"opsagent\"}", "job");
    assert_eq!(up, [("opsagent".to_string(), 1.0)]);
    let pods = query(&prometheus, "opsagent_objects{kind=\"Pod\"}", "kind");
    assert_eq!(pods, [("Pod".to_string(), report["source"]["objects"]["Pod"].as_f64().unwrap())]);
    let runs = query(&prometheus, "opsagent_runs_total{result=\"success\"}", "result");
    assert!(runs[0].1 >= 1.0, "{runs:?}");

    // promtool's own linter accepts the exposition, and /report is the last report.
    let (status, text) = get(&format!("{url}/metrics")).unwrap();
    assert_eq!(status, 200);
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    promtool.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    let (status, served) = get(&format!("{url}/report")).unwrap();
    assert_eq!(status, 200);
    let served: Value = serde_json::from_str(&served).unwrap();
    assert_eq!(served["summary"], report["summary"]);
    assert_eq!(get(&format!("{url}/readyz")).unwrap().0, 200);

    // One pod fixed (an evicted one: low), one broken (ImagePullBackOff: high).
    change_the_cluster(&fixture);
    eventually("the change in Prometheus", Duration::from_secs(30), || {
        let after = findings_by_severity(&prometheus);
        let count = |v: &[(String, f64)], s: &str| v.iter().find(|(k, _)| k == s).map_or(0.0, |(_, n)| *n);
        let changed = count(&after, "high") == count(&before, "high") + 1.0
            && count(&after, "low") == count(&before, "low") - 1.0;
        if changed { Ok(()) } else { Err(format!("{before:?} -> {after:?}")) }
    });
    let lines = watch.lines();
    assert!(lines.iter().any(|l| l.starts_with("run 1: ") && l.contains(" findings in ")), "{lines:?}");
    assert_eq!(watch.terminate(), 0, "SIGTERM ends a watch cleanly");
}

#[test]
fn alertmanager_slack_and_a_webhook_are_told_what_is_new_and_what_was_resolved() {
    if !installed(&["prometheus-alertmanager"]) {
        return;
    }
    let fixture = Fixture::start(&state("demo"), &[]);
    let am = alertmanager();
    let slack = Receiver::start(&[]);
    let hook = Receiver::start(&[]);
    let mut cmd = fixture.plugin(
        "kubectl-ai-analyze",
        &[
            "-A",
            "--watch",
            "1s",
            "--force",
            "--cluster-name",
            "prod-eu",
            "--notify",
            &format!("alertmanager+{}", am.url),
            "--notify",
            "env:SLACK_URL",
            "--notify",
            &format!("{}/opsagent", hook.url),
        ],
    );
    cmd.env("SLACK_URL", format!("slack+{}/services/T0/B0/SECRETKEY", slack.url));
    let watch = Watch::start(cmd);
    let report = run(&mut fixture.plugin("kubectl-ai-analyze", &["-A", "-o", "json"])).json();
    let open: BTreeSet<String> =
        report["results"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap().to_string()).collect();
    assert!(open.contains(FIXED));
    eventually("every open finding in Alertmanager", Duration::from_secs(30), || {
        let active = active_alerts(&am);
        if active == open { Ok(()) } else { Err(format!("{active:?} != {open:?}")) }
    });
    let (status, body) = get(&format!("{}/api/v2/alerts?filter=name%3D%22{FIXED}%22", am.url)).unwrap();
    assert_eq!(status, 200);
    let alert: Vec<Value> = serde_json::from_str(&body).unwrap();
    let labels = &alert[0]["labels"];
    assert_eq!(
        (&labels["alertname"], &labels["cluster"], &labels["namespace"], &labels["kind"], &labels["source"]),
        (
            &Value::from("Pod"),
            &Value::from("prod-eu"),
            &Value::from("shop"),
            &Value::from("Pod"),
            &Value::from("opsagent-analyze")
        )
    );
    assert!(alert[0]["annotations"]["hint"].as_str().unwrap().contains("kubectl"), "{alert:?}");

    change_the_cluster(&fixture);
    let mut expected = open.clone();
    expected.remove(FIXED);
    expected.insert("payments-1".into());
    eventually("the fixed pod resolved and the broken one firing", Duration::from_secs(30), || {
        let active = active_alerts(&am);
        if active == expected { Ok(()) } else { Err(format!("{active:?} != {expected:?}")) }
    });
    // The two changes may fall into one run or two: only changes are sent, each once.
    let names = |v: &Value| -> BTreeSet<String> {
        v.as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap().to_string()).collect()
    };
    let changed = |messages: &[Received], key: &str| -> BTreeSet<String> {
        messages.iter().skip(1).flat_map(|m| names(&m.body[key])).collect()
    };
    let hooks = eventually("the webhook told of both changes", Duration::from_secs(30), || {
        let got = hook.received();
        let done = changed(&got, "new").contains("payments-1") && changed(&got, "resolved").contains(FIXED);
        if done { Ok(got) } else { Err(format!("{got:?}")) }
    });
    assert_eq!(hooks[0].path, "/opsagent");
    assert_eq!(hooks[0].body["kind"], "FindingChanges");
    assert_eq!((names(&hooks[0].body["new"]), names(&hooks[0].body["resolved"])), (open.clone(), BTreeSet::new()));
    assert_eq!(changed(&hooks, "new"), BTreeSet::from(["payments-1".to_string()]));
    assert_eq!(changed(&hooks, "resolved"), BTreeSet::from([FIXED.to_string()]));
    assert!(hooks.len() <= 3, "only changes are sent: {hooks:?}");
    let last = hooks.last().unwrap();
    assert_eq!(names(&last.body["open"]).len() + names(&last.body["new"]).len(), expected.len());

    let slack = eventually("Slack told of both changes", Duration::from_secs(30), || {
        let got = slack.received();
        let texts: String = got.iter().skip(1).map(|m| m.body["text"].as_str().unwrap_or("")).collect();
        if texts.contains("payments-1") && texts.contains(FIXED) { Ok(got) } else { Err(format!("{got:?}")) }
    });
    assert_eq!(slack[0].path, "/services/T0/B0/SECRETKEY");
    let first = slack[0].body["text"].as_str().unwrap();
    assert!(
        first.starts_with(&format!(
            "*kubectl ai analyze*: {} new, 0 resolved on `prod-eu`",
            report["results"].as_array().unwrap().len()
        )),
        "{first}"
    );
    let later: Vec<&str> = slack.iter().skip(1).map(|m| m.body["text"].as_str().unwrap()).collect();
    assert!(later.iter().all(|t| t.starts_with("*kubectl ai analyze*: ")), "{later:?}");
    assert!(later.join("\n").contains("*Resolved*\n• `LOW` Pod shop/reports-66d8c9b7f-x9v2n Evicted"), "{later:?}");
    let lines = watch.lines().join("\n");
    assert!(!lines.contains("SECRETKEY"), "the Slack URL is never printed: {lines}");
    assert!(lines.contains("told slack http://127.0.0.1:"), "{lines}");
}

#[test]
fn one_shot_runs_send_only_changes_with_a_state_file_and_write_textfile_metrics() {
    let fixture = Fixture::start(&state("demo"), &[]);
    let hook = Receiver::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let state_file = dir.path().join("state.json");
    let metrics = dir.path().join("opsagent.prom");
    let analyze = || {
        fixture.plugin(
            "kubectl-ai-analyze",
            &[
                "-A",
                "-o",
                "json",
                "--notify",
                &hook.url,
                "--state-file",
                state_file.to_str().unwrap(),
                "--metrics-file",
                metrics.to_str().unwrap(),
            ],
        )
    };
    let first = run(&mut analyze());
    assert_eq!(first.code, 1, "problems found, and told: {}", first.stderr);
    let report = first.json();
    assert_eq!(hook.received().len(), 1);
    assert_eq!(hook.received()[0].body["new"].as_array().unwrap().len(), report["results"].as_array().unwrap().len());
    let second = run(&mut analyze());
    assert_eq!(second.code, 1, "{}", second.stderr);
    assert_eq!(hook.received().len(), 1, "nothing changed, nothing sent");
    change_the_cluster(&fixture);
    let third = run(&mut analyze());
    assert_eq!(third.code, 1, "{}", third.stderr);
    let got = hook.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].body["new"][0]["name"], "payments-1");
    assert_eq!(got[1].body["resolved"][0]["name"], FIXED);
    assert!(third.stderr.contains(": 1 new, 1 resolved"), "{}", third.stderr);

    let text = std::fs::read_to_string(&metrics).unwrap();
    assert!(
        text.contains(
            "opsagent_findings{plugin=\"analyze\",severity=\"high\",analyzer=\"Pod\",namespace=\"shop\",kind=\"Pod\"}"
        ),
        "{text}"
    );
    if which("promtool").is_some() {
        let checked = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(std::fs::File::open(&metrics).unwrap())
            .output()
            .unwrap();
        assert!(checked.status.success(), "{}", String::from_utf8_lossy(&checked.stdout));
    }

    // The same state file for audit is refused, in one line, before anything is read.
    let refused = run(&mut fixture
        .plugin("kubectl-ai-audit", &["-A", "--notify", &hook.url, "--state-file", state_file.to_str().unwrap()]));
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    refused.assert_one_error_line();
    assert!(refused.stderr.contains("is the state of `kubectl ai analyze`"), "{}", refused.stderr);
}

#[test]
fn audit_notifies_high_findings_by_default_and_watches_too() {
    let fixture = Fixture::start(&state("demo"), &[]);
    let hook = Receiver::start(&[]);
    let report = run(&mut fixture.plugin("kubectl-ai-audit", &["-A", "-o", "json"])).json();
    let high = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| matches!(f["severity"].as_str(), Some("high" | "critical")))
        .count();
    assert!(high > 0 && high < report["findings"].as_array().unwrap().len());
    let watch = Watch::start(fixture.plugin(
        "kubectl-ai-audit",
        &["-A", "--watch", "1s", "--force", "--metrics-addr", "127.0.0.1:0", "--notify", &hook.url],
    ));
    let url = watch.metrics_url();
    let first = eventually("the audit's first message", Duration::from_secs(30), || {
        hook.received().first().cloned().ok_or_else(|| watch.lines().join("\n"))
    });
    assert_eq!(first.body["new"].as_array().unwrap().len(), high, "--notify-severity defaults to high for audit");
    assert_eq!(first.body["plugin"], "audit");
    let (_, metrics) =
        eventually("the audit's metrics", Duration::from_secs(20), || match get(&format!("{url}/metrics")) {
            Some((200, m)) if m.contains("opsagent_findings{") => Ok(get(&format!("{url}/metrics")).unwrap()),
            other => Err(format!("{other:?}")),
        });
    assert!(metrics.contains("check=\"POD-"), "{metrics}");
    assert!(metrics.contains("opsagent_objects{plugin=\"audit\",kind=\"Pod\"}"), "{metrics}");
    let total: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("opsagent_findings{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(total as usize, report["findings"].as_array().unwrap().len(), "metrics count every finding");
    assert_eq!(watch.terminate(), 0);
}

#[test]
fn failing_sinks_are_one_line_each_and_the_report_is_still_written() {
    let fixture = Fixture::start(&state("demo"), &[]);
    let dir = tempfile::tempdir().unwrap();
    let state_file = dir.path().join("state.json");

    // A 4xx is not retried; a 5xx is, and then succeeds.
    let rejecting = Receiver::start(&[400]);
    let flaky = Receiver::start(&[503]);
    let am = format!("alertmanager+{}", rejecting.url);
    let state_arg = state_file.to_str().unwrap();
    let analyze = || {
        let args = ["-A", "-o", "json", "--notify", &am, "--notify", &flaky.url, "--state-file", state_arg];
        run(&mut fixture.plugin("kubectl-ai-analyze", &args))
    };
    let r = analyze();
    assert_eq!(r.code, 7, "{}", r.stderr);
    r.json();
    let warnings: Vec<&str> = r.stderr.lines().filter(|l| l.starts_with("warning: ")).collect();
    assert_eq!(warnings.len(), 1, "{}", r.stderr);
    assert!(
        warnings[0].contains("alertmanager http://127.0.0.1:")
            && warnings[0].contains("400 Bad Request: rejected: bad alert"),
        "{}",
        warnings[0]
    );
    assert_eq!(rejecting.received().len(), 1, "a 4xx is not retried");
    assert_eq!(rejecting.received()[0].path, "/api/v2/alerts");
    assert_eq!(flaky.received().len(), 2, "a 503 is retried");
    assert!(flaky.statuses.lock().unwrap().is_empty(), "the 503 was answered");

    // The state file kept the rejected sink's findings as untold: the next run tells it everything.
    let again = analyze();
    assert_eq!(again.code, 1, "{}", again.stderr);
    assert_eq!(
        rejecting.received()[1].body.as_array().unwrap().len(),
        again.json()["results"].as_array().unwrap().len()
    );
    assert_eq!(flaky.received().len(), 2, "the webhook was told already");

    // Nothing listens: retried with backoff, then one line; exit 7.
    let closed = format!("http://127.0.0.1:{}", free_port());
    let r = run(&mut fixture.plugin("kubectl-ai-analyze", &["-A", "-o", "json", "--notify", &closed]));
    assert_eq!(r.code, 7, "{}", r.stderr);
    assert!(r.stderr.contains("connection refused (after 4 tries)"), "{}", r.stderr);
}

#[test]
fn a_failed_run_keeps_the_last_report_and_counts_its_cause() {
    let fixture = Fixture::start(&state("demo"), &[]);
    // The kubeconfig outlives the fixture's directory: the server goes, the configuration stays.
    let kept = tempfile::tempdir().unwrap();
    let kubeconfig = kept.path().join("kubeconfig");
    std::fs::copy(fixture.kubeconfig(), &kubeconfig).unwrap();
    let mut cmd =
        fixture.plugin("kubectl-ai-analyze", &["-A", "--watch", "1s", "--force", "--metrics-addr", "127.0.0.1:0"]);
    cmd.env("KUBECONFIG", &kubeconfig).env("HOME", kept.path());
    let watch = Watch::start(cmd);
    let url = watch.metrics_url();
    let report = eventually("a first report", Duration::from_secs(20), || match get(&format!("{url}/report")) {
        Some((200, body)) => Ok(body),
        other => Err(format!("{other:?}")),
    });
    drop(fixture); // the API server goes away
    let metrics = eventually("the failure counted", Duration::from_secs(60), || match get(&format!("{url}/metrics")) {
        Some((200, m)) if m.contains("opsagent_run_errors_total{plugin=\"analyze\",cause=\"unreachable\"}") => Ok(m),
        other => Err(format!("{other:?}")),
    });
    assert!(metrics.contains("result=\"failure\"}"), "{metrics}");
    assert_eq!(get(&format!("{url}/report")), Some((200, report)), "the last good report is still served");
    assert_eq!(get(&format!("{url}/readyz")).map(|r| r.0), Some(200));
    assert!(metrics.contains("opsagent_findings{plugin=\"analyze\",severity=\"critical\""), "findings kept: {metrics}");
    let lines = watch.lines();
    assert!(
        lines.iter().any(|l| l.starts_with("warning: run ")
            && l.contains("failed: cannot reach the cluster at ")
            && l.ends_with("; the last report is kept")),
        "{lines:?}"
    );
    assert_eq!(watch.terminate(), 0);
}

/// `opsagent_model_prompt_tokens_total` of `plugin` in a metrics file.
fn prompt_tokens(metrics: &Path, plugin: &str) -> u64 {
    let text = std::fs::read_to_string(metrics).unwrap();
    let series = format!("opsagent_model_prompt_tokens_total{{plugin=\"{plugin}\"}} ");
    let line = text.lines().find_map(|l| l.strip_prefix(&series)).unwrap_or_else(|| panic!("{text}"));
    line.parse().unwrap()
}

#[test]
fn tokens_spent_explaining_are_counted_and_the_cache_spends_none() {
    let fm = crate::support::FakeModel::start(crate::model::EXPLANATIONS, &[]);
    let dir = tempfile::tempdir().unwrap();
    let metrics = dir.path().join("opsagent.prom");
    let snapshot = state("explain");
    let tokens = || {
        let r = run(fm.command("kubectl-ai-analyze").args([
            "--snapshot",
            snapshot.to_str().unwrap(),
            "--explain",
            "-o",
            "json",
            "--metrics-file",
            metrics.to_str().unwrap(),
        ]));
        assert_eq!(r.code, 1, "{}", r.stderr);
        prompt_tokens(&metrics, "analyze")
    };
    let first = tokens();
    assert!(first > 200, "four problems with their evidence: {first}");
    assert_eq!(fm.requests().len(), 1);
    assert_eq!(tokens(), 0, "answered from the cache: nothing sent, nothing spent");

    // The audit's remediation summaries: one request per check.
    let script = "replies:\n  - content: \"Drop the flag.\"\n  - content: \"Use a Secret.\"\n  - content: \"Set it to false.\"\n";
    let fm = crate::support::FakeModel::start(script, &[]);
    let manifests = Path::new(env!("CARGO_MANIFEST_DIR")).join("audit/manifests/web.yaml");
    let audit_tokens = || {
        let r = run(fm.command("kubectl-ai-audit").args([
            "-f",
            manifests.to_str().unwrap(),
            "--checks",
            "POD-001,POD-017,SEC-001",
            "--explain",
            "-o",
            "json",
            "--metrics-file",
            metrics.to_str().unwrap(),
        ]));
        assert_eq!(r.code, 0, "{}", r.stderr);
        prompt_tokens(&metrics, "audit")
    };
    let first = audit_tokens();
    assert!(first > 100, "three checks with their findings: {first}");
    assert_eq!(fm.requests().len(), 3);
    assert_eq!(audit_tokens(), 0, "answered from the cache");
}

#[test]
fn credentials_from_the_environment_become_basic_authorization_and_are_never_printed() {
    let fixture = Fixture::start(&state("demo"), &[]);
    let hook = Receiver::start(&[]);
    let with_credentials = hook.url.replace("http://", "http://ops:s%40cret@") + "/in";
    let mut cmd = fixture.plugin("kubectl-ai-analyze", &["-A", "-o", "json", "--notify", "env:OPSAGENT_HOOK"]);
    cmd.env("OPSAGENT_HOOK", &with_credentials);
    let r = run(&mut cmd);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let got = hook.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].path, "/in");
    // base64("ops:s@cret")
    assert_eq!(got[0].authorization.as_deref(), Some("Basic b3BzOnNAY3JldA=="));
    assert!(r.stderr.contains("told webhook http://127.0.0.1:") && !r.stderr.contains("ops:"), "{}", r.stderr);
    // On the command line, the same URL is refused.
    let r = run(&mut fixture.plugin("kubectl-ai-analyze", &["-A", "--notify", &with_credentials]));
    assert_eq!(r.code, 2);
    r.assert_one_error_line();
    assert!(!r.stderr.contains("s%40cret") && !r.stderr.contains("ops:"), "{}", r.stderr);
}

#[test]
fn bad_watch_and_notify_flags_are_one_line_before_anything_is_read() {
    let fixture = Fixture::start(&state("demo"), &[]);
    let secret_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret_file.path(), "slack+http://hooks.slack.com/services/T/B/SECRETFROMFILE\n").unwrap();
    let file_spec = format!("file:{}", secret_file.path().display());
    for (args, says) in [
        (
            vec!["--watch", "10s"],
            "--watch 10s: every run reads the whole cluster, so the interval is at least 30s; add --force",
        ),
        (vec!["--notify", "smtp://mail:25"], "unknown scheme \"smtp\""),
        (vec!["--notify", "slack+https://hooks.slack.com/services/T/B/SECRET"], "carries a secret"),
        (vec!["--notify", &file_spec], "https only"),
        (vec!["--notify", "env:OPSAGENT_TEST_UNSET"], "OPSAGENT_TEST_UNSET is not set"),
        (
            vec!["--watch", "1m", "--alert-ttl", "30s", "--notify", "http://127.0.0.1:1"],
            "--alert-ttl 30s is not longer than --watch 1m",
        ),
        (vec!["--watch", "1m", "--metrics-addr", "nowhere"], "give HOST:PORT"),
        (vec!["--watch", "1m", "--snapshot", "-"], "stdin cannot be read twice"),
        (vec!["--metrics-addr", ":9090"], "--watch"),
        (vec!["--watch", "1m", "--dump", "x.yaml"], "--watch serves its reports: --dump is for one run"),
    ] {
        let mut all = vec!["-A"];
        all.extend(args.iter().copied());
        let before = fixture.requests().len();
        let mut cmd = fixture.plugin("kubectl-ai-analyze", &all);
        let r = crate::support::run_with_stdin(&mut cmd, b"");
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        r.assert_one_error_line();
        assert!(r.stderr.contains(says), "{args:?}: {}", r.stderr);
        assert!(!r.stderr.contains("SECRET"), "{}", r.stderr);
        assert_eq!(fixture.requests().len(), before, "{args:?}: nothing is read before the flags are checked");
    }
    // --explain without a model: said before the first run, not once per run.
    let before = fixture.requests().len();
    let mut cmd = fixture.plugin("kubectl-ai-analyze", &["-A", "--watch", "1m", "--explain"]);
    crate::support::clean_model_env(&mut cmd);
    let r = run(&mut cmd);
    assert_eq!(r.code, 5, "{}", r.stderr);
    r.assert_one_error_line();
    assert_eq!(fixture.requests().len(), before);
    let r = run(&mut fixture.plugin("kubectl-ai-audit", &["-A", "--watch", "1m", "--fail-on", "high"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    r.assert_one_error_line();
}
