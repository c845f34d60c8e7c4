//! Manifests as a person or a model writes them, checked the way the API server would before anyone
//! sees them: known `apiVersion`/`kind`, strict field validation (unknown and misspelled fields,
//! wrong types, missing required fields — each with its path), and the object rules that a
//! lenient decoder lets through (names, labels, selectors that match their template, containers
//! with images, ports in range).

use std::fmt;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::snapshot::LabelSelector;
use crate::snapshot::{Document, ParseError, parse_documents, pod_spec_of};

/// Something wrong with one object of a manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// `Deployment web` (or `document 2` when the object has no kind or name).
    pub object: String,
    /// Where in the object: `spec.template.spec.containers[0].imagePullPolcy`; empty for the whole.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// The server said so (dry run), rather than OpsAgent's own checks.
    pub from_server: bool,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.path.as_str() {
            "" => write!(f, "{}: {}", self.object, self.message),
            path => write!(f, "{}: {path}: {}", self.object, self.message),
        }
    }
}

/// Reads the objects of a manifest (multi-document YAML, JSON, or lists).
pub fn parse(text: &str) -> Result<Vec<Document>, ParseError> {
    parse_documents(text)
}

/// `Deployment web`, or `document N` for an object without kind or name.
pub fn describe(value: &Value, index: usize) -> String {
    match (value["kind"].as_str(), value["metadata"]["name"].as_str()) {
        (Some(kind), Some(name)) => format!("{kind} {name}"),
        (Some(kind), None) => format!("{kind} (document {})", index + 1),
        _ => format!("document {}", index + 1),
    }
}

/// Every problem OpsAgent finds in the objects without a cluster.
pub fn check(documents: &[Document]) -> Vec<Problem> {
    let mut out = Vec::new();
    for (i, doc) in documents.iter().enumerate() {
        let object = describe(&doc.value, i);
        let mut problem = |path: &str, message: String| {
            out.push(Problem { object: object.clone(), path: path.into(), message, from_server: false })
        };
        let v = &doc.value;
        // Parsing already refused objects without apiVersion and kind.
        let (Some(api_version), Some(kind)) = (v["apiVersion"].as_str(), v["kind"].as_str()) else { continue };
        match typed(api_version, kind, v) {
            Some(found) => found.into_iter().for_each(|(path, message)| problem(&path, message)),
            None => match served_as(kind) {
                Some(current) if current != api_version => {
                    problem("apiVersion", format!("{kind} is not served as {api_version}: use apiVersion: {current}"))
                }
                // A custom resource: only a cluster can say whether it is served (see `Unchecked`).
                _ => {}
            },
        }
        rules(v, kind, &mut problem);
    }
    out
}

/// Objects whose kind OpsAgent does not know (custom resources): only a server can check them.
pub fn unchecked(documents: &[Document]) -> Vec<String> {
    documents
        .iter()
        .enumerate()
        .filter(|(_, d)| {
            let (a, k) = (d.value["apiVersion"].as_str().unwrap_or(""), d.value["kind"].as_str().unwrap_or(""));
            !a.is_empty() && !k.is_empty() && served_as(k).is_none()
        })
        .map(|(i, d)| describe(&d.value, i))
        .collect()
}

macro_rules! known_kinds {
    ($( $api_version:literal $kind:literal => $ty:ty ),* $(,)?) => {
        /// Strict decoding into the kind's k8s-openapi type: problems with their paths, or None for
        /// a kind not in the table.
        fn typed(api_version: &str, kind: &str, value: &Value) -> Option<Vec<(String, String)>> {
            match (api_version, kind) {
                $( ($api_version, $kind) => Some(decode::<$ty>(value)), )*
                _ => None,
            }
        }

        /// The apiVersion a built-in kind is served as.
        fn served_as(kind: &str) -> Option<&'static str> {
            match kind {
                $( $kind => Some($api_version), )*
                _ => None,
            }
        }
    };
}

