//! The queue contract on real time (short visibility timeouts), plus the embedded queue on a manual clock.

use std::time::Duration;

use ledgerlink_clock::{ManualClock, SystemClock};
use ledgerlink_domain::{Flow, ObjectKey, ObjectType};
use ledgerlink_ports::contract::{fresh_tenant, queue as suite};
use ledgerlink_ports::{WorkAction, WorkMessage, WorkQueue};
use ledgerlink_store_embedded::{DEFAULT_MAX_RECEIVES, EmbeddedStore};

use crate::helpers::spawn_store;

const FLOW: Flow = Flow::InvoiceOut;

#[tokio::test]
async fn a_received_message_is_hidden_until_acknowledged() {
    let fresh = spawn_store();
    suite::a_received_message_is_hidden_until_acknowledged(
        &*fresh.store.queue(SystemClock::shared()),
        FLOW,
    )
    .await;
}

#[tokio::test]
async fn every_message_of_a_large_send_arrives_once() {
    let fresh = spawn_store();
    suite::every_message_of_a_large_send_arrives_once(
        &*fresh.store.queue(SystemClock::shared()),
        FLOW,
    )
    .await;
}

#[tokio::test]
async fn an_unacknowledged_message_is_redelivered_after_its_visibility() {
    let fresh = spawn_store();
    suite::an_unacknowledged_message_is_redelivered_after_its_visibility(
        &*fresh.store.queue(SystemClock::shared()),
        FLOW,
    )
    .await;
}

#[tokio::test]
async fn retry_later_makes_a_message_visible_again() {
    let fresh = spawn_store();
    suite::retry_later_makes_a_message_visible_again(
        &*fresh.store.queue(SystemClock::shared()),
        FLOW,
    )
    .await;
}

#[tokio::test]
async fn a_receipt_of_a_message_that_left_the_queue_is_not_found() {
    let fresh = spawn_store();
    suite::a_receipt_of_a_message_that_left_the_queue_is_not_found(
        &*fresh.store.queue(SystemClock::shared()),
        FLOW,
    )
    .await;
}

#[tokio::test]
async fn a_message_past_its_max_receives_goes_to_the_dead_letter_queue() {
    let fresh = spawn_store();
    let queue = fresh
        .store
        .queue_with_max_receives(SystemClock::shared(), 3);
    suite::a_message_past_its_max_receives_goes_to_the_dead_letter_queue(&*queue, FLOW, 3).await;
}

#[tokio::test]
async fn depth_counts_visible_messages() {
    let fresh = spawn_store();
    suite::depth_counts_visible_messages(&*fresh.store.queue(SystemClock::shared()), FLOW).await;
}

fn message(key: &str) -> WorkMessage {
    WorkMessage {
        tenant: fresh_tenant(),
        object_type: Some(ObjectType::Firm),
        key: ObjectKey::parse(key).ok(),
        action: WorkAction::Sync,
        trace_id: format!("trace-{key}"),
    }
}

#[tokio::test]
async fn on_a_manual_clock_a_message_reappears_only_when_time_passes_its_visibility() {
    let clock = ManualClock::fixed();
    let fresh = spawn_store();
    let queue = fresh.store.queue(clock.shared());
    queue.send(FLOW, &[message("A")]).await.unwrap();
    let first = queue
        .receive(FLOW, 10, Duration::from_secs(60))
        .await
        .unwrap();

    clock.advance(Duration::from_secs(59));
    let before = queue
        .receive(FLOW, 10, Duration::from_secs(60))
        .await
        .unwrap();
    clock.advance(Duration::from_secs(1));
    let after = queue
        .receive(FLOW, 10, Duration::from_secs(60))
        .await
        .unwrap();

    assert_eq!(first.len(), 1);
    assert!(
        before.is_empty(),
        "the message must stay hidden for its full visibility timeout"
    );
    assert_eq!(
        after.len(),
        1,
        "the message must reappear once its visibility passed"
    );
    assert_eq!(after[0].receive_count, 2);
    assert_ne!(
        after[0].receipt, first[0].receipt,
        "each delivery has its own receipt"
    );
}

