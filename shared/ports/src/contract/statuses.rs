//! Contract of [`StatusStore`]: optimistic versions, the attempt history written with each put, discovery
//! that never overwrites, and the Integration page's filtered, newest-first, paginated list.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use ledgerlink_domain::{Category, ObjectKey, ObjectType, SyncStatus, TenantId};

use super::{at, expect_conflict, fresh_tenant, ok, race};
use crate::{
    AttemptStart, ObjectRef, ObjectStatus, PageRequest, StatusFilter, StatusStore, StoreError,
};

fn object(tenant: &TenantId, object_type: ObjectType, key: &str) -> ObjectRef {
    match ObjectKey::parse(key) {
        Ok(key) => ObjectRef {
            tenant: tenant.clone(),
            object_type,
            key,
        },
        Err(e) => panic!("suite built an invalid object key {key:?}: {e}"),
    }
}

/// A status record of `object` updated at `base_time + secs`.
pub fn sample(object: ObjectRef, status: SyncStatus, secs: i64) -> ObjectStatus {
    ObjectStatus {
        category: object.object_type.category(),
        object,
        status,
        version: 1,
        source_version: None,
        source_hash: None,
        target_id: None,
        last_message: None,
        fix: None,
        attempts: 0,
        created_at: at(0),
        updated_at: at(secs),
    }
}

async fn list_all(
    store: &dyn StatusStore,
    tenant: &TenantId,
    filter: &StatusFilter,
    limit: u32,
) -> Vec<ObjectStatus> {
    let mut all = Vec::new();
    let mut request = PageRequest::first(limit);
    for _ in 0..1000 {
        let page = ok(
            store.list(tenant, filter, request.clone()).await,
            "StatusStore::list",
        );
        assert!(
            page.items.len() <= limit as usize,
            "a page must not exceed the requested limit {limit}"
        );
        all.extend(page.items);
        match page.next_cursor {
            Some(cursor) => {
                request = PageRequest {
                    limit,
                    cursor: Some(cursor),
                }
            }
            None => return all,
        }
    }
    panic!("StatusStore::list never stopped returning a next cursor");
}

fn keys(items: &[ObjectStatus]) -> Vec<String> {
    items
        .iter()
        .map(|s| format!("{}/{}", s.object.object_type, s.object.key))
        .collect()
}

/// `put(None)` creates version 1; `put(Some(v))` with the stored version bumps it; anything else conflicts.
pub async fn put_creates_then_updates_with_optimistic_versions(store: &dyn StatusStore) {
    let tenant = fresh_tenant();
    let obj = object(&tenant, ObjectType::Invoice, "INV-1.202606.1");
    let mut record = sample(obj.clone(), SyncStatus::Pending, 1);
    record.source_version = Some("202606/1".into());
    record.source_hash = Some("abc".into());

    let created = ok(store.put(&record, None).await, "put(create)");
    let fetched = ok(store.get(&obj).await, "get");
    let create_again = store.put(&record, None).await;
    let mut next = created.clone();
    next.status = SyncStatus::Success;
    next.target_id = Some("4f1c-guid".into());
    next.updated_at = at(2);
    let updated = ok(store.put(&next, Some(1)).await, "put(update v1)");
    let stale = store.put(&next, Some(1)).await;
    let missing = store
        .put(
            &sample(
                object(&tenant, ObjectType::Invoice, "NEVER"),
                SyncStatus::Pending,
                1,
            ),
            Some(1),
        )
        .await;

    assert_eq!(created.version, 1, "a created status has version 1");
    assert_eq!(
        fetched,
        Some(created.clone()),
        "get must return exactly what put returned"
    );
    expect_conflict(
        create_again,
        "creating an existing status (expected_version None)",
    );
    assert_eq!(updated.version, 2, "an update bumps the version");
    assert_eq!(updated.status, SyncStatus::Success);
    assert_eq!(updated.target_id.as_deref(), Some("4f1c-guid"));
    assert_eq!(ok(store.get(&obj).await, "get"), Some(updated));
    expect_conflict(stale, "an update naming a stale version");
    expect_conflict(missing, "an update of a status that does not exist");
}

