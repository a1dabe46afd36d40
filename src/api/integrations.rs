//! Server functions for integrations: one per action of the specification, each
//! parsing its input into domain types and calling one store function.

use leptos::prelude::*;

use crate::domain::activity::ActivityEntry;
use crate::domain::{
    IntegrationDetail, IntegrationSummary, Page, Transition, Version, VersionSummary,
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
    let id = server::parse_id(&id)?;
    let edit = server::parse_edit(revision, name, description, definition)?;
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
    Ok(())
}

/// "New integration from this version": a new integration whose draft copies version N.
#[server(endpoint = "new_from_version")]
pub async fn new_from_version(
    id: String,
    version: String,
    name: String,
    description: Option<String>,
) -> Result<IntegrationSummary, AppError> {
    use crate::domain::{NewIntegration, VersionRef};

    let source = VersionRef {
        integration_id: server::parse_id(&id)?,
        number: server::parse_version(&version)?,
    };
    let new = NewIntegration::parse(&name, description.as_deref().unwrap_or(""))?;
    Ok(super::store()?
        .create_from_version(&source, &new, &super::web_user())
        .await?)
}

/// Parsing shared by the server functions above.
#[cfg(feature = "ssr")]
mod server {
    use crate::domain::definition::Definition;
    use crate::domain::version::VersionNumber;
    use crate::domain::{Description, IntegrationId, IntegrationName, IntegrationSummary};
    use crate::error::{AppError, FieldError};
    use crate::store::integrations::{Command, DraftEdit};

    /// An id that is not even a UUID names no integration.
    pub fn parse_id(id: &str) -> Result<IntegrationId, AppError> {
        IntegrationId::parse(id).map_err(|_| AppError::NotFound {
            what: format!("integration {id:?}"),
        })
    }

    pub fn parse_version(version: &str) -> Result<VersionNumber, AppError> {
        VersionNumber::parse(version).map_err(|err| AppError::field("version", err))
    }

    /// Checks every field of an edit, reporting all problems at once.
    pub fn parse_edit(
        revision: i64,
        name: Option<String>,
        description: Option<String>,
        definition: Option<String>,
    ) -> Result<DraftEdit, AppError> {
        let mut fields = Vec::new();
        let name = name
            .map(|name| IntegrationName::parse(&name))
            .transpose()
            .unwrap_or_else(|err| {
                fields.push(FieldError::new("name", err));
                None
            });
        let description = description
            .map(|text| Description::parse(&text))
            .transpose()
            .unwrap_or_else(|err| {
                fields.push(FieldError::new("description", err));
                None
            });
        let definition = match definition.map(|text| Definition::parse_str(&text)) {
            None => None,
            Some(Ok(definition)) => Some(definition),
            Some(Err(errors)) => {
                fields.extend(errors.into_iter().map(|error| FieldError {
                    path: prefixed("definition", &error.path),
                    message: error.message,
                }));
                None
            }
        };
        if !fields.is_empty() {
            return Err(AppError::ValidationFailed { fields });
        }
        Ok(DraftEdit {
            expected_revision: revision,
            name,
            description,
            definition,
        })
    }

    fn prefixed(prefix: &str, path: &str) -> String {
        if path == prefix || path.is_empty() {
            prefix.to_owned()
        } else {
            format!("{prefix}.{path}")
        }
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
