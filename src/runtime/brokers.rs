//! The messaging connections: AMQP (RabbitMQ), MQTT, NATS and Redis, reached with
//! each ecosystem's maintained async client (lapin, rumqttc, async-nats, redis) and
//! through the egress policy: the host is resolved and checked, and the client is
//! given the checked address. Testing a connection connects, signs in and says so,
//! or names the cause.

use std::sync::Arc;
use std::time::Duration;

use super::egress::EgressPolicy;
use crate::domain::connection::{ConnectionKind, Settings};
use crate::store::connections::OpenConnection;

/// How long testing a connection waits for the broker.
const TEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Reaches brokers through the egress policy.
#[derive(Clone)]
pub struct Brokers {
    policy: Arc<EgressPolicy>,
}

impl Brokers {
    pub fn new(policy: Arc<EgressPolicy>) -> Self {
        Self { policy }
    }

    /// Connects once and signs in: "connected", or why not.
    pub async fn test(&self, connection: &OpenConnection) -> Result<String, String> {
        let attempt = async {
            match &connection.settings {
                Settings::Amqp {
                    host, port, vhost, ..
                } => self.test_amqp(connection, host, *port, vhost).await,
                Settings::Mqtt { host, port, .. } => self.test_mqtt(connection, host, *port).await,
                Settings::Nats { url, user } => {
                    self.test_nats(connection, url, user.as_deref()).await
                }
                Settings::Redis { host, port, db } => {
                    self.test_redis(connection, host, *port, *db).await
                }
                Settings::Database { .. }
                | Settings::Sqlite { .. }
                | Settings::Http { .. }
                | Settings::Junction { .. } => Err(format!(
                    "{} is a {} connection, not a message broker",
                    connection.name, connection.kind
                )),
            }
        };
        match tokio::time::timeout(TEST_TIMEOUT, attempt).await {
            Ok(result) => result,
            Err(_) => Err(format!(
                "no answer within {} s: is the address right, and does a firewall drop the \
                 packets?",
                TEST_TIMEOUT.as_secs()
            )),
        }
    }

    async fn test_amqp(
        &self,
        connection: &OpenConnection,
        host: &str,
        port: u16,
        vhost: &str,
    ) -> Result<String, String> {
        let amqp = self.amqp(connection).await?.connect().await?;
        let _ = amqp.close(200, "tested".into()).await;
        Ok(format!(
            "connected: RabbitMQ (AMQP) at {host}:{port}, virtual host {vhost}"
        ))
    }

