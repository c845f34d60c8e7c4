//! Workload controllers: Deployment, ReplicaSet, StatefulSet, DaemonSet.
//!
//! A controller short of ready replicas is a symptom: when its pods have findings, those are the
//! cause and the controller's own words are added to them. What only the controller can tell — a
//! stuck rollout, pods it cannot create, a missing governing Service or StorageClass — is reported
//! here.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};

use super::{Analyzer, Context, Info, Problem, combine, condition_is, describe, selector_text};
use crate::findings::{Finding, Severity};
use crate::snapshot::Kind;

pub(super) struct DeploymentAnalyzer;

impl Analyzer for DeploymentAnalyzer {
    fn info(&self) -> &'static Info {
        &Info {
            name: "Deployment",
            description: "Deployments with fewer available replicas than desired, and rollouts stuck past their deadline",
            subject: Kind::Deployment,
            evidence: &[Kind::ReplicaSet, Kind::Pod, Kind::Event],
            default_enabled: true,
        }
    }

    fn analyze(&self, cx: &Context<'_>, out: &mut Vec<Finding>) {
        for d in &cx.snapshot.objects.deployments {
            out.extend(deployment(d));
        }
    }
}

fn deployment(d: &Deployment) -> Option<Finding> {
    let spec = d.spec.as_ref()?;
    let desired = spec.replicas.unwrap_or(1);
    if desired == 0 {
        return None;
    }
    let status = d.status.clone().unwrap_or_default();
    let available = status.available_replicas.unwrap_or(0);
    let updated = status.updated_replicas.unwrap_or(0);
    let conditions = status.conditions.as_ref();
    let ns = d.metadata.namespace.as_deref().unwrap_or("default");
    let name = d.metadata.name.as_deref().unwrap_or("");
    let problem = if let Some(c) = condition_is(conditions, "Progressing", "False")
        .filter(|c| c.reason.as_deref() == Some("ProgressDeadlineExceeded"))
    {
        let old = if available > 0 && updated < desired {
            format!(" ({available} available are the previous revision's: they still serve)")
        } else {
            String::new()
        };
        Problem::new(
            Severity::High,
            "ProgressDeadlineExceeded",
            format!("the rollout is stuck: {updated}/{desired} replicas updated, {available} available"),
        )
        .messages(c.message.clone())
        .hint(format!(
            "The new ReplicaSet's pods say why (kubectl rollout status deployment/{name} -n {ns}){old}; to go back, kubectl rollout undo deployment/{name} -n {ns}."
        ))
    } else if available < desired {
        let rolling = condition_is(conditions, "Progressing", "True").is_some_and(|c| {
            matches!(c.reason.as_deref(), Some("ReplicaSetUpdated" | "NewReplicaSetCreated" | "FoundNewReplicaSet"))
        });
        let unavailable = condition_is(conditions, "Available", "False");
        if rolling && unavailable.is_none() {
            return None; // a rollout in progress within its deadline
        }
        let selector = selector_text(&spec.selector);
        Problem::new(
            shortfall(available, desired),
            "ReplicasUnavailable",
            format!("{available}/{desired} replicas available"),
        )
        .messages(unavailable.and_then(|c| c.message.clone()))
        .hint(format!("Its pods say why: kubectl get pods -n {ns} -l {selector}"))
    } else {
        return None;
    };
    Some(combine("Deployment", "Deployment", &d.metadata, vec![problem])?.symptom())
}

/// How bad a shortfall of ready replicas is: most of them missing is high, a minority medium.
fn shortfall(ready: i32, desired: i32) -> Severity {
    if ready * 2 < desired { Severity::High } else { Severity::Medium }
}

pub(super) struct ReplicaSetAnalyzer;

