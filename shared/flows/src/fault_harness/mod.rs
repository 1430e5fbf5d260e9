//! The fault harness (cargo feature `fault-harness`): randomised runs mixing 5xx (before the handler, and
//! after it committed: 500, 502, 503, 504 with and without a body), 429 storms, resets, commit-then-drop,
//! duplicate schedules and webhooks, duplicate queue deliveries, workers killed mid-message and concurrent
//! workers on the same objects, on a queue with the production receive limit (5, then the dead-letter queue
//! and the sweeper) — on the embedded store or on the AWS adapters against moto.
//!
//! After every run the invariants are checked over the run's whole Exact division and tenant, and each
//! violation is counted as a duplicate, a lost document or payment, a stranded object (in a dead-letter
//! queue, never finished, an idempotency claim never completed) or a Pending one. Used by the flows' fault
//! test (`tests/it/faults.rs`) and by the soak command (`examples/fault-soak.rs`).
//!
//! With [`SoakConfig::processes`] the workers are processes on the embedded store's file, killed with SIGKILL
//! at the named crash points and restarted (see `process`).
//!
//! Reproducible: a run's emulator faults, workers, kills and data come from its seed ([`run_seed`]) (with
//! worker processes, the interleaving of the processes is the operating system's).

mod clock;
mod process;
mod run;
mod world;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

pub use clock::{FileClock, WorldClock};
pub use process::{Launcher, ProcessPlan, ProcessTally, WORKER_ENV, worker_process_main};
pub use run::{RunOptions, one_run};
pub use world::{
    ClaimLog, FaultWorld, MAX_RECEIVES, Prelink, StoreKind, TenantFixture, invoice_key, object,
};

/// What broke the invariants in one run (all zero in a good run).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Violations {
    /// Second documents, batches, payments or create requests.
    pub duplicates: u64,
    /// Documents or payments missing, wrong amounts, links to nothing.
    pub lost: u64,
    /// Objects never finished, in a dead-letter queue, or claims never completed.
    pub stranded: u64,
    /// Objects left Pending.
    pub pending: u64,
    /// What each violation was.
    pub messages: Vec<String>,
}

impl Violations {
    pub fn is_clean(&self) -> bool {
        self.duplicates == 0 && self.lost == 0 && self.stranded == 0 && self.pending == 0
    }
    pub(crate) fn lost(&mut self, message: String) {
        self.lost += 1;
        self.messages.push(message);
    }
    pub(crate) fn stranded(&mut self, message: String) {
        self.stranded += 1;
        self.messages.push(message);
    }
    pub(crate) fn pending(&mut self, message: String) {
        self.pending += 1;
        self.messages.push(message);
    }
    fn add(&mut self, other: &Violations) {
        self.duplicates += other.duplicates;
        self.lost += other.lost;
        self.stranded += other.stranded;
        self.pending += other.pending;
    }
}

/// The result of one run: what it exercised, and its violations.
#[derive(Debug, Clone, Default)]
pub struct RunOutcome {
    pub counts: BTreeMap<&'static str, u64>,
    pub violations: Violations,
}

