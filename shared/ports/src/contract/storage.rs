//! Contract of [`ExportStorage`]: tenant-scoped objects, streaming uploads that stay invisible until
//! `finish` (and leave nothing on `abort`), and presigned URLs that never outlive 15 minutes and name one
//! object and one method.

use std::time::Duration;

use bytes::Bytes;

use super::{at, fresh_tenant, ok, unique};
use crate::{ExportStorage, MAX_PRESIGN_EXPIRY, StoreError};

/// A deterministic pattern, so a corrupted or reordered chunk is detected.
fn chunk(index: usize, size: usize) -> Bytes {
    Bytes::from(
        (0..size)
            .map(|i| ((i * 31 + index * 7) % 251) as u8)
            .collect::<Vec<u8>>(),
    )
}

/// Small objects: put, get, exists, delete; deleting twice is fine; a missing object is NotFound.
pub async fn objects_round_trip_and_delete(storage: &dyn ExportStorage) {
    let tenant = fresh_tenant();
    let key = format!("imports/{}/firms.csv", unique("job"));
    let body = Bytes::from_static(b"ClientID;Name\n001;Acme BV\n");

    let stored = ok(
        storage.put(&tenant, &key, "text/csv", body.clone()).await,
        "put",
    );
    let fetched = ok(storage.get(&tenant, &key).await, "get");
    let existed = ok(storage.exists(&tenant, &key).await, "exists");
    ok(storage.delete(&tenant, &key).await, "delete");
    let deleted_twice = storage.delete(&tenant, &key).await;
    let exists_after = ok(storage.exists(&tenant, &key).await, "exists after delete");
    let get_after = storage.get(&tenant, &key).await;

    assert_eq!(
        (stored.tenant, stored.key.as_str(), stored.size),
        (tenant, key.as_str(), body.len() as u64)
    );
    assert_eq!(fetched, body, "get must return exactly the stored bytes");
    assert!(existed, "a stored object exists");
    assert!(
        deleted_twice.is_ok(),
        "deleting a missing object must succeed, got {deleted_twice:?}"
    );
    assert!(!exists_after, "a deleted object does not exist");
    assert!(
        matches!(get_after, Err(StoreError::NotFound { .. })),
        "get of a missing object must be NotFound, got {get_after:?}"
    );
}

/// A multi-megabyte upload written in chunks is invisible until `finish`, then reads back byte for byte.
pub async fn a_streaming_upload_is_invisible_until_finished(storage: &dyn ExportStorage) {
    let tenant = fresh_tenant();
    let key = format!("exports/{}/invoices.csv", unique("job"));
    let (chunks, size) = (100, 64 * 1024); // 6.25 MiB: more than one S3 multipart part.
    let mut sink = ok(
        storage.begin_upload(&tenant, &key, "text/csv").await,
        "begin_upload",
    );
    for i in 0..chunks {
        ok(sink.write(chunk(i, size)).await, "UploadSink::write");
    }

    let visible_before = ok(storage.exists(&tenant, &key).await, "exists before finish");
    let stored = ok(sink.finish().await, "UploadSink::finish");
    let fetched = ok(storage.get(&tenant, &key).await, "get");

    assert!(!visible_before, "an upload must be invisible until finish");
    assert_eq!(
        stored.size,
        (chunks * size) as u64,
        "finish must report the total size"
    );
    assert_eq!(
        fetched.len(),
        chunks * size,
        "the object must hold every chunk"
    );
    for i in 0..chunks {
        assert!(
            fetched[i * size..(i + 1) * size] == chunk(i, size)[..],
            "chunk {i} must read back in order, intact"
        );
    }
}

/// An aborted upload leaves nothing behind.
pub async fn an_aborted_upload_leaves_nothing(storage: &dyn ExportStorage) {
    let tenant = fresh_tenant();
    let key = format!("exports/{}/aborted.csv", unique("job"));
    let mut sink = ok(
        storage.begin_upload(&tenant, &key, "text/csv").await,
        "begin_upload",
    );
    for i in 0..20 {
        ok(sink.write(chunk(i, 64 * 1024)).await, "UploadSink::write");
    }

    ok(sink.abort().await, "UploadSink::abort");

    assert!(
        !ok(storage.exists(&tenant, &key).await, "exists"),
        "an aborted upload must not become visible"
    );
    let get = storage.get(&tenant, &key).await;
    assert!(
        matches!(get, Err(StoreError::NotFound { .. })),
        "an aborted upload must be NotFound, got {get:?}"
    );
}

/// Objects live under their tenant: the same key under another tenant is another (absent) object.
pub async fn objects_are_scoped_by_tenant(storage: &dyn ExportStorage) {
    let tenant = fresh_tenant();
    let other = fresh_tenant();
    let key = format!("exports/{}/x.csv", unique("job"));
    ok(
        storage
            .put(&tenant, &key, "text/csv", Bytes::from_static(b"a"))
            .await,
        "put",
    );

    let seen_by_other = ok(storage.exists(&other, &key).await, "exists(other tenant)");

    assert!(!seen_by_other, "another tenant must not see the object");
}

