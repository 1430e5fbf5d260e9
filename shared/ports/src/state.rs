//! State ports: everything the flows remember between invocations.
//!
//! Each trait is one capability (status, links, lookups, ...), not one table: both adapters keep all of them
//! in one store (one DynamoDB table, one SQLite file). Records carry no secrets: connection secrets are
//! references to Secrets Manager / SSM parameters; OAuth tokens live only in [`TokenStore`].

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use ledgerlink_domain::{Category, Division, Flow, ObjectKey, ObjectType, SyncStatus, TenantId};
use serde::{Deserialize, Serialize};

use crate::{Page, PageRequest, StoreResult};

// ---------------------------------------------------------------------------------------------------------
// Tenants and connections
// ---------------------------------------------------------------------------------------------------------

/// Where a secret lives; the value itself is never stored in the state store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "kebab-case")]
pub enum SecretRef {
    /// A Secrets Manager secret name or ARN.
    SecretsManager(String),
    /// An SSM SecureString parameter name.
    Ssm(String),
    /// The embedded secret store's key (local stack only).
    Local(String),
}

/// Whether a connection may be used by the flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConnectionState {
    Active,
    /// Paused by an operator, or because its token could not be refreshed (re-consent needed).
    Paused,
}

/// A tenant and its two connections.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    /// Vantagepoint domain and path, e.g. `https://customer.example.com/vantagepoint`.
    pub vp_base_url: String,
    pub vp_database: String,
    /// Culture of the Vantagepoint connection, e.g. `en-US`; must match the users' login language.
    pub vp_culture: String,
    pub vp_client_id: String,
    pub vp_client_secret: SecretRef,
    pub vp_username: String,
    pub vp_password: SecretRef,
    /// Exact Online site, e.g. `https://start.exactonline.nl`.
    pub exact_base_url: String,
    pub exact_division: Division,
    pub exact_client_id: String,
    pub exact_client_secret: SecretRef,
    pub exact_webhook_secret: SecretRef,
    pub state: ConnectionState,
    /// Why the connection is paused, when it is.
    pub paused_reason: Option<String>,
    /// Free-form settings (source of truth per entity, filters, truncation rules, integration level, ...).
    pub settings: BTreeMap<String, serde_json::Value>,
    pub version: u64,
    pub updated_at: DateTime<Utc>,
}

#[async_trait]
pub trait TenantStore: Send + Sync + std::fmt::Debug {
    async fn get(&self, tenant: &TenantId) -> StoreResult<Option<Tenant>>;
    /// Creates (`expected_version: None`) or updates a tenant; returns it with its new version.
    async fn put(&self, tenant: &Tenant, expected_version: Option<u64>) -> StoreResult<Tenant>;
    /// All tenants (an operator list; small).
    async fn list(&self, page: PageRequest) -> StoreResult<Page<Tenant>>;
}

// ---------------------------------------------------------------------------------------------------------
// ID links and lookup tables
// ---------------------------------------------------------------------------------------------------------

/// A link between a Vantagepoint key and an Exact Online id for one object type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdLink {
    pub tenant: TenantId,
    pub object_type: ObjectType,
    pub vp_key: String,
    pub exact_id: String,
    pub created_at: DateTime<Utc>,
    /// What was last synchronised over a master-data link (`None` for documents, and for links written
    /// before this record had it: those are compared by value until their next synchronisation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<LinkSync>,
}

impl IdLink {
    pub fn new(
        tenant: TenantId,
        object_type: ObjectType,
        vp_key: impl Into<String>,
        exact_id: impl Into<String>,
        created_at: DateTime<Utc>,
    ) -> Self {
        Self {
            tenant,
            object_type,
            vp_key: vp_key.into(),
            exact_id: exact_id.into(),
            created_at,
            sync: None,
        }
    }
}

/// The state of a master-data link after its last synchronisation, per side: the hash of the mapped fields
/// as they stood then, and the record's version after OUR last write there (Vantagepoint `ModDate`, the
/// ledger's modification time). A change seen at or below that version, or with the same mapped hash, is
/// the echo of our own write; anything else is a real change by a user of that system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkSync {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vp_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vp_version: Option<NaiveDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger_version: Option<DateTime<Utc>>,
    pub synced_at: DateTime<Utc>,
}

