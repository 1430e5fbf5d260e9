//! Import templates: the exact columns of each import, the rules every cell is checked against, and the
//! downloadable files (XLSX with an "Instructions" sheet and a "Data" sheet, or CSV with the header row).

use bytes::Bytes;
use ledgerlink_ports::LookupTable;
use serde::{Deserialize, Serialize};

use crate::{JobError, JobResult};

/// Name of the sheet an XLSX import reads.
pub const DATA_SHEET: &str = "Data";
/// Name of the sheet that explains the template.
pub const INSTRUCTIONS_SHEET: &str = "Instructions";
/// Lookup keys of imported locations start with this (they share the firms table with their clients).
pub const LOCATION_KEY_PREFIX: &str = "location/";

/// The file format of an import (and of its template).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImportFormat {
    Csv,
    Xlsx,
}

impl ImportFormat {
    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Xlsx => "xlsx",
        }
    }
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv",
            Self::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

/// What an import brings in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ImportTemplate {
    /// Customers, clients (attached to a customer by its Accounting Reference) and suppliers.
    Firms,
    /// Employees and contacts, optionally attached to a firm.
    Contacts,
    /// Service locations (addresses), attached to a client by its Accounting Reference.
    Locations,
    /// The rows of one lookup table.
    Lookup(LookupTable),
}

impl ImportTemplate {
    /// `firms`, `contacts`, `locations`, `lookup-<table>` (e.g. `lookup-tax-codes`).
    pub fn name(self) -> String {
        match self {
            Self::Firms => "firms".into(),
            Self::Contacts => "contacts".into(),
            Self::Locations => "locations".into(),
            Self::Lookup(t) => format!("lookup-{}", t.as_str()),
        }
    }

    pub fn parse(name: &str) -> JobResult<Self> {
        let all = [Self::Firms, Self::Contacts, Self::Locations]
            .into_iter()
            .chain(LookupTable::ALL.iter().map(|t| Self::Lookup(*t)));
        for template in all {
            if template.name() == name {
                return Ok(template);
            }
        }
        Err(JobError::invalid(
            "template",
            format!("unknown import template {name:?}"),
        ))
    }

    /// The title users see ("Firms import initiated on ...").
    pub fn title(self) -> String {
        match self {
            Self::Firms => "Firms".into(),
            Self::Contacts => "Employees and contacts".into(),
            Self::Locations => "Locations".into(),
            Self::Lookup(t) => format!("Lookup table {}", t.as_str()),
        }
    }

    /// The lookup table the rows are written to.
    pub fn table(self) -> LookupTable {
        match self {
            Self::Firms | Self::Locations => LookupTable::Firms,
            Self::Contacts => LookupTable::Employees,
            Self::Lookup(t) => t,
        }
    }

    /// The lookup key of a row whose key cell is `reference`.
    pub fn key_of(self, reference: &str) -> String {
        match self {
            Self::Locations => format!("{LOCATION_KEY_PREFIX}{reference}"),
            _ => reference.to_owned(),
        }
    }

