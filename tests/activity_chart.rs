//! The detail page's chart: the last hour's messages per minute by outcome, drawn on
//! the server (it shows without JavaScript), and the messages that could not be
//! recorded, counted and said since when. On SQLite and PostgreSQL.
#![cfg(feature = "ssr")]
#![allow(clippy::unwrap_used)]

mod common;

use common::{LiveApp, TestApp};
use junction::domain::IntegrationId;
use serde_json::json;
use std::collections::HashMap;

on_both_databases! {
    the_detail_page_draws_the_last_hours_messages_by_outcome: LiveApp,
    messages_not_recorded_are_counted_and_said_since_when: TestApp,
}

async fn the_detail_page_draws_the_last_hours_messages_by_outcome(app: LiveApp) {
    let id = app
        .running(
            "Charted",
            json!({ "trigger": { "kind": "webhook", "path": "charted" },
                    "steps": [{ "kind": "filter", "condition": "body.n > 0" }] }),
        )
        .await;
    for n in [1, 2, 0] {
        app.hook("charted", json!({ "n": n })).await;
    }

    let summary = "Messages in the last hour: 2 ok, 1 filtered, 0 failed, 0 refused";
    app.eventually("the chart counts the three messages", || async {
        let (_, page) = app.get_page(&format!("/integrations/{id}")).await;
        page.contains(summary)
    })
    .await;
    let (_, page) = app.get_page(&format!("/integrations/{id}")).await;
    assert!(page.contains("data-testid=\"activity-chart\""));
    assert!(page.contains("<svg"), "drawn on the server");
    assert!(page.contains("class=\"bar ok\""));
    assert!(!page.contains("not recorded since"));
}

async fn messages_not_recorded_are_counted_and_said_since_when(app: TestApp) {
    let created = common::fixtures::create(&app.store, "Busy").await;
    let minute = chrono::Utc::now().timestamp_millis().div_euclid(60_000);
    let lost: HashMap<(IntegrationId, i64), u64> =
        [((created.id, minute - 2), 400), ((created.id, minute), 12)].into();

    app.store.record_activities(&[], 1000, &lost).await.unwrap();
    app.store.record_activities(&[], 1000, &lost).await.unwrap();

    let chart = app.store.activity_chart(created.id).await.unwrap();
    assert_eq!(chart.total("not_recorded"), 824, "counts add up");
    let since = chart.not_recorded_since().unwrap();
    assert_eq!(since.timestamp_millis(), (minute - 2) * 60_000);
    let (_, page) = app.get_page(&format!("/integrations/{}", created.id)).await;
    assert!(
        page.contains("824 messages not recorded since"),
        "shown on the page"
    );
}
