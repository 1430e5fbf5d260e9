//! [`ExportStorage`] on a local folder: objects are files under `<root>/<tenant>/<key>`; uploads stream into
//! `<root>/.uploads/` and are renamed into place on `finish` (constant memory, invisible until finished,
//! atomic on one filesystem). Presigned URLs are local download/upload links signed with HMAC-SHA256 over
//! method, tenant, key and expiry; the local HTTP API checks them with [`FolderStorage::verify`].

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use ledgerlink_domain::TenantId;
use ledgerlink_ports::{
    ExportStorage, Limited, MAX_PRESIGN_EXPIRY, PresignedUrl, StoreError, StoreResult,
    StoredObject, UploadSink,
};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use tokio::io::{AsyncWriteExt, BufWriter};
use url::Url;

type HmacSha256 = Hmac<Sha256>;

/// Where in-progress uploads live; tenant ids cannot start with a dot, so this never clashes with a tenant.
const UPLOADS: &str = ".uploads";
/// Longest key accepted.
const MAX_KEY_LEN: usize = 1024;
/// Write buffer of a streaming upload: memory per upload stays at this, whatever the file size.
const UPLOAD_BUFFER: usize = 256 * 1024;

/// Export files in a local folder, with signed local URLs.
#[derive(Clone)]
pub struct FolderStorage {
    root: PathBuf,
    base_url: Url,
    signing_key: Vec<u8>,
}

impl std::fmt::Debug for FolderStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FolderStorage")
            .field("root", &self.root)
            .field("base_url", &self.base_url.as_str())
            .field("signing_key", &"<redacted>")
            .finish()
    }
}

fn io_error(what: String, error: std::io::Error) -> StoreError {
    use std::io::ErrorKind;
    match error.kind() {
        ErrorKind::NotFound => StoreError::not_found(what),
        ErrorKind::Interrupted | ErrorKind::TimedOut | ErrorKind::WouldBlock => {
            StoreError::transient(format!("{what}: temporary I/O failure"), error)
        }
        _ => StoreError::permanent(format!("{what}: I/O failure"), error),
    }
}

/// Refuses keys that could leave the tenant's folder or name something odd: empty, absolute, `.`/`..`
/// segments, empty segments, backslashes, NUL, or too long.
fn check_key(key: &str) -> StoreResult<()> {
    let invalid = |why: &str| Err(StoreError::Invalid(format!("object key {key:?} {why}")));
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return invalid("must have 1 to 1024 bytes");
    }
    if key.contains('\\') || key.contains('\0') {
        return invalid("must not contain a backslash or NUL");
    }
    if key.starts_with('/') || Path::new(key).is_absolute() {
        return invalid("must be relative");
    }
    if key
        .split('/')
        .any(|segment| segment.is_empty() || segment == "." || segment == "..")
    {
        return invalid("must not contain empty, `.` or `..` segments");
    }
    if !Path::new(key)
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
    {
        return invalid("must only contain plain path segments");
    }
    Ok(())
}

impl FolderStorage {
    /// A storage rooted at `root` (created if missing), minting URLs under `base_url` (e.g.
    /// `http://127.0.0.1:8080`) signed with `signing_key` (at least 32 bytes).
    pub fn new(root: impl Into<PathBuf>, base_url: &str, signing_key: &[u8]) -> StoreResult<Self> {
        let root = root.into();
        let base_url = Url::parse(base_url)
            .map_err(|e| StoreError::Invalid(format!("base URL {base_url:?} is not a URL: {e}")))?;
        if base_url.cannot_be_a_base() {
            return Err(StoreError::Invalid(format!(
                "base URL {base_url} cannot hold a path"
            )));
        }
        if signing_key.len() < 32 {
            return Err(StoreError::Invalid(
                "the URL signing key must have at least 32 bytes".into(),
            ));
        }
        std::fs::create_dir_all(root.join(UPLOADS))
            .map_err(|e| io_error(format!("storage folder {}", root.display()), e))?;
        Ok(Self {
            root,
            base_url,
            signing_key: signing_key.to_vec(),
        })
    }

    /// The file of an object (after checking the key); what the local HTTP API serves or fills.
    pub fn path_of(&self, tenant: &TenantId, key: &str) -> StoreResult<PathBuf> {
        check_key(key)?;
        Ok(self.root.join(tenant.as_str()).join(key))
    }

    fn describe(tenant: &TenantId, key: &str) -> String {
        format!("object {tenant}/{key}")
    }