    /// The columns, in file order; the first is the row's unique reference.
    pub fn columns(self) -> &'static [ColumnSpec] {
        match self {
            Self::Firms => FIRMS,
            Self::Contacts => CONTACTS,
            Self::Locations => LOCATIONS,
            Self::Lookup(LookupTable::TaxCodes) => TAX_CODES,
            Self::Lookup(LookupTable::CombinedTaxCodes) => COMBINED_TAX_CODES,
            Self::Lookup(LookupTable::BankCodes) => BANK_CODES,
            Self::Lookup(LookupTable::GlAccounts) => GL_ACCOUNTS,
            Self::Lookup(LookupTable::Currencies) => CURRENCIES,
            Self::Lookup(LookupTable::PaymentTerms) => PAYMENT_TERMS,
            Self::Lookup(LookupTable::JournalCodes) => JOURNAL_CODES,
            Self::Lookup(LookupTable::Firms) => FIRM_LINKS,
            Self::Lookup(LookupTable::Employees) => EMPLOYEE_LINKS,
        }
    }

    pub fn headers(self) -> Vec<&'static str> {
        self.columns().iter().map(|c| c.header).collect()
    }

    /// The downloadable template file.
    pub fn file(self, format: ImportFormat) -> JobResult<Bytes> {
        match format {
            ImportFormat::Csv => {
                let mut writer = csv::Writer::from_writer(Vec::new());
                writer
                    .write_record(self.headers())
                    .map_err(|e| JobError::file("CSV template writing failed", e))?;
                let bytes = writer
                    .into_inner()
                    .map_err(|e| JobError::file("CSV template writing failed", e.into_error()))?;
                Ok(Bytes::from(bytes))
            }
            ImportFormat::Xlsx => self.xlsx(),
        }
    }

    fn xlsx(self) -> JobResult<Bytes> {
        let xlsx =
            |e: rust_xlsxwriter::XlsxError| JobError::file("XLSX template writing failed", e);
        let mut workbook = rust_xlsxwriter::Workbook::new();
        let bold = rust_xlsxwriter::Format::new().set_bold();
        let help = workbook.add_worksheet();
        help.set_name(INSTRUCTIONS_SHEET).map_err(xlsx)?;
        help.set_column_width(0, 32).map_err(xlsx)?;
        help.set_column_width(1, 100).map_err(xlsx)?;
        let intro = [
            format!("{} import template", self.title()),
            "Fill in the Data sheet, one record per row, starting on row 2.".to_owned(),
            "Do not rename, move, add or remove columns, and do not format the sheet: a file whose headers \
             differ from this template is refused as a whole."
                .to_owned(),
            "Every row is checked before anything is written; by default one error means nothing is imported."
                .to_owned(),
            "Accounting References must be unique: in this file and against what Ledgerlink already holds."
                .to_owned(),
        ];
        let mut row = 0u32;
        for line in &intro {
            help.write_string(row, 0, line).map_err(xlsx)?;
            row += 1;
        }
        row += 1;
        help.write_string_with_format(row, 0, "Column", &bold)
            .map_err(xlsx)?;
        help.write_string_with_format(row, 1, "Rules", &bold)
            .map_err(xlsx)?;
        for column in self.columns() {
            row += 1;
            help.write_string(row, 0, column.header).map_err(xlsx)?;
            help.write_string(row, 1, column.describe()).map_err(xlsx)?;
        }
        let data = workbook.add_worksheet();
        data.set_name(DATA_SHEET).map_err(xlsx)?;
        for (col, column) in self.columns().iter().enumerate() {
            let col = u16::try_from(col)
                .map_err(|_| JobError::invalid("template", "too many columns"))?;
            data.write_string_with_format(0, col, column.header, &bold)
                .map_err(xlsx)?;
            data.set_column_width(col, 24).map_err(xlsx)?;
        }
        let bytes = workbook.save_to_buffer().map_err(xlsx)?;
        Ok(Bytes::from(bytes))
    }
}

impl From<ImportTemplate> for String {
    fn from(t: ImportTemplate) -> Self {
        t.name()
    }
}

impl TryFrom<String> for ImportTemplate {
    type Error = JobError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

/// What a cell must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellKind {
    Text,
    Integer {
        min: i64,
        max: i64,
    },
    Decimal,
    Email,
    /// One of these words (any case); stored as written here.
    OneOf(&'static [&'static str]),
    /// Two-letter ISO country code.
    Country,
    /// Three-letter ISO currency code.
    Currency,
}

/// One column of a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnSpec {
    /// The exact header.
    pub header: &'static str,
    /// The lookup column the value is written to (unused for the first, key column).
    pub field: &'static str,
    pub required: bool,
    /// Longest value, in characters.
    pub max_len: usize,
    pub kind: CellKind,
    /// Extra rule in words (shown on the Instructions sheet).
    pub note: &'static str,
}

