//! Errors are problem+json with a specific, internals-free detail; oversized bodies are 413.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};

use crate::helpers::TestApp;

#[tokio::test]
async fn invalid_json_is_a_400_problem_naming_the_mistake() {
    let app = TestApp::spawn().await;
    let request = Request::builder()
        .method("POST")
        .uri("/api/objects/synchronize")
        .header(header::AUTHORIZATION, format!("Bearer {}", app.acme.key))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"objects\": [ oops"))
        .unwrap();

    let answer = app.send(request).await;

    answer.assert_problem(StatusCode::BAD_REQUEST);
    assert_eq!(answer.json["type"], "urn:ledgerlink:problem:invalid-body");
    assert!(
        answer.json["detail"]
            .as_str()
            .unwrap()
            .contains("not valid JSON")
    );
}

#[tokio::test]
async fn a_body_of_the_wrong_shape_or_media_type_is_a_4xx_problem() {
    let app = TestApp::spawn().await;
    let unknown_field = app
        .post(
            "/api/objects/synchronize",
            &app.acme.key,
            serde_json::json!({"objects": [], "extra": 1}),
        )
        .await;
    let no_content_type = app
        .send(
            Request::builder()
                .method("POST")
                .uri("/api/objects/synchronize")
                .header(header::AUTHORIZATION, format!("Bearer {}", app.acme.key))
                .body(Body::from("{\"objects\": []}"))
                .unwrap(),
        )
        .await;

    unknown_field.assert_problem(StatusCode::BAD_REQUEST);
    assert!(
        unknown_field.json["detail"]
            .as_str()
            .unwrap()
            .contains("extra")
    );
    no_content_type.assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn bodies_over_the_limit_are_413_for_json_and_webhooks() {
    let app = TestApp::spawn().await;
    let big = format!(
        "{{\"objects\": [], \"pad\": \"{}\"}}",
        "x".repeat(1024 * 1024 + 10)
    );
    for (path, auth) in [
        ("/api/objects/synchronize", true),
        ("/webhooks/exact/acme", false),
    ] {
        let mut builder = Request::builder()
            .method("POST")
            .uri(path)
            .header(header::CONTENT_TYPE, "application/json");
        if auth {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {}", app.acme.key));
        }

        let answer = app
            .send(builder.body(Body::from(big.clone())).unwrap())
            .await;

        answer.assert_problem(StatusCode::PAYLOAD_TOO_LARGE);
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let app = TestApp::spawn().await;

    let route = app.get("/api/nothing-here", &app.acme.key).await;
    let method = app
        .call("DELETE", "/api/objects", Some(&app.acme.key), None)
        .await;

    route.assert_problem(StatusCode::NOT_FOUND);
    method.assert_problem(StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn problems_carry_no_internals() {
    let app = TestApp::spawn().await;
    let answers = [
        app.get("/api/objects?cursor=eyJ4Ijp0cnVlfQ", &app.acme.key)
            .await,
        app.get("/api/lookups/tax-codes?cursor=%%%", &app.acme.key)
            .await,
        app.get("/api/jobs/abc$", &app.acme.key).await,
    ];
    for answer in answers {
        assert!(answer.status.is_client_error(), "{}", answer.text());
        let text = answer.text().to_lowercase();
        for leak in [
            "select ",
            "sqlite",
            "rusqlite",
            "storeerror",
            "panicked",
            "src/",
            "{ ",
        ] {
            assert!(!text.contains(leak), "{leak:?} in {text}");
        }
    }
}
