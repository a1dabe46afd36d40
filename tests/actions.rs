//! Every action as the browser calls it (server functions over HTTP): statuses, typed
//! errors with clear messages, and secrets that never come back, on both databases.
#![cfg(feature = "ssr")]
#![allow(clippy::unwrap_used)]

mod common;

#[allow(unused_imports)]
use common::TestApp;
use serde_json::Value;

async fn created(app: &TestApp, name: &str) -> String {
    let (status, body) = app
        .call("create_integration", &[("name", name), ("description", "")])
        .await;
    assert_eq!(status, 200, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

/// Version 1 as stored, secrets included.
async fn stored_v1(app: &TestApp, id: &str) -> junction::domain::Version {
    let id = junction::domain::IntegrationId::parse(id).unwrap();
    app.store.version(id, common::fixtures::v(1)).await.unwrap()
}

async fn revision(app: &TestApp, id: &str) -> String {
    let (_, detail) = app.call("get_integration", &[("id", id)]).await;
    detail["integration"]["revision"].to_string()
}

const FLOW: &str = r#"{"trigger":{"kind":"webhook","path":"orders"},"steps":[
    {"kind":"http","method":"POST","url":"http://127.0.0.1:9/x","headers":{"x-api-key":"s3cret"}}]}"#;

on_both_databases! {
    a_person_edits_publishes_stops_and_starts_an_integration: TestApp,
    secrets_are_stored_but_never_shown_back: TestApp,
    saving_the_masked_secret_back_keeps_the_stored_one: TestApp,
    two_http_steps_with_one_url_keep_their_own_secrets_through_an_edit: TestApp,
    a_masked_secret_with_nothing_stored_at_its_place_is_refused_not_stored: TestApp,
    a_malformed_definition_reports_every_problem_with_its_place: TestApp,
    definition_text_that_is_not_json_is_named_as_such: TestApp,
    an_unknown_or_malformed_id_is_not_found: TestApp,
    an_over_long_name_and_note_are_refused_by_field: TestApp,
    an_action_not_allowed_now_is_a_conflict_naming_what_is_allowed: TestApp,
    a_save_from_an_old_revision_is_refused_and_says_why: TestApp,
    a_version_that_is_not_a_number_is_refused_by_field: TestApp,
    a_never_published_integration_is_deleted_and_gone: TestApp,
    a_blueprint_copies_a_published_version_into_a_new_integration: TestApp,
    the_transition_log_pages_newest_first: TestApp,
    the_secrets_of_a_url_are_masked_in_versions_hashed_unguessably_and_diffed_by_place: TestApp,
}

async fn a_person_edits_publishes_stops_and_starts_an_integration(app: TestApp) {
    let id = created(&app, "Orders").await;
    let revision = revision(&app, &id).await;

    let (status, saved) = app
        .call(
            "save_draft",
            &[("id", &id), ("revision", &revision), ("definition", FLOW)],
        )
        .await;
    assert_eq!(status, 200, "{saved}");
    let (status, published) = app.call("publish", &[("id", &id), ("note", "first")]).await;
    assert_eq!(status, 200, "{published}");
    assert_eq!(published["active_version"], 1);
    assert_eq!(published["target_state"], "active");
    app.store
        .set_current(
            junction::domain::IntegrationId::parse(&id).unwrap(),
            junction::domain::lifecycle::State::Active,
            Some(common::fixtures::v(1)),
            "test",
        )
        .await
        .unwrap();
    let (status, stopped) = app.call("stop", &[("id", &id)]).await;
    assert_eq!(
        (status, stopped["target_state"].clone()),
        (200, Value::from("inactive"))
    );
}

async fn secrets_are_stored_but_never_shown_back(app: TestApp) {
    let id = created(&app, "Orders").await;
    let revision = revision(&app, &id).await;
    app.call(
        "save_draft",
        &[("id", &id), ("revision", &revision), ("definition", FLOW)],
    )
    .await;

    let (_, detail) = app.call("get_integration", &[("id", &id)]).await;

    let shown = detail["draft"]["definition"]["steps"][0]["headers"]["x-api-key"].clone();
    assert_eq!(shown, "********");
    assert!(!detail.to_string().contains("s3cret"));
    let stored = stored_v1(&app, &id).await;
    assert_eq!(
        stored.definition["steps"][0]["headers"]["x-api-key"],
        "s3cret"
    );
}

