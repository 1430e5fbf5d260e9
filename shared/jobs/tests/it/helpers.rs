//! `embedded()` and `aws()`: a fresh store of each kind with a tenant, a manual clock and the job context.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use ledgerlink_clock::ManualClock;
use ledgerlink_domain::{Flow, TenantId};
use ledgerlink_jobs::{JobSettings, JobsContext};
use ledgerlink_ports::contract::{fresh_tenant, tenants};
use ledgerlink_ports::{LookupEntry, LookupTable, PageRequest};
use ledgerlink_store_aws::{
    AwsClients, AwsSettings, AwsStores, ResourcePlan, StaticCredentials, create_resources,
    create_token_key,
};
use ledgerlink_store_embedded::{EmbeddedStore, FolderStorage};
use ledgerlink_testkit::{
    TEST_ACCESS_KEY_ID, TEST_REGION, TEST_SECRET_ACCESS_KEY, moto, unique_name,
};

/// One store with a tenant, a clock at 2026-06-15 10:00 UTC and the jobs context over it.
#[derive(Debug)]
pub struct Harness {
    pub ctx: JobsContext,
    pub clock: ManualClock,
    pub tenant: TenantId,
    _dir: Option<tempfile::TempDir>,
}

/// Settings that make progress visible in small tests.
pub fn settings() -> JobSettings {
    JobSettings {
        progress_every_rows: 10,
        progress_min_interval: std::time::Duration::ZERO,
        chunk_size: 64,
        ..JobSettings::default()
    }
}

async fn with_tenant(
    ctx: JobsContext,
    clock: ManualClock,
    dir: Option<tempfile::TempDir>,
) -> Harness {
    let tenant = fresh_tenant();
    ctx.stores
        .tenants
        .put(&tenants::sample(&tenant), None)
        .await
        .unwrap();
    Harness {
        ctx,
        clock,
        tenant,
        _dir: dir,
    }
}

pub async fn embedded() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::fixed();
    let store = EmbeddedStore::open(dir.path().join("state.db")).unwrap();
    let storage = FolderStorage::new(
        dir.path().join("files"),
        "http://127.0.0.1:8080",
        &[7u8; 32],
    )
    .unwrap();
    let ctx = JobsContext::new(
        store.state_stores(),
        Arc::new(storage),
        store.queue(clock.shared()),
        clock.shared(),
    )
    .with_settings(settings());
    with_tenant(ctx, clock, Some(dir)).await
}

pub async fn aws() -> Harness {
    let server = moto();
    let mut settings = AwsSettings::local(
        &server.endpoint_url(),
        TEST_REGION,
        StaticCredentials {
            access_key_id: TEST_ACCESS_KEY_ID.to_owned(),
            secret_access_key: TEST_SECRET_ACCESS_KEY.to_owned(),
        },
    );
    settings.table_name = unique_name("jobs-table");
    settings.bucket_name = unique_name("jobs-bucket");
    let clients = AwsClients::build(&settings).await;
    let plan = ResourcePlan {
        table: settings.table_name.clone(),
        bucket: settings.bucket_name.clone(),
        queue_prefix: unique_name("jobs"),
        flows: vec![Flow::ExportJob, Flow::ImportJob],
        max_receive_count: 3,
        kms_key_id: None,
    };
    settings.queues = create_resources(&clients, &plan).await.unwrap();
    settings.token_kms_key_id = Some(create_token_key(&clients).await.unwrap());
    let stores = AwsStores::new(&clients, &settings);
    let clock = ManualClock::fixed();
    let ctx = JobsContext::new(stores.state, stores.storage, stores.queue, clock.shared())
        .with_settings(settings_for_tests());
    with_tenant(ctx, clock, None).await
}

fn settings_for_tests() -> JobSettings {
    settings()
}

/// Both stores: runs the scenario `$name` (an `async fn(Harness)`) once on each, as two tests.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn on_the_embedded_store() {
                    super::$name($crate::helpers::embedded().await).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn on_the_aws_store() {
                    super::$name($crate::helpers::aws().await).await;
                }
            }
        )+
    };
}

impl Harness {
    /// Adds lookup rows `(key, columns)`.
    pub async fn seed_lookups(&self, table: LookupTable, rows: &[(&str, &[(&str, &str)])]) {
        for (key, columns) in rows {
            let entry = LookupEntry {
                key: (*key).to_owned(),
                columns: columns
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect::<BTreeMap<_, _>>(),
                version: 0,
                updated_at: self.clock_now(),
                updated_by: "seed".into(),
            };
            self.ctx
                .stores
                .lookups
                .put(&self.tenant, table, &entry, None)
                .await
                .unwrap();
        }
    }

    /// Every row of a lookup table.
    pub async fn lookups(&self, table: LookupTable) -> Vec<LookupEntry> {
        let mut all = Vec::new();
        let mut request = PageRequest::first(500);
        loop {
            let page = self
                .ctx
                .stores
                .lookups
                .list(&self.tenant, table, request.clone())
                .await
                .unwrap();
            all.extend(page.items);
            match page.next_cursor {
                Some(c) => request.cursor = Some(c),
                None => return all,
            }
        }
    }

    pub fn clock_now(&self) -> DateTime<Utc> {
        use ledgerlink_clock::Clock;
        self.clock.now()
    }

    /// The bytes of a stored object of the tenant.
    pub async fn object(&self, key: &str) -> Bytes {
        self.ctx.storage.get(&self.tenant, key).await.unwrap()
    }

    /// The tenant's notifications, newest first.
    pub async fn notifications(&self) -> Vec<ledgerlink_ports::Notification> {
        self.ctx
            .stores
            .notifications
            .list(&self.tenant, PageRequest::first(100))
            .await
            .unwrap()
            .items
    }
}
