//! The real kubectl works against the fixture cluster, unmodified.

use crate::support::{Fixture, run, state};

fn row<'a>(out: &'a str, name: &str) -> Vec<&'a str> {
    out.lines()
        .find(|l| l.split_whitespace().nth(1) == Some(name) || l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no row for {name} in:\n{out}"))
        .split_whitespace()
        .collect()
}

/// The Pod corpus with its look-alikes: completed, sidecar, terminating pods…
fn pods_and_look_alikes() -> Fixture {
    let look_alikes = state("healthy").join("pods.yaml");
    Fixture::start(&state("pods"), &[look_alikes.to_str().unwrap()])
}

#[test]
fn get_pods_prints_the_server_side_columns() {
    let fx = pods_and_look_alikes();
    let out = run(&mut fx.kubectl(&["get", "pods", "-A"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let header: Vec<&str> = out.stdout.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]);
    let api = row(&out.stdout, "api-5d4f8c7b9-x2x8k");
    assert_eq!(api[..5], ["crash", "api-5d4f8c7b9-x2x8k", "0/1", "CrashLoopBackOff", "9"]);
    assert!(api[5].starts_with('(') && api[6] == "ago)", "restarts like `9 (3m20s ago)`: {api:?}");
    let cases = [
        ("worker-init", "Init:CrashLoopBackOff"),
        ("db-migrate-7xk2p", "Completed"),
        ("batch-evicted", "Evicted"),
        ("stuck", "Terminating"),
        ("web-pull", "ImagePullBackOff"),
        ("sidecar-ok", "Running"),
    ];
    for (name, status) in cases {
        assert_eq!(row(&out.stdout, name)[3], status, "{name}");
    }
    assert_eq!(row(&out.stdout, "sidecar-ok")[2], "2/2", "a sidecar counts as a container");
}

#[test]
fn selectors_pagination_and_json() {
    let fx = pods_and_look_alikes();
    let out = run(&mut fx.kubectl(&["get", "pods", "-n", "crash", "-l", "app=api", "-o", "json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let list: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let all = run(&mut fx.kubectl(&["get", "pods", "-A", "-o", "name"]));
    let paged = run(&mut fx.kubectl(&["get", "pods", "-A", "-o", "name", "--chunk-size=4"]));
    assert_eq!(paged.code, 0, "{}", paged.stderr);
    assert!(all.stdout.lines().count() > 30);
    assert_eq!(all.stdout, paged.stdout, "pages of 4 give the same list");
    let running = run(&mut fx.kubectl(&["get", "pods", "-A", "--field-selector", "status.phase=Failed", "-o", "name"]));
    let mut names: Vec<&str> = running.stdout.lines().collect();
    names.sort();
    assert_eq!(names, ["pod/batch-evicted", "pod/import-29100720-q8z2x", "pod/nightly-2vq9d", "pod/one-off"]);
}

#[test]
fn describe_shows_the_pods_events() {
    let fx = Fixture::start(&state("pods"), &[]);
    let out = run(&mut fx.kubectl(&["describe", "pod", "-n", "probes", "frontend"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("Readiness probe failed: HTTP probe failed with statuscode: 503"), "{}", out.stdout);
    assert!(out.stdout.contains("Warning  Unhealthy"), "{}", out.stdout);
    assert!(out.stdout.contains("Readiness:      http-get"), "{}", out.stdout);
}

#[test]
fn logs_current_previous_and_the_usual_errors() {
    let fx = Fixture::start(&state("pods"), &[]);
    let out = run(&mut fx.kubectl(&["logs", "-n", "crash", "api-5d4f8c7b9-x2x8k", "--previous"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("FATAL shutting down: database unavailable"));
    let tail = run(&mut fx.kubectl(&["logs", "-n", "crash", "api-5d4f8c7b9-x2x8k", "--previous", "--tail=1"]));
    assert_eq!(tail.stdout.lines().count(), 1);
    let current = run(&mut fx.kubectl(&["logs", "-n", "probes", "frontend"]));
    assert!(current.stdout.contains("GET /healthz 503"));
    let waiting = run(&mut fx.kubectl(&["logs", "-n", "images", "web-pull"]));
    assert_eq!(waiting.code, 1);
    assert!(
        waiting
            .stderr
            .contains("container \"web\" in pod \"web-pull\" is waiting to start: trying and failing to pull image"),
        "{}",
        waiting.stderr
    );
    let none = run(&mut fx.kubectl(&["logs", "-n", "probes", "frontend", "--previous"]));
    assert!(
        none.stderr.contains("previous terminated container \"web\" in pod \"frontend\" not found"),
        "{}",
        none.stderr
    );
}

#[test]
fn apply_dry_run_server_changes_nothing_and_is_recorded() {
    let fx = Fixture::start(&state("pods"), &[]);
    let manifest = fx.dir.path().join("web.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: crash}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: \"nginx:1.27.0\"}]}\n",
    )
    .unwrap();
    let out = run(&mut fx.kubectl(&["apply", "--dry-run=server", "-f", manifest.to_str().unwrap()]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), "deployment.apps/web created (server dry run)");
    let get = run(&mut fx.kubectl(&["get", "deployment", "-n", "crash", "web"]));
    assert_eq!(get.code, 1);
    assert!(get.stderr.contains("Error from server (NotFound): deployments.apps \"web\" not found"), "{}", get.stderr);
    let recorded = fx.recorded();
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0]["method"], "POST");
    assert_eq!(recorded[0]["dryRun"], true);
    assert_eq!(recorded[0]["body"]["spec"]["replicas"], 2);

    let out = run(&mut fx.kubectl(&["apply", "-f", manifest.to_str().unwrap()]));
    assert_eq!(out.stdout.trim(), "deployment.apps/web created", "{}", out.stderr);
    let again = run(&mut fx.kubectl(&["apply", "-f", manifest.to_str().unwrap()]));
    assert_eq!(again.stdout.trim(), "deployment.apps/web unchanged", "{}", again.stderr);
}

#[test]
fn delete_pod_removes_it_and_is_recorded() {
    let fx = Fixture::start(&state("pods"), &[]);
    let out = run(&mut fx.kubectl(&["delete", "pod", "-n", "crash", "oneshot"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), "pod \"oneshot\" deleted");
    let get = run(&mut fx.kubectl(&["get", "pod", "-n", "crash", "oneshot"]));
    assert!(get.stderr.contains("pods \"oneshot\" not found"), "{}", get.stderr);
    let deletes: Vec<_> = fx.recorded().into_iter().filter(|r| r["method"] == "DELETE").collect();
    assert_eq!(deletes.len(), 1);
    assert_eq!(deletes[0]["path"], "/api/v1/namespaces/crash/pods/oneshot");
    assert_eq!(deletes[0]["dryRun"], false);
}

/// kubectl delete sends its server dry run in the DeleteOptions body, not the query: the fixture,
/// like the API server, deletes nothing.
#[test]
fn delete_dry_run_server_keeps_the_pod() {
    let fx = Fixture::start(&state("pods"), &[]);
    let out = run(&mut fx.kubectl(&["delete", "pod", "-n", "crash", "oneshot", "--dry-run=server"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), "pod \"oneshot\" deleted (server dry run)");
    let get = run(&mut fx.kubectl(&["get", "pod", "-n", "crash", "oneshot", "-o", "name"]));
    assert_eq!(get.stdout.trim(), "pod/oneshot", "{}", get.stderr);
    let deletes: Vec<_> = fx.recorded().into_iter().filter(|r| r["method"] == "DELETE").collect();
    assert_eq!(deletes.len(), 1);
    assert_eq!(deletes[0]["dryRun"], true, "{deletes:?}");
}

#[test]
fn scale_uses_the_scale_subresource() {
    let fx = Fixture::start(&state("pods"), &[]);
    let out = run(&mut fx.kubectl(&["scale", "deployment", "-n", "crash", "api", "--replicas=3"]));
    assert_eq!(out.stdout.trim(), "deployment.apps/api scaled", "{}", out.stderr);
    let get = run(&mut fx.kubectl(&["get", "deployment", "-n", "crash", "api", "-o", "jsonpath={.spec.replicas}"]));
    assert_eq!(get.stdout, "3");
}

#[test]
fn kubectl_finds_our_plugin() {
    let fx = Fixture::start(&state("pods"), &[]);
    let help = run(&mut fx.kubectl(&["ai", "analyze", "--help"]));
    assert_eq!(help.code, 0, "{}", help.stderr);
    assert!(help.stdout.contains("Usage: kubectl ai analyze [OPTIONS]"), "{}", help.stdout);
    assert!(help.stdout.contains("kubectl ai analyze -n shop -o json"), "examples are shown");
    let out = run(&mut fx.kubectl(&["ai", "analyze", "-n", "images", "-o", "json"]));
    assert_eq!(out.code, 1, "problems found: {}", out.stderr);
    assert_eq!(out.json()["results"].as_array().unwrap().len(), 3);
}
