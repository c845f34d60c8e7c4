//! `kubectl ai audit`: deterministic security checks over Kubernetes objects.
//!
//! The catalog (`CHECKS`) merges what the checkers people trust report — the Pod Security Admission
//! code, Polaris, kube-score, kubesec, trivy's KSV checks, the CIS benchmark — into one list of
//! checks; every finding names the equivalent checks of those tools in `references`
//! (`pss:baseline/privileged`, `polaris:runAsPrivileged`, `ksv:KSV-0017`, …), and the conformance suite
//! (`make conformance`) runs their own test data through the binary.
//!
//! Data flows one way: objects (live, a snapshot, or manifests with their file and line) →
//! [`run`] → [`AuditFinding`]s → [`crate::render::audit`]. Workloads are checked on their pod template.

mod catalog;
mod pod;
mod rbac;
mod resources;
mod run;
pub mod trivy;

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;
use serde_json::Value;

pub use catalog::{CHECKS, Check, check};
pub use run::{AuditInput, AuditOptions, Manifests, ScanOptions, Target, run};

use crate::findings::Severity;
pub use crate::findings::audit::{AuditFinding, Source};

/// A Pod Security Standards level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Prevents known privilege escalations.
    Baseline,
    /// Hardened, following current best practice.
    Restricted,
}

impl Level {
    /// Both levels, the looser first.
    pub const ALL: &'static [Level] = &[Level::Baseline, Level::Restricted];

    /// The lowercase name of the level, as PSA's labels spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        }
    }
}

/// One object to audit.
#[derive(Clone, Debug)]
pub(crate) struct Object {
    pub value: Value,
    pub source: Option<Source>,
}

/// What to check.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Exactly the Pod Security Standards controls of this level, with PSA semantics.
    pub level: Option<Level>,
    /// Only these checks (ids); empty = all.
    pub checks: BTreeSet<String>,
    /// Never these checks (ids).
    pub skip: BTreeSet<String>,
    /// Registries images may come from (IMG-003); empty = not checked.
    pub trusted_registries: Vec<String>,
}

impl Options {
    fn enabled(&self, id: &str) -> bool {
        (self.checks.is_empty() || self.checks.contains(id)) && !self.skip.contains(id)
    }

    /// In a level mode, a finding counts only through its `pss:` references of that level (restricted
    /// includes baseline).
    fn in_level(&self, references: &[&str]) -> bool {
        match self.level {
            None => true,
            Some(Level::Baseline) => references.iter().any(|r| r.starts_with("pss:baseline/")),
            Some(Level::Restricted) => references.iter().any(|r| r.starts_with("pss:")),
        }
    }
}

/// The outcome of one run: findings, and how many (check, object) pairs were evaluated, by
/// severity (the score's denominator).
#[derive(Clone, Debug, Default)]
pub(crate) struct Outcome {
    pub findings: Vec<AuditFinding>,
    pub evaluated: Vec<(&'static str, usize)>,
    pub objects: usize,
}

/// Runs every enabled check over `objects`. Objects see each other (a binding its role, a pod the
/// NetworkPolicies and ServiceAccounts of its namespace).
pub(crate) fn audit(objects: &[Object], options: &Options) -> Outcome {
    let all = All::new(objects);
    let mut out = Vec::new();
    let mut evaluated = std::collections::BTreeMap::<&'static str, usize>::new();
    for object in objects {
        let mut emit = Emit { object, out: &mut out, options, evaluated: &mut evaluated };
        if let Some(pod) = pod::PodView::of(&object.value) {
            pod::check(&pod, &all, &mut emit);
        }
        resources::check(&object.value, &all, &mut emit);
        rbac::check(&object.value, &all, &mut emit);
    }
    // Worst first, then by object, in the order found among equals: a stable sort of the findings
    // themselves would take a scratch copy of half of them (27 MB at 150,000 pods), so their
    // indices are sorted (ties broken by index, which is what stable means) and the findings moved
    // into place.
    let mut order: Vec<usize> = (0..out.len()).collect();
    order.sort_unstable_by(|&i, &j| order_key(&out[i]).cmp(&order_key(&out[j])).then(i.cmp(&j)));
    permute(&mut out, order);
    out.dedup();
    Outcome { findings: out, evaluated: evaluated.into_iter().collect(), objects: objects.len() }
}

/// The order of findings: worst first, then by namespace, object, check, container and path.
#[allow(clippy::type_complexity)]
fn order_key(
    f: &AuditFinding,
) -> (std::cmp::Reverse<Severity>, &Option<String>, &String, &String, &'static str, &Option<String>, &String) {
    (std::cmp::Reverse(f.severity), &f.namespace, &f.kind, &f.name, f.check, &f.container, &f.path)
}

/// Moves `items[order[k]]` to `k` for every `k`, in place, one cycle of the permutation at a time.
fn permute<T>(items: &mut [T], mut order: Vec<usize>) {
    for start in 0..items.len() {
        let mut at = start;
        // `order[at] == at` marks a place already filled.
        while order[at] != at {
            let from = std::mem::replace(&mut order[at], at);
            if from == start {
                break;
            }
            items.swap(at, from);
            at = from;
        }
    }
}

/// Every object of the run, indexed for checks that look across objects (a binding its role, a
/// pod its ServiceAccount and the NetworkPolicies of its namespace): each lookup costs the objects
/// it returns, not a scan of the run.
pub(crate) struct All<'a> {
    /// By kind, then namespace ([`namespace_of`]), in the run's order.
    in_namespace: HashMap<&'a str, HashMap<&'a str, Vec<&'a Value>>>,
    /// By kind, then name, in the run's order.
    by_name: HashMap<&'a str, HashMap<&'a str, Vec<&'a Value>>>,
    /// The objects with a pod spec (pods and their controllers), by namespace.
    with_pods: HashMap<&'a str, Vec<&'a Value>>,
}

