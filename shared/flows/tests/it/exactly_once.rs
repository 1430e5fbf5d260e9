//! Issue 10: each window through which a retry, a duplicate delivery, a crash or a lost answer could create a
//! second ledger document or lose / double a payment, closed — one test per defect, each of which failed
//! before its fix.

use ledgerlink_domain::{Flow, ObjectType, SyncStatus};
use ledgerlink_emulators::FaultRule;
use ledgerlink_emulators::exact::PaymentSpec;
use ledgerlink_emulators::vantagepoint::{ExpenseLineSeed, VoucherSeed};
use ledgerlink_flows::{MessageOutcome, discover, process_message};
use ledgerlink_ports::{PageRequest, StatusFilter, WorkAction};
use rust_decimal_macros::dec;

use crate::helpers::{World, invoice_key, object};

fn rule(method: &str, prefix: String) -> FaultRule {
    FaultRule {
        method: Some(method.into()),
        path_prefix: prefix,
        ..FaultRule::default()
    }
}

/// Defect 1: the decision to look up before posting is taken at claim time from the idempotency record,
/// not from a status read before the first worker's attempt was recorded.
#[tokio::test]
async fn a_duplicate_delivery_that_read_the_status_early_looks_up_instead_of_posting_again() {
    // Arrange: an invoice discovered, and the status a duplicate delivery read before anyone started.
    let world = World::spawn().await;
    let t = world.tenant("stale-read").await;
    let posting = world.post_invoice("920001", &[dec!(100.00)]);
    let key = invoice_key("920001", &posting);
    world.tick();
    discover(&world.ctx, Flow::InvoiceOut, &t.id).await.unwrap();
    let o = object(&t.id, ObjectType::Invoice, &key);
    let read_early = world.ctx.stores.statuses.get(&o).await.unwrap().unwrap();
    let message = world
        .ctx
        .message(&t.id, o.object_type, &o.key, WorkAction::Sync);
    // The first worker's POST commits but its answer is lost, and the look-up that would settle it fails.
    let sales = format!("/api/v1/{}/salesentry/", t.division);
    world.exact.faults().set_rules(vec![
        FaultRule {
            commit_then_drop_per_mille: 1000,
            ..rule("POST", sales.clone())
        },
        FaultRule {
            error_5xx_per_mille: 1000,
            ..rule("GET", sales.clone())
        },
    ]);
    let first = process_message(&world.ctx, Flow::InvoiceOut, &message)
        .await
        .unwrap();
    world.exact.faults().clear();
    assert!(matches!(first, MessageOutcome::RetryLater(_)), "{first:?}");
    assert_eq!(
        world.sales_entries(t.division, &key),
        1,
        "the first POST committed"
    );

    // Act: the duplicate delivery goes on from the status it read early (no attempt, no unknown outcome).
    let current = world.ctx.stores.statuses.get(&o).await.unwrap().unwrap();
    let mut stale = read_early.clone();
    stale.updated_at = world.now();
    world
        .ctx
        .stores
        .statuses
        .put(&stale, Some(current.version))
        .await
        .unwrap();
    let second = process_message(&world.ctx, Flow::InvoiceOut, &message)
        .await
        .unwrap();

    // Assert: it looked the document up (an earlier claim of the key existed) and linked it.
    assert_eq!(second, MessageOutcome::Handled);
    assert_eq!(
        world.sales_entries(t.division, &key),
        1,
        "a second sales entry was created by the duplicate delivery"
    );
    let s = world
        .status(&t.id, ObjectType::Invoice, &key)
        .await
        .unwrap();
    assert_eq!(s.status, SyncStatus::Success, "{:?}", s.last_message);
}

