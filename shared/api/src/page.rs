//! The operator page (static HTML + vanilla JS + CSS, compiled into the binary: no framework, no CDN), the
//! OpenAPI document, the liveness probe and the fallbacks (404 / 405 as problems).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

const INDEX: &str = include_str!("page/index.html");
const SCRIPT: &str = include_str!("page/app.js");
const STYLE: &str = include_str!("page/app.css");
/// The checked-in OpenAPI 3 document describing every route.
pub const OPENAPI: &str = include_str!("../openapi.yaml");

/// The page's Content-Security-Policy: only its own script and style, no inline script, no third party.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}

pub async fn index() -> Response {
    let mut response = asset(INDEX, "text/html; charset=utf-8");
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

pub async fn script() -> Response {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

pub async fn style() -> Response {
    asset(STYLE, "text/css; charset=utf-8")
}

pub async fn openapi() -> Response {
    asset(OPENAPI, "application/yaml")
}

pub async fn healthz() -> Response {
    (StatusCode::OK, "ok").into_response()
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("No such route.")
}

pub async fn method_not_allowed(method: axum::http::Method) -> ApiError {
    ApiError::MethodNotAllowed(format!("This route does not accept {method}."))
}
