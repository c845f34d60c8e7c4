//! What real model servers do that a client must survive (issue 20): slow CPU servers, streams
//! that stall, keep-alives, errors inside a 200, empty answers, small context windows, tool calls
//! written as text, answers that never looked at the cluster — each against the fake model, which
//! reproduces the servers' own shapes and words. Also the team's house rules in every prompt.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{FakeModel, Fixture, run, run_with_stdin, state};

const ANALYZE: &str = "kubectl-ai-analyze";
const AUDIT: &str = "kubectl-ai-audit";
const EXEC: &str = "kubectl-ai-exec";
const GEN: &str = "kubectl-ai-gen";

const LOG: &str = "2026-05-01T11:55:00Z ERROR connection refused by db:5432\n";

fn fake(script: Value) -> FakeModel {
    FakeModel::start(&script.to_string(), &[])
}

/// A profile with the given lines, as the default.
fn profile(fm: &FakeModel, lines: &str) -> std::path::PathBuf {
    let path = fm.dir.path().join("quirks.toml");
    std::fs::write(&path, format!("default_profile = \"q\"\n[profiles.q]\n{lines}\n")).unwrap();
    path
}

fn explain_stdin(fm: &FakeModel, config: &std::path::Path, extra: &[&str], input: &str) -> crate::support::Run {
    run_with_stdin(fm.command(ANALYZE).env("OPSAGENT_CONFIG", config).arg("-").args(extra), input.as_bytes())
}

/// `analyze -` of [`LOG`] through Ollama's native API at the fake model.
fn explain_with_ollama(fm: &FakeModel, extra: &[&str]) -> crate::support::Run {
    let mut cmd = fm.command(ANALYZE);
    cmd.env_remove("OPENAI_API_KEY").env("OLLAMA_HOST", &fm.url).args(["-", "--provider", "ollama"]).args(extra);
    run_with_stdin(&mut cmd, LOG.as_bytes())
}

/// A log of `lines` distinct lines: they differ in words, not numbers (numbers are folded when
/// repeats are collapsed).
fn big_log(lines: usize) -> String {
    let word = |mut n: usize| {
        let mut w = String::new();
        for _ in 0..4 {
            w.push((b'a' + (n % 26) as u8) as char);
            n /= 26;
        }
        w
    };
    (0..lines)
        .map(|i| format!("ERROR user {} denied by policy {} on shard {}\n", word(i), word(i * 7 + 3), word(i * 13 + 5)))
        .collect()
}

#[test]
fn a_slow_first_byte_is_waited_for_and_a_stalled_stream_is_not() {
    // A CPU server reading the prompt for 1.5 s: read_timeout (between bytes) is 300 ms, which
    // used to cover the whole wait and threw the answer away.
    let fm = fake(json!({"replies": [{"delay_ms": 1500, "content": "The database refuses connections."}]}));
    let config = profile(&fm, "read_timeout = \"300ms\"\nretries = 0");
    let out = explain_stdin(&fm, &config, &[], LOG);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("The database refuses connections."), "{}", out.stdout);
    assert_eq!(fm.requests().len(), 1, "answered once, never started over");

    // The same server stalling in the middle of its answer: between bytes is what is timed.
    let fm = fake(json!({"replies": [{"chunk_delay_ms": 1500, "content": "The database refuses connections."}]}));
    let config = profile(&fm, "read_timeout = \"300ms\"\nretries = 0");
    let started = Instant::now();
    let out = explain_stdin(&fm, &config, &[], LOG);
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(out.stderr.contains("went silent for 300ms in the middle of its answer"), "{}", out.stderr);
    assert!(started.elapsed() < Duration::from_secs(10));

    // Nothing at all within first_byte_timeout.
    let fm = fake(json!({"replies": [{"delay_ms": 5000, "content": "late"}]}));
    let config = profile(&fm, "first_byte_timeout = \"500ms\"\nretries = 0");
    let out = explain_stdin(&fm, &config, &[], LOG);
    assert_eq!(out.code, 5, "{}", out.stderr);
    out.assert_one_error_line();
    assert!(out.stderr.contains("sent nothing for 500ms while reading the prompt"), "{}", out.stderr);
}

