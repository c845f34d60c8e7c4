//! Jobs and CronJobs.
//!
//! A failed Job is reported only when it is its CronJob's latest run (an older failure the CronJob
//! has since recovered from is history). Failed pods of a failed Job are its cause: the Job's words
//! are added to them.

use k8s_openapi::api::batch::v1::Job;

use super::{Analyzer, Context, Info, Problem, combine, condition_is};
use crate::findings::{Finding, Severity};
use crate::snapshot::Kind;

pub(super) struct JobAnalyzer;

impl Analyzer for JobAnalyzer {
    fn info(&self) -> &'static Info {
        &Info {
            name: "Job",
            description: "Jobs that failed (backoff limit, deadline) or are suspended; the latest run of a CronJob",
            subject: Kind::Job,
            evidence: &[Kind::CronJob, Kind::Event, Kind::Pod],
            default_enabled: true,
        }
    }

    fn analyze(&self, cx: &Context<'_>, out: &mut Vec<Finding>) {
        for job in &cx.snapshot.objects.jobs {
            out.extend(job_finding(cx, job));
        }
    }
}

fn job_finding(cx: &Context<'_>, job: &Job) -> Option<Finding> {
    let owners = cx.index.owner_chain(&job.metadata);
    if !cx.index.is_latest_run(job) {
        return None;
    }
    let name = job.metadata.name.as_deref().unwrap_or("");
    let ns = job.metadata.namespace.as_deref().unwrap_or("default");
    let status = job.status.as_ref();
    let failed = condition_is(status.and_then(|s| s.conditions.as_ref()), "Failed", "True");
    let problem = if let Some(c) = failed {
        let reason = c.reason.clone().unwrap_or_else(|| "Failed".into());
        let mut messages: Vec<String> = c.message.iter().cloned().collect();
        messages.extend(cx.warning_messages("Job", &job.metadata, &[reason.as_str()]));
        let hint = match reason.as_str() {
            "DeadlineExceeded" => {
                let deadline = job.spec.as_ref().and_then(|s| s.active_deadline_seconds).unwrap_or_default();
                format!(
                    "It ran past activeDeadlineSeconds ({deadline}s): raise the deadline or make the work faster; kubectl logs -n {ns} job/{name}"
                )
            }
            _ => {
                let failures = status.and_then(|s| s.failed).unwrap_or_default();
                format!(
                    "Its pods failed {failures} time(s) and it gave up: their output says why: kubectl logs -n {ns} job/{name}"
                )
            }
        };
        let summary = match owners.first() {
            Some(cron) if cron.reference.kind == "CronJob" => {
                format!("the latest run of CronJob {} failed: {reason}", cron.reference.name)
            }
            _ => format!("the Job failed: {reason}"),
        };
        Problem::new(Severity::High, reason, summary).messages(messages).hint(hint)
    } else if job.spec.as_ref().and_then(|s| s.suspend) == Some(true)
        && status.and_then(|s| s.completion_time.as_ref()).is_none()
    {
        Problem::new(Severity::Low, "Suspended", "the Job is suspended: it starts no pods").hint(format!(
            "Resume it with kubectl patch job {name} -n {ns} --type=merge -p '{{\"spec\":{{\"suspend\":false}}}}'."
        ))
    } else {
        return None;
    };
    let finding = combine("Job", "Job", &job.metadata, vec![problem])?
        .owned_by(owners.into_iter().map(|l| l.reference).collect());
    // A failed Job is explained by its failed pods when they were kept; suspension has no such cause.
    Some(if failed.is_some() { finding.symptom() } else { finding })
}

pub(super) struct CronJobAnalyzer;

