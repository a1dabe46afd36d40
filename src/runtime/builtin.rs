//! The built-in runtime: each active integration runs inside this server. A webhook
//! flow runs in the request that calls it; a timer flow in a task of its own, watched
//! so that its death is seen and reported.

use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::task::AbortHandle;

use super::activity::{Activity, ActivitySink};
use super::egress::HttpEgress;
use super::flow::{CompiledFlow, Outcome, RenderLimits, Run, Templates};
use super::{Health, Runtime, RuntimeError, Status, WebhookAnswer, WebhookCall};
use crate::domain::IntegrationId;
use crate::domain::definition::{Definition, Trigger};
use crate::domain::version::VersionNumber;

/// The most rows one poll takes; more wait for the next, which follows at once.
const POLL_BATCH: u64 = 1000;

/// Runs flows in this process.
pub struct BuiltinRuntime {
    inner: Mutex<Inner>,
    /// How flows reach other systems: through the egress policy.
    http: HttpEgress,
    /// What rendering one message may take.
    render: RenderLimits,
    activity: ActivitySink,
    templates: Templates,
    metrics: crate::metrics::Metrics,
    /// Whether a timer's lease is still surely this server's.
    fence: crate::reconciler::fence::Fence,
    /// Where the connections flows name are found (and poll cursors kept), and their
    /// pools; without it, a flow that names a connection does not build.
    connections: Option<ConnectionSource>,
    /// The largest message a broker's trigger runs (as the webhook body limit).
    message_limit: usize,
}

/// How long a stopping consumer may take to finish the messages in flight before
/// its task is ended (the broker then gives them to another consumer).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// The connections' store and pools.
#[derive(Clone)]
pub struct ConnectionSource {
    pub store: crate::store::Store,
    pub connectors: super::sql::Connectors,
    pub brokers: super::brokers::Brokers,
}

/// The revision of each connection a flow was built with.
type BuiltWith = Vec<(String, i64)>;

#[derive(Default)]
struct Inner {
    /// Compiled and ready, not yet deployed.
    built: HashMap<IntegrationId, (VersionNumber, Arc<CompiledFlow>, BuiltWith)>,
    deployed: HashMap<IntegrationId, Deployed>,
    /// What answers each webhook path: the started version of its integration. It
    /// changes in one step when a new version starts (never both versions answer,
    /// never neither), so the old version keeps answering while the new one deploys.
    hooks: HashMap<String, Hook>,
}

/// The flow answering a webhook path.
struct Hook {
    id: IntegrationId,
    version: VersionNumber,
    flow: Arc<CompiledFlow>,
}

struct Deployed {
    version: VersionNumber,
    flow: Arc<CompiledFlow>,
    built_with: BuiltWith,
    started: bool,
    /// The flow's own task, for a trigger that runs one (a webhook flow runs in the
    /// requests that call it): allocated for those alone, since a server may run ten
    /// thousand webhook flows.
    task: Option<Box<Task>>,
    /// Why a flow without a task of its own was killed (`kill`).
    killed: Option<Box<str>>,
}

/// A flow's own task (a timer, a schedule, a poller, a consumer) and its health.
struct Task {
    abort: AbortHandle,
    /// Why the task died, once it has.
    death: Arc<Mutex<Option<String>>>,
    /// Set before a deliberate stop, so that the watcher does not report a death.
    stopping: Arc<std::sync::atomic::AtomicBool>,
    /// Why it is not taking messages yet (a poller before its first poll answered),
    /// or `None` once it is.
    coming_up: Arc<Mutex<Option<String>>>,
    /// For a task that drains before it ends (a broker's consumer): told to stop
    /// taking messages.
    drain: Option<tokio::sync::watch::Sender<bool>>,
    /// Ends once the task has, having recorded how.
    watcher: tokio::task::JoinHandle<()>,
}

