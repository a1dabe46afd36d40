//! Fenced leases: what a server runs under a lease (a timer) runs only while the
//! server knows it still holds that lease. The reconciler tells the fence what each
//! renewal confirmed; a flow asks before each message. A server that stalls (a long
//! pause, `kill -STOP`) or cannot reach its database stops running those flows
//! before its leases can expire, with a third of the lease to spare, so another
//! server that takes them over never runs them at the same time.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::domain::IntegrationId;

/// Shared by the reconciler (which renews and claims) and the runtime (which asks).
#[derive(Clone, Debug)]
pub struct Fence(Arc<Mutex<State>>);

#[derive(Debug)]
enum State {
    /// No reconciler keeps leases (a server run without one, and tests that drive
    /// the runtime themselves): everything may run.
    Open,
    Held {
        /// What the last renewal confirmed, and what was claimed since.
        held: HashSet<IntegrationId>,
        /// Until when those leases are surely still this server's.
        until: Option<Instant>,
    },
}

impl Fence {
    /// A fence that holds everything: for a runtime no reconciler fences.
    pub fn open() -> Self {
        Self(Arc::new(Mutex::new(State::Open)))
    }

    /// A fence that holds nothing until the reconciler says so.
    pub fn closed() -> Self {
        Self(Arc::new(Mutex::new(State::Held {
            held: HashSet::new(),
            until: None,
        })))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Every change is one assignment: a panic elsewhere leaves it consistent.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether a flow of `id` may run a message now.
    pub fn holds(&self, id: IntegrationId) -> bool {
        self.holds_at(id, Instant::now())
    }

    fn holds_at(&self, id: IntegrationId, now: Instant) -> bool {
        match &*self.state() {
            State::Open => true,
            State::Held { held, until } => {
                held.contains(&id) && until.is_some_and(|until| now < until)
            }
        }
    }

    /// A renewal that started at `started` confirmed `held` for `lease`: they are
    /// this server's until two thirds of the lease from then (the last third is the
    /// margin for clocks, a slow stop, and the renewal itself).
    pub fn renewed(&self, started: Instant, held: Vec<IntegrationId>, lease: Duration) {
        let mut state = self.state();
        if let State::Held { .. } = &*state {
            *state = State::Held {
                held: held.into_iter().collect(),
                until: Some(started + lease - lease / 3),
            };
        }
    }

    /// Leases taken since the last renewal (they last longer than it promises).
    pub fn claimed(&self, ids: &[IntegrationId]) {
        if let State::Held { held, .. } = &mut *self.state() {
            held.extend(ids.iter().copied());
        }
    }

    /// Leases handed back.
    pub fn released(&self, ids: &[IntegrationId]) {
        if let State::Held { held, .. } = &mut *self.state() {
            for id in ids {
                held.remove(id);
            }
        }
    }

    /// Every lease handed back (the server stops).
    pub fn release_all(&self) {
        if let State::Held { held, .. } = &mut *self.state() {
            held.clear();
        }
    }

    /// Whether the lease of `id` is held, whatever the time (what the runtime runs
    /// that is neither held nor served everywhere is stopped).
    pub fn is_held(&self, id: IntegrationId) -> bool {
        match &*self.state() {
            State::Open => true,
            State::Held { held, .. } => held.contains(&id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> IntegrationId {
        IntegrationId::new()
    }

    const LEASE: Duration = Duration::from_secs(15);

    #[test]
    fn a_flow_runs_only_under_a_lease_the_last_renewal_confirmed_and_not_past_its_margin() {
        let fence = Fence::closed();
        let (kept, lost) = (id(), id());
        let renewed = Instant::now();
        fence.renewed(renewed, vec![kept, lost], LEASE);
        assert!(fence.holds_at(kept, renewed + Duration::from_secs(9)));
        assert!(
            !fence.holds_at(kept, renewed + Duration::from_secs(10)),
            "not in the last third of the lease, unrenewed"
        );

        fence.renewed(renewed + Duration::from_secs(5), vec![kept], LEASE);

        assert!(fence.holds_at(kept, renewed + Duration::from_secs(12)));
        assert!(
            !fence.holds_at(lost, renewed + Duration::from_secs(6)),
            "another server took it over"
        );
    }

    #[test]
    fn a_claimed_lease_is_held_until_released_and_nothing_before_the_first_renewal() {
        let fence = Fence::closed();
        let flow = id();
        fence.claimed(&[flow]);
        assert!(!fence.holds(flow), "no renewal has said until when");

        fence.renewed(Instant::now(), vec![], LEASE);
        fence.claimed(&[flow]);
        assert!(fence.holds(flow));

        fence.released(&[flow]);
        assert!(!fence.holds(flow));
    }

    #[test]
    fn an_open_fence_holds_everything() {
        assert!(Fence::open().holds(id()));
    }
}
