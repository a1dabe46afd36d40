//! What an integration is, as pages and clients see it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

use super::name::IntegrationName;

/// Longest description accepted, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 2000;

/// The stable identity of an integration; never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IntegrationId(Uuid);

impl IntegrationId {
    /// A fresh random id; only the server mints them.
    #[cfg(feature = "ssr")]
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }

    pub fn parse(input: &str) -> Result<Self, uuid::Error> {
        Uuid::parse_str(input.trim()).map(Self)
    }

    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

#[cfg(feature = "ssr")]
impl Default for IntegrationId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for IntegrationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// A free-text description: trimmed, at most [`MAX_DESCRIPTION_CHARS`] characters,
/// possibly empty.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Description(String);

/// Why a text is not a valid description.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DescriptionError {
    #[error("a description is at most {MAX_DESCRIPTION_CHARS} characters (this one has {0})")]
    TooLong(usize),
}

impl Description {
    pub fn parse(input: &str) -> Result<Self, DescriptionError> {
        let trimmed = input.trim();
        let chars = trimmed.chars().count();
        if chars > MAX_DESCRIPTION_CHARS {
            return Err(DescriptionError::TooLong(chars));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Description {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// What the user asks for when creating an integration, already checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewIntegration {
    pub name: IntegrationName,
    pub description: Description,
}

impl NewIntegration {
    /// Checks the raw form fields, reporting every field that breaks a rule.
    pub fn parse(name: &str, description: &str) -> Result<Self, crate::error::AppError> {
        let name = IntegrationName::parse(name);
        let description = Description::parse(description);
        match (name, description) {
            (Ok(name), Ok(description)) => Ok(Self { name, description }),
            (name, description) => {
                let mut fields = Vec::new();
                if let Err(err) = name {
                    fields.push(crate::error::FieldError::new("name", err));
                }
                if let Err(err) = description {
                    fields.push(crate::error::FieldError::new("description", err));
                }
                Err(crate::error::AppError::ValidationFailed { fields })
            }
        }
    }
}

/// An integration as the list page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrationSummary {
    pub id: IntegrationId,
    pub name: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_description_may_be_empty() {
        assert_eq!(Description::parse("  ").unwrap().as_str(), "");
    }

    #[test]
    fn a_description_over_the_limit_is_refused() {
        let long = "x".repeat(MAX_DESCRIPTION_CHARS + 1);
        assert_eq!(
            Description::parse(&long),
            Err(DescriptionError::TooLong(MAX_DESCRIPTION_CHARS + 1))
        );
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn an_id_survives_display_and_parse() {
        let id = IntegrationId::new();
        assert_eq!(IntegrationId::parse(&id.to_string()).unwrap(), id);
    }

    #[test]
    fn a_new_integration_reports_every_bad_field_at_once() {
        let err = NewIntegration::parse("", &"x".repeat(MAX_DESCRIPTION_CHARS + 1)).unwrap_err();
        assert_eq!(
            err.message_for("name").as_deref(),
            Some("a name is required")
        );
        assert!(err.message_for("description").is_some());
    }

    #[test]
    fn an_id_that_is_not_a_uuid_is_refused() {
        assert!(IntegrationId::parse("orders").is_err());
    }
}
