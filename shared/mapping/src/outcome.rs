//! A mapping that may legitimately decide not to send a record.

use rust_decimal::Decimal;

/// Why a record is deliberately not sent (not an error: nothing is wrong with it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// "Available To: Accounting Users" is not set on the VP firm or employee, so it is not synced.
    NotAvailableToAccountingUsers,
    /// An expense report is only marked paid once fully paid; partial payments wait.
    NotFullyPaid { paid: Decimal, total: Decimal },
}

/// The result of a mapping that may skip: either the mapped record or the reason it is not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<T> {
    Mapped(T),
    Skipped(SkipReason),
}

impl<T> Outcome<T> {
    /// The mapped record, if any.
    pub fn mapped(self) -> Option<T> {
        match self {
            Self::Mapped(t) => Some(t),
            Self::Skipped(_) => None,
        }
    }
    /// The skip reason, if skipped.
    pub fn skip_reason(&self) -> Option<&SkipReason> {
        match self {
            Self::Mapped(_) => None,
            Self::Skipped(r) => Some(r),
        }
    }
}