impl BuiltinRuntime {
    /// A runtime whose flows reach other systems through `http` (the egress policy
    /// and the answer limit) and render within `render`.
    pub fn new(activity: ActivitySink, http: HttpEgress, render: RenderLimits) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            http,
            render,
            activity,
            templates: Templates::default(),
            metrics: crate::metrics::Metrics::default(),
            fence: crate::reconciler::fence::Fence::open(),
            connections: None,
            message_limit: 1024 * 1024,
        }
    }

    /// The same runtime, running broker messages of at most `bytes`.
    pub fn with_message_limit(mut self, bytes: usize) -> Self {
        self.message_limit = bytes;
        self
    }

    /// The same runtime, finding the connections flows name in `source`.
    pub fn with_connections(mut self, source: ConnectionSource) -> Self {
        self.connections = Some(source);
        self
    }

    /// The same runtime, running a timer's messages only while `fence` says its lease
    /// is this server's.
    pub fn with_fence(mut self, fence: crate::reconciler::fence::Fence) -> Self {
        self.fence = fence;
        self
    }

    /// The same runtime, counting the flows it runs on `metrics`.
    pub fn with_metrics(mut self, metrics: crate::metrics::Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Sets the gauge of flows running from what is started now.
    fn count_running(&self, inner: &Inner) {
        let running = inner.deployed.values().filter(|d| d.started).count();
        self.metrics
            .flows_running
            .set(i64::try_from(running).unwrap_or(i64::MAX));
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock leaves maps that are still consistent (each
        // change is one insert or remove), so carrying on is safe.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// What the task of the flow `deployed` for `id` runs its messages with.
    fn runner(&self, id: IntegrationId, deployed: &Deployed) -> Runner {
        Runner {
            id,
            version: deployed.version,
            flow: deployed.flow.clone(),
            http: self.http.clone(),
            render: self.render.clone(),
            activity: self.activity.clone(),
        }
    }

    /// Kills the task that runs an integration, as a crash would: for tests and for
    /// operators checking that the reconciler brings it back.
    pub fn kill(&self, id: IntegrationId, reason: &str) {
        let mut inner = self.lock();
        let Some(deployed) = inner.deployed.get_mut(&id) else {
            return;
        };
        match &deployed.task {
            Some(task) => {
                *task.death.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason.to_owned());
                task.abort.abort();
            }
            None => deployed.killed = Some(reason.into()),
        }
    }

    fn start_timer(&self, id: IntegrationId, deployed: &mut Deployed, every: Duration) {
        let runner = self.runner(id, deployed);
        let fence = self.fence.clone();
        let ticking = tokio::spawn(async move {
            let mut interval = tokio::time::interval(every);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut tick: u64 = 0;
            loop {
                interval.tick().await;
                // A server that stalled past its lease (another may run this timer
                // now) or cannot renew it skips the tick; the reconciler stops the
                // flow, or confirms the lease and it goes on.
                if !fence.holds(id) {
                    continue;
                }
                tick += 1;
                let body = json!({ "tick": tick, "time": chrono::Utc::now().to_rfc3339() });
                runner.run(body, "timer").await;
            }
            // The loop never ends: the task ends when it is stopped (or dies).
            #[allow(unreachable_code)]
            Ok::<(), String>(())
        });
        self.watch(id, deployed, ticking, Arc::default(), None);
    }

    /// Starts a cron trigger's task: it sleeps until the schedule's next time, and runs
    /// the flow then (only while this server surely holds the lease), with the time it
    /// was due as the message.
    fn start_cron(
        &self,
        id: IntegrationId,
        deployed: &mut Deployed,
        schedule: super::schedule::Schedule,
    ) {
        let runner = self.runner(id, deployed);
        let fence = self.fence.clone();
        let ticking = tokio::spawn(async move {
            let mut after = chrono::Utc::now();
            while let Some(due) = schedule.next_after(after) {
                let wait = (due - chrono::Utc::now()).to_std().unwrap_or_default();
                tokio::time::sleep(wait).await;
                after = due;
                if !fence.holds(id) {
                    continue;
                }
                let local = due.with_timezone(&schedule.zone());
                let body = json!({
                    "time": due.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    "local_time": local.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
                    "time_zone": schedule.zone().name(),
                });
                runner.run(body, "cron").await;
            }
            // A schedule that names no more times (a year long past) has ended.
            Err::<(), String>("the schedule names no time after now".to_owned())
        });
        self.watch(id, deployed, ticking, Arc::default(), None);
    }

    /// Starts a sql_poll trigger's task: every `every`, the rows after the cursor, each
    /// run and recorded before the cursor moves past it. A query that fails ends the
    /// task with the cause: a death, which the reconciler retries.
    fn start_poller(
        &self,
        id: IntegrationId,
        deployed: &mut Deployed,
        every: Duration,
    ) -> Result<(), RuntimeError> {
        let Trigger::SqlPoll {
            query,
            cursor,
            start,
            ..
        } = deployed.flow.trigger.clone()
        else {
            return Err(RuntimeError("not a sql_poll trigger".into()));
        };
        let (Some(source), super::flow::TriggerSource::Sql(pool)) =
            (self.connections.clone(), deployed.flow.source())
        else {
            return Err(RuntimeError("no connections are available to poll".into()));
        };
        let runner = self.runner(id, deployed);
        let fence = self.fence.clone();
        // Progressing until the first poll answers: a poller that never reaches its
        // database fails as a deployment does, counted by the retry policy.
        let coming_up = Arc::new(Mutex::new(Some("polling for the first time".to_owned())));
        let polled = coming_up.clone();
        let polling = tokio::spawn(async move {
            let mut interval = tokio::time::interval(every);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                if !fence.holds(id) {
                    continue;
                }
                // Where the last recorded run got to; a new cursor column starts over.
                let after = match source.store.poll_cursor(id).await {
                    Ok(Some((column, value))) if column == cursor => value,
                    Ok(Some(_) | None) => start.clone(),
                    Err(err) => {
                        tracing::warn!(integration = %id, error = %err, "cannot read the poll cursor");
                        continue;
                    }
                };
                let found = pool
                    .run(
                        &query,
                        std::slice::from_ref(&after),
                        super::sql::DEFAULT_TIMEOUT,
                        POLL_BATCH,
                        super::sql::AtCap::Stop,
                    )
                    .await
                    .map_err(|why| format!("polling failed: {why}"))?;
                polled.lock().unwrap_or_else(|p| p.into_inner()).take();
                for row in found.rows {
                    let Some(next) = row.get(&cursor).cloned() else {
                        return Err(format!(
                            "the query's rows have no column {cursor:?}, which is the cursor"
                        ));
                    };
                    // A lease lost while polling: the rest is the new holder's.
                    if !fence.holds(id) {
                        break;
                    }
                    runner.run(Value::Object(row), "sql_poll").await;
                    if let Err(err) = source.store.set_poll_cursor(id, &cursor, &next).await {
                        // The row comes again at the next poll: at least once.
                        tracing::warn!(integration = %id, error = %err, "cannot move the poll cursor");
                        break;
                    }
                }
                if found.capped {
                    // More rows wait: go on without waiting for the next tick.
                    interval.reset_immediately();
                }
            }
            #[allow(unreachable_code)]
            Ok::<(), String>(())
        });
        self.watch(id, deployed, polling, coming_up, None);
        Ok(())
    }

    /// Starts an amqp trigger's consumer: "connecting" until it takes messages, then
    /// running until it is drained; a broker that goes away ends it with the cause.
    fn start_amqp(&self, id: IntegrationId, deployed: &mut Deployed) -> Result<(), RuntimeError> {
        let Trigger::Amqp {
            queue,
            declare,
            prefetch,
            dead_letter_exchange,
            max_redeliveries,
            ..
        } = deployed.flow.trigger.clone()
        else {
            return Err(RuntimeError("not an amqp trigger".into()));
        };
        let super::flow::TriggerSource::Amqp(target) = deployed.flow.source() else {
            return Err(RuntimeError("the trigger's connection is not open".into()));
        };
        let consume = super::amqp::Consume {
            target,
            queue,
            declare,
            prefetch,
            dead_letter_exchange,
            max_redeliveries,
            message_limit: self.message_limit,
        };
        let connecting = format!("connecting to RabbitMQ at {}", consume.target.place());
        self.start_consuming(id, deployed, connecting, move |t| {
            consume.run(t.runner, t.drain, t.coming_up)
        });
        Ok(())
    }

    /// Starts a nats trigger's listener: "connecting" until it takes messages.
    fn start_nats(&self, id: IntegrationId, deployed: &mut Deployed) -> Result<(), RuntimeError> {
        let Trigger::Nats {
            subject,
            stream,
            durable,
            prefetch,
            max_redeliveries,
            ..
        } = deployed.flow.trigger.clone()
        else {
            return Err(RuntimeError("not a nats trigger".into()));
        };
        let super::flow::TriggerSource::Nats(target) = deployed.flow.source() else {
            return Err(RuntimeError("the trigger's connection is not open".into()));
        };
        let listen = super::nats::Listen {
            target,
            subject,
            jetstream: stream.zip(durable),
            prefetch,
            max_redeliveries,
            message_limit: self.message_limit,
        };
        let connecting = format!("connecting to NATS at {}", listen.target.place());
        self.start_consuming(id, deployed, connecting, move |t| {
            listen.run(t.runner, t.fence, t.drain, t.coming_up)
        });
        Ok(())
    }

    /// Starts a redis trigger's reader: "connecting" until it reads.
    fn start_redis(&self, id: IntegrationId, deployed: &mut Deployed) -> Result<(), RuntimeError> {
        let Trigger::Redis {
            stream,
            group,
            channel,
            prefetch,
            max_redeliveries,
            ..
        } = deployed.flow.trigger.clone()
        else {
            return Err(RuntimeError("not a redis trigger".into()));
        };
        let super::flow::TriggerSource::Redis(target) = deployed.flow.source() else {
            return Err(RuntimeError("the trigger's connection is not open".into()));
        };
        let source = match (stream, group, channel) {
            (Some(stream), Some(group), _) => {
                super::redis_trigger::Source::Stream { stream, group }
            }
            (_, _, Some(channel)) => super::redis_trigger::Source::Channel(channel),
            (_, _, None) => {
                return Err(RuntimeError(
                    "a redis trigger needs a stream and group, or a channel".into(),
                ));
            }
        };
        let read = super::redis_trigger::Read {
            target,
            source,
            prefetch,
            max_redeliveries,
            message_limit: self.message_limit,
        };
        let connecting = format!("connecting to Redis at {}", read.target.place());
        self.start_consuming(id, deployed, connecting, move |t| {
            read.run(t.runner, t.fence, t.drain, t.coming_up)
        });
        Ok(())
    }

    /// Starts an mqtt trigger's subscription: "connecting" until the broker confirms
    /// the subscription.
    fn start_mqtt(&self, id: IntegrationId, deployed: &mut Deployed) -> Result<(), RuntimeError> {
        let Trigger::Mqtt { topic, qos, .. } = deployed.flow.trigger.clone() else {
            return Err(RuntimeError("not an mqtt trigger".into()));
        };
        let super::flow::TriggerSource::Mqtt(target) = deployed.flow.source() else {
            return Err(RuntimeError("the trigger's connection is not open".into()));
        };
        let subscribe = super::mqtt::Subscribe {
            target,
            topic,
            qos,
            // The integration's own session, the same on every server.
            session: id.to_string().chars().take(8).collect(),
            message_limit: self.message_limit,
        };
        let connecting = format!("connecting to MQTT at {}", subscribe.target.place());
        self.start_consuming(id, deployed, connecting, move |t| {
            subscribe.run(t.runner, t.fence, t.drain, t.coming_up)
        });
        Ok(())
    }

    /// Starts a broker's consumer task made by `consume`: `connecting` says what it
    /// does until it takes messages; it drains when stopped and is watched.
    fn start_consuming<F, Fut>(
        &self,
        id: IntegrationId,
        deployed: &mut Deployed,
        connecting: String,
        consume: F,
    ) where
        F: FnOnce(Taking) -> Fut,
        Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
    {
        let runner = self.runner(id, deployed);
        let coming_up = Arc::new(Mutex::new(Some(connecting)));
        let (drain, drained) = tokio::sync::watch::channel(false);
        let consuming = tokio::spawn(consume(Taking {
            runner,
            fence: self.fence.clone(),
            drain: drained,
            coming_up: coming_up.clone(),
        }));
        self.watch(id, deployed, consuming, coming_up, Some(drain));
    }

    /// Watches a flow's task, which says in `coming_up` why it is not taking messages
    /// yet and stops taking them when told through `drain` (if it drains): how it
    /// ended says whether (and why) it died.
    fn watch<T: Send + 'static>(
        &self,
        id: IntegrationId,
        deployed: &mut Deployed,
        ticking: tokio::task::JoinHandle<Result<T, String>>,
        coming_up: Arc<Mutex<Option<String>>>,
        drain: Option<tokio::sync::watch::Sender<bool>>,
    ) {
        let abort = ticking.abort_handle();
        let death: Arc<Mutex<Option<String>>> = Arc::default();
        let stopping: Arc<std::sync::atomic::AtomicBool> = Arc::default();
        let (died, stopped) = (death.clone(), stopping.clone());
        // The watcher: how the task ended says whether it died.
        let watcher = tokio::spawn(async move {
            let ended = ticking.await;
            if stopped.load(std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            let reason = match ended {
                Err(err) if err.is_panic() => {
                    let payload = err.into_panic();
                    let message = payload
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| payload.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "no message".to_owned());
                    format!("the timer task panicked: {message}")
                }
                Err(_) => "the timer task was killed".to_owned(),
                Ok(Err(reason)) => reason,
                Ok(Ok(_)) => "the timer task ended".to_owned(),
            };
            let mut slot = died.lock().unwrap_or_else(|p| p.into_inner());
            if slot.is_none() {
                tracing::error!(integration = %id, %reason, "a running integration died");
                *slot = Some(reason);
            }
        });
        deployed.task = Some(Box::new(Task {
            abort,
            death,
            stopping,
            coming_up,
            drain,
            watcher,
        }));
    }
}

