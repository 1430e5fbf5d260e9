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
