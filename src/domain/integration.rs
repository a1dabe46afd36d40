//! What an integration is, as pages and clients see it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

use super::lifecycle::{ActionKind, Situation, State, TargetState};
use super::name::IntegrationName;
use super::reconcile::ReconcileStatus;
use super::version::VersionNumber;

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

/// Who did something: a person (by name) or the reconciler.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Actor(String);

impl Actor {
    /// The reconciler, the only actor that writes current states.
    pub fn reconciler() -> Self {
        Self("reconciler".into())
    }

    /// A person. Junction has no accounts yet, so people acting through the web UI
    /// are all "user", and API clients may name themselves.
    pub fn user(name: &str) -> Self {
        let name = name.trim();
        Self(if name.is_empty() {
            "user".into()
        } else {
            name.chars().take(100).collect()
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An integration as lists show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrationSummary {
    pub id: IntegrationId,
    pub name: String,
    pub description: String,
    pub current_state: State,
    pub target_state: TargetState,
    /// The version the user wants running (the active-version badge).
    pub active_version: Option<VersionNumber>,
    /// The version actually running, as the reconciler reports it.
    pub current_version: Option<VersionNumber>,
    pub draft_version: Option<VersionNumber>,
    pub published_before: bool,
    pub revision: i64,
    pub reconcile: ReconcileStatus,
    #[serde(with = "crate::json::utc")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::json::utc")]
    pub updated_at: DateTime<Utc>,
}

impl IntegrationSummary {
    /// Pending while the reconciler has yet to make the current state (or running
    /// version) what the user asked for. Derived, never stored.
    pub fn pending(&self) -> bool {
        let version_differs =
            self.target_state == TargetState::Active && self.current_version != self.active_version;
        self.current_state != self.target_state.state() || version_differs
    }

    /// What decides which actions are allowed now.
    pub fn situation(&self) -> Situation {
        Situation {
            current: self.current_state,
            target: self.target_state,
            has_draft: self.draft_version.is_some(),
            published_before: self.published_before,
        }
    }
}

/// A version as history lists show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionSummary {
    pub number: VersionNumber,
    /// `None` for the draft.
    pub published: Option<Publication>,
    /// The version of this integration the draft was started from.
    pub based_on: Option<VersionNumber>,
    /// For a blueprint: the version it was copied from.
    pub source: Option<VersionRef>,
    #[serde(with = "crate::json::utc")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::json::utc")]
    pub updated_at: DateTime<Utc>,
}

impl VersionSummary {
    pub fn is_draft(&self) -> bool {
        self.published.is_none()
    }
}

/// When, by whom and why a version was frozen, and what it holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publication {
    #[serde(with = "crate::json::utc")]
    pub at: DateTime<Utc>,
    pub by: String,
    pub note: Option<String>,
    /// SHA-256 of the canonical definition: equal hashes, identical flows.
    pub content_hash: String,
    /// For a version brought from another server: from where, and when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported: Option<Imported>,
}

/// Where an imported version came from: the exporting server's address, and when it
/// was imported here.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Imported {
    pub from: String,
    #[serde(with = "crate::json::utc")]
    pub at: DateTime<Utc>,
}

/// A version of some integration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRef {
    pub integration_id: IntegrationId,
    pub number: VersionNumber,
}

/// A version with its flow. Its JSON is the summary's fields and `definition`, side
/// by side.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "FlatVersion")]
pub struct Version {
    #[serde(flatten)]
    pub summary: VersionSummary,
    pub definition: serde_json::Value,
}

/// How a [`Version`] is read. serde's `flatten` would first buffer every field in its
/// generic `Content`, which ships ~23 KB of buffering code to every browser.
#[derive(Deserialize)]
struct FlatVersion {
    number: VersionNumber,
    published: Option<Publication>,
    based_on: Option<VersionNumber>,
    source: Option<VersionRef>,
    #[serde(with = "crate::json::utc")]
    created_at: DateTime<Utc>,
    #[serde(with = "crate::json::utc")]
    updated_at: DateTime<Utc>,
    definition: serde_json::Value,
}

impl From<FlatVersion> for Version {
    fn from(flat: FlatVersion) -> Self {
        Version {
            summary: VersionSummary {
                number: flat.number,
                published: flat.published,
                based_on: flat.based_on,
                source: flat.source,
                created_at: flat.created_at,
                updated_at: flat.updated_at,
            },
            definition: flat.definition,
        }
    }
}

/// One integration with what its pages need.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IntegrationDetail {
    pub integration: IntegrationSummary,
    pub active: Option<Version>,
    pub draft: Option<Version>,
    pub allowed_actions: Vec<ActionKind>,
}

impl Version {
    /// The same version with its secrets masked, as it may be shown. A flow that does
    /// not parse (it never should) has every text in it masked: what cannot be read
    /// as a definition cannot be told apart from a secret.
    pub fn masked(mut self) -> Self {
        self.definition = match super::definition::Definition::parse(&self.definition) {
            Ok(definition) => definition.masked().to_value(),
            Err(_) => mask_every_text(self.definition),
        };
        self
    }
}

