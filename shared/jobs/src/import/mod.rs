//! Bulk imports: templates, uploads, validation of every row, and all-or-nothing (or, when asked, partial)
//! writes, with a result summary stored on the job and sent to the user.
//!
//! Where rows go (a choice, documented here): every import writes rows of a lookup table, one row per
//! record, so a record is written in one conditional write and is never half-written:
//! - firms → the `firms` table, key = Accounting Reference (the ClientID), columns `name`, `type`,
//!   `parent`, `search_code`, ...; firm-sync's own rows (vendor codes with `exact_id`) live in the same table;
//! - employees/contacts → the `employees` table, key = Employee ID;
//! - locations → the `firms` table under `location/<reference>`, with a `client` column naming the client;
//! - lookup templates → their own table, columns named as the flows read them (`vp_code`, `exact_id`, ...).
//!
//! Every row is written with "must not exist" (`expected_version: None`): an import creates records. A
//! row equal to what is stored already is skipped (so re-running an import is harmless); a reference that
//! exists with different data is an error. With all-or-nothing (the default) a failed import writes nothing,
//! and rows written before a store failure are deleted again.

mod read;
pub mod template;

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use ledgerlink_domain::TenantId;
use ledgerlink_ports::{
    Job, JobKind, JobStatus, Limited, LookupEntry, LookupTable, MAX_PRESIGN_EXPIRY, Page,
    PageRequest, PresignedUrl, StoreError,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

pub use template::{CellKind, ColumnSpec, ImportFormat, ImportTemplate};

use crate::job::{self, IntegrationTask, chrono_duration};
use crate::{JobError, JobResult, JobsContext};
use read::FileRow;

/// One problem of the file: where (row number as the spreadsheet shows it, the column header, the value)
/// and why. `row` is `None` for a problem of the whole file (wrong template, corrupt file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    pub row: Option<u64>,
    pub column: Option<String>,
    pub value: Option<String>,
    pub message: String,
}

/// A row left alone, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedRow {
    pub row: u64,
    pub reason: String,
}

/// The result of an import: how many records were imported out of how many in the file, the errors and
/// the skipped rows, each with its row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportSummary {
    pub template: String,
    /// Data rows in the file.
    pub total: u64,
    pub imported: u64,
    pub imported_rows: Vec<u64>,
    pub skipped: Vec<SkippedRow>,
    pub errors: Vec<RowError>,
    /// Whether valid rows were to be imported despite errors.
    pub partial: bool,
}

impl ImportSummary {
    /// "Imported 8 of 10 records; 1 skipped; 1 error (nothing was imported)."
    pub fn text(&self) -> String {
        let mut s = format!(
            "Imported {} of {} records; {} skipped; {} error{}",
            self.imported,
            self.total,
            self.skipped.len(),
            self.errors.len(),
            if self.errors.len() == 1 { "" } else { "s" }
        );
        if !self.errors.is_empty() && self.imported == 0 {
            s.push_str(" (nothing was imported)");
        }
        s.push('.');
        s
    }

    /// Whether the import counts as failed: a file-level error, or row errors without partial import.
    pub fn failed(&self) -> bool {
        self.errors.iter().any(|e| e.row.is_none()) || (!self.errors.is_empty() && !self.partial)
    }
}

/// "the file has 40000000 bytes; an import may have at most 33554432 bytes".
fn too_large_message(size: Option<u64>, max: u64) -> String {
    match size {
        Some(size) => format!("the file has {size} bytes; an import may have at most {max} bytes"),
        None => format!("the file is larger than an import may be ({max} bytes)"),
    }
}

/// What a user asks to import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRequest {
    pub template: ImportTemplate,
    pub format: ImportFormat,
    /// Import the valid rows even when others have errors (default: all or nothing).
    #[serde(default)]
    pub partial: bool,
    #[serde(default)]
    pub integration: Option<IntegrationTask>,
}

/// A validated row ready to be written.
#[derive(Debug, Clone)]
struct ValidRow {
    number: u64,
    key: String,
    columns: BTreeMap<String, String>,
    /// The parent reference this row depends on, if any.
    parent: Option<String>,
}

