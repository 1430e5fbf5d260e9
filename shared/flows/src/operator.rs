//! The Integration page's use cases (seed 002): list and filter objects, Synchronize, Force synchronize,
//! retry at the configured integration level, and resuming a paused connection.
//!
//! Rules: Synchronize takes objects that are Not integrated or Desynchronized; Force synchronize takes
//! objects in Error and is refused while an object is Pending (it is already synchronising). Every
//! refusal carries its reason, per object, so the page can show it.

use ledgerlink_domain::{Category, Flow, ObjectType, SyncStatus, TenantId};
use ledgerlink_ports::{
    ConnectionState, ObjectRef, ObjectStatus, Page, PageRequest, StatusAttempt, StatusFilter,
    StoreError, WorkAction, WorkMessage,
};

use crate::context::FlowContext;
use crate::error::{FlowError, FlowResult};
use crate::settings::{IntegrationLevel, TenantSettings};

/// What happened to one selected object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionResult {
    pub object: ObjectRef,
    pub accepted: bool,
    pub reason: Option<String>,
}

/// One page of the Integration page's list.
pub async fn list(
    ctx: &FlowContext,
    tenant: &TenantId,
    filter: &StatusFilter,
    page: PageRequest,
) -> FlowResult<Page<ObjectStatus>> {
    Ok(ctx.stores.statuses.list(tenant, filter, page).await?)
}

/// The filter of the page's main switch (Finance vs Master data), optionally narrowed.
pub fn category_filter(category: Category) -> StatusFilter {
    StatusFilter {
        category: Some(category),
        ..StatusFilter::default()
    }
}

/// An object's attempt history, newest first.
pub async fn history(
    ctx: &FlowContext,
    object: &ObjectRef,
    limit: u32,
) -> FlowResult<Vec<StatusAttempt>> {
    Ok(ctx.stores.statuses.history(object, limit).await?)
}

async fn requeue(
    ctx: &FlowContext,
    object: &ObjectRef,
    action: WorkAction,
    by: &str,
    label: &str,
) -> FlowResult<()> {
    let message = format!("{label} requested by {by}");
    ctx.update_status(object, |s| {
        // A desynchronized document (e.g. deleted in the ledger) is re-sent for real: clearing the hash
        // of what was sent marks the next attempt as a re-send (see `finance::process`).
        if s.status == SyncStatus::Desynchronized {
            s.source_hash = None;
        }
        s.status = SyncStatus::Pending;
        s.last_message = Some(message.clone());
    })
    .await?;
    let msg = ctx.message(&object.tenant, object.object_type, &object.key, action);
    ctx.send(object.object_type.flow(), &[msg]).await
}

fn refuse(object: &ObjectRef, reason: String) -> ActionResult {
    ActionResult {
        object: object.clone(),
        accepted: false,
        reason: Some(reason),
    }
}

fn accept(object: &ObjectRef) -> ActionResult {
    ActionResult {
        object: object.clone(),
        accepted: true,
        reason: None,
    }
}

/// SYNCHRONIZE: first or renewed synchronisation of objects that are Not integrated or Desynchronized.
pub async fn synchronize(
    ctx: &FlowContext,
    objects: &[ObjectRef],
    by: &str,
) -> FlowResult<Vec<ActionResult>> {
    let mut out = Vec::with_capacity(objects.len());
    for object in objects {
        let record = ctx.stores.statuses.get(object).await?;
        let stalled = record.as_ref().is_some_and(|s| stalled(ctx, s));
        let status = record
            .map(|s| s.status)
            .unwrap_or(SyncStatus::NotIntegrated);
        match status {
            SyncStatus::NotIntegrated | SyncStatus::Desynchronized => {
                requeue(ctx, object, WorkAction::Sync, by, "Synchronize").await?;
                out.push(accept(object));
            }
            // Pending with no attempt for longer than a lease: nothing is working on it any more (its
            // message died in the dead-letter queue, say): Synchronize sends it again.
            SyncStatus::Pending | SyncStatus::OutcomeUnknown if stalled => {
                requeue(ctx, object, WorkAction::Sync, by, "Synchronize").await?;
                out.push(accept(object));
            }
            SyncStatus::Error => out.push(refuse(
                object,
                "The object is in Error: use Force synchronize".into(),
            )),
            SyncStatus::Pending | SyncStatus::OutcomeUnknown => out.push(refuse(
                object,
                "The object is Pending: it is already synchronising (Synchronize is possible once its last attempt is older than a lease)".into(),
            )),
            SyncStatus::Success => {
                out.push(refuse(object, "The object is already synchronised".into()))
            }
        }
    }
    Ok(out)
}

