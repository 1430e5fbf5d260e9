//! Tables "Journal: Vantagepoint to Exact Online" and "... Line Items".

use ledgerlink_mapping::MappingError;
use ledgerlink_mapping::journal::{journal_header, journal_lines, journal_to_exact};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use crate::support::{date, gl, journal, lookups};

#[test]
fn journal_row_description_is_the_narration_of_lines_without_their_own() {
    let lines = journal_lines(&journal(), &lookups()).unwrap();
    assert_eq!(lines[0].description.as_deref(), Some("Unbilled revenue"));
    assert_eq!(
        lines[1].description.as_deref(),
        Some("Revenue recognition June")
    );
}

#[test]
fn journal_row_status_defaults_to_posted_as_a_general_journal_entry() {
    let entry = journal_header(&journal(), &lookups()).unwrap();
    assert_eq!(entry.journal_code, "90");
    assert!(
        serde_json::to_value(&entry)
            .unwrap()
            .get("Status")
            .is_none()
    );
}

#[test]
fn journal_row_transaction_date_is_the_date() {
    let lines = journal_lines(&journal(), &lookups()).unwrap();
    assert!(lines.iter().all(|l| l.date == Some(date("2026-06-30"))));
}

#[test]
fn journal_row_line_amount_tax_type_is_inclusive_so_no_vat_is_sent() {
    let body =
        serde_json::to_value(journal_to_exact(&journal(), &lookups()).unwrap().entry).unwrap();
    let text = body.to_string();
    assert!(
        !text.contains("VATCode") && !text.contains("AmountVATFC"),
        "{text}"
    );
}

#[test]
fn journal_lines_row_the_sign_decides_debit_or_credit() {
    let lines = journal_lines(&journal(), &lookups()).unwrap();
    let amounts: Vec<Decimal> = lines.iter().map(|l| l.amount_fc).collect();
    assert_eq!(
        amounts,
        vec![dec!(1500.00), dec!(-1500.00), dec!(-75.25), dec!(75.25)]
    );
    assert_eq!(lines[0].gl_account, gl("1300"));
    assert_eq!(lines[1].gl_account, gl("8000"));
}

#[test]
fn journal_lines_with_a_tax_code_are_refused() {
    let mut entry = journal();
    entry.lines[0].tax_code = Some("X0001".into());
    let error = journal_lines(&entry, &lookups()).unwrap_err();
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
fn journal_lines_that_do_not_balance_are_refused() {
    let mut entry = journal();
    entry.lines[3].amount = Some(dec!(75.20));
    let error = journal_lines(&entry, &lookups()).unwrap_err();
    assert_eq!(
        error,
        MappingError::Unbalanced {
            record: error.record().clone(),
            difference: dec!(-0.05)
        }
    );
}

/// Journal Entries consideration "…journal entries and those created by revenue generation (no tax codes
/// involved) and unit transactions (no tax codes involved)": a revenue-generation posting (unbilled services
/// 8000 debited 1,250.00, labor revenue 4000 credited) goes out as a general journal entry with the signed
/// amounts and no VAT, in its transaction currency.
#[test]
fn journal_entries_consideration_revenue_generation_goes_out_without_tax() {
    let entry: ledgerlink_domain::vantagepoint::JournalEntry = serde_json::from_str(
        r#"{"Batch":"RG-202606-64","RefNo":"RevGen","Description":"Revenue generation 202606","TransDate":"2026-06-30T00:00:00.000",
            "Period":202606,"PostSeq":64,"Company":"A0","CurrencyCode":"USD",
            "Lines":[{"Account":"8000","WBS1":"2026-001","Amount":"1250.00"},{"Account":"4000","WBS1":"2026-001","Amount":"-1250.00"}]}"#,
    )
    .unwrap();
    let mapped = journal_to_exact(&entry, &lookups()).unwrap();
    assert_eq!(mapped.external_key, "RevGen.202606.64");
    assert_eq!(
        mapped.entry.currency.map(|c| c.to_string()),
        Some("USD".into())
    );
    assert_eq!(
        mapped
            .entry
            .lines
            .iter()
            .map(|l| (l.gl_account, l.amount_fc))
            .collect::<Vec<_>>(),
        vec![(gl("8000"), dec!(1250.00)), (gl("4000"), dec!(-1250.00))]
    );
    let body = serde_json::to_value(&mapped.entry).unwrap();
    assert!(!body.to_string().contains("VAT"), "{body}");
}
