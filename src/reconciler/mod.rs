//! The reconciler: a task in the server that drives each integration's current state
//! towards its target. It is level-triggered — it compares what the database asks for
//! with what the runtime reports is running, never trusting the event that woke it —
//! so it can be stopped and started at any moment and converges from what it finds.
//!
//! It wakes after every action and on a periodic tick (due retries, drift). Before
//! working on an integration it takes a lease stored in the row, so that two servers
//! on one PostgreSQL never act on the same integration; it keeps the lease on what it
//! runs, and renews it every third of its lease.

pub mod decision;
pub mod fence;
pub mod retry;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

use crate::domain::lifecycle::State;
use crate::domain::reconcile::{Phase, ReconcileStatus};
use crate::domain::version::VersionNumber;
use crate::domain::{IntegrationId, IntegrationSummary};
use crate::runtime::{Health, Runtime};
use crate::store::reconcile::Record;
use crate::store::{Store, StoreError};
use decision::{Decision, Observed, decide};
use retry::{AfterFailure, RetryPolicy};

/// How long a phase of bringing a version up runs before it is shown (`shown_if_slow`).
const PHASE_SHOWN_AFTER: Duration = Duration::from_millis(20);

/// Why an integration recorded as running is brought up again.
const NOT_HERE: &str = "not running here: the server that ran it restarted or is gone";

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
    /// How long to let work gather after a pass that moved several integrations: in a
    /// storm of publishes, passes that each took the few published since the last one
    /// wrote to SQLite's single writer between every two publishes, and slowed them
    /// down threefold. A lone action (a pass that moved one) is never held back.
    pub gather: Duration,
}

