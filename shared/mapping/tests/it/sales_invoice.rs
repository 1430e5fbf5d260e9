//! Tables "Sales Invoices: Vantagepoint to Exact Online" and "... Line Items", and the invoice rules of
//! "Considerations and Limitations".

use ledgerlink_domain::vantagepoint::{ArInvoice, BillingGroup};
use ledgerlink_domain::{CurrencyCode, ObjectType};
use ledgerlink_mapping::sales::{MappedSalesInvoice, sales_invoice_lines, sales_invoice_to_exact};
use ledgerlink_mapping::{MappingError, ProjectBilling, RecordRef};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use crate::support::{date, gl, invoice, lookups};

fn mapped() -> MappedSalesInvoice {
    let mut docs = sales_invoice_to_exact(&invoice(), &lookups()).unwrap();
    assert_eq!(docs.len(), 1);
    docs.remove(0)
}

fn record() -> RecordRef {
    RecordRef::new(ObjectType::Invoice, "000000010808.202606.59")
}

/// Row "Description → Reference": a sales entry's reference text is its `Description` (Exact's `YourRef`
/// carries our document key, `{Invoice}.{Period}.{PostSeq}`, by which a retry finds the entry). The sample
/// invoice's primary client (Globex NV) is not its billing client (Acme BV), so "ordered by" follows.
#[test]
fn sales_invoice_row_description_is_the_reference_text_and_your_ref_the_document_key() {
    let entry = mapped().entry;
    assert_eq!(
        entry.description.as_deref(),
        Some("Design services June 2026 (ordered by Globex NV)")
    );
    assert_eq!(entry.your_ref.as_deref(), Some("000000010808.202606.59"));
}

#[test]
fn sales_invoice_row_billing_client_name_is_invoice_to() {
    let doc = mapped();
    assert_eq!(doc.entry.customer, lookups().firms["C-ACME"]);
    assert_eq!(doc.invoice_to.name.as_deref(), Some("Acme BV"));
}

#[test]
fn sales_invoice_row_primary_billing_client_name_is_ordered_by_kept_on_the_mapped_record() {
    let doc = mapped();
    assert_eq!(doc.ordered_by.client_id.as_deref(), Some("C-GLOBEX"));
    assert_eq!(doc.ordered_by.name.as_deref(), Some("Globex NV"));
    assert_ne!(doc.entry.customer, lookups().firms["C-GLOBEX"]);
}

#[test]
fn sales_invoice_row_invoice_number_is_the_invoice_number() {
    let doc = mapped();
    assert_eq!(
        doc.entry.your_ref.as_deref(),
        Some("000000010808.202606.59")
    );
    assert_eq!(doc.entry.invoice_number, Some(10808));
    let mut inv = invoice();
    inv.invoice = "INV-A7".into();
    let docs = sales_invoice_to_exact(&inv, &lookups()).unwrap();
    assert_eq!(docs[0].entry.invoice_number, None);
    assert_eq!(docs[0].entry.your_ref.as_deref(), Some("INV-A7.202606.59"));
}

#[test]
fn sales_invoice_row_transaction_date_is_the_date() {
    assert_eq!(mapped().entry.entry_date, date("2026-06-15"));
}

#[test]
fn sales_invoice_row_due_date_uses_the_mapping_value() {
    assert_eq!(mapped().entry.due_date, Some(date("2026-07-15")));
    let mut inv = invoice();
    inv.due_date = None;
    let docs = sales_invoice_to_exact(&inv, &lookups()).unwrap();
    assert_eq!(
        docs[0].entry.due_date,
        Some(date("2026-07-15")),
        "fallback: 30 days after 2026-06-15"
    );
}

#[test]
fn sales_invoice_row_currency_code_is_the_currency_code() {
    assert_eq!(
        mapped().entry.currency.map(|c| c.to_string()),
        Some("EUR".into())
    );
}

#[test]
fn sales_invoice_row_status_defaults_to_authorised_as_a_booked_entry() {
    let body = serde_json::to_value(mapped().entry).unwrap();
    assert!(body.get("Status").is_none());
    assert_eq!(body["Journal"], "70");
}

#[test]
fn sales_invoice_row_amounts_are_tax_exclusive() {
    let entry = mapped().entry;
    let labor = &entry.lines[0];
    assert_eq!(labor.amount_fc, dec!(2080.50));
    assert_eq!(labor.vat_amount_fc, Some(dec!(436.91)));
}

#[test]
fn sales_invoice_lines_row_wbs1_wbs2_wbs3_is_the_description_when_present() {
    let lines = mapped().entry.lines;
    assert_eq!(
        lines[0].description.as_deref(),
        Some("L: 2026-001/01, 2026-001/02")
    );
    assert_eq!(lines[1].description.as_deref(), Some("E: 2026-001/01/A"));
}

