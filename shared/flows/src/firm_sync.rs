//! FIRM-SYNC: master data between the two systems (defaults: firms, employees and currencies from
//! Vantagepoint; the chart of accounts and tax codes from Exact Online), with the default Active filter and
//! the tenant's custom filters (seed 004).
//!
//! Firms and employees are linked to ledger accounts by id ([`crate::links`] has the rules): a linked
//! record is written by its account's id only; a record's first link adopts the account with its code only
//! when no other record has it and it has the right role; every conflict is found before any write.
//!
//! - **Firms, Vantagepoint → Exact** (when VP owns firms, the default): firms "Available to: Accounting
//!   Users" become customer/supplier accounts with their addresses; deselecting it stops the sync — the
//!   object becomes Desynchronized (Not integrated when never linked) with a message and the link is kept.
//!   The vendor code lands in the `firms` lookup table too (vouchers name vendors).
//! - **Firms created in Exact → Vantagepoint** (the spec's "two-way" integration, whatever the owner):
//!   accounts changed since the `sync/CRM/Accounts` cursor that are linked to no firm or employee are
//!   enqueued, each as a Firm keyed `exact:{ledger id}` (VP firms are keyed by their `ClientID`). Processing
//!   maps the account with the spec's defaults, links it to a VP firm with its code when there is one
//!   (an earlier create whose answer was lost, or the same party entered on both sides), else creates the VP
//!   firm, and writes the link right with the create.
//! - **Edits**: the tenant's source of truth for firms owns the mapped fields. A change on the owning side
//!   is written to the other (by id); a change on the other side is compared with the owner's values and,
//!   when they differ, the firm becomes Desynchronized with both values — never overwritten silently.
//!   Synchronize then writes the owner's values (the history keeps what they replaced). Our own writes come
//!   back as changes too; the link's sync state recognises them (echo suppression) and drops them.
//! - **Employees** (VP → Exact supplier account + contact), likewise only "available to accounting users",
//!   linked by id, with an optional code prefix (`employee_code_prefix`) when employee numbers collide with
//!   client or vendor codes (a collision without it is refused, naming both records).
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
use ledgerlink_domain::exact::Account;
use ledgerlink_domain::vantagepoint::{EmployeeStatus, Firm, FirmStatus};
use ledgerlink_domain::{ExactAccountCode, Flow, ObjectType, SyncStatus, VatCode};
use ledgerlink_mapping::{Outcome, SkipReason};
use ledgerlink_ports::ledger::LedgerError;
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
use crate::links::{
    self, CONFLICT_ACTIONS, FirstLink, Roles, account_label, describe, employee_label, firm_label,
};
use crate::lookups;
use crate::posted::DiscoverReport;
use crate::settings::SourceOfTruth;

pub const FIRMS_CURSOR: &str = "Firms/ModDate";
pub const EMPLOYEES_CURSOR: &str = "Employees/ModDate";
/// The cursor of Exact accounts read for firms created (or edited) in Exact (Exact's sync `Timestamp`).
pub const EXACT_ACCOUNTS_CURSOR: &str = "sync/CRM/Accounts";
/// The key prefix of firms created in Exact: `exact:{ledger id}` (VP firms are keyed by `ClientID`).
pub const EXACT_FIRM_PREFIX: &str = "exact:";

/// What one master-data discovery did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FirmSyncReport {
    pub changed: DiscoverReport,
    /// Changes seen that were the echo of our own writes (or carried no mapped change), and dropped.
    pub echoes: usize,
    /// Real changes on the side that does not own the record: Desynchronized with both values.
    pub desynchronized: usize,
    pub gl_accounts_created: usize,
    pub gl_accounts_linked: usize,
    pub tax_codes_created: usize,
    pub currencies_checked: usize,
}

