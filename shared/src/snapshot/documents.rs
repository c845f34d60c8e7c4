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
/// the items of a list are read one at a time. Lists are flattened into their items. An error of
/// `f` stops the reading and is returned.
pub(crate) fn each_document(
    text: &str,
    f: &mut dyn FnMut(Document) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    each_document_in(text.as_bytes(), text.len(), f)
}

/// [`each_document`] over a reader (a file, stdin): neither its text nor a document's tree is ever
/// held whole, only the object being read. `size_hint` (the input's length, when known) sizes the
/// YAML parser's budget. Bytes that are not UTF-8 stop the reading with `not UTF-8 text`.
pub(crate) fn each_document_in(
    reader: impl std::io::Read,
    size_hint: usize,
    f: &mut dyn FnMut(Document) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    let mut text = Utf8Reader::new(reader);
    let bom = match text.fill_buf() {
        Ok(buf) => buf.starts_with("\u{feff}".as_bytes()),
        Err(e) => return Err(text.error(e)),
    };
    if bom {
        text.consume(3);
    }
    if skip_whitespace(&mut text)?.is_some_and(|b| b == b'{' || b == b'[') {
        each_json_document(&mut text, f)
    } else {
        each_yaml_document(&mut text, size_hint, f)
    }
}

/// JSON: one value, an array, or values one after another, each read straight from the input.
fn each_json_document<R: std::io::Read>(
    text: &mut Utf8Reader<R>,
    f: &mut dyn FnMut(Document) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    while skip_whitespace(text)?.is_some() {
        let line = text.newlines + 1;
        let mut failed = None;
        let mut de = serde_json::Deserializer::from_reader(&mut *text);
        let read =
            serde::de::DeserializeSeed::deserialize(stream::Top { line, f: &mut *f, failed: &mut failed }, &mut de);
        if let Some(e) = failed {
            return Err(e);
        }
        read.map_err(|e| match e.io_error_kind() {
            Some(_) => ParseError { line: None, message: text.failure.take().unwrap_or_else(|| e.to_string()) },
            None => ParseError { line: Some(line + e.line() - 1), message: strip_json_position(&e) },
        })?;
    }
    Ok(())
}

/// YAML: documents separated by `---` (or ended by `...`), each parsed as it streams in, a
/// `kind: List` document's items handed over one by one.
fn each_yaml_document<R: std::io::Read>(
    text: &mut Utf8Reader<R>,
    size_hint: usize,
    f: &mut dyn FnMut(Document) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    // The rest of a `--- ` line opens the next document, on the marker's line.
    let mut pending = (String::new(), 0);
    loop {
        let mut document = YamlDocument { text: &mut *text, line: pending.0, line_no: pending.1, at: 0, end: None };
        let opened = document.skip_blank_lines().map_err(|e| document.text.error(e))?;
        if let Some(line) = opened {
            let mut failed = None;
            let top = stream::Top { line, f: &mut *f, failed: &mut failed };
            let read = serde_saphyr::with_deserializer_from_reader_with_options(
                &mut document,
                yaml_options(size_hint),
                |de| serde::de::DeserializeSeed::deserialize(top, de),
            );
            if let Some(e) = failed {
                return Err(e);
            }
            if let Some(why) = document.text.failure.take() {
                return Err(ParseError { line: None, message: why });
            }
            read.map_err(|e| {
                let at = e.location().map(|loc| line + loc.line() as usize - 1).unwrap_or(line);
                ParseError { line: Some(at), message: first_line(&e.without_snippet().to_string()) }
            })?;
        }
        // Whatever the parser left of the document (nothing, as it reads to the end) is not lost
        // silently with the documents after it: the stream goes on from the next marker.
        while document.next_line().map_err(|e| document.text.error(e))? {}
        pending = match document.end {
            Some(YamlEnd::Marker(rest, line_no)) => (rest, line_no),
            Some(YamlEnd::DocumentEnd) => (String::new(), 0),
            None | Some(YamlEnd::Eof) => return Ok(()),
        };
    }
}

/// What ended a YAML document.
enum YamlEnd {
    /// `---`, with the rest of its line (which belongs to the next document) and its line number.
    Marker(String, usize),
    /// `...`.
    DocumentEnd,
    /// The end of the input.
    Eof,
}

