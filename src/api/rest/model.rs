//! The JSON the API speaks, with its OpenAPI schemas. Times are RFC 3339; states are
//! lower-case names.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::domain::activity::ActivityEntry;
use crate::domain::lifecycle::{State, TargetState};
use crate::domain::reconcile::Phase;
use crate::domain::{IntegrationSummary, Page, Transition, Version, VersionSummary};

/// An integration as it now stands.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IntegrationJson {
    #[schema(format = Uuid)]
    pub id: String,
    pub name: String,
    pub description: String,
    pub current_state: State,
    /// Never `error`.
    pub target_state: TargetState,
    /// True while the current state (or running version) differs from the target.
    pub pending: bool,
    /// The version the user wants running.
    pub active_version: Option<i64>,
    /// The version actually running.
    pub current_version: Option<i64>,
    pub draft_version: Option<i64>,
    /// Send it back as `If-Match` when updating the draft.
    pub revision: i64,
    pub reconcile: ReconcileJson,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The reconciler's progress.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReconcileJson {
    /// The sub-step while Pending.
    pub phase: Option<Phase>,
    pub attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub gave_up: bool,
}

impl From<IntegrationSummary> for IntegrationJson {
    fn from(summary: IntegrationSummary) -> Self {
        let pending = summary.pending();
        Self {
            id: summary.id.to_string(),
            name: summary.name,
            description: summary.description,
            current_state: summary.current_state,
            target_state: summary.target_state,
            pending,
            active_version: summary.active_version.map(|n| n.get()),
            current_version: summary.current_version.map(|n| n.get()),
            draft_version: summary.draft_version.map(|n| n.get()),
            revision: summary.revision,
            reconcile: ReconcileJson {
                phase: summary.reconcile.phase,
                attempts: summary.reconcile.attempts,
                next_attempt_at: summary.reconcile.next_attempt_at,
                last_error: summary.reconcile.last_error,
                gave_up: summary.reconcile.gave_up,
            },
            created_at: summary.created_at,
            updated_at: summary.updated_at,
        }
    }
}

/// A version; `definition` only when one version is asked for (secrets masked).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VersionJson {
    pub number: i64,
    /// True for the draft; false once published (frozen).
    pub draft: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The version the draft was started from.
    pub based_on: Option<i64>,
    /// For a blueprint: the version it copies.
    pub source: Option<VersionRefJson>,
    pub published_at: Option<DateTime<Utc>>,
    pub published_by: Option<String>,
    pub note: Option<String>,
    /// SHA-256 of the canonical definition.
    pub content_hash: Option<String>,
    /// For a version imported from another server: its address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported_from: Option<String>,
    /// When it was imported here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub definition: Option<Value>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VersionRefJson {
    pub integration_id: String,
    pub version: i64,
}

impl From<VersionSummary> for VersionJson {
    fn from(version: VersionSummary) -> Self {
        let published = version.published;
        Self {
            number: version.number.get(),
            draft: published.is_none(),
            created_at: version.created_at,
            updated_at: version.updated_at,
            based_on: version.based_on.map(|n| n.get()),
            source: version.source.map(|source| VersionRefJson {
                integration_id: source.integration_id.to_string(),
                version: source.number.get(),
            }),
            published_at: published.as_ref().map(|p| p.at),
            published_by: published.as_ref().map(|p| p.by.clone()),
            note: published.as_ref().and_then(|p| p.note.clone()),
            imported_from: published
                .as_ref()
                .and_then(|p| p.imported.as_ref())
                .map(|i| i.from.clone()),
            imported_at: published
                .as_ref()
                .and_then(|p| p.imported.as_ref())
                .map(|i| i.at),
            content_hash: published.map(|p| p.content_hash),
            definition: None,
        }
    }
}

impl From<Version> for VersionJson {
    fn from(version: Version) -> Self {
        let definition = version.definition;
        Self {
            definition: Some(definition),
            ..Self::from(version.summary)
        }
    }
}

