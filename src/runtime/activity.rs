//! Recording what happened to each message, off the request path: messages are queued
//! and written in batches by one task, and only the newest ones per integration kept.

use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc, oneshot};

use crate::domain::IntegrationId;
use crate::domain::version::VersionNumber;
use crate::metrics::{MessageLabels, Metrics};
use crate::store::Store;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

use super::flow::{Outcome, StepReport};

/// One message through one flow.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Activity {
    pub integration_id: IntegrationId,
    pub version: VersionNumber,
    /// The trigger's kind: `webhook`, `timer`, `amqp`, ...
    pub trigger: &'static str,
    pub started_at_ms: i64,
    pub duration_us: i64,
    pub outcome: Outcome,
    pub steps: Vec<StepReport>,
    pub error: Option<String>,
}

/// A message's activity as queued: with, for a message its broker keeps until it is
/// recorded, who waits to hear whether it was.
type Queued = (Activity, Option<oneshot::Sender<bool>>);

/// Where flows report their messages.
#[derive(Clone, Debug)]
pub struct ActivitySink {
    queue: mpsc::Sender<Queued>,
    writer: Arc<Writer>,
}

/// The task that writes, and what it has not managed to write.
#[derive(Debug)]
struct Writer {
    /// Asked to write what is queued and end (the server stops).
    finishing: Notify,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    losses: Losses,
    /// Messages written (for /metrics).
    written: Counter,
    /// Messages recorded, by trigger and outcome (for /metrics).
    messages: Family<MessageLabels, Counter>,
}

/// Messages not recorded (the queue was full, or the database refused a batch until
/// the retries ran out), counted and logged once per [`LOG_EVERY`] with the count.
#[derive(Debug, Default)]
struct Losses {
    /// Every loss (for /metrics).
    counted: Counter,
    since_log: AtomicU64,
    last_log: Mutex<Option<Instant>>,
    /// Losses by integration and minute, not yet counted in the database (they are
    /// written with the next batch that can be).
    unwritten: Mutex<HashMap<(IntegrationId, i64), u64>>,
}

/// How many messages may wait to be written; past that, activity is dropped (and the
/// drop counted) rather than slowing the flows down.
const QUEUE: usize = 10_000;
const BATCH: usize = 5_000;
/// After writing more than one message, how long the writer lets the next batch
/// gather. A busy integration's messages then arrive by the thousand, and all but the
/// newest kept per integration are never written (they would be deleted in the same
/// transaction); a message that comes alone is written at once.
const GATHER: Duration = Duration::from_millis(100);
/// How a batch the database refused is tried again: after 200 ms, 400 ms, ... five
/// times (about 6 s in all), then given up and counted as not recorded.
const RETRIES: u32 = 5;
const FIRST_RETRY: Duration = Duration::from_millis(200);
/// Losses are logged at most this often, with their count.
const LOG_EVERY: Duration = Duration::from_secs(10);

impl ActivitySink {
    /// Starts the writer task; it ends after writing what was queued, when every sink
    /// is dropped or [`ActivitySink::finish`] asks.
    pub fn start(store: Store, keep_per_integration: u32, metrics: Metrics) -> Self {
        let (queue, mut receiver) = mpsc::channel::<Queued>(QUEUE);
        let writer = Arc::new(Writer {
            finishing: Notify::new(),
            task: Mutex::new(None),
            losses: Losses {
                counted: metrics.activity_not_recorded.clone(),
                ..Losses::default()
            },
            written: metrics.activity_written,
            messages: metrics.messages,
        });
        let told = writer.clone();
        let task = tokio::spawn(async move {
            let mut queued = Vec::with_capacity(BATCH);
            let mut batch = Vec::with_capacity(BATCH);
            let mut waiting = Vec::new();
            let mut finishing = false;
            loop {
                let received = tokio::select! {
                    received = receiver.recv_many(&mut queued, BATCH) => received,
                    () = told.finishing.notified(), if !finishing => {
                        // Nothing more comes in; what is queued is still written.
                        finishing = true;
                        receiver.close();
                        continue;
                    }
                };
                if received == 0 {
                    // Losses not yet counted in the database get a last try.
                    let unwritten = !told.losses.unwritten().is_empty();
                    if unwritten {
                        write(&store, &[], keep_per_integration, &told).await;
                    }
                    break;
                }
                for (activity, confirm) in queued.drain(..) {
                    batch.push(activity);
                    waiting.extend(confirm);
                }
                let written = write(&store, &batch, keep_per_integration, &told).await;
                // Someone waits to acknowledge a message: the next batch is not
                // held back to gather, as the broker holds the message meanwhile.
                let gather = batch.len() > 1 && !finishing && waiting.is_empty();
                for confirm in waiting.drain(..) {
                    let _ = confirm.send(written);
                }
                batch.clear();
                if gather {
                    tokio::select! {
                        () = tokio::time::sleep(GATHER) => {}
                        () = told.finishing.notified() => {
                            finishing = true;
                            receiver.close();
                        }
                    }
                }
            }
        });
        *writer.task.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
        Self { queue, writer }
    }