async fn saving_the_masked_secret_back_keeps_the_stored_one(app: TestApp) {
    let id = created(&app, "Orders").await;
    let first = revision(&app, &id).await;
    app.call(
        "save_draft",
        &[("id", &id), ("revision", &first), ("definition", FLOW)],
    )
    .await;
    let (_, detail) = app.call("get_integration", &[("id", &id)]).await;
    let shown = detail["draft"]["definition"].to_string();

    let second = revision(&app, &id).await;
    let (status, _) = app
        .call(
            "save_draft",
            &[("id", &id), ("revision", &second), ("definition", &shown)],
        )
        .await;

    assert_eq!(status, 200);
    let stored = stored_v1(&app, &id).await;
    assert_eq!(
        stored.definition["steps"][0]["headers"]["x-api-key"],
        "s3cret"
    );
}

async fn two_http_steps_with_one_url_keep_their_own_secrets_through_an_edit(app: TestApp) {
    let id = created(&app, "Orders").await;
    let two = r#"{"trigger":{"kind":"webhook","path":"orders"},"steps":[
        {"kind":"http","method":"POST","url":"http://127.0.0.1:9/x","headers":{"x-api-key":"first"}},
        {"kind":"http","method":"POST","url":"http://127.0.0.1:9/x","headers":{"x-api-key":"second"}}]}"#;
    let revision_now = revision(&app, &id).await;
    app.call(
        "save_draft",
        &[
            ("id", &id),
            ("revision", &revision_now),
            ("definition", two),
        ],
    )
    .await;
    let (_, detail) = app.call("get_integration", &[("id", &id)]).await;
    let mut shown = detail["draft"]["definition"].clone();
    shown["steps"][1]["url"] = "http://127.0.0.1:9/moved".into();

    let revision_now = revision(&app, &id).await;
    let (status, saved) = app
        .call(
            "save_draft",
            &[
                ("id", &id),
                ("revision", &revision_now),
                ("definition", &shown.to_string()),
            ],
        )
        .await;

    assert_eq!(status, 200, "{saved}");
    let stored = stored_v1(&app, &id).await;
    assert_eq!(
        stored.definition["steps"][0]["headers"]["x-api-key"],
        "first"
    );
    assert_eq!(
        stored.definition["steps"][1]["headers"]["x-api-key"],
        "second"
    );
    assert_eq!(
        stored.definition["steps"][1]["url"],
        "http://127.0.0.1:9/moved"
    );
}

async fn a_masked_secret_with_nothing_stored_at_its_place_is_refused_not_stored(app: TestApp) {
    let id = created(&app, "Orders").await;
    let masked = r#"{"trigger":{"kind":"webhook","path":"orders"},"steps":[
        {"kind":"http","method":"POST","url":"http://127.0.0.1:9/x","headers":{"x-api-key":"********"}}]}"#;
    let revision_now = revision(&app, &id).await;

    let (status, error) = app
        .call(
            "save_draft",
            &[
                ("id", &id),
                ("revision", &revision_now),
                ("definition", masked),
            ],
        )
        .await;

    assert_eq!(status, 422, "{error}");
    assert_eq!(
        error["fields"][0]["path"],
        "definition.steps[0].headers.x-api-key"
    );
    let stored = stored_v1(&app, &id).await;
    assert!(!stored.definition.to_string().contains("********"));
}

async fn a_malformed_definition_reports_every_problem_with_its_place(app: TestApp) {
    let id = created(&app, "Orders").await;
    let revision = revision(&app, &id).await;
    let bad = r#"{"trigger":{"kind":"webhook","path":"Bad Path"},"steps":[{"kind":"http","method":"POST","url":"nope"}],"extra":1}"#;

    let (status, error) = app
        .call(
            "save_draft",
            &[("id", &id), ("revision", &revision), ("definition", bad)],
        )
        .await;

    assert_eq!(status, 422);
    let paths: Vec<_> = error["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "definition.extra",
            "definition.trigger.path",
            "definition.steps[0].url"
        ]
    );
}

