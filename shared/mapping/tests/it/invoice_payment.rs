//! Tables "Invoice Payment: Exact Online to Vantagepoint" (CR control), "... CR Master Fields" and
//! "... CR Detail", and the allocation of a payment across the invoice lines.

use ledgerlink_domain::vantagepoint::{CrControl, CrDetail, CrMaster};
use ledgerlink_mapping::MappingError;
use ledgerlink_mapping::payments::{
    AllocationError, InvoiceOutstanding, OutstandingLine, allocate, cash_receipt_to_vp, cr_control,
    cr_detail_pkey, cr_details, cr_master, remaining_balances, spec_remaining_balance,
};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use crate::support::{ctx, date, eur, lookups, payment};

fn line(wbs2: &str, outstanding: Decimal) -> OutstandingLine {
    OutstandingLine {
        wbs1: Some("2026-001".into()),
        wbs2: Some(wbs2.into()),
        wbs3: None,
        org: Some("A0:01".into()),
        outstanding,
    }
}

fn outstanding() -> InvoiceOutstanding {
    InvoiceOutstanding {
        invoice: "000000010808".into(),
        currency: eur(),
        ar_account: "1100".into(),
        lines: vec![
            line("01", dec!(100.00)),
            line("02", dec!(100.00)),
            line("03", dec!(100.00)),
        ],
        open_balance: None,
    }
}

fn control() -> CrControl {
    cr_control(&payment(dec!(100.00)), &outstanding(), &ctx(), &lookups()).unwrap()
}

fn master() -> CrMaster {
    cr_master(&payment(dec!(100.00)), &outstanding(), &lookups()).unwrap()
}

fn details() -> Vec<CrDetail> {
    cr_details(&payment(dec!(100.00)), &outstanding()).unwrap()
}

#[test]
fn cr_control_row_batch_is_exact_plus_payment_id() {
    assert_eq!(control().batch, "ExactPAY42");
}

#[test]
fn cr_control_row_ref_no_is_the_reference() {
    let full =
        cash_receipt_to_vp(&payment(dec!(100.00)), &outstanding(), &ctx(), &lookups()).unwrap();
    assert_eq!(full.masters[0].ref_no, "REF-77");
}

#[test]
fn cr_control_row_description_is_payment_invoice_plus_invoice_number() {
    assert_eq!(
        control().description.as_deref(),
        Some("Payment invoice 000000010808")
    );
}

#[test]
fn cr_control_row_recurring_defaults_to_no() {
    assert_eq!(serde_json::to_value(control()).unwrap()["Recurring"], "N");
}

#[test]
fn cr_control_row_end_date_is_the_date() {
    assert_eq!(control().end_date, date("2026-07-03"));
}

#[test]
fn cr_control_row_total_is_the_amount() {
    assert_eq!(control().total, dec!(100.00));
}

#[test]
fn cr_control_row_default_bank_is_the_account_id_via_the_bank_table() {
    assert_eq!(control().default_bank, "BANK-EUR");
}

#[test]
fn cr_control_row_selected_defaults_to_no() {
    assert_eq!(serde_json::to_value(control()).unwrap()["Selected"], "N");
}

#[test]
fn cr_control_row_posted_defaults_to_no() {
    assert_eq!(serde_json::to_value(control()).unwrap()["Posted"], "N");
}

#[test]
fn cr_control_row_creator_defaults_to_integration() {
    assert_eq!(control().creator, "integration");
}

#[test]
fn cr_control_row_period_defaults_to_the_current_vp_active_period() {
    assert_eq!(serde_json::to_value(control()).unwrap()["Period"], 202607);
}

#[test]
fn cr_control_row_company_is_the_company() {
    assert_eq!(control().company.as_deref(), Some("A0"));
}

#[test]
fn cr_master_row_batch_is_exact_plus_payment_id() {
    assert_eq!(master().batch, "ExactPAY42");
}

