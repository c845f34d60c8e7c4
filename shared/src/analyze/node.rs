//! Nodes: not ready or unknown, under pressure, and cordoned while pods wait for room.
//!
//! Condition types other than the standard ones (node-problem-detector's, a cloud's) are reported
//! only when their status says trouble — `True` for a negative-sense type like `KernelDeadlock` —
//! never merely for existing.

use k8s_openapi::api::core::v1::Node;

use super::{Analyzer, Condition, Context, Info, Problem, combine, condition};
use crate::findings::{Finding, Severity};
use crate::snapshot::Kind;

pub(super) struct NodeAnalyzer;

const PRESSURE: &[&str] = &["MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable"];
/// Suffixes of condition types whose `True` means healthy.
const POSITIVE: &[&str] = &["Ready", "Available", "Healthy", "Ok", "OK", "Succeeded", "Running", "Active", "Valid"];

impl Analyzer for NodeAnalyzer {
    fn info(&self) -> &'static Info {
        &Info {
            name: "Node",
            description: "nodes NotReady or Unknown, under memory/disk/PID pressure, without network, or cordoned while pods wait",
            subject: Kind::Node,
            evidence: &[Kind::Pod],
            default_enabled: true,
        }
    }

    fn analyze(&self, cx: &Context<'_>, out: &mut Vec<Finding>) {
        let waiting = pods_waiting_for_schedulable_nodes(cx);
        for node in &cx.snapshot.objects.nodes {
            out.extend(combine("Node", "Node", &node.metadata, problems(node, &waiting)));
        }
    }
}

/// Pending pods whose scheduler message counts unschedulable (cordoned) nodes among the reasons.
fn pods_waiting_for_schedulable_nodes(cx: &Context<'_>) -> Vec<String> {
    cx.snapshot
        .objects
        .pods
        .iter()
        .filter(|p| {
            let cond = condition(p.status.as_ref().and_then(|s| s.conditions.as_ref()), "PodScheduled");
            cond.is_some_and(|c| {
                c.status == "False" && c.message.as_deref().is_some_and(|m| m.contains("were unschedulable"))
            })
        })
        .map(|p| {
            format!("{}/{}", p.metadata.namespace.as_deref().unwrap_or(""), p.metadata.name.as_deref().unwrap_or(""))
        })
        .collect()
}

fn problems(node: &Node, waiting: &[String]) -> Vec<Problem> {
    let name = node.metadata.name.as_deref().unwrap_or("");
    let conditions = node.status.as_ref().and_then(|s| s.conditions.as_ref());
    let mut problems = Vec::new();
    match condition(conditions, "Ready") {
        Some(c) if c.status == "False" => problems.push(
            Problem::new(Severity::Critical, "NotReady", "the node is not ready: no new pods run on it")
                .messages(c.message.clone())
                .hint(format!("Its kubelet reports a problem: kubectl describe node {name}, then the kubelet's log on the node (journalctl -u kubelet).")),
        ),
        Some(c) if c.status == "Unknown" => problems.push(
            Problem::new(Severity::Critical, "NodeStatusUnknown", "the node stopped reporting: its pods will be evicted")
                .messages(c.message.clone())
                .hint(format!("The kubelet on {name} is down or cut off: check that the machine runs and reaches the API server.")),
        ),
        _ => {}
    }
    for c in conditions.into_iter().flatten() {
        let kind = c.type_.as_str();
        if kind == "Ready" || c.status != "True" {
            continue;
        }
        if PRESSURE.contains(&kind) {
            let what = kind.trim_end_matches("Pressure").to_ascii_lowercase();
            let hint = if kind == "NetworkUnavailable" {
                format!(
                    "The network plugin has not set up {name}: check its CNI pods (kubectl get pods -n kube-system -o wide --field-selector spec.nodeName={name})."
                )
            } else {
                format!(
                    "The kubelet evicts pods to relieve {what} pressure: see what uses it (kubectl describe node {name}), set requests and limits, or add capacity."
                )
            };
            problems.push(
                Problem::new(Severity::High, kind, format!("the node reports {kind}"))
                    .messages(c.message().map(str::to_string))
                    .hint(hint),
            );
        } else if !POSITIVE.iter().any(|p| kind.ends_with(p)) {
            problems.push(
                Problem::new(
                    Severity::Medium,
                    kind,
                    format!("the node reports {kind}: {}", c.reason().unwrap_or("True")),
                )
                .messages(c.message().map(str::to_string))
                .hint(format!("A node problem detector set this condition: kubectl describe node {name}.")),
            );
        }
    }
    if node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) && !waiting.is_empty() {
        problems.push(
            Problem::new(
                Severity::Medium,
                "Cordoned",
                format!("the node is cordoned while pods wait for room: {}", waiting.join(", ")),
            )
            .hint(format!("Uncordon it when its maintenance is over: kubectl uncordon {name}.")),
        );
    }
    problems
}

#[cfg(test)]
mod tests {
    use crate::analyze::testkit::{check, node};

    #[test]
    fn node_conditions() {
        let waiting = "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop, creationTimestamp: '2026-05-01T11:00:00Z'}\n\
                       spec: {containers: [{name: c, image: i}]}\n\
                       status: {phase: Pending, conditions: [{type: PodScheduled, status: 'False', reason: Unschedulable,\n  \
                       message: '0/1 nodes are available: 1 node(s) were unschedulable.'}]}\n---\n";
        let cordoned = node("n1", "True", "").replace("status: {", "spec: {unschedulable: true}\nstatus: {");
        let cases: &[(&str, String, &[&str])] = &[
            (
                "ready",
                node(
                    "n1",
                    "True",
                    ", {type: MemoryPressure, status: 'False'}, {type: NetworkUnavailable, status: 'False'}",
                ),
                &[],
            ),
            (
                "not ready: the kubelet says why",
                node("n1", "False", ""),
                &["critical Node -/n1 NotReady … journalctl -u kubelet"],
            ),
            (
                "unknown: the kubelet is gone",
                node("n1", "Unknown", ""),
                &["critical Node -/n1 NodeStatusUnknown … is down or cut off"],
            ),
            (
                "pressure",
                node("n1", "True", ", {type: DiskPressure, status: 'True', message: 'kubelet has disk pressure'}"),
                &["high Node -/n1 DiskPressure … relieve disk pressure"],
            ),
            (
                "no network: the CNI, not capacity",
                node("n1", "True", ", {type: NetworkUnavailable, status: 'True', reason: NoRouteCreated}"),
                &["high Node -/n1 NetworkUnavailable … CNI pods"],
            ),
            (
                "a node problem detector's condition",
                node("n1", "True", ", {type: KernelDeadlock, status: 'True', reason: DockerHung}"),
                &["medium Node -/n1 KernelDeadlock … node problem detector"],
            ),
            (
                "cordoned while a pod waits",
                cordoned.clone() + waiting,
                &["high Pod shop/web Unschedulable", "medium Node -/n1 Cordoned … kubectl uncordon n1"],
            ),
            ("look-alike: cordoned and nothing waits (maintenance)", cordoned, &[]),
        ];
        check(cases);
    }
}
