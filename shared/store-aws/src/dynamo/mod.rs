//! The state ports on one DynamoDB table (design and access patterns: `infra/dynamodb-design.md`).
//!
//! Each record is stored as an item whose keys come from [`crate::keys`], whose editable content is one JSON
//! document attribute (`doc`, the port's record as serde writes it), and whose conditions and filters read a
//! few plain attributes beside it (`ver`, statuses, expiry instants). Each port is implemented in its own
//! module on the same [`DynamoState`].

mod cursors;
mod definitions;
mod idempotency;
mod integrations;
mod jobs;
mod links;
mod lookups;
mod notifications;
mod rate;
mod status;
mod tenants;
mod tokens;

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use base64::Engine as _;
use chrono::{DateTime, TimeZone, Utc};
use ledgerlink_ports::{PageRequest, StateStores, StoreError, StoreResult};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{corrupt, from_sdk};
use crate::keys::{PK, SK};

pub(crate) type Item = HashMap<String, AttributeValue>;

/// The JSON document of a record.
pub(crate) const DOC: &str = "doc";
/// The optimistic-concurrency version (a number), read by conditions.
pub(crate) const VER: &str = "ver";

/// Every state port on one DynamoDB table. Cheap to clone (the client is shared).
#[derive(Debug, Clone)]
pub struct DynamoState {
    client: Client,
    table: Arc<str>,
    /// The KMS key the OAuth tokens are sealed under; without it the token port refuses to store or open
    /// tokens (it never falls back to storing them in clear).
    token_keys: Option<crate::TokenKeys>,
}

impl DynamoState {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: Arc::from(table.into()),
            token_keys: None,
        }
    }

    /// Seals the OAuth tokens ([`ledgerlink_ports::TokenStore`]) with data keys under `keys`.
    pub fn with_token_keys(mut self, keys: crate::TokenKeys) -> Self {
        self.token_keys = Some(keys);
        self
    }

    pub fn table_name(&self) -> &str {
        &self.table
    }

    /// Every state port as the flows receive them, all backed by this table.
    pub fn state_stores(&self) -> StateStores {
        StateStores {
            tenants: Arc::new(self.clone()),
            links: Arc::new(self.clone()),
            lookups: Arc::new(self.clone()),
            statuses: Arc::new(self.clone()),
            cursors: Arc::new(self.clone()),
            jobs: Arc::new(self.clone()),
            integrations: Arc::new(self.clone()),
            definitions: Arc::new(self.clone()),
            notifications: Arc::new(self.clone()),
            idempotency: Arc::new(self.clone()),
            tokens: Arc::new(self.clone()),
            rate: Arc::new(self.clone()),
        }
    }

    /// A strongly consistent read of one item (decisions are made on it, so never a stale replica).
    pub(crate) async fn get_item(
        &self,
        pk: String,
        sk: impl Into<String>,
    ) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&*self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| from_sdk("GetItem", e))?;
        Ok(out.item)
    }

    /// Puts `item` if the stored version is `expected` (see [`version_condition`]); a lost race is a conflict.
    pub(crate) async fn put_versioned(
        &self,
        what: &str,
        item: Item,
        expected: Option<u64>,
    ) -> StoreResult<()> {
        let condition = version_condition(expected);
        let result = self
            .client
            .put_item()
            .table_name(&*self.table)
            .set_item(Some(item))
            .condition_expression(condition.expression)
            .set_expression_attribute_names(Some(condition.names))
            .set_expression_attribute_values(condition.values)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failed(&e) => Err(version_conflict(what, expected)),
            Err(e) => Err(from_sdk("PutItem", e)),
        }
    }

    /// Sends a transaction. When a condition failed, the transaction comes back as the per-item reason codes
    /// (`None` = that item was fine; see [`is_condition_reason`]) so the caller can tell which one.
    ///
    /// A transaction cancelled only because another transaction was touching the same items
    /// (`TransactionConflict`, frequent when workers race on real DynamoDB) applied nothing, so sending it
    /// again is safe: it is retried with backoff, and its conditions then decide.
    pub(crate) async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> StoreResult<Result<(), Vec<Option<String>>>> {
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let service = match result {
                Ok(_) => return Ok(Ok(())),
                Err(SdkError::ServiceError(service)) => service,
                Err(e) => return Err(from_sdk("TransactWriteItems", e)),
            };
            let TransactWriteItemsError::TransactionCanceledException(cancelled) = service.err()
            else {
                return Err(from_sdk(
                    "TransactWriteItems",
                    SdkError::ServiceError(service),
                ));
            };
            let reasons: Vec<Option<String>> = cancelled
                .cancellation_reasons()
                .iter()
                .map(|r| r.code().filter(|c| *c != "None").map(str::to_owned))
                .collect();
            let detail = format!("TransactWriteItems cancelled: {reasons:?}");
            let contention = match classify(&reasons) {
                Cancelled::Conditions => return Ok(Err(reasons)),
                Cancelled::Contention if attempt < MAX_TRANSACTION_ATTEMPTS => {
                    tracing::debug!(attempt, %detail, "transaction retried");
                    tokio::time::sleep(std::time::Duration::from_millis(10 << attempt.min(6)))
                        .await;
                    continue;
                }
                Cancelled::Contention => true,
                Cancelled::Other => false,
            };
            let err = SdkError::ServiceError(service);
            return Err(if contention {
                StoreError::transient(detail, err)
            } else {
                StoreError::permanent(detail, err)
            });
        }
    }
}

