//! `GET /metrics`: the server's numbers in the Prometheus text format, behind the
//! API's sign-in, moving with the work. On SQLite and PostgreSQL.
#![cfg(feature = "ssr")]
#![allow(clippy::unwrap_used)]

mod common;

use common::{ClosedApp, TestApp};
use serde_json::json;

on_both_databases! {
    metrics_parse_as_prometheus_text_and_move_with_the_work: ClosedApp,
}

/// The scrape, parsed as Prometheus parses it.
async fn scrape(app: &TestApp) -> prometheus_parse::Scrape {
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = response.text().await.unwrap();
    let scrape =
        prometheus_parse::Scrape::parse(text.lines().map(|line| Ok(line.to_owned()))).unwrap();
    // Every family announced has samples that parsed (a histogram's buckets parse
    // into one sample).
    for family in text.lines().filter_map(|line| line.strip_prefix("# TYPE ")) {
        let name = family.split_whitespace().next().unwrap();
        assert!(
            scrape
                .samples
                .iter()
                .any(|sample| sample.metric.starts_with(name)),
            "{name} did not parse:\n{text}"
        );
    }
    scrape
}

/// The value of the sample `name` whose labels include `labels` (0 when absent).
fn value(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|sample| sample.metric == name)
        .filter(|sample| {
            labels
                .iter()
                .all(|(key, want)| sample.labels.get(key) == Some(*want))
        })
        .map(|sample| match sample.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            prometheus_parse::Value::Histogram(ref buckets) => {
                buckets.last().map_or(0.0, |bucket| bucket.count)
            }
            prometheus_parse::Value::Summary(_) => 0.0,
        })
        .sum()
}

async fn metrics_parse_as_prometheus_text_and_move_with_the_work(app: ClosedApp) {
    let anonymous = app.anonymous.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401, "behind the API's sign-in");
    let before = scrape(&app).await;
    app.running(
        "counted",
        json!({ "trigger": { "kind": "webhook", "path": "counted" }, "steps": [
            { "kind": "filter", "condition": "body.n > 0" }
        ] }),
    )
    .await;
    app.running(
        "refused",
        json!({ "trigger": { "kind": "webhook", "path": "refused" }, "steps": [
            { "kind": "http", "method": "POST", "url": "http://169.254.169.254/" }
        ] }),
    )
    .await;

    for n in 0..3 {
        app.hook("counted", json!({ "n": n })).await;
    }
    app.hook("refused", json!({})).await;
    let after = scrape(&app).await;
    app.eventually("the activity is written", || async {
        value(&scrape(&app).await, "junction_activity_written_total", &[]) >= 4.0
    })
    .await;

    let moved = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    assert_eq!(
        moved(
            "junction_flow_messages_total",
            &[("trigger", "webhook"), ("outcome", "ok")]
        ),
        2.0
    );
    assert_eq!(
        moved(
            "junction_flow_messages_total",
            &[("trigger", "webhook"), ("outcome", "filtered")]
        ),
        1.0
    );
    assert_eq!(
        moved(
            "junction_flow_messages_total",
            &[("trigger", "webhook"), ("outcome", "failed")]
        ),
        1.0
    );
    assert_eq!(moved("junction_egress_refusals_total", &[]), 1.0);
    assert_eq!(value(&after, "junction_flows_running", &[]), 2.0);
    assert!(value(&after, "junction_leases_held", &[]) >= 1.0);
    assert!(moved("junction_reconcile_pass_seconds_count", &[]) >= 1.0);
    assert_eq!(
        moved(
            "junction_http_requests_total",
            &[("route", "/hooks/:path"), ("status", "200")]
        ),
        2.0,
        "two answered 200; the filtered one 204"
    );
    assert_eq!(
        value(
            &after,
            "junction_http_requests_total",
            &[("route", "/metrics"), ("status", "401")]
        ),
        1.0
    );
}
