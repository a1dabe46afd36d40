//! The nats trigger against the machine's NATS server (`.ci/test` starts it, with
//! JetStream, if it is not running): core NATS runs each message on the lease holder,
//! with the subject in the message; a JetStream durable consumer acknowledges what is
//! recorded, delivers a failed message again a bounded number of times, and loses
//! nothing when a server is killed mid-way or two servers share it. On SQLite and
//! PostgreSQL; two servers on PostgreSQL.
#![cfg(feature = "ssr")]
#![allow(clippy::unwrap_used)]

mod common;

use common::brokers::{
    Nats, a_switch_runs_each_message_in_one_version, consuming_at, keeping_all, nats_connection,
    recorded_numbers, within_a_minute,
};
use common::process::Junction;
use common::{FreshDatabase, LiveApp};
use serde_json::{Value, json};

on_both_databases! {
    a_subject_runs_the_flow_with_the_subject_in_the_message: LiveApp,
    a_failed_jetstream_message_is_delivered_again_a_bounded_number_of_times: LiveApp,
    publishing_v2_while_jetstream_messages_flow_runs_each_in_exactly_one_version: LiveApp,
    a_server_killed_mid_way_loses_no_jetstream_message: FreshDatabase,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgres_share_a_durable_consumer() {
    two_servers_share_a_durable_consumer(FreshDatabase::spawn(common::Backend::Postgres).await)
        .await;
}

async fn a_subject_runs_the_flow_with_the_subject_in_the_message(app: LiveApp) {
    let nats = Nats::connect().await;
    app.api("POST", "/api/v1/connections", Some(nats_connection()))
        .await;
    let id = app
        .running(
            "orders from nats",
            json!({
                "trigger": { "kind": "nats", "connection": "nats",
                             "subject": format!("{}.orders.*", nats.prefix) },
                "steps": [{ "kind": "log",
                            "message": "{{ body.subject }}: {{ body.payload.id or body.payload.text }}" }]
            }),
        )
        .await;

    for (subject, payload) in [("eu", &br#"{"id": 1}"#[..]), ("us", b"plain text")] {
        nats.client
            .publish(format!("{}.orders.{subject}", nats.prefix), payload.into())
            .await
            .unwrap();
    }
    nats.client.flush().await.unwrap();

    app.eventually("both messages are recorded", || async {
        app.activity(&id).await.len() == 2
    })
    .await;
    let mut details: Vec<String> = app
        .activity(&id)
        .await
        .iter()
        .map(|a| {
            assert_eq!(a["trigger"], "nats");
            a["steps"][0]["detail"].as_str().unwrap().to_owned()
        })
        .collect();
    details.sort();
    assert_eq!(
        details,
        [
            format!("{}.orders.eu: 1", nats.prefix),
            format!("{}.orders.us: plain text", nats.prefix)
        ]
    );
}

async fn a_failed_jetstream_message_is_delivered_again_a_bounded_number_of_times(app: LiveApp) {
    let nats = Nats::connect().await;
    nats.stream().await;
    app.api("POST", "/api/v1/connections", Some(nats_connection()))
        .await;
    let id = app
        .running(
            "failing",
            json!({
                "trigger": { "kind": "nats", "connection": "nats",
                             "subject": format!("{}.failing", nats.prefix),
                             "stream": nats.prefix, "durable": "junction-failing",
                             "max_redeliveries": 2 },
                "steps": [{ "kind": "http", "method": "POST", "url": "http://127.0.0.1:9/x" }]
            }),
        )
        .await;

    nats.publish_acked(format!("{}.failing", nats.prefix), br#"{"id": 1}"#.to_vec())
        .await;

    app.eventually("the message ran three times", || async {
        app.activity(&id).await.len() == 3
    })
    .await;
    assert!(
        app.activity(&id)
            .await
            .iter()
            .all(|a| a["outcome"] == "failed")
    );
    nats.delete().await;
}

async fn publishing_v2_while_jetstream_messages_flow_runs_each_in_exactly_one_version(
    app: LiveApp,
) {
    let nats = Nats::connect().await;
    nats.stream().await;
    app.api("POST", "/api/v1/connections", Some(nats_connection()))
        .await;
    let subject = format!("{}.numbers", nats.prefix);
    let publishing = Nats::connect().await;
    let to = subject.clone();
    a_switch_runs_each_message_in_one_version(
        &app,
        jetstream_trigger(&nats),
        "body.payload.n",
        400,
        async move {
            for n in 0..400u64 {
                publishing
                    .publish_acked(to.clone(), json!({ "n": n }).to_string().into_bytes())
                    .await;
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
        },
    )
    .await;
    nats.delete().await;
}

fn jetstream_trigger(nats: &Nats) -> Value {
    json!({ "kind": "nats", "connection": "nats", "subject": format!("{}.numbers", nats.prefix),
            "stream": nats.prefix, "durable": "junction-numbers", "prefetch": 50 })
}

async fn publish_numbers(nats: &Nats, numbers: std::ops::Range<u64>) {
    for n in numbers {
        nats.publish_acked(
            format!("{}.numbers", nats.prefix),
            json!({ "n": n }).to_string().into_bytes(),
        )
        .await;
    }
}

async fn a_server_killed_mid_way_loses_no_jetstream_message(database: FreshDatabase) {
    let nats = Nats::connect().await;
    nats.stream().await;
    let data = tempfile::tempdir().unwrap();
    let server = Junction::start_with(&database.0.url, data.path(), keeping_all).await;
    let id = consuming_at(
        &server,
        &nats_connection(),
        jetstream_trigger(&nats),
        "body.payload.n",
    )
    .await;

    publish_numbers(&nats, 0..500).await;
    within_a_minute("some messages are recorded", || async {
        recorded_numbers(&server, &id).await.len() >= 100
    })
    .await;
    server.kill();
    publish_numbers(&nats, 500..1000).await;
    let server = Junction::start_with(&database.0.url, data.path(), keeping_all).await;

    within_a_minute("every message is recorded", || async {
        recorded_numbers(&server, &id).await.len() == 1000
    })
    .await;
    server.stop();
    nats.delete().await;
}

async fn two_servers_share_a_durable_consumer(database: FreshDatabase) {
    let nats = Nats::connect().await;
    nats.stream().await;
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = Junction::start_with(&database.0.url, one.path(), keeping_all).await;
    let second = Junction::start_with(&database.0.url, two.path(), keeping_all).await;
    let id = consuming_at(
        &first,
        &nats_connection(),
        jetstream_trigger(&nats),
        "body.payload.n",
    )
    .await;
    // Both pull from the durable consumer: JetStream sees two waiting pulls.
    within_a_minute("both servers pull", || async {
        let mut stream = nats.jetstream.get_stream(&nats.prefix).await.unwrap();
        let _ = stream.info().await;
        let mut consumer: async_nats::jetstream::consumer::PullConsumer =
            stream.get_consumer("junction-numbers").await.unwrap();
        consumer.info().await.unwrap().num_waiting >= 2
    })
    .await;

    publish_numbers(&nats, 0..500).await;
    within_a_minute("some messages are recorded", || async {
        recorded_numbers(&second, &id).await.len() >= 100
    })
    .await;
    first.kill();
    publish_numbers(&nats, 500..1000).await;
    within_a_minute("the other server records every message", || async {
        recorded_numbers(&second, &id).await.len() == 1000
    })
    .await;
    second.stop();
    nats.delete().await;
}
