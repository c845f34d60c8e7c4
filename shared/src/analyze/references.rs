//! References from pod templates to ConfigMaps and Secrets (and their keys) that do not exist.
//!
//! Checked on the templates of the workloads (so a CronJob's next run is caught before it fails) and
//! on bare pods. When the workload's pods already fail because of it, their findings carry the same
//! words, and the reference is merged into them.

use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{Analyzer, Context, Info, Problem, combine};
use crate::findings::{Finding, Severity};
use crate::snapshot::Kind;

pub(super) struct ConfigMapAnalyzer;
pub(super) struct SecretAnalyzer;

const WORKLOADS: &[Kind] =
    &[Kind::Pod, Kind::Deployment, Kind::StatefulSet, Kind::DaemonSet, Kind::Job, Kind::CronJob, Kind::ReplicaSet];

impl Analyzer for ConfigMapAnalyzer {
    fn info(&self) -> &'static Info {
        &Info {
            name: "ConfigMap",
            description: "pods and workload templates referring to a ConfigMap or key that does not exist",
            subject: Kind::ConfigMap,
            evidence: WORKLOADS,
            default_enabled: true,
        }
    }

    fn analyze(&self, cx: &Context<'_>, out: &mut Vec<Finding>) {
        check_all(cx, Source::ConfigMap, out);
    }
}

impl Analyzer for SecretAnalyzer {
    fn info(&self) -> &'static Info {
        &Info {
            name: "Secret",
            description: "(opt-in: lists Secrets, values are never kept) references to missing Secrets, keys and image pull secrets",
            subject: Kind::Secret,
            evidence: WORKLOADS,
            default_enabled: false,
        }
    }

    fn analyze(&self, cx: &Context<'_>, out: &mut Vec<Finding>) {
        check_all(cx, Source::Secret, out);
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    ConfigMap,
    Secret,
}

/// One reference: what refers (`env DB_URL of container app`), to which object and key.
struct Reference {
    what: String,
    name: String,
    key: Option<String>,
}

fn check_all(cx: &Context<'_>, source: Source, out: &mut Vec<Finding>) {
    let o = &cx.snapshot.objects;
    let active = |r: Option<i32>| r != Some(0);
    let mut workloads: Vec<(&str, &ObjectMeta, Option<&PodTemplateSpec>)> = Vec::new();
    workloads.extend(
        o.deployments
            .iter()
            .filter(|d| active(d.spec.as_ref().and_then(|s| s.replicas)))
            .map(|d| ("Deployment", &d.metadata, d.spec.as_ref().map(|s| &s.template))),
    );
    workloads.extend(
        o.stateful_sets
            .iter()
            .filter(|d| active(d.spec.as_ref().and_then(|s| s.replicas)))
            .map(|d| ("StatefulSet", &d.metadata, d.spec.as_ref().map(|s| &s.template))),
    );
    workloads.extend(o.daemon_sets.iter().map(|d| ("DaemonSet", &d.metadata, d.spec.as_ref().map(|s| &s.template))));
    workloads.extend(o.cron_jobs.iter().filter(|c| c.spec.as_ref().and_then(|s| s.suspend) != Some(true)).map(|c| {
        ("CronJob", &c.metadata, c.spec.as_ref().and_then(|s| s.job_template.spec.as_ref()).map(|s| &s.template))
    }));
    // Bare ReplicaSets and Jobs still running; those owned by a Deployment or CronJob are checked there.
    workloads.extend(
        o.replica_sets
            .iter()
            .filter(|r| r.metadata.owner_references.is_none() && active(r.spec.as_ref().and_then(|s| s.replicas)))
            .map(|r| ("ReplicaSet", &r.metadata, r.spec.as_ref().and_then(|s| s.template.as_ref()))),
    );
    workloads.extend(
        o.jobs
            .iter()
            .filter(|j| {
                j.metadata.owner_references.is_none() && j.status.as_ref().and_then(|s| s.active).unwrap_or(0) > 0
            })
            .map(|j| ("Job", &j.metadata, j.spec.as_ref().map(|s| &s.template))),
    );
    for (kind, meta, template) in workloads {
        if let Some(spec) = template.and_then(|t| t.spec.as_ref()) {
            out.extend(check(cx, source, kind, meta, spec).map(|f| f.owned_by(cx.owners(meta)).symptom()));
        }
    }
    for pod in o.pods.iter().filter(|p| p.metadata.owner_references.is_none()) {
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        if matches!(phase, Some("Succeeded" | "Failed")) {
            continue;
        }
        if let Some(spec) = &pod.spec {
            out.extend(check(cx, source, "Pod", &pod.metadata, spec).map(Finding::symptom));
        }
    }
}

