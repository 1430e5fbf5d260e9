//! Fault injection through the shared middleware, per route.

use ledgerlink_emulators::FaultRule;
use reqwest::Method;

use crate::helpers::{DIVISION, spawn};

fn rule(method: Option<&str>, prefix: &str) -> FaultRule {
    FaultRule {
        method: method.map(str::to_owned),
        path_prefix: prefix.to_owned(),
        ..FaultRule::default()
    }
}

#[tokio::test]
async fn a_5xx_rule_answers_503_without_running_the_handler() {
    let env = spawn().await;
    env.emu.faults().add_rule(FaultRule {
        error_5xx_per_mille: 1000,
        ..rule(Some("GET"), "/api/v1/")
    });
    let r = env
        .api(Method::GET, "financial/GLAccounts?$select=ID")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 503);
    assert_eq!(env.emu.faults().injected().get("5xx"), Some(&1));
}

#[tokio::test]
async fn a_429_storm_answers_429_for_the_next_requests_then_recovers() {
    let env = spawn().await;
    env.emu.faults().add_rule(FaultRule {
        storm_429_remaining: 2,
        ..rule(None, &format!("/api/v1/{DIVISION}/financial"))
    });
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(
            env.api(Method::GET, "financial/GLAccounts?$select=ID")
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, vec![429, 429, 200]);
}

#[tokio::test]
async fn a_reset_before_the_handler_is_a_connection_error_and_nothing_is_created() {
    let env = spawn().await;
    let customer = env.customer("Acme");
    env.emu.faults().add_rule(FaultRule {
        reset_before_per_mille: 1000,
        ..rule(
            Some("POST"),
            &format!("/api/v1/{DIVISION}/salesentry/SalesEntries"),
        )
    });
    let sent = env
        .api(Method::POST, "salesentry/SalesEntries")
        .json(&env.sales_entry_body(&customer, "INV-RESET", "10"))
        .send()
        .await;
    assert!(sent.is_err(), "the client sees a connection error");
    assert_eq!(
        env.emu
            .count_sales_entries_with_your_ref(DIVISION, "INV-RESET"),
        0
    );
}

#[tokio::test]
async fn commit_then_drop_is_a_connection_error_but_the_entry_was_created() {
    let env = spawn().await;
    let customer = env.customer("Acme");
    env.emu.faults().add_rule(FaultRule {
        commit_then_drop_per_mille: 1000,
        ..rule(
            Some("POST"),
            &format!("/api/v1/{DIVISION}/salesentry/SalesEntries"),
        )
    });
    let sent = env
        .api(Method::POST, "salesentry/SalesEntries")
        .json(&env.sales_entry_body(&customer, "INV-DROP", "10"))
        .send()
        .await;
    assert!(sent.is_err(), "the client sees a connection error");
    assert_eq!(
        env.emu
            .count_sales_entries_with_your_ref(DIVISION, "INV-DROP"),
        1,
        "but the write was committed"
    );

    env.emu.faults().clear();
    let (status, body) = env
        .get_json("salesentry/SalesEntries?$filter=YourRef eq 'INV-DROP'&$select=EntryID")
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["d"]["results"].as_array().unwrap().len(),
        1,
        "a client that looks up by YourRef finds it"
    );
}

#[tokio::test]
async fn request_counters_and_the_admin_endpoints_work_over_http() {
    let env = spawn().await;
    env.api(Method::GET, "financial/GLAccounts?$select=ID")
        .send()
        .await
        .unwrap();
    assert!(env.emu.counters().count_matching("/api/v1/") >= 1);
    let rules = serde_json::json!([{"path_prefix": "/api/v1/", "error_5xx_per_mille": 1000}]);
    let r = env
        .http
        .put(format!("{}/__emulator/faults", env.base))
        .json(&rules)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(
        env.api(Method::GET, "financial/GLAccounts?$select=ID")
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        503
    );
    let counters: serde_json::Value = env
        .http
        .get(format!("{}/__emulator/counters", env.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counters["faults_injected"]["5xx"], 1);
    let seeded = env
        .http
        .post(format!(
            "{}/__emulator/seed/{DIVISION}/crm/Accounts",
            env.base
        ))
        .json(&serde_json::json!({"Name": "Seeded over HTTP", "Status": "C"}))
        .send()
        .await
        .unwrap();
    assert_eq!(seeded.status().as_u16(), 201);
    assert_eq!(
        env.emu
            .count_where(
                DIVISION,
                "crm/Accounts",
                "Name",
                &serde_json::json!("Seeded over HTTP")
            )
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn request_counters_name_the_entity_endpoint() {
    let env = spawn().await;
    let customer = env.customer("Acme");
    let (status, _) = env
        .post_json(
            "salesentry/SalesEntries",
            env.sales_entry_body(&customer, "INV-C", "1"),
            false,
        )
        .await;
    assert_eq!(status, 201);
    let counters = env.emu.counters();
    assert_eq!(
        counters
            .snapshot()
            .get("POST /api/v1/{division}/salesentry/SalesEntries"),
        Some(&1)
    );
    assert_eq!(
        counters.count_matching("POST /api/v1/{division}/salesentry/SalesEntries"),
        1
    );
}
