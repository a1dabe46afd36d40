//! The machine's message brokers as the tests reach them, apart from Junction: to
//! publish what a trigger takes and read back what a step sent.
#![allow(dead_code, clippy::unwrap_used)]

use lapin::options::{
    BasicGetOptions, BasicPublishOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::process::Junction;

/// `host:port` of a broker the tests use: the variable's value, or the default.
pub fn address(variable: &str, default: &str) -> (String, u16) {
    let value = std::env::var(variable).unwrap_or_else(|_| default.to_owned());
    let (host, port) = value.rsplit_once(':').unwrap();
    (host.to_owned(), port.parse().unwrap())
}

/// The `rabbit` connection, as the API takes it.
pub fn rabbit_connection() -> Value {
    let (host, port) = address("TEST_AMQP_ADDRESS", "127.0.0.1:5672");
    json!({ "name": "rabbit", "kind": "amqp",
            "settings": { "host": host, "port": port, "vhost": "/", "user": "guest" },
            "secrets": { "password": "guest" }, "allow_private": true })
}

/// A channel on the machine's RabbitMQ, and queues named for one test.
pub struct Rabbit {
    pub channel: lapin::Channel,
    _connection: lapin::Connection,
    /// Unique to the test: its queues' names start with it.
    pub prefix: String,
}

impl Rabbit {
    pub async fn connect() -> Self {
        let (host, port) = address("TEST_AMQP_ADDRESS", "127.0.0.1:5672");
        let connection = lapin::Connection::connect(
            &format!("amqp://guest:guest@{host}:{port}/%2f"),
            lapin::ConnectionProperties::default(),
        )
        .await
        .unwrap();
        let channel = connection.create_channel().await.unwrap();
        channel
            .confirm_select(lapin::options::ConfirmSelectOptions::default())
            .await
            .unwrap();
        Self {
            channel,
            _connection: connection,
            prefix: format!("junction-test-{}", uuid::Uuid::new_v4().simple()),
        }
    }

    /// The name of this test's queue `name`.
    pub fn queue(&self, name: &str) -> String {
        format!("{}-{name}", self.prefix)
    }

    /// Declares a durable queue (as a trigger with `declare` does).
    pub async fn declare(&self, queue: &str, arguments: FieldTable) {
        self.channel
            .queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                arguments,
            )
            .await
            .unwrap();
    }

    /// Publishes raw bytes to a queue through the default exchange, confirmed.
    pub async fn publish(&self, queue: &str, payload: &[u8]) {
        self.channel
            .basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions::default(),
                payload,
                lapin::BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .unwrap()
            .await
            .unwrap();
    }

    /// Takes the next message of a queue, if there is one, as JSON.
    pub async fn get(&self, queue: &str) -> Option<Value> {
        let message = self
            .channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await
            .unwrap()?;
        Some(serde_json::from_slice(&message.delivery.data).unwrap())
    }

    /// How many messages wait in a queue, and how many consumers it has.
    pub async fn counts(&self, queue: &str) -> (u32, u32) {
        let queue = self
            .channel
            .queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .unwrap();
        (queue.message_count(), queue.consumer_count())
    }

    pub async fn delete(&self, queue: &str) {
        let _ = self
            .channel
            .queue_delete(queue.into(), QueueDeleteOptions::default())
            .await;
    }
}

/// The first step's detail of every message an integration's activity records.
pub async fn recorded_details(server: &Junction, id: &str) -> Vec<String> {
    let mut details = Vec::new();
    for page in 1.. {
        let (_, answer) = server
            .api(
                "GET",
                &format!("/api/v1/integrations/{id}/activity?page={page}&per_page=200"),
                None,
            )
            .await;
        let items = answer["items"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            break;
        }
        details.extend(
            items
                .iter()
                .filter_map(|entry| entry["steps"][0]["detail"].as_str().map(str::to_owned)),
        );
    }
    details
}

/// The `n` of every message an integration's activity records (its detail reads
/// `n=N`), with how often.
pub async fn recorded_numbers(server: &Junction, id: &str) -> BTreeMap<u64, usize> {
    let mut seen = BTreeMap::new();
    for detail in recorded_details(server, id).await {
        if let Some(n) = detail.strip_prefix("n=").and_then(|n| n.parse().ok()) {
            *seen.entry(n).or_default() += 1;
        }
    }
    seen
}

/// Waits (up to 90 s: a killed server's lease, or a broker's acknowledgement wait,
/// must run out first) until `check`.
pub async fn within_a_minute<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(90);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting until {what}");
}

/// Creates `connection` and a flow with `trigger` that logs each message's `n` (at
/// `payload_at`, e.g. `body.n`); publishes it and waits until it runs. Its id.
pub async fn consuming(server: &Junction, connection: &Value, trigger: Value) -> String {
    consuming_at(server, connection, trigger, "body.n").await
}