/// Sends of one transaction when other transactions keep conflicting with it.
const MAX_TRANSACTION_ATTEMPTS: u32 = 6;

/// Why a transaction was cancelled, as far as the caller is concerned.
#[derive(Debug, PartialEq, Eq)]
enum Cancelled {
    /// At least one condition failed: the caller decides (conflict, already there, budget spent).
    Conditions,
    /// Only other transactions or throttling were in the way: nothing was applied, sending again is safe.
    Contention,
    /// Anything else (validation, item too large): not worth repeating.
    Other,
}

fn classify(reasons: &[Option<String>]) -> Cancelled {
    if reasons.iter().any(|r| is_condition_reason(r.as_deref())) {
        Cancelled::Conditions
    } else if reasons.iter().flatten().any(|c| {
        c == "TransactionConflict" || c == "ThrottlingError" || c == "ProvisionedThroughputExceeded"
    }) {
        Cancelled::Contention
    } else {
        Cancelled::Other
    }
}

/// Whether a cancellation reason is this item's condition failing.
pub(crate) fn is_condition_reason(code: Option<&str>) -> bool {
    code == Some("ConditionalCheckFailed")
}

// ---------------------------------------------------------------------------------------------------------
// Attribute helpers
// ---------------------------------------------------------------------------------------------------------

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(crate) fn str_attr<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

pub(crate) fn bin_attr<'a>(item: &'a Item, name: &str) -> Option<&'a [u8]> {
    item.get(name)
        .and_then(|v| v.as_b().ok())
        .map(|b| b.as_ref())
}

pub(crate) fn num_attr<T: std::str::FromStr>(item: &Item, name: &str) -> Option<T> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

/// Epoch milliseconds: how instants are stored where conditions compare them.
pub(crate) fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub(crate) fn from_millis(ms: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single()
}

/// Epoch seconds for the TTL attribute.
pub(crate) fn epoch_secs(at: DateTime<Utc>) -> i64 {
    at.timestamp()
}

pub(crate) fn doc<T: Serialize>(what: &str, value: &T) -> StoreResult<AttributeValue> {
    serde_json::to_string(value)
        .map(AttributeValue::S)
        .map_err(|e| StoreError::Permanent {
            message: format!("{what} cannot be encoded"),
            source: Some(Box::new(e)),
        })
}

