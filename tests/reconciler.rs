//! The reconciler and the built-in runtime: Active means running. Live servers are
//! polled (never slept on); the reconciler is also driven one pass at a time with a
//! scripted runtime. Every case runs on SQLite and PostgreSQL.
#![cfg(feature = "ssr")]
#![allow(clippy::unwrap_used)]

mod common;

use common::fixtures::*;
use common::runtime::ScriptedRuntime;
#[allow(unused_imports)]
use common::{LiveApp, TestApp};
use junction::domain::definition::Definition;
use junction::domain::lifecycle::Action;
use junction::domain::lifecycle::State;
use junction::domain::reconcile::Phase;
use junction::domain::version::VersionNumber;
use junction::domain::{IntegrationId, NewIntegration, PageRequest};
use junction::reconciler::retry::RetryPolicy;
use junction::reconciler::{Outcome, Reconciler, ReconcilerConfig};
use junction::runtime::Runtime;
use junction::runtime::activity::Activity;
use junction::runtime::flow::Outcome as FlowOutcome;
use junction::store::integrations::DraftEdit;
use serde_json::{Value, json};
use std::sync::Arc;

fn webhook_flow(path: &str, label: &str) -> Definition {
    Definition::parse(&json!({
        "trigger": { "kind": "webhook", "path": path },
        "steps": [{ "kind": "transform", "template": { "version": label, "id": "{{ body.id }}" } }]
    }))
    .unwrap()
}

async fn create_with(app: &TestApp, name: &str, definition: &Definition) -> IntegrationId {
    let new = NewIntegration::parse(name, "").unwrap();
    app.store
        .create_integration(&new, Some(definition), &user())
        .await
        .unwrap()
        .id
}

async fn replace_draft(app: &TestApp, id: IntegrationId, definition: &Definition) {
    let revision = app.store.summary(id).await.unwrap().revision;
    let edit = DraftEdit {
        expected_revision: revision,
        definition: Some(definition.clone()),
        ..DraftEdit::default()
    };
    app.store.edit_draft(id, &edit).await.unwrap();
}

/// Performs an action and wakes the live reconciler, as the server functions do.
async fn act(app: &LiveApp, id: IntegrationId, action: Action) {
    app.store.perform(id, &action, &user()).await.unwrap();
}

async fn answers(app: &TestApp, path: &str, expected: Value) {
    app.eventually(&format!("/hooks/{path} answers {expected}"), || {
        let expected = expected.clone();
        async move { app.hook(path, json!({ "id": 7 })).await == (200, expected) }
    })
    .await;
}

async fn is_gone(app: &TestApp, path: &str) {
    app.eventually(&format!("/hooks/{path} answers 404"), || async move {
        app.hook(path, json!({})).await.0 == 404
    })
    .await;
}

async fn reaches(app: &TestApp, id: IntegrationId, state: State) {
    app.eventually(&format!("current state is {state}"), || async move {
        let summary = app.store.summary(id).await.unwrap();
        summary.current_state == state && !summary.pending()
    })
    .await;
}

/// A reconciler over `runtime` that tests drive one pass at a time.
fn driven(app: &TestApp, runtime: Arc<dyn Runtime>, owner: &str) -> Reconciler {
    Reconciler::new(
        app.store.clone(),
        runtime,
        ReconcilerConfig {
            owner: owner.into(),
            retry: RetryPolicy {
                jitter: 0.0,
                ..RetryPolicy::default()
            },
            ..ReconcilerConfig::default()
        },
    )
}

