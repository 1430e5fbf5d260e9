//! Standalone Exact Online emulator for the local stack and third-party client checks.
//!
//! `exact-emulator [--port N] [--seed N] [--no-demo] [--base-url URL]` serves on 127.0.0.1, loads the
//! deterministic demo data set (unless `--no-demo`), and prints the base URL and the demo app's credentials as
//! one JSON line on stdout, so a parent process can read them. Stops on Ctrl-C or when stdin closes
//! (`--stdin-watchdog`).
//!
//! `--base-url https://start.exactonline.nl` makes every link the emulator writes (`__metadata.uri`, `__next`,
//! `__deferred`, webhook `ExactOnlineEndpoint`, the printed auth/token URLs) carry that host instead of the
//! listening address — for clients that insist on a fixed host and reach the emulator through a proxy or a
//! hosts-file entry. The emulator still listens on 127.0.0.1.

use std::net::SocketAddr;

use ledgerlink_emulators::exact::demo::{DemoSpec, generate};
use ledgerlink_emulators::exact::{ExactConfig, ExactEmulator};

struct Args {
    port: u16,
    seed: u64,
    demo: bool,
    stdin_watchdog: bool,
    base_url: Option<String>,
}

/// An absolute http(s) URL without query or fragment, kept without a trailing slash.
fn parse_base_url(v: &str) -> Result<String, String> {
    let url = url::Url::parse(v).map_err(|e| format!("--base-url {v}: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!(
            "--base-url {v}: expected an http(s) URL with a host"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("--base-url {v}: no query or fragment allowed"));
    }
    Ok(v.trim_end_matches('/').to_owned())
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        port: 0,
        seed: 42,
        demo: true,
        stdin_watchdog: false,
        base_url: None,
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
            "--base-url" => {
                args.base_url = Some(parse_base_url(&it.next().ok_or("--base-url needs a URL")?)?)
            }
            "--stdin-watchdog" => args.stdin_watchdog = true,
            "-h" | "--help" => {
                return Err(
                    "usage: exact-emulator [--port N] [--seed N] [--no-demo] [--base-url URL] [--stdin-watchdog]"
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
        base_url: args.base_url.clone(),
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
    let listening = server.base_url();
    let base = args.base_url.clone().unwrap_or_else(|| listening.clone());
    let mut info = serde_json::json!({ "base_url": base, "listening": listening });
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
    eprintln!(
        "Exact Online emulator listening on {listening} (links name {base}; admin: {listening}/__emulator/counters)"
    );
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
