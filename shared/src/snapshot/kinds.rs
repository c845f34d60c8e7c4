//! The kinds a snapshot holds, declared once. The macro generates the `Kind` enum, the typed
//! `Objects` store, decoding of loose documents into it, and typed listing from the API.

use k8s_openapi::api::{
    admissionregistration, apps, autoscaling, batch, core, discovery, networking, policy, rbac, storage,
};
use k8s_openapi::{ClusterResourceScope, NamespaceResourceScope};
use serde::Serialize;

/// Whether a k8s-openapi scope type is namespaced.
pub(crate) trait IsNamespaced {
    const NAMESPACED: bool;
}
impl IsNamespaced for NamespaceResourceScope {
    const NAMESPACED: bool = true;
}
impl IsNamespaced for ClusterResourceScope {
    const NAMESPACED: bool = false;
}

macro_rules! kinds {
    ($( $variant:ident => $field:ident : $ty:ty ; )*) => {
        /// A kind of object a snapshot can hold.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Kind { $(#[doc = concat!("`", stringify!($variant), "`.")] $variant),* }

        impl Kind {
            /// Every kind, in a stable order.
            pub const ALL: &'static [Kind] = &[$(Kind::$variant),*];

            /// The Kubernetes kind name, e.g. `ReplicaSet`.
            pub fn name(self) -> &'static str {
                match self { $(Kind::$variant => <$ty as k8s_openapi::Resource>::KIND),* }
            }

            /// The resource name, e.g. `replicasets`.
            pub fn plural(self) -> &'static str {
                match self { $(Kind::$variant => <$ty as k8s_openapi::Resource>::URL_PATH_SEGMENT),* }
            }

            /// The API group, empty for the core group.
            pub fn group(self) -> &'static str {
                match self { $(Kind::$variant => <$ty as k8s_openapi::Resource>::GROUP),* }
            }

            /// `group/version`, or `v1` for the core group.
            pub fn api_version(self) -> &'static str {
                match self { $(Kind::$variant => <$ty as k8s_openapi::Resource>::API_VERSION),* }
            }

            /// Whether its objects live in namespaces.
            pub fn namespaced(self) -> bool {
                match self {
                    $(Kind::$variant => <<$ty as k8s_openapi::Resource>::Scope as IsNamespaced>::NAMESPACED),*
                }
            }

            /// `replicasets.apps`, the way kubectl names a resource in messages.
            pub fn resource(self) -> String {
                if self.group().is_empty() { self.plural().to_string() } else { format!("{}.{}", self.plural(), self.group()) }
            }

            /// The kind for an `apiVersion` + `kind` pair, if a snapshot holds it.
            pub fn from_type(api_version: &str, kind: &str) -> Option<Kind> {
                Kind::ALL.iter().copied().find(|k| k.name() == kind && k.api_version() == api_version)
            }

            /// The kind of the same name in another version (e.g. `autoscaling/v1`), for messages.
            pub fn from_kind_name(kind: &str) -> Option<Kind> {
                Kind::ALL.iter().copied().find(|k| k.name() == kind)
            }
        }

        /// Typed objects, one list per kind.
        #[derive(Clone, Debug, Default)]
        pub struct Objects {
            $(#[doc = concat!("The ", stringify!($variant), " objects.")] pub $field: Vec<$ty>,)*
        }

        impl Objects {
            /// How many objects of a kind there are.
            pub fn count(&self, kind: Kind) -> usize {
                match kind { $(Kind::$variant => self.$field.len()),* }
            }

            /// Decodes one object of a known kind and adds it, unless `keep` refuses it.
            pub(crate) fn insert_value(&mut self, kind: Kind, value: serde_json::Value, keep: Option<super::Keep>) -> Result<(), serde_json::Error> {
                match kind {
                    $(Kind::$variant => {
                        let object: $ty = serde_json::from_value(value)?;
                        if keep.is_none_or(|keep| keep(kind, k8s_openapi::Metadata::metadata(&object))) {
                            self.$field.push(object);
                        }
                    })*
                }
                Ok(())
            }

            /// Adds a typed batch fetched from the API.
            pub(crate) fn absorb(&mut self, batch: Batch) {
                match batch { $(Batch::$variant(items) => self.$field.extend(items)),* }
            }

            /// Keeps only the objects `keep` accepts, by metadata.
            pub(crate) fn retain(&mut self, mut keep: impl FnMut(Kind, &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> bool) {
                $(self.$field.retain(|o| keep(Kind::$variant, k8s_openapi::Metadata::metadata(o)));)*
            }

            /// One object as JSON, by kind name, namespace and name.
            pub fn find_json(&self, kind: &str, namespace: Option<&str>, name: &str) -> Option<serde_json::Value> {
                let hit = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
                    m.name.as_deref() == Some(name) && m.namespace.as_deref() == namespace
                };
                match Kind::from_kind_name(kind)? {
                    $(Kind::$variant => self.$field.iter().find(|o| hit(k8s_openapi::Metadata::metadata(*o))).and_then(|o| serde_json::to_value(o).ok()),)*
                }
            }

            /// Every object's metadata.
            pub fn for_each_meta(&self, mut f: impl FnMut(Kind, &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta)) {
                $(for o in &self.$field { f(Kind::$variant, k8s_openapi::Metadata::metadata(o)); })*
            }

            /// Mutable access to every object's metadata.
            pub(crate) fn for_each_meta_mut(&mut self, mut f: impl FnMut(Kind, &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta)) {
                $(for o in &mut self.$field { f(Kind::$variant, k8s_openapi::Metadata::metadata_mut(o)); })*
            }

            /// Every object of the given kinds as JSON made into a `T` by `each`, in kind order, each
            /// typed object dropped as soon as it is converted (the others dropped at once).
            pub(crate) fn into_values<T>(mut self, kinds: &std::collections::BTreeSet<Kind>, mut each: impl FnMut(serde_json::Value) -> T) -> Vec<T> {
                self.retain(|kind, _| kinds.contains(&kind));
                let mut out = Vec::new();
                $(out.extend(std::mem::take(&mut self.$field).into_iter().filter_map(|o| serde_json::to_value(o).ok()).map(&mut each));)*
                out
            }

            /// Visits every object of the given kinds as a serializable value, in kind order.
            pub(crate) fn for_each_serialize(&self, kinds: &std::collections::BTreeSet<Kind>, mut f: impl FnMut(&dyn ErasedObject) -> std::io::Result<()>) -> std::io::Result<()> {
                $(if kinds.contains(&Kind::$variant) { for o in &self.$field { f(o)?; } })*
                Ok(())
            }
        }

        /// One kind's objects as listed from the API.
        pub(crate) enum Batch { $($variant(Vec<$ty>)),* }

        /// Lists every object of `kind` (all pages) in the namespace, or everywhere.
        pub(crate) async fn list_kind(
            client: &kube::Client,
            kind: Kind,
            namespace: Option<&str>,
            params: &kube::api::ListParams,
            keep: Option<super::Keep>,
            trim: Option<super::Trim>,
        ) -> Result<Batch, kube::Error> {
            match kind {
                $(Kind::$variant => Ok(Batch::$variant(super::fetch::list_all::<$ty>(client, kind, namespace, params, keep, trim).await?)),)*
            }
        }
    };
}

