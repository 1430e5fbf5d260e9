//! The entity sets the emulator serves: their fields, types, keys, writability, navigation properties and the
//! per-endpoint rules (mandatory `$filter`, mandatory `$select`, bulk/sync availability, webhook topic, the
//! `sync/Deleted` entity type code). One table, so routing, validation and formatting all read the same facts.

use std::str::FromStr;
use std::sync::LazyLock;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use ledgerlink_domain::cet;
use rust_decimal::Decimal;
use serde_json::{Number, Value};

/// Wire type of a property (OData v2 verbose JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    Guid,
    Str,
    /// Right-aligned in N characters (Account `Code`, 18).
    PadLeft(usize),
    /// Left-aligned, padded with spaces to N characters (VAT codes and countries, 3).
    PadRight(usize),
    Int,
    Int64,
    /// Edm.Double on the wire; parsed into `Decimal` for arithmetic.
    Dec,
    Bool,
    Date,
}

/// Writable on POST.
pub(crate) const P: u8 = 1;
/// Writable on PUT.
pub(crate) const U: u8 = 2;
/// Required on POST.
pub(crate) const R: u8 = 4;
/// Writable on POST and PUT.
pub(crate) const W: u8 = P | U;
/// Read-only.
pub(crate) const RO: u8 = 0;

#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub name: &'static str,
    pub ty: Ty,
    pub flags: u8,
}

#[derive(Debug, Clone)]
pub(crate) struct Nav {
    pub name: &'static str,
    /// Path of the child set, e.g. `salesentry/SalesEntryLines`.
    pub child: &'static str,
    /// Field on the child pointing at the parent key.
    pub fk: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    Guid,
    Str,
    Int64,
}

pub(crate) const GET: u8 = 1;
pub(crate) const POST: u8 = 2;
pub(crate) const PUT: u8 = 4;
pub(crate) const DELETE: u8 = 8;

#[derive(Debug, Clone)]
pub(crate) struct SetDef {
    /// Canonical path `service/Entity` (regular endpoints).
    pub path: &'static str,
    pub type_name: &'static str,
    pub key: &'static str,
    pub key_kind: KeyKind,
    pub fields: Vec<Field>,
    pub navs: Vec<Nav>,
    pub methods: u8,
    pub topic: Option<&'static str>,
    pub deleted_type: Option<i64>,
    pub mandatory_filter: bool,
    pub select_or_top1: bool,
    /// `sync/{this}` serves the set (e.g. `CRM/Accounts`).
    pub sync: Option<&'static str>,
    /// `bulk/{this}` serves the set.
    pub bulk: Option<&'static str>,
    /// Served only through `sync/` (e.g. PaymentTerms) or only internally.
    pub regular: bool,
}

impl SetDef {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
    pub fn nav(&self, name: &str) -> Option<&Nav> {
        self.navs.iter().find(|n| n.name == name)
    }
    pub fn allows(&self, method: u8) -> bool {
        self.methods & method != 0
    }
}

fn fd(name: &'static str, ty: Ty, flags: u8) -> Field {
    Field { name, ty, flags }
}

fn audit() -> Vec<Field> {
    vec![
        fd("Created", Ty::Date, RO),
        fd("Creator", Ty::Guid, RO),
        fd("CreatorFullName", Ty::Str, RO),
        fd("Modified", Ty::Date, RO),
        fd("Modifier", Ty::Guid, RO),
        fd("ModifierFullName", Ty::Str, RO),
        fd("Division", Ty::Int, RO),
    ]
}

fn with_audit(mut fields: Vec<Field>) -> Vec<Field> {
    fields.extend(audit());
    fields
}

struct Builder(SetDef);

impl Builder {
    fn new(
        path: &'static str,
        type_name: &'static str,
        key: &'static str,
        key_kind: KeyKind,
        fields: Vec<Field>,
    ) -> Self {
        Self(SetDef {
            path,
            type_name,
            key,
            key_kind,
            fields,
            navs: Vec::new(),
            methods: GET | POST | PUT | DELETE,
            topic: None,
            deleted_type: None,
            mandatory_filter: false,
            select_or_top1: false,
            sync: None,
            bulk: None,
            regular: true,
        })
    }
    fn methods(mut self, m: u8) -> Self {
        self.0.methods = m;
        self
    }
    fn nav(mut self, name: &'static str, child: &'static str, fk: &'static str) -> Self {
        self.0.navs.push(Nav { name, child, fk });
        self
    }
    fn topic(mut self, t: &'static str) -> Self {
        self.0.topic = Some(t);
        self
    }
    fn deleted(mut self, code: i64) -> Self {
        self.0.deleted_type = Some(code);
        self
    }
    fn sync(mut self, s: &'static str) -> Self {
        self.0.sync = Some(s);
        self
    }
    fn bulk(mut self, b: &'static str) -> Self {
        self.0.bulk = Some(b);
        self
    }
    fn mandatory_filter(mut self) -> Self {
        self.0.mandatory_filter = true;
        self
    }
    fn select_or_top1(mut self) -> Self {
        self.0.select_or_top1 = true;
        self
    }
    fn not_regular(mut self) -> Self {
        self.0.regular = false;
        self
    }
}

pub(crate) const ACCOUNTS: &str = "crm/Accounts";
pub(crate) const ADDRESSES: &str = "crm/Addresses";
pub(crate) const CONTACTS: &str = "crm/Contacts";
pub(crate) const GL_ACCOUNTS: &str = "financial/GLAccounts";
pub(crate) const JOURNALS: &str = "financial/Journals";
pub(crate) const VAT_CODES: &str = "vat/VATCodes";
pub(crate) const VAT_PERCENTAGES: &str = "vat/VATPercentages";
pub(crate) const CURRENCIES: &str = "general/Currencies";
pub(crate) const SALES_ENTRIES: &str = "salesentry/SalesEntries";
pub(crate) const SALES_ENTRY_LINES: &str = "salesentry/SalesEntryLines";
pub(crate) const PURCHASE_ENTRIES: &str = "purchaseentry/PurchaseEntries";
pub(crate) const PURCHASE_ENTRY_LINES: &str = "purchaseentry/PurchaseEntryLines";
pub(crate) const GJ_ENTRIES: &str = "generaljournalentry/GeneralJournalEntries";
pub(crate) const GJ_ENTRY_LINES: &str = "generaljournalentry/GeneralJournalEntryLines";
pub(crate) const BANK_ENTRIES: &str = "financialtransaction/BankEntries";
pub(crate) const BANK_ENTRY_LINES: &str = "financialtransaction/BankEntryLines";
pub(crate) const TRANSACTION_LINES: &str = "financialtransaction/TransactionLines";
/// `sync/Financial/TransactionLines`: the same booked lines keyed by their rowversion (its own documented
/// property set: `Timestamp` as key, no `ShopOrder`).
pub(crate) const SYNC_TRANSACTION_LINES: &str = "sync/Financial/TransactionLines";
/// `read/sync/Sync/SyncTimestamp`: the first `Timestamp` of an endpoint modified at or after a date.
pub(crate) const SYNC_TIMESTAMP: &str = "read/sync/Sync/SyncTimestamp";
pub(crate) const ITEMS: &str = "logistics/Items";
pub(crate) const SALES_INVOICES: &str = "salesinvoice/SalesInvoices";
pub(crate) const SALES_INVOICE_LINES: &str = "salesinvoice/SalesInvoiceLines";
pub(crate) const PRINTED_SALES_INVOICES: &str = "salesinvoice/PrintedSalesInvoices";
pub(crate) const RECEIVABLES: &str = "cashflow/Receivables";
pub(crate) const PAYMENTS: &str = "cashflow/Payments";
pub(crate) const PAYMENT_TERMS: &str = "cashflow/PaymentTerms";
pub(crate) const WEBHOOKS: &str = "webhooks/WebhookSubscriptions";
pub(crate) const DIVISIONS_SYSTEM: &str = "system/Divisions";
pub(crate) const DIVISIONS_HRM: &str = "hrm/Divisions";
pub(crate) const DELETED: &str = "sync/Deleted";
pub(crate) const RECEIVABLES_LIST: &str = "read/financial/ReceivablesList";
pub(crate) const ME: &str = "current/Me";

