//! The integration model through the store: every action of the specification's table,
//! versions, revisions and the transition log, on SQLite and PostgreSQL.
#![cfg(feature = "ssr")]
#![allow(clippy::unwrap_used)]

mod common;

#[allow(unused_imports)]
use common::TestApp;
use common::fixtures::*;
use junction::domain::access::Role;
use junction::domain::lifecycle::Action;
use junction::domain::lifecycle::{ActionKind, State, TargetState};
use junction::domain::{Actor, NewIntegration, PageRequest, VersionRef};
use junction::service::Principal;
use junction::store::StoreError;
use junction::store::integrations::DraftEdit;

on_both_databases! {
    a_new_integration_is_a_draft_with_draft_v1: TestApp,
    publishing_freezes_the_draft_as_the_active_version_and_asks_for_active: TestApp,
    editing_a_published_integration_starts_draft_v2_from_the_active_version: TestApp,
    further_edits_go_to_the_same_draft: TestApp,
    publishing_a_draft_while_active_replaces_the_running_version: TestApp,
    stop_then_start_asks_for_inactive_then_active_with_the_same_version: TestApp,
    stop_is_also_allowed_while_failing: TestApp,
    publish_without_a_draft_redeploys_a_stopped_integration: TestApp,
    activating_an_older_version_makes_it_the_active_one: TestApp,
    a_draft_cannot_be_activated: TestApp,
    unpublishing_a_stopped_integration_frees_its_name: TestApp,
    a_never_published_integration_can_be_deleted_with_its_versions: TestApp,
    a_published_integration_cannot_be_deleted: TestApp,
    a_discarded_drafts_number_is_never_used_again: TestApp,
    a_never_published_integration_has_no_draft_to_discard_but_can_be_deleted: TestApp,
    restoring_a_version_as_draft_copies_it_over_the_draft: TestApp,
    restoring_without_a_draft_creates_one: TestApp,
    a_version_of_an_unpublished_integration_serves_as_a_blueprint: TestApp,
    a_draft_is_no_blueprint: TestApp,
    a_refused_action_names_the_state_and_changes_nothing: TestApp,
    nothing_but_reading_is_allowed_once_unpublished: TestApp,
    an_edit_from_an_old_revision_is_refused_and_loses_nothing: TestApp,
    concurrent_edits_from_the_same_revision_let_exactly_one_win: TestApp,
    renaming_to_a_taken_name_is_refused: TestApp,
    fifty_concurrent_publishes_and_activations_leave_one_active_version_and_a_log_of_each: TestApp,
    every_change_of_state_is_in_the_log_with_who_and_why: TestApp,
    identical_flows_have_identical_content_hashes: TestApp,
    a_flow_published_once_is_identical_to_no_other_version: TestApp,
    unknown_integrations_and_versions_are_not_found: TestApp,
    versions_are_listed_newest_first_a_page_at_a_time: TestApp,
    a_page_of_versions_comes_with_their_flows_in_one_read: TestApp,
    the_detail_lists_the_actions_allowed_now: TestApp,
}

async fn a_new_integration_is_a_draft_with_draft_v1(app: TestApp) {
    let created = create(&app.store, "Orders").await;

    assert_eq!(created.current_state, State::Draft);
    assert_eq!(created.target_state, TargetState::Draft);
    assert_eq!(created.draft_version, Some(v(1)));
    assert_eq!(created.active_version, None);
    assert!(!created.pending());
}

async fn publishing_freezes_the_draft_as_the_active_version_and_asks_for_active(app: TestApp) {
    let created = create(&app.store, "Orders").await;

    let published = publish(&app.store, created.id, "first cut").await;

    assert_eq!(published.active_version, Some(v(1)));
    assert_eq!(published.draft_version, None);
    assert_eq!(published.target_state, TargetState::Active);
    assert_eq!(
        published.current_state,
        State::Draft,
        "only the reconciler writes the current state"
    );
    assert!(published.pending());
    let versions = app
        .store
        .versions(created.id, PageRequest::default())
        .await
        .unwrap();
    let v1 = &versions.items[0];
    let publication = v1.published.as_ref().unwrap();
    assert_eq!(publication.by, "alice");
    assert_eq!(publication.note.as_deref(), Some("first cut"));
    assert_eq!(publication.content_hash.len(), 64);
}

