//! Services, Ingresses and NetworkPolicies.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::{Ingress, IngressBackend};

use super::{Analyzer, Context, Info, Problem, combine, targets_scaled_to_zero};
use crate::findings::{Finding, ObjectRef, Severity};
use crate::snapshot::Kind;
use crate::snapshot::LabelSelector;

pub(super) struct ServiceAnalyzer;

impl Analyzer for ServiceAnalyzer {
    fn info(&self) -> &'static Info {
        &Info {
            name: "Service",
            description: "Services whose selector matches no pod, with only not-ready endpoints, or with warning events",
            subject: Kind::Service,
            evidence: &[Kind::Pod, Kind::Endpoints, Kind::Event, Kind::Deployment, Kind::StatefulSet],
            default_enabled: true,
        }
    }

    fn analyze(&self, cx: &Context<'_>, out: &mut Vec<Finding>) {
        for svc in &cx.snapshot.objects.services {
            let (problems, down) = service(cx, svc);
            out.extend(combine("Service", "Service", &svc.metadata, problems));
            out.extend(down);
        }
    }
}

/// The Service's own problems, and — apart, as a symptom of its pods' findings — having no ready
/// endpoint.
fn service(cx: &Context<'_>, svc: &Service) -> (Vec<Problem>, Option<Finding>) {
    let mut problems = Vec::new();
    let ns = svc.metadata.namespace.as_deref().unwrap_or("default");
    let name = svc.metadata.name.as_deref().unwrap_or("");
    let Some(spec) = &svc.spec else { return (problems, None) };
    let events = cx.warning_messages("Service", &svc.metadata, &[]);
    if !events.is_empty() {
        let reason = cx
            .index
            .events("Service", &svc.metadata)
            .iter()
            .find(|e| e.type_.as_deref() == Some("Warning"))
            .and_then(|e| e.reason.clone())
            .unwrap_or_else(|| "Warning".into());
        problems.push(
            Problem::new(Severity::Medium, reason, "the Service has warning events")
                .messages(events)
                .hint(format!("kubectl describe service -n {ns} {name}")),
        );
    }
    // ExternalName Services and Services without a selector (endpoints managed by hand) select no pods.
    let selector = match (&spec.selector, spec.type_.as_deref()) {
        (_, Some("ExternalName")) => return (problems, None),
        (Some(sel), _) if !sel.is_empty() => sel,
        _ => return (problems, None),
    };
    if !cx.snapshot.has(Kind::Pod) {
        return (problems, None);
    }
    let sel = LabelSelector::from_map(selector);
    let text = selector.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
    let pods = cx.index.pods_matching(ns, &sel);
    if pods.is_empty() {
        if !targets_scaled_to_zero(cx, ns, &sel) {
            problems.push(
                Problem::new(Severity::Medium, "NoPodsSelected", format!("its selector {text} matches no pod"))
                    .hint(near_misses(cx, ns, selector, &text)),
            );
        }
        return (problems, None);
    }
    if spec.publish_not_ready_addresses == Some(true) || !cx.snapshot.has(Kind::Endpoints) {
        return (problems, None);
    }
    let Some(endpoints) = cx.index.endpoints.get(&(ns, name)) else { return (problems, None) };
    let subsets = endpoints.subsets.iter().flatten();
    let ready: usize = subsets.clone().map(|s| s.addresses.as_ref().map_or(0, Vec::len)).sum();
    let not_ready: Vec<String> = subsets
        .flat_map(|s| s.not_ready_addresses.iter().flatten())
        .map(|a| a.target_ref.as_ref().and_then(|t| t.name.clone()).unwrap_or_else(|| a.ip.clone()))
        .collect();
    if ready > 0 {
        return (problems, None);
    }
    let who = if not_ready.is_empty() {
        format!("{} pod(s) selected, none ready", pods.len())
    } else {
        format!("not ready: {}", not_ready.join(", "))
    };
    let down =
        Problem::new(Severity::High, "NoReadyEndpoints", format!("no ready endpoint: traffic to it fails ({who})"))
            .messages([format!("Service {name} has no ready endpoint: its traffic fails")])
            .hint(format!(
                "The selected pods are not ready; their own findings say why (kubectl get pods -n {ns} -l {text})."
            ));
    let causes = pods
        .iter()
        .map(|p| ObjectRef {
            kind: "Pod".into(),
            namespace: Some(ns.to_string()),
            name: p.metadata.name.clone().unwrap_or_default(),
        })
        .collect();
    let down = combine("Service", "Service", &svc.metadata, vec![down]).map(|f| f.caused_by(causes));
    (problems, down)
}

