use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn another_process_can_seed_and_post_through_the_admin_endpoints() {
    let vp = spawn().await;
    let admin = format!("{}/__emulator", vp.server.base_url());

    let (firm_status, firm) = vp
        .send(vp.http.post(format!("{admin}/firms")).json(&json!({"name": "Admin Seeded B.V.", "is_client": true, "available_to_accounting": true})))
        .await;
    let (invoice_status, posting) = vp
        .send(vp.http.post(format!("{admin}/post/invoice")).json(&json!({
            "invoice": "000000030001", "wbs1": "2026-001", "trans_date": "2026-06-15",
            "lines": [{"section": "F", "account": "40100", "amount": "150.00", "tax_codes": ["V21"]}]
        })))
        .await;
    let (refused, message) = vp
        .send(vp.http.post(format!("{admin}/post/invoice")).json(&json!({"invoice": "000000030002", "wbs1": "NOPE", "lines": [{"section": "F", "account": "40100", "amount": "1"}]})))
        .await;

    assert_eq!(firm_status, StatusCode::OK, "{firm}");
    let id = firm["client_ids"][0].as_str().unwrap();
    assert_eq!(vp.emulator.firm(id).unwrap()["Name"], "Admin Seeded B.V.");
    assert_eq!(invoice_status, StatusCode::OK, "{posting}");
    assert_eq!(posting["period"], 202606);
    assert!(
        vp.emulator
            .ledger_rows("IN")
            .iter()
            .any(|r| r["Invoice"] == "000000030001" && r["PostSeq"] == posting["post_seq"])
    );
    assert_eq!(refused, StatusCode::BAD_REQUEST);
    assert!(message["Message"].as_str().unwrap().contains("NOPE"));
}

#[tokio::test]
async fn the_standalone_binary_serves_demo_data_and_prints_its_base_url() {
    use tokio::io::{AsyncBufReadExt, BufReader};

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_vantagepoint-emulator"))
        .args(["--port", "0", "--seed", "7"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut base = None;
    while let Ok(Some(line)) =
        tokio::time::timeout(std::time::Duration::from_secs(20), lines.next_line())
            .await
            .unwrap()
    {
        if let Some(url) = line.trim().strip_prefix("base URL:") {
            base = Some(url.trim().to_owned());
            break;
        }
    }
    let base = base.expect("the banner prints the base URL");
    let http = reqwest::Client::new();
    let form = [
        ("Username", "integration"),
        ("Password", "integration-password"),
        ("grant_type", "password"),
        ("Integrated", "N"),
        ("database", "C0000040060P_1_LEDGERLINK"),
        ("Client_Id", "ledgerlink-client"),
        ("client_secret", "ledgerlink-secret"),
    ];

    let token: serde_json::Value = http
        .post(format!("{base}/token"))
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let firms: serde_json::Value = http
        .get(format!("{base}/firm"))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    child.kill().await.unwrap();

    assert!(rows(&firms).len() >= 6);
}
