//! The demo tenant of the local stack: its record (connections pointing at the in-process emulators), the
//! secrets the local resolver holds for it, the first Exact consent (through the API's consent routes, as
//! an admin gives it on AWS: the emulator's authorize page consents for the demo user), the lookup rows
//! the demo's documents need, the API key for the operator page, and the payments a bookkeeper registers
//! in Exact after the first invoice round (so payment-in has work).
//!
//! Everything here is idempotent: a restart on the same data dir updates the tenant (the emulators listen
//! on new ports), reconnects Exact (the emulators are in memory, so their tokens are new) and keeps what
//! the store already holds.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, Utc};
use ledgerlink_domain::{Division, ObjectType, SyncStatus, TenantId};
use ledgerlink_emulators::exact::demo::{DemoData, USD_BANK_JOURNAL};
use ledgerlink_emulators::exact::{AppRegistration, ExactEmulator, PaymentSpec};
use ledgerlink_emulators::vantagepoint::demo::{DemoOptions, DemoSummary};
use ledgerlink_emulators::vantagepoint::{InvoiceLineSeed, InvoiceSeed, VantagepointEmulator};
use ledgerlink_flows::{FlowContext, LocalSecrets, SecretValue};
use ledgerlink_ports::mail::MAIL_SETTING;
use ledgerlink_ports::{
    ConnectionState, LookupEntry, LookupTable, PageRequest, SecretRef, StateStores, StatusFilter,
    StoreError, Tenant,
};
use rust_decimal::Decimal;
use serde_json::json;

/// The demo tenant's id (and the first part of its API key).
pub const TENANT: &str = "demo";
/// The user the demo API key acts as (the page's "Created by").
pub const OPERATOR: &str = "demo-operator";
/// The demo's operator mailbox (error e-mails) and the operator user's own (export-complete e-mails).
pub const OPERATORS_MAIL: &str = "finance@ledgerlink-demo.example";
pub const OPERATOR_MAIL: &str = "operator@ledgerlink-demo.example";

/// Names of the secrets the local resolver holds for the demo tenant.
pub const EXACT_CLIENT_SECRET: &str = "demo/exact-client-secret";
pub const EXACT_WEBHOOK_SECRET: &str = "demo/exact-webhook-secret";
pub const VP_CLIENT_SECRET: &str = "demo/vp-client-secret";
pub const VP_PASSWORD: &str = "demo/vp-password";

/// The demo tenant's id.
pub fn tenant_id() -> TenantId {
    TenantId::parse(TENANT).expect("\"demo\" is a valid tenant id")
}

/// Puts the emulators' demo credentials in the local resolver (they never leave the process), each bound
/// to the emulator it is for, as the connections API binds what a user enters.
pub fn register_secrets(
    secrets: &LocalSecrets,
    exact: &DemoData,
    vp: &VantagepointEmulator,
    vp_demo: &DemoOptions,
    endpoints: &Endpoints,
) -> anyhow::Result<()> {
    let exact_issuer =
        ledgerlink_exact::issuer(&endpoints.exact_base_url).context("the Exact emulator's URL")?;
    let vp_issuer = ledgerlink_vantagepoint::issuer(&endpoints.vp_base_url)
        .context("the Vantagepoint emulator's URL")?;
    secrets.set_value(
        EXACT_CLIENT_SECRET,
        SecretValue::bound(exact.client_secret.clone(), exact_issuer),
    );
    secrets.set(EXACT_WEBHOOK_SECRET, exact.webhook_secret.clone());
    secrets.set_value(
        VP_CLIENT_SECRET,
        SecretValue::bound(vp.config().client_secret.clone(), vp_issuer.clone()),
    );
    secrets.set_value(
        VP_PASSWORD,
        SecretValue::bound(vp_demo.password.clone(), vp_issuer),
    );
    Ok(())
}

/// Where the emulators listen this run.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub exact_base_url: String,
    pub vp_base_url: String,
}

