//! FIGURES for the closing note, counted by the Exact emulator's request counters (not timed): Exact API
//! calls per synced invoice in the steady state, and per idle five-minute payment poll.

use std::time::Duration;

use ledgerlink_domain::{Flow, ObjectType, SyncStatus};
use ledgerlink_flows::discover;
use rust_decimal::Decimal;

use crate::helpers::{World, invoice_key};

#[tokio::test]
async fn steady_state_costs_about_one_exact_call_per_invoice_and_one_per_idle_poll() {
    // Arrange: a tenant warmed up (tokens, first sync done).
    let world = World::spawn().await;
    let t = world.tenant("figures").await;
    world.post_invoice("930000", &[Decimal::new(100, 0)]);
    world.tick();
    discover(&world.ctx, Flow::InvoiceOut, &t.id).await.unwrap();
    world.drain(Flow::InvoiceOut).await;
    discover(&world.ctx, Flow::PaymentIn, &t.id).await.unwrap();

    // Act 1: 50 invoices through discovery and processing.
    let n = 50u32;
    let counters = world.exact.counters();
    counters.reset();
    let mut keys = Vec::new();
    for i in 0..n {
        let number = format!("94{i:04}");
        let posting = world.post_invoice(&number, &[Decimal::new(i64::from(i) * 100 + 1_000, 2)]);
        keys.push(invoice_key(&number, &posting));
    }
    world.tick();
    discover(&world.ctx, Flow::InvoiceOut, &t.id).await.unwrap();
    world.drain(Flow::InvoiceOut).await;
    let api_calls = counters.count_matching("/api/v1/");
    let token_calls = counters.count_matching("/api/oauth2/token");

    // Act 2: twelve idle five-minute polls (one hour).
    counters.reset();
    let mut per_poll = Vec::new();
    for _ in 0..12 {
        world.clock.advance(Duration::from_secs(300));
        let before = counters.count_matching("/api/v1/");
        discover(&world.ctx, Flow::PaymentIn, &t.id).await.unwrap();
        per_poll.push(counters.count_matching("/api/v1/") - before);
    }
    let poll_total = counters.count_matching("/api/v1/");

    // Assert and print.
    for k in &keys {
        assert_eq!(
            world
                .status(&t.id, ObjectType::Invoice, k)
                .await
                .unwrap()
                .status,
            SyncStatus::Success
        );
        assert_eq!(world.sales_entries(t.division, k), 1);
    }
    let per_invoice = (Decimal::from(api_calls) / Decimal::from(n)).round_dp(3);
    println!(
        "FIGURE exact-calls-per-invoice: {per_invoice} ({api_calls} API calls for {n} invoices; {token_calls} token calls)"
    );
    println!(
        "FIGURE exact-calls-per-idle-poll: {per_poll:?} over one hour ({poll_total} calls for 12 polls; the hourly deletions check is the extra one)"
    );
    assert!(
        api_calls <= u64::from(n) * 105 / 100,
        "{api_calls} calls for {n} invoices"
    );
    assert_eq!(
        per_poll.iter().filter(|c| **c == 1).count(),
        11,
        "{per_poll:?}"
    );
}