/// Each put appends one attempt (at `updated_at`, with attempts, status and message) to the history, read
/// newest first and cut at `limit`.
pub async fn put_appends_the_attempt_history_newest_first(store: &dyn StatusStore) {
    let tenant = fresh_tenant();
    let obj = object(&tenant, ObjectType::ApVoucher, "V-1");
    let steps = [
        (SyncStatus::Pending, None, 10),
        (
            SyncStatus::Error,
            Some("Exact said: account 8000 blocked"),
            20,
        ),
        (SyncStatus::Success, None, 30),
    ];
    let mut version = None;
    for (attempt, (status, message, secs)) in steps.iter().enumerate() {
        let mut record = sample(obj.clone(), *status, *secs);
        record.attempts = attempt as u32 + 1;
        record.last_message = message.map(str::to_owned);
        version = Some(ok(store.put(&record, version).await, "put").version);
    }

    let history = ok(store.history(&obj, 10).await, "history");
    let latest_two = ok(store.history(&obj, 2).await, "history(limit 2)");

    let seen: Vec<_> = history
        .iter()
        .map(|a| (a.attempt, a.status, a.message.clone(), a.at))
        .collect();
    assert_eq!(
        seen,
        vec![
            (3, SyncStatus::Success, None, at(30)),
            (
                2,
                SyncStatus::Error,
                Some("Exact said: account 8000 blocked".to_owned()),
                at(20)
            ),
            (1, SyncStatus::Pending, None, at(10)),
        ],
        "history must hold one attempt per put, newest first"
    );
    assert_eq!(
        latest_two,
        history[..2].to_vec(),
        "history(limit) must return the newest `limit` attempts"
    );
    let other = ok(
        store
            .history(&object(&tenant, ObjectType::ApVoucher, "V-2"), 10)
            .await,
        "history of another object",
    );
    assert!(other.is_empty(), "another object's history must be empty");
}

/// Discovery creates absent objects as given and leaves existing ones alone, returning how many it created.
pub async fn create_missing_creates_only_absent_objects(store: &dyn StatusStore) {
    let tenant = fresh_tenant();
    let existing = sample(
        object(&tenant, ObjectType::Firm, "ACME"),
        SyncStatus::Success,
        5,
    );
    let existing = ok(store.put(&existing, None).await, "put");
    let mut rediscovered = sample(existing.object.clone(), SyncStatus::NotIntegrated, 9);
    rediscovered.version = 1;
    let mut new: Vec<ObjectStatus> = (0..30)
        .map(|i| {
            sample(
                object(&tenant, ObjectType::Firm, &format!("FIRM-{i:03}")),
                SyncStatus::NotIntegrated,
                6,
            )
        })
        .collect();
    let mut batch = vec![rediscovered];
    batch.append(&mut new.clone());

    let created = ok(store.create_missing(&batch).await, "create_missing");
    let again = ok(store.create_missing(&batch).await, "create_missing (again)");

    assert_eq!(created, 30, "only the 30 absent objects must be created");
    assert_eq!(
        again, 0,
        "a second discovery of the same objects creates nothing"
    );
    assert_eq!(
        ok(store.get(&existing.object).await, "get"),
        Some(existing),
        "an existing status must be left alone"
    );
    let first_new = new.remove(0);
    assert_eq!(
        ok(store.get(&first_new.object).await, "get"),
        Some(first_new),
        "a new status is stored as given"
    );
}

/// The list is most recently updated first, and paging through it returns every item exactly once.
pub async fn list_is_newest_first_and_pages_cover_every_item_once(store: &dyn StatusStore) {
    let tenant = fresh_tenant();
    let other_tenant = fresh_tenant();
    let mut expected = BTreeSet::new();
    for i in 0..23_i64 {
        // Some objects share an update instant, so the order must break ties consistently across pages.
        let record = sample(
            object(&tenant, ObjectType::Invoice, &format!("INV-{i:02}")),
            SyncStatus::Pending,
            i / 3,
        );
        ok(store.put(&record, None).await, "put");
        expected.insert(format!("invoice/INV-{i:02}"));
    }
    ok(
        store
            .put(
                &sample(
                    object(&other_tenant, ObjectType::Invoice, "INV-00"),
                    SyncStatus::Pending,
                    100,
                ),
                None,
            )
            .await,
        "put",
    );

    let listed = list_all(store, &tenant, &StatusFilter::default(), 5).await;

    let listed_keys = keys(&listed);
    let unique: BTreeSet<String> = listed_keys.iter().cloned().collect();
    assert_eq!(
        listed_keys.len(),
        23,
        "pages must cover every item exactly once, got {listed_keys:?}"
    );
    assert_eq!(
        unique, expected,
        "pages must return exactly the tenant's objects"
    );
    assert!(
        listed
            .windows(2)
            .all(|w| w[0].updated_at >= w[1].updated_at),
        "the list must be most recently updated first: {:?}",
        listed.iter().map(|s| s.updated_at).collect::<Vec<_>>()
    );
}

