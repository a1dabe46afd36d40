//! The reconciler: a task in the server that drives each integration's current state
//! towards its target. It is level-triggered — it compares what the database asks for
//! with what the runtime reports is running, never trusting the event that woke it —
//! so it can be stopped and started at any moment and converges from what it finds.
//!
//! It wakes after every action and on a periodic tick (due retries, drift). Before
//! working on an integration it takes a lease stored in the row, so that two servers
//! on one PostgreSQL never act on the same integration; it keeps the lease on what it
//! runs, and renews it every tick.

pub mod retry;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

use crate::domain::IntegrationId;
use crate::domain::lifecycle::{State, TargetState};
use crate::domain::reconcile::{Phase, ReconcileStatus};
use crate::domain::version::VersionNumber;
use crate::runtime::{Health, Runtime};
use crate::store::{Store, StoreError};
use retry::{AfterFailure, RetryPolicy};

/// How the reconciler behaves.
#[derive(Clone, Debug)]
pub struct ReconcilerConfig {
    /// Who holds the leases: one name per server, stable across its restarts.
    pub owner: String,
    /// How often it looks without being woken (due retries, drift).
    pub tick: Duration,
    /// How long a lease lasts unless renewed; a server that stops renewing (it died)
    /// loses its integrations to another after this long.
    pub lease: Duration,
    pub retry: RetryPolicy,
    /// How many integrations one pass takes on.
    pub batch: u32,
}

impl Default for ReconcilerConfig {
    fn default() -> Self {
        Self {
            owner: "junction".into(),
            tick: Duration::from_secs(1),
            lease: Duration::from_secs(15),
            retry: RetryPolicy::default(),
            batch: 256,
        }
    }
}

/// What one reconcile of one integration did.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Nothing to do: what runs is what is asked for.
    Idle,
    /// Another reconciler holds the integration.
    Busy,
    /// The current state is now the target.
    Reached(State),
    /// It failed; the next attempt is due after this long.
    RetryAfter { attempts: u32, delay: Duration },
    /// It failed too often; only a user's action re-arms it.
    GaveUp { attempts: u32 },
}

/// Wakes the reconciler; cheap to clone, given to whatever performs actions.
#[derive(Clone, Debug, Default)]
pub struct Waker(Arc<Notify>);

impl Waker {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// Drives current states towards targets.
#[derive(Clone)]
pub struct Reconciler {
    store: Store,
    runtime: Arc<dyn Runtime>,
    config: ReconcilerConfig,
    waker: Waker,
}

impl Reconciler {
    pub fn new(store: Store, runtime: Arc<dyn Runtime>, config: ReconcilerConfig) -> Self {
        Self {
            store,
            runtime,
            config,
            waker: Waker::default(),
        }
    }

    pub fn waker(&self) -> Waker {
        self.waker.clone()
    }

    pub fn config(&self) -> &ReconcilerConfig {
        &self.config
    }

