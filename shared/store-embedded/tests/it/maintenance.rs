//! Housekeeping of the embedded file: expired records are purged, live ones kept.

use std::time::Duration;

use ledgerlink_ports::contract::at;
use ledgerlink_ports::{IdempotencyBegin, IdempotencyStore};
use serde_json::json;

use crate::helpers::spawn_store;

#[tokio::test]
async fn purge_expired_removes_only_expired_idempotency_records() {
    let fresh = spawn_store();
    let idempotency = fresh.store.idempotency();
    let lease = Duration::from_secs(60);
    idempotency
        .begin("expired-lease", "h", lease, at(0))
        .await
        .unwrap();
    idempotency
        .begin("expired-result", "h", lease, at(0))
        .await
        .unwrap();
    idempotency
        .complete("expired-result", 1, "h", &json!(1), at(100))
        .await
        .unwrap();
    idempotency
        .begin("live-result", "h", lease, at(0))
        .await
        .unwrap();
    idempotency
        .complete("live-result", 1, "h", &json!(2), at(10_000))
        .await
        .unwrap();
    idempotency
        .begin("live-lease", "h", Duration::from_secs(3600), at(0))
        .await
        .unwrap();

    let removed = fresh
        .store
        .purge_expired(at(500), Duration::from_secs(86_400))
        .await
        .unwrap();

    assert_eq!(
        removed, 2,
        "the expired lease and the expired result must be purged"
    );
    assert_eq!(
        idempotency
            .begin("live-result", "h", lease, at(501))
            .await
            .unwrap(),
        IdempotencyBegin::Completed { result: json!(2) }
    );
    assert!(matches!(
        idempotency
            .begin("live-lease", "h", lease, at(501))
            .await
            .unwrap(),
        IdempotencyBegin::InProgress { .. }
    ));
}