    fn signature(
        &self,
        method: &str,
        tenant: &TenantId,
        key: &str,
        expires: i64,
    ) -> StoreResult<Vec<u8>> {
        let mut mac = HmacSha256::new_from_slice(&self.signing_key)
            .map_err(|e| StoreError::permanent("the URL signing key is unusable", e))?;
        // Newline-separated: no field can contain a newline (tenant ids and checked keys do not), so two
        // different (method, tenant, key, expiry) tuples never sign the same text.
        mac.update(format!("{method}\n{tenant}\n{key}\n{expires}").as_bytes());
        Ok(mac.finalize().into_bytes().to_vec())
    }

    fn presign(
        &self,
        method: &str,
        tenant: &TenantId,
        key: &str,
        expires_in: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<PresignedUrl> {
        check_key(key)?;
        if expires_in > MAX_PRESIGN_EXPIRY {
            return Err(StoreError::Invalid(format!(
                "a presigned URL may live at most {} s, {} s asked",
                MAX_PRESIGN_EXPIRY.as_secs(),
                expires_in.as_secs()
            )));
        }
        let ttl = chrono::Duration::from_std(expires_in)
            .map_err(|_| StoreError::Invalid(format!("expiry {expires_in:?} is out of range")))?;
        let expires = (now + ttl).timestamp();
        let signature = hex::encode(self.signature(method, tenant, key, expires)?);
        let mut url = self.base_url.clone();
        match url.path_segments_mut() {
            Ok(mut segments) => {
                segments
                    .pop_if_empty()
                    .push("files")
                    .push(tenant.as_str())
                    .extend(key.split('/'));
            }
            Err(()) => {
                return Err(StoreError::Invalid(format!(
                    "base URL {} cannot hold a path",
                    self.base_url
                )));
            }
        }
        url.query_pairs_mut()
            .append_pair("method", method)
            .append_pair("expires", &expires.to_string())
            .append_pair("sig", &signature);
        Ok(PresignedUrl {
            url: url.into(),
            method: method.to_owned(),
            expires_at: DateTime::from_timestamp(expires, 0).unwrap_or(now),
        })
    }

    /// Checks a local URL's signature: `method`, `tenant` and `key` as the request names them, `expires` and
    /// `sig` from its query. Refuses ([`StoreError::Invalid`]) an expired URL, a bad signature, or a URL
    /// minted for another object or method. The comparison runs in constant time.
    pub fn verify(
        &self,
        method: &str,
        tenant: &TenantId,
        key: &str,
        expires: i64,
        sig: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let refused =
            || StoreError::Invalid("the URL signature is invalid or the URL expired".into());
        check_key(key)?;
        if now.timestamp() > expires {
            return Err(refused());
        }
        let given = hex::decode(sig).map_err(|_| refused())?;
        let expected = self.signature(method, tenant, key, expires)?;
        if bool::from(expected.ct_eq(&given)) {
            Ok(())
        } else {
            Err(refused())
        }
    }

    fn temp_path(&self) -> PathBuf {
        self.root
            .join(UPLOADS)
            .join(format!("{}.part", uuid::Uuid::new_v4().simple()))
    }
}

/// Moves a finished temp file into place, creating the tenant's folders.
async fn publish(temp: &Path, target: &Path, what: &str) -> StoreResult<()> {
    if let Some(parent) = target.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| io_error(what.to_owned(), e))?;
    }
    tokio::fs::rename(temp, target)
        .await
        .map_err(|e| io_error(what.to_owned(), e))
}

/// A streaming upload into a temp file; published by `finish`, removed by `abort` or when dropped unfinished.
#[derive(Debug)]
struct FolderUpload {
    file: Option<BufWriter<tokio::fs::File>>,
    temp: PathBuf,
    target: PathBuf,
    tenant: TenantId,
    key: String,
    size: u64,
}

