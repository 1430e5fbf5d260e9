//! What the DynamoDB adapter shows beyond the contracts: the table's shape, one request per atomic change,
//! and no Scan behind any list.

use chrono::{TimeZone, Utc};
use ledgerlink_domain::{ObjectKey, ObjectType, SyncStatus, TenantId};
use ledgerlink_ports::{
    IdLink, JobKind, JobStore, LinkStore, LookupStore, LookupTable, NotificationOutbox, ObjectRef,
    ObjectStatus, PageRequest, RateBudget, RateLimits, StatusFilter, StatusStore, StoreError,
    TenantStore,
};
use ledgerlink_store_aws::keys;

use crate::helpers::spawn_state;

fn tenant(name: &str) -> TenantId {
    TenantId::parse(&ledgerlink_testkit::unique_name(name)).unwrap()
}

fn status(tenant: &TenantId, key: &str, state: SyncStatus, secs: i64) -> ObjectStatus {
    let at = Utc
        .with_ymd_and_hms(2026, 6, 15, 10, 0, 0)
        .single()
        .unwrap()
        + chrono::Duration::seconds(secs);
    ObjectStatus {
        object: ObjectRef {
            tenant: tenant.clone(),
            object_type: ObjectType::Invoice,
            key: ObjectKey::parse(key).unwrap(),
        },
        category: ObjectType::Invoice.category(),
        status: state,
        version: 1,
        source_version: None,
        source_hash: None,
        target_id: None,
        last_message: None,
        fix: None,
        attempts: 1,
        created_at: at,
        updated_at: at,
    }
}

#[tokio::test]
async fn the_table_has_two_global_indexes_and_ttl_on_the_expires_attribute() {
    let aws = spawn_state().await;

    let table = aws
        .clients
        .dynamodb
        .describe_table()
        .table_name(&aws.settings.table_name)
        .send()
        .await
        .unwrap();
    let ttl = aws
        .clients
        .dynamodb
        .describe_time_to_live()
        .table_name(&aws.settings.table_name)
        .send()
        .await
        .unwrap();

    let mut indexes: Vec<String> = table
        .table
        .and_then(|t| t.global_secondary_indexes)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|i| i.index_name)
        .collect();
    indexes.sort();
    assert_eq!(indexes, [keys::GSI1, keys::GSI2]);
    let ttl = ttl.time_to_live_description.unwrap();
    assert_eq!(ttl.attribute_name.as_deref(), Some(keys::TTL));
}

#[tokio::test]
async fn a_status_update_with_its_history_entry_is_one_transaction_request() {
    let aws = spawn_state().await;
    let t = tenant("t");
    let created = StatusStore::put(
        &aws.state,
        &status(&t, "INV-1", SyncStatus::Pending, 0),
        None,
    )
    .await
    .unwrap();
    aws.counter.reset();

    let mut next = created.clone();
    next.status = SyncStatus::Success;
    StatusStore::put(&aws.state, &next, Some(created.version))
        .await
        .unwrap();

    assert_eq!(
        aws.counter.snapshot(),
        [("TransactWriteItems".to_owned(), 1)].into()
    );
    assert_eq!(
        aws.state.history(&created.object, 10).await.unwrap().len(),
        2
    );
}

#[tokio::test]
async fn a_link_writes_both_directions_in_one_transaction_request() {
    let aws = spawn_state().await;
    let t = tenant("t");
    let link = IdLink::new(t.clone(), ObjectType::Firm, "ACME", "guid-1", Utc::now());

    aws.state.link(&link).await.unwrap();

    assert_eq!(
        aws.counter.snapshot(),
        [("TransactWriteItems".to_owned(), 1)].into()
    );
    assert_eq!(
        aws.state
            .vp_key(&t, ObjectType::Firm, "guid-1")
            .await
            .unwrap()
            .as_deref(),
        Some("ACME")
    );
}

#[tokio::test]
async fn a_rate_budget_call_takes_both_windows_in_one_transaction_request() {
    let aws = spawn_state().await;
    let limits = RateLimits {
        per_minute: 60,
        per_day: 5000,
    };

    aws.state
        .acquire("client-1/499156", limits, Utc::now())
        .await
        .unwrap();

    assert_eq!(
        aws.counter.snapshot(),
        [("TransactWriteItems".to_owned(), 1)].into()
    );
}

