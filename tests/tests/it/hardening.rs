//! The hardening matrices of docs/reliability.md: faults of the API server, faults of the model,
//! and bad input, for every plugin. Each case asserts the documented exit code and stderr, and
//! [`check`] fails any case whose stderr shows a panic.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{FakeModel, Fixture, Run, bin, finding_lines, refused_kubeconfig, run, run_with_stdin, state};

const ANALYZE: &str = "kubectl-ai-analyze";
const AUDIT: &str = "kubectl-ai-audit";
const GEN: &str = "kubectl-ai-gen";
const EXEC: &str = "kubectl-ai-exec";

/// What a case must end with: its exit code, text its stderr contains, and whether stderr is
/// exactly one `error:` line.
#[derive(Clone, Copy, Debug)]
struct Want {
    code: i32,
    stderr: &'static str,
    one_line: bool,
}

const fn ok(code: i32) -> Want {
    Want { code, stderr: "", one_line: false }
}

const fn warns(code: i32, stderr: &'static str) -> Want {
    Want { code, stderr, one_line: false }
}

const fn fails(code: i32, stderr: &'static str) -> Want {
    Want { code, stderr, one_line: true }
}

/// The assertions every matrix case shares; a panic anywhere fails the case.
#[track_caller]
fn check(case: &str, out: &Run, want: Want) {
    assert!(!out.stderr.contains("panicked at"), "{case}: panicked:\n{}", out.stderr);
    assert!(!out.stderr.contains("RUST_BACKTRACE"), "{case}: backtrace hint:\n{}", out.stderr);
    assert_eq!(out.code, want.code, "{case}: exit code; stderr:\n{}", out.stderr);
    assert!(out.stderr.contains(want.stderr), "{case}: stderr lacks {:?}:\n{}", want.stderr, out.stderr);
    if want.one_line {
        // A model that keeps failing is retried, and the first retry is said once (issue 15).
        let retries = out.stderr.lines().filter(|l| l.contains(": retrying (at most ")).count();
        assert!(retries <= 1, "{case}: one retry notice at most:\n{}", out.stderr);
        let rest: Vec<&str> = out.stderr.lines().filter(|l| !l.contains(": retrying (at most ")).collect();
        assert_eq!(rest.len(), 1, "{case}: one error line:\n{}", out.stderr);
        assert!(rest[0].starts_with("error: "), "{case}:\n{}", out.stderr);
    }
}

// ---------------------------------------------------------------------------------------------
// API faults

/// How each plugin is run against a fixture serving the demo state (`shop` has problems).
fn api_command(plugin: &str, fx: &Fixture, fm: &FakeModel, extra: &[&str]) -> Command {
    let mut cmd = match plugin {
        ANALYZE => fx.plugin(ANALYZE, &["-n", "shop", "-o", "json"]),
        AUDIT => fx.plugin(AUDIT, &["-n", "shop", "-o", "json"]),
        GEN => {
            let mut c = fm.command(GEN);
            c.env("KUBECONFIG", fx.kubeconfig()).args(["a config map", "-n", "shop"]);
            c
        }
        _ => {
            let mut c = fm.command(EXEC);
            c.env("KUBECONFIG", fx.kubeconfig()).env("KUBECACHEDIR", fm.dir.path().join("kubecache")).args([
                "what pods are there?",
                "-n",
                "shop",
            ]);
            c
        }
    };
    cmd.args(extra);
    cmd
}

/// The model's part in the API matrix: a manifest for gen, one kubectl call then an answer for exec.
fn api_model() -> FakeModel {
    let call = json!({"id": "c0", "type": "function", "function": {"name": "kubectl", "arguments": "{\"command\": \"get pods -n shop\"}"}});
    let script = json!({"replies": [
        {"match": "a config map", "content": "```yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: fast\n```"},
        {"content": "", "tool_calls": [call], "finish_reason": "tool_calls"},
        {"content": "There are three pods."},
    ]});
    FakeModel::start(&script.to_string(), &[])
}

/// The tool results exec sent back in its last request.
fn exec_tool_result(fm: &FakeModel) -> String {
    crate::exec::tool_results(fm.requests().last().expect("a request")).join("\n")
}

