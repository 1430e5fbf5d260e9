//! The local stack is wired for every job it accepts: an export of EVERY source the jobs crate offers
//! (`ledgerlink_jobs::SOURCES` — store, Vantagepoint, ledger and both) runs to the end through the stack's own
//! jobs context, against the emulators, as the stack's export worker runs it. A wiring that leaves out a
//! connection (the Vantagepoint or ledger side) makes the export of such a source fail with "... is not
//! configured", and this test with it.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use clap::Parser;
use ledgerlink::{Options, Stack};
use ledgerlink_jobs::{
    ExportColumn, ExportDefinition, ExportFormat, ExportSource, Exporter, SOURCES,
};
use ledgerlink_ports::JobStatus;
use serde_json::json;

/// A definition of one column (the source's first field) over the source of `kind`.
fn definition_of(kind: &str, field: &str) -> ExportDefinition {
    let source = match kind {
        "lookup" => json!({"kind": kind, "table": "tax-codes"}),
        "jobs" => json!({"kind": kind, "job_kind": "export"}),
        _ => json!({"kind": kind}),
    };
    let source: ExportSource = serde_json::from_value(source)
        .unwrap_or_else(|e| panic!("the source kind {kind} does not parse: {e}"));
    ExportDefinition {
        id: format!("wiring-{kind}"),
        name: format!("Wiring {kind}"),
        description: String::new(),
        source,
        columns: vec![ExportColumn::new(field, "Value")],
        filter: vec![],
        format: ExportFormat::Csv,
        file_name: None,
        schedule: None,
        updated_by: String::new(),
        updated_at: None,
        version: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_stack_runs_an_export_of_every_source_the_jobs_crate_offers() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let options = Options::try_parse_from([
        "ledgerlink",
        "--port",
        "0",
        "--interval-secs",
        "3600",
        "--data-dir",
        data_dir.to_str().unwrap(),
    ])
    .unwrap();
    let stack = Stack::start(options).await.unwrap();
    let exporter = Exporter::new(stack.jobs.clone());
    let mut failures = Vec::new();
    let mut reads = BTreeSet::new();

    for source in SOURCES {
        let definition = definition_of(source.kind, source.fields[0]);
        exporter
            .definitions()
            .create(&stack.tenant, &definition, "wiring-test")
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", source.kind));
        let job = exporter
            .start(&stack.tenant, &definition.id, "wiring-test")
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", source.kind));
        let done = exporter.run(&stack.tenant, &job.id).await;
        match done {
            Ok(job) if job.status == JobStatus::Finished => {
                reads.insert(source.reads);
            }
            Ok(job) => failures.push(format!(
                "{} (reads {}): {:?} {}",
                source.kind,
                source.reads,
                job.status,
                job.fail_reason.unwrap_or_default()
            )),
            Err(e) => failures.push(format!("{} (reads {}): {e}", source.kind, source.reads)),
        }
    }
    stack.shutdown().await;

    assert!(
        failures.is_empty(),
        "exports the local stack accepts but cannot run:\n{}",
        failures.join("\n")
    );
    for side in ["store", "vantagepoint", "ledger", "vantagepoint+ledger"] {
        assert!(
            reads.contains(side),
            "no source reading {side} was run: {reads:?}"
        );
    }
}
