//! Contract of [`JobStore`]: new ids only, optimistic updates, newest-first lists per kind, and the
//! clean-up's query for started jobs whose lease expired.

use ledgerlink_domain::TenantId;
use serde_json::json;

use super::{at, expect_conflict, fresh_tenant, ok};
use crate::{Job, JobKind, JobStatus, JobStore, PageRequest};

/// A started job of `kind` with a sortable id (`job-0007`) and a lease until `base_time + lease_secs`.
pub fn sample(tenant: &TenantId, number: u32, kind: JobKind, lease_secs: Option<i64>) -> Job {
    Job {
        tenant: tenant.clone(),
        id: format!("job-{number:04}"),
        kind,
        description: format!("{kind:?} {number}"),
        created_by: "jdoe".into(),
        definition: "invoices".into(),
        status: JobStatus::Started,
        processed: 0,
        total: None,
        started_at: at(i64::from(number)),
        finished_at: None,
        failed_at: None,
        fail_reason: None,
        file_key: None,
        lease_expires_at: lease_secs.map(at),
        attempt: 1,
        original_id: None,
        details: json!({"period": 202606}),
        version: 1,
    }
}

/// `create` refuses an existing id; `put` updates only from the version read.
pub async fn jobs_are_created_once_and_updated_optimistically(store: &dyn JobStore) {
    let tenant = fresh_tenant();
    let job = sample(&tenant, 1, JobKind::Export, Some(60));

    let created = ok(store.create(&job).await, "create");
    let duplicate = store.create(&job).await;
    let mut finished = created.clone();
    finished.status = JobStatus::Finished;
    finished.processed = 120;
    finished.total = Some(120);
    finished.finished_at = Some(at(30));
    finished.file_key = Some("exports/job-0001/invoices.csv".into());
    let updated = ok(store.put(&finished, created.version).await, "put");
    let stale = store.put(&finished, created.version).await;
    let fetched = ok(store.get(&tenant, "job-0001").await, "get");
    let missing = ok(store.get(&tenant, "job-9999").await, "get(missing)");

    assert_eq!(created.version, 1, "a created job has version 1");
    expect_conflict(duplicate, "creating a job whose id exists");
    assert_eq!(
        updated.version,
        created.version + 1,
        "put bumps the version"
    );
    expect_conflict(stale, "updating a job from a stale version");
    assert_eq!(fetched, Some(updated), "get returns the last put");
    assert_eq!(missing, None);
}

/// A tenant's jobs of one kind list newest first (by id), every job exactly once across pages.
pub async fn jobs_list_newest_first_per_kind(store: &dyn JobStore) {
    let tenant = fresh_tenant();
    for n in 1..=12 {
        let kind = if n % 4 == 0 {
            JobKind::Import
        } else {
            JobKind::Export
        };
        ok(
            store.create(&sample(&tenant, n, kind, None)).await,
            "create",
        );
    }
    ok(
        store
            .create(&sample(&fresh_tenant(), 99, JobKind::Export, None))
            .await,
        "create(other tenant)",
    );

    let mut ids = Vec::new();
    let mut request = PageRequest::first(4);
    loop {
        let page = ok(
            store.list(&tenant, JobKind::Export, request.clone()).await,
            "list",
        );
        assert!(page.items.len() <= 4, "a page must not exceed the limit");
        ids.extend(page.items.into_iter().map(|j| j.id));
        match page.next_cursor {
            Some(cursor) => {
                request = PageRequest {
                    limit: 4,
                    cursor: Some(cursor),
                }
            }
            None => break,
        }
        assert!(ids.len() <= 100, "list never ends");
    }
    let imports = ok(
        store
            .list(&tenant, JobKind::Import, PageRequest::first(50))
            .await,
        "list(imports)",
    );

    let expected: Vec<String> = (1..=12)
        .rev()
        .filter(|n| n % 4 != 0)
        .map(|n| format!("job-{n:04}"))
        .collect();
    assert_eq!(
        ids, expected,
        "exports must list newest first, each exactly once, only this tenant's"
    );
    let import_ids: Vec<String> = imports.items.into_iter().map(|j| j.id).collect();
    assert_eq!(
        import_ids,
        ["job-0012", "job-0008", "job-0004"],
        "imports list separately, newest first"
    );
}

/// `expired_leases` finds started jobs whose lease ended before `now`, and nothing else.
pub async fn expired_leases_finds_only_started_jobs_past_their_lease(store: &dyn JobStore) {
    let tenant = fresh_tenant();
    let expired = ok(
        store
            .create(&sample(&tenant, 1, JobKind::Export, Some(10)))
            .await,
        "create",
    );
    ok(
        store
            .create(&sample(&tenant, 2, JobKind::Export, Some(1_000)))
            .await,
        "create(live lease)",
    );
    let finished = ok(
        store
            .create(&sample(&tenant, 3, JobKind::Import, Some(10)))
            .await,
        "create",
    );
    let mut done = finished.clone();
    done.status = JobStatus::Finished;
    ok(store.put(&done, finished.version).await, "put(finished)");
    ok(
        store
            .create(&sample(&tenant, 4, JobKind::Export, None))
            .await,
        "create(no lease)",
    );

    let found = ok(store.expired_leases(at(500), 100).await, "expired_leases");

    let mine: Vec<&str> = found
        .iter()
        .filter(|j| j.tenant == tenant)
        .map(|j| j.id.as_str())
        .collect();
    assert_eq!(
        mine,
        [expired.id.as_str()],
        "only the started job whose lease expired must be found"
    );
}

/// Every case of this suite, in sequence.
pub async fn run_all(store: &dyn JobStore) {
    jobs_are_created_once_and_updated_optimistically(store).await;
    jobs_list_newest_first_per_kind(store).await;
    expired_leases_finds_only_started_jobs_past_their_lease(store).await;
}
