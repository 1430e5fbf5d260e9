//! The world one lane of fault runs lives in: both emulators in-process on 127.0.0.1:0 sharing one manual
//! clock with the flows, and the state and queue ports on the store under test — the embedded store (SQLite in
//! a memory-backed temp dir) or the AWS adapters (DynamoDB, S3 and SQS on a moto server of the world's own).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use ledgerlink_clock::{Clock, ManualClock, SharedClock};
use ledgerlink_domain::{Division, Flow, ObjectKey, ObjectType, TenantId};
use ledgerlink_emulators::exact::{
    AppRegistration, ExactConfig as ExactEmuConfig, ExactEmulator, UserSpec,
};
use ledgerlink_emulators::server::RunningServer;
use ledgerlink_emulators::vantagepoint::demo::{DemoOptions, DemoSummary};
use ledgerlink_emulators::vantagepoint::{
    ExpenseLineSeed, InvoiceLineSeed, InvoiceSeed, Posting, VantagepointConfig as VpEmuConfig,
    VantagepointEmulator, VoucherSeed,
};
use ledgerlink_ports::{
    ConnectionState, IdLink, IdempotencyBegin, IdempotencyStore, LookupEntry, LookupTable,
    ObjectRef, ObjectStatus, QueueName, ReceivedMessage, SecretRef, StoreResult, Tenant,
    TokenRecord, WorkMessage, WorkQueue,
};
use ledgerlink_store_embedded::EmbeddedStore;
use serde_json::json;
use std::sync::Mutex;
use uuid::Uuid;

use super::clock::{FileClock, WorldClock};
use super::process::{ProcessPlan, ProcessWorkers};
use crate::connections::{ClientTuning, ErpConnections, LocalSecrets, SecretValue};
use crate::{FlowContext, FlowSettings};

pub const VP_USER: &str = "integration";
pub const VP_PASSWORD: &str = "integration-password";

/// Which adapters carry the state and the work queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// SQLite + the embedded queue (the local stack's store).
    Embedded,
    /// DynamoDB + SQS (+ S3) on moto's server (`LEDGERLINK_MOTO_SERVER`).
    Aws,
}

impl StoreKind {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "embedded" => Some(Self::Embedded),
            "aws" => Some(Self::Aws),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Embedded => "embedded",
            Self::Aws => "aws",
        }
    }
}

/// The store under a world, kept open for the world's lifetime.
#[derive(Debug)]
enum Backend {
    Embedded {
        store: EmbeddedStore,
        _dir: tempfile::TempDir,
    },
    /// A moto server of this world's own (moto serves one request at a time: worlds side by side each get
    /// one, and a renewed world starts on an empty one).
    Aws {
        _moto: ledgerlink_testkit::MotoServer,
    },
}

/// Both emulators, one store, one manual clock, and the flow context the runs drive.
#[derive(Debug)]
pub struct FaultWorld {
    pub store: StoreKind,
    pub clock: WorldClock,
    pub exact: ExactEmulator,
    pub exact_server: RunningServer,
    pub vp: VantagepointEmulator,
    pub vp_server: RunningServer,
    pub demo: DemoSummary,
    pub ctx: FlowContext,
    pub secrets: Arc<LocalSecrets>,
    pub app: AppRegistration,
    pub user: Uuid,
    /// Every idempotency key claimed in this world, with its payload hash (the "every record completed"
    /// invariant is checked on them).
    pub claims: Arc<ClaimLog>,
    /// The adapter's idempotency store itself, without the log.
    pub idempotency: Arc<dyn IdempotencyStore>,
    /// Worker processes sharing the embedded store and the clock (`None`: every worker is a task here).
    pub processes: Option<ProcessWorkers>,
    /// Every secret set for a tenant, in its stored form (handed to worker processes on their stdin).
    secret_log: Mutex<Vec<(String, String)>>,
    backend: Backend,
    next_division: AtomicI32,
    reconnects: AtomicU64,
}

