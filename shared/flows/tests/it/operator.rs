//! The Integration page's actions, tested directly: Synchronize / Force synchronize rules, refusals with
//! reasons, retry, and a connection paused on a dead refresh token with its notification.

use ledgerlink_domain::{Flow, ObjectType, SyncStatus};
use ledgerlink_flows::{discover, operator};
use ledgerlink_ports::{ConnectionState, NotificationKind, PageRequest, StatusFilter, TokenRecord};
use rust_decimal_macros::dec;

use crate::helpers::{World, invoice_key, object};

#[tokio::test]
async fn force_synchronize_is_refused_while_pending_and_accepted_in_error() {
    // Arrange: an invoice discovered (Pending) and a negative one refused (Error).
    let world = World::spawn().await;
    let t = world.tenant("ops").await;
    let good = world.post_invoice("920001", &[dec!(10.00)]);
    let bad = world.post_invoice("920002", &[dec!(-10.00)]);
    world.tick();
    discover(&world.ctx, Flow::InvoiceOut, &t.id).await.unwrap();
    let pending = object(&t.id, ObjectType::Invoice, &invoice_key("920001", &good));
    let refused = object(&t.id, ObjectType::Invoice, &invoice_key("920002", &bad));

    // Act 1: Force synchronize while Pending.
    let early = operator::force_synchronize(
        &world.ctx,
        std::slice::from_ref(&pending),
        "ops@example.com",
    )
    .await
    .unwrap();

    // Assert 1
    assert!(!early[0].accepted);
    assert!(early[0].reason.as_deref().unwrap_or("").contains("Pending"));

    // Act 2: process, then Force synchronize the one in Error, and Synchronize the successful one.
    world.drain(Flow::InvoiceOut).await;
    assert_eq!(
        world
            .ctx
            .stores
            .statuses
            .get(&refused)
            .await
            .unwrap()
            .unwrap()
            .status,
        SyncStatus::Error
    );
    let forced = operator::force_synchronize(
        &world.ctx,
        std::slice::from_ref(&refused),
        "ops@example.com",
    )
    .await
    .unwrap();
    let again = operator::synchronize(
        &world.ctx,
        std::slice::from_ref(&pending),
        "ops@example.com",
    )
    .await
    .unwrap();

    // Assert 2: accepted and queued (Pending), still refused when processed (the data did not change);
    // Synchronize of a synchronised object is refused with its reason.
    assert!(forced[0].accepted);
    assert_eq!(
        world
            .ctx
            .stores
            .statuses
            .get(&refused)
            .await
            .unwrap()
            .unwrap()
            .status,
        SyncStatus::Pending
    );
    assert!(!again[0].accepted);
    assert!(again[0].reason.as_deref().unwrap_or("").contains("already"));
    world.drain(Flow::InvoiceOut).await;
    let after = world
        .ctx
        .stores
        .statuses
        .get(&refused)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.status, SyncStatus::Error);
    let history = operator::history(&world.ctx, &refused, 20).await.unwrap();
    assert!(
        history.len() >= 4,
        "every write is in the history: {history:?}"
    );
    assert_eq!(
        world.sales_entries(t.division, &invoice_key("920001", &good)),
        1
    );
}

#[tokio::test]
async fn synchronize_takes_desynchronized_objects_and_posts_nothing_twice() {
    // Arrange: a synced invoice flagged Desynchronized (as a deletion in Exact would).
    let world = World::spawn().await;
    let t = world.tenant("resync").await;
    let posting = world.post_invoice("921001", &[dec!(75.00)]);
    let key = invoice_key("921001", &posting);
    world.tick();
    discover(&world.ctx, Flow::InvoiceOut, &t.id).await.unwrap();
    world.drain(Flow::InvoiceOut).await;
    let obj = object(&t.id, ObjectType::Invoice, &key);
    world
        .ctx
        .record(&obj, SyncStatus::Desynchronized, Some("test".into()), None)
        .await
        .unwrap();

    // Act
    let result = operator::synchronize(&world.ctx, std::slice::from_ref(&obj), "ops")
        .await
        .unwrap();
    world.drain(Flow::InvoiceOut).await;

    // Assert: accepted, synced again, still one document (it was found by our reference).
    assert!(result[0].accepted);
    assert_eq!(
        world
            .ctx
            .stores
            .statuses
            .get(&obj)
            .await
            .unwrap()
            .unwrap()
            .status,
        SyncStatus::Success
    );
    assert_eq!(world.sales_entries(t.division, &key), 1);
}

