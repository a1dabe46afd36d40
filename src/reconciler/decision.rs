//! What the reconciler does for one integration, decided from what is stored and what
//! the runtime reports: a pure function, table-tested like the lifecycle, so that the
//! loop around it only reads, acts and records.

use crate::domain::IntegrationSummary;
use crate::domain::lifecycle::{State, TargetState};
use crate::domain::version::VersionNumber;
use crate::runtime::{Health, Status};

/// What the reconciler sees of one integration.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed {
    pub target: TargetState,
    /// The version the target asks for (the active version).
    pub wanted: Option<VersionNumber>,
    pub current: State,
    pub current_version: Option<VersionNumber>,
    /// What the runtime runs for it, if anything.
    pub running: Option<Status>,
    /// The connections that changed since what runs was built with them.
    pub changed_connections: Vec<String>,
}

impl Observed {
    pub fn new(summary: &IntegrationSummary, running: Option<Status>) -> Self {
        Self {
            target: summary.target_state,
            wanted: summary.active_version,
            current: summary.current_state,
            current_version: summary.current_version,
            running,
            changed_connections: Vec::new(),
        }
    }

    /// The same, with the connections that changed under what runs.
    pub fn with_changed_connections(mut self, changed: Vec<String>) -> Self {
        self.changed_connections = changed;
        self
    }
}

/// What to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// What runs is what is asked for (or nothing is to run): nothing to do.
    Idle,
    /// Bring this version up: build, deploy, start.
    BringUp(VersionNumber),
    /// The runtime runs the wanted version, healthy, and the record says otherwise:
    /// record it as running, without deploying it again.
    RecordRunning(VersionNumber),
    /// The runtime is still bringing the wanted version up (a consumer connecting):
    /// look again on the next pass.
    Wait,
    /// The wanted version runs, built with connections that have changed since: bring
    /// it up again with them, saying why.
    Redeploy(VersionNumber, String),
    /// The wanted version stopped by itself: a failure, for the retry policy.
    Failed(String),
    /// Stop whatever runs and reach this state; `record` when the stored current
    /// state or version differs from it.
    TakeDown { state: State, record: bool },
}

/// Why a version that stopped by itself failed, as the log and the page say it.
pub fn stopped_running(reason: &str) -> String {
    format!("stopped running: {reason}")
}