use k8s_openapi::api::{
    admissionregistration::v1 as admission, apps::v1 as apps, autoscaling::v2 as autoscaling, batch::v1 as batch,
    core::v1 as core, networking::v1 as networking, policy::v1 as policy, rbac::v1 as rbac,
    scheduling::v1 as scheduling, storage::v1 as storage,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;

known_kinds! {
    "v1" "Pod" => core::Pod,
    "v1" "Service" => core::Service,
    "v1" "ConfigMap" => core::ConfigMap,
    "v1" "Secret" => core::Secret,
    "v1" "Namespace" => core::Namespace,
    "v1" "ServiceAccount" => core::ServiceAccount,
    "v1" "PersistentVolumeClaim" => core::PersistentVolumeClaim,
    "v1" "PersistentVolume" => core::PersistentVolume,
    "v1" "LimitRange" => core::LimitRange,
    "v1" "ResourceQuota" => core::ResourceQuota,
    "v1" "Endpoints" => core::Endpoints,
    "v1" "ReplicationController" => core::ReplicationController,
    "apps/v1" "Deployment" => apps::Deployment,
    "apps/v1" "StatefulSet" => apps::StatefulSet,
    "apps/v1" "DaemonSet" => apps::DaemonSet,
    "apps/v1" "ReplicaSet" => apps::ReplicaSet,
    "batch/v1" "Job" => batch::Job,
    "batch/v1" "CronJob" => batch::CronJob,
    "networking.k8s.io/v1" "Ingress" => networking::Ingress,
    "networking.k8s.io/v1" "IngressClass" => networking::IngressClass,
    "networking.k8s.io/v1" "NetworkPolicy" => networking::NetworkPolicy,
    "autoscaling/v2" "HorizontalPodAutoscaler" => autoscaling::HorizontalPodAutoscaler,
    "policy/v1" "PodDisruptionBudget" => policy::PodDisruptionBudget,
    "rbac.authorization.k8s.io/v1" "Role" => rbac::Role,
    "rbac.authorization.k8s.io/v1" "RoleBinding" => rbac::RoleBinding,
    "rbac.authorization.k8s.io/v1" "ClusterRole" => rbac::ClusterRole,
    "rbac.authorization.k8s.io/v1" "ClusterRoleBinding" => rbac::ClusterRoleBinding,
    "storage.k8s.io/v1" "StorageClass" => storage::StorageClass,
    "scheduling.k8s.io/v1" "PriorityClass" => scheduling::PriorityClass,
    "admissionregistration.k8s.io/v1" "ValidatingWebhookConfiguration" => admission::ValidatingWebhookConfiguration,
    "admissionregistration.k8s.io/v1" "MutatingWebhookConfiguration" => admission::MutatingWebhookConfiguration,
    "apiextensions.k8s.io/v1" "CustomResourceDefinition" => apiextensions::CustomResourceDefinition,
}

/// Decodes like the API server's strict field validation: every unknown field, and the first type
/// error or missing required field, with its path.
fn decode<T: DeserializeOwned>(value: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut unknown = Vec::new();
    let mut track = |path: serde_ignored::Path<'_>| unknown.push(ignored_path(&path));
    let deserializer = serde_ignored::Deserializer::new(value.clone(), &mut track);
    if let Err(e) = serde_path_to_error::deserialize::<_, T>(deserializer) {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        out.push((path, e.into_inner().to_string()));
    }
    out.extend(unknown.into_iter().map(|path| (path, "unknown field".to_string())));
    out
}

/// `spec.template.spec.containers[0].imagePullPolcy`, like kubectl's messages.
fn ignored_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", ignored_path(parent)),
        Path::Map { parent, key } => match ignored_path(parent) {
            p if p.is_empty() => key.clone(),
            p => format!("{p}.{key}"),
        },
        Path::Some { parent } | Path::NewtypeStruct { parent } | Path::NewtypeVariant { parent } => {
            ignored_path(parent)
        }
    }
}