/// Defect 4 (Exact): a 5xx after the ledger committed a POST — 500, 502, 503 or 504, with or without a
/// body — is an unknown outcome, looked up by our reference, never resent blindly.
#[tokio::test]
async fn a_5xx_after_exact_committed_a_post_is_looked_up_never_resent() {
    for status in [500u16, 502, 503, 504] {
        // Arrange
        let world = World::spawn().await;
        let t = world.tenant(&format!("after-commit-{status}")).await;
        let posting = world.post_invoice("920101", &[dec!(250.00)]);
        let key = invoice_key("920101", &posting);
        world.tick();
        world.exact.faults().set_rules(vec![FaultRule {
            error_after_commit_per_mille: 1000,
            after_commit_statuses: vec![status],
            ..rule("POST", format!("/api/v1/{}/salesentry/", t.division))
        }]);

        // Act
        discover(&world.ctx, Flow::InvoiceOut, &t.id).await.unwrap();
        world.drain(Flow::InvoiceOut).await;

        // Assert
        assert_eq!(
            world.sales_entries(t.division, &key),
            1,
            "HTTP {status} after the commit: the POST was resent"
        );
        let s = world
            .status(&t.id, ObjectType::Invoice, &key)
            .await
            .unwrap();
        assert_eq!(
            s.status,
            SyncStatus::Success,
            "{status}: {:?}",
            s.last_message
        );
        assert_eq!(
            world.exact.faults().injected().get("5xx-after-commit"),
            Some(&1)
        );
    }
}

/// Defect 4 (Vantagepoint): a gateway error after VP stored a cash-receipt batch is looked up, never
/// resent; the emulator counts every create request, refused duplicates included.
#[tokio::test]
async fn a_5xx_after_vantagepoint_committed_a_cash_receipt_is_looked_up_never_resent() {
    // Arrange: an invoice synced and paid in Exact, the payment discovered.
    let world = World::spawn().await;
    let t = world.tenant("vp-after-commit").await;
    let posting = world.post_invoice("920201", &[dec!(400.00)]);
    let key = invoice_key("920201", &posting);
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
        .unwrap();
    discover(&world.ctx, Flow::PaymentIn, &t.id).await.unwrap();
    world.vp.faults().set_rules(vec![FaultRule {
        error_after_commit_per_mille: 1000,
        after_commit_statuses: vec![502],
        ..rule("POST", "/vantagepoint/api/DataEntry/crControl".into())
    }]);

    // Act
    world.drain(Flow::PaymentIn).await;

    // Assert
    let receipts = world
        .ctx
        .stores
        .statuses
        .list(
            &t.id,
            &StatusFilter {
                object_type: Some(ObjectType::CashReceipt),
                ..Default::default()
            },
            PageRequest::first(10),
        )
        .await
        .unwrap();
    assert_eq!(receipts.items.len(), 1);
    let receipt = &receipts.items[0];
    let batch = format!("Exact{}", receipt.object.key);
    assert_eq!(
        world.vp.faults().injected().get("5xx-after-commit"),
        Some(&1),
        "the fault must have hit the create"
    );
    assert_eq!(
        world.vp.raw_cash_receipt_creates(&batch),
        1,
        "the create of {batch} was sent again after a 502 that came after the commit"
    );
    assert_eq!(
        receipt.status,
        SyncStatus::Success,
        "{:?}",
        receipt.last_message
    );
}

