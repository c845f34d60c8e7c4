//! The kubectl tool: classification of each call (read / write / unknown), what is refused
//! (interactive and endless commands, another context, Secret values in raw formats), and running
//! the real kubectl directly — never through a shell — with the session's context enforced.

use std::io::Read as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

/// What a kubectl call does to the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// Changes nothing.
    Read,
    /// Changes the cluster.
    Write,
    /// Not known to be a read: treated as a write.
    Unknown,
}

const READS: &[&str] = &[
    "get",
    "describe",
    "logs",
    "top",
    "explain",
    "api-resources",
    "api-versions",
    "version",
    "cluster-info",
    "events",
    "diff",
    "wait",
];
const WRITES: &[&str] = &[
    "scale",
    "label",
    "annotate",
    "cordon",
    "uncordon",
    "drain",
    "taint",
    "delete",
    "apply",
    "create",
    "patch",
    "replace",
    "set",
    "expose",
    "run",
    "autoscale",
    "cp",
    "debug",
    "exec",
    "certificate",
];

/// The verb: the first argument that is not a flag (or a flag's value).
pub(crate) fn verb(args: &[String]) -> Option<&str> {
    let mut skip = false;
    for a in args {
        if skip {
            skip = false;
            continue;
        }
        if a.starts_with('-') {
            // Global flags that take a separate value.
            skip = matches!(
                a.as_str(),
                "-n" | "--namespace" | "--context" | "--kubeconfig" | "-s" | "--server" | "--request-timeout"
            ) && !a.contains('=');
            continue;
        }
        return Some(a.as_str());
    }
    None
}

fn has_flag(args: &[String], names: &[&str]) -> bool {
    args.iter().any(|a| names.iter().any(|n| a == n || a.starts_with(&format!("{n}="))))
}

/// Read, write or unknown, by verb: write verbs under `--dry-run` are reads.
pub(crate) fn classify(args: &[String]) -> Class {
    let Some(verb) = verb(args) else { return Class::Unknown };
    let sub = args.iter().skip_while(|a| a.as_str() != verb).nth(1).map(String::as_str);
    match verb {
        v if READS.contains(&v) => Class::Read,
        "auth" if sub == Some("can-i") || sub == Some("whoami") => Class::Read,
        "config" if matches!(sub, Some("view" | "get-contexts" | "current-context" | "get-clusters")) => Class::Read,
        "rollout" => match sub {
            Some("status" | "history") => Class::Read,
            _ if has_flag(args, &["--dry-run"]) => Class::Read,
            _ => Class::Write,
        },
        v if WRITES.contains(&v) => {
            if has_flag(args, &["--dry-run"]) && !args.iter().any(|a| a == "--dry-run=none") {
                Class::Read
            } else {
                Class::Write
            }
        }
        _ => Class::Unknown,
    }
}

/// Why a call is refused outright, if it is.
pub(crate) fn refusal(args: &[String]) -> Option<String> {
    let verb = verb(args).unwrap_or("");
    match verb {
        "edit" => return Some("kubectl edit opens an editor: use kubectl patch or kubectl apply instead".into()),
        "attach" | "port-forward" | "proxy" => {
            return Some(format!("kubectl {verb} is interactive or never ends and cannot run here"));
        }
        "exec" if args.iter().any(|a| matches!(a.as_str(), "-i" | "-t" | "-it" | "-ti" | "--stdin" | "--tty")) => {
            return Some(
                "interactive kubectl exec (-i/-t) cannot run here: run a single command, e.g. kubectl exec POD -- env"
                    .into(),
            );
        }
        "config" if classify(args) != Class::Read => {
            return Some(
                "the kubeconfig is not changed from here: only config view/get-contexts/current-context".into(),
            );
        }
        _ => {}
    }
    if has_flag(
        args,
        &["--context", "--kubeconfig", "--cluster", "--user", "--server", "-s", "--token", "--as", "--as-group"],
    ) {
        return Some("the session's context and credentials are fixed: leave out --context, --kubeconfig, --server, --token and --as".into());
    }
    let output = args.iter().enumerate().find_map(|(i, a)| {
        a.strip_prefix("-o=")
            .or_else(|| a.strip_prefix("--output="))
            .or_else(|| a.strip_prefix("-o").filter(|rest| !rest.is_empty()))
            .map(str::to_string)
            .or_else(|| (a == "-o" || a == "--output").then(|| args.get(i + 1).cloned().unwrap_or_default()))
    });
    let secrets = args.iter().any(|a| a.split([',', '/']).any(|r| matches!(r, "secret" | "secrets")));
    if secrets
        && output
            .as_deref()
            .is_some_and(|o| ["jsonpath", "go-template", "template", "custom-columns"].iter().any(|f| o.starts_with(f)))
    {
        return Some("Secret values are never shown: use -o json or -o yaml (values are redacted), or describe".into());
    }
    None
}

