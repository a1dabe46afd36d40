//! What only the reconciler writes: the current state and running version, its
//! progress (sub-step, attempts, next retry, gave up), and the leases that keep two
//! reconcilers off the same integration.

use sqlx::{Any, Row, Transaction};

use super::{Store, StoreError, now_ms, placeholders};
use crate::domain::definition::Definition;
use crate::domain::lifecycle::State;
use crate::domain::reconcile::{Phase, ReconcileStatus};
use crate::domain::version::VersionNumber;
use crate::domain::{Actor, IntegrationId, IntegrationSummary};

/// Pending: what is current differs from what is asked for (state, or running version).
const PENDING: &str = "(current_state <> target_state
    OR (target_state = 'active' AND coalesce(current_version, 0) <> coalesce(target_version, 0)))";

/// Not leased by another live reconciler: `owner` and `now` name the statement's
/// parameters that hold them.
fn leasable(owner: &str, now: &str) -> String {
    format!("(lease_owner IS NULL OR lease_owner = {owner} OR lease_expires_at < {now})")
}

/// Pending and due (no retry scheduled later, not given up), and [`leasable`].
fn due(owner: &str, now: &str) -> String {
    format!(
        "{PENDING} AND gave_up = 0 AND (next_attempt_at IS NULL OR next_attempt_at <= {now})
         AND {}",
        leasable(owner, now)
    )
}

/// When a lease of `ttl` taken at `now` (ms) expires.
fn lease_until(now: i64, ttl: std::time::Duration) -> i64 {
    now + i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2)
}

/// How many leases one statement of [`Store::renew_leases`] extends.
const RENEW_CHUNK: i64 = 500;

