//! jq filters (jaq with jq's standard definitions), in a sandbox: never a jq binary, never a shell.
//!
//! - Only allowlisted builtins exist ([`ALLOWED`]): pure functions of the input. What would reach
//!   the host — `env` and `$ENV`, `input`/`inputs`, `halt`, `halt_error`, `debug`, `stderr`,
//!   `input_filename`, `$__loc__` — is not defined, so a filter naming it does not compile.
//! - A filter runs in a worker process ([`Sandbox`]: the plugin's own binary, with an empty
//!   environment) bounded in wall-clock time, address space and CPU time, so an endless filter
//!   (`repeat(1)`, `last(range(1e12))`), a recursion without end (`def f: f; f`) or a deep nesting
//!   that overflows the stack ends the worker, never the session, and is one tool error.
//! - Its output is capped in bytes ([`MAX_OUTPUT`]).

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars, data, unwrap_valr};
use jaq_json::Val;

/// The most output one filter may print.
pub(crate) const MAX_OUTPUT: usize = 16 * 1024 * 1024;
/// The environment variable that makes a plugin binary serve one jq evaluation and exit.
const WORKER: &str = "OPSAGENT_JQ_WORKER";
/// The worker's address space: enough for any kubectl output capped at 64 MiB, parsed.
const WORKER_MEMORY: u64 = 2 * 1024 * 1024 * 1024;

/// The builtins a filter may call: pure functions of their input. Every builtin jaq defines is
/// either here or denied by name (a test checks it), so a new one is reviewed before it exists.
pub(crate) const ALLOWED: &[&str] = &[
    "abs",
    "add",
    "all",
    "any",
    "arrays",
    "ascii",
    "ascii_downcase",
    "ascii_upcase",
    "booleans",
    "bsearch",
    "capture",
    "capture_of_match",
    "ceil",
    "combinations",
    "contains",
    "decode_base64",
    "decode_uri",
    "del",
    "delpaths",
    "drem",
    "empty",
    "encode_base64",
    "encode_uri",
    "endswith",
    "error",
    "error_empty",
    "escape_html",
    "escape_sh",
    "explode",
    "false",
    "finites",
    "first",
    "flatten",
    "floor",
    "from_entries",
    "fromdate",
    "fromdateiso8601",
    "fromjson",
    "gamma",
    "getpath",
    "gmtime",
    "group_by",
    "gsub",
    "handle",
    "has",
    "implode",
    "in",
    "index",
    "indices",
    "infinite",
    "inside",
    "isarray",
    "isboolean",
    "isempty",
    "isfinite",
    "isinfinite",
    "isnan",
    "isnormal",
    "isnumber",
    "isobject",
    "isstring",
    "isvalid",
    "iterables",
    "join",
    "key_values",
    "keys",
    "keys_unsorted",
    "last",
    "length",
    "limit",
    "localtime",
    "logb",
    "ltrim",
    "ltrimstr",
    "map",
    "map_values",
    "match",
    "matches",
    "max",
    "max_by",
    "max_by_or_empty",
    "min",
    "min_by",
    "min_by_or_empty",
    "mktime",
    "nan",
    "nexttoward",
    "normals",
    "not",
    "now",
    "nth",
    "null",
    "nulls",
    "numbers",
    "objects",
    "path",
    "path_value",
    "paths",
    "pick",
    "pow10",
    "range",
    "recurse",
    "repeat",
    "reverse",
    "rindex",
    "round",
    "rtrim",
    "rtrimstr",
    "scalars",
    "scalb",
    "scan",
    "scan_",
    "select",
    "setpath",
    "significand",
    "skip",
    "sort",
    "sort_by",
    "split",
    "split_",
    "split_matches",
    "splits",
    "startswith",
    "strftime",
    "strflocaltime",
    "string",
    "strings",
    "strptime",
    "sub",
    "test",
    "to_entries",
    "toarray",
    "tobytes",
    "toboolean",
    "todate",
    "todateiso8601",
    "tojson",
    "tonumber",
    "tostring",
    "totype",
    "transpose",
    "trim",
    "true",
    "type",
    "unescape_html",
    "unique",
    "unique_by",
    "until",
    "utf8bytelength",
    "values",
    "walk",
    "while",
    "with_entries",
    "erf",
    "erfc",
    "@sh",
    "@text",
    "@html",
    "@htmld",
    "@uri",
    "@urid",
    "@base64",
    "@base64d",
    "@json",
];

fn allowed(name: &str) -> bool {
    ALLOWED.contains(&name) || is_math(name)
}

