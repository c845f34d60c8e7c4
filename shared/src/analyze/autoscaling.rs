//! HorizontalPodAutoscalers and PodDisruptionBudgets.

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;

use super::{Analyzer, Context, Info, Owner, Problem, combine, condition_is, targets_scaled_to_zero};
use crate::findings::{Finding, Severity};
use crate::snapshot::Kind;
use crate::snapshot::LabelSelector;

pub(super) struct HpaAnalyzer;

impl Analyzer for HpaAnalyzer {
    fn info(&self) -> &'static Info {
        &Info {
            name: "HorizontalPodAutoscaler",
            description: "autoscalers with a missing or unscalable target, containers without the requests they scale on, or unable to scale",
            subject: Kind::HorizontalPodAutoscaler,
            evidence: &[Kind::Deployment, Kind::StatefulSet, Kind::ReplicaSet, Kind::ReplicationController],
            default_enabled: true,
        }
    }

    fn analyze(&self, cx: &Context<'_>, out: &mut Vec<Finding>) {
        for hpa in &cx.snapshot.objects.horizontal_pod_autoscalers {
            out.extend(combine(
                "HorizontalPodAutoscaler",
                "HorizontalPodAutoscaler",
                &hpa.metadata,
                hpa_problems(cx, hpa),
            ));
        }
    }
}

const SCALABLE: &[(&str, Kind)] = &[
    ("Deployment", Kind::Deployment),
    ("StatefulSet", Kind::StatefulSet),
    ("ReplicaSet", Kind::ReplicaSet),
    ("ReplicationController", Kind::ReplicationController),
];
const UNSCALABLE: &[&str] = &["DaemonSet", "Job", "CronJob", "Pod", "Service"];

fn template<'a>(owner: Owner<'a>) -> Option<&'a PodTemplateSpec> {
    match owner {
        Owner::Deployment(d) => d.spec.as_ref().map(|s| &s.template),
        Owner::StatefulSet(s) => s.spec.as_ref().map(|s| &s.template),
        Owner::ReplicaSet(r) => r.spec.as_ref().and_then(|s| s.template.as_ref()),
        Owner::ReplicationController(r) => r.spec.as_ref().and_then(|s| s.template.as_ref()),
        _ => None,
    }
}

fn hpa_problems(cx: &Context<'_>, hpa: &HorizontalPodAutoscaler) -> Vec<Problem> {
    let mut problems = Vec::new();
    let Some(spec) = &hpa.spec else { return problems };
    let ns = hpa.metadata.namespace.as_deref().unwrap_or("default");
    let target = &spec.scale_target_ref;
    if UNSCALABLE.contains(&target.kind.as_str()) {
        problems.push(
            Problem::new(
                Severity::High,
                "UnscalableTarget",
                format!("its target is a {} ({}), which has no replicas to scale", target.kind, target.name),
            )
            .hint("Point scaleTargetRef at a Deployment, StatefulSet or ReplicaSet."),
        );
    } else if let Some((_, kind)) = SCALABLE.iter().find(|(k, _)| *k == target.kind) {
        match cx.index.controller(&target.kind, ns, &target.name) {
            None if cx.snapshot.has(*kind) => problems.push(
                Problem::new(
                    Severity::High,
                    "TargetNotFound",
                    format!("its target {} {} does not exist", target.kind, target.name),
                )
                .hint(format!("Fix scaleTargetRef, or delete the autoscaler (kubectl get {} -n {ns}).", kind.plural())),
            ),
            Some(owner) => problems.extend(missing_requests(spec, owner, &target.name)),
            None => {}
        }
    }
    let status = hpa.status.as_ref();
    let conditions = status.and_then(|s| s.conditions.as_ref());
    for (type_, status_wanted) in [("ScalingActive", "False"), ("AbleToScale", "False")] {
        if let Some(c) = condition_is(conditions, type_, status_wanted) {
            let reason = c.reason.clone().unwrap_or_else(|| type_.to_string());
            problems.push(
                Problem::new(Severity::High, reason.clone(), format!("it cannot scale: {type_} is False ({reason})"))
                    .messages(c.message.clone())
                    .hint(if let Some(resource) = missing_request(c.message.as_deref()) {
                        // The metrics are there; the requests they are a share of are not.
                        requests_hint(resource, &spec.scale_target_ref.name)
                    } else if reason.contains("Metric") {
                        "It cannot read its metrics: check that metrics-server (or the adapter for custom metrics) runs: kubectl top pods -n NAMESPACE".replace("NAMESPACE", ns)
                    } else {
                        format!("kubectl describe hpa -n {ns} {}", hpa.metadata.name.as_deref().unwrap_or(""))
                    }),
            );
        }
    }
    // Sitting at minReplicas is what an idle service does; only a cap at maxReplicas is a problem.
    if let Some(c) = condition_is(conditions, "ScalingLimited", "True") {
        let current = status.and_then(|s| s.current_replicas).unwrap_or(0);
        let desired = status.map_or(0, |s| s.desired_replicas);
        if current >= spec.max_replicas && c.reason.as_deref() == Some("TooManyReplicas") || desired > spec.max_replicas
        {
            problems.push(
                Problem::new(
                    Severity::Medium,
                    "AtMaxReplicas",
                    format!("it wants more replicas but is capped at maxReplicas {}", spec.max_replicas),
                )
                .messages(c.message.clone())
                .hint("The load exceeds what it may scale to: raise maxReplicas or make each replica handle more."),
            );
        }
    }
    problems
}

