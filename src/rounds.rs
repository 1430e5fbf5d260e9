//! Rounds, schedules and workers.
//!
//! A ROUND runs every sync flow in dependency order — firm-sync (accounts and set-up lists first, since
//! documents name them), invoice-out, voucher-out, then payment-in — each as DISCOVER (for every tenant)
//! followed by a DRAIN of its queue through the flows' PROCESS use case, and prints one progress line per
//! flow and a summary. In the first round the demo registers a few payments in Exact between voucher-out and
//! payment-in, so payment-in brings cash receipts and payments back to Vantagepoint.
//!
//! The long-running mode repeats the round on the schedule (every five minutes, `--fast` /
//! `--interval-secs` compress it), runs the stuck-job clean-up with it, and keeps one worker per queue
//! draining what the API and webhooks enqueue in between (Synchronize, Force synchronize, exports, imports).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ledgerlink_domain::{Flow, SyncStatus, TenantId};
use ledgerlink_jobs::job::job_of_message;
use ledgerlink_jobs::{Exporter, Importer};
use serde::Serialize;
use tokio::sync::watch;

use crate::demo;
use crate::stack::Stack;
use crate::summary::{Summary, all_statuses};

/// The flows of a round, in the order their data depends on each other.
pub const ROUND_ORDER: [Flow; 4] = [
    Flow::FirmSync,
    Flow::InvoiceOut,
    Flow::VoucherOut,
    Flow::PaymentIn,
];
/// Receives one drain may make (10 messages each).
const DRAIN_RECEIVES: usize = 500;
/// How long a received message stays hidden from other workers.
const VISIBILITY: Duration = Duration::from_secs(120);
/// When a message that must be retried comes back. A drain waits twice this long on an empty queue
/// (for such retries) before it ends, so it is short: the emulators answer at once.
const RETRY_DELAY: Duration = Duration::from_millis(300);
/// How often the workers look at their queues.
const WORKER_POLL: Duration = Duration::from_secs(1);
/// Stuck jobs failed per clean-up run.
const CLEAN_UP_LIMIT: u32 = 200;
/// The summary file in the data dir (the last round's summary, as JSON).
pub const SUMMARY_FILE: &str = "summary.json";

/// What one flow did in a round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowProgress {
    pub flow: Flow,
    /// Objects (or discovery messages) enqueued by the discovery.
    pub discovered: usize,
    /// Messages handled by the drain.
    pub processed: usize,
    /// Messages that will be retried.
    pub retried: usize,
    /// Objects of this flow that went to Error in this round.
    pub errors: usize,
    /// Why the discovery or the drain itself failed (not an object's error).
    pub failure: Option<String>,
    pub millis: u128,
}

impl fmt::Display for FlowProgress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "  {:<12} discovered {:>3}, processed {:>3}, errors {:>2}",
            self.flow.to_string(),
            self.discovered,
            self.processed,
            self.errors
        )?;
        if self.retried > 0 {
            write!(f, ", retrying {}", self.retried)?;
        }
        write!(
            f,
            "  ({}.{} s)",
            self.millis / 1000,
            self.millis % 1000 / 100
        )?;
        if let Some(failure) = &self.failure {
            write!(f, "  FAILED: {failure}")?;
        }
        Ok(())
    }
}

/// What one round did.
#[derive(Debug, Clone, Serialize)]
pub struct RoundReport {
    pub round: u64,
    pub flows: Vec<FlowProgress>,
    /// Payments the demo registered in Exact during this round.
    pub payments_registered: Vec<String>,
    pub summary: Summary,
    /// The demo export the first round runs (a demo definition, so the export history is not empty).
    pub export: Option<crate::exports::ExportReport>,
    /// Why the demo export could not run, when it could not.
    pub export_failure: Option<String>,
}

impl RoundReport {
    /// Whether a discovery or a drain failed (objects in Error are results, not failures of the round).
    pub fn failed(&self) -> bool {
        self.flows.iter().any(|f| f.failure.is_some())
            || self.export_failure.is_some()
            || self.export.as_ref().is_some_and(|e| e.status != "finished")
    }
}

async fn errors_of(stack: &Stack, flow: Flow) -> usize {
    match all_statuses(&stack.ctx.stores, &stack.tenant).await {
        Ok(all) => all
            .iter()
            .filter(|s| s.status == SyncStatus::Error && s.object.object_type.flow() == flow)
            .count(),
        Err(e) => {
            tracing::warn!(error = %e, "could not count the errors");
            0
        }
    }
}

