//! Real processes sharing one database file: the test binary re-runs itself as two children that start at
//! the same instant and race, round after round, for token leases and for one rate budget. Only SQLite's
//! file locking can keep the totals right, since the processes share no memory.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ledgerlink_ports::contract::{at, race};
use ledgerlink_ports::{LeaseOutcome, RateBudget, RateDecision, RateLimits, TokenStore};
use ledgerlink_store_embedded::EmbeddedStore;

use crate::helpers::spawn_store;

const DB_ENV: &str = "LEDGERLINK_EMBEDDED_CHILD_DB";
const START_ENV: &str = "LEDGERLINK_EMBEDDED_CHILD_START_MS";
const CHILD_TEST: &str = "processes::child_process_races_for_leases_and_the_budget";
/// Lease rounds: in each, both processes race two tasks for a fresh connection's lease.
const ROUNDS: usize = 100;
/// Rate acquires per process (4 tasks × 50).
const ACQUIRES_PER_CHILD: usize = 200;
/// The minute budget: less than the 400 attempts of both processes together.
const PER_MINUTE: u32 = 300;

fn unix_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

/// Run only as a child of the test below (it reads the database path and start instant from the environment).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "child process of two_processes_on_one_file_share_leases_and_one_budget"]
async fn child_process_races_for_leases_and_the_budget() {
    let store = EmbeddedStore::open(std::env::var(DB_ENV).unwrap()).unwrap();
    let start: u128 = std::env::var(START_ENV).unwrap().parse().unwrap();
    let tokens: Arc<dyn TokenStore> = store.tokens();
    let rate: Arc<dyn RateBudget> = store.rate();
    let pid = std::process::id();
    tokio::time::sleep(Duration::from_millis(start.saturating_sub(unix_ms()) as u64)).await;

    let mut acquired = 0;
    let mut errors = Vec::new();
    for round in 0..ROUNDS {
        let outcomes = race(2, |i| {
            let tokens = tokens.clone();
            async move {
                let connection = format!("exact:round-{round}");
                tokens
                    .try_lease(
                        &connection,
                        &format!("{pid}-{i}"),
                        Duration::from_secs(30),
                        at(0),
                    )
                    .await
            }
        })
        .await;
        for outcome in outcomes {
            match outcome {
                Ok(LeaseOutcome::Acquired) => acquired += 1,
                Ok(LeaseOutcome::HeldByOther { .. }) => {}
                Err(e) => errors.push(e.to_string()),
            }
        }
    }
    let limits = RateLimits {
        per_minute: PER_MINUTE,
        per_day: 5000,
    };
    let batches = race(4, |_| {
        let rate = rate.clone();
        async move {
            let mut results = Vec::new();
            for _ in 0..ACQUIRES_PER_CHILD / 4 {
                results.push(rate.acquire("client-1", limits, at(1)).await);
            }
            results
        }
    })
    .await;
    let mut granted = 0;
    for outcome in batches.into_iter().flatten() {
        match outcome {
            Ok(RateDecision::Granted) => granted += 1,
            Ok(RateDecision::WaitUntil { .. }) => {}
            Err(e) => errors.push(e.to_string()),
        }
    }

    assert!(
        errors.is_empty(),
        "every call must get an answer, got errors: {errors:?}"
    );
    println!("RESULT acquired={acquired} granted={granted}");
}

fn field(stdout: &str, name: &str) -> usize {
    // The test harness may print the test's name on the same line first.
    let line = stdout
        .lines()
        .find_map(|l| l.find("RESULT ").map(|at| &l[at..]))
        .unwrap_or_else(|| panic!("no RESULT in {stdout}"));
    let value = line
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .unwrap();
    value.parse().unwrap()
}

#[test]
fn two_processes_on_one_file_share_leases_and_one_budget() {
    let fresh = spawn_store();
    let path = fresh.dir.path().join("state.db");
    let exe = std::env::current_exe().unwrap();
    // Both children wait for the same instant, so their rounds overlap.
    let start = unix_ms() + 700;

    let children: Vec<_> = (0..2)
        .map(|_| {
            Command::new(&exe)
                .args([
                    CHILD_TEST,
                    "--exact",
                    "--ignored",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(DB_ENV, &path)
                .env(START_ENV, start.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<_> = children
        .into_iter()
        .map(|child| child.wait_with_output().unwrap())
        .collect();

    let mut acquired = 0;
    let mut granted = 0;
    for output in &outputs {
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "child failed: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        acquired += field(&stdout, "acquired");
        granted += field(&stdout, "granted");
    }
    assert_eq!(
        acquired, ROUNDS,
        "in every round exactly one task of both processes must get the lease"
    );
    assert_eq!(
        granted, PER_MINUTE as usize,
        "both processes together must be granted exactly the minute budget"
    );
}
