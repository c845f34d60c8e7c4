//! The on-disk cache of answers, `<XDG cache dir>/opsagent/explain`: one JSON file per answer, named
//! by a hash of what was asked (the prompt's version, the provider, model, endpoint and language,
//! and the evidence). Shared by the explanations of analyze and of audit; a cache that cannot be
//! read or written is no error, only a request more.

use std::path::PathBuf;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::llm::ModelConfig;

fn dir() -> Option<PathBuf> {
    use etcetera::BaseStrategy as _;
    etcetera::choose_base_strategy().ok().map(|s| s.cache_dir().join("opsagent").join("explain"))
}

fn key(version: &str, config: &ModelConfig, evidence: &str) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for part in [
        version,
        &format!("{:?}", config.provider),
        &config.model,
        &config.base_url,
        &config.language,
        config.instructions.as_deref().unwrap_or_default(),
        evidence,
    ] {
        ctx.update(part.as_bytes());
        ctx.update(b"\0");
    }
    crate::hex::hex(ctx.finish().as_ref())
}

/// The answer cached for this evidence, asked with this prompt `version` of this model.
pub(super) fn get<T: DeserializeOwned>(version: &str, config: &ModelConfig, evidence: &str) -> Option<T> {
    let path = dir()?.join(format!("{}.json", key(version, config, evidence)));
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Keeps an answer (atomically: a reader never sees half a file).
pub(super) fn put<T: Serialize>(version: &str, config: &ModelConfig, evidence: &str, answer: &T) {
    let Some(dir) = dir() else { return };
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let path = dir.join(format!("{}.json", key(version, config, evidence)));
    let written =
        crate::files::write_atomic(&path, |w| serde_json::to_writer(&mut *w, answer).map_err(std::io::Error::other));
    if let Err(e) = written {
        tracing::info!("cannot cache an answer: {e}");
    }
}
