//! Tables "Credit Note: Vantagepoint to Exact Online" and "... Line Items".

use ledgerlink_domain::ObjectType;
use ledgerlink_mapping::RecordRef;
use ledgerlink_mapping::sales::{MappedCreditNote, credit_note_lines, credit_note_to_exact};
use rust_decimal_macros::dec;

use crate::support::{credit_memo, date, gl, lookups};

fn mapped() -> MappedCreditNote {
    credit_note_to_exact(&credit_memo(), &lookups()).unwrap()
}

/// Spec row "Credit Memo ref no → Credit note number". VP's `CreditMemoRefNo` (000000010808) is the number
/// of the invoice being credited; the credit memo's own number is 000000010900. Sending 10808 as the credit
/// note's number would book it under its invoice's number in the same journal: the credit note gets 10900,
/// and 10808 stays as its reference.
#[test]
fn credit_note_row_credit_memo_ref_no_keeps_the_original_invoice_as_reference_not_as_number() {
    let note = mapped();
    assert_eq!(note.credit_note_number, "000000010900");
    assert_eq!(note.original_invoice, "000000010808");
    assert_eq!(note.entry.invoice_number, Some(10900));
    assert_eq!(
        note.entry.your_ref.as_deref(),
        Some("000000010900.202607.12")
    );
    assert_eq!(
        note.entry.description.as_deref(),
        Some("Credit for overbilled labor (credits invoice 000000010808) (ordered by Globex NV)")
    );
}

#[test]
fn credit_note_row_billing_client_name_is_invoice_to() {
    let note = mapped();
    assert_eq!(note.entry.customer, lookups().firms["C-ACME"]);
    assert_eq!(note.invoice_to.name.as_deref(), Some("Acme BV"));
}

/// Row "Primary Billing Client Name → Ordered by": Globex NV ordered, Acme BV is invoiced.
#[test]
fn credit_note_row_primary_billing_client_name_is_ordered_by() {
    let note = mapped();
    assert_eq!(note.ordered_by.name.as_deref(), Some("Globex NV"));
    assert!(
        note.entry
            .description
            .as_deref()
            .is_some_and(|d| d.ends_with("(ordered by Globex NV)")),
        "{:?}",
        note.entry.description
    );
}

/// Row "Description → Reference text": VP's description leads the entry description (what follows is the
/// credited invoice and the ordering client, which a sales entry has no fields for).
#[test]
fn credit_note_row_description_is_the_reference_text() {
    assert!(
        mapped()
            .entry
            .description
            .as_deref()
            .is_some_and(|d| d.starts_with("Credit for overbilled labor (")),
        "{:?}",
        mapped().entry.description
    );
}

#[test]
fn credit_note_row_transaction_date_is_the_date() {
    assert_eq!(mapped().entry.entry_date, date("2026-07-02"));
}

#[test]
fn credit_note_row_currency_code_is_the_currency_code() {
    assert_eq!(
        mapped().entry.currency.map(|c| c.to_string()),
        Some("EUR".into())
    );
}

#[test]
fn credit_note_row_status_defaults_to_authorised_as_a_booked_entry() {
    assert!(
        serde_json::to_value(mapped().entry)
            .unwrap()
            .get("Status")
            .is_none()
    );
}

#[test]
fn credit_note_row_amounts_are_tax_exclusive() {
    let line = &mapped().entry.lines[0];
    assert_eq!(
        (line.amount_fc, line.vat_amount_fc),
        (dec!(250.00), Some(dec!(52.50)))
    );
}

#[test]
fn credit_note_lines_row_description_is_the_description() {
    assert_eq!(
        mapped().entry.lines[0].description.as_deref(),
        Some("L: Overbilled hours")
    );
}

#[test]
fn credit_note_lines_row_invoice_section_is_the_item_name() {
    assert!(
        mapped().entry.lines[1]
            .description
            .as_deref()
            .unwrap()
            .starts_with("E: ")
    );
}

#[test]
fn credit_note_lines_row_quantity_defaults_to_1() {
    assert!(
        mapped()
            .entry
            .lines
            .iter()
            .all(|l| l.quantity == Some(dec!(1)))
    );
}

/// Row "Amount → Unit Price (changes negative invoices to positive amounts)": the printing refund of −20.00
/// becomes 20.00 at quantity exactly 1 (a sales entry line's unit price is `AmountFC / Quantity`).
#[test]
fn credit_note_lines_row_amount_is_the_unit_price_changed_to_positive() {
    let line = &mapped().entry.lines[1];
    assert_eq!(line.quantity, Some(dec!(1)));
    assert_eq!(line.amount_fc, dec!(20.00));
}

#[test]
fn credit_note_lines_row_amount_is_the_line_amount_changed_to_positive() {
    let lines = mapped().entry.lines;
    assert_eq!(
        lines.iter().map(|l| l.amount_fc).collect::<Vec<_>>(),
        vec![dec!(250.00), dec!(20.00)]
    );
}

#[test]
fn credit_note_lines_row_account_is_the_account_code() {
    assert_eq!(mapped().entry.lines[0].gl_account, gl("4000"));
}

#[test]
fn credit_note_lines_row_tax_code_is_the_tax_type_name() {
    assert_eq!(
        mapped().entry.lines[1]
            .vat_code
            .as_ref()
            .map(|c| c.as_str()),
        Some("1")
    );
}

#[test]
fn credit_note_lines_row_amount_times_effective_rate_is_the_tax_amount() {
    assert_eq!(mapped().entry.lines[1].vat_amount_fc, Some(dec!(1.80)));
}

#[test]
fn credit_note_lines_already_positive_stay_positive() {
    let memo = credit_memo();
    let record = RecordRef::new(ObjectType::CreditMemo, memo.external_key());
    let lines =
        credit_note_lines(&memo, &[dec!(250.00), dec!(20.00)], &lookups(), &record).unwrap();
    assert_eq!(lines[0].amount_fc, dec!(250.00));
}
