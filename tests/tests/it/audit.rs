//! `kubectl ai audit`: manifests (files, directories, stdin) with file and line, the live fixture
//! cluster, levels, thresholds, SARIF, trivy through a fake script, explanations via the fake model.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::{FakeModel, Fixture, bin, fake_trivy, run, run_with_stdin, state};

const AUDIT: &str = "kubectl-ai-audit";

fn manifests() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("audit/manifests")
}

/// The audit run from `tests/audit`, so that reports name files relative to it.
fn audit(args: &[&str]) -> Command {
    let mut cmd = Command::new(bin(AUDIT));
    cmd.current_dir(manifests().parent().unwrap()).args(args).env("NO_COLOR", "1").env_remove("KUBECONFIG");
    cmd
}

fn report(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not a JSON report ({e}): {stdout}"))
}

fn checks(report: &Value) -> Vec<String> {
    let mut ids: Vec<String> =
        report["findings"].as_array().unwrap().iter().map(|f| f["check"].as_str().unwrap().to_string()).collect();
    ids.sort();
    ids.dedup();
    ids
}

#[test]
fn a_directory_with_a_broken_file_is_audited_file_by_file() {
    let out = run(&mut audit(&["-f", "manifests", "-o", "json"]));
    assert_eq!(out.code, 4, "partial: one file could not be read\n{}", out.stderr);
    let warnings: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(warnings, ["warning: manifests/broken.yaml:6: not audited: unclosed bracket '['"]);
    let r = report(&out.stdout);
    assert_eq!(r["kind"], "AuditReport");
    assert_eq!(r["errors"][0]["file"], "manifests/broken.yaml");
    assert_eq!(r["errors"][0]["line"], 6);
    // The other files, nested ones included, were audited; each finding knows its file and line.
    let files: std::collections::BTreeSet<&str> =
        r["findings"].as_array().unwrap().iter().map(|f| f["source"]["file"].as_str().unwrap()).collect();
    assert_eq!(
        files.into_iter().collect::<Vec<_>>(),
        ["manifests/nested/hardened.yaml", "manifests/rbac.yaml", "manifests/web.yaml"]
    );
    let binding = r["findings"].as_array().unwrap().iter().find(|f| f["check"] == "RBAC-009").unwrap();
    assert_eq!(binding["source"]["line"], 10, "the binding is the second document of rbac.yaml");
    let privileged = r["findings"].as_array().unwrap().iter().find(|f| f["check"] == "POD-001").unwrap();
    assert_eq!(privileged["container"], "sidecar");
    assert_eq!(privileged["path"], "spec.template.spec.containers[1].securityContext.privileged");
    assert_eq!(
        privileged["references"],
        serde_json::json!([
            "pss:baseline/privileged",
            "polaris:runAsPrivileged",
            "kubesec:Privileged",
            "kube-score:container-security-context-privileged",
            "ksv:KSV-0017",
            "cis:5.2.2"
        ])
    );
}

#[test]
fn fail_on_sets_the_exit_code_for_ci() {
    let web = "manifests/web.yaml";
    // Only high findings are checked here: --fail-on critical passes, --fail-on high fails.
    let high = run(&mut audit(&["-f", web, "--checks", "POD-017,SEC-001", "--fail-on", "critical", "-o", "json"]));
    assert_eq!(high.code, 0, "{}", high.stderr);
    assert_eq!(checks(&report(&high.stdout)), ["POD-017", "SEC-001"]);
    let failed = run(&mut audit(&["-f", web, "--checks", "POD-017,SEC-001", "--fail-on", "high", "-o", "json"]));
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    // Without --fail-on findings are a report, not a failure.
    assert_eq!(run(&mut audit(&["-f", web])).code, 0);
    // --severity hides what is below it (and --fail-on judges what is shown).
    let shown = run(&mut audit(&["-f", web, "--severity", "critical", "-o", "json"]));
    assert_eq!(checks(&report(&shown.stdout)), ["POD-001"]);
    let skipped = run(&mut audit(&["-f", web, "--skip-checks", "POD-001", "--fail-on", "critical"]));
    assert_eq!(skipped.code, 0, "{}", skipped.stdout);
}

