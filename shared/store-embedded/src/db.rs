//! The one SQLite connection of an [`crate::EmbeddedStore`]: opening (WAL, busy timeout), schema migrations
//! keyed on `PRAGMA user_version`, running blocking SQLite work off the async runtime, and error mapping.
//!
//! Every write runs in a `BEGIN IMMEDIATE` transaction: the write lock is taken up front, so two processes
//! sharing the file serialise their read-decide-write sequences (leases, counters, versions) instead of
//! both reading the old state. The busy timeout makes the loser wait rather than fail.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use ledgerlink_ports::StoreError;
use rusqlite::{Connection, ErrorCode, Transaction, TransactionBehavior};

/// How long a writer waits for another process's write lock before the call fails as transient.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Failures inside a database closure; converted to [`StoreError`] at the port boundary.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DbError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("sqlite: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("stored record could not be (de)serialised: {0}")]
    Json(#[from] serde_json::Error),
}

pub(crate) type DbResult<T> = Result<T, DbError>;

impl From<DbError> for StoreError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::Store(e) => e,
            DbError::Sql(e) => {
                let busy = matches!(
                    e.sqlite_error_code(),
                    Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
                );
                if busy {
                    StoreError::transient("the embedded database is busy", e)
                } else {
                    StoreError::permanent("embedded database failure", e)
                }
            }
            DbError::Json(e) => StoreError::permanent("a stored record could not be decoded", e),
        }
    }
}

/// A shared handle on the database; cheap to clone.
#[derive(Clone)]
pub(crate) struct Db {
    conn: Arc<Mutex<Connection>>,
    path: Arc<PathBuf>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("path", &self.path).finish()
    }
}

impl Db {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub(crate) fn open(path: &Path) -> Result<Self, StoreError> {
        let open = || -> DbResult<Connection> {
            let mut conn = Connection::open(path)?;
            conn.busy_timeout(BUSY_TIMEOUT)?;
            // WAL lets readers run beside the one writer, across processes too.
            let _mode: String =
                conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            conn.pragma_update(None, "foreign_keys", "ON")?;
            // Overwrite what a write replaces, so the clear tokens of an older row do not linger in free pages.
            conn.pragma_update(None, "secure_delete", "ON")?;
            migrate(&mut conn)?;
            Ok(conn)
        };
        let conn = open().map_err(StoreError::from)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            path: Arc::new(path.to_owned()),
        })
    }

    /// Runs `work` on the connection on the blocking pool, so async callers never block the runtime.
    pub(crate) async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> DbResult<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let guard = conn.lock().unwrap_or_else(PoisonError::into_inner);
            work(&guard)
        })
        .await;
        match joined {
            Ok(result) => result.map_err(StoreError::from),
            Err(e) => Err(StoreError::permanent("embedded database task failed", e)),
        }
    }

    /// Runs `work` in one `BEGIN IMMEDIATE` transaction, committed only when `work` succeeds.
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> DbResult<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(PoisonError::into_inner);
            let run = || -> DbResult<T> {
                let tx = guard.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let value = work(&tx)?;
                tx.commit()?;
                Ok(value)
            };
            run()
        })
        .await;
        match joined {
            Ok(result) => result.map_err(StoreError::from),
            Err(e) => Err(StoreError::permanent("embedded database task failed", e)),
        }
    }
}

