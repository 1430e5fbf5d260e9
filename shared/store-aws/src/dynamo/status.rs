//! [`StatusStore`]: one partition per object holding its status item (`STATUS`) and its attempt history
//! (`HIST#<version>`, with a TTL of [`HISTORY_RETENTION_DAYS`]).
//!
//! - `put` is one TransactWriteItems: the status update guarded by the version, plus the history entry.
//! - `begin_attempt` is one conditional UpdateItem in the steady state. It changes only the plain attributes
//!   an attempt start touches (`ver`, `attempts`, `obj_status`, the index keys) and sets `begun`, the start
//!   entry, which readers lay over `doc` (so `doc` need not be read first). The condition pins the stored
//!   version, attempt count and status the new values were computed from: first as discovery leaves a record
//!   (version 1, no attempts, NotIntegrated), then, when that guess is wrong, as the failed condition's
//!   returned item (`ReturnValuesOnConditionCheckFailure=ALL_OLD`) says; that item also answers whether the
//!   attempt is declined. The start entry cannot go to its own history item in a single-item write, so it is
//!   appended to `starts` on the status item (`list_append`) and read with the history; when `starts` holds
//!   [`STARTS_KEPT`] entries, the next start is one transaction that moves them to history items.
//! - `list` queries GSI2 (`TENANT#<t>#ST#<status>`) when a status is asked for, else GSI1 (`TENANT#<t>#OBJS`);
//!   both sort by `updated_at` so the newest come first, and the other filters (category, object type, key
//!   prefix, source version) are a FilterExpression on that partition. Pages stay exactly `limit` long.
//! - `counts` is one `Select=COUNT` query per status on GSI2.
//! - `attempt_counts` (the sync-health view) queries GSI1, where each history item is filed under
//!   `TENANT#<t>#ATT#<UTC day>` by its time: one query per day of the window, whatever the number of objects.
//! - `create_missing` reads which objects exist (BatchGetItem, 100 keys a request) and creates the others
//!   with conditional puts in transactions of [`TRANSACTION_ITEMS`]: a record created meanwhile by someone
//!   else fails its condition and is left alone, never overwritten.

use std::collections::{BTreeMap, HashSet};

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, Put, ReturnValue, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};
use base64::Engine as _;
use chrono::{DateTime, DurationRound, Utc};
use ledgerlink_domain::{Category, ObjectType, SyncStatus, TenantId};
use ledgerlink_ports::{
    AttemptCount, AttemptStart, ObjectRef, ObjectStatus, Page, PageRequest, StatusAttempt,
    StatusFilter, StatusStore, StoreError, StoreResult, attempt_declined, attempt_started,
};

use super::{
    DOC, DynamoState, Filter, Item, QuerySpec, SortCondition, VER, build, doc, epoch_secs,
    from_doc, is_condition_reason, n, s, str_attr, version_condition, version_conflict,
};
use crate::error::{corrupt, from_sdk};
use crate::keys::{self, GSI1, GSI1PK, GSI1SK, GSI2, GSI2PK, GSI2SK, PK, SK, TTL};

/// How long attempt history is kept before DynamoDB's TTL sweeper may remove it.
pub const HISTORY_RETENTION_DAYS: i64 = 180;
/// Items per TransactWriteItems in `create_missing` (the service limit).
pub const TRANSACTION_ITEMS: usize = 100;
/// Keys per BatchGetItem (the service limit).
const BATCH_GET_KEYS: usize = 100;
/// Rounds of retrying unprocessed keys / lost conditions before reporting a transient failure.
const MAX_ROUNDS: u32 = 8;

const CATEGORY: &str = "obj_category";
const OBJECT_TYPE: &str = "obj_type";
const OBJECT_KEY: &str = "obj_key";
const STATUS: &str = "obj_status";
const SOURCE_VERSION: &str = "obj_source_version";
/// The attempt count, beside `doc` so a condition can pin it.
const ATTEMPTS: &str = "attempts";
/// The latest attempt start written by `begin_attempt` (a [`Start`] as JSON), laid over `doc` when present.
const BEGUN: &str = "begun";
/// Attempt starts not yet moved to history items (a list of [`Start`] as JSON).
const STARTS: &str = "starts";
/// Attempt starts kept on the status item before the next start moves them to history items.
pub const STARTS_KEPT: usize = 16;
/// Rounds of `begin_attempt` (each learns the stored record from the last one's failed condition).
const BEGIN_ROUNDS: u32 = 24;

