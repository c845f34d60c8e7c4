//! What must hold for any input to each parser of untrusted input, whatever the bytes: one
//! function per cargo-fuzz target. The targets in `fuzz_targets/` call these, and so does the
//! seed-corpus test of the integration tests (`tests/tests/it/fuzz.rs`), on a stable toolchain.
//! Everything here goes through the library's public API.

use opsagent::exec::pipeline;
use opsagent::llm::redact::{redact_input, redact_text};
use opsagent::llm::reply::extract_json;
use opsagent::snapshot::Snapshot;

/// A model's answer: reasoning, fences and JSON taken apart.
pub fn reply(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Some(v) = extract_json(&text) {
        assert!(serde_json::to_string(&v).is_ok());
    }
}

/// The manifests of a gen answer: what is extracted is YAML the manifest parser takes or refuses.
pub fn yaml(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Some(yaml) = opsagent::generate::extract(&text) {
        assert!(yaml.ends_with('\n') && !yaml.trim().is_empty());
        let _ = opsagent::generate::manifest::parse(&yaml);
    }
}

/// The kubectl tool's command line: a pipeline or a refusal; its stages run on any input.
pub fn pipeline(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(p) = pipeline::parse(&text) {
        for stage in &p.stages {
            let _ = pipeline::apply(stage, "a\nb\n{\"items\": []}\n");
        }
    }
}

/// A snapshot file (`--snapshot`, `-f -`): loaded or refused with a line number, never a panic.
pub fn snapshot(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Snapshot::from_text("fuzz", text);
    }
}

/// Redaction: idempotent on text; objects piped in are redacted without a panic.
pub fn redaction(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let once = redact_text(&text);
    assert_eq!(redact_text(&once), once, "redaction is idempotent");
    let _ = redact_input(&text);
}

/// A target's check.
pub type Check = fn(&[u8]);

/// The targets by name, as `fuzz/corpus/<name>/` holds their seeds.
pub const TARGETS: [(&str, Check); 5] =
    [("reply", reply), ("yaml", yaml), ("pipeline", pipeline), ("snapshot", snapshot), ("redaction", redaction)];
