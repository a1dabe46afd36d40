//! The command-line client (`junction integrations ...`, the same binary) against a
//! running server: a full cycle from a file to a stopped integration, a refusal with
//! a message and a non-zero exit, signing in with `login`, and moving an export from
//! one server to another. On SQLite and PostgreSQL.
#![cfg(feature = "ssr")]
#![allow(clippy::unwrap_used)]

mod common;

use common::{LiveApp, TestApp};
use serde_json::{Value, json};
use std::path::Path;

/// What a run of the client did.
struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `junction --server <app> ARGS` with `env`, feeding `input` to standard input.
async fn junction(app: &TestApp, env: &[(&str, &str)], input: &str, args: &[&str]) -> Ran {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_junction"));
    command
        .arg("--server")
        .arg(format!("http://{}", app.addr))
        .args(args)
        .env_remove("JUNCTION_TOKEN")
        .env_remove("JUNCTION_SERVER")
        .env(
            "JUNCTION_CLIENT_CONFIG",
            app.data_dir.path().join("client.json"),
        )
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let input = input.to_owned();
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = command.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        Ran {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    })
    .await
    .unwrap()
}

/// Runs the client as the administrator (a token in JUNCTION_TOKEN); it must succeed.
async fn ok(app: &TestApp, args: &[&str]) -> String {
    let ran = junction(app, &[("JUNCTION_TOKEN", &app.token)], "", args).await;
    assert_eq!(
        ran.code, 0,
        "junction {args:?}: {}{}",
        ran.stdout, ran.stderr
    );
    ran.stdout
}

fn write(dir: &Path, name: &str, value: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, value.to_string()).unwrap();
    path.display().to_string()
}

async fn state_of(app: &TestApp, id: &str) -> Value {
    app.api("GET", &format!("/api/v1/integrations/{id}"), None)
        .await
        .2
}

on_both_databases! {
    the_client_drives_a_full_cycle_and_fails_clearly_on_a_refusal: LiveApp,
    login_keeps_a_token_that_later_commands_use: TestApp,
    an_export_written_by_the_client_imports_into_another_server: TestApp,
}

async fn the_client_drives_a_full_cycle_and_fails_clearly_on_a_refusal(app: LiveApp) {
    let dir = tempfile::tempdir().unwrap();
    let flow = |label: &str| {
        json!({
            "trigger": { "kind": "webhook", "path": "cli-orders" },
            "steps": [{ "kind": "transform", "template": { "version": label } }]
        })
    };
    let file = write(dir.path(), "orders.json", &flow("one"));
    let created: Value = serde_json::from_str(
        &ok(
            &app,
            &[
                "--json",
                "integrations",
                "create",
                "--name",
                "CLI orders",
                "--file",
                &file,
            ],
        )
        .await,
    )
    .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();

    let published = ok(
        &app,
        &["integrations", "publish", "CLI orders", "--note", "first"],
    )
    .await;
    assert!(published.starts_with("published v1"), "{published}");
    app.eventually("v1 answers", || async {
        app.hook("cli-orders", json!({})).await == (200, json!({ "version": "one" }))
    })
    .await;

    // A second version, edited through the API, published through the client.
    let revision = state_of(&app, &id).await["revision"].to_string();
    app.api_with(
        "PUT",
        &format!("/api/v1/integrations/{id}/draft"),
        Some(json!({ "definition": flow("two") })),
        &[("if-match", &revision)],
    )
    .await;
    ok(&app, &["integrations", "publish", &id, "--note", "second"]).await;

    let history = ok(&app, &["integrations", "history", &id]).await;
    let lines: Vec<&str> = history.lines().collect();
    assert!(lines[0].starts_with("VERSION"), "{history}");
    assert!(
        lines[1].starts_with("v2") && lines[1].contains("second"),
        "{history}"
    );
    assert!(
        lines[2].starts_with("v1") && lines[2].contains("first"),
        "{history}"
    );

    let diff = ok(&app, &["integrations", "diff", &id, "1", "2"]).await;
    assert!(diff.contains("-") && diff.contains("\"two\""), "{diff}");

    ok(&app, &["integrations", "activate", &id, "v1"]).await;
    app.eventually("v1 runs again", || async {
        app.hook("cli-orders", json!({})).await == (200, json!({ "version": "one" }))
    })
    .await;
    let listed = ok(&app, &["integrations", "list"]).await;
    assert!(listed.contains("CLI orders"), "{listed}");

    ok(&app, &["integrations", "stop", &id]).await;
    app.eventually("it is stopped", || async {
        let now = state_of(&app, &id).await;
        now["current_state"] == "inactive" && now["pending"] == false
    })
    .await;
    let shown = ok(&app, &["integrations", "show", "cli ORDERS"]).await;
    assert!(shown.contains("inactive"), "{shown}");

    // Refused: stopping what is stopped. A message, and exit code 1.
    let refused = junction(
        &app,
        &[("JUNCTION_TOKEN", &app.token)],
        "",
        &["integrations", "stop", &id],
    )
    .await;
    assert_eq!(refused.code, 1, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused
            .stderr
            .contains("cannot stop: the integration is Inactive"),
        "{}",
        refused.stderr
    );
    let missing = junction(
        &app,
        &[("JUNCTION_TOKEN", &app.token)],
        "",
        &["integrations", "show", "no such integration"],
    )
    .await;
    assert_eq!(missing.code, 1, "{}", missing.stderr);
    let unsigned = junction(&app, &[], "", &["integrations", "list"]).await;
    assert_eq!(unsigned.code, 3, "{}", unsigned.stderr);
    assert!(unsigned.stderr.contains("login"), "{}", unsigned.stderr);
    let wrong = junction(
        &app,
        &[("JUNCTION_TOKEN", "jct_not-a-token")],
        "",
        &["integrations", "list"],
    )
    .await;
    assert_eq!(wrong.code, 3, "{}", wrong.stderr);
    let usage = junction(&app, &[], "", &["integrations", "activate"]).await;
    assert_eq!(usage.code, 2, "{}", usage.stderr);
    let help = junction(&app, &[], "", &["integrations", "promote", "--help"]).await;
    assert_eq!(help.code, 0);
    assert!(help.stdout.contains("--activate"), "{}", help.stdout);
}

