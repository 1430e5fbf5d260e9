use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::helpers::*;

/// A cash receipt paying `amount` on the first demo invoice, as the integration builds it.
fn receipt(vp: &Vp, batch: &str, total: &str, amount: &str) -> Value {
    json!({
        "Batch": batch, "Description": "Payment invoice", "Recurring": "N", "Total": total, "DefaultBank": "EURBANK",
        "Selected": "N", "Posted": "N", "Creator": "integration", "Period": 202606, "Company": "A0",
        "crMaster": [{"Batch": batch, "RefNo": "PAY1", "TransDate": "2026-06-15T00:00:00.000", "TransComment": "Exact payment",
                      "Posted": "N", "BankCode": "EURBANK", "Seq": 1, "CurrencyCode": "EUR", "Status": "A"}],
        "crDetail": [{"Batch": batch, "RefNo": "PAY1", "PKey": "PK1", "Seq": 1, "Description": vp.demo.invoice_numbers[0],
                      "WBS1": "2026-001", "WBS2": "01", "WBS3": " ", "Account": "12100", "Amount": amount,
                      "Interest": "N", "TaxBasis": 0, "Invoice": vp.demo.invoice_numbers[0]}]
    })
}

fn post_parms(batch: &str) -> Value {
    json!({"parms": {"batch": batch, "clientcompany": "A0", "description": "Exact payment", "period": "202606", "transtype": "CR"}})
}

/// Decodes PostTransFile's answer: a JSON string whose content is itself JSON.
fn decode_post(body: &Value) -> Value {
    let inner = body
        .as_str()
        .unwrap_or_else(|| panic!("PostTransFile must answer a JSON string, got {body}"));
    serde_json::from_str(inner).unwrap()
}

#[tokio::test]
async fn a_balanced_cash_receipt_batch_is_created_and_echoed_as_an_array() {
    let vp = spawn().await;
    let token = vp.token().await;

    let (status, body) = vp
        .post(
            &token,
            "/DataEntry/crControl",
            &receipt(&vp, "Exact123", "100.00", "100.00"),
        )
        .await;

    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body[0]["Batch"], "Exact123");
    assert_eq!(body[0]["DiffTotal"], 0);
    assert_eq!(body[0]["Posted"], "N");
    let (_, master) = vp.get(&token, "/DataEntry/crMaster/Exact123").await;
    let (_, detail) = vp.get(&token, "/DataEntry/crDetail/Exact123").await;
    assert_eq!(master[0]["RefNo"], "PAY1");
    assert_eq!(detail[0]["Invoice"], vp.demo.invoice_numbers[0].as_str());
    assert_eq!(vp.emulator.cash_receipts().len(), 1);
}

#[tokio::test]
async fn an_out_of_balance_batch_is_refused_with_a_clear_message() {
    let vp = spawn().await;
    let token = vp.token().await;

    let (status, body) = vp
        .post(
            &token,
            "/DataEntry/crControl",
            &receipt(&vp, "Exact124", "100.00", "99.99"),
        )
        .await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["Message"].as_str().unwrap().contains("out of balance"),
        "{body}"
    );
    assert!(vp.emulator.cash_receipts().is_empty());
}

#[tokio::test]
async fn an_unknown_bank_or_a_closed_period_is_refused() {
    let vp = spawn().await;
    let token = vp.token().await;
    let mut bad_bank = receipt(&vp, "Exact125", "10", "10");
    bad_bank["DefaultBank"] = json!("NOBANK");
    bad_bank["crMaster"][0]["BankCode"] = json!("NOBANK");
    let mut closed = receipt(&vp, "Exact126", "10", "10");
    closed["Period"] = json!(202512);

    let (bank_status, bank_body) = vp.post(&token, "/DataEntry/crControl", &bad_bank).await;
    let (closed_status, closed_body) = vp.post(&token, "/DataEntry/crControl", &closed).await;

    assert_eq!(bank_status, StatusCode::BAD_REQUEST);
    assert!(bank_body["Message"].as_str().unwrap().contains("NOBANK"));
    assert_eq!(closed_status, StatusCode::BAD_REQUEST);
    assert!(closed_body["Message"].as_str().unwrap().contains("202512"));
}