/// Defect 6: VP keys vouchers by vendor and voucher number; two vendors' voucher 1001 are two documents.
#[tokio::test]
async fn two_vendors_vouchers_with_one_number_become_two_purchase_entries() {
    // Arrange
    let world = World::spawn().await;
    let t = world.tenant("two-vendors").await;
    let vendors = [world.demo.vendors[0].clone(), world.demo.vendors[1].clone()];
    for (i, vendor) in vendors.iter().enumerate() {
        world
            .vp
            .post_voucher(&VoucherSeed {
                voucher: "1001".into(),
                vendor: vendor.clone(),
                invoice: format!("SUP-{i}"),
                invoice_date: Some(world.today()),
                trans_date: Some(world.today()),
                period: Some(world.demo.active_period),
                liab_code: "AP".into(),
                bank_code: "EURBANK".into(),
                lines: vec![ExpenseLineSeed {
                    description: "Office rent".into(),
                    account: "60100".into(),
                    amount: if i == 0 { dec!(100.00) } else { dec!(200.00) },
                    ..ExpenseLineSeed::default()
                }],
                ..VoucherSeed::default()
            })
            .unwrap();
    }
    world.tick();

    // Act
    discover(&world.ctx, Flow::VoucherOut, &t.id).await.unwrap();
    world.drain(Flow::VoucherOut).await;

    // Assert
    let mut targets = Vec::new();
    for vendor in &vendors {
        let key = format!("{vendor}.1001");
        let s = world
            .status(&t.id, ObjectType::ApVoucher, &key)
            .await
            .unwrap();
        assert_eq!(s.status, SyncStatus::Success, "{key}: {:?}", s.last_message);
        let reference = ledgerlink_mapping::purchases::voucher_reference(vendor, "1001");
        assert_eq!(
            world
                .exact
                .count_purchase_entries_with_your_ref(t.division, &reference),
            1,
            "{key}"
        );
        targets.push(s.target_id.unwrap());
    }
    assert_ne!(
        targets[0], targets[1],
        "both vouchers were linked to one entry"
    );
}

/// Syncs one invoice of `amounts` to Exact and returns its key and sales entry id.
async fn synced_invoice(
    world: &World,
    t: &crate::helpers::TenantFixture,
    number: &str,
    amounts: &[rust_decimal::Decimal],
) -> (String, String) {
    let posting = world.post_invoice(number, amounts);
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
    (key, entry)
}

fn pay(world: &World, division: i32, entry: &str, amount: Option<rust_decimal::Decimal>) -> String {
    world
        .exact
        .register_payment(PaymentSpec {
            division,
            entry_id: entry.to_owned(),
            amount,
            date: None,
            employee: false,
        })
        .unwrap()
        .cashflow_row_id
}

/// Defect 2: a receipt on an invoice whose post has not completed (its link does not exist yet) waits,
/// named on the page, and goes through once the invoice is linked — it is not skipped for good.
#[tokio::test]
async fn a_receipt_on_an_invoice_still_retrying_waits_for_the_link_and_then_goes_through() {
    // Arrange: the invoice's POST commits in Exact, but its answer is lost and the look-up fails, so the
    // invoice is not linked yet.
    let world = World::spawn().await;
    let t = world.tenant("waiting-receipt").await;
    let posting = world.post_invoice("920301", &[dec!(300.00)]);
    let key = invoice_key("920301", &posting);
    world.tick();
    discover(&world.ctx, Flow::InvoiceOut, &t.id).await.unwrap();
    let sales = format!("/api/v1/{}/salesentry/", t.division);
    world.exact.faults().set_rules(vec![
        FaultRule {
            commit_then_drop_per_mille: 1000,
            ..rule("POST", sales.clone())
        },
        FaultRule {
            error_5xx_per_mille: 1000,
            ..rule("GET", sales.clone())
        },
    ]);
    let o = object(&t.id, ObjectType::Invoice, &key);
    let m = world
        .ctx
        .message(&t.id, o.object_type, &o.key, WorkAction::Sync);
    let first = process_message(&world.ctx, Flow::InvoiceOut, &m)
        .await
        .unwrap();
    world.exact.faults().clear();
    assert!(matches!(first, MessageOutcome::RetryLater(_)));
    let entry = world.sales_entry_id(t.division, &key).unwrap();
    // The customer pays it in Exact meanwhile; payment-in polls before the invoice's retry.
    pay(&world, t.division, &entry, None);
    world.tick();
    discover(&world.ctx, Flow::PaymentIn, &t.id).await.unwrap();
    let waiting = world.receipts(&t.id).await;
    assert_eq!(waiting.len(), 1, "the receipt must be on record, waiting");
    assert_eq!(waiting[0].status, SyncStatus::Pending);
    assert!(
        waiting[0]
            .last_message
            .as_deref()
            .unwrap_or("")
            .contains(&format!("Waiting for invoice {key}")),
        "{:?}",
        waiting[0].last_message
    );

    // Act: the invoice's retry links it; payment-in runs (its cursor has moved past the payment).
    world.drain(Flow::InvoiceOut).await;
    discover(&world.ctx, Flow::PaymentIn, &t.id).await.unwrap();
    world.drain(Flow::PaymentIn).await;

    // Assert
    let invoice = world
        .status(&t.id, ObjectType::Invoice, &key)
        .await
        .unwrap();
    assert_eq!(
        invoice.status,
        SyncStatus::Success,
        "{:?}",
        invoice.last_message
    );
    let receipts = world.receipts(&t.id).await;
    assert_eq!(receipts.len(), 1);
    assert_eq!(
        receipts[0].status,
        SyncStatus::Success,
        "{:?}",
        receipts[0].last_message
    );
    let batch = format!("Exact{}", receipts[0].object.key);
    let in_vp: Vec<_> = world
        .vp
        .cash_receipts()
        .into_iter()
        .filter(|c| c.batch == batch)
        .collect();
    assert_eq!(in_vp.len(), 1, "the receipt must be in VP exactly once");
    assert_eq!(
        in_vp[0].total,
        dec!(363.00),
        "300.00 + 21% VAT, paid in full"
    );
}

