//! What the server serves (discovery), one object read by path, and server-side apply.

use super::{Cluster, runtime};
use crate::error::Error;
/// A resource type as discovery describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceType {
    /// The API group (empty: the core group).
    pub group: String,
    /// The version.
    pub version: String,
    /// The kind (`Deployment`).
    pub kind: String,
    /// The resource (`deployments`).
    pub plural: String,
    /// Its singular (`deployment`).
    pub singular: String,
    /// kubectl's short names (`deploy`).
    pub short_names: Vec<String>,
    /// Whether objects live in namespaces.
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
        })?
        .map_err(|e| self.fatal(e))?;
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
        let body = serde_json::to_vec(object).map_err(|e| Error::api(e.to_string()).caused_by(e))?;
        let client = self.client.clone();
        let request = http::Request::patch(format!("{path}{query}"))
            .header(http::header::CONTENT_TYPE, "application/apply-patch+yaml")
            .body(body)
            .map_err(|e| Error::api(e.to_string()).caused_by(e))?;
        let result = runtime::block_on(async move { client.request::<serde_json::Value>(request).await })?;
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
            Err(e) => Err(self.fatal(e)),
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
        })?;
        match result {
            Ok(v) => Ok(Some(v)),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(None),
            Err(e) => Err(self.fatal(e)),
        }
    }
}

/// What applying an object did, in kubectl's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// It did not exist.
    Created,
    /// It changed.
    Configured,
    /// It was already so.
    Unchanged,
}

impl Applied {
    /// kubectl's word for it.
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
    /// The HTTP status.
    pub code: u16,
    /// The server's message.
    pub message: String,
}
