//! Moving integrations between servers: reading everything an export holds, and
//! writing an import in one transaction. An import keeps each version's number,
//! author, time, note and hash; it fills the numbers the exporting server used for
//! drafts it discarded with discarded drafts here, so that numbers still count up
//! with no gap (the database's rule); and it refuses, writing nothing, a version whose
//! number is taken here by something else.

use sqlx::{Any, Row, Transaction};

use super::integrations::{bump_revision, insert_integration};
use super::rows::{RETURNING_SUMMARY, VERSION_COLUMNS, summary_from_row, version_summary_from_row};
use super::{Store, StoreError, now_ms};
use crate::domain::definition::Definition;
use crate::domain::lifecycle::{Action, NamedVersion, State, TargetState, decide};
use crate::domain::transfer::{Incoming, Promotion, left_out_secrets};
use crate::domain::version::VersionNumber;
use crate::domain::{
    Actor, IntegrationId, IntegrationName, IntegrationSummary, NewIntegration, Version,
};
use crate::error::FieldError;

/// Everything of an integration an export holds but its log.
#[derive(Clone, Debug, PartialEq)]
pub struct ExportRows {
    pub integration: IntegrationSummary,
    /// Published versions, oldest first, secrets included (the caller leaves them
    /// out), each with the fingerprint of its secrets kept from an import, if any.
    pub versions: Vec<(Version, Option<String>)>,
    pub draft: Option<Version>,
}

/// An import as the application layer prepared it: the integration read from the
/// document (its flows' connections already renamed), the hash each version is stored
/// with, and what to do with it here.
#[derive(Debug)]
pub struct ImportPlan<'a> {
    pub incoming: &'a Incoming,
    /// One per version of `incoming`, in order: the hash it is stored with, and the
    /// fingerprint of its secrets when that hash is the exporting server's.
    pub hashes: Vec<(String, Option<String>)>,
    /// Into this integration here, rather than the one with the document's id.
    pub into: Option<IntegrationId>,
    /// The name for a new integration, rather than the document's.
    pub name: Option<IntegrationName>,
    /// The exporting server, as the mark on each version says.
    pub origin: &'a str,
    /// Make this version the active one, target Active.
    pub activate: Option<VersionNumber>,
    pub actor: &'a Actor,
}

/// What an import did.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportOutcome {
    pub integration: IntegrationSummary,
    pub created: bool,
    /// Versions added, oldest first.
    pub added: Vec<VersionNumber>,
    /// Versions that were here already, with the same hash.
    pub unchanged: Vec<VersionNumber>,
    /// The document's draft, if it was added.
    pub draft_added: Option<VersionNumber>,
    /// Why the document's draft was not added, if it had one.
    pub draft_skipped: Option<String>,
    /// The places in added versions whose own secrets the export left out
    /// (`v2: steps[0].headers.authorization`): those versions do not run until they
    /// are set (restore as draft, set, publish).
    pub secrets_left_out: Vec<String>,
}

impl ImportOutcome {
    /// One line for people: "created Orders with v1, v2, v3".
    pub fn summary(&self) -> String {
        let list = |numbers: &[VersionNumber]| {
            numbers
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let name = &self.integration.name;
        let mut text = match (self.created, self.added.as_slice()) {
            (true, []) => format!("created {name}"),
            (true, added) => format!("created {name} with {}", list(added)),
            (false, []) => format!("{name} already had every version: nothing changed"),
            (false, added) => format!("added {} to {name}", list(added)),
        };
        if let Some(draft) = self.draft_added {
            text.push_str(&format!("; draft {draft}"));
        }
        if !self.secrets_left_out.is_empty() {
            text.push_str(&format!(
                "; secrets to set before it runs: {}",
                self.secrets_left_out.join(", ")
            ));
        }
        text
    }
}

/// A promotion as it is recorded: what went where, and how it went.
#[derive(Debug)]
pub struct NewPromotion<'a> {
    pub integration: IntegrationId,
    pub version: VersionNumber,
    pub remote: &'a str,
    pub remote_url: &'a str,
    pub activate: bool,
    pub ok: bool,
    pub answer: &'a str,
    pub actor: &'a Actor,
}

/// What a version number holds here.
#[derive(Clone, Debug, PartialEq)]
enum Held {
    Published(String),
    Draft,
    Discarded,
}

