//! `ledgerlink admin`, run as a user runs it (the built binary), against a local data dir and against a
//! deployed stack's table on moto's server; the keys it prints are then used against the real router, served
//! on 127.0.0.1 over the same state, and act with their roles.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Output;
use std::sync::Arc;

use ledgerlink_api::ApiState;
use ledgerlink_clock::SystemClock;
use ledgerlink_flows::connections::{ErpConnections, LocalSecrets};
use ledgerlink_flows::{FlowContext, FlowSettings};
use ledgerlink_ports::{ExportStorage, StateStores, TokenRecord, WorkQueue};
use ledgerlink_store_aws::{
    AwsClients, AwsSettings, AwsStores, ResourcePlan, StaticCredentials, create_resources,
    create_token_key,
};
use ledgerlink_store_embedded::{EmbeddedStore, FolderStorage};
use ledgerlink_testkit::{
    TEST_ACCESS_KEY_ID, TEST_REGION, TEST_SECRET_ACCESS_KEY, moto, unique_name,
};
use serde_json::{Value, json};
use tokio::process::Command;

const BINARY: &str = env!("CARGO_BIN_EXE_ledgerlink");

/// How the admin command reaches its target: the arguments before the subcommand and the environment.
struct Target {
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
}

impl Target {
    async fn admin(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(BINARY);
        cmd.arg("admin")
            .args(&self.args)
            .args(args)
            .env_remove("LEDGERLINK_TABLE")
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("TOKEN_KMS_KEY_ID")
            .env_remove("RUST_LOG");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        tokio::time::timeout(std::time::Duration::from_secs(60), cmd.output())
            .await
            .expect("the admin command finishes within a minute")
            .unwrap()
    }

