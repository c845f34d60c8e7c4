//! Entry points of the cargo-fuzz targets in `fuzz/` (`make fuzz`), one per parser of untrusted
//! input. Each takes arbitrary bytes and checks what must hold whatever they are; the committed
//! seed corpus runs through them in `make test` on a stable toolchain.

use crate::llm::redact::{redact_input, redact_text};
use crate::llm::reply::extract_json;
use crate::snapshot::Snapshot;

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
    if let Some(yaml) = crate::generate::extract(&text) {
        assert!(yaml.ends_with('\n') && !yaml.trim().is_empty());
        let _ = crate::generate::manifest::parse(&yaml);
    }
}

/// The kubectl tool's command line: a pipeline or a refusal; the kubectl part never holds a
/// shell construct the splitter let through.
pub fn pipeline(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(p) = crate::exec::tools::pipeline::parse(&text) {
        for stage in &p.stages {
            let _ = crate::exec::tools::pipeline::apply(stage, "a\nb\n{\"items\": []}\n");
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

/// A fuzz target's entry point.
pub type Target = fn(&[u8]);

/// The targets by name, as `fuzz/corpus/<name>/` holds their seeds.
pub const TARGETS: [(&str, Target); 5] =
    [("reply", reply), ("yaml", yaml), ("pipeline", pipeline), ("snapshot", snapshot), ("redaction", redaction)];

#[cfg(test)]
mod tests {
    use super::*;

    /// Every seed of the committed corpus goes through its target.
    #[test]
    fn the_seed_corpus_passes() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
        for (name, target) in TARGETS {
            let dir = root.join(name);
            let seeds: Vec<_> = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .map(|e| e.unwrap().path())
                .collect();
            assert!(seeds.len() >= 3, "{name}: a seed corpus of a few files");
            for seed in seeds {
                let data = std::fs::read(&seed).unwrap();
                target(&data);
            }
        }
    }
}
