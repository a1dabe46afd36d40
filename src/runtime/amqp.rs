//! The amqp trigger: a RabbitMQ queue's consumer. Each message is a run; it is
//! acknowledged only once the run's activity is written, so a server that dies
//! mid-run leaves the message to the broker, which gives it to another consumer (at
//! least once). At most `prefetch` messages are in flight: a slow flow slows its
//! consumer, never grows memory. A failed run goes to the dead-letter exchange where
//! one is named, else to the end of the queue again with its attempt counted, until
//! `max_redeliveries`.
//!
//! Stopping drains: the consumer is cancelled (no new message comes), the runs in
//! flight finish and are acknowledged, and what the broker had sent ahead goes back
//! to the queue when the channel closes, so that the next version takes it and no
//! message is run by two versions.

use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions,
    BasicPublishOptions, BasicQosOptions, BasicRejectOptions, ConfirmSelectOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::brokers::{AmqpTarget, message_body};
use super::builtin::Runner;
use super::flow::Outcome;

/// The header a failed message carries back to its queue: how many times it ran.
const ATTEMPTS_HEADER: &str = "x-junction-attempts";

/// What an amqp trigger consumes, and how.
pub struct Consume {
    pub target: Arc<AmqpTarget>,
    pub queue: String,
    pub declare: bool,
    pub prefetch: u16,
    pub dead_letter_exchange: Option<String>,
    pub max_redeliveries: u32,
    /// The largest message run; a larger one fails without running.
    pub message_limit: usize,
}

