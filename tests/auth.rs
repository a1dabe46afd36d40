//! Signing in, sessions, tokens and the audit over HTTP, as browsers and scripts do
//! it: who is not signed in gets 401 (pages: the sign-in page), roles are enforced at
//! the door, tokens and sessions end when they should, and the history names the
//! signed-in user. Every case runs on SQLite and PostgreSQL.
#![cfg(feature = "ssr")]
#![allow(clippy::unwrap_used)]

mod common;

use common::fixtures::*;
use common::{ADMIN, ADMIN_PASSWORD, Backend, EmptyApp, TestApp, TestDatabase, USER_PASSWORD};
use junction::domain::access::Role;
use reqwest::header::{ACCEPT, LOCATION, SET_COOKIE};
use serde_json::{Value, json};

on_both_databases! {
    nobody_signed_in_gets_401_from_the_api_and_server_functions_and_pages_ask_to_sign_in: TestApp,
    before_the_first_user_every_page_leads_to_creating_the_administrator: EmptyApp,
    a_viewer_reads_but_a_publish_is_refused_and_changes_nothing: TestApp,
    an_editor_may_not_unpublish_and_an_administrator_may: TestApp,
    a_token_works_until_revoked_then_answers_401: TestApp,
    a_disabled_users_session_and_tokens_stop_working_at_once: TestApp,
    a_token_acts_with_its_users_new_role_at_once: TestApp,
    a_new_password_ends_the_users_sessions: TestApp,
    the_history_names_the_signed_in_user_and_the_reconciler_only_for_its_own_changes: TestApp,
    a_script_turns_a_name_and_password_into_a_token: TestApp,
    failed_sign_ins_are_slowed_down_and_never_tell_whether_the_user_exists: TestApp,
    the_audit_log_records_who_did_what_from_where_for_administrators_only: TestApp,
    a_browser_without_javascript_signs_in_and_comes_back_where_it_was: TestApp,
    the_session_cookie_is_http_only_and_same_site: TestApp,
    a_person_changes_their_own_password_and_their_other_sessions_end: TestApp,
}

/// The message of an error answer of the API.
fn error_message(body: &Value) -> &str {
    body["error"]["message"].as_str().unwrap_or_default()
}

/// Posts a form to a server function as a hydrated page does (JSON back).
async fn call_function(
    client: &reqwest::Client,
    app: &TestApp,
    function: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    client
        .post(app.url(&format!("/api/{function}")))
        .header(ACCEPT, "application/json")
        .form(form)
        .send()
        .await
        .unwrap()
}

/// A browser: keeps cookies, follows no redirects.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Signs `browser` in through the sign-in server function; answers the status.
async fn sign_in(app: &TestApp, browser: &reqwest::Client, name: &str, password: &str) -> u16 {
    call_function(
        browser,
        app,
        "sign_in",
        &[("name", name), ("password", password)],
    )
    .await
    .status()
    .as_u16()
}

