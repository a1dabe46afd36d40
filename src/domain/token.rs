//! Personal API tokens as people see them: a name, when it was made, when it ends and
//! when it was last used. The token itself is shown once, when it is made, and is
//! never stored (only its hash is).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::user::UserName;

/// The longest life a token can be given.
pub const MAX_TOKEN_DAYS: u32 = 3650;

/// A token's name, as its owner tells tokens apart ("ci", "backup script"): trimmed,
/// 1 to 64 characters, no control characters.
pub fn token_name(input: &str) -> Result<String, String> {
    let name = input.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err("a token name is 1 to 64 characters".into());
    }
    if name.chars().any(char::is_control) {
        return Err("a token name cannot contain control characters".into());
    }
    Ok(name.to_owned())
}

/// How many days a token lives: none (until revoked) or 1 to [`MAX_TOKEN_DAYS`].
pub fn token_days(days: Option<i64>) -> Result<Option<u32>, String> {
    match days {
        None => Ok(None),
        Some(days) if (1..=i64::from(MAX_TOKEN_DAYS)).contains(&days) => {
            Ok(u32::try_from(days).ok())
        }
        Some(_) => Err(format!(
            "a token lives 1 to {MAX_TOKEN_DAYS} days, or leave it out for no expiry"
        )),
    }
}

/// A token as lists show it (never the token).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub id: String,
    pub user: UserName,
    pub name: String,
    #[serde(with = "crate::json::utc")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::json::utc::option")]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(with = "crate::json::utc::option")]
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A token just made: the only time the token itself is seen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewToken {
    pub token: String,
    pub info: TokenInfo,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_name_is_trimmed_and_short() {
        assert_eq!(token_name("  ci  ").unwrap(), "ci");
        assert!(token_name(" ").is_err());
        assert!(token_name(&"x".repeat(65)).is_err());
        assert!(token_name("a\nb").is_err());
    }

    #[test]
    fn a_token_lives_a_bounded_number_of_days_or_until_revoked() {
        assert_eq!(token_days(None).unwrap(), None);
        assert_eq!(token_days(Some(30)).unwrap(), Some(30));
        assert!(token_days(Some(0)).is_err());
        assert!(token_days(Some(-1)).is_err());
        assert!(token_days(Some(3651)).is_err());
    }
}