/// One recorded change of a state or version.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TransitionJson {
    pub id: i64,
    pub version: Option<i64>,
    /// `current_state`, `target_state`, `current_version` or `target_version`.
    pub field: String,
    pub from: Option<String>,
    pub to: Option<String>,
    /// A person's name, `api`, or `reconciler`.
    pub actor: String,
    pub reason: String,
    pub at: DateTime<Utc>,
}

impl From<Transition> for TransitionJson {
    fn from(t: Transition) -> Self {
        Self {
            id: t.id,
            version: t.version.map(|n| n.get()),
            field: t.field,
            from: t.from,
            to: t.to,
            actor: t.actor,
            reason: t.reason,
            at: t.at,
        }
    }
}

/// One message through one version of a flow.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ActivityJson {
    pub id: i64,
    pub version: i64,
    /// `webhook` or `timer`.
    pub trigger: String,
    pub started_at: DateTime<Utc>,
    pub duration_us: i64,
    /// `ok`, `filtered` or `failed`.
    pub outcome: String,
    /// Each step: `index`, `kind`, `outcome`, `detail`.
    pub steps: Value,
    pub error: Option<String>,
}

impl From<ActivityEntry> for ActivityJson {
    fn from(a: ActivityEntry) -> Self {
        Self {
            id: a.id,
            version: a.version.get(),
            trigger: a.trigger,
            started_at: a.started_at,
            duration_us: a.duration_us,
            outcome: a.outcome,
            steps: a.steps,
            error: a.error,
        }
    }
}

/// The difference between the pretty-printed definitions of two versions.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DiffJson {
    pub from: i64,
    pub to: i64,
    /// Nothing differs, secrets included.
    pub identical: bool,
    /// A unified diff, as `diff -u` prints it (secrets masked).
    pub unified: String,
    /// Where a secret differs ("a secret changed"): places, never values.
    pub secrets_changed: Vec<String>,
}

/// A page of a longer list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PageJson<T> {
    pub items: Vec<T>,
    pub page: u32,
    pub per_page: u32,
    pub total: u64,
}

pub type IntegrationPage = PageJson<IntegrationJson>;
pub type VersionPage = PageJson<VersionJson>;
pub type TransitionPage = PageJson<TransitionJson>;
pub type ActivityPage = PageJson<ActivityJson>;

impl<T, U: Into<T>> From<Page<U>> for PageJson<T> {
    fn from(page: Page<U>) -> Self {
        Self {
            items: page.items.into_iter().map(Into::into).collect(),
            page: page.page,
            per_page: page.per_page,
            total: page.total,
        }
    }
}

/// A new integration.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// The flow of its first draft; a starter webhook when left out.
    #[serde(default)]
    pub definition: Option<Value>,
}

/// A new state of the draft (and of the name and description).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftBody {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    pub definition: Value,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishBody {
    /// Up to 500 characters.
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlueprintBody {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
}

/// A user, as administrators see them (never a password or its hash).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserJson {
    pub name: String,
    pub display_name: String,
    pub role: crate::domain::access::Role,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

impl From<crate::domain::user::User> for UserJson {
    fn from(user: crate::domain::user::User) -> Self {
        Self {
            name: user.name.to_string(),
            display_name: user.display_name,
            role: user.role,
            disabled: user.disabled,
            created_at: user.created_at,
        }
    }
}

/// A user to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserBody {
    /// 1 to 64 characters from a-z, 0-9, `.`, `_` and `-`; not `reconciler`.
    pub name: String,
    /// 10 to 1,024 characters.
    pub password: String,
    /// `viewer`, `editor` or `admin`.
    pub role: String,
    #[serde(default)]
    pub display_name: Option<String>,
}

/// A change to a user; fields left out stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatchBody {
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub disabled: Option<bool>,
    #[serde(default)]
    pub password: Option<String>,
}

/// The caller, as the API sees them.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MeJson {
    pub name: String,
    pub display_name: String,
    pub role: crate::domain::access::Role,
}

