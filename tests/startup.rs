//! Start-up refuses a bad configuration with one clear line, and shuts down on request.
#![cfg(feature = "ssr")]
#![allow(clippy::unwrap_used)]

mod common;

use common::{Backend, TestApp, TestDatabase};
use junction::config::Config;
use junction::startup::{Application, StartupError};
use junction::store::Store;
use junction::telemetry::error_chain;

async fn start_error(config: Config) -> String {
    match Application::build(&config).await {
        Ok(_) => panic!("start-up should have failed"),
        Err(err) => error_chain(&err as &StartupError),
    }
}

#[tokio::test]
async fn an_unsupported_database_url_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::for_database("mysql://root:secret@localhost/db", dir.path().into());

    let message = start_error(config).await;

    assert_eq!(
        message,
        "DATABASE_URL must start with sqlite:// or postgres:// (got mysql://root:***@localhost/db)"
    );
}

#[tokio::test]
async fn an_egress_rule_that_does_not_read_is_named_with_its_flag() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("j.db").display());
    let mut config = Config::for_database(url, dir.path().into());
    config.egress_allow = vec!["10.0.0.0/33".into()];

    let message = start_error(config).await;

    assert!(
        message.starts_with(
            "the egress policy does not read: --egress-allow: \"10.0.0.0/33\" is neither"
        ),
        "{message}"
    );
}

#[tokio::test]
async fn an_unreachable_database_is_reported_with_its_address() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::for_database("postgres://postgres@127.0.0.1:1/none", dir.path().into());

    let message = start_error(config).await;

    assert!(
        message
            .starts_with("cannot connect to the database at postgres://postgres@127.0.0.1:1/none"),
        "{message}"
    );
}

#[tokio::test]
async fn a_port_in_use_is_reported() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let database = TestDatabase::create(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_database(database.url.clone(), dir.path().into());
    config.addr = taken.local_addr().unwrap();

    let message = start_error(config.clone()).await;

    assert!(
        message.starts_with(&format!("cannot listen on {}", config.addr)),
        "{message}"
    );
}

#[tokio::test]
async fn the_data_directory_and_the_sqlite_file_are_created_on_first_start() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("nested").join("data");
    let mut config = Config::for_database("unused", data_dir.clone());
    config.database_url = None;

    let app = Application::build(&config).await.unwrap();

    assert!(data_dir.join("junction.db").exists());
    drop(app);
}

#[tokio::test]
async fn sqlite_copies_its_write_ahead_log_into_the_database_beside_the_writers() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("j.db");
    let store = Store::connect(&format!("sqlite://{}", file.display()))
        .await
        .unwrap();
    sqlx::query("CREATE TABLE scratch (bytes TEXT NOT NULL)")
        .execute(store.pool())
        .await
        .unwrap();
    let before = std::fs::metadata(&file).unwrap().len();

    // A megabyte: far below the automatic checkpoint's mark, so only the background
    // checkpoint can bring it into the database file.
    for _ in 0..64 {
        sqlx::query("INSERT INTO scratch (bytes) VALUES ($1)")
            .bind("x".repeat(16 * 1024))
            .execute(store.pool())
            .await
            .unwrap();
    }

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::fs::metadata(&file).unwrap().len() < before + 1024 * 1024 {
        assert!(
            std::time::Instant::now() < deadline,
            "the database file stayed at {} bytes",
            std::fs::metadata(&file).unwrap().len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn migrations_can_run_again_on_a_database_that_has_them() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let database = TestDatabase::create(backend).await;
        let first = Store::connect(&database.url).await.unwrap();
        first.close().await;

        let second = Store::connect(&database.url).await;

        assert!(second.is_ok(), "{backend:?}: {:?}", second.err());
    }
}

#[tokio::test]
async fn the_server_stops_when_the_shutdown_signal_fires() {
    let database = TestDatabase::create(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let app = Application::build(&Config::for_database(
        database.url.clone(),
        dir.path().into(),
    ))
    .await
    .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));

    stop.send(()).unwrap();

    tokio::time::timeout(std::time::Duration::from_secs(10), server)
        .await
        .expect("the server stopped")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn the_test_harness_gives_each_test_its_own_postgres_database() {
    let a = TestApp::spawn(Backend::Postgres).await;
    let b = TestApp::spawn(Backend::Postgres).await;

    assert_ne!(a.database.url, b.database.url);
}
