//! Snapshots from files: `--snapshot FILE|-`.

use std::collections::BTreeSet;
use std::path::Path;

use jiff::Timestamp;
use serde_json::Value;

use super::{
    ContainerLog, EXTENSION_API_VERSION, Intake, Kind, ParseError, Snapshot, SnapshotInfo, each_document_in,
    newest_timestamp,
};
use crate::error::Error;

impl Snapshot {
    /// Reads a snapshot from a file or a directory (text already read, stdin's: [`Snapshot::from_text`]).
    ///
    /// A directory contributes its `*.yaml`, `*.yml` and `*.json` files (like `kubectl apply -f DIR`)
    /// and the container logs under `logs/<namespace>/<pod>/<container>[.previous].log`.
    pub fn from_file(path: &Path) -> Result<Snapshot, Error> {
        Snapshot::from_file_keeping(path, Intake::ALL)
    }

    /// [`Snapshot::from_file`], keeping only what `intake` keeps.
    pub fn from_file_keeping(path: &Path, intake: Intake) -> Result<Snapshot, Error> {
        if path.is_dir() {
            return Snapshot::from_dir(path, intake);
        }
        let (file, size) = open(path)?;
        Snapshot::read_one(&path.display().to_string(), file, size, intake)
    }

    fn from_dir(dir: &Path, intake: Intake) -> Result<Snapshot, Error> {
        let name = dir.display().to_string();
        let mut loader = Loader::new(intake);
        let mut any = false;
        for file in listing(dir)? {
            let is_state = file.extension().is_some_and(|x| x == "yaml" || x == "yml" || x == "json");
            if file.is_file() && is_state {
                // Each file read alone, so that its errors name it.
                let (reader, size) = open(&file)?;
                any |= loader.read(&file.display().to_string(), reader, size)?;
            }
        }
        if !any {
            return Err(Error::input(&name, "holds no *.yaml, *.yml or *.json file"));
        }
        let mut snapshot = loader.finish(&name);
        let logs = dir.join("logs");
        if logs.is_dir() {
            snapshot.logs.extend(read_log_dir(&logs)?);
        }
        Ok(snapshot)
    }

    /// Reads a snapshot as it streams in from `reader` (stdin's); `source` names it in errors.
    pub fn from_reader(source: &str, reader: impl std::io::Read) -> Result<Snapshot, Error> {
        Snapshot::from_reader_keeping(source, reader, Intake::ALL)
    }

    /// [`Snapshot::from_reader`], keeping only what `intake` keeps.
    pub fn from_reader_keeping(source: &str, reader: impl std::io::Read, intake: Intake) -> Result<Snapshot, Error> {
        Snapshot::read_one(source, reader, usize::MAX, intake)
    }

    /// Reads a snapshot from text; `source` names it in errors.
    pub fn from_text(source: &str, text: &str) -> Result<Snapshot, Error> {
        Snapshot::from_text_keeping(source, text, Intake::ALL)
    }

    /// [`Snapshot::from_text`], keeping only what `intake` keeps.
    pub fn from_text_keeping(source: &str, text: &str, intake: Intake) -> Result<Snapshot, Error> {
        Snapshot::read_one(source, text.as_bytes(), text.len(), intake)
    }

    /// A snapshot of one input, which must hold more than whitespace.
    fn read_one(source: &str, reader: impl std::io::Read, size_hint: usize, intake: Intake) -> Result<Snapshot, Error> {
        let mut loader = Loader::new(intake);
        if !loader.read(source, reader, size_hint)? {
            return Err(Error::input(source, "is empty: expected Kubernetes objects as YAML or JSON"));
        }
        Ok(loader.finish(source))
    }
}

/// Opens a state file: the file and its size.
fn open(path: &Path) -> Result<(std::fs::File, usize), Error> {
    let file = std::fs::File::open(path).map_err(|e| Error::input(path.display(), io_reason(&e)))?;
    let size = file.metadata().map(|m| m.len() as usize).unwrap_or(usize::MAX);
    Ok((file, size))
}

/// Reads container logs laid out as `<namespace>/<pod>/<container>.log` (the current instance) and
/// `<container>.previous.log` (the previous one).
pub fn read_log_dir(dir: &Path) -> Result<Vec<ContainerLog>, Error> {
    let file_name = |p: &Path| p.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
    let mut logs = Vec::new();
    for ns in listing(dir)? {
        for pod in listing(&ns)? {
            for file in listing(&pod)? {
                let name = file_name(&file);
                let Some(stem) = name.strip_suffix(".log") else { continue };
                let (container, previous) = match stem.strip_suffix(".previous") {
                    Some(c) => (c, true),
                    None => (stem, false),
                };
                logs.push(ContainerLog {
                    namespace: file_name(&ns),
                    pod: file_name(&pod),
                    container: container.to_string(),
                    previous,
                    text: read_text(&file)?,
                });
            }
        }
    }
    Ok(logs)
}

