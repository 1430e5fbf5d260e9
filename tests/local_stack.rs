//! The local stack end to end, through the built binary (`ledgerlink`): one round syncs both ways, the API
//! and the operator page answer while the stack runs and Ctrl-C stops it cleanly, and a second run on the
//! same data dir sends nothing again. Every run uses its own temp data dir and free ports (`--port 0`).

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const BINARY: &str = env!("CARGO_BIN_EXE_ledgerlink");

fn command(data_dir: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(BINARY);
    cmd.arg("--port")
        .arg("0")
        .arg("--data-dir")
        .arg(data_dir)
        .args(extra)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Runs `--once` and returns stdout and the summary file.
async fn run_once(data_dir: &Path) -> (String, Value) {
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        command(data_dir, &["--once"]).output(),
    )
    .await
    .expect("the round finishes within two minutes")
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    let summary = std::fs::read_to_string(data_dir.join("summary.json")).unwrap();
    (stdout, serde_json::from_str(&summary).unwrap())
}

fn n(v: &Value, path: &[&str]) -> u64 {
    path.iter().fold(v, |v, k| &v[*k]).as_u64().unwrap_or(0)
}

fn flow<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["flows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["flow"] == name)
        .unwrap()
}

#[tokio::test]
async fn local_stack_runs_one_round_and_syncs_both_ways() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();

    // Act
    let (stdout, report) = run_once(dir.path()).await;

    // Assert: progress and summary on the console.
    for flow in ["firm-sync", "invoice-out", "voucher-out", "payment-in"] {
        assert!(
            stdout.contains(&format!("  {flow}")),
            "no progress line for {flow}:\n{stdout}"
        );
    }
    assert!(stdout.contains("Summary after round 1:"), "{stdout}");
    assert!(
        stdout.contains("Exact Online :") && stdout.contains("Vantagepoint :"),
        "{stdout}"
    );
    assert!(
        stdout.contains("/#key=llk_demo_"),
        "the page link carries the key:\n{stdout}"
    );
    // VP → Exact: accounts, sales, purchase and journal entries landed in the Exact emulator.
    let summary = &report["summary"];
    assert!(
        n(summary, &["emulators", "exact_accounts"]) >= 5,
        "{summary:#}"
    );
    assert!(
        n(summary, &["emulators", "exact_sales_entries"]) >= 2,
        "{summary:#}"
    );
    assert!(
        n(summary, &["emulators", "exact_purchase_entries"]) >= 2,
        "{summary:#}"
    );
    assert!(
        n(summary, &["emulators", "exact_journal_entries"]) >= 1,
        "{summary:#}"
    );
    assert_eq!(
        n(summary, &["emulators", "exact_sales_entries"]),
        n(summary, &["synced", "invoice"]) + n(summary, &["synced", "credit-memo"])
    );
    // Exact → VP: the payments registered after the invoice round came back as a cash receipt and payments.
    assert!(!report["payments_registered"].as_array().unwrap().is_empty());
    assert!(
        n(summary, &["emulators", "vp_cash_receipts"]) >= 1,
        "{summary:#}"
    );
    assert_eq!(
        n(summary, &["synced", "cash-receipt"]),
        n(summary, &["emulators", "vp_cash_receipts"])
    );
    assert!(
        n(summary, &["emulators", "vp_ap_payments"])
            + n(summary, &["emulators", "vp_expense_payments"])
            >= 1
    );
    // The negative invoice is refused, in Error, and listed with why.
    let errors = summary["errors"].as_array().unwrap();
    assert!(
        errors.iter().any(|e| e["object_type"] == "invoice"
            && e["message"].as_str().unwrap().contains("negative")),
        "{errors:#?}"
    );
    assert!(stdout.contains("which is negative"), "{stdout}");
    // Issue 11: every demo case came out as meant, every refusal is one of the deliberate ones, and the
    // error e-mail is a file in the mail folder.
    let cases = summary["cases"].as_array().unwrap();
    assert!(
        cases.len() >= 10 && cases.iter().all(|c| c["as_meant"] == true),
        "{cases:#?}"
    );
    assert!(
        errors.iter().all(|e| !e["deliberate"].is_null()),
        "{errors:#?}"
    );
    assert!(
        !summary["mails"].as_array().unwrap().is_empty(),
        "{summary:#}"
    );
    assert_eq!(
        n(summary, &["statuses", "pending"]),
        0,
        "nothing left in flight: {summary:#}"
    );
    assert!(
        !report["flows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| !f["failure"].is_null())
    );
}