/// DISCOVER (every tenant) then DRAIN one flow, holding the flow's lock.
pub async fn run_flow(stack: &Stack, flow: Flow) -> FlowProgress {
    let _turn = stack.locks.of(flow).lock().await;
    let started = Instant::now();
    let errors_before = errors_of(stack, flow).await;
    let mut progress = FlowProgress {
        flow,
        discovered: 0,
        processed: 0,
        retried: 0,
        errors: 0,
        failure: None,
        millis: 0,
    };
    match ledgerlink_flows::discover_all(&stack.ctx, flow).await {
        Ok(tenants) => {
            for (tenant, result) in tenants {
                match result {
                    Ok(found) if found.skipped_paused => {
                        progress.failure =
                            Some(format!("tenant {tenant} is paused (see the operator page)"));
                    }
                    Ok(found) => progress.discovered += found.enqueued,
                    Err(e) => progress.failure = Some(format!("tenant {tenant}: {e}")),
                }
            }
        }
        Err(e) => progress.failure = Some(e.to_string()),
    }
    // As every scheduled run in AWS: dead letters redriven, stalled objects sent again or given up.
    if let Err(e) = ledgerlink_flows::sweeper::sweep(&stack.ctx, flow).await {
        progress.failure = Some(format!("sweep: {e}"));
    }
    match ledgerlink_flows::drain(&stack.ctx, flow, DRAIN_RECEIVES, VISIBILITY, RETRY_DELAY).await {
        Ok(report) => {
            progress.processed = report.handled;
            progress.retried = report.retried;
        }
        Err(e) => {
            progress
                .failure
                .get_or_insert_with(|| format!("draining the queue: {e}"));
        }
    }
    progress.errors = errors_of(stack, flow).await.saturating_sub(errors_before);
    progress.millis = started.elapsed().as_millis();
    if let Some(failure) = &progress.failure {
        tracing::error!(flow = %flow, failure = %failure, "round step failed");
    }
    progress
}

/// The summary now: the status store of the demo tenant and the emulators' counts since the start.
pub async fn summary(stack: &Stack) -> anyhow::Result<Summary> {
    let statuses = all_statuses(&stack.ctx.stores, &stack.tenant).await?;
    Ok(Summary::build(&statuses, stack.emulator_counts())
        .with_emulator_totals(stack.emulator_totals())
        .with_cases(
            &demo::cases(&stack.vp_demo),
            &statuses,
            &stack.data_dir.join(crate::stack::MAIL_DIR),
        ))
}

/// One full round; prints progress lines and the summary, and writes `summary.json`.
pub async fn round(
    stack: &Stack,
    number: u64,
    register_payments: bool,
) -> anyhow::Result<RoundReport> {
    round_after(stack, number, register_payments, None).await
}

/// A round; on the schedule (`previous` given), one that found nothing and changed nothing since the
/// previous summary prints one line instead of its progress and summary.
async fn round_after(
    stack: &Stack,
    number: u64,
    register_payments: bool,
    previous: Option<&Summary>,
) -> anyhow::Result<RoundReport> {
    let mut flows = Vec::new();
    let mut payments_registered = Vec::new();
    let mut lines = vec![format!("Round {number}:")];
    for flow in ROUND_ORDER {
        if flow == Flow::PaymentIn && register_payments {
            let record = stack.ctx.tenant(&stack.tenant).await?;
            payments_registered =
                demo::register_payments(&stack.ctx, &stack.exact, &record).await?;
            lines.push(format!(
                "  {:<12} a bookkeeper registered {} payments in Exact Online",
                "(demo)",
                payments_registered.len()
            ));
        }
        let progress = run_flow(stack, flow).await;
        lines.push(progress.to_string());
        if previous.is_none() {
            // The first round prints as it goes; later ones wait to know whether anything happened.
            for line in lines.drain(..) {
                println!("{line}");
            }
        }
        flows.push(progress);
    }
    let (export, export_failure) = if number == 1 {
        let _turn = stack.locks.of(Flow::ExportJob).lock().await;
        match crate::exports::run_first_export(
            &stack.jobs,
            &stack.tenant,
            &stack.data_dir.join("files"),
        )
        .await
        {
            Ok(report) => (report, None),
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "the demo export failed");
                (None, Some(format!("{e:#}")))
            }
        }
    } else {
        (None, None)
    };
    let summary = summary(stack).await?;
    let idle = flows
        .iter()
        .all(|f| f.discovered == 0 && f.processed == 0 && f.failure.is_none());
    match previous {
        Some(before) if idle && *before == summary => println!(
            "Round {number}: nothing new ({} success, {} error)",
            summary.count(SyncStatus::Success),
            summary.count(SyncStatus::Error)
        ),
        _ => {
            for line in lines {
                println!("{line}");
            }
            println!("Summary after round {number}:");
            print!("{summary}");
            if let Some(export) = &export {
                print!("{export}");
            }
            if let Some(failure) = &export_failure {
                println!("  Export       : FAILED: {failure}");
            }
        }
    }
    let report = RoundReport {
        round: number,
        flows,
        payments_registered,
        summary,
        export,
        export_failure,
    };
    let path = stack.data_dir.join(SUMMARY_FILE);
    if let Err(e) = std::fs::write(&path, serde_json::to_vec_pretty(&report)?) {
        tracing::warn!(error = %e, path = %path.display(), "could not write the summary file");
    }
    Ok(report)
}

