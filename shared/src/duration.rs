//! kubectl-style durations: `30s`, `2m`, `1h`, `1m30s`, `500ms`, or a bare number of seconds.

use std::time::Duration;

/// Parses kubectl-style durations: `30s`, `2m`, `1h`, `1m30s`, `500ms`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return Err("empty duration".into());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("invalid duration {text:?}: expected a number, like 30s or 2m"));
        }
        let value: u64 = rest[..digits].parse().map_err(|_| format!("invalid duration {text:?}"))?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        total += match unit {
            "ms" => Duration::from_millis(value),
            "s" => Duration::from_secs(value),
            "m" => Duration::from_secs(value * 60),
            "h" => Duration::from_secs(value * 3600),
            _ => {
                return Err(format!("invalid duration {text:?}: unknown unit {unit:?} (use ms, s, m or h)"));
            }
        };
    }
    Ok(total)
}

/// A duration as the flags write it: `90s` is `1m30s`, `1500ms` stays in milliseconds.
pub(crate) fn display(d: Duration) -> String {
    if d.subsec_millis() != 0 {
        return format!("{}ms", d.as_millis());
    }
    let mut left = d.as_secs();
    let mut out = String::new();
    for (unit, size) in [("h", 3600), ("m", 60), ("s", 1)] {
        if left >= size {
            out.push_str(&format!("{}{unit}", left / size));
            left %= size;
        }
    }
    if out.is_empty() { "0s".into() } else { out }
}

/// The wait before retry `attempt` (0 first): `base` doubled each time, ±25 % jitter so that
/// clients retrying together spread out, at most `max`. One backoff for the API server's retries
/// and the model's.
pub(crate) fn backoff(base: Duration, attempt: u32, max: Duration) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.min(16));
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let jitter = f64::from(nanos % 1000) / 1000.0 * 0.5 - 0.25;
    exp.min(max).mul_f64(1.0 + jitter).min(max)
}

/// `Retry-After`: seconds, or an HTTP date.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    if let Ok(secs) = value.trim().parse::<f64>() {
        return (secs >= 0.0 && secs.is_finite()).then(|| Duration::from_secs_f64(secs.min(1e9)));
    }
    let when = jiff::fmt::rfc2822::parse(value.trim()).ok()?.timestamp();
    let wait = jiff::Timestamp::now().duration_until(when);
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_display_as_they_are_written() {
        for text in ["0s", "500ms", "1500ms", "30s", "1m30s", "5m", "2h", "1h0m1s"] {
            let shown = display(parse_duration(text).unwrap());
            assert_eq!(parse_duration(&shown).unwrap(), parse_duration(text).unwrap(), "{text} -> {shown}");
        }
        assert_eq!(display(Duration::from_secs(3601)), "1h1s");
        assert_eq!(display(Duration::from_secs(90)), "1m30s");
    }

    #[test]
    fn durations() {
        let cases: &[(&str, u64)] =
            &[("30", 30_000), ("30s", 30_000), ("2m", 120_000), ("1m30s", 90_000), ("500ms", 500), ("1h", 3_600_000)];
        for (text, ms) in cases {
            assert_eq!(parse_duration(text).map(|d| d.as_millis() as u64), Ok(*ms), "{text}");
        }
        for bad in ["", "s", "10x", "1.5s", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn backoff_doubles_within_its_jitter_and_cap() {
        let base = Duration::from_millis(100);
        for attempt in 0..6 {
            let want = (100u64 << attempt).min(1000) as f64;
            let got = backoff(base, attempt, Duration::from_secs(1)).as_millis() as f64;
            assert!(got >= want * 0.75 - 1.0 && got <= (want * 1.25).min(1000.0) + 1.0, "{attempt}: {got}");
        }
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO), "a date past");
        assert_eq!(parse_retry_after("soon"), None);
    }
}
