//! Saved export definitions: which data, which columns in which order, which rows, which format, which file
//! name.
//!
//! Each definition is its own record in the [`ledgerlink_ports::ExportDefinitionStore`] (one row, one
//! DynamoDB item), versioned so two people editing one definition cannot overwrite each other unseen.
//! Definitions saved by earlier versions inside the tenant record's settings (`export-definition/<id>`) are
//! moved to their own records the first time the tenant's definitions are read.

use chrono::{DateTime, NaiveDate, Utc};
use ledgerlink_domain::{Period, TenantId};
use ledgerlink_ports::{
    ExportDefinitionRecord, JobKind, LookupTable, PageRequest, StatusFilter, StoreError,
};
use serde::{Deserialize, Serialize};

use crate::{JobError, JobResult, JobsContext};

/// Prefix of the tenant settings entries that held definitions before they were their own records.
pub const SETTINGS_PREFIX: &str = "export-definition/";
/// Longest definition id.
const MAX_ID_LEN: usize = 64;
/// Longest file-name pattern.
const MAX_FILE_NAME_LEN: usize = 120;
/// The placeholders a file-name pattern may use.
pub const FILE_NAME_PLACEHOLDERS: &[&str] = &["{id}", "{name}", "{date}", "{period}", "{job}"];
/// Definitions read per page when listing.
const LIST_PAGE: u32 = 200;

/// The file format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExportFormat {
    Csv,
    Xlsx,
}

impl ExportFormat {
    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Xlsx => "xlsx",
        }
    }
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv",
            Self::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

/// Which data an export reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ExportSource {
    /// Synced objects and their status (the Integration page), narrowed by a store-side filter.
    Statuses {
        #[serde(default)]
        filter: StatusFilter,
    },
    /// Every attempt of the synced objects the filter selects: one row per attempt, newest first per object.
    StatusHistory {
        #[serde(default)]
        filter: StatusFilter,
    },
    /// One lookup table.
    Lookup { table: LookupTable },
    /// The export or import history.
    Jobs { job_kind: JobKind },
    /// The Integrations Manager: every task of every integration with its state in one accounting period
    /// (`YYYYPP`, or `current` for Vantagepoint's active period when the job starts).
    IntegrationPeriods {
        #[serde(default = "current_period")]
        period: String,
    },
    /// Vantagepoint firms (through the PSA port).
    VpFirms,
    /// Vantagepoint firms with the ledger account each is linked to and its sync status.
    FirmAccounts,
    /// Vantagepoint employees.
    VpEmployees,
    /// Vantagepoint GL accounts.
    VpAccounts,
    /// Posted Vantagepoint AR invoices and credit memos.
    VpInvoices,
    /// Exact Online customer and supplier accounts (through the ledger port).
    ExactAccounts,
    /// Exact Online payments and receipts.
    ExactPayments,
    /// Exact Online GL accounts.
    ExactGlAccounts,
    /// Exact Online VAT codes.
    ExactTaxCodes,
}

fn current_period() -> String {
    "current".to_owned()
}

/// What the page's form shows for one kind of source.
#[derive(Debug, Clone, Serialize)]
pub struct SourceInfo {
    /// The `kind` of [`ExportSource`].
    pub kind: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    /// `store`, `vantagepoint`, `ledger` or `vantagepoint+ledger`: what the export reads.
    pub reads: &'static str,
    /// The fields a column may show: all of them for store sources; the usual ones for the ERP sources
    /// (whose records may carry more, under their wire names).
    pub fields: &'static [&'static str],
    /// Whether `fields` is the complete list (columns naming other fields are refused).
    pub fixed_fields: bool,
}

