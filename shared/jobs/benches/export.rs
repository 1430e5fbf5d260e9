//! Export benchmark: 1,000,000 rows exported as CSV to the folder store (and, with `BENCH_XLSX=1`, as XLSX),
//! printing rows/s, bytes and the peak RSS of each run (VmHWM from /proc/self/status, reset between runs
//! through /proc/self/clear_refs; goal ≤ 64 MB). Then our CSV export to S3 on moto against `aws s3 cp` of
//! the same bytes to the same server, interleaved: five pairs, alternating which of the two goes first,
//! each pair's ratio (CLI time / our time, rows generated and written included in ours) and their median.
//! Goal: median ratio ≥ 1.0, i.e. at least as fast as the CLI. The last line reads
//! `export-bench: median_ratio_vs_cli=R pairs=5 peak_rss_mb=M` (M: the highest peak of our S3 runs).
//!
//! Run: `cargo bench -p ledgerlink-jobs --bench export` (`BENCH_ROWS=n` to change the row count). Needs
//! moto in `.venv` (or `LEDGERLINK_MOTO_SERVER`) and the AWS CLI: `LEDGERLINK_AWS_CLI`, else `.venv/bin/aws`
//! (`.venv/bin/pip install -r scripts/bench-requirements.txt`).
#![allow(clippy::unwrap_used, clippy::float_arithmetic)]

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use ledgerlink_clock::SystemClock;
use ledgerlink_domain::{Flow, TenantId};
use ledgerlink_jobs::source::{Record, RowSource};
use ledgerlink_jobs::{
    ExportColumn, ExportDefinition, ExportFormat, ExportSource, Exporter, JobResult, JobsContext,
};
use ledgerlink_ports::contract::tenants;
use ledgerlink_ports::{JobStatus, LookupTable};
use ledgerlink_store_aws::{
    AwsClients, AwsSettings, AwsStores, ResourcePlan, StaticCredentials, create_resources,
};
use ledgerlink_store_embedded::{EmbeddedStore, FolderStorage};
use ledgerlink_testkit::{
    MotoServer, TEST_ACCESS_KEY_ID, TEST_REGION, TEST_SECRET_ACCESS_KEY, repo_root, unique_name,
};

/// Generated rows shaped like a status export: about 90 bytes of CSV each.
#[derive(Debug)]
struct Synthetic {
    rows: u64,
    next: u64,
}

#[async_trait]
impl RowSource for Synthetic {
    async fn total(&mut self) -> JobResult<Option<u64>> {
        Ok(Some(self.rows))
    }
    async fn next_batch(&mut self) -> JobResult<Option<Vec<Record>>> {
        if self.next >= self.rows {
            return Ok(None);
        }
        let end = (self.next + 1000).min(self.rows);
        let batch = (self.next..end)
            .map(|n| {
                Record::new()
                    .with("key", format!("INV-{n:08}"))
                    .with("object_type", "invoice")
                    .with("status", if n % 7 == 0 { "error" } else { "success" })
                    .with("target_id", format!("4f6c2a1e-0000-4000-8000-{n:012}"))
                    .with("updated_at", "2026-06-15T10:00:00Z")
                    .with(
                        "last_message",
                        if n % 7 == 0 {
                            "Rejected by the ledger"
                        } else {
                            ""
                        },
                    )
            })
            .collect();
        self.next = end;
        Ok(Some(batch))
    }
}

fn definition(format: ExportFormat) -> ExportDefinition {
    let columns = [
        "key",
        "object_type",
        "status",
        "target_id",
        "updated_at",
        "last_message",
    ]
    .iter()
    .map(|f| ExportColumn::new(f, f))
    .collect();
    ExportDefinition {
        id: "bench".into(),
        name: "Benchmark".into(),
        description: String::new(),
        source: ExportSource::Lookup {
            table: LookupTable::Firms,
        },
        columns,
        filter: vec![],
        format,
        updated_by: String::new(),
        updated_at: None,
        file_name: None,
        schedule: None,
        version: 0,
    }
}

fn status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Resets VmHWM to the current RSS (Linux: writing 5 to clear_refs).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

struct Run {
    seconds: f64,
    bytes: u64,
    peak_mb: f64,
}

async fn export(
    ctx: JobsContext,
    tenant: &TenantId,
    format: ExportFormat,
    rows: u64,
) -> (Run, String) {
    ctx.stores
        .tenants
        .put(&tenants::sample(tenant), None)
        .await
        .unwrap();
    let exporter = Exporter::new(ctx.clone());
    let job = exporter
        .start_definition(tenant, &definition(format), "bench", None)
        .await
        .unwrap();
    reset_peak();
    let started = Instant::now();
    let done = exporter
        .run_with_source(tenant, &job.id, Some(Box::new(Synthetic { rows, next: 0 })))
        .await
        .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let peak_mb = status_kb("VmHWM:") as f64 / 1024.0;
    assert_eq!(done.status, JobStatus::Finished, "{:?}", done.fail_reason);
    assert_eq!(done.processed, rows);
    let bytes = done.details["size"].as_u64().unwrap_or(0);
    (
        Run {
            seconds,
            bytes,
            peak_mb,
        },
        done.file_key.unwrap_or_default(),
    )
}

fn print(label: &str, rows: u64, run: &Run) {
    println!(
        "{label:<28} {rows} rows in {:>6.2} s = {:>9.0} rows/s, {:>6.1} MB written, peak RSS {:>5.1} MB (goal <= 64 MB)",
        run.seconds,
        rows as f64 / run.seconds,
        run.bytes as f64 / 1_048_576.0,
        run.peak_mb
    );
}

