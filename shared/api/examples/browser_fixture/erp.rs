//! The real half of the fixture: both ERP emulators in-process (on 127.0.0.1, port 0), three rounds of the
//! REAL firm-sync (Vantagepoint's firms and employees become Exact accounts, linked by id; one deliberate
//! conflict: a vendor whose code is a client's code, which the page test resolves), and one posted
//! Vantagepoint invoice that the REAL invoice-out flow first refuses (its tax code has no Exact VAT code in
//! the lookup table: the object goes to Error) and, once the missing lookup row exists, posts to Exact Online
//! when an operator clicks Force synchronize.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ledgerlink_clock::SharedClock;
use ledgerlink_domain::{Division, Flow, ObjectKey, ObjectType, SyncStatus, TenantId};
use ledgerlink_emulators::exact::{
    AppRegistration, ExactConfig as ExactEmuConfig, ExactEmulator, UserSpec,
};
use ledgerlink_emulators::server::RunningServer;
use ledgerlink_emulators::vantagepoint::demo::{DemoOptions, DemoSummary};
use ledgerlink_emulators::vantagepoint::{
    FirmSeed, InvoiceLineSeed, InvoiceSeed, VantagepointConfig as VpEmuConfig, VantagepointEmulator,
};
use ledgerlink_flows::FlowContext;
use ledgerlink_flows::connections::{LocalSecrets, SecretValue};
use ledgerlink_ports::{
    ConnectionState, LookupEntry, LookupTable, ObjectRef, PageRequest, SecretRef, StateStores,
    StatusFilter, Tenant, TokenRecord,
};
use serde_json::json;

use crate::AnyError;

const VP_USER: &str = "integration";
const VP_PASSWORD: &str = "integration-password";
const DIVISION: i32 = 499_156;

/// The running emulators (kept alive while the fixture serves).
pub struct Erps {
    pub exact_server: RunningServer,
    pub vp_server: RunningServer,
    pub exact: ExactEmulator,
    pub vp: VantagepointEmulator,
    pub demo: DemoSummary,
    pub app: AppRegistration,
    user: uuid::Uuid,
}

pub async fn spawn(clock: SharedClock, secrets: &LocalSecrets) -> Result<Erps, AnyError> {
    let exact = ExactEmulator::new(ExactEmuConfig {
        clock: clock.clone(),
        ..ExactEmuConfig::default()
    });
    let exact_server = exact.spawn().await?;
    let app = AppRegistration {
        client_id: uuid::Uuid::from_u128(0x1ed9_e71c).to_string(),
        client_secret: "exact-app-secret".into(),
        webhook_secret: "exact-webhook-secret".into(),
        redirect_uri: "http://127.0.0.1/oauth/exact/callback".into(),
        name: "Ledgerlink browser fixture".into(),
    };
    exact.create_app(app.clone());
    let user = exact.create_user(UserSpec {
        id: None,
        full_name: "Integration".into(),
        email: String::new(),
        divisions: vec![],
    });
    let vp = VantagepointEmulator::with_clock(VpEmuConfig::default(), clock.clone());
    let vp_server = vp.spawn().await?;
    let demo = vp.load_demo(&DemoOptions {
        today: Some(clock.now().date_naive()),
        ..DemoOptions::default()
    })?;
    // Credentials are bound to the host they are for, as the connections API stores them.
    let exact_issuer = ledgerlink_exact::issuer(&exact_server.base_url())?;
    let vp_issuer =
        ledgerlink_vantagepoint::issuer(&format!("{}/vantagepoint", vp_server.base_url()))?;
    secrets.set_value(
        "demo/exact/client",
        SecretValue::bound(app.client_secret.clone(), exact_issuer),
    );
    secrets.set("demo/exact/webhook", app.webhook_secret.clone());
    secrets.set_value(
        "demo/vp/client",
        SecretValue::bound(vp.config().client_secret.clone(), vp_issuer.clone()),
    );
    secrets.set_value(
        "demo/vp/password",
        SecretValue::bound(VP_PASSWORD, vp_issuer),
    );
    Ok(Erps {
        exact_server,
        vp_server,
        exact,
        vp,
        demo,
        app,
        user,
    })
}

fn entry(key: &str, columns: &[(&str, &str)], now: DateTime<Utc>) -> LookupEntry {
    LookupEntry {
        key: key.to_owned(),
        columns: columns
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        version: 0,
        updated_at: now,
        updated_by: "setup".into(),
    }
}

