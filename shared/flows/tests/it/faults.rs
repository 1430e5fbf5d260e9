//! The fault-injection suite: randomised runs mixing 5xx (before the handler, and after it committed: 500,
//! 502, 503, 504 with and without a body), 429 storms, resets, commit-then-drop, duplicate schedules and
//! webhooks, duplicate SQS deliveries, workers killed mid-message and concurrent workers on the same objects,
//! on a queue with the production receive limit (5, then the dead-letter queue and the sweeper). Every run must end with ZERO duplicate documents in Exact, ZERO lost or duplicated
//! payments in VP, and every object in the right status.
//!
//! Runs share the emulators and the store (each run has its own tenant, division and data). The suite
//! prints its seed; a failing run prints its own seed, and `LEDGERLINK_FAULT_SEED=<seed>
//! LEDGERLINK_FAULT_RUNS=1` replays it. `LEDGERLINK_FAULT_RUNS` sets the number of runs (default 1000).

use std::collections::BTreeMap;
use std::time::Duration;

use ledgerlink_domain::{Flow, ObjectType, SyncStatus};
use ledgerlink_emulators::FaultRule;
use ledgerlink_emulators::exact::PaymentSpec;
use ledgerlink_flows::{MessageOutcome, discover, process_message};
use ledgerlink_ports::{ObjectRef, PageRequest, StatusFilter, WorkAction};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;

use crate::helpers::{Prelink, TenantFixture, World, invoice_key, object};

const VISIBILITY: Duration = Duration::from_secs(60);
const RETRY: Duration = Duration::from_secs(20);
/// The queue's max receives before the dead-letter queue, as in `template.yaml`.
const MAX_RECEIVES: u32 = 5;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn randomised_faults_never_duplicate_a_document_nor_lose_a_payment() {
    let runs = env_u64("LEDGERLINK_FAULT_RUNS").unwrap_or(1000);
    let lanes = env_u64("LEDGERLINK_FAULT_LANES")
        .unwrap_or(3)
        .clamp(1, 8)
        .min(runs.max(1));
    let seed = env_u64("LEDGERLINK_FAULT_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(7)
    });
    println!(
        "fault suite: {runs} runs on {lanes} lanes, seed {seed} (replay one run: LEDGERLINK_FAULT_SEED=<run seed> LEDGERLINK_FAULT_RUNS=1)"
    );
    let wall = std::time::Instant::now();
    // Each lane has its own emulators, store and clock (discovery windows of one VP database would
    // otherwise see the other lanes' postings); runs of a lane share them, each with a fresh tenant.
    // A lane renews its world every RENEW_EVERY runs: the emulators' ledgers grow with every run, and
    // scanning them would make the suite quadratic.
    const RENEW_EVERY: u64 = 60;
    let lane_runs = (0..lanes).map(|lane| async move {
        let mut totals: BTreeMap<&'static str, u64> = BTreeMap::new();
        let mut world = World::spawn().await;
        world.set_max_receives(MAX_RECEIVES);
        for (done, run) in (lane..runs).step_by(lanes as usize).enumerate() {
            if done > 0 && (done as u64).is_multiple_of(RENEW_EVERY) {
                world = World::spawn().await;
                world.set_max_receives(MAX_RECEIVES);
            }
            if run > 0 && run % 100 == 0 {
                println!("fault suite: run {run} ({:.1?})", wall.elapsed());
            }
            let run_seed = if runs == 1 { seed } else { seed.wrapping_add(run.wrapping_mul(0x9E37_79B9_7F4A_7C15)) };
            match one_run(&world, run, run_seed).await {
                Ok(counts) => {
                    for (k, v) in counts {
                        *totals.entry(k).or_default() += v;
                    }
                }
                Err(message) => {
                    return Err(format!(
                        "fault run {run} failed (run seed {run_seed}; replay with LEDGERLINK_FAULT_SEED={run_seed} LEDGERLINK_FAULT_RUNS=1): {message}"
                    ));
                }
            }
        }
        Ok(totals)
    });
    let mut totals: BTreeMap<&'static str, u64> = BTreeMap::new();
    for result in futures::future::join_all(lane_runs).await {
        match result {
            Ok(lane) => {
                for (k, v) in lane {
                    *totals.entry(k).or_default() += v;
                }
            }
            Err(message) => panic!("{message}"),
        }
    }
    // The named crash points the runs passed (a dropped future at any of them is one of the kills above).
    let points = ledgerlink_ports::crash::counts();
    let hit = points.iter().filter(|(_, n)| *n > 0).count();
    println!(
        "fault suite: {runs} runs green in {:.1?}; {totals:?}; crash points passed {hit}/{}: {:?}",
        wall.elapsed(),
        points.len(),
        points
            .iter()
            .map(|(p, n)| format!("{}={n}", p.name()))
            .collect::<Vec<_>>()
    );
}

