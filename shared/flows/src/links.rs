//! Master-data links: a Vantagepoint firm or employee and the ledger account it is linked to. How firm-sync
//! finds, compares and keeps them, and what an operator may do with them (relink, unlink, adopt an existing
//! account, or have a new one created).
//!
//! The rules:
//! - **By id.** A linked record is only ever written by its ledger id. Finding an account by code is for a
//!   record's FIRST link only, and adopts an account only when no other record is linked to it and it has
//!   the record's role (a customer for a client, a supplier for a vendor or an employee). Every conflict is
//!   found before anything is written, and its message names both records and the ways out.
//! - **Echo suppression.** Per link, [`LinkSync`] keeps, for each side, the hash of the mapped fields and the
//!   record's version (VP `ModDate`, the ledger's modification time) after the last synchronisation. A
//!   change at or below that version, or with the same mapped hash, is the echo of our own write (or no
//!   mapped change at all) and is dropped.
//! - **One owner.** The tenant's source of truth for firms decides which side owns the mapped fields. The
//!   owner's changes are written to the other side; a real change on the other side makes the record
//!   Desynchronized with both values shown — never an overwrite, never an automatic relink. Synchronize
//!   then writes the owner's values (with that trace in the history), or the user makes the change in
//!   the owning system.

use chrono::{DateTime, NaiveDateTime, Utc};
use ledgerlink_domain::exact::{Account, AccountStatus};
use ledgerlink_domain::vantagepoint::{Employee, Firm};
use ledgerlink_domain::{ObjectKey, ObjectType, SyncStatus, TenantId};
use ledgerlink_mapping::{Outcome, Settings as MappingSettings};
use ledgerlink_ports::ledger::LedgerError;
use ledgerlink_ports::psa::FirmChanges;
use ledgerlink_ports::{IdLink, LinkSync, LookupTable, ObjectRef, StoreError, WorkAction};
use serde::{Deserialize, Serialize};

use crate::context::{FlowContext, Once, TenantWork, business_key, hash_of};
use crate::error::{FlowError, FlowResult};
use crate::settings::SourceOfTruth;

// ---------------------------------------------------------------------------------------------------------
// Who is who (for messages)
// ---------------------------------------------------------------------------------------------------------

/// `Exact Online account 1000 "Acme 1 BV"`.
pub(crate) fn account_label(account: &Account) -> String {
    let code = account
        .code
        .as_ref()
        .map(|c| format!(" {}", c.as_str()))
        .unwrap_or_default();
    format!("Exact Online account{code} \"{}\"", account.name)
}

/// `Vantagepoint firm "Acme 1 BV" (client 000006, vendor V00002)`.
pub(crate) fn firm_label(firm: &Firm) -> String {
    let mut codes = Vec::new();
    if let Some(c) = firm.client.as_deref().filter(|c| !c.trim().is_empty()) {
        codes.push(format!("client {}", c.trim()));
    }
    if let Some(v) = firm.vendor.as_deref().filter(|v| !v.trim().is_empty()) {
        codes.push(format!("vendor {}", v.trim()));
    }
    if codes.is_empty()
        && let Some(id) = firm.client_id.as_deref()
    {
        codes.push(format!("ClientID {id}"));
    }
    if codes.is_empty() {
        format!("Vantagepoint firm \"{}\"", firm.name)
    } else {
        format!("Vantagepoint firm \"{}\" ({})", firm.name, codes.join(", "))
    }
}

/// `Vantagepoint employee E001 "Jan Jansen"`.
pub(crate) fn employee_label(employee: &Employee) -> String {
    let name = employee
        .name
        .clone()
        .or_else(|| {
            let parts: Vec<&str> = [
                employee.first_name.as_deref(),
                employee.last_name.as_deref(),
            ]
            .into_iter()
            .flatten()
            .collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        })
        .unwrap_or_default();
    format!("Vantagepoint employee {} \"{name}\"", employee.employee)
}

/// The label of the VP record a link names (read from VP; the bare key when VP cannot say).
async fn linked_record_label(work: &TenantWork, object_type: ObjectType, vp_key: &str) -> String {
    match object_type {
        ObjectType::Firm => match work.conn.psa.firm(vp_key).await {
            Ok(Some(firm)) => format!("{} [ClientID {vp_key}]", firm_label(&firm)),
            _ => format!("Vantagepoint firm {vp_key}"),
        },
        ObjectType::Employee => match work.conn.psa.employee(vp_key).await {
            Ok(Some(e)) => employee_label(&e),
            _ => format!("Vantagepoint employee {vp_key}"),
        },
        other => format!("{other} {vp_key}"),
    }
}

/// What an operator can do about a link conflict (the page offers these as buttons).
pub const CONFLICT_ACTIONS: &str = "To resolve it, open the object's detail on the Integration page and \
     create a new Exact Online account for it, or adopt another existing account (either synchronises at \
     once); or change the code in Vantagepoint and Synchronize.";

