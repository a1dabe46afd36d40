//! People who sign in: their names, roles and the rules for passwords. Shared with the
//! browser, so the forms check with the server's own rules.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

use super::access::Role;

/// The reconciler's name in the transition log: no person can take it.
pub const RESERVED_NAME: &str = "reconciler";
pub const MIN_PASSWORD_CHARS: usize = 10;
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// A user's sign-in name: 1 to 64 characters from a-z, 0-9, `.`, `_` and `-`, not
/// "reconciler". It is what the history shows as the author.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserName(String);

impl UserName {
    pub fn parse(input: &str) -> Result<Self, String> {
        let name = input.trim().to_lowercase();
        let valid = (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
        if !valid {
            return Err("a user name is 1 to 64 characters from a-z, 0-9, ., _ and -".into());
        }
        if name == RESERVED_NAME {
            return Err(format!("“{RESERVED_NAME}” is reserved for the reconciler"));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password as typed, checked for length. Its `Debug` never shows it, so it cannot
/// reach a log line by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn parse(input: &str) -> Result<Self, String> {
        let chars = input.chars().count();
        if chars < MIN_PASSWORD_CHARS {
            return Err(format!(
                "a password is at least {MIN_PASSWORD_CHARS} characters"
            ));
        }
        if chars > MAX_PASSWORD_CHARS {
            return Err(format!(
                "a password is at most {MAX_PASSWORD_CHARS} characters"
            ));
        }
        Ok(Self(input.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(********)")
    }
}

/// A user as pages and the API show them (never with a password or its hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub name: UserName,
    pub display_name: String,
    pub role: Role,
    pub disabled: bool,
    #[serde(with = "crate::json::utc")]
    pub created_at: DateTime<Utc>,
}

/// A display name: trimmed, 1 to 100 characters; the user name when left empty.
pub fn display_name(input: &str, name: &UserName) -> Result<String, String> {
    let trimmed = input.trim();
    match trimmed.chars().count() {
        0 => Ok(name.to_string()),
        1..=100 => Ok(trimmed.to_owned()),
        _ => Err("a display name is at most 100 characters".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_name_is_a_lower_case_slug() {
        assert_eq!(UserName::parse(" Alice.B ").unwrap().as_str(), "alice.b");
        assert!(UserName::parse("").is_err());
        assert!(UserName::parse("al ice").is_err());
        assert!(UserName::parse(&"a".repeat(65)).is_err());
    }

    #[test]
    fn nobody_can_be_called_reconciler() {
        let err = UserName::parse("Reconciler").unwrap_err();
        assert!(err.contains("reserved"), "{err}");
    }

    #[test]
    fn a_password_has_10_to_1024_characters_and_never_shows_in_debug() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse(&"x".repeat(1025)).is_err());
        let password = Password::parse("correct horse battery").unwrap();
        assert!(!format!("{password:?}").contains("horse"));
    }

    #[test]
    fn an_empty_display_name_is_the_user_name() {
        let name = UserName::parse("alice").unwrap();
        assert_eq!(display_name("  ", &name).unwrap(), "alice");
        assert_eq!(display_name(" Alice A. ", &name).unwrap(), "Alice A.");
    }
}