impl ColumnSpec {
    pub fn describe(&self) -> String {
        let mut parts = vec![
            if self.required {
                "Required."
            } else {
                "Optional."
            }
            .to_owned(),
        ];
        parts.push(format!("At most {} characters.", self.max_len));
        match self.kind {
            CellKind::Text => {}
            CellKind::Integer { min, max } => {
                parts.push(format!("A whole number from {min} to {max}."))
            }
            CellKind::Decimal => parts.push("A number, with '.' as the decimal separator.".into()),
            CellKind::Email => parts.push("An e-mail address.".into()),
            CellKind::OneOf(words) => parts.push(format!("One of: {}.", words.join(", "))),
            CellKind::Country => parts.push("A two-letter country code (NL, US, ...).".into()),
            CellKind::Currency => {
                parts.push("A three-letter currency code (EUR, USD, ...).".into())
            }
        }
        if !self.note.is_empty() {
            parts.push(self.note.to_owned());
        }
        parts.join(" ")
    }
}

const fn col(
    header: &'static str,
    field: &'static str,
    required: bool,
    max_len: usize,
    kind: CellKind,
    note: &'static str,
) -> ColumnSpec {
    ColumnSpec {
        header,
        field,
        required,
        max_len,
        kind,
        note,
    }
}

pub const FIRM_TYPES: &[&str] = &["Customer", "Client", "Supplier"];

const FIRMS: &[ColumnSpec] = &[
    col(
        "Accounting Reference",
        "key",
        true,
        20,
        CellKind::Text,
        "The firm's ClientID; unique in the file and in Ledgerlink.",
    ),
    col("Name", "name", true, 100, CellKind::Text, ""),
    col("Type", "type", true, 10, CellKind::OneOf(FIRM_TYPES), ""),
    col(
        "Parent Accounting Reference",
        "parent",
        false,
        20,
        CellKind::Text,
        "Required for a Client: the Accounting Reference of its Customer (in this file or already in Ledgerlink). Only clients have one.",
    ),
    col(
        "Search Code",
        "search_code",
        false,
        18,
        CellKind::Text,
        "Exact Online's search code.",
    ),
    col("VAT Number", "vat_number", false, 30, CellKind::Text, ""),
    col("Email", "email", false, 100, CellKind::Email, ""),
    col("Currency", "currency", false, 3, CellKind::Currency, ""),
    col(
        "Payment Days",
        "payment_days",
        false,
        3,
        CellKind::Integer { min: 0, max: 365 },
        "",
    ),
];

const CONTACTS: &[ColumnSpec] = &[
    col(
        "Employee ID",
        "key",
        true,
        20,
        CellKind::Text,
        "Unique in the file and in Ledgerlink.",
    ),
    col("First Name", "first_name", false, 50, CellKind::Text, ""),
    col("Last Name", "last_name", true, 50, CellKind::Text, ""),
    col("Email", "email", false, 100, CellKind::Email, ""),
    col(
        "Firm Accounting Reference",
        "firm",
        false,
        20,
        CellKind::Text,
        "The firm the contact belongs to; it must already be in Ledgerlink.",
    ),
    col(
        "Search Code",
        "search_code",
        false,
        18,
        CellKind::Text,
        "Exact Online's search code.",
    ),
];

const LOCATIONS: &[ColumnSpec] = &[
    col(
        "Location Reference",
        "key",
        true,
        20,
        CellKind::Text,
        "Unique in the file and in Ledgerlink.",
    ),
    col(
        "Client Accounting Reference",
        "client",
        true,
        20,
        CellKind::Text,
        "The client the location belongs to; it must already be in Ledgerlink (import firms first).",
    ),
    col(
        "Address Line 1",
        "address_line_1",
        true,
        100,
        CellKind::Text,
        "",
    ),
    col(
        "Address Line 2",
        "address_line_2",
        false,
        100,
        CellKind::Text,
        "",
    ),
    col("City", "city", true, 50, CellKind::Text, ""),
    col("Postcode", "postcode", false, 12, CellKind::Text, ""),
    col("Country", "country", false, 2, CellKind::Country, ""),
];