/// Both directions of every link are written together (one transaction), so a lookup either way agrees.
#[async_trait]
pub trait LinkStore: Send + Sync + std::fmt::Debug {
    /// Writes the link both ways, with its sync state. Linking a key that is already linked to a
    /// *different* id (or an id linked to a different key) is a [`crate::StoreError::Conflict`]; writing the
    /// same link again is a no-op that keeps the stored sync state (see [`LinkStore::save_sync`]).
    async fn link(&self, link: &IdLink) -> StoreResult<()>;
    /// The whole link of a Vantagepoint key, with its sync state.
    async fn get(
        &self,
        tenant: &TenantId,
        object_type: ObjectType,
        vp_key: &str,
    ) -> StoreResult<Option<IdLink>>;
    /// Replaces the sync state of an existing link. A [`crate::StoreError::Conflict`] when the key is no
    /// longer linked to `link.exact_id` (an operator relinked or unlinked it meanwhile).
    async fn save_sync(&self, link: &IdLink) -> StoreResult<()>;
    /// Moves the link of `link.vp_key` to `link.exact_id` in one write (the old id's reverse direction is
    /// removed) and returns the id it was linked to before. A [`crate::StoreError::Conflict`] when the new
    /// id is linked to another key. An operator's decision: flows never relink on their own.
    async fn relink(&self, link: &IdLink) -> StoreResult<Option<String>>;
    async fn exact_id(
        &self,
        tenant: &TenantId,
        object_type: ObjectType,
        vp_key: &str,
    ) -> StoreResult<Option<String>>;
    async fn vp_key(
        &self,
        tenant: &TenantId,
        object_type: ObjectType,
        exact_id: &str,
    ) -> StoreResult<Option<String>>;
    /// Removes both directions (e.g. a firm deselected from "Available to: Accounting Users").
    async fn unlink(
        &self,
        tenant: &TenantId,
        object_type: ObjectType,
        vp_key: &str,
    ) -> StoreResult<()>;
}

/// The operator-editable lookup tables of the integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LookupTable {
    TaxCodes,
    /// Combined taxes (several VP tax codes on one line, e.g. `V21+ECO`) → the Exact VAT code booking them.
    CombinedTaxCodes,
    BankCodes,
    Employees,
    Firms,
    GlAccounts,
    Currencies,
    PaymentTerms,
    JournalCodes,
}

impl LookupTable {
    pub const ALL: &'static [LookupTable] = &[
        Self::TaxCodes,
        Self::CombinedTaxCodes,
        Self::BankCodes,
        Self::Employees,
        Self::Firms,
        Self::GlAccounts,
        Self::Currencies,
        Self::PaymentTerms,
        Self::JournalCodes,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TaxCodes => "tax-codes",
            Self::CombinedTaxCodes => "combined-tax-codes",
            Self::BankCodes => "bank-codes",
            Self::Employees => "employees",
            Self::Firms => "firms",
            Self::GlAccounts => "gl-accounts",
            Self::Currencies => "currencies",
            Self::PaymentTerms => "payment-terms",
            Self::JournalCodes => "journal-codes",
        }
    }
}

/// One row of a lookup table: a key (e.g. the Exact VAT code) and named columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookupEntry {
    pub key: String,
    pub columns: BTreeMap<String, String>,
    pub version: u64,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

#[async_trait]
pub trait LookupStore: Send + Sync + std::fmt::Debug {
    async fn get(
        &self,
        tenant: &TenantId,
        table: LookupTable,
        key: &str,
    ) -> StoreResult<Option<LookupEntry>>;
    /// Creates (`expected_version: None`) or updates a row; returns it with its new version.
    async fn put(
        &self,
        tenant: &TenantId,
        table: LookupTable,
        entry: &LookupEntry,
        expected_version: Option<u64>,
    ) -> StoreResult<LookupEntry>;
    async fn delete(&self, tenant: &TenantId, table: LookupTable, key: &str) -> StoreResult<()>;
    /// Rows in key order.
    async fn list(
        &self,
        tenant: &TenantId,
        table: LookupTable,
        page: PageRequest,
    ) -> StoreResult<Page<LookupEntry>>;
}

// ---------------------------------------------------------------------------------------------------------
// Per-object sync status
// ---------------------------------------------------------------------------------------------------------

/// Names one synced object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ObjectRef {
    pub tenant: TenantId,
    pub object_type: ObjectType,
    pub key: ObjectKey,
}

