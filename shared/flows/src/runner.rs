//! Entry points the Lambdas, the local stack and the tests call the same way: discover for one or every
//! tenant of a flow, process one message or a batch (reporting exactly the failed ids), and drain a queue
//! (the local stack's and the tests' worker loop).

use std::time::Duration;

use ledgerlink_domain::{Flow, TenantId};
use ledgerlink_ports::{ConnectionState, PageRequest, WorkAction, WorkMessage};

use crate::context::{FlowContext, MessageOutcome};
use crate::error::{FlowError, FlowResult};
use crate::metrics::Metric;
use crate::posted::{DiscoverReport, PostedKind, discover_kind};
use crate::{finance, firm_sync, payment_in};

/// What a discovery of one tenant did (flow-specific detail flattened to counts).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiscoverSummary {
    pub found: usize,
    pub enqueued: usize,
    /// Calls to the ledger made by the discovery (payment-in only; the others read the PSA).
    pub ledger_calls: u32,
    pub skipped_paused: bool,
    /// Documents found already in the ledger under our reference and linked instead of posted.
    pub linked: usize,
}

impl From<DiscoverReport> for DiscoverSummary {
    fn from(r: DiscoverReport) -> Self {
        Self {
            found: r.found,
            enqueued: r.enqueued,
            ledger_calls: 0,
            skipped_paused: false,
            linked: r.linked,
        }
    }
}

/// DISCOVER for one tenant of a flow. A paused tenant is skipped (its work is not attempted).
pub async fn discover(
    ctx: &FlowContext,
    flow: Flow,
    tenant: &TenantId,
) -> FlowResult<DiscoverSummary> {
    let record = ctx.tenant(tenant).await?;
    if record.state == ConnectionState::Paused {
        return Ok(DiscoverSummary {
            skipped_paused: true,
            ..DiscoverSummary::default()
        });
    }
    let work = ctx.work(record).await?;
    let result = match flow {
        Flow::InvoiceOut => discover_kind(ctx, &work, PostedKind::ArDocuments)
            .await
            .map(DiscoverSummary::from),
        Flow::VoucherOut => {
            let mut total = DiscoverReport::default();
            for kind in [
                PostedKind::Vouchers,
                PostedKind::ExpenseReports,
                PostedKind::JournalEntries,
            ] {
                total.add(&discover_kind(ctx, &work, kind).await?);
            }
            Ok(total.into())
        }
        Flow::PaymentIn => payment_in::discover(ctx, &work)
            .await
            .map(|r| DiscoverSummary {
                found: r.rows,
                enqueued: r.enqueued,
                ledger_calls: r.ledger_calls,
                skipped_paused: false,
                linked: 0,
            }),
        Flow::FirmSync => firm_sync::discover(ctx, &work)
            .await
            .map(|r| r.changed.into()),
        other => Err(FlowError::Invalid(format!("{other} is not a sync flow"))),
    };
    match result {
        Err(FlowError::Psa(ledgerlink_ports::psa::PsaError::Unauthorized { message })) => {
            ctx.pause(
                tenant,
                &format!("Vantagepoint refused the credentials: {message}"),
            )
            .await?;
            Ok(DiscoverSummary {
                skipped_paused: true,
                ..DiscoverSummary::default()
            })
        }
        Err(FlowError::Ledger(ledgerlink_ports::ledger::LedgerError::ReconnectNeeded {
            reason,
            ..
        })) => {
            ctx.pause(
                tenant,
                &format!("Exact Online must be reconnected: {reason}"),
            )
            .await?;
            Ok(DiscoverSummary {
                skipped_paused: true,
                ..DiscoverSummary::default()
            })
        }
        other => other,
    }
}

/// DISCOVER for every active tenant; one tenant's failure does not stop the others.
pub async fn discover_all(
    ctx: &FlowContext,
    flow: Flow,
) -> FlowResult<Vec<(TenantId, FlowResult<DiscoverSummary>)>> {
    let mut out = Vec::new();
    let mut page = PageRequest::first(100);
    loop {
        let got = ctx.stores.tenants.list(page.clone()).await?;
        for tenant in got.items {
            let result = discover(ctx, flow, &tenant.id).await;
            if let Err(e) = &result {
                tracing::error!(tenant = %tenant.id, flow = %flow, error = %e, "discovery failed");
            }
            out.push((tenant.id, result));
        }
        match got.next_cursor {
            Some(c) => page.cursor = Some(c),
            None => return Ok(out),
        }
    }
}

/// Queues a discovery of one tenant on a flow's queue: what an Exact webhook (a payment was booked, an
/// account changed) or an operator's "synchronise now" does. Duplicate requests are harmless: discovery
/// reads from the stored cursor and every object is processed once.
pub async fn request_discovery(ctx: &FlowContext, flow: Flow, tenant: &TenantId) -> FlowResult<()> {
    let message = WorkMessage {
        tenant: tenant.clone(),
        object_type: None,
        key: None,
        action: WorkAction::Discover,
        trace_id: uuid::Uuid::new_v4().to_string(),
    };
    ctx.send(flow, &[message]).await
}

/// PROCESS one message of a flow.
pub async fn process_message(
    ctx: &FlowContext,
    flow: Flow,
    message: &WorkMessage,
) -> FlowResult<MessageOutcome> {
    crate::context::with_status_memo(process_one(ctx, flow, message)).await
}

