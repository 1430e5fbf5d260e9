//! A deterministic demo data set for the local stack: one app, one user, one division with customer and
//! supplier accounts, extra GL accounts, the template VAT codes, journals and currencies plus a US-dollar
//! bank journal, booked sales and purchase entries and some (full and partial) payments. The same seed gives the same data, GUIDs included.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::{AppRegistration, ExactEmulator, ExactEmulatorError, PaymentSpec, UserSpec};

/// The code of the demo division's US-dollar bank journal ("ING USD").
pub const USD_BANK_JOURNAL: &str = "21";

/// What to generate.
#[derive(Debug, Clone)]
pub struct DemoSpec {
    pub seed: u64,
    pub division: i32,
    pub customers: usize,
    pub suppliers: usize,
    pub sales_entries: usize,
    pub purchase_entries: usize,
}

impl Default for DemoSpec {
    fn default() -> Self {
        Self {
            seed: 42,
            division: 123456,
            customers: 12,
            suppliers: 6,
            sales_entries: 10,
            purchase_entries: 5,
        }
    }
}

/// The demo app's credentials and what was created. Debug output leaves the secrets out.
#[derive(Clone, Serialize)]
pub struct DemoData {
    pub client_id: String,
    /// Shown by the standalone binary so a developer can connect; never logged elsewhere.
    pub client_secret: String,
    pub webhook_secret: String,
    pub redirect_uri: String,
    pub user_id: Uuid,
    pub division: i32,
    pub customer_ids: Vec<String>,
    pub supplier_ids: Vec<String>,
    pub sales_entry_ids: Vec<String>,
    pub purchase_entry_ids: Vec<String>,
}

impl std::fmt::Debug for DemoData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoData")
            .field("client_id", &self.client_id)
            .field("division", &self.division)
            .finish_non_exhaustive()
    }
}

const COMPANIES: &[&str] = &[
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Stark",
    "Wayne",
    "Wonka",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Vandelay",
    "Gringotts",
    "Oscorp",
    "Aperture",
    "Monarch",
    "Duff",
    "Pied Piper",
    "Nakatomi",
    "Dunder Mifflin",
];
const CITIES: &[&str] = &[
    "Amsterdam",
    "Rotterdam",
    "Utrecht",
    "Eindhoven",
    "Groningen",
    "Den Haag",
    "Zwolle",
    "Delft",
];

fn money(rng: &mut StdRng, min_cents: i64, max_cents: i64) -> Decimal {
    Decimal::new(rng.random_range(min_cents..max_cents), 2)
}

