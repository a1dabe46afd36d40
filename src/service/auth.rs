//! Who is calling: signing in and out (with failed attempts rate-limited), what a
//! browser session holds, personal API tokens, and the audit log of it all.

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{Principal, Service};
use crate::domain::access::Operation;
use crate::domain::audit::{AuditEntry, AuditEvent};
use crate::domain::token::{NewToken, TokenInfo, token_days, token_name};
use crate::domain::user::{User, UserName};
use crate::error::{AppError, FieldError};
use crate::store::audit::NewAuditEntry;
use crate::store::now_ms;
use crate::store::tokens::NewTokenRow;

/// How long a browser session lasts: `idle` without a request, `max_age` at most.
#[derive(Clone, Copy, Debug)]
pub struct SessionPolicy {
    pub idle: Duration,
    pub max_age: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(8 * 3600),
            max_age: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// What a browser session holds once its user signed in. The password's date is in
/// it: a session made before the password changed does not work after.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaim {
    pub user: String,
    pub password_changed_at: i64,
    pub signed_in_at: i64,
    /// When a request last came with it (written at most every few minutes).
    pub seen_at: i64,
}

/// How often a session's last use is written back: often enough for the idle
/// expiry, rarely enough that reading a page does not write to the database.
const SEEN_EVERY_MS: i64 = 5 * 60 * 1000;
/// How often a token's last use is written back.
const TOKEN_USE_EVERY_MS: i64 = 60 * 1000;

/// A token's visible prefix: tells people (and secret scanners) what it is.
pub const TOKEN_PREFIX: &str = "jct_";

/// A rate-limited password check: the user, when the password was right, and the
/// limiter's keys (a sign-in clears the name's failures with them).
pub(super) struct PasswordCheck {
    pub(super) found: Option<crate::store::users::StoredUser>,
    keys: [(String, u32); 2],
}

/// What a session check found.
#[derive(Debug)]
pub enum SessionCheck {
    /// The session is valid; `touch` says to write its last use back.
    Valid { principal: Principal, touch: bool },
    /// The session ended: expired, the password changed, or the user is disabled.
    Ended,
}

impl Service {
    /// Signs a user in: the name and password must match an enabled account. After
    /// too many failures for the name or from the address, it answers "try again in
    /// N s" without checking. The answer never tells whether the user exists.
    pub async fn sign_in(
        &self,
        name: &str,
        password: &str,
        address: &str,
    ) -> Result<(User, SessionClaim), AppError> {
        let checked = self.rate_limited_check(name, password, address).await?;
        let Some(stored) = checked.found else {
            let typed = name.trim().to_lowercase();
            let actor = if typed.is_empty() {
                "(no name)"
            } else {
                &typed
            };
            self.audit_event(actor, AuditEvent::SignInFailed, "", address, "")
                .await?;
            return Err(AppError::Unauthenticated {
                message: "the user name or the password is wrong".into(),
            });
        };
        self.sign_ins.succeeded(&checked.keys);
        let user = stored.user;
        self.audit_event(user.name.as_str(), AuditEvent::SignedIn, "", address, "")
            .await?;
        let now = now_ms();
        let claim = SessionClaim {
            user: user.name.to_string(),
            password_changed_at: stored.password_changed_at,
            signed_in_at: now,
            seen_at: now,
        };
        Ok((user, claim))
    }

    /// Checks a password under the sign-in rate limit: while the name or the address
    /// must wait, the password is not even checked ("try again in N s"); a wrong one
    /// counts as a failure for both.
    pub(super) async fn rate_limited_check(
        &self,
        name: &str,
        password: &str,
        address: &str,
    ) -> Result<PasswordCheck, AppError> {
        let keys = SignInLimiter::keys(name, address);
        if let Some(wait) = self.sign_ins.wait(&keys, Instant::now()) {
            return Err(AppError::TooManyAttempts {
                retry_after_secs: wait.as_secs().max(1),
            });
        }
        let found = self.verify_password(name, password).await?;
        if found.is_none() {
            self.sign_ins.failed(&keys, Instant::now());
        }
        Ok(PasswordCheck { found, keys })
    }

