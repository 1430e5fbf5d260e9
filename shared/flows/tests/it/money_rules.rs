//! Issue 11, seed 001's money rules on the production path: the flows with their lookups loaded by the one
//! loader, the VP and Exact adapters and both emulators. Expected values are worked out by hand.

use ledgerlink_domain::{Flow, ObjectType, SyncStatus};
use ledgerlink_emulators::exact::PaymentSpec;
use ledgerlink_flows::discover;
use ledgerlink_ports::{LookupTable, PageRequest, StatusFilter};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::{Value, json};

use crate::helpers::{TenantFixture, World, invoice_key};

async fn set_setting(world: &World, t: &TenantFixture, key: &str, value: Option<Value>) {
    let mut tenant = world.ctx.tenant(&t.id).await.unwrap();
    let version = tenant.version;
    match value {
        Some(v) => tenant.settings.insert(key.to_owned(), v),
        None => tenant.settings.remove(key),
    };
    world
        .ctx
        .stores
        .tenants
        .put(&tenant, Some(version))
        .await
        .unwrap();
}

/// The lines of an Exact entry, as the emulator holds them.
fn lines_of(world: &World, t: &TenantFixture, set: &str, entry: &str) -> Vec<Value> {
    world
        .exact
        .entities(t.division, set)
        .unwrap()
        .into_iter()
        .filter(|l| l.get("EntryID").and_then(Value::as_str) == Some(entry))
        .map(Value::Object)
        .collect()
}

fn dec_of(v: &Value) -> Decimal {
    match v {
        Value::String(s) => s.parse().unwrap(),
        Value::Number(n) => n.to_string().parse().unwrap(),
        other => panic!("not a number: {other}"),
    }
}

async fn target(world: &World, t: &TenantFixture, object_type: ObjectType, key: &str) -> String {
    let status = world.status(&t.id, object_type, key).await.unwrap();
    assert_eq!(
        status.status,
        SyncStatus::Success,
        "{key}: {:?}",
        status.last_message
    );
    status.target_id.unwrap()
}

