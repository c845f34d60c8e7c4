//! Checks on objects other than pod specs: ConfigMaps (SEC-003), Services and Ingresses (NET-002…004),
//! NetworkPolicies (NET-001 coverage, NET-005), deprecated API versions (API-001).

use serde_json::Value;

use super::pod::PodView;
use super::{All, Emit, Hit, namespace_of};
use crate::findings::Severity;

pub(crate) fn check(v: &Value, all: &All<'_>, emit: &mut Emit<'_>) {
    match v["kind"].as_str().unwrap_or("") {
        "ConfigMap" => config_map(v, emit),
        "Service" => service(v, emit),
        "Ingress" if emit.runs("NET-004") && v["spec"]["tls"].as_array().is_none_or(Vec::is_empty) => {
            let message = "the Ingress serves plain HTTP: spec.tls is empty";
            emit.report("NET-004", Hit::new("spec.tls", message, &["polaris:tlsSettingsMissing"]));
        }
        "NetworkPolicy" => network_policy(v, all, emit),
        _ => {}
    }
    deprecated(v, emit);
}

/// Whether an environment variable or key name looks like it holds a secret.
pub(crate) fn sensitive_name(name: &str) -> bool {
    const WORDS: &[&str] = &[
        "password",
        "passwd",
        "secret",
        "token",
        "credential",
        "api_key",
        "apikey",
        "access_key",
        "private_key",
        "key_content",
        "batch_key",
        "account_key",
        "storage_key",
    ];
    let n = name.to_ascii_lowercase().replace('-', "_");
    WORDS.iter().any(|w| n.contains(w))
}

pub(crate) fn private_key(value: &str) -> bool {
    value.contains("BEGIN") && value.contains("PRIVATE KEY")
}

/// `KEY=value` / `key: value` assignments of a sensitive name to a literal (not `${VAR}`, not empty).
fn assigns_secret(value: &str) -> bool {
    value.lines().any(|line| {
        let Some((key, rest)) = line.split_once(['=', ':']) else { return false };
        let rest = rest.trim().trim_matches(['"', '\'']);
        sensitive_name(key.trim()) && !rest.is_empty() && !rest.starts_with("${") && !rest.starts_with('$')
    })
}

fn config_map(v: &Value, emit: &mut Emit<'_>) {
    if !emit.runs("SEC-003") {
        return;
    }
    for (key, value) in v["data"].as_object().into_iter().flatten() {
        let text = value.as_str().unwrap_or("");
        let (why, refs): (&str, &[&str]) = if private_key(text) {
            ("holds a private key", &["polaris:sensitiveConfigmapContent", "ksv:KSV-01010"])
        } else if sensitive_name(key) && !text.trim().is_empty() {
            ("has a secret-like name", &["polaris:sensitiveConfigmapContent", "ksv:KSV-0109"])
        } else if assigns_secret(text) {
            ("assigns a secret-like setting", &["ksv:KSV-0109"])
        } else {
            continue;
        };
        emit.report("SEC-003", Hit::new(format!("data.{key}"), format!("key {key:?} {why}"), refs));
    }
}

fn service(v: &Value, emit: &mut Emit<'_>) {
    let spec = &v["spec"];
    if emit.runs("NET-002") {
        match spec["type"].as_str() {
            Some("NodePort") => emit.report(
                "NET-002",
                Hit::new("spec.type", "a NodePort Service opens the port on every node", &["kube-score:service-type"]),
            ),
            Some("LoadBalancer") => emit.report(
                "NET-002",
                Hit::new("spec.type", "a LoadBalancer Service is reachable from outside the cluster", &[])
                    .severity(Severity::Info),
            ),
            _ => {}
        }
    }
    if emit.runs("NET-003") && spec["externalIPs"].as_array().is_some_and(|a| !a.is_empty()) {
        emit.report(
            "NET-003",
            Hit::new(
                "spec.externalIPs",
                "externalIPs can intercept traffic to those addresses (CVE-2020-8554)",
                &["ksv:KSV-0108"],
            ),
        );
    }
}

