//! Cash receipts: create + post, balance rule, idempotency on the batch id.

use chrono::NaiveDate;
use ledgerlink_domain::CurrencyCode;
use ledgerlink_domain::Period;
use ledgerlink_domain::vantagepoint::{CrControl, CrDetail, CrMaster};
use ledgerlink_emulators::FaultRule;
use ledgerlink_emulators::vantagepoint::{InvoiceLineSeed, InvoiceSeed};
use ledgerlink_ports::psa::{Psa, PsaError};
use ledgerlink_vantagepoint::VpError;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use crate::helpers::{TestVp, spawn};

/// Posts an invoice of 1000 + 21 % VAT and returns a receipt batch paying `amount` of it.
pub fn receipt_for_new_invoice(
    vp: &TestVp,
    batch: &str,
    amount: Decimal,
    total: Decimal,
) -> CrControl {
    let invoice = format!("INV-{batch}");
    vp.emulator
        .post_invoice(&InvoiceSeed {
            invoice: invoice.clone(),
            wbs1: vp.demo.projects[0].clone(),
            lines: vec![InvoiceLineSeed {
                section: "F".into(),
                description: "Fee".into(),
                account: "40100".into(),
                amount: dec!(1000.00),
                tax_codes: vec!["V21".into()],
                ..InvoiceLineSeed::default()
            }],
            ..InvoiceSeed::default()
        })
        .unwrap();
    let period = Period::from_yyyypp(i64::from(vp.demo.active_period)).unwrap();
    let date = NaiveDate::from_ymd_opt(2026, 6, 15).unwrap();
    CrControl {
        batch: batch.into(),
        description: Some(format!("Payment invoice {invoice}")),
        recurring: false,
        end_date: date,
        total,
        default_bank: "EURBANK".into(),
        selected: false,
        posted: false,
        creator: "integration".into(),
        period,
        company: Some("A0".into()),
        masters: vec![CrMaster {
            batch: batch.into(),
            ref_no: "REF1".into(),
            trans_date: date,
            trans_comment: Some(invoice.clone()),
            posted: false,
            bank_code: "EURBANK".into(),
            seq: 1,
            currency: CurrencyCode::parse("EUR").unwrap(),
            currency_exchange_override_method: false,
            currency_exchange_override_rate: Decimal::ZERO,
            status: "A".into(),
        }],
        details: vec![CrDetail {
            batch: batch.into(),
            ref_no: "REF1".into(),
            pkey: format!("PK{batch}"),
            seq: 1,
            description: Some(invoice.clone()),
            wbs1: Some(vp.demo.projects[0].clone()),
            wbs2: None,
            wbs3: None,
            org: Some("A0:01:10".into()),
            account: "12100".into(),
            amount,
            interest: false,
            tax_basis: Decimal::ZERO,
            currency_exchange_override_rate: Decimal::ZERO,
            invoice: Some(invoice),
        }],
    }
}

#[tokio::test]
async fn a_balanced_receipt_is_created_and_posted_with_a_posting_sequence() {
    let vp = spawn().await;
    let receipt = receipt_for_new_invoice(&vp, "EXACT-PAY-1", dec!(1210.00), dec!(1210.00));

    let posting = vp.psa().record_cash_receipt(&receipt).await.unwrap();

    assert!(posting.created);
    assert!(posting.post_seq > 0);
    assert_eq!(posting.period.as_yyyypp() as i32, vp.demo.active_period);
    let batches = vp.emulator.cash_receipts();
    let ours: Vec<_> = batches
        .iter()
        .filter(|b| b.batch == "EXACT-PAY-1")
        .collect();
    assert_eq!(ours.len(), 1);
    assert!(ours[0].posted);
    assert_eq!(ours[0].total, dec!(1210.00));
    assert_eq!(
        vp.emulator.invoice_balance("INV-EXACT-PAY-1"),
        Some(Decimal::ZERO)
    );
}

#[tokio::test]
async fn vp_refuses_an_out_of_balance_batch_as_a_business_rule() {
    let vp = spawn().await;
    let receipt = receipt_for_new_invoice(&vp, "EXACT-PAY-2", dec!(1000.00), dec!(1210.00));

    let err = vp
        .client
        .create_cash_receipt_batch(&receipt)
        .await
        .unwrap_err();

    match err {
        VpError::BusinessRule { message, .. } => {
            assert!(message.contains("out of balance"), "{message}")
        }
        other => panic!("expected a business rule error, got {other:?}"),
    }
    assert!(
        vp.emulator
            .cash_receipts()
            .iter()
            .all(|b| b.batch != "EXACT-PAY-2")
    );
}