#[test]
fn keep_alive_comments_do_not_move_the_deadline() {
    // A server that sends `: keep-alive` every 200 ms and never answers (a streamed diagnosis once
    // sat silent for 24 minutes behind one): --timeout ends it, on every model-using plugin.
    let fm = fake(json!({"replies": [{"keepalive_ms": 200}]}));
    let config = profile(&fm, "read_timeout = \"1s\"\nretries = 0");
    let started = Instant::now();
    let out = explain_stdin(&fm, &config, &["--timeout", "2s"], LOG);
    assert_eq!(out.code, 5, "{}", out.stderr);
    out.assert_one_error_line();
    assert!(out.stderr.contains("did not answer within the time left for this question (--timeout)"), "{}", out.stderr);
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(8), "{took:?}");
    for (plugin, args) in [(GEN, vec!["a config map", "--no-cluster"]), (AUDIT, vec!["--help"])] {
        let help = run(fm.command(plugin).arg("--help"));
        assert!(help.stdout.contains("--timeout <DURATION>"), "{plugin} {args:?}: {}", help.stdout);
    }
}

#[test]
fn errors_inside_a_stream_and_empty_answers_are_reported_in_the_servers_words() {
    for (reply, says) in [
        (
            json!({"content": "The data", "stream_error": "CUDA error: out of memory"}),
            "reported an error instead of an answer: CUDA error: out of memory",
        ),
        (json!({"empty": true}), "answered with nothing (an empty 200 answer)"),
    ] {
        let fm = fake(json!({"replies": [reply]}));
        let config = profile(&fm, "retries = 3\nretry_base = \"10ms\"");
        let out = explain_stdin(&fm, &config, &[], LOG);
        assert_eq!(out.code, 5, "{}", out.stderr);
        assert!(out.stderr.contains(says), "{}", out.stderr);
        assert!(!out.stderr.contains("cut its answer short"), "{}", out.stderr);
        assert_eq!(fm.requests().len(), 1, "{says}: not retried, the server said why");
    }
}

#[test]
fn streamed_requests_ask_for_usage_where_supported() {
    let fm = fake(json!({"replies": [{"content": "Fine."}]}));
    let config = profile(&fm, "");
    let out = explain_stdin(&fm, &config, &[], LOG);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let body = fm.requests()[0]["body"].clone();
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    // Ollama's native API reports its counts by itself and has no such option.
    let out = explain_with_ollama(&fm, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let body = fm.requests().last().unwrap()["body"].clone();
    assert!(body.get("stream_options").is_none(), "{body}");
}

/// The fake server's window is 4,096 tokens and counts 3 characters a token (more than our
/// estimate, as Qwen's tokenizer does); the model name is one whose window the table puts at 128k.
#[test]
fn a_request_too_long_for_the_window_is_rebuilt_once_and_the_window_remembered() {
    let fm = fake(json!({"window": 4096, "replies": [{"content": "The database refuses connections."}]}));
    let config = profile(&fm, "model = \"qwen2.5-coder-7b\"");
    let log = big_log(3000);
    let out = explain_stdin(&fm, &config, &[], &log);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("The database refuses connections."));
    assert!(out.stderr.contains("too long for its 4096-token window"), "{}", out.stderr);
    let requests = fm.requests();
    assert_eq!(requests.len(), 2, "rejected once, rebuilt once");
    let user = requests[1]["body"]["messages"][1]["content"].as_str().unwrap();
    assert!(user.contains("[… cut to fit the model's 4096-token window …]"), "the cut is marked");
    let last = log.lines().last().unwrap();
    assert!(user.contains(last), "the latest lines are kept");
    assert!(requests[1]["body"]["max_tokens"].as_u64().unwrap() <= 1024);

    // The window is remembered for this endpoint and model: the next run fits at once.
    let out = explain_stdin(&fm, &config, &[], &log);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fm.requests().len(), 3, "no rejection the second time");
    let windows = std::fs::read_to_string(fm.dir.path().join("cache/opsagent/windows.json")).unwrap();
    assert!(windows.contains("qwen2.5-coder-7b") && windows.contains("4096"), "{windows}");
}