    /// Runs a command that must succeed; returns its stdout.
    async fn ok(&self, args: &[&str]) -> String {
        let out = self.admin(args).await;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{args:?}: {:?}\nstdout: {stdout}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// Runs a command that must fail; returns its stderr.
    async fn fails(&self, args: &[&str]) -> String {
        let out = self.admin(args).await;
        assert!(
            !out.status.success(),
            "{args:?} succeeded: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

/// The one key a command printed (a line of its own).
fn printed_key(stdout: &str, tenant: &str) -> String {
    let keys: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with(&format!("llk_{tenant}_")))
        .collect();
    assert_eq!(keys.len(), 1, "{stdout}");
    keys[0].to_owned()
}

/// The real router over `stores`, served on 127.0.0.1:<free port>. Returns its base URL.
async fn serve(
    stores: StateStores,
    queue: Arc<dyn WorkQueue>,
    storage: Arc<dyn ExportStorage>,
) -> String {
    let clock = SystemClock::shared();
    let secrets = Arc::new(LocalSecrets::new());
    let connections = Arc::new(ErpConnections::new(
        secrets.clone(),
        stores.tokens.clone(),
        stores.rate.clone(),
        clock.clone(),
        "http://127.0.0.1:9/oauth/exact/callback",
    ));
    let flows = FlowContext {
        stores,
        queue,
        connections,
        clock,
        settings: FlowSettings::default(),
    };
    let router = ledgerlink_api::router(ApiState::new(flows, storage, secrets));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

async fn call(
    base: &str,
    method: &str,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut request = client
        .request(method.parse().unwrap(), format!("{base}{path}"))
        .bearer_auth(key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let json = response.json().await.unwrap_or(Value::Null);
    (status, json)
}

/// The whole onboarding through the admin command, then the keys against the router.
async fn onboarding_works_against(target: &Target, base: &str) {
    // A tenant is created with its first admin key, printed once.
    let created = target
        .ok(&[
            "tenant",
            "create",
            "acme",
            "--name",
            "Acme BV",
            "--admin-user",
            "ann",
        ])
        .await;
    let admin_key = printed_key(&created, "acme");
    assert!(created.contains("paused"), "{created}");
    let duplicate = target
        .fails(&["tenant", "create", "acme", "--name", "Again"])
        .await;
    assert!(
        duplicate.contains("tenant `acme` already exists"),
        "{duplicate}"
    );
    let bad_id = target
        .fails(&["tenant", "create", "Bad Id", "--name", "x"])
        .await;
    assert!(bad_id.contains("tenant id"), "{bad_id}");

    // Keys with roles.
    let issued = target
        .ok(&[
            "keys",
            "issue",
            "acme",
            "--user",
            "otto",
            "--role",
            "operator",
            "--expires-in",
            "30",
        ])
        .await;
    let operator_key = printed_key(&issued, "acme");
    assert!(
        issued.contains("role operator") && issued.contains("expiring"),
        "{issued}"
    );
    let viewer_key = printed_key(
        &target
            .ok(&["keys", "issue", "acme", "--user", "vic", "--role", "viewer"])
            .await,
        "acme",
    );
    let unknown = target
        .fails(&["keys", "issue", "nobody", "--user", "u", "--role", "viewer"])
        .await;
    assert!(unknown.contains("no tenant `nobody`"), "{unknown}");
    let bad_role = target
        .fails(&["keys", "issue", "acme", "--user", "u", "--role", "root"])
        .await;
    assert!(bad_role.contains("`root` is not a role"), "{bad_role}");
    let bad_user = target
        .fails(&["keys", "issue", "acme", "--user", "a b", "--role", "viewer"])
        .await;
    assert!(bad_user.contains("user:"), "{bad_user}");

    // Listed without any key or hash.
    let listed = target.ok(&["keys", "list", "acme", "--json"]).await;
    let list: Vec<Value> = serde_json::from_str(&listed).unwrap();
    let roles: Vec<&str> = list.iter().map(|k| k["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["admin", "operator", "viewer"]);
    for key in [&admin_key, &operator_key, &viewer_key] {
        assert!(!listed.contains(key.as_str()));
        let hash = ledgerlink_api::hash_api_key(key);
        assert!(!listed.contains(&hash));
    }

    // The router accepts each key with its role.
    for (key, role) in [
        (&admin_key, "admin"),
        (&operator_key, "operator"),
        (&viewer_key, "viewer"),
    ] {
        let (status, me) = call(base, "GET", "/api/me", key, None).await;
        assert_eq!(status, 200, "{me}");
        assert_eq!(me["role"], role);
        assert_eq!(me["tenant"], "acme");
    }
    let (status, _) = call(
        base,
        "PUT",
        "/api/connections/exact",
        &operator_key,
        Some(json!({"client_id": "x"})),
    )
    .await;
    assert_eq!(status, 403);
    let (status, api_list) = call(base, "GET", "/api/keys", &admin_key, None).await;
    assert_eq!(status, 200);
    assert_eq!(api_list["keys"].as_array().unwrap().len(), 3);

    // The tenant as the admin sees it.
    let shown = target.ok(&["tenant", "show", "acme"]).await;
    for expected in [
        "Tenant acme — Acme BV",
        "state: paused",
        "client_secret: not entered",
        "exact: not connected",
        "payment-in sync/Cashflow/PaymentTerms: not started",
        "Objects per status",
        "otto",
    ] {
        assert!(
            shown.contains(expected),
            "{expected:?} missing from:\n{shown}"
        );
    }
    assert!(!shown.contains(&admin_key));
    let missing = target.fails(&["tenant", "show", "nobody"]).await;
    assert!(missing.contains("no tenant `nobody`"), "{missing}");

    // Revoke: the key is refused from then on; the last admin key stays.
    let operator_id = list[1]["id"].as_str().unwrap();
    let admin_id = list[0]["id"].as_str().unwrap();
    target.ok(&["keys", "revoke", "acme", operator_id]).await;
    let (status, _) = call(base, "GET", "/api/me", &operator_key, None).await;
    assert_eq!(status, 401);
    let last = target.fails(&["keys", "revoke", "acme", admin_id]).await;
    assert!(last.contains("last valid admin key"), "{last}");
    let unknown_key = target
        .fails(&["keys", "revoke", "acme", "key-0000000000000000"])
        .await;
    assert!(
        unknown_key.contains("no key key-0000000000000000"),
        "{unknown_key}"
    );
    let (status, _) = call(base, "GET", "/api/me", &admin_key, None).await;
    assert_eq!(status, 200);
}

fn local_target(dir: &Path) -> Target {
    Target {
        args: vec!["--data-dir".into(), dir.display().to_string()],
        env: vec![],
    }
}

#[tokio::test]
async fn the_admin_command_onboards_a_tenant_in_a_local_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let missing = local_target(&dir.path().join("nowhere"))
        .fails(&["keys", "list", "acme"])
        .await;
    assert!(missing.contains("no local stack state"), "{missing}");
    let store = EmbeddedStore::open(dir.path().join("state.db")).unwrap();
    let clock = SystemClock::shared();
    let storage = Arc::new(
        FolderStorage::new(dir.path().join("files"), "http://127.0.0.1:9", &[7_u8; 32]).unwrap(),
    );
    let base = serve(store.state_stores(), store.queue(clock), storage).await;

    onboarding_works_against(&local_target(dir.path()), &base).await;
}

#[tokio::test]
async fn the_admin_command_onboards_a_tenant_in_a_deployed_stacks_table() {
    let server = moto();
    let mut settings = AwsSettings::local(
        &server.endpoint_url(),
        TEST_REGION,
        StaticCredentials {
            access_key_id: TEST_ACCESS_KEY_ID.to_owned(),
            secret_access_key: TEST_SECRET_ACCESS_KEY.to_owned(),
        },
    );
    settings.table_name = unique_name("ll-admin");
    settings.bucket_name = unique_name("ll-admin");
    let clients = AwsClients::build(&settings).await;
    create_resources(
        &clients,
        &ResourcePlan {
            table: settings.table_name.clone(),
            bucket: settings.bucket_name.clone(),
            queue_prefix: unique_name("ll"),
            flows: vec![],
            max_receive_count: 3,
            kms_key_id: None,
        },
    )
    .await
    .unwrap();
    settings.token_kms_key_id = Some(create_token_key(&clients).await.unwrap());
    let aws = AwsStores::new(&clients, &settings);
    let base = serve(aws.state.clone(), aws.queue.clone(), aws.storage.clone()).await;
    // The table from a flag; the endpoint, region and credentials from the environment, as the SDK reads them.
    let target = Target {
        args: vec!["--table".into(), settings.table_name.clone()],
        env: server.sdk_env(),
    };

    onboarding_works_against(&target, &base).await;
    // The same table through the environment variable instead of the flag.
    let mut env = server.sdk_env();
    env.push(("LEDGERLINK_TABLE", settings.table_name.clone()));
    let by_env = Target { args: vec![], env };
    let shown = by_env.ok(&["keys", "list", "acme"]).await;
    assert!(shown.contains("admin") && shown.contains("vic"), "{shown}");

    // Tokens sealed in the table: without the token key `tenant show` says so; with it, their expiry.
    let expires = chrono::Utc::now() + chrono::Duration::minutes(10);
    aws.state
        .tokens
        .save_initial(&TokenRecord {
            connection: "exact:acme".into(),
            issuer: "https://start.exactonline.nl".into(),
            access_token: "access-7c6b5a".into(),
            refresh_token: "refresh-5e6f7a".into(),
            access_expires_at: expires,
            issued_at: chrono::Utc::now(),
            generation: 0,
        })
        .await
        .unwrap();
    let without_key = target.ok(&["tenant", "show", "acme"]).await;
    let with_key = Target {
        args: vec![
            "--table".into(),
            settings.table_name.clone(),
            "--token-key".into(),
            settings.token_kms_key_id.clone().unwrap(),
        ],
        env: server.sdk_env(),
    }
    .ok(&["tenant", "show", "acme"])
    .await;
    assert!(
        without_key.contains("exact: stored sealed (pass --token-key"),
        "{without_key}"
    );
    assert!(
        with_key.contains(&format!(
            "exact: access token valid until {}",
            expires.format("%Y-%m-%d %H:%M:%S UTC")
        )),
        "{with_key}"
    );
    for shown in [&without_key, &with_key] {
        assert!(!shown.contains("access-7c6b5a") && !shown.contains("refresh-5e6f7a"));
    }
}
