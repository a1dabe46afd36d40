//! The amqp trigger and the amqp_publish step against the machine's RabbitMQ
//! (`.ci/test` starts it if it is not running): a queue's messages run the flow and
//! show in the activity, what the flow publishes arrives, a failed run goes to the
//! dead-letter exchange or back a bounded number of times, a version switch hands the
//! queue over without a message run twice, and a server killed mid-way loses nothing.
//! On SQLite and PostgreSQL; two servers share a queue on PostgreSQL.
#![cfg(feature = "ssr")]
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::brokers::{
    Rabbit, a_switch_runs_each_message_in_one_version, consuming, keeping_all, rabbit_connection,
    recorded_numbers, within_a_minute,
};
use common::process::Junction;
use common::{FreshDatabase, LiveApp};
use lapin::types::FieldTable;
use serde_json::{Value, json};

on_both_databases! {
    a_queue_runs_the_flow_and_what_it_publishes_arrives: LiveApp,
    a_failed_run_goes_to_the_dead_letter_exchange_or_back_a_bounded_number_of_times: LiveApp,
    publishing_v2_while_messages_flow_runs_each_message_in_exactly_one_version: LiveApp,
    a_server_killed_mid_way_loses_no_message: FreshDatabase,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgres_share_a_queue_and_together_record_every_message() {
    two_servers_share_a_queue(FreshDatabase::spawn(common::Backend::Postgres).await).await;
}

async fn a_queue_runs_the_flow_and_what_it_publishes_arrives(app: LiveApp) {
    let rabbit = Rabbit::connect().await;
    let (orders, out) = (rabbit.queue("orders"), rabbit.queue("out"));
    rabbit.declare(&out, FieldTable::default()).await;
    app.api("POST", "/api/v1/connections", Some(rabbit_connection()))
        .await;
    let id = app
        .running(
            "orders from rabbit",
            json!({
                "trigger": { "kind": "amqp", "connection": "rabbit", "queue": orders,
                             "declare": true },
                "steps": [
                    { "kind": "filter", "condition": "body.skip is not defined" },
                    { "kind": "transform", "template": { "order": "{{ body }}", "seen": true } },
                    { "kind": "amqp_publish", "connection": "rabbit", "exchange": "",
                      "routing_key": out }
                ]
            }),
        )
        .await;

    rabbit.publish(&orders, br#"{"id": 1}"#).await;
    rabbit.publish(&orders, br#"{"id": 2, "skip": true}"#).await;
    rabbit.publish(&orders, b"plain text").await;

    app.eventually("three messages are recorded", || async {
        app.activity(&id).await.len() == 3
    })
    .await;
    let recorded = app.activity(&id).await;
    let mut outcomes: Vec<&str> = recorded
        .iter()
        .map(|a| a["outcome"].as_str().unwrap())
        .collect();
    outcomes.sort_unstable();
    assert_eq!(outcomes, ["filtered", "ok", "ok"]);
    assert!(recorded.iter().all(|a| a["trigger"] == "amqp"));
    let mut arrived = vec![
        rabbit.get(&out).await.unwrap(),
        rabbit.get(&out).await.unwrap(),
    ];
    arrived.sort_by_key(Value::to_string);
    assert_eq!(
        arrived,
        [
            json!({ "order": { "id": 1 }, "seen": true }),
            json!({ "order": { "text": "plain text" }, "seen": true }),
        ]
    );
    assert_eq!(
        rabbit.get(&out).await,
        None,
        "the filtered one was not sent"
    );
    assert_eq!(rabbit.counts(&orders).await.0, 0, "every message was acked");
    rabbit.delete(&orders).await;
    rabbit.delete(&out).await;
}

async fn a_failed_run_goes_to_the_dead_letter_exchange_or_back_a_bounded_number_of_times(
    app: LiveApp,
) {
    let rabbit = Rabbit::connect().await;
    let (retried, kept, dead) = (
        rabbit.queue("retried"),
        rabbit.queue("kept"),
        rabbit.queue("dead"),
    );
    // Dead letters of `kept` go through the default exchange to `dead`... which RabbitMQ
    // does not allow: a fanout exchange of the test's own takes them.
    let exchange = rabbit.queue("dlx");
    rabbit
        .channel
        .exchange_declare(
            exchange.as_str().into(),
            lapin::ExchangeKind::Fanout,
            lapin::options::ExchangeDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    rabbit.declare(&dead, FieldTable::default()).await;
    rabbit
        .channel
        .queue_bind(
            dead.as_str().into(),
            exchange.as_str().into(),
            "".into(),
            lapin::options::QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    app.api("POST", "/api/v1/connections", Some(rabbit_connection()))
        .await;
    // Port 9 (discard) refuses: every run fails at its http step.
    let failing = json!({ "kind": "http", "method": "POST", "url": "http://127.0.0.1:9/orders" });
    let retrying = app
        .running(
            "retried",
            json!({
                "trigger": { "kind": "amqp", "connection": "rabbit", "queue": retried,
                             "declare": true, "max_redeliveries": 2 },
                "steps": [failing]
            }),
        )
        .await;
    let dead_lettering = app
        .running(
            "dead-lettered",
            json!({
                "trigger": { "kind": "amqp", "connection": "rabbit", "queue": kept,
                             "declare": true, "dead_letter_exchange": exchange },
                "steps": [failing]
            }),
        )
        .await;

    rabbit.publish(&retried, br#"{"id": 1}"#).await;
    rabbit.publish(&kept, br#"{"id": 2}"#).await;

    app.eventually("the retried message ran three times", || async {
        app.activity(&retrying).await.len() == 3
    })
    .await;
    app.eventually("the failed message is a dead letter", || async {
        rabbit.counts(&dead).await.0 == 1
    })
    .await;
    assert!(
        app.activity(&retrying)
            .await
            .iter()
            .all(|a| a["outcome"] == "failed"),
    );
    assert_eq!(
        rabbit.counts(&retried).await.0,
        0,
        "given up after two redeliveries"
    );
    assert_eq!(app.activity(&dead_lettering).await.len(), 1);
    assert_eq!(rabbit.get(&dead).await, Some(json!({ "id": 2 })));
    for queue in [&retried, &kept, &dead] {
        rabbit.delete(queue).await;
    }
}

async fn publishing_v2_while_messages_flow_runs_each_message_in_exactly_one_version(app: LiveApp) {
    let rabbit = Rabbit::connect().await;
    let queue = rabbit.queue("switching");
    app.api("POST", "/api/v1/connections", Some(rabbit_connection()))
        .await;
    let trigger = json!({ "kind": "amqp", "connection": "rabbit", "queue": queue,
                          "declare": true, "prefetch": 20 });
    let publishing = queue.clone();
    a_switch_runs_each_message_in_one_version(&app, trigger, "body.n", 600, async move {
        let rabbit = Rabbit::connect().await;
        for n in 0..600 {
            rabbit
                .publish(&publishing, json!({ "n": n }).to_string().as_bytes())
                .await;
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
    rabbit.delete(&queue).await;
}

fn amqp_trigger(queue: &str) -> Value {
    json!({ "kind": "amqp", "connection": "rabbit", "queue": queue, "declare": true, "prefetch": 50 })
}

async fn publish_numbers(rabbit: &Rabbit, queue: &str, numbers: std::ops::Range<u64>) {
    for n in numbers {
        rabbit
            .publish(queue, json!({ "n": n }).to_string().as_bytes())
            .await;
    }
}

async fn a_server_killed_mid_way_loses_no_message(database: FreshDatabase) {
    let rabbit = Rabbit::connect().await;
    let queue = rabbit.queue("killed");
    let data = tempfile::tempdir().unwrap();
    let server = Junction::start_with(&database.0.url, data.path(), keeping_all).await;
    let id = consuming(&server, &rabbit_connection(), amqp_trigger(&queue)).await;

    publish_numbers(&rabbit, &queue, 0..500).await;
    within_a_minute("some messages are recorded", || async {
        recorded_numbers(&server, &id).await.len() >= 100
    })
    .await;
    server.kill();
    publish_numbers(&rabbit, &queue, 500..1000).await;
    let server = Junction::start_with(&database.0.url, data.path(), keeping_all).await;

    within_a_minute("every message is recorded", || async {
        recorded_numbers(&server, &id).await.len() == 1000
    })
    .await;
    assert_eq!(rabbit.counts(&queue).await.0, 0, "and acknowledged");
    server.stop();
    rabbit.delete(&queue).await;
}

async fn two_servers_share_a_queue(database: FreshDatabase) {
    let rabbit = Rabbit::connect().await;
    let queue = rabbit.queue("shared");
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = Junction::start_with(&database.0.url, one.path(), keeping_all).await;
    let second = Junction::start_with(&database.0.url, two.path(), keeping_all).await;
    let id = consuming(&first, &rabbit_connection(), amqp_trigger(&queue)).await;
    within_a_minute("both servers consume the queue", || async {
        rabbit.counts(&queue).await.1 == 2
    })
    .await;

    publish_numbers(&rabbit, &queue, 0..500).await;
    within_a_minute("some messages are recorded", || async {
        recorded_numbers(&second, &id).await.len() >= 100
    })
    .await;
    first.kill();
    publish_numbers(&rabbit, &queue, 500..1000).await;
    within_a_minute("the other server records every message", || async {
        recorded_numbers(&second, &id).await.len() == 1000
    })
    .await;
    let first = Junction::start_with(&database.0.url, one.path(), keeping_all).await;
    within_a_minute("the restarted server consumes again", || async {
        rabbit.counts(&queue).await.1 == 2
    })
    .await;
    assert_eq!(
        rabbit.counts(&queue).await.0,
        0,
        "every message acknowledged"
    );
    first.stop();
    second.stop();
    rabbit.delete(&queue).await;
}
