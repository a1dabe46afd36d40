//! Message broker connections against the machine's real servers (RabbitMQ, Mosquitto,
//! NATS, Redis; `.ci/test` starts any that is not running): each is made, tested and
//! reports "connected", a wrong password or a closed port says so, and the egress
//! policy keeps them closed until an administrator allows private addresses. On
//! SQLite and PostgreSQL.
#![cfg(feature = "ssr")]
#![allow(clippy::unwrap_used)]

mod common;

use common::{ClosedApp, TestApp};
use serde_json::{Value, json};

on_both_databases! {
    each_kind_of_broker_connection_tests_connected: TestApp,
    a_wrong_password_and_a_closed_port_are_named: TestApp,
    a_broker_on_loopback_is_closed_until_an_admin_allows_it: ClosedApp,
}

/// `host:port` of a broker the tests use: the variable's value, or the default.
fn address(variable: &str, default: &str) -> (String, u16) {
    let value = std::env::var(variable).unwrap_or_else(|_| default.to_owned());
    let (host, port) = value.rsplit_once(':').unwrap();
    (host.to_owned(), port.parse().unwrap())
}

fn connections() -> Vec<Value> {
    let (rabbit, rabbit_port) = address("TEST_AMQP_ADDRESS", "127.0.0.1:5672");
    let (mqtt, mqtt_port) = address("TEST_MQTT_ADDRESS", "127.0.0.1:1883");
    let (nats, nats_port) = address("TEST_NATS_ADDRESS", "127.0.0.1:4222");
    let (redis, redis_port) = address("TEST_REDIS_ADDRESS", "127.0.0.1:6379");
    vec![
        json!({ "name": "rabbit", "kind": "amqp",
                "settings": { "host": rabbit, "port": rabbit_port, "vhost": "/", "user": "guest" },
                "secrets": { "password": "guest" }, "allow_private": true }),
        json!({ "name": "mosquitto", "kind": "mqtt",
                "settings": { "host": mqtt, "port": mqtt_port, "client_id": "junction-tests" },
                "allow_private": true }),
        json!({ "name": "nats", "kind": "nats",
                "settings": { "url": format!("nats://{nats}:{nats_port}") }, "allow_private": true }),
        json!({ "name": "redis", "kind": "redis",
                "settings": { "host": redis, "port": redis_port, "db": 0 }, "allow_private": true }),
    ]
}

async fn create(app: &TestApp, connection: &Value) {
    let (status, _, created) = app
        .api("POST", "/api/v1/connections", Some(connection.clone()))
        .await;
    assert_eq!(status, 201, "{created}");
}

async fn test(app: &TestApp, name: &str) -> (bool, String) {
    let (status, _, result) = app
        .api("POST", &format!("/api/v1/connections/{name}/test"), None)
        .await;
    assert_eq!(status, 200, "{result}");
    (
        result["ok"].as_bool().unwrap(),
        result["message"].as_str().unwrap().to_owned(),
    )
}

async fn each_kind_of_broker_connection_tests_connected(app: TestApp) {
    for connection in connections() {
        create(&app, &connection).await;
    }

    for (name, says) in [
        ("rabbit", "connected: RabbitMQ"),
        ("mosquitto", "connected: MQTT broker"),
        ("nats", "connected: NATS"),
        ("redis", "connected: Redis"),
    ] {
        let (ok, message) = test(&app, name).await;
        assert!(ok && message.starts_with(says), "{name}: {message}");
    }
    // Listed by name: mosquitto, nats, rabbit, redis; each says which secrets it takes.
    let (_, _, listed) = app.api("GET", "/api/v1/connections", None).await;
    let secrets: Vec<&Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["secrets"])
        .collect();
    assert_eq!(
        secrets,
        [
            &json!({}),
            &json!({ "token": { "set": false } }),
            &json!({ "password": { "set": true } }),
            &json!({ "password": { "set": false } }),
        ]
    );
}

async fn a_wrong_password_and_a_closed_port_are_named(app: TestApp) {
    let mut wrong = connections()[0].clone();
    wrong["name"] = json!("rabbit-wrong");
    wrong["secrets"]["password"] = json!("not the password");
    let mut closed = connections()[3].clone();
    closed["name"] = json!("redis-closed");
    closed["settings"]["port"] = json!(1);
    create(&app, &wrong).await;
    create(&app, &closed).await;

    let (ok, message) = test(&app, "rabbit-wrong").await;
    assert!(
        !ok && message.contains("user name or password"),
        "{message}"
    );
    let (ok, message) = test(&app, "redis-closed").await;
    assert!(!ok && message.starts_with("refused"), "{message}");
}

async fn a_broker_on_loopback_is_closed_until_an_admin_allows_it(app: ClosedApp) {
    let mut nats = connections()[2].clone();
    nats["allow_private"] = json!(false);
    create(&app, &nats).await;

    let (ok, message) = test(&app, "nats").await;

    assert!(
        !ok && message.contains("egress policy refuses"),
        "{message}"
    );
}
