//! "Bank Codes" considerations: bank names must match in both systems; a lookup table is used.

use ledgerlink_domain::CurrencyCode;
use ledgerlink_domain::exact::Journal;
use ledgerlink_domain::vantagepoint::BankCode;
use ledgerlink_mapping::ledger_setup::{BankMatchError, match_bank};

fn journal(code: &str, name: &str) -> Journal {
    Journal {
        code: code.into(),
        description: name.into(),
        journal_type: Some(Journal::TYPE_BANK),
        currency: None,
    }
}

fn bank(code: &str, name: &str, currency: &str) -> BankCode {
    BankCode {
        code: code.into(),
        description: Some(name.into()),
        company: Some("A0".into()),
        org: None,
        account: Some("11110".into()),
        currency: CurrencyCode::parse(currency).ok(),
    }
}

fn vp_banks() -> Vec<BankCode> {
    vec![
        bank("EURBANK", "ING Zakelijk EUR", "EUR"),
        bank("USDBANK", "ING USD", "USD"),
    ]
}

/// "Bank names must match in both systems": Exact's bank journal 21 "ing  usd" is VP's bank USDBANK
/// "ING USD" (names compare ignoring case and spacing); the proposed lookup row carries the VP bank's
/// currency, which payments through it must be in.
#[test]
fn bank_codes_consideration_bank_names_must_match_in_both_systems() {
    let journals = [journal("20", "ING Zakelijk EUR"), journal("21", "ing  usd")];
    let matched = match_bank("21", &journals, &vp_banks()).unwrap();
    assert_eq!(matched.journal, "21");
    assert_eq!(matched.vp_bank_code, "USDBANK");
    assert_eq!(matched.currency, CurrencyCode::parse("USD").ok());
    assert_eq!(matched.exact_name, "ing  usd");
    assert_eq!(matched.vp_name, "ING USD");
}

#[test]
fn bank_codes_consideration_no_matching_name_is_refused_with_what_to_do() {
    let journals = [journal("20", "Bank")];
    let error = match_bank("20", &journals, &vp_banks()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "no Vantagepoint bank is named \"Bank\" like Exact Online's bank journal 20 (Vantagepoint banks: ING \
         Zakelijk EUR, ING USD); bank names must match in both systems — rename one of them, or fill the \
         bank-codes lookup row for journal 20"
    );
}

#[test]
fn bank_codes_consideration_two_vp_banks_of_the_same_name_are_not_guessed() {
    let mut banks = vp_banks();
    banks.push(bank("EURBANK2", "ING Zakelijk EUR", "EUR"));
    let error = match_bank("20", &[journal("20", "ING Zakelijk EUR")], &banks).unwrap_err();
    assert!(
        matches!(&error, BankMatchError::Ambiguous { vp_codes, .. } if vp_codes == &vec!["EURBANK".to_owned(), "EURBANK2".to_owned()]),
        "{error}"
    );
}