impl Analyzer for ReplicaSetAnalyzer {
    fn info(&self) -> &'static Info {
        &Info {
            name: "ReplicaSet",
            description: "ReplicaSets that cannot create pods: exceeded quota, missing service account, admission denied",
            subject: Kind::ReplicaSet,
            evidence: &[Kind::Event, Kind::Deployment],
            default_enabled: true,
        }
    }

    fn analyze(&self, cx: &Context<'_>, out: &mut Vec<Finding>) {
        for rs in &cx.snapshot.objects.replica_sets {
            let Some(c) =
                condition_is(rs.status.as_ref().and_then(|s| s.conditions.as_ref()), "ReplicaFailure", "True")
            else {
                continue;
            };
            let message = c.message.clone().unwrap_or_default();
            let mut messages = vec![message.clone()];
            messages.extend(cx.warning_messages("ReplicaSet", &rs.metadata, &["FailedCreate"]).into_iter().take(2));
            let reason = c.reason.clone().unwrap_or_else(|| "FailedCreate".into());
            let problem = Problem::new(Severity::High, reason, "the ReplicaSet cannot create its pods")
                .messages(messages)
                .hint(create_hint(rs, &message));
            if let Some(f) = combine("ReplicaSet", "ReplicaSet", &rs.metadata, vec![problem]) {
                out.push(f.owned_by(cx.owners(&rs.metadata)));
            }
        }
    }
}

/// What to do when pods cannot be created, from the API server's refusal.
fn create_hint(rs: &ReplicaSet, message: &str) -> String {
    let ns = rs.metadata.namespace.as_deref().unwrap_or("default");
    if let Some(rest) = message.split("exceeded quota: ").nth(1) {
        let quota = rest.split([',', ' ']).next().unwrap_or(rest);
        return format!(
            "ResourceQuota {quota} in namespace {ns} is used up: kubectl describe quota {quota} -n {ns}; free some room, raise the quota, or lower the pods' requests."
        );
    }
    if message.contains("serviceaccount") && message.contains("not found") {
        let sa = rs
            .spec
            .as_ref()
            .and_then(|s| s.template.as_ref())
            .and_then(|t| t.spec.as_ref())
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_else(|| "default".into());
        return format!(
            "Service account {sa} does not exist: kubectl create serviceaccount {sa} -n {ns}, or fix serviceAccountName."
        );
    }
    if message.contains("violates PodSecurity") {
        return format!(
            "The pod template breaks the Pod Security level enforced on namespace {ns}: fix its securityContext (kubectl ai audit -n {ns} shows what), or relabel the namespace."
        );
    }
    // A webhook that could not be called (failurePolicy Fail) is not a verdict on the template.
    if let Some(webhook) = quoted_after(message, "failed calling webhook ") {
        return format!(
            "Admission webhook {webhook} could not be reached, and with failurePolicy Fail nothing is admitted meanwhile: its Service is the problem, not the template (kubectl get validatingwebhookconfigurations,mutatingwebhookconfigurations, then the webhook's Service and pods)."
        );
    }
    if let Some(webhook) =
        quoted_after(message, "admission webhook ").filter(|_| message.contains("denied the request"))
    {
        return format!(
            "Admission webhook {webhook} denied the pods: its message above says which rule; change the pod template to satisfy it, or ask the policy's owners for an exception."
        );
    }
    // LimitRanger's words: "maximum memory usage per Container is 1Gi, but limit is 2Gi".
    let rule = message.rsplit("is forbidden: ").next().unwrap_or(message);
    if (rule.contains(" usage per ") || rule.contains(" limit to request ratio per "))
        && (rule.contains(" per Container ") || rule.contains(" per Pod "))
    {
        return format!(
            "A LimitRange in namespace {ns} rejects the template's resources ({rule}): fit the template's requests and limits to it, or change the LimitRange (kubectl describe limitrange -n {ns})."
        );
    }
    format!("The API server refused the pods: {}", describe("ReplicaSet", &rs.metadata))
}

/// The double-quoted name right after `prefix`: `admission webhook "x.example.com" denied` → x.example.com.
fn quoted_after<'m>(message: &'m str, prefix: &str) -> Option<&'m str> {
    let rest = &message[message.find(prefix)? + prefix.len()..];
    let rest = rest.strip_prefix('"')?;
    rest.split('"').next().filter(|n| !n.is_empty())
}