pub(crate) fn from_doc<T: DeserializeOwned>(what: &str, item: &Item) -> StoreResult<T> {
    let text = str_attr(item, DOC).ok_or_else(|| corrupt(what, "the doc attribute is missing"))?;
    serde_json::from_str(text).map_err(|e| corrupt(what, e))
}

/// A versioned write's condition: `None` = must not exist, `Some(v)` = stored version is `v`.
pub(crate) struct VersionCondition {
    pub expression: &'static str,
    pub names: HashMap<String, String>,
    pub values: Option<HashMap<String, AttributeValue>>,
}

pub(crate) fn version_condition(expected: Option<u64>) -> VersionCondition {
    match expected {
        None => VersionCondition {
            expression: "attribute_not_exists(#pk)",
            names: HashMap::from([("#pk".to_owned(), PK.to_owned())]),
            values: None,
        },
        Some(v) => VersionCondition {
            expression: "#ver = :expected",
            names: HashMap::from([("#ver".to_owned(), VER.to_owned())]),
            values: Some(HashMap::from([(":expected".to_owned(), n(v))])),
        },
    }
}

/// A request part (Put, Update, ...) whose required fields are missing: a bug here, never bad input.
pub(crate) fn build<T, E: std::fmt::Display>(what: &str, built: Result<T, E>) -> StoreResult<T> {
    built.map_err(|e| StoreError::Permanent {
        message: format!("{what} request cannot be built: {e}"),
        source: None,
    })
}

/// Whether a single-item write failed on its condition.
pub(crate) fn is_condition_failed<E, R>(err: &SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    matches!(err, SdkError::ServiceError(service) if service.err().code() == Some("ConditionalCheckFailedException"))
}

