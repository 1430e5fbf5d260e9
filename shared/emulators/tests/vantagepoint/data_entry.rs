//! DataEntry for every transaction type ({ap,cr,cv,ex,in,je,ts} Control/Master/Detail), each type's balance
//! rules, PostTransFile into the ledger, and `POST /ledger/{TT}` (reference §5.2–5.4).

use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::helpers::*;

const DATE: &str = "2026-06-15T00:00:00.000";

fn post_parms(tt: &str, batch: &str) -> Value {
    json!({"parms": {"batch": batch, "clientcompany": "A0", "description": "test", "period": "202606", "transtype": tt}})
}

fn decode_post(body: &Value) -> Value {
    serde_json::from_str(body.as_str().expect("PostTransFile answers a JSON string")).unwrap()
}

fn batch_filter(batch: &str) -> String {
    term(0, "Batch", "=", batch, "string")
}

fn dec(v: &Value) -> Decimal {
    match v {
        Value::String(s) => s.parse().unwrap(),
        other => other.to_string().parse().unwrap(),
    }
}

/// A minimal valid batch of each DataEntry type, totalling 100 (hours for timesheets).
fn batch_of(vp: &Vp, tt: &str, batch: &str) -> Value {
    let project = vp.demo.projects[0].clone();
    let vendor = vp.demo.vendors[0].clone();
    let employee = vp.demo.employees[0].clone();
    match tt {
        "ap" => json!({"Batch": batch, "Description": "Vouchers", "Total": 100, "Period": 202606,
            "apMaster": [{"MasterPKey": "V1", "Vendor": vendor, "Invoice": "SUP-1", "InvoiceDate": DATE, "TransDate": DATE, "Amount": 100}],
            "apDetail": [{"MasterPKey": "V1", "PKey": "L1", "Account": "60100", "Amount": 60, "Description": "rent"},
                         {"MasterPKey": "V1", "PKey": "L2", "Account": "65100", "Amount": 40, "WBS1": project, "WBS2": "01"}]}),
        "cr" => {
            json!({"Batch": batch, "Description": "Receipts", "Total": 100, "Period": 202606, "DefaultBank": "EURBANK",
            "crMaster": [{"RefNo": "R1", "TransDate": DATE, "BankCode": "EURBANK", "CurrencyCode": "EUR"}],
            "crDetail": [{"RefNo": "R1", "PKey": "L1", "Account": "40100", "Amount": 100}]})
        }
        "cv" => json!({"Batch": batch, "Description": "Checks", "Total": 100, "Period": 202606,
            "cvMaster": [{"CheckNo": "CHK1", "Vendor": vendor, "BankCode": "EURBANK", "TransDate": DATE, "Amount": 100}],
            "cvDetail": [{"CheckNo": "CHK1", "PKey": "L1", "Account": "60100", "Amount": 100, "NetAmount": 100}]}),
        "ex" => json!({"Batch": batch, "Description": "Expenses", "Total": 100, "Period": 202606,
            "exMaster": [{"MasterPKey": "X1", "Employee": employee, "ReportDate": DATE, "ReportName": "June trip", "AdvanceAmount": 20, "TotalDue": 80}],
            "exDetail": [{"MasterPKey": "X1", "PKey": "L1", "TransDate": DATE, "Account": "65100", "Amount": 100, "WBS1": project, "WBS2": "01"}]}),
        "in" => json!({"Batch": batch, "Description": "Invoices", "Total": 100, "Period": 202606,
            "inMaster": [{"Invoice": format!("INV-{batch}"), "WBS1": project, "WBS2": "01", "TransDate": DATE}],
            "inDetail": [{"Invoice": format!("INV-{batch}"), "PKey": "L1", "Account": "40100", "Amount": 100, "InvoiceSection": "F"}]}),
        "je" => {
            json!({"Batch": batch, "Description": "Journal", "Total": 100, "CreditsTotal": 100, "Period": 202606,
            "jeMaster": [{"RefNo": "J1", "TransDate": DATE, "Description": "Accrual", "Type": "3"}],
            "jeDetail": [{"RefNo": "J1", "PKey": "L1", "Account": "60100", "DebitAmount": 100, "CreditAmount": 0},
                         {"RefNo": "J1", "PKey": "L2", "Account": "21000", "DebitAmount": 0, "CreditAmount": 100}]})
        }
        _ => json!({"Batch": batch, "Description": "Week 24", "Total": 100, "Period": 202606,
            "tsMaster": [{"Employee": employee, "EndDate": DATE}],
            "tsDetail": [{"Employee": employee, "PKey": "L1", "TransDate": DATE, "WBS1": project, "WBS2": "01", "LaborCode": "ENG", "RegHrs": 92, "OvtHrs": 8}]}),
    }
}