#[test]
fn cr_master_row_ref_no_is_the_reference() {
    assert_eq!(master().ref_no, "REF-77");
    let mut p = payment(dec!(100.00));
    p.reference = None;
    assert_eq!(
        cr_master(&p, &outstanding(), &lookups()).unwrap().ref_no,
        "PAY42"
    );
}

#[test]
fn cr_master_row_trans_date_is_the_date() {
    assert_eq!(master().trans_date, date("2026-07-03"));
}

#[test]
fn cr_master_row_trans_comment_is_the_reference() {
    assert_eq!(master().trans_comment.as_deref(), Some("REF-77"));
}

#[test]
fn cr_master_row_posted_defaults_to_no() {
    assert!(!master().posted);
}

#[test]
fn cr_master_row_bank_code_is_the_bank_found_for_the_account_id() {
    assert_eq!(master().bank_code, "BANK-EUR");
}

#[test]
fn cr_master_row_seq_defaults_to_1() {
    assert_eq!(master().seq, 1);
}

#[test]
fn cr_master_row_currency_code_is_the_currency_code_of_the_invoice_billing_currency() {
    assert_eq!(master().currency, eur());
    let mut invoice = outstanding();
    invoice.currency = ledgerlink_domain::CurrencyCode::parse("USD").unwrap();
    let error = cr_master(&payment(dec!(100.00)), &invoice, &lookups()).unwrap_err();
    assert!(
        matches!(error, MappingError::CurrencyMismatch { .. }),
        "{error}"
    );
}

#[test]
fn cr_master_row_currency_exchange_override_method_defaults_to_no() {
    assert_eq!(
        serde_json::to_value(master()).unwrap()["CurrencyExchangeOverrideMethod"],
        "N"
    );
}

#[test]
fn cr_master_row_currency_exchange_override_rate_defaults_to_0() {
    assert_eq!(master().currency_exchange_override_rate, Decimal::ZERO);
}

#[test]
fn cr_master_row_status_defaults_to_a() {
    assert_eq!(master().status, "A");
}

#[test]
fn cr_detail_row_batch_is_exact_plus_payment_id() {
    assert!(details().iter().all(|d| d.batch == "ExactPAY42"));
}

#[test]
fn cr_detail_row_ref_no_is_the_reference() {
    assert!(details().iter().all(|d| d.ref_no == "REF-77"));
}

#[test]
fn cr_detail_row_pkey_is_a_deterministic_unique_uuid() {
    let first = details();
    let again = details();
    assert_eq!(
        first.iter().map(|d| &d.pkey).collect::<Vec<_>>(),
        again.iter().map(|d| &d.pkey).collect::<Vec<_>>()
    );
    assert_ne!(first[0].pkey, first[1].pkey);
    // Worked out independently of the implementation: SHA-256 of
    // "ledgerlink-cr|ExactPAY42|REF-77|000000010808|1" (Python's hashlib), first 16 bytes, with the
    // RFC 9562 version-8 nibble (byte 6 → 0x8_) and variant bits (byte 8 → 0b10xx_xxxx) set.
    assert_eq!(first[0].pkey, "8e4b7eb15e7281809c574eab321a1fbd");
    assert_eq!(
        cr_detail_pkey("ExactPAY42", "REF-77", "000000010808", 1),
        first[0].pkey
    );
}

#[test]
fn cr_detail_row_description_is_the_invoice_number() {
    assert!(
        details()
            .iter()
            .all(|d| d.description.as_deref() == Some("000000010808"))
    );
}

#[test]
fn cr_detail_row_wbs1_is_from_the_invoice_search() {
    assert_eq!(details()[0].wbs1.as_deref(), Some("2026-001"));
}

#[test]
fn cr_detail_row_wbs2_is_from_the_invoice_search() {
    let wbs2: Vec<String> = details().iter().map(|d| d.wbs2.clone().unwrap()).collect();
    assert_eq!(wbs2, vec!["01", "02", "03"]);
}

