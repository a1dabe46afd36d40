//! A flow compiled for running: every template and condition is compiled once, when
//! the version is built, into one template environment; each message then only
//! renders.

use minijinja::{Environment, UndefinedBehavior, Value as TemplateValue, context};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use super::egress::HttpEgress;
use crate::domain::definition::{Definition, HttpMethod, Step, StepKind, Trigger};

/// How long an http step waits for an answer unless its definition says otherwise.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// The most work one template may do for one message: a runaway loop fails the step
/// instead of stalling the server.
const TEMPLATE_FUEL: u64 = 200_000;

/// A template or condition that does not compile, located in the definition.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct BuildError {
    pub path: String,
    pub message: String,
}

/// One template environment for every flow in the process, so that the built-in
/// filters, tests and globals exist once rather than once per running flow. Templates
/// are shared by their source: minijinja keeps about 9 KB per compiled template
/// whatever its size (it preallocates its instruction buffers), so 10,000 running flows
/// that each say `{{ body.id }}` would hold 90 MB of copies of one template. Each is
/// counted, and removed when the last flow using it is dropped.
#[derive(Clone)]
pub struct Templates(Arc<RwLock<Shared>>);

struct Shared {
    env: Environment<'static>,
    /// The name of the template compiled from each source: shared by every flow that
    /// uses it (ten thousand flows of one template hold one name, not ten thousand).
    by_source: HashMap<String, Arc<str>>,
    /// Each template's source and how many flows use it.
    by_name: HashMap<Arc<str>, (String, usize)>,
    next: u64,
}

impl Default for Templates {
    fn default() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Lenient);
        env.set_fuel(Some(TEMPLATE_FUEL));
        // Output is JSON and log text, never HTML: nothing is escaped.
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        Self(Arc::new(RwLock::new(Shared {
            env,
            by_source: HashMap::new(),
            by_name: HashMap::new(),
            next: 1,
        })))
    }
}

impl Templates {
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Shared> {
        // Adding or removing a template cannot leave the environment half-changed.
        self.0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Shared> {
        self.0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How many distinct templates are compiled (for tests).
    pub fn compiled(&self) -> usize {
        self.read().by_name.len()
    }
}

/// A flow ready to run.
pub struct CompiledFlow {
    pub trigger: Trigger,
    /// The pool of a sql_poll trigger's connection.
    source: TriggerSource,
    templates: Templates,
    /// The names of the templates this flow uses in the shared environment.
    names: Box<[Arc<str>]>,
    steps: Box<[CompiledStep]>,
}

impl Drop for CompiledFlow {
    fn drop(&mut self) {
        let mut shared = self.templates.write();
        for name in &self.names {
            let unused = match shared.by_name.get_mut(&**name) {
                Some((_, uses)) => {
                    *uses -= 1;
                    *uses == 0
                }
                None => false,
            };
            if unused && let Some((source, _)) = shared.by_name.remove(&**name) {
                shared.by_source.remove(&source);
                shared.env.remove_template(name);
            }
        }
    }
}

/// A template of a flow: its name in the shared environment, and where it is in the
/// definition (errors name that, not the shared name).
struct TemplateRef {
    name: Arc<str>,
    path: Box<str>,
}

/// Adds the templates of one flow, remembering which it uses; errors name the place
/// in the definition.
struct Builder<'a> {
    shared: &'a mut Shared,
    names: Vec<Arc<str>>,
}

impl Builder<'_> {
    fn add(&mut self, path: &str, source: String) -> Result<TemplateRef, BuildError> {
        let shared = &mut *self.shared;
        let name = match shared.by_source.get(&source) {
            Some(name) => name.clone(),
            None => {
                let name = format!("template-{}", shared.next);
                shared
                    .env
                    .add_template_owned(name.clone(), source.clone())
                    .map_err(|err| BuildError {
                        path: path.to_owned(),
                        message: describe_template_error(&err).replace(&name, path),
                    })?;
                shared.next += 1;
                let name: Arc<str> = name.into();
                shared.by_source.insert(source.clone(), name.clone());
                shared.by_name.insert(name.clone(), (source, 0));
                name
            }
        };
        if let Some((_, uses)) = shared.by_name.get_mut(&name) {
            *uses += 1;
        }
        self.names.push(name.clone());
        Ok(TemplateRef {
            name,
            path: path.into(),
        })
    }
}

enum CompiledStep {
    Log {
        template: TemplateRef,
    },
    Transform {
        template: Tree,
    },
    Filter {
        template: TemplateRef,
    },
    Http {
        method: HttpMethod,
        url: String,
        headers: BTreeMap<String, String>,
        timeout: Duration,
        /// The connection the request goes through, if any.
        through: Option<Arc<super::egress::HttpConnection>>,
    },
    Sql {
        pool: Arc<super::sql::SqlPool>,
        query: String,
        /// The parameters: a list, whose string leaves are templates.
        params: Tree,
        timeout: Duration,
        max_rows: u64,
    },
    Redis {
        target: Arc<super::brokers::RedisTarget>,
        command: crate::domain::definition::RedisCommand,
        /// The arguments: a list, whose string leaves are templates.
        args: Tree,
        expire_seconds: Option<u64>,
    },
    NatsPublish {
        target: Arc<super::brokers::NatsTarget>,
        subject: TemplateRef,
        jetstream: bool,
    },
    AmqpPublish {
        target: Arc<super::brokers::AmqpTarget>,
        exchange: String,
        routing_key: TemplateRef,
    },
    MqttPublish {
        target: Arc<super::brokers::MqttTarget>,
        topic: TemplateRef,
        qos: u8,
        retain: bool,
    },
}

/// What a trigger that reads another system reads through.
#[derive(Clone)]
pub enum TriggerSource {
    /// The trigger reads nothing (a webhook, a timer, a schedule).
    Nothing,
    /// A sql_poll trigger's database.
    Sql(Arc<super::sql::SqlPool>),
    /// An amqp trigger's broker.
    Amqp(Arc<super::brokers::AmqpTarget>),
    /// A nats trigger's server.
    Nats(Arc<super::brokers::NatsTarget>),
    /// A redis trigger's server.
    Redis(Arc<super::brokers::RedisTarget>),
    /// An mqtt trigger's broker.
    Mqtt(Arc<super::brokers::MqttTarget>),
}