/// The versioned-put conflict message.
pub(crate) fn version_conflict(what: &str, expected: Option<u64>) -> StoreError {
    match expected {
        None => StoreError::conflict(what, "it already exists"),
        Some(v) => StoreError::conflict(
            what,
            format!("it is no longer at version {v} (or does not exist)"),
        ),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Paginated queries
// ---------------------------------------------------------------------------------------------------------

/// One paginated `Query`: a partition (of the table or an index) with an optional sort-key condition and
/// filter. Pages hold exactly `limit` items (fewer only on the last page); the cursor is the key of the last
/// item returned, so a filter that drops items never shortens or skips a page.
#[derive(Debug, Clone)]
pub(crate) struct QuerySpec {
    pub index: Option<&'static str>,
    pub pk_attr: &'static str,
    pub pk: String,
    pub sk_attr: &'static str,
    pub sk: SortCondition,
    pub newest_first: bool,
    /// A FilterExpression and its placeholders (names `#f..`, values `:f..`).
    pub filter: Option<Filter>,
}

#[derive(Debug, Clone)]
pub(crate) enum SortCondition {
    Any,
    BeginsWith(String),
    Below(String),
    /// `lower <= SK <= upper`.
    Between(String, String),
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Filter {
    pub expression: Vec<String>,
    pub names: HashMap<String, String>,
    pub values: HashMap<String, AttributeValue>,
}

impl Filter {
    pub fn equals(&mut self, attr: &str, value: AttributeValue) {
        let i = self.expression.len();
        self.expression.push(format!("#f{i} = :f{i}"));
        self.names.insert(format!("#f{i}"), attr.to_owned());
        self.values.insert(format!(":f{i}"), value);
    }
    pub fn begins_with(&mut self, attr: &str, prefix: &str) {
        let i = self.expression.len();
        self.expression.push(format!("begins_with(#f{i}, :f{i})"));
        self.names.insert(format!("#f{i}"), attr.to_owned());
        self.values.insert(format!(":f{i}"), s(prefix));
    }
}

impl QuerySpec {
    pub fn partition(pk: String) -> Self {
        Self {
            index: None,
            pk_attr: PK,
            pk,
            sk_attr: SK,
            sk: SortCondition::Any,
            newest_first: false,
            filter: None,
        }
    }

    pub fn on_index(
        index: &'static str,
        pk_attr: &'static str,
        sk_attr: &'static str,
        pk: String,
    ) -> Self {
        Self {
            index: Some(index),
            pk_attr,
            sk_attr,
            ..Self::partition(pk)
        }
    }

    fn key_attrs(&self) -> Vec<&'static str> {
        let mut attrs = vec![PK, SK];
        if self.index.is_some() {
            attrs.push(self.pk_attr);
            attrs.push(self.sk_attr);
        }
        attrs
    }
}

impl DynamoState {
    /// One page of a query, see [`QuerySpec`].
    pub(crate) async fn query_page(
        &self,
        spec: &QuerySpec,
        page: &PageRequest,
    ) -> StoreResult<(Vec<Item>, Option<String>)> {
        let limit = page.effective_limit() as usize;
        let key_attrs = spec.key_attrs();
        let mut start = match &page.cursor {
            Some(cursor) => Some(decode_cursor(cursor, &key_attrs, spec.pk_attr, &spec.pk)?),
            None => None,
        };
        let mut items: Vec<Item> = Vec::with_capacity(limit + 1);
        loop {
            let want = limit - items.len().min(limit);
            // One more than needed tells whether another page exists; a filtered query reads more per
            // request so that a selective filter does not cost one request per dropped item.
            let batch = if spec.filter.is_some() {
                (want + 1).max(100)
            } else {
                want + 1
            };
            let out = self
                .query_request(spec, i32::try_from(batch).unwrap_or(i32::MAX), start.take())
                .send()
                .await;
            let out = out.map_err(|e| from_sdk("Query", e))?;
            items.extend(out.items.unwrap_or_default());
            if items.len() > limit {
                items.truncate(limit);
                let cursor = items
                    .last()
                    .map(|last| encode_cursor(last, &key_attrs))
                    .transpose()?;
                return Ok((items, cursor));
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok((items, None)),
            }
        }
    }

    /// Every item of a query, up to `max` (internal lists that are small by construction).
    pub(crate) async fn query_all(&self, spec: &QuerySpec, max: usize) -> StoreResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let mut want = max.saturating_sub(items.len()).clamp(1, 1000);
            if spec.filter.is_some() {
                // A filter drops items after Limit counted them: read more per request.
                want = want.max(100);
            }
            let out = self
                .query_request(spec, i32::try_from(want).unwrap_or(1000), start.take())
                .send()
                .await
                .map_err(|e| from_sdk("Query", e))?;
            items.extend(out.items.unwrap_or_default());
            if items.len() >= max {
                items.truncate(max);
                return Ok(items);
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(items),
            }
        }
    }

    /// How many items a query matches (`Select=COUNT`, all pages).
    pub(crate) async fn query_count(&self, spec: &QuerySpec) -> StoreResult<u64> {
        let mut total = 0_u64;
        let mut start = None;
        loop {
            let out = self
                .query_request(spec, 1000, start.take())
                .select(aws_sdk_dynamodb::types::Select::Count)
                .send()
                .await
                .map_err(|e| from_sdk("Query", e))?;
            total += u64::try_from(out.count).unwrap_or(0);
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(total),
            }
        }
    }

    fn query_request(
        &self,
        spec: &QuerySpec,
        limit: i32,
        start: Option<Item>,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        let mut names = HashMap::from([("#qpk".to_owned(), spec.pk_attr.to_owned())]);
        let mut values = HashMap::from([(":qpk".to_owned(), s(spec.pk.clone()))]);
        let mut key_condition = "#qpk = :qpk".to_owned();
        match &spec.sk {
            SortCondition::Any => {}
            SortCondition::BeginsWith(prefix) => {
                key_condition.push_str(" AND begins_with(#qsk, :qsk)");
                names.insert("#qsk".into(), spec.sk_attr.to_owned());
                values.insert(":qsk".into(), s(prefix.clone()));
            }
            SortCondition::Below(bound) => {
                key_condition.push_str(" AND #qsk < :qsk");
                names.insert("#qsk".into(), spec.sk_attr.to_owned());
                values.insert(":qsk".into(), s(bound.clone()));
            }
            SortCondition::Between(lower, upper) => {
                key_condition.push_str(" AND #qsk BETWEEN :qlo AND :qhi");
                names.insert("#qsk".into(), spec.sk_attr.to_owned());
                values.insert(":qlo".into(), s(lower.clone()));
                values.insert(":qhi".into(), s(upper.clone()));
            }
        }
        let mut request = self
            .client
            .query()
            .table_name(&*self.table)
            .set_index_name(spec.index.map(str::to_owned))
            .key_condition_expression(key_condition)
            .scan_index_forward(!spec.newest_first)
            .limit(limit)
            .set_exclusive_start_key(start);
        if let Some(filter) = spec.filter.as_ref().filter(|f| !f.expression.is_empty()) {
            request = request.filter_expression(filter.expression.join(" AND "));
            names.extend(filter.names.clone());
            values.extend(filter.values.clone());
        }
        request
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
    }
}