/// The tenant record pointing at the emulators, with its Exact tokens and the lookup rows an implementation
/// consultant fills in (G/L accounts, tax codes, bank codes) — except the VAT mapping of `V21`, which
/// [`fix_tax_mapping`] adds after the first attempt failed. Firms and employees get their Exact accounts and
/// links from the real firm-sync ([`firm_sync_rounds`]), as in production.
pub async fn tenant(
    erps: &Erps,
    stores: &StateStores,
    id: &TenantId,
    now: DateTime<Utc>,
) -> Result<Tenant, AnyError> {
    let exact = &erps.exact;
    exact.create_division(DIVISION, "Dolores Agency");
    exact.set_division_access(erps.user, DIVISION, true)?;
    let pair = exact.issue_tokens(&erps.app.client_id, Some(erps.user))?;
    stores
        .tokens
        .save_initial(&TokenRecord {
            connection: format!("exact:{id}"),
            issuer: ledgerlink_exact::issuer(&erps.exact_server.base_url())?,
            access_token: pair.access_token.clone(),
            refresh_token: pair.refresh_token.clone(),
            access_expires_at: now + chrono::Duration::seconds(600),
            issued_at: now,
            generation: 0,
        })
        .await?;
    let gl = exact.entities(DIVISION, "financial/GLAccounts")?;
    let gl_id = |code: &str| {
        gl.iter()
            .find(|r| r.get("Code").and_then(|c| c.as_str()).map(str::trim) == Some(code))
            .and_then(|r| r.get("ID").and_then(|v| v.as_str()).map(str::to_owned))
            .ok_or_else(|| format!("the emulator has no GL account {code}"))
    };
    let (revenue, expense) = (gl_id("8000")?, gl_id("4000")?);
    for account in ["40100", "40200", "40300"] {
        stores
            .lookups
            .put(
                id,
                LookupTable::GlAccounts,
                &entry(account, &[("exact_id", &revenue)], now),
                None,
            )
            .await?;
    }
    for account in [
        "11100", "12100", "12500", "12510", "21000", "21500", "52100", "60100", "65100",
    ] {
        stores
            .lookups
            .put(
                id,
                LookupTable::GlAccounts,
                &entry(account, &[("exact_id", &expense)], now),
                None,
            )
            .await?;
    }
    for (exact_code, vp_code, rate) in [("1", "V9", "9"), ("0", "V0", "0")] {
        let row = entry(exact_code, &[("vp_code", vp_code), ("rate", rate)], now);
        stores
            .lookups
            .put(id, LookupTable::TaxCodes, &row, None)
            .await?;
    }
    stores
        .lookups
        .put(
            id,
            LookupTable::BankCodes,
            &entry("20", &[("vp_bank_code", "EURBANK")], now),
            None,
        )
        .await?;
    let start = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
    Ok(Tenant {
        id: id.clone(),
        name: "Dolores Agency".into(),
        vp_base_url: format!("{}/vantagepoint", erps.vp_server.base_url()),
        vp_database: erps.vp.config().database.clone(),
        vp_culture: "en-US".into(),
        vp_client_id: erps.vp.config().client_id.clone(),
        vp_client_secret: SecretRef::Local("demo/vp/client".into()),
        vp_username: VP_USER.into(),
        vp_password: SecretRef::Local("demo/vp/password".into()),
        exact_base_url: erps.exact_server.base_url(),
        exact_division: Division(u32::try_from(DIVISION)?),
        exact_client_id: erps.app.client_id.clone(),
        exact_client_secret: SecretRef::Local("demo/exact/client".into()),
        exact_webhook_secret: SecretRef::Local("demo/exact/webhook".into()),
        state: ConnectionState::Active,
        paused_reason: None,
        settings: BTreeMap::from([
            ("sync_start".to_owned(), json!(start.to_rfc3339())),
            ("company".to_owned(), json!(erps.demo.company)),
        ]),
        version: 0,
        updated_at: now,
    })
}

