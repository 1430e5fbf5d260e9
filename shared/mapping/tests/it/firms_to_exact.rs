//! Table "Firms: Vantagepoint to Exact Online", one test per row.

use ledgerlink_domain::exact::AccountStatus;
use ledgerlink_mapping::firms::firm_to_exact;
use ledgerlink_mapping::{MappingError, Outcome, Settings, SkipReason, TruncationRule};

use crate::support::{acme, firms};

#[test]
fn firms_to_exact_row_name_is_name() {
    let account = firm_to_exact(&acme(), &Settings::default())
        .unwrap()
        .mapped()
        .unwrap();
    assert_eq!(account.name, "Acme BV");
}

#[test]
fn firms_to_exact_row_client_code_is_the_search_code() {
    let account = firm_to_exact(&acme(), &Settings::default())
        .unwrap()
        .mapped()
        .unwrap();
    assert_eq!(account.search_code.as_deref(), Some("000123"));
}

#[test]
fn firms_to_exact_row_vendor_code_is_the_search_code_of_a_vendor() {
    let vendor = firms().remove(1);
    let account = firm_to_exact(&vendor, &Settings::default())
        .unwrap()
        .mapped()
        .unwrap();
    assert_eq!(account.search_code.as_deref(), Some("V-0042"));
    assert_eq!(account.is_supplier, Some(true));
}

#[test]
fn firms_to_exact_row_search_code_longer_than_18_characters_is_refused_not_truncated() {
    let hooli = firms().remove(2);
    let error = firm_to_exact(&hooli, &Settings::default()).unwrap_err();
    match error {
        MappingError::TooLong {
            field,
            len,
            max,
            ref value,
            ..
        } => {
            assert_eq!((field, len, max), ("Client", 28, 18));
            assert_eq!(value, "HOOLI-INTERNATIONAL-HOLDINGS");
        }
        other => panic!("expected TooLong, got {other}"),
    }
}

#[test]
fn firms_to_exact_row_search_code_is_truncated_only_under_a_configured_rule() {
    let hooli = firms().remove(2);
    let settings = Settings {
        search_code_truncation: TruncationRule::KeepLeft,
        ..Settings::default()
    };
    let account = firm_to_exact(&hooli, &settings).unwrap().mapped().unwrap();
    assert_eq!(account.search_code.as_deref(), Some("HOOLI-INTERNATIONA"));
    assert_eq!(account.search_code.as_deref().map(str::len), Some(18));
}

#[test]
fn firms_to_exact_row_status_is_customer_prospect_or_suspect() {
    let mut firm = acme();
    let status = |f: &ledgerlink_domain::vantagepoint::Firm| {
        firm_to_exact(f, &Settings::default())
            .unwrap()
            .mapped()
            .unwrap()
            .status
    };
    assert_eq!(status(&firm), Some(AccountStatus::Customer));
    firm.current_status = Some("Prospect".into());
    assert_eq!(status(&firm), Some(AccountStatus::Prospect));
    firm.current_status = Some("Suspect".into());
    assert_eq!(status(&firm), Some(AccountStatus::Suspect));
    let vendor = firms().remove(1);
    assert_eq!(status(&vendor), None);
}

#[test]
fn firms_to_exact_row_primary_email_is_email_address() {
    let account = firm_to_exact(&acme(), &Settings::default())
        .unwrap()
        .mapped()
        .unwrap();
    assert_eq!(account.email.as_deref(), Some("finance@acme.example"));
}

#[test]
fn firms_to_exact_row_work_phone_is_default_phone_number() {
    let account = firm_to_exact(&acme(), &Settings::default())
        .unwrap()
        .mapped()
        .unwrap();
    assert_eq!(account.phone.as_deref(), Some("+31 30 123 4567"));
}

#[test]
fn firms_to_exact_send_the_code_as_the_padded_account_code_too() {
    let account = firm_to_exact(&acme(), &Settings::default())
        .unwrap()
        .mapped()
        .unwrap();
    assert_eq!(
        serde_json::to_value(&account).unwrap()["Code"],
        "            000123"
    );
}

#[test]
fn firms_without_accounting_users_access_are_skipped() {
    let private = firms().remove(3);
    assert_eq!(
        firm_to_exact(&private, &Settings::default()).unwrap(),
        Outcome::Skipped(SkipReason::NotAvailableToAccountingUsers)
    );
}
