//! The editor's form model, free of signals and views: a flow as the form holds it
//! (every field as typed), read from a definition's JSON and written back to it. It
//! mirrors `domain::definition`'s kinds, so a new step or trigger kind is a compile
//! error here until the form knows it.

use serde_json::{Map, Value, json};

use crate::domain::definition::{StepKind, TriggerKind};
use crate::error::FieldError;

/// One step as the form holds it: every field as typed.
#[derive(Clone, Debug, PartialEq)]
pub struct StepForm {
    /// Stable across reordering, so that inputs keep focus and text.
    pub key: u64,
    pub kind: StepKind,
    pub message: String,
    pub template: String,
    pub condition: String,
    pub method: String,
    pub url: String,
    pub headers: String,
    pub timeout: String,
    /// A sql step's connection, statement, parameters (a JSON list, as typed) and row
    /// cap.
    pub connection: String,
    pub query: String,
    pub params: String,
    pub max_rows: String,
    /// A redis step's command, arguments (a JSON list, as typed) and expiry.
    pub command: String,
    pub args: String,
    pub expire: String,
    /// A nats_publish step's subject (a template) and whether JetStream acknowledges.
    pub subject: String,
    pub jetstream: bool,
    /// An amqp_publish step's exchange and routing key (a template).
    pub exchange: String,
    pub routing_key: String,
    /// An mqtt_publish step's topic (a template), QoS (as typed) and retain flag.
    pub topic: String,
    pub qos: String,
    pub retain: bool,
}

/// A flow as the form holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowForm {
    pub trigger: TriggerKind,
    /// The webhook path; kept while the timer is chosen, so switching back loses nothing.
    pub path: String,
    /// The timer's seconds, as typed; likewise kept.
    pub every: String,
    /// What a webhook caller must show: "" (nothing), "bearer" or "hmac_sha256"; the
    /// signature's header; the secret (the mask once stored).
    pub auth_scheme: String,
    pub auth_header: String,
    pub auth_secret: String,
    /// A sql_poll trigger's connection, query, cursor column and start (JSON, as
    /// typed); it polls every `every` seconds. An amqp trigger's connection too.
    pub poll_connection: String,
    pub poll_query: String,
    pub poll_cursor: String,
    pub poll_start: String,
    /// A cron trigger's schedule and time zone, as typed.
    pub schedule: String,
    pub time_zone: String,
    /// An amqp trigger's queue, whether it is declared, its prefetch, dead-letter
    /// exchange and redeliveries (numbers as typed).
    pub queue: String,
    pub declare: bool,
    pub prefetch: String,
    pub dead_letter_exchange: String,
    pub max_redeliveries: String,
    /// A nats trigger's subject, and its JetStream stream and durable consumer (both
    /// empty: core NATS); prefetch and redeliveries as above.
    pub subject: String,
    pub stream: String,
    pub durable: String,
    /// A redis trigger's consumer group (with `stream`) or pub/sub channel.
    pub group: String,
    pub channel: String,
    /// An mqtt trigger's topic filter and QoS (as typed).
    pub topic: String,
    pub qos: String,
    pub steps: Vec<StepForm>,
}

/// The header a signature is sent in unless the form says otherwise (GitHub's).
pub const DEFAULT_SIGNATURE_HEADER: &str = "x-hub-signature-256";