/// Fields a `logistics/Items` `$filter` must mention (the mandatory-filtering rule, §3.4).
pub(crate) const ITEM_FILTER_FIELDS: &[&str] = &[
    "Barcode",
    "Code",
    "Created",
    "Description",
    "ID",
    "IsSalesItem",
    "IsPurchaseItem",
    "IsStockItem",
    "ItemGroup",
    "Modified",
    "SearchCode",
];

/// The fields one of which a `$filter` on a mandatory-filtering endpoint must mention.
pub(crate) fn mandatory_filter_fields(def: &SetDef) -> &'static [&'static str] {
    if def.path == ITEMS {
        ITEM_FILTER_FIELDS
    } else {
        ACCOUNT_FILTER_FIELDS
    }
}

/// Fields a `crm/Accounts` `$filter` must mention (the mandatory-filtering rule, §3.4).
pub(crate) const ACCOUNT_FILTER_FIELDS: &[&str] = &[
    "Accountant",
    "AccountManager",
    "AddressLine1",
    "Blocked",
    "ChamberOfCommerce",
    "City",
    "Code",
    "Country",
    "Created",
    "Email",
    "ID",
    "IsSupplier",
    "Modified",
    "Name",
    "Postcode",
    "SearchCode",
    "Status",
    "VATNumber",
];

/// `Created`, `Modified` and `Division` (entities whose reference page lists no creator/modifier).
fn with_dates(mut fields: Vec<Field>) -> Vec<Field> {
    fields.extend([
        fd("Created", Ty::Date, RO),
        fd("Modified", Ty::Date, RO),
        fd("Division", Ty::Int, RO),
    ]);
    fields
}

fn entry_lines(entry_key: &'static str) -> Vec<Field> {
    let mut fields = vec![
        fd("ID", Ty::Guid, RO),
        fd(entry_key, Ty::Guid, P),
        fd("LineNumber", Ty::Int, RO),
        fd("GLAccount", Ty::Guid, W | R),
        fd("GLAccountCode", Ty::Str, RO),
        fd("GLAccountDescription", Ty::Str, RO),
        fd("AmountFC", Ty::Dec, W | R),
        fd("AmountDC", Ty::Dec, RO),
        fd("VATCode", Ty::PadRight(3), W),
        fd("VATCodeDescription", Ty::Str, RO),
        fd("VATPercentage", Ty::Dec, W),
        fd("VATAmountFC", Ty::Dec, W),
        fd("VATAmountDC", Ty::Dec, RO),
        fd("VATBaseAmountFC", Ty::Dec, W),
        fd("VATBaseAmountDC", Ty::Dec, RO),
        fd("Description", Ty::Str, W),
        fd("Quantity", Ty::Dec, W),
        fd("CostCenter", Ty::Str, W),
        fd("CostUnit", Ty::Str, W),
        fd("Project", Ty::Guid, W),
        fd("Notes", Ty::Str, W),
        fd("From", Ty::Date, W),
        fd("To", Ty::Date, W),
        fd("Type", Ty::Int, RO),
    ];
    // The line pages list Division but no audit properties.
    fields.push(fd("Division", Ty::Int, RO));
    fields
}

fn entry_header(party: &'static str, party_name: &'static str, lines: &'static str) -> Vec<Field> {
    with_audit(vec![
        fd("EntryID", Ty::Guid, RO),
        fd("Journal", Ty::Str, P | R),
        fd("JournalDescription", Ty::Str, RO),
        fd(party, Ty::Guid, P | R),
        fd(party_name, Ty::Str, RO),
        fd(lines, Ty::Str, RO),
        fd("EntryDate", Ty::Date, W),
        fd("DueDate", Ty::Date, W),
        fd("EntryNumber", Ty::Int, P),
        fd("InvoiceNumber", Ty::Int, P),
        fd("YourRef", Ty::Str, W),
        fd("Description", Ty::Str, W),
        fd("Currency", Ty::Str, P),
        fd("Rate", Ty::Dec, P),
        fd("PaymentCondition", Ty::Str, W),
        fd("PaymentReference", Ty::Str, W),
        fd("ReportingPeriod", Ty::Int, W),
        fd("ReportingYear", Ty::Int, W),
        fd("VATAmountFC", Ty::Dec, P),
        fd("VATAmountDC", Ty::Dec, RO),
        fd("AmountFC", Ty::Dec, RO),
        fd("AmountDC", Ty::Dec, RO),
        fd("BatchNumber", Ty::Int, W),
        fd("OrderNumber", Ty::Int, W),
        fd("Document", Ty::Guid, W),
        fd("ExternalLinkReference", Ty::Str, W),
        fd("Reversal", Ty::Bool, P),
        fd("Status", Ty::Int, RO),
        fd("StatusDescription", Ty::Str, RO),
        fd("Type", Ty::Int, RO),
        fd("TypeDescription", Ty::Str, RO),
    ])
}

fn cashflow_fields() -> Vec<Field> {
    let v = vec![
        fd("ID", Ty::Guid, RO),
        fd("Account", Ty::Guid, RO),
        fd("AccountCode", Ty::PadLeft(18), RO),
        fd("AccountName", Ty::Str, RO),
        fd("AmountDC", Ty::Dec, RO),
        fd("AmountFC", Ty::Dec, RO),
        fd("AmountDiscountDC", Ty::Dec, RO),
        fd("AmountDiscountFC", Ty::Dec, RO),
        fd("Currency", Ty::Str, RO),
        fd("Description", Ty::Str, U),
        fd("DueDate", Ty::Date, RO),
        fd("EntryDate", Ty::Date, RO),
        fd("EntryID", Ty::Guid, RO),
        fd("EntryNumber", Ty::Int, RO),
        fd("GLAccount", Ty::Guid, RO),
        fd("GLAccountCode", Ty::Str, RO),
        fd("InvoiceDate", Ty::Date, RO),
        fd("InvoiceNumber", Ty::Int, RO),
        fd("Journal", Ty::Str, RO),
        fd("JournalDescription", Ty::Str, RO),
        fd("PaymentCondition", Ty::Str, RO),
        fd("PaymentMethod", Ty::Str, U),
        fd("PaymentReference", Ty::Str, U),
        fd("Status", Ty::Int, RO),
        fd("TransactionEntryID", Ty::Guid, RO),
        fd("TransactionID", Ty::Guid, RO),
        fd("TransactionAmountDC", Ty::Dec, RO),
        fd("TransactionAmountFC", Ty::Dec, RO),
        fd("TransactionDueDate", Ty::Date, RO),
        fd("TransactionIsReversal", Ty::Bool, RO),
        fd("TransactionReportingPeriod", Ty::Int, RO),
        fd("TransactionReportingYear", Ty::Int, RO),
        fd("YourRef", Ty::Str, RO),
    ];
    with_audit(v)
}

