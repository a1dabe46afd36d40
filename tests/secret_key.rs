//! The key connection secrets are encrypted under, with real `junction` processes: a
//! wrong key or none stops the server at start with one line; a generated key lives in
//! the data directory and `junction secrets rotate` replaces it; and a secret appears
//! in no line the server logs, even at debug level and when a connection fails.
#![cfg(feature = "ssr")]
#![allow(clippy::unwrap_used)]

mod common;

use common::process::{Junction, command, free_port};
use common::{Backend, TestDatabase};
use serde_json::json;
use std::time::{Duration, Instant};

const SECRET: &str = "Very-Secret-db-Password-71c2";

fn connection(password: &str) -> serde_json::Value {
    let url = url::Url::parse(&common::postgres_admin_url()).unwrap();
    json!({
        "name": "orders-db", "kind": "postgres",
        "settings": { "host": url.host_str().unwrap(), "port": url.port().unwrap_or(5432),
                      "database": url.path().trim_start_matches('/'), "user": url.username(), "tls": "disable" },
        "secrets": { "password": password },
        "allow_private": true,
    })
}

/// Runs `junction` to its exit (it should not start): its exit status and what it
/// wrote to standard error.
fn refused_start(mut command: std::process::Command) -> (bool, String) {
    let mut child = command
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server started although it should not have");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_or_none_stops_the_server_at_start_with_one_line() {
    let database = TestDatabase::create(Backend::Sqlite).await;
    let data = tempfile::tempdir().unwrap();
    let server = Junction::start(&database.url, data.path()).await;
    let (status, _) = server
        .api("POST", "/api/v1/connections", Some(connection(SECRET)))
        .await;
    assert_eq!(status, 201);
    server.stop();

    let mut wrong = command(&database.url, data.path(), free_port());
    wrong.env("JUNCTION_SECRET_KEY", "ff".repeat(32));
    let (started, said) = refused_start(wrong);
    assert!(!started);
    assert_eq!(said.trim().lines().count(), 1, "{said}");
    assert!(
        said.contains("not the one this database's secrets were encrypted with"),
        "{said}"
    );

    let mut none = command(&database.url, data.path(), free_port());
    none.env_remove("JUNCTION_SECRET_KEY");
    let (started, said) = refused_start(none);
    assert!(!started);
    assert_eq!(said.trim().lines().count(), 1, "{said}");
    assert!(said.contains("set JUNCTION_SECRET_KEY"), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_key_is_kept_in_the_data_directory_and_rotation_replaces_it() {
    let database = TestDatabase::create(Backend::Sqlite).await;
    let data = tempfile::tempdir().unwrap();
    let without_key = |command: &mut std::process::Command| {
        command.env_remove("JUNCTION_SECRET_KEY");
    };
    let server = Junction::start_with(&database.url, data.path(), without_key).await;
    server
        .api("POST", "/api/v1/connections", Some(connection(SECRET)))
        .await;
    server.stop();
    let key_file = data.path().join("secret.key");
    let first_key = std::fs::read_to_string(&key_file).unwrap();

    let mut rotate = command(&database.url, data.path(), free_port());
    rotate
        .env_remove("JUNCTION_SECRET_KEY")
        .args(["secrets", "rotate"]);
    let rotated = rotate.output().unwrap();
    assert!(
        rotated.status.success(),
        "{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    assert!(String::from_utf8_lossy(&rotated.stdout).contains("1 connection"));
    let second_key = std::fs::read_to_string(&key_file).unwrap();
    assert_ne!(first_key, second_key);

    let server = Junction::start_with(&database.url, data.path(), without_key).await;
    let (_, tested) = server
        .api("POST", "/api/v1/connections/orders-db/test", None)
        .await;
    assert_eq!(
        tested["ok"], true,
        "the secrets read under the new key: {tested}"
    );
    server.stop();
    std::fs::write(&key_file, first_key).unwrap();
    let mut old = command(&database.url, data.path(), free_port());
    old.env_remove("JUNCTION_SECRET_KEY");
    assert!(!refused_start(old).0, "the old key no longer opens them");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_is_in_no_line_the_server_logs() {
    let database = TestDatabase::create(Backend::Sqlite).await;
    let data = tempfile::tempdir().unwrap();
    let log = data.path().join("server.log");
    let log_file = std::fs::File::create(&log).unwrap();
    let server = Junction::start_with(&database.url, data.path(), |command| {
        command
            .env("RUST_LOG", "debug")
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file);
    })
    .await;
    server
        .api("POST", "/api/v1/connections", Some(connection(SECRET)))
        .await;
    let mut unreachable = connection(SECRET);
    unreachable["name"] = json!("nowhere");
    unreachable["settings"]["port"] = json!(1);
    server
        .api("POST", "/api/v1/connections", Some(unreachable))
        .await;
    for name in ["orders-db", "nowhere"] {
        server
            .api("POST", &format!("/api/v1/connections/{name}/test"), None)
            .await;
    }
    let (_, created) = server
        .api(
            "POST",
            "/api/v1/integrations",
            Some(json!({ "name": "logs", "definition": {
                "trigger": { "kind": "webhook", "path": "logs" },
                "steps": [
                    { "kind": "sql", "connection": "orders-db", "query": "SELECT $1::text AS echo", "params": ["{{ body.x }}"] },
                    { "kind": "sql", "connection": "nowhere", "query": "SELECT 1" }
                ] } })),
        )
        .await;
    let id = created["id"].as_str().unwrap();
    server
        .api("POST", &format!("/api/v1/integrations/{id}/publish"), None)
        .await;
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = client
            .post(format!("{}/hooks/logs", server.base))
            .json(&json!({ "x": "hello" }))
            .send()
            .await
            .unwrap();
        if answer.status() == 502 {
            break;
        }
        assert!(Instant::now() < deadline, "the flow never ran");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.stop();

    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("connection saved"),
        "the log was written at debug level"
    );
    assert!(logged.lines().count() > 20);
    assert!(!logged.contains(SECRET), "a secret was logged");
}
