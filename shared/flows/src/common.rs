//! The frame every PROCESS step shares: whether a message may run (action, status, paused connection),
//! marking an attempt started, and turning ledger / PSA / mapping failures into the object's status.

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use ledgerlink_domain::{ObjectKey, SyncStatus};
use ledgerlink_mapping::MappingError;
use ledgerlink_ports::ledger::LedgerError;
use ledgerlink_ports::psa::{PsaError, TimeWindow};
use ledgerlink_ports::{
    AttemptStart, ConnectionState, ObjectRef, ObjectStatus, Tenant, WorkAction, WorkMessage,
};

use crate::context::{FlowContext, MessageOutcome};
use crate::error::{FlowError, FlowResult};

/// Whether a message's object may be processed now.
#[derive(Debug)]
pub(crate) enum Gate {
    /// Go ahead. `find_first`: an earlier attempt may have written already (it started and did not finish,
    /// or its outcome is unknown), so the ledger looks the document up by our reference before writing.
    Go {
        find_first: bool,
        previous: Option<ObjectStatus>,
    },
    /// Nothing to do (already synced, in Error without Force synchronize, paused connection).
    Skip(MessageOutcome),
}

/// The object a message names.
pub(crate) fn object_of(message: &WorkMessage) -> FlowResult<ObjectRef> {
    match (&message.object_type, &message.key) {
        (Some(object_type), Some(key)) => Ok(ObjectRef {
            tenant: message.tenant.clone(),
            object_type: *object_type,
            key: key.clone(),
        }),
        _ => Err(FlowError::Invalid(
            "a Sync/ForceSync message must name an object type and key".into(),
        )),
    }
}

/// Decides whether to run, and marks the attempt as started (Pending, attempts + 1) before any write, so a
/// worker killed mid-write leaves a trace the next attempt sees (`find_first`). The decision and the mark
/// are one store operation ([`ledgerlink_ports::StatusStore::begin_attempt`]): no read before it.
pub(crate) async fn gate(
    ctx: &FlowContext,
    tenant: &Tenant,
    object: &ObjectRef,
    action: WorkAction,
) -> FlowResult<Gate> {
    if tenant.state == ConnectionState::Paused {
        let reason = tenant
            .paused_reason
            .clone()
            .unwrap_or_else(|| "paused by an operator".into());
        let message = format!(
            "Waiting: the connection is paused ({reason}); it resumes when a user reconnects"
        );
        ctx.update_status(object, |s| {
            if s.status != SyncStatus::OutcomeUnknown {
                s.status = SyncStatus::Pending;
            }
            s.last_message = Some(message.clone());
        })
        .await?;
        return Ok(Gate::Skip(MessageOutcome::Handled));
    }
    if action == WorkAction::Discover {
        return Err(FlowError::Invalid(
            "a Discover message has no object".into(),
        ));
    }
    let force = action == WorkAction::ForceSync;
    let (previous, current) = match ctx
        .stores
        .statuses
        .begin_attempt(object, force, ctx.now())
        .await?
    {
        AttemptStart::Declined(_) => return Ok(Gate::Skip(MessageOutcome::Handled)),
        AttemptStart::Started { previous, current } => (previous, current),
    };
    crate::metrics::status_changed(
        object.object_type,
        previous.as_ref().map(|p| p.status),
        current.status,
    );
    crate::context::remember_status(&current);
    let find_first = previous.as_ref().is_some_and(|s| {
        s.status == SyncStatus::OutcomeUnknown
            || (s.attempts > 0 && s.status != SyncStatus::Error)
            || s.status == SyncStatus::Desynchronized
            || s.target_id.is_some()
            || s.last_message.as_deref() == Some(crate::posted::LOOK_UP_FIRST)
    }) || force;
    Ok(Gate::Go {
        find_first,
        previous,
    })
}

/// Records a ledger failure on the object and says what becomes of the message.
pub(crate) async fn ledger_failed(
    ctx: &FlowContext,
    tenant: &Tenant,
    object: &ObjectRef,
    error: LedgerError,
) -> FlowResult<MessageOutcome> {
    let text = error.to_string();
    match error {
        LedgerError::RateLimited { until, .. } => {
            ctx.record(
                object,
                SyncStatus::Pending,
                Some(format!(
                    "Waiting until {} UTC: {text}",
                    until.format("%Y-%m-%d %H:%M")
                )),
                None,
            )
            .await?;
            Ok(MessageOutcome::RetryAt(until, text))
        }
        LedgerError::Transient { .. } => {
            ctx.record(
                object,
                SyncStatus::Pending,
                Some(format!("Will retry: {text}")),
                None,
            )
            .await?;
            Ok(MessageOutcome::RetryLater(text))
        }
        LedgerError::OutcomeUnknown { .. } => {
            ctx.record(
                object,
                SyncStatus::OutcomeUnknown,
                Some(format!("Will check before retrying: {text}")),
                None,
            )
            .await?;
            Ok(MessageOutcome::RetryLater(text))
        }
        LedgerError::ReconnectNeeded { reason, .. } => {
            ctx.pause(
                &tenant.id,
                &format!("Exact Online must be reconnected: {reason}"),
            )
            .await?;
            ctx.record(
                object,
                SyncStatus::Pending,
                Some(format!(
                    "Waiting: the Exact Online connection is paused ({reason})"
                )),
                None,
            )
            .await?;
            Ok(MessageOutcome::Handled)
        }
        LedgerError::Validation { .. }
        | LedgerError::NotFound { .. }
        | LedgerError::Conflict { .. }
        | LedgerError::Permanent { .. } => {
            ctx.record(object, SyncStatus::Error, Some(text.clone()), None)
                .await?;
            ctx.notify_error(object, &text).await?;
            Ok(MessageOutcome::Handled)
        }
    }
}

