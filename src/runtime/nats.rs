//! The nats trigger. Core NATS: a subscription on the lease holder, each message a
//! run (NATS keeps no message for a consumer that is away, so there is nothing to
//! acknowledge). JetStream: a durable pull consumer on every server; each message is
//! acknowledged once its run's activity is written, a failed run is delivered again
//! (JetStream counts, and stops after `max_redeliveries`). Either way at most
//! `prefetch` messages are in flight, and stopping drains: no new message is taken,
//! those in flight finish.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::brokers::{NatsTarget, message_body};
use super::builtin::Runner;
use super::flow::Outcome;
use crate::reconciler::fence::Fence;

/// How long JetStream waits for an acknowledgement before it delivers a message to
/// another consumer (a server that died mid-run).
const ACK_WAIT: Duration = Duration::from_secs(30);
/// How long one pull request stays open on the server.
const PULL_EXPIRES: Duration = Duration::from_secs(3);
/// How long the connection may stay down before the consumer gives up (and the
/// integration goes to Error, for the retry policy); the client reconnects by
/// itself within it.
const DOWN_FOR: Duration = Duration::from_secs(5);

/// What a nats trigger listens to, and how.
pub struct Listen {
    pub target: Arc<NatsTarget>,
    pub subject: String,
    /// A JetStream stream and durable consumer, or core NATS.
    pub jetstream: Option<(String, String)>,
    pub prefetch: u16,
    pub max_redeliveries: u32,
    pub message_limit: usize,
}

