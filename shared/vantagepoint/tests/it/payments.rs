//! AP (PP) and employee expense (EP) payments.

use chrono::NaiveDate;
use ledgerlink_domain::Period;
use ledgerlink_domain::vantagepoint::{ApPayment, ApPaymentCheck, EmPayment, EmPaymentCheck};
use ledgerlink_emulators::FaultRule;
use ledgerlink_emulators::vantagepoint::{ExpenseLineSeed, ExpenseReportSeed, VoucherSeed};
use ledgerlink_ports::psa::{Psa, PsaError};
use rust_decimal_macros::dec;

use crate::helpers::{TestVp, spawn};

fn period(vp: &TestVp) -> Period {
    Period::from_yyyypp(i64::from(vp.demo.active_period)).unwrap()
}

fn date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 6, 15).unwrap()
}

fn vendor_payment(
    vp: &TestVp,
    vendor: &str,
    voucher: &str,
    amount: rust_decimal::Decimal,
) -> ApPayment {
    ApPayment {
        period: period(vp),
        post_seq: 0,
        user_name: Some("integration".into()),
        trans_type: "PP".into(),
        completed: false,
        payment_date: date(),
        check_date: date(),
        company: "A0".into(),
        checks: vec![ApPaymentCheck {
            period: period(vp),
            seq: 1,
            vendor: vendor.into(),
            voucher: voucher.into(),
            invoice: Some("SUP-1".into()),
            invoice_date: date(),
            liab_code: "AP".into(),
            line: 1,
            wbs1: None,
            wbs2: None,
            wbs3: None,
            account: "60100".into(),
            org: Some("A0:01:10".into()),
            amount,
            discount: dec!(0),
            prev_pay: dec!(0),
            payment: amount,
            pay_terms: Some("30".into()),
            bank_code: "EURBANK".into(),
            check_no: Some("EXACT-BP-1".into()),
            check_date: date(),
        }],
    }
}

#[tokio::test]
async fn a_vendor_payment_reduces_the_voucher_balance() {
    let vp = spawn().await;
    let vendor = vp.demo.vendors[0].clone();
    vp.emulator
        .post_voucher(&VoucherSeed {
            voucher: "V-7001".into(),
            vendor: vendor.clone(),
            invoice: "SUP-1".into(),
            liab_code: "AP".into(),
            bank_code: "EURBANK".into(),
            lines: vec![ExpenseLineSeed {
                description: "Rent".into(),
                account: "60100".into(),
                amount: dec!(400.00),
                ..ExpenseLineSeed::default()
            }],
            ..VoucherSeed::default()
        })
        .unwrap();

    let posting = vp
        .psa()
        .post_vendor_payment(&vendor_payment(&vp, &vendor, "V-7001", dec!(150.00)))
        .await
        .unwrap();

    assert!(posting.post_seq.is_some());
    assert_eq!(
        vp.emulator.voucher_outstanding(&vendor, "V-7001"),
        Some(dec!(250.00))
    );
    assert_eq!(vp.emulator.payments().len(), 1);
}

#[tokio::test]
async fn overpaying_a_voucher_is_refused_with_vp_s_message() {
    let vp = spawn().await;
    let vendor = vp.demo.vendors[0].clone();
    vp.emulator
        .post_voucher(&VoucherSeed {
            voucher: "V-7002".into(),
            vendor: vendor.clone(),
            lines: vec![ExpenseLineSeed {
                account: "60100".into(),
                amount: dec!(100.00),
                ..ExpenseLineSeed::default()
            }],
            ..VoucherSeed::default()
        })
        .unwrap();

    let err = vp
        .psa()
        .post_vendor_payment(&vendor_payment(&vp, &vendor, "V-7002", dec!(150.00)))
        .await
        .unwrap_err();

    match err {
        PsaError::Validation { message } | PsaError::BusinessRule { message } => {
            assert!(message.contains("exceeds"), "{message}")
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(vp.emulator.payments().is_empty());
}

#[tokio::test]
async fn an_employee_payment_settles_the_expense_report() {
    let vp = spawn().await;
    let employee = vp.demo.employees[0].clone();
    vp.emulator
        .post_expense_report(&ExpenseReportSeed {
            employee: employee.clone(),
            voucher: "EX-8001".into(),
            report_name: "Trip".into(),
            lines: vec![ExpenseLineSeed {
                account: "65100".into(),
                amount: dec!(80.00),
                ..ExpenseLineSeed::default()
            }],
            ..ExpenseReportSeed::default()
        })
        .unwrap();
    let payment = EmPayment {
        trans_type: "EP".into(),
        period: period(&vp),
        post_seq: 1,
        payment_date: date(),
        check_date: date(),
        company: "A0".into(),
        checks: vec![EmPaymentCheck {
            detail_type: "E".into(),
            period: period(&vp),
            seq: 1,
            employee: employee.clone(),
            voucher: Some("EX-8001".into()),
            bank_code: "EURBANK".into(),
            org: Some("A0:01:10".into()),
            amount: dec!(80.00),
            check_amount: dec!(80.00),
            check_date: date(),
            report_date: date(),
            check_no: Some("EXACT-EP-1".into()),
        }],
    };

    let posting = vp.psa().post_employee_payment(&payment).await.unwrap();

    assert!(posting.post_seq.is_some());
    let report = vp.emulator.expense_report(&employee, "EX-8001").unwrap();
    assert!(report.paid);
    assert_eq!(report.outstanding, dec!(0));
}

fn post_rent_voucher(vp: &TestVp, voucher: &str) -> String {
    let vendor = vp.demo.vendors[0].clone();
    vp.emulator
        .post_voucher(&VoucherSeed {
            voucher: voucher.into(),
            vendor: vendor.clone(),
            lines: vec![ExpenseLineSeed {
                account: "60100".into(),
                amount: dec!(400.00),
                ..ExpenseLineSeed::default()
            }],
            ..VoucherSeed::default()
        })
        .unwrap();
    vendor
}

#[tokio::test]
async fn posting_the_same_vendor_payment_twice_pays_once() {
    let vp = spawn().await;
    let vendor = post_rent_voucher(&vp, "V-7003");
    let payment = vendor_payment(&vp, &vendor, "V-7003", dec!(100.00));

    let first = vp.psa().post_vendor_payment(&payment).await.unwrap();
    let second = vp.psa().post_vendor_payment(&payment).await.unwrap();

    assert!(first.created && !second.created);
    assert_eq!(
        (first.period, first.post_seq),
        (second.period, second.post_seq)
    );
    assert_eq!(vp.emulator.payments().len(), 1);
    assert_eq!(
        vp.emulator.voucher_outstanding(&vendor, "V-7003"),
        Some(dec!(300.00))
    );
}

#[tokio::test]
async fn a_vendor_payment_whose_answer_is_lost_is_found_by_check_number_and_paid_once() {
    let vp = spawn().await;
    let vendor = post_rent_voucher(&vp, "V-7004");
    vp.emulator.faults().add_rule(FaultRule {
        method: Some("POST".into()),
        path_prefix: "/vantagepoint/vision/ledger/PP".into(),
        commit_then_drop_per_mille: 1000,
        ..FaultRule::default()
    });

    let posting = vp
        .psa()
        .post_vendor_payment(&vendor_payment(&vp, &vendor, "V-7004", dec!(400.00)))
        .await
        .unwrap();

    assert!(posting.created);
    assert!(posting.post_seq.is_some());
    assert_eq!(vp.emulator.payments().len(), 1);
    assert_eq!(
        vp.emulator.voucher_outstanding(&vendor, "V-7004"),
        Some(dec!(0.00))
    );
}