const TAX_CODES: &[ColumnSpec] = &[
    col(
        "Key",
        "key",
        true,
        10,
        CellKind::Text,
        "The Exact Online VAT code.",
    ),
    col(
        "vp_code",
        "vp_code",
        true,
        20,
        CellKind::Text,
        "The Vantagepoint tax code.",
    ),
    col(
        "rate",
        "rate",
        false,
        12,
        CellKind::Decimal,
        "The rate in percent.",
    ),
    col(
        "compound_on",
        "compound_on",
        false,
        20,
        CellKind::Text,
        "Vantagepoint's CompoundOnTaxCode is read from Vantagepoint itself; a code here marks the tax as compound too (compound taxes are refused).",
    ),
];

const COMBINED_TAX_CODES: &[ColumnSpec] = &[
    col(
        "Key",
        "key",
        true,
        60,
        CellKind::Text,
        "The Vantagepoint tax codes charged together on one line, joined by '+' (e.g. V21+ECO; any order).",
    ),
    col(
        "exact_code",
        "exact_code",
        true,
        3,
        CellKind::Text,
        "The Exact Online VAT code that books the combination (its rate is the sum of the codes' rates).",
    ),
    col("description", "description", false, 100, CellKind::Text, ""),
];

const BANK_CODES: &[ColumnSpec] = &[
    col(
        "Key",
        "key",
        true,
        20,
        CellKind::Text,
        "The Exact Online journal of the bank.",
    ),
    col("vp_bank_code", "vp_bank_code", true, 20, CellKind::Text, ""),
    col(
        "currency",
        "currency",
        false,
        3,
        CellKind::Currency,
        "The currency of the Vantagepoint bank: payments are recorded in it.",
    ),
    col(
        "exact_name",
        "exact_name",
        false,
        100,
        CellKind::Text,
        "The name of the bank journal in Exact Online (bank names must match in both systems).",
    ),
    col(
        "vp_name",
        "vp_name",
        false,
        100,
        CellKind::Text,
        "The name of the bank in Vantagepoint.",
    ),
];

const GL_ACCOUNTS: &[ColumnSpec] = &[
    col(
        "Key",
        "key",
        true,
        20,
        CellKind::Text,
        "The GL account number.",
    ),
    col("exact_id", "exact_id", false, 36, CellKind::Text, ""),
    col("description", "description", false, 100, CellKind::Text, ""),
];

const CURRENCIES: &[ColumnSpec] = &[
    col("Key", "key", true, 3, CellKind::Currency, ""),
    col("description", "description", false, 100, CellKind::Text, ""),
];

const PAYMENT_TERMS: &[ColumnSpec] = &[
    col("Key", "key", true, 20, CellKind::Text, ""),
    col("description", "description", false, 100, CellKind::Text, ""),
    col(
        "days",
        "days",
        false,
        3,
        CellKind::Integer { min: 0, max: 365 },
        "",
    ),
];

const JOURNAL_CODES: &[ColumnSpec] = &[
    col("Key", "key", true, 20, CellKind::Text, ""),
    col("description", "description", false, 100, CellKind::Text, ""),
];

const FIRM_LINKS: &[ColumnSpec] = &[
    col(
        "Key",
        "key",
        true,
        20,
        CellKind::Text,
        "The vendor code or ClientID.",
    ),
    col("exact_id", "exact_id", false, 36, CellKind::Text, ""),
    col("client_id", "client_id", false, 20, CellKind::Text, ""),
];

const EMPLOYEE_LINKS: &[ColumnSpec] = &[
    col("Key", "key", true, 20, CellKind::Text, "The employee code."),
    col("exact_id", "exact_id", false, 36, CellKind::Text, ""),
];
