//! What the S3 adapter shows beyond the contract: encryption at rest, one part in memory, and presigned
//! URLs checked by reading them.
//!
//! Moto does not verify presigned signatures or expiry, so nothing here claims that S3 refuses an expired or
//! tampered URL. What is tested is the URL we generate: it names exactly the tenant's key, expires in at most
//! 900 s from the given `now`, and signs only the host header; fetching it from moto shows it addresses that
//! object.

use std::time::Duration;

use bytes::Bytes;
use chrono::{TimeZone, Utc};
use ledgerlink_domain::TenantId;
use ledgerlink_ports::{ExportStorage, StoreError};
use ledgerlink_store_aws::{PART_SIZE, S3ExportStorage};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::spawn_state;

fn tenant() -> TenantId {
    TenantId::parse(&ledgerlink_testkit::unique_name("t")).unwrap()
}

/// A minimal HTTP/1.1 exchange with moto (status and body), so the URL is used exactly as generated.
async fn http(method: &str, url: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let parsed = url::Url::parse(url).unwrap();
    let host = format!("{}:{}", parsed.host_str().unwrap(), parsed.port().unwrap());
    let target = match parsed.query() {
        Some(q) => format!("{}?{q}", parsed.path()),
        None => parsed.path().to_owned(),
    };
    let mut stream = tokio::net::TcpStream::connect(&host).await.unwrap();
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let status_line = String::from_utf8_lossy(&response[..split]).to_string();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    (status, response[split + 4..].to_vec())
}

