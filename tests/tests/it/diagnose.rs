//! Diagnosis of one object (`kubectl ai analyze KIND NAME`) and explanation of piped input
//! (`… | kubectl ai analyze -`), against the fixture cluster and the fake model.

use crate::support::{FakeModel, Fixture, bin, clean_model_env, run, run_with_stdin, state};

const ANALYZE: &str = "kubectl-ai-analyze";
const DIAGNOSIS: &str = r#"replies:
  - {content: "<think>reasoning that must not be shown</think>## Root cause\nThe file /etc/api/config.yaml is missing.\n## Evidence\n- cannot open /etc/api/config.yaml\n## Fix\n1. kubectl create configmap api-config -n shop --from-file=config.yaml\n## How to verify\nkubectl rollout status deployment/api -n shop\n"}
"#;

/// The user message of the last request.
fn last_prompt(fm: &FakeModel) -> String {
    let r = fm.requests().pop().expect("a request");
    r["body"]["messages"][1]["content"].as_str().expect("user message").to_string()
}

fn live(fm: &FakeModel, fx: &Fixture, args: &[&str]) -> crate::support::Run {
    run(fm.command(ANALYZE).env("KUBECONFIG", fx.kubeconfig()).args(args))
}

#[test]
fn a_deployment_is_diagnosed_from_its_pods_events_logs_and_spec() {
    let fx = Fixture::start(&state("explain"), &[]);
    let fm = FakeModel::start(DIAGNOSIS, &[]);
    let out = live(&fm, &fx, &["deploy/api", "-n", "shop"]);
    assert_eq!(out.code, 1, "the rules found problems: {}", out.stderr);
    assert!(out.stdout.starts_with("Diagnosis of Deployment shop/api\n"), "{}", out.stdout);
    assert!(out.stdout.contains("## Root cause\nThe file /etc/api/config.yaml is missing."), "{}", out.stdout);
    assert!(!out.stdout.contains("reasoning that must not be shown"), "{}", out.stdout);
    let requests = fm.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0]["body"]["stream"], true, "the answer is streamed to the terminal");
    let prompt = last_prompt(&fm);
    for evidence in [
        "## Object\nDeployment shop/api",
        "MinimumReplicasUnavailable",
        "## Findings of OpsAgent's rules\n- critical Deployment shop/api: CrashLoopBackOff",
        "## Events\nWarning BackOff Pod/api-7c6d5f4b8-a0x0z",
        "## Pods (10)\napi-7c6d5f4b8-a0x0z: phase Running; container api: waiting CrashLoopBackOff",
        "## Log tails\n### api-7c6d5f4b8-a0x0z / api (previous instance)",
        "cannot open /etc/api/config.yaml",
        "## Deployment spec\nspec:\n  replicas: 10",
    ] {
        assert!(prompt.contains(evidence), "{evidence:?} missing from:\n{prompt}");
    }
    assert!(!prompt.contains("web-5d8f7"), "another workload's pods are not evidence: {prompt}");
    let system = fm.requests()[0]["body"]["messages"][0]["content"].as_str().unwrap().to_string();
    assert!(system.contains("## Root cause, ## Evidence") && system.contains("in English"), "{system}");

    let json = live(&fm, &fx, &["deployment", "api", "-n", "shop", "-o", "json"]).json();
    assert_eq!(json["object"], serde_json::json!({"kind": "Deployment", "namespace": "shop", "name": "api"}));
    assert_eq!(json["diagnosis"]["rootCause"], "The file /etc/api/config.yaml is missing.");
    assert_eq!(json["diagnosis"]["fix"], "1. kubectl create configmap api-config -n shop --from-file=config.yaml");
    assert_eq!(json["diagnosis"]["verify"], "kubectl rollout status deployment/api -n shop");
    assert_eq!(json["findings"][0]["reason"], "CrashLoopBackOff");
    assert_eq!(fm.requests().last().unwrap()["body"]["stream"], false, "JSON output waits for the whole answer");
}

