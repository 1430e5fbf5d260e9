//! Export storage: files under a tenant prefix, written by streaming, downloaded through short-lived URLs.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use ledgerlink_domain::TenantId;
use serde::{Deserialize, Serialize};

use crate::StoreResult;

/// The longest a download or upload URL may live.
pub const MAX_PRESIGN_EXPIRY: Duration = Duration::from_secs(15 * 60);

/// A stored file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredObject {
    pub tenant: TenantId,
    /// Key relative to the tenant prefix, e.g. `exports/42/invoices.csv`.
    pub key: String,
    pub size: u64,
}

/// The answer of [`ExportStorage::get_limited`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Limited {
    Bytes(Bytes),
    /// Larger than the limit; `size` when the store knows it.
    TooLarge {
        size: Option<u64>,
    },
}

/// A URL that grants one operation on one object until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresignedUrl {
    pub url: String,
    pub method: String,
    pub expires_at: DateTime<Utc>,
}

/// A streaming upload in progress. Memory stays bounded by the part size whatever the file size.
#[async_trait]
pub trait UploadSink: Send + std::fmt::Debug {
    async fn write(&mut self, chunk: Bytes) -> StoreResult<()>;
    /// Completes the upload; the object becomes visible only now.
    async fn finish(self: Box<Self>) -> StoreResult<StoredObject>;
    /// Abandons the upload; nothing becomes visible and parts are cleaned up.
    async fn abort(self: Box<Self>) -> StoreResult<()>;
}

#[async_trait]
pub trait ExportStorage: Send + Sync + std::fmt::Debug {
    /// Starts a streaming upload of `key` under the tenant's prefix (`content_type` e.g. `text/csv`).
    async fn begin_upload(
        &self,
        tenant: &TenantId,
        key: &str,
        content_type: &str,
    ) -> StoreResult<Box<dyn UploadSink>>;
    /// Stores a small object in one call (templates, uploaded import files in the local stack).
    async fn put(
        &self,
        tenant: &TenantId,
        key: &str,
        content_type: &str,
        body: Bytes,
    ) -> StoreResult<StoredObject>;
    async fn get(&self, tenant: &TenantId, key: &str) -> StoreResult<Bytes>;
    /// The size of an object in bytes (a HEAD, nothing read); `None` when it does not exist.
    async fn size(&self, tenant: &TenantId, key: &str) -> StoreResult<Option<u64>>;
    /// The object if it has at most `max_bytes` bytes, [`Limited::TooLarge`] otherwise. Never holds more
    /// than `max_bytes` (+ one read buffer) in memory, whatever the object's size: what a worker uses to
    /// read a file someone else uploaded (an import), so an oversized upload cannot exhaust its memory.
    async fn get_limited(
        &self,
        tenant: &TenantId,
        key: &str,
        max_bytes: u64,
    ) -> StoreResult<Limited>;
    async fn exists(&self, tenant: &TenantId, key: &str) -> StoreResult<bool>;
    async fn delete(&self, tenant: &TenantId, key: &str) -> StoreResult<()>;
    /// A GET URL for exactly this object. `expires_in` above [`MAX_PRESIGN_EXPIRY`] is refused
    /// ([`crate::StoreError::Invalid`]).
    async fn presign_get(
        &self,
        tenant: &TenantId,
        key: &str,
        expires_in: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<PresignedUrl>;
    /// A PUT URL for exactly this object (imports upload through it).
    async fn presign_put(
        &self,
        tenant: &TenantId,
        key: &str,
        expires_in: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<PresignedUrl>;
}
