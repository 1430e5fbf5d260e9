//! The `export-job` function is wired for every export it accepts: the REAL binary, run as Lambda runs it
//! (a Runtime API on 127.0.0.1 hands it one SQS batch), with its state in DynamoDB/S3/SQS on moto's server,
//! its secrets through a stand-in of the Parameters and Secrets extension, and the tenant's connections on
//! the Exact Online and Vantagepoint emulators. The batch holds one export job of EVERY source the jobs crate
//! offers (store, Vantagepoint, ledger, both); the function must report no failed item and every job must be
//! finished. A wiring that leaves out the connections (or the `ALLOWED_ERP_HOSTS` setting the template gives
//! every function) fails the VP and ledger sources, and this test with them.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use ledgerlink_clock::SystemClock;
use ledgerlink_domain::{Division, Flow, TenantId};
use ledgerlink_emulators::exact::demo::DemoSpec;
use ledgerlink_emulators::exact::{ExactConfig as ExactEmulatorConfig, ExactEmulator};
use ledgerlink_emulators::vantagepoint::demo::DemoOptions;
use ledgerlink_emulators::vantagepoint::{VantagepointConfig, VantagepointEmulator};
use ledgerlink_exact::{ClientPorts, ExactClient, ExactConfig, Secret};
use ledgerlink_flows::SecretValue;
use ledgerlink_jobs::{
    ExportColumn, ExportDefinition, ExportFormat, ExportSource, Exporter, JobsContext, SOURCES,
};
use ledgerlink_ports::{ConnectionState, JobStatus, SecretRef, Tenant};
use ledgerlink_store_aws::config::queue_url_var;
use ledgerlink_store_aws::{
    AwsClients, AwsSettings, AwsStores, ResourcePlan, StaticCredentials, create_resources,
    create_token_key,
};
use ledgerlink_testkit::{
    TEST_ACCESS_KEY_ID, TEST_REGION, TEST_SECRET_ACCESS_KEY, moto, unique_name,
};
use serde_json::{Value, json};

const BINARY: &str = env!("CARGO_BIN_EXE_export-job");
const SESSION_TOKEN: &str = "wiring-test-session-token";
const PREFIX: &str = "ledgerlink/";

/// What the Runtime API stand-in hands out and receives.
#[derive(Default)]
struct Runtime {
    events: Mutex<Vec<(String, Value)>>,
    answers: Mutex<Vec<(String, Result<Value, String>)>>,
}

async fn next(State(rt): State<Arc<Runtime>>) -> impl IntoResponse {
    let event = rt.events.lock().unwrap().pop();
    match event {
        Some((id, payload)) => {
            let mut headers = HeaderMap::new();
            headers.insert("lambda-runtime-aws-request-id", id.parse().unwrap());
            let deadline = chrono::Utc::now().timestamp_millis() + 300_000;
            headers.insert(
                "lambda-runtime-deadline-ms",
                deadline.to_string().parse().unwrap(),
            );
            headers.insert(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:000000000000:function:export-job"
                    .parse()
                    .unwrap(),
            );
            (StatusCode::OK, headers, payload.to_string()).into_response()
        }
        // No more work: the function waits (as it would for the next event) until it is stopped.
        None => std::future::pending::<axum::response::Response>().await,
    }
}

async fn response(
    State(rt): State<Arc<Runtime>>,
    Path(id): Path<String>,
    body: String,
) -> StatusCode {
    let value = serde_json::from_str(&body).unwrap_or(Value::Null);
    rt.answers.lock().unwrap().push((id, Ok(value)));
    StatusCode::ACCEPTED
}

async fn error(State(rt): State<Arc<Runtime>>, Path(id): Path<String>, body: String) -> StatusCode {
    rt.answers.lock().unwrap().push((id, Err(body)));
    StatusCode::ACCEPTED
}

async fn init_error(State(rt): State<Arc<Runtime>>, body: String) -> StatusCode {
    rt.answers.lock().unwrap().push(("init".into(), Err(body)));
    StatusCode::ACCEPTED
}