/// The same report with and without the fault: retried faults lose nothing.
fn same_findings(plugin: &str, with: &Run, without: &Run) {
    match plugin {
        ANALYZE => assert_eq!(finding_lines(&with.json()), finding_lines(&without.json())),
        _ => assert_eq!(with.json()["findings"], without.json()["findings"]),
    }
}

const PODS: &str = "path=/api/v1/namespaces/shop/pods";

#[test]
fn api_a_forbidden_kind() {
    let fm = api_model();
    let cases: [(&str, &str, Want); 4] = [
        (ANALYZE, "resource=replicasets,status=403", warns(1, "warning: cannot list replicasets")),
        (AUDIT, "resource=deployments,status=403", warns(4, "warning: cannot list deployments.apps")),
        (
            GEN,
            "resource=configmaps,method=PATCH,status=403",
            warns(0, "ConfigMap settings: not checked by the server (403"),
        ),
        (EXEC, &format!("{PODS},status=403"), ok(0)),
    ];
    for (plugin, fault, want) in cases {
        let fx = Fixture::start(&state("demo"), &["--fault", fault]);
        let out = run(&mut api_command(plugin, &fx, &fm, &[]));
        check(&format!("{plugin} {fault}"), &out, want);
        match plugin {
            ANALYZE => assert_eq!(out.json()["partial"], true),
            AUDIT => assert_eq!(out.json()["warnings"].as_array().unwrap().len(), 1, "{}", out.stdout),
            GEN => assert!(out.stdout.contains("kind: ConfigMap"), "printed: {}", out.stdout),
            _ => assert!(exec_tool_result(&fm).contains("Error from server (Forbidden)"), "{}", exec_tool_result(&fm)),
        }
    }
}

/// A diagnosis reads the object, then what surrounds it: a kind it may not list is left out of the
/// evidence with a warning; the object itself forbidden is one line.
#[test]
fn api_a_diagnosis_with_forbidden_kinds() {
    let fm = FakeModel::start("replies:\n  - content: The cause.\n", &[]);
    let diagnose = |fault: &str| {
        let fx = Fixture::start(&state("demo"), &["--fault", fault]);
        run(fm.command(ANALYZE).env("KUBECONFIG", fx.kubeconfig()).args(["deploy", "checkout", "-n", "shop"]))
    };
    let out = diagnose("resource=events,status=403");
    check("diagnose, events forbidden", &out, warns(1, "warning: cannot list events in namespace \"shop\": forbidden"));
    assert!(out.stdout.contains("The cause."), "{}", out.stdout);
    let out = diagnose("path=/namespaces/shop/deployments/checkout,status=403");
    check("diagnose, the object forbidden", &out, fails(3, "forbidden"));
    let out = diagnose(&format!("{PODS},status=500,times=1"));
    check("diagnose, 500 once", &out, ok(1));
    assert!(!out.stderr.contains("warning"), "retried: {}", out.stderr);
}

