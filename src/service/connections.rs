//! Connections: listing them (viewers see names and kinds), creating, changing,
//! testing and deleting them (editors and admins; letting one reach private addresses
//! or a file on the server, admins only), each change audited without its values.
//! Secrets are write-only: nothing here returns one.

use serde_json::Value;
use std::collections::BTreeMap;

use super::{Principal, Service};
use crate::domain::access::{Operation, Role};
use crate::domain::audit::AuditEvent;
use crate::domain::connection::{
    ConnectionInput, ConnectionKind, ConnectionView, SecretInput, Settings, missing_secrets,
    parse_input,
};
use crate::domain::definition::Definition;
use crate::error::AppError;
use crate::store::connections::{ConnectionWrite, StoredConnection};

/// What testing a connection found.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TestResult {
    /// Whether Junction reached it and signed in.
    pub ok: bool,
    /// "connected: PostgreSQL 16.4 ...", or the cause: refused, bad password, unknown
    /// database, TLS, not allowed by the egress policy.
    pub message: String,
}

impl Service {
    /// Every connection, by name; settings and which secrets are set only for those
    /// who may change connections.
    pub async fn connections(&self, who: &Principal) -> Result<Vec<ConnectionView>, AppError> {
        who.may(Operation::Read)?;
        let full = who.may(Operation::ManageConnections).is_ok();
        Ok(self
            .store
            .connections()
            .await?
            .iter()
            .map(|c| c.view(full))
            .collect())
    }

    pub async fn connection(
        &self,
        who: &Principal,
        name: &str,
    ) -> Result<ConnectionView, AppError> {
        who.may(Operation::Read)?;
        let full = who.may(Operation::ManageConnections).is_ok();
        Ok(self.stored_connection(name).await?.view(full))
    }

    async fn stored_connection(&self, name: &str) -> Result<StoredConnection, AppError> {
        self.store
            .connection(name)
            .await?
            .ok_or_else(|| AppError::NotFound {
                what: format!("connection {name:?}"),
            })
    }

    /// Creates a connection from its JSON form.
    pub async fn create_connection(
        &self,
        who: &Principal,
        body: &Value,
    ) -> Result<ConnectionView, AppError> {
        self.save_connection(who, body, None).await
    }

    /// Replaces a connection's settings; each secret is replaced when sent, kept when
    /// sent as `{"set": true}` or left out, and removed when sent as null. Running
    /// flows that use it are redeployed with the change.
    pub async fn update_connection(
        &self,
        who: &Principal,
        name: &str,
        body: &Value,
    ) -> Result<ConnectionView, AppError> {
        self.save_connection(who, body, Some(name)).await
    }

    /// Creates a connection, or replaces the one `existing` names; audited either way.
    async fn save_connection(
        &self,
        who: &Principal,
        body: &Value,
        existing: Option<&str>,
    ) -> Result<ConnectionView, AppError> {
        who.may(Operation::ManageConnections)?;
        let before = match existing {
            Some(name) => Some(self.stored_connection(name).await?),
            None => None,
        };
        let input =
            parse_input(body, existing).map_err(|fields| AppError::ValidationFailed { fields })?;
        let was_allowed = before.as_ref().is_some_and(|b| b.allow_private);
        let allow_private = input.allow_private.unwrap_or(was_allowed);
        self.may_reach(who, &input, was_allowed, allow_private)?;
        // A kind's secrets mean nothing to another kind: changing kind starts afresh.
        let stored_secrets = match &before {
            Some(before) if before.kind == input.kind => {
                self.store.open_connection(&before.name).await?.secrets
            }
            Some(_) | None => BTreeMap::new(),
        };
        let secrets = merged_secrets(&input, &stored_secrets)?;
        let write = ConnectionWrite {
            name: input.name.as_str(),
            kind: input.kind,
            settings: &input.settings,
            secrets: &secrets,
            allow_private,
            actor: who.actor().as_str(),
        };
        let (after, event) = match before {
            None => (
                self.store.create_connection(&write).await?,
                AuditEvent::ConnectionCreated,
            ),
            Some(_) => (
                self.store.update_connection(&write).await?,
                AuditEvent::ConnectionChanged,
            ),
        };
        let detail = describe_change(before.as_ref(), &after, &secret_changes(&input.secrets));
        self.audit_event(who.user(), event, &after.name, who.address(), &detail)
            .await?;
        tracing::info!(connection = %after.name, kind = %after.kind, revision = after.revision,
            "connection saved");
        // The reconciler redeploys what was built with an older revision.
        self.notify();
        Ok(after.view(true))
    }

