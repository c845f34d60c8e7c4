//! Spending caps and the usage ledger (issue 20, item 3), against the fake model: every reply
//! reports 10 tokens sent and 5 answered unless its script says otherwise.

use serde_json::{Value, json};

use crate::support::{FakeModel, Fixture, kubectl_call, run, run_with_stdin, state};

const ANALYZE: &str = "kubectl-ai-analyze";
const EXEC: &str = "kubectl-ai-exec";
const GEN: &str = "kubectl-ai-gen";
const AUDIT: &str = "kubectl-ai-audit";

fn script(replies: &[Value]) -> String {
    serde_json::to_string(&json!({"replies": replies})).unwrap()
}

fn exec(fm: &FakeModel, fx: &Fixture, args: &[&str]) -> std::process::Command {
    let mut cmd = fm.exec(fx);
    cmd.args(args);
    cmd
}

/// A config file pricing `test-model` at $1,000 / $2,000 per million tokens: a call of the fake
/// model (10 sent, 5 answered) costs $0.02. Profile `team` may spend $0.03 a day.
fn priced(fm: &FakeModel) -> std::path::PathBuf {
    let path = fm.dir.path().join("priced.toml");
    std::fs::write(
        &path,
        "[prices.test-model]\ninput = 1000.0\noutput = 2000.0\n\n[profiles.team]\nprovider = \"openai\"\nmodel = \"test-model\"\nmax_cost_per_day = 0.03\n",
    )
    .unwrap();
    path
}