pub async fn consuming_at(
    server: &Junction,
    connection: &Value,
    trigger: Value,
    payload_at: &str,
) -> String {
    let (status, answer) = server
        .api("POST", "/api/v1/connections", Some(connection.clone()))
        .await;
    assert_eq!(status, 201, "{answer}");
    let definition = json!({
        "trigger": trigger,
        "steps": [{ "kind": "log", "message": format!("n={{{{ {payload_at} }}}}") }]
    });
    let (status, created) = server
        .api(
            "POST",
            "/api/v1/integrations",
            Some(json!({ "name": "numbers", "definition": definition })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    server
        .api("POST", &format!("/api/v1/integrations/{id}/publish"), None)
        .await;
    within_a_minute("the consumer runs", || async {
        let (_, now) = server
            .api("GET", &format!("/api/v1/integrations/{id}"), None)
            .await;
        now["current_state"] == "active" && now["pending"] == false
    })
    .await;
    id
}

/// A server keeping every message's activity (the test reads all 1,000 back).
pub fn keeping_all(command: &mut std::process::Command) {
    command.env("JUNCTION_ACTIVITY_KEEP", "10000");
}

/// The `nats` connection, as the API takes it.
pub fn nats_connection() -> Value {
    let (host, port) = address("TEST_NATS_ADDRESS", "127.0.0.1:4222");
    json!({ "name": "nats", "kind": "nats",
            "settings": { "url": format!("nats://{host}:{port}") }, "allow_private": true })
}

/// A client of the machine's NATS server, and a JetStream stream named for one test
/// (`PREFIX` over the subjects `PREFIX.>`), removed by `delete`.
pub struct Nats {
    pub client: async_nats::Client,
    pub jetstream: async_nats::jetstream::Context,
    pub prefix: String,
}

impl Nats {
    pub async fn connect() -> Self {
        let (host, port) = address("TEST_NATS_ADDRESS", "127.0.0.1:4222");
        let client = async_nats::connect(format!("nats://{host}:{port}"))
            .await
            .unwrap();
        let jetstream = async_nats::jetstream::new(client.clone());
        Self {
            client,
            jetstream,
            prefix: format!("junction-test-{}", uuid::Uuid::new_v4().simple()),
        }
    }

    /// Makes the test's stream, taking `PREFIX.>`.
    pub async fn stream(&self) {
        self.jetstream
            .create_stream(async_nats::jetstream::stream::Config {
                name: self.prefix.clone(),
                subjects: vec![format!("{}.>", self.prefix)],
                ..Default::default()
            })
            .await
            .unwrap();
    }

    /// Publishes to the stream and waits for its acknowledgement.
    pub async fn publish_acked(&self, subject: String, payload: Vec<u8>) {
        self.jetstream
            .publish(subject, payload.into())
            .await
            .unwrap()
            .await
            .unwrap();
    }

    pub async fn delete(&self) {
        let _ = self.jetstream.delete_stream(&self.prefix).await;
    }
}

/// The `redis` connection, as the API takes it.
pub fn redis_connection() -> Value {
    let (host, port) = address("TEST_REDIS_ADDRESS", "127.0.0.1:6379");
    json!({ "name": "redis", "kind": "redis",
            "settings": { "host": host, "port": port, "db": 0 }, "allow_private": true })
}

/// A connection to the machine's Redis, and keys named for one test.
pub struct Redis {
    pub connection: redis::aio::MultiplexedConnection,
    pub prefix: String,
}

impl Redis {
    pub async fn connect() -> Self {
        let (host, port) = address("TEST_REDIS_ADDRESS", "127.0.0.1:6379");
        let client = redis::Client::open(format!("redis://{host}:{port}/0")).unwrap();
        Self {
            connection: client.get_multiplexed_async_connection().await.unwrap(),
            prefix: format!("junction-test-{}", uuid::Uuid::new_v4().simple()),
        }
    }

    pub fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.prefix)
    }

    /// XADD with the fields and values given.
    pub async fn add(&self, stream: &str, fields: &[(&str, &str)]) {
        let mut add = redis::cmd("XADD");
        add.arg(stream).arg("*");
        for (field, value) in fields {
            add.arg(*field).arg(*value);
        }
        let _: String = add.query_async(&mut self.connection.clone()).await.unwrap();
    }

    /// How many entries of a group are pending (delivered, not acknowledged).
    pub async fn pending(&self, stream: &str, group: &str) -> i64 {
        let summary: redis::Value = redis::cmd("XPENDING")
            .arg(stream)
            .arg(group)
            .query_async(&mut self.connection.clone())
            .await
            .unwrap();
        match summary {
            redis::Value::Array(items) => match items.first() {
                Some(redis::Value::Int(n)) => *n,
                _ => 0,
            },
            _ => 0,
        }
    }

    pub async fn publish(&self, channel: &str, message: &str) -> i64 {
        redis::cmd("PUBLISH")
            .arg(channel)
            .arg(message)
            .query_async(&mut self.connection.clone())
            .await
            .unwrap()
    }

    pub async fn delete(&self, keys: &[&str]) {
        let _: redis::RedisResult<i64> = redis::cmd("DEL")
            .arg(keys)
            .query_async(&mut self.connection.clone())
            .await;
    }
}

