//! The Lambda edge on real flows: an SQS batch answers exactly the ids of the messages to retry.

use ledgerlink_domain::{Flow, ObjectType, SyncStatus};
use ledgerlink_emulators::FaultRule;
use ledgerlink_flows::discover;
use ledgerlink_flows::lambda::handle;
use ledgerlink_ports::WorkAction;
use rust_decimal_macros::dec;

use crate::helpers::{World, invoice_key, object};

#[tokio::test]
async fn an_sqs_batch_reports_exactly_the_messages_that_must_be_retried() {
    // Arrange: two tenants with a discovered invoice each; the first tenant's Exact division is down.
    let world = World::spawn().await;
    let down = world.tenant("down").await;
    let up = world.tenant("up").await;
    let first = world.post_invoice("940001", &[dec!(10.00)]);
    world.tick();
    discover(&world.ctx, Flow::InvoiceOut, &down.id)
        .await
        .unwrap();
    discover(&world.ctx, Flow::InvoiceOut, &up.id)
        .await
        .unwrap();
    let key = invoice_key("940001", &first);
    world.exact.faults().set_rules(vec![FaultRule {
        path_prefix: format!("/api/v1/{}/", down.division),
        error_5xx_per_mille: 1000,
        ..FaultRule::default()
    }]);
    let body = |tenant: &ledgerlink_domain::TenantId| {
        let o = object(tenant, ObjectType::Invoice, &key);
        serde_json::to_string(
            &world
                .ctx
                .message(tenant, o.object_type, &o.key, WorkAction::Sync),
        )
        .unwrap()
    };
    let event = serde_json::json!({"Records": [
        {"messageId": "down-1", "receiptHandle": "r1", "body": body(&down.id), "eventSource": "aws:sqs"},
        {"messageId": "up-2", "receiptHandle": "r2", "body": body(&up.id), "eventSource": "aws:sqs"}
    ]});

    // Act
    let response = handle(&world.ctx, Flow::InvoiceOut, event).await.unwrap();

    // Assert
    assert_eq!(
        response,
        serde_json::json!({"batchItemFailures": [{"itemIdentifier": "down-1"}]})
    );
    let failed = world
        .status(&down.id, ObjectType::Invoice, &key)
        .await
        .unwrap();
    // A 503 to the POST may have come after Exact committed it: the outcome is unknown, and the retry looks
    // the document up before posting (issue 10).
    assert_eq!(failed.status, SyncStatus::OutcomeUnknown);
    assert!(
        failed
            .last_message
            .as_deref()
            .unwrap_or("")
            .starts_with("Will check before retrying"),
        "{:?}",
        failed.last_message
    );
    assert_eq!(
        world
            .status(&up.id, ObjectType::Invoice, &key)
            .await
            .unwrap()
            .status,
        SyncStatus::Success
    );
    assert_eq!(world.sales_entries(up.division, &key), 1);
}