/// Every filter of the Integration page, alone and combined, returns exactly the matching objects.
pub async fn list_filters_by_status_category_type_key_prefix_and_source_version(
    store: &dyn StatusStore,
) {
    let tenant = fresh_tenant();
    let rows = [
        (
            ObjectType::Invoice,
            "INV-100",
            SyncStatus::Success,
            Some("P1"),
        ),
        (
            ObjectType::Invoice,
            "INV-101",
            SyncStatus::Error,
            Some("P1"),
        ),
        (
            ObjectType::Invoice,
            "INV-200",
            SyncStatus::Error,
            Some("P2"),
        ),
        (ObjectType::CreditMemo, "INV-102", SyncStatus::Error, None),
        (ObjectType::Firm, "INV-FIRM", SyncStatus::Error, None),
        (ObjectType::Firm, "ACME", SyncStatus::Pending, Some("P1")),
    ];
    for (i, (object_type, key, status, source_version)) in rows.iter().enumerate() {
        let mut record = sample(object(&tenant, *object_type, key), *status, i as i64);
        record.source_version = source_version.map(str::to_owned);
        ok(store.put(&record, None).await, "put");
    }
    let tenant = &tenant;
    let run = |filter: StatusFilter| async move {
        let mut found: Vec<String> = keys(&list_all(store, tenant, &filter, 2).await);
        found.sort();
        found
    };

    let by_status = run(StatusFilter {
        status: Some(SyncStatus::Error),
        ..Default::default()
    })
    .await;
    let by_category = run(StatusFilter {
        category: Some(Category::MasterData),
        ..Default::default()
    })
    .await;
    let by_type = run(StatusFilter {
        object_type: Some(ObjectType::Invoice),
        ..Default::default()
    })
    .await;
    let by_prefix = run(StatusFilter {
        key_prefix: Some("INV-1".into()),
        ..Default::default()
    })
    .await;
    let by_version = run(StatusFilter {
        source_version: Some("P1".into()),
        ..Default::default()
    })
    .await;
    let combined = run(StatusFilter {
        status: Some(SyncStatus::Error),
        category: Some(Category::Finance),
        key_prefix: Some("INV-1".into()),
        ..Default::default()
    })
    .await;
    let nothing = run(StatusFilter {
        status: Some(SyncStatus::Desynchronized),
        ..Default::default()
    })
    .await;

    assert_eq!(
        by_status,
        [
            "credit-memo/INV-102",
            "firm/INV-FIRM",
            "invoice/INV-101",
            "invoice/INV-200"
        ],
        "status filter"
    );
    assert_eq!(
        by_category,
        ["firm/ACME", "firm/INV-FIRM"],
        "category filter"
    );
    assert_eq!(
        by_type,
        ["invoice/INV-100", "invoice/INV-101", "invoice/INV-200"],
        "object type filter"
    );
    assert_eq!(
        by_prefix,
        ["credit-memo/INV-102", "invoice/INV-100", "invoice/INV-101"],
        "key prefix filter"
    );
    assert_eq!(
        by_version,
        ["firm/ACME", "invoice/INV-100", "invoice/INV-101"],
        "source version filter"
    );
    assert_eq!(
        combined,
        ["credit-memo/INV-102", "invoice/INV-101"],
        "combined filters"
    );
    assert!(
        nothing.is_empty(),
        "a filter nothing matches must return an empty list, got {nothing:?}"
    );
}

