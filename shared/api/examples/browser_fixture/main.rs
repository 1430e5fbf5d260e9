//! Browser-test fixture: serves the real router on 127.0.0.1 (port chosen by the OS) over a fresh embedded
//! store, with both ERP emulators running in-process ([`erp`]). The tenant's one real document, invoice
//! 900042, was refused by the REAL invoice-out flow (no Exact VAT code for its tax code: Error); the missing
//! lookup row was then added, so Force synchronize posts it to the Exact emulator and it turns Success.
//!
//! Master data comes from three rounds of the real firm-sync (no firm or employee in Error but one
//! deliberate link conflict, a vendor whose code is a client's, which the page test resolves from the
//! object's detail). Around it, for the other views: synthetic finance objects in every status with an
//! attempt history over the last day (the health chart), export jobs run for real by the jobs crate, an
//! import with its summary, lookup rows, an integration and notifications.
//!
//! A worker stands in for the Lambdas: it runs queued messages through the flows crate
//! (`ledgerlink_flows::process_message`) and the jobs crate (`Exporter::run`, `Importer::run`).
//!
//! Prints `BASE_URL=...`, `API_KEY=...`, `FORCE_KEY=...` and `CONFLICT_KEY=...` lines, then serves until
//! SIGINT / SIGTERM, or stops by itself after 15 minutes.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use ledgerlink_api::{ApiState, LocalSecretWriter, add_api_key, issue_api_key};
use ledgerlink_clock::SystemClock;
use ledgerlink_domain::{Flow, ObjectKey, ObjectType, SyncStatus, TenantId};
use ledgerlink_flows::connections::{ErpConnections, LocalSecrets};
use ledgerlink_flows::{FlowContext, FlowSettings, MessageOutcome};
use ledgerlink_jobs::import::ImportRequest;
use ledgerlink_jobs::{
    ExportColumn, ExportDefinition, ExportFormat, ExportSource, Exporter, ImportFormat,
    ImportTemplate, Importer, IntegrationsManager, JobsContext,
};
use ledgerlink_ports::{
    Integration, LookupEntry, LookupTable, Notification, NotificationKind, ObjectRef, ObjectStatus,
    StateStores, StatusFilter, WorkQueue,
};
use ledgerlink_store_embedded::{EmbeddedStore, FolderStorage};

mod erp;

type AnyError = Box<dyn std::error::Error + Send + Sync>;

/// Writes an object's attempts one after the other (each write appends to its history).
async fn object(
    stores: &StateStores,
    tenant: &TenantId,
    object_type: ObjectType,
    key: &str,
    attempts: &[(SyncStatus, Option<&str>, DateTime<Utc>)],
) -> Result<(), AnyError> {
    let mut version = None;
    let mut record = ObjectStatus {
        object: ObjectRef {
            tenant: tenant.clone(),
            object_type,
            key: ObjectKey::parse(key)?,
        },
        category: object_type.category(),
        status: SyncStatus::NotIntegrated,
        version: 0,
        source_version: Some("1".into()),
        source_hash: None,
        target_id: None,
        last_message: None,
        fix: None,
        attempts: 0,
        created_at: attempts.first().map_or_else(Utc::now, |a| a.2),
        updated_at: Utc::now(),
    };
    for (n, (status, message, at)) in attempts.iter().enumerate() {
        record.status = *status;
        record.last_message = message.map(str::to_owned);
        record.updated_at = *at;
        record.attempts = u32::try_from(n + 1)?;
        if *status == SyncStatus::Success {
            record.target_id = Some(format!("EXACT-{key}"));
        }
        let stored = stores.statuses.put(&record, version).await?;
        version = Some(stored.version);
        record = stored;
    }
    Ok(())
}

