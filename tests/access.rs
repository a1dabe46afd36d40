//! The role table as the application layer applies it: a refused operation answers
//! Forbidden naming the role and the operation, and changes nothing; the actions a
//! page offers are those the role allows. Every case runs on SQLite and PostgreSQL.
#![cfg(feature = "ssr")]
#![allow(clippy::unwrap_used)]

mod common;

use common::TestApp;
use common::fixtures::*;
use junction::domain::access::Role;
use junction::domain::lifecycle::{Action, ActionKind, State};
use junction::error::AppError;
use junction::service::Principal;

on_both_databases! {
    a_viewer_reads_but_is_refused_a_publish_and_nothing_changes: TestApp,
    an_editor_publishes_and_stops_but_may_not_unpublish: TestApp,
    an_administrator_unpublishes: TestApp,
    each_role_is_offered_only_the_actions_it_may_take: TestApp,
}

fn as_role(role: Role) -> Principal {
    Principal::new(&format!("a {role}"), role)
}

async fn a_viewer_reads_but_is_refused_a_publish_and_nothing_changes(app: TestApp) {
    let created = create(&app.store, "Orders").await;
    let viewer = as_role(Role::Viewer);

    let read = app.service.detail(&viewer, created.id).await;
    let refused = app.service.act(&viewer, created.id, &publishing()).await;

    assert!(read.is_ok(), "{read:?}");
    match refused {
        Err(AppError::Forbidden { message }) => {
            assert_eq!(
                message,
                "the viewer role may not publish; ask an administrator for a role that may"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(app.store.summary(created.id).await.unwrap(), created);
}

async fn an_editor_publishes_and_stops_but_may_not_unpublish(app: TestApp) {
    let id = create(&app.store, "Orders").await.id;
    let editor = as_role(Role::Editor);

    app.service.act(&editor, id, &publishing()).await.unwrap();
    settle(&app.store, id).await;
    app.service.act(&editor, id, &Action::Stop).await.unwrap();
    let stopped = settle(&app.store, id).await;
    let refused = app.service.act(&editor, id, &Action::Unpublish).await;

    assert!(
        matches!(refused, Err(AppError::Forbidden { .. })),
        "{refused:?}"
    );
    assert_eq!(app.store.summary(id).await.unwrap(), stopped);
    let log = app
        .service
        .transitions(&editor, id, Default::default())
        .await
        .unwrap();
    let stop = log
        .items
        .iter()
        .find(|t| t.field == "target_state" && t.to.as_deref() == Some("inactive"))
        .unwrap();
    assert_eq!(stop.actor, "a editor");
}

async fn an_administrator_unpublishes(app: TestApp) {
    let stopped = inactive(&app.store, "Orders").await;

    let unpublished = app
        .service
        .act(&as_role(Role::Admin), stopped.id, &Action::Unpublish)
        .await
        .unwrap();

    assert_eq!(unpublished.target_state.state(), State::Deleted);
}

async fn each_role_is_offered_only_the_actions_it_may_take(app: TestApp) {
    let stopped = inactive(&app.store, "Orders").await;
    let offered = async |role| {
        app.service
            .detail(&as_role(role), stopped.id)
            .await
            .unwrap()
            .allowed_actions
    };

    assert_eq!(offered(Role::Viewer).await, []);
    assert_eq!(
        offered(Role::Editor).await,
        [
            ActionKind::Publish,
            ActionKind::Start,
            ActionKind::Activate,
            ActionKind::Edit,
            ActionKind::RestoreAsDraft
        ]
    );
    assert!(offered(Role::Admin).await.contains(&ActionKind::Unpublish));
}
