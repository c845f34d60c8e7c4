//! Nothing secret leaves: one redaction pass that everything sent to a model goes through.
//!
//! Text: private keys, bearer tokens, JWTs, cloud and SaaS keys, passwords in URLs, and
//! `password=…` / `token: …` style values (in logs, ConfigMaps, annotations, messages) become
//! `[REDACTED]`. Objects: Secret `data`/`stringData` values, literal env values whose names look
//! sensitive, and every `last-applied-configuration` annotation (a Secret's holds its data) are
//! removed before their text is redacted too. Redaction is idempotent.
//!
//! [`Anonymizer`] (`--anonymize`) goes further: namespaces, object names, images, hosts, IPs and
//! emails become placeholders in what is sent, and are put back in the answer.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::{Captures, Regex};
use serde_json::Value;

/// What a secret value becomes.
pub const MASK: &str = "[REDACTED]";

struct Pattern {
    re: Regex,
    replace: fn(&Captures<'_>) -> String,
}

#[allow(clippy::expect_used)] // constant patterns, covered by the tests
static PATTERNS: LazyLock<Vec<Pattern>> = LazyLock::new(|| {
    let p = |re: &str, replace: fn(&Captures<'_>) -> String| Pattern {
        re: Regex::new(re).expect("valid pattern"),
        replace,
    };
    vec![
        p(r"-----BEGIN [A-Z ]*PRIVATE KEY-----(?s:.*?)(-----END [A-Z ]*PRIVATE KEY-----|\z)", |_| {
            "[REDACTED PRIVATE KEY]".into()
        }),
        p(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{6,}", |_| MASK.into()),
        p(r"(?i)\b(bearer|basic)([ \t]+)[A-Za-z0-9\-._~+/]{8,}=*", |c| format!("{}{}{MASK}", &c[1], &c[2])),
        p(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b", |_| MASK.into()),
        p(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b", |_| MASK.into()),
        p(r"\bxox[abprs]-[A-Za-z0-9-]{10,}", |_| MASK.into()),
        p(r"\bsk-[A-Za-z0-9_-]{20,}", |_| MASK.into()),
        p(r"\bAIza[0-9A-Za-z_-]{30,}", |_| MASK.into()),
        // scheme://user:password@host
        p(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]+:)([^/\s@]+)@", |c| format!("{}{MASK}@", &c[1])),
        // NAME=value, NAME: value, "name": "value" — masked when the name's last word is a
        // secret's ([`sensitive_name`]: DB_PASSWORD, db-pass, apiKey, ENCRYPTION_KEY, token).
        p(r#"\b([A-Za-z_][A-Za-z0-9_.-]*)(["']?[ \t]*[:=][ \t]*["']?)([^\s"',;&}]+)"#, |c| {
            let value = &c[3];
            // References to other objects stay (`secretRef: {…}`), as does what is masked already.
            if sensitive_name(&c[1]) && !value.starts_with('{') && !value.starts_with('[') {
                format!("{}{}{MASK}", &c[1], &c[2])
            } else {
                c[0].to_string()
            }
        }),
        // --password value, -p value: a flag whose name is a secret's, and its value after a space.
        p(r#"(^|[\s"'\[,])(--?[A-Za-z][A-Za-z0-9_-]*)([ \t]+|[ \t]*\r?\n[ \t]+)([^\s"',\]-][^\s"',\]]*)"#, |c| {
            if sensitive_name(c[2].trim_start_matches('-')) && !c[4].starts_with('[') {
                format!("{}{}{}{MASK}", &c[1], &c[2], &c[3])
            } else {
                c[0].to_string()
            }
        }),
    ]
});

/// The words of a name: split on `_`, `-`, `.` and camelCase, lowercased.
fn words_of(name: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && previous_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        current.push(c.to_ascii_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// Whether a name — an environment variable, a JSON or YAML key, a flag — holds a secret, by its
/// last word: `DB_PASSWORD`, `db-pass`, `apiKey`, `ENCRYPTION_KEY`, `clientSecret`, `--password`,
/// `DATABASE_URL`'s cousin `CONNECTION_STRING`; not `secretName`, `tokenTTL`, `passwordPolicy`,
/// a lone `key` (tolerations, selectors) or `publicKey`.
pub fn sensitive_name(name: &str) -> bool {
    const SECRET_WORDS: &[&str] = &[
        "password",
        "passwd",
        "pwd",
        "pass",
        "passphrase",
        "secret",
        "token",
        "apikey",
        "credential",
        "auth",
        "privatekey",
        "dsn",
        "cert",
        "pin",
    ];
    let words = words_of(name);
    let Some(last) = words.last() else { return false };
    let singular = last.strip_suffix('s').filter(|s| s.len() > 2).unwrap_or(last);
    let before = words.len().checked_sub(2).and_then(|i| words.get(i)).map(String::as_str);
    SECRET_WORDS.contains(&last.as_str())
        || SECRET_WORDS.contains(&singular)
        || (singular == "key" && before.is_some_and(|b| b != "public" && b != "ref"))
        || (last == "string" && before == Some("connection"))
}

/// Redacts text someone pipes in or hands over as a base (`kubectl get … -o yaml|json`, logs,
/// anything): objects as objects first, then everything as text.
pub fn redact_input(text: &str) -> String {
    redact_text(&redact_output(text))
}

/// Redacts what a program printed when it is objects — a JSON document, a stream of them (a watch),
/// YAML documents, a `List`, items with or without `kind` — as objects, whatever its size: a
/// Secret's values are masked whatever their keys are called. Rendered back in the same format.
/// Other text is returned as it is, for the text pass.
pub fn redact_output(text: &str) -> String {
    let trimmed = text.trim_start();
    if trimmed.starts_with(['{', '[']) {
        let values: Result<Vec<Value>, _> = serde_json::Deserializer::from_str(trimmed).into_iter::<Value>().collect();
        return match values {
            Ok(mut values) if !values.is_empty() => {
                values.iter_mut().for_each(redact_value);
                let rendered: Vec<String> =
                    values.iter().map(|v| serde_json::to_string_pretty(v).unwrap_or_default()).collect();
                rendered.join("\n") + "\n"
            }
            // Not JSON after all (or cut): masked as text, never passed on as it is.
            _ => redact_text(text),
        };
    }
    if !(trimmed.starts_with("apiVersion:")
        || text.contains("\nkind:")
        || text.contains("\napiVersion:")
        || trimmed.starts_with("items:"))
    {
        return text.to_string();
    }
    match crate::snapshot::parse_documents(text) {
        Ok(docs) if !docs.is_empty() => docs
            .into_iter()
            .map(|d| {
                let mut v = d.value;
                redact_value(&mut v);
                serde_saphyr::to_string(&v).unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join("---\n"),
        _ => redact_text(text),
    }
}

/// Masks secret-looking values in free text.
pub fn redact_text(text: &str) -> String {
    let mut out = text.to_string();
    for p in PATTERNS.iter() {
        if p.re.is_match(&out) {
            out = p.re.replace_all(&out, |c: &Captures<'_>| (p.replace)(c)).into_owned();
        }
    }
    out
}

/// Redacts a Kubernetes object (or any JSON) in place: Secret values, sensitive env literals,
/// last-applied annotations, then every string.
pub fn redact_value(value: &mut Value) {
    if let Value::Object(map) = value {
        for (key, v) in map.iter_mut() {
            if v.is_string() && sensitive_name(key) {
                *v = Value::String(MASK.into());
            }
        }
        if secret_shaped(map) {
            for field in ["data", "stringData"] {
                if let Some(Value::Object(data)) = map.get_mut(field) {
                    for v in data.values_mut() {
                        *v = Value::String(MASK.into());
                    }
                }
            }
        }
        if let Some(Value::Object(annotations)) = map.get_mut("metadata").and_then(|m| m.get_mut("annotations")) {
            annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
        }
        if let Some(Value::Array(env)) = map.get_mut("env") {
            for var in env.iter_mut() {
                let sensitive = var["name"].as_str().is_some_and(sensitive_name);
                if sensitive && var.get("value").is_some() {
                    var["value"] = Value::String(MASK.into());
                }
            }
        }
    }
    match value {
        Value::String(s) => *s = redact_text(s),
        Value::Array(items) => {
            // Arguments: `["--password", "hunter2"]`: the value after a flag named like a secret.
            let mut after_flag = false;
            for item in items.iter_mut() {
                let flag = item.as_str().is_some_and(|a| {
                    a.starts_with('-') && !a.contains('=') && sensitive_name(a.trim_start_matches('-'))
                });
                if after_flag && item.is_string() {
                    *item = Value::String(MASK.into());
                }
                after_flag = flag;
                redact_value(item);
            }
        }
        Value::Object(map) => map.values_mut().for_each(redact_value),
        _ => {}
    }
}

/// A Secret, with or without its `kind`: `kind: Secret`, or `data`/`stringData` beside a Secret's
/// `type` (`Opaque`, `kubernetes.io/…`, `bootstrap.kubernetes.io/token`).
fn secret_shaped(map: &serde_json::Map<String, Value>) -> bool {
    let kind = map.get("kind").and_then(Value::as_str);
    let secret_type = map
        .get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| t == "Opaque" || t.starts_with("kubernetes.io/") || t.starts_with("bootstrap.kubernetes.io/"));
    kind == Some("Secret")
        || (kind.is_none() && secret_type && (map.contains_key("data") || map.contains_key("stringData")))
}

/// Text that came from the cluster or from a person's input, marked as data before it reaches a
/// model: inside a `<data>` block the system prompts name as data (never instructions), without
/// control, bidirectional or zero-width characters, and without anything that imitates a role,
/// tool-call or data marker.
pub fn as_data(source: &str, text: &str) -> String {
    let source: String = source.chars().filter(|c| !c.is_control() && *c != '"' && *c != '>').take(120).collect();
    format!("<data source=\"{source}\">\n{}\n</data>", neutralize(text).trim_end())
}

/// A character that could hide or rewrite what a person or a model reads: a control character, a
/// bidirectional override or isolate, a zero-width character.
pub(crate) fn hidden(c: char) -> bool {
    c.is_control() || matches!(c as u32, 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2069 | 0xFEFF | 0x061C | 0x180E)
}

/// Removes what could pass for instructions or markers in untrusted text.
pub fn neutralize(text: &str) -> String {
    #[allow(clippy::expect_used)] // a constant pattern, covered by the tests
    static MARKERS: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)</?\s*data\b[^>]*>|<\|[a-z_ ]{1,24}\|>|\[/?INST\]|<</?SYS>>|</?\s*(?:tool_calls?|tool_result|function_calls?|function|system|assistant|user|tool|im_start|im_end|think)\b[^>]*>")
            .expect("valid pattern")
    });
    let visible: String = text.chars().filter(|&c| c == '\n' || c == '\t' || !hidden(c)).collect();
    MARKERS.replace_all(&visible, "[marker]").into_owned()
}

/// Replaces what identifies a cluster with placeholders, and puts them back in answers.
#[derive(Clone, Debug, Default)]
pub struct Anonymizer {
    /// Real value → placeholder.
    forward: BTreeMap<String, String>,
    counters: BTreeMap<&'static str, usize>,
}

#[allow(clippy::expect_used)]
static IP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}\b").expect("valid pattern")
});
#[allow(clippy::expect_used)]
static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b").expect("valid pattern"));
#[allow(clippy::expect_used)]
static HOST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:com|net|org|io|dev|cloud|local|internal|svc|cn|de|uk|fr|jp|eu|us)\b").expect("valid pattern")
});
/// Hosts that say nothing about whose cluster it is.
const PUBLIC_HOSTS: &[&str] = &[
    "kubernetes.io",
    "k8s.io",
    "registry.k8s.io",
    "docker.io",
    "quay.io",
    "gcr.io",
    "ghcr.io",
    "github.com",
    "cluster.local",
];