/// The object rules a decoder does not see.
fn rules(v: &Value, kind: &str, problem: &mut dyn FnMut(&str, String)) {
    let meta = &v["metadata"];
    match meta["name"].as_str() {
        None if meta["generateName"].is_string() => {}
        None => problem("metadata.name", "Required value".into()),
        Some(name) => {
            // Services and namespaces become DNS labels; most other names are DNS subdomains.
            let label = matches!(kind, "Service" | "Namespace");
            if let Err(why) = if label { dns_label(name) } else { dns_subdomain(name) } {
                problem("metadata.name", format!("Invalid value {name:?}: {why}"));
            }
        }
    }
    if let Some(ns) = meta["namespace"].as_str()
        && let Err(why) = dns_label(ns)
    {
        problem("metadata.namespace", format!("Invalid value {ns:?}: {why}"));
    }
    labels(&meta["labels"], "metadata.labels", problem);
    let template =
        if kind == "CronJob" { &v["spec"]["jobTemplate"]["spec"]["template"] } else { &v["spec"]["template"] };
    if template.is_object() {
        let at = if kind == "CronJob" { "spec.jobTemplate.spec.template" } else { "spec.template" };
        labels(&template["metadata"]["labels"], &format!("{at}.metadata.labels"), problem);
        let selector =
            if kind == "CronJob" { &v["spec"]["jobTemplate"]["spec"]["selector"] } else { &v["spec"]["selector"] };
        if matches!(kind, "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet") || selector.is_object() {
            selector_matches(selector, &template["metadata"]["labels"], at, problem);
        }
    }
    if let Some(spec) = pod_spec_of(v) {
        let at = match kind {
            "Pod" => "spec",
            "CronJob" => "spec.jobTemplate.spec.template.spec",
            _ => "spec.template.spec",
        };
        containers(spec, at, problem);
    }
    if kind == "Service" {
        let spec = &v["spec"];
        let headless = spec["clusterIP"] == "None";
        let ports = spec["ports"].as_array().map_or(0, Vec::len);
        if ports == 0 && spec["type"] != "ExternalName" && !headless {
            problem("spec.ports", "Required value".into());
        }
        for (i, p) in spec["ports"].as_array().into_iter().flatten().enumerate() {
            port(&p["port"], &format!("spec.ports[{i}].port"), problem);
            if ports > 1 && p["name"].as_str().is_none_or(str::is_empty) {
                problem(
                    &format!("spec.ports[{i}].name"),
                    "Required value: a Service with several ports names each".into(),
                );
            }
        }
    }
}

fn containers(spec: &Value, at: &str, problem: &mut dyn FnMut(&str, String)) {
    let mut seen = std::collections::BTreeSet::new();
    for list in ["initContainers", "containers"] {
        let items = spec[list].as_array();
        if list == "containers" && items.is_none_or(Vec::is_empty) {
            problem(&format!("{at}.containers"), "Required value".into());
        }
        for (i, c) in items.into_iter().flatten().enumerate() {
            let here = format!("{at}.{list}[{i}]");
            match c["name"].as_str() {
                None => problem(&format!("{here}.name"), "Required value".into()),
                Some(name) => {
                    if let Err(why) = dns_label(name) {
                        problem(&format!("{here}.name"), format!("Invalid value {name:?}: {why}"));
                    }
                    if !seen.insert(name.to_string()) {
                        problem(&format!("{here}.name"), format!("Duplicate value {name:?}"));
                    }
                }
            }
            if c["image"].as_str().is_none_or(|i| i.trim().is_empty()) {
                problem(&format!("{here}.image"), "Required value".into());
            }
            for (j, p) in c["ports"].as_array().into_iter().flatten().enumerate() {
                port(&p["containerPort"], &format!("{here}.ports[{j}].containerPort"), problem);
            }
        }
    }
}

fn port(value: &Value, at: &str, problem: &mut dyn FnMut(&str, String)) {
    if let Some(n) = value.as_i64()
        && !(1..=65535).contains(&n)
    {
        problem(at, format!("Invalid value: {n}: must be between 1 and 65535, inclusive"));
    }
}

fn labels(value: &Value, at: &str, problem: &mut dyn FnMut(&str, String)) {
    for (key, v) in value.as_object().into_iter().flatten() {
        let name = key.rsplit('/').next().unwrap_or(key);
        if key.matches('/').count() > 1 || qualified_name(name).is_err() {
            problem(
                &format!("{at}.{key}"),
                format!(
                    "Invalid label key {key:?}: a name of at most 63 characters, alphanumeric, '-', '_' or '.', with an optional DNS prefix"
                ),
            );
        }
        match v.as_str() {
            Some(text) if label_value(text) => {}
            Some(text) => problem(
                &format!("{at}.{key}"),
                format!(
                    "Invalid label value {text:?}: at most 63 characters, alphanumeric, '-', '_' or '.', starting and ending alphanumeric"
                ),
            ),
            None => problem(&format!("{at}.{key}"), "Invalid value: label values are strings".into()),
        }
    }
}