/// Whether a Pending (or OutcomeUnknown) object's last attempt is older than the idempotency lease: no worker
/// can still be writing it.
pub fn stalled(ctx: &FlowContext, status: &ledgerlink_ports::ObjectStatus) -> bool {
    let lease =
        chrono::Duration::from_std(ctx.settings.lease).unwrap_or(chrono::Duration::minutes(5));
    matches!(
        status.status,
        SyncStatus::Pending | SyncStatus::OutcomeUnknown
    ) && ctx.now() - status.updated_at > lease
}

/// FORCE SYNCHRONIZE: objects in Error are synchronised again; refused while Pending.
pub async fn force_synchronize(
    ctx: &FlowContext,
    objects: &[ObjectRef],
    by: &str,
) -> FlowResult<Vec<ActionResult>> {
    let mut out = Vec::with_capacity(objects.len());
    for object in objects {
        let status = ctx.stores.statuses.get(object).await?.map(|s| s.status);
        match status {
            Some(SyncStatus::Error) => {
                requeue(ctx, object, WorkAction::ForceSync, by, "Force synchronize").await?;
                out.push(accept(object));
            }
            Some(SyncStatus::Pending | SyncStatus::OutcomeUnknown) => {
                out.push(refuse(object, "The object is Pending: it is already synchronising, Force synchronize is not possible (Synchronize sends it again once its last attempt is older than a lease)".into()))
            }
            Some(other) => out.push(refuse(object, format!("Only objects in Error can be force-synchronised (this one is {})", other.label()))),
            None => out.push(refuse(object, "The object is not known to the integration".into())),
        }
    }
    Ok(out)
}

/// RETRY after a communication error, at the tenant's "transaction integration level": `top` first
/// refreshes the master data the documents depend on (firm-sync discovery), then re-sends each document;
/// `entity` re-sends only the selected objects. Already-posted ledger documents are never posted twice
/// (each write is keyed by its business key).
pub async fn retry(
    ctx: &FlowContext,
    tenant: &TenantId,
    objects: &[ObjectRef],
    by: &str,
) -> FlowResult<Vec<ActionResult>> {
    let record = ctx.tenant(tenant).await?;
    let settings = TenantSettings::of(&record).map_err(|e| FlowError::Invalid(e.to_string()))?;
    if settings.integration_level == IntegrationLevel::Top
        && objects
            .iter()
            .any(|o| o.object_type.category() == Category::Finance)
    {
        let discover = WorkMessage {
            tenant: tenant.clone(),
            object_type: None,
            key: None,
            action: WorkAction::Discover,
            trace_id: uuid::Uuid::new_v4().to_string(),
        };
        ctx.send(Flow::FirmSync, &[discover]).await?;
    }
    force_synchronize(ctx, objects, by).await
}

/// Resumes a paused connection (after a user reconnected) and re-sends the objects left Pending.
pub async fn resume(ctx: &FlowContext, tenant: &TenantId) -> FlowResult<usize> {
    loop {
        let mut record = ctx.tenant(tenant).await?;
        if record.state == ConnectionState::Active {
            break;
        }
        let expected = record.version;
        record.state = ConnectionState::Active;
        record.paused_reason = None;
        record.updated_at = ctx.now();
        match ctx.stores.tenants.put(&record, Some(expected)).await {
            Ok(_) => break,
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    let filter = StatusFilter {
        status: Some(SyncStatus::Pending),
        ..StatusFilter::default()
    };
    let mut page = PageRequest::first(200);
    let mut sent = 0;
    loop {
        let got = ctx
            .stores
            .statuses
            .list(tenant, &filter, page.clone())
            .await?;
        for s in &got.items {
            let msg = ctx.message(
                tenant,
                s.object.object_type,
                &s.object.key,
                WorkAction::Sync,
            );
            ctx.send(s.object.object_type.flow(), &[msg]).await?;
            sent += 1;
        }
        match got.next_cursor {
            Some(c) => page.cursor = Some(c),
            None => return Ok(sent),
        }
    }
}

/// Which object types the page shows under a category (for its type filter).
pub fn object_types(category: Category) -> Vec<ObjectType> {
    ObjectType::ALL
        .iter()
        .copied()
        .filter(|t| t.category() == category)
        .collect()
}
