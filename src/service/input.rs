//! Reading what a caller sent into domain types, with one message per rule whichever
//! transport it came through. Every problem of a form is reported at once, at its
//! field.

use crate::domain::definition::Definition;
use crate::domain::lifecycle::State;
use crate::domain::version::{PublishNote, VersionNumber};
use crate::domain::{Description, IntegrationId, IntegrationName, NewIntegration};
use crate::error::{AppError, FieldError};
use crate::store::integrations::DraftEdit;

/// A definition as a caller sent it: read from JSON text (forms) or a JSON value (the
/// API), with its problems located inside the definition (`steps[2].url`).
pub type DefinitionInput = Result<Definition, Vec<FieldError>>;

/// An id that is not even a UUID names no integration.
pub fn integration_id(id: &str) -> Result<IntegrationId, AppError> {
    IntegrationId::parse(id).map_err(|_| AppError::NotFound {
        what: format!("integration {id:?}"),
    })
}

/// A version number typed into a form field: a wrong one is that field's problem.
pub fn version_field(version: &str) -> Result<VersionNumber, AppError> {
    VersionNumber::parse(version).map_err(|err| AppError::field("version", err))
}

/// A version number in a URL path: anything else (0, -1, 99999999999, "latest")
/// names no version.
pub fn version_in_path(id: IntegrationId, number: &str) -> Result<VersionNumber, AppError> {
    VersionNumber::parse(number).map_err(|_| AppError::NotFound {
        what: format!("version {number:?} of integration {id}"),
    })
}

/// A publish note; none is an empty note.
pub fn publish_note(note: Option<&str>) -> Result<PublishNote, AppError> {
    PublishNote::parse(note.unwrap_or("")).map_err(|err| AppError::field("note", err))
}

/// A state to filter by; empty means "all but the unpublished".
pub fn state_filter(state: Option<&str>) -> Result<Option<State>, AppError> {
    match state.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(name) => State::parse(name).map(Some).ok_or_else(|| {
            AppError::field(
                "state",
                format!(
                    "unknown state {name:?} (expected draft, active, inactive, deleted or error)"
                ),
            )
        }),
    }
}

/// Checks every field of an edit, reporting all problems at once; the definition's are
/// placed under `definition`.
pub fn draft_edit(
    expected_revision: i64,
    name: Option<&str>,
    description: Option<&str>,
    definition: Option<DefinitionInput>,
) -> Result<DraftEdit, AppError> {
    let mut fields = Vec::new();
    let name = name
        .map(IntegrationName::parse)
        .transpose()
        .unwrap_or_else(|err| {
            fields.push(FieldError::new("name", err));
            None
        });
    let description = description
        .map(Description::parse)
        .transpose()
        .unwrap_or_else(|err| {
            fields.push(FieldError::new("description", err));
            None
        });
    let definition = definition.transpose().unwrap_or_else(|errors| {
        fields.extend(under_definition(errors));
        None
    });
    if !fields.is_empty() {
        return Err(AppError::ValidationFailed { fields });
    }
    Ok(DraftEdit {
        expected_revision,
        name,
        description,
        definition,
    })
}

/// A new integration's fields and optional first flow, every problem reported at once.
pub fn new_integration(
    name: &str,
    description: &str,
    definition: Option<DefinitionInput>,
) -> Result<(NewIntegration, Option<Definition>), AppError> {
    let edit = draft_edit(0, Some(name), Some(description), definition)?;
    match (edit.name, edit.description) {
        (Some(name), Some(description)) => {
            Ok((NewIntegration { name, description }, edit.definition))
        }
        _ => Err(AppError::field("name", "a name is required")),
    }
}

/// A definition's problems, located within the request (`definition.steps[2].url`).
pub(super) fn under_definition(errors: Vec<FieldError>) -> impl Iterator<Item = FieldError> {
    errors.into_iter().map(|error| FieldError {
        path: if error.path.is_empty() || error.path == "definition" {
            "definition".to_owned()
        } else {
            format!("definition.{}", error.path)
        },
        message: error.message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_state_is_named_with_the_states_there_are() {
        let err = state_filter(Some("running")).unwrap_err();
        assert_eq!(
            err.message_for("state").as_deref(),
            Some("unknown state \"running\" (expected draft, active, inactive, deleted or error)")
        );
        assert_eq!(state_filter(Some("  ")).unwrap(), None);
        assert_eq!(state_filter(Some("error")).unwrap(), Some(State::Error));
    }

    #[test]
    fn a_version_in_a_path_that_is_not_a_number_names_nothing() {
        let id = IntegrationId::new();
        assert!(matches!(
            version_in_path(id, "latest"),
            Err(AppError::NotFound { .. })
        ));
        assert!(
            version_field("latest")
                .unwrap_err()
                .message_for("version")
                .is_some()
        );
    }

    #[test]
    fn every_problem_of_a_new_integration_is_reported_at_its_field() {
        let long = "x".repeat(3000);
        let err = new_integration(
            "",
            &long,
            Some(Err(vec![FieldError::new(
                "steps[0].url",
                "not an http(s) URL",
            )])),
        )
        .unwrap_err();
        for field in ["name", "description", "definition.steps[0].url"] {
            assert!(err.message_for(field).is_some(), "{field}: {err}");
        }
    }
}
