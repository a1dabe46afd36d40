//! The JSON REST API, through HTTP only: a full journey, every endpoint, every error
//! code, and input that is wrong in every way, on SQLite and PostgreSQL.
#![cfg(feature = "ssr")]
#![allow(clippy::unwrap_used)]

mod common;

#[allow(unused_imports)]
use common::{LiveApp, TestApp};
use serde_json::{Value, json};

fn flow(path: &str, label: &str) -> Value {
    json!({
        "trigger": { "kind": "webhook", "path": path },
        "steps": [{ "kind": "transform", "template": { "version": label, "n": "{{ body.n }}" } }]
    })
}

async fn state_of(app: &TestApp, id: &str) -> Value {
    app.api("GET", &format!("/api/v1/integrations/{id}"), None)
        .await
        .2
}

async fn settles(app: &TestApp, id: &str, state: &str) {
    app.eventually(&format!("{id} is {state} and settled"), || async move {
        let body = state_of(app, id).await;
        body["current_state"] == state && body["pending"] == false
    })
    .await;
}

async fn answers(app: &TestApp, path: &str, label: &str) {
    app.eventually(&format!("/hooks/{path} answers {label}"), || async move {
        app.hook(path, json!({ "n": 1 })).await == (200, json!({ "version": label, "n": 1 }))
    })
    .await;
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("(no error code)")
}

on_both_databases! {
    a_full_journey_through_the_api: LiveApp,
    listing_filters_by_state_and_name_and_pages: TestApp,
    creating_answers_201_with_location_and_etag: TestApp,
    versions_diff_restore_blueprint_and_discard: TestApp,
    a_never_published_integration_is_deleted_with_204: TestApp,
    retry_is_refused_unless_failing: TestApp,
    every_error_code_has_the_one_shape: TestApp,
    an_internal_failure_answers_500_with_only_a_request_id: TestApp,
    validation_errors_list_every_field_with_its_path: TestApp,
    garbage_never_gets_a_5xx: TestApp,
    server_sent_events_report_each_change: TestApp,
    the_openapi_document_lists_every_endpoint_body_and_error: TestApp,
}

async fn a_full_journey_through_the_api(app: LiveApp) {
    let id = app.create("Orders", flow("orders", "v1")).await;
    let base = format!("/api/v1/integrations/{id}");

    let (status, _, published) = app
        .api(
            "POST",
            &format!("{base}/publish"),
            Some(json!({ "note": "first" })),
        )
        .await;
    assert_eq!(
        (status, published["target_state"].as_str()),
        (202, Some("active"))
    );
    answers(&app, "orders", "v1").await;
    settles(&app, &id, "active").await;

    let (_, headers, _) = app.api("GET", &base, None).await;
    let etag = headers["etag"].to_str().unwrap().to_owned();
    let (status, _, saved) = app
        .api_with(
            "PUT",
            &format!("{base}/draft"),
            Some(json!({ "definition": flow("orders", "v2") })),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(
        (status, saved["draft_version"].clone()),
        (200, json!(2)),
        "{saved}"
    );
    assert_eq!(saved["active_version"], 1, "the badge still shows v1");
    app.api("POST", &format!("{base}/publish"), None).await;
    answers(&app, "orders", "v2").await;

    let (status, _, activated) = app
        .api("POST", &format!("{base}/versions/1/activate"), None)
        .await;
    assert_eq!(
        (status, activated["active_version"].clone()),
        (202, json!(1))
    );
    answers(&app, "orders", "v1").await;
    settles(&app, &id, "active").await;

    assert_eq!(app.api("POST", &format!("{base}/stop"), None).await.0, 202);
    settles(&app, &id, "inactive").await;
    assert_eq!(app.hook("orders", json!({})).await.0, 404);
    assert_eq!(app.api("POST", &format!("{base}/start"), None).await.0, 202);
    answers(&app, "orders", "v1").await;
    settles(&app, &id, "active").await;
    assert_eq!(app.api("POST", &format!("{base}/stop"), None).await.0, 202);
    settles(&app, &id, "inactive").await;
    assert_eq!(
        app.api("POST", &format!("{base}/unpublish"), None).await.0,
        202
    );
    settles(&app, &id, "deleted").await;

    let (_, _, log) = app
        .api("GET", &format!("{base}/transitions?per_page=200"), None)
        .await;
    let fields: Vec<String> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|t| {
            format!(
                "{}:{}",
                t["field"].as_str().unwrap(),
                t["to"].as_str().unwrap_or("-")
            )
        })
        .collect();
    for expected in [
        "target_version:1",
        "current_state:active",
        "target_version:2",
        "current_version:2",
        "target_version:1",
        "current_version:1",
        "target_state:inactive",
        "current_state:inactive",
        "target_state:deleted",
        "current_state:deleted",
    ] {
        assert!(
            fields.contains(&expected.to_owned()),
            "{expected} in {fields:?}"
        );
    }
    let (_, _, activity) = app.api("GET", &format!("{base}/activity"), None).await;
    assert!(activity["total"].as_u64().unwrap() >= 3);
}

