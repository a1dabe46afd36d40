//! What the reconciler reports while it works: the sub-step, failed attempts, the next
//! retry, and whether it gave up.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The sub-steps users watch while an integration is Pending.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Validating,
    Building,
    Deploying,
    Starting,
    Stopping,
}

impl Phase {
    pub const ALL: [Phase; 5] = [
        Phase::Validating,
        Phase::Building,
        Phase::Deploying,
        Phase::Starting,
        Phase::Stopping,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Validating => "validating",
            Phase::Building => "building",
            Phase::Deploying => "deploying",
            Phase::Starting => "starting",
            Phase::Stopping => "stopping",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Phase::ALL.into_iter().find(|phase| phase.as_str() == text)
    }

    pub fn label(self) -> &'static str {
        match self {
            Phase::Validating => "Validating",
            Phase::Building => "Building",
            Phase::Deploying => "Deploying",
            Phase::Starting => "Starting",
            Phase::Stopping => "Stopping",
        }
    }
}

/// The reconciler's progress on one integration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcileStatus {
    pub phase: Option<Phase>,
    /// Failed attempts since the last success or re-arm.
    pub attempts: u32,
    #[serde(default, with = "crate::json::utc::option")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// The reconciler stopped retrying; Publish, Start, Activate or Retry re-arm it.
    pub gave_up: bool,
}