async fn login_keeps_a_token_that_later_commands_use(app: TestApp) {
    let refused = junction(&app, &[], "admin\nnot the password\n", &["login"]).await;
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    let signed_in = junction(
        &app,
        &[],
        &format!("{}\n{}\n", common::ADMIN, common::ADMIN_PASSWORD),
        &["login"],
    )
    .await;
    assert_eq!(signed_in.code, 0, "{}", signed_in.stderr);
    assert!(
        signed_in.stdout.contains("signed in to"),
        "{}",
        signed_in.stdout
    );
    let saved = std::fs::read_to_string(app.data_dir.path().join("client.json")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(app.data_dir.path().join("client.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the token file is readable by others");
    }
    assert!(saved.contains("jct_"), "{saved}");

    app.api(
        "POST",
        "/api/v1/integrations",
        Some(json!({ "name": "Kept" })),
    )
    .await;
    let listed = junction(&app, &[], "", &["integrations", "list"]).await;
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert!(listed.stdout.contains("Kept"), "{}", listed.stdout);
}

async fn an_export_written_by_the_client_imports_into_another_server(a: TestApp) {
    let b = TestApp::spawn(a.database.backend()).await;
    let dir = tempfile::tempdir().unwrap();
    let (_, _, created) = a
        .api(
            "POST",
            "/api/v1/integrations",
            Some(json!({ "name": "Carried", "definition": {
                "trigger": { "kind": "webhook", "path": "carried" }, "steps": [] } })),
        )
        .await;
    let id = created["id"].as_str().unwrap();
    a.api("POST", &format!("/api/v1/integrations/{id}/publish"), None)
        .await;
    let file = dir.path().join("carried.json").display().to_string();
    let exported = ok(&a, &["integrations", "export", id, "-o", &file]).await;
    assert!(exported.contains("exported 1 integration"), "{exported}");

    let imported = ok(&b, &["integrations", "import", &file]).await;
    assert!(imported.contains("created Carried with v1"), "{imported}");
    let again = ok(&b, &["integrations", "import", &file]).await;
    assert!(again.contains("nothing changed"), "{again}");
    let broken = write(
        dir.path(),
        "broken.json",
        &json!({ "format": "junction-export", "format_version": 9 }),
    );
    let refused = junction(
        &b,
        &[("JUNCTION_TOKEN", &b.token)],
        "",
        &["integrations", "import", &broken],
    )
    .await;
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("document.format_version"),
        "{}",
        refused.stderr
    );
}
