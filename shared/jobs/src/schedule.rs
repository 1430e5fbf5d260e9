//! Scheduled exports: a definition may run daily, weekly or monthly at a time of day (UTC), and the user
//! it names is notified when the export is done — on the page, and by e-mail where the tenant's `mail`
//! setting gives that user an address (the notification outbox's mailer).
//!
//! [`run_due`] is called by whatever ticks: the `export-job` Lambda's EventBridge schedule on AWS, the
//! local stack's scheduler locally. Each slot of each schedule starts exactly one job, however many
//! schedulers tick at once: the slot is claimed by advancing a per-definition cursor
//! (`schedule/<definition id>`) with optimistic concurrency before the job is created.

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc};
use ledgerlink_domain::{Division, Flow, TenantId};
use ledgerlink_ports::{Cursor, Job, PageRequest, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::definitions::ExportDefinition;
use crate::{Exporter, JobError, JobResult, JobsContext};

/// How often a scheduled export runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Frequency {
    Daily,
    Weekly,
    Monthly,
}

/// When a definition runs on its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportSchedule {
    pub every: Frequency,
    /// Time of day, `HH:MM`, UTC.
    pub at: String,
    /// Weekly: the day, 1 = Monday … 7 = Sunday.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekday: Option<u32>,
    /// Monthly: the day of the month, 1 to 28 (every month has it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<u32>,
    /// The user the scheduled job is created for and who is notified (and mailed) when it is done; the
    /// definition's last editor when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<String>,
}

impl ExportSchedule {
    fn time(&self) -> JobResult<NaiveTime> {
        NaiveTime::parse_from_str(self.at.trim(), "%H:%M").map_err(|_| {
            JobError::invalid(
                "schedule.at",
                format!(
                    "{:?} is not a time of day; write HH:MM (UTC), e.g. 06:30",
                    self.at
                ),
            )
        })
    }

    /// Checks the schedule: a time, and the day its frequency needs.
    pub fn validate(&self) -> JobResult<()> {
        self.time()?;
        match self.every {
            Frequency::Weekly if !matches!(self.weekday, Some(1..=7)) => Err(JobError::invalid(
                "schedule.weekday",
                "a weekly export needs its day: 1 (Monday) to 7 (Sunday)",
            )),
            Frequency::Monthly if !matches!(self.day, Some(1..=28)) => Err(JobError::invalid(
                "schedule.day",
                "a monthly export needs its day of the month: 1 to 28",
            )),
            _ => Ok(()),
        }?;
        if let Some(user) = &self.notify
            && (user.trim().is_empty()
                || user.chars().count() > 64
                || user.chars().any(char::is_control))
        {
            return Err(JobError::invalid(
                "schedule.notify",
                "a user name of 1 to 64 printable characters",
            ));
        }
        Ok(())
    }

    /// The latest slot at or before `now` (`None` for an invalid schedule).
    pub fn last_slot(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let time = self.time().ok()?;
        let at_day = |date: chrono::NaiveDate| Utc.from_utc_datetime(&date.and_time(time));
        let today = now.date_naive();
        match self.every {
            Frequency::Daily => {
                let slot = at_day(today);
                Some(if slot <= now {
                    slot
                } else {
                    slot - Duration::days(1)
                })
            }
            Frequency::Weekly => {
                let weekday = self.weekday?;
                (0..8)
                    .map(|back| at_day(today - Duration::days(back)))
                    .find(|slot| slot.weekday().number_from_monday() == weekday && *slot <= now)
            }
            Frequency::Monthly => {
                let day = self.day?;
                let this_month = today.with_day(day).map(at_day)?;
                if this_month <= now {
                    return Some(this_month);
                }
                let first = today.with_day(1)?;
                let previous = (first - Duration::days(1)).with_day(day)?;
                Some(at_day(previous))
            }
        }
    }
}

fn cursor_name(definition: &str) -> String {
    format!("schedule/{definition}")
}

/// Starts every scheduled export whose latest slot has come and was not started yet, for every tenant.
/// Returns the jobs it started. A definition saved after its latest slot waits for the next one.
pub async fn run_due(ctx: &JobsContext) -> JobResult<Vec<Job>> {
    let now = ctx.clock.now();
    let exporter = Exporter::new(ctx.clone());
    let mut started = Vec::new();
    let mut request = PageRequest::first(100);
    loop {
        let page = ctx.stores.tenants.list(request.clone()).await?;
        for tenant in &page.items {
            for definition in exporter.definitions().list(&tenant.id).await? {
                match start_if_due(ctx, &exporter, &tenant.id, &definition, now).await {
                    Ok(Some(job)) => started.push(job),
                    Ok(None) => {}
                    Err(e) => tracing::warn!(
                        tenant = %tenant.id, definition = %definition.id, error = %e,
                        "a scheduled export could not start"
                    ),
                }
            }
        }
        match page.next_cursor {
            Some(cursor) => request.cursor = Some(cursor),
            None => return Ok(started),
        }
    }
}