/// The sync state of one object: what the Integration page lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectStatus {
    pub object: ObjectRef,
    pub category: Category,
    pub status: SyncStatus,
    /// Optimistic-concurrency version of this record (starts at 1, +1 per write).
    pub version: u64,
    /// The source's version of the object (e.g. `Period.PostSeq`, a ModDate), shown and filtered as "version".
    pub source_version: Option<String>,
    /// Hash of the mapped payload last pushed, to detect changes (Desynchronized).
    pub source_hash: Option<String>,
    /// The id of the document in the target system once written.
    pub target_id: Option<String>,
    pub last_message: Option<String>,
    /// What a person can do about the last failure, when it is one thing the page can offer (add a lookup
    /// row, sync a firm). Stored beside the message so the page never re-parses message text; cleared by
    /// every later write of the status. Older records have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<Fix>,
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The remedy of a failure, structured for the operator page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fix {
    /// A row is missing in a lookup table: add it (the key, when known, and the columns to fill; `values`
    /// are column values already known, e.g. the VP tax code of a `tax-codes` row keyed by Exact's code).
    Lookup {
        table: LookupTable,
        /// The row's key, when the failure names it (a tax-codes row is keyed by the Exact VAT code, which
        /// the person chooses).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
        /// What the key is, in words (e.g. "VP account number").
        key_label: String,
        /// The columns a person fills in, in order.
        columns: Vec<String>,
        /// Column values known from the failure.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        values: BTreeMap<String, String>,
    },
    /// A firm the document names was never synced to the ledger: synchronize that firm first.
    FirmSync { firm: String },
}

/// One entry of an object's attempt history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusAttempt {
    pub at: DateTime<Utc>,
    pub attempt: u32,
    pub status: SyncStatus,
    pub message: Option<String>,
}

/// How many attempts of one object type ended in one status within one UTC hour (the sync-health view).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct AttemptCount {
    /// The start of the hour.
    pub hour: DateTime<Utc>,
    pub object_type: ObjectType,
    pub status: SyncStatus,
    pub count: u64,
}

/// What the Integration page filters by. Every combination is served by a query on a key or index.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusFilter {
    pub status: Option<SyncStatus>,
    pub category: Option<Category>,
    pub object_type: Option<ObjectType>,
    /// Objects whose key starts with this text.
    pub key_prefix: Option<String>,
    /// Objects whose `source_version` equals this.
    pub source_version: Option<String>,
}

#[async_trait]
pub trait StatusStore: Send + Sync + std::fmt::Debug {
    async fn get(&self, object: &ObjectRef) -> StoreResult<Option<ObjectStatus>>;
    /// Writes `status` if the stored version equals `expected_version` (`None` = must not exist), and appends
    /// one [`StatusAttempt`] (at `status.updated_at`, with `status.attempts`, `status.status`,
    /// `status.last_message`) to the history in the same write. Returns the record with `version` bumped.
    async fn put(
        &self,
        status: &ObjectStatus,
        expected_version: Option<u64>,
    ) -> StoreResult<ObjectStatus>;
    /// Records many objects at once (discovery): each is created as given when absent and left alone when it
    /// already exists. Returns how many were created. Adapters batch the writes.
    async fn create_missing(&self, statuses: &[ObjectStatus]) -> StoreResult<usize>;
    /// A tenant's objects matching `filter`, most recently updated first.
    async fn list(
        &self,
        tenant: &TenantId,
        filter: &StatusFilter,
        page: PageRequest,
    ) -> StoreResult<Page<ObjectStatus>>;
    /// The attempt history of one object, newest first, at most `limit` entries.
    async fn history(&self, object: &ObjectRef, limit: u32) -> StoreResult<Vec<StatusAttempt>>;
    /// Counts of a tenant's objects per status (for the page's header and the health view).
    async fn counts(&self, tenant: &TenantId) -> StoreResult<BTreeMap<SyncStatus, u64>>;
    /// The tenant's attempts recorded (by `put`) at `from <= at < to`, counted per UTC hour, object type and
    /// status, sorted. Served by an index on the attempt time (SQLite: one grouped query; DynamoDB: one query
    /// per UTC day), never by reading each object's history, so its cost does not grow with the number of
    /// objects touched in the window.
    async fn attempt_counts(
        &self,
        tenant: &TenantId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<AttemptCount>>;
    /// Starts an attempt of a Sync (`force: false`) or Force synchronize (`force: true`) in one atomic step:
    /// decides from the stored record whether the attempt may run ([`attempt_declined`]) and, when it may,
    /// writes [`attempt_started`] of it (created from [`AttemptStart::fresh`] when absent), appending the
    /// "Attempt N started" entry to the history as `put` does. The decision and the write see the same
    /// record, so no read is needed before (adapters may answer in a single request).
    async fn begin_attempt(
        &self,
        object: &ObjectRef,
        force: bool,
        at: DateTime<Utc>,
    ) -> StoreResult<AttemptStart>;
}

/// What [`StatusStore::begin_attempt`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptStart {
    /// The attempt is recorded: `current` is the stored record (version bumped), `previous` what was stored
    /// before (`None`: the object was unknown and is now created).
    Started {
        previous: Option<ObjectStatus>,
        current: ObjectStatus,
    },
    /// Nothing was written: the stored record says the attempt must not run (see [`attempt_declined`]).
    Declined(ObjectStatus),
}

