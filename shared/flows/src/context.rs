//! What every use case is given ([`FlowContext`]) and the steps every flow shares: recording an object's
//! status (with version checks and conflict retries), running a write once per business key (the
//! Powertools idempotency protocol), pausing a connection, notifying operators, and sending work.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ledgerlink_clock::SharedClock;
use ledgerlink_domain::{Flow, ObjectKey, ObjectType, SyncStatus, TenantId};
use ledgerlink_ports::{
    ConnectionState, IdempotencyBegin, Notification, NotificationKind, ObjectRef, ObjectStatus,
    StateStores, StoreError, Tenant, WorkAction, WorkMessage, WorkQueue,
};
use serde::{Serialize, de::DeserializeOwned};
use sha2::{Digest, Sha256};

use crate::connections::{Connection, ConnectionProvider};
use crate::error::{FlowError, FlowResult};
use crate::settings::{FlowSettings, TenantSettings};

/// The ports and settings of one process, built once and shared by every invocation.
#[derive(Debug, Clone)]
pub struct FlowContext {
    pub stores: StateStores,
    pub queue: Arc<dyn WorkQueue>,
    pub connections: Arc<dyn ConnectionProvider>,
    pub clock: SharedClock,
    pub settings: FlowSettings,
}

/// What became of one queued message: handled (delete it), to be retried (leave it for redelivery), or to
/// wait for a known time (a rate limit's reset): the message is sent again delayed to then and this one
/// deleted, so waiting never uses up the queue's receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageOutcome {
    Handled,
    RetryLater(String),
    RetryAt(DateTime<Utc>, String),
}

/// The result of running a write under a business key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Once<T> {
    /// This call did the write (or found the document by our reference).
    Done(T),
    /// An earlier attempt completed the same write: its stored result.
    AlreadyDone(T),
    /// Another worker holds the key right now.
    Busy,
    /// The key was used with different content before.
    Mismatch,
}

/// A tenant, ready to work: its record, typed settings and connection.
#[derive(Debug, Clone)]
pub struct TenantWork {
    pub tenant: Tenant,
    pub settings: TenantSettings,
    pub conn: Connection,
}

/// Hex SHA-256 of a value's JSON.
pub fn hash_of<T: Serialize>(value: &T) -> String {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    hex::encode(Sha256::digest(&bytes))
}

/// The business key of one write: tenant / division / object type / source id / source version.
pub fn business_key(
    tenant: &Tenant,
    object_type: ObjectType,
    source_id: &str,
    source_version: &str,
) -> String {
    format!(
        "{}/{}/{}/{}/{}",
        tenant.id, tenant.exact_division, object_type, source_id, source_version
    )
}

tokio::task_local! {
    /// The status records the current message's processing wrote last, by object.
    static STATUS_MEMO: std::cell::RefCell<std::collections::HashMap<ObjectRef, ObjectStatus>>;
}

/// Runs one message's processing with a memo of the status records it writes, so each write after the
/// first (the attempt start) needs no read of the record first. The memo ends with the message.
pub async fn with_status_memo<F: std::future::Future>(work: F) -> F::Output {
    STATUS_MEMO
        .scope(
            std::cell::RefCell::new(std::collections::HashMap::new()),
            work,
        )
        .await
}

/// Remembers a record just written (outside [`with_status_memo`]: nothing).
pub(crate) fn remember_status(status: &ObjectStatus) {
    let _outside_a_message = STATUS_MEMO.try_with(|memo| {
        memo.borrow_mut()
            .insert(status.object.clone(), status.clone())
    });
}

/// Takes the remembered record of `object`, if any.
fn recall_status(object: &ObjectRef) -> Option<ObjectStatus> {
    STATUS_MEMO
        .try_with(|memo| memo.borrow_mut().remove(object))
        .ok()
        .flatten()
}

impl FlowContext {
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Loads a tenant; `Invalid` when it does not exist.
    pub async fn tenant(&self, id: &TenantId) -> FlowResult<Tenant> {
        self.stores
            .tenants
            .get(id)
            .await?
            .ok_or_else(|| FlowError::Invalid(format!("tenant {id} does not exist")))
    }

    /// The tenant's settings and connection. A tenant whose settings cannot be read is a permanent failure.
    pub async fn work(&self, tenant: Tenant) -> FlowResult<TenantWork> {
        let settings = TenantSettings::of(&tenant)
            .map_err(|e| FlowError::Invalid(format!("tenant {}: {e}", tenant.id)))?;
        let conn = self.connections.connect(&tenant).await?;
        Ok(TenantWork {
            tenant,
            settings,
            conn,
        })
    }