impl<'a> All<'a> {
    fn new(objects: &'a [Object]) -> All<'a> {
        let mut all = All { in_namespace: HashMap::new(), by_name: HashMap::new(), with_pods: HashMap::new() };
        for v in objects.iter().map(|o| &o.value) {
            let Some(kind) = v["kind"].as_str() else { continue };
            all.in_namespace.entry(kind).or_default().entry(namespace_of(v)).or_default().push(v);
            if let Some(name) = v["metadata"]["name"].as_str() {
                all.by_name.entry(kind).or_default().entry(name).or_default().push(v);
            }
            if pod::PodView::of(v).is_some() {
                all.with_pods.entry(namespace_of(v)).or_default().push(v);
            }
        }
        all
    }

    /// The objects of a kind in a namespace.
    pub(crate) fn in_namespace(&self, kind: &str, namespace: &str) -> &[&'a Value] {
        self.in_namespace.get(kind).and_then(|by_ns| by_ns.get(namespace)).map_or(&[], Vec::as_slice)
    }

    /// The objects of a namespace with a pod spec.
    pub(crate) fn with_pods_in(&self, namespace: &str) -> &[&'a Value] {
        self.with_pods.get(namespace).map_or(&[], Vec::as_slice)
    }

    /// The first object of a kind and name, in `namespace` when given.
    pub(crate) fn find(&self, kind: &str, namespace: Option<&str>, name: &str) -> Option<&'a Value> {
        let named = self.by_name.get(kind)?.get(name)?;
        named.iter().copied().find(|v| namespace.is_none_or(|ns| namespace_of(v) == ns))
    }
}

/// An object's namespace as manifests mean it: unset is `default`.
pub(crate) fn namespace_of(v: &Value) -> &str {
    v["metadata"]["namespace"].as_str().filter(|n| !n.is_empty()).unwrap_or("default")
}

/// Collects the findings of one object.
pub(crate) struct Emit<'a> {
    object: &'a Object,
    out: &'a mut Vec<AuditFinding>,
    options: &'a Options,
    evaluated: &'a mut std::collections::BTreeMap<&'static str, usize>,
}

/// One finding being reported.
pub(crate) struct Hit<'r> {
    pub container: Option<&'r str>,
    pub path: String,
    pub message: String,
    pub references: &'r [&'static str],
    pub severity: Option<Severity>,
}

impl Hit<'_> {
    pub(crate) fn new<'r>(
        path: impl Into<String>,
        message: impl Into<String>,
        references: &'r [&'static str],
    ) -> Hit<'r> {
        Hit { container: None, path: path.into(), message: message.into(), references, severity: None }
    }
}

impl<'r> Hit<'r> {
    pub(crate) fn container(mut self, name: Option<&'r str>) -> Self {
        self.container = name;
        self
    }

