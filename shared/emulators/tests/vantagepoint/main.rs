//! Integration tests of the Vantagepoint emulator, driven over HTTP with reqwest like a real client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod admin;
mod auth;
mod cash_receipts;
mod data_entry;
mod faults;
mod hubs;
mod ledger;
mod payments;
mod webhooks;
