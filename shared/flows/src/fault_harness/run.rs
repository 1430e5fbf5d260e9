//! One randomised fault run, its workers, and the invariants checked after it.

use std::collections::BTreeMap;
use std::time::Duration;

use ledgerlink_domain::{Flow, ObjectType, SyncStatus, TenantId};
use ledgerlink_emulators::FaultRule;
use ledgerlink_emulators::exact::PaymentSpec;
use ledgerlink_ports::{IdempotencyBegin, ObjectRef, PageRequest, StatusFilter, WorkAction};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;

use super::world::{FaultWorld, Prelink, TenantFixture, invoice_key, object};
use super::{RunOutcome, Violations};
use crate::{MessageOutcome, discover, process_message};

const VISIBILITY: Duration = Duration::from_secs(60);
const RETRY: Duration = Duration::from_secs(20);
/// Longer than any delayed commit: after it, every write a client sent has landed.
const LATE: Duration = Duration::from_secs(60);
/// A worker process's chance to die per crash point passed is the run's kill chance (per message for the
/// in-process workers) divided by this.
const CRASH_DIVISOR: u32 = 1;

/// What a run's options change (the stronger faults are opt-in so a seed replays the same run).
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Silences every fault (a baseline: the invariants must hold without faults too).
    pub quiet: bool,
    /// A check of the checks: once the invoices are synced, their first sales entry is deleted from Exact
    /// behind the integration's back, and the run ends after the invoice invariants (which must count it
    /// lost).
    pub delete_first_entry: bool,
}

async fn discover_until_ok(
    world: &FaultWorld,
    flow: Flow,
    t: &TenantFixture,
    rng: &mut StdRng,
    kill: u32,
) -> Result<(), String> {
    if let Some(processes) = &world.processes {
        // In a worker process that may be killed (after a cursor save); a new one discovers again.
        for attempt in 0..50 {
            let crash = if attempt < 5 { kill / CRASH_DIVISOR } else { 0 };
            match processes
                .discover(world, flow, &t.id, rng.random(), crash)
                .await?
            {
                Ok(()) => return Ok(()),
                Err(_) if world.reconnect_exact_if_paused(&t.id).await? => {}
                Err((true, _)) => world.advance(Duration::from_secs(5)).await,
                Err((false, e)) => return Err(format!("discovery failed permanently: {e}")),
            }
        }
        return Err("discovery kept failing".into());
    }
    for _ in 0..50 {
        match discover(&world.ctx, flow, &t.id).await {
            // Skipped because a killed worker's lost refresh paused the tenant (the objects of the last
            // settle were final already): nothing was read, so the user reconnects and discovery runs again.
            Ok(summary) if summary.skipped_paused => {
                if !world.reconnect_exact_if_paused(&t.id).await? {
                    return Err("discovery skipped: the tenant is paused for another reason".into());
                }
            }
            Ok(_) => return Ok(()),
            // A refresh whose answer was lost paused the tenant: the user reconnects.
            Err(_) if world.reconnect_exact_if_paused(&t.id).await? => {}
            Err(e) if e.is_retryable() => world.advance(Duration::from_secs(5)).await,
            Err(e) => return Err(format!("discovery failed permanently: {e}")),
        }
    }
    Err("discovery kept failing".into())
}