#[test]
fn sales_invoice_lines_row_invoice_section_is_the_item_name() {
    let lines = mapped().entry.lines;
    let sections: Vec<&str> = lines
        .iter()
        .map(|l| &l.description.as_deref().unwrap()[..1])
        .collect();
    assert_eq!(sections, vec!["L", "E", "E", "C"]);
}

#[test]
fn sales_invoice_lines_row_quantity_defaults_to_1() {
    assert!(
        mapped()
            .entry
            .lines
            .iter()
            .all(|l| l.quantity == Some(dec!(1)))
    );
}

/// Row "Amount → Unit Price" with "(defaults to 1) → Quantity": a sales entry line has no unit price of its
/// own; Exact's unit price is `AmountFC / Quantity`, so the quantity must be exactly 1 and the amount VP's
/// (the consultants line, section C: 500).
#[test]
fn sales_invoice_lines_row_amount_is_the_unit_price_at_quantity_one() {
    let line = &mapped().entry.lines[3];
    assert_eq!(line.quantity, Some(dec!(1)));
    assert_eq!(line.amount_fc, dec!(500));
}

#[test]
fn sales_invoice_lines_row_amount_is_the_line_amount() {
    assert_eq!(mapped().entry.lines[1].amount_fc, dec!(120.35));
}

#[test]
fn sales_invoice_lines_row_account_is_the_account_code() {
    let lines = mapped().entry.lines;
    assert_eq!(lines[0].gl_account, gl("4000"));
    assert_eq!(lines[1].gl_account, gl("4100"));
    assert_eq!(lines[3].gl_account, gl("4200"));
}

#[test]
fn sales_invoice_lines_row_tax_code_is_the_tax_type_name() {
    let lines = mapped().entry.lines;
    let codes: Vec<&str> = lines
        .iter()
        .map(|l| l.vat_code.as_ref().unwrap().as_str())
        .collect();
    assert_eq!(codes, vec!["2", "1", "0", "2"]);
}

#[test]
fn sales_invoice_lines_row_amount_times_effective_rate_is_the_tax_amount() {
    let lines = mapped().entry.lines;
    assert_eq!(lines[0].vat_amount_fc, Some(dec!(436.91))); // 2080.50 × 21 % = 436.905
    assert_eq!(lines[1].vat_amount_fc, Some(dec!(10.83))); // 120.35 × 9 % = 10.8315
    assert_eq!(lines[2].vat_amount_fc, Some(dec!(0)));
    assert_eq!(lines[3].vat_amount_fc, Some(dec!(105.00)));
}

#[test]
fn sales_invoice_lines_are_grouped_by_item_code_and_tax_code() {
    let lines = mapped().entry.lines;
    assert_eq!(
        lines.len(),
        4,
        "5 VP lines: two L/X0001 lines merge; E/X0002 and E/X0003 stay apart"
    );
}

#[test]
fn sales_invoice_lines_with_combined_taxes_use_the_sum_of_the_rates() {
    let mut inv = invoice();
    inv.lines.truncate(1);
    inv.lines[0].tax_code = Some("X0002".into());
    inv.lines[0].additional_tax_codes = vec!["X0004".into()];
    let lines = sales_invoice_lines(&inv.lines, &[dec!(1250.00)], &lookups(), &record()).unwrap();
    assert_eq!(lines[0].vat_amount_fc, Some(dec!(137.50))); // 9 % + 2 % = 11 %
    assert_eq!(lines[0].vat_code.as_ref().map(|c| c.as_str()), Some("7"));
}

#[test]
fn sales_invoice_lines_with_a_compound_tax_are_refused_with_a_clear_error() {
    let mut inv = invoice();
    inv.lines[2].tax_code = Some("X0009".into());
    let error = sales_invoice_to_exact(&inv, &lookups()).unwrap_err();
    match &error {
        MappingError::CompoundTax {
            tax_code,
            compound_on,
            ..
        } => {
            assert_eq!(
                (tax_code.as_str(), compound_on.as_str()),
                ("X0009", "X0001")
            );
        }
        other => panic!("expected CompoundTax, got {other}"),
    }
    assert!(
        error
            .to_string()
            .contains("compound taxes are not supported")
    );
}

#[test]
fn sales_invoice_customer_is_the_projects_billing_client_not_the_primary_client() {
    let mut l = lookups();
    l.firms.remove("C-GLOBEX");
    // The primary client is not even linked; the invoice still maps to the billing client.
    assert_eq!(
        sales_invoice_to_exact(&invoice(), &l).unwrap()[0]
            .entry
            .customer,
        l.firms["C-ACME"]
    );
}