impl Listen {
    pub async fn run(
        self,
        runner: Runner,
        fence: Fence,
        mut drain: watch::Receiver<bool>,
        coming_up: Arc<Mutex<Option<String>>>,
    ) -> Result<(), String> {
        let place = self.target.place().to_owned();
        let client = self
            .target
            .client()
            .await
            .map_err(|why| format!("cannot reach NATS: {why}"))?;
        let runner = Arc::new(runner);
        let permits = Arc::new(Semaphore::new(usize::from(self.prefetch)));
        let mut in_flight: JoinSet<Result<(), String>> = JoinSet::new();
        let mut watchdog = tokio::time::interval(Duration::from_secs(1));
        let (settler, settler_place) = (client.clone(), place.clone());
        let mut down_since: Option<tokio::time::Instant> = None;
        let mut down = move || {
            if client.connection_state() == async_nats::connection::State::Connected {
                down_since = None;
                return None;
            }
            let since = *down_since.get_or_insert_with(tokio::time::Instant::now);
            (since.elapsed() >= DOWN_FOR).then(|| {
                format!(
                    "lost the connection to NATS at {place} for more than {} s",
                    DOWN_FOR.as_secs()
                )
            })
        };
        let ended = match self.jetstream.clone() {
            None => {
                let mut subscriber = self
                    .target
                    .client()
                    .await?
                    .subscribe(self.subject.clone())
                    .await
                    .map_err(|err| format!("cannot subscribe to {}: {err}", self.subject))?;
                coming_up.lock().unwrap_or_else(|p| p.into_inner()).take();
                let ended = loop {
                    // A permit first: a slow flow leaves messages with the client.
                    let permit = tokio::select! {
                        _ = drain.changed() => break Ok(()),
                        _ = watchdog.tick() => match down() {
                            Some(why) => break Err(why),
                            None => continue,
                        },
                        permit = permits.clone().acquire_owned() => permit.map_err(|e| e.to_string())?,
                    };
                    let message = tokio::select! {
                        _ = drain.changed() => break Ok(()),
                        next = subscriber.next() => match next {
                            Some(message) => message,
                            None => break Err(format!("the subscription to {} ended", self.subject)),
                        },
                    };
                    while let Some(done) = in_flight.try_join_next() {
                        let _ = done;
                    }
                    // Another server may hold the lease now: the message is its.
                    if !fence.holds(runner.id()) {
                        continue;
                    }
                    let body = self.body(&message.subject, &message.payload);
                    let runner = runner.clone();
                    in_flight.spawn(async move {
                        match body {
                            Ok(body) => runner.run_confirmed(body, "nats").await,
                            Err(why) => runner.fail_confirmed(why, "nats").await,
                        };
                        drop(permit);
                        Ok(())
                    });
                };
                let _ = subscriber.unsubscribe().await;
                ended
            }
            Some((stream, durable)) => {
                use async_nats::jetstream::consumer::{AckPolicy, pull};
                let jetstream = async_nats::jetstream::new(self.target.client().await?);
                let found = jetstream
                    .get_stream(&stream)
                    .await
                    .map_err(|err| format!("no JetStream stream {stream:?}: {err}"))?;
                let consumer = found
                    .get_or_create_consumer(
                        &durable,
                        pull::Config {
                            durable_name: Some(durable.clone()),
                            filter_subject: self.subject.clone(),
                            ack_policy: AckPolicy::Explicit,
                            ack_wait: ACK_WAIT,
                            max_deliver: i64::from(self.max_redeliveries) + 1,
                            max_ack_pending: i64::from(self.prefetch),
                            ..Default::default()
                        },
                    )
                    .await
                    .map_err(|err| {
                        format!("cannot make the durable consumer {durable:?}: {err}")
                    })?;
                let mut messages = consumer
                    .stream()
                    .max_messages_per_batch(usize::from(self.prefetch))
                    // Short-lived pulls: one left open by a consumer that stopped sends
                    // its messages nowhere until the acknowledgement wait returns them.
                    .expires(PULL_EXPIRES)
                    .heartbeat(PULL_EXPIRES / 3)
                    .messages()
                    .await
                    .map_err(|err| format!("cannot consume {stream:?}: {err}"))?;
                coming_up.lock().unwrap_or_else(|p| p.into_inner()).take();
                let this = Arc::new(self);
                loop {
                    let permit = tokio::select! {
                        _ = drain.changed() => break Ok(()),
                        _ = watchdog.tick() => match down() {
                            Some(why) => break Err(why),
                            None => continue,
                        },
                        permit = permits.clone().acquire_owned() => permit.map_err(|e| e.to_string())?,
                    };
                    let message = tokio::select! {
                        _ = drain.changed() => break Ok(()),
                        next = messages.next() => match next {
                            Some(Ok(message)) => message,
                            Some(Err(err)) => break Err(format!("JetStream: {err}")),
                            None => break Err(format!("the consumer {durable:?} ended")),
                        },
                    };
                    while let Some(done) = in_flight.try_join_next() {
                        if let Ok(Err(why)) = done {
                            return Err(why);
                        }
                    }
                    let (this, runner) = (this.clone(), runner.clone());
                    in_flight.spawn(async move {
                        let settled = this.take(message, &runner).await;
                        drop(permit);
                        settled
                    });
                }
            }
        };
        while in_flight.join_next().await.is_some() {}
        // An acknowledgement is a publish the client buffers: when this was the
        // target's last client, the connection closes with it and an unsent one is
        // lost, so the message would run again in the next version after `ACK_WAIT`.
        let flushed = match tokio::time::timeout(DOWN_FOR, settler.flush()).await {
            Ok(flushed) => flushed.map_err(|err| err.to_string()),
            Err(_) => Err(format!("no answer within {} s", DOWN_FOR.as_secs())),
        };
        if let Err(why) = flushed {
            tracing::warn!(
                "the last acknowledgements to NATS at {settler_place} may not have been sent: {why}"
            );
        }
        ended
    }

    /// A message as the flow's body: `{"subject", "payload"}`, or why it cannot run.
    fn body(&self, subject: &str, payload: &[u8]) -> Result<serde_json::Value, String> {
        if payload.len() > self.message_limit {
            return Err(format!(
                "the message is {} bytes; at most {} are taken",
                payload.len(),
                self.message_limit
            ));
        }
        Ok(json!({ "subject": subject, "payload": message_body(payload) }))
    }

    /// Runs one JetStream message and settles it: acknowledged once recorded, or
    /// delivered again (a failed run, or a record that could not be written).
    async fn take(
        &self,
        message: async_nats::jetstream::Message,
        runner: &Runner,
    ) -> Result<(), String> {
        let (outcome, recorded) = match self.body(&message.subject, &message.payload) {
            Ok(body) => runner.run_confirmed(body, "nats").await,
            Err(why) => runner.fail_confirmed(why, "nats").await,
        };
        let settled = match (recorded, outcome) {
            (true, Outcome::Ok | Outcome::Filtered | Outcome::Refused) => message.ack().await,
            (true, Outcome::Failed) | (false, _) => {
                message
                    .ack_with(async_nats::jetstream::AckKind::Nak(None))
                    .await
            }
        };
        settled.map_err(|err| format!("JetStream: {err}"))
    }
}