impl Default for ReconcilerConfig {
    fn default() -> Self {
        Self {
            owner: "junction".into(),
            tick: Duration::from_secs(1),
            lease: Duration::from_secs(15),
            retry: RetryPolicy::default(),
            batch: 256,
            gather: Duration::from_millis(50),
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
    /// The runtime is still bringing it up (a consumer connecting); looked at again
    /// on the next pass.
    Waiting,
    /// The current state is now the target.
    Reached(State),
    /// It failed; the next attempt is due after this long.
    RetryAfter { attempts: u32, delay: Duration },
    /// It failed too often; only a user's action re-arms it.
    GaveUp { attempts: u32 },
}

impl Outcome {
    /// Whether the pass changed something (as opposed to finding nothing to do, or
    /// someone else at work).
    fn moved(&self) -> bool {
        match self {
            Self::Idle | Self::Busy | Self::Waiting => false,
            Self::Reached(_) | Self::RetryAfter { .. } | Self::GaveUp { .. } => true,
        }
    }
}

/// What bringing versions up came to.
#[derive(Debug, Default)]
struct CameUp {
    /// Running, healthy.
    running: Vec<IntegrationId>,
    /// The webhook paths those that run serve.
    paths: Vec<String>,
    /// Started, still coming up.
    progressing: Vec<IntegrationId>,
    /// Failed, at which step, why.
    failed: Vec<(IntegrationId, Phase, String)>,
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
    /// When the leases were last renewed.
    renewed_at: Arc<std::sync::Mutex<Option<std::time::Instant>>>,
    metrics: crate::metrics::Metrics,
    /// What the leases held allow the runtime to run.
    fence: fence::Fence,
}

impl Reconciler {
    pub fn new(store: Store, runtime: Arc<dyn Runtime>, config: ReconcilerConfig) -> Self {
        Self {
            store,
            runtime,
            config,
            waker: Waker::default(),
            renewed_at: Arc::default(),
            metrics: crate::metrics::Metrics::default(),
            fence: fence::Fence::closed(),
        }
    }

    /// The same reconciler, telling `fence` which leases it holds until when (the
    /// runtime's timers ask it).
    pub fn with_fence(mut self, fence: fence::Fence) -> Self {
        self.fence = fence;
        self
    }

    /// The same reconciler, timing its passes and counting its leases on `metrics`.
    pub fn with_metrics(mut self, metrics: crate::metrics::Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    pub fn waker(&self) -> Waker {
        self.waker.clone()
    }

    pub fn config(&self) -> &ReconcilerConfig {
        &self.config
    }

    /// Runs until `shutdown` completes, then finishes the integration in hand, stops
    /// every flow it runs and hands its leases back so another server can take over
    /// at once.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut tick = tokio::time::interval(self.config.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        'run: loop {
            // The whole pass on each tick; when woken by an action (or going on after a
            // full batch) only the due integrations: the drift check reads every
            // running integration, which a storm of publishes would repeat hundreds
            // of times.
            let mut full = tokio::select! {
                () = &mut shutdown => break 'run,
                () = self.waker.0.notified() => false,
                _ = tick.tick() => true,
            };
            loop {
                let started = std::time::Instant::now();
                let pass = if std::mem::take(&mut full) {
                    self.full_pass().await
                } else {
                    self.reconcile_due().await.map(|outcomes| (outcomes, false))
                };
                self.metrics
                    .reconcile_seconds
                    .observe(started.elapsed().as_secs_f64());
                let (outcomes, more_drift) = match pass {
                    Ok(pass) => pass,
                    Err(err) => {
                        tracing::error!(error = %crate::telemetry::error_chain(&err), "reconcile pass failed");
                        break;
                    }
                };
                // A full batch means more may be waiting: go on without waiting to be
                // woken, with the whole pass again while running integrations are still
                // being taken over (a restart, or a server gone), or only the due ones.
                full = more_drift;
                if more_drift || outcomes.len() >= self.config.batch as usize {
                    // A storm keeps this loop busy: a shutdown is seen between passes.
                    tokio::select! {
                        biased;
                        () = &mut shutdown => break 'run,
                        () = std::future::ready(()) => continue,
                    }
                }
                let moved = outcomes
                    .iter()
                    .filter(|(_, outcome)| outcome.moved())
                    .count();
                if moved < 2 {
                    break;
                }
                tokio::select! {
                    () = &mut shutdown => break 'run,
                    () = tokio::time::sleep(self.config.gather) => {}
                }
            }
        }
        // What runs here stops before anyone else may take it over.
        self.runtime.stop_all().await;
        self.metrics.leases_held.set(0);
        self.fence.release_all();
        if let Err(err) = self.store.release_all(&self.config.owner).await {
            tracing::warn!(error = %err, "cannot hand back leases at shutdown");
        }
    }

    /// One pass: renews the leases held, checks that what should run still runs (drift,
    /// or integrations whose server is gone), then reconciles every due integration.
    /// Tests call this to drive the reconciler step by step.
    pub async fn reconcile_once(&self) -> Result<Vec<(IntegrationId, Outcome)>, StoreError> {
        self.full_pass().await.map(|(outcomes, _)| outcomes)
    }

    /// The pass of `reconcile_once`, also telling whether the drift check found more
    /// suspects than one batch takes (so the next pass should look again).
    async fn full_pass(&self) -> Result<(Vec<(IntegrationId, Outcome)>, bool), StoreError> {
        let owner = self.config.owner.as_str();
        self.renew_if_due().await?;
        let mut outcomes = Vec::new();
        // What runs here as recorded is compared in memory; only the integrations that
        // differ (died, or not running here) cost database work, a batch at a time.
        let running = self.store.running_for(owner).await?;
        let held = running.iter().filter(|running| running.mine).count();
        self.metrics
            .leases_held
            .set(i64::try_from(held).unwrap_or(i64::MAX));
        let suspects: Vec<_> = running
            .into_iter()
            .filter(|running| !(running.mine && self.runs(running.id, running.version)))
            .take(self.config.batch as usize + 1)
            .collect();
        let more = suspects.len() > self.config.batch as usize;
        let mut not_here = Vec::new();
        for running in suspects.into_iter().take(self.config.batch as usize) {
            if self.runtime.status(running.id).is_none() {
                not_here.push(running.id);
            } else if let Some(outcome) = self.check_running(running.id).await? {
                outcomes.push((running.id, outcome));
            }
        }
        outcomes.extend(self.take_over(&not_here).await?);
        // What runs here, built with connections that changed since: the holder
        // brings it up again (other servers rebuild their webhook copies below).
        let revisions = self.connection_revisions().await?;
        let stale: Vec<IntegrationId> = self
            .runtime
            .running()
            .into_iter()
            .filter(|id| {
                self.fence.is_held(*id) && !self.changed_connections(*id, &revisions).is_empty()
            })
            .collect();
        outcomes.extend(self.reconcile_many(&stale).await?);
        outcomes.extend(self.reconcile_due().await?);
        if self.runtime.runs_shared_everywhere() {
            self.run_shared_everywhere().await?;
        }
        Ok((outcomes, more))
    }

    /// Every active flow that every server takes messages of runs here too, whoever
    /// holds its lease: behind a load balancer any server may get any webhook call,
    /// and a queue's consumers share its messages. They are brought up in this
    /// runtime without recording anything (the holder records the state). What this
    /// server runs that it holds no lease of and that is not such a flow (a timer
    /// whose lease another server took over while this one stalled, a webhook
    /// stopped elsewhere) is stopped.
    async fn run_shared_everywhere(&self) -> Result<(), StoreError> {
        let wanted: HashMap<IntegrationId, VersionNumber> = self
            .store
            .shared_running_elsewhere(&self.config.owner)
            .await?
            .into_iter()
            .filter(|(id, _)| !self.fence.is_held(*id))
            .collect();
        for id in self.runtime.running() {
            if !wanted.contains_key(&id) && !self.fence.is_held(id) {
                self.runtime.stop(id).await;
            }
        }
        let revisions = self.connection_revisions().await?;
        let missing: Vec<(IntegrationId, VersionNumber)> = wanted
            .into_iter()
            .filter(|(id, version)| {
                !self.runs_or_comes_up(*id, *version)
                    || !self.changed_connections(*id, &revisions).is_empty()
            })
            .collect();
        let definitions = self.store.definitions(&missing).await?;
        for ((id, version), definition) in missing.into_iter().zip(definitions) {
            let served = match definition {
                Ok(definition) => self.serve_here(id, version, &definition).await,
                Err(err) => Err(err.to_string()),
            };
            if let Err(error) = served {
                tracing::warn!(integration = %id, %version, %error,
                    "cannot run here a flow that another server runs");
                self.runtime.stop(id).await;
            }
        }
        Ok(())
    }

    /// Builds, deploys and starts `version` in this runtime, recording nothing.
    async fn serve_here(
        &self,
        id: IntegrationId,
        version: VersionNumber,
        definition: &crate::domain::definition::Definition,
    ) -> Result<(), String> {
        self.runtime
            .build(id, version, definition)
            .await
            .map_err(|err| err.to_string())?;
        self.runtime
            .deploy(id, version)
            .await
            .map_err(|err| err.to_string())?;
        self.runtime.start(id).await.map_err(|err| err.to_string())
    }

    /// Reconciles the integrations that are due, a batch of them.
    pub async fn reconcile_due(&self) -> Result<Vec<(IntegrationId, Outcome)>, StoreError> {
        let owner = self.config.owner.as_str();
        self.renew_if_due().await?;
        let claimed = self
            .store
            .claim_due(owner, self.config.batch, self.config.lease)
            .await?;
        self.fence.claimed(&claimed);
        self.reconcile_claimed(&claimed, &claimed).await
    }

    /// Renews the leases held when a third of their time has gone since the last
    /// renewal (or never happened): often enough that none expires while this server
    /// lives, rarely enough not to rewrite every held row on every pass.
    async fn renew_if_due(&self) -> Result<(), StoreError> {
        let last = *self
            .renewed_at
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if last.is_some_and(|at| at.elapsed() < self.config.lease / 3) {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let held = self
            .store
            .renew_leases(&self.config.owner, self.config.lease)
            .await?;
        self.fence.renewed(started, held, self.config.lease);
        *self
            .renewed_at
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(started);
        Ok(())
    }

    /// Each connection's revision, when anything running uses one (a server whose flows
    /// use no connection never asks).
    async fn connection_revisions(&self) -> Result<Option<HashMap<String, i64>>, StoreError> {
        let uses = self
            .runtime
            .running()
            .into_iter()
            .any(|id| !self.runtime.built_with(id).is_empty());
        match uses {
            true => Ok(Some(self.store.connection_revisions().await?)),
            false => Ok(None),
        }
    }

    /// The connections that changed (or went) since what runs for `id` was built.
    fn changed_connections(
        &self,
        id: IntegrationId,
        revisions: &Option<HashMap<String, i64>>,
    ) -> Vec<String> {
        let Some(revisions) = revisions else {
            return Vec::new();
        };
        self.runtime
            .built_with(id)
            .into_iter()
            .filter(|(name, revision)| revisions.get(name) != Some(revision))
            .map(|(name, _)| name)
            .collect()
    }

    /// Whether `version` runs here, or is still coming up (a consumer connecting):
    /// either way, not to be brought up again.
    fn runs_or_comes_up(&self, id: IntegrationId, version: VersionNumber) -> bool {
        self.runtime.status(id).is_some_and(|status| {
            status.version == version
                && matches!(status.health, Health::Running | Health::Progressing(_))
        })
    }

    /// Whether the runtime runs this version, healthy.
    fn runs(&self, id: IntegrationId, version: Option<VersionNumber>) -> bool {
        self.runtime.status(id).is_some_and(|status| {
            Some(status.version) == version && status.health == Health::Running
        })
    }

    /// An integration recorded as running that does not run here as recorded: if its
    /// task died, that is a failure for the retry policy; if it is not here at all (this
    /// server restarted, or the one that ran it is gone), it is brought up.
    async fn check_running(&self, id: IntegrationId) -> Result<Option<Outcome>, StoreError> {
        if !self
            .store
            .claim(id, &self.config.owner, self.config.lease)
            .await?
        {
            return Ok(Some(Outcome::Busy));
        }
        self.fence.claimed(&[id]);
        let summary = self.store.summary(id).await?;
        match self.runtime.status(id) {
            Some(status)
                if Some(status.version) == summary.current_version
                    || summary.current_version.is_none() =>
            {
                match status.health {
                    // Running here after all (it changed since the list was read).
                    Health::Running => Ok(None),
                    // Reconnecting by itself: its runtime reports a death if it gives up.
                    Health::Progressing(_) => Ok(None),
                    Health::Died(reason) => {
                        self.runtime.stop(id).await;
                        let (record, outcome) = self.failure(
                            &summary.reconcile,
                            id,
                            None,
                            None,
                            &decision::stopped_running(&reason),
                        );
                        self.store.record_many(&[record]).await?;
                        Ok(Some(outcome))
                    }
                }
            }
            Some(_) | None => {
                self.store
                    .set_current(id, State::Inactive, None, NOT_HERE)
                    .await?;
                Ok(Some(self.reconcile(id).await?))
            }
        }
    }

    /// Integrations recorded as running that this server does not run (it restarted,
    /// or the server that ran them is gone): recorded as Inactive, saying why, then
    /// brought up, a batch at a time.
    async fn take_over(
        &self,
        ids: &[IntegrationId],
    ) -> Result<Vec<(IntegrationId, Outcome)>, StoreError> {
        let claimed = self
            .store
            .claim_many(ids, &self.config.owner, self.config.lease)
            .await?;
        self.fence.claimed(&claimed);
        let records: Vec<Record> = claimed
            .iter()
            .map(|id| Record {
                id: *id,
                state: State::Inactive,
                version: None,
                reason: NOT_HERE.into(),
                reconcile: ReconcileStatus::default(),
            })
            .collect();
        self.store.record_many(&records).await?;
        let mut outcomes: Vec<(IntegrationId, Outcome)> = ids
            .iter()
            .filter(|id| !claimed.contains(id))
            .map(|id| (*id, Outcome::Busy))
            .collect();
        outcomes.extend(self.reconcile_many(&claimed).await?);
        Ok(outcomes)
    }

    /// Reconciles one integration: claims it, re-reads it, and takes it one step
    /// towards its target. Safe to call at any time, any number of times.
    pub async fn reconcile(&self, id: IntegrationId) -> Result<Outcome, StoreError> {
        let mut outcomes = self.reconcile_many(&[id]).await?;
        Ok(outcomes.pop().map_or(Outcome::Busy, |(_, outcome)| outcome))
    }

    /// Reconciles several integrations together. Each goes through the same steps as
    /// alone, recorded before each runs, but every step is one statement for all of
    /// them: on SQLite's single writer, per-integration writes were what limited how
    /// fast a storm of publishes went live.
    pub async fn reconcile_many(
        &self,
        ids: &[IntegrationId],
    ) -> Result<Vec<(IntegrationId, Outcome)>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let owner = self.config.owner.as_str();
        let claimed = self.store.claim_many(ids, owner, self.config.lease).await?;
        self.fence.claimed(&claimed);
        self.reconcile_claimed(ids, &claimed).await
    }

    /// Reconciles `ids`, of which this reconciler holds the lease on `claimed` (the
    /// others are Busy).
    async fn reconcile_claimed(
        &self,
        ids: &[IntegrationId],
        claimed: &[IntegrationId],
    ) -> Result<Vec<(IntegrationId, Outcome)>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let owner = self.config.owner.as_str();
        let mut outcomes: Vec<(IntegrationId, Outcome)> = ids
            .iter()
            .filter(|id| !claimed.contains(id))
            .map(|id| (*id, Outcome::Busy))
            .collect();
        let mut records = Vec::new();
        let mut released = Vec::new();
        let mut bring_up = Vec::new();
        let mut because: HashMap<IntegrationId, String> = HashMap::new();
        let revisions = self.connection_revisions().await?;
        for summary in self.store.summaries(claimed).await? {
            let id = summary.id;
            let observed = Observed::new(&summary, self.runtime.status(id))
                .with_changed_connections(self.changed_connections(id, &revisions));
            match decide(&observed) {
                Decision::Idle => outcomes.push((id, Outcome::Idle)),
                Decision::Wait => outcomes.push((id, Outcome::Waiting)),
                Decision::BringUp(version) => bring_up.push((summary, version)),
                Decision::Redeploy(version, why) => {
                    tracing::info!(integration = %id, %version, reason = %why, "redeploying");
                    because.insert(id, why);
                    bring_up.push((summary, version));
                }
                Decision::RecordRunning(version) => {
                    records.push(Record {
                        id,
                        state: State::Active,
                        version: Some(version),
                        reason: format!("running {version}"),
                        reconcile: ReconcileStatus::default(),
                    });
                    outcomes.push((id, Outcome::Reached(State::Active)));
                }
                Decision::Failed(reason) => {
                    self.runtime.stop(id).await;
                    let (record, outcome) =
                        self.failure(&summary.reconcile, id, None, None, &reason);
                    records.push(record);
                    outcomes.push((id, outcome));
                }
                Decision::TakeDown { state, record } => {
                    self.runtime.stop(id).await;
                    if record {
                        let reason = match state {
                            State::Deleted => "unpublished: stopped, trigger released",
                            State::Draft | State::Active | State::Inactive | State::Error => {
                                "stopped"
                            }
                        };
                        records.push(Record {
                            id,
                            state,
                            version: None,
                            reason: reason.into(),
                            reconcile: ReconcileStatus::default(),
                        });
                    }
                    released.push(id);
                    outcomes.push((id, Outcome::Reached(state)));
                }
            }
        }
        // What was stopped above is recorded now, before the others come up: until
        // it is, the record still says it runs, and an action that meanwhile asked
        // for it again (a Stop, then a Start) would make that look settled while
        // nothing answers. Empty in a storm, where every one comes up.
        self.store
            .record_many(&std::mem::take(&mut records))
            .await?;
        let came_up = self.bring_up(&bring_up).await?;
        for (summary, version) in &bring_up {
            let id = summary.id;
            if came_up.progressing.contains(&id) {
                outcomes.push((id, Outcome::Waiting));
            } else if let Some((_, phase, error)) =
                came_up.failed.iter().find(|(failed, _, _)| *failed == id)
            {
                // A flow that cannot come up with its changed connection does not go
                // on with the old settings: it is in Error, retried like any failure.
                if because.contains_key(&id) {
                    self.runtime.stop(id).await;
                }
                let running = self
                    .runtime
                    .status(id)
                    .filter(|status| status.health == Health::Running)
                    .map(|status| status.version);
                let (record, outcome) =
                    self.failure(&summary.reconcile, id, running, Some(*phase), error);
                records.push(record);
                outcomes.push((id, outcome));
            } else if came_up.running.contains(&id) {
                let reason = match (summary.current_version, because.get(&id)) {
                    (_, Some(why)) => format!("running {version} again: {why}"),
                    (Some(old), None) if old != *version => {
                        format!("running {version} (replaced {old})")
                    }
                    (Some(_) | None, None) => format!("running {version}"),
                };
                records.push(Record {
                    id,
                    state: State::Active,
                    version: Some(*version),
                    reason,
                    reconcile: ReconcileStatus::default(),
                });
                outcomes.push((id, Outcome::Reached(State::Active)));
            }
        }
        self.store.record_many(&records).await?;
        for (summary, version) in &bring_up {
            if let Some(why) = because.get(&summary.id)
                && came_up.running.contains(&summary.id)
            {
                let reason = format!("deployed {version} again: {why}");
                self.store
                    .log_redeploy(summary.id, *version, &reason)
                    .await?;
            }
        }
        // What runs now keeps its webhook path; what stopped, or now runs another
        // path or a timer, gives the old one back.
        let serving: Vec<&str> = came_up.paths.iter().map(String::as_str).collect();
        self.store
            .release_webhook_paths(&came_up.running, &serving)
            .await?;
        self.store.release_webhook_paths(&released, &[]).await?;
        self.store.release_many(&released, owner).await?;
        self.fence.released(&released);
        Ok(outcomes)
    }

