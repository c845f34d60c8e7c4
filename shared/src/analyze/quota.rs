//! ResourceQuotas at or over their limits, with the creations they refused.

use super::{Analyzer, Context, Info, Problem, combine};
use crate::findings::{Finding, Severity};
use crate::snapshot::Kind;

pub(super) struct QuotaAnalyzer;

impl Analyzer for QuotaAnalyzer {
    fn info(&self) -> &'static Info {
        &Info {
            name: "ResourceQuota",
            description: "namespaces at or over a ResourceQuota, with the resource that is denied",
            subject: Kind::ResourceQuota,
            evidence: &[Kind::Event],
            default_enabled: true,
        }
    }

    fn analyze(&self, cx: &Context<'_>, out: &mut Vec<Finding>) {
        for rq in &cx.snapshot.objects.resource_quotas {
            let Some(status) = &rq.status else { continue };
            let name = rq.metadata.name.as_deref().unwrap_or("");
            let ns = rq.metadata.namespace.as_deref().unwrap_or("default");
            let mut full: Vec<String> = Vec::new();
            let mut over = false;
            for (resource, hard) in status.hard.iter().flatten() {
                let used = status.used.as_ref().and_then(|u| u.get(resource));
                let (Some(h), Some(u)) = (parse_quantity(&hard.0), used.and_then(|u| parse_quantity(&u.0))) else {
                    continue;
                };
                // A zero quota is a deliberate ban, not a quota running out.
                if h == 0.0 {
                    continue;
                }
                if u >= h {
                    over |= u > h;
                    full.push(format!("{resource} {}/{}", used.map(|q| q.0.as_str()).unwrap_or("?"), hard.0));
                }
            }
            if full.is_empty() {
                continue;
            }
            // The API server's refusals name the quota: "exceeded quota: compute, requested: …".
            let denied: Vec<String> = cx
                .snapshot
                .objects
                .events
                .iter()
                .filter(|e| e.metadata.namespace.as_deref() == Some(ns) && e.type_.as_deref() == Some("Warning"))
                .filter_map(|e| e.message.clone())
                .filter(|m| m.contains(&format!("exceeded quota: {name}")))
                .fold(Vec::new(), |mut acc, m| {
                    if !acc.contains(&m) && acc.len() < 3 {
                        acc.push(m);
                    }
                    acc
                });
            let (severity, reason, verb) = if over {
                (Severity::High, "QuotaExceeded", "is over")
            } else {
                (Severity::Medium, "QuotaExhausted", "is at")
            };
            let problem = Problem::new(severity, reason, format!("namespace {ns} {verb} its quota: {}", full.join(", ")))
                .messages(denied)
                .hint(format!("New pods or objects that need more are refused: kubectl describe quota {name} -n {ns}; free some room or raise the quota."));
            out.extend(combine("ResourceQuota", "ResourceQuota", &rq.metadata, vec![problem]));
        }
    }
}

/// A Kubernetes quantity (`500m`, `2`, `1.5Gi`, `10k`, `1e3`) as a plain number.
pub(crate) fn parse_quantity(text: &str) -> Option<f64> {
    let text = text.trim();
    let end = text.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-')).unwrap_or(text.len());
    let (number, suffix) = text.split_at(end);
    let value: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        s if s.starts_with(['e', 'E']) => 10f64.powi(s[1..].parse().ok()?),
        _ => return None,
    };
    Some(value * factor)
}

#[cfg(test)]
mod tests {
    use super::parse_quantity;

    #[test]
    fn quantities() {
        let cases: &[(&str, Option<f64>)] = &[
            ("2", Some(2.0)),
            ("500m", Some(0.5)),
            ("1.5", Some(1.5)),
            ("1Ki", Some(1024.0)),
            ("2Gi", Some(2.0 * 1024f64.powi(3))),
            ("10k", Some(10_000.0)),
            ("1e3", Some(1000.0)),
            ("1E", Some(1e18)),
            ("abc", None),
            ("1Zi", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_quantity(text), *want, "{text}");
        }
    }
}
