//! Tool results within a token cap. Over the cap, JSON is summarized by its structure (item count,
//! kinds, the fields present, the first items) and text keeps its head and tail; both end with a
//! note that tells the model how to narrow the query.

use serde_json::Value;

use crate::llm::tokens::Counter;

pub(crate) const NARROW: &str =
    "Narrow the query: -n NAMESPACE, -l/--selector, --field-selector, or -o json | jq to pick fields.";

/// More bytes per token than any real text averages: a text longer than the cap times this is
/// over the cap without counting.
const MAX_BYTES_PER_TOKEN: usize = 32;

/// The default cap: 15 % of the window, at most 8,000 tokens.
pub(crate) fn default_cap(window: usize) -> usize {
    (window * 15 / 100).min(8_000)
}

pub(crate) fn fit(counter: &Counter, text: &str, cap: usize) -> String {
    // A text has at most as many tokens as bytes; one many times longer than the cap is over it
    // without counting (counting megabytes takes seconds).
    let size = if text.len() <= cap {
        return text.to_string();
    } else if text.len() > cap.saturating_mul(MAX_BYTES_PER_TOKEN) {
        format!("{} bytes", text.len())
    } else {
        match counter.count(text) {
            tokens if tokens <= cap => return text.to_string(),
            tokens => format!("{tokens} tokens"),
        }
    };
    let head = format!("[{size} is over the {cap}-token limit for one result.] {NARROW}\n");
    let room = cap.saturating_sub(counter.count(&head) + 16);
    let body = match serde_json::from_str::<Value>(text.trim()) {
        Ok(v) => summarize(&v, counter, room),
        Err(_) => head_and_tail(counter, text, room),
    };
    format!("{head}{body}")
}

/// A JSON value by its structure.
fn summarize(v: &Value, counter: &Counter, room: usize) -> String {
    let mut out = String::new();
    if let Some(items) = v["items"].as_array().or_else(|| v.as_array()) {
        let mut kinds = std::collections::BTreeMap::<String, usize>::new();
        for i in items {
            *kinds.entry(i["kind"].as_str().unwrap_or("?").to_string()).or_default() += 1;
        }
        out.push_str(&format!("A list of {} items", items.len()));
        if !(kinds.len() == 1 && kinds.contains_key("?")) {
            let k: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
            out.push_str(&format!(" ({})", k.join(", ")));
        }
        if let Some(first) = items.first().and_then(Value::as_object) {
            let fields: Vec<&str> = first.keys().map(String::as_str).collect();
            out.push_str(&format!(". Fields of an item: {}.", fields.join(", ")));
            if let Some(spec) = first.get("spec").and_then(Value::as_object) {
                let f: Vec<&str> = spec.keys().map(String::as_str).collect();
                out.push_str(&format!(" spec: {}.", f.join(", ")));
            }
        }
        out.push_str("\nFirst items (namespace/name):\n");
        for i in items {
            let line = match (i["metadata"]["namespace"].as_str(), i["metadata"]["name"].as_str()) {
                (Some(ns), Some(n)) => format!("{ns}/{n}\n"),
                (None, Some(n)) => format!("{n}\n"),
                _ => format!("{}\n", counter_safe(i)),
            };
            if counter.count(&out) + counter.count(&line) > room {
                out.push_str("…\n");
                break;
            }
            out.push_str(&line);
        }
    } else if let Some(map) = v.as_object() {
        out.push_str("An object with fields: ");
        let fields: Vec<String> = map
            .iter()
            .map(|(k, v)| match v {
                Value::Array(a) => format!("{k} ({} items)", a.len()),
                Value::Object(o) => format!("{k} ({} fields)", o.len()),
                _ => k.clone(),
            })
            .collect();
        out.push_str(&fields.join(", "));
        out.push('\n');
    }
    counter_cut(counter, &out, room)
}

fn counter_safe(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 120 { format!("{}…", &s[..s.char_indices().nth(120).map_or(s.len(), |(i, _)| i)]) } else { s }
}

fn counter_cut(counter: &Counter, text: &str, room: usize) -> String {
    counter.truncate(text, room)
}

/// The first and last lines of a text, with the count of what was cut.
fn head_and_tail(counter: &Counter, text: &str, room: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let half = room / 2;
    let mut head = Vec::new();
    let mut used = 0;
    for l in &lines {
        // A line longer than the room in bytes is kept whole only if it fits in tokens.
        if l.len() > half.saturating_mul(MAX_BYTES_PER_TOKEN) {
            break;
        }
        let t = counter.count(l) + 1;
        if used + t > half {
            break;
        }
        used += t;
        head.push(*l);
    }
    let mut tail = Vec::new();
    used = 0;
    for l in lines[head.len()..].iter().rev() {
        if l.len() > half.saturating_mul(MAX_BYTES_PER_TOKEN) {
            break;
        }
        let t = counter.count(l) + 1;
        if used + t > half {
            break;
        }
        used += t;
        tail.push(*l);
    }
    tail.reverse();
    let cut = lines.len() - head.len() - tail.len();
    format!("{}\n[… {cut} lines cut …]\n{}\n", head.join("\n"), tail.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_results_are_summarized_within_the_cap() {
        let counter = Counter::for_model("gpt-4o");
        let items: Vec<Value> = (0..2000)
            .map(|i| serde_json::json!({"kind": "Pod", "metadata": {"name": format!("web-{i}"), "namespace": "shop"}, "spec": {"nodeName": "n1"}}))
            .collect();
        let text = serde_json::json!({"kind": "List", "items": items}).to_string();
        let fitted = fit(&counter, &text, 500);
        assert!(counter.count(&fitted) <= 500, "{}", counter.count(&fitted));
        assert!(
            fitted.contains("A list of 2000 items (2000 Pod)")
                && fitted.contains("shop/web-0")
                && fitted.contains("jq")
        );
        let log: String = (0..5000).map(|i| format!("line {i}\n")).collect();
        let fitted = fit(&counter, &log, 300);
        assert!(counter.count(&fitted) <= 300);
        assert!(fitted.contains("line 0") && fitted.contains("line 4999") && fitted.contains("lines cut"));
        assert_eq!(fit(&counter, "small", 300), "small");
    }
}
