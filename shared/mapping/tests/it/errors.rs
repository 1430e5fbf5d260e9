//! Mapping errors name the record, the field and why; only lookup misses are retryable.

use ledgerlink_mapping::MappingError;
use ledgerlink_mapping::purchases::ap_voucher_to_exact;
use ledgerlink_mapping::sales::sales_invoice_to_exact;

use crate::support::{invoice, lookups, voucher};

#[test]
fn an_account_missing_from_the_lookup_names_record_field_and_table() {
    let mut l = lookups();
    l.gl_accounts.remove("4100");
    let error = sales_invoice_to_exact(&invoice(), &l).unwrap_err();
    assert_eq!(error.record().to_string(), "invoice 000000010808.202606.59");
    assert_eq!(error.field(), Some("Account"));
    assert!(
        error
            .to_string()
            .contains("\"4100\" has no entry in the G/L accounts lookup table"),
        "{error}"
    );
    assert!(error.is_retryable());
}

#[test]
fn a_missing_voucher_number_is_permanent_and_names_the_voucher() {
    let mut v = voucher();
    v.voucher = None;
    let error = ap_voucher_to_exact(&v, &lookups()).unwrap_err();
    assert_eq!(
        error.record().to_string(),
        "ap-voucher V-0042.(no voucher number)"
    );
    assert!(!error.is_retryable());
    assert!(matches!(error, MappingError::Missing { .. }));
}

#[test]
fn a_currency_not_enabled_in_exact_is_refused() {
    let mut inv = invoice();
    inv.currency = ledgerlink_domain::CurrencyCode::parse("JPY").unwrap();
    let error = sales_invoice_to_exact(&inv, &lookups()).unwrap_err();
    assert!(
        matches!(
            error,
            MappingError::NotInLookup {
                table: "currencies",
                ..
            }
        ),
        "{error}"
    );
}