/// Drains a flow's queue between rounds (work the API or a webhook enqueued).
async fn flow_worker(stack: Arc<Stack>, flow: Flow, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            () = tokio::time::sleep(WORKER_POLL) => {}
        }
        if !matches!(stack.ctx.queue.depth(flow).await, Ok(n) if n > 0) {
            continue;
        }
        let errors_before = errors_of(&stack, flow).await;
        let drained = {
            let _turn = stack.locks.of(flow).lock().await;
            ledgerlink_flows::drain(&stack.ctx, flow, DRAIN_RECEIVES, VISIBILITY, RETRY_DELAY).await
        };
        match drained {
            Ok(report) if report.received > 0 => {
                let errors = errors_of(&stack, flow).await.saturating_sub(errors_before);
                println!(
                    "  {:<12} processed {:>3}, errors {:>2}  (queued by the API or a webhook)",
                    flow.to_string(),
                    report.handled,
                    errors
                );
            }
            Ok(_) => {}
            Err(e) => tracing::error!(flow = %flow, error = %e, "worker drain failed"),
        }
    }
}

/// Runs export and import jobs queued through the API, one message at a time.
async fn job_worker(stack: Arc<Stack>, mut stop: watch::Receiver<bool>) {
    let exporter = Exporter::new(stack.jobs.clone());
    let importer = Importer::new(stack.jobs.clone());
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            () = tokio::time::sleep(WORKER_POLL) => {}
        }
        for queue in [Flow::ExportJob, Flow::ImportJob] {
            let received = match stack
                .ctx
                .queue
                .receive(queue, 1, Duration::from_secs(900))
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(queue = %queue, error = %e, "receiving jobs failed");
                    continue;
                }
            };
            for message in received {
                let outcome = match job_of_message(&message.message) {
                    Ok((tenant, id)) => run_job(&exporter, &importer, queue, &tenant, &id).await,
                    Err(e) => Err(e.to_string()),
                };
                let settled = match outcome {
                    Ok(line) => {
                        println!("  {:<12} {line}", queue.to_string());
                        stack.ctx.queue.ack(queue, &message.receipt).await
                    }
                    Err(e) => {
                        tracing::error!(queue = %queue, error = %e, "job failed; it will be retried");
                        stack
                            .ctx
                            .queue
                            .retry_later(queue, &message.receipt, RETRY_DELAY)
                            .await
                    }
                };
                if let Err(e) = settled {
                    tracing::warn!(queue = %queue, error = %e, "could not settle a job message");
                }
            }
        }
    }
}

async fn run_job(
    exporter: &Exporter,
    importer: &Importer,
    queue: Flow,
    tenant: &TenantId,
    id: &str,
) -> Result<String, String> {
    let done = if queue == Flow::ExportJob {
        exporter.run(tenant, id).await
    } else {
        importer.run(tenant, id).await
    };
    done.map(|job| {
        format!(
            "job {} of {tenant}: {:?}, {} rows",
            job.id, job.status, job.processed
        )
    })
    .map_err(|e| e.to_string())
}

/// The first round, then a round and the stuck-job clean-up on every tick; returns only on a failure to
/// read the store.
async fn schedule(stack: &Stack, interval: Duration) -> anyhow::Result<()> {
    let exporter = Exporter::new(stack.jobs.clone());
    let mut last = round(stack, 1, true).await?.summary;
    for number in 2_u64.. {
        println!("Next round in {} s (Ctrl-C stops).", interval.as_secs());
        tokio::time::sleep(interval).await;
        match exporter.clean_up_stuck(CLEAN_UP_LIMIT).await {
            Ok(failed) if !failed.is_empty() => {
                println!(
                    "  {:<12} {} stuck export jobs marked failed",
                    "clean-up",
                    failed.len()
                );
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "stuck-job clean-up failed"),
        }
        // Scheduled exports whose time came: queued for the job worker, which runs them at once.
        match ledgerlink_jobs::schedule::run_due(&stack.jobs).await {
            Ok(started) => {
                for job in started {
                    println!(
                        "  {:<12} {} (job {}, for {})",
                        "scheduled",
                        job.description,
                        ledgerlink_jobs::job::display_id(&job.id),
                        job.created_by
                    );
                }
            }
            Err(e) => tracing::error!(error = %e, "starting the scheduled exports failed"),
        }
        last = round_after(stack, number, false, Some(&last))
            .await?
            .summary;
    }
    Ok(())
}

/// Runs until `stop` turns true: the first round (with the demo's payments), then a round and the job
/// clean-up on every tick of the schedule; workers drain the queues in between.
pub async fn run_forever(
    stack: Arc<Stack>,
    interval: Duration,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let mut workers = Vec::new();
    for flow in ROUND_ORDER {
        workers.push(tokio::spawn(flow_worker(stack.clone(), flow, stop.clone())));
    }
    workers.push(tokio::spawn(job_worker(stack.clone(), stop.clone())));
    let mut stopping = stop.clone();
    let result = tokio::select! {
        _ = stopping.wait_for(|s| *s) => Ok(()),
        r = schedule(&stack, interval) => r,
    };
    for worker in workers {
        let _ = worker.await;
    }
    result
}
