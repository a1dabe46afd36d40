//! The SQL connector against real servers: a webhook → transform → `sql` flow inserts
//! into PostgreSQL and MariaDB with the right column types, and text that looks like
//! SQL stays text; a statement's failure names its cause; a changed connection is
//! picked up by the flows using it. Junction's own database is SQLite or PostgreSQL.
#![cfg(feature = "ssr")]
#![allow(clippy::unwrap_used)]

mod common;

use common::LiveApp;
use common::targets::{Engine, Target};
use serde_json::{Value, json};

on_both_databases! {
    a_webhook_flow_inserts_typed_rows_into_postgres: LiveApp,
    a_webhook_flow_inserts_typed_rows_into_mariadb: LiveApp,
    a_failing_statement_fails_its_step_with_the_databases_words: LiveApp,
    a_changed_connection_is_picked_up_by_the_flow_using_it: LiveApp,
    a_poller_that_cannot_reach_its_database_is_in_error_and_retried: LiveApp,
    a_flow_writes_and_reads_an_sqlite_file: LiveApp,
}

/// Creates the connection through the API; answers what it answered.
async fn connect(app: &LiveApp, target: &Target, name: &str) -> Value {
    let (status, _, created) = app
        .api("POST", "/api/v1/connections", Some(target.connection(name)))
        .await;
    assert_eq!(status, 201, "{created}");
    created
}

/// The flow of the issue: a webhook, a transform shaping the order, an INSERT.
fn orders_flow(path: &str, connection: &str, insert: &str) -> Value {
    json!({
        "trigger": { "kind": "webhook", "path": path },
        "steps": [
            { "kind": "transform", "template": {
                "id": "{{ body.id }}", "total": "{{ body.total }}", "note": "{{ body.note }}",
                "paid": "{{ body.paid }}", "at": "{{ body.at }}", "tags": "{{ body.tags }}"
            } },
            { "kind": "sql", "connection": connection, "query": insert,
              "params": ["{{ body.id }}", "{{ body.total }}", "{{ body.note }}",
                         "{{ body.paid }}", "{{ body.at }}", "{{ body.tags }}"] }
        ]
    })
}

const HOSTILE: &str = "O'Brien\"; DROP TABLE orders; --";

fn order(id: i64) -> Value {
    json!({ "id": id, "total": 12.5, "note": HOSTILE, "paid": true,
            "at": "2026-12-04T10:30:00Z", "tags": {"rush": true, "lines": [1, 2]} })
}

async fn a_webhook_flow_inserts_typed_rows_into_postgres(app: LiveApp) {
    let target = Target::create(Engine::Postgres).await;
    target
        .execute(
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, total NUMERIC(10, 2), note TEXT,
                                  paid BOOLEAN, at TIMESTAMPTZ, tags JSONB)",
        )
        .await;
    connect(&app, &target, "orders-db").await;
    let insert = "INSERT INTO orders (id, total, note, paid, at, tags)
                  VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, total, note, paid, at, tags";
    app.running("pg orders", orders_flow("pg-orders", "orders-db", insert))
        .await;

    let (status, answer) = app.hook("pg-orders", order(7)).await;

    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer,
        json!({ "affected": 1, "rows": [{ "id": 7, "total": 12.5, "note": HOSTILE, "paid": true,
                 "at": "2026-12-04T10:30:00Z", "tags": {"lines": [1, 2], "rush": true} }] }),
        "the rows come back typed"
    );
    let stored = target
        .texts(
            "SELECT concat_ws('|', id, total, note, paid, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'),
                              tags->>'rush', pg_typeof(id), pg_typeof(total)) FROM orders",
        )
        .await;
    assert_eq!(
        stored,
        [format!(
            "7|12.50|{HOSTILE}|t|2026-12-04 10:30|true|integer|numeric"
        )]
    );
    assert_eq!(
        target.count("SELECT count(*) FROM orders").await,
        1,
        "the table is still there"
    );
}

async fn a_webhook_flow_inserts_typed_rows_into_mariadb(app: LiveApp) {
    let target = Target::create(Engine::Mariadb).await;
    target
        .execute(
            "CREATE TABLE orders (id INT PRIMARY KEY, total DECIMAL(10, 2), note TEXT,
                                  paid BOOLEAN, at DATETIME, tags JSON)",
        )
        .await;
    connect(&app, &target, "shop").await;
    // MariaDB reads an RFC 3339 time only without its offset: the flow converts it.
    let insert = "INSERT INTO orders (id, total, note, paid, at, tags)
                  VALUES (?, ?, ?, ?, STR_TO_DATE(?, '%Y-%m-%dT%H:%i:%sZ'), ?)";
    app.running("maria orders", orders_flow("maria-orders", "shop", insert))
        .await;

    let (status, answer) = app.hook("maria-orders", order(8)).await;

    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, json!({ "affected": 1, "rows": [] }));
    let stored = target
        .texts(
            "SELECT CAST(CONCAT_WS('|', id, total, note, paid, DATE_FORMAT(at, '%Y-%m-%d %H:%i'),
                                   JSON_EXTRACT(tags, '$.rush')) AS CHAR) FROM orders",
        )
        .await;
    assert_eq!(
        stored,
        [format!("8|12.50|{HOSTILE}|1|2026-12-04 10:30|true")]
    );

    // And read back through a step, typed.
    app.running(
        "maria read",
        json!({
            "trigger": { "kind": "webhook", "path": "maria-read" },
            "steps": [{ "kind": "sql", "connection": "shop",
                        "query": "SELECT id, total, note, paid, at FROM orders WHERE id = ?",
                        "params": ["{{ body.id }}"] }]
        }),
    )
    .await;
    let (_, read) = app.hook("maria-read", json!({ "id": 8 })).await;
    assert_eq!(
        read["rows"],
        json!([{ "id": 8, "total": 12.5, "note": HOSTILE, "paid": true,
                 "at": "2026-12-04T10:30:00" }])
    );
}

