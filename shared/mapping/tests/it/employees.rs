//! Table "Employees: Vantagepoint to Exact Online - Vendors", one test per row.

use ledgerlink_domain::vantagepoint::EmployeeStatus;
use ledgerlink_mapping::employees::{ExactEmployee, employee_to_exact};
use ledgerlink_mapping::{MappingError, Outcome, SkipReason};

use crate::support::employee;

fn mapped() -> ExactEmployee {
    employee_to_exact(&employee()).unwrap().mapped().unwrap()
}

#[test]
fn employees_row_title_name_is_the_contact_name() {
    assert_eq!(mapped().account.name, "Anna de Vries");
}

#[test]
fn employees_row_title_name_falls_back_to_first_and_last_name() {
    let mut e = employee();
    e.name = None;
    let out = employee_to_exact(&e).unwrap().mapped().unwrap();
    assert_eq!(out.account.name, "Anna de Vries");
}

#[test]
fn employees_row_employee_code_is_the_contact_number_when_numeric() {
    assert_eq!(mapped().contact.hid.as_deref(), Some("00017"));
    let mut e = employee();
    e.employee = "AVRIES".into();
    assert_eq!(
        employee_to_exact(&e).unwrap().mapped().unwrap().contact.hid,
        None
    );
}

#[test]
fn employees_row_first_name_is_the_first_name() {
    assert_eq!(mapped().contact.first_name.as_deref(), Some("Anna"));
}

#[test]
fn employees_row_last_name_is_the_last_name() {
    assert_eq!(mapped().contact.last_name.as_deref(), Some("de Vries"));
}

#[test]
fn employees_row_employee_code_is_the_account_number_right_aligned() {
    let account = mapped().account;
    assert_eq!(account.code.as_ref().map(|c| c.as_str()), Some("00017"));
    let body = serde_json::to_value(&account).unwrap();
    assert_eq!(body["Code"], "             00017");
}

#[test]
fn employees_row_email_address_is_the_email_address() {
    let out = mapped();
    assert_eq!(out.contact.email.as_deref(), Some("anna@firm.example"));
    assert_eq!(out.account.email.as_deref(), Some("anna@firm.example"));
}

#[test]
fn employees_row_address_1_is_visit_address_line_1() {
    assert_eq!(
        mapped().account.address_line1.as_deref(),
        Some("Keizersgracht 10")
    );
}

#[test]
fn employees_row_address_2_is_visit_address_line_2() {
    assert_eq!(mapped().account.address_line2.as_deref(), Some("3rd floor"));
}

#[test]
fn employees_row_address_3_is_visit_address_line_3() {
    assert_eq!(mapped().account.address_line3.as_deref(), Some("Suite B"));
}

#[test]
fn employees_row_city_is_visit_city() {
    assert_eq!(mapped().account.city.as_deref(), Some("Amsterdam"));
}

#[test]
fn employees_row_state_is_visit_region() {
    assert_eq!(mapped().account.state.as_deref(), Some("NH"));
}

#[test]
fn employees_row_zip_is_visit_post_code() {
    assert_eq!(mapped().account.postcode.as_deref(), Some("1015 CS"));
}

#[test]
fn employees_row_country_is_visit_country_upper_case() {
    assert_eq!(mapped().account.country.as_deref(), Some("NL"));
}

#[test]
fn employees_row_work_phone_is_phone() {
    let out = mapped();
    assert_eq!(out.account.phone.as_deref(), Some("+31 20 555 0101"));
    assert_eq!(out.contact.phone.as_deref(), Some("+31 20 555 0101"));
}

#[test]
fn employees_row_mobile_phone_is_mobile_phone_number() {
    assert_eq!(mapped().contact.mobile.as_deref(), Some("+31 6 1234 5678"));
}

#[test]
fn employees_row_status_is_contact_status_inactive_and_terminated_are_blocked() {
    assert_eq!(mapped().account.blocked, Some(false));
    for status in [EmployeeStatus::Inactive, EmployeeStatus::Terminated] {
        let mut e = employee();
        e.status = status;
        assert_eq!(
            employee_to_exact(&e)
                .unwrap()
                .mapped()
                .unwrap()
                .account
                .blocked,
            Some(true)
        );
    }
}

#[test]
fn employees_become_supplier_accounts_so_expense_reports_can_be_booked_against_them() {
    assert_eq!(mapped().account.is_supplier, Some(true));
}

#[test]
fn employees_without_accounting_users_access_are_skipped_not_mapped() {
    let mut e = employee();
    e.available_to_accounting_users = false;
    assert_eq!(
        employee_to_exact(&e).unwrap(),
        Outcome::Skipped(SkipReason::NotAvailableToAccountingUsers)
    );
}

#[test]
fn employees_with_a_code_longer_than_the_exact_account_number_are_refused() {
    let mut e = employee();
    e.employee = "E1234567890123456789".into();
    let error = employee_to_exact(&e).unwrap_err();
    assert!(
        matches!(
            error,
            MappingError::TooLong {
                field: "Employee",
                len: 20,
                max: 18,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn employees_without_any_name_are_refused_naming_the_field() {
    let mut e = employee();
    e.name = None;
    e.first_name = None;
    e.last_name = None;
    let error = employee_to_exact(&e).unwrap_err();
    assert_eq!(error.field(), Some("Name"));
    assert_eq!(error.record().key, "00017");
}
