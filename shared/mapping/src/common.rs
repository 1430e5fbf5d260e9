//! Helpers shared by the mappings: lookups that fail with a named error, code-length rules, tax resolution.

use std::collections::BTreeMap;

use ledgerlink_domain::{CurrencyCode, VatCode};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::error::{MappingError, RecordRef};
use crate::lookups::{Lookups, TruncationRule};

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

/// Resolves the tax codes of one line. Combined taxes (several codes on one line) add their rates; a
/// compound tax (a code with `CompoundOnTaxCode`) is refused. No code = "no tax".
pub(crate) fn resolve_tax(
    codes: &[&str],
    lookups: &Lookups,
    record: &RecordRef,
    field: &'static str,
) -> Result<ResolvedTax, MappingError> {
    if codes.is_empty() {
        return Ok(ResolvedTax {
            key: String::new(),
            exact_code: lookups.no_vat_code.clone(),
            effective_rate: Decimal::ZERO,
        });
    }
    let mut percent = Decimal::ZERO;
    let mut single_code = None;
    for code in codes {
        let link = lookups
            .tax_codes
            .get(*code)
            .ok_or_else(|| MappingError::NotInLookup {
                record: record.clone(),
                field,
                table: "tax codes",
                key: (*code).to_owned(),
            })?;
        if let Some(on) = &link.compound_on {
            return Err(MappingError::CompoundTax {
                record: record.clone(),
                field,
                tax_code: (*code).to_owned(),
                compound_on: on.clone(),
            });
        }
        percent += link.rate;
        single_code = Some(link.exact_code.clone());
    }
    let key = codes.join("+");
    let exact_code = if codes.len() == 1 {
        single_code
    } else {
        Some(
            lookups
                .combined_tax_codes
                .get(&key)
                .cloned()
                .ok_or_else(|| MappingError::NotInLookup {
                    record: record.clone(),
                    field,
                    table: "combined tax codes",
                    key: key.clone(),
                })?,
        )
    };
    Ok(ResolvedTax {
        key,
        exact_code,
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
