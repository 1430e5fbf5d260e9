//! Starts the local stack in order and stops it: the data dir (optionally wiped), the embedded store, both
//! ERP emulators with their deterministic demo data on free 127.0.0.1 ports, the demo tenant (connections,
//! secrets, lookups, API key), the HTTP API with the operator page, and then the first Exact consent through
//! the API's own consent routes (the Exact app's redirect URI is this stack's callback).
//!
//! The data dir holds `state.db` (every port's state and the work queues), `files/` (export files, served
//! through signed local URLs), `mail/` (every notification mailed, one RFC 5322 `.eml` file each — the
//! error e-mail of a refused document, the export-complete e-mail), `local-keys.json` (the demo API key, the
//! URL-signing key and the key that signs Exact consent states, owner-only),
//! `demo-epoch.json` (see [`crate::epoch`]), `ledgerlink.log` and `summary.json` (the last round). The
//! emulators live in memory: each start gives them the same demo data again (and a new Exact app
//! registration), and the store remembers what was synced, so nothing is sent twice.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use ledgerlink_clock::{SharedClock, SystemClock};
use ledgerlink_domain::{Flow, TenantId};
use ledgerlink_emulators::RunningServer;
use ledgerlink_emulators::exact::demo::{DemoData, DemoSpec};
use ledgerlink_emulators::exact::{ExactConfig as ExactEmulatorConfig, ExactEmulator};
use ledgerlink_emulators::vantagepoint::demo::DemoSummary;
use ledgerlink_emulators::vantagepoint::{
    VantagepointConfig as VpEmulatorConfig, VantagepointEmulator,
};
use ledgerlink_flows::connections::{ClientTuning, ErpConnections};
use ledgerlink_flows::{FlowContext, FlowSettings};
use ledgerlink_jobs::JobsContext;
use ledgerlink_store_embedded::{EmbeddedStore, FolderStorage, MailFolder};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, watch};

use crate::cli::Options;
use crate::demo;
use crate::summary::EmulatorCounts;

/// Files the stack writes in its data dir; `--reset` refuses to wipe a directory holding anything else.
const OWN_FILES: &[&str] = &[
    "state.db",
    "state.db-wal",
    "state.db-shm",
    "state.db-journal",
    "files",
    MAIL_DIR,
    "local-keys.json",
    "ledgerlink.log",
    "summary.json",
    crate::epoch::EPOCH_FILE,
];
const KEYS_FILE: &str = "local-keys.json";
/// The mail folder of the data dir: one `.eml` file per notification mailed (readable by any mail client).
pub const MAIL_DIR: &str = "mail";
/// The sender of the local stack's mail.
pub const MAIL_FROM: &str = "ledgerlink@ledgerlink-demo.example";
/// Calls per minute the Exact emulator allows here (Exact's real 60 would make a demo round take minutes;
/// the client reads the limits from the response headers either way).
const EXACT_CALLS_PER_MINUTE: u32 = 1_000;

/// The local keys: the demo API key (shown to the user, who needs it for the page), the key that signs
/// local file URLs and the one that signs Exact consent states (the deployment secret
/// `CONSENT_STATE_SECRET` on AWS). Kept owner-readable in the data dir so a restart keeps the page's link
/// working.
#[derive(Clone, Serialize, Deserialize)]
struct LocalKeys {
    api_key: String,
    url_signing_key: String,
    /// Data dirs made before consent routes existed have none: a new one is used for the run (consent
    /// states live ten minutes, so nothing outlives it).
    #[serde(default = "random_key")]
    consent_state_key: String,
}

fn random_key() -> String {
    let mut key = [0_u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
    hex::encode(key)
}

impl std::fmt::Debug for LocalKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalKeys { .. }")
    }
}

