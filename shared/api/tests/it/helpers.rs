//! Spawns the API over a fresh embedded store with two tenants (`acme`, `globex`), each with an API key,
//! an Exact webhook secret and Vantagepoint webhook credentials.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use chrono::{DateTime, Utc};
use http_body_util::BodyExt;
use ledgerlink_api::{ApiState, LocalSecretWriter, add_api_key, issue_api_key};
use ledgerlink_clock::{Clock, SystemClock};
use ledgerlink_domain::{Division, Flow, ObjectKey, ObjectType, SyncStatus, TenantId};
use ledgerlink_flows::connections::{ErpConnections, LocalSecrets};
use ledgerlink_flows::hosts::AllowedErpHosts;
use ledgerlink_flows::{FlowContext, FlowSettings};
use ledgerlink_ports::{
    ConnectionState, ExportStorage, Job, JobKind, JobStatus, ObjectRef, ObjectStatus, SecretRef,
    StateStores, Tenant, WorkMessage, WorkQueue,
};
use ledgerlink_store_embedded::{EmbeddedStore, FolderStorage, SqliteQueue};
use serde_json::{Value, json};
use tower::ServiceExt;

pub const BASE_URL: &str = "http://127.0.0.1:9";
pub const VP_USER: &str = "vp-hook";
pub const VP_PASSWORD: &str = "vp-hook-password";
pub const VP_SHARED: &str = "vp-shared-secret";

pub struct TenantKeys {
    pub id: TenantId,
    pub key: String,
    pub webhook_secret: String,
    pub division: u32,
}

pub struct TestApp {
    pub router: Router,
    pub stores: StateStores,
    pub queue: Arc<SqliteQueue>,
    pub storage: Arc<FolderStorage>,
    pub secrets: Arc<LocalSecrets>,
    /// The `AllowedErpHosts` setting this app runs with.
    pub allowed: AllowedErpHosts,
    pub acme: TenantKeys,
    pub globex: TenantKeys,
    _dir: tempfile::TempDir,
}

/// A raw answer: status, headers, body bytes and the body as JSON when it is JSON.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub bytes: Vec<u8>,
    pub json: Value,
}

impl Answer {
    pub fn content_type(&self) -> &str {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
    /// Asserts the body is a problem with the given status.
    pub fn assert_problem(&self, status: StatusCode) {
        assert_eq!(self.status, status, "body: {}", self.text());
        assert_eq!(
            self.content_type(),
            "application/problem+json",
            "body: {}",
            self.text()
        );
        for field in ["type", "title", "status", "detail"] {
            assert!(
                self.json.get(field).is_some(),
                "problem without {field}: {}",
                self.text()
            );
        }
        assert_eq!(self.json["status"], status.as_u16());
    }
}

pub fn tenant_record(id: &str, division: u32, name: &str) -> Tenant {
    Tenant {
        id: TenantId::parse(id).unwrap(),
        name: name.into(),
        vp_base_url: "http://127.0.0.1:9/vantagepoint".into(),
        vp_database: "VP".into(),
        vp_culture: "en-US".into(),
        vp_client_id: format!("{id}-vp-client"),
        vp_client_secret: SecretRef::Local(format!("{id}/vp/client")),
        vp_username: "integration".into(),
        vp_password: SecretRef::Local(format!("{id}/vp/password")),
        exact_base_url: "http://127.0.0.1:9".into(),
        exact_division: Division(division),
        exact_client_id: format!("{id}-exact-client"),
        exact_client_secret: SecretRef::Local(format!("{id}/exact/client")),
        exact_webhook_secret: SecretRef::Local(format!("{id}/exact/webhook")),
        state: ConnectionState::Active,
        paused_reason: None,
        settings: BTreeMap::new(),
        version: 0,
        updated_at: Utc::now(),
    }
}

impl TestApp {
    /// The app with the emulator host `127.0.0.1` allowed (as the local stack and the tests configure it).
    pub async fn spawn() -> TestApp {
        Self::spawn_allowing("127.0.0.1").await
    }

    /// The app with `allowed` as its `AllowedErpHosts` setting (`""`: production, nothing exempt).
    pub async fn spawn_allowing(allowed: &str) -> TestApp {
        Self::spawn_with(allowed, |state| state).await
    }

