//! All four plugins share the kubectl conventions.

use std::process::Command;

use crate::support::{bin, run};

const PLUGINS: [&str; 4] = ["kubectl-ai-analyze", "kubectl-ai-audit", "kubectl-ai-gen", "kubectl-ai-exec"];

#[test]
fn every_plugin_has_help_version_and_the_kubectl_flags() {
    for plugin in PLUGINS {
        let help = run(Command::new(bin(plugin)).arg("--help"));
        assert_eq!(help.code, 0, "{plugin}");
        let verb = plugin.trim_start_matches("kubectl-ai-");
        assert!(help.stdout.contains(&format!("Usage: kubectl ai {verb}")), "{plugin}: {}", help.stdout);
        // gen writes manifests (its -o is a file) and exec works in one namespace: no -A or -l.
        let reading: &[&str] = if verb == "gen" || verb == "exec" { &[] } else { &["--all-namespaces", "--selector"] };
        for flag in [
            "--kubeconfig",
            "--context",
            "--namespace",
            "--request-timeout",
            "--output",
            "--no-color",
            "--verbose",
            "Examples:",
        ]
        .iter()
        .chain(reading)
        {
            assert!(help.stdout.contains(flag), "{plugin} lacks {flag}");
        }
        let version = run(Command::new(bin(plugin)).arg("--version"));
        assert_eq!(version.stdout.trim(), format!("kubectl-ai-{verb} {}", env!("CARGO_PKG_VERSION")));
    }
}

#[test]
fn bad_values_and_conflicts_are_usage_errors() {
    let bad = run(Command::new(bin("kubectl-ai-audit")).args(["--level", "bogus"]));
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("invalid value 'bogus'"), "{}", bad.stderr);
    let conflict = run(Command::new(bin("kubectl-ai-exec")).args(["--yes", "--read-only", "x"]));
    assert_eq!(conflict.code, 2);
}
