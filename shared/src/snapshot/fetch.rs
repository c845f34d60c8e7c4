//! Snapshots from the live API: every needed kind listed concurrently and in pages.

use std::collections::BTreeSet;
use std::fmt::Debug;

use futures::{StreamExt as _, stream};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;
use kube::api::{ListParams, LogParams};
use kube::core::Request;
use serde::de::DeserializeOwned;

use super::kinds::{self, Kind};
use super::{ContainerLog, Keep, Snapshot, SnapshotInfo, Trim, Warning, selector_applies};
use crate::cluster::runtime;
use crate::cluster::{Cluster, Failure, Scope, classify};
use crate::error::Error;

/// Page size of list requests, like kubectl's.
const PAGE_SIZE: u32 = 500;
/// Upper bound of one log tail kept in a snapshot.
const LOG_LIMIT_BYTES: i64 = 64 * 1024;

/// What to read from the cluster.
#[derive(Clone, Debug)]
pub struct FetchPlan {
    /// The kinds to list.
    pub kinds: BTreeSet<Kind>,
    /// The namespaces.
    pub scope: Scope,
    /// `-l`: applies to namespaced kinds other than Events.
    pub selector: Option<String>,
    /// How many list (or log) requests run at once.
    pub max_concurrency: usize,
    /// Keep the last N log lines of failing containers (current and previous instance).
    pub log_lines: Option<i64>,
    /// Which listed objects are kept (each page's others are dropped as it arrives); `None` keeps all.
    pub keep: Option<Keep>,
    /// What is dropped of each object before it is typed; `None` keeps it whole.
    pub trim: Option<Trim>,
}

impl Cluster {
    /// Reads a snapshot. Transport, TLS and credential failures stop everything; a kind that cannot be
    /// listed (403, 404, other API errors) is skipped with a warning and the snapshot is partial.
    pub fn snapshot(&self, plan: &FetchPlan) -> Result<Snapshot, Error> {
        runtime::block_on(self.snapshot_async(plan))?
    }

    /// Reads several clusters at once; each result stands alone (one unreachable cluster does not
    /// stop the others).
    pub fn snapshot_all(targets: &[(Cluster, FetchPlan)]) -> Result<Vec<Result<Snapshot, Error>>, Error> {
        let reads = targets.iter().map(|(cluster, plan)| cluster.snapshot_async(plan));
        runtime::block_on(futures::future::join_all(reads)).map_err(|e| Error::api(e.to_string()))
    }

    async fn snapshot_async(&self, plan: &FetchPlan) -> Result<Snapshot, Error> {
        let server_version = self.client.apiserver_version().await.map_err(|e| self.fatal(e))?.git_version;
        let captured_at = Timestamp::now();
        let namespace = plan.scope.namespace();
        let results: Vec<(Kind, Result<kinds::Batch, kube::Error>)> = stream::iter(plan.kinds.iter().copied())
            .map(|kind| async move {
                let params = ListParams {
                    label_selector: plan.selector.clone().filter(|_| selector_applies(kind)),
                    limit: Some(PAGE_SIZE),
                    ..ListParams::default()
                };
                let ns = if kind.namespaced() { namespace } else { None };
                (kind, kinds::list_kind(&self.client, kind, ns, &params, plan.keep, plan.trim).await)
            })
            .buffer_unordered(plan.max_concurrency.max(1))
            .collect()
            .await;

        let mut snapshot = Snapshot {
            info: SnapshotInfo {
                captured_at,
                context: self.context.clone(),
                server: Some(self.server.clone()),
                server_version: Some(server_version),
                namespace: namespace.map(str::to_string),
                selector: plan.selector.clone(),
                ..SnapshotInfo::default()
            },
            ..Snapshot::default()
        };
        for (kind, result) in results {
            match result {
                Ok(batch) => {
                    snapshot.objects.absorb(batch);
                    snapshot.info.kinds.insert(kind);
                }
                Err(err) => match classify(&err) {
                    Failure::Unreachable(_) | Failure::Unauthorized => return Err(self.fatal(err)),
                    failure => snapshot.info.warnings.push(list_warning(kind, namespace, failure)),
                },
            }
        }
        snapshot.info.warnings.sort_by(|a, b| a.kind.cmp(&b.kind));
        if snapshot.info.kinds.is_empty() && !plan.kinds.is_empty() {
            let reasons: Vec<String> = snapshot.info.warnings.iter().map(|w| w.message.clone()).collect();
            return Err(Error::api(format!("nothing could be read: {}", reasons.join("; "))));
        }
        snapshot.scrub();
        if let Some(lines) = plan.log_lines {
            snapshot.logs = self.log_tails(&snapshot.objects.pods, lines, plan.max_concurrency, log_targets).await;
        }
        Ok(snapshot)
    }

