//! Activity as pages and clients read it: one message through one flow.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::version::VersionNumber;

/// One message through one version of a flow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActivityEntry {
    pub id: i64,
    pub version: VersionNumber,
    /// `webhook` or `timer`.
    pub trigger: String,
    #[serde(with = "crate::json::utc")]
    pub started_at: DateTime<Utc>,
    pub duration_us: i64,
    /// `ok`, `filtered` or `failed`.
    pub outcome: String,
    /// Each step: `index`, `kind`, `outcome` and a short `detail`.
    pub steps: serde_json::Value,
    pub error: Option<String>,
}
