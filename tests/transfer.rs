//! Moving integrations between servers through the API: an export from one server
//! imported into another keeps numbers, notes, authors and hashes and no secret; an
//! import is idempotent, appends only what is new, refuses what would rewrite
//! history, and writes nothing when it refuses. On SQLite and PostgreSQL, and from
//! one to the other.
#![cfg(feature = "ssr")]
#![allow(clippy::unwrap_used)]

mod common;

use common::{Backend, LiveApp, TestApp};
use junction::domain::access::Role;
use serde_json::{Value, json};

const HEADER_SECRET: &str = "Bearer header-secret-4711";
const WEBHOOK_SECRET: &str = "webhook-secret-0815-abcdef";

fn flow(label: &str) -> Value {
    json!({
        "trigger": { "kind": "webhook", "path": format!("orders-{label}") },
        "steps": [{ "kind": "transform", "template": { "version": label } }]
    })
}

/// A flow with secrets of its own: a webhook secret and an HTTP header.
fn flow_with_secrets() -> Value {
    json!({
        "trigger": { "kind": "webhook", "path": "guarded",
                     "auth": { "scheme": "bearer", "secret": WEBHOOK_SECRET } },
        "steps": [{ "kind": "http", "method": "POST", "url": "http://127.0.0.1:9/x",
                    "headers": { "authorization": HEADER_SECRET } }]
    })
}