#[test]
fn api_a_server_error_then_success_is_retried() {
    let fm = api_model();
    for plugin in [ANALYZE, AUDIT] {
        let clean = Fixture::start(&state("demo"), &[]);
        let without = run(&mut api_command(plugin, &clean, &fm, &[]));
        for fault in [format!("{PODS},status=500,times=2"), format!("{PODS},status=503,times=1")] {
            let fx = Fixture::start(&state("demo"), &["--fault", &fault]);
            let out = run(&mut api_command(plugin, &fx, &fm, &[]));
            check(&format!("{plugin} {fault}"), &out, ok(without.code));
            assert!(!out.stderr.contains("warning"), "{plugin}: retried, not partial: {}", out.stderr);
            same_findings(plugin, &out, &without);
            let codes: Vec<u64> = fx
                .requests()
                .iter()
                .filter(|r| r["path"] == "/api/v1/namespaces/shop/pods")
                .map(|r| r["code"].as_u64().unwrap())
                .collect();
            assert_eq!(codes.last(), Some(&200), "{plugin}: {codes:?}");
            assert!(codes.len() >= 2, "{plugin}: {codes:?}");
        }
    }
    // gen: the discovery it needs is retried as well; its dry run (a PATCH) is not repeated.
    let fx = Fixture::start(&state("demo"), &["--fault", "path=/apis,status=500,times=1"]);
    check("gen 500 on discovery", &run(&mut api_command(GEN, &fx, &fm, &[])), ok(0));
    let fx = Fixture::start(&state("demo"), &["--fault", "resource=configmaps,method=PATCH,status=500"]);
    let out = run(&mut api_command(GEN, &fx, &fm, &[]));
    check("gen 500 on the dry run", &out, warns(0, "not checked by the server"));
    let patches = fx.requests().iter().filter(|r| r["method"] == "PATCH").count();
    assert_eq!(patches, 1, "a write is never retried");
    // exec: kubectl's own behaviour; its error is the tool's result and the model answers.
    let fx = Fixture::start(&state("demo"), &["--fault", &format!("{PODS},status=500")]);
    check("exec 500", &run(&mut api_command(EXEC, &fx, &fm, &[])), ok(0));
    assert!(exec_tool_result(&fm).contains("Error from server (InternalError)"), "{}", exec_tool_result(&fm));
}

#[test]
fn api_too_many_requests_honours_retry_after() {
    let fm = api_model();
    for plugin in [ANALYZE, AUDIT, EXEC] {
        let fault = format!("{PODS},status=429,retry-after=1,times=1");
        let fx = Fixture::start(&state("demo"), &["--fault", &fault]);
        let started = Instant::now();
        let out = run(&mut api_command(plugin, &fx, &fm, &[]));
        check(&format!("{plugin} {fault}"), &out, ok(if plugin == ANALYZE { 1 } else { 0 }));
        assert!(started.elapsed() >= Duration::from_secs(1), "{plugin}: Retry-After: 1 was honoured");
        assert!(!out.stderr.contains("warning"), "{plugin}: {}", out.stderr);
        if plugin == EXEC {
            assert!(exec_tool_result(&fm).contains("checkout"), "kubectl retried: {}", exec_tool_result(&fm));
        }
    }
    // A server that asks for longer than a command should wait: not slept through.
    let fx = Fixture::start(&state("demo"), &["--fault", &format!("{PODS},status=429,retry-after=3600")]);
    let started = Instant::now();
    let out = run(&mut api_command(ANALYZE, &fx, &fm, &[]));
    check("analyze 429 Retry-After: 3600", &out, warns(1, "warning: cannot list pods"));
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn api_latency_above_the_request_timeout() {
    let fm = api_model();
    let slow = format!("{PODS},latency=5000");
    let timeout = ["--request-timeout", "1s"];
    let timed_out = "the request timed out (see --request-timeout)";
    for (plugin, fault, want) in [
        (ANALYZE, slow.as_str(), fails(3, timed_out)),
        (AUDIT, slow.as_str(), fails(3, timed_out)),
        (GEN, "resource=configmaps,method=PATCH,latency=5000", warns(0, timed_out)),
        (EXEC, slow.as_str(), ok(0)),
    ] {
        let fx = Fixture::start(&state("demo"), &["--fault", fault]);
        let started = Instant::now();
        let out = run(&mut api_command(plugin, &fx, &fm, &timeout));
        check(&format!("{plugin} {fault}"), &out, want);
        assert!(started.elapsed() < Duration::from_secs(5), "{plugin} gave up at the timeout");
    }
    assert!(exec_tool_result(&fm).contains("Unable to connect to the server"), "{}", exec_tool_result(&fm));
}

#[test]
fn api_an_expired_continue_token_restarts_the_list() {
    for plugin in [ANALYZE, AUDIT] {
        let clean = Fixture::start(&state("demo"), &["--max-page", "2"]);
        let without = run(&mut clean.plugin(plugin, &["-A", "-o", "json"]));
        let fx = Fixture::start(&state("demo"), &["--max-page", "2", "--fault", "continue=true,status=410,times=1"]);
        let out = run(&mut fx.plugin(plugin, &["-A", "-o", "json"]));
        check(&format!("{plugin} 410"), &out, ok(without.code));
        same_findings(plugin, &out, &without);
        assert!(fx.requests().iter().any(|r| r["code"] == 410), "{plugin}: the fault fired");
    }
}

/// Connection refused, an unknown CA, a rejected token: the cluster cannot be used at all.
#[test]
fn api_the_cluster_cannot_be_used() {
    let fm = api_model();
    let fx = Fixture::start(&state("demo"), &["--tls"]);
    fx.distrust(&Fixture::start(&state("healthy"), &["--tls"]));
    let unknown_ca = fx.kubeconfig();
    let (refused, _) = refused_kubeconfig(fm.dir.path());
    let with_token = Fixture::start(&state("demo"), &["--token", "right"]);
    let wrong_token = fm.dir.path().join("wrong-token.kubeconfig");
    std::fs::write(&wrong_token, std::fs::read_to_string(with_token.kubeconfig()).unwrap().replace("right", "expired"))
        .unwrap();
    let cases = [
        (&refused, "connection refused", "Connection refused"),
        (&unknown_ca, "unknown CA", "certificate"),
        (&wrong_token, "401", "rejected the credentials (401 Unauthorized)"),
    ];
    for (kubeconfig, case, text) in cases {
        for plugin in [ANALYZE, AUDIT, GEN, EXEC] {
            let mut cmd = api_command(plugin, &fx, &fm, &[]);
            cmd.env("KUBECONFIG", kubeconfig);
            let out = run(&mut cmd);
            let want = if plugin == GEN { warns(0, "no cluster to check against") } else { fails(3, "") };
            check(&format!("{plugin} {case}"), &out, want);
            assert!(out.stderr.contains(text), "{plugin} {case}: {}", out.stderr);
            // gen --apply needs the cluster it cannot use.
            if plugin == GEN {
                let mut apply = api_command(GEN, &fx, &fm, &["--apply", "--yes"]);
                check(&format!("gen --apply {case}"), &run(apply.env("KUBECONFIG", kubeconfig)), fails(3, text));
            }
        }
    }
    assert!(fm.requests().iter().all(|r| !r.to_string().contains("what pods")), "exec asked nothing");
}

// ---------------------------------------------------------------------------------------------
// Model faults

/// Every path that talks to a model.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Path {
    Explain,
    Diagnose,
    Logs,
    AuditExplain,
    Gen,
    Exec,
}

