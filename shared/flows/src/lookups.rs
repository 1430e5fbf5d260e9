//! Builds the mapping crate's [`Lookups`] for one tenant: the lookup tables read from the
//! [`LookupStore`](ledgerlink_ports::LookupStore), the tenant's settings and (for documents with tax codes)
//! Vantagepoint's tax codes, through the mapping crate's one loader ([`ledgerlink_mapping::load`]) — the
//! same loader the mapping tests use, so no fixture can hold a setting production never reads. The row
//! conventions of each table are documented there.
//!
//! Firm, vendor and employee accounts come from the [`LinkStore`](ledgerlink_ports::LinkStore) and the
//! party tables: only the parties a document names are read, never the whole table.

use std::collections::BTreeMap;

use ledgerlink_domain::vantagepoint::TaxCode;
use ledgerlink_domain::{ObjectType, SyncStatus};
use ledgerlink_mapping::load::BASE_TABLES;
use ledgerlink_mapping::{ConfigError, LookupSources, Lookups};
use ledgerlink_ports::{LookupEntry, LookupTable, ObjectRef, PageRequest};

use crate::context::{FlowContext, MessageOutcome, TenantWork};
use crate::error::{FlowError, FlowResult};

pub(crate) async fn table(
    ctx: &FlowContext,
    work: &TenantWork,
    table: LookupTable,
) -> FlowResult<Vec<LookupEntry>> {
    let mut out = Vec::new();
    let mut page = PageRequest::first(500);
    loop {
        let got = ctx
            .stores
            .lookups
            .list(&work.tenant.id, table, page.clone())
            .await?;
        out.extend(got.items);
        match got.next_cursor {
            Some(cursor) => page.cursor = Some(cursor),
            None => return Ok(out),
        }
    }
}

/// Everything but the per-document parties, with VP's tax codes when the caller has read them (documents
/// with tax codes). A stored row or setting that cannot be read is the inner error, for the caller to
/// record on its object.
pub(crate) async fn load(
    ctx: &FlowContext,
    work: &TenantWork,
    vp_tax_codes: &[TaxCode],
) -> FlowResult<Result<Lookups, ConfigError>> {
    let mut tables = BTreeMap::new();
    for t in BASE_TABLES {
        tables.insert(t, table(ctx, work, t).await?);
    }
    Ok(ledgerlink_mapping::load(&LookupSources {
        tables: &tables,
        tenant_settings: &work.tenant.settings,
        vp_tax_codes,
    }))
}

/// [`load`] without VP's tax codes, a setting or row that cannot be read failing the work itself (for
/// callers that map no taxes).
pub(crate) async fn base(ctx: &FlowContext, work: &TenantWork) -> FlowResult<Lookups> {
    load(ctx, work, &[])
        .await?
        .map_err(|e| FlowError::Invalid(format!("tenant {}: {e}", work.tenant.id)))
}

/// Adds the Exact account of a firm (by `ClientID`), when linked.
pub(crate) async fn add_firm(
    ctx: &FlowContext,
    work: &TenantWork,
    lookups: &mut Lookups,
    client_id: &str,
) -> FlowResult<Result<(), ConfigError>> {
    let link = ctx
        .stores
        .links
        .exact_id(&work.tenant.id, ObjectType::Firm, client_id)
        .await?;
    Ok(match link {
        Some(id) => lookups.add_firm_link(client_id, &id),
        None => Ok(()),
    })
}

/// Adds the Exact account of a vendor (by vendor code, from the `firms` lookup table), when known.
pub(crate) async fn add_vendor(
    ctx: &FlowContext,
    work: &TenantWork,
    lookups: &mut Lookups,
    vendor: &str,
) -> FlowResult<Result<(), ConfigError>> {
    let row = ctx
        .stores
        .lookups
        .get(&work.tenant.id, LookupTable::Firms, vendor)
        .await?;
    Ok(match row {
        Some(entry) => lookups.add_vendor_row(&entry),
        None => Ok(()),
    })
}

/// Adds the Exact supplier account of an employee: the link firm-sync wrote, else the `employees` lookup row.
pub(crate) async fn add_employee(
    ctx: &FlowContext,
    work: &TenantWork,
    lookups: &mut Lookups,
    employee: &str,
) -> FlowResult<Result<(), ConfigError>> {
    let link = ctx
        .stores
        .links
        .exact_id(&work.tenant.id, ObjectType::Employee, employee)
        .await?;
    let row = match link {
        Some(_) => None,
        None => {
            ctx.stores
                .lookups
                .get(&work.tenant.id, LookupTable::Employees, employee)
                .await?
        }
    };
    Ok(lookups.add_employee(employee, link.as_deref(), row.as_ref()))
}

/// Records a set-up problem on an object: Error with the message (which table, row and column, or which
/// setting, and why) and an operator notification. Retryable by Force synchronize once fixed.
pub(crate) async fn config_failed(
    ctx: &FlowContext,
    object: &ObjectRef,
    error: ConfigError,
) -> FlowResult<MessageOutcome> {
    let text = format!(
        "{} {}: set-up problem: {error}",
        object.object_type, object.key
    );
    ctx.record(object, SyncStatus::Error, Some(text.clone()), None)
        .await?;
    ctx.notify_error(object, &text).await?;
    Ok(MessageOutcome::Handled)
}