async fn get(client: &reqwest::Client, url: String) -> (u16, Value) {
    let response = client.get(url).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn post(client: &reqwest::Client, url: String, body: Value) -> (u16, Value) {
    let response = client.post(url).json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn nobody_signed_in_gets_401_from_the_api_and_server_functions_and_pages_ask_to_sign_in(
    app: TestApp,
) {
    let api = app
        .anonymous
        .get(app.url("/api/v1/integrations"))
        .send()
        .await
        .unwrap();
    let function = app
        .anonymous
        .post(app.url("/api/list_integrations"))
        .header(ACCEPT, "application/json")
        .send()
        .await
        .unwrap();
    let page = app
        .anonymous
        .get(app.url("/integrations/new?x=1"))
        .send()
        .await
        .unwrap();
    let sign_in_page = app.anonymous.get(app.url("/sign-in")).send().await.unwrap();
    let spec = app
        .anonymous
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();

    assert_eq!(api.status(), 401);
    assert!(
        api.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let body: Value = api.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthenticated");
    assert!(error_message(&body).contains("Bearer"), "{body}");
    assert_eq!(function.status(), 401);
    assert_eq!(page.status(), 303);
    assert_eq!(
        page.headers()[LOCATION],
        "/sign-in?next=%2Fintegrations%2Fnew%3Fx%3D1"
    );
    assert_eq!(sign_in_page.status(), 200);
    assert_eq!(spec.status(), 200, "the API's description is public");
}

async fn before_the_first_user_every_page_leads_to_creating_the_administrator(
    EmptyApp(app): EmptyApp,
) {
    let browser = browser();
    let page = browser.get(app.url("/")).send().await.unwrap();
    let (api, body) = get(&browser, app.url("/api/v1/integrations")).await;
    let first_run = browser.get(app.url("/first-run")).send().await.unwrap();
    let created = call_function(
        &browser,
        &app,
        "create_first_admin",
        &[
            ("name", "ada"),
            ("display_name", "Ada L."),
            ("password", ADMIN_PASSWORD),
        ],
    )
    .await;
    let (me_status, me) = get(&browser, app.url("/api/v1/me")).await;
    let again = call_function(
        &app.anonymous,
        &app,
        "create_first_admin",
        &[
            ("name", "eve"),
            ("display_name", ""),
            ("password", ADMIN_PASSWORD),
        ],
    )
    .await;

    assert_eq!(page.status(), 303);
    assert_eq!(page.headers()[LOCATION], "/first-run");
    assert_eq!(api, 401);
    assert!(
        error_message(&body).contains("create the first administrator"),
        "{body}"
    );
    assert_eq!(first_run.status(), 200);
    assert_eq!(created.status(), 200);
    assert_eq!(
        (me_status, me["name"].clone(), me["role"].clone()),
        (200, json!("ada"), json!("admin")),
        "the new administrator is signed in"
    );
    assert_eq!(again.status(), 403, "only while no user exists");
    assert_eq!(
        app.service
            .users(&junction::service::Principal::new("ada", Role::Admin))
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn a_viewer_reads_but_a_publish_is_refused_and_changes_nothing(app: TestApp) {
    let created = create(&app.store, "Orders").await;
    let viewer = app.client_as("vera", Role::Viewer).await;
    let id = created.id;

    let (read, _) = get(&viewer, app.url(&format!("/api/v1/integrations/{id}"))).await;
    let (refused, body) = post(
        &viewer,
        app.url(&format!("/api/v1/integrations/{id}/publish")),
        json!({}),
    )
    .await;
    let function = call_function(
        &viewer,
        &app,
        "publish",
        &[("id", id.to_string().as_str()), ("note", "")],
    )
    .await;

    assert_eq!(read, 200);
    assert_eq!(refused, 403);
    assert_eq!(
        body["error"]["message"],
        "the viewer role may not publish; ask an administrator for a role that may"
    );
    assert_eq!(function.status(), 403);
    assert_eq!(app.store.summary(id).await.unwrap(), created);
}

async fn an_editor_may_not_unpublish_and_an_administrator_may(app: TestApp) {
    let stopped = inactive(&app.store, "Orders").await;
    let editor = app.client_as("ed", Role::Editor).await;
    let unpublish = app.url(&format!("/api/v1/integrations/{}/unpublish", stopped.id));

    let (refused, body) = post(&editor, unpublish.clone(), json!({})).await;
    let unchanged = app.store.summary(stopped.id).await.unwrap();
    let (allowed, _) = post(&app.client, unpublish, json!({})).await;

    assert_eq!(refused, 403);
    assert!(
        error_message(&body).contains("editor role may not unpublish"),
        "{body}"
    );
    assert_eq!(unchanged, stopped);
    assert_eq!(allowed, 202, "accepted: the reconciler takes it down");
}

async fn a_token_works_until_revoked_then_answers_401(app: TestApp) {
    let (made, token) = post(
        &app.client,
        app.url("/api/v1/tokens"),
        json!({ "name": "ci", "expires_in_days": 30 }),
    )
    .await;
    let secret = token["token"].as_str().unwrap().to_owned();
    let ci = common::client_with_token(&secret);

    let (before, _) = get(&ci, app.url("/api/v1/integrations")).await;
    let (_, listed) = get(&app.client, app.url("/api/v1/tokens")).await;
    let id = token["id"].as_str().unwrap();
    let revoked = app
        .client
        .delete(app.url(&format!("/api/v1/tokens/{id}")))
        .send()
        .await
        .unwrap();
    let (after, body) = get(&ci, app.url("/api/v1/integrations")).await;

    assert_eq!(made, 201);
    assert!(secret.starts_with("jct_"));
    assert!(token["expires_at"].is_string());
    assert_eq!(before, 200);
    let ci_listed = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "ci")
        .unwrap();
    assert!(ci_listed["last_used_at"].is_string(), "{ci_listed}");
    assert!(
        !listed.to_string().contains(&secret),
        "a token is shown once"
    );
    assert_eq!(revoked.status(), 204);
    assert_eq!(after, 401);
    assert!(error_message(&body).contains("not valid"));
}

async fn a_disabled_users_session_and_tokens_stop_working_at_once(app: TestApp) {
    let token_client = app.client_as("bob", Role::Editor).await;
    let session = browser();
    assert_eq!(sign_in(&app, &session, "bob", USER_PASSWORD).await, 200);
    let (token_before, _) = get(&token_client, app.url("/api/v1/me")).await;
    let (session_before, _) = get(&session, app.url("/api/v1/me")).await;

    let disable = app
        .client
        .patch(app.url("/api/v1/users/bob"))
        .json(&json!({ "disabled": true }))
        .send()
        .await
        .unwrap();
    let (token_after, _) = get(&token_client, app.url("/api/v1/me")).await;
    let (session_after, _) = get(&session, app.url("/api/v1/me")).await;
    let again = sign_in(&app, &browser(), "bob", USER_PASSWORD).await;

    assert_eq!((token_before, session_before), (200, 200));
    assert_eq!(disable.status(), 200);
    assert_eq!((token_after, session_after), (401, 401));
    assert_eq!(again, 401, "a disabled user cannot sign in");
}

async fn a_token_acts_with_its_users_new_role_at_once(app: TestApp) {
    let id = create(&app.store, "Orders").await.id;
    let publish = format!("/api/v1/integrations/{id}/publish");
    let bob = app.client_as("bob", Role::Editor).await;
    let (as_editor, me) = get(&bob, app.url("/api/v1/me")).await;

    let demoted = app
        .client
        .patch(app.url("/api/v1/users/bob"))
        .json(&json!({ "role": "viewer" }))
        .send()
        .await
        .unwrap();
    let refused = bob.post(app.url(&publish)).send().await.unwrap();
    let (_, me_after) = get(&bob, app.url("/api/v1/me")).await;

    assert_eq!((as_editor, me["role"].as_str()), (200, Some("editor")));
    assert_eq!(demoted.status(), 200);
    assert_eq!(
        refused.status(),
        403,
        "the token read a moment ago is not trusted"
    );
    assert_eq!(me_after["role"], "viewer");
}

async fn a_new_password_ends_the_users_sessions(app: TestApp) {
    app.client_as("bob", Role::Viewer).await;
    let session = browser();
    sign_in(&app, &session, "bob", USER_PASSWORD).await;
    let (before, _) = get(&session, app.url("/api/v1/me")).await;

    app.client
        .patch(app.url("/api/v1/users/bob"))
        .json(&json!({ "password": "a brand new password" }))
        .send()
        .await
        .unwrap();
    let (after, _) = get(&session, app.url("/api/v1/me")).await;
    let old = sign_in(&app, &browser(), "bob", USER_PASSWORD).await;
    let new = sign_in(&app, &browser(), "bob", "a brand new password").await;

    assert_eq!((before, after), (200, 401));
    assert_eq!((old, new), (401, 200));
}

async fn the_history_names_the_signed_in_user_and_the_reconciler_only_for_its_own_changes(
    app: TestApp,
) {
    let id = create(&app.store, "Orders").await.id;
    let session = browser();
    sign_in(&app, &session, ADMIN, ADMIN_PASSWORD).await;
    let published = call_function(
        &session,
        &app,
        "publish",
        &[("id", id.to_string().as_str()), ("note", "first")],
    )
    .await;
    settle(&app.store, id).await;
    let (stopped, _) = post(
        &app.client,
        app.url(&format!("/api/v1/integrations/{id}/stop")),
        json!({}),
    )
    .await;

    let (_, versions) = get(
        &app.client,
        app.url(&format!("/api/v1/integrations/{id}/versions")),
    )
    .await;
    let (_, log) = get(
        &app.client,
        app.url(&format!(
            "/api/v1/integrations/{id}/transitions?per_page=100"
        )),
    )
    .await;

    assert_eq!((published.status().as_u16(), stopped), (200, 202));
    let v1 = versions["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["number"] == 1)
        .unwrap();
    assert_eq!(v1["published_by"], ADMIN);
    let actors: Vec<(&str, &str)> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["field"].as_str().unwrap(), t["actor"].as_str().unwrap()))
        .collect();
    assert!(actors.contains(&("target_state", ADMIN)), "{actors:?}");
    assert!(
        actors
            .iter()
            .any(|(field, actor)| *field == "target_state"
                && actor.starts_with("admin (token tests")),
        "a token's action names the user and the token: {actors:?}"
    );
    assert!(
        actors.contains(&("current_state", "reconciler")),
        "{actors:?}"
    );
    for (field, actor) in &actors {
        if *actor == "reconciler" {
            assert!(field.starts_with("current_"), "{field} by the reconciler");
        }
    }
}

async fn a_script_turns_a_name_and_password_into_a_token(app: TestApp) {
    let script = reqwest::Client::new();
    let made = script
        .post(app.url("/api/v1/tokens"))
        .basic_auth(ADMIN, Some(ADMIN_PASSWORD))
        .json(&json!({ "name": "backup" }))
        .send()
        .await
        .unwrap();
    let status = made.status().as_u16();
    let body: Value = made.json().await.unwrap();
    let wrong = script
        .post(app.url("/api/v1/tokens"))
        .basic_auth(ADMIN, Some("not the password"))
        .json(&json!({ "name": "backup2" }))
        .send()
        .await
        .unwrap();
    let token = body["token"].as_str().unwrap();
    let (works, me) = get(&common::client_with_token(token), app.url("/api/v1/me")).await;

    assert_eq!(status, 201);
    assert_eq!(body["expires_at"], Value::Null);
    assert_eq!(wrong.status(), 401);
    assert_eq!((works, me["name"].clone()), (200, json!(ADMIN)));
}

async fn failed_sign_ins_are_slowed_down_and_never_tell_whether_the_user_exists(app: TestApp) {
    let mut answers = Vec::new();
    for _ in 0..5 {
        let response = call_function(
            &app.anonymous,
            &app,
            "sign_in",
            &[("name", ADMIN), ("password", "wrong password")],
        )
        .await;
        answers.push((response.status().as_u16(), response.text().await.unwrap()));
    }
    let unknown = call_function(
        &app.anonymous,
        &app,
        "sign_in",
        &[("name", "nobody"), ("password", "wrong password")],
    )
    .await;
    let unknown = (unknown.status().as_u16(), unknown.text().await.unwrap());
    let locked = call_function(
        &app.anonymous,
        &app,
        "sign_in",
        &[("name", ADMIN), ("password", ADMIN_PASSWORD)],
    )
    .await;
    let locked_status = locked.status().as_u16();
    let locked_body: Value = locked.json().await.unwrap();

    assert!(
        answers.iter().all(|answer| answer == &answers[0]),
        "{answers:?}"
    );
    assert_eq!(answers[0].0, 401);
    assert_eq!(
        unknown, answers[0],
        "an unknown name is answered as a wrong password"
    );
    assert_eq!(locked_status, 429, "even the right password waits its turn");
    assert_eq!(locked_body["code"], "too_many_attempts", "{locked_body}");
    assert!(locked_body["retry_after_secs"].as_u64().unwrap() >= 1);
}

async fn the_audit_log_records_who_did_what_from_where_for_administrators_only(app: TestApp) {
    let viewer = app.client_as("vera", Role::Viewer).await;
    sign_in(&app, &browser(), "vera", "wrong password").await;
    sign_in(&app, &browser(), "vera", USER_PASSWORD).await;
    app.client
        .patch(app.url("/api/v1/users/vera"))
        .json(&json!({ "role": "editor" }))
        .send()
        .await
        .unwrap();

    let (refused, _) = get(&viewer, app.url("/api/v1/audit")).await;
    let (listed, entries) = get(&app.client, app.url("/api/v1/audit")).await;

    assert_eq!(refused, 403);
    assert_eq!(listed, 200);
    let seen: Vec<(String, String, String)> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_owned(),
                e["event"].as_str().unwrap().to_owned(),
                e["subject"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for expected in [
        ("admin", "user_created", "vera"),
        ("vera", "sign_in_failed", ""),
        ("vera", "signed_in", ""),
        ("admin", "role_changed", "vera"),
    ] {
        let expected = (
            expected.0.to_owned(),
            expected.1.to_owned(),
            expected.2.to_owned(),
        );
        assert!(seen.contains(&expected), "{expected:?} in {seen:?}");
    }
    let signed_in = entries
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "signed_in")
        .unwrap();
    assert_eq!(signed_in["address"], "127.0.0.1");
    assert!(!entries.to_string().contains(USER_PASSWORD));
}

async fn a_browser_without_javascript_signs_in_and_comes_back_where_it_was(app: TestApp) {
    let browser = browser();
    let form = |password: &'static str| {
        [
            ("name", ADMIN),
            ("password", password),
            ("next", "/integrations/new"),
        ]
    };
    let wrong = browser
        .post(app.url("/api/sign_in"))
        .header(ACCEPT, "text/html")
        .header("referer", app.url("/sign-in?next=%2Fintegrations%2Fnew"))
        .form(&form("wrong password"))
        .send()
        .await
        .unwrap();
    let right = browser
        .post(app.url("/api/sign_in"))
        .header(ACCEPT, "text/html")
        .header("referer", app.url("/sign-in?next=%2Fintegrations%2Fnew"))
        .form(&form(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap();
    let page = browser
        .get(app.url("/integrations/new"))
        .send()
        .await
        .unwrap();
    let sign_out = browser
        .post(app.url("/api/sign_out"))
        .header(ACCEPT, "text/html")
        .header("referer", app.url("/"))
        .send()
        .await
        .unwrap();
    let after = browser.get(app.url("/")).send().await.unwrap();

    assert_eq!(wrong.status(), 302);
    let back = wrong.headers()[LOCATION].to_str().unwrap();
    assert!(back.starts_with("/sign-in?name=admin&next="), "{back}");
    assert!(
        !back.contains("password="),
        "the password never comes back: {back}"
    );
    assert_eq!(right.status(), 302);
    assert_eq!(right.headers()[LOCATION], "/integrations/new");
    assert_eq!(page.status(), 200);
    assert_eq!(sign_out.status(), 302);
    assert_eq!(sign_out.headers()[LOCATION], "/sign-in");
    assert_eq!(
        after.status(),
        303,
        "signed out, the pages ask to sign in again"
    );
}

async fn the_session_cookie_is_http_only_and_same_site(app: TestApp) {
    let response = call_function(
        &app.anonymous,
        &app,
        "sign_in",
        &[("name", ADMIN), ("password", ADMIN_PASSWORD)],
    )
    .await;
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();

    assert!(cookie.starts_with("junction_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain http on loopback: {cookie}"
    );
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions WHERE user_name = $1")
        .bind(ADMIN)
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(stored, 1);
    let value = cookie.split(';').next().unwrap().split_once('=').unwrap().1;
    let raw: i64 =
        sqlx::query_scalar("SELECT count(*) FROM sessions WHERE id_hash = $1 OR data LIKE $2")
            .bind(value)
            .bind(format!("%{value}%"))
            .fetch_one(app.store.pool())
            .await
            .unwrap();
    assert_eq!(raw, 0, "the database does not hold the cookie's value");
}

#[tokio::test]
async fn a_session_made_on_one_server_works_on_another_sharing_postgres() {
    let database = TestDatabase::create(Backend::Postgres).await;
    let url = database.url.clone();
    let first = TestApp::start(database, tempfile::tempdir().unwrap(), |_| {}).await;
    let second = TestApp::start(
        TestDatabase::shared(url),
        tempfile::tempdir().unwrap(),
        |_| {},
    )
    .await;
    let browser = browser();
    assert_eq!(sign_in(&first, &browser, ADMIN, ADMIN_PASSWORD).await, 200);
    let cookie = browser.get(first.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(cookie.status(), 200);

    // The same cookie, sent to the other server (another port: cookies are per host,
    // not per port, so the browser's jar sends it there too).
    let (status, me) = get(&browser, second.url("/api/v1/me")).await;

    assert_eq!((status, me["name"].clone()), (200, json!(ADMIN)));
}

async fn a_person_changes_their_own_password_and_their_other_sessions_end(app: TestApp) {
    app.client_as("bob", Role::Editor).await;
    let (here, elsewhere) = (browser(), browser());
    sign_in(&app, &here, "bob", USER_PASSWORD).await;
    sign_in(&app, &elsewhere, "bob", USER_PASSWORD).await;

    let wrong = call_function(
        &here,
        &app,
        "change_my_password",
        &[
            ("current", "not my password"),
            ("new_password", "my new password"),
        ],
    )
    .await;
    let wrong_status = wrong.status().as_u16();
    let wrong_body: Value = wrong.json().await.unwrap();
    let changed = call_function(
        &here,
        &app,
        "change_my_password",
        &[
            ("current", USER_PASSWORD),
            ("new_password", "my new password"),
        ],
    )
    .await;
    let (still_here, _) = get(&here, app.url("/api/v1/me")).await;
    let (gone_elsewhere, _) = get(&elsewhere, app.url("/api/v1/me")).await;

    assert_eq!(wrong_status, 422);
    assert_eq!(wrong_body["fields"][0]["path"], "current", "{wrong_body}");
    assert_eq!(changed.status(), 200);
    assert_eq!(
        (still_here, gone_elsewhere),
        (200, 401),
        "this browser is signed in again; the other session ended"
    );
    assert_eq!(
        sign_in(&app, &browser(), "bob", "my new password").await,
        200
    );
}
