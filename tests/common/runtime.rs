//! A runtime double for reconciler tests: it runs nothing, counts what it is asked to
//! do, and fails on demand.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Mutex;

use junction::domain::IntegrationId;
use junction::domain::definition::Definition;
use junction::domain::version::VersionNumber;
use junction::runtime::{Health, Runtime, RuntimeError, Status, WebhookAnswer, WebhookCall};

#[derive(Default)]
pub struct ScriptedRuntime {
    state: Mutex<State>,
    /// Deploys wait for `release_deploys` while set.
    hold_deploys: std::sync::atomic::AtomicBool,
    released: tokio::sync::Notify,
}

#[derive(Default)]
struct State {
    built: HashMap<IntegrationId, VersionNumber>,
    running: HashMap<IntegrationId, Status>,
    deploys: HashMap<IntegrationId, u32>,
    fail_deploy: Option<String>,
    /// Started flows report Progressing (a consumer connecting) until `connected`.
    slow_start: bool,
}

impl ScriptedRuntime {
    /// Every deploy fails with `message` until `heal` is called.
    pub fn fail_deploys(&self, message: &str) {
        self.state.lock().unwrap().fail_deploy = Some(message.to_owned());
    }

    /// From now on every deploy waits until `release_deploys`.
    pub fn hold_deploys(&self) {
        self.hold_deploys
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn release_deploys(&self) {
        self.hold_deploys
            .store(false, std::sync::atomic::Ordering::SeqCst);
        self.released.notify_waiters();
        self.released.notify_one();
    }

    pub fn heal(&self) {
        self.state.lock().unwrap().fail_deploy = None;
    }

    pub fn deploys_of(&self, id: IntegrationId) -> u32 {
        self.state
            .lock()
            .unwrap()
            .deploys
            .get(&id)
            .copied()
            .unwrap_or(0)
    }

    pub fn total_deploys(&self) -> u32 {
        self.state.lock().unwrap().deploys.values().sum()
    }

    pub fn deployed_integrations(&self) -> usize {
        self.state.lock().unwrap().deploys.len()
    }

    /// From now on, a started flow keeps reporting Progressing until `connected`.
    pub fn start_slowly(&self) {
        self.state.lock().unwrap().slow_start = true;
    }

    /// The flow that was coming up now runs.
    pub fn connected(&self, id: IntegrationId) {
        if let Some(status) = self.state.lock().unwrap().running.get_mut(&id) {
            status.health = Health::Running;
        }
    }

    pub fn die(&self, id: IntegrationId, reason: &str) {
        if let Some(status) = self.state.lock().unwrap().running.get_mut(&id) {
            status.health = Health::Died(reason.to_owned());
        }
    }
}

#[async_trait::async_trait]
impl Runtime for ScriptedRuntime {
    async fn build(
        &self,
        id: IntegrationId,
        version: VersionNumber,
        _: &Definition,
    ) -> Result<(), RuntimeError> {
        self.state.lock().unwrap().built.insert(id, version);
        Ok(())
    }

    async fn deploy(&self, id: IntegrationId, version: VersionNumber) -> Result<(), RuntimeError> {
        while self.hold_deploys.load(std::sync::atomic::Ordering::SeqCst) {
            self.released.notified().await;
        }
        let mut state = self.state.lock().unwrap();
        if let Some(message) = &state.fail_deploy {
            return Err(RuntimeError(message.clone()));
        }
        *state.deploys.entry(id).or_default() += 1;
        state.running.insert(
            id,
            Status {
                version,
                health: Health::Running,
            },
        );
        Ok(())
    }

    async fn start(&self, id: IntegrationId) -> Result<(), RuntimeError> {
        let mut state = self.state.lock().unwrap();
        if state.slow_start
            && let Some(status) = state.running.get_mut(&id)
        {
            status.health = Health::Progressing("connecting to the broker".into());
        }
        Ok(())
    }

    async fn stop(&self, id: IntegrationId) {
        self.state.lock().unwrap().running.remove(&id);
    }

    fn running(&self) -> Vec<IntegrationId> {
        self.state.lock().unwrap().running.keys().copied().collect()
    }

    async fn stop_all(&self) {
        self.state.lock().unwrap().running.clear();
    }

    fn status(&self, id: IntegrationId) -> Option<Status> {
        self.state.lock().unwrap().running.get(&id).cloned()
    }

    async fn call_webhook(&self, _: &str, _: WebhookCall<'_>) -> WebhookAnswer {
        WebhookAnswer::NotFound
    }
}
