//! Cleaning model answers: reasoning blocks removed, fences and prose around JSON stripped.

use serde_json::Value;

/// Removes `<think>…</think>` blocks (DeepSeek-R1, QwQ…): closed ones anywhere, an unclosed one to
/// the end, and a lone closing tag with everything before it (some servers drop the opening tag).
pub fn strip_think(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    if let Some(end) = rest.find("</think>")
        && !rest[..end].contains("<think>")
    {
        rest = &rest[end + "</think>".len()..];
    }
    while let Some(start) = rest.find("<think>") {
        out.push_str(&rest[..start]);
        match rest[start..].find("</think>") {
            Some(end) => rest = &rest[start + end + "</think>".len()..],
            None => {
                rest = "";
                break;
            }
        }
    }
    out.push_str(rest);
    out.trim().to_string()
}

/// The body of the first fenced code block, preferring one of the given languages.
pub fn fenced_block<'a>(text: &'a str, languages: &[&str]) -> Option<&'a str> {
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("```") {
        let after = &rest[start + 3..];
        let newline = after.find('\n')?;
        let lang = after[..newline].trim().to_ascii_lowercase();
        let body = &after[newline + 1..];
        let end = body.find("```").unwrap_or(body.len());
        blocks.push((lang, &body[..end]));
        rest = body.get(end + 3..).unwrap_or("");
    }
    blocks.iter().find(|(lang, _)| languages.contains(&lang.as_str())).or_else(|| blocks.first()).map(|(_, body)| *body)
}

/// The JSON value in an answer, whatever wraps it: reasoning, fences, prose, trailing junk.
pub fn extract_json(text: &str) -> Option<Value> {
    let text = strip_think(text);
    if let Ok(v) = serde_json::from_str::<Value>(text.trim()) {
        return Some(v);
    }
    let candidates: Vec<&str> =
        fenced_block(&text, &["json"]).into_iter().chain(std::iter::once(text.as_str())).collect();
    for candidate in &candidates {
        for (i, _) in candidate.match_indices(['{', '[']) {
            let mut stream = serde_json::Deserializer::from_str(&candidate[i..]).into_iter::<Value>();
            if let Some(Ok(v)) = stream.next()
                && (v.is_object() || v.as_array().is_some_and(|a| !a.is_empty()))
            {
                return Some(v);
            }
        }
    }
    // Small models write JavaScript rather than JSON: bare keys, single quotes, trailing commas.
    for candidate in candidates {
        let fixed = lenient(candidate);
        for (i, _) in fixed.match_indices(['{', '[']) {
            let mut stream = serde_json::Deserializer::from_str(&fixed[i..]).into_iter::<Value>();
            if let Some(Ok(v)) = stream.next()
                && (v.is_object() || v.as_array().is_some_and(|a| !a.is_empty()))
            {
                return Some(v);
            }
        }
    }
    None
}

/// JSON from the JavaScript-like text small models write: keys without quotes quoted,
/// single-quoted strings double-quoted, commas before a closing bracket dropped. Text inside
/// double-quoted strings is left as it is.
fn lenient(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 16);
    let mut i = 0;
    // The last character written outside a string that is not whitespace.
    let mut last = ' ';
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' => {
                let mut j = i + 1;
                let mut body = String::new();
                while j < chars.len() && chars[j] != c {
                    if chars[j] == '\\' && j + 1 < chars.len() {
                        // `\'` means a quote in a single-quoted string; JSON has no such escape.
                        if !(c == '\'' && chars[j + 1] == '\'') {
                            body.push('\\');
                        }
                        body.push(chars[j + 1]);
                        j += 2;
                        continue;
                    }
                    if c == '\'' && chars[j] == '"' {
                        body.push('\\');
                    }
                    body.push(chars[j]);
                    j += 1;
                }
                out.push('"');
                out.push_str(&body);
                out.push('"');
                last = '"';
                i = j + 1;
            }
            c if (c.is_ascii_alphabetic() || c == '_') && matches!(last, '{' | ',') => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let mut k = i;
                while k < chars.len() && chars[k].is_whitespace() {
                    k += 1;
                }
                if chars.get(k) == Some(&':') {
                    out.push_str(&format!("\"{word}\""));
                } else {
                    out.push_str(&word);
                }
                last = 'w';
            }
            ',' => {
                let mut k = i + 1;
                while k < chars.len() && chars[k].is_whitespace() {
                    k += 1;
                }
                if !matches!(chars.get(k), Some('}' | ']')) {
                    out.push(',');
                    last = ',';
                }
                i += 1;
            }
            c => {
                out.push(c);
                if !c.is_whitespace() {
                    last = c;
                }
                i += 1;
            }
        }
    }
    out
}

/// Removes reasoning from a stream as it arrives: text inside `<think>…</think>` is held back,
/// including tags split across pieces.
#[derive(Debug, Default)]
pub struct ThinkFilter {
    pending: String,
    thinking: bool,
}

