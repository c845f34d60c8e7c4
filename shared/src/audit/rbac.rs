//! RBAC checks: what Roles and ClusterRoles grant (RBAC-001…003, 005…008, 011, 012), and what
//! bindings give to whom (RBAC-004, 006 through the bound role, 009, 010).
//!
//! Kubernetes' own bootstrap roles and bindings (`system:` names, the `rbac-defaults` label,
//! cluster-admin/admin/edit/view) are not reported: what matters is who they are bound to.

use serde_json::Value;

use super::{All, Emit, Hit, namespace_of};
use crate::findings::Severity;

pub(crate) fn check(v: &Value, all: &All<'_>, emit: &mut Emit<'_>) {
    match v["kind"].as_str().unwrap_or("") {
        kind @ ("Role" | "ClusterRole") if !builtin_role(v) => role(v, kind == "ClusterRole", emit),
        kind @ ("RoleBinding" | "ClusterRoleBinding") if !builtin_binding(v) => binding(v, kind, all, emit),
        _ => {}
    }
}

fn name(v: &Value) -> &str {
    v["metadata"]["name"].as_str().unwrap_or("")
}

fn bootstrap(v: &Value) -> bool {
    let n = name(v);
    n.starts_with("system:")
        || n.starts_with("gce:podsecuritypolicy:")
        || v["metadata"]["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults"
}

fn builtin_role(v: &Value) -> bool {
    bootstrap(v) || (v["kind"] == "ClusterRole" && matches!(name(v), "cluster-admin" | "admin" | "edit" | "view"))
}

fn builtin_binding(v: &Value) -> bool {
    bootstrap(v) || (v["kind"] == "ClusterRoleBinding" && name(v) == "cluster-admin")
}

/// One rule's lists.
struct Rule<'a> {
    groups: Vec<&'a str>,
    resources: Vec<&'a str>,
    verbs: Vec<&'a str>,
    index: usize,
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array().into_iter().flatten().filter_map(Value::as_str).collect()
}

fn rules(role: &Value) -> Vec<Rule<'_>> {
    role["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(index, r)| Rule {
            groups: strings(&r["apiGroups"]),
            resources: strings(&r["resources"]),
            verbs: strings(&r["verbs"]),
            index,
        })
        .collect()
}

impl Rule<'_> {
    fn any_verb(&self, verbs: &[&str]) -> bool {
        self.verbs.iter().any(|v| *v == "*" || verbs.contains(v))
    }

    fn any_resource(&self, resources: &[&str]) -> bool {
        self.resources.iter().any(|r| *r == "*" || resources.contains(r))
    }

    fn core(&self) -> bool {
        self.groups.iter().any(|g| g.is_empty() || *g == "*")
    }

    fn wildcard_all(&self) -> bool {
        self.groups.contains(&"*") && self.resources.contains(&"*") && self.verbs.contains(&"*")
    }

    /// Polaris's cluster-admin: wildcard groups and resources, and every verb (`*` or all seven).
    fn admin_like(&self) -> bool {
        const ALL: &[&str] = &["get", "list", "watch", "create", "update", "patch", "delete"];
        self.groups.contains(&"*")
            && self.resources.contains(&"*")
            && (self.verbs.contains(&"*") || ALL.iter().all(|v| self.verbs.contains(v)))
    }

    /// `pods/exec` or `pods/attach` with a verb that opens one (Polaris: create or get).
    fn exec_attach(&self) -> bool {
        self.core() && self.any_resource(&["pods/exec", "pods/attach"]) && self.any_verb(&["create", "get"])
    }
}

const SENSITIVE: &[&str] = &[
    "secrets",
    "pods",
    "deployments",
    "daemonsets",
    "statefulsets",
    "replicasets",
    "replicationcontrollers",
    "jobs",
    "cronjobs",
    "roles",
    "clusterroles",
    "rolebindings",
    "clusterrolebindings",
    "users",
    "groups",
];
const WORKLOADS: &[&str] = &["pods", "deployments", "daemonsets", "statefulsets", "replicasets", "jobs", "cronjobs"];
const RBAC_OBJECTS: &[&str] = &["roles", "clusterroles", "rolebindings", "clusterrolebindings"];

