//! A kubectl command line as a model writes it — `kubectl get ns -o json | jq '.items | length'` —
//! split with shell quoting rules into the kubectl argv and in-process filters. Nothing runs
//! through a shell: `;`, `&&`, `||`, redirects, substitutions and other programs are refused with a
//! message that says what works.

use regex::{Regex, RegexBuilder};

/// What works, for refusal messages.
pub const SUPPORTED: &str = "run one kubectl command, optionally piped into: jq [-r] FILTER, grep [-i] [-v] [-c] PATTERN, wc -l, head -n N, tail -n N, sort [-r] [-n], uniq [-c]";

/// One in-process filter.
#[derive(Debug, Clone)]
pub enum Stage {
    /// `jq [-r] FILTER`.
    Jq {
        /// The filter.
        filter: String,
        /// Strings without quotes (`-r`).
        raw: bool,
    },
    /// `grep [-i] [-v] [-c] PATTERN`.
    Grep {
        /// What a line must match.
        pattern: Regex,
        /// Lines that do not match (`-v`).
        invert: bool,
        /// Only how many (`-c`).
        count: bool,
    },
    /// `wc -l`.
    Lines,
    /// `head -n N`.
    Head(usize),
    /// `tail -n N`.
    Tail(usize),
    /// `sort [-r] [-n]`.
    Sort {
        /// Descending (`-r`).
        reverse: bool,
        /// By the number the line starts with (`-n`).
        numeric: bool,
    },
    /// `uniq [-c]`.
    Uniq {
        /// With each line's count (`-c`).
        count: bool,
    },
}

/// A parsed command line.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// kubectl's arguments, without `kubectl` itself.
    pub args: Vec<String>,
    /// The filters its output goes through, in order.
    pub stages: Vec<Stage>,
}

/// Splits on unquoted `|`, refusing what a shell would do that we do not.
fn split_stages(line: &str) -> Result<Vec<String>, String> {
    let mut stages = Vec::new();
    let mut current = String::new();
    let (mut single, mut double, mut escaped) = (false, false, false);
    let chars: Vec<char> = line.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if escaped {
            escaped = false;
            current.push(c);
            continue;
        }
        match c {
            '\\' if !single => {
                escaped = true;
                current.push(c);
            }
            '\'' if !double => {
                single = !single;
                current.push(c);
            }
            '"' if !single => {
                double = !double;
                current.push(c);
            }
            '|' if !single && !double => {
                if chars.get(i + 1) == Some(&'|') || chars.get(i.wrapping_sub(1)) == Some(&'|') {
                    return Err(format!("`||` is not supported: {SUPPORTED}"));
                }
                stages.push(std::mem::take(&mut current));
            }
            ';' | '&' | '>' | '<' | '`' if !single && !double => {
                return Err(format!("{c:?} is a shell construct and nothing runs through a shell: {SUPPORTED}"));
            }
            '$' if !single && chars.get(i + 1) == Some(&'(') => {
                return Err(format!("command substitution is not supported: {SUPPORTED}"));
            }
            _ => current.push(c),
        }
    }
    if single || double {
        return Err("unbalanced quotes in the command".into());
    }
    stages.push(current);
    Ok(stages)
}

/// Splits a command line into kubectl's argv and in-process filters, or says why not.
pub fn parse(line: &str) -> Result<Pipeline, String> {
    let stages = split_stages(line.trim())?;
    let mut words = stages.iter().map(|s| shell_words::split(s).map_err(|e| format!("cannot split {s:?}: {e}")));
    let mut args = words.next().ok_or("empty command")??;
    if args.first().is_some_and(|a| a == "kubectl") {
        args.remove(0);
    }
    if args.is_empty() {
        return Err(format!("no kubectl command given: {SUPPORTED}"));
    }
    let mut parsed = Vec::new();
    for words in words {
        parsed.push(stage(&words?)?);
    }
    Ok(Pipeline { args, stages: parsed })
}

fn number(flag: &str, value: Option<&String>) -> Result<usize, String> {
    value.and_then(|v| v.parse().ok()).ok_or_else(|| format!("{flag} needs a number"))
}