#[test]
fn cr_detail_row_wbs3_is_from_the_invoice_search() {
    assert_eq!(serde_json::to_value(&details()[0]).unwrap()["WBS3"], " ");
}

#[test]
fn cr_detail_row_org_is_the_organization_from_the_invoice_search() {
    assert_eq!(details()[0].org.as_deref(), Some("A0:01"));
}

#[test]
fn cr_detail_row_account_is_accounts_receivable() {
    assert!(details().iter().all(|d| d.account == "1100"));
}

#[test]
fn cr_detail_row_amount_is_the_weighted_payment_summing_exactly_to_the_payment() {
    let amounts: Vec<Decimal> = details().iter().map(|d| d.amount).collect();
    assert_eq!(amounts, vec![dec!(33.34), dec!(33.33), dec!(33.33)]);
    assert_eq!(amounts.iter().sum::<Decimal>(), dec!(100.00));
}

#[test]
fn cr_detail_row_interest_defaults_to_no() {
    assert_eq!(
        serde_json::to_value(&details()[0]).unwrap()["Interest"],
        "N"
    );
}

#[test]
fn cr_detail_row_tax_basis_defaults_to_0() {
    assert!(details().iter().all(|d| d.tax_basis.is_zero()));
}

#[test]
fn cr_detail_row_currency_exchange_override_rate_defaults_to_0() {
    assert!(
        details()
            .iter()
            .all(|d| d.currency_exchange_override_rate.is_zero())
    );
}

#[test]
fn cr_detail_row_invoice_is_the_invoice_number() {
    assert!(
        details()
            .iter()
            .all(|d| d.invoice.as_deref() == Some("000000010808"))
    );
}

#[test]
fn cash_receipt_control_total_equals_the_sum_of_its_details() {
    let full =
        cash_receipt_to_vp(&payment(dec!(77.77)), &outstanding(), &ctx(), &lookups()).unwrap();
    assert_eq!(
        full.total,
        full.details.iter().map(|d| d.amount).sum::<Decimal>()
    );
}

#[test]
fn allocation_is_proportional_to_outstanding_with_largest_remainders_taking_the_cents() {
    let allocated = allocate(dec!(100.00), &[dec!(50.00), dec!(30.00), dec!(20.00)]).unwrap();
    assert_eq!(allocated, vec![dec!(50.00), dec!(30.00), dec!(20.00)]);
    let allocated = allocate(dec!(10.00), &[dec!(1.00), dec!(1.00), dec!(1.00)]).unwrap_err();
    assert_eq!(
        allocated,
        AllocationError::Overpayment {
            payment: dec!(10.00),
            outstanding: dec!(3.00)
        }
    );
    let allocated = allocate(dec!(0.02), &[dec!(1.00), dec!(1.00), dec!(1.00)]).unwrap();
    assert_eq!(allocated, vec![dec!(0.01), dec!(0.01), dec!(0.00)]);
}

#[test]
fn allocation_leaves_the_remaining_balance_of_the_spec_formula() {
    let owed = [dec!(968.00), dec!(45.00)];
    let allocated = allocate(dec!(500.00), &owed).unwrap();
    let remaining = remaining_balances(&owed, &allocated);
    assert_eq!(remaining, vec![dec!(490.21), dec!(22.79)]);
    for (o, r) in owed.iter().zip(&remaining) {
        let literal = spec_remaining_balance(*o, dec!(500.00), dec!(1013.00));
        assert!((literal - *r).abs() < dec!(0.01), "{literal} vs {r}");
    }
}

#[test]
fn allocation_refuses_negative_payments_and_fractions_of_a_cent() {
    assert_eq!(
        allocate(dec!(-1), &[dec!(5)]),
        Err(AllocationError::NegativePayment(dec!(-1)))
    );
    assert_eq!(
        allocate(dec!(1.005), &[dec!(5)]),
        Err(AllocationError::FractionalCents(dec!(1.005)))
    );
    assert_eq!(
        allocate(dec!(1), &[dec!(0)]),
        Err(AllocationError::NothingOutstanding)
    );
}

