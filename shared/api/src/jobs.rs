//! Jobs over HTTP, as the jobs crate's use cases (`ledgerlink_jobs`) define them:
//!
//! - Export definitions (CRUD) and running one; the export history with every column of seed 003 (ID,
//!   description, created by, progress n/m, status, start / finish / fail time, download, task action);
//!   download links issued on request for THAT tenant's file only; Reset task; Mark task as failed.
//! - Imports: template download, upload (a larger body limit than JSON), the result summary.
//! - The Integrations Manager (seed 000): integrations CRUD, the state of each task in an accounting
//!   period, running one or all export tasks.
//!
//! Ids users see are the short job numbers (`33392`); the store keeps them zero-padded.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use ledgerlink_domain::Period;
use ledgerlink_jobs::job::display_id;
use ledgerlink_jobs::{
    ExportDefinition, Exporter, ImportFormat, ImportSummary, ImportTemplate, Importer,
    IntegrationOverview, IntegrationsManager, JobError, JobsContext,
};
use ledgerlink_ports::{Integration, Job, JobKind, JobStatus, LookupTable, PresignedUrl};
use serde::{Deserialize, Serialize};

use crate::ApiState;
use crate::auth::Caller;
use crate::conventions::{Created, Versioned, expected_version, segment};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, RawBody};
use crate::objects::{ListResponse, page_request};

/// Maps a job use-case failure to what the caller may know.
pub fn job_error(error: JobError) -> ApiError {
    match error {
        JobError::Store(e) => ApiError::from_store(e, "the job record"),
        JobError::NotFound { what } => ApiError::not_found(format!("The {what} does not exist.")),
        JobError::Invalid { field, reason } => ApiError::invalid(field, reason),
        e @ (JobError::WrongState { .. } | JobError::NotConfigured { .. }) => {
            ApiError::WrongState(e.to_string())
        }
        JobError::Connection {
            message,
            retryable: false,
        } => ApiError::WrongState(format!(
            "The connection cannot be used: {message}. Check it on the Connections tab."
        )),
        JobError::Busy { .. } => {
            ApiError::Unavailable("Another worker holds the job; try again shortly.".into())
        }
        e if e.is_retryable() => {
            tracing::warn!(error = %e, "job use case failed (retryable)");
            ApiError::Unavailable(
                "A connected system is temporarily unavailable; try again.".into(),
            )
        }
        e => {
            tracing::error!(error = %e, "job use case failed");
            ApiError::Internal
        }
    }
}

/// One line of the export (or import) history.
#[derive(Debug, Serialize)]
pub struct JobView {
    /// The number users see (`33392`).
    pub id: String,
    pub kind: JobKind,
    pub description: String,
    pub created_by: String,
    pub definition: String,
    pub processed: u64,
    pub total: Option<u64>,
    pub status: JobStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub failed_at: Option<DateTime<Utc>>,
    pub fail_reason: Option<String>,
    /// Whether a download link can be asked for (a finished export with a file).
    pub downloadable: bool,
    /// The task actions possible now: `mark-failed` (started), `reset` (finished or failed).
    pub actions: Vec<&'static str>,
    pub attempt: u32,
    pub original_id: Option<String>,
    /// An import's result summary (records imported of total, errors and skipped rows with their row).
    pub summary: Option<ImportSummary>,
    pub summary_text: Option<String>,
}

impl From<Job> for JobView {
    fn from(job: Job) -> Self {
        let summary: Option<ImportSummary> = job
            .details
            .get("summary")
            .and_then(|s| serde_json::from_value(s.clone()).ok());
        let actions = match job.status {
            JobStatus::Started => vec!["mark-failed"],
            JobStatus::Finished | JobStatus::Failed => vec!["reset"],
        };
        Self {
            id: display_id(&job.id),
            kind: job.kind,
            description: job.description,
            created_by: job.created_by,
            definition: job.definition,
            processed: job.processed,
            total: job.total,
            status: job.status,
            started_at: job.started_at,
            finished_at: job.finished_at,
            failed_at: job.failed_at,
            fail_reason: job.fail_reason,
            downloadable: job.kind == JobKind::Export
                && job.status == JobStatus::Finished
                && job.file_key.is_some(),
            actions,
            attempt: job.attempt,
            original_id: job.original_id.as_deref().map(display_id),
            summary_text: summary.as_ref().map(ImportSummary::text),
            summary,
        }
    }
}

