//! Real process crashes: the workers of a world as operating-system processes sharing its embedded store
//! (the SQLite file) and its clock (a file beside it), killed with SIGKILL at the named crash points and
//! restarted by a supervisor until the work is done.
//!
//! A worker process is this harness's caller started again (the soak: `fault-soak --fault-worker`; the
//! flows' test binary: its `fault_worker_process` entry): it reads a [`WorkerSpec`] on stdin, builds the
//! flows' context on the shared store and clock, and either discovers one flow of a tenant or works one
//! flow's queue until it is empty. Its crash hook, at a seeded chance per crash point passed, writes
//! `fault-worker: crash <point>` and stops; the supervisor, reading its stdout, kills it with SIGKILL right
//! there (mid-message, its SQLite transaction, lease and claim as they are) and starts another worker.
//! Claimed idempotency keys are reported (`fault-worker: claim ...`) so the invariants check them as in
//! the in-process runs.

use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ledgerlink_domain::{Flow, TenantId};
use ledgerlink_ports::crash::{self, CrashPoint};
use ledgerlink_ports::{IdempotencyBegin, IdempotencyStore, StoreResult};
use ledgerlink_store_embedded::EmbeddedStore;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::clock::FileClock;
use super::world::{FaultWorld, MAX_RECEIVES, flow_context};
use crate::connections::{LocalSecrets, SecretValue};
use crate::{MessageOutcome, process_message};

/// The prefix of every line a worker process writes for its supervisor (other output is ignored).
const PREFIX: &str = "fault-worker: ";
/// The environment variable that makes a test binary's worker entry run as a worker.
pub const WORKER_ENV: &str = "LEDGERLINK_FAULT_WORKER";
/// Kills after which a slot's next worker no longer crashes (every round finishes).
const KILLS_PER_SLOT: u32 = 6;
const VISIBILITY: Duration = Duration::from_secs(60);
const RETRY: Duration = Duration::from_secs(20);

/// How to start a worker process: a program, its arguments and extra environment.
#[derive(Debug, Clone)]
pub struct Launcher {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl Launcher {
    /// The running executable again, with `args`.
    pub fn current_exe(args: &[&str]) -> Result<Self, String> {
        Ok(Self {
            program: std::env::current_exe()
                .map_err(|e| format!("cannot find the running executable: {e}"))?,
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            env: vec![(WORKER_ENV.into(), "1".into())],
        })
    }
}

/// Kills and passes per crash point over every world of a soak.
#[derive(Debug, Default)]
pub struct ProcessTally {
    kills: [AtomicU64; 6],
    passes: [AtomicU64; 6],
    started: AtomicU64,
}

impl ProcessTally {
    /// Worker processes killed with SIGKILL at each named crash point.
    pub fn kills(&self) -> Vec<(CrashPoint, u64)> {
        Self::per_point(&self.kills)
    }
    /// Crash points passed by worker processes (those that finished, and each kill's own point).
    pub fn passes(&self) -> Vec<(CrashPoint, u64)> {
        Self::per_point(&self.passes)
    }
    /// Worker processes started.
    pub fn started(&self) -> u64 {
        self.started.load(Ordering::Relaxed)
    }
    fn per_point(counts: &[AtomicU64; 6]) -> Vec<(CrashPoint, u64)> {
        CrashPoint::ALL
            .into_iter()
            .zip(counts.iter())
            .map(|(p, n)| (p, n.load(Ordering::Relaxed)))
            .collect()
    }
    fn index(point: CrashPoint) -> usize {
        CrashPoint::ALL
            .iter()
            .position(|p| *p == point)
            .unwrap_or_default()
    }
}

/// Worker processes for a soak: how to start them, how many work a queue side by side.
#[derive(Debug, Clone)]
pub struct ProcessPlan {
    pub launcher: Launcher,
    /// Worker processes per round of a queue.
    pub workers: u32,
    pub tally: Arc<ProcessTally>,
}

impl ProcessPlan {
    pub fn new(launcher: Launcher, workers: u32) -> Self {
        Self {
            launcher,
            workers: workers.max(1),
            tally: Arc::new(ProcessTally::default()),
        }
    }
}

/// What a worker process does.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum Role {
    /// Receives and processes the flow's messages until its queue has none visible.
    Work { flow: Flow, dup_per_mille: u32 },
    /// One discovery of the flow for the tenant.
    Discover { flow: Flow, tenant: TenantId },
}

