//! PAYMENT-IN end to end: receipts and payments registered in Exact land in VP once, partial expense
//! payments wait, and idle polls read incrementally.

use ledgerlink_domain::{Flow, ObjectType, SyncStatus};
use ledgerlink_emulators::exact::PaymentSpec;
use ledgerlink_flows::discover;
use ledgerlink_ports::{PageRequest, StatusFilter};
use rust_decimal_macros::dec;

use crate::helpers::{World, invoice_key};

#[tokio::test]
async fn a_customer_receipt_in_exact_becomes_one_posted_cash_receipt_in_vp() {
    // Arrange: an invoice synced to Exact and paid there in full.
    let world = World::spawn().await;
    let t = world.tenant("receipts").await;
    let posting = world.post_invoice("910001", &[dec!(400.00), dec!(600.00)]);
    let key = invoice_key("910001", &posting);
    world.tick();
    discover(&world.ctx, Flow::InvoiceOut, &t.id).await.unwrap();
    world.drain(Flow::InvoiceOut).await;
    let entry = world
        .status(&t.id, ObjectType::Invoice, &key)
        .await
        .unwrap()
        .target_id
        .unwrap();
    let paid = world
        .exact
        .register_payment(PaymentSpec {
            division: t.division,
            entry_id: entry,
            amount: None,
            date: None,
            employee: false,
        })
        .unwrap();

    // Act: two polls (a webhook and the schedule) and a drain.
    discover(&world.ctx, Flow::PaymentIn, &t.id).await.unwrap();
    discover(&world.ctx, Flow::PaymentIn, &t.id).await.unwrap();
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
    assert_eq!(
        receipt.status,
        SyncStatus::Success,
        "{:?}",
        receipt.last_message
    );
    let batch = format!("Exact{}", receipt.object.key);
    let in_vp: Vec<_> = world
        .vp
        .cash_receipts()
        .into_iter()
        .filter(|c| c.batch == batch)
        .collect();
    assert_eq!(in_vp.len(), 1, "exactly one cash receipt batch");
    assert!(in_vp[0].posted);
    assert_eq!(in_vp[0].total, paid.amount);
    assert_eq!(in_vp[0].bank_code, "EURBANK");
    let allocated: rust_decimal::Decimal = in_vp[0].lines.iter().map(|l| l.amount).sum();
    assert_eq!(
        allocated, paid.amount,
        "the receipt is allocated across the invoice lines"
    );
}

#[tokio::test]
async fn an_idle_poll_reads_the_payments_feed_once_from_the_stored_cursor() {
    // Arrange
    let world = World::spawn().await;
    let t = world.tenant("idle").await;
    discover(&world.ctx, Flow::PaymentIn, &t.id).await.unwrap();

    // Act
    let summary = discover(&world.ctx, Flow::PaymentIn, &t.id).await.unwrap();

    // Assert: one call, nothing enqueued (deletions are checked at most hourly).
    assert_eq!(summary.ledger_calls, 1);
    assert_eq!(summary.enqueued, 0);
}

#[tokio::test]
async fn a_partially_paid_expense_report_waits_until_fully_paid() {
    // Arrange: the demo's expense reports synced to Exact.
    let world = World::spawn().await;
    let t = world.tenant_since("expenses", Some(world.started)).await;
    world.tick();
    discover(&world.ctx, Flow::VoucherOut, &t.id).await.unwrap();
    world.drain(Flow::VoucherOut).await;
    let reports = world
        .ctx
        .stores
        .statuses
        .list(
            &t.id,
            &StatusFilter {
                object_type: Some(ObjectType::ExpenseReport),
                ..Default::default()
            },
            PageRequest::first(10),
        )
        .await
        .unwrap();
    let report = reports
        .items
        .iter()
        .find(|r| r.status == SyncStatus::Success)
        .unwrap();
    let entry = report.target_id.clone().unwrap();
    let key = report.object.key.to_string();
    let payments_before = world.vp.payments().len();

    // Act 1: a partial payment.
    world
        .exact
        .register_payment(PaymentSpec {
            division: t.division,
            entry_id: entry.clone(),
            amount: Some(dec!(10.00)),
            date: None,
            employee: true,
        })
        .unwrap();
    discover(&world.ctx, Flow::PaymentIn, &t.id).await.unwrap();
    world.drain(Flow::PaymentIn).await;

    // Assert 1: Pending with a message, nothing in VP.
    let status = world
        .status(&t.id, ObjectType::ExpensePayment, &key)
        .await
        .unwrap();
    assert_eq!(status.status, SyncStatus::Pending);
    assert!(
        status
            .last_message
            .as_deref()
            .unwrap_or("")
            .contains("Partially paid"),
        "{:?}",
        status.last_message
    );
    assert_eq!(world.vp.payments().len(), payments_before);

    // Act 2: the rest.
    world
        .exact
        .register_payment(PaymentSpec {
            division: t.division,
            entry_id: entry,
            amount: None,
            date: None,
            employee: true,
        })
        .unwrap();
    world.tick();
    discover(&world.ctx, Flow::PaymentIn, &t.id).await.unwrap();
    world.drain(Flow::PaymentIn).await;

    // Assert 2: one EP payment, the object succeeded.
    let status = world
        .status(&t.id, ObjectType::ExpensePayment, &key)
        .await
        .unwrap();
    assert_eq!(
        status.status,
        SyncStatus::Success,
        "{:?}",
        status.last_message
    );
    assert_eq!(world.vp.payments().len(), payments_before + 1);
}

