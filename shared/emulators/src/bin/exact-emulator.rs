//! Standalone Exact Online emulator for the local stack and third-party client checks.
//!
//! `exact-emulator [--port N] [--seed N] [--no-demo]` serves on 127.0.0.1, loads the deterministic demo data
//! set (unless `--no-demo`), and prints the base URL and the demo app's credentials as one JSON line on stdout,
//! so a parent process can read them. Stops on Ctrl-C or when stdin closes (`--stdin-watchdog`).

use std::net::SocketAddr;

use ledgerlink_emulators::exact::demo::{DemoSpec, generate};
use ledgerlink_emulators::exact::{ExactConfig, ExactEmulator};

struct Args {
    port: u16,
    seed: u64,
    demo: bool,
    stdin_watchdog: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        port: 0,
        seed: 42,
        demo: true,
        stdin_watchdog: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--port" => {
                args.port = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--port needs a number")?
            }
            "--seed" => {
                args.seed = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--seed needs a number")?
            }
            "--no-demo" => args.demo = false,
            "--stdin-watchdog" => args.stdin_watchdog = true,
            "-h" | "--help" => {
                return Err(
                    "usage: exact-emulator [--port N] [--seed N] [--no-demo] [--stdin-watchdog]"
                        .into(),
                );
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::from(2);
        }
    };
    let emu = ExactEmulator::new(ExactConfig {
        seed: args.seed,
        ..ExactConfig::default()
    });
    let server = match emu
        .spawn_on(SocketAddr::from(([127, 0, 0, 1], args.port)))
        .await
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot bind 127.0.0.1:{}: {e}", args.port);
            return std::process::ExitCode::from(1);
        }
    };
    let base = server.base_url();
    let mut info = serde_json::json!({ "base_url": base });
    if args.demo {
        match generate(
            &emu,
            &DemoSpec {
                seed: args.seed,
                ..DemoSpec::default()
            },
        ) {
            Ok(demo) => {
                info["demo"] = serde_json::to_value(&demo).unwrap_or_default();
                info["auth_url"] = serde_json::Value::String(format!("{base}/api/oauth2/auth"));
                info["token_url"] = serde_json::Value::String(format!("{base}/api/oauth2/token"));
            }
            Err(e) => {
                eprintln!("demo data failed: {e}");
                return std::process::ExitCode::from(1);
            }
        }
    }
    // One JSON line a parent process can read; a closed stdout (the reader went away) is not a crash.
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{info}");
        let _ = out.flush();
    }
    eprintln!("Exact Online emulator listening on {base} (admin: {base}/__emulator/counters)");
    let stop = async {
        if args.stdin_watchdog {
            // Blocking read on a thread: returns when the parent closes our stdin (or dies).
            let _ = tokio::task::spawn_blocking(|| {
                let mut buf = [0u8; 64];
                let mut stdin = std::io::stdin();
                while matches!(std::io::Read::read(&mut stdin, &mut buf), Ok(n) if n > 0) {}
            })
            .await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = stop => {}
    }
    server.shutdown().await;
    std::process::ExitCode::SUCCESS
}