impl Anonymizer {
    /// Adds a value to hide, of a category (`ns`, `obj`, `image`, `host`, `ip`, `mail`).
    pub fn add(&mut self, category: &'static str, real: &str) {
        let real = real.trim();
        if real.len() < 2 || self.forward.contains_key(real) || PUBLIC_HOSTS.contains(&real) {
            return;
        }
        let n = self.counters.entry(category).or_insert(0);
        *n += 1;
        self.forward.insert(real.to_string(), format!("{category}-{n:03}"));
    }

    /// Adds what identifies the objects of a snapshot: namespaces, names, images, nodes, IPs.
    pub fn learn(&mut self, snapshot: &crate::snapshot::Snapshot) {
        let o = &snapshot.objects;
        o.for_each_meta(|_, meta| {
            if let Some(ns) = &meta.namespace {
                self.add("ns", ns);
            }
            if let Some(name) = &meta.name {
                self.add("obj", name);
            }
        });
        for pod in &o.pods {
            let spec = pod.spec.as_ref();
            for c in spec.map(|s| s.containers.iter().chain(s.init_containers.iter().flatten())).into_iter().flatten() {
                if let Some(image) = &c.image {
                    self.add_image(image);
                }
            }
            for cs in pod.status.iter().flat_map(|s| s.container_statuses.iter().flatten()) {
                self.add_image(&cs.image);
            }
            if let Some(ip) = pod.status.as_ref().and_then(|s| s.pod_ip.as_ref()) {
                self.add("ip", ip);
            }
        }
    }