async fn listing_filters_by_state_and_name_and_pages(app: TestApp) {
    for name in ["Orders EU", "Orders US", "Invoices"] {
        app.create(name, flow(&name.to_lowercase().replace(' ', "-"), "x"))
            .await;
    }

    let (_, _, all) = app
        .api("GET", "/api/v1/integrations?per_page=2", None)
        .await;
    let (_, _, orders) = app.api("GET", "/api/v1/integrations?q=ORDERS", None).await;
    let (_, _, drafts) = app
        .api("GET", "/api/v1/integrations?state=draft&q=inv", None)
        .await;
    let (_, _, none) = app
        .api("GET", "/api/v1/integrations?state=active", None)
        .await;

    assert_eq!(
        (all["total"].clone(), all["items"].as_array().unwrap().len()),
        (json!(3), 2)
    );
    assert_eq!(orders["total"], 2);
    assert_eq!(drafts["items"][0]["name"], "Invoices");
    assert_eq!(none["total"], 0);
    let (status, _, bad) = app
        .api("GET", "/api/v1/integrations?state=error-ish", None)
        .await;
    assert_eq!((status, code(&bad)), (422, "validation_failed"));
}

async fn creating_answers_201_with_location_and_etag(app: TestApp) {
    let (status, headers, body) = app
        .api(
            "POST",
            "/api/v1/integrations",
            Some(json!({ "name": "Orders" })),
        )
        .await;

    assert_eq!(status, 201);
    assert_eq!(
        headers["location"].to_str().unwrap(),
        format!("/api/v1/integrations/{}", body["id"].as_str().unwrap())
    );
    assert_eq!(
        headers["etag"].to_str().unwrap(),
        format!("\"{}\"", body["revision"])
    );
    for field in [
        "id",
        "name",
        "description",
        "current_state",
        "target_state",
        "pending",
        "active_version",
        "current_version",
        "draft_version",
        "revision",
        "reconcile",
        "created_at",
        "updated_at",
    ] {
        assert!(body.get(field).is_some(), "{field} in {body}");
    }
    assert_eq!(
        body["reconcile"],
        json!({ "phase": null, "attempts": 0, "next_attempt_at": null, "last_error": null, "gave_up": false })
    );
}

