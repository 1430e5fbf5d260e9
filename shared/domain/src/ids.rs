//! Identifiers of tenants and synced objects, and the sync status vocabulary of the Integration page.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{what} must not be empty")]
    Empty { what: &'static str },
    #[error("{what} is longer than {max} characters: {value:?}")]
    TooLong {
        what: &'static str,
        max: usize,
        value: String,
    },
    #[error("{what} contains a character that is not allowed ({ch:?}) in {value:?}")]
    BadChar {
        what: &'static str,
        ch: char,
        value: String,
    },
    #[error("unknown {what}: {value:?}")]
    Unknown { what: &'static str, value: String },
}

fn check_token(what: &'static str, value: &str, max: usize) -> Result<(), IdError> {
    if value.is_empty() {
        return Err(IdError::Empty { what });
    }
    if value.chars().count() > max {
        return Err(IdError::TooLong {
            what,
            max,
            value: value.to_owned(),
        });
    }
    // `#` separates key segments in the single-table design; control characters never belong in keys.
    if let Some(ch) = value.chars().find(|c| *c == '#' || c.is_control()) {
        return Err(IdError::BadChar {
            what,
            ch,
            value: value.to_owned(),
        });
    }
    Ok(())
}

/// A tenant: one customer firm with one Vantagepoint database and one Exact Online division.
///
/// Lower-case letters, digits, `-` and `_`, at most 64 characters, so it is safe in keys, S3 prefixes and URLs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(String);

impl TenantId {
    pub fn parse(value: &str) -> Result<Self, IdError> {
        check_token("tenant id", value, 64)?;
        if let Some(ch) = value
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_'))
        {
            return Err(IdError::BadChar {
                what: "tenant id",
                ch,
                value: value.to_owned(),
            });
        }
        Ok(Self(value.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TenantId {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}
impl From<TenantId> for String {
    fn from(value: TenantId) -> Self {
        value.0
    }
}
impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl FromStr for TenantId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// An Exact Online division (administration) number, e.g. `499156`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Division(pub u32);

impl fmt::Display for Division {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The natural key of a synced object in its source system (a Vantagepoint `ClientID`, an invoice key
/// `"{Invoice}.{Period}.{PostSeq}"`, an Exact GUID, ...). At most 200 characters, no `#`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ObjectKey(String);

impl ObjectKey {
    pub fn parse(value: &str) -> Result<Self, IdError> {
        check_token("object key", value, 200)?;
        Ok(Self(value.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for ObjectKey {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}
impl From<ObjectKey> for String {
    fn from(value: ObjectKey) -> Self {
        value.0
    }
}
impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident, $what:literal { $($(#[$vm:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name { $($(#[$vm])* #[serde(rename = $text)] $variant),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str { match self { $($name::$variant => $text),+ } }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s { $($text => Ok($name::$variant),)+ _ => Err(IdError::Unknown { what: $what, value: s.to_owned() }) }
            }
        }
    };
}

string_enum!(
    /// The kinds of object Ledgerlink synchronises; each belongs to one [`Category`] and one [`Flow`].
    ObjectType, "object type" {
        Firm = "firm",
        Employee = "employee",
        GlAccount = "gl-account",
        Currency = "currency",
        TaxCode = "tax-code",
        Invoice = "invoice",
        CreditMemo = "credit-memo",
        ApVoucher = "ap-voucher",
        ExpenseReport = "expense-report",
        JournalEntry = "journal-entry",
        CashReceipt = "cash-receipt",
        ApPayment = "ap-payment",
        ExpensePayment = "expense-payment",
    }
);

impl ObjectType {
    /// Finance documents vs master data, as the Integration page filters them.
    pub fn category(self) -> Category {
        match self {
            Self::Firm | Self::Employee | Self::GlAccount | Self::Currency | Self::TaxCode => {
                Category::MasterData
            }
            _ => Category::Finance,
        }
    }
    /// The flow (and so the Lambda and queue) that owns objects of this type.
    pub fn flow(self) -> Flow {
        match self {
            Self::Firm | Self::Employee | Self::GlAccount | Self::Currency | Self::TaxCode => {
                Flow::FirmSync
            }
            Self::Invoice | Self::CreditMemo => Flow::InvoiceOut,
            Self::ApVoucher | Self::ExpenseReport | Self::JournalEntry => Flow::VoucherOut,
            Self::CashReceipt | Self::ApPayment | Self::ExpensePayment => Flow::PaymentIn,
        }
    }
}

string_enum!(
    /// Finance documents or master data (the Integration page's main filter).
    Category, "category" {
        Finance = "finance",
        MasterData = "master-data",
    }
);

string_enum!(
    /// A sync flow; each is its own Lambda with its own queue.
    Flow, "flow" {
        InvoiceOut = "invoice-out",
        VoucherOut = "voucher-out",
        PaymentIn = "payment-in",
        FirmSync = "firm-sync",
        ExportJob = "export-job",
        ImportJob = "import-job",
    }
);

string_enum!(
    /// The integration status of one object, as the Integration page shows it.
    ///
    /// `OutcomeUnknown` is internal: a ledger write whose response was lost. The next attempt must look the
    /// document up by our reference before writing again; the page shows it as Pending.
    SyncStatus, "sync status" {
        NotIntegrated = "not-integrated",
        Pending = "pending",
        Success = "success",
        Error = "error",
        Desynchronized = "desynchronized",
        OutcomeUnknown = "outcome-unknown",
    }
);

impl SyncStatus {
    /// The label a user sees; the internal "outcome unknown" shows as Pending.
    pub fn label(self) -> &'static str {
        match self {
            Self::NotIntegrated => "Not integrated",
            Self::Pending | Self::OutcomeUnknown => "Pending",
            Self::Success => "Success",
            Self::Error => "Error",
            Self::Desynchronized => "Desynchronized",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_refuse_separators_and_upper_case() {
        assert!(TenantId::parse("acme-bv").is_ok());
        assert!(matches!(
            TenantId::parse("ac#me"),
            Err(IdError::BadChar { ch: '#', .. })
        ));
        assert!(matches!(
            TenantId::parse("Acme"),
            Err(IdError::BadChar { ch: 'A', .. })
        ));
        assert!(matches!(TenantId::parse(""), Err(IdError::Empty { .. })));
    }

    #[test]
    fn every_object_type_round_trips_through_its_text() {
        for t in ObjectType::ALL {
            assert_eq!(t.as_str().parse::<ObjectType>().ok(), Some(*t));
        }
        assert_eq!(ObjectType::Invoice.category(), Category::Finance);
        assert_eq!(ObjectType::Firm.category(), Category::MasterData);
    }

    #[test]
    fn outcome_unknown_shows_as_pending() {
        assert_eq!(SyncStatus::OutcomeUnknown.label(), "Pending");
    }
}
