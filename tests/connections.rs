//! Connections through the API: secrets go in and never come out (not in an answer, a
//! page, the audit, a version or the database in clear); editors manage them, viewers
//! see names and kinds, only administrators open private addresses; Test connection
//! names the cause; one that an active integration uses cannot be deleted. On SQLite
//! and PostgreSQL.
#![cfg(feature = "ssr")]
#![allow(clippy::unwrap_used)]

mod common;

use common::targets::{Engine, Target};
use common::{ClosedApp, LiveApp, TestApp};
use junction::domain::access::Role;
use serde_json::{Value, json};
use sqlx::Row;

on_both_databases! {
    a_connections_secret_is_answered_only_as_set_and_kept_by_the_marker: TestApp,
    a_secret_is_found_in_no_answer_page_audit_version_or_clear_column: LiveApp,
    editors_manage_connections_viewers_see_names_and_only_admins_open_private_addresses: TestApp,
    test_connection_names_a_wrong_password_an_unknown_host_and_a_refusal: TestApp,
    a_connection_an_active_integration_uses_cannot_be_deleted: LiveApp,
    a_definition_naming_a_missing_or_unfit_connection_is_refused_at_its_place: TestApp,
    the_egress_policy_refuses_a_private_database_until_an_admin_allows_it: ClosedApp,
    an_http_step_through_a_connection_sends_its_authentication_and_shows_none: ClosedApp,
}

const PASSWORD: &str = "pg-Secret-4e1b9c";

fn postgres(name: &str, password: &str) -> Value {
    let url = url::Url::parse(&common::postgres_admin_url()).unwrap();
    json!({
        "name": name, "kind": "postgres",
        "settings": { "host": url.host_str().unwrap(), "port": url.port().unwrap_or(5432),
                      "database": url.path().trim_start_matches('/'), "user": url.username(), "tls": "disable" },
        "secrets": { "password": password },
        "allow_private": true,
    })
}