const PATHS: [Path; 6] = [Path::Explain, Path::Diagnose, Path::Logs, Path::AuditExplain, Path::Gen, Path::Exec];

impl Path {
    /// A reply this path takes as a good answer, and the exit code it then ends with.
    fn success(self) -> (Value, i32) {
        match self {
            Path::Explain => {
                (json!({"content": "```json\n{\"cause\": \"the cause\", \"fix\": [\"kubectl get pods\"]}\n```"}), 1)
            }
            Path::Diagnose => (json!({"content": "## Root cause\nThe config file is missing."}), 1),
            Path::Logs => (json!({"content": "The database refuses the connection."}), 0),
            Path::AuditExplain => (json!({"content": "Set allowPrivilegeEscalation to false."}), 0),
            Path::Gen => (
                json!({"content": "```yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: fast\n```"}),
                0,
            ),
            Path::Exec => (json!({"content": "There are three pods."}), 0),
        }
    }

    fn streams(self) -> bool {
        matches!(self, Path::Diagnose | Path::Logs)
    }

    /// The command, its stdin, with a profile that retries 3 times quickly and waits 1 s.
    fn command(self, fm: &FakeModel, fx: &Fixture) -> (Command, Vec<u8>) {
        let config = fm.dir.path().join("hardening.toml");
        std::fs::write(
            &config,
            "default_profile = \"h\"\n[profiles.h]\nretries = 3\nretry_base = \"10ms\"\nfirst_byte_timeout = \"1s\"\n",
        )
        .unwrap();
        let explain = state("explain");
        let explain = explain.to_str().unwrap();
        let manifests = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("audit/manifests/web.yaml");
        let mut cmd = fm.command(match self {
            Path::Explain | Path::Diagnose | Path::Logs => ANALYZE,
            Path::AuditExplain => AUDIT,
            Path::Gen => GEN,
            Path::Exec => EXEC,
        });
        cmd.env("OPSAGENT_CONFIG", &config).env("KUBECONFIG", fx.kubeconfig());
        let mut stdin = Vec::new();
        match self {
            Path::Explain => {
                cmd.args(["--snapshot", explain, "--explain", "-l", "app=web", "--no-cache", "-o", "json"])
            }
            Path::Diagnose => cmd.args(["--snapshot", explain, "pod", "orders-0", "-n", "shop"]),
            Path::Logs => {
                stdin = b"2026-05-01T11:55:00Z ERROR connection refused by db:5432\n".to_vec();
                cmd.args(["-"])
            }
            Path::AuditExplain => cmd.arg("-f").arg(manifests).args(["--checks", "POD-017", "--explain"]),
            Path::Gen => cmd.args(["a config map", "--no-cluster"]),
            Path::Exec => {
                // The question carries its data (stdin), so an answer without tools is no nudge.
                stdin = b"NAME READY STATUS\nweb-0 1/1 Running\n".to_vec();
                cmd.env("KUBECACHEDIR", fm.dir.path().join("kubecache")).args(["how many pods are in this list?"])
            }
        };
        (cmd, stdin)
    }
}