    /// Deletes a connection no active integration uses; one in use is refused (409),
    /// naming the integrations.
    pub async fn delete_connection(&self, who: &Principal, name: &str) -> Result<(), AppError> {
        who.may(Operation::ManageConnections)?;
        let stored = self.stored_connection(name).await?;
        let users = self.connection_users(name).await?;
        if !users.is_empty() {
            return Err(AppError::InUse {
                message: format!(
                    "connection {name:?} is used by {}: point them elsewhere or stop them first",
                    users
                        .iter()
                        .map(|u| format!("“{u}”"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                users,
            });
        }
        self.store.delete_connection(name).await?;
        self.audit_event(
            who.user(),
            AuditEvent::ConnectionDeleted,
            name,
            who.address(),
            stored.kind.as_str(),
        )
        .await?;
        tracing::info!(connection = %name, "connection deleted");
        Ok(())
    }

    /// The names of the integrations whose active version uses the connection.
    async fn connection_users(&self, name: &str) -> Result<Vec<String>, AppError> {
        let mut users = Vec::new();
        for (_, integration, text) in self.store.active_definitions().await? {
            let uses = Definition::parse_str(&text)
                .map(|definition| definition.connections().iter().any(|(_, n)| *n == name))
                .unwrap_or(false);
            if uses {
                users.push(integration);
            }
        }
        users.sort();
        Ok(users)
    }

    /// Connects once with the stored settings and secrets.
    pub async fn test_connection(
        &self,
        who: &Principal,
        name: &str,
    ) -> Result<TestResult, AppError> {
        who.may(Operation::ManageConnections)?;
        let connection = match self.store.open_connection(name).await {
            Ok(connection) => connection,
            Err(crate::store::StoreError::NotFound(_)) => {
                return Err(AppError::NotFound {
                    what: format!("connection {name:?}"),
                });
            }
            Err(err) => return Err(err.into()),
        };
        let Some(connectors) = &self.connectors else {
            return Err(AppError::Unavailable {
                message: "this server runs no connectors".into(),
            });
        };
        let tested = match connection.kind {
            ConnectionKind::Postgres | ConnectionKind::Mysql | ConnectionKind::Sqlite => {
                connectors.test(&connection).await
            }
            ConnectionKind::Http => match &self.http {
                Some(http) => http.test(&connection).await,
                None => Err("this server makes no HTTP requests".into()),
            },
            ConnectionKind::Amqp
            | ConnectionKind::Mqtt
            | ConnectionKind::Nats
            | ConnectionKind::Redis => match &self.brokers {
                Some(brokers) => brokers.test(&connection).await,
                None => Err("this server reaches no message brokers".into()),
            },
            ConnectionKind::Junction => match &self.http {
                Some(http) => http.test_junction(&connection).await,
                None => Err("this server makes no HTTP requests".into()),
            },
        };
        let result = match tested {
            Ok(message) => TestResult { ok: true, message },
            Err(message) => TestResult { ok: false, message },
        };
        tracing::info!(connection = %name, ok = result.ok, "connection tested");
        Ok(result)
    }

    /// Checks what parsing a definition cannot: the connections it names exist and are
    /// of the kinds its steps need, the statements' parameters fit, and a cron
    /// trigger's schedule and time zone read.
    pub(super) async fn check_definition(&self, definition: &Definition) -> Result<(), AppError> {
        let mut errors = match &definition.trigger {
            crate::domain::definition::Trigger::Cron {
                schedule,
                time_zone,
            } => crate::runtime::schedule::Schedule::parse(schedule, time_zone)
                .err()
                .unwrap_or_default(),
            crate::domain::definition::Trigger::Webhook { .. }
            | crate::domain::definition::Trigger::Timer { .. }
            | crate::domain::definition::Trigger::SqlPoll { .. }
            | crate::domain::definition::Trigger::Amqp { .. }
            | crate::domain::definition::Trigger::Nats { .. }
            | crate::domain::definition::Trigger::Redis { .. }
            | crate::domain::definition::Trigger::Mqtt { .. } => Vec::new(),
        };
        if !definition.connections().is_empty() {
            errors.extend(self.connection_problems(definition).await?);
        }
        match errors.is_empty() {
            true => Ok(()),
            false => Err(AppError::ValidationFailed {
                fields: super::input::under_definition(errors).collect(),
            }),
        }
    }

    /// The next five times a schedule runs, as people read them: the local time in
    /// its zone, and UTC.
    pub fn next_runs(
        &self,
        who: &Principal,
        schedule: &str,
        time_zone: &str,
    ) -> Result<Vec<String>, AppError> {
        who.may(Operation::Read)?;
        let schedule = crate::runtime::schedule::Schedule::parse(schedule, time_zone)
            .map_err(|fields| AppError::ValidationFailed { fields })?;
        let zone = schedule.zone();
        Ok(schedule
            .upcoming(chrono::Utc::now(), 5)
            .into_iter()
            .map(|at| {
                let local = at.with_timezone(&zone);
                format!(
                    "{} {} ({} UTC)",
                    local.format("%a %Y-%m-%d %H:%M:%S"),
                    zone.name(),
                    at.format("%H:%M")
                )
            })
            .collect())
    }

    /// What is wrong with the connections a definition names.
    async fn connection_problems(
        &self,
        definition: &Definition,
    ) -> Result<Vec<crate::error::FieldError>, AppError> {
        let kinds: BTreeMap<String, ConnectionKind> = self
            .store
            .connections()
            .await?
            .into_iter()
            .map(|c| (c.name, c.kind))
            .collect();
        Ok(definition.check_connections(&|name| kinds.get(name).copied()))
    }

    /// Whether `who` may make this connection reach where it does: private addresses
    /// and files on the server are for administrators to open.
    fn may_reach(
        &self,
        who: &Principal,
        input: &ConnectionInput,
        was_allowed: bool,
        allow_private: bool,
    ) -> Result<(), AppError> {
        let opens = allow_private && !was_allowed;
        let file = matches!(input.settings, Settings::Sqlite { .. });
        if (opens || file) && who.role() < Role::Admin {
            return Err(AppError::Forbidden {
                message: crate::domain::access::refusal(
                    who.role(),
                    Operation::OpenConnectionEgress,
                ),
            });
        }
        if let Settings::Sqlite { path } = &input.settings {
            let path = std::path::Path::new(path);
            if !path.is_absolute() {
                return Err(AppError::field("settings.path", "must be an absolute path"));
            }
            let within = |dir: &std::path::Path| {
                let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_owned());
                // The file itself when it exists (a link resolves to where it
                // points), else the directory it would be made in.
                let file = path
                    .canonicalize()
                    .ok()
                    .or_else(|| path.parent().and_then(|parent| parent.canonicalize().ok()))
                    .unwrap_or_else(|| path.to_owned());
                file.starts_with(&dir)
            };
            if self.protected_paths.iter().any(|dir| within(dir)) {
                return Err(AppError::field(
                    "settings.path",
                    "is inside Junction's own data directory, which flows may not open",
                ));
            }
        }
        Ok(())
    }
}

/// The secrets to store: those sent, those kept, none of those cleared; every secret
/// the settings need must be there.
fn merged_secrets(
    input: &ConnectionInput,
    stored: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, AppError> {
    let stored_names: Vec<String> = stored.keys().cloned().collect();
    let missing = missing_secrets(&input.settings, &input.secrets, &stored_names);
    if !missing.is_empty() {
        return Err(AppError::ValidationFailed { fields: missing });
    }
    let mut merged = BTreeMap::new();
    for name in input.settings.secret_names() {
        match input.secrets.get(*name) {
            Some(SecretInput::Value(value)) => {
                merged.insert((*name).to_owned(), value.clone());
            }
            Some(SecretInput::Keep) | None => {
                if let Some(value) = stored.get(*name) {
                    merged.insert((*name).to_owned(), value.clone());
                }
            }
            Some(SecretInput::Clear) => {}
        }
    }
    Ok(merged)
}

/// Which secrets a change sets or clears, by name only.
fn secret_changes(sent: &BTreeMap<String, SecretInput>) -> Vec<String> {
    sent.iter()
        .filter_map(|(name, input)| match input {
            SecretInput::Value(_) => Some(format!("set {name}")),
            SecretInput::Clear => Some(format!("cleared {name}")),
            SecretInput::Keep => None,
        })
        .collect()
}

/// What the audit says changed: the kind, the settings that changed (names, not
/// values), which secrets were set or cleared, and whether private addresses opened.
fn describe_change(
    before: Option<&StoredConnection>,
    after: &StoredConnection,
    secrets: &[String],
) -> String {
    let mut parts = Vec::new();
    match before {
        None => parts.push(after.kind.as_str().to_owned()),
        Some(before) => {
            if before.kind != after.kind {
                parts.push(format!("kind {} → {}", before.kind, after.kind));
            }
            let (old, new) = (before.settings.to_value(), after.settings.to_value());
            let changed: Vec<&String> = new
                .as_object()
                .map(|fields| {
                    fields
                        .iter()
                        .filter(|(key, value)| old.get(key.as_str()) != Some(value))
                        .map(|(key, _)| key)
                        .collect()
                })
                .unwrap_or_default();
            if !changed.is_empty() {
                parts.push(format!(
                    "settings: {}",
                    changed
                        .iter()
                        .map(|k| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if before.allow_private != after.allow_private {
                parts.push(format!("allow_private → {}", after.allow_private));
            }
        }
    }
    if before.is_none() && after.allow_private {
        parts.push("allow_private".into());
    }
    parts.extend(secrets.iter().cloned());
    parts.join("; ")
}
