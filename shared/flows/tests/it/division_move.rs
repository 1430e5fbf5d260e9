//! Issue 15 item 5: Exact moves a division to another database and renumbers its sync `Timestamp`s (reference
//! §5.15). The flows notice the new `DivisionMoveDate` (checked at most hourly) and read their feeds again from
//! the beginning: nothing made after the move is lost, and nothing already synced is synced twice.

use std::time::Duration;

use ledgerlink_domain::{Division, Flow, ObjectType, SyncStatus};
use ledgerlink_emulators::exact::PaymentSpec;
use ledgerlink_flows::discover;
use ledgerlink_flows::sync_reset::MARKER_CURSOR;
use ledgerlink_ports::{PageRequest, StatusFilter};
use rust_decimal_macros::dec;
use serde_json::json;

use crate::helpers::{Prelink, TenantFixture, World, invoice_key};

/// Posts a VP invoice, syncs it to Exact and pays it there in full; returns the payment's amount.
async fn paid_invoice(world: &World, t: &TenantFixture, number: &str) -> rust_decimal::Decimal {
    let posting = world.post_invoice(number, &[dec!(100.00)]);
    let key = invoice_key(number, &posting);
    world.tick();
    discover(&world.ctx, Flow::InvoiceOut, &t.id).await.unwrap();
    world.drain(Flow::InvoiceOut).await;
    let entry = world
        .status(&t.id, ObjectType::Invoice, &key)
        .await
        .unwrap()
        .target_id
        .unwrap();
    world
        .exact
        .register_payment(PaymentSpec {
            division: t.division,
            entry_id: entry,
            amount: None,
            date: None,
            employee: false,
        })
        .unwrap()
        .amount
}

async fn receipts(world: &World, t: &TenantFixture) -> Vec<ledgerlink_ports::ObjectStatus> {
    world
        .ctx
        .stores
        .statuses
        .list(
            &t.id,
            &StatusFilter {
                object_type: Some(ObjectType::CashReceipt),
                ..Default::default()
            },
            PageRequest::first(50),
        )
        .await
        .unwrap()
        .items
}

/// Cash receipt batches in VP per receipt object: each must be there exactly once.
fn batches_in_vp(world: &World, receipts: &[ledgerlink_ports::ObjectStatus]) -> Vec<usize> {
    let in_vp = world.vp.cash_receipts();
    receipts
        .iter()
        .map(|r| {
            let batch = format!("Exact{}", r.object.key);
            in_vp.iter().filter(|c| c.batch == batch).count()
        })
        .collect()
}

#[tokio::test]
async fn after_a_division_move_the_payments_feed_restarts_and_nothing_is_lost_or_paid_twice() {
    // Arrange: one invoice paid and recorded in VP before the move.
    let world = World::spawn().await;
    let t = world.tenant("moved").await;
    paid_invoice(&world, &t, "930001").await;
    discover(&world.ctx, Flow::PaymentIn, &t.id).await.unwrap();
    world.drain(Flow::PaymentIn).await;
    assert_eq!(receipts(&world, &t).await.len(), 1);

    // Exact moves the division; another invoice is paid afterwards (its rows get the new, lower numbers).
    world.exact.move_division(t.division).unwrap();
    world.tick();
    paid_invoice(&world, &t, "930002").await;

    // Act 1: within the hour the move is not checked yet — the stale cursor sees nothing new.
    world.clock.advance(Duration::from_secs(600));
    let early = discover(&world.ctx, Flow::PaymentIn, &t.id).await.unwrap();
    world.drain(Flow::PaymentIn).await;
    assert_eq!(
        receipts(&world, &t).await.len(),
        1,
        "the move date is read at most hourly: {early:?}"
    );

    // Act 2: an hour after the last check the move is seen, the feeds restart from the beginning.
    world.clock.advance(Duration::from_secs(3600));
    let checked_at = world.now();
    discover(&world.ctx, Flow::PaymentIn, &t.id).await.unwrap();
    world.drain(Flow::PaymentIn).await;
    // And a second poll right after reads incrementally again.
    discover(&world.ctx, Flow::PaymentIn, &t.id).await.unwrap();
    world.drain(Flow::PaymentIn).await;

    // Assert: both payments recorded, each exactly once in VP.
    let all = receipts(&world, &t).await;
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(
        all.iter().all(|r| r.status == SyncStatus::Success),
        "{all:?}"
    );
    assert_eq!(batches_in_vp(&world, &all), vec![1, 1]);
    // The marker is stored with the time of its last check.
    let marker = world
        .ctx
        .stores
        .cursors
        .get(
            &t.id,
            Flow::PaymentIn,
            MARKER_CURSOR,
            Division(u32::try_from(t.division).unwrap()),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(marker.value.starts_with("/Date("), "{marker:?}");
    assert_eq!(
        marker.updated_at, checked_at,
        "the poll right after did not check again"
    );
}

#[tokio::test]
async fn after_a_division_move_accounts_made_in_exact_still_become_vp_firms_once() {
    // Arrange: an account created in Exact and synced to VP before the move.
    let world = World::spawn().await;
    let t = world
        .tenant_with("movedfirms", None, Prelink::Nothing)
        .await;
    world
        .exact
        .seed(
            t.division,
            "crm/Accounts",
            json!({"Name": "Before Move BV", "Code": "MV0001", "Status": "C"}),
        )
        .unwrap();
    world.tick();
    discover(&world.ctx, Flow::FirmSync, &t.id).await.unwrap();
    world.drain(Flow::FirmSync).await;
    let named = |name: &str| {
        world
            .vp
            .firms()
            .into_iter()
            .filter(|f| f.get("Name").and_then(|v| v.as_str()) == Some(name))
            .count()
    };
    assert_eq!(named("Before Move BV"), 1);

    // Act: the division moves, an account is made after it, an hour passes, firm-sync discovers.
    world.exact.move_division(t.division).unwrap();
    world.tick();
    world
        .exact
        .seed(
            t.division,
            "crm/Accounts",
            json!({"Name": "After Move BV", "Code": "MV0002", "Status": "C"}),
        )
        .unwrap();
    world.clock.advance(Duration::from_secs(3700));
    discover(&world.ctx, Flow::FirmSync, &t.id).await.unwrap();
    world.drain(Flow::FirmSync).await;

    // Assert: the new account became a firm; the old one was read again but not created twice.
    assert_eq!(named("After Move BV"), 1);
    assert_eq!(named("Before Move BV"), 1);
}
