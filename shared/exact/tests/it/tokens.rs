//! Token manager against the emulator's OAuth rules: single-flight refresh across workers, the 570-second
//! rule, rotated refresh tokens.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use ledgerlink_exact::{ExactError, ReconnectHook};
use ledgerlink_ports::TokenStore;

use crate::helpers::{CLIENT_ID, spawn};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_workers_crossing_token_expiry_refresh_exactly_once() {
    // Arrange: one connection, eight workers (own token managers, shared store), clock past the expiry.
    let env = spawn().await;
    env.connect().await;
    let workers: Vec<_> = (0..8).map(|_| env.client()).collect();
    env.clock.advance(Duration::from_secs(601));

    // Act: every worker calls the API three times at once.
    let tasks: Vec<_> = workers
        .into_iter()
        .map(|client| {
            tokio::spawn(async move {
                for _ in 0..3 {
                    client.me().await?;
                }
                Ok::<_, ExactError>(())
            })
        })
        .collect();
    let mut failures = Vec::new();
    for t in tasks {
        if let Err(e) = t.await.unwrap() {
            failures.push(e.to_string());
        }
    }

    // Assert
    let refreshes = env.emulator.token_refreshes(CLIENT_ID);
    println!(
        "FIGURE token refreshes at the emulator for 8 workers x 3 calls across expiry: {refreshes}"
    );
    assert!(
        failures.is_empty(),
        "no worker may fail (ReconnectNeeded or otherwise): {failures:?}"
    );
    assert_eq!(refreshes, 1, "exactly one refresh at the token endpoint");
    let record = env
        .store
        .tokens()
        .load(&env.config().connection)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.generation, 2, "first consent, then one refresh");
}

#[tokio::test]
async fn a_refresh_before_570_seconds_never_reaches_the_token_endpoint() {
    // Arrange
    let env = spawn().await;
    let client = env.connect().await;
    let calls_after_consent = env.emulator.token_calls(CLIENT_ID);
    let token = client.tokens().access_token().await.unwrap();

    // Act: a 401 "arrives" 300 s after issue, and a normal call is made at 569 s.
    env.clock.advance(Duration::from_secs(300));
    let after_401 = client.tokens().after_unauthorized(&token).await;
    env.clock.advance(Duration::from_secs(269));
    let at_569 = client.tokens().access_token().await.unwrap();

    // Assert
    assert!(
        matches!(after_401, Err(ExactError::Unauthorized { .. })),
        "got {after_401:?}"
    );
    assert_eq!(
        at_569.generation, token.generation,
        "the same token is still used at 569 s"
    );
    assert_eq!(
        env.emulator.token_calls(CLIENT_ID),
        calls_after_consent,
        "the token endpoint was not called"
    );
}

#[tokio::test]
async fn the_token_is_refreshed_from_570_seconds_and_the_new_refresh_token_is_stored_first() {
    let env = spawn().await;
    let client = env.connect().await;
    let before = env
        .store
        .tokens()
        .load(&env.config().connection)
        .await
        .unwrap()
        .unwrap();

    env.clock.advance(Duration::from_secs(570));
    client.me().await.unwrap();

    let after = env
        .store
        .tokens()
        .load(&env.config().connection)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(env.emulator.token_refreshes(CLIENT_ID), 1);
    assert_ne!(
        after.refresh_token, before.refresh_token,
        "the rotated refresh token is persisted"
    );
    assert_eq!(after.issued_at, env.clock_now());
}

#[derive(Debug, Default)]
struct CountingHook(AtomicU32);