#[tokio::test]
async fn the_api_serves_the_page_and_authenticated_requests_and_exact_webhooks_while_the_stack_runs()
 {
    // Arrange: the long-running mode, with a schedule far away.
    let dir = tempfile::tempdir().unwrap();
    let mut child = command(dir.path(), &["--interval-secs", "3600"])
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = String::new();
    let mut page = None;
    let wait = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            seen.push_str(&line);
            seen.push('\n');
            if let Some(url) = line.split_whitespace().find(|w| w.contains("/#key=")) {
                page = Some(url.to_owned());
            }
            if line.starts_with("Next round in") {
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(120), wait)
        .await
        .expect("the first round finishes");
    let page = page.unwrap_or_else(|| panic!("no page link in:\n{seen}"));
    let (base, key) = page.split_once("/#key=").unwrap();
    let http = reqwest::Client::new();

    // Act
    let html = http.get(format!("{base}/")).send().await.unwrap();
    let html_status = html.status();
    let html = html.text().await.unwrap();
    let counts = http
        .get(format!("{base}/api/objects/counts"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let counts_status = counts.status();
    let counts: Value = counts.json().await.unwrap();
    let anonymous = http
        .get(format!("{base}/api/objects/counts"))
        .send()
        .await
        .unwrap()
        .status();

    // Assert
    assert_eq!(html_status, 200);
    assert!(html.contains("Ledgerlink"), "{html}");
    assert_eq!(counts_status, 200, "{counts}");
    assert!(n(&counts, &["total"]) > 10, "{counts}");
    assert!(n(&counts, &["counts", "success"]) > 0, "{counts}");
    assert_eq!(anonymous, 401);

    // Act 2: a bookkeeper pays the still-open voucher in Exact (the emulator's admin surface); the
    // BankEntries webhook reaches the API, whose Discover message the payment-in worker drains.
    let exact = seen
        .lines()
        .find(|l| l.contains("Exact Online emulator"))
        .and_then(|l| l.split_whitespace().find(|w| w.starts_with("http://")))
        .unwrap()
        .to_owned();
    let objects = |object_type: &'static str| {
        let http = http.clone();
        let url = format!("{base}/api/objects?type={object_type}&status=success");
        let key = key.to_owned();
        async move {
            let got: Value = http
                .get(url)
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            got["items"].as_array().unwrap().clone()
        }
    };
    let payments_before = objects("ap-payment").await.len();
    let vouchers = objects("ap-voucher").await;
    let open = vouchers
        .iter()
        .find(|v| v["key"] == "V00001.V0001")
        .unwrap();
    let entry = open["target_id"].as_str().unwrap();
    let paid = http
        .post(format!("{exact}/__emulator/payments"))
        .json(&serde_json::json!({ "division": 123456, "entry_id": entry }))
        .send()
        .await
        .unwrap();
    assert!(paid.status().is_success(), "{:?}", paid.text().await);
    let arrived = async {
        while objects("ap-payment").await.len() == payments_before {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), arrived)
        .await
        .expect("the webhook's payment is synced within 30 s");

    // Assert 2: one more AP payment synced to VP, without waiting for the schedule (an hour away).
    assert_eq!(objects("ap-payment").await.len(), payments_before + 1);

    // Act 3: Ctrl-C.
    let pid = child.id().unwrap().to_string();
    let signalled = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(signalled.success());
    let mut rest = String::new();
    let drain = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            rest.push_str(&line);
            rest.push('\n');
        }
        child.wait().await.unwrap()
    };
    let status = tokio::time::timeout(Duration::from_secs(30), drain)
        .await
        .expect("the stack stops within 30 s");

    // Assert 3: a clean stop.
    assert!(status.success(), "{status:?}\n{rest}");
    assert!(rest.contains("Stopped."), "{rest}");
}

#[tokio::test]
async fn running_twice_creates_no_duplicates() {
    // Arrange: a first run.
    let dir = tempfile::tempdir().unwrap();
    let (first_out, first) = run_once(dir.path()).await;

    // Act: a second run on the same data dir.
    let (second_out, second) = run_once(dir.path()).await;

    // Assert: nothing was sent again; Ledgerlink's record is unchanged.
    for name in ["firm-sync", "invoice-out", "voucher-out", "payment-in"] {
        assert_eq!(
            n(flow(&second, name), &["processed"]),
            0,
            "{name} processed work again:\n{second_out}"
        );
    }
    let added = &second["summary"]["emulators"];
    for (what, count) in added.as_object().unwrap() {
        assert_eq!(
            count.as_u64(),
            Some(0),
            "the second run added {what}: {added}"
        );
    }
    assert_eq!(first["summary"]["synced"], second["summary"]["synced"]);
    assert_eq!(first["summary"]["statuses"], second["summary"]["statuses"]);
    assert!(
        second_out.contains("Continuing on an earlier run's state"),
        "{second_out}"
    );
    // The page link (and its key) still works after a restart.
    let link = |out: &str| {
        out.lines()
            .find(|l| l.contains("/#key="))
            .and_then(|l| l.split("/#key=").nth(1))
            .map(str::to_owned)
    };
    assert_eq!(link(&first_out), link(&second_out));
}