on_both_databases! {
    the_flows_of_more_versions_than_one_statement_holds_are_read_at_once: TestApp,
    a_published_webhook_flow_answers_with_its_output: LiveApp,
    publishing_v2_replaces_v1_and_activating_v1_brings_it_back: LiveApp,
    stop_answers_404_start_answers_again_and_unpublish_releases_the_path: LiveApp,
    a_timer_flow_ticks_while_active_and_stops_when_stopped: LiveApp,
    a_webhook_path_taken_by_another_running_integration_is_a_deploy_error_naming_it: LiveApp,
    deploy_failures_are_retried_with_growing_backoff_then_given_up_and_publish_rearms: TestApp,
    a_failure_is_logged_as_a_transition_to_error_by_the_reconciler: TestApp,
    a_flow_still_connecting_is_waited_for_then_recorded_running_without_a_second_deploy: TestApp,
    a_phase_that_takes_a_while_is_shown_while_it_runs: TestApp,
    a_flow_stopped_in_a_pass_is_recorded_stopped_before_the_others_in_it_come_up: TestApp,
    the_database_holds_each_webhook_path_for_one_integration_until_it_stops: TestApp,
    a_new_version_on_another_path_gives_the_old_path_back: TestApp,
    a_dead_runtime_task_is_an_error_and_the_retry_policy_brings_it_back: TestApp,
    a_killed_timer_task_is_noticed_and_restarted_by_the_live_reconciler: LiveApp,
    a_new_server_on_the_same_database_brings_every_active_integration_back: LiveApp,
    a_running_integration_whose_server_died_is_taken_over_once_its_lease_expires: TestApp,
    a_death_is_noticed_among_more_running_integrations_than_one_pass_takes: TestApp,
    a_server_takes_over_more_integrations_than_one_pass_takes_without_waiting_for_ticks: TestApp,
    renewing_extends_every_lease_a_server_holds_however_many_and_no_other: TestApp,
    a_reconciler_letting_work_gather_stops_at_once_when_told_and_hands_its_leases_back: TestApp,
    two_reconcilers_on_one_database_deploy_each_of_200_integrations_exactly_once: TestApp,
    a_flow_with_filter_transform_and_http_works_end_to_end_and_shows_each_step: LiveApp,
    a_failing_http_step_answers_502_naming_the_step: LiveApp,
    only_the_newest_activity_is_kept: TestApp,
    a_batch_of_messages_larger_than_one_insert_is_recorded_in_order_keeping_the_newest: TestApp,
    a_webhook_body_over_the_limit_answers_413_and_bad_json_400: LiveApp,
}

async fn a_published_webhook_flow_answers_with_its_output(app: LiveApp) {
    let id = create_with(&app, "Orders", &webhook_flow("orders", "v1")).await;

    act(&app, id, publishing()).await;

    answers(&app, "orders", json!({ "version": "v1", "id": 7 })).await;
    reaches(&app, id, State::Active).await;
}

async fn publishing_v2_replaces_v1_and_activating_v1_brings_it_back(app: LiveApp) {
    let id = create_with(&app, "Orders", &webhook_flow("orders", "v1")).await;
    act(&app, id, publishing()).await;
    answers(&app, "orders", json!({ "version": "v1", "id": 7 })).await;

    replace_draft(&app, id, &webhook_flow("orders", "v2")).await;
    act(&app, id, publishing()).await;
    answers(&app, "orders", json!({ "version": "v2", "id": 7 })).await;
    reaches(&app, id, State::Active).await;
    assert_eq!(
        app.runtime.status(id).unwrap().version,
        v(2),
        "v1 no longer runs"
    );

    act(&app, id, Action::Activate(v(1))).await;
    answers(&app, "orders", json!({ "version": "v1", "id": 7 })).await;
}

async fn stop_answers_404_start_answers_again_and_unpublish_releases_the_path(app: LiveApp) {
    let id = create_with(&app, "Orders", &webhook_flow("orders", "v1")).await;
    act(&app, id, publishing()).await;
    answers(&app, "orders", json!({ "version": "v1", "id": 7 })).await;
    reaches(&app, id, State::Active).await;

    act(&app, id, Action::Stop).await;
    is_gone(&app, "orders").await;
    reaches(&app, id, State::Inactive).await;

    act(&app, id, Action::Start).await;
    answers(&app, "orders", json!({ "version": "v1", "id": 7 })).await;
    reaches(&app, id, State::Active).await;

    act(&app, id, Action::Stop).await;
    reaches(&app, id, State::Inactive).await;
    act(&app, id, Action::Unpublish).await;
    reaches(&app, id, State::Deleted).await;
    is_gone(&app, "orders").await;

    let heir = create_with(&app, "Orders again", &webhook_flow("orders", "heir")).await;
    act(&app, heir, publishing()).await;
    answers(&app, "orders", json!({ "version": "heir", "id": 7 })).await;
}