fn billing_group_invoice(consolidated: bool) -> (ArInvoice, ledgerlink_mapping::Lookups) {
    let mut inv = invoice();
    inv.billing_group = Some(BillingGroup {
        main_wbs1: "2026-001".into(),
        consolidated,
    });
    inv.lines[4].wbs1 = Some("2026-002".into());
    let mut l = lookups();
    l.projects.insert(
        "2026-002".into(),
        ProjectBilling {
            billing_client_id: "C-INITECH".into(),
            billing_client_name: Some("Initech".into()),
            primary_client_id: None,
            primary_client_name: None,
        },
    );
    (inv, l)
}

#[test]
fn sales_invoice_billing_group_not_consolidated_sends_one_document_per_project() {
    let (inv, l) = billing_group_invoice(false);
    let docs = sales_invoice_to_exact(&inv, &l).unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0].project, "2026-001");
    assert_eq!(docs[0].entry.customer, l.firms["C-ACME"]);
    assert_eq!(docs[1].project, "2026-002");
    assert_eq!(docs[1].entry.customer, l.firms["C-INITECH"]);
    assert_eq!(docs[1].external_key, "000000010808.202606.59.2026-002");
    assert_eq!(docs[1].entry.lines.len(), 1);
}

#[test]
fn sales_invoice_billing_group_consolidated_sends_the_main_project() {
    let (inv, l) = billing_group_invoice(true);
    let docs = sales_invoice_to_exact(&inv, &l).unwrap();
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].project, "2026-001");
    assert_eq!(docs[0].entry.customer, l.firms["C-ACME"]);
    assert_eq!(
        docs[0]
            .entry
            .lines
            .iter()
            .map(|x| x.amount_fc)
            .sum::<Decimal>(),
        dec!(2764.95)
    );
}

#[test]
fn sales_invoice_in_a_multicurrency_database_sends_billing_currency_and_amount() {
    let mut inv = invoice();
    inv.billing_currency = Some(CurrencyCode::parse("USD").unwrap());
    for line in &mut inv.lines {
        line.amount_billing_currency = Some(line.amount * dec!(1.10));
    }
    let mut l = lookups();
    l.settings.multicurrency = true;
    let docs = sales_invoice_to_exact(&inv, &l).unwrap();
    assert_eq!(
        docs[0].entry.currency.map(|c| c.to_string()),
        Some("USD".into())
    );
    assert_eq!(docs[0].entry.lines[3].amount_fc, dec!(550.00));
}

