//! Property tests over everything that parses untrusted input (docs/reliability.md): model replies
//! (reasoning, fences, JSON), manifests in replies, the kubectl tool's command lines, snapshots,
//! and the redaction pass. The same parsers have cargo-fuzz targets in `fuzz/`.

use proptest::prelude::*;
use serde_json::{Value, json};

use crate::exec::tools::pipeline;
use crate::llm::redact::{MASK, redact_input, redact_text, redact_value};
use crate::llm::reply::{extract_json, strip_think};
use crate::snapshot::{Kind, Snapshot};

fn config() -> ProptestConfig {
    ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() }
}

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-zA-Z0-9 _.:/=-]{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z][a-zA-Z0-9]{0,7}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A path into a value: object keys and array indexes.
fn nest(value: Value, path: &[(bool, String)]) -> Value {
    path.iter().rev().fold(value, |inner, (array, key)| if *array { json!([1, inner]) } else { json!({ key: inner }) })
}

fn path() -> impl Strategy<Value = Vec<(bool, String)>> {
    prop::collection::vec((any::<bool>(), "[a-z]{1,6}"), 0..6)
}

/// The places a secret hides, each holding `canary`.
fn carrier(canary: &str, which: u8) -> Value {
    match which % 7 {
        0 => json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": canary}}),
        1 => json!({"apiVersion": "v1", "kind": "Secret", "stringData": {"any-key": canary}}),
        2 => json!({"env": [{"name": "DB_PASSWORD", "value": canary}]}),
        3 => {
            json!({"metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": format!("{{\"data\":{{\"x\":\"{canary}\"}}}}")}}})
        }
        4 => json!({"note": format!("connecting with password={canary} now")}),
        5 => json!({"clientSecret": canary}),
        _ => json!({"log": format!("Authorization: Bearer {canary}")}),
    }
}

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

    /// The YAML of a reply is found in a fence or after prose, and parses to the same objects.
    #[test]
    fn yaml_is_extracted_from_any_wrapping(
        // (a prefix: `n`, `on` or `yes` alone are booleans to YAML 1.1, as to kubectl)
        names in prop::collection::vec("cm-[a-z0-9]{1,10}", 1..4),
        prose in "[a-zA-Z .,]{0,60}",
        fenced in any::<bool>(),
    ) {
        let yaml: String = names.iter().map(|n| format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {n}\ndata:\n  k: v\n")).collect::<Vec<_>>().join("---\n");
        let reply = if fenced { format!("{prose}\n```yaml\n{yaml}```\n{prose}") } else { format!("{prose}\n{yaml}") };
        let extracted = crate::generate::extract(&reply).unwrap();
        let docs = crate::generate::manifest::parse(&extracted).unwrap();
        let got: Vec<&str> = docs.iter().map(|d| d.value["metadata"]["name"].as_str().unwrap()).collect();
        prop_assert_eq!(got, names.iter().map(String::as_str).collect::<Vec<_>>());
    }

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

    /// The snapshot loader takes any text without panicking.
    #[test]
    fn snapshots_take_any_text(text in "\\PC{0,300}") {
        let _ = Snapshot::from_text("fuzz", &text);
    }

    /// The same pods load the same from YAML documents, a JSON List and a YAML List.
    #[test]
    fn snapshots_read_every_format_alike(names in prop::collection::btree_set("[a-z][a-z0-9]{0,8}", 1..6)) {
        let pods: Vec<Value> = names.iter().map(|n| json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": n, "namespace": "ns", "creationTimestamp": "2026-05-01T12:00:00Z"},
            "spec": {"containers": [{"name": "c", "image": "x:1"}]},
        })).collect();
        let list = json!({"apiVersion": "v1", "kind": "List", "items": pods});
        let docs: String = pods.iter().map(|p| serde_saphyr::to_string(p).unwrap()).collect::<Vec<_>>().join("---\n");
        for text in [serde_json::to_string(&list).unwrap(), serde_saphyr::to_string(&list).unwrap(), docs] {
            let snapshot = Snapshot::from_text("t", &text).unwrap();
            prop_assert_eq!(snapshot.objects.count(Kind::Pod), names.len());
        }
    }

    /// Redaction is idempotent on text and on values.
    #[test]
    fn redaction_is_idempotent(text in "\\PC{0,200}", v in json_value()) {
        let once = redact_text(&text);
        prop_assert_eq!(redact_text(&once), once.clone());
        let mut a = v.clone();
        redact_value(&mut a);
        let mut b = a.clone();
        redact_value(&mut b);
        prop_assert_eq!(a, b);
    }

    /// A canary in any carrier, at any depth, among any siblings, never survives: as a value, as
    /// JSON text, or as YAML text piped in.
    #[test]
    fn a_canary_is_masked_in_any_nesting(
        which in any::<u8>(),
        at in path(),
        siblings in prop::collection::btree_map("[a-z]{1,6}", json_value(), 0..3),
        suffix in "[A-Za-z0-9]{8,16}",
    ) {
        let canary = format!("CANARY{suffix}");
        let mut doc = nest(carrier(&canary, which), &at);
        if let (Value::Object(map), false) = (&mut doc, at.is_empty()) {
            for (k, v) in siblings {
                map.entry(k).or_insert(v);
            }
        }
        let mut value = doc.clone();
        redact_value(&mut value);
        prop_assert!(!value.to_string().contains(&canary), "{}", value);
        // As an object piped in (kubectl get -o json / -o yaml): the carriers that are objects.
        let object = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"d": "x"}, "extra": doc});
        let object = if which % 7 < 2 { carrier(&canary, which) } else { object };
        let json_text = serde_json::to_string_pretty(&object).unwrap();
        prop_assert!(!redact_input(&json_text).contains(&canary), "{}", json_text);
        let yaml_text = serde_saphyr::to_string(&object).unwrap();
        prop_assert!(!redact_input(&yaml_text).contains(&canary), "{}", yaml_text);
        prop_assert!(redact_input(&json_text).contains(MASK) || which % 7 == 3, "something is masked");
    }
}
