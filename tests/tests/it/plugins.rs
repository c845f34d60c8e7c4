//! All four plugins share the kubectl conventions; the one still to come parses its flags.

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
        // gen writes manifests, not reports: its -o is a file, and it has no -A or -l.
        let reading: &[&str] = if verb == "gen" { &[] } else { &["--all-namespaces", "--selector"] };
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
fn the_plugin_to_come_parses_flags_and_says_so() {
    let cases: [(&str, &[&str]); 1] = [("kubectl-ai-exec", &["how many namespaces?", "--read-only", "-o", "json"])];
    for (plugin, args) in cases {
        let out = run(Command::new(bin(plugin)).args(args));
        assert_eq!(out.code, 2, "{plugin}");
        out.assert_one_error_line();
        assert!(out.stderr.contains("is not implemented yet"), "{plugin}: {}", out.stderr);
    }
    let bad = run(Command::new(bin("kubectl-ai-audit")).args(["--level", "bogus"]));
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("invalid value 'bogus'"), "{}", bad.stderr);
    let conflict = run(Command::new(bin("kubectl-ai-exec")).args(["--yes", "--read-only", "x"]));
    assert_eq!(conflict.code, 2);
}
