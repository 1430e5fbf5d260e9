//! The main job: the whole Ledgerlink product on this machine — embedded store, both ERP emulators with demo
//! data, the demo tenant, the HTTP API and operator page, the schedules and the queue workers. Wiring only;
//! everything is in the library modules.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use ledgerlink::{Options, Stack, logging, rounds};
use tokio::sync::watch;

#[tokio::main]
async fn main() -> ExitCode {
    let options = Options::parse();
    if let Some(ledgerlink::cli::Command::Admin(args)) = &options.command {
        return admin(args).await;
    }
    if options.reset
        && let Err(e) = ledgerlink::stack::wipe(&options.data_dir)
    {
        eprintln!("ledgerlink: {e:#}");
        return ExitCode::FAILURE;
    }
    let logs = match logging::init(&options.data_dir) {
        Ok(where_to) => where_to,
        Err(e) => {
            eprintln!(
                "ledgerlink: cannot write logs in {}: {e}",
                options.data_dir.display()
            );
            return ExitCode::FAILURE;
        }
    };
    match run(
        Options {
            reset: false,
            ..options
        },
        &logs,
    )
    .await
    {
        Ok(code) => code,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "the local stack failed");
            eprintln!("ledgerlink: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `ledgerlink admin ...`: its output on stdout, a clear error on stderr (exit code 1).
async fn admin(args: &ledgerlink::admin::AdminArgs) -> ExitCode {
    let mut out = std::io::stdout();
    match ledgerlink::admin::run(args, &mut out).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ledgerlink admin: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(options: Options, logs: &str) -> anyhow::Result<ExitCode> {
    let once = options.once;
    let interval = options.interval();
    println!(
        "Ledgerlink local stack — starting (data in {}, logs in {logs})",
        options.data_dir.display()
    );
    let stack = Stack::start(options).await?;
    if stack.resumed {
        println!(
            "  Continuing on an earlier run's state: the emulators start afresh with the same demo data, and what \
             was synced before is not sent again (--reset starts a fresh demo)."
        );
    }
    let (exact, vp) = stack.emulator_urls();
    println!(
        "  Exact Online emulator  {exact}  (division {})",
        stack.division
    );
    println!("  Vantagepoint emulator  {vp}");
    let consent = &stack.exact_consent;
    println!(
        "  Exact consent          through the API's consent routes: division {} ({})",
        consent.division, consent.division_name
    );
    match (&consent.webhook_callback, consent.webhooks.as_str()) {
        (Some(callback), "subscribed") => {
            println!("  Exact webhooks         BankEntries → {callback} (payments arrive at once)")
        }
        _ => println!(
            "  Exact webhooks         not subscribed ({}); payments arrive at the next poll",
            consent.webhook_error.as_deref().unwrap_or("unknown reason")
        ),
    }
    println!(
        "  API                    {}/api  (Authorization: Bearer <the key in the link below>)",
        stack.api_url
    );
    println!("  Operator page          {}", stack.page_url());
    if once {
        let report = tokio::select! {
            report = rounds::round(&stack, 1, true) => Some(report),
            _ = tokio::signal::ctrl_c() => None,
        };
        stack.shutdown().await;
        let Some(report) = report else {
            println!("Interrupted.");
            return Ok(ExitCode::from(130));
        };
        let report = report?;
        return Ok(if report.failed() {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        });
    }
    println!(
        "  Schedules              a round of every flow and the job clean-up every {} s; workers drain \
         what the API and webhooks queue in between",
        interval.as_secs()
    );
    let stack = Arc::new(stack);
    let (stop, stopped) = watch::channel(false);
    let ctrl_c = tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        let _ = stop.send(true);
    });
    let result = rounds::run_forever(stack.clone(), interval, stopped).await;
    ctrl_c.abort();
    println!("Stopping…");
    match Arc::try_unwrap(stack) {
        Ok(stack) => stack.shutdown().await,
        Err(_) => tracing::warn!("a worker still held the stack; exiting without a graceful stop"),
    }
    result?;
    println!("Stopped.");
    Ok(ExitCode::SUCCESS)
}
