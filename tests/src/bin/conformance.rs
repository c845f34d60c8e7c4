//! `make conformance`: runs `kubectl-ai-audit` over the peers' own test data in
//! `../shared/conformance/audit/` (Pod Security Admission, Polaris, kube-score, kubesec, trivy KSV)
//! and prints the agreement per corpus. The data is read where it lies, never copied.
//!
//! A case agrees when the audit's findings carry the peer's check in `references` exactly when the
//! peer's expected result is a failure (PSS: any finding at that level, and for a failure one naming
//! the control the file exercises; kubesec: the sign of the score computed from the findings).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use serde_json::Value;

struct Case {
    file: String,
    expect_fail: bool,
    /// What must be found (a reference, or a PSS control).
    check: String,
    args: Vec<String>,
}

struct Corpus {
    name: &'static str,
    cases: Vec<Case>,
    /// Target agreement, in percent.
    target: f64,
    judge: fn(&Case, &[Value]) -> bool,
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut data = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/conformance/audit"));
    let mut verbose = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--data" => data = args.next().map(PathBuf::from).unwrap_or(data),
            "-v" | "--verbose" => verbose = true,
            other => {
                eprintln!("conformance: unknown argument {other:?} (use --data DIR, -v)");
                return ExitCode::from(2);
            }
        }
    }
    if !data.join("CATALOG.md").is_file() {
        eprintln!(
            "conformance: the shared conformance data is not at {} (it lies beside the project as ../shared); nothing was checked",
            data.display()
        );
        return ExitCode::from(1);
    }
    let audit = std::env::current_exe().ok().and_then(|p| p.parent().map(|d| d.join("kubectl-ai-audit")));
    let Some(audit) = audit.filter(|p| p.is_file()) else {
        eprintln!(
            "conformance: kubectl-ai-audit is not built next to this runner: run `cargo build --workspace` first"
        );
        return ExitCode::from(1);
    };
    let corpora = match load(&data) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("conformance: {e}");
            return ExitCode::from(1);
        }
    };
    let mut below = false;
    println!("{:<14} {:>9} {:>8} {:>8}", "corpus", "agree", "percent", "target");
    for corpus in &corpora {
        let mut agree = 0;
        let mut misses = Vec::new();
        for case in &corpus.cases {
            let findings = match run(&audit, &data, case) {
                Ok(f) => f,
                Err(e) => {
                    misses.push(format!("{}: {e}", case.file));
                    continue;
                }
            };
            if (corpus.judge)(case, &findings) {
                agree += 1;
            } else {
                let found: Vec<String> = findings
                    .iter()
                    .flat_map(|f| f["references"].as_array().cloned().unwrap_or_default())
                    .filter_map(|r| r.as_str().map(str::to_string))
                    .filter(|r| r.starts_with(&corpus_prefix(corpus.name)))
                    .collect();
                misses.push(format!(
                    "{} [{}] expected {}; found {:?}",
                    case.file,
                    case.check,
                    if case.expect_fail { "fail" } else { "pass" },
                    dedup(found)
                ));
            }
        }
        let total = corpus.cases.len();
        let percent = if total == 0 { 0.0 } else { 100.0 * agree as f64 / total as f64 };
        let ok = percent + 1e-9 >= corpus.target;
        below |= !ok;
        let target = if corpus.target > 0.0 { format!("{:.0}%", corpus.target) } else { "—".into() };
        println!(
            "{:<14} {:>4}/{:<4} {:>7.1}% {:>8}{}",
            corpus.name,
            agree,
            total,
            percent,
            target,
            if ok { "" } else { "  BELOW" }
        );
        if verbose {
            for m in &misses {
                println!("    {m}");
            }
        }
    }
    if below { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

fn dedup(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

fn corpus_prefix(name: &str) -> String {
    match name {
        "pss" => "pss:".into(),
        "polaris" => "polaris:".into(),
        "kube-score" => "kube-score:".into(),
        "kubesec" => "kubesec:".into(),
        _ => "ksv:".into(),
    }
}

fn run(audit: &Path, data: &Path, case: &Case) -> Result<Vec<Value>, String> {
    let out = Command::new(audit)
        .arg("-f")
        .arg(data.join(&case.file))
        .args(["-o", "json", "--no-color"])
        .args(&case.args)
        .output()
        .map_err(|e| e.to_string())?;
    let report: Value = serde_json::from_slice(&out.stdout).map_err(|_| {
        format!("no report (exit {:?}): {}", out.status.code(), String::from_utf8_lossy(&out.stderr).trim())
    })?;
    Ok(report["findings"].as_array().cloned().unwrap_or_default())
}

fn has_reference(findings: &[Value], reference: &str) -> bool {
    findings.iter().any(|f| f["references"].as_array().is_some_and(|r| r.iter().any(|r| r == reference)))
}

fn by_reference(case: &Case, findings: &[Value]) -> bool {
    has_reference(findings, &case.check) == case.expect_fail
}

/// PSS: a pass has no finding at the level; a failure has one naming the control of the file.
fn pss(case: &Case, findings: &[Value]) -> bool {
    if !case.expect_fail {
        return findings.is_empty();
    }
    findings.iter().flat_map(|f| f["references"].as_array().cloned().unwrap_or_default()).any(|r| {
        r.as_str()
            .and_then(|r| r.strip_prefix("pss:"))
            .and_then(|r| r.split_once('/'))
            .is_some_and(|(_, control)| control.to_ascii_lowercase() == case.check)
    })
}

/// kubesec's score sign from the findings: a critical rule makes it negative; otherwise each
/// advisory rule the object satisfies (no finding names it) adds points.
fn kubesec(case: &Case, findings: &[Value]) -> bool {
    const CRITICAL: &[&str] = &[
        "Privileged",
        "CapSysAdmin",
        "BindingsToSystemAnonymous",
        "HostNetwork",
        "HostPID",
        "HostIPC",
        "DockerSock",
        "ProcMount",
        "AllowPrivilegeEscalation",
        "SecretsAsEnvironmentVariables",
        "HostAliases",
        "ApparmorUnconfined",
        "SeccompUnconfined",
    ];
    const ADVICE: &[&str] = &[
        "RunAsNonRoot",
        "ReadOnlyRootFilesystem",
        "RunAsUser",
        "RunAsGroup",
        "LimitsCPU",
        "LimitsMemory",
        "RequestsCPU",
        "RequestsMemory",
        "CapDropAll",
        "CapDropAny",
        "SeccompAny",
        "ServiceAccountName",
        "AutomountServiceAccountToken",
        "HostUsers",
    ];
    let rules: Vec<String> = findings
        .iter()
        .flat_map(|f| f["references"].as_array().cloned().unwrap_or_default())
        .filter_map(|r| r.as_str().and_then(|r| r.strip_prefix("kubesec:")).map(str::to_string))
        .collect();
    let sign = if rules.iter().any(|r| CRITICAL.contains(&r.as_str())) {
        "score<0"
    } else {
        // Advisory rules apply to pod specs only; the runner knows them by POD-034 (reported on every pod spec
        // whose user namespace is shared) or by any other pod-spec finding.
        let pod_spec = findings
            .iter()
            .any(|f| f["check"].as_str().is_some_and(|c| c.starts_with("POD-") || c.starts_with("RES-")));
        let satisfied = ADVICE.iter().any(|a| !rules.iter().any(|r| r == a));
        if pod_spec && satisfied { "score>0" } else { "score==0" }
    };
    sign == case.check
}

fn tsv(path: &Path) -> Result<Vec<Vec<String>>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect())
}

