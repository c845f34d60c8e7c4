//! What the model may run: a positive model over kubectl's grammar. A command line is read as
//! kubectl reads it ([`super::grammar`]); then it is a read (allowlisted command, allowlisted
//! flags, allowlisted output formats, no Secret values), a write (a known command that changes the
//! cluster: it runs only after a person's yes, whatever its `--dry-run` says), or refused with a
//! reason the model can act on. Nothing else exists.

use super::grammar::Parsed;

/// What a command line is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Changes nothing: runs at once.
    Read,
    /// Changes the cluster: runs only after a yes.
    Write,
    /// Never runs; why, and what to do instead.
    Refused(String),
}

/// The global flags the model may give; every other one is the session's (context, credentials,
/// server, impersonation, caches, profiling, logging).
const GLOBAL_ALLOWED: &[&str] = &["namespace", "match-server-version", "warnings-as-errors"];

/// The reads, and the flags each may take.
const READS: &[(&str, &[&str])] = &[
    (
        "get",
        &[
            "all-namespaces",
            "allow-missing-template-keys",
            "chunk-size",
            "field-selector",
            "ignore-not-found",
            "label-columns",
            "no-headers",
            "output",
            "output-watch-events",
            "selector",
            "server-print",
            "show-kind",
            "show-labels",
            "show-managed-fields",
            "sort-by",
            "subresource",
            "watch",
            "watch-only",
        ],
    ),
    ("describe", &["all-namespaces", "chunk-size", "selector", "show-events"]),
    (
        "logs",
        &[
            "all-containers",
            "all-pods",
            "container",
            "follow",
            "ignore-errors",
            "limit-bytes",
            "max-log-requests",
            "pod-running-timeout",
            "prefix",
            "previous",
            "selector",
            "since",
            "since-time",
            "tail",
            "timestamps",
        ],
    ),
    ("top node", &["no-headers", "selector", "show-capacity", "sort-by", "use-protocol-buffers"]),
    (
        "top pod",
        &[
            "all-namespaces",
            "containers",
            "field-selector",
            "no-headers",
            "selector",
            "sort-by",
            "sum",
            "use-protocol-buffers",
        ],
    ),
    ("explain", &["api-version", "output", "recursive"]),
    ("api-resources", &["api-group", "cached", "categories", "namespaced", "no-headers", "output", "sort-by", "verbs"]),
    ("api-versions", &[]),
    ("version", &["client", "output"]),
    ("cluster-info", &[]),
    ("events", &["all-namespaces", "chunk-size", "for", "no-headers", "output", "types", "watch"]),
    ("auth can-i", &["all-namespaces", "list", "no-headers", "quiet", "subresource"]),
    ("auth whoami", &["output"]),
    ("rollout status", &["revision", "timeout", "watch"]),
    ("rollout history", &["allow-missing-template-keys", "output", "revision", "show-managed-fields"]),
    ("config view", &["minify", "output", "allow-missing-template-keys"]),
    ("config get-contexts", &["no-headers", "output"]),
    ("config current-context", &[]),
    ("config get-clusters", &[]),
    ("wait", &["all", "all-namespaces", "field-selector", "for", "selector", "timeout"]),
];

/// The commands that change the cluster (each runs only after a yes).
const WRITES: &[&str] = &[
    "annotate",
    "autoscale",
    "certificate approve",
    "certificate deny",
    "cordon",
    "create clusterrole",
    "create clusterrolebinding",
    "create configmap",
    "create cronjob",
    "create deployment",
    "create ingress",
    "create job",
    "create namespace",
    "create poddisruptionbudget",
    "create priorityclass",
    "create quota",
    "create role",
    "create rolebinding",
    "create secret docker-registry",
    "create secret generic",
    "create service clusterip",
    "create service externalname",
    "create service loadbalancer",
    "create service nodeport",
    "create serviceaccount",
    "debug",
    "delete",
    "drain",
    "exec",
    "expose",
    "label",
    "patch",
    "rollout pause",
    "rollout restart",
    "rollout resume",
    "rollout undo",
    "run",
    "scale",
    "set env",
    "set image",
    "set resources",
    "set selector",
    "set serviceaccount",
    "set subject",
    "taint",
    "uncordon",
];