/// Defect 7: a reversal is not booked as a new receipt (it is refused with its reason), and a payment
/// without an amount is an Error naming the payment, not a zero batch marked Success.
#[tokio::test]
async fn a_reversal_and_a_payment_without_amount_are_refused_with_their_reason() {
    // Arrange: two invoices; one paid then the payment reversed, one paid with its amount missing.
    let world = World::spawn().await;
    let t = world.tenant("amounts").await;
    let (_, entry_a) = synced_invoice(&world, &t, "920401", &[dec!(100.00)]).await;
    let (_, entry_b) = synced_invoice(&world, &t, "920402", &[dec!(200.00)]).await;
    let paid = pay(&world, t.division, &entry_a, None);
    let reversal = world.exact.reverse_payment(t.division, &paid).unwrap();
    let blank = pay(&world, t.division, &entry_b, None);
    world
        .exact
        .clear_payment_amount(t.division, &blank)
        .unwrap();
    world.tick();

    // Act
    discover(&world.ctx, Flow::PaymentIn, &t.id).await.unwrap();
    world.drain(Flow::PaymentIn).await;

    // Assert
    let key_of = |id: &str| ledgerlink_flows::payment_in::payment_key(id.parse().unwrap());
    let status_of = |id: &str| {
        let key = key_of(id);
        let world = &world;
        let tenant = t.id.clone();
        async move {
            world
                .status(&tenant, ObjectType::CashReceipt, &key)
                .await
                .unwrap()
        }
    };
    let paid_status = status_of(&paid).await;
    assert_eq!(
        paid_status.status,
        SyncStatus::Success,
        "{:?}",
        paid_status.last_message
    );
    let reversed = status_of(&reversal).await;
    assert_eq!(reversed.status, SyncStatus::Error);
    assert!(
        reversed
            .last_message
            .as_deref()
            .unwrap_or("")
            .contains("reverses"),
        "{:?}",
        reversed.last_message
    );
    let missing = status_of(&blank).await;
    assert_eq!(missing.status, SyncStatus::Error);
    let text = missing.last_message.unwrap_or_default();
    assert!(
        text.contains(&key_of(&blank)) && text.contains("no amount"),
        "{text}"
    );
    let batches: Vec<String> = world
        .vp
        .cash_receipts()
        .into_iter()
        .map(|c| c.batch)
        .collect();
    assert!(batches.contains(&format!("Exact{}", key_of(&paid))));
    assert!(
        !batches.contains(&format!("Exact{}", key_of(&reversal))),
        "the reversal was booked as a receipt"
    );
    assert!(
        !batches.contains(&format!("Exact{}", key_of(&blank))),
        "a payment without amount was booked"
    );
}