/// An attempt start: the history entry, with the version it was written as.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Start {
    version: u64,
    #[serde(flatten)]
    attempt: StatusAttempt,
}

fn attempt_of(status: &ObjectStatus) -> StatusAttempt {
    StatusAttempt {
        at: status.updated_at,
        attempt: status.attempts,
        status: status.status,
        message: status.last_message.clone(),
    }
}

/// The record a status item holds: `doc`, with the latest attempt start (`begun`) laid over it.
fn status_from_item(item: &Item) -> StoreResult<ObjectStatus> {
    let mut status: ObjectStatus = from_doc("object status", item)?;
    if let Some(begun) = str_attr(item, BEGUN) {
        let start: Start = serde_json::from_str(begun).map_err(|e| corrupt("attempt start", e))?;
        status.version = start.version;
        status.attempts = start.attempt.attempt;
        status.status = start.attempt.status;
        status.last_message = start.attempt.message;
        status.updated_at = start.attempt.at;
        status.fix = None;
    }
    Ok(status)
}

/// The attempt starts a status item keeps (`starts`).
fn starts_of(item: &Item) -> StoreResult<Vec<Start>> {
    match item.get(STARTS) {
        None => Ok(Vec::new()),
        Some(AttributeValue::L(list)) => list
            .iter()
            .map(|v| match v {
                AttributeValue::S(text) => {
                    serde_json::from_str(text).map_err(|e| corrupt("attempt start", e))
                }
                _ => Err(corrupt("attempt start", "not a string")),
            })
            .collect(),
        Some(_) => Err(corrupt("attempt starts", "not a list")),
    }
}

fn status_item(status: &ObjectStatus) -> StoreResult<Item> {
    let object = &status.object;
    let key = object.key.as_str();
    let recency = keys::objects_recency_sk(status.updated_at, object.object_type, key);
    let mut item = Item::from([
        (
            PK.to_owned(),
            s(keys::object_pk(&object.tenant, object.object_type, key)),
        ),
        (SK.to_owned(), s(keys::STATUS_SK)),
        (
            GSI1PK.to_owned(),
            s(keys::objects_by_category_pk(
                &object.tenant,
                status.category,
            )),
        ),
        (GSI1SK.to_owned(), s(recency.clone())),
        (
            GSI2PK.to_owned(),
            s(keys::objects_by_status_pk(&object.tenant, status.status)),
        ),
        (GSI2SK.to_owned(), s(recency)),
        (VER.to_owned(), n(status.version)),
        (CATEGORY.to_owned(), s(status.category.as_str())),
        (OBJECT_TYPE.to_owned(), s(object.object_type.as_str())),
        (OBJECT_KEY.to_owned(), s(key)),
        (STATUS.to_owned(), s(status.status.as_str())),
        (ATTEMPTS.to_owned(), n(status.attempts)),
        (DOC.to_owned(), doc("object status", status)?),
    ]);
    if let Some(version) = &status.source_version {
        item.insert(SOURCE_VERSION.to_owned(), s(version.clone()));
    }
    Ok(item)
}

fn history_item(status: &ObjectStatus) -> StoreResult<Item> {
    history_entry(&status.object, status.version, &attempt_of(status))
}

fn history_entry(object: &ObjectRef, version: u64, attempt: &StatusAttempt) -> StoreResult<Item> {
    Ok(Item::from([
        (
            PK.to_owned(),
            s(keys::object_pk(
                &object.tenant,
                object.object_type,
                object.key.as_str(),
            )),
        ),
        (SK.to_owned(), s(keys::history_sk(version))),
        (
            GSI1PK.to_owned(),
            s(keys::attempts_by_day_pk(
                &object.tenant,
                attempt.at.date_naive(),
            )),
        ),
        (
            GSI1SK.to_owned(),
            s(keys::attempt_time_sk(
                attempt.at,
                object.object_type,
                object.key.as_str(),
                version,
            )),
        ),
        (OBJECT_TYPE.to_owned(), s(object.object_type.as_str())),
        (
            TTL.to_owned(),
            n(epoch_secs(
                attempt.at + chrono::Duration::days(HISTORY_RETENTION_DAYS),
            )),
        ),
        (DOC.to_owned(), doc("status attempt", attempt)?),
    ]))
}