/// Makes the connection `orders-db` and an integration `name` whose webhook at `path`
/// runs `SELECT 1 AS one` on it; answers its id once it runs.
async fn running_on_orders_db(app: &LiveApp, name: &str, path: &str) -> String {
    let (status, _, created) = app
        .api(
            "POST",
            "/api/v1/connections",
            Some(postgres("orders-db", PASSWORD)),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    app.running(
        name,
        json!({
            "trigger": { "kind": "webhook", "path": path },
            "steps": [{ "kind": "sql", "connection": "orders-db", "query": "SELECT 1 AS one" }]
        }),
    )
    .await
}

async fn a_connections_secret_is_answered_only_as_set_and_kept_by_the_marker(app: TestApp) {
    let (status, headers, created) = app
        .api(
            "POST",
            "/api/v1/connections",
            Some(postgres("orders-db", PASSWORD)),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(headers["location"], "/api/v1/connections/orders-db");
    assert_eq!(created["secrets"], json!({ "password": { "set": true } }));
    assert_eq!(
        created["settings"]["database"],
        json!(
            url::Url::parse(&common::postgres_admin_url())
                .unwrap()
                .path()
                .trim_start_matches('/')
        )
    );
    assert_eq!(created["revision"], 1);

    let mut change = postgres("orders-db", "");
    change["secrets"] = json!({ "password": { "set": true } });
    change["settings"]["port"] = json!(5433);
    let (status, _, changed) = app
        .api("PUT", "/api/v1/connections/orders-db", Some(change))
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["revision"], 2);
    assert_eq!(changed["secrets"]["password"], json!({ "set": true }));
    let stored = app.store.open_connection("orders-db").await.unwrap();
    assert_eq!(stored.secrets["password"], PASSWORD, "the marker kept it");

    let mut cleared = postgres("orders-db", "");
    cleared["secrets"] = json!({ "password": null });
    let (_, _, cleared) = app
        .api("PUT", "/api/v1/connections/orders-db", Some(cleared))
        .await;
    assert_eq!(cleared["secrets"]["password"], json!({ "set": false }));

    let (status, _, taken) = app
        .api(
            "POST",
            "/api/v1/connections",
            Some(postgres("orders-db", PASSWORD)),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(taken["error"]["details"]["fields"][0]["path"], "name");
}

async fn a_secret_is_found_in_no_answer_page_audit_version_or_clear_column(app: LiveApp) {
    let id = running_on_orders_db(&app, "uses it", "uses-it").await;
    let (status, answer) = app.hook("uses-it", json!({})).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["rows"], json!([{ "one": 1 }]));
    app.api("POST", "/api/v1/connections/orders-db/test", None)
        .await;
    app.eventually("the call is in the activity", || async {
        let (_, _, activity) = app
            .api("GET", &format!("/api/v1/integrations/{id}/activity"), None)
            .await;
        activity["total"] == 1
    })
    .await;

    let mut seen = String::new();
    for path in [
        "/api/v1/connections".to_owned(),
        "/api/v1/connections/orders-db".to_owned(),
        format!("/api/v1/integrations/{id}"),
        format!("/api/v1/integrations/{id}/versions/1"),
        format!("/api/v1/integrations/{id}/transitions"),
        format!("/api/v1/integrations/{id}/activity"),
        "/api/v1/audit".to_owned(),
        "/api/openapi.json".to_owned(),
    ] {
        let (status, _, answer) = app.api("GET", &path, None).await;
        assert_eq!(status, 200, "{path}: {answer}");
        seen.push_str(&answer.to_string());
    }
    for page in ["/connections", &format!("/integrations/{id}"), "/audit"] {
        let (status, html) = app.get_page(page).await;
        assert_eq!(status, 200, "{page}");
        seen.push_str(&html);
    }
    assert!(seen.contains("orders-db"), "the outputs were read");
    assert!(!seen.contains(PASSWORD), "a secret was shown");

    let rows = sqlx::query("SELECT settings, secrets, secret_names FROM connections")
        .fetch_all(app.store.pool())
        .await
        .unwrap();
    let stored: String = rows
        .iter()
        .map(|row| {
            let columns: [String; 3] = [
                row.try_get(0).unwrap(),
                row.try_get(1).unwrap(),
                row.try_get(2).unwrap(),
            ];
            columns.join(" ")
        })
        .collect();
    assert!(stored.contains("v1:"), "{stored}");
    assert!(!stored.contains(PASSWORD), "the database holds it in clear");
}

async fn editors_manage_connections_viewers_see_names_and_only_admins_open_private_addresses(
    app: TestApp,
) {
    let editor = app.client_as("eddie", Role::Editor).await;
    let viewer = app.client_as("vera", Role::Viewer).await;
    let send = |client: &reqwest::Client, method: &str, path: &str, body: Option<Value>| {
        let mut request = client.request(method.parse().unwrap(), app.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };

    let (status, refused) = send(
        &editor,
        "POST",
        "/api/v1/connections",
        Some(postgres("a", PASSWORD)),
    )
    .await;
    assert_eq!(status, 403, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("editor role")
    );
    let mut closed = postgres("a", PASSWORD);
    closed["allow_private"] = json!(false);
    let (status, created) = send(&editor, "POST", "/api/v1/connections", Some(closed)).await;
    assert_eq!(status, 201, "{created}");
    let sqlite = json!({ "name": "file", "kind": "sqlite", "settings": { "path": "/tmp/x.db" } });
    let (status, _) = send(&editor, "POST", "/api/v1/connections", Some(sqlite)).await;
    assert_eq!(status, 403, "a file on the server is the admins' to open");
    let own = app
        .data_dir
        .path()
        .join("junction.db")
        .display()
        .to_string();
    let (status, _, refused) = app
        .api(
            "POST",
            "/api/v1/connections",
            Some(json!({ "name": "own", "kind": "sqlite", "settings": { "path": own } })),
        )
        .await;
    assert_eq!(status, 422, "not even an admin opens Junction's own files");
    assert!(refused.to_string().contains("data directory"), "{refused}");

    let (status, listed) = send(&viewer, "GET", "/api/v1/connections", None).await;
    assert_eq!(status, 200);
    assert_eq!(listed[0]["name"], "a");
    assert_eq!(listed[0]["kind"], "postgres");
    assert!(listed[0].get("settings").is_none(), "{listed}");
    let (status, _) = send(&viewer, "POST", "/api/v1/connections/a/test", None).await;
    assert_eq!(status, 403);
    let (status, _) = send(&viewer, "DELETE", "/api/v1/connections/a", None).await;
    assert_eq!(status, 403);

    let (_, _, audit) = app.api("GET", "/api/v1/audit", None).await;
    let events: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|entry| entry["event"].as_str())
        .collect();
    assert!(events.contains(&"connection_created"), "{audit}");
    let (status, _) = send(&editor, "DELETE", "/api/v1/connections/a", None).await;
    assert_eq!(status, 204);
    let (_, _, audit) = app.api("GET", "/api/v1/audit", None).await;
    assert_eq!(audit[0]["event"], "connection_deleted");
    assert_eq!(audit[0]["subject"], "a");
}

async fn test_connection_names_a_wrong_password_an_unknown_host_and_a_refusal(app: TestApp) {
    let target = Target::create(Engine::Postgres).await;
    let good = target.connection("good");
    let mut nowhere = target.connection("nowhere");
    nowhere["settings"]["host"] = json!("no-such-host.invalid");
    let mut refused = target.connection("refused");
    refused["settings"]["port"] = json!(1);
    let mut maria = Target::create(Engine::Mariadb)
        .await
        .connection("maria-wrong");
    maria["settings"]["user"] = json!("nobody_here");
    maria["secrets"]["password"] = json!("wrong");
    // MariaDB checks passwords on loopback (the test PostgreSQL trusts it).
    for connection in [&good, &nowhere, &refused, &maria] {
        let (status, _, created) = app
            .api("POST", "/api/v1/connections", Some(connection.clone()))
            .await;
        assert_eq!(status, 201, "{created}");
    }
    let test = |name: &'static str| {
        let app = &app;
        async move {
            let (status, _, result) = app
                .api("POST", &format!("/api/v1/connections/{name}/test"), None)
                .await;
            assert_eq!(status, 200, "{result}");
            (
                result["ok"].as_bool().unwrap(),
                result["message"].as_str().unwrap().to_owned(),
            )
        }
    };

    let (ok, message) = test("good").await;
    assert!(
        ok && message.starts_with("connected: PostgreSQL"),
        "{message}"
    );
    let (ok, message) = test("nowhere").await;
    assert!(
        !ok && message.contains("cannot find the host no-such-host.invalid"),
        "{message}"
    );
    let (ok, message) = test("refused").await;
    assert!(!ok && message.starts_with("refused"), "{message}");
    let (ok, message) = test("maria-wrong").await;
    assert!(
        !ok && message.contains("user name or password"),
        "{message}"
    );
}