/// The import use cases.
#[derive(Debug, Clone)]
pub struct Importer {
    ctx: JobsContext,
}

impl Importer {
    pub fn new(ctx: JobsContext) -> Self {
        Self { ctx }
    }

    /// The template file (XLSX with Instructions and Data sheets, or CSV).
    pub fn template(&self, template: ImportTemplate, format: ImportFormat) -> JobResult<Bytes> {
        template.file(format)
    }

    /// Stores the template under the tenant's prefix and returns a download link (≤ 15 minutes).
    pub async fn template_url(
        &self,
        tenant: &TenantId,
        template: ImportTemplate,
        format: ImportFormat,
    ) -> JobResult<PresignedUrl> {
        let key = format!("templates/{}.{}", template.name(), format.extension());
        self.ctx
            .storage
            .put(tenant, &key, format.content_type(), template.file(format)?)
            .await?;
        let expiry = self.ctx.settings.link_expiry.min(MAX_PRESIGN_EXPIRY);
        Ok(self
            .ctx
            .storage
            .presign_get(tenant, &key, expiry, self.ctx.clock.now())
            .await?)
    }

    /// Creates the import job and a link to upload the file to (a presigned PUT in AWS). Call
    /// [`Self::submit`] once the file is uploaded.
    pub async fn begin_upload(
        &self,
        tenant: &TenantId,
        request: &ImportRequest,
        user: &str,
    ) -> JobResult<(Job, PresignedUrl)> {
        let job = self.create_job(tenant, request, user).await?;
        let key = job.file_key.clone().unwrap_or_default();
        let expiry = self.ctx.settings.link_expiry.min(MAX_PRESIGN_EXPIRY);
        let url = self
            .ctx
            .storage
            .presign_put(tenant, &key, expiry, self.ctx.clock.now())
            .await?;
        Ok((job, url))
    }

    /// Stores an uploaded file directly (the local stack) and queues the import.
    pub async fn upload(
        &self,
        tenant: &TenantId,
        request: &ImportRequest,
        user: &str,
        body: Bytes,
    ) -> JobResult<Job> {
        if u64::try_from(body.len()).unwrap_or(u64::MAX) > self.ctx.settings.max_import_bytes {
            return Err(JobError::invalid(
                "file",
                format!(
                    "is larger than {} bytes",
                    self.ctx.settings.max_import_bytes
                ),
            ));
        }
        let job = self.create_job(tenant, request, user).await?;
        let key = job.file_key.clone().unwrap_or_default();
        self.ctx
            .storage
            .put(tenant, &key, request.format.content_type(), body)
            .await?;
        job::enqueue(&self.ctx, &job).await?;
        Ok(job)
    }

    /// Queues an import whose file was uploaded through the link of [`Self::begin_upload`].
    pub async fn submit(&self, tenant: &TenantId, id: &str) -> JobResult<Job> {
        let job = job::load(&self.ctx, tenant, id).await?;
        let key = job.file_key.clone().unwrap_or_default();
        self.check_uploaded_size(tenant, &key).await?;
        job::enqueue(&self.ctx, &job).await?;
        Ok(job)
    }

    /// Refuses (and removes) an uploaded file larger than an import may be, before anything reads it.
    async fn check_uploaded_size(&self, tenant: &TenantId, key: &str) -> JobResult<()> {
        let max = self.ctx.settings.max_import_bytes;
        match self.ctx.storage.size(tenant, key).await? {
            None => Err(JobError::invalid(
                "file",
                "nothing was uploaded for this import yet",
            )),
            Some(size) if size > max => {
                self.ctx.storage.delete(tenant, key).await?;
                Err(JobError::invalid(
                    "file",
                    too_large_message(Some(size), max),
                ))
            }
            Some(_) => Ok(()),
        }
    }

