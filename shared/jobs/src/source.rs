//! Where export rows come from: a [`RowSource`] yields [`Record`]s in batches, so an export never holds more
//! than one batch. Store-backed sources page through the store (and count in a first pass, so progress has
//! a total); PSA and ledger sources read their list once (those APIs return whole lists).

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use ledgerlink_domain::TenantId;
use ledgerlink_ports::psa::{FirmRole, TimeWindow};
use ledgerlink_ports::{
    Job, JobKind, LookupEntry, LookupTable, ObjectStatus, PageRequest, StatusFilter,
};
use serde::Serialize;

use crate::definitions::ExportSource;
use crate::{JobError, JobResult, JobsContext};

/// Rows read from a store per page.
const PAGE: u32 = 500;
/// Rows handed out per batch by list-backed sources.
const BATCH: usize = 1000;

/// The fields of a status row.
pub const STATUS_FIELDS: &[&str] = &[
    "object_type",
    "key",
    "category",
    "status",
    "status_label",
    "source_version",
    "target_id",
    "last_message",
    "attempts",
    "created_at",
    "updated_at",
];

/// The fields of a job row (the export history's columns).
pub const JOB_FIELDS: &[&str] = &[
    "id",
    "kind",
    "description",
    "created_by",
    "definition",
    "progress",
    "processed",
    "total",
    "status",
    "started_at",
    "finished_at",
    "failed_at",
    "fail_reason",
    "file_key",
    "attempt",
    "original_id",
];

/// One row as named text fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    fields: BTreeMap<String, String>,
}

impl Record {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn with(mut self, field: &str, value: impl Into<String>) -> Self {
        self.insert(field, value);
        self
    }
    pub fn insert(&mut self, field: &str, value: impl Into<String>) {
        self.fields.insert(field.to_owned(), value.into());
    }
    pub fn get(&self, field: &str) -> Option<&str> {
        self.fields.get(field).map(String::as_str)
    }
    fn set_opt(&mut self, field: &str, value: Option<impl Into<String>>) {
        if let Some(v) = value {
            self.insert(field, v);
        }
    }

    /// The top-level fields of a serialisable record, under their serialised (wire) names. Scalars become
    /// text; nested values become JSON text; nulls are left out.
    pub fn from_serialize(record: &impl Serialize) -> JobResult<Self> {
        let value = serde_json::to_value(record)
            .map_err(|e| JobError::file("a source record cannot be encoded", e))?;
        let mut out = Self::new();
        if let serde_json::Value::Object(map) = value {
            for (k, v) in map {
                match v {
                    serde_json::Value::Null => {}
                    serde_json::Value::String(s) => out.insert(&k, s),
                    serde_json::Value::Bool(b) => out.insert(&k, b.to_string()),
                    serde_json::Value::Number(n) => out.insert(&k, n.to_string()),
                    other => out.insert(&k, other.to_string()),
                }
            }
        }
        Ok(out)
    }
}

pub(crate) fn time_text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn status_record(s: &ObjectStatus) -> Record {
    let mut r = Record::new()
        .with("object_type", s.object.object_type.as_str())
        .with("key", s.object.key.as_str())
        .with("category", s.category.as_str())
        .with("status", s.status.as_str())
        .with("status_label", s.status.label())
        .with("attempts", s.attempts.to_string())
        .with("created_at", time_text(s.created_at))
        .with("updated_at", time_text(s.updated_at));
    r.set_opt("source_version", s.source_version.clone());
    r.set_opt("target_id", s.target_id.clone());
    r.set_opt("last_message", s.last_message.clone());
    r
}

pub fn job_record(j: &Job) -> Record {
    let status = match j.status {
        ledgerlink_ports::JobStatus::Started => "started",
        ledgerlink_ports::JobStatus::Finished => "finished",
        ledgerlink_ports::JobStatus::Failed => "failed",
    };
    let kind = match j.kind {
        JobKind::Export => "export",
        JobKind::Import => "import",
    };
    let total = j.total.map(|t| t.to_string()).unwrap_or_else(|| "?".into());
    let mut r = Record::new()
        .with("id", crate::job::display_id(&j.id))
        .with("kind", kind)
        .with("description", j.description.clone())
        .with("created_by", j.created_by.clone())
        .with("definition", j.definition.clone())
        .with("progress", format!("{} / {total}", j.processed))
        .with("processed", j.processed.to_string())
        .with("status", status)
        .with("started_at", time_text(j.started_at))
        .with("attempt", j.attempt.to_string());
    r.set_opt("total", j.total.map(|t| t.to_string()));
    r.set_opt("finished_at", j.finished_at.map(time_text));
    r.set_opt("failed_at", j.failed_at.map(time_text));
    r.set_opt("fail_reason", j.fail_reason.clone());
    r.set_opt("file_key", j.file_key.clone());
    r.set_opt(
        "original_id",
        j.original_id.as_deref().map(crate::job::display_id),
    );
    r
}

pub fn lookup_record(e: &LookupEntry) -> Record {
    let mut r = Record::new()
        .with("key", e.key.clone())
        .with("updated_at", time_text(e.updated_at))
        .with("updated_by", e.updated_by.clone());
    for (k, v) in &e.columns {
        r.insert(k, v.clone());
    }
    r
}

/// Yields an export's rows in batches.
#[async_trait]
pub trait RowSource: Send + std::fmt::Debug {
    /// How many rows the source will yield (before the definition's filter), when it can tell.
    async fn total(&mut self) -> JobResult<Option<u64>>;
    /// The next batch of rows; `None` once every row was yielded.
    async fn next_batch(&mut self) -> JobResult<Option<Vec<Record>>>;
}

