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
    let mut out = Vec::new();
    each_document(text, &mut |doc| {
        out.push(doc);
        Ok(())
    })?;
    Ok(out)
}

/// Hands every object in `text` to `f` as it is read, so that a large list is never held whole:
/// the items of a JSON list are read one at a time. Lists are flattened into their items. An error
/// of `f` stops the reading and is returned.
pub(crate) fn each_document(
    text: &str,
    f: &mut dyn FnMut(Document) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim_start().starts_with(['{', '[']) {
        return each_json_document(text, f);
    }
    for (line, chunk) in split_yaml(text) {
        if chunk.lines().all(|l| {
            let t = l.trim();
            t.is_empty() || t.starts_with('#')
        }) {
            continue;
        }
        // The same visitors as JSON's: a `kind: List` document's items are handed over one by one.
        let mut failed = None;
        let top = stream::Top { line: line + leading_blank_lines(chunk), f: &mut *f, failed: &mut failed };
        let read = serde_saphyr::with_deserializer_from_str_with_options(chunk, yaml_options(chunk.len()), |de| {
            serde::de::DeserializeSeed::deserialize(top, de)
        });
        if let Some(e) = failed {
            return Err(e);
        }
        read.map_err(|e| {
            let at = e.location().map(|loc| line + loc.line() as usize - 1).unwrap_or(line);
            ParseError { line: Some(at), message: first_line(&e.without_snippet().to_string()) }
        })?;
    }
    Ok(())
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

/// JSON: one value, an array, or values one after another. A first pass finds where each value
/// starts and ends without building anything; the second reads each, streaming a list's items.
fn each_json_document(text: &str, f: &mut dyn FnMut(Document) -> Result<(), ParseError>) -> Result<(), ParseError> {
    let mut bounds = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<serde::de::IgnoredAny>();
    loop {
        let start = stream.byte_offset();
        match stream.next() {
            None => break,
            Some(Err(e)) => return Err(ParseError { line: Some(e.line()), message: strip_json_position(&e) }),
            Some(Ok(_)) => bounds.push((start, stream.byte_offset())),
        }
    }
    for (start, end) in bounds {
        let line = 1 + text[..start].matches('\n').count() + leading_newlines(&text[start..end]);
        let mut failed = None;
        let mut de = serde_json::Deserializer::from_str(&text[start..end]);
        let read =
            serde::de::DeserializeSeed::deserialize(stream::Top { line, f: &mut *f, failed: &mut failed }, &mut de);
        if let Some(e) = failed {
            return Err(e);
        }
        read.map_err(|e| ParseError { line: Some(line + e.line() - 1), message: strip_json_position(&e) })?;
    }
    Ok(())
}

/// Reading one top-level JSON value with serde's visitors, so that list items reach the caller one
/// by one instead of as one tree.
mod stream {
    use std::fmt;

    use serde::de::{DeserializeSeed, Error as _, MapAccess, SeqAccess, Visitor};
    use serde_json::{Map, Value};

    use super::{Document, ParseError, push_object};

    pub(super) struct Top<'a> {
        pub line: usize,
        pub f: &'a mut dyn FnMut(Document) -> Result<(), ParseError>,
        /// The error of `f` or of an object, which serde's error type cannot carry with its line.
        pub failed: &'a mut Option<ParseError>,
    }

    impl Top<'_> {
        fn push<E: serde::de::Error>(&mut self, value: Value) -> Result<(), E> {
            push_object(value, self.line, self.f).map_err(|e| {
                *self.failed = Some(e);
                E::custom("stopped")
            })
        }
    }

    impl<'de> DeserializeSeed<'de> for Top<'_> {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Top<'_> {
        type Value = ();

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a Kubernetes object or a list of them")
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
            Ok(())
        }

        fn visit_none<E: serde::de::Error>(self) -> Result<(), E> {
            Ok(())
        }

        fn visit_str<E: serde::de::Error>(mut self, v: &str) -> Result<(), E> {
            self.push(Value::String(v.into()))
        }

        fn visit_bool<E: serde::de::Error>(mut self, v: bool) -> Result<(), E> {
            self.push(Value::Bool(v))
        }

        fn visit_i64<E: serde::de::Error>(mut self, v: i64) -> Result<(), E> {
            self.push(Value::from(v))
        }

        fn visit_u64<E: serde::de::Error>(mut self, v: u64) -> Result<(), E> {
            self.push(Value::from(v))
        }

        fn visit_f64<E: serde::de::Error>(mut self, v: f64) -> Result<(), E> {
            self.push(Value::from(v))
        }

        fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
            while let Some(item) = seq.next_element::<Value>()? {
                self.push(item)?;
            }
            Ok(())
        }

        fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
            let mut fields = Map::new();
            // Items without their own kind (a raw PodList's) wait for the list's kind.
            let mut kindless: Vec<Value> = Vec::new();
            let (mut streamed, mut handed_over) = (false, false);
            while let Some(key) = map.next_key::<String>()? {
                let kind = fields.get("kind").and_then(Value::as_str);
                if key == "items" && kind.is_none_or(|k| k.ends_with("List")) {
                    let items = Items { top: &mut self, kindless: &mut kindless, handed_over: &mut handed_over };
                    match map.next_value_seed(items)? {
                        Some(value) => drop(fields.insert(key, value)),
                        None => streamed = true,
                    }
                } else {
                    fields.insert(key, map.next_value::<Value>()?);
                }
            }
            let kind = fields.get("kind").and_then(Value::as_str).unwrap_or_default();
            if handed_over && !kind.ends_with("List") {
                return Err(A::Error::custom(format!(
                    "an object with items that is not a list (kind {kind:?}): expected a Kubernetes object or a List"
                )));
            }
            // Put the list back together without the items already handed over, for push_object
            // to give the rest their kind; an object that is not a list gets its field back.
            if streamed {
                fields.insert("items".into(), Value::Array(kindless));
            }
            self.push(Value::Object(fields))
        }
    }

    /// A list's items: each handed over as soon as it is read; `Some` when `items` is not an array.
    struct Items<'t, 'a> {
        top: &'t mut Top<'a>,
        kindless: &'t mut Vec<Value>,
        handed_over: &'t mut bool,
    }

    impl<'de> DeserializeSeed<'de> for Items<'_, '_> {
        type Value = Option<Value>;
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Option<Value>, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Items<'_, '_> {
        type Value = Option<Value>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list's items")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<Value>, A::Error> {
            while let Some(item) = seq.next_element::<Value>()? {
                if item.get("kind").is_some() {
                    *self.handed_over = true;
                    self.top.push(item)?;
                } else {
                    self.kindless.push(item);
                }
            }
            Ok(None)
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Option<Value>, A::Error> {
            let value = Value::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
            Ok(Some(value))
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<Option<Value>, E> {
            Ok(Some(Value::Null))
        }

        fn visit_none<E: serde::de::Error>(self) -> Result<Option<Value>, E> {
            Ok(Some(Value::Null))
        }

        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Option<Value>, E> {
            Ok(Some(Value::String(v.into())))
        }

        fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Option<Value>, E> {
            Ok(Some(Value::Bool(v)))
        }

        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Option<Value>, E> {
            Ok(Some(Value::from(v)))
        }

        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Option<Value>, E> {
            Ok(Some(Value::from(v)))
        }

        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Option<Value>, E> {
            Ok(Some(Value::from(v)))
        }
    }

    use serde::Deserialize as _;
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

/// Hands over one parsed value: an object, or the items of a list. Nulls (empty documents) are skipped.
fn push_object(
    value: Value,
    line: usize,
    out: &mut dyn FnMut(Document) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
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
    out(Document { value: Value::Object(map), line })
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

    #[test]
    fn json_lists_are_streamed_whatever_the_order_of_their_keys() {
        // kubectl -o json sorts keys: items come before kind.
        let text = r#"{"apiVersion":"v1","items":[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"}},
            {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"b"}}],"kind":"List","metadata":{}}"#;
        assert_eq!(kinds(text), vec![("Pod".into(), 1), ("Deployment".into(), 1)]);
        // A raw API list whose kind comes last: its items get the kind of the list.
        let text = r#"{"items":[{"metadata":{"name":"a"}}],"apiVersion":"v1","kind":"PodList"}"#;
        let docs = parse_documents(text).unwrap();
        assert_eq!(docs[0].value, json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}}));
        // Nested lists, and a list inside an array.
        let text = r#"[{"kind":"List","apiVersion":"v1","items":[{"kind":"List","apiVersion":"v1","items":[{"apiVersion":"v1","kind":"Node"}]}]}]"#;
        assert_eq!(kinds(text), vec![("Node".into(), 1)]);
        // `items` on an object that is not a list is the object's own field when its kind came first.
        let docs = parse_documents(r#"{"apiVersion":"x/v1","kind":"Widget","items":[1,2]}"#).unwrap();
        assert_eq!(docs[0].value["items"], json!([1, 2]));
        let err =
            parse_documents(r#"{"apiVersion":"x/v1","items":[{"kind":"Pod","apiVersion":"v1"}],"kind":"Widget"}"#);
        assert!(err.unwrap_err().message.contains("not a list"));
        // ... and it is still its own field when its kind comes after it, as kubectl's sorted keys put it.
        let docs = parse_documents(r#"{"apiVersion":"x/v1","items":[1,{"a":2}],"kind":"Widget"}"#).unwrap();
        assert_eq!(docs[0].value["items"], json!([1, {"a": 2}]));
        let docs = parse_documents("apiVersion: x/v1\nitems: [1, 2]\nkind: Widget\n").unwrap();
        assert_eq!(docs[0].value["items"], json!([1, 2]));
    }

    #[test]
    fn each_item_is_handed_over_as_it_is_read() {
        let text = "{\"apiVersion\":\"v1\",\"items\":[\n{\"apiVersion\":\"v1\",\"kind\":\"Pod\"},\n{\"apiVersion\":\"v1\",\"kind\":\"Pod\"},\n\"oops\"],\"kind\":\"List\"}";
        let mut seen = 0;
        let err = each_document(text, &mut |_| {
            seen += 1;
            Ok(())
        })
        .unwrap_err();
        assert_eq!(seen, 2, "the items before the bad one were handed over");
        assert_eq!(err.to_string(), "line 1: expected a Kubernetes object (a mapping)");
        // The caller's error stops the reading.
        let mut seen = 0;
        let err = each_document(text, &mut |d| {
            seen += 1;
            Err(ParseError { line: Some(d.line), message: "no".into() })
        })
        .unwrap_err();
        assert_eq!((seen, err.to_string()), (1, "line 1: no".to_string()));
        // A syntax error anywhere is found before anything is handed over, with its line.
        let mut seen = 0;
        let err = each_document("{\"apiVersion\":\"v1\",\"kind\":\"Pod\"}\n{\"kind\": }", &mut |_| {
            seen += 1;
            Ok(())
        })
        .unwrap_err();
        assert_eq!((seen, err.line), (0, Some(2)));
        // YAML lists alike, kind after items.
        let yaml = "apiVersion: v1\nitems:\n- {apiVersion: v1, kind: Pod}\n- {apiVersion: v1, kind: Node}\n- oops\nkind: List\n";
        let mut seen = Vec::new();
        let err = each_document(yaml, &mut |d| {
            seen.push(d.value["kind"].as_str().unwrap().to_string());
            Ok(())
        })
        .unwrap_err();
        assert_eq!(seen, ["Pod", "Node"]);
        assert_eq!(err.to_string(), "line 1: expected a Kubernetes object (a mapping)");
    }
}
