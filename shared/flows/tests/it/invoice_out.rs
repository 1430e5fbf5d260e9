//! INVOICE-OUT end to end: posted VP invoices become Exact sales entries once, with statuses and links.

use ledgerlink_domain::{Flow, ObjectType, SyncStatus};
use ledgerlink_flows::discover;
use rust_decimal_macros::dec;

use crate::helpers::{World, invoice_key};

#[tokio::test]
async fn a_posted_invoice_becomes_one_sales_entry_and_the_object_succeeds() {
    // Arrange
    let world = World::spawn().await;
    let t = world.tenant("acme").await;
    let posting = world.post_invoice("900001", &[dec!(1000.00), dec!(250.50)]);
    let key = invoice_key("900001", &posting);
    world.tick();

    // Act
    let found = discover(&world.ctx, Flow::InvoiceOut, &t.id).await.unwrap();
    world.drain(Flow::InvoiceOut).await;

    // Assert
    assert_eq!(found.enqueued, 1, "one message per discovered invoice");
    assert_eq!(world.sales_entries(t.division, &key), 1);
    let status = world.status(&t.id, ObjectType::Invoice, &key).await.unwrap();
    assert_eq!(status.status, SyncStatus::Success, "{:?}", status.last_message);
    let target = status.target_id.clone().unwrap();
    let linked = world.ctx.stores.links.vp_key(&t.id, ObjectType::Invoice, &target).await.unwrap();
    assert_eq!(linked.as_deref(), Some(key.as_str()));
}
