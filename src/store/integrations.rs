//! Integrations: creating, listing, reading, editing, and every user action, each in
//! one transaction (the versions an action writes are `versions`' part). Whether an action is allowed is decided by
//! `domain::lifecycle::decide`, on the row as locked inside the transaction; the
//! transition log is written by the database's triggers in the same transaction.

use sqlx::{Any, Row, Transaction};

use super::rows::{
    LOCK_SELECT, RETURNING_SUMMARY, SUMMARY_SELECT, parse_stored_definition, summary,
    summary_from_row,
};
use super::versions::{
    freeze_draft, frozen_version, insert_draft, is_frozen, start_draft_from_active, version,
};
use super::{Dialect, Store, StoreError, now_ms};
use crate::domain::definition::Definition;
use crate::domain::lifecycle::{Action, NamedVersion, State, VersionChange, decide};
use crate::domain::version::VersionNumber;
use crate::domain::{
    Actor, Description, IntegrationId, IntegrationName, IntegrationSummary, NewIntegration, Page,
    PageRequest, Version, VersionRef,
};

/// An integration with its active version and its draft, as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredIntegration {
    pub integration: IntegrationSummary,
    pub active: Option<Version>,
    pub draft: Option<Version>,
}

/// Which integrations a list shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IntegrationFilter {
    /// Only this current state; `None` shows all but the unpublished.
    pub state: Option<State>,
    /// Only names containing this, whatever the case.
    pub name_contains: Option<String>,
}

/// An edit of the integration and its draft; fields left `None` stay as they are.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DraftEdit {
    /// The revision the editor started from: the edit is refused if it moved on.
    pub expected_revision: i64,
    pub name: Option<IntegrationName>,
    pub description: Option<Description>,
    pub definition: Option<Definition>,
}

impl Store {
    /// Stores a new integration in Draft with its first draft (v1): the definition
    /// given, or a starter webhook named after it.
    pub async fn create_integration(
        &self,
        new: &NewIntegration,
        definition: Option<&Definition>,
        actor: &Actor,
    ) -> Result<IntegrationSummary, StoreError> {
        let starter;
        let definition = match definition {
            Some(definition) => definition,
            None => {
                starter = Definition::starter(new.name.as_str());
                &starter
            }
        };
        let mut tx = self.begin_write().await?;
        let id = insert_integration(&mut tx, IntegrationId::new(), new, actor, "created").await?;
        insert_draft(&mut tx, id, definition, None, None).await?;
        let summary = self.summary_in(&mut tx, id).await?;
        tx.commit().await?;
        self.changed(id);
        Ok(summary)
    }

    /// "New integration from this version": a new integration whose first draft is a
    /// copy of a published version of any integration, Deleted ones included.
    pub async fn create_from_version(
        &self,
        source: &VersionRef,
        new: &NewIntegration,
        actor: &Actor,
    ) -> Result<IntegrationSummary, StoreError> {
        let mut tx = self.begin_write().await?;
        let source_version = frozen_version(&mut tx, source.integration_id, source.number).await?;
        let reason = format!(
            "created from {} of integration {}",
            source.number, source.integration_id
        );
        let id = insert_integration(&mut tx, IntegrationId::new(), new, actor, &reason).await?;
        insert_draft(&mut tx, id, &source_version, None, Some(source)).await?;
        let summary = self.summary_in(&mut tx, id).await?;
        tx.commit().await?;
        self.changed(id);
        Ok(summary)
    }

    /// Every integration, newest first.
    pub async fn list_integrations(&self) -> Result<Vec<IntegrationSummary>, StoreError> {
        let sql = format!("{SUMMARY_SELECT} ORDER BY i.created_at DESC, i.id");
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter().map(summary_from_row).collect()
    }