fn stage(words: &[String]) -> Result<Stage, String> {
    let Some((program, rest)) = words.split_first() else {
        return Err(format!("an empty pipeline stage: {SUPPORTED}"));
    };
    match program.as_str() {
        "jq" => {
            let mut raw = false;
            let mut filter = None;
            for w in rest {
                match w.as_str() {
                    "-r" | "--raw-output" => raw = true,
                    "-c" | "--compact-output" | "-M" => {}
                    other
                        if other.starts_with('-')
                            && filter.is_none()
                            && other.len() > 1
                            && !other.starts_with("-.") =>
                    {
                        return Err(format!("jq option {other} is not supported (only -r and -c)"));
                    }
                    other if filter.is_none() => filter = Some(other.to_string()),
                    _ => return Err("jq takes one filter (the input is the previous output)".into()),
                }
            }
            Ok(Stage::Jq { filter: filter.unwrap_or_else(|| ".".into()), raw })
        }
        "grep" | "egrep" => {
            let (mut invert, mut count, mut ignore, mut pattern) = (false, false, false, None);
            for w in rest {
                match w.as_str() {
                    "-v" => invert = true,
                    "-c" => count = true,
                    "-i" => ignore = true,
                    "-E" => {}
                    "-vi" | "-iv" => (invert, ignore) = (true, true),
                    "-ic" | "-ci" => (count, ignore) = (true, true),
                    other if pattern.is_none() => pattern = Some(other.to_string()),
                    _ => return Err("grep takes one pattern (the input is the previous output)".into()),
                }
            }
            let pattern = pattern.ok_or("grep needs a pattern")?;
            let re = RegexBuilder::new(&pattern)
                .case_insensitive(ignore)
                .build()
                .map_err(|e| format!("grep: invalid pattern {pattern:?}: {e}"))?;
            Ok(Stage::Grep { pattern: re, invert, count })
        }
        "wc" if rest == ["-l"] => Ok(Stage::Lines),
        "head" | "tail" => {
            let n = match rest {
                [] => 10,
                [flag, n] if flag == "-n" => number("-n", Some(n))?,
                [flag] if flag.starts_with('-') => number(flag, Some(&flag[1..].to_string()))?,
                _ => return Err(format!("{program} takes -n N")),
            };
            Ok(if program == "head" { Stage::Head(n) } else { Stage::Tail(n) })
        }
        "sort" => {
            let (mut reverse, mut numeric) = (false, false);
            for w in rest {
                match w.as_str() {
                    "-r" => reverse = true,
                    "-n" => numeric = true,
                    "-rn" | "-nr" => (reverse, numeric) = (true, true),
                    other => return Err(format!("sort option {other} is not supported")),
                }
            }
            Ok(Stage::Sort { reverse, numeric })
        }
        "uniq" => match rest {
            [] => Ok(Stage::Uniq { count: false }),
            [c] if c == "-c" => Ok(Stage::Uniq { count: true }),
            _ => Err("uniq takes only -c".into()),
        },
        other => Err(format!("{other} does not run here: {SUPPORTED}")),
    }
}

/// Applies one stage to the previous output (jq in this process, its output capped).
pub fn apply(stage: &Stage, input: &str) -> Result<String, String> {
    apply_in(stage, input, &super::jq::Sandbox { worker: None, timeout: std::time::Duration::from_secs(10) })
}