/// Flags that name a local file, a directory or a URL, or read a local template: kubectl would read
/// the machine exec runs on (a kubeconfig, a key) and send it on, or fetch from anywhere.
const LOCAL: &[&str] = &[
    "filename",
    "kustomize",
    "recursive",
    "from-file",
    "from-env-file",
    "patch-file",
    "output-directory",
    "cert",
    "key",
    "custom",
    "template",
    "raw",
];

/// Flags that attach a terminal: nothing interactive runs here.
const INTERACTIVE: &[&str] = &["stdin", "tty", "attach", "leave-stdin-open", "rm"];

/// The output formats allowed: structured (redacted as objects before anything else reads them),
/// names, and tables. Templates and JSONPath would take values out of the structure the
/// redaction sees (`-o json | jq` does the same, after it).
const OUTPUTS: &[&str] = &["", "json", "yaml", "wide", "name"];

/// Why commands that are not allowed are refused.
fn refused_command(command: &str) -> Option<&'static str> {
    Some(match command {
        "edit" | "apply edit-last-applied" => "kubectl edit opens an editor: use kubectl patch, set or scale instead",
        "attach" | "port-forward" | "proxy" => "this command is interactive or never ends and cannot run here",
        "cp" => "kubectl cp reads and writes local files: use kubectl exec POD -- cat FILE to read one",
        "apply" | "apply set-last-applied" | "replace" | "diff" | "kustomize" | "auth reconcile" | "create" => {
            "this command reads local files, and exec gives kubectl none: use kubectl create deployment|configmap|…, patch, set or scale"
        }
        "apply view-last-applied" => "the last-applied configuration can hold a Secret's data: use kubectl get -o yaml",
        "cluster-info dump" => {
            "cluster-info dump reads everything, logs included: ask for what you need with get, describe or logs"
        }
        "create token" => "a service account token is a credential and is never shown",
        c if c.starts_with("config") && !READS.iter().any(|(r, _)| *r == c) => {
            "the kubeconfig is not changed from here: only config view, get-contexts, current-context"
        }
        _ => return None,
    })
}

/// Whether an argument names Secrets: `secret`, `secrets`, `Secret`, `secrets.v1.`, `secret/db`,
/// `pods,secrets` (any group or version of a resource called secrets).
fn names_secrets(arg: &str) -> bool {
    arg.split(',').any(|part| {
        let kind = part.split('/').next().unwrap_or(part);
        let resource = kind.split('.').next().unwrap_or(kind).to_ascii_lowercase();
        resource == "secret" || resource == "secrets"
    })
}

