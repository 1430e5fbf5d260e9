//! The fault soak: many randomised fault runs (see `ledgerlink_flows::fault_harness`), on the embedded store
//! or on the AWS adapters against moto's server, with the invariants checked after every run.
//!
//! ```text
//! cargo run --release -p ledgerlink-flows --example fault-soak -- --runs 300 [--seed 7] [--store embedded|aws] [--lanes 3]
//! cargo run --release -p ledgerlink-flows --example fault-soak -- --runs 50 --workers-as-processes 2
//! ```
//!
//! `--workers-as-processes K`: on the embedded store, each queue round is worked by K worker processes (this
//! executable again, `--fault-worker`) sharing the SQLite file and the world's clock; a worker that reaches a
//! crash point at its seeded chance is killed with SIGKILL there and a new one started. Then
//! `crash_points=H/T` counts the points where a worker process was killed at least once.
//!
//! Its last line is `fault-soak: runs=N duplicates=D lost=L stranded=S pending=P crash_points=H/T seed=X`;
//! it exits non-zero when any count is above zero or a named crash point was never passed. A failing run is
//! printed with its own seed: `--seed <run seed> --runs 1` replays it (as does the fault test with
//! `LEDGERLINK_FAULT_SEED=<run seed> LEDGERLINK_FAULT_RUNS=1`).

use std::process::ExitCode;

use ledgerlink_flows::fault_harness::{
    Launcher, ProcessPlan, SoakConfig, StoreKind, soak, worker_process_main,
};

const USAGE: &str = "usage: fault-soak --runs N [--seed S] [--store embedded|aws] [--lanes L] [--workers-as-processes K]";

fn parse() -> Result<SoakConfig, String> {
    let mut runs = None;
    let mut seed = None;
    let mut store = StoreKind::Embedded;
    let mut lanes = None;
    let mut processes = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--runs" => runs = Some(number(&value("--runs")?, "--runs")?),
            "--seed" => seed = Some(number(&value("--seed")?, "--seed")?),
            "--lanes" => lanes = Some(number(&value("--lanes")?, "--lanes")?),
            "--workers-as-processes" => {
                let k = number(&value("--workers-as-processes")?, "--workers-as-processes")?;
                processes = Some(u32::try_from(k.clamp(1, 8)).unwrap_or(1));
            }
            "--store" => {
                let text = value("--store")?;
                store = StoreKind::parse(&text)
                    .ok_or_else(|| format!("--store must be embedded or aws, not {text:?}"))?;
            }
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    let runs = runs.ok_or_else(|| format!("--runs is required\n{USAGE}"))?;
    if runs == 0 {
        return Err("--runs must be at least 1".into());
    }
    let seed = seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(7)
    });
    let mut config = SoakConfig::new(store, runs, seed);
    if let Some(lanes) = lanes {
        config.lanes = lanes;
    }
    if let Some(workers) = processes {
        if store != StoreKind::Embedded {
            return Err(
                "--workers-as-processes needs --store embedded (the processes share its file)"
                    .into(),
            );
        }
        let launcher = Launcher::current_exe(&["--fault-worker"])?;
        config.processes = Some(ProcessPlan::new(launcher, workers));
        if lanes.is_none() {
            config.lanes = 2;
        }
    }
    Ok(config)
}

fn number(text: &str, name: &str) -> Result<u64, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("{name} must be a whole number, not {text:?}"))
}

fn main() -> ExitCode {
    // A worker process of `--workers-as-processes` (its spec on stdin).
    if std::env::args().nth(1).as_deref() == Some("--fault-worker") {
        return match worker_process_main() {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("fault-soak worker: {message}");
                ExitCode::from(2)
            }
        };
    }
    let config = match parse() {
        Ok(config) => config,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("fault-soak: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    println!(
        "fault-soak: {} runs on the {} store, {} lanes, seed {}{}",
        config.runs,
        config.store.name(),
        config.lanes,
        config.seed,
        config
            .processes
            .as_ref()
            .map(|p| format!(", {} worker processes per queue round", p.workers))
            .unwrap_or_default()
    );
    let report = match runtime.block_on(soak(&config)) {
        Ok(report) => report,
        Err(message) => {
            eprintln!("fault-soak: the soak could not run: {message}");
            return ExitCode::from(2);
        }
    };
    for (run, seed, messages) in &report.failures {
        println!(
            "fault-soak: run {run} (replay: --runs 1 --seed {seed} --store {}):",
            config.store.name()
        );
        for m in messages {
            println!("  {m}");
        }
    }
    println!(
        "fault-soak: {} runs in {:.1?}; {:?}",
        report.runs, report.wall, report.counts
    );
    println!(
        "fault-soak: crash points passed: {}",
        report
            .crash_points
            .iter()
            .map(|(p, n)| format!("{}={n}", p.name()))
            .collect::<Vec<_>>()
            .join(" ")
    );
    if let Some((kills, started)) = &report.kills {
        println!(
            "fault-soak: {started} worker processes started; killed with SIGKILL at: {}",
            kills
                .iter()
                .map(|(p, n)| format!("{}={n}", p.name()))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    println!("{}", report.summary_line());
    if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