fn run_path(path: Path, replies: &[Value], fx: &Fixture) -> (Run, FakeModel) {
    let fm = FakeModel::start(&json!({ "replies": replies }).to_string(), &[]);
    let (mut cmd, stdin) = path.command(&fm, fx);
    let out = if stdin.is_empty() { run(&mut cmd) } else { run_with_stdin(&mut cmd, &stdin) };
    (out, fm)
}

#[test]
fn model_transient_failures_are_retried() {
    let fx = Fixture::start(&state("demo"), &["--namespace", "shop"]);
    for path in PATHS {
        let (good, code) = path.success();
        let cases = [
            ("429 with Retry-After", vec![json!({"status": 429, "retry_after": 1}), good.clone()], 2),
            ("429 without Retry-After", vec![json!({"status": 429}), good.clone()], 2),
            (
                "500, 502, 503",
                vec![json!({"status": 500}), json!({"status": 502}), json!({"status": 503}), good.clone()],
                4,
            ),
        ];
        for (case, replies, requests) in cases {
            let started = Instant::now();
            let (out, fm) = run_path(path, &replies, &fx);
            check(&format!("{path:?} {case}"), &out, ok(code));
            assert_eq!(fm.requests().len(), requests, "{path:?} {case}");
            if case == "429 with Retry-After" {
                assert!(started.elapsed() >= Duration::from_secs(1), "{path:?}: Retry-After: 1 honoured");
            }
        }
    }
}

#[test]
fn model_failures_that_last_are_one_line_and_exit_5() {
    let fx = Fixture::start(&state("demo"), &["--namespace", "shop"]);
    for path in PATHS {
        let cases = [
            ("503 forever", json!({"status": 503}), "after 4 attempts"),
            ("hang past the timeout", json!({"delay_ms": 10000, "content": "late"}), "sent nothing for 1s"),
            ("empty choices", json!({"choices": false}), "the answer has no choices"),
            ("not JSON", json!({"raw": "<html>bad gateway</html>"}), "not JSON"),
        ];
        for (case, reply, text) in cases {
            let started = Instant::now();
            let (out, _fm) = run_path(path, &[reply], &fx);
            // explain too: no problem at all could be explained (docs/exit-codes.md).
            check(&format!("{path:?} {case}"), &out, fails(5, text));
            assert!(started.elapsed() < Duration::from_secs(9), "{path:?} {case}: gave up in time");
        }
        if path.streams() {
            let (out, _fm) = run_path(path, &[json!({"content": "partial answer", "stream_cut": true})], &fx);
            check(&format!("{path:?} stream cut"), &out, fails(5, "cut its answer short"));
        }
    }
}