fn main() {
    let rows: u64 = std::env::var("BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tenant = TenantId::parse("bench-tenant").unwrap();
    println!(
        "export benchmark: {rows} rows, baseline RSS {:.1} MB",
        status_kb("VmRSS:") as f64 / 1024.0
    );

    // Folder store.
    let store = EmbeddedStore::open(dir.path().join("state.db")).unwrap();
    let folder = FolderStorage::new(
        dir.path().join("files"),
        "http://127.0.0.1:8080",
        &[1u8; 32],
    )
    .unwrap();
    let clock = SystemClock::shared();
    let local = JobsContext::new(
        store.state_stores(),
        Arc::new(folder.clone()),
        store.queue(clock.clone()),
        clock.clone(),
    );
    let (csv_run, csv_key) =
        runtime.block_on(export(local.clone(), &tenant, ExportFormat::Csv, rows));
    print("CSV  -> folder store", rows, &csv_run);
    let csv_path = folder.path_of(&tenant, &csv_key).unwrap();
    if std::env::var_os("BENCH_XLSX").is_some() {
        let xlsx_tenant = TenantId::parse("bench-tenant-xlsx").unwrap();
        let (xlsx_run, _) = runtime.block_on(export(local, &xlsx_tenant, ExportFormat::Xlsx, rows));
        print("XLSX -> folder store", rows, &xlsx_run);
    }

    let cli = std::env::var_os("LEDGERLINK_AWS_CLI")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin/aws"));
    if !cli.is_file() {
        println!(
            "aws CLI not found at {}: set LEDGERLINK_AWS_CLI or install scripts/bench-requirements.txt",
            cli.display()
        );
        return;
    }

    // S3 on moto.
    let server = MotoServer::start().unwrap();
    let mut settings = AwsSettings::local(
        &server.endpoint_url(),
        TEST_REGION,
        StaticCredentials {
            access_key_id: TEST_ACCESS_KEY_ID.into(),
            secret_access_key: TEST_SECRET_ACCESS_KEY.into(),
        },
    );
    settings.table_name = unique_name("bench-table");
    settings.bucket_name = unique_name("bench-bucket");
    let (ctx, s3) = runtime.block_on(async {
        let clients = AwsClients::build(&settings).await;
        let plan = ResourcePlan {
            table: settings.table_name.clone(),
            bucket: settings.bucket_name.clone(),
            queue_prefix: unique_name("bench"),
            flows: vec![Flow::ExportJob],
            max_receive_count: 3,
            kms_key_id: None,
        };
        settings.queues = create_resources(&clients, &plan).await.unwrap();
        let stores = AwsStores::new(&clients, &settings);
        let ctx = JobsContext::new(stores.state, stores.storage, stores.queue, clock.clone());
        (ctx, clients.s3.clone())
    });
    let ours = |i: usize| {
        let tenant = TenantId::parse(&format!("bench-s3-{i}")).unwrap();
        let (run, key) = runtime.block_on(export(ctx.clone(), &tenant, ExportFormat::Csv, rows));
        print(&format!("CSV  -> S3 (moto) #{}", i + 1), rows, &run);
        runtime.block_on(async {
            ctx.storage.delete(&tenant, &key).await.unwrap();
        });
        run
    };
    let theirs = |i: usize| {
        let key = format!("cli/{i}.csv");
        let started = Instant::now();
        let status = std::process::Command::new(&cli)
            .args(["s3", "cp", "--only-show-errors"])
            .arg(&csv_path)
            .arg(format!("s3://{}/{key}", settings.bucket_name))
            .arg("--endpoint-url")
            .arg(server.endpoint_url())
            .envs(server.sdk_env())
            .status()
            .unwrap();
        let seconds = started.elapsed().as_secs_f64();
        assert!(status.success(), "aws s3 cp failed: {status}");
        println!("aws s3 cp #{:<17} {seconds:>6.2} s", i + 1);
        runtime.block_on(async {
            s3.delete_object()
                .bucket(&settings.bucket_name)
                .key(&key)
                .send()
                .await
                .unwrap();
        });
        seconds
    };

    let pairs = 5;
    let mut ratios = Vec::with_capacity(pairs);
    let mut peak_mb: f64 = 0.0;
    for i in 0..pairs {
        // Alternate which goes first, so neither always finds the emulator warm.
        let (run, cli_seconds) = if i % 2 == 0 {
            let run = ours(i);
            (run, theirs(i))
        } else {
            let cli_seconds = theirs(i);
            (ours(i), cli_seconds)
        };
        let ratio = cli_seconds / run.seconds.max(0.001);
        peak_mb = peak_mb.max(run.peak_mb);
        println!(
            "pair {}: ours {:.2} s, aws s3 cp {:.2} s (same {:.1} MB): ratio {ratio:.2}",
            i + 1,
            run.seconds,
            cli_seconds,
            csv_run.bytes as f64 / 1_048_576.0
        );
        ratios.push(ratio);
    }
    let mut sorted = ratios.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[pairs / 2];
    println!(
        "ratios (CLI time / our time; goal: median >= 1.0): {}",
        ratios
            .iter()
            .map(|r| format!("{r:.2}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "export-bench: median_ratio_vs_cli={median:.2} pairs={pairs} peak_rss_mb={peak_mb:.1}"
    );
}
