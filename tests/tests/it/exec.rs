//! `kubectl ai exec` against the fake model, the fixture cluster and the real kubectl: native tool
//! calls and the ReAct fallback, in-process pipelines, confirmations, caps, refusals, secrets.

use serde_json::{Value, json};

use crate::support::{FakeModel, Fixture, deletes, run, state};

/// A reply that calls kubectl (native tool calling).
fn calls(commands: &[(&str, &str)]) -> Value {
    let calls: Vec<Value> = commands
        .iter()
        .enumerate()
        .map(|(i, (tool, args))| json!({"id": format!("call_{i}"), "type": "function", "function": {"name": tool, "arguments": args}}))
        .collect();
    json!({"content": "", "tool_calls": calls, "finish_reason": "tool_calls"})
}

fn kubectl_call(command: &str) -> Value {
    calls(&[("kubectl", &json!({"command": command}).to_string())])
}

fn answer(text: &str) -> Value {
    json!({"content": text})
}

fn script(replies: &[Value]) -> String {
    serde_json::to_string(&json!({"replies": replies})).unwrap()
}

fn exec(fm: &FakeModel, fx: &Fixture, args: &[&str]) -> std::process::Command {
    let mut cmd = fm.exec(fx);
    cmd.args(args);
    cmd
}

/// The tool results sent back in a request (native: `tool` messages; ReAct: observations).
pub(crate) fn tool_results(request: &Value) -> Vec<String> {
    request["body"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool" || m["content"].as_str().is_some_and(|c| c.starts_with("Observation:")))
        .map(|m| m["content"].as_str().unwrap().to_string())
        .collect()
}

fn namespaces(fx: &Fixture) -> usize {
    let out = run(&mut fx.kubectl(&["get", "ns", "-o", "name"]));
    out.stdout.lines().count()
}

#[test]
fn a_jq_pipeline_runs_in_process_and_its_result_goes_back() {
    let fx = Fixture::start(&state("demo"), &["--namespace", "shop"]);
    let expected = namespaces(&fx);
    let fm = FakeModel::start(
        &script(&[
            kubectl_call("kubectl get ns -o json | jq '.items | length'"),
            answer(&format!("There are {expected} namespaces.")),
        ]),
        &[],
    );
    let out = run(&mut exec(&fm, &fx, &["how many namespaces are there?", "-o", "json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let requests = fm.requests();
    assert_eq!(requests.len(), 2);
    let tools: Vec<&str> = requests[0]["body"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(tools, ["kubectl", "jq"]);
    assert_eq!(
        tool_results(&requests[1]),
        [format!("<data source=\"kubectl kubectl get ns -o json | jq '.items | length'\">\n{expected}\n</data>")]
    );
    let tool_msg = requests[1]["body"]["messages"].as_array().unwrap().iter().find(|m| m["role"] == "tool").unwrap();
    assert_eq!(tool_msg["tool_call_id"], "call_0");
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["answer"], format!("There are {expected} namespaces."));
    assert_eq!(report["steps"][0]["tool"], "kubectl");
    assert_eq!(report["steps"][0]["classification"], "read");
    assert_eq!(report["steps"][0]["exit_code"], 0);
    assert_eq!(report["usage"]["calls"], 2);
    assert_eq!(report["usage"]["prompt_tokens"], 20);
}

/// Servers that cannot call tools, in their own words: the ReAct protocol takes over at once, on any
/// status (llama.cpp without --jinja answers 500, which used to be retried four times).
#[test]
fn without_tool_calling_the_react_protocol_takes_over() {
    let fx = Fixture::start(&state("demo"), &["--namespace", "shop"]);
    let expected = namespaces(&fx);
    let action = "<think>I should count them.</think>Let me check.\n```json\n{\"thought\": \"count\", \"action\": {\"name\": \"kubectl\", \"input\": \"get ns -o json | jq '.items | length'\"}}\n```";
    for (status, server_says) in [
        (400, "tools are not supported by this model"),
        (500, "tools param requires --jinja flag"),
        (400, "\"auto\" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set"),
        (400, "registry.ollama.ai/library/gemma:2b does not support tools"),
    ] {
        check_react_fallback(&fx, expected, action, status, server_says);
    }
}

fn check_react_fallback(fx: &Fixture, expected: usize, action: &str, status: u16, server_says: &str) {
    let fm = FakeModel::start(
        &script(&[
            json!({"status": status, "error": server_says}),
            answer(action),
            answer(&format!("{{\"thought\": \"done\", \"final_answer\": \"{expected} namespaces.\"}}")),
        ]),
        &[],
    );
    let out = run(&mut exec(&fm, fx, &["how many namespaces?"]));
    assert_eq!(out.code, 0, "{server_says}: {}", out.stderr);
    assert_eq!(out.stdout.trim(), format!("{expected} namespaces."));
    let requests = fm.requests();
    assert_eq!(requests.len(), 3, "{server_says}: no retry of the rejection");
    assert!(requests[0]["body"]["tools"].is_array());
    assert!(requests[1]["body"].get("tools").is_none(), "no tools in the ReAct protocol");
    assert!(requests[1]["body"]["messages"][0]["content"].as_str().unwrap().contains("Reply with JSON only"));
    assert_eq!(
        tool_results(&requests[2]),
        [format!("Observation:\n<data source=\"kubectl get ns -o json | jq '.items | length'\">\n{expected}\n</data>")]
    );
}

#[test]
fn a_reply_that_is_not_json_is_the_answer_as_it_is() {
    let fx = Fixture::start(&state("demo"), &["--namespace", "shop"]);
    let config = fm_config(&fx, false);
    let fm = FakeModel::start(&script(&[answer("<think>easy</think>There are some namespaces.")]), &[]);
    let out = run(exec(&fm, &fx, &["how many namespaces?"]).env("OPSAGENT_CONFIG", &config));
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Used as it is: asked again once only because no tool was called (the nudge), never because
    // the JSON did not parse; the answer then says it is not based on cluster data.
    assert_eq!(out.stdout.trim(), "There are some namespaces.\n\n_Not based on cluster data: no tool was called._");
    let requests = fm.requests();
    assert_eq!(requests.len(), 2);
    let last = requests[1]["body"]["messages"].as_array().unwrap().last().unwrap().clone();
    assert!(last["content"].as_str().unwrap().starts_with("You answered without looking at the cluster."), "{last}");
    assert!(fm.requests()[0]["body"].get("tools").is_none(), "the profile said: no tool calling");
}

/// A config file whose profile turns tool calling off (or on).
fn fm_config(fx: &Fixture, tool_calling: bool) -> std::path::PathBuf {
    let path = fx.kubeconfig().with_file_name("opsagent.toml");
    std::fs::write(&path, format!("default_profile = \"p\"\n[profiles.p]\ntool_calling = {tool_calling}\n")).unwrap();
    path
}

#[test]
fn a_change_needs_a_confirmation_or_yes() {
    let fx = Fixture::start(&state("demo"), &["--namespace", "shop"]);
    let delete = kubectl_call("delete pod redis-0 -n shop");
    let fm = FakeModel::start(
        &script(&[
            delete.clone(),
            answer("I could not delete it."),
            delete.clone(),
            answer("Read-only."),
            delete,
            answer("Deleted."),
        ]),
        &[],
    );
    // No terminal, no --yes: refused, and the model hears why.
    let refused = run(&mut exec(&fm, &fx, &["delete the redis pod"]));
    assert_eq!(refused.code, 6, "{}", refused.stderr);
    assert!(refused.stderr.contains("not done: kubectl --context=fixture"), "{}", refused.stderr);
    let results = tool_results(&fm.requests()[1]);
    assert!(
        results[0].starts_with("refused: kubectl --context=fixture")
            && results[0].contains("delete --namespace=shop pod redis-0 changes the cluster and needs a yes"),
        "{results:?}"
    );
    assert_eq!(deletes(&fx), 0);
    // --read-only: refused too.
    let read_only = run(&mut exec(&fm, &fx, &["delete the redis pod", "--read-only"]));
    assert_eq!(read_only.code, 6, "{}", read_only.stderr);
    assert!(tool_results(&fm.requests()[3])[0].contains("this session is read-only"));
    assert_eq!(deletes(&fx), 0);
    // --yes: executed, and written to the audit log.
    let yes = run(&mut exec(&fm, &fx, &["delete the redis pod", "--yes", "-o", "json"]));
    assert_eq!(yes.code, 0, "{}", yes.stderr);
    assert_eq!(deletes(&fx), 1);
    let report: Value = serde_json::from_str(&yes.stdout).unwrap();
    assert_eq!(report["steps"][0]["classification"], "write");
    let log = std::fs::read_to_string(fm.dir.path().join("audit.jsonl")).unwrap();
    let entry: Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert_eq!(entry["tool"], "exec");
    assert_eq!(entry["command"], "kubectl --context=fixture --request-timeout=30s delete --namespace=shop pod redis-0");
    assert_eq!(entry["context"], "fixture");
    assert_eq!(entry["namespace"], "shop");
    assert_eq!(entry["exit_code"], 0, "{entry}");
}

#[test]
fn bad_calls_are_tool_errors_and_the_agent_goes_on() {
    let fx = Fixture::start(&state("demo"), &["--namespace", "shop"]);
    let bad = calls(&[
        ("kubectl", &json!({"command": "get pods; rm -rf /"}).to_string()),
        ("kubectl", &json!({"command": "get pods | xargs kubectl delete pod"}).to_string()),
        ("kubectl", &json!({"command": "edit deploy storefront"}).to_string()),
        ("kubectl", &json!({"command": "exec -it redis-0 -- sh"}).to_string()),
        ("kubectl", &json!({"command": "get pods --context prod"}).to_string()),
        ("bash", &json!({"command": "ls"}).to_string()),
        ("kubectl", "get pods (not json)"),
        ("kubectl", &json!({"cmd": "get pods"}).to_string()),
    ]);
    let fm = FakeModel::start(&script(&[bad, answer("Done trying.")]), &[]);
    let out = run(&mut exec(&fm, &fx, &["do things"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("panicked"));
    let results = tool_results(&fm.requests()[1]);
    assert_eq!(results.len(), 8);
    for (result, expected) in results.iter().zip([
        "is a shell construct",
        "xargs does not run here",
        "kubectl edit opens an editor",
        "--stdin needs a terminal",
        "the context, credentials, server and settings are fixed",
        "there is no tool \"bash\"",
        "the arguments are not JSON",
        "kubectl needs {\"command\"",
    ]) {
        assert!(result.contains(expected), "{expected}: {result}");
    }
}

#[test]
fn the_same_call_over_and_over_stops_the_loop() {
    let fx = Fixture::start(&state("demo"), &["--namespace", "shop"]);
    let fm = FakeModel::start(&script(&[kubectl_call("get ns")]), &[]);
    let out = run(&mut exec(&fm, &fx, &["loop"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("stopped without an answer: the model asked for the same kubectl call three times"),
        "{}",
        out.stderr
    );
    assert_eq!(fm.requests().len(), 3);
    let capped = run(&mut exec(&fm, &fx, &["loop", "--max-iterations", "1"]));
    assert_eq!(capped.code, 1);
    assert!(capped.stderr.contains("no answer after 1 tool calls"), "{}", capped.stderr);
    let slow = FakeModel::start(
        &script(&[json!({"delay_ms": 1500, "content": "", "tool_calls": kubectl_call("get ns")["tool_calls"]})]),
        &[],
    );
    let timed = run(&mut exec(&slow, &fx, &["loop", "--timeout", "1s"]));
    assert_eq!(timed.code, 1, "{}", timed.stderr);
    assert!(timed.stderr.contains("took longer than 1s (--timeout)"), "{}", timed.stderr);
}

#[test]
fn secret_values_never_reach_the_model() {
    let fx = Fixture::start(&state("canary"), &["--namespace", "vault"]);
    let fm = FakeModel::start(
        &script(&[
            calls(&[
                ("kubectl", &json!({"command": "describe secret vault-creds"}).to_string()),
                ("kubectl", &json!({"command": "get secrets -o json | jq '.items[0].data'"}).to_string()),
                ("kubectl", &json!({"command": "get secret vault-creds -o jsonpath={.data.token}"}).to_string()),
                ("kubectl", &json!({"command": "get cm,pods -o yaml"}).to_string()),
                ("kubectl", &json!({"command": "get secret vault-creds -o yaml"}).to_string()),
            ]),
            answer("Nothing to see."),
        ]),
        &[],
    );
    let out = run(&mut exec(&fm, &fx, &["show me the vault secret"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let sent = serde_json::to_string(&fm.requests()).unwrap();
    for canary in [
        "Q0FOQVJZLXNlY3JldC04ejI=",
        "CANARY-secret-8z2",
        "CANARY-lastapplied",
        "CANARY-stringdata",
        "CANARY-configmap",
        "CANARY-env",
        "CANARY-annotation",
    ] {
        assert!(!sent.contains(canary), "{canary} was sent");
    }
    let results = tool_results(&fm.requests()[1]);
    assert!(results[0].contains("vault-creds") && results[0].contains("token"), "the key names remain: {}", results[0]);
    for refused in [&results[1], &results[2], &results[4]] {
        assert!(refused.starts_with("refused: Secret values are never read"), "{refused}");
    }
}

#[test]
fn large_results_stay_within_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let state_file = dir.path().join("big.json");
    let generated = run(std::process::Command::new(crate::support::bin("gen-cluster"))
        .args(["--pods", "3000", "--namespaces", "10", "--out"])
        .arg(&state_file));
    assert_eq!(generated.code, 0, "{}", generated.stderr);
    let fx = Fixture::start(&state_file, &[]);
    let fm = FakeModel::start(&script(&[kubectl_call("get pods -A -o json"), answer("Many pods.")]), &[]);
    let out = run(&mut exec(&fm, &fx, &["list every pod", "--max-tool-tokens", "2000", "-o", "json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let result = &tool_results(&fm.requests()[1])[0];
    let model = fm.requests()[1]["body"]["model"].as_str().unwrap().to_string();
    let tokens = opsagent::llm::tokens::Counter::for_model(&model).count(result);
    assert!(tokens <= 2000, "the result sent takes {tokens} tokens");
    assert!(result.contains("A list of 3000 items (3000 Pod)"), "{}", &result[..result.len().min(400)]);
    assert!(result.contains("Narrow the query"), "the model is told how to narrow it");
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(report["steps"][0]["output_tokens"].as_u64().unwrap() > 100_000, "the raw output was large");
}

#[test]
fn dry_run_prints_the_first_request_and_sends_nothing() {
    let fx = Fixture::start(&state("demo"), &["--namespace", "shop"]);
    let fm = FakeModel::start(&script(&[answer("x")]), &[]);
    let out = run(&mut exec(&fm, &fx, &["how many namespaces?", "--dry-run"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("how many namespaces?"), "{}", out.stdout);
    assert!(out.stdout.contains("tools offered: kubectl, jq"), "{}", out.stdout);
    assert!(fm.requests().is_empty());
    // Without a question and without a terminal: a usage error.
    let none = run(&mut exec(&fm, &fx, &[]));
    assert_eq!(none.code, 2);
    none.assert_one_error_line();
}

#[test]
fn on_a_terminal_a_change_is_asked_for() {
    let fx = Fixture::start(&state("demo"), &["--namespace", "shop"]);
    let delete = kubectl_call("delete pod redis-0");
    let fm = FakeModel::start(&script(&[delete.clone(), answer("Not deleted."), delete, answer("Deleted.")]), &[]);
    // The default is No.
    let declined = crate::support::run_on_terminal(&mut exec(&fm, &fx, &["delete redis-0"]), &[("Run it?", "\r")]);
    assert_eq!(declined.code, 6, "{}", declined.output);
    let plain = declined.plain();
    assert!(
        plain.contains("kubectl --context=fixture --request-timeout=30s delete pod redis-0")
            && plain.contains("context fixture · server http://127.0.0.1:")
            && plain.contains("namespace shop"),
        "{plain}"
    );
    let result = &tool_results(&fm.requests()[1])[0];
    assert!(result.starts_with("refused: the user declined kubectl --context=fixture"), "{result}");
    assert_eq!(deletes(&fx), 0);
    // Down to Yes.
    let accepted =
        crate::support::run_on_terminal(&mut exec(&fm, &fx, &["delete redis-0"]), &[("Run it?", "\x1b[B\r")]);
    assert_eq!(accepted.code, 0, "{}", accepted.output);
    assert!(accepted.plain().contains("Deleted."), "{}", accepted.output);
    assert_eq!(deletes(&fx), 1);
}

#[test]
fn an_interactive_session_keeps_the_conversation() {
    let fx = Fixture::start(&state("demo"), &["--namespace", "shop"]);
    let fm = FakeModel::start(
        &script(&[kubectl_call("get ns -o name"), answer("First answer."), answer("Second answer.")]),
        &[],
    );
    let session = crate::support::run_on_terminal(
        &mut exec(&fm, &fx, &[]),
        &[
            ("›", "which namespace?\r"),
            ("First answer.", "and the other one?\r"),
            ("Second answer.", "/usage\r"),
            ("total, last 30 days", "/exit\r"),
        ],
    );
    assert_eq!(session.code, 0, "{}", session.output);
    let plain = session.plain();
    let row = plain.lines().find(|l| l.contains(" exec ") && l.contains("gpt-4o-mini")).unwrap_or_default();
    let numbers: Vec<&str> = row.split_whitespace().skip(4).take(3).collect();
    assert_eq!(numbers, ["3", "30", "15"], "/usage: three calls of 10 and 5 tokens: {plain}");
    let requests = fm.requests();
    assert_eq!(requests.len(), 3);
    let messages = requests[2]["body"]["messages"].as_array().unwrap();
    let said: Vec<&str> = messages.iter().skip(1).map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(said, ["user", "assistant", "tool", "assistant", "user"]);
    assert_eq!(messages.last().unwrap()["content"], "and the other one?");
    // The second answer rests on the first question's tool result: no nudge, no mark.
    assert!(!session.output.contains("Not based on cluster data"), "{}", session.output);
}

/// A Custom Search stand-in: answers every request with two results and records the queries.
fn search_server() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/customsearch/v1", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            record.lock().unwrap().push(line.trim().to_string());
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
                    break;
                }
            }
            let body = json!({"items": [
                {"title": "CrashLoopBackOff explained", "link": "https://example.com/a", "snippet": "Back-off restarting failed container"},
                {"title": "Debug pods", "link": "https://example.com/b", "snippet": "kubectl describe"}]})
            .to_string();
            let mut s = stream;
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, seen)
}

#[test]
fn optional_tools_are_offered_only_when_they_can_work() {
    let fx = Fixture::start(&state("demo"), &["--namespace", "shop"]);
    let dir = tempfile::tempdir().unwrap();
    let Some(trivy) = crate::support::fake_trivy(dir.path()) else { return };
    let path = format!("{trivy}:{}", std::env::var("PATH").unwrap());
    let (search, queries) = search_server();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        r#"
[[tools]]
name = "echo_ns"
description = "Echoes a namespace"
command = ["echo", "namespace={ns}"]
read_only = true
[tools.parameters.ns]
type = "string"
description = "a namespace"

[[tools]]
name = "restart_all"
description = "Restarts everything"
command = ["echo", "restarted {ns}"]
[tools.parameters.ns]
type = "string"
"#,
    )
    .unwrap();
    let fm = FakeModel::start(
        &script(&[
            calls(&[
                ("trivy", &json!({"image": "fluentd:1"}).to_string()),
                ("web_search", &json!({"query": "CrashLoopBackOff password=hunter2"}).to_string()),
                ("echo_ns", &json!({"ns": "shop; rm -rf /"}).to_string()),
                ("restart_all", &json!({"ns": "shop"}).to_string()),
            ]),
            answer("Done."),
        ]),
        &[],
    );
    let look = |fm: &FakeModel, extra: &[&str]| {
        run(exec(fm, &fx, &[&["look around"][..], extra].concat())
            .env("PATH", &path)
            .env("GOOGLE_API_KEY", "gk-test")
            .env("GOOGLE_CSE_ID", "cse-test")
            .env("OPSAGENT_WEB_SEARCH_URL", &search)
            .env("OPSAGENT_CONFIG", &config))
    };
    let out = look(&fm, &[]);
    // The search sends text out of the cluster and the restart changes it: without a terminal or
    // --yes, neither runs.
    assert_eq!(out.code, 6, "{}", out.stderr);
    let requests = fm.requests();
    let offered: Vec<&str> = requests[0]["body"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(offered, ["kubectl", "jq", "trivy", "web_search", "echo_ns", "restart_all"]);
    let results = tool_results(&requests[1]);
    assert!(
        results[0].contains("\nfluentd:1: 1 critical, 1 high") && results[0].contains("CVE-2019-18224"),
        "{}",
        results[0]
    );
    assert!(results[1].starts_with("refused: web_search"), "{}", results[1]);
    assert!(queries.lock().unwrap().is_empty(), "nothing was sent to the web");
    assert!(results[2].contains("\nnamespace=shop; rm -rf /\n</data>"), "an argument, never a shell: {}", results[2]);
    assert!(results[3].starts_with("refused: echo 'restarted shop' changes the cluster"), "{}", results[3]);
    assert!(out.stderr.contains("not done: web_search") && out.stderr.contains("not done: echo 'restarted shop'"));
    // With --yes the search runs, with the keys and without the password the model put in it.
    let fm = FakeModel::start(
        &script(&[
            calls(&[("web_search", &json!({"query": "CrashLoopBackOff password=hunter2"}).to_string())]),
            answer("Done."),
        ]),
        &[],
    );
    let out = look(&fm, &["--yes"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let results = tool_results(&fm.requests()[1]);
    assert!(
        results[0].contains("CrashLoopBackOff explained") && results[0].contains("https://example.com/a"),
        "{}",
        results[0]
    );
    let query = queries.lock().unwrap().join("\n");
    assert!(query.contains("key=gk-test") && query.contains("cx=cse-test") && !query.contains("hunter2"), "{query}");
    // Without trivy, keys or config, only kubectl and jq are offered.
    let fm2 = FakeModel::start(&script(&[answer("ok")]), &[]);
    let only_kubectl = tempfile::tempdir().unwrap();
    let kubectl = std::process::Command::new("sh").args(["-c", "command -v kubectl"]).output().unwrap();
    std::os::unix::fs::symlink(String::from_utf8_lossy(&kubectl.stdout).trim(), only_kubectl.path().join("kubectl"))
        .unwrap();
    let plain = run(exec(&fm2, &fx, &["hi"]).env("PATH", only_kubectl.path()));
    assert_eq!(plain.code, 0, "{}", plain.stderr);
    let second = fm2.requests();
    let offered: Vec<&str> = second[0]["body"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(offered, ["kubectl", "jq"]);
}

#[test]
fn verbose_shows_tool_calls_as_they_happen() {
    let fx = Fixture::start(&state("demo"), &["--namespace", "shop"]);
    let thinking = json!({"content": "<think>hidden</think>Counting namespaces first.", "tool_calls": kubectl_call("get ns -o name | wc -l")["tool_calls"]});
    let fm = FakeModel::start(&script(&[thinking, answer("Done.")]), &[]);
    let out = run(&mut exec(&fm, &fx, &["count", "-v"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("Counting namespaces first."), "{}", out.stderr);
    assert!(!out.stderr.contains("hidden"), "reasoning stays hidden: {}", out.stderr);
    assert!(out.stderr.contains("→ kubectl get ns -o name | wc -l (exit 0,"), "{}", out.stderr);
    assert_eq!(out.stdout.trim(), "Done.");
}

/// Sessions: saved after every question (0600, nothing secret), resumed with the earlier turns so
/// that facts already gathered are not gathered again, listed (a corrupt file skipped with a
/// warning), refused on another context without a terminal, deleted.
#[test]
fn sessions_are_saved_resumed_listed_and_deleted() {
    use std::os::unix::fs::PermissionsExt as _;
    let fx = Fixture::start(&state("demo"), &["--namespace", "shop"]);
    let expected = namespaces(&fx);
    let fm = FakeModel::start(
        &script(&[
            kubectl_call("get ns -o name"),
            answer(&format!("There are {expected} namespaces.")),
            answer("The first one is default."),
        ]),
        &[],
    );
    let out = run(&mut exec(&fm, &fx, &["how many namespaces are there?", "-o", "json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let first: Value = serde_json::from_str(&out.stdout).unwrap();
    let id = first["session"].as_str().unwrap().to_string();
    let dir = fm.dir.path().join("state/opsagent/sessions");
    let file = dir.join(format!("{id}.json"));
    let saved: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(saved["context"], "fixture");
    assert_eq!(saved["namespace"], "shop");
    assert_eq!(saved["questions"], json!(["how many namespaces are there?"]));
    assert_eq!(saved["usage"]["calls"], 2);
    let roles: Vec<&str> = saved["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "assistant", "tool", "assistant"]);
    assert!(!std::fs::read_to_string(&file).unwrap().contains("sk-test-key"), "no key in a session");

    // Resumed: the earlier turns are sent, and the model answers from them without a tool call.
    let out = run(&mut exec(&fm, &fx, &["--resume", "which one comes first?", "-o", "json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains(&format!("resumed session {id} (1 earlier question)")), "{}", out.stderr);
    let second: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(second["session"], id.as_str());
    assert_eq!(second["steps"], json!([]), "no new tool call for facts already in the session");
    assert_eq!(second["grounded"], true, "grounded in the earlier tool result: no nudge");
    let requests = fm.requests();
    assert_eq!(requests.len(), 3);
    let sent = requests[2]["body"]["messages"].as_array().unwrap();
    let roles: Vec<&str> = sent.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["system", "user", "assistant", "tool", "assistant", "user"]);
    assert!(sent[3]["content"].as_str().unwrap().contains("namespace/shop"));
    let saved: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(saved["questions"].as_array().unwrap().len(), 2);

    // Listed, a corrupt file skipped with a warning.
    std::fs::write(dir.join("20260101-000000-dead.json"), "{not json").unwrap();
    let out = run(&mut exec(&fm, &fx, &["--list-sessions"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.starts_with(&id) && out.stdout.contains("fixture/shop") && out.stdout.contains("2 questions"),
        "{}",
        out.stdout
    );
    assert!(out.stderr.contains("20260101-000000-dead.json skipped"), "{}", out.stderr);

    // A session of another context is not continued here without a person's yes.
    let mut elsewhere = saved.clone();
    elsewhere["context"] = json!("prod");
    elsewhere["id"] = json!("20260102-000000-beef");
    std::fs::write(dir.join("20260102-000000-beef.json"), elsewhere.to_string()).unwrap();
    let before = fm.requests().len();
    let out = run(&mut exec(&fm, &fx, &["--resume=20260102-000000-beef", "scale it down"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    out.assert_one_error_line();
    assert!(out.stderr.contains("worked on context prod"), "{}", out.stderr);
    assert_eq!(fm.requests().len(), before, "nothing asked");

    // Bad ids and deletion.
    for (args, code, says) in [
        (vec!["--resume=../../etc/passwd", "x"], 2, "is not a session id"),
        (vec!["--resume=20990101-000000-0000", "x"], 2, "no session 20990101-000000-0000"),
        (vec!["--delete-session", id.as_str()], 0, "deleted 1 session"),
        (vec!["--delete-session", id.as_str()], 2, "no session"),
        (vec!["--delete-session"], 2, "takes one session's ID, or --all"),
        (vec!["--delete-session", "x", "--all"], 2, "takes one session's ID, or --all"),
        (vec!["--all"], 2, "--delete-session"),
        (vec!["--delete-session", "--all"], 0, "deleted 2 sessions"),
        (vec!["--resume=x?", "y"], 2, "is not a session id"),
    ] {
        let out = run(&mut exec(&fm, &fx, &args));
        assert_eq!(out.code, code, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
    }
    let out = run(&mut exec(&fm, &fx, &["--resume", "again?"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("no saved session to resume"), "{}", out.stderr);
}
