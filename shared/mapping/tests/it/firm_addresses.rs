//! Table "Firms: Vantagepoint to Exact Online - Address", one test per row.

use ledgerlink_domain::exact::{Address, AddressType};
use ledgerlink_mapping::firms::firm_addresses_to_exact;

use crate::support::{acme, id};

fn addresses() -> Vec<Address> {
    firm_addresses_to_exact(&acme(), id("0b0e3c4a-0000-4000-8000-000000000101"))
}

fn of_type(t: AddressType) -> Address {
    addresses()
        .into_iter()
        .find(|a| a.address_type == t)
        .unwrap()
}

#[test]
fn firm_addresses_row_primary_address_maps_to_visit() {
    assert_eq!(
        of_type(AddressType::Visit).address_line1.as_deref(),
        Some("Oudegracht 1")
    );
    assert_eq!(
        serde_json::to_value(of_type(AddressType::Visit)).unwrap()["Type"],
        1
    );
}

#[test]
fn firm_addresses_row_payment_address_maps_to_postal() {
    assert_eq!(
        of_type(AddressType::Postal).address_line1.as_deref(),
        Some("Postbus 99")
    );
    assert_eq!(
        serde_json::to_value(of_type(AddressType::Postal)).unwrap()["Type"],
        2
    );
}

#[test]
fn firm_addresses_row_billing_address_maps_to_invoice() {
    assert_eq!(
        of_type(AddressType::Invoice).address_line1.as_deref(),
        Some("Oudegracht 1")
    );
    assert_eq!(
        serde_json::to_value(of_type(AddressType::Invoice)).unwrap()["Type"],
        3
    );
}

#[test]
fn firm_addresses_row_accounting_address_maps_to_delivery() {
    assert_eq!(
        of_type(AddressType::Delivery).address_line1.as_deref(),
        Some("Postbus 99")
    );
    assert_eq!(
        serde_json::to_value(of_type(AddressType::Delivery)).unwrap()["Type"],
        4
    );
}

#[test]
fn firm_addresses_row_address_1_is_address_line_1() {
    assert_eq!(
        of_type(AddressType::Visit).address_line1.as_deref(),
        Some("Oudegracht 1")
    );
}

#[test]
fn firm_addresses_row_address_2_is_address_line_2() {
    let mut firm = acme();
    firm.addresses[0].address2 = Some("Gebouw B".into());
    let out = firm_addresses_to_exact(&firm, id("0b0e3c4a-0000-4000-8000-000000000101"));
    assert_eq!(out[0].address_line2.as_deref(), Some("Gebouw B"));
}

#[test]
fn firm_addresses_row_address_3_is_address_line_3() {
    let mut firm = acme();
    firm.addresses[0].address3 = Some("Verdieping 4".into());
    let out = firm_addresses_to_exact(&firm, id("0b0e3c4a-0000-4000-8000-000000000101"));
    assert_eq!(out[0].address_line3.as_deref(), Some("Verdieping 4"));
}

#[test]
fn firm_addresses_row_city_is_city() {
    assert_eq!(of_type(AddressType::Visit).city.as_deref(), Some("Utrecht"));
}

#[test]
fn firm_addresses_row_state_is_region() {
    assert_eq!(of_type(AddressType::Visit).state.as_deref(), Some("UT"));
}

#[test]
fn firm_addresses_row_zip_is_postal_code() {
    assert_eq!(
        of_type(AddressType::Visit).postcode.as_deref(),
        Some("3511 AA")
    );
}

#[test]
fn firm_addresses_row_country_is_country_upper_case() {
    assert_eq!(of_type(AddressType::Visit).country.as_deref(), Some("NL"));
}

#[test]
fn firm_addresses_row_phone_is_phone_number() {
    assert_eq!(
        of_type(AddressType::Visit).phone.as_deref(),
        Some("+31 30 123 4567")
    );
}

#[test]
fn firm_addresses_row_email_address_goes_to_the_address_notes() {
    assert_eq!(
        of_type(AddressType::Invoice).notes.as_deref(),
        Some("invoices@acme.example")
    );
}

#[test]
fn firm_addresses_with_several_roles_become_one_main_exact_address_per_role() {
    let all = addresses();
    assert_eq!(all.len(), 4);
    assert!(all.iter().all(|a| a.main == Some(true)));
    assert!(
        all.iter()
            .all(|a| a.account == Some(id("0b0e3c4a-0000-4000-8000-000000000101")))
    );
}

#[test]
fn firm_addresses_without_a_role_are_not_sent() {
    let mut firm = acme();
    for a in &mut firm.addresses {
        a.primary = false;
        a.billing = false;
        a.payment = false;
        a.accounting = false;
    }
    assert!(firm_addresses_to_exact(&firm, id("0b0e3c4a-0000-4000-8000-000000000101")).is_empty());
}
