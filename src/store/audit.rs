//! The audit log's rows: only ever added, read newest first.

use sqlx::Row;

use super::{Store, StoreError, now_ms, time_from_ms};
use crate::domain::audit::{AuditEntry, AuditEvent};

/// An entry to record.
#[derive(Debug)]
pub struct NewAuditEntry<'a> {
    pub actor: &'a str,
    pub event: AuditEvent,
    pub subject: &'a str,
    pub address: &'a str,
    pub detail: &'a str,
}

impl Store {
    pub async fn record_audit(&self, entry: &NewAuditEntry<'_>) -> Result<(), StoreError> {
        let _gate = self.write_gate().await;
        sqlx::query(
            "INSERT INTO audit_events (at, actor, event, subject, address, detail)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(now_ms())
        .bind(truncated(entry.actor, 100))
        .bind(entry.event.as_str())
        .bind(truncated(entry.subject, 200))
        .bind(truncated(entry.address, 100))
        .bind(truncated(entry.detail, 500))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Up to `limit` entries older than the entry `before` (all when `None`), newest
    /// first.
    pub async fn audit(
        &self,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, actor, event, subject, address, detail FROM audit_events
             WHERE $1 IS NULL OR id < $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let event: String = row.try_get("event")?;
                Ok(AuditEntry {
                    id: row.try_get("id")?,
                    at: time_from_ms(row.try_get("at")?)?,
                    actor: row.try_get("actor")?,
                    event: AuditEvent::parse(&event)
                        .ok_or_else(|| StoreError::Corrupt(format!("audit event {event:?}")))?,
                    subject: row.try_get("subject")?,
                    address: row.try_get("address")?,
                    detail: row.try_get("detail")?,
                })
            })
            .collect()
    }
}

/// At most `max` characters: what a caller typed is bounded before it is stored.
fn truncated(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}