/// One YAML document of a stream, read line by line up to the next marker.
struct YamlDocument<'t, R> {
    text: &'t mut Utf8Reader<R>,
    /// The current line (served from `at`) and its 1-based number.
    line: String,
    line_no: usize,
    at: usize,
    end: Option<YamlEnd>,
}

impl<R: std::io::Read> YamlDocument<'_, R> {
    /// Reads the next line of this document; false at its end.
    fn next_line(&mut self) -> std::io::Result<bool> {
        if self.end.is_some() {
            return Ok(false);
        }
        self.line.clear();
        self.at = 0;
        self.line_no = self.text.newlines + 1;
        if self.text.read_line(&mut self.line)? == 0 {
            self.end = Some(YamlEnd::Eof);
            return Ok(false);
        }
        let bare = self.line.trim_end_matches(['\n', '\r']);
        if bare == "---" || bare.starts_with("--- ") || bare.starts_with("---\t") {
            self.end = Some(YamlEnd::Marker(self.line[3..].to_string(), self.line_no));
        } else if bare == "..." {
            self.end = Some(YamlEnd::DocumentEnd);
        } else {
            return Ok(true);
        }
        self.line.clear();
        Ok(false)
    }

    /// Skips the blank and comment lines that open the document: the line of its first content
    /// line, or none for an empty document.
    fn skip_blank_lines(&mut self) -> std::io::Result<Option<usize>> {
        if self.line.is_empty() && !self.next_line()? {
            return Ok(None);
        }
        loop {
            let t = self.line.trim();
            if !(t.is_empty() || t.starts_with('#')) {
                return Ok(Some(self.line_no));
            }
            if !self.next_line()? {
                return Ok(None);
            }
        }
    }
}

impl<R: std::io::Read> std::io::Read for YamlDocument<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.line.len() {
            if !self.next_line()? {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.line.len() - self.at);
        buf[..n].copy_from_slice(&self.line.as_bytes()[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Skips whitespace, counting lines; the next byte, if any.
fn skip_whitespace<R: std::io::Read>(text: &mut Utf8Reader<R>) -> Result<Option<u8>, ParseError> {
    loop {
        let buf = match text.fill_buf() {
            Ok(buf) => buf,
            Err(e) => return Err(text.error(e)),
        };
        if buf.is_empty() {
            return Ok(None);
        }
        let (n, next) = match buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(n) => (n, Some(buf[n])),
            None => (buf.len(), None),
        };
        text.consume(n);
        if next.is_some() {
            return Ok(next);
        }
    }
}

/// A buffered reader that checks the input is UTF-8 and counts the lines handed out.
struct Utf8Reader<R> {
    inner: R,
    buf: Box<[u8]>,
    /// `buf[start..valid]` is checked and not yet handed out; `buf[valid..end]` is an incomplete
    /// character waiting for its next bytes.
    start: usize,
    valid: usize,
    end: usize,
    /// Newlines handed out so far.
    newlines: usize,
    /// Why the input stopped, for an error the parsers report as I/O.
    failure: Option<String>,
}

impl<R: std::io::Read> Utf8Reader<R> {
    fn new(inner: R) -> Self {
        Utf8Reader {
            inner,
            buf: vec![0; 64 * 1024].into_boxed_slice(),
            start: 0,
            valid: 0,
            end: 0,
            newlines: 0,
            failure: None,
        }
    }

    fn error(&mut self, e: std::io::Error) -> ParseError {
        ParseError { line: None, message: self.failure.take().unwrap_or_else(|| e.to_string()) }
    }

    fn fail(&mut self, why: String) -> std::io::Error {
        self.failure = Some(why.clone());
        std::io::Error::new(std::io::ErrorKind::InvalidData, why)
    }
}

impl<R: std::io::Read> std::io::BufRead for Utf8Reader<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        while self.start == self.valid {
            // Keep the incomplete character, read more after it.
            self.buf.copy_within(self.valid..self.end, 0);
            self.end -= self.valid;
            self.start = 0;
            self.valid = 0;
            let n = match self.inner.read(&mut self.buf[self.end..]) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.fail(e.to_string())),
            };
            self.end += n;
            match std::str::from_utf8(&self.buf[..self.end]) {
                Ok(_) => self.valid = self.end,
                Err(e) if e.error_len().is_none() && n > 0 => self.valid = e.valid_up_to(),
                Err(_) => return Err(self.fail("not UTF-8 text".into())),
            }
            if n == 0 {
                break;
            }
        }
        Ok(&self.buf[self.start..self.valid])
    }

    fn consume(&mut self, n: usize) {
        self.newlines += self.buf[self.start..self.start + n].iter().filter(|&&b| b == b'\n').count();
        self.start += n;
    }
}

