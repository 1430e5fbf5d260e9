//! The Lambda edge on real flows: an SQS batch answers exactly the ids of the messages to retry.

use ledgerlink_domain::{Flow, ObjectType, SyncStatus};
use ledgerlink_emulators::FaultRule;
use ledgerlink_flows::discover;
use ledgerlink_flows::lambda::{handle, handle_measured};
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

/// Every invocation's counts come out as embedded-metric-format lines: a synced object per flow and type,
/// a message to retry per flow; a discovery's counts per flow.
#[tokio::test]
async fn an_invocation_reports_what_it_did_as_embedded_metrics() {
    // Arrange: one invoice each for two tenants; the first tenant's Exact division is down.
    let world = World::spawn().await;
    let down = world.tenant("down").await;
    let up = world.tenant("up").await;
    let posting = world.post_invoice("940002", &[dec!(12.00)]);
    world.tick();
    let schedule = serde_json::json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {"tenant": up.id.as_str()}});
    let (discovered, discovery_lines) =
        handle_measured(&world.ctx, Flow::InvoiceOut, schedule).await;
    discovered.unwrap();
    discover(&world.ctx, Flow::InvoiceOut, &down.id)
        .await
        .unwrap();
    let key = invoice_key("940002", &posting);
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
        {"messageId": "up-2", "receiptHandle": "r2", "body": body(&up.id), "eventSource": "aws:sqs"},
        {"messageId": "junk-3", "receiptHandle": "r3", "body": "not a work message", "eventSource": "aws:sqs"}
    ]});

    // Act
    let (response, batch_lines) = handle_measured(&world.ctx, Flow::InvoiceOut, event).await;

    // Assert
    response.unwrap();
    let values = |lines: &[String]| {
        let mut found = std::collections::BTreeMap::new();
        for line in lines {
            let doc: serde_json::Value = serde_json::from_str(line).unwrap();
            let directive = &doc["_aws"]["CloudWatchMetrics"][0];
            assert_eq!(directive["Namespace"], "Ledgerlink");
            for metric in directive["Metrics"].as_array().unwrap() {
                let name = metric["Name"].as_str().unwrap();
                found.insert(
                    format!(
                        "{}/{}/{name}",
                        doc["Flow"].as_str().unwrap(),
                        doc["ObjectType"].as_str().unwrap_or("-")
                    ),
                    doc[name].as_u64().unwrap(),
                );
            }
        }
        found
    };
    let expected_discovery = [
        ("invoice-out/-/ObjectsDiscovered".to_owned(), 1),
        ("invoice-out/-/WorkEnqueued".to_owned(), 1),
    ];
    assert_eq!(values(&discovery_lines), expected_discovery.into());
    let expected_batch = [
        ("invoice-out/-/MessagesDropped".to_owned(), 1),
        ("invoice-out/-/MessagesRetried".to_owned(), 1),
        ("invoice-out/invoice/ObjectsSynced".to_owned(), 1),
    ];
    assert_eq!(values(&batch_lines), expected_batch.into());
}
