//! Moving integrations between servers: the export document, and how an import reads
//! it. A document holds each integration with its published versions (numbers,
//! flows with their secrets left out, notes, authors, times, content hashes), its
//! draft, the connections its flows name (by name and kind only) and, if asked for,
//! its transition log. Reading one checks everything that needs no database: the
//! format, every field, every flow; the hashes are checked by the server, which
//! holds the hash function.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

use super::definition::{Definition, MASK};
use super::integration::{Description, IntegrationId, Transition};
use super::name::IntegrationName;
use super::version::{PublishNote, VersionNumber};
use crate::error::FieldError;

/// What the document says it is.
pub const FORMAT: &str = "junction-export";
/// The version of the format this server writes and reads. A later version may add
/// fields this one does not know; it is refused rather than half read.
pub const FORMAT_VERSION: u64 = 1;
/// The longest recorded author name kept from a document.
pub const MAX_AUTHOR_CHARS: usize = 200;

/// An export: one integration, or all a user can see.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportDocument {
    pub format: String,
    pub format_version: u64,
    /// The address of the server it was exported from, as its user reached it.
    pub exported_from: String,
    #[serde(with = "crate::json::utc")]
    pub exported_at: DateTime<Utc>,
    pub integrations: Vec<ExportedIntegration>,
}

/// One integration in an export.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportedIntegration {
    pub id: IntegrationId,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Every published version, oldest first.
    pub versions: Vec<ExportedVersion>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft: Option<ExportedDraft>,
    /// The connections the flows name, with their kind on the exporting server (none
    /// for a name no connection has there any more). Never their settings or secrets.
    #[serde(default)]
    pub connections: Vec<ConnectionRef>,
    /// The transition log, oldest first, when the export was asked to include it.
    /// Kept for the record: an import starts the importing server's own log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transitions: Option<Vec<Transition>>,
}

/// A published version in an export.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportedVersion {
    pub number: VersionNumber,
    /// The flow, its secrets left out (each replaced by the mask).
    pub definition: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub published_by: String,
    #[serde(with = "crate::json::utc")]
    pub published_at: DateTime<Utc>,
    /// The content hash the exporting server recorded.
    pub content_hash: String,
    /// For a flow with secrets of its own: the keyed fingerprint of those secrets that
    /// the hash covers (it reveals nothing of them), so the hash can be checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets_fingerprint: Option<String>,
}

/// The draft in an export.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportedDraft {
    pub number: VersionNumber,
    pub definition: Value,
}

/// A connection named by a flow: its name, and its kind where it is known.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionRef {
    pub name: String,
    pub kind: Option<String>,
}

/// An integration from a document, every field checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Incoming {
    pub id: IntegrationId,
    pub name: IntegrationName,
    pub description: Description,
    pub versions: Vec<IncomingVersion>,
    pub draft: Option<(VersionNumber, Definition)>,
    pub connections: Vec<ConnectionRef>,
}

/// A published version from a document, checked (but for its hash).
#[derive(Clone, Debug, PartialEq)]
pub struct IncomingVersion {
    pub number: VersionNumber,
    pub definition: Definition,
    pub note: Option<String>,
    pub published_by: String,
    pub published_at: DateTime<Utc>,
    pub content_hash: String,
    pub secrets_fingerprint: Option<Vec<u8>>,
    /// Where in the document it is, for errors: `integrations[0].versions[2]`.
    pub at: String,
}

/// Reads an export document, reporting every problem with its place: the format
/// first (a document of another format or version is not read further), then each
/// field, then each integration's versions and flows.
pub fn read_document(value: &Value) -> Result<(ExportDocument, Vec<Incoming>), Vec<FieldError>> {
    match value.get("format").and_then(Value::as_str) {
        Some(FORMAT) => {}
        Some(other) => {
            return Err(vec![FieldError::new(
                "format",
                format!("is {other:?}: this is not a Junction export ({FORMAT:?})"),
            )]);
        }
        None => {
            return Err(vec![FieldError::new(
                "format",
                format!("is missing: a Junction export says \"format\": {FORMAT:?}"),
            )]);
        }
    }
    match value.get("format_version").and_then(Value::as_u64) {
        Some(FORMAT_VERSION) => {}
        Some(other) => {
            return Err(vec![FieldError::new(
                "format_version",
                format!(
                    "{other} is not a format version this server reads (it reads {FORMAT_VERSION}); \
                     export again from a server of the same release, or upgrade this one"
                ),
            )]);
        }
        None => {
            return Err(vec![FieldError::new(
                "format_version",
                "is missing or not a whole number",
            )]);
        }
    }
    let document: ExportDocument = serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        vec![FieldError::new(
            if path == "." {
                "document".to_owned()
            } else {
                path
            },
            err.into_inner(),
        )]
    })?;
    let mut errors = Vec::new();
    let mut incoming = Vec::new();
    let mut ids = std::collections::BTreeSet::new();
    for (index, integration) in document.integrations.iter().enumerate() {
        let at = format!("integrations[{index}]");
        if !ids.insert(integration.id) {
            errors.push(FieldError::new(
                format!("{at}.id"),
                "appears twice in the document",
            ));
        }
        if let Some(checked) = check_integration(&at, integration, &mut errors) {
            incoming.push(checked);
        }
    }
    match errors.is_empty() {
        true => Ok((document, incoming)),
        false => Err(errors),
    }
}

