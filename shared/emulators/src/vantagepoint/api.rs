//! The REST surface: hubs, settings, accounting configuration, DataEntry (every type, and posting), the
//! posted ledger, payments and workflow registration, mounted under both `{instance}/api` and
//! `{instance}/vision` (the few `/vision`-only endpoints answer 404 under `/api`, as on real tenants).

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post, put};
use axum::{Extension, middleware};
use bytes::Bytes;
use serde_json::Value;

use super::auth::{self, AuthUser, CultureMismatch};
use super::db::{EventKind, Hub, RecordEvent, rows_of};
use super::error::VpError;
use super::model::*;
use super::query::{LimitPolicy, ListQuery};
use super::{App, workflow};

type Reply = Result<Response, VpError>;

/// Transaction types `PSALedger/{TT}` knows.
/// `RG` holds revenue-generation postings (the reference lists revenue generation among the postings sent
/// as journals without naming its type code; this emulator files them under `RG`).
const LEDGER_TYPES: [&str; 17] = [
    "AP", "CR", "CV", "CD", "EX", "EP", "IN", "JE", "MI", "PP", "TS", "UN", "PR", "LA", "ER", "UP",
    "RG",
];

pub(crate) fn routes(app: &App) -> (Router, HashMap<String, String>) {
    let common: Vec<(&str, MethodRouter<App>)> = vec![
        ("/firm", get(firm_list).post(firm_create)),
        (
            "/firm/{id}",
            get(firm_get).put(firm_update).delete(firm_delete),
        ),
        ("/firm/{id}/address", get(address_list).post(address_create)),
        (
            "/firm/{id}/address/{address}",
            get(address_get).put(address_edit),
        ),
        (
            "/firm/{id}/vendorAccountingInfo",
            get(vendor_accounting_list),
        ),
        ("/firm/{id}/project", get(firm_projects)),
        ("/employee", get(employee_list).post(employee_create)),
        (
            "/employee/{key}",
            get(employee_get)
                .put(employee_update)
                .delete(employee_delete),
        ),
        ("/project", get(project_list).post(project_create)),
        (
            "/project/{key}",
            get(project_get).put(project_update).delete(project_delete),
        ),
        ("/contact", get(contact_list).post(contact_create)),
        ("/contact/{id}", get(contact_get).put(contact_update)),
        ("/organization", get(organization_list)),
        ("/organization/{org}", get(organization_get)),
        ("/codeTable/{table}", get(code_list).post(code_create)),
        (
            "/codeTable/{table}/{code}",
            get(code_get).put(code_update).delete(code_delete),
        ),
        ("/Accounts", get(account_list).post(account_create)),
        (
            "/Accounts/{account}",
            get(account_get).put(account_update).delete(account_delete),
        ),
        ("/AccountingCompanyConfig/CFGAutoPosting", get(autoposting)),
        ("/Settings/Period", get(periods)),
        ("/Settings/ActivePeriod", get(active_period)),
        ("/Settings/ActivePeriod/{period}", put(set_active_period)),
        ("/Settings/Company", get(companies)),
        ("/Settings/ActiveCompany", get(active_company)),
        ("/Settings/ActiveCompany/{company}", put(set_active_company)),
        ("/Settings/General", get(general_settings)),
        ("/metadata/codeTable/{table}", get(metadata_code_table)),
        ("/metadata/{table}", get(metadata)),
        ("/KeyCvt/CFGFormat", get(key_format)),
        ("/KeyCvt/CFGFormatOrg", get(key_format_org)),
        (
            "/DataEntry/{table}",
            get(entry_list).post(entry_create).put(post_trans_file),
        ),
        (
            "/DataEntry/{table}/{key}",
            get(entry_get)
                .post(entry_master_create)
                .put(entry_update)
                .delete(entry_delete),
        ),
        ("/PSALedger/{tt}", get(psa_ledger)),
        ("/LedgerTax/{tt}", get(ledger_tax)),
        ("/ARReview/ARBalance", get(ar_balance)),
        ("/ledger/{tt}", get(psa_ledger).post(ledger_post)),
        ("/Workflow", get(workflow_links).put(workflow_link)),
        ("/Workflow/WorkflowEvents/{app}", get(workflow_events)),
        (
            "/Workflow/Workflow",
            get(workflow_list).post(workflow_create),
        ),
        (
            "/Workflow/dlgWorkflowActionWebhook",
            get(webhook_list).post(webhook_create),
        ),
        (
            "/Workflow/dlgWorkflowActionWebhookArgs",
            get(webhook_args).post(webhook_arg_create),
        ),
    ];
    let vision_only: Vec<(&str, MethodRouter<App>)> = vec![
        ("/TaxCodeEntity", get(tax_list).post(tax_create)),
        ("/TaxCodeEntity/{code}", get(tax_get).put(tax_update)),
        ("/BankCode/CFGBANKS", get(banks)),
        ("/AccountConfiguration/CFGAutoPosting", get(autoposting)),
        ("/firm/vendorAccountingInfo", post(vendor_accounting_create)),
    ];
    let instance = app.config.instance();
    let mut literals = HashMap::new();
    let mut add_literals = |path: &str| {
        for segment in path
            .split('/')
            .filter(|s| !s.is_empty() && !s.starts_with('{'))
        {
            // One spelling per word: two casings of the same literal would make normalisation ambiguous.
            let previous = literals.insert(segment.to_ascii_lowercase(), segment.to_owned());
            if let Some(previous) = previous.filter(|p| p != segment) {
                tracing::warn!(%previous, %segment, "route literal has two casings; requests are normalised to the latter");
            }
        }
    };
    let mut router: Router<App> = Router::new();
    for root in ["api", "vision"] {
        let extra: &[(&str, MethodRouter<App>)] = if root == "vision" { &vision_only } else { &[] };
        for (path, method_router) in common.iter().chain(extra.iter()) {
            let full = format!("{instance}/{root}{path}");
            add_literals(&full);
            router = router.route(&full, method_router.clone());
        }
    }
    router = router.route_layer(middleware::from_fn_with_state(
        app.clone(),
        auth::require_bearer,
    ));
    let token_path = format!("{instance}/api/token");
    add_literals(&token_path);
    router = router.route(&token_path, post(auth::token));
    let authorize_path = format!("{instance}/api/authorize");
    add_literals(&authorize_path);
    router = router.route(
        &authorize_path,
        get(auth::authorize_page).post(auth::authorize_submit),
    );
    router = router.fallback(|| async {
        VpError::NotFound("No HTTP resource was found that matches the request URI.".into())
    });
    (router.with_state(app.clone()), literals)
}

// ------------------------------------------------------------------ helpers

fn body_rows(bytes: &Bytes) -> Result<Vec<Row>, VpError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| VpError::bad_request(format!("The request body is not valid JSON: {e}")))?;
    match value {
        Value::Object(o) => Ok(vec![o]),
        Value::Array(items) => {
            let rows: Vec<Row> = items
                .into_iter()
                .filter_map(|v| v.as_object().cloned())
                .collect();
            if rows.is_empty() {
                Err(VpError::bad_request("The request body has no records."))
            } else {
                Ok(rows)
            }
        }
        _ => Err(VpError::bad_request(
            "The request body must be a JSON object or array.",
        )),
    }
}

