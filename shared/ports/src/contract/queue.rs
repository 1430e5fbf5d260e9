//! Contract of [`WorkQueue`]: at-least-once delivery with a visibility timeout, redelivery of unacknowledged
//! messages, `retry_later`, and the dead-letter queue after the max-receive count.
//!
//! SQS cannot run on a virtual clock, so this suite uses real time with visibility timeouts of a few hundred
//! milliseconds. Every function needs `name` to be an EMPTY queue (a fresh store or fresh queues per test).
//! Receives poll for a few seconds before giving up, so a store that returns only some visible messages per
//! call (SQS short polling) still passes.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use ledgerlink_domain::{ObjectKey, ObjectType, TenantId};

use super::{fresh_tenant, ok, unique};
use crate::{QueueName, ReceivedMessage, WorkAction, WorkMessage, WorkQueue};

/// Long enough that a message never reappears during the steps of one case.
const HIDDEN: Duration = Duration::from_secs(30);
/// Short enough to wait out in a test.
const SHORT: Duration = Duration::from_millis(300);
/// How long a receive keeps polling for messages it expects.
const PATIENCE: Duration = Duration::from_secs(5);

fn message(tenant: &TenantId, key: &str, action: WorkAction) -> WorkMessage {
    WorkMessage {
        tenant: tenant.clone(),
        object_type: Some(ObjectType::Invoice),
        key: ObjectKey::parse(key).ok(),
        action,
        trace_id: unique("trace"),
    }
}

/// Receives until `want` messages arrived or [`PATIENCE`] ran out; returns what arrived.
pub async fn receive_at_least(
    queue: &dyn WorkQueue,
    name: QueueName,
    want: usize,
    visibility: Duration,
) -> Vec<ReceivedMessage> {
    let started = Instant::now();
    let mut received = Vec::new();
    while received.len() < want && started.elapsed() < PATIENCE {
        let batch = ok(
            queue.receive(name, 10, visibility).await,
            "WorkQueue::receive",
        );
        assert!(
            batch.len() <= 10,
            "receive must return at most 10 messages, got {}",
            batch.len()
        );
        if batch.is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        received.extend(batch);
    }
    received
}

/// A received message carries exactly what was sent, counts its first receive, and stays hidden while its
/// visibility lasts; an acknowledged message is gone for good.
pub async fn a_received_message_is_hidden_until_acknowledged(
    queue: &dyn WorkQueue,
    name: QueueName,
) {
    let tenant = fresh_tenant();
    let sent = message(&tenant, "INV-1.202606.1", WorkAction::ForceSync);
    ok(queue.send(name, std::slice::from_ref(&sent)).await, "send");

    let received = receive_at_least(queue, name, 1, HIDDEN).await;
    let while_hidden = ok(
        queue.receive(name, 10, HIDDEN).await,
        "receive while hidden",
    );

    assert_eq!(received.len(), 1, "the one sent message must be received");
    assert_eq!(
        received[0].message, sent,
        "the received message must equal the sent one"
    );
    assert_eq!(received[0].receive_count, 1, "the first receive counts 1");
    assert!(
        while_hidden.is_empty(),
        "a received message must stay hidden during its visibility timeout"
    );
    ok(queue.ack(name, &received[0].receipt).await, "ack");
    assert_eq!(
        ok(queue.depth(name).await, "depth"),
        0,
        "an acknowledged message leaves the queue"
    );
}

/// More than one batch (25 messages, sent in batches of at most 10) all arrive, each once.
pub async fn every_message_of_a_large_send_arrives_once(queue: &dyn WorkQueue, name: QueueName) {
    let tenant = fresh_tenant();
    let sent: Vec<WorkMessage> = (0..25)
        .map(|i| message(&tenant, &format!("INV-{i}"), WorkAction::Sync))
        .collect();
    ok(queue.send(name, &sent).await, "send(25)");

    let received = receive_at_least(queue, name, 25, HIDDEN).await;
    for m in &received {
        ok(queue.ack(name, &m.receipt).await, "ack");
    }

    let traces: BTreeSet<&str> = received
        .iter()
        .map(|m| m.message.trace_id.as_str())
        .collect();
    let expected: BTreeSet<&str> = sent.iter().map(|m| m.trace_id.as_str()).collect();
    assert_eq!(received.len(), 25, "all 25 messages must arrive, each once");
    assert_eq!(traces, expected, "exactly the sent messages must arrive");
}