async fn a_failing_statement_fails_its_step_with_the_databases_words(app: LiveApp) {
    let target = Target::create(Engine::Postgres).await;
    target
        .execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
        .await;
    connect(&app, &target, "orders-db").await;
    app.running(
        "dupes",
        json!({
            "trigger": { "kind": "webhook", "path": "dupes" },
            "steps": [{ "kind": "sql", "connection": "orders-db",
                        "query": "INSERT INTO orders (id) VALUES ($1)", "params": ["{{ body.id }}"] }]
        }),
    )
    .await;

    let (first, _) = app.hook("dupes", json!({ "id": 1 })).await;
    let (again, answer) = app.hook("dupes", json!({ "id": 1 })).await;
    let (_, wrong_type) = app.hook("dupes", json!({ "id": "one" })).await;

    assert_eq!(first, 200);
    assert_ne!(again, 200);
    let error = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(error.contains("duplicate key"), "{answer}");
    let error = wrong_type["error"]["message"].as_str().unwrap_or_default();
    assert!(
        error.contains("params[0]") && error.contains("whole number"),
        "{wrong_type}"
    );
}

async fn a_changed_connection_is_picked_up_by_the_flow_using_it(app: LiveApp) {
    let first = Target::create(Engine::Postgres).await;
    let second = Target::create(Engine::Postgres).await;
    for target in [&first, &second] {
        target.execute("CREATE TABLE seen (id INTEGER)").await;
    }
    connect(&app, &first, "sink").await;
    let id = app
        .running(
            "sink",
            json!({
                "trigger": { "kind": "webhook", "path": "sink" },
                "steps": [{ "kind": "sql", "connection": "sink",
                            "query": "INSERT INTO seen (id) VALUES ($1)", "params": ["{{ body.id }}"] }]
            }),
        )
        .await;
    app.hook("sink", json!({ "id": 1 })).await;

    let mut moved = second.connection("sink");
    moved["secrets"] = json!({ "password": { "set": true } });
    let (status, _, changed) = app
        .api("PUT", "/api/v1/connections/sink", Some(moved))
        .await;
    assert_eq!(status, 200, "{changed}");
    app.eventually("the flow was redeployed with the change", || async {
        let (_, _, log) = app
            .api(
                "GET",
                &format!("/api/v1/integrations/{id}/transitions"),
                None,
            )
            .await;
        log.to_string().contains("connection sink changed")
    })
    .await;
    app.hook("sink", json!({ "id": 2 })).await;

    assert_eq!(first.texts("SELECT id::text FROM seen").await, ["1"]);
    assert_eq!(second.texts("SELECT id::text FROM seen").await, ["2"]);
}

async fn a_poller_that_cannot_reach_its_database_is_in_error_and_retried(app: LiveApp) {
    let target = Target::create(Engine::Postgres).await;
    let mut nowhere = target.connection("nowhere");
    nowhere["settings"]["port"] = json!(1);
    app.api("POST", "/api/v1/connections", Some(nowhere)).await;
    let (_, _, created) = app
        .api(
            "POST",
            "/api/v1/integrations",
            Some(json!({ "name": "poll nowhere", "definition": {
                "trigger": { "kind": "sql_poll", "connection": "nowhere",
                             "query": "SELECT id FROM orders WHERE id > $1 ORDER BY id",
                             "cursor": "id", "every_seconds": 1, "start": 0 },
                "steps": [] } })),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    app.api("POST", &format!("/api/v1/integrations/{id}/publish"), None)
        .await;

    app.eventually("the poller's failure is an Error, retried", || async {
        let (_, _, now) = app
            .api("GET", &format!("/api/v1/integrations/{id}"), None)
            .await;
        let error = now["reconcile"]["last_error"].as_str().unwrap_or_default();

        now["current_state"] == "error"
            && error.contains("polling failed: refused")
            && now["reconcile"]["attempts"].as_u64().unwrap_or(0) >= 2
    })
    .await;
}

async fn a_flow_writes_and_reads_an_sqlite_file(app: LiveApp) {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shop.db");
    let mut conn =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", file.display()))
            .await
            .unwrap();
    sqlx::raw_sql(
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT, score REAL, done BOOLEAN)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let (status, _, created) = app
        .api(
            "POST",
            "/api/v1/connections",
            Some(json!({ "name": "notes", "kind": "sqlite",
                         "settings": { "path": file.display().to_string() } })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    app.running(
        "notes",
        json!({
            "trigger": { "kind": "webhook", "path": "notes" },
            "steps": [
                { "kind": "sql", "connection": "notes",
                  "query": "INSERT INTO notes (text, score, done) VALUES (?, ?, ?)",
                  "params": ["{{ body.text }}", "{{ body.score }}", "{{ body.done }}"] },
                { "kind": "sql", "connection": "notes",
                  "query": "SELECT id, text, score, done FROM notes ORDER BY id" }
            ]
        }),
    )
    .await;

    let (status, answer) = app
        .hook(
            "notes",
            json!({ "text": HOSTILE, "score": 2.5, "done": true }),
        )
        .await;

    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer,
        json!({ "affected": 0, "rows": [{ "id": 1, "text": HOSTILE, "score": 2.5, "done": true }] })
    );
}
