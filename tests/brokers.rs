//! Message broker connections against the machine's real servers (RabbitMQ, Mosquitto,
//! NATS, Redis; `.ci/test` starts any that is not running): each is made, tested and
//! reports "connected", a wrong password or a closed port says so, and the egress
//! policy keeps them closed until an administrator allows private addresses. On
//! SQLite and PostgreSQL.
#![cfg(feature = "ssr")]
#![allow(clippy::unwrap_used)]

mod common;

use common::{ClosedApp, LiveApp, TestApp};
use serde_json::{Value, json};

on_both_databases! {
    each_kind_of_broker_connection_tests_connected: TestApp,
    a_wrong_password_and_a_closed_port_are_named: TestApp,
    a_broker_on_loopback_is_closed_until_an_admin_allows_it: ClosedApp,
    redis_steps_set_get_count_queue_and_notify: LiveApp,
    a_nats_publish_step_delivers_the_body_and_jetstream_acknowledges_it: LiveApp,
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

async fn redis_steps_set_get_count_queue_and_notify(app: LiveApp) {
    create(&app, &connections()[3]).await;
    let prefix = format!("junction-test-{}", uuid::Uuid::new_v4().simple());
    let step = |command: &str, args: Value| json!({ "kind": "redis", "connection": "redis", "command": command, "args": args });
    let mut set = step(
        "SET",
        json!([format!("{prefix}:order:{{{{ body.id }}}}"), "{{ body }}"]),
    );
    set["expire_seconds"] = json!(60);
    for (path, step) in [
        ("set", set),
        (
            "get",
            step("GET", json!([format!("{prefix}:order:{{{{ body.id }}}}")])),
        ),
        ("incr", step("INCR", json!([format!("{prefix}:count")]))),
        (
            "xadd",
            step(
                "XADD",
                json!([format!("{prefix}:stream"), "id", "{{ body.id }}"]),
            ),
        ),
        (
            "lpush",
            step("LPUSH", json!([format!("{prefix}:list"), "{{ body.id }}"])),
        ),
        (
            "publish",
            step(
                "PUBLISH",
                json!([format!("{prefix}:channel"), "{{ body }}"]),
            ),
        ),
    ] {
        app.running(
            &format!("redis {path}"),
            json!({ "trigger": { "kind": "webhook", "path": format!("redis-{path}") }, "steps": [step] }),
        )
        .await;
    }

    let order = json!({ "id": 7, "total": 12.5 });
    let (_, set) = app.hook("redis-set", order.clone()).await;
    let (_, got) = app.hook("redis-get", json!({ "id": 7 })).await;
    app.hook("redis-incr", json!({})).await;
    let (_, counted) = app.hook("redis-incr", json!({})).await;
    let (_, added) = app.hook("redis-xadd", json!({ "id": 7 })).await;
    let (_, pushed) = app.hook("redis-lpush", json!({ "id": 7 })).await;
    let (_, published) = app.hook("redis-publish", json!({ "id": 7 })).await;

    assert_eq!(set, json!({ "ok": true }));
    let stored: Value = serde_json::from_str(got["value"].as_str().unwrap()).unwrap();
    assert_eq!(stored, order, "the body went as its JSON text");
    assert_eq!(counted, json!({ "value": 2 }));
    assert!(added["id"].as_str().unwrap().contains('-'), "{added}");
    assert_eq!(pushed, json!({ "length": 1 }));
    assert_eq!(published, json!({ "receivers": 0 }));

    let (host, port) = address("TEST_REDIS_ADDRESS", "127.0.0.1:6379");
    let client = redis::Client::open(format!("redis://{host}:{port}/0")).unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    let ttl: i64 = redis::cmd("TTL")
        .arg(format!("{prefix}:order:7"))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!((1..=60).contains(&ttl), "SET with an expiry: {ttl}");
    let entries: i64 = redis::cmd("XLEN")
        .arg(format!("{prefix}:stream"))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(entries, 1);
    let _: i64 = redis::cmd("DEL")
        .arg(format!("{prefix}:order:7"))
        .arg(format!("{prefix}:count"))
        .arg(format!("{prefix}:stream"))
        .arg(format!("{prefix}:list"))
        .query_async(&mut redis)
        .await
        .unwrap();
}

async fn a_nats_publish_step_delivers_the_body_and_jetstream_acknowledges_it(app: LiveApp) {
    use futures_util::StreamExt;
    create(&app, &connections()[2]).await;
    let prefix = format!("junction-test-{}", uuid::Uuid::new_v4().simple());
    let (host, port) = address("TEST_NATS_ADDRESS", "127.0.0.1:4222");
    let nats = async_nats::connect(format!("nats://{host}:{port}"))
        .await
        .unwrap();
    let mut received = nats.subscribe(format!("{prefix}.core.>")).await.unwrap();
    nats.flush().await.unwrap();
    let jetstream = async_nats::jetstream::new(nats.clone());
    jetstream
        .create_stream(async_nats::jetstream::stream::Config {
            name: prefix.clone(),
            subjects: vec![format!("{prefix}.js.>")],
            ..Default::default()
        })
        .await
        .unwrap();
    for (path, subject, acked) in [
        (
            "nats-core",
            format!("{prefix}.core.{{{{ body.id }}}}"),
            false,
        ),
        ("nats-js", format!("{prefix}.js.{{{{ body.id }}}}"), true),
    ] {
        app.running(
            path,
            json!({ "trigger": { "kind": "webhook", "path": path },
                    "steps": [{ "kind": "nats_publish", "connection": "nats",
                                "subject": subject, "jetstream": acked }] }),
        )
        .await;
    }

    let order = json!({ "id": 7, "total": 12.5 });
    let (status, core) = app.hook("nats-core", order.clone()).await;
    let (_, acked) = app.hook("nats-js", order.clone()).await;

    assert_eq!((status, core), (200, json!({ "published": true })));
    let message = tokio::time::timeout(std::time::Duration::from_secs(5), received.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(message.subject.as_str(), format!("{prefix}.core.7"));
    assert_eq!(
        serde_json::from_slice::<Value>(&message.payload).unwrap(),
        order
    );
    assert_eq!(acked, json!({ "stream": prefix, "sequence": 1 }));
    jetstream.delete_stream(&prefix).await.unwrap();
}