/// Fills `emu` with the demo data set.
pub fn generate(emu: &ExactEmulator, spec: &DemoSpec) -> Result<DemoData, ExactEmulatorError> {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let guid = |rng: &mut StdRng| uuid::Builder::from_random_bytes(rng.random()).into_uuid();
    let client_id = guid(&mut rng).to_string();
    let client_secret: String = (0..24)
        .map(|_| {
            char::from(
                b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
                    [rng.random_range(0..57)],
            )
        })
        .collect();
    let webhook_secret: String = (0..16)
        .map(|_| char::from(b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789"[rng.random_range(0..32)]))
        .collect();
    let redirect_uri = "http://127.0.0.1:8080/oauth/exact/callback".to_owned();
    emu.create_app(AppRegistration {
        client_id: client_id.clone(),
        client_secret: client_secret.clone(),
        webhook_secret: webhook_secret.clone(),
        redirect_uri: redirect_uri.clone(),
        name: "Ledgerlink demo".into(),
    });
    emu.create_division(spec.division, "Ledgerlink Demo BV");
    let user_id = emu.create_user(UserSpec {
        id: Some(guid(&mut rng)),
        full_name: "Demo Bookkeeper".into(),
        email: "bookkeeper@demo.invalid".into(),
        divisions: vec![spec.division],
    });
    let d = spec.division;
    // A second bank account, in US dollars (the template's journal 20 "Bank" is the euro account).
    emu.create_bank_journal(d, USD_BANK_JOURNAL, "ING USD", "USD")?;
    for (code, desc, ty) in [
        ("8100", "Omzet advies / Consulting revenue", 110),
        ("8200", "Omzet licenties / License revenue", 110),
        ("4100", "Reiskosten / Travel", 121),
        ("4200", "Software", 121),
    ] {
        emu.seed(
            d,
            "financial/GLAccounts",
            json!({"Code": code, "Description": desc, "Type": ty, "VATCode": "2"}),
        )?;
    }
    let gl_revenue = emu
        .entities(d, "financial/GLAccounts")?
        .into_iter()
        .find(|r| r.get("Code").and_then(|c| c.as_str()) == Some("8100"))
        .and_then(|r| r.get("ID").and_then(|v| v.as_str()).map(str::to_owned))
        .unwrap_or_default();
    let gl_cost = emu
        .entities(d, "financial/GLAccounts")?
        .into_iter()
        .find(|r| r.get("Code").and_then(|c| c.as_str()) == Some("4200"))
        .and_then(|r| r.get("ID").and_then(|v| v.as_str()).map(str::to_owned))
        .unwrap_or_default();
    let mut customer_ids = Vec::new();
    for i in 0..spec.customers {
        let name = format!(
            "{} {} BV",
            COMPANIES[i % COMPANIES.len()],
            i / COMPANIES.len() + 1
        );
        let city = CITIES[rng.random_range(0..CITIES.len())];
        let id = emu.seed(
            d,
            "crm/Accounts",
            json!({"Code": (1000 + i).to_string(), "Name": name, "Status": "C", "City": city, "Country": "NL",
                   "Email": format!("invoices@customer{i}.invalid"), "SearchCode": format!("CUST{i:03}")}),
        )?;
        customer_ids.push(id);
    }
    let mut supplier_ids = Vec::new();
    for i in 0..spec.suppliers {
        let name = format!(
            "{} Supplies {}",
            COMPANIES[(i + 7) % COMPANIES.len()],
            i + 1
        );
        let id = emu.seed(
            d,
            "crm/Accounts",
            json!({"Code": (2000 + i).to_string(), "Name": name, "IsSupplier": true, "City": CITIES[i % CITIES.len()], "Country": "NL"}),
        )?;
        supplier_ids.push(id);
    }
    let mut sales_entry_ids = Vec::new();
    for i in 0..spec.sales_entries.min(customer_ids.len().max(1) * 10) {
        let Some(customer) = customer_ids.get(i % customer_ids.len().max(1)) else {
            break;
        };
        let amount = money(&mut rng, 10_000, 500_000);
        let id = emu.seed(
            d,
            "salesentry/SalesEntries",
            json!({"Journal": "70", "Customer": customer, "EntryDate": format!("2026-{:02}-{:02}", 1 + i % 12, 1 + i % 28),
                   "YourRef": format!("DEMO-INV-{:04}", i + 1), "Description": format!("Demo invoice {}", i + 1),
                   "SalesEntryLines": [{"GLAccount": gl_revenue, "AmountFC": amount.to_string(), "VATCode": "2", "Description": "Consulting"}]}),
        )?;
        sales_entry_ids.push(id);
    }
    let mut purchase_entry_ids = Vec::new();
    for i in 0..spec.purchase_entries {
        let Some(supplier) = supplier_ids.get(i % supplier_ids.len().max(1)) else {
            break;
        };
        let amount = money(&mut rng, 5_000, 200_000);
        let id = emu.seed(
            d,
            "purchaseentry/PurchaseEntries",
            json!({"Journal": "60", "Supplier": supplier, "EntryDate": format!("2026-{:02}-15", 1 + i % 12),
                   "YourRef": format!("SUP-{:05}", 100 + i), "Description": format!("Supplier invoice {}", i + 1),
                   "PurchaseEntryLines": [{"GLAccount": gl_cost, "AmountFC": amount.to_string(), "VATCode": "2"}]}),
        )?;
        purchase_entry_ids.push(id);
    }
    // Payments: every third sales entry paid in full, every fourth partially; the first purchase entry paid.
    for (i, id) in sales_entry_ids.iter().enumerate() {
        if i % 3 == 0 {
            emu.register_payment(PaymentSpec {
                division: d,
                entry_id: id.clone(),
                amount: None,
                date: None,
                employee: false,
            })?;
        } else if i % 4 == 1 {
            emu.register_payment(PaymentSpec {
                division: d,
                entry_id: id.clone(),
                amount: Some(Decimal::new(5000, 2)),
                date: None,
                employee: false,
            })?;
        }
    }
    if let Some(id) = purchase_entry_ids.first() {
        emu.register_payment(PaymentSpec {
            division: d,
            entry_id: id.clone(),
            amount: None,
            date: None,
            employee: false,
        })?;
    }
    Ok(DemoData {
        client_id,
        client_secret,
        webhook_secret,
        redirect_uri,
        user_id,
        division: d,
        customer_ids,
        supplier_ids,
        sales_entry_ids,
        purchase_entry_ids,
    })
}
