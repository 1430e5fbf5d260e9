//! [`RateBudget`] on SQLite: per key, the calls used in the current calendar minute and UTC day. Every
//! process sharing the file draws from the same counters (immediate transactions), so N workers together
//! stay under the server's limits.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ledgerlink_ports::{RateBudget, RateDecision, RateLimits, RateObservation, StoreResult};
use rusqlite::{OptionalExtension, Transaction, params};

use crate::db::{Db, DbResult};

const MINUTE: i64 = 60;
const DAY: i64 = 86_400;

/// Shared rate budgets in the embedded database.
#[derive(Debug, Clone)]
pub struct SqliteRateBudget {
    db: Db,
}

impl SqliteRateBudget {
    pub(crate) fn new(db: Db) -> Self {
        Self { db }
    }
}

/// The counters of one key, already rolled over to the windows containing `now`.
#[derive(Debug, Clone, Copy)]
struct Windows {
    minute_start: i64,
    minute_used: i64,
    day_start: i64,
    day_used: i64,
}

impl Windows {
    fn current(tx: &Transaction<'_>, key: &str, now: DateTime<Utc>) -> DbResult<Self> {
        let secs = now.timestamp();
        let minute_start = secs.div_euclid(MINUTE) * MINUTE;
        let day_start = secs.div_euclid(DAY) * DAY;
        let stored = tx
            .query_row(
                "SELECT minute_start, minute_used, day_start, day_used FROM rate_budgets WHERE key = ?1",
                params![key],
                |row| {
                    Ok(Windows {
                        minute_start: row.get(0)?,
                        minute_used: row.get(1)?,
                        day_start: row.get(2)?,
                        day_used: row.get(3)?,
                    })
                },
            )
            .optional()?;
        let mut windows = Windows {
            minute_start,
            minute_used: 0,
            day_start,
            day_used: 0,
        };
        if let Some(stored) = stored {
            if stored.minute_start == minute_start {
                windows.minute_used = stored.minute_used;
            }
            if stored.day_start == day_start {
                windows.day_used = stored.day_used;
            }
        }
        Ok(windows)
    }

    fn save(&self, tx: &Transaction<'_>, key: &str) -> DbResult<()> {
        tx.execute(
            "INSERT INTO rate_budgets (key, minute_start, minute_used, day_start, day_used) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (key) DO UPDATE SET minute_start = excluded.minute_start, minute_used = excluded.minute_used,
                day_start = excluded.day_start, day_used = excluded.day_used",
            params![key, self.minute_start, self.minute_used, self.day_start, self.day_used],
        )?;
        Ok(())
    }
}

fn instant(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

#[async_trait]
impl RateBudget for SqliteRateBudget {
    async fn acquire(
        &self,
        key: &str,
        limits: RateLimits,
        now: DateTime<Utc>,
    ) -> StoreResult<RateDecision> {
        let key = key.to_owned();
        self.db
            .write(move |tx| {
                let mut windows = Windows::current(tx, &key, now)?;
                // The day is checked first: when both are spent, the caller must wait for the later reset.
                if windows.day_used >= i64::from(limits.per_day) {
                    return Ok(RateDecision::WaitUntil {
                        until: instant(windows.day_start + DAY),
                        daily: true,
                    });
                }
                if windows.minute_used >= i64::from(limits.per_minute) {
                    return Ok(RateDecision::WaitUntil {
                        until: instant(windows.minute_start + MINUTE),
                        daily: false,
                    });
                }
                windows.minute_used += 1;
                windows.day_used += 1;
                windows.save(tx, &key)?;
                Ok(RateDecision::Granted)
            })
            .await
    }

    async fn observe(
        &self,
        key: &str,
        limits: RateLimits,
        observation: RateObservation,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let key = key.to_owned();
        self.db
            .write(move |tx| {
                let mut windows = Windows::current(tx, &key, now)?;
                // An observation whose reset already passed describes a window that is over: ignore it.
                let current = |reset: Option<DateTime<Utc>>| reset.is_none_or(|reset| reset > now);
                if let Some(remaining) = observation.minute_remaining
                    && current(observation.minute_reset)
                {
                    let used = i64::from(limits.per_minute.saturating_sub(remaining));
                    windows.minute_used = windows.minute_used.max(used);
                }
                if let Some(remaining) = observation.day_remaining
                    && current(observation.day_reset)
                {
                    let used = i64::from(limits.per_day.saturating_sub(remaining));
                    windows.day_used = windows.day_used.max(used);
                }
                windows.save(tx, &key)
            })
            .await
    }

    async fn used_today(&self, key: &str, now: DateTime<Utc>) -> StoreResult<u32> {
        let key = key.to_owned();
        let day_start = now.timestamp().div_euclid(DAY) * DAY;
        self.db
            .read(move |conn| {
                let used: Option<i64> = conn
                    .query_row(
                        "SELECT day_used FROM rate_budgets WHERE key = ?1 AND day_start = ?2",
                        params![key, day_start],
                        |row| row.get(0),
                    )
                    .optional()?;
                Ok(u32::try_from(used.unwrap_or(0)).unwrap_or(u32::MAX))
            })
            .await
    }
}