/// What a broker's consumer task is given: how to run and record a message, whether
/// the lease is still this server's, when to drain, and where to say it is still
/// connecting.
struct Taking {
    runner: Runner,
    fence: crate::reconciler::fence::Fence,
    drain: tokio::sync::watch::Receiver<bool>,
    coming_up: Arc<Mutex<Option<String>>>,
}

/// What a flow's own task (a timer, a schedule, a poller, a consumer) needs to run a
/// message and record it.
pub struct Runner {
    id: IntegrationId,
    version: VersionNumber,
    flow: Arc<CompiledFlow>,
    http: HttpEgress,
    render: RenderLimits,
    activity: ActivitySink,
}

impl Runner {
    pub fn id(&self) -> IntegrationId {
        self.id
    }

    /// Runs a message and records it, answering how it went and whether the record
    /// was written: a broker's message is acknowledged only once it is.
    pub async fn run_confirmed(&self, body: Value, trigger: &'static str) -> (Outcome, bool) {
        let started_at_ms = chrono::Utc::now().timestamp_millis();
        let clock = Instant::now();
        let run = self.flow.run(body, &self.http, &self.render).await;
        let recorded = self
            .activity
            .record_confirmed(Activity {
                integration_id: self.id,
                version: self.version,
                trigger,
                started_at_ms,
                duration_us: i64::try_from(clock.elapsed().as_micros()).unwrap_or(i64::MAX),
                outcome: run.outcome.clone(),
                steps: run.steps,
                error: run.error,
            })
            .await;
        (run.outcome, recorded)
    }