#[test]
fn exec_fits_a_large_tool_result_into_a_small_window() {
    let fx = Fixture::start(&state("demo"), &["--namespace", "shop"]);
    let call = json!({"content": "", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "kubectl", "arguments": "{\"command\": \"get pods -A -o yaml\"}"}}]});
    let fm = fake(json!({"window": 4096, "replies": [call, {"content": "Six pods."}]}));
    let config = profile(&fm, "model = \"qwen2.5-coder-7b\"");
    let out = run(fm
        .command(EXEC)
        .env("OPSAGENT_CONFIG", &config)
        .env("KUBECONFIG", fx.kubeconfig())
        .env("KUBECACHEDIR", fm.dir.path().join("kubecache"))
        .arg("how many pods are there?"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("Six pods."), "{}", out.stdout);
    let requests = fm.requests();
    assert_eq!(requests.len(), 3, "the call, the rejected answer request, the one rebuilt");
    let tool =
        requests[2]["body"]["messages"].as_array().unwrap().iter().find(|m| m["role"] == "tool").unwrap().clone();
    assert!(tool["content"].as_str().unwrap().contains("cut to fit the model's 4096-token window"), "{tool}");
}

#[test]
fn a_server_that_reports_its_window_is_sized_right_from_the_start() {
    // llama.cpp's /props names the window it runs at.
    let fm = fake(json!({
        "window": 2048,
        "endpoints": {"/props": {"default_generation_settings": {"n_ctx": 2048}}},
        "replies": [{"content": "The database refuses connections."}]
    }));
    let config = profile(&fm, "model = \"qwen2.5-coder-7b\"");
    let out = explain_stdin(&fm, &config, &[], &big_log(2000));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fm.requests().len(), 1, "sized to 2,048 tokens before the first request");
    assert!(fm.all_requests().iter().any(|r| r["path"] == "/props"));

    // vLLM's /v1/models (max_model_len) does the same.
    let fm = fake(json!({
        "window": 2048,
        "endpoints": {"/v1/models": {"data": [{"id": "qwen2.5-coder-7b", "max_model_len": 2048}]}},
        "replies": [{"content": "ok"}]
    }));
    let config = profile(&fm, "model = \"qwen2.5-coder-7b\"");
    let out = explain_stdin(&fm, &config, &[], &big_log(2000));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fm.requests().len(), 1);

    // Ollama's native API: /api/show, and num_ctx sent with every request.
    let fm = fake(json!({
        "endpoints": {"/api/show": {"parameters": "stop \"<|im_end|>\"", "model_info": {"qwen2.context_length": 32768}}},
        "replies": [{"content": "ok"}]
    }));
    let out = explain_with_ollama(&fm, &["--model", "qwen2.5"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        fm.requests()[0]["body"]["options"]["num_ctx"],
        16384,
        "the trained 32k, bounded by what Ollama is asked for"
    );

    // A dry run asks nothing of the server.
    let before = fm.all_requests().len();
    let out = explain_with_ollama(&fm, &["--dry-run"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fm.all_requests().len(), before);
}

fn exec_run(fm: &FakeModel, fx: &Fixture, args: &[&str]) -> crate::support::Run {
    run(fm
        .command(EXEC)
        .env("KUBECONFIG", fx.kubeconfig())
        .env("KUBECACHEDIR", fm.dir.path().join("kubecache"))
        .env("OPSAGENT_AUDIT_LOG", fm.dir.path().join("audit.jsonl"))
        .args(args))
}

#[test]
fn tool_calls_written_as_text_run_through_the_same_guard() {
    let fx = Fixture::start(&state("demo"), &["--namespace", "shop"]);
    for written in [
        "<tool_call>\n{\"name\": \"kubectl\", \"arguments\": {\"command\": \"get ns -o name\"}}\n</tool_call>",
        "```json\n{\"name\": \"kubectl\", \"arguments\": {\"command\": \"get ns -o name\"}}\n```",
    ] {
        let fm = fake(json!({"replies": [{"content": written}, {"content": "Those are the namespaces."}]}));
        let out = exec_run(&fm, &fx, &["which namespaces are there?", "-o", "json"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let report: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(report["steps"][0]["tool"], "kubectl", "{written}");
        assert_eq!(report["answer"], "Those are the namespaces.");
        assert_eq!(report["grounded"], true);
        let second = &fm.requests()[1]["body"]["messages"];
        let call = second.as_array().unwrap().iter().find(|m| m["role"] == "assistant").unwrap();
        assert_eq!(call["tool_calls"][0]["function"]["name"], "kubectl");
        let result = second.as_array().unwrap().iter().find(|m| m["role"] == "tool").unwrap();
        assert_eq!(result["tool_call_id"], call["tool_calls"][0]["id"]);
        assert!(result["content"].as_str().unwrap().contains("namespace/shop"), "{result}");
    }
    // A change written as text is a change: asked for, and refused without a terminal.
    let delete = "<tool_call>{\"name\": \"kubectl\", \"arguments\": {\"command\": \"delete pod storefront-7d4b9c6f8-9k2lm -n shop\"}}</tool_call>";
    let fm = fake(json!({"replies": [{"content": delete}, {"content": "Deleted."}]}));
    let out = exec_run(&fm, &fx, &["delete storefront-7d4b9c6f8-9k2lm"]);
    assert_eq!(out.code, 6, "{}", out.stderr);
    assert!(
        out.stderr.contains("not done: kubectl ")
            && out.stderr.contains(" pod storefront-7d4b9c6f8-9k2lm (no terminal)"),
        "{}",
        out.stderr
    );
    let pods = run(&mut fx.kubectl(&["get", "pods", "-n", "shop", "-o", "name"]));
    assert!(pods.stdout.lines().any(|l| l == "pod/storefront-7d4b9c6f8-9k2lm"), "still there: {}", pods.stdout);
    // A tool that is not on offer is not a call.
    let fm =
        fake(json!({"replies": [{"content": "{\"name\": \"bash\", \"arguments\": {\"cmd\": \"cat /etc/passwd\"}}"}]}));
    let out = exec_run(&fm, &fx, &["what is in passwd?", "-o", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["steps"], json!([]));
    assert_eq!(report["grounded"], false);
}

#[test]
fn exec_through_ollamas_native_api_calls_tools_unstreamed_and_answers() {
    let fx = Fixture::start(&state("demo"), &["--namespace", "shop"]);
    let call = json!({"content": "", "tool_calls": [{"id": "x", "type": "function", "function": {"name": "kubectl", "arguments": "{\"command\": \"get ns -o name\"}"}}]});
    let fm = fake(json!({"replies": [call, {"content": "Five namespaces."}]}));
    let out = run(fm
        .command(EXEC)
        .env_remove("OPENAI_API_KEY")
        .env("OLLAMA_HOST", &fm.url)
        .env("KUBECONFIG", fx.kubeconfig())
        .env("KUBECACHEDIR", fm.dir.path().join("kubecache"))
        .env("OPSAGENT_AUDIT_LOG", fm.dir.path().join("audit.jsonl"))
        .args(["--provider", "ollama", "how many namespaces?", "-o", "json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["steps"][0]["input"], "get ns -o name", "{report}");
    assert_eq!(report["answer"], "Five namespaces.");
    let requests = fm.requests();
    assert_eq!(requests.len(), 2);
    for r in &requests {
        assert!(r["path"].as_str().unwrap().ends_with("/api/chat"), "{r}");
        // Ollama has dropped tool calls from streamed answers: tool turns are not streamed.
        assert_eq!(r["body"]["stream"], false, "{r}");
        assert!(r["body"]["tools"].is_array(), "{r}");
    }
    // Ollama's arguments are objects; the call's result went back as a tool message.
    let sent = requests[1]["body"]["messages"].as_array().unwrap();
    let call = sent.iter().find(|m| m["role"] == "assistant").unwrap();
    assert_eq!(call["tool_calls"][0]["function"]["arguments"]["command"], "get ns -o name", "{call}");
    let result = sent.iter().find(|m| m["role"] == "tool").unwrap();
    assert!(result["content"].as_str().unwrap().contains("namespace/shop"), "{result}");
}

#[test]
fn an_answer_that_never_looked_gets_one_nudge() {
    let fx = Fixture::start(&state("demo"), &["--namespace", "shop"]);
    // The nudge works: the model looks, then answers from what it saw.
    let call = json!({"content": "", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "kubectl", "arguments": "{\"command\": \"get pods -n shop -o name\"}"}}]});
    let fm = fake(json!({"replies": [{"content": "All pods are healthy."}, call, {"content": "web-0 crashes."}]}));
    let out = exec_run(&fm, &fx, &["are my pods healthy?", "-o", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["answer"], "web-0 crashes.");
    assert_eq!(report["grounded"], true);
    let requests = fm.requests();
    assert_eq!(requests.len(), 3);
    let nudge = requests[1]["body"]["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(nudge["role"], "user");
    assert!(nudge["content"].as_str().unwrap().starts_with("You answered without looking at the cluster."));
    // Still no tool: the answer says so.
    let fm = fake(json!({"replies": [{"content": "All pods are healthy."}]}));
    let out = exec_run(&fm, &fx, &["are my pods healthy?"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("Not based on cluster data: no tool was called."), "{}", out.stdout);
    assert_eq!(fm.requests().len(), 2, "one nudge, no more");
}

#[test]
fn house_rules_reach_every_prompt_and_never_a_secret() {
    let fx = Fixture::start(&state("demo"), &["--namespace", "shop"]);
    let fm = fake(
        json!({"replies": [{"match": "allowPrivilegeEscalation", "content": "Set it to false."}, {"content": "```yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: fast\n```"}]}),
    );
    let rules = fm.dir.path().join("rules.md");
    std::fs::write(
        &rules,
        "Never touch kube-system.\nOur registry is registry.example.com.\npassword: hunter2-very-secret\n",
    )
    .unwrap();
    let rules_arg = rules.to_str().unwrap();
    let manifests = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("audit/manifests/web.yaml");
    let runs: Vec<(&str, Vec<&str>, &str)> = vec![
        (ANALYZE, vec!["-"], LOG),
        (GEN, vec!["a config map", "--no-cluster"], ""),
        (AUDIT, vec!["-f", manifests.to_str().unwrap(), "--checks", "POD-017", "--explain"], ""),
        (EXEC, vec!["how many pods?"], "NAME READY\nweb-0 1/1\n"),
    ];
    for (plugin, args, stdin) in &runs {
        let before = fm.requests().len();
        let mut cmd = fm.command(plugin);
        cmd.env("KUBECONFIG", fx.kubeconfig())
            .env("KUBECACHEDIR", fm.dir.path().join("kubecache"))
            .args(args)
            .args(["--instructions", rules_arg]);
        let out = run_with_stdin(&mut cmd, stdin.as_bytes());
        assert!(out.code == 0 || out.code == 1, "{plugin}: {}", out.stderr);
        let sent = &fm.requests()[before..];
        assert!(!sent.is_empty(), "{plugin} asked the model");
        for r in sent {
            let system = r["body"]["messages"][0]["content"].as_str().unwrap();
            assert!(system.contains("\n\n## House rules (from the team's configuration; they never override the rules above)\nNever touch kube-system."), "{plugin}: {system}");
            assert!(system.contains("registry.example.com"), "{plugin}");
            assert!(!system.contains("hunter2-very-secret"), "{plugin}: a secret in the rules is redacted");
        }
    }
    // Dry runs show them, counted.
    let out = run(fm.command(EXEC).env("KUBECONFIG", fx.kubeconfig()).args([
        "how many pods?",
        "--dry-run",
        "--instructions",
        rules_arg,
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("## House rules") && out.stdout.contains("Never touch kube-system."), "{}", out.stdout);
    // The profile's own rules, as text.
    let config = profile(&fm, "instructions = \"Answer in haiku.\"");
    let out = run(fm
        .command(EXEC)
        .env("KUBECONFIG", fx.kubeconfig())
        .env("OPSAGENT_CONFIG", &config)
        .args(["how many pods?", "--dry-run"]));
    assert!(out.stdout.contains("## House rules") && out.stdout.contains("Answer in haiku."), "{}", out.stdout);
    // Bad files: one line, exit 2.
    let huge = fm.dir.path().join("huge.md");
    std::fs::write(&huge, "x".repeat(20_000)).unwrap();
    for (file, says) in [(huge.to_str().unwrap(), "is over 16 KiB"), ("/nonexistent/rules.md", "/nonexistent/rules.md")]
    {
        let out =
            run(fm.command(EXEC).env("KUBECONFIG", fx.kubeconfig()).args(["how many pods?", "--instructions", file]));
        assert_eq!(out.code, 2, "{}", out.stderr);
        out.assert_one_error_line();
        assert!(out.stderr.contains(says), "{}", out.stderr);
    }
}
