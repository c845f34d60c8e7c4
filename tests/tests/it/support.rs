//! Test support: a running fixture cluster, and commands for the real kubectl and our binaries.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use assert_cmd::cargo::CommandCargoExt as _;
use serde_json::Value;
use tempfile::TempDir;

/// The directory of the test states.
pub fn states() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("states")
}

pub fn state(name: &str) -> PathBuf {
    states().join(name)
}

/// A workspace binary beside kube-fixture (the Makefile builds them all before the tests run).
pub fn bin(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_kube-fixture")).parent().expect("target dir").to_path_buf();
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace` (make test does) before the tests",
        path.display()
    );
    path
}

/// A running kube-fixture with its own kubeconfig, kubectl cache and record file.
pub struct Fixture {
    child: Child,
    pub dir: TempDir,
    pub url: String,
}

impl Fixture {
    /// Serves `state` with `--rebase-time` and the extra flags.
    pub fn start(state: &Path, extra: &[&str]) -> Fixture {
        Self::start_named(state, "fixture", extra)
    }

    pub fn start_named(state: &Path, context: &str, extra: &[&str]) -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut cmd = Command::cargo_bin("kube-fixture").expect("kube-fixture binary");
        cmd.arg(state)
            .arg("--rebase-time")
            .arg("--context")
            .arg(context)
            .arg("--kubeconfig")
            .arg(dir.path().join("kubeconfig"))
            .arg("--record")
            .arg(dir.path().join("record.jsonl"))
            .arg("--access-log")
            .arg(dir.path().join("access.jsonl"))
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("start kube-fixture");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read ready line");
        let url = line
            .trim()
            .strip_prefix("ready ")
            .unwrap_or_else(|| panic!("kube-fixture did not start: {line:?}"))
            .to_string();
        Fixture { child, dir, url }
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// The real kubectl, isolated from the user's config and discovery cache.
    pub fn kubectl(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("kubectl");
        cmd.args(args).envs(self.env()).env("PATH", path_with_bins());
        cmd
    }

    /// One of our plugins, pointed at this fixture through `KUBECONFIG`.
    pub fn plugin(&self, name: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin(name));
        cmd.args(args).envs(self.env()).env_remove("NO_COLOR");
        cmd
    }

    fn env(&self) -> Vec<(&'static str, PathBuf)> {
        vec![
            ("KUBECONFIG", self.kubeconfig()),
            ("KUBECACHEDIR", self.dir.path().join("cache")),
            ("HOME", self.dir.path().to_path_buf()),
        ]
    }

    /// Makes this fixture's kubeconfig trust `other`'s CA instead of its own: the server's
    /// certificate then comes from an unknown CA.
    pub fn distrust(&self, other: &Fixture) {
        let ca_line = |path: PathBuf| {
            let text = std::fs::read_to_string(path).expect("kubeconfig");
            let line = text.lines().find(|l| l.contains("certificate-authority-data")).expect("a TLS fixture");
            (line.to_string(), text)
        };
        let ((ours, text), (theirs, _)) = (ca_line(self.kubeconfig()), ca_line(other.kubeconfig()));
        std::fs::write(self.kubeconfig(), text.replace(&ours, &theirs)).expect("kubeconfig");
    }

    /// Every request the fixture answered, in order.
    pub fn requests(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.dir.path().join("access.jsonl")).unwrap_or_default();
        text.lines().map(|l| serde_json::from_str(l).expect("access log line")).collect()
    }

    /// Mutating requests the fixture received, in order.
    pub fn recorded(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.dir.path().join("record.jsonl")).unwrap_or_default();
        text.lines().map(|l| serde_json::from_str(l).expect("record line")).collect()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A kubeconfig in `dir` for a server where nothing listens, and that server's URL.
pub fn refused_kubeconfig(dir: &Path) -> (PathBuf, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr").port();
    let url = format!("http://127.0.0.1:{port}");
    let path = dir.join("refused.kubeconfig");
    std::fs::write(
        &path,
        format!("apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: \"{url}\"}}}}]\nusers: [{{name: u, user: {{}}}}]\ncontexts: [{{name: down, context: {{cluster: c, user: u, namespace: shop}}}}]\ncurrent-context: down\n"),
    )
    .expect("kubeconfig");
    (path, url)
}

/// PATH with our binaries first, so `kubectl ai analyze` finds the plugin.
pub fn path_with_bins() -> std::ffi::OsString {
    let dir = bin("kubectl-ai-analyze").parent().expect("bin dir").to_path_buf();
    let mut paths = vec![dir];
    paths.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
    std::env::join_paths(paths).expect("PATH")
}

/// Output of a finished command.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(cmd: &mut Command) -> Run {
    let out = cmd.stdin(Stdio::null()).output().expect("run command");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs a command with `input` on its stdin.
pub fn run_with_stdin(cmd: &mut Command, input: &[u8]) -> Run {
    let mut child =
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("run command");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        use std::io::Write as _;
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("wait for command");
    writer.join().expect("stdin writer");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", self.stdout, self.stderr))
    }

    /// Asserts one clean error line: no panic, no backtrace.
    pub fn assert_one_error_line(&self) {
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "expected one stderr line, got: {}", self.stderr);
        assert!(lines[0].starts_with("error: "), "{}", self.stderr);
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
    }
}

/// `namespace/name reason severity parent` lines of a JSON report, sorted.
pub fn finding_lines(report: &Value) -> Vec<String> {
    let mut lines: Vec<String> = report["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|f| {
            let parent = match &f["parent"] {
                Value::Null => "-".to_string(),
                p => format!("{}/{}", p["kind"].as_str().unwrap_or_default(), p["name"].as_str().unwrap_or_default()),
            };
            // An object with several problems lists each reason, worst first.
            let reasons = match f["problems"].as_array() {
                Some(problems) => {
                    problems.iter().map(|p| p["reason"].as_str().unwrap_or_default()).collect::<Vec<_>>().join(",")
                }
                None => f["reason"].as_str().unwrap_or_default().to_string(),
            };
            format!(
                "{}/{} {reasons} {} {parent}",
                f["namespace"].as_str().unwrap_or("-"),
                f["name"].as_str().unwrap_or_default(),
                f["severity"].as_str().unwrap_or_default()
            )
        })
        .collect();
    lines.sort();
    lines
}

/// One line per finding with its hint, `namespace/name reason: hint`, sorted: what a corpus
/// state's `hints.txt` holds once each hint has been read against the state.
pub fn hint_lines(report: &Value) -> Vec<String> {
    let mut lines: Vec<String> = report["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|f| {
            format!(
                "{}/{} {}: {}",
                f["namespace"].as_str().unwrap_or("-"),
                f["name"].as_str().unwrap_or_default(),
                f["reason"].as_str().unwrap_or_default(),
                f["hint"].as_str().unwrap_or_default()
            )
        })
        .collect();
    lines.sort();
    lines
}

/// The expected findings of a corpus state (`expected.txt`).
pub fn expected_lines(state: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(state.join("expected.txt")).expect("expected.txt");
    let mut lines: Vec<String> =
        text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_string).collect();
    lines.sort();
    lines
}

/// A running fake-model with a script, recording every request.
pub struct FakeModel {
    child: Child,
    pub dir: TempDir,
    pub url: String,
}

impl FakeModel {
    /// Starts fake-model with a YAML script.
    pub fn start(script: &str, extra: &[&str]) -> FakeModel {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("script.yaml"), script).expect("script");
        let mut child = Command::cargo_bin("fake-model")
            .expect("fake-model binary")
            .arg("--script")
            .arg(dir.path().join("script.yaml"))
            .arg("--record")
            .arg(dir.path().join("requests.jsonl"))
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start fake-model");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("ready line");
        let url = line
            .trim()
            .strip_prefix("ready ")
            .unwrap_or_else(|| panic!("fake-model did not start: {line:?}"))
            .to_string();
        FakeModel { child, dir, url }
    }

    /// Every chat request received: method, path, query, headers, body.
    pub fn requests(&self) -> Vec<Value> {
        self.all_requests()
            .into_iter()
            .filter(|r| {
                r["path"].as_str().is_some_and(|p| p.ends_with("/chat/completions") || p.ends_with("/api/chat"))
            })
            .collect()
    }

    /// Every request received, the questions about the model's window (`/props`, `/api/show`…) too.
    pub fn all_requests(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.dir.path().join("requests.jsonl")).unwrap_or_default();
        text.lines().map(|l| serde_json::from_str(l).expect("request line")).collect()
    }

    /// Everything sent, as one string, to search for what must not be there.
    pub fn everything_sent(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("requests.jsonl")).unwrap_or_default()
    }

    /// A command with a clean model environment pointing at this server (OpenAI-compatible), its
    /// own cache and config directories.
    pub fn command(&self, bin_name: &str) -> Command {
        let mut cmd = Command::new(bin(bin_name));
        clean_model_env(&mut cmd);
        cmd.env("OPENAI_API_KEY", "sk-test-key-0123456789abcdef")
            .env("OPENAI_BASE_URL", &self.url)
            .env("XDG_CACHE_HOME", self.dir.path().join("cache"))
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("XDG_STATE_HOME", self.dir.path().join("state"))
            .env("HOME", self.dir.path());
        cmd
    }
}

impl FakeModel {
    /// `kubectl-ai-exec` with this model on `fx`'s cluster; kubectl's cache and the change log in
    /// this model's directory.
    pub fn exec(&self, fx: &Fixture) -> Command {
        let mut cmd = self.command("kubectl-ai-exec");
        cmd.env("KUBECONFIG", fx.kubeconfig())
            .env("KUBECACHEDIR", self.dir.path().join("kubecache"))
            .env("OPSAGENT_AUDIT_LOG", self.dir.path().join("audit.jsonl"));
        cmd
    }
}

/// A fake model's reply that calls kubectl with `command` (native tool calling), as call `id`.
pub fn kubectl_call(id: &str, command: &str) -> Value {
    let arguments = serde_json::json!({"command": command}).to_string();
    let call =
        serde_json::json!({"id": id, "type": "function", "function": {"name": "kubectl", "arguments": arguments}});
    serde_json::json!({"content": "", "tool_calls": [call], "finish_reason": "tool_calls"})
}

/// A child's pid for rustix's kill(2) and killpg(2). Tests signal through these, never
/// /usr/bin/kill: procps' `kill -KILL -PID` (Debian's 4.0.2) parses `-PID` as a second option and
/// sends the signal to -1, every process the user may signal.
pub fn pid(child: &std::process::Child) -> Option<rustix::process::Pid> {
    i32::try_from(child.id()).ok().and_then(rustix::process::Pid::from_raw)
}

/// The deletions the fixture cluster carried out (dry runs not counted).
pub fn deletes(fx: &Fixture) -> usize {
    fx.recorded().iter().filter(|r| r["method"] == "DELETE" && r["dryRun"] == false).count()
}

/// A running `kubectl-ai-exec --ui --no-browser`: the URL it printed (with its one-time token),
/// ended when dropped.
pub struct UiServer {
    child: Child,
    /// `http://127.0.0.1:PORT/#token=…`
    pub url: String,
    said: Option<std::thread::JoinHandle<String>>,
}