/// Calls that never end by themselves (`logs -f`, `get -w`): they run for a short time and return
/// what arrived.
pub(crate) fn endless(args: &[String]) -> bool {
    match verb(args) {
        Some("logs") => has_flag(args, &["-f", "--follow"]),
        Some("get") => has_flag(args, &["-w", "--watch", "--watch-only"]),
        Some("events") => has_flag(args, &["-w", "--watch"]),
        _ => false,
    }
}

/// How this session reaches the cluster.
#[derive(Clone, Debug)]
pub(crate) struct Session {
    pub kubectl: PathBuf,
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub namespace: Option<String>,
    /// The context's namespace, for what is shown and logged when no `-n` is given.
    pub default_namespace: Option<String>,
    pub timeout: Duration,
    /// kubectl's own `--request-timeout`.
    pub request_timeout: Option<Duration>,
    /// How long an endless command runs.
    pub endless_for: Duration,
}

/// What one call printed.
#[derive(Clone, Debug, Default)]
pub(crate) struct Output {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
    pub stopped: bool,
}

impl Session {
    /// The namespace a call works in: its own `-n`, the session's, the context's.
    pub(crate) fn namespace_for(&self, args: &[String]) -> Option<String> {
        if has_flag(args, &["-A", "--all-namespaces"]) {
            return Some("(all)".into());
        }
        let own = args.iter().enumerate().find_map(|(i, a)| {
            a.strip_prefix("--namespace=")
                .or_else(|| {
                    a.strip_prefix("-n=")
                        .or_else(|| a.strip_prefix("-n").filter(|r| !r.is_empty() && !r.starts_with('=')))
                })
                .map(str::to_string)
                .or_else(|| (a == "-n" || a == "--namespace").then(|| args.get(i + 1).cloned()).flatten())
        });
        own.or_else(|| self.namespace.clone()).or_else(|| self.default_namespace.clone())
    }

    /// The full argv: the model's arguments, then the session's context, kubeconfig and namespace.
    pub(crate) fn argv(&self, args: &[String]) -> Vec<String> {
        let mut argv = args.to_vec();
        if let Some(c) = &self.context {
            argv.push(format!("--context={c}"));
        }
        if let Some(k) = &self.kubeconfig {
            argv.push(format!("--kubeconfig={}", k.display()));
        }
        if let Some(t) = self.request_timeout.filter(|_| !has_flag(args, &["--request-timeout"])) {
            argv.push(format!("--request-timeout={}s", t.as_secs()));
        }
        let scoped = has_flag(args, &["-n", "--namespace", "-A", "--all-namespaces"]);
        if let (Some(ns), false) = (&self.namespace, scoped) {
            argv.push(format!("--namespace={ns}"));
        }
        argv
    }

    pub(crate) fn run(&self, args: &[String]) -> Output {
        let limit = if endless(args) { self.endless_for } else { self.timeout };
        run_command(&self.kubectl, &self.argv(args), limit)
    }
}