fn mask_every_text(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(_) => Value::String(super::definition::MASK.to_owned()),
        Value::Array(items) => Value::Array(items.into_iter().map(mask_every_text).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| (key, mask_every_text(value)))
                .collect(),
        ),
        other @ (Value::Null | Value::Bool(_) | Value::Number(_)) => other,
    }
}

impl IntegrationDetail {
    /// The same detail with every secret masked.
    pub fn masked(mut self) -> Self {
        self.active = self.active.map(Version::masked);
        self.draft = self.draft.map(Version::masked);
        self
    }
}

/// A version as the history page shows it: with its flow (masked), and the oldest
/// other version with identical content, if any.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryVersion {
    pub version: Version,
    pub identical_to: Option<VersionNumber>,
}

/// Everything the history page shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub integration: IntegrationSummary,
    pub allowed_actions: Vec<ActionKind>,
    pub versions: Page<HistoryVersion>,
    pub transitions: Page<Transition>,
    /// The latest promotions of its versions to other servers, newest first.
    #[serde(default)]
    pub promotions: Vec<super::transfer::Promotion>,
    /// The `junction` connections a version may be promoted through (none for those
    /// who may not promote).
    #[serde(default)]
    pub remotes: Vec<String>,
}

/// Everything the detail page shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DetailPage {
    pub detail: IntegrationDetail,
    /// Where the webhook is called, for webhook flows.
    pub webhook_url: Option<String>,
    /// For flows on a cron schedule: the schedule, and the next five times it runs.
    #[serde(default)]
    pub schedule: Option<(String, Vec<String>)>,
    /// What the flow is doing before it takes messages (connecting to its broker),
    /// as this server's runtime knows it.
    #[serde(default)]
    pub coming_up: Option<String>,
    pub activity: Page<super::activity::ActivityEntry>,
    /// The last hour's messages per minute, by outcome.
    pub chart: super::activity::ActivityChart,
}

/// One recorded change of a state or version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub id: i64,
    pub version: Option<VersionNumber>,
    /// `current_state`, `target_state`, `current_version` or `target_version`.
    pub field: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub actor: String,
    pub reason: String,
    #[serde(with = "crate::json::utc")]
    pub at: DateTime<Utc>,
}

/// A page of a longer list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: u32,
    pub per_page: u32,
    pub total: u64,
}

impl<T> Page<T> {
    /// The items read for `request`, out of `total`.
    pub fn new(items: Vec<T>, request: PageRequest, total: u64) -> Self {
        Self {
            items,
            page: request.page,
            per_page: request.per_page,
            total,
        }
    }
}

/// Which page of a list to read; pages count from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRequest {
    pub page: u32,
    pub per_page: u32,
}

impl PageRequest {
    pub const MAX_PER_PAGE: u32 = 200;

    pub fn new(page: Option<u32>, per_page: Option<u32>) -> Self {
        Self {
            page: page.unwrap_or(1).max(1),
            per_page: per_page.unwrap_or(50).clamp(1, Self::MAX_PER_PAGE),
        }
    }

    pub fn offset(self) -> i64 {
        i64::from(self.page - 1) * i64::from(self.per_page)
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self::new(None, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_is_written_flat_and_read_back_whole() {
        use chrono::TimeZone;

        let at = Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap();
        let number = |n| VersionNumber::parse(&format!("v{n}")).unwrap();
        let version = Version {
            summary: VersionSummary {
                number: number(3),
                published: Some(Publication {
                    at,
                    by: "ada".into(),
                    note: Some("faster".into()),
                    content_hash: "abc".into(),
                    imported: None,
                }),
                based_on: Some(number(2)),
                source: None,
                created_at: at,
                updated_at: at,
            },
            definition: serde_json::json!({"trigger": {"kind": "webhook"}}),
        };
        let json = serde_json::to_value(&version).unwrap();
        assert_eq!(json["number"], 3);
        assert_eq!(json["published"]["by"], "ada");
        assert_eq!(json["definition"]["trigger"]["kind"], "webhook");
        assert_eq!(serde_json::from_value::<Version>(json).unwrap(), version);
    }

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

    #[test]
    fn a_flow_that_does_not_parse_is_shown_with_every_text_masked() {
        let version = Version {
            summary: VersionSummary {
                number: VersionNumber::FIRST,
                published: None,
                based_on: None,
                source: None,
                created_at: Utc::now(),
                updated_at: Utc::now(),
            },
            definition: serde_json::json!({"steps": [{"kind": "http", "headers": {"k": "s3cret"}}], "n": 3}),
        };

        let shown = version.masked();

        assert!(!shown.definition.to_string().contains("s3cret"));
        assert_eq!(shown.definition["n"], 3);
    }
}
