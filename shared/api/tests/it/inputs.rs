//! Attacks with inputs that would take the service down (issue 12 finding 3), performed through the real
//! router with one tenant's key: a tiny workbook whose sheet spans every cell, and file-link uploads that
//! are large, unsigned or both. Each test fails on the code before the fix (the workbook aborts the whole
//! test process; the bogus-signature body is read in full before the signature is looked at).

use std::sync::Arc;

use futures::StreamExt;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use ledgerlink_clock::SystemClock;
use ledgerlink_domain::Flow;
use ledgerlink_jobs::JobsContext;
use ledgerlink_ports::{ExportStorage, LookupTable};
use serde_json::json;

use crate::helpers::{BASE_URL, TestApp};

/// A 6 kB workbook, the Data sheet with the template's headers on row 1 and one value at XFD1048576: as
/// one dense range, 1048576 × 16384 cells (calamine asks for 512 GiB and the process aborts).
pub fn workbook_spanning_the_whole_sheet() -> Vec<u8> {
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name("Data").unwrap();
    for (col, header) in ["Key", "vp_code", "rate", "compound_on"].iter().enumerate() {
        sheet
            .write_string(0, u16::try_from(col).unwrap(), *header)
            .unwrap();
    }
    sheet.write_string(1_048_575, 16_383, "boom").unwrap();
    workbook.save_to_buffer().unwrap()
}

/// The import worker of the local stack, over the app's own store, files and queue.
async fn run_imports(app: &TestApp) -> usize {
    let ctx = JobsContext::new(
        app.stores.clone(),
        app.storage.clone(),
        app.queue.clone(),
        SystemClock::shared(),
    );
    ledgerlink_jobs::worker::run_queued(&ctx, Flow::ImportJob, 10)
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn a_workbook_spanning_every_cell_fails_its_import_clearly_and_the_service_keeps_answering() {
    let app = TestApp::spawn().await;
    let key = app.acme.key.clone();
    let body = workbook_spanning_the_whole_sheet();
    assert!(body.len() < 10_000, "{} bytes", body.len());

    let upload = app
        .send(
            Request::builder()
                .method("POST")
                .uri("/api/imports?template=lookup-tax-codes&format=xlsx")
                .header(header::AUTHORIZATION, format!("Bearer {key}"))
                .header(
                    header::CONTENT_TYPE,
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                )
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
    assert_eq!(upload.status, StatusCode::CREATED, "{}", upload.text());
    let id = upload.json["id"].as_str().unwrap().to_owned();
    let ran = run_imports(&app).await;
    let failed = app.get(&format!("/api/jobs/{id}"), &key).await;
    let summary = app.get(&format!("/api/imports/{id}/summary"), &key).await;
    // "Reset task" runs the same file again: it must fail the same way, not take the service down.
    let reset = app
        .post(&format!("/api/jobs/{id}/reset"), &key, json!({}))
        .await;
    let again_id = reset.json["id"].as_str().unwrap_or_default().to_owned();
    let ran_again = run_imports(&app).await;
    let again = app.get(&format!("/api/jobs/{again_id}"), &key).await;
    let health = app.call("GET", "/healthz", None, None).await;
    let me = app.get("/api/me", &key).await;

    assert_eq!(ran, 1);
    assert_eq!(failed.json["status"], "failed", "{}", failed.text());
    let reason = failed.json["fail_reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("A1:XFD1048576") && reason.contains("at most 100000 rows and 64 columns"),
        "{reason}"
    );
    let errors = summary.json["summary"]["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{}", summary.text());
    assert!(errors[0]["row"].is_null(), "a file-level error");
    assert_eq!(reset.status, StatusCode::CREATED, "{}", reset.text());
    assert_eq!(ran_again, 1);
    assert_eq!(again.json["status"], "failed", "{}", again.text());
    assert_eq!(again.json["fail_reason"], failed.json["fail_reason"]);
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(me.status, StatusCode::OK);
    let rows = app
        .stores
        .lookups
        .list(
            &app.acme.id,
            LookupTable::TaxCodes,
            ledgerlink_ports::PageRequest::first(10),
        )
        .await
        .unwrap();
    assert!(rows.items.is_empty(), "nothing imported");
}

/// A body of `chunks` × 1 MiB whose every chunk taken is counted: how much of it the server read.
fn counted_body(chunks: usize, taken: Arc<AtomicUsize>) -> Body {
    let stream = futures::stream::iter(0..chunks).map(move |_| {
        taken.fetch_add(1, Ordering::SeqCst);
        Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'x'; 1024 * 1024]))
    });
    Body::from_stream(stream)
}

