//! Many people at once: 64 clients doing random actions on a few integrations through
//! the API, while their webhooks are called. Whatever the interleaving, no answer is a
//! 5xx (a refusal is a 4xx saying why), and once the reconciler has settled every
//! invariant holds. On SQLite and PostgreSQL.
#![cfg(feature = "ssr")]
#![allow(clippy::unwrap_used)]

mod common;

use common::{LiveApp, TestApp};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

on_both_databases! {
    sixty_four_clients_doing_random_actions_get_no_5xx_and_every_invariant_holds: LiveApp,
}

const INTEGRATIONS: usize = 6;
const CLIENTS: u64 = 64;
const FOR: Duration = Duration::from_secs(10);

fn flow(path: &str, label: u32) -> Value {
    json!({
        "trigger": { "kind": "webhook", "path": path },
        "steps": [{ "kind": "transform", "template": { "label": label, "n": "{{ body.n }}" } }]
    })
}

/// One random action on one of the integrations: its method, path and status.
async fn act(app: &TestApp, rng: &mut StdRng, ids: &[String]) -> (String, u16) {
    let which = rng.random_range(0..ids.len());
    let base = format!("/api/v1/integrations/{}", ids[which]);
    let (method, path, body, if_match) = match rng.random_range(0..12) {
        0 => {
            let (_, headers, _) = app.api("GET", &base, None).await;
            let etag = headers
                .get("etag")
                .map(|etag| etag.to_str().unwrap().to_owned());
            let definition = flow(&format!("hook-{which}"), rng.random_range(1..1000));
            let body = json!({ "definition": definition });
            ("PUT", format!("{base}/draft"), Some(body), etag)
        }
        1 | 2 => ("POST", format!("{base}/publish"), None, None),
        3 => ("POST", format!("{base}/stop"), None, None),
        4 => ("POST", format!("{base}/start"), None, None),
        5 => {
            let n = rng.random_range(1..6);
            ("POST", format!("{base}/versions/{n}/activate"), None, None)
        }
        6 => {
            let n = rng.random_range(1..6);
            ("POST", format!("{base}/versions/{n}/restore"), None, None)
        }
        7 => ("DELETE", format!("{base}/draft"), None, None),
        8 => ("POST", format!("{base}/retry"), None, None),
        9 => ("GET", format!("{base}/versions"), None, None),
        10 => {
            let (status, _) = app.hook(&format!("hook-{which}"), json!({ "n": 1 })).await;
            return (format!("POST /hooks/hook-{which}"), status);
        }
        _ => ("GET", base.clone(), None, None),
    };
    let headers: Vec<(&str, &str)> = if_match
        .as_deref()
        .map(|etag| vec![("if-match", etag)])
        .unwrap_or_default();
    let (status, _, _) = app.api_with(method, &path, body, &headers).await;
    (format!("{method} {path}"), status)
}

async fn sixty_four_clients_doing_random_actions_get_no_5xx_and_every_invariant_holds(
    app: LiveApp,
) {
    let mut ids = Vec::new();
    for which in 0..INTEGRATIONS {
        ids.push(
            app.running(
                &format!("random {which}"),
                flow(&format!("hook-{which}"), 0),
            )
            .await,
        );
    }
    let app = std::sync::Arc::new(app);

    let deadline = Instant::now() + FOR;
    let clients = (0..CLIENTS).map(|client| {
        let (app, ids) = (app.clone(), ids.clone());
        tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(client);
            let mut server_errors = Vec::new();
            let mut actions = 0;
            while Instant::now() < deadline {
                let (what, status) = act(&app, &mut rng, &ids).await;
                actions += 1;
                if status >= 500 {
                    server_errors.push(format!("{what} answered {status}"));
                }
            }
            (actions, server_errors)
        })
    });
    let mut actions = 0;
    let mut server_errors = Vec::new();
    for client in futures_util::future::join_all(clients).await {
        let (done, errors) = client.unwrap();
        actions += done;
        server_errors.extend(errors);
    }

    assert!(
        server_errors.is_empty(),
        "{} of {actions} actions answered 5xx: {:?}",
        server_errors.len(),
        server_errors.iter().take(5).collect::<Vec<_>>()
    );
    assert!(actions > 1000, "the clients were busy: {actions} actions");
    for (which, id) in ids.iter().enumerate() {
        let base = format!("/api/v1/integrations/{id}");
        app.eventually(&format!("{id} settles"), || async {
            let (_, _, now) = app.api("GET", &base, None).await;
            now["pending"] == false && now["current_state"] != "error"
        })
        .await;
        let (_, _, now) = app.api("GET", &base, None).await;
        assert_eq!(now["current_state"], now["target_state"], "{now}");
        let (_, _, versions) = app
            .api("GET", &format!("{base}/versions?per_page=200"), None)
            .await;
        let numbers: Vec<u64> = versions["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|version| version["number"].as_u64().unwrap())
            .collect();
        assert!(
            numbers.windows(2).all(|pair| pair[0] > pair[1]),
            "each version has a number of its own: {numbers:?}"
        );
        let (status, answer) = app.hook(&format!("hook-{which}"), json!({ "n": 1 })).await;
        if now["current_state"] == "active" {
            assert_eq!(now["current_version"], now["active_version"], "{now}");
            let (_, _, running) = app
                .api(
                    "GET",
                    &format!("{base}/versions/{}", now["current_version"]),
                    None,
                )
                .await;
            let label = &running["definition"]["steps"][0]["template"]["label"];
            assert_eq!((status, &answer["label"]), (200, label), "{now}");
        } else {
            assert_eq!(status, 404, "nothing answers for {now}");
        }
    }
}
