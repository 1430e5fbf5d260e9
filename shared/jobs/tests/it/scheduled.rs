//! Scheduled exports: one job per slot however many schedulers tick at once, none for a slot before the
//! definition was saved, and the user the schedule names is notified with the link when it is done.
#![allow(clippy::unwrap_used)]

use ledgerlink_jobs::schedule::{ExportSchedule, Frequency, run_due};
use ledgerlink_jobs::{ExportColumn, ExportDefinition, ExportFormat, ExportSource, Exporter};
use ledgerlink_ports::{JobStatus, LookupTable, NotificationKind};

use crate::helpers::Harness;
use crate::on_both_stores;

fn nightly() -> ExportDefinition {
    ExportDefinition {
        id: "nightly-tax-codes".into(),
        name: "Tax codes every morning".into(),
        description: String::new(),
        source: ExportSource::Lookup {
            table: LookupTable::TaxCodes,
        },
        columns: vec![
            ExportColumn::new("key", "Exact code"),
            ExportColumn::new("vp_code", "VP code"),
        ],
        filter: Vec::new(),
        format: ExportFormat::Csv,
        file_name: None,
        schedule: Some(ExportSchedule {
            every: Frequency::Daily,
            at: "06:00".into(),
            weekday: None,
            day: None,
            notify: Some("dolores".into()),
        }),
        updated_by: String::new(),
        updated_at: None,
        version: 0,
    }
}

async fn a_scheduled_export_starts_once_per_slot_and_notifies_its_user(h: Harness) {
    h.seed_lookups(LookupTable::TaxCodes, &[("2", &[("vp_code", "V21")])])
        .await;
    // Saved at 10:00 on the 15th: today's 06:00 slot is already past, so the first run is tomorrow's.
    let exporter = Exporter::new(h.ctx.clone());
    exporter
        .definitions()
        .create(&h.tenant, &nightly(), "ann")
        .await
        .unwrap();

    let same_day = run_due(&h.ctx).await.unwrap();
    h.clock
        .advance(std::time::Duration::from_secs(20 * 3600 + 60)); // the 16th, 06:01
    let racing = futures_race(&h).await;
    let again = run_due(&h.ctx).await.unwrap();

    assert!(
        same_day.is_empty(),
        "no run for a slot before the definition was saved"
    );
    assert_eq!(
        racing.len(),
        1,
        "one job for the slot, whoever ticks: {racing:?}"
    );
    assert!(again.is_empty());
    let job = &racing[0];
    assert_eq!(job.created_by, "dolores");
    assert_eq!(job.details["scheduled_for"], "2026-06-16T06:00:00Z");

    let done = exporter.run(&h.tenant, &job.id).await.unwrap();
    assert_eq!(done.status, JobStatus::Finished, "{:?}", done.fail_reason);
    let notifications = h.notifications().await;
    let finished = notifications
        .iter()
        .find(|n| n.kind == NotificationKind::ExportFinished)
        .unwrap();
    assert_eq!(finished.recipient, "dolores");
    assert_eq!(
        finished.link.as_deref(),
        Some(
            format!(
                "/exports/{}/download",
                ledgerlink_jobs::job::display_id(&done.id)
            )
            .as_str()
        )
    );
}

/// Three schedulers ticking at the same moment; every job any of them started.
async fn futures_race(h: &Harness) -> Vec<ledgerlink_ports::Job> {
    let ticks = (0..3).map(|_| {
        let ctx = h.ctx.clone();
        tokio::spawn(async move { run_due(&ctx).await.unwrap() })
    });
    let mut all = Vec::new();
    for tick in ticks.collect::<Vec<_>>() {
        all.extend(tick.await.unwrap());
    }
    all
}

on_both_stores!(a_scheduled_export_starts_once_per_slot_and_notifies_its_user);
