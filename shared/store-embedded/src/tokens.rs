//! [`TokenStore`] on SQLite: one row per connection holding the tokens, the generation and the refresh
//! lease. Every decision runs in an immediate transaction, so the lease is single-flight across every
//! process that opens the same file.
//!
//! `save_and_release` accepts the holder's save even when the lease's time has passed, as long as nobody
//! else took the lease meanwhile (the port passes no `now`; a takeover is what makes a late save stale).
//!
//! The tokens are stored sealed (`sealed`: AES-256-GCM with the folder's `token.key`, the connection as
//! associated data; `ledgerlink_ports::envelope`), so the database file alone holds nothing usable. A row an
//! older version wrote in clear (`record`, JSON) is still read, and is sealed (its clear copy cleared) by
//! the next save.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ledgerlink_ports::envelope::{open_tokens, seal_tokens};
use ledgerlink_ports::{LeaseOutcome, StoreError, StoreResult, TokenRecord, TokenStore};
use rusqlite::{OptionalExtension, Transaction, params};

use crate::db::{Db, DbResult, duration_nanos, from_nanos, nanos};
use crate::token_key::TokenKeySource;

/// OAuth tokens and their refresh leases in the embedded database, sealed with the data folder's key.
#[derive(Debug, Clone)]
pub struct SqliteTokens {
    db: Db,
    key: Arc<TokenKeySource>,
}

impl SqliteTokens {
    pub(crate) fn new(db: Db, key: Arc<TokenKeySource>) -> Self {
        Self { db, key }
    }
}

struct LeaseRow {
    generation: i64,
    holder: Option<String>,
    until: Option<i64>,
}

fn lease_row(tx: &Transaction<'_>, connection: &str) -> DbResult<Option<LeaseRow>> {
    Ok(tx
        .query_row(
            "SELECT generation, lease_holder, lease_until FROM tokens WHERE connection = ?1",
            params![connection],
            |row| {
                Ok(LeaseRow {
                    generation: row.get(0)?,
                    holder: row.get(1)?,
                    until: row.get(2)?,
                })
            },
        )
        .optional()?)
}

/// Writes `record` sealed, with the next generation and no lease (and no clear copy); returns what was stored.
fn store_record(
    tx: &Transaction<'_>,
    key: &TokenKeySource,
    record: &TokenRecord,
    previous_generation: i64,
) -> DbResult<TokenRecord> {
    let mut saved = record.clone();
    let generation = previous_generation.saturating_add(1);
    saved.generation = u64::try_from(generation).unwrap_or_default();
    let sealed = seal_tokens(&key.key()?, &saved).map_err(StoreError::from)?;
    tx.execute(
        "INSERT INTO tokens (connection, record, sealed, generation, lease_holder, lease_until)
         VALUES (?1, NULL, ?2, ?3, NULL, NULL)
         ON CONFLICT (connection) DO UPDATE SET record = NULL, sealed = excluded.sealed,
            generation = excluded.generation, lease_holder = NULL, lease_until = NULL",
        params![saved.connection, sealed, generation],
    )?;
    Ok(saved)
}

#[async_trait]
impl TokenStore for SqliteTokens {
    async fn load(&self, connection: &str) -> StoreResult<Option<TokenRecord>> {
        let connection = connection.to_owned();
        let key = self.key.clone();
        self.db
            .read(move |conn| {
                let row: Option<(Option<Vec<u8>>, Option<String>)> = conn
                    .query_row(
                        "SELECT sealed, record FROM tokens WHERE connection = ?1",
                        params![connection],
                        |row| Ok((row.get(0)?, row.get(1)?)),
                    )
                    .optional()?;
                match row {
                    Some((Some(sealed), _)) => Ok(Some(
                        open_tokens(&key.key()?, &connection, &sealed).map_err(StoreError::from)?,
                    )),
                    // Written in clear by an older version; sealed by its next save.
                    Some((None, Some(text))) => Ok(Some(serde_json::from_str(&text)?)),
                    // No row, or only a lease so far.
                    Some((None, None)) | None => Ok(None),
                }
            })
            .await
    }

    async fn try_lease(
        &self,
        connection: &str,
        holder: &str,
        duration: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<LeaseOutcome> {
        let connection = connection.to_owned();
        let holder = holder.to_owned();
        self.db
            .write(move |tx| {
                let now_ns = nanos(now)?;
                let until = now_ns.saturating_add(duration_nanos(duration)?);
                if let Some(row) = lease_row(tx, &connection)? {
                    if let (Some(current), Some(current_until)) = (&row.holder, row.until)
                        && current_until > now_ns
                        && *current != holder
                    {
                        return Ok(LeaseOutcome::HeldByOther { until: from_nanos(current_until) });
                    }
                    tx.execute(
                        "UPDATE tokens SET lease_holder = ?2, lease_until = ?3 WHERE connection = ?1",
                        params![connection, holder, until],
                    )?;
                } else {
                    tx.execute(
                        "INSERT INTO tokens (connection, record, generation, lease_holder, lease_until)
                         VALUES (?1, NULL, 0, ?2, ?3)",
                        params![connection, holder, until],
                    )?;
                }
                Ok(LeaseOutcome::Acquired)
            })
            .await
    }

    async fn save_and_release(
        &self,
        record: &TokenRecord,
        holder: &str,
    ) -> StoreResult<TokenRecord> {
        let record = record.clone();
        let holder = holder.to_owned();
        let key = self.key.clone();
        self.db
            .write(move |tx| {
                let row = lease_row(tx, &record.connection)?;
                let generation = match row {
                    Some(LeaseRow {
                        generation,
                        holder: Some(current),
                        ..
                    }) if current == holder => generation,
                    _ => {
                        return Err(StoreError::conflict(
                            format!("token lease of {}", record.connection),
                            format!("{holder} does not hold the refresh lease"),
                        )
                        .into());
                    }
                };
                store_record(tx, &key, &record, generation)
            })
            .await
    }

    async fn save_initial(&self, record: &TokenRecord) -> StoreResult<TokenRecord> {
        let record = record.clone();
        let key = self.key.clone();
        self.db
            .write(move |tx| {
                let generation = lease_row(tx, &record.connection)?.map_or(0, |row| row.generation);
                // Clearing any lease means a refresh that started before the re-connect cannot overwrite it.
                store_record(tx, &key, &record, generation)
            })
            .await
    }

    async fn release(&self, connection: &str, holder: &str) -> StoreResult<()> {
        let connection = connection.to_owned();
        let holder = holder.to_owned();
        self.db
            .write(move |tx| {
                tx.execute(
                    "UPDATE tokens SET lease_holder = NULL, lease_until = NULL
                     WHERE connection = ?1 AND lease_holder = ?2",
                    params![connection, holder],
                )?;
                Ok(())
            })
            .await
    }
}