async fn seed_objects(
    stores: &StateStores,
    tenant: &TenantId,
    now: DateTime<Utc>,
) -> Result<(), AnyError> {
    let h = |hours: i64| {
        now - chrono::Duration::hours(hours) - chrono::Duration::minutes(hours * 7 % 50)
    };
    use SyncStatus::{Desynchronized, Error, NotIntegrated, Pending, Success};
    object(
        stores,
        tenant,
        ObjectType::Invoice,
        "INV-2026-0099",
        &[(
            Error,
            Some("Exact Online refused the entry: the journal 70 is blocked"),
            h(2),
        )],
    )
    .await?;
    for i in 0..18_i64 {
        let key = format!("INV-2026-{:04}", i + 1);
        let attempts = if i % 5 == 0 {
            vec![
                (
                    Error,
                    Some("Exact Online is temporarily unavailable (503)"),
                    h(i + 3),
                ),
                (Success, None, h(i + 1)),
            ]
        } else {
            vec![(Success, None, h(i + 1))]
        };
        object(stores, tenant, ObjectType::Invoice, &key, &attempts).await?;
    }
    for i in 0..8_i64 {
        let key = format!("V-{:05}", 300 + i);
        let status = if i == 3 { Error } else { Success };
        let message = (status == Error).then_some("GL account 4999 is blocked in Exact Online");
        object(
            stores,
            tenant,
            ObjectType::ApVoucher,
            &key,
            &[(status, message, h(2 * i + 1))],
        )
        .await?;
    }
    for i in 0..6_i64 {
        object(
            stores,
            tenant,
            ObjectType::CashReceipt,
            &format!("BNK-{:04}", 90 + i),
            &[(Success, None, h(3 * i))],
        )
        .await?;
    }
    object(
        stores,
        tenant,
        ObjectType::Invoice,
        "INV-2026-0050",
        &[(Pending, Some("Waiting in the queue"), h(0))],
    )
    .await?;
    object(
        stores,
        tenant,
        ObjectType::Invoice,
        "INV-2026-0031",
        &[
            (Success, None, h(30)),
            (
                Desynchronized,
                Some("The sales entry was deleted in Exact Online; Synchronize sends it again"),
                h(4),
            ),
        ],
    )
    .await?;
    object(
        stores,
        tenant,
        ObjectType::Invoice,
        "INV-2026-0100",
        &[(NotIntegrated, None, h(20))],
    )
    .await?;
    Ok(())
}

async fn seed_jobs(jobs: &JobsContext, tenant: &TenantId) -> Result<(), AnyError> {
    let exporter = Exporter::new(jobs.clone());
    let definition = ExportDefinition {
        id: "customer-summary".into(),
        name: "customer-summary".into(),
        description: "Every synced object with its status".into(),
        source: ExportSource::Statuses {
            filter: StatusFilter::default(),
        },
        columns: vec![
            ExportColumn::new("object_type", "Type"),
            ExportColumn::new("key", "Key"),
            ExportColumn::new("status", "Status"),
        ],
        filter: vec![],
        format: ExportFormat::Csv,
        updated_by: String::new(),
        updated_at: None,
        file_name: None,
        schedule: None,
        version: 0,
    };
    exporter
        .definitions()
        .save(tenant, &definition, "dolores_agency")
        .await?;
    let mut invoices = definition.clone();
    invoices.id = "invoice-export".into();
    invoices.name = "Invoice".into();
    invoices.source = ExportSource::Statuses {
        filter: StatusFilter {
            object_type: Some(ObjectType::Invoice),
            ..StatusFilter::default()
        },
    };
    invoices.format = ExportFormat::Xlsx;
    exporter
        .definitions()
        .save(tenant, &invoices, "dolores_agency")
        .await?;

    for id in ["customer-summary", "invoice-export", "customer-summary"] {
        let job = exporter.start(tenant, id, "dolores_agency").await?;
        exporter.run(tenant, &job.id).await?;
    }
    let stuck = exporter
        .start(tenant, "invoice-export", "dolores_agency")
        .await?;
    let failed = exporter
        .start(tenant, "customer-summary", "dolores_agency")
        .await?;
    exporter
        .mark_failed(
            tenant,
            &failed.id,
            "dolores_agency",
            "the worker stopped responding",
        )
        .await?;
    let _ = stuck;

    let importer = Importer::new(jobs.clone());
    let request = ImportRequest {
        template: ImportTemplate::Lookup(LookupTable::BankCodes),
        format: ImportFormat::Csv,
        partial: true,
        integration: None,
    };
    let file = "Key,vp_bank_code\n30,EURSAV\n31,USDBANK\n32,GBPBANK\n,CASH\n";
    let job = importer
        .upload(tenant, &request, "dolores_agency", Bytes::from(file))
        .await?;
    importer.run(tenant, &job.id).await?;

    IntegrationsManager::new(jobs.clone())
        .save(
            &Integration {
                tenant: tenant.clone(),
                id: "month-end".into(),
                name: "Month-end close".into(),
                description: "Customer summary and invoices for the accountant".into(),
                import_tasks: vec!["firms".into()],
                export_tasks: vec!["customer-summary".into(), "invoice-export".into()],
                version: 0,
                updated_at: Utc::now(),
            },
            None,
        )
        .await?;
    Ok(())
}