/// Presigned URLs: up to 15 minutes is granted with the right method and expiry; longer is Invalid.
pub async fn presigned_urls_expire_within_fifteen_minutes(storage: &dyn ExportStorage) {
    let tenant = fresh_tenant();
    let key = format!("exports/{}/x.csv", unique("job"));
    let now = at(0);
    let too_long = MAX_PRESIGN_EXPIRY + Duration::from_secs(1);

    let get = ok(
        storage
            .presign_get(&tenant, &key, MAX_PRESIGN_EXPIRY, now)
            .await,
        "presign_get(15 min)",
    );
    let put = ok(
        storage
            .presign_put(&tenant, &key, Duration::from_secs(300), now)
            .await,
        "presign_put(5 min)",
    );
    let get_too_long = storage.presign_get(&tenant, &key, too_long, now).await;
    let put_too_long = storage.presign_put(&tenant, &key, too_long, now).await;

    assert_eq!(get.method, "GET");
    assert_eq!(put.method, "PUT");
    let close = |actual: chrono::DateTime<chrono::Utc>, expected: chrono::DateTime<chrono::Utc>| {
        (actual - expected).num_milliseconds().abs() <= 1000
    };
    assert!(
        close(get.expires_at, at(900)),
        "a 15-minute URL must expire 15 minutes from now, got {}",
        get.expires_at
    );
    assert!(
        close(put.expires_at, at(300)),
        "a 5-minute URL must expire 5 minutes from now, got {}",
        put.expires_at
    );
    assert!(
        matches!(get_too_long, Err(StoreError::Invalid(_))),
        "a GET URL over 15 minutes must be Invalid, got {get_too_long:?}"
    );
    assert!(
        matches!(put_too_long, Err(StoreError::Invalid(_))),
        "a PUT URL over 15 minutes must be Invalid, got {put_too_long:?}"
    );
}

/// A URL names one tenant, one key and one method: URLs for different objects or methods differ.
pub async fn presigned_urls_name_one_object_and_method(storage: &dyn ExportStorage) {
    let tenant = fresh_tenant();
    let other = fresh_tenant();
    let key = format!("exports/{}/a.csv", unique("job"));
    let other_key = format!("exports/{}/b.csv", unique("job"));
    let ttl = Duration::from_secs(60);

    let urls = [
        ok(
            storage.presign_get(&tenant, &key, ttl, at(0)).await,
            "presign_get",
        )
        .url,
        ok(
            storage.presign_get(&tenant, &other_key, ttl, at(0)).await,
            "presign_get(other key)",
        )
        .url,
        ok(
            storage.presign_get(&other, &key, ttl, at(0)).await,
            "presign_get(other tenant)",
        )
        .url,
        ok(
            storage.presign_put(&tenant, &key, ttl, at(0)).await,
            "presign_put",
        )
        .url,
    ];

    for (i, a) in urls.iter().enumerate() {
        for b in &urls[i + 1..] {
            assert_ne!(a, b, "URLs for different objects or methods must differ");
        }
    }
}

/// `size` is a HEAD; `get_limited` returns an object up to the limit and refuses a larger one without
/// handing it over; both report a missing object as such.
pub async fn sizes_and_limited_reads(storage: &dyn ExportStorage) {
    let tenant = fresh_tenant();
    let key = format!("imports/{}/big.xlsx", unique("job"));
    let body = chunk(1, 300 * 1024);
    ok(
        storage
            .put(&tenant, &key, "application/octet-stream", body.clone())
            .await,
        "put",
    );

    let size = ok(storage.size(&tenant, &key).await, "size");
    let missing = ok(
        storage.size(&tenant, "imports/none.csv").await,
        "size of nothing",
    );
    let exact = ok(
        storage.get_limited(&tenant, &key, body.len() as u64).await,
        "get_limited at the size",
    );
    let under = ok(
        storage
            .get_limited(&tenant, &key, body.len() as u64 - 1)
            .await,
        "get_limited under the size",
    );
    let small = ok(
        storage.get_limited(&tenant, &key, 10).await,
        "get_limited(10)",
    );
    let gone = storage.get_limited(&tenant, "imports/none.csv", 10).await;

    assert_eq!(size, Some(body.len() as u64));
    assert_eq!(missing, None);
    assert_eq!(exact, crate::Limited::Bytes(body));
    assert!(
        matches!(under, crate::Limited::TooLarge { .. }),
        "{under:?}"
    );
    assert!(
        matches!(small, crate::Limited::TooLarge { .. }),
        "{small:?}"
    );
    assert!(
        matches!(gone, Err(StoreError::NotFound { .. })),
        "get_limited of a missing object must be NotFound, got {gone:?}"
    );
}

/// Every case of this suite, in sequence.
pub async fn run_all(storage: &dyn ExportStorage) {
    objects_round_trip_and_delete(storage).await;
    sizes_and_limited_reads(storage).await;
    a_streaming_upload_is_invisible_until_finished(storage).await;
    an_aborted_upload_leaves_nothing(storage).await;
    objects_are_scoped_by_tenant(storage).await;
    presigned_urls_expire_within_fifteen_minutes(storage).await;
    presigned_urls_name_one_object_and_method(storage).await;
}
