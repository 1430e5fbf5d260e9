//! [`WorkQueue`] on SQLite: one table of messages for every flow's queue, one of dead letters. Visibility
//! decisions read the injected clock, so tests move time instead of sleeping.
//!
//! Semantics follow SQS: a received message is hidden for its visibility timeout; if not acknowledged it
//! becomes visible again with its receive count kept; the receive that finds a message already received
//! `max_receives` times moves it to the dead-letter table instead of handing it out.

use std::time::Duration;

use async_trait::async_trait;
use ledgerlink_clock::SharedClock;
use ledgerlink_ports::{
    QueueName, ReceivedMessage, StoreError, StoreResult, WorkMessage, WorkQueue,
};
use rusqlite::params;

use crate::db::{Db, decode, duration_nanos, nanos};

/// How many times a message may be received before it is dead-lettered, unless configured otherwise.
pub const DEFAULT_MAX_RECEIVES: u32 = 5;
/// Messages per send transaction (the SQS batch size).
const BATCH: usize = 10;

/// Durable per-flow work queues in the embedded database.
#[derive(Debug, Clone)]
pub struct SqliteQueue {
    db: Db,
    clock: SharedClock,
    max_receives: u32,
}

impl SqliteQueue {
    pub(crate) fn new(db: Db, clock: SharedClock, max_receives: u32) -> Self {
        Self {
            db,
            clock,
            max_receives: max_receives.max(1),
        }
    }

    /// How many receives a message gets before it moves to the dead-letter queue.
    pub fn max_receives(&self) -> u32 {
        self.max_receives
    }

    /// Moves every dead letter of `queue` back onto it with a fresh receive count (the operator fixed the
    /// cause); returns how many moved. The local stack's counterpart of an SQS redrive.
    pub async fn redrive(&self, queue: QueueName) -> StoreResult<u64> {
        let now = self.clock.now();
        self.db
            .write(move |tx| {
                let moved = tx.execute(
                    "INSERT INTO queue_messages (id, queue, body, visible_at, receive_count, receipt)
                     SELECT id, queue, body, ?2, 0, NULL FROM queue_dead_letters WHERE queue = ?1 ORDER BY seq",
                    params![queue.as_str(), nanos(now)?],
                )?;
                tx.execute("DELETE FROM queue_dead_letters WHERE queue = ?1", params![queue.as_str()])?;
                Ok(u64::try_from(moved).unwrap_or(u64::MAX))
            })
            .await
    }
}

struct Candidate {
    seq: i64,
    id: String,
    body: String,
    receive_count: u32,
}

/// The longest message delay, as SQS allows (15 minutes).
const MAX_DELAY: Duration = Duration::from_secs(900);

#[async_trait]
impl WorkQueue for SqliteQueue {
    async fn send(&self, queue: QueueName, messages: &[WorkMessage]) -> StoreResult<()> {
        let total = messages.len();
        for (index, batch) in messages.chunks(BATCH).enumerate() {
            let now = self.clock.now();
            let bodies = batch
                .iter()
                .map(serde_json::to_string)
                .collect::<Result<Vec<_>, _>>();
            let bodies = bodies
                .map_err(|e| StoreError::permanent("a work message could not be encoded", e))?;
            let sent = self
                .db
                .write(move |tx| {
                    let visible_at = nanos(now)?;
                    let mut insert = tx.prepare_cached(
                        "INSERT INTO queue_messages (id, queue, body, visible_at, receive_count, receipt)
                         VALUES (?1, ?2, ?3, ?4, 0, NULL)",
                    )?;
                    for body in &bodies {
                        insert.execute(params![uuid::Uuid::new_v4().to_string(), queue.as_str(), body, visible_at])?;
                    }
                    Ok(())
                })
                .await;
            if let Err(error) = sent {
                let done = index * BATCH;
                let message = format!(
                    "sent {done} of {total} messages to {queue}; messages {done}..{total} were not sent"
                );
                return Err(match error {
                    StoreError::Transient { .. } => StoreError::transient(message, error),
                    other => StoreError::permanent(message, other),
                });
            }
        }
        Ok(())
    }