fn body_row(bytes: &Bytes) -> Result<Row, VpError> {
    body_rows(bytes).map(|mut rows| rows.swap_remove(0))
}

fn list(app: &App, rows: Vec<Row>, raw: Option<&str>, policy: LimitPolicy) -> Reply {
    let query = ListQuery::parse(raw, policy)?;
    Ok(app.render(query.apply(rows)?, StatusCode::OK))
}

fn single(app: &App, row: Option<Row>, raw: Option<&str>) -> Reply {
    let row = row.ok_or_else(VpError::records_not_found)?;
    list(app, vec![row], raw, LimitPolicy::Accept)
}

fn trim_fields(rows: Vec<Row>, raw: Option<&str>) -> Result<Vec<Row>, VpError> {
    // fieldFilter also trims POST/PUT echoes; other list parameters are ignored there.
    match ListQuery::parse(raw, LimitPolicy::Accept)?.param("fieldFilter") {
        Some(_) => ListQuery::parse(raw.map(only_field_filter).as_deref(), LimitPolicy::Accept)?
            .apply(rows),
        None => Ok(rows),
    }
}

fn only_field_filter(raw: &str) -> String {
    raw.split('&')
        .filter(|p| p.to_ascii_lowercase().starts_with("fieldfilter="))
        .collect::<Vec<_>>()
        .join("&")
}

fn base_of(app: &App) -> String {
    format!("{}/api", app.config.instance())
}

// ------------------------------------------------------------------ firms

async fn firm_list(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    RawQuery(q): RawQuery,
) -> Reply {
    let rows = {
        let db = app.db.lock();
        db.visible(&user, db.firms.clone())
    };
    list(&app, rows, q.as_deref(), LimitPolicy::Accept)
}

async fn firm_get(State(app): State<App>, Path(id): Path<String>, RawQuery(q): RawQuery) -> Reply {
    let row = app.db.lock().firm_by_id(&id).cloned();
    single(&app, row, q.as_deref())
}