/// The connections a flow uses, opened, by name: resolved before it is built (opening
/// a connection's secrets takes the database), handed to the build.
#[derive(Default)]
pub struct Connected {
    pub sql: HashMap<String, Arc<super::sql::SqlPool>>,
    pub http: HashMap<String, Arc<super::egress::HttpConnection>>,
    pub redis: HashMap<String, Arc<super::brokers::RedisTarget>>,
    pub nats: HashMap<String, Arc<super::brokers::NatsTarget>>,
    pub amqp: HashMap<String, Arc<super::brokers::AmqpTarget>>,
    pub mqtt: HashMap<String, Arc<super::brokers::MqttTarget>>,
}

/// A transform template: literal JSON, with string leaves compiled. Held by every
/// running flow, so it is kept small: a literal leaf is a scalar stored as itself
/// (not a `Value`, which is 72 bytes each), and arrays and objects are boxed slices.
enum Tree {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(Box<str>),
    /// Renders to a string.
    Text(TemplateRef),
    /// Exactly one `{{ expr }}`: keeps the expression's JSON type.
    Typed(TemplateRef),
    Array(Box<[Tree]>),
    Object(Box<[(Box<str>, Tree)]>),
}

/// How one message went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Ok,
    Filtered,
    Failed,
    /// A webhook call without the trigger's secret: the flow did not run.
    Refused,
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Filtered => "filtered",
            Outcome::Failed => "failed",
            Outcome::Refused => "refused",
        }
    }
}

/// How one step went, with a short detail for the activity list.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepReport {
    pub index: usize,
    pub kind: &'static str,
    pub outcome: Outcome,
    pub detail: String,
}

/// What running a flow on one message gave.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Run {
    pub outcome: Outcome,
    pub steps: Vec<StepReport>,
    /// The body after the last step that ran.
    pub body: Value,
    pub error: Option<String>,
    /// Which step failed, if one did.
    pub failed_step: Option<usize>,
}

fn compile_steps(
    definition: &Definition,
    builder: &mut Builder<'_>,
    connected: &Connected,
) -> Result<Vec<CompiledStep>, BuildError> {
    let mut steps = Vec::with_capacity(definition.steps.len());
    for (index, step) in definition.steps.iter().enumerate() {
        let path = format!("steps[{index}]");
        steps.push(match step {
            Step::Log { message } => CompiledStep::Log {
                template: builder.add(&format!("{path}.message"), message.clone())?,
            },
            Step::Transform { template } => CompiledStep::Transform {
                template: compile_tree(builder, &format!("{path}.template"), template)?,
            },
            Step::Filter { condition } => CompiledStep::Filter {
                template: builder.add(
                    &format!("{path}.condition"),
                    format!("{{% if ({condition}) %}}true{{% else %}}false{{% endif %}}"),
                )?,
            },
            Step::Http {
                method,
                url,
                connection,
                headers,
                timeout_seconds,
            } => CompiledStep::Http {
                method: *method,
                url: url.clone(),
                headers: headers.clone(),
                timeout: timeout_seconds.map_or(DEFAULT_HTTP_TIMEOUT, Duration::from_secs),
                through: match connection {
                    None => None,
                    Some(name) => {
                        Some(
                            connected
                                .http
                                .get(name)
                                .cloned()
                                .ok_or_else(|| BuildError {
                                    path: format!("{path}.connection"),
                                    message: format!("no HTTP connection is named {name:?}"),
                                })?,
                        )
                    }
                },
            },
            Step::Sql {
                connection,
                query,
                params,
                timeout_seconds,
                max_rows,
            } => CompiledStep::Sql {
                pool: connected
                    .sql
                    .get(connection)
                    .cloned()
                    .ok_or_else(|| BuildError {
                        path: format!("{path}.connection"),
                        message: format!("no connection is named {connection:?}"),
                    })?,
                query: query.clone(),
                params: compile_tree(
                    builder,
                    &format!("{path}.params"),
                    &Value::Array(params.clone()),
                )?,
                timeout: timeout_seconds.map_or(super::sql::DEFAULT_TIMEOUT, Duration::from_secs),
                max_rows: max_rows.unwrap_or(super::sql::DEFAULT_MAX_ROWS),
            },
            Step::Redis {
                connection,
                command,
                args,
                expire_seconds,
            } => CompiledStep::Redis {
                target: connected
                    .redis
                    .get(connection)
                    .cloned()
                    .ok_or_else(|| BuildError {
                        path: format!("{path}.connection"),
                        message: format!("no Redis connection is named {connection:?}"),
                    })?,
                command: *command,
                args: compile_tree(
                    builder,
                    &format!("{path}.args"),
                    &Value::Array(args.clone()),
                )?,
                expire_seconds: *expire_seconds,
            },
            Step::NatsPublish {
                connection,
                subject,
                jetstream,
            } => CompiledStep::NatsPublish {
                target: connected
                    .nats
                    .get(connection)
                    .cloned()
                    .ok_or_else(|| BuildError {
                        path: format!("{path}.connection"),
                        message: format!("no NATS connection is named {connection:?}"),
                    })?,
                subject: builder.add(&format!("{path}.subject"), subject.clone())?,
                jetstream: *jetstream,
            },
            Step::AmqpPublish {
                connection,
                exchange,
                routing_key,
            } => CompiledStep::AmqpPublish {
                target: connected
                    .amqp
                    .get(connection)
                    .cloned()
                    .ok_or_else(|| BuildError {
                        path: format!("{path}.connection"),
                        message: format!("no RabbitMQ connection is named {connection:?}"),
                    })?,
                exchange: exchange.clone(),
                routing_key: builder.add(&format!("{path}.routing_key"), routing_key.clone())?,
            },
            Step::MqttPublish {
                connection,
                topic,
                qos,
                retain,
            } => CompiledStep::MqttPublish {
                target: connected
                    .mqtt
                    .get(connection)
                    .cloned()
                    .ok_or_else(|| BuildError {
                        path: format!("{path}.connection"),
                        message: format!("no MQTT connection is named {connection:?}"),
                    })?,
                topic: builder.add(&format!("{path}.topic"), topic.clone())?,
                qos: *qos,
                retain: *retain,
            },
        });
    }
    Ok(steps)
}