/// What a worker process reads on its stdin.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct WorkerSpec {
    role: Role,
    db: PathBuf,
    clock: PathBuf,
    /// The tenants' secrets in their stored form (never in a file or an argument).
    secrets: Vec<(String, String)>,
    redirect_uri: String,
    seed: u64,
    /// Chance per crash point passed that the worker dies there.
    crash_per_mille: u32,
}

/// How a worker process ended.
#[derive(Debug)]
enum Ended {
    /// Killed with SIGKILL at the point it reported.
    Killed(CrashPoint),
    /// Exited by itself: `Ok`, or the failure it reported (retryable or not).
    Finished(Result<(), (bool, String)>),
}

/// The worker processes of one world.
#[derive(Debug)]
pub struct ProcessWorkers {
    plan: ProcessPlan,
    db: PathBuf,
    clock: PathBuf,
    redirect_uri: String,
}

impl ProcessWorkers {
    pub(crate) fn new(plan: ProcessPlan, db: PathBuf, clock: PathBuf, redirect_uri: &str) -> Self {
        Self {
            plan,
            db,
            clock,
            redirect_uri: redirect_uri.to_owned(),
        }
    }

    /// Starts one worker process and follows it to its end, killing it with SIGKILL when it reports a
    /// crash point.
    async fn run(
        &self,
        world: &FaultWorld,
        role: Role,
        seed: u64,
        crash_per_mille: u32,
    ) -> Result<Ended, String> {
        let spec = WorkerSpec {
            role,
            db: self.db.clone(),
            clock: self.clock.clone(),
            secrets: world.secret_entries(),
            redirect_uri: self.redirect_uri.clone(),
            seed,
            crash_per_mille,
        };
        let launcher = &self.plan.launcher;
        let mut child = tokio::process::Command::new(&launcher.program)
            .args(&launcher.args)
            .envs(launcher.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start a worker process: {e}"))?;
        self.plan.tally.started.fetch_add(1, Ordering::Relaxed);
        let body = serde_json::to_vec(&spec).map_err(|e| e.to_string())?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(&body)
                .await
                .map_err(|e| format!("cannot hand the worker its spec: {e}"))?;
        }
        let stdout = child
            .stdout
            .take()
            .ok_or("the worker process has no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let mut result = None;
        while let Some(line) = lines.next_line().await.map_err(|e| e.to_string())? {
            let Some(said) = line.strip_prefix(PREFIX) else {
                continue;
            };
            let (what, rest) = said.split_once(' ').unwrap_or((said, ""));
            match what {
                "claim" => {
                    if let Some((hash, key)) = rest.split_once(' ') {
                        world.claims.record(key, hash);
                    }
                }
                "crash" => {
                    let point = CrashPoint::parse(rest).ok_or_else(|| {
                        format!("a worker reported an unknown crash point {rest:?}")
                    })?;
                    // SIGKILL, right where it stopped: nothing of it unwinds, flushes or commits.
                    child.start_kill().map_err(|e| e.to_string())?;
                    child.wait().await.map_err(|e| e.to_string())?;
                    let i = ProcessTally::index(point);
                    self.plan.tally.kills[i].fetch_add(1, Ordering::Relaxed);
                    self.plan.tally.passes[i].fetch_add(1, Ordering::Relaxed);
                    return Ok(Ended::Killed(point));
                }
                "passes" => {
                    for (i, n) in rest
                        .split(' ')
                        .filter_map(|n| n.parse::<u64>().ok())
                        .enumerate()
                    {
                        if let Some(c) = self.plan.tally.passes.get(i) {
                            c.fetch_add(n, Ordering::Relaxed);
                        }
                    }
                }
                "ok" => result = Some(Ok(())),
                "retryable" => result = Some(Err((true, rest.to_owned()))),
                "permanent" => result = Some(Err((false, rest.to_owned()))),
                _ => {}
            }
        }
        let status = child.wait().await.map_err(|e| e.to_string())?;
        match result {
            Some(result) if status.success() => Ok(Ended::Finished(result)),
            _ => Err(format!(
                "a worker process ended without reporting ({status})"
            )),
        }
    }

    /// One round of a flow's queue: `workers` processes side by side; each one killed at a crash point is
    /// replaced by a new one (after [`KILLS_PER_SLOT`] kills, by one that does not crash) until every slot's
    /// worker found the queue empty.
    pub(crate) async fn round(
        &self,
        world: &FaultWorld,
        flow: Flow,
        rng: &mut StdRng,
        crash_per_mille: u32,
        dup_per_mille: u32,
    ) -> Result<(), String> {
        let seeds: Vec<u64> = (0..self.plan.workers).map(|_| rng.random()).collect();
        let slots = seeds.into_iter().map(|seed| async move {
            let mut rng = StdRng::seed_from_u64(seed);
            let mut kills = 0;
            loop {
                let crash = if kills < KILLS_PER_SLOT {
                    crash_per_mille
                } else {
                    0
                };
                let role = Role::Work {
                    flow,
                    dup_per_mille,
                };
                match self.run(world, role, rng.random(), crash).await? {
                    Ended::Killed(_) => kills += 1,
                    Ended::Finished(Ok(())) => return Ok::<_, String>(()),
                    Ended::Finished(Err((_, message))) => {
                        return Err(format!("a worker process of {flow} failed: {message}"));
                    }
                }
            }
        });
        for slot in futures::future::join_all(slots).await {
            slot?;
        }
        Ok(())
    }

    /// One discovery in a worker process (which may be killed after it saved a cursor): `Ok(Ok)` when it
    /// finished, `Ok(Err((retryable, why)))` when discovery failed, and `Err` when the harness cannot go on.
    pub(crate) async fn discover(
        &self,
        world: &FaultWorld,
        flow: Flow,
        tenant: &TenantId,
        seed: u64,
        crash_per_mille: u32,
    ) -> Result<Result<(), (bool, String)>, String> {
        let role = Role::Discover {
            flow,
            tenant: tenant.clone(),
        };
        match self.run(world, role, seed, crash_per_mille).await? {
            Ended::Killed(point) => Ok(Err((true, format!("killed at {}", point.name())))),
            Ended::Finished(result) => Ok(result),
        }
    }
}

/// One line to the supervisor (flushed: it may be the last thing this process does).
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{PREFIX}{line}");
    let _ = out.flush();
}

