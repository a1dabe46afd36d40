//! The cron trigger: a flow runs at the times its schedule names (here every second),
//! its page and the editor show the next five times, and a schedule or time zone that
//! does not read is refused where it is. On SQLite and PostgreSQL.
#![cfg(feature = "ssr")]
#![allow(clippy::unwrap_used)]

mod common;

use common::{LiveApp, TestApp};
use serde_json::json;

on_both_databases! {
    a_cron_flow_runs_at_its_times_and_shows_the_next_ones: LiveApp,
    a_schedule_or_zone_that_does_not_read_is_refused_at_its_field: TestApp,
}

async fn a_cron_flow_runs_at_its_times_and_shows_the_next_ones(app: LiveApp) {
    let id = app
        .running(
            "every second",
            json!({
                "trigger": { "kind": "cron", "schedule": "* * * * * *", "time_zone": "Europe/Berlin" },
                "steps": [{ "kind": "log", "message": "due at {{ body.local_time }}" }]
            }),
        )
        .await;

    app.eventually("the schedule ran twice", || async {
        let (_, _, activity) = app
            .api("GET", &format!("/api/v1/integrations/{id}/activity"), None)
            .await;
        activity["total"].as_u64().unwrap_or(0) >= 2 && activity["items"][0]["trigger"] == "cron"
    })
    .await;
    let (_, _, activity) = app
        .api("GET", &format!("/api/v1/integrations/{id}/activity"), None)
        .await;
    let detail = activity["items"][0]["steps"][0]["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("due at ") && (detail.ends_with("+01:00") || detail.ends_with("+02:00")),
        "the local time in Berlin: {detail}"
    );
    let (status, page) = app.get_page(&format!("/integrations/{id}")).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("* * * * * * (Europe/Berlin)"),
        "the page shows the schedule"
    );
    // Once in the list (the page's data repeats them for the browser).
    let listed = page
        .split("<li>")
        .filter(|item| {
            item.split("</li>")
                .next()
                .unwrap_or("")
                .contains("Europe/Berlin (")
        })
        .count();
    assert_eq!(listed, 5, "and the next five runs");

    let (status, runs) = app
        .call(
            "next_runs",
            &[
                ("schedule", "0 9 * * 1-5"),
                ("time_zone", "America/New_York"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{runs}");
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 5);
    assert!(
        runs[0]
            .as_str()
            .unwrap()
            .contains(" 09:00:00 America/New_York ("),
        "{runs:?}"
    );
}

async fn a_schedule_or_zone_that_does_not_read_is_refused_at_its_field(app: TestApp) {
    let definition = json!({
        "trigger": { "kind": "cron", "schedule": "61 * * * *", "time_zone": "Mars/Olympus" },
        "steps": []
    });

    let (status, _, refused) = app
        .api(
            "POST",
            "/api/v1/integrations",
            Some(json!({ "name": "bad schedule", "definition": definition })),
        )
        .await;

    assert_eq!(status, 422, "{refused}");
    let paths: Vec<&str> = refused["error"]["details"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "definition.trigger.schedule",
            "definition.trigger.time_zone"
        ]
    );
}