async fn process_one(
    ctx: &FlowContext,
    flow: Flow,
    message: &WorkMessage,
) -> FlowResult<MessageOutcome> {
    if message.action == WorkAction::Discover {
        return match flow {
            Flow::PaymentIn => payment_in::process(ctx, message).await,
            Flow::FirmSync => firm_sync::process(ctx, message).await,
            _ => discover(ctx, flow, &message.tenant)
                .await
                .map(|_| MessageOutcome::Handled),
        };
    }
    match flow {
        Flow::InvoiceOut | Flow::VoucherOut => finance::process(ctx, message).await,
        Flow::PaymentIn => payment_in::process(ctx, message).await,
        Flow::FirmSync => firm_sync::process(ctx, message).await,
        other => Err(FlowError::Invalid(format!("{other} is not a sync flow"))),
    }
}

/// Sends `message` again, visible at `until` (at most 15 minutes ahead per hop, as SQS allows; a longer
/// wait is hopped again when the message comes up and is still limited).
pub async fn delay_until(
    ctx: &FlowContext,
    flow: Flow,
    message: &WorkMessage,
    until: chrono::DateTime<chrono::Utc>,
) -> FlowResult<()> {
    let delay = (until - ctx.now())
        .to_std()
        .unwrap_or(Duration::ZERO)
        .max(Duration::from_secs(1));
    ctx.queue.send_delayed(flow, message, delay).await?;
    Ok(())
}

/// One received message: its id (the SQS message id) and body.
#[derive(Debug, Clone)]
pub struct BatchItem {
    pub id: String,
    pub message: WorkMessage,
}

/// PROCESS a batch; returns exactly the ids of the messages that must be retried (`ReportBatchItemFailures`).
/// A message that failed permanently (it can never succeed) is logged and not retried.
pub async fn process_batch(ctx: &FlowContext, flow: Flow, items: &[BatchItem]) -> Vec<String> {
    let mut failed = Vec::new();
    for item in items {
        match process_message(ctx, flow, &item.message).await {
            Ok(MessageOutcome::Handled) => {}
            Ok(MessageOutcome::RetryLater(reason)) => {
                tracing::info!(message_id = %item.id, reason = %reason, "message will be retried");
                failed.push(item.id.clone());
                crate::metrics::add(flow, None, Metric::MessagesRetried, 1);
            }
            Ok(MessageOutcome::RetryAt(until, reason)) => {
                // Sent again, delayed to the reset; this delivery is done (its receives are not used up).
                if let Err(e) = delay_until(ctx, flow, &item.message, until).await {
                    tracing::warn!(message_id = %item.id, error = %e, "could not delay the message; it will be retried");
                    failed.push(item.id.clone());
                    crate::metrics::add(flow, None, Metric::MessagesRetried, 1);
                } else {
                    tracing::info!(message_id = %item.id, %until, reason = %reason, "message waits for a reset");
                }
            }
            Err(e) if e.is_retryable() => {
                tracing::warn!(message_id = %item.id, error = %e, "message failed; will be retried");
                failed.push(item.id.clone());
                crate::metrics::add(flow, None, Metric::MessagesRetried, 1);
            }
            Err(e) => {
                tracing::error!(message_id = %item.id, error = %e, "message failed permanently; dropped");
                crate::metrics::add(flow, None, Metric::MessagesDropped, 1);
            }
        }
    }
    failed
}

/// What a drain did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DrainReport {
    pub received: usize,
    pub handled: usize,
    pub retried: usize,
}

/// Receives and processes a flow's messages until the queue stays empty for twice `retry_delay` or
/// `max_rounds` receives were made. Failed messages come back after `retry_delay` (on the context's clock).
pub async fn drain(
    ctx: &FlowContext,
    flow: Flow,
    max_rounds: usize,
    visibility: Duration,
    retry_delay: Duration,
) -> FlowResult<DrainReport> {
    let mut report = DrainReport::default();
    let mut idle = 0;
    for _ in 0..max_rounds {
        let got = ctx.queue.receive(flow, 10, visibility).await?;
        if got.is_empty() {
            // Messages put back with `retry_delay` are invisible (not in `depth`) until it passes: wait
            // for them twice that long before calling the queue empty.
            idle += 1;
            if idle > 2 && ctx.queue.depth(flow).await? == 0 {
                break;
            }
            ctx.clock.sleep(retry_delay).await;
            continue;
        }
        idle = 0;
        for received in got {
            report.received += 1;
            let settled = match process_message(ctx, flow, &received.message).await {
                Ok(MessageOutcome::Handled) => {
                    report.handled += 1;
                    ctx.queue.ack(flow, &received.receipt).await
                }
                Err(e) if !e.is_retryable() => {
                    tracing::error!(error = %e, "message failed permanently; dropped");
                    ctx.queue.ack(flow, &received.receipt).await
                }
                Ok(MessageOutcome::RetryAt(until, _)) => {
                    report.retried += 1;
                    match delay_until(ctx, flow, &received.message, until).await {
                        Ok(()) => ctx.queue.ack(flow, &received.receipt).await,
                        Err(_) => {
                            ctx.queue
                                .retry_later(flow, &received.receipt, retry_delay)
                                .await
                        }
                    }
                }
                Ok(MessageOutcome::RetryLater(_)) | Err(_) => {
                    report.retried += 1;
                    ctx.queue
                        .retry_later(flow, &received.receipt, retry_delay)
                        .await
                }
            };
            match settled {
                // The message became visible again while we worked and another worker holds it now: its
                // receipt is stale, which is harmless (the work is idempotent).
                Ok(()) | Err(ledgerlink_ports::StoreError::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(report)
}