    /// A page of integrations, newest first, filtered by current state (unpublished
    /// ones only when asked for) and by a piece of the name, whatever its case.
    pub async fn find_integrations(
        &self,
        filter: &IntegrationFilter,
        page: PageRequest,
    ) -> Result<Page<IntegrationSummary>, StoreError> {
        let state = filter.state.map(State::as_str);
        let pattern = filter.name_contains.as_deref().map(|text| {
            let escaped = text
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{escaped}%")
        });
        let condition = "WHERE (CASE WHEN $1 IS NULL THEN i.current_state <> 'deleted'
                                     ELSE i.current_state = $1 END)
                           AND ($2 IS NULL OR i.name_key LIKE $2 ESCAPE '\\')";
        let total: i64 =
            sqlx::query_scalar(&format!("SELECT count(*) FROM integrations i {condition}"))
                .bind(state)
                .bind(pattern.as_deref())
                .fetch_one(&self.pool)
                .await?;
        let sql = format!(
            "{SUMMARY_SELECT} {condition} ORDER BY i.created_at DESC, i.id LIMIT $3 OFFSET $4"
        );
        let rows = sqlx::query(&sql)
            .bind(state)
            .bind(pattern.as_deref())
            .bind(i64::from(page.per_page))
            .bind(page.offset())
            .fetch_all(&self.pool)
            .await?;
        Ok(Page::new(
            rows.iter()
                .map(summary_from_row)
                .collect::<Result<_, _>>()?,
            page,
            u64::try_from(total).unwrap_or(0),
        ))
    }

    /// One integration with its active version and its draft (secrets included:
    /// callers showing them mask them).
    pub async fn integration(&self, id: IntegrationId) -> Result<StoredIntegration, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let integration = summary(&mut conn, id).await?;
        let active = match integration.active_version {
            Some(number) => Some(version(&mut conn, id, number).await?),
            None => None,
        };
        let draft = match integration.draft_version {
            Some(number) => Some(version(&mut conn, id, number).await?),
            None => None,
        };
        Ok(StoredIntegration {
            integration,
            active,
            draft,
        })
    }

    pub async fn summary(&self, id: IntegrationId) -> Result<IntegrationSummary, StoreError> {
        let mut conn = self.pool.acquire().await?;
        summary(&mut conn, id).await
    }

    /// A name for a copy that no integration uses yet: "Orders from v3", then
    /// "Orders from v3 (2)", ...
    pub async fn free_name(&self, base: &str) -> Result<IntegrationName, StoreError> {
        let base: String = base.chars().take(90).collect();
        for n in 1..1000 {
            let candidate = if n == 1 {
                base.clone()
            } else {
                format!("{base} ({n})")
            };
            let Ok(name) = IntegrationName::parse(&candidate) else {
                continue;
            };
            let taken: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM integrations WHERE name_key = $1 AND target_state <> 'deleted'",
            )
            .bind(name.key())
            .fetch_one(&self.pool)
            .await?;
            if taken == 0 {
                return Ok(name);
            }
        }
        Err(StoreError::NameTaken(base))
    }

    /// Changes the name, description and draft, creating the draft (a copy of the
    /// active version) when there is none. Refused when the integration moved on
    /// since the editor read it at `expected_revision`: nothing is overwritten.
    pub async fn edit_draft(
        &self,
        id: IntegrationId,
        edit: &DraftEdit,
    ) -> Result<IntegrationSummary, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = self.lock(&mut tx, id).await?;
        if row.revision != edit.expected_revision {
            return Err(StoreError::RevisionMismatch {
                expected: edit.expected_revision,
                current: row.revision,
            });
        }
        decide(&Action::Edit, row.situation(), None)?;
        if edit.name.is_some() || edit.description.is_some() {
            let name = edit.name.as_ref();
            sqlx::query(
                "UPDATE integrations SET
                    name = coalesce($2, name), name_key = coalesce($3, name_key),
                    description = coalesce($4, description)
                 WHERE id = $1",
            )
            .bind(id.to_string())
            .bind(name.map(IntegrationName::as_str))
            .bind(name.map(IntegrationName::key))
            .bind(edit.description.as_ref().map(Description::as_str))
            .execute(&mut **tx)
            .await
            .map_err(|err| name_taken_or(err, name))?;
        }
        if let Some(definition) = &edit.definition {
            let mut definition = definition.clone();
            // The draft as stored (the lock read it), or a new one: secrets come back
            // masked from the editor, and the stored ones are kept.
            let (draft, stored) = match (row.draft_version, &row.draft_definition) {
                (Some(number), Some(text)) => (number, parse_stored_definition(&id, number, text)?),
                _ => start_draft_from_active(&mut tx, &row).await?,
            };
            definition
                .unmask_from(&stored)
                .map_err(StoreError::MaskedSecrets)?;
            sqlx::query(
                "UPDATE versions SET definition = $3, updated_at = $4
                 WHERE integration_id = $1 AND number = $2",
            )
            .bind(id.to_string())
            .bind(draft.get())
            .bind(definition.canonical_json())
            .bind(now_ms())
            .execute(&mut **tx)
            .await?;
        }
        bump_revision(&mut tx, &row).await?;
        let summary = self.summary_in(&mut tx, id).await?;
        tx.commit().await?;
        self.changed(id);
        Ok(summary)
    }

    /// Performs a user's action. Returns the integration as it now stands, or `None`
    /// once deleted.
    pub async fn perform(
        &self,
        id: IntegrationId,
        action: &Action,
        actor: &Actor,
    ) -> Result<Option<IntegrationSummary>, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = self.lock(&mut tx, id).await?;
        let named = match action.named_version() {
            Some(number) => Some(match is_frozen(&mut tx, id, number).await? {
                true => NamedVersion::Published,
                false => NamedVersion::Draft,
            }),
            None => None,
        };
        let change = decide(action, row.situation(), named)?;
        let mut target_version = row.active_version;
        let mut reason = match action {
            Action::Publish { .. } => format!("republished {}", describe(row.active_version)),
            Action::Stop => "stopped".to_owned(),
            Action::Start => "started".to_owned(),
            Action::Retry => "retry requested".to_owned(),
            Action::Activate(number) => format!("activated {number}"),
            Action::Unpublish => "unpublished".to_owned(),
            Action::Delete => "deleted".to_owned(),
            Action::DiscardDraft => "discarded the draft".to_owned(),
            Action::Edit => "edited".to_owned(),
            Action::RestoreAsDraft(number) => format!("restored {number} as the draft"),
        };
        match change.versions {
            VersionChange::None | VersionChange::WriteDraft => {}
            VersionChange::FreezeDraftAsActive => {
                let note = match action {
                    Action::Publish { note } => note.non_empty(),
                    Action::Stop
                    | Action::Start
                    | Action::Retry
                    | Action::Activate(_)
                    | Action::Unpublish
                    | Action::Delete
                    | Action::DiscardDraft
                    | Action::Edit
                    | Action::RestoreAsDraft(_) => None,
                };
                let number = freeze_draft(&mut tx, &row, actor, note, &self.hash_key).await?;
                target_version = Some(number);
                reason = match note {
                    Some(note) => format!("published {number}: {note}"),
                    None => format!("published {number}"),
                };
            }
            VersionChange::Activate(number) => target_version = Some(number),
            VersionChange::CopyIntoDraft(number) => {
                let definition = frozen_version(&mut tx, id, number).await?;
                match row.draft_version {
                    Some(draft) => {
                        sqlx::query(
                            "UPDATE versions SET definition = $3, based_on = $4, updated_at = $5,
                                source_integration_id = NULL, source_version = NULL
                             WHERE integration_id = $1 AND number = $2",
                        )
                        .bind(id.to_string())
                        .bind(draft.get())
                        .bind(definition.canonical_json())
                        .bind(number.get())
                        .bind(now_ms())
                        .execute(&mut **tx)
                        .await?;
                    }
                    None => {
                        insert_draft(&mut tx, id, &definition, Some(number), None).await?;
                    }
                }
            }
            VersionChange::RemoveDraft => {
                sqlx::query(
                    "UPDATE versions SET discarded_at = $2
                     WHERE integration_id = $1 AND published_at IS NULL AND discarded_at IS NULL",
                )
                .bind(id.to_string())
                .bind(now_ms())
                .execute(&mut **tx)
                .await?;
            }
            VersionChange::RemoveIntegration => {
                sqlx::query("DELETE FROM integrations WHERE id = $1")
                    .bind(id.to_string())
                    .execute(&mut **tx)
                    .await?;
                tx.commit().await?;
                self.changed(id);
                return Ok(None);
            }
        }
        let now = now_ms().max(row.created_at);
        // Asking for the integration to run again re-arms the reconciler's retries.
        let rearm = action.rearms();
        let sql = format!(
            "UPDATE integrations SET target_state = $2, target_version = $3,
                revision = revision + 1, change_id = $4, change_actor = $5, change_reason = $6,
                updated_at = $7,
                reconcile_attempts = CASE WHEN $8 = 1 THEN 0 ELSE reconcile_attempts END,
                next_attempt_at = CASE WHEN $8 = 1 THEN NULL ELSE next_attempt_at END,
                gave_up = CASE WHEN $8 = 1 THEN 0 ELSE gave_up END
             WHERE id = $1 {RETURNING_SUMMARY}"
        );
        let updated = sqlx::query(&sql)
            .bind(id.to_string())
            .bind(change.target.unwrap_or(row.target_state).as_str())
            .bind(target_version.map(VersionNumber::get))
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(actor.as_str())
            .bind(&reason)
            .bind(now)
            .bind(i64::from(rearm))
            .fetch_one(&mut **tx)
            .await?;
        let summary = summary_from_row(&updated)?;
        tx.commit().await?;
        self.changed(id);
        Ok(Some(summary))
    }

    /// Reads and locks the integration for the rest of the transaction. SQLite's write
    /// transactions already hold the database's write lock; PostgreSQL locks the row
    /// first and reads it (with its draft) in a statement of its own. One statement
    /// `... JOIN versions ... FOR UPDATE OF i` was not enough: after waiting for
    /// another publish to commit, PostgreSQL re-reads the locked row but not the
    /// joined draft, so the second publish froze a version already frozen and the
    /// database's trigger refused it (a 500 under 64 concurrent clients).
    pub(super) async fn lock(
        &self,
        tx: &mut Transaction<'static, Any>,
        id: IntegrationId,
    ) -> Result<LockedRow, StoreError> {
        match self.dialect {
            Dialect::Sqlite => {}
            Dialect::Postgres => {
                sqlx::query("SELECT id FROM integrations WHERE id = $1 FOR UPDATE")
                    .bind(id.to_string())
                    .fetch_optional(&mut **tx)
                    .await?;
            }
        }
        let sql = format!("{LOCK_SELECT} WHERE i.id = $1");
        let row = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&mut **tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("integration {id}")))?;
        let summary = summary_from_row(&row)?;
        let created_at = summary.created_at.timestamp_millis();
        Ok(LockedRow {
            summary,
            created_at,
            draft_definition: row.try_get("draft_definition")?,
        })
    }

    pub(super) async fn summary_in(
        &self,
        tx: &mut Transaction<'static, Any>,
        id: IntegrationId,
    ) -> Result<IntegrationSummary, StoreError> {
        summary(tx, id).await
    }
}