#[test]
fn model_replies_in_the_wrong_shape() {
    let fx = Fixture::start(&state("demo"), &["--namespace", "shop"]);
    let call = |name: &str, args: &str| json!({"content": "", "finish_reason": "tool_calls", "tool_calls": [{"id": "c0", "type": "function", "function": {"name": name, "arguments": args}}]});
    for path in PATHS {
        let (good, code) = path.success();
        // An answer cut at the token limit.
        let mut cut = good.clone();
        cut["finish_reason"] = json!("length");
        let (out, _) = run_path(path, &[cut], &fx);
        check(&format!("{path:?} finish_reason length"), &out, ok(if path == Path::Explain { 1 } else { code }));
        assert!(out.stderr.contains("cut"), "{path:?}: the truncation is said: {}", out.stderr);
        // A tool call where text was expected.
        if path != Path::Exec {
            let (out, _) = run_path(path, &[call("kubectl", "{\"command\": \"get pods\"}")], &fx);
            check(
                &format!("{path:?} tool call instead of text"),
                &out,
                fails(5, "a call of tool \"kubectl\" where text was expected"),
            );
        }
    }
    // exec: bad calls are the tool's errors and the model goes on.
    let good = Path::Exec.success().0;
    for (case, reply, said) in [
        ("arguments not JSON", call("kubectl", "get pods -n shop"), "arguments are not JSON"),
        ("unknown tool", call("helm", "{\"args\": \"list\"}"), "there is no tool \"helm\""),
        ("no command", call("kubectl", "{}"), "command"),
    ] {
        let (out, fm) = run_path(Path::Exec, &[reply, good.clone()], &fx);
        check(&format!("exec {case}"), &out, ok(0));
        assert_eq!(out.stdout.trim(), "There are three pods.");
        assert!(exec_tool_result(&fm).contains(said), "{case}: {}", exec_tool_result(&fm));
    }
    // The same call forever stops the loop; text where a call was expected is the answer.
    let (out, fm) = run_path(Path::Exec, &[call("kubectl", "{\"command\": \"get pods -n shop\"}")], &fx);
    check("exec repeated call", &out, warns(1, "the same"));
    assert!(fm.requests().len() <= 4, "stopped early: {}", fm.requests().len());
    let (out, _) = run_path(Path::Exec, &[json!({"content": "Probably three."})], &fx);
    check("exec text without a call", &out, ok(0));
}

// ---------------------------------------------------------------------------------------------
// Bad input

