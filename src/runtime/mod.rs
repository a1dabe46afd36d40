//! What runs an active integration. The reconciler drives a [`Runtime`] through the
//! steps of a deployment and the webhook route dispatches calls through it; the
//! built-in one runs flows as tasks inside this server, and a test double (or another
//! deployment target) can take its place.

pub mod activity;
pub mod amqp;
pub mod brokers;
pub mod builtin;
pub mod egress;
pub mod flow;
pub mod mqtt;
pub mod nats;
pub mod redis_trigger;
pub mod schedule;
pub mod sql;
pub mod webhook_auth;

use serde_json::Value;

use crate::domain::IntegrationId;
use crate::domain::definition::Definition;
use crate::domain::version::VersionNumber;
use flow::Run;

/// Why a runtime could not do what it was asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RuntimeError(pub String);

/// Whether what a runtime runs for an integration is alive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    Running,
    /// Started, and still coming up (a consumer connecting to its broker): neither
    /// running nor failed yet. The reconciler looks again on its next pass.
    Progressing(String),
    /// It stopped by itself (a crash, a fatal error), for this reason.
    Died(String),
}

/// What a runtime runs for one integration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub version: VersionNumber,
    pub health: Health,
}

/// A webhook call as it arrived: the headers and the raw body are what a trigger's
/// secret is checked against.
pub struct WebhookCall<'a> {
    pub headers: &'a axum::http::HeaderMap,
    pub raw: &'a [u8],
    pub body: Value,
}

/// A webhook call, as the runtime answers it.
pub enum WebhookAnswer {
    /// No started integration listens at this path.
    NotFound,
    /// The trigger requires a secret the call did not prove it holds (why).
    Refused(String),
    Ran(Run),
}

/// A deployment target. The reconciler calls these in order to bring a version up,
/// `build`, `deploy`, `start`, and `stop` to take it down; each may take time (a
/// consumer connects to its broker), and long-lived work runs in tasks the runtime
/// starts and watches, reporting their health through `status`.
#[async_trait::async_trait]
pub trait Runtime: Send + Sync + 'static {
    /// Building: compiles the flow of `version` and keeps it ready, running nothing.
    async fn build(
        &self,
        id: IntegrationId,
        version: VersionNumber,
        definition: &Definition,
    ) -> Result<(), RuntimeError>;

    /// Deploying: stops the version that runs now, if any, and claims the trigger for
    /// the built version. Never two versions of one integration at once; a webhook
    /// path keeps answering with the old version until `start` moves it to the new
    /// one in one step, so that a caller never meets a gap.
    async fn deploy(&self, id: IntegrationId, version: VersionNumber) -> Result<(), RuntimeError>;

    /// Starting: the deployed version begins to take messages. It may report
    /// [`Health::Progressing`] until it does.
    async fn start(&self, id: IntegrationId) -> Result<(), RuntimeError>;

    /// Stops whatever runs for the integration and releases its trigger.
    async fn stop(&self, id: IntegrationId);

    /// Stops everything it runs: the server is stopping, and its leases are handed
    /// back only after this, so that another server never runs a flow this one still
    /// runs.
    async fn stop_all(&self);

    /// The integrations it runs something of (started or not).
    fn running(&self) -> Vec<IntegrationId>;

    /// The connections (name and revision) what runs for the integration was built
    /// with: the reconciler redeploys it when one has changed since.
    fn built_with(&self, _id: IntegrationId) -> Vec<(String, i64)> {
        Vec::new()
    }

    /// Whether every server should run every active flow that every server takes
    /// messages of ([`Consumers::EveryServer`]: a webhook flow in this process answers
    /// the calls this server gets; a queue's consumer takes its share), not only the
    /// lease holder. A runtime elsewhere (a cluster) runs them once for all.
    ///
    /// [`Consumers::EveryServer`]: crate::domain::definition::Consumers::EveryServer
    fn runs_shared_everywhere(&self) -> bool {
        false
    }

    /// What runs for the integration, if anything, as the runtime knows it now. It
    /// answers from memory without waiting: the reconciler asks it of every running
    /// integration on every pass.
    fn status(&self, id: IntegrationId) -> Option<Status>;

    /// Runs the flow listening at `/hooks/{path}` on one message, once the call
    /// passes the trigger's secret (a refusal is recorded in the activity).
    async fn call_webhook(&self, path: &str, call: WebhookCall<'_>) -> WebhookAnswer;
}