/// The integration as read under its lock.
pub(super) struct LockedRow {
    pub(super) summary: IntegrationSummary,
    /// Stored creation time: `updated_at` may never precede it.
    pub(super) created_at: i64,
    /// The draft's flow as stored (canonical JSON), if there is a draft.
    pub(super) draft_definition: Option<String>,
}

impl std::ops::Deref for LockedRow {
    type Target = IntegrationSummary;
    fn deref(&self) -> &IntegrationSummary {
        &self.summary
    }
}

fn describe(version: Option<VersionNumber>) -> String {
    version.map_or_else(|| "no version".to_owned(), |number| number.to_string())
}

/// Adds an integration in Draft under `id` (fresh, or the one an import keeps).
pub(super) async fn insert_integration(
    tx: &mut Transaction<'static, Any>,
    id: IntegrationId,
    new: &NewIntegration,
    actor: &Actor,
    reason: &str,
) -> Result<IntegrationId, StoreError> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO integrations
            (id, name, name_key, description, change_id, change_actor, change_reason, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(id.to_string())
    .bind(new.name.as_str())
    .bind(new.name.key())
    .bind(new.description.as_str())
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(actor.as_str())
    .bind(reason)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(|err| name_taken_or(err, Some(&new.name)))?;
    Ok(id)
}

pub(super) async fn bump_revision(
    tx: &mut Transaction<'static, Any>,
    row: &LockedRow,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE integrations SET revision = revision + 1, updated_at = $2 WHERE id = $1")
        .bind(row.id.to_string())
        .bind(now_ms().max(row.created_at))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn name_taken_or(err: sqlx::Error, name: Option<&IntegrationName>) -> StoreError {
    match (&err, name) {
        (sqlx::Error::Database(db), Some(name)) if db.is_unique_violation() => {
            StoreError::NameTaken(name.to_string())
        }
        _ => StoreError::Database(err),
    }
}