/// Defect 8: a payment whose feed row moved more than 50 pages past where it was discovered is still
/// found: it is read by its id.
#[tokio::test]
async fn a_payment_deep_in_the_feed_history_is_read_by_its_id() {
    // Arrange: sync pages of 2 rows; a payment discovered, then 120 more payments, then the first one's
    // rows change (they move to the end of the feed).
    let world = World::spawn_with(|c| c.bulk_page_size = 2).await;
    let t = world.tenant("deep-feed").await;
    let (_, entry) = synced_invoice(&world, &t, "920501", &[dec!(5000.00)]).await;
    let target = pay(&world, t.division, &entry, Some(dec!(10.00)));
    world.tick();
    discover(&world.ctx, Flow::PaymentIn, &t.id).await.unwrap();
    for _ in 0..120 {
        pay(&world, t.division, &entry, Some(dec!(0.01)));
    }
    world.exact.touch_payment(t.division, &target).unwrap();

    // Act: only the target's message is queued.
    world.drain(Flow::PaymentIn).await;

    // Assert
    let key = ledgerlink_flows::payment_in::payment_key(target.parse().unwrap());
    let s = world
        .status(&t.id, ObjectType::CashReceipt, &key)
        .await
        .unwrap();
    assert_eq!(s.status, SyncStatus::Success, "{:?}", s.last_message);
    let batch = format!("Exact{key}");
    let in_vp: Vec<_> = world
        .vp
        .cash_receipts()
        .into_iter()
        .filter(|c| c.batch == batch)
        .collect();
    assert_eq!(in_vp.len(), 1);
    assert_eq!(in_vp[0].total, dec!(10.00));
}

/// Defect 9: a state store restored from an older backup (its cursors, statuses, links and idempotency
/// records from before the documents were posted) links what is already in the ledger instead of posting
/// it again; a discovered page costs one batched look-up, so the steady state stays under 1.05 Exact
/// calls per synced invoice.
#[tokio::test]
async fn a_store_restored_from_an_older_backup_links_what_the_ledger_has_instead_of_posting_again()
{
    // Arrange: a backup taken before 40 invoices were synced.
    let world = World::spawn().await;
    let t = world.tenant("restored").await;
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup.db");
    world.backup(&backup).await;
    let mut keys = Vec::new();
    for i in 0..40 {
        let number = format!("9206{i:02}");
        let posting = world.post_invoice(&number, &[dec!(10.00) + rust_decimal::Decimal::from(i)]);
        keys.push(invoice_key(&number, &posting));
    }
    world.tick();
    let calls_before = world.exact.counters().count_matching("salesentry");
    discover(&world.ctx, Flow::InvoiceOut, &t.id).await.unwrap();
    world.drain(Flow::InvoiceOut).await;
    let steady_calls = world.exact.counters().count_matching("salesentry") - calls_before;
    let posted: Vec<String> = {
        let mut ids = Vec::new();
        for k in &keys {
            ids.push(
                world
                    .status(&t.id, ObjectType::Invoice, k)
                    .await
                    .unwrap()
                    .target_id
                    .unwrap(),
            );
        }
        ids
    };

    // Act: the store is restored from the backup; the flows run on it.
    let restored = ledgerlink_store_embedded::EmbeddedStore::open(&backup).unwrap();
    let ctx = world.context_on(&restored);
    let calls_before = world.exact.counters().count_matching("salesentry");
    let report = discover(&ctx, Flow::InvoiceOut, &t.id).await.unwrap();
    ledgerlink_flows::drain(
        &ctx,
        Flow::InvoiceOut,
        10_000,
        std::time::Duration::from_secs(60),
        std::time::Duration::from_secs(1),
    )
    .await
    .unwrap();
    let restore_calls = world.exact.counters().count_matching("salesentry") - calls_before;

    // Assert: no second entry; every invoice Success on the restored store, linked to its first entry.
    for (k, id) in keys.iter().zip(&posted) {
        assert_eq!(
            world.sales_entries(t.division, k),
            1,
            "{k} was posted again"
        );
        let o = object(&t.id, ObjectType::Invoice, k);
        let s = ctx.stores.statuses.get(&o).await.unwrap().unwrap();
        assert_eq!(s.status, SyncStatus::Success, "{k}: {:?}", s.last_message);
        assert_eq!(s.target_id.as_ref(), Some(id));
        assert_eq!(
            ctx.stores
                .links
                .exact_id(&t.id, ObjectType::Invoice, k)
                .await
                .unwrap()
                .as_ref(),
            Some(id)
        );
    }
    assert_eq!(report.linked, 40, "{report:?}");
    println!(
        "steady state: {steady_calls} sales-entry calls for 40 invoices ({} per mille of an invoice each); after the restore: {restore_calls}",
        steady_calls * 1000 / 40
    );
    assert!(
        steady_calls * 100 <= 105 * 40,
        "{steady_calls} Exact sales-entry calls for 40 invoices (more than 1.05 per invoice)"
    );
    assert!(
        restore_calls <= 1,
        "{restore_calls} calls to re-link 40 invoices"
    );
}

