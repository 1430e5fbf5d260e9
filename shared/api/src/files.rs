//! The local stack's signed file links (`GET /files/{tenant}/{key}?method=GET&expires=…&sig=…`), as
//! [`ledgerlink_store_embedded::FolderStorage`] mints them in place of S3 presigned URLs. The signature binds
//! method, tenant, key and expiry, so a link opens exactly one object of one tenant until it expires.
//! `PUT` with a PUT link stores the body (the local stand-in for a presigned S3 upload of an import file).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use ledgerlink_domain::TenantId;
use ledgerlink_ports::ExportStorage;
use serde::Deserialize;

use crate::ApiState;
use crate::error::{ApiError, ApiPath, ApiQuery, ApiResult};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signed {
    method: String,
    expires: i64,
    sig: String,
}

/// The local stand-in for a presigned S3 PUT: stores the body as the object the link names.
///
/// The link is checked BEFORE any of the body is read, and the body is then streamed to the file with a
/// running count: a bad link costs nothing but its headers, a `Content-Length` above the limit is refused
/// before reading, and a body that grows past the limit (chunked, or lying about its length) is cut off
/// with a 413 and nothing is stored. Memory per upload stays at one chunk whatever is sent.
pub async fn upload(
    State(state): State<Arc<ApiState>>,
    ApiPath((tenant, key)): ApiPath<(String, String)>,
    ApiQuery(signed): ApiQuery<Signed>,
    request: axum::extract::Request,
) -> ApiResult<axum::http::StatusCode> {
    use http_body_util::BodyExt;
    use ledgerlink_ports::ExportStorage;

    let refused = || ApiError::BadLink("The link is invalid or expired.");
    let files = state
        .local_files
        .as_ref()
        .ok_or_else(|| ApiError::not_found("No such route."))?;
    let tenant = TenantId::parse(&tenant).map_err(|_| refused())?;
    if signed.method != "PUT" {
        return Err(refused());
    }
    files
        .verify(
            "PUT",
            &tenant,
            &key,
            signed.expires,
            &signed.sig,
            state.now(),
        )
        .map_err(|_| refused())?;
    let limit = state.limits.import_body as u64;
    let too_large =
        || ApiError::TooLarge(format!("An uploaded file may have at most {limit} bytes."));
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut body = request.into_body();
    let mut sink = files
        .begin_upload(&tenant, &key, "application/octet-stream")
        .await
        .map_err(|e| ApiError::from_store(e, "the file"))?;
    let mut received: u64 = 0;
    let outcome = loop {
        match body.frame().await {
            None => break Ok(()),
            Some(Err(_)) => {
                break Err(ApiError::invalid("body", "the upload was interrupted"));
            }
            Some(Ok(frame)) => {
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                received = received.saturating_add(data.len() as u64);
                if received > limit {
                    break Err(too_large());
                }
                if let Err(e) = sink.write(data).await {
                    break Err(ApiError::from_store(e, "the file"));
                }
            }
        }
    };
    match outcome {
        Ok(()) => {
            sink.finish()
                .await
                .map_err(|e| ApiError::from_store(e, "the file"))?;
            Ok(axum::http::StatusCode::OK)
        }
        Err(e) => {
            if let Err(abort) = sink.abort().await {
                tracing::warn!(error = %abort, "a refused upload could not be cleaned up");
            }
            Err(e)
        }
    }
}

pub async fn download(
    State(state): State<Arc<ApiState>>,
    ApiPath((tenant, key)): ApiPath<(String, String)>,
    ApiQuery(signed): ApiQuery<Signed>,
) -> ApiResult<Response> {
    let refused = || ApiError::BadLink("The link is invalid or expired.");
    let files = state
        .local_files
        .as_ref()
        .ok_or_else(|| ApiError::not_found("No such route."))?;
    let tenant = TenantId::parse(&tenant).map_err(|_| refused())?;
    if signed.method != "GET" {
        return Err(refused());
    }
    files
        .verify(
            "GET",
            &tenant,
            &key,
            signed.expires,
            &signed.sig,
            state.now(),
        )
        .map_err(|_| refused())?;
    let body = files
        .get(&tenant, &key)
        .await
        .map_err(|e| ApiError::from_store(e, "the file"))?;
    let name = key
        .rsplit('/')
        .next()
        .unwrap_or("download")
        .replace('"', "");
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}