/// Every kind of source, in the order the page offers them.
pub const SOURCES: &[SourceInfo] = &[
    SourceInfo {
        kind: "statuses",
        title: "Sync statuses",
        description: "Every synced object with its status and last message (the Integration page).",
        reads: "store",
        fields: crate::source::STATUS_FIELDS,
        fixed_fields: true,
    },
    SourceInfo {
        kind: "status-history",
        title: "Sync status history",
        description: "Every attempt of every synced object: when, which status, which message.",
        reads: "store",
        fields: crate::source::HISTORY_FIELDS,
        fixed_fields: true,
    },
    SourceInfo {
        kind: "lookup",
        title: "Lookup table",
        description: "The rows of one lookup table (key, its columns, who changed it when).",
        reads: "store",
        fields: &["key", "updated_at", "updated_by"],
        fixed_fields: false,
    },
    SourceInfo {
        kind: "jobs",
        title: "Export or import history",
        description: "The export (or import) history with every column of the history tab.",
        reads: "store",
        fields: crate::source::JOB_FIELDS,
        fixed_fields: true,
    },
    SourceInfo {
        kind: "integration-periods",
        title: "Integrations Manager periods",
        description: "Each task of each integration and its state (run, not run, failed) in one period.",
        reads: "store",
        fields: crate::source::PERIOD_FIELDS,
        fixed_fields: true,
    },
    SourceInfo {
        kind: "vp-firms",
        title: "Vantagepoint firms",
        description: "Every firm in Vantagepoint (clients and vendors).",
        reads: "vantagepoint",
        fields: &[
            "ClientID",
            "Name",
            "Client",
            "Vendor",
            "Status",
            "Type",
            "ClientInd",
            "VendorInd",
            "ModDate",
        ],
        fixed_fields: false,
    },
    SourceInfo {
        kind: "firm-accounts",
        title: "Firms with their ledger accounts",
        description: "Every Vantagepoint firm with the ledger account it is linked to and its sync status.",
        reads: "vantagepoint+ledger",
        fields: crate::source::FIRM_ACCOUNT_FIELDS,
        fixed_fields: true,
    },
    SourceInfo {
        kind: "vp-employees",
        title: "Vantagepoint employees",
        description: "Every employee in Vantagepoint.",
        reads: "vantagepoint",
        fields: &[
            "Employee",
            "FirstName",
            "LastName",
            "EMail",
            "Status",
            "ModDate",
        ],
        fixed_fields: false,
    },
    SourceInfo {
        kind: "vp-accounts",
        title: "Vantagepoint GL accounts",
        description: "Vantagepoint's chart of accounts.",
        reads: "vantagepoint",
        fields: &["Account", "Name", "Type", "Status"],
        fixed_fields: false,
    },
    SourceInfo {
        kind: "vp-invoices",
        title: "Vantagepoint invoices",
        description: "Posted AR invoices and credit memos (one row per invoice, period and posting).",
        reads: "vantagepoint",
        fields: &[
            "key",
            "document_type",
            "Invoice",
            "Period",
            "PostSeq",
            "TransDate",
            "DueDate",
            "BillingClientID",
            "BillingClientName",
            "Description",
            "CurrencyCode",
            "amount",
        ],
        fixed_fields: false,
    },
    SourceInfo {
        kind: "exact-accounts",
        title: "Exact Online accounts",
        description: "Customer and supplier accounts in Exact Online.",
        reads: "ledger",
        fields: &[
            "ID",
            "Code",
            "Name",
            "Status",
            "IsSupplier",
            "Email",
            "Phone",
            "City",
            "Country",
            "VATNumber",
            "Modified",
        ],
        fixed_fields: false,
    },
    SourceInfo {
        kind: "exact-payments",
        title: "Exact Online payments",
        description: "Payments and receipts registered in Exact Online.",
        reads: "ledger",
        fields: &[
            "ID",
            "EntryNumber",
            "InvoiceNumber",
            "YourRef",
            "AccountCode",
            "AccountName",
            "AmountDC",
            "AmountFC",
            "Currency",
            "EntryDate",
            "LastPaymentDate",
            "IsFullyPaid",
            "Description",
        ],
        fixed_fields: false,
    },
    SourceInfo {
        kind: "exact-gl-accounts",
        title: "Exact Online G/L accounts",
        description: "Exact Online's chart of accounts.",
        reads: "ledger",
        fields: &[
            "ID",
            "Code",
            "Description",
            "Type",
            "BalanceSide",
            "BalanceType",
            "IsBlocked",
        ],
        fixed_fields: false,
    },
    SourceInfo {
        kind: "exact-tax-codes",
        title: "Exact Online VAT codes",
        description: "Exact Online's VAT codes.",
        reads: "ledger",
        fields: &["ID", "Code", "Description", "Percentage", "Type"],
        fixed_fields: false,
    },
];