    /// Tails of the current and previous logs of every container of these pods (blocking), for
    /// the diagnosis of one object.
    pub fn log_tails_of(&self, pods: &[Pod], lines: i64, concurrency: usize) -> Result<Vec<ContainerLog>, Error> {
        runtime::block_on(self.log_tails(pods, lines, concurrency, all_log_targets))
            .map_err(|e| Error::api(e.to_string()))
    }

    /// Tails of the logs `targets` chooses; a log that cannot be read is left out.
    async fn log_tails(
        &self,
        pods: &[Pod],
        lines: i64,
        concurrency: usize,
        targets: fn(&Pod) -> Vec<(String, bool)>,
    ) -> Vec<ContainerLog> {
        let targets: Vec<(String, String, String, bool)> = pods
            .iter()
            .flat_map(|pod| {
                let ns = pod.metadata.namespace.clone().unwrap_or_default();
                let name = pod.metadata.name.clone().unwrap_or_default();
                targets(pod).into_iter().map(move |(c, prev)| (ns.clone(), name.clone(), c, prev))
            })
            .collect();
        let mut logs: Vec<ContainerLog> = stream::iter(targets)
            .map(|(namespace, pod, container, previous)| async move {
                let api: kube::Api<Pod> = kube::Api::namespaced(self.client.clone(), &namespace);
                let params = LogParams {
                    container: Some(container.clone()),
                    previous,
                    tail_lines: Some(lines),
                    limit_bytes: Some(LOG_LIMIT_BYTES),
                    ..LogParams::default()
                };
                match api.logs(&pod, &params).await {
                    Ok(text) => Some(ContainerLog { namespace, pod, container, previous, text }),
                    Err(err) => {
                        tracing::debug!("no log for {namespace}/{pod} {container} (previous={previous}): {err}");
                        None
                    }
                }
            })
            .buffer_unordered(concurrency.max(1))
            .filter_map(|log| async move { log })
            .collect()
            .await;
        logs.sort_by(|a, b| {
            (&a.namespace, &a.pod, &a.container, a.previous).cmp(&(&b.namespace, &b.pod, &b.container, b.previous))
        });
        logs
    }
}

fn list_warning(kind: Kind, namespace: Option<&str>, failure: Failure) -> Warning {
    let resource = kind.resource();
    let place = namespace.map(|ns| format!(" in namespace {ns:?}")).unwrap_or_else(|| " at the cluster scope".into());
    let (reason, message) = match failure {
        Failure::Status { code: 403, .. } => ("Forbidden", format!("cannot list {resource}{place}: forbidden")),
        Failure::Status { code: 404, .. } => {
            ("NotFound", format!("the server does not serve {resource} ({})", kind.api_version()))
        }
        Failure::Status { code, message, .. } => ("Error", format!("cannot list {resource}: {message} ({code})")),
        Failure::Other(message) | Failure::Unreachable(message) => {
            ("Error", format!("cannot list {resource}: {message}"))
        }
        Failure::Unauthorized => ("Unauthorized", format!("cannot list {resource}: unauthorized")),
    };
    Warning { cluster: None, kind: Some(kind.name().to_string()), reason: reason.to_string(), message }
}

/// Lists every page of one kind. A `continue` token that expired mid-way (410 Gone) restarts the
/// listing once from the beginning, as the API conventions recommend.
pub(crate) async fn list_all<K>(
    client: &kube::Client,
    kind: Kind,
    namespace: Option<&str>,
    params: &ListParams,
    keep: Option<Keep>,
    trim: Option<Trim>,
) -> Result<Vec<K>, kube::Error>
where
    K: kube::Resource<DynamicType = ()> + DeserializeOwned + Clone + Debug,
{
    let request = Request::new(K::url_path(&(), namespace));
    let mut params = params.clone();
    let mut items: Vec<K> = Vec::new();
    let mut restarted = false;
    loop {
        let req = request.list(&params).map_err(kube::Error::BuildRequest)?;
        match client.request::<Page>(req).await {
            Ok(page) => {
                for mut value in page.items {
                    super::lean(&mut value);
                    if let Some(trim) = trim {
                        trim(kind, &mut value);
                    }
                    let item: K = serde_json::from_value(value).map_err(kube::Error::SerdeError)?;
                    if keep.is_none_or(|keep| keep(kind, item.meta())) {
                        items.push(item);
                    }
                }
                match page.metadata.continue_ {
                    Some(token) if !token.is_empty() => params.continue_token = Some(token),
                    _ => break,
                }
            }
            Err(kube::Error::Api(status)) if status.code == 410 && params.continue_token.is_some() && !restarted => {
                tracing::info!("{}: continue token expired, listing again from the start", kind.resource());
                restarted = true;
                items.clear();
                params.continue_token = None;
            }
            Err(err) => return Err(err),
        }
    }
    tracing::debug!("listed {} {}", items.len(), kind.resource());
    Ok(items)
}