/// Decides the next step for one integration.
pub fn decide(observed: &Observed) -> Decision {
    let take_down = |state: State| Decision::TakeDown {
        state,
        record: observed.current != state || observed.current_version.is_some(),
    };
    match observed.target {
        TargetState::Draft => Decision::Idle,
        TargetState::Inactive => take_down(State::Inactive),
        TargetState::Deleted => take_down(State::Deleted),
        TargetState::Active => {
            let Some(wanted) = observed.wanted else {
                return Decision::Idle;
            };
            let recorded =
                observed.current == State::Active && observed.current_version == Some(wanted);
            let changed = match observed.changed_connections.as_slice() {
                [] => None,
                [one] => Some(format!("connection {one} changed")),
                many => Some(format!("connections {} changed", many.join(", "))),
            };
            match &observed.running {
                Some(status) if status.version == wanted => match &status.health {
                    Health::Running | Health::Progressing(_) if changed.is_some() => {
                        Decision::Redeploy(wanted, changed.unwrap_or_default())
                    }
                    Health::Running if recorded => Decision::Idle,
                    Health::Running => Decision::RecordRunning(wanted),
                    Health::Progressing(_) => Decision::Wait,
                    Health::Died(reason) => Decision::Failed(stopped_running(reason)),
                },
                Some(_) | None => Decision::BringUp(wanted),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Decision as D;
    use State as S;
    use TargetState as T;

    fn v(n: i64) -> VersionNumber {
        VersionNumber::new(n).unwrap_or(VersionNumber::FIRST)
    }

    /// What the runtime reports in a row of the table.
    #[derive(Clone, Copy, Debug)]
    enum Runs {
        Nothing,
        V1Running,
        V1Progressing,
        V1Died,
        V2Running,
    }

    fn status(runs: Runs) -> Option<Status> {
        let status = |n, health| {
            Some(Status {
                version: v(n),
                health,
            })
        };
        match runs {
            Runs::Nothing => None,
            Runs::V1Running => status(1, Health::Running),
            Runs::V1Progressing => status(1, Health::Progressing("connecting".into())),
            Runs::V1Died => status(1, Health::Died("crashed".into())),
            Runs::V2Running => status(2, Health::Running),
        }
    }

    fn died() -> Decision {
        D::Failed("stopped running: crashed".into())
    }

    /// A row: target, wanted version, current, current version, what runs → decision.
    type Row = (T, Option<i64>, S, Option<i64>, Runs, Decision);

    fn redeploy() -> Decision {
        D::Redeploy(v(1), "connection orders-db changed".into())
    }

    #[rustfmt::skip]
    fn table() -> Vec<Row> {
        vec![
            // Never published: nothing to run.
            (T::Draft,    None,    S::Draft,    None,    Runs::Nothing,       D::Idle),
            // Asked to run v1.
            (T::Active,   Some(1), S::Draft,    None,    Runs::Nothing,       D::BringUp(v(1))),
            (T::Active,   Some(1), S::Active,   Some(1), Runs::V1Running,     D::Idle),
            (T::Active,   Some(1), S::Inactive, None,    Runs::V1Running,     D::RecordRunning(v(1))),
            (T::Active,   Some(1), S::Error,    None,    Runs::V1Running,     D::RecordRunning(v(1))),
            (T::Active,   Some(1), S::Active,   Some(1), Runs::Nothing,       D::BringUp(v(1))),
            (T::Active,   Some(1), S::Inactive, None,    Runs::V1Progressing, D::Wait),
            (T::Active,   Some(1), S::Active,   Some(1), Runs::V1Progressing, D::Wait),
            (T::Active,   Some(1), S::Active,   Some(1), Runs::V1Died,        died()),
            (T::Active,   Some(1), S::Error,    None,    Runs::V1Died,        died()),
            // A connection it was built with changed: bring it up again (rows marked
            // `changed` in the test below).
            (T::Active,   Some(1), S::Active,   Some(1), Runs::V1Running,     redeploy()),
            (T::Active,   Some(1), S::Inactive, None,    Runs::V1Progressing, redeploy()),
            // Asked to run v1 while v2 runs: replace it.
            (T::Active,   Some(1), S::Active,   Some(2), Runs::V2Running,     D::BringUp(v(1))),
            // Asked to stop or unpublish: stop whatever runs, record only a change.
            (T::Inactive, Some(1), S::Active,   Some(1), Runs::V1Running,     D::TakeDown { state: S::Inactive, record: true }),
            (T::Inactive, Some(1), S::Error,    None,    Runs::Nothing,       D::TakeDown { state: S::Inactive, record: true }),
            (T::Inactive, Some(1), S::Inactive, None,    Runs::Nothing,       D::TakeDown { state: S::Inactive, record: false }),
            (T::Inactive, Some(1), S::Inactive, None,    Runs::V1Progressing, D::TakeDown { state: S::Inactive, record: false }),
            (T::Deleted,  Some(1), S::Inactive, None,    Runs::Nothing,       D::TakeDown { state: S::Deleted, record: true }),
            (T::Deleted,  Some(1), S::Deleted,  None,    Runs::Nothing,       D::TakeDown { state: S::Deleted, record: false }),
        ]
    }

    #[test]
    fn every_situation_is_decided_as_the_table_says() {
        for (target, wanted, current, current_version, runs, expected) in table() {
            let changed = matches!(expected, D::Redeploy(..));
            let observed = Observed {
                target,
                wanted: wanted.map(v),
                current,
                current_version: current_version.map(v),
                running: status(runs),
                changed_connections: match changed {
                    true => vec!["orders-db".into()],
                    false => Vec::new(),
                },
            };
            assert_eq!(decide(&observed), expected, "{observed:?}");
        }
    }

    #[test]
    fn the_table_covers_every_target_and_every_kind_of_health() {
        let rows = table();
        for target in TargetState::ALL {
            assert!(rows.iter().any(|row| row.0 == target), "{target:?}");
        }
        for runs in [
            Runs::Nothing,
            Runs::V1Running,
            Runs::V1Progressing,
            Runs::V1Died,
            Runs::V2Running,
        ] {
            assert!(
                rows.iter()
                    .any(|row| std::mem::discriminant(&row.4) == std::mem::discriminant(&runs)),
                "{runs:?}"
            );
        }
    }
}