    async fn test_mqtt(
        &self,
        connection: &OpenConnection,
        host: &str,
        port: u16,
    ) -> Result<String, String> {
        use rumqttc::{AsyncClient, Event, Packet};
        // A client id of its own: a broker disconnects the older of two clients with
        // one id, which would be the running trigger's.
        let mut options = self.mqtt(connection).await?.options("test");
        options.set_clean_session(true);
        options.set_keep_alive(Duration::from_secs(5));
        let (client, mut events) = AsyncClient::new(options, 1);
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    let _ = client.disconnect().await;
                    return Ok(format!("connected: MQTT broker at {host}:{port}"));
                }
                Ok(_) => {}
                Err(rumqttc::ConnectionError::ConnectionRefused(code)) => {
                    return Err(match code {
                        rumqttc::ConnectReturnCode::BadUserNamePassword
                        | rumqttc::ConnectReturnCode::NotAuthorized => {
                            "the broker refused the user name or password".to_owned()
                        }
                        other => format!("the broker refused the connection: {other:?}"),
                    });
                }
                Err(err) => return Err(describe(&err.to_string(), host, port)),
            }
        }
    }

    async fn test_nats(
        &self,
        connection: &OpenConnection,
        url: &str,
        user: Option<&str>,
    ) -> Result<String, String> {
        let parsed = url::Url::parse(url).map_err(|err| format!("{url}: {err}"))?;
        let host = parsed.host_str().unwrap_or_default().to_owned();
        let port = parsed.port().unwrap_or(4222);
        let ip = self
            .policy
            .resolve(&host, port, connection.allow_private)
            .await?;
        let mut options = async_nats::ConnectOptions::new()
            .connection_timeout(TEST_TIMEOUT)
            .max_reconnects(Some(1));
        options = match user {
            Some(user) => {
                options.user_and_password(user.to_owned(), secret(connection, "password"))
            }
            None => match connection.secrets.get("token") {
                Some(token) => options.token(token.clone()),
                None => options,
            },
        };
        let address = format!("{}://{ip}:{port}", parsed.scheme());
        let client = options
            .connect(address)
            .await
            .map_err(|err| describe(&err.to_string(), &host, port))?;
        client
            .flush()
            .await
            .map_err(|err| describe(&err.to_string(), &host, port))?;
        let version = client.server_info().version;
        Ok(format!("connected: NATS {version} at {host}:{port}"))
    }

    async fn test_redis(
        &self,
        connection: &OpenConnection,
        host: &str,
        port: u16,
        db: u8,
    ) -> Result<String, String> {
        let mut redis = self
            .redis(connection)
            .await?
            .client()
            .get_multiplexed_async_connection()
            .await
            .map_err(|err| describe(&err.to_string(), host, port))?;
        let pong: String = redis::cmd("PING")
            .query_async(&mut redis)
            .await
            .map_err(|err| describe(&err.to_string(), host, port))?;
        Ok(format!(
            "connected: Redis at {host}:{port} (database {db}, {pong})"
        ))
    }
}

/// A secret of the connection, or none.
fn secret(connection: &OpenConnection, name: &str) -> String {
    connection.secrets.get(name).cloned().unwrap_or_default()
}

/// A client's error as a person acts on it: refused, the password, or the broker's words.
fn describe(error: &str, host: &str, port: u16) -> String {
    let place = match port {
        0 => host.to_owned(),
        port => format!("{host}:{port}"),
    };
    let lower = error.to_lowercase();
    if lower.contains("connection refused") {
        format!("refused: nothing accepts connections at {place}")
    } else if lower.contains("access_refused")
        || lower.contains("authorization violation")
        || lower.contains("authentication")
        || lower.contains("wrongpass")
        || lower.contains("invalid username-password")
        || lower.contains("noauth")
    {
        format!("the broker refused the user name or password ({error})")
    } else {
        format!("{place}: {error}")
    }
}

/// The kinds this module reaches.
pub fn is_broker(kind: ConnectionKind) -> bool {
    match kind {
        ConnectionKind::Amqp
        | ConnectionKind::Mqtt
        | ConnectionKind::Nats
        | ConnectionKind::Redis => true,
        ConnectionKind::Postgres
        | ConnectionKind::Mysql
        | ConnectionKind::Sqlite
        | ConnectionKind::Http
        | ConnectionKind::Junction => false,
    }
}

/// A Redis connection a step uses: the client (given the checked address) and one
/// multiplexed connection shared by every message, made again after it fails.
pub struct RedisTarget {
    client: redis::Client,
    connection: tokio::sync::Mutex<Option<redis::aio::MultiplexedConnection>>,
    place: String,
}

impl std::fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the client: its address holds the password.
        f.debug_struct("RedisTarget")
            .field("place", &self.place)
            .finish_non_exhaustive()
    }
}

/// How long one Redis command may take.
const REDIS_TIMEOUT: Duration = Duration::from_secs(10);

