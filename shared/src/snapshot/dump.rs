//! `--dump FILE`: a snapshot written as multi-document YAML that `--snapshot` reads back.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use serde_json::{Value, json};

use super::{EXTENSION_API_VERSION, Kind, SECRET_KEYS_ANNOTATION, Snapshot};
use crate::files::write_atomic;

impl Snapshot {
    /// Writes the snapshot atomically. Secrets carry their key names in an annotation, never values.
    pub fn write_dump(&self, path: &Path) -> Result<(), crate::error::Error> {
        write_atomic(path, |out| self.write_yaml(out))
    }

    /// Writes the snapshot as YAML documents: the `SnapshotInfo`, the objects, the log tails.
    pub fn write_yaml(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let mut info = serde_json::Map::new();
        info.insert("apiVersion".into(), EXTENSION_API_VERSION.into());
        info.insert("kind".into(), "SnapshotInfo".into());
        if let Value::Object(fields) = serde_json::to_value(&self.info).map_err(std::io::Error::other)? {
            info.extend(fields);
        }
        write_doc(out, &Value::Object(info))?;
        let kinds: BTreeSet<Kind> =
            Kind::ALL.iter().copied().filter(|k| self.has(*k) || self.objects.count(*k) > 0).collect();
        self.objects.for_each_serialize(&kinds, |object| {
            let mut value = object.to_json().map_err(std::io::Error::other)?;
            if value["kind"] == "Secret" {
                seal_secret(&mut value);
            }
            write_doc(out, &value)
        })?;
        for log in &self.logs {
            let doc = json!({
                "apiVersion": EXTENSION_API_VERSION,
                "kind": "ContainerLog",
                "metadata": {"namespace": log.namespace, "name": log.pod},
                "container": log.container,
                "previous": log.previous,
                "log": log.text,
            });
            write_doc(out, &doc)?;
        }
        Ok(())
    }
}

/// Replaces a Secret's data by the list of its keys.
fn seal_secret(value: &mut Value) {
    let Value::Object(map) = value else { return };
    let mut keys: Vec<String> = Vec::new();
    for field in ["data", "stringData"] {
        if let Some(Value::Object(data)) = map.remove(field) {
            keys.extend(data.keys().cloned());
        }
    }
    if keys.is_empty() {
        return;
    }
    keys.sort();
    keys.dedup();
    let meta = map.entry("metadata").or_insert_with(|| json!({}));
    if let Value::Object(meta) = meta {
        let annotations = meta.entry("annotations").or_insert_with(|| json!({}));
        if let Value::Object(a) = annotations {
            a.insert(SECRET_KEYS_ANNOTATION.into(), Value::String(keys.join(",")));
        }
    }
}

fn write_doc(out: &mut dyn Write, value: &Value) -> std::io::Result<()> {
    let text = serde_saphyr::to_string(value).map_err(std::io::Error::other)?;
    out.write_all(b"---\n")?;
    out.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        out.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dump_reads_back_identically() {
        let text = r#"
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: web, namespace: shop, creationTimestamp: "2026-01-01T10:00:00Z", labels: {"on": "yes", version: "1.0"}}
  spec:
    containers: [{name: app, image: "nginx:1.27", args: ["--port", "8080", "true"]}]
    volumes: [{name: v, configMap: {name: c, defaultMode: 0644}}]
- apiVersion: v1
  kind: Secret
  metadata: {name: creds, namespace: shop}
  data: {password: c2VjcmV0}
"#;
        let mut snap = Snapshot::from_text("s.yaml", text).unwrap();
        snap.logs.push(super::super::ContainerLog {
            namespace: "shop".into(),
            pod: "web".into(),
            container: "app".into(),
            previous: true,
            text: "line one\n  indented: yes\nError: 'quoted' \"double\"\n".into(),
        });
        let mut out = Vec::new();
        snap.write_yaml(&mut out).unwrap();
        let dumped = String::from_utf8(out).unwrap();
        assert!(!dumped.contains("c2VjcmV0"), "{dumped}");
        assert!(dumped.contains(&format!("{SECRET_KEYS_ANNOTATION}: password")), "{dumped}");
        let back = Snapshot::from_text("dump.yaml", &dumped).unwrap();
        assert_eq!(format!("{:?}", back.objects), format!("{:?}", snap.objects));
        assert_eq!(back.logs, snap.logs);
        assert_eq!(back.info, snap.info);
    }
}
