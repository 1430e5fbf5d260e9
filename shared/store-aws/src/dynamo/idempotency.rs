//! [`IdempotencyStore`], the Lambda Powertools protocol on one item per key, with fencing tokens.
//!
//! `begin` is one conditional update that succeeds only when no usable record exists: absent, a completed
//! record past its expiry, a released claim, or an in-progress record whose lease ended. It counts the claim
//! (`claims`), and that count is the claim's fence: `complete` and `release` are conditioned on it, so a
//! worker whose lease expired cannot finish or drop its successor's claim. Expiry is checked in the
//! condition with the caller's `now` (the TTL attribute only lets DynamoDB clean up later; nothing depends on
//! it). When the condition fails the existing record is read — from `ReturnValuesOnConditionCheckFailure`
//! when the service returns it, else by a consistent GetItem — and reported.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, Utc};
use ledgerlink_ports::{
    IdempotencyBegin, IdempotencyClaim, IdempotencyStore, StoreError, StoreResult,
};

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
const RELEASED: &str = "RELEASED";
const CLAIMS: &str = "claims";
/// How long a released claim is remembered (so a late retry still looks up before writing).
const RELEASED_KEPT_DAYS: i64 = 30;

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
            // One conditional update claims the key and counts the claim (the count is the claim's fence);
            // a record written before claims were counted stands for one earlier claim.
            let result = self
                .client
                .update_item()
                .table_name(&*self.table)
                .key(PK, s(keys::idempotency_pk(key)))
                .key(SK, s(keys::IDEMPOTENCY_SK))
                .update_expression(
                    "SET #state = :in_progress, #hash = :hash, #lease = :lease_until, #ttl = :ttl, \
                     #claims = if_not_exists(#claims, :legacy) + :one REMOVE #result, #expires",
                )
                .condition_expression(
                    "attribute_not_exists(#pk) OR (#state = :completed AND #expires <= :now) \
                     OR (#state = :in_progress AND #lease <= :now) OR #state = :released",
                )
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#state", STATE)
                .expression_attribute_names("#hash", HASH)
                .expression_attribute_names("#expires", EXPIRES_AT)
                .expression_attribute_names("#lease", LEASE_UNTIL)
                .expression_attribute_names("#ttl", TTL)
                .expression_attribute_names("#claims", CLAIMS)
                .expression_attribute_names("#result", RESULT)
                .expression_attribute_values(":completed", s(COMPLETED))
                .expression_attribute_values(":in_progress", s(IN_PROGRESS))
                .expression_attribute_values(":released", s(RELEASED))
                .expression_attribute_values(":hash", s(payload_hash))
                .expression_attribute_values(":lease_until", n(millis(lease_until)))
                .expression_attribute_values(
                    ":ttl",
                    n(epoch_secs(
                        lease_until + chrono::Duration::days(RELEASED_KEPT_DAYS),
                    )),
                )
                .expression_attribute_values(":legacy", n(0))
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":now", n(millis(now)))
                .return_values(ReturnValue::AllOld)
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            let existing = match result {
                Ok(out) => {
                    let before = out.attributes.unwrap_or_default();
                    let earlier = if before.is_empty() {
                        0
                    } else {
                        num_attr::<u64>(&before, CLAIMS).unwrap_or(0).max(1)
                    };
                    if earlier > 0 && num_attr::<u64>(&before, CLAIMS).is_none() {
                        // A legacy record: its count started at 0, so store the real one.
                        self.fix_legacy_count(key, earlier + 1).await?;
                    }
                    return Ok(IdempotencyBegin::Started(IdempotencyClaim {
                        fence: earlier + 1,
                        earlier_claims: earlier,
                    }));
                }
                Err(SdkError::ServiceError(service))
                    if is_condition_failed_update(service.err()) =>
                {
                    match service.into_err() {
                        UpdateItemError::ConditionalCheckFailedException(e) => e.item,
                        _ => None,
                    }
                }
                Err(e) => return Err(from_sdk("UpdateItem", e)),
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
            // The record went away or expired between our update and our read: claim again.
        }
        Err(StoreError::Transient {
            message: format!("idempotency key {key:?} kept changing while claiming it"),
            source: None,
        })
    }

    async fn complete(
        &self,
        key: &str,
        fence: u64,
        payload_hash: &str,
        result: &serde_json::Value,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let result = serde_json::to_string(result).map_err(|e| StoreError::Permanent {
            message: "result cannot be encoded".into(),
            source: Some(Box::new(e)),
        })?;
        let outcome = self
            .client
            .update_item()
            .table_name(&*self.table)
            .key(PK, s(keys::idempotency_pk(key)))
            .key(SK, s(keys::IDEMPOTENCY_SK))
            .update_expression(
                "SET #state = :completed, #hash = :hash, #result = :result, #expires = :expires, \
                 #ttl = :ttl REMOVE #lease",
            )
            .condition_expression("#state = :in_progress AND #claims = :fence")
            .expression_attribute_names("#state", STATE)
            .expression_attribute_names("#hash", HASH)
            .expression_attribute_names("#result", RESULT)
            .expression_attribute_names("#expires", EXPIRES_AT)
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_names("#lease", LEASE_UNTIL)
            .expression_attribute_names("#claims", CLAIMS)
            .expression_attribute_values(":completed", s(COMPLETED))
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .expression_attribute_values(":hash", s(payload_hash))
            .expression_attribute_values(":result", s(result))
            .expression_attribute_values(":expires", n(millis(expires_at)))
            .expression_attribute_values(":ttl", n(epoch_secs(expires_at)))
            .expression_attribute_values(":fence", n(fence))
            .send()
            .await;
        match outcome {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failed(&e) => Err(StoreError::conflict(
                format!("idempotency claim {fence} of {key}"),
                "no longer the live claim (taken over by another worker, or already finished)",
            )),
            Err(e) => Err(from_sdk("UpdateItem", e)),
        }
    }

    async fn release(&self, key: &str, fence: u64) -> StoreResult<()> {
        let result = self
            .client
            .update_item()
            .table_name(&*self.table)
            .key(PK, s(keys::idempotency_pk(key)))
            .key(SK, s(keys::IDEMPOTENCY_SK))
            .update_expression("SET #state = :released REMOVE #lease")
            .condition_expression("#state = :in_progress AND #claims = :fence")
            .expression_attribute_names("#state", STATE)
            .expression_attribute_names("#lease", LEASE_UNTIL)
            .expression_attribute_names("#claims", CLAIMS)
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .expression_attribute_values(":released", s(RELEASED))
            .expression_attribute_values(":fence", n(fence))
            .send()
            .await;
        match result {
            // Not our live claim (unknown key, completed, or taken over): nothing of ours to release.
            Ok(_) => Ok(()),
            Err(e) if is_condition_failed(&e) => Ok(()),
            Err(e) => Err(from_sdk("UpdateItem", e)),
        }
    }
}

impl DynamoState {
    /// Sets the claim count of a record written before claims were counted (its first counted claim).
    async fn fix_legacy_count(&self, key: &str, claims: u64) -> StoreResult<()> {
        self.client
            .update_item()
            .table_name(&*self.table)
            .key(PK, s(keys::idempotency_pk(key)))
            .key(SK, s(keys::IDEMPOTENCY_SK))
            .update_expression("SET #claims = :claims")
            .condition_expression("#claims = :one")
            .expression_attribute_names("#claims", CLAIMS)
            .expression_attribute_values(":claims", n(claims))
            .expression_attribute_values(":one", n(1))
            .send()
            .await
            .map(|_| ())
            .or_else(|e| {
                if is_condition_failed(&e) {
                    Ok(())
                } else {
                    Err(from_sdk("UpdateItem", e))
                }
            })
    }
}

fn is_condition_failed_update(err: &UpdateItemError) -> bool {
    matches!(err, UpdateItemError::ConditionalCheckFailedException(_))
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
