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
//! - OAuth tokens are stored sealed (AES-256-GCM, `ledgerlink_ports::envelope`) with a key file beside the
//!   database ([`TOKEN_KEY_FILE`], mode 0600), so the database file alone holds no usable token.
//!
//! - [`MailFolder`] is the mail port: one `.eml` file per message in a folder (the local stack's `mail/`).
//!
//! Blocking SQLite calls run on tokio's blocking pool, so async callers never stall the runtime.

mod cursors;
mod db;
mod definitions;
mod idempotency;
mod integrations;
mod jobs;
mod links;
mod lookups;
mod mail;
mod notifications;
mod page;
mod queue;
mod rate;
mod statuses;
mod storage;
mod tenants;
mod token_key;
mod tokens;

use std::path::Path;
use std::sync::Arc;

use ledgerlink_clock::SharedClock;
use ledgerlink_ports::{StateStores, StoreResult};

pub use cursors::SqliteCursors;
pub use definitions::SqliteDefinitions;
pub use idempotency::SqliteIdempotency;
pub use integrations::SqliteIntegrations;
pub use jobs::SqliteJobs;
pub use links::SqliteLinks;
pub use lookups::SqliteLookups;
pub use mail::MailFolder;
pub use notifications::SqliteNotifications;
pub use queue::{DEFAULT_MAX_RECEIVES, SqliteQueue};
pub use rate::SqliteRateBudget;
pub use statuses::SqliteStatuses;
pub use storage::FolderStorage;
pub use tenants::SqliteTenants;
pub use token_key::TOKEN_KEY_FILE;
pub use tokens::SqliteTokens;

/// The embedded state store: one SQLite database file with every port's tables.
///
/// Cheap to clone; clones share one connection. Open the same file again (here or in another process) to
/// get an independent connection: the database's own locking keeps them consistent.
#[derive(Debug, Clone)]
pub struct EmbeddedStore {
    db: db::Db,
    token_key: Arc<token_key::TokenKeySource>,
}

impl EmbeddedStore {
    /// Opens (creating if needed) the database at `path` and migrates its schema. `":memory:"` opens a
    /// private in-memory database (one per call), handy in other crates' tests.
    ///
    /// OAuth tokens are sealed with the key in [`TOKEN_KEY_FILE`] beside the database file (created, mode
    /// 0600, the first time tokens are read or written); an in-memory database uses a key of its own.
    pub fn open(path: impl AsRef<Path>) -> StoreResult<Self> {
        let path = path.as_ref();
        Ok(Self {
            db: db::Db::open(path)?,
            token_key: Arc::new(token_key::TokenKeySource::for_database(path)),
        })
    }

    /// Deletes what has expired by `now`: idempotency records past their TTL or lease, and dead letters
    /// older than `keep_dead_letters`. The ports already treat expired records as absent; this only keeps
    /// the file from growing (the local stack calls it on a schedule, like DynamoDB's TTL sweeper).
    /// Returns how many rows were removed.
    pub async fn purge_expired(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        keep_dead_letters: std::time::Duration,
    ) -> StoreResult<u64> {
        self.db
            .write(move |tx| {
                let now_ns = db::nanos(now)?;
                let dead_before = now_ns.saturating_sub(db::duration_nanos(keep_dead_letters)?);
                let idempotency = tx.execute(
                    "DELETE FROM idempotency WHERE (state = 'completed' AND expires_at <= ?1)
                        OR (state = 'in-progress' AND lease_until <= ?1)
                        OR (state = 'released' AND expires_at <= ?1)",
                    rusqlite::params![now_ns],
                )?;
                let dead = tx.execute(
                    "DELETE FROM queue_dead_letters WHERE dead_at < ?1",
                    rusqlite::params![dead_before],
                )?;
                Ok(u64::try_from(idempotency + dead).unwrap_or(u64::MAX))
            })
            .await
    }

    /// Writes a consistent copy of the whole store to `path` (`VACUUM INTO`): an operator's backup of the
    /// local stack, and what a restore-from-backup test starts from. The tokens in it open only with the
    /// folder's [`TOKEN_KEY_FILE`]: restore the two together (or connect the ERPs again).
    pub async fn backup_to(&self, path: impl AsRef<std::path::Path>) -> StoreResult<()> {
        let target = path.as_ref().to_string_lossy().into_owned();
        self.db
            .read(move |conn| {
                conn.execute("VACUUM INTO ?1", rusqlite::params![target])?;
                Ok(())
            })
            .await
    }

    /// Every state port, as the flows receive them.
    pub fn state_stores(&self) -> StateStores {
        StateStores {
            tenants: self.tenants(),
            links: self.links(),
            lookups: self.lookups(),
            statuses: self.statuses(),
            cursors: self.cursors(),
            jobs: self.jobs(),
            integrations: self.integrations(),
            definitions: self.definitions(),
            notifications: self.notifications(),
            idempotency: self.idempotency(),
            tokens: self.tokens(),
            rate: self.rate(),
        }
    }

    /// The per-flow work queues, deciding visibility by `clock`, with [`DEFAULT_MAX_RECEIVES`].
    pub fn queue(&self, clock: SharedClock) -> Arc<SqliteQueue> {
        self.queue_with_max_receives(clock, DEFAULT_MAX_RECEIVES)
    }

    /// The per-flow work queues with a chosen max-receive count (at least 1).
    pub fn queue_with_max_receives(
        &self,
        clock: SharedClock,
        max_receives: u32,
    ) -> Arc<SqliteQueue> {
        Arc::new(SqliteQueue::new(self.db.clone(), clock, max_receives))
    }

    pub fn tenants(&self) -> Arc<SqliteTenants> {
        Arc::new(SqliteTenants::new(self.db.clone()))
    }

    pub fn links(&self) -> Arc<SqliteLinks> {
        Arc::new(SqliteLinks::new(self.db.clone()))
    }

    pub fn lookups(&self) -> Arc<SqliteLookups> {
        Arc::new(SqliteLookups::new(self.db.clone()))
    }

    pub fn statuses(&self) -> Arc<SqliteStatuses> {
        Arc::new(SqliteStatuses::new(self.db.clone()))
    }

    pub fn cursors(&self) -> Arc<SqliteCursors> {
        Arc::new(SqliteCursors::new(self.db.clone()))
    }

    pub fn jobs(&self) -> Arc<SqliteJobs> {
        Arc::new(SqliteJobs::new(self.db.clone()))
    }

    pub fn integrations(&self) -> Arc<SqliteIntegrations> {
        Arc::new(SqliteIntegrations::new(self.db.clone()))
    }

    pub fn definitions(&self) -> Arc<SqliteDefinitions> {
        Arc::new(SqliteDefinitions::new(self.db.clone()))
    }

    pub fn notifications(&self) -> Arc<SqliteNotifications> {
        Arc::new(SqliteNotifications::new(self.db.clone()))
    }

    pub fn idempotency(&self) -> Arc<SqliteIdempotency> {
        Arc::new(SqliteIdempotency::new(self.db.clone()))
    }

    pub fn tokens(&self) -> Arc<SqliteTokens> {
        Arc::new(SqliteTokens::new(self.db.clone(), self.token_key.clone()))
    }

    pub fn rate(&self) -> Arc<SqliteRateBudget> {
        Arc::new(SqliteRateBudget::new(self.db.clone()))
    }
}
