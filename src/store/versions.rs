//! Versions: reading them (one, a page, a page with their flows, identical content),
//! and the writes an action makes to them (a new draft, freezing it), each inside the
//! caller's transaction.

use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Row, Transaction};

use super::integrations::LockedRow;
use super::rows::{
    VERSION_COLUMNS, optional_number, parse_stored_definition, summary, version_summary_from_row,
};
use super::{Store, StoreError, now_ms};
use crate::domain::definition::Definition;
use crate::domain::version::VersionNumber;
use crate::domain::{Actor, IntegrationId, Page, PageRequest, Version, VersionRef, VersionSummary};

impl Store {
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
}

/// Adds the draft with the next number.
pub(super) async fn insert_draft(
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
pub(super) async fn start_draft_from_active(
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
pub(super) async fn freeze_draft(
    tx: &mut Transaction<'static, Any>,
    row: &LockedRow,
    actor: &Actor,
    note: Option<&str>,
    hash_key: &[u8],
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
    .bind(content_hash(hash_key, definition))
    .execute(&mut **tx)
    .await?;
    Ok(number)
}

/// The public content hash of a stored definition, in hex: SHA-256 of the masked
/// canonical definition, followed (when it has secrets) by an HMAC-SHA256 of its
/// secrets under the server's key. Equal definitions hash alike and a changed secret
/// changes the hash, but the hash reveals nothing of the secrets (a plain hash of a
/// short secret can be guessed offline). Without secrets it is the plain SHA-256 of
/// the canonical definition, as before secrets were fingerprinted.
pub fn content_hash(key: &[u8], stored_definition: &str) -> String {
    let parsed = serde_json::from_str(stored_definition)
        .ok()
        .and_then(|value| Definition::parse(&value).ok());
    match parsed {
        Some(definition) => hash_of(
            &definition.masked(),
            secrets_fingerprint(key, &definition).as_deref(),
        ),
        // A stored definition that does not read is hashed as it is.
        None => hex(&Sha256::digest(stored_definition.as_bytes())),
    }
}

/// The keyed fingerprint of a flow's own secrets that its content hash covers
/// (HMAC-SHA256 under the server's key, so it reveals nothing of them); `None` for a
/// flow without secrets. An export carries it, so that an importing server can check
/// the hash of a flow whose secrets were left out.
pub fn secrets_fingerprint(key: &[u8], definition: &Definition) -> Option<Vec<u8>> {
    use hmac::Mac;
    let secrets = definition.secrets();
    if secrets.is_empty() {
        return None;
    }
    // HMAC takes a key of any length: this always holds.
    let mut fingerprint = hmac::Hmac::<Sha256>::new_from_slice(key).ok()?;
    fingerprint.update(
        serde_json::to_string(&secrets)
            .unwrap_or_default()
            .as_bytes(),
    );
    Some(fingerprint.finalize().into_bytes().to_vec())
}

/// The content hash of a masked flow and its secrets' fingerprint.
pub fn hash_of(masked: &Definition, fingerprint: Option<&[u8]>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(masked.canonical_json().as_bytes());
    if let Some(fingerprint) = fingerprint {
        hasher.update(b"\nsecrets:");
        hasher.update(fingerprint);
    }
    hex(&hasher.finalize())
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

pub(super) async fn is_frozen(
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
pub(super) async fn frozen_version(
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

pub(super) fn version_not_found(id: IntegrationId, number: VersionNumber) -> StoreError {
    StoreError::NotFound(format!("version {number} of integration {id}"))
}

pub(super) async fn version(
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
