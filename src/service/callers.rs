//! Bearer tokens found recently. A script calls the API with the same token again and
//! again; finding its owner in the database each time cost an action about a tenth of
//! its time (the benchmark's authentication figures). An entry is trusted for
//! [`TRUSTED_FOR`]: this server forgets every entry the moment a token is revoked or a
//! user changed here, and another server sharing the database sees such a change
//! within that time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::Principal;

/// How long a token found in the database is believed without asking again.
pub const TRUSTED_FOR: Duration = Duration::from_secs(1);
/// Past this many entries, the stale ones are swept out before another goes in.
const SWEEP_AT: usize = 1024;

/// A token's owner as found, by the token's hash.
#[derive(Clone, Debug)]
pub struct Found {
    pub principal: Principal,
    pub token_id: String,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

#[derive(Debug, Default)]
pub struct Callers {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<String, (Found, Instant)>,
    /// Bumped by every forgetting: a lookup that began before one must not store what
    /// it read, which may be what was just revoked.
    generation: u64,
}

impl Callers {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What was found for `hash` less than [`TRUSTED_FOR`] before `now`, or the
    /// generation a lookup in the database should hand back to [`Self::remember`].
    pub fn get(&self, hash: &str, now: Instant) -> Result<Found, u64> {
        let inner = self.lock();
        match inner.entries.get(hash) {
            Some((found, at)) if now.saturating_duration_since(*at) < TRUSTED_FOR => {
                Ok(found.clone())
            }
            Some(_) | None => Err(inner.generation),
        }
    }

    /// Keeps what a lookup started at `generation` found, unless something was
    /// forgotten since.
    pub fn remember(&self, hash: &str, found: Found, generation: u64, now: Instant) {
        let mut inner = self.lock();
        if inner.generation != generation {
            return;
        }
        if inner.entries.len() >= SWEEP_AT {
            inner
                .entries
                .retain(|_, (_, at)| now.saturating_duration_since(*at) < TRUSTED_FOR);
        }
        inner.entries.insert(hash.to_owned(), (found, now));
    }

    /// Notes that the token was used at `used_at` (written back to the database).
    pub fn used(&self, hash: &str, used_at: i64) {
        if let Some((found, _)) = self.lock().entries.get_mut(hash) {
            found.last_used_at = Some(used_at);
        }
    }

    /// Forgets every token: one was revoked, or a user's role, state or password
    /// changed.
    pub fn forget_all(&self) {
        let mut inner = self.lock();
        inner.entries.clear();
        inner.generation += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::Role;

    fn found(name: &str) -> Found {
        Found {
            principal: Principal::new(name, Role::Editor),
            token_id: format!("{name}-token"),
            expires_at: None,
            last_used_at: None,
        }
    }

    #[test]
    fn a_token_found_is_believed_for_a_second_then_looked_up_again() {
        let callers = Callers::default();
        let start = Instant::now();
        let generation = callers.get("h", start).unwrap_err();
        callers.remember("h", found("ann"), generation, start);
        let within = start + TRUSTED_FOR - Duration::from_millis(1);
        assert_eq!(callers.get("h", within).unwrap().principal.user(), "ann");
        assert!(callers.get("h", start + TRUSTED_FOR).is_err());
    }

    #[test]
    fn forgetting_drops_every_token_and_a_lookup_begun_before_stores_nothing() {
        let callers = Callers::default();
        let now = Instant::now();
        callers.remember("h", found("ann"), 0, now);
        let begun_before = callers.get("other", now).unwrap_err();
        callers.forget_all();
        assert!(callers.get("h", now).is_err());
        callers.remember("other", found("bob"), begun_before, now);
        assert!(callers.get("other", now).is_err());
    }

    #[test]
    fn stale_entries_are_swept_once_there_are_many() {
        let callers = Callers::default();
        let long_ago = Instant::now();
        for n in 0..SWEEP_AT {
            callers.remember(&n.to_string(), found("ann"), 0, long_ago);
        }
        let later = long_ago + TRUSTED_FOR;
        callers.remember("fresh", found("bob"), 0, later);
        assert_eq!(callers.lock().entries.len(), 1);
    }

    #[test]
    fn a_use_is_noted_on_the_entry() {
        let callers = Callers::default();
        let now = Instant::now();
        callers.remember("h", found("ann"), 0, now);
        callers.used("h", 42);
        assert_eq!(callers.get("h", now).unwrap().last_used_at, Some(42));
    }
}
