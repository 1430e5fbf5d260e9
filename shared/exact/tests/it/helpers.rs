//! `spawn()`: an Exact emulator on 127.0.0.1:0 with one app, one user and one division, an embedded store in
//! a temporary directory, and a manual clock shared by everything.

use std::sync::Arc;
use std::time::Duration;

use ledgerlink_clock::ManualClock;
use ledgerlink_domain::{Division, TenantId};
use ledgerlink_emulators::RunningServer;
use ledgerlink_emulators::exact::{
    AppRegistration, ExactConfig as EmulatorConfig, ExactEmulator, UserSpec,
};
use ledgerlink_exact::{ClientPorts, ExactClient, ExactConfig, ReconnectHook, Secret};
use ledgerlink_store_embedded::EmbeddedStore;
use uuid::Uuid;

pub const CLIENT_ID: &str = "b81cc4de-d192-400e-bcb4-09254394c52a";
pub const CLIENT_SECRET: &str = "emulator-client-secret";
pub const WEBHOOK_SECRET: &str = "emulator-webhook-secret";
pub const REDIRECT_URI: &str = "https://ledgerlink.example/exact/callback";
pub const DIVISION: u32 = 499_156;

pub struct TestEnv {
    pub emulator: ExactEmulator,
    pub server: RunningServer,
    pub clock: ManualClock,
    pub store: EmbeddedStore,
    pub user: Uuid,
    pub tenant: TenantId,
    _dir: tempfile::TempDir,
}

pub async fn spawn() -> TestEnv {
    spawn_with(|_| {}).await
}

pub async fn spawn_with(configure: impl FnOnce(&mut EmulatorConfig)) -> TestEnv {
    let clock = ManualClock::fixed();
    let mut config = EmulatorConfig {
        clock: clock.shared(),
        ..EmulatorConfig::default()
    };
    configure(&mut config);
    let emulator = ExactEmulator::new(config);
    emulator.create_app(AppRegistration {
        client_id: CLIENT_ID.to_owned(),
        client_secret: CLIENT_SECRET.to_owned(),
        webhook_secret: WEBHOOK_SECRET.to_owned(),
        redirect_uri: REDIRECT_URI.to_owned(),
        name: "Ledgerlink tests".to_owned(),
    });
    emulator.create_division(i32::try_from(DIVISION).unwrap(), "Ledgerlink test BV");
    let user = emulator.create_user(UserSpec {
        id: None,
        full_name: "Test Accountant".to_owned(),
        email: "accountant@example.com".to_owned(),
        divisions: vec![i32::try_from(DIVISION).unwrap()],
    });
    let server = emulator.spawn().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path().join("state.sqlite")).unwrap();
    TestEnv {
        emulator,
        server,
        clock,
        store,
        user,
        tenant: TenantId::parse("acme").unwrap(),
        _dir: dir,
    }
}

impl TestEnv {
    /// A client configuration for this emulator, with test-friendly timeouts.
    pub fn config(&self) -> ExactConfig {
        let mut config = ExactConfig::new(
            &self.server.base_url(),
            Division(DIVISION),
            CLIENT_ID,
            Secret::new(CLIENT_SECRET),
            REDIRECT_URI,
            &self.tenant,
        )
        .unwrap();
        config.request_timeout = Duration::from_secs(10);
        config.token_timeout = Duration::from_secs(10);
        config
    }

    /// A new client (its own token manager and limiter, as another process would have) on the shared ports.
    pub fn client(&self) -> ExactClient {
        self.client_with(|_| {}, None)
    }

    pub fn client_with(
        &self,
        configure: impl FnOnce(&mut ExactConfig),
        hook: Option<Arc<dyn ReconnectHook>>,
    ) -> ExactClient {
        let mut config = self.config();
        configure(&mut config);
        let ports = ClientPorts {
            tokens: self.store.tokens(),
            rate: self.store.rate(),
            clock: self.clock.shared(),
        };
        ExactClient::new(config, ports, hook).unwrap()
    }

    /// First consent: the user approves, the client exchanges the code and stores the tokens.
    pub async fn connect(&self) -> ExactClient {
        let client = self.client();
        let code = self
            .emulator
            .authorization_code(CLIENT_ID, Some(self.user))
            .unwrap();
        client
            .tokens()
            .exchange_authorization_code(&code)
            .await
            .unwrap();
        client
    }

    pub fn division(&self) -> i32 {
        i32::try_from(DIVISION).unwrap()
    }

    /// The emulator's request count for routes containing `needle`.
    pub fn requests(&self, needle: &str) -> u64 {
        self.emulator.counters().count_matching(needle)
    }
}

impl TestEnv {
    pub fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        use ledgerlink_clock::Clock;
        self.clock.now()
    }
}

/// Fixtures: a customer, a supplier and the template's revenue / expense accounts.
pub struct Books {
    pub customer: Uuid,
    pub supplier: Uuid,
    pub revenue: Uuid,
    pub expense: Uuid,
}

impl TestEnv {
    /// Seeds a customer and a supplier directly in the emulator and finds the template's GL accounts.
    pub fn books(&self) -> Books {
        let customer = self
            .emulator
            .seed(
                self.division(),
                "crm/Accounts",
                serde_json::json!({"Name": "Acme BV", "Code": "1001", "Status": "C"}),
            )
            .unwrap();
        let supplier = self
            .emulator
            .seed(
                self.division(),
                "crm/Accounts",
                serde_json::json!({"Name": "Supplies BV", "Code": "2001", "IsSupplier": true}),
            )
            .unwrap();
        let gl = |code: &str| -> Uuid {
            let rows = self
                .emulator
                .entities(self.division(), "financial/GLAccounts")
                .unwrap();
            let row = rows
                .iter()
                .find(|r| r.get("Code").and_then(|c| c.as_str()).map(str::trim) == Some(code))
                .unwrap();
            Uuid::parse_str(row["ID"].as_str().unwrap()).unwrap()
        };
        Books {
            customer: Uuid::parse_str(&customer).unwrap(),
            supplier: Uuid::parse_str(&supplier).unwrap(),
            revenue: gl("8000"),
            expense: gl("4000"),
        }
    }
}

/// A sales entry in the sales journal (70) with one 21 % line.
pub fn sales_entry(
    books: &Books,
    your_ref: &str,
    amount: &str,
) -> ledgerlink_domain::exact::SalesEntry {
    serde_json::from_value(serde_json::json!({
        "Journal": "70",
        "Customer": books.customer,
        "EntryDate": "2026-06-15T00:00:00Z",
        "YourRef": your_ref,
        "Description": format!("{your_ref} - Acme BV"),
        "Currency": "EUR",
        "SalesEntryLines": [{"GLAccount": books.revenue, "AmountFC": amount, "VATCode": "2  ", "Description": "Consulting"}]
    }))
    .unwrap()
}

/// A purchase entry in the purchase journal (60) with one 21 % line.
pub fn purchase_entry(
    books: &Books,
    your_ref: &str,
    amount: &str,
) -> ledgerlink_domain::exact::PurchaseEntry {
    serde_json::from_value(serde_json::json!({
        "Journal": "60",
        "Supplier": books.supplier,
        "EntryDate": "2026-06-15T00:00:00Z",
        "YourRef": your_ref,
        "Currency": "EUR",
        "PurchaseEntryLines": [{"GLAccount": books.expense, "AmountFC": amount, "VATCode": "2  ", "Description": "Supplies"}]
    }))
    .unwrap()
}