/// A message that is not acknowledged reappears after its visibility timeout, with its receive count raised.
pub async fn an_unacknowledged_message_is_redelivered_after_its_visibility(
    queue: &dyn WorkQueue,
    name: QueueName,
) {
    let tenant = fresh_tenant();
    let sent = message(&tenant, "INV-R", WorkAction::Sync);
    ok(queue.send(name, std::slice::from_ref(&sent)).await, "send");

    let first = receive_at_least(queue, name, 1, SHORT).await;
    let again = receive_at_least(queue, name, 1, HIDDEN).await;

    assert_eq!(first.len(), 1, "the message must be received");
    assert_eq!(
        again.len(),
        1,
        "an unacknowledged message must come back after its visibility timeout"
    );
    assert_eq!(again[0].message, sent);
    assert_eq!(again[0].receive_count, 2, "the second delivery counts 2");
    ok(queue.ack(name, &again[0].receipt).await, "ack");
}

/// `retry_later` returns an in-flight message to the queue after the delay (0 = at once).
pub async fn retry_later_makes_a_message_visible_again(queue: &dyn WorkQueue, name: QueueName) {
    let tenant = fresh_tenant();
    ok(
        queue
            .send(name, &[message(&tenant, "INV-L", WorkAction::Sync)])
            .await,
        "send",
    );
    let first = receive_at_least(queue, name, 1, HIDDEN).await;
    assert_eq!(first.len(), 1, "the message must be received");

    ok(
        queue
            .retry_later(name, &first[0].receipt, Duration::ZERO)
            .await,
        "retry_later(0)",
    );
    let second = receive_at_least(queue, name, 1, HIDDEN).await;
    assert_eq!(
        second.len(),
        1,
        "after retry_later(0) the message must be receivable again at once"
    );
    ok(
        queue.retry_later(name, &second[0].receipt, HIDDEN).await,
        "retry_later(30 s)",
    );
    let hidden = ok(
        queue.receive(name, 10, HIDDEN).await,
        "receive during the delay",
    );

    assert_eq!(second[0].receive_count, 2);
    assert!(
        hidden.is_empty(),
        "during the retry delay the message must stay hidden"
    );
    ok(
        queue.ack(name, &second[0].receipt).await,
        "ack after retry_later",
    );
}

/// A receipt of a message that has left the queue — another worker received it again after its visibility
/// ran out and acknowledged it, or it moved to the dead-letter queue — is [`crate::StoreError::NotFound`] on
/// `retry_later` (never a hard failure: the stale holder's work is simply over), and `ack` with it changes
/// nothing (`Ok` or `NotFound`).
pub async fn a_receipt_of_a_message_that_left_the_queue_is_not_found(
    queue: &dyn WorkQueue,
    name: QueueName,
) {
    let tenant = fresh_tenant();
    let sent = message(&tenant, "INV-STALE", WorkAction::Sync);
    ok(queue.send(name, std::slice::from_ref(&sent)).await, "send");
    let first = receive_at_least(queue, name, 1, SHORT).await;
    assert_eq!(first.len(), 1, "the message must be received");
    let again = receive_at_least(queue, name, 1, HIDDEN).await;
    assert_eq!(again.len(), 1, "the message must come back after SHORT");
    ok(
        queue.ack(name, &again[0].receipt).await,
        "ack by the second holder",
    );
    let other = message(&tenant, "INV-OTHER", WorkAction::Sync);
    ok(
        queue.send(name, std::slice::from_ref(&other)).await,
        "send another",
    );

    let retried = queue
        .retry_later(name, &first[0].receipt, Duration::ZERO)
        .await;
    let acked = queue.ack(name, &first[0].receipt).await;

    assert!(
        matches!(retried, Err(crate::StoreError::NotFound { .. })),
        "retry_later with the receipt of a message that left the queue must be NotFound, got {retried:?}"
    );
    assert!(
        matches!(acked, Ok(()) | Err(crate::StoreError::NotFound { .. })),
        "ack with the receipt of a message that left the queue must be Ok or NotFound, got {acked:?}"
    );
    let left = receive_at_least(queue, name, 1, HIDDEN).await;
    assert_eq!(
        left.iter().map(|m| &m.message).collect::<Vec<_>>(),
        vec![&other],
        "a stale receipt must neither bring the acknowledged message back nor touch another one"
    );
    ok(queue.ack(name, &left[0].receipt).await, "ack");
}

