//! Cluster access: kubeconfig resolution like kubectl's, a kube-rs client on the hidden runtime, and
//! the translation of transport and API failures into errors a user can act on.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::cli::{ClusterArgs, ScopeArgs};
use crate::error::Error;
use crate::runtime;

mod retry;

/// Which namespaces a command looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    All,
    Namespace(String),
}

impl Scope {
    pub fn namespace(&self) -> Option<&str> {
        match self {
            Scope::All => None,
            Scope::Namespace(ns) => Some(ns),
        }
    }

    /// True when an object in `namespace` (None: cluster-scoped) is inside the scope.
    pub fn contains(&self, namespace: Option<&str>) -> bool {
        match (self, namespace) {
            (Scope::All, _) | (_, None) => true,
            (Scope::Namespace(want), Some(ns)) => want == ns,
        }
    }
}

/// A connected cluster. Cheap to clone.
#[derive(Clone)]
pub struct Cluster {
    pub(crate) client: kube::Client,
    /// The kubeconfig context in use; None for in-cluster configuration.
    pub context: Option<String>,
    /// The API server URL.
    pub server: String,
    /// The context's namespace (or the service account's, in a cluster).
    pub default_namespace: String,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("context", &self.context).field("server", &self.server).finish()
    }
}

impl Cluster {
    /// Connects using the shared flags: `--kubeconfig`, `$KUBECONFIG` (a list, merged like kubectl),
    /// `~/.kube/config`, and in-cluster configuration when none of them exists.
    pub fn connect(args: &ClusterArgs) -> Result<Cluster, Error> {
        Self::connect_to(args.kubeconfig.as_deref(), args.context.as_deref(), args.request_timeout)
    }

    /// Connects to one named context (or the current one).
    pub fn connect_to(
        kubeconfig: Option<&Path>,
        context: Option<&str>,
        request_timeout: Duration,
    ) -> Result<Cluster, Error> {
        let source = KubeconfigSource::resolve(kubeconfig)?;
        runtime::block_on(async move {
            let (mut config, context) = match source {
                KubeconfigSource::Files(files) => {
                    let kubeconfig = read_kubeconfigs(&files)?;
                    let context = pick_context(&kubeconfig, context, &files)?;
                    let options = KubeConfigOptions { context: Some(context.clone()), ..Default::default() };
                    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                        .await
                        .map_err(|e| Error::Kubeconfig(format!("context {context:?}: {}", chain(&e))))?;
                    (config, Some(context))
                }
                KubeconfigSource::InCluster => {
                    if let Some(context) = context {
                        return Err(Error::Kubeconfig(format!(
                            "--context {context:?} given but there is no kubeconfig (looked at $KUBECONFIG and ~/.kube/config)"
                        )));
                    }
                    let kubeconfig = in_cluster_kubeconfig()?;
                    let options = KubeConfigOptions::default();
                    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                        .await
                        .map_err(|e| Error::Kubeconfig(format!("in-cluster configuration: {}", chain(&e))))?;
                    (config, None)
                }
            };
            if !request_timeout.is_zero() {
                config.read_timeout = Some(request_timeout);
                config.reset_reader_on_write = true;
                config.connect_timeout = Some(request_timeout.min(Duration::from_secs(30)));
            }
            let server = config.cluster_url.to_string().trim_end_matches('/').to_string();
            let default_namespace = config.default_namespace.clone();
            // Our own retries replace kube-rs's controller-sized ones (see `retry`); retrying needs a
            // clonable service, hence the buffer.
            config.default_retry = false;
            let client = kube::client::ClientBuilder::try_from(config)
                .map_err(|e| Error::Kubeconfig(format!("cannot build a client for {server}: {}", chain(&e))))?
                .with_layer(&tower::buffer::BufferLayer::new(1024))
                .with_layer(&tower::retry::RetryLayer::new(retry::ApiRetry::default()))
                .build();
            Ok(Cluster { client, context, server, default_namespace })
        })
        .map_err(|e| Error::Kubeconfig(e.to_string()))?
    }

    /// The contexts a kubeconfig defines (for `--all-contexts`).
    pub fn contexts(kubeconfig: Option<&Path>) -> Result<Vec<String>, Error> {
        match KubeconfigSource::resolve(kubeconfig)? {
            KubeconfigSource::Files(files) => {
                Ok(read_kubeconfigs(&files)?.contexts.into_iter().map(|c| c.name).collect())
            }
            KubeconfigSource::InCluster => Err(Error::Kubeconfig("--all-contexts needs a kubeconfig".into())),
        }
    }

