//! Reading rows into domain types: the columns an integration's summary is read
//! from, and the mapping of summary, version and reconcile columns, shared by every
//! store module.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{StoreError, time_from_ms};
use crate::domain::definition::Definition;
use crate::domain::integration::Imported;
use crate::domain::lifecycle::{State, TargetState};
use crate::domain::reconcile::{Phase, ReconcileStatus};
use crate::domain::version::VersionNumber;
use crate::domain::{IntegrationId, IntegrationSummary, Publication, VersionRef, VersionSummary};

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
pub(super) const LOCK_SELECT: &str = summary_select!(", d.definition AS draft_definition");

/// Ends an `UPDATE integrations` that answers with the summary as updated, instead
/// of a second statement reading it back.
pub(super) const RETURNING_SUMMARY: &str = "RETURNING *, (SELECT d.number FROM versions d
    WHERE d.integration_id = integrations.id AND d.published_at IS NULL
      AND d.discarded_at IS NULL) AS draft_version";

pub(super) const VERSION_COLUMNS: &str = "number, based_on, source_integration_id, source_version,
    created_at, updated_at, published_at, published_by, note, content_hash, imported_from, imported_at";

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

pub(super) fn reconcile_from_row(row: &AnyRow) -> Result<ReconcileStatus, StoreError> {
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

pub(super) fn version_summary_from_row(row: &AnyRow) -> Result<VersionSummary, StoreError> {
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
            imported: match (
                row.try_get::<Option<String>, _>("imported_from")?,
                row.try_get::<Option<i64>, _>("imported_at")?,
            ) {
                (Some(from), Some(at)) => Some(Imported {
                    from,
                    at: time_from_ms(at)?,
                }),
                _ => None,
            },
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
