//! Prints throughput figures of the embedded store on a temporary file (run with `cargo bench -p
//! ledgerlink-store-embedded`): status writes with their history row, discovery batches, filtered list
//! pages over 10,000 objects, token lease cycles, rate acquires and queue round trips.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use ledgerlink_clock::ManualClock;
use ledgerlink_domain::{ObjectKey, ObjectType, SyncStatus, TenantId};
use ledgerlink_ports::{
    ObjectRef, ObjectStatus, PageRequest, RateBudget, RateLimits, StatusFilter, StatusStore,
    TokenStore, WorkAction, WorkMessage, WorkQueue,
};
use ledgerlink_store_embedded::EmbeddedStore;

fn report(what: &str, count: usize, elapsed: Duration) {
    let micros = elapsed.as_micros().max(1);
    let per_second = count as u128 * 1_000_000 / micros;
    println!(
        "{what:<56} {count:>6} in {:>6} ms  = {per_second:>8}/s",
        elapsed.as_millis()
    );
}

fn status(
    tenant: &TenantId,
    i: usize,
    status: SyncStatus,
    at: chrono::DateTime<chrono::Utc>,
) -> ObjectStatus {
    let object_type = if i.is_multiple_of(3) {
        ObjectType::Firm
    } else {
        ObjectType::Invoice
    };
    ObjectStatus {
        object: ObjectRef {
            tenant: tenant.clone(),
            object_type,
            key: ObjectKey::parse(&format!("K-{i:06}")).unwrap(),
        },
        category: object_type.category(),
        status,
        version: 1,
        source_version: Some(format!("P{}", i % 12)),
        source_hash: None,
        target_id: None,
        last_message: None,
        fix: None,
        attempts: 1,
        created_at: at,
        updated_at: at + chrono::Duration::milliseconds(i as i64),
    }
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path().join("bench.db")).unwrap();
    let clock = ManualClock::fixed();
    let now = chrono::DateTime::parse_from_rfc3339("2026-06-15T10:00:00Z")
        .unwrap()
        .to_utc();
    let tenant = TenantId::parse("bench").unwrap();
    let statuses = store.statuses();

    let started = Instant::now();
    for i in 0..2_000 {
        statuses
            .put(&status(&tenant, i, SyncStatus::Pending, now), None)
            .await
            .unwrap();
    }
    report(
        "status put (create + history row)",
        2_000,
        started.elapsed(),
    );

    let batch: Vec<ObjectStatus> = (2_000..10_000)
        .map(|i| status(&tenant, i, SyncStatus::NotIntegrated, now))
        .collect();
    let started = Instant::now();
    statuses.create_missing(&batch).await.unwrap();
    report(
        "status create_missing (discovery)",
        batch.len(),
        started.elapsed(),
    );

    for (name, filter) in [
        ("list page of 50, no filter", StatusFilter::default()),
        (
            "list page of 50, status filter",
            StatusFilter {
                status: Some(SyncStatus::Pending),
                ..Default::default()
            },
        ),
        (
            "list page of 50, type + key prefix",
            StatusFilter {
                object_type: Some(ObjectType::Invoice),
                key_prefix: Some("K-00".into()),
                ..Default::default()
            },
        ),
    ] {
        let started = Instant::now();
        let mut request = PageRequest::first(50);
        let mut pages = 0;
        while pages < 40 {
            let page = statuses
                .list(&tenant, &filter, request.clone())
                .await
                .unwrap();
            pages += 1;
            match page.next_cursor {
                Some(cursor) => {
                    request = PageRequest {
                        limit: 50,
                        cursor: Some(cursor),
                    }
                }
                None => break,
            }
        }
        report(
            &format!("status {name} (10k objects)"),
            pages,
            started.elapsed(),
        );
    }

    let tokens = store.tokens();
    let started = Instant::now();
    for _ in 0..1_000 {
        tokens
            .try_lease("exact:bench", "worker", Duration::from_secs(30), now)
            .await
            .unwrap();
        tokens.release("exact:bench", "worker").await.unwrap();
    }
    report("token lease + release cycles", 1_000, started.elapsed());

    let rate = store.rate();
    let started = Instant::now();
    for i in 0..2_000 {
        let at = now + chrono::Duration::seconds(i / 50);
        rate.acquire(
            "client-1",
            RateLimits {
                per_minute: 60,
                per_day: 5_000,
            },
            at,
        )
        .await
        .unwrap();
    }
    report("rate acquire", 2_000, started.elapsed());

    let queue = store.queue(clock.shared());
    let messages: Vec<WorkMessage> = (0..1_000)
        .map(|i| WorkMessage {
            tenant: tenant.clone(),
            object_type: Some(ObjectType::Invoice),
            key: ObjectKey::parse(&format!("K-{i}")).ok(),
            action: WorkAction::Sync,
            trace_id: format!("t-{i}"),
        })
        .collect();
    let started = Instant::now();
    queue
        .send(ledgerlink_domain::Flow::InvoiceOut, &messages)
        .await
        .unwrap();
    let mut handled = 0;
    loop {
        let received = queue
            .receive(
                ledgerlink_domain::Flow::InvoiceOut,
                10,
                Duration::from_secs(30),
            )
            .await
            .unwrap();
        if received.is_empty() {
            break;
        }
        for m in received {
            queue
                .ack(ledgerlink_domain::Flow::InvoiceOut, &m.receipt)
                .await
                .unwrap();
            handled += 1;
        }
    }
    report(
        "queue send + receive + ack (messages)",
        handled,
        started.elapsed(),
    );
}