impl Consume {
    /// Consumes until `drain` says to stop (then drains and ends with `Ok`), or until
    /// the broker goes away (an `Err` with the cause: a death the reconciler retries).
    /// `coming_up` holds what it is doing until it takes messages.
    pub async fn run(
        self,
        runner: Runner,
        mut drain: watch::Receiver<bool>,
        coming_up: Arc<Mutex<Option<String>>>,
    ) -> Result<(), String> {
        let place = self.target.place().to_owned();
        let lost = |err: lapin::Error| format!("RabbitMQ at {place}: {err}");
        let connection = self
            .target
            .connect()
            .await
            .map_err(|why| format!("cannot reach RabbitMQ: {why}"))?;
        let channel = connection.create_channel().await.map_err(lost)?;
        channel
            .basic_qos(self.prefetch, BasicQosOptions::default())
            .await
            .map_err(lost)?;
        // A failed message is published back before it is acknowledged: confirmed,
        // so that a broker that fails in between keeps the original.
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(lost)?;
        if self.declare {
            let mut arguments = FieldTable::default();
            if let Some(exchange) = &self.dead_letter_exchange {
                arguments.insert(
                    "x-dead-letter-exchange".into(),
                    AMQPValue::LongString(exchange.as_str().into()),
                );
            }
            channel
                .queue_declare(
                    self.queue.as_str().into(),
                    QueueDeclareOptions {
                        durable: true,
                        ..Default::default()
                    },
                    arguments,
                )
                .await
                .map_err(|err| format!("cannot declare the queue {:?}: {err}", self.queue))?;
        }
        let mut consumer = channel
            .basic_consume(
                self.queue.as_str().into(),
                ShortString::from(""),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|err| format!("cannot consume the queue {:?}: {err}", self.queue))?;
        coming_up.lock().unwrap_or_else(|p| p.into_inner()).take();
        let this = Arc::new(self);
        let runner = Arc::new(runner);
        let mut in_flight = JoinSet::new();
        let ended = loop {
            tokio::select! {
                _ = drain.changed() => break Ok(()),
                next = consumer.next() => match next {
                    Some(Ok(delivery)) => {
                        let (this, runner, channel) = (this.clone(), runner.clone(), channel.clone());
                        in_flight.spawn(async move { this.take(delivery, &runner, &channel).await });
                    }
                    Some(Err(err)) => break Err(lost(err)),
                    None => break Err(format!(
                        "RabbitMQ cancelled the consumer of {:?} (was the queue deleted?)",
                        this.queue
                    )),
                },
                Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                    if let Ok(Err(why)) = done {
                        break Err(why);
                    }
                }
            }
        };
        // No new message is taken; those in flight finish (and are acknowledged, or
        // go back to the queue when the channel closes if the broker is gone).
        let _ = channel
            .basic_cancel(consumer.tag(), BasicCancelOptions::default())
            .await;
        while in_flight.join_next().await.is_some() {}
        let _ = channel.close(200, "stopping".into()).await;
        let _ = connection.close(200, "stopping".into()).await;
        ended
    }

    /// Runs one message and settles it with the broker. An `Err` is a channel that
    /// broke: the consumer ends, and the broker redelivers what was not settled.
    async fn take(
        &self,
        delivery: lapin::message::Delivery,
        runner: &Runner,
        channel: &lapin::Channel,
    ) -> Result<(), String> {
        let attempts = attempts(&delivery.properties) + 1;
        let (run, recorded) = if delivery.data.len() > self.message_limit {
            let why = format!(
                "the message is {} bytes; at most {} are taken",
                delivery.data.len(),
                self.message_limit
            );
            runner.fail_confirmed(why, "amqp").await
        } else {
            runner
                .run_confirmed(message_body(&delivery.data), "amqp")
                .await
        };
        let settled = if !recorded {
            // Not recorded: not acknowledged. It comes again, here or elsewhere.
            delivery
                .acker
                .nack(BasicNackOptions {
                    requeue: true,
                    ..Default::default()
                })
                .await
        } else {
            match run {
                Outcome::Ok | Outcome::Filtered | Outcome::Refused => {
                    delivery.acker.ack(BasicAckOptions::default()).await
                }
                Outcome::Failed if self.dead_letter_exchange.is_some() => {
                    delivery
                        .acker
                        .reject(BasicRejectOptions { requeue: false })
                        .await
                }
                Outcome::Failed if attempts <= self.max_redeliveries => {
                    self.again(&delivery, attempts, channel).await?;
                    delivery.acker.ack(BasicAckOptions::default()).await
                }
                Outcome::Failed => {
                    tracing::warn!(
                        integration = %runner.id(), queue = %self.queue, attempts,
                        "a message failed every time it ran, and is dropped (name a \
                         dead-letter exchange to keep such messages)"
                    );
                    delivery.acker.ack(BasicAckOptions::default()).await
                }
            }
        };
        settled
            .map(|_| ())
            .map_err(|err| format!("RabbitMQ at {}: {err}", self.target.place()))
    }

    /// Puts a failed message at the end of its queue with its attempt counted, and
    /// waits for the broker to confirm it.
    async fn again(
        &self,
        delivery: &lapin::message::Delivery,
        attempts: u32,
        channel: &lapin::Channel,
    ) -> Result<(), String> {
        let mut headers = delivery.properties.headers().clone().unwrap_or_default();
        headers.insert(ATTEMPTS_HEADER.into(), AMQPValue::LongUInt(attempts));
        let properties = delivery.properties.clone().with_headers(headers);
        let failed = |err: lapin::Error| format!("RabbitMQ at {}: {err}", self.target.place());
        let confirm = channel
            .basic_publish(
                ShortString::from(""),
                self.queue.as_str().into(),
                BasicPublishOptions::default(),
                &delivery.data,
                properties,
            )
            .await
            .map_err(failed)?
            .await
            .map_err(failed)?;
        match confirm {
            lapin::Confirmation::Ack(_) => Ok(()),
            lapin::Confirmation::Nack(_) | lapin::Confirmation::NotRequested => Err(format!(
                "RabbitMQ at {} did not take the message back",
                self.target.place()
            )),
        }
    }
}

/// How many times a message ran before (the header a failed run put back).
fn attempts(properties: &lapin::BasicProperties) -> u32 {
    let Some(headers) = properties.headers() else {
        return 0;
    };
    match headers.inner().get(ATTEMPTS_HEADER) {
        Some(AMQPValue::LongUInt(n)) => *n,
        Some(AMQPValue::LongInt(n)) => u32::try_from(*n).unwrap_or(0),
        Some(AMQPValue::LongLongInt(n)) => u32::try_from(*n).unwrap_or(0),
        Some(AMQPValue::ShortUInt(n)) => u32::from(*n),
        _ => 0,
    }
}