fn check_integration(
    at: &str,
    integration: &ExportedIntegration,
    errors: &mut Vec<FieldError>,
) -> Option<Incoming> {
    let before = errors.len();
    let name = IntegrationName::parse(&integration.name)
        .map_err(|err| errors.push(FieldError::new(format!("{at}.name"), err)))
        .ok();
    let description = Description::parse(&integration.description)
        .map_err(|err| errors.push(FieldError::new(format!("{at}.description"), err)))
        .ok();
    let mut versions = Vec::new();
    let mut last: Option<VersionNumber> = None;
    for (index, version) in integration.versions.iter().enumerate() {
        let here = format!("{at}.versions[{index}]");
        if last.is_some_and(|last| version.number <= last) {
            errors.push(FieldError::new(
                format!("{here}.number"),
                format!(
                    "{} comes after {}: versions are listed oldest first, each once",
                    version.number,
                    last.map(|n| n.to_string()).unwrap_or_default()
                ),
            ));
        }
        last = Some(version.number);
        let definition = parse_flow(&format!("{here}.definition"), &version.definition, errors);
        let note = match version.note.as_deref().map(PublishNote::parse) {
            Some(Ok(note)) => note.non_empty().map(str::to_owned),
            Some(Err(err)) => {
                errors.push(FieldError::new(format!("{here}.note"), err));
                None
            }
            None => None,
        };
        let author = version.published_by.trim();
        if author.is_empty() || author.chars().count() > MAX_AUTHOR_CHARS {
            errors.push(FieldError::new(
                format!("{here}.published_by"),
                format!("must name who published it, in 1 to {MAX_AUTHOR_CHARS} characters"),
            ));
        }
        if !is_hex(&version.content_hash, 32) {
            errors.push(FieldError::new(
                format!("{here}.content_hash"),
                "must be a SHA-256 in hex (64 characters)",
            ));
        }
        let fingerprint = match &version.secrets_fingerprint {
            Some(text) if is_hex(text, 32) => Some(unhex(text)),
            Some(_) => {
                errors.push(FieldError::new(
                    format!("{here}.secrets_fingerprint"),
                    "must be an HMAC-SHA256 in hex (64 characters)",
                ));
                None
            }
            None => None,
        };
        if let Some(definition) = definition {
            versions.push(IncomingVersion {
                number: version.number,
                definition,
                note,
                published_by: author.to_owned(),
                published_at: version.published_at,
                content_hash: version.content_hash.to_ascii_lowercase(),
                secrets_fingerprint: fingerprint,
                at: here,
            });
        }
    }
    let draft = match &integration.draft {
        Some(draft) => {
            let here = format!("{at}.draft");
            if last.is_some_and(|last| draft.number <= last) {
                errors.push(FieldError::new(
                    format!("{here}.number"),
                    "a draft comes after every published version",
                ));
            }
            parse_flow(&format!("{here}.definition"), &draft.definition, errors)
                .map(|definition| (draft.number, definition))
        }
        None => None,
    };
    if integration.versions.is_empty() && integration.draft.is_none() {
        errors.push(FieldError::new(
            format!("{at}.versions"),
            "an integration brings at least one version or its draft",
        ));
    }
    match (name, description) {
        (Some(name), Some(description)) if errors.len() == before => Some(Incoming {
            id: integration.id,
            name,
            description,
            versions,
            draft,
            connections: integration.connections.clone(),
        }),
        _ => None,
    }
}

fn parse_flow(at: &str, value: &Value, errors: &mut Vec<FieldError>) -> Option<Definition> {
    Definition::parse(value)
        .map_err(|problems| {
            errors.extend(problems.into_iter().map(|problem| {
                FieldError::new(
                    match problem.path.is_empty() {
                        true => at.to_owned(),
                        false => format!("{at}.{}", problem.path),
                    },
                    problem.message,
                )
            }));
        })
        .ok()
}

fn is_hex(text: &str, bytes: usize) -> bool {
    text.len() == bytes * 2 && text.bytes().all(|byte| byte.is_ascii_hexdigit())
}

fn unhex(text: &str) -> Vec<u8> {
    text.as_bytes()
        .chunks(2)
        .filter_map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect()
}

/// A version sent to another Junction, and what that server answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promotion {
    pub id: i64,
    pub version: VersionNumber,
    /// The `junction` connection it went through, and the address it had then.
    pub remote: String,
    pub remote_url: String,
    /// Whether the remote was asked to run it.
    pub activate: bool,
    /// Whether the remote took it.
    pub ok: bool,
    /// What the remote answered (or why it could not be reached).
    pub answer: String,
    pub actor: String,
    #[serde(with = "crate::json::utc")]
    pub at: DateTime<Utc>,
}

/// How an import maps the connections a document names to connections here:
/// `{"orders-db": "orders-db-prod"}`. A name left out stays the same.
pub type ConnectionMap = BTreeMap<String, String>;