impl Brokers {
    /// The target of a `redis` connection, checked by the egress policy; it connects on
    /// first use.
    pub async fn redis(&self, connection: &OpenConnection) -> Result<RedisTarget, String> {
        let Settings::Redis { host, port, db } = &connection.settings else {
            return Err(format!(
                "{} is a {} connection, not Redis",
                connection.name, connection.kind
            ));
        };
        let ip = self
            .policy
            .resolve(host, *port, connection.allow_private)
            .await?;
        let mut url =
            url::Url::parse(&format!("redis://{ip}:{port}/{db}")).map_err(|err| err.to_string())?;
        if let Some(password) = connection.secrets.get("password").filter(|p| !p.is_empty()) {
            let _ = url.set_password(Some(password));
        }
        Ok(RedisTarget {
            client: redis::Client::open(url.as_str()).map_err(|err| err.to_string())?,
            connection: tokio::sync::Mutex::new(None),
            place: format!("{host}:{port}"),
        })
    }
}

impl RedisTarget {
    /// Where the server is, as people read it (no password).
    pub fn place(&self) -> &str {
        &self.place
    }

    /// The client, for a connection of one's own (a trigger's blocking reads).
    pub fn client(&self) -> &redis::Client {
        &self.client
    }

    /// Runs `command` with `args` (text; other JSON as its JSON text): the answer as
    /// the step's new body.
    pub async fn run(
        &self,
        command: crate::domain::definition::RedisCommand,
        args: &[serde_json::Value],
        expire_seconds: Option<u64>,
    ) -> Result<serde_json::Value, String> {
        use crate::domain::definition::RedisCommand as C;
        use serde_json::json;
        let text: Vec<String> = args
            .iter()
            .map(|arg| match arg {
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            })
            .collect();
        let mut cmd = redis::cmd(command.as_str());
        match command {
            C::Xadd => {
                // XADD stream * field value ...: the server picks the id.
                cmd.arg(&text[0]).arg("*").arg(&text[1..]);
            }
            C::Set => {
                cmd.arg(&text);
                if let Some(seconds) = expire_seconds {
                    cmd.arg("EX").arg(seconds);
                }
            }
            C::Get | C::Publish | C::Lpush | C::Incr => {
                cmd.arg(&text);
            }
        }
        let work = async {
            let mut connection = self.connection().await?;
            let answer: redis::Value = match cmd.query_async(&mut connection).await {
                Ok(answer) => answer,
                Err(err) => {
                    // A broken connection is made again for the next message.
                    if err.is_io_error() || err.is_connection_dropped() {
                        self.connection.lock().await.take();
                    }
                    return Err(describe(&err.to_string(), &self.place, 0));
                }
            };
            Ok(match (command, answer) {
                (C::Get, redis::Value::Nil) => json!({ "value": null }),
                (C::Get, redis::Value::BulkString(bytes)) => {
                    json!({ "value": String::from_utf8_lossy(&bytes) })
                }
                (C::Set, _) => json!({ "ok": true }),
                (C::Xadd, redis::Value::BulkString(id)) => {
                    json!({ "id": String::from_utf8_lossy(&id) })
                }
                (C::Publish, redis::Value::Int(n)) => json!({ "receivers": n }),
                (C::Lpush, redis::Value::Int(n)) => json!({ "length": n }),
                (C::Incr, redis::Value::Int(n)) => json!({ "value": n }),
                (command, other) => {
                    return Err(format!(
                        "{} answered something unexpected: {other:?}",
                        command.as_str()
                    ));
                }
            })
        };
        match tokio::time::timeout(REDIS_TIMEOUT, work).await {
            Ok(result) => result,
            Err(_) => Err(format!(
                "{} did not answer within {} s",
                self.place,
                REDIS_TIMEOUT.as_secs()
            )),
        }
    }

    /// The shared connection, made now if there is none.
    async fn connection(&self) -> Result<redis::aio::MultiplexedConnection, String> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref() {
            return Ok(connection.clone());
        }
        let connection = self
            .client
            .get_multiplexed_async_connection()
            .await
            .map_err(|err| describe(&err.to_string(), &self.place, 0))?;
        *slot = Some(connection.clone());
        Ok(connection)
    }
}

