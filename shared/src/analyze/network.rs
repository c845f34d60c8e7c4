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
                    .hint(near_misses(cx, ns, name, selector, &text)),
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

/// What to check when a selector matches no pod. A near miss is named only when it is plausibly the
/// pods meant: pods that carry every key of the selector but one, and that one with a value a typo
/// away or the Service's own name (or the key missing), and that no other Service already selects — suggesting another
/// workload's label would route this Service's traffic to the wrong app.
fn near_misses(cx: &Context<'_>, ns: &str, service: &str, selector: &BTreeMap<String, String>, text: &str) -> String {
    let others: Vec<LabelSelector> = cx
        .snapshot
        .objects
        .services
        .iter()
        .filter(|s| s.metadata.namespace.as_deref().unwrap_or("default") == ns)
        .filter_map(|s| s.spec.as_ref()?.selector.as_ref())
        .filter(|sel| !sel.is_empty() && *sel != selector)
        .map(LabelSelector::from_map)
        .collect();
    let mut misses: Vec<(String, Vec<String>)> = Vec::new();
    for pod in cx.index.pods_in(ns) {
        let labels = pod.metadata.labels.as_ref();
        if others.iter().any(|o| o.matches(labels)) {
            continue;
        }
        let Some(miss) = near_miss(service, selector, labels) else { continue };
        let name = pod.metadata.name.clone().unwrap_or_default();
        match misses.iter_mut().find(|(m, _)| *m == miss) {
            Some((_, pods)) => pods.push(name),
            None => misses.push((miss, vec![name])),
        }
    }
    if misses.is_empty() {
        return format!(
            "No pod in {ns} carries the labels {text}: compare the selector with the pod template's labels (kubectl get pods -n {ns} --show-labels)."
        );
    }
    let named = misses
        .iter()
        .take(3)
        .map(|(miss, pods)| {
            let more = if pods.len() > 2 { format!(" and {} more", pods.len() - 2) } else { String::new() };
            format!("{miss} (pods {}{more})", pods.iter().take(2).cloned().collect::<Vec<_>>().join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ");
    format!(
        "Pods no other Service selects differ by one label: {named}. If they are the pods meant, fix the selector or their labels (kubectl get pods -n {ns} --show-labels)."
    )
}

/// How a pod's labels miss the selector by one label: `app=web-fronted instead of app=web-frontend`
/// or `no tier label (wants tier=web)`; `None` when they miss by more, or match. A value equal to
/// the Service's name counts as meant (`app=search` for Service search selecting `app=search-api`).
fn near_miss(
    service: &str,
    selector: &BTreeMap<String, String>,
    labels: Option<&BTreeMap<String, String>>,
) -> Option<String> {
    let empty = BTreeMap::new();
    let labels = labels.unwrap_or(&empty);
    let mut missed = selector.iter().filter(|(k, v)| labels.get(*k) != Some(*v));
    let (key, want) = missed.next()?;
    if missed.next().is_some() {
        return None;
    }
    match labels.get(key) {
        Some(have) if have == service || looks_like_a_typo(want, have) => {
            Some(format!("{key}={have} instead of {key}={want}"))
        }
        Some(_) => None,
        // A missing key is a near miss only when another key of the selector did match.
        None if selector.len() > 1 => Some(format!("no {key} label (wants {key}={want})")),
        None => None,
    }
}

/// Two label values a slip of the keyboard apart: equal but for case, or at most one edit per
/// five characters (and always at most two). Values that differ only in their digits are versions
/// (`frontend-v1`, `frontend-v2`), deliberate rather than a slip.
fn looks_like_a_typo(want: &str, have: &str) -> bool {
    if want.eq_ignore_ascii_case(have) {
        return true;
    }
    let letters = |s: &str| s.chars().filter(|c| !c.is_ascii_digit()).collect::<String>();
    if letters(want) == letters(have) {
        return false;
    }
    let allowed = (want.chars().count().max(have.chars().count()) / 5).clamp(1, 2);
    edit_distance(want, have) <= allowed
}

/// Levenshtein distance between two short strings (label values are at most 63 characters).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1).min(row[j] + 1).min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
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
    // An address in its status means a controller admitted it, whatever the IngressClass objects
    // say (controllers that watch class-less Ingresses, or a class name they answer to without
    // the object): the class is then not why traffic fails.
    let admitted = ing
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .is_some_and(|addresses| addresses.iter().any(|a| a.ip.is_some() || a.hostname.is_some()));
    if cx.snapshot.has(Kind::IngressClass) && !admitted {
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::{looks_like_a_typo, near_miss};

    fn labels(text: &str) -> BTreeMap<String, String> {
        text.split(',')
            .filter(|p| !p.is_empty())
            .map(|p| p.split_once('=').unwrap())
            .map(|(k, v)| (k.into(), v.into()))
            .collect()
    }

    #[test]
    fn a_near_miss_is_a_typo_of_one_label() {
        for (selector, pod, expected) in [
            ("app=web-frontend", "app=web-fronted", Some("app=web-fronted instead of app=web-frontend")),
            ("app=checkout", "app=Checkout", Some("app=Checkout instead of app=checkout")),
            ("app=api", "app=apl", Some("app=apl instead of app=api")),
            ("app=web,tier=frontend", "app=web", Some("no tier label (wants tier=frontend)")),
            ("app=web,tier=frontend", "app=web,tier=frontnd", Some("tier=frontnd instead of tier=frontend")),
            // Another workload's label is not a typo: it would route traffic to the wrong app.
            ("app=payments", "app=orders", None),
            ("app=api", "app=api-gateway", None),
            ("app=web", "app=db", None),
            // Missing by two labels, or by the only one, is no near miss.
            ("app=web,tier=frontend", "app=wbe,tier=frontnd", None),
            ("app=web", "", None),
            ("app=web,tier=frontend", "", None),
            // The Service's own name is what it is meant to select.
            ("app=svc-api", "app=svc", Some("app=svc instead of app=svc-api")),
            ("app=api", "app=svc", Some("app=svc instead of app=api")),
        ] {
            assert_eq!(
                near_miss("svc", &labels(selector), Some(&labels(pod))).as_deref(),
                expected,
                "{selector} / {pod}"
            );
        }
    }

    #[test]
    fn typos_are_at_most_one_edit_per_five_characters() {
        for (want, have, typo) in [
            ("web", "wbe", false),
            ("web", "wep", true),
            ("frontend", "frontnd", true),
            ("frontend", "backend", false),
            ("web-frontend", "web-fronted", true),
            ("web-frontend", "web-backend", false),
            ("v1", "v2", false),
            ("frontend-v1", "frontend-v2", false),
            ("frontend-v1", "frontend-v10", false),
            ("PROD", "prod", true),
        ] {
            assert_eq!(looks_like_a_typo(want, have), typo, "{want} / {have}");
        }
    }

    #[test]
    fn ingresses_are_judged_by_what_serves_them() {
        use crate::analyze::testkit::check;
        let ingress = |class: &str, status: &str, tls: &str| {
            format!(
                "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: shop, namespace: shop, creationTimestamp: '2026-05-01T11:00:00Z'}}\n\
                 spec: {{{class}rules: [{{host: shop.example.com, http: {{paths: [{{path: /, pathType: Prefix, backend: {{service: {{name: web, port: {{number: 80}}}}}}}}]}}}}]{tls}}}\n\
                 status: {{loadBalancer: {{{status}}}}}\n---\n"
            )
        };
        let others = "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: nginx}\nspec: {controller: k8s.io/ingress-nginx}\n---\n\
                      apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec: {ports: [{port: 80}]}\n---\n\
                      apiVersion: v1\nkind: Secret\nmetadata: {name: other, namespace: shop}\ntype: Opaque\n---\n";
        let cases: &[(&str, String, &[&str])] = &[
            (
                "an unknown class and no address: nothing serves it",
                ingress("ingressClassName: traefik, ", "", "") + others,
                &["high Ingress shop/shop UnknownIngressClass … install the controller for traefik"],
            ),
            (
                "look-alike: the class object is missing but a controller admitted it (an address)",
                ingress("ingressClassName: traefik, ", "ingress: [{ip: 203.0.113.7}]", "") + others,
                &[],
            ),
            (
                "look-alike: admitted by hostname, no class named",
                ingress("", "ingress: [{hostname: lb.example.com}]", "") + others,
                &[],
            ),
            (
                "no class, no default, no address",
                ingress("", "", "") + others,
                &["medium Ingress shop/shop NoIngressClass … is-default-class"],
            ),
            (
                "a missing backend Service and a missing TLS Secret are one finding with both",
                ingress(
                    "ingressClassName: nginx, ",
                    "ingress: [{ip: 203.0.113.7}]",
                    ", tls: [{hosts: [shop.example.com], secretName: shop-tls}]",
                )
                .replace("name: web, port", "name: webb, port")
                    + others,
                &["high Ingress shop/shop MissingBackendService … create Service webb in shop"],
            ),
            (
                "the same, the TLS Secret's hint kept beside the Service's",
                ingress("ingressClassName: nginx, ", "", ", tls: [{hosts: [shop.example.com], secretName: shop-tls}]")
                    .replace("name: web, port", "name: webb, port")
                    + others,
                &["high Ingress shop/shop MissingBackendService … kubectl create secret tls shop-tls -n shop"],
            ),
            (
                "a backend port the Service does not expose",
                ingress("ingressClassName: nginx, ", "", "").replace("number: 80", "number: 8080") + others,
                &["high Ingress shop/shop MissingBackendPort … Service web exposes 80"],
            ),
        ];
        check(cases);
        let both = crate::analyze::testkit::findings(&cases[4].1);
        let reasons: Vec<&str> = both[0].problems.iter().map(|p| p.reason.as_str()).collect();
        assert_eq!(reasons, ["MissingBackendService", "MissingTLSSecret"]);
    }
}
