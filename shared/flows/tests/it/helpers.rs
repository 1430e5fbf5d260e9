//! Spawns everything a flow test needs, in-process: both emulators on 127.0.0.1:0 (sharing one manual
//! clock with the flows), an embedded store in a temp dir, and a fresh tenant (its own Exact division,
//! tokens, links and lookup rows) per call to [`World::tenant`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use ledgerlink_clock::{Clock, ManualClock};
use ledgerlink_domain::{Division, Flow, ObjectKey, ObjectType, TenantId};
use ledgerlink_emulators::exact::{
    AppRegistration, ExactConfig as ExactEmuConfig, ExactEmulator, UserSpec,
};
use ledgerlink_emulators::server::RunningServer;
use ledgerlink_emulators::vantagepoint::demo::{DemoOptions, DemoSummary};
use ledgerlink_emulators::vantagepoint::{
    InvoiceLineSeed, InvoiceSeed, Posting, VantagepointConfig as VpEmuConfig, VantagepointEmulator,
};
use ledgerlink_flows::connections::{ClientTuning, ErpConnections, LocalSecrets, SecretValue};
use ledgerlink_flows::{DrainReport, FlowContext, FlowSettings};
use ledgerlink_ports::{
    ConnectionState, IdLink, LookupEntry, LookupTable, ObjectRef, ObjectStatus, SecretRef, Tenant,
    TokenRecord,
};
use ledgerlink_store_embedded::EmbeddedStore;
use rust_decimal::Decimal;
use serde_json::json;
use uuid::Uuid;

pub const VP_USER: &str = "integration";
pub const VP_PASSWORD: &str = "integration-password";

pub struct World {
    /// When the world was created: before the demo's postings.
    pub started: DateTime<Utc>,
    pub clock: ManualClock,
    pub exact: ExactEmulator,
    pub exact_server: RunningServer,
    pub vp: VantagepointEmulator,
    pub vp_server: RunningServer,
    pub demo: DemoSummary,
    /// Kept open for the whole test (the queue and state ports share its connection).
    _store: EmbeddedStore,
    pub ctx: FlowContext,
    /// The local secret store the connections resolve from (tenants' secrets are under `<tenant>/`).
    pub secrets: Arc<LocalSecrets>,
    pub app: AppRegistration,
    pub user: Uuid,
    next_division: AtomicI32,
    _dir: tempfile::TempDir,
}

/// Which master data a new tenant starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prelink {
    /// Every demo firm, vendor and employee linked to a pre-made Exact account (as if firm-sync had run).
    All,
    /// Nothing: master data is left to firm-sync.
    Nothing,
}

pub struct TenantFixture {
    pub id: TenantId,
    pub division: i32,
}

impl World {
    pub async fn spawn() -> World {
        Self::spawn_with(|_| {}).await
    }