impl CompiledFlow {
    /// Compiles every template and condition of `definition` into `templates`, its
    /// steps that use connections on `connected`.
    pub fn build(
        definition: &Definition,
        templates: &Templates,
        connected: &Connected,
    ) -> Result<Self, BuildError> {
        let mut shared = templates.write();
        let mut builder = Builder {
            shared: &mut shared,
            names: Vec::new(),
        };
        let steps = compile_steps(definition, &mut builder, connected);
        let names = std::mem::take(&mut builder.names).into_boxed_slice();
        drop(shared);
        let missing = |connection: &str| BuildError {
            path: "trigger.connection".into(),
            message: format!("no connection is named {connection:?}"),
        };
        let source = match &definition.trigger {
            Trigger::SqlPoll { connection, .. } => TriggerSource::Sql(
                connected
                    .sql
                    .get(connection)
                    .cloned()
                    .ok_or_else(|| missing(connection))?,
            ),
            Trigger::Amqp { connection, .. } => TriggerSource::Amqp(
                connected
                    .amqp
                    .get(connection)
                    .cloned()
                    .ok_or_else(|| missing(connection))?,
            ),
            Trigger::Nats { connection, .. } => TriggerSource::Nats(
                connected
                    .nats
                    .get(connection)
                    .cloned()
                    .ok_or_else(|| missing(connection))?,
            ),
            Trigger::Mqtt { connection, .. } => TriggerSource::Mqtt(
                connected
                    .mqtt
                    .get(connection)
                    .cloned()
                    .ok_or_else(|| missing(connection))?,
            ),
            Trigger::Redis { connection, .. } => TriggerSource::Redis(
                connected
                    .redis
                    .get(connection)
                    .cloned()
                    .ok_or_else(|| missing(connection))?,
            ),
            Trigger::Webhook { .. } | Trigger::Timer { .. } | Trigger::Cron { .. } => {
                TriggerSource::Nothing
            }
        };
        let mut flow = Self {
            trigger: definition.trigger.clone(),
            source,
            templates: templates.clone(),
            names,
            steps: Box::default(),
        };
        // On failure, dropping `flow` removes what was added before the error.
        flow.steps = steps?.into_boxed_slice();
        Ok(flow)
    }

    /// What the trigger reads through.
    pub fn source(&self) -> TriggerSource {
        self.source.clone()
    }