/// A NATS server a step publishes to: the checked address and the sign-in, and one
/// client shared by every message (it reconnects by itself), made on first use.
pub struct NatsTarget {
    address: String,
    place: String,
    user: Option<(String, String)>,
    token: Option<String>,
    client: tokio::sync::Mutex<Option<async_nats::Client>>,
}

impl std::fmt::Debug for NatsTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the credentials.
        f.debug_struct("NatsTarget")
            .field("place", &self.place)
            .finish_non_exhaustive()
    }
}

/// How long one publish may take (with JetStream, until the stream acknowledges it).
const NATS_TIMEOUT: Duration = Duration::from_secs(10);

impl Brokers {
    /// The target of a `nats` connection, checked by the egress policy.
    pub async fn nats(&self, connection: &OpenConnection) -> Result<NatsTarget, String> {
        let Settings::Nats { url, user } = &connection.settings else {
            return Err(format!(
                "{} is a {} connection, not NATS",
                connection.name, connection.kind
            ));
        };
        let parsed = url::Url::parse(url).map_err(|err| format!("{url}: {err}"))?;
        let host = parsed.host_str().unwrap_or_default().to_owned();
        let port = parsed.port().unwrap_or(4222);
        let ip = self
            .policy
            .resolve(&host, port, connection.allow_private)
            .await?;
        Ok(NatsTarget {
            address: format!("{}://{ip}:{port}", parsed.scheme()),
            place: format!("{host}:{port}"),
            user: user
                .as_ref()
                .map(|user| (user.clone(), secret(connection, "password"))),
            token: connection.secrets.get("token").cloned(),
            client: tokio::sync::Mutex::new(None),
        })
    }
}

impl NatsTarget {
    /// Publishes `payload` to `subject`: `{"published": true}`, or with `jetstream`
    /// the stream's acknowledgement `{"stream": ..., "sequence": n}`.
    pub async fn publish(
        &self,
        subject: String,
        payload: Vec<u8>,
        jetstream: bool,
    ) -> Result<serde_json::Value, String> {
        let work = async {
            let client = self.client().await?;
            let failed = |err: &dyn std::fmt::Display| format!("{}: {err}", self.place);
            if jetstream {
                let ack = async_nats::jetstream::new(client)
                    .publish(subject, payload.into())
                    .await
                    .map_err(|err| failed(&err))?
                    .await
                    .map_err(|err| failed(&err))?;
                Ok(serde_json::json!({ "stream": ack.stream, "sequence": ack.sequence }))
            } else {
                client
                    .publish(subject, payload.into())
                    .await
                    .map_err(|err| failed(&err))?;
                client.flush().await.map_err(|err| failed(&err))?;
                Ok(serde_json::json!({ "published": true }))
            }
        };
        match tokio::time::timeout(NATS_TIMEOUT, work).await {
            Ok(result) => result,
            Err(_) => Err(format!(
                "{} did not take the message within {} s",
                self.place,
                NATS_TIMEOUT.as_secs()
            )),
        }
    }

    /// Where the server is, as people read it (no credentials).
    pub fn place(&self) -> &str {
        &self.place
    }

    /// The shared client, connected now if it is not yet.
    pub async fn client(&self) -> Result<async_nats::Client, String> {
        let mut slot = self.client.lock().await;
        if let Some(client) = slot.as_ref() {
            return Ok(client.clone());
        }
        let mut options = async_nats::ConnectOptions::new().connection_timeout(NATS_TIMEOUT);
        options = match (&self.user, &self.token) {
            (Some((user, password)), _) => {
                options.user_and_password(user.clone(), password.clone())
            }
            (None, Some(token)) => options.token(token.clone()),
            (None, None) => options,
        };
        let client = options
            .connect(self.address.as_str())
            .await
            .map_err(|err| describe(&err.to_string(), &self.place, 0))?;
        *slot = Some(client.clone());
        Ok(client)
    }
}

