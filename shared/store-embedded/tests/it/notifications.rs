use ledgerlink_ports::contract::notifications as suite;

use crate::helpers::spawn_store;

#[tokio::test]
async fn pushing_an_id_twice_keeps_the_first() {
    let fresh = spawn_store();
    suite::pushing_an_id_twice_keeps_the_first(&*fresh.store.notifications()).await;
}

#[tokio::test]
async fn notifications_list_newest_first() {
    let fresh = spawn_store();
    suite::notifications_list_newest_first(&*fresh.store.notifications()).await;
}

#[tokio::test]
async fn mark_delivered_records_the_delivery() {
    let fresh = spawn_store();
    suite::mark_delivered_records_the_delivery(&*fresh.store.notifications()).await;
}