/// The `mosquitto` connection, as the API takes it.
pub fn mqtt_connection() -> Value {
    let (host, port) = address("TEST_MQTT_ADDRESS", "127.0.0.1:1883");
    json!({ "name": "mosquitto", "kind": "mqtt",
            "settings": { "host": host, "port": port, "client_id": format!("junction-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]) },
            "allow_private": true })
}

/// A client of the machine's MQTT broker: publishes at QoS 1 and collects what its
/// subscriptions receive.
pub struct Mqtt {
    pub client: rumqttc::AsyncClient,
    pub received: tokio::sync::mpsc::UnboundedReceiver<(String, Value)>,
    pub prefix: String,
    _events: tokio::task::JoinHandle<()>,
}

impl Mqtt {
    pub async fn connect() -> Self {
        let (host, port) = address("TEST_MQTT_ADDRESS", "127.0.0.1:1883");
        let prefix = format!("junction-test-{}", uuid::Uuid::new_v4().simple());
        let options = rumqttc::MqttOptions::new(format!("{}-test", &prefix[..30]), host, port);
        let (client, mut events) = rumqttc::AsyncClient::new(options, 100);
        let (tell, received) = tokio::sync::mpsc::unbounded_channel();
        let (connected, ready) = tokio::sync::oneshot::channel();
        let mut connected = Some(connected);
        let task = tokio::spawn(async move {
            loop {
                match events.poll().await {
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))) => {
                        if let Some(connected) = connected.take() {
                            let _ = connected.send(());
                        }
                    }
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(publish))) => {
                        let body = serde_json::from_slice(&publish.payload).unwrap_or(Value::Null);
                        let _ = tell.send((publish.topic.clone(), body));
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        ready.await.unwrap();
        Self {
            client,
            received,
            prefix,
            _events: task,
        }
    }

    pub async fn publish(&self, topic: String, payload: Vec<u8>) {
        self.client
            .publish(topic, rumqttc::QoS::AtLeastOnce, false, payload)
            .await
            .unwrap();
    }
}

/// Publishes `count` messages (each `{"n": N}`, by `publish`) while a flow with
/// `trigger` runs v1, switches to v2 once v1 has run some, and checks that every
/// message ran exactly once, and every v1 run started before the first v2 run.
pub async fn a_switch_runs_each_message_in_one_version(
    app: &super::TestApp,
    trigger: Value,
    payload_at: &str,
    count: u64,
    publish: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let logging = |version: u32| {
        json!({
            "trigger": trigger,
            "steps": [{ "kind": "log", "message": format!("v{version} n={{{{ {payload_at} }}}}") }]
        })
    };
    let id = app.running("switching", logging(1)).await;
    let base = format!("/api/v1/integrations/{id}");
    let publisher = tokio::spawn(publish);
    app.eventually("v1 ran some messages", || async {
        app.activity(&id).await.len() >= 100
    })
    .await;

    let (_, headers, _) = app.api("GET", &base, None).await;
    let etag = headers["etag"].to_str().unwrap().to_owned();
    app.api_with(
        "PUT",
        &format!("{base}/draft"),
        Some(json!({ "definition": logging(2) })),
        &[("if-match", &etag)],
    )
    .await;
    app.api("POST", &format!("{base}/publish"), None).await;
    publisher.await.unwrap();

    // Long enough for a broker's acknowledgement wait (30 s): a message a stopped
    // consumer had been sent comes back after it.
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while (app.all_activity(&id).await.len() as u64) < count {
        if std::time::Instant::now() >= deadline {
            let all = app.all_activity(&id).await;
            let v2 = all
                .iter()
                .filter(|e| {
                    e["steps"][0]["detail"]
                        .as_str()
                        .unwrap_or("")
                        .starts_with("v2")
                })
                .count();
            let (_, _, now) = app.api("GET", &base, None).await;
            panic!(
                "not every message was recorded: {} of {count}, {v2} by v2; now {now}",
                all.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut runs: BTreeMap<u64, Vec<(i64, String)>> = BTreeMap::new();
    for entry in app.all_activity(&id).await {
        let detail = entry["steps"][0]["detail"].as_str().unwrap();
        let (version, n) = detail.split_once(" n=").unwrap();
        let started = chrono::DateTime::parse_from_rfc3339(entry["started_at"].as_str().unwrap())
            .unwrap()
            .timestamp_millis();
        runs.entry(n.parse().unwrap())
            .or_default()
            .push((started, version.to_owned()));
    }
    assert_eq!(runs.len() as u64, count, "every message ran");
    let twice: Vec<_> = runs.iter().filter(|(_, r)| r.len() > 1).collect();
    assert!(twice.is_empty(), "none ran twice: {twice:?}");
    let started = |wanted: &'static str| -> Vec<i64> {
        runs.values()
            .flatten()
            .filter(|(_, version)| version == wanted)
            .map(|(at, _)| *at)
            .collect()
    };
    let (last_v1, first_v2) = (
        started("v1").into_iter().max(),
        started("v2").into_iter().min(),
    );
    assert!(first_v2.is_some(), "v2 ran the later messages");
    assert!(
        last_v1 <= first_v2,
        "after the switch only v2 runs: v1 last at {last_v1:?}, v2 first at {first_v2:?}"
    );
}