/// A personal API token (never the token itself, except once in [`NewTokenJson`]).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenJson {
    pub id: String,
    pub user: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<crate::domain::token::TokenInfo> for TokenJson {
    fn from(token: crate::domain::token::TokenInfo) -> Self {
        Self {
            id: token.id,
            user: token.user.to_string(),
            name: token.name,
            created_at: token.created_at,
            expires_at: token.expires_at,
            last_used_at: token.last_used_at,
        }
    }
}

/// A token just made: `token` is shown this once; send it as
/// `Authorization: Bearer <token>`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NewTokenJson {
    pub token: String,
    #[serde(flatten)]
    pub info: TokenJson,
}

/// A token to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    /// 1 to 64 characters, unique among the user's tokens.
    pub name: String,
    /// 1 to 3650; left out, the token lives until revoked.
    #[serde(default)]
    pub expires_in_days: Option<i64>,
}

/// One entry of the audit log.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditJson {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// Who acted; for a failed sign-in, the name that was typed.
    pub actor: String,
    pub event: crate::domain::audit::AuditEvent,
    /// What it was done to: a user, or a token as `user/token name`.
    pub subject: String,
    /// The address the request came from.
    pub address: String,
    pub detail: String,
}

impl From<crate::domain::audit::AuditEntry> for AuditJson {
    fn from(entry: crate::domain::audit::AuditEntry) -> Self {
        Self {
            id: entry.id,
            at: entry.at,
            actor: entry.actor,
            event: entry.event,
            subject: entry.subject,
            address: entry.address,
            detail: entry.detail,
        }
    }
}

/// Every error has this shape.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorJson,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorJson {
    /// `malformed_request`, `unauthenticated`, `forbidden`, `not_found`,
    /// `invalid_transition`, `revision_mismatch`, `validation_failed`,
    /// `payload_too_large`, `too_many_attempts` or `internal`.
    pub code: String,
    pub message: String,
    /// `fields` (validation_failed); `current_state`, `target_state`, `allowed_actions`
    /// (invalid_transition); `expected_revision`, `current_revision` (revision_mismatch);
    /// `request_id` (internal).
    pub details: Value,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FieldErrorJson {
    /// Where, e.g. `definition.steps[2].url`.
    pub path: String,
    pub message: String,
}

/// A connection as created or replaced. Which settings and secrets there are depends
/// on the kind: `postgres` and `mysql` take `host`, `port`, `database`, `user` and
/// `tls` (`disable`, `prefer`, `require`, `verify_full`) and the secret `password`;
/// `sqlite` takes `path`; `http` takes `base_url` and `auth` (`none`, `bearer` with the
/// secret `token`, `basic` with `user` and the secret `password`, `header` with
/// `header` and the secret `value`). A secret sent as `{"set": true}` (or left out)
/// keeps the stored value; `null` removes it.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ConnectionBody {
    /// 1 to 64 characters from a-z, 0-9, `-`, `_` and `.`; on PUT, the name in the
    /// path (and may be left out).
    pub name: Option<String>,
    /// `postgres`, `mysql`, `sqlite` or `http`.
    pub kind: String,
    pub settings: serde_json::Value,
    #[serde(default)]
    pub secrets: Option<serde_json::Value>,
    /// Whether it may reach private and loopback addresses (administrators only).
    #[serde(default)]
    pub allow_private: Option<bool>,
}

/// A connection as answered: its settings and, for each secret, only whether it is
/// set. Viewers get the name and kind (and no settings).
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionJson {
    pub name: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<serde_json::Value>,
    /// Each secret the kind takes, as `{"set": true}` or `{"set": false}`.
    pub secrets: std::collections::BTreeMap<String, crate::domain::connection::SecretState>,
    pub allow_private: bool,
    /// Goes up with every change.
    pub revision: i64,
    #[serde(with = "crate::json::utc")]
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub updated_by: String,
}

impl From<crate::domain::connection::ConnectionView> for ConnectionJson {
    fn from(view: crate::domain::connection::ConnectionView) -> Self {
        Self {
            name: view.name,
            kind: view.kind.as_str().to_owned(),
            settings: view.settings,
            secrets: view.secrets,
            allow_private: view.allow_private,
            revision: view.revision,
            updated_at: view.updated_at,
            updated_by: view.updated_by,
        }
    }
}

