//! The audit log: who signed in (or failed to), made or revoked a token, added or
//! changed a user; when, and from which address.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What happened. The database accepts exactly these (a check constraint).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AuditEvent {
    SignedIn,
    SignInFailed,
    SignedOut,
    TokenCreated,
    TokenRevoked,
    UserCreated,
    RoleChanged,
    UserDisabled,
    UserEnabled,
    PasswordChanged,
    ConnectionCreated,
    ConnectionChanged,
    ConnectionDeleted,
    IntegrationsImported,
    VersionPromoted,
}

impl AuditEvent {
    pub const ALL: [AuditEvent; 15] = [
        AuditEvent::SignedIn,
        AuditEvent::SignInFailed,
        AuditEvent::SignedOut,
        AuditEvent::TokenCreated,
        AuditEvent::TokenRevoked,
        AuditEvent::UserCreated,
        AuditEvent::RoleChanged,
        AuditEvent::UserDisabled,
        AuditEvent::UserEnabled,
        AuditEvent::PasswordChanged,
        AuditEvent::ConnectionCreated,
        AuditEvent::ConnectionChanged,
        AuditEvent::ConnectionDeleted,
        AuditEvent::IntegrationsImported,
        AuditEvent::VersionPromoted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditEvent::SignedIn => "signed_in",
            AuditEvent::SignInFailed => "sign_in_failed",
            AuditEvent::SignedOut => "signed_out",
            AuditEvent::TokenCreated => "token_created",
            AuditEvent::TokenRevoked => "token_revoked",
            AuditEvent::UserCreated => "user_created",
            AuditEvent::RoleChanged => "role_changed",
            AuditEvent::UserDisabled => "user_disabled",
            AuditEvent::UserEnabled => "user_enabled",
            AuditEvent::PasswordChanged => "password_changed",
            AuditEvent::ConnectionCreated => "connection_created",
            AuditEvent::ConnectionChanged => "connection_changed",
            AuditEvent::ConnectionDeleted => "connection_deleted",
            AuditEvent::IntegrationsImported => "integrations_imported",
            AuditEvent::VersionPromoted => "version_promoted",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|event| event.as_str() == text)
    }

    /// How the audit page says it.
    pub fn label(self) -> &'static str {
        match self {
            AuditEvent::SignedIn => "signed in",
            AuditEvent::SignInFailed => "failed to sign in",
            AuditEvent::SignedOut => "signed out",
            AuditEvent::TokenCreated => "created a token",
            AuditEvent::TokenRevoked => "revoked a token",
            AuditEvent::UserCreated => "added a user",
            AuditEvent::RoleChanged => "changed a role",
            AuditEvent::UserDisabled => "disabled a user",
            AuditEvent::UserEnabled => "enabled a user",
            AuditEvent::PasswordChanged => "changed a password",
            AuditEvent::ConnectionCreated => "created a connection",
            AuditEvent::ConnectionChanged => "changed a connection",
            AuditEvent::ConnectionDeleted => "deleted a connection",
            AuditEvent::IntegrationsImported => "imported integrations",
            AuditEvent::VersionPromoted => "promoted a version to another server",
        }
    }
}

/// One entry of the audit log. `actor` is who acted (for a failed sign-in, the name
/// that was typed); `subject` what it was done to (a user, a token).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    #[serde(with = "crate::json::utc")]
    pub at: DateTime<Utc>,
    pub actor: String,
    pub event: AuditEvent,
    pub subject: String,
    pub address: String,
    pub detail: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_reads_back_from_its_stored_name() {
        for event in AuditEvent::ALL {
            assert_eq!(AuditEvent::parse(event.as_str()), Some(event));
            let json = serde_json::to_value(event).unwrap();
            assert_eq!(json, event.as_str());
        }
        assert_eq!(AuditEvent::parse("deleted_everything"), None);
    }
}