/// A workload's selector must select its own template.
fn selector_matches(selector: &Value, labels: &Value, at: &str, problem: &mut dyn FnMut(&str, String)) {
    if !selector.is_object() {
        problem("spec.selector", "Required value".into());
        return;
    }
    let Ok(api) = serde_json::from_value(selector.clone()) else { return }; // the decoder reports it
    let Ok(sel) = LabelSelector::from_api(&api) else {
        problem("spec.selector", "Invalid value: the selector cannot be parsed".into());
        return;
    };
    if sel.is_empty() {
        problem("spec.selector", "Invalid value: empty selector is invalid for a workload".into());
        return;
    }
    let labels: Option<std::collections::BTreeMap<String, String>> = serde_json::from_value(labels.clone()).ok();
    if !sel.matches(labels.as_ref()) {
        problem(&format!("{at}.metadata.labels"), "Invalid value: `selector` does not match template `labels`".into());
    }
}

fn dns_label(name: &str) -> Result<(), &'static str> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err("a lowercase RFC 1123 label: at most 63 characters, a-z, 0-9 and '-', starting and ending alphanumeric")
    }
}

fn dns_subdomain(name: &str) -> Result<(), &'static str> {
    let ok = !name.is_empty() && name.len() <= 253 && name.split('.').all(|part| dns_label(part).is_ok());
    if ok {
        Ok(())
    } else {
        Err(
            "a lowercase RFC 1123 subdomain: at most 253 characters, a-z, 0-9, '-' and '.', starting and ending alphanumeric",
        )
    }
}

fn qualified_name(name: &str) -> Result<(), ()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric();
    if ok { Ok(()) } else { Err(()) }
}

fn label_value(value: &str) -> bool {
    value.is_empty() || qualified_name(value).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(yaml: &str) -> Vec<String> {
        check(&parse(yaml).unwrap()).iter().map(ToString::to_string).collect()
    }

    const DEPLOYMENT: &str = "
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27.3
        ports: [{containerPort: 8080}]
";

    #[test]
    fn a_valid_manifest_has_no_problem() {
        assert_eq!(problems(DEPLOYMENT), Vec::<String>::new());
        let service = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}\n";
        assert_eq!(problems(service), Vec::<String>::new());
    }

    #[test]
    fn each_mistake_is_named_with_its_path() {
        let cases: &[(&str, &str, &str)] = &[
            ("replicas: 3", "replcas: 3", "Deployment web: spec.replcas: unknown field"),
            (
                "        image: nginx:1.27.3",
                "        image: nginx:1.27.3\n        imagePullPolcy: Always",
                "Deployment web: spec.template.spec.containers[0].imagePullPolcy: unknown field",
            ),
            (
                "replicas: 3",
                "replicas: three",
                "Deployment web: spec.replicas: invalid type: string \"three\", expected i32",
            ),
            ("  selector: {matchLabels: {app: web}}\n", "", "Deployment web: spec.selector: Required value"),
            (
                "    metadata: {labels: {app: web}}",
                "    metadata: {labels: {app: api}}",
                "Deployment web: spec.template.metadata.labels: Invalid value: `selector` does not match template `labels`",
            ),
            (
                "name: web, labels",
                "name: Web_1, labels",
                "Deployment Web_1: metadata.name: Invalid value \"Web_1\": a lowercase RFC 1123 subdomain",
            ),
            (
                "        image: nginx:1.27.3\n",
                "",
                "Deployment web: spec.template.spec.containers[0].image: Required value",
            ),
            (
                "containerPort: 8080",
                "containerPort: 80800",
                "Deployment web: spec.template.spec.containers[0].ports[0].containerPort: Invalid value: 80800",
            ),
            (
                "apiVersion: apps/v1",
                "apiVersion: extensions/v1beta1",
                "Deployment web: apiVersion: Deployment is not served as extensions/v1beta1: use apiVersion: apps/v1",
            ),
        ];
        for (from, to, want) in cases {
            assert!(DEPLOYMENT.contains(from), "{from}");
            let got = problems(&DEPLOYMENT.replacen(from, to, 1));
            assert!(got.iter().any(|p| p.starts_with(want)), "{to:?}: want {want:?}, got {got:?}");
        }
    }

    #[test]
    fn custom_resources_are_left_to_the_server() {
        let docs =
            parse("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {anything: 1}\n").unwrap();
        assert!(check(&docs).is_empty());
        assert_eq!(unchecked(&docs), ["Widget w"]);
        let no_version = parse("kind: ConfigMap\nmetadata: {name: c}\n").unwrap_err();
        assert_eq!(no_version.to_string(), "line 1: object without apiVersion and kind");
    }
}
