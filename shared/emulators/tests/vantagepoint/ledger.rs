use std::time::Duration;

use chrono::NaiveDate;
use ledgerlink_emulators::vantagepoint::{InvoiceLineSeed, InvoiceSeed};
use reqwest::StatusCode;
use rust_decimal::Decimal;

use crate::helpers::*;

fn invoice(number: &str, amount: i64) -> InvoiceSeed {
    InvoiceSeed {
        invoice: number.into(),
        wbs1: "2026-001".into(),
        trans_date: NaiveDate::from_ymd_opt(2026, 6, 15),
        lines: vec![InvoiceLineSeed {
            section: "F".into(),
            description: "Fees".into(),
            account: "40100".into(),
            amount: Decimal::from(amount),
            tax_codes: vec!["V21".into()],
            ..InvoiceLineSeed::default()
        }],
        ..InvoiceSeed::default()
    }
}

#[tokio::test]
async fn a_half_open_post_date_window_returns_only_what_was_posted_inside_it() {
    let vp = spawn().await;
    vp.clock.advance(Duration::from_secs(3600)); // 11:00
    let inside = vp
        .emulator
        .post_invoice(&invoice("000000020001", 100))
        .unwrap();
    vp.clock.advance(Duration::from_secs(3600)); // 12:00 = the window's exclusive end
    vp.emulator
        .post_invoice(&invoice("000000020002", 200))
        .unwrap();
    let token = vp.token().await;
    let query = format!(
        "/PSALedger/IN?{}&{}",
        term(0, "PostDate", ">=", "2026-06-15T11:00:00.000Z", "datetime"),
        term(1, "PostDate", "<", "2026-06-15T12:00:00.000Z", "datetime"),
    );

    let (status, body) = vp.get(&token, &query).await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!rows(&body).is_empty());
    assert!(
        rows(&body)
            .iter()
            .all(|r| r["Batch"] == inside.batch.as_str())
    );
}

