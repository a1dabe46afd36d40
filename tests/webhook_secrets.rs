//! Webhooks stay public, but a webhook trigger may require a secret: a bearer token,
//! or an HMAC-SHA256 signature of the body in a header. A call without it answers 401
//! and is recorded in the activity as refused; the secret is masked wherever it is
//! shown and kept when an edit sends the mask back. Every case runs on SQLite and
//! PostgreSQL.
#![cfg(feature = "ssr")]
#![allow(clippy::unwrap_used)]

mod common;

use common::LiveApp;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

on_both_databases! {
    a_bearer_webhook_runs_only_for_callers_with_its_secret_and_records_refusals: LiveApp,
    a_signed_webhook_runs_only_for_the_signature_of_its_very_body: LiveApp,
    the_secret_is_masked_everywhere_and_an_edit_sending_the_mask_keeps_it: LiveApp,
}

const SECRET: &str = "a webhook secret of some length";

/// Creates and publishes a webhook integration at `path` with `auth`; waits until it
/// is Active.
async fn running(app: &LiveApp, path: &str, auth: Value) -> String {
    let definition = json!({
        "trigger": { "kind": "webhook", "path": path, "auth": auth },
        "steps": [{ "kind": "transform", "template": { "seen": "{{ body.id }}" } }]
    });
    app.running(path, definition).await
}

async fn call(
    app: &LiveApp,
    path: &str,
    body: &str,
    header: Option<(&str, String)>,
) -> (u16, Value) {
    let mut request = app
        .anonymous
        .post(app.url(&format!("/hooks/{path}")))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some((name, value)) = header {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn signature(secret: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

async fn activity(app: &LiveApp, id: &str) -> Vec<Value> {
    let (_, _, page) = app
        .api("GET", &format!("/api/v1/integrations/{id}/activity"), None)
        .await;
    page["items"].as_array().unwrap().clone()
}

async fn a_bearer_webhook_runs_only_for_callers_with_its_secret_and_records_refusals(app: LiveApp) {
    let id = running(
        &app,
        "guarded",
        json!({ "scheme": "bearer", "secret": SECRET }),
    )
    .await;

    let (without, refusal) = call(&app, "guarded", r#"{"id": 1}"#, None).await;
    let (wrong, _) = call(
        &app,
        "guarded",
        r#"{"id": 2}"#,
        Some(("authorization", "Bearer not it".into())),
    )
    .await;
    let (right, answer) = call(
        &app,
        "guarded",
        r#"{"id": 3}"#,
        Some(("authorization", format!("Bearer {SECRET}"))),
    )
    .await;

    assert_eq!((without, wrong, right), (401, 401, 200));
    assert_eq!(refusal["error"]["code"], "unauthenticated");
    assert!(
        refusal["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Bearer"),
        "{refusal}"
    );
    assert_eq!(answer, json!({ "seen": 3 }));
    app.eventually("the three calls are in the activity", || async {
        activity(&app, &id).await.len() == 3
    })
    .await;
    let outcomes: Vec<String> = activity(&app, &id)
        .await
        .iter()
        .map(|a| a["outcome"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(outcomes, ["ok", "refused", "refused"], "newest first");
    assert!(
        !activity(&app, &id)
            .await
            .iter()
            .any(|a| a.to_string().contains(SECRET))
    );
}

async fn a_signed_webhook_runs_only_for_the_signature_of_its_very_body(app: LiveApp) {
    running(
        &app,
        "signed",
        json!({ "scheme": "hmac_sha256", "header": "X-Hub-Signature-256", "secret": SECRET }),
    )
    .await;
    let body = r#"{"id": 7}"#;
    let signed = signature(SECRET, body);

    let (right, answer) = call(
        &app,
        "signed",
        body,
        Some(("x-hub-signature-256", signed.clone())),
    )
    .await;
    let (tampered, _) = call(
        &app,
        "signed",
        r#"{"id": 8}"#,
        Some(("x-hub-signature-256", signed)),
    )
    .await;
    let (other_key, _) = call(
        &app,
        "signed",
        body,
        Some((
            "x-hub-signature-256",
            signature("another secret entirely", body),
        )),
    )
    .await;
    let (unsigned, refusal) = call(&app, "signed", body, None).await;

    assert_eq!((right, tampered, other_key, unsigned), (200, 401, 401, 401));
    assert_eq!(answer, json!({ "seen": 7 }));
    assert!(
        refusal["error"]["message"]
            .as_str()
            .unwrap()
            .contains("x-hub-signature-256"),
        "{refusal}"
    );
}

async fn the_secret_is_masked_everywhere_and_an_edit_sending_the_mask_keeps_it(app: LiveApp) {
    let id = running(
        &app,
        "kept",
        json!({ "scheme": "bearer", "secret": SECRET }),
    )
    .await;
    let (_, headers, detail) = app
        .api("GET", &format!("/api/v1/integrations/{id}"), None)
        .await;
    let (_, _, v1) = app
        .api(
            "GET",
            &format!("/api/v1/integrations/{id}/versions/1"),
            None,
        )
        .await;
    let masked = v1["definition"].clone();

    let mut edited = masked.clone();
    edited["steps"][0]["template"] = json!({ "seen": "{{ body.id }}", "v": 2 });
    let etag = headers["etag"].to_str().unwrap().to_owned();
    let (saved, _, _) = app
        .api_with(
            "PUT",
            &format!("/api/v1/integrations/{id}/draft"),
            Some(json!({ "definition": edited })),
            &[("if-match", &etag)],
        )
        .await;
    app.api("POST", &format!("/api/v1/integrations/{id}/publish"), None)
        .await;
    app.eventually("v2 runs", || async {
        let (status, answer) = call(
            &app,
            "kept",
            r#"{"id": 1}"#,
            Some(("authorization", format!("Bearer {SECRET}"))),
        )
        .await;
        status == 200 && answer["v"] == 2
    })
    .await;

    assert_eq!(masked["trigger"]["auth"]["secret"], "********");
    assert!(!detail.to_string().contains(SECRET));
    assert_eq!(saved, 200);
    let (_, _, v2) = app
        .api(
            "GET",
            &format!("/api/v1/integrations/{id}/versions/2"),
            None,
        )
        .await;
    assert_eq!(v2["definition"]["trigger"]["auth"]["secret"], "********");
}
