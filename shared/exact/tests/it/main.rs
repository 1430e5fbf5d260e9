//! Integration tests of the Exact Online client against the in-process Exact emulator, with the embedded
//! (SQLite) token store and rate budget as the shared ports, and one manual clock shared by the client and
//! the emulator so token expiry and rate windows move in virtual time.
#![allow(clippy::unwrap_used)]

mod helpers;

mod faults;
mod ledger;
mod paging;
mod rate;
mod tokens;
mod webhook;
