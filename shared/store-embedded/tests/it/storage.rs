//! The storage contract on the local folder, plus the signed local URLs and key checks.

use std::time::Duration;

use bytes::Bytes;
use ledgerlink_ports::contract::{at, fresh_tenant, storage as suite};
use ledgerlink_ports::{ExportStorage, StoreError};
use ledgerlink_store_embedded::FolderStorage;
use url::Url;

use crate::helpers::spawn_storage;

#[tokio::test]
async fn objects_round_trip_and_delete() {
    let (storage, _dir) = spawn_storage();
    suite::objects_round_trip_and_delete(&storage).await;
}

#[tokio::test]
async fn sizes_and_limited_reads() {
    let (storage, _dir) = spawn_storage();
    suite::sizes_and_limited_reads(&storage).await;
}

#[tokio::test]
async fn a_streaming_upload_is_invisible_until_finished() {
    let (storage, _dir) = spawn_storage();
    suite::a_streaming_upload_is_invisible_until_finished(&storage).await;
}

#[tokio::test]
async fn an_aborted_upload_leaves_nothing() {
    let (storage, dir) = spawn_storage();
    suite::an_aborted_upload_leaves_nothing(&storage).await;
    let leftovers = std::fs::read_dir(dir.path().join("files/.uploads"))
        .unwrap()
        .count();
    assert_eq!(leftovers, 0, "abort must remove the partial file");
}

#[tokio::test]
async fn objects_are_scoped_by_tenant() {
    let (storage, _dir) = spawn_storage();
    suite::objects_are_scoped_by_tenant(&storage).await;
}

#[tokio::test]
async fn presigned_urls_expire_within_fifteen_minutes() {
    let (storage, _dir) = spawn_storage();
    suite::presigned_urls_expire_within_fifteen_minutes(&storage).await;
}

#[tokio::test]
async fn presigned_urls_name_one_object_and_method() {
    let (storage, _dir) = spawn_storage();
    suite::presigned_urls_name_one_object_and_method(&storage).await;
}

/// What the local HTTP API reads from a presigned URL: method, tenant, key, expires, sig.
fn parts(url: &str) -> (String, String, String, i64, String) {
    let url = Url::parse(url).unwrap();
    let segments: Vec<String> = url.path_segments().unwrap().map(percent_decode).collect();
    assert_eq!(segments[0], "files");
    let query: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    (
        query["method"].clone(),
        segments[1].clone(),
        segments[2..].join("/"),
        query["expires"].parse().unwrap(),
        query["sig"].clone(),
    )
}

fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.push(u8::from_str_radix(&segment[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn tenant(id: &str) -> ledgerlink_domain::TenantId {
    ledgerlink_domain::TenantId::parse(id).unwrap()
}

#[tokio::test]
async fn a_presigned_get_url_verifies_until_it_expires() {
    let (storage, _dir) = spawn_storage();
    let t = fresh_tenant();
    let url = storage
        .presign_get(
            &t,
            "exports/42/invoices 2026.csv",
            Duration::from_secs(300),
            at(0),
        )
        .await
        .unwrap();
    let (method, url_tenant, key, expires, sig) = parts(&url.url);

    let fresh = storage.verify(&method, &tenant(&url_tenant), &key, expires, &sig, at(299));
    let last_second = storage.verify(&method, &tenant(&url_tenant), &key, expires, &sig, at(300));
    let expired = storage.verify(&method, &tenant(&url_tenant), &key, expires, &sig, at(301));

    assert_eq!(
        (method.as_str(), url_tenant.as_str(), key.as_str()),
        ("GET", t.as_str(), "exports/42/invoices 2026.csv")
    );
    assert!(fresh.is_ok(), "a live URL must verify: {fresh:?}");
    assert!(
        last_second.is_ok(),
        "a URL is valid through its expiry second: {last_second:?}"
    );
    assert!(
        matches!(expired, Err(StoreError::Invalid(_))),
        "an expired URL must be refused: {expired:?}"
    );
}

#[tokio::test]
async fn a_url_for_one_object_does_not_open_another() {
    let (storage, _dir) = spawn_storage();
    let t = fresh_tenant();
    let other = fresh_tenant();
    let url = storage
        .presign_get(&t, "exports/1/a.csv", Duration::from_secs(300), at(0))
        .await
        .unwrap();
    let (method, _, key, expires, sig) = parts(&url.url);

    let other_key = storage.verify(&method, &t, "exports/1/b.csv", expires, &sig, at(1));
    let other_tenant = storage.verify(&method, &other, &key, expires, &sig, at(1));
    let other_method = storage.verify("PUT", &t, &key, expires, &sig, at(1));
    let longer = storage.verify(&method, &t, &key, expires + 3600, &sig, at(1));
    let mut flipped = sig.clone().into_bytes();
    flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
    let tampered = storage.verify(
        &method,
        &t,
        &key,
        expires,
        &String::from_utf8(flipped).unwrap(),
        at(1),
    );
    let not_hex = storage.verify(&method, &t, &key, expires, "zz", at(1));

    for (what, result) in [
        ("another key", other_key),
        ("another tenant", other_tenant),
        ("another method", other_method),
        ("a stretched expiry", longer),
        ("a tampered signature", tampered),
        ("a signature that is not hex", not_hex),
    ] {
        assert!(
            matches!(result, Err(StoreError::Invalid(_))),
            "{what} must be refused, got {result:?}"
        );
    }
}

#[tokio::test]
async fn a_url_signed_with_another_key_is_refused() {
    let (storage, dir) = spawn_storage();
    let impostor = FolderStorage::new(
        dir.path().join("other"),
        "http://127.0.0.1:8080",
        &[7u8; 32],
    )
    .unwrap();
    let t = fresh_tenant();
    let url = impostor
        .presign_put(&t, "imports/x.csv", Duration::from_secs(60), at(0))
        .await
        .unwrap();
    let (method, _, key, expires, sig) = parts(&url.url);

    let result = storage.verify(&method, &t, &key, expires, &sig, at(1));

    assert!(
        matches!(result, Err(StoreError::Invalid(_))),
        "got {result:?}"
    );
}

#[tokio::test]
async fn keys_with_parent_segments_or_absolute_paths_are_refused() {
    let (storage, _dir) = spawn_storage();
    let t = fresh_tenant();

    for key in ["../other-tenant/x.csv", "a/../../x", "/etc/passwd", "a//b"] {
        let put = storage
            .put(&t, key, "text/csv", Bytes::from_static(b"x"))
            .await;
        let get = storage.get(&t, key).await;
        let presign = storage
            .presign_get(&t, key, Duration::from_secs(60), at(0))
            .await;
        assert!(
            matches!(put, Err(StoreError::Invalid(_))),
            "put of {key:?} must be refused, got {put:?}"
        );
        assert!(
            matches!(get, Err(StoreError::Invalid(_))),
            "get of {key:?} must be refused, got {get:?}"
        );
        assert!(
            matches!(presign, Err(StoreError::Invalid(_))),
            "presign of {key:?} must be refused"
        );
    }
}

#[tokio::test]
async fn an_upload_dropped_without_finishing_leaves_nothing() {
    let (storage, dir) = spawn_storage();
    let t = fresh_tenant();
    let mut sink = storage
        .begin_upload(&t, "exports/dropped.csv", "text/csv")
        .await
        .unwrap();
    sink.write(Bytes::from_static(b"partial")).await.unwrap();

    drop(sink);

    assert!(!storage.exists(&t, "exports/dropped.csv").await.unwrap());
    assert_eq!(
        std::fs::read_dir(dir.path().join("files/.uploads"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn the_signing_key_never_shows_in_debug_output() {
    let (storage, _dir) = spawn_storage();

    let shown = format!("{storage:?}");

    assert!(!shown.contains("test-signing-key"), "{shown}");
}