#[test]
fn kubectl_names_for_kinds_work_through_discovery() {
    let fx = Fixture::start(&state("explain"), &[]);
    let fm = FakeModel::start(DIAGNOSIS, &[]);
    for args in [
        &["po", "api-7c6d5f4b8-a0x0z", "-n", "shop"][..],
        &["pods/api-7c6d5f4b8-a0x0z", "-n", "shop"],
        &["Pod", "api-7c6d5f4b8-a0x0z", "--namespace=shop"],
    ] {
        let out = live(&fm, &fx, args);
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        let prompt = last_prompt(&fm);
        assert!(
            prompt.starts_with(
                "<data source=\"Pod shop/api-7c6d5f4b8-a0x0z\">\n## Object\nPod shop/api-7c6d5f4b8-a0x0z (owned by ReplicaSet api-7c6d5f4b8 ← Deployment api)"
            ),
            "{args:?}: {prompt}"
        );
        assert!(prompt.contains("### api-7c6d5f4b8-a0x0z / api (previous instance)"), "its own log tail: {prompt}");
        assert!(!prompt.contains("### api-7c6d5f4b8-b1x1z"), "not its siblings' logs: {prompt}");
    }
    let ns = live(&fm, &fx, &["ns", "shop", "--question", "what is wrong in this namespace?"]);
    assert_eq!(ns.code, 1, "{}", ns.stderr);
    let prompt = last_prompt(&fm);
    assert!(
        prompt.starts_with(
            "Question: what is wrong in this namespace?\n\n<data source=\"Namespace shop\">\n## Object\nNamespace shop"
        ),
        "{prompt}"
    );
    assert!(prompt.contains("Deployment shop/api: CrashLoopBackOff"), "a namespace's findings: {prompt}");
}