#[tokio::test]
async fn the_list_filters_by_category_status_and_key_prefix() {
    // Arrange
    let world = World::spawn().await;
    let t = world.tenant("lists").await;
    world.post_invoice("922001", &[dec!(1.00)]);
    world.post_invoice("922002", &[dec!(-1.00)]);
    world.tick();
    discover(&world.ctx, Flow::InvoiceOut, &t.id).await.unwrap();
    world.drain(Flow::InvoiceOut).await;

    // Act
    let finance = operator::list(
        &world.ctx,
        &t.id,
        &operator::category_filter(ledgerlink_domain::Category::Finance),
        PageRequest::first(50),
    )
    .await
    .unwrap();
    let master = operator::list(
        &world.ctx,
        &t.id,
        &operator::category_filter(ledgerlink_domain::Category::MasterData),
        PageRequest::first(50),
    )
    .await
    .unwrap();
    let errors = operator::list(
        &world.ctx,
        &t.id,
        &StatusFilter {
            status: Some(SyncStatus::Error),
            ..Default::default()
        },
        PageRequest::first(50),
    )
    .await
    .unwrap();
    let prefixed = operator::list(
        &world.ctx,
        &t.id,
        &StatusFilter {
            key_prefix: Some("922001".into()),
            ..Default::default()
        },
        PageRequest::first(50),
    )
    .await
    .unwrap();

    // Assert
    assert_eq!(finance.items.len(), 2);
    assert!(master.items.is_empty());
    assert_eq!(errors.items.len(), 1);
    assert_eq!(prefixed.items.len(), 1);
}

