//! Contract of [`IntegrationStore`]: versioned integrations, and per-period task runs where the latest run
//! of a task wins.

use ledgerlink_domain::TenantId;

use super::{at, expect_conflict, fresh_tenant, ok};
use crate::{Integration, IntegrationStore, PageRequest, TaskRun, TaskRunState};

fn integration(tenant: &TenantId, id: &str) -> Integration {
    Integration {
        tenant: tenant.clone(),
        id: id.to_owned(),
        name: format!("Month end {id}"),
        description: "Firms in, invoices out".into(),
        import_tasks: vec!["firms".into()],
        export_tasks: vec!["invoices".into(), "journal".into()],
        version: 0,
        updated_at: at(0),
    }
}

fn run(
    tenant: &TenantId,
    integration_id: &str,
    period: u32,
    task: &str,
    state: TaskRunState,
    secs: i64,
) -> TaskRun {
    TaskRun {
        tenant: tenant.clone(),
        integration_id: integration_id.to_owned(),
        period,
        task: task.to_owned(),
        state,
        job_id: Some(format!("job-{secs}")),
        message: None,
        at: at(secs),
    }
}

/// Integrations are versioned, listed per tenant, and deletable.
pub async fn integrations_are_versioned_listed_and_deleted(store: &dyn IntegrationStore) {
    let tenant = fresh_tenant();

    let created = ok(
        store.put(&integration(&tenant, "int-a"), None).await,
        "put(create)",
    );
    let duplicate = store.put(&integration(&tenant, "int-a"), None).await;
    let mut renamed = created.clone();
    renamed.name = "Quarter end".into();
    let updated = ok(store.put(&renamed, Some(1)).await, "put(update)");
    let stale = store.put(&renamed, Some(1)).await;
    ok(
        store.put(&integration(&tenant, "int-b"), None).await,
        "put(second)",
    );
    ok(
        store
            .put(&integration(&fresh_tenant(), "int-c"), None)
            .await,
        "put(other tenant)",
    );
    let listed = ok(store.list(&tenant, PageRequest::first(50)).await, "list");
    ok(store.delete(&tenant, "int-b").await, "delete");

    assert_eq!(created.version, 1);
    expect_conflict(duplicate, "creating an existing integration");
    assert_eq!(updated.version, 2);
    expect_conflict(stale, "updating an integration from a stale version");
    assert_eq!(ok(store.get(&tenant, "int-a").await, "get"), Some(updated));
    let mut ids: Vec<String> = listed.items.into_iter().map(|i| i.id).collect();
    ids.sort();
    assert_eq!(
        ids,
        ["int-a", "int-b"],
        "list must show exactly this tenant's integrations"
    );
    assert_eq!(
        ok(store.get(&tenant, "int-b").await, "get(deleted)"),
        None,
        "a deleted integration is gone"
    );
}

/// The latest run of each task in a period wins; periods are separate.
pub async fn the_latest_run_of_a_task_in_a_period_wins(store: &dyn IntegrationStore) {
    let tenant = fresh_tenant();
    ok(store.put(&integration(&tenant, "int-a"), None).await, "put");
    let failed = run(
        &tenant,
        "int-a",
        202606,
        "export:invoices",
        TaskRunState::Failed,
        10,
    );
    let rerun = run(
        &tenant,
        "int-a",
        202606,
        "export:invoices",
        TaskRunState::Run,
        20,
    );
    let import = run(
        &tenant,
        "int-a",
        202606,
        "import:firms",
        TaskRunState::Run,
        15,
    );
    let next_period = run(
        &tenant,
        "int-a",
        202607,
        "export:invoices",
        TaskRunState::NotRun,
        30,
    );

    for r in [&failed, &rerun, &import, &next_period] {
        ok(store.record_run(r).await, "record_run");
    }
    let mut june = ok(store.runs(&tenant, "int-a", 202606).await, "runs(202606)");
    june.sort_by(|a, b| a.task.cmp(&b.task));
    let july = ok(store.runs(&tenant, "int-a", 202607).await, "runs(202607)");
    let empty = ok(store.runs(&tenant, "int-a", 202605).await, "runs(202605)");

    assert_eq!(
        june,
        vec![rerun, import],
        "each task shows its latest run in the period"
    );
    assert_eq!(july, vec![next_period], "periods are separate");
    assert!(empty.is_empty(), "a period without runs has none");
}

/// Every case of this suite, in sequence.
pub async fn run_all(store: &dyn IntegrationStore) {
    integrations_are_versioned_listed_and_deleted(store).await;
    the_latest_run_of_a_task_in_a_period_wins(store).await;
}
