//! FIRM-SYNC: master data between the two systems, each entity from its configured source of truth
//! (defaults: firms, employees and currencies from Vantagepoint; the chart of accounts and tax codes from
//! Exact Online), with the default Active filter and the tenant's custom filters (seed 004).
//!
//! - Firms (VP → Exact accounts + addresses): only firms "Available to: Accounting Users"; deselecting it
//!   stops the sync — the object becomes Desynchronized (Not integrated when never linked) with a message
//!   and the link is kept. The vendor code is linked too (vouchers name vendors).
//! - Firms created in Exact (Exact accounts → VP firms, the spec's "two-way" integration): accounts changed
//!   since the `sync/CRM/Accounts` cursor that are not linked to a VP firm or employee are enqueued, each as
//!   a Firm keyed `exact:{account code}` (VP firms are keyed by their `ClientID`, so the prefix tells the
//!   two directions apart; the code is what the ledger port finds an account by). Processing maps the
//!   account with the spec's defaults (`firm_from_exact`), creates the VP firm and links it to the account
//!   both ways. This runs whatever the firms' source of truth: the spec calls the integration two-way and
//!   only *recommends* creating firms in VP. An account already linked is a no-op: Exact → VP *updates* are
//!   not synchronised, since the spec asks for firms to be edited in VP (the next VP → Exact sync
//!   overwrites the account). Before creating, VP is searched for a firm with the account's code (a
//!   retry after a lost answer, or a firm created on both sides), which is linked instead.
//! - Employees (VP → Exact supplier account + contact), likewise only "available to accounting users";
//!   the link feeds expense reports and their payments.
//! - Chart of accounts (Exact → VP): accounts missing in VP are created with the spec's defaults; every
//!   matching account number lands in the `gl-accounts` lookup table.
//! - Tax codes (Exact → VP, the initial pull): each Exact VAT code gets a generated unique VP code in the
//!   `tax-codes` lookup table, and the VP tax code is created.
//! - Currencies (VP → Exact): Exact's currencies cannot be created through the API, so each VP currency is
//!   checked against Exact's list: enabled ones land in the `currencies` lookup table, others are in Error
//!   with what to do.
//!
//! Firms and employees go through the queue (one message per record, changed records found by `ModDate`
//! windows from a cursor); the three setup lists are small and settled inside DISCOVER.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use ledgerlink_domain::vantagepoint::{EmployeeStatus, FirmStatus};
use ledgerlink_domain::{Flow, ObjectType, SyncStatus, VatCode};
use ledgerlink_mapping::{Outcome, SkipReason};
use ledgerlink_ports::ledger::Posted;
use ledgerlink_ports::psa::{FirmRole, PsaError, TimeWindow};
use ledgerlink_ports::{
    Cursor, IdLink, LookupEntry, LookupTable, ObjectRef, StoreError, WorkAction, WorkMessage,
};

use crate::common::{
    Gate, busy, gate, key, ledger_failed, mapping_failed, mismatch, object_of, psa_failed,
    whole_seconds,
};
use crate::context::{FlowContext, MessageOutcome, Once, TenantWork, business_key, hash_of};
use crate::error::{FlowError, FlowResult};
use crate::lookups;
use crate::posted::DiscoverReport;
use crate::settings::SourceOfTruth;

const FIRMS_CURSOR: &str = "Firms/ModDate";
const EMPLOYEES_CURSOR: &str = "Employees/ModDate";
/// The cursor of Exact accounts read for firms created in Exact (Exact's sync `Timestamp`).
pub const EXACT_ACCOUNTS_CURSOR: &str = "sync/CRM/Accounts";
/// The key prefix of firms created in Exact: `exact:{account code}` (VP firms are keyed by `ClientID`).
pub const EXACT_FIRM_PREFIX: &str = "exact:";

/// What one master-data discovery did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FirmSyncReport {
    pub changed: DiscoverReport,
    pub gl_accounts_created: usize,
    pub gl_accounts_linked: usize,
    pub tax_codes_created: usize,
    pub currencies_checked: usize,
}

/// DISCOVER for one tenant.
pub async fn discover(ctx: &FlowContext, work: &TenantWork) -> FlowResult<FirmSyncReport> {
    let mut report = FirmSyncReport::default();
    if work.settings.source_of_truth(ObjectType::Firm) == SourceOfTruth::Vantagepoint {
        report
            .changed
            .add(&discover_changed(ctx, work, ObjectType::Firm).await?);
    }
    if work.settings.source_of_truth(ObjectType::Employee) == SourceOfTruth::Vantagepoint {
        report
            .changed
            .add(&discover_changed(ctx, work, ObjectType::Employee).await?);
    }
    // Two-way for firms: accounts created in Exact become VP firms whichever side owns firm edits.
    report
        .changed
        .add(&discover_exact_accounts(ctx, work).await?);
    if work.settings.source_of_truth(ObjectType::TaxCode) == SourceOfTruth::Exact {
        report.tax_codes_created = pull_tax_codes(ctx, work).await?;
    }
    // The no-VAT code of untaxed lines, proposed from Exact's VAT codes while it is not set.
    crate::setup::settle_no_vat_code(ctx, work).await?;
    if work.settings.source_of_truth(ObjectType::GlAccount) == SourceOfTruth::Exact {
        let (created, linked) = pull_gl_accounts(ctx, work).await?;
        report.gl_accounts_created = created;
        report.gl_accounts_linked = linked;
    }
    if work.settings.source_of_truth(ObjectType::Currency) == SourceOfTruth::Vantagepoint {
        report.currencies_checked = check_currencies(ctx, work).await?;
    }
    Ok(report)
}