    /// Records a sign-out.
    pub async fn sign_out(&self, who: &Principal) -> Result<(), AppError> {
        self.audit_event(who.user(), AuditEvent::SignedOut, "", who.address(), "")
            .await
    }

    /// Who a session belongs to, if it still holds: its user exists and is enabled,
    /// the password did not change since, and neither expiry has passed.
    pub async fn check_session(&self, claim: &SessionClaim) -> Result<SessionCheck, AppError> {
        let now = now_ms();
        let max_age = i64::try_from(self.sessions.max_age.as_millis()).unwrap_or(i64::MAX);
        let idle = i64::try_from(self.sessions.idle.as_millis()).unwrap_or(i64::MAX);
        if now.saturating_sub(claim.signed_in_at) > max_age
            || now.saturating_sub(claim.seen_at) > idle
        {
            return Ok(SessionCheck::Ended);
        }
        let Ok(name) = UserName::parse(&claim.user) else {
            return Ok(SessionCheck::Ended);
        };
        let Some(stored) = self.store.user(&name).await? else {
            return Ok(SessionCheck::Ended);
        };
        if stored.user.disabled || stored.password_changed_at != claim.password_changed_at {
            return Ok(SessionCheck::Ended);
        }
        Ok(SessionCheck::Valid {
            principal: Principal::signed_in(&stored.user, None),
            touch: now.saturating_sub(claim.seen_at) > SEEN_EVERY_MS,
        })
    }

    /// Who a bearer token belongs to, if it is valid: not revoked, not expired, its
    /// user enabled.
    pub async fn check_token(&self, token: &str) -> Result<Option<Principal>, AppError> {
        if !looks_like_token(token) {
            return Ok(None);
        }
        let hash = token_hash(token);
        let found = match self.callers.get(&hash, Instant::now()) {
            Ok(found) => found,
            Err(generation) => {
                let Some(stored) = self.store.token_by_hash(&hash).await? else {
                    return Ok(None);
                };
                if stored.owner.user.disabled {
                    return Ok(None);
                }
                let found = super::callers::Found {
                    principal: Principal::signed_in(&stored.owner.user, Some(&stored.token_name)),
                    token_id: stored.token_id,
                    expires_at: stored.expires_at,
                    last_used_at: stored.last_used_at,
                };
                self.callers
                    .remember(&hash, found.clone(), generation, Instant::now());
                found
            }
        };
        let now = now_ms();
        if found.expires_at.is_some_and(|expires| expires <= now) {
            return Ok(None);
        }
        if found
            .last_used_at
            .is_none_or(|used| now.saturating_sub(used) > TOKEN_USE_EVERY_MS)
        {
            self.store.touch_token(&found.token_id).await?;
            self.callers.used(&hash, now);
        }
        Ok(Some(found.principal))
    }

    /// Makes a personal token for the caller. The answer is the only time the token
    /// itself is seen.
    pub async fn create_token(
        &self,
        who: &Principal,
        name: &str,
        expires_in_days: Option<i64>,
    ) -> Result<NewToken, AppError> {
        who.may(Operation::ManageOwnTokens)?;
        let mut fields = Vec::new();
        let name = token_name(name)
            .map_err(|err| fields.push(FieldError::new("name", err)))
            .ok();
        let days = token_days(expires_in_days)
            .map_err(|err| fields.push(FieldError::new("expires_in_days", err)))
            .ok();
        let (Some(name), Some(days)) = (name, days) else {
            return Err(AppError::ValidationFailed { fields });
        };
        let owner = UserName::parse(who.user()).map_err(|err| AppError::Forbidden {
            message: format!("only a user can own tokens: {err}"),
        })?;
        let token = new_token();
        let id = uuid::Uuid::new_v4().to_string();
        let row = NewTokenRow {
            id: &id,
            user: &owner,
            name: &name,
            token_hash: &token_hash(&token),
            expires_at: days.map(|days| now_ms() + i64::from(days) * 86_400_000),
        };
        let info = self.store.add_token(&row).await?;
        self.audit_event(
            who.user(),
            AuditEvent::TokenCreated,
            &format!("{owner}/{name}"),
            who.address(),
            "",
        )
        .await?;
        Ok(NewToken { token, info })
    }