    fn add_image(&mut self, image: &str) {
        self.add("image", image);
        let repository = image.split('@').next().unwrap_or(image);
        let repository = match repository.rsplit_once(':') {
            Some((repo, tag)) if !tag.contains('/') => repo,
            _ => repository,
        };
        self.add("image", repository);
        if let Some((host, _)) = repository.split_once('/').filter(|(h, _)| h.contains('.') || h.contains(':')) {
            self.add("host", host);
        }
    }

    /// The text with every known value, and every IP, email and host it contains, replaced.
    pub fn apply(&mut self, text: &str) -> String {
        for re in [&*EMAIL, &*IP, &*HOST] {
            let found: Vec<String> = re.find_iter(text).map(|m| m.as_str().to_string()).collect();
            for value in found {
                let category = if re.as_str() == EMAIL.as_str() {
                    "mail"
                } else if re.as_str() == IP.as_str() {
                    "ip"
                } else {
                    "host"
                };
                self.add(category, &value);
            }
        }
        let mut reals: Vec<(&String, &String)> = self.forward.iter().collect();
        reals.sort_by_key(|(real, _)| std::cmp::Reverse(real.len()));
        let mut out = text.to_string();
        for (real, placeholder) in reals {
            out = replace_bounded(&out, real, placeholder);
        }
        out
    }

