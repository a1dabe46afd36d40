//! The application layer: one plain async function per user operation, each taking
//! the acting [`Principal`] and doing parse → check → store → notify. Server functions,
//! the JSON API and the command line are adapters over it, so a rule (and, next,
//! authorization) is written once.

mod auth;
mod callers;
mod connections;
pub mod input;
mod integrations;
mod transfer;
mod users;

pub use crate::store::transfer::ImportOutcome;
pub use auth::{SessionCheck, SessionClaim, SessionPolicy, SignInLimiter, TOKEN_PREFIX};
pub use connections::TestResult;
pub use integrations::{BlueprintRequest, CreateRequest, DraftRequest, ListRequest};
pub use transfer::{ExportOptions, ImportRequest, PromoteRequest};
pub use users::{UserChange, UserRequest};

use crate::domain::access::{self, Operation, Role};
use crate::domain::{Actor, IntegrationId};
use crate::error::AppError;
use crate::reconciler::Waker;
use crate::store::{Store, StoreError};
use crate::telemetry::{current_request_id, error_chain};

/// Who performs an operation: a signed-in user (through a session or one of their
/// tokens), with their role, and the address the request came from (for the audit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    actor: Actor,
    user: String,
    display_name: String,
    role: Role,
    address: String,
}

impl Principal {
    /// A person acting under this name, with this role.
    pub fn new(name: &str, role: Role) -> Self {
        Self {
            actor: Actor::user(name),
            user: name.to_owned(),
            display_name: name.to_owned(),
            role,
            address: String::new(),
        }
    }

    /// A signed-in user; through a token, the history names the token too.
    pub fn signed_in(user: &crate::domain::user::User, token: Option<&str>) -> Self {
        let name = user.name.as_str();
        let actor = match token {
            Some(token) => Actor::user(&format!("{name} (token {token})")),
            None => Actor::user(name),
        };
        Self {
            actor,
            user: name.to_owned(),
            display_name: user.display_name.clone(),
            role: user.role,
            address: String::new(),
        }
    }

    /// Whoever runs the `junction users` commands: they reach the database directly,
    /// so they may do anything.
    pub fn operator() -> Self {
        Self::new("operator", Role::Admin)
    }

    /// The same principal, seen coming from `address`.
    pub fn from_address(mut self, address: impl Into<String>) -> Self {
        self.address = address.into();
        self
    }

    /// The name written into versions and the transition log.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// The user's name (without the token's).
    pub fn user(&self) -> &str {
        &self.user
    }

    pub fn display_name(&self) -> &str {
        &self.display_name
    }

    pub fn role(&self) -> Role {
        self.role
    }

    /// Where the request came from, as the audit records it.
    pub fn address(&self) -> &str {
        &self.address
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
    sign_ins: std::sync::Arc<auth::SignInLimiter>,
    /// Bearer tokens found recently (forgotten on every revocation or user change).
    callers: std::sync::Arc<callers::Callers>,
    /// Set once a user exists: users are never deleted, so it never goes back.
    has_users: std::sync::Arc<std::sync::atomic::AtomicBool>,
    sessions: auth::SessionPolicy,
    /// Turns true when the server begins to stop.
    stopping: tokio::sync::watch::Receiver<bool>,
    /// What tests SQL connections (the runtime's pools and egress policy).
    connectors: Option<crate::runtime::sql::Connectors>,
    /// What tests HTTP connections.
    http: Option<crate::runtime::egress::HttpEgress>,
    /// What tests message broker connections.
    brokers: Option<crate::runtime::brokers::Brokers>,
    /// Directories a connection may not point into (Junction's own files).
    protected_paths: std::sync::Arc<Vec<std::path::PathBuf>>,
    /// What runs flows here: asked what a flow coming up is doing.
    runtime: Option<std::sync::Arc<dyn crate::runtime::Runtime>>,
}

impl Service {
    pub fn new(store: Store, waker: Waker, sessions: auth::SessionPolicy) -> Self {
        Self {
            store,
            waker,
            sign_ins: Default::default(),
            callers: Default::default(),
            has_users: Default::default(),
            sessions,
            stopping: tokio::sync::watch::channel(false).1,
            connectors: None,
            http: None,
            brokers: None,
            protected_paths: Default::default(),
            runtime: None,
        }
    }

    /// The same service, telling what a flow coming up in `runtime` is doing.
    pub fn with_runtime(mut self, runtime: std::sync::Arc<dyn crate::runtime::Runtime>) -> Self {
        self.runtime = Some(runtime);
        self
    }

    /// The same service, testing connections through the runtime's connectors, and
    /// refusing connections into `protected` (the data directory).
    pub fn with_connectors(
        mut self,
        connectors: crate::runtime::sql::Connectors,
        http: crate::runtime::egress::HttpEgress,
        brokers: crate::runtime::brokers::Brokers,
        protected: Vec<std::path::PathBuf>,
    ) -> Self {
        self.connectors = Some(connectors);
        self.http = Some(http);
        self.brokers = Some(brokers);
        self.protected_paths = std::sync::Arc::new(protected);
        self
    }

    /// The same service, told by `stopping` when the server stops.
    pub fn stopped_by(mut self, stopping: tokio::sync::watch::Receiver<bool>) -> Self {
        self.stopping = stopping;
        self
    }

    /// Completes when the server begins to stop: what would hold a connection open
    /// for good (an event stream) ends then, so that the server can.
    pub fn stopping(&self) -> impl std::future::Future<Output = ()> + Send + use<> {
        let mut stopping = self.stopping.clone();
        async move {
            // A dropped sender means the server is gone: stop as well.
            let _ = stopping.wait_for(|stopping| *stopping).await;
        }
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
            StoreError::ConnectionTaken(name) => AppError::field(
                "name",
                format!("a connection named “{name}” already exists"),
            ),
            StoreError::SecretKey(message) => {
                tracing::error!(%message, "connection secrets cannot be read");
                AppError::Unavailable { message }
            }
            StoreError::TokenNameTaken(name) => {
                AppError::field("name", format!("you already have a token named “{name}”"))
            }
            StoreError::MaskedSecrets(fields) => AppError::ValidationFailed {
                fields: input::under_definition(fields).collect(),
            },
            StoreError::ImportRefused(fields) => AppError::ValidationFailed { fields },
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