fn role(v: &Value, cluster: bool, emit: &mut Emit<'_>) {
    let kind = if cluster { "ClusterRole" } else { "Role" };
    for rule in rules(v) {
        let at = format!("rules[{}]", rule.index);
        if emit.runs("RBAC-001") && rule.wildcard_all() {
            emit.report(
                "RBAC-001",
                Hit::new(
                    &at,
                    format!("the {kind} grants every verb on every resource"),
                    &["ksv:KSV-0044", "cis:5.1.3"],
                ),
            );
        }
        if emit.runs("RBAC-002") && rule.verbs.contains(&"*") {
            let hit: Vec<&str> = rule.resources.iter().copied().filter(|r| SENSITIVE.contains(r)).collect();
            if !hit.is_empty() {
                let message = format!("every verb on {}", hit.join(", "));
                emit.report("RBAC-002", Hit::new(format!("{at}.verbs"), message, &["ksv:KSV-0045", "cis:5.1.3"]));
            }
        }
        let read_write = ["get", "list", "create", "update", "delete", "deletecollection", "impersonate"];
        if emit.runs("RBAC-003") && rule.resources.contains(&"*") && rule.any_verb(&read_write) {
            let ksv = if cluster { "ksv:KSV-0046" } else { "ksv:KSV-0112" };
            emit.report(
                "RBAC-003",
                Hit::new(format!("{at}.resources"), "access to every resource ('*')", &[ksv, "cis:5.1.3"]),
            );
        }
        let secret_verbs =
            ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "impersonate"];
        if emit.runs("RBAC-005") && rule.core() && rule.any_resource(&["secrets"]) && rule.any_verb(&secret_verbs) {
            let (severity, ksv) =
                if cluster { (Severity::High, "ksv:KSV-0041") } else { (Severity::Medium, "ksv:KSV-0113") };
            let verbs = rule.verbs.join(", ");
            let message = format!("{verbs} on Secrets{}", if cluster { " in every namespace" } else { "" });
            emit.report(
                "RBAC-005",
                Hit::new(format!("{at}.resources"), message, &[ksv, "cis:5.1.2"]).severity(severity),
            );
        }
        let exec_verbs = ["create", "update", "patch", "delete", "deletecollection", "impersonate"];
        let polaris_exec = rule.exec_attach();
        let ksv_exec = rule.core() && rule.any_resource(&["pods/exec", "pods/attach"]) && rule.any_verb(&exec_verbs);
        if emit.runs("RBAC-006") && (polaris_exec || ksv_exec) {
            let mut refs = vec![];
            if polaris_exec {
                refs.push(if cluster { "polaris:clusterrolePodExecAttach" } else { "polaris:rolePodExecAttach" });
            }
            if ksv_exec {
                refs.push("ksv:KSV-0053");
            }
            emit.report("RBAC-006", Hit::new(format!("{at}.resources"), "can exec into or attach to pods", &refs));
        }
        let escalation = rule.any_resource(RBAC_OBJECTS) && rule.any_verb(&["escalate", "bind", "impersonate"]);
        let impersonate = rule.any_resource(&["users", "groups", "serviceaccounts"]) && rule.any_verb(&["impersonate"]);
        if emit.runs("RBAC-007") && (escalation || impersonate) {
            let mut refs = vec![];
            if escalation {
                refs.push("ksv:KSV-0050");
            }
            if impersonate {
                refs.push("ksv:KSV-0043");
            }
            refs.push("cis:5.1.8");
            let message = if impersonate {
                "can impersonate users, groups or ServiceAccounts"
            } else {
                "can escalate or bind RBAC roles"
            };
            emit.report("RBAC-007", Hit::new(format!("{at}.verbs"), message, &refs));
        }
        if emit.runs("RBAC-008") && rule.any_resource(WORKLOADS) && rule.any_verb(&["create", "update", "patch"]) {
            emit.report(
                "RBAC-008",
                Hit::new(&at, "can create or change pods and workloads", &["ksv:KSV-0048", "cis:5.1.4"]),
            );
        }
        if emit.runs("RBAC-011") && rule.any_resource(&["nodes/proxy"]) && rule.any_verb(&["get", "create"]) {
            emit.report(
                "RBAC-011",
                Hit::new(
                    format!("{at}.resources"),
                    "can reach every kubelet through nodes/proxy",
                    &["ksv:KSV-0047", "cis:5.1.10"],
                ),
            );
        }
        let webhooks = ["mutatingwebhookconfigurations", "validatingwebhookconfigurations"];
        if cluster
            && emit.runs("RBAC-012")
            && rule.any_resource(&webhooks)
            && rule.any_verb(&["create", "update", "patch", "delete"])
        {
            emit.report("RBAC-012", Hit::new(&at, "can change admission webhooks", &["ksv:KSV-0114", "cis:5.1.12"]));
        }
    }
}

