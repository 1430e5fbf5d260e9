//! What export and import jobs share: monotonic ids, creation, queueing, failing, the end-of-job
//! notification and the Integrations Manager's task-run record.

use chrono::{DateTime, NaiveDate, Utc};
use ledgerlink_domain::{Flow, ObjectKey, TenantId};
use ledgerlink_ports::{
    Job, JobKind, JobStatus, Notification, NotificationKind, PageRequest, StoreError, TaskRun,
    TaskRunState, WorkAction, WorkMessage,
};
use serde::{Deserialize, Serialize};

use crate::{JobError, JobResult, JobsContext};

/// Digits of a stored job id (`0000033392`); text order is number order.
pub const ID_WIDTH: usize = 10;
/// Attempts at taking the next id when other jobs are created at the same moment.
const ID_ATTEMPTS: usize = 20;

/// The stored form of job number `n`.
pub fn format_id(n: u64) -> String {
    format!("{n:0w$}", w = ID_WIDTH)
}

/// The id a user sees (`33392`): the stored id without its leading zeros.
pub fn display_id(id: &str) -> String {
    match id.parse::<u64>() {
        Ok(n) => n.to_string(),
        Err(_) => id.to_owned(),
    }
}

/// The stored id of a user-typed one (`33392` → `0000033392`); other ids are kept as they are.
pub fn stored_id(id: &str) -> String {
    match id.parse::<u64>() {
        Ok(n) => format_id(n),
        Err(_) => id.to_owned(),
    }
}

/// "<name> export initiated on 2021-01-11" / "<name> import initiated on ..." — without saying "export"
/// twice when the name already says it ("Invoice export (Expanded)" → "Invoice export (Expanded)
/// initiated on ...", as in seed 003's history).
pub fn description(name: &str, kind: JobKind, date: NaiveDate) -> String {
    let what = match kind {
        JobKind::Export => "export",
        JobKind::Import => "import",
    };
    let name = name.trim();
    let names_it = name
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| w.eq_ignore_ascii_case(what) || w.eq_ignore_ascii_case(&format!("{what}s")));
    let date = date.format("%Y-%m-%d");
    if names_it {
        format!("{name} initiated on {date}")
    } else {
        format!("{name} {what} initiated on {date}")
    }
}

/// The task of an integration a job runs for, kept in the job's `details.integration`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrationTask {
    pub integration_id: String,
    pub period: u32,
    /// `export:<definition id>` or `import:<template>`.
    pub task: String,
}

impl IntegrationTask {
    pub fn of(job: &Job) -> Option<Self> {
        serde_json::from_value(job.details.get("integration")?.clone()).ok()
    }
}

/// The highest job number the tenant has used (0 when none).
async fn latest_number(ctx: &JobsContext, tenant: &TenantId) -> JobResult<u64> {
    let mut latest = 0;
    for kind in [JobKind::Export, JobKind::Import] {
        let page = ctx
            .stores
            .jobs
            .list(tenant, kind, PageRequest::first(1))
            .await?;
        if let Some(n) = page.items.first().and_then(|j| j.id.parse::<u64>().ok()) {
            latest = latest.max(n);
        }
    }
    Ok(latest)
}