/// The status list's page cursor: the recency sort key of the last item returned, and whose list it is.
#[derive(serde::Serialize, serde::Deserialize)]
struct Position {
    tenant: String,
    after: String,
}

fn encode_position(tenant: &TenantId, after: &str) -> String {
    let position = Position {
        tenant: tenant.to_string(),
        after: after.to_owned(),
    };
    let json = serde_json::to_vec(&position).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

fn decode_position(cursor: &str, tenant: &TenantId) -> StoreResult<String> {
    let invalid = || StoreError::Invalid("the page cursor does not belong to this list".to_owned());
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| invalid())?;
    let position: Position = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if position.tenant != tenant.as_str() {
        return Err(invalid());
    }
    Ok(position.after)
}

fn describe(object: &ObjectRef) -> String {
    format!(
        "status of {} {} of {}",
        object.object_type, object.key, object.tenant
    )
}

impl DynamoState {
    /// The PKs among `pks` whose status item exists (BatchGetItem, retrying unprocessed keys).
    async fn existing_statuses(&self, pks: &[String]) -> StoreResult<HashSet<String>> {
        let mut found = HashSet::new();
        for chunk in pks.chunks(BATCH_GET_KEYS) {
            let keys: Vec<Item> = chunk
                .iter()
                .map(|pk| {
                    Item::from([
                        (PK.to_owned(), s(pk.clone())),
                        (SK.to_owned(), s(keys::STATUS_SK)),
                    ])
                })
                .collect();
            let mut request = Some(build(
                "BatchGetItem",
                KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .projection_expression("#pk")
                    .expression_attribute_names("#pk", PK)
                    .consistent_read(true)
                    .build(),
            )?);
            let mut round = 0;
            while let Some(keys_and_attributes) = request.take() {
                round += 1;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&*self.table, keys_and_attributes)
                    .send()
                    .await
                    .map_err(|e| from_sdk("BatchGetItem", e))?;
                for item in out
                    .responses
                    .and_then(|mut r| r.remove(&*self.table))
                    .unwrap_or_default()
                {
                    if let Some(pk) = str_attr(&item, PK) {
                        found.insert(pk.to_owned());
                    }
                }
                request = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&*self.table))
                    .filter(|k| !k.keys().is_empty());
                if request.is_some() {
                    if round >= MAX_ROUNDS {
                        return Err(StoreError::Transient {
                            message: "BatchGetItem kept leaving keys unprocessed".into(),
                            source: None,
                        });
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(20 << round.min(6))).await;
                }
            }
        }
        Ok(found)
    }

    /// Creates each status that does not exist; returns how many were created.
    async fn create_absent(&self, statuses: &[&ObjectStatus]) -> StoreResult<usize> {
        let mut pending: Vec<&ObjectStatus> = statuses.to_vec();
        for round in 1..=MAX_ROUNDS {
            let mut items = Vec::with_capacity(pending.len());
            for status in &pending {
                let put = Put::builder()
                    .table_name(&*self.table)
                    .set_item(Some(status_item(status)?))
                    .condition_expression("attribute_not_exists(#pk)")
                    .expression_attribute_names("#pk", PK)
                    .build();
                items.push(
                    TransactWriteItem::builder()
                        .put(build("create status", put)?)
                        .build(),
                );
            }
            match self.transact(items).await {
                Ok(Ok(())) => return Ok(pending.len()),
                // Somebody created some of them meanwhile: leave those alone and create the rest.
                Ok(Err(reasons)) => {
                    pending = pending
                        .into_iter()
                        .zip(
                            reasons
                                .iter()
                                .map(|r| !is_condition_reason(r.as_deref()))
                                .chain(std::iter::repeat(true)),
                        )
                        .filter_map(|(status, fine)| fine.then_some(status))
                        .collect();
                    if pending.is_empty() {
                        return Ok(0);
                    }
                }
                Err(e @ StoreError::Transient { .. }) if round < MAX_ROUNDS => {
                    tracing::debug!(error = %e, round, "create_missing transaction retried");
                    tokio::time::sleep(std::time::Duration::from_millis(20 << round.min(6))).await;
                }
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Transient {
            message: "create_missing kept losing races".into(),
            source: None,
        })
    }
}