impl Analyzer for CronJobAnalyzer {
    fn info(&self) -> &'static Info {
        &Info {
            name: "CronJob",
            description: "CronJobs that are suspended, have an invalid schedule or a negative starting deadline",
            subject: Kind::CronJob,
            evidence: &[],
            default_enabled: true,
        }
    }

    fn analyze(&self, cx: &Context<'_>, out: &mut Vec<Finding>) {
        for cron in &cx.snapshot.objects.cron_jobs {
            let Some(spec) = &cron.spec else { continue };
            let name = cron.metadata.name.as_deref().unwrap_or("");
            let ns = cron.metadata.namespace.as_deref().unwrap_or("default");
            let mut problems = Vec::new();
            if let Err(why) = validate_schedule(&spec.schedule) {
                problems.push(
                    Problem::new(Severity::High, "InvalidSchedule", format!("its schedule {:?} is invalid: {why}", spec.schedule))
                        .hint("No Job is ever created: use five fields (minute hour day-of-month month day-of-week) or a macro like @hourly; put the time zone in spec.timeZone."),
                );
            }
            if let Some(deadline) = spec.starting_deadline_seconds.filter(|d| *d < 0) {
                problems.push(
                    Problem::new(
                        Severity::High,
                        "InvalidStartingDeadline",
                        format!("startingDeadlineSeconds is negative ({deadline})"),
                    )
                    .hint("Every run counts as missed: remove startingDeadlineSeconds or make it positive."),
                );
            }
            if spec.suspend == Some(true) {
                problems.push(
                    Problem::new(Severity::Low, "Suspended", "the CronJob is suspended: it creates no Jobs")
                        .hint(format!("Resume it with kubectl patch cronjob {name} -n {ns} --type=merge -p '{{\"spec\":{{\"suspend\":false}}}}'.")),
                );
            }
            out.extend(combine("CronJob", "CronJob", &cron.metadata, problems));
        }
    }
}

/// Validates a schedule as the CronJob controller parses it (standard cron: five fields, names for
/// months and days of week, `?` in the day fields, or a descriptor like `@hourly` or `@every 5m`).
pub(crate) fn validate_schedule(schedule: &str) -> Result<(), String> {
    let s = schedule.trim();
    if s.starts_with("TZ=") || s.starts_with("CRON_TZ=") {
        return Err("time zones in the schedule are not supported; use spec.timeZone".into());
    }
    if let Some(descriptor) = s.strip_prefix('@') {
        return match descriptor {
            "yearly" | "annually" | "monthly" | "weekly" | "daily" | "midnight" | "hourly" => Ok(()),
            d if d.starts_with("every ") => crate::duration::parse_duration(&d[6..]).map(|_| ()),
            other => Err(format!("unknown descriptor @{other}")),
        };
    }
    let fields: Vec<&str> = s.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!("expected 5 fields, found {}", fields.len()));
    }
    const MONTHS: &[&str] = &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    const DAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    let specs: [(&str, u32, u32, &[&str], u32); 5] = [
        ("minute", 0, 59, &[], 0),
        ("hour", 0, 23, &[], 0),
        ("day of month", 1, 31, &[], 0),
        ("month", 1, 12, MONTHS, 1),
        ("day of week", 0, 6, DAYS, 0),
    ];
    for (field, (what, min, max, names, name_base)) in fields.iter().zip(specs) {
        let day_field = what.starts_with("day");
        for part in field.split(',') {
            validate_part(part, min, max, names, name_base, day_field)
                .map_err(|e| format!("{what} field {field:?}: {e}"))?;
        }
    }
    Ok(())
}