#[tokio::test]
async fn the_default_max_receive_count_is_five_then_the_message_is_dead_lettered() {
    let clock = ManualClock::fixed();
    let fresh = spawn_store();
    let queue = fresh.store.queue(clock.shared());
    let poison = message("POISON");
    queue
        .send(FLOW, std::slice::from_ref(&poison))
        .await
        .unwrap();

    let mut deliveries = 0;
    for _ in 0..10 {
        deliveries += queue
            .receive(FLOW, 10, Duration::from_secs(30))
            .await
            .unwrap()
            .len();
        clock.advance(Duration::from_secs(31));
    }

    assert_eq!(DEFAULT_MAX_RECEIVES, 5);
    assert_eq!(
        deliveries, 5,
        "a message is delivered max-receive times, no more"
    );
    assert_eq!(queue.dead_letters(FLOW, 10).await.unwrap(), vec![poison]);
    assert_eq!(queue.depth(FLOW).await.unwrap(), 0);
}

#[tokio::test]
async fn queues_of_different_flows_are_separate() {
    let clock = ManualClock::fixed();
    let fresh = spawn_store();
    let queue = fresh.store.queue(clock.shared());
    queue
        .send(Flow::InvoiceOut, &[message("A"), message("B")])
        .await
        .unwrap();

    let other = queue
        .receive(Flow::PaymentIn, 10, Duration::from_secs(30))
        .await
        .unwrap();

    assert!(
        other.is_empty(),
        "another flow's queue must not hand out these messages"
    );
    assert_eq!(queue.depth(Flow::InvoiceOut).await.unwrap(), 2);
    assert_eq!(queue.depth(Flow::PaymentIn).await.unwrap(), 0);
}

#[tokio::test]
async fn queued_messages_survive_reopening_the_database() {
    let fresh = spawn_store();
    let clock = ManualClock::fixed();
    fresh
        .store
        .queue(clock.shared())
        .send(FLOW, &[message("DURABLE")])
        .await
        .unwrap();

    let reopened = EmbeddedStore::open(fresh.dir.path().join("state.db")).unwrap();
    let received = reopened
        .queue(clock.shared())
        .receive(FLOW, 10, Duration::from_secs(30))
        .await
        .unwrap();

    assert_eq!(
        received.len(),
        1,
        "a sent message must be on disk, not in memory"
    );
    assert_eq!(received[0].message.trace_id, "trace-DURABLE");
}

#[tokio::test]
async fn retry_later_with_an_unknown_receipt_is_not_found() {
    let fresh = spawn_store();
    let queue = fresh.store.queue(ManualClock::fixed().shared());

    let result = queue
        .retry_later(FLOW, "no-such-receipt", Duration::ZERO)
        .await;

    assert!(
        matches!(result, Err(ledgerlink_ports::StoreError::NotFound { .. })),
        "got {result:?}"
    );
}

#[tokio::test]
async fn redrive_returns_dead_letters_to_the_queue_with_a_fresh_receive_count() {
    let clock = ManualClock::fixed();
    let fresh = spawn_store();
    let queue = fresh.store.queue_with_max_receives(clock.shared(), 1);
    let poison = message("FIXED-LATER");
    queue
        .send(FLOW, std::slice::from_ref(&poison))
        .await
        .unwrap();
    queue
        .receive(FLOW, 10, Duration::from_secs(30))
        .await
        .unwrap();
    clock.advance(Duration::from_secs(31));
    assert!(
        queue
            .receive(FLOW, 10, Duration::from_secs(30))
            .await
            .unwrap()
            .is_empty()
    );

    let moved = queue.redrive(FLOW).await.unwrap();
    let received = queue
        .receive(FLOW, 10, Duration::from_secs(30))
        .await
        .unwrap();

    assert_eq!(moved, 1);
    assert!(
        queue.dead_letters(FLOW, 10).await.unwrap().is_empty(),
        "the dead-letter queue must be empty"
    );
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].message, poison);
    assert_eq!(
        received[0].receive_count, 1,
        "a redriven message starts counting again"
    );
}