/// jaq's libm functions (`sin`, `log10`, `fma`…): pure arithmetic.
fn is_math(name: &str) -> bool {
    const MATH: &[&str] = &[
        "acos",
        "acosh",
        "asin",
        "asinh",
        "atan",
        "atanh",
        "cbrt",
        "cos",
        "cosh",
        "exp",
        "exp10",
        "exp2",
        "expm1",
        "fabs",
        "lgamma",
        "lgamma_r",
        "log",
        "log10",
        "log1p",
        "log2",
        "nearbyint",
        "rint",
        "sin",
        "sinh",
        "sqrt",
        "tan",
        "tanh",
        "tgamma",
        "trunc",
        "atan2",
        "copysign",
        "fdim",
        "fmax",
        "fmin",
        "fmod",
        "frexp",
        "hypot",
        "ldexp",
        "modf",
        "nextafter",
        "pow",
        "remainder",
        "scalbln",
        "fma",
        "ilogb",
        "j0",
        "j1",
        "jn",
        "y0",
        "y1",
        "yn",
        "ceil",
        "floor",
        "round",
        "significand",
        "exp10",
    ];
    MATH.contains(&name)
}

/// Evaluates `filter` over every JSON value of `input`, in this process: each output on its own
/// line, compact, strings raw under `raw` (`jq -r`). Only [`ALLOWED`] builtins exist; the output
/// stops at [`MAX_OUTPUT`]. Unbounded filters are bounded by running this in a [`Sandbox`].
pub(crate) fn evaluate(filter: &str, input: &str, raw: bool) -> Result<String, String> {
    let defs = jaq_core::defs().chain(jaq_std::defs()).chain(jaq_json::defs()).filter(|d| allowed(d.name));
    let funs = jaq_core::funs().chain(jaq_std::funs()).chain(jaq_json::funs()).filter(|(name, ..)| allowed(name));
    let loader = Loader::new(defs);
    let arena = Arena::default();
    let modules = loader
        .load(&arena, File { code: filter, path: () })
        .map_err(|errors| format!("jq: cannot parse the filter {filter:?} ({} error(s))", errors.len()))?;
    let compiled = Compiler::default().with_funs(funs).compile(modules).map_err(|errors| {
        format!(
            "jq: cannot compile the filter {filter:?}: {} undefined name(s) or error(s) (env, input, halt, debug and $ENV do not exist here)",
            errors.len()
        )
    })?;
    let mut out = String::new();
    let mut inputs = 0;
    for value in jaq_json::read::parse_many(input.as_bytes()) {
        let value = value.map_err(|e| format!("jq: the input is not JSON: {e}"))?;
        inputs += 1;
        let ctx = Ctx::<data::JustLut<Val>>::new(&compiled.lut, Vars::new([]));
        for result in compiled.id.run((ctx, value)).map(unwrap_valr) {
            let v = result.map_err(|e| format!("jq: {e}"))?;
            match &v {
                Val::TStr(s) | Val::BStr(s) if raw => out.push_str(&String::from_utf8_lossy(s)),
                _ => out.push_str(&v.to_string()),
            }
            out.push('\n');
            if out.len() > MAX_OUTPUT {
                return Err(format!(
                    "jq: the output passed {} MiB: narrow the filter (select, limit, first)",
                    MAX_OUTPUT >> 20
                ));
            }
        }
    }
    if inputs == 0 {
        return Err("jq: no JSON input (ask kubectl for -o json)".into());
    }
    Ok(out)
}

/// Where filters run: a worker process (the plugin's own binary, which serves one evaluation and
/// exits: [`serve_worker`]), or — without one, for library callers that have none — this process,
/// bounded in output only.
#[derive(Clone, Debug)]
pub(crate) struct Sandbox {
    pub worker: Option<PathBuf>,
    /// The longest one filter may run.
    pub timeout: Duration,
}

impl Sandbox {
    pub(crate) fn run(&self, filter: &str, input: &str, raw: bool) -> Result<String, String> {
        let Some(worker) = &self.worker else { return evaluate(filter, input, raw) };
        let mut child = Command::new(worker)
            .env_clear()
            .env(WORKER, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("jq: the sandbox could not start: {e}"))?;
        let request = serde_json::json!({"filter": filter, "raw": raw}).to_string();
        let mut stdin = child.stdin.take();
        let payload = input.to_string();
        let writer = std::thread::spawn(move || {
            if let Some(stdin) = stdin.as_mut() {
                let _ = stdin.write_all(request.as_bytes()).and_then(|()| stdin.write_all(b"\n"));
                let _ = stdin.write_all(payload.as_bytes());
            }
        });
        let mut stdout = child.stdout.take();
        let mut stderr = child.stderr.take();
        let out_reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(o) = stdout.as_mut() {
                let _ = o.take(MAX_OUTPUT as u64 + 1024).read_to_end(&mut buf);
            }
            buf
        });
        let err_reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(e) = stderr.as_mut() {
                let _ = e.take(64 * 1024).read_to_end(&mut buf);
            }
            buf
        });
        let deadline = Instant::now() + self.timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => return Err(format!("jq: the sandbox failed: {e}")),
            }
        };
        let _ = writer.join();
        let out = out_reader.join().unwrap_or_default();
        let err = String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).trim().to_string();
        match status {
            None => Err(format!(
                "jq: the filter ran longer than {}s and was stopped: narrow it (limit, first)",
                self.timeout.as_secs_f32()
            )),
            Some(s) if s.success() => Ok(String::from_utf8_lossy(&out).into_owned()),
            Some(s) if s.code() == Some(1) && err.starts_with("jq:") => Err(err),
            Some(_) => Err(
                "jq: the filter ended the sandbox (too deep a recursion or nesting, or too much memory): simplify it"
                    .into(),
            ),
        }
    }
}