#[tokio::test]
async fn post_trans_file_answers_a_json_string_and_posts_into_the_cr_ledger() {
    let vp = spawn().await;
    let token = vp.token().await;
    let invoice = vp.demo.invoice_numbers[0].clone();
    let before = vp.emulator.invoice_balance(&invoice).unwrap();
    vp.post(
        &token,
        "/DataEntry/crControl",
        &receipt(&vp, "Exact200", "50", "50"),
    )
    .await;
    vp.post(
        &token,
        "/DataEntry/crControl",
        &receipt(&vp, "Exact201", "25", "25"),
    )
    .await;

    let (status, first) = vp
        .put(&token, "/DataEntry/PostTransFile", &post_parms("Exact200"))
        .await;
    let (_, second) = vp
        .put(
            &token,
            "/DataEntry/PostTransFile",
            &json!({"parms": [{"batch": "Exact201", "period": "202606", "transtype": "CR"}]}),
        )
        .await;

    assert_eq!(status, StatusCode::OK);
    let first = decode_post(&first);
    let second = decode_post(&second);
    assert_eq!(
        (first["typeList"].as_str(), first["retList"].as_str()),
        (Some("CR"), Some("1"))
    );
    assert_eq!(first["periodList"], "202606");
    let seq1: u32 = first["postseqList"].as_str().unwrap().parse().unwrap();
    let seq2: u32 = second["postseqList"].as_str().unwrap().parse().unwrap();
    assert!(seq2 > seq1, "PostSeq is monotonic per period");
    let (_, ledger) = vp
        .get(
            &token,
            &format!(
                "/PSALedger/CR?{}",
                term(0, "Batch", "=", "Exact200", "string")
            ),
        )
        .await;
    assert!(
        rows(&ledger)
            .iter()
            .any(|r| r["Invoice"] == invoice.as_str() && r["PostSeq"] == seq1)
    );
    assert_eq!(
        vp.emulator.invoice_balance(&invoice).unwrap(),
        before - Decimal::from(75)
    );
    let (_, landing) = vp.get(&token, "/DataEntry/crLanding").await;
    assert!(
        rows(&landing)
            .iter()
            .all(|l| l["PostStatus"] == "P" && l["RawPeriod"] == 202606)
    );
}

#[tokio::test]
async fn a_duplicate_batch_id_is_refused_before_and_after_posting() {
    let vp = spawn().await;
    let token = vp.token().await;
    let body = receipt(&vp, "Exact300", "10", "10");
    vp.post(&token, "/DataEntry/crControl", &body).await;

    let (unposted_dup, message) = vp.post(&token, "/DataEntry/crControl", &body).await;
    vp.put(&token, "/DataEntry/PostTransFile", &post_parms("Exact300"))
        .await;
    let (posted_dup, _) = vp.post(&token, "/DataEntry/crControl", &body).await;
    let (_, repost) = vp
        .put(&token, "/DataEntry/PostTransFile", &post_parms("Exact300"))
        .await;

    assert_eq!(unposted_dup, StatusCode::BAD_REQUEST);
    assert!(
        message["Message"]
            .as_str()
            .unwrap()
            .contains("already exists")
    );
    assert_eq!(posted_dup, StatusCode::BAD_REQUEST);
    assert_eq!(decode_post(&repost)["retList"], "0");
    assert_eq!(vp.emulator.cash_receipts().len(), 1);
    assert_eq!(
        vp.emulator
            .ledger_rows("CR")
            .iter()
            .filter(|r| r["AutoEntry"] == "N")
            .count(),
        1
    );
}

#[tokio::test]
async fn cash_receipts_are_inspectable_through_the_admin_endpoint() {
    let vp = spawn().await;
    let token = vp.token().await;
    vp.post(
        &token,
        "/DataEntry/crControl",
        &receipt(&vp, "Exact400", "10", "10"),
    )
    .await;

    let (status, body) = vp
        .send(
            vp.http
                .get(format!("{}/__emulator/cash-receipts", vp.server.base_url())),
        )
        .await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(body[0]["batch"], "Exact400");
    assert_eq!(body[0]["posted"], false);
}

#[tokio::test]
async fn a_batch_without_period_lands_in_the_callers_active_period() {
    let vp = spawn().await;
    let token = vp.token().await;
    let mut body = receipt(&vp, "Exact500", "10", "10");
    body.as_object_mut().unwrap().remove("Period");

    vp.put(&token, "/Settings/ActivePeriod/202605", &json!({}))
        .await;
    let (status, created) = vp.post(&token, "/DataEntry/crControl", &body).await;
    let (_, posted) = vp
        .put(
            &token,
            "/DataEntry/PostTransFile",
            &json!({"parms": {"batch": "Exact500", "transtype": "CR"}}),
        )
        .await;

    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created[0]["Period"], 202605);
    assert_eq!(decode_post(&posted)["periodList"], "202605");
}

