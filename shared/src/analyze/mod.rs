//! Rule-based analyzers: they read a [`Snapshot`] and report [`Finding`]s, with no model involved.

mod index;
pub mod pod;

use std::collections::BTreeSet;

use jiff::Timestamp;

pub use index::{Index, Owner, OwnerLink};

use crate::error::Error;
use crate::findings::Finding;
use crate::snapshot::{Kind, Snapshot};

/// What an analyzer sees.
pub struct Context<'a> {
    pub snapshot: &'a Snapshot,
    pub index: Index<'a>,
    /// The moment the snapshot describes; ages are measured from it.
    pub now: Timestamp,
}

/// One analyzer of the catalog.
pub trait Analyzer: Sync {
    /// The name used by `--filter`/`--exclude`.
    fn name(&self) -> &'static str;
    /// One line for `--list-analyzers`.
    fn description(&self) -> &'static str;
    /// The kind it reports on; the analyzer is skipped when the snapshot lacks it.
    fn subject(&self) -> Kind;
    /// Other kinds it reads for context (events, owners…).
    fn evidence(&self) -> &'static [Kind];
    fn analyze(&self, cx: &Context<'_>, out: &mut Vec<Finding>);
}

impl std::fmt::Debug for dyn Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The catalog, in reporting order.
pub static ANALYZERS: &[&dyn Analyzer] = &[&pod::PodAnalyzer];

/// Chooses analyzers by `--filter` (allow-list) and `--exclude` (deny-list), case-insensitively.
pub fn select(filter: &[String], exclude: &[String]) -> Result<Vec<&'static dyn Analyzer>, Error> {
    let known = || ANALYZERS.iter().map(|a| a.name()).collect::<Vec<_>>().join(", ");
    for name in filter.iter().chain(exclude) {
        if !ANALYZERS.iter().any(|a| a.name().eq_ignore_ascii_case(name)) {
            return Err(Error::Usage(format!("unknown analyzer {name:?} (known: {})", known())));
        }
    }
    let picked: Vec<&'static dyn Analyzer> = ANALYZERS
        .iter()
        .copied()
        .filter(|a| filter.is_empty() || filter.iter().any(|f| a.name().eq_ignore_ascii_case(f)))
        .filter(|a| !exclude.iter().any(|x| a.name().eq_ignore_ascii_case(x)))
        .collect();
    if picked.is_empty() {
        return Err(Error::Usage("--filter and --exclude leave no analyzer to run".to_string()));
    }
    Ok(picked)
}

/// The kinds the analyzers read, to fetch from a live cluster.
pub fn kinds_needed(analyzers: &[&dyn Analyzer]) -> BTreeSet<Kind> {
    analyzers.iter().flat_map(|a| std::iter::once(a.subject()).chain(a.evidence().iter().copied())).collect()
}

/// Runs the analyzers over the snapshot. Findings come out in a stable order: namespace, then
/// severity (worst first), kind, name.
pub fn run(snapshot: &Snapshot, analyzers: &[&dyn Analyzer]) -> Vec<Finding> {
    let cx = Context { snapshot, index: Index::new(snapshot), now: snapshot.info.captured_at };
    let mut out = Vec::new();
    for analyzer in analyzers {
        if !snapshot.has(analyzer.subject()) {
            tracing::info!(
                "skipping the {} analyzer: the snapshot has no {}",
                analyzer.name(),
                analyzer.subject().plural()
            );
            continue;
        }
        analyzer.analyze(&cx, &mut out);
    }
    out.sort_by(|a, b| {
        (&a.namespace, std::cmp::Reverse(a.severity), &a.kind, &a.name, &a.reason).cmp(&(
            &b.namespace,
            std::cmp::Reverse(b.severity),
            &b.kind,
            &b.name,
            &b.reason,
        ))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection() {
        assert_eq!(select(&[], &[]).unwrap().len(), ANALYZERS.len());
        assert_eq!(select(&["pod".into()], &[]).unwrap()[0].name(), "Pod");
        let err = select(&["nope".into()], &[]).unwrap_err().to_string();
        assert!(err.starts_with("unknown analyzer \"nope\" (known: Pod"), "{err}");
        assert!(select(&[], &["Pod".into()]).is_err());
    }
}
