//! Helpers shared by the mappings: lookups that fail with a named error, code-length rules, tax resolution.

use std::collections::BTreeMap;

use ledgerlink_domain::{CurrencyCode, VatCode};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::config::NO_VAT_CODE_SETTING;
use crate::error::{MappingError, RecordRef};
use crate::lookups::{Lookups, TruncationRule, combined_key};

pub(crate) fn lookup_id(
    map: &BTreeMap<String, Uuid>,
    record: &RecordRef,
    field: &'static str,
    table: &'static str,
    key: &str,
) -> Result<Uuid, MappingError> {
    map.get(key)
        .copied()
        .ok_or_else(|| MappingError::NotInLookup {
            record: record.clone(),
            field,
            table,
            key: key.to_owned(),
        })
}

/// Applies a length limit: returns the value, or the truncated value under a configured rule, or refuses.
pub(crate) fn fit_length(
    value: &str,
    max: usize,
    rule: TruncationRule,
    record: &RecordRef,
    field: &'static str,
) -> Result<String, MappingError> {
    let len = value.chars().count();
    if len <= max {
        return Ok(value.to_owned());
    }
    match rule {
        TruncationRule::Refuse => Err(MappingError::TooLong {
            record: record.clone(),
            field,
            value: value.to_owned(),
            len,
            max,
        }),
        TruncationRule::KeepLeft => Ok(value.chars().take(max).collect()),
        TruncationRule::KeepRight => Ok(value.chars().skip(len - max).collect()),
    }
}

/// The Exact side of a line's taxes: the VAT code to book and the effective rate as a fraction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResolvedTax {
    pub key: String,
    pub exact_code: Option<VatCode>,
    /// Fraction, `0.21` for 21 %.
    pub effective_rate: Decimal,
}

/// Why lines without tax need the no-VAT code.
const NO_VAT_WHY: &str = "a line without a tax code is booked with the tenant's no-VAT code and a zero VAT amount; \
     leaving the VAT code out would make Exact Online apply the G/L account's default VAT code. Set-up proposes it \
     from Exact Online's VAT codes of type \"no VAT\"; set it in the tenant's settings";

/// The code a VP tax code is compounded on: Vantagepoint's `CompoundOnTaxCode`, or an operator's mark in the
/// tax-codes lookup table.
fn compounded_on(code: &str, lookups: &Lookups) -> Option<String> {
    lookups
        .vp_tax_codes
        .get(code)
        .and_then(|t| t.compound_on.clone())
        .or_else(|| {
            lookups
                .tax_codes
                .get(code)
                .and_then(|l| l.compound_on.clone())
        })
}

/// Resolves the tax codes of one line ("Uses Exclusive if tax code is present, no Tax if not"; "Combined
/// taxes are supported, but not compound taxes").
///
/// - No code: the tenant's no-VAT code with a zero rate; refused ([`MappingError::NotConfigured`]) while the
///   setting is missing.
/// - A compound code (VP's `CompoundOnTaxCode`) anywhere on the line: refused with
///   [`MappingError::CompoundTax`] — checked before any lookup, so the user learns the real reason.
/// - One code: its Exact VAT code from the `tax-codes` table; its rate from Vantagepoint (the table's rate
///   when VP does not list the code).
/// - Several codes (combined taxes): the Exact VAT code of the combination from the `combined-tax-codes`
///   table; the effective rate is the sum of the codes' rates.
pub(crate) fn resolve_tax(
    codes: &[&str],
    lookups: &Lookups,
    record: &RecordRef,
    field: &'static str,
) -> Result<ResolvedTax, MappingError> {
    if codes.is_empty() {
        let code = lookups
            .no_vat_code
            .clone()
            .ok_or_else(|| MappingError::NotConfigured {
                record: record.clone(),
                field,
                setting: NO_VAT_CODE_SETTING,
                why: NO_VAT_WHY,
            })?;
        return Ok(ResolvedTax {
            key: String::new(),
            exact_code: Some(code),
            effective_rate: Decimal::ZERO,
        });
    }
    for code in codes {
        if let Some(on) = compounded_on(code, lookups) {
            return Err(MappingError::CompoundTax {
                record: record.clone(),
                field,
                tax_code: (*code).to_owned(),
                compound_on: on,
            });
        }
    }
    let mut percent = Decimal::ZERO;
    for code in codes {
        let rate = lookups
            .vp_tax_codes
            .get(*code)
            .map(|t| t.rate)
            .or_else(|| lookups.tax_codes.get(*code).map(|l| l.rate))
            .ok_or_else(|| MappingError::NotInLookup {
                record: record.clone(),
                field,
                table: "tax codes",
                key: (*code).to_owned(),
            })?;
        percent += rate;
    }
    let (key, exact_code) = if let [code] = codes {
        let link = lookups
            .tax_codes
            .get(*code)
            .ok_or_else(|| MappingError::NotInLookup {
                record: record.clone(),
                field,
                table: "tax codes",
                key: (*code).to_owned(),
            })?;
        ((*code).to_owned(), link.exact_code.clone())
    } else {
        let key = combined_key(codes.iter().copied());
        let exact = lookups
            .combined_tax_codes
            .get(&key)
            .cloned()
            .ok_or_else(|| MappingError::NotInLookup {
                record: record.clone(),
                field,
                table: "combined tax codes",
                key: key.clone(),
            })?;
        (key, exact)
    };
    Ok(ResolvedTax {
        key,
        exact_code: Some(exact_code),
        effective_rate: percent / Decimal::ONE_HUNDRED,
    })
}

/// Refuses a currency Exact does not have enabled (Exact would silently blank it).
pub(crate) fn check_currency(
    currency: CurrencyCode,
    lookups: &Lookups,
    record: &RecordRef,
    field: &'static str,
) -> Result<(), MappingError> {
    if lookups.currencies.is_empty() || lookups.currencies.contains(&currency) {
        Ok(())
    } else {
        Err(MappingError::NotInLookup {
            record: record.clone(),
            field,
            table: "currencies",
            key: currency.to_string(),
        })
    }
}

/// `WBS1/WBS2/WBS3` with only the levels that are present.
pub(crate) fn wbs_path(
    wbs1: Option<&str>,
    wbs2: Option<&str>,
    wbs3: Option<&str>,
) -> Option<String> {
    let parts: Vec<&str> = [wbs1, wbs2, wbs3]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if parts.is_empty() {
        None
    } else {
        Some(parts.join("/"))
    }
}

/// Exact's `InvoiceNumber` is an Int32: a VP number that is all digits and fits is passed as a hint.
pub(crate) fn numeric_document_number(value: &str) -> Option<i64> {
    let trimmed = value.trim();
    if trimmed.is_empty() || !trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    trimmed.parse::<i32>().ok().map(i64::from)
}