/// A worker: receives, processes, acks; sometimes "killed" (its processing future dropped mid-flight, the
/// message abandoned so it becomes visible again), sometimes re-sends what it received (a duplicate
/// delivery).
async fn worker(
    world: &FaultWorld,
    flow: Flow,
    seed: u64,
    kill_per_mille: u32,
    dup_per_mille: u32,
) -> Result<(), String> {
    let mut rng = StdRng::seed_from_u64(seed);
    for _ in 0..400 {
        let max = rng.random_range(1..=10);
        let got = world
            .ctx
            .queue
            .receive(flow, max, VISIBILITY)
            .await
            .map_err(|e| e.to_string())?;
        if got.is_empty() {
            return Ok(());
        }
        for m in got {
            if rng.random_range(0..1000) < dup_per_mille {
                world
                    .ctx
                    .send(flow, std::slice::from_ref(&m.message))
                    .await
                    .map_err(|e| e.to_string())?;
            }
            if rng.random_range(0..1000) < kill_per_mille {
                let budget = Duration::from_micros(rng.random_range(0..4000));
                let _ = tokio::time::timeout(budget, process_message(&world.ctx, flow, &m.message))
                    .await;
                continue;
            }
            let settled = match process_message(&world.ctx, flow, &m.message).await {
                Ok(MessageOutcome::Handled) => world.ctx.queue.ack(flow, &m.receipt).await,
                Err(e) if !e.is_retryable() => {
                    return Err(format!("permanent failure of {:?}: {e}", m.message));
                }
                Ok(MessageOutcome::RetryAt(until, _)) => {
                    crate::runner::delay_until(&world.ctx, flow, &m.message, until)
                        .await
                        .map_err(|e| e.to_string())?;
                    world.ctx.queue.ack(flow, &m.receipt).await
                }
                Ok(MessageOutcome::RetryLater(_)) | Err(_) => {
                    world.ctx.queue.retry_later(flow, &m.receipt, RETRY).await
                }
            };
            match settled {
                // Redelivered to another worker meanwhile (stale receipt): harmless.
                Ok(()) | Err(ledgerlink_ports::StoreError::NotFound { .. }) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    }
    Ok(())
}

/// One worker, or two racing on the same queue.
async fn workers(
    world: &FaultWorld,
    flow: Flow,
    rng: &mut StdRng,
    kill: u32,
    dup: u32,
) -> Result<(), String> {
    if let Some(processes) = &world.processes {
        return processes
            .round(world, flow, rng, kill / CRASH_DIVISOR, dup)
            .await;
    }
    let (a, b) = (rng.random(), rng.random());
    if rng.random_bool(0.5) {
        let (ra, rb) = futures::join!(
            worker(world, flow, a, kill, dup),
            worker(world, flow, b, kill, dup)
        );
        ra.and(rb)
    } else {
        worker(world, flow, a, kill, dup).await
    }
}

fn fault_key(system: &str, kind: &str) -> &'static str {
    match (system, kind) {
        ("exact", "5xx") => "exact_5xx",
        ("exact", "429") => "exact_429",
        ("exact", "reset") => "exact_reset",
        ("exact", "commit-then-drop") => "exact_commit_then_drop",
        ("exact", "5xx-after-commit") => "exact_5xx_after_commit",
        ("exact", "delayed-commit") => "exact_delayed_commit",
        ("vp", "delayed-commit") => "vp_delayed_commit",
        ("vp", "5xx-after-commit") => "vp_5xx_after_commit",
        ("vp", "5xx") => "vp_5xx",
        ("vp", "reset") => "vp_reset",
        ("vp", "commit-then-drop") => "vp_commit_then_drop",
        _ => "other_faults",
    }
}

fn is_final(status: Option<SyncStatus>) -> bool {
    matches!(status, Some(SyncStatus::Success | SyncStatus::Error))
}

/// Runs workers until every object is final: invisible messages (abandoned by killed workers) and
/// idempotency leases of killed writes expire as the clock moves on. Gives up after 50 rounds (the
/// invariant checks then count what is left).
async fn settle(
    world: &FaultWorld,
    flow: Flow,
    objects: &[ObjectRef],
    rng: &mut StdRng,
    kill: u32,
    dup: u32,
) -> Result<(), String> {
    for round in 0..=50 {
        workers(
            world,
            flow,
            rng,
            if round < 2 { kill } else { 0 },
            if round < 2 { dup } else { 0 },
        )
        .await?;
        let mut open = false;
        for o in objects {
            let s = world
                .ctx
                .stores
                .statuses
                .get(o)
                .await
                .map_err(|e| e.to_string())?;
            open |= !is_final(s.as_ref().map(|s| s.status));
        }
        if !open {
            return Ok(());
        }
        if round == 40 {
            world.exact.faults().clear();
            world.vp.faults().clear();
        }
        // A worker killed mid-refresh loses the rotated refresh token (Exact refuses the old one for good):
        // the tenant is paused until a user reconnects; the user does, and nothing may be lost or doubled.
        let mut tenants: Vec<_> = objects.iter().map(|o| o.tenant.clone()).collect();
        tenants.dedup();
        for tenant in &tenants {
            world.reconnect_exact_if_paused(tenant).await?;
        }
        world.advance(VISIBILITY + Duration::from_secs(301)).await;
        // The scheduled sweep: dead letters redriven, stalled objects sent again.
        crate::sweeper::sweep(&world.ctx, flow)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// An object's status for the invariants: `Ok(())` when it is `want`, else the violation it counts as.
async fn check_status(
    world: &FaultWorld,
    o: &ObjectRef,
    want: SyncStatus,
    v: &mut Violations,
) -> Result<Option<ledgerlink_ports::ObjectStatus>, String> {
    let s = world
        .ctx
        .stores
        .statuses
        .get(o)
        .await
        .map_err(|e| e.to_string())?;
    match s.as_ref().map(|s| s.status) {
        Some(status) if status == want => {}
        Some(SyncStatus::Pending) => v.pending(format!(
            "{} {}: Pending ({:?})",
            o.object_type,
            o.key,
            s.as_ref().and_then(|s| s.last_message.clone())
        )),
        other => v.stranded(format!(
            "{} {}: {other:?} instead of {want:?} ({:?})",
            o.object_type,
            o.key,
            s.as_ref().and_then(|s| s.last_message.clone())
        )),
    }
    Ok(s)
}

/// Net amount (without VAT) of an Exact entry row.
fn net_amount(row: &serde_json::Map<String, serde_json::Value>) -> Option<Decimal> {
    let dec = |field: &str| -> Option<Decimal> {
        match row.get(field)? {
            serde_json::Value::Number(n) => n.to_string().parse().ok(),
            serde_json::Value::String(s) => s.parse().ok(),
            _ => None,
        }
    };
    Some(dec("AmountDC")? - dec("VATAmountDC").unwrap_or_default())
}

/// Checks the ledger documents of one kind in the whole division: exactly one per expected reference, with
/// the expected net amount, no other documents, and the link of each Success object pointing at its entry.
async fn check_documents(
    world: &FaultWorld,
    tenant: &TenantId,
    division: i32,
    set: &str,
    object_type: ObjectType,
    expected: &[(String, String, Decimal)],
    v: &mut Violations,
) -> Result<(), String> {
    let rows = world
        .exact
        .entities(division, set)
        .map_err(|e| e.to_string())?;
    let your_ref = |r: &serde_json::Map<String, serde_json::Value>| {
        r.get("YourRef")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_owned()
    };
    let entry_id = |r: &serde_json::Map<String, serde_json::Value>| {
        r.get("EntryID")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_owned()
    };
    let mut per_ref_excess = 0_u64;
    for (key, reference, amount) in expected {
        let found: Vec<_> = rows.iter().filter(|r| your_ref(r) == *reference).collect();
        match found.len() {
            0 => v.lost(format!(
                "{object_type} {key}: no document {reference} in Exact"
            )),
            1 => {
                if net_amount(found[0]) != Some(*amount) {
                    v.lost(format!(
                        "{object_type} {key}: {reference} in Exact has net {:?}, VP has {amount}",
                        net_amount(found[0])
                    ));
                }
            }
            n => {
                per_ref_excess += n as u64 - 1;
                v.messages.push(format!(
                    "{object_type} {key}: {n} documents {reference} in Exact"
                ));
            }
        }
        let link = world
            .ctx
            .stores
            .links
            .exact_id(tenant, object_type, key)
            .await
            .map_err(|e| e.to_string())?;
        if let Some(id) = link
            && !rows.iter().any(|r| entry_id(r) == id)
        {
            v.lost(format!(
                "{object_type} {key}: its link points at {id}, which is not in Exact"
            ));
        }
    }
    let total = rows.len() as u64;
    let want = expected.len() as u64;
    v.duplicates += per_ref_excess.max(total.saturating_sub(want));
    Ok(())
}

/// One run on a fresh tenant of `world`: data, faults, discovery, racing and dying workers, duplicate
/// deliveries, then the invariants over the tenant's whole division. `Err` only when the harness itself
/// could not go on (the caller counts such a run as stranded).
pub async fn one_run(
    world: &FaultWorld,
    run: u64,
    seed: u64,
    options: &RunOptions,
) -> Result<RunOutcome, String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut v = Violations::default();
    let exact_before = world.exact.faults().injected();
    let vp_before = world.vp.faults().injected();
    let reconnects_before = world.reconnects();
    let token_before = world
        .exact
        .counters()
        .count_matching("POST /api/oauth2/token");
    world.claims.take();
    let t = world
        .tenant(&format!("f{run}"), Prelink::FirstClient)
        .await?;
    let div = t.division;

    // Data: 1-2 invoices, sometimes a negative one, sometimes a voucher.
    let count = rng.random_range(1..=2);
    let mut good: Vec<(String, Decimal)> = Vec::new();
    for k in 0..count {
        let number = format!("F{run:05}{k}");
        let amounts: Vec<Decimal> = (0..rng.random_range(1..=3))
            .map(|_| Decimal::new(rng.random_range(1_000..500_000), 2))
            .collect();
        let posting = world.post_invoice(&number, &amounts)?;
        good.push((invoice_key(&number, &posting), amounts.iter().sum()));
    }
    let negative = if rng.random_bool(0.2) {
        let number = format!("F{run:05}N");
        let posting =
            world.post_invoice(&number, &[Decimal::new(-rng.random_range(100..10_000), 2)])?;
        Some(invoice_key(&number, &posting))
    } else {
        None
    };
    let voucher = if rng.random_bool(0.3) {
        let number = format!("FV{run}");
        let amount = Decimal::new(rng.random_range(1_000..200_000), 2);
        world.post_voucher(&number, amount)?;
        Some((number, amount))
    } else {
        None
    };
    world.tick();

    // Faults.
    let exact_rule = FaultRule {
        method: None,
        path_prefix: format!("/api/v1/{div}/"),
        latency_ms: 0,
        error_5xx_per_mille: rng.random_range(0..250),
        storm_429_remaining: rng.random_range(0..=2),
        reset_before_per_mille: rng.random_range(0..100),
        commit_then_drop_per_mille: rng.random_range(0..300),
        error_after_commit_per_mille: rng.random_range(0..150),
        after_commit_statuses: Vec::new(),
        // A commit slower than the clients' settle time (1 s here; their look-ups go on for 15 s).
        delayed_commit_per_mille: rng.random_range(0..100),
        commit_delay_secs: rng.random_range(2..=10),
    };
    // The token endpoint: 5xx and 429 before the handler, and a refresh committed (the refresh token
    // rotated) whose answer is dropped.
    let token_rule = FaultRule {
        method: Some("POST".into()),
        path_prefix: "/api/oauth2/token".into(),
        error_5xx_per_mille: rng.random_range(0..150),
        storm_429_remaining: rng.random_range(0..=1),
        commit_then_drop_per_mille: rng.random_range(0..100),
        ..FaultRule::default()
    };
    let vp_rule = FaultRule {
        method: None,
        path_prefix: "/vantagepoint/api/".into(),
        latency_ms: 0,
        error_5xx_per_mille: rng.random_range(0..80),
        storm_429_remaining: 0,
        reset_before_per_mille: rng.random_range(0..30),
        commit_then_drop_per_mille: rng.random_range(0..100),
        error_after_commit_per_mille: rng.random_range(0..80),
        after_commit_statuses: Vec::new(),
        delayed_commit_per_mille: rng.random_range(0..60),
        commit_delay_secs: rng.random_range(2..=10),
    };
    let quiet = options.quiet;
    if !quiet {
        world
            .exact
            .faults()
            .set_rules(vec![exact_rule, token_rule.clone()]);
        world.vp.faults().set_rules(vec![vp_rule]);
    }
    // Half the runs start with an expired access token: the first call refreshes it under the token faults.
    if rng.random_bool(0.5) {
        world.expire_exact_access(&t.id).await?;
    }
    let kill = if quiet { 0 } else { rng.random_range(0..150) };
    let dup = if quiet { 0 } else { rng.random_range(0..200) };

    // INVOICE-OUT: one or two discoveries (a duplicate schedule), duplicate deliveries, workers.
    for _ in 0..rng.random_range(1..=2) {
        discover_until_ok(world, Flow::InvoiceOut, &t, &mut rng, kill).await?;
    }
    let mut invoices: Vec<ObjectRef> = good
        .iter()
        .map(|(k, _)| object(&t.id, ObjectType::Invoice, k))
        .collect::<Result<_, _>>()?;
    if let Some(n) = &negative {
        invoices.push(object(&t.id, ObjectType::Invoice, n)?);
    }
    for o in &invoices {
        if rng.random_bool(0.3) {
            let m = world
                .ctx
                .message(&t.id, o.object_type, &o.key, WorkAction::Sync);
            world
                .ctx
                .send(Flow::InvoiceOut, &[m.clone(), m])
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    settle(world, Flow::InvoiceOut, &invoices, &mut rng, kill, dup).await?;
    // Writes still in flight land before the ledger is counted (a late second create shows up).
    world.advance(LATE).await;

    if options.delete_first_entry
        && let Some(entry) = good.first().and_then(|(k, _)| entries_of(world, &t, k))
    {
        world
            .exact
            .delete(div, "salesentry/SalesEntries", &entry)
            .map_err(|e| e.to_string())?;
    }
    // Invoices: Success each, the negative one refused (Error) and never in Exact.
    let mut entries: BTreeMap<String, String> = BTreeMap::new();
    for (k, _) in &good {
        let o = object(&t.id, ObjectType::Invoice, k)?;
        if let Some(s) = check_status(world, &o, SyncStatus::Success, &mut v).await?
            && let Some(id) = s.target_id
        {
            entries.insert(k.clone(), id);
        }
    }
    if let Some(n) = &negative {
        let o = object(&t.id, ObjectType::Invoice, n)?;
        check_status(world, &o, SyncStatus::Error, &mut v).await?;
    }
    let expected: Vec<(String, String, Decimal)> = good
        .iter()
        .map(|(k, amount)| (k.clone(), k.clone(), *amount))
        .collect();
    check_documents(
        world,
        &t.id,
        div,
        "salesentry/SalesEntries",
        ObjectType::Invoice,
        &expected,
        &mut v,
    )
    .await?;
    *counts.entry("invoices").or_default() += good.len() as u64;
    if options.delete_first_entry {
        return Ok(RunOutcome {
            counts,
            violations: v,
        });
    }

    // VOUCHER-OUT (some runs), still under the same faults.
    let mut voucher_entry = None;
    let mut expected_vouchers = Vec::new();
    if let Some((number, amount)) = &voucher {
        discover_until_ok(world, Flow::VoucherOut, &t, &mut rng, kill).await?;
        let vendor = world.demo.vendors.first().cloned().unwrap_or_default();
        let key = format!("{vendor}.{number}");
        let o = object(&t.id, ObjectType::ApVoucher, &key)?;
        settle(
            world,
            Flow::VoucherOut,
            std::slice::from_ref(&o),
            &mut rng,
            kill,
            dup,
        )
        .await?;
        world.advance(LATE).await;
        voucher_entry = check_status(world, &o, SyncStatus::Success, &mut v)
            .await?
            .and_then(|s| s.target_id);
        expected_vouchers.push((
            key,
            ledgerlink_mapping::purchases::voucher_reference(&vendor, number),
            *amount,
        ));
        *counts.entry("vouchers").or_default() += 1;
    }
    check_documents(
        world,
        &t.id,
        div,
        "purchaseentry/PurchaseEntries",
        ObjectType::ApVoucher,
        &expected_vouchers,
        &mut v,
    )
    .await?;

    // PAYMENT-IN: pay some invoices (full or partial) in Exact, poll 1-3 times (webhooks + schedule).
    world.exact.faults().clear();
    if !quiet {
        world.exact.faults().set_rules(vec![token_rule.clone()]);
    }
    let mut paid: Vec<(String, Decimal)> = Vec::new();
    for (k, _) in &good {
        if !rng.random_bool(0.6) {
            continue;
        }
        let Some(entry) = entries.get(k) else {
            continue;
        };
        let amount = if rng.random_bool(0.3) {
            Some(Decimal::new(rng.random_range(100..1_000), 2))
        } else {
            None
        };
        let recorded = world
            .exact
            .register_payment(PaymentSpec {
                division: div,
                entry_id: entry.clone(),
                amount,
                date: None,
                employee: false,
            })
            .map_err(|e| e.to_string())?;
        paid.push((k.clone(), recorded.amount));
    }
    let mut supplier_paid = None;
    if let Some(entry) = voucher_entry {
        let recorded = world
            .exact
            .register_payment(PaymentSpec {
                division: div,
                entry_id: entry,
                amount: None,
                date: None,
                employee: false,
            })
            .map_err(|e| e.to_string())?;
        supplier_paid = Some(recorded.amount);
    }
    if !quiet {
        world.exact.faults().set_rules(vec![
            FaultRule {
                method: None,
                path_prefix: format!("/api/v1/{div}/"),
                latency_ms: 0,
                error_5xx_per_mille: rng.random_range(0..200),
                storm_429_remaining: 0,
                reset_before_per_mille: rng.random_range(0..60),
                commit_then_drop_per_mille: 0,
                error_after_commit_per_mille: 0,
                after_commit_statuses: Vec::new(),
                ..FaultRule::default()
            },
            token_rule,
        ]);
    }
    world.tick();
    for _ in 0..rng.random_range(1..=3) {
        discover_until_ok(world, Flow::PaymentIn, &t, &mut rng, kill).await?;
    }
    let list = |object_type: ObjectType| {
        let statuses = world.ctx.stores.statuses.clone();
        let tenant = t.id.clone();
        async move {
            statuses
                .list(
                    &tenant,
                    &StatusFilter {
                        object_type: Some(object_type),
                        ..Default::default()
                    },
                    PageRequest::first(50),
                )
                .await
                .map(|p| p.items)
                .map_err(|e| e.to_string())
        }
    };
    let receipts = list(ObjectType::CashReceipt).await?;
    if receipts.len() < paid.len() {
        v.lost(format!(
            "{} payments registered, {} discovered",
            paid.len(),
            receipts.len()
        ));
    } else if receipts.len() > paid.len() {
        v.duplicates += (receipts.len() - paid.len()) as u64;
        v.messages.push(format!(
            "{} payments registered, {} discovered",
            paid.len(),
            receipts.len()
        ));
    }
    let receipt_objects: Vec<ObjectRef> = receipts.iter().map(|s| s.object.clone()).collect();
    let supplier_payments = list(ObjectType::ApPayment).await?;
    let want_supplier = usize::from(supplier_paid.is_some());
    if supplier_payments.len() != want_supplier {
        let message = format!(
            "supplier payment discovered {} times, paid {want_supplier} times",
            supplier_payments.len()
        );
        if supplier_payments.len() < want_supplier {
            v.lost(message);
        } else {
            v.duplicates += 1;
            v.messages.push(message);
        }
    }
    let mut all_payments = receipt_objects.clone();
    all_payments.extend(supplier_payments.iter().map(|s| s.object.clone()));
    settle(world, Flow::PaymentIn, &all_payments, &mut rng, kill, dup).await?;
    world.exact.faults().clear();
    world.vp.faults().clear();
    world.advance(LATE).await;

    // Payments: each exactly once in VP, posted, allocated to its invoice with the paid amount; Success.
    let in_vp = world.vp.cash_receipts();
    let mut booked: Vec<(String, Decimal)> = Vec::new();
    for o in &receipt_objects {
        let batch = format!("Exact{}", o.key);
        let found: Vec<_> = in_vp.iter().filter(|c| c.batch == batch).collect();
        match found.len() {
            0 => v.lost(format!("payment {}: no batch in VP", o.key)),
            1 => {
                if !found[0].posted {
                    v.stranded(format!("payment {}: its batch is not posted", o.key));
                }
                for line in &found[0].lines {
                    booked.push((line.invoice.clone(), line.amount));
                }
            }
            n => {
                v.duplicates += n as u64 - 1;
                v.messages
                    .push(format!("payment {}: {n} batches in VP", o.key));
            }
        }
        let creates = world.vp.raw_cash_receipt_creates(&batch);
        if creates > 1 {
            v.duplicates += creates - 1;
            v.messages.push(format!(
                "payment {}: {creates} create requests of its batch reached VP",
                o.key
            ));
        }
        check_status(world, o, SyncStatus::Success, &mut v).await?;
    }
    // The allocation: per invoice number, what VP booked equals what was paid in Exact.
    let by_invoice = |items: &[(String, Decimal)]| {
        let mut m: BTreeMap<String, Decimal> = BTreeMap::new();
        for (k, amount) in items {
            let number = k.split('.').next().unwrap_or(k).to_owned();
            *m.entry(number).or_default() += *amount;
        }
        m
    };
    let (want, got) = (by_invoice(&paid), by_invoice(&booked));
    if want != got {
        v.lost(format!(
            "allocation in VP {got:?} differs from the payments in Exact {want:?}"
        ));
    }
    *counts.entry("payments").or_default() += paid.len() as u64;
    if let (Some(amount), Some(o)) = (supplier_paid, supplier_payments.first()) {
        let check = o.object.key.to_string();
        let found: Vec<_> = world
            .vp
            .payments()
            .into_iter()
            .filter(|p| p.check_no == check)
            .collect();
        match found.len() {
            0 => v.lost(format!("supplier payment {check}: not in VP")),
            1 if found[0].total != amount => v.lost(format!(
                "supplier payment {check}: {} in VP, {amount} paid",
                found[0].total
            )),
            1 => {}
            n => {
                v.duplicates += n as u64 - 1;
                v.messages
                    .push(format!("supplier payment {check}: {n} AP payments in VP"));
            }
        }
        check_status(world, &o.object, SyncStatus::Success, &mut v).await?;
        *counts.entry("supplier_payments").or_default() += 1;
    }

    // The whole tenant: nothing Pending; dead-letter queues empty after the sweep; every claimed
    // idempotency key completed.
    let statuses = world
        .ctx
        .stores
        .statuses
        .counts(&t.id)
        .await
        .map_err(|e| e.to_string())?;
    let pending = statuses.get(&SyncStatus::Pending).copied().unwrap_or(0);
    if pending > 0 {
        // Objects already counted above are counted once: only the excess is new.
        let counted = v.pending;
        if pending > counted {
            v.pending += pending - counted;
            v.messages
                .push(format!("{} more objects Pending", pending - counted));
        }
    }
    for flow in [Flow::InvoiceOut, Flow::VoucherOut, Flow::PaymentIn] {
        crate::sweeper::sweep(&world.ctx, flow)
            .await
            .map_err(|e| e.to_string())?;
        let dead = world
            .ctx
            .queue
            .dead_letters(flow, 10)
            .await
            .map_err(|e| e.to_string())?;
        for m in dead {
            v.stranded(format!("{flow} dead-letter queue holds {m:?}"));
        }
    }
    let claimed = world.claims.take();
    for (key, hash) in &claimed {
        match world
            .idempotency
            .begin(key, hash, Duration::from_secs(1), world.now())
            .await
            .map_err(|e| e.to_string())?
        {
            IdempotencyBegin::Completed { .. } => {}
            IdempotencyBegin::Started(claim) => {
                // Our probe claimed it; give it back as it was.
                let _ = world.idempotency.release(key, claim.fence).await;
                // A refused document releases its key; only a key of an object that ended Success must be
                // completed.
                if !key_of_refused(key, negative.as_deref()) {
                    v.stranded(format!("idempotency key {key} never completed"));
                }
            }
            other => v.stranded(format!("idempotency key {key}: {other:?}")),
        }
    }
    *counts.entry("idempotency_keys").or_default() += claimed.len() as u64;

    for (kind, n) in world.exact.faults().injected() {
        let before = exact_before.get(&kind).copied().unwrap_or(0);
        *counts.entry(fault_key("exact", &kind)).or_default() += n - before;
    }
    let token = world
        .exact
        .counters()
        .count_matching("POST /api/oauth2/token");
    *counts.entry("exact_token_requests").or_default() += token - token_before;
    *counts.entry("exact_reconnects").or_default() += world.reconnects() - reconnects_before;
    for (kind, n) in world.vp.faults().injected() {
        let before = vp_before.get(&kind).copied().unwrap_or(0);
        *counts.entry(fault_key("vp", &kind)).or_default() += n - before;
    }
    Ok(RunOutcome {
        counts,
        violations: v,
    })
}

/// The `EntryID` of the sales entry whose reference is `key` in the tenant's division.
fn entries_of(world: &FaultWorld, t: &TenantFixture, key: &str) -> Option<String> {
    world
        .exact
        .entities(t.division, "salesentry/SalesEntries")
        .ok()?
        .iter()
        .find(|r| r.get("YourRef").and_then(|v| v.as_str()) == Some(key))
        .and_then(|r| r.get("EntryID").and_then(|v| v.as_str()).map(str::to_owned))
}

fn key_of_refused(key: &str, negative: Option<&str>) -> bool {
    negative.is_some_and(|n| key.contains(n))
}
