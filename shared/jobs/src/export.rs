//! Export jobs: start (create the job and queue it), run (the worker: stream rows to storage with progress
//! and a renewed lease), history, download links made on request, reset, mark as failed, and the clean-up
//! of jobs whose worker died.
//!
//! A job snapshots its definition in `details.definition` when it starts, so editing a definition never
//! changes a job already queued, and a reset runs exactly what the original ran.

use ledgerlink_domain::TenantId;
use ledgerlink_ports::{
    Job, JobKind, JobStatus, MAX_PRESIGN_EXPIRY, Page, PageRequest, PresignedUrl, StoreError,
};
use serde_json::json;

use crate::definitions::{ExportDefinition, ExportDefinitions};
use crate::job::{self, IntegrationTask, chrono_duration};
use crate::source::{self, RowSource};
use crate::writer::FileWriter;
use crate::{JobError, JobResult, JobsContext};

/// The export use cases.
#[derive(Debug, Clone)]
pub struct Exporter {
    ctx: JobsContext,
}

/// How a run ended when it did not finish the file.
enum Interrupted {
    /// Someone else failed the job meanwhile (operator, clean-up): the run gave up; here is the job now.
    Stopped(Job),
    Error(JobError),
}

impl From<JobError> for Interrupted {
    fn from(e: JobError) -> Self {
        Self::Error(e)
    }
}

impl From<StoreError> for Interrupted {
    fn from(e: StoreError) -> Self {
        Self::Error(e.into())
    }
}

fn worker_of(job: &Job) -> Option<&str> {
    job.details.get("worker").and_then(|w| w.as_str())
}

impl Exporter {
    pub fn new(ctx: JobsContext) -> Self {
        Self { ctx }
    }

    pub fn definitions(&self) -> ExportDefinitions {
        ExportDefinitions::new(self.ctx.clone())
    }

    /// Starts an export of a saved definition for `user`: creates the job (status started) and queues it.
    pub async fn start(
        &self,
        tenant: &TenantId,
        definition_id: &str,
        user: &str,
    ) -> JobResult<Job> {
        let definition = self.definitions().require(tenant, definition_id).await?;
        self.start_definition(tenant, &definition, user, None).await
    }

    /// Starts an export of `definition` (saved or not), optionally as a task of an integration.
    pub async fn start_definition(
        &self,
        tenant: &TenantId,
        definition: &ExportDefinition,
        user: &str,
        integration: Option<IntegrationTask>,
    ) -> JobResult<Job> {
        definition.validate()?;
        // `current` is fixed when the job starts: a reset runs the same period again.
        let definition = if definition.wants_current_period() {
            let period = match self.ctx.psa_of(tenant).await {
                Ok(psa) => psa.active_period().await?.to_string(),
                Err(JobError::NotConfigured { .. }) => {
                    let today = self.ctx.clock.now().date_naive();
                    format!("{}", today.format("%Y%m"))
                }
                Err(e) => return Err(e),
            };
            definition.clone().with_period(&period)
        } else {
            definition.clone()
        };
        let definition = &definition;
        let snapshot = serde_json::to_value(definition)
            .map_err(|e| JobError::invalid("definition", format!("cannot be encoded: {e}")))?;
        let mut details = json!({"name": definition.name, "definition": snapshot});
        if let Some(period) = definition.period() {
            details["period"] = json!(period);
        }
        if let Some(task) = integration {
            details["integration"] = serde_json::to_value(task)
                .map_err(|e| JobError::invalid("integration", e.to_string()))?;
        }
        let job = job::new_job(
            &self.ctx,
            tenant,
            JobKind::Export,
            &definition.id,
            &definition.name,
            user,
            details,
        );
        let job = job::create(&self.ctx, job).await?;
        job::enqueue(&self.ctx, &job).await?;
        Ok(job)
    }

    /// The export history, newest first.
    pub async fn history(&self, tenant: &TenantId, page: PageRequest) -> JobResult<Page<Job>> {
        Ok(self
            .ctx
            .stores
            .jobs
            .list(tenant, JobKind::Export, page)
            .await?)
    }

    pub async fn job(&self, tenant: &TenantId, id: &str) -> JobResult<Job> {
        job::load(&self.ctx, tenant, id).await
    }

    /// Runs a queued export (the worker's entry point). A job that is no longer started (a duplicate
    /// delivery, or failed meanwhile) is returned as it is.
    pub async fn run(&self, tenant: &TenantId, id: &str) -> JobResult<Job> {
        self.run_with_source(tenant, id, None).await
    }

