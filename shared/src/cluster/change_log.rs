//! The record of every change OpsAgent makes to a cluster: one JSON line per write, in the XDG
//! state directory (`~/.local/state/opsagent/audit.jsonl`), shared by `gen --apply` and `exec`.

use std::io::Write as _;
use std::path::PathBuf;

use serde::Serialize;

/// One write.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Entry<'a> {
    pub time: String,
    /// Who made the change: `gen`, `exec`, or `mcp` (exec's MCP server).
    pub tool: &'a str,
    pub context: Option<&'a str>,
    pub namespace: Option<&'a str>,
    /// What was done, as a command a person can read: `apply Deployment shop/web`.
    pub command: &'a str,
    /// `created`, `configured`, `unchanged`, or the refusal.
    pub result: &'a str,
    pub exit_code: i32,
}

/// `$OPSAGENT_AUDIT_LOG`, else `<XDG state dir>/opsagent/audit.jsonl`.
pub(crate) fn path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("OPSAGENT_AUDIT_LOG").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    use etcetera::BaseStrategy as _;
    let strategy = etcetera::choose_base_strategy().ok()?;
    Some(strategy.state_dir().unwrap_or_else(|| strategy.data_dir()).join("opsagent").join("audit.jsonl"))
}

/// Appends one entry (a line written whole, in one call, so that concurrent writers do not
/// interleave). A log that cannot be written is the caller's warning: the change itself has happened.
pub(crate) fn record(entry: &Entry<'_>) -> Result<(), String> {
    let Some(path) = path() else { return Ok(()) };
    let write = || -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut line = serde_json::to_vec(entry).map_err(std::io::Error::other)?;
        line.push(b'\n');
        std::fs::OpenOptions::new().create(true).append(true).open(&path)?.write_all(&line)
    };
    write().map_err(|e| format!("the audit log {} could not be written: {e}", path.display()))
}

/// Now, as RFC 3339.
pub(crate) fn now() -> String {
    jiff::Timestamp::now().to_string()
}