#[tokio::test]
async fn psa_ledger_refuses_limit_with_a_500_but_honours_q_maxrows() {
    let vp = spawn().await;
    let token = vp.token().await;

    let (limit, _) = vp.get(&token, "/PSALedger/IN?limit=2").await;
    let (status, body) = vp.get(&token, "/PSALedger/IN?q.maxrows=2").await;
    let (entry_limit, _) = vp.get(&token, "/DataEntry/inMaster?limit=2").await;

    assert_eq!(limit, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rows(&body).len(), 2);
    assert_eq!(entry_limit, StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn posted_invoice_rows_carry_period_post_seq_tax_lines_and_gl_offsets() {
    let vp = spawn().await;
    let token = vp.token().await;
    let posting = &vp.demo.invoices[0];
    let query = format!(
        "/psaledger/in?{}&{}",
        term(0, "Period", "=", &posting.period.to_string(), "int"),
        term(1, "PostSeq", "=", &posting.post_seq.to_string(), "int"),
    );

    let (_, body) = vp.get(&token, &query).await;

    let lines = rows(&body);
    assert!(
        lines
            .iter()
            .all(|r| r["Batch"] == posting.batch.as_str() && r["TransType"] == "IN")
    );
    assert!(lines.iter().any(|r| r["InvoiceSection"] == "F"));
    assert!(
        lines
            .iter()
            .any(|r| r["InvoiceSection"] == "T" && r["TaxCode"] == "V21")
    );
    assert!(
        lines
            .iter()
            .any(|r| r["AutoEntry"] == "Y" && r["Invoice"] == "")
    );
    let date = lines[0]["PostDate"].as_str().unwrap();
    assert_eq!(date, "2026-06-15T10:00:00.000");
    let (_, tax) = vp
        .get(
            &token,
            &format!(
                "/LedgerTax/IN?{}",
                term(0, "PostSeq", "=", &posting.post_seq.to_string(), "int")
            ),
        )
        .await;
    assert!(rows(&tax).iter().any(|t| t["TaxCode"] == "V21"));
}

#[tokio::test]
async fn invoice_batches_are_readable_through_data_entry_and_credit_memos_reference_their_invoice()
{
    let vp = spawn().await;
    let token = vp.token().await;
    let memo = &vp.demo.credit_memos[0];

    let (_, master) = vp
        .get(&token, &format!("/DataEntry/inMaster/{}", memo.batch))
        .await;
    let (_, detail) = vp
        .get(&token, &format!("/DataEntry/inDetail/{}", memo.batch))
        .await;
    let (_, usd) = vp
        .get(
            &token,
            &format!("/DataEntry/inMaster/{}", vp.demo.invoices[1].batch),
        )
        .await;

    // Credit memos credit posted invoices that are not paid: the demo's credits the billing-group one.
    assert_eq!(
        master[0]["CreditMemoRefNo"],
        vp.demo.invoice_numbers[5].as_str()
    );
    assert_eq!(master[0]["IsCreditMemo"], "Y");
    assert!(
        rows(&detail)
            .iter()
            .any(|d| d["InvoiceSection"] == "F" && d["Amount"].as_f64().unwrap() < 0.0)
    );
    // Entered in EUR (the transaction currency), billed in USD.
    assert_eq!(usd[0]["CurrencyCode"], "EUR");
    assert_eq!(usd[0]["BillingCurrencyCode"], "USD");
    let (_, billed_elsewhere) = vp
        .get(
            &token,
            &format!("/DataEntry/inMaster/{}", vp.demo.invoices[2].batch),
        )
        .await;
    assert_ne!(
        billed_elsewhere[0]["BillingClientID"],
        billed_elsewhere[0]["ClientID"]
    );
    assert_ne!(
        billed_elsewhere[0]["BillingClientName"],
        billed_elsewhere[0]["PrimaryClientName"]
    );
}

#[tokio::test]
async fn compound_and_combined_taxes_are_posted_per_code() {
    let vp = spawn().await;
    let combined = &vp.demo.invoices[2];
    let compound = &vp.demo.invoices[3];

    let tax_codes = |batch: &str| -> Vec<String> {
        vp.emulator
            .ledger_rows("IN")
            .iter()
            .filter(|r| r["Batch"] == batch && r["InvoiceSection"] == "T")
            .map(|r| r["TaxCode"].as_str().unwrap().to_owned())
            .collect()
    };

    let mut combined_codes = tax_codes(&combined.batch);
    combined_codes.sort();
    // Fees at 21 % and 9 % combined on one line, the consultant line at 9 %.
    assert_eq!(combined_codes, vec!["V21", "V9", "V9"]);
    let mut compound_codes = tax_codes(&compound.batch);
    compound_codes.sort();
    assert_eq!(compound_codes, vec!["GST", "PST"]);
    let rows = vp.emulator.ledger_rows("IN");
    let amount = |code: &str| -> Decimal {
        rows.iter()
            .find(|r| {
                r["Batch"] == compound.batch.as_str()
                    && r["TaxCode"] == code
                    && r["InvoiceSection"] == "T"
            })
            .map(|r| {
                r["TransactionAmount"]
                    .to_string()
                    .parse::<Decimal>()
                    .unwrap()
            })
            .unwrap()
    };
    let base: Decimal = rows
        .iter()
        .find(|r| r["Batch"] == compound.batch.as_str() && r["InvoiceSection"] == "F")
        .map(|r| {
            -r["TransactionAmount"]
                .to_string()
                .parse::<Decimal>()
                .unwrap()
        })
        .unwrap();
    let gst = -amount("GST");
    let pst = -amount("PST");
    assert_eq!(
        pst,
        ((base + gst) * Decimal::new(7, 2))
            .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
    );
}

#[tokio::test]
async fn ar_balance_lists_open_invoices_with_their_billing_client() {
    let vp = spawn().await;
    let token = vp.token().await;

    let (_, body) = vp.get(&token, "/ARReview/ARBalance").await;

    let first = rows(&body)
        .iter()
        .find(|r| r["Invoice"] == vp.demo.invoice_numbers[5].as_str())
        .unwrap();
    let original: Decimal = first["OriginalAmt"].to_string().parse().unwrap();
    let balance: Decimal = first["Balance"].to_string().parse().unwrap();
    assert!(
        balance < original,
        "the credit memo reduces the open balance"
    );
    assert!(!first["BillingClientID"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn journal_entries_and_unit_postings_are_read_by_period_and_post_seq() {
    let vp = spawn().await;
    let token = vp.token().await;
    let units = &vp.demo.unit_postings[0];

    let (_, je) = vp.get(&token, "/PSALedger/JE").await;
    let (_, un) = vp
        .get(
            &token,
            &format!(
                "/PSALedger/UN?{}&{}",
                term(0, "Period", "=", &units.period.to_string(), "int"),
                term(1, "PostSeq", "=", &units.post_seq.to_string(), "int")
            ),
        )
        .await;

    let sum = |rows: &Vec<serde_json::Value>| -> Decimal {
        rows.iter()
            .map(|r| r["Amount"].to_string().parse::<Decimal>().unwrap())
            .sum()
    };
    assert!(rows(&je).len() >= 2);
    assert_eq!(sum(rows(&je)), Decimal::ZERO, "journal entries balance");
    // Revenue generation: its own transaction type, no batch, balanced with the unbilled-services offset.
    let (_, rg) = vp.get(&token, "/PSALedger/RG").await;
    assert_eq!(rows(&rg).len(), 4);
    assert!(rows(&rg).iter().all(|r| r["Batch"] == ""));
    assert_eq!(sum(rows(&rg)), Decimal::ZERO, "revenue generation balances");
    assert_eq!(rows(&un).len(), 2);
    assert!(
        rows(&un)
            .iter()
            .all(|r| r["TransType"] == "UN" && r["Batch"] == units.batch.as_str())
    );
    assert_eq!(sum(rows(&un)), Decimal::ZERO);
}