/// A RabbitMQ broker a flow reaches: the checked address with the sign-in (never
/// shown), and, for publishing, one connection and confirming channel shared by
/// every message, made again after it fails.
pub struct AmqpTarget {
    uri: lapin::uri::AMQPUri,
    place: String,
    publisher: tokio::sync::Mutex<Option<(lapin::Connection, lapin::Channel)>>,
}

impl std::fmt::Debug for AmqpTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the address: it holds the password.
        f.debug_struct("AmqpTarget")
            .field("place", &self.place)
            .finish_non_exhaustive()
    }
}

/// How long connecting, or one publish until the broker confirms it, may take.
const AMQP_TIMEOUT: Duration = Duration::from_secs(10);

impl Brokers {
    /// The target of an `amqp` connection, checked by the egress policy; it connects
    /// on first use.
    pub async fn amqp(&self, connection: &OpenConnection) -> Result<AmqpTarget, String> {
        use lapin::uri::{AMQPAuthority, AMQPScheme, AMQPUri, AMQPUserInfo};
        let Settings::Amqp {
            host,
            port,
            vhost,
            user,
        } = &connection.settings
        else {
            return Err(format!(
                "{} is a {} connection, not RabbitMQ (AMQP)",
                connection.name, connection.kind
            ));
        };
        let ip = self
            .policy
            .resolve(host, *port, connection.allow_private)
            .await?;
        Ok(AmqpTarget {
            uri: AMQPUri {
                scheme: AMQPScheme::AMQP,
                authority: AMQPAuthority {
                    userinfo: AMQPUserInfo {
                        username: user.clone(),
                        password: secret(connection, "password"),
                    },
                    host: ip.to_string(),
                    port: *port,
                },
                vhost: vhost.clone(),
                query: Default::default(),
            },
            place: format!("{host}:{port}"),
            publisher: tokio::sync::Mutex::new(None),
        })
    }
}

impl AmqpTarget {
    /// Where the broker is, as people read it (no password).
    pub fn place(&self) -> &str {
        &self.place
    }

    /// A new connection to the broker (a consumer holds its own).
    pub async fn connect(&self) -> Result<lapin::Connection, String> {
        let connecting = lapin::Connection::connect_uri(
            self.uri.clone(),
            lapin::ConnectionProperties::default(),
        );
        match tokio::time::timeout(AMQP_TIMEOUT, connecting).await {
            Ok(Ok(connection)) => Ok(connection),
            Ok(Err(err)) => Err(describe(&err.to_string(), &self.place, 0)),
            Err(_) => Err(format!(
                "{} did not answer within {} s",
                self.place,
                AMQP_TIMEOUT.as_secs()
            )),
        }
    }

    /// Publishes `payload` (JSON, persistent) to `exchange` with `routing_key`, and
    /// waits until the broker confirms it: `{"published": true, "exchange": ...,
    /// "routing_key": ...}`. A message no queue takes is an error, not a silent loss.
    pub async fn publish(
        &self,
        exchange: &str,
        routing_key: &str,
        payload: &[u8],
    ) -> Result<serde_json::Value, String> {
        let work = async {
            let channel = self.channel().await?;
            let failed = |err: &dyn std::fmt::Display| format!("{}: {err}", self.place);
            let confirm = channel
                .basic_publish(
                    exchange.into(),
                    routing_key.into(),
                    lapin::options::BasicPublishOptions {
                        mandatory: true,
                        ..Default::default()
                    },
                    payload,
                    json_properties(),
                )
                .await;
            let confirmation = match confirm {
                Ok(confirm) => confirm.await,
                Err(err) => Err(err),
            };
            match confirmation {
                Ok(lapin::Confirmation::Ack(None)) => Ok(serde_json::json!({
                    "published": true,
                    "exchange": exchange,
                    "routing_key": routing_key,
                })),
                Ok(lapin::Confirmation::Ack(Some(_))) => Err(format!(
                    "no queue is bound to exchange {exchange:?} with routing key \
                     {routing_key:?}: the message went nowhere"
                )),
                Ok(lapin::Confirmation::Nack(_) | lapin::Confirmation::NotRequested) => {
                    Err(format!("{} did not take the message", self.place))
                }
                Err(err) => {
                    // A broken channel is made again for the next message.
                    self.publisher.lock().await.take();
                    Err(failed(&err))
                }
            }
        };
        match tokio::time::timeout(AMQP_TIMEOUT, work).await {
            Ok(result) => result,
            Err(_) => {
                self.publisher.lock().await.take();
                Err(format!(
                    "{} did not confirm the message within {} s",
                    self.place,
                    AMQP_TIMEOUT.as_secs()
                ))
            }
        }
    }