    /// The app with `configure` applied to its state before the router is built (limits, wrapped stores).
    pub async fn spawn_with(
        allowed: &str,
        configure: impl FnOnce(ApiState) -> ApiState,
    ) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path().join("state.db")).unwrap();
        let clock = SystemClock::shared();
        let stores = store.state_stores();
        let queue = store.queue(clock.clone());
        let storage =
            Arc::new(FolderStorage::new(dir.path().join("files"), BASE_URL, &[7_u8; 32]).unwrap());
        let secrets = Arc::new(LocalSecrets::new());
        let connections = Arc::new(
            ErpConnections::new(
                secrets.clone(),
                stores.tokens.clone(),
                stores.rate.clone(),
                clock.clone(),
                "http://127.0.0.1:9/oauth/exact/callback",
            )
            .with_allowed_hosts(AllowedErpHosts::parse(allowed).unwrap()),
        );
        let flows = FlowContext {
            stores: stores.clone(),
            queue: queue.clone(),
            connections,
            clock: clock.clone(),
            settings: FlowSettings::default(),
        };
        let mut keys = Vec::new();
        for (id, division) in [("acme", 101_u32), ("globex", 202_u32)] {
            let mut record = tenant_record(id, division, &format!("{id} inc"));
            let issued = issue_api_key(&record.id, &format!("{id}-user"));
            add_api_key(&mut record, &issued.stored);
            record.settings.insert(
                "vp_webhook".into(),
                json!({
                    "username": VP_USER,
                    "password": {"kind": "local", "name": format!("{id}/vp/webhook")},
                    "secret": {"kind": "local", "name": format!("{id}/vp/shared")},
                }),
            );
            stores.tenants.put(&record, None).await.unwrap();
            let webhook_secret = format!("{id}-exact-webhook-secret");
            secrets.set(format!("{id}/exact/webhook"), webhook_secret.clone());
            secrets.set(format!("{id}/vp/webhook"), VP_PASSWORD);
            secrets.set(format!("{id}/vp/shared"), VP_SHARED);
            keys.push(TenantKeys {
                id: record.id,
                key: issued.token,
                webhook_secret,
                division,
            });
        }
        let globex = keys.pop().unwrap();
        let acme = keys.pop().unwrap();
        let state = ApiState::new(flows, storage.clone(), secrets.clone())
            .with_secret_writer(Arc::new(LocalSecretWriter::new(secrets.clone())))
            .with_local_files((*storage).clone());
        let state = configure(state);
        TestApp {
            router: ledgerlink_api::router(state),
            stores,
            queue,
            storage,
            secrets,
            allowed: AllowedErpHosts::parse(allowed).unwrap(),
            acme,
            globex,
            _dir: dir,
        }
    }

    pub async fn send(&self, request: Request<Body>) -> Answer {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            bytes,
            json,
        }
    }

    /// A JSON request with an optional API key.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut builder = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(path);
        if let Some(key) = key {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {key}"));
        }
        let request = match body {
            Some(body) => builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
            None => builder.body(Body::empty()).unwrap(),
        };
        self.send(request).await
    }

    /// `PUT /api/connections/{system}` as a client does it: the ETag of `GET /api/connections` as
    /// `If-Match`.
    pub async fn put_connection(&self, system: &str, key: &str, body: Value) -> Answer {
        let read = self.get("/api/connections", key).await;
        let mut builder = Request::builder()
            .method(Method::PUT)
            .uri(format!("/api/connections/{system}"))
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(tag) = read.headers.get(header::ETAG) {
            builder = builder.header(header::IF_MATCH, tag.clone());
        }
        self.send(builder.body(Body::from(body.to_string())).unwrap())
            .await
    }

    pub async fn get(&self, path: &str, key: &str) -> Answer {
        self.call("GET", path, Some(key), None).await
    }

    pub async fn post(&self, path: &str, key: &str, body: Value) -> Answer {
        self.call("POST", path, Some(key), Some(body)).await
    }

    /// Stores an object status (and its first history entry) directly.
    pub async fn seed_object(
        &self,
        tenant: &TenantId,
        object_type: ObjectType,
        key: &str,
        status: SyncStatus,
        message: Option<&str>,
        at: DateTime<Utc>,
    ) -> ObjectStatus {
        let record = ObjectStatus {
            object: ObjectRef {
                tenant: tenant.clone(),
                object_type,
                key: ObjectKey::parse(key).unwrap(),
            },
            category: object_type.category(),
            status,
            version: 0,
            source_version: Some("v1".into()),
            source_hash: None,
            target_id: None,
            last_message: message.map(str::to_owned),
            fix: None,
            attempts: 1,
            created_at: at,
            updated_at: at,
        };
        self.stores.statuses.put(&record, None).await.unwrap()
    }

    /// Stores a job directly; a finished export gets a file.
    pub async fn seed_job(
        &self,
        tenant: &TenantId,
        number: u64,
        kind: JobKind,
        status: JobStatus,
    ) -> Job {
        let now = Utc::now();
        let id = ledgerlink_jobs::job::format_id(number);
        let file_key = format!("exports/{number}/out.csv");
        if status == JobStatus::Finished && kind == JobKind::Export {
            self.storage
                .put(
                    tenant,
                    &file_key,
                    "text/csv",
                    bytes::Bytes::from_static(b"a,b\n1,2\n"),
                )
                .await
                .unwrap();
        }
        let job = Job {
            tenant: tenant.clone(),
            id,
            kind,
            description: format!("customer-summary export initiated on {}", now.date_naive()),
            created_by: "dolores_agency".into(),
            definition: "customer-summary".into(),
            status,
            processed: 8,
            total: Some(8),
            started_at: now,
            finished_at: (status == JobStatus::Finished).then_some(now),
            failed_at: (status == JobStatus::Failed).then_some(now),
            fail_reason: (status == JobStatus::Failed).then(|| "worker died".to_owned()),
            file_key: (status == JobStatus::Finished).then_some(file_key),
            lease_expires_at: (status == JobStatus::Started)
                .then(|| now + chrono::Duration::minutes(5)),
            attempt: 1,
            original_id: None,
            details: json!({"name": "customer-summary"}),
            version: 0,
        };
        self.stores.jobs.create(&job).await.unwrap()
    }

    /// Every message waiting in a flow's queue (received and acknowledged).
    pub async fn drain(&self, flow: Flow) -> Vec<WorkMessage> {
        let mut out = Vec::new();
        loop {
            let got = self
                .queue
                .receive(flow, 10, std::time::Duration::from_secs(30))
                .await
                .unwrap();
            if got.is_empty() {
                return out;
            }
            for m in got {
                self.queue.ack(flow, &m.receipt).await.unwrap();
                out.push(m.message);
            }
        }
    }

    pub async fn depth(&self, flow: Flow) -> u64 {
        self.queue.depth(flow).await.unwrap()
    }
}

pub fn now() -> DateTime<Utc> {
    SystemClock.now()
}
