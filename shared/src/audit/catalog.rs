//! The check catalog: ids, titles, default severities and remediations, as listed in
//! docs/audit.md (merged from PSA, Polaris, kube-score, kubesec, trivy KSV and CIS 5.x).

use crate::findings::Severity::{self, Critical, High, Info, Low, Medium};

/// One check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Check {
    /// Its id (`POD-001`).
    pub id: &'static str,
    /// What it checks, in a few words.
    pub title: &'static str,
    /// How bad a failure is.
    pub severity: Severity,
    /// A Pod Security Standards control (runs under `--level`).
    pub pss: bool,
    /// How to fix a failure.
    pub remediation: &'static str,
}

const fn c(id: &'static str, title: &'static str, severity: Severity, remediation: &'static str) -> Check {
    Check { id, title, severity, pss: false, remediation }
}

const fn pss(id: &'static str, title: &'static str, severity: Severity, remediation: &'static str) -> Check {
    Check { id, title, severity, pss: true, remediation }
}

/// Every check, in catalog order.
pub const CHECKS: &[Check] = &[
    pss(
        "POD-001",
        "Privileged container",
        Critical,
        "Remove securityContext.privileged or set it to false; grant only the capabilities the process needs.",
    ),
    pss(
        "POD-002",
        "Host network",
        High,
        "Remove spec.hostNetwork (or set it to false); expose the pod through a Service.",
    ),
    pss("POD-003", "Host PID", High, "Remove spec.hostPID (or set it to false)."),
    pss("POD-004", "Host IPC", High, "Remove spec.hostIPC (or set it to false)."),
    pss(
        "POD-005",
        "Capability beyond default set",
        High,
        "Add only capabilities of the default set (AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT).",
    ),
    pss(
        "POD-006",
        "Dangerous capability added",
        Critical,
        "Remove the capability from securityContext.capabilities.add; SYS_ADMIN and ALL amount to root on the node.",
    ),
    pss(
        "POD-007",
        "hostPath volume",
        High,
        "Replace the hostPath volume with a PersistentVolumeClaim, an emptyDir or a ConfigMap.",
    ),
    pss(
        "POD-008",
        "Sensitive host path mounted",
        Critical,
        "Do not mount host system paths or container runtime sockets: they give control of the node.",
    ),
    pss("POD-009", "hostPort used", Medium, "Remove ports[].hostPort; expose the container through a Service."),
    pss(
        "POD-010",
        "AppArmor disabled/overridden",
        Medium,
        "Use the runtime/default or a localhost/ AppArmor profile (securityContext.appArmorProfile.type: RuntimeDefault).",
    ),
    pss(
        "POD-011",
        "Custom SELinux options",
        Medium,
        "Remove seLinuxOptions.user and .role; use only the container_t, container_init_t, container_kvm_t or container_engine_t types.",
    ),
    pss("POD-012", "Non-default /proc mount", Medium, "Remove securityContext.procMount or set it to Default."),
    pss(
        "POD-013",
        "Seccomp explicitly Unconfined",
        Medium,
        "Set seccompProfile.type to RuntimeDefault (or Localhost) instead of Unconfined.",
    ),
    pss(
        "POD-014",
        "Unsafe sysctl",
        Medium,
        "Remove the sysctl, or set it on the node; pods may only set the namespaced safe sysctls.",
    ),
    pss("POD-015", "Windows HostProcess", High, "Remove windowsOptions.hostProcess (or set it to false)."),
    pss(
        "POD-016",
        "Probe/lifecycle targets another host",
        Low,
        "Remove the host field of the probe or lifecycle handler: it must target the pod itself.",
    ),
    pss(
        "POD-017",
        "Privilege escalation allowed",
        High,
        "Set securityContext.allowPrivilegeEscalation: false on every container.",
    ),
    pss(
        "POD-018",
        "May run as root (runAsNonRoot not true)",
        High,
        "Set securityContext.runAsNonRoot: true (pod level) and run as a non-zero UID.",
    ),
    pss("POD-019", "runAsUser 0", High, "Set runAsUser to a non-zero UID, or remove it and set runAsNonRoot: true."),
    pss(
        "POD-020",
        "Capabilities not dropped (drop ALL)",
        Medium,
        "Set securityContext.capabilities.drop: [ALL] on every container, then add back only NET_BIND_SERVICE if needed.",
    ),
    pss("POD-021", "Adds capability other than NET_BIND_SERVICE", Medium, "Add no capability except NET_BIND_SERVICE."),
    pss("POD-022", "Seccomp profile not set", Medium, "Set spec.securityContext.seccompProfile.type: RuntimeDefault."),
    pss(
        "POD-023",
        "Non-core volume type",
        Low,
        "Use only configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, projected or secret volumes.",
    ),
    c(
        "POD-024",
        "Writable root filesystem",
        Medium,
        "Set securityContext.readOnlyRootFilesystem: true; mount an emptyDir where the process must write.",
    ),
    c("POD-025", "Root group / GID 0", Low, "Set runAsGroup, fsGroup and supplementalGroups to non-zero GIDs."),
    c(
        "POD-026",
        "Low UID (<= 10000)",
        Low,
        "Run as a UID above 10000 (securityContext.runAsUser) so it cannot collide with host users.",
    ),
    c("POD-027", "Low GID (<= 10000)", Low, "Run as a GID above 10000 (securityContext.runAsGroup)."),
    c("POD-028", "No security context", Low, "Set a pod securityContext and a securityContext on every container."),
    c(
        "POD-029",
        "No Linux hardening at all",
        Medium,
        "Set at least one of: a seccomp profile, SELinux options, an AppArmor profile, dropped capabilities.",
    ),
    c(
        "POD-030",
        "SA token automounted",
        Medium,
        "Set automountServiceAccountToken: false on the pod (or its ServiceAccount) unless it calls the API.",
    ),
    c(
        "POD-031",
        "Default ServiceAccount used",
        Low,
        "Give the workload its own ServiceAccount (spec.serviceAccountName).",
    ),
    c("POD-032", "hostAliases set", Low, "Remove spec.hostAliases; use DNS."),
    c("POD-033", "Privileged port bound", Low, "Listen on a port of 1024 or above and map it with the Service's port."),
    c(
        "POD-034",
        "User namespace not enabled",
        Info,
        "Set spec.hostUsers: false where the runtime supports user namespaces.",
    ),
    c("RES-001", "CPU limit missing", Low, "Set resources.limits.cpu."),
    c("RES-002", "Memory limit missing", Medium, "Set resources.limits.memory."),
    c("RES-003", "CPU request missing", Low, "Set resources.requests.cpu."),
    c("RES-004", "Memory request missing", Low, "Set resources.requests.memory."),
    c(
        "IMG-001",
        "Image tag missing or `latest`",
        Medium,
        "Pin the image to a version tag or a digest (image: name:1.2.3 or name@sha256:…).",
    ),
    c("IMG-002", "imagePullPolicy not Always", Low, "Set imagePullPolicy: Always (or pin by digest)."),
    c("IMG-003", "Image from untrusted registry", Info, "Pull images only from the trusted registries."),
    c(
        "IMG-004",
        "Image has known vulnerabilities",
        High,
        "Update the image to a version with the fixed packages, then redeploy.",
    ),
    c(
        "SEC-001",
        "Sensitive literal env var",
        High,
        "Move the value into a Secret and reference it with env[].valueFrom.secretKeyRef.",
    ),
    c(
        "SEC-002",
        "Secret exposed via env",
        Low,
        "Mount the Secret as a file instead of exposing it in the environment.",
    ),
    c("SEC-003", "Secret-like data in ConfigMap", High, "Move the value into a Secret."),
    c("NS-001", "Workload in default namespace", Low, "Deploy into a dedicated namespace."),
    c("NS-002", "User workload in kube-system", Medium, "Deploy user workloads outside kube-system."),
    c(
        "NET-001",
        "Pod not covered by NetworkPolicy",
        Medium,
        "Add a NetworkPolicy that selects the pods, for ingress and egress.",
    ),
    c(
        "NET-002",
        "NodePort / LoadBalancer service",
        Low,
        "Use a ClusterIP Service behind an Ingress, unless the port must be exposed on every node.",
    ),
    c(
        "NET-003",
        "Service with externalIPs",
        High,
        "Remove spec.externalIPs (CVE-2020-8554); use a LoadBalancer or an Ingress.",
    ),
    c("NET-004", "Ingress without TLS", Medium, "Add spec.tls with a certificate Secret for the hosts."),
    c(
        "NET-005",
        "NetworkPolicy selects no pods",
        Medium,
        "Fix spec.podSelector so that it matches the pods it is meant for.",
    ),
    c(
        "RBAC-001",
        "Full wildcard rule",
        Critical,
        "Replace the wildcards with the API groups, resources and verbs that are needed.",
    ),
    c("RBAC-002", "Wildcard verb on sensitive resource", High, "List the verbs that are needed instead of '*'."),
    c("RBAC-003", "Wildcard resource", High, "List the resources that are needed instead of '*'."),
    c(
        "RBAC-004",
        "Binding to cluster-admin or an admin-like role",
        High,
        "Bind a role with only the permissions needed instead of cluster-admin or its equivalent.",
    ),
    c(
        "RBAC-005",
        "Secrets access",
        High,
        "Grant access to the named Secrets that are needed (resourceNames), or none.",
    ),
    c(
        "RBAC-006",
        "Pod exec/attach",
        High,
        "Remove pods/exec and pods/attach, or grant them to a few named people only.",
    ),
    c("RBAC-007", "RBAC escalation verbs", Critical, "Remove escalate, bind and impersonate."),
    c(
        "RBAC-008",
        "Can create workloads/pods",
        Medium,
        "Grant create/update/patch on workloads only to deployment tooling.",
    ),
    c(
        "RBAC-009",
        "Binding grants to anonymous/unauthenticated/all-authenticated",
        Critical,
        "Remove system:anonymous, system:unauthenticated and system:authenticated from the subjects.",
    ),
    c("RBAC-010", "Binding to system:masters", Critical, "Remove the system:masters group from the subjects."),
    c("RBAC-011", "nodes/proxy access", High, "Remove nodes/proxy: it reaches the kubelet API of every node."),
    c(
        "RBAC-012",
        "Webhook configuration control",
        Critical,
        "Remove write access to admission webhook configurations.",
    ),
    c("API-001", "Deprecated apiVersion", Low, "Move the object to the current apiVersion."),
];

/// The check with this id.
pub fn check(id: &str) -> Option<&'static Check> {
    CHECKS.iter().find(|c| c.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_ordered_by_family() {
        let ids: std::collections::BTreeSet<_> = CHECKS.iter().map(|c| c.id).collect();
        assert_eq!(ids.len(), CHECKS.len());
        assert!(CHECKS.iter().filter(|c| c.pss).all(|c| c.id.starts_with("POD-0") && c.id <= "POD-023"));
        assert_eq!(CHECKS.iter().filter(|c| c.pss).count(), 23);
    }
}
