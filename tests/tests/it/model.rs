//! The model layer against the fake model: request shapes, retries, budgets, caching, dry runs,
//! anonymization, and secrets that never leave.

use crate::support::{FakeModel, Fixture, clean_model_env, run, state};

const ANALYZE: &str = "kubectl-ai-analyze";
/// An answer to a batch of four problems.
pub(crate) const EXPLANATIONS: &str = "replies:\n  - {content: \"<think>hm</think>```json\\n[{\\\"problem\\\": 1, \\\"cause\\\": \\\"cause 1\\\", \\\"fix\\\": [\\\"kubectl rollout restart deployment/x\\\"]}, {\\\"problem\\\": 2, \\\"cause\\\": \\\"cause 2\\\"}, {\\\"problem\\\": 3, \\\"cause\\\": \\\"cause 3\\\"}, {\\\"problem\\\": 4, \\\"cause\\\": \\\"cause 4\\\"}]\\n```\"}\n";
/// An answer to one problem.
const EXPLANATION: &str = "replies:\n  - {content: \"<think>hm</think>```json\\n{\\\"cause\\\": \\\"the cause\\\", \\\"fix\\\": [\\\"kubectl rollout restart deployment/x\\\"], \\\"verify\\\": \\\"kubectl get pods\\\"}\\n```\"}\n";

fn explained(fm: &FakeModel, args: &[&str]) -> crate::support::Run {
    run(fm.command(ANALYZE).args(args))
}

#[test]
fn one_request_for_the_distinct_problems_and_a_cached_second_run() {
    let fm = FakeModel::start(EXPLANATIONS, &[]);
    let snapshot = state("explain");
    let args = ["--snapshot", snapshot.to_str().unwrap(), "--explain", "-o", "json"];
    let out = explained(&fm, &args);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let requests = fm.requests();
    assert_eq!(requests.len(), 1, "10 identical replicas + 3 other faults: 4 problems in one request");
    let user = requests[0]["body"]["messages"][1]["content"].as_str().unwrap();
    assert_eq!(user.matches("# Problem ").count(), 4, "{user}");
    assert_eq!(requests[0]["body"]["max_tokens"], 1024 + 3 * 512, "the answer has room for four");
    let report = out.json();
    let causes: Vec<&str> =
        report["results"].as_array().unwrap().iter().map(|f| f["explanation"]["cause"].as_str().unwrap()).collect();
    assert_eq!(causes.len(), 4);
    for want in ["cause 1", "cause 2", "cause 3", "cause 4"] {
        assert!(causes.contains(&want), "{causes:?}");
    }
    let api = report["results"].as_array().unwrap().iter().find(|f| f["name"] == "api").unwrap();
    assert_eq!(api["explanation"]["fix"][0], "kubectl rollout restart deployment/x");
    let again = explained(&fm, &args);
    assert_eq!(again.code, 1);
    assert_eq!(fm.requests().len(), 1, "the second run is answered from the cache");
    assert_eq!(again.json()["results"], report["results"]);
    let uncached = explained(&fm, &[&args[..], &["--no-cache"]].concat());
    assert_eq!(uncached.code, 1);
    assert_eq!(fm.requests().len(), 2, "--no-cache asks again");
    let chinese = explained(&fm, &[&args[..], &["--language", "zh"]].concat());
    assert_eq!(chinese.code, 1);
    let requests = fm.requests();
    assert_eq!(requests.len(), 3, "another language is another cache entry");
    assert!(requests[2]["body"]["messages"][0]["content"].as_str().unwrap().contains("Answer in zh"));
}

