//! [`StatusStore`]: one partition per object holding its status item (`STATUS`) and its attempt history
//! (`HIST#<version>`, with a TTL of [`HISTORY_RETENTION_DAYS`]).
//!
//! - `put` is one TransactWriteItems: the status put guarded by the version, plus the history entry.
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
use aws_sdk_dynamodb::types::{KeysAndAttributes, Put, TransactWriteItem};
use base64::Engine as _;
use chrono::{DateTime, DurationRound, Utc};
use ledgerlink_domain::{Category, ObjectType, SyncStatus, TenantId};
use ledgerlink_ports::{
    AttemptCount, ObjectRef, ObjectStatus, Page, PageRequest, StatusAttempt, StatusFilter,
    StatusStore, StoreError, StoreResult,
};

use super::{
    DOC, DynamoState, Filter, Item, QuerySpec, SortCondition, VER, build, doc, epoch_secs,
    from_doc, is_condition_reason, n, s, str_attr, version_condition, version_conflict,
};
use crate::error::from_sdk;
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
        (DOC.to_owned(), doc("object status", status)?),
    ]);
    if let Some(version) = &status.source_version {
        item.insert(SOURCE_VERSION.to_owned(), s(version.clone()));
    }
    Ok(item)
}

fn history_item(status: &ObjectStatus) -> StoreResult<Item> {
    let object = &status.object;
    let attempt = StatusAttempt {
        at: status.updated_at,
        attempt: status.attempts,
        status: status.status,
        message: status.last_message.clone(),
    };
    Ok(Item::from([
        (
            PK.to_owned(),
            s(keys::object_pk(
                &object.tenant,
                object.object_type,
                object.key.as_str(),
            )),
        ),
        (SK.to_owned(), s(keys::history_sk(status.version))),
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
                status.version,
            )),
        ),
        (OBJECT_TYPE.to_owned(), s(object.object_type.as_str())),
        (
            TTL.to_owned(),
            n(epoch_secs(
                attempt.at + chrono::Duration::days(HISTORY_RETENTION_DAYS),
            )),
        ),
        (DOC.to_owned(), doc("status attempt", &attempt)?),
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

#[async_trait]
impl StatusStore for DynamoState {
    async fn get(&self, object: &ObjectRef) -> StoreResult<Option<ObjectStatus>> {
        let pk = keys::object_pk(&object.tenant, object.object_type, object.key.as_str());
        let item = self.get_item(pk, keys::STATUS_SK).await?;
        item.map(|item| from_doc("object status", &item))
            .transpose()
    }

    async fn put(
        &self,
        status: &ObjectStatus,
        expected_version: Option<u64>,
    ) -> StoreResult<ObjectStatus> {
        let mut stored = status.clone();
        stored.version = expected_version.map_or(1, |v| v + 1);
        let condition = version_condition(expected_version);
        let put_status = Put::builder()
            .table_name(&*self.table)
            .set_item(Some(status_item(&stored)?))
            .condition_expression(condition.expression)
            .set_expression_attribute_names(Some(condition.names))
            .set_expression_attribute_values(condition.values)
            .build();
        let put_history = Put::builder()
            .table_name(&*self.table)
            .set_item(Some(history_item(&stored)?))
            .build();
        let items = vec![
            TransactWriteItem::builder()
                .put(build("status", put_status)?)
                .build(),
            TransactWriteItem::builder()
                .put(build("status history", put_history)?)
                .build(),
        ];
        match self.transact(items).await? {
            Ok(()) => Ok(stored),
            Err(_) => Err(version_conflict(
                &describe(&status.object),
                expected_version,
            )),
        }
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
            .map(|item| from_doc("object status", item))
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
        let mut spec = QuerySpec::partition(keys::object_pk(
            &object.tenant,
            object.object_type,
            object.key.as_str(),
        ));
        spec.sk = SortCondition::BeginsWith(keys::HISTORY_PREFIX.to_owned());
        spec.newest_first = true;
        let items = self.query_all(&spec, limit.min(1000) as usize).await?;
        items
            .iter()
            .map(|item| from_doc("status attempt", item))
            .collect()
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
