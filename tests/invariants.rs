//! The database itself guards the model's invariants: each is attacked here with
//! hand-written SQL, going around the store, and must be refused, on both databases.
#![cfg(feature = "ssr")]
#![allow(clippy::unwrap_used)]

mod common;

#[allow(unused_imports)]
use common::TestApp;
use common::fixtures::*;
use junction::domain::lifecycle::Action;
use junction::domain::lifecycle::State;

/// Runs hand-written SQL with string arguments and returns the database's refusal.
async fn attack(app: &TestApp, sql: &str, args: &[&str]) -> String {
    let mut query = sqlx::query(sql);
    for arg in args {
        query = query.bind(*arg);
    }
    match query.execute(app.store.pool()).await {
        Ok(done) => panic!(
            "the database accepted {sql:?} ({} rows)",
            done.rows_affected()
        ),
        Err(err) => err.to_string(),
    }
}

async fn accept(app: &TestApp, sql: &str, args: &[&str]) {
    let mut query = sqlx::query(sql);
    for arg in args {
        query = query.bind(*arg);
    }
    query.execute(app.store.pool()).await.unwrap();
}

on_both_databases! {
    a_published_versions_flow_cannot_be_changed: TestApp,
    a_published_versions_publish_data_cannot_be_changed: TestApp,
    a_published_version_cannot_be_deleted: TestApp,
    a_published_integration_cannot_be_deleted_behind_the_stores_back: TestApp,
    a_second_draft_cannot_exist: TestApp,
    a_discarded_number_cannot_be_used_again: TestApp,
    version_numbers_cannot_skip_or_repeat: TestApp,
    error_can_never_be_a_target_state: TestApp,
    two_active_versions_cannot_be_expressed_and_a_draft_cannot_be_active: TestApp,
    a_change_of_state_without_who_and_why_is_refused: TestApp,
    a_change_of_state_is_logged_by_the_database_itself: TestApp,
    the_transition_log_is_append_only: TestApp,
    there_is_no_way_back_to_draft: TestApp,
    names_are_unique_whatever_the_case_among_integrations_not_unpublished: TestApp,
    an_integration_cannot_be_born_published: TestApp,
    only_the_reconciler_function_writes_the_current_state_and_it_is_logged: TestApp,
    only_a_published_version_is_marked_imported_with_where_from_and_when: TestApp,
}

async fn a_published_versions_flow_cannot_be_changed(app: TestApp) {
    let running = active(&app.store, "Orders").await;

    let refusal = attack(
        &app,
        "UPDATE versions SET definition = '{}' WHERE integration_id = $1 AND number = 1",
        &[&running.id.to_string()],
    )
    .await;

    assert!(refusal.contains("frozen"), "{refusal}");
}

async fn a_published_versions_publish_data_cannot_be_changed(app: TestApp) {
    let running = active(&app.store, "Orders").await;
    let id = running.id.to_string();

    for sql in [
        "UPDATE versions SET note = 'rewritten' WHERE integration_id = $1",
        "UPDATE versions SET published_by = 'mallory' WHERE integration_id = $1",
        "UPDATE versions SET content_hash = repeat('0', 64) WHERE integration_id = $1",
        "UPDATE versions SET number = 7 WHERE integration_id = $1",
    ] {
        let sql = sql.replace(
            "repeat('0', 64)",
            "'0000000000000000000000000000000000000000000000000000000000000000'",
        );
        let refusal = attack(&app, &sql, &[&id]).await;
        assert!(refusal.contains("frozen"), "{sql}: {refusal}");
    }
}

async fn a_published_version_cannot_be_deleted(app: TestApp) {
    let running = active(&app.store, "Orders").await;

    let refusal = attack(
        &app,
        "DELETE FROM versions WHERE integration_id = $1",
        &[&running.id.to_string()],
    )
    .await;

    assert!(refusal.contains("cannot be deleted"), "{refusal}");
}

async fn a_published_integration_cannot_be_deleted_behind_the_stores_back(app: TestApp) {
    let running = active(&app.store, "Orders").await;

    let refusal = attack(
        &app,
        "DELETE FROM integrations WHERE id = $1",
        &[&running.id.to_string()],
    )
    .await;

    assert!(refusal.contains("cannot be deleted"), "{refusal}");
}

