//! Deltek Vantagepoint REST client.
//!
//! This crate owns everything Ledgerlink knows about talking to Vantagepoint (VP) over HTTP:
//! - [`config`]: connection settings and the redacting [`Secret`];
//! - [`token`]: the token manager on the `TokenStore` port (password + refresh grants, single flight);
//! - [`http`] / [`client`]: the bearer-authenticated JSON core with retries and 401 renewal, `/api` vs
//!   `/vision` roots, paging;
//! - [`decode`] / [`query`]: tolerant decoding of VP's wire quirks and the `filterHash` query builder;
//! - the operations the flows need, and [`VantagepointPsa`], the implementation of the PSA port.

pub mod cash;
pub mod client;
pub mod config;
pub mod decode;
pub mod error;
pub mod http;
pub mod hubs;
pub mod ledger;
pub mod posting;
pub mod psa;
pub mod query;
pub mod token;
pub mod webhook;

pub use client::{Idempotency, VantagepointClient};
pub use config::{DnsResolver, RetryPolicy, Secret, VantagepointConfig, issuer};
pub use error::{VpError, VpResult};
pub use http::Root;
pub use hubs::AddressEdit;
pub use posting::{PostedBatch, PostingReport, parse_posting_report};
pub use psa::VantagepointPsa;
pub use query::{FilterHash, FilterType, ListQuery, Op, Paging};
pub use token::TokenManager;
pub use webhook::{WebhookAuthError, WebhookVerifier, parse_webhook_payload};
