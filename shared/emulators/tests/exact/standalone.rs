//! The standalone binary and the deterministic demo data.

use std::process::Stdio;
use std::time::Duration;

use ledgerlink_emulators::exact::demo::{DemoSpec, generate};
use ledgerlink_emulators::exact::{ExactConfig, ExactEmulator};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test]
async fn the_demo_data_is_the_same_for_the_same_seed() {
    let a = ExactEmulator::new(ExactConfig::default());
    let b = ExactEmulator::new(ExactConfig::default());
    let spec = DemoSpec {
        seed: 9,
        ..DemoSpec::default()
    };
    let da = generate(&a, &spec).unwrap();
    let db = generate(&b, &spec).unwrap();
    assert_eq!(da.client_id, db.client_id);
    assert_eq!(da.sales_entry_ids, db.sales_entry_ids);
    assert_eq!(da.customer_ids.len(), 12);
    let paid = a
        .entities(spec.division, "cashflow/Receivables")
        .unwrap()
        .into_iter()
        .filter(|r| r["IsFullyPaid"] == true)
        .count();
    assert!(paid >= 4, "some receivables are paid: {paid}");
    let other = generate(
        &ExactEmulator::new(ExactConfig::default()),
        &DemoSpec {
            seed: 10,
            ..DemoSpec::default()
        },
    )
    .unwrap();
    assert_ne!(other.client_id, da.client_id);
}

#[tokio::test]
async fn the_standalone_binary_prints_its_base_url_and_demo_credentials_and_serves_the_api() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_exact-emulator"))
        .args(["--port", "0", "--seed", "7", "--stdin-watchdog"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let info: Value = serde_json::from_str(&line).unwrap();
    let base = info["base_url"].as_str().unwrap().to_owned();
    let demo = &info["demo"];
    assert!(
        demo["client_secret"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    let division = demo["division"].as_i64().unwrap();

    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let tokens: Value = http
        .post(format!("{base}/__emulator/tokens"))
        .json(&serde_json::json!({"client_id": demo["client_id"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let body: Value = http
        .get(format!(
            "{base}/api/v1/{division}/crm/Accounts?$select=ID,Name&$filter=Status eq 'C'"
        ))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["d"]["results"].as_array().unwrap().len(), 12);

    drop(child.stdin.take());
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "the binary stops when stdin closes");
}

#[tokio::test]
async fn with_base_url_every_link_names_the_given_host_while_the_binary_listens_locally() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_exact-emulator"))
        .args([
            "--port",
            "0",
            "--seed",
            "7",
            "--base-url",
            "https://start.exactonline.nl/",
            "--stdin-watchdog",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let info: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(info["base_url"], "https://start.exactonline.nl");
    assert_eq!(
        info["token_url"],
        "https://start.exactonline.nl/api/oauth2/token"
    );
    let listening = info["listening"].as_str().unwrap().to_owned();
    assert!(listening.starts_with("http://127.0.0.1:"), "{listening}");
    let division = info["demo"]["division"].as_i64().unwrap();

    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let tokens: Value = http
        .post(format!("{listening}/__emulator/tokens"))
        .json(&serde_json::json!({"client_id": info["demo"]["client_id"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let body: Value = http
        .get(format!(
            "{listening}/api/v1/{division}/crm/Accounts?$filter=Status eq 'C'&$top=1"
        ))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let row = &body["d"]["results"][0];
    let uri = row["__metadata"]["uri"].as_str().unwrap();
    assert!(
        uri.starts_with(&format!(
            "https://start.exactonline.nl/api/v1/{division}/crm/Accounts(guid'"
        )),
        "{uri}"
    );
    assert!(
        row["BankAccounts"]["__deferred"]["uri"]
            .as_str()
            .unwrap()
            .starts_with("https://start.exactonline.nl/")
    );
    drop(child.stdin.take());
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
}

#[tokio::test]
async fn a_base_url_that_is_not_an_http_url_is_refused_at_start() {
    for bad in [
        "ftp://start.exactonline.nl",
        "start.exactonline.nl",
        "https://x.nl/?a=1",
    ] {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_exact-emulator"))
            .args(["--port", "0", "--base-url", bad])
            .stdin(Stdio::null())
            .output()
            .await
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--base-url"),
            "{bad}"
        );
    }
}
