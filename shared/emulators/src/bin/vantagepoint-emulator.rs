//! Standalone Deltek Vantagepoint emulator for the local stack: `vantagepoint-emulator --port 7070 --seed 42`.
//! Loads the deterministic demo data (unless `--no-demo`), prints the base URL and the API credentials, and
//! serves until Ctrl-C. Admin endpoints live under `/__emulator/...`.

use std::net::SocketAddr;
use std::process::ExitCode;

use ledgerlink_emulators::vantagepoint::demo::DemoOptions;
use ledgerlink_emulators::vantagepoint::{VantagepointConfig, VantagepointEmulator};

struct Args {
    port: u16,
    seed: u64,
    demo: bool,
    instance: String,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        port: 7070,
        seed: 42,
        demo: true,
        instance: "/vantagepoint".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--port" => {
                args.port = value("--port")?
                    .parse()
                    .map_err(|_| "--port must be a number".to_owned())?
            }
            "--seed" => {
                args.seed = value("--seed")?
                    .parse()
                    .map_err(|_| "--seed must be a number".to_owned())?
            }
            "--instance" => args.instance = value("--instance")?,
            "--no-demo" => args.demo = false,
            "--help" | "-h" => {
                return Err("usage: vantagepoint-emulator [--port 7070] [--seed 42] [--instance /vantagepoint] [--no-demo]".into());
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let config = VantagepointConfig {
        instance_path: args.instance,
        seed: args.seed,
        ..VantagepointConfig::default()
    };
    let emulator = VantagepointEmulator::new(config.clone());
    let options = DemoOptions {
        seed: args.seed,
        ..DemoOptions::default()
    };
    if args.demo {
        match emulator.load_demo(&options) {
            Ok(summary) => println!(
                "demo data: {} firms, {} invoices, active period {}",
                summary.client_ids.len(),
                summary.invoices.len(),
                summary.active_period
            ),
            Err(e) => {
                eprintln!("could not load demo data: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let server = match emulator
        .serve_on(SocketAddr::from(([127, 0, 0, 1], args.port)))
        .await
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("could not bind port {}: {e}", args.port);
            return ExitCode::FAILURE;
        }
    };
    // Printing the demo credentials is the point of this banner: they are fixed, local-only test values.
    println!("Vantagepoint emulator listening");
    println!("  base URL:      {}", emulator.api_base(&server));
    println!("  vision URL:    {}", emulator.vision_base(&server));
    println!("  database:      {}", config.database);
    println!("  client_id:     {}", config.client_id);
    println!("  client_secret: {}", config.client_secret);
    if args.demo {
        println!("  username:      {}", options.username);
        println!("  password:      {}", options.password);
    }
    println!("  admin:         {}/__emulator/counters", server.base_url());
    let _ = tokio::signal::ctrl_c().await;
    server.shutdown().await;
    ExitCode::SUCCESS
}
