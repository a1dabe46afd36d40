//! Operations on integrations: reading them, creating, editing, every action of the
//! lifecycle, blueprints and differences. Secrets leave this layer masked.

use super::input::{self, DefinitionInput};
use super::{Principal, Service};
use crate::domain::access::{self, Operation};
use crate::domain::activity::ActivityEntry;
use crate::domain::definition::Definition;
use crate::domain::diff::DefinitionDiff;
use crate::domain::lifecycle::{Action, ActionKind, allowed_actions};
use crate::domain::version::VersionNumber;
use crate::domain::{
    DetailPage, History, HistoryVersion, IntegrationDetail, IntegrationId, IntegrationSummary,
    NewIntegration, Page, PageRequest, Transition, Version, VersionRef, VersionSummary,
};
use crate::error::AppError;
use crate::store::integrations::IntegrationFilter;

/// A list of integrations as asked for: a state (or all but the unpublished), a piece
/// of the name, a page.
#[derive(Clone, Debug, Default)]
pub struct ListRequest<'a> {
    pub state: Option<&'a str>,
    pub name_contains: Option<&'a str>,
    pub page: PageRequest,
}

/// A new integration as sent: name, description, and optionally its first flow.
#[derive(Debug)]
pub struct CreateRequest<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub definition: Option<DefinitionInput>,
}

/// An edit of the integration and its draft, based on `expected_revision`; fields
/// left out stay as they are.
#[derive(Debug)]
pub struct DraftRequest<'a> {
    pub expected_revision: i64,
    pub name: Option<&'a str>,
    pub description: Option<&'a str>,
    pub definition: Option<DefinitionInput>,
}

/// "New integration from this version". Without a name, the copy is called after the
/// original ("Orders from v3").
#[derive(Debug)]
pub struct BlueprintRequest<'a> {
    pub source: VersionRef,
    pub name: Option<&'a str>,
    pub description: Option<&'a str>,
}

impl Service {
    /// Every integration, newest first.
    pub async fn all_integrations(
        &self,
        who: &Principal,
    ) -> Result<Vec<IntegrationSummary>, AppError> {
        who.may(Operation::Read)?;
        Ok(self.store.list_integrations().await?)
    }

    /// A page of integrations, filtered by state and by a piece of the name.
    pub async fn list_integrations(
        &self,
        who: &Principal,
        request: ListRequest<'_>,
    ) -> Result<Page<IntegrationSummary>, AppError> {
        who.may(Operation::Read)?;
        let filter = IntegrationFilter {
            state: input::state_filter(request.state)?,
            name_contains: request
                .name_contains
                .filter(|q| !q.trim().is_empty())
                .map(str::to_owned),
        };
        Ok(self.store.find_integrations(&filter, request.page).await?)
    }

    /// Creates an integration in Draft with its first draft: the flow given, or a
    /// starter webhook named after it.
    pub async fn create(
        &self,
        who: &Principal,
        request: CreateRequest<'_>,
    ) -> Result<IntegrationSummary, AppError> {
        who.may(Operation::Create)?;
        let (new, definition) =
            input::new_integration(request.name, request.description, request.definition)?;
        if let Some(definition) = &definition {
            self.check_definition(definition).await?;
        }
        let created = self
            .store
            .create_integration(&new, definition.as_ref(), who.actor())
            .await?;
        self.notify();
        Ok(created)
    }

    /// The integration as lists show it.
    pub async fn summary(
        &self,
        who: &Principal,
        id: IntegrationId,
    ) -> Result<IntegrationSummary, AppError> {
        who.may(Operation::Read)?;
        Ok(self.store.summary(id).await?)
    }

    /// One integration with its active version, its draft and the actions allowed now.
    pub async fn detail(
        &self,
        who: &Principal,
        id: IntegrationId,
    ) -> Result<IntegrationDetail, AppError> {
        who.may(Operation::Read)?;
        let stored = self.store.integration(id).await?;
        Ok(IntegrationDetail {
            allowed_actions: allowed_for(who, stored.integration.situation()),
            integration: stored.integration,
            active: stored.active,
            draft: stored.draft,
        }
        .masked())
    }

    /// One version with its flow.
    pub async fn version(
        &self,
        who: &Principal,
        id: IntegrationId,
        number: VersionNumber,
    ) -> Result<Version, AppError> {
        who.may(Operation::Read)?;
        Ok(self.store.version(id, number).await?.masked())
    }

