//! [`ExportStorage`] on S3: objects live under `<tenant>/<key>`, are always encrypted at rest (SSE `AES256`,
//! or `aws:kms` with the configured key), and are written by streaming.
//!
//! A streaming upload keeps up to [`PARTS_IN_FLIGHT`] parts of [`PART_SIZE`] uploading at once (concurrent
//! UploadPart requests, as `aws s3 cp` does) while the next part fills, so memory stays bounded at
//! `(PARTS_IN_FLIGHT + 1) × PART_SIZE` whatever the file size. Writing waits when that many parts are in
//! flight. A file that never fills a part is stored with one PutObject. A failed part, a failed completion
//! or an abort aborts the multipart upload (AbortMultipartUpload), so no parts are left behind; an upload
//! that is neither finished nor aborted (a crashed worker) leaves parts behind, which the bucket's
//! `AbortIncompleteMultipartUpload` lifecycle rule removes (see `infra/dynamodb-design.md`, "S3").

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::operation::head_object::HeadObjectError;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};
use ledgerlink_domain::TenantId;
use ledgerlink_ports::{
    ExportStorage, Limited, MAX_PRESIGN_EXPIRY, PresignedUrl, StoreError, StoreResult,
    StoredObject, UploadSink,
};

use crate::error::from_sdk;

/// The size of every part but the last (S3's minimum part is 5 MiB).
pub const PART_SIZE: usize = 6 * 1024 * 1024;
/// Parts uploading at once. With [`PART_SIZE`] this bounds an upload's buffers to 24 MiB (three parts
/// sending, one filling), which keeps an export worker under 64 MB.
pub const PARTS_IN_FLIGHT: usize = 3;

/// Export files of every tenant in one bucket, each tenant under its own prefix.
#[derive(Debug, Clone)]
pub struct S3ExportStorage {
    client: Client,
    bucket: Arc<str>,
    kms_key_id: Option<Arc<str>>,
}

impl S3ExportStorage {
    pub fn new(client: Client, bucket: impl Into<String>, kms_key_id: Option<String>) -> Self {
        Self {
            client,
            bucket: Arc::from(bucket.into()),
            kms_key_id: kms_key_id.map(Arc::from),
        }
    }

    fn sse(&self) -> Encryption {
        match &self.kms_key_id {
            Some(key) => Encryption {
                algorithm: ServerSideEncryption::AwsKms,
                kms_key_id: Some(key.to_string()),
            },
            None => Encryption {
                algorithm: ServerSideEncryption::Aes256,
                kms_key_id: None,
            },
        }
    }

    fn presigning(expires_in: Duration, now: DateTime<Utc>) -> StoreResult<PresigningConfig> {
        if expires_in.is_zero() || expires_in > MAX_PRESIGN_EXPIRY {
            return Err(StoreError::Invalid(format!(
                "a presigned URL may live 1 s to {} s, not {} s",
                MAX_PRESIGN_EXPIRY.as_secs(),
                expires_in.as_secs()
            )));
        }
        PresigningConfig::builder()
            .start_time(SystemTime::from(now))
            .expires_in(expires_in)
            .build()
            .map_err(|e| StoreError::Invalid(format!("presigned URL settings refused: {e}")))
    }
}

#[derive(Debug, Clone)]
struct Encryption {
    algorithm: ServerSideEncryption,
    kms_key_id: Option<String>,
}

/// `<tenant>/<key>`, refusing keys that could escape or blur the tenant prefix.
pub(crate) fn object_key(tenant: &TenantId, key: &str) -> StoreResult<String> {
    let bad = key.is_empty()
        || key.len() > 900
        || key.starts_with('/')
        || key.contains('\\')
        || key.chars().any(char::is_control)
        || key
            .split('/')
            .any(|segment| segment.is_empty() || segment == "." || segment == "..");
    if bad {
        return Err(StoreError::Invalid(format!(
            "storage key {key:?} is not a plain relative path"
        )));
    }
    Ok(format!("{tenant}/{key}"))
}

fn expires_at(now: DateTime<Utc>, expires_in: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(expires_in).unwrap_or_else(|_| chrono::Duration::seconds(0))
}

#[async_trait]
impl ExportStorage for S3ExportStorage {
    async fn begin_upload(
        &self,
        tenant: &TenantId,
        key: &str,
        content_type: &str,
    ) -> StoreResult<Box<dyn UploadSink>> {
        let full_key = object_key(tenant, key)?;
        Ok(Box::new(S3Upload {
            client: self.client.clone(),
            bucket: self.bucket.clone(),
            full_key,
            tenant: tenant.clone(),
            key: key.to_owned(),
            content_type: content_type.to_owned(),
            encryption: self.sse(),
            buffer: BytesMut::new(),
            upload_id: None,
            parts: Vec::new(),
            in_flight: tokio::task::JoinSet::new(),
            next_part: 1,
            size: 0,
        }))
    }