async fn definition_text_that_is_not_json_is_named_as_such(app: TestApp) {
    let id = created(&app, "Orders").await;
    let revision = revision(&app, &id).await;

    let (status, error) = app
        .call(
            "save_draft",
            &[
                ("id", &id),
                ("revision", &revision),
                ("definition", "{oops"),
            ],
        )
        .await;

    assert_eq!(status, 422);
    assert_eq!(error["fields"][0]["path"], "definition");
    assert!(
        error["fields"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("not valid JSON")
    );
}

async fn an_unknown_or_malformed_id_is_not_found(app: TestApp) {
    for id in ["00000000-0000-4000-8000-000000000000", "not-an-id"] {
        let (status, error) = app.call("stop", &[("id", id)]).await;
        assert_eq!(status, 404, "{id}: {error}");
        assert_eq!(error["code"], "not_found");
    }
}

async fn an_over_long_name_and_note_are_refused_by_field(app: TestApp) {
    let id = created(&app, "Orders").await;
    let long_name = "n".repeat(101);
    let long_note = "n".repeat(501);

    let (name_status, name_error) = app
        .call(
            "create_integration",
            &[("name", &long_name), ("description", "")],
        )
        .await;
    let (note_status, note_error) = app
        .call("publish", &[("id", &id), ("note", &long_note)])
        .await;

    assert_eq!((name_status, note_status), (422, 422));
    assert_eq!(
        name_error["fields"][0]["message"],
        "a name is at most 100 characters (this one has 101)"
    );
    assert_eq!(note_error["fields"][0]["path"], "note");
    assert_eq!(
        note_error["fields"][0]["message"],
        "a publish note is at most 500 characters (this one has 501)"
    );
}

async fn an_action_not_allowed_now_is_a_conflict_naming_what_is_allowed(app: TestApp) {
    let id = created(&app, "Orders").await;

    let (status, error) = app.call("start", &[("id", &id)]).await;

    assert_eq!(status, 409);
    assert_eq!(error["code"], "invalid_transition");
    assert_eq!(
        error["message"],
        "cannot start: the integration is Draft; allowed now: Publish, Delete, Edit"
    );
    assert_eq!(
        error["allowed_actions"],
        serde_json::json!(["publish", "delete", "edit"])
    );
    assert_eq!(error["current_state"], "draft");
}

async fn a_save_from_an_old_revision_is_refused_and_says_why(app: TestApp) {
    let id = created(&app, "Orders").await;
    let old = revision(&app, &id).await;
    app.call(
        "save_draft",
        &[("id", &id), ("revision", &old), ("description", "theirs")],
    )
    .await;

    let (status, error) = app
        .call(
            "save_draft",
            &[("id", &id), ("revision", &old), ("description", "mine")],
        )
        .await;

    assert_eq!(status, 412);
    assert_eq!(error["code"], "revision_mismatch");
    assert!(error.to_string().contains("revision_mismatch"));
    let (_, detail) = app.call("get_integration", &[("id", &id)]).await;
    assert_eq!(detail["integration"]["description"], "theirs");
}

async fn a_version_that_is_not_a_number_is_refused_by_field(app: TestApp) {
    let id = created(&app, "Orders").await;

    let (status, error) = app
        .call("activate_version", &[("id", &id), ("version", "latest")])
        .await;

    assert_eq!(status, 422);
    assert_eq!(error["fields"][0]["path"], "version");
}

async fn a_never_published_integration_is_deleted_and_gone(app: TestApp) {
    let id = created(&app, "Orders").await;

    let (status, _) = app.call("delete_integration", &[("id", &id)]).await;

    assert_eq!(status, 200);
    let (status, _) = app.call("get_integration", &[("id", &id)]).await;
    assert_eq!(status, 404);
}

async fn a_blueprint_copies_a_published_version_into_a_new_integration(app: TestApp) {
    let id = created(&app, "Orders").await;
    app.call("publish", &[("id", &id)]).await;

    let (status, copy) = app
        .call(
            "new_from_version",
            &[("id", &id), ("version", "v1"), ("name", "Orders copy")],
        )
        .await;

    assert_eq!(status, 200, "{copy}");
    assert_eq!(copy["draft_version"], 1);
    let (_, detail) = app
        .call("get_integration", &[("id", copy["id"].as_str().unwrap())])
        .await;
    assert_eq!(detail["draft"]["source"]["integration_id"], id.as_str());
}

async fn the_transition_log_pages_newest_first(app: TestApp) {
    let id = created(&app, "Orders").await;
    app.call("publish", &[("id", &id)]).await;

    let (_, first) = app
        .call(
            "list_transitions",
            &[("id", &id), ("page", "1"), ("per_page", "2")],
        )
        .await;
    let (_, second) = app
        .call(
            "list_transitions",
            &[("id", &id), ("page", "2"), ("per_page", "2")],
        )
        .await;

    assert_eq!(first["total"], 4);
    assert_eq!(first["items"][0]["field"], "target_state");
    assert_eq!(first["items"][0]["to"], "active");
    assert_eq!(second["items"][1]["to"], "draft");
}

/// Publishes `definition` as the next version of `id` through the API; its number.
async fn published_next(app: &TestApp, id: &str, definition: &Value) -> i64 {
    let base = format!("/api/v1/integrations/{id}");
    let (_, headers, _) = app.api("GET", &base, None).await;
    let etag = headers["etag"].to_str().unwrap().to_owned();
    let body = serde_json::json!({ "definition": definition });
    let (status, _, saved) = app
        .api_with(
            "PUT",
            &format!("{base}/draft"),
            Some(body),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(status, 200, "{saved}");
    let (status, _, published) = app.api("POST", &format!("{base}/publish"), None).await;
    assert_eq!(status, 202, "{published}");
    published["active_version"].as_i64().unwrap()
}

async fn the_secrets_of_a_url_are_masked_in_versions_hashed_unguessably_and_diffed_by_place(
    app: TestApp,
) {
    let flow = |url: &str, key: &str| {
        serde_json::json!({ "trigger": { "kind": "webhook", "path": "keyed" }, "steps": [
            { "kind": "http", "method": "POST", "url": url, "headers": { "x-api-key": key } }
        ] })
    };
    let url = "http://bob:hunter2@127.0.0.1:9/x?token=abc123&page=1";
    let (_, _, created) = app
        .api(
            "POST",
            "/api/v1/integrations",
            Some(serde_json::json!({ "name": "Keyed", "definition": flow(url, "k1") })),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let base = format!("/api/v1/integrations/{id}");
    app.api("POST", &format!("{base}/publish"), None).await;

    let (_, _, first) = app.api("GET", &format!("{base}/versions/1"), None).await;
    let shown = first["definition"]["steps"][0]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        shown,
        "http://bob:********@127.0.0.1:9/x?token=********&page=1"
    );
    assert!(!first.to_string().contains("hunter2") && !first.to_string().contains("abc123"));
    // Sent back masked with only the header's secret typed anew: the URL keeps its own.
    let second = published_next(&app, &id, &flow(&shown, "k2")).await;
    let third = published_next(&app, &id, &flow(&shown, "k1")).await;
    let (_, _, diff) = app
        .api("GET", &format!("{base}/versions/1/diff/{second}"), None)
        .await;
    let hash = |n: i64| {
        let app = &app;
        let base = base.clone();
        async move {
            let (_, _, version) = app.api("GET", &format!("{base}/versions/{n}"), None).await;
            version["content_hash"].as_str().unwrap().to_owned()
        }
    };

    assert_eq!(diff["identical"], false, "only a secret changed: {diff}");
    assert_eq!(
        diff["secrets_changed"],
        serde_json::json!(["steps[0].headers.x-api-key"])
    );
    assert!(!diff.to_string().contains("k1") && !diff.to_string().contains("k2"));
    assert_ne!(
        hash(1).await,
        hash(second).await,
        "a changed secret changes the hash"
    );
    assert_eq!(hash(1).await, hash(third).await, "equal secrets hash alike");
    let stored = app
        .store
        .version(
            junction::domain::IntegrationId::parse(&id).unwrap(),
            common::fixtures::v(second),
        )
        .await
        .unwrap();
    assert_eq!(
        stored.definition["steps"][0]["url"], url,
        "the URL kept its secrets"
    );
    let plain = junction::store::versions::content_hash(b"", &stored.definition.to_string());
    assert_ne!(
        hash(second).await,
        plain,
        "the hash depends on the server's key"
    );
}