    /// Records a message that could not run (`why`), as `run_confirmed` does a run.
    pub async fn fail_confirmed(&self, why: String, trigger: &'static str) -> (Outcome, bool) {
        let recorded = self
            .activity
            .record_confirmed(Activity {
                integration_id: self.id,
                version: self.version,
                trigger,
                started_at_ms: chrono::Utc::now().timestamp_millis(),
                duration_us: 0,
                outcome: Outcome::Failed,
                steps: Vec::new(),
                error: Some(why),
            })
            .await;
        (Outcome::Failed, recorded)
    }

    async fn run(&self, body: Value, trigger: &'static str) -> Run {
        let limits = (&self.http, &self.render);
        run_and_record(
            &self.flow,
            body,
            limits,
            &self.activity,
            self.id,
            self.version,
            trigger,
        )
        .await
    }
}

async fn run_and_record(
    flow: &Arc<CompiledFlow>,
    body: Value,
    (http, render): (&HttpEgress, &RenderLimits),
    activity: &ActivitySink,
    id: IntegrationId,
    version: VersionNumber,
    trigger: &'static str,
) -> Run {
    let started_at_ms = chrono::Utc::now().timestamp_millis();
    let clock = Instant::now();
    let run = flow.run(body, http, render).await;
    activity.record(Activity {
        integration_id: id,
        version,
        trigger,
        started_at_ms,
        duration_us: i64::try_from(clock.elapsed().as_micros()).unwrap_or(i64::MAX),
        outcome: run.outcome.clone(),
        steps: run.steps.clone(),
        error: run.error.clone(),
    });
    run
}