async fn start_if_due(
    ctx: &JobsContext,
    exporter: &Exporter,
    tenant: &TenantId,
    definition: &ExportDefinition,
    now: DateTime<Utc>,
) -> JobResult<Option<Job>> {
    let Some(schedule) = &definition.schedule else {
        return Ok(None);
    };
    let Some(slot) = schedule.last_slot(now) else {
        return Ok(None);
    };
    if definition.updated_at.is_some_and(|saved| saved > slot) {
        return Ok(None);
    }
    let name = cursor_name(&definition.id);
    let current = ctx
        .stores
        .cursors
        .get(tenant, Flow::ExportJob, &name, Division(0))
        .await?;
    let slot_text = crate::source::time_text(slot);
    if current.as_ref().is_some_and(|c| c.value >= slot_text) {
        return Ok(None);
    }
    let claim = Cursor {
        tenant: tenant.clone(),
        flow: Flow::ExportJob,
        name,
        division: Division(0),
        value: slot_text.clone(),
        version: current.as_ref().map_or(0, |c| c.version),
        updated_at: now,
    };
    match ctx
        .stores
        .cursors
        .put(&claim, current.as_ref().map(|c| c.version))
        .await
    {
        Ok(_) => {}
        // Another scheduler claimed this slot first.
        Err(StoreError::Conflict { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let user = schedule
        .notify
        .clone()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| definition.updated_by.clone());
    let mut job = exporter
        .start_definition(tenant, definition, &user, None)
        .await?;
    job.details["scheduled_for"] = json!(slot_text);
    let saved = ctx.stores.jobs.put(&job, job.version).await;
    Ok(Some(match saved {
        Ok(saved) => saved,
        // The worker took it already; the slot is recorded on the cursor either way.
        Err(_) => job,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn schedule(every: Frequency, weekday: Option<u32>, day: Option<u32>) -> ExportSchedule {
        ExportSchedule {
            every,
            at: "06:30".into(),
            weekday,
            day,
            notify: None,
        }
    }

    #[test]
    fn the_last_slot_is_the_latest_time_of_the_schedule_not_after_now() {
        // 2026-06-15 is a Monday.
        let daily = schedule(Frequency::Daily, None, None);
        let weekly = schedule(Frequency::Weekly, Some(3), None);
        let monthly = schedule(Frequency::Monthly, None, Some(20));

        assert_eq!(
            daily.last_slot(at("2026-06-15T10:00:00Z")),
            Some(at("2026-06-15T06:30:00Z"))
        );
        assert_eq!(
            daily.last_slot(at("2026-06-15T06:29:59Z")),
            Some(at("2026-06-14T06:30:00Z"))
        );
        assert_eq!(
            weekly.last_slot(at("2026-06-15T10:00:00Z")),
            Some(at("2026-06-10T06:30:00Z"))
        );
        assert_eq!(
            weekly.last_slot(at("2026-06-17T06:30:00Z")),
            Some(at("2026-06-17T06:30:00Z"))
        );
        assert_eq!(
            monthly.last_slot(at("2026-06-15T10:00:00Z")),
            Some(at("2026-05-20T06:30:00Z"))
        );
        assert_eq!(
            monthly.last_slot(at("2026-01-10T10:00:00Z")),
            Some(at("2025-12-20T06:30:00Z"))
        );
    }

    #[test]
    fn a_schedule_needs_a_time_and_the_day_its_frequency_uses() {
        let mut s = schedule(Frequency::Weekly, None, None);
        assert!(matches!(s.validate(), Err(e) if e.to_string().contains("Monday")));
        s.weekday = Some(1);
        s.at = "6.30 am".into();
        assert!(matches!(s.validate(), Err(e) if e.to_string().contains("HH:MM")));
        s.at = "18:05".into();
        assert!(s.validate().is_ok());
        let monthly = schedule(Frequency::Monthly, None, Some(31));
        assert!(matches!(monthly.validate(), Err(e) if e.to_string().contains("1 to 28")));
    }
}