fn encode_cursor(item: &Item, key_attrs: &[&str]) -> StoreResult<String> {
    let mut key = std::collections::BTreeMap::new();
    for attr in key_attrs {
        let value = str_attr(item, attr)
            .ok_or_else(|| corrupt("item key", format!("{attr} is missing")))?;
        key.insert((*attr).to_owned(), value.to_owned());
    }
    let json = serde_json::to_vec(&key).map_err(|e| corrupt("cursor", e))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json))
}

/// Decodes a cursor and checks that it belongs to this very list (same partition, same key attributes).
fn decode_cursor(cursor: &str, key_attrs: &[&str], pk_attr: &str, pk: &str) -> StoreResult<Item> {
    let invalid = || StoreError::Invalid("the page cursor does not belong to this list".to_owned());
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| invalid())?;
    let key: std::collections::BTreeMap<String, String> =
        serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if key.len() != key_attrs.len() || key_attrs.iter().any(|a| !key.contains_key(*a)) {
        return Err(invalid());
    }
    if key.get(pk_attr).map(String::as_str) != Some(pk) {
        return Err(invalid());
    }
    Ok(key
        .into_iter()
        .map(|(k, v)| (k, AttributeValue::S(v)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_condition_decides_and_contention_alone_is_retried() {
        let code = |c: &str| Some(c.to_owned());

        assert_eq!(
            classify(&[None, code("ConditionalCheckFailed")]),
            Cancelled::Conditions
        );
        assert_eq!(
            classify(&[code("TransactionConflict"), code("ConditionalCheckFailed")]),
            Cancelled::Conditions,
            "a lost condition stays lost however often it is sent"
        );
        assert_eq!(
            classify(&[code("TransactionConflict"), None]),
            Cancelled::Contention
        );
        assert_eq!(classify(&[code("ValidationError")]), Cancelled::Other);
    }

    #[test]
    fn a_cursor_round_trips_and_is_refused_by_another_partition() {
        let item: Item = HashMap::from([
            (PK.to_owned(), s("TENANT#a")),
            (SK.to_owned(), s("LOOKUP#x#1")),
            ("doc".to_owned(), s("{}")),
        ]);
        let cursor = encode_cursor(&item, &[PK, SK]).unwrap_or_else(|e| panic!("{e}"));

        let same = decode_cursor(&cursor, &[PK, SK], PK, "TENANT#a");
        let other = decode_cursor(&cursor, &[PK, SK], PK, "TENANT#b");
        let garbage = decode_cursor("not-a-cursor", &[PK, SK], PK, "TENANT#a");

        assert_eq!(
            same.ok().and_then(|k| k.get(SK).cloned()),
            Some(s("LOOKUP#x#1"))
        );
        assert!(matches!(other, Err(StoreError::Invalid(_))));
        assert!(matches!(garbage, Err(StoreError::Invalid(_))));
    }
}