    /// As [`Self::run`], reading rows from `source` instead of the definition's source (benchmarks, tests).
    pub async fn run_with_source(
        &self,
        tenant: &TenantId,
        id: &str,
        source: Option<Box<dyn RowSource>>,
    ) -> JobResult<Job> {
        let job = job::load(&self.ctx, tenant, id).await?;
        if job.kind != JobKind::Export {
            return Err(JobError::invalid(
                "job",
                format!("{} is not an export", job::display_id(&job.id)),
            ));
        }
        if job.status != JobStatus::Started {
            return Ok(job);
        }
        let job = self.claim(job).await?;
        let token = worker_of(&job).unwrap_or_default().to_owned();
        match self.produce(job.clone(), &token, source).await {
            Ok(done) => Ok(done),
            Err(Interrupted::Stopped(now)) => {
                tracing::info!(job = %now.id, "export stopped by someone else while running");
                Ok(now)
            }
            Err(Interrupted::Error(e)) if e.is_retryable() => {
                self.release(tenant, &job.id, &token).await;
                Err(e)
            }
            Err(Interrupted::Error(e)) => {
                let current = job::load(&self.ctx, tenant, &job.id).await?;
                if current.status != JobStatus::Started
                    || worker_of(&current) != Some(token.as_str())
                {
                    return Ok(current);
                }
                match job::fail(&self.ctx, &current, &e.to_string(), self.ctx.clock.now()).await? {
                    Some(failed) => {
                        job::ended(&self.ctx, &failed, "The export did not complete.").await?;
                        Ok(failed)
                    }
                    None => job::load(&self.ctx, tenant, &job.id).await,
                }
            }
        }
    }

    /// Takes the job for this worker: a fresh worker token and lease. A live lease held by another worker
    /// (a duplicate delivery) is [`JobError::Busy`].
    async fn claim(&self, job: Job) -> JobResult<Job> {
        let now = self.ctx.clock.now();
        if worker_of(&job).is_some() && job.lease_expires_at.is_some_and(|until| until > now) {
            return Err(JobError::Busy { id: job.id });
        }
        let mut claimed = job.clone();
        claimed.details["worker"] = json!(uuid::Uuid::new_v4().to_string());
        claimed.lease_expires_at = Some(now + chrono_duration(self.ctx.settings.lease));
        match self.ctx.stores.jobs.put(&claimed, job.version).await {
            Ok(saved) => Ok(saved),
            Err(StoreError::Conflict { .. }) => Err(JobError::Busy { id: job.id }),
            Err(e) => Err(e.into()),
        }
    }

    /// Gives the job back to the queue after a retryable failure (the next delivery claims it again).
    async fn release(&self, tenant: &TenantId, id: &str, token: &str) {
        let Ok(current) = job::load(&self.ctx, tenant, id).await else {
            return;
        };
        if current.status != JobStatus::Started || worker_of(&current) != Some(token) {
            return;
        }
        let mut released = current.clone();
        if let Some(details) = released.details.as_object_mut() {
            details.remove("worker");
        }
        released.lease_expires_at =
            Some(self.ctx.clock.now() + chrono_duration(self.ctx.settings.pickup));
        if let Err(e) = self.ctx.stores.jobs.put(&released, current.version).await {
            tracing::warn!(job = %id, error = %e, "releasing an export job failed");
        }
    }

