//! The domain of Ledgerlink: what a Vantagepoint record and an Exact Online record *are*, as typed values.
//!
//! This crate owns the vocabulary every other crate speaks: identifiers of tenants and synced objects, the
//! sync status of an object, and (in the modules added beside `ids`) money, accounting periods, padded
//! codes and the records of both systems. Values are parsed at the edge: once a value of these types
//! exists it is valid, so logic never re-checks it.

pub mod ids;

pub use ids::{Category, Division, Flow, ObjectKey, ObjectType, SyncStatus, TenantId};
