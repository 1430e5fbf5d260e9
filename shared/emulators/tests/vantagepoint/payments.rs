use ledgerlink_emulators::vantagepoint::PaymentKind;
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::helpers::*;

fn pp_body(vendor: &str, voucher: &str, amount: Decimal, check_no: &str) -> Value {
    json!({
        "Period": 202606, "PostSeq": 0, "UserName": "integration", "TransType": "PP", "Completed": "N",
        "PaymentDate": "2026-06-15T00:00:00.000", "CheckDate": "2026-06-15T00:00:00.000", "Company": "A0",
        "APPPCHECKS": [{"Period": "202606", "Seq": "0", "Vendor": vendor, "Voucher": voucher, "Invoice": "SUP-5000",
            "InvoiceDate": "2026-06-15T00:00:00.000", "LiabCode": "AP", "WBS1": "2026-001", "WBS2": "", "WBS3": "",
            "Account": "21000", "Org": "A0:01:10", "Amount": amount.to_string(), "Payment": amount.to_string(),
            "PayTerms": "30", "BankCode": "EURBANK", "CheckNo": check_no, "CheckDate": "2026-06-15T00:00:00.000"}]
    })
}

fn ep_body(employee: &str, voucher: &str, amount: Decimal) -> Value {
    json!({
        "TransType": "EP", "Period": 202606, "PaymentDate": "2026-06-15T00:00:00.000",
        "CheckDate": "2026-06-15T00:00:00.000", "Company": "A0", "PostSeq": "1",
        "EXCHECKS": [{"DetailType": "E", "Period": 202606, "Employee": employee, "Voucher": voucher, "BankCode": "EURBANK",
            "Org": "A0:01:10", "Amount": amount.to_string(), "CheckAmt": amount.to_string(),
            "CheckDate": "2026-06-15T00:00:00.000", "ReportDate": "2026-06-15T00:00:00.000", "Seq": 1,
            "CheckNo": "EXACT-EP-1", "CheckNoRef": "EXACT-EP-1"}]
    })
}

#[tokio::test]
async fn a_vendor_payment_reduces_the_voucher_and_appears_in_the_pp_ledger() {
    let vp = spawn().await;
    let token = vp.token().await;
    let vendor = vp.demo.vendors[0].clone();
    let open = vp.emulator.voucher_outstanding(&vendor, "V0001").unwrap();
    let part = (open / Decimal::TWO).round_dp(2);

    let (status, body) = vp
        .post(
            &token,
            "/ledger/PP",
            &pp_body(&vendor, "V0001", part, "EXACT-PAY-1"),
        )
        .await;
    let (vision_status, _) = vp
        .post(
            &token,
            &format!("{}/ledger/PP", vp.vision()),
            &pp_body(&vendor, "V0001", Decimal::ONE, "EXACT-PAY-2"),
        )
        .await;

    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(vision_status, StatusCode::CREATED);
    assert_eq!(
        vp.emulator.voucher_outstanding(&vendor, "V0001").unwrap(),
        open - part - Decimal::ONE
    );
    let (_, ledger) = vp
        .get(
            &token,
            &format!(
                "/PSALedger/PP?{}",
                term(0, "Voucher", "=", "V0001", "string")
            ),
        )
        .await;
    assert!(
        rows(&ledger)
            .iter()
            .any(|r| r["RefNo"] == "EXACT-PAY-1" && r["Vendor"] == vendor.as_str())
    );
    let payments = vp.emulator.payments();
    assert_eq!(payments.len(), 2);
    assert!(payments.iter().all(|p| p.kind == PaymentKind::Vendor));
    assert_eq!(payments[0].check_no, "EXACT-PAY-1");
}

#[tokio::test]
async fn paying_more_than_the_open_balance_or_an_unknown_voucher_is_refused() {
    let vp = spawn().await;
    let token = vp.token().await;
    let vendor = vp.demo.vendors[0].clone();
    let open = vp.emulator.voucher_outstanding(&vendor, "V0001").unwrap();

    let (over, message) = vp
        .post(
            &token,
            "/ledger/PP",
            &pp_body(&vendor, "V0001", open + Decimal::ONE, "X"),
        )
        .await;
    let (unknown, _) = vp
        .post(
            &token,
            "/ledger/PP",
            &pp_body(&vendor, "V9999", Decimal::ONE, "X"),
        )
        .await;

    assert_eq!(over, StatusCode::BAD_REQUEST);
    assert!(message["Message"].as_str().unwrap().contains("exceeds"));
    assert_eq!(unknown, StatusCode::BAD_REQUEST);
    assert_eq!(
        vp.emulator.voucher_outstanding(&vendor, "V0001").unwrap(),
        open
    );
    assert!(vp.emulator.payments().is_empty());
}

