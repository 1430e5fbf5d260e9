//! The sync flows of Ledgerlink as use cases, called the same way by the Lambdas (`functions/*`), the
//! local stack and the tests.
//!
//! One pattern for every flow:
//! - **DISCOVER** (a schedule, a webhook or an operator action) finds work since the flow's cursor and
//!   enqueues ONE message per object (batches of 10), recording each object Pending; the cursor advances
//!   only after the messages it covers are sent ([`posted`], [`payment_in`], [`firm_sync`]).
//! - **PROCESS** handles one object per message and records its status, versions, target id, last message
//!   and attempts; a batch reports exactly the failed message ids ([`runner::process_batch`]).
//! - **Idempotency** on every write: a business key (tenant / division / object type / source id / source
//!   version) through the `IdempotencyStore` ([`context::FlowContext::once`]); after an unknown outcome the
//!   object is recorded OutcomeUnknown and the next attempt looks the document up by our reference first.
//!
//! **E-mail.** Every notification pushed through `FlowContext::stores.notifications` — a refused document
//! ([`context::FlowContext::notify_error`], the spec's error e-mail), a paused connection, an export that
//! finished (the jobs crate pushes it the same way) — is also mailed to the tenant's addresses when the
//! stores were built with `StateStores::with_mailer` (the Lambdas: `MAIL_FROM` set; the local stack: always,
//! into `mail/`). To mail something new, push a `Notification` with its `recipient` (`operators` or a user
//! name); see `ledgerlink_ports::mail`.
//!
//! Modules: [`context`] (ports, status recording, idempotency, pause, notifications), [`common`]-style
//! gating and failure handling, [`settings`] (tenant settings: source of truth, filters, integration level),
//! [`lookups`] (the mapping's lookups from the stores, through the mapping crate's one loader), [`setup`]
//! (the no-VAT code proposed from Exact), `banks` (VP banks matched to ledger bank journals by name),
//! `receivables` (what a receipt is allocated against), [`finance`] (invoice-out and voucher-out PROCESS),
//! [`payment_in`], [`firm_sync`] and its master-data [`links`], [`operator`] (the Integration page's actions), [`connections`] (ledger
//! and PSA per tenant, secrets), [`runner`] (entry points), [`metrics`] (counts the Lambda edge prints as
//! CloudWatch embedded-metric-format lines).

mod banks;
mod common;
pub mod connections;
pub mod context;
pub mod error;
#[cfg(feature = "fault-harness")]
pub mod fault_harness;
pub mod finance;
pub mod firm_sync;
pub mod hosts;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod links;
pub mod lookups;
pub mod metrics;
pub mod operator;
pub mod payment_in;
pub mod posted;
mod receivables;
pub mod runner;
pub mod settings;
pub mod setup;
pub mod sweeper;
pub mod sync_reset;

pub use connections::{
    ClientTuning, Connection, ConnectionProvider, ErpConnections, ExtensionSecrets, LocalSecrets,
    SecretError, SecretResolver, SecretValue, check_secret_scope, tenant_secret_name,
};
pub use context::{FlowContext, MessageOutcome};
pub use error::{FlowError, FlowResult};
pub use runner::{
    BatchItem, DiscoverSummary, DrainReport, discover, discover_all, drain, process_batch,
    process_message, request_discovery,
};
pub use settings::{FlowSettings, TenantSettings};
