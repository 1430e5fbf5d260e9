//! The sample API Gateway (HTTP API, payload 2.0) events in `events/api-*.json`, decoded by `lambda_http`
//! exactly as the Lambda receives them and routed through the same router, over an embedded store.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use http_body_util::BodyExt;
use ledgerlink_api::{ApiState, StoredApiKey, add_api_key, hash_api_key};
use ledgerlink_clock::ManualClock;
use ledgerlink_domain::{Division, Flow, ObjectKey, ObjectType, SyncStatus, TenantId};
use ledgerlink_flows::connections::{ErpConnections, LocalSecrets};
use ledgerlink_flows::{FlowContext, FlowSettings};
use ledgerlink_ports::{ConnectionState, ObjectRef, ObjectStatus, SecretRef, Tenant, WorkQueue};
use ledgerlink_store_embedded::{EmbeddedStore, FolderStorage};
use serde_json::json;
use tower::ServiceExt;

const KEY: &str = "llk_acme_5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";

struct Fixture {
    router: axum::Router,
    queue: Arc<ledgerlink_store_embedded::SqliteQueue>,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path().join("state.db")).unwrap();
    // The sample Exact delivery's EventCreatedOn is 2026-11-22T01:55:00.087 Dutch time (00:55 UTC): the
    // API only acts on events younger than a day, so the fixture's clock stands a few minutes later.
    let clock = ManualClock::new(
        chrono::DateTime::parse_from_rfc3339("2026-11-22T01:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc),
    )
    .shared();
    let stores = store.state_stores();
    let queue = store.queue(clock.clone());
    let secrets = Arc::new(LocalSecrets::new());
    secrets.set("acme/exact/webhook", "fixture-webhook-secret");
    secrets.set("acme/vp/webhook", "vp-hook-password");
    let mut tenant = Tenant {
        id: TenantId::parse("acme").unwrap(),
        name: "Acme".into(),
        vp_base_url: "http://127.0.0.1:9".into(),
        vp_database: "VP".into(),
        vp_culture: "en-US".into(),
        vp_client_id: "c".into(),
        vp_client_secret: SecretRef::Local("acme/vp/client".into()),
        vp_username: "u".into(),
        vp_password: SecretRef::Local("acme/vp/password".into()),
        exact_base_url: "http://127.0.0.1:9".into(),
        exact_division: Division(101),
        exact_client_id: "c".into(),
        exact_client_secret: SecretRef::Local("acme/exact/client".into()),
        exact_webhook_secret: SecretRef::Local("acme/exact/webhook".into()),
        state: ConnectionState::Active,
        paused_reason: None,
        settings: BTreeMap::new(),
        version: 0,
        updated_at: chrono::Utc::now(),
    };
    add_api_key(
        &mut tenant,
        &StoredApiKey {
            user: "dolores".into(),
            sha256: hash_api_key(KEY),
            ..StoredApiKey::default()
        },
    );
    tenant.settings.insert(
        "vp_webhook".into(),
        json!({"username": "vp-hook", "password": {"kind": "local", "name": "acme/vp/webhook"}}),
    );
    stores.tenants.put(&tenant, None).await.unwrap();
    let now = chrono::Utc::now();
    let status = ObjectStatus {
        object: ObjectRef {
            tenant: tenant.id.clone(),
            object_type: ObjectType::Invoice,
            key: ObjectKey::parse("INV-100").unwrap(),
        },
        category: ObjectType::Invoice.category(),
        status: SyncStatus::Error,
        version: 0,
        source_version: None,
        source_hash: None,
        target_id: None,
        last_message: Some("VAT code unknown".into()),
        fix: None,
        attempts: 1,
        created_at: now,
        updated_at: now,
    };
    stores.statuses.put(&status, None).await.unwrap();
    let storage = Arc::new(
        FolderStorage::new(dir.path().join("files"), "http://127.0.0.1:9", &[1_u8; 32]).unwrap(),
    );
    let connections = Arc::new(
        ErpConnections::new(
            secrets.clone(),
            stores.tokens.clone(),
            stores.rate.clone(),
            clock.clone(),
            "http://127.0.0.1:9/cb",
        )
        .with_allowed_hosts(ledgerlink_flows::hosts::AllowedErpHosts::parse("127.0.0.1").unwrap()),
    );
    let flows = FlowContext {
        stores,
        queue: queue.clone(),
        connections,
        clock,
        settings: FlowSettings::default(),
    };
    let state = ApiState::new(flows, storage, secrets);
    Fixture {
        router: ledgerlink_api::router(state),
        queue,
        _dir: dir,
    }
}

async fn replay(fixture: &Fixture, name: &str) -> (u16, serde_json::Value) {
    let path = format!("{}/../../events/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let request = lambda_http::request::from_str(&text).unwrap();
    let response = fixture.router.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test]
async fn the_sample_api_gateway_events_route_as_the_lambda_would_route_them() {
    let fixture = fixture().await;

    let (status, body) = replay(&fixture, "api-list-errors").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"][0]["key"], "INV-100");

    let (status, body) = replay(&fixture, "api-no-key").await;
    assert_eq!(status, 401);
    assert_eq!(body["status"], 401);

    let (status, body) = replay(&fixture, "api-exact-webhook-validation").await;
    assert_eq!((status, body["outcome"].as_str()), (200, Some("validated")));

    let (status, _) = replay(&fixture, "api-exact-webhook-bad-signature").await;
    assert_eq!(status, 401);
    assert_eq!(fixture.queue.depth(Flow::PaymentIn).await.unwrap(), 0);

    let (status, body) = replay(&fixture, "api-exact-webhook").await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("enqueued")),
        "{body}"
    );
    assert_eq!(fixture.queue.depth(Flow::PaymentIn).await.unwrap(), 1);

    let (status, body) = replay(&fixture, "api-vp-webhook").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(fixture.queue.depth(Flow::FirmSync).await.unwrap(), 1);

    let (status, body) = replay(&fixture, "api-force-synchronize").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][0]["result"], "accepted");
    assert_eq!(fixture.queue.depth(Flow::InvoiceOut).await.unwrap(), 1);

    let (status, body) = replay(&fixture, "api-import-upload-base64").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["kind"], "import");
}