    pub fn record(&self, activity: Activity) {
        let (activity_id, activity_minute) = (activity.integration_id, minute_of(&activity));
        self.count(&activity);
        if let Err(mpsc::error::TrySendError::Full(_) | mpsc::error::TrySendError::Closed(_)) =
            self.queue.try_send((activity, None))
        {
            self.writer.losses.add(
                &[(activity_id, activity_minute)],
                "the activity queue is full",
            );
        }
    }

    /// Records a message's activity and answers once it is written (true), or once it
    /// could not be (false): a broker's message is acknowledged only after its run is
    /// recorded. A full queue makes the caller wait (its consumer slows down) rather
    /// than drop the record.
    pub async fn record_confirmed(&self, activity: Activity) -> bool {
        self.count(&activity);
        let (confirm, written) = oneshot::channel();
        if self.queue.send((activity, Some(confirm))).await.is_err() {
            return false;
        }
        written.await.unwrap_or(false)
    }

    fn count(&self, activity: &Activity) {
        self.writer
            .messages
            .get_or_create(&MessageLabels {
                trigger: activity.trigger,
                outcome: activity.outcome.as_str(),
            })
            .inc();
    }

    /// Writes what is queued and stops the writer, waiting at most `within`: the
    /// server calls it at shutdown, once no flow runs any more.
    pub async fn finish(&self, within: Duration) {
        self.writer.finishing.notify_one();
        let task = self
            .writer
            .task
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(task) = task
            && tokio::time::timeout(within, task).await.is_err()
        {
            tracing::warn!(
                "the activity still queued was not all written within {} s",
                within.as_secs()
            );
        }
    }
}

/// Writes a batch, trying again with a growing pause while the database refuses:
/// whether it was written.
async fn write(store: &Store, batch: &[Activity], keep: u32, writer: &Writer) -> bool {
    let mut pause = FIRST_RETRY;
    // The losses so far are counted with this batch, or stay for the next one.
    let lost = std::mem::take(&mut *writer.losses.unwritten());
    for attempt in 0..=RETRIES {
        match store.record_activities(batch, keep, &lost).await {
            Ok(()) => {
                writer.written.inc_by(batch.len() as u64);
                return true;
            }
            Err(err) if attempt < RETRIES => {
                tracing::warn!(
                    error = %crate::telemetry::error_chain(&err),
                    messages = batch.len(),
                    "cannot record activity; trying again in {} ms",
                    pause.as_millis()
                );
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            Err(err) => {
                tracing::error!(
                    error = %crate::telemetry::error_chain(&err),
                    "cannot record activity"
                );
                let mut unwritten = writer.losses.unwritten();
                for (place, count) in lost {
                    *unwritten.entry(place).or_default() += count;
                }
                drop(unwritten);
                let refused: Vec<(IntegrationId, i64)> = batch
                    .iter()
                    .map(|activity| (activity.integration_id, minute_of(activity)))
                    .collect();
                writer.losses.add(&refused, "the database refused them");
                return false;
            }
        }
    }
    false
}

/// The minute (since 1970, UTC) a message started in.
fn minute_of(activity: &Activity) -> i64 {
    activity.started_at_ms.div_euclid(60_000)
}

impl Losses {
    fn unwritten(&self) -> std::sync::MutexGuard<'_, HashMap<(IntegrationId, i64), u64>> {
        self.unwritten.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts `lost` messages; logs the count since the last log at most once per
    /// [`LOG_EVERY`], so that a flood of losses is one line, not one per message.
    fn add(&self, messages: &[(IntegrationId, i64)], why: &str) {
        let lost = messages.len() as u64;
        {
            let mut unwritten = self.unwritten();
            for place in messages {
                *unwritten.entry(*place).or_default() += 1;
            }
        }
        self.counted.inc_by(lost);
        self.since_log.fetch_add(lost, Ordering::Relaxed);
        let mut last = self.last_log.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_none_or(|at| at.elapsed() >= LOG_EVERY) {
            let count = self.since_log.swap(0, Ordering::Relaxed);
            tracing::warn!(
                not_recorded = count,
                "{count} messages of activity not recorded since the last report: {why}"
            );
            *last = Some(Instant::now());
        }
    }
}
