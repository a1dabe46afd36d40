//! When to try again after a failure: exponential backoff with a cap and jitter, and
//! a number of attempts after which the reconciler gives up.

use std::time::Duration;

/// The retry policy. Defaults: 1 s, doubling, at most 5 minutes apart, ±20 % jitter,
/// giving up after 10 failed attempts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    pub base: Duration,
    pub factor: f64,
    pub cap: Duration,
    /// The fraction by which a delay may be shortened or lengthened at random, so that
    /// many integrations failing together do not retry in lockstep.
    pub jitter: f64,
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            factor: 2.0,
            cap: Duration::from_secs(300),
            jitter: 0.2,
            max_attempts: 10,
        }
    }
}

/// What to do after the `attempts`-th failure in a row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AfterFailure {
    RetryIn(Duration),
    GiveUp,
}

impl RetryPolicy {
    /// The delay before the next attempt, without jitter.
    pub fn delay(&self, attempts: u32) -> Duration {
        let exponent = attempts.saturating_sub(1).min(64) as i32;
        let seconds = self.base.as_secs_f64() * self.factor.max(1.0).powi(exponent);
        Duration::from_secs_f64(seconds.min(self.cap.as_secs_f64()))
    }

    /// `random` in [0, 1) picks where in the jitter band the delay falls.
    pub fn after_failure(&self, attempts: u32, random: f64) -> AfterFailure {
        if attempts >= self.max_attempts {
            return AfterFailure::GiveUp;
        }
        let delay = self.delay(attempts).as_secs_f64();
        let spread = self.jitter.clamp(0.0, 1.0) * (2.0 * random.clamp(0.0, 1.0) - 1.0);
        let jittered = (delay * (1.0 + spread)).min(self.cap.as_secs_f64());
        AfterFailure::RetryIn(Duration::from_secs_f64(jittered.max(0.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_doubles_from_one_second() {
        let policy = RetryPolicy::default();
        let delays: Vec<u64> = (1..=5).map(|n| policy.delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16]);
    }

    #[test]
    fn the_delay_never_exceeds_the_cap() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.delay(9), Duration::from_secs(256));
        assert_eq!(policy.delay(40), Duration::from_secs(300));
        assert_eq!(
            policy.after_failure(9, 0.999),
            AfterFailure::RetryIn(Duration::from_secs_f64(300.0))
        );
    }

    #[test]
    fn jitter_stays_within_its_band() {
        let policy = RetryPolicy::default();
        let low = policy.after_failure(3, 0.0);
        let high = policy.after_failure(3, 0.999_999);
        assert_eq!(low, AfterFailure::RetryIn(Duration::from_secs_f64(3.2)));
        let AfterFailure::RetryIn(high) = high else {
            panic!()
        };
        assert!((high.as_secs_f64() - 4.8).abs() < 0.001);
    }

    #[test]
    fn it_gives_up_after_the_maximum_number_of_attempts() {
        let policy = RetryPolicy::default();
        assert!(matches!(
            policy.after_failure(9, 0.5),
            AfterFailure::RetryIn(_)
        ));
        assert_eq!(policy.after_failure(10, 0.5), AfterFailure::GiveUp);
    }
}