    /// Brings versions up: Validating, Building, Deploying, Starting, each shown before
    /// it runs. A webhook flow's path is claimed in the database before it deploys, so
    /// that no two integrations serve one path, on any server.
    async fn bring_up(
        &self,
        wanted: &[(IntegrationSummary, VersionNumber)],
    ) -> Result<CameUp, StoreError> {
        let mut failed = Vec::new();
        let mut going: Vec<(IntegrationId, VersionNumber)> = wanted
            .iter()
            .map(|(summary, version)| (summary.id, *version))
            .collect();
        let mut definitions = HashMap::new();
        for phase in [
            Phase::Validating,
            Phase::Building,
            Phase::Deploying,
            Phase::Starting,
        ] {
            if going.is_empty() {
                break;
            }
            let ids: Vec<IntegrationId> = going.iter().map(|(id, _)| *id).collect();
            if phase == Phase::Validating {
                let read = self.store.definitions(&going).await?;
                definitions = ids.iter().copied().zip(read).collect();
            }
            let definitions = &definitions;
            let work = async {
                let taken = match phase {
                    Phase::Deploying => {
                        let paths: Vec<(IntegrationId, &str)> = going
                            .iter()
                            .filter_map(|(id, _)| {
                                let definition = definitions.get(id)?.as_ref().ok()?;
                                Some((*id, definition.webhook_path()?))
                            })
                            .collect();
                        self.store.claim_webhook_paths(&paths).await?
                    }
                    Phase::Validating | Phase::Building | Phase::Starting | Phase::Stopping => {
                        HashMap::new()
                    }
                };
                let mut next = Vec::with_capacity(going.len());
                let mut failing = Vec::new();
                for (id, version) in going {
                    match self
                        .run_phase(phase, id, version, definitions.get(&id), &taken)
                        .await
                    {
                        Ok(()) => next.push((id, version)),
                        Err(error) => failing.push((id, phase, error)),
                    }
                }
                Ok::<_, StoreError>((next, failing))
            };
            let (next, failing) = self.shown_if_slow(&ids, phase, work).await??;
            failed.extend(failing);
            going = next;
        }
        let mut came_up = CameUp {
            failed,
            ..CameUp::default()
        };
        for (id, _) in going {
            match self.runtime.status(id).map(|status| status.health) {
                Some(Health::Running) => {
                    came_up.running.push(id);
                    if let Some(Ok(definition)) = definitions.get(&id)
                        && let Some(path) = definition.webhook_path()
                    {
                        came_up.paths.push(path.to_owned());
                    }
                }
                Some(Health::Progressing(_)) => came_up.progressing.push(id),
                Some(Health::Died(reason)) => came_up.failed.push((id, Phase::Starting, reason)),
                None => came_up.failed.push((
                    id,
                    Phase::Starting,
                    "the runtime does not run it after starting".to_owned(),
                )),
            }
        }
        // What is still coming up once started (a consumer connecting) is shown
        // Starting until it runs or fails, however quickly `start` returned.
        self.store
            .set_phase_many(&came_up.progressing, Phase::Starting)
            .await?;
        Ok(came_up)
    }

