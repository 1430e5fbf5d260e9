//! FIRM-SYNC end to end: VP firms and employees become Exact accounts (only "available to accounting
//! users"), deselecting stops the sync with the link kept, and the setup lists land in the lookup tables;
//! accounts created in Exact become VP firms with the spec's defaults, once.

use ledgerlink_domain::{Division, Flow, ObjectType, SyncStatus};
use ledgerlink_emulators::vantagepoint::FirmSeed;
use ledgerlink_flows::discover;
use ledgerlink_flows::firm_sync::EXACT_ACCOUNTS_CURSOR;
use ledgerlink_ports::{LookupTable, PageRequest};
use serde_json::{Map, Value, json};

use crate::helpers::{Prelink, TenantFixture, World};

#[tokio::test]
async fn available_firms_become_exact_accounts_and_deselecting_one_desynchronizes_it() {
    // Arrange: a tenant whose master data has not been synced yet.
    let world = World::spawn().await;
    let t = world.tenant_with("firms", None, Prelink::Nothing).await;
    world.tick();

    // Act
    let found = discover(&world.ctx, Flow::FirmSync, &t.id).await.unwrap();
    world.drain(Flow::FirmSync).await;
    assert!(found.enqueued >= world.demo.client_ids.len(), "{found:?}");

    // Assert: every syncable client is linked to an Exact account; the others are not integrated.
    for client in &world.demo.syncable_client_ids {
        let status = world.status(&t.id, ObjectType::Firm, client).await.unwrap();
        assert_eq!(
            status.status,
            SyncStatus::Success,
            "{client}: {:?}",
            status.last_message
        );
        let account = world
            .ctx
            .stores
            .links
            .exact_id(&t.id, ObjectType::Firm, client)
            .await
            .unwrap()
            .unwrap();
        assert!(
            world
                .exact
                .entity(t.division, "crm/Accounts", &account)
                .unwrap()
                .is_some()
        );
    }
    let skipped: Vec<String> = world
        .vp
        .firms()
        .iter()
        .filter(|f| f.get("AvailableToAccountingUsers").and_then(|v| v.as_str()) == Some("N"))
        .filter_map(|f| {
            f.get("ClientID")
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        })
        .collect();
    assert!(
        !skipped.is_empty(),
        "the demo has firms not available to accounting users"
    );
    for client in &skipped {
        let status = world.status(&t.id, ObjectType::Firm, client).await.unwrap();
        assert_eq!(
            status.status,
            SyncStatus::NotIntegrated,
            "{client}: {:?}",
            status.last_message
        );
    }
    // The setup lists: Exact's tax codes got unique VP codes, the chart of accounts is in the lookup table.
    let taxes = world
        .ctx
        .stores
        .lookups
        .list(&t.id, LookupTable::TaxCodes, PageRequest::first(50))
        .await
        .unwrap();
    assert!(taxes.items.len() >= 3);
    let gl = world
        .ctx
        .stores
        .lookups
        .list(&t.id, LookupTable::GlAccounts, PageRequest::first(100))
        .await
        .unwrap();
    assert!(
        gl.items.iter().any(|e| e.key == "8000"),
        "Exact's revenue account is known to VP now"
    );

    // Act 2: a user deselects "Available to: Accounting Users" on a synced firm.
    let firm = world.demo.syncable_client_ids[0].clone();
    let mut patch = serde_json::Map::new();
    patch.insert("AvailableToAccountingUsers".into(), json!("N"));
    world.vp.update_firm(&firm, patch).unwrap();
    world.tick();
    discover(&world.ctx, Flow::FirmSync, &t.id).await.unwrap();
    world.drain(Flow::FirmSync).await;

    // Assert 2: Desynchronized with a message; the link is kept.
    let status = world.status(&t.id, ObjectType::Firm, &firm).await.unwrap();
    assert_eq!(
        status.status,
        SyncStatus::Desynchronized,
        "{:?}",
        status.last_message
    );
    assert!(
        status
            .last_message
            .as_deref()
            .unwrap_or("")
            .contains("Accounting Users")
    );
    assert!(
        world
            .ctx
            .stores
            .links
            .exact_id(&t.id, ObjectType::Firm, &firm)
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn employees_available_to_accounting_users_become_supplier_accounts_with_a_contact() {
    // Arrange
    let world = World::spawn().await;
    let t = world.tenant_with("staff", None, Prelink::Nothing).await;
    world.tick();

    // Act
    discover(&world.ctx, Flow::FirmSync, &t.id).await.unwrap();
    world.drain(Flow::FirmSync).await;

    // Assert: every demo employee is settled; the synced ones are linked to an Exact supplier account.
    let mut synced = 0;
    for employee in &world.demo.employees {
        let status = world
            .status(&t.id, ObjectType::Employee, employee)
            .await
            .unwrap();
        match status.status {
            SyncStatus::Success => {
                let account = world
                    .ctx
                    .stores
                    .links
                    .exact_id(&t.id, ObjectType::Employee, employee)
                    .await
                    .unwrap()
                    .unwrap();
                let row = world
                    .exact
                    .entity(t.division, "crm/Accounts", &account)
                    .unwrap()
                    .unwrap();
                assert_eq!(
                    row.get("IsSupplier").and_then(|v| v.as_bool()),
                    Some(true),
                    "{row:?}"
                );
                synced += 1;
            }
            SyncStatus::NotIntegrated => {}
            other => panic!("{employee}: {other:?} {:?}", status.last_message),
        }
    }
    assert!(synced > 0);
}

#[tokio::test]
async fn the_source_of_truth_setting_decides_which_side_is_read() {
    // Arrange: a tenant that keeps its chart of accounts and tax codes in Vantagepoint.
    let world = World::spawn().await;
    let t = world.tenant_with("truth", None, Prelink::Nothing).await;
    let mut record = world.ctx.stores.tenants.get(&t.id).await.unwrap().unwrap();
    record.settings.insert(
        "source_of_truth".into(),
        json!({"gl-account": "vantagepoint", "tax-code": "vantagepoint", "firm": "exact", "employee": "exact"}),
    );
    let version = record.version;
    world
        .ctx
        .stores
        .tenants
        .put(&record, Some(version))
        .await
        .unwrap();
    world.tick();

    let accounts_before = world
        .exact
        .entities(t.division, "crm/Accounts")
        .unwrap()
        .len();

    // Act
    discover(&world.ctx, Flow::FirmSync, &t.id).await.unwrap();
    world.drain(Flow::FirmSync).await;

    // Assert: nothing pulled from Exact, no VP firm or employee pushed. VP firms are read (a VP-side edit
    // of an Exact-owned firm is shown, not lost) but not created in Exact: they are Not integrated, with
    // why. (Accounts created in Exact are still discovered: firms are two-way whatever the source of truth.)
    assert_eq!(
        world
            .exact
            .entities(t.division, "crm/Accounts")
            .unwrap()
            .len(),
        accounts_before
    );
    for client in &world.demo.syncable_client_ids {
        let status = world.status(&t.id, ObjectType::Firm, client).await.unwrap();
        assert_eq!(status.status, SyncStatus::NotIntegrated);
        assert!(
            status
                .last_message
                .as_deref()
                .unwrap_or("")
                .contains("Exact Online owns firms"),
            "{:?}",
            status.last_message
        );
    }
    for employee in &world.demo.employees {
        assert!(
            world
                .status(&t.id, ObjectType::Employee, employee)
                .await
                .is_none()
        );
    }
    let gl = world
        .ctx
        .stores
        .lookups
        .list(&t.id, LookupTable::GlAccounts, PageRequest::first(10))
        .await
        .unwrap();
    let taxes = world
        .ctx
        .stores
        .lookups
        .list(&t.id, LookupTable::TaxCodes, PageRequest::first(10))
        .await
        .unwrap();
    assert!(gl.items.iter().all(|e| e.updated_by != "firm-sync"));
    assert!(taxes.items.iter().all(|e| e.updated_by != "firm-sync"));
}

#[tokio::test]
async fn a_custom_filter_keeps_firms_that_do_not_match_out_of_the_sync() {
    // Arrange: only firms whose name starts with "Acme" (plus the default Active filter).
    let world = World::spawn().await;
    let t = world.tenant_with("filtered", None, Prelink::Nothing).await;
    let mut record = world.ctx.stores.tenants.get(&t.id).await.unwrap().unwrap();
    record.settings.insert(
        "filters".into(),
        json!({"firm": {"rules": [{"field": "name", "op": "starts-with", "value": "acme"}]}}),
    );
    let version = record.version;
    world
        .ctx
        .stores
        .tenants
        .put(&record, Some(version))
        .await
        .unwrap();
    world.tick();

    // Act
    discover(&world.ctx, Flow::FirmSync, &t.id).await.unwrap();
    world.drain(Flow::FirmSync).await;

    // Assert: the matching firm synced, the others were kept out with the reason.
    let mut synced = Vec::new();
    for client in &world.demo.syncable_client_ids {
        let status = world.status(&t.id, ObjectType::Firm, client).await.unwrap();
        match status.status {
            SyncStatus::Success => synced.push(client.clone()),
            SyncStatus::NotIntegrated => {
                assert!(
                    status
                        .last_message
                        .as_deref()
                        .unwrap_or("")
                        .contains("filter"),
                    "{:?}",
                    status.last_message
                )
            }
            other => panic!("{client}: {other:?}"),
        }
    }
    assert_eq!(synced.len(), 1, "{synced:?}");
    let name = world
        .vp
        .firm(&synced[0])
        .unwrap()
        .get("Name")
        .and_then(|n| n.as_str())
        .map(str::to_owned);
    assert!(name.unwrap_or_default().starts_with("Acme"));
}

fn field<'a>(row: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    row.get(name).and_then(|v| v.as_str())
}

/// The VP firms whose client or vendor code is `code`.
fn vp_firms_with_code(world: &World, code: &str) -> Vec<Map<String, Value>> {
    world
        .vp
        .firms()
        .into_iter()
        .filter(|f| field(f, "Client") == Some(code) || field(f, "Vendor") == Some(code))
        .collect()
}

/// The VP firms named `name` (the emulator autonumbers client and vendor codes, as VP may).
fn vp_firms_named(world: &World, name: &str) -> Vec<Map<String, Value>> {
    world
        .vp
        .firms()
        .into_iter()
        .filter(|f| field(f, "Name") == Some(name))
        .collect()
}

async fn accounts_cursor(world: &World, t: &TenantFixture) -> Option<i64> {
    world
        .ctx
        .stores
        .cursors
        .get(
            &t.id,
            Flow::FirmSync,
            EXACT_ACCOUNTS_CURSOR,
            Division(u32::try_from(t.division).unwrap()),
        )
        .await
        .unwrap()
        .map(|c| c.value.parse::<i64>().unwrap())
}

#[tokio::test]
async fn an_account_created_in_exact_becomes_a_vp_firm_with_the_spec_defaults_once() {
    // Arrange: a customer created in Exact Online, unknown to VP.
    let world = World::spawn().await;
    let t = world.tenant_with("exactborn", None, Prelink::Nothing).await;
    let exact_id = world
        .exact
        .seed(
            t.division,
            "crm/Accounts",
            json!({"Name": "Born In Exact BV", "Code": "EX7001", "Status": "C"}),
        )
        .unwrap();
    world.tick();
    let firms_before = world.vp.firms().len();

    // Act
    discover(&world.ctx, Flow::FirmSync, &t.id).await.unwrap();
    world.drain(Flow::FirmSync).await;

    // Assert: one VP firm with the spec's defaults, linked both ways, and the object is a success.
    let created = vp_firms_named(&world, "Born In Exact BV");
    assert_eq!(created.len(), 1, "{created:?}");
    let firm = &created[0];
    assert_eq!(field(firm, "Name"), Some("Born In Exact BV"));
    assert_eq!(field(firm, "Status"), Some("A"));
    assert_eq!(field(firm, "AvailableToAccountingUsers"), Some("Y"));
    assert_eq!(field(firm, "ReadyForProcessing"), Some("N"));
    assert_eq!(field(firm, "ClientInd"), Some("Y"));
    let client_id = field(firm, "ClientID").unwrap().to_owned();
    let links = &world.ctx.stores.links;
    assert_eq!(
        links
            .exact_id(&t.id, ObjectType::Firm, &client_id)
            .await
            .unwrap(),
        Some(exact_id.clone())
    );
    assert_eq!(
        links
            .vp_key(&t.id, ObjectType::Firm, &exact_id)
            .await
            .unwrap(),
        Some(client_id.clone())
    );
    let status = world
        .status(&t.id, ObjectType::Firm, &format!("exact:{exact_id}"))
        .await
        .unwrap();
    assert_eq!(
        status.status,
        SyncStatus::Success,
        "{:?}",
        status.last_message
    );
    assert_eq!(status.target_id.as_deref(), Some(client_id.as_str()));
    let first_cursor = accounts_cursor(&world, &t).await.unwrap();
    assert!(first_cursor > 1, "the cursor moved past the first read");
    let firms_after_first = world.vp.firms().len();
    assert!(firms_after_first > firms_before);

    // Act 2: discover again after another account is created in Exact.
    world
        .exact
        .seed(
            t.division,
            "crm/Accounts",
            json!({"Name": "Second From Exact BV", "Code": "EX7002", "IsSupplier": true}),
        )
        .unwrap();
    world.tick();
    discover(&world.ctx, Flow::FirmSync, &t.id).await.unwrap();
    world.drain(Flow::FirmSync).await;

    // Assert 2: only the new account became a firm; the first was not created again; the cursor advanced.
    assert_eq!(vp_firms_named(&world, "Born In Exact BV").len(), 1);
    let second = vp_firms_named(&world, "Second From Exact BV");
    assert_eq!(second.len(), 1, "{second:?}");
    assert_eq!(field(&second[0], "VendorInd"), Some("Y"));
    assert_eq!(world.vp.firms().len(), firms_after_first + 1);
    let second_cursor = accounts_cursor(&world, &t).await.unwrap();
    // The new VP firm went back through VP → Exact without a second Exact account.
    let pushed = world
        .status(&t.id, ObjectType::Firm, &client_id)
        .await
        .unwrap();
    assert_eq!(
        pushed.status,
        SyncStatus::Success,
        "{:?}",
        pushed.last_message
    );
    let same_name = world
        .exact
        .entities(t.division, "crm/Accounts")
        .unwrap()
        .into_iter()
        .filter(|a| a.get("Name").and_then(|n| n.as_str()) == Some("Born In Exact BV"))
        .count();
    assert_eq!(same_name, 1);
    assert!(
        second_cursor > first_cursor,
        "{second_cursor} > {first_cursor}"
    );

    // Act 3: a discovery with nothing new in Exact.
    world.tick();
    let firms_now = world.vp.firms().len();
    discover(&world.ctx, Flow::FirmSync, &t.id).await.unwrap();
    world.drain(Flow::FirmSync).await;

    // Assert 3: nothing new in VP.
    assert_eq!(world.vp.firms().len(), firms_now);
}

#[tokio::test]
async fn a_vp_firm_already_carrying_the_account_code_is_linked_instead_of_created_twice() {
    // Arrange: the VP firm exists (an earlier create whose answer was lost) but no link was recorded. Exact
    // owns firms here, so the VP → Exact push (which would also match the code) stays out of the way.
    let world = World::spawn().await;
    let t = world
        .tenant_with("lostanswer", None, Prelink::Nothing)
        .await;
    let mut record = world.ctx.stores.tenants.get(&t.id).await.unwrap().unwrap();
    record
        .settings
        .insert("source_of_truth".into(), json!({"firm": "exact"}));
    let version = record.version;
    world
        .ctx
        .stores
        .tenants
        .put(&record, Some(version))
        .await
        .unwrap();
    let exact_id = world
        .exact
        .seed(
            t.division,
            "crm/Accounts",
            json!({"Name": "Lost Answer BV", "Code": "EX7100", "Status": "C"}),
        )
        .unwrap();
    let client_id = world
        .vp
        .add_firm(FirmSeed {
            client: Some("EX7100".into()),
            name: "Lost Answer BV".into(),
            is_client: true,
            available_to_accounting: true,
            org: world.demo.company.clone(),
            ..FirmSeed::default()
        })
        .unwrap();
    world.tick();

    // Act
    discover(&world.ctx, Flow::FirmSync, &t.id).await.unwrap();
    world.drain(Flow::FirmSync).await;

    // Assert: still one firm with the code, now linked to the Exact account.
    assert_eq!(vp_firms_with_code(&world, "EX7100").len(), 1);
    assert_eq!(
        world
            .ctx
            .stores
            .links
            .vp_key(&t.id, ObjectType::Firm, &exact_id)
            .await
            .unwrap(),
        Some(client_id)
    );
}