kinds! {
    Pod => pods: core::v1::Pod;
    Event => events: core::v1::Event;
    Node => nodes: core::v1::Node;
    Namespace => namespaces: core::v1::Namespace;
    Service => services: core::v1::Service;
    Endpoints => endpoints: core::v1::Endpoints;
    ConfigMap => config_maps: core::v1::ConfigMap;
    Secret => secrets: core::v1::Secret;
    PersistentVolumeClaim => persistent_volume_claims: core::v1::PersistentVolumeClaim;
    PersistentVolume => persistent_volumes: core::v1::PersistentVolume;
    ServiceAccount => service_accounts: core::v1::ServiceAccount;
    ResourceQuota => resource_quotas: core::v1::ResourceQuota;
    LimitRange => limit_ranges: core::v1::LimitRange;
    ReplicationController => replication_controllers: core::v1::ReplicationController;
    Deployment => deployments: apps::v1::Deployment;
    ReplicaSet => replica_sets: apps::v1::ReplicaSet;
    StatefulSet => stateful_sets: apps::v1::StatefulSet;
    DaemonSet => daemon_sets: apps::v1::DaemonSet;
    Job => jobs: batch::v1::Job;
    CronJob => cron_jobs: batch::v1::CronJob;
    Ingress => ingresses: networking::v1::Ingress;
    IngressClass => ingress_classes: networking::v1::IngressClass;
    NetworkPolicy => network_policies: networking::v1::NetworkPolicy;
    StorageClass => storage_classes: storage::v1::StorageClass;
    HorizontalPodAutoscaler => horizontal_pod_autoscalers: autoscaling::v2::HorizontalPodAutoscaler;
    PodDisruptionBudget => pod_disruption_budgets: policy::v1::PodDisruptionBudget;
    ValidatingWebhookConfiguration => validating_webhooks: admissionregistration::v1::ValidatingWebhookConfiguration;
    MutatingWebhookConfiguration => mutating_webhooks: admissionregistration::v1::MutatingWebhookConfiguration;
    EndpointSlice => endpoint_slices: discovery::v1::EndpointSlice;
    Role => roles: rbac::v1::Role;
    RoleBinding => role_bindings: rbac::v1::RoleBinding;
    ClusterRole => cluster_roles: rbac::v1::ClusterRole;
    ClusterRoleBinding => cluster_role_bindings: rbac::v1::ClusterRoleBinding;
}

