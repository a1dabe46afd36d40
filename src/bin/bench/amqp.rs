//! Scenario: the RabbitMQ connector. A queue's messages through a flow (filter,
//! transform, amqp_publish to another queue), each acknowledged once its run is
//! recorded, against a bare lapin consumer doing the same in the same run: the same
//! prefetch, the same filter and transform written in Rust, a confirmed publish, then
//! the ack. Messages/s is how fast each empties its queue into the next.

use super::*;
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;

/// Messages each side moves.
const MESSAGES: u64 = 20_000;
/// Messages in flight on each side.
const PREFETCH: u16 = 100;

pub(super) async fn amqp(
    client: &reqwest::Client,
    base: &str,
    address: &str,
) -> Result<Vec<Figure>, Failure> {
    let (host, port) = address
        .rsplit_once(':')
        .ok_or_else(|| fail(format!("{address}: not host:port")))?;
    let port: u16 = port
        .parse()
        .map_err(|_| fail("the AMQP port is not a number"))?;
    let rabbit = lapin::Connection::connect(
        &format!("amqp://guest:guest@{host}:{port}/%2f"),
        lapin::ConnectionProperties::default(),
    )
    .await?;
    let channel = rabbit.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let prefix = format!("junction-bench-{}", uuid::Uuid::new_v4().simple());
    let queues = ["flow-in", "flow-out", "bare-in", "bare-out"].map(|q| format!("{prefix}-{q}"));
    for queue in &queues {
        channel
            .queue_declare(
                queue.as_str().into(),
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await?;
    }
    let [flow_in, flow_out, bare_in, bare_out] = &queues;
    let measured = measure(client, base, (host, port), &channel, &queues).await;
    for queue in [flow_in, flow_out, bare_in, bare_out] {
        let _ = channel
            .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
            .await;
    }
    let _ = rabbit.close(200, "done".into()).await;
    measured
}

async fn measure(
    client: &reqwest::Client,
    base: &str,
    (host, port): (&str, u16),
    channel: &lapin::Channel,
    [flow_in, flow_out, bare_in, bare_out]: &[String; 4],
) -> Result<Vec<Figure>, Failure> {
    let connection = json!({
        "name": "bench-rabbit", "kind": "amqp",
        "settings": { "host": host, "port": port, "vhost": "/", "user": "guest" },
        "secrets": { "password": "guest" }, "allow_private": true,
    });
    make_connection(client, base, &connection).await?;
    let definition = json!({
        "trigger": { "kind": "amqp", "connection": "bench-rabbit", "queue": flow_in,
                     "prefetch": PREFETCH },
        "steps": [
            { "kind": "filter", "condition": "body.qty > 0" },
            { "kind": "transform", "template": { "id": "{{ body.id }}", "total": "{{ body.qty * body.price }}" } },
            { "kind": "amqp_publish", "connection": "bench-rabbit", "exchange": "", "routing_key": flow_out }
        ]
    });
    let id = create_published(client, base, "bench amqp", definition).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now: Value = client
            .get(format!("{base}/api/v1/integrations/{id}"))
            .send()
            .await?
            .json()
            .await?;
        if now["current_state"] == "active" && now["pending"] == false {
            break;
        }
        if Instant::now() > deadline {
            return Err(fail(format!("the amqp flow never went live: {now}")));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The baseline consumer, in this process.
    let bare = tokio::spawn(bare_consumer(
        channel.clone(),
        bare_in.clone(),
        bare_out.clone(),
    ));
    let bare_rate = moved(channel, bare_in, bare_out).await?;
    bare.abort();
    let rate = moved(channel, flow_in, flow_out).await?;
    let scenario = "amqp queue → filter, transform → amqp_publish (prefetch 100)";
    // Its queues go when the scenario ends: stopped first, the flow does not die
    // on a missing queue (and a server taking over later has nothing to bring up).
    client
        .post(format!("{base}/api/v1/integrations/{id}/stop"))
        .send()
        .await?;
    Ok(vec![
        figure(scenario, "messages/s", rate, "/s", None),
        figure(scenario, "baseline messages/s", bare_rate, "/s", None),
        figure(
            scenario,
            "ratio to baseline",
            rate / bare_rate,
            "×",
            Some("≥ 0.7"),
        ),
    ])
}

/// Publishes [`MESSAGES`] to `input` and times until all are in `output`: messages/s.
async fn moved(channel: &lapin::Channel, input: &str, output: &str) -> Result<f64, Failure> {
    let started = Instant::now();
    let mut confirms = Vec::with_capacity(MESSAGES as usize);
    for n in 0..MESSAGES {
        let body = json!({ "id": n, "qty": 2, "price": 3.5 }).to_string();
        confirms.push(
            channel
                .basic_publish(
                    "".into(),
                    input.into(),
                    BasicPublishOptions::default(),
                    body.as_bytes(),
                    lapin::BasicProperties::default().with_delivery_mode(2),
                )
                .await?,
        );
    }
    for confirm in confirms {
        confirm.await?;
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let queue = channel
            .queue_declare(
                output.into(),
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await?;
        if u64::from(queue.message_count()) >= MESSAGES {
            return Ok(MESSAGES as f64 / started.elapsed().as_secs_f64());
        }
        if Instant::now() > deadline {
            return Err(fail(format!(
                "only {} of {MESSAGES} messages reached {output}",
                queue.message_count()
            )));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// What a hand-written service would do: the same prefetch, each message parsed,
/// filtered and transformed, published with a confirmation, then acknowledged.
async fn bare_consumer(
    channel: lapin::Channel,
    input: String,
    output: String,
) -> Result<(), Failure> {
    let consuming = channel.clone();
    consuming
        .basic_qos(PREFETCH, BasicQosOptions::default())
        .await?;
    let mut consumer = consuming
        .basic_consume(
            input.as_str().into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut in_flight = tokio::task::JoinSet::new();
    while let Some(delivery) = consumer.next().await {
        let delivery = delivery?;
        let (channel, output) = (channel.clone(), output.clone());
        in_flight.spawn(async move {
            let body: Value = serde_json::from_slice(&delivery.data)?;
            if body["qty"].as_f64().unwrap_or(0.0) > 0.0 {
                let total =
                    body["qty"].as_f64().unwrap_or(0.0) * body["price"].as_f64().unwrap_or(0.0);
                let out = json!({ "id": body["id"].to_string(), "total": total.to_string() });
                channel
                    .basic_publish(
                        "".into(),
                        output.as_str().into(),
                        BasicPublishOptions::default(),
                        out.to_string().as_bytes(),
                        lapin::BasicProperties::default().with_delivery_mode(2),
                    )
                    .await?
                    .await?;
            }
            delivery.acker.ack(BasicAckOptions::default()).await?;
            Ok::<(), Failure>(())
        });
        while let Some(done) = in_flight.try_join_next() {
            done??;
        }
    }
    Ok(())
}
