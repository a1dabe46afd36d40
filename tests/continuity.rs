//! Webhooks keep answering while what runs behind them changes: a path moves from one
//! version to the next in one step, never answered by both and never by neither. On
//! SQLite and PostgreSQL.
#![cfg(feature = "ssr")]
#![allow(clippy::unwrap_used)]

mod common;

use common::{LiveApp, TestApp};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

on_both_databases! {
    a_webhook_called_in_a_tight_loop_across_a_hundred_version_switches_never_answers_404: LiveApp,
    a_stop_with_three_open_event_streams_ends_in_time_and_keeps_every_answered_message: LiveApp,
}

fn answering(version: u32) -> Value {
    json!({
        "trigger": { "kind": "webhook", "path": "switching" },
        "steps": [{ "kind": "transform", "template": { "version": version } }]
    })
}

async fn running_version(app: &TestApp, id: &str) -> Value {
    let (_, _, now) = app
        .api("GET", &format!("/api/v1/integrations/{id}"), None)
        .await;
    if now["current_state"] == "active" && now["pending"] == false {
        now["current_version"].clone()
    } else {
        Value::Null
    }
}

async fn a_webhook_called_in_a_tight_loop_across_a_hundred_version_switches_never_answers_404(
    app: LiveApp,
) {
    let id = app.running("switching", answering(1)).await;
    let base = format!("/api/v1/integrations/{id}");
    let (_, headers, _) = app.api("GET", &base, None).await;
    let etag = headers["etag"].to_str().unwrap().to_owned();
    app.api_with(
        "PUT",
        &format!("{base}/draft"),
        Some(json!({ "definition": answering(2) })),
        &[("if-match", &etag)],
    )
    .await;
    app.api("POST", &format!("{base}/publish"), None).await;
    app.eventually("version 2 runs", || async {
        running_version(&app, &id).await == json!(2)
    })
    .await;
    let done = Arc::new(AtomicBool::new(false));
    let caller = {
        let (client, url, done) = (
            app.client.clone(),
            app.url("/hooks/switching"),
            done.clone(),
        );
        tokio::spawn(async move {
            let mut answers = Vec::new();
            while !done.load(Ordering::SeqCst) {
                let response = client.post(&url).json(&json!({})).send().await.unwrap();
                let status = response.status().as_u16();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                answers.push((status, body["version"].clone()));
            }
            answers
        })
    };

    for switch in 0..100 {
        let version = 1 + switch % 2;
        let (status, _, _) = app
            .api("POST", &format!("{base}/versions/{version}/activate"), None)
            .await;
        assert_eq!(status, 202);
        app.eventually(&format!("version {version} runs"), || async {
            running_version(&app, &id).await == json!(version)
        })
        .await;
    }
    done.store(true, Ordering::SeqCst);
    let answers = caller.await.unwrap();

    let versions_seen: std::collections::BTreeSet<String> = answers
        .iter()
        .map(|(_, version)| version.to_string())
        .collect();
    let failures: Vec<_> = answers
        .iter()
        .filter(|(status, _)| *status != 200)
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} calls: {failures:?}",
        failures.len(),
        answers.len()
    );
    assert_eq!(
        versions_seen,
        ["1", "2"].map(String::from).into(),
        "both versions answered"
    );
    assert!(
        answers.len() > 100,
        "the loop was tight: {} calls",
        answers.len()
    );
}

async fn a_stop_with_three_open_event_streams_ends_in_time_and_keeps_every_answered_message(
    app: LiveApp,
) {
    let LiveApp(app) = app;
    let id = app.running("kept", answering(1)).await;
    let mut streams = Vec::new();
    for _ in 0..3 {
        let response = app
            .client
            .get(app.url("/api/v1/events"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        streams.push(response);
    }
    let calls = (0..200).map(|n| app.hook("switching", json!({ "n": n })));
    let answered = futures_util::future::join_all(calls).await;
    assert!(answered.iter().all(|(status, _)| *status == 200));

    let started = std::time::Instant::now();
    let (database, data_dir) = app.shut_down().await;
    let took = started.elapsed();

    assert!(
        took < std::time::Duration::from_secs(10),
        "stopping took {took:?}"
    );
    for stream in streams {
        // Each stream has ended: its body reads to the end instead of waiting.
        tokio::time::timeout(std::time::Duration::from_secs(1), stream.bytes())
            .await
            .expect("the event stream ended with the server")
            .ok();
    }
    let again = TestApp::start(database, data_dir, |_| {}).await;
    let (_, _, activity) = again
        .api(
            "GET",
            &format!("/api/v1/integrations/{id}/activity?per_page=1"),
            None,
        )
        .await;
    assert_eq!(
        activity["total"], 200,
        "every answered message was recorded"
    );
}
