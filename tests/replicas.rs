//! Several servers on one PostgreSQL, as behind a load balancer: every server answers
//! every active webhook with the active version; a timer runs on exactly one, the
//! holder of its lease, and still once per period after that holder stalls past its
//! lease (`kill -STOP`) and comes back (`kill -CONT`). PostgreSQL only: SQLite is one
//! server's file. Two servers claiming due integrations at once take different ones.
#![cfg(feature = "ssr")]
#![allow(clippy::unwrap_used)]

mod common;

use common::fixtures::{create, publish, user};
use common::{Backend, TestApp, TestDatabase, live};
use junction::domain::definition::Definition;
use junction::domain::lifecycle::Action;
use junction::domain::version::PublishNote;
use junction::domain::{IntegrationId, NewIntegration};
use junction::store::Store;
use serde_json::json;
use std::time::{Duration, Instant};

/// A second live server on the database of `first`.
async fn replica_of(first: &TestApp) -> TestApp {
    let database = TestDatabase::shared(first.database.url.clone());
    TestApp::start(database, tempfile::tempdir().unwrap(), live).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_server_answers_every_webhook_with_the_active_version() {
    let first = TestApp::spawn_with(Backend::Postgres, live).await;
    let second = replica_of(&first).await;
    let flow = |label: &str| {
        json!({ "trigger": { "kind": "webhook", "path": "everywhere" },
                "steps": [{ "kind": "transform", "template": { "label": label } }] })
    };
    let id = first.running("everywhere", flow("v1")).await;

    for server in [&first, &second] {
        server
            .eventually("the webhook answers v1 here", || async {
                server.hook("everywhere", json!({})).await == (200, json!({ "label": "v1" }))
            })
            .await;
    }
    let base = format!("/api/v1/integrations/{id}");
    let (_, headers, _) = second.api("GET", &base, None).await;
    let etag = headers["etag"].to_str().unwrap().to_owned();
    second
        .api_with(
            "PUT",
            &format!("{base}/draft"),
            Some(json!({ "definition": flow("v2") })),
            &[("if-match", &etag)],
        )
        .await;
    second.api("POST", &format!("{base}/publish"), None).await;

    for server in [&first, &second] {
        server
            .eventually("the webhook answers v2 here", || async {
                server.hook("everywhere", json!({})).await == (200, json!({ "label": "v2" }))
            })
            .await;
    }
    second.api("POST", &format!("{base}/stop"), None).await;
    for server in [&first, &second] {
        server
            .eventually("the webhook is gone here", || async {
                server.hook("everywhere", json!({})).await.0 == 404
            })
            .await;
    }
}

/// A timer flow ticking every second, published through the store.
async fn ticking_every_second(store: &Store) -> IntegrationId {
    let timer = Definition::parse(&json!({
        "trigger": { "kind": "timer", "every_seconds": 1 },
        "steps": [{ "kind": "log", "message": "tick {{ body.tick }}" }]
    }))
    .unwrap();
    let new = NewIntegration::parse("Heartbeat", "").unwrap();
    let id = store
        .create_integration(&new, Some(&timer), &user())
        .await
        .unwrap()
        .id;
    let note = PublishNote::parse("").unwrap();
    store
        .perform(id, &Action::Publish { note }, &user())
        .await
        .unwrap();
    id
}

/// How many times the timer ran in the `window` ending now.
async fn ticks_in_last(store: &Store, id: IntegrationId, window: Duration) -> i64 {
    let since = chrono::Utc::now().timestamp_millis() - window.as_millis() as i64;
    sqlx::query_scalar(
        "SELECT count(*) FROM activities WHERE integration_id = $1 AND started_at >= $2",
    )
    .bind(id.to_string())
    .bind(since)
    .fetch_one(store.pool())
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_run_a_timer_once_per_period() {
    let first = TestApp::spawn_with(Backend::Postgres, live).await;
    let second = replica_of(&first).await;
    let id = ticking_every_second(&first.store).await;
    first
        .eventually("the timer ticks", || async {
            ticks_in_last(&first.store, id, Duration::from_secs(60)).await >= 2
        })
        .await;

    let observed = Instant::now();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let ticks = ticks_in_last(&first.store, id, observed.elapsed()).await;

    assert!((4..=6).contains(&ticks), "{ticks} ticks in 5 s");
    drop(second);
}

/// Two integrations published through the store, oldest first.
async fn two_published(store: &Store) -> [IntegrationId; 2] {
    let mut ids = Vec::new();
    for name in ["Oldest", "Newer"] {
        let id = create(store, name).await.id;
        publish(store, id, "").await;
        ids.push(id);
    }
    [ids[0], ids[1]]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_claiming_due_integrations_passes_over_those_another_server_is_claiming() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let [oldest, newer] = two_published(&app.store).await;
    // Another server's claim, caught between locking the oldest row and committing.
    let mut other = app.store.pool().begin().await.unwrap();
    sqlx::query("SELECT id FROM integrations WHERE id = $1 FOR UPDATE")
        .bind(oldest.to_string())
        .execute(&mut *other)
        .await
        .unwrap();

    let claim = app.store.claim_due("here", 10, Duration::from_secs(30));
    let claimed = tokio::time::timeout(Duration::from_secs(10), claim)
        .await
        .expect("the claim waited for the other server's")
        .unwrap();

    assert_eq!(claimed, vec![newer]);
    // Once the other server lets go, the oldest is claimed too.
    other.rollback().await.unwrap();
    let later = app.store.claim_due("here", 10, Duration::from_secs(30));
    assert!(later.await.unwrap().contains(&oldest));
}

/// A `junction` process of its own on `database`, named `replica`, with a 3 s lease.
fn junction_process(database: &str, replica: &str) -> std::process::Child {
    let data = tempfile::tempdir().unwrap().keep();
    std::process::Command::new(env!("CARGO_BIN_EXE_junction"))
        .args([
            "--addr",
            "127.0.0.1:0",
            "--log",
            "warn",
            "--lease-seconds",
            "3",
        ])
        .args(["--replica-id", replica, "--reconcile-tick-ms", "200"])
        .arg("--data-dir")
        .arg(&data)
        .env("DATABASE_URL", database)
        .env("JUNCTION_SECRET_KEY", common::TEST_SECRET_KEY)
        .env_remove("JUNCTION_ADMIN_USER")
        .spawn()
        .unwrap()
}

fn signal(process: &std::process::Child, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, &process.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

async fn holder(store: &Store, id: IntegrationId) -> Option<String> {
    sqlx::query_scalar("SELECT lease_owner FROM integrations WHERE id = $1")
        .bind(id.to_string())
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_stalled_past_its_lease_does_not_tick_beside_the_server_that_took_over() {
    let database = TestDatabase::create(Backend::Postgres).await;
    let store = Store::connect(&database.url).await.unwrap();
    let id = ticking_every_second(&store).await;
    let mut a = junction_process(&database.url, "server-a");
    let mut b = junction_process(&database.url, "server-b");
    let deadline = Instant::now() + Duration::from_secs(30);
    while ticks_in_last(&store, id, Duration::from_secs(60)).await < 2 {
        assert!(Instant::now() < deadline, "the timer never ticked");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let first_holder = holder(&store, id).await.unwrap();
    let (stalled, other) = match first_holder.as_str() {
        "server-a" => (&a, "server-b"),
        _ => (&b, "server-a"),
    };

    signal(stalled, "-STOP");
    let deadline = Instant::now() + Duration::from_secs(30);
    while holder(&store, id).await.as_deref() != Some(other) {
        assert!(Instant::now() < deadline, "nobody took the timer over");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    signal(stalled, "-CONT");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let ticks = ticks_in_last(&store, id, Duration::from_secs(5)).await;

    for process in [&mut a, &mut b] {
        let _ = process.kill();
        let _ = process.wait();
    }
    assert!(
        (4..=6).contains(&ticks),
        "{ticks} ticks in the 5 s after the stalled holder came back"
    );
    assert_eq!(holder(&store, id).await.as_deref(), Some(other));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_three_open_event_streams_exits_in_time_keeping_every_answered_message() {
    let database = TestDatabase::create(Backend::Postgres).await;
    let store = Store::connect(&database.url).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut server = common::process::Junction::start_with(&database.url, data.path(), |command| {
        command.args(["--shutdown-timeout", "5"]);
    })
    .await;
    let base = server.base.clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    let client = server.client.clone();
    let created: serde_json::Value = client
        .post(format!("{base}/api/v1/integrations"))
        .json(&json!({ "name": "Kept", "definition": {
            "trigger": { "kind": "webhook", "path": "kept" }, "steps": [] } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    client
        .post(format!("{base}/api/v1/integrations/{id}/publish"))
        .send()
        .await
        .unwrap();
    let hook = format!("{base}/hooks/kept");
    while client
        .post(&hook)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .status()
        != 200
    {
        assert!(Instant::now() < deadline, "the webhook never went live");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut streams = Vec::new();
    for _ in 0..3 {
        streams.push(
            client
                .get(format!("{base}/api/v1/events"))
                .send()
                .await
                .unwrap(),
        );
    }
    for n in 0..49 {
        let answered = client
            .post(&hook)
            .json(&json!({ "n": n }))
            .send()
            .await
            .unwrap();
        assert_eq!(answered.status(), 200);
    }

    let stopping = Instant::now();
    server.signal("-TERM");
    let exited = loop {
        if let Some(status) = server.exited() {
            break status;
        }
        assert!(
            stopping.elapsed() < Duration::from_secs(10),
            "still running after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    assert!(exited.success(), "{exited}");
    assert!(
        stopping.elapsed() < Duration::from_secs(5),
        "within --shutdown-timeout"
    );
    let recorded: i64 =
        sqlx::query_scalar("SELECT count(*) FROM activities WHERE integration_id = $1")
            .bind(&id)
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(recorded, 50, "every message answered before SIGTERM");
    drop(streams);
}
