//! Builds the mapping crate's [`Lookups`] from the lookup tables, the links and the tenant settings.
//!
//! Row conventions of the lookup tables (operator-editable; firm-sync fills most of them):
//!
//! | table | key | columns |
//! |---|---|---|
//! | `gl-accounts` | VP account number | `exact_id` (Exact G/L account GUID) |
//! | `tax-codes` | Exact VAT code | `vp_code` (generated unique VP code), `rate` (percent), `description`, `compound_on` |
//! | `bank-codes` | Exact bank journal code (the bank account a payment went through) | `vp_bank_code` |
//! | `currencies` | currency code | `description` |
//! | `employees` | VP employee code | `exact_id` (the employee's supplier account) |
//! | `firms` | VP vendor code | `exact_id` (the vendor's supplier account; links are 1:1 by `ClientID`) |
//!
//! Firm, vendor and employee accounts come from the [`LinkStore`](ledgerlink_ports::LinkStore): only the
//! parties a document names are read, never the whole table.

use std::collections::BTreeMap;

use ledgerlink_domain::{CurrencyCode, ObjectType, VatCode};
use ledgerlink_mapping::{Lookups, TaxCodeLink};
use ledgerlink_ports::{LookupEntry, LookupTable, PageRequest};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::context::{FlowContext, TenantWork};
use crate::error::FlowResult;

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

fn column<'a>(entry: &'a LookupEntry, name: &str) -> Option<&'a str> {
    entry
        .columns
        .get(name)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
}

/// Everything but the per-document parties.
pub(crate) async fn base(ctx: &FlowContext, work: &TenantWork) -> FlowResult<Lookups> {
    let s = &work.settings;
    let gl_accounts = table(ctx, work, LookupTable::GlAccounts)
        .await?
        .iter()
        .filter_map(|e| Some((e.key.clone(), column(e, "exact_id")?.parse::<Uuid>().ok()?)))
        .collect();
    let mut tax_codes = BTreeMap::new();
    for entry in table(ctx, work, LookupTable::TaxCodes).await? {
        let (Some(vp_code), Ok(exact_code)) =
            (column(&entry, "vp_code"), VatCode::parse(&entry.key))
        else {
            continue;
        };
        let rate = column(&entry, "rate")
            .and_then(|r| r.parse::<Decimal>().ok())
            .unwrap_or_default();
        tax_codes.insert(
            vp_code.to_owned(),
            TaxCodeLink {
                exact_code,
                rate,
                compound_on: column(&entry, "compound_on").map(str::to_owned),
            },
        );
    }
    let bank_codes = table(ctx, work, LookupTable::BankCodes)
        .await?
        .iter()
        .filter_map(|e| Some((e.key.clone(), column(e, "vp_bank_code")?.to_owned())))
        .collect();
    let currencies = table(ctx, work, LookupTable::Currencies)
        .await?
        .iter()
        .filter_map(|e| CurrencyCode::parse(&e.key).ok())
        .collect();
    Ok(Lookups {
        firms: BTreeMap::new(),
        vendors: BTreeMap::new(),
        employees: BTreeMap::new(),
        gl_accounts,
        tax_codes,
        combined_tax_codes: BTreeMap::new(),
        no_vat_code: None,
        bank_codes,
        currencies,
        projects: BTreeMap::new(),
        organizations: Vec::new(),
        journals: s.journals.clone(),
        due_dates: s.due_dates,
        payment_terms: s.payment_terms.clone(),
        account_types: s.account_types.clone(),
        settings: s.mapping.clone(),
    })
}

async fn linked(
    ctx: &FlowContext,
    work: &TenantWork,
    object_type: ObjectType,
    key: &str,
) -> FlowResult<Option<Uuid>> {
    Ok(ctx
        .stores
        .links
        .exact_id(&work.tenant.id, object_type, key)
        .await?
        .and_then(|id| id.parse::<Uuid>().ok()))
}

/// Adds the Exact account of a firm (by `ClientID`), when linked.
pub(crate) async fn add_firm(
    ctx: &FlowContext,
    work: &TenantWork,
    lookups: &mut Lookups,
    client_id: &str,
) -> FlowResult<()> {
    if let Some(id) = linked(ctx, work, ObjectType::Firm, client_id).await? {
        lookups.firms.insert(client_id.to_owned(), id);
    }
    Ok(())
}

/// Adds the Exact account of a vendor (by vendor code, from the `firms` lookup table), when known.
pub(crate) async fn add_vendor(
    ctx: &FlowContext,
    work: &TenantWork,
    lookups: &mut Lookups,
    vendor: &str,
) -> FlowResult<()> {
    let row = ctx
        .stores
        .lookups
        .get(&work.tenant.id, LookupTable::Firms, vendor)
        .await?;
    if let Some(id) = row.and_then(|e| column(&e, "exact_id").and_then(|v| v.parse::<Uuid>().ok()))
    {
        lookups.vendors.insert(vendor.to_owned(), id);
    }
    Ok(())
}

/// Adds the Exact supplier account of an employee: the link firm-sync wrote, else the `employees` lookup row.
pub(crate) async fn add_employee(
    ctx: &FlowContext,
    work: &TenantWork,
    lookups: &mut Lookups,
    employee: &str,
) -> FlowResult<()> {
    let id = match linked(ctx, work, ObjectType::Employee, employee).await? {
        Some(id) => Some(id),
        None => ctx
            .stores
            .lookups
            .get(&work.tenant.id, LookupTable::Employees, employee)
            .await?
            .and_then(|e| column(&e, "exact_id").and_then(|v| v.parse::<Uuid>().ok())),
    };
    if let Some(id) = id {
        lookups.employees.insert(employee.to_owned(), id);
    }
    Ok(())
}