/// How many versions one statement of [`Store::definitions`] reads.
const DEFINITIONS_BATCH: usize = 400;

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
            "SELECT id FROM integrations WHERE {} ORDER BY updated_at LIMIT $3",
            due("$2", "$1")
        );
        let ids: Vec<String> = sqlx::query_scalar(&sql)
            .bind(now)
            .bind(owner)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        parse_ids(ids)
    }

    /// Takes the lease on the integrations [`Store::due_for_reconcile`] would name, in
    /// one statement: on SQLite every statement is a round trip to the connection's
    /// thread, and this one is between a publish and its version answering. The lease
    /// condition is repeated outside the subquery: PostgreSQL checks it again on a
    /// row another server claimed meanwhile, so that only one gets it. There the
    /// subquery also passes over rows another server is claiming this moment
    /// (`SKIP LOCKED`): without it, two servers picked the same oldest rows, the one
    /// that waited found them taken and claimed nothing, and sat out the storm until
    /// its next tick. SQLite has one writer, so nothing is locked to skip.
    pub async fn claim_due(
        &self,
        owner: &str,
        limit: u32,
        ttl: std::time::Duration,
    ) -> Result<Vec<IntegrationId>, StoreError> {
        let now = now_ms();
        let skip_locked = match self.dialect {
            super::Dialect::Sqlite => "",
            super::Dialect::Postgres => "FOR UPDATE SKIP LOCKED",
        };
        let sql = format!(
            "UPDATE integrations SET lease_owner = $1, lease_expires_at = $2
             WHERE {} AND id IN (
                 SELECT id FROM integrations WHERE {} ORDER BY updated_at LIMIT $4
                 {skip_locked})
             RETURNING id",
            leasable("$1", "$3"),
            due("$1", "$3")
        );
        let _gate = self.write_gate().await;
        let claimed: Vec<String> = sqlx::query_scalar(&sql)
            .bind(owner)
            .bind(lease_until(now, ttl))
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        parse_ids(claimed)
    }

    /// Integrations that should be running and are either this reconciler's (to check
    /// they still are) or nobody's live one (a server that ran them is gone), with the
    /// version recorded as running and who holds each. All of them: the caller compares
    /// them with its runtime in memory and only touches the database for the few that
    /// differ.
    pub async fn running_for(&self, owner: &str) -> Result<Vec<Running>, StoreError> {
        let sql = format!(
            "SELECT id, current_version, lease_owner FROM integrations
             WHERE target_state = 'active' AND current_state = 'active' AND {}",
            leasable("$1", "$2")
        );
        let rows = sqlx::query(&sql)
            .bind(owner)
            .bind(now_ms())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get("id")?;
                let lease_owner: Option<String> = row.try_get("lease_owner")?;
                Ok(Running {
                    id: parse_id(&id)?,
                    version: super::rows::optional_number(row, "current_version")?,
                    mine: lease_owner.as_deref() == Some(owner),
                })
            })
            .collect()
    }

    /// Takes the lease on an integration unless another live reconciler holds it.
    pub async fn claim(
        &self,
        id: IntegrationId,
        owner: &str,
        ttl: std::time::Duration,
    ) -> Result<bool, StoreError> {
        Ok(!self.claim_many(&[id], owner, ttl).await?.is_empty())
    }

    /// Hands back every lease this reconciler holds (at shutdown).
    pub async fn release_all(&self, owner: &str) -> Result<(), StoreError> {
        let _gate = self.write_gate().await;
        sqlx::query(
            "UPDATE integrations SET lease_owner = NULL, lease_expires_at = NULL WHERE lease_owner = $1",
        )
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Extends every lease this reconciler holds: it is alive and still runs them.
    /// Answers the integrations it still holds: one another server took over while
    /// this one stalled is not among them. A chunk at a time, in the order of their
    /// ids, letting go of the write gate between chunks: a server holding ten
    /// thousand leases would otherwise hold every other write (a publish, an action)
    /// up for the whole renewal, every few seconds.
    pub async fn renew_leases(
        &self,
        owner: &str,
        ttl: std::time::Duration,
    ) -> Result<Vec<IntegrationId>, StoreError> {
        let until = lease_until(now_ms(), ttl);
        let mut held = Vec::new();
        // Every id (a UUID) sorts after the empty string.
        let mut after = String::new();
        loop {
            let chunk: Vec<String> = {
                let _gate = self.write_gate().await;
                sqlx::query_scalar(
                    "UPDATE integrations SET lease_expires_at = $2
                     WHERE lease_owner = $1 AND id IN (
                         SELECT id FROM integrations WHERE lease_owner = $1 AND id > $3
                         ORDER BY id LIMIT $4)
                     RETURNING id",
                )
                .bind(owner)
                .bind(until)
                .bind(&after)
                .bind(RENEW_CHUNK)
                .fetch_all(&self.pool)
                .await?
            };
            // Until a chunk comes back empty, not merely short: on PostgreSQL a row
            // another server took between the subquery and the update is left out of
            // a chunk that still had rows after it.
            let Some(last) = chunk.iter().max() else {
                break;
            };
            after.clone_from(last);
            held.extend(chunk);
        }
        parse_ids(held)
    }

    /// Integrations every server runs (webhooks, and consumers of brokers that share
    /// work among them: [`Consumers::EveryServer`]) recorded as running on another
    /// server (or on none, between two holders), with the version running: each
    /// server runs these too, without a lease.
    ///
    /// [`Consumers::EveryServer`]: crate::domain::definition::Consumers::EveryServer
    pub async fn shared_running_elsewhere(
        &self,
        owner: &str,
    ) -> Result<Vec<(IntegrationId, VersionNumber)>, StoreError> {
        use crate::domain::definition::{Sharing, TriggerKind};
        // Webhooks are found by their routes (no JSON read); the other kinds by the
        // running version's trigger, as `Trigger::consumers` reads it.
        let trigger = |field: &str| {
            // The domain's own field names: inlined, never a user's text.
            debug_assert!(field.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
            match self.dialect {
                super::Dialect::Postgres => {
                    format!("(v.definition::jsonb #>> '{{trigger,{field}}}')")
                }
                super::Dialect::Sqlite => {
                    format!("json_extract(v.definition, '$.trigger.{field}')")
                }
            }
        };
        let mut kinds = Vec::new();
        let mut conditions = Vec::new();
        for kind in TriggerKind::ALL {
            if kind == TriggerKind::Webhook {
                continue;
            }
            let at = kinds.len() + 2;
            match kind.sharing() {
                Sharing::Never => continue,
                Sharing::Always => conditions.push(format!("{} = ${at}", trigger("kind"))),
                Sharing::WithField(field) => conditions.push(format!(
                    "({} = ${at} AND {} IS NOT NULL)",
                    trigger("kind"),
                    trigger(field)
                )),
            }
            kinds.push(kind.as_str());
        }
        let sql = format!(
            "SELECT i.id, i.current_version FROM integrations i
             WHERE i.current_state = 'active' AND i.target_state = 'active'
               AND i.current_version IS NOT NULL
               AND (i.lease_owner IS NULL OR i.lease_owner <> $1)
               AND (EXISTS (SELECT 1 FROM webhook_routes r WHERE r.integration_id = i.id)
                    OR EXISTS (SELECT 1 FROM versions v
                               WHERE v.integration_id = i.id AND v.number = i.current_version
                                 AND ({})))",
            conditions.join(" OR ")
        );
        let mut query = sqlx::query(&sql).bind(owner);
        for kind in kinds {
            query = query.bind(kind);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .filter_map(|row| {
                let id = row.try_get::<String, _>("id").map_err(StoreError::from);
                let version = super::rows::optional_number(row, "current_version");
                match (id, version) {
                    (Ok(id), Ok(Some(version))) => Some(parse_id(&id).map(|id| (id, version))),
                    (Ok(_), Ok(None)) => None,
                    (Err(err), _) | (_, Err(err)) => Some(Err(err)),
                }
            })
            .collect()
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
        self.lock(&mut tx, id).await?;
        let record = Record {
            id,
            state,
            version,
            reason: reason.to_owned(),
            reconcile: reconcile.clone(),
        };
        write_record(&mut tx, &record, now_ms()).await?;
        let summary = super::rows::summary(&mut tx, id).await?;
        tx.commit().await?;
        self.changed(id);
        Ok(summary)
    }

    /// Takes the leases on several integrations at once; answers those it got (the
    /// others are held by another live reconciler).
    pub async fn claim_many(
        &self,
        ids: &[IntegrationId],
        owner: &str,
        ttl: std::time::Duration,
    ) -> Result<Vec<IntegrationId>, StoreError> {
        let _gate = self.write_gate().await;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let now = now_ms();
        let until = lease_until(now, ttl);
        let sql = format!(
            "UPDATE integrations SET lease_owner = $1, lease_expires_at = $2
             WHERE id IN ({}) AND {} RETURNING id",
            placeholders(4, ids.len()),
            leasable("$1", "$3")
        );
        let mut query = sqlx::query_scalar(&sql)
            .persistent(false)
            .bind(owner)
            .bind(until)
            .bind(now);
        for id in ids {
            query = query.bind(id.to_string());
        }
        let claimed: Vec<String> = query.fetch_all(&self.pool).await?;
        parse_ids(claimed)
    }

    /// Gives up the leases on several integrations.
    pub async fn release_many(&self, ids: &[IntegrationId], owner: &str) -> Result<(), StoreError> {
        self.update_ids(
            "UPDATE integrations SET lease_owner = NULL, lease_expires_at = NULL
             WHERE lease_owner = $1 AND id IN ({ids})",
            owner,
            ids,
        )
        .await
    }

    /// Shows the same sub-step on several integrations, and tells the pages that
    /// watch them (a phase is only written once it takes a while: worth showing).
    pub async fn set_phase_many(
        &self,
        ids: &[IntegrationId],
        phase: Phase,
    ) -> Result<(), StoreError> {
        self.update_ids(
            "UPDATE integrations SET reconcile_phase = $1 WHERE id IN ({ids})",
            phase.as_str(),
            ids,
        )
        .await?;
        for id in ids {
            self.changed(*id);
        }
        Ok(())
    }

    /// Runs an UPDATE whose `$1` is `first` and whose `{ids}` is the list of `ids`.
    async fn update_ids(
        &self,
        sql: &str,
        first: &str,
        ids: &[IntegrationId],
    ) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let sql = sql.replace("{ids}", &placeholders(2, ids.len()));
        let _gate = self.write_gate().await;
        let mut query = sqlx::query(&sql).persistent(false).bind(first);
        for id in ids {
            query = query.bind(id.to_string());
        }
        query.execute(&self.pool).await?;
        Ok(())
    }

    /// Several integrations as they are now; those that no longer exist are left out.
    pub async fn summaries(
        &self,
        ids: &[IntegrationId],
    ) -> Result<Vec<IntegrationSummary>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "{} WHERE i.id IN ({})",
            super::rows::SUMMARY_SELECT,
            super::in_order(self.dialect, 1, ids.len())
        );
        let mut query = sqlx::query(&sql).persistent(false);
        for id in ids {
            query = query.bind(id.to_string());
        }
        query
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(super::rows::summary_from_row)
            .collect()
    }

    /// The stored flows of several versions, each as the reconciler deploys it, or why
    /// it cannot be read (missing, or not a flow this Junction understands).
    pub async fn definitions(
        &self,
        versions: &[(IntegrationId, VersionNumber)],
    ) -> Result<Vec<Result<Definition, StoreError>>, StoreError> {
        if versions.is_empty() {
            return Ok(Vec::new());
        }
        // In batches: SQLite refuses an expression more than 1,000 deep (each pair is
        // one more OR), and both databases limit the parameters of one statement. A
        // server joining others that run 10,000 webhooks asks for all of them at once.
        let mut found = std::collections::HashMap::new();
        for batch in versions.chunks(DEFINITIONS_BATCH) {
            let wanted = (0..batch.len())
                .map(|n| {
                    let [id, number] =
                        [2 * n + 1, 2 * n + 2].map(|at| super::in_order(self.dialect, at, 1));
                    format!("(integration_id = {id} AND number = {number})")
                })
                .collect::<Vec<_>>()
                .join(" OR ");
            let sql =
                format!("SELECT integration_id, number, definition FROM versions WHERE {wanted}");
            let mut query = sqlx::query(&sql).persistent(false);
            for (id, number) in batch {
                query = query.bind(id.to_string()).bind(number.get());
            }
            for row in query.fetch_all(&self.pool).await? {
                let id: String = row.try_get("integration_id")?;
                let number: i64 = row.try_get("number")?;
                let text: String = row.try_get("definition")?;
                found.insert((id, number), text);
            }
        }
        Ok(versions
            .iter()
            .map(|(id, number)| {
                let text = found.get(&(id.to_string(), number.get())).ok_or_else(|| {
                    StoreError::NotFound(format!("version {number} of integration {id}"))
                })?;
                super::rows::parse_stored_definition(id, *number, text)
            })
            .collect())
    }

    /// Records what is true now for several integrations, in one transaction: each
    /// change of state or version lands in the transition log with actor `reconciler`.
    /// An integration that no longer exists is skipped.
    pub async fn record_many(&self, records: &[Record]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        let now = now_ms();
        for record in records {
            write_record(&mut tx, record, now).await?;
        }
        tx.commit().await?;
        for record in records {
            self.changed(record.id);
        }
        Ok(())
    }
}

