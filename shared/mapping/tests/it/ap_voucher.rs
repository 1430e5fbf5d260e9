//! Tables "AP Voucher: Vantagepoint AP Voucher to Exact Online Bill" and "... Bill Line Items".

use ledgerlink_domain::ObjectType;
use ledgerlink_mapping::purchases::{ap_voucher_header, ap_voucher_lines, ap_voucher_to_exact};
use ledgerlink_mapping::{DueDateRule, MappingError, RecordRef};
use rust_decimal_macros::dec;

use crate::support::{date, gl, lookups, voucher};

fn record() -> RecordRef {
    RecordRef::new(ObjectType::ApVoucher, "V-0042.0000000123")
}

#[test]
fn ap_voucher_row_vendor_name_is_the_supplier() {
    let entry = ap_voucher_header(&voucher(), &lookups()).unwrap();
    assert_eq!(entry.supplier, lookups().vendors["V-0042"]);
}

#[test]
fn ap_voucher_row_voucher_number_is_the_reference() {
    let entry = ap_voucher_header(&voucher(), &lookups()).unwrap();
    assert_eq!(entry.your_ref.as_deref(), Some("0000000123/V-0042"));
}

#[test]
fn two_vendors_vouchers_of_one_number_have_two_references_within_exacts_length() {
    use ledgerlink_mapping::purchases::{YOUR_REF_MAX, voucher_reference};
    let a = voucher_reference("V-0042", "1001");
    let b = voucher_reference("V-0043", "1001");
    let long = voucher_reference("A-VENDOR-WITH-A-VERY-LONG-CODE", "1001");
    let longer = voucher_reference("V", "0123456789012345678901234567890");

    assert_ne!(a, b);
    assert!(
        long.starts_with("1001/") && long.len() <= YOUR_REF_MAX,
        "{long}"
    );
    assert!(longer.len() <= YOUR_REF_MAX, "{longer}");
    assert_ne!(
        long,
        voucher_reference("A-VENDOR-WITH-A-VERY-LONG-COD3", "1001")
    );
}

