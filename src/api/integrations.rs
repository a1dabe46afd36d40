//! Server functions for integrations: one per operation of the application layer,
//! each reading its form arguments and calling that operation.

use leptos::prelude::*;

use crate::domain::activity::ActivityEntry;
use crate::domain::diff::DefinitionDiff;
use crate::domain::{
    DetailPage, History, IntegrationDetail, IntegrationSummary, Page, Transition, Version,
    VersionSummary,
};
use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::{
    domain::PageRequest,
    domain::definition::Definition,
    domain::lifecycle::Action,
    service::input::{integration_id, publish_note, version_field},
};

/// The next five times a cron schedule runs in a time zone, as text
/// ("2026-12-07 09:00 Europe/Berlin (08:00 UTC)"); an expression or zone that does not
/// read is an error at its field.
#[server(endpoint = "next_runs")]
pub async fn next_runs(schedule: String, time_zone: String) -> Result<Vec<String>, AppError> {
    let (service, who) = super::service()?;
    service.next_runs(&who, &schedule, &time_zone)
}

/// Every integration, newest first.
#[server(endpoint = "list_integrations")]
pub async fn list_integrations() -> Result<Vec<IntegrationSummary>, AppError> {
    let (service, who) = super::service()?;
    service.all_integrations(&who).await
}

/// Creates an integration from the "New integration" form.
#[server(endpoint = "create_integration")]
pub async fn create_integration(
    name: String,
    description: String,
) -> Result<IntegrationSummary, AppError> {
    use crate::service::CreateRequest;

    let result = async {
        let (service, who) = super::service()?;
        let request = CreateRequest {
            name: &name,
            description: &description,
            definition: None,
        };
        service.create(&who, request).await
    }
    .await;
    super::reply_to_form(result, &[("name", &name), ("description", &description)]).await
}

/// Creates an integration with its first draft's flow (JSON text), from the editor.
#[server(endpoint = "create_integration_with")]
pub async fn create_integration_with(
    name: String,
    description: String,
    definition: Option<String>,
) -> Result<IntegrationSummary, AppError> {
    use crate::service::CreateRequest;

    let (service, who) = super::service()?;
    let request = CreateRequest {
        name: &name,
        description: &description,
        definition: definition.as_deref().map(Definition::parse_str),
    };
    service.create(&who, request).await
}

/// One integration with its active version, draft and versions; secrets masked.
#[server(endpoint = "get_integration")]
pub async fn get_integration(id: String) -> Result<IntegrationDetail, AppError> {
    let (service, who) = super::service()?;
    service.detail(&who, integration_id(&id)?).await
}

/// One version with its flow; secrets masked.
#[server(endpoint = "get_version")]
pub async fn get_version(id: String, version: String) -> Result<Version, AppError> {
    let (service, who) = super::service()?;
    let (id, number) = (integration_id(&id)?, version_field(&version)?);
    service.version(&who, id, number).await
}

/// The versions of an integration, newest first.
#[server(endpoint = "list_versions")]
pub async fn list_versions(
    id: String,
    page: Option<u32>,
    per_page: Option<u32>,
) -> Result<Page<VersionSummary>, AppError> {
    let (service, who) = super::service()?;
    let page = PageRequest::new(page, per_page);
    service.versions(&who, integration_id(&id)?, page).await
}

/// The recent activity of an integration: each message with its steps, newest first.
#[server(endpoint = "list_activity")]
pub async fn list_activity(
    id: String,
    page: Option<u32>,
    per_page: Option<u32>,
) -> Result<Page<ActivityEntry>, AppError> {
    let (service, who) = super::service()?;
    let page = PageRequest::new(page, per_page);
    service.activity(&who, integration_id(&id)?, page).await
}

/// The transition log, newest first.
#[server(endpoint = "list_transitions")]
pub async fn list_transitions(
    id: String,
    page: Option<u32>,
    per_page: Option<u32>,
) -> Result<Page<Transition>, AppError> {
    let (service, who) = super::service()?;
    let page = PageRequest::new(page, per_page);
    service.transitions(&who, integration_id(&id)?, page).await
}

/// Saves the editor: name, description and the draft's flow (as JSON text), guarded
/// by the revision the editor started from.
#[server(endpoint = "save_draft")]
pub async fn save_draft(
    id: String,
    revision: i64,
    name: Option<String>,
    description: Option<String>,
    definition: Option<String>,
) -> Result<IntegrationSummary, AppError> {
    use crate::service::DraftRequest;

    let (service, who) = super::service()?;
    let request = DraftRequest {
        expected_revision: revision,
        name: name.as_deref(),
        description: description.as_deref(),
        definition: definition.as_deref().map(Definition::parse_str),
    };
    service
        .save_draft(&who, integration_id(&id)?, request)
        .await
}

/// Freezes the draft as the new active version (or redeploys), then asks for Active.
#[server(endpoint = "publish")]
pub async fn publish(id: String, note: Option<String>) -> Result<IntegrationSummary, AppError> {
    let note = publish_note(note.as_deref())?;
    act(&id, Action::Publish { note }).await
}

#[server(endpoint = "stop")]
pub async fn stop(id: String) -> Result<IntegrationSummary, AppError> {
    act(&id, Action::Stop).await
}

#[server(endpoint = "start")]
pub async fn start(id: String) -> Result<IntegrationSummary, AppError> {
    act(&id, Action::Start).await
}

