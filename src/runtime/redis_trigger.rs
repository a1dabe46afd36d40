//! The redis trigger. A stream read by a consumer group runs on every server: each
//! server reads new entries as a consumer of its own (XREADGROUP), acknowledges an
//! entry (XACK) once its run is recorded, and takes over entries another consumer
//! left pending for longer than [`CLAIM_AFTER`] (XAUTOCLAIM: a server that died
//! mid-run). A failed run adds the entry to the stream again with its attempt
//! counted, at most `max_redeliveries` times, then acknowledges it. A pub/sub channel
//! runs on the lease holder; Redis keeps nothing for a subscriber that is away. At
//! most `prefetch` messages are in flight; stopping drains.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Map, Value, json};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::brokers::{RedisTarget, message_body};
use super::builtin::Runner;
use super::flow::Outcome;
use crate::reconciler::fence::Fence;

/// How long an entry stays pending with a consumer before another takes it over.
const CLAIM_AFTER: Duration = Duration::from_secs(30);
/// How long one read waits for new entries before looking again (for a drain, for
/// entries to claim).
const BLOCK: Duration = Duration::from_secs(1);
/// The field a failed entry carries back to its stream: how many times it ran.
const ATTEMPTS_FIELD: &str = "x-junction-attempts";

/// What a redis trigger reads, and how.
pub struct Read {
    pub target: Arc<RedisTarget>,
    /// A stream and its consumer group, or a pub/sub channel.
    pub source: Source,
    pub prefetch: u16,
    pub max_redeliveries: u32,
    pub message_limit: usize,
}

pub enum Source {
    Stream { stream: String, group: String },
    Channel(String),
}

impl Read {
    pub async fn run(
        self,
        runner: Runner,
        fence: Fence,
        drain: watch::Receiver<bool>,
        coming_up: Arc<Mutex<Option<String>>>,
    ) -> Result<(), String> {
        let runner = Arc::new(runner);
        match &self.source {
            Source::Channel(channel) => {
                let channel = channel.clone();
                self.subscribe(&channel, runner, fence, drain, coming_up)
                    .await
            }
            Source::Stream { stream, group } => {
                let (stream, group) = (stream.clone(), group.clone());
                Arc::new(self)
                    .consume(&stream, &group, runner, drain, coming_up)
                    .await
            }
        }
    }

    async fn subscribe(
        &self,
        channel: &str,
        runner: Arc<Runner>,
        fence: Fence,
        mut drain: watch::Receiver<bool>,
        coming_up: Arc<Mutex<Option<String>>>,
    ) -> Result<(), String> {
        let place = self.target.place().to_owned();
        let failed = |err: redis::RedisError| format!("Redis at {place}: {err}");
        let mut pubsub = self
            .target
            .client()
            .get_async_pubsub()
            .await
            .map_err(failed)?;
        pubsub.subscribe(channel).await.map_err(failed)?;
        coming_up.lock().unwrap_or_else(|p| p.into_inner()).take();
        let permits = Arc::new(Semaphore::new(usize::from(self.prefetch)));
        let mut in_flight = JoinSet::new();
        let mut messages = pubsub.on_message();
        let ended = loop {
            let permit = tokio::select! {
                _ = drain.changed() => break Ok(()),
                permit = permits.clone().acquire_owned() => permit.map_err(|e| e.to_string())?,
            };
            let message = tokio::select! {
                _ = drain.changed() => break Ok(()),
                next = messages.next() => match next {
                    Some(message) => message,
                    None => break Err(format!("lost the connection to Redis at {place}")),
                },
            };
            while in_flight.try_join_next().is_some() {}
            if !fence.holds(runner.id()) {
                continue;
            }
            let payload = message.get_payload_bytes();
            let body = match payload.len() > self.message_limit {
                true => Err(self.too_large(payload.len())),
                false => Ok(json!({ "channel": channel, "payload": message_body(payload) })),
            };
            let runner = runner.clone();
            in_flight.spawn(async move {
                match body {
                    Ok(body) => runner.run_confirmed(body, "redis").await,
                    Err(why) => runner.fail_confirmed(why, "redis").await,
                };
                drop(permit);
            });
        };
        while in_flight.join_next().await.is_some() {}
        ended
    }

