//! Webhooks end to end: subscribe (the emulator's empty validation POST), a signed delivery verified, and a
//! tampered or foreign one refused.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use bytes::Bytes;
use ledgerlink_exact::{Secret, WebhookAction, WebhookError, WebhookVerification, verify_webhook};
use parking_lot::Mutex;

use crate::helpers::{WEBHOOK_SECRET, spawn};

#[derive(Debug, Default)]
struct Received {
    outcomes: Mutex<Vec<Result<WebhookVerification, WebhookError>>>,
}

async fn receive(State(received): State<Arc<Received>>, body: Bytes) -> StatusCode {
    let outcome = verify_webhook(&body, &Secret::new(WEBHOOK_SECRET));
    let status = if outcome.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::UNAUTHORIZED
    };
    received.outcomes.lock().push(outcome);
    status
}

#[tokio::test]
async fn a_subscription_is_validated_and_its_signed_deliveries_verify() {
    // Arrange: a receiver that verifies with our webhook secret.
    let env = spawn().await;
    let client = env.connect().await;
    let received = Arc::new(Received::default());
    let router = Router::new()
        .route("/hook", post(receive))
        .with_state(received.clone());
    let receiver = ledgerlink_emulators::serve(router, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let callback = format!("{}/hook", receiver.base_url());

    // Act: subscribe (Exact validates the callback with an empty POST), then change an account.
    client
        .subscribe_webhook("Accounts", &callback)
        .await
        .unwrap();
    env.emulator
        .seed(
            env.division(),
            "crm/Accounts",
            serde_json::json!({"Name": "Hooked BV", "Code": "9001"}),
        )
        .unwrap();
    let deliveries = env
        .emulator
        .wait_for_deliveries(1, Duration::from_secs(10))
        .await;

    // Assert
    let outcomes = received.outcomes.lock().clone();
    assert!(
        matches!(
            outcomes.first(),
            Some(Ok(WebhookVerification::ValidationRequest))
        ),
        "got {outcomes:?}"
    );
    let verified: Vec<_> = outcomes
        .iter()
        .filter_map(|o| match o {
            Ok(WebhookVerification::Verified(c)) => Some(c.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(verified.len(), 1, "one delivery, verified: {outcomes:?}");
    assert_eq!(verified[0].topic, "Accounts");
    assert_eq!(verified[0].action, WebhookAction::Create);
    assert_eq!(verified[0].division, crate::helpers::DIVISION);
    assert_eq!(
        deliveries.iter().filter(|d| d.status == Some(200)).count(),
        1
    );
}

#[tokio::test]
async fn a_delivery_signed_with_another_secret_or_tampered_with_is_refused() {
    let env = spawn().await;
    let client = env.connect().await;
    let received = Arc::new(Received::default());
    let router = Router::new()
        .route("/hook", post(receive))
        .with_state(received.clone());
    let receiver = ledgerlink_emulators::serve(router, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    client
        .subscribe_webhook("Accounts", &format!("{}/hook", receiver.base_url()))
        .await
        .unwrap();
    env.emulator
        .seed(
            env.division(),
            "crm/Accounts",
            serde_json::json!({"Name": "Hooked BV", "Code": "9002"}),
        )
        .unwrap();
    let deliveries = env
        .emulator
        .wait_for_deliveries(1, Duration::from_secs(10))
        .await;
    let genuine = deliveries.first().map(|d| d.body.clone()).unwrap();

    let tampered = genuine.replace("\"Create\"", "\"Delete\"");
    let foreign = verify_webhook(genuine.as_bytes(), &Secret::new("not-our-secret"));

    assert!(matches!(
        verify_webhook(genuine.as_bytes(), &Secret::new(WEBHOOK_SECRET)),
        Ok(WebhookVerification::Verified(_))
    ));
    assert_eq!(
        verify_webhook(tampered.as_bytes(), &Secret::new(WEBHOOK_SECRET)),
        Err(WebhookError::BadSignature)
    );
    assert_eq!(foreign, Err(WebhookError::BadSignature));
}