fn validate_part(
    part: &str,
    min: u32,
    max: u32,
    names: &[&str],
    name_base: u32,
    day_field: bool,
) -> Result<(), String> {
    let value = |v: &str| -> Result<u32, String> {
        if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(v)) {
            return Ok(i as u32 + name_base);
        }
        let n: u32 = v.parse().map_err(|_| format!("{v:?} is not a number"))?;
        // Sunday may be written 7.
        let top = if day_field && max == 6 { 7 } else { max };
        if n < min || n > top {
            return Err(format!("{n} is out of range {min}-{max}"));
        }
        Ok(n)
    };
    let range = match part.split_once('/') {
        Some((r, s)) => {
            let step: u32 = s.parse().map_err(|_| format!("step {s:?} is not a number"))?;
            if step == 0 {
                return Err("step 0".into());
            }
            r
        }
        None => part,
    };
    match range {
        "*" => Ok(()),
        "?" if day_field => Ok(()),
        "" => Err("empty value".into()),
        r => match r.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (value(a)?, value(b)?);
                if a > b { Err(format!("range {a}-{b} runs backwards")) } else { Ok(()) }
            }
            None => {
                value(r)?;
                Ok(())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::validate_schedule;

    #[test]
    fn schedules() {
        for ok in [
            "*/5 * * * *",
            "0 3 * * 1-5",
            "15 2 1,15 * *",
            "0 0 * JAN-MAR SUN",
            "0 0 ? * MON",
            "@hourly",
            "@every 1h30m",
            "0 0 * * 7",
            "30 8 * * mon-fri",
        ] {
            assert_eq!(validate_schedule(ok), Ok(()), "{ok}");
        }
        for bad in [
            "* * * *",
            "60 * * * *",
            "0 24 * * *",
            "0 0 0 * *",
            "0 0 * 13 *",
            "*/0 * * * *",
            "5-1 * * * *",
            "@sometimes",
            "TZ=UTC 0 * * * *",
            "0 0 ? * * *",
            "x * * * *",
        ] {
            assert!(validate_schedule(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn failed_jobs_carry_the_controllers_reason() {
        use crate::analyze::testkit::check;
        let job = |name: &str, created: &str, reason: &str, owner: &str| {
            let condition = match reason {
                "" => "type: Complete, status: 'True'".to_string(),
                r => format!("type: Failed, status: 'True', reason: {r}, message: 'm {r}'"),
            };
            format!(
                "apiVersion: batch/v1\nkind: Job\nmetadata: {{name: {name}, namespace: ops, uid: {name}, creationTimestamp: '{created}'{owner}}}\n\
                 spec: {{backoffLimit: 6, activeDeadlineSeconds: 600, template: {{spec: {{restartPolicy: Never, containers: [{{name: c, image: i}}]}}}}}}\n\
                 status: {{failed: 7, conditions: [{{{condition}, lastTransitionTime: '2026-05-01T12:00:00Z'}}]}}\n---\n"
            )
        };
        let cron = "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: nightly, namespace: ops, uid: cron}\n\
                    spec: {schedule: '0 3 * * *', jobTemplate: {spec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: i}]}}}}}\n---\n";
        let owned =
            ", ownerReferences: [{apiVersion: batch/v1, kind: CronJob, name: nightly, uid: cron, controller: true}]";
        let cases: &[(&str, String, &[&str])] = &[
            (
                "out of retries: the reason users search for, and the pods' output",
                job("import", "2026-05-01T11:00:00Z", "BackoffLimitExceeded", ""),
                &["high Job ops/import BackoffLimitExceeded … failed 7 time(s) and it gave up"],
            ),
            (
                "past its deadline: the deadline, not the pods' output alone",
                job("export", "2026-05-01T11:00:00Z", "DeadlineExceeded", ""),
                &["high Job ops/export DeadlineExceeded … activeDeadlineSeconds (600s)"],
            ),
            (
                "the latest run of a CronJob failed",
                cron.to_string()
                    + &job("nightly-1", "2026-04-30T03:00:00Z", "", owned)
                    + &job("nightly-2", "2026-05-01T03:00:00Z", "BackoffLimitExceeded", owned),
                &["high Job ops/nightly-2 BackoffLimitExceeded"],
            ),
            (
                "look-alike: an earlier run failed, the latest succeeded",
                cron.to_string()
                    + &job("nightly-1", "2026-04-30T03:00:00Z", "BackoffLimitExceeded", owned)
                    + &job("nightly-2", "2026-05-01T03:00:00Z", "", owned),
                &[],
            ),
        ];
        check(cases);
    }
}
