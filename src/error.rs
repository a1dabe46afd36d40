//! The one error type that crosses the wire, from server functions to the browser and
//! (as JSON) to API clients. Internal causes never cross: they are logged on the server
//! and the user gets a request id to quote.

use leptos::server_fn::ServerFnError;
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

use crate::domain::lifecycle::{ActionKind, InvalidTransition, State, TargetState};

/// A problem with one input field, located by its path (`name`, `steps[2].url`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub path: String,
    pub message: String,
}

impl FieldError {
    pub fn new(path: impl Into<String>, message: impl ToString) -> Self {
        Self {
            path: path.into(),
            message: message.to_string(),
        }
    }
}

/// Everything that can go wrong in a request, as the caller should understand it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case", try_from = "WireError")]
pub enum AppError {
    /// The input breaks a rule; each field says what is wrong with it. HTTP 422.
    #[error("{}", summarize(fields))]
    ValidationFailed { fields: Vec<FieldError> },
    /// The request itself could not be read (bad encoding, missing or mistyped
    /// argument). HTTP 400.
    #[error("the request could not be read: {message}")]
    MalformedRequest { message: String },
    /// Nobody is signed in (or the credentials are not valid): sign in, or send a
    /// token. HTTP 401.
    #[error("{message}")]
    Unauthenticated { message: String },
    /// Too many failed sign-ins from this address or for this name. HTTP 429.
    #[error("too many failed sign-ins: try again in {retry_after_secs} s")]
    TooManyAttempts { retry_after_secs: u64 },
    /// The caller's role does not allow the operation; nothing changed. HTTP 403.
    #[error("{message}")]
    Forbidden { message: String },
    /// The thing asked for does not exist. HTTP 404.
    #[error("{what} was not found")]
    NotFound { what: String },
    /// The action is not allowed in the integration's present state; nothing changed.
    /// HTTP 409.
    #[error("{message}")]
    InvalidTransition {
        message: String,
        current_state: State,
        target_state: TargetState,
        allowed_actions: Vec<ActionKind>,
    },
    /// The thing cannot be removed while others use it (a connection that active
    /// integrations use): `users` names them. HTTP 409.
    #[error("{message}")]
    InUse { message: String, users: Vec<String> },
    /// Someone else changed the integration since the caller read it; nothing was
    /// overwritten. HTTP 412.
    #[error(
        "someone else changed this integration (it is at revision {current_revision}, \
         you edited revision {expected_revision}); reload it and apply your change again"
    )]
    RevisionMismatch {
        expected_revision: i64,
        current_revision: i64,
    },
    /// A draft update without `If-Match`: the revision it is based on is required so
    /// that nobody overwrites someone else's change unknowingly. HTTP 428.
    #[error("{message}")]
    PreconditionRequired { message: String },
    /// The request body is larger than the server accepts. HTTP 413.
    #[error("the body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// The request never reached the server, or its answer could not be read.
    /// Only the browser produces this one.
    #[error("the server could not be reached: {message}")]
    Unreachable { message: String },
    /// The server is at one of its limits (requests at once, event streams, a request
    /// that ran out of time); nothing changed that the message does not say. Try
    /// again shortly. HTTP 503.
    #[error("{message}")]
    Unavailable { message: String },
    /// Something failed inside the server. The cause is in the server's log under
    /// `request_id`. HTTP 500.
    #[error("something went wrong on the server (request {request_id})")]
    Internal { request_id: String },
}