/// Stops what runs for a deployed version: a consumer drains (its messages in flight
/// finish, within [`DRAIN_TIMEOUT`]), any other task ends at once.
async fn stop_deployed(deployed: Deployed) {
    let Some(task) = deployed.task else {
        return;
    };
    let Task {
        abort,
        stopping,
        drain,
        watcher,
        ..
    } = *task;
    stopping.store(true, std::sync::atomic::Ordering::SeqCst);
    if let Some(drain) = drain {
        let _ = drain.send(true);
        if tokio::time::timeout(DRAIN_TIMEOUT, watcher).await.is_ok() {
            return;
        }
        tracing::warn!(
            "a consumer did not finish its messages within {} s; they go back to the broker",
            DRAIN_TIMEOUT.as_secs()
        );
    }
    abort.abort();
}

#[async_trait::async_trait]
impl Runtime for BuiltinRuntime {
    async fn build(
        &self,
        id: IntegrationId,
        version: VersionNumber,
        definition: &Definition,
    ) -> Result<(), RuntimeError> {
        let mut connected = super::flow::Connected::default();
        let mut built_with = BuiltWith::new();
        for (path, name) in definition.connections() {
            if built_with.iter().any(|(seen, _)| seen == name) {
                continue;
            }
            let Some(source) = &self.connections else {
                return Err(RuntimeError(format!(
                    "{path}: connections are not available here"
                )));
            };
            let connection = source.store.open_connection(name).await.map_err(|err| {
                RuntimeError(match err {
                    crate::store::StoreError::NotFound(_) => {
                        format!("{path}: no connection is named {name:?}")
                    }
                    other => format!("{path}: {other}"),
                })
            })?;
            let failed = |why: String| RuntimeError(format!("{path}: connection {name}: {why}"));
            match connection.kind {
                crate::domain::connection::ConnectionKind::Postgres
                | crate::domain::connection::ConnectionKind::Mysql
                | crate::domain::connection::ConnectionKind::Sqlite => {
                    let pool = source.connectors.pool(&connection).await.map_err(failed)?;
                    connected.sql.insert(name.to_owned(), pool);
                }
                crate::domain::connection::ConnectionKind::Http => {
                    let through =
                        super::egress::HttpConnection::open(&connection).map_err(failed)?;
                    connected.http.insert(name.to_owned(), Arc::new(through));
                }
                crate::domain::connection::ConnectionKind::Redis => {
                    let target = source.brokers.redis(&connection).await.map_err(failed)?;
                    connected.redis.insert(name.to_owned(), Arc::new(target));
                }
                crate::domain::connection::ConnectionKind::Nats => {
                    let target = source.brokers.nats(&connection).await.map_err(failed)?;
                    connected.nats.insert(name.to_owned(), Arc::new(target));
                }
                crate::domain::connection::ConnectionKind::Amqp => {
                    let target = source.brokers.amqp(&connection).await.map_err(failed)?;
                    connected.amqp.insert(name.to_owned(), Arc::new(target));
                }
                crate::domain::connection::ConnectionKind::Mqtt => {
                    let target = source.brokers.mqtt(&connection).await.map_err(failed)?;
                    connected.mqtt.insert(name.to_owned(), Arc::new(target));
                }
                // Parsing and check_connections keep it out of flows; a stored flow
                // that names one anyway is told why.
                crate::domain::connection::ConnectionKind::Junction => {
                    return Err(failed(
                        "a Junction server is where versions are promoted, not something a flow reaches".into(),
                    ));
                }
            }
            built_with.push((name.to_owned(), connection.revision));
        }
        let flow = CompiledFlow::build(definition, &self.templates, &connected)
            .map_err(|err| RuntimeError(err.to_string()))?;
        self.lock()
            .built
            .insert(id, (version, Arc::new(flow), built_with));
        Ok(())
    }

