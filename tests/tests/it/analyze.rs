//! `kubectl-ai-analyze` end to end: live against the fixture cluster, from snapshots, and every
//! documented failure with its exit code.

use std::io::Read as _;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::{Fixture, bin, expected_lines, finding_lines, hint_lines, refused_kubeconfig, run, state};

const ANALYZE: &str = "kubectl-ai-analyze";

/// The corpus: every state with an `expected.txt` gives exactly those findings, live and from the
/// files (with the arguments of its `args.txt`, if any). One test per state, so that one state's
/// failure hides none of the others.
fn corpus_state(name: &str) {
    let dir = state(name);
    let args = std::fs::read_to_string(dir.join("args.txt")).unwrap_or_default();
    let args: Vec<&str> = args.split_whitespace().collect();
    let expected = expected_lines(&dir);
    let fx = Fixture::start(&dir, &[]);
    let mut live_args = vec!["-A", "-o", "json"];
    live_args.extend(&args);
    let out = run(&mut fx.plugin(ANALYZE, &live_args));
    assert_eq!(out.code, if expected.is_empty() { 0 } else { 1 }, "{name}: {}", out.stderr);
    assert_eq!(finding_lines(&out.json()), expected, "live: {name}");
    let offline = run(Command::new(bin(ANALYZE)).args(["--snapshot", dir.to_str().unwrap(), "-o", "json"]).args(&args));
    assert_eq!(finding_lines(&offline.json()), expected, "snapshot: {name}");
    // Every hint, as read against the state: a changed hint is read again before hints.txt is
    // rewritten (UPDATE_HINTS=1 writes what the analyzers say now, for that review).
    let hints = dir.join("hints.txt");
    let now = hint_lines(&out.json());
    if std::env::var_os("UPDATE_HINTS").is_some() {
        std::fs::write(&hints, now.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    }
    let reviewed = std::fs::read_to_string(&hints).unwrap_or_default();
    assert_eq!(now, reviewed.lines().map(str::to_string).collect::<Vec<_>>(), "hints.txt: {name}");
    assert_eq!(hint_lines(&offline.json()), now, "hints from the snapshot: {name}");
}

/// The first finding on an object called `name`.
fn finding_named(report: &Value, name: &str) -> Value {
    let found = report["results"].as_array().unwrap().iter().find(|f| f["name"] == name).cloned();
    found.unwrap_or_else(|| panic!("no finding on {name}: {report}"))
}

/// The JSON report of a corpus state read from its files.
fn offline(name: &str, args: &[&str]) -> Value {
    run(Command::new(bin(ANALYZE)).arg("--snapshot").arg(state(name)).args(["-o", "json"]).args(args)).json()
}

/// Its hint.
fn hint_of(report: &Value, name: &str) -> String {
    finding_named(report, name)["hint"].as_str().unwrap().to_string()
}

macro_rules! corpus {
    ($($test:ident: $state:literal,)*) => {
        mod corpus {
            $(
                #[test]
                fn $test() {
                    super::corpus_state($state);
                }
            )*

            /// Every state with an `expected.txt` has its test above.
            #[test]
            fn every_state_is_listed() {
                let mut states: Vec<String> = std::fs::read_dir(crate::support::states())
                    .unwrap()
                    .map(|e| e.unwrap().path())
                    .filter(|dir| dir.join("expected.txt").exists())
                    .map(|dir| dir.file_name().unwrap().to_string_lossy().into_owned())
                    .collect();
                states.sort();
                let mut listed = vec![$($state),*];
                listed.sort();
                assert_eq!(states, listed);
            }
        }
    };
}

corpus! {
    catalog: "catalog",
    demo: "demo",
    explain: "explain",
    healthy: "healthy",
    network: "network",
    nodes: "nodes",
    pods: "pods",
    rollouts: "rollouts",
    secret_refs: "secret-refs",
    storage_defaults: "storage-defaults",
    volumes: "volumes",
}

#[test]
fn a_healthy_cluster_full_of_look_alikes_gives_no_finding_at_all() {
    let out = run(Command::new(bin(ANALYZE))
        .args(["--snapshot", state("healthy").to_str().unwrap(), "-o", "json", "--analyzers"])
        .arg(opsagent::analyze::catalog().map(|a| a.name).collect::<Vec<_>>().join(",")));
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(out.json()["results"], serde_json::json!([]), "every analyzer, opt-in ones included");
    assert!(state("healthy").join("expected.txt").exists());
}

#[test]
fn every_analyzer_has_a_breakage_in_the_corpus() {
    let mut seen = std::collections::BTreeSet::new();
    let states = std::fs::read_dir(crate::support::states()).unwrap().map(|e| e.unwrap().path());
    for dir in states.filter(|dir| dir.join("expected.txt").exists()) {
        let args = std::fs::read_to_string(dir.join("args.txt")).unwrap_or_default();
        let args: Vec<&str> = args.split_whitespace().collect();
        let out = run(Command::new(bin(ANALYZE)).args(["--snapshot", dir.to_str().unwrap(), "-o", "json"]).args(&args));
        for f in out.json()["results"].as_array().unwrap() {
            seen.insert(f["analyzer"].as_str().unwrap().to_string());
        }
    }
    for analyzer in opsagent::analyze::catalog() {
        // The Log analyzer adds evidence to Pod findings (tested below) and reports nothing itself.
        if analyzer.name != "Log" {
            assert!(seen.contains(analyzer.name), "no positive case for the {} analyzer", analyzer.name);
        }
    }
}

#[test]
fn the_log_analyzer_adds_log_tails_to_pod_findings() {
    let fx = Fixture::start(&state("pods"), &[]);
    let out = run(&mut fx.plugin(ANALYZE, &["-n", "crash", "--analyzers", "Pod,Log", "-o", "json"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report = out.json();
    let api = report["results"].as_array().unwrap().iter().find(|f| f["name"] == "api-5d4f8c7b9-x2x8k").unwrap();
    assert_eq!(
        api["logs"],
        serde_json::json!([
            "app (previous): 2026-05-01T11:56:40.120Z INFO  api 1.4.2 starting on :8080",
            "app (previous): 2026-05-01T11:56:40.410Z INFO  connecting to postgres at db.crash.svc:5432",
            "app (previous): 2026-05-01T11:56:42.415Z ERROR failed to connect to database: dial tcp 10.96.14.7:5432: connect: connection refused",
            "app (previous): 2026-05-01T11:56:42.416Z FATAL shutting down: database unavailable"
        ])
    );
    // The decisive last line has no error word, and 30 retries are one line with their count.
    let init = report["results"].as_array().unwrap().iter().find(|f| f["name"] == "worker-init").unwrap();
    assert_eq!(
        init["logs"],
        serde_json::json!([
            "wait-for-db (previous): 2026-05-01T11:58:00.001Z wait-for-db 0.3.1",
            "wait-for-db (previous): 2026-05-01T11:58:00.010Z resolving orders-db.crash.svc.cluster.local",
            "wait-for-db (previous): 2026-05-01T11:58:30.100Z orders-db.crash.svc.cluster.local:5432 not answering yet, attempt 30/30 [x30]",
            "wait-for-db (previous): 2026-05-01T11:58:31.200Z giving up after 30 attempts: is the Service orders-db there and does it select ready pods?"
        ])
    );
    let without = run(&mut fx.plugin(ANALYZE, &["-n", "crash", "-o", "json"])).json();
    assert!(without["results"].as_array().unwrap().iter().all(|f| f.get("logs").is_none()), "off by default");
}

#[test]
fn filter_and_exclude_choose_the_analyzers() {
    let catalog = state("catalog");
    let analyzers = |args: &[&str]| -> std::collections::BTreeSet<String> {
        let out =
            run(Command::new(bin(ANALYZE)).args(["--snapshot", catalog.to_str().unwrap(), "-o", "json"]).args(args));
        out.json()["results"].as_array().unwrap().iter().map(|f| f["analyzer"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(
        analyzers(&["--analyzers", "node,PersistentVolume"]),
        ["Node", "PersistentVolume"].map(String::from).into()
    );
    let all = analyzers(&[]);
    let without = analyzers(&["--skip-analyzers", "Events,Node"]);
    assert!(all.contains("Events") && all.contains("Node"));
    assert_eq!(without.len(), all.len() - 2);
    assert!(!without.contains("Events") && !without.contains("Node"));
}

#[test]
fn a_namespace_run_leaves_cluster_scoped_analyzers_out() {
    let fx = Fixture::start(&state("catalog"), &["--fault", "resource=nodes,status=403"]);
    let out = run(&mut fx.plugin(ANALYZE, &["-n", "apps", "-o", "json"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.is_empty(), "nodes are not even listed: {}", out.stderr);
    let report = out.json();
    assert!(report["results"].as_array().unwrap().iter().all(|f| f["namespace"] == "apps"));
    assert_eq!(report["partial"], false);
    let paths: Vec<String> = fx.requests().iter().map(|r| r["path"].as_str().unwrap().to_string()).collect();
    assert!(paths.iter().all(|p| !p.ends_with("/nodes") && !p.contains("webhookconfigurations")), "{paths:?}");
    assert!(paths.contains(&"/api/v1/namespaces/apps/pods".to_string()), "{paths:?}");
}

#[test]
fn kinds_are_listed_concurrently_in_pages() {
    let fx = Fixture::start(&state("catalog"), &[]);
    let out = run(&mut fx.plugin(ANALYZE, &["-A", "-o", "json"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    let lists: Vec<serde_json::Value> = fx.requests().into_iter().filter(|r| r["path"] != "/version").collect();
    assert!(lists.iter().all(|r| r["method"] == "GET" && r["query"]["limit"] == "500"), "{lists:?}");
    let want = opsagent::analyze::Selection::default().kinds_read().unwrap();
    assert_eq!(lists.len(), want.len(), "one list per kind: {lists:?}");
}

#[test]
fn the_report_is_versioned_and_names_its_source() {
    let fx = Fixture::start(&state("pods"), &[]);
    let out = run(&mut fx.plugin(ANALYZE, &["-A", "-o", "json"]));
    let report = out.json();
    assert_eq!(report["apiVersion"], "opsagent.dev/v1");
    assert_eq!(report["kind"], "AnalysisReport");
    assert_eq!(report["partial"], false);
    assert_eq!(report["source"]["context"], "fixture");
    assert_eq!(report["source"]["server"], fx.url.as_str());
    assert_eq!(report["summary"]["problems"], 26);
    assert_eq!(report["summary"]["bySeverity"], serde_json::json!({"critical": 2, "high": 19, "medium": 4, "low": 1}));
    for finding in report["results"].as_array().unwrap() {
        for field in
            ["kind", "namespace", "name", "analyzer", "severity", "reason", "summary", "messages", "hint", "parent"]
        {
            assert!(finding.get(field).is_some(), "{field} missing in {finding}");
        }
        assert!(!finding["hint"].as_str().unwrap().is_empty());
    }
    assert!(out.stderr.is_empty(), "{}", out.stderr);
}

#[test]
fn a_snapshot_of_the_same_state_gives_the_same_findings() {
    let fx = Fixture::start(&state("pods"), &[]);
    let live = run(&mut fx.plugin(ANALYZE, &["-A", "-o", "json"])).json();
    let offline =
        run(Command::new(bin(ANALYZE)).args(["--snapshot", state("pods").to_str().unwrap(), "-o", "json"])).json();
    assert_eq!(live["results"], offline["results"]);
    assert!(live["results"].as_array().unwrap().len() > 20);
}

#[test]
fn a_dump_reads_back_to_the_same_findings_with_log_tails() {
    let fx = Fixture::start(&state("pods"), &[]);
    let dump = fx.dir.path().join("dump.yaml");
    let live = run(&mut fx.plugin(ANALYZE, &["-A", "-o", "json", "--dump", dump.to_str().unwrap()]));
    assert_eq!(live.code, 1, "{}", live.stderr);
    let text = std::fs::read_to_string(&dump).unwrap();
    assert!(text.starts_with("---\napiVersion: opsagent.dev/v1\nkind: SnapshotInfo\n"), "{}", &text[..200]);
    assert!(text.contains("kind: ContainerLog"));
    assert!(text.contains("FATAL shutting down: database unavailable"), "log tail of the crashing container");
    let back = run(Command::new(bin(ANALYZE)).args(["--snapshot", dump.to_str().unwrap(), "-o", "json"]));
    assert_eq!(back.json()["results"], live.json()["results"]);
    assert_eq!(back.json()["source"]["context"], "fixture", "the dump remembers where it came from");
}

#[test]
fn secrets_never_reach_a_dump() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump.yaml");
    let out = run(Command::new(bin(ANALYZE)).args([
        "--snapshot",
        state("secrets").join("state.yaml").to_str().unwrap(),
        "--dump",
        dump.to_str().unwrap(),
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = std::fs::read_to_string(&dump).unwrap();
    for canary in ["Q0FOQVJZ", "CANARY", "YWRtaW4=", "last-applied-configuration"] {
        assert!(!text.contains(canary), "{canary} leaked into the dump:\n{text}");
    }
    assert!(text.contains("opsagent.dev/secret-keys: password,token,username"), "{text}");
}

#[test]
fn a_forbidden_kind_gives_partial_results_and_a_warning() {
    let fx = Fixture::start(&state("pods"), &["--fault", "resource=replicasets,status=403"]);
    let out = run(&mut fx.plugin(ANALYZE, &["-A", "-o", "json"]));
    assert_eq!(out.code, 1, "problems are still found: {}", out.stderr);
    assert_eq!(out.stderr.trim(), "warning: cannot list replicasets.apps at the cluster scope: forbidden");
    let report = out.json();
    assert_eq!(report["partial"], true);
    assert_eq!(report["warnings"][0]["kind"], "ReplicaSet");
    assert_eq!(report["warnings"][0]["reason"], "Forbidden");
    // The Deployment is known without its ReplicaSet (`<deployment>-<pod-template-hash>`, and its
    // selector matches): the same findings, grouped and as severe as with every kind read.
    let api = report["results"].as_array().unwrap().iter().find(|f| f["name"] == "api-5d4f8c7b9-x2x8k").unwrap();
    assert_eq!((api["parent"]["kind"].as_str(), api["parent"]["name"].as_str()), (Some("Deployment"), Some("api")));
    let whole = Fixture::start(&state("pods"), &[]);
    let all = run(&mut whole.plugin(ANALYZE, &["-A", "-o", "json"])).json();
    assert_eq!(finding_lines(&report), finding_lines(&all));
    // A stuck rollout: the new pod still joins its Deployment (and its way back); only the
    // ReplicaSets' own findings are missing, since they could not be read.
    let rollouts = |faults: &[&str]| {
        let fx = Fixture::start(&state("rollouts"), faults);
        let report = run(&mut fx.plugin(ANALYZE, &["-A", "-o", "json"])).json();
        let pods: Vec<serde_json::Value> =
            report["results"].as_array().unwrap().iter().filter(|f| f["kind"] != "ReplicaSet").cloned().collect();
        finding_lines(&serde_json::json!({ "results": pods }))
    };
    assert_eq!(rollouts(&["--fault", "resource=replicasets,status=403"]), rollouts(&[]));
    let text = run(&mut fx.plugin(ANALYZE, &["-A"]));
    assert!(text.stdout.contains("Results are partial"), "{}", text.stdout);
}

#[test]
fn a_group_the_server_lacks_is_skipped_with_a_warning() {
    let fx = Fixture::start(&state("pods"), &["--fault", "path=/apis/batch/v1/cronjobs,status=404"]);
    let out = run(&mut fx.plugin(ANALYZE, &["-A", "-o", "json"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(out.stderr.trim(), "warning: the server does not serve cronjobs.batch (batch/v1)");
    let report = out.json();
    assert_eq!(report["warnings"][0]["reason"], "NotFound");
    let import = report["results"].as_array().unwrap().iter().find(|f| f["name"] == "import-29100720-q8z2x").unwrap();
    assert_eq!(import["parent"]["kind"], "CronJob", "the chain still names the owner from the Job's reference");
}

#[test]
fn partial_results_with_nothing_found_exit_4() {
    let fx = Fixture::start(&state("pods"), &["--fault", "resource=events,status=403"]);
    let out = run(&mut fx.plugin(ANALYZE, &["-n", "kube-system"]));
    assert_eq!(out.code, 4, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("warning: cannot list events in namespace \"kube-system\": forbidden"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_healthy_namespace_exits_0() {
    let fx = Fixture::start(&state("pods"), &[]);
    let out = run(&mut fx.plugin(ANALYZE, &["-n", "kube-system"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), "No problems found in namespace kube-system.");
}

/// A scope that matches nothing is said, not reported healthy: a namespace that does not exist, a
/// selector that matches no object, live and from a snapshot; one warning line each and exit 4.
#[test]
fn an_empty_scope_is_said_and_exits_4() {
    let fx = Fixture::start(&state("pods"), &[]);
    let dump = fx.dir.path().join("all.yaml");
    let saved = run(&mut fx.plugin(ANALYZE, &["-A", "-o", "json", "--dump", dump.to_str().unwrap()]));
    assert_eq!(saved.code, 1, "{}", saved.stderr);
    let snapshot = dump.to_str().unwrap();
    let cases: [(&[&str], &str); 5] = [
        (&["-n", "nosuchns"], "namespace \"nosuchns\" not found"),
        (
            &["-n", "kube-system", "-l", "app=nothing"],
            "the selector app=nothing matched no object in namespace kube-system",
        ),
        (&["-A", "-l", "app=nothing"], "the selector app=nothing matched no object in any namespace"),
        (&["--snapshot", snapshot, "-n", "nosuchns"], "no object was found in namespace nosuchns"),
        (&["--snapshot", snapshot, "-l", "tier=none"], "the selector tier=none matched no object"),
    ];
    for (args, said) in cases {
        let out = run(&mut fx.plugin(ANALYZE, args));
        assert_eq!(out.code, 4, "{args:?}: {}\n{}", out.stdout, out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "{args:?}: {}", out.stderr);
        assert!(out.stderr.starts_with("warning: ") && out.stderr.contains(said), "{args:?}: {}", out.stderr);
        assert!(out.stdout.starts_with("Nothing was analyzed in"), "{args:?}: {}", out.stdout);
        let markdown = run(&mut fx.plugin(ANALYZE, &[args, &["-o", "markdown"][..]].concat()));
        assert!(markdown.stdout.contains("**Nothing was analyzed.**"), "{args:?}: {}", markdown.stdout);
    }
    // The JSON report says what it analyzed: the selector, and the objects of each kind.
    let report = run(&mut fx.plugin(ANALYZE, &["-n", "crash", "-l", "app=api", "-o", "json"])).json();
    assert_eq!(report["source"]["selector"], "app=api");
    assert_eq!(report["partial"], false, "{}", report["warnings"]);
    let objects = report["source"]["objects"].as_object().expect("object counts");
    assert!(objects.get("Pod").and_then(Value::as_u64).unwrap_or(0) > 0, "{objects:?}");
    let empty = run(&mut fx.plugin(ANALYZE, &["-n", "nosuchns", "-o", "json"])).json();
    assert_eq!(empty["partial"], true);
    assert_eq!(empty["warnings"][0]["reason"], "NotFound");
    assert!(empty["source"].get("objects").is_none(), "{}", empty["source"]);
}

/// Scheduling hints follow the scheduler's words: an extended resource keeps its whole name; "no
/// node offers it" only when the nodes were read and none lists it (a namespace run reads no node:
/// then what to check); the control-plane taint is advice only when nothing else keeps the pod out.
#[test]
fn scheduling_hints_follow_the_evidence() {
    let fx = Fixture::start(&state("pods"), &[]);
    let hint = |args: &[&str], name: &str| {
        hint_of(&run(&mut fx.plugin(ANALYZE, &[args, &["-o", "json"][..]].concat())).json(), name)
    };
    let everywhere = hint(&["-A"], "gpu-train");
    assert!(everywhere.starts_with("No node offers nvidia.com/gpu at all"), "{everywhere}");
    let namespace = hint(&["-n", "sched"], "gpu-train");
    assert!(namespace.contains("nvidia.com/gpu 5") && namespace.contains("check which nodes offer it"), "{namespace}");
    for h in [&everywhere, &namespace] {
        assert!(!h.contains("lower the requests") && !h.contains("toleration"), "{h}");
    }
    let only = hint(&["-A"], "cp-only");
    assert!(only.starts_with("Only control-plane nodes are left"), "{only}");
    let other = hint(&["-A"], "gpu-job");
    assert!(other.starts_with("Nodes carry taints the pod does not tolerate (dedicated)"), "{other}");
    let memory = hint(&["-A"], "search");
    assert!(memory.contains("lower the requests"), "cpu and memory every node has: {memory}");
}

/// Probe hints follow the kubelet's words; a container killed by its liveness probe is not told
/// it "exits successfully" (its look-alike, a container that does exit 0 by itself, still is).
#[test]
fn probe_hints_follow_the_kubelets_words() {
    let fx = Fixture::start(&state("pods"), &[]);
    let report = run(&mut fx.plugin(ANALYZE, &["-A", "-o", "json"])).json();
    let hint = |name: &str| hint_of(&report, name);
    let killed = hint("killed-by-liveness");
    assert!(
        killed.contains("liveness probe fails, not because it exits by itself") && killed.contains("gets 404"),
        "{killed}"
    );
    assert!(!killed.contains("Job"), "{killed}");
    assert!(hint("oneshot").contains("run one-off work as a Job"), "the look-alike keeps its hint");
    assert!(hint("backend").contains("finds nothing listening"), "{}", hint("backend"));
    assert!(hint("frontend").contains("gets 503"), "{}", hint("frontend"));
}

/// A Service that selects nothing is offered only the near misses that look like a typo of its
/// selector and that no other Service selects (another workload's label would route its traffic to
/// the wrong app); an Ingress a controller admitted is not "unserved" for want of an IngressClass
/// object; an Ingress with two problems names both.
#[test]
fn service_and_ingress_hints_follow_the_evidence() {
    let report = offline("network", &["-A", "--enable", "Secret"]);
    let finding = |name: &str| finding_named(&report, name);
    let hint = |name: &str| finding(name)["hint"].as_str().unwrap().to_string();
    let typo = hint("storefront");
    assert!(
        typo.contains("app=storefornt instead of app=storefront") && typo.contains("storefornt-5c6d-x1y2z"),
        "{typo}"
    );
    let missing_key = hint("search");
    assert!(missing_key.contains("no tier label (wants tier=api)"), "{missing_key}");
    for other in ["orders", "checkout"] {
        let h = hint(other);
        assert!(
            h.starts_with("No pod in web carries the labels") && !h.contains("payments") && !h.contains("checkout-v1"),
            "{other}: {h}"
        );
    }
    let names: Vec<&str> = report["results"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert!(!names.contains(&"legacy-admitted"), "admitted by a controller: {names:?}");
    assert!(hint("unserved").contains("No controller serves it"));
    let shop = finding("shop");
    let reasons: Vec<&str> =
        shop["problems"].as_array().unwrap().iter().map(|p| p["reason"].as_str().unwrap()).collect();
    assert_eq!(reasons, ["MissingBackendService", "MissingTLSSecret"]);
    let h = shop["hint"].as_str().unwrap();
    assert!(h.contains("create Service shop-frontend") && h.contains("kubectl create secret tls shop-tls"), "{h}");
    // Pods labelled with the Service's own name are what it means to select (Service search,
    // selector app=search-api, pods app=search).
    let catalog = offline("catalog", &["-n", "apps"]);
    let search = catalog["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "Service" && f["name"] == "search")
        .cloned();
    let search = search.expect("search")["hint"].as_str().unwrap().to_string();
    assert!(search.contains("app=search instead of app=search-api"), "{search}");
    let text =
        run(Command::new(bin(ANALYZE)).args(["--snapshot"]).arg(state("network")).args(["-A", "--enable", "Secret"]));
    assert!(text.stdout.contains("Ingress shop  MissingBackendService, MissingTLSSecret"), "{}", text.stdout);
}

/// A node's finding explains its pods and its events: the warnings about a node (filed in
/// `default`), the pods the node controller marked not ready, a SystemOOM whose victim was a pod
/// with its own OOMKilled finding; a pod stuck terminating is told what its node's state means.
/// What no finding explains is named after its object (a node's SystemOOM), not its reason.
#[test]
fn node_findings_explain_their_pods_and_events() {
    let report = offline("nodes", &["-A"]);
    let results = report["results"].as_array().unwrap();
    let finding = |name: &str| finding_named(&report, name);
    assert!(results.iter().all(|f| f["namespace"] != "default"), "no node event re-reported under default");
    let down = finding("node-down");
    assert!(down["messages"].as_array().unwrap().iter().any(|m| m == "pod shop/cart-1 on it is not ready"), "{down}");
    assert!(results.iter().all(|f| f["name"] != "cart-1" && f["name"] != "node-ok"), "{report}");
    let oom = finding("node-oom");
    assert_eq!((oom["kind"].as_str(), oom["namespace"].as_str()), (Some("Node"), None));
    let hint = |name: &str| finding(name)["hint"].as_str().unwrap().to_string();
    assert!(
        hint("cart-0").starts_with("Its node node-down is not ready, so no kubelet can confirm"),
        "{}",
        hint("cart-0")
    );
    assert!(hint("search-0").starts_with("Its node node-ok is ready but its kubelet has not confirmed"));
    assert!(hint("search-1").starts_with("Its node node-gone no longer exists"));
    // Without the nodes (a live namespace run reads none), what to check.
    let fx = Fixture::start(&state("nodes"), &[]);
    let ns = run(&mut fx.plugin(ANALYZE, &["-n", "shop", "-o", "json"])).json();
    let cart = finding_named(&ns, "cart-0");
    assert!(
        cart["hint"].as_str().unwrap().starts_with("Its node node-down may be down: check kubectl get node"),
        "{cart}"
    );
}

/// A pod held by its volumes is told which claim and volume, and what to compare; a pod waiting
/// for an unbound claim is told which claim is Pending.
#[test]
fn volume_hints_name_the_claims() {
    let report = offline("volumes", &["-A"]);
    let hint = |name: &str| hint_of(&report, name);
    let zone = hint("search-0");
    assert!(
        zone.contains("(claim data-search-0 → PersistentVolume pvc-9f8e)") && zone.contains("kubectl get pv pvc-9f8e"),
        "{zone}"
    );
    let unbound = hint("reports-0");
    assert!(
        unbound.contains("(reports is Pending)") && unbound.contains("kubectl describe pvc -n data reports"),
        "{unbound}"
    );
}

/// The API server's refusals each get the hint of their cause (a webhook's denial, a webhook that
/// cannot be reached, a LimitRange); a stuck rollout's way back joins the new pods' crash; a Job
/// past its deadline says so.
#[test]
fn rollout_hints_follow_the_refusal() {
    let report = offline("rollouts", &["-A"]);
    let hint = |name: &str| hint_of(&report, name);
    assert!(hint("web-5d8").starts_with("Admission webhook validate.kyverno.svc-fail denied the pods"));
    let down = hint("pay-6b4");
    assert!(down.contains("could not be reached") && down.contains("not the template"), "{down}");
    assert!(hint("api-7c9").contains("maximum memory usage per Container is 1Gi, but limit is 2Gi"));
    let crash = hint("shop-7b9d6c5f4-q8w7e");
    assert!(crash.starts_with("The process exits with code 1"), "{crash}");
    assert!(
        crash.contains("Deployment shop: the rollout is stuck: 1/3 replicas updated, 3 available")
            && crash.contains("3 available are the previous revision's")
            && crash.contains("kubectl rollout undo deployment/shop -n shop"),
        "{crash}"
    );
    assert!(hint("nightly-report").contains("activeDeadlineSeconds (3600s)"));
}

/// An autoscaler whose containers lack the requests it scales on is told to set them, not to
/// check metrics-server (the controller's message says "missing request for cpu").
#[test]
fn an_autoscaler_without_requests_is_not_sent_to_metrics_server() {
    let report = offline("catalog", &["-A"]);
    let hpa = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "HorizontalPodAutoscaler" && f["name"] == "queue-worker")
        .cloned()
        .expect("queue-worker");
    let hint = hpa["hint"].as_str().unwrap();
    assert!(hint.contains("set resources.requests.cpu") && !hint.contains("metrics-server"), "{hint}");
}

#[test]
fn the_contexts_namespace_is_the_default() {
    let fx = Fixture::start(&state("pods"), &["--namespace", "probes"]);
    let report = run(&mut fx.plugin(ANALYZE, &["-o", "json"])).json();
    assert_eq!(report["source"]["namespace"], "probes");
    let lines = finding_lines(&report);
    assert_eq!(lines.len(), 4);
    assert!(lines.iter().all(|l| l.starts_with("probes/")), "{lines:?}");
    let other = run(&mut fx.plugin(ANALYZE, &["-n", "images", "-o", "json"])).json();
    assert_eq!(finding_lines(&other).len(), 3);
}

#[test]
fn label_selectors_filter_pods() {
    let fx = Fixture::start(&state("pods"), &[]);
    // The unlabeled Deployment is filtered out: its replica count is unknown, the pod stays `high`.
    let report = run(&mut fx.plugin(ANALYZE, &["-A", "-l", "app=api", "-o", "json"])).json();
    assert_eq!(finding_lines(&report), ["crash/api-5d4f8c7b9-x2x8k CrashLoopBackOff high Deployment/api"]);
    let offline = run(Command::new(bin(ANALYZE)).args([
        "--snapshot",
        state("pods").to_str().unwrap(),
        "-l",
        "app in (api)",
        "-o",
        "json",
    ]));
    assert_eq!(finding_lines(&offline.json()), finding_lines(&report));
    let bad = run(&mut fx.plugin(ANALYZE, &["-A", "-l", "app in web"]));
    assert_eq!(bad.code, 2);
    bad.assert_one_error_line();
}

#[test]
fn tls_with_a_private_ca_and_a_bearer_token() {
    let fx = Fixture::start(&state("pods"), &["--tls", "--token", "s3cr3t-token"]);
    assert!(fx.url.starts_with("https://"));
    let out = run(&mut fx.plugin(ANALYZE, &["-n", "images", "-o", "json"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(finding_lines(&out.json()).len(), 3);

    let kubeconfig = std::fs::read_to_string(fx.kubeconfig()).unwrap().replace("s3cr3t-token", "expired-token");
    std::fs::write(fx.kubeconfig(), kubeconfig).unwrap();
    let out = run(&mut fx.plugin(ANALYZE, &["-n", "images"]));
    assert_eq!(out.code, 3, "{}", out.stderr);
    out.assert_one_error_line();
    assert!(out.stderr.contains("rejected the credentials (401 Unauthorized)"), "{}", out.stderr);
    assert!(!out.stderr.contains("expired-token"), "no credential in messages");
}

#[test]
fn a_certificate_from_an_unknown_ca_is_one_clear_error() {
    let fx = Fixture::start(&state("pods"), &["--tls"]);
    fx.distrust(&Fixture::start(&state("secrets"), &["--tls"]));
    let out = run(&mut fx.plugin(ANALYZE, &["-A"]));
    assert_eq!(out.code, 3, "{}", out.stderr);
    out.assert_one_error_line();
    assert!(out.stderr.contains(&format!("cannot reach the cluster at {}", fx.url)), "{}", out.stderr);
    assert!(out.stderr.contains("certificate"), "{}", out.stderr);
}

#[test]
fn an_unreachable_server_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (kubeconfig, url) = refused_kubeconfig(dir.path());
    let out = run(Command::new(bin(ANALYZE)).args(["-A", "--kubeconfig", kubeconfig.to_str().unwrap()]));
    assert_eq!(out.code, 3, "{}", out.stderr);
    out.assert_one_error_line();
    assert!(out.stderr.contains(&format!("error: cannot reach the cluster at {url}")), "{}", out.stderr);
    assert!(out.stderr.to_lowercase().contains("connection refused"), "{}", out.stderr);
}

#[test]
fn kubeconfig_problems_are_one_clear_error() {
    let fx = Fixture::start(&state("pods"), &[]);
    let kc = fx.kubeconfig();
    let kc = kc.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--context", "nope"], "context \"nope\" not found in"),
        (vec!["--kubeconfig", "/nonexistent/kubeconfig"], "kubeconfig /nonexistent/kubeconfig does not exist"),
    ];
    for (args, want) in cases {
        let out = run(&mut fx.plugin(ANALYZE, &args));
        assert_eq!(out.code, 3, "{args:?}: {}", out.stderr);
        out.assert_one_error_line();
        assert!(out.stderr.contains(want), "{args:?}: {}", out.stderr);
    }
    let out = run(&mut fx.plugin(ANALYZE, &["--context", "nope"]));
    assert!(out.stderr.contains("(available: fixture)"), "{}", out.stderr);

    let garbage = fx.dir.path().join("garbage");
    std::fs::write(&garbage, "clusters: [[[\n").unwrap();
    let out = run(&mut fx.plugin(ANALYZE, &["--kubeconfig", garbage.to_str().unwrap()]));
    assert_eq!(out.code, 3, "{}", out.stderr);
    out.assert_one_error_line();
    assert!(out.stderr.contains("invalid kubeconfig"), "{}", out.stderr);

    // $KUBECONFIG lists are merged and missing files skipped, like kubectl.
    let list = std::env::join_paths([std::path::Path::new("/nonexistent/one"), std::path::Path::new(kc)]).unwrap();
    let out = run(fx.plugin(ANALYZE, &["-n", "kube-system"]).env("KUBECONFIG", list));
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn no_kubeconfig_and_no_cluster_is_one_clear_error() {
    let home = tempfile::tempdir().unwrap();
    let out = run(Command::new(bin(ANALYZE))
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .env("HOME", home.path()));
    assert_eq!(out.code, 3, "{}", out.stderr);
    out.assert_one_error_line();
    assert!(
        out.stderr.contains("no kubeconfig found ($KUBECONFIG, ~/.kube/config) and no in-cluster configuration")
            && out.stderr.contains("--snapshot FILE"),
        "{}",
        out.stderr
    );
}

#[test]
fn usage_and_input_errors_exit_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad_yaml = dir.path().join("bad.yaml");
    std::fs::write(&bad_yaml, "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\napiVersion: v1\nkind: [oops\n")
        .unwrap();
    let not_utf8 = dir.path().join("latin1.yaml");
    std::fs::write(&not_utf8, b"apiVersion: v1\nkind: Pod\nmetadata: {name: \xe9}\n").unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--snapshot".into(), "/nonexistent.yaml".into()], "error: /nonexistent.yaml: no such file"),
        (vec!["--snapshot".into(), bad_yaml.display().to_string()], "bad.yaml: line 6: unclosed bracket"),
        (vec!["--snapshot".into(), not_utf8.display().to_string()], "latin1.yaml: not UTF-8 text"),
        (vec!["--analyzers".into(), "nope".into()], "unknown analyzer \"nope\" (known: Pod, Deployment"),
        (
            vec!["--dump".into(), "-".into(), "--snapshot".into(), bad_yaml.display().to_string()],
            "--dump needs a file name",
        ),
    ];
    for (args, want) in cases {
        let out = run(Command::new(bin(ANALYZE)).args(&args));
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        out.assert_one_error_line();
        assert!(out.stderr.contains(want), "{args:?}: {}", out.stderr);
    }
    for args in [
        vec!["-o", "xml"],
        vec!["-n", "a", "-A"],
        vec!["--max-concurrency", "0"],
        vec!["--snapshot", "x", "--context", "y"],
    ] {
        let out = run(Command::new(bin(ANALYZE)).args(&args));
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.starts_with("error: "), "{args:?}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"));
    }
}

#[test]
fn list_filter_and_exclude_analyzers() {
    let out = run(Command::new(bin(ANALYZE)).arg("--list-analyzers"));
    assert_eq!(out.code, 0);
    assert!(out.stdout.starts_with("Pod "), "{}", out.stdout);
    assert_eq!(out.stdout.lines().count(), opsagent::analyze::catalog().count());
    assert!(out.stdout.contains("Secret") && out.stdout.contains("(opt-in"), "{}", out.stdout);
    let snapshot = state("pods");
    let with = run(Command::new(bin(ANALYZE)).args([
        "--snapshot",
        snapshot.to_str().unwrap(),
        "--analyzers",
        "pod",
        "-o",
        "json",
    ]));
    assert_eq!(with.code, 1);
    assert_eq!(with.json()["summary"]["analyzers"], serde_json::json!(["Pod"]));
    let without = run(Command::new(bin(ANALYZE)).args([
        "--snapshot",
        snapshot.to_str().unwrap(),
        "--analyzers",
        "Pod",
        "--skip-analyzers",
        "Pod",
    ]));
    assert_eq!(without.code, 2, "nothing left to run");
    without.assert_one_error_line();
    // --enable adds an optional analyzer to the defaults.
    let enabled = run(Command::new(bin(ANALYZE)).args([
        "--snapshot",
        snapshot.to_str().unwrap(),
        "--enable",
        "Log",
        "-o",
        "json",
    ]));
    let names = enabled.json()["summary"]["analyzers"].clone();
    let names: Vec<&str> = names.as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
    assert_eq!(names.len(), opsagent::analyze::catalog().filter(|a| a.default_enabled).count() + 1, "{names:?}");
    assert_eq!(names.last(), Some(&"Log"));
    // The spellings of earlier releases (and k8sgpt's --filter) still work.
    let old = run(Command::new(bin(ANALYZE)).args([
        "--snapshot",
        snapshot.to_str().unwrap(),
        "--filter",
        "pod,Deployment",
        "--exclude",
        "Deployment",
        "-o",
        "json",
    ]));
    assert_eq!(old.json()["summary"]["analyzers"], serde_json::json!(["Pod"]), "{}", old.stderr);
}

#[test]
fn kubectl_output_piped_in_is_a_snapshot() {
    let fx = Fixture::start(&state("pods"), &[]);
    let yaml = run(&mut fx.kubectl(&[
        "get",
        "pods,events,replicasets,deployments,statefulsets,jobs,cronjobs",
        "-A",
        "-o",
        "yaml",
    ]));
    assert_eq!(yaml.code, 0, "{}", yaml.stderr);
    let mut child = Command::new(bin(ANALYZE))
        .args(["--snapshot", "-", "-o", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(yaml.stdout.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(finding_lines(&report), expected_lines(&state("pods")));
}

#[test]
fn a_state_on_stdin_streams_in_as_from_a_file() {
    // The same state given as a file and piped in (read as it streams, never held whole): the same
    // report, for analyze and audit; bytes that are not UTF-8 are one line and exit 2.
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("state.yaml");
    let saved = run(Command::new(bin(ANALYZE))
        .args(["--snapshot", state("pods").to_str().unwrap(), "-A"])
        .args(["--dump", dump.to_str().unwrap()]));
    assert_eq!(saved.code, 1, "{}", saved.stderr);
    let text = std::fs::read(&dump).unwrap();
    let report = |out: crate::support::Run| {
        let mut v = out.json();
        v.as_object_mut().unwrap().remove("generatedAt");
        v
    };
    for plugin in [ANALYZE, "kubectl-ai-audit"] {
        let file = run(Command::new(bin(plugin)).args(["--snapshot", dump.to_str().unwrap(), "-A", "-o", "json"]));
        let piped = crate::support::run_with_stdin(
            Command::new(bin(plugin)).args(["--snapshot", "-", "-A", "-o", "json"]),
            &text,
        );
        assert_eq!((piped.code, piped.stderr.contains("error")), (file.code, false), "{plugin}: {}", piped.stderr);
        let (file, piped) = (report(file), report(piped));
        assert!(file.to_string().len() > 1000, "{plugin}: a report with findings: {file}");
        // The report names its source: the file's path, or stdin.
        assert_eq!(piped.to_string(), file.to_string().replace(dump.to_str().unwrap(), "stdin"));
        let bad = crate::support::run_with_stdin(
            Command::new(bin(plugin)).args(["--snapshot", "-", "-A"]),
            b"apiVersion: v1\nkind: Pod\nmetadata: {name: caf\xe9}\n",
        );
        assert_eq!(bad.code, 2, "{plugin}: {}", bad.stderr);
        bad.assert_one_error_line();
        assert!(bad.stderr.contains("stdin: not UTF-8 text"), "{plugin}: {}", bad.stderr);
    }
}

#[test]
fn pagination_reads_every_page() {
    let dir = tempfile::tempdir().unwrap();
    let mut state = String::new();
    for i in 0..1234 {
        let (waiting, ready) =
            if i % 100 == 7 { ("{waiting: {reason: CrashLoopBackOff}}", "false") } else { ("{running: {}}", "true") };
        state.push_str(&format!(
            "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: p-{i:04}, namespace: ns-{}, creationTimestamp: \"2026-05-01T12:00:00Z\"}}\nspec: {{containers: [{{name: c, image: \"x:1\"}}]}}\nstatus: {{phase: Running, containerStatuses: [{{name: c, image: \"x:1\", imageID: \"\", ready: {ready}, restartCount: 3, state: {waiting}}}]}}\n",
            i % 7
        ));
    }
    let path = dir.path().join("many.yaml");
    std::fs::write(&path, state).unwrap();
    let fx = Fixture::start(&path, &[]);
    let out = run(&mut fx.plugin(ANALYZE, &["-A", "-o", "json", "--max-concurrency", "1"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(out.json()["results"].as_array().unwrap().len(), 13, "pods 7, 107, …, 1207 crash");
    let lists: Vec<_> = std::fs::read_to_string(fx.dir.path().join("record.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    assert!(lists.is_empty(), "analyze never mutates: {lists:?}");
}

#[test]
fn text_and_markdown_reports() {
    // Relative paths: the reports name the snapshot, and the checkout lives elsewhere in CI.
    let analyze = |args: &[&str]| {
        let mut cmd = Command::new(bin(ANALYZE));
        cmd.current_dir(env!("CARGO_MANIFEST_DIR")).args(["--snapshot", "states/pods"]).args(args);
        run(&mut cmd)
    };
    let text = analyze(&["-n", "crash"]);
    assert_eq!(text.code, 1);
    assert!(!text.stdout.contains('\x1b'), "no colors when piped");
    insta::assert_snapshot!("analyze_text_crash", text.stdout);
    let md = analyze(&["-n", "sched", "-o", "markdown"]);
    insta::assert_snapshot!("analyze_markdown_sched", md.stdout);
    let yaml = analyze(&["-n", "probes", "-o", "yaml"]);
    let parsed = opsagent::snapshot::parse_documents(&yaml.stdout).unwrap();
    assert_eq!(parsed[0].value["results"].as_array().unwrap().len(), 4);
}

#[test]
fn colors_follow_the_terminal_and_no_color() {
    let snapshot = state("pods");
    let args = ["--snapshot", snapshot.to_str().unwrap(), "-n", "crash"];
    let forced = run(Command::new(bin(ANALYZE)).args(args).env("CLICOLOR_FORCE", "1").env_remove("NO_COLOR"));
    assert!(forced.stdout.contains("\x1b["), "forced colors");
    let flag = run(Command::new(bin(ANALYZE)).args(args).arg("--no-color").env("CLICOLOR_FORCE", "1"));
    assert!(!flag.stdout.contains('\x1b'), "--no-color wins");
    let env = run(Command::new(bin(ANALYZE)).args(args).env("NO_COLOR", "1"));
    assert!(!env.stdout.contains('\x1b'));
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    let snapshot = state("pods");
    let mut child = Command::new(bin(ANALYZE))
        .args(["--snapshot", snapshot.to_str().unwrap(), "-o", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn verbose_logs_go_to_stderr() {
    let fx = Fixture::start(&state("pods"), &[]);
    let out = run(&mut fx.plugin(ANALYZE, &["-n", "kube-system", "-vv"]));
    assert_eq!(out.code, 0);
    assert!(out.stderr.contains("listed"), "{}", out.stderr);
    assert_eq!(out.stdout.trim(), "No problems found in namespace kube-system.");
}

#[test]
fn several_clusters_in_one_report_and_one_down_is_a_warning() {
    let eu = Fixture::start_named(&state("demo"), "eu", &[]);
    let us = Fixture::start_named(&state("catalog"), "us", &[]);
    // Copies: a fixture removes its directory when it stops, and the kubeconfigs must outlive it.
    let home = tempfile::tempdir().unwrap();
    for (fx, name) in [(&eu, "eu"), (&us, "us")] {
        std::fs::copy(fx.kubeconfig(), home.path().join(name)).unwrap();
    }
    let kubeconfigs = std::env::join_paths([home.path().join("eu"), home.path().join("us")]).unwrap();
    let analyze = |args: &[&str]| {
        run(Command::new(bin(ANALYZE)).args(args).env("KUBECONFIG", &kubeconfigs).env("HOME", home.path()))
    };

    let both = analyze(&["-A", "--context", "eu,us", "-o", "json"]);
    assert_eq!(both.code, 1, "{}", both.stderr);
    let report = both.json();
    assert_eq!(report["source"]["clusters"], serde_json::json!(["eu", "us"]));
    let results = report["results"].as_array().unwrap();
    let count = |cluster: &str| results.iter().filter(|f| f["cluster"] == cluster).count();
    assert_eq!(count("eu"), expected_lines(&state("demo")).len());
    assert_eq!(count("us"), expected_lines(&state("catalog")).len());
    assert_eq!(count("eu") + count("us"), results.len(), "every result names its cluster");
    let rank = |f: &Value| ["critical", "high", "medium", "low", "info"].iter().position(|s| f["severity"] == *s);
    assert!(results.iter().map(rank).collect::<Vec<_>>().is_sorted(), "JSON keeps the order: severity first");
    assert_eq!(analyze(&["-A", "--all-contexts", "-o", "json"]).json()["results"], report["results"]);
    // Worst first across clusters and namespaces: each finding names its context and namespace.
    let text = analyze(&["-A", "--all-contexts"]);
    assert!(text.stdout.contains("eu:shop/") && text.stdout.contains("us:"), "{}", text.stdout);
    let severities: Vec<usize> = text
        .stdout
        .lines()
        .filter_map(|l| ["  CRITICAL", "  HIGH", "  MEDIUM", "  LOW", "  INFO"].iter().position(|s| l.starts_with(s)))
        .collect();
    assert!(severities.len() > 3 && severities.is_sorted(), "severity first: {severities:?}");
    assert!(
        text.stdout.starts_with(&format!("{} problems found", results.len())),
        "a screenful starts with the summary"
    );

    drop(us);
    let one = analyze(&["-A", "--all-contexts", "-o", "json"]);
    assert_eq!(one.code, 1, "{}", one.stderr);
    assert!(
        one.stderr.starts_with("warning: context us: cannot reach the cluster at http://127.0.0.1:"),
        "{}",
        one.stderr
    );
    let report = one.json();
    assert_eq!(report["partial"], true);
    assert_eq!(report["warnings"][0]["cluster"], "us");
    assert_eq!(report["warnings"][0]["reason"], "Unreachable");
    assert!(report["results"].as_array().unwrap().iter().all(|f| f["cluster"] == "eu"));
    assert_eq!(count("eu"), report["results"].as_array().unwrap().len());

    drop(eu);
    let none = analyze(&["-A", "--context", "eu,us"]);
    assert_eq!(none.code, 3, "{}", none.stderr);
    assert!(none.stderr.lines().last().unwrap().starts_with("error: no context could be analyzed"), "{}", none.stderr);
    assert!(!none.stderr.contains("panicked"));
    let dump = analyze(&["-A", "--context", "eu,us", "--dump", "x.yaml"]);
    assert_eq!(dump.code, 2);
    dump.assert_one_error_line();
}