impl AttemptStart {
    /// The record an attempt of an unknown object starts from: NotIntegrated, no attempts yet.
    pub fn fresh(object: &ObjectRef, at: DateTime<Utc>) -> ObjectStatus {
        ObjectStatus {
            category: object.object_type.category(),
            object: object.clone(),
            status: SyncStatus::NotIntegrated,
            version: 0,
            source_version: None,
            source_hash: None,
            target_id: None,
            last_message: None,
            fix: None,
            attempts: 0,
            created_at: at,
            updated_at: at,
        }
    }
}

/// Whether a stored record refuses a new attempt: a synced object (unless forced) and an object in Error
/// (unless forced: a person must fix the cause and press Force synchronize).
pub fn attempt_declined(current: &ObjectStatus, force: bool) -> bool {
    !force && matches!(current.status, SyncStatus::Success | SyncStatus::Error)
}

/// The record of an attempt starting at `at`: one more attempt, Pending (an unknown outcome stays
/// OutcomeUnknown, so the attempt looks its write up first), "Attempt N started", no remedy. The version is
/// the stored one; the store bumps it.
pub fn attempt_started(current: &ObjectStatus, at: DateTime<Utc>) -> ObjectStatus {
    let mut next = current.clone();
    next.attempts += 1;
    if next.status != SyncStatus::OutcomeUnknown {
        next.status = SyncStatus::Pending;
    }
    next.last_message = Some(format!("Attempt {} started", next.attempts));
    next.fix = None;
    next.updated_at = at;
    next
}

// ---------------------------------------------------------------------------------------------------------
// Cursors
// ---------------------------------------------------------------------------------------------------------

/// Where a flow's discovery got to for one tenant and division (a PostDate, an Exact sync Timestamp, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub tenant: TenantId,
    pub flow: Flow,
    /// Distinguishes several cursors of one flow, e.g. `"PSALedger/IN"` or `"sync/Cashflow/PaymentTerms"`.
    pub name: String,
    pub division: Division,
    pub value: String,
    pub version: u64,
    pub updated_at: DateTime<Utc>,
}

#[async_trait]
pub trait CursorStore: Send + Sync + std::fmt::Debug {
    async fn get(
        &self,
        tenant: &TenantId,
        flow: Flow,
        name: &str,
        division: Division,
    ) -> StoreResult<Option<Cursor>>;
    /// Advances the cursor only if nobody else moved it since it was read.
    async fn put(&self, cursor: &Cursor, expected_version: Option<u64>) -> StoreResult<Cursor>;
}

// ---------------------------------------------------------------------------------------------------------
// Jobs (exports and imports)
// ---------------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobKind {
    Export,
    Import,
}

/// The three statuses of the export history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobStatus {
    Started,
    Finished,
    Failed,
}

/// An export or import job, with every column of the export history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub tenant: TenantId,
    /// Monotonic per tenant; ids sort newest-first in lists.
    pub id: String,
    pub kind: JobKind,
    pub description: String,
    pub created_by: String,
    /// The export definition or import template it runs.
    pub definition: String,
    pub status: JobStatus,
    pub processed: u64,
    pub total: Option<u64>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub failed_at: Option<DateTime<Utc>>,
    pub fail_reason: Option<String>,
    /// Storage key of the produced (export) or uploaded (import) file.
    pub file_key: Option<String>,
    /// Until when the worker that runs the job holds it; an expired lease on a started job means it died.
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// Attempt number (1 for the original); a reset creates attempt n+1 linked to the original.
    pub attempt: u32,
    pub original_id: Option<String>,
    /// Kind-specific data (import summary, export parameters, accounting period, integration id, ...).
    pub details: serde_json::Value,
    pub version: u64,
}

