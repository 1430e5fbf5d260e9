//! Why a value from outside was refused at the edge.

/// A value could not become a domain value (currency code, period, padded code, date, ...).
///
/// `what` names the kind of value, `value` is the offending input (never a secret: these are business codes),
/// `reason` says what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value:?}: {reason}")]
pub struct ParseError {
    pub what: &'static str,
    pub value: String,
    pub reason: &'static str,
}

impl ParseError {
    pub(crate) fn new(what: &'static str, value: impl Into<String>, reason: &'static str) -> Self {
        Self {
            what,
            value: value.into(),
            reason,
        }
    }
}