    /// Runs until `shutdown` completes, then finishes the integration in hand and
    /// hands its leases back so another server can take over at once.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut tick = tokio::time::interval(self.config.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                () = self.waker.0.notified() => {},
                _ = tick.tick() => {},
            }
            // A full batch means more may be waiting: go on without waiting to be woken.
            loop {
                match self.reconcile_once().await {
                    Ok(outcomes) if outcomes.len() >= self.config.batch as usize => continue,
                    Ok(_) => break,
                    Err(err) => {
                        tracing::error!(error = %crate::telemetry::error_chain(&err), "reconcile pass failed");
                        break;
                    }
                }
            }
        }
        if let Err(err) = self.store.release_all(&self.config.owner).await {
            tracing::warn!(error = %err, "cannot hand back leases at shutdown");
        }
    }

    /// One pass: renews the leases held, checks that what should run still runs (drift,
    /// or integrations whose server is gone), then reconciles every due integration.
    /// Tests call this to drive the reconciler step by step.
    pub async fn reconcile_once(&self) -> Result<Vec<(IntegrationId, Outcome)>, StoreError> {
        let owner = self.config.owner.as_str();
        self.store.renew_leases(owner, self.config.lease).await?;
        let mut outcomes = Vec::new();
        for id in self.store.running_for(owner, self.config.batch).await? {
            if let Some(outcome) = self.check_running(id).await? {
                outcomes.push((id, outcome));
            }
        }
        for id in self
            .store
            .due_for_reconcile(owner, self.config.batch)
            .await?
        {
            let outcome = self.reconcile(id).await?;
            outcomes.push((id, outcome));
        }
        Ok(outcomes)
    }

    /// An integration recorded as running: is it, here? If its task died, that is a
    /// failure for the retry policy; if it is not here at all (this server restarted,
    /// or the one that ran it is gone), it is brought up.
    async fn check_running(&self, id: IntegrationId) -> Result<Option<Outcome>, StoreError> {
        let summary = self.store.summary(id).await?;
        let status = self.runtime.status(id);
        match status {
            Some(status) if status.version == summary.current_version.unwrap_or(status.version) => {
                match status.health {
                    Health::Running => {
                        // Running here: make sure the lease says so.
                        self.store
                            .claim(id, &self.config.owner, self.config.lease)
                            .await?;
                        Ok(None)
                    }
                    Health::Died(reason) => {
                        if !self
                            .store
                            .claim(id, &self.config.owner, self.config.lease)
                            .await?
                        {
                            return Ok(Some(Outcome::Busy));
                        }
                        self.runtime.stop(id);
                        let outcome = self
                            .fail(
                                &summary.reconcile,
                                id,
                                None,
                                None,
                                &format!("stopped running: {reason}"),
                            )
                            .await?;
                        Ok(Some(outcome))
                    }
                }
            }
            Some(_) | None => {
                if !self
                    .store
                    .claim(id, &self.config.owner, self.config.lease)
                    .await?
                {
                    return Ok(Some(Outcome::Busy));
                }
                self.store
                    .set_current(
                        id,
                        State::Inactive,
                        None,
                        "not running here: the server that ran it restarted or is gone",
                    )
                    .await?;
                Ok(Some(self.reconcile(id).await?))
            }
        }
    }

    /// Reconciles one integration: claims it, re-reads it, and takes it one step
    /// towards its target. Safe to call at any time, any number of times.
    pub async fn reconcile(&self, id: IntegrationId) -> Result<Outcome, StoreError> {
        if !self
            .store
            .claim(id, &self.config.owner, self.config.lease)
            .await?
        {
            return Ok(Outcome::Busy);
        }
        let span = tracing::info_span!("reconcile", integration = %id);
        let _entered = span.enter();
        let summary = self.store.summary(id).await?;
        match summary.target_state {
            TargetState::Draft => Ok(Outcome::Idle),
            TargetState::Active => match summary.active_version {
                Some(version) => self.bring_up(id, version, &summary).await,
                None => Ok(Outcome::Idle),
            },
            TargetState::Inactive | TargetState::Deleted => {
                self.runtime.stop(id);
                let (state, reason) = if summary.target_state == TargetState::Inactive {
                    (State::Inactive, "stopped")
                } else {
                    (State::Deleted, "unpublished: stopped, trigger released")
                };
                if summary.current_state != state || summary.current_version.is_some() {
                    self.store.set_current(id, state, None, reason).await?;
                }
                self.store.release(id, &self.config.owner).await?;
                Ok(Outcome::Reached(state))
            }
        }
    }

    async fn bring_up(
        &self,
        id: IntegrationId,
        version: VersionNumber,
        summary: &crate::domain::IntegrationSummary,
    ) -> Result<Outcome, StoreError> {
        let already = self
            .runtime
            .status(id)
            .is_some_and(|status| status.version == version && status.health == Health::Running);
        if already
            && summary.current_state == State::Active
            && summary.current_version == Some(version)
        {
            return Ok(Outcome::Idle);
        }
        let previous = summary.current_version;
        // Each sub-step is shown before it runs; a failure is reported with the step.
        let enter = |phase: Phase| async move {
            self.store
                .set_phase(id, Some(phase))
                .await
                .map_err(|err| (phase, err.to_string()))
        };
        let result: Result<(), (Phase, String)> = async {
            enter(Phase::Validating).await?;
            let definition = self
                .store
                .definition(id, version)
                .await
                .map_err(|err| (Phase::Validating, err.to_string()))?;
            enter(Phase::Building).await?;
            self.runtime
                .build(id, version, &definition)
                .map_err(|err| (Phase::Building, err.to_string()))?;
            enter(Phase::Deploying).await?;
            self.runtime
                .deploy(id, version)
                .map_err(|err| (Phase::Deploying, err.to_string()))?;
            enter(Phase::Starting).await?;
            self.runtime
                .start(id)
                .map_err(|err| (Phase::Starting, err.to_string()))?;
            Ok(())
        }
        .await;
        match result {
            Ok(()) => {
                let reason = match previous {
                    Some(old) if old != version => format!("running {version} (replaced {old})"),
                    _ => format!("running {version}"),
                };
                self.store
                    .set_current(id, State::Active, Some(version), &reason)
                    .await?;
                Ok(Outcome::Reached(State::Active))
            }
            Err((phase, error)) => {
                let running = self
                    .runtime
                    .status(id)
                    .filter(|status| status.health == Health::Running)
                    .map(|status| status.version);
                self.fail(&summary.reconcile, id, running, Some(phase), &error)
                    .await
            }
        }
    }

    /// Records a failure: current := Error with the message, and the next attempt
    /// scheduled by the retry policy, or the reconciler giving up.
    async fn fail(
        &self,
        previous: &ReconcileStatus,
        id: IntegrationId,
        running: Option<VersionNumber>,
        phase: Option<Phase>,
        error: &str,
    ) -> Result<Outcome, StoreError> {
        let attempts = previous.attempts.saturating_add(1);
        let message = match phase {
            Some(phase) => format!("{} failed: {error}", phase.label()),
            None => error.to_owned(),
        };
        let random: f64 = rand::random();
        let (status, reason, outcome) = match self.config.retry.after_failure(attempts, random) {
            AfterFailure::RetryIn(delay) => (
                ReconcileStatus {
                    phase: None,
                    attempts,
                    next_attempt_at: Some(
                        chrono::Utc::now()
                            + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX),
                    ),
                    last_error: Some(message.clone()),
                    gave_up: false,
                },
                format!(
                    "{message} (attempt {attempts}, retrying in {:.1} s)",
                    delay.as_secs_f64()
                ),
                Outcome::RetryAfter { attempts, delay },
            ),
            AfterFailure::GiveUp => (
                ReconcileStatus {
                    phase: None,
                    attempts,
                    next_attempt_at: None,
                    last_error: Some(message.clone()),
                    gave_up: true,
                },
                format!("gave up after {attempts} attempts: {message}"),
                Outcome::GaveUp { attempts },
            ),
        };
        tracing::warn!(integration = %id, %reason, "reconcile failed");
        self.store
            .record_current(id, State::Error, running, &reason, &status)
            .await?;
        Ok(outcome)
    }
}
