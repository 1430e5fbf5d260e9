//! Integration tests of the Vantagepoint client against the in-process Vantagepoint emulator (bound to
//! 127.0.0.1 port 0, one per test, on a manual clock), with the embedded SQLite token store.
#![allow(clippy::unwrap_used)]

mod auth;
mod cash;
mod decoding;
mod faults;
mod helpers;
mod hubs;
mod ledger;
mod paging;
mod payments;
mod webhooks;