    async fn put(
        &self,
        tenant: &TenantId,
        key: &str,
        content_type: &str,
        body: Bytes,
    ) -> StoreResult<StoredObject> {
        let full_key = object_key(tenant, key)?;
        let size = body.len() as u64;
        let sse = self.sse();
        self.client
            .put_object()
            .bucket(&*self.bucket)
            .key(full_key)
            .content_type(content_type)
            .server_side_encryption(sse.algorithm)
            .set_ssekms_key_id(sse.kms_key_id)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| from_sdk("PutObject", e))?;
        Ok(StoredObject {
            tenant: tenant.clone(),
            key: key.to_owned(),
            size,
        })
    }

    async fn get(&self, tenant: &TenantId, key: &str) -> StoreResult<Bytes> {
        let full_key = object_key(tenant, key)?;
        let out = match self
            .client
            .get_object()
            .bucket(&*self.bucket)
            .key(&full_key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(SdkError::ServiceError(e)) if matches!(e.err(), GetObjectError::NoSuchKey(_)) => {
                return Err(StoreError::not_found(format!("file {key} of {tenant}")));
            }
            Err(e) => return Err(from_sdk("GetObject", e)),
        };
        let body =
            out.body.collect().await.map_err(|e| {
                StoreError::transient(format!("reading {full_key} was interrupted"), e)
            })?;
        Ok(body.into_bytes())
    }

    async fn size(&self, tenant: &TenantId, key: &str) -> StoreResult<Option<u64>> {
        let full_key = object_key(tenant, key)?;
        match self
            .client
            .head_object()
            .bucket(&*self.bucket)
            .key(full_key)
            .send()
            .await
        {
            Ok(out) => Ok(Some(
                out.content_length
                    .and_then(|n| u64::try_from(n).ok())
                    .unwrap_or(0),
            )),
            Err(SdkError::ServiceError(e)) if matches!(e.err(), HeadObjectError::NotFound(_)) => {
                Ok(None)
            }
            Err(e) => Err(from_sdk("HeadObject", e)),
        }
    }

    async fn get_limited(
        &self,
        tenant: &TenantId,
        key: &str,
        max_bytes: u64,
    ) -> StoreResult<Limited> {
        let full_key = object_key(tenant, key)?;
        // A ranged GET of at most one byte past the limit: S3 never sends more, whatever was uploaded,
        // and the total size comes back in Content-Range.
        let out = match self
            .client
            .get_object()
            .bucket(&*self.bucket)
            .key(&full_key)
            .range(format!("bytes=0-{max_bytes}"))
            .send()
            .await
        {
            Ok(out) => out,
            Err(SdkError::ServiceError(e)) if matches!(e.err(), GetObjectError::NoSuchKey(_)) => {
                return Err(StoreError::not_found(format!("file {key} of {tenant}")));
            }
            // An empty object cannot satisfy a range: it is an empty file.
            Err(SdkError::ServiceError(e)) if e.raw().status().as_u16() == 416 => {
                return Ok(Limited::Bytes(Bytes::new()));
            }
            Err(e) => return Err(from_sdk("GetObject", e)),
        };
        let total = out
            .content_range
            .as_deref()
            .and_then(|r| r.rsplit_once('/'))
            .and_then(|(_, total)| total.parse::<u64>().ok());
        if let Some(total) = total
            && total > max_bytes
        {
            return Ok(Limited::TooLarge { size: Some(total) });
        }
        let mut body = out.body;
        let mut buffer = BytesMut::new();
        while let Some(chunk) = body
            .try_next()
            .await
            .map_err(|e| StoreError::transient(format!("reading {full_key} was interrupted"), e))?
        {
            buffer.extend_from_slice(&chunk);
            if buffer.len() as u64 > max_bytes {
                return Ok(Limited::TooLarge { size: total });
            }
        }
        Ok(Limited::Bytes(buffer.freeze()))
    }

    async fn exists(&self, tenant: &TenantId, key: &str) -> StoreResult<bool> {
        let full_key = object_key(tenant, key)?;
        match self
            .client
            .head_object()
            .bucket(&*self.bucket)
            .key(full_key)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(e)) if matches!(e.err(), HeadObjectError::NotFound(_)) => {
                Ok(false)
            }
            Err(e) => Err(from_sdk("HeadObject", e)),
        }
    }

    async fn delete(&self, tenant: &TenantId, key: &str) -> StoreResult<()> {
        let full_key = object_key(tenant, key)?;
        self.client
            .delete_object()
            .bucket(&*self.bucket)
            .key(full_key)
            .send()
            .await
            .map_err(|e| from_sdk("DeleteObject", e))?;
        Ok(())
    }

    async fn presign_get(
        &self,
        tenant: &TenantId,
        key: &str,
        expires_in: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<PresignedUrl> {
        let full_key = object_key(tenant, key)?;
        let request = self
            .client
            .get_object()
            .bucket(&*self.bucket)
            .key(full_key)
            .presigned(Self::presigning(expires_in, now)?)
            .await
            .map_err(|e| from_sdk("presign GetObject", e))?;
        Ok(PresignedUrl {
            url: request.uri().to_owned(),
            method: "GET".into(),
            expires_at: expires_at(now, expires_in),
        })
    }

    async fn presign_put(
        &self,
        tenant: &TenantId,
        key: &str,
        expires_in: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<PresignedUrl> {
        let full_key = object_key(tenant, key)?;
        // No SSE header is signed: the uploader could not know to send it. The bucket's default encryption
        // (set with the bucket) encrypts what arrives through this URL.
        let request = self
            .client
            .put_object()
            .bucket(&*self.bucket)
            .key(full_key)
            .presigned(Self::presigning(expires_in, now)?)
            .await
            .map_err(|e| from_sdk("presign PutObject", e))?;
        Ok(PresignedUrl {
            url: request.uri().to_owned(),
            method: "PUT".into(),
            expires_at: expires_at(now, expires_in),
        })
    }
}

/// A streaming upload: the part filling, and up to [`PARTS_IN_FLIGHT`] parts uploading.
struct S3Upload {
    client: Client,
    bucket: Arc<str>,
    full_key: String,
    tenant: TenantId,
    key: String,
    content_type: String,
    encryption: Encryption,
    buffer: BytesMut,
    upload_id: Option<String>,
    /// Parts uploaded, in the order they finished (sorted before completing).
    parts: Vec<CompletedPart>,
    /// Parts uploading; dropping the upload cancels them.
    in_flight: tokio::task::JoinSet<StoreResult<CompletedPart>>,
    next_part: i32,
    size: u64,
}

/// Debug shows where the upload goes and how far it got, never the buffered file content.
impl std::fmt::Debug for S3Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Upload")
            .field("bucket", &self.bucket)
            .field("key", &self.full_key)
            .field("upload_id", &self.upload_id)
            .field("parts", &self.parts.len())
            .field("in_flight", &self.in_flight.len())
            .field("buffered", &self.buffer.len())
            .field("size", &self.size)
            .finish()
    }
}

