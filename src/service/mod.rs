//! The application layer: one plain async function per user operation, each taking
//! the acting [`Principal`] and doing parse → check → store → notify. Server functions,
//! the JSON API and the command line are adapters over it, so a rule (and, next,
//! authorization) is written once.

pub mod input;
mod integrations;
mod users;

pub use integrations::{BlueprintRequest, CreateRequest, DraftRequest, ListRequest};
pub use users::{UserChange, UserRequest};

use crate::domain::access::{self, Operation, Role};
use crate::domain::{Actor, IntegrationId};
use crate::error::AppError;
use crate::reconciler::Waker;
use crate::store::{Store, StoreError};
use crate::telemetry::{current_request_id, error_chain};

/// Who performs an operation, and with which role. Until sign-in exists, people
/// using the web UI act as "user" and API clients name themselves, all with the
/// administrator's role (what anyone reaching the port could always do).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    actor: Actor,
    role: Role,
}

impl Principal {
    /// A person acting under this name, with this role.
    pub fn new(name: &str, role: Role) -> Self {
        Self {
            actor: Actor::user(name),
            role,
        }
    }

    /// Whoever uses the web UI, until there are accounts.
    pub fn web_user() -> Self {
        Self::new("user", Role::Admin)
    }

    /// Whoever runs the `junction users` commands: they reach the database directly,
    /// so they may do anything.
    pub fn operator() -> Self {
        Self::new("operator", Role::Admin)
    }

    /// An API client naming itself, until there are tokens.
    pub fn api_client(name: &str) -> Self {
        Self::new(name, Role::Admin)
    }

    /// The name written into versions and the transition log.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether the role allows `operation`; a refusal names both and changes nothing.
    pub fn may(&self, operation: Operation) -> Result<(), AppError> {
        match access::allows(self.role, operation) {
            true => Ok(()),
            false => Err(AppError::Forbidden {
                message: access::refusal(self.role, operation),
            }),
        }
    }
}

/// Everything an operation reaches: the store, and the reconciler to wake after a
/// change. Cheap to clone; one per server.
#[derive(Clone)]
pub struct Service {
    store: Store,
    waker: Waker,
}

impl Service {
    pub fn new(store: Store, waker: Waker) -> Self {
        Self { store, waker }
    }

    /// The changes of integrations as they happen (ids), for live pages and the API's
    /// event stream.
    pub fn changes(&self) -> tokio::sync::broadcast::Receiver<IntegrationId> {
        self.store.changes()
    }

    /// Tells the reconciler that something changed, so it acts now rather than at its
    /// next tick.
    fn notify(&self) {
        self.waker.wake();
    }
}

/// Logs an internal failure once, with its causes, and gives the caller only the id
/// to quote.
pub fn internal(err: &(dyn std::error::Error + 'static)) -> AppError {
    let request_id = current_request_id();
    tracing::error!(%request_id, error = %error_chain(err), "request failed");
    AppError::Internal { request_id }
}

impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NameTaken(name) => AppError::field(
                "name",
                format!("an integration named “{name}” already exists"),
            ),
            StoreError::NotFound(what) => AppError::NotFound { what },
            StoreError::UserTaken(name) => {
                AppError::field("name", format!("a user named “{name}” already exists"))
            }
            StoreError::MaskedSecrets(fields) => AppError::ValidationFailed {
                fields: input::under_definition(fields).collect(),
            },
            StoreError::InvalidTransition(refusal) => refusal.into(),
            StoreError::RevisionMismatch { expected, current } => AppError::RevisionMismatch {
                expected_revision: expected,
                current_revision: current,
            },
            StoreError::UnsupportedUrl(_)
            | StoreError::Connect { .. }
            | StoreError::Migrate(_)
            | StoreError::Corrupt(_)
            | StoreError::Database(_) => internal(&err),
        }
    }
}
