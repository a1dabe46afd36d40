//! The activity of running integrations: written in batches, the newest N kept per
//! integration, read newest first.

use sqlx::Row;
use std::collections::HashMap;

use super::{Store, StoreError, time_from_ms};
use crate::domain::activity::{ActivityChart, ActivityEntry};
use crate::domain::version::VersionNumber;
use crate::domain::{IntegrationId, Page, PageRequest};
use crate::runtime::activity::Activity;

/// Rows per INSERT statement: 800 parameters, within every SQLite's limit (999).
const ROWS_PER_INSERT: usize = 100;
/// The outcome counted for messages that could not be recorded.
const NOT_RECORDED: &str = "not_recorded";

impl Store {
    /// Stores a batch of activity in one transaction, then drops what exceeds `keep`
    /// per integration; counts every message of the batch, and the `lost` ones (by
    /// integration and minute), in the per-minute counts of the chart.
    pub async fn record_activities(
        &self,
        batch: &[Activity],
        keep: u32,
        lost: &HashMap<(IntegrationId, i64), u64>,
    ) -> Result<(), StoreError> {
        if batch.is_empty() && lost.is_empty() {
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
                .map(|row| format!("({})", super::in_order(self.dialect, row * 8 + 1, 8)))
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
        let mut counts: HashMap<(IntegrationId, i64, &str), u64> = HashMap::new();
        for activity in batch {
            let minute = activity.started_at_ms.div_euclid(60_000);
            *counts
                .entry((activity.integration_id, minute, activity.outcome.as_str()))
                .or_default() += 1;
        }
        for ((id, minute), count) in lost {
            *counts.entry((*id, *minute, NOT_RECORDED)).or_default() += count;
        }
        let counts: Vec<_> = counts.into_iter().collect();
        for chunk in counts.chunks(ROWS_PER_INSERT) {
            let rows = (0..chunk.len())
                .map(|row| format!("({})", super::in_order(self.dialect, row * 4 + 1, 4)))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "INSERT INTO activity_minutes (integration_id, minute, outcome, count)
                 VALUES {rows}
                 ON CONFLICT (integration_id, minute, outcome)
                 DO UPDATE SET count = activity_minutes.count + excluded.count"
            );
            let mut query = sqlx::query(&sql).persistent(false);
            for ((id, minute, outcome), count) in chunk {
                query = query
                    .bind(id.to_string())
                    .bind(*minute)
                    .bind(*outcome)
                    .bind(i64::try_from(*count).unwrap_or(i64::MAX));
            }
            query.execute(&mut **tx).await?;
        }
        // A day of minutes is kept.
        let oldest = chrono::Utc::now().timestamp_millis().div_euclid(60_000) - 24 * 60;
        let ids: std::collections::HashSet<IntegrationId> =
            counts.iter().map(|((id, _, _), _)| *id).collect();
        for id in ids {
            sqlx::query("DELETE FROM activity_minutes WHERE integration_id = $1 AND minute < $2")
                .bind(id.to_string())
                .bind(oldest)
                .execute(&mut **tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Messages per minute and outcome of the hour ending now, for the chart.
    pub async fn activity_chart(&self, id: IntegrationId) -> Result<ActivityChart, StoreError> {
        let now_minute = chrono::Utc::now().timestamp_millis().div_euclid(60_000);
        let first = now_minute - i64::from(ActivityChart::MINUTES) + 1;
        let rows = sqlx::query(
            "SELECT minute, outcome, count FROM activity_minutes
             WHERE integration_id = $1 AND minute >= $2",
        )
        .bind(id.to_string())
        .bind(first)
        .fetch_all(&self.pool)
        .await?;
        let mut counts = Vec::with_capacity(rows.len());
        for row in &rows {
            let minute: i64 = row.try_get("minute")?;
            let outcome: String = row.try_get("outcome")?;
            let count: i64 = row.try_get("count")?;
            counts.push((minute - first, outcome, u64::try_from(count).unwrap_or(0)));
        }
        let start = time_from_ms(first * 60_000)?;
        Ok(ActivityChart::from_counts(start, &counts))
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