    /// The caller's tokens; with `everyone`, every user's (administrators).
    pub async fn tokens(
        &self,
        who: &Principal,
        everyone: bool,
    ) -> Result<Vec<TokenInfo>, AppError> {
        if everyone {
            who.may(Operation::ManageAnyTokens)?;
            return Ok(self.store.tokens(None).await?);
        }
        who.may(Operation::ManageOwnTokens)?;
        match UserName::parse(who.user()) {
            Ok(owner) => Ok(self.store.tokens(Some(&owner)).await?),
            Err(_) => Ok(Vec::new()),
        }
    }

    /// Revokes a token: the caller's own, or anyone's for an administrator. Another
    /// user's token is "not found" to those who may not see it.
    pub async fn revoke_token(&self, who: &Principal, id: &str) -> Result<(), AppError> {
        who.may(Operation::ManageOwnTokens)?;
        let not_found = || AppError::NotFound {
            what: format!("token {id:?}"),
        };
        let token = self.store.token(id.trim()).await?.ok_or_else(not_found)?;
        if token.user.as_str() != who.user() && who.may(Operation::ManageAnyTokens).is_err() {
            return Err(not_found());
        }
        self.store.delete_token(&token.id).await?;
        self.callers.forget_all();
        self.audit_event(
            who.user(),
            AuditEvent::TokenRevoked,
            &format!("{}/{}", token.user, token.name),
            who.address(),
            "",
        )
        .await
    }

    /// The audit log, newest first, a page at a time (administrators).
    pub async fn audit(
        &self,
        who: &Principal,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, AppError> {
        who.may(Operation::ReadAudit)?;
        Ok(self.store.audit(before, limit.clamp(1, 500)).await?)
    }

    /// Whether Junction still waits for its first administrator.
    pub async fn needs_first_admin(&self) -> Result<bool, AppError> {
        use std::sync::atomic::Ordering;
        if self.has_users.load(Ordering::Relaxed) {
            return Ok(false);
        }
        let has = self.store.has_users().await?;
        if has {
            self.has_users.store(true, Ordering::Relaxed);
        }
        Ok(!has)
    }

    /// Records an audit entry.
    pub(super) async fn audit_event(
        &self,
        actor: &str,
        event: AuditEvent,
        subject: &str,
        address: &str,
        detail: &str,
    ) -> Result<(), AppError> {
        let entry = NewAuditEntry {
            actor,
            event,
            subject,
            address,
            detail,
        };
        Ok(self.store.record_audit(&entry).await?)
    }

    /// How long sessions last.
    pub fn session_policy(&self) -> SessionPolicy {
        self.sessions
    }
}

/// A new token: the prefix and 256 random bits (from the thread's CSPRNG), in hex.
fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", hex(&bytes))
}