/// The places in a flow whose secret was left out of an export (each holds the
/// mask): such a version is imported, but does not run until they are set.
pub fn left_out_secrets(definition: &Definition) -> Vec<String> {
    definition
        .secrets()
        .into_iter()
        .filter(|(_, value)| value == MASK)
        .map(|(place, _)| place)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn document(versions: Value) -> Value {
        json!({
            "format": FORMAT, "format_version": 1,
            "exported_from": "http://dev:3000", "exported_at": "2026-12-04T10:00:00Z",
            "integrations": [{
                "id": "7f1b0a3e-1c52-4d0c-9d43-4f1c2a3b4c5d", "name": "Orders",
                "versions": versions,
            }]
        })
    }

    fn version(number: i64) -> Value {
        json!({
            "number": number,
            "definition": {"trigger": {"kind": "webhook", "path": "orders"}, "steps": []},
            "published_by": "alice", "published_at": "2026-12-01T10:00:00Z",
            "content_hash": "ab".repeat(32),
        })
    }

    fn paths(errors: Vec<FieldError>) -> Vec<String> {
        errors.into_iter().map(|error| error.path).collect()
    }

    #[test]
    fn a_document_with_its_versions_in_order_is_read() {
        let (_, incoming) = read_document(&document(json!([version(1), version(3)]))).unwrap();
        let numbers: Vec<i64> = incoming[0]
            .versions
            .iter()
            .map(|v| v.number.get())
            .collect();
        assert_eq!(numbers, [1, 3]);
        assert_eq!(incoming[0].name.as_str(), "Orders");
    }

    #[test]
    fn another_format_or_format_version_is_refused_by_name() {
        let mut other = document(json!([version(1)]));
        other["format_version"] = json!(2);
        assert_eq!(
            paths(read_document(&other).unwrap_err()),
            ["format_version"]
        );
        other["format"] = json!("n8n");
        assert_eq!(paths(read_document(&other).unwrap_err()), ["format"]);
    }

    #[test]
    fn a_field_of_the_wrong_type_is_named_by_its_path() {
        let mut wrong = document(json!([version(1)]));
        wrong["integrations"][0]["versions"][0]["number"] = json!("one");
        assert_eq!(
            paths(read_document(&wrong).unwrap_err()),
            ["integrations[0].versions[0].number"]
        );
    }

    #[test]
    fn a_flow_that_does_not_parse_is_named_at_its_place() {
        let mut broken = version(2);
        broken["definition"]["steps"] =
            json!([{"kind": "http", "method": "GET", "url": "ftp://x"}]);
        let errors = read_document(&document(json!([version(1), broken]))).unwrap_err();
        assert_eq!(
            paths(errors),
            ["integrations[0].versions[1].definition.steps[0].url"]
        );
    }

    #[test]
    fn versions_out_of_order_a_bad_hash_and_a_low_draft_are_each_named() {
        let mut bad_hash = version(1);
        bad_hash["content_hash"] = json!("not a hash");
        let mut doc = document(json!([version(2), bad_hash]));
        doc["integrations"][0]["draft"] =
            json!({"number": 1, "definition": {"trigger": {"kind": "timer", "every_seconds": 5}}});
        assert_eq!(
            paths(read_document(&doc).unwrap_err()),
            [
                "integrations[0].versions[1].number",
                "integrations[0].versions[1].content_hash",
                "integrations[0].draft.number"
            ]
        );
    }

    #[test]
    fn an_unknown_field_is_refused_rather_than_dropped() {
        let mut extra = version(1);
        extra["secret"] = json!("x");
        let errors = read_document(&document(json!([extra]))).unwrap_err();
        assert_eq!(errors[0].path, "integrations[0].versions[0].secret");
        assert!(errors[0].message.contains("unknown field"), "{errors:?}");
    }

    #[test]
    fn connections_are_renamed_where_the_map_names_them() {
        let mut definition = Definition::parse(&json!({
            "trigger": {"kind": "sql_poll", "connection": "orders-db", "query": "SELECT 1 WHERE $1",
                        "cursor": "id", "every_seconds": 5, "start": 0},
            "steps": [{"kind": "redis", "connection": "cache", "command": "GET", "args": ["k"]}]
        }))
        .unwrap();
        let map = ConnectionMap::from([("orders-db".to_owned(), "orders-db-prod".to_owned())]);
        definition.rename_connections(&map);
        let names: Vec<&str> = definition
            .connections()
            .into_iter()
            .map(|(_, n)| n)
            .collect();
        assert_eq!(names, ["orders-db-prod", "cache"]);
    }

    #[test]
    fn a_secret_left_out_is_found_at_its_place() {
        let definition = Definition::parse(&json!({
            "trigger": {"kind": "webhook", "path": "in"},
            "steps": [{"kind": "http", "method": "POST", "url": "https://api.example.com",
                       "headers": {"authorization": MASK, "x-plain": "1"}}]
        }))
        .unwrap();
        assert_eq!(
            left_out_secrets(&definition),
            ["steps[0].headers.authorization"]
        );
    }
}