/// Judges a command line as kubectl reads it.
pub(crate) fn judge(p: &Parsed) -> Verdict {
    let refuse = |why: String| Verdict::Refused(why);
    if let Some(f) = p.flags.iter().find(|f| f.global && !GLOBAL_ALLOWED.contains(&f.name)) {
        return refuse(format!(
            "--{} is the session's: the context, credentials, server and settings are fixed (leave it out)",
            f.name
        ));
    }
    if let Some(why) = refused_command(p.command) {
        return refuse(why.to_string());
    }
    let read = READS.iter().find(|(c, _)| *c == p.command);
    let write = WRITES.contains(&p.command);
    if read.is_none() && !write {
        return refuse(format!(
            "kubectl {} is not one of the commands run here: reads (get, describe, logs, top, events, explain, …) run at once; changes (scale, patch, delete, rollout restart, …) after a yes",
            p.command
        ));
    }
    if let Some(f) = p.flags.iter().find(|f| write && LOCAL.contains(&f.name) && !f.global) {
        return refuse(format!(
            "--{} reads local files, templates or URLs, which exec never gives kubectl: say what you want with flags and arguments (a read: -o json | jq)",
            f.name
        ));
    }
    if let Some(f) = p.flags.iter().find(|f| INTERACTIVE.contains(&f.name) && p.on(f.name)) {
        return refuse(format!(
            "--{} needs a terminal and none is attached: run one command, e.g. kubectl exec POD -- env",
            f.name
        ));
    }
    // Secrets first: whatever else is wrong with the line, this is the reason the model must hear.
    let output = p.value("output").unwrap_or("");
    let secrets = p.args.iter().any(|a| names_secrets(a)) || p.command.starts_with("create secret");
    if secrets {
        let metadata_only = match p.command {
            "describe" => true,
            "get" => matches!(output, "" | "name" | "wide"),
            _ if write => matches!(output, "" | "name"),
            _ => false,
        };
        if !metadata_only || p.has("show-managed-fields") {
            return refuse(
                "Secret values are never read: kubectl get secrets lists their names, kubectl describe secret NAME their keys and sizes"
                    .into(),
            );
        }
    }
    let output_ok = OUTPUTS.contains(&output) || (p.command == "explain" && output.starts_with("plaintext"));
    if !output_ok {
        return refuse(format!(
            "-o {output} is not used here: ask for -o json (or yaml, wide, name) and filter with | jq '…' — values are redacted before jq sees them"
        ));
    }
    let Some((_, allowed)) = read else { return Verdict::Write };
    if let Some(f) = p.flags.iter().find(|f| !f.global && !allowed.contains(&f.name)) {
        return refuse(format!(
            "--{} is not allowed in kubectl {} here; allowed: {}",
            f.name,
            p.command,
            if allowed.is_empty() { "none".to_string() } else { allowed.join(", ") }
        ));
    }
    if p.command == "config view" && !p.on("minify") {
        return refuse("config view shows the session's own context only: add --minify".into());
    }
    Verdict::Read
}

/// Reads that never end by themselves (`logs -f`, `get -w`, `rollout status`): they run for a short
/// time and return what arrived.
pub(crate) fn endless(p: &Parsed) -> bool {
    match p.command {
        "logs" => p.on("follow"),
        "get" => p.on("watch") || p.on("watch-only"),
        "events" => p.on("watch"),
        "rollout status" => p.value("watch").is_none_or(|w| super::grammar::parse_bool(w) != Some(false)),
        _ => false,
    }
}

/// Whether any word of the command line holds a character that could hide or rewrite what a
/// person reads: controls, bidirectional overrides, zero-width characters.
pub(crate) fn hidden_characters(args: &[String]) -> Option<String> {
    use crate::llm::redact::hidden;
    args.iter().find(|a| a.chars().any(hidden)).map(|a| {
        let shown: String = a.chars().map(|c| if hidden(c) { '␣' } else { c }).collect();
        format!("an argument holds control, bidirectional or zero-width characters ({shown:?}): write it in plain text")
    })
}

#[cfg(test)]
mod tests {
    use super::super::grammar::parse;
    use super::*;

    fn judge_line(line: &str) -> Verdict {
        let args = shell_words::split(line).unwrap();
        if let Some(why) = hidden_characters(&args) {
            return Verdict::Refused(why);
        }
        match parse(&args) {
            Ok(p) => judge(&p),
            Err(e) => Verdict::Refused(e),
        }
    }

