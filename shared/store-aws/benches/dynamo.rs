//! DynamoDB requests per synced object in the steady state, counted by the SDK interceptor
//! ([`RequestCounter`]) against moto: 1,000 invoices are discovered (`create_missing`, not counted), then
//! each is synced as the flows do it: the attempt start (`begin_attempt`, the flows' gate), then the outcome
//! written on the record the start returned (what `FlowContext::update_status` does with its memo).
//!
//! Run: `cargo bench -p ledgerlink-store-aws --bench dynamo` (`BENCH_OBJECTS=n` to change the count). Needs
//! moto (`LEDGERLINK_MOTO_SERVER` or `.venv/bin/moto_server`). The last line reads
//! `dynamo: requests_per_synced_object=X writes_per_synced_object=Y`.
#![allow(clippy::unwrap_used, clippy::float_arithmetic)]

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use futures::StreamExt;
use ledgerlink_domain::{ObjectKey, ObjectType, SyncStatus, TenantId};
use ledgerlink_ports::{AttemptStart, ObjectRef, ObjectStatus, StatusStore};
use ledgerlink_store_aws::metrics::RequestCounter;
use ledgerlink_store_aws::{AwsClients, AwsSettings, DynamoState, StaticCredentials};
use ledgerlink_testkit::{
    MotoServer, TEST_ACCESS_KEY_ID, TEST_REGION, TEST_SECRET_ACCESS_KEY, unique_name,
};

const WRITES: [&str; 5] = [
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "TransactWriteItems",
    "BatchWriteItem",
];

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
        source_version: Some("2026-06-01T00:00:00Z/2026-06-02T00:00:00Z".into()),
        source_hash: None,
        target_id: None,
        last_message: None,
        fix: None,
        attempts: 0,
        created_at: at,
        updated_at: at,
    }
}

/// The status writes of one synced object: the attempt start, then Success on the returned record.
async fn sync(state: &DynamoState, object: &ObjectRef) {
    let AttemptStart::Started { current, .. } = state
        .begin_attempt(object, false, Utc::now())
        .await
        .unwrap()
    else {
        panic!("a discovered invoice must start an attempt");
    };
    let mut done = current.clone();
    done.status = SyncStatus::Success;
    done.target_id = Some(uuid::Uuid::new_v4().to_string());
    done.last_message = None;
    done.updated_at = Utc::now();
    state.put(&done, Some(current.version)).await.unwrap();
}

/// `total / objects` with two decimals, in integer arithmetic.
fn per_object(total: u64, objects: u64) -> String {
    let hundredths = total * 100 / objects.max(1);
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

fn main() {
    let objects: usize = std::env::var("BENCH_OBJECTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = MotoServer::start().unwrap();
    let settings = AwsSettings::local(
        &server.endpoint_url(),
        TEST_REGION,
        StaticCredentials {
            access_key_id: TEST_ACCESS_KEY_ID.into(),
            secret_access_key: TEST_SECRET_ACCESS_KEY.into(),
        },
    );
    let (steady, seconds) = runtime.block_on(async {
        let counter = RequestCounter::new();
        let clients = AwsClients::build_with(&settings, Some(counter.interceptor())).await;
        let table = unique_name("bench-dynamo");
        ledgerlink_store_aws::resources::create_table(&clients.dynamodb, &table)
            .await
            .unwrap();
        let state = DynamoState::new(clients.dynamodb.clone(), table);
        let tenant = TenantId::parse(&unique_name("bench")).unwrap();
        let found: Vec<ObjectStatus> = (0..objects).map(|i| discovered(&tenant, i)).collect();
        counter.reset();
        let created = state.create_missing(&found).await.unwrap();
        assert_eq!(created, objects);
        println!(
            "discovery of {objects} invoices (create_missing, not counted below): {:?}",
            counter.snapshot()
        );

        counter.reset();
        let started = Instant::now();
        futures::stream::iter(found.iter())
            .for_each_concurrent(8, |status| sync(&state, &status.object))
            .await;
        let seconds = started.elapsed().as_secs_f64();
        (counter.snapshot(), seconds)
    });
    let total: u64 = steady.values().sum();
    let writes: u64 = WRITES.iter().filter_map(|op| steady.get(*op)).sum();
    let objects = objects as u64;
    println!(
        "steady state: {objects} invoices synced in {seconds:.1} s, {total} requests {:?}",
        steady.iter().collect::<BTreeMap<_, _>>()
    );
    println!(
        "dynamo: requests_per_synced_object={} writes_per_synced_object={}",
        per_object(total, objects),
        per_object(writes, objects)
    );
}