    /// Runs the flow on one message. The steps that only render (log, transform,
    /// filter) run off the async worker threads, a stretch of them at a time, within
    /// `limits`; an http step waits for its answer on them.
    pub async fn run(
        self: &Arc<Self>,
        body: Value,
        http: &HttpEgress,
        limits: &RenderLimits,
    ) -> Run {
        let mut run = Run {
            outcome: Outcome::Ok,
            steps: Vec::with_capacity(self.steps.len()),
            body,
            error: None,
            failed_step: None,
        };
        let deadline = Instant::now() + limits.deadline;
        let mut index = 0;
        while index < self.steps.len() && run.outcome == Outcome::Ok {
            match &self.steps[index] {
                CompiledStep::Http {
                    method,
                    url,
                    headers,
                    timeout,
                    through,
                } => {
                    let result = match through {
                        None => {
                            send(http, (false, *method), url, headers, *timeout, &run.body).await
                        }
                        Some(through) => {
                            let target = (through.allow_private, *method);
                            let headers = through.headers(headers);
                            send(
                                http,
                                target,
                                &through.url(url),
                                &headers,
                                *timeout,
                                &run.body,
                            )
                            .await
                        }
                    };
                    run.apply(index, StepKind::Http.as_str(), result);
                    index += 1;
                    continue;
                }
                CompiledStep::Sql {
                    pool,
                    query,
                    params,
                    timeout,
                    max_rows,
                } => {
                    // The parameters are a few small templates: rendered here.
                    let mut budget = Budget::new(limits.output, deadline);
                    let result = match self.evaluate(params, &Scope::new(&run.body), &mut budget) {
                        Ok(Value::Array(params)) => pool
                            .run(query, &params, *timeout, *max_rows, super::sql::AtCap::Fail)
                            .await
                            .map(|outcome| {
                                let detail = format!(
                                    "{} row{} returned, {} changed",
                                    outcome.rows.len(),
                                    if outcome.rows.len() == 1 { "" } else { "s" },
                                    outcome.affected
                                );
                                StepResult::Continue {
                                    body: Some(outcome.into_body()),
                                    detail,
                                }
                            }),
                        Ok(_) => Err("the parameters are not a list".to_owned()),
                        Err(err) => Err(err),
                    };
                    run.apply(index, StepKind::Sql.as_str(), result);
                    index += 1;
                    continue;
                }
                CompiledStep::Redis {
                    target,
                    command,
                    args,
                    expire_seconds,
                } => {
                    let mut budget = Budget::new(limits.output, deadline);
                    let result = match self.evaluate(args, &Scope::new(&run.body), &mut budget) {
                        Ok(Value::Array(args)) => target
                            .run(*command, &args, *expire_seconds)
                            .await
                            .map(|answer| StepResult::Continue {
                                detail: short(&format!("{} → {answer}", command.as_str())),
                                body: Some(answer),
                            }),
                        Ok(_) => Err("the arguments are not a list".to_owned()),
                        Err(err) => Err(err),
                    };
                    run.apply(index, StepKind::Redis.as_str(), result);
                    index += 1;
                    continue;
                }
                CompiledStep::NatsPublish {
                    target,
                    subject,
                    jetstream,
                } => {
                    let mut budget = Budget::new(limits.output, deadline);
                    let result = match self.render(subject, &Scope::new(&run.body), &mut budget) {
                        Ok(subject) if subject.is_empty() || subject.contains(' ') => {
                            Err(format!("the subject {subject:?} is empty or holds a space"))
                        }
                        Ok(subject) => {
                            let payload = serde_json::to_vec(&run.body).unwrap_or_default();
                            target
                                .publish(subject.clone(), payload, *jetstream)
                                .await
                                .map(|answer| StepResult::Continue {
                                    detail: short(&format!("published to {subject}: {answer}")),
                                    body: Some(answer),
                                })
                        }
                        Err(err) => Err(err),
                    };
                    run.apply(index, StepKind::NatsPublish.as_str(), result);
                    index += 1;
                    continue;
                }
                CompiledStep::AmqpPublish {
                    target,
                    exchange,
                    routing_key,
                } => {
                    let mut budget = Budget::new(limits.output, deadline);
                    let result = match self.render(routing_key, &Scope::new(&run.body), &mut budget)
                    {
                        Ok(key) if key.len() > 255 => Err(format!(
                            "the routing key is {} bytes; AMQP carries at most 255",
                            key.len()
                        )),
                        Ok(key) => {
                            let payload = serde_json::to_vec(&run.body).unwrap_or_default();
                            target
                                .publish(exchange, &key, &payload)
                                .await
                                .map(|answer| StepResult::Continue {
                                    detail: short(&format!(
                                        "published to {} with key {key}",
                                        if exchange.is_empty() {
                                            "the default exchange"
                                        } else {
                                            exchange
                                        }
                                    )),
                                    body: Some(answer),
                                })
                        }
                        Err(err) => Err(err),
                    };
                    run.apply(index, StepKind::AmqpPublish.as_str(), result);
                    index += 1;
                    continue;
                }
                CompiledStep::MqttPublish {
                    target,
                    topic,
                    qos,
                    retain,
                } => {
                    let mut budget = Budget::new(limits.output, deadline);
                    let result = match self.render(topic, &Scope::new(&run.body), &mut budget) {
                        Ok(topic) if topic.is_empty() || topic.contains(['+', '#']) => Err(
                            format!("the topic {topic:?} is empty or holds a wildcard (+ or #)"),
                        ),
                        Ok(topic) => {
                            let payload = serde_json::to_vec(&run.body).unwrap_or_default();
                            target
                                .publish(&topic, *qos, *retain, payload)
                                .await
                                .map(|answer| StepResult::Continue {
                                    detail: short(&format!("published to {topic}")),
                                    body: Some(answer),
                                })
                        }
                        Err(err) => Err(err),
                    };
                    run.apply(index, StepKind::MqttPublish.as_str(), result);
                    index += 1;
                    continue;
                }
                CompiledStep::Log { .. }
                | CompiledStep::Transform { .. }
                | CompiledStep::Filter { .. } => {}
            }
            let end = self.steps[index..]
                .iter()
                .position(CompiledStep::waits)
                .map_or(self.steps.len(), |offset| index + offset);
            // Most renderings take microseconds: they run here, and only one that
            // passes INLINE moves to the blocking pool, from the step it was at (a step
            // has no effect until its rendering is done). Handing every message to the
            // pool halved the webhook rate.
            let mut budget = Budget::new(limits.output, deadline);
            budget.inline_until = Some(Instant::now() + INLINE);
            let at = std::sync::atomic::AtomicUsize::new(index);
            let moved = self.render_steps_in(&mut run, index..end, &mut budget, &at);
            if let Some(from) = moved {
                self.render_off_workers(&mut run, from..end, deadline, limits)
                    .await;
            }
            index = end;
        }
        run
    }

