//! Hub records and configuration.

use chrono::{DateTime, Utc};
use ledgerlink_domain::Period;
use ledgerlink_domain::vantagepoint::{
    Account, AccountStatus, Firm, FirmAddress, TaxCode, VpAccountType,
};
use ledgerlink_ports::psa::{FirmChanges, FirmRole, Psa, TimeWindow};
use rust_decimal_macros::dec;

use crate::helpers::spawn;

fn whole_day() -> TimeWindow {
    let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    TimeWindow::new(at("2026-06-15T00:00:00Z"), at("2026-06-16T00:00:00Z"))
}

#[tokio::test]
async fn changed_firms_are_filtered_by_role_and_come_with_their_addresses() {
    let vp = spawn().await;

    let clients = vp
        .psa()
        .changed_firms(whole_day(), FirmRole::Client)
        .await
        .unwrap();
    let vendors = vp
        .psa()
        .changed_firms(whole_day(), FirmRole::Vendor)
        .await
        .unwrap();
    let all = vp
        .psa()
        .changed_firms(whole_day(), FirmRole::Any)
        .await
        .unwrap();

    // The demo's eight firms are clients (i % 3 == 0), vendors (1) or both (2).
    assert_eq!(clients.len(), 5);
    assert_eq!(vendors.len(), 5);
    assert!(clients.iter().all(|f| f.client_ind));
    assert!(vendors.iter().all(|f| f.vendor_ind));
    assert_eq!(all.len(), 8);
    assert!(all.iter().all(|f| f.addresses.len() == 3));
}

#[tokio::test]
async fn an_empty_window_returns_no_firms() {
    let vp = spawn().await;
    let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);

    let none = vp
        .psa()
        .changed_firms(
            TimeWindow::new(at("2026-06-16T00:00:00Z"), at("2026-06-17T00:00:00Z")),
            FirmRole::Any,
        )
        .await
        .unwrap();

    assert!(none.is_empty());
}

#[tokio::test]
async fn a_firm_created_from_exact_is_read_back_with_its_autonumbered_client_number_and_addresses()
{
    let vp = spawn().await;
    let firm = Firm {
        client: Some("EX1001".into()),
        name: "Zeeland Water B.V.".into(),
        client_ind: true,
        available_to_accounting_users: true,
        addresses: vec![FirmAddress {
            label: Some("Billing".into()),
            billing: true,
            address1: Some("Havenweg 1".into()),
            city: Some("Vlissingen".into()),
            country: Some("NL".into()),
            ..FirmAddress::default()
        }],
        ..Firm::default()
    };

    let created = vp.psa().create_firm(&firm).await.unwrap();

    let id = created.client_id.clone().unwrap();
    assert!(
        created.client.as_deref().is_some_and(|c| !c.is_empty()),
        "autonumbered client number read back: {created:?}"
    );
    assert_eq!(created.name, "Zeeland Water B.V.");
    assert!(
        created.org.is_some(),
        "organization defaults to the first org"
    );
    assert!(!created.ready_for_processing);
    assert!(
        created.available_to_accounting_users,
        "spec default: available to accounting users = Yes"
    );
    assert!(
        !created.available_for_crm,
        "spec default: available for CRM = No"
    );
    assert_ne!(
        created.client.as_deref(),
        Some("EX1001"),
        "autonumbering refused our number; VP assigned one"
    );
    assert_eq!(created.addresses.len(), 1);
    assert!(created.addresses[0].billing);
    assert!(vp.emulator.firm(&id).is_some());
}

#[tokio::test]
async fn a_firm_update_sends_only_the_changed_fields_and_returns_the_new_mod_date() {
    let vp = spawn().await;
    let id = vp.demo.client_ids[0].clone();
    let before = vp.psa().firm(&id).await.unwrap().unwrap();
    vp.clock.advance(std::time::Duration::from_secs(5));

    let after = vp
        .psa()
        .update_firm(
            &id,
            &FirmChanges {
                name: Some("Renamed In Exact BV".into()),
                vendor_ind: Some(true),
                ..FirmChanges::default()
            },
        )
        .await
        .unwrap();

    assert_eq!(after.name, "Renamed In Exact BV");
    assert!(after.vendor_ind);
    assert_eq!(after.client_ind, before.client_ind, "not sent, not changed");
    assert_eq!(after.primary_email, before.primary_email);
    assert_eq!(after.addresses.len(), before.addresses.len());
    assert!(
        after.mod_date > before.mod_date,
        "{:?} > {:?}",
        after.mod_date,
        before.mod_date
    );
}

#[tokio::test]
async fn an_address_added_to_a_firm_gets_an_id() {
    let vp = spawn().await;
    let id = vp.demo.client_ids[0].clone();

    let address = vp
        .psa()
        .create_firm_address(
            &id,
            &FirmAddress {
                label: Some("Delivery".into()),
                accounting: true,
                city: Some("Delft".into()),
                ..FirmAddress::default()
            },
        )
        .await
        .unwrap();

    assert!(address.address_id.is_some());
    assert_eq!(
        vp.psa().firm(&id).await.unwrap().unwrap().addresses.len(),
        4
    );
}