#[test]
fn bad_input_is_one_line_with_its_exit_code() {
    let fx = Fixture::start(&state("demo"), &["--namespace", "shop"]);
    let fm = api_model();
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).display().to_string();
    std::fs::write(p("garbage.kubeconfig"), "{{{ not yaml").unwrap();
    std::fs::write(p("bad.yaml"), "apiVersion: v1\nkind: Pod\nmetadata: [unclosed\n").unwrap();
    std::fs::create_dir(p("snap")).unwrap();
    std::fs::write(p("snap/state.yaml"), "kind: Pod\n  bad: indentation\n- x").unwrap();
    let missing = p("missing.kubeconfig");
    let garbage = p("garbage.kubeconfig");
    let bad_yaml = p("bad.yaml");
    let snap = p("snap");
    let nothing = p("nothing-here");
    let kc = fx.kubeconfig().display().to_string();
    #[rustfmt::skip]
    let cases: Vec<(&str, Vec<&str>, Want)> = vec![
        // kubeconfig and context
        (ANALYZE, vec!["--kubeconfig", &missing], fails(3, "missing.kubeconfig")),
        (AUDIT, vec!["--kubeconfig", &missing], fails(3, "missing.kubeconfig")),
        (EXEC, vec!["--kubeconfig", &missing, "hi"], fails(3, "missing.kubeconfig")),
        (GEN, vec!["--kubeconfig", &missing, "a pod", "--apply", "--yes"], fails(3, "missing.kubeconfig")),
        (ANALYZE, vec!["--kubeconfig", &garbage], fails(3, "garbage.kubeconfig")),
        (AUDIT, vec!["--kubeconfig", &garbage], fails(3, "garbage.kubeconfig")),
        (EXEC, vec!["--kubeconfig", &garbage, "hi"], fails(3, "garbage.kubeconfig")),
        (ANALYZE, vec!["--kubeconfig", &kc, "--context", "nope"], fails(3, "nope")),
        (AUDIT, vec!["--kubeconfig", &kc, "--context", "nope"], fails(3, "nope")),
        (EXEC, vec!["--kubeconfig", &kc, "--context", "nope", "hi"], fails(3, "nope")),
        (GEN, vec!["--kubeconfig", &kc, "--context", "nope", "a pod", "--apply", "--yes"], fails(3, "nope")),
        // unknown values
        (ANALYZE, vec!["--analyzers", "Nope"], fails(2, "Nope")),
        (ANALYZE, vec!["--skip-analyzers", "Nope"], fails(2, "Nope")),
        (ANALYZE, vec!["-o", "xml"], fails(2, "xml")),
        (AUDIT, vec!["--level", "extreme"], fails(2, "extreme")),
        (AUDIT, vec!["-o", "xml"], fails(2, "xml")),
        (AUDIT, vec!["--checks", "POD-999"], fails(2, "POD-999")),
        (AUDIT, vec!["--fail-on", "apocalyptic"], fails(2, "apocalyptic")),
        (EXEC, vec!["-o", "xml", "hi"], fails(2, "xml")),
        (GEN, vec!["--max-repairs", "many", "a pod"], fails(2, "many")),
        (ANALYZE, vec!["--request-timeout", "soon"], fails(2, "soon")),
        // empty prompts
        (GEN, vec![""], fails(2, "")),
        (GEN, vec!["   "], fails(2, "")),
        (EXEC, vec!["  "], fails(2, "give a question")),
        // invalid YAML
        (AUDIT, vec!["-f", &bad_yaml], fails(2, "bad.yaml:3: unclosed bracket")),
        (ANALYZE, vec!["--snapshot", &bad_yaml], fails(2, "bad.yaml")),
        (ANALYZE, vec!["--snapshot", &snap], fails(2, "state.yaml")),
        (AUDIT, vec!["--snapshot", &snap], fails(2, "state.yaml")),
        (AUDIT, vec!["-f", &nothing], fails(2, "nothing-here")),
        // conflicting flags
        (ANALYZE, vec!["-A", "-n", "shop"], fails(2, "")),
        (AUDIT, vec!["-A", "-n", "shop"], fails(2, "")),
        (ANALYZE, vec!["--snapshot", &snap, "--all-contexts"], fails(2, "")),
        (AUDIT, vec!["-f", &bad_yaml, "--snapshot", &snap], fails(2, "")),
        (GEN, vec!["a pod", "--apply", "--no-cluster"], fails(2, "")),
        (EXEC, vec!["--read-only", "--yes", "delete pod x"], fails(2, "")),
    ];
    for (plugin, args, want) in cases {
        let mut cmd = fm.command(plugin);
        cmd.env("KUBECONFIG", &kc).env("KUBECACHEDIR", dir.path().join("cache")).args(&args);
        check(&format!("{plugin} {args:?}"), &run(&mut cmd), want);
    }
}

#[test]
fn bad_stdin_is_one_line_with_its_exit_code() {
    let fx = Fixture::start(&state("demo"), &["--namespace", "shop"]);
    let fm = FakeModel::start("replies:\n  - content: Fine.\n", &[]);
    let huge = vec![b'x'; 100 * 1024 * 1024];
    let not_utf8: &[u8] = b"kind: Pod\nmetadata: {name: \xff\xfe}\n";
    let cases: [(&str, &[&str], &[u8], Want); 7] = [
        (ANALYZE, &["-"], &huge, warns(0, "warning: stdin is larger than 64 MiB")),
        (AUDIT, &["-f", "-"], &huge, fails(2, "expected a Kubernetes object")),
        (GEN, &["a pod", "--no-cluster"], &huge, fails(2, "stdin: is larger than 16 MiB")),
        (EXEC, &["why?"], &huge, warns(0, "warning: stdin is larger than 8 MiB")),
        (ANALYZE, &["-"], not_utf8, warns(0, "warning: stdin is not UTF-8")),
        (AUDIT, &["-f", "-"], not_utf8, fails(2, "UTF-8")),
        (GEN, &["a pod", "--no-cluster"], not_utf8, fails(2, "UTF-8")),
    ];
    for (plugin, args, input, want) in cases {
        let mut cmd = fm.command(plugin);
        cmd.env("KUBECONFIG", fx.kubeconfig()).args(args);
        let started = Instant::now();
        let out = run_with_stdin(&mut cmd, input);
        check(&format!("{plugin} {args:?} ({} bytes)", input.len()), &out, want);
        assert!(started.elapsed() < Duration::from_secs(20), "{plugin}: refused quickly");
    }
    let sent = fm.requests();
    assert_eq!(sent.len(), 3, "analyze (twice) and exec asked, with what fits");
    for r in sent {
        assert!(r.to_string().len() < 1024 * 1024, "within the window");
    }
}

