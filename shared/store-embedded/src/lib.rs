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

mod db;
mod idempotency;
mod page;
mod rate;
mod tokens;

use std::path::Path;
use std::sync::Arc;

use ledgerlink_ports::StoreResult;

pub use idempotency::SqliteIdempotency;
pub use rate::SqliteRateBudget;
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