impl ExportSource {
    /// The `kind` tag of this source.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Statuses { .. } => "statuses",
            Self::StatusHistory { .. } => "status-history",
            Self::Lookup { .. } => "lookup",
            Self::Jobs { .. } => "jobs",
            Self::IntegrationPeriods { .. } => "integration-periods",
            Self::VpFirms => "vp-firms",
            Self::FirmAccounts => "firm-accounts",
            Self::VpEmployees => "vp-employees",
            Self::VpAccounts => "vp-accounts",
            Self::VpInvoices => "vp-invoices",
            Self::ExactAccounts => "exact-accounts",
            Self::ExactPayments => "exact-payments",
            Self::ExactGlAccounts => "exact-gl-accounts",
            Self::ExactTaxCodes => "exact-tax-codes",
        }
    }

    /// What the page shows about this source.
    pub fn info(&self) -> &'static SourceInfo {
        let kind = self.kind();
        SOURCES
            .iter()
            .find(|s| s.kind == kind)
            .unwrap_or(&SOURCES[0])
    }

    /// The fields a definition may pick for the sources whose fields are fixed; `None` for the PSA and
    /// ledger sources, whose fields are those of the records (their wire names, e.g. `ClientID`, `Code`),
    /// and lookup tables, whose columns are free-form (plus `key`).
    pub fn known_fields(&self) -> Option<&'static [&'static str]> {
        let info = self.info();
        info.fixed_fields.then_some(info.fields)
    }
}

/// One column of the file: the field it shows and its header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportColumn {
    pub field: String,
    pub header: String,
}

impl ExportColumn {
    pub fn new(field: &str, header: &str) -> Self {
        Self {
            field: field.to_owned(),
            header: header.to_owned(),
        }
    }
}

/// How a condition compares a field with its value (text comparisons, case-insensitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConditionOp {
    Equals,
    NotEquals,
    Contains,
    StartsWith,
    /// The field is present and not blank (the value is ignored).
    NotEmpty,
    /// A date or time field on or after the value (`YYYY-MM-DD`).
    OnOrAfter,
    /// A date or time field before the value (`YYYY-MM-DD`): with [`Self::OnOrAfter`], a date range.
    Before,
    /// A period (`YYYYPP`) or date field in the accounting period of the value: `YYYYPP`, or `current`
    /// (Vantagepoint's active period, fixed when the job starts).
    InPeriod,
}

/// The value of an `in-period` condition that means "the active period when the export starts".
pub const CURRENT_PERIOD: &str = "current";

/// One row condition; a row is exported when every condition holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Condition {
    pub field: String,
    pub op: ConditionOp,
    #[serde(default)]
    pub value: String,
}

/// The `YYYY-MM-DD` (or `YYYYPP`) start of a date, time or period text.
fn date_part(text: &str) -> Option<NaiveDate> {
    text.get(..10)
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
}

