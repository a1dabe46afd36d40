//! Users: the first administrator from the configuration, adding users (administrators
//! only), passwords checked and changed, the reserved name, and the `junction users`
//! commands. Every case runs on SQLite and PostgreSQL.
#![cfg(feature = "ssr")]
#![allow(clippy::unwrap_used)]

mod common;

use common::{Backend, EmptyApp, TestApp, TestDatabase};
use junction::config::Config;
use junction::domain::access::Role;
use junction::domain::user::UserName;
use junction::error::AppError;
use junction::service::{Principal, UserChange, UserRequest};
use junction::startup::Application;
use serde_json::json;

on_both_databases! {
    the_first_administrator_comes_from_the_configuration_once: EmptyApp,
    an_administrator_adds_users_and_an_editor_may_not: TestApp,
    a_password_signs_in_only_as_its_own_enabled_user: TestApp,
    a_new_password_replaces_the_old_one: TestApp,
    nobody_can_be_called_reconciler_not_even_in_the_database: TestApp,
    the_users_command_adds_a_user_with_the_password_from_standard_input: TestApp,
    administrators_manage_users_through_the_json_api_and_passwords_never_come_back: TestApp,
    the_last_enabled_administrator_can_be_neither_demoted_nor_disabled: EmptyApp,
}

const PASSWORD: &str = "correct horse battery";

fn admin() -> Principal {
    Principal::new("root-admin", Role::Admin)
}

fn request<'a>(name: &'a str, role: &'a str) -> UserRequest<'a> {
    UserRequest {
        name,
        display_name: "",
        password: PASSWORD,
        role,
    }
}

fn with_first_admin(config: &mut Config) {
    config.admin_user = Some("ada".into());
    config.admin_password = Some(PASSWORD.into());
}

async fn the_first_administrator_comes_from_the_configuration_once(EmptyApp(app): EmptyApp) {
    assert!(!app.store.has_users().await.unwrap());
    let (database, data_dir) = app.shut_down().await;

    let app = TestApp::start(database, data_dir, with_first_admin).await;
    let users = app.service.users(&admin()).await.unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(
        (users[0].name.as_str(), users[0].role),
        ("ada", Role::Admin)
    );

    let (database, data_dir) = app.shut_down().await;
    let app = TestApp::start(database, data_dir, |config| {
        config.admin_user = Some("someone-else".into());
        config.admin_password = Some(PASSWORD.into());
    })
    .await;
    assert_eq!(
        app.service.users(&admin()).await.unwrap().len(),
        1,
        "ignored once a user exists"
    );
}

async fn an_administrator_adds_users_and_an_editor_may_not(app: TestApp) {
    let added = app
        .service
        .add_user(&admin(), &request("Bob", "editor"))
        .await
        .unwrap();
    let editor = Principal::new("bob", Role::Editor);

    let refused = app
        .service
        .add_user(&editor, &request("carol", "admin"))
        .await;
    let twice = app
        .service
        .add_user(&admin(), &request("bob", "viewer"))
        .await;
    let wrong = app
        .service
        .add_user(
            &admin(),
            &UserRequest {
                name: "x y",
                display_name: "",
                password: "short",
                role: "root",
            },
        )
        .await;

    assert_eq!(
        (added.name.as_str(), added.role, added.display_name.as_str()),
        ("bob", Role::Editor, "bob")
    );
    assert!(
        matches!(refused, Err(AppError::Forbidden { .. })),
        "{refused:?}"
    );
    assert!(
        twice
            .unwrap_err()
            .message_for("name")
            .unwrap()
            .contains("already exists")
    );
    let wrong = wrong.unwrap_err();
    for field in ["name", "password", "role"] {
        assert!(wrong.message_for(field).is_some(), "{field}: {wrong}");
    }
    assert_eq!(
        app.service.users(&admin()).await.unwrap().len(),
        2,
        "the administrator the test server starts with, and bob"
    );
}

async fn a_password_signs_in_only_as_its_own_enabled_user(app: TestApp) {
    app.service
        .add_user(&admin(), &request("bob", "viewer"))
        .await
        .unwrap();

    let right = app.service.check_password("bob", PASSWORD).await.unwrap();
    let wrong = app
        .service
        .check_password("bob", "not the password")
        .await
        .unwrap();
    let unknown = app
        .service
        .check_password("nobody", PASSWORD)
        .await
        .unwrap();
    app.store
        .set_disabled(&UserName::parse("bob").unwrap(), true)
        .await
        .unwrap();
    let disabled = app.service.check_password("bob", PASSWORD).await.unwrap();

    assert_eq!(right.unwrap().name.as_str(), "bob");
    assert_eq!((wrong, unknown, disabled), (None, None, None));
}

