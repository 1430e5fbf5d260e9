//! Every key of the single DynamoDB table, in one place (see `infra/dynamodb-design.md`).
//!
//! The table has a string partition key `PK` and sort key `SK`, and two overloaded global secondary indexes
//! (`GSI1PK`/`GSI1SK`, `GSI2PK`/`GSI2SK`, projection ALL). Keys are chosen so that every write knows all of
//! its keys from the record itself (no index read before a write) and every list is a `Query`.
//!
//! Segments are separated by `#`. Tenant ids, object keys and domain enums cannot contain `#`; free-form ids
//! that are followed by another segment are checked with [`segment`] so a crafted id cannot reach into a
//! neighbour's key range.

use chrono::{DateTime, SecondsFormat, Utc};
use ledgerlink_domain::{Category, Division, Flow, ObjectType, SyncStatus, TenantId};
use ledgerlink_ports::{JobKind, LookupTable, StoreError, StoreResult};

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const GSI1: &str = "GSI1";
pub const GSI1PK: &str = "GSI1PK";
pub const GSI1SK: &str = "GSI1SK";
pub const GSI2: &str = "GSI2";
pub const GSI2PK: &str = "GSI2PK";
pub const GSI2SK: &str = "GSI2SK";
/// The TTL attribute (epoch seconds). DynamoDB deletes expired items eventually; nothing relies on it.
pub const TTL: &str = "expires";

/// A time as it appears inside sort keys: RFC 3339, UTC, microseconds, fixed width, so text order is time order.
pub fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Refuses a free-form id that would break key parsing or prefix queries.
pub fn segment<'a>(what: &str, value: &'a str) -> StoreResult<&'a str> {
    if value.is_empty() {
        return Err(StoreError::Invalid(format!("{what} must not be empty")));
    }
    if value.contains('#') || value.chars().any(char::is_control) {
        return Err(StoreError::Invalid(format!(
            "{what} must not contain '#' or control characters: {value:?}"
        )));
    }
    Ok(value)
}

fn tenant(t: &TenantId) -> String {
    format!("TENANT#{t}")
}

// --- tenants: one partition listing every tenant (an operator list, small) ---------------------------------

pub fn tenants_pk() -> String {
    "TENANTS".to_owned()
}
pub fn tenant_sk(t: &TenantId) -> String {
    tenant(t)
}
pub const TENANT_SK_PREFIX: &str = "TENANT#";

// --- links: both directions in the tenant's partition ----------------------------------------------------

pub fn tenant_pk(t: &TenantId) -> String {
    tenant(t)
}
pub fn link_vp_sk(object_type: ObjectType, vp_key: &str) -> String {
    format!("LINK#{object_type}#VP#{vp_key}")
}
pub fn link_exact_sk(object_type: ObjectType, exact_id: &str) -> String {
    format!("LINK#{object_type}#EX#{exact_id}")
}

// --- lookup tables ----------------------------------------------------------------------------------------

pub fn lookup_prefix(table: LookupTable) -> String {
    format!("LOOKUP#{}#", table.as_str())
}
pub fn lookup_sk(table: LookupTable, key: &str) -> String {
    format!("{}{key}", lookup_prefix(table))
}

// --- object status: one partition per object (status item + attempt history) -----------------------------

pub fn object_pk(t: &TenantId, object_type: ObjectType, key: &str) -> String {
    format!("OBJ#{t}#{object_type}#{key}")
}
pub const STATUS_SK: &str = "STATUS";
pub const HISTORY_PREFIX: &str = "HIST#";
/// History entries sort by the status version they were written with: unique per object (a lost race writes
/// none) and in write order, so "newest first" is a descending query.
pub fn history_sk(version: u64) -> String {
    format!("{HISTORY_PREFIX}{version:020}")
}
/// GSI1: the tenant's objects of one category (finance documents / master data), most recently updated
/// first. The unfiltered list merges the two category partitions.
pub fn objects_by_category_pk(t: &TenantId, category: Category) -> String {
    format!("{}#CAT#{category}", tenant(t))
}
/// GSI2: the tenant's objects in one status, most recently updated first.
pub fn objects_by_status_pk(t: &TenantId, status: SyncStatus) -> String {
    format!("{}#ST#{status}", tenant(t))
}
/// GSI1 on attempt-history items: the tenant's attempts of one UTC day, in time order (the sync-health
/// view reads a window with one query per day instead of each object's history).
pub fn attempts_by_day_pk(t: &TenantId, day: chrono::NaiveDate) -> String {
    format!("{}#ATT#{}", tenant(t), day.format("%Y-%m-%d"))
}
/// Sort key of an attempt on GSI1: its time, then the object and the status version (unique).
pub fn attempt_time_sk(
    at: DateTime<Utc>,
    object_type: ObjectType,
    key: &str,
    version: u64,
) -> String {
    format!("{}#{object_type}#{key}#{version:020}", time(at))
}

/// Sort key of both object indexes: recency, then type and key to make it unique.
pub fn objects_recency_sk(updated_at: DateTime<Utc>, object_type: ObjectType, key: &str) -> String {
    format!("{}#{object_type}#{key}", time(updated_at))
}

// --- cursors ------------------------------------------------------------------------------------------------

pub fn cursor_sk(flow: Flow, division: Division, name: &str) -> String {
    format!("CURSOR#{flow}#{division}#{name}")
}