/// The seed of run `run` of a soak seeded `seed` (a single run uses `seed` itself, so a failing run's
/// printed seed replays it with one run).
pub fn run_seed(seed: u64, run: u64, runs: u64) -> u64 {
    if runs == 1 {
        seed
    } else {
        seed.wrapping_add(run.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }
}

/// How a soak is run.
#[derive(Debug, Clone)]
pub struct SoakConfig {
    pub store: StoreKind,
    pub runs: u64,
    pub seed: u64,
    /// Worlds running side by side (each its own emulators and store resources).
    pub lanes: u64,
    /// A lane starts a new world after this many runs (the emulators' ledgers grow with every run).
    pub renew_every: u64,
    pub options: RunOptions,
    /// Workers as processes on the embedded store, killed with SIGKILL at crash points (`None`: tasks).
    pub processes: Option<ProcessPlan>,
    /// Progress lines on stdout every this many runs (0: none).
    pub progress_every: u64,
}

impl SoakConfig {
    pub fn new(store: StoreKind, runs: u64, seed: u64) -> Self {
        Self {
            store,
            runs,
            seed,
            lanes: 3,
            // moto slows down as its tables and queues fill: AWS worlds are renewed (with a new server) sooner.
            renew_every: if store == StoreKind::Aws { 20 } else { 60 },
            options: RunOptions::default(),
            processes: None,
            progress_every: 100,
        }
    }
}

/// The totals of a soak.
#[derive(Debug, Clone, Default)]
pub struct SoakReport {
    pub runs: u64,
    pub seed: u64,
    pub violations: Violations,
    /// Up to 20 failing runs: run, its seed, what broke.
    pub failures: Vec<(u64, u64, Vec<String>)>,
    pub counts: BTreeMap<&'static str, u64>,
    /// How often each named crash point was passed during the soak (by this process and its worker
    /// processes).
    pub crash_points: Vec<(ledgerlink_ports::crash::CrashPoint, u64)>,
    /// With worker processes: how often one was killed with SIGKILL at each point (then a point counts as
    /// hit only when a worker died there), and how many were started.
    pub kills: Option<(Vec<(ledgerlink_ports::crash::CrashPoint, u64)>, u64)>,
    pub wall: Duration,
}

impl SoakReport {
    /// Named crash points passed at least once.
    pub fn crash_points_hit(&self) -> usize {
        match &self.kills {
            Some((kills, _)) => kills.iter().filter(|(_, n)| *n > 0).count(),
            None => self.crash_points.iter().filter(|(_, n)| *n > 0).count(),
        }
    }

    pub fn is_clean(&self) -> bool {
        self.violations.is_clean() && self.crash_points_hit() == self.crash_points.len()
    }

    /// `fault-soak: runs=N duplicates=D lost=L stranded=S pending=P crash_points=H/T seed=X`
    pub fn summary_line(&self) -> String {
        format!(
            "fault-soak: runs={} duplicates={} lost={} stranded={} pending={} crash_points={}/{} seed={}",
            self.runs,
            self.violations.duplicates,
            self.violations.lost,
            self.violations.stranded,
            self.violations.pending,
            self.crash_points_hit(),
            self.crash_points.len(),
            self.seed
        )
    }
}

/// Runs `config.runs` fault runs on `config.lanes` worlds and adds up their violations. A run the harness
/// could not finish counts as stranded.
pub async fn soak(config: &SoakConfig) -> Result<SoakReport, String> {
    let wall = Instant::now();
    let runs = config.runs;
    let lanes = config.lanes.clamp(1, 8).min(runs.max(1));
    let before = ledgerlink_ports::crash::counts();
    let lane_runs = (0..lanes).map(|lane| async move {
        let mut totals: BTreeMap<&'static str, u64> = BTreeMap::new();
        let mut violations = Violations::default();
        let mut failures = Vec::new();
        let spawn = || FaultWorld::spawn_with(config.store, config.processes.clone());
        let mut world = spawn().await?;
        for (done, run) in (lane..runs).step_by(lanes as usize).enumerate() {
            if done > 0 && (done as u64).is_multiple_of(config.renew_every.max(1)) {
                world = spawn().await?;
            }
            if config.progress_every > 0 && run > 0 && run % config.progress_every == 0 {
                println!("fault-soak: run {run} ({:.1?})", wall.elapsed());
            }
            let seed = run_seed(config.seed, run, runs);
            let outcome = match one_run(&world, run, seed, &config.options).await {
                Ok(outcome) => outcome,
                Err(message) => {
                    let mut v = Violations::default();
                    v.stranded(format!("the run could not finish: {message}"));
                    // The world may be in any state: the next run starts on a new one.
                    world = spawn().await?;
                    RunOutcome {
                        counts: BTreeMap::new(),
                        violations: v,
                    }
                }
            };
            for (k, n) in outcome.counts {
                *totals.entry(k).or_default() += n;
            }
            violations.add(&outcome.violations);
            if !outcome.violations.is_clean() {
                failures.push((run, seed, outcome.violations.messages));
            }
        }
        Ok::<_, String>((totals, violations, failures))
    });
    let mut report = SoakReport {
        runs,
        seed: config.seed,
        ..SoakReport::default()
    };
    for lane in futures::future::join_all(lane_runs).await {
        let (totals, violations, failures) = lane?;
        for (k, n) in totals {
            *report.counts.entry(k).or_default() += n;
        }
        report.violations.add(&violations);
        report.failures.extend(failures);
    }
    report.failures.sort_by_key(|f| f.0);
    report.failures.truncate(20);
    report.crash_points = ledgerlink_ports::crash::counts()
        .into_iter()
        .zip(before)
        .map(|((p, n), (_, b))| (p, n - b))
        .collect();
    if let Some(plan) = &config.processes {
        for ((_, n), (_, child)) in report.crash_points.iter_mut().zip(plan.tally.passes()) {
            *n += child;
        }
        report.kills = Some((plan.tally.kills(), plan.tally.started()));
    }
    report.wall = wall.elapsed();
    Ok(report)
}