fn load(data: &Path) -> Result<Vec<Corpus>, String> {
    let mut corpora = Vec::new();

    let mut cases = Vec::new();
    for row in tsv(&data.join("pss/expected.tsv"))? {
        let (file, level, expected) = (&row[0], &row[1], &row[2]);
        let stem = Path::new(file).file_stem().and_then(|s| s.to_str()).unwrap_or("");
        cases.push(Case {
            file: format!("pss/{file}"),
            expect_fail: expected == "fail",
            check: stem.trim_end_matches(|c: char| c.is_ascii_digit()).to_string(),
            args: vec!["--level".into(), level.clone()],
        });
    }
    corpora.push(Corpus { name: "pss", cases, target: 100.0, judge: pss });

    let cases = tsv(&data.join("polaris/expected.tsv"))?
        .into_iter()
        .map(|row| Case {
            file: format!("polaris/{}", row[0]),
            expect_fail: row[2] == "fail",
            check: format!("polaris:{}", row[1]),
            args: vec![],
        })
        .collect();
    corpora.push(Corpus { name: "polaris", cases, target: 98.0, judge: by_reference });

    let cases = tsv(&data.join("trivy-checks/expected.tsv"))?
        .into_iter()
        .map(|row| Case {
            file: format!("trivy-checks/{}", row[0]),
            expect_fail: row[2] == "fail",
            check: format!("ksv:{}", row[1]),
            args: vec![],
        })
        .collect();
    corpora.push(Corpus { name: "trivy-checks", cases, target: 98.0, judge: by_reference });

    let ids: BTreeMap<&str, &str> = [
        ("Pod NetworkPolicy", "pod-networkpolicy"),
        ("NetworkPolicy targets Pod", "networkpolicy-targets-pod"),
        ("Container Resources", "container-resources"),
        ("Container Image Pull Policy", "container-image-pull-policy"),
        ("Container Image Tag", "container-image-tag"),
        ("Container Seccomp Profile", "container-seccomp-profile"),
        ("Container Security Context User Group ID", "container-security-context-user-group-id"),
        ("Container Security Context Privileged", "container-security-context-privileged"),
        ("Container Security Context ReadOnlyRootFilesystem", "container-security-context-readonlyrootfilesystem"),
        ("Service Type", "service-type"),
        ("Stable version", "stable-version"),
    ]
    .into_iter()
    .collect();
    let mut cases = Vec::new();
    for row in tsv(&data.join("kube-score/expected.tsv"))? {
        let id = ids.get(row[1].as_str()).ok_or_else(|| format!("kube-score check {:?} has no id", row[1]))?;
        let notes = row.get(3).map(String::as_str).unwrap_or("");
        let mut skip = Vec::new();
        if notes.contains("IgnoreContainerCpuLimitRequirement=true") {
            skip.push("RES-001");
        }
        if notes.contains("IgnoreContainerMemoryLimitRequirement=true") {
            skip.push("RES-002");
        }
        let args = if skip.is_empty() { vec![] } else { vec!["--skip-checks".into(), skip.join(",")] };
        cases.push(Case {
            file: format!("kube-score/{}", row[0]),
            expect_fail: row[2] != "GradeAllOK",
            check: format!("kube-score:{id}"),
            args,
        });
    }
    corpora.push(Corpus { name: "kube-score", cases, target: 95.0, judge: by_reference });

    let cases = tsv(&data.join("kubesec/expected.tsv"))?
        .into_iter()
        .map(|row| Case {
            file: format!("kubesec/{}", row[0]),
            expect_fail: row[1] == "score<0",
            check: row[1].clone(),
            args: vec![],
        })
        .collect();
    corpora.push(Corpus { name: "kubesec", cases, target: 0.0, judge: kubesec });
    Ok(corpora)
}
