//! Where export rows come from: a [`RowSource`] yields [`Record`]s in batches, so an export never holds more
//! than one batch. Store-backed sources page through the store (and count in a first pass, so progress has
//! a total); PSA and ledger sources read their list once (those APIs return whole lists).

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use ledgerlink_domain::ObjectType;
use ledgerlink_domain::TenantId;
use ledgerlink_ports::psa::PostedArDocument;
use ledgerlink_ports::psa::{FirmRole, TimeWindow};
use ledgerlink_ports::{
    Job, JobKind, LookupEntry, LookupTable, ObjectRef, ObjectStatus, PageRequest, StatusAttempt,
    StatusFilter,
};
use serde::Serialize;

use crate::definitions::ExportSource;
use crate::{JobError, JobResult, JobsContext};

/// Rows read from a store per page.
const PAGE: u32 = 500;
/// Attempts exported per object (the history keeps the recent ones).
const HISTORY_DEPTH: u32 = 100;
/// Rows handed out per batch by list-backed sources.
const BATCH: usize = 1000;

/// The fields of a status row. `document` is the number people know (an invoice's number without its
/// period and posting sequence); `period` is the document's accounting period when its key carries one.
pub const STATUS_FIELDS: &[&str] = &[
    "object_type",
    "key",
    "document",
    "period",
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

/// The fields of a status-history row (one attempt of one object).
pub const HISTORY_FIELDS: &[&str] = &[
    "object_type",
    "key",
    "document",
    "period",
    "current_status",
    "at",
    "attempt",
    "status",
    "status_label",
    "message",
];

/// The fields of an Integrations Manager row (one task of one integration in one period).
pub const PERIOD_FIELDS: &[&str] = &[
    "integration_id",
    "integration",
    "period",
    "task",
    "state",
    "job_id",
    "message",
    "at",
];

/// The fields of a firm-with-its-ledger-account row.
pub const FIRM_ACCOUNT_FIELDS: &[&str] = &[
    "client_id",
    "client",
    "vendor",
    "name",
    "role",
    "ledger_account_id",
    "ledger_account_code",
    "ledger_account_name",
    "sync_status",
    "last_message",
];

/// Rows of an ERP list read per request where the API pages (Exact's change feeds).
const MAX_CHANGE_BATCHES: usize = 10_000;

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

/// The document number and accounting period in an object key: `000000010804.202612.3` is document
/// `000000010804` of period `202612`; keys without a period are their own document.
pub fn document_and_period(key: &str) -> (String, Option<String>) {
    let mut parts = key.split('.');
    let document = parts.next().unwrap_or(key).to_owned();
    let period = parts
        .next()
        .filter(|p| ledgerlink_domain::Period::parse(p).is_ok())
        .map(str::to_owned);
    match period {
        Some(p) => (document, Some(p)),
        None => (key.to_owned(), None),
    }
}

pub fn status_record(s: &ObjectStatus) -> Record {
    let (document, period) = document_and_period(s.object.key.as_str());
    let mut r = Record::new()
        .with("object_type", s.object.object_type.as_str())
        .with("key", s.object.key.as_str())
        .with("document", document)
        .with("category", s.category.as_str())
        .with("status", s.status.as_str())
        .with("status_label", s.status.label())
        .with("attempts", s.attempts.to_string())
        .with("created_at", time_text(s.created_at))
        .with("updated_at", time_text(s.updated_at));
    r.set_opt("period", period);
    r.set_opt("source_version", s.source_version.clone());
    r.set_opt("target_id", s.target_id.clone());
    r.set_opt("last_message", s.last_message.clone());
    r
}

fn history_record(s: &ObjectStatus, a: &StatusAttempt) -> Record {
    let (document, period) = document_and_period(s.object.key.as_str());
    let mut r = Record::new()
        .with("object_type", s.object.object_type.as_str())
        .with("key", s.object.key.as_str())
        .with("document", document)
        .with("current_status", s.status.label())
        .with("at", time_text(a.at))
        .with("attempt", a.attempt.to_string())
        .with("status", a.status.as_str())
        .with("status_label", a.status.label());
    r.set_opt("period", period);
    r.set_opt("message", a.message.clone());
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
    History(StatusFilter),
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
            StoreList::History(filter) => {
                let page = stores.statuses.list(&self.tenant, filter, request).await?;
                let mut rows = Vec::new();
                for status in &page.items {
                    for attempt in stores
                        .statuses
                        .history(&status.object, HISTORY_DEPTH)
                        .await?
                    {
                        rows.push(history_record(status, &attempt));
                    }
                }
                (rows, page.next_cursor)
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
    // Every record ever changed: VP's ModDate is never before 1900, and the window ends after now.
    let everything = || {
        TimeWindow::new(
            Utc.with_ymd_and_hms(1900, 1, 1, 0, 0, 0)
                .single()
                .unwrap_or_default(),
            ctx.clock.now() + chrono::Duration::days(1),
        )
    };
    let list = |rows: Vec<Record>| -> Box<dyn RowSource> { Box::new(ListSource::new(rows)) };
    Ok(match source {
        ExportSource::Statuses { filter } => store(StoreList::Statuses(filter.clone())),
        ExportSource::StatusHistory { filter } => store(StoreList::History(filter.clone())),
        ExportSource::Lookup { table } => store(StoreList::Lookup(*table)),
        ExportSource::Jobs { job_kind } => store(StoreList::Jobs(*job_kind)),
        ExportSource::IntegrationPeriods { period } => {
            list(integration_periods(ctx, tenant, period).await?)
        }
        ExportSource::VpFirms => list(serialized(
            &ctx.psa_of(tenant)
                .await?
                .changed_firms(everything(), FirmRole::Any)
                .await?,
        )?),
        ExportSource::FirmAccounts => list(firm_accounts(ctx, tenant, everything()).await?),
        ExportSource::VpEmployees => list(serialized(
            &ctx.psa_of(tenant)
                .await?
                .changed_employees(everything())
                .await?,
        )?),
        ExportSource::VpAccounts => list(serialized(&ctx.psa_of(tenant).await?.accounts().await?)?),
        ExportSource::VpInvoices => {
            let documents = ctx
                .psa_of(tenant)
                .await?
                .posted_ar_documents(everything())
                .await?;
            list(documents.iter().map(ar_record).collect::<JobResult<_>>()?)
        }
        ExportSource::ExactAccounts => {
            let ledger = ctx.ledger_of(tenant).await?;
            let accounts = read_all(|cursor| {
                let ledger = ledger.clone();
                async move { ledger.accounts_since(cursor.as_deref()).await }
            })
            .await?;
            list(serialized(&accounts)?)
        }
        ExportSource::ExactPayments => {
            let ledger = ctx.ledger_of(tenant).await?;
            let payments = read_all(|cursor| {
                let ledger = ledger.clone();
                async move { ledger.payments_since(cursor.as_deref()).await }
            })
            .await?;
            list(serialized(&payments)?)
        }
        ExportSource::ExactGlAccounts => list(serialized(
            &ctx.ledger_of(tenant).await?.gl_accounts().await?,
        )?),
        ExportSource::ExactTaxCodes => list(serialized(
            &ctx.ledger_of(tenant).await?.tax_codes().await?,
        )?),
    })
}

/// Every item of a ledger change feed, from the beginning (later changes of a record replace earlier
/// ones, keyed by the record's serialised `ID`, so a record changed twice is one row).
async fn read_all<T, F, Fut>(mut read: F) -> JobResult<Vec<T>>
where
    T: Serialize,
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<
            Output = ledgerlink_ports::ledger::LedgerResult<
                ledgerlink_ports::ledger::ChangeBatch<T>,
            >,
        >,
{
    let mut by_id: BTreeMap<String, usize> = BTreeMap::new();
    let mut items: Vec<T> = Vec::new();
    let mut cursor = None;
    for _ in 0..MAX_CHANGE_BATCHES {
        let batch = read(cursor.clone()).await?;
        for item in batch.items {
            let id = serde_json::to_value(&item)
                .ok()
                .and_then(|v| v.get("ID").and_then(|id| id.as_str().map(str::to_owned)));
            match id {
                Some(id) => match by_id.get(&id) {
                    Some(&at) => items[at] = item,
                    None => {
                        by_id.insert(id, items.len());
                        items.push(item);
                    }
                },
                None => items.push(item),
            }
        }
        if !batch.more {
            return Ok(items);
        }
        cursor = Some(batch.next_cursor);
    }
    Ok(items)
}

/// A posted AR document as a row: its wire fields, plus `key` (`invoice.period.postseq`), `document_type`
/// and `amount` (the sum of its billing lines, in the billing currency).
fn ar_record(document: &PostedArDocument) -> JobResult<Record> {
    let (mut record, kind, amount) = match document {
        PostedArDocument::Invoice(i) => (
            Record::from_serialize(i)?,
            "invoice",
            i.lines
                .iter()
                .map(|l| l.amount)
                .sum::<rust_decimal::Decimal>(),
        ),
        PostedArDocument::CreditMemo(c) => (
            Record::from_serialize(c)?,
            "credit-memo",
            c.lines
                .iter()
                .map(|l| l.amount)
                .sum::<rust_decimal::Decimal>(),
        ),
    };
    record.fields.remove("lines");
    record.fields.remove("Lines");
    record.insert("key", document.external_key());
    record.insert("document_type", kind);
    record.insert("amount", amount.to_string());
    Ok(record)
}

/// Every Vantagepoint firm with the ledger account it is linked to (id, code and name as the ledger has
/// them now) and the firm's sync status.
async fn firm_accounts(
    ctx: &JobsContext,
    tenant: &TenantId,
    window: TimeWindow,
) -> JobResult<Vec<Record>> {
    let firms = ctx
        .psa_of(tenant)
        .await?
        .changed_firms(window, FirmRole::Any)
        .await?;
    let ledger = ctx.ledger_of(tenant).await?;
    let accounts = read_all(|cursor| {
        let ledger = ledger.clone();
        async move { ledger.accounts_since(cursor.as_deref()).await }
    })
    .await?;
    let by_id: BTreeMap<String, &ledgerlink_domain::exact::Account> = accounts
        .iter()
        .filter_map(|a| a.id.map(|id| (id.to_string(), a)))
        .collect();
    let mut rows = Vec::with_capacity(firms.len());
    for firm in &firms {
        let Some(client_id) = firm.client_id.clone() else {
            continue;
        };
        let mut r = Record::new()
            .with("client_id", client_id.clone())
            .with("name", firm.name.clone());
        let firm_fields = Record::from_serialize(firm)?;
        r.set_opt("client", firm_fields.get("Client").map(str::to_owned));
        r.set_opt("vendor", firm_fields.get("Vendor").map(str::to_owned));
        let role = match (firm_fields.get("Client"), firm_fields.get("Vendor")) {
            (Some(_), Some(_)) => "client and vendor",
            (Some(_), None) => "client",
            (None, Some(_)) => "vendor",
            (None, None) => "",
        };
        r.insert("role", role);
        let linked = ctx
            .stores
            .links
            .exact_id(tenant, ObjectType::Firm, &client_id)
            .await?;
        if let Some(id) = &linked {
            r.insert("ledger_account_id", id.clone());
            if let Some(account) = by_id.get(&id.to_lowercase()).or_else(|| by_id.get(id)) {
                let fields = Record::from_serialize(*account)?;
                r.set_opt(
                    "ledger_account_code",
                    fields.get("Code").map(|c| c.trim().to_owned()),
                );
                r.insert("ledger_account_name", account.name.clone());
            }
        }
        if let Ok(key) = ledgerlink_domain::ObjectKey::parse(&client_id) {
            let object = ObjectRef {
                tenant: tenant.clone(),
                object_type: ObjectType::Firm,
                key,
            };
            if let Some(status) = ctx.stores.statuses.get(&object).await? {
                r.insert("sync_status", status.status.label());
                r.set_opt("last_message", status.last_message.clone());
            }
        }
        rows.push(r);
    }
    Ok(rows)
}

/// Each task of each integration of the tenant with its state in `period` (`YYYYPP`).
async fn integration_periods(
    ctx: &JobsContext,
    tenant: &TenantId,
    period: &str,
) -> JobResult<Vec<Record>> {
    let number: u32 = period
        .parse()
        .map_err(|_| JobError::invalid("source.period", format!("{period:?} is not YYYYPP")))?;
    let mut rows = Vec::new();
    let mut request = PageRequest::first(PAGE);
    loop {
        let page = ctx
            .stores
            .integrations
            .list(tenant, request.clone())
            .await?;
        for integration in &page.items {
            let runs = ctx
                .stores
                .integrations
                .runs(tenant, &integration.id, number)
                .await?;
            let tasks = integration
                .import_tasks
                .iter()
                .map(|t| format!("import:{t}"))
                .chain(
                    integration
                        .export_tasks
                        .iter()
                        .map(|t| format!("export:{t}")),
                );
            for task in tasks {
                let run = runs.iter().find(|r| r.task == task);
                let state = match run.map(|r| r.state) {
                    Some(ledgerlink_ports::TaskRunState::Run) => "run",
                    Some(ledgerlink_ports::TaskRunState::Failed) => "failed",
                    Some(ledgerlink_ports::TaskRunState::NotRun) | None => "not run",
                };
                let mut r = Record::new()
                    .with("integration_id", integration.id.clone())
                    .with("integration", integration.name.clone())
                    .with("period", period)
                    .with("task", task.clone())
                    .with("state", state);
                if let Some(run) = run {
                    r.set_opt("job_id", run.job_id.as_deref().map(crate::job::display_id));
                    r.set_opt("message", run.message.clone());
                    r.insert("at", time_text(run.at));
                }
                rows.push(r);
            }
        }
        match page.next_cursor {
            Some(cursor) => request.cursor = Some(cursor),
            None => return Ok(rows),
        }
    }
}