    /// Sends messages to a flow's queue in batches of 10.
    pub async fn send(&self, flow: Flow, messages: &[WorkMessage]) -> FlowResult<()> {
        for chunk in messages.chunks(10) {
            self.queue.send(flow, chunk).await?;
        }
        Ok(())
    }

    /// A message naming one object.
    pub fn message(
        &self,
        tenant: &TenantId,
        object_type: ObjectType,
        key: &ObjectKey,
        action: WorkAction,
    ) -> WorkMessage {
        WorkMessage {
            tenant: tenant.clone(),
            object_type: Some(object_type),
            key: Some(key.clone()),
            action,
            trace_id: uuid::Uuid::new_v4().to_string(),
        }
    }

    /// A fresh status record (not yet stored).
    pub fn new_status(&self, object: ObjectRef, status: SyncStatus) -> ObjectStatus {
        let now = self.now();
        ObjectStatus {
            category: object.object_type.category(),
            object,
            status,
            version: 0,
            source_version: None,
            source_hash: None,
            target_id: None,
            last_message: None,
            fix: None,
            attempts: 0,
            created_at: now,
            updated_at: now,
        }
    }

    /// Reads, changes and writes an object's status, retrying on version conflicts (another worker wrote
    /// meanwhile: the change is applied again to what it wrote). Returns the stored record.
    ///
    /// Within one message's processing ([`with_status_memo`]) the record this message wrote last is used
    /// instead of a read: when nobody wrote since, it is what the store holds (every write bumps the
    /// version); when somebody did, the write conflicts and the change is applied to a fresh read.
    pub async fn update_status(
        &self,
        object: &ObjectRef,
        change: impl Fn(&mut ObjectStatus),
    ) -> FlowResult<ObjectStatus> {
        let mut tries = 0;
        let mut remembered = recall_status(object);
        loop {
            let from_memo = remembered.is_some();
            let current = match remembered.take() {
                Some(known) => Some(known),
                None => self.stores.statuses.get(object).await?,
            };
            let expected = current.as_ref().map(|s| s.version);
            let before = current.as_ref().map(|s| s.status);
            let mut next = current
                .unwrap_or_else(|| self.new_status(object.clone(), SyncStatus::NotIntegrated));
            // A remedy belongs to the failure it was recorded with; `change` records a new one if any.
            next.fix = None;
            change(&mut next);
            next.updated_at = self.now();
            match self.stores.statuses.put(&next, expected).await {
                Ok(stored) => {
                    crate::metrics::status_changed(object.object_type, before, stored.status);
                    remember_status(&stored);
                    return Ok(stored);
                }
                // The remembered record was stale: read it, without counting a lost race.
                Err(StoreError::Conflict { .. }) if from_memo => {}
                Err(StoreError::Conflict { .. })
                    if tries < self.settings.status_conflict_retries =>
                {
                    tries += 1
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Records the final state of an attempt.
    pub async fn record(
        &self,
        object: &ObjectRef,
        status: SyncStatus,
        message: Option<String>,
        target_id: Option<String>,
    ) -> FlowResult<ObjectStatus> {
        self.update_status(object, |s| {
            s.status = status;
            s.last_message = message.clone();
            if target_id.is_some() {
                s.target_id = target_id.clone();
            }
        })
        .await
    }

    /// Runs `write` once per `key`: a completed earlier run answers from the store, a live run elsewhere
    /// answers [`Once::Busy`], a failed run releases the key so the next attempt can start at once.
    ///
    /// `write` is told whether to look the result up before writing. That is decided here, at claim time,
    /// from the idempotency record itself: any earlier claim of this key (released after an unknown outcome,
    /// expired with a crashed worker, taken over) may have written, so the write must look first. A decision
    /// taken earlier from the object's status could be stale (a duplicate delivery that read the status
    /// before the first worker's attempt was recorded).
    pub async fn once<T, E, F, Fut>(
        &self,
        key: &str,
        payload_hash: &str,
        write: F,
    ) -> FlowResult<Result<Once<T>, E>>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce(bool) -> Fut,
        Fut: std::future::Future<Output = Result<T, E>>,
    {
        let now = self.now();
        let claim = match self
            .stores
            .idempotency
            .begin(key, payload_hash, self.settings.lease, now)
            .await?
        {
            IdempotencyBegin::Completed { result } => match serde_json::from_value(result) {
                Ok(done) => return Ok(Ok(Once::AlreadyDone(done))),
                Err(_) => {
                    return Err(FlowError::Invalid(format!(
                        "the stored result of {key} cannot be read"
                    )));
                }
            },
            IdempotencyBegin::InProgress { .. } => return Ok(Ok(Once::Busy)),
            IdempotencyBegin::PayloadMismatch { .. } => return Ok(Ok(Once::Mismatch)),
            IdempotencyBegin::Started(claim) => claim,
        };
        ledgerlink_ports::crash::point(ledgerlink_ports::crash::CrashPoint::AfterClaim);
        match write(claim.look_up_first()).await {
            Ok(done) => {
                ledgerlink_ports::crash::point(ledgerlink_ports::crash::CrashPoint::AfterCommit);
                let value =
                    serde_json::to_value(&done).map_err(|e| FlowError::Invalid(e.to_string()))?;
                let ttl = chrono::Duration::from_std(self.settings.idempotency_ttl)
                    .unwrap_or(chrono::Duration::days(400));
                match self
                    .stores
                    .idempotency
                    .complete(key, claim.fence, payload_hash, &value, self.now() + ttl)
                    .await
                {
                    Ok(()) => {}
                    // Our lease ran out and another worker claimed the key: it looks the write up (this claim
                    // counts as an earlier one) and finds what we wrote; our result stands.
                    Err(StoreError::Conflict { .. }) => {
                        tracing::warn!(
                            key,
                            fence = claim.fence,
                            "idempotency claim taken over before it completed"
                        );
                    }
                    Err(e) => return Err(e.into()),
                }
                ledgerlink_ports::crash::point(ledgerlink_ports::crash::CrashPoint::AfterComplete);
                Ok(Ok(Once::Done(done)))
            }
            Err(e) => {
                self.stores.idempotency.release(key, claim.fence).await?;
                Ok(Err(e))
            }
        }
    }

    /// Pauses a tenant's connection (a dead refresh token or refused credentials) and tells the operators.
    /// Idempotent: pausing a paused tenant changes nothing and notifies once.
    pub async fn pause(&self, tenant: &TenantId, reason: &str) -> FlowResult<()> {
        for _ in 0..=self.settings.status_conflict_retries {
            let Some(mut current) = self.stores.tenants.get(tenant).await? else {
                return Ok(());
            };
            if current.state == ConnectionState::Paused {
                return Ok(());
            }
            let expected = current.version;
            current.state = ConnectionState::Paused;
            current.paused_reason = Some(reason.to_owned());
            current.updated_at = self.now();
            match self.stores.tenants.put(&current, Some(expected)).await {
                Ok(stored) => {
                    tracing::warn!(tenant = %tenant, reason, "connection paused");
                    let notification = Notification {
                        tenant: tenant.clone(),
                        id: format!("paused-{}", stored.version),
                        kind: NotificationKind::ConnectionPaused,
                        recipient: "operators".into(),
                        subject: format!("Ledgerlink paused the connection of {}", stored.name),
                        body: format!(
                            "The connection was paused: {reason}. Synchronisation waits until a user reconnects; \
                             objects stay Pending."
                        ),
                        link: None,
                        created_at: self.now(),
                        delivered_at: None,
                    };
                    self.stores.notifications.push(&notification).await?;
                    return Ok(());
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(FlowError::Deferred(format!(
            "tenant {tenant} kept changing while pausing it"
        )))
    }

    /// Tells the operators that an object failed permanently (the spec's "error email").
    pub async fn notify_error(&self, object: &ObjectRef, message: &str) -> FlowResult<()> {
        let notification = Notification {
            tenant: object.tenant.clone(),
            id: format!(
                "error-{}-{}-{}",
                object.object_type,
                object.key,
                hash_of(&message).get(..12).unwrap_or("")
            ),
            kind: NotificationKind::SyncError,
            recipient: "operators".into(),
            subject: format!(
                "Ledgerlink could not synchronise {} {}",
                object.object_type, object.key
            ),
            body: message.to_owned(),
            link: None,
            created_at: self.now(),
            delivered_at: None,
        };
        self.stores.notifications.push(&notification).await?;
        Ok(())
    }
}