    async fn create_job(
        &self,
        tenant: &TenantId,
        request: &ImportRequest,
        user: &str,
    ) -> JobResult<Job> {
        let mut details = json!({
            "name": request.template.title(),
            "template": request.template.name(),
            "format": request.format,
            "partial": request.partial,
        });
        if let Some(task) = &request.integration {
            details["integration"] = serde_json::to_value(task)
                .map_err(|e| JobError::invalid("integration", e.to_string()))?;
        }
        let mut job = job::new_job(
            &self.ctx,
            tenant,
            JobKind::Import,
            &request.template.name(),
            &request.template.title(),
            user,
            details,
        );
        job.file_key = Some(format!(
            "imports/{}.{}",
            uuid::Uuid::new_v4().simple(),
            request.format.extension()
        ));
        job::create(&self.ctx, job).await
    }

    /// The import history, newest first.
    pub async fn history(&self, tenant: &TenantId, page: PageRequest) -> JobResult<Page<Job>> {
        Ok(self
            .ctx
            .stores
            .jobs
            .list(tenant, JobKind::Import, page)
            .await?)
    }

    /// The summary of a finished or failed import.
    pub async fn summary(&self, tenant: &TenantId, id: &str) -> JobResult<Option<ImportSummary>> {
        let job = job::load(&self.ctx, tenant, id).await?;
        Ok(job
            .details
            .get("summary")
            .and_then(|s| serde_json::from_value(s.clone()).ok()))
    }

    /// Runs a queued import (the worker's entry point): reads the file, checks every row, writes (all or
    /// nothing unless partial was asked), stores the summary on the job and notifies the user.
    pub async fn run(&self, tenant: &TenantId, id: &str) -> JobResult<Job> {
        let job = job::load(&self.ctx, tenant, id).await?;
        if job.kind != JobKind::Import {
            return Err(JobError::invalid(
                "job",
                format!("{} is not an import", job::display_id(&job.id)),
            ));
        }
        if job.status != JobStatus::Started {
            return Ok(job);
        }
        // A live claim by another worker (a duplicate delivery) is left to finish.
        let now = self.ctx.clock.now();
        if job.details.get("worker").is_some()
            && job.lease_expires_at.is_some_and(|until| until > now)
        {
            return Err(JobError::Busy { id: job.id });
        }
        let mut claimed = job.clone();
        claimed.details["worker"] = json!(uuid::Uuid::new_v4().to_string());
        claimed.lease_expires_at =
            Some(self.ctx.clock.now() + chrono_duration(self.ctx.settings.lease));
        let job = match self.ctx.stores.jobs.put(&claimed, job.version).await {
            Ok(saved) => saved,
            Err(StoreError::Conflict { .. }) => return Err(JobError::Busy { id: job.id }),
            Err(e) => return Err(e.into()),
        };
        let template = job
            .details
            .get("template")
            .and_then(|t| t.as_str())
            .map(ImportTemplate::parse)
            .transpose()?
            .ok_or_else(|| JobError::invalid("job", "names no template"))?;
        let format: ImportFormat = job
            .details
            .get("format")
            .cloned()
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| JobError::invalid("job format", e.to_string()))?
            .ok_or_else(|| JobError::invalid("job", "names no format"))?;
        let partial = job
            .details
            .get("partial")
            .and_then(|p| p.as_bool())
            .unwrap_or(false);
        let key = job.file_key.clone().unwrap_or_default();