    /// Puts the real values back into an answer.
    pub fn restore(&self, text: &str) -> String {
        let mut placeholders: Vec<(&String, &String)> = self.forward.iter().map(|(r, p)| (p, r)).collect();
        placeholders.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        let mut out = text.to_string();
        for (placeholder, real) in placeholders {
            out = out.replace(placeholder.as_str(), real);
        }
        out
    }
}

/// Replaces `needle` where it stands as a whole (not inside a longer alphanumeric word).
fn replace_bounded(text: &str, needle: &str, with: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(needle) {
        let before = rest[..i].chars().next_back();
        let after = rest[i + needle.len()..].chars().next();
        let bounded = before.is_none_or(|c| !c.is_alphanumeric()) && after.is_none_or(|c| !c.is_alphanumeric());
        out.push_str(&rest[..i]);
        out.push_str(if bounded { with } else { needle });
        rest = &rest[i + needle.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_table() {
        let cases = [
            ("password=hunter2 ok", "password=[REDACTED] ok"),
            ("DB_PASSWORD=hunter2", "DB_PASSWORD=[REDACTED]"),
            ("api_key: abc123", "api_key: [REDACTED]"),
            (r#"{"client_secret":"abc"}"#, r#"{"client_secret":"[REDACTED]"}"#),
            ("Authorization: Bearer abcdefghijklmnop", "Authorization: Bearer [REDACTED]"),
            ("postgres://app:s3cret@db:5432/x", "postgres://app:[REDACTED]@db:5432/x"),
            ("key AKIAIOSFODNN7EXAMPLE here", "key [REDACTED] here"),
            ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N", "jwt [REDACTED]"),
            ("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----", "[REDACTED PRIVATE KEY]"),
            ("secretName: db-creds", "secretName: db-creds"),
            ("passwordPolicy: strict", "passwordPolicy: strict"),
            ("secret:\n  secretName: x", "secret:\n  secretName: x"),
            ("token: {name: x}", "token: {name: x}"),
            ("run --db-password hunter2 now", "run --db-password [REDACTED] now"),
            ("    Args:\n      --password\n      hunter2", "    Args:\n      --password\n      [REDACTED]"),
            ("    Args:\n      --verbose\n      web", "    Args:\n      --verbose\n      web"),
            ("nothing to see", "nothing to see"),
        ];
        for (input, want) in cases {
            assert_eq!(redact_text(input), want, "{input}");
            assert_eq!(redact_text(want), want, "idempotent: {want}");
        }
    }

    #[test]
    fn objects() {
        let mut secret = json!({
            "kind": "Secret",
            "metadata": {"name": "s", "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{\"p\":\"Q0FOQVJZ\"}}"}},
            "data": {"p": "Q0FOQVJZ"},
            "stringData": {"t": "CANARY"}
        });
        redact_value(&mut secret);
        let text = secret.to_string();
        assert!(!text.contains("CANARY") && !text.contains("Q0FOQVJZ"), "{text}");
        let mut pod = json!({"spec": {"containers": [{"name": "a", "env": [
            {"name": "DB_PASSWORD", "value": "CANARY1"},
            {"name": "LOG_LEVEL", "value": "info"},
            {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "x", "key": "t"}}}
        ]}]}});
        redact_value(&mut pod);
        let env = &pod["spec"]["containers"][0]["env"];
        assert_eq!(env[0]["value"], MASK);
        assert_eq!(env[1]["value"], "info");
        assert_eq!(env[2]["valueFrom"]["secretKeyRef"]["name"], "x");
    }

    #[test]
    fn anonymizer_round_trip() {
        let mut a = Anonymizer::default();
        a.add("ns", "shop");
        a.add("obj", "checkout");
        a.add("obj", "checkout-6f8d9c7b5-2xkqp");
        a.add_image("registry.example.com/shop/checkout:2.1.0");
        let text = "pod checkout-6f8d9c7b5-2xkqp of checkout in shop pulls registry.example.com/shop/checkout:2.1.0 from 10.1.2.3, mail ops@example.com; shopping stays";
        let sent = a.apply(text);
        for real in ["shop ", "checkout", "registry.example.com", "10.1.2.3", "ops@example.com"] {
            assert!(!sent.contains(real), "{real} in {sent}");
        }
        assert!(sent.contains("shopping stays"), "whole words only: {sent}");
        assert_eq!(a.restore(&sent), text);
    }
}

/// Property tests (docs/reliability.md): the same parsers have cargo-fuzz targets in `fuzz/`.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use crate::llm::redact::{MASK, redact_input, redact_text, redact_value};
    use crate::testing::{config, json_value};

    /// A path into a value: object keys and array indexes.
    fn nest(value: Value, path: &[(bool, String)]) -> Value {
        path.iter()
            .rev()
            .fold(value, |inner, (array, key)| if *array { json!([1, inner]) } else { json!({ key: inner }) })
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
}