    #[test]
    fn reads_writes_and_refusals() {
        use Verdict::{Read, Write};
        for (line, want) in [
            ("get pods -A", Read),
            ("-n shop get pods -o wide", Read),
            ("get pods -o json", Read),
            ("logs web-0 --previous --tail=50", Read),
            ("describe secret db", Read),
            ("get secrets", Read),
            ("get secrets -o name", Read),
            ("auth can-i delete pods", Read),
            ("rollout status deploy/web", Read),
            ("top pods -A", Read),
            ("config view --minify", Read),
            ("events -A --types=Warning", Read),
            ("explain pods.spec --recursive", Read),
            ("scale deploy web --replicas=3", Write),
            ("delete pod web-0 --dry-run=client", Write),
            ("delete pod web-0 --dry-run=server", Write),
            ("rollout restart deploy/web", Write),
            ("rollout undo deploy/web --dry-run=server", Write),
            ("set image deploy/web web=nginx:1.27", Write),
            ("exec web-0 -- env", Write),
            ("create secret generic x --from-literal=a=b", Write),
            ("--tls-server-name get delete ns prod", Verdict::Refused(String::new())),
        ] {
            let got = judge_line(line);
            match want {
                Verdict::Refused(_) => assert!(matches!(got, Verdict::Refused(_)), "{line}: {got:?}"),
                want => assert_eq!(got, want, "{line}"),
            }
        }
    }

    #[test]
    fn what_is_refused_says_why() {
        for (line, said) in [
            ("--tls-server-name get delete ns prod", "session's"),
            ("get pods -shttps://elsewhere", "--server is the session's"),
            ("get pods --context other", "--context"),
            ("get pods --kubeconfig=/tmp/k", "--kubeconfig"),
            ("get pods --token=x", "--token"),
            ("get pods --as=admin", "--as"),
            ("get pods -v=9", "--v"),
            ("get pods --profile=cpu --profile-output=/etc/passwd", "--profile"),
            ("get secret db -o yaml", "Secret values"),
            ("get secrets.v1. -o json", "Secret values"),
            ("get Secret/db -o json", "Secret values"),
            ("get pods,secrets -o yaml", "Secret values"),
            ("get secrets -o name -o json", "Secret values"),
            ("get secret db --template={{.data}}", "--template"),
            ("get secret db -o jsonpath={.data}", "Secret values"),
            ("get pods -o jsonpath={.items}", "-o jsonpath"),
            ("get pods -o go-template={{.}}", "-o go-template"),
            ("get pods -o custom-columns=A:.spec", "-o custom-columns"),
            ("patch secret db -p {} -o yaml", "Secret values"),
            ("get --raw /api/v1/namespaces/shop/secrets", "--raw"),
            ("config view --minify --raw", "--raw"),
            ("config view", "--minify"),
            ("config use-context prod", "kubeconfig is not changed"),
            ("cluster-info dump", "reads everything"),
            ("create token default", "credential"),
            ("create secret generic x --from-file=/root/.kube/config --dry-run=client -o yaml", "--from-file"),
            ("apply -f https://example.com/x.yaml", "local files"),
            ("create -f x.yaml", "local files"),
            ("get pods -f /etc", "--filename"),
            ("edit deploy web", "editor"),
            ("exec -it web-0 -- sh", "terminal"),
            ("run x --image=busybox -i --rm", "terminal"),
            ("port-forward svc/web 8080:80", "interactive"),
            ("cp web-0:/etc/passwd /tmp/x", "local files"),
            ("krew install x", "not a kubectl command"),
            ("get pods --show-kind=maybe", "not a boolean"),
            ("describe pod web -o yaml", "unknown shorthand"),
            ("logs web --insecure-skip-tls-verify-backend", "not allowed in kubectl logs"),
            ("get pods\u{202e} -A", "bidirectional"),
            ("scale deploy 'web\r' --replicas=3", "control"),
        ] {
            match judge_line(line) {
                Verdict::Refused(why) => assert!(why.contains(said), "{line}: {why}"),
                other => panic!("{line}: {other:?}"),
            }
        }
    }

    #[test]
    fn endless_reads() {
        let e = |line: &str| endless(&parse(&shell_words::split(line).unwrap()).unwrap());
        assert!(e("logs -f web") && e("get pods -w") && e("rollout status deploy/web") && e("events -w"));
        assert!(!e("get pods") && !e("rollout status deploy/web --watch=false") && !e("logs web"));
    }
}