/// Which master data a new tenant starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prelink {
    /// Only the billing client of the demo's first project and the first vendor (the fault runs' data).
    FirstClient,
    /// Nothing: master data is left to firm-sync.
    Nothing,
}

#[derive(Debug, Clone)]
pub struct TenantFixture {
    pub id: TenantId,
    pub division: i32,
}

/// The world's queue receive limit before the dead-letter queue, as in `template.yaml`.
pub const MAX_RECEIVES: u32 = 5;

impl FaultWorld {
    /// A new world on `store`. On [`StoreKind::Aws`] the process's moto server is started on first use.
    pub async fn spawn(store: StoreKind) -> Result<FaultWorld, String> {
        Self::spawn_with(store, None).await
    }

    /// A new world; with `processes`, on the embedded store only, its workers are processes started by
    /// `processes`' launcher that share the store's file and the world's clock (a file beside it).
    pub async fn spawn_with(
        store: StoreKind,
        processes: Option<ProcessPlan>,
    ) -> Result<FaultWorld, String> {
        if processes.is_some() && store != StoreKind::Embedded {
            return Err(
                "worker processes share the embedded store's file: use --store embedded".into(),
            );
        }
        // A memory-backed temp dir when the machine has one: the runs write many small transactions.
        let shm = std::path::Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            tempfile::tempdir_in(shm)
        } else {
            tempfile::tempdir()
        }
        .map_err(|e| e.to_string())?;
        let clock_path = dir.path().join("clock");
        let db_path = dir.path().join("state.db");
        let clock = match processes {
            Some(_) => WorldClock::File(
                FileClock::create(&clock_path, ManualClock::fixed().now())
                    .map_err(|e| format!("the world's clock file: {e}"))?,
            ),
            None => WorldClock::Manual(ManualClock::fixed()),
        };
        let config = ExactEmuConfig {
            clock: clock.shared(),
            // A world serves up to `renew_every` runs, each a tenant's whole history, within one day of its
            // clock: Exact's 200 token calls per app and day would be a property of the harness, not of the
            // flows (the token faults alone cause hundreds of refreshes). Counted, never refused.
            token_calls_per_day: None,
            ..ExactEmuConfig::default()
        };
        let exact = ExactEmulator::new(config);
        let exact_server = exact.spawn().await.map_err(|e| e.to_string())?;
        let app = AppRegistration {
            client_id: Uuid::from_u128(0x1ed9_e71c).to_string(),
            client_secret: "exact-app-secret".into(),
            webhook_secret: "exact-webhook-secret".into(),
            redirect_uri: "http://127.0.0.1/oauth/exact/callback".into(),
            name: "Ledgerlink fault runs".into(),
        };
        exact.create_app(app.clone());
        let user = exact.create_user(UserSpec {
            id: None,
            full_name: "Integration".into(),
            email: String::new(),
            divisions: vec![],
        });
        let vp = VantagepointEmulator::with_clock(VpEmuConfig::default(), clock.shared());
        let vp_server = vp.spawn().await.map_err(|e| e.to_string())?;
        let today = clock.now().date_naive();
        let demo = vp
            .load_demo(&DemoOptions {
                today: Some(today),
                ..DemoOptions::default()
            })
            .map_err(|e| e.to_string())?;
        // The demo's own postings are before every tenant's `sync_start`.
        clock.advance(Duration::from_secs(5));
        // Delayed commits come due on the world's clock.
        exact.faults().set_clock(clock.shared());
        vp.faults().set_clock(clock.shared());