#[tokio::test]
async fn posting_into_a_period_closed_after_entry_is_refused_in_the_ret_list() {
    let vp = spawn().await;
    let token = vp.token().await;
    vp.post(
        &token,
        "/DataEntry/crControl",
        &receipt(&vp, "Exact600", "10", "10"),
    )
    .await;
    vp.emulator.close_period(202606).unwrap();

    let (status, answer) = vp
        .put(&token, "/DataEntry/PostTransFile", &post_parms("Exact600"))
        .await;

    assert_eq!(status, StatusCode::OK);
    let inner = decode_post(&answer);
    assert_eq!(inner["retList"], "0");
    assert!(inner["msg"].as_str().unwrap().contains("closed"));
    assert!(vp.emulator.ledger_rows("CR").is_empty());
}

#[tokio::test]
async fn an_unposted_batch_can_be_deleted_but_a_posted_one_cannot() {
    let vp = spawn().await;
    let token = vp.token().await;
    vp.post(
        &token,
        "/DataEntry/crControl",
        &receipt(&vp, "Exact700", "10", "10"),
    )
    .await;
    vp.post(
        &token,
        "/DataEntry/crControl",
        &receipt(&vp, "Exact701", "10", "10"),
    )
    .await;
    vp.put(&token, "/DataEntry/PostTransFile", &post_parms("Exact701"))
        .await;

    let (deleted, _) = vp
        .send(
            vp.http
                .delete(format!("{}/DataEntry/crControl/Exact700", vp.base))
                .bearer_auth(&token),
        )
        .await;
    let (refused, _) = vp
        .send(
            vp.http
                .delete(format!("{}/DataEntry/crControl/Exact701", vp.base))
                .bearer_auth(&token),
        )
        .await;

    assert_eq!(deleted, StatusCode::OK);
    assert_eq!(refused, StatusCode::BAD_REQUEST);
    let batches: Vec<String> = vp
        .emulator
        .cash_receipts()
        .into_iter()
        .map(|c| c.batch)
        .collect();
    assert_eq!(batches, vec!["Exact701"]);
}

#[tokio::test]
async fn over_long_batch_ref_no_or_description_are_refused_like_sql_server_truncation() {
    let vp = spawn().await;
    let token = vp.token().await;
    let long_batch = receipt(&vp, "Exact3f2504e04f8941d39a0c0305e82c3301", "10", "10");
    let mut long_ref = receipt(&vp, "Exact800", "10", "10");
    long_ref["crMaster"][0]["RefNo"] = json!("PAYMENT-REFERENCE-1");
    long_ref["crDetail"][0]["RefNo"] = json!("PAYMENT-REFERENCE-1");
    let mut long_description = receipt(&vp, "Exact801", "10", "10");
    long_description["Description"] = json!("Payment invoice 000000010800 from Acme Infra B.V.");

    let (batch, batch_body) = vp.post(&token, "/DataEntry/crControl", &long_batch).await;
    let (refno, refno_body) = vp.post(&token, "/DataEntry/crControl", &long_ref).await;
    let (description, _) = vp
        .post(&token, "/DataEntry/crControl", &long_description)
        .await;

    assert_eq!(batch, StatusCode::BAD_REQUEST);
    assert!(batch_body["Message"].as_str().unwrap().contains("32"));
    assert_eq!(refno, StatusCode::BAD_REQUEST);
    assert!(
        refno_body["Message"]
            .as_str()
            .unwrap()
            .contains("truncated")
    );
    assert_eq!(description, StatusCode::BAD_REQUEST);
    assert!(vp.emulator.cash_receipts().is_empty());
}

#[tokio::test]
async fn a_receipt_in_another_currency_than_its_bank_or_for_an_unknown_invoice_is_refused() {
    let vp = spawn().await;
    let token = vp.token().await;
    let mut usd_on_eur_bank = receipt(&vp, "Exact900", "10", "10");
    usd_on_eur_bank["crMaster"][0]["CurrencyCode"] = json!("USD");
    let mut unknown_invoice = receipt(&vp, "Exact901", "10", "10");
    unknown_invoice["crDetail"][0]["Invoice"] = json!("999999999999");

    let (currency, currency_body) = vp
        .post(&token, "/DataEntry/crControl", &usd_on_eur_bank)
        .await;
    let (invoice, invoice_body) = vp
        .post(&token, "/DataEntry/crControl", &unknown_invoice)
        .await;

    assert_eq!(currency, StatusCode::BAD_REQUEST);
    assert!(
        currency_body["Message"]
            .as_str()
            .unwrap()
            .contains("EURBANK")
    );
    assert_eq!(invoice, StatusCode::BAD_REQUEST);
    assert!(
        invoice_body["Message"]
            .as_str()
            .unwrap()
            .contains("999999999999")
    );
}