/// Row "(Uses Exclusive if tax code is present no Tax if not)" and the Tax Codes considerations, end to end:
/// set-up proposes the no-VAT code (Exact's one VAT code of type N, "6"); the billing-group invoice's
/// untaxed line is booked with it and zero VAT; the combined 21 % + 9 % line gets the Exact code at 30 %
/// ("5", proposed in the combined-tax-codes table) and 30 % VAT; the compound GST/PST invoice is refused
/// saying compound taxes are not supported.
#[tokio::test]
async fn issue_11_tax_rules_hold_on_the_production_path() {
    let world = World::spawn().await;
    let t = world.tenant_since("taxes", Some(world.started)).await;
    // Arrange: a tenant whose no-VAT code is not set yet; a document with an untaxed line waits for it.
    set_setting(&world, &t, "no_vat_code", None).await;
    world.tick();
    discover(&world.ctx, Flow::InvoiceOut, &t.id).await.unwrap();
    world.drain(Flow::InvoiceOut).await;
    let untaxed = invoice_key(&world.demo.invoice_numbers[5], &world.demo.invoices[5]);
    let refused = world
        .status(&t.id, ObjectType::Invoice, &untaxed)
        .await
        .unwrap();
    assert_eq!(refused.status, SyncStatus::Error);
    assert!(
        refused
            .last_message
            .as_deref()
            .unwrap_or("")
            .contains("no_vat_code"),
        "{:?}",
        refused.last_message
    );

    // Act: set-up (firm-sync) proposes the no-VAT code; the refused invoice is force-synchronised.
    discover(&world.ctx, Flow::FirmSync, &t.id).await.unwrap();
    let tenant = world.ctx.tenant(&t.id).await.unwrap();
    assert_eq!(tenant.settings.get("no_vat_code"), Some(&json!("6")));
    let setup = world
        .status(&t.id, ObjectType::TaxCode, "no-vat-code")
        .await
        .unwrap();
    assert_eq!(
        setup.status,
        SyncStatus::Success,
        "{:?}",
        setup.last_message
    );
    // Set-up also pulled Exact's VAT codes (with "5", its combined 21 % + 9 %): the combined invoice, refused
    // before for want of a combined-tax-codes row, goes now too.
    let combined = invoice_key(&world.demo.invoice_numbers[2], &world.demo.invoices[2]);
    let messages: Vec<_> = [&untaxed, &combined]
        .iter()
        .map(|key| {
            world.ctx.message(
                &t.id,
                ObjectType::Invoice,
                &crate::helpers::object(&t.id, ObjectType::Invoice, key).key,
                ledgerlink_ports::WorkAction::ForceSync,
            )
        })
        .collect();
    world.ctx.send(Flow::InvoiceOut, &messages).await.unwrap();
    world.drain(Flow::InvoiceOut).await;

    // Assert: the untaxed line carries "6" and no VAT.
    let entry = target(&world, &t, ObjectType::Invoice, &untaxed).await;
    let lines = lines_of(&world, &t, "salesentry/SalesEntryLines", &entry);
    let untaxed_line = lines
        .iter()
        // Section R (reimbursables) is the untaxed line; the section leads the line description.
        .find(|l| l["Description"].as_str().unwrap_or("").starts_with('R'))
        .unwrap();
    assert_eq!(untaxed_line["VATCode"].as_str().map(str::trim), Some("6"));
    assert_eq!(dec_of(&untaxed_line["VATAmountFC"]), Decimal::ZERO);
    assert!(lines.iter().all(|l| !l["VATCode"].is_null()));

    // The combined line: Exact code "5" at 21 + 9 = 30 %, proposed in the combined-tax-codes table.
    let entry = target(&world, &t, ObjectType::Invoice, &combined).await;
    let lines = lines_of(&world, &t, "salesentry/SalesEntryLines", &entry);
    let line = lines
        .iter()
        // Section F (fees) carries the combined 21 % + 9 %.
        .find(|l| l["Description"].as_str().unwrap_or("").starts_with('F'))
        .unwrap();
    assert_eq!(line["VATCode"].as_str().map(str::trim), Some("5"));
    let net = dec_of(&line["AmountFC"]);
    assert_eq!(dec_of(&line["VATAmountFC"]), (net * dec!(0.30)).round_dp(2));
    let row = world
        .ctx
        .stores
        .lookups
        .get(&t.id, LookupTable::CombinedTaxCodes, "V21+V9")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.columns.get("exact_code").map(String::as_str), Some("5"));

    // The compound invoice: refused with the reason.
    let compound = invoice_key(&world.demo.invoice_numbers[3], &world.demo.invoices[3]);
    let status = world
        .status(&t.id, ObjectType::Invoice, &compound)
        .await
        .unwrap();
    assert_eq!(status.status, SyncStatus::Error);
    let text = status.last_message.unwrap_or_default();
    assert!(
        text.contains("compound taxes are not supported") && text.contains("\"PST\""),
        "{text}"
    );
}

