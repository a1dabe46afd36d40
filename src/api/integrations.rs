//! Server functions for integrations: one per action of the specification, each
//! parsing its input into domain types and calling one store function.

use leptos::prelude::*;

use crate::domain::activity::ActivityEntry;
use crate::domain::{
    DetailPage, History, IntegrationDetail, IntegrationSummary, Page, Transition, Version,
    VersionSummary,
};
use crate::error::AppError;

/// Every integration, newest first.
#[server(endpoint = "list_integrations")]
pub async fn list_integrations() -> Result<Vec<IntegrationSummary>, AppError> {
    Ok(super::store()?.list_integrations().await?)
}

/// Creates an integration from the "New integration" form.
#[server(endpoint = "create_integration")]
pub async fn create_integration(
    name: String,
    description: String,
) -> Result<IntegrationSummary, AppError> {
    use crate::domain::NewIntegration;

    let result = async {
        let new = NewIntegration::parse(&name, &description)?;
        Ok(super::store()?
            .create_integration(&new, None, &super::web_user())
            .await?)
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
    use crate::domain::definition::Definition;

    let definition = definition.as_deref().map(Definition::parse_str);
    let (new, definition) = super::parse_new(&name, &description, definition)?;
    Ok(super::store()?
        .create_integration(&new, definition.as_ref(), &super::web_user())
        .await?)
}

/// One integration with its active version, draft and versions; secrets masked.
#[server(endpoint = "get_integration")]
pub async fn get_integration(id: String) -> Result<IntegrationDetail, AppError> {
    let id = server::parse_id(&id)?;
    Ok(super::store()?.integration(id).await?.masked())
}

/// One version with its flow; secrets masked.
#[server(endpoint = "get_version")]
pub async fn get_version(id: String, version: String) -> Result<Version, AppError> {
    let id = server::parse_id(&id)?;
    let number = server::parse_version(&version)?;
    Ok(super::store()?.version(id, number).await?.masked())
}

/// The versions of an integration, newest first.
#[server(endpoint = "list_versions")]
pub async fn list_versions(
    id: String,
    page: Option<u32>,
    per_page: Option<u32>,
) -> Result<Page<VersionSummary>, AppError> {
    use crate::domain::PageRequest;

    let id = server::parse_id(&id)?;
    Ok(super::store()?
        .versions(id, PageRequest::new(page, per_page))
        .await?)
}

/// The recent activity of an integration: each message with its steps, newest first.
#[server(endpoint = "list_activity")]
pub async fn list_activity(
    id: String,
    page: Option<u32>,
    per_page: Option<u32>,
) -> Result<Page<ActivityEntry>, AppError> {
    use crate::domain::PageRequest;

    let id = server::parse_id(&id)?;
    Ok(super::store()?
        .activity(id, PageRequest::new(page, per_page))
        .await?)
}

/// The transition log, newest first.
#[server(endpoint = "list_transitions")]
pub async fn list_transitions(
    id: String,
    page: Option<u32>,
    per_page: Option<u32>,
) -> Result<Page<Transition>, AppError> {
    use crate::domain::PageRequest;

    let id = server::parse_id(&id)?;
    Ok(super::store()?
        .transitions(id, PageRequest::new(page, per_page))
        .await?)
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
    use crate::domain::definition::Definition;

    let id = server::parse_id(&id)?;
    let edit = super::parse_edit(
        revision,
        name.as_deref(),
        description.as_deref(),
        definition.as_deref().map(Definition::parse_str),
    )?;
    Ok(super::store()?.edit_draft(id, &edit).await?)
}

/// Freezes the draft as the new active version (or redeploys), then asks for Active.
#[server(endpoint = "publish")]
pub async fn publish(id: String, note: Option<String>) -> Result<IntegrationSummary, AppError> {
    use crate::domain::version::PublishNote;
    use crate::store::integrations::Command;

    let note = PublishNote::parse(note.as_deref().unwrap_or(""))
        .map_err(|err| AppError::field("note", err))?;
    server::perform(&id, Command::Publish { note }).await
}

#[server(endpoint = "stop")]
pub async fn stop(id: String) -> Result<IntegrationSummary, AppError> {
    server::perform(&id, crate::store::integrations::Command::Stop).await
}

#[server(endpoint = "start")]
pub async fn start(id: String) -> Result<IntegrationSummary, AppError> {
    server::perform(&id, crate::store::integrations::Command::Start).await
}

/// Re-arms the reconciler's retries of a failing integration now.
#[server(endpoint = "retry")]
pub async fn retry(id: String) -> Result<IntegrationSummary, AppError> {
    server::perform(&id, crate::store::integrations::Command::Retry).await
}

#[server(endpoint = "unpublish")]
pub async fn unpublish(id: String) -> Result<IntegrationSummary, AppError> {
    server::perform(&id, crate::store::integrations::Command::Unpublish).await
}

#[server(endpoint = "discard_draft")]
pub async fn discard_draft(id: String) -> Result<IntegrationSummary, AppError> {
    server::perform(&id, crate::store::integrations::Command::DiscardDraft).await
}

/// Makes version N the active version.
#[server(endpoint = "activate_version")]
pub async fn activate_version(id: String, version: String) -> Result<IntegrationSummary, AppError> {
    let number = server::parse_version(&version)?;
    server::perform(&id, crate::store::integrations::Command::Activate(number)).await
}

/// Replaces the draft with a copy of version N.
#[server(endpoint = "restore_version")]
pub async fn restore_version(id: String, version: String) -> Result<IntegrationSummary, AppError> {
    let number = server::parse_version(&version)?;
    server::perform(
        &id,
        crate::store::integrations::Command::RestoreAsDraft(number),
    )
    .await
}

/// Removes a never-published integration and its draft.
#[server(endpoint = "delete_integration")]
pub async fn delete_integration(id: String) -> Result<(), AppError> {
    use crate::store::integrations::Command;

    let id = server::parse_id(&id)?;
    super::store()?
        .perform(id, &Command::Delete, &super::web_user())
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
    use crate::domain::{Description, NewIntegration, VersionRef};

    let source = VersionRef {
        integration_id: server::parse_id(&id)?,
        number: server::parse_version(&version)?,
    };
    let store = super::store()?;
    let new = match name
        .as_deref()
        .map(str::trim)
        .filter(|name| !name.is_empty())
    {
        Some(name) => NewIntegration::parse(name, description.as_deref().unwrap_or(""))?,
        None => {
            let original = store.summary(source.integration_id).await?;
            NewIntegration {
                name: store
                    .free_name(&format!("{} from {}", original.name, source.number))
                    .await?,
                description: Description::parse(&original.description).unwrap_or_default(),
            }
        }
    };
    let created = store
        .create_from_version(&source, &new, &super::web_user())
        .await?;
    super::wake_reconciler();
    Ok(created)
}

/// A page of integrations for the list: filtered by state (a state name, or empty for
/// all but the unpublished) and by a piece of the name.
#[server(endpoint = "find_integrations")]
pub async fn find_integrations(
    state: Option<String>,
    q: Option<String>,
    page: Option<u32>,
) -> Result<Page<IntegrationSummary>, AppError> {
    use crate::domain::PageRequest;
    use crate::domain::lifecycle::State;
    use crate::store::integrations::IntegrationFilter;

    let state = match state.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(name) => Some(
            State::parse(name)
                .ok_or_else(|| AppError::field("state", format!("unknown state {name:?}")))?,
        ),
    };
    let filter = IntegrationFilter {
        state,
        name_contains: q.filter(|q| !q.trim().is_empty()),
    };
    Ok(super::store()?
        .find_integrations(&filter, PageRequest::new(page, Some(25)))
        .await?)
}

