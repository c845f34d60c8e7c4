//! A kubectl command line read the way kubectl reads it: cobra finds the command path, skipping
//! flags (and the values of flags that take one) on the way, then pflag parses every flag of that
//! command — long and short forms, `=` and attached values (`-nshop`), grouped booleans (`-it`),
//! optional values (`--dry-run`), repeated flags, `_` spelled as `-` (kubectl's normalizer), and
//! `--`, after which nothing is a flag. The flags come from kubectl's own help ([`super::table`]).
//!
//! The result is what runs: the guard judges it, and the command line given to kubectl is rebuilt
//! from it in one unambiguous form ([`Parsed::canonical`]), so what a person confirms is what
//! kubectl does.

use super::table::{COMMANDS, GLOBAL};

/// How a flag takes its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Takes {
    /// A boolean: `--watch`, `--watch=false`; never the next argument.
    Bool,
    /// One value, `--output json` or `--output=json`; the last one given counts.
    One,
    /// A value that may be repeated, every one counts (`--from-literal`, `-f`).
    List,
    /// A value that may be left out (pflag's `NoOptDefVal`): `--dry-run` alone, or `--dry-run=server`;
    /// `--dry-run server` makes `server` an argument.
    Optional,
}

/// One flag of kubectl's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Flag {
    pub long: &'static str,
    pub short: Option<char>,
    pub value: Takes,
}

/// A flag, for the generated table.
pub(crate) const fn f(long: &'static str, short: Option<char>, value: Takes) -> Flag {
    Flag { long, short, value }
}

/// A command path (`get`, `rollout status`), the other names of its last word (`top pods`), and its
/// own flags.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Command {
    pub path: &'static str,
    pub aliases: &'static [&'static str],
    pub flags: &'static [Flag],
}

/// One flag as given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Given {
    /// Its long name, normalized.
    pub name: &'static str,
    /// The value (a boolean's is `true` or `false`).
    pub value: String,
    /// One of kubectl's global flags, rather than the command's own.
    pub global: bool,
}

/// A command line as kubectl reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Parsed {
    /// The command path: `get`, `rollout status`, `create secret generic`.
    pub command: &'static str,
    /// The flags, in the order given.
    pub flags: Vec<Given>,
    /// The arguments before `--`.
    pub args: Vec<String>,
    /// Whether `--` was given, and what followed it (`exec POD -- ls`).
    pub dash: Option<Vec<String>>,
}

impl Parsed {
    /// The value a flag ends with (the last one given), if given.
    pub(crate) fn value(&self, name: &str) -> Option<&str> {
        self.flags.iter().rev().find(|f| f.name == name).map(|f| f.value.as_str())
    }

    /// Whether a boolean flag ends up true.
    pub(crate) fn on(&self, name: &str) -> bool {
        self.value(name).is_some_and(|v| parse_bool(v) == Some(true))
    }

    /// Whether a flag was given at all.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f.name == name)
    }

    /// The command line in one form kubectl cannot read otherwise: the command path, every flag as
    /// `--name=value`, the arguments, then `--` and what followed it.
    pub(crate) fn canonical(&self) -> Vec<String> {
        let mut out: Vec<String> = self.command.split(' ').map(str::to_string).collect();
        out.extend(self.flags.iter().map(|f| format!("--{}={}", f.name, f.value)));
        out.extend(self.args.iter().cloned());
        if let Some(rest) = &self.dash {
            out.push("--".into());
            out.extend(rest.iter().cloned());
        }
        out
    }
}

/// pflag's booleans.
pub(crate) fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// kubectl's flag name normalizer: `_` is `-` (`--dry_run` is `--dry-run`).
fn normalize(name: &str) -> String {
    name.replace('_', "-")
}

/// The command a word names under `parent` (`None`: at the top), by name or alias.
fn child(parent: Option<&Command>, word: &str) -> Option<&'static Command> {
    let prefix = parent.map_or(String::new(), |c| format!("{} ", c.path));
    COMMANDS.iter().find(|c| {
        c.path
            .strip_prefix(prefix.as_str())
            .is_some_and(|last| !last.contains(' ') && (last == word || c.aliases.contains(&word)))
    })
}