#[tokio::test]
async fn recording_an_out_of_balance_receipt_fails_before_anything_is_sent() {
    let vp = spawn().await;
    let receipt = receipt_for_new_invoice(&vp, "EXACT-PAY-3", dec!(1000.00), dec!(1210.00));
    let before = vp.emulator.counters().count_matching("crControl");

    let err = vp.psa().record_cash_receipt(&receipt).await.unwrap_err();

    assert!(matches!(err, PsaError::BusinessRule { .. }), "{err:?}");
    assert_eq!(vp.emulator.counters().count_matching("crControl"), before);
}

#[tokio::test]
async fn recording_the_same_receipt_twice_creates_one_batch_and_returns_the_same_posting() {
    let vp = spawn().await;
    let receipt = receipt_for_new_invoice(&vp, "EXACT-PAY-4", dec!(605.00), dec!(605.00));

    let first = vp.psa().record_cash_receipt(&receipt).await.unwrap();
    let second = vp.psa().record_cash_receipt(&receipt).await.unwrap();

    assert!(first.created);
    assert!(!second.created);
    assert_eq!(
        (first.period, first.post_seq),
        (second.period, second.post_seq)
    );
    assert_eq!(
        vp.emulator
            .cash_receipts()
            .iter()
            .filter(|b| b.batch == "EXACT-PAY-4")
            .count(),
        1
    );
}

#[tokio::test]
async fn an_unposted_batch_left_by_an_earlier_attempt_is_found_and_posted_not_created_again() {
    let vp = spawn().await;
    let receipt = receipt_for_new_invoice(&vp, "EXACT-PAY-5", dec!(1210.00), dec!(1210.00));
    vp.client.create_cash_receipt_batch(&receipt).await.unwrap();
    let found = vp
        .client
        .find_cash_receipt("EXACT-PAY-5")
        .await
        .unwrap()
        .unwrap();
    assert!(!found.posted);

    let posting = vp.psa().record_cash_receipt(&receipt).await.unwrap();

    assert!(!posting.created);
    let ours: Vec<_> = vp
        .emulator
        .cash_receipts()
        .into_iter()
        .filter(|b| b.batch == "EXACT-PAY-5")
        .collect();
    assert_eq!(ours.len(), 1);
    assert!(ours[0].posted);
}

#[tokio::test]
async fn a_create_whose_answer_is_lost_is_found_by_batch_and_exists_exactly_once() {
    let vp = spawn().await;
    let receipt = receipt_for_new_invoice(&vp, "EXACT-PAY-6", dec!(1210.00), dec!(1210.00));
    vp.emulator.faults().add_rule(FaultRule {
        method: Some("POST".into()),
        path_prefix: "/vantagepoint/api/DataEntry/crControl".into(),
        commit_then_drop_per_mille: 1000,
        ..FaultRule::default()
    });

    // The raw create reports that its outcome is unknown ...
    let raw = vp
        .client
        .create_cash_receipt_batch(&receipt)
        .await
        .unwrap_err();
    assert!(matches!(raw, VpError::OutcomeUnknown { .. }), "{raw:?}");
    // ... and the idempotent operation resolves it by looking the batch up.
    let posting = vp.psa().record_cash_receipt(&receipt).await.unwrap();

    assert!(posting.post_seq > 0);
    let ours: Vec<_> = vp
        .emulator
        .cash_receipts()
        .into_iter()
        .filter(|b| b.batch == "EXACT-PAY-6")
        .collect();
    assert_eq!(ours.len(), 1, "exactly one batch despite the lost answer");
    assert!(ours[0].posted);
    assert_eq!(
        vp.emulator.faults().injected().get("commit-then-drop"),
        Some(&1)
    );
}

#[tokio::test]
async fn a_create_whose_answer_is_lost_inside_record_is_resolved_without_a_duplicate() {
    let vp = spawn().await;
    let receipt = receipt_for_new_invoice(&vp, "EXACT-PAY-7", dec!(1210.00), dec!(1210.00));
    vp.emulator.faults().add_rule(FaultRule {
        method: Some("POST".into()),
        path_prefix: "/vantagepoint/api/DataEntry/crControl".into(),
        commit_then_drop_per_mille: 1000,
        ..FaultRule::default()
    });

    let posting = vp.psa().record_cash_receipt(&receipt).await.unwrap();

    assert!(
        posting.created,
        "the batch was created by this call even though its answer was lost"
    );
    assert_eq!(
        vp.emulator
            .cash_receipts()
            .iter()
            .filter(|b| b.batch == "EXACT-PAY-7")
            .count(),
        1
    );
    assert_eq!(
        vp.emulator
            .counters()
            .count_matching("POST /vantagepoint/api/DataEntry"),
        1
    );
}

