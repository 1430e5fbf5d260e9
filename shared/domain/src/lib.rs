//! The domain of Ledgerlink: what a Vantagepoint record and an Exact Online record *are*, as typed values.
//!
//! This crate owns the vocabulary every other crate speaks: identifiers of tenants and synced objects, the
//! sync status of an object ([`ids`]), money ([`money`]), accounting periods and wire dates ([`period`]),
//! Exact's padded codes ([`codes`]), the tolerant serde helpers for VP's loose JSON ([`lenient`]), and the
//! records of both systems ([`vantagepoint`], [`exact`]). Values are parsed at the edge: once a value of
//! these types exists it is valid, so logic never re-checks it.

pub mod cet;
pub mod codes;
pub mod error;
pub mod exact;
pub mod ids;
pub mod json;
pub mod lenient;
pub mod money;
pub mod period;
pub mod vantagepoint;

pub use codes::{ExactAccountCode, VatCode};
pub use error::ParseError;
pub use ids::{Category, Division, Flow, ObjectKey, ObjectType, SyncStatus, TenantId};
pub use money::{CurrencyCode, Money, round_money};
pub use period::Period;