/// Creates the demo tenant, or points the existing one at this run's emulators (and resumes it: Exact is
/// reconnected right after). `sync_start` (where discovery starts) is only used on creation. `api_key_hash` is
/// added when missing.
#[allow(clippy::too_many_arguments)]
pub async fn ensure_tenant(
    stores: &StateStores,
    endpoints: &Endpoints,
    exact: &DemoData,
    vp: &VantagepointEmulator,
    vp_options: &DemoOptions,
    vp_demo: &DemoSummary,
    api_key_hash: &str,
    sync_start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> anyhow::Result<Tenant> {
    let id = tenant_id();
    let division =
        u32::try_from(exact.division).context("the demo division is not a positive number")?;
    let existing = stores
        .tenants
        .get(&id)
        .await
        .context("reading the demo tenant")?;
    let expected = existing.as_ref().map(|t| t.version);
    let mut tenant = existing.unwrap_or_else(|| {
        let settings = BTreeMap::from([
            (
                "sync_start".to_owned(),
                json!(sync_start.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
            ),
            ("company".to_owned(), json!(vp_demo.company)),
            // The demo VP database is multicurrency: invoices go out in their billing currency.
            ("multicurrency".to_owned(), json!(true)),
            // Where notifications are mailed (the local stack writes them to the data dir's mail/).
            (
                MAIL_SETTING.to_owned(),
                json!({ "operators": [OPERATORS_MAIL], "users": { OPERATOR: OPERATOR_MAIL } }),
            ),
        ]);
        Tenant {
            id: id.clone(),
            name: "Ledgerlink Demo BV".into(),
            vp_base_url: String::new(),
            vp_database: String::new(),
            vp_culture: "en-US".into(),
            vp_client_id: String::new(),
            vp_client_secret: SecretRef::Local(VP_CLIENT_SECRET.into()),
            vp_username: String::new(),
            vp_password: SecretRef::Local(VP_PASSWORD.into()),
            exact_base_url: String::new(),
            exact_division: Division(division),
            exact_client_id: String::new(),
            exact_client_secret: SecretRef::Local(EXACT_CLIENT_SECRET.into()),
            exact_webhook_secret: SecretRef::Local(EXACT_WEBHOOK_SECRET.into()),
            state: ConnectionState::Active,
            paused_reason: None,
            settings,
            version: 0,
            updated_at: now,
        }
    });
    // Settings added since a data dir was first made (a user's own values are kept).
    tenant
        .settings
        .entry("multicurrency".to_owned())
        .or_insert(json!(true));
    tenant
        .settings
        .entry(MAIL_SETTING.to_owned())
        .or_insert(json!({ "operators": [OPERATORS_MAIL], "users": { OPERATOR: OPERATOR_MAIL } }));
    tenant.vp_base_url = endpoints.vp_base_url.clone();
    // The local resolver holds only this run's demo credentials (in memory), bound to this run's emulators.
    tenant.vp_client_secret = SecretRef::Local(VP_CLIENT_SECRET.into());
    tenant.vp_password = SecretRef::Local(VP_PASSWORD.into());
    tenant.exact_client_secret = SecretRef::Local(EXACT_CLIENT_SECRET.into());
    tenant.exact_webhook_secret = SecretRef::Local(EXACT_WEBHOOK_SECRET.into());
    tenant.vp_database = vp.config().database.clone();
    tenant.vp_client_id = vp.config().client_id.clone();
    tenant.vp_username = vp_options.username.clone();
    tenant.exact_base_url = endpoints.exact_base_url.clone();
    tenant.exact_division = Division(division);
    tenant.exact_client_id = exact.client_id.clone();
    tenant.state = ConnectionState::Active;
    tenant.paused_reason = None;
    tenant.updated_at = now;
    let keys = tenant
        .settings
        .get(ledgerlink_api::auth::API_KEYS_SETTING)
        .cloned()
        .unwrap_or(json!([]));
    let has_key = keys.as_array().is_some_and(|ks| {
        ks.iter()
            .any(|k| k.get("sha256").and_then(|h| h.as_str()) == Some(api_key_hash))
    });
    if !has_key {
        ledgerlink_api::add_api_key(
            &mut tenant,
            &ledgerlink_api::StoredApiKey {
                user: OPERATOR.into(),
                sha256: api_key_hash.to_owned(),
                ..ledgerlink_api::StoredApiKey::default()
            },
        );
    }
    stores
        .tenants
        .put(&tenant, expected)
        .await
        .context("saving the demo tenant")
}

/// What connecting Exact through the consent routes gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExactConsent {
    pub division: u32,
    pub division_name: String,
    /// The webhook subscription's state (`subscribed`, `failed`, `not-subscribed`), its address and error.
    pub webhooks: String,
    pub webhook_callback: Option<String>,
    pub webhook_error: Option<String>,
}

/// Connects Exact as an admin does on AWS, through the same routes of the running API: `POST
/// /api/connections/exact/consent` with the demo (admin) key, Exact's authorize page (the emulator
/// consents for the demo user at once and redirects to this API's own callback), the callback (which
/// checks the state, exchanges the code through the Exact client and lists the divisions), then `POST
/// /oauth/exact/division` with the demo division (which also subscribes the webhooks).
pub async fn connect_exact(
    api_url: &str,
    api_key: &str,
    division: i32,
) -> anyhow::Result<ExactConsent> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .context("building an HTTP client")?;
    let json = |r: reqwest::Response, step: &'static str| async move {
        let status = r.status();
        let text = r.text().await.with_context(|| format!("reading {step}"))?;
        if !status.is_success() {
            bail!("{step} answered {status}: {text}");
        }
        serde_json::from_str::<serde_json::Value>(&text).with_context(|| format!("{step}: {text}"))
    };
    let started = http
        .post(format!("{api_url}/api/connections/exact/consent"))
        .bearer_auth(api_key)
        .send()
        .await
        .context("starting the Exact consent")?;
    let started = json(started, "the consent route").await?;
    let authorize = started["authorize_url"]
        .as_str()
        .ok_or_else(|| anyhow!("the consent route gave no authorize URL"))?;
    let answer = http
        .get(authorize)
        .send()
        .await
        .context("opening the Exact consent page")?;
    if !answer.status().is_redirection() {
        bail!(
            "the Exact consent page answered {} instead of redirecting back",
            answer.status()
        );
    }
    let callback = answer
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| anyhow!("the Exact consent redirect has no Location"))?
        .to_owned();
    let own = format!("{api_url}{}?", ledgerlink_api::consent::CALLBACK_PATH);
    if !callback.starts_with(&own) {
        bail!("Exact redirected to {callback:?}, not to this stack's callback {own}");
    }
    let pick = http
        .get(&callback)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .context("calling the consent callback")?;
    let pick = json(pick, "the consent callback").await?;
    let token = pick["division_token"]
        .as_str()
        .ok_or_else(|| anyhow!("the consent callback gave no division token"))?;
    let listed = pick["divisions"]
        .as_array()
        .is_some_and(|ds| ds.iter().any(|d| d["code"] == division));
    if !listed {
        bail!("Exact does not list the demo division {division} for the demo user: {pick}");
    }
    let done = http
        .post(format!(
            "{api_url}{}",
            ledgerlink_api::consent::DIVISION_PATH
        ))
        .header(reqwest::header::ACCEPT, "application/json")
        .form(&[("token", token), ("division", &division.to_string())])
        .send()
        .await
        .context("choosing the Exact division")?;
    let done = json(done, "the division route").await?;
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    Ok(ExactConsent {
        division: done["division"]
            .as_u64()
            .and_then(|d| u32::try_from(d).ok())
            .ok_or_else(|| anyhow!("the division route named no division: {done}"))?,
        division_name: text(&done["division_name"]).unwrap_or_default(),
        webhooks: text(&done["webhooks"]["state"]).unwrap_or_default(),
        webhook_callback: text(&done["webhooks"]["callback"]),
        webhook_error: text(&done["webhooks"]["error"]),
    })
}