impl ThinkFilter {
    /// The visible part of the text received so far that can be shown now.
    pub fn push(&mut self, delta: &str) -> String {
        self.pending.push_str(delta);
        let mut out = String::new();
        loop {
            let tag = if self.thinking { "</think>" } else { "<think>" };
            match self.pending.find(tag) {
                Some(i) => {
                    if !self.thinking {
                        out.push_str(&self.pending[..i]);
                    }
                    self.pending.drain(..i + tag.len());
                    self.thinking = !self.thinking;
                }
                None => {
                    // Keep what could be the start of a tag for the next piece.
                    let keep = (1..tag.len()).rev().find(|n| self.pending.ends_with(&tag[..*n])).unwrap_or(0);
                    let cut = self.pending.len() - keep;
                    if !self.thinking {
                        out.push_str(&self.pending[..cut]);
                    }
                    self.pending.drain(..cut);
                    return out;
                }
            }
        }
    }

    /// What is left at the end of the stream.
    pub fn finish(&mut self) -> String {
        if self.thinking { String::new() } else { std::mem::take(&mut self.pending) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn think_blocks() {
        let cases = [
            ("<think>hmm</think>answer", "answer"),
            ("a <think>x</think> b <think>y</think> c", "a  b  c"),
            ("<think>never closed", ""),
            ("lost opening</think>answer", "answer"),
            ("no reasoning", "no reasoning"),
        ];
        for (input, want) in cases {
            assert_eq!(strip_think(input), want, "{input}");
        }
    }

    #[test]
    fn json_in_any_wrapping() {
        let want = json!({"cause": "x"});
        for text in [
            r#"{"cause": "x"}"#,
            "<think>let me see {\"no\": 1}</think>\n```json\n{\"cause\": \"x\"}\n```",
            "Here you go:\n```\n{\"cause\": \"x\"}\n```\nHope it helps",
            "Sure! {\"cause\": \"x\"} and some trailing junk }",
            "prefix {not json} then {\"cause\": \"x\"}",
        ] {
            assert_eq!(extract_json(text), Some(want.clone()), "{text}");
        }
        assert_eq!(extract_json("no json here"), None);
        // What small models write: bare keys, single quotes, trailing commas.
        let lax = json!({"problem": 1, "cause": "it's down", "fix": ["kubectl get pods -l 'app=web'"]});
        for text in [
            "{problem: 1, cause: \"it's down\", fix: [\"kubectl get pods -l 'app=web'\",],}",
            "```json\n{ problem : 1,\n  cause: 'it\\'s down',\n  fix: ['kubectl get pods -l \\'app=web\\'']\n}\n```",
        ] {
            assert_eq!(extract_json(text), Some(lax.clone()), "{text}");
        }
        assert_eq!(extract_json("<think>{\"a\":1}</think>"), None, "reasoning is not the answer");
    }

    #[test]
    fn streamed_think_blocks() {
        for pieces in [
            vec!["<think>h", "m</think", ">Hello t", "here"],
            vec!["Hel", "lo<th", "ink>x</th", "ink> there"],
            vec!["<", "think>", "abc", "</think>", "Hello there"],
        ] {
            let mut f = ThinkFilter::default();
            let mut out: String = pieces.iter().map(|p| f.push(p)).collect();
            out.push_str(&f.finish());
            assert_eq!(out, "Hello there", "{pieces:?}");
        }
        let mut f = ThinkFilter::default();
        assert_eq!(f.push("a < b"), "a < b");
    }

    #[test]
    fn fences() {
        let text = "intro\n```yaml\na: 1\n```\n```json\n{}\n```";
        assert_eq!(fenced_block(text, &["json"]), Some("{}\n"));
        assert_eq!(fenced_block(text, &["toml"]), Some("a: 1\n"));
        assert_eq!(fenced_block("no fence", &[]), None);
    }
}

/// Property tests (docs/reliability.md): the same parsers have cargo-fuzz targets in `fuzz/`.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;
    use serde_json::Value;

    use super::{extract_json, strip_think};
    use crate::testing::{config, json_value};

    proptest! {
        #![proptest_config(config())]

        /// A JSON answer is found whatever wraps it: reasoning, a fence, prose before and after.
        #[test]
        fn reply_json_is_found_in_any_wrapping(
            v in prop::collection::btree_map("[a-z]{1,8}", json_value(), 1..4).prop_map(|m| Value::Object(m.into_iter().collect())),
            think in "[a-zA-Z {}\\[\\]]{0,40}",
            before in "[a-zA-Z .,:]{0,40}",
            after in "[a-zA-Z .,:]{0,40}",
            fenced in any::<bool>(),
        ) {
            let body = serde_json::to_string_pretty(&v).unwrap();
            let body = if fenced { format!("```json\n{body}\n```") } else { body };
            let reply = format!("<think>{think}</think>{before}\n{body}\n{after}");
            prop_assert_eq!(extract_json(&reply), Some(v));
        }

        /// Arbitrary text never makes the reply parsers panic, and reasoning never survives.
        #[test]
        fn reply_parsers_take_any_text(text in "\\PC{0,200}", inner in "[a-z ]{0,20}") {
            let _ = extract_json(&text);
            let _ = crate::generate::extract(&text);
            let stripped = strip_think(&format!("{text}<think>{inner}SECRET-THOUGHT</think>"));
            prop_assert!(!stripped.contains("SECRET-THOUGHT"));
        }
    }
}