/// An update moves the object to the top of the list and out of (into) status filters.
pub async fn an_update_moves_the_object_in_the_list_and_between_filters(store: &dyn StatusStore) {
    let tenant = fresh_tenant();
    let a = ok(
        store
            .put(
                &sample(object(&tenant, ObjectType::Firm, "A"), SyncStatus::Error, 1),
                None,
            )
            .await,
        "put",
    );
    ok(
        store
            .put(
                &sample(object(&tenant, ObjectType::Firm, "B"), SyncStatus::Error, 2),
                None,
            )
            .await,
        "put",
    );
    let mut fixed = a.clone();
    fixed.status = SyncStatus::Success;
    fixed.updated_at = at(3);

    ok(store.put(&fixed, Some(a.version)).await, "put(update)");

    let all = list_all(store, &tenant, &StatusFilter::default(), 10).await;
    let errors = list_all(
        store,
        &tenant,
        &StatusFilter {
            status: Some(SyncStatus::Error),
            ..Default::default()
        },
        10,
    )
    .await;
    assert_eq!(
        keys(&all),
        ["firm/A", "firm/B"],
        "the updated object must come first"
    );
    assert_eq!(
        keys(&errors),
        ["firm/B"],
        "the updated object must leave the Error filter"
    );
}

/// Counts per status cover exactly the tenant's objects.
pub async fn counts_are_per_status_for_one_tenant(store: &dyn StatusStore) {
    let tenant = fresh_tenant();
    let other = fresh_tenant();
    let statuses = [
        SyncStatus::Success,
        SyncStatus::Success,
        SyncStatus::Error,
        SyncStatus::Pending,
        SyncStatus::Success,
    ];
    for (i, status) in statuses.iter().enumerate() {
        ok(
            store
                .put(
                    &sample(
                        object(&tenant, ObjectType::Firm, &format!("F{i}")),
                        *status,
                        1,
                    ),
                    None,
                )
                .await,
            "put",
        );
    }
    ok(
        store
            .put(
                &sample(object(&other, ObjectType::Firm, "F0"), SyncStatus::Error, 1),
                None,
            )
            .await,
        "put",
    );

    let counts = ok(store.counts(&tenant).await, "counts");
    let empty = ok(
        store.counts(&fresh_tenant()).await,
        "counts of an empty tenant",
    );

    let expected = BTreeMap::from([
        (SyncStatus::Error, 1),
        (SyncStatus::Pending, 1),
        (SyncStatus::Success, 3),
    ]);
    let nonzero: BTreeMap<SyncStatus, u64> = counts.into_iter().filter(|(_, n)| *n > 0).collect();
    assert_eq!(
        nonzero, expected,
        "counts must cover exactly this tenant's objects"
    );
    assert!(
        empty.values().all(|n| *n == 0),
        "an empty tenant has no counts, got {empty:?}"
    );
}

/// Attempts are counted per hour, type and status within the window, for one tenant, across days.
pub async fn attempt_counts_cover_the_window_per_hour_type_and_status(store: &dyn StatusStore) {
    let tenant = fresh_tenant();
    let other = fresh_tenant();
    let hour = |h: i64| at(h * 3600);
    // Firm A: error then success in hour 1; invoice B: error in hour 2; firm C: success in hour 26 (the
    // next UTC day); firm D: success in hour 40 (outside the window); the other tenant: one error.
    let firm_a = object(&tenant, ObjectType::Firm, "A");
    let mut record = sample(firm_a.clone(), SyncStatus::Error, 3600 + 60);
    let saved = ok(store.put(&record, None).await, "put");
    record.status = SyncStatus::Success;
    record.updated_at = at(3600 + 120);
    ok(store.put(&record, Some(saved.version)).await, "put");
    for (object_type, key, status, secs) in [
        (ObjectType::Invoice, "B", SyncStatus::Error, 2 * 3600 + 5),
        (ObjectType::Firm, "C", SyncStatus::Success, 26 * 3600),
        (ObjectType::Firm, "D", SyncStatus::Success, 40 * 3600),
    ] {
        ok(
            store
                .put(
                    &sample(object(&tenant, object_type, key), status, secs),
                    None,
                )
                .await,
            "put",
        );
    }
    ok(
        store
            .put(
                &sample(
                    object(&other, ObjectType::Firm, "A"),
                    SyncStatus::Error,
                    3600,
                ),
                None,
            )
            .await,
        "put",
    );

    let counts = ok(
        store.attempt_counts(&tenant, hour(1), hour(30)).await,
        "attempt_counts",
    );

    let expected = vec![
        crate::AttemptCount {
            hour: hour(1),
            object_type: ObjectType::Firm,
            status: SyncStatus::Success,
            count: 1,
        },
        crate::AttemptCount {
            hour: hour(1),
            object_type: ObjectType::Firm,
            status: SyncStatus::Error,
            count: 1,
        },
        crate::AttemptCount {
            hour: hour(2),
            object_type: ObjectType::Invoice,
            status: SyncStatus::Error,
            count: 1,
        },
        crate::AttemptCount {
            hour: hour(26),
            object_type: ObjectType::Firm,
            status: SyncStatus::Success,
            count: 1,
        },
    ];
    let mut expected = expected;
    expected.sort();
    assert_eq!(
        counts, expected,
        "every attempt in the window, per hour, type and status, of this tenant only"
    );
}