#[async_trait]
pub trait JobStore: Send + Sync + std::fmt::Debug {
    /// Creates a job; the store assigns nothing: `job.id` must be new (conflict otherwise).
    async fn create(&self, job: &Job) -> StoreResult<Job>;
    async fn get(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<Job>>;
    async fn put(&self, job: &Job, expected_version: u64) -> StoreResult<Job>;
    /// A tenant's jobs of one kind, newest first.
    async fn list(
        &self,
        tenant: &TenantId,
        kind: JobKind,
        page: PageRequest,
    ) -> StoreResult<Page<Job>>;
    /// Started jobs (any tenant) whose lease expired before `now`, for the clean-up. Served by an index.
    async fn expired_leases(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<Job>>;
}

// ---------------------------------------------------------------------------------------------------------
// Integrations Manager
// ---------------------------------------------------------------------------------------------------------

/// A saved group of import tasks and export definitions, reused across accounting periods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Integration {
    pub tenant: TenantId,
    pub id: String,
    pub name: String,
    pub description: String,
    /// Import template names (e.g. `firms`).
    pub import_tasks: Vec<String>,
    /// Export definition ids.
    pub export_tasks: Vec<String>,
    pub version: u64,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskRunState {
    NotRun,
    Run,
    Failed,
}

/// The state of one task of an integration in one accounting period (`YYYYPP`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRun {
    pub tenant: TenantId,
    pub integration_id: String,
    pub period: u32,
    /// `export:<definition id>` or `import:<template>`.
    pub task: String,
    pub state: TaskRunState,
    pub job_id: Option<String>,
    pub message: Option<String>,
    pub at: DateTime<Utc>,
}

#[async_trait]
pub trait IntegrationStore: Send + Sync + std::fmt::Debug {
    async fn put(
        &self,
        integration: &Integration,
        expected_version: Option<u64>,
    ) -> StoreResult<Integration>;
    async fn get(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<Integration>>;
    async fn list(&self, tenant: &TenantId, page: PageRequest) -> StoreResult<Page<Integration>>;
    async fn delete(&self, tenant: &TenantId, id: &str) -> StoreResult<()>;
    /// Records the latest run of a task in a period (overwrites the previous state of that task and period,
    /// and keeps it in the period's history).
    async fn record_run(&self, run: &TaskRun) -> StoreResult<()>;
    /// The latest state of every task that ran in `period`.
    async fn runs(
        &self,
        tenant: &TenantId,
        integration_id: &str,
        period: u32,
    ) -> StoreResult<Vec<TaskRun>>;
}

// ---------------------------------------------------------------------------------------------------------
// Export definitions
// ---------------------------------------------------------------------------------------------------------

/// A saved export definition of one tenant, kept as its own record (never inside the tenant record, so a
/// tenant may have as many definitions as it likes without reaching an item-size limit). Versioned: two
/// people editing one definition cannot overwrite each other's change unseen. `body` is the jobs crate's
/// definition as JSON; the store neither reads nor validates it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportDefinitionRecord {
    pub tenant: TenantId,
    /// Lower-case letters, digits and `-` (the jobs crate checks it before saving).
    pub id: String,
    pub body: serde_json::Value,
    pub version: u64,
    pub updated_at: DateTime<Utc>,
}

#[async_trait]
pub trait ExportDefinitionStore: Send + Sync + std::fmt::Debug {
    /// Creates (`expected_version: None`) or updates a definition; returns it with its new version.
    async fn put(
        &self,
        definition: &ExportDefinitionRecord,
        expected_version: Option<u64>,
    ) -> StoreResult<ExportDefinitionRecord>;
    async fn get(&self, tenant: &TenantId, id: &str)
    -> StoreResult<Option<ExportDefinitionRecord>>;
    /// A tenant's definitions in id order.
    async fn list(
        &self,
        tenant: &TenantId,
        page: PageRequest,
    ) -> StoreResult<Page<ExportDefinitionRecord>>;
    /// Removes a definition; removing one that does not exist is not an error.
    async fn delete(&self, tenant: &TenantId, id: &str) -> StoreResult<()>;
}

// ---------------------------------------------------------------------------------------------------------
// Notifications outbox
// ---------------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NotificationKind {
    ExportFinished,
    ExportFailed,
    ImportFinished,
    SyncError,
    ConnectionPaused,
}

