//! Which kubeconfig and context, resolved like kubectl: `--kubeconfig`, a `$KUBECONFIG` list merged
//! in order, `~/.kube/config`, else the in-cluster configuration of a pod's service account.

use std::path::{Path, PathBuf};

use kube::config::Kubeconfig;

use crate::error::{Error, one_line};

/// Where a pod finds its service account: token, CA and namespace files.
const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The in-cluster configuration as a kubeconfig, the way client-go builds it: the API server from
/// `KUBERNETES_SERVICE_HOST`/`_PORT`, the service account's CA, token and namespace. `OPSAGENT_SERVICE_ACCOUNT_DIR` points elsewhere than
/// the standard mount (sidecars that mount the token themselves; the tests).
pub(super) fn in_cluster_kubeconfig() -> Result<Kubeconfig, Error> {
    let missing = |why: String| Error::NoCluster { why, hint: None };
    let host = std::env::var("KUBERNETES_SERVICE_HOST")
        .ok()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| missing("KUBERNETES_SERVICE_HOST is not set".into()))?;
    let port = std::env::var("KUBERNETES_SERVICE_PORT").ok().filter(|p| !p.is_empty()).unwrap_or_else(|| "443".into());
    let dir = std::env::var_os("OPSAGENT_SERVICE_ACCOUNT_DIR")
        .filter(|d| !d.is_empty())
        .map_or_else(|| PathBuf::from(SERVICE_ACCOUNT_DIR), PathBuf::from);
    let (token, ca) = (dir.join("token"), dir.join("ca.crt"));
    for file in [&token, &ca] {
        if !file.exists() {
            return Err(missing(format!("{} does not exist", file.display())));
        }
    }
    // Read once (a plugin run is short): trimmed, as a file written by hand may end in a newline.
    let token = std::fs::read_to_string(&token).map_err(|e| missing(format!("{}: {e}", token.display())))?;
    let namespace = std::fs::read_to_string(dir.join("namespace")).map(|n| n.trim().to_string()).unwrap_or_default();
    let host = if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host };
    let value = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "in-cluster", "cluster": {"server": format!("https://{host}:{port}"), "certificate-authority": ca}}],
        "users": [{"name": "in-cluster", "user": {"token": token.trim()}}],
        "contexts": [{"name": "in-cluster", "context": {"cluster": "in-cluster", "user": "in-cluster",
            "namespace": if namespace.is_empty() { "default".to_string() } else { namespace }}}],
        "current-context": "in-cluster",
    });
    serde_json::from_value(value).map_err(|e| missing(e.to_string()))
}

/// Where the kubeconfig comes from.
pub(super) enum KubeconfigSource {
    Files(Vec<PathBuf>),
    InCluster,
}

impl KubeconfigSource {
    pub(super) fn resolve(flag: Option<&Path>) -> Result<Self, Error> {
        if let Some(path) = flag {
            if !path.exists() {
                return Err(Error::kubeconfig(format!("kubeconfig {} does not exist", path.display())));
            }
            return Ok(KubeconfigSource::Files(vec![path.to_path_buf()]));
        }
        if let Some(list) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
            // Like kubectl: files of the list that do not exist are ignored.
            let files: Vec<PathBuf> =
                std::env::split_paths(&list).filter(|p| !p.as_os_str().is_empty() && p.exists()).collect();
            if files.is_empty() {
                return Err(Error::kubeconfig(format!(
                    "none of the files in $KUBECONFIG exists ({})",
                    list.to_string_lossy()
                )));
            }
            return Ok(KubeconfigSource::Files(files));
        }
        match std::env::home_dir().map(|h| h.join(".kube").join("config")) {
            Some(path) if path.exists() => Ok(KubeconfigSource::Files(vec![path])),
            _ => Ok(KubeconfigSource::InCluster),
        }
    }
}

pub(super) fn read_kubeconfigs(files: &[PathBuf]) -> Result<Kubeconfig, Error> {
    let mut merged = Kubeconfig::default();
    for file in files {
        let next = Kubeconfig::read_from(file)
            .map_err(|e| Error::kubeconfig(format!("invalid kubeconfig {}: {}", file.display(), one_line(&e))))?;
        merged = merged
            .merge(next)
            .map_err(|e| Error::kubeconfig(format!("cannot merge kubeconfig {}: {}", file.display(), one_line(&e))))?;
    }
    Ok(merged)
}

pub(super) fn pick_context(kubeconfig: &Kubeconfig, wanted: Option<&str>, files: &[PathBuf]) -> Result<String, Error> {
    let names: Vec<&str> = kubeconfig.contexts.iter().map(|c| c.name.as_str()).collect();
    let where_ = files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", ");
    let available = if names.is_empty() { "none".to_string() } else { names.join(", ") };
    let name = match wanted.or(kubeconfig.current_context.as_deref()).filter(|n| !n.is_empty()) {
        Some(name) => name,
        None => {
            return Err(Error::kubeconfig(format!(
                "no current context in {where_}; choose one with --context (available: {available})"
            )));
        }
    };
    if !names.contains(&name) {
        return Err(Error::kubeconfig(format!("context {name:?} not found in {where_} (available: {available})")));
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kubeconfig(contexts: &[&str], current: Option<&str>) -> Kubeconfig {
        let mut yaml = String::from("apiVersion: v1\nkind: Config\nclusters: []\nusers: []\ncontexts:\n");
        for c in contexts {
            yaml.push_str(&format!("- name: {c}\n  context: {{cluster: x}}\n"));
        }
        if let Some(cur) = current {
            yaml.push_str(&format!("current-context: {cur}\n"));
        }
        Kubeconfig::from_yaml(&yaml).unwrap()
    }

    #[test]
    fn context_selection() {
        let files = [PathBuf::from("kc")];
        let kc = kubeconfig(&["a", "b"], Some("a"));
        assert_eq!(pick_context(&kc, None, &files).unwrap(), "a");
        assert_eq!(pick_context(&kc, Some("b"), &files).unwrap(), "b");
        let err = pick_context(&kc, Some("c"), &files).unwrap_err().to_string();
        assert_eq!(err, "context \"c\" not found in kc (available: a, b)");
        let err = pick_context(&kubeconfig(&["a"], None), None, &files).unwrap_err().to_string();
        assert!(err.starts_with("no current context in kc"), "{err}");
    }
}