#[tokio::test]
async fn accounts_are_created_with_the_required_blank_columns_and_updated() {
    let vp = spawn().await;
    let account = Account {
        account: "61200".into(),
        name: "Software".into(),
        status: AccountStatus::Active,
        account_type: VpAccountType::INDIRECT,
        detail: Some("1".into()),
        cash_basis_account: String::new(),
        unrealized_loss_account: String::new(),
        unrealized_gain_account: String::new(),
        cash_basis_revaluation: String::new(),
    };

    vp.psa().create_account(&account).await.unwrap();
    let renamed = Account {
        name: "Software subscriptions".into(),
        ..account.clone()
    };
    vp.psa().update_account(&renamed).await.unwrap();
    let listed = vp.psa().accounts().await.unwrap();

    let found = listed.iter().find(|a| a.account == "61200").unwrap();
    assert_eq!(found.name, "Software subscriptions");
    assert_eq!(found.account_type, VpAccountType::INDIRECT);
}

#[tokio::test]
async fn tax_codes_are_listed_and_created_under_vision() {
    let vp = spawn().await;

    let created = vp
        .psa()
        .create_tax_code(&TaxCode {
            code: "X0001".into(),
            description: Some("Exact 21%".into()),
            rate: dec!(21),
            compound_on_tax_code: None,
        })
        .await
        .unwrap();
    let listed = vp.psa().tax_codes().await.unwrap();

    assert_eq!(created.code, "X0001");
    assert!(
        listed
            .iter()
            .any(|t| t.code == "X0001" && t.rate == dec!(21))
    );
    assert!(
        listed
            .iter()
            .any(|t| t.code == "PST" && t.compound_on_tax_code.as_deref() == Some("GST"))
    );
}

#[tokio::test]
async fn configuration_tables_are_read_from_their_roots() {
    let vp = spawn().await;

    let currencies = vp.psa().currencies().await.unwrap();
    let banks = vp.psa().bank_codes().await.unwrap();
    let auto = vp.psa().auto_posting_accounts(Some("A0")).await.unwrap();

    let codes: Vec<&str> = currencies.iter().map(|c| c.code.as_str()).collect();
    assert!(codes.contains(&"EUR") && codes.contains(&"USD"));
    let eur = banks.iter().find(|b| b.code == "EURBANK").unwrap();
    assert_eq!(eur.account.as_deref(), Some("11110"));
    assert_eq!(auto.accounts_receivable.as_deref(), Some("12100"));
    assert_eq!(auto.unbilled_services.as_deref(), Some("12500"));
}

#[tokio::test]
async fn periods_have_date_ranges_and_the_active_period_can_be_moved() {
    let vp = spawn().await;
    let periods = vp.psa().periods().await.unwrap();
    let active = vp.psa().active_period().await.unwrap();
    let next = periods.iter().find(|p| p.period > active).unwrap().period;

    vp.psa().set_active_period(next).await.unwrap();

    assert_eq!(
        active,
        Period::from_yyyypp(i64::from(vp.demo.active_period)).unwrap()
    );
    assert!(periods.iter().all(|p| p.start.is_some() && p.end.is_some()));
    assert!(periods.iter().any(|p| p.closed));
    assert_eq!(vp.psa().active_period().await.unwrap(), next);
    let june = vp
        .client
        .period_for_date(chrono::NaiveDate::from_ymd_opt(2026, 6, 15).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(june.period, active);
}

#[tokio::test]
async fn employees_and_projects_are_read_with_their_accounting_facts() {
    let vp = spawn().await;

    let changed = vp.psa().changed_employees(whole_day()).await.unwrap();
    let one = vp.psa().employee("E001").await.unwrap().unwrap();
    let missing = vp.psa().employee("E999").await.unwrap();
    let grouped = vp
        .psa()
        .project(&vp.demo.projects[3])
        .await
        .unwrap()
        .unwrap();

    assert_eq!(changed.len(), 4);
    assert_eq!(one.employee, "E001");
    assert!(missing.is_none());
    let group = grouped.billing_group.unwrap();
    assert_eq!(group.main_wbs1, vp.demo.projects[2]);
    assert!(group.consolidated);
}

/// Issue 20 VP item 3: the client edits a firm address on a database that allows it, and reports a database
/// that refuses address edits as `AddressEdit::NotAllowed` (never a silent success).
#[tokio::test]
async fn a_firm_address_is_edited_where_vp_allows_it_and_reported_as_not_allowed_where_it_does_not()
{
    for edits in [true, false] {
        // Arrange
        let vp =
            crate::helpers::spawn_with(ledgerlink_emulators::vantagepoint::VantagepointConfig {
                firm_address_edits: edits,
                ..Default::default()
            })
            .await;
        let id = vp.demo.client_ids[1].clone();
        let mut address: ledgerlink_domain::vantagepoint::FirmAddress =
            serde_json::from_value(serde_json::json!({"Address": "Remit", "City": "Gent"}))
                .unwrap();
        let created = vp.client.create_firm_address(&id, &address).await.unwrap();
        address.address_id = created.address_id.clone();
        address.city = Some("Brugge".into());

        // Act
        let outcome = vp.client.update_firm_address(&id, &address).await.unwrap();

        // Assert
        let stored = vp.client.firm_addresses(&id).await.unwrap();
        let remit = stored
            .iter()
            .find(|a| a.address_id == created.address_id)
            .unwrap();
        if edits {
            assert!(
                matches!(&outcome, ledgerlink_vantagepoint::AddressEdit::Updated(a) if a.city.as_deref() == Some("Brugge")),
                "{outcome:?}"
            );
            assert_eq!(remit.city.as_deref(), Some("Brugge"));
        } else {
            assert!(
                matches!(&outcome, ledgerlink_vantagepoint::AddressEdit::NotAllowed { message } if message.contains("cannot be edited")),
                "{outcome:?}"
            );
            assert_eq!(remit.city.as_deref(), Some("Gent"));
        }
    }
}