pub(super) struct StatefulSetAnalyzer;

impl Analyzer for StatefulSetAnalyzer {
    fn info(&self) -> &'static Info {
        &Info {
            name: "StatefulSet",
            description: "StatefulSets with a missing governing Service or StorageClass, or ordinal pods not running",
            subject: Kind::StatefulSet,
            evidence: &[Kind::Service, Kind::StorageClass, Kind::Pod],
            default_enabled: true,
        }
    }

    fn analyze(&self, cx: &Context<'_>, out: &mut Vec<Finding>) {
        for sts in &cx.snapshot.objects.stateful_sets {
            out.extend(stateful_set(cx, sts));
        }
    }
}

fn stateful_set(cx: &Context<'_>, sts: &StatefulSet) -> Vec<Finding> {
    let Some(spec) = &sts.spec else { return Vec::new() };
    let ns = sts.metadata.namespace.as_deref().unwrap_or("default");
    let name = sts.metadata.name.as_deref().unwrap_or("");
    let mut causes = Vec::new();
    if let Some(service) = spec.service_name.as_deref().filter(|s| !s.is_empty())
        && cx.snapshot.has(Kind::Service)
        && !cx.index.services.contains_key(&(ns, service))
    {
        causes.push(
                Problem::new(Severity::Medium, "MissingService", format!("its governing Service {service} does not exist"))
                    .hint(format!("Pods get no stable DNS names without it: create a headless Service {service} (clusterIP: None) in {ns} selecting the pods.")),
            );
    }
    if cx.snapshot.has(Kind::StorageClass) {
        for template in spec.volume_claim_templates.iter().flatten() {
            let class = template.spec.as_ref().and_then(|s| s.storage_class_name.as_deref()).filter(|c| !c.is_empty());
            if let Some(class) = class.filter(|c| !cx.index.storage_classes.contains_key(c)) {
                let claim = template.metadata.name.as_deref().unwrap_or("");
                causes.push(
                    Problem::new(Severity::High, "MissingStorageClass", format!("volume claim template {claim} asks for StorageClass {class}, which does not exist"))
                        .hint(format!("Its claims stay Pending: use an existing class (kubectl get storageclass) — claim templates cannot be changed, so recreate the StatefulSet {name} with --cascade=orphan.")),
                );
            }
        }
    }
    let mut out: Vec<Finding> = combine("StatefulSet", "StatefulSet", &sts.metadata, causes).into_iter().collect();
    let desired = spec.replicas.unwrap_or(1);
    let ready = sts.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0);
    if cx.snapshot.has(Kind::Pod) && ready < desired {
        let pods = cx.index.pods_of(&sts.metadata);
        let missing: Vec<String> = (0..desired)
            .map(|i| format!("{name}-{i}"))
            .filter(|ordinal| {
                !pods.iter().any(|p| {
                    p.metadata.name.as_deref() == Some(ordinal)
                        && condition_is(p.status.as_ref().and_then(|s| s.conditions.as_ref()), "Ready", "True")
                            .is_some()
                })
            })
            .collect();
        let problem = Problem::new(
            shortfall(ready, desired),
            "ReplicasNotReady",
            format!("{ready}/{desired} replicas ready; not running: {}", missing.join(", ")),
        )
        .hint(format!(
            "With podManagementPolicy OrderedReady a pod starts only when the one before it is ready: look at {} first (kubectl describe pod -n {ns} {}).",
            missing.first().map(String::as_str).unwrap_or(name),
            missing.first().map(String::as_str).unwrap_or(name)
        ));
        out.extend(combine("StatefulSet", "StatefulSet", &sts.metadata, vec![problem]).map(Finding::symptom));
    }
    out
}

pub(super) struct DaemonSetAnalyzer;

