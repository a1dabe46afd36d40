//! Builders for integrations in a given situation, through the store's own functions
//! (the reconciler's part played by `set_current`).
#![allow(dead_code, clippy::unwrap_used)]

use junction::domain::definition::Definition;
use junction::domain::lifecycle::Action;
use junction::domain::lifecycle::State;
use junction::domain::version::{PublishNote, VersionNumber};
use junction::domain::{Actor, IntegrationId, IntegrationSummary, NewIntegration};
use junction::store::Store;
use junction::store::integrations::DraftEdit;
use serde_json::json;

pub fn user() -> Actor {
    Actor::user("alice")
}

pub fn v(number: i64) -> VersionNumber {
    VersionNumber::new(number).unwrap()
}

/// A webhook flow at `/hooks/orders` whose transform writes `marker`, so versions
/// differ visibly.
pub fn flow(marker: &str) -> Definition {
    flow_at("orders", marker)
}

/// The same flow at another webhook path.
pub fn flow_at(path: &str, marker: &str) -> Definition {
    Definition::parse(&json!({
        "trigger": { "kind": "webhook", "path": path },
        "steps": [ { "kind": "transform", "template": { "marker": marker } } ]
    }))
    .unwrap()
}

/// The webhook path of an integration's flows: named after it ("Orders" at
/// `/hooks/orders`), since two running integrations never share one.
pub fn path_of(name: &str) -> String {
    Definition::starter(name)
        .webhook_path()
        .unwrap_or("hook")
        .to_owned()
}

pub async fn create(store: &Store, name: &str) -> IntegrationSummary {
    let new = NewIntegration::parse(name, "").unwrap();
    store
        .create_integration(&new, Some(&flow_at(&path_of(name), "v1")), &user())
        .await
        .unwrap()
}

pub async fn perform(store: &Store, id: IntegrationId, action: Action) -> IntegrationSummary {
    store.perform(id, &action, &user()).await.unwrap().unwrap()
}

/// Publish, without a note.
pub fn publishing() -> Action {
    Action::Publish {
        note: PublishNote::default(),
    }
}

pub async fn publish(store: &Store, id: IntegrationId, note: &str) -> IntegrationSummary {
    let note = PublishNote::parse(note).unwrap();
    perform(store, id, Action::Publish { note }).await
}

pub async fn edit_flow(store: &Store, id: IntegrationId, marker: &str) -> IntegrationSummary {
    let summary = store.summary(id).await.unwrap();
    let edit = DraftEdit {
        expected_revision: summary.revision,
        definition: Some(flow_at(&path_of(&summary.name), marker)),
        ..DraftEdit::default()
    };
    store.edit_draft(id, &edit).await.unwrap()
}

/// Plays the reconciler: makes the current state what the target asks for.
pub async fn settle(store: &Store, id: IntegrationId) -> IntegrationSummary {
    let summary = store.summary(id).await.unwrap();
    let version = match summary.target_state.state() {
        State::Active => summary.active_version,
        State::Draft | State::Inactive | State::Deleted | State::Error => None,
    };
    store
        .set_current(id, summary.target_state.state(), version, "test reconciler")
        .await
        .unwrap()
}

/// An integration published as v1 and running it.
pub async fn active(store: &Store, name: &str) -> IntegrationSummary {
    let created = create(store, name).await;
    publish(store, created.id, "first").await;
    settle(store, created.id).await
}

/// An integration that ran v1 and was stopped.
pub async fn inactive(store: &Store, name: &str) -> IntegrationSummary {
    let running = active(store, name).await;
    perform(store, running.id, Action::Stop).await;
    settle(store, running.id).await
}

/// How many transition rows an integration has.
pub async fn transition_count(store: &Store, id: IntegrationId) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM transitions WHERE integration_id = $1")
        .bind(id.to_string())
        .fetch_one(store.pool())
        .await
        .unwrap()
}