/// The Parameters and Secrets extension's Secrets Manager read, from a map, checking the session token.
async fn secret(
    State(secrets): State<Arc<BTreeMap<String, String>>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> axum::response::Response {
    if headers
        .get("x-aws-parameters-secrets-token")
        .and_then(|v| v.to_str().ok())
        != Some(SESSION_TOKEN)
    {
        return StatusCode::FORBIDDEN.into_response();
    }
    let id = query.get("secretId").cloned().unwrap_or_default();
    match secrets.get(&id) {
        Some(value) => axum::Json(json!({"Name": id, "SecretString": value})).into_response(),
        None => StatusCode::BAD_REQUEST.into_response(),
    }
}

async fn serve(router: Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

fn definition_of(kind: &str, field: &str) -> ExportDefinition {
    let source = match kind {
        "lookup" => json!({"kind": kind, "table": "tax-codes"}),
        "jobs" => json!({"kind": kind, "job_kind": "export"}),
        _ => json!({"kind": kind}),
    };
    let source: ExportSource = serde_json::from_value(source).unwrap();
    ExportDefinition {
        id: format!("wiring-{kind}"),
        name: format!("Wiring {kind}"),
        description: String::new(),
        source,
        columns: vec![ExportColumn::new(field, "Value")],
        filter: vec![],
        format: ExportFormat::Csv,
        file_name: None,
        schedule: None,
        updated_by: String::new(),
        updated_at: None,
        version: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_job_function_runs_an_export_of_every_source_the_jobs_crate_offers() {
    // State on moto: table, bucket and the export-job queue.
    let server = moto();
    let mut settings = AwsSettings::local(
        &server.endpoint_url(),
        TEST_REGION,
        StaticCredentials {
            access_key_id: TEST_ACCESS_KEY_ID.to_owned(),
            secret_access_key: TEST_SECRET_ACCESS_KEY.to_owned(),
        },
    );
    settings.table_name = unique_name("ll-wiring");
    settings.bucket_name = unique_name("ll-wiring");
    let clients = AwsClients::build(&settings).await;
    settings.queues = create_resources(
        &clients,
        &ResourcePlan {
            table: settings.table_name.clone(),
            bucket: settings.bucket_name.clone(),
            queue_prefix: unique_name("ll"),
            flows: vec![Flow::ExportJob],
            max_receive_count: 3,
            kms_key_id: None,
        },
    )
    .await
    .unwrap();
    settings.token_kms_key_id = Some(create_token_key(&clients).await.unwrap());
    let aws = AwsStores::new(&clients, &settings);
    let clock = SystemClock::shared();
    let tenant = TenantId::parse("acme").unwrap();

    // The ERPs: both emulators with their demo data.
    let vp = VantagepointEmulator::new(VantagepointConfig::default());
    let vp_server = vp.spawn().await.unwrap();
    let vp_demo = DemoOptions::default();
    vp.load_demo(&vp_demo).unwrap();
    let vp_base = format!("{}{}", vp_server.base_url(), vp.config().instance_path);
    let exact = ExactEmulator::new(ExactEmulatorConfig::default());
    let exact_server = exact.spawn().await.unwrap();
    let exact_demo =
        ledgerlink_emulators::exact::demo::generate(&exact, &DemoSpec::default()).unwrap();
    let exact_base = exact_server.base_url();

    // The secrets, as the connections API stores them: bound to the host they are for.
    let name = |field: &str| format!("{PREFIX}{tenant}/{field}");
    let vp_issuer = ledgerlink_vantagepoint::issuer(&vp_base).unwrap();
    let exact_issuer = ledgerlink_exact::issuer(&exact_base).unwrap();
    let secrets = BTreeMap::from([
        (
            name("vantagepoint/client_secret"),
            SecretValue::bound(vp.config().client_secret.clone(), vp_issuer.clone()).to_stored(),
        ),
        (
            name("vantagepoint/password"),
            SecretValue::bound(vp_demo.password.clone(), vp_issuer).to_stored(),
        ),
        (
            name("exact/client_secret"),
            SecretValue::bound(exact_demo.client_secret.clone(), exact_issuer).to_stored(),
        ),
        (
            name("exact/webhook_secret"),
            exact_demo.webhook_secret.clone(),
        ),
    ]);
    let extension = serve(
        Router::new()
            .route("/secretsmanager/get", get(secret))
            .with_state(Arc::new(secrets)),
    )
    .await;

    // The tenant, connected to both.
    let record = Tenant {
        id: tenant.clone(),
        name: "Acme".into(),
        vp_base_url: vp_base.clone(),
        vp_database: vp.config().database.clone(),
        vp_culture: "en-US".into(),
        vp_client_id: vp.config().client_id.clone(),
        vp_client_secret: SecretRef::SecretsManager(name("vantagepoint/client_secret")),
        vp_username: vp_demo.username.clone(),
        vp_password: SecretRef::SecretsManager(name("vantagepoint/password")),
        exact_base_url: exact_base.clone(),
        exact_division: Division(u32::try_from(exact_demo.division).unwrap()),
        exact_client_id: exact_demo.client_id.clone(),
        exact_client_secret: SecretRef::SecretsManager(name("exact/client_secret")),
        exact_webhook_secret: SecretRef::SecretsManager(name("exact/webhook_secret")),
        state: ConnectionState::Active,
        paused_reason: None,
        settings: BTreeMap::new(),
        version: 0,
        updated_at: chrono::Utc::now(),
    };
    aws.state.tenants.put(&record, None).await.unwrap();
    // Exact's consent, once: the emulator's authorize page consents and redirects with a code, which the
    // client exchanges; the tokens land in the table's token store.
    let config = ExactConfig::new(
        &exact_base,
        record.exact_division,
        exact_demo.client_id.clone(),
        Secret::new(exact_demo.client_secret.clone()),
        exact_demo.redirect_uri.clone(),
        &tenant,
    )
    .unwrap();
    let consent = config.authorization_url("wiring-test");
    let client = ExactClient::new(
        config,
        ClientPorts {
            tokens: aws.state.tokens.clone(),
            rate: aws.state.rate.clone(),
            clock: clock.clone(),
        },
        None,
    )
    .unwrap();
    let redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(&consent)
        .send()
        .await
        .unwrap();
    let location = url::Url::parse(
        redirect
            .headers()
            .get(reqwest::header::LOCATION)
            .unwrap()
            .to_str()
            .unwrap(),
    )
    .unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    client
        .tokens()
        .exchange_authorization_code(&code)
        .await
        .unwrap();

    // One export job per source, started as the API starts them (queued for the function).
    let exporter = Exporter::new(JobsContext::new(
        aws.state.clone(),
        aws.storage.clone(),
        aws.queue.clone(),
        clock.clone(),
    ));
    let mut jobs = Vec::new();
    let mut records = Vec::new();
    for source in SOURCES {
        let definition = definition_of(source.kind, source.fields[0]);
        exporter
            .definitions()
            .create(&tenant, &definition, "wiring-test")
            .await
            .unwrap();
        let job = exporter
            .start(&tenant, &definition.id, "wiring-test")
            .await
            .unwrap();
        jobs.push((source, job.id));
    }

    // The messages the starts queued, as SQS hands them to the function (one batch).
    loop {
        let got = aws
            .queue
            .receive(Flow::ExportJob, 10, Duration::from_secs(300))
            .await
            .unwrap();
        if got.is_empty() {
            break;
        }
        for m in got {
            records.push(json!({
                "messageId": format!("m-{}", records.len()), "receiptHandle": m.receipt,
                "body": serde_json::to_string(&m.message).unwrap(),
                "attributes": {}, "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:export-job", "awsRegion": TEST_REGION,
            }));
        }
    }
    assert_eq!(records.len(), jobs.len(), "one message per started export");

    // The function, as Lambda runs it.
    let runtime = Arc::new(Runtime::default());
    runtime
        .events
        .lock()
        .unwrap()
        .push(("request-1".into(), json!({ "Records": records })));
    let runtime_api = serve(
        Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(runtime.clone()),
    )
    .await;
    let mut command = tokio::process::Command::new(BINARY);
    command
        .env_clear()
        .envs(server.sdk_env())
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "export-job")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/export-job")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "wiring")
        .env("AWS_SESSION_TOKEN", SESSION_TOKEN)
        .env(
            "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT",
            extension.port().to_string(),
        )
        .env("TABLE_NAME", &settings.table_name)
        .env("BUCKET_NAME", &settings.bucket_name)
        .env(
            "TOKEN_KMS_KEY_ID",
            settings.token_kms_key_id.as_deref().unwrap(),
        )
        .env(
            queue_url_var(Flow::ExportJob),
            &settings.queues[&Flow::ExportJob].url,
        )
        .env("EXACT_REDIRECT_URI", &exact_demo.redirect_uri)
        .env("SECRETS_PREFIX", PREFIX)
        .env("ALLOWED_ERP_HOSTS", "127.0.0.1")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while runtime.answers.lock().unwrap().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the function answered nothing within two minutes"
        );
        if let Ok(Some(status)) = child.try_wait() {
            let out = child.wait_with_output().await.unwrap();
            panic!(
                "the function exited ({status}): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    child.kill().await.unwrap();
    let logs = child.wait_with_output().await.unwrap();
    let logs = String::from_utf8_lossy(&logs.stderr);
    let (id, answer) = runtime.answers.lock().unwrap().remove(0);

    assert_eq!(id, "request-1", "{answer:?}");
    let answer = answer.unwrap_or_else(|e| panic!("the invocation failed: {e}\n{logs}"));
    let mut failures: Vec<String> = answer["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("item {} failed", f["itemIdentifier"]))
        .collect();
    for (source, id) in &jobs {
        let job = exporter.job(&tenant, id).await.unwrap();
        if job.status != JobStatus::Finished {
            failures.push(format!(
                "{} (reads {}): {:?} {}",
                source.kind,
                source.reads,
                job.status,
                job.fail_reason.unwrap_or_default()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "exports the export-job function accepts but cannot run:\n{}\n{logs}",
        failures.join("\n")
    );
    drop((vp_server, exact_server));
}