#[tokio::test]
async fn discovery_of_150_objects_reads_and_creates_in_batches_of_a_hundred() {
    let aws = spawn_state().await;
    let t = tenant("t");
    let found: Vec<ObjectStatus> = (0..150)
        .map(|i| status(&t, &format!("INV-{i:03}"), SyncStatus::NotIntegrated, i))
        .collect();

    let created = aws.state.create_missing(&found).await.unwrap();
    let first = aws.counter.snapshot();
    aws.counter.reset();
    let again = aws.state.create_missing(&found).await.unwrap();

    assert_eq!(created, 150);
    assert_eq!(
        first,
        [
            ("BatchGetItem".to_owned(), 2),
            ("TransactWriteItems".to_owned(), 2)
        ]
        .into()
    );
    assert_eq!(again, 0);
    assert_eq!(
        aws.counter.snapshot(),
        [("BatchGetItem".to_owned(), 2)].into(),
        "rediscovery only reads"
    );
}

#[tokio::test]
async fn a_page_cursor_of_one_tenant_is_refused_for_another() {
    let aws = spawn_state().await;
    let (a, b) = (tenant("a"), tenant("b"));
    for i in 0..3 {
        StatusStore::put(
            &aws.state,
            &status(&a, &format!("INV-{i}"), SyncStatus::Error, i),
            None,
        )
        .await
        .unwrap();
    }
    let first = StatusStore::list(
        &aws.state,
        &a,
        &StatusFilter::default(),
        PageRequest::first(2),
    )
    .await
    .unwrap();

    let foreign = StatusStore::list(
        &aws.state,
        &b,
        &StatusFilter::default(),
        PageRequest {
            limit: 2,
            cursor: first.next_cursor.clone(),
        },
    )
    .await;
    let own = StatusStore::list(
        &aws.state,
        &a,
        &StatusFilter::default(),
        PageRequest {
            limit: 2,
            cursor: first.next_cursor,
        },
    )
    .await;

    assert!(
        matches!(foreign, Err(StoreError::Invalid(_))),
        "{foreign:?}"
    );
    assert_eq!(own.unwrap().items.len(), 1);
}

#[tokio::test]
async fn no_list_a_user_asks_for_scans_the_table() {
    let aws = spawn_state().await;
    let t = tenant("t");
    StatusStore::put(&aws.state, &status(&t, "INV-1", SyncStatus::Error, 0), None)
        .await
        .unwrap();
    aws.counter.reset();
    let filter = StatusFilter {
        status: Some(SyncStatus::Error),
        object_type: Some(ObjectType::Invoice),
        key_prefix: Some("INV".into()),
        ..Default::default()
    };

    TenantStore::list(&aws.state, PageRequest::first(10))
        .await
        .unwrap();
    LookupStore::list(
        &aws.state,
        &t,
        LookupTable::TaxCodes,
        PageRequest::first(10),
    )
    .await
    .unwrap();
    StatusStore::list(&aws.state, &t, &filter, PageRequest::first(10))
        .await
        .unwrap();
    StatusStore::list(
        &aws.state,
        &t,
        &StatusFilter::default(),
        PageRequest::first(10),
    )
    .await
    .unwrap();
    aws.state.counts(&t).await.unwrap();
    JobStore::list(&aws.state, &t, JobKind::Export, PageRequest::first(10))
        .await
        .unwrap();
    aws.state.expired_leases(Utc::now(), 10).await.unwrap();
    NotificationOutbox::list(&aws.state, &t, PageRequest::first(10))
        .await
        .unwrap();

    let counts = aws.counter.snapshot();
    assert!(!counts.contains_key("Scan"), "{counts:?}");
    assert_eq!(counts.keys().collect::<Vec<_>>(), ["Query"], "{counts:?}");
}

#[tokio::test]
async fn a_failed_idempotency_claim_reports_the_existing_record_from_the_same_request() {
    let aws = spawn_state().await;
    let now = Utc::now();
    let lease = std::time::Duration::from_secs(60);
    use ledgerlink_ports::IdempotencyStore;

    aws.state.begin("key-1", "h", lease, now).await.unwrap();
    let claim = aws.counter.snapshot();
    aws.counter.reset();
    aws.state.begin("key-1", "h", lease, now).await.unwrap();
    let contended = aws.counter.snapshot();

    assert_eq!(claim, [("UpdateItem".to_owned(), 1)].into());
    // moto 5.2.5, like DynamoDB, returns the existing item with the ConditionalCheckFailed error
    // (ReturnValuesOnConditionCheckFailure = ALL_OLD), so no extra read is needed; the adapter falls back to a
    // consistent GetItem only when an endpoint does not.
    assert_eq!(contended, [("UpdateItem".to_owned(), 1)].into());
}