/// Cash Receipts "recorded … using the billing currency of the invoice"; Multicurrency "AP Vouchers
/// (Payment Currency)" and payments back "based on the bank code currency"; Bank Codes "Bank names must
/// match in both systems". The invoice entered in EUR and billed in USD goes to Exact in USD and its
/// receipt, paid through Exact's "ING USD" bank, is recorded in USD on VP's bank of that name (the
/// bank-codes row proposed); the voucher paid in USD goes out in USD and its payment comes back in USD.
#[tokio::test]
async fn issue_11_currencies_and_banks_hold_on_the_production_path() {
    let world = World::spawn().await;
    let t = world.tenant_since("currencies", Some(world.started)).await;
    set_setting(&world, &t, "multicurrency", Some(json!(true))).await;
    world
        .exact
        .create_bank_journal(t.division, "21", "ING USD", "USD")
        .unwrap();
    world
        .exact
        .create_bank_journal(t.division, "22", "Rabobank EUR", "EUR")
        .unwrap();
    world.tick();
    discover(&world.ctx, Flow::InvoiceOut, &t.id).await.unwrap();
    discover(&world.ctx, Flow::VoucherOut, &t.id).await.unwrap();
    world.drain(Flow::InvoiceOut).await;
    world.drain(Flow::VoucherOut).await;

    // The USD-billed invoice is a USD sales entry.
    let usd_invoice = invoice_key(&world.demo.invoice_numbers[1], &world.demo.invoices[1]);
    let entry = target(&world, &t, ObjectType::Invoice, &usd_invoice).await;
    let row = world
        .exact
        .entity(t.division, "salesentry/SalesEntries", &entry)
        .unwrap()
        .unwrap();
    assert_eq!(row["Currency"].as_str(), Some("USD"));
    // The voucher paid in USD is a USD purchase entry.
    let (vendor, number) = &world.demo.voucher_numbers[1];
    let voucher_key = format!("{vendor}.{number}");
    let purchase = target(&world, &t, ObjectType::ApVoucher, &voucher_key).await;
    let row = world
        .exact
        .entity(t.division, "purchaseentry/PurchaseEntries", &purchase)
        .unwrap()
        .unwrap();
    assert_eq!(row["Currency"].as_str(), Some("USD"));

    // Act: both paid in Exact through the USD bank; the first voucher through a bank VP does not have.
    for (entry, journal) in [(&entry, "21"), (&purchase, "21")] {
        let spec = PaymentSpec {
            division: t.division,
            entry_id: entry.clone(),
            amount: None,
            date: None,
            employee: false,
        };
        world
            .exact
            .register_payment_through(spec, Some(journal))
            .unwrap();
    }
    let (vendor0, number0) = &world.demo.voucher_numbers[0];
    let first = target(
        &world,
        &t,
        ObjectType::ApVoucher,
        &format!("{vendor0}.{number0}"),
    )
    .await;
    let spec = PaymentSpec {
        division: t.division,
        entry_id: first,
        amount: None,
        date: None,
        employee: false,
    };
    world
        .exact
        .register_payment_through(spec, Some("22"))
        .unwrap();
    discover(&world.ctx, Flow::PaymentIn, &t.id).await.unwrap();
    world.drain(Flow::PaymentIn).await;

    // Assert: the receipt in USD on VP's USD bank; the bank matched by name and proposed in the table.
    let receipts: Vec<_> = world
        .vp
        .cash_receipts()
        .into_iter()
        .filter(|c| {
            c.lines
                .iter()
                .any(|l| l.invoice == world.demo.invoice_numbers[1])
        })
        .collect();
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0].currency, "USD");
    assert_eq!(receipts[0].bank_code, "USDBANK");
    assert!(receipts[0].posted);
    let bank = world
        .ctx
        .stores
        .lookups
        .get(&t.id, LookupTable::BankCodes, "21")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        bank.columns.get("vp_bank_code").map(String::as_str),
        Some("USDBANK")
    );
    assert_eq!(
        bank.columns.get("currency").map(String::as_str),
        Some("USD")
    );
    // The USD voucher's payment is an AP payment in VP; the one through "Rabobank EUR" is refused.
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
        .unwrap()
        .items;
    let paid = payments
        .iter()
        .find(|p| {
            p.last_message
                .as_deref()
                .unwrap_or("")
                .contains(&voucher_key)
        })
        .unwrap();
    assert_eq!(paid.status, SyncStatus::Success, "{:?}", paid.last_message);
    let refused = payments
        .iter()
        .find(|p| p.status == SyncStatus::Error)
        .unwrap();
    let text = refused.last_message.clone().unwrap_or_default();
    assert!(
        text.contains("no Vantagepoint bank is named \"Rabobank EUR\"")
            && text.contains("bank names must match"),
        "{text}"
    );
}