/// What a start pinned to a stored (version, attempts, status) came to.
enum Pinned {
    /// Written: the record before, and the record now.
    Started {
        previous: ObjectStatus,
        current: ObjectStatus,
    },
    /// The stored item differs from the pin (or keeps too many starts): here it is.
    Stored(Item),
    /// There is no status item.
    Absent,
}

impl DynamoState {
    /// The versioned status write (an Update, so the starts the item keeps survive) and its history entry
    /// in one transaction; `moved`: kept starts that go to history items in the same transaction.
    async fn write_status(
        &self,
        status: &ObjectStatus,
        expected_version: Option<u64>,
        moved: &[Start],
    ) -> StoreResult<ObjectStatus> {
        let mut stored = status.clone();
        stored.version = expected_version.map_or(1, |v| v + 1);
        let item = status_item(&stored)?;
        let condition = version_condition(expected_version);
        let mut names = condition.names;
        let mut values = condition.values.unwrap_or_default();
        let mut sets = Vec::with_capacity(item.len());
        let mut key = Item::new();
        for (i, (name, value)) in item.into_iter().enumerate() {
            if name == PK || name == SK {
                key.insert(name, value);
                continue;
            }
            sets.push(format!("#a{i} = :a{i}"));
            names.insert(format!("#a{i}"), name);
            values.insert(format!(":a{i}"), value);
        }
        let mut removes = vec!["#begun"];
        names.insert("#begun".to_owned(), BEGUN.to_owned());
        if stored.source_version.is_none() {
            removes.push("#source_version");
            names.insert("#source_version".to_owned(), SOURCE_VERSION.to_owned());
        }
        if !moved.is_empty() {
            removes.push("#starts");
            names.insert("#starts".to_owned(), STARTS.to_owned());
        }
        let update = Update::builder()
            .table_name(&*self.table)
            .set_key(Some(key))
            .update_expression(format!(
                "SET {} REMOVE {}",
                sets.join(", "),
                removes.join(", ")
            ))
            .condition_expression(condition.expression)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .build();
        let mut items = vec![
            TransactWriteItem::builder()
                .update(build("status", update)?)
                .build(),
            TransactWriteItem::builder()
                .put(build(
                    "status history",
                    Put::builder()
                        .table_name(&*self.table)
                        .set_item(Some(history_item(&stored)?))
                        .build(),
                )?)
                .build(),
        ];
        for start in moved {
            let put = Put::builder()
                .table_name(&*self.table)
                .set_item(Some(history_entry(
                    &stored.object,
                    start.version,
                    &start.attempt,
                )?))
                .build();
            items.push(
                TransactWriteItem::builder()
                    .put(build("status history", put)?)
                    .build(),
            );
        }
        match self.transact(items).await? {
            Ok(()) => Ok(stored),
            Err(_) => Err(version_conflict(
                &describe(&status.object),
                expected_version,
            )),
        }
    }