/// Pods that carry the selector's keys with other values: the usual typo.
fn near_misses(cx: &Context<'_>, ns: &str, selector: &BTreeMap<String, String>, text: &str) -> String {
    let mut seen: Vec<String> = Vec::new();
    for pod in cx.index.pods_in(ns) {
        for (k, v) in pod.metadata.labels.iter().flatten() {
            if selector.get(k).is_some_and(|want| want != v) {
                let pair = format!("{k}={v}");
                if !seen.contains(&pair) && seen.len() < 3 {
                    seen.push(pair);
                }
            }
        }
    }
    if seen.is_empty() {
        format!(
            "No pod in {ns} carries the labels {text}: fix the selector or the pod template's labels (kubectl get pods -n {ns} --show-labels)."
        )
    } else {
        format!("Pods in {ns} carry {} instead: fix the selector or the pods' labels.", seen.join(", "))
    }
}

pub(super) struct IngressAnalyzer;

impl Analyzer for IngressAnalyzer {
    fn info(&self) -> &'static Info {
        &Info {
            name: "Ingress",
            description: "Ingresses with no or an unknown IngressClass, a missing backend Service or port, a missing TLS Secret",
            subject: Kind::Ingress,
            evidence: &[Kind::IngressClass, Kind::Service],
            default_enabled: true,
        }
    }

    fn analyze(&self, cx: &Context<'_>, out: &mut Vec<Finding>) {
        for ing in &cx.snapshot.objects.ingresses {
            out.extend(combine("Ingress", "Ingress", &ing.metadata, ingress(cx, ing)));
        }
    }
}

const DEFAULT_CLASS: &str = "ingressclass.kubernetes.io/is-default-class";
const CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";

fn ingress(cx: &Context<'_>, ing: &Ingress) -> Vec<Problem> {
    let mut problems = Vec::new();
    let ns = ing.metadata.namespace.as_deref().unwrap_or("default");
    let Some(spec) = &ing.spec else { return problems };
    let annotation = ing.metadata.annotations.as_ref().and_then(|a| a.get(CLASS_ANNOTATION));
    if cx.snapshot.has(Kind::IngressClass) {
        match (spec.ingress_class_name.as_deref(), annotation) {
            (Some(class), _) if !cx.index.ingress_classes.contains_key(class) => problems.push(
                Problem::new(Severity::High, "UnknownIngressClass", format!("its IngressClass {class} does not exist"))
                    .hint(format!("No controller serves it: use one of the classes of kubectl get ingressclass, or install the controller for {class}.")),
            ),
            (None, None) => {
                let has_default = cx.snapshot.objects.ingress_classes.iter().any(|c| {
                    c.metadata.annotations.as_ref().and_then(|a| a.get(DEFAULT_CLASS)).is_some_and(|v| v == "true")
                });
                if !has_default {
                    problems.push(
                        Problem::new(Severity::Medium, "NoIngressClass", "it names no IngressClass and the cluster has no default one")
                            .hint("No controller serves it: set spec.ingressClassName (kubectl get ingressclass), or mark a class default with the ingressclass.kubernetes.io/is-default-class annotation."),
                    );
                }
            }
            _ => {}
        }
    }
    if cx.snapshot.has(Kind::Service) {
        let backends = spec.default_backend.iter().chain(
            spec.rules.iter().flatten().flat_map(|r| r.http.iter().flat_map(|h| h.paths.iter().map(|p| &p.backend))),
        );
        for backend in backends {
            problems.extend(check_backend(cx, ns, backend));
        }
    }
    // TLS Secrets are checked only when Secrets were read (the opt-in Secret analyzer).
    if cx.snapshot.has(Kind::Secret) {
        for tls in spec.tls.iter().flatten() {
            if let Some(secret) = tls.secret_name.as_deref().filter(|s| !cx.index.secrets.contains_key(&(ns, s))) {
                problems.push(
                    Problem::new(Severity::High, "MissingTLSSecret", format!("its TLS Secret {secret} does not exist"))
                        .hint(format!("HTTPS for {} falls back to the controller's default certificate: kubectl create secret tls {secret} -n {ns} --cert=… --key=…", tls.hosts.clone().unwrap_or_default().join(", "))),
                );
            }
        }
    }
    problems
}