impl Drop for FolderUpload {
    fn drop(&mut self) {
        if self.file.is_some() {
            // Dropped without finish or abort: clean the partial file up (best effort).
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

#[async_trait]
impl UploadSink for FolderUpload {
    async fn write(&mut self, chunk: Bytes) -> StoreResult<()> {
        let what = FolderStorage::describe(&self.tenant, &self.key);
        let Some(file) = self.file.as_mut() else {
            return Err(StoreError::Invalid(format!(
                "the upload of {what} is already closed"
            )));
        };
        file.write_all(&chunk)
            .await
            .map_err(|e| io_error(what, e))?;
        self.size += chunk.len() as u64;
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> StoreResult<StoredObject> {
        let what = FolderStorage::describe(&self.tenant, &self.key);
        let Some(mut file) = self.file.take() else {
            return Err(StoreError::Invalid(format!(
                "the upload of {what} is already closed"
            )));
        };
        let written = async {
            file.flush().await?;
            file.get_ref().sync_all().await
        }
        .await;
        drop(file);
        let published = match written {
            Ok(()) => publish(&self.temp, &self.target, &what).await,
            Err(e) => Err(io_error(what, e)),
        };
        if let Err(e) = published {
            let _ = tokio::fs::remove_file(&self.temp).await;
            return Err(e);
        }
        Ok(StoredObject {
            tenant: self.tenant.clone(),
            key: self.key.clone(),
            size: self.size,
        })
    }

    async fn abort(mut self: Box<Self>) -> StoreResult<()> {
        drop(self.file.take());
        match tokio::fs::remove_file(&self.temp).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error(
                FolderStorage::describe(&self.tenant, &self.key),
                e,
            )),
        }
    }
}

#[async_trait]
impl ExportStorage for FolderStorage {
    async fn begin_upload(
        &self,
        tenant: &TenantId,
        key: &str,
        _content_type: &str,
    ) -> StoreResult<Box<dyn UploadSink>> {
        let target = self.path_of(tenant, key)?;
        let temp = self.temp_path();
        let file = tokio::fs::File::create(&temp)
            .await
            .map_err(|e| io_error(Self::describe(tenant, key), e))?;
        Ok(Box::new(FolderUpload {
            file: Some(BufWriter::with_capacity(UPLOAD_BUFFER, file)),
            temp,
            target,
            tenant: tenant.clone(),
            key: key.to_owned(),
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
        let mut upload = self.begin_upload(tenant, key, content_type).await?;
        upload.write(body).await?;
        upload.finish().await
    }

    async fn get(&self, tenant: &TenantId, key: &str) -> StoreResult<Bytes> {
        let path = self.path_of(tenant, key)?;
        tokio::fs::read(&path)
            .await
            .map(Bytes::from)
            .map_err(|e| io_error(Self::describe(tenant, key), e))
    }

    async fn size(&self, tenant: &TenantId, key: &str) -> StoreResult<Option<u64>> {
        let path = self.path_of(tenant, key)?;
        match tokio::fs::metadata(&path).await {
            Ok(meta) if meta.is_file() => Ok(Some(meta.len())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(Self::describe(tenant, key), e)),
        }
    }

    async fn get_limited(
        &self,
        tenant: &TenantId,
        key: &str,
        max_bytes: u64,
    ) -> StoreResult<Limited> {
        use tokio::io::AsyncReadExt;
        let path = self.path_of(tenant, key)?;
        let what = || Self::describe(tenant, key);
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| io_error(what(), e))?;
        let size = file
            .metadata()
            .await
            .map_err(|e| io_error(what(), e))?
            .len();
        if size > max_bytes {
            return Ok(Limited::TooLarge { size: Some(size) });
        }
        // The file may grow after the size was read: never read more than one byte past the limit.
        let mut body = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        file.take(max_bytes.saturating_add(1))
            .read_to_end(&mut body)
            .await
            .map_err(|e| io_error(what(), e))?;
        if body.len() as u64 > max_bytes {
            return Ok(Limited::TooLarge { size: None });
        }
        Ok(Limited::Bytes(Bytes::from(body)))
    }

    async fn exists(&self, tenant: &TenantId, key: &str) -> StoreResult<bool> {
        let path = self.path_of(tenant, key)?;
        match tokio::fs::metadata(&path).await {
            Ok(meta) => Ok(meta.is_file()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_error(Self::describe(tenant, key), e)),
        }
    }

    async fn delete(&self, tenant: &TenantId, key: &str) -> StoreResult<()> {
        let path = self.path_of(tenant, key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error(Self::describe(tenant, key), e)),
        }
    }

    async fn presign_get(
        &self,
        tenant: &TenantId,
        key: &str,
        expires_in: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<PresignedUrl> {
        self.presign("GET", tenant, key, expires_in, now)
    }

    async fn presign_put(
        &self,
        tenant: &TenantId,
        key: &str,
        expires_in: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<PresignedUrl> {
        self.presign("PUT", tenant, key, expires_in, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_could_escape_the_tenant_folder_are_refused() {
        for key in [
            "../x",
            "a/../../x",
            "/etc/passwd",
            "a//b",
            "./a",
            "a/.",
            "",
            "a\\b",
            "a/",
        ] {
            assert!(
                matches!(check_key(key), Err(StoreError::Invalid(_))),
                "{key:?} must be refused"
            );
        }
        for key in ["a", "exports/42/invoices.csv", "a..b/c.csv", ".hidden-ok"] {
            assert!(check_key(key).is_ok(), "{key:?} must be accepted");
        }
    }
}