/// The flags a command knows: its own first (they shadow global ones of the same name), then the
/// global ones.
fn known(command: Option<&Command>) -> impl Iterator<Item = (&'static Flag, bool)> + '_ {
    command.into_iter().flat_map(|c| c.flags.iter().map(|f| (f, false))).chain(GLOBAL.iter().map(|f| (f, true)))
}

fn long(command: Option<&Command>, name: &str) -> Option<(&'static Flag, bool)> {
    let name = normalize(name);
    known(command).find(|(f, _)| f.long == name)
}

fn short(command: Option<&Command>, c: char) -> Option<(&'static Flag, bool)> {
    known(command).find(|(f, _)| f.short == Some(c))
}

/// Whether a flag never takes the next argument as its value (booleans and optional values).
fn stands_alone(flag: Option<(&Flag, bool)>) -> bool {
    flag.is_some_and(|(f, _)| matches!(f.value, Takes::Bool | Takes::Optional))
}

/// cobra's `stripFlags`: the words of `args` that are not flags nor the values of flags, up to `--`,
/// with their positions. An unknown `--flag` (or `-x`) without `=` is taken to take the next word,
/// as cobra does.
fn words<'a>(args: &'a [String], command: Option<&Command>) -> Vec<(usize, &'a str)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let s = &args[i];
        i += 1;
        if s == "--" {
            break;
        }
        if let Some(name) = s.strip_prefix("--") {
            if !s.contains('=') && !stands_alone(long(command, name)) {
                i += 1;
            }
        } else if s.starts_with('-') && s.len() > 1 {
            let c = s.chars().nth(1).unwrap_or('-');
            if !s.contains('=') && s.chars().count() == 2 && !stands_alone(short(command, c)) {
                i += 1;
            }
        } else if !s.is_empty() {
            out.push((i - 1, s.as_str()));
        }
    }
    out
}

/// cobra's `Find`: the command the words name, one level at a time (at each level, flags are
/// skipped as that command knows them), and the positions of the words that named it.
fn find(args: &[String]) -> (Option<&'static Command>, Vec<usize>) {
    let mut found: Option<&'static Command> = None;
    let mut used: Vec<usize> = Vec::new();
    loop {
        let next = words(args, found).into_iter().find(|(i, _)| !used.contains(i));
        let Some((at, word)) = next else { return (found, used) };
        match child(found, word) {
            Some(c) => {
                found = Some(c);
                used.push(at);
            }
            None => return (found, used),
        }
    }
}

/// Reads a command line (without `kubectl` itself) as kubectl would, or says why kubectl would
/// refuse it.
pub(crate) fn parse(args: &[String]) -> Result<Parsed, String> {
    let (found, used) = find(args);
    let Some(cmd) = found else {
        let first = words(args, None).into_iter().next();
        return Err(match first {
            Some((_, w)) => format!("{w:?} is not a kubectl command"),
            None => "no kubectl command given".into(),
        });
    };
    let mut flags = Vec::new();
    let mut positional = Vec::new();
    let mut dash = None;
    let mut rest = args.iter().enumerate().filter(|(i, _)| !used.contains(i)).map(|(_, a)| a);
    while let Some(s) = rest.next() {
        if s == "--" {
            dash = Some(rest.by_ref().cloned().collect());
            break;
        }
        if let Some(body) = s.strip_prefix("--") {
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            if name.is_empty() || name.starts_with('-') {
                return Err(format!("bad flag syntax: {s}"));
            }
            let (flag, global) = long(Some(cmd), name).ok_or_else(|| format!("unknown flag: --{name}"))?;
            let value = match (inline, flag.value) {
                (Some(v), _) => v,
                (None, Takes::Bool) => "true".into(),
                (None, Takes::Optional) => String::new(),
                (None, _) => rest.next().cloned().ok_or_else(|| format!("flag needs an argument: --{name}"))?,
            };
            flags.push(Given { name: flag.long, value, global });
        } else if s.starts_with('-') && s.len() > 1 {
            // -abc: booleans grouped; a flag that takes a value takes the rest, or the next word.
            let mut shorts: Vec<char> = s.chars().skip(1).collect();
            while !shorts.is_empty() {
                let c = shorts.remove(0);
                let (flag, global) =
                    short(Some(cmd), c).ok_or_else(|| format!("unknown shorthand flag: {c:?} in {s}"))?;
                let value = if shorts.len() > 1 && shorts[0] == '=' {
                    let v: String = shorts[1..].iter().collect();
                    shorts.clear();
                    v
                } else if matches!(flag.value, Takes::Bool | Takes::Optional) {
                    if flag.value == Takes::Bool { "true".into() } else { String::new() }
                } else if !shorts.is_empty() {
                    std::mem::take(&mut shorts).into_iter().collect()
                } else {
                    rest.next().cloned().ok_or_else(|| format!("flag needs an argument: -{c}"))?
                };
                flags.push(Given { name: flag.long, value, global });
            }
        } else {
            positional.push(s.clone());
        }
    }
    for f in &flags {
        let kind = known(Some(cmd)).find(|(k, _)| k.long == f.name).map(|(k, _)| k.value);
        if kind == Some(Takes::Bool) && parse_bool(&f.value).is_none() {
            return Err(format!("invalid argument {:?} for --{}: not a boolean", f.value, f.name));
        }
    }
    // An optional value left out is its default: written out, so that the canonical form is plain.
    for f in &mut flags {
        if f.value.is_empty() && known(Some(cmd)).any(|(k, _)| k.long == f.name && k.value == Takes::Optional) {
            f.value = optional_default(f.name).to_string();
        }
    }
    Ok(Parsed { command: cmd.path, flags, args: positional, dash })
}

