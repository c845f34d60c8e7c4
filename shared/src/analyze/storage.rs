//! PersistentVolumeClaims, PersistentVolumes and StorageClasses.

use jiff::SignedDuration;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8s_openapi::api::storage::v1::StorageClass;

use super::{Analyzer, Context, Info, Problem, combine};
use crate::findings::{Finding, Severity};
use crate::snapshot::Kind;

const DEFAULT_ANNOTATIONS: [&str; 2] =
    ["storageclass.kubernetes.io/is-default-class", "storageclass.beta.kubernetes.io/is-default-class"];
/// A claim pending this long while its volume is being provisioned is reported.
const PENDING_FOR: SignedDuration = SignedDuration::from_mins(10);

pub(crate) fn is_default(sc: &StorageClass) -> bool {
    let annotations = sc.metadata.annotations.as_ref();
    DEFAULT_ANNOTATIONS.iter().any(|a| annotations.and_then(|m| m.get(*a)).is_some_and(|v| v == "true"))
}

pub(super) struct ClaimAnalyzer;

impl Analyzer for ClaimAnalyzer {
    fn info(&self) -> &'static Info {
        &Info {
            name: "PersistentVolumeClaim",
            description: "claims Pending (provisioning failed, missing StorageClass, no default class) or Lost",
            subject: Kind::PersistentVolumeClaim,
            evidence: &[Kind::StorageClass, Kind::Event],
            default_enabled: true,
        }
    }

    fn analyze(&self, cx: &Context<'_>, out: &mut Vec<Finding>) {
        for pvc in &cx.snapshot.objects.persistent_volume_claims {
            out.extend(combine("PersistentVolumeClaim", "PersistentVolumeClaim", &pvc.metadata, claim(cx, pvc)));
        }
    }
}

fn claim(cx: &Context<'_>, pvc: &PersistentVolumeClaim) -> Vec<Problem> {
    let ns = pvc.metadata.namespace.as_deref().unwrap_or("default");
    let name = pvc.metadata.name.as_deref().unwrap_or("");
    let phase = pvc.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
    let class = pvc.spec.as_ref().and_then(|s| s.storage_class_name.as_deref());
    match phase {
        "Lost" => {
            let volume = pvc.spec.as_ref().and_then(|s| s.volume_name.as_deref()).unwrap_or("(unknown)");
            vec![
                Problem::new(Severity::High, "Lost", format!("its PersistentVolume {volume} is gone"))
                    .hint(format!("Pods using {name} cannot start: restore the volume or recreate the claim (its data is lost with the volume).")),
            ]
        }
        "Pending" => {
            let mut problems = Vec::new();
            let failures = cx.warning_messages("PersistentVolumeClaim", &pvc.metadata, &["ProvisioningFailed"]);
            let classes_known = cx.snapshot.has(Kind::StorageClass);
            let sc = class.and_then(|c| cx.index.storage_classes.get(c));
            match class {
                Some(c) if !c.is_empty() && classes_known && sc.is_none() => problems.push(
                    Problem::new(Severity::High, "MissingStorageClass", format!("its StorageClass {c} does not exist"))
                        .messages(failures.clone())
                        .hint("Nothing can provision it: recreate the claim with an existing class (kubectl get storageclass) — storageClassName cannot be changed.".to_string()),
                ),
                None if classes_known && !cx.snapshot.objects.storage_classes.iter().any(is_default) => problems.push(
                    Problem::new(Severity::High, "NoDefaultStorageClass", "it names no StorageClass and the cluster has no default one")
                        .messages(failures.clone())
                        .hint("Set storageClassName on the claim, or mark a class default: kubectl annotate storageclass NAME storageclass.kubernetes.io/is-default-class=true"),
                ),
                _ => {}
            }
            if problems.is_empty() && !failures.is_empty() {
                problems.push(
                    Problem::new(Severity::High, "ProvisioningFailed", "its volume cannot be provisioned")
                        .messages(failures)
                        .hint(format!("The provisioner's words are above; kubectl describe pvc -n {ns} {name}")),
                );
            }
            // WaitForFirstConsumer claims stay Pending until a pod uses them: that is normal.
            let waits = sc.and_then(|s| s.volume_binding_mode.as_deref()) == Some("WaitForFirstConsumer");
            let age = pvc.metadata.creation_timestamp.as_ref().map(|t| cx.age(t.0));
            if problems.is_empty() && !waits && age.is_some_and(|a| a > PENDING_FOR) {
                problems.push(
                    Problem::new(Severity::Medium, "Pending", "it has been Pending for more than 10 minutes")
                        .messages(cx.warning_messages("PersistentVolumeClaim", &pvc.metadata, &[]))
                        .hint(format!(
                            "kubectl describe pvc -n {ns} {name} shows what the provisioner is waiting for."
                        )),
                );
            }
            problems
        }
        _ => Vec::new(),
    }
}

pub(super) struct VolumeAnalyzer;

