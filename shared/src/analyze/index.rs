//! Lookups built once per run so that no analyzer is quadratic: events by object, controllers by
//! uid and by name, owner chains.

use std::collections::HashMap;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    ConfigMap, Endpoints, Event, Node, PersistentVolumeClaim, Pod, ReplicationController, Secret, Service,
};
use k8s_openapi::api::networking::v1::IngressClass;
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use crate::findings::ObjectRef;
use crate::snapshot::LabelSelector;
use crate::snapshot::Snapshot;

/// A controller that can own pods (or other controllers).
#[derive(Clone, Copy, Debug)]
pub enum Owner<'a> {
    ReplicaSet(&'a ReplicaSet),
    Deployment(&'a Deployment),
    StatefulSet(&'a StatefulSet),
    DaemonSet(&'a DaemonSet),
    Job(&'a Job),
    CronJob(&'a CronJob),
    ReplicationController(&'a ReplicationController),
}

impl<'a> Owner<'a> {
    pub fn meta(&self) -> &'a ObjectMeta {
        match *self {
            Owner::ReplicaSet(o) => &o.metadata,
            Owner::Deployment(o) => &o.metadata,
            Owner::StatefulSet(o) => &o.metadata,
            Owner::DaemonSet(o) => &o.metadata,
            Owner::Job(o) => &o.metadata,
            Owner::CronJob(o) => &o.metadata,
            Owner::ReplicationController(o) => &o.metadata,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Owner::ReplicaSet(_) => "ReplicaSet",
            Owner::Deployment(_) => "Deployment",
            Owner::StatefulSet(_) => "StatefulSet",
            Owner::DaemonSet(_) => "DaemonSet",
            Owner::Job(_) => "Job",
            Owner::CronJob(_) => "CronJob",
            Owner::ReplicationController(_) => "ReplicationController",
        }
    }

    /// The replicas the controller asks for, when it has such a field.
    pub fn desired_replicas(&self) -> Option<i32> {
        match self {
            Owner::ReplicaSet(o) => Some(o.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)),
            Owner::Deployment(o) => Some(o.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)),
            Owner::StatefulSet(o) => Some(o.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)),
            Owner::ReplicationController(o) => Some(o.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)),
            _ => None,
        }
    }
}

/// One step of an owner chain: the reference, and the object when the snapshot has it.
#[derive(Clone, Debug)]
pub struct OwnerLink<'a> {
    pub reference: ObjectRef,
    pub object: Option<Owner<'a>>,
}

type NsName<'a> = (&'a str, &'a str);

