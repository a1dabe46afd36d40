//! What runs an active integration. The reconciler drives a [`Runtime`] through the
//! steps of a deployment; the built-in one runs flows as tasks inside this server, and
//! a test double (or, later, another deployment target) can take its place.

pub mod activity;
pub mod builtin;
pub mod flow;

use crate::domain::IntegrationId;
use crate::domain::definition::Definition;
use crate::domain::version::VersionNumber;

/// Why a runtime could not do what it was asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RuntimeError(pub String);

/// Whether what a runtime runs for an integration is alive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    Running,
    /// It stopped by itself (a crash, a fatal error), for this reason.
    Died(String),
}

/// What a runtime runs for one integration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub version: VersionNumber,
    pub health: Health,
}

/// A deployment target. Every call is quick and does not block: long work runs in the
/// tasks the runtime starts. The reconciler calls them in this order to bring a version
/// up: `build`, `deploy`, `start`; and `stop` to take it down.
pub trait Runtime: Send + Sync + 'static {
    /// Building: compiles the flow of `version` and keeps it ready, running nothing.
    fn build(
        &self,
        id: IntegrationId,
        version: VersionNumber,
        definition: &Definition,
    ) -> Result<(), RuntimeError>;

    /// Deploying: stops the version that runs now, if any, and claims the trigger for
    /// the built version. Never two versions of one integration at once.
    fn deploy(&self, id: IntegrationId, version: VersionNumber) -> Result<(), RuntimeError>;

    /// Starting: the deployed version begins to take messages.
    fn start(&self, id: IntegrationId) -> Result<(), RuntimeError>;

    /// Stops whatever runs for the integration and releases its trigger.
    fn stop(&self, id: IntegrationId);

    /// What runs for the integration, if anything.
    fn status(&self, id: IntegrationId) -> Option<Status>;
}
