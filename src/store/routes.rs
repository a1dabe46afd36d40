//! Which integration owns each webhook path. The database refuses a second owner (the
//! path is the key), so two integrations never serve one path, whichever server runs
//! them. The reconciler claims paths before deploying and releases them on stopping.

use std::collections::HashMap;

use sqlx::Row;

use super::{Store, StoreError, in_order};
use crate::domain::IntegrationId;

impl Store {
    /// Claims each path for its integration, where no other integration holds it.
    /// Answers the paths that another integration holds, with that owner.
    pub async fn claim_webhook_paths(
        &self,
        wanted: &[(IntegrationId, &str)],
    ) -> Result<HashMap<IntegrationId, IntegrationId>, StoreError> {
        if wanted.is_empty() {
            return Ok(HashMap::new());
        }
        let mut tx = self.begin_write().await?;
        let values = (0..wanted.len())
            .map(|n| format!("({})", in_order(self.dialect, 2 * n + 1, 2)))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO webhook_routes (path, integration_id) VALUES {values}
             ON CONFLICT (path) DO NOTHING"
        );
        let mut insert = sqlx::query(&sql).persistent(false);
        for (id, path) in wanted {
            insert = insert.bind(*path).bind(id.to_string());
        }
        insert.execute(&mut **tx).await?;
        let sql = format!(
            "SELECT path, integration_id FROM webhook_routes WHERE path IN ({})",
            in_order(self.dialect, 1, wanted.len())
        );
        let mut select = sqlx::query(&sql).persistent(false);
        for (_, path) in wanted {
            select = select.bind(*path);
        }
        let mut owners = HashMap::new();
        for row in select.fetch_all(&mut **tx).await? {
            let path: String = row.try_get("path")?;
            let owner: String = row.try_get("integration_id")?;
            owners.insert(path, owner);
        }
        tx.commit().await?;
        wanted
            .iter()
            .filter_map(|(id, path)| {
                let owner = owners.get(*path)?;
                (*owner != id.to_string()).then(|| {
                    IntegrationId::parse(owner)
                        .map(|owner| (*id, owner))
                        .map_err(|err| StoreError::Corrupt(format!("route owner {owner:?}: {err}")))
                })
            })
            .collect()
    }

    /// Releases the paths these integrations hold, except those in `keep` (the paths
    /// they now serve).
    pub async fn release_webhook_paths(
        &self,
        ids: &[IntegrationId],
        keep: &[&str],
    ) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        // A path has one owner: a kept path held by one of `ids` is held by the
        // integration that now serves it, so one condition serves the whole batch.
        let mut sql = format!(
            "DELETE FROM webhook_routes WHERE integration_id IN ({})",
            in_order(self.dialect, 1, ids.len())
        );
        if !keep.is_empty() {
            sql.push_str(&format!(
                " AND path NOT IN ({})",
                in_order(self.dialect, ids.len() + 1, keep.len())
            ));
        }
        let _gate = self.write_gate().await;
        let mut query = sqlx::query(&sql).persistent(false);
        for id in ids {
            query = query.bind(id.to_string());
        }
        for path in keep {
            query = query.bind(*path);
        }
        query.execute(&self.pool).await?;
        Ok(())
    }

    /// Which integration holds a path, if any.
    pub async fn webhook_path_owner(
        &self,
        path: &str,
    ) -> Result<Option<IntegrationId>, StoreError> {
        let owner: Option<String> =
            sqlx::query_scalar("SELECT integration_id FROM webhook_routes WHERE path = $1")
                .bind(path)
                .fetch_optional(&self.pool)
                .await?;
        owner
            .map(|owner| {
                IntegrationId::parse(&owner)
                    .map_err(|err| StoreError::Corrupt(format!("route owner {owner:?}: {err}")))
            })
            .transpose()
    }
}