#[test]
fn full_payment_of_lines_with_fractions_of_a_cent_allocates_every_cent() {
    // Arrange: the flows author's report — weights with a tenth of a cent, paid in full.
    let owed = [dec!(33.333), dec!(33.333), dec!(33.334)];

    // Act
    let allocated = allocate(dec!(100.00), &owed).unwrap();

    // Assert: the cent left after rounding down goes to the largest remainder (the third line, 0.004).
    assert_eq!(allocated, vec![dec!(33.33), dec!(33.33), dec!(33.34)]);
    assert_eq!(allocated.iter().sum::<Decimal>(), dec!(100.00));
}

#[test]
fn half_cent_lines_paid_in_full_get_the_cent_on_the_earlier_line() {
    let allocated = allocate(dec!(0.01), &[dec!(0.005), dec!(0.005)]).unwrap();
    assert_eq!(allocated, vec![dec!(0.01), dec!(0.00)]);

    let allocated = allocate(dec!(0.02), &[dec!(0.005), dec!(0.0075), dec!(0.0075)]).unwrap();
    assert_eq!(allocated.iter().sum::<Decimal>(), dec!(0.02));
    assert_eq!(allocated, vec![dec!(0.00), dec!(0.01), dec!(0.01)]);
}

#[test]
fn no_line_gets_more_than_its_outstanding_rounded_up_to_the_cent() {
    let owed = [dec!(0.001), dec!(0.001), dec!(10.008)];
    let allocated = allocate(dec!(10.01), &owed).unwrap();
    assert_eq!(allocated.iter().sum::<Decimal>(), dec!(10.01));
    for (a, o) in allocated.iter().zip(&owed) {
        assert!(*a <= o.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::AwayFromZero));
    }
    assert_eq!(allocated, vec![dec!(0.00), dec!(0.00), dec!(10.01)]);
}

#[test]
fn remaining_balances_of_fractional_lines_sum_to_what_is_left_unpaid() {
    let owed = [dec!(33.333), dec!(33.333), dec!(33.334)];
    let allocated = allocate(dec!(100.00), &owed).unwrap();
    let remaining = remaining_balances(&owed, &allocated);
    assert_eq!(remaining, vec![dec!(0.003), dec!(0.003), dec!(-0.006)]);
    assert_eq!(remaining.iter().sum::<Decimal>(), Decimal::ZERO);
}

#[test]
fn allocation_to_no_lines_is_refused() {
    assert_eq!(allocate(dec!(5.00), &[]), Err(AllocationError::NoLines));
    assert_eq!(allocate(dec!(0.00), &[]), Err(AllocationError::NoLines));
}

#[test]
fn allocation_over_amounts_too_large_to_sum_is_refused_not_a_panic() {
    assert_eq!(
        allocate(dec!(1.00), &[Decimal::MAX, Decimal::MAX]),
        Err(AllocationError::OutOfRange)
    );
}

#[test]
fn a_zero_line_gets_nothing_and_a_discount_line_its_negative_share() {
    // 30.00 over 40.00, 0 and −10.00 (total 30.00): the whole payment, line by line.
    let allocated = allocate(dec!(30.00), &[dec!(40.00), dec!(0), dec!(-10.00)]).unwrap();
    assert_eq!(allocated, vec![dec!(40.00), dec!(0.00), dec!(-10.00)]);
}

#[test]
fn cash_receipt_larger_than_the_outstanding_invoice_is_refused_naming_the_payment() {
    // 300.04 on 300.00 open over three lines: more than the cent-per-line tax-rounding difference that
    // `cr_detail_row_amount_applies_a_tax_rounding_difference_of_a_cent_per_line` accepts.
    let error = cr_details(&payment(dec!(300.04)), &outstanding()).unwrap_err();
    assert!(matches!(error, MappingError::Overpayment { .. }), "{error}");
    assert_eq!(error.record().key, "PAY42");
}

