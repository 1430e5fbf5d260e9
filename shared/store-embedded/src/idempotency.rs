//! [`IdempotencyStore`] on SQLite: the Powertools protocol in one row per key. `begin` decides inside an
//! immediate transaction, so racing callers (threads or processes) see each other's claim.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ledgerlink_ports::{IdempotencyBegin, IdempotencyStore, StoreResult};
use rusqlite::{OptionalExtension, params};

use crate::db::{Db, duration_nanos, from_nanos, nanos};

const IN_PROGRESS: &str = "in-progress";
const COMPLETED: &str = "completed";

/// Idempotency records in the embedded database.
#[derive(Debug, Clone)]
pub struct SqliteIdempotency {
    db: Db,
}

impl SqliteIdempotency {
    pub(crate) fn new(db: Db) -> Self {
        Self { db }
    }
}

struct Row {
    state: String,
    payload_hash: String,
    lease_until: Option<i64>,
    expires_at: Option<i64>,
    result: Option<String>,
}

#[async_trait]
impl IdempotencyStore for SqliteIdempotency {
    async fn begin(
        &self,
        key: &str,
        payload_hash: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<IdempotencyBegin> {
        let key = key.to_owned();
        let payload_hash = payload_hash.to_owned();
        self.db
            .write(move |tx| {
                let now_ns = nanos(now)?;
                let lease_until = now_ns.saturating_add(duration_nanos(lease)?);
                let existing = tx
                    .query_row(
                        "SELECT state, payload_hash, lease_until, expires_at, result FROM idempotency WHERE key = ?1",
                        params![key],
                        |row| {
                            Ok(Row {
                                state: row.get(0)?,
                                payload_hash: row.get(1)?,
                                lease_until: row.get(2)?,
                                expires_at: row.get(3)?,
                                result: row.get(4)?,
                            })
                        },
                    )
                    .optional()?;
                if let Some(row) = existing {
                    let live = match row.state.as_str() {
                        COMPLETED => row.expires_at.is_some_and(|e| e > now_ns),
                        _ => row.lease_until.is_some_and(|l| l > now_ns),
                    };
                    if live {
                        // As in Powertools, the payload is validated before the status is acted on.
                        if row.payload_hash != payload_hash {
                            return Ok(IdempotencyBegin::PayloadMismatch { stored_hash: row.payload_hash });
                        }
                        if row.state == COMPLETED {
                            let result = match row.result {
                                Some(text) => serde_json::from_str(&text)?,
                                None => serde_json::Value::Null,
                            };
                            return Ok(IdempotencyBegin::Completed { result });
                        }
                        return Ok(IdempotencyBegin::InProgress {
                            lease_until: from_nanos(row.lease_until.unwrap_or(now_ns)),
                        });
                    }
                }
                tx.execute(
                    "INSERT INTO idempotency (key, state, payload_hash, lease_until, expires_at, result)
                     VALUES (?1, ?2, ?3, ?4, NULL, NULL)
                     ON CONFLICT (key) DO UPDATE SET state = excluded.state, payload_hash = excluded.payload_hash,
                        lease_until = excluded.lease_until, expires_at = NULL, result = NULL",
                    params![key, IN_PROGRESS, payload_hash, lease_until],
                )?;
                Ok(IdempotencyBegin::Started)
            })
            .await
    }

    async fn complete(
        &self,
        key: &str,
        payload_hash: &str,
        result: &serde_json::Value,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let key = key.to_owned();
        let payload_hash = payload_hash.to_owned();
        let result = serde_json::to_string(result).map_err(|e| {
            ledgerlink_ports::StoreError::permanent("the idempotent result could not be encoded", e)
        })?;
        self.db
            .write(move |tx| {
                tx.execute(
                    "INSERT INTO idempotency (key, state, payload_hash, lease_until, expires_at, result)
                     VALUES (?1, ?2, ?3, NULL, ?4, ?5)
                     ON CONFLICT (key) DO UPDATE SET state = excluded.state, payload_hash = excluded.payload_hash,
                        lease_until = NULL, expires_at = excluded.expires_at, result = excluded.result",
                    params![key, COMPLETED, payload_hash, nanos(expires_at)?, result],
                )?;
                Ok(())
            })
            .await
    }

    async fn release(&self, key: &str) -> StoreResult<()> {
        let key = key.to_owned();
        self.db
            .write(move |tx| {
                // Only an in-progress claim is released; a completed result stays until it expires.
                tx.execute(
                    "DELETE FROM idempotency WHERE key = ?1 AND state = ?2",
                    params![key, IN_PROGRESS],
                )?;
                Ok(())
            })
            .await
    }
}