async fn drain_on(ctx: &ledgerlink_flows::FlowContext, flow: Flow) {
    ledgerlink_flows::drain(
        ctx,
        flow,
        10_000,
        std::time::Duration::from_secs(60),
        std::time::Duration::from_secs(1),
    )
    .await
    .unwrap();
}

/// Defect 3 (known reset): waiting for Exact's daily limit delays the message to the reset time instead of
/// burning the queue's five receives; the object goes through after the reset, nothing in the DLQ.
#[tokio::test]
async fn waiting_for_exacts_daily_reset_delays_the_message_instead_of_burning_receives() {
    // Arrange: the division's daily budget is used up (the clock starts at 10:00 UTC).
    let world = World::spawn().await;
    let ctx = world.context_with_max_receives(5);
    let t = world.tenant("daily-limit").await;
    world
        .exact
        .exhaust_daily_budget(&world.app.client_id, t.division);
    let posting = world.post_invoice("920701", &[dec!(70.00)]);
    let key = invoice_key("920701", &posting);
    world.tick();
    discover(&ctx, Flow::InvoiceOut, &t.id).await.unwrap();

    // Act: the worker keeps running through the day (a drain every 15 minutes, as the queue redelivers).
    drain_on(&ctx, Flow::InvoiceOut).await;
    let waiting = world
        .status(&t.id, ObjectType::Invoice, &key)
        .await
        .unwrap();
    for _ in 0..60 {
        world.clock.advance(std::time::Duration::from_secs(15 * 60));
        drain_on(&ctx, Flow::InvoiceOut).await;
    }

    // Assert
    assert_eq!(waiting.status, SyncStatus::Pending);
    assert!(
        waiting
            .last_message
            .as_deref()
            .unwrap_or("")
            .starts_with("Waiting until"),
        "{:?}",
        waiting.last_message
    );
    let dead = ctx.queue.dead_letters(Flow::InvoiceOut, 10).await.unwrap();
    assert!(dead.is_empty(), "the message ended in the DLQ: {dead:?}");
    let s = world
        .status(&t.id, ObjectType::Invoice, &key)
        .await
        .unwrap();
    assert_eq!(s.status, SyncStatus::Success, "{:?}", s.last_message);
    assert_eq!(world.sales_entries(t.division, &key), 1);
}