/// Object-safe serialization of one snapshot object (for dumps).
pub(crate) trait ErasedObject {
    fn to_json(&self) -> serde_json::Result<serde_json::Value>;
}

impl<T: Serialize> ErasedObject for T {
    fn to_json(&self) -> serde_json::Result<serde_json::Value> {
        serde_json::to_value(self)
    }
}

/// kubectl's short names for the kinds a snapshot holds (what works offline, without discovery).
const ALIASES: &[(&str, &str)] = &[
    ("po", "Pod"),
    ("deploy", "Deployment"),
    ("rs", "ReplicaSet"),
    ("sts", "StatefulSet"),
    ("ds", "DaemonSet"),
    ("cj", "CronJob"),
    ("svc", "Service"),
    ("ep", "Endpoints"),
    ("cm", "ConfigMap"),
    ("pvc", "PersistentVolumeClaim"),
    ("pv", "PersistentVolume"),
    ("sa", "ServiceAccount"),
    ("ns", "Namespace"),
    ("no", "Node"),
    ("ing", "Ingress"),
    ("netpol", "NetworkPolicy"),
    ("sc", "StorageClass"),
    ("hpa", "HorizontalPodAutoscaler"),
    ("pdb", "PodDisruptionBudget"),
    ("quota", "ResourceQuota"),
    ("limits", "LimitRange"),
    ("rc", "ReplicationController"),
    ("ev", "Event"),
];

impl Kind {
    /// The kind a kubectl-style name means: a short name (`po`, `deploy`), the singular or plural
    /// resource (`pod`, `pods`), the kind (`Pod`), in any case, with or without a group (`deploy.apps`).
    pub fn from_kubectl_name(arg: &str) -> Option<Kind> {
        let a = arg.to_ascii_lowercase();
        let a = a.split('.').next().unwrap_or(&a).to_string();
        if let Some((_, kind)) = ALIASES.iter().find(|(short, _)| *short == a) {
            return Kind::from_kind_name(kind);
        }
        Kind::ALL
            .iter()
            .copied()
            .find(|k| k.name().to_ascii_lowercase() == a || k.plural() == a || k.plural().trim_end_matches('s') == a)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_table_is_consistent() {
        assert_eq!(Kind::Pod.plural(), "pods");
        assert_eq!(Kind::ReplicaSet.resource(), "replicasets.apps");
        assert_eq!(Kind::HorizontalPodAutoscaler.api_version(), "autoscaling/v2");
        assert!(Kind::Pod.namespaced());
        assert!(!Kind::Node.namespaced());
        assert_eq!(Kind::from_type("apps/v1", "Deployment"), Some(Kind::Deployment));
        assert_eq!(Kind::from_type("autoscaling/v1", "HorizontalPodAutoscaler"), None);
        for kind in Kind::ALL {
            assert_eq!(Kind::from_type(kind.api_version(), kind.name()), Some(*kind));
        }
    }
}