async fn versions_diff_restore_blueprint_and_discard(app: TestApp) {
    let id = app.create("Orders", flow("orders", "v1")).await;
    let base = format!("/api/v1/integrations/{id}");
    app.api("POST", &format!("{base}/publish"), None).await;
    let etag = format!("\"{}\"", state_of(&app, &id).await["revision"]);
    app.api_with(
        "PUT",
        &format!("{base}/draft"),
        Some(json!({ "definition": flow("orders", "v2") })),
        &[("if-match", &etag)],
    )
    .await;

    let (_, _, versions) = app.api("GET", &format!("{base}/versions"), None).await;
    let (_, _, v1) = app.api("GET", &format!("{base}/versions/1"), None).await;
    let (_, _, diff) = app
        .api("GET", &format!("{base}/versions/1/diff/2"), None)
        .await;
    let (status, _, restored) = app
        .api("POST", &format!("{base}/versions/1/restore"), None)
        .await;
    let (copy_status, copy_headers, copy) = app
        .api(
            "POST",
            &format!("{base}/versions/1/blueprint"),
            Some(json!({ "name": "Orders copy" })),
        )
        .await;
    let (discard_status, _, _) = app.api("DELETE", &format!("{base}/draft"), None).await;

    assert_eq!(
        versions["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["draft"].clone())
            .collect::<Vec<_>>(),
        [json!(true), json!(false)]
    );
    assert_eq!(v1["definition"], flow("orders", "v1"));
    assert_eq!(v1["content_hash"].as_str().unwrap().len(), 64);
    assert_eq!(diff["identical"], false);
    assert!(
        diff["unified"]
            .as_str()
            .unwrap()
            .contains("-        \"version\": \"v1\""),
        "{}",
        diff["unified"]
    );
    assert_eq!(
        (
            status,
            restored["number"].clone(),
            restored["draft"].clone()
        ),
        (200, json!(2), json!(true))
    );
    assert_eq!(restored["definition"], flow("orders", "v1"));
    assert_eq!(copy_status, 201);
    assert!(copy_headers.contains_key("location"));
    assert_eq!(copy["draft_version"], 1);
    assert_eq!(discard_status, 204);
    assert_eq!(state_of(&app, &id).await["draft_version"], Value::Null);
}

async fn a_never_published_integration_is_deleted_with_204(app: TestApp) {
    let id = app.create("Orders", flow("orders", "v1")).await;

    let (status, _, _) = app
        .api("DELETE", &format!("/api/v1/integrations/{id}"), None)
        .await;

    assert_eq!(status, 204);
    assert_eq!(
        app.api("GET", &format!("/api/v1/integrations/{id}"), None)
            .await
            .0,
        404
    );
}

async fn retry_is_refused_unless_failing(app: TestApp) {
    let id = app.create("Orders", flow("orders", "v1")).await;

    let (status, _, body) = app
        .api("POST", &format!("/api/v1/integrations/{id}/retry"), None)
        .await;

    assert_eq!((status, code(&body)), (409, "invalid_transition"));
    assert_eq!(body["error"]["details"]["current_state"], "draft");
    assert_eq!(
        body["error"]["details"]["allowed_actions"],
        json!(["publish", "delete", "edit"])
    );
}

async fn every_error_code_has_the_one_shape(app: TestApp) {
    let id = app.create("Orders", flow("orders", "v1")).await;
    let base = format!("/api/v1/integrations/{id}");
    let huge = "x".repeat(2 * 1024 * 1024);

    let cases: Vec<(u16, &str, (u16, reqwest::header::HeaderMap, Value))> = vec![
        (
            400,
            "malformed_request",
            app.api("POST", "/api/v1/integrations", Some(json!({ "name": 5 })))
                .await,
        ),
        (
            404,
            "not_found",
            app.api(
                "GET",
                "/api/v1/integrations/00000000-0000-4000-8000-000000000000",
                None,
            )
            .await,
        ),
        (
            409,
            "invalid_transition",
            app.api("POST", &format!("{base}/stop"), None).await,
        ),
        (
            412,
            "revision_mismatch",
            app.api_with(
                "PUT",
                &format!("{base}/draft"),
                Some(json!({ "definition": flow("orders", "x") })),
                &[("if-match", "\"999\"")],
            )
            .await,
        ),
        (
            428,
            "revision_mismatch",
            app.api(
                "PUT",
                &format!("{base}/draft"),
                Some(json!({ "definition": flow("orders", "x") })),
            )
            .await,
        ),
        (
            422,
            "validation_failed",
            app.api("POST", "/api/v1/integrations", Some(json!({ "name": "" })))
                .await,
        ),
        (
            413,
            "payload_too_large",
            app.api(
                "POST",
                "/api/v1/integrations",
                Some(json!({ "name": huge })),
            )
            .await,
        ),
    ];

    for (status, expected, (got, _, body)) in cases {
        assert_eq!((got, code(&body)), (status, expected), "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{body}"
        );
        assert!(body["error"]["details"].is_object(), "{body}");
    }
}

async fn an_internal_failure_answers_500_with_only_a_request_id(app: TestApp) {
    // A closed pool is a database that went away under the server.
    app.store.close().await;

    let (status, headers, body) = app.api("GET", "/api/v1/integrations", None).await;

    assert_eq!((status, code(&body)), (500, "internal"));
    let request_id = body["error"]["details"]["request_id"].as_str().unwrap();
    assert_eq!(
        headers["x-request-id"].to_str().unwrap(),
        request_id,
        "the id in the log is the one in the header"
    );
    let text = body.to_string().to_lowercase();
    assert!(
        !text.contains("pool") && !text.contains("sqlx"),
        "no internals: {body}"
    );
}

async fn validation_errors_list_every_field_with_its_path(app: TestApp) {
    let (status, _, body) = app.api("POST", "/api/v1/integrations", Some(json!({
        "name": " ", "definition": { "trigger": { "kind": "webhook", "path": "UPPER" }, "steps": [{ "kind": "http", "method": "POST", "url": "x" }] }
    }))).await;

    assert_eq!(status, 422);
    let paths: Vec<_> = body["error"]["details"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        ["name", "definition.trigger.path", "definition.steps[0].url"]
    );
}

async fn garbage_never_gets_a_5xx(app: TestApp) {
    let id = app.create("Orders", flow("orders", "v1")).await;
    let base = format!("/api/v1/integrations/{id}");
    let raw =
        |method: &'static str, path: String, body: &'static str, content_type: &'static str| {
            let request = app
                .client
                .request(
                    reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                    app.url(&path),
                )
                .header("content-type", content_type)
                .body(body);
            async move { request.send().await.unwrap().status().as_u16() }
        };

    let statuses = vec![
        (
            "not JSON",
            raw(
                "POST",
                "/api/v1/integrations".into(),
                "{oops",
                "application/json",
            )
            .await,
        ),
        (
            "wrong content type",
            raw(
                "POST",
                "/api/v1/integrations".into(),
                "name=x",
                "application/x-www-form-urlencoded",
            )
            .await,
        ),
        (
            "unknown field",
            raw(
                "POST",
                "/api/v1/integrations".into(),
                r#"{"name":"a","colour":"red"}"#,
                "application/json",
            )
            .await,
        ),
        (
            "array body",
            raw(
                "POST",
                "/api/v1/integrations".into(),
                "[1,2]",
                "application/json",
            )
            .await,
        ),
        (
            "negative version",
            app.api("GET", &format!("{base}/versions/-1"), None).await.0,
        ),
        (
            "huge version",
            app.api(
                "GET",
                &format!("{base}/versions/99999999999999999999"),
                None,
            )
            .await
            .0,
        ),
        (
            "zero version",
            app.api("POST", &format!("{base}/versions/0/activate"), None)
                .await
                .0,
        ),
        (
            "word version",
            app.api("GET", &format!("{base}/versions/latest/diff/1"), None)
                .await
                .0,
        ),
        (
            "non-UUID id",
            app.api("GET", "/api/v1/integrations/12345", None).await.0,
        ),
        (
            "non-UUID action",
            app.api("POST", "/api/v1/integrations/../stop", None)
                .await
                .0,
        ),
        (
            "bad page",
            app.api("GET", "/api/v1/integrations?page=-3", None).await.0,
        ),
        (
            "unknown query",
            app.api("GET", "/api/v1/integrations?colour=red", None)
                .await
                .0,
        ),
        (
            "unknown path",
            app.api("GET", "/api/v1/nothing/here", None).await.0,
        ),
        ("wrong method", app.api("PATCH", &base, None).await.0),
        (
            "publish garbage",
            raw(
                "POST",
                format!("{base}/publish"),
                "{\"note\": 3}",
                "application/json",
            )
            .await,
        ),
        (
            "bad if-match",
            app.api_with(
                "PUT",
                &format!("{base}/draft"),
                Some(json!({ "definition": {} })),
                &[("if-match", "soon")],
            )
            .await
            .0,
        ),
        (
            "draft without definition",
            app.api_with(
                "PUT",
                &format!("{base}/draft"),
                Some(json!({ "name": "x" })),
                &[("if-match", "\"1\"")],
            )
            .await
            .0,
        ),
    ];

    for (what, status) in statuses {
        assert!((400..500).contains(&status), "{what}: {status}");
    }
}