/// Whether `actual` (a `YYYYPP` period, or a date / time) lies in `period`. A date is in the period of its
/// calendar month (the fiscal calendar of the demo and of most firms; documents carry their period).
fn in_period(actual: &str, period: &str) -> bool {
    let Ok(period) = Period::parse(period) else {
        return false;
    };
    if let Ok(p) = Period::parse(actual) {
        return p == period;
    }
    match date_part(actual) {
        Some(date) => {
            use chrono::Datelike;
            u32::try_from(date.year()).ok() == Some(period.year())
                && Period::parse(&format!("{}{:02}", date.year(), date.month())).ok()
                    == Some(period)
        }
        None => false,
    }
}

impl Condition {
    pub fn holds(&self, actual: Option<&str>) -> bool {
        let actual = actual.unwrap_or("").trim();
        let (a, v) = (actual.to_lowercase(), self.value.trim().to_lowercase());
        match self.op {
            ConditionOp::Equals => a == v,
            ConditionOp::NotEquals => a != v,
            ConditionOp::Contains => a.contains(&v),
            ConditionOp::StartsWith => a.starts_with(&v),
            ConditionOp::NotEmpty => !a.is_empty(),
            ConditionOp::OnOrAfter => {
                matches!((date_part(actual), date_part(&v)), (Some(a), Some(v)) if a >= v)
            }
            ConditionOp::Before => {
                matches!((date_part(actual), date_part(&v)), (Some(a), Some(v)) if a < v)
            }
            ConditionOp::InPeriod => in_period(actual, &v),
        }
    }

    /// Checks the value against the operator (a date for the date range, a period for `in-period`).
    fn validate(&self, at: &str) -> JobResult<()> {
        if self.field.trim().is_empty() {
            return Err(JobError::invalid(
                format!("{at}.field"),
                "name the field the condition tests",
            ));
        }
        let value = self.value.trim();
        match self.op {
            ConditionOp::OnOrAfter | ConditionOp::Before if date_part(value).is_none() => {
                Err(JobError::invalid(
                    format!("{at}.value"),
                    format!("{value:?} is not a date; write it as YYYY-MM-DD, e.g. 2026-12-01"),
                ))
            }
            ConditionOp::InPeriod
                if !value.eq_ignore_ascii_case(CURRENT_PERIOD) && Period::parse(value).is_err() =>
            {
                Err(JobError::invalid(
                    format!("{at}.value"),
                    format!(
                        "{value:?} is not an accounting period; write YYYYPP (e.g. 202612) or `current`"
                    ),
                ))
            }
            _ => Ok(()),
        }
    }
}

/// A saved export definition of one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportDefinition {
    /// Short id, e.g. `customer-summary`: lower-case letters, digits and `-`.
    pub id: String,
    /// The name jobs show: "<name> — <date>" in the history.
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub source: ExportSource,
    /// The file's columns, in order.
    pub columns: Vec<ExportColumn>,
    /// Row conditions, all of which must hold (period, status, date range, custom).
    #[serde(default)]
    pub filter: Vec<Condition>,
    pub format: ExportFormat,
    /// The downloaded file's name without extension; may use {id}, {name}, {date}, {period}, {job}.
    /// The definition's id when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// Runs on its own on this schedule, notifying (and mailing) a user when done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<crate::schedule::ExportSchedule>,
    #[serde(default)]
    pub updated_by: String,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
    /// The stored version (0 for a definition never saved). An update names the version it read; a
    /// definition changed by someone else meanwhile is refused, not overwritten.
    #[serde(default)]
    pub version: u64,
}

