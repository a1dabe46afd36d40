//! The machine's message brokers as the tests reach them, apart from Junction: to
//! publish what a trigger takes and read back what a step sent.
#![allow(dead_code, clippy::unwrap_used)]

use lapin::options::{
    BasicGetOptions, BasicPublishOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use serde_json::{Value, json};

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