/// What the detail page shows: the integration, its webhook URL and recent activity.
#[server(endpoint = "get_detail_page")]
pub async fn get_detail_page(id: String) -> Result<DetailPage, AppError> {
    use crate::domain::PageRequest;
    use crate::domain::definition::Definition;

    let id = server::parse_id(&id)?;
    let store = super::store()?;
    let detail = store.integration(id).await?.masked();
    let path = detail
        .active
        .as_ref()
        .or(detail.draft.as_ref())
        .and_then(|version| Definition::parse(&version.definition).ok())
        .and_then(|definition| definition.webhook_path().map(str::to_owned));
    let webhook_url = match path {
        Some(path) => Some(format!("{}/hooks/{path}", server::origin().await)),
        None => None,
    };
    let activity = store
        .activity(id, PageRequest::new(Some(1), Some(20)))
        .await?;
    Ok(DetailPage {
        detail,
        webhook_url,
        activity,
    })
}

/// What the history page shows: versions (a page at a time, with their flows and
/// "identical to" marks) and the transition log (a page at a time).
#[server(endpoint = "get_history")]
pub async fn get_history(
    id: String,
    page: Option<u32>,
    log_page: Option<u32>,
) -> Result<History, AppError> {
    use crate::domain::lifecycle::allowed_actions;
    use crate::domain::{HistoryVersion, PageRequest};

    let id = server::parse_id(&id)?;
    let store = super::store()?;
    let integration = store.summary(id).await?;
    let versions = store
        .versions_with_definitions(id, PageRequest::new(page, Some(20)))
        .await?;
    let hashes: Vec<&str> = versions
        .items
        .iter()
        .filter_map(|version| version.summary.published.as_ref())
        .map(|published| published.content_hash.as_str())
        .collect();
    let oldest = store.oldest_by_hash(id, &hashes).await?;
    let items = versions
        .items
        .into_iter()
        .map(|version| {
            let identical_to = version
                .summary
                .published
                .as_ref()
                .and_then(|published| oldest.get(&published.content_hash))
                .copied()
                .filter(|oldest| *oldest != version.summary.number);
            HistoryVersion {
                version: version.masked(),
                identical_to,
            }
        })
        .collect();
    Ok(History {
        allowed_actions: allowed_actions(integration.situation()),
        integration,
        versions: Page {
            items,
            page: versions.page,
            per_page: versions.per_page,
            total: versions.total,
        },
        transitions: store
            .transitions(id, PageRequest::new(log_page, Some(25)))
            .await?,
    })
}