async fn a_new_password_replaces_the_old_one(app: TestApp) {
    app.service
        .add_user(&admin(), &request("bob", "viewer"))
        .await
        .unwrap();
    let bob = Principal::new("bob", Role::Viewer);
    let before = app
        .store
        .user(&UserName::parse("bob").unwrap())
        .await
        .unwrap()
        .unwrap();

    app.service
        .set_password(&bob, "bob", "a much longer passphrase")
        .await
        .unwrap();
    let refused = app
        .service
        .set_password(&bob, "root-admin", "taking over now")
        .await;

    let after = app
        .store
        .user(&UserName::parse("bob").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(
        app.service
            .check_password("bob", PASSWORD)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        app.service
            .check_password("bob", "a much longer passphrase")
            .await
            .unwrap()
            .is_some()
    );
    assert!(after.password_changed_at >= before.password_changed_at);
    assert!(
        after.password_hash.starts_with("$argon2id$"),
        "stored only as a hash"
    );
    assert!(
        matches!(refused, Err(AppError::Forbidden { .. })),
        "{refused:?}"
    );
}

async fn nobody_can_be_called_reconciler_not_even_in_the_database(app: TestApp) {
    let refused = app
        .service
        .add_user(&admin(), &request("reconciler", "admin"))
        .await;
    let direct = sqlx::query(
        "INSERT INTO users (name, display_name, password_hash, role, disabled, created_at, password_changed_at)
         VALUES ('reconciler', 'r', '$argon2id$x', 'admin', 0, 0, 0)",
    )
    .execute(app.store.pool())
    .await;

    assert!(
        refused
            .unwrap_err()
            .message_for("name")
            .unwrap()
            .contains("reserved")
    );
    assert!(direct.is_err(), "the database refuses the reserved name");
}

async fn the_users_command_adds_a_user_with_the_password_from_standard_input(app: TestApp) {
    use std::io::Write;
    let run = |args: &[&str], stdin: &str| {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_junction"))
            .args(args)
            .env("DATABASE_URL", &app.database.url)
            .env("JUNCTION_DATA_DIR", app.data_dir.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(if output.status.success() {
            &output.stdout
        } else {
            &output.stderr
        });
        (output.status.success(), text.trim().to_owned())
    };

    let added = run(
        &["users", "add", "grace", "--role", "editor"],
        &format!("{PASSWORD}\n"),
    );
    let short = run(&["users", "add", "linus", "--role", "viewer"], "short\n");
    let reset = run(
        &["users", "set-password", "grace"],
        "another long passphrase\n",
    );

    assert_eq!(added, (true, "added grace (editor)".to_owned()));
    assert_eq!(
        short,
        (
            false,
            "junction: password: a password is at least 10 characters".to_owned()
        )
    );
    assert_eq!(reset, (true, "set the password of grace".to_owned()));
    assert!(
        app.service
            .check_password("grace", "another long passphrase")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn half_a_first_administrator_stops_the_server_at_start() {
    let database = TestDatabase::create(Backend::Sqlite).await;
    let data_dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_database(database.url.clone(), data_dir.path().to_owned());
    config.admin_user = Some("ada".into());
    config.admin_password = None;

    let err = Application::build(&config).await.err().unwrap();

    assert!(err.to_string().contains("go together"), "{err}");
}

async fn administrators_manage_users_through_the_json_api_and_passwords_never_come_back(
    app: TestApp,
) {
    let body = json!({ "name": "bob", "password": PASSWORD, "role": "viewer" });

    let (added, _, user) = app.api("POST", "/api/v1/users", Some(body.clone())).await;
    let (again, _, error) = app.api("POST", "/api/v1/users", Some(body)).await;
    let (changed, _, promoted) = app
        .api(
            "PATCH",
            "/api/v1/users/bob",
            Some(json!({ "role": "editor", "disabled": true })),
        )
        .await;
    let (missing, _, _) = app
        .api(
            "PATCH",
            "/api/v1/users/nobody",
            Some(json!({ "role": "editor" })),
        )
        .await;
    let (listed, _, users) = app.api("GET", "/api/v1/users", None).await;

    assert_eq!(
        (added, user["name"].clone(), user["role"].clone()),
        (201, json!("bob"), json!("viewer"))
    );
    assert_eq!(
        (again, error["error"]["code"].clone()),
        (422, json!("validation_failed"))
    );
    assert_eq!(
        (
            changed,
            promoted["role"].clone(),
            promoted["disabled"].clone()
        ),
        (200, json!("editor"), json!(true))
    );
    assert_eq!(missing, 404);
    assert_eq!(listed, 200);
    assert_eq!(users.as_array().unwrap().len(), 2, "admin and bob");
    let everything = format!("{user}{promoted}{users}");
    assert!(
        !everything.contains(PASSWORD) && !everything.contains("argon2"),
        "{everything}"
    );
}

async fn the_last_enabled_administrator_can_be_neither_demoted_nor_disabled(
    EmptyApp(app): EmptyApp,
) {
    app.service
        .add_user(&admin(), &request("ada", "admin"))
        .await
        .unwrap();
    let demote = UserChange {
        role: Some("editor"),
        ..UserChange::default()
    };
    let disable = UserChange {
        disabled: Some(true),
        ..UserChange::default()
    };

    let refused = app.service.change_user(&admin(), "ada", &demote).await;
    let also_refused = app.service.change_user(&admin(), "ada", &disable).await;
    app.service
        .add_user(&admin(), &request("grace", "admin"))
        .await
        .unwrap();
    let allowed = app
        .service
        .change_user(&admin(), "ada", &demote)
        .await
        .unwrap();

    assert!(
        refused
            .unwrap_err()
            .message_for("role")
            .unwrap()
            .contains("last enabled administrator")
    );
    assert!(also_refused.is_err());
    assert_eq!(allowed.role, Role::Editor);
}
