//! Tables "AP Payment: Vantagepoint to Exact Online" (+ APPChecks), and the expense (EM) payment.

use ledgerlink_domain::vantagepoint::{ApPayment, ApPaymentCheck};
use ledgerlink_mapping::payments::{
    ap_payment_checks, ap_payment_header, ap_payment_to_vp, em_payment_to_vp,
};
use ledgerlink_mapping::{MappingError, Outcome, SkipReason};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use crate::support::{ctx, date, expense_report, lookups, payment, voucher};

fn header() -> ApPayment {
    ap_payment_header(&payment(dec!(1013.00)), &voucher(), &ctx())
}

fn checks() -> Vec<ApPaymentCheck> {
    ap_payment_checks(&payment(dec!(1013.00)), &voucher(), &ctx(), &lookups()).unwrap()
}

#[test]
fn ap_payment_row_period_defaults_to_the_current_vp_active_period() {
    assert_eq!(header().period.as_yyyypp(), 202607);
}

#[test]
fn ap_payment_row_post_seq_defaults_to_1() {
    assert_eq!(header().post_seq, 1);
}

#[test]
fn ap_payment_row_transaction_type_defaults_to_pp() {
    assert_eq!(header().trans_type, "PP");
}

#[test]
fn ap_payment_row_payment_date_is_the_date() {
    assert_eq!(header().payment_date, date("2026-07-03"));
}

#[test]
fn ap_payment_row_check_date_is_the_date() {
    assert_eq!(header().check_date, date("2026-07-03"));
}

#[test]
fn ap_payment_row_company_number_uses_the_vp_company_from_the_ap_voucher() {
    let mut v = voucher();
    v.company = Some("B7".into());
    assert_eq!(
        ap_payment_header(&payment(dec!(1)), &v, &ctx()).company,
        "B7"
    );
    v.company = None;
    assert_eq!(
        ap_payment_header(&payment(dec!(1)), &v, &ctx()).company,
        "A0"
    );
}

#[test]
fn ap_payment_checks_row_period_defaults_to_the_current_vp_active_period() {
    assert!(checks().iter().all(|c| c.period.as_yyyypp() == 202607));
}

#[test]
fn ap_payment_checks_row_seq_defaults_to_0() {
    assert!(checks().iter().all(|c| c.seq == 0));
}

#[test]
fn ap_payment_checks_row_vendor_is_the_vendor_number() {
    assert!(checks().iter().all(|c| c.vendor == "V-0042"));
}

#[test]
fn ap_payment_checks_row_voucher_is_the_voucher_number() {
    assert!(checks().iter().all(|c| c.voucher == "0000000123"));
}

#[test]
fn ap_payment_checks_row_invoice_is_the_invoice_number() {
    assert_eq!(checks()[0].invoice.as_deref(), Some("INI-88231"));
}

#[test]
fn ap_payment_checks_row_invoice_date_is_the_invoice_date() {
    assert_eq!(checks()[0].invoice_date, date("2026-06-10"));
}

#[test]
fn ap_payment_checks_row_check_date_is_the_payment_date() {
    assert!(checks().iter().all(|c| c.check_date == date("2026-07-03")));
}

#[test]
fn ap_payment_checks_row_liability_code_defaults_to_ap_general_liability() {
    assert_eq!(checks()[0].liab_code, "AP");
    let mut v = voucher();
    v.liab_code = None;
    let mut l = lookups();
    l.settings.ap_liability_code = "APGEN".into();
    let out = ap_payment_checks(&payment(dec!(1013.00)), &v, &ctx(), &l).unwrap();
    assert_eq!(out[0].liab_code, "APGEN");
}

#[test]
fn ap_payment_checks_row_wbs1_is_the_project_number() {
    assert_eq!(checks()[0].wbs1.as_deref(), Some("2026-001"));
}

#[test]
fn ap_payment_checks_row_wbs2_is_the_phase_number() {
    assert_eq!(checks()[0].wbs2.as_deref(), Some("01"));
}

#[test]
fn ap_payment_checks_row_wbs3_is_the_task_number_blank_as_a_space() {
    assert_eq!(checks()[0].wbs3, None);
    assert_eq!(serde_json::to_value(&checks()[0]).unwrap()["WBS3"], " ");
}

#[test]
fn ap_payment_checks_row_account_is_the_account_code() {
    assert_eq!(checks()[1].account, "6200");
}

#[test]
fn ap_payment_checks_row_org_is_the_organization() {
    assert_eq!(checks()[0].org.as_deref(), Some("A0:01"));
}

#[test]
fn ap_payment_checks_row_amount_is_the_amount() {
    let amounts: Vec<Decimal> = checks().iter().map(|c| c.amount).collect();
    assert_eq!(amounts, vec![dec!(968.00), dec!(45.00)]);
}