/// Records a PSA failure on the object and says what becomes of the message.
pub(crate) async fn psa_failed(
    ctx: &FlowContext,
    tenant: &Tenant,
    object: &ObjectRef,
    error: PsaError,
) -> FlowResult<MessageOutcome> {
    let text = error.to_string();
    match error {
        PsaError::Transient { .. } => {
            ctx.record(
                object,
                SyncStatus::Pending,
                Some(format!("Will retry: {text}")),
                None,
            )
            .await?;
            Ok(MessageOutcome::RetryLater(text))
        }
        PsaError::OutcomeUnknown { .. } => {
            ctx.record(
                object,
                SyncStatus::OutcomeUnknown,
                Some(format!("Will check before retrying: {text}")),
                None,
            )
            .await?;
            Ok(MessageOutcome::RetryLater(text))
        }
        PsaError::Unauthorized { message } => {
            ctx.pause(
                &tenant.id,
                &format!("Vantagepoint refused the credentials: {message}"),
            )
            .await?;
            ctx.record(
                object,
                SyncStatus::Pending,
                Some(format!(
                    "Waiting: the Vantagepoint connection is paused ({message})"
                )),
                None,
            )
            .await?;
            Ok(MessageOutcome::Handled)
        }
        PsaError::Validation { .. }
        | PsaError::NotFound { .. }
        | PsaError::Forbidden { .. }
        | PsaError::Decode { .. }
        | PsaError::BusinessRule { .. }
        | PsaError::Permanent { .. } => {
            ctx.record(object, SyncStatus::Error, Some(text.clone()), None)
                .await?;
            ctx.notify_error(object, &text).await?;
            Ok(MessageOutcome::Handled)
        }
    }
}

/// Records a mapping failure: Error with the mapping's message (naming record, field and reason) and an
/// operator notification.
pub(crate) async fn mapping_failed(
    ctx: &FlowContext,
    object: &ObjectRef,
    error: MappingError,
) -> FlowResult<MessageOutcome> {
    let text = error.to_string();
    let fix = error.fix();
    ctx.update_status(object, |s| {
        s.status = SyncStatus::Error;
        s.last_message = Some(text.clone());
        s.fix = fix.clone();
    })
    .await?;
    ctx.notify_error(object, &text).await?;
    Ok(MessageOutcome::Handled)
}

/// Records "another worker holds this object" and retries later.
pub(crate) async fn busy(ctx: &FlowContext, object: &ObjectRef) -> FlowResult<MessageOutcome> {
    let _ = ctx;
    Ok(MessageOutcome::RetryLater(format!(
        "{} {} is being written by another worker",
        object.object_type, object.key
    )))
}

/// Records "already written with other content": the first version stays in the target system.
pub(crate) async fn mismatch(ctx: &FlowContext, object: &ObjectRef) -> FlowResult<MessageOutcome> {
    let text = "This document was already sent with different content; the target keeps the first version. \
                Change it there, or reverse and re-post it in the source."
        .to_owned();
    ctx.record(object, SyncStatus::Desynchronized, Some(text), None)
        .await?;
    Ok(MessageOutcome::Handled)
}

// ---------------------------------------------------------------------------------------------------------
// Discovery windows
// ---------------------------------------------------------------------------------------------------------

/// An ISO 8601 interval `from/to` (whole seconds, UTC): how a posted document's discovery window is kept as
/// its source version, so PROCESS can re-read the document (messages never carry payloads).
pub(crate) fn window_text(window: &TimeWindow) -> String {
    format!(
        "{}/{}",
        window.from.format("%Y-%m-%dT%H:%M:%SZ"),
        window.to.format("%Y-%m-%dT%H:%M:%SZ")
    )
}

pub(crate) fn parse_window(text: &str) -> Option<TimeWindow> {
    let (from, to) = text.split_once('/')?;
    let from = DateTime::parse_from_rfc3339(from).ok()?.with_timezone(&Utc);
    let to = DateTime::parse_from_rfc3339(to).ok()?.with_timezone(&Utc);
    (from < to).then_some(TimeWindow::new(from, to))
}

/// Drops sub-second precision (VP stores `PostDate` in whole seconds).
pub(crate) fn whole_seconds(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(at.timestamp(), 0).unwrap_or(at)
}

/// The windows to read from `from` up to `until`, each at most `max` long, at most `count` of them.
pub(crate) fn windows(
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    max: std::time::Duration,
    count: u32,
) -> Vec<TimeWindow> {
    let step = ChronoDuration::from_std(max).unwrap_or(ChronoDuration::days(1));
    let mut out = Vec::new();
    let mut at = from;
    while at < until && out.len() < count as usize {
        let to = (at + step).min(until);
        out.push(TimeWindow::new(at, to));
        at = to;
    }
    out
}

pub(crate) fn key(text: &str) -> FlowResult<ObjectKey> {
    ObjectKey::parse(text).map_err(|e| FlowError::Invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_survives_its_text_form_and_walks_in_bounded_steps() {
        let from = DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z")
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default();
        let until = from + ChronoDuration::hours(60);
        let ws = windows(from, until, std::time::Duration::from_secs(86_400), 10);
        assert_eq!(ws.len(), 3);
        assert_eq!(ws[2].to, until);
        assert_eq!(parse_window(&window_text(&ws[1])), Some(ws[1]));
        assert_eq!(parse_window("nonsense"), None);
    }
}