/// A 201 for a started job: `Location` is the job's history entry.
fn created_job(job: Job) -> Created<JobView> {
    let view = JobView::from(job);
    Created::at(format!("/api/jobs/{}", segment(&view.id)), view)
}

fn exporter(state: &ApiState) -> Exporter {
    Exporter::new(state.jobs.clone())
}

fn check_id(field: &str, id: &str) -> ApiResult<()> {
    if id.is_empty()
        || id.len() > 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(ApiError::invalid(
            field,
            "must be 1 to 64 letters, digits, `-` or `_`",
        ));
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsQuery {
    kind: Option<JobKind>,
    limit: Option<u32>,
    cursor: Option<String>,
}

pub async fn list(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<JobsQuery>,
) -> ApiResult<Json<ListResponse<JobView>>> {
    let page = page_request(q.limit, q.cursor)?;
    let got = state
        .stores()
        .jobs
        .list(&caller.tenant, q.kind.unwrap_or(JobKind::Export), page)
        .await
        .map_err(|e| ApiError::from_list(e, "the job history"))?;
    Ok(Json(ListResponse {
        items: got.items.into_iter().map(JobView::from).collect(),
        next_cursor: got.next_cursor,
    }))
}

pub async fn detail(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<JobView>> {
    check_id("id", &id)?;
    let job = exporter(&state)
        .job(&caller.tenant, &id)
        .await
        .map_err(job_error)?;
    Ok(Json(job.into()))
}

pub async fn download(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<PresignedUrl>> {
    check_id("id", &id)?;
    let url = exporter(&state)
        .download_url(&caller.tenant, &id)
        .await
        .map_err(job_error)?;
    Ok(Json(url))
}

pub async fn reset(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Created<JobView>> {
    check_id("id", &id)?;
    let job = exporter(&state)
        .reset(&caller.tenant, &id, &caller.user)
        .await
        .map_err(job_error)?;
    Ok(created_job(job))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarkFailed {
    reason: Option<String>,
}

pub async fn mark_failed(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    RawBody(body): RawBody,
) -> ApiResult<Json<JobView>> {
    check_id("id", &id)?;
    let request: MarkFailed = if body.iter().all(u8::is_ascii_whitespace) {
        MarkFailed::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::Body {
            status: StatusCode::BAD_REQUEST,
            detail: format!("The body is not a mark-failed request: {e}"),
        })?
    };
    let reason = request
        .reason
        .unwrap_or_else(|| "no longer progressing".to_owned());
    if reason.chars().count() > 500 || reason.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "reason",
            "at most 500 printable characters",
        ));
    }
    let job = exporter(&state)
        .mark_failed(&caller.tenant, &id, &caller.user, &reason)
        .await
        .map_err(job_error)?;
    Ok(Json(job.into()))
}

// ---------------------------------------------------------------------------------------------------------
// Export definitions
// ---------------------------------------------------------------------------------------------------------

#[derive(Debug, Serialize)]
pub struct Definitions {
    pub items: Vec<ExportDefinition>,
}

pub async fn definitions(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
) -> ApiResult<Json<Definitions>> {
    let items = exporter(&state)
        .definitions()
        .list(&caller.tenant)
        .await
        .map_err(job_error)?;
    Ok(Json(Definitions { items }))
}

pub async fn definition(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Versioned<ExportDefinition>> {
    check_id("id", &id)?;
    let found = exporter(&state)
        .definitions()
        .get(&caller.tenant, &id)
        .await
        .map_err(job_error)?
        .ok_or_else(|| ApiError::not_found(format!("No export definition `{id}` exists.")))?;
    Ok(Versioned {
        version: found.version,
        body: found,
    })
}

/// A conflict on a definition, said so a person knows what to do.
fn definition_error(id: &str, error: JobError) -> ApiError {
    match error {
        JobError::Store(ledgerlink_ports::StoreError::Conflict { .. }) => {
            ApiError::Conflict(format!(
                "The export definition `{id}` was changed (or created) by someone else meanwhile; \
                 reload it and apply your change again."
            ))
        }
        other => job_error(other),
    }
}

pub async fn create_definition(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    ApiJson(definition): ApiJson<ExportDefinition>,
) -> ApiResult<Created<ExportDefinition>> {
    let definitions = exporter(&state).definitions();
    definition.validate().map_err(job_error)?;
    let saved = definitions
        .create(&caller.tenant, &definition, &caller.user)
        .await
        .map_err(|e| match e {
            JobError::Store(ledgerlink_ports::StoreError::Conflict { .. }) => {
                ApiError::Conflict(format!(
                    "An export definition `{}` already exists; choose another id, or update it with PUT.",
                    definition.id
                ))
            }
            other => job_error(other),
        })?;
    Ok(Created::at(
        format!("/api/export-definitions/{}", segment(&saved.id)),
        saved.clone(),
    )
    .with_version(saved.version))
}

/// Replaces a definition. `If-Match` (the GET's `ETag`) names the version the caller read: another one is
/// refused (412) rather than overwritten. Without `If-Match`, the body's `version` (409 when stale); with
/// neither, 428 ([`crate::conventions::expected_version`]).
pub async fn update_definition(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(definition): ApiJson<ExportDefinition>,
) -> ApiResult<Versioned<ExportDefinition>> {
    check_id("id", &id)?;
    if definition.id != id {
        return Err(ApiError::invalid(
            "id",
            "the body's id must be the one in the path (copy a definition to give it another id)",
        ));
    }
    let definitions = exporter(&state).definitions();
    let Some(current) = definitions
        .get(&caller.tenant, &id)
        .await
        .map_err(job_error)?
    else {
        return Err(ApiError::not_found(format!(
            "No export definition `{id}` exists."
        )));
    };
    let mut definition = definition;
    let body_version = (definition.version != 0).then_some(definition.version);
    definition.version = expected_version(
        &headers,
        body_version,
        current.version,
        &format!("The export definition `{id}`"),
    )?;
    let saved = definitions
        .update(&caller.tenant, &definition, &caller.user)
        .await
        .map_err(|e| definition_error(&id, e))?;
    Ok(Versioned {
        version: saved.version,
        body: saved,
    })
}

pub async fn delete_definition(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    check_id("id", &id)?;
    let definitions = exporter(&state).definitions();
    if definitions
        .get(&caller.tenant, &id)
        .await
        .map_err(job_error)?
        .is_none()
    {
        return Err(ApiError::not_found(format!(
            "No export definition `{id}` exists."
        )));
    }
    definitions
        .delete(&caller.tenant, &id)
        .await
        .map_err(job_error)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CopyRequest {
    /// The copy's id.
    pub id: String,
    /// The copy's name ("<name> (copy)" when absent).
    pub name: Option<String>,
}

pub async fn copy_definition(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(copy): ApiJson<CopyRequest>,
) -> ApiResult<Created<ExportDefinition>> {
    check_id("id", &id)?;
    let saved = exporter(&state)
        .definitions()
        .copy(
            &caller.tenant,
            &id,
            &copy.id,
            copy.name.as_deref(),
            &caller.user,
        )
        .await
        .map_err(|e| match e {
            JobError::NotFound { .. } => {
                ApiError::not_found(format!("No export definition `{id}` exists."))
            }
            JobError::Store(ledgerlink_ports::StoreError::Conflict { .. }) => {
                ApiError::Conflict(format!(
                    "An export definition `{}` already exists; choose another id for the copy.",
                    copy.id
                ))
            }
            other => job_error(other),
        })?;
    Ok(Created::at(
        format!("/api/export-definitions/{}", segment(&saved.id)),
        saved.clone(),
    )
    .with_version(saved.version))
}

/// The sources a definition may read, with their fields, for the page's form.
#[derive(Debug, Serialize)]
pub struct Sources {
    pub items: &'static [ledgerlink_jobs::SourceInfo],
    pub lookup_tables: Vec<&'static str>,
    pub file_name_placeholders: &'static [&'static str],
}

pub async fn sources(_caller: Caller) -> Json<Sources> {
    Json(Sources {
        items: ledgerlink_jobs::SOURCES,
        lookup_tables: LookupTable::ALL.iter().map(|t| t.as_str()).collect(),
        file_name_placeholders: ledgerlink_jobs::definitions::FILE_NAME_PLACEHOLDERS,
    })
}

pub async fn run_definition(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Created<JobView>> {
    check_id("id", &id)?;
    let job = exporter(&state)
        .start(&caller.tenant, &id, &caller.user)
        .await
        .map_err(job_error)?;
    Ok(created_job(job))
}

// ---------------------------------------------------------------------------------------------------------
// Imports
// ---------------------------------------------------------------------------------------------------------

fn all_templates() -> Vec<ImportTemplate> {
    [
        ImportTemplate::Firms,
        ImportTemplate::Contacts,
        ImportTemplate::Locations,
    ]
    .into_iter()
    .chain(LookupTable::ALL.iter().map(|t| ImportTemplate::Lookup(*t)))
    .collect()
}

#[derive(Debug, Serialize)]
pub struct TemplateView {
    pub name: String,
    pub title: String,
    pub columns: Vec<&'static str>,
}

#[derive(Debug, Serialize)]
pub struct Templates {
    pub items: Vec<TemplateView>,
}

pub async fn templates(_caller: Caller) -> Json<Templates> {
    Json(Templates {
        items: all_templates()
            .into_iter()
            .map(|t| TemplateView {
                name: t.name(),
                title: t.title(),
                columns: t.headers(),
            })
            .collect(),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormatQuery {
    format: Option<ImportFormat>,
}

fn template_named(name: &str) -> ApiResult<ImportTemplate> {
    ImportTemplate::parse(name)
        .map_err(|_| ApiError::not_found(format!("No import template `{name}` exists.")))
}

pub async fn template_file(
    State(state): State<Arc<ApiState>>,
    _caller: Caller,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<FormatQuery>,
) -> ApiResult<Response> {
    let template = template_named(&name)?;
    let format = q.format.unwrap_or(ImportFormat::Xlsx);
    let bytes = Importer::new(state.jobs.clone())
        .template(template, format)
        .map_err(job_error)?;
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if let Ok(value) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}.{}\"",
        template.name(),
        format.extension()
    )) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    template: String,
    format: ImportFormat,
    #[serde(default)]
    partial: bool,
    /// Run the import as a task of this integration...
    integration: Option<String>,
    /// ...in this period (`YYYYPP`; the active one when absent).
    period: Option<String>,
}

fn period_of(text: Option<&str>) -> ApiResult<Option<Period>> {
    match text {
        None | Some("") | Some("current") => Ok(None),
        Some(p) => Period::parse(p)
            .map(Some)
            .map_err(|_| ApiError::invalid("period", "must be YYYYPP, e.g. 202603, or `current`")),
    }
}

/// The jobs context with the tenant's Vantagepoint connection, for reading the active accounting period.
async fn with_psa(state: &ApiState, caller: &Caller) -> ApiResult<JobsContext> {
    let connection = state
        .flows
        .connections
        .connect(&caller.record)
        .await
        .map_err(|e| {
            tracing::info!(tenant = %caller.tenant, error = %e, "connection could not be built");
            ApiError::WrongState(
                "The active accounting period cannot be read (the Vantagepoint connection is not usable); give a period."
                    .into(),
            )
        })?;
    Ok(state.jobs.clone().with_psa(connection.psa))
}

pub async fn upload(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<UploadQuery>,
    RawBody(body): RawBody,
) -> ApiResult<Created<JobView>> {
    let template = template_named(&q.template)?;
    if body.is_empty() {
        return Err(ApiError::invalid("file", "the uploaded file is empty"));
    }
    let integration = match &q.integration {
        Some(id) => {
            check_id("integration", id)?;
            let period = period_of(q.period.as_deref())?;
            let ctx = if period.is_none() {
                with_psa(&state, &caller).await?
            } else {
                state.jobs.clone()
            };
            Some(
                IntegrationsManager::new(ctx)
                    .import_task(&caller.tenant, id, template, period)
                    .await
                    .map_err(job_error)?,
            )
        }
        None => None,
    };
    let request = ledgerlink_jobs::import::ImportRequest {
        template,
        format: q.format,
        partial: q.partial,
        integration,
    };
    let job = Importer::new(state.jobs.clone())
        .upload(&caller.tenant, &request, &caller.user, body)
        .await
        .map_err(job_error)?;
    Ok(created_job(job))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BeginUpload {
    pub template: String,
    pub format: ImportFormat,
    #[serde(default)]
    pub partial: bool,
}

/// An import waiting for its file: PUT the file to `upload.url` (before `upload.expires_at`), then submit.
#[derive(Debug, Serialize)]
pub struct PendingUpload {
    pub job: JobView,
    pub upload: PresignedUrl,
}

/// Starts an import whose file goes straight to storage (a presigned PUT), for files larger than an API
/// Gateway payload; `POST /api/imports/{id}/submit` queues it once uploaded.
pub async fn begin_upload(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    ApiJson(begin): ApiJson<BeginUpload>,
) -> ApiResult<Created<PendingUpload>> {
    let request = ledgerlink_jobs::import::ImportRequest {
        template: template_named(&begin.template)?,
        format: begin.format,
        partial: begin.partial,
        integration: None,
    };
    let (job, upload) = Importer::new(state.jobs.clone())
        .begin_upload(&caller.tenant, &request, &caller.user)
        .await
        .map_err(job_error)?;
    let job = JobView::from(job);
    Ok(Created::at(
        format!("/api/jobs/{}", segment(&job.id)),
        PendingUpload { job, upload },
    ))
}

pub async fn submit(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<JobView>> {
    check_id("id", &id)?;
    let importer = Importer::new(state.jobs.clone());
    let job = exporter(&state)
        .job(&caller.tenant, &id)
        .await
        .map_err(job_error)?;
    if job.kind != JobKind::Import {
        return Err(ApiError::not_found(format!("No import {id} exists.")));
    }
    let job = importer
        .submit(&caller.tenant, &id)
        .await
        .map_err(job_error)?;
    Ok(Json(job.into()))
}

/// An import's result: the summary once it ran, `null` before.
#[derive(Debug, Serialize)]
pub struct SummaryView {
    pub job: JobView,
    pub summary: Option<ImportSummary>,
    pub text: Option<String>,
}

pub async fn import_summary(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<SummaryView>> {
    check_id("id", &id)?;
    let job = exporter(&state)
        .job(&caller.tenant, &id)
        .await
        .map_err(job_error)?;
    if job.kind != JobKind::Import {
        return Err(ApiError::not_found(format!("No import {id} exists.")));
    }
    let view = JobView::from(job);
    Ok(Json(SummaryView {
        summary: view.summary.clone(),
        text: view.summary_text.clone(),
        job: view,
    }))
}

// ---------------------------------------------------------------------------------------------------------
// Integrations Manager
// ---------------------------------------------------------------------------------------------------------

/// An integration as written by the caller (the tenant comes from the key).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationWrite {
    pub id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub import_tasks: Vec<String>,
    #[serde(default)]
    pub export_tasks: Vec<String>,
    /// The version read (required to update).
    pub version: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct IntegrationView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub import_tasks: Vec<String>,
    pub export_tasks: Vec<String>,
    pub version: u64,
    pub updated_at: DateTime<Utc>,
}

impl From<Integration> for IntegrationView {
    fn from(i: Integration) -> Self {
        Self {
            id: i.id,
            name: i.name,
            description: i.description,
            import_tasks: i.import_tasks,
            export_tasks: i.export_tasks,
            version: i.version,
            updated_at: i.updated_at,
        }
    }
}

fn manager(state: &ApiState) -> IntegrationsManager {
    IntegrationsManager::new(state.jobs.clone())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

pub async fn list_integrations(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<ListResponse<IntegrationView>>> {
    let page = page_request(q.limit, q.cursor)?;
    let got = manager(&state)
        .list(&caller.tenant, page)
        .await
        .map_err(|e| match e {
            JobError::Store(s) => ApiError::from_list(s, "the integrations"),
            other => job_error(other),
        })?;
    Ok(Json(ListResponse {
        items: got.items.into_iter().map(IntegrationView::from).collect(),
        next_cursor: got.next_cursor,
    }))
}

async fn existing(state: &ApiState, caller: &Caller, id: &str) -> ApiResult<Integration> {
    check_id("id", id)?;
    state
        .stores()
        .integrations
        .get(&caller.tenant, id)
        .await
        .map_err(|e| ApiError::from_store(e, "the integration"))?
        .ok_or_else(|| ApiError::not_found(format!("No integration `{id}` exists.")))
}

fn integration_of(
    caller: &Caller,
    id: String,
    write: IntegrationWrite,
    now: DateTime<Utc>,
) -> Integration {
    Integration {
        tenant: caller.tenant.clone(),
        id,
        name: write.name,
        description: write.description,
        import_tasks: write.import_tasks,
        export_tasks: write.export_tasks,
        version: write.version.unwrap_or(0),
        updated_at: now,
    }
}

pub async fn create_integration(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    ApiJson(write): ApiJson<IntegrationWrite>,
) -> ApiResult<Created<IntegrationView>> {
    let id = write
        .id
        .clone()
        .ok_or_else(|| ApiError::invalid("id", "an integration needs an id"))?;
    check_id("id", &id)?;
    let integration = integration_of(&caller, id.clone(), write, state.now());
    let saved = manager(&state)
        .save(&integration, None)
        .await
        .map_err(|e| match e {
            JobError::Store(ledgerlink_ports::StoreError::Conflict { .. }) => {
                ApiError::Conflict(format!("An integration `{id}` already exists."))
            }
            other => job_error(other),
        })?;
    Ok(Created::at(
        format!("/api/integrations/{}", segment(&saved.id)),
        IntegrationView::from(saved.clone()),
    )
    .with_version(saved.version))
}

pub async fn integration(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Versioned<IntegrationView>> {
    let found = existing(&state, &caller, &id).await?;
    Ok(Versioned {
        version: found.version,
        body: found.into(),
    })
}

/// Replaces an integration; the version it is based on comes from `If-Match` (412 when stale), else the
/// body's `version`, else 428.
pub async fn update_integration(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(write): ApiJson<IntegrationWrite>,
) -> ApiResult<Versioned<IntegrationView>> {
    let current = existing(&state, &caller, &id).await?;
    if write.id.as_deref().is_some_and(|given| given != id) {
        return Err(ApiError::invalid(
            "id",
            "the body's id must be the one in the path",
        ));
    }
    let expected = expected_version(
        &headers,
        write.version,
        current.version,
        &format!("The integration `{id}`"),
    )?;
    let integration = integration_of(&caller, id, write, state.now());
    let saved = manager(&state)
        .save(&integration, Some(expected))
        .await
        .map_err(job_error)?;
    Ok(Versioned {
        version: saved.version,
        body: saved.into(),
    })
}

pub async fn delete_integration(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    existing(&state, &caller, &id).await?;
    manager(&state)
        .delete(&caller.tenant, &id)
        .await
        .map_err(job_error)?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn period_states(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath((id, period)): ApiPath<(String, String)>,
) -> ApiResult<Json<IntegrationOverview>> {
    existing(&state, &caller, &id).await?;
    let period = period_of(Some(&period))?;
    let ctx = if period.is_none() {
        with_psa(&state, &caller).await?
    } else {
        state.jobs.clone()
    };
    let overview = IntegrationsManager::new(ctx)
        .overview(&caller.tenant, &id, period)
        .await
        .map_err(job_error)?;
    Ok(Json(overview))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// Export definition ids to run; every export task of the integration when absent.
    pub definitions: Option<Vec<String>>,
    /// `YYYYPP`; the active period when absent.
    pub period: Option<String>,
}

pub async fn run_integration(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(run): ApiJson<RunRequest>,
) -> ApiResult<Created<ListResponse<JobView>>> {
    existing(&state, &caller, &id).await?;
    let period = period_of(run.period.as_deref())?;
    let ctx = if period.is_none() {
        with_psa(&state, &caller).await?
    } else {
        state.jobs.clone()
    };
    let jobs = IntegrationsManager::new(ctx)
        .run_exports(
            &caller.tenant,
            &id,
            run.definitions.as_deref(),
            period,
            &caller.user,
        )
        .await
        .map_err(job_error)?;
    // Several jobs may start: `Location` is the export history, where they are listed newest first.
    Ok(Created::at(
        "/api/jobs?kind=export",
        ListResponse {
            items: jobs.into_iter().map(JobView::from).collect(),
            next_cursor: None,
        },
    ))
}