impl<R: std::io::Read> std::io::Read for Utf8Reader<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let buf = self.fill_buf()?;
        let n = buf.len().min(out.len());
        out[..n].copy_from_slice(&buf[..n]);
        self.consume(n);
        Ok(n)
    }
}

use std::io::BufRead as _;

/// serde-saphyr's default budget is sized for configuration files; a snapshot of a large cluster is
/// one list of many thousands of objects, so the node and event caps grow with the input. Depth,
/// alias and anchor limits stay at their defaults (they guard against hostile input, not size).
fn yaml_options(len: usize) -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_nodes = budget.max_nodes.max(len / 2);
    budget.max_events = budget.max_events.max(len);
    budget.max_total_scalar_bytes = budget.max_total_scalar_bytes.max(len);
    budget.max_reader_input_bytes = budget.max_reader_input_bytes.map(|max| max.max(len));
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    // Like sigs.k8s.io/yaml (YAML 1.1): `defaultMode: 0644` is octal.
    options.legacy_octal_numbers = true;
    options.emit_comments = false;
    options
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
        // A syntax error is found where the reading reaches it (what came before was handed over;
        // the error stops the whole load), with its line.
        let mut seen = 0;
        let err = each_document("{\"apiVersion\":\"v1\",\"kind\":\"Pod\"}\n{\"kind\": }", &mut |_| {
            seen += 1;
            Ok(())
        })
        .unwrap_err();
        assert_eq!((seen, err.line), (1, Some(2)));
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

    #[test]
    fn read_from_a_reader_in_small_pieces() {
        // A reader that hands out 1 byte at a time: characters, lines and documents split anywhere.
        struct Trickle<'a>(&'a [u8]);
        impl std::io::Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(1).min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let read = |text: &str| {
            let mut out = Vec::new();
            each_document_in(Trickle(text.as_bytes()), text.len(), &mut |d| {
                out.push((d.value["metadata"]["name"].as_str().unwrap_or_default().to_string(), d.line));
                Ok(())
            })
            .map(|()| out)
        };
        let yaml = "\u{feff}# état\r\napiVersion: v1\r\nkind: Pod\r\nmetadata: {name: café}\r\n---\r\n\r\n--- \napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: 日本}}\n...\napiVersion: v1\nkind: Pod\nmetadata: {name: z}";
        assert_eq!(read(yaml).unwrap(), [("café".into(), 2), ("日本".into(), 8), ("z".into(), 13)]);
        let json = "\n\n{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"ü\"}}\n[{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"€\"}}]";
        assert_eq!(read(json).unwrap(), [("ü".into(), 3), ("€".into(), 4)]);
        // A list longer than the reader's buffer, item by item.
        let items: Vec<String> =
            (0..3000).map(|i| format!(r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"p{i}"}}}}"#)).collect();
        let big = format!(r#"{{"apiVersion":"v1","items":[{}],"kind":"List"}}"#, items.join(",\n"));
        assert!(big.len() > 128 * 1024);
        let got = read(&big).unwrap();
        assert_eq!((got.len(), got[2999].0.as_str()), (3000, "p2999"));
    }

    #[test]
    fn bytes_that_are_not_utf8_are_one_error() {
        for text in [
            &b"apiVersion: v1\nkind: Pod\nmetadata: {name: caf\xe9}\n"[..],
            b"{\"apiVersion\": \"v1\", \"kind\": \"\xff\"}",
        ] {
            let err = each_document_in(text, text.len(), &mut |_| Ok(())).unwrap_err();
            assert_eq!(err.to_string(), "not UTF-8 text");
        }
        // A character cut at the end of the input is not UTF-8 either.
        let err = each_document_in(&b"apiVersion: v1\nkind: \xe6\x97"[..], 0, &mut |_| Ok(())).unwrap_err();
        assert_eq!(err.to_string(), "not UTF-8 text");
    }
}