#[test]
fn one_request_per_problem_with_batch_1_and_a_partial_answer_is_completed() {
    let fm = FakeModel::start(EXPLANATION, &[]);
    let snapshot = state("explain");
    let args = ["--snapshot", snapshot.to_str().unwrap(), "--explain", "--no-cache", "-o", "json"];
    let out = explained(&fm, &[&args[..], &["--batch", "1"]].concat());
    assert_eq!(out.code, 1, "{}", out.stderr);
    let requests = fm.requests();
    assert_eq!(requests.len(), 4, "one request per distinct problem");
    assert!(
        requests
            .iter()
            .all(|r| r["body"]["messages"][1]["content"].as_str().unwrap().matches("# Problem ").count() == 1)
    );
    assert!(requests.iter().all(|r| r["body"]["max_tokens"] == 1024));
    // A batch answered for its first problem only: the three others are asked again, one by one.
    let out = explained(&fm, &args);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let requests = fm.requests();
    assert_eq!(requests.len(), 4 + 1 + 3, "{}", out.stderr);
    assert!(out.json()["results"].as_array().unwrap().iter().all(|f| f["explanation"]["cause"] == "the cause"));
}

#[test]
fn dry_run_sends_nothing_and_needs_no_key() {
    let fm = FakeModel::start(EXPLANATION, &[]);
    let snapshot = state("explain");
    let mut cmd = fm.command(ANALYZE);
    cmd.env_remove("OPENAI_API_KEY").args([
        "--snapshot",
        snapshot.to_str().unwrap(),
        "--explain",
        "--dry-run",
        "-o",
        "json",
    ]);
    let out = run(&mut cmd);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(fm.requests().is_empty(), "no request");
    let plan = out.json();
    assert_eq!(plan["dryRun"], true);
    assert_eq!(plan["requests"].as_array().unwrap().len(), 1);
    let first = &plan["requests"][0];
    assert!(first["title"].as_str().unwrap().starts_with("4 problems: Deployment shop/api — CrashLoopBackOff"));
    assert_eq!(first["messages"][0]["role"], "system");
    assert!(first["messages"][1]["content"].as_str().unwrap().contains("CrashLoopBackOff"));
    assert!(first["tokens"].as_u64().unwrap() > 50);
    assert!(plan["estimatedCostUsd"].as_f64().unwrap() > 0.0);
    let text = run(fm.command(ANALYZE).env_remove("OPENAI_API_KEY").args([
        "--snapshot",
        snapshot.to_str().unwrap(),
        "--explain",
        "--dry-run",
    ]));
    assert!(text.stdout.starts_with("Dry run: nothing is sent."), "{}", text.stdout);
    assert!(text.stdout.contains("Total: 1 request(s)"), "{}", text.stdout);
}

#[test]
fn explain_without_a_model_is_one_clear_error() {
    let mut cmd = std::process::Command::new(crate::support::bin(ANALYZE));
    clean_model_env(&mut cmd);
    let home = tempfile::tempdir().unwrap();
    cmd.env("HOME", home.path()).env("XDG_CONFIG_HOME", home.path()).args([
        "--snapshot",
        state("explain").to_str().unwrap(),
        "--explain",
    ]);
    let out = run(&mut cmd);
    assert_eq!(out.code, 5, "{}", out.stderr);
    out.assert_one_error_line();
    assert!(out.stderr.contains("--explain needs a model: set OPENAI_API_KEY"), "{}", out.stderr);
}