/// Receivables also carry whether they are fully paid and when they were last paid (the reference documents
/// these two on Receivables only).
fn receivable_fields() -> Vec<Field> {
    let mut v = cashflow_fields();
    v.push(fd("IsFullyPaid", Ty::Bool, RO));
    v.push(fd("LastPaymentDate", Ty::Date, RO));
    v
}

static SETS: LazyLock<Vec<SetDef>> = LazyLock::new(|| {
    let mut sets = hand_written_sets();
    for set in &mut sets {
        complete_from_reference(set);
    }
    sets
});

fn hand_written_sets() -> Vec<SetDef> {
    vec![
        Builder::new(
            ACCOUNTS,
            "Account",
            "ID",
            KeyKind::Guid,
            with_audit(vec![
                fd("ID", Ty::Guid, RO),
                fd("Code", Ty::PadLeft(18), W),
                fd("Name", Ty::Str, W | R),
                fd("SearchCode", Ty::Str, W),
                fd("Status", Ty::Str, W),
                fd("IsSupplier", Ty::Bool, W),
                fd("IsSales", Ty::Bool, RO),
                fd("IsPurchase", Ty::Bool, RO),
                fd("Blocked", Ty::Bool, W),
                fd("Type", Ty::Str, RO),
                fd("Email", Ty::Str, W),
                fd("Phone", Ty::Str, W),
                fd("Website", Ty::Str, W),
                fd("AddressLine1", Ty::Str, W),
                fd("AddressLine2", Ty::Str, W),
                fd("AddressLine3", Ty::Str, W),
                fd("Postcode", Ty::Str, W),
                fd("City", Ty::Str, W),
                fd("State", Ty::Str, W),
                fd("Country", Ty::PadRight(3), W),
                fd("VATNumber", Ty::Str, W),
                fd("ChamberOfCommerce", Ty::Str, W),
                fd("PaymentConditionSales", Ty::Str, W),
                fd("PaymentConditionPurchase", Ty::Str, W),
                fd("SalesVATCode", Ty::PadRight(3), W),
                fd("PurchaseVATCode", Ty::PadRight(3), W),
                fd("GLAR", Ty::Guid, W),
                fd("GLAP", Ty::Guid, W),
                fd("SalesCurrency", Ty::Str, W),
                fd("PurchaseCurrency", Ty::Str, W),
                fd("Language", Ty::Str, W),
                fd("Remarks", Ty::Str, W),
                fd("MainContact", Ty::Guid, W),
                fd("Parent", Ty::Guid, W),
                fd("Accountant", Ty::Guid, W),
                fd("AccountManager", Ty::Guid, W),
            ]),
        )
        .nav("BankAccounts", "crm/BankAccounts", "Account")
        .topic("Accounts")
        .deleted(2)
        .sync("CRM/Accounts")
        .bulk("CRM/Accounts")
        .mandatory_filter()
        .0,
        Builder::new(
            ADDRESSES,
            "Address",
            "ID",
            KeyKind::Guid,
            with_audit(vec![
                fd("ID", Ty::Guid, RO),
                fd("Account", Ty::Guid, W),
                fd("AccountName", Ty::Str, RO),
                fd("Contact", Ty::Guid, W),
                fd("Type", Ty::Int, W | R),
                fd("AddressLine1", Ty::Str, W),
                fd("AddressLine2", Ty::Str, W),
                fd("AddressLine3", Ty::Str, W),
                fd("Postcode", Ty::Str, W),
                fd("City", Ty::Str, W),
                fd("State", Ty::Str, W),
                fd("Country", Ty::PadRight(3), W),
                fd("Phone", Ty::Str, W),
                fd("Fax", Ty::Str, W),
                fd("Main", Ty::Bool, W),
                fd("Notes", Ty::Str, W),
                fd("Mailbox", Ty::Str, W),
            ]),
        )
        .deleted(3)
        .sync("CRM/Addresses")
        .0,
        Builder::new(
            CONTACTS,
            "Contact",
            "ID",
            KeyKind::Guid,
            with_audit(vec![
                fd("ID", Ty::Guid, RO),
                fd("Account", Ty::Guid, P | R),
                fd("AccountName", Ty::Str, RO),
                fd("AccountIsCustomer", Ty::Bool, RO),
                fd("AccountIsSupplier", Ty::Bool, RO),
                fd("FirstName", Ty::Str, W),
                fd("MiddleName", Ty::Str, W),
                fd("LastName", Ty::Str, W),
                fd("FullName", Ty::Str, RO),
                fd("Initials", Ty::Str, W),
                fd("Title", Ty::Str, W),
                fd("Gender", Ty::Str, W),
                fd("JobTitleDescription", Ty::Str, W),
                fd("Email", Ty::Str, W),
                fd("BusinessEmail", Ty::Str, W),
                fd("Phone", Ty::Str, W),
                fd("BusinessPhone", Ty::Str, W),
                fd("Mobile", Ty::Str, W),
                fd("BusinessMobile", Ty::Str, W),
                fd("Language", Ty::Str, W),
                fd("Notes", Ty::Str, W),
                fd("IsMainContact", Ty::Bool, RO),
                fd("IsMailingExcluded", Ty::Bool, W),
                fd("BirthDate", Ty::Date, W),
                fd("HID", Ty::Int, W),
            ]),
        )
        .topic("Contacts")
        .deleted(5)
        .sync("CRM/Contacts")
        .0,
        Builder::new(
            GL_ACCOUNTS,
            "GLAccount",
            "ID",
            KeyKind::Guid,
            with_audit(vec![
                fd("ID", Ty::Guid, RO),
                fd("Code", Ty::Str, W | R),
                fd("Description", Ty::Str, W | R),
                fd("Type", Ty::Int, W),
                fd("TypeDescription", Ty::Str, RO),
                fd("BalanceSide", Ty::Str, W),
                fd("BalanceType", Ty::Str, W),
                fd("VATCode", Ty::PadRight(3), W),
                fd("IsBlocked", Ty::Bool, W),
                fd("SearchCode", Ty::Str, W),
                fd("Costcenter", Ty::Str, W),
                fd("Costunit", Ty::Str, W),
            ]),
        )
        .topic("GLAccounts")
        .deleted(7)
        .sync("Financial/GLAccounts")
        .bulk("Financial/GLAccounts")
        .0,
        Builder::new(
            JOURNALS,
            "Journal",
            "ID",
            KeyKind::Guid,
            with_audit(vec![
                fd("ID", Ty::Guid, RO),
                fd("Code", Ty::Str, RO),
                fd("Description", Ty::Str, RO),
                fd("Type", Ty::Int, RO),
                fd("Currency", Ty::Str, RO),
                fd("GLAccount", Ty::Guid, RO),
            ]),
        )
        .methods(GET)
        .0,
        Builder::new(
            VAT_CODES,
            "VATCode",
            "ID",
            KeyKind::Guid,
            with_audit(vec![
                fd("ID", Ty::Guid, RO),
                fd("Code", Ty::PadRight(3), W | R),
                fd("Description", Ty::Str, W | R),
                fd("Percentage", Ty::Dec, RO),
                fd("Type", Ty::Str, W),
                fd("VATTransactionType", Ty::Str, W),
                fd("GLToPay", Ty::Guid, W),
                fd("GLToClaim", Ty::Guid, W),
                fd("Charged", Ty::Bool, W),
                fd("EUSalesListing", Ty::Str, W),
                fd("IsBlocked", Ty::Bool, W),
                fd("CalculationBasis", Ty::Int, W),
            ]),
        )
        .nav("VATPercentages", VAT_PERCENTAGES, "VATCodeID")
        .0,
        Builder::new(
            VAT_PERCENTAGES,
            "VATPercentage",
            "ID",
            KeyKind::Guid,
            with_audit(vec![
                fd("ID", Ty::Guid, RO),
                fd("VATCodeID", Ty::Guid, RO),
                fd("LineNumber", Ty::Int, RO),
                fd("Percentage", Ty::Dec, RO),
                fd("Type", Ty::Int, RO),
                fd("StartDate", Ty::Date, RO),
                fd("EndDate", Ty::Date, RO),
            ]),
        )
        .methods(GET)
        .0,
        Builder::new(
            CURRENCIES,
            "Currency",
            "Code",
            KeyKind::Str,
            vec![
                fd("Code", Ty::Str, RO),
                fd("Description", Ty::Str, RO),
                fd("AmountPrecision", Ty::Dec, RO),
                fd("PricePrecision", Ty::Dec, RO),
                fd("Created", Ty::Date, RO),
                fd("Modified", Ty::Date, RO),
            ],
        )
        .methods(GET)
        .0,
        Builder::new(
            SALES_ENTRIES,
            "SalesEntry",
            "EntryID",
            KeyKind::Guid,
            entry_header("Customer", "CustomerName", "SalesEntryLines"),
        )
        .nav("SalesEntryLines", SALES_ENTRY_LINES, "EntryID")
        .topic("SalesEntries")
        .deleted(1)
        .bulk("SalesEntry/SalesEntries")
        .0,
        Builder::new(
            SALES_ENTRY_LINES,
            "SalesEntryLine",
            "ID",
            KeyKind::Guid,
            entry_lines("EntryID"),
        )
        .methods(GET | POST | PUT | DELETE)
        .topic("SalesEntries")
        .bulk("SalesEntry/SalesEntryLines")
        .0,
        Builder::new(
            PURCHASE_ENTRIES,
            "PurchaseEntry",
            "EntryID",
            KeyKind::Guid,
            entry_header("Supplier", "SupplierName", "PurchaseEntryLines"),
        )
        .nav("PurchaseEntryLines", PURCHASE_ENTRY_LINES, "EntryID")
        .topic("PurchaseEntries")
        .deleted(1)
        .bulk("PurchaseEntry/PurchaseEntries")
        .0,
        Builder::new(
            PURCHASE_ENTRY_LINES,
            "PurchaseEntryLine",
            "ID",
            KeyKind::Guid,
            entry_lines("EntryID"),
        )
        .topic("PurchaseEntries")
        .0,
        Builder::new(
            GJ_ENTRIES,
            "GeneralJournalEntry",
            "EntryID",
            KeyKind::Guid,
            with_dates(vec![
                fd("EntryID", Ty::Guid, RO),
                fd("JournalCode", Ty::Str, P | R),
                fd("JournalDescription", Ty::Str, RO),
                fd("GeneralJournalEntryLines", Ty::Str, RO),
                fd("Currency", Ty::Str, P),
                fd("ExchangeRate", Ty::Dec, P),
                fd("EntryNumber", Ty::Int, P),
                fd("FinancialPeriod", Ty::Int, P),
                fd("FinancialYear", Ty::Int, P),
                fd("Reversal", Ty::Bool, P),
                fd("Status", Ty::Int, RO),
                fd("StatusDescription", Ty::Str, RO),
                fd("Type", Ty::Int, RO),
                fd("TypeDescription", Ty::Str, RO),
            ]),
        )
        .methods(GET | POST | DELETE)
        .nav("GeneralJournalEntryLines", GJ_ENTRY_LINES, "EntryID")
        .topic("GeneralJournalEntries")
        .deleted(1)
        .select_or_top1()
        .0,
        Builder::new(
            GJ_ENTRY_LINES,
            "GeneralJournalEntryLine",
            "ID",
            KeyKind::Guid,
            with_audit(vec![
                fd("ID", Ty::Guid, RO),
                fd("EntryID", Ty::Guid, P),
                fd("LineNumber", Ty::Int, RO),
                fd("GLAccount", Ty::Guid, P | R),
                fd("GLAccountCode", Ty::Str, RO),
                fd("AmountFC", Ty::Dec, P),
                fd("AmountDC", Ty::Dec, RO),
                fd("AmountVATFC", Ty::Dec, P),
                fd("VATCode", Ty::PadRight(3), P),
                fd("VATPercentage", Ty::Dec, P),
                fd("Account", Ty::Guid, P),
                fd("Date", Ty::Date, P),
                fd("Description", Ty::Str, P),
                fd("OurRef", Ty::Int, P),
                fd("Project", Ty::Guid, P),
                fd("CostCenter", Ty::Str, P),
                fd("CostUnit", Ty::Str, P),
                fd("Quantity", Ty::Dec, P),
                fd("Notes", Ty::Str, P),
            ]),
        )
        .methods(GET | POST)
        .topic("GeneralJournalEntries")
        .0,
        Builder::new(
            BANK_ENTRIES,
            "BankEntry",
            "EntryID",
            KeyKind::Guid,
            with_dates(vec![
                fd("EntryID", Ty::Guid, RO),
                fd("JournalCode", Ty::Str, P | R),
                fd("JournalDescription", Ty::Str, RO),
                fd("BankEntryLines", Ty::Str, RO),
                fd("Currency", Ty::Str, P),
                fd("EntryNumber", Ty::Int, P),
                fd("FinancialPeriod", Ty::Int, P),
                fd("FinancialYear", Ty::Int, P),
                fd("OpeningBalanceFC", Ty::Dec, P),
                fd("ClosingBalanceFC", Ty::Dec, P),
                fd("Status", Ty::Int, RO),
            ]),
        )
        .methods(GET | POST | DELETE)
        .nav("BankEntryLines", BANK_ENTRY_LINES, "EntryID")
        .topic("BankEntries")
        .deleted(1)
        .0,
        Builder::new(
            BANK_ENTRY_LINES,
            "BankEntryLine",
            "ID",
            KeyKind::Guid,
            with_audit(vec![
                fd("ID", Ty::Guid, RO),
                fd("EntryID", Ty::Guid, P),
                fd("LineNumber", Ty::Int, RO),
                fd("GLAccount", Ty::Guid, P | R),
                fd("AmountFC", Ty::Dec, P | R),
                fd("AmountDC", Ty::Dec, RO),
                fd("Account", Ty::Guid, P),
                fd("Date", Ty::Date, P),
                fd("Description", Ty::Str, P),
                fd("OurRef", Ty::Int, P),
            ]),
        )
        .methods(GET | POST)
        .topic("BankEntries")
        .0,
        // Booked lines of every journal, derived from the entries (header rows `LineNumber` 0 and the lines);
        // the rows are filled by `Store::transaction_lines`, every other documented property is null.
        Builder::new(
            TRANSACTION_LINES,
            "TransactionLine",
            "ID",
            KeyKind::Guid,
            vec![fd("ID", Ty::Guid, RO)],
        )
        .methods(GET)
        .0,
        Builder::new(
            SYNC_TRANSACTION_LINES,
            "TransactionLine",
            "Timestamp",
            KeyKind::Int64,
            vec![fd("Timestamp", Ty::Int64, RO)],
        )
        .methods(GET)
        .sync("Financial/TransactionLines")
        .not_regular()
        .0,
        Builder::new(
            SYNC_TIMESTAMP,
            "SyncTimestamp",
            "TimeStampAsBigInt",
            KeyKind::Int64,
            vec![],
        )
        .methods(GET)
        .not_regular()
        .0,
        Builder::new(
            ITEMS,
            "Item",
            "ID",
            KeyKind::Guid,
            with_audit(vec![
                fd("ID", Ty::Guid, RO),
                fd("Code", Ty::Str, W | R),
                fd("Description", Ty::Str, W | R),
                fd("IsSalesItem", Ty::Bool, W),
                fd("GLRevenue", Ty::Guid, W),
                fd("SalesVatCode", Ty::PadRight(3), W),
                fd("StandardSalesPrice", Ty::Dec, RO),
            ]),
        )
        .topic("Items")
        .deleted(9)
        .sync("Logistics/Items")
        .bulk("Logistics/Items")
        .mandatory_filter()
        .0,
        Builder::new(
            SALES_INVOICES,
            "SalesInvoice",
            "InvoiceID",
            KeyKind::Guid,
            with_audit(vec![
                fd("InvoiceID", Ty::Guid, RO),
                fd("Journal", Ty::Str, W | R),
                fd("OrderedBy", Ty::Guid, W | R),
                fd("InvoiceNumber", Ty::Int, RO),
                fd("InvoiceDate", Ty::Date, RO),
                fd("Status", Ty::Int, RO),
                fd("StatusDescription", Ty::Str, RO),
                fd("Type", Ty::Int, W),
                fd("TypeDescription", Ty::Str, RO),
                fd("Currency", Ty::Str, W),
            ]),
        )
        .nav("SalesInvoiceLines", SALES_INVOICE_LINES, "InvoiceID")
        .topic("SalesInvoices")
        .deleted(13)
        .sync("SalesInvoice/SalesInvoices")
        .0,
        Builder::new(
            SALES_INVOICE_LINES,
            "SalesInvoiceLine",
            "ID",
            KeyKind::Guid,
            vec![
                fd("ID", Ty::Guid, RO),
                fd("InvoiceID", Ty::Guid, W),
                fd("Item", Ty::Guid, W | R),
                fd("GLAccount", Ty::Guid, W),
                fd("LineNumber", Ty::Int, RO),
                fd("VATCode", Ty::PadRight(3), W),
                fd("Division", Ty::Int, RO),
            ],
        )
        .topic("SalesInvoices")
        .0,
        Builder::new(
            PRINTED_SALES_INVOICES,
            "PrintedSalesInvoice",
            "InvoiceID",
            KeyKind::Guid,
            vec![fd("InvoiceID", Ty::Guid, P | R), fd("Division", Ty::Int, P)],
        )
        .methods(POST)
        .0,
        Builder::new(
            RECEIVABLES,
            "Receivable",
            "ID",
            KeyKind::Guid,
            receivable_fields(),
        )
        .methods(GET | PUT)
        .bulk("Cashflow/Receivables")
        .0,
        Builder::new(PAYMENTS, "Payment", "ID", KeyKind::Guid, cashflow_fields())
            .methods(GET | PUT)
            .bulk("Cashflow/Payments")
            .0,
        Builder::new(
            PAYMENT_TERMS,
            "PaymentTerm",
            "ID",
            KeyKind::Guid,
            with_audit(vec![
                fd("ID", Ty::Guid, RO),
                fd("Account", Ty::Guid, RO),
                fd("AmountDC", Ty::Dec, RO),
                fd("AmountFC", Ty::Dec, RO),
                fd("Currency", Ty::Str, RO),
                fd("Description", Ty::Str, RO),
                fd("DueDate", Ty::Date, RO),
                fd("EntryDate", Ty::Date, RO),
                fd("EntryID", Ty::Guid, RO),
                fd("EntryNumber", Ty::Int, RO),
                fd("GLAccount", Ty::Guid, RO),
                fd("InvoiceDate", Ty::Date, RO),
                fd("InvoiceNumber", Ty::Int, RO),
                fd("Journal", Ty::Str, RO),
                fd("LineType", Ty::Int, RO),
                fd("PaymentCondition", Ty::Str, RO),
                fd("PaymentMethod", Ty::Str, RO),
                fd("PaymentReference", Ty::Str, RO),
                fd("Source", Ty::Int, RO),
                fd("Status", Ty::Int, RO),
                fd("TransactionEntryID", Ty::Guid, RO),
                fd("TransactionAmountDC", Ty::Dec, RO),
                fd("TransactionAmountFC", Ty::Dec, RO),
                fd("TransactionDueDate", Ty::Date, RO),
                fd("YourRef", Ty::Str, RO),
            ]),
        )
        .methods(GET)
        .sync("Cashflow/PaymentTerms")
        .deleted(10)
        .not_regular()
        .0,
        Builder::new(
            WEBHOOKS,
            "WebhookSubscription",
            "ID",
            KeyKind::Guid,
            vec![
                fd("ID", Ty::Guid, RO),
                fd("CallbackURL", Ty::Str, W | R),
                fd("Topic", Ty::Str, P | R),
                fd("ClientID", Ty::Guid, RO),
                fd("Description", Ty::Str, RO),
                fd("Division", Ty::Int, RO),
                fd("IsInstant", Ty::Bool, P),
                fd("UserID", Ty::Guid, RO),
                fd("Created", Ty::Date, RO),
                fd("Creator", Ty::Guid, RO),
                fd("CreatorFullName", Ty::Str, RO),
            ],
        )
        .0,
        Builder::new(
            DIVISIONS_SYSTEM,
            "Division",
            "Code",
            KeyKind::Int64,
            vec![
                fd("Code", Ty::Int, RO),
                fd("Description", Ty::Str, RO),
                fd("Hid", Ty::Int64, RO),
                fd("Currency", Ty::Str, RO),
                fd("Country", Ty::PadRight(3), RO),
                fd("Current", Ty::Bool, RO),
                fd("DivisionMoveDate", Ty::Date, RO),
                fd("Created", Ty::Date, RO),
            ],
        )
        .methods(GET)
        .0,
        Builder::new(
            DIVISIONS_HRM,
            "Division",
            "Code",
            KeyKind::Int64,
            vec![
                fd("Code", Ty::Int, RO),
                fd("Description", Ty::Str, RO),
                fd("HID", Ty::Int64, RO),
                fd("Currency", Ty::Str, RO),
                fd("Country", Ty::PadRight(3), RO),
                fd("Main", Ty::Bool, RO),
                fd("Created", Ty::Date, RO),
            ],
        )
        .methods(GET)
        .0,
        Builder::new(
            DELETED,
            "Deleted",
            "Timestamp",
            KeyKind::Int64,
            vec![
                fd("Timestamp", Ty::Int64, RO),
                fd("ID", Ty::Guid, RO),
                fd("EntityKey", Ty::Guid, RO),
                fd("EntityType", Ty::Int, RO),
                fd("DeletedBy", Ty::Guid, RO),
                fd("DeletedDate", Ty::Date, RO),
                fd("Division", Ty::Int, RO),
            ],
        )
        .methods(GET)
        .not_regular()
        .0,
        Builder::new(
            RECEIVABLES_LIST,
            "ReceivablesList",
            "HID",
            KeyKind::Int64,
            vec![
                fd("HID", Ty::Int64, RO),
                fd("AccountId", Ty::Guid, RO),
                fd("AccountCode", Ty::PadLeft(18), RO),
                fd("AccountName", Ty::Str, RO),
                fd("Amount", Ty::Dec, RO),
                fd("AmountInTransit", Ty::Dec, RO),
                fd("CurrencyCode", Ty::Str, RO),
                fd("Description", Ty::Str, RO),
                fd("DueDate", Ty::Date, RO),
                fd("EntryNumber", Ty::Int, RO),
                fd("Id", Ty::Guid, RO),
                fd("InvoiceDate", Ty::Date, RO),
                fd("InvoiceNumber", Ty::Int, RO),
                fd("JournalCode", Ty::Str, RO),
                fd("JournalDescription", Ty::Str, RO),
                fd("YourRef", Ty::Str, RO),
            ],
        )
        .methods(GET)
        .not_regular()
        .0,
        Builder::new(
            ME,
            "Me",
            "UserID",
            KeyKind::Guid,
            vec![
                fd("UserID", Ty::Guid, RO),
                fd("UserName", Ty::Str, RO),
                fd("FullName", Ty::Str, RO),
                fd("FirstName", Ty::Str, RO),
                fd("LastName", Ty::Str, RO),
                fd("Email", Ty::Str, RO),
                fd("CurrentDivision", Ty::Int, RO),
                fd("AccountingDivision", Ty::Int, RO),
                fd("DivisionCustomer", Ty::Guid, RO),
                fd("LanguageCode", Ty::Str, RO),
                fd("Legislation", Ty::Int64, RO),
                fd("ServerTime", Ty::Str, RO),
                fd("ServerUtcOffset", Ty::Dec, RO),
                fd("IsClientUser", Ty::Bool, RO),
                fd("IsStarterUser", Ty::Bool, RO),
            ],
        )
        .methods(GET)
        .not_regular()
        .0,
    ]
}