#[tokio::test]
async fn a_document_deleted_in_exact_is_flagged_desynchronized_and_not_deleted_in_vp() {
    // Arrange: a synced invoice whose sales entry is then deleted in Exact.
    let world = World::spawn().await;
    let t = world.tenant("deleted").await;
    let posting = world.post_invoice("911001", &[dec!(120.00)]);
    let key = invoice_key("911001", &posting);
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
        .delete(t.division, "salesentry/SalesEntries", &entry)
        .unwrap();

    // Act
    discover(&world.ctx, Flow::PaymentIn, &t.id).await.unwrap();

    // Assert
    let status = world
        .status(&t.id, ObjectType::Invoice, &key)
        .await
        .unwrap();
    assert_eq!(status.status, SyncStatus::Desynchronized);
    assert!(
        status
            .last_message
            .as_deref()
            .unwrap_or("")
            .contains("Deleted in Exact Online"),
        "{:?}",
        status.last_message
    );
    assert!(
        world.vp.invoice_balance("911001").is_some(),
        "VP keeps its invoice"
    );

    // Act 2: an operator synchronizes it again.
    let obj = crate::helpers::object(&t.id, ObjectType::Invoice, &key);
    let result =
        ledgerlink_flows::operator::synchronize(&world.ctx, std::slice::from_ref(&obj), "ops")
            .await
            .unwrap();
    world.drain(Flow::InvoiceOut).await;

    // Assert 2: posted again, once.
    assert!(result[0].accepted);
    let status = world
        .status(&t.id, ObjectType::Invoice, &key)
        .await
        .unwrap();
    assert_eq!(
        status.status,
        SyncStatus::Success,
        "{:?}",
        status.last_message
    );
    assert_ne!(
        status.target_id.as_deref(),
        Some(entry.as_str()),
        "a new sales entry"
    );
    assert_eq!(world.sales_entries(t.division, &key), 1);
}

#[tokio::test]
async fn duplicate_webhooks_queue_discoveries_that_record_the_payment_once() {
    // Arrange: a synced invoice paid in Exact.
    let world = World::spawn().await;
    let t = world.tenant("webhooks").await;
    let posting = world.post_invoice("912001", &[dec!(300.00)]);
    let key = invoice_key("912001", &posting);
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

    // Act: the webhook arrives three times.
    for _ in 0..3 {
        ledgerlink_flows::request_discovery(&world.ctx, Flow::PaymentIn, &t.id)
            .await
            .unwrap();
    }
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
    assert_eq!(receipts.items[0].status, SyncStatus::Success);
    let batch = format!("Exact{}", receipts.items[0].object.key);
    assert_eq!(
        world
            .vp
            .cash_receipts()
            .iter()
            .filter(|c| c.batch == batch)
            .count(),
        1
    );
}

#[tokio::test]
async fn a_supplier_payment_in_exact_becomes_one_ap_payment_in_vp() {
    // Arrange: the demo's vouchers synced to Exact; the first numbered one paid in full in Exact.
    let world = World::spawn().await;
    let t = world.tenant_since("suppliers", Some(world.started)).await;
    world.tick();
    discover(&world.ctx, Flow::VoucherOut, &t.id).await.unwrap();
    world.drain(Flow::VoucherOut).await;
    let vouchers = world
        .ctx
        .stores
        .statuses
        .list(
            &t.id,
            &StatusFilter {
                object_type: Some(ObjectType::ApVoucher),
                status: Some(SyncStatus::Success),
                ..Default::default()
            },
            PageRequest::first(10),
        )
        .await
        .unwrap();
    let voucher = &vouchers.items[0];
    let entry = voucher.target_id.clone().unwrap();
    let before = world.vp.payments().len();
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

    // Act: discovered twice (schedule + webhook), processed.
    discover(&world.ctx, Flow::PaymentIn, &t.id).await.unwrap();
    discover(&world.ctx, Flow::PaymentIn, &t.id).await.unwrap();
    world.drain(Flow::PaymentIn).await;

    // Assert: one AP payment object, Success, one PP payment in VP.
    let payments = world
        .ctx
        .stores
        .statuses
        .list(
            &t.id,
            &StatusFilter {
                object_type: Some(ObjectType::ApPayment),
                ..Default::default()
            },
            PageRequest::first(10),
        )
        .await
        .unwrap();
    assert_eq!(payments.items.len(), 1);
    assert_eq!(
        payments.items[0].status,
        SyncStatus::Success,
        "{:?}",
        payments.items[0].last_message
    );
    assert_eq!(world.vp.payments().len(), before + 1);
}

