//! Lookups built once per run so that no analyzer is quadratic: events by object, controllers by
//! uid and by name, owner chains.

use std::collections::HashMap;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Event, ReplicationController};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use crate::findings::ObjectRef;
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

/// Per-run lookups over a snapshot.
pub struct Index<'a> {
    events: HashMap<(&'a str, &'a str, &'a str), Vec<&'a Event>>,
    by_uid: HashMap<&'a str, Owner<'a>>,
    by_name: HashMap<(&'static str, &'a str, &'a str), Owner<'a>>,
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
        for owner in owners {
            let meta = owner.meta();
            if let Some(uid) = meta.uid.as_deref() {
                by_uid.insert(uid, owner);
            }
            by_name.insert(
                (owner.kind(), meta.namespace.as_deref().unwrap_or(""), meta.name.as_deref().unwrap_or("")),
                owner,
            );
        }
        Index { events, by_uid, by_name }
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
                None => break,
            }
        }
        chain
    }
}

const KINDS: [&str; 7] =
    ["ReplicaSet", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicationController"];

/// The controlling owner reference, else the first one.
fn controller_of(refs: &[OwnerReference]) -> Option<&OwnerReference> {
    refs.iter().find(|r| r.controller == Some(true)).or_else(|| refs.first())
}

/// When an event last happened.
pub fn event_time(e: &Event) -> Option<Timestamp> {
    e.last_timestamp
        .as_ref()
        .map(|t| t.0)
        .or_else(|| e.event_time.as_ref().map(|t| t.0))
        .or_else(|| e.first_timestamp.as_ref().map(|t| t.0))
        .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0))
}
