//! Recording what happened to each message, off the request path: messages are queued
//! and written in batches by one task, and only the newest ones per integration kept.

use serde::Serialize;
use std::time::Duration;
use tokio::sync::mpsc;

use crate::domain::IntegrationId;
use crate::domain::version::VersionNumber;
use crate::store::Store;

use super::flow::{Outcome, StepReport};

/// One message through one flow.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Activity {
    pub integration_id: IntegrationId,
    pub version: VersionNumber,
    /// `webhook` or `timer`.
    pub trigger: &'static str,
    pub started_at_ms: i64,
    pub duration_us: i64,
    pub outcome: Outcome,
    pub steps: Vec<StepReport>,
    pub error: Option<String>,
}

/// Where flows report their messages.
#[derive(Clone, Debug)]
pub struct ActivitySink {
    queue: mpsc::Sender<Activity>,
}

/// How many messages may wait to be written; past that, activity is dropped (and the
/// drop logged) rather than slowing the flows down.
const QUEUE: usize = 10_000;
const BATCH: usize = 5_000;
/// After writing more than one message, how long the writer lets the next batch
/// gather. A busy integration's messages then arrive by the thousand, and all but the
/// newest kept per integration are never written (they would be deleted in the same
/// transaction); a message that comes alone is written at once.
const GATHER: Duration = Duration::from_millis(100);

impl ActivitySink {
    /// Starts the writer task; it ends when every sink is dropped, after writing
    /// what was queued.
    pub fn start(store: Store, keep_per_integration: u32) -> Self {
        let (queue, mut receiver) = mpsc::channel::<Activity>(QUEUE);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while receiver.recv_many(&mut batch, BATCH).await > 0 {
                if let Err(err) = store.record_activities(&batch, keep_per_integration).await {
                    tracing::error!(
                        error = %crate::telemetry::error_chain(&err),
                        lost = batch.len(),
                        "cannot record activity"
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                let gather = batch.len() > 1;
                batch.clear();
                if gather {
                    tokio::time::sleep(GATHER).await;
                }
            }
        });
        Self { queue }
    }

    pub fn record(&self, activity: Activity) {
        if let Err(mpsc::error::TrySendError::Full(activity)) = self.queue.try_send(activity) {
            tracing::warn!(integration = %activity.integration_id, "activity queue full: one message not recorded");
        }
    }
}