// ---------------------------------------------------------------------------------------------------------
// Issue 11: billing currency, bank currency, open balances — hand-worked values.
// ---------------------------------------------------------------------------------------------------------

fn usd() -> ledgerlink_domain::CurrencyCode {
    ledgerlink_domain::CurrencyCode::parse("USD").unwrap()
}

/// An invoice of two lines, 600.00 and 400.00 (tax included), in its billing currency.
fn two_lines(
    currency: ledgerlink_domain::CurrencyCode,
    open: Option<Decimal>,
) -> InvoiceOutstanding {
    InvoiceOutstanding {
        invoice: "000000010808".into(),
        currency,
        ar_account: "1100".into(),
        lines: vec![line("01", dec!(600.00)), line("02", dec!(400.00))],
        open_balance: open,
    }
}

fn usd_payment(amount: Decimal) -> ledgerlink_mapping::payments::PaymentEvent {
    let mut p = payment(amount);
    p.amount = ledgerlink_domain::Money::new(amount, usd());
    p.bank_account = "NL20INGB0001234567".into();
    p
}

/// Cash Receipts consideration "For multicurrency environments, the cash receipt payment is recorded in
/// Vantagepoint using the billing currency of the invoice": an invoice billed in USD, paid in Exact in USD
/// through the USD bank, is recorded in USD on the USD bank.
#[test]
fn cash_receipts_consideration_the_receipt_is_recorded_in_the_invoice_billing_currency() {
    let receipt = cash_receipt_to_vp(
        &usd_payment(dec!(1000.00)),
        &two_lines(usd(), None),
        &ctx(),
        &lookups(),
    )
    .unwrap();
    assert_eq!(receipt.masters[0].currency, usd());
    assert_eq!(receipt.masters[0].bank_code, "BANK-USD");
    assert_eq!(receipt.default_bank, "BANK-USD");
    assert_eq!(
        receipt.details.iter().map(|d| d.amount).collect::<Vec<_>>(),
        vec![dec!(600.00), dec!(400.00)]
    );
}

/// A payment in another currency than the invoice's billing currency is refused, naming both.
#[test]
fn cash_receipts_consideration_a_payment_not_in_the_billing_currency_is_refused() {
    let error =
        cr_master(&payment(dec!(1000.00)), &two_lines(usd(), None), &lookups()).unwrap_err();
    assert!(
        matches!(error, MappingError::CurrencyMismatch { expected, found, .. } if expected == usd() && found == eur()),
        "{error}"
    );
}

/// Multicurrency consideration "Transactions sent from Exact Online to Vantagepoint … based on the bank code
/// currency": a USD payment that went through the EUR bank is the mismatch the spec warns about — refused.
#[test]
fn multicurrency_consideration_payments_back_are_refused_when_not_in_their_bank_code_currency() {
    let mut p = usd_payment(dec!(1000.00));
    p.bank_account = "NL91ABNA0417164300".into();
    let error = cr_master(&p, &two_lines(usd(), None), &lookups()).unwrap_err();
    assert!(
        matches!(error, MappingError::CurrencyMismatch { field: "BankCode", expected, found, .. } if expected == eur() && found == usd()),
        "{error}"
    );
}