impl StepForm {
    /// A new step of `kind`, with the fields a person would otherwise type first.
    pub fn blank(kind: StepKind, key: u64) -> Self {
        let template = match kind {
            StepKind::Transform => "{\n  \"id\": \"{{ body.id }}\"\n}".to_owned(),
            StepKind::Log
            | StepKind::Filter
            | StepKind::Http
            | StepKind::Sql
            | StepKind::Redis
            | StepKind::NatsPublish
            | StepKind::AmqpPublish
            | StepKind::MqttPublish => String::new(),
        };
        let params = match kind {
            StepKind::Sql => "[]".to_owned(),
            StepKind::Log
            | StepKind::Filter
            | StepKind::Http
            | StepKind::Transform
            | StepKind::Redis
            | StepKind::NatsPublish
            | StepKind::AmqpPublish
            | StepKind::MqttPublish => String::new(),
        };
        Self {
            key,
            kind,
            message: String::new(),
            template,
            condition: String::new(),
            method: "POST".into(),
            url: String::new(),
            headers: String::new(),
            timeout: String::new(),
            connection: String::new(),
            query: String::new(),
            params,
            max_rows: String::new(),
            command: "SET".into(),
            args: match kind {
                StepKind::Redis => "[\"order:{{ body.id }}\", \"{{ body }}\"]".to_owned(),
                StepKind::Log
                | StepKind::Filter
                | StepKind::Http
                | StepKind::Transform
                | StepKind::Sql
                | StepKind::NatsPublish
                | StepKind::AmqpPublish
                | StepKind::MqttPublish => String::new(),
            },
            expire: String::new(),
            subject: "orders.{{ body.id }}".into(),
            jetstream: false,
            exchange: String::new(),
            routing_key: "orders-out".into(),
            topic: "orders/{{ body.id }}".into(),
            qos: "1".into(),
            retain: false,
        }
    }

    /// Reads a step of a definition's JSON; a kind the form does not know is an error
    /// at `steps[i].kind` (never shown as some other kind).
    fn from_value(step: &Value, index: usize, key: u64) -> Result<Self, FieldError> {
        let text = |field: &str| step[field].as_str().unwrap_or_default().to_owned();
        let kind = StepKind::parse(step["kind"].as_str().unwrap_or_default()).ok_or_else(|| {
            FieldError::new(
                format!("steps[{index}].kind"),
                format!("unknown step {}: fix it in the JSON view", step["kind"]),
            )
        })?;
        Ok(Self {
            key,
            kind,
            message: text("message"),
            template: pretty(&step["template"]),
            condition: text("condition"),
            method: step["method"].as_str().unwrap_or("POST").to_owned(),
            url: text("url"),
            headers: pretty(&step["headers"]),
            timeout: step["timeout_seconds"]
                .as_u64()
                .map(|t| t.to_string())
                .unwrap_or_default(),
            connection: text("connection"),
            query: text("query"),
            params: match &step["params"] {
                Value::Null => "[]".to_owned(),
                params => serde_json::to_string(params).unwrap_or_default(),
            },
            max_rows: step["max_rows"]
                .as_u64()
                .map(|t| t.to_string())
                .unwrap_or_default(),
            command: step["command"].as_str().unwrap_or("SET").to_owned(),
            args: match &step["args"] {
                Value::Null => "[]".to_owned(),
                args => serde_json::to_string(args).unwrap_or_default(),
            },
            expire: step["expire_seconds"]
                .as_u64()
                .map(|t| t.to_string())
                .unwrap_or_default(),
            subject: text("subject"),
            jetstream: step["jetstream"].as_bool().unwrap_or(false),
            exchange: text("exchange"),
            routing_key: text("routing_key"),
            topic: text("topic"),
            qos: step["qos"]
                .as_u64()
                .map_or_else(|| "1".to_owned(), |n| n.to_string()),
            retain: step["retain"].as_bool().unwrap_or(false),
        })
    }