#[tokio::test]
async fn a_later_post_trans_file_for_a_pp_payment_is_accepted() {
    let vp = spawn().await;
    let token = vp.token().await;
    let vendor = vp.demo.vendors[0].clone();
    let (_, body) = vp
        .post(
            &token,
            "/ledger/PP",
            &pp_body(&vendor, "V0001", Decimal::TEN, "EXACT-PAY-3"),
        )
        .await;
    let batch = body[0]["Batch"].as_str().unwrap().to_owned();

    let (status, answer) = vp
        .put(
            &token,
            "/DataEntry/PostTransFile",
            &json!({"parms": {"batch": batch, "period": "202606", "transtype": "PP"}}),
        )
        .await;

    assert_eq!(status, StatusCode::OK);
    let inner: Value = serde_json::from_str(answer.as_str().unwrap()).unwrap();
    assert_eq!(inner["retList"], "1");
    assert_eq!(inner["postseqList"], body[0]["PostSeq"].to_string());
    assert_eq!(
        vp.emulator.payments().len(),
        1,
        "posting again does not pay twice"
    );
}

#[tokio::test]
async fn an_expense_report_gets_its_paid_status_only_once_fully_paid() {
    let vp = spawn().await;
    let token = vp.token().await;
    let total = vp
        .emulator
        .expense_report("E001", "ER0001")
        .unwrap()
        .outstanding;
    let first = (total / Decimal::TWO).round_dp(2);

    let (status, body) = vp
        .post(
            &token,
            &format!("{}/ledger/EP", vp.vision()),
            &ep_body("E001", "ER0001", first),
        )
        .await;
    let partial = vp.emulator.expense_report("E001", "ER0001").unwrap();
    let (_, _) = vp
        .post(
            &token,
            "/ledger/EP",
            &ep_body("E001", "ER0001", total - first),
        )
        .await;
    let paid = vp.emulator.expense_report("E001", "ER0001").unwrap();

    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(!partial.paid);
    assert_eq!(partial.outstanding, total - first);
    assert!(paid.paid);
    assert_eq!(paid.outstanding, Decimal::ZERO);
    let (_, master) = vp
        .get(
            &token,
            &format!("/DataEntry/exMaster/{}", vp.demo.expense_reports[0].batch),
        )
        .await;
    assert_eq!(master[0]["PaidStatus"], "Y");
    assert_eq!(
        master[0]["AmountPaid"]
            .to_string()
            .parse::<Decimal>()
            .unwrap(),
        total
    );
    let (_, ledger) = vp
        .get(
            &token,
            &format!(
                "/PSALedger/EP?{}",
                term(0, "Employee", "=", "E001", "string")
            ),
        )
        .await;
    assert!(rows(&ledger).len() >= 2);
}

#[tokio::test]
async fn a_caller_chosen_payment_batch_is_kept_and_cannot_be_reused() {
    let vp = spawn().await;
    let token = vp.token().await;
    let vendor = vp.demo.vendors[0].clone();
    let mut body = pp_body(&vendor, "V0001", Decimal::ONE, "EXACT-PAY-9");
    body["Batch"] = json!("ExactPay9");

    let (first, created) = vp.post(&token, "/ledger/PP", &body).await;
    let (again, message) = vp.post(&token, "/ledger/PP", &body).await;
    let (_, ledger) = vp
        .get(
            &token,
            &format!(
                "/PSALedger/PP?{}",
                term(0, "Batch", "=", "ExactPay9", "string")
            ),
        )
        .await;

    assert_eq!(first, StatusCode::CREATED);
    assert_eq!(created[0]["Batch"], "ExactPay9");
    assert_eq!(again, StatusCode::BAD_REQUEST);
    assert!(
        message["Message"]
            .as_str()
            .unwrap()
            .contains("already exists")
    );
    assert!(!rows(&ledger).is_empty());
    assert_eq!(vp.emulator.payments().len(), 1);
}
