//! The browser boundary through the real server: another site's pages cannot change
//! anything (server functions, plain form posts, the JSON API), a foreign host name
//! gets nothing, Junction's own pages and scripts work as before, webhooks stay open,
//! and every answer carries the protective headers. On SQLite and PostgreSQL.
#![cfg(feature = "ssr")]
#![allow(clippy::unwrap_used)]

mod common;

use common::TestApp;
use reqwest::header::{ACCEPT, HOST, ORIGIN};
use serde_json::json;

on_both_databases! {
    another_sites_form_post_to_a_server_function_is_refused_and_creates_nothing: TestApp,
    another_sites_json_api_post_is_refused_and_our_own_origin_works: TestApp,
    a_foreign_host_name_gets_nothing: TestApp,
    webhooks_stay_open_to_other_systems: TestApp,
    every_answer_keeps_the_page_out_of_other_sites_frames: TestApp,
    a_page_runs_only_the_scripts_carrying_its_nonce: TestApp,
    a_signed_in_browsers_cookie_does_not_carry_another_sites_post: TestApp,
}

async fn created_count(app: &TestApp) -> usize {
    let (_, list) = app.call("list_integrations", &[]).await;
    list.as_array().unwrap().len()
}

async fn another_sites_form_post_to_a_server_function_is_refused_and_creates_nothing(app: TestApp) {
    let post = |origin: String| {
        app.client
            .post(app.url("/api/create_integration"))
            .header(ORIGIN, origin)
            .header(ACCEPT, "text/html")
            .form(&[("name", "Planted"), ("description", "")])
            .send()
    };

    let refused = post("https://evil.example".into()).await.unwrap();

    assert_eq!(refused.status(), 403);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("may not change anything here")
    );
    assert_eq!(created_count(&app).await, 0);
    let own = post(app.url("")).await.unwrap();
    assert!(
        own.status().is_success() || own.status().is_redirection(),
        "{}",
        own.status()
    );
    assert_eq!(created_count(&app).await, 1);
}

async fn another_sites_json_api_post_is_refused_and_our_own_origin_works(app: TestApp) {
    let post = |header: (&'static str, String)| {
        app.client
            .post(app.url("/api/v1/integrations"))
            .header(header.0, header.1)
            .json(&json!({ "name": "Orders" }))
            .send()
    };

    let cross_origin = post(("origin", "https://evil.example".into()))
        .await
        .unwrap();
    let cross_site = post(("sec-fetch-site", "cross-site".into())).await.unwrap();
    let own = post(("origin", app.url(""))).await.unwrap();

    assert_eq!(cross_origin.status(), 403);
    assert_eq!(cross_site.status(), 403);
    assert_eq!(own.status(), 201);
    assert_eq!(created_count(&app).await, 1);
}

async fn a_foreign_host_name_gets_nothing(app: TestApp) {
    let answer = app
        .client
        .get(app.url("/api/v1/integrations"))
        .header(HOST, "evil.example")
        .send()
        .await
        .unwrap();
    let localhost = app
        .client
        .get(app.url("/api/v1/integrations"))
        .header(HOST, format!("localhost:{}", app.addr.port()))
        .send()
        .await
        .unwrap();

    assert_eq!(answer.status(), 403);
    assert!(answer.text().await.unwrap().contains("--public-url"));
    assert_eq!(localhost.status(), 200);
}

async fn webhooks_stay_open_to_other_systems(app: TestApp) {
    let answer = app
        .client
        .post(app.url("/hooks/orders"))
        .header(ORIGIN, "https://partner.example")
        .json(&json!({}))
        .send()
        .await
        .unwrap();

    assert_eq!(
        answer.status(),
        404,
        "nothing listens there, but the call was let in"
    );
}

async fn every_answer_keeps_the_page_out_of_other_sites_frames(app: TestApp) {
    let page = app.client.get(app.url("/")).send().await.unwrap();

    let header = |name: &str| {
        page.headers()
            .get(name)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert!(header("content-security-policy").contains("frame-ancestors 'none'"));
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("referrer-policy"), "same-origin");
}

async fn a_page_runs_only_the_scripts_carrying_its_nonce(app: TestApp) {
    let page = app.client.get(app.url("/")).send().await.unwrap();
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let html = page.text().await.unwrap();
    let again = app.client.get(app.url("/")).send().await.unwrap();
    let json = app.client.get(app.url("/api/v1/me")).send().await.unwrap();

    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap_or_else(|| panic!("no nonce in {policy}"));
    assert!(policy.contains("script-src 'self' 'nonce-"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    let inline_scripts = html.matches("<script").count();
    assert!(inline_scripts > 0);
    assert_eq!(
        html.matches(&format!("nonce=\"{nonce}\"")).count(),
        inline_scripts,
        "every script carries the nonce"
    );
    assert_ne!(
        again.headers()["content-security-policy"],
        policy.as_str(),
        "a new nonce for every page"
    );
    let other = json.headers()["content-security-policy"].to_str().unwrap();
    assert!(other.contains("frame-ancestors 'none'"), "{other}");
    assert!(!other.contains("script-src"), "{other}");
}

async fn a_signed_in_browsers_cookie_does_not_carry_another_sites_post(app: TestApp) {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let signed_in = browser
        .post(app.url("/api/sign_in"))
        .header(ACCEPT, "application/json")
        .header("sec-fetch-site", "same-origin")
        .form(&[
            ("name", common::ADMIN),
            ("password", common::ADMIN_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    let post = |site: &'static str| {
        browser
            .post(app.url("/api/create_integration"))
            .header("sec-fetch-site", site)
            .header(ACCEPT, "text/html")
            .header("referer", app.url("/"))
            .form(&[("name", "Planted"), ("description", "")])
            .send()
    };

    let from_elsewhere = post("cross-site").await.unwrap();
    let created_by_then = created_count(&app).await;
    let from_our_page = post("same-origin").await.unwrap();

    assert_eq!(signed_in.status(), 200);
    assert_eq!(from_elsewhere.status(), 403);
    assert_eq!(created_by_then, 0);
    assert!(
        from_our_page.status().is_redirection(),
        "{}",
        from_our_page.status()
    );
    assert_eq!(created_count(&app).await, 1);
}
