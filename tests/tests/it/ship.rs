//! What ships: krew manifests, completions and man pages, the container image's Dockerfile, the
//! in-cluster deployment (least privilege), CI workflows.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::{bin, run};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn yaml_docs(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    opsagent::snapshot::parse_documents(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into_iter()
        .map(|d| d.value)
        .collect()
}

fn yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_krew_manifest_is_complete_and_names_a_real_binary() {
    let dir = root().join("krew-manifests");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let m = yaml(&path);
        let what = path.display().to_string();
        assert_eq!(m["apiVersion"], "krew.googlecontainertools.github.com/v1alpha2", "{what}");
        assert_eq!(m["kind"], "Plugin", "{what}");
        let name = m["metadata"]["name"].as_str().unwrap().to_string();
        assert_ne!(name, "ai", "the krew index already has a plugin named ai");
        assert!(name.starts_with("ai-"), "{what}");
        let spec = &m["spec"];
        assert_eq!(spec["version"], format!("v{}", env!("CARGO_PKG_VERSION")), "{what}");
        for field in ["homepage", "shortDescription", "description", "caveats"] {
            assert!(spec[field].as_str().is_some_and(|s| !s.trim().is_empty()), "{what}: {field}");
        }
        assert!(spec["caveats"].as_str().unwrap().contains(&format!("kubectl {name}")), "both spellings: {what}");
        let platforms = spec["platforms"].as_array().unwrap();
        let mut seen = Vec::new();
        for p in platforms {
            let labels = &p["selector"]["matchLabels"];
            seen.push(format!("{}/{}", labels["os"].as_str().unwrap(), labels["arch"].as_str().unwrap()));
            assert!(p["uri"].as_str().unwrap().starts_with("https://"), "{what}");
            let sha = p["sha256"].as_str().unwrap();
            assert!(sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()), "{what}: {sha}");
            let binary = p["bin"].as_str().unwrap();
            assert_eq!(binary, format!("kubectl-{name}"), "{what}");
            assert!(root().join("bins").join(binary).join("Cargo.toml").exists(), "{what}: no bins/{binary}");
        }
        seen.sort();
        assert_eq!(seen, ["darwin/amd64", "darwin/arm64", "linux/amd64", "linux/arm64"], "{what}");
        names.push(name);
    }
    names.sort();
    assert_eq!(names, ["ai-analyze", "ai-audit", "ai-exec", "ai-gen"]);
}

#[test]
fn completions_and_man_pages_come_from_the_flags() {
    for plugin in ["kubectl-ai-analyze", "kubectl-ai-audit", "kubectl-ai-gen", "kubectl-ai-exec"] {
        for (shell, marker) in [("bash", "complete -F"), ("zsh", "#compdef"), ("fish", "complete -c")] {
            let out = run(Command::new(bin(plugin)).args(["--completions", shell]));
            assert_eq!(out.code, 0, "{plugin} {shell}: {}", out.stderr);
            assert!(out.stdout.contains(marker) && out.stdout.contains(plugin), "{plugin} {shell}");
            assert!(out.stdout.contains("kubeconfig"), "{plugin} {shell}: the flags are in it");
        }
        let man = run(Command::new(bin(plugin)).arg("--man-page"));
        assert_eq!(man.code, 0);
        assert!(man.stdout.contains(".TH") && man.stdout.contains(&format!("{} 1", plugin)), "{plugin}");
    }
    let bad = run(Command::new(bin("kubectl-ai-audit")).args(["--completions", "tcsh"]));
    assert_eq!(bad.code, 2);
    bad.assert_one_error_line();
}

#[test]
fn the_dockerfile_builds_from_real_paths_and_runs_as_non_root() {
    let text = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let mut stages = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.first() {
            Some(&"FROM") => stages.push(words.last().unwrap().to_string()),
            Some(&"COPY") if !words.iter().any(|w| w.starts_with("--from")) => {
                for source in &words[1..words.len() - 1] {
                    assert!(root().join(source).exists(), "COPY {source}: no such path in the workspace");
                }
            }
            _ => {}
        }
    }
    assert!(stages.len() >= 2, "multi-stage: {stages:?}");
    assert!(text.contains("USER nonroot"), "the runtime runs as non-root");
    assert!(text.contains("distroless"), "a distroless runtime");
    assert!(text.contains("/usr/local/bin/kubectl"), "kubectl is included for exec");
    for plugin in ["kubectl-ai-analyze", "kubectl-ai-audit", "kubectl-ai-gen", "kubectl-ai-exec"] {
        assert!(text.contains(&format!("-p {plugin}")) && text.contains(&format!("release/{plugin}")), "{plugin}");
    }
}

