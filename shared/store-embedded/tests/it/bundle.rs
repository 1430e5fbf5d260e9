//! The bundle the flows receive: every port of `state_stores()` passes its whole suite on one shared file.

use ledgerlink_ports::contract;

use crate::helpers::spawn_store;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_port_of_the_state_stores_bundle_passes_its_suite_on_one_file() {
    let fresh = spawn_store();
    let stores = fresh.store.state_stores();

    contract::tenants::run_all(&*stores.tenants).await;
    contract::links::run_all(&*stores.links).await;
    contract::lookups::run_all(&*stores.lookups).await;
    contract::statuses::run_all(stores.statuses.clone()).await;
    contract::cursors::run_all(&*stores.cursors).await;
    contract::jobs::run_all(&*stores.jobs).await;
    contract::integrations::run_all(&*stores.integrations).await;
    contract::definitions::run_all(&*stores.definitions).await;
    contract::notifications::run_all(&*stores.notifications).await;
    contract::idempotency::run_all(stores.idempotency.clone()).await;
    contract::tokens::run_all(stores.tokens.clone()).await;
    contract::rate::run_all(stores.rate.clone()).await;
}
