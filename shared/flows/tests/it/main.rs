//! Integration tests of the flows: both emulators in-process, the embedded store in a temp dir, the flows
//! driven through the embedded work queue exactly as the local stack drives them.
#![allow(clippy::unwrap_used)]

mod division_move;
mod exactly_once;
mod faults;
mod figures;
mod firm_links;
mod firm_sync;
mod fixes;
mod helpers;
mod invoice_out;
mod lambda;
mod money_rules;
mod operator;
mod payment_in;