async fn a_second_draft_cannot_exist(app: TestApp) {
    let created = create(&app.store, "Orders").await;

    let refusal = attack(
        &app,
        "INSERT INTO versions (integration_id, number, definition, created_at, updated_at)
         VALUES ($1, 2, '{}', 0, 0)",
        &[&created.id.to_string()],
    )
    .await;

    assert!(refusal.to_lowercase().contains("unique"), "{refusal}");
}

async fn a_discarded_number_cannot_be_used_again(app: TestApp) {
    let running = active(&app.store, "Orders").await;
    edit_flow(&app.store, running.id, "second").await;
    perform(&app.store, running.id, Action::DiscardDraft).await;
    let id = running.id.to_string();

    let reinsert = attack(
        &app,
        "INSERT INTO versions (integration_id, number, definition, created_at, updated_at)
         VALUES ($1, 2, '{}', 0, 0)",
        &[&id],
    )
    .await;
    let delete = attack(
        &app,
        "DELETE FROM versions WHERE integration_id = $1 AND number = 2",
        &[&id],
    )
    .await;
    let revive = attack(
        &app,
        "UPDATE versions SET discarded_at = NULL WHERE integration_id = $1 AND number = 2",
        &[&id],
    )
    .await;

    assert!(!reinsert.is_empty() && !delete.is_empty() && !revive.is_empty());
}

async fn version_numbers_cannot_skip_or_repeat(app: TestApp) {
    let created = create(&app.store, "Orders").await;
    perform(&app.store, created.id, publishing()).await;

    let refusal = attack(
        &app,
        "INSERT INTO versions (integration_id, number, definition, created_at, updated_at)
         VALUES ($1, 5, '{}', 0, 0)",
        &[&created.id.to_string()],
    )
    .await;

    assert!(refusal.contains("never reused"), "{refusal}");
}

async fn error_can_never_be_a_target_state(app: TestApp) {
    let running = active(&app.store, "Orders").await;

    let refusal = attack(
        &app,
        "UPDATE integrations SET target_state = 'error', change_id = 'x' WHERE id = $1",
        &[&running.id.to_string()],
    )
    .await;

    assert!(refusal.to_lowercase().contains("check"), "{refusal}");
}

async fn two_active_versions_cannot_be_expressed_and_a_draft_cannot_be_active(app: TestApp) {
    let running = active(&app.store, "Orders").await;
    edit_flow(&app.store, running.id, "second").await;

    let refusal = attack(
        &app,
        "UPDATE integrations SET target_version = 2, change_id = 'x' WHERE id = $1",
        &[&running.id.to_string()],
    )
    .await;

    assert!(refusal.contains("must be published"), "{refusal}");
}

async fn a_change_of_state_without_who_and_why_is_refused(app: TestApp) {
    let running = active(&app.store, "Orders").await;
    let before = transition_count(&app.store, running.id).await;

    let refusal = attack(
        &app,
        "UPDATE integrations SET target_state = 'inactive' WHERE id = $1",
        &[&running.id.to_string()],
    )
    .await;

    assert!(refusal.contains("change_id"), "{refusal}");
    assert_eq!(transition_count(&app.store, running.id).await, before);
}

async fn a_change_of_state_is_logged_by_the_database_itself(app: TestApp) {
    let running = active(&app.store, "Orders").await;
    let before = transition_count(&app.store, running.id).await;

    accept(
        &app,
        "UPDATE integrations SET target_state = 'inactive', change_id = 'manual-1',
                change_actor = 'dba', change_reason = 'maintenance' WHERE id = $1",
        &[&running.id.to_string()],
    )
    .await;

    assert_eq!(transition_count(&app.store, running.id).await, before + 1);
    let reason: String = sqlx::query_scalar(
        "SELECT actor || ': ' || reason FROM transitions WHERE integration_id = $1 ORDER BY id DESC LIMIT 1")
        .bind(running.id.to_string()).fetch_one(app.store.pool()).await.unwrap();
    assert_eq!(reason, "dba: maintenance");
}