    /// The namespaces to look at, following kubectl: `-A`, else `-n`, else the context's namespace.
    pub fn scope(&self, cluster: &ClusterArgs, scope: &ScopeArgs) -> Scope {
        if scope.all_namespaces {
            Scope::All
        } else {
            Scope::Namespace(cluster.namespace.clone().unwrap_or_else(|| self.default_namespace.clone()))
        }
    }

    /// The server's version (`/version`); also the cheapest reachability and credentials check.
    pub fn server_version(&self) -> Result<String, Error> {
        let client = self.client.clone();
        let info = runtime::block_on(async move { client.apiserver_version().await })
            .map_err(|e| Error::Api(e.to_string()))?
            .map_err(|e| self.fatal(&e))?;
        Ok(info.git_version)
    }

    /// The one-line error for a failure that stops everything (transport, TLS, 401).
    pub(crate) fn fatal(&self, err: &kube::Error) -> Error {
        match classify(err) {
            Failure::Unreachable(reason) => Error::Unreachable { server: self.server.clone(), reason },
            Failure::Unauthorized => Error::Unauthorized {
                server: self.server.clone(),
                hint: match &self.context {
                    Some(ctx) => format!("refresh the credentials of context {ctx:?}"),
                    None => "check the service account token".to_string(),
                },
            },
            Failure::Status { code, message, .. } => Error::Api(format!("{message} ({code})")),
            Failure::Other(message) => Error::Api(message),
        }
    }
}

/// A resource type as discovery describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceType {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub short_names: Vec<String>,
    pub namespaced: bool,
}

impl ResourceType {
    /// The URL of an object (or of the collection, without a name).
    pub fn path(&self, namespace: Option<&str>, name: Option<&str>) -> String {
        let root = if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        };
        let ns = match (self.namespaced, namespace) {
            (true, Some(ns)) => format!("/namespaces/{ns}"),
            _ => String::new(),
        };
        let name = name.map(|n| format!("/{n}")).unwrap_or_default();
        format!("{root}{ns}/{}{name}", self.plural)
    }

    /// `deployment.apps`, as kubectl names an object's type in `kubectl apply`'s output.
    pub fn singular_qualified(&self) -> String {
        if self.group.is_empty() { self.singular.clone() } else { format!("{}.{}", self.singular, self.group) }
    }

    /// `deployments.apps`, as kubectl names it.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() { self.plural.clone() } else { format!("{}.{}", self.plural, self.group) }
    }

    /// Whether a kubectl-style name (`po`, `pod`, `pods`, `Pod`, `deploy.apps`) means this type.
    pub fn answers_to(&self, arg: &str) -> bool {
        let arg = arg.to_ascii_lowercase();
        let (name, group) = match arg.split_once('.') {
            Some((n, g)) => (n.to_string(), Some(g.to_string())),
            None => (arg, None),
        };
        group.is_none_or(|g| g == self.group)
            && (name == self.plural
                || name == self.singular
                || name == self.kind.to_ascii_lowercase()
                || self.short_names.contains(&name))
    }
}

impl Cluster {
    /// Every resource type the server serves, core first, then the groups in the server's order
    /// (each at its preferred version), as kubectl sees them.
    pub fn discover(&self) -> Result<Vec<ResourceType>, Error> {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::{APIGroupList, APIResourceList};
        let client = self.client.clone();
        let result = runtime::block_on(async move {
            let get = |path: String| {
                let client = client.clone();
                async move {
                    client
                        .request::<APIResourceList>(
                            http::Request::get(path).body(Vec::new()).map_err(kube::Error::HttpError)?,
                        )
                        .await
                }
            };
            let groups: APIGroupList =
                client.request(http::Request::get("/apis").body(Vec::new()).map_err(kube::Error::HttpError)?).await?;
            let mut paths = vec!["/api/v1".to_string()];
            paths.extend(
                groups
                    .groups
                    .iter()
                    .filter_map(|g| g.preferred_version.as_ref().or(g.versions.first()))
                    .map(|v| format!("/apis/{}", v.group_version)),
            );
            let lists = futures::future::join_all(paths.into_iter().map(get)).await;
            Ok::<_, kube::Error>(lists)
        })
        .map_err(|e| Error::Api(e.to_string()))?
        .map_err(|e| self.fatal(&e))?;
        let mut out = Vec::new();
        for list in result.into_iter().flatten() {
            let (group, version) = match list.group_version.split_once('/') {
                Some((g, v)) => (g.to_string(), v.to_string()),
                None => (String::new(), list.group_version.clone()),
            };
            for r in list.resources.into_iter().filter(|r| !r.name.contains('/')) {
                out.push(ResourceType {
                    group: group.clone(),
                    version: version.clone(),
                    singular: if r.singular_name.is_empty() { r.kind.to_ascii_lowercase() } else { r.singular_name },
                    kind: r.kind,
                    plural: r.name,
                    short_names: r.short_names.unwrap_or_default(),
                    namespaced: r.namespaced,
                });
            }
        }
        Ok(out)
    }