impl Store {
    /// Logs that `version` was deployed again where it ran (a connection it uses
    /// changed): a transition of the current version to itself, saying why. Nothing
    /// else changes, so no trigger would record it.
    pub async fn log_redeploy(
        &self,
        id: IntegrationId,
        version: VersionNumber,
        reason: &str,
    ) -> Result<(), StoreError> {
        let _gate = self.write_gate().await;
        sqlx::query(
            "INSERT INTO transitions (integration_id, version, field, from_value, to_value,
                                      actor, reason, change_id, at)
             VALUES ($1, $2, 'current_version', $3, $3, $4, $5, $6, $7)",
        )
        .bind(id.to_string())
        .bind(version.get())
        .bind(version.get().to_string())
        .bind(Actor::reconciler().as_str())
        .bind(reason)
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        drop(_gate);
        self.changed(id);
        Ok(())
    }
}

/// Writes what the reconciler found true of one integration; a change of state or
/// version lands in the transition log (the database's triggers) with actor
/// `reconciler`. `updated_at` never goes before the creation time.
async fn write_record(
    tx: &mut Transaction<'static, Any>,
    record: &Record,
    now: i64,
) -> Result<(), StoreError> {
    let status = &record.reconcile;
    sqlx::query(
        "UPDATE integrations SET current_state = $2, current_version = $3,
            change_id = $4, change_actor = $5, change_reason = $6,
            updated_at = CASE WHEN created_at > $7 THEN created_at ELSE $7 END,
            reconcile_phase = $8, reconcile_attempts = $9, next_attempt_at = $10,
            last_error = $11, gave_up = $12
         WHERE id = $1",
    )
    .bind(record.id.to_string())
    .bind(record.state.as_str())
    .bind(record.version.map(VersionNumber::get))
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(Actor::reconciler().as_str())
    .bind(record.reason.as_str())
    .bind(now)
    .bind(status.phase.map(Phase::as_str))
    .bind(i64::from(status.attempts))
    .bind(status.next_attempt_at.map(|at| at.timestamp_millis()))
    .bind(status.last_error.as_deref())
    .bind(i64::from(status.gave_up))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// An integration recorded as running, as the reconciler's drift check sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Running {
    pub id: IntegrationId,
    pub version: Option<VersionNumber>,
    /// Whether the lease is this reconciler's (else nobody's, or expired).
    pub mine: bool,
}

/// What the reconciler found true of one integration, to be recorded.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub id: IntegrationId,
    pub state: State,
    pub version: Option<VersionNumber>,
    pub reason: String,
    pub reconcile: ReconcileStatus,
}

fn parse_ids(ids: Vec<String>) -> Result<Vec<IntegrationId>, StoreError> {
    ids.iter().map(|id| parse_id(id)).collect()
}

fn parse_id(id: &str) -> Result<IntegrationId, StoreError> {
    IntegrationId::parse(id)
        .map_err(|err| StoreError::Corrupt(format!("integration id {id:?}: {err}")))
}
