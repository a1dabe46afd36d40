//! Triggers a second server would run again (an MQTT subscription, a cron schedule)
//! run on exactly one of two servers on one PostgreSQL, the holder of the
//! integration's lease: each message or tick runs once. After the holder is killed
//! (SIGKILL), the other takes over once the lease (3 s here) has run out, and
//! nothing is run twice. PostgreSQL only: SQLite is one server's file.
#![cfg(feature = "ssr")]
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::brokers::{
    Mqtt, consuming_at, keeping_all, mqtt_connection, recorded_details, within_a_minute,
};
use common::process::Junction;
use common::{Backend, TestDatabase};
use serde_json::json;

/// A server named `replica` with a 3 s lease, keeping all activity.
async fn server(database: &TestDatabase, replica: &str) -> (Junction, tempfile::TempDir) {
    let data = tempfile::tempdir().unwrap();
    let replica = replica.to_owned();
    let server = Junction::start_with(&database.url, data.path(), move |command| {
        keeping_all(command);
        command.args(["--lease-seconds", "3", "--replica-id", &replica]);
    })
    .await;
    (server, data)
}

async fn holder(database: &TestDatabase, id: &str) -> Option<String> {
    use sqlx::Connection;
    let mut connection = sqlx::PgConnection::connect(&database.url).await.unwrap();
    sqlx::query_scalar("SELECT lease_owner FROM integrations WHERE id = $1")
        .bind(id)
        .fetch_one(&mut connection)
        .await
        .unwrap()
}

/// Each recorded step detail, with how often it was recorded.
async fn details(server: &Junction, id: &str) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for detail in recorded_details(server, id).await {
        *seen.entry(detail).or_default() += 1;
    }
    seen
}

/// The two servers, the holder first, once `id` has one.
async fn holder_first(
    database: &TestDatabase,
    id: &str,
    a: Junction,
    b: Junction,
) -> (Junction, Junction) {
    within_a_minute("a server holds the lease", || async {
        holder(database, id).await.is_some()
    })
    .await;
    match holder(database, id).await.as_deref() {
        Some("server-a") => (a, b),
        _ => (b, a),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mqtt_subscription_runs_each_message_once_on_the_holder_and_moves_when_it_dies() {
    let database = TestDatabase::create(Backend::Postgres).await;
    let mqtt = Mqtt::connect().await;
    let (a, _a_data) = server(&database, "server-a").await;
    let (b, _b_data) = server(&database, "server-b").await;
    let trigger = json!({ "kind": "mqtt", "connection": "mosquitto",
                          "topic": format!("{}/numbers", mqtt.prefix), "qos": 1 });
    let id = consuming_at(&a, &mqtt_connection(), trigger, "body.payload.n").await;
    let (holding, other) = holder_first(&database, &id, a, b).await;
    let other = &other;
    let publish = |numbers: std::ops::Range<u64>| {
        let mqtt = &mqtt;
        async move {
            for n in numbers {
                mqtt.publish(
                    format!("{}/numbers", mqtt.prefix),
                    json!({ "n": n }).to_string().into_bytes(),
                )
                .await;
            }
        }
    };

    publish(0..10).await;
    within_a_minute("the first ten are recorded", || async {
        details(other, &id).await.len() == 10
    })
    .await;
    let killed_at = Instant::now();
    holding.kill();
    // Sent while no server listens: the broker keeps them for the session.
    publish(10..20).await;
    within_a_minute("the other server takes over and runs the rest", || async {
        details(other, &id).await.len() == 20
    })
    .await;

    let taken_over = killed_at.elapsed();
    let seen = details(other, &id).await;
    assert!(
        seen.values().all(|&count| count == 1),
        "each message ran once: {seen:?}"
    );
    assert!(
        taken_over < Duration::from_secs(15),
        "taken over in {taken_over:?} (lease 3 s)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cron_schedule_ticks_once_per_time_on_the_holder_and_moves_when_it_dies() {
    let database = TestDatabase::create(Backend::Postgres).await;
    let (a, _a_data) = server(&database, "server-a").await;
    let (b, _b_data) = server(&database, "server-b").await;
    let definition = json!({
        "trigger": { "kind": "cron", "schedule": "* * * * * *" },
        "steps": [{ "kind": "log", "message": "{{ body.time }}" }]
    });
    let (status, created) = a
        .api(
            "POST",
            "/api/v1/integrations",
            Some(json!({ "name": "every second", "definition": definition })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    a.api("POST", &format!("/api/v1/integrations/{id}/publish"), None)
        .await;
    let (holding, other) = holder_first(&database, &id, a, b).await;
    let other = &other;
    within_a_minute("it ticked three times", || async {
        details(other, &id).await.len() >= 3
    })
    .await;

    let before = details(other, &id).await.len();
    holding.kill();
    let killed_at = Instant::now();
    within_a_minute("the other server ticks", || async {
        details(other, &id).await.len() >= before + 3
    })
    .await;

    let seen: BTreeMap<String, usize> = details(other, &id).await;
    assert!(
        seen.values().all(|&count| count == 1),
        "each time ran once: {seen:?}"
    );
    assert!(
        killed_at.elapsed() < Duration::from_secs(15),
        "taken over in {:?} (lease 3 s)",
        killed_at.elapsed()
    );
}