impl S3Upload {
    async fn upload_id(&mut self) -> StoreResult<String> {
        if let Some(id) = &self.upload_id {
            return Ok(id.clone());
        }
        let out = self
            .client
            .create_multipart_upload()
            .bucket(&*self.bucket)
            .key(&self.full_key)
            .content_type(&self.content_type)
            .server_side_encryption(self.encryption.algorithm.clone())
            .set_ssekms_key_id(self.encryption.kms_key_id.clone())
            .send()
            .await
            .map_err(|e| from_sdk("CreateMultipartUpload", e))?;
        let id = out.upload_id.ok_or_else(|| StoreError::Permanent {
            message: "CreateMultipartUpload returned no upload id".into(),
            source: None,
        })?;
        self.upload_id = Some(id.clone());
        Ok(id)
    }

    /// Waits for one part in flight to finish.
    async fn settle_one(&mut self) -> StoreResult<()> {
        match self.in_flight.join_next().await {
            None => Ok(()),
            Some(Ok(part)) => {
                self.parts.push(part?);
                Ok(())
            }
            Some(Err(e)) => Err(StoreError::Permanent {
                message: format!("an UploadPart task of {} stopped: {e}", self.full_key),
                source: None,
            }),
        }
    }

    /// Starts uploading `body` as the next part, first waiting while [`PARTS_IN_FLIGHT`] are uploading.
    async fn upload_part(&mut self, body: Bytes) -> StoreResult<()> {
        while self.in_flight.len() >= PARTS_IN_FLIGHT {
            self.settle_one().await?;
        }
        let upload_id = self.upload_id().await?;
        let part_number = self.next_part;
        if part_number > 10_000 {
            return Err(StoreError::Invalid(
                "the file has more parts than S3 allows".into(),
            ));
        }
        self.next_part += 1;
        let request = self
            .client
            .upload_part()
            .bucket(&*self.bucket)
            .key(&self.full_key)
            .upload_id(upload_id)
            .part_number(part_number)
            .body(ByteStream::from(body));
        self.in_flight.spawn(async move {
            let out = request
                .send()
                .await
                .map_err(|e| from_sdk("UploadPart", e))?;
            Ok(CompletedPart::builder()
                .set_e_tag(out.e_tag)
                .part_number(part_number)
                .build())
        });
        Ok(())
    }