impl Analyzer for DaemonSetAnalyzer {
    fn info(&self) -> &'static Info {
        &Info {
            name: "DaemonSet",
            description: "DaemonSets with fewer ready pods than nodes to run on, and missing image pull secrets",
            subject: Kind::DaemonSet,
            evidence: &[Kind::Pod, Kind::Event],
            default_enabled: true,
        }
    }

    fn analyze(&self, cx: &Context<'_>, out: &mut Vec<Finding>) {
        for ds in &cx.snapshot.objects.daemon_sets {
            out.extend(daemon_set(cx, ds));
        }
    }
}

fn daemon_set(cx: &Context<'_>, ds: &DaemonSet) -> Vec<Finding> {
    let ns = ds.metadata.namespace.as_deref().unwrap_or("default");
    let mut out = Vec::new();
    let pull_secrets: Vec<String> = ds
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|s| s.image_pull_secrets.as_ref())
        .into_iter()
        .flatten()
        .map(|r| r.name.clone())
        .collect();
    let missing: Vec<String> = if cx.snapshot.has(Kind::Secret) {
        pull_secrets.iter().filter(|s| !cx.index.secrets.contains_key(&(ns, s.as_str()))).cloned().collect()
    } else {
        Vec::new()
    };
    // Without Secrets to look at, the kubelet's own complaint on the pods tells.
    let complaints: Vec<String> = cx
        .index
        .pods_of(&ds.metadata)
        .iter()
        .flat_map(|p| cx.warning_messages("Pod", &p.metadata, &["FailedToRetrieveImagePullSecret"]))
        .fold(Vec::new(), |mut acc, m| {
            if !acc.contains(&m) {
                acc.push(m);
            }
            acc
        });
    if !missing.is_empty() || !complaints.is_empty() {
        let which = if missing.is_empty() { pull_secrets.join(", ") } else { missing.join(", ") };
        let problem = Problem::new(Severity::High, "MissingImagePullSecret", format!("image pull secret {which} does not exist in {ns}"))
            .messages(complaints)
            .hint(format!("Create it in every namespace the DaemonSet runs in: kubectl create secret docker-registry {which} -n {ns} …"));
        out.extend(combine("DaemonSet", "DaemonSet", &ds.metadata, vec![problem]));
    }
    if let Some(status) = &ds.status
        && status.number_ready < status.desired_number_scheduled
    {
        let selector = ds.spec.as_ref().map(|s| selector_text(&s.selector)).unwrap_or_default();
        let problem = Problem::new(
            Severity::High,
            "PodsNotReady",
            format!("{}/{} pods ready", status.number_ready, status.desired_number_scheduled),
        )
        .hint(format!("Its pods say why: kubectl get pods -n {ns} -l {selector} -o wide"));
        out.extend(combine("DaemonSet", "DaemonSet", &ds.metadata, vec![problem]).map(Finding::symptom));
    }
    out
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::ReplicaSet;

    use super::create_hint;

    /// The API server's refusals, verbatim (apiserver quota and LimitRanger admission plugins,
    /// the webhook dispatcher), and the start of the hint each must get.
    #[test]
    fn a_refusal_gets_the_hint_of_its_cause() {
        let rs: ReplicaSet =
            serde_json::from_value(serde_json::json!({"metadata": {"name": "web-5d8", "namespace": "shop"}})).unwrap();
        let cases = [
            (
                r#"pods "web-5d8-x" is forbidden: exceeded quota: compute, requested: limits.cpu=2, used: limits.cpu=8, limited: limits.cpu=9"#,
                "ResourceQuota compute in namespace shop is used up",
            ),
            (
                r#"admission webhook "validate.kyverno.svc-fail" denied the request: resource Pod/shop/web-5d8-x was blocked due to the following policies require-labels: check-team: 'validation error: label team is required.'"#,
                "Admission webhook validate.kyverno.svc-fail denied the pods",
            ),
            (
                r#"Internal error occurred: failed calling webhook "validate.kyverno.svc-fail": failed to call webhook: Post "https://kyverno-svc.kyverno.svc:443/validate/fail?timeout=10s": dial tcp 10.96.112.7:443: connect: connection refused"#,
                "Admission webhook validate.kyverno.svc-fail could not be reached",
            ),
            (
                r#"pods "web-5d8-x" is forbidden: maximum memory usage per Container is 1Gi, but limit is 2Gi"#,
                "A LimitRange in namespace shop rejects the template's resources (maximum memory usage per Container is 1Gi, but limit is 2Gi)",
            ),
            (
                r#"pods "web-5d8-x" is forbidden: minimum cpu usage per Pod is 100m, but request is 50m"#,
                "A LimitRange in namespace shop rejects the template's resources (minimum cpu usage per Pod is 100m",
            ),
            (
                r#"pods "web-5d8-x" is forbidden: cpu max limit to request ratio per Container is 2, but provided ratio is 4.000000"#,
                "A LimitRange in namespace shop rejects the template's resources (cpu max limit to request ratio per Container is 2",
            ),
            (
                r#"pods "web-5d8-x" is forbidden: error looking up service account shop/deployer: serviceaccount "deployer" not found"#,
                "Service account default does not exist",
            ),
            (
                r#"pods "web-5d8-x" is forbidden: violates PodSecurity "restricted:latest": privileged (container "web" must not set securityContext.privileged=true)"#,
                "The pod template breaks the Pod Security level",
            ),
            ("something else entirely", "The API server refused the pods: kubectl describe replicaset -n shop web-5d8"),
        ];
        for (message, want) in cases {
            let hint = create_hint(&rs, message);
            assert!(hint.starts_with(want), "{message}\n→ {hint}");
        }
    }

    #[test]
    fn a_stuck_rollout_says_whether_the_old_pods_still_serve() {
        use crate::analyze::testkit::check;
        let deployment = |status: &str| {
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: api, namespace: shop, uid: d, creationTimestamp: '2026-05-01T10:00:00Z'}}\n\
                 spec: {{replicas: 3, selector: {{matchLabels: {{app: api}}}}, template: {{metadata: {{labels: {{app: api}}}}, spec: {{containers: [{{name: c, image: i}}]}}}}}}\n\
                 status: {{{status}}}\n---\n"
            )
        };
        let stuck = |available: u32| {
            deployment(&format!(
                "replicas: 4, updatedReplicas: 1, availableReplicas: {available}, conditions: [{{type: Progressing, status: 'False', reason: ProgressDeadlineExceeded,\n  \
                 message: 'ReplicaSet \"api-6b8d\" has timed out progressing.', lastUpdateTime: '2026-05-01T12:00:00Z'}}]"
            ))
        };
        let cases: &[(&str, String, &[&str])] = &[
            (
                "stuck, the previous revision serving: the reason, the way back, and that the old pods serve",
                stuck(3),
                &[
                    "high Deployment shop/api ProgressDeadlineExceeded … (3 available are the previous revision's: they still serve); to go back, kubectl rollout undo deployment/api -n shop.",
                ],
            ),
            (
                "stuck with nothing available: no claim that anything serves",
                stuck(0),
                &[
                    "high Deployment shop/api ProgressDeadlineExceeded … kubectl rollout status deployment/api -n shop); to go back",
                ],
            ),
            (
                "look-alike: a rollout within its deadline",
                deployment(
                    "replicas: 4, updatedReplicas: 1, availableReplicas: 3, conditions: [{type: Progressing, status: 'True', reason: ReplicaSetUpdated, lastUpdateTime: '2026-05-01T12:00:00Z'}]",
                ),
                &[],
            ),
            (
                "not a rollout: replicas missing",
                deployment(
                    "replicas: 3, updatedReplicas: 3, availableReplicas: 1, conditions: [{type: Available, status: 'False', reason: MinimumReplicasUnavailable, message: 'Deployment does not have minimum availability.', lastUpdateTime: '2026-05-01T12:00:00Z'}]",
                ),
                &["high Deployment shop/api ReplicasUnavailable … kubectl get pods -n shop -l app=api"],
            ),
        ];
        check(cases);
    }
}