fn query(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn a_presigned_get_url_names_exactly_the_tenants_key_and_expires_within_fifteen_minutes() {
    let aws = spawn_state().await;
    let t = tenant();
    let now = Utc
        .with_ymd_and_hms(2026, 6, 15, 10, 0, 0)
        .single()
        .unwrap();
    aws.storage
        .put(
            &t,
            "exports/7/invoices.csv",
            "text/csv",
            Bytes::from_static(b"a;b\n"),
        )
        .await
        .unwrap();

    let presigned = aws
        .storage
        .presign_get(&t, "exports/7/invoices.csv", Duration::from_secs(900), now)
        .await
        .unwrap();
    let url = url::Url::parse(&presigned.url).unwrap();
    let (status, body) = http("GET", &presigned.url, b"").await;

    assert_eq!(
        url.path(),
        format!("/{}/{t}/exports/7/invoices.csv", aws.settings.bucket_name)
    );
    assert_eq!(query(&url, "X-Amz-Expires").as_deref(), Some("900"));
    assert_eq!(
        query(&url, "X-Amz-Date").as_deref(),
        Some("20260615T100000Z")
    );
    assert_eq!(query(&url, "X-Amz-SignedHeaders").as_deref(), Some("host"));
    assert_eq!(
        query(&url, "X-Amz-Algorithm").as_deref(),
        Some("AWS4-HMAC-SHA256")
    );
    assert!(query(&url, "X-Amz-Signature").is_some_and(|s| s.len() == 64));
    assert_eq!(presigned.expires_at, now + chrono::Duration::seconds(900));
    assert_eq!(
        (status, body.as_slice()),
        (200, &b"a;b\n"[..]),
        "the URL must address the stored object"
    );
}

#[tokio::test]
async fn a_presigned_put_url_uploads_to_the_tenants_key() {
    let aws = spawn_state().await;
    let t = tenant();

    let presigned = aws
        .storage
        .presign_put(
            &t,
            "imports/9/firms.csv",
            Duration::from_secs(300),
            Utc::now(),
        )
        .await
        .unwrap();
    let url = url::Url::parse(&presigned.url).unwrap();
    let (status, _) = http("PUT", &presigned.url, b"ClientID;Name\n").await;

    assert_eq!(query(&url, "X-Amz-Expires").as_deref(), Some("300"));
    assert_eq!(
        url.path(),
        format!("/{}/{t}/imports/9/firms.csv", aws.settings.bucket_name)
    );
    assert_eq!(status, 200);
    assert_eq!(
        aws.storage.get(&t, "imports/9/firms.csv").await.unwrap(),
        Bytes::from_static(b"ClientID;Name\n")
    );
}

#[tokio::test]
async fn a_url_for_longer_than_fifteen_minutes_or_for_a_key_outside_the_tenant_is_refused() {
    let aws = spawn_state().await;
    let t = tenant();

    let too_long = aws
        .storage
        .presign_get(&t, "x.csv", Duration::from_secs(901), Utc::now())
        .await;
    let escaping = aws
        .storage
        .presign_get(
            &t,
            "../other-tenant/x.csv",
            Duration::from_secs(60),
            Utc::now(),
        )
        .await;

    assert!(
        matches!(too_long, Err(StoreError::Invalid(_))),
        "{too_long:?}"
    );
    assert!(
        matches!(escaping, Err(StoreError::Invalid(_))),
        "{escaping:?}"
    );
}

#[tokio::test]
async fn small_and_streamed_objects_are_encrypted_with_aes256() {
    let aws = spawn_state().await;
    let t = tenant();
    aws.storage
        .put(&t, "small.csv", "text/csv", Bytes::from_static(b"x"))
        .await
        .unwrap();
    let mut sink = aws
        .storage
        .begin_upload(&t, "big.csv", "text/csv")
        .await
        .unwrap();
    sink.write(Bytes::from(vec![b'x'; PART_SIZE + 10]))
        .await
        .unwrap();
    sink.finish().await.unwrap();

    for key in ["small.csv", "big.csv"] {
        let head = aws
            .clients
            .s3
            .head_object()
            .bucket(&aws.settings.bucket_name)
            .key(format!("{t}/{key}"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            head.server_side_encryption
                .map(|s| s.as_str().to_owned())
                .as_deref(),
            Some("AES256"),
            "{key}"
        );
    }
}

#[tokio::test]
async fn a_configured_kms_key_encrypts_with_aws_kms() {
    let aws = spawn_state().await;
    let t = tenant();
    let kms = S3ExportStorage::new(
        aws.clients.s3.clone(),
        aws.settings.bucket_name.clone(),
        Some("alias/ledgerlink".into()),
    );

    kms.put(&t, "k.csv", "text/csv", Bytes::from_static(b"x"))
        .await
        .unwrap();
    let head = aws
        .clients
        .s3
        .head_object()
        .bucket(&aws.settings.bucket_name)
        .key(format!("{t}/k.csv"))
        .send()
        .await
        .unwrap();

    assert_eq!(
        head.server_side_encryption
            .map(|s| s.as_str().to_owned())
            .as_deref(),
        Some("aws:kms")
    );
}

#[tokio::test]
async fn a_seventeen_mebibyte_stream_goes_out_in_parts_in_order_and_a_small_file_in_one_put() {
    let aws = spawn_state().await;
    let t = tenant();
    let mut sink = aws
        .storage
        .begin_upload(&t, "stream.csv", "text/csv")
        .await
        .unwrap();
    // Each mebibyte its own letter, so parts stored out of order would show.
    let mut expected = Vec::with_capacity(17 * 1024 * 1024);
    for i in 0..17u8 {
        let chunk = vec![b'a' + i; 1024 * 1024];
        expected.extend_from_slice(&chunk);
        sink.write(Bytes::from(chunk)).await.unwrap();
    }
    let stored = sink.finish().await.unwrap();
    let streamed = aws.counter.snapshot();
    aws.counter.reset();
    let mut small = aws
        .storage
        .begin_upload(&t, "small.csv", "text/csv")
        .await
        .unwrap();
    small.write(Bytes::from_static(b"tiny")).await.unwrap();
    small.finish().await.unwrap();

    assert_eq!(stored.size, 17 * 1024 * 1024);
    assert_eq!(
        streamed,
        [
            ("CompleteMultipartUpload".to_owned(), 1),
            ("CreateMultipartUpload".to_owned(), 1),
            (
                "UploadPart".to_owned(),
                (17 * 1024 * 1024_u64).div_ceil(PART_SIZE as u64)
            ),
        ]
        .into()
    );
    assert_eq!(aws.counter.snapshot(), [("PutObject".to_owned(), 1)].into());
    assert!(
        aws.storage.get(&t, "stream.csv").await.unwrap() == expected,
        "the stored object must be the bytes written, in order"
    );
}

#[tokio::test]
async fn an_aborted_stream_aborts_its_multipart_upload() {
    let aws = spawn_state().await;
    let t = tenant();
    let mut sink = aws
        .storage
        .begin_upload(&t, "aborted.csv", "text/csv")
        .await
        .unwrap();
    sink.write(Bytes::from(vec![b'z'; PART_SIZE]))
        .await
        .unwrap();

    sink.abort().await.unwrap();

    assert_eq!(aws.counter.snapshot().get("AbortMultipartUpload"), Some(&1));
    assert!(!aws.storage.exists(&t, "aborted.csv").await.unwrap());
}