#[tokio::test]
async fn every_transaction_type_is_entered_posted_with_post_trans_file_and_read_back_from_its_ledger()
 {
    let vp = spawn().await;
    let token = vp.token().await;

    for tt in ["ap", "cr", "cv", "ex", "in", "je", "ts"] {
        let batch = format!("{}-B1", tt.to_uppercase());
        let (status, created) = vp
            .post(
                &token,
                &format!("/DataEntry/{tt}Control"),
                &batch_of(&vp, tt, &batch),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{tt}: {created}");
        assert_eq!(created[0]["Posted"], "N", "{tt}");
        assert_eq!(dec(&created[0]["DiffTotal"]), Decimal::ZERO, "{tt}");
        let (_, landing) = vp.get(&token, &format!("/DataEntry/{tt}Landing")).await;
        assert!(
            rows(&landing)
                .iter()
                .any(|r| r["Batch"] == batch.as_str() && r["Posted"] == "N"),
            "{tt}: {landing}"
        );

        let (status, answer) = vp
            .put(
                &token,
                "/DataEntry/PostTransFile",
                &post_parms(&tt.to_uppercase(), &batch),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{tt}");
        let result = decode_post(&answer);
        assert_eq!(result["retList"], "1", "{tt}: {result}");
        let post_seq = result["postseqList"].as_str().unwrap().to_owned();

        let (status, ledger) = vp
            .get(
                &token,
                &format!("/PSALedger/{}?{}", tt.to_uppercase(), batch_filter(&batch)),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{tt}");
        let ledger = rows(&ledger);
        assert!(!ledger.is_empty(), "{tt}: no ledger rows");
        assert!(
            ledger
                .iter()
                .all(|r| r["PostSeq"].as_u64() == post_seq.parse().ok() && r["Period"] == 202606),
            "{tt}: {ledger:?}"
        );
        if tt != "ts" {
            // GL postings balance: debits (+) and credits (−) sum to zero.
            let sum: Decimal = ledger.iter().map(|r| dec(&r["Amount"])).sum();
            assert_eq!(sum, Decimal::ZERO, "{tt}: {ledger:?}");
        }
        let (_, control) = vp
            .get(&token, &format!("/DataEntry/{tt}Control/{batch}"))
            .await;
        assert_eq!(control[0]["Posted"], "Y", "{tt}");
    }
}

#[tokio::test]
async fn a_journal_entry_whose_debits_do_not_equal_its_credits_is_refused() {
    let vp = spawn().await;
    let token = vp.token().await;
    let mut body = batch_of(&vp, "je", "JE-UNBAL");
    body["jeDetail"][1]["CreditAmount"] = json!(99.99);
    body["CreditsTotal"] = json!(99.99);

    let (status, answer) = vp.post(&token, "/DataEntry/jeControl", &body).await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = answer["Message"].as_str().unwrap();
    assert!(
        message.contains("out of balance") && message.contains("J1"),
        "{message}"
    );
    let (status, _) = vp.get(&token, "/DataEntry/jeControl/JE-UNBAL").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_journal_entry_control_echoes_its_debit_and_credit_sums_and_a_wrong_credits_total_is_refused()
 {
    let vp = spawn().await;
    let token = vp.token().await;
    let (status, created) = vp
        .post(&token, "/DataEntry/jeControl", &batch_of(&vp, "je", "JE-1"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created[0]["SumDebitsTotal"], 100);
    assert_eq!(created[0]["SumCreditsTotal"], 100);
    assert_eq!(created[0]["DiffCreditsTotal"], 0);

    let (status, answer) = vp
        .put(
            &token,
            "/DataEntry/jeControl/JE-1",
            &json!({"CreditsTotal": 90}),
        )
        .await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer["Message"].as_str().unwrap().contains("CreditsTotal"),
        "{answer}"
    );
    let (_, control) = vp.get(&token, "/DataEntry/jeControl/JE-1").await;
    assert_eq!(
        control[0]["CreditsTotal"], 100,
        "refused PUT changed nothing"
    );
}

#[tokio::test]
async fn an_ap_voucher_amount_must_equal_its_lines_and_its_posting_opens_a_payable_voucher() {
    let vp = spawn().await;
    let token = vp.token().await;
    let vendor = vp.demo.vendors[0].clone();
    let master = |amount: i64| {
        json!({"Vendor": vendor, "Invoice": "SUP-9", "InvoiceDate": DATE, "TransDate": DATE, "Voucher": "VAP9", "Amount": amount,
               "apDetail": [{"PKey": "A", "Account": "60100", "Amount": 70}, {"PKey": "B", "Account": "65100", "Amount": 30}]})
    };

    let (status, answer) = vp
        .post(&token, "/DataEntry/apMaster/APB9%7CM9", &master(99))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer["Message"]
            .as_str()
            .unwrap()
            .contains("does not equal the sum of its lines 100"),
        "{answer}"
    );

    let (status, created) = vp
        .post(&token, "/DataEntry/apMaster/APB9%7CM9", &master(100))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created[0]["MasterPKey"], "M9");
    assert_eq!(rows(&created[0]["apDetail"]).len(), 2);
    let (_, control) = vp.get(&token, "/DataEntry/apControl/APB9").await;
    assert_eq!(
        control[0]["Total"], 100,
        "the file total follows the document"
    );

    let (_, answer) = vp
        .put(
            &token,
            "/DataEntry/PostTransFile",
            &post_parms("AP", "APB9"),
        )
        .await;
    assert_eq!(decode_post(&answer)["retList"], "1", "{answer}");
    assert_eq!(
        vp.emulator.voucher_outstanding(&vendor, "VAP9"),
        Some(Decimal::from(100))
    );
    let liability: Vec<_> = vp
        .emulator
        .ledger_rows("AP")
        .into_iter()
        .filter(|r| r["Batch"] == "APB9" && r["AutoEntry"] == "Y")
        .collect();
    assert_eq!(liability.len(), 1);
    assert_eq!(liability[0]["Account"], "21000");
    assert_eq!(liability[0]["Amount"], -100);
}

#[tokio::test]
async fn documents_are_added_changed_and_deleted_and_the_file_total_follows_them() {
    let vp = spawn().await;
    let token = vp.token().await;
    let vendor = vp.demo.vendors[0].clone();
    let (status, _) = vp
        .post(&token, "/DataEntry/cvControl", &batch_of(&vp, "cv", "CV-7"))
        .await;
    assert_eq!(status, StatusCode::CREATED);

    // Add a second check to the file.
    let (status, added) = vp
        .post(
            &token,
            "/DataEntry/cvMaster/CV-7%7CCHK2",
            &json!({"Vendor": vendor, "BankCode": "EURBANK", "TransDate": DATE,
                    "cvDetail": [{"PKey": "C2", "Account": "65100", "Amount": 25}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    let (_, control) = vp.get(&token, "/DataEntry/cvControl/CV-7").await;
    assert_eq!(control[0]["Total"], 125);

    // A duplicate check number in the same file is refused.
    let (status, _) = vp
        .post(
            &token,
            "/DataEntry/cvMaster/CV-7%7CCHK2",
            &json!({"Vendor": vendor, "BankCode": "EURBANK", "TransDate": DATE,
                    "cvDetail": [{"PKey": "C3", "Account": "65100", "Amount": 5}]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Change its line through the master (by PKey): the file total follows.
    let (status, changed) = vp
        .put(
            &token,
            "/DataEntry/cvMaster/CV-7%7CCHK2",
            &json!({"TransComment": "corrected", "cvDetail": [{"PKey": "C2", "Amount": 30}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed[0]["TransComment"], "corrected");
    assert_eq!(changed[0]["cvDetail"][0]["Amount"], 30);
    let (_, control) = vp.get(&token, "/DataEntry/cvControl/CV-7").await;
    assert_eq!(control[0]["Total"], 130);

    // A control Total that no longer matches the lines is refused and nothing changes.
    let (status, _) = vp
        .put(&token, "/DataEntry/cvControl/CV-7", &json!({"Total": 131}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, updated) = vp
        .put(
            &token,
            "/DataEntry/cvControl/CV-7",
            &json!({"Description": "June checks"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated[0]["Description"], "June checks");
    assert_eq!(updated[0]["Total"], 130);

    // Delete the second check: its lines go, the total shrinks.
    let r = vp
        .http
        .delete(vp.url("/DataEntry/cvMaster/CV-7%7CCHK2"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (_, masters) = vp.get(&token, "/DataEntry/cvMaster/CV-7").await;
    let (_, details) = vp.get(&token, "/DataEntry/cvDetail/CV-7").await;
    let (_, control) = vp.get(&token, "/DataEntry/cvControl/CV-7").await;
    assert_eq!(rows(&masters).len(), 1);
    assert_eq!(rows(&details).len(), 1);
    assert_eq!(control[0]["Total"], 100);
}

#[tokio::test]
async fn a_posted_file_cannot_be_changed_and_its_documents_cannot_be_deleted() {
    let vp = spawn().await;
    let token = vp.token().await;
    vp.post(&token, "/DataEntry/jeControl", &batch_of(&vp, "je", "JE-P"))
        .await;
    vp.put(
        &token,
        "/DataEntry/PostTransFile",
        &post_parms("JE", "JE-P"),
    )
    .await;

    let (put_status, _) = vp
        .put(
            &token,
            "/DataEntry/jeMaster/JE-P%7CJ1",
            &json!({"Description": "late edit"}),
        )
        .await;
    let delete = vp
        .http
        .delete(vp.url("/DataEntry/jeMaster/JE-P%7CJ1"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let (_, again) = vp
        .put(
            &token,
            "/DataEntry/PostTransFile",
            &post_parms("JE", "JE-P"),
        )
        .await;

    assert_eq!(put_status, StatusCode::BAD_REQUEST);
    assert_eq!(delete.status(), StatusCode::BAD_REQUEST);
    assert_eq!(decode_post(&again)["retList"], "0");
}

#[tokio::test]
async fn an_expense_report_is_due_its_lines_less_the_advance_and_posting_opens_it_for_payment() {
    let vp = spawn().await;
    let token = vp.token().await;
    let employee = vp.demo.employees[0].clone();
    let mut wrong = batch_of(&vp, "ex", "EX-W");
    wrong["exMaster"][0]["TotalDue"] = json!(100);

    let (status, answer) = vp.post(&token, "/DataEntry/exControl", &wrong).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer["Message"].as_str().unwrap().contains("TotalDue"),
        "{answer}"
    );

    vp.post(&token, "/DataEntry/exControl", &batch_of(&vp, "ex", "EX-1"))
        .await;
    let (_, answer) = vp
        .put(
            &token,
            "/DataEntry/PostTransFile",
            &post_parms("EX", "EX-1"),
        )
        .await;
    assert_eq!(decode_post(&answer)["retList"], "1");
    let report = vp.emulator.expense_report(&employee, "X1").unwrap();
    assert_eq!(report.total, Decimal::from(100));
    assert_eq!(report.outstanding, Decimal::from(80));
}

#[tokio::test]
async fn an_invoice_entered_through_data_entry_becomes_receivable_only_once_posted() {
    let vp = spawn().await;
    let token = vp.token().await;
    vp.post(&token, "/DataEntry/inControl", &batch_of(&vp, "in", "IN-1"))
        .await;
    assert_eq!(vp.emulator.invoice_balance("INV-IN-1"), None);

    // The same invoice number cannot be entered twice.
    let (status, _) = vp
        .post(&token, "/DataEntry/inControl", &{
            let mut b = batch_of(&vp, "in", "IN-1");
            b["Batch"] = json!("IN-2");
            b
        })
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    vp.put(
        &token,
        "/DataEntry/PostTransFile",
        &post_parms("IN", "IN-1"),
    )
    .await;

    assert_eq!(
        vp.emulator.invoice_balance("INV-IN-1"),
        Some(Decimal::from(100))
    );
    let revenue: Vec<_> = vp
        .emulator
        .ledger_rows("IN")
        .into_iter()
        .filter(|r| r["Invoice"] == "INV-IN-1")
        .collect();
    assert_eq!(revenue.len(), 1);
    assert_eq!(revenue[0]["Amount"], -100, "revenue is a credit");
}

#[tokio::test]
async fn a_timesheet_counts_hours_and_posts_labor_at_the_employees_cost_rate() {
    let vp = spawn().await;
    let token = vp.token().await;
    let employee = vp.demo.employees[0].clone();
    let mut patch = serde_json::Map::new();
    patch.insert("JobCostRate".into(), json!(50));
    vp.emulator.update_employee(&employee, patch).unwrap();
    let mut wrong = batch_of(&vp, "ts", "TS-W");
    wrong["Total"] = json!(92);
    let (status, _) = vp.post(&token, "/DataEntry/tsControl", &wrong).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "overtime hours count");

    vp.post(&token, "/DataEntry/tsControl", &batch_of(&vp, "ts", "TS-1"))
        .await;
    vp.put(
        &token,
        "/DataEntry/PostTransFile",
        &post_parms("TS", "TS-1"),
    )
    .await;

    let labor = vp.emulator.ledger_rows("TS");
    let row = labor.iter().find(|r| r["Batch"] == "TS-1").unwrap();
    assert_eq!(row["Amount"], 5000);
    assert_eq!(row["RegHrs"], 92);
    assert_eq!(row["OvtHrs"], 8);
    assert_eq!(row["Employee"], employee.as_str());
}

#[tokio::test]
async fn post_ledger_enters_and_posts_in_one_call_and_keeps_nothing_when_refused() {
    let vp = spawn().await;
    let token = vp.token().await;
    let mut body = batch_of(&vp, "je", "unused");
    body.as_object_mut().unwrap().remove("Batch");

    let (status, posted) = vp.post(&token, "/ledger/JE", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{posted}");
    assert_eq!(posted[0]["Posted"], "Y");
    let batch = posted[0]["Batch"].as_str().unwrap().to_owned();
    assert!(posted[0]["PostSeq"].as_u64().unwrap() > 0);
    let (_, read) = vp
        .get(&token, &format!("/ledger/JE?{}", batch_filter(&batch)))
        .await;
    assert_eq!(rows(&read).len(), 2);

    let (status, posted) = vp
        .post(&token, "/ledger/CR", &batch_of(&vp, "cr", "CR-L1"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{posted}");
    assert_eq!(posted[0]["crMaster"][0]["Posted"], "Y");

    let mut unbalanced = batch_of(&vp, "ap", "AP-L1");
    unbalanced["Total"] = json!(90);
    let (status, _) = vp.post(&token, "/ledger/AP", &unbalanced).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = vp.get(&token, "/DataEntry/apControl/AP-L1").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    vp.emulator.close_period(202606).unwrap();
    let (status, _) = vp
        .post(&token, "/ledger/IN", &batch_of(&vp, "in", "IN-L1"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "closed period");
    let (status, _) = vp.get(&token, "/DataEntry/inControl/IN-L1").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_description_over_40_characters_or_a_ref_no_over_the_key_format_length_is_refused() {
    let vp = spawn().await;
    let token = vp.token().await;
    let mut long_description = batch_of(&vp, "je", "JE-D");
    long_description["Description"] = json!("x".repeat(41));
    let mut long_ref = batch_of(&vp, "je", "JE-R");
    long_ref["jeMaster"][0]["RefNo"] = json!("R".repeat(13));
    long_ref["jeDetail"][0]["RefNo"] = json!("R".repeat(13));
    long_ref["jeDetail"][1]["RefNo"] = json!("R".repeat(13));

    let (description_status, description) = vp
        .post(&token, "/DataEntry/jeControl", &long_description)
        .await;
    let (ref_status, reference) = vp.post(&token, "/DataEntry/jeControl", &long_ref).await;

    assert_eq!(description_status, StatusCode::BAD_REQUEST);
    assert!(
        description["Message"]
            .as_str()
            .unwrap()
            .contains("Description, max 40"),
        "{description}"
    );
    assert_eq!(ref_status, StatusCode::BAD_REQUEST);
    assert!(
        reference["Message"].as_str().unwrap().contains("max 12"),
        "{reference}"
    );
}

#[tokio::test]
async fn an_ap_line_is_gross_and_its_detail_tax_posts_to_the_tax_account() {
    let vp = spawn().await;
    let token = vp.token().await;
    let vendor = vp.demo.vendors[0].clone();
    let voucher = |tax: i64| {
        json!({"Batch": "AP-TAX", "Total": 121, "Period": 202606,
               "apMaster": [{"MasterPKey": "T1", "Vendor": vendor, "Voucher": "VTAX1", "TransDate": DATE}],
               "apDetail": [{"MasterPKey": "T1", "PKey": "L1", "Account": "60100", "Amount": 121, "NetAmount": 100}],
               "apDetailTax": [{"PKey": "L1", "TaxCode": "V21", "TaxAmount": tax}]})
    };

    let (status, answer) = vp.post(&token, "/DataEntry/apControl", &voucher(20)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer["Message"]
            .as_str()
            .unwrap()
            .contains("NetAmount 100 plus tax 20 does not equal Amount 121"),
        "{answer}"
    );
    let (status, created) = vp.post(&token, "/DataEntry/apControl", &voucher(21)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    vp.put(
        &token,
        "/DataEntry/PostTransFile",
        &post_parms("AP", "AP-TAX"),
    )
    .await;

    let rows: Vec<_> = vp
        .emulator
        .ledger_rows("AP")
        .into_iter()
        .filter(|r| r["Batch"] == "AP-TAX")
        .collect();
    let amount_on = |account: &str| {
        rows.iter()
            .filter(|r| r["Account"] == account)
            .map(|r| dec(&r["Amount"]))
            .sum::<Decimal>()
    };
    assert_eq!(amount_on("60100"), Decimal::from(100));
    assert_eq!(amount_on("22100"), Decimal::from(21));
    assert_eq!(amount_on("21000"), Decimal::from(-121));
    let (_, tax) = vp
        .get(&token, &format!("/LedgerTax/AP?{}", batch_filter("AP-TAX")))
        .await;
    assert_eq!(rows_of_tax(&tax), vec![("V21".to_owned(), 21)]);
    assert_eq!(
        vp.emulator.voucher_outstanding(&vendor, "VTAX1"),
        Some(Decimal::from(121))
    );
}

fn rows_of_tax(body: &Value) -> Vec<(String, i64)> {
    rows(body)
        .iter()
        .map(|r| {
            (
                r["TaxCode"].as_str().unwrap().to_owned(),
                r["TaxAmount"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_invoice_line_with_a_tax_code_posts_its_tax_and_the_receivable_includes_it() {
    let vp = spawn().await;
    let token = vp.token().await;
    let mut body = batch_of(&vp, "in", "IN-TAX");
    body["inDetail"][0]["TaxCode"] = json!("V21");
    vp.post(&token, "/DataEntry/inControl", &body).await;

    let (_, answer) = vp
        .put(
            &token,
            "/DataEntry/PostTransFile",
            &post_parms("IN", "IN-TAX"),
        )
        .await;

    assert_eq!(decode_post(&answer)["retList"], "1");
    let rows: Vec<_> = vp
        .emulator
        .ledger_rows("IN")
        .into_iter()
        .filter(|r| r["Batch"] == "IN-TAX")
        .collect();
    let tax: Vec<_> = rows.iter().filter(|r| r["InvoiceSection"] == "T").collect();
    assert_eq!(tax.len(), 1);
    assert_eq!(tax[0]["Amount"], -21);
    assert_eq!(tax[0]["Account"], "22100");
    let receivable = rows.iter().find(|r| r["AutoEntry"] == "Y").unwrap();
    assert_eq!(receivable["Amount"], 121);
    assert_eq!(
        vp.emulator.invoice_balance("INV-IN-TAX"),
        Some(Decimal::from(121))
    );
}

#[tokio::test]
async fn a_journal_entrys_tax_lines_count_in_its_balance() {
    let vp = spawn().await;
    let token = vp.token().await;
    let entry = |with_tax: bool| {
        let mut body = json!({"Batch": if with_tax { "JE-T1" } else { "JE-T0" }, "Total": 100, "CreditsTotal": 121, "Period": 202606,
            "jeMaster": [{"RefNo": "JT", "TransDate": DATE}],
            "jeDetail": [{"RefNo": "JT", "PKey": "D", "Account": "60100", "DebitAmount": 100},
                         {"RefNo": "JT", "PKey": "C", "Account": "21000", "CreditAmount": 121}]});
        if with_tax {
            body["jeDetailTax"] = json!([{"PKey": "D", "TaxCode": "V21", "TaxDebitAmount": 21, "TaxCreditAmount": 0}]);
        }
        body
    };

    let (without, _) = vp.post(&token, "/DataEntry/jeControl", &entry(false)).await;
    let (with, created) = vp.post(&token, "/DataEntry/jeControl", &entry(true)).await;
    vp.put(
        &token,
        "/DataEntry/PostTransFile",
        &post_parms("JE", "JE-T1"),
    )
    .await;

    assert_eq!(without, StatusCode::BAD_REQUEST);
    assert_eq!(with, StatusCode::CREATED, "{created}");
    let rows: Vec<_> = vp
        .emulator
        .ledger_rows("JE")
        .into_iter()
        .filter(|r| r["Batch"] == "JE-T1")
        .collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows.iter().map(|r| dec(&r["Amount"])).sum::<Decimal>(),
        Decimal::ZERO
    );
}