/// The body of a worker process: reads its [`WorkerSpec`] on stdin and does its role. The caller exits
/// with a failure code on `Err`.
pub fn worker_process_main() -> Result<(), String> {
    let mut input = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut input)
        .map_err(|e| format!("cannot read the worker spec: {e}"))?;
    let spec: WorkerSpec =
        serde_json::from_str(&input).map_err(|e| format!("not a worker spec: {e}"))?;
    let rng = std::sync::Mutex::new(StdRng::seed_from_u64(spec.seed));
    let crash_per_mille = spec.crash_per_mille;
    crash::set_hook(Some(Arc::new(move |point: CrashPoint| {
        let dies = rng
            .lock()
            .map(|mut r| r.random_range(0..1000) < crash_per_mille)
            .unwrap_or(false);
        if dies {
            say(&format!("crash {}", point.name()));
            // The supervisor kills this process now; should it be gone, do not outlive it.
            std::thread::sleep(Duration::from_secs(120));
            std::process::abort();
        }
    })));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let result = runtime.block_on(work(&spec));
    let passes: Vec<String> = crash::counts()
        .into_iter()
        .map(|(_, n)| n.to_string())
        .collect();
    say(&format!("passes {}", passes.join(" ")));
    match result {
        Ok(()) => say("ok"),
        Err((true, message)) => say(&format!("retryable {message}")),
        Err((false, message)) => say(&format!("permanent {message}")),
    }
    Ok(())
}