async fn discover_until_ok(world: &World, flow: Flow, t: &TenantFixture) -> Result<(), String> {
    for _ in 0..50 {
        match discover(&world.ctx, flow, &t.id).await {
            Ok(_) => return Ok(()),
            Err(e) if e.is_retryable() => world.clock.advance(Duration::from_secs(5)),
            Err(e) => return Err(format!("discovery failed permanently: {e}")),
        }
    }
    Err("discovery kept failing".into())
}

/// A worker: receives, processes, acks; sometimes "killed" (its processing future dropped mid-flight, the
/// message abandoned so it becomes visible again), sometimes re-sends what it received (a duplicate
/// delivery).
async fn worker(
    world: &World,
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
                    ledgerlink_flows::runner::delay_until(&world.ctx, flow, &m.message, until)
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

async fn workers(
    world: &World,
    flow: Flow,
    rng: &mut StdRng,
    kill: u32,
    dup: u32,
) -> Result<(), String> {
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
/// idempotency leases of killed writes expire as the clock moves on.
async fn settle(
    world: &World,
    flow: Flow,
    objects: &[ObjectRef],
    rng: &mut StdRng,
    kill: u32,
    dup: u32,
) -> Result<(), String> {
    for round in 0..60 {
        workers(
            world,
            flow,
            rng,
            if round < 2 { kill } else { 0 },
            if round < 2 { dup } else { 0 },
        )
        .await?;
        let mut open = Vec::new();
        for o in objects {
            let s = world
                .ctx
                .stores
                .statuses
                .get(o)
                .await
                .map_err(|e| e.to_string())?;
            let waiting_partial = o.object_type == ObjectType::ExpensePayment
                && s.as_ref().is_some_and(|s| {
                    s.status == SyncStatus::Pending
                        && s.last_message
                            .as_deref()
                            .unwrap_or("")
                            .contains("Partially")
                });
            if !is_final(s.as_ref().map(|s| s.status)) && !waiting_partial {
                open.push((o.key.to_string(), s.map(|s| (s.status, s.last_message))));
            }
        }
        if open.is_empty() {
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
            world.reconnect_exact_if_paused(tenant).await;
        }
        world.clock.advance(VISIBILITY + Duration::from_secs(301));
        // The scheduled sweep: dead letters redriven, stalled objects sent again.
        ledgerlink_flows::sweeper::sweep(&world.ctx, flow)
            .await
            .map_err(|e| e.to_string())?;
        if round > 50 {
            return Err(format!("objects never settled: {open:?}"));
        }
    }
    Ok(())
}

async fn one_run(
    world: &World,
    run: u64,
    seed: u64,
) -> Result<BTreeMap<&'static str, u64>, String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut counts = BTreeMap::new();
    let exact_before = world.exact.faults().injected();
    let vp_before = world.vp.faults().injected();
    let phase = std::time::Instant::now();
    let t = world
        .tenant_with(&format!("f{run}"), None, Prelink::FirstClient)
        .await;
    *counts.entry("ms_tenant").or_default() += phase.elapsed().as_millis() as u64;
    let phase = std::time::Instant::now();
    let div = t.division;

    // Data: 1-3 invoices, sometimes a negative one.
    let count = rng.random_range(1..=2);
    let mut good = Vec::new();
    for k in 0..count {
        let number = format!("F{run:05}{k}");
        let amounts: Vec<Decimal> = (0..rng.random_range(1..=3))
            .map(|_| Decimal::new(rng.random_range(1_000..500_000), 2))
            .collect();
        let posting = world.post_invoice(&number, &amounts);
        good.push(invoice_key(&number, &posting));
    }
    let negative = if rng.random_bool(0.2) {
        let number = format!("F{run:05}N");
        let posting =
            world.post_invoice(&number, &[Decimal::new(-rng.random_range(100..10_000), 2)]);
        Some(invoice_key(&number, &posting))
    } else {
        None
    };
    let voucher = if rng.random_bool(0.3) {
        let number = format!("FV{run}");
        world.post_voucher(&number, Decimal::new(rng.random_range(1_000..200_000), 2));
        Some(number)
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
    };
    let quiet = std::env::var("LEDGERLINK_FAULT_QUIET").is_ok();
    if !quiet {
        world.exact.faults().set_rules(vec![exact_rule]);
        world.vp.faults().set_rules(vec![vp_rule]);
    }
    let kill = if quiet { 0 } else { rng.random_range(0..150) };
    let dup = if quiet { 0 } else { rng.random_range(0..200) };

    // INVOICE-OUT: one or two discoveries (a duplicate schedule), duplicate deliveries, workers.
    for _ in 0..rng.random_range(1..=2) {
        discover_until_ok(world, Flow::InvoiceOut, &t).await?;
    }
    let mut invoices: Vec<ObjectRef> = good
        .iter()
        .map(|k| object(&t.id, ObjectType::Invoice, k))
        .collect();
    if let Some(n) = &negative {
        invoices.push(object(&t.id, ObjectType::Invoice, n));
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

    // Assert invoices.
    for k in &good {
        let entries = world.sales_entries(div, k);
        if entries != 1 {
            return Err(format!("invoice {k}: {entries} sales entries in Exact"));
        }
        let s = world.status(&t.id, ObjectType::Invoice, k).await;
        if s.as_ref().map(|s| s.status) != Some(SyncStatus::Success) {
            return Err(format!(
                "invoice {k}: status {:?}",
                s.map(|s| (s.status, s.last_message))
            ));
        }
    }
    if let Some(n) = &negative {
        if world.sales_entries(div, n) != 0 {
            return Err(format!("negative invoice {n} reached Exact"));
        }
        let s = world.status(&t.id, ObjectType::Invoice, n).await;
        if s.as_ref().map(|s| s.status) != Some(SyncStatus::Error) {
            return Err(format!(
                "negative invoice {n}: status {:?}",
                s.map(|s| s.status)
            ));
        }
    }
    *counts.entry("invoices").or_default() += good.len() as u64;

    // VOUCHER-OUT (some runs), still under the same faults.
    let mut voucher_entry = None;
    if let Some(number) = &voucher {
        discover_until_ok(world, Flow::VoucherOut, &t).await?;
        let key = format!("{}.{number}", world.demo.vendors[0]);
        let o = object(&t.id, ObjectType::ApVoucher, &key);
        settle(
            world,
            Flow::VoucherOut,
            std::slice::from_ref(&o),
            &mut rng,
            kill,
            dup,
        )
        .await?;
        let entries = world.exact.count_purchase_entries_with_your_ref(
            div,
            &ledgerlink_mapping::purchases::voucher_reference(&world.demo.vendors[0], number),
        );
        if entries != 1 {
            return Err(format!(
                "voucher {number}: {entries} purchase entries in Exact"
            ));
        }
        let s = world.status(&t.id, ObjectType::ApVoucher, &key).await;
        if s.as_ref().map(|s| s.status) != Some(SyncStatus::Success) {
            return Err(format!(
                "voucher {key}: status {:?}",
                s.map(|s| (s.status, s.last_message))
            ));
        }
        voucher_entry = s.and_then(|s| s.target_id);
        *counts.entry("vouchers").or_default() += 1;
    }
    *counts.entry("ms_invoices").or_default() += phase.elapsed().as_millis() as u64;
    let phase = std::time::Instant::now();

    // PAYMENT-IN: pay some invoices (full or partial) in Exact, poll 1-3 times (webhooks + schedule).
    world.exact.faults().clear();
    let mut paid: Vec<Decimal> = Vec::new();
    for k in &good {
        if !rng.random_bool(0.6) {
            continue;
        }
        let Some(entry) = world
            .status(&t.id, ObjectType::Invoice, k)
            .await
            .and_then(|s| s.target_id)
        else {
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
                entry_id: entry,
                amount,
                date: None,
                employee: false,
            })
            .map_err(|e| e.to_string())?;
        paid.push(recorded.amount);
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
    let exact_rule = FaultRule {
        method: None,
        path_prefix: format!("/api/v1/{div}/"),
        latency_ms: 0,
        error_5xx_per_mille: rng.random_range(0..200),
        storm_429_remaining: 0,
        reset_before_per_mille: rng.random_range(0..60),
        commit_then_drop_per_mille: 0,
        error_after_commit_per_mille: 0,
        after_commit_statuses: Vec::new(),
    };
    world.exact.faults().set_rules(vec![exact_rule]);
    world.tick();
    for _ in 0..rng.random_range(1..=3) {
        discover_until_ok(world, Flow::PaymentIn, &t).await?;
    }
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
            PageRequest::first(50),
        )
        .await
        .map_err(|e| e.to_string())?;
    if receipts.items.len() != paid.len() {
        return Err(format!(
            "{} payments registered, {} discovered",
            paid.len(),
            receipts.items.len()
        ));
    }
    let receipt_objects: Vec<ObjectRef> = receipts.items.iter().map(|s| s.object.clone()).collect();
    let supplier_payments = world
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
        .map_err(|e| e.to_string())?;
    if supplier_payments.items.len() != usize::from(supplier_paid.is_some()) {
        return Err(format!(
            "supplier payment discovered {} times",
            supplier_payments.items.len()
        ));
    }
    let mut all_payments = receipt_objects.clone();
    all_payments.extend(supplier_payments.items.iter().map(|s| s.object.clone()));
    settle(world, Flow::PaymentIn, &all_payments, &mut rng, kill, dup).await?;
    world.exact.faults().clear();
    world.vp.faults().clear();

    // Assert payments: each exactly once in VP, posted, with the paid amount; statuses Success.
    let in_vp = world.vp.cash_receipts();
    let mut totals: Vec<Decimal> = Vec::new();
    for o in &receipt_objects {
        let batch = format!("Exact{}", o.key);
        let found: Vec<_> = in_vp.iter().filter(|c| c.batch == batch).collect();
        if found.len() != 1 || !found[0].posted {
            let s = world
                .ctx
                .stores
                .statuses
                .get(o)
                .await
                .map_err(|e| e.to_string())?;
            return Err(format!(
                "payment {}: {} batches in VP (posted: {:?}); status {:?}",
                o.key,
                found.len(),
                found.first().map(|c| c.posted),
                s.map(|s| (s.status, s.last_message))
            ));
        }
        totals.push(found[0].total);
        let s = world
            .ctx
            .stores
            .statuses
            .get(o)
            .await
            .map_err(|e| e.to_string())?;
        if s.as_ref().map(|s| s.status) != Some(SyncStatus::Success) {
            return Err(format!(
                "payment {}: status {:?}",
                o.key,
                s.map(|s| (s.status, s.last_message))
            ));
        }
    }
    for o in &receipt_objects {
        let creates = world
            .vp
            .raw_cash_receipt_creates(&format!("Exact{}", o.key));
        if creates != 1 {
            return Err(format!(
                "payment {}: {creates} create requests of its batch reached VP",
                o.key
            ));
        }
    }
    for flow in [Flow::InvoiceOut, Flow::VoucherOut, Flow::PaymentIn] {
        ledgerlink_flows::sweeper::sweep(&world.ctx, flow)
            .await
            .map_err(|e| e.to_string())?;
        let dead = world
            .ctx
            .queue
            .dead_letters(flow, 10)
            .await
            .map_err(|e| e.to_string())?;
        if !dead.is_empty() {
            return Err(format!(
                "{} messages left in the {flow} dead-letter queue",
                dead.len()
            ));
        }
    }
    totals.sort();
    paid.sort();
    if totals != paid {
        return Err(format!(
            "amounts in VP {totals:?} differ from the payments {paid:?}"
        ));
    }
    *counts.entry("payments").or_default() += paid.len() as u64;
    if let (Some(amount), Some(o)) = (supplier_paid, supplier_payments.items.first()) {
        let check = o.object.key.to_string();
        let in_vp: Vec<_> = world
            .vp
            .payments()
            .into_iter()
            .filter(|p| p.check_no == check)
            .collect();
        if in_vp.len() != 1 || in_vp[0].total != amount {
            return Err(format!(
                "supplier payment {check}: {} AP payments in VP ({:?})",
                in_vp.len(),
                in_vp.iter().map(|p| p.total).collect::<Vec<_>>()
            ));
        }
        let s = world
            .ctx
            .stores
            .statuses
            .get(&o.object)
            .await
            .map_err(|e| e.to_string())?;
        if s.as_ref().map(|s| s.status) != Some(SyncStatus::Success) {
            return Err(format!(
                "supplier payment {check}: status {:?}",
                s.map(|s| (s.status, s.last_message))
            ));
        }
        *counts.entry("supplier_payments").or_default() += 1;
    }
    *counts.entry("ms_payments").or_default() += phase.elapsed().as_millis() as u64;
    for (kind, n) in world.exact.faults().injected() {
        let before = exact_before.get(&kind).copied().unwrap_or(0);
        *counts.entry(fault_key("exact", &kind)).or_default() += n - before;
    }
    for (kind, n) in world.vp.faults().injected() {
        let before = vp_before.get(&kind).copied().unwrap_or(0);
        *counts.entry(fault_key("vp", &kind)).or_default() += n - before;
    }
    Ok(counts)
}