/// DISCOVER for one tenant.
pub async fn discover(ctx: &FlowContext, work: &TenantWork) -> FlowResult<FirmSyncReport> {
    let mut report = FirmSyncReport::default();
    // Firms are read whoever owns them: VP-side edits of an Exact-owned firm are shown, not lost.
    discover_changed(ctx, work, ObjectType::Firm, &mut report).await?;
    if work.settings.source_of_truth(ObjectType::Employee) == SourceOfTruth::Vantagepoint {
        discover_changed(ctx, work, ObjectType::Employee, &mut report).await?;
    }
    // Two-way for firms: accounts created in Exact become VP firms whichever side owns firm edits.
    discover_exact_accounts(ctx, work, &mut report).await?;
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

/// What discovery does with one changed VP record.
enum Seen {
    /// Enqueue it (a change the flow must write, or a record never synchronised).
    Enqueue(String),
    /// The echo of our own write, or no mapped change.
    Echo,
    /// A real change on the side that does not own the record (already recorded Desynchronized).
    Desynchronized,
}

async fn discover_changed(
    ctx: &FlowContext,
    work: &TenantWork,
    object_type: ObjectType,
    report: &mut FirmSyncReport,
) -> FlowResult<()> {
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
    // One window from the cursor: ModDate reads are not size-bounded like the posted ledger.
    if from >= until {
        return Ok(());
    }
    let window = TimeWindow::new(from, until);
    let seen = changed_records(ctx, work, object_type, window).await?;
    let mut messages = Vec::new();
    for record in &seen {
        let k = match record {
            Seen::Enqueue(k) => k,
            Seen::Echo => {
                report.echoes += 1;
                continue;
            }
            Seen::Desynchronized => {
                report.desynchronized += 1;
                continue;
            }
        };
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
    report.changed.found += seen.len();
    report.changed.enqueued += messages.len();
    report.changed.windows += 1;
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
        Ok(_) | Err(StoreError::Conflict { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The VP records changed in `window`, each with what discovery does with it.
async fn changed_records(
    ctx: &FlowContext,
    work: &TenantWork,
    object_type: ObjectType,
    window: TimeWindow,
) -> FlowResult<Vec<Seen>> {
    let tenant = &work.tenant.id;
    let mut out = Vec::new();
    if object_type == ObjectType::Firm {
        let owner = work.settings.source_of_truth(ObjectType::Firm);
        for firm in work.conn.psa.changed_firms(window, FirmRole::Any).await? {
            let Some(client_id) = firm.client_id.clone() else {
                continue;
            };
            let link = ctx
                .stores
                .links
                .get(tenant, ObjectType::Firm, &client_id)
                .await?;
            let hash = links::firm_hash(&firm, &work.settings.mapping);
            if links::vp_unchanged(link.as_ref(), firm.mod_date, &hash) {
                out.push(Seen::Echo);
                continue;
            }
            match (owner, link) {
                (SourceOfTruth::Exact, Some(link)) => {
                    out.push(vp_change_of_ledger_owned(ctx, work, &firm, &link, hash).await?)
                }
                _ => out.push(Seen::Enqueue(client_id)),
            }
        }
    } else {
        let filter = work.settings.filter(object_type);
        for employee in work.conn.psa.changed_employees(window).await? {
            if !(filter.rules.is_empty()
                || filter.accepts(true, |f| {
                    if f == "org" {
                        employee.org.as_deref()
                    } else {
                        None
                    }
                }))
            {
                continue;
            }
            let link = ctx
                .stores
                .links
                .get(tenant, ObjectType::Employee, &employee.employee)
                .await?;
            let hash = links::employee_hash(&employee);
            if links::vp_unchanged(link.as_ref(), None, &hash) {
                out.push(Seen::Echo);
            } else {
                out.push(Seen::Enqueue(employee.employee));
            }
        }
    }
    Ok(out)
}

/// A real change in VP of a firm the ledger owns: Desynchronized with both values when the mapped fields now
/// differ from the ledger's (VP's edit is neither written to the ledger nor overwritten).
async fn vp_change_of_ledger_owned(
    ctx: &FlowContext,
    work: &TenantWork,
    firm: &Firm,
    link: &IdLink,
    hash: String,
) -> FlowResult<Seen> {
    let object = links::object_ref(&work.tenant.id, ObjectType::Firm, &link.vp_key)?;
    let account = match work.conn.ledger.account(&link.exact_id).await {
        Ok(Some(a)) => a,
        // Let PROCESS say what is wrong with the link (gone, unreadable).
        Ok(None) | Err(_) => return Ok(Seen::Enqueue(link.vp_key.clone())),
    };
    let (_, differences) = links::ledger_owned_changes(firm, &account);
    if differences.is_empty() {
        links::save_state(
            ctx,
            &work.tenant.id,
            ObjectType::Firm,
            &link.vp_key,
            &link.exact_id,
            links::state(ctx.now(), Some(hash), firm.mod_date, &account),
        )
        .await?;
        return Ok(Seen::Echo);
    }
    let text = format!(
        "Changed in Vantagepoint, but Exact Online owns firms (the tenant's source of truth), so the change \
         was not written to {} ({}): {}. Make the change in Exact Online, or Synchronize to write Exact \
         Online's values back to Vantagepoint",
        account_label(&account),
        link.exact_id,
        describe(&differences)
    );
    ctx.record(&object, SyncStatus::Desynchronized, Some(text), None)
        .await?;
    Ok(Seen::Desynchronized)
}

/// Reads the Exact accounts changed since the `sync/CRM/Accounts` cursor: linked ones are compared with
/// their VP record (echo, an owner's change to write, or a Desynchronized non-owner change); unlinked ones
/// are enqueued to become VP firms. Moves the cursor after each batch (a batch whose messages were not all
/// sent is read again).
async fn discover_exact_accounts(
    ctx: &FlowContext,
    work: &TenantWork,
    report: &mut FirmSyncReport,
) -> FlowResult<()> {
    let tenant = &work.tenant.id;
    let division = work.tenant.exact_division;
    // After a division move the accounts feed starts again (linked accounts compare as echoes).
    crate::sync_reset::restart_feeds_after_reset(
        ctx,
        work,
        Flow::FirmSync,
        &[EXACT_ACCOUNTS_CURSOR],
    )
    .await?;
    let mut cursor = ctx
        .stores
        .cursors
        .get(tenant, Flow::FirmSync, EXACT_ACCOUNTS_CURSOR, division)
        .await?;
    loop {
        let batch = work
            .conn
            .ledger
            .accounts_since(crate::sync_reset::feed_position(cursor.as_ref()))
            .await?;
        report.changed.windows += 1;
        report.changed.found += batch.items.len();
        let mut messages = Vec::new();
        for account in &batch.items {
            let Some(id) = account.id.map(|i| i.to_string()) else {
                continue;
            };
            let (object, message) = match links::linked_to(ctx, tenant, &id).await? {
                Some((object_type, vp_key)) => {
                    match ledger_change(ctx, work, object_type, &vp_key, account).await? {
                        Seen::Echo => {
                            report.echoes += 1;
                            continue;
                        }
                        Seen::Desynchronized => {
                            report.desynchronized += 1;
                            continue;
                        }
                        Seen::Enqueue(k) => (
                            links::object_ref(tenant, object_type, &k)?,
                            "Changed in Exact Online; waiting to be synchronised to Vantagepoint",
                        ),
                    }
                }
                None => (
                    links::object_ref(
                        tenant,
                        ObjectType::Firm,
                        &format!("{EXACT_FIRM_PREFIX}{id}"),
                    )?,
                    "Created or changed in Exact Online; waiting to be synchronised",
                ),
            };
            ctx.update_status(&object, |s| {
                if s.status != SyncStatus::OutcomeUnknown {
                    s.status = SyncStatus::Pending;
                }
                s.source_version = Some(batch.next_cursor.clone());
                s.last_message = Some(message.into());
            })
            .await?;
            messages.push(ctx.message(tenant, object.object_type, &object.key, WorkAction::Sync));
        }
        ctx.send(Flow::FirmSync, &messages).await?;
        report.changed.enqueued += messages.len();
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
            Err(StoreError::Conflict { .. }) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        if !batch.more {
            return Ok(());
        }
    }
}

/// A change in Exact of an account linked to a VP firm or employee.
async fn ledger_change(
    ctx: &FlowContext,
    work: &TenantWork,
    object_type: ObjectType,
    vp_key: &str,
    account: &Account,
) -> FlowResult<Seen> {
    let tenant = &work.tenant.id;
    let link = ctx.stores.links.get(tenant, object_type, vp_key).await?;
    if links::ledger_unchanged(link.as_ref(), account) {
        return Ok(Seen::Echo);
    }
    let Some(link) = link else {
        return Ok(Seen::Echo);
    };
    let owner = work.settings.source_of_truth(object_type);
    if object_type == ObjectType::Firm && owner == SourceOfTruth::Exact {
        // The owner changed: PROCESS writes it to VP.
        return Ok(Seen::Enqueue(vp_key.to_owned()));
    }
    // VP owns the record: compare the ledger's change with what VP would write.
    let (mapped, who, vp_hash, vp_version) = match object_type {
        ObjectType::Firm => {
            let Ok(Some(firm)) = work.conn.psa.firm(vp_key).await else {
                return Ok(Seen::Echo);
            };
            let Ok(Outcome::Mapped(mapped)) =
                ledgerlink_mapping::firms::firm_to_exact(&firm, &work.settings.mapping)
            else {
                return Ok(Seen::Echo);
            };
            (
                mapped,
                "firms",
                links::firm_hash(&firm, &work.settings.mapping),
                firm.mod_date,
            )
        }
        _ => {
            let Ok(Some(employee)) = work.conn.psa.employee(vp_key).await else {
                return Ok(Seen::Echo);
            };
            let Ok(Outcome::Mapped(mapped)) =
                ledgerlink_mapping::employees::employee_to_exact(&employee)
            else {
                return Ok(Seen::Echo);
            };
            (
                mapped.account,
                "employees",
                links::employee_hash(&employee),
                None,
            )
        }
    };
    let differences = links::vp_owned_differences(&mapped, account);
    if differences.is_empty() {
        // Changed in fields that do not map, or changed to what VP says anyway: in sync.
        let keep_vp = link.sync.as_ref();
        links::save_state(
            ctx,
            tenant,
            object_type,
            vp_key,
            &link.exact_id,
            links::state(
                ctx.now(),
                keep_vp.and_then(|s| s.vp_hash.clone()).or(Some(vp_hash)),
                keep_vp.and_then(|s| s.vp_version).or(vp_version),
                account,
            ),
        )
        .await?;
        return Ok(Seen::Echo);
    }
    let object = links::object_ref(tenant, object_type, vp_key)?;
    let text = format!(
        "Changed in Exact Online, but Vantagepoint owns {who} (the tenant's source of truth), so the change \
         was not written to Vantagepoint: {}. Make the change in Vantagepoint, or Synchronize to write \
         Vantagepoint's values to {} ({})",
        describe(&differences),
        account_label(account),
        link.exact_id
    );
    ctx.record(&object, SyncStatus::Desynchronized, Some(text), None)
        .await?;
    Ok(Seen::Desynchronized)
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

/// A link conflict: Error with the message (naming both records and the ways out), and a notification.
/// Nothing was written.
async fn conflict(
    ctx: &FlowContext,
    object: &ObjectRef,
    text: String,
) -> FlowResult<MessageOutcome> {
    ctx.record(object, SyncStatus::Error, Some(text.clone()), None)
        .await?;
    ctx.notify_error(object, &text).await?;
    Ok(MessageOutcome::Handled)
}

fn firm_field<'a>(firm: &'a Firm, field: &str) -> Option<&'a str> {
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
    let previous = match gate(ctx, &tenant, &object, message.action).await? {
        Gate::Go { previous, .. } => previous,
        Gate::Skip(outcome) => return Ok(outcome),
    };
    let work = ctx.work(tenant).await?;
    match object.object_type {
        ObjectType::Firm => match object.key.as_str().strip_prefix(EXACT_FIRM_PREFIX) {
            Some(id) => firm_from_exact(ctx, &work, &object, id).await,
            None if work.settings.source_of_truth(ObjectType::Firm) == SourceOfTruth::Exact => {
                firm_from_owner(ctx, &work, &object).await
            }
            None => firm(ctx, &work, &object, previous.as_ref()).await,
        },
        ObjectType::Employee => employee(ctx, &work, &object).await,
        other => Err(FlowError::Invalid(format!(
            "firm-sync does not process {other} messages; they are settled in discovery"
        ))),
    }
}

/// How a record got the account it is written to.
enum Linked {
    Existing,
    Adopted,
    Created,
}

/// The account of a VP record for a write: its link, else its first link (adopted or created). `Err`
/// carries the finished outcome (a conflict, a ledger failure) when there is nothing to write.
#[allow(clippy::too_many_arguments)]
async fn account_of(
    ctx: &FlowContext,
    work: &TenantWork,
    object: &ObjectRef,
    who: &str,
    mapped: &Account,
    roles: Roles,
    hint: Option<String>,
    advice: Option<&str>,
) -> FlowResult<Result<(String, Linked, Option<Account>), MessageOutcome>> {
    let tenant = &work.tenant;
    if let Some(id) = linked(ctx, work, object).await? {
        return Ok(Ok((id, Linked::Existing, None)));
    }
    let decided = match links::first_link(ctx, work, object, who, mapped, roles, hint).await? {
        Ok(d) => d,
        Err(e) => return Ok(Err(ledger_failed(ctx, tenant, object, e).await?)),
    };
    match decided {
        FirstLink::Conflict(text) => {
            let text = match advice {
                Some(advice) => format!("{text} {advice}"),
                None => text,
            };
            Ok(Err(conflict(ctx, object, text).await?))
        }
        FirstLink::Adopt(account) => {
            if let Some(text) = links::write_first_link(ctx, work, object, who, &account).await? {
                return Ok(Err(conflict(ctx, object, text).await?));
            }
            let id = account.id.map(|i| i.to_string()).unwrap_or_default();
            Ok(Ok((id, Linked::Adopted, Some(*account))))
        }
        FirstLink::Create => {
            let created = match create_once(ctx, work, object, mapped).await? {
                Ok(a) => a,
                Err(outcome) => return Ok(Err(outcome)),
            };
            // The link is written with the create: discovery of Exact's side sees a linked account.
            if let Some(text) = links::write_first_link(ctx, work, object, who, &created).await? {
                return Ok(Err(conflict(ctx, object, text).await?));
            }
            let id = created.id.map(|i| i.to_string()).unwrap_or_default();
            Ok(Ok((id, Linked::Created, Some(created))))
        }
    }
}

/// Creates the account of a record once (a retry after a lost answer or a crash finds it: by the
/// idempotency store, or by its code at the next first link). A stored result whose account was deleted
/// since is not reused.
async fn create_once(
    ctx: &FlowContext,
    work: &TenantWork,
    object: &ObjectRef,
    mapped: &Account,
) -> FlowResult<Result<Account, MessageOutcome>> {
    let tenant = &work.tenant;
    let ledger = work.conn.ledger.clone();
    let code = mapped
        .code
        .as_ref()
        .map(|c| c.as_str().to_owned())
        .unwrap_or_default();
    let mut version = format!("create-account-{code}");
    for _ in 0..2 {
        let bkey = business_key(tenant, object.object_type, object.key.as_str(), &version);
        let created = ctx
            .once(&bkey, &hash_of(&bkey), |_look_up_first| async {
                ledger.create_account(mapped).await
            })
            .await?;
        let account = match created {
            Ok(Once::Done(a)) => return Ok(Ok(a)),
            Ok(Once::AlreadyDone(a)) => a,
            Ok(Once::Busy) => return Ok(Err(busy(ctx, object).await?)),
            Ok(Once::Mismatch) => return Ok(Err(mismatch(ctx, object).await?)),
            Err(e) => return Ok(Err(ledger_failed(ctx, tenant, object, e).await?)),
        };
        let id = account.id.map(|i| i.to_string()).unwrap_or_default();
        match ledger.account(&id).await {
            Ok(Some(current)) => return Ok(Ok(current)),
            Ok(None) => version = format!("create-account-{code}-after-{id}"),
            Err(e) => return Ok(Err(ledger_failed(ctx, tenant, object, e).await?)),
        }
    }
    Err(FlowError::Deferred(format!(
        "the accounts created for {} {} keep disappearing from the ledger",
        object.object_type, object.key
    )))
}

/// Writes `mapped` to the linked account `id` unless it already holds those values (read first, so what
/// the write replaces is on record). Returns the account as stored and the ledger-side edits it replaced.
async fn write_account(
    work: &TenantWork,
    id: &str,
    mapped: &Account,
    known: Option<Account>,
) -> Result<(Account, Vec<links::Difference>), LedgerError> {
    let ledger = &work.conn.ledger;
    let current = match known {
        Some(a) => Some(a),
        None => ledger.account(id).await?,
    };
    let Some(current) = current else {
        return Err(LedgerError::NotFound {
            what: format!("account {id}"),
        });
    };
    let replaced = links::vp_owned_differences(mapped, &current);
    if replaced.is_empty() {
        return Ok((current, replaced));
    }
    let stored = ledger.update_account(id, mapped).await?;
    Ok((stored, replaced))
}

/// The message of a record whose linked account is gone.
fn gone(who: &str, id: &str) -> String {
    format!(
        "{who} is linked to Exact Online account {id}, which no longer exists in Exact Online (deleted \
         there?). Nothing was written. {CONFLICT_ACTIONS}"
    )
}

async fn firm(
    ctx: &FlowContext,
    work: &TenantWork,
    object: &ObjectRef,
    previous: Option<&ledgerlink_ports::ObjectStatus>,
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
    let who = firm_label(&firm);
    let hint = links::vendor_hint(ctx, work, &firm).await?;
    let (id, how, known) = match account_of(
        ctx,
        work,
        object,
        &who,
        &account,
        Roles::of_firm(&firm),
        hint,
        None,
    )
    .await?
    {
        Ok(found) => found,
        Err(outcome) => return Ok(outcome),
    };
    let known = if matches!(how, Linked::Created) {
        known
    } else {
        None
    };
    let (stored, replaced) = match write_account(work, &id, &account, known).await {
        Ok(done) => done,
        Err(LedgerError::NotFound { .. }) => return conflict(ctx, object, gone(&who, &id)).await,
        Err(e) => return ledger_failed(ctx, tenant, object, e).await,
    };
    let Ok(account_id) = id.parse::<uuid::Uuid>() else {
        return Err(FlowError::Invalid(format!(
            "the ledger returned an account id that is not a GUID: {id}"
        )));
    };
    for address in ledgerlink_mapping::firms::firm_addresses_to_exact(&firm, account_id) {
        if let Err(e) = work.conn.ledger.upsert_address(&address).await {
            return ledger_failed(ctx, tenant, object, e).await;
        }
    }
    // The account as it stands after the addresses (an address write may touch it).
    let stored = match work.conn.ledger.account(&id).await {
        Ok(Some(a)) => a,
        _ => stored,
    };
    links::save_state(
        ctx,
        &tenant.id,
        ObjectType::Firm,
        object.key.as_str(),
        &id,
        links::state(
            ctx.now(),
            Some(links::firm_hash(&firm, &work.settings.mapping)),
            firm.mod_date,
            &stored,
        ),
    )
    .await?;
    // Vouchers name the vendor code; links are 1:1 by ClientID, so the vendor code goes to the firms table.
    if let Some(vendor) = firm
        .vendor
        .as_deref()
        .filter(|v| firm.vendor_ind && !v.trim().is_empty())
    {
        let row = entry(
            vendor.trim().to_owned(),
            BTreeMap::from([
                ("exact_id".to_owned(), id.clone()),
                ("client_id".to_owned(), object.key.to_string()),
            ]),
            ctx.now(),
        );
        upsert_row(ctx, work, LookupTable::Firms, row).await?;
    }
    let label = account_label(&stored);
    let mut message = match how {
        Linked::Created => format!("Created {label} ({id}) and linked it"),
        Linked::Adopted => format!(
            "Linked to the existing {label} ({id}): it has the firm's code, the right role and no other \
             link; synchronised"
        ),
        Linked::Existing => format!("Synchronised to {label} ({id})"),
    };
    // Whether the last settled state before this attempt was an Exact-side edit (Desynchronized).
    let was_desynchronized = previous.is_some_and(|p| p.status == SyncStatus::Desynchronized)
        || ctx
            .stores
            .statuses
            .history(object, 10)
            .await?
            .iter()
            .find(|a| !matches!(a.status, SyncStatus::Pending | SyncStatus::OutcomeUnknown))
            .is_some_and(|a| a.status == SyncStatus::Desynchronized);
    if !replaced.is_empty() && !matches!(how, Linked::Created) {
        let verb = if was_desynchronized {
            "Vantagepoint owns firms, so its values replaced the edits made in Exact Online"
        } else {
            "written"
        };
        message.push_str(&format!(" ({verb}: {})", describe(&replaced)));
    }
    ctx.update_status(object, |s| {
        s.status = SyncStatus::Success;
        s.target_id = Some(id.clone());
        s.last_message = Some(message.clone());
    })
    .await?;
    Ok(MessageOutcome::Handled)
}

/// PROCESS a VP firm when Exact Online owns firms: the linked account's values are written to VP (the
/// owner wins). A firm that is not linked is not created in Exact (Exact is where firms are created).
async fn firm_from_owner(
    ctx: &FlowContext,
    work: &TenantWork,
    object: &ObjectRef,
) -> FlowResult<MessageOutcome> {
    let tenant = &work.tenant;
    let Some(id) = linked(ctx, work, object).await? else {
        let text = "Exact Online owns firms (the tenant's source of truth): firms are created in Exact \
                    Online and come to Vantagepoint from there. To synchronise this one, adopt its existing \
                    Exact Online account from the object's detail on the Integration page";
        ctx.record(object, SyncStatus::NotIntegrated, Some(text.into()), None)
            .await?;
        return Ok(MessageOutcome::Handled);
    };
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
    let who = firm_label(&firm);
    let account = match work.conn.ledger.account(&id).await {
        Ok(Some(a)) => a,
        Ok(None) => return conflict(ctx, object, gone(&who, &id)).await,
        Err(e) => return ledger_failed(ctx, tenant, object, e).await,
    };
    let (changes, differences) = links::ledger_owned_changes(&firm, &account);
    let firm = if changes.is_empty() {
        firm
    } else {
        match work
            .conn
            .psa
            .update_firm(object.key.as_str(), &changes)
            .await
        {
            Ok(f) => f,
            Err(e) => return psa_failed(ctx, tenant, object, e).await,
        }
    };
    links::save_state(
        ctx,
        &tenant.id,
        ObjectType::Firm,
        object.key.as_str(),
        &id,
        links::state(
            ctx.now(),
            Some(links::firm_hash(&firm, &work.settings.mapping)),
            firm.mod_date,
            &account,
        ),
    )
    .await?;
    let mut message = format!(
        "Synchronised from {} ({id}); Exact Online owns firms",
        account_label(&account)
    );
    if !differences.is_empty() {
        message.push_str(&format!(
            " (written to Vantagepoint: {})",
            describe(&differences)
        ));
    }
    ctx.record(object, SyncStatus::Success, Some(message), Some(id))
        .await?;
    Ok(MessageOutcome::Handled)
}

/// PROCESS one account created in Exact (`exact:{ledger id}`): links it to the VP firm with its code, or
/// creates the VP firm once, and writes the link with the create.
async fn firm_from_exact(
    ctx: &FlowContext,
    work: &TenantWork,
    object: &ObjectRef,
    exact_id: &str,
) -> FlowResult<MessageOutcome> {
    let tenant = &work.tenant;
    let account = match work.conn.ledger.account(exact_id).await {
        Ok(Some(a)) => a,
        Ok(None) => {
            let text = format!("Exact Online has no account {exact_id} any more");
            ctx.record(object, SyncStatus::NotIntegrated, Some(text), None)
                .await?;
            return Ok(MessageOutcome::Handled);
        }
        Err(e) => return ledger_failed(ctx, tenant, object, e).await,
    };
    let label = account_label(&account);
    match links::linked_to(ctx, &tenant.id, exact_id).await? {
        Some((ObjectType::Employee, employee)) => {
            let text = format!(
                "{label} is the supplier account of Vantagepoint employee {employee}; not a firm"
            );
            ctx.record(object, SyncStatus::NotIntegrated, Some(text), None)
                .await?;
            return Ok(MessageOutcome::Handled);
        }
        Some((_, client_id)) => {
            let text = format!("{label} is linked to Vantagepoint firm {client_id}");
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
    // party created on both sides) is linked, never created twice — unless it is linked elsewhere.
    let existing = match find_vp_firm_by_code(ctx, work, &mapped).await {
        Ok(found) => found,
        Err(e) => return psa_failed(ctx, tenant, object, e).await,
    };
    let (created, how) = match existing {
        Some(VpMatch::Unlinked(firm)) => (firm, "Linked to the existing Vantagepoint firm"),
        Some(VpMatch::LinkedElsewhere(firm, other)) => {
            let text = format!(
                "{label} ({exact_id}) has the code of {}, but that firm is linked to Exact Online account \
                 {other}: no firm was created (it would take the same code) and nothing was written. Link \
                 the firm to this account instead (relink from the firm's detail on the Integration page), \
                 or change the code in Exact Online",
                firm_label(&firm)
            );
            return conflict(ctx, object, text).await;
        }
        None => {
            let bkey = business_key(tenant, ObjectType::Firm, object.key.as_str(), exact_id);
            let psa = work.conn.psa.clone();
            let once = ctx
                .once(&bkey, &hash_of(&exact_id), |_look_up_first| async {
                    psa.create_firm(&mapped).await
                })
                .await?;
            match once {
                Ok(Once::Done(f) | Once::AlreadyDone(f)) => (f, "Created in Vantagepoint as firm"),
                Ok(Once::Busy) => return busy(ctx, object).await,
                Ok(Once::Mismatch) => return mismatch(ctx, object).await,
                Err(e) => return psa_failed(ctx, tenant, object, e).await,
            }
        }
    };
    let Some(client_id) = created.client_id.clone().filter(|c| !c.trim().is_empty()) else {
        return Err(FlowError::Invalid(format!(
            "Vantagepoint returned the firm of {label} without its ClientID"
        )));
    };
    let firm_object = links::object_ref(&tenant.id, ObjectType::Firm, &client_id)?;
    if let Some(text) =
        links::write_first_link(ctx, work, &firm_object, &firm_label(&created), &account).await?
    {
        return conflict(ctx, object, text).await;
    }
    // The firm as VP stores it now (an earlier create's answer may be old): its ModDate is our version.
    let created = match work.conn.psa.firm(&client_id).await {
        Ok(Some(f)) => f,
        _ => created,
    };
    links::save_state(
        ctx,
        &tenant.id,
        ObjectType::Firm,
        &client_id,
        exact_id,
        links::state(
            ctx.now(),
            Some(links::firm_hash(&created, &work.settings.mapping)),
            created.mod_date,
            &account,
        ),
    )
    .await?;
    // Vouchers name the vendor code: a vendor gets its row in the firms table, as from VP → Exact.
    if let Some(vendor) = created
        .vendor
        .as_deref()
        .filter(|v| created.vendor_ind && !v.trim().is_empty())
    {
        let columns = BTreeMap::from([
            ("exact_id".to_owned(), exact_id.to_owned()),
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
        "{how} {} ({client_id}) from {label} ({exact_id})",
        created
            .client
            .as_deref()
            .or(created.vendor.as_deref())
            .unwrap_or(&created.name)
    );
    // The VP firm's own object shows the link too (its ModDate is ours, so discovery drops it as an echo).
    ctx.record(
        &firm_object,
        SyncStatus::Success,
        Some(format!("{text}; linked")),
        Some(exact_id.to_owned()),
    )
    .await?;
    ctx.record(object, SyncStatus::Success, Some(text), Some(client_id))
        .await?;
    Ok(MessageOutcome::Handled)
}

/// A VP firm found for an account created in Exact.
enum VpMatch {
    /// Not linked to any account: link it.
    Unlinked(Firm),
    /// Linked to another account (its id): a conflict.
    LinkedElsewhere(Firm, String),
}

/// The VP firm whose client or vendor code is the mapped firm's (with a role the account has), else an
/// unlinked firm of the same name and roles (VP may have autonumbered our earlier create), if any.
async fn find_vp_firm_by_code(
    ctx: &FlowContext,
    work: &TenantWork,
    mapped: &Firm,
) -> Result<Option<VpMatch>, PsaError> {
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
    let link_of = |client_id: Option<String>| async move {
        let Some(client_id) = client_id else {
            return Ok(None);
        };
        ctx.stores
            .links
            .exact_id(&work.tenant.id, ObjectType::Firm, &client_id)
            .await
            .map_err(|e| PsaError::Permanent {
                message: format!("reading the link of firm {client_id}: {e}"),
                source: Some(Box::new(e)),
            })
    };
    let same_code = |c: Option<&str>| c.map(str::trim).is_some_and(|c| codes.contains(&c));
    if let Some(found) = firms.iter().find(|f| {
        (mapped.client_ind && same_code(f.client.as_deref()))
            || (mapped.vendor_ind && same_code(f.vendor.as_deref()))
    }) {
        return Ok(Some(match link_of(found.client_id.clone()).await? {
            None => VpMatch::Unlinked(found.clone()),
            Some(other) => VpMatch::LinkedElsewhere(found.clone(), other),
        }));
    }
    // VP may have autonumbered our earlier create: a firm of the same name and role that is linked to no
    // Exact account is that create (or the same party entered in VP, which is then linked, not doubled).
    for firm in firms.iter().filter(|f| {
        f.name.trim() == mapped.name.trim()
            && f.client_ind == mapped.client_ind
            && f.vendor_ind == mapped.vendor_ind
    }) {
        if firm.client_id.is_some() && link_of(firm.client_id.clone()).await?.is_none() {
            return Ok(Some(VpMatch::Unlinked(firm.clone())));
        }
    }
    Ok(None)
}

/// The Exact account code of an employee: its code, after the tenant's employee code prefix.
fn employee_code(
    work: &TenantWork,
    employee: &str,
) -> Result<Option<ExactAccountCode>, ledgerlink_domain::ParseError> {
    let code = match &work.settings.employee_code_prefix {
        Some(prefix) => format!("{prefix}{}", employee.trim()),
        None => employee.trim().to_owned(),
    };
    ExactAccountCode::parse(&code).map(Some)
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
    let mut mapped = match ledgerlink_mapping::employees::employee_to_exact(&employee) {
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
    mapped.account.code = match employee_code(work, &employee.employee) {
        Ok(code) => code,
        Err(e) => {
            let text = format!(
                "The Exact Online account code of employee {} (with the prefix {:?}) is invalid: {e}",
                employee.employee,
                work.settings.employee_code_prefix.as_deref().unwrap_or("")
            );
            ctx.record(object, SyncStatus::Error, Some(text.clone()), None)
                .await?;
            ctx.notify_error(object, &text).await?;
            return Ok(MessageOutcome::Handled);
        }
    };
    let who = employee_label(&employee);
    let (id, how, known) = match account_of(
        ctx,
        work,
        object,
        &who,
        &mapped.account,
        Roles::EMPLOYEE,
        None,
        work.settings.employee_code_prefix.is_none().then_some(
            "Employee numbers and client or vendor codes share Exact Online's account codes: setting the \
             tenant's employee_code_prefix (e.g. \"E-\") keeps them apart.",
        ),
    )
    .await?
    {
        Ok(found) => found,
        Err(outcome) => return Ok(outcome),
    };
    let known = if matches!(how, Linked::Created) {
        known
    } else {
        None
    };
    let (stored, _) = match write_account(work, &id, &mapped.account, known).await {
        Ok(done) => done,
        Err(LedgerError::NotFound { .. }) => return conflict(ctx, object, gone(&who, &id)).await,
        Err(e) => return ledger_failed(ctx, tenant, object, e).await,
    };
    let mut contact = mapped.contact.clone();
    contact.account = id.parse().ok();
    if let Err(e) = work.conn.ledger.upsert_contact(&contact).await {
        return ledger_failed(ctx, tenant, object, e).await;
    }
    links::save_state(
        ctx,
        &tenant.id,
        ObjectType::Employee,
        object.key.as_str(),
        &id,
        links::state(
            ctx.now(),
            Some(links::employee_hash(&employee)),
            None,
            &stored,
        ),
    )
    .await?;
    let label = account_label(&stored);
    let message = match how {
        Linked::Created => format!("Created supplier {label} ({id}) with a contact and linked it"),
        Linked::Adopted => format!(
            "Linked to the existing supplier {label} ({id}): it has the employee's code and no other \
             link; synchronised with a contact"
        ),
        Linked::Existing => format!("Synchronised to supplier {label} ({id}) with a contact"),
    };
    ctx.update_status(object, |s| {
        s.status = SyncStatus::Success;
        s.target_id = Some(id.clone());
        s.last_message = Some(message.clone());
    })
    .await?;
    Ok(MessageOutcome::Handled)
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
