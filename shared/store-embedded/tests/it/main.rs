//! Integration tests: every contract suite of `ledgerlink-ports` against the embedded adapters, plus the
//! embedded-only guarantees (several processes sharing one file, signed local URLs, queue on a manual clock).

#![allow(clippy::unwrap_used)]

mod bundle;
mod cursors;
mod helpers;
mod idempotency;
mod integrations;
mod jobs;
mod links;
mod lookups;
mod maintenance;
mod notifications;
mod processes;
mod queue;
mod rate;
mod statuses;
mod storage;
mod tenants;
mod tokens;
