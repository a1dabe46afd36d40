//! The definition of an integration: a trigger, then steps. The JSON form is public
//! (the API and exports use it as is), so parsing is strict: unknown fields are errors,
//! and every problem is reported with where it is (`steps[2].url`), not just the first.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

use crate::error::FieldError;

pub const MAX_STEPS: usize = 50;
pub const MAX_TIMER_SECONDS: u64 = 86_400;
pub const MAX_HTTP_TIMEOUT_SECONDS: u64 = 300;
/// The largest transform template, as JSON text: what one step renders per message.
pub const MAX_TEMPLATE_BYTES: usize = 64 * 1024;
/// The most templates (strings rendered per message) one version may hold.
pub const MAX_TEMPLATES: usize = 2000;
const MAX_TEXT_CHARS: usize = 4000;

/// A flow: what starts it, and what happens to each message.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Definition {
    pub trigger: Trigger,
    pub steps: Vec<Step>,
}

/// What starts a flow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Trigger {
    /// `POST /hooks/{path}` with a JSON body; with `auth`, only callers that prove
    /// they hold the secret.
    Webhook {
        path: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        auth: Option<WebhookAuth>,
    },
    /// Every N seconds.
    Timer { every_seconds: u64 },
    /// At the times a cron schedule names, in a time zone (`"0 9 * * 1-5"` in
    /// `Europe/Berlin` is 9:00 there on weekdays, summer and winter).
    Cron { schedule: String, time_zone: String },
    /// Every N seconds, the rows a query finds after the cursor, one message each, in
    /// order; the cursor (the `cursor` column of the last row whose run is recorded)
    /// is kept in Junction's database and bound as the query's first parameter.
    SqlPoll {
        connection: String,
        query: String,
        cursor: String,
        every_seconds: u64,
        /// The cursor before the first row.
        start: Value,
    },
    /// Each message of a RabbitMQ queue (declared durable first, with `declare`),
    /// `prefetch` at most in flight; acknowledged once its run is recorded. A failed run
    /// goes to `dead_letter_exchange` where one is named, else back to the queue's end
    /// up to `max_redeliveries` times.
    Amqp {
        connection: String,
        queue: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        declare: bool,
        prefetch: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dead_letter_exchange: Option<String>,
        max_redeliveries: u32,
    },
    /// Each message on a NATS subject (wildcards allowed), as `{"subject", "payload"}`.
    /// With `stream` and `durable`, a JetStream durable pull consumer: acknowledged
    /// once the run is recorded, a failed run delivered again up to
    /// `max_redeliveries` times; without, core NATS (no acknowledgement). At most
    /// `prefetch` messages in flight.
    Nats {
        connection: String,
        subject: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stream: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        durable: Option<String>,
        prefetch: u16,
        max_redeliveries: u32,
    },
    /// Redis: each entry of a stream read by a consumer group (every server; acknowledged
    /// with XACK once recorded, a failed one added again at most `max_redeliveries`
    /// times), or each message on a pub/sub channel (the lease holder; nothing kept).
    Redis {
        connection: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stream: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<String>,
        prefetch: u16,
        max_redeliveries: u32,
    },
    /// Each message on an MQTT topic filter (`+` and `#` wildcards), as `{"topic",
    /// "payload"}`, at QoS 0 or 1, in a persistent session (the broker keeps QoS 1
    /// messages while the trigger is away); a QoS 1 message is acknowledged once its
    /// run is recorded. On the lease holder.
    Mqtt {
        connection: String,
        topic: String,
        qos: u8,
    },
}

/// Where a trigger's messages are taken: on every server, or on the one that holds
/// the integration's lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consumers {
    /// Each server takes its share: a webhook answers the calls its server gets, and a
    /// broker that shares work among consumers (an AMQP queue) hands each message to
    /// one of them.
    EveryServer,
    /// One server: a second would run each tick, row or message again.
    LeaseHolder,
}

/// When a kind of trigger runs on every server: always, never, or when the trigger
/// has a field (a NATS subject read through a JetStream durable consumer). The store
/// reads the same rule from the running version's JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sharing {
    Always,
    Never,
    WithField(&'static str),
}

/// The most messages an AMQP trigger takes at once.
pub const MAX_PREFETCH: u64 = 1000;
/// The most times a failed message goes back to its queue.
pub const MAX_REDELIVERIES: u64 = 100;

/// What a webhook caller must show: the secret as a bearer token, or an HMAC-SHA256
/// signature of the body made with it (the GitHub and Stripe convention), in a header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "scheme", rename_all = "snake_case")]
pub enum WebhookAuth {
    /// `Authorization: Bearer <secret>`.
    Bearer { secret: String },
    /// `<header>: sha256=<hex of HMAC-SHA256(secret, body)>` (or just the hex).
    HmacSha256 { header: String, secret: String },
}

/// How long a webhook secret may be.
pub const WEBHOOK_SECRET_CHARS: std::ops::RangeInclusive<usize> = 16..=512;

impl WebhookAuth {
    /// The shared secret.
    pub fn secret(&self) -> &str {
        match self {
            WebhookAuth::Bearer { secret } | WebhookAuth::HmacSha256 { secret, .. } => secret,
        }
    }

    fn secret_mut(&mut self) -> &mut String {
        match self {
            WebhookAuth::Bearer { secret } | WebhookAuth::HmacSha256 { secret, .. } => secret,
        }
    }

    fn same_scheme(&self, other: &WebhookAuth) -> bool {
        matches!(
            (self, other),
            (WebhookAuth::Bearer { .. }, WebhookAuth::Bearer { .. })
                | (
                    WebhookAuth::HmacSha256 { .. },
                    WebhookAuth::HmacSha256 { .. }
                )
        )
    }
}

/// One step of a flow.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Step {
    /// Writes a templated message to the activity and the server log.
    Log { message: String },
    /// Builds a new body from a template whose string leaves are templates.
    Transform { template: Value },
    /// Drops the message unless the condition holds.
    Filter { condition: String },
    /// Sends the body as JSON; a JSON answer becomes the new body. Through an `http`
    /// connection, `url` is a path under its base URL, and the connection's
    /// authentication goes with it.
    Http {
        method: HttpMethod,
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        connection: Option<String>,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        headers: BTreeMap<String, String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_seconds: Option<u64>,
    },
    /// Runs a statement on a SQL connection with bound parameters (templates that keep
    /// their JSON type); the rows it returns and the rows it changed become the body.
    Sql {
        connection: String,
        query: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        params: Vec<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_seconds: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_rows: Option<u64>,
    },
    /// One Redis command on a connection; its arguments are templates (a value that is
    /// not text goes as its JSON).
    Redis {
        connection: String,
        command: RedisCommand,
        args: Vec<Value>,
        /// For SET: the key expires after this many seconds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expire_seconds: Option<u64>,
    },
    /// Publishes the body (as JSON) to a NATS subject (a template); with `jetstream`,
    /// waits for the stream's acknowledgement.
    NatsPublish {
        connection: String,
        subject: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        jetstream: bool,
    },
    /// Publishes the body (as JSON) to an MQTT topic (a template) at QoS 0 or 1 (then
    /// waits for the broker's acknowledgement), retained if asked.
    MqttPublish {
        connection: String,
        topic: String,
        qos: u8,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        retain: bool,
    },
    /// Publishes the body (as JSON, persistent) to a RabbitMQ exchange (`""` is the
    /// default one, which routes to the queue named by the key) with a routing key (a
    /// template), and waits for the broker to confirm it.
    AmqpPublish {
        connection: String,
        exchange: String,
        routing_key: String,
    },
}

/// The Redis commands a `redis` step runs: the few a flow needs to cache, count, queue
/// and notify.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RedisCommand {
    /// `GET key` → `{"value": text or null}`.
    Get,
    /// `SET key value` (with `expire_seconds`, `EX`) → `{"ok": true}`.
    Set,
    /// `XADD stream * field value ...` → `{"id": ...}`.
    Xadd,
    /// `PUBLISH channel message` → `{"receivers": n}`.
    Publish,
    /// `LPUSH key value ...` → `{"length": n}`.
    Lpush,
    /// `INCR key` → `{"value": n}`.
    Incr,
}

impl RedisCommand {
    pub const ALL: [RedisCommand; 6] = [
        RedisCommand::Get,
        RedisCommand::Set,
        RedisCommand::Xadd,
        RedisCommand::Publish,
        RedisCommand::Lpush,
        RedisCommand::Incr,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RedisCommand::Get => "GET",
            RedisCommand::Set => "SET",
            RedisCommand::Xadd => "XADD",
            RedisCommand::Publish => "PUBLISH",
            RedisCommand::Lpush => "LPUSH",
            RedisCommand::Incr => "INCR",
        }
    }

    /// Whether `count` arguments fit the command, and what it takes if not.
    fn takes(self, count: usize) -> Result<(), &'static str> {
        let fits = match self {
            RedisCommand::Get | RedisCommand::Incr => count == 1,
            RedisCommand::Set | RedisCommand::Publish => count == 2,
            RedisCommand::Lpush => count >= 2,
            RedisCommand::Xadd => count >= 3 && count % 2 == 1,
        };
        match (fits, self) {
            (true, _) => Ok(()),
            (false, RedisCommand::Get | RedisCommand::Incr) => Err("one argument: the key"),
            (false, RedisCommand::Set) => Err("two arguments: the key and the value"),
            (false, RedisCommand::Publish) => Err("two arguments: the channel and the message"),
            (false, RedisCommand::Lpush) => Err("the key and one value or more"),
            (false, RedisCommand::Xadd) => Err("the stream, then fields and values in pairs"),
        }
    }
}

/// The longest cron expression, in characters.
pub const MAX_SCHEDULE_CHARS: usize = 200;
/// The longest SQL statement, in characters.
pub const MAX_QUERY_CHARS: usize = 16_000;
/// The most parameters one statement takes.
pub const MAX_PARAMS: usize = 100;
/// The most rows a sql step may be allowed to return.
pub const MAX_ROWS_LIMIT: u64 = 100_000;