/// The invoice of the demo's fix-it case: fees with the environmental levy on top of the high VAT rate (VP
/// tax codes `V21` + `ECO`, 23 % together). Exact's demo division has no VAT code at 23 %, so set-up cannot
/// propose one for the combination and invoice-out refuses the invoice with a lookup fix: add the row
/// `ECO+V21` to the `combined-tax-codes` lookup table with the Exact VAT code that books it (in the demo:
/// `2`, the high rate), then Synchronize — the page's "Add to combined-tax-codes lookup" button on the
/// object opens that row.
pub const LEVY_INVOICE: &str = "000000010890";

/// Posts [`LEVY_INVOICE`] in the Vantagepoint emulator and adds it to the demo's invoices. Called while the
/// emulator's clock is pinned at the demo epoch, so every run on the same data dir posts it at the same
/// moment (the same key, never a second object).
pub fn post_levy_invoice(vp: &VantagepointEmulator, demo: &mut DemoSummary) -> anyhow::Result<()> {
    let project = demo
        .projects
        .first()
        .cloned()
        .ok_or_else(|| anyhow!("the Vantagepoint demo has no project"))?;
    let posting = vp
        .post_invoice(&InvoiceSeed {
            invoice: LEVY_INVOICE.into(),
            wbs1: project,
            wbs2: "01".into(),
            period: Some(demo.active_period),
            description: format!("Invoice {LEVY_INVOICE} (fees with the environmental levy)"),
            lines: vec![InvoiceLineSeed {
                section: "F".into(),
                description: "Fees with the environmental levy (21% VAT + 2% levy)".into(),
                account: "40100".into(),
                amount: Decimal::new(240_000, 2),
                tax_codes: vec!["V21".into(), "ECO".into()],
                wbs2: None,
                wbs3: None,
            }],
            ..InvoiceSeed::default()
        })
        .map_err(|e| anyhow!("posting the demo's levy invoice: {e}"))?;
    demo.invoices.push(posting);
    demo.invoice_numbers.push(LEVY_INVOICE.to_owned());
    Ok(())
}

