use ledgerlink_ports::contract::links as suite;

use crate::helpers::spawn_store;

#[tokio::test]
async fn a_link_is_readable_both_ways() {
    let fresh = spawn_store();
    suite::a_link_is_readable_both_ways(&*fresh.store.links()).await;
}

#[tokio::test]
async fn relinking_is_idempotent_and_a_different_id_conflicts() {
    let fresh = spawn_store();
    suite::relinking_is_idempotent_and_a_different_id_conflicts(&*fresh.store.links()).await;
}

#[tokio::test]
async fn unlink_removes_both_directions() {
    let fresh = spawn_store();
    suite::unlink_removes_both_directions(&*fresh.store.links()).await;
}

#[tokio::test]
async fn links_are_scoped_by_tenant_and_object_type() {
    let fresh = spawn_store();
    suite::links_are_scoped_by_tenant_and_object_type(&*fresh.store.links()).await;
}

#[tokio::test]
async fn the_sync_state_travels_with_the_link() {
    let fresh = spawn_store();
    suite::the_sync_state_travels_with_the_link(&*fresh.store.links()).await;
}

#[tokio::test]
async fn relink_moves_a_key_to_another_id_and_refuses_a_taken_one() {
    let fresh = spawn_store();
    suite::relink_moves_a_key_to_another_id_and_refuses_a_taken_one(&*fresh.store.links()).await;
}
