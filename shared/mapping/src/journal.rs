//! Tables "Journal: Vantagepoint to Exact Online" (+ Line Items).
//!
//! A VP journal entry becomes an Exact general journal entry (`generaljournalentry/GeneralJournalEntries`).
//! The spec's Xero-style targets: "Narration" = Exact general journal entries have no header text, so the
//! VP description is the description of every line that has none of its own; "Status POSTED" = entries
//! created through this API are posted bookings (type 90); "Line amount tax type: tax inclusive" = no VAT
//! is ever sent (journal entries here carry no tax codes; lines with one are refused, since manual journals
//! with tax belong in Exact directly).

use ledgerlink_domain::ObjectType;
use ledgerlink_domain::exact::{GeneralJournalEntry, GeneralJournalEntryLine};
use ledgerlink_domain::vantagepoint::JournalEntry;
use rust_decimal::Decimal;

use crate::common::{check_currency, lookup_id};
use crate::error::{MappingError, RecordRef};
use crate::lookups::Lookups;

/// One Exact general journal entry made from a VP journal entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedJournal {
    pub external_key: String,
    pub entry: GeneralJournalEntry,
}

/// Maps the header ("Journal: Vantagepoint to Exact Online").
///
/// Rows: Description → Narration (line descriptions, see module docs); Status POSTED, tax inclusive → see
/// module docs; transaction date → Date (on every line, Exact's `Date`). `JournalCode` is the tenant's
/// general journal; `Currency` the VP transaction currency; `FinancialYear`/`FinancialPeriod` are left to
/// Exact (derived from the line dates), because VP and Exact period calendars need not match.
pub fn journal_header(
    entry: &JournalEntry,
    lookups: &Lookups,
) -> Result<GeneralJournalEntry, MappingError> {
    let record = RecordRef::new(ObjectType::JournalEntry, entry.external_key());
    check_currency(entry.currency, lookups, &record, "CurrencyCode")?;
    Ok(GeneralJournalEntry {
        entry_id: None,
        journal_code: lookups.journals.general.clone(),
        currency: Some(entry.currency),
        financial_year: None,
        financial_period: None,
        lines: Vec::new(),
    })
}

/// Maps the lines ("Journal ... Line Items").
///
/// Row: Credit amount or debit → line amount: the sign decides — a positive VP amount (debit) is a
/// positive `AmountFC`, a negative one (credit) a negative `AmountFC` (Exact: positive = debit). Lines
/// must balance; a line with a tax code is refused.
pub fn journal_lines(
    entry: &JournalEntry,
    lookups: &Lookups,
) -> Result<Vec<GeneralJournalEntryLine>, MappingError> {
    let record = RecordRef::new(ObjectType::JournalEntry, entry.external_key());
    if entry.lines.is_empty() {
        return Err(MappingError::Missing {
            record,
            field: "Lines",
            why: "a journal entry without lines cannot be booked",
        });
    }
    if let Some(line) = entry.lines.iter().find(|l| l.tax_code.is_some()) {
        return Err(MappingError::Invalid {
            record,
            field: "TaxCode",
            why: format!(
                "journal line on account {} has tax code {:?}; journal entries with tax codes must be entered in Exact Online directly",
                line.account,
                line.tax_code.as_deref().unwrap_or_default()
            ),
        });
    }
    let difference: Decimal = entry.lines.iter().map(|l| l.signed_amount()).sum();
    if !difference.is_zero() {
        return Err(MappingError::Unbalanced { record, difference });
    }
    entry
        .lines
        .iter()
        .map(|line| {
            Ok(GeneralJournalEntryLine {
                id: None,
                gl_account: lookup_id(
                    &lookups.gl_accounts,
                    &record,
                    "Account",
                    "G/L accounts",
                    &line.account,
                )?,
                amount_fc: line.signed_amount(),
                description: line
                    .description
                    .clone()
                    .or_else(|| entry.description.clone()),
                date: Some(entry.trans_date),
                our_ref: None,
            })
        })
        .collect()
}

/// Maps a posted VP journal entry to an Exact general journal entry.
pub fn journal_to_exact(
    entry: &JournalEntry,
    lookups: &Lookups,
) -> Result<MappedJournal, MappingError> {
    let mut exact = journal_header(entry, lookups)?;
    exact.lines = journal_lines(entry, lookups)?;
    Ok(MappedJournal {
        external_key: entry.external_key(),
        entry: exact,
    })
}