/// One lookup row: table, key, columns.
type DemoRow<'a> = (LookupTable, &'a str, Vec<(&'a str, &'a str)>);

/// The lookup rows the demo documents need that no flow fills: VP revenue/cost accounts → Exact G/L
/// accounts, Exact VAT codes → VP tax codes, and Exact's bank journal → VP bank code. Rows already there
/// (an earlier run, an operator's edit) are kept.
pub async fn ensure_lookups(
    stores: &StateStores,
    exact: &ExactEmulator,
    tenant: &Tenant,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let division = i32::try_from(tenant.exact_division.0).context("division out of range")?;
    let gl = exact
        .entities(division, "financial/GLAccounts")
        .map_err(|e| anyhow!("reading the Exact chart of accounts: {e}"))?;
    let gl_id = |code: &str| {
        gl.iter()
            .find(|r| r.get("Code").and_then(|c| c.as_str()).map(str::trim) == Some(code))
            .and_then(|r| r.get("ID").and_then(|v| v.as_str()).map(str::to_owned))
            .ok_or_else(|| anyhow!("the Exact demo division has no G/L account {code}"))
    };
    let (revenue, cost) = (gl_id("8000")?, gl_id("4000")?);
    let mut rows: Vec<DemoRow<'_>> = Vec::new();
    for account in ["40100", "40200", "40300"] {
        rows.push((
            LookupTable::GlAccounts,
            account,
            vec![("exact_id", revenue.as_str())],
        ));
    }
    for account in [
        "11100", "12100", "12500", "12510", "21000", "21500", "52100", "60100", "65100",
    ] {
        rows.push((
            LookupTable::GlAccounts,
            account,
            vec![("exact_id", cost.as_str())],
        ));
    }
    for (exact_code, vp_code, rate) in [("2", "V21", "21"), ("1", "V9", "9"), ("0", "V0", "0")] {
        rows.push((
            LookupTable::TaxCodes,
            exact_code,
            vec![("vp_code", vp_code), ("rate", rate)],
        ));
    }
    rows.push((
        LookupTable::BankCodes,
        "20",
        vec![("vp_bank_code", "EURBANK")],
    ));
    for (table, key, columns) in rows {
        if stores.lookups.get(&tenant.id, table, key).await?.is_some() {
            continue;
        }
        let entry = LookupEntry {
            key: key.to_owned(),
            columns: columns
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            version: 0,
            updated_at: now,
            updated_by: "local-stack".into(),
        };
        match stores.lookups.put(&tenant.id, table, &entry, None).await {
            Ok(_) | Err(StoreError::Conflict { .. }) => {}
            Err(e) => return Err(e).context("saving a demo lookup row"),
        }
    }
    Ok(())
}