/// Applies one stage, jq in `sandbox`.
pub(crate) fn apply_in(stage: &Stage, input: &str, sandbox: &super::jq::Sandbox) -> Result<String, String> {
    let lines = || input.lines();
    let joined = |v: Vec<String>| if v.is_empty() { String::new() } else { v.join("\n") + "\n" };
    Ok(match stage {
        Stage::Jq { filter, raw } => sandbox.run(filter, input, *raw)?,
        Stage::Grep { pattern, invert, count } => {
            let hits: Vec<String> = lines().filter(|l| pattern.is_match(l) != *invert).map(str::to_string).collect();
            if *count { format!("{}\n", hits.len()) } else { joined(hits) }
        }
        Stage::Lines => format!("{}\n", lines().count()),
        Stage::Head(n) => joined(lines().take(*n).map(str::to_string).collect()),
        Stage::Tail(n) => {
            let all: Vec<&str> = lines().collect();
            joined(all[all.len().saturating_sub(*n)..].iter().map(|s| s.to_string()).collect())
        }
        Stage::Sort { reverse, numeric } => {
            let mut all: Vec<String> = lines().map(str::to_string).collect();
            if *numeric {
                let key =
                    |s: &String| s.split_whitespace().next().and_then(|w| w.parse::<f64>().ok()).unwrap_or(f64::MIN);
                all.sort_by(|a, b| key(a).total_cmp(&key(b)));
            } else {
                all.sort();
            }
            if *reverse {
                all.reverse();
            }
            joined(all)
        }
        Stage::Uniq { count } => {
            let mut out: Vec<(usize, String)> = Vec::new();
            for l in lines() {
                match out.last_mut() {
                    Some((n, last)) if last == l => *n += 1,
                    _ => out.push((1, l.to_string())),
                }
            }
            joined(out.into_iter().map(|(n, l)| if *count { format!("{n:>7} {l}") } else { l }).collect())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(line: &str, input: &str) -> Result<String, String> {
        let p = parse(line)?;
        p.stages.iter().try_fold(input.to_string(), |acc, s| apply(s, &acc))
    }

    #[test]
    fn command_lines() {
        let p = parse("kubectl get ns -o json | jq '.items | length'").unwrap();
        assert_eq!(p.args, ["get", "ns", "-o", "json"]);
        assert!(matches!(&p.stages[..], [Stage::Jq { filter, raw: false }] if filter == ".items | length"));
        assert_eq!(
            parse("get pods -o jsonpath='{.items[*].metadata.name}'").unwrap().args[3],
            "jsonpath={.items[*].metadata.name}"
        );
        let lines = "b 2\na 1\nb 2\nc 3\n";
        for (line, expected) in [
            ("get x | wc -l", "4\n"),
            ("get x | grep b", "b 2\nb 2\n"),
            ("get x | grep -v b | grep -c .", "2\n"),
            ("get x | grep -i B | head -n 1", "b 2\n"),
            ("get x | sort | uniq -c", "      1 a 1\n      2 b 2\n      1 c 3\n"),
            ("get x | tail -2", "b 2\nc 3\n"),
            ("get x | sort -k2 -n", ""),
        ] {
            match run(line, lines) {
                Ok(out) => assert_eq!(out, expected, "{line}"),
                Err(e) => assert!(expected.is_empty(), "{line}: {e}"),
            }
        }
    }

    #[test]
    fn shell_constructs_are_refused() {
        for line in [
            "get pods; rm -rf /",
            "get pods && delete pod x",
            "get pods || true",
            "get pods > /tmp/x",
            "get pods $(whoami)",
            "get pods `id`",
            "get pods | xargs kubectl delete pod",
            "get pods | sh",
            "get pods 'unbalanced",
            "| jq .",
        ] {
            assert!(parse(line).is_err(), "{line}");
        }
        // Inside quotes they are text.
        assert!(parse("get pods -o json | jq '.items[] | select(.x > 1 and .y < 2) | .a; .b'").is_ok());
    }
}

/// Property tests (docs/reliability.md): the same parsers have cargo-fuzz targets in `fuzz/`.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use crate::exec::pipeline;
    use crate::testing::config;

    proptest! {
        #![proptest_config(config())]

        /// kubectl arguments survive any quoting; filters after `|` become stages.
        #[test]
        fn pipelines_split_like_a_shell(
            args in prop::collection::vec("[a-zA-Z0-9 ./={}'\"|;&>-]{1,12}", 1..6),
            filters in 0usize..3,
        ) {
            let mut line = shell_words::join(&args);
            for _ in 0..filters {
                line.push_str(" | jq '.items | length'");
            }
            let parsed = pipeline::parse(&line).unwrap();
            prop_assert_eq!(parsed.args, args);
            prop_assert_eq!(parsed.stages.len(), filters);
        }

        /// Any text: a pipeline or a refusal, never a panic; unquoted shell constructs are refused.
        #[test]
        fn pipelines_refuse_what_a_shell_would_do(text in "\\PC{0,80}", construct in prop::sample::select(vec![";", "&&", "||", ">", "<", "`", "$("])) {
            let _ = pipeline::parse(&text);
            let line = format!("get pods {construct} rm -rf /");
            prop_assert!(pipeline::parse(&line).is_err(), "{}", line);
        }
    }
}