/// The entries of a directory, sorted.
fn listing(dir: &Path) -> Result<Vec<std::path::PathBuf>, Error> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| Error::input(dir.display(), io_reason(&e)))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    Ok(entries)
}

/// Reads a whole file as UTF-8 text.
fn read_text(path: &Path) -> Result<String, Error> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| Error::input(&name, io_reason(&e)))?;
    String::from_utf8(bytes).map_err(|_| Error::input(&name, "not UTF-8 text"))
}

/// A snapshot being read from one or more inputs.
struct Loader {
    snapshot: Snapshot,
    info: Option<SnapshotInfo>,
    newest: Option<Timestamp>,
    intake: Intake,
    /// The kinds the input holds, kept or not.
    held: BTreeSet<Kind>,
}

impl Loader {
    fn new(intake: Intake) -> Loader {
        Loader { snapshot: Snapshot::default(), info: None, newest: None, intake, held: BTreeSet::new() }
    }

    /// Reads every object of one input, each typed as soon as it is read: neither the text nor its
    /// tree is ever whole. Whether the input held anything but whitespace.
    fn read(&mut self, source: &str, reader: impl std::io::Read, size_hint: usize) -> Result<bool, Error> {
        let Loader { snapshot, info, newest, intake, held } = self;
        let mut reader = NotBlank { inner: reader, seen: false };
        each_document_in(&mut reader, size_hint, &mut |doc| {
            let api_version = doc.value["apiVersion"].as_str().unwrap_or_default().to_string();
            let kind_name = doc.value["kind"].as_str().unwrap_or_default().to_string();
            let (line, what) = (doc.line, describe(&doc.value));
            let at = |e: &dyn std::fmt::Display| ParseError {
                line: Some(line),
                message: format!("{kind_name} {what}: {e}"),
            };
            if api_version == EXTENSION_API_VERSION {
                match kind_name.as_str() {
                    "SnapshotInfo" => *info = Some(serde_json::from_value(strip_type(doc.value)).map_err(|e| at(&e))?),
                    "ContainerLog" => snapshot.logs.push(ContainerLog::from_document(&doc.value).map_err(|e| at(&e))?),
                    _ => *snapshot.skipped.entry(format!("{api_version}/{kind_name}")).or_default() += 1,
                }
                return Ok(());
            }
            match Kind::from_type(&api_version, &kind_name) {
                Some(kind) => {
                    *newest = (*newest).max(newest_timestamp(&doc.value));
                    held.insert(kind);
                    if intake.wants(kind) {
                        let mut value = doc.value;
                        super::lean(&mut value);
                        if let Some(trim) = intake.trim {
                            trim(kind, &mut value);
                        }
                        snapshot.objects.insert_value(kind, value, intake.keep).map_err(|e| at(&e))?;
                    }
                }
                None => *snapshot.skipped.entry(format!("{api_version}/{kind_name}")).or_default() += 1,
            }
            Ok(())
        })
        .map_err(|e| Error::input(source, e))?;
        Ok(reader.seen)
    }

    fn finish(self, source: &str) -> Snapshot {
        let Loader { mut snapshot, info, newest, held, .. } = self;
        snapshot.info = match info {
            Some(info) => info,
            // A plain `kubectl get -o yaml`: the kinds present are the kinds read, and the state is as
            // of the newest moment it records.
            None => SnapshotInfo {
                captured_at: newest.unwrap_or_else(Timestamp::now),
                kinds: held,
                ..SnapshotInfo::default()
            },
        };
        for (what, count) in &snapshot.skipped {
            tracing::info!("{source}: skipped {count} object(s) of {what}, which analyzers do not read");
        }
        snapshot.scrub();
        snapshot
    }
}

/// A reader that notes whether anything but whitespace went through it.
struct NotBlank<R> {
    inner: R,
    seen: bool,
}

impl<R: std::io::Read> std::io::Read for NotBlank<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.seen = self.seen || buf[..n].iter().any(|b| !b.is_ascii_whitespace());
        Ok(n)
    }
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ if e.raw_os_error() == Some(21) => "is a directory, expected a file".to_string(),
        _ => e.to_string(),
    }
}

fn describe(value: &Value) -> String {
    let meta = &value["metadata"];
    match (meta["namespace"].as_str(), meta["name"].as_str()) {
        (Some(ns), Some(name)) => format!("{ns}/{name}"),
        (None, Some(name)) => name.to_string(),
        _ => "(unnamed)".to_string(),
    }
}