/// Whether a `metav1.LabelSelector` (as JSON) selects these labels. An empty selector selects all.
pub(crate) fn selects(selector: &Value, labels: &Value) -> bool {
    let label = |k: &str| labels[k].as_str();
    let equal = selector["matchLabels"].as_object().into_iter().flatten().all(|(k, v)| label(k) == v.as_str());
    equal
        && selector["matchExpressions"].as_array().into_iter().flatten().all(|e| {
            let key = e["key"].as_str().unwrap_or("");
            let values: Vec<&str> = e["values"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            match e["operator"].as_str() {
                Some("In") => label(key).is_some_and(|l| values.contains(&l)),
                Some("NotIn") => label(key).is_none_or(|l| !values.contains(&l)),
                Some("Exists") => label(key).is_some(),
                Some("DoesNotExist") => label(key).is_none(),
                _ => false,
            }
        })
}

/// The directions a NetworkPolicy governs: `policyTypes`, or as the API defaults them.
fn directions(policy: &Value) -> (bool, bool) {
    let spec = &policy["spec"];
    match spec["policyTypes"].as_array() {
        Some(types) => (types.iter().any(|t| t == "Ingress"), types.iter().any(|t| t == "Egress")),
        None => (true, !spec["egress"].is_null()),
    }
}

/// NET-001: the NetworkPolicies of the pod's namespace that select it, for ingress and egress.
pub(crate) fn network_policy_coverage(pod: &PodView<'_>, all: &All<'_>, emit: &mut Emit<'_>) {
    let ns = namespace_of(pod.object);
    let labels = &pod.meta["labels"];
    let selecting: Vec<&Value> = all
        .in_namespace("NetworkPolicy", ns)
        .iter()
        .copied()
        .filter(|p| !p["spec"]["podSelector"].is_null() && selects(&p["spec"]["podSelector"], labels))
        .collect();
    let (ingress, egress) = selecting.iter().fold((false, false), |(i, e), p| {
        let (pi, pe) = directions(p);
        (i || pi, e || pe)
    });
    // Polaris: one policy must name both directions and have rules for both.
    let polaris = selecting.iter().any(|p| {
        let (i, e) = directions(p);
        i && e
            && p["spec"]["policyTypes"].is_array()
            && !p["spec"]["ingress"].is_null()
            && !p["spec"]["egress"].is_null()
    });
    if ingress && egress && polaris {
        return;
    }
    let mut refs = vec![];
    if !polaris {
        refs.push("polaris:missingNetworkPolicy");
    }
    if !(ingress && egress) {
        refs.push("kube-score:pod-networkpolicy");
    }
    refs.push("cis:5.3.2");
    let message = match (ingress, egress) {
        (false, false) => "no NetworkPolicy selects the pods: all traffic is allowed".to_string(),
        (true, false) => "NetworkPolicies select the pods for ingress only: egress is open".to_string(),
        (false, true) => "NetworkPolicies select the pods for egress only: ingress is open".to_string(),
        (true, true) => "no single NetworkPolicy sets rules for both ingress and egress".to_string(),
    };
    emit.report("NET-001", Hit::new(format!("{}.metadata.labels", pod.at.trim_end_matches(".spec")), message, &refs));
}

/// NET-005: a NetworkPolicy without a pod selector, or one that selects no pod of its namespace.
fn network_policy(v: &Value, all: &All<'_>, emit: &mut Emit<'_>) {
    if !emit.runs("NET-005") {
        return;
    }
    let selector = &v["spec"]["podSelector"];
    if selector.is_null() {
        emit.report("NET-005", Hit::new("spec.podSelector", "spec.podSelector is missing", &["ksv:KSV-0038"]));
        return;
    }
    let ns = namespace_of(v);
    let matched =
        all.with_pods_in(ns).iter().filter_map(|v| PodView::of(v)).any(|pod| selects(selector, &pod.meta["labels"]));
    if !matched {
        emit.report(
            "NET-005",
            Hit::new(
                "spec.podSelector",
                "the pod selector matches no pod in the namespace",
                &["kube-score:networkpolicy-targets-pod"],
            ),
        );
    }
}

/// API-001: versions removed from Kubernetes (and the version that serves the kind now).
fn deprecated(v: &Value, emit: &mut Emit<'_>) {
    const REMOVED: &[(&str, &str, &str, &str)] = &[
        ("extensions/v1beta1", "Deployment", "apps/v1", "1.16"),
        ("apps/v1beta1", "Deployment", "apps/v1", "1.16"),
        ("apps/v1beta2", "Deployment", "apps/v1", "1.16"),
        ("extensions/v1beta1", "DaemonSet", "apps/v1", "1.16"),
        ("apps/v1beta2", "DaemonSet", "apps/v1", "1.16"),
        ("extensions/v1beta1", "ReplicaSet", "apps/v1", "1.16"),
        ("apps/v1beta1", "StatefulSet", "apps/v1", "1.16"),
        ("apps/v1beta2", "StatefulSet", "apps/v1", "1.16"),
        ("extensions/v1beta1", "NetworkPolicy", "networking.k8s.io/v1", "1.16"),
        ("extensions/v1beta1", "PodSecurityPolicy", "(removed; use Pod Security Admission)", "1.16"),
        ("extensions/v1beta1", "Ingress", "networking.k8s.io/v1", "1.22"),
        ("networking.k8s.io/v1beta1", "Ingress", "networking.k8s.io/v1", "1.22"),
        ("networking.k8s.io/v1beta1", "IngressClass", "networking.k8s.io/v1", "1.22"),
        ("rbac.authorization.k8s.io/v1beta1", "ClusterRole", "rbac.authorization.k8s.io/v1", "1.22"),
        ("rbac.authorization.k8s.io/v1beta1", "ClusterRoleBinding", "rbac.authorization.k8s.io/v1", "1.22"),
        ("rbac.authorization.k8s.io/v1beta1", "Role", "rbac.authorization.k8s.io/v1", "1.22"),
        ("rbac.authorization.k8s.io/v1beta1", "RoleBinding", "rbac.authorization.k8s.io/v1", "1.22"),
        (
            "admissionregistration.k8s.io/v1beta1",
            "MutatingWebhookConfiguration",
            "admissionregistration.k8s.io/v1",
            "1.22",
        ),
        (
            "admissionregistration.k8s.io/v1beta1",
            "ValidatingWebhookConfiguration",
            "admissionregistration.k8s.io/v1",
            "1.22",
        ),
        ("apiextensions.k8s.io/v1beta1", "CustomResourceDefinition", "apiextensions.k8s.io/v1", "1.22"),
        ("storage.k8s.io/v1beta1", "CSIDriver", "storage.k8s.io/v1", "1.22"),
        ("scheduling.k8s.io/v1beta1", "PriorityClass", "scheduling.k8s.io/v1", "1.22"),
        ("batch/v1beta1", "CronJob", "batch/v1", "1.25"),
        ("discovery.k8s.io/v1beta1", "EndpointSlice", "discovery.k8s.io/v1", "1.25"),
        ("policy/v1beta1", "PodDisruptionBudget", "policy/v1", "1.25"),
        ("policy/v1beta1", "PodSecurityPolicy", "(removed; use Pod Security Admission)", "1.25"),
        ("autoscaling/v2beta1", "HorizontalPodAutoscaler", "autoscaling/v2", "1.25"),
        ("autoscaling/v2beta2", "HorizontalPodAutoscaler", "autoscaling/v2", "1.26"),
        ("flowcontrol.apiserver.k8s.io/v1beta2", "FlowSchema", "flowcontrol.apiserver.k8s.io/v1", "1.29"),
        ("flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema", "flowcontrol.apiserver.k8s.io/v1", "1.32"),
    ];
    let (api, kind) = (v["apiVersion"].as_str().unwrap_or(""), v["kind"].as_str().unwrap_or(""));
    if let Some((_, _, now, removed)) = REMOVED.iter().find(|(a, k, _, _)| *a == api && *k == kind)
        && emit.runs("API-001")
    {
        let message = format!("{kind} {api} was removed in Kubernetes {removed}: use {now}");
        emit.report("API-001", Hit::new("apiVersion", message, &["kube-score:stable-version", "ksv:KSV-0107"]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selectors() {
        let labels = json!({"app": "web", "tier": "front"});
        for (selector, expected) in [
            (json!({}), true),
            (json!({"matchLabels": {"app": "web"}}), true),
            (json!({"matchLabels": {"app": "db"}}), false),
            (json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front"]}]}), true),
            (json!({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["front"]}]}), false),
            (json!({"matchExpressions": [{"key": "x", "operator": "DoesNotExist"}]}), true),
            (json!({"matchExpressions": [{"key": "x", "operator": "Exists"}]}), false),
        ] {
            assert_eq!(selects(&selector, &labels), expected, "{selector}");
        }
    }

    #[test]
    fn secret_like_settings() {
        assert!(assigns_secret("REDIS_PASSWORD=abcd1234"));
        assert!(!assigns_secret("REDIS_PASSWORD="));
        assert!(!assigns_secret("REDIS_PASSWORD=${REDIS_PASSWORD}"));
        assert!(sensitive_name("AWS_SECRET_ACCESS_KEY") && sensitive_name("db-password") && !sensitive_name("db_user"));
    }
}