fn summarize(fields: &[FieldError]) -> String {
    fields
        .iter()
        .map(|f| format!("{}: {}", f.path, f.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl AppError {
    /// One field is wrong.
    pub fn field(path: impl Into<String>, message: impl ToString) -> Self {
        Self::ValidationFailed {
            fields: vec![FieldError::new(path, message)],
        }
    }

    /// The message for a given field, if this error names it.
    pub fn message_for(&self, path: &str) -> Option<String> {
        match self {
            Self::ValidationFailed { fields } => fields
                .iter()
                .find(|f| f.path == path)
                .map(|f| f.message.clone()),
            Self::MalformedRequest { .. }
            | Self::Unauthenticated { .. }
            | Self::TooManyAttempts { .. }
            | Self::Forbidden { .. }
            | Self::NotFound { .. }
            | Self::InvalidTransition { .. }
            | Self::InUse { .. }
            | Self::RevisionMismatch { .. }
            | Self::PreconditionRequired { .. }
            | Self::PayloadTooLarge { .. }
            | Self::Unreachable { .. }
            | Self::Unavailable { .. }
            | Self::Internal { .. } => None,
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            Self::ValidationFailed { .. } => 422,
            Self::MalformedRequest { .. } => 400,
            Self::Unauthenticated { .. } => 401,
            Self::TooManyAttempts { .. } => 429,
            Self::Forbidden { .. } => 403,
            Self::NotFound { .. } => 404,
            Self::InvalidTransition { .. } | Self::InUse { .. } => 409,
            Self::RevisionMismatch { .. } => 412,
            Self::PreconditionRequired { .. } => 428,
            Self::PayloadTooLarge { .. } => 413,
            Self::Unreachable { .. } => 502,
            Self::Unavailable { .. } => 503,
            Self::Internal { .. } => 500,
        }
    }

    /// A stable, lower-case code for clients to branch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::ValidationFailed { .. } => "validation_failed",
            Self::MalformedRequest { .. } => "malformed_request",
            Self::Unauthenticated { .. } => "unauthenticated",
            Self::TooManyAttempts { .. } => "too_many_attempts",
            Self::Forbidden { .. } => "forbidden",
            Self::NotFound { .. } => "not_found",
            Self::InvalidTransition { .. } => "invalid_transition",
            Self::InUse { .. } => "in_use",
            // The same code as a stale revision: both say the edit lacks a current one.
            Self::RevisionMismatch { .. } | Self::PreconditionRequired { .. } => {
                "revision_mismatch"
            }
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::Unreachable { .. } => "unreachable",
            Self::Unavailable { .. } => "unavailable",
            Self::Internal { .. } => "internal",
        }
    }
}

/// An error as it arrives: the code and every field any error has. Reading this flat
/// shape and then picking the variant costs the browser bundle a fraction of serde's
/// own way for a tagged enum, which buffers the whole object for every type that
/// carries an error (each server function's result).
#[derive(Deserialize)]
struct WireError {
    code: String,
    fields: Option<Vec<FieldError>>,
    message: Option<String>,
    what: Option<String>,
    current_state: Option<State>,
    target_state: Option<TargetState>,
    allowed_actions: Option<Vec<ActionKind>>,
    expected_revision: Option<i64>,
    current_revision: Option<i64>,
    limit: Option<usize>,
    retry_after_secs: Option<u64>,
    request_id: Option<String>,
    users: Option<Vec<String>>,
}

impl TryFrom<WireError> for AppError {
    type Error = String;

    fn try_from(wire: WireError) -> Result<Self, String> {
        let code = wire.code;
        // The field of `wire` by its name, or an error naming what is missing.
        macro_rules! take {
            ($field:ident) => {
                wire.$field
                    .ok_or_else(|| format!("a {code} error without its {}", stringify!($field)))?
            };
        }
        Ok(match code.as_str() {
            "validation_failed" => Self::ValidationFailed {
                fields: take!(fields),
            },
            "malformed_request" => Self::MalformedRequest {
                message: take!(message),
            },
            "unauthenticated" => Self::Unauthenticated {
                message: take!(message),
            },
            "too_many_attempts" => Self::TooManyAttempts {
                retry_after_secs: take!(retry_after_secs),
            },
            "forbidden" => Self::Forbidden {
                message: take!(message),
            },
            "not_found" => Self::NotFound { what: take!(what) },
            "invalid_transition" => Self::InvalidTransition {
                message: take!(message),
                current_state: take!(current_state),
                target_state: take!(target_state),
                allowed_actions: take!(allowed_actions),
            },
            "in_use" => Self::InUse {
                message: take!(message),
                users: take!(users),
            },
            "revision_mismatch" => Self::RevisionMismatch {
                expected_revision: take!(expected_revision),
                current_revision: take!(current_revision),
            },
            "precondition_required" => Self::PreconditionRequired {
                message: take!(message),
            },
            "payload_too_large" => Self::PayloadTooLarge {
                limit: take!(limit),
            },
            "unreachable" => Self::Unreachable {
                message: take!(message),
            },
            "unavailable" => Self::Unavailable {
                message: take!(message),
            },
            "internal" => Self::Internal {
                request_id: take!(request_id),
            },
            _ => return Err(format!("unknown error code {code:?}")),
        })
    }
}

impl From<InvalidTransition> for AppError {
    fn from(refusal: InvalidTransition) -> Self {
        Self::InvalidTransition {
            message: refusal.to_string(),
            current_state: refusal.current,
            target_state: refusal.target,
            allowed_actions: refusal.allowed,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(message)
            | ServerFnErrorErr::MissingArg(message)
            | ServerFnErrorErr::Deserialization(message)
            | ServerFnErrorErr::UnsupportedRequestMethod(message) => {
                Self::MalformedRequest { message }
            }
            ServerFnErrorErr::Request(message) | ServerFnErrorErr::Response(message) => {
                Self::Unreachable { message }
            }
            ServerFnErrorErr::Registration(message)
            | ServerFnErrorErr::Serialization(message)
            | ServerFnErrorErr::ServerError(message)
            | ServerFnErrorErr::MiddlewareError(message) => {
                // Only the server logs; the browser shows the error as it is.
                #[cfg(feature = "ssr")]
                tracing::error!(%message, "server function machinery failed");
                #[cfg(not(feature = "ssr"))]
                let _ = message;
                Self::Internal {
                    request_id: "unknown".into(),
                }
            }
        }
    }
}

impl From<ServerFnError> for AppError {
    fn from(value: ServerFnError) -> Self {
        Self::Unreachable {
            message: value.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_validation_error_names_each_field_in_its_message() {
        let err = AppError::ValidationFailed {
            fields: vec![
                FieldError::new("name", "a name is required"),
                FieldError::new("description", "too long"),
            ],
        };
        assert_eq!(
            err.to_string(),
            "name: a name is required; description: too long"
        );
        assert_eq!(err.message_for("description").as_deref(), Some("too long"));
        assert_eq!(err.status(), 422);
    }

    #[test]
    fn errors_travel_as_json_with_a_code() {
        let err = AppError::NotFound {
            what: "integration 42".into(),
        };
        let json = serde_json::to_value(&err).unwrap();
        assert_eq!(json["code"], "not_found");
        assert_eq!(serde_json::from_value::<AppError>(json).unwrap(), err);
    }

    #[test]
    fn every_error_reads_back_as_it_was_written() {
        let errors = [
            AppError::field("name", "a name is required"),
            AppError::MalformedRequest {
                message: "no id".into(),
            },
            AppError::Unauthenticated {
                message: "sign in first".into(),
            },
            AppError::TooManyAttempts {
                retry_after_secs: 30,
            },
            AppError::Forbidden {
                message: "the viewer role may not publish".into(),
            },
            AppError::NotFound {
                what: "integration 42".into(),
            },
            AppError::InvalidTransition {
                message: "cannot stop".into(),
                current_state: State::Inactive,
                target_state: TargetState::Inactive,
                allowed_actions: vec![ActionKind::Start],
            },
            AppError::RevisionMismatch {
                expected_revision: 3,
                current_revision: 4,
            },
            AppError::PreconditionRequired {
                message: "If-Match is required".into(),
            },
            AppError::PayloadTooLarge { limit: 1024 },
            AppError::Unavailable {
                message: "too many requests at once".into(),
            },
            AppError::Unreachable {
                message: "offline".into(),
            },
            AppError::Internal {
                request_id: "r-1".into(),
            },
        ];
        for err in errors {
            let json = serde_json::to_string(&err).unwrap();
            assert_eq!(
                serde_json::from_str::<AppError>(&json).unwrap(),
                err,
                "{json}"
            );
        }
    }

    #[test]
    fn an_error_with_an_unknown_code_or_without_its_fields_is_refused_by_name() {
        let unknown = serde_json::from_str::<AppError>(r#"{"code":"teapot"}"#).unwrap_err();
        assert!(
            unknown
                .to_string()
                .contains("unknown error code \"teapot\""),
            "{unknown}"
        );
        let partial = serde_json::from_str::<AppError>(r#"{"code":"not_found"}"#).unwrap_err();
        assert!(
            partial
                .to_string()
                .contains("a not_found error without its what"),
            "{partial}"
        );
    }
}
