//! `/__emulator/...`: the admin surface of the standalone emulator (JSON in, JSON out, no auth), so another
//! process (the local stack, a flow test) can seed data, post transactions, inspect what the integration
//! wrote and set fault rules. Not part of VP's API; these requests are not counted or faulted.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::App;
use super::demo::DemoOptions;
use super::error::VpError;
use super::model::*;
use crate::faults::FaultRule;

type Reply = Result<Response, VpError>;

fn emulator(app: &App) -> super::VantagepointEmulator {
    super::VantagepointEmulator {
        shared: app.clone(),
    }
}

fn ok(value: impl serde::Serialize) -> Reply {
    Ok((StatusCode::OK, Json(json!(value))).into_response())
}

pub(crate) fn routes(app: &App) -> Router {
    Router::new()
        .route("/__emulator", get(index))
        .route("/__emulator/counters", get(counters).delete(reset_counters))
        .route(
            "/__emulator/faults",
            get(faults).put(set_faults).delete(clear_faults),
        )
        .route("/__emulator/cash-receipts", get(cash_receipts))
        .route("/__emulator/payments", get(payments))
        .route("/__emulator/webhook-deliveries", get(deliveries))
        .route("/__emulator/demo", post(demo))
        .route("/__emulator/users", post(users))
        .route("/__emulator/firms", post(firms))
        .route("/__emulator/firms/{id}", axum::routing::patch(update_firm))
        .route("/__emulator/employees", post(employees))
        .route("/__emulator/projects", post(projects))
        .route("/__emulator/accounts", post(accounts))
        .route("/__emulator/tax-codes", post(tax_codes))
        .route("/__emulator/banks", post(banks))
        .route("/__emulator/periods", post(periods))
        .route("/__emulator/periods/{period}/close", post(close_period))
        .route("/__emulator/post/invoice", post(post_invoice))
        .route("/__emulator/post/voucher", post(post_voucher))
        .route("/__emulator/post/expense-report", post(post_expense_report))
        .route("/__emulator/post/journal-entry", post(post_journal_entry))
        .route("/__emulator/vouchers/{vendor}/{voucher}", get(voucher))
        .route(
            "/__emulator/expense-reports/{employee}/{voucher}",
            get(expense_report),
        )
        .with_state(app.clone())
}

/// What the admin surface offers (fault `path_prefix`es include the instance, e.g. `/vantagepoint/api/...`).
async fn index(State(app): State<App>) -> Reply {
    let instance = app.config.instance();
    ok(json!({
        "api": format!("{instance}/api"),
        "vision": format!("{instance}/vision"),
        "endpoints": [
            "GET /__emulator/counters", "DELETE /__emulator/counters",
            "GET|PUT|DELETE /__emulator/faults (PUT a list of FaultRule)",
            "GET /__emulator/cash-receipts", "GET /__emulator/payments", "GET /__emulator/webhook-deliveries",
            "POST /__emulator/demo (DemoOptions)", "POST /__emulator/users|firms|employees|projects|accounts|tax-codes|banks|periods",
            "PATCH /__emulator/firms/{ClientID}", "POST /__emulator/periods/{period}/close",
            "POST /__emulator/post/invoice|voucher|expense-report|journal-entry",
            "GET /__emulator/vouchers/{vendor}/{voucher}", "GET /__emulator/expense-reports/{employee}/{voucher}",
        ],
    }))
}

async fn counters(State(app): State<App>) -> Reply {
    let e = emulator(&app);
    ok(json!({
        "requests": e.counters().snapshot(),
        "tokens": e.token_stats(),
        "faults_injected": e.faults().injected(),
        "webhook_deliveries": e.webhook_deliveries().len(),
        "cash_receipts": e.cash_receipts().len(),
        "payments": e.payments().len(),
    }))
}

async fn reset_counters(State(app): State<App>) -> Reply {
    emulator(&app).counters().reset();
    ok(json!({}))
}

async fn faults(State(app): State<App>) -> Reply {
    ok(emulator(&app).faults().rules())
}

async fn set_faults(State(app): State<App>, Json(rules): Json<Vec<FaultRule>>) -> Reply {
    emulator(&app).faults().set_rules(rules);
    ok(json!({}))
}

async fn clear_faults(State(app): State<App>) -> Reply {
    emulator(&app).faults().clear();
    ok(json!({}))
}

async fn cash_receipts(State(app): State<App>) -> Reply {
    ok(emulator(&app).cash_receipts())
}

async fn payments(State(app): State<App>) -> Reply {
    ok(emulator(&app).payments())
}