fn check(cx: &Context<'_>, source: Source, kind: &str, meta: &ObjectMeta, spec: &PodSpec) -> Option<Finding> {
    let ns = meta.namespace.as_deref().unwrap_or("default");
    let (label, analyzer) = match source {
        Source::ConfigMap => ("ConfigMap", "ConfigMap"),
        Source::Secret => ("Secret", "Secret"),
    };
    let mut problems = Vec::new();
    for r in references(spec, source) {
        let keys: Option<Vec<&str>> = match source {
            Source::ConfigMap => cx.index.config_maps.get(&(ns, r.name.as_str())).map(|cm| {
                cm.data
                    .iter()
                    .flatten()
                    .map(|(k, _)| k.as_str())
                    .chain(cm.binary_data.iter().flatten().map(|(k, _)| k.as_str()))
                    .collect()
            }),
            Source::Secret => cx
                .index
                .secrets
                .get(&(ns, r.name.as_str()))
                .map(|s| s.data.iter().flatten().map(|(k, _)| k.as_str()).collect()),
        };
        let (reason, summary, hint) = match (&keys, &r.key) {
            (None, _) => (
                format!("Missing{label}"),
                format!("{} refers to {label} {}, which does not exist", r.what, r.name),
                match source {
                    Source::ConfigMap => {
                        format!("Create it (kubectl create configmap {} -n {ns} …) or fix the reference.", r.name)
                    }
                    Source::Secret => {
                        format!("Create it (kubectl create secret generic {} -n {ns} …) or fix the reference.", r.name)
                    }
                },
            ),
            (Some(keys), Some(key)) if !keys.contains(&key.as_str()) => (
                format!("Missing{label}Key"),
                format!(
                    "{} refers to key {key} of {label} {}, which has no such key (it has: {})",
                    r.what,
                    r.name,
                    keys.join(", ")
                ),
                format!("Add the key to {label} {} or fix the key in the reference.", r.name),
            ),
            _ => continue,
        };
        let severity = if kind == "Pod" { Severity::Medium } else { Severity::High };
        let note = if kind == "Pod" { " (the running pod keeps what it read; a restart will fail)" } else { "" };
        problems.push(Problem::new(severity, reason, format!("{summary}{note}")).hint(hint));
    }
    if source == Source::Secret {
        for pull in spec.image_pull_secrets.iter().flatten() {
            if !cx.index.secrets.contains_key(&(ns, pull.name.as_str())) {
                problems.push(
                    Problem::new(Severity::Medium, "MissingImagePullSecret", format!("image pull secret {} does not exist", pull.name))
                        .hint(format!("Pulls from a private registry will be refused: kubectl create secret docker-registry {} -n {ns} …", pull.name)),
                );
            }
        }
    }
    combine(analyzer, kind, meta, problems)
}

/// Every non-optional reference of a pod spec to a ConfigMap or Secret.
fn references(spec: &PodSpec, source: Source) -> Vec<Reference> {
    let mut out = Vec::new();
    let containers = spec.init_containers.iter().flatten().chain(spec.containers.iter());
    for c in containers {
        for env in c.env.iter().flatten() {
            let Some(from) = &env.value_from else { continue };
            let key_ref = match source {
                Source::ConfigMap => {
                    from.config_map_key_ref.as_ref().map(|r| (r.name.clone(), r.key.clone(), r.optional))
                }
                Source::Secret => from.secret_key_ref.as_ref().map(|r| (r.name.clone(), r.key.clone(), r.optional)),
            };
            if let Some((name, key, _)) = key_ref.filter(|r| r.2 != Some(true)) {
                out.push(Reference { what: format!("env {} of container {}", env.name, c.name), name, key: Some(key) });
            }
        }
        for from in c.env_from.iter().flatten() {
            let whole = match source {
                Source::ConfigMap => from.config_map_ref.as_ref().map(|r| (r.name.clone(), r.optional)),
                Source::Secret => from.secret_ref.as_ref().map(|r| (r.name.clone(), r.optional)),
            };
            if let Some((name, _)) = whole.filter(|r| r.1 != Some(true)) {
                out.push(Reference { what: format!("envFrom of container {}", c.name), name, key: None });
            }
        }
    }
    for v in spec.volumes.iter().flatten() {
        let direct = match source {
            Source::ConfigMap => v.config_map.as_ref().map(|s| (s.name.clone(), s.optional, s.items.clone())),
            Source::Secret => {
                v.secret.as_ref().map(|s| (s.secret_name.clone().unwrap_or_default(), s.optional, s.items.clone()))
            }
        };
        let projected = v.projected.iter().flat_map(|p| p.sources.iter().flatten()).filter_map(|s| match source {
            Source::ConfigMap => s.config_map.as_ref().map(|c| (c.name.clone(), c.optional, c.items.clone())),
            Source::Secret => s.secret.as_ref().map(|c| (c.name.clone(), c.optional, c.items.clone())),
        });
        for (name, optional, items) in direct.into_iter().chain(projected) {
            if optional == Some(true) || name.is_empty() {
                continue;
            }
            let what = format!("volume {}", v.name);
            match items {
                Some(items) if !items.is_empty() => {
                    out.extend(items.into_iter().map(|i| Reference {
                        what: what.clone(),
                        name: name.clone(),
                        key: Some(i.key),
                    }));
                }
                _ => out.push(Reference { what, name, key: None }),
            }
        }
    }
    out
}