/// Serves one jq evaluation when this process was started as a [`Sandbox`] worker: reads the
/// request and the input on stdin, limits its own address space and CPU time, writes the output,
/// and returns the exit code. `None` when this process is not a worker. Call it first in `main`.
pub fn serve_worker() -> Option<std::process::ExitCode> {
    std::env::var_os(WORKER)?;
    use rustix::process::{Resource, Rlimit, setrlimit};
    let _ = setrlimit(Resource::As, Rlimit { current: Some(WORKER_MEMORY), maximum: Some(WORKER_MEMORY) });
    let _ = setrlimit(Resource::Cpu, Rlimit { current: Some(60), maximum: Some(60) });
    let mut all = Vec::new();
    if std::io::stdin().lock().read_to_end(&mut all).is_err() {
        return Some(std::process::ExitCode::from(2));
    }
    let split = all.iter().position(|b| *b == b'\n').unwrap_or(all.len());
    let (head, body) = all.split_at(split);
    let request: serde_json::Value = serde_json::from_slice(head).unwrap_or_default();
    let filter = request["filter"].as_str().unwrap_or(".");
    let raw = request["raw"].as_bool().unwrap_or(false);
    let input = String::from_utf8_lossy(body.get(1..).unwrap_or_default());
    match evaluate(filter, &input, raw) {
        Ok(out) => {
            let _ = std::io::stdout().lock().write_all(out.as_bytes());
            Some(std::process::ExitCode::SUCCESS)
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "{e}");
            Some(std::process::ExitCode::from(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::evaluate;

    #[test]
    fn filters() {
        let ns = r#"{"items": [{"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}]}"#;
        for (filter, raw, expected) in [
            (".items | length", false, "2\n"),
            (".items[].metadata.name", false, "\"a\"\n\"b\"\n"),
            (".items[].metadata.name", true, "a\nb\n"),
            ("[.items[] | select(.metadata.name == \"b\")] | length", false, "1\n"),
            (".items | map(.metadata.name) | join(\",\")", true, "a,b\n"),
            (".items[0] | to_entries | length", false, "1\n"),
            ("[.items[].metadata.name | ascii_upcase | test(\"A\")]", false, "[true,false]\n"),
            ("first(.items[]) | .metadata.name | @base64", true, "YQ==\n"),
        ] {
            assert_eq!(evaluate(filter, ns, raw).unwrap(), expected, "{filter}");
        }
        assert!(evaluate(".items |", ns, false).unwrap_err().starts_with("jq: cannot parse"));
        assert!(evaluate("nosuchfn", ns, false).unwrap_err().starts_with("jq: cannot compile"));
        assert!(evaluate(".", "not json", false).unwrap_err().starts_with("jq: the input is not JSON"));
    }

    #[test]
    fn nothing_reaches_the_host() {
        for filter in [
            "env",
            "$ENV",
            "env.HOME",
            "input",
            "[inputs]",
            "halt",
            "halt_error",
            "halt_error(1)",
            "debug",
            "stderr",
            "input_filename",
            "$__loc__",
            "builtins",
        ] {
            let err = evaluate(filter, "{}", false).unwrap_err();
            assert!(err.starts_with("jq: cannot"), "{filter}: {err}");
        }
    }

    /// Builtins that reach the host (its environment, its input files, the process, the terminal).
    const DENIED: &[&str] =
        &["env", "input", "inputs", "halt", "halt_error", "debug", "debug_empty", "stderr", "stderr_empty"];

    /// Every builtin jaq defines is allowed or denied by name: a new one is reviewed first.
    #[test]
    fn every_builtin_is_reviewed() {
        let natives = jaq_core::funs::<jaq_core::data::JustLut<jaq_json::Val>>()
            .chain(jaq_std::funs())
            .chain(jaq_json::funs())
            .map(|(name, ..)| name.to_string());
        let defs = jaq_core::defs().chain(jaq_std::defs()).chain(jaq_json::defs()).map(|d| d.name.to_string());
        let unreviewed: Vec<String> =
            natives.chain(defs).filter(|n| !super::allowed(n) && !DENIED.contains(&n.as_str())).collect();
        assert!(unreviewed.is_empty(), "jq builtins neither allowed nor denied: {unreviewed:?}");
    }

    #[test]
    fn endless_output_is_cut() {
        let err = evaluate("repeat(\"xxxxxxxxxxxxxxxx\")", "null", false).unwrap_err();
        assert!(err.contains("passed 16 MiB"), "{err}");
    }
}
