//! Schema fuzz of every operation: requests generated from `openapi.yaml` (valid and invalid path values,
//! query parameters, headers and bodies) are sent to the real router with a valid admin key. Every answer
//! must be below 500, have a status code the operation declares, and a content type that response
//! declares. A seeded generator keeps a failure reproducible (the seed and the request are printed).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, header};
use ledgerlink_api::consent::{ConsentKey, ConsentSettings};
use ledgerlink_api::page::OPENAPI;
use serde_json::{Value, json};

use crate::helpers::TestApp;

/// Requests per operation.
const CASES: usize = 24;
const SEED: u64 = 0x5eed_1ed9_e71a;

/// xorshift64*: small, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n.max(1) as u64)).unwrap_or(0)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// The document as JSON, with `$ref`s resolved on demand.
struct Doc(Value);

impl Doc {
    fn resolve<'a>(&'a self, value: &'a Value) -> &'a Value {
        let mut current = value;
        for _ in 0..8 {
            let Some(reference) = current.get("$ref").and_then(Value::as_str) else {
                return current;
            };
            let mut target = &self.0;
            for part in reference.trim_start_matches("#/").split('/') {
                target = &target[part];
            }
            current = target;
        }
        current
    }
}

const ODD_TEXT: &[&str] = &[
    "",
    " ",
    "x y",
    "%00",
    "../etc",
    "Bad$Id",
    "ééé",
    "9999999999999999999999",
    "-1",
    "null",
    "true",
    "{}",
    "a#b",
];

fn text_value(rng: &mut Rng) -> String {
    match rng.below(6) {
        0 => rng.pick(ODD_TEXT).to_string(),
        1 => "x".repeat(rng.below(400) + 1),
        2 => format!("{}", rng.below(100_000)),
        _ => rng
            .pick(&[
                "acme",
                "customer-summary",
                "21",
                "INV-1",
                "monthly",
                "7",
                "firm",
                "tax-codes",
            ])
            .to_string(),
    }
}

/// A value for a schema: mostly valid, sometimes of the wrong type or out of range.
fn value_for(doc: &Doc, schema: &Value, rng: &mut Rng, depth: u32) -> Value {
    let schema = doc.resolve(schema);
    if rng.chance(10) || depth > 4 {
        return rng
            .pick(&[
                json!(null),
                json!("zz"),
                json!(-1),
                json!(1.5),
                json!([]),
                json!({}),
                json!(true),
            ])
            .clone();
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        return if rng.chance(85) && !options.is_empty() {
            rng.pick(options).clone()
        } else {
            json!("not-a-member")
        };
    }
    for combinator in ["oneOf", "anyOf", "allOf"] {
        if let Some(options) = schema.get(combinator).and_then(Value::as_array)
            && !options.is_empty()
        {
            return value_for(doc, rng.pick(options), rng, depth + 1);
        }
    }
    match schema
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("object")
    {
        "string" => json!(text_value(rng)),
        "integer" => {
            let min = schema.get("minimum").and_then(Value::as_i64).unwrap_or(0);
            let max = schema
                .get("maximum")
                .and_then(Value::as_i64)
                .unwrap_or(1000);
            let spread = u64::try_from((max - min).max(0) + 1).unwrap_or(1);
            if rng.chance(80) {
                json!(min + i64::try_from(rng.next() % spread).unwrap_or(0))
            } else {
                json!(rng.pick(&[-5_i64, 0, 1_000_000, i64::MAX]))
            }
        }
        "number" => json!(rng.below(1000)),
        "boolean" => json!(rng.chance(50)),
        "array" => {
            let items = schema.get("items").cloned().unwrap_or(json!({}));
            let n = rng.below(3);
            Value::Array(
                (0..n)
                    .map(|_| value_for(doc, &items, rng, depth + 1))
                    .collect(),
            )
        }
        _ => {
            let mut object = serde_json::Map::new();
            let required: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                for (name, property) in properties {
                    if required.contains(&name.as_str()) || rng.chance(50) {
                        object.insert(name.clone(), value_for(doc, property, rng, depth + 1));
                    }
                }
            }
            if rng.chance(10) {
                object.insert("unexpected_member".into(), json!(1));
            }
            Value::Object(object)
        }
    }
}

struct Case {
    method: String,
    uri: String,
    headers: Vec<(String, String)>,
    body: Option<(String, Vec<u8>)>,
}