/// A cursor the store did not issue is refused as invalid, not treated as the first page.
pub async fn a_foreign_cursor_is_invalid(store: &dyn StatusStore) {
    let tenant = fresh_tenant();
    let request = PageRequest {
        limit: 10,
        cursor: Some("definitely-not-a-cursor".into()),
    };

    let result = store.list(&tenant, &StatusFilter::default(), request).await;

    assert!(
        matches!(result, Err(StoreError::Invalid(_))),
        "a foreign cursor must be Invalid, got {result:?}"
    );
}

/// 16 writers race to update the same version: exactly one wins, every other one gets a Conflict.
pub async fn concurrent_updates_of_one_version_succeed_exactly_once(store: Arc<dyn StatusStore>) {
    let tenant = fresh_tenant();
    let created = ok(
        store
            .put(
                &sample(
                    object(&tenant, ObjectType::Invoice, "RACE"),
                    SyncStatus::Pending,
                    1,
                ),
                None,
            )
            .await,
        "put",
    );

    let outcomes = race(16, |i| {
        let store = store.clone();
        let mut next = created.clone();
        next.last_message = Some(format!("writer {i}"));
        next.updated_at = at(2);
        async move { store.put(&next, Some(1)).await }
    })
    .await;

    let mut wins = 0;
    for outcome in outcomes {
        match outcome {
            Ok(saved) => {
                wins += 1;
                assert_eq!(saved.version, 2);
            }
            Err(StoreError::Conflict { .. }) => {}
            Err(e) => panic!("a losing writer must get a Conflict, got {e}"),
        }
    }
    assert_eq!(wins, 1, "exactly one of 16 writers of version 1 must win");
    let history = ok(store.history(&created.object, 50).await, "history");
    assert_eq!(
        history.len(),
        2,
        "only the winning write may append to the history"
    );
}

fn started(
    outcome: Result<AttemptStart, StoreError>,
    what: &str,
) -> (Option<ObjectStatus>, ObjectStatus) {
    match ok(outcome, what) {
        AttemptStart::Started { previous, current } => (previous, current),
        AttemptStart::Declined(current) => {
            panic!("{what}: the attempt must start, it was declined on {current:?}")
        }
    }
}

fn declined(outcome: Result<AttemptStart, StoreError>, what: &str) -> ObjectStatus {
    match ok(outcome, what) {
        AttemptStart::Declined(current) => current,
        AttemptStart::Started { current, .. } => {
            panic!("{what}: the attempt must be declined, it started as {current:?}")
        }
    }
}