// --- jobs ----------------------------------------------------------------------------------------------------

pub fn job_sk(id: &str) -> String {
    format!("JOB#{id}")
}
fn job_kind(kind: JobKind) -> &'static str {
    match kind {
        JobKind::Export => "export",
        JobKind::Import => "import",
    }
}
/// GSI1: a tenant's jobs of one kind, by id (ids are monotonic, so descending = newest first).
pub fn jobs_by_kind_pk(t: &TenantId, kind: JobKind) -> String {
    format!("{}#JOBS#{}", tenant(t), job_kind(kind))
}
pub fn jobs_by_kind_sk(id: &str) -> String {
    job_sk(id)
}
/// GSI2 (sparse: only started jobs with a lease): every tenant's leases by expiry, for the clean-up.
pub const JOB_LEASES_PK: &str = "JOBLEASES";
pub fn job_lease_sk(lease_expires_at: DateTime<Utc>, t: &TenantId, id: &str) -> String {
    format!("{}#{t}#{id}", time(lease_expires_at))
}

// --- export definitions: their own items in the tenant's partition --------------------------------------------

pub const DEFINITION_PREFIX: &str = "EXPDEF#";
pub fn definition_sk(id: &str) -> String {
    format!("{DEFINITION_PREFIX}{id}")
}

// --- integrations and task runs ------------------------------------------------------------------------------

pub const INTEGRATION_PREFIX: &str = "INTEG#";
pub fn integration_sk(id: &str) -> String {
    format!("{INTEGRATION_PREFIX}{id}")
}
pub fn run_latest_prefix(integration_id: &str, period: u32) -> String {
    format!("RUN#{integration_id}#{period:06}#LATEST#")
}
pub fn run_latest_sk(integration_id: &str, period: u32, task: &str) -> String {
    format!("{}{task}", run_latest_prefix(integration_id, period))
}
pub fn run_history_sk(integration_id: &str, period: u32, at: DateTime<Utc>, task: &str) -> String {
    format!("RUN#{integration_id}#{period:06}#HIST#{}#{task}", time(at))
}

// --- notifications -------------------------------------------------------------------------------------------

pub fn notification_sk(id: &str) -> String {
    format!("NOTIF#{id}")
}
/// GSI1: a tenant's notifications, newest first.
pub fn notifications_pk(t: &TenantId) -> String {
    format!("{}#NOTIFS", tenant(t))
}
pub fn notifications_sk(created_at: DateTime<Utc>, id: &str) -> String {
    format!("{}#{id}", time(created_at))
}

// --- idempotency, tokens, rate budgets: not per tenant, keyed by their own key --------------------------------

pub fn idempotency_pk(key: &str) -> String {
    format!("IDEMP#{key}")
}
pub const IDEMPOTENCY_SK: &str = "IDEMP";

pub fn token_pk(connection: &str) -> String {
    format!("TOKEN#{connection}")
}
pub const TOKEN_SK: &str = "TOKEN";

pub fn rate_pk(key: &str) -> String {
    format!("RATE#{key}")
}
/// The calendar-minute window, e.g. `MIN#2026-06-15T10:00`.
pub fn rate_minute_sk(window_start: DateTime<Utc>) -> String {
    format!("MIN#{}", window_start.format("%Y-%m-%dT%H:%M"))
}
/// The UTC-day window, e.g. `DAY#2026-06-15`.
pub fn rate_day_sk(window_start: DateTime<Utc>) -> String {
    format!("DAY#{}", window_start.format("%Y-%m-%d"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t() -> TenantId {
        TenantId::parse("acme").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn sort_key_times_have_a_fixed_width_so_text_order_is_time_order() {
        let a = Utc
            .with_ymd_and_hms(2026, 1, 2, 3, 4, 5)
            .single()
            .unwrap_or_default();
        let b = a + chrono::Duration::microseconds(1);
        assert_eq!(time(a), "2026-01-02T03:04:05.000000Z");
        assert!(time(a) < time(b));
        assert_eq!(time(a).len(), time(b).len());
    }

    #[test]
    fn keys_follow_the_documented_shapes() {
        assert_eq!(tenant_pk(&t()), "TENANT#acme");
        assert_eq!(
            object_pk(&t(), ObjectType::Invoice, "INV1.202601.3"),
            "OBJ#acme#invoice#INV1.202601.3"
        );
        assert_eq!(
            objects_by_status_pk(&t(), SyncStatus::Error),
            "TENANT#acme#ST#error"
        );
        assert_eq!(link_vp_sk(ObjectType::Firm, "F1"), "LINK#firm#VP#F1");
        assert_eq!(
            cursor_sk(Flow::InvoiceOut, Division(499156), "PSALedger/IN"),
            "CURSOR#invoice-out#499156#PSALedger/IN"
        );
        assert_eq!(run_latest_prefix("i1", 202601), "RUN#i1#202601#LATEST#");
        assert_eq!(
            definition_sk("firms-and-accounts"),
            "EXPDEF#firms-and-accounts"
        );
    }

    #[test]
    fn free_form_segments_refuse_the_separator() {
        assert!(segment("job id", "j-1").is_ok());
        assert!(matches!(
            segment("job id", "j#1"),
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(segment("job id", ""), Err(StoreError::Invalid(_))));
    }
}