/// The kinds of trigger, as named in the JSON form and shown in the editor. Every
/// match over them is exhaustive: a new kind is a compile error wherever it is missed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TriggerKind {
    Webhook,
    Timer,
    Cron,
    SqlPoll,
    Amqp,
    Nats,
    Redis,
    Mqtt,
}

impl TriggerKind {
    pub const ALL: [TriggerKind; 8] = [
        TriggerKind::Webhook,
        TriggerKind::Timer,
        TriggerKind::Cron,
        TriggerKind::SqlPoll,
        TriggerKind::Amqp,
        TriggerKind::Nats,
        TriggerKind::Redis,
        TriggerKind::Mqtt,
    ];

    /// The `kind` of the JSON form.
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerKind::Webhook => "webhook",
            TriggerKind::Timer => "timer",
            TriggerKind::Cron => "cron",
            TriggerKind::SqlPoll => "sql_poll",
            TriggerKind::Amqp => "amqp",
            TriggerKind::Nats => "nats",
            TriggerKind::Redis => "redis",
            TriggerKind::Mqtt => "mqtt",
        }
    }

    /// What the editor calls it.
    pub fn label(self) -> &'static str {
        match self {
            TriggerKind::Webhook => "Webhook (HTTP POST)",
            TriggerKind::Timer => "Timer",
            TriggerKind::Cron => "Schedule (cron)",
            TriggerKind::SqlPoll => "SQL query (new rows)",
            TriggerKind::Amqp => "RabbitMQ queue (AMQP)",
            TriggerKind::Nats => "NATS subject (or JetStream)",
            TriggerKind::Redis => "Redis stream (consumer group) or channel",
            TriggerKind::Mqtt => "MQTT topic",
        }
    }

    /// When a trigger of this kind runs on every server (see [`Trigger::consumers`]).
    pub fn sharing(self) -> Sharing {
        match self {
            TriggerKind::Webhook | TriggerKind::Amqp => Sharing::Always,
            TriggerKind::Timer | TriggerKind::Cron | TriggerKind::SqlPoll | TriggerKind::Mqtt => {
                Sharing::Never
            }
            TriggerKind::Nats => Sharing::WithField("durable"),
            TriggerKind::Redis => Sharing::WithField("group"),
        }
    }

    pub fn parse(kind: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|known| known.as_str() == kind)
    }
}

/// The kinds of step, as named in the JSON form and shown in the editor. Every match
/// over them is exhaustive: a new kind is a compile error wherever it is missed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StepKind {
    Log,
    Transform,
    Filter,
    Http,
    Sql,
    Redis,
    NatsPublish,
    AmqpPublish,
    MqttPublish,
}

impl StepKind {
    pub const ALL: [StepKind; 9] = [
        StepKind::Log,
        StepKind::Transform,
        StepKind::Filter,
        StepKind::Http,
        StepKind::Sql,
        StepKind::Redis,
        StepKind::NatsPublish,
        StepKind::AmqpPublish,
        StepKind::MqttPublish,
    ];

    /// The `kind` of the JSON form.
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Log => "log",
            StepKind::Transform => "transform",
            StepKind::Filter => "filter",
            StepKind::Http => "http",
            StepKind::Sql => "sql",
            StepKind::Redis => "redis",
            StepKind::NatsPublish => "nats_publish",
            StepKind::AmqpPublish => "amqp_publish",
            StepKind::MqttPublish => "mqtt_publish",
        }
    }

    /// What the editor calls it.
    pub fn label(self) -> &'static str {
        match self {
            StepKind::Log => "Log",
            StepKind::Transform => "Transform",
            StepKind::Filter => "Filter",
            StepKind::Http => "HTTP request",
            StepKind::Sql => "SQL statement",
            StepKind::Redis => "Redis command",
            StepKind::NatsPublish => "NATS publish",
            StepKind::AmqpPublish => "RabbitMQ publish (AMQP)",
            StepKind::MqttPublish => "MQTT publish",
        }
    }

    pub fn parse(kind: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|known| known.as_str() == kind)
    }
}