    /// The shared confirming channel, opened now if there is none or it broke.
    async fn channel(&self) -> Result<lapin::Channel, String> {
        let mut slot = self.publisher.lock().await;
        if let Some((connection, channel)) = slot.as_ref()
            && connection.status().connected()
            && channel.status().connected()
        {
            return Ok(channel.clone());
        }
        let connection = self.connect().await?;
        let failed = |err: lapin::Error| describe(&err.to_string(), &self.place, 0);
        let channel = connection.create_channel().await.map_err(failed)?;
        channel
            .confirm_select(lapin::options::ConfirmSelectOptions::default())
            .await
            .map_err(failed)?;
        *slot = Some((connection, channel.clone()));
        Ok(channel)
    }
}

/// A message as flows send it: JSON, kept on disk by the broker.
pub fn json_properties() -> lapin::BasicProperties {
    lapin::BasicProperties::default()
        .with_content_type("application/json".into())
        .with_delivery_mode(2)
}

/// A message's payload as a flow's body: its JSON, or `{"text": ...}` when it is not
/// JSON (bytes that are not UTF-8 are replaced, as the text cannot carry them).
pub fn message_body(payload: &[u8]) -> serde_json::Value {
    match serde_json::from_slice(payload) {
        Ok(value) => value,
        Err(_) => serde_json::json!({ "text": String::from_utf8_lossy(payload) }),
    }
}

/// An MQTT broker a flow reaches: the checked address with the sign-in (never shown),
/// and, for publishing, one client shared by every message, made again after it
/// fails. Publishes go one at a time, so that the broker's acknowledgement seen next
/// is the one of the message sent.
pub struct MqttTarget {
    host: String,
    port: u16,
    client_id: String,
    credentials: Option<(String, String)>,
    place: String,
    publisher: tokio::sync::Mutex<Option<MqttPublisher>>,
}

struct MqttPublisher {
    client: rumqttc::AsyncClient,
    /// What the event loop saw of our publishes: sent (packet id), acknowledged
    /// (packet id), or the connection's end.
    seen: tokio::sync::mpsc::Receiver<Result<MqttSeen, String>>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Debug, PartialEq)]
enum MqttSeen {
    Sent(u16),
    Acked(u16),
}

impl Drop for MqttPublisher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl std::fmt::Debug for MqttTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the credentials.
        f.debug_struct("MqttTarget")
            .field("place", &self.place)
            .finish_non_exhaustive()
    }
}

/// How long one publish may take until the broker acknowledges it.
const MQTT_TIMEOUT: Duration = Duration::from_secs(10);

impl Brokers {
    /// The target of an `mqtt` connection, checked by the egress policy.
    pub async fn mqtt(&self, connection: &OpenConnection) -> Result<MqttTarget, String> {
        let Settings::Mqtt {
            host,
            port,
            client_id,
            user,
        } = &connection.settings
        else {
            return Err(format!(
                "{} is a {} connection, not MQTT",
                connection.name, connection.kind
            ));
        };
        let ip = self
            .policy
            .resolve(host, *port, connection.allow_private)
            .await?;
        Ok(MqttTarget {
            host: ip.to_string(),
            port: *port,
            client_id: client_id.clone(),
            credentials: user
                .as_ref()
                .map(|user| (user.clone(), secret(connection, "password"))),
            place: format!("{host}:{port}"),
            publisher: tokio::sync::Mutex::new(None),
        })
    }
}