    /// Every part uploaded, the rest sent, the upload completed.
    async fn complete(&mut self) -> StoreResult<()> {
        let rest = std::mem::take(&mut self.buffer).freeze();
        if !rest.is_empty() {
            self.upload_part(rest).await?;
        }
        while !self.in_flight.is_empty() {
            self.settle_one().await?;
        }
        let upload_id = self.upload_id().await?;
        let mut parts = std::mem::take(&mut self.parts);
        parts.sort_by_key(|p| p.part_number);
        self.client
            .complete_multipart_upload()
            .bucket(&*self.bucket)
            .key(&self.full_key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| from_sdk("CompleteMultipartUpload", e))?;
        Ok(())
    }

    /// Cancels the parts in flight and aborts the multipart upload (if one was started).
    async fn abort_upload(&mut self) -> StoreResult<()> {
        self.in_flight.abort_all();
        while self.in_flight.join_next().await.is_some() {}
        self.buffer = BytesMut::new();
        if let Some(upload_id) = &self.upload_id {
            self.client
                .abort_multipart_upload()
                .bucket(&*self.bucket)
                .key(&self.full_key)
                .upload_id(upload_id)
                .send()
                .await
                .map_err(|e| from_sdk("AbortMultipartUpload", e))?;
        }
        Ok(())
    }
}

#[async_trait]
impl UploadSink for S3Upload {
    async fn write(&mut self, chunk: Bytes) -> StoreResult<()> {
        self.size += chunk.len() as u64;
        if self.buffer.is_empty() && chunk.len() == PART_SIZE {
            return self.upload_part(chunk).await;
        }
        if self.buffer.capacity() < PART_SIZE {
            self.buffer.reserve(PART_SIZE - self.buffer.len());
        }
        self.buffer.extend_from_slice(&chunk);
        while self.buffer.len() >= PART_SIZE {
            let part = self.buffer.split_to(PART_SIZE).freeze();
            self.upload_part(part).await?;
        }
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> StoreResult<StoredObject> {
        if self.upload_id.is_none() {
            // Never filled a part: one PutObject.
            let rest = std::mem::take(&mut self.buffer).freeze();
            self.client
                .put_object()
                .bucket(&*self.bucket)
                .key(&self.full_key)
                .content_type(&self.content_type)
                .server_side_encryption(self.encryption.algorithm.clone())
                .set_ssekms_key_id(self.encryption.kms_key_id.clone())
                .body(ByteStream::from(rest))
                .send()
                .await
                .map_err(|e| from_sdk("PutObject", e))?;
        } else if let Err(e) = self.complete().await {
            // Nothing becomes visible, and no parts are left behind.
            if let Err(abort) = self.abort_upload().await {
                tracing::warn!(error = %abort, key = %self.full_key, "aborting a failed upload failed");
            }
            return Err(e);
        }
        Ok(StoredObject {
            tenant: self.tenant.clone(),
            key: self.key.clone(),
            size: self.size,
        })
    }

    async fn abort(mut self: Box<Self>) -> StoreResult<()> {
        self.abort_upload().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> TenantId {
        TenantId::parse("acme").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn keys_live_under_the_tenant_prefix() {
        assert_eq!(
            object_key(&tenant(), "exports/42/invoices.csv")
                .ok()
                .as_deref(),
            Some("acme/exports/42/invoices.csv")
        );
    }

    #[test]
    fn keys_that_could_leave_the_tenant_prefix_are_refused() {
        for key in [
            "",
            "/etc/passwd",
            "../other/x.csv",
            "a/../../b",
            "a//b",
            "a\\b",
            "./a",
        ] {
            assert!(
                matches!(object_key(&tenant(), key), Err(StoreError::Invalid(_))),
                "{key:?} was accepted"
            );
        }
    }

    #[test]
    fn presigning_refuses_more_than_fifteen_minutes() {
        let now = Utc::now();

        assert!(S3ExportStorage::presigning(Duration::from_secs(900), now).is_ok());
        assert!(matches!(
            S3ExportStorage::presigning(Duration::from_secs(901), now),
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            S3ExportStorage::presigning(Duration::ZERO, now),
            Err(StoreError::Invalid(_))
        ));
    }
}