/// "a, b or c", for messages that list the kinds there are.
fn one_of(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [only] => (*only).to_owned(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

impl Trigger {
    pub fn kind(&self) -> TriggerKind {
        match self {
            Trigger::Webhook { .. } => TriggerKind::Webhook,
            Trigger::Timer { .. } => TriggerKind::Timer,
            Trigger::Cron { .. } => TriggerKind::Cron,
            Trigger::SqlPoll { .. } => TriggerKind::SqlPoll,
            Trigger::Amqp { .. } => TriggerKind::Amqp,
            Trigger::Nats { .. } => TriggerKind::Nats,
            Trigger::Redis { .. } => TriggerKind::Redis,
            Trigger::Mqtt { .. } => TriggerKind::Mqtt,
        }
    }

    /// The webhook path, for a webhook trigger.
    pub fn webhook_path(&self) -> Option<&str> {
        match self {
            Trigger::Webhook { path, .. } => Some(path),
            Trigger::Timer { .. }
            | Trigger::Cron { .. }
            | Trigger::SqlPoll { .. }
            | Trigger::Amqp { .. }
            | Trigger::Nats { .. }
            | Trigger::Redis { .. }
            | Trigger::Mqtt { .. } => None,
        }
    }

    /// Where this trigger's messages are taken: on every server where the broker
    /// shares work among consumers (a webhook's calls, an AMQP queue, a JetStream
    /// durable consumer), else on the lease holder only.
    pub fn consumers(&self) -> Consumers {
        let shared = match self.kind().sharing() {
            Sharing::Always => true,
            Sharing::Never => false,
            // As the store reads it: the field is in the JSON form.
            Sharing::WithField(field) => serde_json::to_value(self)
                .is_ok_and(|json| json.get(field).is_some_and(|value| !value.is_null())),
        };
        match shared {
            true => Consumers::EveryServer,
            false => Consumers::LeaseHolder,
        }
    }

    /// Replaces this trigger's secrets (a webhook's) with [`MASK`].
    fn mask(&mut self) {
        match self {
            Trigger::Webhook { auth, .. } => {
                if let Some(auth) = auth {
                    *auth.secret_mut() = MASK.to_owned();
                }
            }
            Trigger::Timer { .. }
            | Trigger::Cron { .. }
            | Trigger::SqlPoll { .. }
            | Trigger::Amqp { .. }
            | Trigger::Nats { .. }
            | Trigger::Redis { .. }
            | Trigger::Mqtt { .. } => {}
        }
    }

    /// Where an edit sent the webhook's secret back as [`MASK`], puts back the stored
    /// secret of the same scheme; with none, the mask is refused, never stored.
    fn unmask_from(&mut self, stored: &Trigger, errors: &mut Errors) {
        match self {
            Trigger::Webhook {
                auth: Some(auth), ..
            } => {
                if auth.secret_mut() != MASK {
                    return;
                }
                let stored = match stored {
                    Trigger::Webhook {
                        auth: Some(stored), ..
                    } if stored.same_scheme(auth) => Some(stored),
                    Trigger::Webhook { .. }
                    | Trigger::Timer { .. }
                    | Trigger::Cron { .. }
                    | Trigger::SqlPoll { .. }
                    | Trigger::Amqp { .. }
                    | Trigger::Nats { .. }
                    | Trigger::Redis { .. }
                    | Trigger::Mqtt { .. } => None,
                };
                match stored {
                    Some(stored) => *auth.secret_mut() = stored.secret().to_owned(),
                    None => errors.add(
                        "trigger.auth.secret",
                        "is masked, and no stored secret of this scheme is behind it: type it again",
                    ),
                }
            }
            Trigger::Webhook { auth: None, .. }
            | Trigger::Timer { .. }
            | Trigger::Cron { .. }
            | Trigger::SqlPoll { .. }
            | Trigger::Amqp { .. }
            | Trigger::Nats { .. }
            | Trigger::Redis { .. }
            | Trigger::Mqtt { .. } => {}
        }
    }
}

impl Step {
    pub fn kind(&self) -> StepKind {
        match self {
            Step::Log { .. } => StepKind::Log,
            Step::Transform { .. } => StepKind::Transform,
            Step::Filter { .. } => StepKind::Filter,
            Step::Http { .. } => StepKind::Http,
            Step::Sql { .. } => StepKind::Sql,
            Step::Redis { .. } => StepKind::Redis,
            Step::NatsPublish { .. } => StepKind::NatsPublish,
            Step::AmqpPublish { .. } => StepKind::AmqpPublish,
            Step::MqttPublish { .. } => StepKind::MqttPublish,
        }
    }

    /// How many strings this step renders for each message.
    fn templates(&self) -> usize {
        fn strings(value: &Value) -> usize {
            match value {
                Value::String(_) => 1,
                Value::Array(items) => items.iter().map(strings).sum(),
                Value::Object(fields) => fields.values().map(strings).sum(),
                Value::Null | Value::Bool(_) | Value::Number(_) => 0,
            }
        }
        match self {
            Step::Log { .. } | Step::Filter { .. } => 1,
            Step::Transform { template } => strings(template),
            Step::Http { headers, .. } => 1 + headers.len(),
            Step::Sql { params, .. } => params.iter().map(strings).sum(),
            Step::Redis { args, .. } => args.iter().map(strings).sum(),
            Step::NatsPublish { .. } | Step::AmqpPublish { .. } | Step::MqttPublish { .. } => 1,
        }
    }

    /// Replaces this step's secrets (an HTTP step's header values, and the password
    /// and credential parameters of its URL) with [`MASK`].
    fn mask(&mut self) {
        match self {
            Step::Http { headers, url, .. } => {
                for value in headers.values_mut() {
                    *value = MASK.to_owned();
                }
                *url = super::url_secrets::masked(url, MASK);
            }
            Step::Log { .. }
            | Step::Transform { .. }
            | Step::Filter { .. }
            | Step::Sql { .. }
            | Step::Redis { .. }
            | Step::NatsPublish { .. }
            | Step::AmqpPublish { .. }
            | Step::MqttPublish { .. } => {}
        }
    }

    /// Where an edit sent a secret back as [`MASK`], puts back the secret stored at the
    /// same place: the step at the same position, if it is of the same kind. A mask
    /// with no such secret behind it is refused (at `path`), never stored as the
    /// secret's value.
    fn unmask_from(&mut self, stored: Option<&Step>, path: &str, errors: &mut Errors) {
        match self {
            Step::Http { headers, url, .. } => {
                let (stored, stored_url) = match stored {
                    Some(Step::Http { headers, url, .. }) => (Some(headers), Some(url.as_str())),
                    Some(
                        Step::Log { .. }
                        | Step::Transform { .. }
                        | Step::Filter { .. }
                        | Step::Sql { .. }
                        | Step::Redis { .. }
                        | Step::NatsPublish { .. }
                        | Step::AmqpPublish { .. }
                        | Step::MqttPublish { .. },
                    )
                    | None => (None, None),
                };
                match super::url_secrets::unmasked(url, stored_url) {
                    Ok(unmasked) => *url = unmasked,
                    Err(places) => {
                        for place in places {
                            errors.add(
                                &format!("{path}.url"),
                                format!(
                                    "its {} is masked, and no stored secret is at this place \
                                     (the step moved or is new): type it again",
                                    place.replace("query.", "parameter ")
                                ),
                            );
                        }
                    }
                }
                for (name, value) in headers.iter_mut() {
                    if value != MASK {
                        continue;
                    }
                    match stored.and_then(|headers| headers.get(name)) {
                        Some(secret) => value.clone_from(secret),
                        None => errors.add(
                            &format!("{path}.headers.{name}"),
                            "is masked, and no stored secret is at this place (the step \
                             moved or is new): type its value again",
                        ),
                    }
                }
            }
            Step::Log { .. }
            | Step::Transform { .. }
            | Step::Filter { .. }
            | Step::Sql { .. }
            | Step::Redis { .. }
            | Step::NatsPublish { .. }
            | Step::AmqpPublish { .. }
            | Step::MqttPublish { .. } => {}
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl HttpMethod {
    const ALL: [(&'static str, HttpMethod); 5] = [
        ("GET", HttpMethod::Get),
        ("POST", HttpMethod::Post),
        ("PUT", HttpMethod::Put),
        ("PATCH", HttpMethod::Patch),
        ("DELETE", HttpMethod::Delete),
    ];

    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, method)| *method == self)
            .map_or("POST", |(name, _)| name)
    }
}

/// What a header value is shown as once stored: secrets are never shown back.
pub const MASK: &str = "********";

impl Definition {
    /// The definition a new integration starts with: a webhook named after it.
    pub fn starter(name: &str) -> Self {
        let mut path: String = name
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        while path.contains("--") {
            path = path.replace("--", "-");
        }
        let path = path.trim_matches('-').chars().take(64).collect::<String>();
        let path = path.trim_matches('-').to_owned();
        Self {
            trigger: Trigger::Webhook {
                path: if path.is_empty() { "hook".into() } else { path },
                auth: None,
            },
            steps: Vec::new(),
        }
    }

    /// Parses JSON text, reporting every problem found.
    pub fn parse_str(text: &str) -> Result<Self, Vec<FieldError>> {
        let value: Value = crate::json::parse(text).map_err(|err| {
            vec![FieldError::new(
                "definition",
                format!("not valid JSON: {err}"),
            )]
        })?;
        Self::parse(&value)
    }

    /// Parses a JSON value, reporting every problem found.
    pub fn parse(value: &Value) -> Result<Self, Vec<FieldError>> {
        let mut errors = Errors::default();
        let definition = parse_definition(value, &mut errors);
        match (definition, errors.0.is_empty()) {
            (Some(definition), true) => Ok(definition),
            _ => Err(errors.0),
        }
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The canonical text: keys sorted, no white space. Its hash identifies the content.
    pub fn canonical_json(&self) -> String {
        // serde_json's maps are ordered by key, so the text is canonical.
        self.to_value().to_string()
    }

    /// The same definition with every secret replaced by [`MASK`].
    pub fn masked(&self) -> Self {
        let mut copy = self.clone();
        copy.trigger.mask();
        for step in &mut copy.steps {
            step.mask();
        }
        copy
    }

    /// Every secret, by its place (`trigger.auth.secret`, `steps[1].headers.x-api-key`,
    /// `steps[1].url.password`, `steps[1].url.query.token`): compared by diffs and
    /// fingerprinted by the content hash, never shown.
    pub fn secrets(&self) -> BTreeMap<String, String> {
        let mut found = BTreeMap::new();
        match &self.trigger {
            Trigger::Webhook {
                auth: Some(auth), ..
            } => {
                found.insert("trigger.auth.secret".to_owned(), auth.secret().to_owned());
            }
            Trigger::Webhook { auth: None, .. }
            | Trigger::Timer { .. }
            | Trigger::Cron { .. }
            | Trigger::SqlPoll { .. }
            | Trigger::Amqp { .. }
            | Trigger::Nats { .. }
            | Trigger::Redis { .. }
            | Trigger::Mqtt { .. } => {}
        }
        for (index, step) in self.steps.iter().enumerate() {
            match step {
                Step::Http { headers, url, .. } => {
                    for (name, value) in headers {
                        found.insert(format!("steps[{index}].headers.{name}"), value.clone());
                    }
                    for (place, value) in super::url_secrets::secrets(url) {
                        found.insert(format!("steps[{index}].url.{place}"), value);
                    }
                }
                Step::Log { .. }
                | Step::Transform { .. }
                | Step::Filter { .. }
                | Step::Sql { .. }
                | Step::Redis { .. }
                | Step::NatsPublish { .. }
                | Step::AmqpPublish { .. }
                | Step::MqttPublish { .. } => {}
            }
        }
        found
    }

    /// The connections this definition uses, each with where it is named.
    pub fn connections(&self) -> Vec<(String, &str)> {
        let mut found = Vec::new();
        match &self.trigger {
            Trigger::SqlPoll { connection, .. }
            | Trigger::Amqp { connection, .. }
            | Trigger::Nats { connection, .. }
            | Trigger::Redis { connection, .. }
            | Trigger::Mqtt { connection, .. } => {
                found.push(("trigger.connection".to_owned(), connection.as_str()));
            }
            Trigger::Webhook { .. } | Trigger::Timer { .. } | Trigger::Cron { .. } => {}
        }
        for (index, step) in self.steps.iter().enumerate() {
            match step {
                Step::Sql { connection, .. }
                | Step::Redis { connection, .. }
                | Step::NatsPublish { connection, .. }
                | Step::AmqpPublish { connection, .. }
                | Step::MqttPublish { connection, .. }
                | Step::Http {
                    connection: Some(connection),
                    ..
                } => {
                    found.push((format!("steps[{index}].connection"), connection.as_str()));
                }
                Step::Log { .. }
                | Step::Transform { .. }
                | Step::Filter { .. }
                | Step::Http {
                    connection: None, ..
                } => {}
            }
        }
        found
    }

    /// Renames the connections this definition uses, as `renamed` maps them (an
    /// import's mapping from the names on the exporting server to names here); names
    /// not in the map stay.
    pub fn rename_connections(&mut self, renamed: &BTreeMap<String, String>) {
        let rename = |connection: &mut String| {
            if let Some(new) = renamed.get(connection.as_str()) {
                connection.clone_from(new);
            }
        };
        match &mut self.trigger {
            Trigger::SqlPoll { connection, .. }
            | Trigger::Amqp { connection, .. }
            | Trigger::Nats { connection, .. }
            | Trigger::Redis { connection, .. }
            | Trigger::Mqtt { connection, .. } => rename(connection),
            Trigger::Webhook { .. } | Trigger::Timer { .. } | Trigger::Cron { .. } => {}
        }
        for step in &mut self.steps {
            match step {
                Step::Sql { connection, .. }
                | Step::Redis { connection, .. }
                | Step::NatsPublish { connection, .. }
                | Step::AmqpPublish { connection, .. }
                | Step::MqttPublish { connection, .. }
                | Step::Http {
                    connection: Some(connection),
                    ..
                } => rename(connection),
                Step::Log { .. }
                | Step::Transform { .. }
                | Step::Filter { .. }
                | Step::Http {
                    connection: None, ..
                } => {}
            }
        }
    }

    /// Checks what a definition asks of its connections against those there are
    /// (`kind_of` answers a connection's kind by name): each exists and is of the kind
    /// its step needs (a SQL database, or an HTTP service for an `http` step), and a
    /// statement's parameters match its placeholders where the dialect lets that be
    /// known. Parsing cannot, as it knows no connections.
    pub fn check_connections(
        &self,
        kind_of: &dyn Fn(&str) -> Option<super::connection::ConnectionKind>,
    ) -> Vec<FieldError> {
        let mut errors = Vec::new();
        use super::connection::ConnectionKind;
        // A step that needs one kind of connection: it exists and is of that kind.
        let mut expect =
            |at: String, connection: &str, wanted: ConnectionKind, what: &str| match kind_of(
                connection,
            ) {
                None => errors.push(FieldError::new(
                    at,
                    format!("no connection is named {connection:?}"),
                )),
                Some(kind) if kind == wanted => {}
                Some(kind) => errors.push(FieldError::new(
                    at,
                    format!("{connection:?} is a {kind} connection, not {what}"),
                )),
            };
        match &self.trigger {
            Trigger::Amqp { connection, .. } => expect(
                "trigger.connection".to_owned(),
                connection,
                ConnectionKind::Amqp,
                "RabbitMQ (AMQP)",
            ),
            Trigger::Nats { connection, .. } => expect(
                "trigger.connection".to_owned(),
                connection,
                ConnectionKind::Nats,
                "NATS",
            ),
            Trigger::Redis { connection, .. } => expect(
                "trigger.connection".to_owned(),
                connection,
                ConnectionKind::Redis,
                "Redis",
            ),
            Trigger::Mqtt { connection, .. } => expect(
                "trigger.connection".to_owned(),
                connection,
                ConnectionKind::Mqtt,
                "MQTT",
            ),
            Trigger::Webhook { .. }
            | Trigger::Timer { .. }
            | Trigger::Cron { .. }
            | Trigger::SqlPoll { .. } => {}
        }
        for (index, step) in self.steps.iter().enumerate() {
            let at = format!("steps[{index}].connection");
            match step {
                Step::Redis { connection, .. } => {
                    expect(at, connection, ConnectionKind::Redis, "Redis")
                }
                Step::NatsPublish { connection, .. } => {
                    expect(at, connection, ConnectionKind::Nats, "NATS")
                }
                Step::AmqpPublish { connection, .. } => {
                    expect(at, connection, ConnectionKind::Amqp, "RabbitMQ (AMQP)")
                }
                Step::MqttPublish { connection, .. } => {
                    expect(at, connection, ConnectionKind::Mqtt, "MQTT")
                }
                Step::Http {
                    connection: Some(connection),
                    ..
                } => expect(at, connection, ConnectionKind::Http, "an HTTP service"),
                Step::Log { .. }
                | Step::Transform { .. }
                | Step::Filter { .. }
                | Step::Http {
                    connection: None, ..
                }
                | Step::Sql { .. } => {}
            }
        }
        let mut check = |at: &str, connection: &str, query: &str, params: usize| {
            let path = |field: &str| format!("{at}.{field}");
            let Some(kind) = kind_of(connection) else {
                errors.push(FieldError::new(
                    path("connection"),
                    format!("no connection is named {connection:?}"),
                ));
                return;
            };
            let Some(dialect) = kind.sql_dialect() else {
                errors.push(FieldError::new(
                    path("connection"),
                    format!("{connection:?} is an {kind} connection, not a SQL database"),
                ));
                return;
            };
            if let Some(wanted) = super::connection::count_parameters(query, dialect)
                && wanted != params
            {
                errors.push(FieldError::new(
                    path("params"),
                    format!(
                        "the query takes {wanted} parameter{}, and {params} {} given",
                        if wanted == 1 { "" } else { "s" },
                        if params == 1 { "is" } else { "are" }
                    ),
                ));
            }
        };
        match &self.trigger {
            // The poll's one parameter is its cursor.
            Trigger::SqlPoll {
                connection, query, ..
            } => check("trigger", connection, query, 1),
            Trigger::Webhook { .. }
            | Trigger::Timer { .. }
            | Trigger::Cron { .. }
            | Trigger::Amqp { .. }
            | Trigger::Nats { .. }
            | Trigger::Redis { .. }
            | Trigger::Mqtt { .. } => {}
        }
        for (index, step) in self.steps.iter().enumerate() {
            match step {
                Step::Sql {
                    connection,
                    query,
                    params,
                    ..
                } => check(&format!("steps[{index}]"), connection, query, params.len()),
                Step::Log { .. }
                | Step::Transform { .. }
                | Step::Filter { .. }
                | Step::Http { .. }
                | Step::Redis { .. }
                | Step::NatsPublish { .. }
                | Step::AmqpPublish { .. }
                | Step::MqttPublish { .. } => {}
            }
        }
        errors
    }

    /// Where an edit sends back a masked secret, keeps the stored one: the editor never
    /// saw it, so it cannot mean to change it. Secrets are matched by the step's
    /// position and kind (and the header's name), so two steps with one URL keep their
    /// own, and editing a URL keeps the secret. A mask that matches no stored secret is
    /// an error at its field: the literal mask is never stored.
    pub fn unmask_from(&mut self, stored: &Definition) -> Result<(), Vec<FieldError>> {
        let mut errors = Errors::default();
        self.trigger.unmask_from(&stored.trigger, &mut errors);
        for (index, step) in self.steps.iter_mut().enumerate() {
            step.unmask_from(
                stored.steps.get(index),
                &format!("steps[{index}]"),
                &mut errors,
            );
        }
        match errors.0.is_empty() {
            true => Ok(()),
            false => Err(errors.0),
        }
    }

    /// The webhook path, for flows a webhook starts.
    pub fn webhook_path(&self) -> Option<&str> {
        self.trigger.webhook_path()
    }
}

impl<'de> Deserialize<'de> for Definition {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Definition::parse(&value).map_err(|errors| {
            serde::de::Error::custom(
                errors
                    .iter()
                    .map(|e| format!("{}: {}", e.path, e.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })
    }
}

#[derive(Default)]
struct Errors(Vec<FieldError>);

impl Errors {
    fn add(&mut self, path: &str, message: impl ToString) {
        self.0.push(FieldError::new(path, message));
    }
}

/// The fields of an object, checked for ones that have no meaning here.
struct Fields<'a> {
    path: String,
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    fn of(value: &'a Value, path: &str, what: &str, errors: &mut Errors) -> Option<Self> {
        match value.as_object() {
            Some(map) => Some(Self {
                path: path.to_owned(),
                map,
            }),
            None => {
                errors.add(path, format!("must be {what} (an object)"));
                None
            }
        }
    }

    fn at(&self, key: &str) -> String {
        // A key that is empty or holds a dot, a bracket or a space would make the path
        // ambiguous (or empty, which means the definition itself): it is quoted.
        let plain = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        match (self.path.is_empty(), plain) {
            (true, true) => key.to_owned(),
            (false, true) => format!("{}.{key}", self.path),
            (_, false) => format!("{}[{}]", self.path, Value::from(key)),
        }
    }

    fn only(&self, allowed: &[&str], errors: &mut Errors) {
        for key in self.map.keys() {
            if !allowed.contains(&key.as_str()) {
                errors.add(
                    &self.at(key),
                    format!("unknown field (expected one of: {})", allowed.join(", ")),
                );
            }
        }
    }

    fn required(&self, key: &str, errors: &mut Errors) -> Option<&'a Value> {
        let value = self.map.get(key);
        if value.is_none() {
            errors.add(&self.at(key), "is required");
        }
        value
    }

    fn text(&self, key: &str, errors: &mut Errors) -> Option<String> {
        let value = self.required(key, errors)?;
        match value.as_str() {
            Some(text) if text.chars().count() > MAX_TEXT_CHARS => {
                errors.add(
                    &self.at(key),
                    format!("is at most {MAX_TEXT_CHARS} characters"),
                );
                None
            }
            Some(text) => Some(text.to_owned()),
            None => {
                errors.add(&self.at(key), "must be a string");
                None
            }
        }
    }

    /// An optional true or false: false when absent.
    fn flag(&self, key: &str, errors: &mut Errors) -> Option<bool> {
        match self.map.get(key) {
            None | Some(Value::Null) => Some(false),
            Some(Value::Bool(flag)) => Some(*flag),
            Some(_) => {
                errors.add(&self.at(key), "must be true or false");
                None
            }
        }
    }

    /// An optional whole number in `range`: `default` when absent.
    fn number_or(
        &self,
        key: &str,
        range: std::ops::RangeInclusive<u64>,
        default: u64,
        errors: &mut Errors,
    ) -> Option<u64> {
        match self.map.get(key) {
            None | Some(Value::Null) => Some(default),
            Some(_) => self.whole_number(key, range, errors),
        }
    }

    fn whole_number(
        &self,
        key: &str,
        range: std::ops::RangeInclusive<u64>,
        errors: &mut Errors,
    ) -> Option<u64> {
        let value = self.required(key, errors)?;
        match value.as_u64() {
            Some(number) if range.contains(&number) => Some(number),
            _ => {
                errors.add(
                    &self.at(key),
                    format!(
                        "must be a whole number from {} to {}",
                        range.start(),
                        range.end()
                    ),
                );
                None
            }
        }
    }
}

fn parse_definition(value: &Value, errors: &mut Errors) -> Option<Definition> {
    let fields = Fields::of(value, "", "a definition", errors)?;
    fields.only(&["trigger", "steps"], errors);
    let trigger = fields
        .required("trigger", errors)
        .and_then(|trigger| parse_trigger(trigger, errors));
    let steps = match fields.map.get("steps") {
        None => Some(Vec::new()),
        Some(Value::Array(items)) => {
            if items.len() > MAX_STEPS {
                errors.add(
                    "steps",
                    format!("at most {MAX_STEPS} steps (there are {})", items.len()),
                );
            }
            let parsed: Vec<Option<Step>> = items
                .iter()
                .enumerate()
                .map(|(index, item)| parse_step(item, &format!("steps[{index}]"), errors))
                .collect();
            let steps: Option<Vec<Step>> = parsed.into_iter().collect();
            if let Some(steps) = &steps {
                let templates: usize = steps.iter().map(Step::templates).sum();
                if templates > MAX_TEMPLATES {
                    errors.add(
                        "steps",
                        format!(
                            "hold {templates} templates; a version holds at most {MAX_TEMPLATES}"
                        ),
                    );
                }
            }
            steps
        }
        Some(_) => {
            errors.add("steps", "must be a list of steps");
            None
        }
    };
    Some(Definition {
        trigger: trigger?,
        steps: steps?,
    })
}

fn parse_trigger(value: &Value, errors: &mut Errors) -> Option<Trigger> {
    let fields = Fields::of(value, "trigger", "a trigger", errors)?;
    let kind = fields.text("kind", errors)?;
    let Some(kind) = TriggerKind::parse(&kind) else {
        let known = TriggerKind::ALL.map(TriggerKind::as_str);
        errors.add(
            "trigger.kind",
            format!("unknown trigger {kind:?} (expected {})", one_of(&known)),
        );
        return None;
    };
    match kind {
        TriggerKind::Webhook => {
            fields.only(&["kind", "path", "auth"], errors);
            let auth = match fields.map.get("auth") {
                None | Some(Value::Null) => Some(None),
                Some(auth) => parse_webhook_auth(auth, errors).map(Some),
            };
            let path = fields.text("path", errors)?;
            let valid = (1..=64).contains(&path.len())
                && path
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !valid {
                errors.add(
                    "trigger.path",
                    "must be 1 to 64 characters from a-z, 0-9 and -",
                );
                return None;
            }
            Some(Trigger::Webhook { path, auth: auth? })
        }
        TriggerKind::Timer => {
            fields.only(&["kind", "every_seconds"], errors);
            let every_seconds =
                fields.whole_number("every_seconds", 1..=MAX_TIMER_SECONDS, errors)?;
            Some(Trigger::Timer { every_seconds })
        }
        TriggerKind::Cron => {
            fields.only(&["kind", "schedule", "time_zone"], errors);
            let schedule = fields.text("schedule", errors).and_then(|schedule| {
                let valid = !schedule.trim().is_empty() && schedule.len() <= MAX_SCHEDULE_CHARS;
                if !valid {
                    errors.add(
                        "trigger.schedule",
                        format!(
                            "must be a cron expression of 1 to {MAX_SCHEDULE_CHARS} characters"
                        ),
                    );
                }
                valid.then(|| schedule.trim().to_owned())
            });
            let time_zone = match fields.map.get("time_zone") {
                None | Some(Value::Null) => Some("UTC".to_owned()),
                Some(_) => fields.text("time_zone", errors).and_then(|zone| {
                    let valid = (1..=64).contains(&zone.len())
                        && zone
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"/_+-".contains(&b));
                    if !valid {
                        errors.add(
                            "trigger.time_zone",
                            "must be a time zone's name, e.g. Europe/Berlin or UTC",
                        );
                    }
                    valid.then_some(zone)
                }),
            };
            Some(Trigger::Cron {
                schedule: schedule?,
                time_zone: time_zone?,
            })
        }
        TriggerKind::SqlPoll => {
            fields.only(
                &[
                    "kind",
                    "connection",
                    "query",
                    "cursor",
                    "every_seconds",
                    "start",
                ],
                errors,
            );
            let connection = connection_name(&fields, errors);
            let query = sql_text(&fields, errors);
            let cursor = fields.text("cursor", errors).and_then(|cursor| {
                let valid = (1..=64).contains(&cursor.len())
                    && cursor
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_');
                if !valid {
                    errors.add(
                        "trigger.cursor",
                        "must be a column name: 1 to 64 characters from a-z, 0-9 and _",
                    );
                }
                valid.then_some(cursor)
            });
            let every_seconds = fields.whole_number("every_seconds", 1..=MAX_TIMER_SECONDS, errors);
            let start = match fields.map.get("start") {
                None => Some(Value::Null),
                Some(
                    value @ (Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_)),
                ) => Some(value.clone()),
                Some(_) => {
                    errors.add(
                        "trigger.start",
                        "must be a number, a string, true, false or null",
                    );
                    None
                }
            };
            Some(Trigger::SqlPoll {
                connection: connection?,
                query: query?,
                cursor: cursor?,
                every_seconds: every_seconds?,
                start: start?,
            })
        }
        TriggerKind::Amqp => {
            fields.only(
                &[
                    "kind",
                    "connection",
                    "queue",
                    "declare",
                    "prefetch",
                    "dead_letter_exchange",
                    "max_redeliveries",
                ],
                errors,
            );
            let connection = connection_name(&fields, errors);
            let queue = amqp_name(&fields, "queue", false, errors);
            let declare = fields.flag("declare", errors);
            let prefetch = fields.number_or("prefetch", 1..=MAX_PREFETCH, 10, errors);
            let dead_letter_exchange = match fields.map.get("dead_letter_exchange") {
                None | Some(Value::Null) => Some(None),
                Some(_) => amqp_name(&fields, "dead_letter_exchange", false, errors).map(Some),
            };
            let max_redeliveries =
                fields.number_or("max_redeliveries", 0..=MAX_REDELIVERIES, 5, errors);
            Some(Trigger::Amqp {
                connection: connection?,
                queue: queue?,
                declare: declare?,
                prefetch: u16::try_from(prefetch?).ok()?,
                dead_letter_exchange: dead_letter_exchange?,
                max_redeliveries: u32::try_from(max_redeliveries?).ok()?,
            })
        }
        TriggerKind::Mqtt => {
            fields.only(&["kind", "connection", "topic", "qos"], errors);
            let connection = connection_name(&fields, errors);
            let topic = fields.text("topic", errors).and_then(|topic| {
                let valid = (1..=1024).contains(&topic.len())
                    && !topic.chars().any(char::is_control)
                    && topic.split('/').enumerate().all(|(at, level)| match level {
                        "#" => at == topic.split('/').count() - 1,
                        "+" => true,
                        level => !level.contains(['#', '+']),
                    });
                if !valid {
                    errors.add(
                        &fields.at("topic"),
                        "must be a topic filter: levels split by /, + for one level, # last \
                         for the rest",
                    );
                }
                valid.then_some(topic)
            });
            let qos = fields.number_or("qos", 0..=1, 1, errors);
            Some(Trigger::Mqtt {
                connection: connection?,
                topic: topic?,
                qos: u8::try_from(qos?).ok()?,
            })
        }
        TriggerKind::Redis => {
            fields.only(
                &[
                    "kind",
                    "connection",
                    "stream",
                    "group",
                    "channel",
                    "prefetch",
                    "max_redeliveries",
                ],
                errors,
            );
            let connection = connection_name(&fields, errors);
            let key = |key: &str, errors: &mut Errors| match fields.map.get(key) {
                None | Some(Value::Null) => Some(None),
                Some(_) => fields.text(key, errors).and_then(|name| {
                    let valid =
                        (1..=512).contains(&name.len()) && !name.chars().any(|c| c.is_control());
                    if !valid {
                        errors.add(
                            &fields.at(key),
                            "must be a name of 1 to 512 bytes, without control characters",
                        );
                    }
                    valid.then_some(Some(name))
                }),
            };
            let stream = key("stream", errors);
            let group = key("group", errors);
            let channel = key("channel", errors);
            let prefetch = fields.number_or("prefetch", 1..=MAX_PREFETCH, 10, errors);
            let max_redeliveries =
                fields.number_or("max_redeliveries", 0..=MAX_REDELIVERIES, 5, errors);
            let (stream, group, channel) = (stream?, group?, channel?);
            match (&stream, &group, &channel) {
                (Some(_), Some(_), None) | (None, None, Some(_)) => {}
                _ => {
                    errors.add(
                        "trigger",
                        "a Redis trigger reads a stream with a consumer group (stream and \
                         group), or a pub/sub channel (channel alone)",
                    );
                    return None;
                }
            }
            Some(Trigger::Redis {
                connection: connection?,
                stream,
                group,
                channel,
                prefetch: u16::try_from(prefetch?).ok()?,
                max_redeliveries: u32::try_from(max_redeliveries?).ok()?,
            })
        }
        TriggerKind::Nats => {
            fields.only(
                &[
                    "kind",
                    "connection",
                    "subject",
                    "stream",
                    "durable",
                    "prefetch",
                    "max_redeliveries",
                ],
                errors,
            );
            let connection = connection_name(&fields, errors);
            let subject = nats_subject(&fields, errors);
            let stream = jetstream_name(&fields, "stream", errors);
            let durable = jetstream_name(&fields, "durable", errors);
            if let (Some(stream), Some(durable)) = (&stream, &durable)
                && stream.is_some() != durable.is_some()
            {
                errors.add(
                    &fields.at("durable"),
                    "JetStream takes both a stream and a durable consumer's name; core NATS neither",
                );
                return None;
            }
            let prefetch = fields.number_or("prefetch", 1..=MAX_PREFETCH, 10, errors);
            let max_redeliveries =
                fields.number_or("max_redeliveries", 0..=MAX_REDELIVERIES, 5, errors);
            Some(Trigger::Nats {
                connection: connection?,
                subject: subject?,
                stream: stream?,
                durable: durable?,
                prefetch: u16::try_from(prefetch?).ok()?,
                max_redeliveries: u32::try_from(max_redeliveries?).ok()?,
            })
        }
    }
}

/// Where a publish step sends (a subject, a topic, a routing key): a template of
/// `chars` characters without control characters. Spaces may sit inside `{{ }}`; what
/// it renders to is checked when the message goes.
fn destination(
    fields: &Fields<'_>,
    key: &str,
    chars: std::ops::RangeInclusive<usize>,
    what: &str,
    errors: &mut Errors,
) -> Option<String> {
    let text = fields.text(key, errors)?;
    let valid = chars.contains(&text.trim().chars().count()) && !text.chars().any(char::is_control);
    if !valid {
        errors.add(
            &fields.at(key),
            format!(
                "must be {what} of {} to {} characters (a template)",
                chars.start(),
                chars.end()
            ),
        );
    }
    valid.then_some(text)
}

/// A NATS subject a trigger listens on: tokens of printable characters without
/// spaces, separated by dots, with `*` and a last `>` as wildcards.
fn nats_subject(fields: &Fields<'_>, errors: &mut Errors) -> Option<String> {
    let subject = fields.text("subject", errors)?;
    let valid = (1..=255).contains(&subject.len())
        && subject.split('.').all(|token| {
            !token.is_empty() && !token.chars().any(|c| c.is_whitespace() || c.is_control())
        });
    if !valid {
        errors.add(
            &fields.at("subject"),
            "must be a subject of 1 to 255 characters: dot-separated tokens without spaces \
             (* and a last > are wildcards)",
        );
    }
    valid.then_some(subject)
}

/// A JetStream stream's or consumer's name: letters, digits, - and _.
fn jetstream_name(fields: &Fields<'_>, key: &str, errors: &mut Errors) -> Option<Option<String>> {
    match fields.map.get(key) {
        None | Some(Value::Null) => Some(None),
        Some(_) => {
            let name = fields.text(key, errors)?;
            let valid = (1..=64).contains(&name.len())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !valid {
                errors.add(
                    &fields.at(key),
                    "must be a name of 1 to 64 characters from letters, digits, - and _",
                );
            }
            valid.then_some(Some(name))
        }
    }
}

/// A queue's or an exchange's name (`allow_empty`: the default exchange, `""`): at most
/// 255 bytes, which is what AMQP carries, and no control characters.
fn amqp_name(
    fields: &Fields<'_>,
    key: &str,
    allow_empty: bool,
    errors: &mut Errors,
) -> Option<String> {
    let name = fields.text(key, errors)?;
    let valid = (name.len() <= 255)
        && (allow_empty || !name.is_empty())
        && !name.chars().any(char::is_control);
    if !valid {
        errors.add(
            &fields.at(key),
            format!(
                "must be a name of {} to 255 bytes, without control characters",
                if allow_empty { 0 } else { 1 }
            ),
        );
    }
    valid.then_some(name)
}

/// A connection's name, as a step or trigger refers to it.
fn connection_name(fields: &Fields<'_>, errors: &mut Errors) -> Option<String> {
    let name = fields.text("connection", errors)?;
    match super::connection::ConnectionName::parse(&name) {
        Ok(_) => Some(name),
        Err(why) => {
            errors.add(&fields.at("connection"), why);
            None
        }
    }
}

/// A SQL statement: not empty, at most [`MAX_QUERY_CHARS`].
fn sql_text(fields: &Fields<'_>, errors: &mut Errors) -> Option<String> {
    let value = fields.required("query", errors)?;
    match value.as_str() {
        Some(query) if query.trim().is_empty() => {
            errors.add(&fields.at("query"), "must not be empty");
            None
        }
        Some(query) if query.chars().count() > MAX_QUERY_CHARS => {
            errors.add(
                &fields.at("query"),
                format!("is at most {MAX_QUERY_CHARS} characters"),
            );
            None
        }
        Some(query) => Some(query.to_owned()),
        None => {
            errors.add(&fields.at("query"), "must be a string");
            None
        }
    }
}

fn parse_webhook_auth(value: &Value, errors: &mut Errors) -> Option<WebhookAuth> {
    let fields = Fields::of(value, "trigger.auth", "a webhook's secret", errors)?;
    let scheme = fields.text("scheme", errors)?;
    let secret = |errors: &mut Errors| {
        let secret = fields.text("secret", errors)?;
        let chars = secret.chars().count();
        if secret != MASK && !WEBHOOK_SECRET_CHARS.contains(&chars) {
            errors.add(
                "trigger.auth.secret",
                format!(
                    "must be {} to {} characters",
                    WEBHOOK_SECRET_CHARS.start(),
                    WEBHOOK_SECRET_CHARS.end()
                ),
            );
            return None;
        }
        Some(secret)
    };
    match scheme.as_str() {
        "bearer" => {
            fields.only(&["scheme", "secret"], errors);
            Some(WebhookAuth::Bearer {
                secret: secret(errors)?,
            })
        }
        "hmac_sha256" => {
            fields.only(&["scheme", "header", "secret"], errors);
            let header = fields.text("header", errors)?.trim().to_ascii_lowercase();
            let valid = (1..=64).contains(&header.len())
                && header
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !valid {
                errors.add(
                    "trigger.auth.header",
                    "must be a header name: 1 to 64 characters from a-z, 0-9 and -",
                );
            }
            let secret = secret(errors)?;
            valid.then_some(WebhookAuth::HmacSha256 { header, secret })
        }
        other => {
            errors.add(
                "trigger.auth.scheme",
                format!("unknown scheme {other:?} (expected bearer or hmac_sha256)"),
            );
            None
        }
    }
}

fn parse_step(value: &Value, path: &str, errors: &mut Errors) -> Option<Step> {
    let fields = Fields::of(value, path, "a step", errors)?;
    let kind = fields.text("kind", errors)?;
    let Some(kind) = StepKind::parse(&kind) else {
        let known = StepKind::ALL.map(StepKind::as_str);
        errors.add(
            &fields.at("kind"),
            format!("unknown step {kind:?} (expected {})", one_of(&known)),
        );
        return None;
    };
    match kind {
        StepKind::Log => {
            fields.only(&["kind", "message"], errors);
            Some(Step::Log {
                message: fields.text("message", errors)?,
            })
        }
        StepKind::Transform => {
            fields.only(&["kind", "template"], errors);
            let template = fields.required("template", errors)?;
            if template.is_null() {
                errors.add(&fields.at("template"), "must not be null");
                return None;
            }
            let bytes = template.to_string().len();
            if bytes > MAX_TEMPLATE_BYTES {
                errors.add(
                    &fields.at("template"),
                    format!("is {bytes} bytes; a template is at most {MAX_TEMPLATE_BYTES}"),
                );
                return None;
            }
            Some(Step::Transform {
                template: template.clone(),
            })
        }
        StepKind::Filter => {
            fields.only(&["kind", "condition"], errors);
            let condition = fields.text("condition", errors)?;
            if condition.trim().is_empty() {
                errors.add(&fields.at("condition"), "must not be empty");
                return None;
            }
            Some(Step::Filter { condition })
        }
        StepKind::Http => {
            fields.only(
                &[
                    "kind",
                    "method",
                    "url",
                    "headers",
                    "timeout_seconds",
                    "connection",
                ],
                errors,
            );
            let connection = match fields.map.get("connection") {
                None | Some(Value::Null) => Some(None),
                Some(_) => connection_name(&fields, errors).map(Some),
            };
            let relative = matches!(connection, Some(Some(_)));
            let method = fields.text("method", errors).and_then(|method| {
                let found = HttpMethod::ALL
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(&method))
                    .map(|(_, method)| *method);
                if found.is_none() {
                    errors.add(
                        &fields.at("method"),
                        "must be one of GET, POST, PUT, PATCH, DELETE",
                    );
                }
                found
            });
            let url = fields.text("url", errors).and_then(|url| {
                let path = url.starts_with('/') && !url.chars().any(char::is_whitespace);
                match (relative, path || url.is_empty(), is_http_url(&url)) {
                    (true, true, _) => Some(url),
                    (true, false, _) => {
                        errors.add(
                            &fields.at("url"),
                            "with a connection, the URL is a path under its base URL (/orders)",
                        );
                        None
                    }
                    (false, _, true) => Some(url),
                    (false, _, false) => {
                        errors.add(&fields.at("url"), "not an http(s) URL");
                        None
                    }
                }
            });
            let headers = match fields.map.get("headers") {
                None => Some(BTreeMap::new()),
                Some(value) => parse_headers(value, &fields.at("headers"), errors),
            };
            let timeout_seconds = match fields.map.get("timeout_seconds") {
                None => Some(None),
                Some(_) => fields
                    .whole_number("timeout_seconds", 1..=MAX_HTTP_TIMEOUT_SECONDS, errors)
                    .map(Some),
            };
            Some(Step::Http {
                method: method?,
                url: url?,
                connection: connection?,
                headers: headers?,
                timeout_seconds: timeout_seconds?,
            })
        }
        StepKind::MqttPublish => {
            fields.only(&["kind", "connection", "topic", "qos", "retain"], errors);
            let connection = connection_name(&fields, errors);
            let topic = destination(&fields, "topic", 1..=1024, "a topic", errors);
            let qos = fields.number_or("qos", 0..=1, 1, errors);
            let retain = fields.flag("retain", errors);
            Some(Step::MqttPublish {
                connection: connection?,
                topic: topic?,
                qos: u8::try_from(qos?).ok()?,
                retain: retain?,
            })
        }
        StepKind::AmqpPublish => {
            fields.only(&["kind", "connection", "exchange", "routing_key"], errors);
            let connection = connection_name(&fields, errors);
            let exchange = amqp_name(&fields, "exchange", true, errors);
            let routing_key =
                destination(&fields, "routing_key", 0..=1024, "a routing key", errors);
            Some(Step::AmqpPublish {
                connection: connection?,
                exchange: exchange?,
                routing_key: routing_key?,
            })
        }
        StepKind::NatsPublish => {
            fields.only(&["kind", "connection", "subject", "jetstream"], errors);
            let connection = connection_name(&fields, errors);
            let subject = destination(&fields, "subject", 1..=255, "a subject", errors);
            let jetstream = match fields.map.get("jetstream") {
                None | Some(Value::Null) => Some(false),
                Some(Value::Bool(jetstream)) => Some(*jetstream),
                Some(_) => {
                    errors.add(&fields.at("jetstream"), "must be true or false");
                    None
                }
            };
            Some(Step::NatsPublish {
                connection: connection?,
                subject: subject?,
                jetstream: jetstream?,
            })
        }
        StepKind::Redis => {
            fields.only(
                &["kind", "connection", "command", "args", "expire_seconds"],
                errors,
            );
            let connection = connection_name(&fields, errors);
            let command = fields.text("command", errors).and_then(|command| {
                let found = RedisCommand::ALL
                    .into_iter()
                    .find(|known| known.as_str().eq_ignore_ascii_case(command.trim()));
                if found.is_none() {
                    let known: Vec<&str> = RedisCommand::ALL.iter().map(|c| c.as_str()).collect();
                    errors.add(
                        &fields.at("command"),
                        format!("must be one of {}", known.join(", ")),
                    );
                }
                found
            });
            let args = match fields.map.get("args") {
                Some(Value::Array(args)) if args.len() <= MAX_PARAMS => Some(args.clone()),
                _ => {
                    errors.add(
                        &fields.at("args"),
                        format!(
                            "must be a list of up to {MAX_PARAMS} values (strings are templates)"
                        ),
                    );
                    None
                }
            };
            if let (Some(command), Some(args)) = (command, &args)
                && let Err(takes) = command.takes(args.len())
            {
                errors.add(
                    &fields.at("args"),
                    format!("{} takes {takes}", command.as_str()),
                );
            }
            let expire_seconds = match (fields.map.get("expire_seconds"), command) {
                (None, _) => Some(None),
                (Some(_), Some(RedisCommand::Set)) => fields
                    .whole_number("expire_seconds", 1..=31_536_000, errors)
                    .map(Some),
                (Some(_), _) => {
                    errors.add(&fields.at("expire_seconds"), "is for SET only");
                    None
                }
            };
            Some(Step::Redis {
                connection: connection?,
                command: command?,
                args: args?,
                expire_seconds: expire_seconds?,
            })
        }
        StepKind::Sql => {
            fields.only(
                &[
                    "kind",
                    "connection",
                    "query",
                    "params",
                    "timeout_seconds",
                    "max_rows",
                ],
                errors,
            );
            let connection = connection_name(&fields, errors);
            let query = sql_text(&fields, errors);
            let params = match fields.map.get("params") {
                None => Some(Vec::new()),
                Some(Value::Array(params)) if params.len() > MAX_PARAMS => {
                    errors.add(
                        &fields.at("params"),
                        format!(
                            "at most {MAX_PARAMS} parameters (there are {})",
                            params.len()
                        ),
                    );
                    None
                }
                Some(Value::Array(params)) => {
                    let long = params
                        .iter()
                        .position(|p| p.to_string().len() > MAX_TEMPLATE_BYTES);
                    match long {
                        Some(index) => {
                            errors.add(
                                &format!("{}[{index}]", fields.at("params")),
                                format!("is at most {MAX_TEMPLATE_BYTES} bytes"),
                            );
                            None
                        }
                        None => Some(params.clone()),
                    }
                }
                Some(_) => {
                    errors.add(
                        &fields.at("params"),
                        "must be a list of values (strings are templates)",
                    );
                    None
                }
            };
            let timeout_seconds = match fields.map.get("timeout_seconds") {
                None => Some(None),
                Some(_) => fields
                    .whole_number("timeout_seconds", 1..=MAX_HTTP_TIMEOUT_SECONDS, errors)
                    .map(Some),
            };
            let max_rows = match fields.map.get("max_rows") {
                None => Some(None),
                Some(_) => fields
                    .whole_number("max_rows", 1..=MAX_ROWS_LIMIT, errors)
                    .map(Some),
            };
            Some(Step::Sql {
                connection: connection?,
                query: query?,
                params: params?,
                timeout_seconds: timeout_seconds?,
                max_rows: max_rows?,
            })
        }
    }
}

fn parse_headers(
    value: &Value,
    path: &str,
    errors: &mut Errors,
) -> Option<BTreeMap<String, String>> {
    let Some(map) = value.as_object() else {
        errors.add(path, "must be an object of header names to values");
        return None;
    };
    let mut headers = BTreeMap::new();
    let mut ok = true;
    for (name, value) in map {
        let token = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !token {
            errors.add(&format!("{path}.{name}"), "not a valid header name");
            ok = false;
            continue;
        }
        if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            errors.add(
                &format!("{path}.{name}"),
                "is set by Junction for each request (a framing or hop-by-hop header)",
            );
            ok = false;
            continue;
        }
        match value.as_str() {
            Some(text) if !text.contains(['\r', '\n']) => {
                headers.insert(name.to_ascii_lowercase(), text.to_owned());
            }
            Some(_) => {
                errors.add(&format!("{path}.{name}"), "must not contain line breaks");
                ok = false;
            }
            None => {
                errors.add(&format!("{path}.{name}"), "must be a string");
                ok = false;
            }
        }
    }
    ok.then_some(headers)
}