async fn a_connection_an_active_integration_uses_cannot_be_deleted(app: LiveApp) {
    let id = running_on_orders_db(&app, "Order sync", "order-sync").await;

    let (status, _, refused) = app
        .api("DELETE", "/api/v1/connections/orders-db", None)
        .await;

    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "in_use");
    assert_eq!(refused["error"]["details"]["users"], json!(["Order sync"]));
    app.api("POST", &format!("/api/v1/integrations/{id}/stop"), None)
        .await;
    let (status, _, _) = app
        .api("DELETE", "/api/v1/connections/orders-db", None)
        .await;
    assert_eq!(status, 204, "a stopped integration does not hold it");
}

async fn a_definition_naming_a_missing_or_unfit_connection_is_refused_at_its_place(app: TestApp) {
    app.api(
        "POST",
        "/api/v1/connections",
        Some(postgres("orders-db", PASSWORD)),
    )
    .await;
    app.api(
        "POST",
        "/api/v1/connections",
        Some(json!({ "name": "crm", "kind": "http",
                     "settings": { "base_url": "https://crm.example.com", "auth": "none" } })),
    )
    .await;
    let definition = json!({
        "trigger": { "kind": "webhook", "path": "refs" },
        "steps": [
            { "kind": "sql", "connection": "nope", "query": "SELECT 1" },
            { "kind": "sql", "connection": "crm", "query": "SELECT 1" },
            { "kind": "sql", "connection": "orders-db", "query": "SELECT $1, $2", "params": [1] }
        ]
    });

    let (status, _, refused) = app
        .api(
            "POST",
            "/api/v1/integrations",
            Some(json!({ "name": "refs", "definition": definition })),
        )
        .await;

    assert_eq!(status, 422, "{refused}");
    let fields: Vec<String> = refused["error"]["details"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{}: {}",
                f["path"].as_str().unwrap(),
                f["message"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        fields,
        [
            "definition.steps[0].connection: no connection is named \"nope\"",
            "definition.steps[1].connection: \"crm\" is an http connection, not a SQL database",
            "definition.steps[2].params: the query takes 2 parameters, and 1 is given",
        ]
    );
}

async fn the_egress_policy_refuses_a_private_database_until_an_admin_allows_it(app: ClosedApp) {
    let mut closed = postgres("orders-db", PASSWORD);
    closed["allow_private"] = json!(false);
    app.api("POST", "/api/v1/connections", Some(closed.clone()))
        .await;

    let (_, _, refused) = app
        .api("POST", "/api/v1/connections/orders-db/test", None)
        .await;
    closed["allow_private"] = json!(true);
    closed["secrets"] = json!({ "password": { "set": true } });
    app.api("PUT", "/api/v1/connections/orders-db", Some(closed))
        .await;
    let (_, _, allowed) = app
        .api("POST", "/api/v1/connections/orders-db/test", None)
        .await;

    assert_eq!(refused["ok"], false);
    let message = refused["message"].as_str().unwrap();
    assert!(
        message.contains("egress policy refuses") && message.contains("administrator may allow"),
        "{message}"
    );
    assert_eq!(allowed["ok"], true, "{allowed}");
}

async fn an_http_step_through_a_connection_sends_its_authentication_and_shows_none(app: ClosedApp) {
    const TOKEN: &str = "crm-Token-5a1e7f";
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(String, String)>::new()));
    let recorded = seen.clone();
    let router = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let recorded = recorded.clone();
        async move {
            let authorization = request
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            recorded
                .lock()
                .unwrap()
                .push((request.uri().to_string(), authorization));
            axum::Json(json!({ "stored": true }))
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let (status, _, created) = app
        .api(
            "POST",
            "/api/v1/connections",
            Some(json!({ "name": "crm", "kind": "http",
                         "settings": { "base_url": format!("http://{addr}/api"), "auth": "bearer" },
                         "secrets": { "token": TOKEN }, "allow_private": true })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = app
        .running(
            "to the crm",
            json!({
                "trigger": { "kind": "webhook", "path": "to-crm" },
                "steps": [{ "kind": "http", "method": "POST", "connection": "crm", "url": "/contacts?source=junction" }]
            }),
        )
        .await;

    let (status, answer) = app.hook("to-crm", json!({ "name": "Ada" })).await;

    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, json!({ "stored": true }));
    assert_eq!(
        *seen.lock().unwrap(),
        [(
            "/api/contacts?source=junction".to_owned(),
            format!("Bearer {TOKEN}")
        )]
    );
    // Activity is written behind the answer.
    app.eventually("the call is in the activity", || async {
        let (_, _, activity) = app
            .api("GET", &format!("/api/v1/integrations/{id}/activity"), None)
            .await;
        activity["total"] == 1
    })
    .await;
    let (_, _, activity) = app
        .api("GET", &format!("/api/v1/integrations/{id}/activity"), None)
        .await;
    let (_, _, version) = app
        .api(
            "GET",
            &format!("/api/v1/integrations/{id}/versions/1"),
            None,
        )
        .await;
    let shown = format!("{activity}{version}");
    assert!(shown.contains("/api/contacts"), "{shown}");
    assert!(!shown.contains(TOKEN));
}