#[test]
fn ap_payment_checks_row_payment_amount_is_the_allocated_exact_amount() {
    let out = ap_payment_checks(&payment(dec!(500.00)), &voucher(), &ctx(), &lookups()).unwrap();
    let paid: Vec<Decimal> = out.iter().map(|c| c.payment).collect();
    assert_eq!(paid, vec![dec!(477.79), dec!(22.21)]);
    assert_eq!(paid.iter().sum::<Decimal>(), dec!(500.00));
}

#[test]
fn ap_payment_checks_row_payment_terms_is_pay_terms() {
    assert_eq!(checks()[0].pay_terms.as_deref(), Some("30"));
}

#[test]
fn ap_payment_checks_row_bank_code_is_the_bank_code() {
    assert!(checks().iter().all(|c| c.bank_code == "BANK-EUR"));
}

#[test]
fn ap_payment_checks_row_check_number_is_the_exact_payment_id() {
    assert!(
        checks()
            .iter()
            .all(|c| c.check_no.as_deref() == Some("PAY42"))
    );
}

#[test]
fn ap_payment_with_an_unknown_bank_is_a_lookup_error() {
    let mut p = payment(dec!(10));
    p.bank_account = "NL00UNKNOWN".into();
    let error = ap_payment_to_vp(&p, &voucher(), &ctx(), &lookups()).unwrap_err();
    assert!(
        matches!(
            error,
            MappingError::NotInLookup {
                table: "bank codes",
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn ap_payment_larger_than_the_voucher_is_refused() {
    let error =
        ap_payment_to_vp(&payment(dec!(1013.01)), &voucher(), &ctx(), &lookups()).unwrap_err();
    assert!(matches!(error, MappingError::Overpayment { .. }), "{error}");
}

#[test]
fn em_payment_of_a_fully_paid_expense_report_marks_it_paid() {
    let out = em_payment_to_vp(
        &payment(dec!(430.40)),
        &expense_report(),
        dec!(0),
        &ctx(),
        &lookups(),
    )
    .unwrap();
    let posting = out.mapped().unwrap();
    assert_eq!(posting.trans_type, "EP");
    assert_eq!(posting.checks[0].employee, "00017");
    assert_eq!(posting.checks[0].amount, dec!(430.40));
    assert_eq!(posting.checks[0].bank_code, "BANK-EUR");
}

#[test]
fn em_payment_that_is_partial_waits_until_the_report_is_fully_paid() {
    let out = em_payment_to_vp(
        &payment(dec!(200.00)),
        &expense_report(),
        dec!(0),
        &ctx(),
        &lookups(),
    )
    .unwrap();
    assert_eq!(
        out,
        Outcome::Skipped(SkipReason::NotFullyPaid {
            paid: dec!(200.00),
            total: dec!(430.40)
        })
    );
    let last = em_payment_to_vp(
        &payment(dec!(230.40)),
        &expense_report(),
        dec!(200.00),
        &ctx(),
        &lookups(),
    )
    .unwrap();
    assert!(last.mapped().is_some());
}

/// The AP payment of a voucher entered in EUR and paid in USD (1,045.44 + 48.60 = 1,094.04 USD) through the
/// USD bank: APPChecks in USD, each line paid its USD amount (spec: payments back "based on the bank code
/// currency"; "Do not override the payment currency").
#[test]
fn ap_payment_appchecks_row_amount_is_in_the_voucher_payment_currency_and_its_bank_currency() {
    let mut v = voucher();
    v.payment_currency = Some(ledgerlink_domain::CurrencyCode::parse("USD").unwrap());
    v.lines[0].payment_amount = Some(dec!(1045.44));
    v.lines[1].payment_amount = Some(dec!(48.60));
    let mut p = payment(dec!(1094.04));
    p.amount = ledgerlink_domain::Money::new(
        dec!(1094.04),
        ledgerlink_domain::CurrencyCode::parse("USD").unwrap(),
    );
    p.bank_account = "NL20INGB0001234567".into();
    let checks = ap_payment_checks(&p, &v, &ctx(), &lookups()).unwrap();
    assert_eq!(
        checks
            .iter()
            .map(|c| (c.amount, c.payment))
            .collect::<Vec<_>>(),
        vec![(dec!(1045.44), dec!(1045.44)), (dec!(48.60), dec!(48.60))]
    );
    assert!(checks.iter().all(|c| c.bank_code == "BANK-USD"));
    // The same payment in EUR (the currency the voucher was entered in) is the overridden payment currency.
    let error = ap_payment_checks(&payment(dec!(1094.04)), &v, &ctx(), &lookups()).unwrap_err();
    assert!(
        matches!(error, MappingError::CurrencyMismatch { .. }),
        "{error}"
    );
}
