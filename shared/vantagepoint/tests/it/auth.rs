//! Token manager against the emulator's `/token`: grants, renewal, single flight, refusal handling.

use std::time::Duration;

use ledgerlink_clock::Clock;

use ledgerlink_ports::TokenRecord;
use ledgerlink_vantagepoint::{VantagepointClient, VpError};

use crate::helpers::{client_config, spawn};

#[tokio::test]
async fn the_first_call_obtains_a_token_with_the_password_grant_and_stores_it() {
    let vp = spawn().await;

    let periods = vp.client.periods().await.unwrap();

    assert!(!periods.is_empty());
    let stats = vp.emulator.token_stats();
    assert_eq!(stats.password_grants, 1);
    assert_eq!(stats.refresh_grants, 0);
    let stored = vp.tokens.load("vantagepoint:acme").await.unwrap().unwrap();
    assert!(!stored.access_token.is_empty() && !stored.refresh_token.is_empty());
    assert_eq!(
        stored.access_expires_at - stored.issued_at,
        chrono::Duration::seconds(1799)
    );
}

#[tokio::test]
async fn a_token_near_expiry_is_renewed_with_the_refresh_grant_before_the_call() {
    let vp = spawn().await;
    vp.client.periods().await.unwrap();

    // 60 s early renewal: at 1740 s the token still has 59 s left, which is inside the margin.
    vp.clock.advance(Duration::from_secs(1740));
    vp.client.periods().await.unwrap();

    let stats = vp.emulator.token_stats();
    assert_eq!(stats.password_grants, 1);
    assert_eq!(stats.refresh_grants, 1);
    assert_eq!(
        stats.unauthorized_calls, 0,
        "the client must renew before VP refuses the token"
    );
}

#[tokio::test]
async fn an_expired_token_is_renewed_transparently() {
    let vp = spawn().await;
    vp.client.periods().await.unwrap();

    vp.clock.advance(Duration::from_secs(3 * 3600));
    let result = vp.client.active_period().await;

    assert!(result.is_ok(), "{result:?}");
    assert_eq!(vp.emulator.token_stats().refresh_grants, 1);
}

#[tokio::test]
async fn a_refused_bearer_is_renewed_once_and_a_refused_refresh_token_falls_back_to_the_password_grant()
 {
    let vp = spawn().await;
    let now = vp.clock.now();
    // A stored token VP has never issued, which the client believes fresh for another hour.
    vp.tokens
        .save_initial(&TokenRecord {
            connection: "vantagepoint:acme".into(),
            issuer: vp.client.config().issuer(),
            access_token: "not-a-real-token".into(),
            refresh_token: "not-a-real-refresh-token".into(),
            access_expires_at: now + chrono::Duration::hours(1),
            issued_at: now,
            generation: 0,
        })
        .await
        .unwrap();

    let result = vp.client.periods().await;

    assert!(result.is_ok(), "{result:?}");
    let stats = vp.emulator.token_stats();
    assert_eq!(stats.unauthorized_calls, 1);
    assert_eq!(stats.password_grants, 1);
    let stored = vp.tokens.load("vantagepoint:acme").await.unwrap().unwrap();
    assert_ne!(stored.access_token, "not-a-real-token");
}

#[tokio::test]
async fn a_wrong_password_is_unauthorized_and_is_not_retried() {
    let vp = spawn().await;
    let client = VantagepointClient::new(
        client_config(&vp.emulator, &vp.server, "wrong"),
        vp.tokens.clone(),
        vp.clock.shared(),
    )
    .unwrap();

    let err = client.periods().await.unwrap_err();

    assert!(matches!(err, VpError::Unauthorized { .. }), "{err:?}");
    assert!(!err.is_retryable());
    assert!(
        !err.to_string().contains("wrong"),
        "the password must not leak into the error"
    );
    assert_eq!(vp.emulator.token_stats().failed_grants, 1);
}

#[tokio::test]
async fn concurrent_workers_sharing_a_store_obtain_a_single_token() {
    let vp = spawn().await;
    let clients: Vec<VantagepointClient> = (0..6).map(|_| vp.second_client()).collect();

    let results = futures::future::join_all(clients.iter().map(|c| c.active_period())).await;

    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(vp.emulator.token_stats().password_grants, 1);
}

#[tokio::test]
async fn a_second_worker_reuses_the_stored_token_without_a_grant() {
    let vp = spawn().await;
    vp.client.periods().await.unwrap();

    let other = vp.second_client();
    other.periods().await.unwrap();

    let stats = vp.emulator.token_stats();
    assert_eq!(stats.password_grants + stats.refresh_grants, 1);
}

#[tokio::test]
async fn debug_output_of_a_working_client_shows_no_credentials_or_tokens() {
    let vp = spawn().await;
    vp.client.periods().await.unwrap();
    let stored = vp.tokens.load("vantagepoint:acme").await.unwrap().unwrap();

    let text = format!("{:?} {:?}", vp.client, vp.psa());

    assert!(!text.contains(crate::helpers::PASSWORD));
    assert!(!text.contains(&vp.emulator.config().client_secret));
    assert!(!text.contains(&stored.access_token));
    assert!(!text.contains(&stored.refresh_token));
}

#[tokio::test]
async fn concurrent_workers_at_expiry_refresh_the_shared_token_once() {
    let vp = spawn().await;
    vp.client.periods().await.unwrap();
    let clients: Vec<VantagepointClient> = (0..6).map(|_| vp.second_client()).collect();
    vp.clock.advance(Duration::from_secs(1799));

    let results = futures::future::join_all(clients.iter().map(|c| c.active_period())).await;

    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let stats = vp.emulator.token_stats();
    assert_eq!(stats.password_grants, 1);
    assert_eq!(
        stats.refresh_grants, 1,
        "one worker refreshed; the others re-read the store"
    );
}
