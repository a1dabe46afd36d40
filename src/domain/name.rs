//! The name of an integration: the rules users see next to the name field, shared by
//! the browser (to say what is wrong before a round trip) and the server (to enforce it).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest name accepted, in characters (not bytes: names are for people).
pub const MAX_NAME_CHARS: usize = 100;

/// An integration name: trimmed, 1 to [`MAX_NAME_CHARS`] characters, no control
/// characters. Uniqueness is case-insensitive and enforced by the database through
/// [`IntegrationName::key`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct IntegrationName(String);

/// Why a text is not a valid integration name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("a name is required")]
    Empty,
    #[error("a name is at most {MAX_NAME_CHARS} characters (this one has {0})")]
    TooLong(usize),
    #[error("a name cannot contain control characters such as line breaks or tabs")]
    ControlCharacter,
}

impl IntegrationName {
    /// Parses user input: surrounding white space is dropped, the rest must follow the rules.
    pub fn parse(input: &str) -> Result<Self, NameError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(NameError::Empty);
        }
        let chars = trimmed.chars().count();
        if chars > MAX_NAME_CHARS {
            return Err(NameError::TooLong(chars));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(NameError::ControlCharacter);
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form under which two names count as the same ("Orders" and "orders" clash).
    /// Stored beside the name so that both databases compare Unicode names alike.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

impl fmt::Display for IntegrationName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for IntegrationName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_trimmed() {
        assert_eq!(
            IntegrationName::parse("  Orders  ").unwrap().as_str(),
            "Orders"
        );
    }

    #[test]
    fn an_empty_or_blank_name_is_refused() {
        assert_eq!(IntegrationName::parse(""), Err(NameError::Empty));
        assert_eq!(IntegrationName::parse(" \t "), Err(NameError::Empty));
    }

    #[test]
    fn a_name_of_100_characters_is_accepted_and_101_refused() {
        let longest = "é".repeat(MAX_NAME_CHARS);
        assert!(
            IntegrationName::parse(&longest).is_ok(),
            "counts characters, not bytes"
        );
        let too_long = "a".repeat(MAX_NAME_CHARS + 1);
        assert_eq!(
            IntegrationName::parse(&too_long),
            Err(NameError::TooLong(101))
        );
    }

    #[test]
    fn a_name_with_a_line_break_inside_is_refused() {
        assert_eq!(
            IntegrationName::parse("a\nb"),
            Err(NameError::ControlCharacter)
        );
    }

    #[test]
    fn names_differing_only_in_case_share_a_key() {
        let a = IntegrationName::parse("Order Sync").unwrap();
        let b = IntegrationName::parse("ORDER sync").unwrap();
        assert_eq!(a.key(), b.key());
    }

    #[test]
    fn deserializing_applies_the_same_rules() {
        let err = serde_json::from_str::<IntegrationName>("\"  \"").unwrap_err();
        assert!(err.to_string().contains("a name is required"));
    }
}
