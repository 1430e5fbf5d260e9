//! Tables "Chart of Accounts", "Currencies", the tax-code lookup table ("Tax Codes" considerations) and the
//! set-up proposals: the no-VAT code, combined tax codes, bank codes by name ("Bank Codes" considerations).

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

/// Why no no-VAT code could be proposed from Exact's VAT codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoVatProposal {
    #[error(
        "Exact Online has no VAT code of type \"no VAT\" (N); create one in Exact Online, or set the tenant setting no_vat_code to the code lines without tax must carry"
    )]
    NoneFound,
    #[error(
        "Exact Online has several VAT codes of type \"no VAT\" (N): {}; set the tenant setting no_vat_code to the one lines without tax must carry",
        codes.join(", ")
    )]
    Several { codes: Vec<String> },
}

/// The Exact VAT code lines without tax are booked with (spec: "Uses Exclusive if tax code is present, no
/// Tax if not"), proposed during set-up: the one VAT code Exact marks "no VAT" (`Type` N) that is not
/// blocked. None or several: the tenant must choose (the error says which exist).
pub fn propose_no_vat_code(exact_codes: &[VatCodeRecord]) -> Result<VatCode, NoVatProposal> {
    let mut candidates: Vec<&VatCodeRecord> = exact_codes
        .iter()
        .filter(|c| {
            c.vat_type
                .as_deref()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("N"))
                && c.is_blocked != Some(true)
        })
        .collect();
    candidates.sort_by(|a, b| a.code.cmp(&b.code));
    candidates.dedup_by(|a, b| a.code == b.code);
    match candidates.as_slice() {
        [] => Err(NoVatProposal::NoneFound),
        [one] => Ok(one.code.clone()),
        several => Err(NoVatProposal::Several {
            codes: several
                .iter()
                .map(|c| format!("{} ({})", c.code, c.description))
                .collect(),
        }),
    }
}

/// The Exact VAT code matching a combination of VP tax codes (spec: "Combined taxes are supported"), for a
/// `combined-tax-codes` row the set-up proposes: the one Exact code in the tax-codes lookup whose rate is the
/// sum of the combination's rates (VP's rates, the table's when VP does not list a code). `None` when no
/// code or several codes have that rate, or a rate is unknown: the operator fills the row.
pub fn propose_combined_code(codes: &[&str], lookups: &crate::Lookups) -> Option<VatCode> {
    let mut sum = Decimal::ZERO;
    for code in codes {
        sum += lookups
            .vp_tax_codes
            .get(*code)
            .map(|t| t.rate)
            .or_else(|| lookups.tax_codes.get(*code).map(|l| l.rate))?;
    }
    let mut matches: Vec<&VatCode> = lookups
        .tax_codes
        .iter()
        .filter(|(vp, _)| !codes.contains(&vp.as_str()))
        .filter(|(vp, link)| {
            let rate = lookups
                .vp_tax_codes
                .get(*vp)
                .map(|t| t.rate)
                .unwrap_or(link.rate);
            rate == sum
        })
        .map(|(_, link)| &link.exact_code)
        .collect();
    matches.sort();
    matches.dedup();
    match matches.as_slice() {
        [one] => Some((*one).clone()),
        _ => None,
    }
}

/// A proposed `bank-codes` row: the Exact bank journal and the VP bank of the same name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankMatch {
    /// The Exact bank journal code (the row's key).
    pub journal: String,
    pub vp_bank_code: String,
    pub currency: Option<ledgerlink_domain::CurrencyCode>,
    pub exact_name: String,
    pub vp_name: String,
}

/// Why an Exact bank journal has no VP bank.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BankMatchError {
    #[error("Exact Online has no bank journal {journal}")]
    UnknownJournal { journal: String },
    #[error(
        "no Vantagepoint bank is named {name:?} like Exact Online's bank journal {journal} (Vantagepoint banks: {}); bank names must match in both systems — rename one of them, or fill the bank-codes lookup row for journal {journal}",
        vp_names.join(", ")
    )]
    NoMatch {
        journal: String,
        name: String,
        vp_names: Vec<String>,
    },
    #[error(
        "several Vantagepoint banks are named {name:?} like Exact Online's bank journal {journal} ({}); fill the bank-codes lookup row for journal {journal}",
        vp_codes.join(", ")
    )]
    Ambiguous {
        journal: String,
        name: String,
        vp_codes: Vec<String>,
    },
}

fn same_name(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    norm(a) == norm(b)
}

/// Matches an Exact bank journal to the VP bank of the same name (spec, Bank Codes: "Bank names must match
/// in both systems"; "A lookup table will be used"): names compare ignoring case and spacing. The result is
/// the row to propose in the `bank-codes` table, or why there is none.
pub fn match_bank(
    journal: &str,
    exact_journals: &[exact::Journal],
    vp_banks: &[vantagepoint::BankCode],
) -> Result<BankMatch, BankMatchError> {
    let exact = exact_journals
        .iter()
        .find(|j| j.code.trim() == journal.trim())
        .ok_or_else(|| BankMatchError::UnknownJournal {
            journal: journal.to_owned(),
        })?;
    let name = exact.description.trim();
    let hits: Vec<&vantagepoint::BankCode> = vp_banks
        .iter()
        .filter(|b| b.description.as_deref().is_some_and(|d| same_name(d, name)))
        .collect();
    match hits.as_slice() {
        [bank] => Ok(BankMatch {
            journal: journal.trim().to_owned(),
            vp_bank_code: bank.code.clone(),
            currency: bank.currency,
            exact_name: name.to_owned(),
            vp_name: bank.description.clone().unwrap_or_default(),
        }),
        [] => Err(BankMatchError::NoMatch {
            journal: journal.trim().to_owned(),
            name: name.to_owned(),
            vp_names: vp_banks
                .iter()
                .map(|b| b.description.clone().unwrap_or_else(|| b.code.clone()))
                .collect(),
        }),
        several => Err(BankMatchError::Ambiguous {
            journal: journal.trim().to_owned(),
            name: name.to_owned(),
            vp_codes: several.iter().map(|b| b.code.clone()).collect(),
        }),
    }
}