    pub(crate) fn severity(mut self, severity: Severity) -> Self {
        self.severity = Some(severity);
        self
    }
}

impl Emit<'_> {
    /// Whether check `id` runs; counts it as evaluated on this object.
    pub(crate) fn runs(&mut self, id: &'static str) -> bool {
        let on =
            self.options.enabled(id) && (self.options.level.is_none() || catalog::check(id).is_some_and(|c| c.pss));
        if on {
            *self.evaluated.entry(id).or_default() += 1;
        }
        on
    }

    pub(crate) fn options(&self) -> &Options {
        self.options
    }

    pub(crate) fn report(&mut self, id: &'static str, hit: Hit<'_>) {
        let Some(check) = catalog::check(id) else { return };
        if !self.options.enabled(id) {
            return;
        }
        let references = hit.references.to_vec();
        if !self.options.in_level(&references) {
            return;
        }
        let v = &self.object.value;
        let meta = &v["metadata"];
        let namespaced = !CLUSTER_SCOPED.contains(&v["kind"].as_str().unwrap_or(""));
        self.out.push(AuditFinding {
            check: check.id,
            title: check.title,
            severity: hit.severity.unwrap_or(check.severity),
            kind: v["kind"].as_str().unwrap_or("").to_string(),
            namespace: namespaced.then(|| meta["namespace"].as_str().unwrap_or("default").to_string()),
            name: meta["name"].as_str().unwrap_or("").to_string(),
            container: hit.container.map(str::to_string),
            path: hit.path,
            message: hit.message,
            remediation: check.remediation,
            references,
            source: self.object.source.clone(),
        });
    }
}

const CLUSTER_SCOPED: &[&str] = &[
    "ClusterRole",
    "ClusterRoleBinding",
    "Namespace",
    "Node",
    "PersistentVolume",
    "StorageClass",
    "IngressClass",
    "PriorityClass",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "CustomResourceDefinition",
];

/// Weights of the score: a critical finding costs ten low ones.
pub(crate) fn weight(severity: Severity) -> u64 {
    match severity {
        Severity::Critical => 10,
        Severity::High => 5,
        Severity::Medium => 3,
        Severity::Low => 1,
        Severity::Info => 0,
    }
}

/// The score, 0–100: the weighted share of evaluated (check, object) pairs that passed.
pub(crate) fn score(outcome: &Outcome) -> u8 {
    let total: u64 =
        outcome.evaluated.iter().map(|(id, n)| catalog::check(id).map_or(0, |c| weight(c.severity)) * *n as u64).sum();
    let mut failed_pairs = BTreeSet::new();
    let mut failed: u64 = 0;
    for f in &outcome.findings {
        if failed_pairs.insert((f.check, &f.kind, &f.namespace, &f.name)) {
            failed += catalog::check(f.check).map_or(0, |c| weight(c.severity));
        }
    }
    if total == 0 {
        return 100;
    }
    (100 - (failed.min(total) * 100).div_ceil(total)) as u8
}

/// The distinct images the pod specs of `objects` run (those of `only` when given).
pub(crate) fn images<F: Fn(&str, &str) -> bool>(objects: &[Object], only: Option<F>) -> Vec<String> {
    let mut out = BTreeSet::new();
    for o in objects {
        let v = &o.value;
        if only
            .as_ref()
            .is_some_and(|f| !f(v["kind"].as_str().unwrap_or(""), v["metadata"]["name"].as_str().unwrap_or("")))
        {
            continue;
        }
        if let Some(pod) = pod::PodView::of(v) {
            for c in pod.containers() {
                if let Some(image) = c.c["image"].as_str().filter(|i| !i.is_empty()) {
                    out.insert(image.to_string());
                }
            }
        }
    }
    out.into_iter().collect()
}