fn generate(
    doc: &Doc,
    path: &str,
    method: &str,
    op: &Value,
    shared: &[Value],
    rng: &mut Rng,
) -> Case {
    let mut uri = path.to_owned();
    let mut query = Vec::new();
    let mut headers = Vec::new();
    let parameters: Vec<&Value> = shared
        .iter()
        .chain(
            op.get("parameters")
                .and_then(Value::as_array)
                .into_iter()
                .flatten(),
        )
        .map(|p| doc.resolve(p))
        .collect();
    for parameter in parameters {
        let name = parameter["name"].as_str().unwrap_or("");
        let schema = parameter
            .get("schema")
            .cloned()
            .unwrap_or(json!({"type": "string"}));
        let value = match value_for(doc, &schema, rng, 0) {
            Value::String(s) => s,
            other => other.to_string(),
        };
        match parameter["in"].as_str() {
            Some("path") => {
                let value = if value.is_empty() {
                    "x".to_owned()
                } else {
                    value
                };
                let encoded: String = value
                    .bytes()
                    .map(|b| {
                        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                            char::from(b).to_string()
                        } else {
                            format!("%{b:02X}")
                        }
                    })
                    .collect();
                uri = uri.replace(&format!("{{{name}}}"), &encoded);
            }
            Some("query") if parameter["required"] == true || rng.chance(60) => {
                query.push(format!(
                    "{name}={}",
                    value
                        .bytes()
                        .map(|b| format!("%{b:02X}"))
                        .collect::<String>()
                ));
            }
            Some("header")
                if rng.chance(50) && value.bytes().all(|b| b.is_ascii_graphic() || b == b' ') =>
            {
                headers.push((name.to_owned(), value));
            }
            _ => {}
        }
    }
    if rng.chance(8) {
        query.push("unknown_parameter=1".into());
    }
    if !query.is_empty() {
        uri = format!("{uri}?{}", query.join("&"));
    }
    let body = op.get("requestBody").map(|b| doc.resolve(b)).and_then(|b| {
        let content = b.get("content")?.as_object()?;
        let (media, spec) = content.iter().next()?;
        let bytes = match rng.below(10) {
            0 => b"{\"broken\": ".to_vec(),
            1 => return Some(("text/plain".to_owned(), b"plain".to_vec())),
            _ if media == "application/json" => {
                let schema = spec.get("schema").cloned().unwrap_or(json!({}));
                value_for(doc, &schema, rng, 0).to_string().into_bytes()
            }
            _ => (0..rng.below(64))
                .map(|_| u8::try_from(rng.next() % 256).unwrap_or(0))
                .collect(),
        };
        Some((media.clone(), bytes))
    });
    Case {
        method: method.to_uppercase(),
        uri,
        headers,
        body,
    }
}

#[tokio::test]
async fn every_operation_answers_generated_requests_without_5xx_and_only_with_declared_statuses_and_types()
 {
    // With consent settings, as a deployment has them (without, the consent routes answer 501).
    let key = ConsentKey::new(b"fuzz-test-consent-state-key-32-bytes".to_vec()).unwrap();
    let app = TestApp::spawn_with("127.0.0.1", |state| {
        state.with_consent(ConsentSettings::new(
            "http://127.0.0.1:9/oauth/exact/callback",
            Arc::new(key),
        ))
    })
    .await;
    let doc: Value = serde_norway::from_str(OPENAPI).expect("openapi.yaml parses");
    let doc = Doc(doc);
    let mut rng = Rng(SEED);
    let mut failures = Vec::new();
    let mut sent = 0_usize;
    let paths = doc.0["paths"].as_object().expect("paths").clone();
    for (path, item) in &paths {
        let shared: Vec<Value> = item
            .get("parameters")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for (method, op) in item.as_object().into_iter().flatten() {
            if !["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                continue;
            }
            let declared: BTreeMap<String, Value> = op["responses"]
                .as_object()
                .map(|r| {
                    r.iter()
                        .map(|(k, v)| (k.clone(), doc.resolve(v).clone()))
                        .collect()
                })
                .unwrap_or_default();
            for _ in 0..CASES {
                let case = generate(&doc, path, method, op, &shared, &mut rng);
                let mut builder = Request::builder()
                    .method(case.method.as_str())
                    .uri(case.uri.as_str())
                    .header(header::AUTHORIZATION, format!("Bearer {}", app.acme.key));
                for (name, value) in &case.headers {
                    builder = builder.header(name.as_str(), value.as_str());
                }
                let request = match &case.body {
                    Some((media, bytes)) => builder
                        .header(header::CONTENT_TYPE, media.as_str())
                        .body(Body::from(bytes.clone())),
                    None => builder.body(Body::empty()),
                };
                let Ok(request) = request else { continue };
                let answer = app.send(request).await;
                sent += 1;
                let code = answer.status.as_u16().to_string();
                let what = format!(
                    "{} {} {:?} -> {} {}",
                    case.method,
                    case.uri,
                    case.body.as_ref().map(|(m, b)| (
                        m,
                        String::from_utf8_lossy(b)
                            .chars()
                            .take(120)
                            .collect::<String>()
                    )),
                    answer.status,
                    answer.text().chars().take(200).collect::<String>()
                );
                if answer.status.is_server_error() {
                    failures.push(format!("5xx: {what}"));
                    continue;
                }
                let Some(response) = declared.get(&code).or_else(|| declared.get("default")) else {
                    failures.push(format!("undeclared status on {method} {path}: {what}"));
                    continue;
                };
                let media = answer
                    .content_type()
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_owned();
                match response.get("content").and_then(Value::as_object) {
                    Some(content) => {
                        if !content.contains_key(&media) {
                            failures.push(format!(
                                "undeclared content type {media:?} on {method} {path}: {what}"
                            ));
                        }
                    }
                    None => {
                        if !answer.bytes.is_empty() {
                            failures.push(format!(
                                "a body ({media:?}) where none is declared on {method} {path}: {what}"
                            ));
                        }
                    }
                }
            }
        }
    }
    assert!(sent > 500, "only {sent} requests were sent");
    failures.sort();
    failures.dedup();
    assert!(
        failures.is_empty(),
        "{} of {sent} answers break the document (seed {SEED:#x}):\n{}",
        failures.len(),
        failures
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