fn strip_type(mut value: Value) -> Value {
    if let Value::Object(map) = &mut value {
        map.remove("apiVersion");
        map.remove("kind");
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATE: &str = r#"
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: web, namespace: shop, creationTimestamp: "2026-01-01T10:00:00Z", labels: {app: web}}
- apiVersion: v1
  kind: Secret
  metadata:
    name: creds
    namespace: shop
    annotations:
      kubectl.kubernetes.io/last-applied-configuration: '{"data":{"password":"c2VjcmV0"}}'
  data: {password: c2VjcmV0}
  stringData: {token: plain}
- apiVersion: example.com/v1
  kind: Widget
  metadata: {name: w}
- apiVersion: v1
  kind: Event
  metadata: {name: e, namespace: shop}
  lastTimestamp: "2026-01-01T10:05:00Z"
"#;

    #[test]
    fn a_plain_kubectl_list_loads() {
        let snap = Snapshot::from_text("s.yaml", STATE).unwrap();
        assert_eq!(snap.objects.pods.len(), 1);
        assert_eq!(snap.info.captured_at.to_string(), "2026-01-01T10:05:00Z");
        assert!(snap.has(Kind::Pod) && snap.has(Kind::Secret) && !snap.has(Kind::Node));
        assert_eq!(snap.skipped.get("example.com/v1/Widget"), Some(&1));
    }

    #[test]
    fn an_intake_keeps_only_its_kinds_and_objects_but_knows_what_the_input_held() {
        let state = format!(
            "{STATE}- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: owned\n    namespace: shop\n    \
             ownerReferences: [{{apiVersion: apps/v1, kind: ReplicaSet, name: rs, uid: u1, controller: true}}]\n"
        );
        let all = Snapshot::from_text("s.yaml", &state).unwrap();
        assert_eq!((all.objects.pods.len(), all.objects.events.len()), (2, 1));
        let bare = |_: Kind, meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
            meta.owner_references.is_none()
        };
        let intake = Intake { kinds: Some(&[Kind::Pod]), keep: Some(bare), trim: None };
        let kept = Snapshot::from_text_keeping("s.yaml", &state, intake).unwrap();
        let names: Vec<_> = kept.objects.pods.iter().map(|p| p.metadata.name.as_deref().unwrap()).collect();
        assert_eq!(names, ["web"]);
        assert_eq!(kept.objects.count(Kind::Event) + kept.objects.count(Kind::Secret), 0);
        // What a plain file holds completely does not depend on what a plugin keeps of it.
        assert_eq!(kept.info.kinds, all.info.kinds);
        assert_eq!(kept.info.captured_at, all.info.captured_at);
    }

    #[test]
    fn secret_values_never_enter() {
        let snap = Snapshot::from_text("s.yaml", STATE).unwrap();
        let secret = &snap.objects.secrets[0];
        let keys: Vec<_> = secret.data.as_ref().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["password", "token"]);
        assert!(secret.data.as_ref().unwrap().values().all(|v| v.0.is_empty()));
        assert!(secret.string_data.is_none());
        assert!(secret.metadata.annotations.as_ref().is_none_or(|a| a.is_empty()));
        assert!(!format!("{snap:?}").contains("c2VjcmV0"));
    }

    #[test]
    fn bad_input_names_the_object_and_line() {
        let err =
            Snapshot::from_text("s.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: 3}\n")
                .unwrap_err()
                .to_string();
        assert!(err.starts_with("s.yaml: line 1: Pod p: invalid type"), "{err}");
        let err = Snapshot::from_text("s.yaml", "  \n").unwrap_err().to_string();
        assert_eq!(err, "s.yaml: is empty: expected Kubernetes objects as YAML or JSON");
    }

    #[test]
    fn snapshot_info_and_logs_are_read() {
        let text = r#"
apiVersion: opsagent.dev/v1
kind: SnapshotInfo
capturedAt: "2026-02-02T00:00:00Z"
kinds: [Pod, Event]
warnings: [{kind: ReplicaSet, reason: Forbidden, message: "no"}]
---
apiVersion: opsagent.dev/v1
kind: ContainerLog
metadata: {namespace: shop, name: web}
container: app
previous: true
log: "boom\n"
"#;
        let snap = Snapshot::from_text("s.yaml", text).unwrap();
        assert!(snap.has(Kind::Event) && snap.partial());
        assert_eq!(snap.log("shop", "web", "app", true), Some("boom\n"));
        assert_eq!(snap.info.captured_at.to_string(), "2026-02-02T00:00:00Z");
    }
}

/// Property tests (docs/reliability.md): the same parsers have cargo-fuzz targets in `fuzz/`.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use crate::snapshot::{Kind, Snapshot};
    use crate::testing::config;

    proptest! {
        #![proptest_config(config())]

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
    }
}