    /// Runs the rendering steps in `steps` on the blocking pool, at most as many at
    /// once as the pool has permits, so that a runaway template neither stalls the
    /// async workers (every other request) nor starts more threads than allowed. Past
    /// the deadline the message fails at once; the thread stops at its next write or
    /// when its fuel runs out, and holds its permit until then.
    async fn render_off_workers(
        self: &Arc<Self>,
        run: &mut Run,
        steps: std::ops::Range<usize>,
        deadline: Instant,
        limits: &RenderLimits,
    ) {
        let too_late = || late(limits.deadline.as_millis());
        let first = steps.start;
        let permit =
            match tokio::time::timeout_at(deadline.into(), limits.pool.clone().acquire_owned())
                .await
            {
                Ok(Ok(permit)) => permit,
                // The pool is never closed; waiting past the deadline is being late.
                Ok(Err(_)) | Err(_) => {
                    return run.apply(first, self.steps[first].kind(), Err(too_late()));
                }
            };
        let flow = self.clone();
        let output = limits.output;
        let at = Arc::new(std::sync::atomic::AtomicUsize::new(first));
        let reached = at.clone();
        // Only the body travels: the reports so far stay here, whatever happens there.
        let part = Run {
            outcome: Outcome::Ok,
            steps: Vec::new(),
            body: std::mem::take(&mut run.body),
            error: None,
            failed_step: None,
        };
        let rendering = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut part = part;
            // No time in place here: it renders to the end, or to a limit.
            flow.render_steps_in(
                &mut part,
                steps,
                &mut Budget::new(output, deadline),
                &reached,
            );
            part
        });
        let failed = match tokio::time::timeout_at(deadline.into(), rendering).await {
            Ok(Ok(part)) => {
                run.steps.extend(part.steps);
                run.body = part.body;
                run.outcome = part.outcome;
                run.error = part.error;
                run.failed_step = part.failed_step;
                return;
            }
            Ok(Err(crashed)) => format!("rendering crashed: {crashed}"),
            Err(_) => too_late(),
        };
        let index = at.load(std::sync::atomic::Ordering::Relaxed);
        run.apply(index, self.steps[index].kind(), Err(failed));
    }

    /// The rendering steps in `steps`, one after the other, on this thread, telling
    /// `at` which step is rendering; stops when one passes the budget's time in place
    /// (only a budget with one has it): the step to go on from elsewhere.
    fn render_steps_in(
        &self,
        run: &mut Run,
        steps: std::ops::Range<usize>,
        budget: &mut Budget,
        at: &std::sync::atomic::AtomicUsize,
    ) -> Option<usize> {
        for index in steps {
            if run.outcome != Outcome::Ok {
                break;
            }
            at.store(index, std::sync::atomic::Ordering::Relaxed);
            budget.start_step();
            let step = &self.steps[index];
            let result = self.render_step(step, &run.body, budget);
            if std::mem::take(&mut budget.moved) {
                return Some(index);
            }
            run.apply(index, step.kind(), result);
        }
        None
    }

    fn render_step(
        &self,
        step: &CompiledStep,
        body: &Value,
        budget: &mut Budget,
    ) -> Result<StepResult, String> {
        let scope = Scope::new(body);
        match step {
            CompiledStep::Log { template } => {
                let message = self.render(template, &scope, budget)?;
                tracing::info!(target: "junction::flow", "{message}");
                Ok(StepResult::Continue {
                    body: None,
                    detail: short(&message),
                })
            }
            CompiledStep::Transform { template } => {
                let next = self.evaluate(template, &scope, budget)?;
                let detail = short(&next.to_string());
                Ok(StepResult::Continue {
                    body: Some(next),
                    detail,
                })
            }
            CompiledStep::Filter { template } => {
                match self.render(template, &scope, budget)?.as_str() {
                    "true" => Ok(StepResult::Continue {
                        body: None,
                        detail: "the condition holds".into(),
                    }),
                    _ => Ok(StepResult::Drop),
                }
            }
            CompiledStep::Http { .. }
            | CompiledStep::Sql { .. }
            | CompiledStep::Redis { .. }
            | CompiledStep::NatsPublish { .. }
            | CompiledStep::AmqpPublish { .. }
            | CompiledStep::MqttPublish { .. } => {
                Err("a step that waits for another system is not rendered".into())
            }
        }
    }

    fn render(
        &self,
        template: &TemplateRef,
        scope: &Scope<'_>,
        budget: &mut Budget,
    ) -> Result<String, String> {
        let shared = self.templates.read();
        let compiled = shared
            .env
            .get_template(&template.name)
            .map_err(|err| err.to_string())?;
        let mut out = CappedWriter {
            text: Vec::new(),
            budget,
        };
        let rendered = compiled.render_captured_to(scope.context(), &mut out);
        let CappedWriter { text, budget } = out;
        if let Some(limit) = budget.passed.take() {
            if let Passed::Inline = limit {
                budget.moved = true;
            }
            return Err(format!("{}: {}", template.path, limit.describe(budget)));
        }
        rendered.map_err(|err| {
            describe_template_error(&err).replace(&*template.name, &template.path)
        })?;
        String::from_utf8(text).map_err(|err| format!("{}: {err}", template.path))
    }

    fn evaluate(
        &self,
        tree: &Tree,
        scope: &Scope<'_>,
        budget: &mut Budget,
    ) -> Result<Value, String> {
        Ok(match tree {
            Tree::Null => Value::Null,
            Tree::Bool(value) => Value::Bool(*value),
            Tree::Number(value) => Value::Number(value.clone()),
            Tree::String(value) => Value::String(value.to_string()),
            Tree::Text(template) => Value::String(self.render(template, scope, budget)?),
            Tree::Typed(template) => {
                let json = self.render(template, scope, budget)?;
                serde_json::from_str(&json).map_err(|err| format!("{}: {err}", template.path))?
            }
            Tree::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| self.evaluate(item, scope, budget))
                    .collect::<Result<_, _>>()?,
            ),
            Tree::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(key, value)| Ok((key.to_string(), self.evaluate(value, scope, budget)?)))
                    .collect::<Result<_, String>>()?,
            ),
        })
    }
}

/// The body as a step's templates see it. Converting it for the template engine
/// copies all of it, so it is converted once per step, at the first template that
/// needs it, not once per template (a transform of twenty fields converted it twenty
/// times).
struct Scope<'a> {
    body: &'a Value,
    context: std::cell::OnceCell<TemplateValue>,
}

impl<'a> Scope<'a> {
    fn new(body: &'a Value) -> Self {
        Self {
            body,
            context: std::cell::OnceCell::new(),
        }
    }

    /// `{ body }`, made on first use; a clone shares it.
    fn context(&self) -> TemplateValue {
        self.context
            .get_or_init(
                || context! { body => TemplateValue::from(minijinja::value::Serde(self.body)) },
            )
            .clone()
    }
}

/// What one message may take of the server while its templates render.
#[derive(Clone, Debug)]
pub struct RenderLimits {
    /// The most one step may render, in bytes: a log message, a condition, or all the
    /// leaves of a transform together.
    pub output: usize,
    /// The most time the rendering steps of one message may take, together.
    pub deadline: Duration,
    /// Permits to render: the blocking threads rendering may occupy at once.
    pool: Arc<tokio::sync::Semaphore>,
}

impl RenderLimits {
    /// One MiB per step and a second per message by default, with twice as many
    /// rendering threads as the machine has cores (at least four), so that one
    /// runaway template cannot take every one.
    pub fn new(output: usize, deadline: Duration) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        Self {
            output,
            deadline,
            pool: Arc::new(tokio::sync::Semaphore::new((cores * 2).max(4))),
        }
    }
}

impl Default for RenderLimits {
    fn default() -> Self {
        Self::new(DEFAULT_RENDER_OUTPUT, DEFAULT_RENDER_DEADLINE)
    }
}

/// How long the rendering steps of one message may run in place, on an async worker,
/// before the rest moves to the blocking pool: far more than a usual message takes,
/// far less than a request may wait.
const INLINE: Duration = Duration::from_micros(250);

/// The most one step renders unless configured otherwise.
pub const DEFAULT_RENDER_OUTPUT: usize = 1024 * 1024;
/// How long one message's rendering may take unless configured otherwise.
pub const DEFAULT_RENDER_DEADLINE: Duration = Duration::from_secs(1);

/// Which limit a rendering passed.
#[derive(Clone, Copy, Debug)]
enum Passed {
    Output,
    Deadline,
    /// Its time in place on an async worker: it goes on on the blocking pool.
    Inline,
}

