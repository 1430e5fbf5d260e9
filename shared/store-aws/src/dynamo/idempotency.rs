//! [`IdempotencyStore`], the Lambda Powertools protocol on one item per key.
//!
//! `begin` is a conditional put that succeeds only when no usable record exists: absent, a completed record
//! past its expiry, or an in-progress record whose lease ended. Expiry is checked in the condition with the
//! caller's `now` (the TTL attribute only lets DynamoDB clean up later; nothing depends on it). When the
//! condition fails the existing record is read — from `ReturnValuesOnConditionCheckFailure` when the service
//! returns it, else by a consistent GetItem — and reported.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use chrono::{DateTime, Utc};
use ledgerlink_ports::{IdempotencyBegin, IdempotencyStore, StoreError, StoreResult};

use super::{
    DynamoState, Item, epoch_secs, from_millis, is_condition_failed, millis, n, num_attr, s,
    str_attr,
};
use crate::error::{corrupt, from_sdk};
use crate::keys::{self, PK, SK, TTL};

const STATE: &str = "state";
const HASH: &str = "payload_hash";
const LEASE_UNTIL: &str = "lease_until";
const EXPIRES_AT: &str = "expires_at";
const RESULT: &str = "result";
const IN_PROGRESS: &str = "INPROGRESS";
const COMPLETED: &str = "COMPLETED";

/// Rounds of "claim failed, but the record we then read is usable" before giving up (a record that keeps
/// changing under us; each round means another writer made progress).
const MAX_ROUNDS: usize = 5;