/// Defect 3 (DLQ): an object whose message died in the dead-letter queue (an hour of VP downtime) is
/// redriven by the sweeper and goes through; one that keeps failing is set to Error with the reason past the
/// attempt limit; an operator can Synchronize a Pending object whose last attempt is older than its lease.
#[tokio::test]
async fn stranded_objects_are_redriven_given_up_with_a_reason_or_synchronized_by_an_operator() {
    // Arrange: VP answers 503 to everything for a while; the queue gives a message five receives.
    let world = World::spawn().await;
    let mut ctx = world.context_with_max_receives(5);
    ctx.settings.sweep_max_attempts = 12;
    let t = world.tenant("stranded").await;
    let posting = world.post_invoice("920801", &[dec!(80.00)]);
    let key = invoice_key("920801", &posting);
    world.tick();
    discover(&ctx, Flow::InvoiceOut, &t.id).await.unwrap();
    world.vp.faults().set_rules(vec![FaultRule {
        path_prefix: "/vantagepoint/api/".into(),
        error_5xx_per_mille: 1000,
        ..FaultRule::default()
    }]);
    drain_on(&ctx, Flow::InvoiceOut).await;
    let dead = ctx.queue.dead_letters(Flow::InvoiceOut, 10).await.unwrap();
    assert_eq!(dead.len(), 1, "the message must have died in the DLQ");
    let o = object(&t.id, ObjectType::Invoice, &key);

    // Act 1: an operator's Synchronize while the last attempt is recent is refused; after a lease it is not.
    let early = ledgerlink_flows::operator::synchronize(&ctx, std::slice::from_ref(&o), "ops")
        .await
        .unwrap();
    world.clock.advance(std::time::Duration::from_secs(301));
    let late = ledgerlink_flows::operator::synchronize(&ctx, std::slice::from_ref(&o), "ops")
        .await
        .unwrap();
    assert!(!early[0].accepted);
    assert!(late[0].accepted, "{:?}", late[0].reason);

    // Act 2: VP is still down; the sweeper redrives with back-off until the attempt limit, then gives up.
    for _ in 0..40 {
        drain_on(&ctx, Flow::InvoiceOut).await;
        world.clock.advance(std::time::Duration::from_secs(3600));
        ledgerlink_flows::sweeper::sweep(&ctx, Flow::InvoiceOut)
            .await
            .unwrap();
    }
    let given_up = world
        .status(&t.id, ObjectType::Invoice, &key)
        .await
        .unwrap();
    assert_eq!(
        given_up.status,
        SyncStatus::Error,
        "{:?}",
        given_up.last_message
    );
    assert!(
        given_up
            .last_message
            .as_deref()
            .unwrap_or("")
            .starts_with("Gave up after"),
        "{:?}",
        given_up.last_message
    );

    // Act 3: a second invoice dies in the DLQ during the downtime; VP comes back; the sweeper redrives it.
    world.vp.faults().clear();
    let posting = world.post_invoice("920802", &[dec!(81.00)]);
    let second = invoice_key("920802", &posting);
    world.tick();
    discover(&ctx, Flow::InvoiceOut, &t.id).await.unwrap();
    world.vp.faults().set_rules(vec![FaultRule {
        path_prefix: "/vantagepoint/api/".into(),
        error_5xx_per_mille: 1000,
        ..FaultRule::default()
    }]);
    drain_on(&ctx, Flow::InvoiceOut).await;
    assert_eq!(
        ctx.queue
            .dead_letters(Flow::InvoiceOut, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    world.vp.faults().clear();
    world.clock.advance(std::time::Duration::from_secs(3600));
    let swept = ledgerlink_flows::sweeper::sweep(&ctx, Flow::InvoiceOut)
        .await
        .unwrap();
    drain_on(&ctx, Flow::InvoiceOut).await;

    // Assert
    assert!(swept.dead_letters >= 1 && swept.redriven >= 1, "{swept:?}");
    assert!(
        ctx.queue
            .dead_letters(Flow::InvoiceOut, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let s = world
        .status(&t.id, ObjectType::Invoice, &second)
        .await
        .unwrap();
    assert_eq!(s.status, SyncStatus::Success, "{:?}", s.last_message);
    assert_eq!(world.sales_entries(t.division, &second), 1);
}