impl Passed {
    fn describe(self, budget: &Budget) -> String {
        match self {
            Passed::Output => format!(
                "the rendered output passed the cap of {} bytes per step (--render-output-limit)",
                budget.output
            ),
            Passed::Deadline => late(budget.deadline_ms),
            Passed::Inline => "moved to the rendering threads".to_owned(),
        }
    }
}

/// Why a message failed at its render deadline of `ms`.
fn late(ms: u128) -> String {
    format!("rendering took longer than the render deadline of {ms} ms (--render-deadline-ms)")
}

/// What is left of one message's rendering limits.
struct Budget {
    output: usize,
    written: usize,
    deadline: Instant,
    deadline_ms: u128,
    passed: Option<Passed>,
    /// Until when it may render in place (on an async worker), if it does.
    inline_until: Option<Instant>,
    /// Set when a step passed `inline_until`: it is to be rendered elsewhere.
    moved: bool,
}

impl Budget {
    fn new(output: usize, deadline: Instant) -> Self {
        Self {
            output,
            written: 0,
            deadline,
            deadline_ms: deadline
                .saturating_duration_since(Instant::now())
                .as_millis(),
            passed: None,
            inline_until: None,
            moved: false,
        }
    }

    /// Each step has the whole output cap; the deadline runs on.
    fn start_step(&mut self) {
        self.written = 0;
    }
}

/// Collects what a template writes, refusing (which stops the rendering) once the
/// step's output passes its cap or the message passes its deadline: the check is on
/// every write, so a loop that keeps writing stops there rather than when it is done.
struct CappedWriter<'a> {
    text: Vec<u8>,
    budget: &'a mut Budget,
}

impl std::io::Write for CappedWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let budget = &mut *self.budget;
        budget.written = budget.written.saturating_add(bytes.len());
        let now = Instant::now();
        if budget.written > budget.output {
            budget.passed = Some(Passed::Output);
        } else if now > budget.deadline {
            budget.passed = Some(Passed::Deadline);
        } else if budget.inline_until.is_some_and(|until| now > until) {
            budget.passed = Some(Passed::Inline);
        }
        if budget.passed.is_some() {
            return Err(std::io::Error::other("a rendering limit was passed"));
        }
        self.text.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Run {
    /// Records how step `index` went, and what it leaves the message with.
    fn apply(&mut self, index: usize, kind: &'static str, result: Result<StepResult, String>) {
        match result {
            Ok(StepResult::Continue { body, detail }) => {
                self.steps.push(StepReport {
                    index,
                    kind,
                    outcome: Outcome::Ok,
                    detail,
                });
                if let Some(body) = body {
                    self.body = body;
                }
            }
            Ok(StepResult::Drop) => {
                self.steps.push(StepReport {
                    index,
                    kind,
                    outcome: Outcome::Filtered,
                    detail: "the condition does not hold: message dropped".into(),
                });
                self.outcome = Outcome::Filtered;
            }
            Err(error) => {
                self.steps.push(StepReport {
                    index,
                    kind,
                    outcome: Outcome::Failed,
                    detail: short(&error),
                });
                self.outcome = Outcome::Failed;
                self.error = Some(format!("steps[{index}] ({kind}): {error}"));
                self.failed_step = Some(index);
            }
        }
    }
}

enum StepResult {
    Continue { body: Option<Value>, detail: String },
    Drop,
}

impl CompiledStep {
    fn kind(&self) -> &'static str {
        match self {
            CompiledStep::Log { .. } => StepKind::Log,
            CompiledStep::Transform { .. } => StepKind::Transform,
            CompiledStep::Filter { .. } => StepKind::Filter,
            CompiledStep::Http { .. } => StepKind::Http,
            CompiledStep::Sql { .. } => StepKind::Sql,
            CompiledStep::Redis { .. } => StepKind::Redis,
            CompiledStep::NatsPublish { .. } => StepKind::NatsPublish,
            CompiledStep::AmqpPublish { .. } => StepKind::AmqpPublish,
            CompiledStep::MqttPublish { .. } => StepKind::MqttPublish,
        }
        .as_str()
    }

    /// Whether the step waits for another system (and runs on the async workers, not
    /// in a stretch of rendering).
    fn waits(&self) -> bool {
        match self {
            CompiledStep::Http { .. }
            | CompiledStep::Sql { .. }
            | CompiledStep::Redis { .. }
            | CompiledStep::NatsPublish { .. }
            | CompiledStep::AmqpPublish { .. }
            | CompiledStep::MqttPublish { .. } => true,
            CompiledStep::Log { .. }
            | CompiledStep::Transform { .. }
            | CompiledStep::Filter { .. } => false,
        }
    }
}

fn compile_tree(builder: &mut Builder<'_>, path: &str, value: &Value) -> Result<Tree, BuildError> {
    Ok(match value {
        Value::String(text) if !text.contains("{{") && !text.contains("{%") => {
            Tree::String(text.as_str().into())
        }
        Value::String(text) => match single_expression(text) {
            Some(expression) => {
                Tree::Typed(builder.add(path, format!("{{{{ ({expression}) | tojson }}}}"))?)
            }
            None => Tree::Text(builder.add(path, text.clone())?),
        },
        Value::Array(items) => Tree::Array(
            items
                .iter()
                .enumerate()
                .map(|(index, item)| compile_tree(builder, &format!("{path}[{index}]"), item))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(fields) => Tree::Object(
            fields
                .iter()
                .map(|(key, item)| {
                    Ok((
                        key.as_str().into(),
                        compile_tree(builder, &format!("{path}.{key}"), item)?,
                    ))
                })
                .collect::<Result<_, BuildError>>()?,
        ),
        Value::Null => Tree::Null,
        Value::Bool(value) => Tree::Bool(*value),
        Value::Number(value) => Tree::Number(value.clone()),
    })
}

/// The expression of a leaf that is exactly one `{{ expr }}`.
fn single_expression(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.trim();
    (!inner.contains("{{") && !inner.contains("}}") && !inner.is_empty()).then_some(inner)
}

async fn send(
    http: &HttpEgress,
    (allow_private, method): (bool, HttpMethod),
    target: &str,
    headers: &BTreeMap<String, String>,
    timeout: Duration,
    body: &Value,
) -> Result<StepResult, String> {
    let method =
        reqwest::Method::from_bytes(method.as_str().as_bytes()).map_err(|err| err.to_string())?;
    let body = (method != reqwest::Method::GET).then_some(body);
    let response = http
        .send_reaching(allow_private, method, target, headers, body, timeout)
        .await?;
    // What activity and answers say of the URL: never its credentials.
    let shown = super::egress::shown_url(response.url().as_str());
    let url = shown.as_str();
    let status = response.status();
    if !status.is_success() {
        return Err(format!("{url} answered {status}"));
    }
    let is_json = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.contains("json"));
    let bytes = http.read_answer(response, url).await?;
    let next = if is_json && !bytes.iter().all(u8::is_ascii_whitespace) {
        Some(
            serde_json::from_slice(&bytes)
                .map_err(|err| format!("{url} answered invalid JSON: {err}"))?,
        )
    } else {
        None
    };
    Ok(StepResult::Continue {
        detail: format!("{status} from {url}"),
        body: next,
    })
}