/// A message to a user or operator; delivered by whatever reads the outbox (the local page, e-mail).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub tenant: TenantId,
    pub id: String,
    pub kind: NotificationKind,
    /// User name, or `operators`.
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub link: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait NotificationOutbox: Send + Sync + std::fmt::Debug {
    /// Adds a notification; adding the same id twice keeps the first.
    async fn push(&self, notification: &Notification) -> StoreResult<()>;
    /// A tenant's notifications, newest first.
    async fn list(&self, tenant: &TenantId, page: PageRequest) -> StoreResult<Page<Notification>>;
    /// One notification of the tenant (`None` when the tenant has none with that id).
    async fn get(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<Notification>>;
    async fn mark_delivered(
        &self,
        tenant: &TenantId,
        id: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
}

// ---------------------------------------------------------------------------------------------------------
// Idempotency (the Powertools protocol)
// ---------------------------------------------------------------------------------------------------------

/// The claim `begin` handed out: its fencing token and what came before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdempotencyClaim {
    /// The fencing token of this claim: the claim's number on this key (1 for the first claim ever, +1 for
    /// every later one, including takeovers of an expired lease). `complete` and `release` act only while it
    /// is still the live claim, so a holder whose lease expired cannot finish or drop a successor's claim.
    pub fence: u64,
    /// How many claims of this key came before this one (released, expired or taken over). Any earlier
    /// claim may have written: the caller looks the result up before writing again.
    pub earlier_claims: u64,
}

impl IdempotencyClaim {
    /// Whether an earlier claim of this key may have written already.
    pub fn look_up_first(&self) -> bool {
        self.earlier_claims > 0
    }
}

/// What `begin` found. Ported from AWS Lambda Powertools' idempotency utility, with fencing tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// No usable record existed: the caller now owns the key until the lease ends and must `complete` or
    /// `release` it with the claim's fence.
    Started(IdempotencyClaim),
    /// The work was done before: here is its stored result.
    Completed { result: serde_json::Value },
    /// Someone else holds a live lease; try again after it expires.
    InProgress { lease_until: DateTime<Utc> },
    /// The key was used with a different payload: a caller bug or a collision, never silently reused.
    PayloadMismatch { stored_hash: String },
}