/// Per-run lookups over a snapshot.
pub struct Index<'a> {
    events: HashMap<(&'a str, &'a str, &'a str), Vec<&'a Event>>,
    by_uid: HashMap<&'a str, Owner<'a>>,
    by_name: HashMap<(&'static str, &'a str, &'a str), Owner<'a>>,
    /// Pods and controllers by the uid of their controlling owner.
    pods_by_owner: HashMap<&'a str, Vec<&'a Pod>>,
    children: HashMap<&'a str, Vec<Owner<'a>>>,
    pods_by_ns: HashMap<&'a str, Vec<&'a Pod>>,
    pods_by_label: HashMap<(&'a str, &'a str, &'a str), Vec<&'a Pod>>,
    pub services: HashMap<NsName<'a>, &'a Service>,
    pub endpoints: HashMap<NsName<'a>, &'a Endpoints>,
    pub config_maps: HashMap<NsName<'a>, &'a ConfigMap>,
    pub secrets: HashMap<NsName<'a>, &'a Secret>,
    pub claims: HashMap<NsName<'a>, &'a PersistentVolumeClaim>,
    pub storage_classes: HashMap<&'a str, &'a StorageClass>,
    pub ingress_classes: HashMap<&'a str, &'a IngressClass>,
    pub nodes: HashMap<&'a str, &'a Node>,
}

/// Namespaced objects by (namespace, name).
fn by_ns_name<T: k8s_openapi::Metadata<Ty = ObjectMeta>>(items: &[T]) -> HashMap<NsName<'_>, &T> {
    items
        .iter()
        .map(|o| {
            let m = o.metadata();
            ((m.namespace.as_deref().unwrap_or(""), m.name.as_deref().unwrap_or("")), o)
        })
        .collect()
}

/// Cluster-scoped objects by name.
fn by_cluster_name<T: k8s_openapi::Metadata<Ty = ObjectMeta>>(items: &[T]) -> HashMap<&str, &T> {
    items.iter().map(|o| (o.metadata().name.as_deref().unwrap_or(""), o)).collect()
}

/// The uid of the controlling owner.
fn controller_uid(meta: &ObjectMeta) -> Option<&str> {
    controller_of(meta.owner_references.as_deref().unwrap_or_default()).map(|r| r.uid.as_str())
}

impl<'a> Index<'a> {
    pub fn new(snapshot: &'a Snapshot) -> Self {
        let o = &snapshot.objects;
        let mut events: HashMap<(&str, &str, &str), Vec<&Event>> = HashMap::new();
        for ev in &o.events {
            let io = &ev.involved_object;
            if let (Some(kind), Some(name)) = (io.kind.as_deref(), io.name.as_deref()) {
                let ns = io.namespace.as_deref().or(ev.metadata.namespace.as_deref()).unwrap_or("");
                events.entry((kind, ns, name)).or_default().push(ev);
            }
        }
        for list in events.values_mut() {
            list.sort_by_key(|e| std::cmp::Reverse(event_time(e)));
        }
        let owners = o
            .replica_sets
            .iter()
            .map(Owner::ReplicaSet)
            .chain(o.deployments.iter().map(Owner::Deployment))
            .chain(o.stateful_sets.iter().map(Owner::StatefulSet))
            .chain(o.daemon_sets.iter().map(Owner::DaemonSet))
            .chain(o.jobs.iter().map(Owner::Job))
            .chain(o.cron_jobs.iter().map(Owner::CronJob))
            .chain(o.replication_controllers.iter().map(Owner::ReplicationController));
        let mut by_uid = HashMap::new();
        let mut by_name = HashMap::new();
        let mut children: HashMap<&str, Vec<Owner<'_>>> = HashMap::new();
        for owner in owners {
            let meta = owner.meta();
            if let Some(uid) = meta.uid.as_deref() {
                by_uid.insert(uid, owner);
            }
            if let Some(parent) = controller_uid(meta) {
                children.entry(parent).or_default().push(owner);
            }
            by_name.insert(
                (owner.kind(), meta.namespace.as_deref().unwrap_or(""), meta.name.as_deref().unwrap_or("")),
                owner,
            );
        }
        let mut pods_by_owner: HashMap<&str, Vec<&Pod>> = HashMap::new();
        let mut pods_by_ns: HashMap<&str, Vec<&Pod>> = HashMap::new();
        let mut pods_by_label: HashMap<(&str, &str, &str), Vec<&Pod>> = HashMap::new();
        for pod in &o.pods {
            let ns = pod.metadata.namespace.as_deref().unwrap_or("");
            pods_by_ns.entry(ns).or_default().push(pod);
            for (k, v) in pod.metadata.labels.iter().flatten() {
                pods_by_label.entry((ns, k.as_str(), v.as_str())).or_default().push(pod);
            }
            if let Some(owner) = controller_uid(&pod.metadata) {
                pods_by_owner.entry(owner).or_default().push(pod);
            }
        }
        Index {
            events,
            by_uid,
            by_name,
            pods_by_owner,
            children,
            pods_by_ns,
            pods_by_label,
            services: by_ns_name(&o.services),
            endpoints: by_ns_name(&o.endpoints),
            config_maps: by_ns_name(&o.config_maps),
            secrets: by_ns_name(&o.secrets),
            claims: by_ns_name(&o.persistent_volume_claims),
            storage_classes: by_cluster_name(&o.storage_classes),
            ingress_classes: by_cluster_name(&o.ingress_classes),
            nodes: by_cluster_name(&o.nodes),
        }
    }

    /// A controller by kind, namespace and name.
    pub fn controller(&self, kind: &str, namespace: &str, name: &str) -> Option<Owner<'a>> {
        let kind = KINDS.iter().find(|k| **k == kind)?;
        self.by_name.get(&(*kind, namespace, name)).copied()
    }

    /// The pods a controller owns directly (a ReplicaSet's, a StatefulSet's, a Job's).
    pub fn pods_of(&self, owner: &ObjectMeta) -> &[&'a Pod] {
        owner.uid.as_deref().and_then(|uid| self.pods_by_owner.get(uid)).map_or(&[], Vec::as_slice)
    }

    /// The controllers a controller owns directly (a Deployment's ReplicaSets, a CronJob's Jobs).
    pub fn children_of(&self, owner: &ObjectMeta) -> &[Owner<'a>] {
        owner.uid.as_deref().and_then(|uid| self.children.get(uid)).map_or(&[], Vec::as_slice)
    }

    /// Whether a Job is its CronJob's newest run (a Job without a CronJob always is). An older run
    /// that failed is history once a newer one exists.
    pub fn is_latest_run(&self, job: &Job) -> bool {
        let Some(Owner::CronJob(cron)) = controller_of(job.metadata.owner_references.as_deref().unwrap_or_default())
            .and_then(|r| self.owner(job.metadata.namespace.as_deref().unwrap_or(""), r))
        else {
            return true;
        };
        let created = |j: &Job| j.metadata.creation_timestamp.as_ref().map(|t| t.0);
        let newest = self
            .children_of(&cron.metadata)
            .iter()
            .filter_map(|o| match o {
                Owner::Job(j) => created(j),
                _ => None,
            })
            .max();
        newest.is_none_or(|n| created(job).is_some_and(|c| c >= n))
    }

    /// The pods of a namespace.
    pub fn pods_in(&self, namespace: &str) -> &[&'a Pod] {
        self.pods_by_ns.get(namespace).map_or(&[], Vec::as_slice)
    }

    /// The pods of a namespace that a selector matches; an equality requirement narrows the candidates.
    pub fn pods_matching(&self, namespace: &str, selector: &LabelSelector) -> Vec<&'a Pod> {
        let candidates = match selector.equality() {
            Some((k, v)) => self.pods_by_label.get(&(namespace, k, v)).map_or(&[][..], Vec::as_slice),
            None => self.pods_in(namespace),
        };
        candidates.iter().copied().filter(|p| selector.matches(p.metadata.labels.as_ref())).collect()
    }

    /// Events about an object, newest first. Events of an earlier object of the same name (another
    /// uid, e.g. a recreated StatefulSet pod) are left out.
    pub fn events(&self, kind: &str, meta: &ObjectMeta) -> Vec<&'a Event> {
        let key = (kind, meta.namespace.as_deref().unwrap_or(""), meta.name.as_deref().unwrap_or(""));
        let uid = meta.uid.as_deref();
        self.events
            .get(&key)
            .map(|list| {
                list.iter()
                    .copied()
                    .filter(|e| match (e.involved_object.uid.as_deref(), uid) {
                        (Some(a), Some(b)) => a == b,
                        _ => true,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The controller an owner reference points to, if the snapshot has it.
    pub fn owner(&self, namespace: &str, reference: &OwnerReference) -> Option<Owner<'a>> {
        self.by_uid.get(reference.uid.as_str()).copied().or_else(|| {
            let kind = KINDS.iter().find(|k| **k == reference.kind)?;
            self.by_name.get(&(*kind, namespace, reference.name.as_str())).copied()
        })
    }

    /// The chain of controlling owners, nearest first: Pod → ReplicaSet → Deployment.
    pub fn owner_chain(&self, meta: &ObjectMeta) -> Vec<OwnerLink<'a>> {
        let namespace = meta.namespace.as_deref().unwrap_or("");
        let mut chain: Vec<OwnerLink<'a>> = Vec::new();
        let mut refs = meta.owner_references.as_deref().unwrap_or_default();
        while let Some(reference) = controller_of(refs) {
            if chain.len() > 8
                || chain.iter().any(|l| l.reference.name == reference.name && l.reference.kind == reference.kind)
            {
                break; // a malformed cycle
            }
            let object = self.owner(namespace, reference);
            chain.push(OwnerLink {
                reference: ObjectRef {
                    kind: reference.kind.clone(),
                    namespace: Some(namespace.to_string()).filter(|n| !n.is_empty()),
                    name: reference.name.clone(),
                },
                object,
            });
            match object {
                Some(owner) => refs = owner.meta().owner_references.as_deref().unwrap_or_default(),
                None => {
                    // A ReplicaSet that could not be read (403 on replicasets): its Deployment is
                    // known by name — the ReplicaSet is `<deployment>-<pod-template-hash>` — when a
                    // Deployment of that name selects the pod.
                    if let Some(deployment) = (chain.len() == 1)
                        .then(|| self.deployment_of_unread_replica_set(namespace, reference, meta))
                        .flatten()
                    {
                        chain.push(OwnerLink {
                            reference: ObjectRef {
                                kind: "Deployment".into(),
                                namespace: Some(namespace.to_string()).filter(|n| !n.is_empty()),
                                name: deployment.metadata.name.clone().unwrap_or_default(),
                            },
                            object: Some(Owner::Deployment(deployment)),
                        });
                    }
                    break;
                }
            }
        }
        chain
    }

    fn deployment_of_unread_replica_set(
        &self,
        namespace: &str,
        reference: &OwnerReference,
        pod: &ObjectMeta,
    ) -> Option<&'a Deployment> {
        if reference.kind != "ReplicaSet" {
            return None;
        }
        let hash = pod.labels.as_ref()?.get("pod-template-hash")?;
        let name = reference.name.strip_suffix(hash.as_str())?.strip_suffix('-')?;
        let Owner::Deployment(deployment) = *self.by_name.get(&("Deployment", namespace, name))? else {
            return None;
        };
        let selector = deployment.spec.as_ref()?.selector.clone();
        crate::snapshot::LabelSelector::from_api(&selector)
            .is_ok_and(|s| s.matches(pod.labels.as_ref()))
            .then_some(deployment)
    }
}

