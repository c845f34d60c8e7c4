//! Admission webhooks whose Service is missing or has no ready endpoint: with failurePolicy Fail,
//! every API request they match is rejected.

use k8s_openapi::api::admissionregistration::v1::WebhookClientConfig;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{Analyzer, Context, Info, Problem, combine};
use crate::findings::{Finding, Severity};
use crate::snapshot::Kind;

pub(super) struct ValidatingWebhookAnalyzer;
pub(super) struct MutatingWebhookAnalyzer;

impl Analyzer for ValidatingWebhookAnalyzer {
    fn info(&self) -> &'static Info {
        &Info {
            name: "ValidatingWebhook",
            description: "validating webhooks whose Service is missing or has no ready endpoint",
            subject: Kind::ValidatingWebhookConfiguration,
            evidence: &[Kind::Service, Kind::Endpoints],
            default_enabled: true,
        }
    }

    fn analyze(&self, cx: &Context<'_>, out: &mut Vec<Finding>) {
        for config in &cx.snapshot.objects.validating_webhooks {
            let hooks = config
                .webhooks
                .iter()
                .flatten()
                .map(|w| (w.name.as_str(), &w.client_config, w.failure_policy.as_deref()));
            out.extend(check(cx, self.name(), "ValidatingWebhookConfiguration", &config.metadata, hooks));
        }
    }
}

impl Analyzer for MutatingWebhookAnalyzer {
    fn info(&self) -> &'static Info {
        &Info {
            name: "MutatingWebhook",
            description: "mutating webhooks whose Service is missing or has no ready endpoint",
            subject: Kind::MutatingWebhookConfiguration,
            evidence: &[Kind::Service, Kind::Endpoints],
            default_enabled: true,
        }
    }

    fn analyze(&self, cx: &Context<'_>, out: &mut Vec<Finding>) {
        for config in &cx.snapshot.objects.mutating_webhooks {
            let hooks = config
                .webhooks
                .iter()
                .flatten()
                .map(|w| (w.name.as_str(), &w.client_config, w.failure_policy.as_deref()));
            out.extend(check(cx, self.name(), "MutatingWebhookConfiguration", &config.metadata, hooks));
        }
    }
}

fn check<'a>(
    cx: &Context<'_>,
    analyzer: &str,
    kind: &str,
    meta: &ObjectMeta,
    hooks: impl Iterator<Item = (&'a str, &'a WebhookClientConfig, Option<&'a str>)>,
) -> Option<Finding> {
    if !cx.snapshot.has(Kind::Service) {
        return None;
    }
    let mut problems = Vec::new();
    for (hook, client, policy) in hooks {
        let Some(svc) = &client.service else { continue };
        let (ns, name) = (svc.namespace.as_str(), svc.name.as_str());
        // The API server's default failurePolicy is Fail.
        let fails_closed = policy.unwrap_or("Fail") == "Fail";
        let consequence = if fails_closed {
            "with failurePolicy Fail, the API requests it matches are rejected"
        } else {
            "with failurePolicy Ignore, its checks are silently skipped"
        };
        let severity = if fails_closed { Severity::Critical } else { Severity::Medium };
        if !cx.index.services.contains_key(&(ns, name)) {
            problems.push(
                Problem::new(severity, "MissingService", format!("webhook {hook} calls Service {ns}/{name}, which does not exist: {consequence}"))
                    .hint(format!("Reinstall the component that serves {hook}, or delete the {kind} if it was uninstalled: kubectl delete {} {}.", kind.to_ascii_lowercase(), meta.name.as_deref().unwrap_or(""))),
            );
        } else if let Some(ep) = cx.snapshot.has(Kind::Endpoints).then(|| cx.index.endpoints.get(&(ns, name))).flatten()
        {
            let ready: usize = ep.subsets.iter().flatten().map(|s| s.addresses.as_ref().map_or(0, Vec::len)).sum();
            if ready == 0 {
                problems.push(
                    Problem::new(
                        severity,
                        "NoReadyEndpoints",
                        format!("webhook {hook} calls Service {ns}/{name}, which has no ready endpoint: {consequence}"),
                    )
                    .hint(format!("The webhook's pods are down: kubectl get pods -n {ns}; their findings say why.")),
                );
            }
        }
    }
    combine(analyzer, kind, meta, problems)
}