#[tokio::test]
async fn a_dead_refresh_token_pauses_the_connection_keeps_objects_pending_and_notifies() {
    // Arrange: the tenant's Exact tokens are expired and the refresh token is unknown to Exact.
    let world = World::spawn().await;
    let t = world.tenant("dead").await;
    let now = world.now() - chrono::Duration::seconds(3600);
    world
        .ctx
        .stores
        .tokens
        .save_initial(&TokenRecord {
            connection: format!("exact:{}", t.id),
            issuer: ledgerlink_exact::issuer(&world.exact_server.base_url()).unwrap(),
            access_token: "expired".into(),
            refresh_token: "revoked-refresh-token".into(),
            access_expires_at: now,
            issued_at: now - chrono::Duration::seconds(600),
            generation: 0,
        })
        .await
        .unwrap();
    let posting = world.post_invoice("923001", &[dec!(50.00)]);
    let key = invoice_key("923001", &posting);
    world.tick();

    // Act
    discover(&world.ctx, Flow::InvoiceOut, &t.id).await.unwrap();
    world.drain(Flow::InvoiceOut).await;
    let later = discover(&world.ctx, Flow::InvoiceOut, &t.id).await.unwrap();

    // Assert
    let tenant = world.ctx.stores.tenants.get(&t.id).await.unwrap().unwrap();
    assert_eq!(tenant.state, ConnectionState::Paused);
    assert!(tenant.paused_reason.is_some());
    let status = world
        .status(&t.id, ObjectType::Invoice, &key)
        .await
        .unwrap();
    assert_eq!(status.status, SyncStatus::Pending);
    assert!(
        status
            .last_message
            .as_deref()
            .unwrap_or("")
            .contains("paused"),
        "{:?}",
        status.last_message
    );
    let notes = world
        .ctx
        .stores
        .notifications
        .list(&t.id, PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(
        notes
            .items
            .iter()
            .filter(|n| n.kind == NotificationKind::ConnectionPaused)
            .count(),
        1
    );
    assert!(
        later.skipped_paused,
        "a paused tenant's work is not attempted"
    );
    assert_eq!(world.sales_entries(t.division, &key), 0);

    // Act 2: a user reconnects (fresh tokens) and the connection is resumed.
    let pair = world
        .exact
        .issue_tokens(&world.app.client_id, Some(world.user))
        .unwrap();
    let now = world.now();
    world
        .ctx
        .stores
        .tokens
        .save_initial(&TokenRecord {
            connection: format!("exact:{}", t.id),
            issuer: ledgerlink_exact::issuer(&world.exact_server.base_url()).unwrap(),
            access_token: pair.access_token,
            refresh_token: pair.refresh_token,
            access_expires_at: now + chrono::Duration::seconds(600),
            issued_at: now,
            generation: 0,
        })
        .await
        .unwrap();
    let resent = operator::resume(&world.ctx, &t.id).await.unwrap();
    world.drain(Flow::InvoiceOut).await;

    // Assert 2: the Pending object went through, once.
    assert_eq!(resent, 1);
    assert_eq!(
        world
            .status(&t.id, ObjectType::Invoice, &key)
            .await
            .unwrap()
            .status,
        SyncStatus::Success
    );
    assert_eq!(world.sales_entries(t.division, &key), 1);
}

#[tokio::test]
async fn a_retry_at_the_top_level_refreshes_master_data_first_and_at_entity_level_only_the_object()
{
    // Arrange: two tenants, one per integration level, each with an invoice in Error.
    let world = World::spawn().await;
    let top = world.tenant("top").await;
    let bad_top = world.post_invoice("924001", &[dec!(-5.00)]);
    world.tick();
    discover(&world.ctx, Flow::InvoiceOut, &top.id)
        .await
        .unwrap();
    world.drain(Flow::InvoiceOut).await;
    let entity = world.tenant("entity").await;
    let mut record = world
        .ctx
        .stores
        .tenants
        .get(&entity.id)
        .await
        .unwrap()
        .unwrap();
    record
        .settings
        .insert("integration_level".into(), serde_json::json!("entity"));
    let version = record.version;
    world
        .ctx
        .stores
        .tenants
        .put(&record, Some(version))
        .await
        .unwrap();
    let bad_entity = world.post_invoice("924002", &[dec!(-5.00)]);
    world.tick();
    discover(&world.ctx, Flow::InvoiceOut, &entity.id)
        .await
        .unwrap();
    world.drain(Flow::InvoiceOut).await;
    let top_obj = object(
        &top.id,
        ObjectType::Invoice,
        &invoice_key("924001", &bad_top),
    );
    let entity_obj = object(
        &entity.id,
        ObjectType::Invoice,
        &invoice_key("924002", &bad_entity),
    );

    // Act
    let depth_before = world.ctx.queue.depth(Flow::FirmSync).await.unwrap();
    let top_result = operator::retry(&world.ctx, &top.id, std::slice::from_ref(&top_obj), "ops")
        .await
        .unwrap();
    let depth_top = world.ctx.queue.depth(Flow::FirmSync).await.unwrap();
    let entity_result = operator::retry(
        &world.ctx,
        &entity.id,
        std::slice::from_ref(&entity_obj),
        "ops",
    )
    .await
    .unwrap();
    let depth_entity = world.ctx.queue.depth(Flow::FirmSync).await.unwrap();

    // Assert
    assert!(top_result[0].accepted && entity_result[0].accepted);
    assert_eq!(
        depth_top,
        depth_before + 1,
        "top level: master data is refreshed first"
    );
    assert_eq!(
        depth_entity, depth_top,
        "entity level: only the object itself"
    );
    assert_eq!(world.ctx.queue.depth(Flow::InvoiceOut).await.unwrap(), 2);
}
