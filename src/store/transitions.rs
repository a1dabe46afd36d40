//! The transition log: every change of a current or target state or version, as the
//! database's triggers recorded it.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::rows::{optional_number, summary};
use super::{Store, StoreError, time_from_ms};
use crate::domain::{IntegrationId, Page, PageRequest, Transition};

impl Store {
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
            .map(transition_from_row)
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Page::new(items, page, u64::try_from(total).unwrap_or(0)))
    }

    /// The whole transition log of an integration, oldest first (for an export).
    pub async fn all_transitions(&self, id: IntegrationId) -> Result<Vec<Transition>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, version, field, from_value, to_value, actor, reason, at
             FROM transitions WHERE integration_id = $1 ORDER BY id",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(transition_from_row).collect()
    }
}

fn transition_from_row(row: &AnyRow) -> Result<Transition, StoreError> {
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
}
