//! Contract of [`TokenStore`]: tokens per connection, a single-flight refresh lease, saves only by the lease
//! holder, and a generation counter bumped on every save.

use std::sync::Arc;
use std::time::Duration;

use super::{at, expect_conflict, race, unique};
use crate::{LeaseOutcome, StoreError, TokenRecord, TokenStore};

const LEASE: Duration = Duration::from_secs(30);

fn record(connection: &str, access: &str, issued_secs: i64) -> TokenRecord {
    TokenRecord {
        connection: connection.to_owned(),
        issuer: "https://issuer.example:443/".to_owned(),
        access_token: access.to_owned(),
        refresh_token: format!("refresh-of-{access}"),
        access_expires_at: at(issued_secs + 600),
        issued_at: at(issued_secs),
        generation: 0,
    }
}

async fn lease(store: &dyn TokenStore, connection: &str, holder: &str, secs: i64) -> LeaseOutcome {
    match store.try_lease(connection, holder, LEASE, at(secs)).await {
        Ok(outcome) => outcome,
        Err(e) => panic!("try_lease({connection:?}, {holder:?}) failed: {e}"),
    }
}

async fn save_initial(store: &dyn TokenStore, rec: &TokenRecord) -> TokenRecord {
    match store.save_initial(rec).await {
        Ok(saved) => saved,
        Err(e) => panic!("save_initial failed: {e}"),
    }
}

async fn load(store: &dyn TokenStore, connection: &str) -> Option<TokenRecord> {
    match store.load(connection).await {
        Ok(found) => found,
        Err(e) => panic!("load({connection:?}) failed: {e}"),
    }
}

/// A connection that never saved tokens loads as `None`.
pub async fn load_of_an_unknown_connection_is_none(store: &dyn TokenStore) {
    let connection = unique("exact:never");

    let found = load(store, &connection).await;

    assert!(found.is_none(), "an unknown connection must load as None");
}

/// `save_initial` stores the tokens as given (generation = previous + 1, starting at 1) and `load` returns them.
pub async fn save_initial_round_trips_and_bumps_the_generation(store: &dyn TokenStore) {
    let connection = unique("exact:init");

    let first = save_initial(store, &record(&connection, "access-1", 0)).await;
    let loaded = load(store, &connection).await;
    let second = save_initial(store, &record(&connection, "access-2", 100)).await;

    assert_eq!(first.generation, 1, "the first save must have generation 1");
    assert_eq!(first.access_token, "access-1");
    assert_eq!(
        loaded.as_ref(),
        Some(&first),
        "load must return exactly what save_initial returned"
    );
    assert_eq!(second.generation, 2, "every save bumps the generation");
    assert_eq!(
        load(store, &connection).await,
        Some(second),
        "save_initial replaces the previous tokens"
    );
}

/// The lease is exclusive until it expires; after expiry another holder can take it.
pub async fn lease_is_exclusive_until_it_expires(store: &dyn TokenStore) {
    let connection = unique("exact:lease");
    save_initial(store, &record(&connection, "a1", 0)).await;

    let first = lease(store, &connection, "worker-a", 0).await;
    let contended = lease(store, &connection, "worker-b", 1).await;
    let after_expiry = lease(store, &connection, "worker-b", 31).await;

    assert_eq!(
        first,
        LeaseOutcome::Acquired,
        "a free lease must be acquired"
    );
    assert_eq!(
        contended,
        LeaseOutcome::HeldByOther { until: at(30) },
        "a live lease must be reported as held by another, with its end"
    );
    assert_eq!(
        after_expiry,
        LeaseOutcome::Acquired,
        "an expired lease must be free to take"
    );
}