const KINDS: [&str; 7] =
    ["ReplicaSet", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicationController"];

/// The controlling owner reference, else the first one.
fn controller_of(refs: &[OwnerReference]) -> Option<&OwnerReference> {
    refs.iter().find(|r| r.controller == Some(true)).or_else(|| refs.first())
}

/// When an event last happened.
pub(crate) fn event_time(e: &Event) -> Option<Timestamp> {
    e.last_timestamp
        .as_ref()
        .map(|t| t.0)
        .or_else(|| e.event_time.as_ref().map(|t| t.0))
        .or_else(|| e.first_timestamp.as_ref().map(|t| t.0))
        .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

#[cfg(test)]
mod tests {
    use crate::analyze::testkit::{findings, line};

    /// Two crashing pods of ReplicaSet `web-7d9f8` (not in the state: a 403 on replicasets), and a
    /// Deployment whose selector is given.
    fn state(deployment: &str, selector: &str) -> String {
        let pod = |name: &str| {
            format!(
                "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: shop, creationTimestamp: '2026-05-01T11:00:00Z',\n  \
                 labels: {{app: web, pod-template-hash: 7d9f8}},\n  \
                 ownerReferences: [{{apiVersion: apps/v1, kind: ReplicaSet, name: web-7d9f8, uid: rs-1, controller: true}}]}}\n\
                 spec: {{nodeName: n1, containers: [{{name: app, image: app:1}}]}}\n\
                 status: {{phase: Running, conditions: [{{type: Ready, status: 'False'}}], containerStatuses: [{{name: app, image: app:1, imageID: '',\n  \
                 ready: false, restartCount: 6, state: {{waiting: {{reason: CrashLoopBackOff, message: back-off}}}},\n  \
                 lastState: {{terminated: {{exitCode: 1, reason: Error, finishedAt: '2026-05-01T12:00:00Z'}}}}}}]}}\n---\n"
            )
        };
        pod("web-7d9f8-aaaaa")
            + &pod("web-7d9f8-bbbbb")
            + &format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {deployment}, namespace: shop, uid: d-1}}\n\
                 spec: {{replicas: 2, selector: {{matchLabels: {{{selector}}}}}, template: {{metadata: {{labels: {{{selector}}}}}, spec: {{containers: [{{name: app, image: app:1}}]}}}}}}\n\
                 status: {{replicas: 2, unavailableReplicas: 2}}\n---\n"
            )
    }

    #[test]
    fn an_unread_replica_set_is_known_by_its_name() {
        let parent = |s: &str| {
            findings(s)
                .iter()
                .map(|f| {
                    format!(
                        "{} < {}",
                        line(f),
                        f.parent.as_ref().map_or("-".into(), |p| format!("{}/{}", p.kind, p.name))
                    )
                })
                .collect::<Vec<_>>()
        };
        let cases: &[(&str, String, &[&str])] = &[
            (
                "the Deployment named by the ReplicaSet's name and selecting the pods owns them",
                state("web", "app: web"),
                &["critical Deployment shop/web CrashLoopBackOff < -"],
            ),
            (
                "look-alike: a Deployment of that name that does not select the pods is not their owner",
                state("web", "app: other"),
                &[
                    "high Deployment shop/web ReplicasUnavailable < -",
                    "high ReplicaSet shop/web-7d9f8 CrashLoopBackOff < -",
                ],
            ),
            (
                "look-alike: no Deployment of that name",
                state("api", "app: web"),
                &[
                    "high Deployment shop/api ReplicasUnavailable < -",
                    "high ReplicaSet shop/web-7d9f8 CrashLoopBackOff < -",
                ],
            ),
        ];
        for (what, s, want) in cases {
            assert_eq!(parent(s), *want, "{what}");
        }
    }
}