async fn a_timer_flow_ticks_while_active_and_stops_when_stopped(app: LiveApp) {
    let timer = Definition::parse(&json!({
        "trigger": { "kind": "timer", "every_seconds": 1 },
        "steps": [{ "kind": "log", "message": "tick {{ body.tick }}" }]
    }))
    .unwrap();
    let id = create_with(&app, "Heartbeat", &timer).await;

    act(&app, id, publishing()).await;
    app.eventually("the timer has ticked", || async {
        app.store
            .activity(id, PageRequest::default())
            .await
            .unwrap()
            .total
            >= 1
    })
    .await;
    act(&app, id, Action::Stop).await;
    reaches(&app, id, State::Inactive).await;

    let ticks = app
        .store
        .activity(id, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(ticks.items[0].trigger, "timer");
    assert_eq!(
        ticks.items[0].steps[0]["detail"].as_str().unwrap(),
        format!("tick {}", ticks.total)
    );
    assert!(
        app.runtime.status(id).is_none(),
        "nothing runs once stopped"
    );
}

async fn a_webhook_path_taken_by_another_running_integration_is_a_deploy_error_naming_it(
    app: LiveApp,
) {
    let first = create_with(&app, "First", &webhook_flow("shared", "first")).await;
    act(&app, first, publishing()).await;
    reaches(&app, first, State::Active).await;
    let second = create_with(&app, "Second", &webhook_flow("shared", "second")).await;

    act(&app, second, publishing()).await;

    app.eventually("the second integration fails", || async {
        app.store.summary(second).await.unwrap().current_state == State::Error
    })
    .await;
    let failed = app.store.summary(second).await.unwrap();
    let error = failed.reconcile.last_error.unwrap();
    assert!(
        error.contains(&format!("already used by integration {first}")),
        "{error}"
    );
    answers(&app, "shared", json!({ "version": "first", "id": 7 })).await;
}

async fn deploy_failures_are_retried_with_growing_backoff_then_given_up_and_publish_rearms(
    app: TestApp,
) {
    let runtime = Arc::new(ScriptedRuntime::default());
    let reconciler = driven(&app, runtime.clone(), "solo");
    let id = active(&app.store, "Orders").await.id;
    edit_flow(&app.store, id, "v2").await;
    publish(&app.store, id, "").await;
    runtime.fail_deploys("the target refused the deployment");

    let mut delays = Vec::new();
    for attempt in 1..=9 {
        match reconciler.reconcile(id).await.unwrap() {
            Outcome::RetryAfter { attempts, delay } => {
                assert_eq!(attempts, attempt);
                delays.push(delay.as_secs());
            }
            other => panic!("attempt {attempt}: {other:?}"),
        }
    }
    let failing = app.store.summary(id).await.unwrap();
    assert_eq!(failing.current_state, State::Error);
    assert_eq!(failing.reconcile.attempts, 9);
    assert!(failing.reconcile.next_attempt_at.unwrap() > chrono::Utc::now());
    assert_eq!(
        failing.reconcile.last_error.as_deref(),
        Some("Deploying failed: the target refused the deployment")
    );
    assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256]);
    assert_eq!(
        reconciler.reconcile(id).await.unwrap(),
        Outcome::GaveUp { attempts: 10 }
    );
    assert!(app.store.summary(id).await.unwrap().reconcile.gave_up);
    assert!(
        app.store
            .due_for_reconcile("solo", 10)
            .await
            .unwrap()
            .is_empty(),
        "given up: not retried"
    );

    runtime.heal();
    perform(&app.store, id, publishing()).await;

    assert_eq!(
        app.store.due_for_reconcile("solo", 10).await.unwrap(),
        [id],
        "re-armed"
    );
    assert_eq!(
        reconciler.reconcile_once().await.unwrap(),
        [(id, Outcome::Reached(State::Active))]
    );
    let recovered = app.store.summary(id).await.unwrap();
    assert_eq!(
        (recovered.current_version, recovered.reconcile.attempts),
        (Some(v(2)), 0)
    );
}

async fn a_failure_is_logged_as_a_transition_to_error_by_the_reconciler(app: TestApp) {
    let runtime = Arc::new(ScriptedRuntime::default());
    let reconciler = driven(&app, runtime.clone(), "solo");
    let id = create(&app.store, "Orders").await.id;
    publish(&app.store, id, "").await;
    runtime.fail_deploys("no capacity");

    reconciler.reconcile_once().await.unwrap();

    let log = app
        .store
        .transitions(id, PageRequest::default())
        .await
        .unwrap();
    let newest = &log.items[0];
    assert_eq!(
        (
            newest.field.as_str(),
            newest.to.as_deref(),
            newest.actor.as_str()
        ),
        ("current_state", Some("error"), "reconciler")
    );
    assert_eq!(
        newest.reason,
        "Deploying failed: no capacity (attempt 1, retrying in 1.0 s)"
    );
}