/// `--usage -o json` of this fake model's state directory.
fn usage(fm: &FakeModel) -> Value {
    let out = run(fm.command(EXEC).args(["--usage", "-o", "json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    out.json()
}

/// The ledger's total for what the fake model recorded: 10 sent and 5 answered per request.
fn assert_ledger_matches(fm: &FakeModel) -> Value {
    let ledger = usage(fm);
    let calls = fm.requests().len() as u64;
    assert_eq!(ledger["total"]["calls"], calls, "{ledger}");
    assert_eq!(ledger["total"]["promptTokens"], 10 * calls, "{ledger}");
    assert_eq!(ledger["total"]["completionTokens"], 5 * calls, "{ledger}");
    ledger
}

#[test]
fn a_token_cap_stops_exec_within_one_call_after_saving_the_session() {
    let fx = Fixture::start(&state("demo"), &["--namespace", "shop"]);
    let fm = FakeModel::start(
        &script(&[
            kubectl_call("c1", "get ns -o name"),
            kubectl_call("c2", "get pods -o name"),
            kubectl_call("c3", "get deploy -o name"),
            kubectl_call("c4", "get svc -o name"),
            json!({"content": "Done."}),
        ]),
        &[],
    );
    // 15 tokens a call: 15, 30, 45 — the fourth call would begin past 40.
    let out = run(&mut exec(&fm, &fx, &["what runs in shop?", "--max-tokens", "40"]));
    assert_eq!(out.code, 8, "{}", out.stderr);
    out.assert_one_error_line();
    assert!(
        out.stderr.contains("stopped: this question used 45 tokens in 3 model calls, reaching --max-tokens 40"),
        "{}",
        out.stderr
    );
    assert_eq!(fm.requests().len(), 3, "stopped before the call that would begin past the cap");
    let id = out.stderr.split("--resume=").nth(1).and_then(|s| s.split_whitespace().next()).unwrap().to_string();
    let saved: Value = serde_json::from_slice(
        &std::fs::read(fm.dir.path().join(format!("state/opsagent/sessions/{id}.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(saved["usage"], json!({"calls": 3, "prompt_tokens": 30, "completion_tokens": 15}), "{saved}");
    let roles: Vec<&str> = saved["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(
        roles,
        ["user", "assistant", "tool", "assistant", "tool", "assistant", "tool"],
        "the facts gathered kept"
    );
    let ledger = assert_ledger_matches(&fm);
    let rows = ledger["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{ledger}");
    assert_eq!(rows[0]["plugin"], "exec");
    assert_eq!(rows[0]["model"], "gpt-4o-mini");

    // Resumed with room: the next call goes on from the facts, and the ledger keeps counting.
    let out = run(&mut exec(&fm, &fx, &[&format!("--resume={id}"), "go on", "--max-tokens", "100"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fm.requests().len(), 5, "the cap counts per question: c4 and the answer");
    assert_ledger_matches(&fm);
}

#[test]
fn a_cost_cap_stops_analyze_explain_with_the_report_written() {
    let fm = FakeModel::start(
        &script(&[
            json!({"content": "[{\"problem\": 1, \"cause\": \"a cause\", \"fix\": [\"a fix\"], \"verify\": \"check\"}]"}),
        ]),
        &[],
    );
    let snapshot = state("explain");
    let config = priced(&fm);
    let args = [
        "--snapshot",
        snapshot.to_str().unwrap(),
        "--explain",
        "--batch",
        "1",
        "--no-cache",
        "--model",
        "test-model",
        "--config",
        config.to_str().unwrap(),
        "--max-cost",
        "$0.03",
        "-o",
        "json",
    ];
    let out = run(fm.command(ANALYZE).args(args));
    assert_eq!(out.code, 8, "{}", out.stderr);
    // $0.02 a call: 0.02, 0.04 — the third would begin past $0.03, though four problems wait.
    assert_eq!(fm.requests().len(), 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "2 problems left unexplained: stopped: this run cost an estimated $0.0400 in 2 model calls, reaching --max-cost 0.03"
        ),
        "{}",
        out.stderr
    );
    let report = out.json();
    let explained = report["results"].as_array().unwrap().iter().filter(|f| f["explanation"].is_object()).count();
    assert!(explained >= 2, "the answers that came are in the report: {report}");
    let ledger = assert_ledger_matches(&fm);
    assert_eq!(ledger["rows"][0]["plugin"], "analyze");
    let cost = ledger["total"]["cost"].as_f64().unwrap();
    assert!((cost - 0.04).abs() < 1e-9, "{ledger}");
}

#[test]
fn a_cap_stops_gen_repairs_and_shows_what_it_had() {
    let fm = FakeModel::start(&script(&[json!({"content": "I cannot write YAML today."})]), &[]);
    let out = run(fm.command(GEN).args(["nginx", "--no-cluster", "--max-repairs", "5", "--max-tokens", "40"]));
    assert_eq!(out.code, 8, "{}", out.stderr);
    assert_eq!(fm.requests().len(), 3, "{}", out.stderr);
    assert!(out.stdout.is_empty(), "nothing invalid on stdout: {}", out.stdout);
    assert!(out.stderr.contains("problem: reply: no YAML in it"), "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "error: stopped: this run used 45 tokens in 3 model calls, reaching --max-tokens 40; the manifests still have 1 problem(s)"
        ),
        "{}",
        out.stderr
    );
    assert_ledger_matches(&fm);
}

#[test]
fn a_profile_day_cap_counts_every_run_of_the_day() {
    let fm = FakeModel::start(&script(&[json!({"content": "The database refused the connection."})]), &[]);
    let config = priced(&fm);
    let log = b"ERROR connection refused by db:5432\n";
    let pipe = |fm: &FakeModel| {
        let mut cmd = fm.command(ANALYZE);
        cmd.args(["-", "--profile", "team", "--config", config.to_str().unwrap()]);
        run_with_stdin(&mut cmd, log)
    };
    // $0.02 each: 0.02 < 0.03, so the second run may begin; then 0.04 is past the day's cap.
    for n in 1..=2 {
        let out = pipe(&fm);
        assert_eq!(out.code, 0, "run {n}: {}", out.stderr);
    }
    let out = pipe(&fm);
    assert_eq!(out.code, 8, "{}", out.stderr);
    out.assert_one_error_line();
    assert!(
        out.stderr.contains(
            "stopped: profile \"team\" has spent an estimated $0.0400 today, reaching its max_cost_per_day 0.03"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(fm.requests().len(), 2, "nothing sent once the day's cap is reached");
    let ledger = assert_ledger_matches(&fm);
    assert_eq!(ledger["rows"][0]["profile"], "team");
    // Another profile's day is its own.
    let out = run_with_stdin(fm.command(ANALYZE).args(["-", "--model", "test-model"]), log);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn tokens_the_provider_does_not_report_are_counted_and_marked() {
    let fm =
        FakeModel::start(&script(&[json!({"content": "The database refused the connection.", "usage": false})]), &[]);
    let out = run_with_stdin(fm.command(ANALYZE).args(["-", "--max-tokens", "100000"]), b"ERROR refused by db\n");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let ledger = usage(&fm);
    let row = &ledger["rows"][0];
    assert_eq!(row["calls"], 1);
    assert_eq!(row["countedCalls"], 1, "{ledger}");
    assert!(row["promptTokens"].as_u64().unwrap() > 50, "the prompt counted by us: {ledger}");
    assert!(row["completionTokens"].as_u64().unwrap() >= 5, "{ledger}");
    let text = run(fm.command(EXEC).arg("--usage"));
    assert_eq!(text.code, 0, "{}", text.stderr);
    let lines: Vec<&str> = text.stdout.lines().collect();
    assert!(lines[0].starts_with("DAY") && lines[0].ends_with("COST (EST.)"), "{}", text.stdout);
    assert!(
        lines[1].contains(" analyze ") && lines[1].contains("gpt-4o-mini") && lines[1].contains('*'),
        "{}",
        text.stdout
    );
    assert!(lines[2].starts_with("total, last 30 days"), "{}", text.stdout);
    assert!(text.stdout.contains("* some calls' tokens were counted by opsagent"), "{}", text.stdout);
}

#[test]
fn bad_caps_and_unpriced_models_are_refused_before_anything_is_sent() {
    let fm = FakeModel::start(&script(&[json!({"content": "x"})]), &[]);
    let empty = run(fm.command(EXEC).arg("--usage"));
    assert_eq!(empty.code, 0, "{}", empty.stderr);
    assert!(empty.stdout.starts_with("no model calls in the last 30 days (ledger: "), "{}", empty.stdout);
    for (args, says) in [
        (vec!["--max-cost", "abc"], "is not an amount of US dollars above 0"),
        (vec!["--max-cost", "0"], "is not an amount of US dollars above 0"),
        (vec!["--max-tokens", "0"], "--max-tokens"),
        (vec!["--max-cost", "1", "--model", "my-own-model"], "no price is known for model \"my-own-model\""),
    ] {
        let out = run_with_stdin(fm.command(ANALYZE).arg("-").args(&args), b"ERROR x\n");
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        out.assert_one_error_line();
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
    }
    let config = fm.dir.path().join("bad.toml");
    std::fs::write(&config, "[profiles.p]\nmax_cost_per_day = -1\n").unwrap();
    let out = run_with_stdin(
        fm.command(ANALYZE).args(["-", "--profile", "p", "--config", config.to_str().unwrap()]),
        b"ERROR x\n",
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("max_cost_per_day -1"), "{}", out.stderr);
    // A corrupt ledger is said once and left for the person; the run is not lost.
    let ledger = fm.dir.path().join("state/opsagent/usage.json");
    std::fs::create_dir_all(ledger.parent().unwrap()).unwrap();
    std::fs::write(&ledger, "{corrupt").unwrap();
    let out = run_with_stdin(fm.command(ANALYZE).arg("-"), b"ERROR x\n");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("could not be updated") && out.stderr.contains("is not a usage ledger"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read_to_string(&ledger).unwrap(), "{corrupt");
    let shown = run(fm.command(EXEC).arg("--usage"));
    assert_eq!(shown.code, 2, "{}", shown.stderr);
    shown.assert_one_error_line();
    assert_eq!(fm.requests().len(), 1, "only the run with a corrupt ledger was sent");
}

#[test]
fn a_cap_stops_audit_explain_with_the_report_written() {
    let fm = FakeModel::start(&script(&[json!({"content": "Fix it."})]), &[]);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("audit");
    let mut cmd = fm.command(AUDIT);
    cmd.current_dir(&dir);
    let checks = ["-f", "manifests/web.yaml", "--checks", "POD-001,POD-017,SEC-001", "--explain", "--no-cache"];
    // One request a check: 15, then 30 — past 20 before the third.
    let out = run(cmd.args(checks).args(["--max-tokens", "20", "-o", "json"]));
    assert_eq!(out.code, 8, "{}", out.stderr);
    assert_eq!(fm.requests().len(), 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "1 check left unexplained: stopped: this run used 30 tokens in 2 model calls, reaching --max-tokens 20"
        ),
        "{}",
        out.stderr
    );
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["explanations"].as_object().unwrap().len(), 2, "{report}");
    assert_ledger_matches(&fm);
}