impl LocalKeys {
    fn load_or_create(dir: &Path, tenant: &TenantId) -> anyhow::Result<Self> {
        let path = dir.join(KEYS_FILE);
        if path.exists() {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            return serde_json::from_str(&text).with_context(|| {
                format!("{} is not readable; --reset starts afresh", path.display())
            });
        }
        let issued = ledgerlink_api::issue_api_key(tenant, demo::OPERATOR);
        let keys = Self {
            api_key: issued.token,
            url_signing_key: random_key(),
            consent_state_key: random_key(),
        };
        let text = serde_json::to_string_pretty(&keys).context("encoding the local keys")?;
        write_private(&path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(keys)
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// Wipes the data dir, refusing one that holds files the stack did not write (a mistyped `--data-dir`).
pub fn wipe(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        if !OWN_FILES.iter().any(|own| name == *own) {
            bail!(
                "refusing to wipe {}: it holds {:?}, which the local stack did not write",
                dir.display(),
                name
            );
        }
    }
    std::fs::remove_dir_all(dir).with_context(|| format!("wiping {}", dir.display()))
}

/// One lock per flow: a round and the queue workers never drain the same flow at once, so each round's
/// progress line counts exactly its own work.
#[derive(Debug, Default)]
pub struct FlowLocks {
    firm_sync: Mutex<()>,
    invoice_out: Mutex<()>,
    voucher_out: Mutex<()>,
    payment_in: Mutex<()>,
    jobs: Mutex<()>,
}

impl FlowLocks {
    pub fn of(&self, flow: Flow) -> &Mutex<()> {
        match flow {
            Flow::FirmSync => &self.firm_sync,
            Flow::InvoiceOut => &self.invoice_out,
            Flow::VoucherOut => &self.voucher_out,
            Flow::PaymentIn => &self.payment_in,
            _ => &self.jobs,
        }
    }
}

/// The running local stack.
#[derive(Debug)]
pub struct Stack {
    pub options: Options,
    pub data_dir: PathBuf,
    pub ctx: FlowContext,
    pub jobs: JobsContext,
    pub exact: ExactEmulator,
    pub vp: VantagepointEmulator,
    pub exact_demo: DemoData,
    pub vp_demo: DemoSummary,
    pub tenant: TenantId,
    pub division: i32,
    /// `http://127.0.0.1:PORT` of the API and the operator page.
    pub api_url: String,
    /// What the emulators held right after their demo data was loaded.
    pub baseline: EmulatorCounts,
    /// The data dir held an earlier run's state (what was synced then is remembered, not sent again).
    pub resumed: bool,
    pub locks: FlowLocks,
    /// What connecting Exact through the consent routes gave (division, webhook subscription).
    pub exact_consent: demo::ExactConsent,
    keys: LocalKeys,
    _store: EmbeddedStore,
    exact_server: RunningServer,
    vp_server: RunningServer,
    api_stop: watch::Sender<bool>,
    api_task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Stack {
    /// Starts everything. Fails (with what to do) when the data dir or the port cannot be used.
    pub async fn start(options: Options) -> anyhow::Result<Stack> {
        let data_dir = options.data_dir.clone();
        if options.reset {
            wipe(&data_dir)?;
        }
        std::fs::create_dir_all(data_dir.join("files"))
            .with_context(|| format!("creating {}", data_dir.display()))?;
        // The API's port first: a port in use fails before anything else starts.
        let addr = SocketAddr::from(([127, 0, 0, 1], options.port));
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            anyhow!("cannot listen on {addr}: {e}; pass --port 0 to use a free port")
        })?;
        let tenant = demo::tenant_id();
        let keys = LocalKeys::load_or_create(&data_dir, &tenant)?;
        let clock: SharedClock = SystemClock::shared();
        let store =
            EmbeddedStore::open(data_dir.join("state.db")).context("opening the embedded store")?;

        // The emulators, with their deterministic demo data.
        let exact = ExactEmulator::new(ExactEmulatorConfig {
            seed: options.seed,
            minutely_limit: EXACT_CALLS_PER_MINUTE,
            clock: clock.clone(),
            ..ExactEmulatorConfig::default()
        });
        let exact_server = exact
            .spawn()
            .await
            .context("starting the Exact Online emulator")?;
        let exact_demo = ledgerlink_emulators::exact::demo::generate(
            &exact,
            &DemoSpec {
                seed: options.seed,
                ..DemoSpec::default()
            },
        )
        .map_err(|e| anyhow!("loading the Exact Online demo data: {e}"))?;
        // The run's Exact app redirects to this stack's own consent callback, as the app registered in
        // Exact's App Center redirects to `<ApiUrl>oauth/exact/callback` on AWS.
        let api_url = format!("http://{}", listener.local_addr()?);
        let exact_demo = demo::register_run_app(
            &exact,
            &DemoData {
                redirect_uri: format!("{api_url}{}", ledgerlink_api::consent::CALLBACK_PATH),
                ..exact_demo
            },
        );
        let resumed = data_dir.join(crate::epoch::EPOCH_FILE).exists();
        let epoch = crate::epoch::load_or_create(&data_dir)?;
        let vp_clock = Arc::new(crate::epoch::PinnableClock::pinned_at(epoch));
        let vp = VantagepointEmulator::with_clock(
            VpEmulatorConfig {
                seed: options.seed,
                ..VpEmulatorConfig::default()
            },
            vp_clock.clone(),
        );
        let vp_server = vp
            .spawn()
            .await
            .context("starting the Vantagepoint emulator")?;
        let vp_options = demo::vp_options(options.seed);
        let mut vp_demo = vp
            .load_demo(&vp_options)
            .map_err(|e| anyhow!("loading the Vantagepoint demo data: {e}"))?;
        demo::post_levy_invoice(&vp, &mut vp_demo)?;
        vp_clock.unpin();

        // Ports and use-case contexts.
        let endpoints = demo::Endpoints {
            exact_base_url: exact_server.base_url(),
            vp_base_url: format!("{}{}", vp_server.base_url(), vp.config().instance_path),
        };
        let secrets = demo::shared_secrets();
        demo::register_secrets(&secrets, &exact_demo, &vp, &vp_options, &endpoints)?;
        // Every notification with an addressee is also mailed: one `.eml` file per message in `mail/`.
        let stores = store.state_stores().with_mailer(
            Arc::new(MailFolder::new(data_dir.join(MAIL_DIR), MAIL_FROM)),
            clock.clone(),
        );
        let connections = ErpConnections::new(
            secrets.clone(),
            stores.tokens.clone(),
            stores.rate.clone(),
            clock.clone(),
            exact_demo.redirect_uri.clone(),
        )
        // The AllowedErpHosts setting of the local stack: its emulators listen on 127.0.0.1 (http).
        .with_allowed_hosts(
            ledgerlink_flows::hosts::AllowedErpHosts::parse("127.0.0.1").map_err(|e| anyhow!(e))?,
        )
        .with_tuning(ClientTuning {
            exact_outcome_settle: Some(Duration::from_secs(1)),
            request_timeout: Some(Duration::from_secs(20)),
            ..ClientTuning::default()
        });
        let queue = store.queue(clock.clone());
        let ctx = FlowContext {
            stores: stores.clone(),
            queue: queue.clone(),
            connections: Arc::new(connections),
            clock: clock.clone(),
            // The emulators commit at once: a one-second discovery lag is enough here.
            settings: FlowSettings {
                discover_lag: Duration::from_secs(1),
                ..FlowSettings::default()
            },
        };

        // The demo tenant, connected.
        let api_key_hash = ledgerlink_api::hash_api_key(&keys.api_key);
        // Discovery starts a minute before the demo epoch: the demo's postings are all found once.
        let sync_start = epoch - chrono::Duration::minutes(1);
        demo::ensure_tenant(
            &stores,
            &endpoints,
            &exact_demo,
            &vp,
            &vp_options,
            &vp_demo,
            &api_key_hash,
            sync_start,
            clock.now(),
        )
        .await?;

        // The API and the operator page.
        let signing_key = hex::decode(&keys.url_signing_key)
            .context("the URL-signing key in local-keys.json is not hex")?;
        let files = FolderStorage::new(data_dir.join("files"), &api_url, &signing_key)
            .context("the export folder")?;
        // The export worker reads Vantagepoint and Exact Online through the same connections as the flows.
        let jobs = JobsContext::new(
            stores.clone(),
            Arc::new(files.clone()),
            queue.clone(),
            clock.clone(),
        )
        .with_connections(ctx.connections.clone());
        crate::exports::ensure_definitions(&jobs, &tenant, !resumed).await?;
        let state =
            ledgerlink_api::ApiState::new(ctx.clone(), Arc::new(files.clone()), secrets.clone())
                .with_secret_writer(Arc::new(ledgerlink_api::LocalSecretWriter::new(
                    secrets.clone(),
                )))
                .with_local_files(files)
                .with_consent(ledgerlink_api::consent::ConsentSettings::new(
                    exact_demo.redirect_uri.clone(),
                    Arc::new(
                        ledgerlink_api::consent::ConsentKey::new(
                            hex::decode(&keys.consent_state_key)
                                .context("the consent key in local-keys.json is not hex")?,
                        )
                        .map_err(|e| anyhow!("the consent key in local-keys.json: {e}"))?,
                    ),
                ));
        let router = ledgerlink_api::router(state);
        let (api_stop, mut stopped) = watch::channel(false);
        let api_task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await
        });

