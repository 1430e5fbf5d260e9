//! The sweeper: nothing stays Pending forever.
//!
//! Runs with every scheduled discovery of a flow. It empties the flow's dead-letter queue (a message lands
//! there after the queue's max receives, e.g. an hour of Vantagepoint downtime) and looks at every object of
//! the flow that is Pending or OutcomeUnknown with no attempt for a while: such an object is sent again after
//! a back-off that grows with its attempts (the lease × 2^(attempts / 5), at most six hours), and past
//! [`crate::FlowSettings::sweep_max_attempts`] it is set to Error with the reason and the operators are told.
//! Objects that wait on purpose are left alone: a paused connection's objects (reconnecting re-sends them)
//! and an expense payment waiting for the report to be fully paid (the next payment re-discovers it).

use std::collections::BTreeSet;

use chrono::Duration as ChronoDuration;
use ledgerlink_domain::{Flow, ObjectType, SyncStatus};
use ledgerlink_ports::{
    ConnectionState, ObjectRef, ObjectStatus, PageRequest, StatusFilter, WorkAction,
};

use crate::context::FlowContext;
use crate::error::FlowResult;

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Messages taken out of the dead-letter queue.
    pub dead_letters: usize,
    /// Objects sent again.
    pub redriven: usize,
    /// Objects set to Error after too many attempts.
    pub given_up: usize,
}

/// The back-off before a stalled object is sent again.
fn backoff(ctx: &FlowContext, attempts: u32) -> ChronoDuration {
    let lease = ChronoDuration::from_std(ctx.settings.lease).unwrap_or(ChronoDuration::minutes(5));
    let factor = 1i32 << (attempts / 5).min(10);
    (lease * factor).min(ChronoDuration::hours(6))
}

fn waits_on_purpose(status: &ObjectStatus) -> bool {
    let message = status.last_message.as_deref().unwrap_or("");
    (status.object.object_type == ObjectType::ExpensePayment
        && message.starts_with("Partially paid"))
        || message.starts_with("Waiting: the connection is paused")
        || message.starts_with("Waiting: the Exact Online connection is paused")
        || message.starts_with("Waiting: the Vantagepoint connection is paused")
}

/// Sweeps one flow: its dead-letter queue, then its stalled objects.
pub async fn sweep(ctx: &FlowContext, flow: Flow) -> FlowResult<SweepReport> {
    let mut report = SweepReport::default();
    // Dead letters: discoveries are simply sent again; an object's message is settled below with the
    // object (whose status says how often it was tried).
    let mut named: BTreeSet<(String, ObjectType, String)> = BTreeSet::new();
    loop {
        let dead = ctx.queue.take_dead_letters(flow, 100).await?;
        if dead.is_empty() {
            break;
        }
        report.dead_letters += dead.len();
        for message in dead {
            match (&message.object_type, &message.key) {
                (Some(t), Some(k)) => {
                    named.insert((message.tenant.to_string(), *t, k.to_string()));
                }
                _ => ctx.send(flow, std::slice::from_ref(&message)).await?,
            }
        }
    }
    let now = ctx.now();
    let mut page = PageRequest::first(100);
    loop {
        let tenants = ctx.stores.tenants.list(page.clone()).await?;
        for tenant in &tenants.items {
            if tenant.state == ConnectionState::Paused {
                continue;
            }
            for status in [SyncStatus::Pending, SyncStatus::OutcomeUnknown] {
                let mut objects = PageRequest::first(100);
                loop {
                    let found = ctx
                        .stores
                        .statuses
                        .list(
                            &tenant.id,
                            &StatusFilter {
                                status: Some(status),
                                ..Default::default()
                            },
                            objects.clone(),
                        )
                        .await?;
                    for s in found
                        .items
                        .iter()
                        .filter(|s| s.object.object_type.flow() == flow)
                    {
                        let dead = named.remove(&(
                            s.object.tenant.to_string(),
                            s.object.object_type,
                            s.object.key.to_string(),
                        ));
                        if waits_on_purpose(s) {
                            continue;
                        }
                        if s.attempts >= ctx.settings.sweep_max_attempts {
                            give_up(ctx, s).await?;
                            report.given_up += 1;
                        } else if now - s.updated_at >= backoff(ctx, s.attempts) {
                            resend(ctx, flow, &s.object).await?;
                            report.redriven += 1;
                        } else if dead {
                            // Its dead message is gone: send it again once the back-off has passed.
                            let until = s.updated_at + backoff(ctx, s.attempts);
                            let message = ctx.message(
                                &s.object.tenant,
                                s.object.object_type,
                                &s.object.key,
                                WorkAction::Sync,
                            );
                            crate::runner::delay_until(ctx, flow, &message, until).await?;
                            report.redriven += 1;
                        }
                    }
                    match found.next_cursor {
                        Some(next) => objects.cursor = Some(next),
                        None => break,
                    }
                }
            }
        }
        match tenants.next_cursor {
            Some(next) => page.cursor = Some(next),
            None => break,
        }
    }
    // Dead messages of objects that are no longer Pending (done meanwhile, or in Error): nothing to do.
    Ok(report)
}

async fn resend(ctx: &FlowContext, flow: Flow, object: &ObjectRef) -> FlowResult<()> {
    let message = ctx.message(
        &object.tenant,
        object.object_type,
        &object.key,
        WorkAction::Sync,
    );
    ctx.send(flow, &[message]).await
}

async fn give_up(ctx: &FlowContext, status: &ObjectStatus) -> FlowResult<()> {
    let last = status
        .last_message
        .clone()
        .unwrap_or_else(|| "no message".into());
    let text = format!(
        "Gave up after {} attempts; the last one said: {last}. Use Force synchronize once the cause is fixed",
        status.attempts
    );
    ctx.record(&status.object, SyncStatus::Error, Some(text.clone()), None)
        .await?;
    ctx.notify_error(&status.object, &text).await
}