    async fn deploy(&self, id: IntegrationId, version: VersionNumber) -> Result<(), RuntimeError> {
        let (flow, built_with, previous) = {
            let mut inner = self.lock();
            let (flow, built_with) = match inner.built.get(&id) {
                Some((built, flow, with)) if *built == version => (flow.clone(), with.clone()),
                _ => return Err(RuntimeError(format!("{version} was not built"))),
            };
            let hook = flow.trigger.webhook_path().map(str::to_owned);
            if let Some(path) = &hook
                && let Some(owner) = inner.hooks.get(path)
                && owner.id != id
            {
                return Err(RuntimeError(format!(
                    "the webhook path /hooks/{path} is already used by integration {}",
                    owner.id
                )));
            }
            inner.built.remove(&id);
            (flow, built_with, inner.deployed.remove(&id))
        };
        // The running version goes first: never two versions at once. Its webhook
        // path (if it has one) keeps answering with it until the new one starts; a
        // consumer finishes its messages in flight before the new one takes any.
        if let Some(previous) = previous {
            stop_deployed(previous).await;
        }
        let mut inner = self.lock();
        inner.deployed.insert(
            id,
            Deployed {
                version,
                flow,
                built_with,
                started: false,
                task: None,
                killed: None,
            },
        );
        self.count_running(&inner);
        Ok(())
    }