async fn server_sent_events_report_each_change(app: TestApp) {
    let mut events = app
        .client
        .get(app.url("/api/v1/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(events.headers()["content-type"], "text/event-stream");

    let id = app.create("Orders", flow("orders", "v1")).await;

    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !seen.contains(&id) {
        let chunk = tokio::time::timeout_at(deadline, events.chunk())
            .await
            .expect("an event arrives")
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains("event: integration"), "{seen}");
    assert!(seen.contains("\"current_state\":\"draft\""), "{seen}");
}

async fn the_openapi_document_lists_every_endpoint_body_and_error(app: TestApp) {
    let (status, _, document) = app.api("GET", "/api/openapi.json", None).await;
    assert_eq!(status, 200);
    // .ci/test hands this file to a full OpenAPI validator.
    if let Ok(path) = std::env::var("JUNCTION_OPENAPI_OUT") {
        std::fs::write(path, serde_json::to_string_pretty(&document).unwrap()).unwrap();
    }

    let spec: oas3::OpenApiV3Spec =
        serde_json::from_value(document.clone()).expect("a valid OpenAPI 3 document");

    assert!(spec.openapi.starts_with("3."));
    let paths = spec.paths.unwrap();
    for (path, methods) in [
        ("/api/v1/integrations", vec!["get", "post"]),
        ("/api/v1/integrations/{id}", vec!["get", "delete"]),
        ("/api/v1/integrations/{id}/draft", vec!["put", "delete"]),
        ("/api/v1/integrations/{id}/publish", vec!["post"]),
        ("/api/v1/integrations/{id}/stop", vec!["post"]),
        ("/api/v1/integrations/{id}/start", vec!["post"]),
        ("/api/v1/integrations/{id}/unpublish", vec!["post"]),
        ("/api/v1/integrations/{id}/retry", vec!["post"]),
        ("/api/v1/integrations/{id}/versions", vec!["get"]),
        ("/api/v1/integrations/{id}/versions/{n}", vec!["get"]),
        (
            "/api/v1/integrations/{id}/versions/{n}/activate",
            vec!["post"],
        ),
        (
            "/api/v1/integrations/{id}/versions/{n}/restore",
            vec!["post"],
        ),
        (
            "/api/v1/integrations/{id}/versions/{n}/blueprint",
            vec!["post"],
        ),
        (
            "/api/v1/integrations/{id}/versions/{a}/diff/{b}",
            vec!["get"],
        ),
        ("/api/v1/integrations/{id}/transitions", vec!["get"]),
        ("/api/v1/integrations/{id}/activity", vec!["get"]),
        ("/api/v1/events", vec!["get"]),
    ] {
        let item = paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} is documented"));
        for method in methods {
            let json = &document["paths"][path][method];
            assert!(json.is_object(), "{method} {path} is documented");
            let _ = item;
        }
    }
    let schemas = &document["components"]["schemas"];
    for schema in [
        "IntegrationJson",
        "VersionJson",
        "ErrorBody",
        "CreateBody",
        "DraftBody",
        "DiffJson",
    ] {
        assert!(schemas[schema].is_object(), "{schema} is in the components");
    }
    assert!(
        document["paths"]["/api/v1/integrations/{id}/draft"]["put"]["responses"]["428"].is_object()
    );
}