async fn seed_rest(
    stores: &StateStores,
    tenant: &TenantId,
    now: DateTime<Utc>,
) -> Result<(), AnyError> {
    for (key, vp) in [("BNK1", "1010"), ("BNK2", "1020")] {
        let entry = LookupEntry {
            key: key.into(),
            columns: [("vp_bank_code".to_owned(), vp.to_owned())].into(),
            version: 0,
            updated_at: now,
            updated_by: "dolores_agency".into(),
        };
        stores
            .lookups
            .put(tenant, LookupTable::BankCodes, &entry, None)
            .await?;
    }
    for (id, kind, subject) in [
        (
            "n-1",
            NotificationKind::SyncError,
            "Ledgerlink could not synchronise invoice INV-2026-0042",
        ),
        (
            "n-2",
            NotificationKind::ExportFinished,
            "Your customer-summary export is ready",
        ),
    ] {
        stores
            .notifications
            .push(&Notification {
                tenant: tenant.clone(),
                id: id.into(),
                kind,
                recipient: "operators".into(),
                subject: subject.into(),
                body: "See the Integration page for details.".into(),
                link: None,
                created_at: now,
                delivered_at: None,
            })
            .await?;
    }
    Ok(())
}

/// Stands in for the flow Lambdas (marks Sync / ForceSync work Success) and runs queued jobs for real.
async fn worker(flows: FlowContext, jobs: JobsContext) {
    let visibility = Duration::from_secs(30);
    loop {
        for flow in [
            Flow::InvoiceOut,
            Flow::VoucherOut,
            Flow::PaymentIn,
            Flow::FirmSync,
            Flow::ExportJob,
            Flow::ImportJob,
        ] {
            let Ok(got) = flows.queue.receive(flow, 10, visibility).await else {
                continue;
            };
            for received in got {
                let message = &received.message;
                let outcome: Result<(), AnyError> = async {
                    match (flow, message.action, &message.object_type, &message.key) {
                        (Flow::ExportJob, _, _, Some(id)) => {
                            Exporter::new(jobs.clone())
                                .run(&message.tenant, id.as_str())
                                .await?;
                        }
                        (Flow::ImportJob, _, _, Some(id)) => {
                            Importer::new(jobs.clone())
                                .run(&message.tenant, id.as_str())
                                .await?;
                        }
                        _ => match ledgerlink_flows::process_message(&flows, flow, message).await {
                            Ok(MessageOutcome::Handled) => {}
                            Ok(
                                MessageOutcome::RetryLater(reason)
                                | MessageOutcome::RetryAt(_, reason),
                            ) => return Err(reason.into()),
                            Err(e) if e.is_retryable() => return Err(e.into()),
                            Err(e) => {
                                eprintln!("fixture worker: {flow} message failed for good: {e}")
                            }
                        },
                    }
                    Ok(())
                }
                .await;
                match outcome {
                    Ok(()) => {
                        let _ = flows.queue.ack(flow, &received.receipt).await;
                    }
                    Err(e) => {
                        eprintln!("fixture worker: {flow} message will be retried: {e}");
                        let _ = flows
                            .queue
                            .retry_later(flow, &received.receipt, Duration::from_secs(1))
                            .await;
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn stop_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
        _ = tokio::time::sleep(Duration::from_secs(15 * 60)) => eprintln!("fixture: stopping after 15 minutes"),
    }
}

#[tokio::main]
async fn main() -> Result<(), AnyError> {
    let dir = tempfile::tempdir()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base_url = format!("http://{}", listener.local_addr()?);

    let store = EmbeddedStore::open(dir.path().join("state.db"))?;
    let clock = SystemClock::shared();
    let stores = store.state_stores();
    let queue = store.queue(clock.clone());
    let mut signing_key = [0_u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut signing_key);
    let files = FolderStorage::new(dir.path().join("files"), &base_url, &signing_key)?;
    let storage = Arc::new(files.clone());
    let secrets = Arc::new(LocalSecrets::new());

    let erps = erp::spawn(clock.clone(), &secrets).await?;
    let tenant = TenantId::parse("demo")?;
    let mut record = erp::tenant(&erps, &stores, &tenant, clock.now()).await?;
    let key = issue_api_key(&tenant, "dolores_agency");
    add_api_key(&mut record, &key.stored);
    stores.tenants.put(&record, None).await?;

    let connections = Arc::new(
        ErpConnections::new(
            secrets.clone(),
            stores.tokens.clone(),
            stores.rate.clone(),
            clock.clone(),
            erps.app.redirect_uri.clone(),
        )
        .with_allowed_hosts(ledgerlink_flows::hosts::AllowedErpHosts::parse(
            "127.0.0.1",
        )?),
    );
    let flows = FlowContext {
        stores: stores.clone(),
        queue: queue.clone(),
        connections,
        clock: clock.clone(),
        settings: FlowSettings {
            discover_lag: Duration::from_secs(1),
            ..FlowSettings::default()
        },
    };
    let state = ApiState::new(flows.clone(), storage, secrets.clone())
        .with_secret_writer(Arc::new(LocalSecretWriter::new(secrets)))
        .with_local_files(files);
    let jobs = state.jobs.clone();

    // Master data through the real firm-sync, three rounds; its one Error is the deliberate conflict.
    let conflict_key = erp::firm_sync_rounds(&erps, &flows, &tenant, 3).await?;
    let force_key = erp::failing_invoice(&erps, &flows, &tenant).await?;
    erp::fix_tax_mapping(&stores, &tenant, clock.now()).await?;
    let now = clock.now();
    seed_objects(&stores, &tenant, now).await?;
    seed_jobs(&jobs, &tenant).await?;
    seed_rest(&stores, &tenant, now).await?;

    // The seeded jobs ran inline; drop their queue messages so the stuck export stays "started".
    for flow in [Flow::ExportJob, Flow::ImportJob] {
        loop {
            let got = queue.receive(flow, 10, Duration::from_secs(30)).await?;
            if got.is_empty() {
                break;
            }
            for m in got {
                queue.ack(flow, &m.receipt).await?;
            }
        }
    }
    let worker = tokio::spawn(worker(flows, jobs));
    println!("BASE_URL={base_url}");
    println!("API_KEY={}", key.token);
    println!("FORCE_KEY={force_key}");
    println!("CONFLICT_KEY={conflict_key}");
    use std::io::Write;
    std::io::stdout().flush()?;

    axum::serve(listener, ledgerlink_api::router(state))
        .with_graceful_shutdown(stop_signal())
        .await?;
    worker.abort();
    drop(erps);
    Ok(())
}
