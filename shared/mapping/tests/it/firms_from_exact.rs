//! Table "Firms: Exact Online to Vantagepoint", one test per row.

use ledgerlink_domain::ExactAccountCode;
use ledgerlink_domain::exact::{Account, AccountStatus, Contact};
use ledgerlink_domain::vantagepoint::{Firm, FirmStatus};
use ledgerlink_mapping::firms::firm_from_exact;
use ledgerlink_mapping::{MappingError, TruncationRule};

use crate::support::id;

/// The sample lookups with VP's organisations, which firm-sync passes in (the first is the default org).
fn lookups() -> ledgerlink_mapping::Lookups {
    let mut l = crate::support::lookups();
    l.organizations = vec!["A0:01".into(), "A0:02".into()];
    l
}

fn exact_account() -> Account {
    Account {
        id: Some(id("3734121e-1544-4b77-9ae2-7203e9bd6046")),
        name: "Globex NV".into(),
        code: Some(ExactAccountCode::parse("                 8").unwrap()),
        status: Some(AccountStatus::Customer),
        is_sales: Some(true),
        is_supplier: Some(true),
        ..Account::default()
    }
}

fn contact() -> Contact {
    Contact {
        first_name: Some("Hank".into()),
        last_name: Some("Scorpio".into()),
        ..Contact::default()
    }
}

fn mapped() -> Firm {
    firm_from_exact(&exact_account(), Some(&contact()), &lookups()).unwrap()
}

#[test]
fn firms_from_exact_row_name_is_name() {
    assert_eq!(mapped().name, "Globex NV");
}

#[test]
fn firms_from_exact_row_is_sales_is_is_client() {
    assert!(mapped().client_ind);
    let mut account = exact_account();
    account.is_sales = Some(false);
    assert!(
        !firm_from_exact(&account, None, &lookups())
            .unwrap()
            .client_ind
    );
}

#[test]
fn firms_from_exact_row_code_is_client_code_trimmed() {
    assert_eq!(mapped().client.as_deref(), Some("8"));
}

#[test]
fn firms_from_exact_row_is_supplier_is_is_vendor() {
    assert!(mapped().vendor_ind);
    let mut account = exact_account();
    account.is_supplier = Some(false);
    assert!(
        !firm_from_exact(&account, None, &lookups())
            .unwrap()
            .vendor_ind
    );
}

#[test]
fn firms_from_exact_row_code_is_vendor_code() {
    assert_eq!(mapped().vendor.as_deref(), Some("8"));
}

#[test]
fn firms_from_exact_row_status_defaults_to_active() {
    assert_eq!(mapped().status, FirmStatus::Active);
}

#[test]
fn firms_from_exact_row_organization_defaults_to_the_first_org() {
    assert_eq!(mapped().org.as_deref(), Some("A0:01"));
}

#[test]
fn firms_from_exact_row_organization_is_refused_when_no_org_is_configured() {
    let mut l = lookups();
    l.organizations.clear();
    let error = firm_from_exact(&exact_account(), None, &l).unwrap_err();
    assert!(
        matches!(error, MappingError::Missing { field: "Org", .. }),
        "{error}"
    );
}

#[test]
fn firms_from_exact_row_client_type_defaults_to_blank() {
    assert_eq!(mapped().client_type, None);
}

#[test]
fn firms_from_exact_row_vendor_type_defaults_to_blank() {
    assert_eq!(mapped().vendor_type, None);
}

#[test]
fn firms_from_exact_row_prior_work_defaults_to_false() {
    assert!(!mapped().prior_work);
}

#[test]
fn firms_from_exact_row_recommended_defaults_to_false() {
    assert!(!mapped().recommend);
}

#[test]
fn firms_from_exact_row_is_competitor_defaults_to_false() {
    assert!(!mapped().competitor);
}

#[test]
fn firms_from_exact_row_sort_name_is_the_contact_name() {
    assert_eq!(mapped().sort_name.as_deref(), Some("Hank Scorpio"));
    let without_contact = firm_from_exact(&exact_account(), None, &lookups()).unwrap();
    assert_eq!(without_contact.sort_name.as_deref(), Some("Globex NV"));
}

#[test]
fn firms_from_exact_row_available_for_crm_defaults_to_no() {
    assert!(!mapped().available_for_crm);
}

#[test]
fn firms_from_exact_row_available_to_accounting_users_defaults_to_yes() {
    assert!(mapped().available_to_accounting_users);
}

#[test]
fn firms_from_exact_row_ready_for_processing_defaults_to_no() {
    assert!(!mapped().ready_for_processing);
    assert_eq!(
        serde_json::to_value(mapped()).unwrap()["ReadyForProcessing"],
        "N"
    );
}

#[test]
fn firms_from_exact_row_ready_for_processing_for_company_defaults_to_no() {
    assert!(!mapped().ready_for_processing_company);
}

#[test]
fn firms_from_exact_code_longer_than_the_configured_client_length_is_refused() {
    let mut l = lookups();
    l.settings.client_code_max_len = 6;
    let mut account = exact_account();
    account.code = Some(ExactAccountCode::parse("123456789").unwrap());
    let error = firm_from_exact(&account, None, &l).unwrap_err();
    assert!(
        matches!(
            error,
            MappingError::TooLong {
                field: "Code",
                len: 9,
                max: 6,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn firms_from_exact_code_is_truncated_only_under_a_configured_rule() {
    let mut l = lookups();
    l.settings.client_code_max_len = 6;
    l.settings.client_code_truncation = TruncationRule::KeepRight;
    let mut account = exact_account();
    account.code = Some(ExactAccountCode::parse("123456789").unwrap());
    assert_eq!(
        firm_from_exact(&account, None, &l)
            .unwrap()
            .client
            .as_deref(),
        Some("456789")
    );
}

/// Consideration "The maximum length supported by Vantagepoint is 20 characters": a configured length of
/// 50 still gives 20 at most. Exact codes are at most 18 characters, so the 20-character cap is checked
/// with a setting of 10 below it (cut to 10) and of 50 above it (an 18-character code passes whole).
#[test]
fn firms_from_exact_never_allow_more_than_vantagepoints_20_characters() {
    let mut l = lookups();
    l.settings.client_code_max_len = 50;
    l.settings.client_code_truncation = TruncationRule::KeepLeft;
    let mut account = exact_account();
    account.code = Some(ExactAccountCode::parse("123456789012345678").unwrap());
    let firm = firm_from_exact(&account, None, &l).unwrap();
    assert_eq!(firm.client.as_deref(), Some("123456789012345678"));
    assert_eq!(firm.vendor.as_deref(), Some("123456789012345678"));
    l.settings.client_code_max_len = 10;
    let firm = firm_from_exact(&account, None, &l).unwrap();
    assert_eq!(firm.client.as_deref(), Some("1234567890"));
}