/// Synced documents of one type (status Success with a target id), in key order.
async fn synced(
    stores: &StateStores,
    tenant: &Tenant,
    object_type: ObjectType,
) -> anyhow::Result<Vec<(String, String)>> {
    let filter = StatusFilter {
        object_type: Some(object_type),
        status: Some(SyncStatus::Success),
        ..StatusFilter::default()
    };
    let page = stores
        .statuses
        .list(&tenant.id, &filter, PageRequest::first(100))
        .await?;
    let mut out: Vec<(String, String)> = page
        .items
        .into_iter()
        .filter_map(|s| Some((s.object.key.to_string(), s.target_id?)))
        .collect();
    out.sort();
    Ok(out)
}

/// What a bookkeeper does in Exact after the first invoice round: registers customer receipts on up to
/// two synced euro invoices in two instalments each (so the second is a second partial payment, allocated
/// against what the first left open) and on the dollar invoice in full through the dollar bank ("ING USD",
/// which Ledgerlink matches to VP's bank of that name), a supplier payment on the voucher paid in dollars
/// (through the dollar bank) and an employee payment on one synced expense report (in full).
/// Entries that this run's Exact emulator does not hold (an earlier run's) are left alone. Returns one line
/// per registered payment.
pub async fn register_payments(
    ctx: &FlowContext,
    exact: &ExactEmulator,
    tenant: &Tenant,
) -> anyhow::Result<Vec<String>> {
    let division = i32::try_from(tenant.exact_division.0).context("division out of range")?;
    // (object type, entity set, how many in EUR, how many in USD, employee)
    let plan: [(ObjectType, &str, usize, usize, bool); 3] = [
        (ObjectType::Invoice, "salesentry/SalesEntries", 2, 1, false),
        // The euro voucher stays open (the long-running mode's webhook test pays it later).
        (
            ObjectType::ApVoucher,
            "purchaseentry/PurchaseEntries",
            0,
            1,
            false,
        ),
        (
            ObjectType::ExpenseReport,
            "purchaseentry/PurchaseEntries",
            1,
            0,
            true,
        ),
    ];
    let mut lines = Vec::new();
    for (object_type, set, eur_count, usd_count, employee) in plan {
        let (mut eur_paid, mut usd_paid) = (0, 0);
        for (key, entry) in synced(&ctx.stores, tenant, object_type).await? {
            // Only entries this run's Exact holds.
            let row = match exact.entity(division, set, &entry) {
                Ok(Some(row)) => row,
                _ => continue,
            };
            let currency = row
                .get("Currency")
                .and_then(|c| c.as_str())
                .unwrap_or("EUR")
                .to_owned();
            let (journal, paid, limit) = match currency.as_str() {
                "EUR" => ("20", &mut eur_paid, eur_count),
                "USD" => (USD_BANK_JOURNAL, &mut usd_paid, usd_count),
                _ => continue,
            };
            if *paid == limit {
                continue;
            }
            // Euro invoices are paid in two instalments (half, then the rest): two cash receipts each.
            let total = row
                .get("AmountFC")
                .and_then(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .or_else(|| v.as_number().map(|n| n.to_string()))
                })
                .and_then(|t| t.parse::<Decimal>().ok());
            let first = match (object_type, total, currency.as_str()) {
                (ObjectType::Invoice, Some(t), "EUR") if t > Decimal::ONE => {
                    Some((t / Decimal::TWO).round_dp(2))
                }
                _ => None,
            };
            let instalments = if first.is_some() {
                vec![first, None]
            } else {
                vec![None]
            };
            let mut registered = false;
            for amount in instalments {
                let spec = PaymentSpec {
                    division,
                    entry_id: entry.clone(),
                    amount,
                    date: None,
                    employee,
                };
                match exact.register_payment_through(spec, Some(journal)) {
                    Ok(recorded) => {
                        registered = true;
                        lines.push(format!(
                            "{object_type} {key}: {} {currency} paid in Exact (bank journal {journal})",
                            recorded.amount
                        ));
                    }
                    // Already paid (e.g. by an earlier registration): nothing to add.
                    Err(e) => tracing::info!(object = %key, error = %e, "no payment registered"),
                }
            }
            if registered {
                *paid += 1;
            }
        }
    }
    Ok(lines)
}