impl Analyzer for VolumeAnalyzer {
    fn info(&self) -> &'static Info {
        &Info {
            name: "PersistentVolume",
            description: "volumes Failed, or Released and kept (their claim was deleted)",
            subject: Kind::PersistentVolume,
            evidence: &[],
            default_enabled: true,
        }
    }

    fn analyze(&self, cx: &Context<'_>, out: &mut Vec<Finding>) {
        for pv in &cx.snapshot.objects.persistent_volumes {
            let name = pv.metadata.name.as_deref().unwrap_or("");
            let status = pv.status.as_ref();
            let problem = match status.and_then(|s| s.phase.as_deref()) {
                Some("Failed") => Problem::new(Severity::High, "Failed", "the volume failed")
                    .messages(status.and_then(|s| s.message.clone()))
                    .hint(format!("Its reclamation failed: kubectl describe pv {name}; clean the storage up by hand and delete the volume.")),
                Some("Released") => {
                    let claim = pv
                        .spec
                        .as_ref()
                        .and_then(|s| s.claim_ref.as_ref())
                        .map(|c| format!("{}/{}", c.namespace.clone().unwrap_or_default(), c.name.clone().unwrap_or_default()))
                        .unwrap_or_default();
                    Problem::new(Severity::Low, "Released", format!("its claim {claim} was deleted; the volume keeps its data and cannot be bound again"))
                        .hint(format!("Reuse it after cleaning with kubectl patch pv {name} --type=json -p '[{{\"op\":\"remove\",\"path\":\"/spec/claimRef\"}}]', or delete it."))
                }
                _ => continue,
            };
            out.extend(combine("PersistentVolume", "PersistentVolume", &pv.metadata, vec![problem]));
        }
    }
}

pub(super) struct StorageClassAnalyzer;

impl Analyzer for StorageClassAnalyzer {
    fn info(&self) -> &'static Info {
        &Info {
            name: "StorageClass",
            description: "more than one default StorageClass",
            subject: Kind::StorageClass,
            evidence: &[],
            default_enabled: true,
        }
    }

    fn analyze(&self, cx: &Context<'_>, out: &mut Vec<Finding>) {
        let defaults: Vec<&StorageClass> =
            cx.snapshot.objects.storage_classes.iter().filter(|s| is_default(s)).collect();
        if defaults.len() < 2 {
            return;
        }
        let names: Vec<&str> = defaults.iter().filter_map(|s| s.metadata.name.as_deref()).collect();
        let problem = Problem::new(Severity::Medium, "SeveralDefaults", format!("several StorageClasses are the default: {}", names.join(", ")))
            .hint("Claims without a class get the newest default: keep the annotation storageclass.kubernetes.io/is-default-class=true on one class only.");
        out.extend(combine("StorageClass", "StorageClass", &defaults[0].metadata, vec![problem]));
    }
}

#[cfg(test)]
mod tests {
    use crate::analyze::testkit::{CLOCK, check, warning};

    #[test]
    fn claims() {
        let claim = |name: &str, class: &str, phase: &str| {
            format!(
                "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {{name: {name}, namespace: shop, creationTimestamp: '2026-05-01T11:00:00Z'}}\n\
                 spec: {{{class}accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 1Gi}}}}}}\nstatus: {{phase: {phase}}}\n---\n"
            )
        };
        let class = |name: &str, extra: &str| {
            format!(
                "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {{name: {name}{extra}}}\nprovisioner: p\n---\n"
            )
        };
        let default = class("standard", ", annotations: {storageclass.kubernetes.io/is-default-class: 'true'}");
        let lazy =
            class("local", "").replace("provisioner: p", "provisioner: p\nvolumeBindingMode: WaitForFirstConsumer");
        // The clock: the newest timestamp of the state.
        let clock = warning("shop", "Pod", "shop", "x", "Scheduled", "m").replace("type: Warning", "type: Normal");
        let cases: &[(&str, String, &[&str])] = &[
            (
                "a class that does not exist",
                claim("data", "storageClassName: fast, ", "Pending") + &default + &clock,
                &["high PersistentVolumeClaim shop/data MissingStorageClass … storageClassName cannot be changed"],
            ),
            (
                "no class named and no default",
                claim("data", "", "Pending") + &class("fast", "") + &clock,
                &["high PersistentVolumeClaim shop/data NoDefaultStorageClass … is-default-class=true"],
            ),
            (
                "the provisioner's refusal, quoted",
                claim("data", "", "Pending")
                    + &default
                    + &warning(
                        "shop",
                        "PersistentVolumeClaim",
                        "shop",
                        "data",
                        "ProvisioningFailed",
                        "rpc error: code = ResourceExhausted",
                    ),
                &["high PersistentVolumeClaim shop/data ProvisioningFailed … kubectl describe pvc -n shop data"],
            ),
            (
                "pending for an hour with nothing said",
                claim("data", "", "Pending") + &default + &clock,
                &["medium PersistentVolumeClaim shop/data Pending"],
            ),
            (
                "look-alike: waiting for its first consumer is normal",
                claim("data", "storageClassName: local, ", "Pending") + &lazy + &clock,
                &[],
            ),
            (
                "look-alike: a class-less claim bound statically",
                claim("data", "storageClassName: '', ", "Bound") + &clock,
                &[],
            ),
            (
                "lost",
                claim("data", "volumeName: pv-9, ", "Lost") + &clock,
                &["high PersistentVolumeClaim shop/data Lost … its data is lost"],
            ),
        ];
        assert!(clock.contains(CLOCK));
        check(cases);
    }
}