/// Row "Amount → Weighted payment", against what is still open. First payment 333.33 of 1,000.00:
/// shares 199.998 and 133.332 → 199.99 and 133.33 rounded down, the cent left to the larger remainder (line
/// 1, .008) → 200.00 + 133.33. VP then shows 666.67 open; spread over the lines by their original amounts:
/// 400.002 and 266.668 → 400.00 + 266.66, the cent to line 2 (.008) → 400.00 + 266.67. The second payment
/// of 666.67 pays exactly that, so each line ends paid in full: 600.00 and 400.00.
#[test]
fn cr_detail_row_amount_second_partial_payment_is_allocated_against_the_open_balance() {
    let first = cr_details(
        &payment(dec!(333.33)),
        &two_lines(eur(), Some(dec!(1000.00))),
    )
    .unwrap();
    assert_eq!(
        first.iter().map(|d| d.amount).collect::<Vec<_>>(),
        vec![dec!(200.00), dec!(133.33)]
    );
    let second = cr_details(
        &payment(dec!(666.67)),
        &two_lines(eur(), Some(dec!(666.67))),
    )
    .unwrap();
    assert_eq!(
        second.iter().map(|d| d.amount).collect::<Vec<_>>(),
        vec![dec!(400.00), dec!(266.67)]
    );
    assert_eq!(first[0].amount + second[0].amount, dec!(600.00));
    assert_eq!(first[1].amount + second[1].amount, dec!(400.00));
}

/// A discount line takes its negative share: 450.00 on lines of 1,000.00 and −100.00 (900.00 open) applies
/// 450 × 1000 / 900 = 500.00 and 450 × −100 / 900 = −50.00.
#[test]
fn cr_detail_row_amount_of_a_discount_line_is_its_negative_share() {
    let mut invoice = two_lines(eur(), Some(dec!(900.00)));
    invoice.lines = vec![line("01", dec!(1000.00)), line("02", dec!(-100.00))];
    let details = cr_details(&payment(dec!(450.00)), &invoice).unwrap();
    assert_eq!(
        details.iter().map(|d| d.amount).collect::<Vec<_>>(),
        vec![dec!(500.00), dec!(-50.00)]
    );
}

/// An overpayment: 700.00 paid while VP shows 666.67 open is refused with both amounts, never capped.
#[test]
fn cr_detail_row_amount_overpayment_of_the_open_balance_is_refused_not_capped() {
    let error = cr_details(
        &payment(dec!(700.00)),
        &two_lines(eur(), Some(dec!(666.67))),
    )
    .unwrap_err();
    assert_eq!(
        error,
        MappingError::Overpayment {
            record: error.record().clone(),
            payment: dec!(700.00),
            outstanding: dec!(666.67),
        }
    );
    let text = error.to_string();
    assert!(
        text.contains("not recorded") && text.contains("666.67"),
        "{text}"
    );
}

/// VP's open balance includes the tax its (net) billing lines do not: 1,210.00 open on net lines of 400.00
/// and 600.00 spreads as 484.00 and 726.00 (×1.21), and a full payment applies exactly that.
#[test]
fn cr_detail_row_amount_spreads_the_taxed_open_balance_over_the_net_lines() {
    let mut invoice = two_lines(eur(), Some(dec!(1210.00)));
    invoice.lines = vec![line("01", dec!(400.00)), line("02", dec!(600.00))];
    let details = cr_details(&payment(dec!(1210.00)), &invoice).unwrap();
    assert_eq!(
        details.iter().map(|d| d.amount).collect::<Vec<_>>(),
        vec![dec!(484.00), dec!(726.00)]
    );
}

/// VP rounds each line's tax, the ledger each grouped line's: paying the ledger's 1,000.01 when VP shows
/// 1,000.00 open (two lines) is a rounding difference, applied in full (600.01 + 400.00 by the largest
/// remainder of 600.006 / 400.004); 1,000.03 on two lines is an overpayment and refused.
#[test]
fn cr_detail_row_amount_applies_a_tax_rounding_difference_of_a_cent_per_line() {
    let details = cr_details(
        &payment(dec!(1000.01)),
        &two_lines(eur(), Some(dec!(1000.00))),
    )
    .unwrap();
    assert_eq!(
        details.iter().map(|d| d.amount).collect::<Vec<_>>(),
        vec![dec!(600.01), dec!(400.00)]
    );
    let error = cr_details(
        &payment(dec!(1000.03)),
        &two_lines(eur(), Some(dec!(1000.00))),
    )
    .unwrap_err();
    assert!(matches!(error, MappingError::Overpayment { .. }), "{error}");
}
