//! The fault-injection suite on the shared harness (`ledgerlink_flows::fault_harness`): randomised runs
//! mixing 5xx before the handler and after the commit, 429 storms, resets, commit-then-drop, duplicate
//! schedules and deliveries, killed and racing workers, on a queue with the production receive limit. Every
//! run must end with ZERO duplicate documents in Exact, ZERO lost or duplicated payments in VP, nothing
//! Pending or stranded, and every object in the right status.
//!
//! The suite prints its seed; a failing run prints its own seed, and `LEDGERLINK_FAULT_SEED=<seed>
//! LEDGERLINK_FAULT_RUNS=1` replays it. `LEDGERLINK_FAULT_RUNS` sets the number of runs of every store
//! (defaults sized for CI, `cargo test` on 2 cores: 60 on the embedded store, 4 on the AWS adapters, 3 with
//! worker processes); `LEDGERLINK_FAULT_AWS_RUNS` and `LEDGERLINK_FAULT_PROCESS_RUNS` set those two alone.
//! `LEDGERLINK_FAULT_LANES` sets the worlds side by side (default 3), `LEDGERLINK_FAULT_QUIET` silences
//! the faults. The soak command (`examples/fault-soak.rs`) runs the same runs by the hundreds and
//! thousands, on both stores and with worker processes.

use std::time::Duration;

use ledgerlink_domain::{Flow, ObjectType, SyncStatus};
use ledgerlink_emulators::FaultRule;
use ledgerlink_emulators::exact::PaymentSpec;
use ledgerlink_flows::discover;
use ledgerlink_flows::fault_harness::{
    FaultWorld, Launcher, ProcessPlan, RunOptions, SoakConfig, StoreKind, WORKER_ENV, one_run,
    soak, worker_process_main,
};
use rust_decimal_macros::dec;

use crate::helpers::{World, invoice_key};

/// CI's runs per store (`cargo test` of this crate within its time budget on a 2-core machine).
const EMBEDDED_RUNS: u64 = 60;
const AWS_RUNS: u64 = 4;
const PROCESS_RUNS: u64 = 3;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn randomised_faults_never_duplicate_a_document_nor_lose_a_payment() {
    let runs = env_u64("LEDGERLINK_FAULT_RUNS").unwrap_or(EMBEDDED_RUNS);
    let seed = env_u64("LEDGERLINK_FAULT_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(7)
    });
    let mut config = SoakConfig::new(StoreKind::Embedded, runs, seed);
    if let Some(lanes) = env_u64("LEDGERLINK_FAULT_LANES") {
        config.lanes = lanes;
    }
    config.options.quiet = std::env::var("LEDGERLINK_FAULT_QUIET").is_ok();
    println!(
        "fault suite: {runs} runs on {} lanes, seed {seed} (replay one run: LEDGERLINK_FAULT_SEED=<run seed> LEDGERLINK_FAULT_RUNS=1)",
        config.lanes
    );
    let report = soak(&config).await.unwrap();
    println!(
        "fault suite: {runs} runs in {:.1?}; {:?}; crash points passed {}/{}: {:?}",
        report.wall,
        report.counts,
        report.crash_points_hit(),
        report.crash_points.len(),
        report
            .crash_points
            .iter()
            .map(|(p, n)| format!("{}={n}", p.name()))
            .collect::<Vec<_>>()
    );
    if let Some((run, run_seed, messages)) = report.failures.first() {
        panic!(
            "fault run {run} failed (run seed {run_seed}; replay with LEDGERLINK_FAULT_SEED={run_seed} LEDGERLINK_FAULT_RUNS=1): {messages:#?}\n{}",
            report.summary_line()
        );
    }
    assert!(report.violations.is_clean(), "{}", report.summary_line());
}

/// The same runs on the AWS adapters (DynamoDB + SQS on moto): a few in the test suite, the soak command
/// runs hundreds (`--store aws`). `LEDGERLINK_FAULT_AWS_RUNS` (else `LEDGERLINK_FAULT_RUNS`) sets how many.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn randomised_faults_on_the_aws_adapters_never_duplicate_nor_lose_anything() {
    let runs = env_u64("LEDGERLINK_FAULT_AWS_RUNS")
        .or_else(|| env_u64("LEDGERLINK_FAULT_RUNS"))
        .unwrap_or(AWS_RUNS);
    let seed = env_u64("LEDGERLINK_FAULT_SEED").unwrap_or(7);
    let mut config = SoakConfig::new(StoreKind::Aws, runs, seed);
    config.lanes = 1;

    let report = soak(&config).await.unwrap();

    assert!(
        report.violations.is_clean(),
        "{:#?}\n{}",
        report.failures,
        report.summary_line()
    );
    assert_eq!(report.runs, runs);
}

/// Not a test of its own: the body of the worker processes the next test starts (this test binary again,
/// with `LEDGERLINK_FAULT_WORKER` set and its spec on stdin). Without that variable it does nothing.
#[test]
fn fault_worker_process() {
    if std::env::var_os(WORKER_ENV).is_none() {
        return;
    }
    let code = match worker_process_main() {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("fault worker process: {message}");
            2
        }
    };
    std::process::exit(code);
}

