//! Webhook replays and lost deliveries (issue 12 finding 8), performed through the real router as someone
//! who captured one signed delivery would: re-sent with whitespace around it, re-sent while the first is
//! still being queued, re-sent days later; and Vantagepoint deliveries re-sent as they are. The rule these
//! tests hold is documented in `ledgerlink_api::webhooks` ("Replays, duplicates and stale events").

use std::time::Duration;

use axum::http::{StatusCode, header};
use chrono::Utc;
use ledgerlink_domain::Flow;
use ledgerlink_ports::IdempotencyBegin;
use sha2::{Digest, Sha256};

use crate::helpers::{TestApp, VP_PASSWORD, VP_USER};
use crate::webhooks::{basic, content, content_at, delivery, post_raw};

#[tokio::test]
async fn a_captured_exact_delivery_with_whitespace_added_is_still_the_same_delivery() {
    let app = TestApp::spawn().await;
    let body = delivery(
        &content("BankEntries", app.acme.division),
        &app.acme.webhook_secret,
    );

    let mut outcomes = Vec::new();
    for variant in [
        body.clone(),
        format!(" {body}"),
        format!("{body}\n"),
        format!("\t{body}\r\n"),
        format!("\n\n{body}   "),
    ] {
        let answer = post_raw(&app, "/webhooks/exact/acme", variant, &[]).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        outcomes.push(
            answer.json["outcome"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }

    assert_eq!(
        outcomes,
        [
            "enqueued",
            "duplicate",
            "duplicate",
            "duplicate",
            "duplicate"
        ]
    );
    assert_eq!(app.drain(Flow::PaymentIn).await.len(), 1);
}

#[tokio::test]
async fn a_twin_of_a_delivery_still_being_queued_is_told_to_retry_and_nothing_is_lost() {
    let app = TestApp::spawn().await;
    let signed = content("BankEntries", app.acme.division);
    let body = delivery(&signed, &app.acme.webhook_secret);
    // The first delivery of this event is in flight: it holds the event's claim (as the handler takes it,
    // keyed by the SHA-256 of the signed content) and has not queued its work yet.
    let digest = hex::encode(Sha256::digest(signed.as_bytes()));
    let key = format!("webhook/exact/acme/{digest}");
    let IdempotencyBegin::Started(first) = app
        .stores
        .idempotency
        .begin(&key, &digest, Duration::from_secs(30), Utc::now())
        .await
        .unwrap()
    else {
        panic!("the claim must be free");
    };

    let twin = post_raw(&app, "/webhooks/exact/acme", body.clone(), &[]).await;
    // The first delivery then fails (its queue write failed) and gives its claim up.
    app.stores
        .idempotency
        .release(&key, first.fence)
        .await
        .unwrap();
    let retried = post_raw(&app, "/webhooks/exact/acme", body.clone(), &[]).await;
    let again = post_raw(&app, "/webhooks/exact/acme", body, &[]).await;

    twin.assert_problem(StatusCode::SERVICE_UNAVAILABLE);
    let retry_after: u64 = twin
        .headers
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After header");
    assert!((1..=30).contains(&retry_after), "{retry_after}");
    assert_eq!(retried.json["outcome"], "enqueued", "{}", retried.text());
    assert_eq!(again.json["outcome"], "duplicate");
    assert_eq!(
        app.drain(Flow::PaymentIn).await.len(),
        1,
        "the event's work is queued once"
    );
}

#[tokio::test]
async fn exact_events_older_than_a_day_or_from_the_future_are_ignored() {
    let app = TestApp::spawn().await;
    let now = Utc::now();
    let mut outcomes = Vec::new();
    for at in [
        now - chrono::Duration::hours(25),
        now - chrono::Duration::days(300),
        now + chrono::Duration::hours(1),
        now - chrono::Duration::hours(23),
    ] {
        let body = delivery(
            &content_at("Accounts", app.acme.division, at),
            &app.acme.webhook_secret,
        );
        let answer = post_raw(&app, "/webhooks/exact/acme", body, &[]).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        outcomes.push(
            answer.json["outcome"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }

    assert_eq!(outcomes, ["stale", "stale", "stale", "enqueued"]);
    assert_eq!(app.drain(Flow::FirmSync).await.len(), 1);
}

#[tokio::test]
async fn a_replayed_vantagepoint_delivery_enqueues_nothing_more_within_the_window() {
    let app = TestApp::spawn().await;
    let auth = [("authorization", basic(VP_USER, VP_PASSWORD))];
    let body = r#"{"WBS1":"2026-001","Action":"UPDATE"}"#;

    let first = post_raw(&app, "/webhooks/vantagepoint/acme", body.into(), &auth).await;
    let replayed = post_raw(&app, "/webhooks/vantagepoint/acme", body.into(), &auth).await;
    let padded = post_raw(
        &app,
        "/webhooks/vantagepoint/acme",
        format!(" {body}\n"),
        &auth,
    )
    .await;
    let other_record = post_raw(
        &app,
        "/webhooks/vantagepoint/acme",
        r#"{"WBS1":"2026-002","Action":"UPDATE"}"#.into(),
        &auth,
    )
    .await;
    let other_flow = post_raw(
        &app,
        "/webhooks/vantagepoint/acme?flow=invoice-out",
        body.into(),
        &auth,
    )
    .await;

    assert_eq!(first.json["outcome"], "enqueued", "{}", first.text());
    assert_eq!(replayed.json["outcome"], "duplicate", "{}", replayed.text());
    assert_eq!(padded.json["outcome"], "duplicate", "{}", padded.text());
    assert_eq!(other_record.json["outcome"], "enqueued");
    assert_eq!(other_flow.json["outcome"], "enqueued");
    assert_eq!(app.drain(Flow::FirmSync).await.len(), 2);
    assert_eq!(app.drain(Flow::InvoiceOut).await.len(), 1);
}