/// Creates `job` under the tenant's next number. The store refuses an id that exists, so two creators
/// racing for a number end up with distinct ones: the loser tries the following number (which also copes
/// with a list that lags behind the latest writes).
pub(crate) async fn create(ctx: &JobsContext, mut job: Job) -> JobResult<Job> {
    let mut next = latest_number(ctx, &job.tenant).await? + 1;
    let mut last = None;
    for _ in 0..ID_ATTEMPTS {
        job.id = format_id(next);
        match ctx.stores.jobs.create(&job).await {
            Ok(created) => return Ok(created),
            Err(e @ StoreError::Conflict { .. }) => {
                last = Some(e);
                next += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(last
        .map(JobError::from)
        .unwrap_or_else(|| JobError::invalid("job id", "no free id")))
}

/// A new started job of `kind` (id assigned by [`create`]).
pub(crate) fn new_job(
    ctx: &JobsContext,
    tenant: &TenantId,
    kind: JobKind,
    definition: &str,
    name: &str,
    user: &str,
    details: serde_json::Value,
) -> Job {
    let now = ctx.clock.now();
    Job {
        tenant: tenant.clone(),
        id: String::new(),
        kind,
        description: description(name, kind, now.date_naive()),
        created_by: user.to_owned(),
        definition: definition.to_owned(),
        status: JobStatus::Started,
        processed: 0,
        total: None,
        started_at: now,
        finished_at: None,
        failed_at: None,
        fail_reason: None,
        file_key: None,
        lease_expires_at: Some(now + chrono_duration(ctx.settings.pickup)),
        attempt: 1,
        original_id: None,
        details,
        version: 0,
    }
}

pub(crate) fn chrono_duration(d: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// Queues the job for its worker (the `export-job` / `import-job` queue).
pub(crate) async fn enqueue(ctx: &JobsContext, job: &Job) -> JobResult<()> {
    let flow = match job.kind {
        JobKind::Export => Flow::ExportJob,
        JobKind::Import => Flow::ImportJob,
    };
    let key = ObjectKey::parse(&job.id).map_err(|e| JobError::invalid("job id", e.to_string()))?;
    let message = WorkMessage {
        tenant: job.tenant.clone(),
        object_type: None,
        key: Some(key),
        action: WorkAction::Sync,
        trace_id: format!("{}-{}", job.tenant, job.id),
    };
    ctx.queue.send(flow, &[message]).await?;
    Ok(())
}

/// The job a queued message names.
pub fn job_of_message(message: &WorkMessage) -> JobResult<(TenantId, String)> {
    let key = message
        .key
        .as_ref()
        .ok_or_else(|| JobError::invalid("message", "names no job id"))?;
    Ok((message.tenant.clone(), key.as_str().to_owned()))
}

pub(crate) async fn load(ctx: &JobsContext, tenant: &TenantId, id: &str) -> JobResult<Job> {
    let id = stored_id(id);
    ctx.stores
        .jobs
        .get(tenant, &id)
        .await?
        .ok_or_else(|| JobError::not_found(format!("job {}", display_id(&id))))
}

/// Moves a started job to failed with `reason` from the version read. `Ok(None)` when the job changed
/// meanwhile (someone else decided first).
pub(crate) async fn fail(
    ctx: &JobsContext,
    job: &Job,
    reason: &str,
    at: DateTime<Utc>,
) -> JobResult<Option<Job>> {
    let mut failed = job.clone();
    failed.status = JobStatus::Failed;
    failed.failed_at = Some(at);
    failed.fail_reason = Some(reason.to_owned());
    failed.lease_expires_at = None;
    match ctx.stores.jobs.put(&failed, job.version).await {
        Ok(saved) => Ok(Some(saved)),
        Err(StoreError::Conflict { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// What follows the end of a job: the notification to the user who started it and, for a job run from
/// an integration, the task's state in its period.
pub(crate) async fn ended(ctx: &JobsContext, job: &Job, summary: &str) -> JobResult<()> {
    let failed = job.status == JobStatus::Failed;
    let (kind, state) = match (job.kind, failed) {
        (JobKind::Export, false) => (NotificationKind::ExportFinished, "finished"),
        (JobKind::Export, true) => (NotificationKind::ExportFailed, "failed"),
        (JobKind::Import, false) => (NotificationKind::ImportFinished, "finished"),
        (JobKind::Import, true) => (NotificationKind::ImportFinished, "failed"),
    };
    let id = display_id(&job.id);
    let mut body = format!("{} ({}) {state}. {summary}", job.description, id);
    if let Some(reason) = job.fail_reason.as_deref().filter(|_| failed) {
        body.push_str(&format!(" Reason: {reason}"));
    }
    let link = match (job.kind, failed) {
        // The download link is made when the user opens it (it lives at most 15 minutes).
        (JobKind::Export, false) => Some(format!("/exports/{id}/download")),
        (JobKind::Export, true) => Some(format!("/exports/{id}")),
        (JobKind::Import, _) => Some(format!("/imports/{id}")),
    };
    let notification = Notification {
        tenant: job.tenant.clone(),
        id: format!("job-{}-{state}", job.id),
        kind,
        recipient: job.created_by.clone(),
        subject: format!("{}: {state}", job.description),
        body,
        link,
        created_at: ctx.clock.now(),
        delivered_at: None,
    };
    ctx.stores.notifications.push(&notification).await?;
    if let Some(task) = IntegrationTask::of(job) {
        let run = TaskRun {
            tenant: job.tenant.clone(),
            integration_id: task.integration_id,
            period: task.period,
            task: task.task,
            state: if failed {
                TaskRunState::Failed
            } else {
                TaskRunState::Run
            },
            job_id: Some(job.id.clone()),
            message: if failed {
                job.fail_reason.clone()
            } else {
                Some(summary.to_owned())
            },
            at: ctx.clock.now(),
        };
        ctx.stores.integrations.record_run(&run).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_description_never_says_export_twice() {
        let date = NaiveDate::from_ymd_opt(2021, 1, 11).unwrap_or_default();

        assert_eq!(
            description("Invoice export", JobKind::Export, date),
            "Invoice export initiated on 2021-01-11"
        );
        assert_eq!(
            description("customer-summary", JobKind::Export, date),
            "customer-summary export initiated on 2021-01-11"
        );
        assert_eq!(
            description("Invoice export (Expanded)", JobKind::Export, date),
            "Invoice export (Expanded) initiated on 2021-01-11"
        );
        assert_eq!(
            description("Firms", JobKind::Import, date),
            "Firms import initiated on 2021-01-11"
        );
    }
}
