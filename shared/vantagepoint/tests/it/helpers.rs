//! `spawn`: an emulator with the demo data, a client on the same manual clock, and a fresh token store.

use std::sync::Arc;
use std::time::Duration;

use ledgerlink_clock::ManualClock;
use ledgerlink_domain::TenantId;
use ledgerlink_emulators::RunningServer;
use ledgerlink_emulators::vantagepoint::demo::{DemoOptions, DemoSummary};
use ledgerlink_emulators::vantagepoint::{
    VantagepointConfig as EmulatorConfig, VantagepointEmulator,
};
use ledgerlink_ports::TokenStore;
use ledgerlink_store_embedded::EmbeddedStore;
use ledgerlink_vantagepoint::{
    RetryPolicy, Secret, VantagepointClient, VantagepointConfig, VantagepointPsa,
};

pub const USER: &str = "integration";
pub const PASSWORD: &str = "integration-password";

pub struct TestVp {
    pub emulator: VantagepointEmulator,
    pub server: RunningServer,
    pub clock: ManualClock,
    pub tokens: Arc<dyn TokenStore>,
    pub client: VantagepointClient,
    pub demo: DemoSummary,
    _dir: tempfile::TempDir,
}

impl TestVp {
    pub fn psa(&self) -> VantagepointPsa {
        VantagepointPsa::new(self.client.clone())
    }

    /// The client config pointing at this emulator.
    pub fn config(&self) -> VantagepointConfig {
        client_config(&self.emulator, &self.server, PASSWORD)
    }

    /// Another client (another "worker") on the same emulator, clock and token store.
    pub fn second_client(&self) -> VantagepointClient {
        VantagepointClient::new(self.config(), self.tokens.clone(), self.clock.shared()).unwrap()
    }
}

pub fn client_config(
    emulator: &VantagepointEmulator,
    server: &RunningServer,
    password: &str,
) -> VantagepointConfig {
    let em = emulator.config();
    let base = emulator.api_base(server);
    VantagepointConfig::new(
        TenantId::parse("acme").unwrap(),
        &base,
        em.database.clone(),
        em.client_id.clone(),
        Secret::new(em.client_secret.clone()),
        USER,
        Secret::new(password),
    )
    .unwrap()
    .with_culture("en-US")
    .with_retry(RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(500),
    })
}

pub async fn spawn() -> TestVp {
    spawn_with(EmulatorConfig::default()).await
}

pub async fn spawn_with(config: EmulatorConfig) -> TestVp {
    let clock = ManualClock::fixed();
    let emulator = VantagepointEmulator::with_clock(config, clock.shared());
    let demo = emulator.load_demo(&DemoOptions::default()).unwrap();
    let server = emulator.spawn().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tokens: Arc<dyn TokenStore> = EmbeddedStore::open(dir.path().join("state.db"))
        .unwrap()
        .tokens();
    let client = VantagepointClient::new(
        client_config(&emulator, &server, PASSWORD),
        tokens.clone(),
        clock.shared(),
    )
    .unwrap();
    TestVp {
        emulator,
        server,
        clock,
        tokens,
        client,
        demo,
        _dir: dir,
    }
}
