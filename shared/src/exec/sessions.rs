//! Saved exec conversations: `<XDG state dir>/opsagent/sessions/ID.json`, one file per session,
//! written atomically and readable by its owner only (0600). A session holds only what was sent to
//! the model — already redacted — and the answers, with its context, namespace, model and usage, so
//! a resumed session continues from the same facts without calling the same tools again.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::llm::Message;

/// Sessions kept: the oldest beyond this are deleted when one is saved.
pub const KEEP: usize = 100;

/// One saved conversation.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Saved {
    /// Its id: the time it began and a random suffix (`20261203-141002-7f3a`), sortable.
    pub id: String,
    /// When it began (RFC 3339).
    pub created: String,
    /// When it was last saved (RFC 3339).
    pub updated: String,
    /// The kubeconfig context it worked on.
    pub context: String,
    /// Its namespace.
    pub namespace: String,
    /// The API server's URL.
    #[serde(default)]
    pub server: String,
    /// The provider that answered (`openai`, `azure`, `ollama`).
    pub provider: String,
    /// The model that answered.
    pub model: String,
    /// The questions asked, in order (for listings).
    pub questions: Vec<String>,
    /// Model calls and tokens over the whole session.
    pub usage: super::Usage,
    /// The conversation after the instructions (which are rebuilt when it is resumed).
    pub messages: Vec<Message>,
}

impl Saved {
    /// A new session on the same context, namespace, server and model: a new id, nothing asked yet.
    pub fn fresh(&self) -> Saved {
        let now = jiff::Timestamp::now().to_string();
        Saved {
            id: new_id(),
            created: now.clone(),
            updated: now,
            context: self.context.clone(),
            namespace: self.namespace.clone(),
            server: self.server.clone(),
            provider: self.provider.clone(),
            model: self.model.clone(),
            questions: Vec::new(),
            usage: super::Usage::default(),
            messages: Vec::new(),
        }
    }
}

/// `$OPSAGENT_SESSIONS`, else `<XDG state dir>/opsagent/sessions`.
pub fn dir() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("OPSAGENT_SESSIONS").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    use etcetera::BaseStrategy as _;
    let strategy = etcetera::choose_base_strategy().ok()?;
    Some(strategy.state_dir().unwrap_or_else(|| strategy.data_dir()).join("opsagent").join("sessions"))
}

/// A new id: the time now and four random hex digits.
pub fn new_id() -> String {
    let now = jiff::Zoned::now();
    let mut random = [0u8; 2];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random);
    format!("{}-{}", now.strftime("%Y%m%d-%H%M%S"), crate::hex::hex(&random))
}

/// Whether `id` can name a session file (no path in it).
fn valid(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn file(dir: &Path, id: &str) -> Result<PathBuf, Error> {
    if !valid(id) {
        return Err(Error::Usage(format!("{id:?} is not a session id (see --list-sessions)")));
    }
    Ok(dir.join(format!("{id}.json")))
}

fn no_dir() -> Error {
    Error::Usage("no directory for sessions: set XDG_STATE_HOME or OPSAGENT_SESSIONS".into())
}

/// Saves a session (atomically, 0600) and deletes the oldest beyond [`KEEP`].
pub fn save(session: &Saved) -> Result<(), Error> {
    let dir = dir().ok_or_else(no_dir)?;
    std::fs::create_dir_all(&dir).map_err(|e| Error::Write { path: dir.clone(), source: e })?;
    let path = file(&dir, &session.id)?;
    crate::files::write_atomic(&path, |w| serde_json::to_writer(w, session).map_err(std::io::Error::other))?;
    let (all, _) = list_in(&dir);
    for old in all.iter().skip(KEEP) {
        let _ = std::fs::remove_file(dir.join(format!("{}.json", old.id)));
    }
    Ok(())
}

/// Every session, newest first, and a warning for each file that could not be read (skipped).
pub fn list() -> (Vec<Saved>, Vec<String>) {
    match dir() {
        Some(d) => list_in(&d),
        None => (Vec::new(), Vec::new()),
    }
}

fn list_in(dir: &Path) -> (Vec<Saved>, Vec<String>) {
    let mut sessions = Vec::new();
    let mut warnings = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return (sessions, warnings) };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        match std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<Saved>(&b).map_err(|e| e.to_string()))
        {
            Ok(s) => sessions.push(s),
            Err(e) => warnings.push(format!("session file {} skipped: {e}", path.display())),
        }
    }
    sessions.sort_by(|a, b| b.updated.cmp(&a.updated).then(b.id.cmp(&a.id)));
    warnings.sort();
    (sessions, warnings)
}

/// The session `id`, or the latest one.
pub fn load(id: Option<&str>) -> Result<Saved, Error> {
    let dir = dir().ok_or_else(no_dir)?;
    match id {
        Some(id) => {
            let path = file(&dir, id)?;
            let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Error::Usage(format!("no session {id} (see --list-sessions)")),
                _ => Error::input(path.display(), e),
            })?;
            serde_json::from_slice(&bytes)
                .map_err(|e| Error::input(path.display(), format!("is not a saved session: {e}")))
        }
        None => list_in(&dir).0.into_iter().next().ok_or_else(|| Error::Usage("no saved session to resume".into())),
    }
}

/// Deletes one session, or all; returns how many were deleted.
pub fn delete(id: Option<&str>) -> Result<usize, Error> {
    let dir = dir().ok_or_else(no_dir)?;
    match id {
        Some(id) => {
            let path = file(&dir, id)?;
            std::fs::remove_file(&path).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Error::Usage(format!("no session {id} (see --list-sessions)")),
                _ => Error::Write { path: path.clone(), source: e },
            })?;
            Ok(1)
        }
        None => {
            let mut n = 0;
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                if entry.path().extension().and_then(|e| e.to_str()) == Some("json")
                    && std::fs::remove_file(entry.path()).is_ok()
                {
                    n += 1;
                }
            }
            Ok(n)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_name_files_only() {
        assert!(valid(&new_id()));
        for bad in ["", "../x", "a/b", "x.json", &"a".repeat(65)] {
            assert!(!valid(bad), "{bad}");
        }
    }
}