impl ExportDefinition {
    /// Checks the definition on its own: id, name, columns (at least one, known fields, unique headers),
    /// conditions and the file-name pattern.
    pub fn validate(&self) -> JobResult<()> {
        if self.id.is_empty()
            || self.id.len() > MAX_ID_LEN
            || !self
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(JobError::invalid(
                "id",
                format!(
                    "{:?} must be 1 to 64 lower-case letters, digits or '-'",
                    self.id
                ),
            ));
        }
        if self.name.trim().is_empty() {
            return Err(JobError::invalid("name", "must not be blank"));
        }
        if self.name.chars().count() > 120 || self.name.chars().any(char::is_control) {
            return Err(JobError::invalid(
                "name",
                "at most 120 printable characters",
            ));
        }
        if self.columns.is_empty() {
            return Err(JobError::invalid(
                "columns",
                "at least one column is needed",
            ));
        }
        let known = self.source.known_fields();
        let mut headers = std::collections::BTreeSet::new();
        for (i, column) in self.columns.iter().enumerate() {
            if column.field.trim().is_empty() || column.header.trim().is_empty() {
                return Err(JobError::invalid(
                    format!("columns[{i}]"),
                    "field and header must not be blank",
                ));
            }
            if let Some(known) = known
                && !known.contains(&column.field.as_str())
            {
                return Err(JobError::invalid(
                    format!("columns[{i}].field"),
                    format!(
                        "{:?} is not a field of this source (known: {})",
                        column.field,
                        known.join(", ")
                    ),
                ));
            }
            if !headers.insert(column.header.trim().to_lowercase()) {
                return Err(JobError::invalid(
                    format!("columns[{i}].header"),
                    format!("{:?} appears twice", column.header),
                ));
            }
        }
        for (i, condition) in self.filter.iter().enumerate() {
            condition.validate(&format!("filter[{i}]"))?;
        }
        if let ExportSource::IntegrationPeriods { period } = &self.source
            && !period.eq_ignore_ascii_case(CURRENT_PERIOD)
            && Period::parse(period).is_err()
        {
            return Err(JobError::invalid(
                "source.period",
                format!("{period:?} is not an accounting period; write YYYYPP or `current`"),
            ));
        }
        if let Some(pattern) = &self.file_name {
            validate_file_name(pattern)?;
        }
        if let Some(schedule) = &self.schedule {
            schedule.validate()?;
        }
        Ok(())
    }

    /// The file name (without extension) of this definition's export run as job `job` on `date` for
    /// `period`: the pattern with its placeholders filled, reduced to safe characters.
    pub fn file_name_for(&self, job: &str, date: NaiveDate, period: Option<&str>) -> String {
        let pattern = self.file_name.as_deref().unwrap_or("{id}");
        let filled = pattern
            .replace("{id}", &self.id)
            .replace("{name}", &self.name)
            .replace("{date}", &date.format("%Y-%m-%d").to_string())
            .replace("{period}", period.unwrap_or("all"))
            .replace("{job}", job);
        let safe: String = filled
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let trimmed = safe.trim_matches(|c| c == '-' || c == '.');
        if trimmed.is_empty() {
            self.id.clone()
        } else {
            trimmed.chars().take(MAX_FILE_NAME_LEN).collect()
        }
    }

    /// The accounting period an `in-period` condition names (after `current` was resolved), if any.
    pub fn period(&self) -> Option<&str> {
        self.filter
            .iter()
            .find(|c| c.op == ConditionOp::InPeriod)
            .map(|c| c.value.as_str())
            .or(match &self.source {
                ExportSource::IntegrationPeriods { period } => Some(period.as_str()),
                _ => None,
            })
            .filter(|p| !p.eq_ignore_ascii_case(CURRENT_PERIOD))
    }

    /// Whether the definition needs the active accounting period resolved when it starts.
    pub fn wants_current_period(&self) -> bool {
        self.filter.iter().any(|c| {
            c.op == ConditionOp::InPeriod && c.value.trim().eq_ignore_ascii_case(CURRENT_PERIOD)
        }) || matches!(&self.source, ExportSource::IntegrationPeriods { period } if period.eq_ignore_ascii_case(CURRENT_PERIOD))
    }

    /// This definition with `current` replaced by `period` (what a job snapshots).
    pub fn with_period(mut self, period: &str) -> Self {
        for condition in &mut self.filter {
            if condition.op == ConditionOp::InPeriod
                && condition.value.trim().eq_ignore_ascii_case(CURRENT_PERIOD)
            {
                condition.value = period.to_owned();
            }
        }
        if let ExportSource::IntegrationPeriods { period: p } = &mut self.source
            && p.eq_ignore_ascii_case(CURRENT_PERIOD)
        {
            *p = period.to_owned();
        }
        self
    }
}