/// Re-arms the reconciler's retries of a failing integration now.
#[server(endpoint = "retry")]
pub async fn retry(id: String) -> Result<IntegrationSummary, AppError> {
    act(&id, Action::Retry).await
}

#[server(endpoint = "unpublish")]
pub async fn unpublish(id: String) -> Result<IntegrationSummary, AppError> {
    act(&id, Action::Unpublish).await
}

#[server(endpoint = "discard_draft")]
pub async fn discard_draft(id: String) -> Result<IntegrationSummary, AppError> {
    act(&id, Action::DiscardDraft).await
}

/// Makes version N the active version.
#[server(endpoint = "activate_version")]
pub async fn activate_version(id: String, version: String) -> Result<IntegrationSummary, AppError> {
    act(&id, Action::Activate(version_field(&version)?)).await
}

/// Replaces the draft with a copy of version N.
#[server(endpoint = "restore_version")]
pub async fn restore_version(id: String, version: String) -> Result<IntegrationSummary, AppError> {
    act(&id, Action::RestoreAsDraft(version_field(&version)?)).await
}

/// Removes a never-published integration and its draft.
#[server(endpoint = "delete_integration")]
pub async fn delete_integration(id: String) -> Result<(), AppError> {
    let (service, who) = super::service()?;
    service
        .perform(&who, integration_id(&id)?, &Action::Delete)
        .await?;
    // A form posted without JavaScript would be sent back to the deleted page.
    if super::is_plain_form_post().await {
        leptos_axum::redirect("/");
    }
    Ok(())
}

/// "New integration from this version": a new integration whose draft copies version
/// N. Without a name, it is called after the original ("Orders from v3").
#[server(endpoint = "new_from_version")]
pub async fn new_from_version(
    id: String,
    version: String,
    name: Option<String>,
    description: Option<String>,
) -> Result<IntegrationSummary, AppError> {
    use crate::domain::VersionRef;
    use crate::service::BlueprintRequest;

    let (service, who) = super::service()?;
    let request = BlueprintRequest {
        source: VersionRef {
            integration_id: integration_id(&id)?,
            number: version_field(&version)?,
        },
        // An empty name field asks for the derived name.
        name: name
            .as_deref()
            .map(str::trim)
            .filter(|name| !name.is_empty()),
        description: description.as_deref(),
    };
    service.blueprint(&who, request).await
}

/// Sends version N to another Junction through a `junction` connection (`remote`);
/// with `activate`, the remote runs it. Answers the recorded promotion, whether the
/// remote took it or not.
#[server(endpoint = "promote_version")]
pub async fn promote_version(
    id: String,
    version: String,
    remote: String,
    activate: Option<String>,
) -> Result<crate::domain::transfer::Promotion, AppError> {
    let (service, who) = super::service()?;
    let request = crate::service::PromoteRequest {
        remote: remote.trim(),
        activate: activate.is_some_and(|value| value == "true" || value == "on"),
        connections: Default::default(),
    };
    let origin = origin().await;
    service
        .promote(
            &who,
            integration_id(&id)?,
            version_field(&version)?,
            &origin,
            request,
        )
        .await
}

/// A page of integrations for the list: filtered by state (a state name, or empty for
/// all but the unpublished) and by a piece of the name.
#[server(endpoint = "find_integrations")]
pub async fn find_integrations(
    state: Option<String>,
    q: Option<String>,
    page: Option<u32>,
) -> Result<Page<IntegrationSummary>, AppError> {
    use crate::service::ListRequest;

    let (service, who) = super::service()?;
    let request = ListRequest {
        state: state.as_deref(),
        name_contains: q.as_deref(),
        page: PageRequest::new(page, Some(25)),
    };
    service.list_integrations(&who, request).await
}

/// What the detail page shows: the integration, its webhook URL and recent activity.
#[server(endpoint = "get_detail_page")]
pub async fn get_detail_page(id: String) -> Result<DetailPage, AppError> {
    let (service, who) = super::service()?;
    let origin = origin().await;
    service
        .detail_page(&who, integration_id(&id)?, &origin)
        .await
}

/// What the history page shows: versions (a page at a time, with their flows and
/// "identical to" marks) and the transition log (a page at a time).
#[server(endpoint = "get_history")]
pub async fn get_history(
    id: String,
    page: Option<u32>,
    log_page: Option<u32>,
) -> Result<History, AppError> {
    let (service, who) = super::service()?;
    service
        .history(&who, integration_id(&id)?, page, log_page)
        .await
}

/// The difference between two versions (`a`, `b`).
#[server(endpoint = "diff_versions")]
pub async fn diff_versions(id: String, a: String, b: String) -> Result<DefinitionDiff, AppError> {
    let (service, who) = super::service()?;
    let (a, b) = (version_field(&a)?, version_field(&b)?);
    service.diff(&who, integration_id(&id)?, a, b).await
}

/// Runs an action that leaves the integration in place.
#[cfg(feature = "ssr")]
async fn act(id: &str, action: Action) -> Result<IntegrationSummary, AppError> {
    let (service, who) = super::service()?;
    service.act(&who, integration_id(id)?, &action).await
}

/// The scheme and host the browser used, for links that are copied elsewhere.
#[cfg(feature = "ssr")]
async fn origin() -> String {
    let headers = leptos_axum::extract::<axum::http::HeaderMap>()
        .await
        .unwrap_or_default();
    super::origin_of(&headers)
}
