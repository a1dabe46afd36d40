//! The mqtt trigger: a subscription to a topic filter on the lease holder, in a
//! persistent session kept under the connection's client id and the integration's,
//! so that the broker keeps QoS 1 messages while no server listens (a restart, a
//! takeover). A QoS 1 message is acknowledged (manually) once its run is recorded;
//! one whose record could not be written is not, and the broker sends it again when
//! the session reconnects. At most `prefetch` messages are in flight.

use std::sync::{Arc, Mutex};

use serde_json::json;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::brokers::{MqttTarget, message_body};
use super::builtin::Runner;
use crate::reconciler::fence::Fence;

/// Messages in flight at most.
const IN_FLIGHT: usize = 20;

pub struct Subscribe {
    pub target: Arc<MqttTarget>,
    pub topic: String,
    pub qos: u8,
    /// Names the session: one per integration.
    pub session: String,
    pub message_limit: usize,
}

impl Subscribe {
    pub async fn run(
        self,
        runner: Runner,
        fence: Fence,
        mut drain: watch::Receiver<bool>,
        coming_up: Arc<Mutex<Option<String>>>,
    ) -> Result<(), String> {
        use rumqttc::{Event, Packet, QoS};
        let place = self.target.place().to_owned();
        let mut options = self.target.options(&self.session);
        options.set_clean_session(false);
        options.set_manual_acks(true);
        let (client, mut events) = rumqttc::AsyncClient::new(options, 64);
        let level = match self.qos {
            0 => QoS::AtMostOnce,
            _ => QoS::AtLeastOnce,
        };
        client
            .subscribe(self.topic.clone(), level)
            .await
            .map_err(|err| format!("MQTT at {place}: {err}"))?;
        let runner = Arc::new(runner);
        let permits = Arc::new(Semaphore::new(IN_FLIGHT));
        let mut in_flight = JoinSet::new();
        let ended = loop {
            let event = tokio::select! {
                _ = drain.changed() => break Ok(()),
                event = events.poll() => event,
            };
            let publish = match event {
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    coming_up.lock().unwrap_or_else(|p| p.into_inner()).take();
                    continue;
                }
                Ok(Event::Incoming(Packet::Publish(publish))) => publish,
                Ok(_) => continue,
                Err(rumqttc::ConnectionError::ConnectionRefused(code)) => {
                    break Err(format!("MQTT at {place} refused the connection: {code:?}"));
                }
                Err(err) => break Err(format!("lost the connection to MQTT at {place}: {err}")),
            };
            while in_flight.try_join_next().is_some() {}
            // Another server may hold the lease now: the message is its (unacknowledged,
            // the broker sends it again to the session's next connection).
            if !fence.holds(runner.id()) {
                continue;
            }
            let permit = tokio::select! {
                _ = drain.changed() => break Ok(()),
                permit = permits.clone().acquire_owned() => permit.map_err(|e| e.to_string())?,
            };
            let body = match publish.payload.len() > self.message_limit {
                true => Err(format!(
                    "the message is {} bytes; at most {} are taken",
                    publish.payload.len(),
                    self.message_limit
                )),
                false => Ok(json!({
                    "topic": publish.topic,
                    "payload": message_body(&publish.payload),
                })),
            };
            let (runner, client) = (runner.clone(), client.clone());
            in_flight.spawn(async move {
                let (_, recorded) = match body {
                    Ok(body) => runner.run_confirmed(body, "mqtt").await,
                    Err(why) => runner.fail_confirmed(why, "mqtt").await,
                };
                if recorded {
                    let _ = client.ack(&publish).await;
                }
                drop(permit);
            });
        };
        // The runs in flight finish (and acknowledge) while the event loop still
        // carries their acknowledgements; then the session disconnects.
        let finishing = async { while in_flight.join_next().await.is_some() {} };
        tokio::pin!(finishing);
        loop {
            tokio::select! {
                () = &mut finishing => break,
                event = events.poll() => if event.is_err() { break },
            }
        }
        let _ = client.disconnect().await;
        for _ in 0..8 {
            match tokio::time::timeout(std::time::Duration::from_millis(500), events.poll()).await {
                Ok(Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect))) | Ok(Err(_)) | Err(_) => {
                    break;
                }
                Ok(Ok(_)) => {}
            }
        }
        ended
    }
}