#[tokio::test]
async fn invoices_and_receipts_at_month_ends_and_the_clock_change_keep_their_dutch_dates() {
    // Dates in Exact carry CET semantics: at 22:30 UTC on 30 June it is already 1 July in Exact.
    let world = World::spawn().await;
    let t = world.tenant("cet").await;
    // (moment, the VP invoice date = the UTC date then, the Dutch date of a payment registered then)
    let cases = [
        ("2026-06-30T22:30:00Z", "2026-06-30", "2026-07-01"),
        // The night of the autumn clock change (25 October 2026, 03:00 CEST → 02:00 CET).
        ("2026-10-24T22:30:00Z", "2026-10-24", "2026-10-25"),
        // Winter time: 23:30 UTC on 31 October is 00:30 CET on 1 November.
        ("2026-10-31T23:30:00Z", "2026-10-31", "2026-11-01"),
    ];
    for (n, (instant, invoice_day, paid_on)) in cases.into_iter().enumerate() {
        let at = chrono::DateTime::parse_from_rfc3339(instant)
            .unwrap()
            .with_timezone(&chrono::Utc);
        // Walk there in steps the connection lives through (a refresh token idles out after 30 days).
        while at - world.now() > chrono::Duration::days(20) {
            world.clock.set(world.now() + chrono::Duration::days(20));
            discover(&world.ctx, Flow::PaymentIn, &t.id).await.unwrap();
        }
        world.clock.set(at);
        let number = format!("92000{n}");
        let posting = world.post_invoice(&number, &[dec!(100.00)]);
        let key = invoice_key(&number, &posting);
        world.tick();
        // Discovery reads bounded windows: the first poll after a jump of weeks takes a few rounds.
        let mut status = None;
        for _ in 0..60 {
            discover(&world.ctx, Flow::InvoiceOut, &t.id).await.unwrap();
            world.drain(Flow::InvoiceOut).await;
            status = world.status(&t.id, ObjectType::Invoice, &key).await;
            if status.is_some() {
                break;
            }
        }
        let status = status.unwrap_or_else(|| panic!("{number} discovered"));
        assert_eq!(
            status.status,
            SyncStatus::Success,
            "{:?}",
            status.last_message
        );
        let entry = status.target_id.unwrap();

        // The invoice keeps its VP date in Exact: Dutch midnight of that day, in that day's period.
        let stored = world
            .exact
            .entity(t.division, "salesentry/SalesEntries", &entry)
            .unwrap()
            .unwrap();
        let day = chrono::NaiveDate::parse_from_str(invoice_day, "%Y-%m-%d").unwrap();
        let midnight = day
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp_millis();
        assert_eq!(
            stored["EntryDate"],
            format!("/Date({midnight})/"),
            "{instant}"
        );
        assert_eq!(
            stored["ReportingPeriod"],
            serde_json::json!(chrono::Datelike::month(&day)),
            "{instant}"
        );

        // Paid in Exact at that moment (two seconds later): the receipt is dated the Dutch day in VP.
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
        world.tick();
        discover(&world.ctx, Flow::PaymentIn, &t.id).await.unwrap();
        world.drain(Flow::PaymentIn).await;
        let rows: Vec<_> = world
            .vp
            .ledger_rows("CR")
            .into_iter()
            .filter(|r| r.get("Invoice").and_then(|v| v.as_str()) == Some(number.as_str()))
            .collect();
        assert!(!rows.is_empty(), "the receipt of {number} is posted in VP");
        for r in &rows {
            let date = r
                .get("TransDate")
                .and_then(|v| v.as_str())
                .unwrap_or_default();
            assert!(
                date.starts_with(paid_on),
                "{instant}: receipt dated {date}, expected {paid_on}"
            );
        }
    }
}
