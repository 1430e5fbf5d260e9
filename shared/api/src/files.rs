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
use crate::error::{ApiError, ApiPath, ApiQuery, ApiResult, RawBody};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signed {
    method: String,
    expires: i64,
    sig: String,
}

/// The local stand-in for a presigned S3 PUT: stores the body as the object the link names.
pub async fn upload(
    State(state): State<Arc<ApiState>>,
    ApiPath((tenant, key)): ApiPath<(String, String)>,
    ApiQuery(signed): ApiQuery<Signed>,
    RawBody(body): RawBody,
) -> ApiResult<axum::http::StatusCode> {
    let refused = || ApiError::BadSignature("The link is invalid or expired.");
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
    files
        .put(&tenant, &key, "application/octet-stream", body)
        .await
        .map_err(|e| ApiError::from_store(e, "the file"))?;
    Ok(axum::http::StatusCode::OK)
}

pub async fn download(
    State(state): State<Arc<ApiState>>,
    ApiPath((tenant, key)): ApiPath<(String, String)>,
    ApiQuery(signed): ApiQuery<Signed>,
) -> ApiResult<Response> {
    let refused = || ApiError::BadSignature("The link is invalid or expired.");
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