    async fn receive(
        &self,
        queue: QueueName,
        max: u32,
        visibility: Duration,
    ) -> StoreResult<Vec<ReceivedMessage>> {
        let now = self.clock.now();
        let max = max.clamp(1, 10) as usize;
        let max_receives = self.max_receives;
        self.db
            .write(move |tx| {
                let now_ns = nanos(now)?;
                let hidden_until = now_ns.saturating_add(duration_nanos(visibility)?);
                let candidates = {
                    let mut select = tx.prepare_cached(
                        "SELECT seq, id, body, receive_count FROM queue_messages
                         WHERE queue = ?1 AND visible_at <= ?2 ORDER BY visible_at, seq LIMIT ?3",
                    )?;
                    let rows = select.query_map(params![queue.as_str(), now_ns, 100_i64], |row| {
                        Ok(Candidate { seq: row.get(0)?, id: row.get(1)?, body: row.get(2)?, receive_count: row.get(3)? })
                    })?;
                    rows.collect::<Result<Vec<_>, _>>()?
                };
                let mut received = Vec::new();
                for candidate in candidates {
                    if received.len() == max {
                        break;
                    }
                    if candidate.receive_count >= max_receives {
                        tx.execute(
                            "INSERT INTO queue_dead_letters (id, queue, body, receive_count, dead_at)
                             VALUES (?1, ?2, ?3, ?4, ?5)",
                            params![candidate.id, queue.as_str(), candidate.body, candidate.receive_count, now_ns],
                        )?;
                        tx.execute("DELETE FROM queue_messages WHERE seq = ?1", params![candidate.seq])?;
                        tracing::warn!(queue = %queue, message_id = %candidate.id, receives = candidate.receive_count,
                            "message moved to the dead-letter queue");
                        continue;
                    }
                    let receipt = uuid::Uuid::new_v4().to_string();
                    let receive_count = candidate.receive_count + 1;
                    tx.execute(
                        "UPDATE queue_messages SET receive_count = ?2, receipt = ?3, visible_at = ?4 WHERE seq = ?1",
                        params![candidate.seq, receive_count, receipt, hidden_until],
                    )?;
                    received.push(ReceivedMessage {
                        id: candidate.id,
                        receipt,
                        message: decode(&candidate.body)?,
                        receive_count,
                    });
                }
                Ok(received)
            })
            .await
    }

    async fn ack(&self, queue: QueueName, receipt: &str) -> StoreResult<()> {
        let receipt = receipt.to_owned();
        self.db
            .write(move |tx| {
                // A receipt that no longer matches (already acknowledged, or redelivered since) deletes nothing.
                tx.execute(
                    "DELETE FROM queue_messages WHERE queue = ?1 AND receipt = ?2",
                    params![queue.as_str(), receipt],
                )?;
                Ok(())
            })
            .await
    }

    async fn retry_later(
        &self,
        queue: QueueName,
        receipt: &str,
        delay: Duration,
    ) -> StoreResult<()> {
        let receipt = receipt.to_owned();
        let now = self.clock.now();
        self.db
            .write(move |tx| {
                let visible_at = nanos(now)?.saturating_add(duration_nanos(delay)?);
                let changed = tx.execute(
                    "UPDATE queue_messages SET visible_at = ?3 WHERE queue = ?1 AND receipt = ?2",
                    params![queue.as_str(), receipt, visible_at],
                )?;
                if changed == 0 {
                    return Err(StoreError::not_found(format!(
                        "in-flight message of {queue} with that receipt"
                    ))
                    .into());
                }
                Ok(())
            })
            .await
    }

    async fn dead_letters(&self, queue: QueueName, max: u32) -> StoreResult<Vec<WorkMessage>> {
        self.db
            .read(move |conn| {
                let mut select = conn.prepare_cached(
                    "SELECT body FROM queue_dead_letters WHERE queue = ?1 ORDER BY seq LIMIT ?2",
                )?;
                let rows = select.query_map(params![queue.as_str(), i64::from(max)], |row| {
                    row.get::<_, String>(0)
                })?;
                let mut messages = Vec::new();
                for body in rows {
                    messages.push(decode(&body?)?);
                }
                Ok(messages)
            })
            .await
    }

    async fn send_delayed(
        &self,
        queue: QueueName,
        message: &WorkMessage,
        delay: Duration,
    ) -> StoreResult<()> {
        let delay = delay.min(MAX_DELAY);
        let visible = self.clock.now()
            + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::zero());
        let body = serde_json::to_string(message)
            .map_err(|e| StoreError::permanent("a work message could not be encoded", e))?;
        self.db
            .write(move |tx| {
                tx.execute(
                    "INSERT INTO queue_messages (id, queue, body, visible_at, receive_count, receipt)
                     VALUES (?1, ?2, ?3, ?4, 0, NULL)",
                    params![uuid::Uuid::new_v4().to_string(), queue.as_str(), body, nanos(visible)?],
                )?;
                Ok(())
            })
            .await
    }

    async fn take_dead_letters(&self, queue: QueueName, max: u32) -> StoreResult<Vec<WorkMessage>> {
        self.db
            .write(move |tx| {
                let mut select = tx.prepare_cached(
                    "SELECT seq, body FROM queue_dead_letters WHERE queue = ?1 ORDER BY seq LIMIT ?2",
                )?;
                let rows = select
                    .query_map(params![queue.as_str(), i64::from(max)], |row| {
                        Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                let mut messages = Vec::with_capacity(rows.len());
                for (seq, body) in rows {
                    tx.execute("DELETE FROM queue_dead_letters WHERE seq = ?1", params![seq])?;
                    messages.push(decode(&body)?);
                }
                Ok(messages)
            })
            .await
    }

    async fn depth(&self, queue: QueueName) -> StoreResult<u64> {
        let now = self.clock.now();
        self.db
            .read(move |conn| {
                let count: i64 = conn.query_row(
                    "SELECT COUNT(*) FROM queue_messages WHERE queue = ?1 AND visible_at <= ?2",
                    params![queue.as_str(), nanos(now)?],
                    |row| row.get(0),
                )?;
                Ok(u64::try_from(count).unwrap_or_default())
            })
            .await
    }
}