async fn editing_a_published_integration_starts_draft_v2_from_the_active_version(app: TestApp) {
    let running = active(&app.store, "Orders").await;

    let edited = edit_flow(&app.store, running.id, "second").await;

    assert_eq!(edited.draft_version, Some(v(2)));
    assert_eq!(
        edited.active_version,
        Some(v(1)),
        "the badge still shows v1"
    );
    let detail = app.store.integration(running.id).await.unwrap();
    let draft = detail.draft.unwrap();
    assert_eq!(draft.summary.based_on, Some(v(1)));
    assert_eq!(draft.definition["steps"][0]["template"]["marker"], "second");
}

async fn further_edits_go_to_the_same_draft(app: TestApp) {
    let running = active(&app.store, "Orders").await;
    edit_flow(&app.store, running.id, "second").await;

    let edited = edit_flow(&app.store, running.id, "third").await;

    assert_eq!(edited.draft_version, Some(v(2)));
    let versions = app
        .store
        .versions(running.id, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(versions.total, 2);
}

async fn publishing_a_draft_while_active_replaces_the_running_version(app: TestApp) {
    let running = active(&app.store, "Orders").await;
    edit_flow(&app.store, running.id, "second").await;

    let published = publish(&app.store, running.id, "").await;

    assert_eq!(published.active_version, Some(v(2)));
    assert_eq!(
        published.current_version,
        Some(v(1)),
        "v1 runs until the reconciler swaps it"
    );
    assert!(
        published.pending(),
        "pending while the running version differs"
    );
    let settled = settle(&app.store, running.id).await;
    assert_eq!(settled.current_version, Some(v(2)));
    assert!(!settled.pending());
}

async fn stop_then_start_asks_for_inactive_then_active_with_the_same_version(app: TestApp) {
    let running = active(&app.store, "Orders").await;

    let stopping = perform(&app.store, running.id, Action::Stop).await;
    assert_eq!(stopping.target_state, TargetState::Inactive);
    settle(&app.store, running.id).await;
    let starting = perform(&app.store, running.id, Action::Start).await;

    assert_eq!(starting.target_state, TargetState::Active);
    assert_eq!(starting.active_version, Some(v(1)));
}

async fn stop_is_also_allowed_while_failing(app: TestApp) {
    let running = active(&app.store, "Orders").await;
    app.store
        .set_current(running.id, State::Error, None, "crashed")
        .await
        .unwrap();

    let stopping = perform(&app.store, running.id, Action::Stop).await;

    assert_eq!(stopping.target_state, TargetState::Inactive);
}

async fn publish_without_a_draft_redeploys_a_stopped_integration(app: TestApp) {
    let stopped = inactive(&app.store, "Orders").await;

    let republished = publish(&app.store, stopped.id, "").await;

    assert_eq!(republished.target_state, TargetState::Active);
    assert_eq!(republished.active_version, Some(v(1)));
}

async fn activating_an_older_version_makes_it_the_active_one(app: TestApp) {
    let running = active(&app.store, "Orders").await;
    edit_flow(&app.store, running.id, "second").await;
    publish(&app.store, running.id, "").await;
    settle(&app.store, running.id).await;

    let switched = perform(&app.store, running.id, Action::Activate(v(1))).await;

    assert_eq!(switched.active_version, Some(v(1)));
    assert_eq!(switched.target_state, TargetState::Active);
}

async fn a_draft_cannot_be_activated(app: TestApp) {
    let running = active(&app.store, "Orders").await;
    edit_flow(&app.store, running.id, "second").await;

    let refused = app
        .store
        .perform(running.id, &Action::Activate(v(2)), &user())
        .await;

    let Err(StoreError::InvalidTransition(refusal)) = refused else {
        panic!("{refused:?}")
    };
    assert_eq!(
        refusal.reason.as_deref(),
        Some("v2 is a draft: publish it first")
    );
}

async fn unpublishing_a_stopped_integration_frees_its_name(app: TestApp) {
    let stopped = inactive(&app.store, "Orders").await;

    let unpublished = perform(&app.store, stopped.id, Action::Unpublish).await;

    assert_eq!(unpublished.target_state, TargetState::Deleted);
    let again = create(&app.store, "orders").await;
    assert_eq!(again.name, "orders");
}

async fn a_never_published_integration_can_be_deleted_with_its_versions(app: TestApp) {
    let created = create(&app.store, "Orders").await;

    let deleted = app
        .store
        .perform(created.id, &Action::Delete, &user())
        .await
        .unwrap();

    assert!(deleted.is_none());
    assert!(matches!(
        app.store.summary(created.id).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn a_published_integration_cannot_be_deleted(app: TestApp) {
    let running = active(&app.store, "Orders").await;

    let refused = app
        .store
        .perform(running.id, &Action::Delete, &user())
        .await;

    assert!(
        matches!(refused, Err(StoreError::InvalidTransition(_))),
        "{refused:?}"
    );
    assert!(app.store.summary(running.id).await.is_ok());
}

async fn a_discarded_drafts_number_is_never_used_again(app: TestApp) {
    let running = active(&app.store, "Orders").await;
    edit_flow(&app.store, running.id, "second").await;

    let discarded = perform(&app.store, running.id, Action::DiscardDraft).await;
    assert_eq!(discarded.draft_version, None);
    let edited = edit_flow(&app.store, running.id, "third").await;

    assert_eq!(edited.draft_version, Some(v(3)));
    let numbers: Vec<_> = app
        .store
        .versions(running.id, PageRequest::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|version| version.number.get())
        .collect();
    assert_eq!(numbers, [3, 1], "the discarded v2 is not listed");
}

async fn a_never_published_integration_has_no_draft_to_discard_but_can_be_deleted(app: TestApp) {
    let created = create(&app.store, "Orders").await;

    let refused = app
        .store
        .perform(created.id, &Action::DiscardDraft, &user())
        .await;

    let Err(StoreError::InvalidTransition(refusal)) = refused else {
        panic!("{refused:?}")
    };
    assert_eq!(
        refusal.reason.as_deref(),
        Some("it was never published: delete the integration instead")
    );
}

async fn restoring_a_version_as_draft_copies_it_over_the_draft(app: TestApp) {
    let running = active(&app.store, "Orders").await;
    edit_flow(&app.store, running.id, "second").await;

    let restored = perform(&app.store, running.id, Action::RestoreAsDraft(v(1))).await;

    assert_eq!(
        restored.draft_version,
        Some(v(2)),
        "the same draft, overwritten"
    );
    let detail = app.store.integration(running.id).await.unwrap();
    let draft = detail.draft.unwrap();
    assert_eq!(draft.definition, detail.active.unwrap().definition);
    assert_eq!(draft.summary.based_on, Some(v(1)));
}

async fn restoring_without_a_draft_creates_one(app: TestApp) {
    let running = active(&app.store, "Orders").await;

    let restored = perform(&app.store, running.id, Action::RestoreAsDraft(v(1))).await;

    assert_eq!(restored.draft_version, Some(v(2)));
}

async fn a_version_of_an_unpublished_integration_serves_as_a_blueprint(app: TestApp) {
    let stopped = inactive(&app.store, "Orders").await;
    perform(&app.store, stopped.id, Action::Unpublish).await;
    let source = VersionRef {
        integration_id: stopped.id,
        number: v(1),
    };
    let new = NewIntegration::parse("Orders, again", "from the old one").unwrap();

    let copy = app
        .store
        .create_from_version(&source, &new, &user())
        .await
        .unwrap();

    assert_eq!(copy.draft_version, Some(v(1)));
    assert_eq!(copy.current_state, State::Draft);
    let detail = app.store.integration(copy.id).await.unwrap();
    assert_eq!(detail.draft.as_ref().unwrap().summary.source, Some(source));
    let original = app.store.version(stopped.id, v(1)).await.unwrap();
    assert_eq!(detail.draft.unwrap().definition, original.definition);
}

async fn a_draft_is_no_blueprint(app: TestApp) {
    let created = create(&app.store, "Orders").await;
    let source = VersionRef {
        integration_id: created.id,
        number: v(1),
    };
    let new = NewIntegration::parse("Copy", "").unwrap();

    let refused = app.store.create_from_version(&source, &new, &user()).await;

    assert!(
        matches!(refused, Err(StoreError::NotFound(_))),
        "{refused:?}"
    );
}

async fn a_refused_action_names_the_state_and_changes_nothing(app: TestApp) {
    let running = active(&app.store, "Orders").await;
    let before = transition_count(&app.store, running.id).await;

    let refused = app
        .store
        .perform(running.id, &Action::Unpublish, &user())
        .await;

    let Err(StoreError::InvalidTransition(refusal)) = refused else {
        panic!("{refused:?}")
    };
    assert_eq!(
        refusal.to_string(),
        "cannot unpublish: the integration is Active; allowed now: Stop, Activate, Edit, Restore as draft"
    );
    assert_eq!(
        app.store.summary(running.id).await.unwrap().revision,
        running.revision
    );
    assert_eq!(transition_count(&app.store, running.id).await, before);
}

async fn nothing_but_reading_is_allowed_once_unpublished(app: TestApp) {
    let stopped = inactive(&app.store, "Orders").await;
    perform(&app.store, stopped.id, Action::Unpublish).await;

    let edit = DraftEdit {
        expected_revision: app.store.summary(stopped.id).await.unwrap().revision,
        definition: Some(flow("late")),
        ..DraftEdit::default()
    };
    let refused = app.store.edit_draft(stopped.id, &edit).await;

    assert!(
        matches!(refused, Err(StoreError::InvalidTransition(_))),
        "{refused:?}"
    );
    let detail = app
        .service
        .detail(&Principal::new("alice", Role::Admin), stopped.id)
        .await
        .unwrap();
    assert!(detail.allowed_actions.is_empty());
}

async fn an_edit_from_an_old_revision_is_refused_and_loses_nothing(app: TestApp) {
    let created = create(&app.store, "Orders").await;
    edit_flow(&app.store, created.id, "theirs").await;
    let stale = DraftEdit {
        expected_revision: created.revision,
        definition: Some(flow("mine")),
        ..DraftEdit::default()
    };

    let refused = app.store.edit_draft(created.id, &stale).await;

    let Err(StoreError::RevisionMismatch { expected, current }) = refused else {
        panic!("{refused:?}")
    };
    assert_eq!(
        (expected, current),
        (created.revision, created.revision + 1)
    );
    let draft = app
        .store
        .integration(created.id)
        .await
        .unwrap()
        .draft
        .unwrap();
    assert_eq!(draft.definition["steps"][0]["template"]["marker"], "theirs");
}

async fn concurrent_edits_from_the_same_revision_let_exactly_one_win(app: TestApp) {
    let created = create(&app.store, "Orders").await;
    let attempts = (0..8).map(|i| {
        let store = app.store.clone();
        let edit = DraftEdit {
            expected_revision: created.revision,
            definition: Some(flow(&format!("editor {i}"))),
            ..DraftEdit::default()
        };
        tokio::spawn(async move { store.edit_draft(created.id, &edit).await })
    });

    let results = futures_join(attempts).await;

    let wins = results.iter().filter(|result| result.is_ok()).count();
    let conflicts = results
        .iter()
        .filter(|result| matches!(result, Err(StoreError::RevisionMismatch { .. })))
        .count();
    assert_eq!((wins, conflicts), (1, 7), "{results:?}");
}

async fn renaming_to_a_taken_name_is_refused(app: TestApp) {
    create(&app.store, "Orders").await;
    let other = create(&app.store, "Invoices").await;
    let edit = DraftEdit {
        expected_revision: other.revision,
        name: Some(junction::domain::IntegrationName::parse("ORDERS").unwrap()),
        ..DraftEdit::default()
    };

    let refused = app.store.edit_draft(other.id, &edit).await;

    assert!(
        matches!(refused, Err(StoreError::NameTaken(_))),
        "{refused:?}"
    );
}

async fn fifty_concurrent_publishes_and_activations_leave_one_active_version_and_a_log_of_each(
    app: TestApp,
) {
    let running = active(&app.store, "Orders").await;
    edit_flow(&app.store, running.id, "second").await;
    publish(&app.store, running.id, "").await;
    let before = transition_count(&app.store, running.id).await;
    let attempts = (0..50).map(|i| {
        let store = app.store.clone();
        let id = running.id;
        tokio::spawn(async move {
            let racer = Actor::user("racer");
            let command = match i % 3 {
                0 => Action::Activate(v(1)),
                1 => Action::Activate(v(2)),
                _ => {
                    // A publisher writes a draft of its own first; that edit may
                    // lose a revision race, and the publish may find the draft
                    // already published by someone else.
                    let revision = store.summary(id).await?.revision;
                    let edit = DraftEdit {
                        expected_revision: revision,
                        definition: Some(flow(&format!("racer {i}"))),
                        ..DraftEdit::default()
                    };
                    store.edit_draft(id, &edit).await?;
                    publishing()
                }
            };
            store.perform(id, &command, &racer).await
        })
    });

    let results = futures_join(attempts).await;

    let failures: Vec<_> = results
        .iter()
        .filter(|result| {
            !matches!(
                result,
                Ok(_) | Err(StoreError::InvalidTransition(_) | StoreError::RevisionMismatch { .. })
            )
        })
        .collect();
    assert!(
        failures.is_empty(),
        "only clean refusals, never a database error: {failures:?}"
    );
    assert!(
        results.iter().filter(|result| result.is_ok()).count() >= 34,
        "activations always succeed"
    );
    let summary = app.store.summary(running.id).await.unwrap();
    let published: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM versions WHERE integration_id = $1 AND published_at IS NOT NULL",
    )
    .bind(running.id.to_string())
    .fetch_one(app.store.pool())
    .await
    .unwrap();
    let active = summary.active_version.unwrap().get();
    assert!(
        (1..=published).contains(&active),
        "the one active version is a published one"
    );
    let log = app
        .store
        .transitions(running.id, PageRequest::new(Some(1), Some(200)))
        .await
        .unwrap();
    assert!(log.total as i64 > before, "the changes were logged");
    // Each change of the active version is logged once: replayed oldest first, every
    // entry starts where the previous one ended, and the last ends at the final value.
    let mut active = None;
    for change in log
        .items
        .iter()
        .rev()
        .filter(|t| t.field == "target_version")
    {
        assert_eq!(change.from, active, "the log is an unbroken chain");
        active = change.to.clone();
    }
    assert_eq!(active, summary.active_version.map(|n| n.get().to_string()));
}

async fn every_change_of_state_is_in_the_log_with_who_and_why(app: TestApp) {
    let running = active(&app.store, "Orders").await;
    perform(&app.store, running.id, Action::Stop).await;

    let log = app
        .store
        .transitions(running.id, PageRequest::default())
        .await
        .unwrap();

    let lines: Vec<String> = log
        .items
        .iter()
        .rev()
        .map(|t| {
            format!(
                "{} {}->{} by {} ({})",
                t.field,
                t.from.as_deref().unwrap_or("-"),
                t.to.as_deref().unwrap_or("-"),
                t.actor,
                t.reason
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            "target_state -->draft by alice (created)",
            "current_state -->draft by alice (created)",
            "target_version -->1 by alice (published v1: first)",
            "target_state draft->active by alice (published v1: first)",
            "current_version -->1 by reconciler (test reconciler)",
            "current_state draft->active by reconciler (test reconciler)",
            "target_state active->inactive by alice (stopped)",
        ]
    );
}

async fn identical_flows_have_identical_content_hashes(app: TestApp) {
    let running = active(&app.store, "Orders").await;
    edit_flow(&app.store, running.id, "v1").await;
    publish(&app.store, running.id, "same again").await;

    let versions = app
        .store
        .versions(running.id, PageRequest::default())
        .await
        .unwrap()
        .items;

    let hashes: Vec<_> = versions
        .iter()
        .map(|v| v.published.as_ref().unwrap().content_hash.clone())
        .collect();
    assert_eq!(hashes[0], hashes[1]);
    let oldest = app
        .store
        .oldest_by_hash(running.id, &[&hashes[0], "no such hash"])
        .await
        .unwrap();
    assert_eq!(oldest, [(hashes[0].clone(), v(1))].into_iter().collect());
}

async fn a_flow_published_once_is_identical_to_no_other_version(app: TestApp) {
    let running = active(&app.store, "Orders").await;
    edit_flow(&app.store, running.id, "second").await;
    publish(&app.store, running.id, "different").await;

    let versions = app
        .store
        .versions(running.id, PageRequest::default())
        .await
        .unwrap()
        .items;
    let hashes: Vec<&str> = versions
        .iter()
        .map(|v| v.published.as_ref().unwrap().content_hash.as_str())
        .collect();

    assert!(
        app.store
            .oldest_by_hash(running.id, &hashes)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn unknown_integrations_and_versions_are_not_found(app: TestApp) {
    let running = active(&app.store, "Orders").await;
    let nobody =
        junction::domain::IntegrationId::parse("00000000-0000-4000-8000-000000000000").unwrap();

    assert!(matches!(
        app.store.integration(nobody).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        app.store.perform(nobody, &Action::Stop, &user()).await,
        Err(StoreError::NotFound(_))
    ));
    let missing = app
        .store
        .perform(running.id, &Action::Activate(v(9)), &user())
        .await;
    let Err(StoreError::NotFound(what)) = missing else {
        panic!("{missing:?}")
    };
    assert_eq!(what, format!("version v9 of integration {}", running.id));
}

async fn versions_are_listed_newest_first_a_page_at_a_time(app: TestApp) {
    let running = active(&app.store, "Orders").await;
    for marker in ["2", "3", "4"] {
        edit_flow(&app.store, running.id, marker).await;
        publish(&app.store, running.id, "").await;
    }

    let second_page = app
        .store
        .versions(running.id, PageRequest::new(Some(2), Some(3)))
        .await
        .unwrap();

    assert_eq!(second_page.total, 4);
    let numbers: Vec<_> = second_page
        .items
        .iter()
        .map(|version| version.number.get())
        .collect();
    assert_eq!(numbers, [1]);
}

async fn a_page_of_versions_comes_with_their_flows_in_one_read(app: TestApp) {
    let running = active(&app.store, "Orders").await;
    edit_flow(&app.store, running.id, "second").await;

    let page = app
        .store
        .versions_with_definitions(running.id, PageRequest::new(Some(1), Some(1)))
        .await
        .unwrap();

    assert_eq!(page.total, 2);
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].summary.number, v(2));
    assert_eq!(
        page.items[0].definition["steps"][0]["template"]["marker"],
        "second"
    );
}

async fn the_detail_lists_the_actions_allowed_now(app: TestApp) {
    let stopped = inactive(&app.store, "Orders").await;

    let detail = app
        .service
        .detail(&Principal::new("alice", Role::Admin), stopped.id)
        .await
        .unwrap();

    assert_eq!(
        detail.allowed_actions,
        [
            ActionKind::Publish,
            ActionKind::Start,
            ActionKind::Activate,
            ActionKind::Unpublish,
            ActionKind::Edit,
            ActionKind::RestoreAsDraft,
        ]
    );
}

async fn futures_join<T: std::fmt::Debug>(
    tasks: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    let mut results = Vec::new();
    for task in tasks.collect::<Vec<_>>() {
        results.push(task.await.unwrap());
    }
    results
}