/// Only the lease holder may `save_and_release`; the save bumps the generation and frees the lease.
pub async fn save_and_release_requires_holding_the_lease(store: &dyn TokenStore) {
    let connection = unique("exact:save");
    let initial = save_initial(store, &record(&connection, "a1", 0)).await;

    let without_lease = store
        .save_and_release(&record(&connection, "stolen", 1), "worker-a")
        .await;
    assert_eq!(
        lease(store, &connection, "worker-a", 2).await,
        LeaseOutcome::Acquired
    );
    let by_other = store
        .save_and_release(&record(&connection, "stolen", 3), "worker-b")
        .await;
    let by_holder = store
        .save_and_release(&record(&connection, "a2", 4), "worker-a")
        .await;
    let twice = store
        .save_and_release(&record(&connection, "a3", 5), "worker-a")
        .await;

    assert!(
        matches!(without_lease, Err(StoreError::Conflict { .. })),
        "saving without the lease must be a Conflict, got {without_lease:?}"
    );
    assert!(
        matches!(by_other, Err(StoreError::Conflict { .. })),
        "saving by a non-holder must be a Conflict, got {by_other:?}"
    );
    let saved = match by_holder {
        Ok(saved) => saved,
        Err(e) => panic!("the lease holder's save failed: {e}"),
    };
    assert_eq!(
        saved.generation,
        initial.generation + 1,
        "save_and_release bumps the generation"
    );
    assert_eq!(saved.access_token, "a2");
    assert!(
        matches!(twice, Err(StoreError::Conflict { .. })),
        "save_and_release frees the lease, so a second save by the same holder must be a Conflict, got {twice:?}"
    );
    assert_eq!(
        load(store, &connection).await,
        Some(saved),
        "load must return the holder's save"
    );
    assert_eq!(
        lease(store, &connection, "worker-b", 6).await,
        LeaseOutcome::Acquired,
        "after save_and_release the lease is free for anyone"
    );
}

/// A worker whose lease expired and was taken over cannot save its (stale) refresh any more.
pub async fn a_save_after_the_lease_was_taken_over_conflicts(store: &dyn TokenStore) {
    let connection = unique("exact:takeover");
    save_initial(store, &record(&connection, "a1", 0)).await;
    assert_eq!(
        lease(store, &connection, "slow-worker", 0).await,
        LeaseOutcome::Acquired
    );
    assert_eq!(
        lease(store, &connection, "new-worker", 31).await,
        LeaseOutcome::Acquired
    );

    let late = store
        .save_and_release(&record(&connection, "stale", 40), "slow-worker")
        .await;
    let current = store
        .save_and_release(&record(&connection, "fresh", 41), "new-worker")
        .await;

    expect_conflict(
        late,
        "a save by a holder whose expired lease was taken over",
    );
    assert!(
        current.is_ok(),
        "the new holder's save must succeed, got {current:?}"
    );
    assert_eq!(
        load(store, &connection)
            .await
            .map(|r| r.access_token)
            .as_deref(),
        Some("fresh")
    );
}

/// `release` frees the lease without saving, and only for its holder.
pub async fn release_frees_the_lease_only_for_its_holder(store: &dyn TokenStore) {
    let connection = unique("exact:release");
    let initial = save_initial(store, &record(&connection, "a1", 0)).await;
    assert_eq!(
        lease(store, &connection, "worker-a", 0).await,
        LeaseOutcome::Acquired
    );

    let by_other = store.release(&connection, "worker-b").await;
    let still_held = lease(store, &connection, "worker-c", 1).await;
    let by_holder = store.release(&connection, "worker-a").await;
    let free = lease(store, &connection, "worker-c", 2).await;

    assert!(
        by_other.is_ok(),
        "release by a non-holder must be a harmless no-op, got {by_other:?}"
    );
    assert_eq!(
        still_held,
        LeaseOutcome::HeldByOther { until: at(30) },
        "a non-holder's release must not free the lease"
    );
    assert!(
        by_holder.is_ok(),
        "release by the holder failed: {by_holder:?}"
    );
    assert_eq!(
        free,
        LeaseOutcome::Acquired,
        "after the holder's release the lease must be free"
    );
    assert_eq!(
        load(store, &connection).await,
        Some(initial),
        "release must not change the tokens"
    );
}