    fn too_large(&self, size: usize) -> String {
        format!(
            "the message is {size} bytes; at most {} are taken",
            self.message_limit
        )
    }

    async fn consume(
        self: Arc<Self>,
        stream: &str,
        group: &str,
        runner: Arc<Runner>,
        mut drain: watch::Receiver<bool>,
        coming_up: Arc<Mutex<Option<String>>>,
    ) -> Result<(), String> {
        let place = self.target.place().to_owned();
        let failed = |err: redis::RedisError| format!("Redis at {place}: {err}");
        // A connection of its own: a blocking read would hold up a shared one, and
        // it waits for its answer longer than the read blocks.
        let mut connection = self
            .target
            .client()
            .get_multiplexed_async_connection_with_config(
                &redis::AsyncConnectionConfig::new().set_response_timeout(Some(BLOCK * 10)),
            )
            .await
            .map_err(failed)?;
        let created: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(stream)
            .arg(group)
            .arg("$")
            .arg("MKSTREAM")
            .query_async(&mut connection)
            .await;
        match created {
            Ok(()) => {}
            Err(err) if err.code() == Some("BUSYGROUP") => {}
            Err(err) => return Err(format!("cannot make the consumer group {group:?}: {err}")),
        }
        // Acknowledgements go on another connection: on this one they would wait
        // behind a blocking read.
        let acking = self
            .target
            .client()
            .get_multiplexed_async_connection()
            .await
            .map_err(failed)?;
        // A name per consumer: entries left pending by one that is gone are claimed.
        let consumer = format!("junction-{}", uuid::Uuid::new_v4().simple());
        coming_up.lock().unwrap_or_else(|p| p.into_inner()).take();
        let permits = Arc::new(Semaphore::new(usize::from(self.prefetch)));
        let mut in_flight: JoinSet<Result<(), String>> = JoinSet::new();
        let mut claim_from = "0-0".to_owned();
        let mut next_claim = tokio::time::Instant::now();
        let ended = loop {
            // Told to drain, or whoever could tell it is gone.
            if *drain.borrow() || drain.has_changed().is_err() {
                break Ok(());
            }
            while let Some(done) = in_flight.try_join_next() {
                if let Ok(Err(why)) = done {
                    return Err(why);
                }
            }
            let free = permits.available_permits();
            if free == 0 {
                tokio::select! {
                    _ = drain.changed() => break Ok(()),
                    Some(done) = in_flight.join_next() => {
                        if let Ok(Err(why)) = done {
                            break Err(why);
                        }
                    }
                }
                continue;
            }
            // Entries another consumer left pending too long, now and then; else new ones.
            let entries = if tokio::time::Instant::now() >= next_claim {
                next_claim = tokio::time::Instant::now() + CLAIM_AFTER / 3;
                let claimed: redis::RedisResult<redis::streams::StreamAutoClaimReply> =
                    redis::cmd("XAUTOCLAIM")
                        .arg(stream)
                        .arg(group)
                        .arg(&consumer)
                        .arg(CLAIM_AFTER.as_millis() as u64)
                        .arg(&claim_from)
                        .arg("COUNT")
                        .arg(free)
                        .query_async(&mut connection)
                        .await;
                match claimed {
                    Ok(reply) => {
                        claim_from = reply.next_stream_id;
                        reply.claimed
                    }
                    Err(err) => break Err(failed(err)),
                }
            } else {
                let read: redis::RedisResult<Option<redis::streams::StreamReadReply>> =
                    redis::cmd("XREADGROUP")
                        .arg("GROUP")
                        .arg(group)
                        .arg(&consumer)
                        .arg("COUNT")
                        .arg(free)
                        .arg("BLOCK")
                        .arg(BLOCK.as_millis() as u64)
                        .arg("STREAMS")
                        .arg(stream)
                        .arg(">")
                        .query_async(&mut connection)
                        .await;
                match read {
                    Ok(reply) => reply
                        .map(|reply| reply.keys.into_iter().flat_map(|key| key.ids).collect())
                        .unwrap_or_default(),
                    Err(err) => break Err(failed(err)),
                }
            };
            for entry in entries {
                let permit = permits
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|e| e.to_string())?;
                let (this, runner) = (self.clone(), runner.clone());
                let (stream, group) = (stream.to_owned(), group.to_owned());
                let mut connection = acking.clone();
                in_flight.spawn(async move {
                    let settled = this
                        .take(entry, &stream, &group, &runner, &mut connection)
                        .await;
                    drop(permit);
                    settled
                });
            }
        };
        while in_flight.join_next().await.is_some() {}
        // Nothing of this consumer is pending once it drained: its name goes.
        if ended.is_ok() {
            let _: redis::RedisResult<i64> = redis::cmd("XGROUP")
                .arg("DELCONSUMER")
                .arg(stream)
                .arg(group)
                .arg(&consumer)
                .query_async(&mut connection)
                .await;
        }
        ended
    }

    /// Runs one entry and settles it: XACK once recorded; a failed run is added to
    /// the stream again (attempt counted) before the XACK; a record that could not
    /// be written leaves the entry pending, to be claimed again.
    async fn take(
        &self,
        entry: redis::streams::StreamId,
        stream: &str,
        group: &str,
        runner: &Runner,
        connection: &mut redis::aio::MultiplexedConnection,
    ) -> Result<(), String> {
        let failed = |err: redis::RedisError| format!("Redis at {}: {err}", self.target.place());
        let (body, attempts, size) = entry_body(&entry.map);
        let (outcome, recorded) = if size > self.message_limit {
            runner.fail_confirmed(self.too_large(size), "redis").await
        } else {
            runner.run_confirmed(body, "redis").await
        };
        if !recorded {
            return Ok(());
        }
        if outcome == Outcome::Failed && attempts < self.max_redeliveries {
            let mut again = redis::cmd("XADD");
            again.arg(stream).arg("*");
            for (field, value) in &entry.map {
                if field != ATTEMPTS_FIELD {
                    again.arg(field).arg(bytes_of(value));
                }
            }
            again.arg(ATTEMPTS_FIELD).arg(attempts + 1);
            let _: String = again.query_async(connection).await.map_err(failed)?;
        }
        let _: i64 = redis::cmd("XACK")
            .arg(stream)
            .arg(group)
            .arg(&entry.id)
            .query_async(connection)
            .await
            .map_err(failed)?;
        Ok(())
    }
}

