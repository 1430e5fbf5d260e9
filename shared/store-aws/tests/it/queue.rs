//! What the SQS adapter shows beyond the contract: batching, the JSON envelope on the wire, configuration
//! errors, undecodable messages, and dead letters read without being consumed.

use std::time::Duration;

use ledgerlink_domain::{Flow, ObjectKey, ObjectType, TenantId};
use ledgerlink_ports::{StoreError, WorkAction, WorkMessage, WorkQueue};

use crate::helpers::spawn_aws;

fn message(i: usize) -> WorkMessage {
    WorkMessage {
        tenant: TenantId::parse("acme").unwrap(),
        object_type: Some(ObjectType::Invoice),
        key: ObjectKey::parse(&format!("INV-{i}")).ok(),
        action: WorkAction::ForceSync,
        trace_id: format!("trace-{i}"),
    }
}

#[tokio::test]
async fn twenty_five_messages_go_out_in_three_batches() {
    let aws = spawn_aws(&[Flow::InvoiceOut], 3).await;
    let messages: Vec<WorkMessage> = (0..25).map(message).collect();

    aws.queue.send(Flow::InvoiceOut, &messages).await.unwrap();

    assert_eq!(
        aws.counter.snapshot(),
        [("SendMessageBatch".to_owned(), 3)].into()
    );
    assert_eq!(aws.queue.depth(Flow::InvoiceOut).await.unwrap(), 25);
}

#[tokio::test]
async fn the_envelope_on_the_wire_is_json() {
    let aws = spawn_aws(&[Flow::InvoiceOut], 3).await;
    aws.queue
        .send(Flow::InvoiceOut, &[message(1)])
        .await
        .unwrap();

    let raw = aws
        .clients
        .sqs
        .receive_message()
        .queue_url(&aws.queues[&Flow::InvoiceOut].url)
        .send()
        .await
        .unwrap();
    let body: serde_json::Value =
        serde_json::from_str(raw.messages.unwrap()[0].body.as_deref().unwrap()).unwrap();

    assert_eq!(
        body,
        serde_json::json!({
            "tenant": "acme", "object_type": "invoice", "key": "INV-1", "action": "force-sync", "trace_id": "trace-1"
        })
    );
}

#[tokio::test]
async fn a_flow_without_a_configured_queue_is_a_permanent_error_naming_the_variable() {
    let aws = spawn_aws(&[Flow::InvoiceOut], 3).await;

    let result = aws.queue.send(Flow::PaymentIn, &[message(1)]).await;

    match result {
        Err(e @ StoreError::Permanent { .. }) => {
            assert!(e.to_string().contains("QUEUE_URL_PAYMENT_IN"), "{e}")
        }
        other => panic!("expected a permanent error, got {other:?}"),
    }
}

#[tokio::test]
async fn an_undecodable_message_is_not_handed_out_and_ends_in_the_dead_letter_queue() {
    let aws = spawn_aws(&[Flow::VoucherOut], 1).await;
    let url = aws.queues[&Flow::VoucherOut].url.clone();
    aws.clients
        .sqs
        .send_message()
        .queue_url(&url)
        .message_body("not json")
        .send()
        .await
        .unwrap();
    aws.queue
        .send(Flow::VoucherOut, &[message(2)])
        .await
        .unwrap();

    let mut received = Vec::new();
    for _ in 0..20 {
        received.extend(
            aws.queue
                .receive(Flow::VoucherOut, 10, Duration::from_secs(1))
                .await
                .unwrap(),
        );
        if !received.is_empty() {
            break;
        }
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let after = aws
        .queue
        .receive(Flow::VoucherOut, 10, Duration::from_secs(1))
        .await
        .unwrap();
    let dlq = aws.queues[&Flow::VoucherOut].dlq_url.clone().unwrap();
    let dead = aws
        .clients
        .sqs
        .receive_message()
        .queue_url(dlq)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();

    assert_eq!(
        received
            .iter()
            .map(|m| m.message.clone())
            .collect::<Vec<_>>(),
        vec![message(2)]
    );
    assert!(after.iter().all(|m| m.message == message(2)), "{after:?}");
    let bodies: Vec<String> = dead
        .messages
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.body)
        .collect();
    assert!(bodies.contains(&"not json".to_owned()), "{bodies:?}");
}

#[tokio::test]
async fn reading_dead_letters_does_not_consume_them() {
    let aws = spawn_aws(&[Flow::FirmSync], 1).await;
    let mut settings_without_dlq = aws.queues.clone();
    if let Some(q) = settings_without_dlq.get_mut(&Flow::FirmSync) {
        q.dlq_url = None;
    }
    // The dead-letter queue is found from the redrive policy when it is not configured.
    let queue = ledgerlink_store_aws::SqsWorkQueue::new(
        aws.clients.sqs.clone(),
        settings_without_dlq,
        Duration::ZERO,
    );
    queue.send(Flow::FirmSync, &[message(3)]).await.unwrap();
    let mut first = Vec::new();
    for _ in 0..20 {
        first = queue
            .receive(Flow::FirmSync, 1, Duration::from_secs(1))
            .await
            .unwrap();
        if !first.is_empty() {
            break;
        }
    }
    assert_eq!(first.len(), 1);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(
        queue
            .receive(Flow::FirmSync, 10, Duration::from_secs(1))
            .await
            .unwrap()
            .is_empty()
    );

    let once = queue.dead_letters(Flow::FirmSync, 10).await.unwrap();
    let twice = queue.dead_letters(Flow::FirmSync, 10).await.unwrap();

    assert_eq!(once, vec![message(3)]);
    assert_eq!(
        twice,
        vec![message(3)],
        "dead letters must still be there after being read"
    );
}

#[tokio::test]
async fn a_refused_batch_is_reported_with_the_messages_that_were_not_sent() {
    let aws = spawn_aws(&[Flow::InvoiceOut], 3).await;
    // Batch 1 (#0..#9) is small; batch 2 (#10..#19) is over the 1 MiB a request may carry and is refused whole.
    let messages: Vec<WorkMessage> = (0..25)
        .map(|i| {
            let mut m = message(i);
            if (10..20).contains(&i) {
                m.trace_id = "x".repeat(120 * 1024);
            }
            m
        })
        .collect();

    let result = aws.queue.send(Flow::InvoiceOut, &messages).await;

    let err = result.expect_err("a refused batch must not be reported as sent");
    assert!(
        err.to_string().contains("15 of 25 messages") && err.to_string().contains("from #10"),
        "{err}"
    );
    assert_eq!(
        aws.queue.depth(Flow::InvoiceOut).await.unwrap(),
        10,
        "only the first batch went out"
    );
}