// ---------------------------------------------------------------------------------------------------------
// The documented property sets.

/// The checked-in property lists, one per entity, taken from Exact's REST API reference pages (see the header
/// of each file for the page and its date; `scripts/exact-reference-properties.py` regenerates them). They
/// complete the hand-written definitions above: every documented property the emulator does not model
/// specially is served with its documented type and writability, null where the demo has no value.
pub(crate) const REFERENCE: &[(&str, &str)] = &[
    (
        ACCOUNTS,
        include_str!("../../reference/exact/crm.Accounts.txt"),
    ),
    (
        ADDRESSES,
        include_str!("../../reference/exact/crm.Addresses.txt"),
    ),
    (
        CONTACTS,
        include_str!("../../reference/exact/crm.Contacts.txt"),
    ),
    (
        GL_ACCOUNTS,
        include_str!("../../reference/exact/financial.GLAccounts.txt"),
    ),
    (
        JOURNALS,
        include_str!("../../reference/exact/financial.Journals.txt"),
    ),
    (
        VAT_CODES,
        include_str!("../../reference/exact/vat.VATCodes.txt"),
    ),
    (
        VAT_PERCENTAGES,
        include_str!("../../reference/exact/vat.VATPercentages.txt"),
    ),
    (
        CURRENCIES,
        include_str!("../../reference/exact/general.Currencies.txt"),
    ),
    (
        SALES_ENTRIES,
        include_str!("../../reference/exact/salesentry.SalesEntries.txt"),
    ),
    (
        SALES_ENTRY_LINES,
        include_str!("../../reference/exact/salesentry.SalesEntryLines.txt"),
    ),
    (
        PURCHASE_ENTRIES,
        include_str!("../../reference/exact/purchaseentry.PurchaseEntries.txt"),
    ),
    (
        PURCHASE_ENTRY_LINES,
        include_str!("../../reference/exact/purchaseentry.PurchaseEntryLines.txt"),
    ),
    (
        GJ_ENTRIES,
        include_str!("../../reference/exact/generaljournalentry.GeneralJournalEntries.txt"),
    ),
    (
        GJ_ENTRY_LINES,
        include_str!("../../reference/exact/generaljournalentry.GeneralJournalEntryLines.txt"),
    ),
    (
        BANK_ENTRIES,
        include_str!("../../reference/exact/financialtransaction.BankEntries.txt"),
    ),
    (
        BANK_ENTRY_LINES,
        include_str!("../../reference/exact/financialtransaction.BankEntryLines.txt"),
    ),
    (
        ITEMS,
        include_str!("../../reference/exact/logistics.Items.txt"),
    ),
    (
        SALES_INVOICES,
        include_str!("../../reference/exact/salesinvoice.SalesInvoices.txt"),
    ),
    (
        SALES_INVOICE_LINES,
        include_str!("../../reference/exact/salesinvoice.SalesInvoiceLines.txt"),
    ),
    (
        PRINTED_SALES_INVOICES,
        include_str!("../../reference/exact/salesinvoice.PrintedSalesInvoices.txt"),
    ),
    (
        RECEIVABLES,
        include_str!("../../reference/exact/cashflow.Receivables.txt"),
    ),
    (
        PAYMENTS,
        include_str!("../../reference/exact/cashflow.Payments.txt"),
    ),
    (
        PAYMENT_TERMS,
        include_str!("../../reference/exact/cashflow.PaymentTerms.txt"),
    ),
    (
        WEBHOOKS,
        include_str!("../../reference/exact/webhooks.WebhookSubscriptions.txt"),
    ),
    (
        DIVISIONS_SYSTEM,
        include_str!("../../reference/exact/system.Divisions.txt"),
    ),
    (
        DIVISIONS_HRM,
        include_str!("../../reference/exact/hrm.Divisions.txt"),
    ),
    (
        DELETED,
        include_str!("../../reference/exact/sync.Deleted.txt"),
    ),
    (
        RECEIVABLES_LIST,
        include_str!("../../reference/exact/read.financial.ReceivablesList.txt"),
    ),
    (ME, include_str!("../../reference/exact/current.Me.txt")),
    (
        TRANSACTION_LINES,
        include_str!("../../reference/exact/financialtransaction.TransactionLines.txt"),
    ),
    (
        SYNC_TRANSACTION_LINES,
        include_str!("../../reference/exact/sync.Financial.TransactionLines.txt"),
    ),
    (
        SYNC_TIMESTAMP,
        include_str!("../../reference/exact/read.sync.Sync.SyncTimestamp.txt"),
    ),
];