#[test]
fn levels_run_exactly_the_pod_security_controls() {
    let hardened = run(&mut audit(&["-f", "manifests/nested/hardened.yaml", "--level", "restricted", "-o", "json"]));
    assert_eq!(hardened.code, 0);
    assert_eq!(report(&hardened.stdout)["findings"], serde_json::json!([]));
    let web = report(&run(&mut audit(&["-f", "manifests/web.yaml", "--level", "baseline", "-o", "json"])).stdout);
    assert_eq!(checks(&web), ["POD-001"], "baseline: only the privileged container");
    let restricted =
        report(&run(&mut audit(&["-f", "manifests/web.yaml", "--level", "restricted", "-o", "json"])).stdout);
    assert_eq!(checks(&restricted), ["POD-001", "POD-017", "POD-018", "POD-020", "POD-022"]);
    for f in restricted["findings"].as_array().unwrap() {
        assert!(f["references"].as_array().unwrap().iter().any(|r| r.as_str().unwrap().starts_with("pss:")), "{f}");
    }
}

#[test]
fn sarif_has_what_the_schema_requires() {
    let out = run(&mut audit(&["-f", "manifests/web.yaml", "-f", "manifests/rbac.yaml", "-o", "sarif"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let sarif = report(&out.stdout);
    // sarifLog: version, runs; run: tool; tool: driver; toolComponent: name; reportingDescriptor: id.
    assert_eq!(sarif["version"], "2.1.0");
    assert!(sarif["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let run0 = &sarif["runs"][0];
    let driver = &run0["tool"]["driver"];
    assert_eq!(driver["name"], "kubectl-ai-audit");
    let rules = driver["rules"].as_array().unwrap();
    assert!(rules.len() >= 60);
    assert!(rules.iter().all(|r| r["id"].is_string() && r["shortDescription"]["text"].is_string()));
    let results = run0["results"].as_array().unwrap();
    assert!(!results.is_empty());
    for r in results {
        // result: message (with text); ruleIndex points at the rule of ruleId; a level SARIF knows.
        assert!(r["message"]["text"].as_str().is_some_and(|t| !t.is_empty()), "{r}");
        let index = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], r["ruleId"]);
        assert!(["error", "warning", "note", "none"].contains(&r["level"].as_str().unwrap()));
        let physical = &r["locations"][0]["physicalLocation"];
        let uri = physical["artifactLocation"]["uri"].as_str().unwrap();
        assert!(uri == "manifests/web.yaml" || uri == "manifests/rbac.yaml", "{uri}");
        assert!(physical["region"]["startLine"].as_u64().unwrap() >= 1);
    }
    let service = results.iter().find(|r| r["ruleId"] == "NET-002").unwrap();
    assert_eq!(service["locations"][0]["physicalLocation"]["region"]["startLine"], 32);
}

#[test]
fn manifests_on_stdin_and_bad_input() {
    let yaml = std::fs::read(manifests().join("rbac.yaml")).unwrap();
    let out = run_with_stdin(&mut audit(&["-f", "-", "-o", "json"]), &yaml);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let r = report(&out.stdout);
    assert!(checks(&r).contains(&"RBAC-001".to_string()));
    assert_eq!(r["findings"][0]["source"]["file"], "-");
    for (args, message) in [
        (&["-f", "missing.yaml"][..], "missing.yaml: no such file or directory"),
        (&["-f", "manifests/web.yaml", "--checks", "POD-999"][..], "unknown check \"POD-999\""),
        (&["-f", "manifests/broken.yaml"][..], "manifests/broken.yaml:6: unclosed bracket"),
        (&["-f", "manifests/web.yaml", "--dry-run"][..], "--dry-run shows what --explain would send"),
        (&["-f", "manifests/web.yaml", "-l", "app in (web"][..], "invalid label selector"),
    ] {
        let out = run(&mut audit(args));
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.lines().last().unwrap().contains(message), "{args:?}: {}", out.stderr);
    }
}

#[test]
fn the_text_report_groups_by_check_with_a_score() {
    let out = run(&mut audit(&["-f", "manifests/web.yaml", "--severity", "high"]));
    assert_eq!(out.code, 0);
    insta::assert_snapshot!("audit_text_web_high", out.stdout);
    let md = run(&mut audit(&["-f", "manifests/rbac.yaml", "-o", "markdown", "--severity", "critical"]));
    insta::assert_snapshot!("audit_markdown_rbac_critical", md.stdout);
}

/// `--details`: one entry per object and container, with what is wrong and where.
#[test]
fn details_list_each_object_with_what_and_where() {
    let out = run(&mut audit(&["-f", "manifests/web.yaml", "--severity", "high", "--details"]));
    assert_eq!(out.code, 0);
    insta::assert_snapshot!("audit_text_web_high_details", out.stdout);
    let md = run(&mut audit(&["-f", "manifests/rbac.yaml", "-o", "markdown", "--severity", "critical", "--details"]));
    insta::assert_snapshot!("audit_markdown_rbac_critical_details", md.stdout);
}

/// By default a check is one entry whatever the number of objects: the demo cluster's audit fits
/// on one screen (it had 220 entries, ~880 lines), and a check on many objects names the first
/// three and how many more.
#[test]
fn the_default_audit_of_the_demo_fits_on_one_screen() {
    let fx = Fixture::start(&state("demo"), &[]);
    let out = run(&mut fx.plugin(AUDIT, &["-A"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines = out.stdout.lines().count();
    assert!(lines <= 60, "{lines} lines:\n{}", out.stdout);
    let json = report(&run(&mut fx.plugin(AUDIT, &["-A", "-o", "json"])).stdout);
    let findings = json["findings"].as_array().unwrap();
    assert!(findings.len() > 200, "JSON keeps one finding per object: {}", findings.len());
    let distinct: std::collections::BTreeSet<(&str, &str)> =
        findings.iter().map(|f| (f["check"].as_str().unwrap(), f["severity"].as_str().unwrap())).collect();
    let entries = out.stdout.lines().filter(|l| l.trim_start().starts_with("fix:")).count();
    assert_eq!(entries, distinct.len(), "one entry per check and severity");
    assert!(out.stdout.contains("11 objects: ") && out.stdout.contains(" and 8 more"), "{}", out.stdout);
    let details = run(&mut fx.plugin(AUDIT, &["-A", "--details"]));
    assert_eq!(details.stdout.lines().filter(|l| l.trim_start().starts_with("fix:")).count(), findings.len());
}

#[test]
fn the_live_cluster_is_audited_on_owners_not_on_their_pods() {
    let fx = Fixture::start(&state("demo"), &["--namespace", "shop"]);
    let out = run(&mut fx.plugin(AUDIT, &["-o", "json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let r = report(&out.stdout);
    assert_eq!(r["source"]["namespace"], "shop");
    assert_eq!(r["source"]["context"], "fixture");
    let kinds: std::collections::BTreeSet<&str> =
        r["findings"].as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap()).collect();
    // Pods of Deployments, ReplicaSets and Jobs are audited through their owners; cluster-scoped
    // objects only with -A.
    assert!(kinds.contains("Deployment") && kinds.contains("StatefulSet") && kinds.contains("Role"), "{kinds:?}");
    assert!(!kinds.contains("Pod") && !kinds.contains("ReplicaSet") && !kinds.contains("ClusterRole"), "{kinds:?}");
    let all = report(&run(&mut fx.plugin(AUDIT, &["-A", "-o", "json", "--checks", "RBAC-001,RBAC-004"])).stdout);
    assert_eq!(checks(&all), ["RBAC-001", "RBAC-004"]);
    // One object, by TYPE/NAME or TYPE NAME.
    let one = report(&run(&mut fx.plugin(AUDIT, &["deploy/storefront", "-o", "json"])).stdout);
    assert!(one["findings"].as_array().unwrap().iter().all(|f| f["name"] == "storefront" && f["kind"] == "Deployment"));
    assert_eq!(one["summary"]["objects"], 1);
    let missing = run(&mut fx.plugin(AUDIT, &["deploy", "nope"]));
    assert_eq!(missing.code, 2);
    missing.assert_one_error_line();
    // A label selector narrows what is reported.
    let labelled = report(&run(&mut fx.plugin(AUDIT, &["-l", "app=checkout", "-o", "json"])).stdout);
    assert!(labelled["findings"].as_array().unwrap().iter().all(|f| f["name"] == "checkout"), "{labelled}");
}

fn workloads(images: &[&str]) -> String {
    images
        .iter()
        .enumerate()
        .map(|(i, image)| {
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: app{i}, namespace: shop}}\nspec:\n  template:\n    spec:\n      containers:\n      - {{name: main, image: \"{image}\"}}\n      - {{name: helper, image: \"{image}\"}}\n"
            )
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

#[test]
fn images_are_scanned_once_each_with_trivy() {
    let dir = tempfile::tempdir().unwrap();
    let Some(path) = fake_trivy(dir.path()) else { return };
    let file = dir.path().join("apps.yaml");
    std::fs::write(&file, workloads(&["alpine:3.10", "alpine:3.9", "fluentd:1", "alpine:3.10"])).unwrap();
    let out =
        run(audit(&["-f", file.to_str().unwrap(), "--scan-images", "--checks", "IMG-004", "-o", "json"])
            .env("PATH", &path));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let r = report(&out.stdout);
    let calls = std::fs::read_to_string(dir.path().join("calls")).unwrap();
    assert_eq!(calls.lines().count(), 3, "one scan per distinct image: {calls}");
    assert!(calls.lines().all(|l| l.starts_with("image --format json --quiet ")), "{calls}");
    let images = r["images"].as_array().unwrap();
    let by_image = |name: &str| images.iter().find(|i| i["image"] == name).unwrap().clone();
    assert_eq!(by_image("alpine:3.10")["counts"], serde_json::json!({"medium": 4}));
    assert_eq!(by_image("alpine:3.9")["counts"], serde_json::json!({}), "no Results: a clean image");
    let fluentd = by_image("fluentd:1");
    assert_eq!(fluentd["counts"], serde_json::json!({"critical": 1, "high": 1}));
    assert_eq!(fluentd["top"][0]["id"], "CVE-2019-18224");
    assert_eq!(fluentd["top"][1]["fixed"], "6.0.3.1, 5.2.4.3");
    // IMG-004 per container running a vulnerable image, as bad as its worst vulnerability.
    let findings = r["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 6, "two containers each of app0, app2, app3");
    let app2 = findings.iter().find(|f| f["name"] == "app2").unwrap();
    assert_eq!(app2["severity"], "critical");
    assert!(
        app2["message"].as_str().unwrap().contains("CVE-2019-18224 in libidn2-0 (fixed in 2.0.5-1+deb10u1)"),
        "{app2}"
    );
    // --severity high leaves the medium-only image out.
    let high = report(
        &run(audit(&[
            "-f",
            file.to_str().unwrap(),
            "--scan-images",
            "--checks",
            "IMG-004",
            "--severity",
            "high",
            "-o",
            "json",
        ])
        .env("PATH", &path))
        .stdout,
    );
    assert!(high["findings"].as_array().unwrap().iter().all(|f| f["name"] == "app2"), "{high}");
}

#[test]
fn a_hanging_or_failing_scan_is_reported_and_the_rest_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let Some(path) = fake_trivy(dir.path()) else { return };
    let file = dir.path().join("apps.yaml");
    std::fs::write(&file, workloads(&["hang:1", "broken:1", "alpine:3.10"])).unwrap();
    let started = std::time::Instant::now();
    let out = run(audit(&[
        "-f",
        file.to_str().unwrap(),
        "--scan-images",
        "--scan-timeout",
        "1s",
        "--checks",
        "IMG-004,IMG-001",
        "-o",
        "json",
    ])
    .env("PATH", &path));
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "the hanging scan was stopped");
    assert_eq!(out.code, 4, "partial: two images were not scanned\n{}", out.stderr);
    assert!(
        out.stderr.contains("warning: hang:1: not scanned: the scan took longer than 1s and was stopped"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(
            "warning: broken:1: not scanned: trivy failed (exit status: 1): FATAL unable to find the image broken:1"
        ),
        "{}",
        out.stderr
    );
    let r = report(&out.stdout);
    assert_eq!(r["findings"].as_array().unwrap().iter().filter(|f| f["check"] == "IMG-004").count(), 2);
    // --fail-on still decides when it is reached.
    let failed = run(audit(&[
        "-f",
        file.to_str().unwrap(),
        "--scan-images",
        "--scan-timeout",
        "1s",
        "--fail-on",
        "medium",
        "--checks",
        "IMG-004",
    ])
    .env("PATH", &path));
    assert_eq!(failed.code, 1);
}

#[test]
fn without_trivy_one_line_says_how_to_install_it() {
    let empty = tempfile::tempdir().unwrap();
    let out =
        run(audit(&["-f", "manifests/web.yaml", "--scan-images", "--checks", "POD-001", "--fail-on", "critical"])
            .env("PATH", empty.path()));
    assert_eq!(out.code, 1, "the rest of the audit ran: {}", out.stdout);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(
        lines[0].starts_with("warning: trivy was not found on PATH") && lines[0].contains("install"),
        "{}",
        lines[0]
    );
    assert!(out.stdout.contains("POD-001"));
}

#[test]
fn explain_asks_once_per_check_and_sends_no_secret() {
    let script = "replies:\n  - content: \"Drop the flag.\"\n  - content: \"Use a Secret.\"\n  - content: \"Set it to false.\"\n";
    let fm = FakeModel::start(script, &[]);
    let mut cmd = fm.command(AUDIT);
    cmd.current_dir(manifests().parent().unwrap()).env("NO_COLOR", "1");
    let out =
        run(cmd.args(["-f", "manifests/web.yaml", "--checks", "POD-001,POD-017,SEC-001", "--explain", "-o", "json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let requests = fm.requests();
    assert_eq!(requests.len(), 3, "POD-017 fails on two containers and is asked about once");
    let sent = serde_json::to_string(&requests).unwrap();
    assert!(!sent.contains("hunter2-canary-7f3a"), "a literal secret was sent: {sent}");
    assert!(sent.contains("DB_PASSWORD"), "the finding itself is described");
    let r = report(&out.stdout);
    assert_eq!(r["explanations"].as_object().unwrap().len(), 3);
    assert_eq!(r["explanations"]["POD-001"], "Drop the flag.", "the worst check is asked first");
    // The same audit again: every answer comes from the cache, nothing is sent.
    let mut again = fm.command(AUDIT);
    again.current_dir(manifests().parent().unwrap()).env("NO_COLOR", "1");
    let again =
        run(again.args(["-f", "manifests/web.yaml", "--checks", "POD-001,POD-017,SEC-001", "--explain", "-o", "json"]));
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(fm.requests().len(), 3, "answered from the cache");
    assert_eq!(report(&again.stdout)["explanations"], r["explanations"]);
    // --dry-run prints the requests and sends nothing.
    let dry = run(fm.command(AUDIT).current_dir(manifests().parent().unwrap()).args([
        "-f",
        "manifests/web.yaml",
        "--checks",
        "POD-017",
        "--explain",
        "--dry-run",
    ]));
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert!(dry.stdout.contains("POD-017"), "{}", dry.stdout);
    assert_eq!(fm.requests().len(), 3);
}

#[test]
fn a_forbidden_kind_is_a_warning_and_a_partial_result() {
    let fx = Fixture::start(&state("demo"), &["--namespace", "shop", "--fault", "resource=rolebindings,status=403"]);
    let out = run(&mut fx.plugin(AUDIT, &["-o", "json"]));
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert_eq!(
        out.stderr.trim(),
        "warning: cannot list rolebindings.rbac.authorization.k8s.io in namespace \"shop\": forbidden\n\
         warning: RBAC-001…RBAC-012 (12 checks): not run, rolebindings could not be read (they would be judged without them)"
    );
    let r = report(&out.stdout);
    assert!(!r["findings"].as_array().unwrap().is_empty(), "the rest was audited");
    assert!(r["findings"].as_array().unwrap().iter().all(|f| !f["check"].as_str().unwrap().starts_with("RBAC-")));
    assert_eq!(r["warnings"].as_array().unwrap().len(), 2);
    // --fail-on still decides when a finding reaches it.
    assert_eq!(run(&mut fx.plugin(AUDIT, &["--fail-on", "high"])).code, 1);
}

#[test]
fn a_snapshot_is_audited_like_the_cluster_it_came_from() {
    // A dump of the live cluster records every kind it read, an empty list included; analyze reads
    // no RBAC, so the audit of its dump says the RBAC checks did not run (it used to drop them
    // silently) and finds everything else the live audit finds.
    let fx = Fixture::start(&state("demo"), &[]);
    let dump = fx.dir.path().join("dump.yaml");
    run(&mut fx.plugin("kubectl-ai-analyze", &["-A", "-o", "json", "--dump", dump.to_str().unwrap()]));
    let live = report(&run(&mut fx.plugin(AUDIT, &["-A", "-o", "json"])).stdout);
    let out = run(&mut audit(&["--snapshot", dump.to_str().unwrap(), "-A", "-o", "json"]));
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert_eq!(
        out.stderr,
        "warning: RBAC-001…RBAC-012 (12 checks): not run, the snapshot holds no roles, rolebindings, clusterroles, clusterrolebindings (they would be judged without them)\n"
    );
    let not_rbac = |r: &Value| -> Vec<Value> {
        let all = r["findings"].as_array().unwrap().iter();
        all.filter(|f| !f["check"].as_str().unwrap().starts_with("RBAC-")).cloned().collect()
    };
    assert_eq!(not_rbac(&report(&out.stdout)), not_rbac(&live));
    assert!(checks(&live).iter().any(|c| c.starts_with("RBAC-")));
    assert!(checks(&live).iter().any(|c| c == "NET-001"), "the dump has the NetworkPolicies (none): NET-001 ran");
    let out = run(&mut audit(&["--snapshot", dump.to_str().unwrap(), "-n", "shop", "-o", "json"]));
    let r = report(&out.stdout);
    let live_like: Vec<&str> = r["findings"].as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap()).collect();
    assert!(live_like.contains(&"Deployment") && !live_like.contains(&"Pod") && !live_like.contains(&"ClusterRole"));
    assert_eq!(r["source"]["namespace"], "shop");
}

/// A state that lacks what a check needs says which checks it could not run, rather than dropping
/// them silently (RBAC) or judging without the evidence (NET-001 would call every pod uncovered):
/// `kubectl get` output holds only the kinds asked for.
#[test]
fn a_state_without_what_a_check_needs_says_which_checks_did_not_run() {
    let fx = Fixture::start(&state("demo"), &[]);
    let kubectl = |kinds: &str| {
        let out = run(&mut fx.kubectl(&["get", kinds, "-A", "-o", "yaml"]));
        assert_eq!(out.code, 0, "{}", out.stderr);
        let file = fx.dir.path().join(format!("{}.yaml", kinds.replace(',', "-")));
        std::fs::write(&file, out.stdout).unwrap();
        file
    };
    let workloads = kubectl("deployments,statefulsets,jobs,pods");
    let out = run(&mut audit(&["--snapshot", workloads.to_str().unwrap(), "-A", "-o", "json"]));
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(out.stderr.contains("warning: NET-001: not run, the snapshot holds no networkpolicies"), "{}", out.stderr);
    assert!(out.stderr.contains("warning: RBAC-001…RBAC-012 (12 checks): not run, the snapshot holds no roles, rolebindings, clusterroles, clusterrolebindings"), "{}", out.stderr);
    let r = report(&out.stdout);
    assert_eq!(r["warnings"].as_array().unwrap().len(), 2);
    assert!(checks(&r).iter().all(|c| c != "NET-001" && !c.starts_with("RBAC-")), "{:?}", checks(&r));
    assert!(checks(&r).iter().any(|c| c == "POD-017"), "the rest is audited");
    // Only the checks asked for are named; none asked for that lack evidence: no warning.
    let pss = run(&mut audit(&["--snapshot", workloads.to_str().unwrap(), "-A", "--checks", "NET-001,POD-017"]));
    assert_eq!(pss.stderr.lines().count(), 1, "{}", pss.stderr);
    let quiet = run(&mut audit(&["--snapshot", workloads.to_str().unwrap(), "-A", "--checks", "POD-017"]));
    assert_eq!((quiet.code, quiet.stderr.as_str()), (0, ""));
    // With the kinds read, the checks run.
    let rbac = kubectl("roles,rolebindings,clusterroles,clusterrolebindings");
    let out = run(&mut audit(&["--snapshot", rbac.to_str().unwrap(), "-A", "-o", "json", "--checks", "RBAC-001"]));
    assert_eq!((out.code, out.stderr.as_str()), (0, ""));
    assert_eq!(checks(&report(&out.stdout)), ["RBAC-001"]);
}

#[test]
fn conformance_says_so_when_the_shared_data_is_missing() {
    let out = run(Command::new(bin("conformance")).args(["--data", "/nonexistent/conformance"]));
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("nothing was checked"), "{}", out.stderr);
}

#[test]
fn the_checks_can_be_listed() {
    let out = run(Command::new(bin(AUDIT)).arg("--list-checks"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), opsagent::audit::CHECKS.len());
    assert!(out.stdout.starts_with("POD-001   critical  Privileged container"), "{}", out.stdout);
    let json = run(Command::new(bin(AUDIT)).args(["--list-checks", "-o", "json"]));
    let checks = json.json();
    assert_eq!(checks.as_array().unwrap().len(), opsagent::audit::CHECKS.len());
    assert!(checks[0]["remediation"].as_str().is_some_and(|r| !r.is_empty()), "{checks}");
}