    async fn start(&self, id: IntegrationId) -> Result<(), RuntimeError> {
        let mut inner = self.lock();
        let Some(mut deployed) = inner.deployed.remove(&id) else {
            return Err(RuntimeError("nothing is deployed to start".into()));
        };
        if !deployed.started {
            // The path moves to this version in one step, under the lock.
            inner.hooks.retain(|_, hook| hook.id != id);
            match &deployed.flow.trigger {
                // A webhook flow runs in the requests that call it.
                Trigger::Webhook { path, .. } => {
                    inner.hooks.insert(
                        path.clone(),
                        Hook {
                            id,
                            version: deployed.version,
                            flow: deployed.flow.clone(),
                        },
                    );
                }
                Trigger::Timer { every_seconds } => {
                    let every = Duration::from_secs(*every_seconds);
                    self.start_timer(id, &mut deployed, every);
                }
                Trigger::Cron {
                    schedule,
                    time_zone,
                } => match super::schedule::Schedule::parse(schedule, time_zone) {
                    Ok(schedule) => self.start_cron(id, &mut deployed, schedule),
                    Err(errors) => {
                        inner.deployed.insert(id, deployed);
                        let why: Vec<String> = errors
                            .iter()
                            .map(|e| format!("{}: {}", e.path, e.message))
                            .collect();
                        return Err(RuntimeError(why.join("; ")));
                    }
                },
                Trigger::SqlPoll { every_seconds, .. } => {
                    let every = Duration::from_secs(*every_seconds);
                    if let Err(err) = self.start_poller(id, &mut deployed, every) {
                        inner.deployed.insert(id, deployed);
                        return Err(err);
                    }
                }
                Trigger::Amqp { .. } => {
                    if let Err(err) = self.start_amqp(id, &mut deployed) {
                        inner.deployed.insert(id, deployed);
                        return Err(err);
                    }
                }
                Trigger::Nats { .. } => {
                    if let Err(err) = self.start_nats(id, &mut deployed) {
                        inner.deployed.insert(id, deployed);
                        return Err(err);
                    }
                }
                Trigger::Mqtt { .. } => {
                    if let Err(err) = self.start_mqtt(id, &mut deployed) {
                        inner.deployed.insert(id, deployed);
                        return Err(err);
                    }
                }
                Trigger::Redis { .. } => {
                    if let Err(err) = self.start_redis(id, &mut deployed) {
                        inner.deployed.insert(id, deployed);
                        return Err(err);
                    }
                }
            }
            deployed.started = true;
        }
        inner.deployed.insert(id, deployed);
        self.count_running(&inner);
        Ok(())
    }

