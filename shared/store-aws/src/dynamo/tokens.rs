//! [`TokenStore`]: one item per connection holding the tokens, a generation counter (`gen`) bumped by the
//! update itself, and the single-flight refresh lease (`lease_holder`, `lease_until`), taken and released by
//! conditional updates so two workers never refresh the same token at once.
//!
//! The tokens are sealed (`sealed`, binary: the record's JSON under AES-256-GCM, `ledgerlink_ports::envelope`)
//! with a KMS data key made for this row, whose encrypted copy is stored beside them (`wrapped_key`,
//! binary); see [`crate::TokenKeys`]. A read of the table alone therefore yields nothing usable, and a row
//! copied onto another tenant's key does not open there. A row an older version wrote in clear (`doc`) is
//! still read, and the next save seals it and removes the clear copy.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, Utc};
use ledgerlink_ports::envelope::{RecordContext, open_tokens, seal_tokens};
use ledgerlink_ports::{LeaseOutcome, StoreError, StoreResult, TokenRecord, TokenStore};

use super::{
    DOC, DynamoState, Item, bin_attr, from_doc, from_millis, is_condition_failed, millis, n,
    num_attr, s, str_attr,
};
use crate::TokenKeys;
use crate::error::{corrupt, from_sdk};
use crate::keys::{self, PK, SK};

const GENERATION: &str = "gen";
const HOLDER: &str = "lease_holder";
const LEASE_UNTIL: &str = "lease_until";
/// The sealed token record.
const SEALED: &str = "sealed";
/// The KMS-encrypted data key `sealed` was sealed with.
const WRAPPED_KEY: &str = "wrapped_key";

const MAX_ROUNDS: usize = 5;

impl DynamoState {
    fn token_keys(&self) -> StoreResult<&TokenKeys> {
        self.token_keys
            .as_ref()
            .ok_or_else(|| StoreError::Permanent {
                message:
                    "OAuth tokens are only stored sealed, and no KMS key is configured for them \
                      (TOKEN_KMS_KEY_ID)"
                        .into(),
                source: None,
            })
    }

    async fn decode(&self, connection: &str, item: &Item) -> StoreResult<Option<TokenRecord>> {
        let mut record = if let Some(sealed) = bin_attr(item, SEALED) {
            let wrapped = bin_attr(item, WRAPPED_KEY)
                .ok_or_else(|| corrupt("token record", "the data key is missing"))?;
            let context = RecordContext::for_tokens(connection);
            let key = self.token_keys()?.unwrap(&context, wrapped).await?;
            open_tokens(&key, connection, sealed)?
        } else if str_attr(item, DOC).is_some() {
            // Written in clear by an older version; sealed by its next save.
            from_doc::<TokenRecord>("token record", item)?
        } else {
            // A lease was taken on a connection that has no tokens yet.
            return Ok(None);
        };
        record.generation = num_attr(item, GENERATION)
            .ok_or_else(|| corrupt("token record", "generation missing"))?;
        Ok(Some(record))
    }

    /// Writes the tokens, bumps the generation and clears the lease; `holder` = only while it holds the lease.
    async fn save_tokens(
        &self,
        record: &TokenRecord,
        holder: Option<&str>,
    ) -> StoreResult<TokenRecord> {
        let context = RecordContext::for_tokens(&record.connection);
        let (key, wrapped) = self.token_keys()?.generate(&context).await?;
        let sealed = seal_tokens(&key, record)?;
        let mut request = self
            .client
            .update_item()
            .table_name(&*self.table)
            .key(PK, s(keys::token_pk(&record.connection)))
            .key(SK, s(keys::TOKEN_SK))
            .update_expression(
                "SET #sealed = :sealed, #wrapped = :wrapped, #gen = if_not_exists(#gen, :zero) + :one \
                 REMOVE #doc, #holder, #lease",
            )
            .expression_attribute_names("#sealed", SEALED)
            .expression_attribute_names("#wrapped", WRAPPED_KEY)
            .expression_attribute_names("#doc", DOC)
            .expression_attribute_names("#gen", GENERATION)
            .expression_attribute_names("#holder", HOLDER)
            .expression_attribute_names("#lease", LEASE_UNTIL)
            .expression_attribute_values(":sealed", AttributeValue::B(Blob::new(sealed)))
            .expression_attribute_values(":wrapped", AttributeValue::B(Blob::new(wrapped)))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::AllNew);
        if let Some(holder) = holder {
            request = request
                .condition_expression("#holder = :holder")
                .expression_attribute_values(":holder", s(holder));
        }
        match request.send().await {
            Ok(out) => {
                let item = out.attributes.unwrap_or_default();
                let generation = num_attr(&item, GENERATION)
                    .ok_or_else(|| corrupt("token record", "generation missing"))?;
                Ok(TokenRecord {
                    generation,
                    ..record.clone()
                })
            }
            Err(e) if is_condition_failed(&e) => Err(StoreError::conflict(
                format!("tokens of {}", record.connection),
                "the refresh lease is not held by this worker",
            )),
            Err(e) => Err(from_sdk("UpdateItem", e)),
        }
    }
}

