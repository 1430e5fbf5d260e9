use ledgerlink_ports::contract::integrations as suite;

use crate::helpers::spawn_store;

#[tokio::test]
async fn integrations_are_versioned_listed_and_deleted() {
    let fresh = spawn_store();
    suite::integrations_are_versioned_listed_and_deleted(&*fresh.store.integrations()).await;
}

#[tokio::test]
async fn the_latest_run_of_a_task_in_a_period_wins() {
    let fresh = spawn_store();
    suite::the_latest_run_of_a_task_in_a_period_wins(&*fresh.store.integrations()).await;
}

#[tokio::test]
async fn every_run_of_a_period_stays_in_its_history() {
    use ledgerlink_ports::contract::{at, fresh_tenant};
    use ledgerlink_ports::{IntegrationStore, TaskRun, TaskRunState};

    let fresh = spawn_store();
    let integrations = fresh.store.integrations();
    let tenant = fresh_tenant();
    let run = |state, secs| TaskRun {
        tenant: tenant.clone(),
        integration_id: "int-a".into(),
        period: 202606,
        task: "export:invoices".into(),
        state,
        job_id: None,
        message: None,
        at: at(secs),
    };
    let (failed, rerun) = (run(TaskRunState::Failed, 1), run(TaskRunState::Run, 2));
    integrations.record_run(&failed).await.unwrap();
    integrations.record_run(&rerun).await.unwrap();

    let history = integrations
        .run_history(&tenant, "int-a", 202606)
        .await
        .unwrap();
    let latest = integrations.runs(&tenant, "int-a", 202606).await.unwrap();

    assert_eq!(
        history,
        vec![failed, rerun.clone()],
        "the history keeps every run, oldest first"
    );
    assert_eq!(
        latest,
        vec![rerun],
        "runs shows only the latest state of the task"
    );
}

#[tokio::test]
async fn an_in_memory_store_works_for_other_crates_tests() {
    use ledgerlink_ports::contract::integrations as suite;
    let store = ledgerlink_store_embedded::EmbeddedStore::open(":memory:").unwrap();
    suite::run_all(&*store.integrations()).await;
}