/// The resource of the HPA controller's "missing request for cpu in container …".
fn missing_request(message: Option<&str>) -> Option<&str> {
    message?.split("missing request for ").nth(1)?.split_whitespace().next()
}

fn requests_hint(resource: &str, target: &str) -> String {
    format!("Utilization is a share of the request: set resources.requests.{resource} on every container of {target}.")
}

/// Resource metrics scale on a share of the containers' requests; containers without them break it.
fn missing_requests(
    spec: &k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerSpec,
    owner: Owner<'_>,
    target: &str,
) -> Vec<Problem> {
    let Some(containers) = template(owner).and_then(|t| t.spec.as_ref()).map(|s| &s.containers) else {
        return Vec::new();
    };
    let mut wanted: Vec<(String, Option<String>)> = Vec::new(); // (resource, container)
    match &spec.metrics {
        None => wanted.push(("cpu".into(), None)), // the default metric: 80 % CPU utilization
        Some(metrics) => {
            for m in metrics {
                if let Some(r) = &m.resource
                    && r.target.type_ == "Utilization"
                {
                    wanted.push((r.name.clone(), None));
                }
                if let Some(r) = &m.container_resource
                    && r.target.type_ == "Utilization"
                {
                    wanted.push((r.name.clone(), Some(r.container.clone())));
                }
            }
        }
    }
    let mut problems = Vec::new();
    for (resource, only) in wanted {
        let lacking: Vec<&str> = containers
            .iter()
            .filter(|c| only.as_deref().is_none_or(|o| o == c.name))
            .filter(|c| {
                c.resources.as_ref().and_then(|r| r.requests.as_ref()).is_none_or(|r| !r.contains_key(&resource))
            })
            .map(|c| c.name.as_str())
            .collect();
        if !lacking.is_empty() {
            problems.push(
                Problem::new(
                    Severity::High,
                    "MissingRequests",
                    format!(
                        "it scales on {resource} utilization but container(s) {} of {target} request no {resource}",
                        lacking.join(", ")
                    ),
                )
                .hint(requests_hint(&resource, target)),
            );
        }
    }
    problems
}

pub(super) struct PdbAnalyzer;

impl Analyzer for PdbAnalyzer {
    fn info(&self) -> &'static Info {
        &Info {
            name: "PodDisruptionBudget",
            description: "disruption budgets that allow no disruption (node drains block) or select no pod",
            subject: Kind::PodDisruptionBudget,
            evidence: &[Kind::Pod, Kind::Deployment, Kind::StatefulSet],
            default_enabled: true,
        }
    }

    fn analyze(&self, cx: &Context<'_>, out: &mut Vec<Finding>) {
        for pdb in &cx.snapshot.objects.pod_disruption_budgets {
            out.extend(combine("PodDisruptionBudget", "PodDisruptionBudget", &pdb.metadata, pdb_problems(cx, pdb)));
        }
    }
}

fn pdb_problems(cx: &Context<'_>, pdb: &PodDisruptionBudget) -> Vec<Problem> {
    let ns = pdb.metadata.namespace.as_deref().unwrap_or("default");
    let name = pdb.metadata.name.as_deref().unwrap_or("");
    let Some(api) = pdb.spec.as_ref().and_then(|s| s.selector.as_ref()) else { return Vec::new() };
    let Ok(sel) = LabelSelector::from_api(api) else { return Vec::new() };
    let status = pdb.status.clone().unwrap_or_default();
    if cx.snapshot.has(Kind::Pod) && cx.index.pods_matching(ns, &sel).is_empty() {
        if targets_scaled_to_zero(cx, ns, &sel) {
            return Vec::new();
        }
        return vec![
            Problem::new(
                Severity::Medium,
                "NoPodsSelected",
                format!("its selector {} matches no pod", super::selector_text(api)),
            )
            .hint(format!(
                "It protects nothing: fix the selector (kubectl get pods -n {ns} --show-labels) or delete it."
            )),
        ];
    }
    if status.expected_pods > 0 && status.disruptions_allowed == 0 {
        let (summary, hint) = if status.current_healthy < status.desired_healthy {
            (
                format!("no disruption allowed: {}/{} pods healthy, {} required", status.current_healthy, status.expected_pods, status.desired_healthy),
                "Its pods are unhealthy, so node drains and evictions wait: fix the pods first (their findings say why).".to_string(),
            )
        } else {
            (
                format!("no disruption allowed even with all {} pods healthy", status.expected_pods),
                format!(
                    "minAvailable equals the replicas (or maxUnavailable is 0): node drains block forever. Lower minAvailable or set maxUnavailable: 1 on {name}."
                ),
            )
        };
        return vec![Problem::new(Severity::Medium, "DisruptionsNotAllowed", summary).hint(hint)];
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_request_is_read_from_the_controllers_words() {
        let missing = "the HPA was unable to compute the replica count: failed to get cpu utilization: missing request for cpu in container \"worker\" of Pod \"queue-worker-x\"";
        assert_eq!(missing_request(Some(missing)), Some("cpu"));
        // metrics-server down: the look-alike keeps its hint.
        let down = "the HPA was unable to compute the replica count: failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API";
        assert_eq!(missing_request(Some(down)), None);
        assert_eq!(missing_request(None), None);
    }
}
