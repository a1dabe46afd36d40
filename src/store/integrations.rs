//! Integrations and their versions: creating, reading, editing, and every user action,
//! each in one transaction. Whether an action is allowed is decided by
//! `domain::lifecycle::decide`, on the row as locked inside the transaction; the
//! transition log is written by the database's triggers in the same transaction.

use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Row, Transaction};

use super::{Dialect, Store, StoreError, now_ms, time_from_ms};
use crate::domain::definition::Definition;
use crate::domain::lifecycle::{Action, NamedVersion, State, TargetState, VersionChange, decide};
use crate::domain::reconcile::{Phase, ReconcileStatus};
use crate::domain::version::VersionNumber;
use crate::domain::{
    Actor, Description, IntegrationId, IntegrationName, IntegrationSummary, NewIntegration, Page,
    PageRequest, Publication, Transition, Version, VersionRef, VersionSummary,
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

/// An integration's summary: its row and the number of its draft, with `$extra`
/// columns of the draft after them.
macro_rules! summary_select {
    ($extra:literal) => {
        concat!(
            "SELECT i.id, i.name, i.description, i.current_state, i.target_state,
                i.target_version, i.current_version, i.revision, i.created_at, i.updated_at,
                i.reconcile_phase, i.reconcile_attempts, i.next_attempt_at, i.last_error,
                i.gave_up, d.number AS draft_version",
            $extra,
            " FROM integrations i
            LEFT JOIN versions d
                ON d.integration_id = i.id AND d.published_at IS NULL AND d.discarded_at IS NULL"
        )
    };
}

pub(super) const SUMMARY_SELECT: &str = summary_select!("");

/// What an action reads under its lock: the summary and the draft's flow, which
/// publishing hashes (one statement fewer inside the write lock).
const LOCK_SELECT: &str = summary_select!(", d.definition AS draft_definition");

/// Ends an `UPDATE integrations` that answers with the summary as updated, instead
/// of a second statement reading it back.
const RETURNING_SUMMARY: &str = "RETURNING *, (SELECT d.number FROM versions d
    WHERE d.integration_id = integrations.id AND d.published_at IS NULL
      AND d.discarded_at IS NULL) AS draft_version";