#[cfg(test)]
impl Db {
    /// The connection itself, for query-plan tests.
    pub(crate) fn lock_for_tests(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Instants are stored as integer nanoseconds since the epoch: exact round trips, and they sort.
pub(crate) fn nanos(at: DateTime<Utc>) -> DbResult<i64> {
    at.timestamp_nanos_opt().ok_or_else(|| {
        DbError::Store(StoreError::Invalid(format!(
            "instant {at} is outside the storable range"
        )))
    })
}

pub(crate) fn from_nanos(value: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(value)
}

/// A `std::time::Duration` as nanoseconds, refusing absurd values.
pub(crate) fn duration_nanos(duration: Duration) -> DbResult<i64> {
    i64::try_from(duration.as_nanos()).map_err(|_| {
        DbError::Store(StoreError::Invalid(format!(
            "duration {duration:?} is too long"
        )))
    })
}

/// A `u64` version or count as SQLite's integer.
pub(crate) fn int(value: u64) -> DbResult<i64> {
    i64::try_from(value).map_err(|_| {
        DbError::Store(StoreError::Invalid(format!(
            "{value} is too large to store"
        )))
    })
}

/// An integer read back from SQLite as `u64` (never negative for what this store writes).
pub(crate) fn uint(value: i64) -> u64 {
    u64::try_from(value).unwrap_or_default()
}

/// The optimistic-concurrency rule every versioned record follows: `expected_version: None` means "must not
/// exist", `Some(v)` means "must exist at version v". Returns the version the write must store.
pub(crate) fn next_version(
    what: impl FnOnce() -> String,
    current: Option<i64>,
    expected: Option<u64>,
) -> DbResult<i64> {
    match (current, expected) {
        (None, None) => Ok(1),
        (Some(stored), Some(expected)) if stored == int(expected)? => Ok(stored.saturating_add(1)),
        (Some(stored), None) => {
            Err(StoreError::conflict(what(), format!("already exists at version {stored}")).into())
        }
        (Some(stored), Some(expected)) => Err(StoreError::conflict(
            what(),
            format!("expected version {expected}, stored version is {stored}"),
        )
        .into()),
        (None, Some(expected)) => Err(StoreError::conflict(
            what(),
            format!("expected version {expected}, but it does not exist"),
        )
        .into()),
    }
}

/// Decodes a JSON body column.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(body: &str) -> DbResult<T> {
    Ok(serde_json::from_str(body)?)
}

/// Each entry brings the schema from version `index` to `index + 1`.
pub(crate) const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    body TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE links (
    tenant TEXT NOT NULL,
    object_type TEXT NOT NULL,
    direction TEXT NOT NULL,          -- 'vp' (vp key -> exact id) or 'exact' (exact id -> vp key)
    from_key TEXT NOT NULL,
    to_key TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, object_type, direction, from_key)
) WITHOUT ROWID;

CREATE TABLE lookups (
    tenant TEXT NOT NULL,
    tbl TEXT NOT NULL,
    key TEXT NOT NULL,
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (tenant, tbl, key)
) WITHOUT ROWID;

CREATE TABLE statuses (
    tenant TEXT NOT NULL,
    object_type TEXT NOT NULL,
    key TEXT NOT NULL,
    category TEXT NOT NULL,
    status TEXT NOT NULL,
    source_version TEXT,
    version INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (tenant, object_type, key)
);
CREATE INDEX statuses_recent ON statuses (tenant, updated_at, object_type, key);
CREATE INDEX statuses_by_status ON statuses (tenant, status, updated_at, object_type, key);
CREATE INDEX statuses_by_category ON statuses (tenant, category, updated_at, object_type, key);
CREATE INDEX statuses_by_type ON statuses (tenant, object_type, updated_at, key);
CREATE INDEX statuses_by_source_version ON statuses (tenant, source_version, updated_at, object_type, key);

CREATE TABLE status_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    object_type TEXT NOT NULL,
    key TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX status_history_by_object ON status_history (tenant, object_type, key, seq);

CREATE TABLE cursors (
    tenant TEXT NOT NULL,
    flow TEXT NOT NULL,
    name TEXT NOT NULL,
    division INTEGER NOT NULL,
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (tenant, flow, name, division)
) WITHOUT ROWID;