#[test]
fn openai_request_shape_and_base_url_variants() {
    let fm = FakeModel::start(EXPLANATION, &[]);
    let snapshot = state("explain");
    for (base, path) in [
        ("", "/v1/chat/completions"),
        ("/v1", "/v1/chat/completions"),
        ("/compatible-mode/v1", "/compatible-mode/v1/chat/completions"),
    ] {
        let before = fm.requests().len();
        let out = run(fm.command(ANALYZE).env("OPENAI_BASE_URL", format!("{}{base}", fm.url)).args([
            "--snapshot",
            snapshot.to_str().unwrap(),
            "--explain",
            "--no-cache",
            "--analyzers",
            "Pod",
            "-n",
            "shop",
            "-l",
            "app=web",
        ]));
        assert_eq!(out.code, 1, "{base}: {}", out.stderr);
        let requests = fm.requests();
        assert_eq!(requests.len(), before + 1, "{base}");
        let r = requests.last().unwrap();
        assert_eq!(r["path"], path, "{base}");
        assert_eq!(r["headers"]["authorization"], "Bearer sk-test-key-0123456789abcdef");
        assert_eq!(r["headers"]["content-type"], "application/json");
        assert_eq!(r["body"]["model"], "gpt-4o-mini");
        assert_eq!(r["body"]["stream"], false);
        assert_eq!(r["body"]["temperature"], 0.2);
        assert_eq!(r["body"]["max_tokens"], 1024);
        assert_eq!(r["body"]["messages"][0]["role"], "system");
        assert_eq!(r["body"]["messages"][1]["role"], "user");
    }
    let out = run(fm.command(ANALYZE).args([
        "--snapshot",
        snapshot.to_str().unwrap(),
        "--explain",
        "--no-cache",
        "-l",
        "app=web",
        "--model",
        "o4-mini",
    ]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    let r = fm.requests().pop().unwrap();
    assert_eq!(r["body"]["model"], "o4-mini");
    assert_eq!(r["body"]["max_completion_tokens"], 1024, "reasoning models: max_completion_tokens");
    assert!(r["body"].get("temperature").is_none() && r["body"].get("max_tokens").is_none());
}

#[test]
fn azure_and_ollama_request_shapes() {
    let fm = FakeModel::start(EXPLANATION, &[]);
    let snapshot = state("explain");
    let args = ["--snapshot", snapshot.to_str().unwrap(), "--explain", "--no-cache", "-l", "app=web"];
    let mut azure = fm.command(ANALYZE);
    azure
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env("AZURE_OPENAI_ENDPOINT", &fm.url)
        .env("AZURE_OPENAI_API_KEY", "azure-key-123")
        .env("AZURE_OPENAI_DEPLOYMENT", "gpt4o-prod")
        .args(args);
    let out = run(&mut azure);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let r = fm.requests().pop().unwrap();
    assert_eq!(r["path"], "/openai/deployments/gpt4o-prod/chat/completions");
    assert_eq!(r["query"], "api-version=2024-10-21");
    assert_eq!(r["headers"]["api-key"], "azure-key-123");
    assert!(r["headers"].get("authorization").is_none());

    let mut ollama = fm.command(ANALYZE);
    ollama
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env("OLLAMA_HOST", fm.url.trim_start_matches("http://"))
        .args(args);
    let out = run(&mut ollama);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let r = fm.requests().pop().unwrap();
    assert_eq!(r["path"], "/api/chat");
    assert_eq!(r["body"]["model"], "llama3.1");
    assert_eq!(r["body"]["stream"], false);
    assert_eq!(r["body"]["options"]["temperature"], 0.2);
    assert_eq!(out.stdout.matches("the cause").count(), 1, "{}", out.stdout);
}

fn config_file(fm: &FakeModel, body: &str) -> String {
    let path = fm.dir.path().join("config.toml");
    std::fs::write(&path, body).unwrap();
    path.display().to_string()
}

#[test]
fn transient_failures_are_retried_honouring_retry_after() {
    let fm = FakeModel::start(
        "replies:\n  - {status: 429, retry_after: 1}\n  - {status: 503}\n  - {content: \"{\\\"cause\\\": \\\"ok\\\"}\"}\n",
        &[],
    );
    let config = config_file(&fm, "default_profile = \"t\"\n[profiles.t]\nretry_base = \"50ms\"\n");
    let started = std::time::Instant::now();
    let out = run(fm.command(ANALYZE).args([
        "--snapshot",
        state("explain").to_str().unwrap(),
        "--explain",
        "-l",
        "app=web",
        "--config",
        &config,
        "-o",
        "json",
    ]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(fm.requests().len(), 3, "429, 503, then the answer");
    assert!(started.elapsed() >= std::time::Duration::from_secs(1), "Retry-After: 1 was honoured");
    assert_eq!(out.json()["results"][0]["explanation"]["cause"], "ok");
}

#[test]
fn client_errors_fail_at_once_with_one_line_and_no_key() {
    let cases = [
        (401, "rejected the API key (401: scripted error 401): check OPENAI_API_KEY"),
        (404, "answered 404: scripted error 404: check that the base URL ends in /v1"),
        (400, "rejected the request (400: scripted error 400)"),
    ];
    for (status, want) in cases {
        let fm = FakeModel::start(&format!("replies:\n  - {{status: {status}}}\n"), &[]);
        let out = run(fm.command(ANALYZE).args([
            "--snapshot",
            state("explain").to_str().unwrap(),
            "--explain",
            "-l",
            "app=web",
        ]));
        assert_eq!(out.code, 5, "{status}: {}", out.stderr);
        assert_eq!(fm.requests().len(), 1, "{status} is not retried");
        let last = out.stderr.lines().last().unwrap();
        assert!(last.starts_with(&format!("error: the model at {}/v1/chat/completions", fm.url)), "{last}");
        assert!(last.contains(want), "{status}: {last}");
        assert!(!out.stderr.contains("sk-test-key"), "no key in messages");
    }
    let fm = FakeModel::start("replies:\n  - {status: 400, error: \"tools is not supported by this model\"}\n", &[]);
    let out =
        run(fm.command(ANALYZE).args(["--snapshot", state("explain").to_str().unwrap(), "--explain", "-l", "app=web"]));
    assert!(out.stderr.contains("the model may not support tool calling"), "{}", out.stderr);
}

#[test]
fn a_request_over_the_window_is_trimmed_not_sent_oversize() {
    let fm = FakeModel::start(EXPLANATION, &[]);
    let snapshot = state("explain");
    let args = ["--snapshot", snapshot.to_str().unwrap(), "--explain", "--context-window", "1300", "-l", "app=api"];
    let plan = run(fm.command(ANALYZE).args([&args[..], &["--dry-run", "-o", "json"]].concat())).json();
    let request = &plan["requests"][0];
    let tokens = request["tokens"].as_u64().unwrap();
    assert!(tokens + 1024 <= 1300, "prompt {tokens} + answer 1024 within the window");
    assert_eq!(request["trimmed"], true);
    let out = run(fm.command(ANALYZE).args(args));
    assert_eq!(out.code, 1, "{}", out.stderr);
    let sent = fm.requests().pop().unwrap();
    let user = sent["body"]["messages"][1]["content"].as_str().unwrap();
    assert!(user.contains("over the token budget"), "{user}");
    assert!(user.contains("keeps crashing"), "the problem itself is kept: {user}");
}

#[test]
fn anonymize_hides_names_and_restores_them_in_the_answer() {
    let fm = FakeModel::start("replies:\n  - {echo: true}\n", &[]);
    let snapshot = state("explain");
    let out = run(fm.command(ANALYZE).args([
        "--snapshot",
        snapshot.to_str().unwrap(),
        "--explain",
        "--anonymize",
        "-o",
        "json",
    ]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    let sent = fm.everything_sent();
    for real in [
        "shop",
        "api-7c6d5f4b8",
        "registry.example.com",
        "web-5d8f7-q2w3e",
        "orders-0",
        "search-0",
        "shop/web:9.9.9",
        "opensearch",
    ] {
        assert!(!sent.contains(real), "{real} was sent");
    }
    let report = out.json();
    let api = report["results"].as_array().unwrap().iter().find(|f| f["name"] == "api").unwrap();
    let answer = api["explanation"]["cause"].as_str().unwrap();
    assert!(answer.contains("Deployment shop/api") && answer.contains("api-7c6d5f4b8-a0x0z"), "restored: {answer}");
}

#[test]
fn canaries_never_reach_the_model_when_explaining() {
    let fm = FakeModel::start(EXPLANATION, &[]);
    let out = run(fm.command(ANALYZE).args([
        "--snapshot",
        state("canary").to_str().unwrap(),
        "--explain",
        "--analyzers",
        "Pod,ConfigMap,Log",
        "-o",
        "json",
    ]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(!fm.requests().is_empty());
    let sent = fm.everything_sent();
    assert!(!sent.contains("CANARY") && !sent.contains("Q0FOQVJZ"), "{sent}");
    assert!(sent.contains("[REDACTED]"), "the log lines were sent, masked");
}

#[test]
fn live_explain_with_log_tails_and_a_private_ca() {
    let fx = Fixture::start(&state("explain"), &[]);
    let fm = FakeModel::start(EXPLANATIONS, &["--tls", "--ca-out", "ca.pem"]);
    let ca = std::env::current_dir().unwrap().join("ca.pem");
    let mut cmd = fm.command(ANALYZE);
    cmd.env("KUBECONFIG", fx.kubeconfig()).args([
        "-n",
        "shop",
        "--explain",
        "--ca-cert",
        ca.to_str().unwrap(),
        "-o",
        "json",
    ]);
    let out = run(&mut cmd);
    let _ = std::fs::remove_file(&ca);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(fm.requests().len(), 1, "four problems, one request");
    let sent = fm.everything_sent();
    assert!(sent.contains("cannot open /etc/api/config.yaml"), "the crashing containers' log tails are evidence");
    let without =
        run(fm.command(ANALYZE).env("KUBECONFIG", fx.kubeconfig()).args(["-n", "shop", "--explain", "--no-cache"]));
    assert_eq!(without.code, 5, "{}", without.stderr);
    assert!(without.stderr.to_lowercase().contains("certificate"), "{}", without.stderr);
}

#[test]
fn extra_headers_timeouts_and_a_proxy_from_the_environment() {
    let fm = FakeModel::start(EXPLANATION, &[]);
    let config = config_file(
        &fm,
        "default_profile = \"gw\"\n[profiles.gw]\nheaders = { \"X-Team\" = \"platform\" }\nread_timeout = \"500ms\"\nretries = 1\nretry_base = \"10ms\"\n",
    );
    let snapshot = state("explain");
    let args = ["--snapshot", snapshot.to_str().unwrap(), "--explain", "-l", "app=web", "--no-cache"];
    let out = run(fm
        .command(ANALYZE)
        .env("OPSAGENT_HEADERS", "X-Gateway-Route=ops, X-Other=1")
        .args(args)
        .args(["--config", &config]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    let r = fm.requests().pop().unwrap();
    assert_eq!(r["headers"]["x-team"], "platform");
    assert_eq!(r["headers"]["x-gateway-route"], "ops");
    assert_eq!(r["headers"]["x-other"], "1");

    // A model that sends nothing within first_byte_timeout: retried once, then one clear line.
    let slow = FakeModel::start("replies:\n  - {delay_ms: 3000, content: \"late\"}\n", &[]);
    let config = config_file(
        &slow,
        "default_profile = \"gw\"\n[profiles.gw]\nfirst_byte_timeout = \"300ms\"\nretries = 1\nretry_base = \"10ms\"\n",
    );
    let out = run(slow.command(ANALYZE).args(args).args(["--config", &config]));
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert_eq!(slow.requests().len(), 2, "a timeout is retried");
    let last = out.stderr.lines().last().unwrap();
    assert!(
        last.starts_with("error: ") && last.contains("sent nothing for 300ms while reading the prompt"),
        "{}",
        out.stderr
    );

    // HTTP_PROXY: the request is tunneled through the proxy, to a host that does not resolve here.
    let proxy = crate::support::Proxy::start(fm.url.trim_start_matches("http://"));
    let before = fm.requests().len();
    let out = run(fm
        .command(ANALYZE)
        .env("OPENAI_BASE_URL", "http://llm.example.invalid/v1")
        .env("HTTP_PROXY", &proxy.url)
        .args(args));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(fm.requests().len(), before + 1, "the model got the request through the proxy");
    assert_eq!(fm.requests().pop().unwrap()["headers"]["host"], "llm.example.invalid");
    assert_eq!(
        proxy.targets.lock().unwrap().first().map(String::as_str),
        Some("CONNECT llm.example.invalid:80 HTTP/1.1")
    );
}
