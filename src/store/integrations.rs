//! Integrations: creating and listing them.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, now_ms, time_from_ms};
use crate::domain::{IntegrationId, IntegrationSummary, NewIntegration};

impl Store {
    /// Stores a new integration. A name that differs from an existing one only in case
    /// is refused by the database's unique index, so two racing requests cannot both
    /// win.
    pub async fn create_integration(
        &self,
        new: &NewIntegration,
    ) -> Result<IntegrationSummary, StoreError> {
        let id = IntegrationId::new();
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO integrations (id, name, name_key, description, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(id.to_string())
        .bind(new.name.as_str())
        .bind(new.name.key())
        .bind(new.description.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|err| match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::NameTaken(new.name.to_string())
            }
            _ => StoreError::Database(err),
        })?;
        tx.commit().await?;
        Ok(IntegrationSummary {
            id,
            name: new.name.to_string(),
            description: new.description.as_str().to_owned(),
            created_at: time_from_ms(now)?,
        })
    }

    /// Every integration, newest first.
    pub async fn list_integrations(&self) -> Result<Vec<IntegrationSummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, description, created_at FROM integrations
             ORDER BY created_at DESC, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(summary_from_row).collect()
    }
}

fn summary_from_row(row: &AnyRow) -> Result<IntegrationSummary, StoreError> {
    let id: String = row.try_get("id")?;
    Ok(IntegrationSummary {
        id: IntegrationId::parse(&id)
            .map_err(|err| StoreError::Corrupt(format!("integration id {id:?}: {err}")))?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        created_at: time_from_ms(row.try_get("created_at")?)?,
    })
}
