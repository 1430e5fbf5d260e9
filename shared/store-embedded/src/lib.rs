//! Embedded adapters of every port, for the local stack (no cloud): one SQLite file holds all state and the
//! work queues, a local folder holds the export files.
//!
//! - [`EmbeddedStore`] opens the database (WAL mode, busy timeout, schema migrations on `user_version`) and
//!   hands out the state ports ([`EmbeddedStore::state_stores`]) and the work queue ([`EmbeddedStore::queue`]).
//!   Several processes may open the same file: leases, rate counters and versions are decided inside
//!   `BEGIN IMMEDIATE` transactions, so they hold across processes, not just tasks.
//! - [`FolderStorage`] is the export storage: files under `<root>/<tenant>/<key>`, streaming uploads through
//!   a temporary file, and HMAC-signed local URLs the local HTTP API checks with [`FolderStorage::verify`].
//!
//! Blocking SQLite calls run on tokio's blocking pool, so async callers never stall the runtime.

mod cursors;
mod db;
mod idempotency;
mod links;
mod lookups;
mod page;
mod rate;
mod statuses;
mod tokens;

use std::path::Path;
use std::sync::Arc;

use ledgerlink_ports::StoreResult;

pub use cursors::SqliteCursors;
pub use idempotency::SqliteIdempotency;
pub use links::SqliteLinks;
pub use lookups::SqliteLookups;
pub use rate::SqliteRateBudget;
pub use statuses::SqliteStatuses;
pub use tokens::SqliteTokens;

/// The embedded state store: one SQLite database file with every port's tables.
///
/// Cheap to clone; clones share the connection.
#[derive(Debug, Clone)]
pub struct EmbeddedStore {
    db: db::Db,
}

impl EmbeddedStore {
    /// Opens (creating if needed) the database at `path` and migrates its schema.
    pub fn open(path: impl AsRef<Path>) -> StoreResult<Self> {
        Ok(Self {
            db: db::Db::open(path.as_ref())?,
        })
    }

    pub fn statuses(&self) -> Arc<SqliteStatuses> {
        Arc::new(SqliteStatuses::new(self.db.clone()))
    }

    pub fn links(&self) -> Arc<SqliteLinks> {
        Arc::new(SqliteLinks::new(self.db.clone()))
    }

    pub fn lookups(&self) -> Arc<SqliteLookups> {
        Arc::new(SqliteLookups::new(self.db.clone()))
    }

    pub fn cursors(&self) -> Arc<SqliteCursors> {
        Arc::new(SqliteCursors::new(self.db.clone()))
    }

    pub fn idempotency(&self) -> Arc<SqliteIdempotency> {
        Arc::new(SqliteIdempotency::new(self.db.clone()))
    }

    pub fn tokens(&self) -> Arc<SqliteTokens> {
        Arc::new(SqliteTokens::new(self.db.clone()))
    }

    pub fn rate(&self) -> Arc<SqliteRateBudget> {
        Arc::new(SqliteRateBudget::new(self.db.clone()))
    }
}