#[tokio::test]
async fn the_assembled_stores_all_use_the_configured_table_bucket_and_queues() {
    let aws = crate::helpers::spawn_aws(&[ledgerlink_domain::Flow::ExportJob], 3).await;
    let stores = aws.stores();
    let t = tenant("t");

    stores
        .state
        .statuses
        .put(&status(&t, "INV-1", SyncStatus::Pending, 0), None)
        .await
        .unwrap();
    stores
        .storage
        .put(&t, "a.csv", "text/csv", bytes::Bytes::from_static(b"a"))
        .await
        .unwrap();
    stores
        .queue
        .send(ledgerlink_domain::Flow::ExportJob, &[])
        .await
        .unwrap();

    let object = ObjectRef {
        tenant: t.clone(),
        object_type: ObjectType::Invoice,
        key: ObjectKey::parse("INV-1").unwrap(),
    };
    assert!(
        StatusStore::get(&aws.state, &object)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        ledgerlink_ports::ExportStorage::exists(&aws.storage, &t, "a.csv")
            .await
            .unwrap()
    );
    assert_eq!(
        stores
            .queue
            .depth(ledgerlink_domain::Flow::ExportJob)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn the_unfiltered_list_merges_both_categories_newest_first_across_pages() {
    let aws = spawn_state().await;
    let t = tenant("t");
    let mut expected = Vec::new();
    for i in 0..11_i64 {
        let mut record = status(&t, &format!("K-{i:02}"), SyncStatus::Success, i);
        if i % 3 == 0 {
            record.object.object_type = ObjectType::Firm;
            record.category = ObjectType::Firm.category();
        }
        StatusStore::put(&aws.state, &record, None).await.unwrap();
        expected.insert(0, format!("{}/K-{i:02}", record.object.object_type));
    }
    aws.counter.reset();

    let mut seen = Vec::new();
    let mut page = PageRequest::first(3);
    loop {
        let listed = StatusStore::list(&aws.state, &t, &StatusFilter::default(), page.clone())
            .await
            .unwrap();
        seen.extend(
            listed
                .items
                .iter()
                .map(|s| format!("{}/{}", s.object.object_type, s.object.key)),
        );
        match listed.next_cursor {
            Some(cursor) => page.cursor = Some(cursor),
            None => break,
        }
    }
    let master_data = StatusStore::list(
        &aws.state,
        &t,
        &StatusFilter {
            object_type: Some(ObjectType::Firm),
            ..Default::default()
        },
        PageRequest::first(10),
    )
    .await
    .unwrap();

    assert_eq!(
        seen, expected,
        "every object once, newest first, across both category partitions"
    );
    assert_eq!(master_data.items.len(), 4);
    assert!(!aws.counter.snapshot().contains_key("Scan"));
}

/// Link items written before links carried a sync state (their docs lack it) read as links with no state,
/// keep working both ways, and take a state in place: nothing needs rewriting.
#[tokio::test]
async fn links_stored_before_the_sync_state_existed_read_without_one_and_take_one() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let aws = spawn_state().await;
    let t = tenant("old");
    let at = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).single().unwrap();
    let old_doc = serde_json::json!({
        "tenant": t.as_str(), "object_type": "firm", "vp_key": "CL-1", "exact_id": "guid-1",
        "created_at": at.to_rfc3339(),
    })
    .to_string();
    for (sk, attr, value) in [
        (
            keys::link_vp_sk(ObjectType::Firm, "CL-1"),
            "exact_id",
            "guid-1",
        ),
        (
            keys::link_exact_sk(ObjectType::Firm, "guid-1"),
            "vp_key",
            "CL-1",
        ),
    ] {
        aws.clients
            .dynamodb
            .put_item()
            .table_name(&aws.settings.table_name)
            .item(keys::PK, AttributeValue::S(keys::tenant_pk(&t)))
            .item(keys::SK, AttributeValue::S(sk))
            .item(attr, AttributeValue::S(value.into()))
            .item("doc", AttributeValue::S(old_doc.clone()))
            .send()
            .await
            .unwrap();
    }

    let before = LinkStore::get(&aws.state, &t, ObjectType::Firm, "CL-1")
        .await
        .unwrap();
    let back = aws
        .state
        .vp_key(&t, ObjectType::Firm, "guid-1")
        .await
        .unwrap();
    let mut with_state = before.clone().unwrap();
    with_state.sync = Some(ledgerlink_ports::LinkSync {
        vp_hash: Some("h".into()),
        vp_version: None,
        ledger_hash: None,
        ledger_version: Some(at),
        synced_at: at,
    });
    aws.state.save_sync(&with_state).await.unwrap();
    let after = LinkStore::get(&aws.state, &t, ObjectType::Firm, "CL-1")
        .await
        .unwrap();

    assert_eq!(
        before,
        Some(IdLink::new(
            t.clone(),
            ObjectType::Firm,
            "CL-1",
            "guid-1",
            at
        ))
    );
    assert_eq!(back.as_deref(), Some("CL-1"));
    assert_eq!(after, Some(with_state));
}
