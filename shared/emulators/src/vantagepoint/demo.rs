//! Deterministic demo data: the same seed and day always give the same database, so the local stack and the
//! flow tests see stable records. It covers every case the integration must handle: firms that are and are
//! not "available to accounting users", vendors and clients, employees (one linked to a vendor), projects
//! with a different billing client and a consolidated billing group (all billed to clients available to
//! accounting users), a chart of accounts, plain, combined (two codes on a line) and compound tax codes, two
//! banks (EUR and USD), twelve periods with a closed tail and an active period, posted invoices (several
//! sections and tax codes, untaxed lines, a combined tax, a compound tax, one billed in USD while entered in
//! EUR, one negative), a credit memo, vouchers (one paid in USD while entered in EUR, one without a voucher
//! number), expense reports, a journal entry, a unit posting and a revenue-generation run. [`DemoCases`]
//! says which record is which case.

use chrono::{Datelike, Months, NaiveDate};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::VantagepointEmulator;
use super::error::VpError;
use super::model::*;

/// What to generate.
#[derive(Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default)]
pub struct DemoOptions {
    pub seed: u64,
    /// Number of firms (at least 6 are generated so every case exists).
    pub firms: usize,
    /// Number of posted invoices (at least 6, see the module docs).
    pub invoices: usize,
    /// The "today" the data is built around; the emulator clock's date when `None`.
    pub today: Option<NaiveDate>,
    /// The API user created for the integration.
    pub username: String,
    pub password: String,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            seed: 42,
            firms: 8,
            invoices: 6,
            today: None,
            username: "integration".into(),
            password: "integration-password".into(),
        }
    }
}

impl std::fmt::Debug for DemoOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoOptions")
            .field("seed", &self.seed)
            .field("firms", &self.firms)
            .field("invoices", &self.invoices)
            .field("today", &self.today)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The keys of what was generated, for tests and the standalone binary's banner.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoSummary {
    pub company: String,
    pub active_period: i32,
    pub client_ids: Vec<String>,
    /// `ClientID`s of client firms that are available to accounting users.
    pub syncable_client_ids: Vec<String>,
    pub vendors: Vec<String>,
    pub employees: Vec<String>,
    pub projects: Vec<String>,
    pub invoices: Vec<Posting>,
    /// Invoice numbers, in the order of `invoices`.
    pub invoice_numbers: Vec<String>,
    pub credit_memos: Vec<Posting>,
    pub vouchers: Vec<Posting>,
    pub expense_reports: Vec<Posting>,
    pub journal_entries: Vec<Posting>,
    /// Unit postings (`PSALedger/UN`), also sent to the accounting system as journals.
    pub unit_postings: Vec<Posting>,
    /// Revenue-generation runs (`PSALedger/RG`), also sent as journals.
    pub revenue_generation: Vec<Posting>,
    pub banks: Vec<String>,
    /// `(vendor, voucher number)` of each of `vouchers` (the number may be empty).
    pub voucher_numbers: Vec<(String, String)>,
    /// Which record shows which case.
    pub cases: DemoCases,
}

/// Where each case of the demo is: indexes into [`DemoSummary::invoices`] / [`DemoSummary::vouchers`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoCases {
    /// An invoice with a line without a tax code.
    pub untaxed_invoice: usize,
    /// An invoice with two tax codes on one line (a combined tax).
    pub combined_tax_invoice: usize,
    /// An invoice with a compound tax (PST compounded on GST): the integration refuses it.
    pub compound_tax_invoice: usize,
    /// A negative invoice: never sent to the ledger.
    pub negative_invoice: usize,
    /// An invoice entered in EUR and billed in USD (multicurrency).
    pub multicurrency_invoice: usize,
    /// A voucher entered in EUR and paid in USD.
    pub payment_currency_voucher: usize,
    /// A voucher without a voucher number: the integration refuses it.
    pub voucher_without_number: usize,
}

const FIRM_NAMES: [&str; 12] = [
    "Acme Infra B.V.",
    "Brugge Bouw NV",
    "Delta Engineering",
    "Eindhoven Ontwerp",
    "Flanders Steel",
    "Gouda Groep",
    "Haarlem Hydro",
    "IJssel Consult",
    "Jansen Installaties",
    "Kortrijk Beton",
    "Leiden Labs",
    "Maas Logistics",
];
const FIRST: [&str; 6] = ["Anna", "Bram", "Chloe", "Daan", "Eva", "Finn"];
const LAST: [&str; 6] = [
    "de Vries", "Peeters", "Janssens", "Bakker", "Maes", "Visser",
];