    /// The single-request attempt start: one UpdateItem whose condition pins the stored version, attempt
    /// count and status the new values are computed from, returning the old item either way.
    async fn start_pinned(
        &self,
        object: &ObjectRef,
        pk: &str,
        (version, attempts, status): (u64, u32, SyncStatus),
        at: DateTime<Utc>,
    ) -> StoreResult<Pinned> {
        let attempts = attempts + 1;
        let new_status = if status == SyncStatus::OutcomeUnknown {
            status
        } else {
            SyncStatus::Pending
        };
        let start = Start {
            version: version + 1,
            attempt: StatusAttempt {
                at,
                attempt: attempts,
                status: new_status,
                message: Some(format!("Attempt {attempts} started")),
            },
        };
        let start_json = doc("attempt start", &start)?;
        let recency = keys::objects_recency_sk(at, object.object_type, object.key.as_str());
        let result = self
            .client
            .update_item()
            .table_name(&*self.table)
            .key(PK, s(pk))
            .key(SK, s(keys::STATUS_SK))
            .condition_expression(
                "#ver = :ver AND #attempts = :attempts AND #status = :status \
                 AND (attribute_not_exists(#starts) OR size(#starts) < :kept)",
            )
            .update_expression(
                "SET #ver = :new_ver, #attempts = :new_attempts, #status = :new_status, \
                 #gsi2pk = :gsi2pk, #gsi1sk = :recency, #gsi2sk = :recency, #begun = :start, \
                 #starts = list_append(if_not_exists(#starts, :no_starts), :starts)",
            )
            .expression_attribute_names("#ver", VER)
            .expression_attribute_names("#attempts", ATTEMPTS)
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_names("#starts", STARTS)
            .expression_attribute_names("#gsi2pk", GSI2PK)
            .expression_attribute_names("#gsi1sk", GSI1SK)
            .expression_attribute_names("#gsi2sk", GSI2SK)
            .expression_attribute_names("#begun", BEGUN)
            .expression_attribute_values(":ver", n(version))
            .expression_attribute_values(":attempts", n(attempts - 1))
            .expression_attribute_values(":status", s(status.as_str()))
            .expression_attribute_values(":kept", n(STARTS_KEPT))
            .expression_attribute_values(":new_ver", n(start.version))
            .expression_attribute_values(":new_attempts", n(attempts))
            .expression_attribute_values(":new_status", s(new_status.as_str()))
            .expression_attribute_values(
                ":gsi2pk",
                s(keys::objects_by_status_pk(&object.tenant, new_status)),
            )
            .expression_attribute_values(":recency", s(recency))
            .expression_attribute_values(":start", start_json.clone())
            .expression_attribute_values(":no_starts", AttributeValue::L(Vec::new()))
            .expression_attribute_values(":starts", AttributeValue::L(vec![start_json]))
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => {
                let previous = status_from_item(&out.attributes.unwrap_or_default())?;
                let mut current = previous.clone();
                current.version = start.version;
                current.attempts = start.attempt.attempt;
                current.status = start.attempt.status;
                current.last_message = start.attempt.message;
                current.updated_at = at;
                current.fix = None;
                Ok(Pinned::Started { previous, current })
            }
            Err(SdkError::ServiceError(service))
                if matches!(
                    service.err(),
                    UpdateItemError::ConditionalCheckFailedException(_)
                ) =>
            {
                let returned = match service.into_err() {
                    UpdateItemError::ConditionalCheckFailedException(e) => e.item,
                    _ => None,
                };
                // An emulator may not return the item: then one read tells.
                let item = match returned {
                    Some(item) => Some(item),
                    None => self.get_item(pk.to_owned(), keys::STATUS_SK).await?,
                };
                Ok(item.map_or(Pinned::Absent, Pinned::Stored))
            }
            Err(e) => Err(from_sdk("UpdateItem", e)),
        }
    }
}

#[async_trait]
impl StatusStore for DynamoState {
    async fn get(&self, object: &ObjectRef) -> StoreResult<Option<ObjectStatus>> {
        let pk = keys::object_pk(&object.tenant, object.object_type, object.key.as_str());
        let item = self.get_item(pk, keys::STATUS_SK).await?;
        item.map(|item| status_from_item(&item)).transpose()
    }

    async fn put(
        &self,
        status: &ObjectStatus,
        expected_version: Option<u64>,
    ) -> StoreResult<ObjectStatus> {
        self.write_status(status, expected_version, &[]).await
    }