/// A stream entry as the flow's body: its fields, each value as its JSON (or as
/// text when it is not JSON); with the attempts it carries and its size in bytes.
fn entry_body(fields: &HashMap<String, redis::Value>) -> (Value, u32, usize) {
    let mut body = Map::new();
    let mut attempts = 0;
    let mut size = 0;
    for (field, value) in fields {
        let bytes = bytes_of(value);
        size += field.len() + bytes.len();
        if field == ATTEMPTS_FIELD {
            attempts = std::str::from_utf8(bytes)
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            continue;
        }
        let value = match serde_json::from_slice(bytes) {
            Ok(value) => value,
            Err(_) => Value::String(String::from_utf8_lossy(bytes).into_owned()),
        };
        body.insert(field.clone(), value);
    }
    (Value::Object(body), attempts, size)
}

/// A field's value as the bytes it holds (a stream's values are bulk strings).
fn bytes_of(value: &redis::Value) -> &[u8] {
    match value {
        redis::Value::BulkString(bytes) => bytes,
        redis::Value::SimpleString(text) => text.as_bytes(),
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_reads_as_its_fields_with_json_values_and_its_attempts_apart() {
        let fields = HashMap::from([
            ("id".to_owned(), redis::Value::BulkString(b"7".to_vec())),
            (
                "note".to_owned(),
                redis::Value::BulkString(b"hello".to_vec()),
            ),
            (
                ATTEMPTS_FIELD.to_owned(),
                redis::Value::BulkString(b"2".to_vec()),
            ),
        ]);
        let (body, attempts, _) = entry_body(&fields);
        assert_eq!(body, json!({ "id": 7, "note": "hello" }));
        assert_eq!(attempts, 2);
    }
}