        // Exact consent through the API's routes, as an admin gives it on AWS (webhooks subscribed too).
        let exact_consent = demo::connect_exact(&api_url, &keys.api_key, exact_demo.division)
            .await
            .context("connecting Exact Online through the consent routes")?;
        let record = ctx.tenant(&tenant).await?;
        demo::ensure_lookups(&stores, &exact, &record, clock.now()).await?;

        let division = exact_demo.division;
        let baseline = EmulatorCounts::read(&exact, division, &vp);
        // Discovery windows end a second before now: let them close over the demo's postings.
        let ready = epoch + chrono::Duration::seconds(2);
        while clock.now() < ready {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(Stack {
            options,
            data_dir,
            ctx,
            jobs,
            exact,
            vp,
            exact_demo,
            vp_demo,
            tenant,
            division,
            api_url,
            baseline,
            resumed,
            locks: FlowLocks::default(),
            exact_consent,
            keys,
            _store: store,
            exact_server,
            vp_server,
            api_stop,
            api_task,
        })
    }

    /// The operator page with the demo API key in the URL fragment (the page reads `#key=`; a fragment
    /// never reaches a server or its logs).
    pub fn page_url(&self) -> String {
        format!("{}/#key={}", self.api_url, self.keys.api_key)
    }

    /// The demo tenant's API key, for `Authorization: Bearer ...`.
    pub fn api_key(&self) -> &str {
        &self.keys.api_key
    }