/// Headers a step may not set: they frame the request or belong to one connection,
/// and setting them could split or smuggle requests.
const RESERVED_HEADERS: [&str; 9] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-connection",
];

/// `http://host...` or `https://host...` with a non-empty host and no white space.
fn is_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(rest) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            let host = host.rsplit('@').next().unwrap_or("");
            !host.is_empty() && !host.starts_with(':') && !url.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors_of(value: Value) -> Vec<String> {
        Definition::parse(&value)
            .unwrap_err()
            .into_iter()
            .map(|e| format!("{}: {}", e.path, e.message))
            .collect()
    }

    #[test]
    fn the_specifications_example_parses() {
        let value = json!({
            "trigger": { "kind": "webhook", "path": "orders" },
            "steps": [
                { "kind": "filter", "condition": "body.qty > 0" },
                { "kind": "transform", "template": { "id": "{{ body.id }}", "total": "{{ body.qty * body.price }}" } },
                { "kind": "log", "message": "order {{ body.id }} totals {{ body.total }}" },
                { "kind": "http", "method": "POST", "url": "http://127.0.0.1:9000/orders",
                  "headers": { "x-api-key": "secret" } }
            ]
        });
        let definition = Definition::parse(&value).unwrap();
        assert_eq!(definition.steps.len(), 4);
        assert_eq!(definition.to_value(), value, "the JSON form round-trips");
    }

    #[test]
    fn an_http_step_through_a_connection_takes_a_path_and_only_an_http_connection() {
        use crate::domain::connection::ConnectionKind;
        let through = |url: &str, connection: &str| {
            json!({"trigger": {"kind": "webhook", "path": "a"},
                   "steps": [{"kind": "http", "method": "POST", "url": url, "connection": connection}]})
        };
        assert_eq!(
            errors_of(through("https://elsewhere.example/x", "crm")),
            ["steps[0].url: with a connection, the URL is a path under its base URL (/orders)"]
        );
        let definition = Definition::parse(&through("/contacts", "crm")).unwrap();
        assert_eq!(
            definition.connections(),
            [("steps[0].connection".to_owned(), "crm")]
        );
        let kinds = |name: &str| match name {
            "crm" => Some(ConnectionKind::Http),
            _ => Some(ConnectionKind::Postgres),
        };
        assert!(definition.check_connections(&kinds).is_empty());
        let wrong = Definition::parse(&through("/contacts", "orders-db")).unwrap();
        assert_eq!(
            wrong.check_connections(&kinds)[0].message,
            "\"orders-db\" is a postgres connection, not an HTTP service"
        );
    }

    #[test]
    fn a_redis_step_takes_the_arguments_its_command_needs() {
        let redis = |command: &str, args: Value, expire: Option<u64>| {
            let mut step =
                json!({"kind": "redis", "connection": "cache", "command": command, "args": args});
            if let Some(expire) = expire {
                step["expire_seconds"] = json!(expire);
            }
            json!({"trigger": {"kind": "webhook", "path": "a"}, "steps": [step]})
        };
        assert!(Definition::parse(&redis("set", json!(["k", "{{ body }}"]), Some(60))).is_ok());
        assert_eq!(
            errors_of(redis("XADD", json!(["stream", "field"]), None)),
            ["steps[0].args: XADD takes the stream, then fields and values in pairs"]
        );
        assert_eq!(
            errors_of(redis("GET", json!(["k"]), Some(5))),
            ["steps[0].expire_seconds: is for SET only"]
        );
        assert_eq!(
            errors_of(redis("FLUSHALL", json!([]), None)),
            ["steps[0].command: must be one of GET, SET, XADD, PUBLISH, LPUSH, INCR"]
        );
    }

    #[test]
    fn a_timer_runs_every_1_to_86400_seconds() {
        assert!(
            Definition::parse(&json!({"trigger": {"kind": "timer", "every_seconds": 86400}}))
                .is_ok()
        );
        assert_eq!(
            errors_of(json!({"trigger": {"kind": "timer", "every_seconds": 0}})),
            ["trigger.every_seconds: must be a whole number from 1 to 86400"]
        );
    }

    #[test]
    fn a_webhook_path_is_a_lower_case_slug() {
        assert_eq!(
            errors_of(json!({"trigger": {"kind": "webhook", "path": "Orders/new"}})),
            ["trigger.path: must be 1 to 64 characters from a-z, 0-9 and -"]
        );
    }

    #[test]
    fn an_amqp_trigger_takes_defaults_and_names_what_is_wrong() {
        let parsed = Definition::parse(&json!({
            "trigger": { "kind": "amqp", "connection": "rabbit", "queue": "orders" },
            "steps": []
        }))
        .unwrap();
        assert_eq!(
            parsed.trigger,
            Trigger::Amqp {
                connection: "rabbit".into(),
                queue: "orders".into(),
                declare: false,
                prefetch: 10,
                dead_letter_exchange: None,
                max_redeliveries: 5,
            }
        );
        assert_eq!(
            errors_of(json!({"trigger": {
                "kind": "amqp", "connection": "rabbit", "queue": "",
                "prefetch": 0, "max_redeliveries": 1000, "declare": "yes"
            }})),
            [
                "trigger.queue: must be a name of 1 to 255 bytes, without control characters",
                "trigger.declare: must be true or false",
                "trigger.prefetch: must be a whole number from 1 to 1000",
                "trigger.max_redeliveries: must be a whole number from 0 to 100",
            ]
        );
    }

    #[test]
    fn an_amqp_publish_step_may_use_the_default_exchange() {
        let step = json!({ "kind": "amqp_publish", "connection": "rabbit", "exchange": "",
                           "routing_key": "orders.{{ body.region }}" });
        let parsed = Definition::parse(
            &json!({ "trigger": { "kind": "webhook", "path": "p" }, "steps": [step] }),
        )
        .unwrap();
        assert_eq!(parsed.to_value()["steps"][0], step);
    }

    #[test]
    fn consumers_run_on_every_server_where_the_broker_shares_the_work() {
        // One row per kind of trigger (and mode): where its messages are taken.
        let table = [
            (
                json!({ "kind": "webhook", "path": "p" }),
                Consumers::EveryServer,
            ),
            (
                json!({ "kind": "timer", "every_seconds": 5 }),
                Consumers::LeaseHolder,
            ),
            (
                json!({ "kind": "cron", "schedule": "* * * * *" }),
                Consumers::LeaseHolder,
            ),
            (
                json!({ "kind": "sql_poll", "connection": "db", "query": "SELECT 1",
                        "cursor": "id", "every_seconds": 5 }),
                Consumers::LeaseHolder,
            ),
            (
                json!({ "kind": "amqp", "connection": "rabbit", "queue": "q" }),
                Consumers::EveryServer,
            ),
            (
                json!({ "kind": "nats", "connection": "bus", "subject": "orders.>" }),
                Consumers::LeaseHolder,
            ),
            (
                json!({ "kind": "nats", "connection": "bus", "subject": "orders.>",
                        "stream": "ORDERS", "durable": "junction" }),
                Consumers::EveryServer,
            ),
            (
                json!({ "kind": "mqtt", "connection": "mosquitto", "topic": "sensors/#" }),
                Consumers::LeaseHolder,
            ),
            (
                json!({ "kind": "redis", "connection": "cache", "channel": "orders" }),
                Consumers::LeaseHolder,
            ),
            (
                json!({ "kind": "redis", "connection": "cache", "stream": "orders",
                        "group": "junction" }),
                Consumers::EveryServer,
            ),
        ];
        let mut kinds = std::collections::HashSet::new();
        for (trigger, consumers) in table {
            let parsed = Definition::parse(&json!({ "trigger": trigger, "steps": [] })).unwrap();
            kinds.insert(parsed.trigger.kind());
            assert_eq!(parsed.trigger.consumers(), consumers, "{trigger}");
        }
        assert_eq!(
            kinds.len(),
            TriggerKind::ALL.len(),
            "every kind is in the table"
        );
    }

    #[test]
    fn every_problem_is_reported_with_its_location() {
        let errors = errors_of(json!({
            "trigger": { "kind": "webhook", "path": "ok" },
            "steps": [
                { "kind": "log", "message": "fine" },
                { "kind": "filter" },
                { "kind": "http", "method": "POST", "url": "ftp://example.com" },
                { "kind": "teleport" }
            ],
            "colour": "blue"
        }));
        assert_eq!(
            errors,
            [
                "colour: unknown field (expected one of: trigger, steps)",
                "steps[1].condition: is required",
                "steps[2].url: not an http(s) URL",
                "steps[3].kind: unknown step \"teleport\" (expected log, transform, filter, http, sql, redis, nats_publish, amqp_publish or mqtt_publish)",
            ]
        );
    }

    #[test]
    fn unknown_fields_in_a_step_are_errors_not_dropped() {
        assert_eq!(
            errors_of(json!({"trigger": {"kind": "webhook", "path": "a"},
                             "steps": [{"kind": "log", "message": "m", "level": "debug"}]})),
            ["steps[0].level: unknown field (expected one of: kind, message)"]
        );
    }

    #[test]
    fn at_most_50_steps() {
        let steps: Vec<Value> = (0..51)
            .map(|_| json!({"kind": "log", "message": "m"}))
            .collect();
        assert_eq!(
            errors_of(json!({"trigger": {"kind": "webhook", "path": "a"}, "steps": steps})),
            ["steps: at most 50 steps (there are 51)"]
        );
    }

    #[test]
    fn invalid_json_text_is_named_as_such() {
        let errors = Definition::parse_str("{ not json").unwrap_err();
        assert_eq!(errors[0].path, "definition");
        assert!(errors[0].message.starts_with("not valid JSON"));
    }

    #[test]
    fn header_values_are_masked_and_an_unchanged_mask_keeps_the_secret() {
        let stored = Definition::parse(&json!({"trigger": {"kind": "webhook", "path": "a"},
            "steps": [{"kind": "http", "method": "POST", "url": "http://h/x", "headers": {"x-api-key": "s3cret"}}]})).unwrap();
        let shown = stored.masked();
        assert!(!shown.canonical_json().contains("s3cret"));

        let mut edited = shown.clone();
        edited.unmask_from(&stored).unwrap();

        assert_eq!(edited, stored);
    }

    fn http_step(url: &str, key: &str) -> Value {
        json!({"kind": "http", "method": "POST", "url": url, "headers": {"x-api-key": key}})
    }

    fn two_http_steps(first: (&str, &str), second: (&str, &str)) -> Definition {
        Definition::parse(&json!({"trigger": {"kind": "webhook", "path": "a"},
            "steps": [http_step(first.0, first.1), http_step(second.0, second.1)]}))
        .unwrap()
    }

    #[test]
    fn two_http_steps_with_one_url_keep_their_own_secrets() {
        let stored = two_http_steps(("http://h/x", "first"), ("http://h/x", "second"));

        let mut edited = stored.masked();
        edited.unmask_from(&stored).unwrap();

        assert_eq!(edited, stored);
    }

    #[test]
    fn editing_a_url_keeps_the_secret_and_never_stores_the_mask() {
        let stored = two_http_steps(("http://h/x", "first"), ("http://h/y", "second"));
        let mut edited = stored.masked();
        if let Step::Http { url, .. } = &mut edited.steps[0] {
            *url = "http://h/changed".into();
        }

        edited.unmask_from(&stored).unwrap();

        assert!(!edited.canonical_json().contains(MASK));
        assert_eq!(
            edited.canonical_json(),
            two_http_steps(("http://h/changed", "first"), ("http://h/y", "second"))
                .canonical_json()
        );
    }

    #[test]
    fn a_mask_with_no_secret_at_its_place_is_refused() {
        let stored = Definition::parse(&json!({"trigger": {"kind": "webhook", "path": "a"},
            "steps": [{"kind": "log", "message": "m"}]}))
        .unwrap();
        let mut edited = two_http_steps(("http://h/x", MASK), ("http://h/y", "typed"));

        let errors = edited.unmask_from(&stored).unwrap_err();

        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].path, "steps[0].headers.x-api-key");
    }

    #[test]
    fn every_kind_reads_back_from_its_own_name() {
        for kind in StepKind::ALL {
            assert_eq!(StepKind::parse(kind.as_str()), Some(kind));
        }
        for kind in TriggerKind::ALL {
            assert_eq!(TriggerKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(StepKind::parse("teleport"), None);
    }

    #[test]
    fn a_starter_definition_has_a_webhook_named_after_the_integration() {
        let starter = Definition::starter("Order Sync — EU!");
        assert_eq!(starter.webhook_path(), Some("order-sync-eu"));
        assert!(Definition::parse(&starter.to_value()).is_ok());
    }

    #[test]
    fn the_canonical_form_does_not_depend_on_key_order() {
        let a = Definition::parse(
            &serde_json::from_str(r#"{"steps":[],"trigger":{"path":"a","kind":"webhook"}}"#)
                .unwrap(),
        )
        .unwrap();
        let b =
            Definition::parse(&json!({"trigger": {"kind": "webhook", "path": "a"}, "steps": []}))
                .unwrap();
        assert_eq!(a.canonical_json(), b.canonical_json());
    }

    fn guarded(auth: Value) -> Result<Definition, Vec<FieldError>> {
        Definition::parse(&json!({
            "trigger": { "kind": "webhook", "path": "in", "auth": auth },
            "steps": []
        }))
    }

    #[test]
    fn a_webhook_may_require_a_bearer_secret_or_a_signature_in_a_named_header() {
        let bearer = guarded(json!({ "scheme": "bearer", "secret": "s".repeat(16) })).unwrap();
        let signed = guarded(json!({
            "scheme": "hmac_sha256", "header": "X-Hub-Signature-256", "secret": "s".repeat(16)
        }))
        .unwrap();
        assert!(matches!(
            bearer.trigger,
            Trigger::Webhook {
                auth: Some(WebhookAuth::Bearer { .. }),
                ..
            }
        ));
        assert!(matches!(
            signed.trigger,
            Trigger::Webhook { auth: Some(WebhookAuth::HmacSha256 { ref header, .. }), .. }
                if header == "x-hub-signature-256"
        ));
        let paths = |auth: Value| -> Vec<String> {
            guarded(auth)
                .unwrap_err()
                .into_iter()
                .map(|e| e.path)
                .collect()
        };
        assert_eq!(
            paths(json!({ "scheme": "bearer", "secret": "short" })),
            ["trigger.auth.secret"]
        );
        assert_eq!(
            paths(json!({ "scheme": "basic", "secret": "s".repeat(16) })),
            ["trigger.auth.scheme"]
        );
        assert_eq!(
            paths(
                json!({ "scheme": "hmac_sha256", "header": "no spaces", "secret": "s".repeat(16) })
            ),
            ["trigger.auth.header"]
        );
    }

    #[test]
    fn a_webhook_secret_is_masked_and_an_unchanged_mask_keeps_it() {
        let stored = guarded(json!({ "scheme": "bearer", "secret": "the stored secret" })).unwrap();
        let masked = stored.masked();
        assert!(!masked.canonical_json().contains("the stored secret"));

        let mut sent_back = Definition::parse(&masked.to_value()).unwrap();
        sent_back.unmask_from(&stored).unwrap();
        assert_eq!(sent_back, stored);

        let mut other_scheme = guarded(json!({
            "scheme": "hmac_sha256", "header": "x-sig", "secret": MASK
        }))
        .unwrap();
        let refused = other_scheme.unmask_from(&stored).unwrap_err();
        assert_eq!(refused[0].path, "trigger.auth.secret");
    }

    #[test]
    fn a_definition_without_a_webhook_secret_keeps_its_content_hash() {
        let plain =
            Definition::parse(&json!({"trigger": {"kind": "webhook", "path": "a"}})).unwrap();
        assert_eq!(
            plain.canonical_json(),
            r#"{"trigger":{"kind":"webhook","path":"a"},"steps":[]}"#
        );
    }

    #[test]
    fn framing_and_hop_by_hop_headers_are_refused_by_name() {
        let errors = Definition::parse(&json!({
            "trigger": { "kind": "webhook", "path": "in" },
            "steps": [{ "kind": "http", "method": "POST", "url": "https://example.com",
                        "headers": { "Host": "x", "Transfer-Encoding": "chunked", "x-ok": "1" } }]
        }))
        .unwrap_err();
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "steps[0].headers.Host",
                "steps[0].headers.Transfer-Encoding"
            ]
        );
        assert!(errors[0].message.contains("set by Junction"));
    }

    #[test]
    fn a_runaway_template_is_refused_at_parse_time_naming_the_cap() {
        let leaves: serde_json::Map<String, Value> = (0..30_000)
            .map(|n| (format!("k{n}"), json!("{{ body.x }}")))
            .collect();
        let huge = Definition::parse(&json!({
            "trigger": { "kind": "webhook", "path": "in" },
            "steps": [{ "kind": "transform", "template": leaves }]
        }))
        .unwrap_err();
        assert_eq!(huge[0].path, "steps[0].template");
        assert!(
            huge[0].message.contains("a template is at most 65536"),
            "{}",
            huge[0].message
        );

        let many_small: Vec<Value> = (0..30)
            .map(|_| {
                let leaves: serde_json::Map<String, Value> = (0..100)
                    .map(|n| (format!("k{n}"), json!("{{ x }}")))
                    .collect();
                json!({ "kind": "transform", "template": leaves })
            })
            .collect();
        let too_many = Definition::parse(&json!({
            "trigger": { "kind": "webhook", "path": "in" }, "steps": many_small
        }))
        .unwrap_err();
        assert_eq!(too_many[0].path, "steps");
        assert!(
            too_many[0].message.contains("at most 2000"),
            "{}",
            too_many[0].message
        );
    }
}