async fn a_phase_that_takes_a_while_is_shown_while_it_runs(app: TestApp) {
    let runtime = Arc::new(ScriptedRuntime::default());
    runtime.hold_deploys();
    let reconciler = driven(&app, runtime.clone(), "solo");
    let id = create(&app.store, "Orders").await.id;
    publish(&app.store, id, "").await;

    let mut changes = app.store.changes();
    let reconciling = tokio::spawn({
        let reconciler = reconciler.clone();
        async move { reconciler.reconcile(id).await.unwrap() }
    });
    app.eventually("the deploy is shown while it runs", || async {
        app.store.summary(id).await.unwrap().reconcile.phase == Some(Phase::Deploying)
    })
    .await;
    // Pages that watch it hear of it, before the deploy is over.
    let heard = tokio::time::timeout(std::time::Duration::from_secs(20), changes.recv()).await;
    assert_eq!(heard.expect("no change was announced").unwrap(), id);
    runtime.release_deploys();

    assert_eq!(reconciling.await.unwrap(), Outcome::Reached(State::Active));
    assert_eq!(app.store.summary(id).await.unwrap().reconcile.phase, None);
}

async fn a_flow_stopped_in_a_pass_is_recorded_stopped_before_the_others_in_it_come_up(
    app: TestApp,
) {
    let runtime = Arc::new(ScriptedRuntime::default());
    let reconciler = driven(&app, runtime.clone(), "solo");
    let stopped = create(&app.store, "Stopped").await.id;
    publish(&app.store, stopped, "").await;
    let running = reconciler.reconcile(stopped).await.unwrap();
    assert_eq!(running, Outcome::Reached(State::Active));
    let coming = create(&app.store, "Coming").await.id;
    publish(&app.store, coming, "").await;
    perform(&app.store, stopped, Action::Stop).await;
    runtime.hold_deploys();

    let pass = tokio::spawn({
        let reconciler = reconciler.clone();
        async move { reconciler.reconcile_many(&[stopped, coming]).await.unwrap() }
    });
    app.eventually("the other one is deploying", || async {
        app.store.summary(coming).await.unwrap().reconcile.phase == Some(Phase::Deploying)
    })
    .await;
    // Asked to run again while the pass is still bringing the other one up.
    let asked = perform(&app.store, stopped, Action::Start).await;

    assert!(runtime.status(stopped).is_none(), "the pass stopped it");
    assert!(
        asked.pending(),
        "not settled while nothing runs it: {asked:?}"
    );
    runtime.release_deploys();
    pass.await.unwrap();
}

async fn a_flow_still_connecting_is_waited_for_then_recorded_running_without_a_second_deploy(
    app: TestApp,
) {
    let runtime = Arc::new(ScriptedRuntime::default());
    runtime.start_slowly();
    let reconciler = driven(&app, runtime.clone(), "solo");
    let id = create(&app.store, "Orders").await.id;
    publish(&app.store, id, "").await;

    assert_eq!(reconciler.reconcile(id).await.unwrap(), Outcome::Waiting);
    let connecting = app.store.summary(id).await.unwrap();
    assert!(
        connecting.pending(),
        "not Active while it connects: {connecting:?}"
    );
    assert_eq!(connecting.reconcile.phase, Some(Phase::Starting));
    assert_eq!(reconciler.reconcile(id).await.unwrap(), Outcome::Waiting);

    runtime.connected(id);
    assert_eq!(
        reconciler.reconcile(id).await.unwrap(),
        Outcome::Reached(State::Active)
    );

    assert_eq!(
        app.store.summary(id).await.unwrap().current_state,
        State::Active
    );
    assert_eq!(runtime.deploys_of(id), 1);
}

async fn the_database_holds_each_webhook_path_for_one_integration_until_it_stops(app: TestApp) {
    let runtime = Arc::new(ScriptedRuntime::default());
    let reconciler = driven(&app, runtime.clone(), "solo");
    let first = create_with(&app, "First", &webhook_flow("shared", "first")).await;
    let second = create_with(&app, "Second", &webhook_flow("shared", "second")).await;
    publish(&app.store, first, "").await;
    reconciler.reconcile(first).await.unwrap();

    publish(&app.store, second, "").await;
    let refused = reconciler.reconcile(second).await.unwrap();

    assert!(matches!(refused, Outcome::RetryAfter { .. }), "{refused:?}");
    assert_eq!(
        runtime.deploys_of(second),
        0,
        "never deployed while the path is held"
    );
    assert_eq!(
        app.store.webhook_path_owner("shared").await.unwrap(),
        Some(first)
    );
    app.store
        .perform(first, &Action::Stop, &user())
        .await
        .unwrap();
    reconciler.reconcile(first).await.unwrap();
    assert_eq!(app.store.webhook_path_owner("shared").await.unwrap(), None);
    app.store
        .perform(second, &Action::Retry, &user())
        .await
        .unwrap();
    assert_eq!(
        reconciler.reconcile(second).await.unwrap(),
        Outcome::Reached(State::Active)
    );
    assert_eq!(
        app.store.webhook_path_owner("shared").await.unwrap(),
        Some(second)
    );
}