/// One page of a list: its continue token and its items as JSON, each made [lean](super::lean),
/// trimmed and typed in turn.
#[derive(serde::Deserialize)]
struct Page {
    #[serde(default)]
    metadata: ListMeta,
    #[serde(default = "Vec::new")]
    items: Vec<serde_json::Value>,
}

/// The containers whose logs explain a failure: `(container, previous)` pairs.
/// Every container's current log (when it has started) and previous one (when it restarted).
fn all_log_targets(pod: &Pod) -> Vec<(String, bool)> {
    let Some(status) = &pod.status else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for cs in status.init_container_statuses.iter().flatten().chain(status.container_statuses.iter().flatten()) {
        if cs.last_state.as_ref().is_some_and(|s| s.terminated.is_some()) {
            out.push((cs.name.clone(), true));
        }
        if cs.state.as_ref().is_some_and(|s| s.running.is_some() || s.terminated.is_some()) {
            out.push((cs.name.clone(), false));
        }
    }
    out
}

pub(crate) fn log_targets(pod: &Pod) -> Vec<(String, bool)> {
    let Some(status) = &pod.status else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let all = status.init_container_statuses.iter().flatten().chain(status.container_statuses.iter().flatten());
    for cs in all {
        let waiting = cs.state.as_ref().and_then(|s| s.waiting.as_ref()).and_then(|w| w.reason.as_deref());
        let terminated_bad = cs.state.as_ref().and_then(|s| s.terminated.as_ref()).is_some_and(|t| t.exit_code != 0);
        let running = cs.state.as_ref().is_some_and(|s| s.running.is_some());
        let had_previous = cs.last_state.as_ref().is_some_and(|s| s.terminated.is_some());
        if had_previous && (waiting == Some("CrashLoopBackOff") || !cs.ready) {
            out.push((cs.name.clone(), true));
        }
        if terminated_bad || (running && !cs.ready) {
            out.push((cs.name.clone(), false));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(statuses: serde_json::Value) -> Pod {
        serde_json::from_value(
            serde_json::json!({"metadata": {"name": "p"}, "status": {"containerStatuses": statuses}}),
        )
        .unwrap_or_default()
    }

    #[test]
    fn which_logs_are_read() {
        let status = |name: &str, state: serde_json::Value, last: serde_json::Value, ready: bool| {
            serde_json::json!({"name": name, "ready": ready, "restartCount": 1, "image": "i", "imageID": "",
                "state": state, "lastState": last})
        };
        let p = pod(serde_json::json!([
            status(
                "crash",
                serde_json::json!({"waiting": {"reason": "CrashLoopBackOff"}}),
                serde_json::json!({"terminated": {"exitCode": 1}}),
                false
            ),
            status("fine", serde_json::json!({"running": {}}), serde_json::json!({}), true),
            status(
                "restarted",
                serde_json::json!({"running": {}}),
                serde_json::json!({"terminated": {"exitCode": 137}}),
                true
            ),
            status("unready", serde_json::json!({"running": {}}), serde_json::json!({}), false),
            status(
                "pulling",
                serde_json::json!({"waiting": {"reason": "ImagePullBackOff"}}),
                serde_json::json!({}),
                false
            ),
        ]));
        let names = |t: Vec<(String, bool)>| {
            t.into_iter().map(|(c, prev)| format!("{c}{}", if prev { "/previous" } else { "" })).collect::<Vec<_>>()
        };
        // The analyzers read the logs of failing containers only.
        assert_eq!(names(log_targets(&p)), ["crash/previous", "unready"]);
        // A diagnosis reads everything that ran.
        assert_eq!(
            names(all_log_targets(&p)),
            ["crash/previous", "fine", "restarted/previous", "restarted", "unready"]
        );
    }
}