        let mut summary = ImportSummary {
            template: template.name(),
            partial,
            ..ImportSummary::default()
        };
        // Read at most the limit: an object uploaded through a presigned link may be of any size, and a
        // worker never holds more of it than an import may have.
        let max = self.ctx.settings.max_import_bytes;
        let bytes = match self.ctx.storage.get_limited(tenant, &key, max).await {
            Ok(Limited::Bytes(b)) => Some(b),
            Ok(Limited::TooLarge { size }) => {
                summary
                    .errors
                    .push(file_error(&too_large_message(size, max)));
                None
            }
            Err(StoreError::NotFound { .. }) => {
                summary
                    .errors
                    .push(file_error("no file was uploaded for this import"));
                None
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(bytes) = bytes {
            // Parsing is CPU work: off the async workers, so the API and other jobs keep answering meanwhile.
            // (Memory is bounded by the reader's own checks: file size here, sheet dimensions in `read`.)
            let inflated = self.ctx.settings.max_xlsx_inflated_bytes;
            let read =
                tokio::task::spawn_blocking(move || read::read(&bytes, format, template, inflated))
                    .await
                    .unwrap_or_else(|_| {
                        Err(read::FileProblem::Corrupt(
                            "the file could not be read".into(),
                        ))
                    });
            match read {
                Err(problem) => summary.errors.push(file_error(problem.message())),
                Ok(rows) => {
                    self.import_rows(tenant, template, rows, &mut summary, &job.created_by)
                        .await?;
                }
            }
        }

        let mut done = job::load(&self.ctx, tenant, &job.id).await?;
        if done.status != JobStatus::Started {
            return Ok(done);
        }
        let now = self.ctx.clock.now();
        done.processed = summary.total;
        done.total = Some(summary.total);
        done.lease_expires_at = None;
        done.details["summary"] = serde_json::to_value(&summary)
            .map_err(|e| JobError::invalid("summary", e.to_string()))?;
        if summary.failed() {
            done.status = JobStatus::Failed;
            done.failed_at = Some(now);
            done.fail_reason = Some(match summary.errors.iter().find(|e| e.row.is_none()) {
                Some(file) => file.message.clone(),
                None => format!(
                    "{} row(s) have errors; nothing was imported",
                    summary.errors.len()
                ),
            });
        } else {
            done.status = JobStatus::Finished;
            done.finished_at = Some(now);
        }
        let saved = self.ctx.stores.jobs.put(&done, done.version).await?;
        job::ended(&self.ctx, &saved, &summary.text()).await?;
        Ok(saved)
    }

    async fn import_rows(
        &self,
        tenant: &TenantId,
        template: ImportTemplate,
        rows: Vec<FileRow>,
        summary: &mut ImportSummary,
        user: &str,
    ) -> JobResult<()> {
        let specs = template.columns();
        let table = template.table();
        summary.total = u64::try_from(rows.len()).unwrap_or(u64::MAX);
        let mut existing: HashMap<String, Option<LookupEntry>> = HashMap::new();

        // Pass 1: each row on its own, and references unique within the file.
        let mut valid: Vec<ValidRow> = Vec::new();
        let mut first_row_of: HashMap<String, u64> = HashMap::new();
        for row in rows {
            if row.cells.iter().all(|c| c.is_empty()) {
                summary.skipped.push(SkippedRow {
                    row: row.number,
                    reason: "blank row".into(),
                });
                continue;
            }
            let before = summary.errors.len();
            let mut columns = BTreeMap::new();
            let mut reference = String::new();
            for (i, spec) in specs.iter().enumerate() {
                let raw = row.cells.get(i).map(String::as_str).unwrap_or("");
                match check_cell(spec, raw) {
                    Ok(value) if i == 0 => reference = value,
                    Ok(value) if value.is_empty() => {}
                    Ok(value) => {
                        columns.insert(spec.field.to_owned(), value);
                    }
                    Err(message) => summary.errors.push(RowError {
                        row: Some(row.number),
                        column: Some(spec.header.to_owned()),
                        value: Some(raw.to_owned()),
                        message,
                    }),
                }
            }
            if row.cells.len() > specs.len()
                && row.cells[specs.len()..].iter().any(|c| !c.is_empty())
            {
                summary.errors.push(RowError {
                    row: Some(row.number),
                    column: None,
                    value: None,
                    message: format!(
                        "the row has values beyond the {} template columns",
                        specs.len()
                    ),
                });
            }
            if !reference.is_empty() {
                if let Some(first) = first_row_of.get(&reference) {
                    summary.errors.push(RowError {
                        row: Some(row.number),
                        column: Some(specs[0].header.to_owned()),
                        value: Some(reference.clone()),
                        message: format!("{} {reference:?} also appears on row {first}; references must be unique", specs[0].header),
                    });
                } else {
                    first_row_of.insert(reference.clone(), row.number);
                }
            }
            if summary.errors.len() == before {
                let parent =
                    self.row_rules(template, &reference, &mut columns, row.number, summary);
                if summary.errors.len() == before {
                    valid.push(ValidRow {
                        number: row.number,
                        key: template.key_of(&reference),
                        columns,
                        parent,
                    });
                }
            }
        }

        // Pass 2: against what the store holds, and links on accounting reference.
        let customers_in_file: HashMap<String, u64> = valid
            .iter()
            .filter(|r| r.columns.get("type").map(String::as_str) == Some("Customer"))
            .map(|r| (r.key.clone(), r.number))
            .collect();
        let mut to_write = Vec::new();
        for row in valid {
            let stored = self
                .existing(tenant, table, &row.key, &mut existing)
                .await?;
            if let Some(stored) = stored {
                if stored.columns == row.columns {
                    summary.skipped.push(SkippedRow {
                        row: row.number,
                        reason: format!(
                            "{} {:?} is already in Ledgerlink with the same data",
                            specs[0].header, row.key
                        ),
                    });
                } else {
                    summary.errors.push(RowError {
                        row: Some(row.number),
                        column: Some(specs[0].header.to_owned()),
                        value: Some(reference_of(template, &row.key)),
                        message: format!(
                            "{} {:?} already exists in Ledgerlink with different data; references must be unique",
                            specs[0].header,
                            reference_of(template, &row.key)
                        ),
                    });
                }
                continue;
            }
            if let Some(parent) = &row.parent
                && let Some(message) = self
                    .parent_problem(
                        tenant,
                        template,
                        &reference_of(template, &row.key),
                        parent,
                        &customers_in_file,
                        &mut existing,
                    )
                    .await?
            {
                let column = match template {
                    ImportTemplate::Firms => "Parent Accounting Reference",
                    ImportTemplate::Contacts => "Firm Accounting Reference",
                    _ => "Client Accounting Reference",
                };
                summary.errors.push(RowError {
                    row: Some(row.number),
                    column: Some(column.to_owned()),
                    value: Some(parent.clone()),
                    message,
                });
                continue;
            }
            to_write.push(row);
        }
        summary.errors.sort_by_key(|e| (e.row, e.column.clone()));
        summary.skipped.sort_by_key(|s| s.row);

        if !summary.errors.is_empty() && !summary.partial {
            return Ok(());
        }
        // Parents before children.
        to_write.sort_by_key(|r| (r.parent.is_some(), r.number));
        let now = self.ctx.clock.now();
        let mut written: Vec<String> = Vec::new();
        for row in to_write {
            let entry = LookupEntry {
                key: row.key.clone(),
                columns: row.columns.clone(),
                version: 0,
                updated_at: now,
                updated_by: format!("import by {user}"),
            };
            match self
                .ctx
                .stores
                .lookups
                .put(tenant, table, &entry, None)
                .await
            {
                Ok(_) => {
                    written.push(row.key);
                    summary.imported += 1;
                    summary.imported_rows.push(row.number);
                }
                Err(e) if !summary.partial => {
                    self.undo(tenant, table, &written).await;
                    summary.imported = 0;
                    summary.imported_rows.clear();
                    if let StoreError::Conflict { .. } = e {
                        summary.errors.push(RowError {
                            row: Some(row.number),
                            column: Some(specs[0].header.to_owned()),
                            value: Some(reference_of(template, &row.key)),
                            message: "was created by someone else during the import".into(),
                        });
                        return Ok(());
                    }
                    return Err(e.into());
                }
                Err(StoreError::Conflict { .. }) => summary.errors.push(RowError {
                    row: Some(row.number),
                    column: Some(specs[0].header.to_owned()),
                    value: Some(reference_of(template, &row.key)),
                    message: "was created by someone else during the import".into(),
                }),
                // Partial: what was written stays (each record is whole); a retry skips it as unchanged.
                Err(e) => return Err(e.into()),
            }
        }
        summary.imported_rows.sort_unstable();
        summary.errors.sort_by_key(|e| (e.row, e.column.clone()));
        Ok(())
    }

    /// Template-specific rules of one row; returns the parent reference the row links to.
    fn row_rules(
        &self,
        template: ImportTemplate,
        reference: &str,
        columns: &mut BTreeMap<String, String>,
        number: u64,
        summary: &mut ImportSummary,
    ) -> Option<String> {
        match template {
            ImportTemplate::Firms => {
                let is_client = columns.get("type").map(String::as_str) == Some("Client");
                let parent = columns.get("parent").cloned();
                let problem = match (is_client, &parent) {
                    (true, None) => Some(
                        "is required for a Client: the Accounting Reference of its Customer"
                            .to_owned(),
                    ),
                    (false, Some(_)) => {
                        Some("only a Client has a Parent Accounting Reference".to_owned())
                    }
                    (true, Some(p)) if p == reference => {
                        Some("a client cannot be its own parent".to_owned())
                    }
                    _ => None,
                };
                if let Some(message) = problem {
                    summary.errors.push(RowError {
                        row: Some(number),
                        column: Some("Parent Accounting Reference".into()),
                        value: parent.clone(),
                        message,
                    });
                    return None;
                }
                parent
            }
            ImportTemplate::Contacts => columns.get("firm").cloned(),
            ImportTemplate::Locations => columns.get("client").cloned(),
            ImportTemplate::Lookup(_) => None,
        }
    }

    /// Why `parent` cannot be linked to, or `None` when it can.
    async fn parent_problem(
        &self,
        tenant: &TenantId,
        template: ImportTemplate,
        reference: &str,
        parent: &str,
        customers_in_file: &HashMap<String, u64>,
        cache: &mut HashMap<String, Option<LookupEntry>>,
    ) -> JobResult<Option<String>> {
        let stored = self
            .existing(tenant, LookupTable::Firms, parent, cache)
            .await?;
        Ok(match template {
            ImportTemplate::Firms => {
                let stored_customer = stored
                    .as_ref()
                    .is_some_and(|e| e.columns.get("type").map(String::as_str) == Some("Customer"));
                if customers_in_file.contains_key(parent) || stored_customer {
                    None
                } else if stored.is_some() {
                    Some(format!(
                        "client {reference:?} names parent {parent:?}, which is in Ledgerlink but is not a Customer"
                    ))
                } else {
                    Some(format!(
                        "client {reference:?} names parent {parent:?}, but no Customer with that Accounting Reference \
                         is in this file or in Ledgerlink"
                    ))
                }
            }
            ImportTemplate::Contacts => stored.is_none().then(|| {
                format!("contact {reference:?} names firm {parent:?}, but no firm with that Accounting Reference is in Ledgerlink")
            }),
            _ => stored.is_none().then(|| {
                format!(
                    "location {reference:?} names client {parent:?}, but no client with that Accounting Reference is in \
                     Ledgerlink (import firms first)"
                )
            }),
        })
    }

    async fn existing(
        &self,
        tenant: &TenantId,
        table: LookupTable,
        key: &str,
        cache: &mut HashMap<String, Option<LookupEntry>>,
    ) -> JobResult<Option<LookupEntry>> {
        let cache_key = format!("{}/{key}", table.as_str());
        if let Some(hit) = cache.get(&cache_key) {
            return Ok(hit.clone());
        }
        let found = self.ctx.stores.lookups.get(tenant, table, key).await?;
        cache.insert(cache_key, found.clone());
        Ok(found)
    }

    /// Deletes rows this import wrote (all-or-nothing after a store failure).
    async fn undo(&self, tenant: &TenantId, table: LookupTable, keys: &[String]) {
        for key in keys {
            if let Err(e) = self.ctx.stores.lookups.delete(tenant, table, key).await {
                tracing::error!(key = %key, error = %e, "rolling back an imported row failed");
            }
        }
    }
}

fn reference_of(template: ImportTemplate, key: &str) -> String {
    match template {
        ImportTemplate::Locations => key
            .strip_prefix(template::LOCATION_KEY_PREFIX)
            .unwrap_or(key)
            .to_owned(),
        _ => key.to_owned(),
    }
}

fn file_error(message: &str) -> RowError {
    RowError {
        row: None,
        column: None,
        value: None,
        message: message.to_owned(),
    }
}

/// The cell's value as stored, or why it is not acceptable.
fn check_cell(spec: &ColumnSpec, raw: &str) -> Result<String, String> {
    if let Some(error) = raw.strip_prefix("#ERROR: ") {
        return Err(error.to_owned());
    }
    let value = raw.trim();
    if value.is_empty() {
        return if spec.required {
            Err("is required".into())
        } else {
            Ok(String::new())
        };
    }
    let chars = value.chars().count();
    if chars > spec.max_len {
        return Err(format!(
            "is {chars} characters long; at most {} are allowed",
            spec.max_len
        ));
    }
    match spec.kind {
        CellKind::Text => Ok(value.to_owned()),
        CellKind::Integer { min, max } => match value.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n.to_string()),
            Ok(_) => Err(format!("must be from {min} to {max}")),
            Err(_) => Err("must be a whole number".into()),
        },
        CellKind::Decimal => value
            .parse::<rust_decimal::Decimal>()
            .map(|d| d.normalize().to_string())
            .map_err(|_| "must be a number with '.' as the decimal separator".into()),
        CellKind::Email => {
            let ok = value.split_once('@').is_some_and(|(user, domain)| {
                !user.is_empty() && domain.contains('.') && !domain.starts_with('.')
            }) && !value.contains(char::is_whitespace);
            if ok {
                Ok(value.to_owned())
            } else {
                Err("must be an e-mail address".into())
            }
        }
        CellKind::OneOf(words) => words
            .iter()
            .find(|w| w.eq_ignore_ascii_case(value))
            .map(|w| (*w).to_owned())
            .ok_or_else(|| format!("must be one of: {}", words.join(", "))),
        CellKind::Country | CellKind::Currency => {
            let len = if spec.kind == CellKind::Country { 2 } else { 3 };
            if value.len() == len && value.chars().all(|c| c.is_ascii_alphabetic()) {
                Ok(value.to_ascii_uppercase())
            } else {
                Err(format!("must be a {len}-letter code"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: CellKind, max_len: usize, required: bool) -> ColumnSpec {
        ColumnSpec {
            header: "H",
            field: "h",
            required,
            max_len,
            kind,
            note: "",
        }
    }

    #[test]
    fn a_client_id_longer_than_twenty_characters_is_refused_with_its_length() {
        let result = check_cell(&spec(CellKind::Text, 20, true), "ABCDEFGHIJKLMNOPQRSTU");
        assert_eq!(
            result,
            Err("is 21 characters long; at most 20 are allowed".to_owned())
        );
    }

    #[test]
    fn one_of_values_are_stored_as_the_template_spells_them() {
        let result = check_cell(
            &spec(CellKind::OneOf(template::FIRM_TYPES), 10, true),
            "customer",
        );
        assert_eq!(result, Ok("Customer".to_owned()));
    }

    #[test]
    fn blank_required_cells_and_bad_numbers_are_errors_but_blank_optional_cells_are_not() {
        assert_eq!(
            check_cell(&spec(CellKind::Text, 5, true), "  "),
            Err("is required".to_owned())
        );
        assert_eq!(
            check_cell(&spec(CellKind::Text, 5, false), ""),
            Ok(String::new())
        );
        assert!(
            check_cell(
                &spec(CellKind::Integer { min: 0, max: 365 }, 3, false),
                "4x"
            )
            .is_err()
        );
        assert!(
            check_cell(
                &spec(CellKind::Integer { min: 0, max: 365 }, 3, false),
                "400"
            )
            .is_err()
        );
        assert!(check_cell(&spec(CellKind::Email, 50, false), "not-an-address").is_err());
        assert_eq!(
            check_cell(&spec(CellKind::Currency, 3, false), "eur"),
            Ok("EUR".to_owned())
        );
    }

    #[test]
    fn the_summary_says_nothing_was_imported_when_errors_stopped_the_import() {
        let summary = ImportSummary {
            total: 3,
            errors: vec![file_error("x")],
            ..ImportSummary::default()
        };
        assert_eq!(
            summary.text(),
            "Imported 0 of 3 records; 0 skipped; 1 error (nothing was imported)."
        );
        assert!(summary.failed());
    }
}