/// Registers this run's Exact app in the emulator: the demo data with a new client id and new secrets.
///
/// Why not the demo's own app: Exact's call budget is per app and division and shared through the store,
/// so it outlasts a run, while the in-memory emulator starts every run with nothing counted. Under the
/// demo's fixed client id a restart within a minute of a busy run would wait for the next minute (the
/// client assumes Exact's default 60 calls a minute until a response announces the real limit). A new
/// app per run is also what the emulator is: a new Exact with a new app registration.
pub fn register_run_app(exact: &ExactEmulator, demo: &DemoData) -> DemoData {
    let mut bytes = [0_u8; 48];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    let (id, rest) = bytes.split_at(16);
    let (secret, webhook) = rest.split_at(16);
    let mut guid = [0_u8; 16];
    guid.copy_from_slice(id);
    let app = DemoData {
        client_id: uuid::Builder::from_random_bytes(guid)
            .into_uuid()
            .to_string(),
        client_secret: hex::encode(secret),
        webhook_secret: hex::encode(webhook),
        ..demo.clone()
    };
    exact.create_app(AppRegistration {
        client_id: app.client_id.clone(),
        client_secret: app.client_secret.clone(),
        webhook_secret: app.webhook_secret.clone(),
        redirect_uri: app.redirect_uri.clone(),
        name: "Ledgerlink local stack".into(),
    });
    app
}

/// The demo options of the VP emulator for a seed.
pub fn vp_options(seed: u64) -> DemoOptions {
    DemoOptions {
        seed,
        ..DemoOptions::default()
    }
}

/// Keeps the secrets resolver shareable with the API's secret writer.
pub fn shared_secrets() -> Arc<LocalSecrets> {
    Arc::new(LocalSecrets::new())
}

/// Where a demo case shows up in Ledgerlink's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseTarget {
    /// One object by its key.
    Object(ObjectType, String),
    /// The objects of a type whose message names `text` (e.g. the cash receipts of an invoice), at least
    /// `at_least` of them.
    Mentioning {
        object_type: ObjectType,
        text: String,
        at_least: usize,
    },
    /// Files in the data dir's mail folder whose name contains `text`.
    Mail { text: String },
}

/// One case the demo shows, and whether its refusal is deliberate (then: why).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoCase {
    pub label: &'static str,
    pub target: CaseTarget,
    pub deliberate: Option<&'static str>,
    /// A refusal the user is meant to fix from the page: Success (fixed) is as meant too.
    pub fixable: bool,
}

