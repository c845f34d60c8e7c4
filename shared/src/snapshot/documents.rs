//! Reading Kubernetes objects from text: multi-document YAML, JSON (one object, an array, or
//! concatenated objects) and `kind: List` / `PodList`-style lists, exactly as `kubectl get -o yaml|json`
//! prints them. Each object keeps the line its document starts on, for error messages and reports.

use serde_json::Value;

/// One Kubernetes object read from text.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// The object.
    pub value: Value,
    /// 1-based line where the object's document starts (the list's line for list items).
    pub line: usize,
}

/// A parse error with the line it was found on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct ParseError {
    /// The line, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// Parses every object in `text`. Lists are flattened into their items.
pub fn parse_documents(text: &str) -> Result<Vec<Document>, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    if text.trim_start().starts_with(['{', '[']) {
        parse_json(text, &mut out)?;
    } else {
        for (line, chunk) in split_yaml(text) {
            if chunk.lines().all(|l| {
                let t = l.trim();
                t.is_empty() || t.starts_with('#')
            }) {
                continue;
            }
            let value: Value = serde_saphyr::from_str_with_options(chunk, yaml_options(chunk.len())).map_err(|e| {
                let at = e.location().map(|loc| line + loc.line() as usize - 1).unwrap_or(line);
                ParseError { line: Some(at), message: first_line(&e.without_snippet().to_string()) }
            })?;
            push_object(value, line + leading_blank_lines(chunk), &mut out)?;
        }
    }
    Ok(out)
}

/// serde-saphyr's default budget is sized for configuration files; a snapshot of a large cluster is
/// one list of many thousands of objects, so the node and event caps grow with the input. Depth,
/// alias and anchor limits stay at their defaults (they guard against hostile input, not size).
fn yaml_options(len: usize) -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_nodes = budget.max_nodes.max(len / 2);
    budget.max_events = budget.max_events.max(len);
    budget.max_total_scalar_bytes = budget.max_total_scalar_bytes.max(len);
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    // Like sigs.k8s.io/yaml (YAML 1.1): `defaultMode: 0644` is octal.
    options.legacy_octal_numbers = true;
    options.emit_comments = false;
    options
}

fn parse_json(text: &str, out: &mut Vec<Document>) -> Result<(), ParseError> {
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    loop {
        let start = stream.byte_offset();
        let Some(next) = stream.next() else { break };
        let line = 1 + text[..start].matches('\n').count() + leading_newlines(&text[start..]);
        let value = next.map_err(|e| ParseError { line: Some(e.line()), message: strip_json_position(&e) })?;
        match value {
            Value::Array(items) => {
                for item in items {
                    push_object(item, line, out)?;
                }
            }
            other => push_object(other, line, out)?,
        }
    }
    Ok(())
}

/// Lines before a chunk's first content line (the rest of a `---` line, blanks, comments).
fn leading_blank_lines(chunk: &str) -> usize {
    chunk
        .split_inclusive('\n')
        .take_while(|l| {
            let t = l.trim();
            (t.is_empty() || t.starts_with('#')) && l.ends_with('\n')
        })
        .count()
}

fn leading_newlines(s: &str) -> usize {
    s[..s.len() - s.trim_start().len()].matches('\n').count()
}

fn strip_json_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// The parser's message without its chunk-relative position or advice meant for library users.
fn first_line(s: &str) -> String {
    let line = s.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("invalid YAML");
    let line = line.split(", set DuplicateKeyPolicy").next().unwrap_or(line);
    match line.rfind(" at line ") {
        Some(i) if line[i..].contains(", column ") => line[..i].to_string(),
        _ => line.to_string(),
    }
}

/// Splits a YAML stream on `---` document markers, keeping each chunk's first line number.
fn split_yaml(text: &str) -> Vec<(usize, &str)> {
    let mut chunks = Vec::new();
    let mut start = 0usize;
    let mut start_line = 1usize;
    let mut offset = 0usize;
    for (idx, line) in text.split_inclusive('\n').enumerate() {
        let bare = line.trim_end_matches(['\n', '\r']);
        let is_marker = bare == "---" || bare.starts_with("--- ") || bare.starts_with("---\t");
        let is_end = bare == "...";
        if is_marker || is_end {
            chunks.push((start_line, &text[start..offset]));
            // Content after `--- ` on the marker line belongs to the next document.
            start = if is_marker { offset + 3 } else { offset + line.len() };
            start_line = idx + 1 + usize::from(is_end);
        }
        offset += line.len();
    }
    chunks.push((start_line, &text[start..]));
    chunks
}