/// Runs a program directly (no shell), stopping it after `limit`; what it printed until then is kept.
pub(crate) fn run_command(program: &std::path::Path, argv: &[String], limit: Duration) -> Output {
    {
        let child =
            Command::new(program).args(argv).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                let name = program
                    .file_name()
                    .map_or_else(|| program.display().to_string(), |n| n.to_string_lossy().into_owned());
                return Output { stderr: format!("{name} could not be run: {e}"), code: 127, ..Output::default() };
            }
        };
        let mut out = child.stdout.take();
        let mut err = child.stderr.take();
        let reader = std::thread::spawn(move || {
            let mut s = Vec::new();
            if let Some(o) = out.as_mut() {
                let _ = o.take(64 * 1024 * 1024).read_to_end(&mut s);
            }
            s
        });
        let err_reader = std::thread::spawn(move || {
            let mut s = Vec::new();
            if let Some(e) = err.as_mut() {
                let _ = e.take(1024 * 1024).read_to_end(&mut s);
            }
            s
        });
        let deadline = Instant::now() + limit;
        let (code, stopped) = loop {
            match child.try_wait() {
                Ok(Some(status)) => break (status.code().unwrap_or(-1), false),
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break (0, true);
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => return Output { stderr: e.to_string(), code: -1, ..Output::default() },
            }
        };
        let stdout = String::from_utf8_lossy(&reader.join().unwrap_or_default()).into_owned();
        let stderr = String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).into_owned();
        Output { stdout, stderr, code, stopped }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        shell_words::split(line).unwrap()
    }

    #[test]
    fn classification() {
        for (line, class) in [
            ("get pods -A", Class::Read),
            ("-n shop get pods", Class::Read),
            ("logs web-0 --previous", Class::Read),
            ("auth can-i delete pods", Class::Read),
            ("rollout status deploy/web", Class::Read),
            ("rollout restart deploy/web", Class::Write),
            ("rollout undo deploy/web --dry-run=server", Class::Read),
            ("delete pod web-0", Class::Write),
            ("delete pod web-0 --dry-run=client", Class::Read),
            ("scale deploy web --replicas=3", Class::Write),
            ("apply -f x.yaml --dry-run=none", Class::Write),
            ("cordon node-1", Class::Write),
            ("set image deploy/web web=nginx:1.27", Class::Write),
            ("krew install foo", Class::Unknown),
            ("certificate approve csr-1", Class::Write),
        ] {
            assert_eq!(classify(&args(line)), class, "{line}");
        }
    }

    #[test]
    fn refusals() {
        for line in [
            "edit deploy web",
            "exec -it web-0 -- sh",
            "port-forward svc/web 8080:80",
            "proxy",
            "attach web-0",
            "get pods --context other",
            "get pods --kubeconfig=/tmp/k",
            "get secret db -o jsonpath={.data.password}",
            "get secrets -o=go-template={{.data}}",
            "config use-context prod",
        ] {
            assert!(refusal(&args(line)).is_some(), "{line}");
        }
        for line in ["get secret db -o yaml", "exec web-0 -- env", "logs -f web-0", "config view"] {
            assert!(refusal(&args(line)).is_none(), "{line}");
        }
        assert!(endless(&args("logs -f web-0")) && endless(&args("get pods -w")) && !endless(&args("get pods")));
    }

    #[test]
    fn the_session_context_is_appended() {
        let s = Session {
            kubectl: "kubectl".into(),
            kubeconfig: Some("/k".into()),
            context: Some("prod".into()),
            namespace: Some("shop".into()),
            default_namespace: None,
            timeout: Duration::from_secs(1),
            request_timeout: None,
            endless_for: Duration::from_secs(1),
        };
        assert_eq!(s.argv(&args("get pods")), ["get", "pods", "--context=prod", "--kubeconfig=/k", "--namespace=shop"]);
        assert_eq!(s.argv(&args("get pods -A")), ["get", "pods", "-A", "--context=prod", "--kubeconfig=/k"]);
        assert_eq!(s.namespace_for(&args("delete pod x -n web")).as_deref(), Some("web"));
        assert_eq!(s.namespace_for(&args("delete pod x --namespace=db")).as_deref(), Some("db"));
        assert_eq!(s.namespace_for(&args("delete pod x")).as_deref(), Some("shop"));
    }
}
