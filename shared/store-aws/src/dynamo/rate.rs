//! [`RateBudget`]: one counter item per key and window (`RATE#<key>` / `MIN#<minute>`, `DAY#<date>`).
//!
//! `acquire` increments both windows in one TransactWriteItems, each an atomic `ADD` guarded by
//! `count < limit`, so a refused call takes nothing from either window and racing callers can never be
//! granted more than the limit. Windows are keyed by their start, so an old window is simply never read
//! again (the TTL attribute only tidies up).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use chrono::{DateTime, Duration, DurationRound, NaiveTime, Utc};
use ledgerlink_ports::{RateBudget, RateDecision, RateLimits, RateObservation, StoreResult};

use super::{
    DynamoState, build, epoch_secs, is_condition_failed, is_condition_reason, n, num_attr, s,
};
use crate::error::from_sdk;
use crate::keys::{self, PK, SK, TTL};

const COUNT: &str = "count";

fn minute_start(now: DateTime<Utc>) -> DateTime<Utc> {
    now.duration_trunc(Duration::minutes(1)).unwrap_or(now)
}

fn day_start(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive().and_time(NaiveTime::MIN).and_utc()
}

impl DynamoState {
    fn take_one(
        &self,
        key: &str,
        sk: String,
        limit: u32,
        expires: DateTime<Utc>,
    ) -> StoreResult<TransactWriteItem> {
        let update = Update::builder()
            .table_name(&*self.table)
            .key(PK, s(keys::rate_pk(key)))
            .key(SK, s(sk))
            .update_expression("ADD #count :one SET #ttl = :ttl")
            .condition_expression("attribute_not_exists(#count) OR #count < :limit")
            .expression_attribute_names("#count", COUNT)
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(limit))
            .expression_attribute_values(":ttl", n(epoch_secs(expires)))
            .build();
        Ok(TransactWriteItem::builder()
            .update(build("rate budget", update)?)
            .build())
    }

    /// Raises a window's count to `used` (never lowers it).
    async fn raise_to(
        &self,
        key: &str,
        sk: String,
        used: u32,
        expires: DateTime<Utc>,
    ) -> StoreResult<()> {
        let result = self
            .client
            .update_item()
            .table_name(&*self.table)
            .key(PK, s(keys::rate_pk(key)))
            .key(SK, s(sk))
            .update_expression("SET #count = :used, #ttl = :ttl")
            .condition_expression("attribute_not_exists(#count) OR #count < :used")
            .expression_attribute_names("#count", COUNT)
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":used", n(used))
            .expression_attribute_values(":ttl", n(epoch_secs(expires)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failed(&e) => Ok(()),
            Err(e) => Err(from_sdk("UpdateItem", e)),
        }
    }
}

#[async_trait]
impl RateBudget for DynamoState {
    async fn acquire(
        &self,
        key: &str,
        limits: RateLimits,
        now: DateTime<Utc>,
    ) -> StoreResult<RateDecision> {
        let minute = minute_start(now);
        let day = day_start(now);
        let next_minute = minute + Duration::minutes(1);
        let next_day = day + Duration::days(1);
        let items = vec![
            self.take_one(
                key,
                keys::rate_minute_sk(minute),
                limits.per_minute,
                next_minute + Duration::minutes(5),
            )?,
            self.take_one(
                key,
                keys::rate_day_sk(day),
                limits.per_day,
                next_day + Duration::days(1),
            )?,
        ];
        match self.transact(items).await? {
            Ok(()) => Ok(RateDecision::Granted),
            Err(reasons) => {
                let day_spent = reasons
                    .get(1)
                    .is_some_and(|r| is_condition_reason(r.as_deref()));
                Ok(if day_spent {
                    RateDecision::WaitUntil {
                        until: next_day,
                        daily: true,
                    }
                } else {
                    RateDecision::WaitUntil {
                        until: next_minute,
                        daily: false,
                    }
                })
            }
        }
    }

    async fn observe(
        &self,
        key: &str,
        limits: RateLimits,
        observation: RateObservation,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        if let Some(remaining) = observation.minute_remaining {
            let minute = minute_start(now);
            let used = limits.per_minute.saturating_sub(remaining);
            self.raise_to(
                key,
                keys::rate_minute_sk(minute),
                used,
                minute + Duration::minutes(6),
            )
            .await?;
        }
        if let Some(remaining) = observation.day_remaining {
            let day = day_start(now);
            let used = limits.per_day.saturating_sub(remaining);
            self.raise_to(key, keys::rate_day_sk(day), used, day + Duration::days(2))
                .await?;
        }
        Ok(())
    }

    async fn used_today(&self, key: &str, now: DateTime<Utc>) -> StoreResult<u32> {
        let item = self
            .get_item(keys::rate_pk(key), keys::rate_day_sk(day_start(now)))
            .await?;
        Ok(item
            .as_ref()
            .and_then(|item| num_attr::<u32>(item, COUNT))
            .unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn windows_start_at_the_calendar_minute_and_the_utc_day() {
        let now = Utc
            .with_ymd_and_hms(2026, 6, 15, 10, 7, 42)
            .single()
            .unwrap_or_default();

        assert_eq!(
            minute_start(now),
            Utc.with_ymd_and_hms(2026, 6, 15, 10, 7, 0)
                .single()
                .unwrap_or_default()
        );
        assert_eq!(
            day_start(now),
            Utc.with_ymd_and_hms(2026, 6, 15, 0, 0, 0)
                .single()
                .unwrap_or_default()
        );
    }
}