/// Rows already in memory (PSA and ledger lists, tests).
#[derive(Debug)]
pub struct ListSource {
    total: u64,
    rows: std::vec::IntoIter<Record>,
}

impl ListSource {
    pub fn new(rows: Vec<Record>) -> Self {
        Self {
            total: u64::try_from(rows.len()).unwrap_or(u64::MAX),
            rows: rows.into_iter(),
        }
    }
}

#[async_trait]
impl RowSource for ListSource {
    async fn total(&mut self) -> JobResult<Option<u64>> {
        Ok(Some(self.total))
    }
    async fn next_batch(&mut self) -> JobResult<Option<Vec<Record>>> {
        let batch: Vec<Record> = self.rows.by_ref().take(BATCH).collect();
        Ok((!batch.is_empty()).then_some(batch))
    }
}

/// Which store list a [`StoreSource`] pages through.
#[derive(Debug, Clone)]
enum StoreList {
    Statuses(StatusFilter),
    Lookup(LookupTable),
    Jobs(JobKind),
}

/// Pages through a store list; `total` counts in a first pass over the same list (constant memory).
#[derive(Debug)]
pub struct StoreSource {
    ctx: JobsContext,
    tenant: TenantId,
    list: StoreList,
    /// `None` once the last page was read.
    cursor: Option<Option<String>>,
}

impl StoreSource {
    async fn page(&self, cursor: Option<String>) -> JobResult<(Vec<Record>, Option<String>)> {
        let request = PageRequest {
            limit: PAGE,
            cursor,
        };
        let stores = &self.ctx.stores;
        Ok(match &self.list {
            StoreList::Statuses(filter) => {
                let page = stores.statuses.list(&self.tenant, filter, request).await?;
                (
                    page.items.iter().map(status_record).collect(),
                    page.next_cursor,
                )
            }
            StoreList::Lookup(table) => {
                let page = stores.lookups.list(&self.tenant, *table, request).await?;
                (
                    page.items.iter().map(lookup_record).collect(),
                    page.next_cursor,
                )
            }
            StoreList::Jobs(kind) => {
                let page = stores.jobs.list(&self.tenant, *kind, request).await?;
                (
                    page.items.iter().map(job_record).collect(),
                    page.next_cursor,
                )
            }
        })
    }
}

#[async_trait]
impl RowSource for StoreSource {
    async fn total(&mut self) -> JobResult<Option<u64>> {
        let mut count = 0u64;
        let mut cursor = None;
        loop {
            let (rows, next) = self.page(cursor).await?;
            count += u64::try_from(rows.len()).unwrap_or(0);
            match next {
                Some(c) => cursor = Some(c),
                None => return Ok(Some(count)),
            }
        }
    }
    async fn next_batch(&mut self) -> JobResult<Option<Vec<Record>>> {
        let Some(cursor) = self.cursor.take() else {
            return Ok(None);
        };
        let (rows, next) = self.page(cursor).await?;
        self.cursor = next.map(Some);
        if rows.is_empty() && self.cursor.is_none() {
            return Ok(None);
        }
        Ok(Some(rows))
    }
}

fn serialized<T: Serialize>(items: &[T]) -> JobResult<Vec<Record>> {
    items.iter().map(Record::from_serialize).collect()
}

/// The rows of `source` for `tenant`.
pub async fn open(
    ctx: &JobsContext,
    tenant: &TenantId,
    source: &ExportSource,
) -> JobResult<Box<dyn RowSource>> {
    let store = |list| -> Box<dyn RowSource> {
        Box::new(StoreSource {
            ctx: ctx.clone(),
            tenant: tenant.clone(),
            list,
            cursor: Some(None),
        })
    };
    let psa = || {
        ctx.psa.clone().ok_or(JobError::NotConfigured {
            what: "the Vantagepoint connection",
        })
    };
    let ledger = || {
        ctx.ledger.clone().ok_or(JobError::NotConfigured {
            what: "the ledger connection",
        })
    };
    // Every record ever changed: VP's ModDate is never before 1900, and the window ends after now.
    let everything = || {
        TimeWindow::new(
            Utc.with_ymd_and_hms(1900, 1, 1, 0, 0, 0)
                .single()
                .unwrap_or_default(),
            ctx.clock.now() + chrono::Duration::days(1),
        )
    };
    Ok(match source {
        ExportSource::Statuses { filter } => store(StoreList::Statuses(filter.clone())),
        ExportSource::Lookup { table } => store(StoreList::Lookup(*table)),
        ExportSource::Jobs { job_kind } => store(StoreList::Jobs(*job_kind)),
        ExportSource::VpFirms => Box::new(ListSource::new(serialized(
            &psa()?.changed_firms(everything(), FirmRole::Any).await?,
        )?)),
        ExportSource::VpEmployees => Box::new(ListSource::new(serialized(
            &psa()?.changed_employees(everything()).await?,
        )?)),
        ExportSource::VpAccounts => {
            Box::new(ListSource::new(serialized(&psa()?.accounts().await?)?))
        }
        ExportSource::ExactGlAccounts => Box::new(ListSource::new(serialized(
            &ledger()?.gl_accounts().await?,
        )?)),
        ExportSource::ExactTaxCodes => {
            Box::new(ListSource::new(serialized(&ledger()?.tax_codes().await?)?))
        }
    })
}