/// An export: a format version, where and when it was made, and each integration
/// with its published versions (flows with secrets left out, notes, authors, times,
/// content hashes), its draft, the connections it names (name and kind only) and,
/// when asked for, its transition log. `POST /api/v1/import` reads it back.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ExportJson {
    /// Always `junction-export`.
    pub format: String,
    /// 1.
    pub format_version: u64,
    pub exported_from: String,
    pub exported_at: DateTime<Utc>,
    /// Each `{id, name, description, versions: [{number, definition, note,
    /// published_by, published_at, content_hash, secrets_fingerprint?}], draft?:
    /// {number, definition}, connections: [{name, kind}], transitions?: [...]}`.
    pub integrations: Vec<Value>,
}

/// An import: the export document, how to map the connections its flows name to
/// connections here, and where it goes.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportBody {
    /// The document `GET .../export` answered.
    pub document: Value,
    /// Connection names in the document → connection names here, e.g.
    /// `{"orders-db": "orders-db-prod"}`; a name left out must exist here as it is.
    #[serde(default)]
    pub connections: std::collections::BTreeMap<String, String>,
    /// Append to this integration rather than the one with the document's id (a
    /// document with one integration).
    #[serde(default)]
    #[schema(format = Uuid)]
    pub into: Option<String>,
    /// The name, if the integration is new here (else the document's).
    #[serde(default)]
    pub name: Option<String>,
    /// Then make this version the active one: the integration runs it. Without it,
    /// nothing starts.
    #[serde(default)]
    pub activate: Option<i64>,
}

/// What an import did, per integration.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ImportJson {
    pub integrations: Vec<ImportedJson>,
}

/// What an import did to one integration.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ImportedJson {
    pub integration: IntegrationJson,
    /// The integration is new here.
    pub created: bool,
    /// Versions added, oldest first.
    pub added: Vec<i64>,
    /// Versions that were here already, identical.
    pub unchanged: Vec<i64>,
    pub draft_added: Option<i64>,
    /// Why the document's draft was not added.
    pub draft_skipped: Option<String>,
    /// Places in added versions whose own secrets the export left out: those versions
    /// do not run until they are set (restore as draft, set, publish).
    pub secrets_left_out: Vec<String>,
    /// What happened, in a sentence.
    pub summary: String,
}

impl From<crate::service::ImportOutcome> for ImportedJson {
    fn from(report: crate::service::ImportOutcome) -> Self {
        let summary = report.summary();
        Self {
            integration: report.integration.into(),
            created: report.created,
            added: report.added.iter().map(|n| n.get()).collect(),
            unchanged: report.unchanged.iter().map(|n| n.get()).collect(),
            draft_added: report.draft_added.map(|n| n.get()),
            draft_skipped: report.draft_skipped,
            secrets_left_out: report.secrets_left_out,
            summary,
        }
    }
}

/// A promotion: version N goes to the Junction a `junction` connection reaches.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromoteBody {
    /// The `junction` connection.
    pub remote: String,
    /// The remote then runs it.
    #[serde(default)]
    pub activate: bool,
    /// Connection names here → names on the remote, where they differ.
    #[serde(default)]
    pub connections: std::collections::BTreeMap<String, String>,
}

/// A recorded promotion and what the remote answered.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PromotionJson {
    pub id: i64,
    pub version: i64,
    pub remote: String,
    pub remote_url: String,
    pub activate: bool,
    /// Whether the remote took it.
    pub ok: bool,
    pub answer: String,
    pub actor: String,
    pub at: DateTime<Utc>,
}

impl From<crate::domain::transfer::Promotion> for PromotionJson {
    fn from(p: crate::domain::transfer::Promotion) -> Self {
        Self {
            id: p.id,
            version: p.version.get(),
            remote: p.remote,
            remote_url: p.remote_url,
            activate: p.activate,
            ok: p.ok,
            answer: p.answer,
            actor: p.actor,
            at: p.at,
        }
    }
}