// ---------------------------------------------------------------------------------------------------------
// Roles
// ---------------------------------------------------------------------------------------------------------

/// The roles a VP record needs its account to have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Roles {
    pub customer: bool,
    pub supplier: bool,
    /// An employee's account (a supplier account with a contact).
    pub employee: bool,
}

impl Roles {
    pub fn of_firm(firm: &Firm) -> Self {
        Self {
            customer: firm.client_ind,
            supplier: firm.vendor_ind,
            employee: false,
        }
    }
    pub const EMPLOYEE: Self = Self {
        customer: false,
        supplier: true,
        employee: true,
    };
    fn describe(self) -> &'static str {
        if self.employee {
            return "an employee, whose account is a supplier account";
        }
        match (self.customer, self.supplier) {
            (true, true) => "a client and a vendor",
            (true, false) => "a client",
            (false, true) => "a vendor",
            (false, false) => "neither client nor vendor",
        }
    }
}

pub(crate) fn is_customer(account: &Account) -> bool {
    account.is_sales == Some(true)
        || matches!(
            account.status,
            Some(AccountStatus::Customer | AccountStatus::Prospect | AccountStatus::Suspect)
        )
}

pub(crate) fn is_supplier(account: &Account) -> bool {
    account.is_supplier == Some(true)
}

/// Whether an account may be adopted by a record with these roles: it must play one of them.
fn has_role(account: &Account, roles: Roles) -> bool {
    (roles.customer && is_customer(account)) || (roles.supplier && is_supplier(account))
}

fn account_roles(account: &Account) -> &'static str {
    match (is_customer(account), is_supplier(account)) {
        (true, true) => "a customer and supplier account",
        (true, false) => "a customer account",
        (false, true) => "a supplier account",
        (false, false) => "neither a customer nor a supplier account",
    }
}

// ---------------------------------------------------------------------------------------------------------
// Mapped fields, their hashes and their differences
// ---------------------------------------------------------------------------------------------------------

fn text(value: Option<&str>) -> String {
    value.map(str::trim).unwrap_or_default().to_owned()
}

fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_owned()
}

/// The fields firm-sync maps on the ledger side, as they stand on `account`.
fn ledger_side(account: &Account) -> Vec<(&'static str, String)> {
    vec![
        ("Name", text(Some(&account.name))),
        ("Search code", text(account.search_code.as_deref())),
        ("Customer", yes_no(is_customer(account))),
        ("Supplier", yes_no(is_supplier(account))),
        ("E-mail", text(account.email.as_deref())),
        ("Phone", text(account.phone.as_deref())),
    ]
}

/// The hash of the mapped fields of a ledger account.
pub(crate) fn ledger_hash(account: &Account) -> String {
    hash_of(&ledger_side(account))
}

/// The hash of what firm-sync maps from a VP firm: whether it syncs at all, the mapped account and its
/// addresses, and the fields filters and roles read.
pub(crate) fn firm_hash(firm: &Firm, settings: &MappingSettings) -> String {
    let mapped = match ledgerlink_mapping::firms::firm_to_exact(firm, settings) {
        Ok(Outcome::Mapped(account)) => Some(ledger_side(&account)),
        _ => None,
    };
    let addresses = ledgerlink_mapping::firms::firm_addresses_to_exact(firm, uuid::Uuid::nil());
    hash_of(&(
        firm.available_to_accounting_users,
        firm.status,
        mapped,
        addresses,
        (firm.client_ind, firm.vendor_ind),
        (&firm.client_type, &firm.vendor_type, &firm.org),
    ))
}

/// The hash of what firm-sync maps from a VP employee.
pub(crate) fn employee_hash(employee: &Employee) -> String {
    let mapped = match ledgerlink_mapping::employees::employee_to_exact(employee) {
        Ok(Outcome::Mapped(m)) => Some((m.account, m.contact)),
        _ => None,
    };
    hash_of(&(
        employee.available_to_accounting_users,
        employee.status,
        &employee.org,
        mapped,
    ))
}

/// One mapped field whose values differ between the two systems.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difference {
    pub field: String,
    pub vantagepoint: String,
    pub ledger: String,
}