impl Store {
    /// An integration with every published version and its draft, oldest first.
    pub async fn export_rows(&self, id: IntegrationId) -> Result<ExportRows, StoreError> {
        let integration = self.summary(id).await?;
        let sql = format!(
            "SELECT {VERSION_COLUMNS}, definition, imported_fingerprint FROM versions
             WHERE integration_id = $1 AND discarded_at IS NULL ORDER BY number"
        );
        let rows = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_all(&self.pool)
            .await?;
        let mut versions = Vec::new();
        let mut draft = None;
        for row in &rows {
            let text: String = row.try_get("definition")?;
            let version = Version {
                summary: version_summary_from_row(row)?,
                definition: serde_json::from_str(&text).map_err(|err| {
                    StoreError::Corrupt(format!("stored definition is not JSON: {err}"))
                })?,
            };
            match version.summary.is_draft() {
                true => draft = Some(version),
                false => versions.push((version, row.try_get("imported_fingerprint")?)),
            }
        }
        Ok(ExportRows {
            integration,
            versions,
            draft,
        })
    }

    /// The fingerprint of a flow's secrets under this server's key, in hex, as its
    /// content hash covers it.
    pub fn secrets_fingerprint(&self, definition: &Definition) -> Option<String> {
        super::versions::secrets_fingerprint(&self.hash_key, definition)
            .map(|bytes| super::versions::hex(&bytes))
    }

    /// The content hash this server gives a flow as stored.
    pub fn content_hash(&self, definition: &Definition) -> String {
        super::versions::content_hash(&self.hash_key, &definition.canonical_json())
    }

    /// Records a promotion of a version to another server.
    pub async fn record_promotion(
        &self,
        promotion: &NewPromotion<'_>,
    ) -> Result<Promotion, StoreError> {
        let _gate = self.write_gate().await;
        let answer: String = promotion.answer.chars().take(2000).collect();
        let answer = if answer.is_empty() {
            "(no answer)".to_owned()
        } else {
            answer
        };
        let row = sqlx::query(
            "INSERT INTO promotions
                (integration_id, version, remote, remote_url, activate, ok, answer, actor, at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             RETURNING id, version, remote, remote_url, activate, ok, answer, actor, at",
        )
        .bind(promotion.integration.to_string())
        .bind(promotion.version.get())
        .bind(promotion.remote)
        .bind(promotion.remote_url.chars().take(2000).collect::<String>())
        .bind(i64::from(promotion.activate))
        .bind(i64::from(promotion.ok))
        .bind(&answer)
        .bind(promotion.actor.as_str())
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await?;
        self.changed(promotion.integration);
        promotion_from_row(&row)
    }

    /// The latest promotions of an integration's versions, newest first.
    pub async fn promotions(
        &self,
        id: IntegrationId,
        limit: u32,
    ) -> Result<Vec<Promotion>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, version, remote, remote_url, activate, ok, answer, actor, at
             FROM promotions WHERE integration_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(id.to_string())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(promotion_from_row).collect()
    }