fn amount(rng: &mut StdRng, low: i64, high: i64) -> Decimal {
    Decimal::new(rng.random_range(low * 100..high * 100), 2)
}

fn line(
    section: &str,
    description: &str,
    account: &str,
    amount: Decimal,
    taxes: &[&str],
) -> InvoiceLineSeed {
    InvoiceLineSeed {
        section: section.into(),
        description: description.into(),
        account: account.into(),
        amount,
        tax_codes: taxes.iter().map(|t| (*t).to_owned()).collect(),
        wbs2: None,
        wbs3: None,
    }
}

fn expense(
    description: &str,
    account: &str,
    wbs1: &str,
    amount: Decimal,
    tax: Option<&str>,
) -> ExpenseLineSeed {
    ExpenseLineSeed {
        description: description.into(),
        account: account.into(),
        wbs1: wbs1.into(),
        amount,
        tax_code: tax.map(str::to_owned),
        ..ExpenseLineSeed::default()
    }
}

/// Loads the demo data set into `emulator`.
pub(crate) fn load(
    emulator: &VantagepointEmulator,
    options: &DemoOptions,
) -> Result<DemoSummary, VpError> {
    let mut rng = StdRng::seed_from_u64(options.seed);
    let today = options
        .today
        .unwrap_or_else(|| emulator.shared.now().date());
    let month_start = today.with_day(1).unwrap_or(today);
    let company = "A0".to_owned();
    let mut summary = DemoSummary {
        company: company.clone(),
        ..DemoSummary::default()
    };

    emulator.add_company(CompanySeed {
        company: company.clone(),
        name: "Ledgerlink Demo Engineering B.V.".into(),
        functional_currency: "EUR".into(),
        country: "NL".into(),
    });
    for (org, name) in [
        ("A0:01:10", "Amsterdam - Engineering"),
        ("A0:02:20", "Antwerp - Consulting"),
    ] {
        emulator.add_organization(OrganizationSeed {
            org: org.into(),
            name: name.into(),
        });
    }
    for (code, description) in [
        ("EUR", "Euro"),
        ("USD", "US Dollar"),
        ("GBP", "Pound Sterling"),
    ] {
        emulator.add_currency(code, description);
    }
    for suffix in ["Jr", "Sr"] {
        if let serde_json::Value::Object(row) = json!({"Code": suffix, "Description": suffix}) {
            emulator.add_code("CFGSuffix", row);
        }
    }

    // Periods: six months back (the oldest three closed) to five ahead; the current month is active.
    let mut active = 0;
    for offset in -6i32..=5 {
        let start = if offset < 0 {
            month_start.checked_sub_months(Months::new(offset.unsigned_abs()))
        } else {
            month_start.checked_add_months(Months::new(offset.unsigned_abs()))
        }
        .unwrap_or(month_start);
        let end = start
            .checked_add_months(Months::new(1))
            .and_then(|d| d.pred_opt())
            .unwrap_or(start);
        let period = period_of_month(start.year(), start.month());
        if offset == 0 {
            active = period;
        }
        emulator.add_period(PeriodSeed {
            period,
            start,
            end,
            closed: offset < -3,
        });
    }
    summary.active_period = active;
    for (username, password) in [
        (options.username.as_str(), options.password.as_str()),
        ("ADMIN", "admin-password"),
    ] {
        emulator.add_user(UserSeed {
            username: username.into(),
            password: password.into(),
            active_period: Some(active),
            active_company: Some(company.clone()),
            disabled: false,
            visible_companies: Vec::new(),
            read_only: false,
        });
    }

    let accounts: [(&str, &str, u8); 18] = [
        ("11100", "Cash", 1),
        ("11110", "Bank EUR", 1),
        ("11120", "Bank USD", 1),
        ("12100", "Accounts Receivable", 1),
        ("12500", "Unbilled Services", 1),
        ("12510", "Uninvoiced Revenue", 1),
        ("21000", "Accounts Payable", 2),
        ("21500", "Employee Expenses Payable", 2),
        ("22100", "VAT Payable High", 2),
        ("22110", "VAT Payable Low", 2),
        ("22200", "Environmental Levy Payable", 2),
        ("22300", "Sales Taxes Payable", 2),
        ("40100", "Fee Revenue", 4),
        ("40200", "Reimbursable Revenue", 4),
        ("40300", "Consultant Revenue", 4),
        ("52100", "Reimbursable Travel", 5),
        ("60100", "Rent", 9),
        ("65100", "Travel", 9),
    ];
    for (account, name, account_type) in accounts {
        emulator.add_account(AccountSeed {
            account: account.into(),
            name: name.into(),
            account_type,
            ..AccountSeed::default()
        })?;
    }
    let taxes: [(&str, &str, i64, Option<&str>, &str); 6] = [
        ("V21", "BTW hoog 21%", 21, None, "22100"),
        ("V9", "BTW laag 9%", 9, None, "22110"),
        ("V0", "BTW 0% / verlegd", 0, None, "22100"),
        ("ECO", "Environmental levy 2%", 2, None, "22200"),
        ("GST", "GST 5%", 5, None, "22300"),
        ("PST", "PST 7% (compound on GST)", 7, Some("GST"), "22300"),
    ];
    for (code, description, rate, compound, account) in taxes {
        emulator.add_tax_code(TaxCodeSeed {
            code: code.into(),
            description: description.into(),
            rate: Decimal::from(rate),
            compound_on: compound.map(str::to_owned),
            account: account.into(),
            status: String::new(),
        })?;
    }
    for (code, description, account, currency) in [
        ("EURBANK", "ING Zakelijk EUR", "11110", "EUR"),
        ("USDBANK", "ING USD", "11120", "USD"),
    ] {
        emulator.add_bank(BankSeed {
            code: code.into(),
            description: description.into(),
            company: company.clone(),
            org: "A0:01:10".into(),
            account: account.into(),
            currency: currency.into(),
        });
        summary.banks.push(code.into());
    }
    if let serde_json::Value::Object(row) = json!({
        "AcctsReceivable": "12100", "UninvoicedRevenue": "12510", "UnbilledServices": "12500",
        "APLiability": "21000", "EmployeeExpenseLiability": "21500", "CashReceipts": "11100",
    }) {
        emulator.set_autoposting(&company, row);
    }

    // Firms: clients, vendors and both; every fourth is not available to accounting users.
    let firm_count = options.firms.max(6);
    let mut clients = Vec::new();
    let mut vendors = Vec::new();
    for i in 0..firm_count {
        let name = format!(
            "{}{}",
            FIRM_NAMES[i % FIRM_NAMES.len()],
            if i >= FIRM_NAMES.len() {
                format!(" {}", i / FIRM_NAMES.len() + 1)
            } else {
                String::new()
            }
        );
        let (is_client, is_vendor) = match i % 3 {
            0 => (true, false),
            1 => (false, true),
            _ => (true, true),
        };
        let available = i % 4 != 3;
        let city = ["Amsterdam", "Antwerpen", "Utrecht", "Gent"][i % 4];
        let country = if i % 2 == 0 { "NL" } else { "BE" };
        let address = |label: &str,
                       primary: bool,
                       billing: bool,
                       payment: bool,
                       accounting: bool,
                       street: u32| AddressSeed {
            label: label.into(),
            primary,
            billing,
            payment,
            accounting,
            address1: format!("Keizersgracht {street}"),
            city: city.into(),
            zip: format!("{}", 1000 + street),
            country: country.into(),
            phone: format!("+31 20 555 {street:04}"),
            email: format!("{}@example.com", label.to_lowercase()),
            tax_registration_number: format!("{country}{:09}B01", 100_000 + i),
            ..AddressSeed::default()
        };
        let street = rng.random_range(1..400);
        let addresses = vec![
            address("Main", true, i % 2 == 0, false, false, street),
            address("Billing", false, i % 2 == 1, false, false, street + 1),
            address("Payment", false, false, true, true, street + 2),
        ];
        let client_id = emulator.add_firm(FirmSeed {
            name,
            is_client,
            is_vendor,
            available_to_accounting: available,
            ready_for_processing: true,
            org: "A0:01:10".into(),
            email: format!("info{i}@example.com"),
            phone: format!("+31 20 555 {:04}", i),
            website: format!("https://firm{i}.example.com"),
            addresses,
            ..FirmSeed::default()
        })?;
        if is_client {
            clients.push(client_id.clone());
            if available {
                summary.syncable_client_ids.push(client_id.clone());
            }
        }
        if is_vendor && let Some(firm) = emulator.firm(&client_id) {
            vendors.push(str_ci(&firm, "Vendor"));
        }
        summary.client_ids.push(client_id);
    }
    summary.vendors = vendors.clone();

    for i in 0..4 {
        let employee = format!("E{:03}", i + 1);
        emulator.add_employee(EmployeeSeed {
            employee: employee.clone(),
            first_name: FIRST[i].into(),
            last_name: LAST[i].into(),
            title: "Engineer".into(),
            email: format!("{}@ledgerlink-demo.example", FIRST[i].to_lowercase()),
            org: "A0:01:10".into(),
            company: company.clone(),
            vendor: if i == 2 {
                vendors.first().cloned()
            } else {
                None
            },
            available_to_accounting: i != 3,
            address1: format!("Damrak {}", 10 + i),
            city: "Amsterdam".into(),
            zip: "1012".into(),
            country: "NL".into(),
            work_phone: format!("+31 20 600 {:04}", i),
            mobile_phone: format!("+31 6 1234 {:04}", i),
            ..EmployeeSeed::default()
        })?;
        summary.employees.push(employee);
    }

    // Projects: a different billing client on the second; the third and fourth form a consolidated billing group.
    // Every project is billed to a client available to accounting users (the others never reach the ledger).
    let billable = if summary.syncable_client_ids.is_empty() {
        clients.clone()
    } else {
        summary.syncable_client_ids.clone()
    };
    let client = |k: usize| billable[k % billable.len()].clone();
    let year = today.year();
    let projects = [
        (
            format!("{year}-001"),
            "Harbour Bridge Renovation",
            client(0),
            None,
            None,
            false,
        ),
        (
            format!("{year}-002"),
            "Campus Masterplan",
            client(1),
            Some(client(2)),
            None,
            false,
        ),
        (
            format!("{year}-003"),
            "Rail Hub Main",
            client(2),
            None,
            Some(format!("{year}-003")),
            true,
        ),
        (
            format!("{year}-004"),
            "Rail Hub Phase B",
            client(2),
            None,
            Some(format!("{year}-003")),
            true,
        ),
        (
            format!("{year}-005"),
            "US Data Center",
            client(3),
            None,
            None,
            false,
        ),
    ];
    for (wbs1, name, client_id, billing, main, consolidated) in projects.iter().cloned() {
        emulator.add_project(ProjectSeed {
            wbs1: wbs1.clone(),
            name: name.into(),
            client_id,
            billing_client_id: billing,
            org: "A0:01:10".into(),
            billing_currency: if wbs1.ends_with("005") {
                Some("USD".into())
            } else {
                Some("EUR".into())
            },
            billing_group_main: main,
            billing_group_consolidated: consolidated,
            ..ProjectSeed::default()
        })?;
        summary.projects.push(wbs1);
    }
    for phase in ["01", "02"] {
        emulator.add_project(ProjectSeed {
            wbs1: format!("{year}-001"),
            wbs2: phase.into(),
            name: format!("Phase {phase}"),
            client_id: client(0),
            org: "A0:01:10".into(),
            ..ProjectSeed::default()
        })?;
    }

    // Posted invoices.
    let invoice_count = options.invoices.max(6);
    let prior = summary_period_before(active);
    for k in 0..invoice_count {
        let number = format!("{:012}", 10_800 + k);
        let trans_date = if k % 2 == 0 {
            today
        } else {
            today.checked_sub_months(Months::new(1)).unwrap_or(today)
        };
        let period = if k % 2 == 0 { active } else { prior };
        let mut seed = InvoiceSeed {
            invoice: number.clone(),
            wbs1: projects[0].0.clone(),
            wbs2: "01".into(),
            trans_date: Some(trans_date),
            period: Some(period),
            description: format!("Invoice {number}"),
            ..InvoiceSeed::default()
        };
        match k {
            0 => {
                seed.lines = vec![
                    line(
                        "F",
                        "Professional fees",
                        "40100",
                        amount(&mut rng, 1000, 9000),
                        &["V21"],
                    ),
                    line(
                        "R",
                        "Reimbursable travel",
                        "40200",
                        amount(&mut rng, 50, 900),
                        &["V21"],
                    ),
                ];
            }
            1 => {
                // Entered in EUR, billed in USD at 1.08 USD per EUR (a multicurrency database).
                seed.wbs1 = projects[4].0.clone();
                seed.wbs2 = String::new();
                seed.billing_currency = Some("USD".into());
                seed.billing_rate = Some(Decimal::new(108, 2));
                seed.description = format!("Invoice {number} (billed in USD)");
                seed.lines = vec![line(
                    "F",
                    "Design services",
                    "40100",
                    amount(&mut rng, 2000, 8000),
                    &["V0"],
                )];
            }
            2 => {
                seed.wbs1 = projects[1].0.clone();
                seed.wbs2 = String::new();
                seed.description = format!("Invoice {number} (combined tax)");
                seed.lines = vec![
                    line(
                        "F",
                        "Fees, high and low rate combined",
                        "40100",
                        amount(&mut rng, 1000, 5000),
                        &["V21", "V9"],
                    ),
                    line(
                        "C",
                        "Consultant",
                        "40300",
                        amount(&mut rng, 300, 1500),
                        &["V9"],
                    ),
                ];
            }
            3 => {
                seed.wbs2 = String::new();
                seed.description = format!("Invoice {number} (compound tax)");
                seed.lines = vec![line(
                    "F",
                    "Fees (compound tax)",
                    "40100",
                    amount(&mut rng, 1000, 4000),
                    &["GST", "PST"],
                )];
            }
            4 => {
                seed.wbs2 = String::new();
                seed.description = format!("Negative invoice {number}");
                seed.lines = vec![line(
                    "F",
                    "Fee correction",
                    "40100",
                    -amount(&mut rng, 100, 900),
                    &["V21"],
                )];
            }
            5 => {
                seed.wbs1 = projects[2].0.clone();
                seed.wbs2 = String::new();
                seed.lines = vec![
                    line(
                        "F",
                        "Billing group fees",
                        "40100",
                        amount(&mut rng, 2000, 7000),
                        &["V21"],
                    ),
                    line(
                        "R",
                        "Billing group expenses (untaxed)",
                        "40200",
                        amount(&mut rng, 100, 600),
                        &[],
                    ),
                ];
            }
            _ => {
                seed.lines = vec![line(
                    "F",
                    "Professional fees",
                    "40100",
                    amount(&mut rng, 500, 5000),
                    &["V21"],
                )];
            }
        }
        summary.invoices.push(emulator.post_invoice(&seed)?);
        summary.invoice_numbers.push(number);
    }
    summary.cases = DemoCases {
        untaxed_invoice: 5,
        combined_tax_invoice: 2,
        compound_tax_invoice: 3,
        negative_invoice: 4,
        multicurrency_invoice: 1,
        payment_currency_voucher: 1,
        voucher_without_number: 2,
    };
    let credit_number = format!("{:012}", 10_800 + invoice_count);
    summary
        .credit_memos
        .push(emulator.post_invoice(&InvoiceSeed {
            invoice: credit_number,
            wbs1: projects[0].0.clone(),
            wbs2: "01".into(),
            trans_date: Some(today),
            period: Some(active),
            description: "Credit memo".into(),
            // Credit memos are for posted invoices that are not paid (spec, Credit Memos): the billing-group
            // invoice, which the demo's bookkeeper does not pay.
            credit_memo_ref: summary.invoice_numbers.get(5).cloned(),
            lines: vec![line(
                "F",
                "Credit on professional fees",
                "40100",
                -amount(&mut rng, 100, 500),
                &["V21"],
            )],
            ..InvoiceSeed::default()
        })?);

    for (n, voucher) in ["V0001", "V0002", ""].iter().enumerate() {
        let vendor = vendors[n % vendors.len()].clone();
        // The second is entered in EUR and paid in USD at 1.08 USD per EUR.
        let (payment_currency, payment_rate) = if n == 1 {
            (Some("USD".to_owned()), Some(Decimal::new(108, 2)))
        } else {
            (None, None)
        };
        summary
            .voucher_numbers
            .push((vendor.clone(), (*voucher).to_owned()));
        summary.vouchers.push(emulator.post_voucher(&VoucherSeed {
            payment_currency,
            payment_rate,
            voucher: (*voucher).into(),
            vendor,
            invoice: format!("SUP-{}", 5000 + n),
            trans_date: Some(today),
            invoice_date: Some(today),
            period: Some(active),
            liab_code: "AP".into(),
            bank_code: "EURBANK".into(),
            lines: vec![
                expense(
                    "Subconsultant",
                    "52100",
                    &projects[0].0,
                    amount(&mut rng, 200, 3000),
                    Some("V21"),
                ),
                expense(
                    "Office rent",
                    "60100",
                    "",
                    amount(&mut rng, 500, 2000),
                    None,
                ),
            ],
            ..VoucherSeed::default()
        })?);
    }
    for (n, employee) in ["E001", "E002"].iter().enumerate() {
        summary
            .expense_reports
            .push(emulator.post_expense_report(&ExpenseReportSeed {
                employee: (*employee).into(),
                voucher: format!("ER{:04}", n + 1),
                report_name: format!("Travel {}", today.format("%B")),
                report_date: Some(today),
                period: Some(active),
                lines: vec![
                    expense(
                        "Train tickets",
                        "65100",
                        &projects[0].0,
                        amount(&mut rng, 20, 300),
                        Some("V9"),
                    ),
                    expense(
                        "Hotel",
                        "52100",
                        &projects[1].0,
                        amount(&mut rng, 80, 500),
                        Some("V9"),
                    ),
                ],
                ..ExpenseReportSeed::default()
            })?);
    }
    let accrual = amount(&mut rng, 500, 5000);
    summary
        .journal_entries
        .push(emulator.post_journal_entry(&JournalEntrySeed {
            ref_no: "JE-0001".into(),
            description: "Month-end accrual".into(),
            trans_date: Some(today),
            period: Some(active),
            lines: vec![
                JournalLineSeed {
                    account: "60100".into(),
                    description: "Accrued rent".into(),
                    debit: accrual,
                    ..JournalLineSeed::default()
                },
                JournalLineSeed {
                    account: "21000".into(),
                    description: "Accrued rent".into(),
                    credit: accrual,
                    ..JournalLineSeed::default()
                },
            ],
            ..JournalEntrySeed::default()
        })?);
    // A Revenue Generation run: revenue recognised on two projects (no tax codes involved).
    summary
        .revenue_generation
        .push(emulator.post_revenue_generation(&RevenueGenerationSeed {
            trans_date: Some(today),
            period: Some(active),
            currency: None,
            lines: vec![
                RevenueLineSeed {
                    wbs1: projects[0].0.clone(),
                    account: "40100".into(),
                    amount: amount(&mut rng, 1000, 8000),
                },
                RevenueLineSeed {
                    wbs1: projects[1].0.clone(),
                    account: "40100".into(),
                    amount: amount(&mut rng, 500, 3000),
                },
            ],
        })?);
    let units = amount(&mut rng, 100, 900);
    summary
        .unit_postings
        .push(emulator.post_journal_entry(&JournalEntrySeed {
            trans_type: Some("UN".into()),
            ref_no: "UN-0001".into(),
            description: "Equipment units".into(),
            trans_date: Some(today),
            period: Some(active),
            lines: vec![
                JournalLineSeed {
                    account: "52100".into(),
                    wbs1: projects[0].0.clone(),
                    description: "Survey equipment days".into(),
                    debit: units,
                    ..JournalLineSeed::default()
                },
                JournalLineSeed {
                    account: "40200".into(),
                    description: "Unit credit".into(),
                    credit: units,
                    ..JournalLineSeed::default()
                },
            ],
            ..JournalEntrySeed::default()
        })?);
    Ok(summary)
}

fn summary_period_before(period: i32) -> i32 {
    if period % 100 == 1 {
        (period / 100 - 1) * 100 + 12
    } else {
        period - 1
    }
}