/// Adds one parsed value: an object, or the items of a list. Nulls (empty documents) are skipped.
fn push_object(value: Value, line: usize, out: &mut Vec<Document>) -> Result<(), ParseError> {
    let Value::Object(mut map) = value else {
        if value.is_null() {
            return Ok(());
        }
        return Err(ParseError { line: Some(line), message: "expected a Kubernetes object (a mapping)".into() });
    };
    let kind = map.get("kind").and_then(Value::as_str).unwrap_or_default().to_string();
    if kind.ends_with("List") && map.get("items").is_some_and(Value::is_array) {
        let api_version = map.get("apiVersion").cloned();
        let item_kind = kind.strip_suffix("List").filter(|k| !k.is_empty()).map(str::to_string);
        let Some(Value::Array(items)) = map.remove("items") else {
            return Ok(());
        };
        for item in items {
            let mut item = item;
            if let Value::Object(obj) = &mut item {
                // A raw API list (PodList) leaves apiVersion/kind off its items.
                if let (Some(k), false) = (&item_kind, obj.contains_key("kind")) {
                    obj.insert("kind".into(), Value::String(k.clone()));
                    if let Some(v) = &api_version {
                        obj.entry("apiVersion").or_insert_with(|| v.clone());
                    }
                }
            }
            push_object(item, line, out)?;
        }
        return Ok(());
    }
    if kind.is_empty() || !map.get("apiVersion").is_some_and(Value::is_string) {
        return Err(ParseError { line: Some(line), message: "object without apiVersion and kind".into() });
    }
    out.push(Document { value: Value::Object(map), line });
    Ok(())
}

/// The newest RFC 3339 timestamp (`…Z`) anywhere in an object.
pub fn newest_timestamp(value: &Value) -> Option<jiff::Timestamp> {
    match value {
        Value::String(s) if looks_like_timestamp(s) => s.parse().ok(),
        Value::Array(items) => items.iter().filter_map(newest_timestamp).max(),
        Value::Object(map) => map.values().filter_map(newest_timestamp).max(),
        _ => None,
    }
}

/// Whether a string has the shape of a Kubernetes timestamp (`2026-05-01T12:00:00Z`, fractions allowed).
pub fn looks_like_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    (20..=35).contains(&b.len()) && b[0].is_ascii_digit() && b[4] == b'-' && b[10] == b'T' && s.ends_with('Z')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kinds(text: &str) -> Vec<(String, usize)> {
        parse_documents(text)
            .unwrap()
            .into_iter()
            .map(|d| (d.value["kind"].as_str().unwrap().to_string(), d.line))
            .collect()
    }

    #[test]
    fn multi_document_yaml_keeps_lines() {
        let text = "# comment\napiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: b}\n---\n# only a comment\n---\n";
        assert_eq!(kinds(text), vec![("Pod".into(), 2), ("Service".into(), 6)]);
    }

    #[test]
    fn content_after_the_marker_and_document_end() {
        let text = "--- {apiVersion: v1, kind: Pod}\n...\n--- \napiVersion: v1\nkind: Node\n";
        assert_eq!(kinds(text), vec![("Pod".into(), 1), ("Node".into(), 4)]);
    }

    #[test]
    fn lists_are_flattened_and_raw_items_get_their_kind() {
        let text = r#"{"apiVersion":"v1","kind":"PodList","items":[{"metadata":{"name":"a"}}]}"#;
        let docs = parse_documents(text).unwrap();
        assert_eq!(docs[0].value, json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}}));
        let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: apps/v1\n  kind: Deployment\n- apiVersion: v1\n  kind: Pod\n";
        assert_eq!(kinds(text), vec![("Deployment".into(), 1), ("Pod".into(), 1)]);
    }

    #[test]
    fn json_arrays_and_concatenated_objects() {
        let text = "[{\"apiVersion\":\"v1\",\"kind\":\"Pod\"}]\n\n{\"apiVersion\":\"v1\",\"kind\":\"Node\"}";
        assert_eq!(kinds(text), vec![("Pod".into(), 1), ("Node".into(), 3)]);
    }

    #[test]
    fn octal_modes_follow_kubernetes_yaml() {
        let docs = parse_documents("apiVersion: v1\nkind: X\nmode: 0644\n").unwrap();
        assert_eq!(docs[0].value["mode"], json!(420));
    }

    #[test]
    fn errors_carry_the_line() {
        let err = parse_documents("apiVersion: v1\nkind: Pod\n---\napiVersion: v1\nkind: [unclosed\n").unwrap_err();
        assert!(matches!(err.line, Some(4..=6)), "{err:?}");
        let err = parse_documents("apiVersion: v1\nkind: Pod\n---\n- a\n- b\n").unwrap_err();
        assert_eq!(err.to_string(), "line 4: expected a Kubernetes object (a mapping)");
        let err = parse_documents("{\"apiVersion\": \"v1\",\n \"kind\": }").unwrap_err();
        assert_eq!(err.line, Some(2));
        let err = parse_documents("a: 1\na: 2\n").unwrap_err();
        assert_eq!(err.to_string(), "line 2: duplicate mapping key: a");
        let err = parse_documents("metadata: {name: x}\n").unwrap_err();
        assert_eq!(err.to_string(), "line 1: object without apiVersion and kind");
    }
}