async fn discover_changed(
    ctx: &FlowContext,
    work: &TenantWork,
    object_type: ObjectType,
) -> FlowResult<DiscoverReport> {
    let tenant = &work.tenant.id;
    let division = work.tenant.exact_division;
    let name = if object_type == ObjectType::Firm {
        FIRMS_CURSOR
    } else {
        EMPLOYEES_CURSOR
    };
    let until = whole_seconds(
        ctx.now() - chrono::Duration::from_std(ctx.settings.discover_lag).unwrap_or_default(),
    );
    let cursor = ctx
        .stores
        .cursors
        .get(tenant, Flow::FirmSync, name, division)
        .await?;
    // Master data has no useful lower bound on the first run: every record counts.
    let from = cursor
        .as_ref()
        .and_then(|c| {
            DateTime::parse_from_rfc3339(&c.value)
                .ok()
                .map(|d| d.with_timezone(&Utc))
        })
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    let mut report = DiscoverReport::default();
    // One window from the cursor: ModDate reads are not size-bounded like the posted ledger.
    if from < until {
        let window = TimeWindow::new(from, until);
        let keys = changed_keys(work, object_type, window).await?;
        let mut messages = Vec::new();
        for k in &keys {
            let object = ObjectRef {
                tenant: tenant.clone(),
                object_type,
                key: key(k)?,
            };
            ctx.update_status(&object, |s| {
                if s.status != SyncStatus::OutcomeUnknown {
                    s.status = SyncStatus::Pending;
                }
                s.source_version = Some(window.to.to_rfc3339());
                s.last_message = Some("Changed in Vantagepoint; waiting to be synchronised".into());
            })
            .await?;
            messages.push(ctx.message(tenant, object_type, &object.key, WorkAction::Sync));
        }
        ctx.send(Flow::FirmSync, &messages).await?;
        report.found += keys.len();
        report.enqueued += messages.len();
        report.windows += 1;
        let next = Cursor {
            tenant: tenant.clone(),
            flow: Flow::FirmSync,
            name: name.to_owned(),
            division,
            value: window.to.to_rfc3339(),
            version: cursor.as_ref().map(|c| c.version).unwrap_or(0),
            updated_at: ctx.now(),
        };
        match ctx
            .stores
            .cursors
            .put(&next, cursor.as_ref().map(|c| c.version))
            .await
        {
            Ok(_) | Err(StoreError::Conflict { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(report)
}

/// Enqueues the Exact accounts changed since the `sync/CRM/Accounts` cursor that are not linked yet, and
/// moves the cursor after each batch is enqueued (a batch whose messages were not all sent is read again).
async fn discover_exact_accounts(
    ctx: &FlowContext,
    work: &TenantWork,
) -> FlowResult<DiscoverReport> {
    let tenant = &work.tenant.id;
    let division = work.tenant.exact_division;
    let mut report = DiscoverReport::default();
    let mut cursor = ctx
        .stores
        .cursors
        .get(tenant, Flow::FirmSync, EXACT_ACCOUNTS_CURSOR, division)
        .await?;
    loop {
        let batch = work
            .conn
            .ledger
            .accounts_since(cursor.as_ref().map(|c| c.value.as_str()))
            .await?;
        report.windows += 1;
        report.found += batch.items.len();
        let mut messages = Vec::new();
        for account in &batch.items {
            let Some(id) = account.id else { continue };
            if known_party(ctx, work, &id.to_string(), account)
                .await?
                .is_some()
            {
                continue;
            }
            let Some(code) = account.code.as_ref() else {
                tracing::warn!(%tenant, account = %id, "an Exact account without a code cannot become a VP firm");
                continue;
            };
            let object = ObjectRef {
                tenant: tenant.clone(),
                object_type: ObjectType::Firm,
                key: key(&format!("{EXACT_FIRM_PREFIX}{}", code.as_str()))?,
            };
            ctx.update_status(&object, |s| {
                if s.status != SyncStatus::OutcomeUnknown {
                    s.status = SyncStatus::Pending;
                }
                s.source_version = Some(batch.next_cursor.clone());
                s.last_message =
                    Some("Created or changed in Exact Online; waiting to be synchronised".into());
            })
            .await?;
            messages.push(ctx.message(tenant, ObjectType::Firm, &object.key, WorkAction::Sync));
        }
        ctx.send(Flow::FirmSync, &messages).await?;
        report.enqueued += messages.len();
        let next = Cursor {
            tenant: tenant.clone(),
            flow: Flow::FirmSync,
            name: EXACT_ACCOUNTS_CURSOR.to_owned(),
            division,
            value: batch.next_cursor.clone(),
            version: cursor.as_ref().map(|c| c.version).unwrap_or(0),
            updated_at: ctx.now(),
        };
        match ctx
            .stores
            .cursors
            .put(&next, cursor.as_ref().map(|c| c.version))
            .await
        {
            Ok(stored) => cursor = Some(stored),
            // Another discovery moved the cursor: it carries on from there.
            Err(StoreError::Conflict { .. }) => return Ok(report),
            Err(e) => return Err(e.into()),
        }
        if !batch.more {
            return Ok(report);
        }
    }
}

/// What an Exact account is already linked to in VP: a firm (`ClientID`), an employee, or a vendor of the
/// `firms` lookup table. `None`: the account was created in Exact and has no VP counterpart yet.
async fn known_party(
    ctx: &FlowContext,
    work: &TenantWork,
    exact_id: &str,
    account: &ledgerlink_domain::exact::Account,
) -> FlowResult<Option<(ObjectType, String)>> {
    let tenant = &work.tenant.id;
    for object_type in [ObjectType::Firm, ObjectType::Employee] {
        if let Some(vp) = ctx
            .stores
            .links
            .vp_key(tenant, object_type, exact_id)
            .await?
        {
            return Ok(Some((object_type, vp)));
        }
    }
    if let Some(code) = account.code.as_ref()
        && let Some(row) = ctx
            .stores
            .lookups
            .get(tenant, LookupTable::Firms, code.as_str())
            .await?
        && row.columns.get("exact_id").map(|v| v.trim()) == Some(exact_id)
    {
        let client = row.columns.get("client_id").cloned().unwrap_or(row.key);
        return Ok(Some((ObjectType::Firm, client)));
    }
    Ok(None)
}

async fn changed_keys(
    work: &TenantWork,
    object_type: ObjectType,
    window: TimeWindow,
) -> FlowResult<Vec<String>> {
    let filter = work.settings.filter(object_type);
    Ok(if object_type == ObjectType::Firm {
        work.conn
            .psa
            .changed_firms(window, FirmRole::Any)
            .await?
            .into_iter()
            .filter_map(|f| f.client_id.clone())
            .collect::<Vec<_>>()
            .into_iter()
            .collect()
    } else {
        work.conn
            .psa
            .changed_employees(window)
            .await?
            .into_iter()
            .filter(|e| {
                filter.rules.is_empty()
                    || filter.accepts(true, |f| if f == "org" { e.org.as_deref() } else { None })
            })
            .map(|e| e.employee)
            .collect()
    })
}

async fn linked(
    ctx: &FlowContext,
    work: &TenantWork,
    object: &ObjectRef,
) -> FlowResult<Option<String>> {
    Ok(ctx
        .stores
        .links
        .exact_id(&work.tenant.id, object.object_type, object.key.as_str())
        .await?)
}

/// The sync of a record was switched off (deselected or filtered out): Desynchronized when it was linked
/// (the link is kept), Not integrated otherwise.
async fn switched_off(
    ctx: &FlowContext,
    work: &TenantWork,
    object: &ObjectRef,
    why: &str,
) -> FlowResult<MessageOutcome> {
    let was_linked = linked(ctx, work, object).await?.is_some();
    let (status, message) = if was_linked {
        (
            SyncStatus::Desynchronized,
            format!("{why}: synchronisation stopped; the link to Exact Online is kept"),
        )
    } else {
        (
            SyncStatus::NotIntegrated,
            format!("{why}: not synchronised"),
        )
    };
    ctx.record(object, status, Some(message), None).await?;
    Ok(MessageOutcome::Handled)
}

fn firm_field<'a>(firm: &'a ledgerlink_domain::vantagepoint::Firm, field: &str) -> Option<&'a str> {
    match field {
        "org" => firm.org.as_deref(),
        "name" => Some(firm.name.as_str()),
        "client_type" => firm.client_type.as_deref(),
        "vendor_type" => firm.vendor_type.as_deref(),
        "client" => firm.client.as_deref(),
        "vendor" => firm.vendor.as_deref(),
        _ => None,
    }
}

/// PROCESS one firm or employee (or a Discover message of this flow).
pub async fn process(ctx: &FlowContext, message: &WorkMessage) -> FlowResult<MessageOutcome> {
    if message.action == WorkAction::Discover {
        let tenant = ctx.tenant(&message.tenant).await?;
        if tenant.state == ledgerlink_ports::ConnectionState::Paused {
            return Ok(MessageOutcome::Handled);
        }
        let work = ctx.work(tenant).await?;
        discover(ctx, &work).await?;
        return Ok(MessageOutcome::Handled);
    }
    let object = object_of(message)?;
    let tenant = ctx.tenant(&message.tenant).await?;
    match gate(ctx, &tenant, &object, message.action).await? {
        Gate::Go { .. } => {}
        Gate::Skip(outcome) => return Ok(outcome),
    }
    let work = ctx.work(tenant).await?;
    match object.object_type {
        ObjectType::Firm => match object.key.as_str().strip_prefix(EXACT_FIRM_PREFIX) {
            Some(code) => firm_from_exact(ctx, &work, &object, code).await,
            None => firm(ctx, &work, &object).await,
        },
        ObjectType::Employee => employee(ctx, &work, &object).await,
        other => Err(FlowError::Invalid(format!(
            "firm-sync does not process {other} messages; they are settled in discovery"
        ))),
    }
}

async fn firm(
    ctx: &FlowContext,
    work: &TenantWork,
    object: &ObjectRef,
) -> FlowResult<MessageOutcome> {
    let tenant = &work.tenant;
    let firm = match work.conn.psa.firm(object.key.as_str()).await {
        Ok(Some(f)) => f,
        Ok(None) => {
            return switched_off(
                ctx,
                work,
                object,
                "The firm no longer exists in Vantagepoint",
            )
            .await;
        }
        Err(e) => return psa_failed(ctx, tenant, object, e).await,
    };
    let filter = work.settings.filter(ObjectType::Firm);
    if !filter.accepts(firm.status == FirmStatus::Active, |f| firm_field(&firm, f)) {
        return switched_off(
            ctx,
            work,
            object,
            "The firm is excluded by the tenant's filter (Active only by default)",
        )
        .await;
    }
    let account = match ledgerlink_mapping::firms::firm_to_exact(&firm, &work.settings.mapping) {
        Ok(Outcome::Mapped(a)) => a,
        Ok(Outcome::Skipped(SkipReason::NotAvailableToAccountingUsers)) => {
            return switched_off(
                ctx,
                work,
                object,
                "\"Available to: Accounting Users\" is not selected on the firm",
            )
            .await;
        }
        Ok(Outcome::Skipped(other)) => {
            return switched_off(ctx, work, object, &format!("{other:?}")).await;
        }
        Err(e) => return mapping_failed(ctx, object, e).await,
    };
    let hash = hash_of(&(&account, &firm.addresses.len()));
    let bkey = business_key(
        tenant,
        ObjectType::Firm,
        object.key.as_str(),
        hash.get(..16).unwrap_or(&hash),
    );
    let ledger = work.conn.ledger.clone();
    let upserted = ctx
        .once(&bkey, &hash, || async {
            ledger.upsert_account(&account).await
        })
        .await?;
    let posted = match upserted {
        Ok(Once::Done(p) | Once::AlreadyDone(p)) => p,
        Ok(Once::Busy) => return busy(ctx, object).await,
        Ok(Once::Mismatch) => return mismatch(ctx, object).await,
        Err(e) => return ledger_failed(ctx, tenant, object, e).await,
    };
    let Ok(account_id) = posted.target_id.parse::<uuid::Uuid>() else {
        return Err(FlowError::Invalid(format!(
            "the ledger returned an account id that is not a GUID: {}",
            posted.target_id
        )));
    };
    for address in ledgerlink_mapping::firms::firm_addresses_to_exact(&firm, account_id) {
        if let Err(e) = ledger.upsert_address(&address).await {
            return ledger_failed(ctx, tenant, object, e).await;
        }
    }
    if let Some(outcome) = link_or_refuse(ctx, work, object, &posted.target_id).await? {
        return Ok(outcome);
    }
    // Vouchers name the vendor code; links are 1:1 by ClientID, so the vendor code goes to the firms table.
    if let Some(vendor) = firm
        .vendor
        .as_deref()
        .filter(|v| firm.vendor_ind && !v.trim().is_empty())
    {
        let row = LookupEntry {
            key: vendor.trim().to_owned(),
            columns: BTreeMap::from([
                ("exact_id".to_owned(), posted.target_id.clone()),
                ("client_id".to_owned(), object.key.to_string()),
            ]),
            version: 0,
            updated_at: ctx.now(),
            updated_by: "firm-sync".into(),
        };
        upsert_row(ctx, work, LookupTable::Firms, row).await?;
    }
    let message = format!("Synchronised to Exact Online account {}", posted.target_id);
    ctx.update_status(object, |s| {
        s.status = SyncStatus::Success;
        s.target_id = Some(posted.target_id.clone());
        s.source_hash = Some(hash.clone());
        s.last_message = Some(message.clone());
    })
    .await?;
    Ok(MessageOutcome::Handled)
}

/// PROCESS one firm created in Exact (`exact:{code}`): creates the VP firm once and links it.
async fn firm_from_exact(
    ctx: &FlowContext,
    work: &TenantWork,
    object: &ObjectRef,
    code: &str,
) -> FlowResult<MessageOutcome> {
    let tenant = &work.tenant;
    let ledger = work.conn.ledger.clone();
    let account = match ledger.find_account(code).await {
        Ok(Some(a)) => a,
        Ok(None) => {
            let text = format!("Exact Online has no account with code {code} any more");
            ctx.record(object, SyncStatus::NotIntegrated, Some(text), None)
                .await?;
            return Ok(MessageOutcome::Handled);
        }
        Err(e) => return ledger_failed(ctx, tenant, object, e).await,
    };
    let Some(account_id) = account.id else {
        return Err(FlowError::Invalid(format!(
            "the ledger returned account {code} without its id"
        )));
    };
    let exact_id = account_id.to_string();
    match known_party(ctx, work, &exact_id, &account).await? {
        Some((ObjectType::Employee, employee)) => {
            let text =
                format!("The supplier account of Vantagepoint employee {employee}; not a firm");
            ctx.record(object, SyncStatus::NotIntegrated, Some(text), None)
                .await?;
            return Ok(MessageOutcome::Handled);
        }
        Some((_, client_id)) => {
            let text = format!(
                "Linked to Vantagepoint firm {client_id}; firms are edited in Vantagepoint, so changes made in \
                 Exact Online are not synchronised back"
            );
            ctx.record(object, SyncStatus::Success, Some(text), Some(client_id))
                .await?;
            return Ok(MessageOutcome::Handled);
        }
        None => {}
    }
    let mut lookups = crate::lookups::base(ctx, work).await?;
    // The flow cannot list VP's organisations (the PSA port has no such read); the mapping's "first Org"
    // default is left to the VP adapter, which fills the first organisation when `org` is blank.
    lookups.organizations = vec![String::new()];
    let mut mapped = match ledgerlink_mapping::firms::firm_from_exact(&account, None, &lookups) {
        Ok(f) => f,
        Err(e) => return mapping_failed(ctx, object, e).await,
    };
    mapped.org = mapped.org.filter(|o| !o.trim().is_empty());
    // A firm with the account's code already in VP (our earlier create whose answer was lost, or the same
    // party created on both sides) is linked, never created twice.
    let existing = match find_vp_firm_by_code(ctx, work, &mapped).await {
        Ok(found) => found,
        Err(e) => return psa_failed(ctx, tenant, object, e).await,
    };
    let created = match existing {
        Some(firm) => firm,
        None => {
            let bkey = business_key(tenant, ObjectType::Firm, object.key.as_str(), &exact_id);
            let psa = work.conn.psa.clone();
            let once = ctx
                .once(&bkey, &hash_of(&exact_id), || async {
                    psa.create_firm(&mapped).await
                })
                .await?;
            match once {
                Ok(Once::Done(f) | Once::AlreadyDone(f)) => f,
                Ok(Once::Busy) => return busy(ctx, object).await,
                Ok(Once::Mismatch) => return mismatch(ctx, object).await,
                Err(e) => return psa_failed(ctx, tenant, object, e).await,
            }
        }
    };
    let Some(client_id) = created.client_id.clone().filter(|c| !c.trim().is_empty()) else {
        return Err(FlowError::Invalid(format!(
            "Vantagepoint returned the firm of Exact account {code} without its ClientID"
        )));
    };
    let link = IdLink {
        tenant: tenant.id.clone(),
        object_type: ObjectType::Firm,
        vp_key: client_id.clone(),
        exact_id: exact_id.clone(),
        created_at: ctx.now(),
    };
    match ctx.stores.links.link(&link).await {
        Ok(()) => {}
        Err(StoreError::Conflict { detail, .. }) => {
            let text = format!(
                "Vantagepoint firm {client_id} (code {code}) is already linked to another Exact Online \
                 account ({detail}); correct the link or the code, then Force synchronize"
            );
            ctx.record(object, SyncStatus::Error, Some(text.clone()), None)
                .await?;
            ctx.notify_error(object, &text).await?;
            return Ok(MessageOutcome::Handled);
        }
        Err(e) => return Err(e.into()),
    }
    settle_first_push(ctx, work, &created, &client_id, &exact_id).await?;
    // Vouchers name the vendor code: a vendor gets its row in the firms table, as from VP → Exact.
    if let Some(vendor) = created
        .vendor
        .as_deref()
        .filter(|v| created.vendor_ind && !v.trim().is_empty())
    {
        let columns = BTreeMap::from([
            ("exact_id".to_owned(), exact_id.clone()),
            ("client_id".to_owned(), client_id.clone()),
        ]);
        upsert_row(
            ctx,
            work,
            LookupTable::Firms,
            entry(vendor.trim().to_owned(), columns, ctx.now()),
        )
        .await?;
    }
    let text = format!(
        "Created in Vantagepoint as firm {} ({client_id}) from Exact Online account {exact_id}",
        created
            .client
            .as_deref()
            .or(created.vendor.as_deref())
            .unwrap_or(&created.name)
    );
    ctx.record(object, SyncStatus::Success, Some(text), Some(client_id))
        .await?;
    Ok(MessageOutcome::Handled)
}

/// The VP firm whose client or vendor code is the mapped firm's, if any (a read of VP's firm list).
async fn find_vp_firm_by_code(
    ctx: &FlowContext,
    work: &TenantWork,
    mapped: &ledgerlink_domain::vantagepoint::Firm,
) -> Result<Option<ledgerlink_domain::vantagepoint::Firm>, PsaError> {
    let codes: Vec<&str> = [mapped.client.as_deref(), mapped.vendor.as_deref()]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    let everything = TimeWindow::new(
        DateTime::<Utc>::UNIX_EPOCH,
        ctx.now() + chrono::Duration::days(1),
    );
    let firms = work
        .conn
        .psa
        .changed_firms(everything, FirmRole::Any)
        .await?;
    let same_code = |c: Option<&str>| c.map(str::trim).is_some_and(|c| codes.contains(&c));
    if let Some(found) = firms
        .iter()
        .find(|f| same_code(f.client.as_deref()) || same_code(f.vendor.as_deref()))
    {
        return Ok(Some(found.clone()));
    }
    // VP may have autonumbered our earlier create: a firm of the same name and role that is linked to no
    // Exact account is that create (or the same party entered in VP, which is then linked, not doubled).
    for firm in firms.iter().filter(|f| {
        f.name.trim() == mapped.name.trim()
            && f.client_ind == mapped.client_ind
            && f.vendor_ind == mapped.vendor_ind
    }) {
        let Some(client_id) = firm.client_id.as_deref() else {
            continue;
        };
        let linked = ctx
            .stores
            .links
            .exact_id(&work.tenant.id, ObjectType::Firm, client_id)
            .await
            .map_err(|e| PsaError::Permanent {
                message: format!("reading the link of firm {client_id}: {e}"),
                source: Some(Box::new(e)),
            })?;
        if linked.is_none() {
            return Ok(Some(firm.clone()));
        }
    }
    Ok(None)
}

/// Settles the first VP → Exact push of a firm created from Exact: its mapped account IS the Exact
/// account it came from, so the push answers from the idempotency store instead of upserting by VP's
/// (possibly autonumbered) code, which Exact does not know.
async fn settle_first_push(
    ctx: &FlowContext,
    work: &TenantWork,
    created: &ledgerlink_domain::vantagepoint::Firm,
    client_id: &str,
    exact_id: &str,
) -> FlowResult<()> {
    let Ok(Outcome::Mapped(account)) =
        ledgerlink_mapping::firms::firm_to_exact(created, &work.settings.mapping)
    else {
        return Ok(());
    };
    let hash = hash_of(&(&account, &created.addresses.len()));
    let bkey = business_key(
        &work.tenant,
        ObjectType::Firm,
        client_id,
        hash.get(..16).unwrap_or(&hash),
    );
    let settled = ctx
        .once(&bkey, &hash, || async {
            Ok::<_, std::convert::Infallible>(Posted {
                target_id: exact_id.to_owned(),
                created: false,
            })
        })
        .await?;
    // Busy / Mismatch / AlreadyDone: another worker settled it first; nothing to add.
    let _ = settled;
    Ok(())
}

async fn employee(
    ctx: &FlowContext,
    work: &TenantWork,
    object: &ObjectRef,
) -> FlowResult<MessageOutcome> {
    let tenant = &work.tenant;
    let employee = match work.conn.psa.employee(object.key.as_str()).await {
        Ok(Some(e)) => e,
        Ok(None) => {
            return switched_off(
                ctx,
                work,
                object,
                "The employee no longer exists in Vantagepoint",
            )
            .await;
        }
        Err(e) => return psa_failed(ctx, tenant, object, e).await,
    };
    let filter = work.settings.filter(ObjectType::Employee);
    if !filter.accepts(employee.status == EmployeeStatus::Active, |f| {
        if f == "org" {
            employee.org.as_deref()
        } else {
            None
        }
    }) {
        return switched_off(
            ctx,
            work,
            object,
            "The employee is excluded by the tenant's filter (Active only by default)",
        )
        .await;
    }
    let mapped = match ledgerlink_mapping::employees::employee_to_exact(&employee) {
        Ok(Outcome::Mapped(m)) => m,
        Ok(Outcome::Skipped(SkipReason::NotAvailableToAccountingUsers)) => {
            return switched_off(
                ctx,
                work,
                object,
                "\"Available to: Accounting Users\" is not selected on the employee",
            )
            .await;
        }
        Ok(Outcome::Skipped(other)) => {
            return switched_off(ctx, work, object, &format!("{other:?}")).await;
        }
        Err(e) => return mapping_failed(ctx, object, e).await,
    };
    let hash = hash_of(&(&mapped.account, &mapped.contact));
    let bkey = business_key(
        tenant,
        ObjectType::Employee,
        object.key.as_str(),
        hash.get(..16).unwrap_or(&hash),
    );
    let ledger = work.conn.ledger.clone();
    let upserted = ctx
        .once(&bkey, &hash, || async {
            ledger.upsert_account(&mapped.account).await
        })
        .await?;
    let posted = match upserted {
        Ok(Once::Done(p) | Once::AlreadyDone(p)) => p,
        Ok(Once::Busy) => return busy(ctx, object).await,
        Ok(Once::Mismatch) => return mismatch(ctx, object).await,
        Err(e) => return ledger_failed(ctx, tenant, object, e).await,
    };
    let mut contact = mapped.contact.clone();
    contact.account = posted.target_id.parse().ok();
    if let Err(e) = ledger.upsert_contact(&contact).await {
        return ledger_failed(ctx, tenant, object, e).await;
    }
    if let Some(outcome) = link_or_refuse(ctx, work, object, &posted.target_id).await? {
        return Ok(outcome);
    }
    let message = format!(
        "Synchronised to Exact Online as supplier account {} with a contact",
        posted.target_id
    );
    ctx.update_status(object, |s| {
        s.status = SyncStatus::Success;
        s.target_id = Some(posted.target_id.clone());
        s.source_hash = Some(hash.clone());
        s.last_message = Some(message.clone());
    })
    .await?;
    Ok(MessageOutcome::Handled)
}

/// Links the record to the account the ledger answered with. A record already linked to ANOTHER account
/// (the ledger found a different account by code) is an Error for an operator to settle: relinking silently
/// would move every document of the party.
async fn link_or_refuse(
    ctx: &FlowContext,
    work: &TenantWork,
    object: &ObjectRef,
    exact_id: &str,
) -> FlowResult<Option<MessageOutcome>> {
    let link = IdLink {
        tenant: work.tenant.id.clone(),
        object_type: object.object_type,
        vp_key: object.key.to_string(),
        exact_id: exact_id.to_owned(),
        created_at: ctx.now(),
    };
    match ctx.stores.links.link(&link).await {
        Ok(()) => Ok(None),
        Err(StoreError::Conflict { detail, .. }) => {
            let current = linked(ctx, work, object).await?.unwrap_or_default();
            let text = format!(
                "Linked to Exact Online account {current}, but Exact Online matched account {exact_id} by code ({detail}); \
                 correct the link or the code, then Force synchronize"
            );
            ctx.record(object, SyncStatus::Error, Some(text.clone()), None)
                .await?;
            ctx.notify_error(object, &text).await?;
            Ok(Some(MessageOutcome::Handled))
        }
        Err(e) => Err(e.into()),
    }
}

fn entry(key: String, columns: BTreeMap<String, String>, now: DateTime<Utc>) -> LookupEntry {
    LookupEntry {
        key,
        columns,
        version: 0,
        updated_at: now,
        updated_by: "firm-sync".into(),
    }
}

/// Writes a lookup row when it is absent (operators may have edited existing rows: theirs win).
async fn put_if_absent(
    ctx: &FlowContext,
    work: &TenantWork,
    table: LookupTable,
    row: LookupEntry,
) -> FlowResult<bool> {
    if ctx
        .stores
        .lookups
        .get(&work.tenant.id, table, &row.key)
        .await?
        .is_some()
    {
        return Ok(false);
    }
    match ctx
        .stores
        .lookups
        .put(&work.tenant.id, table, &row, None)
        .await
    {
        Ok(_) => Ok(true),
        Err(StoreError::Conflict { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Writes a lookup row, replacing what firm-sync wrote before.
async fn upsert_row(
    ctx: &FlowContext,
    work: &TenantWork,
    table: LookupTable,
    mut row: LookupEntry,
) -> FlowResult<()> {
    for _ in 0..=ctx.settings.status_conflict_retries {
        let current = ctx
            .stores
            .lookups
            .get(&work.tenant.id, table, &row.key)
            .await?;
        if current.as_ref().is_some_and(|c| c.columns == row.columns) {
            return Ok(());
        }
        row.version = current.as_ref().map(|c| c.version).unwrap_or(0);
        match ctx
            .stores
            .lookups
            .put(&work.tenant.id, table, &row, current.map(|c| c.version))
            .await
        {
            Ok(_) => return Ok(()),
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(FlowError::Deferred(format!(
        "lookup row {} kept changing",
        row.key
    )))
}

async fn settle(
    ctx: &FlowContext,
    work: &TenantWork,
    object_type: ObjectType,
    key_text: &str,
    status: SyncStatus,
    message: String,
    target: Option<String>,
) -> FlowResult<()> {
    let object = ObjectRef {
        tenant: work.tenant.id.clone(),
        object_type,
        key: key(key_text)?,
    };
    ctx.record(&object, status, Some(message), target).await?;
    Ok(())
}

/// The initial tax-code pull: every Exact VAT code gets a unique VP code in the lookup table.
async fn pull_tax_codes(ctx: &FlowContext, work: &TenantWork) -> FlowResult<usize> {
    let exact_codes = work.conn.ledger.tax_codes().await?;
    let existing: BTreeMap<VatCode, String> = lookups::table(ctx, work, LookupTable::TaxCodes)
        .await?
        .into_iter()
        .filter_map(|e| {
            Some((
                VatCode::parse(&e.key).ok()?,
                e.columns.get("vp_code")?.clone(),
            ))
        })
        .collect();
    if exact_codes.iter().all(|c| existing.contains_key(&c.code)) {
        return Ok(0);
    }
    let table = ledgerlink_mapping::ledger_setup::tax_code_table(&exact_codes, &existing);
    let vp_existing: BTreeSet<String> = work
        .conn
        .psa
        .tax_codes()
        .await?
        .into_iter()
        .map(|t| t.code)
        .collect();
    let mut created = 0;
    for vp in &table.created {
        let Some((exact_code, _)) = table.links.iter().find(|(_, v)| **v == vp.code) else {
            continue;
        };
        if !vp_existing.contains(&vp.code)
            && let Err(e) = work.conn.psa.create_tax_code(vp).await
        {
            settle(
                ctx,
                work,
                ObjectType::TaxCode,
                exact_code.as_str(),
                SyncStatus::Error,
                e.to_string(),
                None,
            )
            .await?;
            continue;
        }
        let columns = BTreeMap::from([
            ("vp_code".to_owned(), vp.code.clone()),
            ("rate".to_owned(), vp.rate.normalize().to_string()),
            (
                "description".to_owned(),
                vp.description.clone().unwrap_or_default(),
            ),
        ]);
        put_if_absent(
            ctx,
            work,
            LookupTable::TaxCodes,
            entry(exact_code.as_str().to_owned(), columns, ctx.now()),
        )
        .await?;
        settle(
            ctx,
            work,
            ObjectType::TaxCode,
            exact_code.as_str(),
            SyncStatus::Success,
            format!("Created in Vantagepoint as tax code {}", vp.code),
            Some(vp.code.clone()),
        )
        .await?;
        created += 1;
    }
    Ok(created)
}

/// Exact's chart of accounts into VP and the G/L lookup table.
async fn pull_gl_accounts(ctx: &FlowContext, work: &TenantWork) -> FlowResult<(usize, usize)> {
    let exact = work.conn.ledger.gl_accounts().await?;
    let vp: BTreeSet<String> = work
        .conn
        .psa
        .accounts()
        .await?
        .into_iter()
        .map(|a| a.account)
        .collect();
    let known: BTreeSet<String> = lookups::table(ctx, work, LookupTable::GlAccounts)
        .await?
        .into_iter()
        .map(|e| e.key)
        .collect();
    let (mut created, mut linked) = (0, 0);
    for account in &exact {
        let code = account.code.trim().to_owned();
        let Some(id) = account.id else { continue };
        if code.is_empty() || known.contains(&code) {
            continue;
        }
        if !vp.contains(&code) {
            let mapped = match ledgerlink_mapping::ledger_setup::gl_account_to_vp(
                account,
                &work.settings.account_types,
            ) {
                Ok(m) => m,
                Err(e) => {
                    settle(
                        ctx,
                        work,
                        ObjectType::GlAccount,
                        &code,
                        SyncStatus::Error,
                        e.to_string(),
                        None,
                    )
                    .await?;
                    continue;
                }
            };
            if let Err(e) = work.conn.psa.create_account(&mapped).await {
                settle(
                    ctx,
                    work,
                    ObjectType::GlAccount,
                    &code,
                    SyncStatus::Error,
                    e.to_string(),
                    None,
                )
                .await?;
                continue;
            }
            created += 1;
        }
        let columns = BTreeMap::from([("exact_id".to_owned(), id.to_string())]);
        put_if_absent(
            ctx,
            work,
            LookupTable::GlAccounts,
            entry(code.clone(), columns, ctx.now()),
        )
        .await?;
        settle(
            ctx,
            work,
            ObjectType::GlAccount,
            &code,
            SyncStatus::Success,
            "In both charts of accounts".into(),
            Some(id.to_string()),
        )
        .await?;
        linked += 1;
    }
    Ok((created, linked))
}

/// VP's currencies must be enabled in Exact (the API cannot create them there).
async fn check_currencies(ctx: &FlowContext, work: &TenantWork) -> FlowResult<usize> {
    let exact: BTreeSet<_> = work
        .conn
        .ledger
        .currencies()
        .await?
        .into_iter()
        .map(|c| c.code)
        .collect();
    let vp = work.conn.psa.currencies().await?;
    for currency in &vp {
        let code = currency.code.as_str().to_owned();
        if exact.contains(&currency.code) {
            let columns = BTreeMap::from([(
                "description".to_owned(),
                currency.description.clone().unwrap_or_default(),
            )]);
            put_if_absent(
                ctx,
                work,
                LookupTable::Currencies,
                entry(code.clone(), columns, ctx.now()),
            )
            .await?;
            settle(
                ctx,
                work,
                ObjectType::Currency,
                &code,
                SyncStatus::Success,
                "Enabled in both systems".into(),
                Some(code.clone()),
            )
            .await?;
        } else {
            let message = format!(
                "Currency {code} is used in Vantagepoint but not enabled in Exact Online; enable it in Exact Online"
            );
            settle(
                ctx,
                work,
                ObjectType::Currency,
                &code,
                SyncStatus::Error,
                message,
                None,
            )
            .await?;
        }
    }
    Ok(vp.len())
}
