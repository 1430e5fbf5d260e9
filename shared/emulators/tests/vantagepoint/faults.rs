use ledgerlink_emulators::FaultRule;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

fn receipt(batch: &str) -> serde_json::Value {
    json!({
        "Batch": batch, "Total": 10, "DefaultBank": "EURBANK", "Period": 202606, "Company": "A0",
        "crMaster": [{"RefNo": "R1", "TransDate": "2026-06-15T00:00:00.000", "BankCode": "EURBANK"}],
        "crDetail": [{"RefNo": "R1", "Account": "12100", "Amount": 10}]
    })
}

#[tokio::test]
async fn a_5xx_rule_answers_503_and_requests_are_counted_per_route() {
    let vp = spawn().await;
    let token = vp.token().await;
    vp.emulator.faults().add_rule(FaultRule {
        path_prefix: "/vantagepoint/api/PSALedger".into(),
        error_5xx_per_mille: 1000,
        ..FaultRule::default()
    });

    let (status, _) = vp.get(&token, "/PSALedger/IN").await;
    let (other, _) = vp.get(&token, "/firm").await;

    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(other, StatusCode::OK);
    assert_eq!(
        vp.emulator
            .counters()
            .count_matching("GET /vantagepoint/api/PSALedger/{tt}"),
        1
    );
    assert_eq!(vp.emulator.faults().injected().get("5xx"), Some(&1));
}

#[tokio::test]
async fn a_reset_before_the_handler_creates_nothing() {
    let vp = spawn().await;
    let token = vp.token().await;
    vp.emulator.faults().add_rule(FaultRule {
        method: Some("POST".into()),
        path_prefix: "/vantagepoint/api/DataEntry/crControl".into(),
        reset_before_per_mille: 1000,
        ..FaultRule::default()
    });

    let result = vp
        .http
        .post(format!("{}/DataEntry/crControl", vp.base))
        .bearer_auth(&token)
        .json(&receipt("ExactR1"))
        .send()
        .await;

    assert!(result.is_err(), "the connection is reset");
    assert!(vp.emulator.cash_receipts().is_empty());
}

#[tokio::test]
async fn commit_then_drop_on_cr_control_creates_the_batch_and_a_retry_meets_the_duplicate() {
    let vp = spawn().await;
    let token = vp.token().await;
    vp.emulator.faults().add_rule(FaultRule {
        method: Some("POST".into()),
        path_prefix: "/vantagepoint/api/DataEntry/crControl".into(),
        commit_then_drop_per_mille: 1000,
        ..FaultRule::default()
    });

    let result = vp
        .http
        .post(format!("{}/DataEntry/crControl", vp.base))
        .bearer_auth(&token)
        .json(&receipt("ExactD1"))
        .send()
        .await;
    vp.emulator.faults().clear();
    let (retry, body) = vp
        .post(&token, "/DataEntry/crControl", &receipt("ExactD1"))
        .await;

    assert!(result.is_err(), "the client never hears back");
    assert_eq!(
        vp.emulator.cash_receipts().len(),
        1,
        "the batch WAS created"
    );
    assert_eq!(retry, StatusCode::BAD_REQUEST);
    assert!(body["Message"].as_str().unwrap().contains("already exists"));
    let (_, existing) = vp.get(&token, "/DataEntry/crControl/ExactD1").await;
    assert_eq!(existing[0]["Posted"], "N");
}

#[tokio::test]
async fn fault_rules_can_be_set_through_the_admin_endpoint() {
    let vp = spawn().await;
    let token = vp.token().await;
    let admin = format!("{}/__emulator/faults", vp.server.base_url());

    let (set, _) = vp
        .send(
            vp.http.put(&admin).json(
                &json!([{"path_prefix": "/vantagepoint/api/firm", "storm_429_remaining": 1}]),
            ),
        )
        .await;
    let (first, _) = vp.get(&token, "/firm").await;
    let (second, _) = vp.get(&token, "/firm").await;
    let (_, counters) = vp
        .send(
            vp.http
                .get(format!("{}/__emulator/counters", vp.server.base_url())),
        )
        .await;

    assert_eq!(set, StatusCode::OK);
    assert_eq!(
        (first, second),
        (StatusCode::TOO_MANY_REQUESTS, StatusCode::OK)
    );
    assert_eq!(counters["tokens"]["password_grants"], 1);
    assert_eq!(counters["faults_injected"]["429"], 1);
}