fn describe_template_error(err: &minijinja::Error) -> String {
    let mut text = err.to_string();
    if let Some(detail) = err.detail()
        && !text.contains(detail)
    {
        text.push_str(": ");
        text.push_str(detail);
    }
    text
}

/// A detail short enough for a list.
fn short(text: &str) -> String {
    const MAX: usize = 200;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(MAX).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Loopback open: these tests' targets (and non-targets) are local.
    fn test_egress() -> HttpEgress {
        let policy =
            crate::runtime::egress::EgressPolicy::from_lists(&["127.0.0.0/8".into()], &[]).unwrap();
        HttpEgress::new(std::sync::Arc::new(policy), 1024 * 1024)
    }

    fn flow(steps: Value) -> Arc<CompiledFlow> {
        let definition = Definition::parse(&json!({
            "trigger": { "kind": "webhook", "path": "t" }, "steps": steps
        }))
        .unwrap();
        Arc::new(
            CompiledFlow::build(&definition, &Templates::default(), &Connected::default()).unwrap(),
        )
    }

    async fn run(flow: &Arc<CompiledFlow>, body: Value) -> Run {
        flow.run(body, &test_egress(), &RenderLimits::default())
            .await
    }

    async fn run_within(flow: &Arc<CompiledFlow>, body: Value, limits: RenderLimits) -> Run {
        flow.run(body, &test_egress(), &limits).await
    }

    #[tokio::test]
    async fn a_step_whose_output_passes_the_cap_fails_naming_the_cap() {
        let flow = flow(json!([
            { "kind": "log", "message": "{% for i in range(10000) %}{{ body.text }}{% endfor %}" },
            { "kind": "log", "message": "never" }
        ]));

        let run = run(&flow, json!({ "text": "x".repeat(200) })).await;

        assert_eq!(run.outcome, Outcome::Failed);
        assert_eq!(run.failed_step, Some(0));
        let error = run.error.unwrap();
        assert!(
            error.contains("passed the cap of 1048576 bytes per step"),
            "{error}"
        );
        assert!(error.contains("steps[0].message"), "{error}");
    }

    #[tokio::test]
    async fn the_leaves_of_a_transform_share_the_output_cap_of_their_step() {
        let flow = flow(json!([
            { "kind": "transform", "template": { "a": "{{ body.text }}", "b": "{{ body.text }}" } },
        ]));
        let limits = RenderLimits::new(1000, Duration::from_secs(5));

        let one_fits = run_within(&flow, json!({ "text": "x".repeat(400) }), limits.clone()).await;
        let two_do_not = run_within(&flow, json!({ "text": "x".repeat(600) }), limits).await;

        assert_eq!(one_fits.outcome, Outcome::Ok);
        assert_eq!(two_do_not.outcome, Outcome::Failed);
        assert!(
            two_do_not.error.unwrap().contains("steps[0].template.b"),
            "the second leaf passes it"
        );
    }

    #[tokio::test]
    async fn each_step_has_the_whole_output_cap() {
        let flow = flow(json!([
            { "kind": "log", "message": "{{ body.text }}" },
            { "kind": "log", "message": "{{ body.text }}" },
        ]));
        let limits = RenderLimits::new(1000, Duration::from_secs(5));

        let run = run_within(&flow, json!({ "text": "x".repeat(600) }), limits).await;

        assert_eq!(run.outcome, Outcome::Ok);
    }

    #[tokio::test]
    async fn a_message_past_its_render_deadline_fails_naming_the_deadline() {
        let flow = flow(json!([
            { "kind": "filter", "condition": "true" },
            { "kind": "log", "message": "{{ body.text }}" },
        ]));
        let already_late = RenderLimits::new(1000, Duration::ZERO);

        let run = run_within(&flow, json!({ "text": "late" }), already_late).await;

        assert_eq!(run.outcome, Outcome::Failed);
        let error = run.error.unwrap();
        assert!(error.contains("render deadline of 0 ms"), "{error}");
    }

    #[tokio::test]
    async fn a_rendering_that_outlasts_its_time_in_place_goes_on_elsewhere_and_completes() {
        let flow = flow(json!([
            { "kind": "log", "message": "first" },
            { "kind": "log", "message": "{% for i in range(20000) %}{{ i }},{% endfor %}" },
            { "kind": "log", "message": "last" },
        ]));

        let run = run(&flow, json!({})).await;

        assert_eq!(run.outcome, Outcome::Ok, "{:?}", run.error);
        assert_eq!(run.steps.len(), 3, "each step reported once");
        assert!(run.steps[1].detail.starts_with("0,1,2,"));
        assert_eq!(run.steps[2].detail, "last");
    }

    #[tokio::test]
    async fn the_reports_of_steps_before_an_http_step_are_kept_with_it() {
        let flow = flow(json!([
            { "kind": "log", "message": "before" },
            { "kind": "http", "method": "POST", "url": "http://127.0.0.1:9/none", "timeout_seconds": 2 },
            { "kind": "log", "message": "after" },
        ]));

        let run = run(&flow, json!({})).await;

        assert_eq!(run.steps.len(), 2);
        assert_eq!(run.steps[0].detail, "before");
        assert_eq!(run.failed_step, Some(1));
    }

    #[tokio::test]
    async fn a_transform_leaf_that_is_one_expression_keeps_its_json_type() {
        let flow = flow(json!([{ "kind": "transform", "template": {
            "id": "{{ body.id }}", "total": "{{ body.qty * body.price }}",
            "label": "order {{ body.id }}", "fixed": 3, "nested": ["{{ body.qty > 1 }}"]
        }}]));

        let run = run(&flow, json!({ "id": 7, "qty": 2, "price": 1.5 })).await;

        assert_eq!(run.outcome, Outcome::Ok);
        assert_eq!(
            run.body,
            json!({ "id": 7, "total": 3.0, "label": "order 7", "fixed": 3, "nested": [true] })
        );
    }

    #[tokio::test]
    async fn a_filter_that_does_not_hold_drops_the_message() {
        let flow = flow(json!([
            { "kind": "filter", "condition": "body.qty > 0" },
            { "kind": "log", "message": "never" }
        ]));

        let kept = run(&flow, json!({ "qty": 1 })).await;
        let dropped = run(&flow, json!({ "qty": 0 })).await;

        assert_eq!(kept.outcome, Outcome::Ok);
        assert_eq!(dropped.outcome, Outcome::Filtered);
        assert_eq!(dropped.steps.len(), 1, "later steps do not run");
    }

    #[tokio::test]
    async fn a_log_step_renders_its_message_into_the_detail() {
        let flow = flow(json!([{ "kind": "log", "message": "order {{ body.id }} seen" }]));

        let run = run(&flow, json!({ "id": "A1" })).await;

        assert_eq!(run.steps[0].detail, "order A1 seen");
    }

    #[tokio::test]
    async fn a_step_that_fails_at_run_time_names_itself() {
        let flow = flow(
            json!([{ "kind": "transform", "template": { "x": "{{ body.items | length }}" } }]),
        );

        let run = run(&flow, json!({ "items": 5 })).await;

        assert_eq!(run.outcome, Outcome::Failed);
        assert_eq!(run.failed_step, Some(0));
        assert!(run.error.unwrap().starts_with("steps[0] (transform): "));
    }

    #[tokio::test]
    async fn an_http_step_to_nowhere_fails_with_the_reason() {
        let flow = flow(
            json!([{ "kind": "http", "method": "POST", "url": "http://127.0.0.1:9/none", "timeout_seconds": 2 }]),
        );

        let run = run(&flow, json!({})).await;

        assert_eq!(run.outcome, Outcome::Failed);
        assert!(
            run.steps[0]
                .detail
                .contains("cannot reach http://127.0.0.1:9/none"),
            "{}",
            run.steps[0].detail
        );
    }

    #[tokio::test]
    async fn identical_templates_are_compiled_once_and_leave_with_the_last_flow_using_them() {
        let templates = Templates::default();
        let logging = |message: &str| {
            Definition::parse(&json!({
                "trigger": { "kind": "webhook", "path": "t" },
                "steps": [{ "kind": "log", "message": message }]
            }))
            .unwrap()
        };
        let first = CompiledFlow::build(
            &logging("a {{ body.x }}"),
            &templates,
            &Connected::default(),
        )
        .unwrap();
        let second = Arc::new(
            CompiledFlow::build(
                &logging("a {{ body.x }}"),
                &templates,
                &Connected::default(),
            )
            .unwrap(),
        );
        let other = CompiledFlow::build(
            &logging("b {{ body.x }}"),
            &templates,
            &Connected::default(),
        )
        .unwrap();
        assert_eq!(templates.compiled(), 2);

        drop(first);

        assert_eq!(templates.compiled(), 2, "the second flow still uses it");
        let run = run(&second, json!({ "x": 1 })).await;
        assert_eq!(run.steps[0].detail, "a 1", "the other flow still runs");
        drop(second);
        assert_eq!(templates.compiled(), 1);
        drop(other);
        assert_eq!(templates.compiled(), 0);
    }

    #[tokio::test]
    async fn a_failing_shared_template_is_reported_at_the_place_in_each_definition() {
        let templates = Templates::default();
        let definition = Definition::parse(&json!({
            "trigger": { "kind": "webhook", "path": "t" },
            "steps": [{ "kind": "transform", "template": { "a": "{{ body.missing.deeper }}" } }]
        }))
        .unwrap();
        let flow =
            Arc::new(CompiledFlow::build(&definition, &templates, &Connected::default()).unwrap());

        let run = run(&flow, json!({})).await;

        let error = run.error.unwrap_or_default();
        assert!(error.contains("steps[0].template.a"), "{error}");
        assert!(!error.contains("template-"), "{error}");
    }

    #[test]
    fn a_template_with_a_syntax_error_fails_the_build_naming_its_place() {
        let definition = Definition::parse(&json!({
            "trigger": { "kind": "webhook", "path": "t" },
            "steps": [{ "kind": "log", "message": "fine" }, { "kind": "transform", "template": { "a": "{{ body. }}" } }]
        }))
        .unwrap();

        let templates = Templates::default();
        let Err(err) = CompiledFlow::build(&definition, &templates, &Connected::default()) else {
            panic!("should not compile")
        };

        assert_eq!(err.path, "steps[1].template.a");
        assert_eq!(
            templates.compiled(),
            0,
            "a failed build leaves nothing behind"
        );
    }

    #[test]
    fn a_condition_with_a_syntax_error_fails_the_build() {
        let definition = Definition::parse(&json!({
            "trigger": { "kind": "webhook", "path": "t" },
            "steps": [{ "kind": "filter", "condition": "body.qty >" }]
        }))
        .unwrap();

        let templates = Templates::default();
        let Err(err) = CompiledFlow::build(&definition, &templates, &Connected::default()) else {
            panic!("should not compile")
        };

        assert_eq!(err.path, "steps[0].condition");
    }
}