impl UiServer {
    /// Starts `cmd --ui --no-browser` and waits for its URL.
    pub fn start(cmd: &mut Command) -> UiServer {
        let child = cmd.args(["--ui", "--no-browser"]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        let mut server = UiServer { child, url: String::new(), said: None };
        let mut stderr = BufReader::new(server.child.stderr.take().unwrap());
        let mut line = String::new();
        loop {
            line.clear();
            assert!(stderr.read_line(&mut line).unwrap() > 0, "exec --ui ended before serving");
            if let Some(url) = line.trim().strip_prefix("exec's page: ") {
                server.url = url.to_string();
                break;
            }
        }
        server.said = Some(std::thread::spawn(move || {
            let mut rest = String::new();
            let _ = std::io::Read::read_to_string(&mut stderr, &mut rest);
            rest
        }));
        server
    }

    /// Ends the server (SIGTERM, as a person's Ctrl-C would) and returns what it said on stderr
    /// after its URL.
    pub fn finish(mut self) -> String {
        if let Some(pid) = pid(&self.child) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let _ = self.child.wait();
        self.said.take().map(|h| h.join().unwrap()).unwrap_or_default()
    }
}

impl Drop for UiServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for FakeModel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Removes every model setting a developer's environment might carry.
pub fn clean_model_env(cmd: &mut Command) {
    for var in [
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "OPENAI_API_BASE",
        "OPENAI_API_VERSION",
        "AZURE_OPENAI_API_KEY",
        "AZURE_OPENAI_ENDPOINT",
        "AZURE_OPENAI_DEPLOYMENT",
        "AZURE_OPENAI_API_VERSION",
        "OLLAMA_HOST",
        "OPSAGENT_CONFIG",
        "OPSAGENT_PROFILE",
        "OPSAGENT_PROVIDER",
        "OPSAGENT_MODEL",
        "OPSAGENT_LANGUAGE",
        "OPSAGENT_HEADERS",
        "OPSAGENT_CA_CERT",
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "ALL_PROXY",
        "https_proxy",
        "http_proxy",
        "all_proxy",
    ] {
        cmd.env_remove(var);
    }
}

/// A minimal HTTP CONNECT proxy on a free port: tunnels every connection to `upstream`
/// (`host:port`), whatever target was asked for, and records the targets asked for.
pub struct Proxy {
    pub url: String,
    pub targets: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Proxy {
    pub fn start(upstream: &str) -> Proxy {
        use std::io::{BufRead as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let url = format!("http://{}", listener.local_addr().expect("proxy address"));
        let targets = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (upstream, seen) = (upstream.to_string(), targets.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (upstream, seen) = (upstream.clone(), seen.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(client.try_clone().expect("clone"));
                    let mut line = String::new();
                    let _ = reader.read_line(&mut line);
                    seen.lock().expect("targets").push(line.trim().to_string());
                    loop {
                        let mut header = String::new();
                        if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
                            break;
                        }
                    }
                    let Ok(server) = std::net::TcpStream::connect(&upstream) else { return };
                    let mut client_w = client;
                    let _ = client_w.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
                    let (mut server_r, mut server_w) = (server.try_clone().expect("clone"), server);
                    let mut client_r = reader;
                    let up = std::thread::spawn(move || {
                        let _ = std::io::copy(&mut client_r, &mut server_w);
                        let _ = server_w.shutdown(std::net::Shutdown::Write);
                    });
                    let _ = std::io::copy(&mut server_r, &mut client_w);
                    let _ = up.join();
                });
            }
        });
        Proxy { url, targets }
    }
}

