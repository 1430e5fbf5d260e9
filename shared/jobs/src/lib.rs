//! Export jobs, bulk imports and the Integrations Manager, as use cases over the ports.
//!
//! Every caller — the `export-job` and `import-job` Lambdas, the HTTP API, the local stack, the tests — holds
//! one [`JobsContext`] (ports as `Arc<dyn Port>`, a clock, settings) and calls the same functions:
//!
//! - [`export`]: saved [`ExportDefinition`]s ([`definitions`]), export jobs that stream rows from a
//!   [`source::RowSource`] to [`ledgerlink_ports::ExportStorage`] in constant memory ([`writer`]), with
//!   throttled progress, a renewed lease, download links made on request, reset, mark-as-failed and the
//!   scheduled clean-up of jobs whose worker died.
//! - [`import`]: templates (XLSX with an Instructions sheet, and CSV), uploads, validation of every row and
//!   all-or-nothing (or, when asked, partial) writes to the lookup tables, with a result summary.
//! - [`integrations`]: integrations grouping import tasks and export definitions, their state per
//!   accounting period, and running their export tasks.
//!
//! [`worker::run_queued`] is the queue consumer of the local stack (the Lambdas consume SQS themselves).
//!
//! Job ids are numbers, monotonic per tenant, zero-padded to [`job::ID_WIDTH`] digits so the stores' text
//! order is number order (newest first in lists).

pub mod definitions;
pub mod error;
pub mod export;
pub mod import;
pub mod integrations;
pub mod job;
pub mod schedule;
pub mod source;
pub mod worker;
pub mod writer;

use std::sync::Arc;
use std::time::Duration;

use ledgerlink_clock::SharedClock;
use ledgerlink_domain::TenantId;
use ledgerlink_flows::connections::{Connection, ConnectionProvider};
use ledgerlink_ports::ledger::Ledger;
use ledgerlink_ports::psa::Psa;
use ledgerlink_ports::{ExportStorage, StateStores, WorkQueue};

pub use definitions::{
    Condition, ConditionOp, ExportColumn, ExportDefinition, ExportDefinitions, ExportFormat,
    ExportSource, SOURCES, SourceInfo,
};
pub use error::{JobError, JobResult};
pub use export::Exporter;
pub use import::{ImportFormat, ImportSummary, ImportTemplate, Importer, RowError, SkippedRow};
pub use integrations::{IntegrationOverview, IntegrationsManager, TaskStatus};
pub use schedule::{ExportSchedule, Frequency};

/// Tunables of the job use cases. The defaults suit Lambda (15-minute invocations) and the local stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSettings {
    /// How long a worker holds a job between renewals; an expired lease on a started job means it died.
    pub lease: Duration,
    /// How long a created job may wait in the queue before the clean-up treats it as lost.
    pub pickup: Duration,
    /// Progress is written every this many rows...
    pub progress_every_rows: u64,
    /// ...but not sooner than this after the last write: a fast export (hundreds of thousands of rows a
    /// second) writes its job about once a second instead of stalling its rows on a write every few
    /// milliseconds...
    pub progress_min_interval: Duration,
    /// ...and at the latest after this long, however few rows came (the lease is renewed with it).
    pub progress_every: Duration,
    /// Bytes handed to the upload at a time (the CSV buffer and the XLSX read size).
    pub chunk_size: usize,
    /// Lifetime of download and upload links (at most 15 minutes).
    pub link_expiry: Duration,
    /// Largest import file accepted (imports are read whole to validate every row before writing).
    pub max_import_bytes: u64,
    /// Largest total an uploaded XLSX may unpack to (its zip entries inflated), checked by inflating it
    /// into nothing before the workbook is parsed: a zip bomb is refused instead of filling memory.
    pub max_xlsx_inflated_bytes: u64,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(120),
            pickup: Duration::from_secs(15 * 60),
            progress_every_rows: 10_000,
            progress_min_interval: Duration::from_secs(1),
            progress_every: Duration::from_secs(5),
            chunk_size: 1024 * 1024,
            link_expiry: Duration::from_secs(15 * 60),
            max_import_bytes: 32 * 1024 * 1024,
            max_xlsx_inflated_bytes: 256 * 1024 * 1024,
        }
    }
}

/// Everything the job use cases need, built once per process and shared.
#[derive(Debug, Clone)]
pub struct JobsContext {
    pub stores: StateStores,
    pub storage: Arc<dyn ExportStorage>,
    pub queue: Arc<dyn WorkQueue>,
    pub clock: SharedClock,
    /// Builds each tenant's Vantagepoint and ledger connections (from its record and its secrets), for
    /// exports of VP and ledger entities and the active accounting period. Every process that runs exports
    /// has it: the local stack, the `export-job` and `api` Lambdas.
    pub connections: Option<Arc<dyn ConnectionProvider>>,
    /// A fixed Vantagepoint for every tenant, ahead of `connections` (tests, benchmarks).
    pub psa: Option<Arc<dyn Psa>>,
    /// A fixed ledger for every tenant, ahead of `connections` (tests, benchmarks).
    pub ledger: Option<Arc<dyn Ledger>>,
    pub settings: JobSettings,
}

impl JobsContext {
    pub fn new(
        stores: StateStores,
        storage: Arc<dyn ExportStorage>,
        queue: Arc<dyn WorkQueue>,
        clock: SharedClock,
    ) -> Self {
        Self {
            stores,
            storage,
            queue,
            clock,
            connections: None,
            psa: None,
            ledger: None,
            settings: JobSettings::default(),
        }
    }

    pub fn with_connections(mut self, connections: Arc<dyn ConnectionProvider>) -> Self {
        self.connections = Some(connections);
        self
    }

    /// The connections of `tenant`, built from its record. `what` names the side needed, for the error
    /// when this process has no connections.
    async fn connect(&self, tenant: &TenantId, what: &'static str) -> JobResult<Connection> {
        let provider = self
            .connections
            .as_ref()
            .ok_or(JobError::NotConfigured { what })?;
        let record = self
            .stores
            .tenants
            .get(tenant)
            .await?
            .ok_or_else(|| JobError::not_found(format!("tenant {tenant}")))?;
        provider.connect(&record).await.map_err(JobError::from)
    }

    /// The tenant's Vantagepoint.
    pub async fn psa_of(&self, tenant: &TenantId) -> JobResult<Arc<dyn Psa>> {
        if let Some(psa) = &self.psa {
            return Ok(psa.clone());
        }
        Ok(self
            .connect(tenant, "the Vantagepoint connection")
            .await?
            .psa)
    }

    /// The tenant's ledger.
    pub async fn ledger_of(&self, tenant: &TenantId) -> JobResult<Arc<dyn Ledger>> {
        if let Some(ledger) = &self.ledger {
            return Ok(ledger.clone());
        }
        Ok(self.connect(tenant, "the ledger connection").await?.ledger)
    }

    /// Whether this process can reach the tenants' Vantagepoint (a fixed PSA or the connections).
    pub fn has_psa(&self) -> bool {
        self.psa.is_some() || self.connections.is_some()
    }

    pub fn with_psa(mut self, psa: Arc<dyn Psa>) -> Self {
        self.psa = Some(psa);
        self
    }

    pub fn with_ledger(mut self, ledger: Arc<dyn Ledger>) -> Self {
        self.ledger = Some(ledger);
        self
    }

    pub fn with_settings(mut self, settings: JobSettings) -> Self {
        self.settings = settings;
        self
    }
}