async fn work(spec: &WorkerSpec) -> Result<(), (bool, String)> {
    let fatal = |e: String| (false, e);
    let store = EmbeddedStore::open(&spec.db).map_err(|e| fatal(e.to_string()))?;
    let clock: ledgerlink_clock::SharedClock = Arc::new(
        FileClock::open(&spec.clock).map_err(|e| fatal(format!("the world's clock file: {e}")))?,
    );
    let mut stores = store.state_stores();
    stores.idempotency = Arc::new(ReportedClaims {
        inner: stores.idempotency.clone(),
    });
    let queue = store.queue_with_max_receives(clock.clone(), MAX_RECEIVES);
    let secrets = Arc::new(LocalSecrets::new());
    for (name, stored) in &spec.secrets {
        secrets.set_value(name.clone(), SecretValue::from_stored(stored));
    }
    let ctx = flow_context(stores, queue, secrets, clock, &spec.redirect_uri).map_err(fatal)?;
    match &spec.role {
        Role::Discover { flow, tenant } => crate::discover(&ctx, *flow, tenant)
            .await
            .map(|_| ())
            .map_err(|e| (e.is_retryable(), e.to_string())),
        Role::Work {
            flow,
            dup_per_mille,
        } => {
            let mut rng = StdRng::seed_from_u64(spec.seed ^ 0x5EED);
            let flow = *flow;
            let store_err = |e: ledgerlink_ports::StoreError| (false, e.to_string());
            for _ in 0..400 {
                let got = ctx
                    .queue
                    .receive(flow, rng.random_range(1..=10), VISIBILITY)
                    .await
                    .map_err(store_err)?;
                if got.is_empty() {
                    return Ok(());
                }
                for m in got {
                    if rng.random_range(0..1000) < *dup_per_mille {
                        ctx.send(flow, std::slice::from_ref(&m.message))
                            .await
                            .map_err(|e| (false, e.to_string()))?;
                    }
                    let settled = match process_message(&ctx, flow, &m.message).await {
                        Ok(MessageOutcome::Handled) => ctx.queue.ack(flow, &m.receipt).await,
                        Err(e) if !e.is_retryable() => {
                            return Err((
                                false,
                                format!("permanent failure of {:?}: {e}", m.message),
                            ));
                        }
                        Ok(MessageOutcome::RetryAt(until, _)) => {
                            crate::runner::delay_until(&ctx, flow, &m.message, until)
                                .await
                                .map_err(|e| (false, e.to_string()))?;
                            ctx.queue.ack(flow, &m.receipt).await
                        }
                        Ok(MessageOutcome::RetryLater(_)) | Err(_) => {
                            ctx.queue.retry_later(flow, &m.receipt, RETRY).await
                        }
                    };
                    match settled {
                        Ok(()) | Err(ledgerlink_ports::StoreError::NotFound { .. }) => {}
                        Err(e) => return Err(store_err(e)),
                    }
                }
            }
            Ok(())
        }
    }
}

/// The worker's idempotency store: reports every key it claims to the supervisor.
#[derive(Debug)]
struct ReportedClaims {
    inner: Arc<dyn IdempotencyStore>,
}

#[async_trait]
impl IdempotencyStore for ReportedClaims {
    async fn begin(
        &self,
        key: &str,
        payload_hash: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<IdempotencyBegin> {
        let begun = self.inner.begin(key, payload_hash, lease, now).await?;
        if matches!(begun, IdempotencyBegin::Started(_)) {
            say(&format!("claim {payload_hash} {key}"));
        }
        Ok(begun)
    }
    async fn complete(
        &self,
        key: &str,
        fence: u64,
        payload_hash: &str,
        result: &serde_json::Value,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.inner
            .complete(key, fence, payload_hash, result, expires_at)
            .await
    }
    async fn release(&self, key: &str, fence: u64) -> StoreResult<()> {
        self.inner.release(key, fence).await
    }
}