#[test]
fn sales_invoice_in_a_multicurrency_database_without_billing_amounts_is_refused() {
    let mut inv = invoice();
    inv.billing_currency = Some(CurrencyCode::parse("USD").unwrap());
    let mut l = lookups();
    l.settings.multicurrency = true;
    let error = sales_invoice_to_exact(&inv, &l).unwrap_err();
    assert!(
        matches!(
            error,
            MappingError::Missing {
                field: "AmountBillingCurrency",
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn sales_invoice_that_is_negative_is_not_sent_and_the_error_names_the_invoice_and_why() {
    let negative: ArInvoice =
        ledgerlink_domain::json::parse_lossless(ledgerlink_mapping::demo::NEGATIVE_INVOICE_JSON)
            .and_then(serde_json::from_value)
            .unwrap();
    let error = sales_invoice_to_exact(&negative, &lookups()).unwrap_err();
    match &error {
        MappingError::NegativeInvoice {
            invoice,
            total,
            record,
        } => {
            assert_eq!(invoice, "000000010809");
            assert_eq!(total.amount(), dec!(-300));
            assert_eq!(record.key, "000000010809.202606.60");
        }
        other => panic!("expected NegativeInvoice, got {other}"),
    }
    let text = error.to_string();
    assert!(
        text.contains("000000010809") && text.contains("negative"),
        "{text}"
    );
}

#[test]
fn sales_invoice_given_a_credit_memo_is_refused() {
    let mut inv = invoice();
    inv.lines[0].credit_memo_ref_no = Some("000000010001".into());
    let error = sales_invoice_to_exact(&inv, &lookups()).unwrap_err();
    assert!(
        matches!(
            error,
            MappingError::Invalid {
                field: "CreditMemoRefNo",
                ..
            }
        ),
        "{error}"
    );
}

// ---------------------------------------------------------------------------------------------------------
// Issue 11: the money rules, with hand-worked values.
// ---------------------------------------------------------------------------------------------------------

fn one_line_invoice(section: &str, account: &str, amount: Decimal, taxes: &[&str]) -> ArInvoice {
    let mut inv = invoice();
    let mut line = inv.lines[0].clone();
    line.invoice_section = Some(section.into());
    line.account = account.into();
    line.amount = amount;
    line.tax_code = taxes.first().map(|t| (*t).to_owned());
    line.additional_tax_codes = taxes.iter().skip(1).map(|t| (*t).to_owned()).collect();
    inv.lines = vec![line];
    inv
}

/// Row "(defaults to tax exclusive) → Amounts are" with the AP table's "(Uses Exclusive if tax code is present
/// no Tax if not)": a line without a tax code carries the tenant's no-VAT code ("0" in the sample settings)
/// and zero VAT — never left without a VAT code, which would make Exact apply the G/L account's default.
#[test]
fn sales_invoice_lines_row_tax_code_absent_carries_the_no_vat_code_and_zero_vat() {
    let inv = one_line_invoice("E", "4100", dec!(200.00), &[]);
    let docs = sales_invoice_to_exact(&inv, &lookups()).unwrap();
    let line = &docs[0].entry.lines[0];
    assert_eq!(line.vat_code.as_ref().map(|c| c.as_str()), Some("0"));
    assert_eq!(line.vat_amount_fc, Some(dec!(0.00)));
    assert_eq!(line.amount_fc, dec!(200.00));
}

#[test]
fn sales_invoice_lines_row_tax_code_absent_is_refused_while_the_no_vat_code_is_not_set() {
    let inv = one_line_invoice("E", "4100", dec!(200.00), &[]);
    let mut l = lookups();
    l.no_vat_code = None;
    let error = sales_invoice_to_exact(&inv, &l).unwrap_err();
    assert!(
        matches!(
            error,
            MappingError::NotConfigured {
                setting: "no_vat_code",
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("no_vat_code"), "{error}");
}

/// Tax Codes consideration "Combined taxes are supported": X0002 (9 %) and X0004 (2 %) on one line are booked
/// with the combination's Exact code from the combined-tax-codes table ("7"), at 9 + 2 = 11 %:
/// 1,000.00 × 0.11 = 110.00.
#[test]
fn tax_codes_consideration_combined_taxes_book_the_combined_exact_code_at_the_summed_rate() {
    let inv = one_line_invoice("L", "4000", dec!(1000.00), &["X0002", "X0004"]);
    let docs = sales_invoice_to_exact(&inv, &lookups()).unwrap();
    let line = &docs[0].entry.lines[0];
    assert_eq!(line.vat_code.as_ref().map(|c| c.as_str()), Some("7"));
    assert_eq!(line.vat_amount_fc, Some(dec!(110.00)));
}

/// Tax Codes consideration "…but not compound taxes": X0009 is compounded on X0001 in Vantagepoint's tax
/// codes (`CompoundOnTaxCode`, not an operator's column). The line is refused with that reason — before the
/// missing combined-tax row could hide it — and the message says what to do.
#[test]
fn tax_codes_consideration_compound_taxes_are_refused_with_why_and_what_to_do() {
    let inv = one_line_invoice("L", "4000", dec!(1000.00), &["X0001", "X0009"]);
    let error = sales_invoice_to_exact(&inv, &lookups()).unwrap_err();
    match &error {
        MappingError::CompoundTax {
            tax_code,
            compound_on,
            ..
        } => {
            assert_eq!(tax_code, "X0009");
            assert_eq!(compound_on, "X0001");
        }
        other => panic!("expected CompoundTax, got {other}"),
    }
    let text = error.to_string();
    assert!(
        text.contains("compound taxes are not supported") && text.contains("without compounding"),
        "{text}"
    );
}

/// The demo's GST/PST case: neither code is linked to an Exact VAT code, PST is compounded on GST in
/// Vantagepoint. The refusal says compound taxes are not supported, not "no entry in the tax codes table".
#[test]
fn tax_codes_consideration_a_compound_code_not_linked_to_exact_is_refused_as_compound() {
    let inv = one_line_invoice("L", "4000", dec!(1000.00), &["GST", "PST"]);
    let error = sales_invoice_to_exact(&inv, &lookups()).unwrap_err();
    assert!(
        matches!(&error, MappingError::CompoundTax { tax_code, compound_on, .. } if tax_code == "PST" && compound_on == "GST"),
        "{error}"
    );
}

/// Row "Primary Billing Client Name → Ordered by". A sales entry has no ordered-by account, so the primary
/// client is sent in the description when it is not the invoiced client…
#[test]
fn sales_invoice_row_primary_billing_client_name_is_sent_as_ordered_by() {
    let entry = mapped().entry;
    assert!(
        entry
            .description
            .as_deref()
            .is_some_and(|d| d.ends_with("(ordered by Globex NV)")),
        "{:?}",
        entry.description
    );
}

/// …and left out when the billing client ordered it too (`Customer` already says so).
#[test]
fn sales_invoice_row_ordered_by_is_not_repeated_when_the_billing_client_ordered() {
    let mut inv = invoice();
    inv.primary_client_id = Some("C-ACME".into());
    inv.primary_client_name = Some("Acme BV".into());
    let docs = sales_invoice_to_exact(&inv, &lookups()).unwrap();
    assert_eq!(
        docs[0].entry.description.as_deref(),
        Some("Design services June 2026")
    );
}
