//! The ports: small traits, owned by the domain, for every capability the flows need from the outside world.
//!
//! Each trait has two adapters — AWS (DynamoDB / S3 / SQS, in `ledgerlink-store-aws`) and embedded (SQLite /
//! a local folder, in `ledgerlink-store-embedded`) — and one contract suite (module `contract`, behind the
//! `contract` feature) that both adapters must pass. Flows hold ports as `Arc<dyn Port>`.
//!
//! Conventions shared by every port:
//! - Times are passed in as `now` where a decision depends on them (leases, TTL, windows), so tests control
//!   the clock and adapters never read it implicitly for such decisions.
//! - Optimistic concurrency: records that can be edited concurrently carry a `version: u64`; a write names
//!   the version it read (`None` = "must not exist yet") and fails with [`StoreError::Conflict`] otherwise.
//! - Lists are paginated with an opaque cursor ([`PageRequest`] / [`Page`]); an adapter never scans a whole
//!   table to serve a user-facing list.

pub mod crash;
pub mod endpoint;
pub mod envelope;
pub mod error;
pub mod ledger;
pub mod mail;
pub mod psa;
pub mod queue;
pub mod state;
pub mod storage;

#[cfg(feature = "contract")]
pub mod contract;

pub use endpoint::issuer_of;
pub use error::{BoxError, StoreError, StoreResult};
pub use mail::{MailError, MailMessage, MailSettings, Mailer, MailingOutbox};
pub use queue::{QueueName, ReceivedMessage, WorkAction, WorkMessage, WorkQueue};
pub use state::*;
pub use storage::{
    ExportStorage, Limited, MAX_PRESIGN_EXPIRY, PresignedUrl, StoredObject, UploadSink,
};

use serde::{Deserialize, Serialize};

/// Asks for one page of a list. `cursor` is the opaque token a previous [`Page`] returned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRequest {
    /// Page size; adapters clamp it to 1..=500 (a default of 50 when 0).
    pub limit: u32,
    pub cursor: Option<String>,
}

impl PageRequest {
    pub fn first(limit: u32) -> Self {
        Self {
            limit,
            cursor: None,
        }
    }
    /// The effective page size every adapter uses.
    pub fn effective_limit(&self) -> u32 {
        match self.limit {
            0 => 50,
            n => n.min(500),
        }
    }
}

/// One page of results and the cursor of the next page (`None` when this is the last page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}
