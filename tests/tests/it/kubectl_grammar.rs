//! exec's model of kubectl's grammar against the real kubectl: the flag table is kubectl's own
//! (regenerated from the kubectl on PATH), and where exec's reading of a command line matters, the
//! real kubectl run against the fixture cluster is the oracle.

use std::path::Path;
use std::process::Command;

use crate::support::{Fixture, run, state};

fn line(text: &str) -> opsagent::exec::KubectlLine {
    opsagent::exec::kubectl_line(&shell_words::split(text).unwrap()).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// The committed table is what tests/kubectl-grammar.py reads from the kubectl on PATH today.
#[test]
fn the_table_is_kubectls_own() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let version = run(Command::new("kubectl").args(["version", "--client"]));
    if !version.stdout.contains(opsagent::exec::kubectl_grammar_version()) {
        eprintln!(
            "skipped: the table was read from kubectl {}, and PATH has {}",
            opsagent::exec::kubectl_grammar_version(),
            version.stdout.lines().next().unwrap_or("")
        );
        return;
    }
    let out = run(Command::new("python3").arg(root.join("tests/kubectl-grammar.py")));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let committed = std::fs::read_to_string(root.join("shared/src/exec/tools/kubectl/table.rs")).unwrap();
    assert!(
        committed == out.stdout,
        "shared/src/exec/tools/kubectl/table.rs differs from kubectl's help: python3 tests/kubectl-grammar.py > shared/src/exec/tools/kubectl/table.rs"
    );
}

/// Flags whose value is optional make the next word an argument; flags with a value take it. The
/// real kubectl says which: it looks the argument up as a name (a request to the fixture), or, for
/// a client dry run that asks nothing, names it in its output.
#[test]
fn kubectl_reads_optional_values_as_exec_does() {
    let fx = Fixture::start(&state("attacks"), &[]);
    for (text, name, oracle) in [
        ("delete pod web-0 -n shop --dry-run server", "server", "pod \"server\" deleted (dry run)"),
        (
            "delete pod web-0 -n shop --cascade foreground --dry-run=server",
            "foreground",
            "/api/v1/namespaces/shop/pods/foreground",
        ),
        ("get pods -n shop --chunk-size 500 web-0", "web-0", "/api/v1/namespaces/shop/pods/web-0"),
        ("get pods -n shop --chunk-size=500 web-0", "web-0", "/api/v1/namespaces/shop/pods/web-0"),
    ] {
        let parsed = line(text);
        assert!(parsed.args.iter().any(|a| a == name), "{text}: exec reads {:?}", parsed.args);
        let before = fx.requests().len();
        let out =
            run(&mut fx.kubectl(&shell_words::split(text).unwrap().iter().map(String::as_str).collect::<Vec<_>>()));
        let paths: Vec<String> =
            fx.requests()[before..].iter().map(|r| r["path"].as_str().unwrap_or("").to_string()).collect();
        if oracle.starts_with('/') {
            assert!(paths.iter().any(|p| p == oracle), "{text}: kubectl asked for {paths:?}");
        } else {
            assert!(out.stdout.contains(oracle), "{text}: kubectl said {}{}", out.stdout, out.stderr);
        }
    }
    assert!(fx.recorded().iter().all(|r| r["dryRun"] == true), "{:?}", fx.recorded());
}

/// The command kubectl runs is the one exec found, whatever flags come before it.
#[test]
fn kubectl_finds_the_command_exec_finds() {
    let fx = Fixture::start(&state("attacks"), &[]);
    for (text, method, path) in [
        ("--cache-dir get delete ns prod --dry-run=server", "DELETE", "/api/v1/namespaces/prod"),
        ("-n shop get pods web-0", "GET", "/api/v1/namespaces/shop/pods/web-0"),
        (
            "--namespace shop scale deploy web --replicas=1 --dry-run=server",
            "PATCH",
            "/apis/apps/v1/namespaces/shop/deployments/web/scale",
        ),
    ] {
        let parsed = line(text);
        let expected = match method {
            "DELETE" => "delete",
            "GET" => "get",
            _ => "scale",
        };
        assert_eq!(parsed.command, expected, "{text}");
        assert!(parsed.verdict.is_err() || expected != "delete", "{text}: the hidden verb is refused");
        let before = fx.requests().len();
        let args = shell_words::split(text).unwrap();
        let mut kubectl = fx.kubectl(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let _ = run(kubectl.current_dir(fx.dir.path()));
        let seen: Vec<String> = fx.requests()[before..]
            .iter()
            .map(|r| format!("{} {}", r["method"].as_str().unwrap_or(""), r["path"].as_str().unwrap_or("")))
            .collect();
        assert!(seen.iter().any(|s| s == &format!("{method} {path}")), "{text}: kubectl sent {seen:?}");
    }
}