fn validate_file_name(pattern: &str) -> JobResult<()> {
    if pattern.trim().is_empty() || pattern.chars().count() > MAX_FILE_NAME_LEN {
        return Err(JobError::invalid(
            "file_name",
            format!("must be 1 to {MAX_FILE_NAME_LEN} characters"),
        ));
    }
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            return Err(JobError::invalid("file_name", "a `{` has no closing `}`"));
        };
        let placeholder = &rest[open..open + close + 1];
        if !FILE_NAME_PLACEHOLDERS.contains(&placeholder) {
            return Err(JobError::invalid(
                "file_name",
                format!(
                    "{placeholder} is not a placeholder; use {}",
                    FILE_NAME_PLACEHOLDERS.join(", ")
                ),
            ));
        }
        rest = &rest[open + close + 1..];
    }
    if pattern.chars().any(|c| {
        c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|')
    }) {
        return Err(JobError::invalid(
            "file_name",
            "must not contain / \\ : * ? \" < > | or control characters",
        ));
    }
    Ok(())
}

/// The export definitions of every tenant (their own records in the definition store).
#[derive(Debug, Clone)]
pub struct ExportDefinitions {
    ctx: JobsContext,
}

impl ExportDefinitions {
    pub fn new(ctx: JobsContext) -> Self {
        Self { ctx }
    }

    /// Creates a definition that must not exist yet (a conflict names it otherwise).
    pub async fn create(
        &self,
        tenant: &TenantId,
        definition: &ExportDefinition,
        user: &str,
    ) -> JobResult<ExportDefinition> {
        self.write(tenant, definition, user, None).await
    }

    /// Updates a definition from the version the caller read (`definition.version`); a definition changed
    /// meanwhile is a conflict, never overwritten.
    pub async fn update(
        &self,
        tenant: &TenantId,
        definition: &ExportDefinition,
        user: &str,
    ) -> JobResult<ExportDefinition> {
        self.write(tenant, definition, user, Some(definition.version))
            .await
    }

    /// Saves a definition whatever its stored version (creates it when absent): the demo set-up and
    /// scripts that own their definitions.
    pub async fn save(
        &self,
        tenant: &TenantId,
        definition: &ExportDefinition,
        user: &str,
    ) -> JobResult<ExportDefinition> {
        for _ in 0..5 {
            let current = self.get(tenant, &definition.id).await?.map(|d| d.version);
            match self.write(tenant, definition, user, current).await {
                Err(JobError::Store(StoreError::Conflict { .. })) => continue,
                other => return other,
            }
        }
        Err(JobError::Busy {
            id: definition.id.clone(),
        })
    }

    /// A copy of definition `id` under `new_id`, named `new_name` (or "<name> (copy)").
    pub async fn copy(
        &self,
        tenant: &TenantId,
        id: &str,
        new_id: &str,
        new_name: Option<&str>,
        user: &str,
    ) -> JobResult<ExportDefinition> {
        let mut copy = self.require(tenant, id).await?;
        copy.id = new_id.to_owned();
        copy.name = match new_name {
            Some(name) => name.to_owned(),
            None => format!("{} (copy)", copy.name),
        };
        copy.version = 0;
        self.create(tenant, &copy, user).await
    }