    /// The versions of an integration, newest first.
    pub async fn versions(
        &self,
        who: &Principal,
        id: IntegrationId,
        page: PageRequest,
    ) -> Result<Page<VersionSummary>, AppError> {
        who.may(Operation::Read)?;
        Ok(self.store.versions(id, page).await?)
    }

    /// The recent activity: each message with its steps, newest first.
    pub async fn activity(
        &self,
        who: &Principal,
        id: IntegrationId,
        page: PageRequest,
    ) -> Result<Page<ActivityEntry>, AppError> {
        who.may(Operation::Read)?;
        Ok(self.store.activity(id, page).await?)
    }

    /// The transition log, newest first.
    pub async fn transitions(
        &self,
        who: &Principal,
        id: IntegrationId,
        page: PageRequest,
    ) -> Result<Page<Transition>, AppError> {
        who.may(Operation::Read)?;
        Ok(self.store.transitions(id, page).await?)
    }

    /// What the detail page shows: the integration, the URL its webhook is called at
    /// (under `origin`, the scheme and host the caller used) and recent activity.
    pub async fn detail_page(
        &self,
        who: &Principal,
        id: IntegrationId,
        origin: &str,
    ) -> Result<DetailPage, AppError> {
        who.may(Operation::Read)?;
        let detail = self.detail(who, id).await?;
        let definition = detail
            .active
            .as_ref()
            .or(detail.draft.as_ref())
            .and_then(|version| Definition::parse(&version.definition).ok());
        let webhook_url = definition.as_ref().and_then(|definition| {
            definition
                .webhook_path()
                .map(|path| format!("{origin}/hooks/{path}"))
        });
        let schedule = match definition.as_ref().map(|d| &d.trigger) {
            Some(crate::domain::definition::Trigger::Cron {
                schedule,
                time_zone,
            }) => Some((
                format!("{schedule} ({time_zone})"),
                self.next_runs(who, schedule, time_zone).unwrap_or_default(),
            )),
            Some(
                crate::domain::definition::Trigger::Webhook { .. }
                | crate::domain::definition::Trigger::Timer { .. }
                | crate::domain::definition::Trigger::SqlPoll { .. }
                | crate::domain::definition::Trigger::Amqp { .. }
                | crate::domain::definition::Trigger::Nats { .. }
                | crate::domain::definition::Trigger::Redis { .. }
                | crate::domain::definition::Trigger::Mqtt { .. },
            )
            | None => None,
        };
        let activity = self
            .activity(who, id, PageRequest::new(Some(1), Some(20)))
            .await?;
        let chart = self.store.activity_chart(id).await?;
        let coming_up = self
            .runtime
            .as_ref()
            .and_then(|runtime| runtime.status(id))
            .and_then(|status| match status.health {
                crate::runtime::Health::Progressing(why) => Some(why),
                crate::runtime::Health::Running | crate::runtime::Health::Died(_) => None,
            });
        Ok(DetailPage {
            detail,
            webhook_url,
            schedule,
            coming_up,
            activity,
            chart,
        })
    }

