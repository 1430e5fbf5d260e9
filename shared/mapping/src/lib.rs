//! Pure mapping functions between Vantagepoint and Exact Online: one function per mapping table of the
//! spec (`shared/seeds/001_…txt`, "Data Mapping"), in both directions where the spec has both.
//!
//! Every function takes typed records from `ledgerlink-domain` plus the [`Lookups`] (lookup tables and
//! tenant settings) by reference and returns the target record or a [`MappingError`] naming the record,
//! the field and why. No I/O, no clock, no randomness: the same inputs always map to the same output
//! (the one generated key, the cash-receipt `PKey`, is derived from its inputs).
//!
//! | Spec table | Function |
//! |---|---|
//! | Employees: VP → Exact | [`employees::employee_to_exact`] |
//! | Firms: VP → Exact | [`firms::firm_to_exact`] |
//! | Firms: Exact → VP | [`firms::firm_from_exact`] |
//! | Firms: VP → Exact - Address | [`firms::firm_addresses_to_exact`] |
//! | Chart of Accounts | [`ledger_setup::gl_account_to_vp`] |
//! | Currencies | [`ledger_setup::currency_to_exact`], [`ledger_setup::currency_from_exact`] |
//! | Tax codes lookup table | [`ledger_setup::tax_code_table`], [`ledger_setup::tax_links`] |
//! | AP Voucher (+ Line Items) | [`purchases::ap_voucher_header`], [`purchases::ap_voucher_lines`] |
//! | Expenses (+ Line Items) | [`purchases::expense_header`], [`purchases::expense_lines`] |
//! | Sales Invoices (+ Line Items) | [`sales::sales_invoice_header`], [`sales::sales_invoice_lines`] |
//! | Credit Note (+ Line Items) | [`sales::credit_note_header`], [`sales::credit_note_lines`] |
//! | Journal (+ Line Items) | [`journal::journal_header`], [`journal::journal_lines`] |
//! | AP Payment (+ APPChecks) | [`payments::ap_payment_header`], [`payments::ap_payment_checks`] |
//! | EM payment | [`payments::em_payment_to_vp`] |
//! | Invoice Payment: CR control / master / detail | [`payments::cr_control`], [`payments::cr_master`], [`payments::cr_details`] |
//!
//! Each document also has a composing function (`*_to_exact` / `*_to_vp`) that the flows call.
//!
//! The [`Lookups`] every function takes are built by one loader, [`load::load`], from the lookup tables,
//! the tenant's settings ([`config`]) and Vantagepoint's tax codes as production stores and reads them.

mod common;
pub mod config;
pub mod demo;
pub mod employees;
pub mod error;
pub mod firms;
pub mod journal;
pub mod ledger_setup;
pub mod load;
pub mod lookups;
pub mod outcome;
pub mod payments;
pub mod purchases;
pub mod sales;

pub use config::{ConfigError, MappingConfig};
pub use error::{MappingError, RecordRef};
pub use load::{LookupSources, load};
pub use lookups::{
    AccountTypeTable, BankLink, DueDateRule, JournalCodes, Lookups, PostingContext, ProjectBilling,
    Settings, TaxCodeLink, TruncationRule, VpTaxCode, combined_key,
};
pub use outcome::{Outcome, SkipReason};
