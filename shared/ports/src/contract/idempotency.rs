//! Contract of [`IdempotencyStore`]: the Lambda Powertools idempotency protocol (claim with a lease, store the
//! result with a TTL, reuse expired records, refuse a key reused with another payload, release on failure).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::{at, race, unique};
use crate::{IdempotencyBegin, IdempotencyClaim, IdempotencyStore, StoreError};

const LEASE: Duration = Duration::from_secs(60);

async fn begin(
    store: &dyn IdempotencyStore,
    key: &str,
    hash: &str,
    lease: Duration,
    secs: i64,
) -> IdempotencyBegin {
    match store.begin(key, hash, lease, at(secs)).await {
        Ok(outcome) => outcome,
        Err(e) => panic!("begin({key:?}) failed: {e}"),
    }
}

fn started(fence: u64) -> IdempotencyBegin {
    IdempotencyBegin::Started(IdempotencyClaim {
        fence,
        earlier_claims: fence - 1,
    })
}

async fn complete(
    store: &dyn IdempotencyStore,
    key: &str,
    hash: &str,
    result: &serde_json::Value,
    expires: i64,
) {
    complete_as(store, key, 1, hash, result, expires).await;
}

async fn complete_as(
    store: &dyn IdempotencyStore,
    key: &str,
    fence: u64,
    hash: &str,
    result: &serde_json::Value,
    expires: i64,
) {
    if let Err(e) = store.complete(key, fence, hash, result, at(expires)).await {
        panic!("complete({key:?}, fence {fence}) failed: {e}");
    }
}

/// The first `begin` of a key starts the work; a second one while the lease lives reports it in progress
/// with the holder's lease end.
pub async fn first_begin_starts_and_a_live_lease_reports_in_progress(store: &dyn IdempotencyStore) {
    let key = unique("idem");

    let first = begin(store, &key, "h1", LEASE, 0).await;
    let second = begin(store, &key, "h1", LEASE, 10).await;

    assert_eq!(
        first,
        started(1),
        "the first begin of a new key must start the work as claim 1 with no earlier claim"
    );
    assert_eq!(
        second,
        IdempotencyBegin::InProgress {
            lease_until: at(60)
        },
        "a begin during a live lease must report InProgress with the lease end"
    );
}

/// After `complete`, `begin` with the same payload returns the stored result instead of starting again.
pub async fn completed_record_returns_the_stored_result(store: &dyn IdempotencyStore) {
    let key = unique("idem");
    let result = json!({"exactId": "4f1c", "lines": [1, 2, 3], "amount": "12.50"});
    assert_eq!(begin(store, &key, "h1", LEASE, 0).await, started(1));

    complete(store, &key, "h1", &result, 3600).await;
    let again = begin(store, &key, "h1", LEASE, 120).await;

    assert_eq!(
        again,
        IdempotencyBegin::Completed { result },
        "a completed key must answer with its stored result"
    );
}

/// An in-progress record whose lease expired (the worker died) is treated as absent.
pub async fn expired_in_progress_lease_can_be_taken_over(store: &dyn IdempotencyStore) {
    let key = unique("idem");
    assert_eq!(
        begin(store, &key, "h1", Duration::from_secs(30), 0).await,
        started(1)
    );

    let takeover = begin(store, &key, "h1", Duration::from_secs(30), 31).await;
    let after = begin(store, &key, "h1", Duration::from_secs(30), 32).await;

    assert_eq!(
        takeover,
        started(2),
        "an expired in-progress lease must be reusable, as claim 2 knowing of claim 1"
    );
    assert_eq!(
        after,
        IdempotencyBegin::InProgress {
            lease_until: at(61)
        },
        "the new lease (from the takeover at +31 s, 30 s long) must now be the live one"
    );
}

/// A completed record whose `expires_at` passed is treated as absent (adapters check expiry themselves).
pub async fn expired_completed_record_is_reusable(store: &dyn IdempotencyStore) {
    let key = unique("idem");
    assert_eq!(begin(store, &key, "h1", LEASE, 0).await, started(1));
    complete(store, &key, "h1", &json!({"n": 1}), 600).await;

    let before_expiry = begin(store, &key, "h1", LEASE, 599).await;
    let after_expiry = begin(store, &key, "h1", LEASE, 601).await;

    assert_eq!(
        before_expiry,
        IdempotencyBegin::Completed {
            result: json!({"n": 1})
        }
    );
    assert_eq!(
        after_expiry,
        started(2),
        "a completed record past its expiry must be reusable (claim 2)"
    );
}

/// A key reused with another payload hash is reported, never silently answered with the other payload's result.
pub async fn payload_mismatch_is_reported(store: &dyn IdempotencyStore) {
    let key = unique("idem");
    assert_eq!(begin(store, &key, "hash-a", LEASE, 0).await, started(1));
    complete(store, &key, "hash-a", &json!({"ok": true}), 3600).await;

    let other = begin(store, &key, "hash-b", LEASE, 5).await;
    let same = begin(store, &key, "hash-a", LEASE, 6).await;

    assert_eq!(
        other,
        IdempotencyBegin::PayloadMismatch {
            stored_hash: "hash-a".into()
        },
        "a completed key used with another payload must be a PayloadMismatch carrying the stored hash"
    );
    assert_eq!(
        same,
        IdempotencyBegin::Completed {
            result: json!({"ok": true})
        },
        "the mismatch must not change the record"
    );
}