/// One documented property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RefProp {
    pub name: &'static str,
    /// `Edm.String`, `Edm.Guid`, … or `Collection(Entity)` for a navigation property.
    pub edm: &'static str,
    pub get: bool,
    pub post: bool,
    pub put: bool,
    pub required: bool,
}

impl RefProp {
    pub fn collection(&self) -> Option<&'static str> {
        self.edm
            .strip_prefix("Collection(")
            .and_then(|s| s.strip_suffix(')'))
    }
}

/// The documented properties of the set at `path` (empty when the reference has no page for it).
pub(crate) fn reference_props(path: &str) -> Vec<RefProp> {
    let Some((_, text)) = REFERENCE.iter().find(|(p, _)| *p == path) else {
        return Vec::new();
    };
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut parts = l.split('\t');
            let name = parts.next()?;
            let edm = parts.next()?;
            let methods = parts.next()?;
            let flags = parts.next().unwrap_or("-");
            Some(RefProp {
                name,
                edm,
                get: methods.contains('G'),
                post: methods.contains('P'),
                put: methods.contains('U'),
                required: flags.split(',').any(|f| f == "required"),
            })
        })
        .collect()
}

/// The header lines of a reference file (`# reference page: …`, `# as of …`).
#[cfg(test)]
pub(crate) fn reference_source(path: &str) -> Vec<&'static str> {
    REFERENCE
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, text)| {
            text.lines()
                .filter(|l| l.starts_with('#'))
                .map(|l| l.trim_start_matches('#').trim())
                .collect()
        })
        .unwrap_or_default()
}

