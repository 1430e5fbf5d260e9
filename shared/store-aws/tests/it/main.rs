//! Integration tests of the AWS adapters against moto's server (one per test binary, started on first use by
//! `ledgerlink-testkit`). Every test creates its own table, bucket and queues under random names.
//!
//! - `contract`: every contract suite of `ledgerlink-ports` (feature `contract`), one test per case.
//! - `dynamo`, `storage`, `queue`: what only this adapter can show (keys, encryption, presigned URL shape,
//!   batching, request counts).
//! - `tokens`: the OAuth tokens sealed at rest (KMS data keys), refused on another tenant's row, older clear rows.
//! - `mail`: the SES adapter of the mail port and the mailing outbox.
//! - `figures`: request counts per status update and per synced object, printed (`--nocapture`).

#![allow(clippy::unwrap_used)]

mod contract;
mod dynamo;
mod figures;
mod helpers;
mod mail;
mod queue;
mod storage;
mod tokens;