impl MqttTarget {
    pub fn place(&self) -> &str {
        &self.place
    }

    /// The options of a client `suffix` names (the broker keeps one session per
    /// client id, so each user of the connection has its own).
    pub fn options(&self, suffix: &str) -> rumqttc::MqttOptions {
        let mut options = rumqttc::MqttOptions::new(
            format!("{}-{suffix}", self.client_id),
            &self.host,
            self.port,
        );
        options.set_keep_alive(Duration::from_secs(30));
        if let Some((user, password)) = &self.credentials {
            options.set_credentials(user, password);
        }
        options
    }

    /// Publishes `payload` to `topic`; at QoS 1 waits for the broker's
    /// acknowledgement: `{"published": true, "topic": ...}`.
    pub async fn publish(
        &self,
        topic: &str,
        qos: u8,
        retain: bool,
        payload: Vec<u8>,
    ) -> Result<serde_json::Value, String> {
        let level = match qos {
            0 => rumqttc::QoS::AtMostOnce,
            _ => rumqttc::QoS::AtLeastOnce,
        };
        let mut slot = self.publisher.lock().await;
        let work = async {
            if slot.is_none() {
                *slot = Some(self.connect_publisher().await?);
            }
            let Some(publisher) = slot.as_mut() else {
                return Err("not connected".to_owned());
            };
            publisher
                .client
                .publish(topic, level, retain, payload)
                .await
                .map_err(|err| format!("{}: {err}", self.place))?;
            let mut sent = None;
            loop {
                match publisher.seen.recv().await {
                    Some(Ok(MqttSeen::Sent(id))) if level == rumqttc::QoS::AtMostOnce => {
                        let _ = id;
                        break;
                    }
                    Some(Ok(MqttSeen::Sent(id))) => sent = Some(id),
                    Some(Ok(MqttSeen::Acked(id))) if sent == Some(id) => break,
                    Some(Ok(MqttSeen::Acked(_))) => {}
                    Some(Err(why)) => return Err(why),
                    None => return Err(format!("{}: the connection ended", self.place)),
                }
            }
            Ok(serde_json::json!({ "published": true, "topic": topic }))
        };
        let result = match tokio::time::timeout(MQTT_TIMEOUT, work).await {
            Ok(result) => result,
            Err(_) => Err(format!(
                "{} did not acknowledge the message within {} s",
                self.place,
                MQTT_TIMEOUT.as_secs()
            )),
        };
        if result.is_err() {
            // Made again for the next message.
            slot.take();
        }
        result
    }

    async fn connect_publisher(&self) -> Result<MqttPublisher, String> {
        use rumqttc::{Event, Outgoing, Packet};
        let mut options = self.options("publish");
        options.set_clean_session(true);
        let (client, mut events) = rumqttc::AsyncClient::new(options, 16);
        // Connected first, so that a wrong password is this message's error.
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => break,
                Ok(_) => {}
                Err(err) => return Err(describe(&err.to_string(), &self.place, 0)),
            }
        }
        let (tell, seen) = tokio::sync::mpsc::channel(16);
        let place = self.place.clone();
        let task = tokio::spawn(async move {
            loop {
                let saw = match events.poll().await {
                    Ok(Event::Outgoing(Outgoing::Publish(id))) => Ok(MqttSeen::Sent(id)),
                    Ok(Event::Incoming(Packet::PubAck(ack))) => Ok(MqttSeen::Acked(ack.pkid)),
                    Ok(_) => continue,
                    Err(err) => Err(describe(&err.to_string(), &place, 0)),
                };
                let ended = saw.is_err();
                if tell.send(saw).await.is_err() || ended {
                    break;
                }
            }
        });
        Ok(MqttPublisher { client, seen, task })
    }
}