/// Fencing: a holder whose lease expired and was taken over cannot release (nor save under) the successor's
/// lease.
pub async fn a_stale_holder_cannot_release_its_successors_lease(store: &dyn TokenStore) {
    let connection = unique("exact:stale");
    save_initial(store, &record(&connection, "a1", 0)).await;
    assert_eq!(
        lease(store, &connection, "worker-a", 0).await,
        LeaseOutcome::Acquired
    );
    // worker-a stalls past its 30 s lease; worker-b takes it over.
    assert_eq!(
        lease(store, &connection, "worker-b", 31).await,
        LeaseOutcome::Acquired
    );

    let stale_release = store.release(&connection, "worker-a").await;
    let third = lease(store, &connection, "worker-c", 40).await;
    let stale_save = store
        .save_and_release(&record(&connection, "a2", 40), "worker-a")
        .await;

    assert!(stale_release.is_ok(), "a stale holder's release is a no-op");
    assert_eq!(
        third,
        LeaseOutcome::HeldByOther { until: at(61) },
        "the successor's lease must survive the stale holder's release"
    );
    assert!(
        matches!(stale_save, Err(StoreError::Conflict { .. })),
        "a stale holder's save must conflict, got {stale_save:?}"
    );
}

/// Connections have independent leases.
pub async fn leases_of_different_connections_are_independent(store: &dyn TokenStore) {
    let a = unique("exact:ind-a");
    let b = unique("vantagepoint:ind-b");
    save_initial(store, &record(&a, "a", 0)).await;
    save_initial(store, &record(&b, "b", 0)).await;

    let lease_a = lease(store, &a, "worker-1", 0).await;
    let lease_b = lease(store, &b, "worker-2", 0).await;

    assert_eq!(lease_a, LeaseOutcome::Acquired);
    assert_eq!(
        lease_b,
        LeaseOutcome::Acquired,
        "a lease on one connection must not block another connection"
    );
}

/// 16 holders race for one free lease: exactly one acquires it, the rest see it held until its end.
pub async fn concurrent_leases_are_granted_exactly_once(store: Arc<dyn TokenStore>) {
    let connection = unique("exact:race");
    save_initial(&*store, &record(&connection, "a1", 0)).await;

    let outcomes = race(16, |i| {
        let store = store.clone();
        let connection = connection.clone();
        async move {
            store
                .try_lease(&connection, &format!("worker-{i}"), LEASE, at(0))
                .await
        }
    })
    .await;

    let mut acquired = 0;
    for outcome in outcomes {
        match outcome {
            Ok(LeaseOutcome::Acquired) => acquired += 1,
            Ok(LeaseOutcome::HeldByOther { until }) => {
                assert_eq!(
                    until,
                    at(30),
                    "HeldByOther must carry the winner's lease end"
                )
            }
            Err(e) => panic!("a racing try_lease failed: {e}"),
        }
    }
    assert_eq!(
        acquired, 1,
        "exactly one of 16 racing holders must acquire the lease"
    );
}

/// Every case of this suite, in sequence.
pub async fn run_all(store: Arc<dyn TokenStore>) {
    load_of_an_unknown_connection_is_none(&*store).await;
    save_initial_round_trips_and_bumps_the_generation(&*store).await;
    lease_is_exclusive_until_it_expires(&*store).await;
    save_and_release_requires_holding_the_lease(&*store).await;
    a_save_after_the_lease_was_taken_over_conflicts(&*store).await;
    release_frees_the_lease_only_for_its_holder(&*store).await;
    a_stale_holder_cannot_release_its_successors_lease(&*store).await;
    leases_of_different_connections_are_independent(&*store).await;
    concurrent_leases_are_granted_exactly_once(store).await;
}
