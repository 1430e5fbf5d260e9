//! Tables "Chart of Accounts", "Currencies" and the tax-code lookup table ("Tax Codes" considerations).

use std::collections::BTreeMap;

use ledgerlink_domain::exact::{self, GlAccount, VatCodeRecord};
use ledgerlink_domain::vantagepoint::{self, AccountStatus};
use ledgerlink_domain::{ObjectType, VatCode};
use rust_decimal::Decimal;

use crate::error::{MappingError, RecordRef};
use crate::lookups::{AccountTypeTable, TaxCodeLink};

/// Maps an Exact G/L account to a VP chart-of-accounts record.
///
/// Rows: Code → Number (`Account`, trimmed; Exact allows decimal places, kept as text); Description →
/// Account Name and Name (VP has one `Name`); Status → `A`; Type → from the account-type mapping table
/// (Exact type code first, then balance sheet/P&L + debit/credit), refused when the table has no entry;
/// Detail → `"1"`; Cash Balance Account, Unrealized loss/gain account, Cash Basis Revaluation → blank.
pub fn gl_account_to_vp(
    account: &GlAccount,
    table: &AccountTypeTable,
) -> Result<vantagepoint::Account, MappingError> {
    let record = RecordRef::new(ObjectType::GlAccount, account.code.trim());
    let code = account.code.trim();
    if code.is_empty() {
        return Err(MappingError::Missing {
            record,
            field: "Code",
            why: "a VP account needs a number",
        });
    }
    let account_type = table
        .resolve(account.gl_type, account.balance_type, account.balance_side)
        .ok_or_else(|| MappingError::NotInLookup {
            record: record.clone(),
            field: "Type",
            table: "account types",
            key: format!(
                "type {:?}, balance {:?}/{:?}",
                account.gl_type, account.balance_type, account.balance_side
            ),
        })?;
    Ok(vantagepoint::Account {
        account: code.to_owned(),
        name: account.description.trim().to_owned(),
        status: AccountStatus::Active,
        account_type,
        detail: Some("1".to_owned()),
        cash_basis_account: String::new(),
        unrealized_loss_account: String::new(),
        unrealized_gain_account: String::new(),
        cash_basis_revaluation: String::new(),
    })
}

/// Maps a VP currency to Exact's. Rows: Code → Code; Description → Description. (Exact currencies are
/// read-only: this is what the flow compares against the division's enabled currencies.)
pub fn currency_to_exact(currency: &vantagepoint::Currency) -> exact::Currency {
    exact::Currency {
        code: currency.code,
        description: currency.description.clone(),
        amount_precision: None,
    }
}

/// Maps an Exact currency to VP's code table. Rows: Code → Code; Description → Description.
pub fn currency_from_exact(currency: &exact::Currency) -> vantagepoint::Currency {
    vantagepoint::Currency {
        code: currency.code,
        description: currency.description.clone(),
    }
}

/// The tax-code lookup table: which VP code stands for each Exact VAT code.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaxCodeTable {
    /// Exact VAT code → generated VP code.
    pub links: BTreeMap<VatCode, String>,
    /// The VP tax codes to create (only the ones new in this run).
    pub created: Vec<vantagepoint::TaxCode>,
}

/// Builds the tax-code lookup table from Exact's VAT codes.
///
/// Each Exact VAT code gets a unique generated VP code `X0001`, `X0002`, ... (continuing after the highest
/// `X` number already in `existing`), with the Exact description as the VP description; codes already in
/// `existing` keep their VP code. Uniqueness is by Exact *code*, so two Exact codes with the same name
/// still get different VP codes. The VP rate is Exact's `Percentage` (a fraction) × 100. Input order does
/// not matter: codes are numbered in Exact-code order, so the result is deterministic.
pub fn tax_code_table(
    exact_codes: &[VatCodeRecord],
    existing: &BTreeMap<VatCode, String>,
) -> TaxCodeTable {
    let mut next = existing
        .values()
        .filter_map(|code| code.strip_prefix('X').and_then(|n| n.parse::<u32>().ok()))
        .max()
        .unwrap_or(0);
    let mut sorted: Vec<&VatCodeRecord> = exact_codes.iter().collect();
    sorted.sort_by(|a, b| a.code.cmp(&b.code));
    sorted.dedup_by(|a, b| a.code == b.code);
    let mut table = TaxCodeTable {
        links: existing.clone(),
        created: Vec::new(),
    };
    for vat in sorted {
        if table.links.contains_key(&vat.code) {
            continue;
        }
        next += 1;
        let vp_code = format!("X{next:04}");
        table.links.insert(vat.code.clone(), vp_code.clone());
        table.created.push(vantagepoint::TaxCode {
            code: vp_code,
            description: Some(vat.description.clone()),
            rate: vat.percentage.unwrap_or_default() * Decimal::ONE_HUNDRED,
            compound_on_tax_code: None,
        });
    }
    table
}

/// The VP → Exact direction of the same table, as the document mappings use it: VP code → Exact code +
/// VP rate (and VP's compound marker, which the document mappings refuse).
pub fn tax_links(
    table: &TaxCodeTable,
    vp_codes: &[vantagepoint::TaxCode],
) -> BTreeMap<String, TaxCodeLink> {
    let rates: BTreeMap<&str, &vantagepoint::TaxCode> =
        vp_codes.iter().map(|c| (c.code.as_str(), c)).collect();
    table
        .links
        .iter()
        .map(|(exact_code, vp_code)| {
            let vp = rates.get(vp_code.as_str());
            (
                vp_code.clone(),
                TaxCodeLink {
                    exact_code: exact_code.clone(),
                    rate: vp.map(|c| c.rate).unwrap_or_default(),
                    compound_on: vp.and_then(|c| c.compound_on_tax_code.clone()),
                },
            )
        })
        .collect()
}
