//! The activity of running integrations: written in batches, the newest N kept per
//! integration, read newest first.

use sqlx::Row;
use std::collections::HashMap;

use super::{Store, StoreError, time_from_ms};
use crate::domain::activity::ActivityEntry;
use crate::domain::version::VersionNumber;
use crate::domain::{IntegrationId, Page, PageRequest};
use crate::runtime::activity::Activity;

/// Rows per INSERT statement: 800 parameters, within every SQLite's limit (999).
const ROWS_PER_INSERT: usize = 100;

impl Store {
    /// Stores a batch of activity in one transaction, then drops what exceeds `keep`
    /// per integration.
    pub async fn record_activities(&self, batch: &[Activity], keep: u32) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        // Only the newest `keep` of each integration in the batch are written: the
        // others would be deleted below, in the same transaction.
        let mut seen: HashMap<IntegrationId, u32> = HashMap::new();
        let mut newest: Vec<&Activity> = batch
            .iter()
            .rev()
            .filter(|activity| {
                let count = seen.entry(activity.integration_id).or_default();
                *count += 1;
                *count <= keep
            })
            .collect();
        newest.reverse();
        let mut tx = self.begin_write().await?;
        // Many rows per INSERT: one statement per message was one round trip to the
        // database (on SQLite, to the connection's thread) per webhook call.
        for chunk in newest.chunks(ROWS_PER_INSERT) {
            let rows = (0..chunk.len())
                .map(|row| format!("({})", super::placeholders(row * 8 + 1, 8)))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "INSERT INTO activities
                    (integration_id, version, trigger, started_at, duration_us, outcome, steps, error)
                 VALUES {rows}"
            );
            // Only full chunks repeat the same text: the others are not worth caching.
            let mut query = sqlx::query(&sql).persistent(chunk.len() == ROWS_PER_INSERT);
            for activity in chunk {
                query = query
                    .bind(activity.integration_id.to_string())
                    .bind(activity.version.get())
                    .bind(activity.trigger)
                    .bind(activity.started_at_ms)
                    .bind(activity.duration_us)
                    .bind(activity.outcome.as_str())
                    .bind(serde_json::to_string(&activity.steps).unwrap_or_else(|_| "[]".into()))
                    .bind(activity.error.as_deref());
            }
            query.execute(&mut **tx).await?;
        }
        for id in seen.into_keys() {
            sqlx::query(
                "DELETE FROM activities WHERE integration_id = $1 AND id <= (
                    SELECT id FROM activities WHERE integration_id = $1
                    ORDER BY id DESC LIMIT 1 OFFSET $2)",
            )
            .bind(id.to_string())
            .bind(i64::from(keep))
            .execute(&mut **tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The recent activity of an integration, newest first.
    pub async fn activity(
        &self,
        id: IntegrationId,
        page: PageRequest,
    ) -> Result<Page<ActivityEntry>, StoreError> {
        self.summary(id).await?;
        let total: i64 =
            sqlx::query_scalar("SELECT count(*) FROM activities WHERE integration_id = $1")
                .bind(id.to_string())
                .fetch_one(&self.pool)
                .await?;
        let rows = sqlx::query(
            "SELECT id, version, trigger, started_at, duration_us, outcome, steps, error
             FROM activities WHERE integration_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3",
        )
        .bind(id.to_string())
        .bind(i64::from(page.per_page))
        .bind(page.offset())
        .fetch_all(&self.pool)
        .await?;
        let items = rows
            .iter()
            .map(|row| {
                let steps: String = row.try_get("steps")?;
                Ok(ActivityEntry {
                    id: row.try_get("id")?,
                    version: VersionNumber::new(row.try_get("version")?)
                        .map_err(|err| StoreError::Corrupt(err.to_string()))?,
                    trigger: row.try_get("trigger")?,
                    started_at: time_from_ms(row.try_get("started_at")?)?,
                    duration_us: row.try_get("duration_us")?,
                    outcome: row.try_get("outcome")?,
                    steps: serde_json::from_str(&steps)
                        .map_err(|err| StoreError::Corrupt(format!("activity steps: {err}")))?,
                    error: row.try_get("error")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Page::new(items, page, u64::try_from(total).unwrap_or(0)))
    }
}