#[test]
fn ap_voucher_row_voucher_number_is_required_with_a_clear_error() {
    let mut v = voucher();
    v.voucher = None;
    let error = ap_voucher_header(&v, &lookups()).unwrap_err();
    assert!(
        matches!(
            error,
            MappingError::Missing {
                field: "Voucher",
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("voucher number"), "{error}");
    assert!(!error.is_retryable());
}

#[test]
fn ap_voucher_row_invoice_date_is_the_date() {
    assert_eq!(
        ap_voucher_header(&voucher(), &lookups())
            .unwrap()
            .entry_date,
        date("2026-06-10")
    );
}

#[test]
fn ap_voucher_row_currency_code_is_the_currency_code() {
    assert_eq!(
        ap_voucher_header(&voucher(), &lookups())
            .unwrap()
            .currency
            .map(|c| c.to_string()),
        Some("EUR".into())
    );
}

#[test]
fn ap_voucher_row_status_authorised_is_a_posted_booking_without_a_status_field() {
    let body =
        serde_json::to_value(ap_voucher_to_exact(&voucher(), &lookups()).unwrap().entry).unwrap();
    assert!(body.get("Status").is_none());
}

#[test]
fn ap_voucher_row_end_date_is_the_due_date_from_the_mapping_value() {
    // The vendor has 14-day payment terms in the lookups.
    assert_eq!(
        ap_voucher_header(&voucher(), &lookups()).unwrap().due_date,
        Some(date("2026-06-24"))
    );
    let mut l = lookups();
    l.payment_terms.clear();
    l.due_dates = DueDateRule::UseSource { fallback_days: 30 };
    let mut v = voucher();
    v.due_date = Some(date("2026-08-01"));
    assert_eq!(
        ap_voucher_header(&v, &l).unwrap().due_date,
        Some(date("2026-08-01"))
    );
    l.due_dates = DueDateRule::DaysAfterDocument { days: 45 };
    assert_eq!(
        ap_voucher_header(&v, &l).unwrap().due_date,
        Some(date("2026-07-25"))
    );
}

#[test]
fn ap_voucher_row_line_amount_type_is_exclusive_with_a_tax_code_and_no_tax_without() {
    let lines = ap_voucher_lines(&voucher(), &lookups(), &record()).unwrap();
    assert_eq!(lines[0].vat_code.as_ref().map(|c| c.as_str()), Some("2"));
    assert_eq!(lines[0].amount_fc, dec!(800.00));
    assert_eq!(lines[1].vat_code.as_ref().map(|c| c.as_str()), Some("0"));
    assert_eq!(lines[1].vat_amount_fc, Some(dec!(0)));
}

#[test]
fn ap_voucher_lines_row_quantity_defaults_to_1() {
    let lines = ap_voucher_lines(&voucher(), &lookups(), &record()).unwrap();
    assert!(lines.iter().all(|l| l.quantity == Some(dec!(1))));
}

#[test]
fn ap_voucher_lines_row_net_amount_is_the_line_amount() {
    let lines = ap_voucher_lines(&voucher(), &lookups(), &record()).unwrap();
    assert_eq!(lines[1].amount_fc, dec!(45.00));
}

#[test]
fn ap_voucher_lines_row_account_is_the_account_code() {
    let lines = ap_voucher_lines(&voucher(), &lookups(), &record()).unwrap();
    assert_eq!(lines[0].gl_account, gl("6100"));
    assert_eq!(lines[1].gl_account, gl("6200"));
}

#[test]
fn ap_voucher_lines_row_tax_code_is_the_tax_rate_name() {
    let lines = ap_voucher_lines(&voucher(), &lookups(), &record()).unwrap();
    let body = serde_json::to_value(&lines[0]).unwrap();
    assert_eq!(body["VATCode"], "2  ");
}

#[test]
fn ap_voucher_lines_row_total_tax_is_the_tax_amount() {
    let lines = ap_voucher_lines(&voucher(), &lookups(), &record()).unwrap();
    assert_eq!(lines[0].vat_amount_fc, Some(dec!(168.00)));
}

#[test]
fn ap_voucher_lines_with_tax_but_no_tax_code_are_refused() {
    let mut v = voucher();
    v.lines[1].total_tax = dec!(9.45);
    let error = ap_voucher_lines(&v, &lookups(), &record()).unwrap_err();
    assert!(
        matches!(
            error,
            MappingError::Invalid {
                field: "TaxCode",
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn ap_voucher_with_a_vendor_not_yet_linked_is_a_retryable_lookup_error() {
    let mut v = voucher();
    v.vendor = "V-9999".into();
    let error = ap_voucher_header(&v, &lookups()).unwrap_err();
    assert!(
        matches!(
            error,
            MappingError::NotInLookup {
                table: "vendors",
                ..
            }
        ),
        "{error}"
    );
    assert!(error.is_retryable());
}

/// A voucher entered in EUR and paid in USD at 1.08: line 1 is 800.00 + 168.00 tax = 968.00 EUR, paid as
/// 1,045.44 USD; line 2 is 45.00 EUR without tax, paid as 48.60 USD.
fn usd_voucher() -> ledgerlink_domain::vantagepoint::ApVoucher {
    let mut v = voucher();
    v.payment_currency = Some(ledgerlink_domain::CurrencyCode::parse("USD").unwrap());
    v.lines[0].payment_amount = Some(dec!(1045.44));
    v.lines[1].payment_amount = Some(dec!(48.60));
    v
}

/// Multicurrency consideration "AP Vouchers (Payment Currency)": the purchase entry goes out in USD, each
/// line's USD amount split in its own net/gross proportion: 1,045.44 × 800 / 968 = 864.00 net, 181.44 tax;
/// 48.60 net, no tax.
#[test]
fn multicurrency_consideration_ap_vouchers_go_out_in_the_payment_currency() {
    let mapped = ap_voucher_to_exact(&usd_voucher(), &lookups()).unwrap();
    assert_eq!(
        mapped.entry.currency.map(|c| c.to_string()),
        Some("USD".into())
    );
    let lines = &mapped.entry.lines;
    assert_eq!(
        (lines[0].amount_fc, lines[0].vat_amount_fc),
        (dec!(864.00), Some(dec!(181.44)))
    );
    assert_eq!(
        (lines[1].amount_fc, lines[1].vat_amount_fc),
        (dec!(48.60), Some(dec!(0)))
    );
}

#[test]
fn multicurrency_consideration_a_voucher_line_without_its_payment_amount_is_refused() {
    let mut v = usd_voucher();
    v.lines[1].payment_amount = None;
    let error = ap_voucher_to_exact(&v, &lookups()).unwrap_err();
    assert!(
        matches!(
            error,
            MappingError::Missing {
                field: "PaymentAmount",
                ..
            }
        ),
        "{error}"
    );
}

/// Row "(Uses Exclusive if tax code is present no Tax if not) → Line Amount Type": the courier line has no
/// tax code, so it carries the no-VAT code ("0") and zero VAT, never the G/L account's default VAT code.
#[test]
fn ap_voucher_row_line_amount_type_no_tax_sends_the_no_vat_code_with_zero_vat() {
    let lines = ap_voucher_lines(&voucher(), &lookups(), &record()).unwrap();
    assert_eq!(lines[1].vat_code.as_ref().map(|c| c.as_str()), Some("0"));
    assert_eq!(lines[1].vat_amount_fc, Some(dec!(0)));
    assert_eq!(lines[1].amount_fc, dec!(45.00));
}
