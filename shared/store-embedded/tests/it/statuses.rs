use ledgerlink_ports::contract::statuses as suite;

use crate::helpers::spawn_store;

#[tokio::test]
async fn put_creates_then_updates_with_optimistic_versions() {
    let fresh = spawn_store();
    suite::put_creates_then_updates_with_optimistic_versions(&*fresh.store.statuses()).await;
}

#[tokio::test]
async fn put_appends_the_attempt_history_newest_first() {
    let fresh = spawn_store();
    suite::put_appends_the_attempt_history_newest_first(&*fresh.store.statuses()).await;
}

#[tokio::test]
async fn create_missing_creates_only_absent_objects() {
    let fresh = spawn_store();
    suite::create_missing_creates_only_absent_objects(&*fresh.store.statuses()).await;
}

#[tokio::test]
async fn list_is_newest_first_and_pages_cover_every_item_once() {
    let fresh = spawn_store();
    suite::list_is_newest_first_and_pages_cover_every_item_once(&*fresh.store.statuses()).await;
}

#[tokio::test]
async fn list_filters_by_status_category_type_key_prefix_and_source_version() {
    let fresh = spawn_store();
    suite::list_filters_by_status_category_type_key_prefix_and_source_version(
        &*fresh.store.statuses(),
    )
    .await;
}

#[tokio::test]
async fn an_update_moves_the_object_in_the_list_and_between_filters() {
    let fresh = spawn_store();
    suite::an_update_moves_the_object_in_the_list_and_between_filters(&*fresh.store.statuses())
        .await;
}

#[tokio::test]
async fn counts_are_per_status_for_one_tenant() {
    let fresh = spawn_store();
    suite::counts_are_per_status_for_one_tenant(&*fresh.store.statuses()).await;
}

#[tokio::test]
async fn a_foreign_cursor_is_invalid() {
    let fresh = spawn_store();
    suite::a_foreign_cursor_is_invalid(&*fresh.store.statuses()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_updates_of_one_version_succeed_exactly_once() {
    let fresh = spawn_store();
    suite::concurrent_updates_of_one_version_succeed_exactly_once(fresh.store.statuses()).await;
}
