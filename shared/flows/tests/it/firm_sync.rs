//! FIRM-SYNC end to end: VP firms and employees become Exact accounts (only "available to accounting
//! users"), deselecting stops the sync with the link kept, and the setup lists land in the lookup tables.

use ledgerlink_domain::{Flow, ObjectType, SyncStatus};
use ledgerlink_flows::discover;
use ledgerlink_ports::{LookupTable, PageRequest};
use serde_json::json;

use crate::helpers::{Prelink, World};

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

    // Act
    let summary = discover(&world.ctx, Flow::FirmSync, &t.id).await.unwrap();

    // Assert: nothing pulled from Exact, no VP firm or employee pushed.
    assert_eq!(summary.enqueued, 0);
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