async fn deliveries(State(app): State<App>) -> Reply {
    ok(emulator(&app).webhook_deliveries())
}

async fn demo(State(app): State<App>, Json(options): Json<DemoOptions>) -> Reply {
    ok(emulator(&app).load_demo(&options)?)
}

/// One record or a list of them.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany<T> {
    Many(Vec<T>),
    One(T),
}

impl<T> OneOrMany<T> {
    fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::Many(v) => v,
            OneOrMany::One(t) => vec![t],
        }
    }
}

async fn users(State(app): State<App>, Json(seeds): Json<OneOrMany<UserSeed>>) -> Reply {
    let e = emulator(&app);
    let seeds = seeds.into_vec();
    let count = seeds.len();
    seeds.into_iter().for_each(|s| e.add_user(s));
    ok(json!({"added": count}))
}

async fn firms(State(app): State<App>, Json(seeds): Json<OneOrMany<FirmSeed>>) -> Reply {
    let e = emulator(&app);
    let ids = seeds
        .into_vec()
        .into_iter()
        .map(|s| e.add_firm(s))
        .collect::<Result<Vec<_>, _>>()?;
    ok(json!({"client_ids": ids}))
}

async fn update_firm(
    State(app): State<App>,
    Path(id): Path<String>,
    Json(patch): Json<Row>,
) -> Reply {
    ok(emulator(&app).update_firm(&id, patch)?)
}

async fn employees(State(app): State<App>, Json(seeds): Json<OneOrMany<EmployeeSeed>>) -> Reply {
    let e = emulator(&app);
    for s in seeds.into_vec() {
        e.add_employee(s)?;
    }
    ok(json!({}))
}

async fn projects(State(app): State<App>, Json(seeds): Json<OneOrMany<ProjectSeed>>) -> Reply {
    let e = emulator(&app);
    for s in seeds.into_vec() {
        e.add_project(s)?;
    }
    ok(json!({}))
}

async fn accounts(State(app): State<App>, Json(seeds): Json<OneOrMany<AccountSeed>>) -> Reply {
    let e = emulator(&app);
    for s in seeds.into_vec() {
        e.add_account(s)?;
    }
    ok(json!({}))
}

async fn tax_codes(State(app): State<App>, Json(seeds): Json<OneOrMany<TaxCodeSeed>>) -> Reply {
    let e = emulator(&app);
    for s in seeds.into_vec() {
        e.add_tax_code(s)?;
    }
    ok(json!({}))
}

async fn banks(State(app): State<App>, Json(seeds): Json<OneOrMany<BankSeed>>) -> Reply {
    let e = emulator(&app);
    seeds.into_vec().into_iter().for_each(|s| e.add_bank(s));
    ok(json!({}))
}

async fn periods(State(app): State<App>, Json(seeds): Json<OneOrMany<PeriodSeed>>) -> Reply {
    let e = emulator(&app);
    seeds.into_vec().into_iter().for_each(|s| e.add_period(s));
    ok(json!({}))
}

async fn close_period(State(app): State<App>, Path(period): Path<i32>) -> Reply {
    emulator(&app).close_period(period)?;
    ok(json!({}))
}

async fn post_invoice(State(app): State<App>, Json(seed): Json<InvoiceSeed>) -> Reply {
    ok(emulator(&app).post_invoice(&seed)?)
}

async fn post_voucher(State(app): State<App>, Json(seed): Json<VoucherSeed>) -> Reply {
    ok(emulator(&app).post_voucher(&seed)?)
}

async fn post_expense_report(State(app): State<App>, Json(seed): Json<ExpenseReportSeed>) -> Reply {
    ok(emulator(&app).post_expense_report(&seed)?)
}

async fn post_journal_entry(State(app): State<App>, Json(seed): Json<JournalEntrySeed>) -> Reply {
    ok(emulator(&app).post_journal_entry(&seed)?)
}

async fn voucher(State(app): State<App>, Path((vendor, voucher)): Path<(String, String)>) -> Reply {
    let outstanding = emulator(&app)
        .voucher_outstanding(&vendor, &voucher)
        .ok_or_else(VpError::records_not_found)?;
    ok(json!({"vendor": vendor, "voucher": voucher, "outstanding": outstanding}))
}

async fn expense_report(
    State(app): State<App>,
    Path((employee, voucher)): Path<(String, String)>,
) -> Reply {
    ok(emulator(&app)
        .expense_report(&employee, &voucher)
        .ok_or_else(VpError::records_not_found)?)
}