    async fn begin_attempt(
        &self,
        object: &ObjectRef,
        force: bool,
        at: DateTime<Utc>,
    ) -> StoreResult<AttemptStart> {
        let pk = keys::object_pk(&object.tenant, object.object_type, object.key.as_str());
        // The stored item as the last failed condition returned it; `None`: assume discovery's record.
        let mut known: Option<Item> = None;
        for _ in 0..BEGIN_ROUNDS {
            let pinned = match &known {
                None => (1, 0, SyncStatus::NotIntegrated),
                Some(item) => {
                    let current = status_from_item(item)?;
                    if attempt_declined(&current, force) {
                        return Ok(AttemptStart::Declined(current));
                    }
                    let starts = starts_of(item)?;
                    if item.contains_key(ATTEMPTS) && starts.len() < STARTS_KEPT {
                        (current.version, current.attempts, current.status)
                    } else {
                        // A record from before `attempts` existed, or starts to move: one transaction.
                        let next = attempt_started(&current, at);
                        match self
                            .write_status(&next, Some(current.version), &starts)
                            .await
                        {
                            Ok(stored) => {
                                return Ok(AttemptStart::Started {
                                    previous: Some(current),
                                    current: stored,
                                });
                            }
                            Err(StoreError::Conflict { .. }) => {
                                known = self.get_item(pk.clone(), keys::STATUS_SK).await?;
                                continue;
                            }
                            Err(e) => return Err(e),
                        }
                    }
                }
            };
            match self.start_pinned(object, &pk, pinned, at).await? {
                Pinned::Started { previous, current } => {
                    return Ok(AttemptStart::Started {
                        previous: Some(previous),
                        current,
                    });
                }
                Pinned::Stored(item) => known = Some(item),
                Pinned::Absent => {
                    let next = attempt_started(&AttemptStart::fresh(object, at), at);
                    match self.write_status(&next, None, &[]).await {
                        Ok(current) => {
                            return Ok(AttemptStart::Started {
                                previous: None,
                                current,
                            });
                        }
                        // Created meanwhile by someone else: the next round learns what it holds.
                        Err(StoreError::Conflict { .. }) => known = None,
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        Err(StoreError::Transient {
            message: format!(
                "{}: other attempts kept starting at the same time",
                describe(object)
            ),
            source: None,
        })
    }

    async fn create_missing(&self, statuses: &[ObjectStatus]) -> StoreResult<usize> {
        // One entry per object (the first wins), as the caller would expect from "create when absent".
        let mut seen = HashSet::new();
        let unique: Vec<&ObjectStatus> = statuses
            .iter()
            .filter(|st| seen.insert(st.object.clone()))
            .collect();
        let pks: Vec<String> = unique
            .iter()
            .map(|st| {
                keys::object_pk(
                    &st.object.tenant,
                    st.object.object_type,
                    st.object.key.as_str(),
                )
            })
            .collect();
        let existing = self.existing_statuses(&pks).await?;
        let absent: Vec<&ObjectStatus> = unique
            .into_iter()
            .zip(&pks)
            .filter(|(_, pk)| !existing.contains(*pk))
            .map(|(st, _)| st)
            .collect();
        let mut created = 0;
        for chunk in absent.chunks(TRANSACTION_ITEMS) {
            created += self.create_absent(chunk).await?;
        }
        Ok(created)
    }

    async fn list(
        &self,
        tenant: &TenantId,
        filter: &StatusFilter,
        page: PageRequest,
    ) -> StoreResult<Page<ObjectStatus>> {
        // The object type decides the category, so a type filter narrows to one category partition too.
        let category = match (
            filter.category,
            filter.object_type.map(ObjectType::category),
        ) {
            (Some(asked), Some(of_type)) if asked != of_type => {
                return Ok(Page {
                    items: Vec::new(),
                    next_cursor: None,
                });
            }
            (asked, of_type) => asked.or(of_type),
        };
        let mut rest = Filter::default();
        let (index, pk_attr, sk_attr, partitions) = match filter.status {
            Some(status) => {
                if let Some(category) = category {
                    rest.equals(CATEGORY, s(category.as_str()));
                }
                (
                    GSI2,
                    GSI2PK,
                    GSI2SK,
                    vec![keys::objects_by_status_pk(tenant, status)],
                )
            }
            None => {
                let categories = match category {
                    Some(category) => vec![category],
                    None => Category::ALL.to_vec(),
                };
                let partitions = categories
                    .into_iter()
                    .map(|c| keys::objects_by_category_pk(tenant, c))
                    .collect();
                (GSI1, GSI1PK, GSI1SK, partitions)
            }
        };
        if let Some(object_type) = filter.object_type {
            rest.equals(OBJECT_TYPE, s(object_type.as_str()));
        }
        if let Some(prefix) = filter.key_prefix.as_deref().filter(|p| !p.is_empty()) {
            rest.begins_with(OBJECT_KEY, prefix);
        }
        if let Some(version) = &filter.source_version {
            rest.equals(SOURCE_VERSION, s(version.clone()));
        }
        let limit = page.effective_limit() as usize;
        let after = page
            .cursor
            .as_deref()
            .map(|c| decode_position(c, tenant))
            .transpose()?;
        // Newest first from each partition, strictly after the previous page's last item, merged by recency.
        let mut items = Vec::new();
        for pk in partitions {
            let mut spec = QuerySpec::on_index(index, pk_attr, sk_attr, pk);
            spec.newest_first = true;
            spec.sk = after
                .clone()
                .map_or(SortCondition::Any, SortCondition::Below);
            spec.filter = (!rest.expression.is_empty()).then(|| rest.clone());
            items.extend(self.query_all(&spec, limit + 1).await?);
        }
        items.sort_by(|a, b| str_attr(b, sk_attr).cmp(&str_attr(a, sk_attr)));
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items
                .last()
                .and_then(|last| str_attr(last, sk_attr))
                .map(|sk| encode_position(tenant, sk))
        } else {
            None
        };
        let items = items
            .iter()
            .map(status_from_item)
            .collect::<StoreResult<_>>()?;
        Ok(Page { items, next_cursor })
    }

    async fn attempt_counts(
        &self,
        tenant: &TenantId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<AttemptCount>> {
        let mut counts: BTreeMap<(DateTime<Utc>, ObjectType, SyncStatus), u64> = BTreeMap::new();
        let mut day = from.date_naive();
        // One query per UTC day of the window (at most 8 for the health view's 168 hours).
        while to > from && day <= to.date_naive() {
            let mut spec =
                QuerySpec::on_index(GSI1, GSI1PK, GSI1SK, keys::attempts_by_day_pk(tenant, day));
            spec.sk = SortCondition::Between(keys::time(from), keys::time(to));
            for item in self.query_all(&spec, usize::MAX).await? {
                let attempt: StatusAttempt = from_doc("status attempt", &item)?;
                if attempt.at < from || attempt.at >= to {
                    continue;
                }
                let object_type: ObjectType = str_attr(&item, OBJECT_TYPE)
                    .unwrap_or_default()
                    .parse()
                    .map_err(|e| StoreError::permanent("a stored attempt has no object type", e))?;
                let hour = attempt
                    .at
                    .duration_trunc(chrono::Duration::hours(1))
                    .unwrap_or(attempt.at);
                *counts
                    .entry((hour, object_type, attempt.status))
                    .or_default() += 1;
            }
            let Some(next) = day.succ_opt() else { break };
            day = next;
        }
        Ok(counts
            .into_iter()
            .map(|((hour, object_type, status), count)| AttemptCount {
                hour,
                object_type,
                status,
                count,
            })
            .collect())
    }

    async fn history(&self, object: &ObjectRef, limit: u32) -> StoreResult<Vec<StatusAttempt>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // The whole partition, newest first: the status item (`STATUS` sorts after `HIST#`) with the starts
        // it keeps, then the history items.
        let mut spec = QuerySpec::partition(keys::object_pk(
            &object.tenant,
            object.object_type,
            object.key.as_str(),
        ));
        spec.newest_first = true;
        let limit = limit.min(1000) as usize;
        let items = self.query_all(&spec, limit + 1).await?;
        let mut entries: Vec<(u64, StatusAttempt)> = Vec::with_capacity(items.len());
        for item in &items {
            match str_attr(item, SK) {
                Some(keys::STATUS_SK) => {
                    entries.extend(starts_of(item)?.into_iter().map(|s| (s.version, s.attempt)));
                }
                Some(sk) => {
                    let version = sk
                        .strip_prefix(keys::HISTORY_PREFIX)
                        .and_then(|v| v.parse::<u64>().ok())
                        .ok_or_else(|| corrupt("status attempt", "its sort key is no version"))?;
                    entries.push((version, from_doc("status attempt", item)?));
                }
                None => return Err(corrupt("status attempt", "the sort key is missing")),
            }
        }
        entries.sort_by_key(|e| std::cmp::Reverse(e.0));
        entries.truncate(limit);
        Ok(entries.into_iter().map(|(_, attempt)| attempt).collect())
    }

    async fn counts(&self, tenant: &TenantId) -> StoreResult<BTreeMap<SyncStatus, u64>> {
        let queries = SyncStatus::ALL.iter().map(|status| {
            let spec = QuerySpec::on_index(
                GSI2,
                GSI2PK,
                GSI2SK,
                keys::objects_by_status_pk(tenant, *status),
            );
            async move { self.query_count(&spec).await.map(|count| (*status, count)) }
        });
        let counts = futures::future::try_join_all(queries).await?;
        Ok(counts.into_iter().filter(|(_, count)| *count > 0).collect())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::{TimeZone, Utc};
    use ledgerlink_domain::ObjectKey;

    use super::*;
    use crate::config::{AwsClients, AwsSettings, StaticCredentials};

    async fn state_on_moto() -> DynamoState {
        let server = ledgerlink_testkit::moto();
        let settings = AwsSettings::local(
            &server.endpoint_url(),
            ledgerlink_testkit::TEST_REGION,
            StaticCredentials {
                access_key_id: ledgerlink_testkit::TEST_ACCESS_KEY_ID.into(),
                secret_access_key: ledgerlink_testkit::TEST_SECRET_ACCESS_KEY.into(),
            },
        );
        let clients = AwsClients::build(&settings).await;
        let table = ledgerlink_testkit::unique_name("ll-unit");
        crate::resources::create_table(&clients.dynamodb, &table)
            .await
            .unwrap();
        DynamoState::new(clients.dynamodb, table)
    }

    fn discovered(tenant: &TenantId, key: &str) -> ObjectStatus {
        let at = Utc
            .with_ymd_and_hms(2026, 6, 15, 10, 0, 0)
            .single()
            .unwrap();
        ObjectStatus {
            object: ObjectRef {
                tenant: tenant.clone(),
                object_type: ObjectType::Firm,
                key: ObjectKey::parse(key).unwrap(),
            },
            category: Category::MasterData,
            status: SyncStatus::NotIntegrated,
            version: 1,
            source_version: None,
            source_hash: None,
            target_id: None,
            last_message: None,
            fix: None,
            attempts: 0,
            created_at: at,
            updated_at: at,
        }
    }

    /// The window between create_missing's read and its write: a status created there by someone else must
    /// survive, and the rest of the batch must still be created.
    #[tokio::test]
    async fn a_status_created_between_the_read_and_the_write_is_left_alone() {
        let state = state_on_moto().await;
        let tenant = TenantId::parse(&ledgerlink_testkit::unique_name("t")).unwrap();
        let batch: Vec<ObjectStatus> = (0..5)
            .map(|i| discovered(&tenant, &format!("F{i}")))
            .collect();
        let mut raced = batch[2].clone();
        raced.status = SyncStatus::Success;
        raced.target_id = Some("guid".into());
        let raced = StatusStore::put(&state, &raced, None).await.unwrap();

        let created = state
            .create_absent(&batch.iter().collect::<Vec<_>>())
            .await
            .unwrap();

        assert_eq!(created, 4, "the other four are created");
        assert_eq!(
            StatusStore::get(&state, &raced.object).await.unwrap(),
            Some(raced)
        );
        assert_eq!(
            StatusStore::get(&state, &batch[4].object).await.unwrap(),
            Some(batch[4].clone())
        );
    }

    #[test]
    fn a_position_cursor_belongs_to_its_tenant() {
        let a = TenantId::parse("a").unwrap();
        let b = TenantId::parse("b").unwrap();
        let cursor = encode_position(&a, "2026-06-15T10:00:00.000000Z#firm#F1");

        assert_eq!(
            decode_position(&cursor, &a).ok().as_deref(),
            Some("2026-06-15T10:00:00.000000Z#firm#F1")
        );
        assert!(matches!(
            decode_position(&cursor, &b),
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            decode_position("%%%", &a),
            Err(StoreError::Invalid(_))
        ));
    }
}
