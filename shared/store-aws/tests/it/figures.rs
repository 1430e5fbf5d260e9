//! Request figures, counted by the SDK interceptor and printed (run with `--nocapture` to see them):
//! (a) DynamoDB requests per 1,000 status records through the batched path (`create_missing`);
//! (b) requests per synced object in the steady state (the attempt start, `begin_attempt`, then Success
//! written on the record it returned: what the flows do). The bench `dynamo` measures (b) on 1,000 objects.
//! The asserts hold the design's promises; the printout gives the numbers. (Part (a) takes 30-50 s on moto,
//! which deep-copies the table for every item of a transaction; DynamoDB itself does not.)

use chrono::{TimeZone, Utc};
use ledgerlink_domain::{ObjectKey, ObjectType, SyncStatus, TenantId};
use ledgerlink_ports::{ObjectRef, ObjectStatus, StatusStore};

use crate::helpers::spawn_state;

fn discovered(tenant: &TenantId, i: usize) -> ObjectStatus {
    let at = Utc
        .with_ymd_and_hms(2026, 6, 15, 10, 0, 0)
        .single()
        .unwrap();
    ObjectStatus {
        object: ObjectRef {
            tenant: tenant.clone(),
            object_type: ObjectType::Invoice,
            key: ObjectKey::parse(&format!("INV-{i:05}.202606.1")).unwrap(),
        },
        category: ObjectType::Invoice.category(),
        status: SyncStatus::NotIntegrated,
        version: 1,
        source_version: Some("202606".into()),
        source_hash: None,
        target_id: None,
        last_message: None,
        fix: None,
        attempts: 0,
        created_at: at,
        updated_at: at,
    }
}

fn writes(counts: &std::collections::BTreeMap<String, u64>) -> u64 {
    [
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "TransactWriteItems",
        "BatchWriteItem",
    ]
    .iter()
    .filter_map(|op| counts.get(*op))
    .sum()
}

/// `total / objects` with two decimals, in integer arithmetic.
fn per_object(total: u64, objects: u64) -> String {
    let hundredths = total * 100 / objects;
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

#[tokio::test]
async fn figures_requests_per_thousand_batched_status_records_and_per_synced_object() {
    let aws = spawn_state().await;
    let tenant = TenantId::parse(&ledgerlink_testkit::unique_name("fig")).unwrap();
    let found: Vec<ObjectStatus> = (0..1000).map(|i| discovered(&tenant, i)).collect();

    // (a) discovery of 1,000 new objects, then rediscovery of the same 1,000.
    let created = aws.state.create_missing(&found).await.unwrap();
    let new_counts = aws.counter.snapshot();
    aws.counter.reset();
    aws.state.create_missing(&found).await.unwrap();
    let again_counts = aws.counter.snapshot();

    // (b) steady state: each object is read, marked Pending, then Success. On a table of its own: moto copies
    // the whole table for every transaction, which would make this slow on the 1,000-item table above.
    let objects = 50_u64;
    let aws = spawn_state().await;
    aws.state
        .create_missing(&found[..objects as usize])
        .await
        .unwrap();
    aws.counter.reset();
    for status in found.iter().take(objects as usize) {
        let ledgerlink_ports::AttemptStart::Started { current, .. } = aws
            .state
            .begin_attempt(&status.object, false, Utc::now())
            .await
            .unwrap()
        else {
            panic!("a discovered object must start an attempt");
        };
        let mut done = current.clone();
        done.status = SyncStatus::Success;
        done.target_id = Some("guid".into());
        aws.state.put(&done, Some(current.version)).await.unwrap();
    }
    let steady = aws.counter.snapshot();

    let new_total: u64 = new_counts.values().sum();
    let again_total: u64 = again_counts.values().sum();
    let steady_total: u64 = steady.values().sum();
    println!("FIGURES (DynamoDB requests, counted by an SDK interceptor against moto)");
    println!("(a) create_missing of 1,000 new objects: {new_total} requests {new_counts:?}");
    println!("(a) create_missing of the same 1,000 again: {again_total} requests {again_counts:?}");
    println!(
        "(b) steady state per synced object (begin_attempt + Success): {} requests, {} writes {steady:?}",
        per_object(steady_total, objects),
        per_object(writes(&steady), objects),
    );
    assert_eq!(created, 1000);
    assert_eq!(
        new_total, 20,
        "10 BatchGetItem + 10 TransactWriteItems of 100"
    );
    assert_eq!(
        again_total, 10,
        "rediscovery only reads, 100 keys a request"
    );
    assert_eq!(
        steady_total,
        2 * objects,
        "the attempt start and the outcome, one request each, no read"
    );
    assert!(
        writes(&steady) <= 2 * objects,
        "at most 2 write requests per synced object"
    );
}
