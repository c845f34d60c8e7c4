//! Cluster access: kubeconfig resolution like kubectl's, a kube-rs client on the hidden runtime, and
//! the translation of transport and API failures into errors a user can act on.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::config::KubeConfigOptions;

use crate::error::{Error, one_line};

pub use discovery::{Applied, Refused, ResourceType};
use kubeconfig::{KubeconfigSource, in_cluster_kubeconfig, pick_context, read_kubeconfigs};

pub(crate) mod change_log;
mod discovery;
mod kubeconfig;
mod retry;
pub(crate) mod runtime;

/// Which namespaces a command looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every namespace (`-A`).
    All,
    /// One namespace.
    Namespace(String),
}

impl Scope {
    /// The namespace, unless all.
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

/// How to reach a cluster: kubectl's `--kubeconfig`, `--context` and `--request-timeout`.
#[derive(Clone, Debug, Default)]
pub struct ConnectOptions {
    /// The kubeconfig file (default: `$KUBECONFIG`, then `~/.kube/config`, then in-cluster).
    pub kubeconfig: Option<PathBuf>,
    /// The context (default: the kubeconfig's current context).
    pub context: Option<String>,
    /// The longest any one API request may take; zero waits forever.
    pub request_timeout: Duration,
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
    pub fn connect(options: &ConnectOptions) -> Result<Cluster, Error> {
        Self::connect_to(options.kubeconfig.as_deref(), options.context.as_deref(), options.request_timeout)
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
                        .map_err(|e| Error::kubeconfig(format!("context {context:?}: {}", one_line(&e))))?;
                    (config, Some(context))
                }
                KubeconfigSource::InCluster => {
                    if let Some(context) = context {
                        return Err(Error::kubeconfig(format!(
                            "--context {context:?} given but there is no kubeconfig (looked at $KUBECONFIG and ~/.kube/config)"
                        )));
                    }
                    let kubeconfig = in_cluster_kubeconfig()?;
                    let options = KubeConfigOptions::default();
                    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                        .await
                        .map_err(|e| Error::kubeconfig(format!("in-cluster configuration: {}", one_line(&e))))?;
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
                .map_err(|e| Error::kubeconfig(format!("cannot build a client for {server}: {}", one_line(&e))))?
                .with_layer(&tower::buffer::BufferLayer::new(1024))
                .with_layer(&tower::retry::RetryLayer::new(retry::ApiRetry::default()))
                .build();
            Ok(Cluster { client, context, server, default_namespace })
        })?
    }

    /// The contexts a kubeconfig defines (for `--all-contexts`).
    pub fn contexts(kubeconfig: Option<&Path>) -> Result<Vec<String>, Error> {
        match KubeconfigSource::resolve(kubeconfig)? {
            KubeconfigSource::Files(files) => {
                Ok(read_kubeconfigs(&files)?.contexts.into_iter().map(|c| c.name).collect())
            }
            KubeconfigSource::InCluster => Err(Error::kubeconfig("--all-contexts needs a kubeconfig")),
        }
    }

    /// The namespaces to look at, following kubectl: `-A`, else `-n`, else the context's namespace.
    pub fn scope(&self, namespace: Option<&str>, all_namespaces: bool) -> Scope {
        if all_namespaces {
            Scope::All
        } else {
            Scope::Namespace(namespace.map_or_else(|| self.default_namespace.clone(), str::to_string))
        }
    }

    /// The server's version (`/version`); also the cheapest reachability and credentials check.
    pub fn server_version(&self) -> Result<String, Error> {
        let client = self.client.clone();
        let info = runtime::block_on(async move { client.apiserver_version().await })?.map_err(|e| self.fatal(e))?;
        Ok(info.git_version)
    }

    /// The one-line error for a failure that stops everything (transport, TLS, 401).
    pub(crate) fn fatal(&self, err: kube::Error) -> Error {
        match classify(&err) {
            Failure::Unreachable(reason) => {
                Error::Unreachable { server: self.server.clone(), reason, source: Some(Box::new(err)) }
            }
            Failure::Unauthorized => Error::Unauthorized {
                server: self.server.clone(),
                hint: match &self.context {
                    Some(ctx) => format!("refresh the credentials of context {ctx:?}"),
                    None => "check the service account token".to_string(),
                },
            },
            Failure::Status { code, message, .. } => Error::api(format!("{message} ({code})")).caused_by(err),
            Failure::Other(message) => Error::api(message).caused_by(err),
        }
    }
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
        kube::Error::Auth(_) => Failure::Unreachable(one_line(err)),
        other => Failure::Other(one_line(other)),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_contains() {
        let ns = Scope::Namespace("shop".into());
        assert!(ns.contains(Some("shop")));
        assert!(!ns.contains(Some("other")));
        assert!(ns.contains(None));
        assert!(Scope::All.contains(Some("x")));
    }
}