const VERSION_COLUMNS: &str = "number, based_on, source_integration_id, source_version,
    created_at, updated_at, published_at, published_by, note, content_hash";

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
        let id = insert_integration(&mut tx, new, actor, "created").await?;
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
        let id = insert_integration(&mut tx, new, actor, &reason).await?;
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

    /// One version with its flow (secrets included: callers showing it mask them).
    pub async fn version(
        &self,
        id: IntegrationId,
        number: VersionNumber,
    ) -> Result<Version, StoreError> {
        let mut conn = self.pool.acquire().await?;
        summary(&mut conn, id).await?;
        version(&mut conn, id, number).await
    }

    /// The versions of an integration, newest first; discarded drafts are not listed.
    pub async fn versions(
        &self,
        id: IntegrationId,
        page: PageRequest,
    ) -> Result<Page<VersionSummary>, StoreError> {
        let (rows, total) = self.version_rows(id, page, "").await?;
        Ok(Page::new(
            rows.iter()
                .map(version_summary_from_row)
                .collect::<Result<_, _>>()?,
            page,
            total,
        ))
    }

    /// A page of versions with their flows, newest first, in one query (the history
    /// page shows them all).
    pub async fn versions_with_definitions(
        &self,
        id: IntegrationId,
        page: PageRequest,
    ) -> Result<Page<Version>, StoreError> {
        let (rows, total) = self.version_rows(id, page, ", definition").await?;
        let items = rows
            .iter()
            .map(|row| {
                let text: String = row.try_get("definition")?;
                Ok(Version {
                    summary: version_summary_from_row(row)?,
                    definition: serde_json::from_str(&text).map_err(|err| {
                        StoreError::Corrupt(format!("stored definition is not JSON: {err}"))
                    })?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Page::new(items, page, total))
    }

    /// A page of version rows (with `extra` columns) and how many there are in all.
    async fn version_rows(
        &self,
        id: IntegrationId,
        page: PageRequest,
        extra: &str,
    ) -> Result<(Vec<AnyRow>, u64), StoreError> {
        let mut conn = self.pool.acquire().await?;
        summary(&mut conn, id).await?;
        let total: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM versions WHERE integration_id = $1 AND discarded_at IS NULL",
        )
        .bind(id.to_string())
        .fetch_one(&mut *conn)
        .await?;
        let sql = format!(
            "SELECT {VERSION_COLUMNS}{extra} FROM versions
             WHERE integration_id = $1 AND discarded_at IS NULL
             ORDER BY number DESC LIMIT $2 OFFSET $3"
        );
        let rows = sqlx::query(&sql)
            .bind(id.to_string())
            .bind(i64::from(page.per_page))
            .bind(page.offset())
            .fetch_all(&mut *conn)
            .await?;
        Ok((rows, u64::try_from(total).unwrap_or(0)))
    }

    /// For each of these content hashes that several versions share, the oldest of
    /// them. Only the hashes asked for are looked up (those of the page shown), so a
    /// long history costs no more than a short one.
    pub async fn oldest_by_hash(
        &self,
        id: IntegrationId,
        hashes: &[&str],
    ) -> Result<std::collections::HashMap<String, VersionNumber>, StoreError> {
        if hashes.is_empty() {
            return Ok(std::collections::HashMap::new());
        }
        let sql = format!(
            "SELECT content_hash, min(number) AS oldest FROM versions
             WHERE integration_id = $1 AND content_hash IN ({})
             GROUP BY content_hash HAVING count(*) > 1",
            super::placeholders(2, hashes.len())
        );
        let mut query = sqlx::query(&sql).persistent(false).bind(id.to_string());
        for hash in hashes {
            query = query.bind(*hash);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                let hash: String = row.try_get("content_hash")?;
                let oldest = optional_number(row, "oldest")?
                    .ok_or_else(|| StoreError::Corrupt("a version without a number".into()))?;
                Ok((hash, oldest))
            })
            .collect()
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

    /// The transition log of an integration, newest first.
    pub async fn transitions(
        &self,
        id: IntegrationId,
        page: PageRequest,
    ) -> Result<Page<Transition>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        summary(&mut conn, id).await?;
        let total: i64 =
            sqlx::query_scalar("SELECT count(*) FROM transitions WHERE integration_id = $1")
                .bind(id.to_string())
                .fetch_one(&mut *conn)
                .await?;
        let rows = sqlx::query(
            "SELECT id, version, field, from_value, to_value, actor, reason, at
             FROM transitions WHERE integration_id = $1
             ORDER BY id DESC LIMIT $2 OFFSET $3",
        )
        .bind(id.to_string())
        .bind(i64::from(page.per_page))
        .bind(page.offset())
        .fetch_all(&mut *conn)
        .await?;
        let items = rows
            .iter()
            .map(|row| {
                Ok(Transition {
                    id: row.try_get("id")?,
                    version: optional_number(row, "version")?,
                    field: row.try_get("field")?,
                    from: row.try_get("from_value")?,
                    to: row.try_get("to_value")?,
                    actor: row.try_get("actor")?,
                    reason: row.try_get("reason")?,
                    at: time_from_ms(row.try_get("at")?)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Page::new(items, page, u64::try_from(total).unwrap_or(0)))
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
                let number = freeze_draft(&mut tx, &row, actor, note).await?;
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
    /// transactions already hold the database's write lock; PostgreSQL locks the row.
    pub(super) async fn lock(
        &self,
        tx: &mut Transaction<'static, Any>,
        id: IntegrationId,
    ) -> Result<LockedRow, StoreError> {
        let suffix = match self.dialect {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE OF i",
        };
        let sql = format!("{LOCK_SELECT} WHERE i.id = $1{suffix}");
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

    async fn summary_in(
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

async fn insert_integration(
    tx: &mut Transaction<'static, Any>,
    new: &NewIntegration,
    actor: &Actor,
    reason: &str,
) -> Result<IntegrationId, StoreError> {
    let id = IntegrationId::new();
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

/// Adds the draft with the next number.
async fn insert_draft(
    tx: &mut Transaction<'static, Any>,
    id: IntegrationId,
    definition: &Definition,
    based_on: Option<VersionNumber>,
    source: Option<&VersionRef>,
) -> Result<VersionNumber, StoreError> {
    let next: i64 = sqlx::query_scalar(
        "SELECT coalesce(max(number), 0) + 1 FROM versions WHERE integration_id = $1",
    )
    .bind(id.to_string())
    .fetch_one(&mut **tx)
    .await?;
    let number = VersionNumber::new(next).map_err(|err| StoreError::Corrupt(err.to_string()))?;
    let now = now_ms();
    sqlx::query(
        "INSERT INTO versions
            (integration_id, number, definition, based_on, source_integration_id, source_version,
             created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(id.to_string())
    .bind(number.get())
    .bind(definition.canonical_json())
    .bind(based_on.map(VersionNumber::get))
    .bind(source.map(|source| source.integration_id.to_string()))
    .bind(source.map(|source| source.number.get()))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(number)
}

/// A new draft copied from the active version (or the latest published one): its
/// number and flow.
async fn start_draft_from_active(
    tx: &mut Transaction<'static, Any>,
    row: &LockedRow,
) -> Result<(VersionNumber, Definition), StoreError> {
    let base = match row.active_version {
        Some(number) => Some(number),
        None => {
            let latest: Option<i64> = sqlx::query_scalar(
                "SELECT max(number) FROM versions WHERE integration_id = $1 AND published_at IS NOT NULL",
            )
            .bind(row.id.to_string())
            .fetch_one(&mut **tx)
            .await?;
            latest
                .map(VersionNumber::new)
                .transpose()
                .map_err(|err| StoreError::Corrupt(err.to_string()))?
        }
    };
    let definition = match base {
        Some(number) => version_definition(tx, row.id, number).await?,
        None => Definition::starter("hook"),
    };
    let number = insert_draft(tx, row.id, &definition, base, None).await?;
    Ok((number, definition))
}

/// Freezes the draft: its number, flow and publish data never change again.
async fn freeze_draft(
    tx: &mut Transaction<'static, Any>,
    row: &LockedRow,
    actor: &Actor,
    note: Option<&str>,
) -> Result<VersionNumber, StoreError> {
    let (Some(number), Some(definition)) = (row.draft_version, &row.draft_definition) else {
        return Err(StoreError::Corrupt("publishing without a draft".into()));
    };
    sqlx::query(
        "UPDATE versions SET published_at = $3, published_by = $4, note = $5, content_hash = $6
         WHERE integration_id = $1 AND number = $2",
    )
    .bind(row.id.to_string())
    .bind(number.get())
    .bind(now_ms())
    .bind(actor.as_str())
    .bind(note)
    .bind(content_hash(definition))
    .execute(&mut **tx)
    .await?;
    Ok(number)
}

/// SHA-256 of a canonical definition, in hex.
pub fn content_hash(canonical_definition: &str) -> String {
    Sha256::digest(canonical_definition.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

async fn bump_revision(
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

async fn is_frozen(
    tx: &mut Transaction<'static, Any>,
    id: IntegrationId,
    number: VersionNumber,
) -> Result<bool, StoreError> {
    let published: Option<Option<i64>> = sqlx::query_scalar(
        "SELECT published_at FROM versions
         WHERE integration_id = $1 AND number = $2 AND discarded_at IS NULL",
    )
    .bind(id.to_string())
    .bind(number.get())
    .fetch_optional(&mut **tx)
    .await?;
    match published {
        Some(published_at) => Ok(published_at.is_some()),
        None => Err(version_not_found(id, number)),
    }
}

/// The flow of a published version.
async fn frozen_version(
    tx: &mut Transaction<'static, Any>,
    id: IntegrationId,
    number: VersionNumber,
) -> Result<Definition, StoreError> {
    if !is_frozen(tx, id, number).await? {
        return Err(StoreError::NotFound(format!(
            "published version {number} of integration {id} ({number} is a draft)"
        )));
    }
    version_definition(tx, id, number).await
}

pub(super) async fn version_definition(
    conn: &mut AnyConnection,
    id: IntegrationId,
    number: VersionNumber,
) -> Result<Definition, StoreError> {
    let text: Option<String> = sqlx::query_scalar(
        "SELECT definition FROM versions WHERE integration_id = $1 AND number = $2",
    )
    .bind(id.to_string())
    .bind(number.get())
    .fetch_optional(&mut *conn)
    .await?;
    let text = text.ok_or_else(|| version_not_found(id, number))?;
    parse_stored_definition(&id, number, &text)
}

/// A stored flow, read back; one that does not parse is a corrupt row.
pub(super) fn parse_stored_definition(
    id: &IntegrationId,
    number: VersionNumber,
    text: &str,
) -> Result<Definition, StoreError> {
    Definition::parse_str(text).map_err(|errors| {
        StoreError::Corrupt(format!(
            "stored definition of {number} of {id} does not parse: {}",
            errors
                .first()
                .map_or(String::new(), |e| format!("{}: {}", e.path, e.message))
        ))
    })
}

fn version_not_found(id: IntegrationId, number: VersionNumber) -> StoreError {
    StoreError::NotFound(format!("version {number} of integration {id}"))
}

pub(super) async fn summary(
    conn: &mut AnyConnection,
    id: IntegrationId,
) -> Result<IntegrationSummary, StoreError> {
    let sql = format!("{SUMMARY_SELECT} WHERE i.id = $1");
    let row = sqlx::query(&sql)
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("integration {id}")))?;
    summary_from_row(&row)
}

async fn version(
    conn: &mut AnyConnection,
    id: IntegrationId,
    number: VersionNumber,
) -> Result<Version, StoreError> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS}, definition FROM versions
         WHERE integration_id = $1 AND number = $2 AND discarded_at IS NULL"
    );
    let row = sqlx::query(&sql)
        .bind(id.to_string())
        .bind(number.get())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| version_not_found(id, number))?;
    let text: String = row.try_get("definition")?;
    Ok(Version {
        summary: version_summary_from_row(&row)?,
        definition: serde_json::from_str(&text)
            .map_err(|err| StoreError::Corrupt(format!("stored definition is not JSON: {err}")))?,
    })
}

fn name_taken_or(err: sqlx::Error, name: Option<&IntegrationName>) -> StoreError {
    match (&err, name) {
        (sqlx::Error::Database(db), Some(name)) if db.is_unique_violation() => {
            StoreError::NameTaken(name.to_string())
        }
        _ => StoreError::Database(err),
    }
}

pub(super) fn optional_number(
    row: &AnyRow,
    column: &str,
) -> Result<Option<VersionNumber>, StoreError> {
    let number: Option<i64> = row.try_get(column)?;
    number
        .map(VersionNumber::new)
        .transpose()
        .map_err(|err| StoreError::Corrupt(format!("{column}: {err}")))
}

pub(super) fn summary_from_row(row: &AnyRow) -> Result<IntegrationSummary, StoreError> {
    let id: String = row.try_get("id")?;
    let current: String = row.try_get("current_state")?;
    let target: String = row.try_get("target_state")?;
    let active_version = optional_number(row, "target_version")?;
    Ok(IntegrationSummary {
        id: IntegrationId::parse(&id)
            .map_err(|err| StoreError::Corrupt(format!("integration id {id:?}: {err}")))?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        current_state: State::parse(&current)
            .ok_or_else(|| StoreError::Corrupt(format!("current state {current:?}")))?,
        target_state: TargetState::parse(&target)
            .ok_or_else(|| StoreError::Corrupt(format!("target state {target:?}")))?,
        active_version,
        current_version: optional_number(row, "current_version")?,
        draft_version: optional_number(row, "draft_version")?,
        // The active version is set by the first publish and never unset.
        published_before: active_version.is_some(),
        revision: row.try_get("revision")?,
        reconcile: reconcile_from_row(row)?,
        created_at: time_from_ms(row.try_get("created_at")?)?,
        updated_at: time_from_ms(row.try_get("updated_at")?)?,
    })
}

fn reconcile_from_row(row: &AnyRow) -> Result<ReconcileStatus, StoreError> {
    let phase: Option<String> = row.try_get("reconcile_phase")?;
    let next_attempt_at: Option<i64> = row.try_get("next_attempt_at")?;
    let attempts: i64 = row.try_get("reconcile_attempts")?;
    let gave_up: i64 = row.try_get("gave_up")?;
    Ok(ReconcileStatus {
        phase: phase
            .map(|phase| {
                Phase::parse(&phase).ok_or_else(|| StoreError::Corrupt(format!("phase {phase:?}")))
            })
            .transpose()?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        next_attempt_at: next_attempt_at.map(time_from_ms).transpose()?,
        last_error: row.try_get("last_error")?,
        gave_up: gave_up != 0,
    })
}

fn version_summary_from_row(row: &AnyRow) -> Result<VersionSummary, StoreError> {
    let published_at: Option<i64> = row.try_get("published_at")?;
    let published = match published_at {
        Some(at) => Some(Publication {
            at: time_from_ms(at)?,
            by: row
                .try_get::<Option<String>, _>("published_by")?
                .unwrap_or_default(),
            note: row.try_get("note")?,
            content_hash: row
                .try_get::<Option<String>, _>("content_hash")?
                .unwrap_or_default(),
        }),
        None => None,
    };
    let source_id: Option<String> = row.try_get("source_integration_id")?;
    let source = match (source_id, optional_number(row, "source_version")?) {
        (Some(id), Some(number)) => Some(VersionRef {
            integration_id: IntegrationId::parse(&id)
                .map_err(|err| StoreError::Corrupt(format!("source integration {id:?}: {err}")))?,
            number,
        }),
        _ => None,
    };
    Ok(VersionSummary {
        number: optional_number(row, "number")?
            .ok_or_else(|| StoreError::Corrupt("a version without a number".into()))?,
        published,
        based_on: optional_number(row, "based_on")?,
        source,
        created_at: time_from_ms(row.try_get("created_at")?)?,
        updated_at: time_from_ms(row.try_get("updated_at")?)?,
    })
}