/// Replaces the draft and publishes it with a note.
async fn publish(app: &TestApp, id: &str, definition: Value, note: &str) {
    let base = format!("/api/v1/integrations/{id}");
    let revision = app.api("GET", &base, None).await.2["revision"].to_string();
    let (status, _, body) = app
        .api_with(
            "PUT",
            &format!("{base}/draft"),
            Some(json!({ "definition": definition })),
            &[("if-match", &revision)],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = app
        .api(
            "POST",
            &format!("{base}/publish"),
            Some(json!({ "note": note })),
        )
        .await;
    assert_eq!(status, 202, "{body}");
}

async fn export(app: &TestApp, id: &str) -> Value {
    let (status, _, document) = app
        .api(
            "GET",
            &format!("/api/v1/integrations/{id}/export?transitions=true"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{document}");
    document
}

async fn import(app: &TestApp, body: Value) -> (u16, Value) {
    let (status, _, answer) = app.api("POST", "/api/v1/import", Some(body)).await;
    (status, answer)
}

/// Each published version as `(number, note, published_by, content_hash)`, oldest first.
async fn history(app: &TestApp, id: &str) -> Vec<(i64, Value, Value, Value)> {
    let (status, _, page) = app
        .api(
            "GET",
            &format!("/api/v1/integrations/{id}/versions?per_page=200"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let mut versions: Vec<_> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|version| version["draft"] == false)
        .map(|version| {
            (
                version["number"].as_i64().unwrap(),
                version["note"].clone(),
                version["published_by"].clone(),
                version["content_hash"].clone(),
            )
        })
        .collect();
    versions.reverse();
    versions
}

fn paths(answer: &Value) -> Vec<String> {
    answer["error"]["details"]["fields"]
        .as_array()
        .map(|fields| {
            fields
                .iter()
                .map(|field| field["path"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// An integration on `app` with v1, v2 (with secrets), a discarded draft v3, v4 and
/// the draft v5.
async fn a_history_of_four(app: &TestApp) -> String {
    let id = app.create("Orders", flow("one")).await;
    let base = format!("/api/v1/integrations/{id}");
    let (status, _, _) = app
        .api(
            "POST",
            &format!("{base}/publish"),
            Some(json!({ "note": "first" })),
        )
        .await;
    assert_eq!(status, 202);
    publish(app, &id, flow_with_secrets(), "guarded").await;
    let revision = app.api("GET", &base, None).await.2["revision"].to_string();
    app.api_with(
        "PUT",
        &format!("{base}/draft"),
        Some(json!({ "definition": flow("abandoned") })),
        &[("if-match", &revision)],
    )
    .await;
    let (status, _, _) = app.api("DELETE", &format!("{base}/draft"), None).await;
    assert_eq!(status, 204);
    publish(app, &id, flow("four"), "fourth").await;
    let revision = app.api("GET", &base, None).await.2["revision"].to_string();
    let (status, _, _) = app
        .api_with(
            "PUT",
            &format!("{base}/draft"),
            Some(json!({ "definition": flow("five") })),
            &[("if-match", &revision)],
        )
        .await;
    assert_eq!(status, 200);
    id
}

async fn round_trip(from: Backend, to: Backend) {
    let a = TestApp::spawn(from).await;
    let b = TestApp::spawn(to).await;
    let id = a_history_of_four(&a).await;

    let document = export(&a, &id).await;
    let text = document.to_string();
    assert!(!text.contains(HEADER_SECRET), "{text}");
    assert!(!text.contains(WEBHOOK_SECRET), "{text}");
    assert!(!text.contains("header-secret"), "{text}");
    assert_eq!(document["format"], "junction-export");
    assert_eq!(document["integrations"][0]["draft"]["number"], 5);
    assert!(
        document["integrations"][0]["transitions"]
            .as_array()
            .is_some_and(|log| !log.is_empty())
    );

    let (status, answer) = import(&b, json!({ "document": document })).await;
    assert_eq!(status, 201, "{answer}");
    let imported = &answer["integrations"][0];
    assert_eq!(imported["integration"]["id"], id.as_str());
    assert_eq!(imported["added"], json!([1, 2, 4]));
    assert_eq!(imported["draft_added"], 5);
    assert_eq!(
        imported["secrets_left_out"],
        json!([
            "v2: steps[0].headers.authorization",
            "v2: trigger.auth.secret"
        ])
    );
    // Nothing starts: it comes in stopped at its newest version.
    assert_eq!(imported["integration"]["target_state"], "inactive");
    assert_eq!(imported["integration"]["active_version"], 4);

    assert_eq!(history(&a, &id).await, history(&b, &id).await);
    assert_eq!(history(&b, &id).await.len(), 3);
    let (_, _, v4) = b
        .api(
            "GET",
            &format!("/api/v1/integrations/{id}/versions/4"),
            None,
        )
        .await;
    assert_eq!(v4["imported_from"], format!("http://{}", a.addr).as_str());
    assert!(v4["imported_at"].is_string(), "{v4}");
    // Numbers are never reused: the draft discarded on A took v3 on B too.
    let (status, _, _) = b
        .api(
            "GET",
            &format!("/api/v1/integrations/{id}/versions/3"),
            None,
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_trip_from_sqlite_to_postgres_keeps_numbers_notes_authors_and_hashes() {
    round_trip(Backend::Sqlite, Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_trip_from_postgres_to_sqlite_keeps_numbers_notes_authors_and_hashes() {
    round_trip(Backend::Postgres, Backend::Sqlite).await;
}

on_both_databases! {
    importing_the_same_document_twice_changes_nothing: TestApp,
    an_import_appends_only_new_versions_and_refuses_a_conflicting_one: TestApp,
    a_tampered_or_unreadable_document_is_refused_by_field_and_writes_nothing: TestApp,
    missing_connections_are_listed_and_a_mapping_renames_them: TestApp,
    an_export_of_everything_leaves_out_the_unpublished: LiveApp,
    a_viewer_exports_but_may_not_import: TestApp,
    an_import_starts_nothing_until_asked_to_activate: LiveApp,
    a_promotion_makes_the_remote_history_end_with_the_version_and_is_recorded: TestApp,
}

fn backend_of(app: &TestApp) -> Backend {
    app.database.backend()
}

async fn importing_the_same_document_twice_changes_nothing(a: TestApp) {
    let b = TestApp::spawn(backend_of(&a)).await;
    let id = a_history_of_four(&a).await;
    let document = export(&a, &id).await;
    let (status, _) = import(&b, json!({ "document": document })).await;
    assert_eq!(status, 201);
    let before = b
        .api("GET", &format!("/api/v1/integrations/{id}"), None)
        .await
        .2;

    let (status, again) = import(&b, json!({ "document": document })).await;
    assert_eq!(status, 200, "{again}");
    let imported = &again["integrations"][0];
    assert_eq!(imported["created"], false);
    assert_eq!(imported["added"], json!([]));
    assert_eq!(imported["unchanged"], json!([1, 2, 4]));
    assert_eq!(imported["draft_added"], Value::Null);
    let after = b
        .api("GET", &format!("/api/v1/integrations/{id}"), None)
        .await
        .2;
    assert_eq!(before, after, "the second import changed the integration");
}

async fn an_import_appends_only_new_versions_and_refuses_a_conflicting_one(a: TestApp) {
    let b = TestApp::spawn(backend_of(&a)).await;
    let id = a.create("Invoices", flow("one")).await;
    a.api("POST", &format!("/api/v1/integrations/{id}/publish"), None)
        .await;
    publish(&a, &id, flow("two"), "second").await;
    let (status, _) = import(&b, json!({ "document": export(&a, &id).await })).await;
    assert_eq!(status, 201);

    publish(&a, &id, flow("three"), "third").await;
    let (status, answer) = import(&b, json!({ "document": export(&a, &id).await })).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["integrations"][0]["added"], json!([3]));
    assert_eq!(answer["integrations"][0]["unchanged"], json!([1, 2]));
    assert_eq!(history(&a, &id).await, history(&b, &id).await);

    // The histories go apart: each server publishes its own v4.
    publish(&a, &id, flow("four-a"), "a's fourth").await;
    publish(&a, &id, flow("five"), "fifth").await;
    publish(&b, &id, flow("four-b"), "b's fourth").await;
    let before = history(&b, &id).await;
    let (status, refused) = import(&b, json!({ "document": export(&a, &id).await })).await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(
        paths(&refused),
        ["document.integrations[0].versions[3].content_hash"]
    );
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("v4 exists here with another flow"),
        "{message}"
    );
    assert_eq!(history(&b, &id).await, before, "a refused import wrote");
}

async fn a_tampered_or_unreadable_document_is_refused_by_field_and_writes_nothing(a: TestApp) {
    let b = TestApp::spawn(backend_of(&a)).await;
    let id = a_history_of_four(&a).await;
    let document = export(&a, &id).await;
    let refuse = |changed: Value, path: &'static str| {
        let b = &b;
        async move {
            let (status, answer) = import(b, json!({ "document": changed })).await;
            assert_eq!(status, 422, "{answer}");
            assert_eq!(paths(&answer), [path], "{answer}");
        }
    };

    let mut tampered = document.clone();
    tampered["integrations"][0]["versions"][2]["definition"]["steps"][0]["template"]["version"] =
        json!("changed");
    refuse(
        tampered,
        "document.integrations[0].versions[2].content_hash",
    )
    .await;

    let mut fingerprint = document.clone();
    fingerprint["integrations"][0]["versions"][1]["secrets_fingerprint"] = json!("00".repeat(32));
    refuse(
        fingerprint,
        "document.integrations[0].versions[1].content_hash",
    )
    .await;

    let mut newer = document.clone();
    newer["format_version"] = json!(2);
    refuse(newer, "document.format_version").await;

    let mut broken = document.clone();
    broken["integrations"][0]["versions"][0]["definition"]["trigger"]["kind"] =
        json!("carrier pigeon");
    refuse(
        broken,
        "document.integrations[0].versions[0].definition.trigger.kind",
    )
    .await;

    let (status, answer) = import(&b, json!({ "document": document, "surprise": 1 })).await;
    assert_eq!(status, 400, "{answer}");

    let (_, _, listed) = b.api("GET", "/api/v1/integrations", None).await;
    assert_eq!(listed["total"], 0, "a refused import wrote: {listed}");
}

async fn connection(app: &TestApp, name: &str) {
    let (status, _, body) = app
        .api(
            "POST",
            "/api/v1/connections",
            Some(json!({ "name": name, "kind": "http",
                         "settings": { "base_url": "http://127.0.0.1:9", "auth": "bearer" },
                         "secrets": { "token": "connection-token-secret" },
                         "allow_private": true })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

fn flow_through(connection: &str) -> Value {
    json!({
        "trigger": { "kind": "webhook", "path": "through" },
        "steps": [{ "kind": "http", "method": "POST", "url": "/orders", "connection": connection }]
    })
}

async fn missing_connections_are_listed_and_a_mapping_renames_them(a: TestApp) {
    let b = TestApp::spawn(backend_of(&a)).await;
    connection(&a, "orders-api").await;
    connection(&b, "orders-api-prod").await;
    let id = a.create("Through", flow_through("orders-api")).await;
    a.api("POST", &format!("/api/v1/integrations/{id}/publish"), None)
        .await;
    let document = export(&a, &id).await;
    assert!(!document.to_string().contains("connection-token-secret"));
    assert_eq!(
        document["integrations"][0]["connections"],
        json!([{ "name": "orders-api", "kind": "http" }])
    );

    let (status, refused) = import(&b, json!({ "document": document })).await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(paths(&refused), ["connections.orders-api"]);
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("http connection \"orders-api\""),
        "{message}"
    );

    let (status, refused) = import(
        &b,
        json!({ "document": document, "connections": { "orders-api": "nowhere" } }),
    )
    .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(paths(&refused), ["connections.orders-api"]);

    let mapped =
        json!({ "document": document, "connections": { "orders-api": "orders-api-prod" } });
    let (status, answer) = import(&b, mapped.clone()).await;
    assert_eq!(status, 201, "{answer}");
    let (_, _, v1) = b
        .api(
            "GET",
            &format!("/api/v1/integrations/{id}/versions/1"),
            None,
        )
        .await;
    assert_eq!(
        v1["definition"]["steps"][0]["connection"],
        "orders-api-prod"
    );
    let (status, again) = import(&b, mapped).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["integrations"][0]["unchanged"], json!([1]));
}

async fn an_export_of_everything_leaves_out_the_unpublished(app: LiveApp) {
    let kept = app.create("Kept", flow("kept")).await;
    let gone = app.running("Gone", flow("gone")).await;
    let (status, _, stopped) = app
        .api("POST", &format!("/api/v1/integrations/{gone}/stop"), None)
        .await;
    assert_eq!(status, 202, "{stopped}");
    app.eventually("Gone is stopped", || async {
        let now = app
            .api("GET", &format!("/api/v1/integrations/{gone}"), None)
            .await
            .2;
        now["current_state"] == "inactive"
    })
    .await;
    let (status, _, _) = app
        .api(
            "POST",
            &format!("/api/v1/integrations/{gone}/unpublish"),
            None,
        )
        .await;
    assert_eq!(status, 202);
    let (status, _, document) = app.api("GET", "/api/v1/export", None).await;
    assert_eq!(status, 200, "{document}");
    let ids: Vec<&str> = document["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|integration| integration["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&kept.as_str()), "{ids:?}");
    assert!(!ids.contains(&gone.as_str()), "{ids:?}");
}

async fn a_viewer_exports_but_may_not_import(app: TestApp) {
    let id = app.create("Watched", flow("watched")).await;
    let viewer = app.client_as("vera", Role::Viewer).await;
    let exported = viewer
        .get(app.url(&format!("/api/v1/integrations/{id}/export")))
        .send()
        .await
        .unwrap();
    assert_eq!(exported.status(), 200);
    let document: Value = exported.json().await.unwrap();
    let refused = viewer
        .post(app.url("/api/v1/import"))
        .json(&json!({ "document": document }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("may not import integrations")
    );
}

async fn an_import_starts_nothing_until_asked_to_activate(a: LiveApp) {
    let b = LiveApp::spawn(backend_of(&a)).await;
    let id = a.create("Hooks", flow("one")).await;
    a.api("POST", &format!("/api/v1/integrations/{id}/publish"), None)
        .await;
    publish(&a, &id, flow_with_secrets(), "guarded").await;
    publish(&a, &id, flow("three"), "third").await;
    let document = export(&a, &id).await;

    let (status, _) = import(&b, json!({ "document": document })).await;
    assert_eq!(status, 201);
    b.eventually("the import is recorded Inactive", || async {
        let now = b
            .api("GET", &format!("/api/v1/integrations/{id}"), None)
            .await
            .2;
        now["current_state"] == "inactive" && now["pending"] == false
    })
    .await;
    assert_eq!(b.hook("orders-three", json!({})).await.0, 404);

    let (status, answer) = import(&b, json!({ "document": document, "activate": 3 })).await;
    assert_eq!(status, 200, "{answer}");
    b.eventually("v3 runs on b", || async {
        b.hook("orders-three", json!({})).await == (200, json!({ "version": "three" }))
    })
    .await;

    // v2 came without its secrets: asked to run it, it says so instead of sending
    // the mask.
    let (status, _, _) = b
        .api(
            "POST",
            &format!("/api/v1/integrations/{id}/versions/2/activate"),
            None,
        )
        .await;
    assert_eq!(status, 202);
    b.eventually("v2 fails for its missing secrets", || async {
        let now = b
            .api("GET", &format!("/api/v1/integrations/{id}"), None)
            .await
            .2;
        now["current_state"] == "error"
            && now["reconcile"]["last_error"]
                .as_str()
                .is_some_and(|error| {
                    error.contains(
                        "without its secrets (steps[0].headers.authorization, trigger.auth.secret)",
                    )
                })
    })
    .await;
}

/// A `junction` connection on `from` to `to`, signed in as `to`'s administrator.
async fn remote(from: &TestApp, name: &str, to: &TestApp, token: &str) {
    let (status, _, body) = from
        .api(
            "POST",
            "/api/v1/connections",
            Some(json!({ "name": name, "kind": "junction",
                         "settings": { "url": format!("http://{}", to.addr) },
                         "secrets": { "token": token },
                         "allow_private": true })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

async fn promote(app: &TestApp, id: &str, number: i64, body: Value) -> Value {
    let (status, _, promotion) = app
        .api(
            "POST",
            &format!("/api/v1/integrations/{id}/versions/{number}/promote"),
            Some(body),
        )
        .await;
    assert_eq!(status, 200, "{promotion}");
    promotion
}

async fn a_promotion_makes_the_remote_history_end_with_the_version_and_is_recorded(a: TestApp) {
    let b = TestApp::spawn(backend_of(&a)).await;
    remote(&a, "prod", &b, &b.token).await;
    remote(&a, "prod-wrong-token", &b, "jct_not-a-token").await;
    let (_, _, tested) = a.api("POST", "/api/v1/connections/prod/test", None).await;
    assert_eq!(tested["ok"], true, "{tested}");
    assert!(
        tested["message"]
            .as_str()
            .unwrap()
            .contains("as admin (admin)"),
        "{tested}"
    );
    let (_, _, refused) = a
        .api("POST", "/api/v1/connections/prod-wrong-token/test", None)
        .await;
    assert_eq!(refused["ok"], false, "{refused}");
    let (_, _, listed) = a.api("GET", "/api/v1/connections/prod", None).await;
    assert!(
        !listed.to_string().contains(&b.token),
        "the token was shown: {listed}"
    );

    let id = a.create("Payments", flow("one")).await;
    a.api("POST", &format!("/api/v1/integrations/{id}/publish"), None)
        .await;
    let first = promote(&a, &id, 1, json!({ "remote": "prod" })).await;
    assert_eq!(first["ok"], true, "{first}");
    publish(&a, &id, flow("two"), "second").await;
    publish(&a, &id, flow("three"), "third").await;

    let promoted = promote(&a, &id, 3, json!({ "remote": "prod", "activate": true })).await;
    assert_eq!(promoted["ok"], true, "{promoted}");
    assert!(
        promoted["answer"]
            .as_str()
            .unwrap()
            .contains("added v2, v3"),
        "{promoted}"
    );
    let on_b = history(&b, &id).await;
    assert_eq!(on_b.last().unwrap().0, 3);
    assert_eq!(on_b, history(&a, &id).await);
    let (_, _, remote_state) = b
        .api("GET", &format!("/api/v1/integrations/{id}"), None)
        .await;
    assert_eq!(remote_state["active_version"], 3);
    assert_eq!(remote_state["target_state"], "active");

    // The remote's history goes its own way: the next promotion is refused there,
    // and the refusal is recorded here.
    publish(&b, &id, flow("four-b"), "hotfix on prod").await;
    publish(&a, &id, flow("four-a"), "fourth").await;
    let refused = promote(&a, &id, 4, json!({ "remote": "prod" })).await;
    assert_eq!(refused["ok"], false, "{refused}");
    assert!(
        refused["answer"]
            .as_str()
            .unwrap()
            .contains("v4 exists here with another flow"),
        "{refused}"
    );
    let wrong = promote(&a, &id, 3, json!({ "remote": "prod-wrong-token" })).await;
    assert_eq!(wrong["ok"], false, "{wrong}");
    assert!(wrong["answer"].as_str().unwrap().contains("401"), "{wrong}");

    let (_, _, recorded) = a
        .api(
            "GET",
            &format!("/api/v1/integrations/{id}/promotions"),
            None,
        )
        .await;
    let outcomes: Vec<(i64, bool)> = recorded
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["version"].as_i64().unwrap(), p["ok"].as_bool().unwrap()))
        .collect();
    assert_eq!(outcomes, [(3, false), (4, false), (3, true), (1, true)]);
    assert!(!recorded.to_string().contains(&b.token));

    // Both servers' audit logs say who moved what.
    let events = |log: Value| -> Vec<String> {
        log.as_array()
            .unwrap()
            .iter()
            .map(|entry| {
                format!(
                    "{} {}",
                    entry["event"].as_str().unwrap(),
                    entry["actor"].as_str().unwrap()
                )
            })
            .collect()
    };
    let on_a = events(a.api("GET", "/api/v1/audit", None).await.2);
    assert!(
        on_a.contains(&"version_promoted admin".to_owned()),
        "{on_a:?}"
    );
    let on_b = events(b.api("GET", "/api/v1/audit", None).await.2);
    assert!(
        on_b.contains(&"integrations_imported admin".to_owned()),
        "{on_b:?}"
    );

    let (status, _, unknown) = a
        .api(
            "POST",
            &format!("/api/v1/integrations/{id}/versions/3/promote"),
            Some(json!({ "remote": "payments-db" })),
        )
        .await;
    assert_eq!(status, 422, "{unknown}");
    assert_eq!(paths(&unknown), ["remote"]);
}
