//! `kubectl ai gen` against the fake model and the fixture cluster: extraction, strict validation
//! with repairs, server dry runs, applying only on request, editing what stdin holds.

use crate::support::{FakeModel, Fixture, bin, clean_model_env, run, run_on_terminal, run_with_stdin, state};

const GEN: &str = "kubectl-ai-gen";

const VALID: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27.3
        ports:
        - containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
";

/// A script whose replies are these texts, in order.
fn script(replies: &[String]) -> String {
    let mut s = String::from("replies:\n");
    for r in replies {
        s.push_str(&format!("  - content: {}\n", serde_json::to_string(r).unwrap()));
    }
    s
}

fn generator(fm: &FakeModel, fx: &Fixture) -> std::process::Command {
    let mut cmd = fm.command(GEN);
    cmd.env("KUBECONFIG", fx.kubeconfig()).env("OPSAGENT_AUDIT_LOG", fm.dir.path().join("audit.jsonl"));
    cmd
}

fn user_messages(fm: &FakeModel, request: usize) -> Vec<String> {
    fm.requests()[request]["body"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "user")
        .map(|m| m["content"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_misspelled_field_is_named_repaired_and_the_result_passes_a_server_dry_run() {
    let fx = Fixture::start(&state("demo"), &["--namespace", "shop"]);
    let misspelled = VALID.replacen("replicas: 3", "replcas: 3", 1);
    let fm = FakeModel::start(
        &script(&[
            format!("<think>plan it</think>Here you go:\n```yaml\n{misspelled}```\nApply it with kubectl."),
            format!("```yaml\n{VALID}```"),
        ]),
        &[],
    );
    let out = run(generator(&fm, &fx).args(["nginx deployment with 3 replicas behind a service"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, VALID, "piped: exactly the YAML");
    assert!(out.stderr.contains("repair 1 of 2: Deployment web: spec.replcas: unknown field"), "{}", out.stderr);
    assert!(out.stderr.contains("fixed: Deployment web: spec.replcas: unknown field"), "{}", out.stderr);
    // Valid is not yet secure: the audit's findings are warnings, the YAML is still printed.
    assert!(
        out.stderr.contains("warning: audit: Deployment web: POD-017 Privilege escalation allowed (container web)"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("audit: Service"), "a plain ClusterIP Service is fine: {}", out.stderr);
    let requests = fm.requests();
    assert_eq!(requests.len(), 2);
    let first = &user_messages(&fm, 0)[0];
    for fact in ["Kubernetes v1.32", "Target namespace: shop", "Namespaces: default", "Request: nginx deployment"] {
        assert!(first.contains(fact), "{fact}: {first}");
    }
    let repair = user_messages(&fm, 1).pop().unwrap();
    assert!(repair.contains("- Deployment web: spec.replcas: unknown field"), "{repair}");
    assert_eq!(requests[1]["body"]["messages"][2]["role"], "assistant", "the conversation is kept");
    // Only the repaired version reached the server, as dry runs; nothing was created.
    let dry: Vec<_> = fx.requests().into_iter().filter(|r| r["method"] == "PATCH").collect();
    assert_eq!(dry.len(), 2, "{dry:?}");
    for (r, path) in
        dry.iter().zip(["/apis/apps/v1/namespaces/shop/deployments/web", "/api/v1/namespaces/shop/services/web"])
    {
        assert_eq!(r["path"], path);
        assert_eq!(r["query"]["dryRun"], "All");
        assert_eq!(r["query"]["fieldManager"], "kubectl-ai");
    }
    assert!(fx.recorded().iter().all(|r| r["dryRun"] == true), "nothing but dry runs");
    let check = run(&mut fx.kubectl(&["get", "deployment", "web", "-n", "shop"]));
    assert_ne!(check.code, 0, "not created: {}", check.stdout);
}

#[test]
fn apply_only_with_yes_or_a_confirmation() {
    let fx = Fixture::start(&state("demo"), &["--namespace", "shop"]);
    let fm = FakeModel::start(&script(&[format!("```yaml\n{VALID}```")]), &[]);
    let refused = run(generator(&fm, &fx).args(["nginx", "--apply"]));
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    refused.assert_one_error_line();
    assert!(refused.stderr.contains("add --yes"), "{}", refused.stderr);
    assert!(fm.requests().is_empty(), "refused before asking the model");
    assert!(fx.recorded().is_empty(), "nothing applied");

    let applied = run(generator(&fm, &fx).args(["nginx", "--apply", "--yes"]));
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    assert_eq!(applied.stdout, "deployment.apps/web created\nservice/web created\n");
    let writes: Vec<_> = fx.recorded().into_iter().filter(|r| r["dryRun"] == false).collect();
    assert_eq!(writes.len(), 2, "{writes:?}");
    assert_eq!(writes[0]["contentType"], "application/apply-patch+yaml");
    let got = run(&mut fx.kubectl(&["get", "deployment", "web", "-n", "shop", "-o", "jsonpath={.spec.replicas}"]));
    assert_eq!(got.stdout, "3", "{}", got.stderr);
    let audit = std::fs::read_to_string(fm.dir.path().join("audit.jsonl")).unwrap();
    let entries: Vec<serde_json::Value> = audit.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["tool"], "gen");
    assert_eq!(entries[0]["command"], "apply Deployment shop/web");
    assert_eq!(entries[0]["result"], "created");
    assert_eq!(entries[0]["context"], "fixture");

    let again = run(generator(&fm, &fx).args(["nginx", "--apply", "--yes"]));
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stdout.contains("deployment.apps/web "), "{}", again.stdout);
    assert!(!again.stdout.contains("created"), "the second apply updates: {}", again.stdout);
}

#[test]
fn still_invalid_after_the_repairs_prints_nothing_on_stdout_and_applies_nothing() {
    let fx = Fixture::start(&state("demo"), &["--namespace", "shop"]);
    let bad = VALID.replacen("image: nginx:1.27.3", "image: nginx:1.27.3\n        imagePullPolcy: Always", 1);
    let fm = FakeModel::start(&script(&[format!("```yaml\n{bad}```")]), &[]);
    let out = run(generator(&fm, &fx).args(["nginx", "--apply", "--yes", "--max-repairs", "1"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(out.stdout, "", "nothing for kubectl apply to read");
    assert!(
        out.stderr.contains("problem: Deployment web: spec.template.spec.containers[0].imagePullPolcy: unknown field"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("imagePullPolcy: Always"), "the manifest is shown with its errors: {}", out.stderr);
    assert!(out.stderr.lines().last().unwrap().starts_with("error: the manifests are still invalid after 1 repair(s)"));
    assert_eq!(fm.requests().len(), 2, "one repair");
    assert!(fx.recorded().is_empty(), "nothing reached the server");
}

#[test]
fn stdin_is_the_base_and_fields_not_asked_about_are_kept() {
    let fx = Fixture::start(&state("demo"), &["--namespace", "shop"]);
    let base = VALID.replacen(
        "        ports:\n",
        "        env:\n        - name: LOG_LEVEL\n          value: debug\n        ports:\n",
        1,
    );
    let probe = "        readinessProbe:\n          httpGet: {path: /healthz, port: 8080}\n";
    let without_env = VALID.replacen("        ports:\n", &format!("{probe}        ports:\n"), 1);
    let with_env = base.replacen("        ports:\n", &format!("{probe}        ports:\n"), 1);
    let fm = FakeModel::start(&script(&[format!("```yaml\n{without_env}```"), format!("```yaml\n{with_env}```")]), &[]);
    let out = run_with_stdin(generator(&fm, &fx).args(["add a readiness probe on /healthz"]), base.as_bytes());
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, with_env, "the env var the request did not mention is back");
    let first = &user_messages(&fm, 0)[0];
    assert!(first.contains("The manifests to change") && first.contains("name: LOG_LEVEL"), "{first}");
    let repair = user_messages(&fm, 1).pop().unwrap();
    assert!(repair.contains("Deployment web: spec.template.spec.containers[0].env[0].name"), "{repair}");
    assert!(out.stderr.contains("dropped"), "{}", out.stderr);
}

#[test]
fn bad_input_is_one_line() {
    let fx = Fixture::start(&state("demo"), &[]);
    let fm = FakeModel::start(&script(&["I can't do that.".to_string()]), &[]);
    let empty = run(generator(&fm, &fx).arg("  "));
    assert_eq!(empty.code, 2, "{}", empty.stderr);
    empty.assert_one_error_line();
    let broken = run_with_stdin(generator(&fm, &fx).arg("add a probe"), b"apiVersion: v1\nkind: [\n");
    assert_eq!(broken.code, 2, "{}", broken.stderr);
    broken.assert_one_error_line();
    assert!(broken.stderr.starts_with("error: stdin: line "), "{}", broken.stderr);
    assert!(fm.requests().is_empty());
    let no_yaml = run(generator(&fm, &fx).args(["nginx", "--max-repairs", "0"]));
    assert_eq!(no_yaml.code, 1, "{}", no_yaml.stderr);
    assert!(no_yaml.stderr.contains("problem: reply: no YAML in it (run with -v to see it)"), "{}", no_yaml.stderr);
    let mut none = std::process::Command::new(bin(GEN));
    clean_model_env(&mut none);
    let home = tempfile::tempdir().unwrap();
    let no_model =
        run(none.env("HOME", home.path()).env("XDG_CONFIG_HOME", home.path()).args(["nginx", "--no-cluster"]));
    assert_eq!(no_model.code, 5, "{}", no_model.stderr);
    no_model.assert_one_error_line();
}

#[test]
fn without_a_cluster_it_still_checks_and_dry_run_sends_nothing() {
    let fm = FakeModel::start(&script(&[format!("```yaml\n{VALID}```")]), &[]);
    let mut cmd = fm.command(GEN);
    cmd.env("KUBECONFIG", fm.dir.path().join("missing-kubeconfig"));
    let out = run(cmd.args(["nginx"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, VALID);
    assert!(out.stderr.contains("warning: no cluster to check against"), "{}", out.stderr);
    let dry = run(fm.command(GEN).env_remove("OPENAI_API_KEY").args(["nginx", "--no-cluster", "--dry-run"]));
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert!(dry.stdout.starts_with("Dry run: nothing is sent."), "{}", dry.stdout);
    assert!(dry.stdout.contains("Request: nginx"), "{}", dry.stdout);
    assert_eq!(fm.requests().len(), 1, "the dry run sent nothing");
    let file = fm.dir.path().join("out/web.yaml");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let saved = run(fm.command(GEN).args(["nginx", "--no-cluster", "--output-file", file.to_str().unwrap()]));
    assert_eq!(saved.code, 0, "{}", saved.stderr);
    assert_eq!(saved.stdout, "");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), VALID);
    // -o json: the objects as kubectl prints several, a List.
    let json = run(fm.command(GEN).args(["nginx", "--no-cluster", "-o", "json"]));
    assert_eq!(json.code, 0, "{}", json.stderr);
    let list = json.json();
    assert_eq!(list["kind"], "List");
    let kinds: Vec<&str> = list["items"].as_array().unwrap().iter().map(|i| i["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["Deployment", "Service"]);
}

#[test]
fn on_a_terminal_nothing_is_applied_until_confirmed() {
    let fx = Fixture::start(&state("demo"), &["--namespace", "shop"]);
    let fm = FakeModel::start(&script(&[format!("```yaml\n{VALID}```")]), &[]);
    // The menu: Apply (the default), then decline; then leave the menu.
    let declined =
        run_on_terminal(generator(&fm, &fx).arg("nginx"), &[("What now?", "\r"), ("Apply?", "n"), ("What now?", "q")]);
    assert_eq!(declined.code, 0, "{}", declined.output);
    assert!(declined.output.contains("2 object(s): Deployment shop/web, Service shop/web"), "{}", declined.output);
    assert!(declined.output.contains("To apply to context fixture:"), "{}", declined.output);
    assert!(fx.recorded().iter().all(|r| r["dryRun"] == true), "declined: nothing applied");
    // --apply on a terminal asks once; declining applies nothing either.
    let no = run_on_terminal(generator(&fm, &fx).args(["nginx", "--apply"]), &[("Apply?", "n")]);
    assert_eq!(no.code, 0, "{}", no.output);
    assert!(no.plain().contains("kind: Deployment"), "the YAML is shown before asking: {}", no.output);
    assert!(no.output.contains("Nothing was applied."), "{}", no.output);
    assert!(fx.recorded().iter().all(|r| r["dryRun"] == true), "declined: nothing applied");
    // Accepting applies.
    let yes = run_on_terminal(generator(&fm, &fx).arg("nginx"), &[("What now?", "\r"), ("Apply?", "y")]);
    assert_eq!(yes.code, 0, "{}", yes.output);
    assert!(yes.output.contains("deployment.apps/web created"), "{}", yes.output);
    assert_eq!(fx.recorded().iter().filter(|r| r["dryRun"] == false).count(), 2);
}