/// IMG-004: one finding per container whose image has vulnerabilities at or above `min`.
pub(crate) fn vulnerability_findings(
    objects: &[Object],
    scans: &[trivy::ImageScan],
    min: Severity,
) -> Vec<AuditFinding> {
    let Some(check) = check("IMG-004") else { return Vec::new() };
    let mut out = Vec::new();
    // The first good scan of each image.
    let mut by_image: HashMap<&str, &trivy::ImageScan> = HashMap::new();
    for s in scans.iter().filter(|s| s.error.is_none()) {
        by_image.entry(s.image.as_str()).or_insert(s);
    }
    for o in objects {
        let Some(pod) = pod::PodView::of(&o.value) else { continue };
        for c in pod.containers() {
            let image = c.c["image"].as_str().unwrap_or("");
            let Some(scan) = by_image.get(image) else { continue };
            let Some(worst) = scan.worst().filter(|w| *w >= min) else { continue };
            let top: Vec<String> = scan
                .top
                .iter()
                .take(3)
                .map(|v| match &v.fixed {
                    Some(f) => format!("{} in {} (fixed in {f})", v.id, v.package),
                    None => format!("{} in {} (no fix yet)", v.id, v.package),
                })
                .collect();
            let v = &o.value;
            let namespaced = !CLUSTER_SCOPED.contains(&v["kind"].as_str().unwrap_or(""));
            out.push(AuditFinding {
                check: check.id,
                title: check.title,
                severity: worst,
                kind: v["kind"].as_str().unwrap_or("").to_string(),
                namespace: namespaced.then(|| namespace_of(v).to_string()),
                name: v["metadata"]["name"].as_str().unwrap_or("").to_string(),
                container: c.name.map(str::to_string),
                path: format!("{}.image", c.path),
                message: format!("{image}: {}; {}", scan.summary(min), top.join(", ")),
                remediation: check.remediation,
                references: Vec::new(),
                source: o.source.clone(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    proptest! {
        /// Sorting indices (ties by index) and moving the items is a stable sort.
        #[test]
        fn findings_are_ordered_as_a_stable_sort_orders_them(items in prop::collection::vec((0u8..4, 0u8..4), 0..200)) {
            let mut order: Vec<usize> = (0..items.len()).collect();
            order.sort_unstable_by(|&i, &j| items[i].0.cmp(&items[j].0).then(i.cmp(&j)));
            let mut moved = items.clone();
            permute(&mut moved, order);
            let mut stable = items.clone();
            stable.sort_by_key(|item| item.0);
            prop_assert_eq!(moved, stable);
        }
    }

    #[test]
    fn lookups_across_objects_keep_the_scans_meaning() {
        // What `All` returns is what a scan of the run in order returned: the first match, a
        // namespace only when asked, unset namespaces as `default`, pod-bearing objects by namespace.
        let objects: Vec<Object> = [
            json!({"kind": "ServiceAccount", "metadata": {"name": "app", "namespace": "a"}, "automountServiceAccountToken": false}),
            json!({"kind": "ServiceAccount", "metadata": {"name": "app", "namespace": "b"}}),
            json!({"kind": "ServiceAccount", "metadata": {"name": "app"}, "n": "default"}),
            json!({"kind": "ClusterRole", "metadata": {"name": "admin"}}),
            json!({"kind": "Role", "metadata": {"name": "admin", "namespace": "a"}}),
            json!({"kind": "NetworkPolicy", "metadata": {"name": "p1", "namespace": "a"}}),
            json!({"kind": "NetworkPolicy", "metadata": {"name": "p2", "namespace": "a"}}),
            json!({"kind": "Deployment", "metadata": {"name": "web", "namespace": "a"},
                   "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}}),
            json!({"kind": "Service", "metadata": {"name": "web", "namespace": "a"}}),
            json!({"kind": 3, "metadata": {"name": "odd"}}),
        ]
        .into_iter()
        .map(|value| Object { value, source: None })
        .collect();
        let all = All::new(&objects);
        let name = |v: Option<&Value>| v.map(|v| v["metadata"]["namespace"].as_str().unwrap_or("(none)").to_string());
        assert_eq!(name(all.find("ServiceAccount", Some("b"), "app")), Some("b".into()));
        assert_eq!(name(all.find("ServiceAccount", None, "app")), Some("a".into()));
        assert_eq!(name(all.find("ServiceAccount", Some("default"), "app")), Some("(none)".into()));
        assert_eq!(name(all.find("ServiceAccount", Some("c"), "app")), None);
        assert_eq!(name(all.find("ClusterRole", None, "admin")), Some("(none)".into()));
        assert_eq!(name(all.find("Role", Some("a"), "admin")), Some("a".into()));
        assert_eq!(all.find("Role", Some("a"), "nope"), None);
        let names =
            |vs: &[&Value]| vs.iter().map(|v| v["metadata"]["name"].as_str().unwrap().to_string()).collect::<Vec<_>>();
        assert_eq!(names(all.in_namespace("NetworkPolicy", "a")), ["p1", "p2"]);
        assert!(all.in_namespace("NetworkPolicy", "b").is_empty());
        assert_eq!(names(all.with_pods_in("a")), ["web"]);
        assert!(all.with_pods_in("default").is_empty());
    }

    /// The checks that fail on a pod with this spec (a restricted-compliant base, overridden).
    fn failing(level: Option<Level>, spec: Value) -> Vec<&'static str> {
        let mut base = json!({
            "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "a", "image": "x:1", "securityContext": {
                "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}],
        });
        let annotations = spec.get("__annotations").cloned();
        merge(&mut base, spec);
        base.as_object_mut().map(|b| b.remove("__annotations"));
        let metadata = json!({"name": "p", "namespace": "apps", "annotations": annotations});
        let pod = Object {
            value: json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": base}),
            source: None,
        };
        let mut ids: Vec<&str> =
            audit(&[pod], &Options { level, ..Options::default() }).findings.iter().map(|f| f.check).collect();
        ids.sort();
        ids.dedup();
        ids
    }

    fn merge(base: &mut Value, patch: Value) {
        match (base, patch) {
            (Value::Object(b), Value::Object(p)) => {
                for (k, v) in p {
                    merge(b.entry(k).or_insert(Value::Null), v);
                }
            }
            (b, p) => *b = p,
        }
    }

    const B: Option<Level> = Some(Level::Baseline);
    const R: Option<Level> = Some(Level::Restricted);

    fn container(sc: Value) -> Value {
        json!({"containers": [{"name": "a", "image": "x:1", "securityContext": sc}]})
    }

    #[test]
    fn pod_security_admission_semantics() {
        let safe = json!({"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}});
        let mut unmasked = safe.clone();
        unmasked["procMount"] = json!("Unmasked");
        let cases: Vec<(&str, Option<Level>, Value, &[&str])> = vec![
            ("the base passes restricted", R, json!({}), &[]),
            (
                "hostUsers: false relaxes baseline procMount",
                B,
                merge_into(container(unmasked.clone()), json!({"hostUsers": false})),
                &[],
            ),
            (
                "but not procMount_restricted",
                R,
                merge_into(container(unmasked.clone()), json!({"hostUsers": false})),
                &["POD-012"],
            ),
            ("procMount without user namespaces", B, container(unmasked), &["POD-012"]),
            (
                "PSA compares capability names exactly",
                B,
                container(json!({"capabilities": {"add": ["chown"]}})),
                &["POD-005"],
            ),
            (
                "the default set may be added at baseline",
                B,
                container(json!({"capabilities": {"add": ["CHOWN"]}})),
                &[],
            ),
            (
                "restricted allows only NET_BIND_SERVICE",
                R,
                container(
                    json!({"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"], "add": ["CHOWN"]}}),
                ),
                &["POD-021"],
            ),
            (
                "drop ALL is exact",
                R,
                container(json!({"allowPrivilegeEscalation": false, "capabilities": {"drop": ["all"]}})),
                &["POD-020"],
            ),
            (
                "windows pods skip three controls",
                R,
                json!({"os": {"name": "windows"}, "securityContext": {"seccompProfile": null}, "containers": [{"name": "a", "image": "x:1"}]}),
                &[],
            ),
            (
                "a safe v1.37 sysctl",
                B,
                json!({"securityContext": {"sysctls": [{"name": "net.ipv4.tcp_notsent_lowat", "value": "1"}]}}),
                &[],
            ),
            (
                "an unsafe sysctl",
                B,
                json!({"securityContext": {"sysctls": [{"name": "kernel.msgmax", "value": "1"}]}}),
                &["POD-014"],
            ),
            (
                "container_engine_t is allowed",
                B,
                json!({"securityContext": {"seLinuxOptions": {"type": "container_engine_t"}}}),
                &[],
            ),
            (
                "an SELinux user is not",
                B,
                json!({"securityContext": {"seLinuxOptions": {"user": "root"}}}),
                &["POD-011"],
            ),
            (
                "a container may not undo the pod's seccomp",
                R,
                container(
                    json!({"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "Unconfined"}}),
                ),
                &["POD-013", "POD-022"],
            ),
            (
                "nor its runAsNonRoot",
                R,
                container(
                    json!({"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}, "runAsNonRoot": false}),
                ),
                &["POD-018"],
            ),
            (
                "hostUsers: false relaxes runAsNonRoot and runAsUser",
                R,
                json!({"hostUsers": false, "securityContext": {"runAsNonRoot": false, "runAsUser": 0}}),
                &[],
            ),
            (
                "an unconfined AppArmor annotation",
                B,
                json!({}).tap_annotations("container.apparmor.security.beta.kubernetes.io/a", "unconfined"),
                &["POD-010"],
            ),
            (
                "a localhost AppArmor profile",
                B,
                json!({"securityContext": {"appArmorProfile": {"type": "Localhost", "localhostProfile": "p"}}}),
                &[],
            ),
            (
                "a probe on another host",
                B,
                json!({"containers": [{"name": "a", "image": "x:1", "readinessProbe": {"httpGet": {"host": "10.0.0.1", "port": 80}}}]}),
                &["POD-016"],
            ),
            (
                "a hostPort of 0 is no hostPort",
                B,
                json!({"containers": [{"name": "a", "image": "x:1", "ports": [{"containerPort": 80, "hostPort": 0}]}]}),
                &[],
            ),
            ("an image volume is allowed", R, json!({"volumes": [{"name": "v", "image": {"reference": "x:1"}}]}), &[]),
            (
                "an nfs volume is not",
                R,
                json!({"volumes": [{"name": "v", "nfs": {"server": "s", "path": "/"}}]}),
                &["POD-023"],
            ),
            (
                "ephemeral containers count",
                R,
                json!({"ephemeralContainers": [{"name": "debug", "image": "x:1"}]}),
                &["POD-017", "POD-020"],
            ),
        ];
        for (what, level, spec, expected) in cases {
            assert_eq!(failing(level, spec), expected, "{what}");
        }
    }

    trait Annotate {
        fn tap_annotations(self, key: &str, value: &str) -> Value;
    }

    impl Annotate for Value {
        /// Marks the spec with an annotation for `failing` to move to the pod's metadata.
        fn tap_annotations(mut self, key: &str, value: &str) -> Value {
            self["__annotations"] = json!({ key: value });
            self
        }
    }

    fn merge_into(mut base: Value, patch: Value) -> Value {
        merge(&mut base, patch);
        base
    }

    #[test]
    fn a_binding_is_judged_by_the_role_it_grants() {
        let docs = |role_verbs: Value| {
            vec![
                Object {
                    value: json!({"kind": "ClusterRole", "metadata": {"name": "ops"}, "rules": [{"apiGroups": [""], "resources": ["pods/exec"], "verbs": role_verbs}]}),
                    source: None,
                },
                Object {
                    value: json!({"kind": "ClusterRoleBinding", "metadata": {"name": "ops"}, "roleRef": {"kind": "ClusterRole", "name": "ops"}, "subjects": [{"kind": "Group", "name": "system:masters"}]}),
                    source: None,
                },
            ]
        };
        let refs = |objects: Vec<Object>| -> Vec<&'static str> {
            let mut r: Vec<&'static str> = audit(&objects, &Options::default())
                .findings
                .into_iter()
                .flat_map(|f| f.references)
                .filter(|r| r.starts_with("polaris:"))
                .collect();
            r.sort();
            r.dedup();
            r
        };
        assert_eq!(
            refs(docs(json!(["create"]))),
            ["polaris:clusterrolePodExecAttach", "polaris:clusterrolebindingPodExecAttach"]
        );
        assert_eq!(refs(docs(json!(["list"]))), Vec::<&str>::new());
        let ids: Vec<&str> =
            audit(&docs(json!(["list"])), &Options::default()).findings.iter().map(|f| f.check).collect();
        assert_eq!(ids, ["RBAC-010"]);
    }

    #[test]
    fn the_score_weighs_severities() {
        let clean = Outcome { findings: vec![], evaluated: vec![("POD-001", 3)], objects: 3 };
        assert_eq!(score(&clean), 100);
        let pod = Object {
            value: json!({"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "a", "image": "x", "securityContext": {"privileged": true}}]}}),
            source: None,
        };
        let outcome = audit(&[pod], &Options::default());
        assert!(score(&outcome) < 100 && score(&outcome) > 0, "{}", score(&outcome));
    }
}