async fn the_transition_log_is_append_only(app: TestApp) {
    let running = active(&app.store, "Orders").await;
    let id = running.id.to_string();

    let update = attack(
        &app,
        "UPDATE transitions SET actor = 'mallory' WHERE integration_id = $1",
        &[&id],
    )
    .await;
    let delete = attack(
        &app,
        "DELETE FROM transitions WHERE integration_id = $1",
        &[&id],
    )
    .await;

    assert!(
        update.contains("append-only") && delete.contains("append-only"),
        "{update} / {delete}"
    );
}

async fn there_is_no_way_back_to_draft(app: TestApp) {
    let running = active(&app.store, "Orders").await;

    let refusal = attack(
        &app,
        "UPDATE integrations SET target_state = 'draft', change_id = 'x' WHERE id = $1",
        &[&running.id.to_string()],
    )
    .await;

    assert!(refusal.contains("no way back to draft"), "{refusal}");
}

async fn names_are_unique_whatever_the_case_among_integrations_not_unpublished(app: TestApp) {
    let stopped = inactive(&app.store, "Orders").await;

    let refusal = attack(&app,
        "INSERT INTO integrations (id, name, name_key, change_id, change_actor, created_at, updated_at)
         VALUES ('00000000-0000-4000-8000-000000000001', 'ORDERS', 'orders', 'c', 'dba', 0, 0)", &[]).await;
    assert!(refusal.to_lowercase().contains("unique"), "{refusal}");

    perform(&app.store, stopped.id, Action::Unpublish).await;
    accept(&app,
        "INSERT INTO integrations (id, name, name_key, change_id, change_actor, created_at, updated_at)
         VALUES ('00000000-0000-4000-8000-000000000001', 'ORDERS', 'orders', 'c', 'dba', 0, 0)", &[]).await;
}

async fn an_integration_cannot_be_born_published(app: TestApp) {
    let refusal = attack(&app,
        "INSERT INTO integrations (id, name, name_key, target_state, change_id, change_actor, created_at, updated_at)
         VALUES ('00000000-0000-4000-8000-000000000002', 'X', 'x', 'active', 'c', 'dba', 0, 0)", &[]).await;

    assert!(refusal.contains("starts as a draft"), "{refusal}");
}

async fn only_the_reconciler_function_writes_the_current_state_and_it_is_logged(app: TestApp) {
    let running = active(&app.store, "Orders").await;

    let failed = app
        .store
        .set_current(running.id, State::Error, None, "boom")
        .await
        .unwrap();

    assert_eq!(failed.current_state, State::Error);
    let log = app
        .store
        .transitions(running.id, Default::default())
        .await
        .unwrap();
    let newest = &log.items[0];
    assert_eq!(
        (
            newest.field.as_str(),
            newest.actor.as_str(),
            newest.reason.as_str()
        ),
        ("current_state", "reconciler", "boom")
    );
}

async fn only_a_published_version_is_marked_imported_with_where_from_and_when(app: TestApp) {
    let created = create(&app.store, "Orders").await;
    let id = created.id.to_string();

    // The draft: no mark, whatever is sent with it.
    let refusal = attack(
        &app,
        "UPDATE versions SET imported_from = 'http://dev', imported_at = 1 WHERE integration_id = $1",
        &[&id],
    )
    .await;
    assert!(
        refusal.contains("imported") || refusal.contains("check"),
        "{refusal}"
    );
    // Published with half a mark: where from, but not when.
    let refusal = attack(
        &app,
        "UPDATE versions SET published_at = 1, published_by = 'alice',
            content_hash = '0000000000000000000000000000000000000000000000000000000000000000',
            imported_from = 'http://dev'
         WHERE integration_id = $1",
        &[&id],
    )
    .await;
    assert!(
        refusal.contains("imported") || refusal.contains("check"),
        "{refusal}"
    );
    accept(
        &app,
        "UPDATE versions SET published_at = 1, published_by = 'alice',
            content_hash = '0000000000000000000000000000000000000000000000000000000000000000',
            imported_from = 'http://dev', imported_at = 2
         WHERE integration_id = $1",
        &[&id],
    )
    .await;
}
