//! The redis trigger against the machine's Redis (`.ci/test` starts it if it is not
//! running): a stream read by a consumer group runs each entry and acknowledges it
//! once recorded, a failed entry comes again a bounded number of times, a server
//! killed mid-way or two servers sharing the group lose nothing; a pub/sub channel
//! runs each message with the channel in it. On SQLite and PostgreSQL; two servers on
//! PostgreSQL.
#![cfg(feature = "ssr")]
#![allow(clippy::unwrap_used)]

mod common;

use common::brokers::{
    Redis, consuming, keeping_all, recorded_numbers, redis_connection, within_a_minute,
};
use common::process::Junction;
use common::{FreshDatabase, LiveApp};
use serde_json::{Value, json};

on_both_databases! {
    a_stream_entry_runs_the_flow_and_is_acknowledged: LiveApp,
    a_failed_entry_comes_again_a_bounded_number_of_times: LiveApp,
    a_channel_message_runs_the_flow_with_the_channel_in_it: LiveApp,
    a_server_killed_mid_way_loses_no_entry: FreshDatabase,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgres_share_a_consumer_group() {
    two_servers_share_a_group(FreshDatabase::spawn(common::Backend::Postgres).await).await;
}

async fn a_stream_entry_runs_the_flow_and_is_acknowledged(app: LiveApp) {
    let redis = Redis::connect().await;
    let stream = redis.key("orders");
    app.api("POST", "/api/v1/connections", Some(redis_connection()))
        .await;
    let id = app
        .running(
            "orders from redis",
            json!({
                "trigger": { "kind": "redis", "connection": "redis", "stream": stream,
                             "group": "junction" },
                "steps": [{ "kind": "log", "message": "{{ body.id + 1 }} {{ body.note }}" }]
            }),
        )
        .await;

    redis
        .add(&stream, &[("id", "7"), ("note", "first order")])
        .await;

    app.eventually("the entry is recorded", || async {
        app.activity(&id).await.len() == 1
    })
    .await;
    let recorded = app.activity(&id).await;
    assert_eq!(recorded[0]["trigger"], "redis");
    assert_eq!(recorded[0]["steps"][0]["detail"], "8 first order");
    app.eventually("and acknowledged", || async {
        redis.pending(&stream, "junction").await == 0
    })
    .await;
    redis.delete(&[&stream]).await;
}

async fn a_failed_entry_comes_again_a_bounded_number_of_times(app: LiveApp) {
    let redis = Redis::connect().await;
    let stream = redis.key("failing");
    app.api("POST", "/api/v1/connections", Some(redis_connection()))
        .await;
    let id = app
        .running(
            "failing",
            json!({
                "trigger": { "kind": "redis", "connection": "redis", "stream": stream,
                             "group": "junction", "max_redeliveries": 2 },
                "steps": [{ "kind": "http", "method": "POST", "url": "http://127.0.0.1:9/x" }]
            }),
        )
        .await;

    redis.add(&stream, &[("id", "1")]).await;

    app.eventually("the entry ran three times", || async {
        app.activity(&id).await.len() == 3
    })
    .await;
    assert!(
        app.activity(&id)
            .await
            .iter()
            .all(|a| a["outcome"] == "failed")
    );
    app.eventually("nothing is left pending", || async {
        redis.pending(&stream, "junction").await == 0
    })
    .await;
    redis.delete(&[&stream]).await;
}

async fn a_channel_message_runs_the_flow_with_the_channel_in_it(app: LiveApp) {
    let redis = Redis::connect().await;
    let channel = redis.key("news");
    app.api("POST", "/api/v1/connections", Some(redis_connection()))
        .await;
    let id = app
        .running(
            "news",
            json!({
                "trigger": { "kind": "redis", "connection": "redis", "channel": channel },
                "steps": [{ "kind": "log", "message": "{{ body.channel }}: {{ body.payload.headline }}" }]
            }),
        )
        .await;

    assert_eq!(
        redis.publish(&channel, r#"{"headline": "hello"}"#).await,
        1,
        "one subscriber: the lease holder"
    );

    app.eventually("the message is recorded", || async {
        app.activity(&id).await.len() == 1
    })
    .await;
    assert_eq!(
        app.activity(&id).await[0]["steps"][0]["detail"],
        format!("{channel}: hello")
    );
}

fn stream_trigger(stream: &str) -> Value {
    json!({ "kind": "redis", "connection": "redis", "stream": stream, "group": "junction",
            "prefetch": 50 })
}

async fn add_numbers(redis: &Redis, stream: &str, numbers: std::ops::Range<u64>) {
    for n in numbers {
        redis.add(stream, &[("n", &n.to_string())]).await;
    }
}

async fn a_server_killed_mid_way_loses_no_entry(database: FreshDatabase) {
    let redis = Redis::connect().await;
    let stream = redis.key("killed");
    let data = tempfile::tempdir().unwrap();
    let server = Junction::start_with(&database.0.url, data.path(), keeping_all).await;
    let id = consuming(&server, &redis_connection(), stream_trigger(&stream)).await;

    add_numbers(&redis, &stream, 0..500).await;
    within_a_minute("some entries are recorded", || async {
        recorded_numbers(&server, &id).await.len() >= 100
    })
    .await;
    server.kill();
    add_numbers(&redis, &stream, 500..1000).await;
    let server = Junction::start_with(&database.0.url, data.path(), keeping_all).await;

    within_a_minute("every entry is recorded", || async {
        recorded_numbers(&server, &id).await.len() == 1000
    })
    .await;
    within_a_minute("and acknowledged", || async {
        redis.pending(&stream, "junction").await == 0
    })
    .await;
    server.stop();
    redis.delete(&[&stream]).await;
}

async fn two_servers_share_a_group(database: FreshDatabase) {
    let redis = Redis::connect().await;
    let stream = redis.key("shared");
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = Junction::start_with(&database.0.url, one.path(), keeping_all).await;
    let second = Junction::start_with(&database.0.url, two.path(), keeping_all).await;
    let id = consuming(&first, &redis_connection(), stream_trigger(&stream)).await;
    add_numbers(&redis, &stream, 0..500).await;
    within_a_minute("some entries are recorded", || async {
        recorded_numbers(&second, &id).await.len() >= 100
    })
    .await;
    within_a_minute("both servers took entries as consumers of the group (Redis lists a consumer once it is served)", || async {
        let consumers: Vec<redis::Value> = redis::cmd("XINFO")
            .arg("CONSUMERS")
            .arg(&stream)
            .arg("junction")
            .query_async(&mut redis.connection.clone())
            .await
            .unwrap_or_default();
        consumers.len() >= 2
    })
    .await;

    first.kill();
    add_numbers(&redis, &stream, 500..1000).await;
    within_a_minute("the other server records every entry", || async {
        recorded_numbers(&second, &id).await.len() == 1000
    })
    .await;
    second.stop();
    redis.delete(&[&stream]).await;
}
