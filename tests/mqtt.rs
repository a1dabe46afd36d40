//! The mqtt trigger and the mqtt_publish step against the machine's Mosquitto
//! (`.ci/test` starts it if it is not running): a topic's messages run the flow with
//! the topic in them, and what a flow publishes arrives. On SQLite and PostgreSQL.
//! (On two servers, the trigger runs on the lease holder: tests/lease_holder.rs.)
#![cfg(feature = "ssr")]
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::LiveApp;
use common::brokers::{Mqtt, mqtt_connection};
use serde_json::json;

on_both_databases! {
    a_topic_runs_the_flow_with_the_topic_in_the_message: LiveApp,
    an_mqtt_publish_step_delivers_the_body: LiveApp,
}

async fn a_topic_runs_the_flow_with_the_topic_in_the_message(app: LiveApp) {
    let mqtt = Mqtt::connect().await;
    app.api("POST", "/api/v1/connections", Some(mqtt_connection()))
        .await;
    let id = app
        .running(
            "sensors",
            json!({
                "trigger": { "kind": "mqtt", "connection": "mosquitto",
                             "topic": format!("{}/sensors/+/temperature", mqtt.prefix), "qos": 1 },
                "steps": [{ "kind": "log",
                            "message": "{{ body.topic }}={{ body.payload.celsius or body.payload.text }}" }]
            }),
        )
        .await;

    mqtt.publish(
        format!("{}/sensors/kitchen/temperature", mqtt.prefix),
        br#"{"celsius": 21.5}"#.to_vec(),
    )
    .await;
    mqtt.publish(
        format!("{}/sensors/cellar/temperature", mqtt.prefix),
        b"cold".to_vec(),
    )
    .await;

    app.eventually("both messages are recorded", || async {
        app.activity(&id).await.len() == 2
    })
    .await;
    let mut details: Vec<String> = app
        .activity(&id)
        .await
        .iter()
        .map(|a| {
            assert_eq!(a["trigger"], "mqtt");
            a["steps"][0]["detail"].as_str().unwrap().to_owned()
        })
        .collect();
    details.sort();
    assert_eq!(
        details,
        [
            format!("{}/sensors/cellar/temperature=cold", mqtt.prefix),
            format!("{}/sensors/kitchen/temperature=21.5", mqtt.prefix),
        ]
    );
}

async fn an_mqtt_publish_step_delivers_the_body(app: LiveApp) {
    let mut mqtt = Mqtt::connect().await;
    mqtt.client
        .subscribe(format!("{}/out/#", mqtt.prefix), rumqttc::QoS::AtLeastOnce)
        .await
        .unwrap();
    app.api("POST", "/api/v1/connections", Some(mqtt_connection()))
        .await;
    app.running(
        "to mqtt",
        json!({
            "trigger": { "kind": "webhook", "path": "to-mqtt" },
            "steps": [{ "kind": "mqtt_publish", "connection": "mosquitto",
                        "topic": format!("{}/out/{{{{ body.id }}}}", mqtt.prefix), "qos": 1 }]
        }),
    )
    .await;
    // The subscription is in place once a message of our own comes back.
    mqtt.publish(format!("{}/out/ready", mqtt.prefix), b"{}".to_vec())
        .await;
    tokio::time::timeout(Duration::from_secs(10), mqtt.received.recv())
        .await
        .unwrap();

    let (status, answer) = app.hook("to-mqtt", json!({ "id": 7, "total": 12.5 })).await;

    assert_eq!(
        (status, answer),
        (
            200,
            json!({ "published": true, "topic": format!("{}/out/7", mqtt.prefix) })
        )
    );
    let (topic, body) = tokio::time::timeout(Duration::from_secs(10), mqtt.received.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(topic, format!("{}/out/7", mqtt.prefix));
    assert_eq!(body, json!({ "id": 7, "total": 12.5 }));
}