/// The cases the demo data holds (issue: "the demo shows it"), found by the keys Ledgerlink gives the
/// emulator's records.
pub fn cases(vp: &DemoSummary) -> Vec<DemoCase> {
    let invoice = |i: usize| -> Option<(String, String)> {
        let posting = vp.invoices.get(i)?;
        let number = vp.invoice_numbers.get(i)?;
        Some((
            number.clone(),
            format!("{number}.{}.{}", posting.period, posting.post_seq),
        ))
    };
    let c = &vp.cases;
    let mut out = Vec::new();
    let mut object = |label, object_type, key: Option<String>, deliberate| {
        if let Some(key) = key {
            out.push(DemoCase {
                label,
                target: CaseTarget::Object(object_type, key),
                deliberate,
                fixable: false,
            });
        }
    };
    object(
        "invoice with untaxed lines (booked with the no-VAT code)",
        ObjectType::Invoice,
        invoice(c.untaxed_invoice).map(|(_, k)| k),
        None,
    );
    object(
        "invoice with a combined tax code (21% + 9%)",
        ObjectType::Invoice,
        invoice(c.combined_tax_invoice).map(|(_, k)| k),
        None,
    );
    object(
        "compound tax code (PST on GST)",
        ObjectType::Invoice,
        invoice(c.compound_tax_invoice).map(|(_, k)| k),
        Some("compound taxes are not supported (spec: Tax Codes)"),
    );
    object(
        "negative invoice",
        ObjectType::Invoice,
        invoice(c.negative_invoice).map(|(_, k)| k),
        Some("negative invoices are not sent; the error e-mail goes out (spec: Invoices)"),
    );
    object(
        "multicurrency invoice (entered in EUR, billed in USD)",
        ObjectType::Invoice,
        invoice(c.multicurrency_invoice).map(|(_, k)| k),
        None,
    );
    let levy = vp.invoice_numbers.iter().position(|n| n == LEVY_INVOICE);
    if let Some(key) = levy.and_then(invoice).map(|(_, k)| k) {
        out.push(DemoCase {
            label: "combined tax with no Exact VAT code (21% + environmental levy)",
            target: CaseTarget::Object(ObjectType::Invoice, key),
            deliberate: Some(
                "refused until the ECO+V21 row is added to the combined-tax-codes lookup (the page's fix button), then Synchronize",
            ),
            fixable: true,
        });
    }
    if let Some((number, _)) = invoice(c.multicurrency_invoice) {
        out.push(DemoCase {
            label: "…paid in its billing currency (USD, bank matched by name)",
            target: CaseTarget::Mentioning {
                object_type: ObjectType::CashReceipt,
                text: format!("invoice {number} "),
                at_least: 1,
            },
            deliberate: None,
            fixable: false,
        });
    }
    if let Some(number) = vp.invoice_numbers.first() {
        out.push(DemoCase {
            label: "second partial payment (against the open balance)",
            target: CaseTarget::Mentioning {
                object_type: ObjectType::CashReceipt,
                text: format!("invoice {number} "),
                at_least: 2,
            },
            deliberate: None,
            fixable: false,
        });
    }
    let voucher_key = |i: usize| -> Option<String> {
        let (vendor, number) = vp.voucher_numbers.get(i)?;
        let posting = vp.vouchers.get(i)?;
        Some(if number.is_empty() {
            format!(
                "{vendor}.{}.{}.no-voucher",
                posting.period, posting.post_seq
            )
        } else {
            format!("{vendor}.{number}")
        })
    };
    if let Some(key) = voucher_key(c.payment_currency_voucher) {
        out.push(DemoCase {
            label: "AP voucher entered in EUR, sent in its payment currency USD",
            target: CaseTarget::Object(ObjectType::ApVoucher, key.clone()),
            deliberate: None,
            fixable: false,
        });
        out.push(DemoCase {
            label: "…its AP payment, in USD through the USD bank",
            target: CaseTarget::Mentioning {
                object_type: ObjectType::ApPayment,
                text: format!("voucher {key} "),
                at_least: 1,
            },
            deliberate: None,
            fixable: false,
        });
    }
    if let Some(key) = voucher_key(c.voucher_without_number) {
        out.push(DemoCase {
            label: "AP voucher without a voucher number",
            target: CaseTarget::Object(ObjectType::ApVoucher, key),
            deliberate: Some("voucher numbers are required (spec: AP Vouchers)"),
            fixable: false,
        });
    }
    for posting in &vp.revenue_generation {
        out.push(DemoCase {
            label: "revenue-generation journal (no tax)",
            target: CaseTarget::Object(
                ObjectType::JournalEntry,
                format!("RG.{}.{}", posting.period, posting.post_seq),
            ),
            deliberate: None,
            fixable: false,
        });
    }
    out.push(DemoCase {
        label: "error e-mail of the negative invoice in the mail folder",
        target: CaseTarget::Mail {
            text: invoice(c.negative_invoice)
                .map(|(_, k)| k)
                .unwrap_or_default(),
        },
        deliberate: None,
        fixable: false,
    });
    out
}