    /// Resolves a kubectl-style resource name through discovery.
    pub fn resolve_kind(&self, arg: &str) -> Result<ResourceType, Error> {
        let types = self.discover()?;
        types.into_iter().find(|t| t.answers_to(arg)).ok_or_else(|| {
            Error::input("kubectl ai analyze", format!("the server doesn't have a resource type {arg:?}"))
        })
    }

    /// The resource type of an object's `apiVersion` and `kind`, at the version the object is
    /// written in (whether that version is served is the server's to say).
    pub fn resource_of(types: &[ResourceType], api_version: &str, kind: &str) -> Option<ResourceType> {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        types
            .iter()
            .find(|t| t.group == group && t.kind == kind)
            .map(|t| ResourceType { version: version.to_string(), ..t.clone() })
    }

    /// Server-side apply of one object with field manager `kubectl-ai` (conflicts forced, like
    /// `kubectl apply --server-side --force-conflicts`), or only its dry run. A refusal by the
    /// server (invalid, conflicting, forbidden, not served) is `Ok(Err(Refused))`; failing to reach
    /// the server at all is an error.
    pub fn apply(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        object: &serde_json::Value,
        dry_run: bool,
    ) -> Result<Result<Applied, Refused>, Error> {
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let path = rt.path(namespace, Some(name));
        let before = if dry_run { None } else { self.get_json(&path)? };
        let query = format!("?fieldManager=kubectl-ai&force=true{}", if dry_run { "&dryRun=All" } else { "" });
        let body = serde_json::to_vec(object).map_err(|e| Error::Api(e.to_string()))?;
        let client = self.client.clone();
        let request = http::Request::patch(format!("{path}{query}"))
            .header(http::header::CONTENT_TYPE, "application/apply-patch+yaml")
            .body(body)
            .map_err(|e| Error::Api(e.to_string()))?;
        let result = runtime::block_on(async move { client.request::<serde_json::Value>(request).await })
            .map_err(|e| Error::Api(e.to_string()))?;
        match result {
            Ok(after) => Ok(Ok(match before {
                None => Applied::Created,
                Some(b) if b["metadata"]["resourceVersion"] == after["metadata"]["resourceVersion"] => {
                    Applied::Unchanged
                }
                Some(_) => Applied::Configured,
            })),
            Err(kube::Error::Api(status)) if (400..500).contains(&status.code) && status.code != 401 => {
                Ok(Err(Refused { code: status.code, message: status.message }))
            }
            Err(e) => Err(self.fatal(&e)),
        }
    }

    /// One object as JSON; None when it does not exist.
    pub fn get_json(&self, path: &str) -> Result<Option<serde_json::Value>, Error> {
        let client = self.client.clone();
        let path = path.to_string();
        let result = runtime::block_on(async move {
            client
                .request::<serde_json::Value>(
                    http::Request::get(path).body(Vec::new()).map_err(kube::Error::HttpError)?,
                )
                .await
        })
        .map_err(|e| Error::Api(e.to_string()))?;
        match result {
            Ok(v) => Ok(Some(v)),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(None),
            Err(e) => Err(self.fatal(&e)),
        }
    }
}

/// What applying an object did, in kubectl's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    Created,
    Configured,
    Unchanged,
}

impl Applied {
    pub fn as_str(self) -> &'static str {
        match self {
            Applied::Created => "created",
            Applied::Configured => "configured",
            Applied::Unchanged => "unchanged",
        }
    }
}

/// The server's refusal of a request: its status code and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    pub code: u16,
    pub message: String,
}