CREATE TABLE jobs (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    lease_expires_at INTEGER,
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX jobs_by_kind ON jobs (tenant, kind, id);
CREATE INDEX jobs_started_leases ON jobs (lease_expires_at) WHERE status = 'started';

CREATE TABLE integrations (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
) WITHOUT ROWID;

CREATE TABLE task_runs (
    tenant TEXT NOT NULL,
    integration_id TEXT NOT NULL,
    period INTEGER NOT NULL,
    task TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (tenant, integration_id, period, task)
) WITHOUT ROWID;

CREATE TABLE task_run_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    integration_id TEXT NOT NULL,
    period INTEGER NOT NULL,
    task TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX task_run_history_by_period ON task_run_history (tenant, integration_id, period, seq);

CREATE TABLE notifications (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX notifications_recent ON notifications (tenant, created_at, id);

CREATE TABLE idempotency (
    key TEXT PRIMARY KEY,
    state TEXT NOT NULL,              -- 'in-progress' or 'completed'
    payload_hash TEXT NOT NULL,
    lease_until INTEGER,
    expires_at INTEGER,
    result TEXT
) WITHOUT ROWID;

CREATE TABLE tokens (
    connection TEXT PRIMARY KEY,
    record TEXT,                      -- JSON of the TokenRecord; NULL while only a lease exists
    generation INTEGER NOT NULL,
    lease_holder TEXT,
    lease_until INTEGER
) WITHOUT ROWID;

CREATE TABLE rate_budgets (
    key TEXT PRIMARY KEY,
    minute_start INTEGER NOT NULL,    -- unix seconds of the calendar minute counted
    minute_used INTEGER NOT NULL,
    day_start INTEGER NOT NULL,       -- unix seconds of the UTC day counted
    day_used INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE queue_messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    queue TEXT NOT NULL,
    body TEXT NOT NULL,
    visible_at INTEGER NOT NULL,
    receive_count INTEGER NOT NULL,
    receipt TEXT UNIQUE
);
CREATE INDEX queue_messages_visible ON queue_messages (queue, visible_at, seq);

CREATE TABLE queue_dead_letters (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    queue TEXT NOT NULL,
    body TEXT NOT NULL,
    receive_count INTEGER NOT NULL,
    dead_at INTEGER NOT NULL
);
CREATE INDEX queue_dead_letters_by_queue ON queue_dead_letters (queue, seq);
"#,
    // 2: master-data links keep what was last synchronised over them (JSON `LinkSync`, on the VP-key row);
    // existing links read with no state and get one at their next synchronisation.
    r#"
ALTER TABLE links ADD COLUMN sync TEXT;
"#,
    // 3: idempotency claims are counted (the fencing token of a claim is its number) and a released claim
    // stays as a record (state 'released'), so the next claim knows an earlier one may have written.
    r#"
ALTER TABLE idempotency ADD COLUMN claims INTEGER NOT NULL DEFAULT 0;
"#,
    // 4: export definitions are their own records (they were entries of the tenant record's settings,
    // `export-definition/<id>`; the jobs crate moves those over the first time it reads them).
    r#"
CREATE TABLE export_definitions (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
) WITHOUT ROWID;
"#,
    // 5: bounded work per request. Attempts carry their time (nanoseconds, as `statuses.updated_at`) with an
    // index, so the sync-health view counts a window with one grouped range query instead of reading each
    // object's history; existing attempts get theirs from their JSON. A status filter combined with an
    // object type (the Integration page's selective filters) reads only matching rows.
    r#"
ALTER TABLE status_history ADD COLUMN at INTEGER;
UPDATE status_history
   SET at = CAST(ROUND((julianday(json_extract(body, '$.at')) - 2440587.5) * 86400000.0) AS INTEGER) * 1000000;
CREATE INDEX status_history_by_time ON status_history (tenant, at);
CREATE INDEX statuses_by_status_type ON statuses (tenant, status, object_type, updated_at, key);
"#,
    // 6: tokens are stored sealed (`ledgerlink_ports::envelope`, with the folder's token.key). `record` keeps
    // the clear JSON only in rows an older version wrote, until their next save seals them and clears it.
    r#"
ALTER TABLE tokens ADD COLUMN sealed BLOB;
"#,
];

/// Applies the migrations the file has not seen yet, in one immediate transaction (two processes opening a
/// new file at once: the second waits, then finds the schema current).
fn migrate(conn: &mut Connection) -> DbResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let current = usize::try_from(current).unwrap_or(usize::MAX);
    if current > MIGRATIONS.len() {
        return Err(DbError::Store(StoreError::Permanent {
            message: format!(
                "the database schema (version {current}) is newer than this build understands ({})",
                MIGRATIONS.len()
            ),
            source: None,
        }));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index + 1)?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reopening_a_migrated_file_keeps_its_schema_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        drop(Db::open(&path).unwrap());

        let again = Db::open(&path).unwrap();

        let conn = again.conn.lock().unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
    }

    #[test]
    fn instants_round_trip_through_nanoseconds() {
        let at = DateTime::parse_from_rfc3339("2026-06-15T10:00:00.123456789Z")
            .unwrap()
            .with_timezone(&Utc);

        assert_eq!(from_nanos(nanos(at).unwrap()), at);
    }
}
