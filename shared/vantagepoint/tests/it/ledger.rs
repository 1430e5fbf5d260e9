//! Posted-ledger polling by PostDate window, grouped into documents.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ledgerlink_clock::Clock;
use ledgerlink_emulators::vantagepoint::{InvoiceLineSeed, InvoiceSeed};
use ledgerlink_ports::psa::{PostedArDocument, TimeWindow};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use crate::helpers::{TestVp, spawn};

fn invoice(vp: &TestVp, number: &str, credit_ref: Option<&str>, amount: Decimal) -> InvoiceSeed {
    InvoiceSeed {
        invoice: number.into(),
        wbs1: vp.demo.projects[0].clone(),
        description: format!("Invoice {number}"),
        credit_memo_ref: credit_ref.map(str::to_owned),
        lines: vec![
            InvoiceLineSeed {
                section: "F".into(),
                description: "Fee".into(),
                account: "40100".into(),
                amount,
                tax_codes: vec!["V21".into()],
                ..InvoiceLineSeed::default()
            },
            InvoiceLineSeed {
                section: "R".into(),
                description: "Travel".into(),
                account: "40200".into(),
                amount: dec!(100.00),
                tax_codes: vec!["V21".into(), "ECO".into()],
                ..InvoiceLineSeed::default()
            },
        ],
        ..InvoiceSeed::default()
    }
}

fn keys(docs: &[PostedArDocument]) -> Vec<String> {
    let mut k: Vec<String> = docs.iter().map(PostedArDocument::external_key).collect();
    k.sort();
    k
}

#[tokio::test]
async fn adjacent_windows_return_each_posted_invoice_exactly_once() {
    let vp = spawn().await;
    let start = vp.clock.now();
    vp.clock.advance(Duration::from_secs(600));
    let first = vp
        .emulator
        .post_invoice(&invoice(&vp, "INV-9001", None, dec!(1000.00)))
        .unwrap();
    vp.clock.advance(Duration::from_secs(600));
    let second = vp
        .emulator
        .post_invoice(&invoice(&vp, "INV-9002", None, dec!(2000.00)))
        .unwrap();
    let boundary = start + chrono::Duration::seconds(900);
    let end = vp.clock.now() + chrono::Duration::seconds(1);

    let a = vp
        .client
        .posted_ar_documents(TimeWindow::new(
            start + chrono::Duration::seconds(1),
            boundary,
        ))
        .await
        .unwrap();
    let b = vp
        .client
        .posted_ar_documents(TimeWindow::new(boundary, end))
        .await
        .unwrap();

    let first_key = format!("INV-9001.{}.{}", first.period, first.post_seq);
    let second_key = format!("INV-9002.{}.{}", second.period, second.post_seq);
    assert_eq!(keys(&a), vec![first_key]);
    assert_eq!(keys(&b), vec![second_key]);
}

#[tokio::test]
async fn the_window_upper_bound_is_exclusive() {
    let vp = spawn().await;
    vp.clock.advance(Duration::from_secs(60));
    let posted_at = vp.clock.now();
    vp.emulator
        .post_invoice(&invoice(&vp, "INV-9100", None, dec!(10.00)))
        .unwrap();

    let before = vp
        .client
        .posted_ar_documents(TimeWindow::new(
            posted_at - chrono::Duration::seconds(30),
            posted_at,
        ))
        .await
        .unwrap();
    let from = vp
        .client
        .posted_ar_documents(TimeWindow::new(
            posted_at,
            posted_at + chrono::Duration::seconds(30),
        ))
        .await
        .unwrap();

    assert!(before.is_empty());
    assert_eq!(from.len(), 1);
}

#[tokio::test]
async fn invoice_lines_skip_tax_rows_and_offsets_and_carry_every_tax_code() {
    let vp = spawn().await;
    vp.clock.advance(Duration::from_secs(60));
    let at = vp.clock.now();
    vp.emulator
        .post_invoice(&invoice(&vp, "INV-9200", None, dec!(1000.00)))
        .unwrap();

    let docs = vp
        .client
        .posted_ar_documents(window_around(at))
        .await
        .unwrap();

    let [PostedArDocument::Invoice(inv)] = docs.as_slice() else {
        panic!("expected one invoice: {docs:?}")
    };
    assert_eq!(
        inv.lines.len(),
        2,
        "two billing lines; the tax rows and the AR offset are not lines"
    );
    assert_eq!(
        inv.lines.iter().map(|l| l.amount).sum::<Decimal>(),
        dec!(1100.00)
    );
    let travel = inv
        .lines
        .iter()
        .find(|l| l.invoice_section.as_deref() == Some("R"))
        .unwrap();
    assert_eq!(travel.tax_codes(), vec!["V21", "ECO"]);
    assert_eq!(travel.description.as_deref(), Some("Travel"));
    assert_eq!(inv.wbs1, vp.demo.projects[0]);
    assert!(!inv.billing_client_id.is_empty());
    assert!(inv.billing_client_name.is_some());
    assert!(inv.due_date.is_some());
    assert_eq!(inv.currency.as_str(), "EUR");
}