    /// Base URLs of the emulators this run.
    pub fn emulator_urls(&self) -> (String, String) {
        (self.exact_server.base_url(), self.vp_server.base_url())
    }

    /// What the emulators hold now that they did not at the start.
    pub fn emulator_counts(&self) -> EmulatorCounts {
        EmulatorCounts::read(&self.exact, self.division, &self.vp).since(&self.baseline)
    }

    /// What the emulators hold now, the demo data they started with included.
    pub fn emulator_totals(&self) -> EmulatorCounts {
        EmulatorCounts::read(&self.exact, self.division, &self.vp)
    }

    /// Stops the API (finishing requests in flight) and the emulators.
    pub async fn shutdown(self) {
        let _ = self.api_stop.send(true);
        match tokio::time::timeout(Duration::from_secs(5), self.api_task).await {
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "the API server stopped with an error"),
            Ok(_) => {}
            Err(_) => tracing::warn!("the API server did not stop within 5 s"),
        }
        self.exact_server.shutdown().await;
        self.vp_server.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_wipes_a_data_dir_of_its_own_files_and_refuses_a_foreign_one() {
        // Arrange
        let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let ours = root.path().join("ours");
        std::fs::create_dir_all(ours.join("files")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(ours.join("state.db"), b"x").unwrap_or_else(|e| panic!("{e}"));
        let foreign = root.path().join("foreign");
        std::fs::create_dir_all(&foreign).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(foreign.join("thesis.tex"), b"x").unwrap_or_else(|e| panic!("{e}"));

        // Act
        let wiped = wipe(&ours);
        let refused = wipe(&foreign);

        // Assert
        assert!(wiped.is_ok(), "{wiped:?}");
        assert!(!ours.exists());
        assert!(refused.is_err());
        assert!(foreign.join("thesis.tex").exists());
        assert!(wipe(&root.path().join("missing")).is_ok());
    }
}