fn binding(v: &Value, kind: &str, all: &All<'_>, emit: &mut Emit<'_>) {
    let role_ref = &v["roleRef"];
    let (role_kind, role_name) = (role_ref["kind"].as_str().unwrap_or(""), role_ref["name"].as_str().unwrap_or(""));
    let ns = (kind == "RoleBinding").then(|| namespace_of(v));
    let role = match role_kind {
        "ClusterRole" => all.find("ClusterRole", None, role_name),
        _ => all.find("Role", ns, role_name),
    };
    let polaris_admin = match (kind, role_kind) {
        ("ClusterRoleBinding", _) => "polaris:clusterrolebindingClusterAdmin",
        (_, "ClusterRole") => "polaris:rolebindingClusterAdminClusterRole",
        _ => "polaris:rolebindingClusterAdminRole",
    };
    let polaris_exec = match (kind, role_kind) {
        ("ClusterRoleBinding", _) => "polaris:clusterrolebindingPodExecAttach",
        (_, "ClusterRole") => "polaris:rolebindingClusterRolePodExecAttach",
        _ => "polaris:rolebindingRolePodExecAttach",
    };
    let admin = (role_kind == "ClusterRole" && role_name == "cluster-admin")
        || role.is_some_and(|r| rules(r).iter().any(Rule::admin_like));
    if emit.runs("RBAC-004") {
        if admin {
            let message = format!("binds {role_kind} {role_name}, which can do everything");
            emit.report("RBAC-004", Hit::new("roleRef", message, &[polaris_admin, "ksv:KSV-0111", "cis:5.1.1"]));
        } else if role_kind == "ClusterRole" && matches!(role_name, "admin" | "edit") {
            let message = format!("binds ClusterRole {role_name}");
            emit.report("RBAC-004", Hit::new("roleRef", message, &["ksv:KSV-0111"]).severity(Severity::Medium));
        }
    }
    if emit.runs("RBAC-006") {
        // A role missing from what was read cannot be vouched for (Polaris reports it too).
        let exec = match role {
            Some(r) => rules(r).iter().any(Rule::exec_attach),
            None => !(role_kind == "ClusterRole" && matches!(role_name, "view")),
        };
        if exec {
            let message = match role {
                Some(_) => format!("binds {role_kind} {role_name}, which can exec into or attach to pods"),
                None => format!("binds {role_kind} {role_name}, which was not found: it may allow exec and attach"),
            };
            emit.report("RBAC-006", Hit::new("roleRef", message, &[polaris_exec]));
        }
    }
    for (i, s) in v["subjects"].as_array().into_iter().flatten().enumerate() {
        let subject = s["name"].as_str().unwrap_or("");
        let at = format!("subjects[{i}]");
        if emit.runs("RBAC-009")
            && matches!(subject, "system:anonymous" | "system:unauthenticated" | "system:authenticated")
        {
            let mut refs = vec!["ksv:KSV-0122"];
            if subject != "system:authenticated" {
                refs.extend(["kubesec:BindingsToSystemAnonymous", "ksv:KSV-01011"]);
            }
            emit.report("RBAC-009", Hit::new(&at, format!("grants {role_kind} {role_name} to {subject}"), &refs));
        }
        if emit.runs("RBAC-010") && s["kind"] == "Group" && subject == "system:masters" {
            emit.report(
                "RBAC-010",
                Hit::new(&at, "grants to the system:masters group", &["ksv:KSV-0123", "cis:5.1.7"]),
            );
        }
    }
}