/// Posts invoice 900042 (one V21 fee line) in Vantagepoint, discovers it and runs invoice-out once: the
/// object ends in Error (no Exact VAT code for V21). Returns the object key.
pub async fn failing_invoice(
    erps: &Erps,
    ctx: &FlowContext,
    tenant: &TenantId,
) -> Result<String, AnyError> {
    let today = ctx.clock.now().date_naive();
    let posting = erps.vp.post_invoice(&InvoiceSeed {
        invoice: "900042".into(),
        wbs1: erps
            .demo
            .projects
            .first()
            .cloned()
            .ok_or("the demo has no project")?,
        wbs2: "01".into(),
        trans_date: Some(today),
        period: Some(erps.demo.active_period),
        description: "Invoice 900042".into(),
        lines: vec![InvoiceLineSeed {
            section: "F".into(),
            description: "Professional fees".into(),
            account: "40100".into(),
            amount: rust_decimal::Decimal::new(125_050, 2),
            tax_codes: vec!["V21".into()],
            wbs2: None,
            wbs3: None,
        }],
        ..InvoiceSeed::default()
    })?;
    let key = format!("900042.{}.{}", posting.period, posting.post_seq);
    // Let the discovery window (which ends `discover_lag` before now) close over the posting.
    tokio::time::sleep(ctx.settings.discover_lag + Duration::from_millis(1200)).await;
    ledgerlink_flows::discover(ctx, Flow::InvoiceOut, tenant).await?;
    ledgerlink_flows::drain(
        ctx,
        Flow::InvoiceOut,
        50,
        Duration::from_secs(30),
        Duration::from_millis(200),
    )
    .await?;
    let object = ObjectRef {
        tenant: tenant.clone(),
        object_type: ObjectType::Invoice,
        key: ObjectKey::parse(&key)?,
    };
    let status = ctx
        .stores
        .statuses
        .get(&object)
        .await?
        .ok_or("invoice-out did not record the invoice")?;
    if status.status != SyncStatus::Error {
        return Err(format!(
            "expected the first attempt to fail, got {:?}: {:?}",
            status.status, status.last_message
        )
        .into());
    }
    Ok(key)
}

/// The operator's fix: the VAT mapping of V21 (Exact code 2, 21 %).
pub async fn fix_tax_mapping(
    stores: &StateStores,
    tenant: &TenantId,
    now: DateTime<Utc>,
) -> Result<(), AnyError> {
    // firm-sync's initial tax-code pull may have given Exact's code 2 a generated VP code: the operator
    // maps it to VP's own V21 instead.
    let current = stores
        .lookups
        .get(tenant, LookupTable::TaxCodes, "2")
        .await?;
    let mut row = entry("2", &[("vp_code", "V21"), ("rate", "21")], now);
    row.version = current.as_ref().map_or(0, |r| r.version);
    stores
        .lookups
        .put(
            tenant,
            LookupTable::TaxCodes,
            &row,
            current.map(|r| r.version),
        )
        .await?;
    Ok(())
}

/// The name of the fixture's deliberate link conflict: a vendor-only firm whose vendor code is the client
/// code of a client that is already synced (Exact has one code space for both).
pub const CONFLICT_FIRM: &str = "Shared Code Supplies BV";

/// Adds the deliberate conflict to Vantagepoint, then runs firm-sync `rounds` times as the schedule would
/// (discovery, then the queue drained). Fails unless the only firm or employee in Error afterwards is the
/// deliberate conflict. Returns its object key (its `ClientID`).
pub async fn firm_sync_rounds(
    erps: &Erps,
    ctx: &FlowContext,
    tenant: &TenantId,
    rounds: usize,
) -> Result<String, AnyError> {
    let client = erps
        .demo
        .syncable_client_ids
        .first()
        .and_then(|id| erps.vp.firm(id))
        .and_then(|f| f.get("Client").and_then(|c| c.as_str()).map(str::to_owned))
        .ok_or("the demo has no syncable client")?;
    let conflict = erps.vp.add_firm(FirmSeed {
        vendor: Some(client),
        name: CONFLICT_FIRM.into(),
        is_vendor: true,
        available_to_accounting: true,
        org: "A0:01:10".into(),
        email: "ap@shared-code.example".into(),
        phone: "+31 30 111 2222".into(),
        ..FirmSeed::default()
    })?;
    for _ in 0..rounds {
        // Let the discovery window (which ends `discover_lag` before now) close over the last changes.
        tokio::time::sleep(ctx.settings.discover_lag + Duration::from_millis(1100)).await;
        ledgerlink_flows::discover(ctx, Flow::FirmSync, tenant).await?;
        ledgerlink_flows::drain(
            ctx,
            Flow::FirmSync,
            200,
            Duration::from_secs(30),
            Duration::from_millis(200),
        )
        .await?;
    }
    let errors = ctx
        .stores
        .statuses
        .list(
            tenant,
            &StatusFilter {
                status: Some(SyncStatus::Error),
                ..StatusFilter::default()
            },
            PageRequest::first(100),
        )
        .await?
        .items;
    let unexpected: Vec<String> = errors
        .iter()
        .filter(|s| s.object.key.as_str() != conflict)
        .map(|s| {
            format!(
                "{} {}: {}",
                s.object.object_type,
                s.object.key,
                s.last_message.as_deref().unwrap_or("")
            )
        })
        .collect();
    if !unexpected.is_empty() {
        return Err(format!(
            "after {rounds} firm-sync rounds these are in Error besides the deliberate conflict:\n{}",
            unexpected.join("\n")
        )
        .into());
    }
    if errors.is_empty() {
        return Err("the deliberate link conflict did not end in Error".into());
    }
    Ok(conflict)
}