/// What kubectl takes for an optional value left out.
fn optional_default(name: &str) -> &'static str {
    match name {
        "dry-run" => "unchanged",
        "validate" => "strict",
        "cascade" => "background",
        _ => "true",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: &str) -> Result<Parsed, String> {
        parse(&shell_words::split(line).unwrap())
    }

    fn canonical(line: &str) -> String {
        super::super::shell_line(&p(line).unwrap().canonical())
    }

    #[test]
    fn the_command_is_found_where_kubectl_finds_it() {
        for (line, command) in [
            ("get pods", "get"),
            ("-n shop get pods", "get"),
            ("--namespace shop get pods", "get"),
            ("--tls-server-name get delete ns prod", "delete"),
            ("--context=x get pods", "get"),
            ("rollout status deploy/web", "rollout status"),
            ("rollout -n shop restart deploy/web", "rollout restart"),
            ("create secret generic x --from-literal=a=b", "create secret generic"),
            ("create -n shop secret generic x", "create secret generic"),
            ("create deploy web --image=nginx", "create deployment"),
            ("top pods", "top pod"),
            ("auth can-i delete pods", "auth can-i"),
            ("config view --minify", "config view"),
            ("get -- delete", "get"),
            ("cluster-info dump", "cluster-info dump"),
        ] {
            assert_eq!(p(line).map(|x| x.command), Ok(command), "{line}");
        }
        assert!(p("krew install x").unwrap_err().contains("not a kubectl command"));
        assert!(p("ai exec x").is_err(), "plugins are never commands");
        assert!(p("").is_err());
    }

    #[test]
    fn flags_are_read_like_pflag() {
        let x = p("get pods -nshop -oyaml --sort-by=.metadata.name -A").unwrap();
        assert_eq!(x.value("namespace"), Some("shop"));
        assert_eq!(x.value("output"), Some("yaml"));
        assert!(x.on("all-namespaces"));
        assert_eq!(x.args, ["pods"]);
        // A repeated flag: the last one counts.
        assert_eq!(p("get pods -o name -o json").unwrap().value("output"), Some("json"));
        // `_` is `-`, as kubectl's normalizer has it.
        assert_eq!(p("delete pod x --dry_run=none").unwrap().value("dry-run"), Some("none"));
        // An optional value left out, and one that is not the next word.
        let x = p("delete pod x --dry-run server").unwrap();
        assert_eq!(
            (x.value("dry-run"), x.args.clone()),
            (Some("unchanged"), vec!["pod".to_string(), "x".into(), "server".into()])
        );
        // Grouped short booleans, then a value attached or separate.
        let x = p("exec -it web -c app -- sh").unwrap();
        assert!(x.on("stdin") && x.on("tty"));
        assert_eq!(x.value("container"), Some("app"));
        assert_eq!(x.dash.as_deref(), Some(&["sh".to_string()][..]));
        let x = p("get pods -s https://elsewhere").unwrap();
        assert_eq!((x.value("server"), x.flags[0].global), (Some("https://elsewhere"), true));
        assert_eq!(p("get pods -shttps://elsewhere").unwrap().value("server"), Some("https://elsewhere"));
        assert_eq!(p("get pods -n=shop").unwrap().value("namespace"), Some("shop"));
        // After `--` nothing is a flag.
        let x = p("get pods -- --context=other").unwrap();
        assert_eq!(x.value("context"), None);
        assert_eq!(x.dash.unwrap(), ["--context=other"]);
        // What kubectl refuses.
        assert!(p("get pods --nope").unwrap_err().contains("unknown flag"));
        assert!(p("get pods -q").unwrap_err().contains("unknown shorthand"));
        assert!(p("get pods -o").unwrap_err().contains("needs an argument"));
        assert!(p("get pods --watch=maybe").unwrap_err().contains("not a boolean"));
        // A command's own flag shadows a global one of the same name.
        let x = p("debug node/n --profile=sysadmin").unwrap();
        assert!(!x.flags[0].global);
    }

    #[test]
    fn the_canonical_form_means_one_thing() {
        assert_eq!(canonical("-n shop get pods -owide"), "get --namespace=shop --output=wide pods");
        assert_eq!(
            canonical("--tls-server-name get delete ns prod"),
            "delete --tls-server-name=get ns prod",
            "what runs is what is shown"
        );
        assert_eq!(canonical("exec web -it -- ls -la"), "exec --stdin=true --tty=true web -- ls -la");
        assert_eq!(canonical("delete pod x --dry-run"), "delete --dry-run=unchanged pod x");
        for line in ["get pods -A -o json", "rollout restart deploy/web -n shop", "logs web -c app --tail=20 -p"] {
            let once = p(line).unwrap();
            assert_eq!(parse(&once.canonical()).unwrap(), once, "{line}: the canonical form reads back the same");
        }
    }
}
