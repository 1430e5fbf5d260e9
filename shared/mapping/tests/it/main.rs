//! Golden tests: one per row of every mapping table of the spec (test name = table + row), the rules of
//! "Considerations and Limitations", and property tests of the invariants.
#![allow(clippy::unwrap_used)]

mod support;

mod ap_payment;
mod ap_voucher;
mod bank_codes;
mod chart_of_accounts;
mod credit_note;
mod currencies;
mod employees;
mod errors;
mod expenses;
mod firm_addresses;
mod firms_from_exact;
mod firms_to_exact;
mod invoice_payment;
mod journal;
mod properties;
mod sales_invoice;
mod tax_codes;