#[async_trait]
impl TokenStore for DynamoState {
    async fn load(&self, connection: &str) -> StoreResult<Option<TokenRecord>> {
        match self
            .get_item(keys::token_pk(connection), keys::TOKEN_SK)
            .await?
        {
            Some(item) => self.decode(connection, &item).await,
            None => Ok(None),
        }
    }

    async fn try_lease(
        &self,
        connection: &str,
        holder: &str,
        duration: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<LeaseOutcome> {
        let duration = chrono::Duration::from_std(duration)
            .map_err(|_| StoreError::Invalid("lease too long".into()))?;
        for _ in 0..MAX_ROUNDS {
            let result = self
                .client
                .update_item()
                .table_name(&*self.table)
                .key(PK, s(keys::token_pk(connection)))
                .key(SK, s(keys::TOKEN_SK))
                .update_expression("SET #holder = :holder, #lease = :until")
                .condition_expression(
                    "attribute_not_exists(#holder) OR #lease <= :now OR #holder = :holder",
                )
                .expression_attribute_names("#holder", HOLDER)
                .expression_attribute_names("#lease", LEASE_UNTIL)
                .expression_attribute_values(":holder", s(holder))
                .expression_attribute_values(":until", n(millis(now + duration)))
                .expression_attribute_values(":now", n(millis(now)))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            let existing = match result {
                Ok(_) => return Ok(LeaseOutcome::Acquired),
                Err(SdkError::ServiceError(service))
                    if matches!(
                        service.err(),
                        UpdateItemError::ConditionalCheckFailedException(_)
                    ) =>
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
                    self.get_item(keys::token_pk(connection), keys::TOKEN_SK)
                        .await?
                }
            };
            let until = existing
                .as_ref()
                .and_then(|item| num_attr::<i64>(item, LEASE_UNTIL))
                .and_then(from_millis);
            if let Some(until) = until.filter(|until| *until > now) {
                return Ok(LeaseOutcome::HeldByOther { until });
            }
            // Released or expired between our update and our read: try again.
        }
        Err(StoreError::Transient {
            message: format!("refresh lease of {connection:?} kept changing"),
            source: None,
        })
    }

    async fn save_and_release(
        &self,
        record: &TokenRecord,
        holder: &str,
    ) -> StoreResult<TokenRecord> {
        self.save_tokens(record, Some(holder)).await
    }

    async fn save_initial(&self, record: &TokenRecord) -> StoreResult<TokenRecord> {
        self.save_tokens(record, None).await
    }

    async fn release(&self, connection: &str, holder: &str) -> StoreResult<()> {
        let result = self
            .client
            .update_item()
            .table_name(&*self.table)
            .key(PK, s(keys::token_pk(connection)))
            .key(SK, s(keys::TOKEN_SK))
            .update_expression("REMOVE #holder, #lease")
            .condition_expression("#holder = :holder")
            .expression_attribute_names("#holder", HOLDER)
            .expression_attribute_names("#lease", LEASE_UNTIL)
            .expression_attribute_values(":holder", s(holder))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Not the holder (or no lease at all): nothing to give up.
            Err(e) if is_condition_failed(&e) => Ok(()),
            Err(e) => Err(from_sdk("UpdateItem", e)),
        }
    }
}
