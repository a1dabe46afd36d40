//! The `sql_poll` trigger against a real PostgreSQL table: every row is delivered at
//! least once and in order while the server is killed (SIGKILL) and started again
//! mid-way, and a new version goes on from the old one's cursor. Junction's own
//! database is SQLite or PostgreSQL; each run is a real `junction` process.
#![cfg(feature = "ssr")]
#![allow(clippy::unwrap_used)]

mod common;

use common::process::Junction;
use common::targets::{Engine, Target};
use common::{Backend, TestDatabase};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_row_arrives_in_order_across_a_kill_and_a_version_switch_on_sqlite() {
    every_row_arrives_in_order_across_a_kill_and_a_version_switch(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_row_arrives_in_order_across_a_kill_and_a_version_switch_on_postgres() {
    every_row_arrives_in_order_across_a_kill_and_a_version_switch(Backend::Postgres).await;
}

/// Polls `orders` and copies each row into `seen`, in the order delivered, marked with
/// the version that delivered it.
fn copying(version: i64) -> Value {
    json!({
        "trigger": { "kind": "sql_poll", "connection": "shop",
                     "query": "SELECT id, n FROM orders WHERE id > $1 ORDER BY id LIMIT 50",
                     "cursor": "id", "every_seconds": 1, "start": 0 },
        "steps": [{ "kind": "sql", "connection": "shop",
                    "query": format!("INSERT INTO seen (id, version) VALUES ($1, {version})"),
                    "params": ["{{ body.id }}"] }]
    })
}

async fn wait_until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn every_row_arrives_in_order_across_a_kill_and_a_version_switch(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let data = tempfile::tempdir().unwrap();
    let target = Target::create(Engine::Postgres).await;
    target
        .execute(
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);
             CREATE TABLE seen (seq BIGSERIAL PRIMARY KEY, id INTEGER NOT NULL, version INTEGER NOT NULL)",
        )
        .await;
    let server = Junction::start(&database.url, data.path()).await;
    let (status, created) = server
        .api(
            "POST",
            "/api/v1/connections",
            Some(target.connection("shop")),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let (_, created) = server
        .api(
            "POST",
            "/api/v1/integrations",
            Some(json!({ "name": "Copy orders", "definition": copying(1) })),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    server
        .api("POST", &format!("/api/v1/integrations/{id}/publish"), None)
        .await;

    // 1,000 rows arrive while the server runs, is killed, and comes back.
    let writer = {
        let url = target.url();
        // A thread of its own, as another application writing to the table would be.
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
                for batch in 0..20 {
                    let values: Vec<String> = (1..=50)
                        .map(|i| format!("({}, {i})", batch * 50 + i))
                        .collect();
                    let sql = format!("INSERT INTO orders (id, n) VALUES {}", values.join(", "));
                    sqlx::Executor::execute(&mut conn, sql.as_str())
                        .await
                        .unwrap();
                    tokio::time::sleep(Duration::from_millis(150)).await;
                }
            });
        })
    };
    wait_until("a third of the rows arrived", async || {
        target.count("SELECT count(*) FROM seen").await >= 300
    })
    .await;
    server.kill();
    let server = Junction::start(&database.url, data.path()).await;
    writer.join().unwrap();
    wait_until("the last row arrived", async || {
        target
            .count("SELECT count(*) FROM seen WHERE id = 1000")
            .await
            >= 1
    })
    .await;

    // Version 2 goes on from version 1's cursor.
    let (_, draft) = server
        .api("GET", &format!("/api/v1/integrations/{id}"), None)
        .await;
    let revision = format!("\"{}\"", draft["revision"].as_i64().unwrap());
    let (status, saved) = server
        .api_with(
            "PUT",
            &format!("/api/v1/integrations/{id}/draft"),
            Some(json!({ "definition": copying(2) })),
            &[("if-match", &revision)],
        )
        .await;
    assert_eq!(status, 200, "{saved}");
    server
        .api("POST", &format!("/api/v1/integrations/{id}/publish"), None)
        .await;
    wait_until("version 2 runs", async || {
        let (_, now) = server
            .api("GET", &format!("/api/v1/integrations/{id}"), None)
            .await;
        now["current_version"] == 2 && now["current_state"] == "active"
    })
    .await;
    target
        .execute("INSERT INTO orders (id, n) SELECT g, 0 FROM generate_series(1001, 1100) g")
        .await;
    wait_until("version 2 delivered the new rows", async || {
        target
            .count("SELECT count(*) FROM seen WHERE id = 1100")
            .await
            >= 1
    })
    .await;
    drop(server);

    let delivered: Vec<String> = target.texts("SELECT id::text FROM seen ORDER BY seq").await;
    let delivered: Vec<i64> = delivered.iter().map(|id| id.parse().unwrap()).collect();
    let mut distinct = delivered.clone();
    distinct.dedup();
    assert_eq!(
        distinct,
        (1..=1100).collect::<Vec<i64>>(),
        "every row, in order"
    );
    assert!(
        delivered.len() - distinct.len() <= 5,
        "a kill repeats at most the row in flight: {} repeats",
        delivered.len() - distinct.len()
    );
    assert_eq!(
        target
            .count("SELECT count(*) FROM seen WHERE version = 2 AND id <= 1000")
            .await,
        0,
        "version 2 went on from version 1's cursor"
    );
}
