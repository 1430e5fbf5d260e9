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
