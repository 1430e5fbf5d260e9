//! The fault-injection suite on the shared harness (`ledgerlink_flows::fault_harness`): randomised runs
//! mixing 5xx before the handler and after the commit, 429 storms, resets, commit-then-drop, duplicate
//! schedules and deliveries, killed and racing workers, on a queue with the production receive limit. Every
//! run must end with ZERO duplicate documents in Exact, ZERO lost or duplicated payments in VP, nothing
//! Pending or stranded, and every object in the right status.
//!
//! The suite prints its seed; a failing run prints its own seed, and `LEDGERLINK_FAULT_SEED=<seed>
//! LEDGERLINK_FAULT_RUNS=1` replays it. `LEDGERLINK_FAULT_RUNS` sets the number of runs (default 1000),
//! `LEDGERLINK_FAULT_LANES` the worlds side by side (default 3), `LEDGERLINK_FAULT_QUIET` silences the
//! faults. The soak command (`examples/fault-soak.rs`) runs the same runs, also on the AWS adapters.

use ledgerlink_flows::fault_harness::{SoakConfig, StoreKind, soak};

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn randomised_faults_never_duplicate_a_document_nor_lose_a_payment() {
    let runs = env_u64("LEDGERLINK_FAULT_RUNS").unwrap_or(1000);
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