/// The emulator's wire type of an Edm type.
pub(crate) fn ty_of_edm(edm: &str) -> Ty {
    match edm {
        "Edm.Guid" => Ty::Guid,
        "Edm.Int16" | "Edm.Int32" | "Edm.Byte" | "Edm.SByte" => Ty::Int,
        "Edm.Int64" => Ty::Int64,
        "Edm.Double" | "Edm.Decimal" | "Edm.Single" => Ty::Dec,
        "Edm.Boolean" => Ty::Bool,
        "Edm.DateTime" | "Edm.DateTimeOffset" => Ty::Date,
        _ => Ty::Str,
    }
}

/// The Edm type the emulator declares for a property of wire type `ty`.
pub(crate) fn edm_of_ty(ty: Ty) -> &'static str {
    match ty {
        Ty::Guid => "Edm.Guid",
        Ty::Str | Ty::PadLeft(_) | Ty::PadRight(_) => "Edm.String",
        Ty::Int => "Edm.Int32",
        Ty::Int64 => "Edm.Int64",
        Ty::Dec => "Edm.Double",
        Ty::Bool => "Edm.Boolean",
        Ty::Date => "Edm.DateTime",
    }
}

/// Adds every documented property the hand-written definition lacks, and every documented navigation
/// property as a deferred/expandable link.
fn complete_from_reference(set: &mut SetDef) {
    for p in reference_props(set.path) {
        if let Some(target) = p.collection() {
            if set.nav(p.name).is_none() {
                // A navigation the emulator keeps no rows for yet: deferred, and `{"results": []}` expanded.
                set.navs.push(Nav {
                    name: p.name,
                    child: child_path_of(target),
                    fk: set.key,
                });
            }
            continue;
        }
        if set.field(p.name).is_some() {
            continue;
        }
        let mut flags = RO;
        if p.post {
            flags |= P;
        }
        if p.put {
            flags |= U;
        }
        set.fields.push(fd(p.name, ty_of_edm(p.edm), flags));
    }
}