async fn firm_create(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Reply {
    let bodies = body_rows(&body)?;
    let now = app.now();
    let mut out = Vec::new();
    let mut events = Vec::new();
    {
        let mut db = app.db.lock();
        for mut body in bodies {
            let addresses = rows_of(&body, "CLAddress");
            let vendor_info = rows_of(&body, "VEAccounting");
            body.retain(|k, _| {
                !k.eq_ignore_ascii_case("CLAddress") && !k.eq_ignore_ascii_case("VEAccounting")
            });
            let (mut row, event) = db.insert_firm(&body, &user, now, true)?;
            let id = str_ci(&row, "ClientID");
            for a in &addresses {
                db.insert_address(&id, a)?;
            }
            for v in &vendor_info {
                db.upsert_vendor_accounting(&id, v);
            }
            if app.config.omit_autonumbers_in_post_response
                && matches!(app.config.firm_autonumber, super::FirmAutonumber::On { .. })
            {
                row.insert("Client".into(), Value::String(String::new()));
                row.insert("Vendor".into(), Value::String(String::new()));
            }
            out.push(row);
            events.push(event);
        }
    }
    app.dispatch(events);
    let location = format!(
        "{}/firm/{}",
        base_of(&app),
        out.first()
            .map(|r| str_ci(r, "ClientID"))
            .unwrap_or_default()
    );
    Ok(app.created(trim_fields(out, q.as_deref())?, &location))
}

async fn firm_update(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Reply {
    let body = body_row(&body)?;
    let now = app.now();
    let (row, event) = app.db.lock().update_firm(&id, &body, &user, now)?;
    app.dispatch(vec![event]);
    Ok(app.render(trim_fields(vec![row], q.as_deref())?, StatusCode::OK))
}

async fn firm_delete(State(app): State<App>, Path(id): Path<String>) -> Reply {
    let event = app.db.lock().delete_firm(&id)?;
    app.dispatch(vec![event]);
    Ok(app.render(Vec::new(), StatusCode::OK))
}

async fn employee_delete(State(app): State<App>, Path(key): Path<String>) -> Reply {
    let event = app.db.lock().delete_employee(&employee_key(&key))?;
    app.dispatch(vec![event]);
    Ok(app.render(Vec::new(), StatusCode::OK))
}

async fn project_delete(State(app): State<App>, Path(key): Path<String>) -> Reply {
    let event = app.db.lock().delete_project(&key)?;
    app.dispatch(vec![event]);
    Ok(app.render(Vec::new(), StatusCode::OK))
}

async fn address_list(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Reply {
    let rows = {
        let db = app.db.lock();
        if db.firm_by_id(&id).is_none() {
            return Err(VpError::records_not_found());
        }
        db.addresses
            .iter()
            .filter(|a| str_ci(a, "ClientID").eq_ignore_ascii_case(&id))
            .cloned()
            .collect()
    };
    list(&app, rows, q.as_deref(), LimitPolicy::Accept)
}

async fn address_get(
    State(app): State<App>,
    Path((id, address)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Reply {
    let row = app
        .db
        .lock()
        .addresses
        .iter()
        .find(|a| {
            str_ci(a, "ClientID").eq_ignore_ascii_case(&id)
                && str_ci(a, "CLAddressID").eq_ignore_ascii_case(&address)
        })
        .cloned();
    single(&app, row, q.as_deref())
}

async fn address_create(State(app): State<App>, Path(id): Path<String>, body: Bytes) -> Reply {
    let bodies = body_rows(&body)?;
    let mut out = Vec::new();
    {
        let mut db = app.db.lock();
        for b in &bodies {
            out.push(db.insert_address(&id, b)?);
        }
    }
    let location = format!("{}/firm/{id}/address", base_of(&app));
    Ok(app.created(out, &location))
}

/// `PUT /firm/{id}/address/{address}`: edits the address (200 with it), or 400 when the database does not
/// allow address edits (`VantagepointConfig::firm_address_edits`).
async fn address_edit(
    State(app): State<App>,
    Path((id, address)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let body = body_row(&body)?;
    let row = app.db.lock().update_address(&id, &address, &body)?;
    Ok(app.render(vec![row], StatusCode::OK))
}

async fn vendor_accounting_list(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Reply {
    let rows = {
        let db = app.db.lock();
        if db.firm_by_id(&id).is_none() {
            return Err(VpError::records_not_found());
        }
        db.vendor_accounting
            .iter()
            .filter(|r| str_ci(r, "ClientID").eq_ignore_ascii_case(&id))
            .cloned()
            .collect()
    };
    list(&app, rows, q.as_deref(), LimitPolicy::Accept)
}

async fn firm_projects(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Reply {
    let rows = {
        let db = app.db.lock();
        if db.firm_by_id(&id).is_none() {
            return Err(VpError::records_not_found());
        }
        db.projects
            .iter()
            .filter(|p| str_ci(p, "WBS2").is_empty())
            .filter(|p| {
                str_ci(p, "ClientID").eq_ignore_ascii_case(&id)
                    || str_ci(p, "BillingClientID").eq_ignore_ascii_case(&id)
            })
            .map(|p| {
                let mut row = Row::new();
                row.insert("ClientID".into(), Value::String(id.clone()));
                row.insert("WBS1".into(), Value::String(str_ci(p, "WBS1")));
                row.insert("PRName".into(), Value::String(str_ci(p, "Name")));
                row.insert("PRClientID".into(), Value::String(str_ci(p, "ClientID")));
                row.insert("PRStatus".into(), Value::String(str_ci(p, "Status")));
                let role = if str_ci(p, "ClientID").eq_ignore_ascii_case(&id) {
                    "Client"
                } else {
                    "Billing"
                };
                row.insert("Role".into(), Value::String(role.into()));
                row
            })
            .collect()
    };
    list(&app, rows, q.as_deref(), LimitPolicy::Accept)
}

async fn vendor_accounting_create(State(app): State<App>, body: Bytes) -> Reply {
    let bodies = body_rows(&body)?;
    let mut out = Vec::new();
    {
        let mut db = app.db.lock();
        for b in &bodies {
            let id = {
                let id = str_ci(b, "ClientID");
                if id.is_empty() {
                    db.firm_by_vendor(&str_ci(b, "Vendor"))
                        .map(|f| str_ci(f, "ClientID"))
                        .unwrap_or_default()
                } else {
                    id
                }
            };
            let firm = db.firm_by_id(&id).cloned().ok_or_else(|| {
                VpError::field(
                    "ClientID",
                    "ClientID or Vendor of an existing firm is required.",
                )
            })?;
            if !get_ci(&firm, "VendorInd")
                .and_then(flag_of)
                .unwrap_or(false)
            {
                return Err(VpError::field("ClientID", "The firm is not a vendor."));
            }
            out.push(db.upsert_vendor_accounting(&id, b));
        }
    }
    Ok(app.created(out, &format!("{}/firm", base_of(&app))))
}

// ------------------------------------------------------------------ employees, projects, contacts, orgs

fn employee_key(key: &str) -> String {
    key.split('|').next().unwrap_or_default().to_owned()
}

async fn employee_list(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    RawQuery(q): RawQuery,
) -> Reply {
    let rows = {
        let db = app.db.lock();
        db.visible(&user, db.employees.clone())
    };
    list(&app, rows, q.as_deref(), LimitPolicy::Accept)
}

async fn employee_get(
    State(app): State<App>,
    Path(key): Path<String>,
    RawQuery(q): RawQuery,
) -> Reply {
    let row = app.db.lock().employee(&employee_key(&key)).cloned();
    single(&app, row, q.as_deref())
}

async fn employee_create(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Reply {
    let bodies = body_rows(&body)?;
    let now = app.now();
    let (out, events) = upsert_many(&bodies, |b| {
        app.db.lock().upsert_employee(None, b, &user, now)
    })?;
    app.dispatch(events);
    let location = format!(
        "{}/employee/{}",
        base_of(&app),
        out.first()
            .map(|r| str_ci(r, "Employee"))
            .unwrap_or_default()
    );
    Ok(app.created(trim_fields(out, q.as_deref())?, &location))
}

async fn employee_update(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    Path(key): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Reply {
    let body = body_row(&body)?;
    let now = app.now();
    let (row, event) =
        app.db
            .lock()
            .upsert_employee(Some(&employee_key(&key)), &body, &user, now)?;
    app.dispatch(vec![event]);
    Ok(app.render(trim_fields(vec![row], q.as_deref())?, StatusCode::OK))
}

fn upsert_many(
    bodies: &[Row],
    mut f: impl FnMut(&Row) -> Result<(Row, RecordEvent), VpError>,
) -> Result<(Vec<Row>, Vec<RecordEvent>), VpError> {
    let mut rows = Vec::new();
    let mut events = Vec::new();
    for b in bodies {
        let (row, event) = f(b)?;
        rows.push(row);
        events.push(event);
    }
    Ok((rows, events))
}

async fn project_list(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    RawQuery(q): RawQuery,
) -> Reply {
    let query = ListQuery::parse(q.as_deref(), LimitPolicy::Accept)?;
    let level = query
        .param("wbstype")
        .unwrap_or("wbs1")
        .to_ascii_lowercase();
    let rows: Vec<Row> = app
        .db
        .lock()
        .projects
        .iter()
        .filter(|p| {
            let (w2, w3) = (str_ci(p, "WBS2"), str_ci(p, "WBS3"));
            match level.as_str() {
                "wbs2" => !w2.is_empty() && w3.is_empty(),
                "wbs3" => !w3.is_empty(),
                "all" => true,
                _ => w2.is_empty(),
            }
        })
        .cloned()
        .collect();
    let rows = app.db.lock().visible(&user, rows);
    Ok(app.render(query.apply(rows)?, StatusCode::OK))
}

async fn project_get(
    State(app): State<App>,
    Path(key): Path<String>,
    RawQuery(q): RawQuery,
) -> Reply {
    let mut parts = key.split('|');
    let (w1, w2, w3) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let row = app.db.lock().project(w1, w2, w3).cloned();
    single(&app, row, q.as_deref())
}

async fn project_create(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Reply {
    let bodies = body_rows(&body)?;
    let now = app.now();
    let (out, events) = upsert_many(&bodies, |b| {
        app.db.lock().upsert_project(None, b, &user, now)
    })?;
    app.dispatch(events);
    let location = format!(
        "{}/project/{}",
        base_of(&app),
        out.first().map(|r| str_ci(r, "WBS1")).unwrap_or_default()
    );
    Ok(app.created(trim_fields(out, q.as_deref())?, &location))
}

async fn project_update(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    Path(key): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Reply {
    let body = body_row(&body)?;
    let now = app.now();
    let (row, event) = app
        .db
        .lock()
        .upsert_project(Some(&key), &body, &user, now)?;
    app.dispatch(vec![event]);
    Ok(app.render(trim_fields(vec![row], q.as_deref())?, StatusCode::OK))
}

async fn contact_list(State(app): State<App>, RawQuery(q): RawQuery) -> Reply {
    let rows = app.db.lock().contacts.clone();
    list(&app, rows, q.as_deref(), LimitPolicy::Accept)
}

async fn contact_get(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Reply {
    let row = app
        .db
        .lock()
        .contacts
        .iter()
        .find(|c| str_ci(c, "ContactID").eq_ignore_ascii_case(&id))
        .cloned();
    single(&app, row, q.as_deref())
}

async fn contact_create(State(app): State<App>, body: Bytes) -> Reply {
    let bodies = body_rows(&body)?;
    let now = vp_datetime(app.now());
    let mut out = Vec::new();
    let mut events = Vec::new();
    {
        let mut db = app.db.lock();
        for b in &bodies {
            if str_ci(b, "LastName").is_empty() && str_ci(b, "FirstName").is_empty() {
                return Err(VpError::field(
                    "LastName",
                    "A contact needs a first or last name.",
                ));
            }
            let client = str_ci(b, "ClientID");
            if !client.is_empty() && db.firm_by_id(&client).is_none() {
                return Err(VpError::field(
                    "ClientID",
                    format!("Invalid firm '{client}'."),
                ));
            }
            let suffix = str_ci(b, "Suffix");
            if !suffix.is_empty()
                && !db
                    .code_table("CFGSuffix")
                    .is_some_and(|t| t.iter().any(|r| str_ci(r, "Code") == suffix))
            {
                return Err(VpError::field(
                    "Suffix",
                    format!("'{suffix}' is not a valid value from code table CFGSuffix."),
                ));
            }
            let mut row = Row::new();
            row.insert("ContactID".into(), Value::String(db.new_key()));
            row.insert("ContactStatus".into(), Value::String("A".into()));
            merge_patch(&mut row, b);
            row.insert("CreateDate".into(), Value::String(now.clone()));
            row.insert("ModDate".into(), Value::String(now.clone()));
            db.contacts.push(row.clone());
            events.push(RecordEvent {
                hub: Hub::Contact,
                kind: EventKind::Insert,
                old: None,
                new: row.clone(),
            });
            out.push(row);
        }
    }
    app.dispatch(events);
    Ok(app.created(out, &format!("{}/contact", base_of(&app))))
}

async fn contact_update(State(app): State<App>, Path(id): Path<String>, body: Bytes) -> Reply {
    let body = body_row(&body)?;
    let now = vp_datetime(app.now());
    let row = {
        let mut db = app.db.lock();
        let row = db
            .contacts
            .iter_mut()
            .find(|c| str_ci(c, "ContactID").eq_ignore_ascii_case(&id))
            .ok_or_else(VpError::records_not_found)?;
        let old = row.clone();
        let mut patch = body;
        patch.retain(|k, _| !k.eq_ignore_ascii_case("ContactID"));
        merge_patch(row, &patch);
        row.insert("ModDate".into(), Value::String(now));
        (old, row.clone())
    };
    let (old, row) = row;
    app.dispatch(vec![RecordEvent {
        hub: Hub::Contact,
        kind: EventKind::Change,
        old: Some(old),
        new: row.clone(),
    }]);
    Ok(app.render(vec![row], StatusCode::OK))
}

async fn organization_list(State(app): State<App>, RawQuery(q): RawQuery) -> Reply {
    let rows = app.db.lock().organizations.clone();
    list(&app, rows, q.as_deref(), LimitPolicy::Accept)
}

async fn organization_get(
    State(app): State<App>,
    Path(org): Path<String>,
    RawQuery(q): RawQuery,
) -> Reply {
    let row = app
        .db
        .lock()
        .organizations
        .iter()
        .find(|o| str_ci(o, "Org").eq_ignore_ascii_case(&org))
        .cloned();
    single(&app, row, q.as_deref())
}

async fn code_list(
    State(app): State<App>,
    Path(table): Path<String>,
    RawQuery(q): RawQuery,
) -> Reply {
    let rows = app
        .db
        .lock()
        .code_table(&table)
        .cloned()
        .ok_or_else(|| VpError::NotFound(format!("Code table {table} does not exist.")))?;
    list(&app, rows, q.as_deref(), LimitPolicy::Accept)
}

async fn code_get(
    State(app): State<App>,
    Path((table, code)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Reply {
    let row = app.db.lock().code_table(&table).and_then(|t| {
        t.iter()
            .find(|r| str_ci(r, "Code").eq_ignore_ascii_case(&code))
            .cloned()
    });
    single(&app, row, q.as_deref())
}

async fn code_create(State(app): State<App>, Path(table): Path<String>, body: Bytes) -> Reply {
    let bodies = body_rows(&body)?;
    let mut out = Vec::new();
    {
        let mut db = app.db.lock();
        for b in bodies {
            let code = str_ci(&b, "Code");
            if code.is_empty() {
                return Err(VpError::field("Code", "Code is required."));
            }
            if db.code_table(&table).is_some_and(|t| {
                t.iter()
                    .any(|r| str_ci(r, "Code").eq_ignore_ascii_case(&code))
            }) {
                return Err(VpError::Conflict(format!(
                    "Code {code} already exists in {table}."
                )));
            }
            db.upsert_code(&table, b.clone());
            out.push(b);
        }
    }
    Ok(app.created(out, &format!("{}/codeTable/{table}", base_of(&app))))
}

/// `PUT /codeTable/{table}/{code}`: merges the columns sent (the code itself stays); 200 with the row.
async fn code_update(
    State(app): State<App>,
    Path((table, code)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let body = body_row(&body)?;
    let mut db = app.db.lock();
    let mut row = db
        .code_table(&table)
        .ok_or_else(|| VpError::NotFound(format!("Code table {table} does not exist.")))?
        .iter()
        .find(|r| str_ci(r, "Code").eq_ignore_ascii_case(&code))
        .cloned()
        .ok_or_else(VpError::records_not_found)?;
    let stored_code = str_ci(&row, "Code");
    for (k, v) in body {
        if k.eq_ignore_ascii_case("Code") {
            if !text_of(&v).trim().eq_ignore_ascii_case(&stored_code) {
                return Err(VpError::field(
                    "Code",
                    "The code of a code table row cannot be changed.",
                ));
            }
            continue;
        }
        row.insert(k, v);
    }
    db.upsert_code(&table, row.clone());
    drop(db);
    Ok(app.render(vec![row], StatusCode::OK))
}

/// `DELETE /codeTable/{table}/{code}`: 200 with an empty array.
async fn code_delete(State(app): State<App>, Path((table, code)): Path<(String, String)>) -> Reply {
    app.db.lock().delete_code(&table, &code)?;
    Ok(app.render(Vec::new(), StatusCode::OK))
}

// ------------------------------------------------------------------ accounts, tax, banks, auto-posting

/// "Text not translated" in the name columns when the session's culture is not the database's.
fn translated(rows: Vec<Row>, culture: CultureMismatch) -> Vec<Row> {
    if !culture.0 {
        return rows;
    }
    rows.into_iter()
        .map(|mut r| {
            for key in ["Name", "Description"] {
                if let Some(v) = r.get_mut(key) {
                    *v = Value::String("Text not translated".into());
                }
            }
            r
        })
        .collect()
}

async fn account_list(
    State(app): State<App>,
    Extension(culture): Extension<CultureMismatch>,
    RawQuery(q): RawQuery,
) -> Reply {
    let rows = translated(app.db.lock().accounts.clone(), culture);
    list(&app, rows, q.as_deref(), LimitPolicy::Accept)
}

async fn account_get(
    State(app): State<App>,
    Path(account): Path<String>,
    RawQuery(q): RawQuery,
) -> Reply {
    let row = app.db.lock().account(&account).cloned();
    single(&app, row, q.as_deref())
}

async fn account_create(State(app): State<App>, body: Bytes) -> Reply {
    let bodies = body_rows(&body)?;
    let mut out = Vec::new();
    {
        let mut db = app.db.lock();
        for b in &bodies {
            out.push(db.insert_account(b, app.config.accounts_require_blank_columns)?);
        }
    }
    let location = format!(
        "{}/Accounts/{}",
        base_of(&app),
        out.first()
            .map(|r| str_ci(r, "Account"))
            .unwrap_or_default()
    );
    Ok(app.created(out, &location))
}

async fn account_update(State(app): State<App>, Path(account): Path<String>, body: Bytes) -> Reply {
    let body = body_row(&body)?;
    let row = app.db.lock().update_account(&account, &body)?;
    Ok(app.render(vec![row], StatusCode::OK))
}

/// `DELETE /Accounts/{account}`: refused while posted ledger rows use the account.
async fn account_delete(State(app): State<App>, Path(account): Path<String>) -> Reply {
    app.db.lock().delete_account(&account)?;
    Ok(app.render(Vec::new(), StatusCode::OK))
}

async fn tax_list(
    State(app): State<App>,
    Extension(culture): Extension<CultureMismatch>,
    RawQuery(q): RawQuery,
) -> Reply {
    let rows = translated(app.db.lock().tax_codes.clone(), culture);
    list(&app, rows, q.as_deref(), LimitPolicy::Accept)
}

async fn tax_get(State(app): State<App>, Path(code): Path<String>, RawQuery(q): RawQuery) -> Reply {
    let row = app.db.lock().tax_code(&code).cloned();
    single(&app, row, q.as_deref())
}

async fn tax_create(State(app): State<App>, body: Bytes) -> Reply {
    let bodies = body_rows(&body)?;
    let mut out = Vec::new();
    {
        let mut db = app.db.lock();
        for b in &bodies {
            out.push(db.insert_tax_code(b)?);
        }
    }
    Ok(app.created(
        out,
        &format!("{}/vision/TaxCodeEntity", app.config.instance()),
    ))
}

async fn tax_update(State(app): State<App>, Path(code): Path<String>, body: Bytes) -> Reply {
    let mut body = body_row(&body)?;
    body.retain(|k, _| !k.eq_ignore_ascii_case("Code"));
    if let Some(rate) = get_ci(&body, "Rate").cloned() {
        let rate =
            decimal_of(&rate).ok_or_else(|| VpError::field("Rate", "Rate must be a number."))?;
        body.retain(|k, _| !k.eq_ignore_ascii_case("Rate"));
        body.insert("Rate".into(), money(rate));
    }
    let row = {
        let mut db = app.db.lock();
        let row = db
            .tax_codes
            .iter_mut()
            .find(|t| str_ci(t, "Code").eq_ignore_ascii_case(&code))
            .ok_or_else(VpError::records_not_found)?;
        merge_patch(row, &body);
        row.clone()
    };
    Ok(app.render(vec![row], StatusCode::OK))
}

async fn banks(State(app): State<App>, RawQuery(q): RawQuery) -> Reply {
    let rows = app.db.lock().banks.clone();
    list(&app, rows, q.as_deref(), LimitPolicy::Accept)
}

async fn autoposting(State(app): State<App>, RawQuery(q): RawQuery) -> Reply {
    let query = ListQuery::parse(q.as_deref(), LimitPolicy::Accept)?;
    let rows: Vec<Row> = {
        let db = app.db.lock();
        match query.param("company").filter(|c| !c.trim().is_empty()) {
            Some(c) => db
                .autoposting
                .iter()
                .filter(|r| str_ci(r, "Company").eq_ignore_ascii_case(c.trim()))
                .cloned()
                .collect(),
            None => db.autoposting.clone(),
        }
    };
    Ok(app.render(query.apply(rows)?, StatusCode::OK))
}

// ------------------------------------------------------------------ settings

async fn periods(State(app): State<App>, RawQuery(q): RawQuery) -> Reply {
    let rows = app.db.lock().periods.clone();
    list(&app, rows, q.as_deref(), LimitPolicy::Accept)
}

fn active_period_row(app: &App, user: &str) -> Row {
    let db = app.db.lock();
    let period = db.active_period(user, app.now().date());
    let mut row = db
        .periods
        .iter()
        .find(|p| p.get("Period").and_then(int_of) == Some(i64::from(period)))
        .cloned()
        .unwrap_or_default();
    row.insert("Period".into(), Value::from(period));
    row.insert("RawPeriod".into(), Value::from(period));
    row.insert("FmtPeriod".into(), Value::String(fmt_period(period)));
    row.insert("Company".into(), Value::String(db.user_company(user)));
    row
}

async fn active_period(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
) -> Reply {
    let row = active_period_row(&app, &user);
    Ok(app.render(vec![row], StatusCode::OK))
}

async fn set_active_period(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    Path(period): Path<String>,
) -> Reply {
    let period: i32 = period.trim().parse().map_err(|_| {
        VpError::field(
            "Period",
            format!("'{period}' is not a valid period (YYYYPP)."),
        )
    })?;
    app.db.lock().set_active_period(&user, period)?;
    let row = active_period_row(&app, &user);
    Ok(app.render(vec![row], StatusCode::OK))
}

async fn companies(State(app): State<App>, RawQuery(q): RawQuery) -> Reply {
    let rows = app.db.lock().companies.clone();
    list(&app, rows, q.as_deref(), LimitPolicy::Accept)
}

async fn active_company(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
) -> Reply {
    let row = {
        let db = app.db.lock();
        let company = db.user_company(&user);
        db.companies
            .iter()
            .find(|c| str_ci(c, "Company") == company)
            .cloned()
            .unwrap_or_default()
    };
    Ok(app.render(vec![row], StatusCode::OK))
}

async fn set_active_company(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    Path(company): Path<String>,
) -> Reply {
    let row = {
        let mut db = app.db.lock();
        let row = db
            .companies
            .iter()
            .find(|c| str_ci(c, "Company").eq_ignore_ascii_case(&company))
            .cloned()
            .ok_or_else(|| VpError::field("Company", format!("Invalid company '{company}'.")))?;
        if let Some(u) = db.users.get_mut(&user.to_lowercase()) {
            u.active_company = Some(str_ci(&row, "Company"));
        }
        row
    };
    Ok(app.render(vec![row], StatusCode::OK))
}

async fn key_format(State(app): State<App>) -> Reply {
    let row = app.db.lock().key_format.clone();
    Ok(app.render(vec![row], StatusCode::OK))
}

async fn key_format_org(State(app): State<App>) -> Reply {
    let format = app.db.lock().key_format.clone();
    let levels = format.get("OrgLevels").and_then(int_of).unwrap_or(3);
    let rows = (1..=levels)
        .map(|level| {
            let length = format
                .get(&format!("Org{level}Length"))
                .cloned()
                .unwrap_or(Value::from(2));
            let mut row = Row::new();
            row.insert("OrgLevel".into(), Value::from(level));
            row.insert("Length".into(), length);
            row.insert(
                "Label".into(),
                Value::String(if level == 1 {
                    "Company".into()
                } else {
                    format!("Level {level}")
                }),
            );
            row
        })
        .collect();
    Ok(app.render(rows, StatusCode::OK))
}

async fn general_settings(State(app): State<App>) -> Reply {
    let row = {
        let db = app.db.lock();
        let company = db.companies.first().cloned().unwrap_or_default();
        let mut row = Row::new();
        for key in ["Company", "FirmName", "Country"] {
            row.insert(key.into(), Value::String(str_ci(&company, key)));
        }
        for key in [
            "Byline",
            "Address1",
            "Address2",
            "Address3",
            "Address4",
            "FirmEmail",
            "FirmPhone",
        ] {
            row.insert(key.into(), Value::String(String::new()));
        }
        row
    };
    Ok(app.render(vec![row], StatusCode::OK))
}

/// Columns VP requires on insert, per table (what `metadata` reports as `IsRequired`).
fn required_columns(table: &str) -> &'static [&'static str] {
    match table {
        "firm" => &["Name"],
        "employee" => &["Employee", "LastName"],
        "project" => &["WBS1", "Name"],
        "contact" => &["LastName"],
        "accounts" => &[
            "Account",
            "Name",
            "Type",
            "CashBasisAccount",
            "UnrealizedLossAccount",
            "UnrealizedGainAccount",
            "CashBasisRevaluation",
        ],
        "crentry" => &[
            "Batch",
            "Total",
            "RefNo",
            "TransDate",
            "BankCode",
            "Account",
            "Amount",
        ],
        _ => &[],
    }
}

fn field_metadata(table_name: &str, rows: &[Row], required: &[&str], key_format: &Row) -> Value {
    let mut columns: Vec<(String, &Value)> = Vec::new();
    for row in rows {
        for (k, v) in row {
            if !columns.iter().any(|(c, _)| c == k) && !v.is_array() && !v.is_object() {
                columns.push((k.clone(), v));
            }
        }
    }
    for r in required {
        if !columns.iter().any(|(c, _)| c.eq_ignore_ascii_case(r)) {
            columns.push(((*r).to_owned(), &Value::Null));
        }
    }
    let fields: Vec<Value> = columns
        .iter()
        .map(|(name, value)| {
            let field_type = match value {
                Value::Number(_) => "numeric",
                Value::String(t)
                    if name.contains("Date")
                        && (t.is_empty() || parse_vp_datetime(t).is_some()) =>
                {
                    "datetime"
                }
                Value::String(t) if t == "Y" || t == "N" => "flag",
                _ => "string",
            };
            let max_length = match name.as_str() {
                "Client" => key_format
                    .get("ClientLength")
                    .and_then(int_of)
                    .unwrap_or(20),
                "Vendor" => key_format
                    .get("VendorLength")
                    .and_then(int_of)
                    .unwrap_or(20),
                "Account" => key_format
                    .get("AccountLength")
                    .and_then(int_of)
                    .unwrap_or(10),
                "WBS1" => key_format.get("WBS1Length").and_then(int_of).unwrap_or(12),
                "Batch" | "ClientID" | "PKey" => 32,
                _ => 0,
            };
            let mut field = Row::new();
            field.insert("FieldName".into(), Value::String(name.clone()));
            field.insert("FieldType".into(), Value::String(field_type.into()));
            if max_length > 0 {
                field.insert("MaxLength".into(), Value::from(max_length));
            }
            field.insert(
                "IsRequired".into(),
                Value::Bool(required.iter().any(|r| r.eq_ignore_ascii_case(name))),
            );
            let read_only = [
                "ClientID",
                "CreateDate",
                "CreateUser",
                "ModDate",
                "ModUser",
                "PostSeq",
                "PostDate",
            ]
            .contains(&name.as_str());
            field.insert("IsReadOnly".into(), Value::Bool(read_only));
            Value::Object(field)
        })
        .collect();
    let mut meta = Row::new();
    meta.insert("TableName".into(), Value::String(table_name.to_owned()));
    meta.insert("Fields".into(), Value::Array(fields));
    Value::Object(meta)
}

/// `GET /metadata/{table}`: one object `{TableName, Fields: [...]}` (not an array).
async fn metadata(State(app): State<App>, Path(table): Path<String>) -> Reply {
    let lower = table.to_ascii_lowercase();
    let meta = {
        let db = app.db.lock();
        let rows: Vec<Row> = match lower.as_str() {
            "firm" => db.firms.clone(),
            "employee" => db.employees.clone(),
            "project" => db.projects.clone(),
            "contact" => db.contacts.clone(),
            "organization" => db.organizations.clone(),
            "accounts" => db.accounts.clone(),
            t if t.len() == 7 && t.ends_with("entry") => {
                let tt = &t[..2];
                db.batches
                    .iter()
                    .filter(|b| b.tt == tt)
                    .flat_map(|b| {
                        [b.control.clone()]
                            .into_iter()
                            .chain(b.masters.clone())
                            .chain(b.details.clone())
                    })
                    .collect()
            }
            _ => return Err(VpError::NotFound(format!("No metadata for {table}."))),
        };
        field_metadata(&table, &rows, required_columns(&lower), &db.key_format)
    };
    Ok((StatusCode::OK, axum::Json(meta)).into_response())
}

async fn metadata_code_table(State(app): State<App>, Path(table): Path<String>) -> Reply {
    let meta = {
        let db = app.db.lock();
        let rows = db
            .code_table(&table)
            .cloned()
            .ok_or_else(|| VpError::NotFound(format!("Code table {table} does not exist.")))?;
        field_metadata(&table, &rows, &["Code", "Description"], &db.key_format)
    };
    Ok((StatusCode::OK, axum::Json(meta)).into_response())
}

// ------------------------------------------------------------------ DataEntry

/// `crControl` → (`cr`, `control`).
fn entry_table(table: &str) -> Result<(String, String), VpError> {
    let lower = table.to_ascii_lowercase();
    if lower == "alllanding" {
        return Ok((String::new(), "landing".into()));
    }
    if lower.len() < 3 || !lower.is_char_boundary(2) {
        return Err(VpError::NotFound(format!(
            "DataEntry table {table} does not exist."
        )));
    }
    let (tt, kind) = lower.split_at(2);
    if !["control", "master", "detail", "detailtax", "landing"].contains(&kind) {
        return Err(VpError::NotFound(format!(
            "DataEntry table {table} does not exist."
        )));
    }
    Ok((tt.to_owned(), kind.to_owned()))
}

async fn entry_list(
    State(app): State<App>,
    Path(table): Path<String>,
    RawQuery(q): RawQuery,
) -> Reply {
    let (tt, kind) = entry_table(&table)?;
    let rows = {
        let db = app.db.lock();
        match kind.as_str() {
            "landing" => db.landing(if tt.is_empty() { None } else { Some(&tt) }),
            _ => db
                .batches
                .iter()
                .filter(|b| b.tt == tt)
                .flat_map(|b| match kind.as_str() {
                    "control" => vec![b.control.clone()],
                    "master" => b.masters.clone(),
                    "detail" => b.details.clone(),
                    _ => b.taxes.clone(),
                })
                .collect(),
        }
    };
    list(&app, rows, q.as_deref(), LimitPolicy::Reject500)
}

async fn entry_get(
    State(app): State<App>,
    Path((table, key)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Reply {
    let (tt, kind) = entry_table(&table)?;
    let (batch, sub) = match key.split_once('|') {
        Some((b, s)) => (b.to_owned(), Some(s.to_owned())),
        None => (key.clone(), None),
    };
    let rows = {
        let db = app.db.lock();
        let b = db
            .batches
            .iter()
            .find(|b| b.tt == tt && b.batch.eq_ignore_ascii_case(&batch))
            .ok_or_else(VpError::records_not_found)?;
        let master_key = |r: &Row| {
            sub.as_ref().is_none_or(|s| {
                ["RefNo", "MasterPKey", "Invoice", "CheckNo", "Employee"]
                    .iter()
                    .any(|k| str_ci(r, k).eq_ignore_ascii_case(s))
            })
        };
        match kind.as_str() {
            "control" => vec![b.control.clone()],
            "master" => b
                .masters
                .iter()
                .filter(|r| master_key(r))
                .cloned()
                .collect(),
            "detail" => b
                .details
                .iter()
                .filter(|r| master_key(r))
                .cloned()
                .collect(),
            "detailtax" => b.taxes.clone(),
            _ => return Err(VpError::records_not_found()),
        }
    };
    list(&app, rows, q.as_deref(), LimitPolicy::Reject500)
}

/// `POST /DataEntry/{tt}Control`: a batch with its documents and lines.
async fn entry_create(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    Path(table): Path<String>,
    body: Bytes,
) -> Reply {
    let (tt, kind) = entry_table(&table)?;
    if kind != "control" {
        return Err(VpError::NotFound(format!(
            "POST /DataEntry/{table} needs a key: {tt}Master/{{Batch}}|{{key}}."
        )));
    }
    let body = body_row(&body)?;
    let today = app.now().date();
    let row = app.db.lock().create_batch(&tt, &body, &user, today)?;
    let location = format!(
        "{}/DataEntry/{tt}Control/{}",
        base_of(&app),
        str_ci(&row, "Batch")
    );
    Ok(app.created(vec![row], &location))
}

/// `{Batch}|{key}` of a master address.
fn batch_and_key(key: &str) -> (String, String) {
    match key.split_once('|') {
        Some((b, k)) => (b.trim().to_owned(), k.trim().to_owned()),
        None => (key.trim().to_owned(), String::new()),
    }
}

/// `POST /DataEntry/{tt}Master/{Batch}|{key}`: one document with its nested lines.
async fn entry_master_create(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    Path((table, key)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let (tt, kind) = entry_table(&table)?;
    if kind != "master" {
        return Err(VpError::NotFound(format!(
            "POST /DataEntry/{table}/{{key}} is not supported; documents are added through {tt}Master."
        )));
    }
    let (batch, master) = batch_and_key(&key);
    let body = body_row(&body)?;
    let today = app.now().date();
    let row = app
        .db
        .lock()
        .add_master(&tt, &batch, &master, &body, &user, today)?;
    let location = format!("{}/DataEntry/{tt}Master/{batch}|{master}", base_of(&app));
    Ok(app.created(vec![row], &location))
}

/// `PUT /DataEntry/{tt}Control/{Batch}` and `PUT /DataEntry/{tt}Master/{Batch}|{key}` (PATCH semantics).
async fn entry_update(
    State(app): State<App>,
    Path((table, key)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Reply {
    let (tt, kind) = entry_table(&table)?;
    let body = body_row(&body)?;
    let row = match kind.as_str() {
        "control" => app.db.lock().update_control(&tt, &key, &body)?,
        "master" => {
            let (batch, master) = batch_and_key(&key);
            app.db.lock().update_master(&tt, &batch, &master, &body)?
        }
        _ => {
            return Err(VpError::bad_request(format!(
                "{table} rows are changed through {tt}Control or {tt}Master."
            )));
        }
    };
    Ok(app.render(trim_fields(vec![row], q.as_deref())?, StatusCode::OK))
}

async fn entry_delete(State(app): State<App>, Path((table, key)): Path<(String, String)>) -> Reply {
    let (tt, kind) = entry_table(&table)?;
    match kind.as_str() {
        "control" => app.db.lock().delete_batch(&tt, &key)?,
        "master" => {
            let (batch, master) = batch_and_key(&key);
            app.db.lock().delete_master(&tt, &batch, &master)?;
        }
        _ => {
            return Err(VpError::bad_request(format!(
                "Only files ({tt}Control) and documents ({tt}Master) can be deleted, not {table}."
            )));
        }
    }
    Ok(app.render(Vec::new(), StatusCode::OK))
}

/// `PUT /DataEntry/PostTransFile`: answers a JSON-encoded *string* whose content is the posting result.
async fn post_trans_file(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    Path(table): Path<String>,
    body: Bytes,
) -> Reply {
    if !table.eq_ignore_ascii_case("PostTransFile") {
        return Err(VpError::NotFound(format!(
            "PUT /DataEntry/{table} is not supported."
        )));
    }
    let body = body_row(&body)?;
    let parms = rows_of(&body, "parms");
    if parms.is_empty() {
        return Err(VpError::field("parms", "parms is required."));
    }
    let now = app.now();
    let mut outcomes = Vec::new();
    {
        let mut db = app.db.lock();
        for p in &parms {
            let tt = str_ci(p, "transtype");
            let batch = str_ci(p, "batch");
            if tt.is_empty() {
                return Err(VpError::field("transtype", "transtype is required."));
            }
            let period = match get_ci(p, "period")
                .map(text_of)
                .filter(|t| !t.trim().is_empty())
            {
                Some(t) => Some(t.trim().parse::<i32>().map_err(|_| {
                    VpError::field("period", format!("'{t}' is not a valid period."))
                })?),
                None => None,
            };
            outcomes.push(db.post_batch(&tt, &batch, period, &user, now));
        }
    }
    let join = |f: &dyn Fn(&super::db::PostOutcome) -> String| {
        outcomes.iter().map(f).collect::<Vec<_>>().join("|")
    };
    let payload = format!(
        "{{\r\n \"typeList\": {},\r\n \"batchList\": {},\r\n \"retList\": {},\r\n \"periodList\": {},\r\n \"postseqList\": {},\r\n \"msg\": {}\r\n}}",
        Value::String(join(&|o| o.tt.clone())),
        Value::String(join(&|o| o.batch.clone())),
        Value::String(join(&|o| if o.ok { "1".into() } else { "0".into() })),
        Value::String(join(&|o| o.period.to_string())),
        Value::String(join(&|o| o.post_seq.to_string())),
        Value::String(
            outcomes
                .iter()
                .map(|o| o.msg.clone())
                .collect::<Vec<_>>()
                .join("\r\n")
        ),
    );
    Ok((StatusCode::OK, axum::Json(Value::String(payload))).into_response())
}

// ------------------------------------------------------------------ posted ledger

fn ledger_type(tt: &str) -> Result<String, VpError> {
    let upper = tt.to_ascii_uppercase();
    if LEDGER_TYPES.contains(&upper.as_str()) {
        Ok(upper)
    } else {
        Err(VpError::NotFound(format!(
            "Transaction type {tt} does not exist."
        )))
    }
}

async fn psa_ledger(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    Path(tt): Path<String>,
    RawQuery(q): RawQuery,
) -> Reply {
    let tt = ledger_type(&tt)?;
    let query = ListQuery::parse(q.as_deref(), LimitPolicy::Reject500)?;
    let rows: Vec<Row> = app
        .db
        .lock()
        .ledger
        .iter()
        .filter(|r| str_ci(r, "TransType") == tt)
        .cloned()
        .collect();
    let rows = app.db.lock().visible(&user, rows);
    Ok(app.render(query.apply(rows)?, StatusCode::OK))
}

async fn ledger_tax(
    State(app): State<App>,
    Path(tt): Path<String>,
    RawQuery(q): RawQuery,
) -> Reply {
    let tt = ledger_type(&tt)?;
    let query = ListQuery::parse(q.as_deref(), LimitPolicy::Reject500)?;
    let rows: Vec<Row> = app
        .db
        .lock()
        .ledger_tax
        .iter()
        .filter(|r| str_ci(r, "TransType") == tt)
        .cloned()
        .collect();
    Ok(app.render(query.apply(rows)?, StatusCode::OK))
}

async fn ar_balance(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    RawQuery(q): RawQuery,
) -> Reply {
    let rows = {
        let db = app.db.lock();
        db.visible(&user, db.ar_balances())
    };
    list(&app, rows, q.as_deref(), LimitPolicy::Accept)
}

async fn ledger_post(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    Path(tt): Path<String>,
    body: Bytes,
) -> Reply {
    let tt = ledger_type(&tt)?;
    let body = body_row(&body)?;
    let now = app.now();
    let row = match tt.as_str() {
        "PP" => app.db.lock().post_vendor_payment(&body, &user, now)?,
        "EP" => app.db.lock().post_employee_payment(&body, &user, now)?,
        other if super::db::entry_type(other).is_some() => app
            .db
            .lock()
            .ledger_create_and_post(other, &body, &user, now)?,
        other => {
            return Err(VpError::NotFound(format!(
                "POST /ledger/{other} is not available on this database."
            )));
        }
    };
    let location = format!("{}/ledger/{tt}", base_of(&app));
    Ok(app.created(vec![row], &location))
}

// ------------------------------------------------------------------ workflow

async fn workflow_events(
    State(app): State<App>,
    Path(application): Path<String>,
    RawQuery(q): RawQuery,
) -> Reply {
    let rows: Vec<Row> = app
        .db
        .lock()
        .workflow
        .events
        .iter()
        .filter(|e| str_ci(e, "ApplicationName").eq_ignore_ascii_case(&application))
        .cloned()
        .collect();
    list(&app, rows, q.as_deref(), LimitPolicy::Accept)
}

async fn workflow_list(State(app): State<App>, RawQuery(q): RawQuery) -> Reply {
    let rows = app.db.lock().workflow.events.clone();
    list(&app, rows, q.as_deref(), LimitPolicy::Accept)
}

async fn workflow_create(State(app): State<App>, body: Bytes) -> Reply {
    let bodies = body_rows(&body)?;
    let mut out = Vec::new();
    {
        let mut db = app.db.lock();
        for b in bodies {
            let application = str_ci(&b, "ApplicationName");
            if ![Hub::Firm, Hub::Employee, Hub::Project, Hub::Contact]
                .iter()
                .any(|h| h.matches_application(&application))
            {
                return Err(VpError::field(
                    "ApplicationName",
                    format!("Invalid application '{application}'."),
                ));
            }
            let event_type = str_ci(&b, "EventType");
            if !["insert", "change", "delete"].contains(&event_type.to_ascii_lowercase().as_str()) {
                return Err(VpError::field(
                    "EventType",
                    "EventType must be Insert, Change or Delete.",
                ));
            }
            let mut row = Row::new();
            row.insert("EventID".into(), Value::String(db.new_key()));
            row.insert("Active".into(), Value::String("Y".into()));
            row.insert("Description".into(), Value::String(String::new()));
            merge_patch(&mut row, &b);
            db.workflow.events.push(row.clone());
            out.push(row);
        }
    }
    Ok(app.created(out, &format!("{}/Workflow/Workflow", base_of(&app))))
}

async fn workflow_links(State(app): State<App>, RawQuery(q): RawQuery) -> Reply {
    let rows = app.db.lock().workflow.links.clone();
    list(&app, rows, q.as_deref(), LimitPolicy::Accept)
}

async fn workflow_link(State(app): State<App>, body: Bytes) -> Reply {
    let body = body_row(&body)?;
    let actions = rows_of(&body, "WorkflowActions");
    if actions.is_empty() {
        return Err(VpError::field(
            "WorkflowActions",
            "WorkflowActions is required.",
        ));
    }
    let mut out = Vec::new();
    {
        let mut db = app.db.lock();
        for a in actions {
            let event = str_ci(&a, "EventID");
            if !db
                .workflow
                .events
                .iter()
                .any(|e| str_ci(e, "EventID") == event)
            {
                return Err(VpError::field(
                    "EventID",
                    format!("Workflow event {event} does not exist."),
                ));
            }
            let action = str_ci(&a, "ActionID");
            db.workflow
                .links
                .retain(|l| !(str_ci(l, "EventID") == event && str_ci(l, "ActionID") == action));
            db.workflow.links.push(a.clone());
            out.push(a);
        }
    }
    Ok(app.render(out, StatusCode::OK))
}

async fn webhook_list(State(app): State<App>, RawQuery(q): RawQuery) -> Reply {
    let rows: Vec<Row> = app
        .db
        .lock()
        .workflow
        .webhooks
        .iter()
        .map(workflow::redact)
        .collect();
    list(&app, rows, q.as_deref(), LimitPolicy::Accept)
}

async fn webhook_create(State(app): State<App>, body: Bytes) -> Reply {
    let bodies = body_rows(&body)?;
    let mut out = Vec::new();
    {
        let mut db = app.db.lock();
        for b in &bodies {
            let row = workflow::webhook_row(b)?;
            let action = str_ci(&row, "ActionID");
            db.workflow
                .webhooks
                .retain(|w| str_ci(w, "ActionID") != action);
            db.workflow.webhooks.push(row.clone());
            out.push(workflow::redact(&row));
        }
    }
    Ok(app.created(
        out,
        &format!("{}/Workflow/dlgWorkflowActionWebhook", base_of(&app)),
    ))
}

async fn webhook_args(State(app): State<App>, RawQuery(q): RawQuery) -> Reply {
    let rows = app.db.lock().workflow.args.clone();
    list(&app, rows, q.as_deref(), LimitPolicy::Accept)
}

async fn webhook_arg_create(State(app): State<App>, body: Bytes) -> Reply {
    let bodies = body_rows(&body)?;
    let mut out = Vec::new();
    {
        let mut db = app.db.lock();
        for b in bodies {
            for key in ["ActionID", "ArgName", "SQLExpression"] {
                if str_ci(&b, key).is_empty() {
                    return Err(VpError::field(key, format!("{key} is required.")));
                }
            }
            let (action, name) = (str_ci(&b, "ActionID"), str_ci(&b, "ArgName"));
            db.workflow.args.retain(|a| {
                !(str_ci(a, "ActionID") == action
                    && str_ci(a, "ArgName").eq_ignore_ascii_case(&name))
            });
            db.workflow.args.push(b.clone());
            out.push(b);
        }
    }
    Ok(app.created(
        out,
        &format!("{}/Workflow/dlgWorkflowActionWebhookArgs", base_of(&app)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_entry_table_names_split_into_type_and_kind() {
        assert_eq!(
            entry_table("crControl").ok(),
            Some(("cr".to_owned(), "control".to_owned()))
        );
        assert_eq!(
            entry_table("INDETAIL").ok(),
            Some(("in".to_owned(), "detail".to_owned()))
        );
        assert_eq!(
            entry_table("allLanding").ok(),
            Some((String::new(), "landing".to_owned()))
        );
        assert!(entry_table("crBogus").is_err());
    }

    #[test]
    fn field_filter_is_kept_alone_for_write_echoes() {
        assert_eq!(
            only_field_filter("limit=5&fieldFilter=ClientID,Name"),
            "fieldFilter=ClientID,Name"
        );
    }
}