    async fn write(
        &self,
        tenant: &TenantId,
        definition: &ExportDefinition,
        user: &str,
        expected: Option<u64>,
    ) -> JobResult<ExportDefinition> {
        definition.validate()?;
        self.migrate_legacy(tenant).await?;
        let mut saved = definition.clone();
        saved.updated_by = user.to_owned();
        saved.updated_at = Some(self.ctx.clock.now());
        let record = ExportDefinitionRecord {
            tenant: tenant.clone(),
            id: saved.id.clone(),
            body: encode(&saved)?,
            version: saved.version,
            updated_at: self.ctx.clock.now(),
        };
        let stored = self.ctx.stores.definitions.put(&record, expected).await?;
        saved.version = stored.version;
        Ok(saved)
    }

    pub async fn get(&self, tenant: &TenantId, id: &str) -> JobResult<Option<ExportDefinition>> {
        self.migrate_legacy(tenant).await?;
        self.ctx
            .stores
            .definitions
            .get(tenant, id)
            .await?
            .map(|record| decode(&record))
            .transpose()
    }

    /// A definition that must exist.
    pub async fn require(&self, tenant: &TenantId, id: &str) -> JobResult<ExportDefinition> {
        self.get(tenant, id)
            .await?
            .ok_or_else(|| JobError::not_found(format!("export definition {id}")))
    }

    /// Every definition of the tenant, by id.
    pub async fn list(&self, tenant: &TenantId) -> JobResult<Vec<ExportDefinition>> {
        self.migrate_legacy(tenant).await?;
        let mut out = Vec::new();
        let mut request = PageRequest::first(LIST_PAGE);
        loop {
            let page = self
                .ctx
                .stores
                .definitions
                .list(tenant, request.clone())
                .await?;
            for record in &page.items {
                out.push(decode(record)?);
            }
            match page.next_cursor {
                Some(cursor) => request.cursor = Some(cursor),
                None => return Ok(out),
            }
        }
    }

    pub async fn delete(&self, tenant: &TenantId, id: &str) -> JobResult<()> {
        self.migrate_legacy(tenant).await?;
        Ok(self.ctx.stores.definitions.delete(tenant, id).await?)
    }