        let (backend, mut stores, queue): (
            Backend,
            ledgerlink_ports::StateStores,
            Arc<dyn WorkQueue>,
        ) = match store {
            StoreKind::Embedded => {
                let embedded = EmbeddedStore::open(&db_path).map_err(|e| e.to_string())?;
                let stores = embedded.state_stores();
                let queue = embedded.queue_with_max_receives(clock.shared(), MAX_RECEIVES);
                (
                    Backend::Embedded {
                        store: embedded,
                        _dir: dir,
                    },
                    stores,
                    queue,
                )
            }
            StoreKind::Aws => {
                let (moto, stores, queue) = aws_stores().await?;
                // SQS hides messages in real seconds: every wait is served on the world's clock instead.
                let queue: Arc<dyn WorkQueue> = Arc::new(ClockedQueue::new(queue, clock.shared()));
                (Backend::Aws { _moto: moto }, stores, queue)
            }
        };
        let claims = Arc::new(ClaimLog::default());
        let idempotency = stores.idempotency.clone();
        stores.idempotency = Arc::new(LoggedIdempotency {
            inner: stores.idempotency.clone(),
            log: claims.clone(),
        });
        let secrets = Arc::new(LocalSecrets::new());
        let ctx = flow_context(
            stores,
            queue,
            secrets.clone(),
            clock.shared(),
            &app.redirect_uri,
        )?;
        let processes = processes.map(|plan| {
            ProcessWorkers::new(plan, db_path.clone(), clock_path.clone(), &app.redirect_uri)
        });
        Ok(FaultWorld {
            store,
            clock,
            exact,
            exact_server,
            vp,
            vp_server,
            demo,
            ctx,
            secrets,
            app,
            user,
            claims,
            idempotency,
            processes,
            secret_log: Mutex::new(Vec::new()),
            backend,
            next_division: AtomicI32::new(100_000),
            reconnects: AtomicU64::new(0),
        })
    }

    /// The embedded store under this world (`None` on the AWS adapters).
    pub fn embedded(&self) -> Option<&EmbeddedStore> {
        match &self.backend {
            Backend::Embedded { store, .. } => Some(store),
            Backend::Aws { .. } => None,
        }
    }

    /// Exact Online's consent for `tenant` (new tokens from the emulator), stored as the consent callback
    /// stores them.
    pub async fn consent_exact(&self, tenant: &TenantId) -> Result<(), String> {
        let pair = self
            .exact
            .issue_tokens(&self.app.client_id, Some(self.user))
            .map_err(|e| e.to_string())?;
        let now = self.now();
        self.ctx
            .stores
            .tokens
            .save_initial(&TokenRecord {
                connection: format!("exact:{tenant}"),
                issuer: ledgerlink_exact::issuer(&self.exact_server.base_url())
                    .map_err(|e| e.to_string())?,
                access_token: pair.access_token.clone(),
                refresh_token: pair.refresh_token.clone(),
                access_expires_at: now + chrono::Duration::seconds(600),
                issued_at: now,
                generation: 0,
            })
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    /// Marks the stored Exact access token of `tenant` expired, so the next call refreshes it (through the
    /// token endpoint's faults).
    pub async fn expire_exact_access(&self, tenant: &TenantId) -> Result<(), String> {
        let connection = format!("exact:{tenant}");
        let Some(mut record) = self
            .ctx
            .stores
            .tokens
            .load(&connection)
            .await
            .map_err(|e| e.to_string())?
        else {
            return Err(format!("no tokens stored for {connection}"));
        };
        // Exact refuses a refresh within 570 s of the issue: the token is as old as that.
        record.issued_at = self.now() - chrono::Duration::seconds(601);
        record.access_expires_at = self.now() - chrono::Duration::seconds(1);
        self.ctx
            .stores
            .tokens
            .save_initial(&record)
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    /// What a user does when the Exact connection of `tenant` is paused for a reconnect (a rotated refresh
    /// token whose answer never reached us): consents again and resumes the tenant.
    pub async fn reconnect_exact_if_paused(&self, tenant: &TenantId) -> Result<bool, String> {
        let record = self.ctx.tenant(tenant).await.map_err(|e| e.to_string())?;
        let needs = record.state != ConnectionState::Active
            && record
                .paused_reason
                .as_deref()
                .is_some_and(|r| r.contains("Exact Online must be reconnected"));
        if !needs {
            return Ok(false);
        }
        self.consent_exact(tenant).await?;
        self.reconnects.fetch_add(1, Ordering::Relaxed);
        crate::operator::resume(&self.ctx, tenant)
            .await
            .map_err(|e| e.to_string())?;
        Ok(true)
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Sets a tenant's secret (and keeps its stored form for worker processes).
    fn secret(&self, name: String, value: SecretValue) {
        if let Ok(mut log) = self.secret_log.lock() {
            log.push((name.clone(), value.to_stored()));
        }
        self.secrets.set_value(name, value);
    }

    /// Every tenant secret set so far, in its stored form.
    pub(crate) fn secret_entries(&self) -> Vec<(String, String)> {
        self.secret_log
            .lock()
            .map(|log| log.clone())
            .unwrap_or_default()
    }

    /// How often a user had to reconnect Exact Online in this world (a refresh answer lost).
    pub fn reconnects(&self) -> u64 {
        self.reconnects.load(Ordering::Relaxed)
    }

    pub fn today(&self) -> NaiveDate {
        self.now().date_naive()
    }

    /// A fresh tenant: its own Exact division (template data, a customer and a supplier account), tokens,
    /// the master data `prelink` says, and the lookup rows the demo needs. Discovery starts now.
    pub async fn tenant(&self, name: &str, prelink: Prelink) -> Result<TenantFixture, String> {
        let division = self.next_division.fetch_add(1, Ordering::SeqCst);
        self.exact.create_division(division, name);
        self.exact
            .set_division_access(self.user, division, true)
            .map_err(|e| e.to_string())?;
        let id = TenantId::parse(&format!("{name}-{division}")).map_err(|e| e.to_string())?;
        let now = self.now();
        let exact_base = self.exact_server.base_url();
        let vp_base = format!("{}/vantagepoint", self.vp_server.base_url());
        let exact_issuer = ledgerlink_exact::issuer(&exact_base).map_err(|e| e.to_string())?;
        let vp_issuer = ledgerlink_vantagepoint::issuer(&vp_base).map_err(|e| e.to_string())?;
        self.secret(
            format!("{id}/exact/client_secret"),
            SecretValue::bound(self.app.client_secret.clone(), exact_issuer),
        );
        self.secret(
            format!("{id}/exact/webhook_secret"),
            SecretValue::new(self.app.webhook_secret.clone()),
        );
        self.secret(
            format!("{id}/vantagepoint/client_secret"),
            SecretValue::bound(self.vp.config().client_secret.clone(), vp_issuer.clone()),
        );
        self.secret(
            format!("{id}/vantagepoint/password"),
            SecretValue::bound(VP_PASSWORD, vp_issuer),
        );
        self.consent_exact(&id).await?;
        let account = |code: usize, name: &str, supplier: bool| {
            let fields = if supplier {
                json!({"Name": name, "Code": code.to_string(), "IsSupplier": true})
            } else {
                json!({"Name": name, "Code": code.to_string(), "Status": "C"})
            };
            self.exact
                .seed(division, "crm/Accounts", fields)
                .map_err(|e| e.to_string())
        };
        let customer = account(100, "Demo customer", false)?;
        account(200, "Demo supplier", true)?;
        if prelink == Prelink::FirstClient
            && let Some(client) = self.demo.client_ids.first()
        {
            self.ctx
                .stores
                .links
                .link(&IdLink::new(
                    id.clone(),
                    ObjectType::Firm,
                    client.clone(),
                    &customer,
                    now,
                ))
                .await
                .map_err(|e| e.to_string())?;
        }
        let gl = self
            .exact
            .entities(division, "financial/GLAccounts")
            .map_err(|e| e.to_string())?;
        let gl_id = |code: &str| {
            gl.iter()
                .find(|r| r.get("Code").and_then(|c| c.as_str()).map(str::trim) == Some(code))
                .and_then(|r| r.get("ID").and_then(|v| v.as_str()).map(str::to_owned))
                .ok_or_else(|| format!("the Exact template has no G/L account {code}"))
        };
        let (revenue, expense) = (gl_id("8000")?, gl_id("4000")?);
        let put = |table: LookupTable, key: &str, columns: &[(&str, &str)]| {
            let entry = LookupEntry {
                key: key.to_owned(),
                columns: columns
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
                version: 0,
                updated_at: now,
                updated_by: "fault-harness".into(),
            };
            let lookups = self.ctx.stores.lookups.clone();
            let id = id.clone();
            async move {
                lookups
                    .put(&id, table, &entry, None)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        };
        for account in ["40100", "40200", "40300"] {
            put(LookupTable::GlAccounts, account, &[("exact_id", &revenue)]).await?;
        }
        for account in [
            "11100", "12100", "12500", "12510", "21000", "21500", "52100", "60100", "65100",
        ] {
            put(LookupTable::GlAccounts, account, &[("exact_id", &expense)]).await?;
        }
        for (exact_code, vp_code, rate) in [("2", "V21", "21"), ("1", "V9", "9"), ("0", "V0", "0")]
        {
            put(
                LookupTable::TaxCodes,
                exact_code,
                &[("vp_code", vp_code), ("rate", rate)],
            )
            .await?;
        }
        put(LookupTable::BankCodes, "20", &[("vp_bank_code", "EURBANK")]).await?;
        if prelink == Prelink::FirstClient
            && let Some(vendor) = self.demo.vendors.first()
        {
            let exact_id = account(250, vendor, true)?;
            put(LookupTable::Firms, vendor, &[("exact_id", &exact_id)]).await?;
        }

        let start =
            DateTime::from_timestamp(now.timestamp(), 0).ok_or("the clock is out of range")?;
        let settings: BTreeMap<String, serde_json::Value> = BTreeMap::from([
            ("sync_start".to_owned(), json!(start.to_rfc3339())),
            ("company".to_owned(), json!(self.demo.company)),
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
            exact_division: Division(u32::try_from(division).map_err(|e| e.to_string())?),
            exact_client_id: self.app.client_id.clone(),
            exact_client_secret: SecretRef::Local(format!("{id}/exact/client_secret")),
            exact_webhook_secret: SecretRef::Local(format!("{id}/exact/webhook_secret")),
            state: ConnectionState::Active,
            paused_reason: None,
            settings,
            version: 0,
            updated_at: now,
        };
        self.ctx
            .stores
            .tenants
            .put(&tenant, None)
            .await
            .map_err(|e| e.to_string())?;
        // Documents posted from here on are after `sync_start`.
        self.clock.advance(Duration::from_secs(1));
        Ok(TenantFixture { id, division })
    }

    /// Posts an invoice of one fee line per amount (tax V21) on the demo's first project.
    pub fn post_invoice(
        &self,
        number: &str,
        amounts: &[rust_decimal::Decimal],
    ) -> Result<Posting, String> {
        let seed = InvoiceSeed {
            invoice: number.to_owned(),
            wbs1: self.demo.projects.first().cloned().unwrap_or_default(),
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
        self.vp.post_invoice(&seed).map_err(|e| e.to_string())
    }

    /// Posts an AP voucher of the demo's first vendor with one untaxed rent line.
    pub fn post_voucher(
        &self,
        number: &str,
        amount: rust_decimal::Decimal,
    ) -> Result<Posting, String> {
        let seed = VoucherSeed {
            voucher: number.to_owned(),
            vendor: self.demo.vendors.first().cloned().unwrap_or_default(),
            invoice: format!("SUP-{number}"),
            invoice_date: Some(self.today()),
            trans_date: Some(self.today()),
            period: Some(self.demo.active_period),
            liab_code: "AP".into(),
            bank_code: "EURBANK".into(),
            lines: vec![ExpenseLineSeed {
                description: "Office rent".into(),
                account: "60100".into(),
                amount,
                ..ExpenseLineSeed::default()
            }],
            ..VoucherSeed::default()
        };
        self.vp.post_voucher(&seed).map_err(|e| e.to_string())
    }

    /// Moves the clock on by `by` and lets every delayed commit that is then due land in the ledgers.
    pub async fn advance(&self, by: Duration) {
        self.clock.advance(by);
        self.exact.faults().apply_due().await;
        self.vp.faults().apply_due().await;
    }

    /// Lets discovery windows close over what was just posted.
    pub fn tick(&self) {
        self.clock.advance(Duration::from_secs(2));
    }

    pub async fn status(
        &self,
        tenant: &TenantId,
        object_type: ObjectType,
        key: &str,
    ) -> Result<Option<ObjectStatus>, String> {
        let object = object(tenant, object_type, key)?;
        self.ctx
            .stores
            .statuses
            .get(&object)
            .await
            .map_err(|e| e.to_string())
    }
}

/// The flows' context of a fault world (also built by each worker process on the same store and clock).
pub(crate) fn flow_context(
    stores: ledgerlink_ports::StateStores,
    queue: Arc<dyn WorkQueue>,
    secrets: Arc<LocalSecrets>,
    clock: SharedClock,
    redirect_uri: &str,
) -> Result<FlowContext, String> {
    let connections = ErpConnections::new(
        secrets,
        stores.tokens.clone(),
        stores.rate.clone(),
        clock.clone(),
        redirect_uri.to_owned(),
    )
    .with_allowed_hosts(
        crate::hosts::AllowedErpHosts::parse("127.0.0.1").map_err(|e| e.to_string())?,
    )
    .with_tuning(ClientTuning {
        exact_outcome_settle: Some(Duration::from_secs(1)),
        request_timeout: Some(Duration::from_secs(20)),
        ..ClientTuning::default()
    });
    Ok(FlowContext {
        stores,
        queue,
        connections: Arc::new(connections),
        clock,
        settings: FlowSettings {
            discover_lag: Duration::from_secs(1),
            ..FlowSettings::default()
        },
    })
}

pub fn object(tenant: &TenantId, object_type: ObjectType, key: &str) -> Result<ObjectRef, String> {
    Ok(ObjectRef {
        tenant: tenant.clone(),
        object_type,
        key: ObjectKey::parse(key).map_err(|e| e.to_string())?,
    })
}

/// `"{invoice}.{period}.{post_seq}"` of a posting.
pub fn invoice_key(number: &str, posting: &Posting) -> String {
    format!("{number}.{}.{}", posting.period, posting.post_seq)
}

/// The AWS adapters on a fresh table, bucket and queues (with their dead-letter queues, max receives as in
/// production) on a new moto server.
async fn aws_stores() -> Result<
    (
        ledgerlink_testkit::MotoServer,
        ledgerlink_ports::StateStores,
        Arc<dyn WorkQueue>,
    ),
    String,
> {
    use ledgerlink_store_aws::{
        AwsClients, AwsSettings, AwsStores, ResourcePlan, StaticCredentials, create_resources,
        create_token_key,
    };
    let moto = tokio::task::spawn_blocking(ledgerlink_testkit::MotoServer::start)
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let server = moto.endpoint_url();
    let mut settings = AwsSettings::local(
        &server,
        ledgerlink_testkit::TEST_REGION,
        StaticCredentials {
            access_key_id: ledgerlink_testkit::TEST_ACCESS_KEY_ID.into(),
            secret_access_key: ledgerlink_testkit::TEST_SECRET_ACCESS_KEY.into(),
        },
    );
    settings.table_name = ledgerlink_testkit::unique_name("soak-table");
    settings.bucket_name = ledgerlink_testkit::unique_name("soak-bucket");
    let clients = AwsClients::build(&settings).await;
    let queues = create_resources(
        &clients,
        &ResourcePlan {
            table: settings.table_name.clone(),
            bucket: settings.bucket_name.clone(),
            queue_prefix: ledgerlink_testkit::unique_name("soak"),
            flows: vec![Flow::InvoiceOut, Flow::VoucherOut, Flow::PaymentIn],
            max_receive_count: MAX_RECEIVES,
            kms_key_id: None,
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    settings.queues = queues;
    settings.token_kms_key_id = Some(
        create_token_key(&clients)
            .await
            .map_err(|e| e.to_string())?,
    );
    let stores = AwsStores::new(&clients, &settings);
    Ok((moto, stores.state, stores.queue))
}

/// SQS on real time under flows on the world's clock. Every wait is served on the world's clock, as the
/// embedded queue serves it: a received message is hidden in SQS (for an hour of real time) and made visible
/// again when the world's clock passes its visibility timeout (unless it was acknowledged or put back
/// first); a `retry_later` makes it visible when the clock reaches the retry time; a delayed send goes to SQS
/// when the clock reaches its due time. A message therefore never comes back before the time the flow asked
/// for — SQS counting one real second for the minutes of the world's clock would bring a token refresh or a
/// rate-limit wait back "too early", and a message would reappear under a worker that is still on it — and
/// the runs never wait in real time. Receive counts, the dead-letter redrive and stale receipts stay SQS's
/// own.
#[derive(Debug)]
struct ClockedQueue {
    inner: Arc<dyn WorkQueue>,
    clock: Arc<dyn Clock>,
    held: Mutex<Vec<Held>>,
}

/// A wait served on the world's clock: due at `due`, then sent or made visible.
#[derive(Debug)]
struct Held {
    queue: QueueName,
    due: DateTime<Utc>,
    work: HeldWork,
}

#[derive(Debug, PartialEq)]
enum HeldWork {
    /// A delayed send: the message goes to SQS when it is due.
    Send(WorkMessage),
    /// A received message (its visibility timeout) or one put back with `retry_later`: made visible in SQS
    /// when it is due.
    Visible(String),
}

/// How long SQS hides a message whose visibility the world's clock serves (far beyond any run).
const HELD_VISIBILITY: Duration = Duration::from_secs(3600);

impl ClockedQueue {
    fn new(inner: Arc<dyn WorkQueue>, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner,
            clock,
            held: Mutex::new(Vec::new()),
        }
    }

    fn hold(&self, queue: QueueName, delay: Duration, work: HeldWork) {
        let now = self.clock.now();
        let due = chrono::Duration::from_std(delay)
            .ok()
            .and_then(|d| now.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        if let Ok(mut held) = self.held.lock() {
            held.push(Held { queue, due, work });
        }
    }

    /// Forgets the visibility timeout of `receipt` (acknowledged or put back).
    fn unhold(&self, queue: QueueName, receipt: &str) {
        if let Ok(mut held) = self.held.lock() {
            held.retain(|h| {
                h.queue != queue || !matches!(&h.work, HeldWork::Visible(r) if r == receipt)
            });
        }
    }

    /// Sends or makes visible what `queue` holds that is due on the world's clock.
    async fn release_due(&self, queue: QueueName) -> StoreResult<()> {
        let now = self.clock.now();
        let due: Vec<Held> = match self.held.lock() {
            Ok(mut held) => {
                let (due, later) = std::mem::take(&mut *held)
                    .into_iter()
                    .partition(|h| h.queue == queue && h.due <= now);
                *held = later;
                due
            }
            Err(_) => Vec::new(),
        };
        let mut sends = Vec::new();
        for h in due {
            match h.work {
                HeldWork::Send(message) => sends.push(message),
                HeldWork::Visible(receipt) => {
                    match self
                        .inner
                        .retry_later(queue, &receipt, Duration::ZERO)
                        .await
                    {
                        // Gone meanwhile (acknowledged by a later holder, or in the dead-letter queue).
                        Ok(()) | Err(ledgerlink_ports::StoreError::NotFound { .. }) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        if !sends.is_empty() {
            self.inner.send(queue, &sends).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl WorkQueue for ClockedQueue {
    async fn send(&self, queue: QueueName, messages: &[WorkMessage]) -> StoreResult<()> {
        self.inner.send(queue, messages).await
    }
    async fn receive(
        &self,
        queue: QueueName,
        max: u32,
        visibility: Duration,
    ) -> StoreResult<Vec<ReceivedMessage>> {
        self.release_due(queue).await?;
        let received = self.inner.receive(queue, max, HELD_VISIBILITY).await?;
        for m in &received {
            self.hold(queue, visibility, HeldWork::Visible(m.receipt.clone()));
        }
        Ok(received)
    }
    async fn ack(&self, queue: QueueName, receipt: &str) -> StoreResult<()> {
        self.unhold(queue, receipt);
        self.inner.ack(queue, receipt).await
    }
    async fn retry_later(
        &self,
        queue: QueueName,
        receipt: &str,
        delay: Duration,
    ) -> StoreResult<()> {
        self.unhold(queue, receipt);
        if delay.is_zero() {
            return self.inner.retry_later(queue, receipt, delay).await;
        }
        self.inner
            .retry_later(queue, receipt, HELD_VISIBILITY)
            .await?;
        self.hold(queue, delay, HeldWork::Visible(receipt.to_owned()));
        Ok(())
    }
    async fn dead_letters(&self, queue: QueueName, max: u32) -> StoreResult<Vec<WorkMessage>> {
        self.inner.dead_letters(queue, max).await
    }
    async fn send_delayed(
        &self,
        queue: QueueName,
        message: &WorkMessage,
        delay: Duration,
    ) -> StoreResult<()> {
        if delay.is_zero() {
            return self.inner.send(queue, std::slice::from_ref(message)).await;
        }
        self.hold(queue, delay, HeldWork::Send(message.clone()));
        Ok(())
    }
    async fn take_dead_letters(&self, queue: QueueName, max: u32) -> StoreResult<Vec<WorkMessage>> {
        self.inner.take_dead_letters(queue, max).await
    }
    async fn depth(&self, queue: QueueName) -> StoreResult<u64> {
        self.release_due(queue).await?;
        self.inner.depth(queue).await
    }
}

/// The idempotency keys claimed, with their payload hashes, since the last [`ClaimLog::take`].
#[derive(Debug, Default)]
pub struct ClaimLog {
    keys: Mutex<BTreeMap<String, String>>,
}

impl ClaimLog {
    /// Records a key a worker (of this process or a worker process) claimed.
    pub fn record(&self, key: &str, payload_hash: &str) {
        if let Ok(mut keys) = self.keys.lock() {
            keys.insert(key.to_owned(), payload_hash.to_owned());
        }
    }

    pub fn take(&self) -> BTreeMap<String, String> {
        self.keys
            .lock()
            .map(|mut k| std::mem::take(&mut *k))
            .unwrap_or_default()
    }
}

/// The world's idempotency store: the adapter's, logging every key a worker claims.
#[derive(Debug)]
struct LoggedIdempotency {
    inner: Arc<dyn IdempotencyStore>,
    log: Arc<ClaimLog>,
}

#[async_trait]
impl IdempotencyStore for LoggedIdempotency {
    async fn begin(
        &self,
        key: &str,
        payload_hash: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<IdempotencyBegin> {
        let begun = self.inner.begin(key, payload_hash, lease, now).await?;
        if matches!(begun, IdempotencyBegin::Started(_)) {
            self.log.record(key, payload_hash);
        }
        Ok(begun)
    }
    async fn complete(
        &self,
        key: &str,
        fence: u64,
        payload_hash: &str,
        result: &serde_json::Value,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.inner
            .complete(key, fence, payload_hash, result, expires_at)
            .await
    }
    async fn release(&self, key: &str, fence: u64) -> StoreResult<()> {
        self.inner.release(key, fence).await
    }
}
