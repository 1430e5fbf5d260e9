//! Tables "Expenses: Vantagepoint to Exact Online" and "... Line Items".

use ledgerlink_mapping::purchases::{
    expense_header, expense_lines, expense_report_to_exact, expense_total,
};
use ledgerlink_mapping::{DueDateRule, MappingError};
use rust_decimal_macros::dec;

use crate::support::{date, expense_report, gl, lookups};

#[test]
fn expenses_row_employee_name_is_the_contact() {
    let entry = expense_header(&expense_report(), &lookups()).unwrap();
    assert_eq!(entry.supplier, lookups().employees["00017"]);
}

#[test]
fn expenses_row_report_name_plus_refno_is_the_reference() {
    let entry = expense_header(&expense_report(), &lookups()).unwrap();
    assert_eq!(
        entry.your_ref.as_deref(),
        Some("Client visit London EX-2026-031")
    );
}

#[test]
fn expenses_row_report_date_is_the_date() {
    assert_eq!(
        expense_header(&expense_report(), &lookups())
            .unwrap()
            .entry_date,
        date("2026-06-20")
    );
}

#[test]
fn expenses_row_payment_currency_code_is_the_currency_code() {
    let mut report = expense_report();
    report.payment_currency = ledgerlink_domain::CurrencyCode::parse("USD").unwrap();
    let entry = expense_header(&report, &lookups()).unwrap();
    assert_eq!(entry.currency.map(|c| c.to_string()), Some("USD".into()));
}

#[test]
fn expenses_row_status_authorised_is_a_posted_booking_without_a_status_field() {
    let body = serde_json::to_value(
        expense_report_to_exact(&expense_report(), &lookups())
            .unwrap()
            .entry,
    )
    .unwrap();
    assert!(body.get("Status").is_none());
}

#[test]
fn expenses_row_end_date_is_the_due_date_from_the_mapping_value() {
    let mut l = lookups();
    assert_eq!(
        expense_header(&expense_report(), &l).unwrap().due_date,
        Some(date("2026-07-20"))
    );
    l.due_dates = DueDateRule::DaysAfterDocument { days: 7 };
    assert_eq!(
        expense_header(&expense_report(), &l).unwrap().due_date,
        Some(date("2026-06-27"))
    );
}

#[test]
fn expenses_row_line_amount_type_is_exclusive_with_a_tax_code_and_no_tax_without() {
    let lines = expense_lines(&expense_report(), &lookups()).unwrap();
    assert_eq!(lines[0].vat_code.as_ref().map(|c| c.as_str()), Some("1"));
    assert_eq!(lines[1].vat_code.as_ref().map(|c| c.as_str()), Some("0"));
    assert_eq!(lines[1].vat_amount_fc, Some(dec!(0)));
}

#[test]
fn expenses_lines_row_quantity_defaults_to_1() {
    assert!(
        expense_lines(&expense_report(), &lookups())
            .unwrap()
            .iter()
            .all(|l| l.quantity == Some(dec!(1)))
    );
}

#[test]
fn expenses_lines_row_net_amount_is_the_line_amount() {
    assert_eq!(
        expense_lines(&expense_report(), &lookups()).unwrap()[0].amount_fc,
        dec!(200.00)
    );
}

#[test]
fn expenses_lines_row_account_is_the_account_code() {
    assert_eq!(
        expense_lines(&expense_report(), &lookups()).unwrap()[0].gl_account,
        gl("6100")
    );
}

#[test]
fn expenses_lines_row_tax_code_is_the_tax_rate_name() {
    let lines = expense_lines(&expense_report(), &lookups()).unwrap();
    assert_eq!(serde_json::to_value(&lines[0]).unwrap()["VATCode"], "1  ");
}

#[test]
fn expenses_lines_row_total_tax_is_the_tax_amount() {
    assert_eq!(
        expense_lines(&expense_report(), &lookups()).unwrap()[0].vat_amount_fc,
        Some(dec!(18.00))
    );
}

#[test]
fn expenses_go_out_in_the_payment_currency_for_lines_in_another_currency() {
    // The hotel line is GBP 180.00, paid as EUR 212.40.
    let lines = expense_lines(&expense_report(), &lookups()).unwrap();
    assert_eq!(lines[1].amount_fc, dec!(212.40));
    assert_eq!(expense_total(&expense_report()).unwrap(), dec!(430.40));
}

#[test]
fn expenses_split_a_foreign_gross_payment_amount_in_the_lines_net_to_tax_proportion() {
    let mut report = expense_report();
    report.lines[1].net_amount = dec!(150.00);
    report.lines[1].total_tax = dec!(30.00);
    report.lines[1].tax_code = Some("X0001".into());
    let lines = expense_lines(&report, &lookups()).unwrap();
    assert_eq!(lines[1].amount_fc, dec!(177.00));
    assert_eq!(lines[1].vat_amount_fc, Some(dec!(35.40)));
}

#[test]
fn expenses_in_another_currency_without_a_payment_amount_are_refused() {
    let mut report = expense_report();
    report.lines[1].payment_amount = None;
    let error = expense_lines(&report, &lookups()).unwrap_err();
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