    /// Moves definitions an earlier version kept in the tenant record's settings to their own records
    /// (once: the settings entries are removed after the move; a record already there is kept).
    async fn migrate_legacy(&self, tenant: &TenantId) -> JobResult<()> {
        for _ in 0..5 {
            let Some(mut record) = self.ctx.stores.tenants.get(tenant).await? else {
                return Ok(());
            };
            let legacy: Vec<(String, serde_json::Value)> = record
                .settings
                .iter()
                .filter(|(k, _)| k.starts_with(SETTINGS_PREFIX))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if legacy.is_empty() {
                return Ok(());
            }
            for (key, value) in &legacy {
                let id = key.trim_start_matches(SETTINGS_PREFIX);
                let mut definition: ExportDefinition = serde_json::from_value(value.clone())
                    .map_err(|e| {
                        JobError::Store(StoreError::permanent(
                            format!("stored export definition {id} cannot be decoded"),
                            e,
                        ))
                    })?;
                definition.version = 0;
                let moved = ExportDefinitionRecord {
                    tenant: tenant.clone(),
                    id: definition.id.clone(),
                    body: encode(&definition)?,
                    version: 0,
                    updated_at: definition
                        .updated_at
                        .unwrap_or_else(|| self.ctx.clock.now()),
                };
                match self.ctx.stores.definitions.put(&moved, None).await {
                    Ok(_) | Err(StoreError::Conflict { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
                record.settings.remove(key);
            }
            let version = record.version;
            record.updated_at = self.ctx.clock.now();
            match self.ctx.stores.tenants.put(&record, Some(version)).await {
                Ok(_) => return Ok(()),
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

fn encode(definition: &ExportDefinition) -> JobResult<serde_json::Value> {
    let mut value = serde_json::to_value(definition)
        .map_err(|e| JobError::invalid("definition", format!("cannot be encoded: {e}")))?;
    // The version lives on the record; the body never carries a stale copy of it.
    if let Some(map) = value.as_object_mut() {
        map.remove("version");
    }
    Ok(value)
}

fn decode(record: &ExportDefinitionRecord) -> JobResult<ExportDefinition> {
    let mut definition: ExportDefinition =
        serde_json::from_value(record.body.clone()).map_err(|e| {
            JobError::Store(StoreError::permanent(
                format!("stored export definition {} cannot be decoded", record.id),
                e,
            ))
        })?;
    definition.version = record.version;
    Ok(definition)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn condition(field: &str, op: ConditionOp, value: &str) -> Condition {
        Condition {
            field: field.into(),
            op,
            value: value.into(),
        }
    }

    #[test]
    fn a_date_range_keeps_dates_from_its_start_to_before_its_end() {
        let from = condition("updated_at", ConditionOp::OnOrAfter, "2026-12-01");
        let to = condition("updated_at", ConditionOp::Before, "2027-01-01");

        assert!(from.holds(Some("2026-12-01T00:00:00Z")) && to.holds(Some("2026-12-01T00:00:00Z")));
        assert!(from.holds(Some("2026-12-31")) && to.holds(Some("2026-12-31")));
        assert!(!from.holds(Some("2026-11-30T23:59:59Z")));
        assert!(!to.holds(Some("2027-01-01")));
        assert!(
            !from.holds(None),
            "a row without the date is not in the range"
        );
    }

    #[test]
    fn in_period_matches_periods_and_the_dates_of_that_month() {
        let december = condition("period", ConditionOp::InPeriod, "202612");

        assert!(december.holds(Some("202612")));
        assert!(december.holds(Some("2026-12-04T14:39:22Z")));
        assert!(!december.holds(Some("202611")));
        assert!(!december.holds(Some("2027-12-04")));
        assert!(!december.holds(Some("")));
    }

    #[test]
    fn conditions_and_file_names_are_checked_with_what_to_write_instead() {
        let mut definition = ExportDefinition {
            id: "invoices".into(),
            name: "Invoices".into(),
            description: String::new(),
            source: ExportSource::Statuses {
                filter: StatusFilter::default(),
            },
            columns: vec![ExportColumn::new("key", "Invoice")],
            filter: vec![condition("updated_at", ConditionOp::OnOrAfter, "last week")],
            format: ExportFormat::Csv,
            file_name: None,
            schedule: None,
            updated_by: String::new(),
            updated_at: None,
            version: 0,
        };
        let bad_date = definition.validate().map_err(|e| e.to_string());
        definition.filter = vec![condition("period", ConditionOp::InPeriod, "2026-12")];
        let bad_period = definition.validate().map_err(|e| e.to_string());
        definition.filter = vec![condition("period", ConditionOp::InPeriod, "current")];
        definition.file_name = Some("invoices-{month}".into());
        let bad_placeholder = definition.validate().map_err(|e| e.to_string());
        definition.file_name = Some("../../etc/passwd".into());
        let traversal = definition.validate().map_err(|e| e.to_string());
        definition.file_name = Some("Invoices {period} ({date})".into());

        assert!(
            matches!(bad_date, Err(e) if e.contains("filter[0].value") && e.contains("YYYY-MM-DD"))
        );
        assert!(matches!(bad_period, Err(e) if e.contains("YYYYPP")));
        assert!(matches!(bad_placeholder, Err(e) if e.contains("{month}")));
        assert!(matches!(traversal, Err(e) if e.contains("file_name")));
        assert!(definition.validate().is_ok());
        assert!(definition.wants_current_period());
        let resolved = definition.clone().with_period("202612");
        assert_eq!(resolved.period(), Some("202612"));
        assert_eq!(
            resolved.file_name_for(
                "17",
                NaiveDate::from_ymd_opt(2026, 12, 4).unwrap_or_default(),
                resolved.period()
            ),
            "Invoices-202612--2026-12-04"
        );
    }
}