/// A command run on a pseudo-terminal (stdin, stdout and stderr), driven by a script of
/// (wait for this text, then type that) steps: what a person at a terminal would do.
pub struct Terminal {
    pub code: i32,
    /// Everything the command wrote, escape sequences included.
    pub output: String,
}

pub fn run_on_terminal(cmd: &mut Command, steps: &[(&str, &str)]) -> Terminal {
    use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
    use std::io::{Read as _, Write as _};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("openpt");
    grantpt(&master).expect("grantpt");
    unlockpt(&master).expect("unlockpt");
    let name = ptsname(&master, Vec::new()).expect("ptsname");
    // O_NOCTTY: the terminal must not become the test's own controlling terminal.
    let flags = rustix::fs::OFlags::RDWR | rustix::fs::OFlags::NOCTTY;
    let slave =
        rustix::fs::open(name.as_c_str(), flags, rustix::fs::Mode::empty()).map(std::fs::File::from).expect("open pty");
    // The terminal becomes the command's controlling terminal, as in a login shell (util-linux's
    // setsid --ctty; the tests forbid the unsafe pre_exec that would do it in-process).
    let mut wrapped = Command::new("setsid");
    wrapped.args(["--ctty", "--wait"]).arg(cmd.get_program()).args(cmd.get_args()).env("TERM", "xterm");
    for (key, value) in cmd.get_envs() {
        match value {
            Some(v) => wrapped.env(key, v),
            None => wrapped.env_remove(key),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        wrapped.current_dir(dir);
    }
    let mut child = wrapped
        .stdin(slave.try_clone().expect("pty"))
        .stdout(slave.try_clone().expect("pty"))
        .stderr(slave)
        .spawn()
        .expect("spawn on a terminal");
    let mut master = std::fs::File::from(master);
    let mut reader = master.try_clone().expect("pty master");
    let output = Arc::new(Mutex::new(String::new()));
    let sink = output.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().expect("output").push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let mut seen = 0;
    for (wait_for, send) in steps {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let text = output.lock().expect("output").clone();
            if let Some(at) = text[seen..].find(wait_for) {
                seen += at + wait_for.len();
                break;
            }
            assert!(Instant::now() < deadline, "waited for {wait_for:?}; the terminal shows:\n{text}");
            std::thread::sleep(Duration::from_millis(20));
        }
        // The prompt is drawn before the terminal is put in raw mode, which discards what was
        // typed before: give it a moment, as a person would.
        std::thread::sleep(Duration::from_millis(300));
        master.write_all(send.as_bytes()).expect("type");
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let code = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the command did not end; the terminal shows:\n{}", output.lock().expect("output"));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    std::thread::sleep(Duration::from_millis(50));
    let output = output.lock().expect("output").clone();
    Terminal { code, output }
}

impl Terminal {
    /// The output without its color escapes (`ESC [ … m`).
    pub fn plain(&self) -> String {
        let mut plain = String::with_capacity(self.output.len());
        let mut rest = self.output.as_str();
        while let Some(at) = rest.find("\x1b[") {
            plain.push_str(&rest[..at]);
            rest = &rest[at + 2..];
            match rest.find('m') {
                Some(end) if rest[..end].bytes().all(|b| b.is_ascii_digit() || b == b';') => rest = &rest[end + 1..],
                _ => plain.push_str("\x1b["),
            }
        }
        plain.push_str(rest);
        plain
    }
}

/// A directory of the shared material beside the project (`../shared`), or `None` with a line
/// saying the test that needs it is skipped: a clone without it still runs everything else.
pub fn shared_data(relative: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared").join(relative);
    if path.is_dir() {
        return Some(path);
    }
    eprintln!("skipped: {} is missing (the shared material beside the project, present in CI)", path.display());
    None
}

/// A fake `trivy` on PATH: prints the real reports of trivy's own tests by image name, hangs for
/// `hang:1`, fails for `broken:1`, and records every call. `None` (the test skips) without the
/// shared reports.
pub fn fake_trivy(dir: &Path) -> Option<String> {
    let data = shared_data("conformance/audit/trivy-json")?;
    let script = format!(
        r#"#!/bin/sh
echo "$@" >> "{calls}"
for image; do :; done
case "$image" in
  alpine:3.10) cat "{data}/alpine-310.json" ;;
  alpine:3.9) cat "{data}/alpine-39-skip.json" ;;
  fluentd:1) cat "{data}/fluentd-gems.json" ;;
  hang:1) sleep 30 ;;
  *) echo "FATAL unable to find the image $image" >&2; exit 1 ;;
esac
"#,
        calls = dir.join("calls").display(),
        data = data.display()
    );
    let path = dir.join("trivy");
    std::fs::write(&path, script).unwrap();
    std::process::Command::new("chmod").arg("+x").arg(&path).status().unwrap();
    Some(format!("{}:/usr/bin:/bin", dir.display()))
}
