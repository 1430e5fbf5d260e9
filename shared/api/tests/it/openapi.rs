//! The OpenAPI document matches the router, and the page is served self-contained.

use std::collections::BTreeSet;

use axum::http::{StatusCode, header};
use ledgerlink_api::page::OPENAPI;
use ledgerlink_api::{LOCAL_ROUTES, ROUTES};

use crate::auth::concrete;
use crate::helpers::TestApp;

/// (METHOD, path) of every operation under `paths:` (two-space indented paths, four-space methods).
fn documented() -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    let mut in_paths = false;
    let mut current: Option<String> = None;
    for line in OPENAPI.lines() {
        if !line.starts_with(' ') && !line.is_empty() {
            in_paths = line == "paths:";
            continue;
        }
        if !in_paths {
            continue;
        }
        if let Some(path) = line.strip_prefix("  /").and_then(|l| l.strip_suffix(':')) {
            current = Some(format!("/{path}"));
        } else if let (Some(path), Some(method)) = (
            &current,
            line.strip_prefix("    ").and_then(|l| l.strip_suffix(':')),
        ) && ["get", "post", "put", "delete", "patch"].contains(&method)
        {
            out.insert((method.to_uppercase(), path.clone()));
        }
    }
    out
}

#[test]
fn every_route_is_documented_and_every_documented_operation_is_a_route() {
    let routes: BTreeSet<(String, String)> = ROUTES
        .iter()
        .chain(LOCAL_ROUTES)
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    let documented = documented();

    let undocumented: Vec<_> = routes.difference(&documented).collect();
    let phantom: Vec<_> = documented.difference(&routes).collect();

    assert!(
        undocumented.is_empty(),
        "routes missing from openapi.yaml: {undocumented:?}"
    );
    assert!(
        phantom.is_empty(),
        "openapi.yaml documents routes that do not exist: {phantom:?}"
    );
}

#[tokio::test]
async fn every_listed_route_exists_in_the_router() {
    let app = TestApp::spawn().await;
    for (method, path) in ROUTES.iter().chain(LOCAL_ROUTES) {
        let answer = app.call(method, &concrete(path), None, None).await;
        let route_missing = answer.status == StatusCode::METHOD_NOT_ALLOWED
            || answer.json["detail"] == "No such route.";
        assert!(
            !route_missing,
            "{method} {path} is not routed: {} {}",
            answer.status,
            answer.text()
        );
    }
}

#[tokio::test]
async fn the_document_and_the_page_are_served_without_a_key() {
    let app = TestApp::spawn().await;

    let doc = app.call("GET", "/openapi.yaml", None, None).await;
    let page = app.call("GET", "/", None, None).await;
    let script = app.call("GET", "/app.js", None, None).await;

    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.text().starts_with("openapi: 3"));
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.content_type().starts_with("text/html"));
    let csp = page
        .headers
        .get(header::CONTENT_SECURITY_POLICY)
        .unwrap()
        .to_str()
        .unwrap();
    assert!(csp.contains("script-src 'self'"));
    assert!(
        !page.text().contains("://"),
        "the page loads nothing from elsewhere"
    );
    assert!(
        !script.text().contains("https://"),
        "the script loads nothing from elsewhere"
    );
}