fn looks_like_token(text: &str) -> bool {
    text.strip_prefix(TOKEN_PREFIX)
        .is_some_and(|rest| rest.len() == 64 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// What the store keeps of a token: a token has 256 random bits, so a fast hash
/// cannot be reversed by guessing (a slow one is for passwords people chose).
fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Failed sign-ins, per name and per address, in this server's memory: after a few
/// free attempts each further one waits twice as long as the last (up to 15 min).
#[derive(Debug, Default)]
pub struct SignInLimiter {
    failures: Mutex<HashMap<String, Failures>>,
}

#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    last: Instant,
}

/// Failures older than this are forgotten.
const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failed attempts allowed before waiting, per name and per address (an address
/// may be many people behind one router).
const FREE_PER_NAME: u32 = 5;
const FREE_PER_ADDRESS: u32 = 20;
/// The most entries kept: beyond it the oldest are dropped, so that guessing from
/// many addresses cannot fill the memory.
const MAX_TRACKED: usize = 10_000;

/// How long to wait after `failures` failed attempts when `free` are allowed.
pub fn lockout(failures: u32, free: u32) -> Duration {
    if failures < free {
        return Duration::ZERO;
    }
    let doubling = (failures - free).min(10);
    Duration::from_secs(1u64 << doubling).min(FAILURE_WINDOW)
}

impl SignInLimiter {
    fn keys(name: &str, address: &str) -> [(String, u32); 2] {
        [
            (
                format!("name:{}", name.trim().to_lowercase()),
                FREE_PER_NAME,
            ),
            (format!("address:{address}"), FREE_PER_ADDRESS),
        ]
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Failures>> {
        // A panic elsewhere while holding it leaves counters, not broken invariants.
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How long the caller must still wait, if at all.
    fn wait(&self, keys: &[(String, u32)], now: Instant) -> Option<Duration> {
        let failures = self.lock();
        keys.iter()
            .filter_map(|(key, free)| {
                let entry = failures.get(key)?;
                let until = entry.last + lockout(entry.count, *free);
                (now.duration_since(entry.last) < FAILURE_WINDOW && until > now)
                    .then(|| until - now)
            })
            .max()
    }

    fn failed(&self, keys: &[(String, u32)], now: Instant) {
        let mut failures = self.lock();
        if failures.len() >= MAX_TRACKED {
            failures.retain(|_, entry| now.duration_since(entry.last) < FAILURE_WINDOW);
            if failures.len() >= MAX_TRACKED {
                failures.clear();
            }
        }
        for (key, _) in keys {
            let entry = failures.entry(key.clone()).or_insert(Failures {
                count: 0,
                last: now,
            });
            if now.duration_since(entry.last) >= FAILURE_WINDOW {
                entry.count = 0;
            }
            entry.count += 1;
            entry.last = now;
        }
    }

    /// A success clears the name's failures (not the address's: signing in to one's
    /// own account must not reset guessing at others').
    fn succeeded(&self, keys: &[(String, u32)]) {
        self.lock().remove(&keys[0].0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_after_the_free_attempts_up_to_fifteen_minutes() {
        let table = [
            (0, 0),
            (4, 0),
            (5, 1),
            (6, 2),
            (7, 4),
            (10, 32),
            (14, 512),
            (15, 900),
            (100, 900),
        ];
        for (failures, seconds) in table {
            assert_eq!(
                lockout(failures, FREE_PER_NAME),
                Duration::from_secs(seconds),
                "{failures} failures"
            );
        }
    }

    #[test]
    fn a_name_guessed_at_waits_and_a_success_clears_it() {
        let limiter = SignInLimiter::default();
        let keys = SignInLimiter::keys("Alice", "10.0.0.1");
        let start = Instant::now();
        for _ in 0..FREE_PER_NAME {
            assert_eq!(limiter.wait(&keys, start), None);
            limiter.failed(&keys, start);
        }
        assert_eq!(limiter.wait(&keys, start), Some(Duration::from_secs(1)));
        assert_eq!(limiter.wait(&keys, start + Duration::from_secs(2)), None);
        let other_address = SignInLimiter::keys("alice", "10.0.0.2");
        assert!(limiter.wait(&other_address, start).is_some());
        limiter.succeeded(&keys);
        assert_eq!(limiter.wait(&keys, start), None);
    }

    #[test]
    fn failures_are_forgotten_after_the_window() {
        let limiter = SignInLimiter::default();
        let keys = SignInLimiter::keys("bob", "10.0.0.1");
        let start = Instant::now();
        for _ in 0..20 {
            limiter.failed(&keys, start);
        }
        assert!(limiter.wait(&keys, start).is_some());
        assert_eq!(limiter.wait(&keys, start + FAILURE_WINDOW), None);
    }

    #[test]
    fn a_token_is_its_prefix_and_64_hex_digits() {
        let token = new_token();
        assert!(looks_like_token(&token), "{token}");
        assert_ne!(token, new_token());
        assert!(!looks_like_token("jct_short"));
        assert!(!looks_like_token(&format!("xyz_{}", &token[4..])));
        assert_eq!(token_hash(&token).len(), 64);
    }
}
