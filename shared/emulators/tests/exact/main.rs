//! Integration tests of the Exact Online emulator, against a real server on 127.0.0.1:0 with reqwest as the
//! client and a manual clock, so token lifetimes and rate windows are crossed without sleeping.
#![allow(clippy::unwrap_used)]

mod faults;
mod helpers;
mod invoicing;
mod ledger;
mod oauth;
mod properties;
mod rate;
mod rest;
mod standalone;
mod sync_and_payments;
mod third_party;
mod webhooks;
