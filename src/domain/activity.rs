//! Activity as pages and clients read it: one message through one flow.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::version::VersionNumber;

/// One message through one version of a flow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActivityEntry {
    pub id: i64,
    pub version: VersionNumber,
    /// The trigger's kind: `webhook`, `timer`, `amqp`, ...
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

/// Messages of the last hour, minute by minute, by outcome: the detail page draws it
/// (on the server, so it shows without JavaScript).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityChart {
    /// The start of the first minute.
    #[serde(with = "crate::json::utc")]
    pub start: DateTime<Utc>,
    /// [`ActivityChart::MINUTES`] minutes, oldest first, each counted by
    /// [`ActivityChart::OUTCOMES`].
    pub minutes: Vec<[u64; 5]>,
}

impl ActivityChart {
    pub const MINUTES: u32 = 60;
    /// The outcomes counted, in the order of each minute's counts.
    pub const OUTCOMES: [&'static str; 5] = ["ok", "filtered", "failed", "refused", "not_recorded"];

    /// From `(minute since start, outcome, count)`; unknown outcomes and minutes out of
    /// the hour are left out.
    pub fn from_counts(start: DateTime<Utc>, counts: &[(i64, String, u64)]) -> Self {
        let mut minutes = vec![[0; 5]; Self::MINUTES as usize];
        for (minute, outcome, count) in counts {
            let slot = usize::try_from(*minute)
                .ok()
                .and_then(|minute| minutes.get_mut(minute));
            let kind = Self::OUTCOMES.iter().position(|known| known == outcome);
            if let (Some(slot), Some(kind)) = (slot, kind) {
                slot[kind] += count;
            }
        }
        Self { start, minutes }
    }

    /// The hour's total of one outcome.
    pub fn total(&self, outcome: &str) -> u64 {
        match Self::OUTCOMES.iter().position(|known| *known == outcome) {
            Some(kind) => self.minutes.iter().map(|minute| minute[kind]).sum(),
            None => 0,
        }
    }

    /// When messages were first not recorded in the hour, if they were.
    pub fn not_recorded_since(&self) -> Option<DateTime<Utc>> {
        let first = self.minutes.iter().position(|minute| minute[4] > 0)?;
        Some(self.start + chrono::Duration::minutes(i64::try_from(first).ok()?))
    }

    /// The most messages of any minute (the chart's scale).
    pub fn busiest(&self) -> u64 {
        self.minutes
            .iter()
            .map(|minute| minute.iter().sum::<u64>())
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_land_in_their_minute_and_outcome_and_losses_say_since_when() {
        let start = DateTime::from_timestamp(0, 0).unwrap();
        let chart = ActivityChart::from_counts(
            start,
            &[
                (0, "ok".into(), 3),
                (0, "failed".into(), 1),
                (59, "ok".into(), 2),
                (42, "not_recorded".into(), 412),
                (60, "ok".into(), 9),
                (5, "unknown".into(), 9),
            ],
        );

        assert_eq!(chart.minutes[0], [3, 0, 1, 0, 0]);
        assert_eq!(
            chart.total("ok"),
            5,
            "the minute after the hour is left out"
        );
        assert_eq!(chart.total("not_recorded"), 412);
        assert_eq!(
            chart.not_recorded_since(),
            Some(start + chrono::Duration::minutes(42))
        );
        assert_eq!(chart.busiest(), 412);
    }
}
