//! The tax-code lookup table (Considerations: Tax Codes), and the tax rules of the document mappings.

use std::collections::BTreeMap;

use ledgerlink_domain::VatCode;
use ledgerlink_domain::exact::VatCodeRecord;
use ledgerlink_domain::vantagepoint::TaxCode;
use ledgerlink_mapping::ledger_setup::{
    NoVatProposal, propose_combined_code, propose_no_vat_code, tax_code_table, tax_links,
};
use rust_decimal_macros::dec;

fn vat(code: &str, description: &str, percentage: rust_decimal::Decimal) -> VatCodeRecord {
    VatCodeRecord {
        id: None,
        code: VatCode::parse(code).unwrap(),
        description: description.into(),
        vat_type: Some("E".into()),
        percentage: Some(percentage),
        transaction_type: Some("B".into()),
        calculation_basis: None,
        is_blocked: None,
    }
}

#[test]
fn tax_codes_get_unique_generated_vantagepoint_codes_in_exact_code_order() {
    let table = tax_code_table(
        &[
            vat("2", "BTW hoog", dec!(0.21)),
            vat("1", "BTW laag", dec!(0.09)),
        ],
        &BTreeMap::new(),
    );
    assert_eq!(table.links[&VatCode::parse("1").unwrap()], "X0001");
    assert_eq!(table.links[&VatCode::parse("2").unwrap()], "X0002");
}

#[test]
fn tax_codes_stay_unique_when_exact_names_collide() {
    let table = tax_code_table(
        &[vat("3", "BTW", dec!(0.21)), vat("4", "BTW", dec!(0.21))],
        &BTreeMap::new(),
    );
    let codes: Vec<&String> = table.links.values().collect();
    assert_eq!(codes, vec!["X0001", "X0002"]);
    assert_eq!(table.created.len(), 2);
}

#[test]
fn tax_codes_use_the_exact_name_as_the_vantagepoint_description() {
    let table = tax_code_table(&[vat("2", "BTW hoog 21%", dec!(0.21))], &BTreeMap::new());
    assert_eq!(
        table.created[0].description.as_deref(),
        Some("BTW hoog 21%")
    );
}

#[test]
fn tax_codes_turn_the_exact_fraction_into_a_vantagepoint_percentage() {
    let table = tax_code_table(&[vat("2", "BTW hoog", dec!(0.21))], &BTreeMap::new());
    assert_eq!(table.created[0].rate, dec!(21));
}

#[test]
fn tax_codes_already_linked_keep_their_code_and_new_ones_continue_the_numbering() {
    let existing = BTreeMap::from([(VatCode::parse("2").unwrap(), "X0007".to_owned())]);
    let table = tax_code_table(
        &[
            vat("2", "BTW hoog", dec!(0.21)),
            vat("5", "Verlegd", dec!(0)),
        ],
        &existing,
    );
    assert_eq!(table.links[&VatCode::parse("2").unwrap()], "X0007");
    assert_eq!(table.links[&VatCode::parse("5").unwrap()], "X0008");
    assert_eq!(table.created.len(), 1);
}

#[test]
fn tax_codes_lookup_gives_the_document_mappings_exact_code_and_rate() {
    let table = tax_code_table(&[vat("2", "BTW hoog", dec!(0.21))], &BTreeMap::new());
    let vp = vec![TaxCode {
        code: "X0001".into(),
        description: None,
        rate: dec!(21),
        compound_on_tax_code: None,
    }];
    let links = tax_links(&table, &vp);
    assert_eq!(links["X0001"].exact_code.as_str(), "2");
    assert_eq!(links["X0001"].rate, dec!(21));
}

fn typed(code: &str, description: &str, vat_type: &str, blocked: bool) -> VatCodeRecord {
    VatCodeRecord {
        vat_type: Some(vat_type.into()),
        is_blocked: Some(blocked),
        ..vat(code, description, dec!(0))
    }
}

/// Row "(Uses Exclusive if tax code is present no Tax if not)": set-up proposes the no-VAT code from Exact's
/// VAT codes — the one of type N ("no VAT") that is not blocked; the 0 % *excluding* code "0" is not it.
#[test]
fn ap_voucher_row_line_amount_type_no_tax_code_is_proposed_from_exacts_type_n_vat_code() {
    let codes = [
        vat("0", "0% (geen btw)", dec!(0)),
        vat("2", "21% hoog", dec!(0.21)),
        typed("6", "Geen btw / no VAT", "N", false),
        typed("9", "Geen btw (oud)", "N", true),
    ];
    assert_eq!(
        propose_no_vat_code(&codes).map(|c| c.as_str().to_owned()),
        Ok("6".into())
    );
}

#[test]
fn ap_voucher_row_line_amount_type_no_tax_code_is_not_guessed_when_none_or_several_exist() {
    assert_eq!(
        propose_no_vat_code(&[vat("0", "0% (geen btw)", dec!(0))]),
        Err(NoVatProposal::NoneFound)
    );
    let several = propose_no_vat_code(&[
        typed("6", "Geen btw", "N", false),
        typed("7", "Vrijgesteld", "N", false),
    ]);
    assert_eq!(
        several,
        Err(NoVatProposal::Several {
            codes: vec!["6 (Geen btw)".into(), "7 (Vrijgesteld)".into()]
        })
    );
    let text = several.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(text.contains("no_vat_code"), "{text}");
}

/// Tax Codes consideration "Combined taxes are supported": a combination without a combined-tax-codes row is
/// matched to the one Exact code at the summed rate — X0001 (21 %) + X0002 (9 %) = 30 % → Exact "6"
/// (X0005, "Gecombineerd 21% + 9%"); nothing at 23 % (X0001 + X0004) → no proposal.
#[test]
fn tax_codes_consideration_a_combination_is_matched_to_the_exact_code_at_its_summed_rate() {
    let l = crate::support::lookups();
    assert_eq!(
        propose_combined_code(&["X0001", "X0002"], &l).map(|c| c.as_str().to_owned()),
        Some("6".into())
    );
    assert_eq!(propose_combined_code(&["X0001", "X0004"], &l), None);
    assert_eq!(propose_combined_code(&["X0001", "UNKNOWN"], &l), None);
}