/// A message received `max_receives` times without being acknowledged moves to the dead-letter queue on the
/// next receive, and is not handed out again.
pub async fn a_message_past_its_max_receives_goes_to_the_dead_letter_queue(
    queue: &dyn WorkQueue,
    name: QueueName,
    max_receives: u32,
) {
    let tenant = fresh_tenant();
    let poison = message(&tenant, "INV-POISON", WorkAction::Sync);
    ok(
        queue.send(name, std::slice::from_ref(&poison)).await,
        "send",
    );

    for n in 1..=max_receives {
        let got = receive_at_least(queue, name, 1, SHORT).await;
        assert_eq!(got.len(), 1, "delivery {n} of {max_receives} must happen");
        assert_eq!(got[0].receive_count, n);
    }
    tokio::time::sleep(SHORT + Duration::from_millis(200)).await;
    // SQS moves the message when a receive finds it past its max receives, so keep receiving until it moved.
    let started = Instant::now();
    let mut dead = Vec::new();
    while dead.is_empty() && started.elapsed() < PATIENCE {
        let after = ok(
            queue.receive(name, 10, SHORT).await,
            "receive past max receives",
        );
        assert!(
            after.is_empty(),
            "a message past its max receives must not be delivered again, got {after:?}"
        );
        dead = ok(queue.dead_letters(name, 10).await, "dead_letters");
        if dead.is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    assert_eq!(
        dead,
        vec![poison],
        "the message must be in the dead-letter queue"
    );
}

/// `depth` counts the visible messages.
pub async fn depth_counts_visible_messages(queue: &dyn WorkQueue, name: QueueName) {
    let tenant = fresh_tenant();
    let sent: Vec<WorkMessage> = (0..4)
        .map(|i| message(&tenant, &format!("D-{i}"), WorkAction::Discover))
        .collect();
    ok(queue.send(name, &sent).await, "send");

    let before = ok(queue.depth(name).await, "depth");
    let received = receive_at_least(queue, name, 1, HIDDEN).await;
    let after = ok(queue.depth(name).await, "depth");

    assert_eq!(before, 4, "four sent messages are visible");
    assert_eq!(
        after,
        4 - received.len() as u64,
        "received (in-flight) messages are not counted"
    );
}

/// Every case of this suite, in sequence, on the one empty queue `name` (each case leaves it empty, except
/// the dead-letter case, which runs last).
pub async fn run_all(queue: &dyn WorkQueue, name: QueueName, max_receives: u32) {
    a_received_message_is_hidden_until_acknowledged(queue, name).await;
    every_message_of_a_large_send_arrives_once(queue, name).await;
    an_unacknowledged_message_is_redelivered_after_its_visibility(queue, name).await;
    retry_later_makes_a_message_visible_again(queue, name).await;
    a_receipt_of_a_message_that_left_the_queue_is_not_found(queue, name).await;
    a_message_past_its_max_receives_goes_to_the_dead_letter_queue(queue, name, max_receives).await;
}