/// A directory with a file nobody may read: audited file by file, the unreadable one reported.
#[test]
fn an_unreadable_file_in_a_directory_is_reported_and_the_rest_audited() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let web = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("audit/manifests/web.yaml");
    std::fs::copy(&web, dir.path().join("web.yaml")).unwrap();
    // A link to nowhere cannot be read by anyone, root included; a file without permissions
    // cannot be read by anyone else.
    std::os::unix::fs::symlink(dir.path().join("gone.yaml"), dir.path().join("dangling.yaml")).unwrap();
    let locked = dir.path().join("locked.yaml");
    std::fs::copy(&web, &locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let root = std::fs::read(&locked).is_ok();
    let out = run(Command::new(bin(AUDIT)).arg("-f").arg(dir.path()).args(["-o", "json"]));
    check("audit unreadable file", &out, warns(4, "dangling.yaml"));
    assert_eq!(out.stderr.contains("locked.yaml"), !root, "{}", out.stderr);
    assert!(!out.json()["findings"].as_array().unwrap().is_empty(), "web.yaml was audited");
}

/// Output files are written whole or not at all.
#[test]
fn output_files_are_never_half_written() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("dump.json");
    std::fs::write(&target, "previous").unwrap();
    // A dump that fails (unreachable cluster) leaves the previous file as it was.
    let (refused, _) = refused_kubeconfig(dir.path());
    let out = run(Command::new(bin(ANALYZE))
        .env("KUBECONFIG", &refused)
        .args(["--dump"])
        .arg(&target)
        .args(["--request-timeout", "2s"]));
    check("analyze --dump unreachable", &out, fails(3, ""));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "previous");
    // gen -o FILE with manifests that stay invalid writes nothing.
    let fm = FakeModel::start(
        "replies:\n  - content: \"```yaml\\nkind: Pod\\nmetadata: {name: x}\\nspec: {containerz: []}\\n```\"\n",
        &[],
    );
    let saved = dir.path().join("out.yaml");
    let out = run(fm.command(GEN).args(["a pod", "--no-cluster", "--max-repairs", "1", "--output-file"]).arg(&saved));
    check("gen --save invalid", &out, warns(1, "nothing was written"));
    assert!(!saved.exists(), "nothing written");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 2, "no temporary file left behind: {leftovers:?}");
}

/// docs/reliability.md names every matrix test, so that the table and the tests stay one list.
#[test]
fn the_reliability_doc_lists_every_matrix_test() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("../docs/reliability.md")).unwrap();
    for file in ["tests/it/hardening.rs", "tests/it/canary.rs"] {
        let source = std::fs::read_to_string(root.join(file)).unwrap();
        let lines: Vec<&str> = source.lines().collect();
        let tests: Vec<&str> = lines
            .windows(2)
            .filter(|w| w[0].trim() == "#[test]")
            .filter_map(|w| w[1].strip_prefix("fn ")?.split('(').next())
            .filter(|name| *name != "the_reliability_doc_lists_every_matrix_test")
            .collect();
        assert!(tests.len() >= 2, "{file}");
        for name in tests {
            assert!(
                doc.contains(&format!("`{name}`")) || doc.contains(&format!("::{name}`")),
                "{file}: {name} is not in docs/reliability.md"
            );
        }
    }
}