#[tokio::test]
async fn a_reset_before_the_handler_is_retried_by_record_and_creates_one_batch() {
    let vp = spawn().await;
    let receipt = receipt_for_new_invoice(&vp, "EXACT-PAY-8", dec!(1210.00), dec!(1210.00));
    vp.emulator.faults().add_rule(FaultRule {
        method: Some("POST".into()),
        path_prefix: "/vantagepoint/api/DataEntry/crControl".into(),
        reset_before_per_mille: 1000,
        ..FaultRule::default()
    });

    let raw = vp
        .client
        .create_cash_receipt_batch(&receipt)
        .await
        .unwrap_err();
    assert!(
        matches!(raw, VpError::OutcomeUnknown { .. }),
        "a POST whose connection dropped is unknown: {raw:?}"
    );
    assert!(
        vp.client
            .find_cash_receipt("EXACT-PAY-8")
            .await
            .unwrap()
            .is_none(),
        "nothing was committed"
    );
    vp.emulator.faults().clear();
    let posting = vp.psa().record_cash_receipt(&receipt).await.unwrap();

    assert!(posting.created);
    assert_eq!(
        vp.emulator
            .cash_receipts()
            .iter()
            .filter(|b| b.batch == "EXACT-PAY-8")
            .count(),
        1
    );
}

#[tokio::test]
async fn posting_into_a_closed_period_is_a_business_rule() {
    let vp = spawn().await;
    let mut receipt = receipt_for_new_invoice(&vp, "EXACT-PAY-9", dec!(1210.00), dec!(1210.00));
    vp.emulator.close_period(vp.demo.active_period).unwrap();
    receipt.period = Period::from_yyyypp(i64::from(vp.demo.active_period)).unwrap();

    let err = vp.psa().record_cash_receipt(&receipt).await.unwrap_err();

    assert!(
        matches!(
            err,
            PsaError::BusinessRule { .. } | PsaError::Validation { .. }
        ),
        "{err:?}"
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn posting_a_batch_vp_does_not_know_reports_vp_s_failure_message() {
    let vp = spawn().await;
    let period = Period::from_yyyypp(i64::from(vp.demo.active_period)).unwrap();

    let err = vp
        .client
        .post_batch("CR", "NO-SUCH-BATCH", period, Some("A0"), "nothing")
        .await
        .unwrap_err();

    match err {
        VpError::BusinessRule { message, .. } => assert!(!message.is_empty()),
        other => panic!("expected a business rule error, got {other:?}"),
    }
}

#[tokio::test]
async fn posting_reports_the_period_and_sequence_vp_assigned() {
    let vp = spawn().await;
    let receipt = receipt_for_new_invoice(&vp, "EXACT-PAY-10", dec!(1210.00), dec!(1210.00));
    vp.client.create_cash_receipt_batch(&receipt).await.unwrap();

    let report = vp
        .client
        .post_batch("CR", "EXACT-PAY-10", receipt.period, Some("A0"), "post")
        .await
        .unwrap();

    let entry = report.for_batch("EXACT-PAY-10").unwrap();
    assert!(entry.succeeded);
    assert_eq!(entry.period, Some(i64::from(vp.demo.active_period)));
    let found = vp
        .client
        .find_cash_receipt("EXACT-PAY-10")
        .await
        .unwrap()
        .unwrap();
    assert!(found.posted);
    assert_eq!(found.post_seq.map(i64::from), entry.post_seq);
}

#[tokio::test]
async fn a_posted_receipt_reduces_the_invoice_balance_vp_reports() {
    let vp = spawn().await;
    let receipt = receipt_for_new_invoice(&vp, "EXACT-PAY-11", dec!(210.00), dec!(210.00));
    let before = vp.client.invoice_balance("INV-EXACT-PAY-11").await.unwrap();

    vp.psa().record_cash_receipt(&receipt).await.unwrap();
    let after = vp.client.invoice_balance("INV-EXACT-PAY-11").await.unwrap();

    assert_eq!(before, Some(dec!(1210.00)));
    assert_eq!(after, Some(dec!(1000.00)));
    assert_eq!(
        vp.client.invoice_balance("NO-SUCH-INVOICE").await.unwrap(),
        None
    );
}