/// An attempt of a discovered object marks it Pending with one more attempt and "Attempt N started" (in the
/// record and in the history); an unknown object is created that way; the finishing write names the version
/// the start returned.
pub async fn begin_attempt_marks_the_attempt_started_in_the_record_and_the_history(
    store: &dyn StatusStore,
) {
    let tenant = fresh_tenant();
    let mut discovered = sample(
        object(&tenant, ObjectType::Invoice, "INV-7.202606.1"),
        SyncStatus::NotIntegrated,
        1,
    );
    discovered.source_version = Some("202606".into());
    ok(
        store
            .create_missing(std::slice::from_ref(&discovered))
            .await,
        "create_missing",
    );
    let unknown = object(&tenant, ObjectType::Invoice, "INV-8.202606.1");

    let (previous, current) = started(
        store.begin_attempt(&discovered.object, false, at(5)).await,
        "begin_attempt of a discovered object",
    );
    let (unknown_previous, unknown_current) = started(
        store.begin_attempt(&unknown, false, at(6)).await,
        "begin_attempt of an unknown object",
    );
    let mut done = current.clone();
    done.status = SyncStatus::Success;
    done.target_id = Some("guid-7".into());
    done.last_message = None;
    done.updated_at = at(7);
    let done = ok(
        store.put(&done, Some(current.version)).await,
        "put(after begin_attempt)",
    );

    assert_eq!(
        previous,
        Some(discovered.clone()),
        "previous is the record before the attempt"
    );
    let mut expected = discovered.clone();
    expected.version = 2;
    expected.attempts = 1;
    expected.status = SyncStatus::Pending;
    expected.last_message = Some("Attempt 1 started".into());
    expected.updated_at = at(5);
    assert_eq!(current, expected, "the started record");
    assert_eq!(
        unknown_previous, None,
        "an unknown object has no previous record"
    );
    let mut created = AttemptStart::fresh(&unknown, at(6));
    created.version = 1;
    created.attempts = 1;
    created.status = SyncStatus::Pending;
    created.last_message = Some("Attempt 1 started".into());
    assert_eq!(
        unknown_current, created,
        "an unknown object is created as started"
    );
    assert_eq!(
        ok(store.get(&unknown).await, "get"),
        Some(unknown_current),
        "get returns what begin_attempt returned"
    );
    assert_eq!(
        done.version, 3,
        "the finishing write bumps the started version"
    );
    assert_eq!(ok(store.get(&discovered.object).await, "get"), Some(done));
    let history: Vec<_> = ok(store.history(&discovered.object, 10).await, "history")
        .into_iter()
        .map(|a| (a.attempt, a.status, a.message, a.at))
        .collect();
    assert_eq!(
        history,
        vec![
            (1, SyncStatus::Success, None, at(7)),
            (
                1,
                SyncStatus::Pending,
                Some("Attempt 1 started".to_owned()),
                at(5)
            ),
        ],
        "the start and the outcome are both in the history, newest first"
    );
    let pending = list_all(
        store,
        &tenant,
        &StatusFilter {
            status: Some(SyncStatus::Pending),
            ..Default::default()
        },
        10,
    )
    .await;
    assert_eq!(
        keys(&pending),
        ["invoice/INV-8.202606.1"],
        "a started object is listed as Pending"
    );
}

/// A synced object declines a Sync and accepts a Force synchronize; an object in Error declines a Sync; an
/// unknown outcome stays OutcomeUnknown. A declined attempt writes nothing.
pub async fn begin_attempt_declines_synced_and_failed_objects_unless_forced(
    store: &dyn StatusStore,
) {
    let tenant = fresh_tenant();
    let synced = ok(
        store
            .put(
                &sample(
                    object(&tenant, ObjectType::Firm, "S"),
                    SyncStatus::Success,
                    1,
                ),
                None,
            )
            .await,
        "put",
    );
    let failed = ok(
        store
            .put(
                &sample(object(&tenant, ObjectType::Firm, "E"), SyncStatus::Error, 1),
                None,
            )
            .await,
        "put",
    );
    let mut unknown = sample(
        object(&tenant, ObjectType::Firm, "U"),
        SyncStatus::OutcomeUnknown,
        1,
    );
    unknown.attempts = 3;
    let unknown = ok(store.put(&unknown, None).await, "put");

    let synced_sync = declined(
        store.begin_attempt(&synced.object, false, at(2)).await,
        "Sync of Success",
    );
    let failed_sync = declined(
        store.begin_attempt(&failed.object, false, at(2)).await,
        "Sync of Error",
    );
    let (_, forced) = started(
        store.begin_attempt(&synced.object, true, at(3)).await,
        "ForceSync of Success",
    );
    let (_, failed_forced) = started(
        store.begin_attempt(&failed.object, true, at(3)).await,
        "ForceSync of Error",
    );
    let (_, retried) = started(
        store.begin_attempt(&unknown.object, false, at(3)).await,
        "Sync of OutcomeUnknown",
    );

    assert_eq!(
        synced_sync, synced,
        "a declined attempt returns the stored record"
    );
    assert_eq!(failed_sync, failed);
    assert_eq!(
        ok(store.history(&failed.object, 10).await, "history").len(),
        2,
        "the declined attempt wrote nothing, the forced one its start"
    );
    assert_eq!(
        (forced.status, forced.attempts, forced.version),
        (SyncStatus::Pending, 1, 2)
    );
    assert_eq!(failed_forced.status, SyncStatus::Pending);
    assert_eq!(
        (
            retried.status,
            retried.attempts,
            retried.last_message.as_deref()
        ),
        (SyncStatus::OutcomeUnknown, 4, Some("Attempt 4 started")),
        "an unknown outcome stays OutcomeUnknown so the attempt looks its write up first"
    );
}