#[tokio::test]
async fn a_credit_memo_is_recognised_by_its_credit_memo_reference() {
    let vp = spawn().await;
    vp.clock.advance(Duration::from_secs(60));
    let at = vp.clock.now();
    vp.emulator
        .post_invoice(&invoice(&vp, "INV-9300", None, dec!(500.00)))
        .unwrap();
    vp.emulator
        .post_invoice(&invoice(&vp, "CM-9301", Some("INV-9300"), dec!(-500.00)))
        .unwrap();

    let docs = vp
        .client
        .posted_ar_documents(window_around(at))
        .await
        .unwrap();

    assert_eq!(docs.len(), 2);
    let memo = docs
        .iter()
        .find_map(|d| match d {
            PostedArDocument::CreditMemo(m) => Some(m),
            PostedArDocument::Invoice(_) => None,
        })
        .unwrap();
    assert_eq!(memo.invoice, "CM-9301");
    assert_eq!(memo.credit_memo_ref_no, "INV-9300");
    assert!(memo.lines.iter().any(|l| l.amount == dec!(-500.00)));
}

#[tokio::test]
async fn a_project_with_another_billing_client_is_invoiced_to_that_client() {
    let vp = spawn().await;
    vp.clock.advance(Duration::from_secs(60));
    let at = vp.clock.now();
    let mut seed = invoice(&vp, "INV-9400", None, dec!(10.00));
    seed.wbs1 = vp.demo.projects[1].clone();
    vp.emulator.post_invoice(&seed).unwrap();

    let project = vp
        .client
        .project(&vp.demo.projects[1])
        .await
        .unwrap()
        .unwrap();
    let docs = vp
        .client
        .posted_ar_documents(window_around(at))
        .await
        .unwrap();

    let [PostedArDocument::Invoice(inv)] = docs.as_slice() else {
        panic!("{docs:?}")
    };
    assert_ne!(project.billing_client_id, project.client_id);
    assert_eq!(
        Some(inv.billing_client_id.clone()),
        project.billing_client_id
    );
    assert_eq!(inv.primary_client_id, project.client_id);
}

#[tokio::test]
async fn the_demo_day_yields_vouchers_expense_reports_and_journal_entries() {
    let vp = spawn().await;
    let day = whole_day();

    let vouchers = vp.client.posted_vouchers(day).await.unwrap();
    let reports = vp.client.posted_expense_reports(day).await.unwrap();
    let journals = vp.client.posted_journal_entries(day).await.unwrap();

    assert_eq!(vouchers.len(), vp.demo.vouchers.len());
    assert!(
        vouchers
            .iter()
            .all(|v| !v.lines.is_empty() && !v.vendor.is_empty())
    );
    assert!(
        vouchers.iter().any(|v| v.voucher.is_none()),
        "the demo has a voucher without a number"
    );
    assert_eq!(reports.len(), vp.demo.expense_reports.len());
    assert!(reports.iter().all(|r| !r.lines.is_empty()));
    // Manual journal entries, unit postings (UN) and revenue-generation runs (RG, no batch) alike.
    assert_eq!(
        journals.len(),
        vp.demo.journal_entries.len()
            + vp.demo.unit_postings.len()
            + vp.demo.revenue_generation.len()
    );
    for je in &journals {
        let sum: Decimal = je.lines.iter().map(|l| l.signed_amount()).sum();
        assert_eq!(sum, Decimal::ZERO, "journal {} balances", je.ref_no);
        assert!(je.lines.iter().all(|l| l.tax_code.is_none()));
    }
    let rg = &vp.demo.revenue_generation[0];
    let revenue = journals
        .iter()
        .find(|j| j.batch.is_none() && j.post_seq == rg.post_seq)
        .unwrap();
    assert_eq!(
        revenue.external_key(),
        format!("RG.{}.{}", rg.period, rg.post_seq)
    );
    // Two projects: each a revenue credit and an unbilled-services debit (a GL offset, kept).
    assert_eq!(revenue.lines.len(), 4);
    assert!(revenue.lines.iter().any(|l| l.account == "12500"));
}

#[tokio::test]
async fn invoice_rows_of_one_posted_invoice_exclude_tax_and_offsets() {
    let vp = spawn().await;
    let posting = vp
        .emulator
        .post_invoice(&invoice(&vp, "INV-9500", None, dec!(300.00)))
        .unwrap();

    let period = ledgerlink_domain::Period::from_yyyypp(i64::from(posting.period)).unwrap();
    let rows = vp
        .client
        .invoice_rows("INV-9500", period, posting.post_seq)
        .await
        .unwrap();

    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter()
            .all(|r| !r.auto_entry && r.invoice_section.as_deref() != Some("T"))
    );
}

fn window_around(at: DateTime<Utc>) -> TimeWindow {
    TimeWindow::new(
        at - chrono::Duration::seconds(1),
        at + chrono::Duration::seconds(1),
    )
}

fn whole_day() -> TimeWindow {
    let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    TimeWindow::new(at("2026-06-15T00:00:00Z"), at("2026-06-16T00:00:00Z"))
}
