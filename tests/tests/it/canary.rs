//! The secret canary suite: one state with canaries wherever a secret hides (Secret data and
//! stringData, a Secret's last-applied annotation, ConfigMap values that look like secrets,
//! sensitive env values, annotations, messages, log lines), and every plugin path that talks to a
//! model run on it against the fake model. No canary may appear in any recorded request.

use std::process::Command;

use serde_json::{Value, json};

use crate::support::{FakeModel, Fixture, run, run_with_stdin, state};

/// What must never leave: each canary of tests/states/canary.
const CANARIES: &[&str] = &[
    "CANARY",
    "Q0FOQVJZ",               // base64 of a canary: Secret data, the PEM body
    "AKIACANARY",             // AWS access key ids in a ConfigMap and a log line
    "eyJDQU5BUlkiOiJqd3QifQ", // a JWT's payload in a ConfigMap
    "c2lnbmF0dXJlLWNhbmFyeQ", // and its signature
    "last-applied-configuration",
];

/// Everything one model path sent, and how many requests it made.
struct Sent {
    path: String,
    requests: usize,
    text: String,
}

fn model(script: &str) -> FakeModel {
    FakeModel::start(script, &[])
}

fn on_cluster(fm: &FakeModel, fx: &Fixture, bin: &str) -> Command {
    let mut cmd = fm.command(bin);
    cmd.env("KUBECONFIG", fx.kubeconfig())
        .env("KUBECACHEDIR", fm.dir.path().join("kubecache"))
        .env("OPSAGENT_AUDIT_LOG", fm.dir.path().join("audit.jsonl"));
    cmd
}

fn sent(path: &str, fm: &FakeModel, out: &crate::support::Run) -> Sent {
    assert!(!out.stderr.contains("panicked at"), "{path}: {}", out.stderr);
    Sent { path: path.to_string(), requests: fm.requests().len(), text: fm.everything_sent() }
}