    async fn stop(&self, id: IntegrationId) {
        let previous = {
            let mut inner = self.lock();
            let previous = inner.deployed.remove(&id);
            inner.hooks.retain(|_, hook| hook.id != id);
            inner.built.remove(&id);
            self.count_running(&inner);
            previous
        };
        if let Some(deployed) = previous {
            stop_deployed(deployed).await;
        }
    }

    async fn stop_all(&self) {
        let stopping: Vec<Deployed> = {
            let mut inner = self.lock();
            let stopping = inner
                .deployed
                .drain()
                .map(|(_, deployed)| deployed)
                .collect();
            inner.hooks.clear();
            inner.built.clear();
            self.count_running(&inner);
            stopping
        };
        // Consumers drain side by side: the server's stop waits for the slowest.
        futures_util::future::join_all(stopping.into_iter().map(stop_deployed)).await;
    }

    fn running(&self) -> Vec<IntegrationId> {
        self.lock().deployed.keys().copied().collect()
    }

    fn built_with(&self, id: IntegrationId) -> Vec<(String, i64)> {
        self.lock()
            .deployed
            .get(&id)
            .map(|deployed| deployed.built_with.clone())
            .unwrap_or_default()
    }

    fn runs_shared_everywhere(&self) -> bool {
        true
    }

    fn status(&self, id: IntegrationId) -> Option<Status> {
        let inner = self.lock();
        let deployed = inner
            .deployed
            .get(&id)
            .filter(|deployed| deployed.started)?;
        let (death, coming_up) = match &deployed.task {
            Some(task) => (
                task.death.lock().unwrap_or_else(|p| p.into_inner()).clone(),
                task.coming_up
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone(),
            ),
            None => (None, None),
        };
        let death = death.or_else(|| deployed.killed.as_deref().map(str::to_owned));
        Some(Status {
            version: deployed.version,
            health: match (death, coming_up) {
                (Some(reason), _) => Health::Died(reason),
                (None, Some(why)) => Health::Progressing(why),
                (None, None) => Health::Running,
            },
        })
    }

    async fn call_webhook(&self, path: &str, call: WebhookCall<'_>) -> WebhookAnswer {
        let found = self
            .lock()
            .hooks
            .get(path)
            .map(|hook| (hook.id, hook.version, hook.flow.clone()));
        let Some((id, version, flow)) = found else {
            return WebhookAnswer::NotFound;
        };
        if let Trigger::Webhook {
            auth: Some(auth), ..
        } = &flow.trigger
            && let Err(why) = crate::runtime::webhook_auth::check(auth, call.headers, call.raw)
        {
            self.activity.record(Activity {
                integration_id: id,
                version,
                trigger: "webhook",
                started_at_ms: chrono::Utc::now().timestamp_millis(),
                duration_us: 0,
                outcome: Outcome::Refused,
                steps: Vec::new(),
                error: Some(why.clone()),
            });
            return WebhookAnswer::Refused(why);
        }
        let run = run_and_record(
            &flow,
            call.body,
            (&self.http, &self.render),
            &self.activity,
            id,
            version,
            "webhook",
        )
        .await;
        WebhookAnswer::Ran(run)
    }
}