/// The set path of a navigation target named in the reference (`BankAccounts` → `crm/BankAccounts`).
fn child_path_of(target: &'static str) -> &'static str {
    match target {
        "BankAccounts" => "crm/BankAccounts",
        "DeductibilityPercentages" => "financial/DeductibilityPercentages",
        "VATPercentages" => VAT_PERCENTAGES,
        "SalesEntryLines" => SALES_ENTRY_LINES,
        "SalesInvoiceLines" => SALES_INVOICE_LINES,
        "PurchaseEntryLines" => PURCHASE_ENTRY_LINES,
        "GeneralJournalEntryLines" => GJ_ENTRY_LINES,
        "BankEntryLines" => BANK_ENTRY_LINES,
        other => other,
    }
}

/// Every set, in a fixed order.
pub(crate) fn sets() -> &'static [SetDef] {
    &SETS
}

/// The set at a canonical path (exact match).
pub(crate) fn set(path: &str) -> Option<&'static SetDef> {
    SETS.iter().find(|s| s.path == path)
}

/// A regular endpoint by `service` and `Entity`. Both are matched case-insensitively: Exact's own documents mix
/// `crm/Accounts` and `CRM/Accounts`, and IIS routing ignores case.
pub(crate) fn regular(service: &str, entity: &str) -> Option<&'static SetDef> {
    SETS.iter()
        .find(|s| s.regular && matches_service_entity(s.path, service, entity))
}

/// A `sync/{Service}/{Entity}` endpoint.
pub(crate) fn sync(service: &str, entity: &str) -> Option<&'static SetDef> {
    SETS.iter().find(|s| {
        s.sync
            .is_some_and(|p| matches_service_entity(p, service, entity))
    })
}

/// A `bulk/{Service}/{Entity}` endpoint.
pub(crate) fn bulk(service: &str, entity: &str) -> Option<&'static SetDef> {
    SETS.iter().find(|s| {
        s.bulk
            .is_some_and(|p| matches_service_entity(p, service, entity))
    })
}

fn matches_service_entity(path: &str, service: &str, entity: &str) -> bool {
    let mut it = path.split('/');
    matches!((it.next(), it.next()), (Some(s), Some(e)) if s.eq_ignore_ascii_case(service) && e.eq_ignore_ascii_case(entity))
}

// ---------------------------------------------------------------------------------------------------------
// Values on the wire.

/// `/Date(ms)/` for an instant, with Exact's CET semantics: the Dutch wall-clock time (CET/CEST) written as if
/// it were UTC (reference §1.7; `ledgerlink_domain::cet`).
pub(crate) fn date_value(at: DateTime<Utc>) -> Value {
    Value::String(format!("/Date({})/", cet::exact_ms(at)))
}

/// The `/Date(ms)/` milliseconds of Dutch local midnight on the day it is at `at` (the default of date fields).
pub(crate) fn today_ms(at: DateTime<Utc>) -> i64 {
    cet::date_at(at)
        .and_hms_opt(0, 0, 0)
        .map(|d| d.and_utc().timestamp_millis())
        .unwrap_or_default()
}

/// The Dutch calendar date of a `/Date(ms)/` value.
pub(crate) fn ms_to_date(ms: i64) -> Option<NaiveDate> {
    DateTime::from_timestamp_millis(ms).map(|d| d.date_naive())
}

/// Milliseconds in a `/Date(ms)/` string.
pub(crate) fn parse_date_ms(s: &str) -> Option<i64> {
    let inner = s.strip_prefix("/Date(")?.strip_suffix(")/")?;
    // `/Date(1234+0100)/` also occurs in the wild; the offset is informational.
    let digits_end = inner
        .char_indices()
        .skip(1)
        .find(|(_, c)| *c == '+' || *c == '-')
        .map_or(inner.len(), |(i, _)| i);
    inner[..digits_end].parse().ok()
}

/// Parses the date forms clients send into `/Date(ms)/` milliseconds (CET semantics): `/Date(ms)/` as is;
/// a time with a zone (RFC 3339, `…Z`) is an instant, converted to the Dutch wall clock; a time without a zone
/// (`YYYY-MM-DDTHH:MM[:SS[.fff]]`, `YYYY-MM-DD`) is already Dutch local time.
pub(crate) fn parse_any_date(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Some(ms) = parse_date_ms(s) {
        return Some(ms);
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(cet::exact_ms(d.with_timezone(&Utc)));
    }
    if let Some(naive) = s.strip_suffix('Z')
        && let Ok(d) = NaiveDateTime::parse_from_str(naive, "%Y-%m-%dT%H:%M")
    {
        return Some(cet::exact_ms(d.and_utc()));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(d.and_utc().timestamp_millis());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc().timestamp_millis())
}