/// The difference between two versions (`a`, `b`), or between the running version and
/// the draft when `b` is "draft".
#[server(endpoint = "diff_versions")]
pub async fn diff_versions(
    id: String,
    a: String,
    b: String,
) -> Result<crate::domain::diff::DefinitionDiff, AppError> {
    let id = server::parse_id(&id)?;
    let store = super::store()?;
    let a = server::parse_version(&a)?;
    let b = server::parse_version(&b)?;
    let old = store.version(id, a).await?.masked();
    let new = store.version(id, b).await?.masked();
    Ok(crate::domain::diff::definitions(
        &old.definition,
        &new.definition,
        &a.to_string(),
        &b.to_string(),
    ))
}

/// Parsing shared by the server functions above.
#[cfg(feature = "ssr")]
mod server {
    use crate::domain::version::VersionNumber;
    use crate::domain::{IntegrationId, IntegrationSummary};
    use crate::error::AppError;
    use crate::store::integrations::Command;

    /// An id that is not even a UUID names no integration.
    pub fn parse_id(id: &str) -> Result<IntegrationId, AppError> {
        IntegrationId::parse(id).map_err(|_| AppError::NotFound {
            what: format!("integration {id:?}"),
        })
    }

    pub fn parse_version(version: &str) -> Result<VersionNumber, AppError> {
        VersionNumber::parse(version).map_err(|err| AppError::field("version", err))
    }

    /// The scheme and host the browser used, for links that are copied elsewhere.
    pub async fn origin() -> String {
        let host = leptos_axum::extract::<axum::http::HeaderMap>()
            .await
            .ok()
            .and_then(|headers| {
                headers
                    .get(axum::http::header::HOST)
                    .and_then(|host| host.to_str().ok())
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "127.0.0.1:3000".to_owned());
        format!("http://{host}")
    }

    pub async fn perform(id: &str, command: Command) -> Result<IntegrationSummary, AppError> {
        let id = parse_id(id)?;
        let summary = super::super::store()?
            .perform(id, &command, &super::super::web_user())
            .await?
            .ok_or_else(|| AppError::NotFound {
                what: format!("integration {id}"),
            })?;
        super::super::wake_reconciler();
        Ok(summary)
    }
}
