//! A broker that goes away: the consumer ends with the cause, the integration goes to
//! Error saying so, the detail page says "connecting" while an attempt waits for the
//! broker, and the retry policy connects it again once the broker is back, after
//! which messages run again. Through a proxy the test cuts, in front of the
//! machine's RabbitMQ. On SQLite and PostgreSQL.
#![cfg(feature = "ssr")]
#![allow(clippy::unwrap_used)]

mod common;

use common::brokers::{Rabbit, address};
use common::proxy::Proxy;
use common::{LiveApp, TestApp};
use serde_json::{Value, json};

on_both_databases! {
    a_broker_that_goes_away_is_an_error_with_the_cause_and_comes_back: LiveApp,
}

async fn state(app: &TestApp, id: &str) -> Value {
    let (_, _, now) = app
        .api("GET", &format!("/api/v1/integrations/{id}"), None)
        .await;
    now
}

async fn a_broker_that_goes_away_is_an_error_with_the_cause_and_comes_back(app: LiveApp) {
    let rabbit = Rabbit::connect().await;
    let queue = rabbit.queue("flaky");
    let (host, port) = address("TEST_AMQP_ADDRESS", "127.0.0.1:5672");
    let proxy = Proxy::start(format!("{host}:{port}")).await;
    app.api(
        "POST",
        "/api/v1/connections",
        Some(json!({ "name": "flaky", "kind": "amqp",
                     "settings": { "host": "127.0.0.1", "port": proxy.port, "vhost": "/", "user": "guest" },
                     "secrets": { "password": "guest" }, "allow_private": true })),
    )
    .await;
    let id = app
        .running(
            "flaky",
            json!({
                "trigger": { "kind": "amqp", "connection": "flaky", "queue": queue, "declare": true },
                "steps": [{ "kind": "log", "message": "n={{ body.n }}" }]
            }),
        )
        .await;

    proxy.cut();

    app.eventually("the integration is in Error with the cause", || async {
        let now = state(&app, &id).await;
        now["current_state"] == "error"
            && now["reconcile"]["last_error"]
                .as_str()
                .is_some_and(|error| error.contains("RabbitMQ"))
    })
    .await;
    // Unanswered, the next attempt waits: the page says what it is doing.
    proxy.hold();
    app.eventually("the page says it is connecting", || async {
        let (_, page) = app.get_page(&format!("/integrations/{id}")).await;
        page.contains("connecting to RabbitMQ at 127.0.0.1:")
    })
    .await;
    proxy.restore();
    app.eventually("the retry policy brings it back", || async {
        let now = state(&app, &id).await;
        now["current_state"] == "active" && now["pending"] == false
    })
    .await;
    rabbit.publish(&queue, br#"{"n": 1}"#).await;
    app.eventually("and messages run again", || async {
        let (_, _, page) = app
            .api("GET", &format!("/api/v1/integrations/{id}/activity"), None)
            .await;
        page["items"][0]["steps"][0]["detail"] == "n=1"
    })
    .await;
    rabbit.delete(&queue).await;
}