    /// The step as definition JSON; text that should be JSON or a number and is not is
    /// reported at its field.
    fn to_value(&self, index: usize, errors: &mut Vec<FieldError>) -> Value {
        let mut object = Map::new();
        object.insert("kind".into(), json!(self.kind.as_str()));
        match self.kind {
            StepKind::Log => {
                object.insert("message".into(), json!(self.message));
            }
            StepKind::Transform => {
                let template =
                    json_field(&self.template, format!("steps[{index}].template"), errors);
                object.insert("template".into(), template);
            }
            StepKind::Filter => {
                object.insert("condition".into(), json!(self.condition));
            }
            StepKind::Http => {
                object.insert("method".into(), json!(self.method));
                object.insert("url".into(), json!(self.url.trim()));
                if !self.connection.trim().is_empty() {
                    object.insert("connection".into(), json!(self.connection.trim()));
                }
                if !self.headers.trim().is_empty() {
                    let headers =
                        json_field(&self.headers, format!("steps[{index}].headers"), errors);
                    object.insert("headers".into(), headers);
                }
                self.whole_field(&mut object, "timeout_seconds", &self.timeout, index, errors);
            }
            StepKind::Sql => {
                object.insert("connection".into(), json!(self.connection.trim()));
                object.insert("query".into(), json!(self.query));
                if !self.params.trim().is_empty() {
                    let params = json_field(&self.params, format!("steps[{index}].params"), errors);
                    // No parameters is the definition's default: left out, as it reads.
                    if params != json!([]) {
                        object.insert("params".into(), params);
                    }
                }
                self.whole_field(&mut object, "timeout_seconds", &self.timeout, index, errors);
                self.whole_field(&mut object, "max_rows", &self.max_rows, index, errors);
            }
            StepKind::Redis => {
                object.insert("connection".into(), json!(self.connection.trim()));
                object.insert("command".into(), json!(self.command.trim()));
                let args = json_field(&self.args, format!("steps[{index}].args"), errors);
                object.insert("args".into(), args);
                self.whole_field(&mut object, "expire_seconds", &self.expire, index, errors);
            }
            StepKind::NatsPublish => {
                object.insert("connection".into(), json!(self.connection.trim()));
                object.insert("subject".into(), json!(self.subject.trim()));
                if self.jetstream {
                    object.insert("jetstream".into(), json!(true));
                }
            }
            StepKind::MqttPublish => {
                object.insert("connection".into(), json!(self.connection.trim()));
                object.insert("topic".into(), json!(self.topic.trim()));
                match self.qos.trim().parse::<u64>() {
                    Ok(n) => {
                        object.insert("qos".into(), json!(n));
                    }
                    Err(_) => errors.push(FieldError::new(
                        format!("steps[{index}].qos"),
                        "must be 0 or 1",
                    )),
                }
                if self.retain {
                    object.insert("retain".into(), json!(true));
                }
            }
            StepKind::AmqpPublish => {
                object.insert("connection".into(), json!(self.connection.trim()));
                // The default exchange is the empty name: kept as typed, never trimmed
                // into another one.
                object.insert("exchange".into(), json!(self.exchange.trim()));
                object.insert("routing_key".into(), json!(self.routing_key.trim()));
            }
        }
        Value::Object(object)
    }

    /// A whole number typed into a field, if any; text that is not one is an error at
    /// the field.
    fn whole_field(
        &self,
        object: &mut Map<String, Value>,
        field: &str,
        text: &str,
        index: usize,
        errors: &mut Vec<FieldError>,
    ) {
        if text.trim().is_empty() {
            return;
        }
        match text.trim().parse::<u64>() {
            Ok(n) => {
                object.insert(field.into(), json!(n));
            }
            Err(_) => errors.push(FieldError::new(
                format!("steps[{index}].{field}"),
                "must be a whole number",
            )),
        }
    }
}