    /// Writes an import of one or more integrations, all or nothing.
    pub async fn import(&self, plans: &[ImportPlan<'_>]) -> Result<Vec<ImportOutcome>, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut outcomes = Vec::with_capacity(plans.len());
        for plan in plans {
            outcomes.push(self.import_one(&mut tx, plan).await?);
        }
        tx.commit().await?;
        for outcome in &outcomes {
            self.changed(outcome.integration.id);
        }
        Ok(outcomes)
    }

    async fn import_one(
        &self,
        tx: &mut Transaction<'static, Any>,
        plan: &ImportPlan<'_>,
    ) -> Result<ImportOutcome, StoreError> {
        let incoming = plan.incoming;
        let id = plan.into.unwrap_or(incoming.id);
        let reason = format!("imported from {}", plan.origin);
        let existing = match self.lock(tx, id).await {
            Ok(row) => Some(row),
            Err(StoreError::NotFound(_)) if plan.into.is_none() => None,
            Err(err) => return Err(err),
        };
        if let Some(row) = &existing
            && row.target_state == TargetState::Deleted
        {
            return Err(refused(
                "integration",
                format!(
                    "{} was unpublished on this server, so nothing can be added to it; \
                     import into another integration (`into`)",
                    row.name
                ),
            ));
        }
        let created = existing.is_none();
        if created {
            let new = NewIntegration {
                name: plan.name.clone().unwrap_or_else(|| incoming.name.clone()),
                description: incoming.description.clone(),
            };
            insert_integration(tx, id, &new, plan.actor, &reason).await?;
        }
        let mut held = held_numbers(tx, id).await?;
        let mut errors = Vec::new();
        let mut unchanged = Vec::new();
        let mut to_add = Vec::new();
        for (version, (hash, fingerprint)) in incoming.versions.iter().zip(&plan.hashes) {
            match held.get(&version.number) {
                None => to_add.push((version, hash, fingerprint)),
                Some(Held::Published(here)) if here == hash => unchanged.push(version.number),
                Some(Held::Published(here)) => errors.push(FieldError::new(
                    format!("document.{}.content_hash", version.at),
                    format!(
                        "{} exists here with another flow (hash {} here, {} in the document): \
                         the two servers' histories went apart at {}",
                        version.number,
                        short(here),
                        short(hash),
                        version.number
                    ),
                )),
                Some(Held::Draft) => errors.push(FieldError::new(
                    format!("document.{}.number", version.at),
                    format!(
                        "{} is this integration's draft here; publish or discard it, and \
                         the document's {} can no longer come in under its number",
                        version.number, version.number
                    ),
                )),
                Some(Held::Discarded) => errors.push(FieldError::new(
                    format!("document.{}.number", version.at),
                    format!(
                        "{} was a draft discarded here, and numbers are never used twice",
                        version.number
                    ),
                )),
            }
        }
        if !errors.is_empty() {
            return Err(StoreError::ImportRefused(errors));
        }
        let imported_at = now_ms();
        let mut added = Vec::new();
        let mut secrets_left_out = Vec::new();
        for (version, hash, fingerprint) in to_add {
            secrets_left_out.extend(
                left_out_secrets(&version.definition)
                    .into_iter()
                    .map(|place| format!("{}: {place}", version.number)),
            );
            fill_gap(tx, id, &mut held, version.number, &version.definition).await?;
            insert_version_row(tx, id, version.number, &version.definition).await?;
            sqlx::query(
                "UPDATE versions SET published_at = $3, published_by = $4, note = $5,
                    content_hash = $6, imported_from = $7, imported_at = $8,
                    imported_fingerprint = $9
                 WHERE integration_id = $1 AND number = $2",
            )
            .bind(id.to_string())
            .bind(version.number.get())
            .bind(version.published_at.timestamp_millis())
            .bind(&version.published_by)
            .bind(version.note.as_deref())
            .bind(hash)
            .bind(plan.origin)
            .bind(imported_at)
            .bind(fingerprint.as_deref())
            .execute(&mut **tx)
            .await?;
            held.insert(version.number, Held::Published(hash.clone()));
            added.push(version.number);
        }
        let (draft_added, draft_skipped) = match &incoming.draft {
            None => (None, None),
            Some((number, definition)) => {
                let has_draft = held.values().any(|held| *held == Held::Draft);
                if has_draft {
                    (
                        None,
                        Some("this integration has a draft of its own here".to_owned()),
                    )
                } else if held.contains_key(number) {
                    (None, Some(format!("{number} is taken here")))
                } else {
                    fill_gap(tx, id, &mut held, *number, definition).await?;
                    insert_version_row(tx, id, *number, definition).await?;
                    held.insert(*number, Held::Draft);
                    (Some(*number), None)
                }
            }
        };
        let newest_published = held
            .iter()
            .rev()
            .find(|(_, held)| matches!(held, Held::Published(_)))
            .map(|(number, _)| *number);
        if let Some(wanted) = plan.activate
            && !matches!(held.get(&wanted), Some(Held::Published(_)))
        {
            return Err(refused(
                "activate",
                format!("{wanted} is not a published version of this integration"),
            ));
        }
        let row = self.lock(tx, id).await?;
        // Never run here: a first import (target Draft), or one the reconciler has not
        // recorded Inactive yet. Actions wait for that; an import need not.
        let never_ran = row.current_state == State::Draft && newest_published.is_some();
        let change =
            if never_ran && (row.target_state == TargetState::Draft || plan.activate.is_some()) {
                // It comes in stopped at its newest version (the reconciler records it
                // Inactive), or running the one asked for.
                Some(match plan.activate {
                    Some(number) => (
                        TargetState::Active,
                        number,
                        format!("{reason}, activated {number}"),
                    ),
                    None => (
                        TargetState::Inactive,
                        newest_published.unwrap_or(VersionNumber::FIRST),
                        reason.clone(),
                    ),
                })
            } else if let Some(number) = plan.activate {
                let change = decide(
                    &Action::Activate(number),
                    row.situation(),
                    Some(NamedVersion::Published),
                )?;
                Some((
                    change.target.unwrap_or(row.target_state),
                    number,
                    format!("{reason}, activated {number}"),
                ))
            } else {
                None
            };
        let integration = match change {
            Some((target, number, why)) => {
                let sql = format!(
                    "UPDATE integrations SET target_state = $2, target_version = $3,
                        revision = revision + 1, change_id = $4, change_actor = $5,
                        change_reason = $6, updated_at = $7, reconcile_attempts = 0,
                        next_attempt_at = NULL, gave_up = 0
                     WHERE id = $1 {RETURNING_SUMMARY}"
                );
                let updated = sqlx::query(&sql)
                    .bind(id.to_string())
                    .bind(target.as_str())
                    .bind(number.get())
                    .bind(uuid::Uuid::new_v4().to_string())
                    .bind(plan.actor.as_str())
                    .bind(&why)
                    .bind(now_ms().max(row.created_at))
                    .fetch_one(&mut **tx)
                    .await?;
                summary_from_row(&updated)?
            }
            None if !added.is_empty() || draft_added.is_some() => {
                bump_revision(tx, &row).await?;
                self.summary_in(tx, id).await?
            }
            None => row.summary.clone(),
        };
        Ok(ImportOutcome {
            integration,
            created,
            added,
            unchanged,
            draft_added,
            draft_skipped,
            secrets_left_out,
        })
    }
}

fn promotion_from_row(row: &sqlx::any::AnyRow) -> Result<Promotion, StoreError> {
    Ok(Promotion {
        id: row.try_get("id")?,
        version: VersionNumber::new(row.try_get("version")?)
            .map_err(|err| StoreError::Corrupt(err.to_string()))?,
        remote: row.try_get("remote")?,
        remote_url: row.try_get("remote_url")?,
        activate: row.try_get::<i64, _>("activate")? != 0,
        ok: row.try_get::<i64, _>("ok")? != 0,
        answer: row.try_get("answer")?,
        actor: row.try_get("actor")?,
        at: super::time_from_ms(row.try_get("at")?)?,
    })
}

fn refused(path: &str, message: String) -> StoreError {
    StoreError::ImportRefused(vec![FieldError::new(path, message)])
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// Every version number of an integration, and what it holds.
async fn held_numbers(
    tx: &mut Transaction<'static, Any>,
    id: IntegrationId,
) -> Result<std::collections::BTreeMap<VersionNumber, Held>, StoreError> {
    let rows = sqlx::query(
        "SELECT number, content_hash, published_at, discarded_at FROM versions
         WHERE integration_id = $1",
    )
    .bind(id.to_string())
    .fetch_all(&mut **tx)
    .await?;
    let mut held = std::collections::BTreeMap::new();
    for row in rows {
        let number = VersionNumber::new(row.try_get("number")?)
            .map_err(|err| StoreError::Corrupt(err.to_string()))?;
        let published: Option<i64> = row.try_get("published_at")?;
        let discarded: Option<i64> = row.try_get("discarded_at")?;
        let what = match (published, discarded) {
            (Some(_), _) => Held::Published(
                row.try_get::<Option<String>, _>("content_hash")?
                    .unwrap_or_default(),
            ),
            (None, Some(_)) => Held::Discarded,
            (None, None) => Held::Draft,
        };
        held.insert(number, what);
    }
    Ok(held)
}

/// Numbers the exporting server used for drafts it discarded (they are not in the
/// document) become discarded drafts here too, holding the flow that follows them.
async fn fill_gap(
    tx: &mut Transaction<'static, Any>,
    id: IntegrationId,
    held: &mut std::collections::BTreeMap<VersionNumber, Held>,
    before: VersionNumber,
    definition: &Definition,
) -> Result<(), StoreError> {
    let mut next = held
        .keys()
        .next_back()
        .map_or(VersionNumber::FIRST, |last| last.next());
    while next < before {
        insert_version_row(tx, id, next, definition).await?;
        sqlx::query(
            "UPDATE versions SET discarded_at = $3 WHERE integration_id = $1 AND number = $2",
        )
        .bind(id.to_string())
        .bind(next.get())
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
        held.insert(next, Held::Discarded);
        next = next.next();
    }
    Ok(())
}

/// A version row as a draft, under the number given (the database checks it is the
/// next one).
async fn insert_version_row(
    tx: &mut Transaction<'static, Any>,
    id: IntegrationId,
    number: VersionNumber,
    definition: &Definition,
) -> Result<(), StoreError> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO versions (integration_id, number, definition, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(id.to_string())
    .bind(number.get())
    .bind(definition.canonical_json())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