    /// What the history page shows: a page of versions with their flows and
    /// "identical to" marks, and a page of the transition log.
    pub async fn history(
        &self,
        who: &Principal,
        id: IntegrationId,
        page: Option<u32>,
        log_page: Option<u32>,
    ) -> Result<History, AppError> {
        who.may(Operation::Read)?;
        let integration = self.store.summary(id).await?;
        let versions = self
            .store
            .versions_with_definitions(id, PageRequest::new(page, Some(20)))
            .await?;
        let hashes: Vec<&str> = versions
            .items
            .iter()
            .filter_map(|version| version.summary.published.as_ref())
            .map(|published| published.content_hash.as_str())
            .collect();
        let oldest = self.store.oldest_by_hash(id, &hashes).await?;
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
            allowed_actions: allowed_for(who, integration.situation()),
            integration,
            versions: Page {
                items,
                page: versions.page,
                per_page: versions.per_page,
                total: versions.total,
            },
            transitions: self
                .transitions(who, id, PageRequest::new(log_page, Some(25)))
                .await?,
            promotions: self.store.promotions(id, 20).await?,
            remotes: self.remotes(who).await?,
        })
    }

    /// Changes the name, description and draft (creating the draft from the active
    /// version when there is none), unless the integration moved on since
    /// `expected_revision`. Secrets sent back masked keep their stored values.
    pub async fn save_draft(
        &self,
        who: &Principal,
        id: IntegrationId,
        request: DraftRequest<'_>,
    ) -> Result<IntegrationSummary, AppError> {
        who.may(Operation::Act(ActionKind::Edit))?;
        let edit = input::draft_edit(
            request.expected_revision,
            request.name,
            request.description,
            request.definition,
        )?;
        if let Some(definition) = &edit.definition {
            self.check_definition(definition).await?;
        }
        Ok(self.store.edit_draft(id, &edit).await?)
    }

    /// Performs an action of the lifecycle and wakes the reconciler. Answers the
    /// integration as it now stands, or `None` once deleted.
    pub async fn perform(
        &self,
        who: &Principal,
        id: IntegrationId,
        action: &Action,
    ) -> Result<Option<IntegrationSummary>, AppError> {
        who.may(Operation::Act(action.kind()))?;
        let summary = self.store.perform(id, action, who.actor()).await?;
        self.notify();
        Ok(summary)
    }

    /// Performs an action that leaves the integration in place (all but Delete).
    pub async fn act(
        &self,
        who: &Principal,
        id: IntegrationId,
        action: &Action,
    ) -> Result<IntegrationSummary, AppError> {
        self.perform(who, id, action)
            .await?
            .ok_or_else(|| AppError::NotFound {
                what: format!("integration {id}"),
            })
    }

    /// Replaces the draft with a copy of a published version; answers the new draft.
    pub async fn restore(
        &self,
        who: &Principal,
        id: IntegrationId,
        number: VersionNumber,
    ) -> Result<(IntegrationSummary, Version), AppError> {
        let summary = self.act(who, id, &Action::RestoreAsDraft(number)).await?;
        let draft = summary.draft_version.ok_or_else(|| AppError::NotFound {
            what: format!("the draft of integration {id}"),
        })?;
        let draft = self.version(who, id, draft).await?;
        Ok((summary, draft))
    }

    /// "New integration from this version", of any integration, Deleted ones included.
    pub async fn blueprint(
        &self,
        who: &Principal,
        request: BlueprintRequest<'_>,
    ) -> Result<IntegrationSummary, AppError> {
        who.may(Operation::Blueprint)?;
        let source = request.source;
        let new = match request.name {
            Some(name) => NewIntegration::parse(name, request.description.unwrap_or(""))?,
            None => {
                let original = self.store.summary(source.integration_id).await?;
                let name = format!("{} from {}", original.name, source.number);
                NewIntegration {
                    name: self.store.free_name(&name).await?,
                    description: crate::domain::Description::parse(&original.description)
                        .unwrap_or_default(),
                }
            }
        };
        let created = self
            .store
            .create_from_version(&source, &new, who.actor())
            .await?;
        self.notify();
        Ok(created)
    }

    /// The difference between two versions' flows, secrets masked on both sides.
    pub async fn diff(
        &self,
        who: &Principal,
        id: IntegrationId,
        a: VersionNumber,
        b: VersionNumber,
    ) -> Result<DefinitionDiff, AppError> {
        who.may(Operation::Read)?;
        let old = self.store.version(id, a).await?;
        let new = self.store.version(id, b).await?;
        let secrets = |version: &crate::domain::Version| {
            crate::domain::definition::Definition::parse(&version.definition)
                .map(|definition| definition.secrets())
                .unwrap_or_default()
        };
        let changed = crate::domain::diff::secrets_changed(&secrets(&old), &secrets(&new));
        let (old, new) = (old.masked(), new.masked());
        Ok(crate::domain::diff::definitions(
            &old.definition,
            &new.definition,
            &a.to_string(),
            &b.to_string(),
        )
        .with_secrets_changed(changed))
    }
}

/// The actions allowed now that the principal's role allows: the buttons it sees.
fn allowed_for(who: &Principal, situation: crate::domain::lifecycle::Situation) -> Vec<ActionKind> {
    allowed_actions(situation)
        .into_iter()
        .filter(|kind| access::allows(who.role(), Operation::Act(*kind)))
        .collect()
}
