//! Exact Online REST client for Ledgerlink.
//!
//! What this crate owns:
//! - [`config`]: one connection's settings; secrets wrapped so they never reach logs.
//! - [`token`]: OAuth tokens in the shared `TokenStore`, refreshed single-flight across processes, never
//!   before 570 s, rotated refresh tokens persisted before use; dead ones become `ReconnectNeeded`.
//! - [`rate`]: the per-(app, division) call budget shared through the `RateBudget` port.
//! - [`client`]: the HTTP core (auth, budget, OData envelopes, paging, classification, retries).
//! - [`odata`]: query options with escaped literals, envelope decoding.
//! - [`entities`], [`ops`]: entity sets and typed operations on the domain's Exact records.
//! - [`once`]: create-if-absent (look up by our reference before any re-POST).
//! - [`ledger`]: [`ExactLedger`], the ledger port.
//! - [`webhook`]: HashCode verification and the typed webhook payload.
//!
//! The reference for every behaviour is `shared/reference/exact-online-api.md`.

pub mod client;
pub mod config;
pub mod entities;
pub mod error;
pub mod ledger;
pub mod odata;
pub mod once;
pub mod ops;
pub mod rate;
pub mod token;
pub mod webhook;

pub use client::{ClientPorts, ExactClient};
pub use config::{DnsResolver, ExactConfig, RetryPolicy, Secret, connection_name, issuer};
pub use entities::{EntitySet, SyncBatch};
pub use error::{ExactError, ExactResult};
pub use ledger::ExactLedger;
pub use odata::{Filter, ListPage, Literal, Query};
pub use once::{CreateOnce, LookupFirst};
pub use ops::{DeletedRow, Me};
pub use token::{AccessToken, ReconnectHook, TokenManager};
pub use webhook::{
    WebhookAction, WebhookContent, WebhookError, WebhookVerification, signed_content,
    verify_webhook,
};