    /// Writes progress and renews the lease, from the version this worker last wrote. A conflict means
    /// someone else changed the job: when it is no longer this worker's started job, the run stops.
    async fn save_progress(&self, job: &mut Job, token: &str) -> Result<(), Interrupted> {
        let mut next = job.clone();
        next.lease_expires_at =
            Some(self.ctx.clock.now() + chrono_duration(self.ctx.settings.lease));
        match self.ctx.stores.jobs.put(&next, job.version).await {
            Ok(saved) => {
                *job = saved;
                Ok(())
            }
            Err(StoreError::Conflict { .. }) => {
                let current = job::load(&self.ctx, &job.tenant, &job.id).await?;
                if current.status != JobStatus::Started || worker_of(&current) != Some(token) {
                    return Err(Interrupted::Stopped(current));
                }
                next.version = current.version;
                *job = self.ctx.stores.jobs.put(&next, current.version).await?;
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn produce(
        &self,
        mut job: Job,
        token: &str,
        source: Option<Box<dyn RowSource>>,
    ) -> Result<Job, Interrupted> {
        let definition: ExportDefinition = job
            .details
            .get("definition")
            .cloned()
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| JobError::invalid("job definition", e.to_string()))?
            .ok_or_else(|| JobError::invalid("job definition", "the job carries no definition"))?;
        let mut source = match source {
            Some(s) => s,
            None => source::open(&self.ctx, &job.tenant, &definition.source).await?,
        };
        job.total = source.total().await?;
        self.save_progress(&mut job, token).await?;

        let file_name = definition.file_name_for(
            &job::display_id(&job.id),
            job.started_at.date_naive(),
            definition.period(),
        );
        let key = format!(
            "exports/{}/{file_name}.{}",
            job::display_id(&job.id),
            definition.format.extension()
        );
        let headers: Vec<String> = definition
            .columns
            .iter()
            .map(|c| c.header.clone())
            .collect();
        let mut writer = FileWriter::begin(
            self.ctx.storage.as_ref(),
            &job.tenant,
            &key,
            definition.format,
            &headers,
            self.ctx.settings.chunk_size,
        )
        .await?;
        match self
            .stream(&mut job, token, &definition, source.as_mut(), &mut writer)
            .await
        {
            Ok(written) => {
                let stored = writer.finish().await?;
                let mut finished = job.clone();
                finished.status = JobStatus::Finished;
                finished.finished_at = Some(self.ctx.clock.now());
                finished.total = Some(job.processed);
                finished.file_key = Some(key);
                finished.lease_expires_at = None;
                finished.details["rows"] = json!(written);
                finished.details["size"] = json!(stored.size);
                match self.ctx.stores.jobs.put(&finished, job.version).await {
                    Ok(saved) => {
                        let summary = format!("{written} rows exported ({} bytes).", stored.size);
                        job::ended(&self.ctx, &saved, &summary).await?;
                        Ok(saved)
                    }
                    Err(StoreError::Conflict { .. }) => {
                        // Failed by someone else at the last moment: the file must not outlive the job.
                        if let Err(e) = self.ctx.storage.delete(&job.tenant, &stored.key).await {
                            tracing::warn!(error = %e, "deleting the file of a stopped export failed");
                        }
                        Err(Interrupted::Stopped(
                            job::load(&self.ctx, &job.tenant, &job.id).await?,
                        ))
                    }
                    Err(e) => Err(e.into()),
                }
            }
            Err(interrupted) => {
                if let Err(e) = writer.abort().await {
                    tracing::warn!(error = %e, "aborting an export upload failed");
                }
                Err(interrupted)
            }
        }
    }

    /// Copies every row through the filter to the file; returns the rows written.
    ///
    /// Progress is written every `progress_every_rows` rows but at most once per `progress_min_interval`,
    /// and at least every `progress_every` (which renews the lease). The clock is read every few hundred
    /// rows, never per row, and a row costs no allocation here: its cells are borrowed from the record.
    async fn stream(
        &self,
        job: &mut Job,
        token: &str,
        definition: &ExportDefinition,
        source: &mut dyn RowSource,
        writer: &mut FileWriter,
    ) -> Result<u64, Interrupted> {
        let settings = &self.ctx.settings;
        let every_rows = settings.progress_every_rows.max(1);
        let check_every = every_rows.min(256);
        let every = chrono_duration(settings.progress_every);
        let min_interval = chrono_duration(settings.progress_min_interval);
        let mut written = 0u64;
        let mut saved_rows = job.processed;
        let mut saved_at = self.ctx.clock.now();
        let mut next_check = job.processed + check_every;
        while let Some(batch) = source.next_batch().await? {
            for record in batch {
                job.processed += 1;
                if definition
                    .filter
                    .iter()
                    .all(|c| c.holds(record.get(&c.field)))
                {
                    let cells = definition
                        .columns
                        .iter()
                        .map(|c| record.get(&c.field).unwrap_or_default());
                    writer.write_row(cells).await?;
                    written += 1;
                }
                if job.processed >= next_check {
                    next_check = job.processed + check_every;
                    let since = self.ctx.clock.now() - saved_at;
                    let due_by_rows =
                        job.processed - saved_rows >= every_rows && since >= min_interval;
                    if due_by_rows || since >= every {
                        if let Some(total) = job.total {
                            job.total = Some(total.max(job.processed));
                        }
                        self.save_progress(job, token).await?;
                        saved_rows = job.processed;
                        saved_at = self.ctx.clock.now();
                    }
                }
            }
            // A slow source still renews the lease between batches.
            if self.ctx.clock.now() - saved_at >= every {
                self.save_progress(job, token).await?;
                saved_rows = job.processed;
                saved_at = self.ctx.clock.now();
                next_check = job.processed + check_every;
            }
        }
        Ok(written)
    }

    /// A download link for a finished export, made now and valid for at most 15 minutes. It names only
    /// this tenant's object.
    pub async fn download_url(&self, tenant: &TenantId, id: &str) -> JobResult<PresignedUrl> {
        let job = job::load(&self.ctx, tenant, id).await?;
        let key = match (job.kind, job.status, &job.file_key) {
            (JobKind::Export, JobStatus::Finished, Some(key)) => key.clone(),
            _ => {
                return Err(JobError::WrongState {
                    id: job::display_id(&job.id),
                    status: job.status,
                    action: "download an export that has not finished",
                });
            }
        };
        let expiry = self.ctx.settings.link_expiry.min(MAX_PRESIGN_EXPIRY);
        Ok(self
            .ctx
            .storage
            .presign_get(tenant, &key, expiry, self.ctx.clock.now())
            .await?)
    }

    /// Reset Task: a new attempt of a failed (or finished) export, linked to the original, queued again.
    pub async fn reset(&self, tenant: &TenantId, id: &str, user: &str) -> JobResult<Job> {
        reset(&self.ctx, tenant, id, user).await
    }

    /// Mark task as failed: a started export becomes failed with the operator's reason.
    pub async fn mark_failed(
        &self,
        tenant: &TenantId,
        id: &str,
        user: &str,
        reason: &str,
    ) -> JobResult<Job> {
        mark_failed(&self.ctx, tenant, id, user, reason).await
    }

    /// Starts the scheduled exports whose time came (every tenant); see [`crate::schedule`].
    pub async fn run_due_schedules(&self) -> JobResult<Vec<Job>> {
        crate::schedule::run_due(&self.ctx).await
    }

    /// The scheduled clean-up (exports and imports alike).
    pub async fn clean_up_stuck(&self, limit: u32) -> JobResult<Vec<Job>> {
        clean_up_stuck(&self.ctx, limit).await
    }
}

/// Reset Task for any job kind: attempt n+1, linked to the original (`original_id` is the first attempt).
pub async fn reset(ctx: &JobsContext, tenant: &TenantId, id: &str, user: &str) -> JobResult<Job> {
    let old = job::load(ctx, tenant, id).await?;
    if old.status == JobStatus::Started {
        return Err(JobError::WrongState {
            id: job::display_id(&old.id),
            status: old.status,
            action: "reset a started job (mark it as failed first)",
        });
    }
    let mut details = old.details.clone();
    if let Some(map) = details.as_object_mut() {
        for transient in ["worker", "rows", "size", "summary"] {
            map.remove(transient);
        }
    }
    let name = details
        .get("name")
        .and_then(|n| n.as_str())
        .unwrap_or(&old.definition)
        .to_owned();
    let mut next = job::new_job(ctx, tenant, old.kind, &old.definition, &name, user, details);
    next.attempt = old.attempt.saturating_add(1);
    next.original_id = Some(old.original_id.clone().unwrap_or_else(|| old.id.clone()));
    if old.kind == JobKind::Import {
        // An import runs again on the file that was uploaded.
        next.file_key = old.file_key.clone();
    }
    let created = job::create(ctx, next).await?;
    job::enqueue(ctx, &created).await?;
    Ok(created)
}

/// Mark task as failed for any job kind.
pub async fn mark_failed(
    ctx: &JobsContext,
    tenant: &TenantId,
    id: &str,
    user: &str,
    reason: &str,
) -> JobResult<Job> {
    let reason = format!("marked as failed by {user}: {}", reason.trim());
    for _ in 0..5 {
        let current = job::load(ctx, tenant, id).await?;
        if current.status != JobStatus::Started {
            return Err(JobError::WrongState {
                id: job::display_id(&current.id),
                status: current.status,
                action: "mark as failed a job that is not started",
            });
        }
        if let Some(failed) = job::fail(ctx, &current, &reason, ctx.clock.now()).await? {
            job::ended(ctx, &failed, "The job was stopped.").await?;
            return Ok(failed);
        }
    }
    Err(JobError::Busy { id: id.to_owned() })
}

/// Fails every started job (any tenant, any kind) whose lease expired — its worker died or it was never
/// picked up — so nothing stays started forever. Returns the jobs it failed (at most `limit`).
pub async fn clean_up_stuck(ctx: &JobsContext, limit: u32) -> JobResult<Vec<Job>> {
    let now = ctx.clock.now();
    let mut failed = Vec::new();
    for job in ctx.stores.jobs.expired_leases(now, limit).await? {
        let lease = job
            .lease_expires_at
            .map(source::time_text)
            .unwrap_or_default();
        let reason = format!("worker stopped responding (lease expired at {lease})");
        if let Some(done) = job::fail(ctx, &job, &reason, now).await? {
            job::ended(ctx, &done, "The job was cleaned up.").await?;
            failed.push(done);
        }
    }
    Ok(failed)
}