    /// One phase of bringing `version` of `id` up.
    async fn run_phase(
        &self,
        phase: Phase,
        id: IntegrationId,
        version: VersionNumber,
        definition: Option<&Result<crate::domain::definition::Definition, StoreError>>,
        taken: &HashMap<IntegrationId, IntegrationId>,
    ) -> Result<(), String> {
        match (phase, definition) {
            (_, None) => Err("the stored flow was not read".to_owned()),
            (_, Some(Err(err))) => Err(err.to_string()),
            (Phase::Validating, Some(Ok(definition))) => {
                // An imported version whose own secrets were left out of the export
                // would send the mask in their place.
                match crate::domain::transfer::left_out_secrets(definition).as_slice() {
                    [] => Ok(()),
                    places => Err(format!(
                        "{version} came from another server without its secrets ({}): \
                         restore it as the draft, set them, and publish",
                        places.join(", ")
                    )),
                }
            }
            (Phase::Stopping, Some(Ok(_))) => Ok(()),
            (Phase::Building, Some(Ok(definition))) => self
                .runtime
                .build(id, version, definition)
                .await
                .map_err(|err| err.to_string()),
            (Phase::Deploying, Some(Ok(definition))) => {
                match (definition.webhook_path(), taken.get(&id)) {
                    (Some(path), Some(owner)) => Err(format!(
                        "the webhook path /hooks/{path} is already used by integration {owner}"
                    )),
                    (Some(_) | None, _) => self
                        .runtime
                        .deploy(id, version)
                        .await
                        .map_err(|err| err.to_string()),
                }
            }
            (Phase::Starting, Some(Ok(_))) => {
                self.runtime.start(id).await.map_err(|err| err.to_string())
            }
        }
    }

