//! `/__emulator/...`: the JSON admin surface, so another process (the local stack, a Python client check)
//! can register apps, divisions and users, seed, change and inspect entities, register payments, read
//! counters and set fault rules. Not part of Exact's API; no authentication (the emulator binds to loopback).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{AppRegistration, ExactEmulator, ExactEmulatorError, PaymentSpec, Shared, UserSpec};
use crate::faults::FaultRule;

fn emulator(sh: &Arc<Shared>) -> ExactEmulator {
    ExactEmulator { shared: sh.clone() }
}

fn fail(e: ExactEmulatorError) -> Response {
    let status = match e {
        ExactEmulatorError::NotFound(_)
        | ExactEmulatorError::UnknownEntity(_)
        | ExactEmulatorError::UnknownDivision(_) => StatusCode::NOT_FOUND,
        _ => StatusCode::BAD_REQUEST,
    };
    (status, axum::Json(json!({"error": e.to_string()}))).into_response()
}

fn ok(v: Value) -> Response {
    axum::Json(v).into_response()
}

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/apps", post(create_app))
        .route("/divisions", post(create_division))
        .route("/users", post(create_user))
        .route("/tokens", post(tokens))
        .route("/seed/{division}/{*path}", post(seed))
        .route("/entities/{division}/{*path}", get(entities))
        .route("/update", post(update))
        .route("/delete", post(delete))
        .route("/payments", post(payment))
        .route("/divisions/{division}/move", post(move_division))
        .route("/counters", get(counters))
        .route("/counters/reset", post(reset_counters))
        .route("/faults", get(faults).put(set_faults))
        .route("/webhooks/deliveries", get(deliveries))
        .route("/webhooks/duplicate", post(duplicate))
}

async fn create_app(
    State(sh): State<Arc<Shared>>,
    axum::Json(app): axum::Json<AppRegistration>,
) -> Response {
    emulator(&sh).create_app(app);
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct DivisionBody {
    code: i32,
    #[serde(default)]
    description: String,
}

async fn create_division(
    State(sh): State<Arc<Shared>>,
    axum::Json(d): axum::Json<DivisionBody>,
) -> Response {
    emulator(&sh).create_division(d.code, &d.description);
    StatusCode::NO_CONTENT.into_response()
}

async fn create_user(
    State(sh): State<Arc<Shared>>,
    axum::Json(u): axum::Json<UserSpec>,
) -> Response {
    let id = emulator(&sh).create_user(u);
    ok(json!({"id": id}))
}

#[derive(Deserialize)]
struct TokenBody {
    client_id: String,
    #[serde(default)]
    user: Option<Uuid>,
}

async fn tokens(State(sh): State<Arc<Shared>>, axum::Json(t): axum::Json<TokenBody>) -> Response {
    match emulator(&sh).issue_tokens(&t.client_id, t.user) {
        Ok(pair) => ok(json!(pair)),
        Err(e) => fail(e),
    }
}

async fn seed(
    State(sh): State<Arc<Shared>>,
    Path((division, path)): Path<(i32, String)>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    match emulator(&sh).seed(division, &path, body) {
        Ok(key) => (StatusCode::CREATED, axum::Json(json!({"key": key}))).into_response(),
        Err(e) => fail(e),
    }
}

async fn entities(
    State(sh): State<Arc<Shared>>,
    Path((division, path)): Path<(i32, String)>,
) -> Response {
    match emulator(&sh).entities(division, &path) {
        Ok(rows) => ok(json!(rows)),
        Err(e) => fail(e),
    }
}

#[derive(Deserialize)]
struct UpdateBody {
    division: i32,
    path: String,
    key: String,
    fields: Value,
}

/// Changes an entity as a user of Exact Online would (a PUT's rules: merge, read-only fields ignored;
/// `Modified` and the sync `Timestamp` move, webhooks fire).
async fn update(State(sh): State<Arc<Shared>>, axum::Json(u): axum::Json<UpdateBody>) -> Response {
    match emulator(&sh).update(u.division, &u.path, &u.key, u.fields) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => fail(e),
    }
}

#[derive(Deserialize)]
struct DeleteBody {
    division: i32,
    path: String,
    key: String,
}

async fn delete(State(sh): State<Arc<Shared>>, axum::Json(d): axum::Json<DeleteBody>) -> Response {
    match emulator(&sh).delete(d.division, &d.path, &d.key) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => fail(e),
    }
}

async fn payment(
    State(sh): State<Arc<Shared>>,
    axum::Json(p): axum::Json<PaymentSpec>,
) -> Response {
    match emulator(&sh).register_payment(p) {
        Ok(r) => ok(json!(r)),
        Err(e) => fail(e),
    }
}

async fn move_division(
    State(sh): State<Arc<Shared>>,
    axum::extract::Path(division): axum::extract::Path<i32>,
) -> Response {
    match emulator(&sh).move_division(division) {
        Ok(ts) => ok(json!({"division": division, "highest_timestamp": ts})),
        Err(e) => fail(e),
    }
}

async fn counters(State(sh): State<Arc<Shared>>) -> Response {
    ok(json!(emulator(&sh).stats()))
}

async fn reset_counters(State(sh): State<Arc<Shared>>) -> Response {
    sh.layer.counters.reset();
    StatusCode::NO_CONTENT.into_response()
}

async fn faults(State(sh): State<Arc<Shared>>) -> Response {
    ok(json!({"rules": sh.layer.faults.rules(), "injected": sh.layer.faults.injected()}))
}

async fn set_faults(
    State(sh): State<Arc<Shared>>,
    axum::Json(rules): axum::Json<Vec<FaultRule>>,
) -> Response {
    sh.layer.faults.set_rules(rules);
    StatusCode::NO_CONTENT.into_response()
}

async fn deliveries(State(sh): State<Arc<Shared>>) -> Response {
    ok(json!(sh.dispatcher.log()))
}

#[derive(Deserialize)]
struct DuplicateBody {
    on: bool,
}

async fn duplicate(
    State(sh): State<Arc<Shared>>,
    axum::Json(d): axum::Json<DuplicateBody>,
) -> Response {
    sh.dispatcher.set_duplicate(d.on);
    StatusCode::NO_CONTENT.into_response()
}