/// Invoice Payment "Weighted payment", against what is still open in VP: an invoice of 333.33 and 666.67
/// net (+21 % = 403.33 and 806.67, 1,210.00) paid 500.00 then 710.00. First: 500 × 403.33 / 1,210 =
/// 166.665… and 333.334… → 166.67 + 333.33 (the cent to the larger remainder). VP then shows 710.00 open,
/// spread by the lines' amounts as 236.66 + 473.34, which the second payment pays exactly. Each line ends
/// paid its full 403.33 and 806.67 (allocating the second payment over the original shares instead would
/// give 236.67 + 473.33 and leave a line a cent off).
#[tokio::test]
async fn issue_11_a_second_partial_payment_is_allocated_against_the_open_balance() {
    let world = World::spawn().await;
    let t = world.tenant("partial").await;
    let posting = world.post_invoice("920001", &[dec!(333.33), dec!(666.67)]);
    let key = invoice_key("920001", &posting);
    world.tick();
    discover(&world.ctx, Flow::InvoiceOut, &t.id).await.unwrap();
    world.drain(Flow::InvoiceOut).await;
    let entry = target(&world, &t, ObjectType::Invoice, &key).await;

    let mut per_receipt = Vec::new();
    for amount in [Some(dec!(500.00)), None] {
        world
            .exact
            .register_payment(PaymentSpec {
                division: t.division,
                entry_id: entry.clone(),
                amount,
                date: None,
                employee: false,
            })
            .unwrap();
        discover(&world.ctx, Flow::PaymentIn, &t.id).await.unwrap();
        world.drain(Flow::PaymentIn).await;
        let receipts: Vec<_> = world
            .vp
            .cash_receipts()
            .into_iter()
            .filter(|c| c.lines.iter().any(|l| l.invoice == "920001"))
            .collect();
        per_receipt = receipts;
    }
    assert_eq!(per_receipt.len(), 2);
    let amounts: Vec<Vec<Decimal>> = per_receipt
        .iter()
        .map(|c| c.lines.iter().map(|l| l.amount).collect())
        .collect();
    assert!(
        amounts.contains(&vec![dec!(166.67), dec!(333.33)]),
        "{amounts:?}"
    );
    assert!(
        amounts.contains(&vec![dec!(236.66), dec!(473.34)]),
        "{amounts:?}"
    );
    assert_eq!(world.vp.invoice_balance("920001"), Some(dec!(0.00)));
}

/// Journal Entries consideration: revenue generation and unit postings (no tax codes involved) go out as
/// general journal entries, as manual journals do.
#[tokio::test]
async fn issue_11_revenue_generation_and_unit_postings_go_out_as_journals() {
    let world = World::spawn().await;
    let t = world.tenant_since("journals", Some(world.started)).await;
    world.tick();
    discover(&world.ctx, Flow::VoucherOut, &t.id).await.unwrap();
    world.drain(Flow::VoucherOut).await;
    let rg = &world.demo.revenue_generation[0];
    let entry = target(
        &world,
        &t,
        ObjectType::JournalEntry,
        &format!("RG.{}.{}", rg.period, rg.post_seq),
    )
    .await;
    let lines = lines_of(
        &world,
        &t,
        "generaljournalentry/GeneralJournalEntryLines",
        &entry,
    );
    // Two projects, each a revenue credit and an unbilled-services debit: four lines summing to zero.
    assert_eq!(lines.len(), 4);
    assert_eq!(
        lines
            .iter()
            .map(|l| dec_of(&l["AmountFC"]))
            .sum::<Decimal>(),
        Decimal::ZERO
    );
    let un = &world.demo.unit_postings[0];
    target(
        &world,
        &t,
        ObjectType::JournalEntry,
        &format!("UN-0001.{}.{}", un.period, un.post_seq),
    )
    .await;
}
