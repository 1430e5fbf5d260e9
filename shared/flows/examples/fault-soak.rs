//! The fault soak: many randomised fault runs (see `ledgerlink_flows::fault_harness`), on the embedded store
//! or on the AWS adapters against moto's server, with the invariants checked after every run.
//!
//! ```text
//! cargo run --release -p ledgerlink-flows --example fault-soak -- --runs 300 [--seed 7] [--store embedded|aws] [--lanes 3]
//! ```
//!
//! Its last line is `fault-soak: runs=N duplicates=D lost=L stranded=S pending=P crash_points=H/T seed=X`;
//! it exits non-zero when any count is above zero or a named crash point was never passed. A failing run is
//! printed with its own seed: `--seed <run seed> --runs 1` replays it (as does the fault test with
//! `LEDGERLINK_FAULT_SEED=<run seed> LEDGERLINK_FAULT_RUNS=1`).

use std::process::ExitCode;

use ledgerlink_flows::fault_harness::{SoakConfig, StoreKind, soak};

const USAGE: &str = "usage: fault-soak --runs N [--seed S] [--store embedded|aws] [--lanes L]";

fn parse() -> Result<SoakConfig, String> {
    let mut runs = None;
    let mut seed = None;
    let mut store = StoreKind::Embedded;
    let mut lanes = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--runs" => runs = Some(number(&value("--runs")?, "--runs")?),
            "--seed" => seed = Some(number(&value("--seed")?, "--seed")?),
            "--lanes" => lanes = Some(number(&value("--lanes")?, "--lanes")?),
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
    Ok(config)
}

fn number(text: &str, name: &str) -> Result<u64, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("{name} must be a whole number, not {text:?}"))
}

fn main() -> ExitCode {
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
        "fault-soak: {} runs on the {} store, {} lanes, seed {}",
        config.runs,
        config.store.name(),
        config.lanes,
        config.seed
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
    println!("{}", report.summary_line());
    if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
