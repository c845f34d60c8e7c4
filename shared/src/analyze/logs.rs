//! What a container's log says: its last lines, where the reason for an exit usually is, and the
//! error-looking lines just before them — not only lines with error words (the decisive line often
//! has none: "quorum not reached after 30 attempts; exiting").

/// Lines of the tail kept per log.
pub(crate) const TAIL: usize = 8;
/// Error-looking lines kept from before the tail.
const EARLIER: usize = 2;
/// A line longer than this is clipped (a JSON blob, a stack trace on one line).
const MAX_LINE: usize = 240;

/// The evidence in a log, oldest first: up to [`EARLIER`] error-looking lines from before the
/// tail, `…` where lines were left out, then the last `tail` lines. Consecutive lines that differ
/// only in their digits (timestamps, counters, attempt numbers) are one line, the last of them,
/// with their count: `… retrying [x37]`.
pub(crate) fn evidence(text: &str, tail: usize) -> Vec<String> {
    let mut runs: Vec<(&str, usize)> = Vec::new();
    for line in text.lines().map(str::trim_end).filter(|l| !l.trim().is_empty()) {
        match runs.last_mut() {
            Some((last, count)) if same_shape(last, line) => {
                *last = line;
                *count += 1;
            }
            _ => runs.push((line, 1)),
        }
    }
    let start = runs.len().saturating_sub(tail);
    let earlier: Vec<usize> = (0..start).filter(|i| looks_like_error(runs[*i].0)).collect();
    let earlier = &earlier[earlier.len().saturating_sub(EARLIER)..];
    let mut out = Vec::new();
    let mut next = 0;
    for &i in earlier.iter().chain((start..runs.len()).collect::<Vec<_>>().iter()) {
        if i > next {
            out.push("…".to_string());
        }
        out.push(render(runs[i]));
        next = i + 1;
    }
    out
}

fn render((line, count): (&str, usize)) -> String {
    let line = match line.char_indices().nth(MAX_LINE) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_string(),
    };
    if count > 1 { format!("{line} [x{count}]") } else { line }
}

/// Equal once every run of digits is taken as one digit.
fn same_shape(a: &str, b: &str) -> bool {
    fn shape(s: &str) -> impl Iterator<Item = char> + '_ {
        let mut previous_digit = false;
        s.chars().filter_map(move |c| {
            let digit = c.is_ascii_digit();
            let keep = !(digit && previous_digit);
            previous_digit = digit;
            keep.then_some(if digit { '0' } else { c })
        })
    }
    shape(a).eq(shape(b))
}

/// Levels, panics, exceptions, tracebacks, refusals.
pub(crate) fn looks_like_error(line: &str) -> bool {
    const WORDS: &[&str] = &[
        "error",
        "fatal",
        "panic",
        "exception",
        "traceback",
        "critical",
        "failed",
        "refused",
        "denied",
        "timeout",
        "oomkilled",
    ];
    let lower = line.to_ascii_lowercase();
    WORDS.iter().any(|w| lower.contains(w))
}

#[cfg(test)]
mod tests {
    use super::evidence;

    #[test]
    fn the_tail_is_kept_with_the_errors_before_it() {
        let cases: &[(&str, usize, &[&str])] = &[
            // The decisive last line has no error word.
            (
                "starting\nconnecting to zk\nzookeeper quorum not reached; exiting\n",
                8,
                &["starting", "connecting to zk", "zookeeper quorum not reached; exiting"],
            ),
            // Retries differing only in numbers are one line with their count.
            (
                "start\nattempt 1 of 30: waiting\nattempt 2 of 30: waiting\nattempt 30 of 30: waiting\ngave up\n",
                8,
                &["start", "attempt 30 of 30: waiting [x3]", "gave up"],
            ),
            // Before a short tail: the last error lines, and a gap marker.
            (
                "ERROR one\nok 1\nERROR two\nok a\nok b\nlast\n",
                2,
                &["ERROR one", "…", "ERROR two", "…", "ok b", "last"],
            ),
            ("a\nb\nc\n", 2, &["…", "b", "c"]),
            ("ERROR x\nb\nc\n", 2, &["ERROR x", "b", "c"]),
            ("\n\n", 8, &[]),
        ];
        for (text, tail, want) in cases {
            assert_eq!(evidence(text, *tail), *want, "{text:?}");
        }
    }

    #[test]
    fn long_lines_are_clipped() {
        let line = "x".repeat(1000);
        let got = evidence(&line, 8);
        assert_eq!(got[0].chars().count(), super::MAX_LINE + 1);
        assert!(got[0].ends_with('…'));
        let accents = "é".repeat(300);
        assert!(evidence(&accents, 8)[0].ends_with('…'), "cut on a character boundary");
    }
}