async fn a_new_version_on_another_path_gives_the_old_path_back(app: TestApp) {
    let runtime = Arc::new(ScriptedRuntime::default());
    let reconciler = driven(&app, runtime.clone(), "solo");
    let id = create_with(&app, "Orders", &webhook_flow("old-path", "v1")).await;
    publish(&app.store, id, "").await;
    reconciler.reconcile(id).await.unwrap();

    replace_draft(&app, id, &webhook_flow("new-path", "v2")).await;
    publish(&app.store, id, "").await;
    reconciler.reconcile(id).await.unwrap();

    assert_eq!(
        app.store.webhook_path_owner("new-path").await.unwrap(),
        Some(id)
    );
    assert_eq!(
        app.store.webhook_path_owner("old-path").await.unwrap(),
        None
    );
}

async fn a_dead_runtime_task_is_an_error_and_the_retry_policy_brings_it_back(app: TestApp) {
    let runtime = Arc::new(ScriptedRuntime::default());
    let reconciler = driven(&app, runtime.clone(), "solo");
    let id = create(&app.store, "Orders").await.id;
    publish(&app.store, id, "").await;
    reconciler.reconcile_once().await.unwrap();
    runtime.die(id, "the flow panicked");

    let found = reconciler.reconcile_once().await.unwrap();

    assert_eq!(found.len(), 1);
    assert!(
        matches!(found[0].1, Outcome::RetryAfter { attempts: 1, .. }),
        "{found:?}"
    );
    let failing = app.store.summary(id).await.unwrap();
    assert_eq!(failing.current_state, State::Error);
    assert_eq!(
        failing.reconcile.last_error.as_deref(),
        Some("stopped running: the flow panicked")
    );
    assert_eq!(
        reconciler.reconcile(id).await.unwrap(),
        Outcome::Reached(State::Active)
    );
    assert_eq!(runtime.deploys_of(id), 2);
}

async fn a_killed_timer_task_is_noticed_and_restarted_by_the_live_reconciler(app: LiveApp) {
    let timer = Definition::parse(&json!({
        "trigger": { "kind": "timer", "every_seconds": 60 },
        "steps": [{ "kind": "log", "message": "tick" }]
    }))
    .unwrap();
    let id = create_with(&app, "Heartbeat", &timer).await;
    act(&app, id, publishing()).await;
    reaches(&app, id, State::Active).await;

    app.runtime.kill(id, "killed by the test");

    app.eventually("the death is recorded", || async {
        let log = app
            .store
            .transitions(id, PageRequest::default())
            .await
            .unwrap();
        log.items
            .iter()
            .any(|t| t.to.as_deref() == Some("error") && t.reason.contains("killed by the test"))
    })
    .await;
    reaches(&app, id, State::Active).await;
    assert!(matches!(
        app.runtime.status(id).unwrap().health,
        junction::runtime::Health::Running
    ));
}

async fn a_new_server_on_the_same_database_brings_every_active_integration_back(app: LiveApp) {
    let mut ids = Vec::new();
    for n in 0..3 {
        let id = create_with(
            &app,
            &format!("Flow {n}"),
            &webhook_flow(&format!("flow-{n}"), "v1"),
        )
        .await;
        act(&app, id, publishing()).await;
        ids.push(id);
    }
    for id in &ids {
        reaches(&app, *id, State::Active).await;
    }
    let LiveApp(old) = app;
    let (database, _old_data_dir) = old.shut_down().await;

    let new = TestApp::start(database, tempfile::tempdir().unwrap(), common::live).await;

    for n in 0..3 {
        answers(
            &new,
            &format!("flow-{n}"),
            json!({ "version": "v1", "id": 7 }),
        )
        .await;
    }
    let log = new
        .store
        .transitions(ids[0], PageRequest::default())
        .await
        .unwrap();
    assert!(
        log.items
            .iter()
            .any(|t| t.reason.contains("the server that ran it restarted")),
        "the log says why"
    );
}

async fn a_running_integration_whose_server_died_is_taken_over_once_its_lease_expires(
    app: TestApp,
) {
    let runtime = Arc::new(ScriptedRuntime::default());
    let id = create(&app.store, "Orders").await.id;
    publish(&app.store, id, "").await;
    driven(&app, Arc::new(ScriptedRuntime::default()), "dead-server")
        .reconcile_once()
        .await
        .unwrap();
    let survivor = driven(&app, runtime.clone(), "survivor");

    assert!(
        survivor.reconcile_once().await.unwrap().is_empty(),
        "the lease is still live"
    );
    sqlx::query("UPDATE integrations SET lease_expires_at = 0 WHERE id = $1")
        .bind(id.to_string())
        .execute(app.store.pool())
        .await
        .unwrap();
    survivor.reconcile_once().await.unwrap();

    assert_eq!(runtime.deploys_of(id), 1);
    assert_eq!(
        app.store.summary(id).await.unwrap().current_state,
        State::Active
    );
}