    /// A world whose Exact emulator is configured by `tweak` (e.g. a small sync page).
    pub async fn spawn_with(tweak: impl FnOnce(&mut ExactEmuConfig)) -> World {
        let clock = ManualClock::fixed();
        let started = clock.now() - chrono::Duration::seconds(1);
        let mut config = ExactEmuConfig {
            clock: clock.shared(),
            ..ExactEmuConfig::default()
        };
        tweak(&mut config);
        let exact = ExactEmulator::new(config);
        let exact_server = exact.spawn().await.unwrap();
        let app = AppRegistration {
            client_id: Uuid::from_u128(0x1ed9_e71c).to_string(),
            client_secret: "exact-app-secret".into(),
            webhook_secret: "exact-webhook-secret".into(),
            redirect_uri: "http://127.0.0.1/oauth/exact/callback".into(),
            name: "Ledgerlink tests".into(),
        };
        exact.create_app(app.clone());
        let user = exact.create_user(UserSpec {
            id: None,
            full_name: "Integration".into(),
            email: String::new(),
            divisions: vec![],
        });

        let vp = VantagepointEmulator::with_clock(VpEmuConfig::default(), clock.shared());
        let vp_server = vp.spawn().await.unwrap();
        let today = clock.now().date_naive();
        let demo = vp
            .load_demo(&DemoOptions {
                today: Some(today),
                ..DemoOptions::default()
            })
            .unwrap();
        // The demo's own postings are before every tenant's `sync_start`.
        clock.advance(Duration::from_secs(5));

        // A memory-backed temp dir when the machine has one: the suite writes a lot of small transactions.
        let shm = std::path::Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            tempfile::tempdir_in(shm)
        } else {
            tempfile::tempdir()
        }
        .unwrap();
        let store = EmbeddedStore::open(dir.path().join("state.db")).unwrap();
        // Each tenant's secrets are set when it is created (`tenant_with`), under its own name.
        let secrets = Arc::new(LocalSecrets::new());
        let stores = store.state_stores();
        let connections = ErpConnections::new(
            secrets.clone(),
            stores.tokens.clone(),
            stores.rate.clone(),
            clock.shared(),
            app.redirect_uri.clone(),
        )
        .with_allowed_hosts(ledgerlink_flows::hosts::AllowedErpHosts::parse("127.0.0.1").unwrap())
        .with_tuning(ClientTuning {
            exact_outcome_settle: Some(Duration::from_secs(1)),
            request_timeout: Some(Duration::from_secs(20)),
            ..ClientTuning::default()
        });
        let ctx = FlowContext {
            stores,
            queue: store.queue_with_max_receives(clock.shared(), 10_000),
            connections: Arc::new(connections),
            clock: clock.shared(),
            settings: FlowSettings {
                discover_lag: Duration::from_secs(1),
                ..FlowSettings::default()
            },
        };
        World {
            started,
            clock,
            exact,
            exact_server,
            vp,
            vp_server,
            demo,
            _store: store,
            ctx,
            secrets,
            app,
            user,
            next_division: AtomicI32::new(100_000),
            _dir: dir,
        }
    }

    /// Exact Online's consent for `tenant` (new tokens from the emulator), stored as the consent callback
    /// stores them: bound to the issuing host, replacing whatever was there.
    pub async fn consent_exact(&self, tenant: &TenantId) {
        let pair = self
            .exact
            .issue_tokens(&self.app.client_id, Some(self.user))
            .unwrap();
        let now = self.now();
        self.ctx
            .stores
            .tokens
            .save_initial(&TokenRecord {
                connection: format!("exact:{tenant}"),
                issuer: ledgerlink_exact::issuer(&self.exact_server.base_url()).unwrap(),
                access_token: pair.access_token.clone(),
                refresh_token: pair.refresh_token.clone(),
                access_expires_at: now + chrono::Duration::seconds(600),
                issued_at: now,
                generation: 0,
            })
            .await
            .unwrap();
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn today(&self) -> NaiveDate {
        self.now().date_naive()
    }

    /// A fresh tenant: its own Exact division (template data, a customer and a supplier account), tokens,
    /// links of every demo firm / vendor / employee to those accounts, and the lookup rows the demo needs.
    /// Discovery starts now (earlier tenants' documents are not seen).
    pub async fn tenant(&self, name: &str) -> TenantFixture {
        self.tenant_since(name, None).await
    }

    /// A fresh tenant whose discovery starts at `since` (default: now).
    pub async fn tenant_since(&self, name: &str, since: Option<DateTime<Utc>>) -> TenantFixture {
        self.tenant_with(name, since, Prelink::All).await
    }

    /// A fresh tenant starting with the master data `prelink` says.
    pub async fn tenant_with(
        &self,
        name: &str,
        since: Option<DateTime<Utc>>,
        prelink: Prelink,
    ) -> TenantFixture {
        let division = self.next_division.fetch_add(1, Ordering::SeqCst);
        self.exact.create_division(division, name);
        self.exact
            .set_division_access(self.user, division, true)
            .unwrap();
        let id = TenantId::parse(&format!("{name}-{division}")).unwrap();
        let now = self.now();
        let exact_base = self.exact_server.base_url();
        let vp_base = format!("{}/vantagepoint", self.vp_server.base_url());
        let exact_issuer = ledgerlink_exact::issuer(&exact_base).unwrap();
        let vp_issuer = ledgerlink_vantagepoint::issuer(&vp_base).unwrap();
        // Credentials are bound to the host they were entered for, as the connections API stores them.
        self.secrets.set_value(
            format!("{id}/exact/client_secret"),
            SecretValue::bound(self.app.client_secret.clone(), exact_issuer.clone()),
        );
        self.secrets.set(
            format!("{id}/exact/webhook_secret"),
            self.app.webhook_secret.clone(),
        );
        self.secrets.set_value(
            format!("{id}/vantagepoint/client_secret"),
            SecretValue::bound(self.vp.config().client_secret.clone(), vp_issuer.clone()),
        );
        self.secrets.set_value(
            format!("{id}/vantagepoint/password"),
            SecretValue::bound(VP_PASSWORD, vp_issuer),
        );
        self.consent_exact(&id).await;
        let account = |code: usize, name: &str, supplier: bool| {
            let fields = if supplier {
                json!({"Name": name, "Code": code.to_string(), "IsSupplier": true})
            } else {
                json!({"Name": name, "Code": code.to_string(), "Status": "C"})
            };
            self.exact.seed(division, "crm/Accounts", fields).unwrap()
        };
        let customer = account(100, "Demo customer", false);
        let supplier = account(200, "Demo supplier", true);
        let links = &self.ctx.stores.links;
        let link = |object_type: ObjectType, vp_key: String, exact_id: &str| {
            IdLink::new(id.clone(), object_type, vp_key, exact_id, now)
        };
        // Links are 1:1: one Exact account per demo firm and employee (the first client is `customer`).
        let clients = match prelink {
            Prelink::All => self.demo.client_ids.len(),
            Prelink::Nothing => 0,
        };
        let all = prelink == Prelink::All;
        for (i, client) in self.demo.client_ids.iter().enumerate().take(clients) {
            let exact_id = if i == 0 {
                customer.clone()
            } else {
                account(100 + i, client, false)
            };
            links
                .link(&link(ObjectType::Firm, client.clone(), &exact_id))
                .await
                .unwrap();
        }
        for (i, employee) in self.demo.employees.iter().enumerate().filter(|_| all) {
            let exact_id = if i == 0 {
                supplier.clone()
            } else {
                account(300 + i, employee, true)
            };
            links
                .link(&link(ObjectType::Employee, employee.clone(), &exact_id))
                .await
                .unwrap();
        }
        let gl = self
            .exact
            .entities(division, "financial/GLAccounts")
            .unwrap();
        let gl_id = |code: &str| {
            gl.iter()
                .find(|r| r.get("Code").and_then(|c| c.as_str()).map(str::trim) == Some(code))
                .and_then(|r| r.get("ID").and_then(|v| v.as_str()).map(str::to_owned))
                .unwrap()
        };
        let (revenue, expense) = (gl_id("8000"), gl_id("4000"));
        let put = |table: LookupTable, key: &str, columns: &[(&str, &str)]| {
            let entry = LookupEntry {
                key: key.to_owned(),
                columns: columns
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
                version: 0,
                updated_at: now,
                updated_by: "test".into(),
            };
            let lookups = self.ctx.stores.lookups.clone();
            let id = id.clone();
            async move { lookups.put(&id, table, &entry, None).await.unwrap() }
        };
        for account in ["40100", "40200", "40300"] {
            put(LookupTable::GlAccounts, account, &[("exact_id", &revenue)]).await;
        }
        for account in [
            "11100", "12100", "12500", "12510", "21000", "21500", "52100", "60100", "65100",
        ] {
            put(LookupTable::GlAccounts, account, &[("exact_id", &expense)]).await;
        }
        for (exact_code, vp_code, rate) in [("2", "V21", "21"), ("1", "V9", "9"), ("0", "V0", "0")]
        {
            put(
                LookupTable::TaxCodes,
                exact_code,
                &[("vp_code", vp_code), ("rate", rate)],
            )
            .await;
        }
        put(LookupTable::BankCodes, "20", &[("vp_bank_code", "EURBANK")]).await;
        let vendors = if all { self.demo.vendors.len() } else { 0 };
        for (i, vendor) in self.demo.vendors.iter().enumerate().take(vendors) {
            let exact_id = account(200 + i + 50, vendor, true);
            put(LookupTable::Firms, vendor, &[("exact_id", &exact_id)]).await;
        }

        let start = since.unwrap_or_else(|| DateTime::from_timestamp(now.timestamp(), 0).unwrap());
        let settings: BTreeMap<String, serde_json::Value> = BTreeMap::from([
            ("sync_start".to_owned(), json!(start.to_rfc3339())),
            ("company".to_owned(), json!(self.demo.company)),
            // What firm-sync's set-up proposes from the Exact template (its one VAT code of type "no VAT").
            ("no_vat_code".to_owned(), json!("6")),
        ]);
        let tenant = Tenant {
            id: id.clone(),
            name: format!("Tenant {name}"),
            vp_base_url: vp_base,
            vp_database: self.vp.config().database.clone(),
            vp_culture: "en-US".into(),
            vp_client_id: self.vp.config().client_id.clone(),
            vp_client_secret: SecretRef::Local(format!("{id}/vantagepoint/client_secret")),
            vp_username: VP_USER.into(),
            vp_password: SecretRef::Local(format!("{id}/vantagepoint/password")),
            exact_base_url: exact_base,
            exact_division: Division(u32::try_from(division).unwrap()),
            exact_client_id: self.app.client_id.clone(),
            exact_client_secret: SecretRef::Local(format!("{id}/exact/client_secret")),
            exact_webhook_secret: SecretRef::Local(format!("{id}/exact/webhook_secret")),
            state: ConnectionState::Active,
            paused_reason: None,
            settings,
            version: 0,
            updated_at: now,
        };
        self.ctx.stores.tenants.put(&tenant, None).await.unwrap();
        // Documents posted from here on are after `sync_start`.
        self.clock.advance(Duration::from_secs(1));
        TenantFixture { id, division }
    }

    /// Posts an invoice of one fee line per amount (tax V21) on the demo's first project.
    pub fn post_invoice(&self, number: &str, amounts: &[Decimal]) -> Posting {
        let seed = InvoiceSeed {
            invoice: number.to_owned(),
            wbs1: self.demo.projects[0].clone(),
            wbs2: "01".into(),
            trans_date: Some(self.today()),
            period: Some(self.demo.active_period),
            description: format!("Invoice {number}"),
            lines: amounts
                .iter()
                .map(|a| InvoiceLineSeed {
                    section: "F".into(),
                    description: "Professional fees".into(),
                    account: "40100".into(),
                    amount: *a,
                    tax_codes: vec!["V21".into()],
                    wbs2: None,
                    wbs3: None,
                })
                .collect(),
            ..InvoiceSeed::default()
        };
        self.vp.post_invoice(&seed).unwrap()
    }

    /// Lets discovery windows close over what was just posted.
    pub fn tick(&self) {
        self.clock.advance(Duration::from_secs(2));
    }

    pub async fn drain(&self, flow: Flow) -> DrainReport {
        ledgerlink_flows::drain(
            &self.ctx,
            flow,
            10_000,
            Duration::from_secs(60),
            Duration::from_secs(1),
        )
        .await
        .unwrap()
    }

    pub async fn status(
        &self,
        tenant: &TenantId,
        object_type: ObjectType,
        key: &str,
    ) -> Option<ObjectStatus> {
        let object = ObjectRef {
            tenant: tenant.clone(),
            object_type,
            key: ObjectKey::parse(key).unwrap(),
        };
        self.ctx.stores.statuses.get(&object).await.unwrap()
    }

    /// A consistent copy of the whole state store (an operator's backup).
    pub async fn backup(&self, path: &std::path::Path) {
        self._store.backup_to(path).await.unwrap();
    }

    /// A flow context on another store (e.g. one restored from a backup), with this world's connections,
    /// clock and settings.
    pub fn context_on(&self, store: &EmbeddedStore) -> FlowContext {
        FlowContext {
            stores: store.state_stores(),
            queue: store.queue_with_max_receives(self.clock.shared(), 10_000),
            connections: self.ctx.connections.clone(),
            clock: self.clock.shared(),
            settings: self.ctx.settings.clone(),
        }
    }

    /// This world's context on a queue with production semantics: at most `max_receives` receives before a
    /// message goes to the dead-letter queue (`template.yaml`: 5).
    pub fn context_with_max_receives(&self, max_receives: u32) -> FlowContext {
        FlowContext {
            queue: self
                ._store
                .queue_with_max_receives(self.clock.shared(), max_receives),
            ..self.ctx.clone()
        }
    }

    /// The `EntryID` of the sales entry carrying our reference `your_ref`.
    pub fn sales_entry_id(&self, division: i32, your_ref: &str) -> Option<String> {
        self.exact
            .entities(division, "salesentry/SalesEntries")
            .unwrap()
            .iter()
            .find(|r| r.get("YourRef").and_then(|v| v.as_str()) == Some(your_ref))
            .and_then(|r| r.get("EntryID").and_then(|v| v.as_str()).map(str::to_owned))
    }

    /// The cash-receipt objects of a tenant.
    pub async fn receipts(&self, tenant: &TenantId) -> Vec<ObjectStatus> {
        self.ctx
            .stores
            .statuses
            .list(
                tenant,
                &ledgerlink_ports::StatusFilter {
                    object_type: Some(ObjectType::CashReceipt),
                    ..Default::default()
                },
                ledgerlink_ports::PageRequest::first(100),
            )
            .await
            .unwrap()
            .items
    }

    /// The sales entry of an invoice in Exact, by our reference.
    pub fn sales_entries(&self, division: i32, your_ref: &str) -> usize {
        self.exact
            .count_sales_entries_with_your_ref(division, your_ref)
    }
}

pub fn object(tenant: &TenantId, object_type: ObjectType, key: &str) -> ObjectRef {
    ObjectRef {
        tenant: tenant.clone(),
        object_type,
        key: ObjectKey::parse(key).unwrap(),
    }
}

/// `"{invoice}.{period}.{post_seq}"` of a posting.
pub fn invoice_key(number: &str, posting: &Posting) -> String {
    format!("{number}.{}.{}", posting.period, posting.post_seq)
}