impl FlowForm {
    /// Reads a definition's JSON into the form, as much of it as a form can show. A
    /// trigger or step kind the form does not know is an error at its place: the JSON
    /// view is where such a flow is fixed. `next_key` gives each step its key.
    pub fn from_value(definition: &Value, next_key: &mut u64) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let trigger = &definition["trigger"];
        let kind = trigger["kind"].as_str().unwrap_or("webhook");
        let trigger_kind = TriggerKind::parse(kind).unwrap_or_else(|| {
            errors.push(FieldError::new(
                "trigger.kind",
                format!("unknown trigger {kind:?}: fix it in the JSON view"),
            ));
            TriggerKind::Webhook
        });
        let steps = definition["steps"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .enumerate()
            .filter_map(|(index, step)| {
                let key = *next_key;
                *next_key += 1;
                StepForm::from_value(step, index, key)
                    .map_err(|error| errors.push(error))
                    .ok()
            })
            .collect();
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            trigger: trigger_kind,
            path: trigger["path"].as_str().unwrap_or_default().to_owned(),
            every: trigger["every_seconds"]
                .as_u64()
                .map_or_else(|| "60".to_owned(), |every| every.to_string()),
            auth_scheme: trigger["auth"]["scheme"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            auth_header: trigger["auth"]["header"]
                .as_str()
                .unwrap_or(DEFAULT_SIGNATURE_HEADER)
                .to_owned(),
            auth_secret: trigger["auth"]["secret"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            poll_connection: trigger["connection"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            poll_query: trigger["query"].as_str().unwrap_or_default().to_owned(),
            poll_cursor: trigger["cursor"].as_str().unwrap_or("id").to_owned(),
            poll_start: match &trigger["start"] {
                Value::Null => "0".to_owned(),
                start => start.to_string(),
            },
            schedule: trigger["schedule"]
                .as_str()
                .unwrap_or("0 * * * *")
                .to_owned(),
            time_zone: trigger["time_zone"].as_str().unwrap_or("UTC").to_owned(),
            queue: trigger["queue"].as_str().unwrap_or_default().to_owned(),
            declare: trigger["declare"].as_bool().unwrap_or(false),
            prefetch: trigger["prefetch"]
                .as_u64()
                .map_or_else(|| "10".to_owned(), |n| n.to_string()),
            dead_letter_exchange: trigger["dead_letter_exchange"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            max_redeliveries: trigger["max_redeliveries"]
                .as_u64()
                .map_or_else(|| "5".to_owned(), |n| n.to_string()),
            subject: trigger["subject"].as_str().unwrap_or_default().to_owned(),
            stream: trigger["stream"].as_str().unwrap_or_default().to_owned(),
            durable: trigger["durable"].as_str().unwrap_or_default().to_owned(),
            group: trigger["group"].as_str().unwrap_or_default().to_owned(),
            channel: trigger["channel"].as_str().unwrap_or_default().to_owned(),
            topic: trigger["topic"].as_str().unwrap_or_default().to_owned(),
            qos: trigger["qos"]
                .as_u64()
                .map_or_else(|| "1".to_owned(), |n| n.to_string()),
            steps,
        })
    }

    /// The form as definition JSON, and the fields whose text did not read (not JSON,
    /// not a number), each at its place.
    pub fn to_value(&self) -> (Value, Vec<FieldError>) {
        let mut errors = Vec::new();
        let trigger = match self.trigger {
            TriggerKind::Webhook => {
                let mut webhook = json!({ "kind": "webhook", "path": self.path.trim() });
                match self.auth_scheme.as_str() {
                    "" => {}
                    "hmac_sha256" => {
                        webhook["auth"] = json!({
                            "scheme": "hmac_sha256",
                            "header": self.auth_header.trim(),
                            "secret": self.auth_secret,
                        });
                    }
                    scheme => {
                        webhook["auth"] = json!({ "scheme": scheme, "secret": self.auth_secret });
                    }
                }
                webhook
            }
            TriggerKind::Timer => match self.every.trim().parse::<u64>() {
                Ok(n) => json!({ "kind": "timer", "every_seconds": n }),
                Err(_) => {
                    errors.push(FieldError::new(
                        "trigger.every_seconds",
                        "must be a whole number of seconds",
                    ));
                    json!({ "kind": "timer", "every_seconds": 0 })
                }
            },
            TriggerKind::Cron => json!({
                "kind": "cron",
                "schedule": self.schedule.trim(),
                "time_zone": self.time_zone.trim(),
            }),
            TriggerKind::SqlPoll => {
                let every = self.every.trim().parse::<u64>().unwrap_or_else(|_| {
                    errors.push(FieldError::new(
                        "trigger.every_seconds",
                        "must be a whole number of seconds",
                    ));
                    0
                });
                let start = match self.poll_start.trim() {
                    "" => Value::Null,
                    text => json_field(text, "trigger.start".into(), &mut errors),
                };
                json!({
                    "kind": "sql_poll",
                    "connection": self.poll_connection.trim(),
                    "query": self.poll_query,
                    "cursor": self.poll_cursor.trim(),
                    "every_seconds": every,
                    "start": start,
                })
            }
            TriggerKind::Mqtt => {
                let qos = self.qos.trim().parse::<u64>().unwrap_or_else(|_| {
                    errors.push(FieldError::new("trigger.qos", "must be 0 or 1"));
                    0
                });
                json!({
                    "kind": "mqtt",
                    "connection": self.poll_connection.trim(),
                    "topic": self.topic.trim(),
                    "qos": qos,
                })
            }
            TriggerKind::Redis => {
                let mut redis = json!({
                    "kind": "redis",
                    "connection": self.poll_connection.trim(),
                    "prefetch": whole(&self.prefetch, "prefetch", &mut errors),
                    "max_redeliveries": whole(&self.max_redeliveries, "max_redeliveries", &mut errors),
                });
                for (field, text) in [
                    ("stream", &self.stream),
                    ("group", &self.group),
                    ("channel", &self.channel),
                ] {
                    if !text.trim().is_empty() {
                        redis[field] = json!(text.trim());
                    }
                }
                redis
            }
            TriggerKind::Nats => {
                let mut nats = json!({
                    "kind": "nats",
                    "connection": self.poll_connection.trim(),
                    "subject": self.subject.trim(),
                    "prefetch": whole(&self.prefetch, "prefetch", &mut errors),
                    "max_redeliveries": whole(&self.max_redeliveries, "max_redeliveries", &mut errors),
                });
                if !self.stream.trim().is_empty() {
                    nats["stream"] = json!(self.stream.trim());
                }
                if !self.durable.trim().is_empty() {
                    nats["durable"] = json!(self.durable.trim());
                }
                nats
            }
            TriggerKind::Amqp => {
                let mut amqp = json!({
                    "kind": "amqp",
                    "connection": self.poll_connection.trim(),
                    "queue": self.queue.trim(),
                    "prefetch": whole(&self.prefetch, "prefetch", &mut errors),
                    "max_redeliveries": whole(&self.max_redeliveries, "max_redeliveries", &mut errors),
                });
                if self.declare {
                    amqp["declare"] = json!(true);
                }
                if !self.dead_letter_exchange.trim().is_empty() {
                    amqp["dead_letter_exchange"] = json!(self.dead_letter_exchange.trim());
                }
                amqp
            }
        };
        let steps: Vec<Value> = self
            .steps
            .iter()
            .enumerate()
            .map(|(index, step)| step.to_value(index, &mut errors))
            .collect();
        (json!({ "trigger": trigger, "steps": steps }), errors)
    }
}

/// A trigger's whole number as typed; text that is not one is an error at
/// `trigger.FIELD` (and 0, which the server refuses too).
fn whole(text: &str, field: &str, errors: &mut Vec<FieldError>) -> Value {
    match text.trim().parse::<u64>() {
        Ok(n) => json!(n),
        Err(_) => {
            errors.push(FieldError::new(
                format!("trigger.{field}"),
                "must be a whole number",
            ));
            json!(0)
        }
    }
}

fn pretty(value: &Value) -> String {
    if value.is_null() {
        String::new()
    } else {
        serde_json::to_string_pretty(value).unwrap_or_default()
    }
}

/// Text that should be JSON; when it is not, an error at `path` and an empty object.
fn json_field(text: &str, path: String, errors: &mut Vec<FieldError>) -> Value {
    crate::json::parse(text).unwrap_or_else(|err| {
        errors.push(FieldError::new(path, format!("not valid JSON: {err}")));
        Value::Object(Map::new())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::definition::Definition;

    fn every_kind() -> Value {
        json!({
            "trigger": { "kind": "webhook", "path": "orders" },
            "steps": [
                { "kind": "filter", "condition": "body.qty > 0" },
                { "kind": "transform", "template": { "id": "{{ body.id }}" } },
                { "kind": "log", "message": "order {{ body.id }}" },
                { "kind": "http", "method": "PUT", "url": "http://127.0.0.1:9000/orders",
                  "headers": { "x-api-key": "********" }, "timeout_seconds": 5 },
                { "kind": "http", "method": "POST", "url": "/contacts", "connection": "crm" },
                { "kind": "sql", "connection": "orders-db",
                  "query": "INSERT INTO orders (id, total) VALUES ($1, $2)",
                  "params": ["{{ body.id }}", 7], "timeout_seconds": 5, "max_rows": 10 },
                { "kind": "redis", "connection": "cache", "command": "SET",
                  "args": ["order:{{ body.id }}", "{{ body }}"], "expire_seconds": 60 },
                { "kind": "nats_publish", "connection": "bus", "subject": "orders.{{ body.id }}",
                  "jetstream": true },
                { "kind": "amqp_publish", "connection": "rabbit", "exchange": "",
                  "routing_key": "orders-out" },
                { "kind": "mqtt_publish", "connection": "mosquitto", "topic": "out/{{ body.id }}",
                  "qos": 1, "retain": true }
            ]
        })
    }

    #[test]
    fn every_kind_of_trigger_round_trips_through_the_form() {
        let triggers = [
            json!({ "kind": "webhook", "path": "orders" }),
            json!({ "kind": "timer", "every_seconds": 60 }),
            json!({ "kind": "cron", "schedule": "0 9 * * 1-5", "time_zone": "Europe/Berlin" }),
            json!({ "kind": "sql_poll", "connection": "orders-db",
                    "query": "SELECT * FROM orders WHERE id > $1 ORDER BY id",
                    "cursor": "id", "every_seconds": 5, "start": 0 }),
            json!({ "kind": "amqp", "connection": "rabbit", "queue": "orders", "declare": true,
                    "prefetch": 50, "dead_letter_exchange": "orders-dead",
                    "max_redeliveries": 3 }),
            json!({ "kind": "nats", "connection": "bus", "subject": "orders.>",
                    "stream": "ORDERS", "durable": "junction", "prefetch": 10,
                    "max_redeliveries": 5 }),
            json!({ "kind": "redis", "connection": "cache", "stream": "orders",
                    "group": "junction", "prefetch": 10, "max_redeliveries": 5 }),
            json!({ "kind": "mqtt", "connection": "mosquitto", "topic": "sensors/#", "qos": 1 }),
        ];
        let mut kinds = std::collections::HashSet::new();
        for trigger in triggers {
            let definition = json!({ "trigger": trigger, "steps": [] });
            let mut key = 1;
            let form = FlowForm::from_value(&definition, &mut key).unwrap();
            let (value, errors) = form.to_value();
            assert!(errors.is_empty(), "{trigger}: {errors:?}");
            assert_eq!(value, definition);
            let parsed = Definition::parse(&value).unwrap();
            assert_eq!(
                parsed.to_value(),
                definition,
                "canonical as the server keeps it"
            );
            kinds.insert(parsed.trigger.kind());
        }
        assert_eq!(
            kinds.len(),
            TriggerKind::ALL.len(),
            "every kind is in the list"
        );
    }

    #[test]
    fn a_flow_with_every_step_kind_round_trips_through_the_form() {
        let mut key = 1;
        let form = FlowForm::from_value(&every_kind(), &mut key).unwrap();

        let (value, errors) = form.to_value();

        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(value, every_kind());
        assert_eq!(key, 11, "each step got a key of its own");
    }

    #[test]
    fn a_timer_round_trips_and_keeps_the_webhook_path_typed_before() {
        let mut key = 1;
        let mut form = FlowForm::from_value(
            &json!({"trigger": {"kind": "timer", "every_seconds": 30}}),
            &mut key,
        )
        .unwrap();
        form.path = "typed".into();

        assert_eq!(
            form.to_value().0["trigger"],
            json!({"kind": "timer", "every_seconds": 30})
        );
        form.trigger = TriggerKind::Webhook;
        assert_eq!(
            form.to_value().0["trigger"],
            json!({"kind": "webhook", "path": "typed"})
        );
    }

    #[test]
    fn an_unknown_kind_is_an_error_at_its_place_not_another_kind() {
        let mut key = 1;
        let errors = FlowForm::from_value(
            &json!({"trigger": {"kind": "carrier_pigeon"},
                    "steps": [{"kind": "log", "message": "m"}, {"kind": "teleport"}]}),
            &mut key,
        )
        .unwrap_err();

        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["trigger.kind", "steps[1].kind"]);
    }

    #[test]
    fn text_that_should_be_json_or_a_number_is_reported_at_its_field() {
        let mut template = StepForm::blank(StepKind::Transform, 1);
        template.template = "{ not json".into();
        let mut http = StepForm::blank(StepKind::Http, 2);
        http.timeout = "soon".into();
        let form = FlowForm {
            trigger: TriggerKind::Timer,
            path: String::new(),
            every: "often".into(),
            auth_scheme: String::new(),
            auth_header: String::new(),
            auth_secret: String::new(),
            poll_connection: String::new(),
            poll_query: String::new(),
            poll_cursor: String::new(),
            poll_start: String::new(),
            schedule: String::new(),
            time_zone: String::new(),
            queue: String::new(),
            declare: false,
            prefetch: String::new(),
            dead_letter_exchange: String::new(),
            max_redeliveries: String::new(),
            subject: String::new(),
            stream: String::new(),
            durable: String::new(),
            group: String::new(),
            channel: String::new(),
            topic: String::new(),
            qos: String::new(),
            steps: vec![template, http],
        };

        let (_, errors) = form.to_value();

        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "trigger.every_seconds",
                "steps[0].template",
                "steps[1].timeout_seconds"
            ]
        );
    }

    #[test]
    fn a_blank_step_of_every_kind_is_what_the_server_expects_once_filled_in() {
        for (key, kind) in (1..).zip(StepKind::ALL) {
            let mut step = StepForm::blank(kind, key);
            step.message = "m".into();
            step.condition = "true".into();
            step.url = "http://127.0.0.1:9/x".into();
            if matches!(
                kind,
                StepKind::Sql
                    | StepKind::Redis
                    | StepKind::NatsPublish
                    | StepKind::AmqpPublish
                    | StepKind::MqttPublish
            ) {
                step.connection = "db".into();
            }
            step.query = "SELECT 1".into();
            let form = FlowForm {
                trigger: TriggerKind::Webhook,
                path: "p".into(),
                every: String::new(),
                auth_scheme: String::new(),
                auth_header: String::new(),
                auth_secret: String::new(),
                poll_connection: String::new(),
                poll_query: String::new(),
                poll_cursor: String::new(),
                poll_start: String::new(),
                schedule: String::new(),
                time_zone: String::new(),
                queue: String::new(),
                declare: false,
                prefetch: String::new(),
                dead_letter_exchange: String::new(),
                max_redeliveries: String::new(),
                subject: String::new(),
                stream: String::new(),
                durable: String::new(),
                group: String::new(),
                channel: String::new(),
                topic: String::new(),
                qos: String::new(),
                steps: vec![step],
            };
            let (value, errors) = form.to_value();
            assert!(errors.is_empty(), "{kind:?}: {errors:?}");
            assert!(Definition::parse(&value).is_ok(), "{kind:?}: {value}");
        }
    }

    #[test]
    fn a_webhook_secret_round_trips_through_the_form_and_none_means_no_auth() {
        let definition = json!({
            "trigger": { "kind": "webhook", "path": "in",
                         "auth": { "scheme": "hmac_sha256", "header": "x-sig", "secret": "********" } },
            "steps": []
        });
        let mut key = 1;
        let mut form = FlowForm::from_value(&definition, &mut key).unwrap();
        assert_eq!(form.to_value().0, definition);

        form.auth_scheme = String::new();
        assert_eq!(
            form.to_value().0["trigger"],
            json!({ "kind": "webhook", "path": "in" })
        );
    }
}