/// Real kubectl output from the fixture, as a user would pipe it.
fn kubectl(fx: &Fixture, args: &[&str]) -> Vec<u8> {
    let out = fx.kubectl(args).output().unwrap();
    assert!(out.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn exec_script() -> String {
    let commands = [
        "get secret vault-creds -o yaml",
        "get secrets -o json",
        "get secret vault-creds -o jsonpath={.data.token}",
        "get secret vault-creds -o go-template={{.data.token}}",
        "describe secret vault-creds",
        "get configmap leaky-config -o yaml",
        "get cm leaky-config -o json | jq .data",
        "describe pod leaky-0",
        "get pod leaky-0 -o json | jq '.spec.containers[0].env'",
        "logs leaky-0 --previous",
        "get events",
    ];
    let calls: Vec<Value> = commands
        .iter()
        .enumerate()
        .map(|(i, c)| json!({"id": format!("c{i}"), "type": "function", "function": {"name": "kubectl", "arguments": json!({"command": c}).to_string()}}))
        .collect();
    json!({"replies": [
        {"content": "", "tool_calls": calls, "finish_reason": "tool_calls"},
        {"content": "Looked at everything."}
    ]})
    .to_string()
}

#[test]
fn no_canary_reaches_a_model_on_any_path() {
    let fx = Fixture::start(&state("canary"), &["--namespace", "vault"]);
    let snapshot = state("canary");
    let snapshot = snapshot.to_str().unwrap();
    let explanation = "replies:\n  - content: \"```json\\n{\\\"cause\\\": \\\"c\\\"}\\n```\"\n";
    let text = "replies:\n  - content: \"An answer.\"\n";
    let manifest = "replies:\n  - content: \"```yaml\\napiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: x\\ndata:\\n  a: b\\n```\"\n";
    let secret_yaml = kubectl(&fx, &["get", "secret", "vault-creds", "-o", "yaml"]);
    let config_yaml = kubectl(&fx, &["get", "configmap", "leaky-config", "-o", "yaml"]);
    let pod_json = kubectl(&fx, &["get", "pod", "leaky-0", "-o", "json"]);
    let logs = kubectl(&fx, &["logs", "leaky-0", "--previous"]);
    let mut all: Vec<Sent> = Vec::new();

    // analyze --explain: live (with log tails), anonymized, and on a snapshot.
    for (path, args) in [
        ("analyze --explain", vec!["--explain", "--no-cache"]),
        ("analyze --explain --anonymize", vec!["--explain", "--no-cache", "--anonymize"]),
        ("analyze --snapshot --explain", vec!["--snapshot", snapshot, "--explain", "--no-cache"]),
    ] {
        let fm = model(explanation);
        let out = run(on_cluster(&fm, &fx, "kubectl-ai-analyze").args(&args));
        all.push(sent(path, &fm, &out));
    }
    // Diagnoses of the pod, the Secret and the ConfigMap.
    for object in ["pod/leaky-0", "secret/vault-creds", "configmap/leaky-config"] {
        let fm = model(text);
        let out = run(on_cluster(&fm, &fx, "kubectl-ai-analyze").arg(object));
        all.push(sent(&format!("analyze {object}"), &fm, &out));
    }
    // Whatever is piped into analyze: logs, a Secret, a ConfigMap, a pod as JSON.
    for (what, input) in [("logs", &logs), ("secret", &secret_yaml), ("configmap", &config_yaml), ("pod", &pod_json)] {
        let fm = model(text);
        let out = run_with_stdin(on_cluster(&fm, &fx, "kubectl-ai-analyze").arg("-"), input);
        all.push(sent(&format!("{what} | analyze -"), &fm, &out));
    }
    // audit --explain, live and on the state's manifest.
    for (path, args) in [
        ("audit --explain", vec!["--explain".to_string()]),
        ("audit -f --explain", vec!["-f".into(), format!("{snapshot}/vault.yaml"), "--explain".into()]),
    ] {
        let fm = model(text);
        let out = run(on_cluster(&fm, &fx, "kubectl-ai-audit").args(&args));
        all.push(sent(path, &fm, &out));
    }
    // gen: the cluster's facts, and a Secret or ConfigMap piped in as the base to change.
    let fm = model(manifest);
    let out = run(on_cluster(&fm, &fx, "kubectl-ai-gen").args(["a deployment that reads vault-creds"]));
    all.push(sent("gen", &fm, &out));
    for (what, input) in [("secret", &secret_yaml), ("configmap", &config_yaml)] {
        let fm = model(manifest);
        let out = run_with_stdin(on_cluster(&fm, &fx, "kubectl-ai-gen").args(["add a label team=a"]), input);
        all.push(sent(&format!("{what} | gen"), &fm, &out));
    }
    // exec: every way kubectl can show a secret, and a Secret piped in as context.
    let fm = model(&exec_script());
    let out = run(on_cluster(&fm, &fx, "kubectl-ai-exec").args(["show me everything in vault"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    all.push(sent("exec", &fm, &out));
    let fm = model(text);
    let out = run_with_stdin(on_cluster(&fm, &fx, "kubectl-ai-exec").args(["what is this?"]), &secret_yaml);
    all.push(sent("secret | exec", &fm, &out));

    for s in &all {
        assert!(s.requests > 0, "{}: nothing was sent, so nothing was tested", s.path);
        for canary in CANARIES {
            if let Some(i) = s.text.find(canary) {
                let context = &s.text[i.saturating_sub(120)..(i + 80).min(s.text.len())];
                panic!("{}: {canary} was sent: …{context}…", s.path);
            }
        }
    }
    // The evidence itself went out: masked values, not missing objects.
    let everything: String = all.iter().map(|s| s.text.as_str()).collect();
    for evidence in ["vault-creds", "leaky-config", "DB_PASSWORD", "[REDACTED]", "auth failed for postgres"] {
        assert!(everything.contains(evidence), "{evidence} was never sent");
    }
}

/// A Secret piped into gen reaches the model masked, so the model's manifest holds the mask: it is
/// printed with a warning naming each masked value, and never applied.
#[test]
fn a_masked_secret_from_gen_is_never_applied() {
    let fx = Fixture::start(&state("canary"), &["--namespace", "vault"]);
    let secret = kubectl(&fx, &["get", "secret", "vault-creds", "-o", "yaml"]);
    let reply = "```yaml\napiVersion: v1\nkind: Secret\nmetadata:\n  name: vault-creds\n  labels: {team: a}\ndata:\n  token: '[REDACTED]'\n```";
    let fm = model(&json!({"replies": [{"content": reply}]}).to_string());
    let out = run_with_stdin(on_cluster(&fm, &fx, "kubectl-ai-gen").args(["add a label team=a"]), &secret);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("warning: Secret vault-creds: data.token is [REDACTED]"), "{}", out.stderr);
    assert!(out.stdout.contains("team: a"), "{}", out.stdout);
    let applied = run_with_stdin(
        on_cluster(&fm, &fx, "kubectl-ai-gen").args(["add a label team=a", "--apply", "--yes"]),
        &secret,
    );
    assert_eq!(applied.code, 2, "{}", applied.stderr);
    assert!(applied.stderr.lines().last().unwrap().contains("nothing was applied"), "{}", applied.stderr);
    assert!(
        fx.recorded().iter().all(|r| r["dryRun"] != false && r.to_string().contains("dryRun")),
        "{:?}",
        fx.recorded()
    );
}