/// Where a pod finds its service account: token, CA and namespace files.
const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The in-cluster configuration as a kubeconfig, the way client-go builds it: the API server from
/// `KUBERNETES_SERVICE_HOST`/`_PORT`, the service account's CA, token and namespace. `OPSAGENT_SERVICE_ACCOUNT_DIR` points elsewhere than
/// the standard mount (sidecars that mount the token themselves; the tests).
fn in_cluster_kubeconfig() -> Result<Kubeconfig, Error> {
    let missing = |why: String| {
        Error::Kubeconfig(format!(
            "no kubeconfig found ($KUBECONFIG, ~/.kube/config) and no in-cluster configuration: {why}"
        ))
    };
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
enum KubeconfigSource {
    Files(Vec<PathBuf>),
    InCluster,
}

impl KubeconfigSource {
    fn resolve(flag: Option<&Path>) -> Result<Self, Error> {
        if let Some(path) = flag {
            if !path.exists() {
                return Err(Error::Kubeconfig(format!("kubeconfig {} does not exist", path.display())));
            }
            return Ok(KubeconfigSource::Files(vec![path.to_path_buf()]));
        }
        if let Some(list) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
            // Like kubectl: files of the list that do not exist are ignored.
            let files: Vec<PathBuf> =
                std::env::split_paths(&list).filter(|p| !p.as_os_str().is_empty() && p.exists()).collect();
            if files.is_empty() {
                return Err(Error::Kubeconfig(format!(
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

fn read_kubeconfigs(files: &[PathBuf]) -> Result<Kubeconfig, Error> {
    let mut merged = Kubeconfig::default();
    for file in files {
        let next = Kubeconfig::read_from(file)
            .map_err(|e| Error::Kubeconfig(format!("invalid kubeconfig {}: {}", file.display(), chain(&e))))?;
        merged = merged
            .merge(next)
            .map_err(|e| Error::Kubeconfig(format!("cannot merge kubeconfig {}: {}", file.display(), chain(&e))))?;
    }
    Ok(merged)
}

fn pick_context(kubeconfig: &Kubeconfig, wanted: Option<&str>, files: &[PathBuf]) -> Result<String, Error> {
    let names: Vec<&str> = kubeconfig.contexts.iter().map(|c| c.name.as_str()).collect();
    let where_ = files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", ");
    let available = if names.is_empty() { "none".to_string() } else { names.join(", ") };
    let name = match wanted.or(kubeconfig.current_context.as_deref()).filter(|n| !n.is_empty()) {
        Some(name) => name,
        None => {
            return Err(Error::Kubeconfig(format!(
                "no current context in {where_}; choose one with --context (available: {available})"
            )));
        }
    };
    if !names.contains(&name) {
        return Err(Error::Kubeconfig(format!("context {name:?} not found in {where_} (available: {available})")));
    }
    Ok(name.to_string())
}

/// How a failed API call should be treated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The server cannot be reached at all: stop.
    Unreachable(String),
    /// The credentials were rejected: stop.
    Unauthorized,
    /// The server answered with an error status for this request only.
    Status { code: u16, reason: String, message: String },
    /// Anything else (bad response body …).
    Other(String),
}

pub(crate) fn classify(err: &kube::Error) -> Failure {
    match err {
        kube::Error::Api(status) if status.code == 401 => Failure::Unauthorized,
        kube::Error::Api(status) => Failure::Status {
            code: status.code,
            reason: status.reason.clone(),
            message: if status.message.is_empty() { status.reason.clone() } else { status.message.clone() },
        },
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::RustlsTls(_) => {
            Failure::Unreachable(root_cause(err))
        }
        kube::Error::Auth(_) => Failure::Unreachable(chain(err)),
        other => Failure::Other(chain(other)),
    }
}

/// The innermost useful message of an error chain ("Connection refused (os error 111)").
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut last = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let text = e.to_string();
        if !text.is_empty() {
            last = text;
        }
        cur = e.source();
    }
    if last.contains("deadline has elapsed") || last.to_ascii_lowercase().contains("timed out") {
        return "the request timed out (see --request-timeout)".to_string();
    }
    if last.contains("UnknownIssuer") || last.contains("invalid peer certificate") {
        return format!("{last}: the server's TLS certificate is not signed by the kubeconfig's certificate-authority");
    }
    last
}

/// An error and its sources on one line.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut cur = err.source();
    while let Some(e) = cur {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = e.source();
    }
    parts.join(": ")
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

    #[test]
    fn scope_contains() {
        let ns = Scope::Namespace("shop".into());
        assert!(ns.contains(Some("shop")));
        assert!(!ns.contains(Some("other")));
        assert!(ns.contains(None));
        assert!(Scope::All.contains(Some("x")));
    }
}