#[async_trait]
impl ReconnectHook for CountingHook {
    async fn reconnect_needed(&self, _connection: &str, _reason: &str) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_stale_refresh_token_means_reconnect_needed_and_the_hook_is_told() {
    // Arrange: a worker refreshes (rotating the refresh token), then an old copy of the tokens is restored,
    // as a process that refreshed with a lost response or a stale backup would do.
    let env = spawn().await;
    env.connect().await;
    let connection = env.config().connection;
    let stale = env.store.tokens().load(&connection).await.unwrap().unwrap();
    env.clock.advance(Duration::from_secs(601));
    env.client().me().await.unwrap();
    env.store.tokens().save_initial(&stale).await.unwrap();
    let hook = Arc::new(CountingHook::default());
    let client = env.client_with(|_| {}, Some(hook.clone()));

    // Act
    let result = client.me().await;

    // Assert
    assert!(
        matches!(&result, Err(ExactError::ReconnectNeeded { reason, .. }) if reason.contains("Old refresh token")),
        "got {result:?}"
    );
    assert_eq!(hook.0.load(Ordering::SeqCst), 1);
    assert_eq!(
        env.emulator.token_refreshes(CLIENT_ID),
        1,
        "the stale refresh was refused"
    );
}

#[tokio::test]
async fn a_connection_without_tokens_needs_a_reconnect() {
    let env = spawn().await;
    let result = env.client().me().await;
    assert!(
        matches!(result, Err(ExactError::ReconnectNeeded { .. })),
        "got {result:?}"
    );
}

#[tokio::test]
async fn a_reused_authorization_code_is_refused_as_reconnect_needed() {
    let env = spawn().await;
    let client = env.client();
    let code = env
        .emulator
        .authorization_code(CLIENT_ID, Some(env.user))
        .unwrap();
    client
        .tokens()
        .exchange_authorization_code(&code)
        .await
        .unwrap();

    let again = client.tokens().exchange_authorization_code(&code).await;

    assert!(
        matches!(again, Err(ExactError::ReconnectNeeded { .. })),
        "got {again:?}"
    );
}

/// A token store whose saves fail, to show the client never uses tokens it could not persist.
#[derive(Debug)]
struct FailingSaves(Arc<dyn TokenStore>);

#[async_trait]
impl TokenStore for FailingSaves {
    async fn load(
        &self,
        connection: &str,
    ) -> ledgerlink_ports::StoreResult<Option<ledgerlink_ports::TokenRecord>> {
        self.0.load(connection).await
    }
    async fn try_lease(
        &self,
        connection: &str,
        holder: &str,
        duration: Duration,
        now: chrono::DateTime<chrono::Utc>,
    ) -> ledgerlink_ports::StoreResult<ledgerlink_ports::LeaseOutcome> {
        self.0.try_lease(connection, holder, duration, now).await
    }
    async fn save_and_release(
        &self,
        _record: &ledgerlink_ports::TokenRecord,
        _holder: &str,
    ) -> ledgerlink_ports::StoreResult<ledgerlink_ports::TokenRecord> {
        Err(ledgerlink_ports::StoreError::Transient {
            message: "database busy".into(),
            source: None,
        })
    }
    async fn save_initial(
        &self,
        record: &ledgerlink_ports::TokenRecord,
    ) -> ledgerlink_ports::StoreResult<ledgerlink_ports::TokenRecord> {
        self.0.save_initial(record).await
    }
    async fn release(&self, connection: &str, holder: &str) -> ledgerlink_ports::StoreResult<()> {
        self.0.release(connection, holder).await
    }
}

#[tokio::test]
async fn refreshed_tokens_that_cannot_be_persisted_are_never_used() {
    // Arrange
    let env = spawn().await;
    env.connect().await;
    let ports = ledgerlink_exact::ClientPorts {
        tokens: Arc::new(FailingSaves(env.store.tokens())),
        rate: env.store.rate(),
        clock: env.clock.shared(),
    };
    let client = ledgerlink_exact::ExactClient::new(env.config(), ports, None).unwrap();
    client.me().await.unwrap();
    env.clock.advance(Duration::from_secs(601));
    let api_calls_before = env.requests("/api/v1/current/Me");
    assert_eq!(api_calls_before, 1, "the counter sees calls to current/Me");

    // Act
    let result = client.me().await;

    // Assert: the refresh happened at Exact, but the API was not called with the unsaved access token.
    assert!(
        matches!(result, Err(ExactError::Transient { .. })),
        "got {result:?}"
    );
    assert_eq!(env.emulator.token_refreshes(CLIENT_ID), 1);
    assert_eq!(
        env.requests("/api/v1/current/Me"),
        api_calls_before,
        "the new access token was not used"
    );
}

/// Makes the stored record claim a longer life than Exact gave the token, so the API's 401 comes first.
async fn pretend_token_lives_long(env: &crate::helpers::TestEnv, issued_ago: i64) {
    let tokens = env.store.tokens();
    let connection = env.config().connection;
    let mut record = tokens.load(&connection).await.unwrap().unwrap();
    let now = env.clock_now();
    record.issued_at = now - chrono::Duration::seconds(issued_ago);
    record.access_expires_at = now + chrono::Duration::hours(1);
    tokens.save_initial(&record).await.unwrap();
}

#[tokio::test]
async fn a_401_after_570_seconds_refreshes_once_and_the_call_succeeds() {
    let env = spawn().await;
    let client = env.connect().await;
    env.clock.advance(Duration::from_secs(601));
    pretend_token_lives_long(&env, 601).await;

    let me = client.me().await;

    assert!(me.is_ok(), "got {me:?}");
    assert_eq!(env.emulator.token_refreshes(CLIENT_ID), 1);
}

#[tokio::test]
async fn a_401_before_570_seconds_is_unauthorized_without_calling_the_token_endpoint() {
    // Arrange: the access token is dead at Exact (issued long ago), but the record says it was issued 100 s
    // ago: the client must not ask for a refresh Exact would refuse.
    let env = spawn().await;
    let client = env.connect().await;
    env.clock.advance(Duration::from_secs(601));
    pretend_token_lives_long(&env, 100).await;
    let token_calls = env.emulator.token_calls(CLIENT_ID);

    // Act
    let me = client.me().await;

    // Assert
    assert!(
        matches!(me, Err(ExactError::Unauthorized { .. })),
        "got {me:?}"
    );
    assert_eq!(env.emulator.token_calls(CLIENT_ID), token_calls);
}

#[tokio::test]
async fn a_refresh_token_unused_for_thirty_days_means_reconnect_needed() {
    let env = spawn().await;
    let client = env.connect().await;
    env.clock.advance(Duration::from_secs(31 * 24 * 3600));

    let result = client.me().await;

    assert!(
        matches!(&result, Err(ExactError::ReconnectNeeded { reason, .. }) if reason.contains("expired")),
        "got {result:?}"
    );
}

#[tokio::test]
async fn when_exacts_clock_says_too_early_the_still_valid_token_keeps_being_used() {
    // Arrange: Exact refuses refreshes until 590 s (its clock runs behind ours); we refresh at 570 s.
    let env = crate::helpers::spawn_with(|c| c.refresh_min_age_secs = 590).await;
    let client = env.connect().await;
    env.clock.advance(Duration::from_secs(575));

    // Act: several calls in the next seconds.
    let mut results = Vec::new();
    for _ in 0..5 {
        results.push(client.me().await);
        env.clock.advance(Duration::from_secs(1));
    }

    // Assert
    assert!(results.iter().all(Result::is_ok), "got {results:?}");
    assert_eq!(env.emulator.token_refreshes(CLIENT_ID), 0);
    assert_eq!(
        env.emulator.token_calls(CLIENT_ID),
        2,
        "the code exchange and ONE refused refresh, not one per call"
    );
}

#[tokio::test]
async fn debug_output_of_a_connected_client_shows_no_secret_or_token() {
    let env = spawn().await;
    let client = env.connect().await;
    let record = env
        .store
        .tokens()
        .load(&env.config().connection)
        .await
        .unwrap()
        .unwrap();
    let token = client.tokens().access_token().await.unwrap();

    let text = format!("{client:?} {token:?} {record:?}");

    assert!(!text.contains(crate::helpers::CLIENT_SECRET));
    assert!(!text.contains(&record.access_token));
    assert!(!text.contains(&record.refresh_token));
    assert!(text.contains("<redacted>"));
}