/// A decimal as a JSON number (Edm.Double on the wire). The conversion goes through text, never through
/// float arithmetic.
pub(crate) fn dec_value(d: Decimal) -> Value {
    Number::from_str(&d.normalize().to_string())
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// A JSON number or numeric string as a decimal.
pub(crate) fn value_dec(v: &Value) -> Option<Decimal> {
    match v {
        Value::Number(n) => {
            let s = n.to_string();
            Decimal::from_str(&s)
                .ok()
                .or_else(|| Decimal::from_scientific(&s).ok())
        }
        Value::String(s) => Decimal::from_str(s.trim()).ok(),
        _ => None,
    }
}

pub(crate) fn value_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            value_dec(v)
                .filter(|d| d.fract().is_zero())
                .and_then(|d| d.to_string().parse().ok())
        }),
        Value::String(s) => s.trim().trim_end_matches(['L', 'l']).parse().ok(),
        _ => None,
    }
}

pub(crate) fn pad_left(s: &str, n: usize) -> String {
    format!("{:>n$}", s.trim())
}

pub(crate) fn pad_right(s: &str, n: usize) -> String {
    format!("{:<n$}", s.trim())
}

/// Converts a client-sent value into the stored wire form of `ty`; `Err` names what was wrong.
pub(crate) fn coerce(ty: Ty, v: &Value) -> Result<Value, &'static str> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    match ty {
        Ty::Guid => match v {
            Value::String(s) if s.trim().is_empty() => Ok(Value::Null),
            Value::String(s) => {
                let t = s.trim().trim_start_matches('{').trim_end_matches('}');
                uuid::Uuid::parse_str(t)
                    .map(|u| Value::String(u.to_string()))
                    .map_err(|_| "Edm.Guid")
            }
            _ => Err("Edm.Guid"),
        },
        Ty::Str => match v {
            Value::String(s) => Ok(Value::String(s.clone())),
            Value::Number(n) => Ok(Value::String(n.to_string())),
            Value::Bool(b) => Ok(Value::String(b.to_string())),
            _ => Err("Edm.String"),
        },
        Ty::PadLeft(n) | Ty::PadRight(n) => {
            let s = match v {
                Value::String(s) => s.clone(),
                Value::Number(x) => x.to_string(),
                _ => return Err("Edm.String"),
            };
            if s.trim().is_empty() {
                return Ok(Value::Null);
            }
            Ok(Value::String(if matches!(ty, Ty::PadLeft(_)) {
                pad_left(&s, n)
            } else {
                pad_right(&s, n)
            }))
        }
        Ty::Int | Ty::Int64 => value_i64(v)
            .map(|i| Value::Number(i.into()))
            .ok_or("Edm.Int32"),
        Ty::Dec => value_dec(v).map(dec_value).ok_or("Edm.Double"),
        Ty::Bool => match v {
            Value::Bool(b) => Ok(Value::Bool(*b)),
            Value::Number(n) => Ok(Value::Bool(n.as_i64().unwrap_or(0) != 0)),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            _ => Err("Edm.Boolean"),
        },
        Ty::Date => match v {
            Value::String(s) => parse_any_date(s)
                .map(|ms| Value::String(format!("/Date({ms})/")))
                .ok_or("Edm.DateTime"),
            _ => Err("Edm.DateTime"),
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn account_codes_are_right_aligned_in_eighteen_characters_and_vat_codes_left_aligned_in_three()
    {
        assert_eq!(
            coerce(Ty::PadLeft(18), &json!("8")).unwrap(),
            json!("                 8")
        );
        assert_eq!(coerce(Ty::PadRight(3), &json!("2")).unwrap(), json!("2  "));
        assert_eq!(coerce(Ty::PadRight(3), &json!("NL")).unwrap(), json!("NL "));
    }

    #[test]
    fn dates_are_accepted_in_every_client_form_and_stored_as_epoch_milliseconds() {
        // Dutch local midnight, 13 May 2024.
        let want = json!("/Date(1715558400000)/");
        for input in [
            "2024-05-12T22:00:00Z",
            "2024-05-13T00:00:00+02:00",
            "2024-05-13T00:00:00",
            "2024-05-13T00:00",
            "2024-05-13",
            "/Date(1715558400000)/",
        ] {
            assert_eq!(coerce(Ty::Date, &json!(input)).unwrap(), want, "{input}");
        }
        assert!(coerce(Ty::Date, &json!("yesterday")).is_err());
    }

    #[test]
    fn instants_are_written_on_the_dutch_clock_across_month_ends_and_clock_changes() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let wall = |s: &str| {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
                .unwrap()
                .and_utc()
                .timestamp_millis()
        };
        for (instant, dutch) in [
            ("2024-05-31T22:30:00Z", "2024-06-01T00:30:00"),
            ("2024-01-31T23:30:00Z", "2024-02-01T00:30:00"),
            ("2024-03-31T00:59:00Z", "2024-03-31T01:59:00"),
            ("2024-03-31T01:00:00Z", "2024-03-31T03:00:00"),
            ("2024-10-27T00:59:00Z", "2024-10-27T02:59:00"),
            ("2024-10-27T01:00:00Z", "2024-10-27T02:00:00"),
        ] {
            assert_eq!(
                date_value(at(instant)),
                json!(format!("/Date({})/", wall(dutch))),
                "{instant}"
            );
            assert_eq!(parse_any_date(instant), Some(wall(dutch)), "{instant}");
        }
        assert_eq!(
            ms_to_date(today_ms(at("2024-05-31T22:30:00Z"))),
            NaiveDate::from_ymd_opt(2024, 6, 1)
        );
    }

    #[test]
    fn amounts_sent_as_strings_or_numbers_become_numbers() {
        assert_eq!(coerce(Ty::Dec, &json!("100.00")).unwrap(), json!(100));
        assert_eq!(coerce(Ty::Dec, &json!(12.5)).unwrap(), json!(12.5));
        assert!(coerce(Ty::Dec, &json!("abc")).is_err());
    }

    #[test]
    fn every_property_the_emulator_serves_is_documented_and_every_documented_one_is_served() {
        let mut problems = Vec::new();
        for (path, _) in REFERENCE {
            let def = set(path).unwrap();
            let documented = reference_props(path);
            assert!(!documented.is_empty(), "{path}: empty reference list");
            assert!(
                reference_source(path)
                    .iter()
                    .any(|l| l.starts_with("as of ")),
                "{path}: the reference file names its date"
            );
            for f in &def.fields {
                match documented.iter().find(|p| p.name == f.name) {
                    None => problems.push(format!("{path}: {} is not documented", f.name)),
                    Some(p)
                        if p.collection().is_none()
                            && ty_of_edm(p.edm) != f.ty
                            && !matches!(f.ty, Ty::PadLeft(_) | Ty::PadRight(_)) =>
                    {
                        problems.push(format!(
                            "{path}: {} is {:?}, documented {}",
                            f.name, f.ty, p.edm
                        ))
                    }
                    _ => {}
                }
            }
            for p in &documented {
                let served = if p.collection().is_some() {
                    def.nav(p.name).is_some()
                } else {
                    def.field(p.name).is_some()
                };
                if !served {
                    problems.push(format!("{path}: documented {} is not served", p.name));
                }
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn service_and_entity_segments_are_matched_case_insensitively() {
        assert_eq!(regular("CRM", "Accounts").map(|s| s.path), Some(ACCOUNTS));
        assert_eq!(regular("crm", "accounts").map(|s| s.path), Some(ACCOUNTS));
        assert!(regular("crm", "Acounts").is_none());
        assert_eq!(sync("crm", "Accounts").map(|s| s.path), Some(ACCOUNTS));
        assert_eq!(
            sync("Cashflow", "PaymentTerms").map(|s| s.path),
            Some(PAYMENT_TERMS)
        );
        assert!(regular("cashflow", "PaymentTerms").is_none());
    }
}
