//! [`IdempotencyStore`] on SQLite: the Powertools protocol in one row per key, with fencing tokens. `begin`
//! decides inside an immediate transaction, so racing callers (threads or processes) see each other's claim;
//! every claim bumps the row's claim count, which is the claim's fence.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ledgerlink_ports::{
    IdempotencyBegin, IdempotencyClaim, IdempotencyStore, StoreError, StoreResult,
};
use rusqlite::{OptionalExtension, params};

use crate::db::{Db, duration_nanos, from_nanos, nanos};

const IN_PROGRESS: &str = "in-progress";
const COMPLETED: &str = "completed";
const RELEASED: &str = "released";

/// How long a released claim is remembered (so a late retry still looks up before writing).
const RELEASED_KEPT: Duration = Duration::from_secs(30 * 86_400);

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
    claims: i64,
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
                        "SELECT state, payload_hash, lease_until, expires_at, result, claims FROM idempotency WHERE key = ?1",
                        params![key],
                        |row| {
                            Ok(Row {
                                state: row.get(0)?,
                                payload_hash: row.get(1)?,
                                lease_until: row.get(2)?,
                                expires_at: row.get(3)?,
                                result: row.get(4)?,
                                claims: row.get(5)?,
                            })
                        },
                    )
                    .optional()?;
                let mut earlier = 0u64;
                if let Some(row) = existing {
                    let live = match row.state.as_str() {
                        COMPLETED => row.expires_at.is_some_and(|e| e > now_ns),
                        IN_PROGRESS => row.lease_until.is_some_and(|l| l > now_ns),
                        _ => false,
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
                    // A record written before claims were counted still stands for one earlier claim.
                    earlier = u64::try_from(row.claims.max(1)).unwrap_or(1);
                }
                let fence = earlier + 1;
                tx.execute(
                    "INSERT INTO idempotency (key, state, payload_hash, lease_until, expires_at, result, claims)
                     VALUES (?1, ?2, ?3, ?4, NULL, NULL, ?5)
                     ON CONFLICT (key) DO UPDATE SET state = excluded.state, payload_hash = excluded.payload_hash,
                        lease_until = excluded.lease_until, expires_at = NULL, result = NULL,
                        claims = excluded.claims",
                    params![key, IN_PROGRESS, payload_hash, lease_until, i64::try_from(fence).unwrap_or(i64::MAX)],
                )?;
                Ok(IdempotencyBegin::Started(IdempotencyClaim { fence, earlier_claims: earlier }))
            })
            .await
    }

    async fn complete(
        &self,
        key: &str,
        fence: u64,
        payload_hash: &str,
        result: &serde_json::Value,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let key_text = key.to_owned();
        let key = key.to_owned();
        let payload_hash = payload_hash.to_owned();
        let result = serde_json::to_string(result).map_err(|e| {
            ledgerlink_ports::StoreError::permanent("the idempotent result could not be encoded", e)
        })?;
        let fence_n = i64::try_from(fence).unwrap_or(i64::MAX);
        let changed = self
            .db
            .write(move |tx| {
                Ok(tx.execute(
                    "UPDATE idempotency SET state = ?2, payload_hash = ?3, lease_until = NULL, expires_at = ?4,
                        result = ?5
                     WHERE key = ?1 AND state = ?6 AND claims = ?7",
                    params![key, COMPLETED, payload_hash, nanos(expires_at)?, result, IN_PROGRESS, fence_n],
                )?)
            })
            .await?;
        if changed == 0 {
            return Err(StoreError::conflict(
                format!("idempotency claim {fence} of {key_text}"),
                "no longer the live claim (taken over by another worker, or already finished)",
            ));
        }
        Ok(())
    }

    async fn release(&self, key: &str, fence: u64) -> StoreResult<()> {
        let key = key.to_owned();
        let fence = i64::try_from(fence).unwrap_or(i64::MAX);
        let kept = duration_nanos(RELEASED_KEPT)?;
        self.db
            .write(move |tx| {
                // Only our own in-progress claim is released; a completed result or a successor's claim stays.
                tx.execute(
                    "UPDATE idempotency SET state = ?2, expires_at = COALESCE(lease_until, 0) + ?5, lease_until = NULL
                     WHERE key = ?1 AND state = ?3 AND claims = ?4",
                    params![key, RELEASED, IN_PROGRESS, fence, kept],
                )?;
                Ok(())
            })
            .await
    }
}