async fn a_death_is_noticed_among_more_running_integrations_than_one_pass_takes(app: TestApp) {
    let runtime = Arc::new(ScriptedRuntime::default());
    let reconciler = driven(&app, runtime.clone(), "solo");
    let mut ids = Vec::new();
    for n in 0..300 {
        let id = create(&app.store, &format!("Flow {n}")).await.id;
        publish(&app.store, id, "").await;
        ids.push(id);
    }
    while !reconciler.reconcile_once().await.unwrap().is_empty() {}
    assert_eq!(runtime.deployed_integrations(), 300);
    let last = *ids.iter().max_by_key(|id| id.to_string()).unwrap();

    runtime.die(last, "crashed");
    let found = reconciler.reconcile_once().await.unwrap();

    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, last);
    assert!(
        matches!(found[0].1, Outcome::RetryAfter { attempts: 1, .. }),
        "{found:?}"
    );
}

async fn a_server_takes_over_more_integrations_than_one_pass_takes_without_waiting_for_ticks(
    app: TestApp,
) {
    for n in 0..25 {
        let id = create(&app.store, &format!("Flow {n}")).await.id;
        publish(&app.store, id, "").await;
    }
    let gone = driven(&app, Arc::new(ScriptedRuntime::default()), "gone-server");
    while !gone.reconcile_once().await.unwrap().is_empty() {}
    sqlx::query("UPDATE integrations SET lease_expires_at = 0")
        .execute(app.store.pool())
        .await
        .unwrap();
    let runtime = Arc::new(ScriptedRuntime::default());
    // Ten a pass, and no tick but the first for an hour.
    let survivor = Reconciler::new(
        app.store.clone(),
        runtime.clone(),
        ReconcilerConfig {
            owner: "survivor".into(),
            batch: 10,
            tick: std::time::Duration::from_secs(3600),
            ..ReconcilerConfig::default()
        },
    );

    let running = tokio::spawn(survivor.run(std::future::pending()));

    // Deployed first, then recorded Active: both, for all 25.
    app.eventually("the survivor runs all 25, recorded Active", || async {
        let active: i64 =
            sqlx::query_scalar("SELECT count(*) FROM integrations WHERE current_state = 'active'")
                .fetch_one(app.store.pool())
                .await
                .unwrap();
        runtime.deployed_integrations() == 25 && active == 25
    })
    .await;
    running.abort();
}

async fn renewing_extends_every_lease_a_server_holds_however_many_and_no_other(app: TestApp) {
    // More than one statement of the renewal takes (it goes a chunk at a time).
    let mut ids = Vec::new();
    for n in 0..1_201 {
        ids.push(create(&app.store, &format!("Flow {n}")).await.id);
    }
    let minute = std::time::Duration::from_secs(60);
    let (theirs, ours) = ids.split_last().unwrap();
    app.store.claim_many(ours, "here", minute).await.unwrap();
    app.store
        .claim_many(&[*theirs], "there", minute)
        .await
        .unwrap();
    sqlx::query("UPDATE integrations SET lease_expires_at = 1")
        .execute(app.store.pool())
        .await
        .unwrap();

    let mut renewed = app.store.renew_leases("here", minute).await.unwrap();

    renewed.sort();
    let mut expected = ours.to_vec();
    expected.sort();
    assert_eq!(renewed, expected);
    let still_expired: Vec<String> =
        sqlx::query_scalar("SELECT lease_owner FROM integrations WHERE lease_expires_at = 1")
            .fetch_all(app.store.pool())
            .await
            .unwrap();
    assert_eq!(still_expired, vec!["there".to_owned()]);
}

