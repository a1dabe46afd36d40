//! The egress policy: flows reach the internet, not the server's own network. An
//! `http` step to loopback, to the cloud metadata address, or to a name that
//! resolves to loopback fails with the policy's message; `--egress-allow` opens what
//! it names; a redirect to a refused address is refused. On SQLite and PostgreSQL.
#![cfg(feature = "ssr")]
#![allow(clippy::unwrap_used)]

mod common;

use common::{Backend, ClosedApp, TestApp, live};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

on_both_databases! {
    an_http_step_to_the_servers_own_network_fails_with_the_policys_message: ClosedApp,
}

/// Publishes a webhook flow at `path` whose one step calls `url`; waits for Active.
async fn calling(app: &TestApp, path: &str, url: &str) {
    let definition = json!({
        "trigger": { "kind": "webhook", "path": path },
        "steps": [{ "kind": "http", "method": "POST", "url": url, "timeout_seconds": 5 }]
    });
    app.running(path, definition).await;
}

fn message(answer: &Value) -> String {
    answer["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// A server on `ip` that counts its calls and answers `{"reached": true}`, or
/// redirects to `redirect` when given.
async fn target(ip: &str, redirect: Option<String>) -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let router = axum::Router::new().fallback(move || {
        let counted = counted.clone();
        let redirect = redirect.clone();
        async move {
            counted.fetch_add(1, Ordering::SeqCst);
            match redirect {
                Some(to) => axum::response::Redirect::temporary(&to).into_response(),
                None => axum::Json(json!({ "reached": true })).into_response(),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind(format!("{ip}:0"))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (format!("http://{addr}/x"), calls)
}

use axum::response::IntoResponse;

async fn an_http_step_to_the_servers_own_network_fails_with_the_policys_message(app: ClosedApp) {
    let (loopback, reached) = target("127.0.0.1", None).await;
    let port = loopback.rsplit(':').next().unwrap().to_owned();
    calling(&app, "loop", &loopback).await;
    calling(&app, "metadata", "http://169.254.169.254/latest/meta-data/").await;
    calling(&app, "named", &format!("http://localhost:{port}")).await;

    let (to_loopback, loop_answer) = app.hook("loop", json!({})).await;
    let (to_metadata, metadata_answer) = app.hook("metadata", json!({})).await;
    let (to_name, name_answer) = app.hook("named", json!({})).await;

    assert_eq!((to_loopback, to_metadata, to_name), (502, 502, 502));
    assert!(
        message(&loop_answer).contains("the egress policy refuses 127.0.0.1: a loopback address"),
        "{loop_answer}"
    );
    assert!(
        message(&metadata_answer)
            .contains("the egress policy refuses 169.254.169.254: a link-local address"),
        "{metadata_answer}"
    );
    assert!(
        message(&name_answer).contains("the egress policy refuses")
            && message(&name_answer).contains("loopback"),
        "a name is checked on the address it resolves to: {name_answer}"
    );
    assert_eq!(
        reached.load(Ordering::SeqCst),
        0,
        "nothing reached the target"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_host_is_reached_and_a_redirect_from_it_to_a_refused_one_is_not() {
    let (refused_target, refused_calls) = target("127.0.0.2", None).await;
    let (redirecting, _) = target("127.0.0.1", Some(refused_target.clone())).await;
    let (allowed, allowed_calls) = target("127.0.0.1", None).await;
    let app = TestApp::spawn_with(Backend::Sqlite, |config| {
        live(config);
        config.egress_allow = vec!["127.0.0.1".into()];
    })
    .await;
    calling(&app, "allowed", &allowed).await;
    calling(&app, "redirected", &redirecting).await;

    let (reached, answer) = app.hook("allowed", json!({})).await;
    let (redirected, refusal) = app.hook("redirected", json!({})).await;

    assert_eq!((reached, answer), (200, json!({ "reached": true })));
    assert_eq!(allowed_calls.load(Ordering::SeqCst), 1);
    assert_eq!(redirected, 502);
    assert!(
        message(&refusal).contains("the egress policy refuses 127.0.0.2: a loopback address"),
        "{refusal}"
    );
    assert_eq!(
        refused_calls.load(Ordering::SeqCst),
        0,
        "the redirect was not followed"
    );
}

/// A server on 127.0.0.1 answering `size` bytes of JSON, announced (Content-Length)
/// or streamed without a length.
async fn answering(size: usize, announced: bool) -> String {
    let router = axum::Router::new().fallback(move || async move {
        let text = format!("{{\"pad\": \"{}\"}}", "x".repeat(size));
        let body = if announced {
            axum::body::Body::from(text)
        } else {
            let chunks = text
                .into_bytes()
                .chunks(1000)
                .map(|chunk| Ok::<_, std::io::Error>(chunk.to_vec()))
                .collect::<Vec<_>>();
            axum::body::Body::from_stream(futures_util::stream::iter(chunks))
        };
        ([("content-type", "application/json")], body).into_response()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}/big")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_over_the_limit_fails_its_step_whether_announced_or_streamed() {
    let app = TestApp::spawn_with(Backend::Sqlite, |config| {
        live(config);
        config.http_answer_limit = 4096;
    })
    .await;
    calling(&app, "small", &answering(100, true).await).await;
    calling(&app, "announced", &answering(10_000, true).await).await;
    calling(&app, "streamed", &answering(10_000, false).await).await;

    let (small, _) = app.hook("small", json!({})).await;
    let (announced, announced_answer) = app.hook("announced", json!({})).await;
    let (streamed, streamed_answer) = app.hook("streamed", json!({})).await;

    assert_eq!((small, announced, streamed), (200, 502, 502));
    for answer in [announced_answer, streamed_answer] {
        assert!(
            message(&answer).contains("is larger than the limit of 4096 bytes"),
            "{answer}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_in_a_url_are_shown_to_nobody() {
    let app = TestApp::spawn_with(Backend::Sqlite, live).await;
    calling(
        &app,
        "leaky",
        "http://bob:hunter2@127.0.0.1:9/x?token=abc123&page=2",
    )
    .await;

    let (status, answer) = app.hook("leaky", json!({})).await;

    assert_eq!(status, 502);
    let text = answer.to_string();
    assert!(
        text.contains("http://***@127.0.0.1:9/x?token=***&page=2"),
        "{text}"
    );
    assert!(
        !text.contains("hunter2") && !text.contains("abc123"),
        "{text}"
    );
}

/// A server on `ip` that keeps the headers of every call, answers `{}` at `/end`
/// and redirects (307) anything else to `/end` of `then`, or of itself.
async fn recording(
    ip: &str,
    then: Option<String>,
) -> (String, Arc<std::sync::Mutex<Vec<axum::http::HeaderMap>>>) {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = seen.clone();
    let listener = tokio::net::TcpListener::bind(format!("{ip}:0"))
        .await
        .unwrap();
    let own = format!("http://{}", listener.local_addr().unwrap());
    let then = then.unwrap_or_else(|| own.clone());
    let router = axum::Router::new().fallback(
        move |uri: axum::http::Uri, headers: axum::http::HeaderMap| {
            let kept = kept.clone();
            let then = then.clone();
            async move {
                kept.lock().unwrap().push(headers);
                if uri.path() == "/end" {
                    axum::Json(json!({})).into_response()
                } else {
                    axum::response::Redirect::temporary(&format!("{then}/end")).into_response()
                }
            }
        },
    );
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (own, seen)
}

/// Each hop of a redirect is checked (above); what goes with it too: a header the
/// step sets may be a credential for the first host, never for the next.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_another_host_carries_none_of_the_steps_secret_headers() {
    let (elsewhere, seen_elsewhere) = recording("127.0.0.2", None).await;
    let (first, seen_first) = recording("127.0.0.1", Some(elsewhere)).await;
    let (same, seen_same) = recording("127.0.0.1", None).await;
    let app = TestApp::spawn_with(Backend::Sqlite, |config| {
        live(config);
        config.egress_allow = vec!["127.0.0.0/8".into()];
    })
    .await;
    let calling_with_secrets = |path: &str, url: String| {
        json!({ "trigger": { "kind": "webhook", "path": path }, "steps": [
            { "kind": "http", "method": "POST", "url": url, "timeout_seconds": 5,
              "headers": { "x-api-key": "the key", "authorization": "Bearer abc", "accept": "application/json" } }
        ] })
    };
    app.running(
        "away",
        calling_with_secrets("away", format!("{first}/start")),
    )
    .await;
    app.running(
        "home",
        calling_with_secrets("home", format!("{same}/start")),
    )
    .await;

    let (away, _) = app.hook("away", json!({ "n": 1 })).await;
    let (home, _) = app.hook("home", json!({ "n": 1 })).await;

    assert_eq!((away, home), (200, 200));
    assert_eq!(seen_first.lock().unwrap()[0]["x-api-key"], "the key");
    let redirected = seen_elsewhere.lock().unwrap()[0].clone();
    assert!(redirected.get("x-api-key").is_none(), "{redirected:?}");
    assert!(redirected.get("authorization").is_none(), "{redirected:?}");
    assert_eq!(redirected["accept"], "application/json", "not a secret");
    let within = seen_same.lock().unwrap().clone();
    assert_eq!(within.len(), 2, "the first call and the redirected one");
    assert_eq!(
        within[1]["x-api-key"], "the key",
        "the same host keeps them"
    );
}