/// `release` deletes the in-progress record so a retry can start at once; releasing an unknown key is fine.
pub async fn release_lets_a_retry_start_at_once(store: &dyn IdempotencyStore) {
    let key = unique("idem");
    assert_eq!(begin(store, &key, "h1", LEASE, 0).await, started(1));

    if let Err(e) = store.release(&key, 1).await {
        panic!("release failed: {e}");
    }
    let retry = begin(store, &key, "h1", LEASE, 1).await;
    let unknown = store.release(&unique("idem-never-used"), 1).await;

    assert_eq!(
        retry,
        started(2),
        "after release a retry must start immediately, knowing that claim 1 came before (it may have written)"
    );
    assert!(
        unknown.is_ok(),
        "releasing a key that does not exist must succeed, got {unknown:?}"
    );
}

/// Keys are independent: work on one never answers for another.
pub async fn keys_are_independent(store: &dyn IdempotencyStore) {
    let key_a = unique("idem-a");
    let key_b = unique("idem-b");
    assert_eq!(begin(store, &key_a, "h", LEASE, 0).await, started(1));
    complete(store, &key_a, "h", &json!("a"), 3600).await;

    let b = begin(store, &key_b, "h", LEASE, 1).await;

    assert_eq!(b, started(1), "a different key must start its own work");
}

/// 16 tasks race `begin` on one key: exactly one is `Started`, every other one sees `InProgress`.
pub async fn concurrent_begins_start_exactly_once(store: Arc<dyn IdempotencyStore>) {
    let key = unique("idem-race");

    let outcomes = race(16, |_| {
        let store = store.clone();
        let key = key.clone();
        async move { store.begin(&key, "h1", LEASE, at(0)).await }
    })
    .await;

    let mut started = 0;
    for outcome in outcomes {
        match outcome {
            Ok(IdempotencyBegin::Started(claim)) => {
                assert_eq!(claim.fence, 1, "the one winner of a new key is claim 1");
                started += 1
            }
            Ok(IdempotencyBegin::InProgress { lease_until }) => {
                assert_eq!(
                    lease_until,
                    at(60),
                    "InProgress must carry the winner's lease end"
                );
            }
            other => panic!("a racing begin must be Started or InProgress, got {other:?}"),
        }
    }
    assert_eq!(
        started, 1,
        "exactly one of 16 racing begins must start the work"
    );
}

/// Fencing: a holder whose lease expired and was taken over can neither complete nor release the
/// successor's claim; the successor completes with its own fence.
pub async fn a_taken_over_claim_is_fenced_off(store: &dyn IdempotencyStore) {
    let key = unique("idem-fence");
    let short = Duration::from_secs(30);
    assert_eq!(begin(store, &key, "h1", short, 0).await, started(1));
    // Claim 1's holder stalls past its lease; another worker takes the key over.
    assert_eq!(begin(store, &key, "h1", LEASE, 31).await, started(2));

    let stale_complete = store
        .complete(&key, 1, "h1", &json!({"by": "stale"}), at(3600))
        .await;
    let stale_release = store.release(&key, 1).await;
    let meanwhile = begin(store, &key, "h1", LEASE, 40).await;
    complete_as(store, &key, 2, "h1", &json!({"by": "successor"}), 3600).await;
    let after = begin(store, &key, "h1", LEASE, 50).await;

    assert!(
        matches!(stale_complete, Err(StoreError::Conflict { .. })),
        "a stale holder's complete must be refused with a Conflict, got {stale_complete:?}"
    );
    assert!(
        stale_release.is_ok(),
        "a stale holder's release is a no-op, got {stale_release:?}"
    );
    assert_eq!(
        meanwhile,
        IdempotencyBegin::InProgress {
            lease_until: at(91)
        },
        "the successor's claim must survive the stale holder's complete and release"
    );
    assert_eq!(
        after,
        IdempotencyBegin::Completed {
            result: json!({"by": "successor"})
        },
        "the successor's result must be the one stored"
    );
}

/// An expired lease nobody took over still completes with its own fence (the write happened; recording it
/// is what keeps the next delivery from writing again).
pub async fn an_expired_lease_not_taken_over_still_completes(store: &dyn IdempotencyStore) {
    let key = unique("idem-late");
    assert_eq!(
        begin(store, &key, "h1", Duration::from_secs(30), 0).await,
        started(1)
    );

    complete_as(store, &key, 1, "h1", &json!({"late": true}), 3600).await;
    let again = begin(store, &key, "h1", LEASE, 100).await;

    assert_eq!(
        again,
        IdempotencyBegin::Completed {
            result: json!({"late": true})
        }
    );
}

/// Every case of this suite, in sequence.
pub async fn run_all(store: Arc<dyn IdempotencyStore>) {
    first_begin_starts_and_a_live_lease_reports_in_progress(&*store).await;
    completed_record_returns_the_stored_result(&*store).await;
    expired_in_progress_lease_can_be_taken_over(&*store).await;
    expired_completed_record_is_reusable(&*store).await;
    payload_mismatch_is_reported(&*store).await;
    release_lets_a_retry_start_at_once(&*store).await;
    keys_are_independent(&*store).await;
    a_taken_over_claim_is_fenced_off(&*store).await;
    an_expired_lease_not_taken_over_still_completes(&*store).await;
    concurrent_begins_start_exactly_once(store).await;
}