async fn a_reconciler_letting_work_gather_stops_at_once_when_told_and_hands_its_leases_back(
    app: TestApp,
) {
    for n in 0..4 {
        let id = create(&app.store, &format!("Flow {n}")).await.id;
        publish(&app.store, id, "").await;
    }
    let runtime = Arc::new(ScriptedRuntime::default());
    // After a pass that moved several, it waits an hour for more to gather.
    let reconciler = Reconciler::new(
        app.store.clone(),
        runtime.clone(),
        ReconcilerConfig {
            owner: "stopping".into(),
            gather: std::time::Duration::from_secs(3600),
            ..ReconcilerConfig::default()
        },
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(reconciler.run(async move {
        let _ = stopped.await;
    }));
    app.eventually("all 4 are Active", || async {
        let active: i64 =
            sqlx::query_scalar("SELECT count(*) FROM integrations WHERE current_state = 'active'")
                .fetch_one(app.store.pool())
                .await
                .unwrap();
        active == 4
    })
    .await;

    stop.send(()).unwrap();

    app.eventually("the reconciler has stopped", || async {
        running.is_finished()
    })
    .await;
    let held: i64 =
        sqlx::query_scalar("SELECT count(*) FROM integrations WHERE lease_owner IS NOT NULL")
            .fetch_one(app.store.pool())
            .await
            .unwrap();
    assert_eq!(held, 0);
}

async fn two_reconcilers_on_one_database_deploy_each_of_200_integrations_exactly_once(
    app: TestApp,
) {
    let runtime = Arc::new(ScriptedRuntime::default());
    let mut ids = Vec::new();
    for n in 0..200 {
        let id = create(&app.store, &format!("Flow {n}")).await.id;
        publish(&app.store, id, "").await;
        ids.push(id);
    }
    let a = driven(&app, runtime.clone(), "replica-a");
    let b = driven(&app, runtime.clone(), "replica-b");

    let drive = |reconciler: Reconciler| {
        tokio::spawn(async move {
            for _ in 0..50 {
                reconciler.reconcile_once().await.unwrap();
            }
        })
    };
    let (ra, rb) = (drive(a), drive(b));
    ra.await.unwrap();
    rb.await.unwrap();

    assert_eq!(runtime.deployed_integrations(), 200);
    for id in &ids {
        assert_eq!(runtime.deploys_of(*id), 1, "{id}");
        assert_eq!(
            app.store.summary(*id).await.unwrap().current_state,
            State::Active
        );
    }
}

async fn a_flow_with_filter_transform_and_http_works_end_to_end_and_shows_each_step(app: LiveApp) {
    let received = Arc::new(tokio::sync::Mutex::new(Vec::<Value>::new()));
    let sink = {
        let received = received.clone();
        axum::Router::new().route(
            "/orders",
            axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
                let received = received.clone();
                async move {
                    received.lock().await.push(body.clone());
                    axum::Json(json!({ "accepted": body["id"] }))
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, sink).await.unwrap() });
    let flow = Definition::parse(&json!({
        "trigger": { "kind": "webhook", "path": "orders" },
        "steps": [
            { "kind": "filter", "condition": "body.qty > 0" },
            { "kind": "transform", "template": { "id": "{{ body.id }}", "total": "{{ body.qty * body.price }}" } },
            { "kind": "log", "message": "order {{ body.id }} totals {{ body.total }}" },
            { "kind": "http", "method": "POST", "url": format!("http://{target}/orders"),
              "headers": { "x-api-key": "s3cret" } }
        ]
    })).unwrap();
    let id = create_with(&app, "Orders", &flow).await;
    act(&app, id, publishing()).await;
    reaches(&app, id, State::Active).await;

    let kept = app
        .hook("orders", json!({ "id": "A1", "qty": 2, "price": 5 }))
        .await;
    let dropped = app
        .hook("orders", json!({ "id": "A2", "qty": 0, "price": 5 }))
        .await;

    assert_eq!(kept, (200, json!({ "accepted": "A1" })));
    assert_eq!(dropped.0, 204);
    assert_eq!(*received.lock().await, [json!({ "id": "A1", "total": 10 })]);
    app.eventually("both messages are recorded", || async {
        app.store
            .activity(id, PageRequest::default())
            .await
            .unwrap()
            .total
            == 2
    })
    .await;
    let activity = app
        .store
        .activity(id, PageRequest::default())
        .await
        .unwrap();
    let filtered = &activity.items[0];
    let ok = &activity.items[1];
    assert_eq!(
        (filtered.outcome.as_str(), ok.outcome.as_str()),
        ("filtered", "ok")
    );
    let steps: Vec<_> = ok
        .steps
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{} {}",
                s["kind"].as_str().unwrap(),
                s["outcome"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(steps, ["filter ok", "transform ok", "log ok", "http ok"]);
    assert_eq!(ok.steps[2]["detail"], "order A1 totals 10");
}

async fn a_failing_http_step_answers_502_naming_the_step(app: LiveApp) {
    let flow = Definition::parse(&json!({
        "trigger": { "kind": "webhook", "path": "out" },
        "steps": [{ "kind": "http", "method": "POST", "url": "http://127.0.0.1:9/nowhere", "timeout_seconds": 2 }]
    })).unwrap();
    let id = create_with(&app, "Out", &flow).await;
    act(&app, id, publishing()).await;
    reaches(&app, id, State::Active).await;

    let (status, body) = app.hook("out", json!({})).await;

    assert_eq!(status, 502);
    assert_eq!(body["error"]["code"], "step_failed");
    assert_eq!(body["error"]["details"]["step"], 0);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("steps[0] (http): cannot reach")
    );
}

async fn only_the_newest_activity_is_kept(app: TestApp) {
    let live = LiveApp(
        TestApp::start(
            common::TestDatabase::create(app.database.backend()).await,
            tempfile::tempdir().unwrap(),
            |config| {
                common::live(config);
                config.activity_keep = 3;
            },
        )
        .await,
    );
    let app = &live;
    let id = create_with(app, "Orders", &webhook_flow("orders", "v1")).await;
    act(app, id, publishing()).await;
    reaches(app, id, State::Active).await;

    for n in 0..5 {
        assert_eq!(app.hook("orders", json!({ "id": n })).await.0, 200);
        app.eventually("the message is recorded", || async move {
            let newest = app
                .store
                .activity(id, PageRequest::default())
                .await
                .unwrap();
            newest.items.first().is_some_and(|entry| {
                entry.steps[0]["detail"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("\"id\":{n}"))
            })
        })
        .await;
    }

    let kept = app
        .store
        .activity(id, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(kept.total, 3);
}

async fn a_batch_of_messages_larger_than_one_insert_is_recorded_in_order_keeping_the_newest(
    app: TestApp,
) {
    let a = create(&app.store, "A").await.id;
    let b = create(&app.store, "B").await.id;
    publish(&app.store, a, "").await;
    publish(&app.store, b, "").await;
    let message = |n: i64, id: IntegrationId| Activity {
        integration_id: id,
        version: VersionNumber::FIRST,
        trigger: "webhook",
        started_at_ms: 1_700_000_000_000 + n,
        duration_us: n,
        outcome: if n % 2 == 0 {
            FlowOutcome::Ok
        } else {
            FlowOutcome::Filtered
        },
        steps: Vec::new(),
        error: (n == 249).then(|| "the last one failed".to_owned()),
    };
    let batch: Vec<Activity> = (0..250)
        .map(|n| message(n, if n % 5 == 0 { b } else { a }))
        .collect();

    app.store
        .record_activities(&batch, 150, &Default::default())
        .await
        .unwrap();

    let of_a = app.store.activity(a, PageRequest::default()).await.unwrap();
    let of_b = app.store.activity(b, PageRequest::default()).await.unwrap();
    assert_eq!(of_a.total, 150, "200 for A, the newest 150 kept");
    assert_eq!(of_b.total, 50);
    let newest = &of_a.items[0];
    assert_eq!(
        (
            newest.duration_us,
            newest.outcome.as_str(),
            newest.error.as_deref()
        ),
        (249, "filtered", Some("the last one failed"))
    );
    assert_eq!(of_a.items[1].duration_us, 248);
    assert_eq!(of_b.items[0].duration_us, 245);
    let written: i64 = sqlx::query_scalar("SELECT max(id) FROM activities")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(
        written, 200,
        "A's 50 oldest, deleted at once, were never written"
    );
}

async fn a_webhook_body_over_the_limit_answers_413_and_bad_json_400(app: LiveApp) {
    let id = create_with(&app, "Orders", &webhook_flow("orders", "v1")).await;
    act(&app, id, publishing()).await;
    reaches(&app, id, State::Active).await;
    let big = "x".repeat(1024 * 1024 + 1);

    let too_large = app
        .client
        .post(app.url("/hooks/orders"))
        .body(big)
        .send()
        .await
        .unwrap();
    let not_json = app
        .client
        .post(app.url("/hooks/orders"))
        .body("{oops")
        .send()
        .await
        .unwrap();

    assert_eq!(too_large.status().as_u16(), 413);
    assert_eq!(not_json.status().as_u16(), 400);
}

/// A server joining others that run thousands of webhooks reads all their flows in one
/// pass: more than SQLite's 1,000-deep expressions and one statement's parameters.
async fn the_flows_of_more_versions_than_one_statement_holds_are_read_at_once(app: TestApp) {
    let mut wanted = Vec::new();
    for n in 0..1_100 {
        let created = create(&app.store, &format!("Many {n}")).await;
        wanted.push((created.id, VersionNumber::FIRST));
    }
    let read = app.store.definitions(&wanted).await.unwrap();
    assert_eq!(read.len(), 1_100);
    assert!(read.iter().all(Result::is_ok));
    assert_eq!(
        read[1_099].as_ref().unwrap().webhook_path(),
        Some(path_of("Many 1099").as_str())
    );
}