/// The path of a signed PUT link for an import file of `app`'s first tenant.
async fn put_link(app: &TestApp) -> String {
    let begun = app
        .post(
            "/api/imports/uploads",
            &app.acme.key,
            json!({"template": "lookup-tax-codes", "format": "csv"}),
        )
        .await;
    assert_eq!(begun.status, StatusCode::CREATED, "{}", begun.text());
    begun.json["upload"]["url"]
        .as_str()
        .unwrap()
        .strip_prefix(BASE_URL)
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn file_uploads_with_a_bogus_signature_are_refused_before_their_body_is_read() {
    let app = TestApp::spawn().await;
    let path = put_link(&app).await;
    let bogus = path.replacen("sig=", "sig=00", 1);
    let expired = {
        let (before, after) = path.split_once("expires=").unwrap();
        let rest = after.split_once('&').map_or("", |(_, r)| r);
        format!("{before}expires=1&{rest}")
    };
    let unsigned = path.split_once('?').unwrap().0.to_owned();

    let mut answers = Vec::new();
    let mut taken = Vec::new();
    // Eight at once, 19 MiB each, as in the measured attack.
    let mut tasks = Vec::new();
    for uri in std::iter::repeat_n(bogus.clone(), 6).chain([expired, unsigned]) {
        let count = Arc::new(AtomicUsize::new(0));
        taken.push(count.clone());
        let request = Request::builder()
            .method("PUT")
            .uri(uri)
            .body(counted_body(19, count))
            .unwrap();
        let router = app.router.clone();
        tasks.push(tokio::spawn(async move {
            use tower::ServiceExt;
            router.oneshot(request).await.unwrap().status()
        }));
    }
    for task in tasks {
        answers.push(task.await.unwrap());
    }

    for (status, count) in answers.iter().zip(&taken) {
        assert!(
            matches!(*status, StatusCode::FORBIDDEN | StatusCode::BAD_REQUEST),
            "{status}"
        );
        assert_eq!(
            count.load(Ordering::SeqCst),
            0,
            "the body of a refused upload must not be read"
        );
    }
}

#[tokio::test]
async fn a_signed_upload_larger_than_the_limit_is_cut_off_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let path = put_link(&app).await;
    let key = path
        .split_once('?')
        .unwrap()
        .0
        .strip_prefix(&format!("/files/{}/", app.acme.id))
        .unwrap()
        .to_owned();

    // Announced too large: refused on the header, nothing read.
    let announced_count = Arc::new(AtomicUsize::new(0));
    let announced = app
        .send(
            Request::builder()
                .method("PUT")
                .uri(&path)
                .header(header::CONTENT_LENGTH, (64_u64 << 20).to_string())
                .body(counted_body(64, announced_count.clone()))
                .unwrap(),
        )
        .await;
    // Streamed without a length: cut off just past the 20 MiB limit.
    let streamed_count = Arc::new(AtomicUsize::new(0));
    let streamed = app
        .send(
            Request::builder()
                .method("PUT")
                .uri(&path)
                .body(counted_body(64, streamed_count.clone()))
                .unwrap(),
        )
        .await;
    let stored = app.storage.exists(&app.acme.id, &key).await.unwrap();

    announced.assert_problem(StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(announced_count.load(Ordering::SeqCst), 0);
    streamed.assert_problem(StatusCode::PAYLOAD_TOO_LARGE);
    let read = streamed_count.load(Ordering::SeqCst);
    assert!((20..=22).contains(&read), "{read} MiB read");
    assert!(!stored, "nothing of a refused upload is stored");
}