#[test]
fn the_deployment_is_read_only_and_passes_its_own_audit() {
    let mut objects = Vec::new();
    for entry in std::fs::read_dir(root().join("deploy")).unwrap() {
        objects.extend(yaml_docs(&entry.unwrap().path()));
    }
    let role = objects.iter().find(|o| o["kind"] == "ClusterRole").expect("a ClusterRole");
    for rule in role["rules"].as_array().unwrap() {
        for verb in rule["verbs"].as_array().unwrap() {
            assert!(["get", "list"].contains(&verb.as_str().unwrap()), "a write or watch verb: {rule}");
        }
        for resource in rule["resources"].as_array().unwrap() {
            let r = resource.as_str().unwrap();
            assert!(r != "secrets" && r != "*", "{r}: {rule}");
        }
        assert!(rule["apiGroups"].as_array().unwrap().iter().all(|g| g != "*"));
    }
    let binding = objects.iter().find(|o| o["kind"] == "ClusterRoleBinding").unwrap();
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    for (name, plugin) in [("opsagent-analyze", "kubectl-ai-analyze"), ("opsagent-audit", "kubectl-ai-audit")] {
        let job = objects.iter().find(|o| o["kind"] == "CronJob" && o["metadata"]["name"] == name).expect(name);
        let c = &job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0];
        assert!(c["command"][0].as_str().unwrap().ends_with(plugin));
        assert_eq!(c["args"], serde_json::json!(["-A", "-o", "json"]));
        let key = c["env"].as_array().unwrap().iter().find(|e| e["name"] == "OPENAI_API_KEY").unwrap();
        assert!(key["valueFrom"]["secretKeyRef"]["name"].is_string(), "the key comes from a Secret");
    }
    for (name, plugin, every) in [
        ("opsagent-analyze-watch", "kubectl-ai-analyze", "--watch=5m"),
        ("opsagent-audit-watch", "kubectl-ai-audit", "--watch=1h"),
    ] {
        let d = objects.iter().find(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == name).expect(name);
        let pod = &d["spec"]["template"];
        let c = &pod["spec"]["containers"][0];
        assert!(c["command"][0].as_str().unwrap().ends_with(plugin));
        let args: Vec<&str> = c["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
        assert!(args.contains(&every) && args.contains(&"--metrics-addr=:9090"), "{args:?}");
        assert!(args.iter().any(|a| a.starts_with("--notify=alertmanager+http://")), "{args:?}");
        assert_eq!(c["ports"][0]["containerPort"], 9090);
        assert_eq!(pod["metadata"]["annotations"]["prometheus.io/port"], "9090");
        assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
        assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
        assert_eq!(pod["metadata"]["labels"]["app.kubernetes.io/component"], "watch");
    }
    let watch_policy = objects
        .iter()
        .find(|o| {
            o["kind"] == "NetworkPolicy"
                && o["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "watch"
        })
        .expect("a NetworkPolicy letting Prometheus scrape the watches");
    assert_eq!(watch_policy["spec"]["ingress"][0]["ports"][0]["port"], 9090);
    assert!(objects.iter().all(|o| o["kind"] != "Secret"), "no key is shipped");
    // Dogfood: nothing above low but the token the jobs need.
    let out = run(Command::new(bin("kubectl-ai-audit")).arg("-f").arg(root().join("deploy")).args([
        "--severity",
        "medium",
        "-o",
        "json",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    let checks: Vec<&str> =
        report["findings"].as_array().unwrap().iter().map(|f| f["check"].as_str().unwrap()).collect();
    assert!(checks.iter().all(|c| *c == "POD-030"), "{checks:?}");
}

#[test]
fn the_workflows_have_their_triggers() {
    let dir = root().join(".github/workflows");
    let on = |file: &str| {
        let w = yaml(&dir.join(file));
        assert!(w["jobs"].as_object().is_some_and(|j| !j.is_empty()), "{file}: jobs");
        w.get("on").cloned().unwrap_or_else(|| panic!("{file}: no `on`"))
    };
    let ci = on("ci.yml");
    assert!(ci.get("pull_request").is_some());
    assert_eq!(ci["push"]["branches"], serde_json::json!(["main"]));
    let ci_text = std::fs::read_to_string(dir.join("ci.yml")).unwrap();
    for step in [
        "cargo fmt --all -- --check",
        "clippy --workspace --all-targets -- -D warnings",
        "make test",
        "make conformance",
    ] {
        assert!(ci_text.contains(step), "ci.yml: {step}");
    }
    let image = on("image.yml");
    assert_eq!(image["push"]["branches"], serde_json::json!(["main"]));
    assert_eq!(image["push"]["tags"], serde_json::json!(["v*"]));
    assert!(std::fs::read_to_string(dir.join("image.yml")).unwrap().contains("ghcr.io"));
    assert_eq!(on("release.yml")["push"]["tags"], serde_json::json!(["v*"]));
    let security = on("security.yml");
    assert!(security.get("pull_request").is_some() && security["schedule"][0]["cron"].is_string());
    let dependabot = yaml(&root().join(".github/dependabot.yml"));
    let updates = dependabot["updates"].as_array().unwrap();
    let ecosystems: Vec<&str> = updates.iter().map(|u| u["package-ecosystem"].as_str().unwrap()).collect();
    assert_eq!(ecosystems, ["cargo", "github-actions"]);
    for u in updates {
        assert_eq!(u["schedule"]["interval"], "daily");
        assert_eq!(u["open-pull-requests-limit"], 5);
    }
    let deny = std::fs::read_to_string(root().join("deny.toml")).unwrap();
    assert!(deny.contains("[licenses]") && deny.contains("Apache-2.0"));
}

#[test]
fn dist_renders_the_krew_manifests_with_the_archives_sha256() {
    let dist = tempfile::tempdir().unwrap();
    let archive = dist.path().join("opsagent-v9.8.7-linux-amd64.tar.gz");
    std::fs::write(&archive, b"not really a tarball, but bytes with a digest").unwrap();
    let out = run(Command::new("python3").arg(root().join("krew-manifests/render.py")).arg(dist.path()).arg("9.8.7"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let sha = run(Command::new("sha256sum").arg(&archive)).stdout.split_whitespace().next().unwrap().to_string();
    for name in ["ai-analyze", "ai-audit", "ai-gen", "ai-exec"] {
        let m = yaml(&dist.path().join("krew").join(format!("{name}.yaml")));
        assert_eq!(m["spec"]["version"], "v9.8.7");
        let platforms = m["spec"]["platforms"].as_array().unwrap();
        assert_eq!(platforms.len(), 1, "only the platform that was built");
        assert_eq!(platforms[0]["sha256"], sha.as_str());
        assert!(platforms[0]["uri"].as_str().unwrap().ends_with("/v9.8.7/opsagent-v9.8.7-linux-amd64.tar.gz"));
    }
}

#[test]
fn in_a_pod_the_service_account_is_used() {
    let sa = tempfile::tempdir().unwrap();
    let ca = sa.path().join("ca.crt");
    let fx = crate::support::Fixture::start(
        &crate::support::state("demo"),
        &["--tls", "--token", "sa-token-0123", "--ca-out", ca.to_str().unwrap()],
    );
    std::fs::write(sa.path().join("token"), "sa-token-0123\n").unwrap();
    std::fs::write(sa.path().join("namespace"), "shop\n").unwrap();
    let port = fx.url.rsplit(':').next().unwrap().trim_end_matches('/').to_string();
    let home = tempfile::tempdir().unwrap();
    let analyze = |token_dir: &Path| {
        let mut cmd = Command::new(bin("kubectl-ai-analyze"));
        cmd.args(["-o", "json"])
            .env_remove("KUBECONFIG")
            .env("HOME", home.path())
            .env("KUBERNETES_SERVICE_HOST", "127.0.0.1")
            .env("KUBERNETES_SERVICE_PORT", &port)
            .env("OPSAGENT_SERVICE_ACCOUNT_DIR", token_dir);
        run(&mut cmd)
    };
    let out = analyze(sa.path());
    assert_eq!(out.code, 1, "problems found in the service account's namespace: {}", out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["source"]["namespace"], "shop", "the namespace file decides");
    assert!(report["results"].as_array().unwrap().iter().all(|f| f["namespace"] == "shop"));
    // A wrong token is the documented 401 line; no service account at all says what is missing.
    std::fs::write(sa.path().join("token"), "stale").unwrap();
    let rejected = analyze(sa.path());
    assert_eq!(rejected.code, 3, "{}", rejected.stderr);
    rejected.assert_one_error_line();
    let empty = tempfile::tempdir().unwrap();
    let none = analyze(empty.path());
    assert_eq!(none.code, 3);
    assert!(
        none.stderr.contains("no in-cluster configuration") && none.stderr.contains("token does not exist"),
        "{}",
        none.stderr
    );
}

const PLUGINS: [&str; 4] = ["kubectl-ai-analyze", "kubectl-ai-audit", "kubectl-ai-gen", "kubectl-ai-exec"];

/// Each plugin's flags as clap defines them: `(spelling, help heading)`, hidden ones left out.
fn flags() -> Vec<(&'static str, Vec<(String, String)>)> {
    use clap::CommandFactory as _;
    let commands = [
        ("analyze", opsagent::cli::analyze::AnalyzeArgs::command()),
        ("audit", opsagent::cli::audit::AuditArgs::command()),
        ("gen", opsagent::cli::generate::GenArgs::command()),
        ("exec", opsagent::cli::exec::ExecArgs::command()),
    ];
    commands
        .into_iter()
        .map(|(name, cmd)| {
            let cmd = cmd.version("0");
            let mut cmd = cmd;
            cmd.build();
            let flags = cmd
                .get_arguments()
                .filter(|a| !a.is_hide_set() && !a.is_positional())
                .map(|a| {
                    let long = a.get_long().map(|l| format!("--{l}")).unwrap_or_default();
                    let spelling = match a.get_short() {
                        Some(s) => format!("-{s}, {long}"),
                        None => long,
                    };
                    (spelling, a.get_help_heading().unwrap_or("Options").to_string())
                })
                .collect();
            (name, flags)
        })
        .collect()
}

/// The table of docs/flags.md: every flag, and the plugins that take it.
fn flag_table() -> String {
    let plugins = flags();
    let mut rows: Vec<(String, String)> = Vec::new();
    for (_, flags) in &plugins {
        for f in flags {
            if !rows.iter().any(|(flag, _)| *flag == f.0) {
                rows.push(f.clone());
            }
        }
    }
    let order =
        ["Cluster", "Input", "Analyzers", "Checks", "Images", "Output", "Apply", "Safety", "Agent", "Model", "Options"];
    rows.sort_by_key(|(flag, heading)| (order.iter().position(|h| h == heading).unwrap_or(order.len()), flag.clone()));
    let mut table = String::from("| flag | group | analyze | audit | gen | exec |\n|---|---|:-:|:-:|:-:|:-:|\n");
    for (flag, heading) in rows {
        let marks: Vec<&str> =
            plugins.iter().map(|(_, f)| if f.iter().any(|(s, _)| *s == flag) { "✓" } else { "" }).collect();
        table.push_str(&format!("| `{flag}` | {heading} | {} |\n", marks.join(" | ")));
    }
    table
}

/// The flags the plugins share mean the same everywhere; rule selection and manifests are
/// spelled alike; `-o` is always a format.
#[test]
fn the_plugins_speak_the_same_flags() {
    let plugins = flags();
    let has =
        |plugin: &str, flag: &str| plugins.iter().find(|(p, _)| *p == plugin).unwrap().1.iter().any(|(s, _)| s == flag);
    for (plugin, _) in &plugins {
        for flag in [
            "--kubeconfig",
            "--context",
            "-n, --namespace",
            "--request-timeout",
            "-o, --output",
            "--no-color",
            "-v, --verbose",
            "--provider",
            "--model",
            "--base-url",
            "--profile",
            "--config",
            "--ca-cert",
            "--context-window",
            "--language",
            "--dry-run",
        ] {
            assert!(has(plugin, flag), "{plugin} lacks {flag}");
        }
    }
    for plugin in ["analyze", "audit"] {
        for flag in ["-A, --all-namespaces", "-l, --selector", "--snapshot", "--explain"] {
            assert!(has(plugin, flag), "{plugin} lacks {flag}");
        }
    }
    for flag in ["--analyzers", "--skip-analyzers", "--list-analyzers", "--enable"] {
        assert!(has("analyze", flag), "analyze lacks {flag}");
    }
    for flag in ["--checks", "--skip-checks", "--list-checks"] {
        assert!(has("audit", flag), "audit lacks {flag}");
    }
    // -f is manifests wherever it exists.
    for (plugin, flags) in &plugins {
        for (spelling, _) in flags {
            if spelling.starts_with("-f,") {
                assert_eq!(spelling, "-f, --filename", "{plugin}: -f means manifests");
            }
            assert_ne!(spelling, "--file", "{plugin}: --file would be mistaken for -f");
        }
    }
    // -o is a format everywhere: a file name is refused with a pointer to --output-file.
    for plugin in PLUGINS {
        let out = run(Command::new(bin(plugin)).args(["x", "-o", "out.yaml"]));
        assert_eq!(out.code, 2, "{plugin}: {}", out.stderr);
    }
    let out = run(Command::new(bin("kubectl-ai-gen")).args(["a pod", "-o", "web.yaml"]));
    assert!(out.stderr.contains("--output-file web.yaml"), "{}", out.stderr);
}

/// Every `--help` lists exactly the exit codes docs/exit-codes.md gives the plugin, and no help
/// example is wider than 80 columns (so it never wraps in the middle of a command).
#[test]
fn help_footers_list_the_exit_codes_and_fit() {
    let doc = std::fs::read_to_string(root().join("docs/exit-codes.md")).unwrap();
    for plugin in PLUGINS {
        let short = plugin.trim_start_matches("kubectl-ai-");
        let row = doc.lines().find(|l| l.starts_with(&format!("| {short} |"))).unwrap_or_else(|| panic!("{short}"));
        let documented: Vec<&str> = row.split('|').nth(2).unwrap().split_whitespace().collect();
        let help = run(Command::new(bin(plugin)).arg("--help").env("COLUMNS", "200"));
        let footer = help.stdout.split("Exit codes:").nth(1).unwrap_or_else(|| panic!("{plugin}: no exit codes"));
        let listed: Vec<&str> =
            footer.lines().filter_map(|l| l.split_whitespace().next()).filter(|w| w.len() == 1).collect();
        assert_eq!(listed, documented, "{plugin}");
        let examples = help.stdout.split("Examples:").nth(1).unwrap();
        for line in examples.lines() {
            assert!(line.chars().count() <= 80, "{plugin}: an example line wider than 80 columns: {line}");
        }
    }
}

/// docs/flags.md: the table of every flag and every plugin's `--help`, kept current by this test
/// (`UPDATE_DOCS=1` rewrites it).
#[test]
fn the_flag_reference_is_current() {
    let mut doc = String::from(
        "# Every flag\n\nGenerated from each plugin's `--help` (the same clap definitions as the completions and\nman pages); `UPDATE_DOCS=1 cargo nextest run -p opsagent-tests flag_reference` rewrites it.\nPrecedence for model settings: flags > environment > config file > defaults\n([configuration.md](configuration.md)).\n",
    );
    doc.push_str("\n## Which plugin takes which flag\n\n");
    doc.push_str(&flag_table());
    for plugin in PLUGINS {
        let help = run(Command::new(bin(plugin)).arg("--help").env("COLUMNS", "100"));
        assert_eq!(help.code, 0);
        doc.push_str(&format!(
            "\n## {}\n\n```text\n{}\n```\n",
            plugin.replacen("kubectl-ai-", "kubectl ai ", 1),
            help.stdout.trim_end()
        ));
    }
    let path = root().join("docs/flags.md");
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &doc).unwrap();
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        current == doc,
        "docs/flags.md is out of date: run UPDATE_DOCS=1 cargo nextest run -p opsagent-tests flag_reference"
    );
}

#[test]
fn the_documented_config_files_parse() {
    let doc = std::fs::read_to_string(root().join("docs/configuration.md")).unwrap();
    let blocks: Vec<&str> = doc.split("```toml\n").skip(1).map(|b| b.split("```").next().unwrap()).collect();
    assert!(blocks.len() >= 2, "the worked profiles are there");
    let dir = tempfile::tempdir().unwrap();
    for (i, block) in blocks.iter().enumerate() {
        let file = dir.path().join(format!("config-{i}.toml"));
        std::fs::write(&file, block).unwrap();
        let out = run(Command::new(bin("kubectl-ai-analyze"))
            .arg("--config")
            .arg(&file)
            .arg("--snapshot")
            .arg(crate::support::state("demo"))
            .args(["--explain", "--dry-run"]));
        assert_eq!(out.code, 0, "block {i} of docs/configuration.md: {}", out.stderr);
    }
}

/// The core does not know the command line or the terminal: clap (and its completions and man
/// pages), dialoguer, indicatif and anstream are named only under `shared/src/cli/`.
#[test]
fn the_command_line_stays_at_the_edge() {
    let edge_only = ["clap::", "clap_complete::", "clap_mangen::", "dialoguer::", "indicatif::", "anstream::"];
    let attributes = ["ValueEnum", "#[arg(", "#[command("];
    let mut offenders = Vec::new();
    let mut stack = vec![root().join("shared/src")];
    let mut files = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "cli") {
                    stack.push(path);
                }
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            files += 1;
            let text = std::fs::read_to_string(&path).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                if edge_only.iter().chain(&attributes).any(|word| code.contains(word)) {
                    offenders.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(files > 50, "the core was read ({files} files)");
    assert!(offenders.is_empty(), "the core names command-line crates:\n{}", offenders.join("\n"));
}