/// Many attempts in a row, some finished and some not, keep every "Attempt N started" in the history.
pub async fn every_attempt_start_stays_in_the_history(store: &dyn StatusStore) {
    let tenant = fresh_tenant();
    let obj = object(&tenant, ObjectType::Invoice, "INV-R");
    let mut expected = Vec::new();
    for i in 1..=40_u32 {
        let (_, current) = started(
            store
                .begin_attempt(&obj, false, at(i64::from(i) * 10))
                .await,
            "begin_attempt",
        );
        assert_eq!(current.attempts, i);
        expected.push((i, SyncStatus::Pending, Some(format!("Attempt {i} started"))));
        if i % 3 == 0 {
            let mut retry = current.clone();
            retry.last_message = Some(format!("Will retry: {i}"));
            retry.updated_at = at(i64::from(i) * 10 + 1);
            ok(store.put(&retry, Some(current.version)).await, "put");
            expected.push((i, SyncStatus::Pending, Some(format!("Will retry: {i}"))));
        }
    }
    expected.reverse();

    let history: Vec<_> = ok(store.history(&obj, 100).await, "history")
        .into_iter()
        .map(|a| (a.attempt, a.status, a.message))
        .collect();
    let newest: Vec<_> = ok(store.history(&obj, 5).await, "history(5)")
        .into_iter()
        .map(|a| (a.attempt, a.status, a.message))
        .collect();

    assert_eq!(
        history, expected,
        "every start and every outcome, newest first"
    );
    assert_eq!(newest, expected[..5].to_vec(), "the newest five");
}

/// Attempts started at the same moment by several workers are each counted once: no start is lost.
pub async fn concurrent_attempt_starts_each_count(store: Arc<dyn StatusStore>) {
    let tenant = fresh_tenant();
    let discovered = sample(
        object(&tenant, ObjectType::Invoice, "INV-C"),
        SyncStatus::NotIntegrated,
        1,
    );
    ok(
        store
            .create_missing(std::slice::from_ref(&discovered))
            .await,
        "create_missing",
    );

    let outcomes = race(6, |_| {
        let store = store.clone();
        let obj = discovered.object.clone();
        async move { store.begin_attempt(&obj, false, at(2)).await }
    })
    .await;

    let mut attempts: Vec<u32> = outcomes
        .into_iter()
        .map(|o| started(o, "a racing begin_attempt").1.attempts)
        .collect();
    attempts.sort_unstable();
    assert_eq!(attempts, [1, 2, 3, 4, 5, 6], "each start counted once");
    let stored = ok(store.get(&discovered.object).await, "get");
    assert_eq!(stored.map(|s| (s.attempts, s.version)), Some((6, 7)));
}

/// Every case of this suite, in sequence.
pub async fn run_all(store: Arc<dyn StatusStore>) {
    put_creates_then_updates_with_optimistic_versions(&*store).await;
    put_appends_the_attempt_history_newest_first(&*store).await;
    create_missing_creates_only_absent_objects(&*store).await;
    list_is_newest_first_and_pages_cover_every_item_once(&*store).await;
    list_filters_by_status_category_type_key_prefix_and_source_version(&*store).await;
    an_update_moves_the_object_in_the_list_and_between_filters(&*store).await;
    counts_are_per_status_for_one_tenant(&*store).await;
    attempt_counts_cover_the_window_per_hour_type_and_status(&*store).await;
    a_foreign_cursor_is_invalid(&*store).await;
    begin_attempt_marks_the_attempt_started_in_the_record_and_the_history(&*store).await;
    begin_attempt_declines_synced_and_failed_objects_unless_forced(&*store).await;
    every_attempt_start_stays_in_the_history(&*store).await;
    concurrent_attempt_starts_each_count(store.clone()).await;
    concurrent_updates_of_one_version_succeed_exactly_once(store).await;
}
