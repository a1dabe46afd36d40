//! What only the reconciler writes: the current state and running version, its
//! progress (sub-step, attempts, next retry, gave up), and the leases that keep two
//! reconcilers off the same integration.

use super::{Store, StoreError, now_ms};
use crate::domain::lifecycle::State;
use crate::domain::reconcile::{Phase, ReconcileStatus};
use crate::domain::version::VersionNumber;
use crate::domain::{Actor, IntegrationId, IntegrationSummary};

/// Pending: what is current differs from what is asked for (state, or running version).
const PENDING: &str = "(current_state <> target_state
    OR (target_state = 'active' AND coalesce(current_version, 0) <> coalesce(target_version, 0)))";

impl Store {
    /// Pending integrations that are due (no retry scheduled later, not given up) and
    /// not leased by another live reconciler, oldest change first.
    pub async fn due_for_reconcile(
        &self,
        owner: &str,
        limit: u32,
    ) -> Result<Vec<IntegrationId>, StoreError> {
        let now = now_ms();
        let sql = format!(
            "SELECT id FROM integrations
             WHERE {PENDING} AND gave_up = 0
               AND (next_attempt_at IS NULL OR next_attempt_at <= $1)
               AND (lease_owner IS NULL OR lease_owner = $2 OR lease_expires_at < $1)
             ORDER BY updated_at LIMIT $3"
        );
        let ids: Vec<String> = sqlx::query_scalar(&sql)
            .bind(now)
            .bind(owner)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        parse_ids(ids)
    }

    /// Integrations that should be running and are either this reconciler's (to check
    /// they still are) or nobody's live one (a server that ran them is gone).
    pub async fn running_for(
        &self,
        owner: &str,
        limit: u32,
    ) -> Result<Vec<IntegrationId>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM integrations
             WHERE target_state = 'active' AND current_state = 'active'
               AND (lease_owner IS NULL OR lease_owner = $1 OR lease_expires_at < $2)
             ORDER BY id LIMIT $3",
        )
        .bind(owner)
        .bind(now_ms())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        parse_ids(ids)
    }

    /// Takes the lease on an integration unless another live reconciler holds it.
    pub async fn claim(
        &self,
        id: IntegrationId,
        owner: &str,
        ttl: std::time::Duration,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let until = now + i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2);
        let done = sqlx::query(
            "UPDATE integrations SET lease_owner = $2, lease_expires_at = $3
             WHERE id = $1 AND (lease_owner IS NULL OR lease_owner = $2 OR lease_expires_at < $4)",
        )
        .bind(id.to_string())
        .bind(owner)
        .bind(until)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives up the lease, so that any reconciler may pick the integration up.
    pub async fn release(&self, id: IntegrationId, owner: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE integrations SET lease_owner = NULL, lease_expires_at = NULL
             WHERE id = $1 AND lease_owner = $2",
        )
        .bind(id.to_string())
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Hands back every lease this reconciler holds (at shutdown).
    pub async fn release_all(&self, owner: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE integrations SET lease_owner = NULL, lease_expires_at = NULL WHERE lease_owner = $1",
        )
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Extends every lease this reconciler holds: it is alive and still runs them.
    pub async fn renew_leases(
        &self,
        owner: &str,
        ttl: std::time::Duration,
    ) -> Result<(), StoreError> {
        let until = now_ms() + i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2);
        sqlx::query("UPDATE integrations SET lease_expires_at = $2 WHERE lease_owner = $1")
            .bind(owner)
            .bind(until)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Shows which sub-step the reconciler is in.
    pub async fn set_phase(
        &self,
        id: IntegrationId,
        phase: Option<Phase>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE integrations SET reconcile_phase = $2 WHERE id = $1")
            .bind(id.to_string())
            .bind(phase.map(Phase::as_str))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records what is true now after a success: the state, the running version, and
    /// no failure left to retry.
    pub async fn set_current(
        &self,
        id: IntegrationId,
        state: State,
        version: Option<VersionNumber>,
        reason: &str,
    ) -> Result<IntegrationSummary, StoreError> {
        self.record_current(id, state, version, reason, &ReconcileStatus::default())
            .await
    }

    /// Records what is true now and the reconciler's progress, in one transaction; a
    /// change of state or version lands in the transition log with actor `reconciler`.
    pub async fn record_current(
        &self,
        id: IntegrationId,
        state: State,
        version: Option<VersionNumber>,
        reason: &str,
        reconcile: &ReconcileStatus,
    ) -> Result<IntegrationSummary, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = self.lock(&mut tx, id).await?;
        sqlx::query(
            "UPDATE integrations SET current_state = $2, current_version = $3,
                change_id = $4, change_actor = $5, change_reason = $6, updated_at = $7,
                reconcile_phase = $8, reconcile_attempts = $9, next_attempt_at = $10,
                last_error = $11, gave_up = $12
             WHERE id = $1",
        )
        .bind(id.to_string())
        .bind(state.as_str())
        .bind(version.map(VersionNumber::get))
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(Actor::reconciler().as_str())
        .bind(reason)
        .bind(now_ms().max(row.created_at))
        .bind(reconcile.phase.map(Phase::as_str))
        .bind(i64::from(reconcile.attempts))
        .bind(reconcile.next_attempt_at.map(|at| at.timestamp_millis()))
        .bind(reconcile.last_error.as_deref())
        .bind(i64::from(reconcile.gave_up))
        .execute(&mut *tx)
        .await?;
        let summary = super::integrations::summary(&mut tx, id, "").await?;
        tx.commit().await?;
        self.changed(id);
        Ok(summary)
    }

    /// The stored flow of a version, as the reconciler deploys it.
    pub async fn definition(
        &self,
        id: IntegrationId,
        number: VersionNumber,
    ) -> Result<crate::domain::definition::Definition, StoreError> {
        let mut conn = self.pool.acquire().await?;
        super::integrations::version_definition(&mut conn, id, number).await
    }
}

fn parse_ids(ids: Vec<String>) -> Result<Vec<IntegrationId>, StoreError> {
    ids.iter()
        .map(|id| {
            IntegrationId::parse(id)
                .map_err(|err| StoreError::Corrupt(format!("integration id {id:?}: {err}")))
        })
        .collect()
}