#[async_trait]
pub trait IdempotencyStore: Send + Sync + std::fmt::Debug {
    /// Atomically claims `key` for `lease`. An in-progress record whose lease expired, a released record, or
    /// a completed record whose TTL (`expires_at`) passed, is treated as absent (adapters must check expiry
    /// themselves, not rely on a TTL sweeper); the claim count survives, so the new claim knows about them.
    async fn begin(
        &self,
        key: &str,
        payload_hash: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<IdempotencyBegin>;
    /// Stores the result while the claim `fence` is still the live claim of `key` (in progress, not taken
    /// over; an expired lease nobody took over still completes). The record then answers `Completed` until
    /// `expires_at`. A [`crate::StoreError::Conflict`] when another claim replaced it.
    async fn complete(
        &self,
        key: &str,
        fence: u64,
        payload_hash: &str,
        result: &serde_json::Value,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Gives up the in-progress claim `fence` after a failure, so a retry can start at once; the record
    /// stays (released) so the next claim knows an earlier one existed. A no-op when `fence` is not the
    /// live claim (completed, or taken over by another worker: its claim is left alone).
    async fn release(&self, key: &str, fence: u64) -> StoreResult<()>;
}

// ---------------------------------------------------------------------------------------------------------
// OAuth tokens with a single-flight refresh lease
// ---------------------------------------------------------------------------------------------------------

/// The current tokens of one connection. Debug output never shows the token values.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// `exact:<tenant>` / `vantagepoint:<tenant>`.
    pub connection: String,
    /// The endpoint that issued these tokens ([`crate::issuer_of`]: scheme, host, port, path prefix). A
    /// client uses (and sends) a record's tokens only to the issuer they came from; a record with another
    /// issuer — or none, as records written before issuers were recorded — is treated as absent.
    #[serde(default)]
    pub issuer: String,
    pub access_token: String,
    pub refresh_token: String,
    pub access_expires_at: DateTime<Utc>,
    /// When the access token was issued (Exact refuses a refresh before 570 s from here).
    pub issued_at: DateTime<Utc>,
    /// Bumped on every save; lets a worker see that another worker refreshed meanwhile.
    pub generation: u64,
}

impl std::fmt::Debug for TokenRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRecord")
            .field("connection", &self.connection)
            .field("issuer", &self.issuer)
            .field("access_token", &"<redacted>")
            .field("refresh_token", &"<redacted>")
            .field("access_expires_at", &self.access_expires_at)
            .field("issued_at", &self.issued_at)
            .field("generation", &self.generation)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseOutcome {
    Acquired,
    /// Another holder has the lease until then.
    HeldByOther {
        until: DateTime<Utc>,
    },
}

#[async_trait]
pub trait TokenStore: Send + Sync + std::fmt::Debug {
    async fn load(&self, connection: &str) -> StoreResult<Option<TokenRecord>>;
    /// Takes the refresh lease of `connection` for `holder` if it is free or expired.
    async fn try_lease(
        &self,
        connection: &str,
        holder: &str,
        duration: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<LeaseOutcome>;
    /// Saves new tokens (generation = previous + 1) only while `holder` holds the lease; clears the lease.
    /// Saving without holding the lease is a [`crate::StoreError::Conflict`].
    async fn save_and_release(
        &self,
        record: &TokenRecord,
        holder: &str,
    ) -> StoreResult<TokenRecord>;
    /// Saves tokens without a lease (first consent, operator re-connect); replaces whatever was there.
    async fn save_initial(&self, record: &TokenRecord) -> StoreResult<TokenRecord>;
    /// Gives up the lease without saving.
    async fn release(&self, connection: &str, holder: &str) -> StoreResult<()>;
}

// ---------------------------------------------------------------------------------------------------------
// Rate budget shared by every process
// ---------------------------------------------------------------------------------------------------------

/// Limits of one budget, as the server announces them (Exact: 60 per calendar minute, 5,000 per UTC day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimits {
    pub per_minute: u32,
    pub per_day: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// One call may be made now.
    Granted,
    /// No budget left in a window: wait until then (minute window or daily reset).
    WaitUntil { until: DateTime<Utc>, daily: bool },
}

/// What the server said about the budget on a response (Exact's `X-RateLimit-*` headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateObservation {
    pub minute_remaining: Option<u32>,
    pub minute_reset: Option<DateTime<Utc>>,
    pub day_remaining: Option<u32>,
    pub day_reset: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait RateBudget: Send + Sync + std::fmt::Debug {
    /// Takes one call from the minute and day windows of `key` (client id + division) if both have budget.
    async fn acquire(
        &self,
        key: &str,
        limits: RateLimits,
        now: DateTime<Utc>,
    ) -> StoreResult<RateDecision>;
    /// Aligns the shared counters with what the server reported (never raises a count the server lowered).
    async fn observe(
        &self,
        key: &str,
        limits: RateLimits,
        observation: RateObservation,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Calls taken from `key`'s UTC-day window containing `now` (0 when none): what a connection's health
    /// shows as the day's use. Reads only; takes nothing.
    async fn used_today(&self, key: &str, now: DateTime<Utc>) -> StoreResult<u32>;
}

/// Every state port of one store, as the flows receive them.
#[derive(Debug, Clone)]
pub struct StateStores {
    pub tenants: std::sync::Arc<dyn TenantStore>,
    pub links: std::sync::Arc<dyn LinkStore>,
    pub lookups: std::sync::Arc<dyn LookupStore>,
    pub statuses: std::sync::Arc<dyn StatusStore>,
    pub cursors: std::sync::Arc<dyn CursorStore>,
    pub jobs: std::sync::Arc<dyn JobStore>,
    pub integrations: std::sync::Arc<dyn IntegrationStore>,
    pub definitions: std::sync::Arc<dyn ExportDefinitionStore>,
    pub notifications: std::sync::Arc<dyn NotificationOutbox>,
    pub idempotency: std::sync::Arc<dyn IdempotencyStore>,
    pub tokens: std::sync::Arc<dyn TokenStore>,
    pub rate: std::sync::Arc<dyn RateBudget>,
}
