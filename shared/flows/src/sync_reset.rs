//! Restarting the ledger's change feeds after it renumbered them (issue 15 item 5).
//!
//! Exact Online renumbers every sync `Timestamp` of a division it moves to another database (reference
//! §5.15: "the timestamp values will be reset" — check `system/Divisions.DivisionMoveDate`). A stored cursor
//! then lies above every new value: the feeds would look empty for ever and payments or accounts made after
//! the move would never be seen. The ledger reports such events through a marker
//! ([`Ledger::sync_reset_marker`](ledgerlink_ports::ledger::Ledger::sync_reset_marker)); when it differs from
//! the one stored, the flow restarts its feed cursors from the beginning. Reading everything again is safe:
//! objects already synced are linked, so their messages are no-ops, and nothing is posted twice.
//!
//! The marker costs one call, so it is checked at most once per [`CHECK_EVERY`] per flow, tenant and division;
//! the time of the last check is the `updated_at` of the stored marker (a cursor named [`MARKER_CURSOR`]).
//! The first check only records the marker. A failed check is left for the next discovery (the feeds are read
//! as they are; a move is noticed one run later).

use chrono::{DateTime, Utc};
use ledgerlink_domain::Flow;
use ledgerlink_ports::{Cursor, StoreError};

use crate::context::{FlowContext, TenantWork};
use crate::error::FlowResult;

/// The cursor-store name of the stored marker.
pub const MARKER_CURSOR: &str = "ledger/sync-reset-marker";

/// How often the marker is read at most.
pub const CHECK_EVERY: chrono::Duration = chrono::Duration::hours(1);

/// A feed cursor's stored value meaning "from the beginning" (the cursor store has no delete).
pub(crate) const RESTART: &str = "";

/// The stored value of a feed cursor as the ledger takes it: `None` from the beginning.
pub(crate) fn feed_position(cursor: Option<&Cursor>) -> Option<&str> {
    cursor.map(|c| c.value.as_str()).filter(|v| *v != RESTART)
}

/// Checks the ledger's marker when due and, when it changed, restarts `feeds` (cursor names of `flow`).
/// Returns `None` when no check was due (no ledger call), else whether the feeds were restarted.
pub(crate) async fn restart_feeds_after_reset(
    ctx: &FlowContext,
    work: &TenantWork,
    flow: Flow,
    feeds: &[&str],
) -> FlowResult<Option<bool>> {
    let tenant = &work.tenant.id;
    let division = work.tenant.exact_division;
    let now = ctx.now();
    let stored = ctx
        .stores
        .cursors
        .get(tenant, flow, MARKER_CURSOR, division)
        .await?;
    if stored
        .as_ref()
        .is_some_and(|c| now - c.updated_at < CHECK_EVERY)
    {
        return Ok(None);
    }
    let marker = match work.conn.ledger.sync_reset_marker().await {
        Ok(m) => m.unwrap_or_default(),
        Err(e) => {
            tracing::warn!(tenant = %tenant, %flow, error = %e, "the ledger's feed-reset marker could not be read; checked again next run");
            return Ok(Some(false));
        }
    };
    let changed = stored.as_ref().is_some_and(|c| c.value != marker);
    if changed {
        for name in feeds {
            restart(ctx, work, flow, name).await?;
        }
        tracing::info!(tenant = %tenant, %flow, marker = %marker, "the ledger renumbered its change feeds (division moved): cursors restarted");
    }
    let next = Cursor {
        tenant: tenant.clone(),
        flow,
        name: MARKER_CURSOR.into(),
        division,
        value: marker,
        version: stored.as_ref().map(|c| c.version).unwrap_or(0),
        updated_at: now,
    };
    match ctx
        .stores
        .cursors
        .put(&next, stored.as_ref().map(|c| c.version))
        .await
    {
        // Another discovery checked at the same time: it restarted the feeds as well.
        Ok(_) | Err(StoreError::Conflict { .. }) => Ok(Some(changed)),
        Err(e) => Err(e.into()),
    }
}

/// Moves one feed cursor back to the beginning, marked as never read (so a feed read "at most every …"
/// is read on the next run).
async fn restart(ctx: &FlowContext, work: &TenantWork, flow: Flow, name: &str) -> FlowResult<()> {
    let tenant = &work.tenant.id;
    let division = work.tenant.exact_division;
    let Some(current) = ctx.stores.cursors.get(tenant, flow, name, division).await? else {
        return Ok(());
    };
    let next = Cursor {
        value: RESTART.into(),
        updated_at: DateTime::<Utc>::UNIX_EPOCH,
        ..current.clone()
    };
    match ctx.stores.cursors.put(&next, Some(current.version)).await {
        Ok(_) => Ok(()),
        // A discovery moved it meanwhile (from the old numbering): restart it from what it stored. A second
        // conflict fails this check; the marker stays unrecorded, so the next run restarts the feeds again.
        Err(StoreError::Conflict { .. }) => {
            let Some(current) = ctx.stores.cursors.get(tenant, flow, name, division).await? else {
                return Ok(());
            };
            let next = Cursor {
                value: RESTART.into(),
                updated_at: DateTime::<Utc>::UNIX_EPOCH,
                ..current.clone()
            };
            ctx.stores.cursors.put(&next, Some(current.version)).await?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}