fn record_state(
    item: &Item,
    payload_hash: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<IdempotencyBegin>> {
    let stored_hash = str_attr(item, HASH).unwrap_or_default();
    let live = match str_attr(item, STATE) {
        Some(COMPLETED) => num_attr::<i64>(item, EXPIRES_AT).is_some_and(|at| at > millis(now)),
        Some(IN_PROGRESS) => num_attr::<i64>(item, LEASE_UNTIL).is_some_and(|at| at > millis(now)),
        _ => false,
    };
    if !live {
        return Ok(None);
    }
    if stored_hash != payload_hash {
        return Ok(Some(IdempotencyBegin::PayloadMismatch {
            stored_hash: stored_hash.to_owned(),
        }));
    }
    if str_attr(item, STATE) == Some(COMPLETED) {
        let text = str_attr(item, RESULT)
            .ok_or_else(|| corrupt("idempotency record", "result missing"))?;
        let result = serde_json::from_str(text).map_err(|e| corrupt("idempotency result", e))?;
        return Ok(Some(IdempotencyBegin::Completed { result }));
    }
    let lease_until = num_attr::<i64>(item, LEASE_UNTIL)
        .and_then(from_millis)
        .ok_or_else(|| corrupt("idempotency record", "lease_until missing"))?;
    Ok(Some(IdempotencyBegin::InProgress { lease_until }))
}

#[async_trait]
impl IdempotencyStore for DynamoState {
    async fn begin(
        &self,
        key: &str,
        payload_hash: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<IdempotencyBegin> {
        let lease = chrono::Duration::from_std(lease)
            .map_err(|_| StoreError::Invalid("lease too long".into()))?;
        let lease_until = now + lease;
        for _ in 0..MAX_ROUNDS {
            let result = self
                .client
                .put_item()
                .table_name(&*self.table)
                .item(PK, s(keys::idempotency_pk(key)))
                .item(SK, s(keys::IDEMPOTENCY_SK))
                .item(STATE, s(IN_PROGRESS))
                .item(HASH, s(payload_hash))
                .item(LEASE_UNTIL, n(millis(lease_until)))
                .item(TTL, n(epoch_secs(lease_until + chrono::Duration::days(1))))
                .condition_expression(
                    "attribute_not_exists(#pk) OR (#state = :completed AND #expires <= :now) \
                     OR (#state = :in_progress AND #lease <= :now)",
                )
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#state", STATE)
                .expression_attribute_names("#expires", EXPIRES_AT)
                .expression_attribute_names("#lease", LEASE_UNTIL)
                .expression_attribute_values(":completed", s(COMPLETED))
                .expression_attribute_values(":in_progress", s(IN_PROGRESS))
                .expression_attribute_values(":now", n(millis(now)))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            let existing = match result {
                Ok(_) => return Ok(IdempotencyBegin::Started),
                Err(SdkError::ServiceError(service)) if is_condition_failed_put(service.err()) => {
                    match service.into_err() {
                        PutItemError::ConditionalCheckFailedException(e) => e.item,
                        _ => None,
                    }
                }
                Err(e) => return Err(from_sdk("PutItem", e)),
            };
            let existing = match existing {
                Some(item) => Some(item),
                None => {
                    self.get_item(keys::idempotency_pk(key), keys::IDEMPOTENCY_SK)
                        .await?
                }
            };
            if let Some(item) = existing
                && let Some(outcome) = record_state(&item, payload_hash, now)?
            {
                return Ok(outcome);
            }
            // The record went away or expired between our put and our read: claim again.
        }
        Err(StoreError::Transient {
            message: format!("idempotency key {key:?} kept changing while claiming it"),
            source: None,
        })
    }

    async fn complete(
        &self,
        key: &str,
        payload_hash: &str,
        result: &serde_json::Value,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let result = serde_json::to_string(result).map_err(|e| StoreError::Permanent {
            message: "result cannot be encoded".into(),
            source: Some(Box::new(e)),
        })?;
        self.client
            .put_item()
            .table_name(&*self.table)
            .item(PK, s(keys::idempotency_pk(key)))
            .item(SK, s(keys::IDEMPOTENCY_SK))
            .item(STATE, s(COMPLETED))
            .item(HASH, s(payload_hash))
            .item(RESULT, s(result))
            .item(EXPIRES_AT, n(millis(expires_at)))
            .item(TTL, n(epoch_secs(expires_at)))
            .send()
            .await
            .map_err(|e| from_sdk("PutItem", e))?;
        Ok(())
    }

    async fn release(&self, key: &str) -> StoreResult<()> {
        let result = self
            .client
            .delete_item()
            .table_name(&*self.table)
            .key(PK, s(keys::idempotency_pk(key)))
            .key(SK, s(keys::IDEMPOTENCY_SK))
            .condition_expression("#state = :in_progress")
            .expression_attribute_names("#state", STATE)
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .send()
            .await;
        match result {
            // Nothing in progress (unknown key, or already completed): nothing to release.
            Ok(_) => Ok(()),
            Err(e) if is_condition_failed(&e) => Ok(()),
            Err(e) => Err(from_sdk("DeleteItem", e)),
        }
    }
}

fn is_condition_failed_put(err: &PutItemError) -> bool {
    matches!(err, PutItemError::ConditionalCheckFailedException(_))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 15, 10, 0, 0)
            .single()
            .unwrap_or_default()
    }

    fn record(state: &str, hash: &str, until_secs: i64) -> Item {
        let until = n(millis(now() + chrono::Duration::seconds(until_secs)));
        Item::from([
            (STATE.to_owned(), s(state)),
            (HASH.to_owned(), s(hash)),
            (LEASE_UNTIL.to_owned(), until.clone()),
            (EXPIRES_AT.to_owned(), until),
            (RESULT.to_owned(), s(r#"{"ok":true}"#)),
        ])
    }

    #[test]
    fn a_read_record_is_reported_by_state_hash_and_expiry() {
        let live_done = record_state(&record(COMPLETED, "h", 10), "h", now())
            .ok()
            .flatten();
        let live_lease = record_state(&record(IN_PROGRESS, "h", 10), "h", now())
            .ok()
            .flatten();
        let other_hash = record_state(&record(COMPLETED, "h", 10), "x", now())
            .ok()
            .flatten();
        let expired = record_state(&record(COMPLETED, "h", 0), "h", now())
            .ok()
            .flatten();
        let lease_over = record_state(&record(IN_PROGRESS, "h", -1), "x", now())
            .ok()
            .flatten();

        assert_eq!(
            live_done,
            Some(IdempotencyBegin::Completed {
                result: serde_json::json!({"ok": true})
            })
        );
        assert_eq!(
            live_lease,
            Some(IdempotencyBegin::InProgress {
                lease_until: now() + chrono::Duration::seconds(10)
            })
        );
        assert_eq!(
            other_hash,
            Some(IdempotencyBegin::PayloadMismatch {
                stored_hash: "h".into()
            })
        );
        assert_eq!(expired, None, "expired at exactly now: claim again");
        assert_eq!(
            lease_over, None,
            "an ended lease is no record, whatever its hash"
        );
    }
}