/// `Phone: Vantagepoint "+31 20 555 0001", Exact Online "+31 20 999 0000"; ...`
pub(crate) fn describe(differences: &[Difference]) -> String {
    differences
        .iter()
        .map(|d| {
            format!(
                "{}: Vantagepoint \"{}\", Exact Online \"{}\"",
                d.field, d.vantagepoint, d.ledger
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The fields VP writes to the ledger (when VP owns firms or employees) that differ on `actual`: only the
/// fields the mapping sets are written, so only those are compared.
pub(crate) fn vp_owned_differences(mapped: &Account, actual: &Account) -> Vec<Difference> {
    let mut out = Vec::new();
    let mut field = |name: &str, vp: Option<String>, ledger: String| {
        if let Some(vp) = vp
            && vp != ledger
        {
            out.push(Difference {
                field: name.to_owned(),
                vantagepoint: vp,
                ledger,
            });
        }
    };
    field(
        "Name",
        Some(text(Some(&mapped.name))),
        text(Some(&actual.name)),
    );
    field(
        "Search code",
        mapped.search_code.as_deref().map(|c| text(Some(c))),
        text(actual.search_code.as_deref()),
    );
    field(
        "Customer",
        mapped
            .status
            .filter(|s| *s != AccountStatus::None)
            .map(|_| yes_no(true)),
        yes_no(is_customer(actual)),
    );
    field(
        "Supplier",
        mapped.is_supplier.map(yes_no),
        yes_no(is_supplier(actual)),
    );
    field(
        "E-mail",
        mapped.email.as_deref().map(|e| text(Some(e))),
        text(actual.email.as_deref()),
    );
    field(
        "Phone",
        mapped.phone.as_deref().map(|p| text(Some(p))),
        text(actual.phone.as_deref()),
    );
    out
}

/// What the ledger writes to a VP firm (when the ledger owns firms) and how the two differ: the name, the
/// client and vendor roles (the spec's "Firms: Exact Online to Vantagepoint" table) and the e-mail and
/// phone the other table maps. Codes are never rewritten: they identify records in both systems.
pub(crate) fn ledger_owned_changes(
    firm: &Firm,
    account: &Account,
) -> (FirmChanges, Vec<Difference>) {
    let mut changes = FirmChanges::default();
    let mut out = Vec::new();
    let mut diff = |name: &str, vp: String, ledger: String| -> bool {
        if vp == ledger {
            return false;
        }
        out.push(Difference {
            field: name.to_owned(),
            vantagepoint: vp,
            ledger,
        });
        true
    };
    if diff("Name", text(Some(&firm.name)), text(Some(&account.name))) {
        changes.name = Some(account.name.trim().to_owned());
    }
    if diff(
        "Customer",
        yes_no(firm.client_ind),
        yes_no(is_customer(account)),
    ) {
        changes.client_ind = Some(is_customer(account));
    }
    if diff(
        "Supplier",
        yes_no(firm.vendor_ind),
        yes_no(is_supplier(account)),
    ) {
        changes.vendor_ind = Some(is_supplier(account));
    }
    if diff(
        "E-mail",
        text(firm.primary_email.as_deref()),
        text(account.email.as_deref()),
    ) {
        changes.email = Some(text(account.email.as_deref()));
    }
    if diff(
        "Phone",
        text(firm.primary_phone.as_deref()),
        text(account.phone.as_deref()),
    ) {
        changes.phone = Some(text(account.phone.as_deref()));
    }
    (changes, out)
}

// ---------------------------------------------------------------------------------------------------------
// Link state
// ---------------------------------------------------------------------------------------------------------

/// Whether a VP record seen by discovery is the echo of our own write or carries no mapped change.
pub(crate) fn vp_unchanged(
    link: Option<&IdLink>,
    mod_date: Option<NaiveDateTime>,
    hash: &str,
) -> bool {
    let Some(sync) = link.and_then(|l| l.sync.as_ref()) else {
        return false;
    };
    let at_or_below =
        matches!((mod_date, sync.vp_version), (Some(seen), Some(ours)) if seen <= ours);
    at_or_below || sync.vp_hash.as_deref() == Some(hash)
}

/// Whether a ledger account seen by discovery is the echo of our own write or carries no mapped change.
pub(crate) fn ledger_unchanged(link: Option<&IdLink>, account: &Account) -> bool {
    let Some(sync) = link.and_then(|l| l.sync.as_ref()) else {
        return false;
    };
    let at_or_below = matches!(
        (account.modified, sync.ledger_version),
        (Some(seen), Some(ours)) if seen <= ours
    );
    at_or_below || sync.ledger_hash.as_deref() == Some(ledger_hash(account).as_str())
}

/// The sync state after a synchronisation that left both sides as given.
pub(crate) fn state(
    now: DateTime<Utc>,
    vp_hash: Option<String>,
    vp_version: Option<NaiveDateTime>,
    ledger: &Account,
) -> LinkSync {
    LinkSync {
        vp_hash,
        vp_version,
        ledger_hash: Some(ledger_hash(ledger)),
        ledger_version: ledger.modified,
        synced_at: now,
    }
}

/// Saves the state of a link after a synchronisation. The link moving meanwhile (an operator relinked
/// it) is not an error here: the next synchronisation follows the new link.
pub(crate) async fn save_state(
    ctx: &FlowContext,
    tenant: &TenantId,
    object_type: ObjectType,
    vp_key: &str,
    exact_id: &str,
    sync: LinkSync,
) -> FlowResult<()> {
    let mut link = IdLink::new(tenant.clone(), object_type, vp_key, exact_id, ctx.now());
    link.sync = Some(sync);
    match ctx.stores.links.save_sync(&link).await {
        Ok(()) => Ok(()),
        Err(StoreError::Conflict { detail, .. }) => {
            tracing::info!(%tenant, %object_type, vp_key, %detail, "link moved while synchronising");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------------------------
// The first link of a record
// ---------------------------------------------------------------------------------------------------------

/// How a record that is not linked yet gets its account.
#[derive(Debug)]
pub(crate) enum FirstLink {
    /// This existing account: unlinked, with the right role (found by the lookup table or by code).
    Adopt(Box<Account>),
    /// No account has the record's code: create one.
    Create,
    /// An account has the record's code but may not be adopted; nothing was written. The message names
    /// both records and the ways out.
    Conflict(String),
}

/// The VP record a ledger account is linked to, if any (a firm or an employee).
pub(crate) async fn linked_to(
    ctx: &FlowContext,
    tenant: &TenantId,
    exact_id: &str,
) -> FlowResult<Option<(ObjectType, String)>> {
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
    Ok(None)
}

/// Decides the first link of `object` (whose VP side `who` describes) BEFORE anything is written: the
/// account an operator's lookup row names (`hint`, e.g. the `firms` row of a vendor code), else the account
/// with the mapped code — adopted only when no other record is linked to it and it has the right role —
/// else a new account.
pub(crate) async fn first_link(
    ctx: &FlowContext,
    work: &TenantWork,
    object: &ObjectRef,
    who: &str,
    mapped: &Account,
    roles: Roles,
    hint: Option<String>,
) -> FlowResult<Result<FirstLink, LedgerError>> {
    let ledger = &work.conn.ledger;
    let (found, how) = match hint {
        Some(id) => match ledger.account(&id).await {
            Ok(Some(account)) => (Some(account), "is named in the firms lookup table for"),
            Ok(None) => (None, ""),
            Err(e) => return Ok(Err(e)),
        },
        None => (None, ""),
    };
    let (found, how) = match (found, &mapped.code) {
        (Some(account), _) => (Some(account), how),
        (None, Some(code)) => match ledger.find_account(code.as_str()).await {
            Ok(account) => (account, "has the code of"),
            Err(e) => return Ok(Err(e)),
        },
        (None, None) => (None, ""),
    };
    let Some(account) = found else {
        return Ok(Ok(FirstLink::Create));
    };
    let Some(id) = account.id.map(|i| i.to_string()) else {
        return Err(FlowError::Invalid(format!(
            "the ledger returned {} without its id",
            account_label(&account)
        )));
    };
    if let Some((other_type, other_key)) = linked_to(ctx, &object.tenant, &id).await?
        && !(other_type == object.object_type && other_key == object.key.as_str())
    {
        let other = linked_record_label(work, other_type, &other_key).await;
        return Ok(Ok(FirstLink::Conflict(format!(
            "{account} ({id}) {how} {who}, but it belongs to {other}: it was not taken over and nothing \
             was written. {CONFLICT_ACTIONS}",
            account = account_label(&account)
        ))));
    }
    if !has_role(&account, roles) {
        return Ok(Ok(FirstLink::Conflict(format!(
            "{account} ({id}) {how} {who}, but it is {kind} and the record is {role}: it was not adopted \
             and nothing was written. {CONFLICT_ACTIONS} (Adopting this account makes it {role} in Exact \
             Online.)",
            account = account_label(&account),
            kind = account_roles(&account),
            role = roles.describe()
        ))));
    }
    Ok(Ok(FirstLink::Adopt(Box::new(account))))
}

/// Writes a first link; a race with another writer comes back as the conflict message.
pub(crate) async fn write_first_link(
    ctx: &FlowContext,
    work: &TenantWork,
    object: &ObjectRef,
    who: &str,
    account: &Account,
) -> FlowResult<Option<String>> {
    let Some(id) = account.id.map(|i| i.to_string()) else {
        return Err(FlowError::Invalid(format!(
            "the ledger returned {} without its id",
            account_label(account)
        )));
    };
    let link = IdLink::new(
        object.tenant.clone(),
        object.object_type,
        object.key.as_str(),
        &id,
        ctx.now(),
    );
    match ctx.stores.links.link(&link).await {
        Ok(()) => Ok(None),
        Err(StoreError::Conflict { .. }) => {
            let holder = match linked_to(ctx, &object.tenant, &id).await? {
                Some((t, k)) => linked_record_label(work, t, &k).await,
                None => "another record".to_owned(),
            };
            Ok(Some(format!(
                "{} ({id}) was about to be linked to {who}, but it was linked to {holder} meanwhile. \
                 {CONFLICT_ACTIONS}",
                account_label(account)
            )))
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Operator actions
// ---------------------------------------------------------------------------------------------------------

/// What an operator does with the link of a firm or employee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum LinkAction {
    /// Link a record that is linked to another account to this existing account instead.
    Relink { account: String },
    /// Link a record that is not linked (e.g. after a conflict) to this existing account.
    Adopt { account: String },
    /// Remove the link; the next Synchronize links by code again (or creates an account).
    Unlink,
    /// Create a new ledger account for the record (numbered by the ledger, since its code is taken) and link it.
    NewAccount,
}

impl LinkAction {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Relink { .. } => "relink",
            Self::Adopt { .. } => "adopt",
            Self::Unlink => "unlink",
            Self::NewAccount => "new-account",
        }
    }
}

/// Why an operator's link action was refused (the API answers 409 or 404 with it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkRefusal {
    /// The object is not a firm or employee known to the integration, or the account does not exist.
    NotFound(String),
    /// The action does not fit the link's state (e.g. the account belongs to another record).
    Conflict(String),
}

/// The link of a firm or employee as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkView {
    pub ledger_id: String,
    /// The account's code and name, read from the ledger (absent when the ledger could not be read).
    pub code: Option<String>,
    pub name: Option<String>,
    /// Where the account opens in the ledger's web application.
    pub url: Option<String>,
    /// `false` when the ledger says the account no longer exists.
    pub exists: Option<bool>,
    pub linked_at: DateTime<Utc>,
    pub synced_at: Option<DateTime<Utc>>,
    /// Who owns the mapped fields (the tenant's source of truth).
    pub owner: SourceOfTruth,
}

/// Object types whose links an operator may edit.
pub fn editable(object: &ObjectRef) -> bool {
    matches!(object.object_type, ObjectType::Firm | ObjectType::Employee)
        && !object
            .key
            .as_str()
            .starts_with(crate::firm_sync::EXACT_FIRM_PREFIX)
}

/// The link of an object for its detail view (`None`: not linked). Reads the account from the ledger when
/// the tenant's connection works; the link itself is shown either way.
pub async fn view(ctx: &FlowContext, object: &ObjectRef) -> FlowResult<Option<LinkView>> {
    if !editable(object) {
        return Ok(None);
    }
    let Some(link) = ctx
        .stores
        .links
        .get(&object.tenant, object.object_type, object.key.as_str())
        .await?
    else {
        return Ok(None);
    };
    let tenant = ctx.tenant(&object.tenant).await?;
    let owner = crate::settings::TenantSettings::of(&tenant)
        .map(|s| s.source_of_truth(object.object_type))
        .unwrap_or(SourceOfTruth::Vantagepoint);
    // Without a working connection the link is still shown, without what only the ledger can say.
    let (account, url) = match ctx.work(tenant).await {
        Ok(work) => (
            work.conn.ledger.account(&link.exact_id).await.ok(),
            work.conn.ledger.account_url(&link.exact_id),
        ),
        Err(e) => {
            tracing::info!(error = %e, "the link is shown without the ledger's view of it");
            (None, None)
        }
    };
    Ok(Some(LinkView {
        code: account
            .as_ref()
            .and_then(|a| a.as_ref())
            .and_then(|a| a.code.as_ref())
            .map(|c| c.as_str().to_owned()),
        name: account
            .as_ref()
            .and_then(|a| a.as_ref())
            .map(|a| a.name.clone()),
        exists: account.as_ref().map(Option::is_some),
        ledger_id: link.exact_id,
        url,
        linked_at: link.created_at,
        synced_at: link.sync.map(|s| s.synced_at),
        owner,
    }))
}

/// The result of an operator's link action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkChange {
    pub action: &'static str,
    /// The account linked before and after (`None`: unlinked).
    pub before: Option<String>,
    pub after: Option<String>,
    /// What the object's history now says.
    pub message: String,
}

/// Finds an existing account by ledger id, else by code.
async fn existing_account(
    work: &TenantWork,
    account: &str,
) -> FlowResult<Result<Account, LinkRefusal>> {
    let ledger = &work.conn.ledger;
    let account = account.trim();
    if account.is_empty() {
        return Ok(Err(LinkRefusal::Conflict(
            "name the Exact Online account by its id or its code".into(),
        )));
    }
    let by_id = ledger.account(account).await.map_err(FlowError::from)?;
    let found = match by_id {
        Some(a) => Some(a),
        None if account.chars().count() <= ledgerlink_domain::ExactAccountCode::WIDTH => ledger
            .find_account(account)
            .await
            .map_err(FlowError::from)?,
        None => None,
    };
    Ok(found.ok_or_else(|| {
        LinkRefusal::NotFound(format!(
            "Exact Online has no account with id or code {account}"
        ))
    }))
}

/// Runs an operator's link action on a firm or employee: checks it fits, changes the link, records it in
/// the object's history, and (except for unlink) queues the object so the owner's values are written over
/// the new link.
pub async fn act(
    ctx: &FlowContext,
    object: &ObjectRef,
    action: &LinkAction,
    by: &str,
) -> FlowResult<Result<LinkChange, LinkRefusal>> {
    if !editable(object) {
        return Ok(Err(LinkRefusal::NotFound(format!(
            "{} {} has no editable link: only Vantagepoint firms and employees do",
            object.object_type, object.key
        ))));
    }
    if ctx.stores.statuses.get(object).await?.is_none() {
        return Ok(Err(LinkRefusal::NotFound(format!(
            "No {} with key `{}` is known to the integration",
            object.object_type, object.key
        ))));
    }
    let tenant = ctx.tenant(&object.tenant).await?;
    // Unlinking needs no connection (the ledger only names the account in the history when it can).
    let work = match (ctx.work(tenant).await, action) {
        (Ok(work), _) => Some(work),
        (Err(e), LinkAction::Unlink) => {
            tracing::info!(error = %e, "unlinking without a connection to the ledger");
            None
        }
        (Err(e), _) => return Err(e),
    };
    let before = ctx
        .stores
        .links
        .exact_id(&object.tenant, object.object_type, object.key.as_str())
        .await?;
    let (after, message) = match action {
        LinkAction::Unlink => {
            let Some(old) = before.clone() else {
                return Ok(Err(LinkRefusal::Conflict(
                    "the record is not linked to an Exact Online account".into(),
                )));
            };
            ctx.stores
                .links
                .unlink(&object.tenant, object.object_type, object.key.as_str())
                .await?;
            let named = match &work {
                Some(work) => work.conn.ledger.account(&old).await.ok().flatten(),
                None => None,
            };
            let label = match named {
                Some(a) => format!("{} ({old})", account_label(&a)),
                None => format!("Exact Online account {old}"),
            };
            (
                None,
                format!(
                    "Unlinked from {label} by {by}. Synchronize links it again by its code (or creates a \
                     new account); Exact Online keeps the account"
                ),
            )
        }
        LinkAction::Relink { account } | LinkAction::Adopt { account } => {
            let Some(work) = &work else {
                return Err(FlowError::Invalid("no connection to the ledger".into()));
            };
            let is_relink = matches!(action, LinkAction::Relink { .. });
            if is_relink && before.is_none() {
                return Ok(Err(LinkRefusal::Conflict(
                    "the record is not linked yet: adopt an account instead".into(),
                )));
            }
            let target = match existing_account(work, account).await? {
                Ok(a) => a,
                Err(refusal) => return Ok(Err(refusal)),
            };
            let Some(id) = target.id.map(|i| i.to_string()) else {
                return Err(FlowError::Invalid(
                    "the ledger returned an account without its id".into(),
                ));
            };
            if let Some((other_type, other_key)) = linked_to(ctx, &object.tenant, &id).await?
                && !(other_type == object.object_type && other_key == object.key.as_str())
            {
                let other = linked_record_label(work, other_type, &other_key).await;
                return Ok(Err(LinkRefusal::Conflict(format!(
                    "{} ({id}) belongs to {other}: unlink it there first",
                    account_label(&target)
                ))));
            }
            let link = IdLink::new(
                object.tenant.clone(),
                object.object_type,
                object.key.as_str(),
                &id,
                ctx.now(),
            );
            match ctx.stores.links.relink(&link).await {
                Ok(_) => {}
                Err(StoreError::Conflict { detail, .. }) => {
                    return Ok(Err(LinkRefusal::Conflict(detail)));
                }
                Err(e) => return Err(e.into()),
            }
            let verb = if before.is_some() {
                "Relinked"
            } else {
                "Linked (adopted)"
            };
            let from = before
                .as_deref()
                .map(|b| format!(" from Exact Online account {b}"))
                .unwrap_or_default();
            (
                Some(id.clone()),
                format!(
                    "{verb}{from} to {} ({id}) by {by}; synchronising over the new link",
                    account_label(&target)
                ),
            )
        }
        LinkAction::NewAccount => {
            let Some(work) = &work else {
                return Err(FlowError::Invalid("no connection to the ledger".into()));
            };
            if work.settings.source_of_truth(object.object_type) == SourceOfTruth::Exact {
                return Ok(Err(LinkRefusal::Conflict(
                    "Exact Online owns these records (the tenant's source of truth): create the account \
                     in Exact Online, then adopt it"
                        .into(),
                )));
            }
            match new_account(ctx, work, object, before.as_deref(), by).await? {
                Ok(done) => done,
                Err(refusal) => return Ok(Err(refusal)),
            }
        }
    };
    // The action is in the object's history; the owner's values then go over the new link.
    let requeue = after.is_some();
    let status = if requeue {
        SyncStatus::Pending
    } else {
        SyncStatus::NotIntegrated
    };
    ctx.update_status(object, |s| {
        s.status = status;
        s.last_message = Some(message.clone());
        s.target_id = after.clone();
        s.source_hash = None;
    })
    .await?;
    if requeue {
        let msg = ctx.message(
            &object.tenant,
            object.object_type,
            &object.key,
            WorkAction::ForceSync,
        );
        ctx.send(object.object_type.flow(), &[msg]).await?;
    }
    Ok(Ok(LinkChange {
        action: action.name(),
        before,
        after,
        message,
    }))
}

/// Creates a new ledger account for a firm or employee whose code another account holds: without a code
/// (the ledger numbers it), with the record's mapped fields, once per link state (a repeated click finds the
/// account the first one created).
async fn new_account(
    ctx: &FlowContext,
    work: &TenantWork,
    object: &ObjectRef,
    before: Option<&str>,
    by: &str,
) -> FlowResult<Result<(Option<String>, String), LinkRefusal>> {
    let mut account = match object.object_type {
        ObjectType::Firm => {
            let Some(firm) = work.conn.psa.firm(object.key.as_str()).await? else {
                return Ok(Err(LinkRefusal::NotFound(format!(
                    "Vantagepoint has no firm {}",
                    object.key
                ))));
            };
            match ledgerlink_mapping::firms::firm_to_exact(&firm, &work.settings.mapping) {
                Ok(Outcome::Mapped(a)) => a,
                Ok(Outcome::Skipped(why)) => {
                    return Ok(Err(LinkRefusal::Conflict(format!(
                        "the firm is not synchronised ({why:?})"
                    ))));
                }
                Err(e) => return Ok(Err(LinkRefusal::Conflict(e.to_string()))),
            }
        }
        _ => {
            let Some(employee) = work.conn.psa.employee(object.key.as_str()).await? else {
                return Ok(Err(LinkRefusal::NotFound(format!(
                    "Vantagepoint has no employee {}",
                    object.key
                ))));
            };
            match ledgerlink_mapping::employees::employee_to_exact(&employee) {
                Ok(Outcome::Mapped(m)) => m.account,
                Ok(Outcome::Skipped(why)) => {
                    return Ok(Err(LinkRefusal::Conflict(format!(
                        "the employee is not synchronised ({why:?})"
                    ))));
                }
                Err(e) => return Ok(Err(LinkRefusal::Conflict(e.to_string()))),
            }
        }
    };
    if account.search_code.is_none() {
        account.search_code = account.code.as_ref().map(|c| c.as_str().to_owned());
    }
    account.code = None;
    let key = business_key(
        &work.tenant,
        object.object_type,
        object.key.as_str(),
        &format!("new-account-after-{}", before.unwrap_or("none")),
    );
    let ledger = work.conn.ledger.clone();
    let created = ctx
        .once(&key, &hash_of(&key), |_look_up_first| async {
            ledger.create_account(&account).await
        })
        .await?;
    let created = match created {
        Ok(Once::Done(a) | Once::AlreadyDone(a)) => a,
        Ok(Once::Busy) => {
            return Ok(Err(LinkRefusal::Conflict(
                "another request is creating the account right now".into(),
            )));
        }
        Ok(Once::Mismatch) => {
            return Err(FlowError::Invalid(format!("business key {key} reused")));
        }
        Err(e) => return Err(e.into()),
    };
    let Some(id) = created.id.map(|i| i.to_string()) else {
        return Err(FlowError::Invalid(
            "the ledger returned an account without its id".into(),
        ));
    };
    let link = IdLink::new(
        object.tenant.clone(),
        object.object_type,
        object.key.as_str(),
        &id,
        ctx.now(),
    );
    match ctx.stores.links.relink(&link).await {
        Ok(_) => {}
        Err(StoreError::Conflict { detail, .. }) => return Ok(Err(LinkRefusal::Conflict(detail))),
        Err(e) => return Err(e.into()),
    }
    Ok(Ok((
        Some(id.clone()),
        format!(
            "Linked to the new {} ({id}), created by {by}; synchronising over the new link",
            account_label(&created)
        ),
    )))
}

/// The object of a firm or employee (for the discovery's status writes).
pub(crate) fn object_ref(
    tenant: &TenantId,
    object_type: ObjectType,
    key: &str,
) -> FlowResult<ObjectRef> {
    Ok(ObjectRef {
        tenant: tenant.clone(),
        object_type,
        key: ObjectKey::parse(key).map_err(|e| FlowError::Invalid(e.to_string()))?,
    })
}

/// The firms lookup row of a vendor code (vouchers name vendors): an operator's explicit mapping, used as
/// the hint of a vendor firm's first link.
pub(crate) async fn vendor_hint(
    ctx: &FlowContext,
    work: &TenantWork,
    firm: &Firm,
) -> FlowResult<Option<String>> {
    let Some(vendor) = firm
        .vendor
        .as_deref()
        .map(str::trim)
        .filter(|v| firm.vendor_ind && !v.is_empty())
    else {
        return Ok(None);
    };
    Ok(ctx
        .stores
        .lookups
        .get(&work.tenant.id, LookupTable::Firms, vendor)
        .await?
        .and_then(|row| row.columns.get("exact_id").map(|v| v.trim().to_owned()))
        .filter(|id| !id.is_empty()))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use ledgerlink_domain::ExactAccountCode;

    use super::*;

    fn account(name: &str, phone: &str) -> Account {
        Account {
            id: Some(uuid::Uuid::nil()),
            name: name.into(),
            code: ExactAccountCode::parse("1000").ok(),
            search_code: Some("000006".into()),
            status: Some(AccountStatus::Customer),
            is_supplier: Some(false),
            phone: Some(phone.into()),
            ..Account::default()
        }
    }

    fn link_with(sync: LinkSync) -> IdLink {
        let at = Utc
            .with_ymd_and_hms(2026, 6, 1, 9, 0, 0)
            .single()
            .unwrap_or_default();
        let mut link = IdLink::new(
            TenantId::parse("t").unwrap_or_else(|e| panic!("{e}")),
            ObjectType::Firm,
            "CL",
            "id",
            at,
        );
        link.sync = Some(sync);
        link
    }

    #[test]
    fn only_the_fields_vp_writes_are_compared_and_each_difference_shows_both_values() {
        let mut mapped = account("Acme 1 BV", "+31 20 555 0001");
        mapped.email = None;
        let mut actual = account("Acme 1 BV", "+31 99 999 9999");
        actual.email = Some("edited@exact.example".into());
        actual.code = ExactAccountCode::parse("2000").ok();

        let differences = vp_owned_differences(&mapped, &actual);

        assert_eq!(
            describe(&differences),
            "Phone: Vantagepoint \"+31 20 555 0001\", Exact Online \"+31 99 999 9999\"",
            "an e-mail VP does not set and the code (never rewritten) are not differences"
        );
    }

    #[test]
    fn the_ledger_owner_writes_name_roles_email_and_phone_to_vp_and_nothing_else() {
        let firm = Firm {
            client_id: Some("CL".into()),
            client: Some("000006".into()),
            name: "Acme 1 BV".into(),
            client_ind: true,
            primary_phone: Some("+31 20 555 0001".into()),
            ..Firm::default()
        };
        let mut owner = account("Acme One BV", "+31 20 555 0001");
        owner.is_supplier = Some(true);

        let (changes, differences) = ledger_owned_changes(&firm, &owner);

        assert_eq!(changes.name.as_deref(), Some("Acme One BV"));
        assert_eq!(changes.vendor_ind, Some(true));
        assert_eq!(changes.client_ind, None);
        assert_eq!(changes.phone, None);
        assert_eq!(
            differences
                .iter()
                .map(|d| d.field.as_str())
                .collect::<Vec<_>>(),
            ["Name", "Supplier"]
        );
    }

    #[test]
    fn a_change_at_or_below_our_version_or_with_our_hash_is_an_echo_and_anything_else_is_real() {
        let ours = Utc
            .with_ymd_and_hms(2026, 6, 1, 10, 0, 0)
            .single()
            .unwrap_or_default();
        let written = account("Acme 1 BV", "+31 20 555 0001");
        let link = link_with(LinkSync {
            vp_hash: Some("vp".into()),
            vp_version: Some(ours.naive_utc()),
            ledger_hash: Some(ledger_hash(&written)),
            ledger_version: Some(ours),
            synced_at: ours,
        });
        let later = ours + chrono::Duration::seconds(5);
        let mut same_values_later = written.clone();
        same_values_later.modified = Some(later);
        let mut changed_at_our_version = account("Acme 1 BV", "+31 99");
        changed_at_our_version.modified = Some(ours);
        let mut changed_later = account("Acme 1 BV", "+31 99");
        changed_later.modified = Some(later);

        assert!(ledger_unchanged(Some(&link), &same_values_later));
        assert!(ledger_unchanged(Some(&link), &changed_at_our_version));
        assert!(!ledger_unchanged(Some(&link), &changed_later));
        assert!(
            !ledger_unchanged(None, &same_values_later),
            "no state: compare"
        );
        assert!(vp_unchanged(Some(&link), Some(ours.naive_utc()), "other"));
        assert!(vp_unchanged(Some(&link), Some(later.naive_utc()), "vp"));
        assert!(!vp_unchanged(Some(&link), Some(later.naive_utc()), "other"));
    }

    #[test]
    fn an_account_is_adopted_only_in_a_role_the_record_plays() {
        let customer = account("C", "");
        let mut supplier = account("S", "");
        supplier.status = None;
        supplier.is_supplier = Some(true);

        let roles = |customer, supplier| Roles {
            customer,
            supplier,
            employee: false,
        };
        assert!(has_role(&customer, roles(true, false)));
        assert!(!has_role(&customer, Roles::EMPLOYEE));
        assert!(has_role(&supplier, Roles::EMPLOYEE));
        assert!(has_role(&supplier, roles(true, true)));
        assert!(!has_role(&supplier, roles(true, false)));
    }
}