/// Real process crashes: each queue round is worked by two worker processes sharing the embedded store's
/// SQLite file and the world's clock; at a crash point a worker is killed with SIGKILL (mid-message: its
/// claim, lease, transaction and request as they were) and the supervisor starts another. The survivors and
/// the restarted workers finish the job with the same invariants as the in-process runs.
/// `LEDGERLINK_FAULT_PROCESS_RUNS` (else `LEDGERLINK_FAULT_RUNS`) sets the runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_processes_killed_with_sigkill_at_crash_points_neither_duplicate_nor_lose_anything()
{
    // Arrange
    let runs = env_u64("LEDGERLINK_FAULT_PROCESS_RUNS")
        .or_else(|| env_u64("LEDGERLINK_FAULT_RUNS"))
        .unwrap_or(PROCESS_RUNS);
    let seed = env_u64("LEDGERLINK_FAULT_SEED").unwrap_or(7);
    let launcher = Launcher::current_exe(&[
        "--exact",
        "faults::fault_worker_process",
        "--nocapture",
        "--test-threads",
        "1",
    ])
    .unwrap();
    let mut config = SoakConfig::new(StoreKind::Embedded, runs, seed);
    config.lanes = 1;
    config.processes = Some(ProcessPlan::new(launcher, 2));

    // Act
    let report = soak(&config).await.unwrap();

    // Assert
    let (kills, started) = report.kills.clone().unwrap();
    println!(
        "worker processes: {started} started, killed at {kills:?}; {}",
        report.summary_line()
    );
    assert!(
        report.violations.is_clean(),
        "{:#?}\n{}",
        report.failures,
        report.summary_line()
    );
    assert!(
        kills.iter().map(|(_, n)| n).sum::<u64>() > 0,
        "no worker process was killed: {kills:?}"
    );
}

/// The checks can fail: a sales entry removed from Exact behind the integration's back is counted lost
/// (the document, and the link that now points at nothing), while a run without it is clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_invariant_checks_count_a_document_missing_from_the_ledger_as_lost() {
    // Arrange
    let world = FaultWorld::spawn(StoreKind::Embedded).await.unwrap();
    let quiet = RunOptions {
        quiet: true,
        ..RunOptions::default()
    };
    let sabotaged = RunOptions {
        quiet: true,
        delete_first_entry: true,
    };

    // Act
    let clean = one_run(&world, 1, 11, &quiet).await.unwrap();
    let broken = one_run(&world, 2, 11, &sabotaged).await.unwrap();

    // Assert
    assert!(clean.violations.is_clean(), "{:?}", clean.violations);
    assert_eq!(broken.violations.lost, 2, "{:?}", broken.violations);
    assert_eq!(broken.violations.duplicates, 0, "{:?}", broken.violations);
}

/// A sales entry Exact commits only after the client's settle time (a 504 now, the entry visible 6 s
/// later) is found by the client's look-ups along its settle schedule and never posted a second time.
#[tokio::test]
async fn a_sales_entry_committed_after_the_settle_time_is_found_not_posted_twice() {
    // Arrange
    let world = World::spawn().await;
    world.exact.faults().set_clock(world.clock.shared());
    let t = world.tenant("slow-commit").await;
    let posting = world.post_invoice("930101", &[dec!(410.00)]);
    let key = invoice_key("930101", &posting);
    world.tick();
    world.exact.faults().set_rules(vec![FaultRule {
        method: Some("POST".into()),
        path_prefix: format!("/api/v1/{}/salesentry/", t.division),
        delayed_commit_per_mille: 1000,
        commit_delay_secs: 6,
        ..FaultRule::default()
    }]);

    // Act
    discover(&world.ctx, Flow::InvoiceOut, &t.id).await.unwrap();
    world.drain(Flow::InvoiceOut).await;
    world.clock.advance(Duration::from_secs(600));
    world.exact.faults().apply_due().await;

    // Assert
    assert!(
        world.exact.faults().injected().get("delayed-commit") >= Some(&1),
        "the fault must have hit the post"
    );
    assert_eq!(world.exact.faults().deferred_commits(), 0);
    assert_eq!(world.sales_entries(t.division, &key), 1);
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
}

/// A cash receipt Vantagepoint commits only after the client's settle time is found, not created again
/// (the emulator counts every create request of the batch).
#[tokio::test]
async fn a_cash_receipt_committed_after_the_settle_time_is_found_not_created_twice() {
    // Arrange: an invoice synced and paid in Exact.
    let world = World::spawn().await;
    world.vp.faults().set_clock(world.clock.shared());
    let t = world.tenant("slow-receipt").await;
    let posting = world.post_invoice("930201", &[dec!(120.00)]);
    let key = invoice_key("930201", &posting);
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
    world.tick();
    world.vp.faults().set_rules(vec![FaultRule {
        method: Some("POST".into()),
        path_prefix: "/vantagepoint/api/DataEntry/crControl".into(),
        delayed_commit_per_mille: 1000,
        commit_delay_secs: 8,
        ..FaultRule::default()
    }]);

    // Act
    discover(&world.ctx, Flow::PaymentIn, &t.id).await.unwrap();
    world.drain(Flow::PaymentIn).await;
    world.clock.advance(Duration::from_secs(600));
    world.vp.faults().apply_due().await;

    // Assert
    let receipts = world.receipts(&t.id).await;
    assert_eq!(receipts.len(), 1);
    let batch = format!("Exact{}", receipts[0].object.key);
    assert!(
        world.vp.faults().injected().get("delayed-commit") >= Some(&1),
        "the fault must have hit the create"
    );
    assert_eq!(world.vp.raw_cash_receipt_creates(&batch), 1);
    assert_eq!(
        world
            .vp
            .cash_receipts()
            .iter()
            .filter(|c| c.batch == batch)
            .count(),
        1
    );
    assert_eq!(
        receipts[0].status,
        SyncStatus::Success,
        "{:?}",
        receipts[0].last_message
    );
}