#[test]
fn what_cannot_be_diagnosed_is_one_line_and_exit_2() {
    let fx = Fixture::start(&state("explain"), &[]);
    let fm = FakeModel::start(DIAGNOSIS, &[]);
    let cases: [(&[&str], &str); 5] = [
        (&["pod", "nope", "-n", "shop"], r#"pods "nope" not found in namespace "shop""#),
        (&["widget", "x"], r#"the server doesn't have a resource type "widget""#),
        (&["pod/"], "give the object as KIND NAME or KIND/NAME"),
        (&["pod", "a", "b"], "unexpected value 'b'"),
        (&["nodes/node-9"], r#"nodes "node-9" not found"#),
    ];
    for (args, want) in cases {
        let out = live(&fm, &fx, args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(want), "{args:?}: {}", out.stderr);
        if !want.starts_with("unexpected") {
            out.assert_one_error_line();
        }
    }
    assert!(fm.requests().is_empty(), "nothing was sent");
}

#[test]
fn without_a_model_the_evidence_is_printed() {
    let fx = Fixture::start(&state("explain"), &[]);
    let home = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(bin(ANALYZE));
    clean_model_env(&mut cmd);
    cmd.env("HOME", home.path()).env("XDG_CONFIG_HOME", home.path()).env("KUBECONFIG", fx.kubeconfig());
    let out = run(cmd.args(["deploy", "api", "-n", "shop"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stdout.starts_with("Evidence about Deployment shop/api\n\n## Object\n"), "{}", out.stdout);
    assert!(out.stdout.contains("## Log tails"), "{}", out.stdout);
    assert!(out.stdout.contains("No model is configured, so this is the evidence only."), "{}", out.stdout);
    let json = run(cmd.args(["-o", "json"])).json();
    assert_eq!(json["diagnosis"], serde_json::Value::Null);
    assert_eq!(json["evidence"][0]["title"], "Object");
}

/// The diagnosis evidence names each claim of the pods involved with its size, its class and
/// whether that class exists, so that a full disk or a missing class is visible to the model.
#[test]
fn a_diagnosis_shows_the_claims_size_and_class() {
    let snapshot = state("volumes");
    let evidence = |args: &[&str]| {
        let mut cmd = std::process::Command::new(bin(ANALYZE));
        clean_model_env(&mut cmd);
        let home = tempfile::tempdir().unwrap();
        cmd.env("HOME", home.path()).env("XDG_CONFIG_HOME", home.path());
        run(cmd.arg("--snapshot").arg(&snapshot).args(args)).stdout
    };
    let db = evidence(&["pod", "db-0", "-n", "data"]);
    assert!(
        db.contains("PersistentVolumeClaim data-db-0: Bound, requests 10Gi, capacity 10Gi, StorageClass fast (exists), volume pvc-0a1b"),
        "{db}"
    );
    let reports = evidence(&["pod", "reports-0", "-n", "data"]);
    assert!(
        reports.contains("PersistentVolumeClaim reports: Pending, requests 5Gi, StorageClass ssd (does not exist)"),
        "{reports}"
    );
}

#[test]
fn a_snapshot_can_be_diagnosed_offline() {
    let fm = FakeModel::start(DIAGNOSIS, &[]);
    let snapshot = state("explain");
    let out =
        run(fm.command(ANALYZE).args(["--snapshot", snapshot.to_str().unwrap(), "pod", "orders-0", "-n", "shop"]));
    assert!(out.code == 0 || out.code == 1, "{}", out.stderr);
    let prompt = last_prompt(&fm);
    assert!(prompt.starts_with("<data source=\"Pod shop/orders-0\">\n## Object\nPod shop/orders-0"), "{prompt}");
    let missing =
        run(fm.command(ANALYZE).args(["--snapshot", snapshot.to_str().unwrap(), "deploy", "nope", "-n", "shop"]));
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    missing.assert_one_error_line();
    assert!(missing.stderr.contains(r#"deployments.apps "nope" not found in namespace "shop""#), "{}", missing.stderr);
}

#[test]
fn diagnosis_never_sends_secrets() {
    let fx = Fixture::start(&state("canary"), &[]);
    let fm = FakeModel::start(DIAGNOSIS, &[]);
    for object in ["pod/leaky-0", "secret/vault-creds", "configmap/leaky-config"] {
        let out = live(&fm, &fx, &[object, "-n", "vault"]);
        assert!(out.code == 0 || out.code == 1, "{object}: {}", out.stderr);
    }
    let sent = fm.everything_sent();
    for object in ["Pod vault/leaky-0", "Secret vault/vault-creds\\n(no status)", "ConfigMap vault/leaky-config"] {
        assert!(sent.contains(object), "{object} was diagnosed");
    }
    assert!(!sent.contains("CANARY") && !sent.contains("Q0FOQVJZ"), "{sent}");
    assert!(sent.contains("[REDACTED]"), "masked values are sent as such");
}

#[test]
fn anonymized_diagnosis_hides_names_and_restores_them() {
    let fx = Fixture::start(&state("explain"), &[]);
    let fm = FakeModel::start("replies:\n  - {echo: true}\n", &[]);
    let out = live(&fm, &fx, &["deploy", "api", "-n", "shop", "--anonymize"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let sent = fm.everything_sent();
    for real in ["shop", "api-7c6d5f4b8", "registry.example.com"] {
        assert!(!sent.contains(real), "{real} was sent");
    }
    assert!(out.stdout.contains("Deployment shop/api"), "restored in the answer: {}", out.stdout);
    assert!(out.stdout.contains("api-7c6d5f4b8-a0x0z"), "{}", out.stdout);
}

const LOGS: &str = "\
2026-05-01T11:55:00Z INFO starting checkout 2.1.0
2026-05-01T11:55:01Z WARN retrying db connection (attempt 1)
2026-05-01T11:55:02Z WARN retrying db connection (attempt 2)
2026-05-01T11:55:03Z WARN retrying db connection (attempt 3)
2026-05-01T11:55:04Z INFO using password=CANARY-pipe-7f1 for postgres://app:CANARY-pipeurl-2k8@db:5432/app
2026-05-01T11:55:05Z ERROR Authorization: Bearer CANARYpipetoken1234567890
2026-05-01T11:55:06Z FATAL giving up after 3 attempts
";

#[test]
fn piped_logs_are_collapsed_redacted_and_the_answer_streamed() {
    let fm = FakeModel::start(DIAGNOSIS, &[]);
    let out = run_with_stdin(fm.command(ANALYZE).args(["-", "--question", "why does checkout exit?"]), LOGS.as_bytes());
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("## Root cause\nThe file"), "streamed, reasoning left out: {}", out.stdout);
    let r = fm.requests().pop().unwrap();
    assert_eq!(r["body"]["stream"], true);
    let prompt = last_prompt(&fm);
    assert!(
        prompt.starts_with("Question: why does checkout exit?\n\n## Input: stdin (7 lines, 5 distinct)\n"),
        "{prompt}"
    );
    assert!(prompt.contains("[x3] 2026-05-01T11:55:01Z WARN retrying db connection (attempt 1)"), "{prompt}");
    assert!(prompt.contains("FATAL giving up after 3 attempts"), "{prompt}");
    assert!(!fm.everything_sent().contains("CANARY"), "{prompt}");

    let json = run_with_stdin(fm.command(ANALYZE).args(["-", "-o", "json"]), LOGS.as_bytes()).json();
    assert_eq!(json["source"], "stdin");
    assert_eq!(json["lines"], 7);
    assert_eq!(json["distinct"], 5);
    assert!(json["answer"].as_str().unwrap().starts_with("## Root cause"), "{json}");

    let file = fm.dir.path().join("app.log");
    std::fs::write(&file, LOGS).unwrap();
    let from_file = run(fm.command(ANALYZE).args(["--input", file.to_str().unwrap()]));
    assert_eq!(from_file.code, 0, "{}", from_file.stderr);
    assert!(last_prompt(&fm).contains(&format!("## Input: {} (7 lines", file.display())));
}

#[test]
fn piped_input_edge_cases() {
    let fm = FakeModel::start(DIAGNOSIS, &[]);
    let empty = run_with_stdin(fm.command(ANALYZE).arg("-"), b"\n  \n");
    assert_eq!(empty.code, 2, "{}", empty.stderr);
    empty.assert_one_error_line();
    assert!(empty.stderr.contains("stdin: is empty"), "{}", empty.stderr);
    let missing = run(fm.command(ANALYZE).args(["--input", "/nonexistent/app.log"]));
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    missing.assert_one_error_line();
    let before = fm.requests().len();
    let binary = run_with_stdin(fm.command(ANALYZE).arg("-"), b"ERROR bad byte \xff\xfe here\n");
    assert_eq!(binary.code, 0, "{}", binary.stderr);
    assert!(binary.stderr.contains("stdin is not UTF-8: invalid bytes were replaced"), "{}", binary.stderr);
    assert_eq!(fm.requests().len(), before + 1);

    let dry =
        run_with_stdin(fm.command(ANALYZE).env_remove("OPENAI_API_KEY").args(["-", "--dry-run"]), LOGS.as_bytes());
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert!(dry.stdout.starts_with("Dry run: nothing is sent."), "{}", dry.stdout);
    assert!(dry.stdout.contains("[x3] "), "{}", dry.stdout);
    assert_eq!(fm.requests().len(), before + 1, "a dry run sends nothing");

    let home = tempfile::tempdir().unwrap();
    let mut none = std::process::Command::new(bin(ANALYZE));
    clean_model_env(&mut none);
    let no_model =
        run_with_stdin(none.env("HOME", home.path()).env("XDG_CONFIG_HOME", home.path()).arg("-"), LOGS.as_bytes());
    assert_eq!(no_model.code, 5, "{}", no_model.stderr);
    no_model.assert_one_error_line();
    assert!(no_model.stderr.contains("explaining input needs a model"), "{}", no_model.stderr);
}

#[test]
fn a_long_input_keeps_its_head_and_tail_within_the_window() {
    let fm = FakeModel::start(DIAGNOSIS, &[]);
    let mut logs = String::new();
    // Lines that differ in letters, not only in numbers, so that none collapses.
    let word = |mut i: usize| {
        let mut w = String::new();
        loop {
            w.push(char::from(b'a' + (i % 26) as u8));
            i /= 26;
            if i == 0 {
                return w;
            }
        }
    };
    for i in 0..5000 {
        logs.push_str(&format!("line {}: request handled by worker {}\n", word(i), word(i * 7 + 3)));
    }
    logs.push_str("FATAL the real failure is at the end\n");
    let out = run_with_stdin(
        fm.command(ANALYZE).args(["-", "--context-window", "4000", "--dry-run", "-o", "json"]),
        logs.as_bytes(),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let plan = out.json();
    let request = &plan["requests"][0];
    assert_eq!(request["trimmed"], true);
    assert!(request["tokens"].as_u64().unwrap() + 1024 <= 4000, "{}", request["tokens"]);
    let prompt = request["messages"][1]["content"].as_str().unwrap();
    assert!(prompt.contains("line a: request handled by worker d"), "the head is kept");
    assert!(prompt.contains("FATAL the real failure is at the end"), "the tail is kept");
    assert!(prompt.contains("lines left out: over the token budget"), "{prompt}");
}

#[test]
fn streams_are_read_for_ollama_and_a_cut_stream_is_an_error() {
    let fm = FakeModel::start(DIAGNOSIS, &[]);
    let mut ollama = fm.command(ANALYZE);
    ollama.env_remove("OPENAI_API_KEY").env_remove("OPENAI_BASE_URL").env("OLLAMA_HOST", &fm.url).arg("-");
    let out = run_with_stdin(&mut ollama, LOGS.as_bytes());
    assert_eq!(out.code, 0, "{}", out.stderr);
    let r = fm.requests().pop().unwrap();
    assert_eq!(r["path"], "/api/chat");
    assert_eq!(r["body"]["stream"], true);
    assert!(out.stdout.contains("## Fix\n1. kubectl create configmap"), "{}", out.stdout);

    let cut = FakeModel::start("replies:\n  - {content: \"## Root cause\\nThe file is\", stream_cut: true}\n", &[]);
    let out = run_with_stdin(cut.command(ANALYZE).arg("-"), LOGS.as_bytes());
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(out.stderr.lines().last().unwrap().starts_with("error: "), "{}", out.stderr);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
}

/// Streaming and error shapes of each provider, on piped input.
#[test]
fn each_provider_streams_and_fails_in_its_own_shape() {
    type Env<'a> = &'a [(&'a str, &'a str)];
    // (provider, env to set, path, error line wanted)
    let providers: [(&str, Env<'_>, &str, &str); 3] = [
        ("OpenAI", &[("OPENAI_API_KEY", "sk-test")], "/v1/chat/completions", "check OPENAI_API_KEY"),
        (
            "Azure OpenAI",
            &[("AZURE_OPENAI_API_KEY", "azure-key"), ("AZURE_OPENAI_DEPLOYMENT", "gpt4o-prod")],
            "/openai/deployments/gpt4o-prod/chat/completions",
            "check AZURE_OPENAI_API_KEY",
        ),
        ("Ollama", &[], "/api/chat", "rejected the API key (401"),
    ];
    for (provider, vars, path, error) in providers {
        for (script, code) in [(DIAGNOSIS, 0), ("replies:\n  - {status: 401}\n", 5)] {
            let fm = FakeModel::start(script, &[]);
            let mut cmd = fm.command(ANALYZE);
            cmd.env_remove("OPENAI_API_KEY").env_remove("OPENAI_BASE_URL");
            match provider {
                "OpenAI" => cmd.env("OPENAI_BASE_URL", &fm.url),
                "Azure OpenAI" => cmd.env("AZURE_OPENAI_ENDPOINT", &fm.url),
                _ => cmd.env("OLLAMA_HOST", &fm.url),
            };
            vars.iter().for_each(|(k, v)| {
                cmd.env(k, v);
            });
            let out = run_with_stdin(cmd.arg("-"), LOGS.as_bytes());
            assert_eq!(out.code, code, "{provider}: {}", out.stderr);
            let r = fm.requests().pop().unwrap();
            assert_eq!(r["path"], path, "{provider}");
            assert_eq!(r["body"]["stream"], true, "{provider}");
            if code == 0 {
                assert!(out.stdout.contains("## How to verify\nkubectl rollout status"), "{provider}: {}", out.stdout);
            } else {
                out.assert_one_error_line();
                let who = match provider {
                    "OpenAI" => format!("error: the model at {}{path}", fm.url),
                    _ => format!("error: {provider} ({}{path}", fm.url),
                };
                assert!(out.stderr.starts_with(&who), "{}", out.stderr);
                assert!(out.stderr.contains(error), "{provider}: {}", out.stderr);
                assert!(!out.stderr.contains("azure-key") && !out.stderr.contains("sk-test"), "no key in errors");
            }
        }
    }
}

#[test]
fn a_pod_diagnosis_reads_its_node_services_and_logs_in_the_chosen_language() {
    let fx = Fixture::start(&state("demo"), &[]);
    let fm = FakeModel::start(DIAGNOSIS, &[]);
    let out = live(&fm, &fx, &["pod", "checkout-6f8d9c7b5-2xkqp", "-n", "shop", "--language", "Deutsch"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let prompt = last_prompt(&fm);
    for evidence in [
        "conditions: Ready=False ContainersNotReady",
        "## Related objects\nService checkout selects these pods: 0 ready, 2 not ready endpoint(s)\nNode node-1: Ready=True",
        "ERROR config: PAYMENT_GATEWAY_URL is not set",
    ] {
        assert!(prompt.contains(evidence), "{evidence:?} missing from:\n{prompt}");
    }
    let system = fm.requests()[0]["body"]["messages"][0]["content"].as_str().unwrap().to_string();
    assert!(system.contains("Answer in Deutsch"), "{system}");
}
