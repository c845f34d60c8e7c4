//! Writing files so that nothing is ever half-written: a temporary file beside the target, renamed
//! over it only once complete.

use std::io::{BufWriter, Write};
use std::path::Path;

use crate::error::Error;

/// Writes `path` atomically with what `fill` produces. On any error the target is left untouched.
pub(crate) fn write_atomic(path: &Path, fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<(), Error> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let failed = |source: std::io::Error| Error::Write { path: path.to_path_buf(), source };
    let tmp = tempfile::Builder::new().prefix(".opsagent-").tempfile_in(dir).map_err(failed)?;
    {
        let mut out = BufWriter::new(tmp.as_file());
        fill(&mut out).and_then(|()| out.flush()).map_err(failed)?;
    }
    tmp.as_file().sync_all().map_err(failed)?;
    tmp.persist(path).map_err(|e| failed(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.yaml");
        std::fs::write(&path, "old").unwrap();
        let err = write_atomic(&path, |w| {
            w.write_all(b"partial")?;
            Err(std::io::Error::other("boom"))
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left behind");
        write_atomic(&path, |w| w.write_all(b"new")).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
    }
}