    /// Runs `work`, a phase of bringing `ids` up, and shows the phase on them once it
    /// has taken longer than `PHASE_SHOWN_AFTER`: a phase is there for people to watch
    /// what takes time (a consumer connecting), and the four phases of a webhook flow,
    /// done in microseconds, were four writes to SQLite's one writer between a publish
    /// and the new version answering. The work goes on while the phase is written (it
    /// may hold the write gate the phase waits for); a write begun is finished before
    /// the next one, so that phases are recorded in order.
    async fn shown_if_slow<T>(
        &self,
        ids: &[IntegrationId],
        phase: Phase,
        work: impl Future<Output = T>,
    ) -> Result<T, StoreError> {
        let began = std::time::Instant::now();
        let show = async {
            tokio::time::sleep(PHASE_SHOWN_AFTER).await;
            self.store.set_phase_many(ids, phase).await
        };
        tokio::pin!(work);
        tokio::pin!(show);
        let mut shown = false;
        let done = loop {
            tokio::select! {
                biased;
                done = &mut work => break done,
                written = &mut show, if !shown => {
                    written?;
                    shown = true;
                }
            }
        };
        if !shown && began.elapsed() >= PHASE_SHOWN_AFTER {
            show.await?;
        }
        Ok(done)
    }

    /// What to record of a failure: current := Error with the message, and the next
    /// attempt scheduled by the retry policy, or the reconciler giving up.
    fn failure(
        &self,
        previous: &ReconcileStatus,
        id: IntegrationId,
        running: Option<VersionNumber>,
        phase: Option<Phase>,
        error: &str,
    ) -> (Record, Outcome) {
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
        let record = Record {
            id,
            state: State::Error,
            version: running,
            reason,
            reconcile: status,
        };
        (record, outcome)
    }
}