fn check_backend(cx: &Context<'_>, ns: &str, backend: &IngressBackend) -> Option<Problem> {
    let target = backend.service.as_ref()?;
    let Some(svc) = cx.index.services.get(&(ns, target.name.as_str())) else {
        return Some(
            Problem::new(
                Severity::High,
                "MissingBackendService",
                format!("its backend Service {} does not exist", target.name),
            )
            .hint(format!(
                "Requests to it get 503 from the controller: create Service {} in {ns} or fix the backend name.",
                target.name
            )),
        );
    };
    let port = target.port.as_ref()?;
    let ports = svc.spec.as_ref().and_then(|s| s.ports.as_ref()).cloned().unwrap_or_default();
    let (found, wanted) = match (&port.number, &port.name) {
        (Some(n), _) => (ports.iter().any(|p| p.port == *n), n.to_string()),
        (None, Some(name)) => (ports.iter().any(|p| p.name.as_deref() == Some(name.as_str())), name.clone()),
        (None, None) => return None,
    };
    if found {
        return None;
    }
    let have = ports
        .iter()
        .map(|p| p.name.clone().map_or(p.port.to_string(), |n| format!("{n}/{}", p.port)))
        .collect::<Vec<_>>()
        .join(", ");
    Some(
        Problem::new(
            Severity::High,
            "MissingBackendPort",
            format!("its backend Service {} has no port {wanted}", target.name),
        )
        .hint(format!(
            "Service {} exposes {}: fix the backend port.",
            target.name,
            if have.is_empty() { "no port".to_string() } else { have }
        )),
    )
}

pub(super) struct NetworkPolicyAnalyzer;

impl Analyzer for NetworkPolicyAnalyzer {
    fn info(&self) -> &'static Info {
        &Info {
            name: "NetworkPolicy",
            description: "NetworkPolicies whose pod selector matches no pod (an empty selector is a normal default-deny)",
            subject: Kind::NetworkPolicy,
            evidence: &[Kind::Pod, Kind::Deployment, Kind::StatefulSet],
            default_enabled: true,
        }
    }

    fn analyze(&self, cx: &Context<'_>, out: &mut Vec<Finding>) {
        if !cx.snapshot.has(Kind::Pod) {
            return;
        }
        for np in &cx.snapshot.objects.network_policies {
            let ns = np.metadata.namespace.as_deref().unwrap_or("default");
            let Some(api) = np.spec.as_ref().and_then(|s| s.pod_selector.as_ref()) else { continue };
            let Ok(sel) = LabelSelector::from_api(api) else { continue };
            if sel.is_empty() || !cx.index.pods_matching(ns, &sel).is_empty() || targets_scaled_to_zero(cx, ns, &sel) {
                continue;
            }
            let text = super::selector_text(api);
            let problem = Problem::new(
                Severity::Low,
                "NoPodsSelected",
                format!("its podSelector {text} matches no pod: it protects nothing"),
            )
            .hint(format!(
                "Fix the selector or the pods' labels (kubectl get pods -n {ns} --show-labels), or delete the policy."
            ));
            out.extend(combine("NetworkPolicy", "NetworkPolicy", &np.metadata, vec![problem]));
        }
    }
}
