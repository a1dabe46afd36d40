//! Export and import: an integration with its numbered history, as a document that
//! another server reads. Secrets never leave: flows are masked, connections appear
//! by name and kind. An import checks the whole document (format, fields, flows,
//! hashes, connections here) before it writes, and writes all or nothing.

use chrono::Utc;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

use super::{Principal, Service};
use crate::domain::access::Operation;
use crate::domain::audit::AuditEvent;
use crate::domain::connection::ConnectionKind;
use crate::domain::definition::Definition;
use crate::domain::lifecycle::{ActionKind, TargetState};
use crate::domain::transfer::{
    ConnectionMap, ConnectionRef, ExportDocument, ExportedDraft, ExportedIntegration,
    ExportedVersion, FORMAT, FORMAT_VERSION, Incoming, Promotion, read_document,
};
use crate::domain::version::VersionNumber;
use crate::domain::{IntegrationId, IntegrationName};
use crate::error::{AppError, FieldError};
use crate::store::transfer::{ImportOutcome, ImportPlan, NewPromotion};

/// What an export holds besides the integrations.
#[derive(Clone, Copy, Debug, Default)]
pub struct ExportOptions {
    /// Include each integration's transition log.
    pub transitions: bool,
    /// Only published versions up to this one, and no draft (what a promotion sends).
    pub up_to: Option<VersionNumber>,
}

/// An import as asked for.
#[derive(Debug, Default)]
pub struct ImportRequest<'a> {
    /// The document, as JSON.
    pub document: Option<&'a Value>,
    /// Connection names of the exporting server → names here.
    pub connections: ConnectionMap,
    /// Into this integration, rather than the one with the document's id.
    pub into: Option<IntegrationId>,
    /// The name of the integration when it is new here.
    pub name: Option<&'a str>,
    /// Then make this version the active one (the integration runs it).
    pub activate: Option<VersionNumber>,
}

/// A promotion as asked for: which version, to which `junction` connection, whether
/// the remote should run it, and how the flows' connections are named there.
#[derive(Debug, Default)]
pub struct PromoteRequest<'a> {
    pub remote: &'a str,
    pub activate: bool,
    pub connections: ConnectionMap,
}

impl Service {
    /// One integration as an export document.
    pub async fn export(
        &self,
        who: &Principal,
        id: IntegrationId,
        origin: &str,
        options: ExportOptions,
    ) -> Result<ExportDocument, AppError> {
        who.may(Operation::Read)?;
        let kinds = self.connection_kinds().await?;
        let integration = self.export_one(id, &kinds, options).await?;
        Ok(document(origin, vec![integration]))
    }

    /// Every integration that is not unpublished, as one export document.
    pub async fn export_all(
        &self,
        who: &Principal,
        origin: &str,
        options: ExportOptions,
    ) -> Result<ExportDocument, AppError> {
        who.may(Operation::Read)?;
        let kinds = self.connection_kinds().await?;
        let mut integrations = Vec::new();
        for summary in self.store.list_integrations().await? {
            if summary.target_state != TargetState::Deleted {
                integrations.push(self.export_one(summary.id, &kinds, options).await?);
            }
        }
        integrations.reverse();
        Ok(document(origin, integrations))
    }

    async fn connection_kinds(&self) -> Result<BTreeMap<String, ConnectionKind>, AppError> {
        Ok(self
            .store
            .connections()
            .await?
            .into_iter()
            .map(|connection| (connection.name, connection.kind))
            .collect())
    }

    async fn export_one(
        &self,
        id: IntegrationId,
        kinds: &BTreeMap<String, ConnectionKind>,
        options: ExportOptions,
    ) -> Result<ExportedIntegration, AppError> {
        let rows = self.store.export_rows(id).await?;
        let mut named = BTreeSet::new();
        let mut versions = Vec::new();
        for (version, kept_fingerprint) in rows.versions {
            if options
                .up_to
                .is_some_and(|last| version.summary.number > last)
            {
                continue;
            }
            let Some(published) = version.summary.published else {
                continue;
            };
            let definition = stored_flow(&version.definition)?;
            named.extend(
                definition
                    .connections()
                    .into_iter()
                    .map(|(_, n)| n.to_owned()),
            );
            versions.push(ExportedVersion {
                number: version.summary.number,
                definition: definition.masked().to_value(),
                note: published.note,
                published_by: published.by,
                published_at: published.at,
                content_hash: published.content_hash,
                secrets_fingerprint: kept_fingerprint
                    .or_else(|| self.store.secrets_fingerprint(&definition)),
            });
        }
        if let Some(last) = options.up_to
            && !versions.iter().any(|version| version.number == last)
        {
            return Err(AppError::NotFound {
                what: format!("published version {last} of integration {id}"),
            });
        }
        let draft = match (rows.draft, options.up_to) {
            (Some(draft), None) => {
                let definition = stored_flow(&draft.definition)?;
                named.extend(
                    definition
                        .connections()
                        .into_iter()
                        .map(|(_, n)| n.to_owned()),
                );
                Some(ExportedDraft {
                    number: draft.summary.number,
                    definition: definition.masked().to_value(),
                })
            }
            (Some(_), Some(_)) | (None, _) => None,
        };
        let transitions = match options.transitions {
            true => Some(self.store.all_transitions(id).await?),
            false => None,
        };
        Ok(ExportedIntegration {
            id,
            name: rows.integration.name.to_string(),
            description: rows.integration.description.clone(),
            versions,
            draft,
            connections: named
                .into_iter()
                .map(|name| ConnectionRef {
                    kind: kinds.get(&name).map(|kind| kind.as_str().to_owned()),
                    name,
                })
                .collect(),
            transitions,
        })
    }

    /// Imports a document: every integration in it, all or nothing. Nothing starts
    /// unless `activate` asks for it.
    pub async fn import(
        &self,
        who: &Principal,
        request: ImportRequest<'_>,
    ) -> Result<Vec<ImportOutcome>, AppError> {
        who.may(Operation::Import)?;
        if request.activate.is_some() {
            who.may(Operation::Act(ActionKind::Activate))?;
        }
        let Some(value) = request.document else {
            return Err(AppError::field(
                "document",
                "an export document is required",
            ));
        };
        let (_, mut incoming) =
            read_document(value).map_err(|errors| AppError::ValidationFailed {
                fields: errors
                    .into_iter()
                    .map(|error| FieldError::new(format!("document.{}", error.path), error.message))
                    .collect(),
            })?;
        let origin = value
            .get("exported_from")
            .and_then(Value::as_str)
            .unwrap_or("another server")
            .chars()
            .take(300)
            .collect::<String>();
        let mut errors = Vec::new();
        if incoming.len() != 1 {
            for (field, given) in [
                ("into", request.into.is_some()),
                ("name", request.name.is_some()),
                ("activate", request.activate.is_some()),
            ] {
                if given {
                    errors.push(FieldError::new(
                        field,
                        format!(
                            "applies to a document with one integration; this one has {}",
                            incoming.len()
                        ),
                    ));
                }
            }
        }
        let name = match request.name.map(IntegrationName::parse) {
            Some(Ok(name)) => Some(name),
            Some(Err(err)) => {
                errors.push(FieldError::new("name", err));
                None
            }
            None => None,
        };
        // Hashes first: they speak for the document as it was exported.
        let mut hashes = Vec::new();
        for integration in &incoming {
            let mut kept = Vec::new();
            for version in &integration.versions {
                let fingerprint = match version.definition.secrets().is_empty() {
                    true => None,
                    false => version.secrets_fingerprint.as_deref(),
                };
                let expected =
                    crate::store::versions::hash_of(&version.definition.masked(), fingerprint);
                if expected != version.content_hash {
                    errors.push(FieldError::new(
                        format!("document.{}.content_hash", version.at),
                        "does not match the version's flow: the document was changed after it \
                         was exported",
                    ));
                }
                kept.push(fingerprint.map(crate::store::versions::hex));
            }
            hashes.push(kept);
        }
        let (problems, renamed) = self
            .map_connections(&mut incoming, &request.connections)
            .await?;
        errors.extend(problems);
        if !errors.is_empty() {
            return Err(AppError::ValidationFailed { fields: errors });
        }
        let mut plans = Vec::new();
        for (integration, fingerprints) in incoming.iter().zip(hashes) {
            let mut stored = Vec::new();
            for (version, fingerprint) in integration.versions.iter().zip(fingerprints) {
                // A flow whose connections the mapping renamed is another flow here,
                // hashed by this server; otherwise it keeps the exporting server's hash.
                stored.push(match renamed.contains(&version.at) {
                    true => (self.store.content_hash(&version.definition), None),
                    false => (version.content_hash.clone(), fingerprint),
                });
            }
            plans.push(ImportPlan {
                incoming: integration,
                hashes: stored,
                into: request.into,
                name: name.clone(),
                origin: &origin,
                activate: request.activate,
                actor: who.actor(),
            });
        }
        let outcomes = self.store.import(&plans).await?;
        self.notify();
        let imported: Vec<String> = outcomes.iter().map(ImportOutcome::summary).collect();
        self.audit_event(
            who.user(),
            AuditEvent::IntegrationsImported,
            &origin,
            who.address(),
            &imported.join("; "),
        )
        .await?;
        Ok(outcomes)
    }

    /// Sends a version (with the history before it) to another Junction, which imports
    /// it, and runs it if asked; records what the remote answered, accepted or not.
    pub async fn promote(
        &self,
        who: &Principal,
        id: IntegrationId,
        number: VersionNumber,
        origin: &str,
        request: PromoteRequest<'_>,
    ) -> Result<Promotion, AppError> {
        who.may(Operation::Promote)?;
        let options = ExportOptions {
            transitions: false,
            up_to: Some(number),
        };
        let document = self.export(who, id, origin, options).await?;
        let connection = match self.store.open_connection(request.remote).await {
            Ok(connection) => connection,
            Err(crate::store::StoreError::NotFound(_)) => {
                return Err(AppError::field(
                    "remote",
                    format!("no connection is named {:?}", request.remote),
                ));
            }
            Err(err) => return Err(err.into()),
        };
        let remote = crate::runtime::egress::JunctionRemote::open(&connection)
            .map_err(|why| AppError::field("remote", why))?;
        let Some(http) = &self.http else {
            return Err(AppError::Unavailable {
                message: "this server makes no HTTP requests".into(),
            });
        };
        let mut body =
            serde_json::json!({ "document": document, "connections": request.connections });
        if request.activate {
            body["activate"] = Value::from(number.get());
        }
        let called = http
            .call_junction(
                &remote,
                reqwest::Method::POST,
                "/api/v1/import",
                Some(&body),
            )
            .await;
        let (ok, answer) = match called {
            Ok((200 | 201, answer)) => (
                true,
                answer["integrations"][0]["summary"]
                    .as_str()
                    .map_or_else(|| "imported".to_owned(), str::to_owned),
            ),
            Ok((status, answer)) => (
                false,
                format!(
                    "refused ({status}): {}",
                    crate::runtime::egress::remote_message(&answer)
                ),
            ),
            Err(why) => (false, why),
        };
        tracing::info!(integration = %id, version = %number, remote = %request.remote, ok, "promoted");
        self.audit_event(
            who.user(),
            AuditEvent::VersionPromoted,
            &format!("{number} of integration {id}"),
            who.address(),
            &format!(
                "to {} ({}): {}",
                request.remote,
                remote.url,
                match ok {
                    true => "taken",
                    false => "not taken",
                }
            ),
        )
        .await?;
        Ok(self
            .store
            .record_promotion(&NewPromotion {
                integration: id,
                version: number,
                remote: request.remote,
                remote_url: &remote.url,
                activate: request.activate,
                ok,
                answer: &answer,
                actor: who.actor(),
            })
            .await?)
    }

    /// The latest promotions of an integration's versions, newest first.
    pub async fn promotions(
        &self,
        who: &Principal,
        id: IntegrationId,
    ) -> Result<Vec<Promotion>, AppError> {
        who.may(Operation::Read)?;
        self.store.summary(id).await?;
        Ok(self.store.promotions(id, 100).await?)
    }

    /// The `junction` connections versions can be promoted through, for those who may.
    pub async fn remotes(&self, who: &Principal) -> Result<Vec<String>, AppError> {
        if who.may(Operation::Promote).is_err() {
            return Ok(Vec::new());
        }
        Ok(self
            .connection_kinds()
            .await?
            .into_iter()
            .filter(|(_, kind)| *kind == ConnectionKind::Junction)
            .map(|(name, _)| name)
            .collect())
    }

    /// Renames the connections the flows name as `map` says, and checks that each
    /// one is here, of the kind its step needs. A connection that is missing is named
    /// once, with how to map it. Answers the problems, and where a flow changed.
    async fn map_connections(
        &self,
        incoming: &mut [Incoming],
        map: &ConnectionMap,
    ) -> Result<(Vec<FieldError>, BTreeSet<String>), AppError> {
        let mut renamed = BTreeSet::new();
        let kinds = self.connection_kinds().await?;
        let mut errors = Vec::new();
        let mut named = BTreeSet::new();
        let mut missing = BTreeMap::new();
        for (index, integration) in incoming.iter_mut().enumerate() {
            let known: BTreeMap<String, Option<String>> = integration
                .connections
                .iter()
                .map(|c| (c.name.clone(), c.kind.clone()))
                .collect();
            let mut flows: Vec<(String, &mut Definition)> = integration
                .versions
                .iter_mut()
                .map(|version| (version.at.clone(), &mut version.definition))
                .collect();
            if let Some((_, draft)) = &mut integration.draft {
                flows.push((format!("integrations[{index}].draft"), draft));
            }
            for (at, definition) in flows {
                for (_, name) in definition.connections() {
                    named.insert(name.to_owned());
                }
                let before = definition.clone();
                definition.rename_connections(map);
                if *definition != before {
                    renamed.insert(at.clone());
                }
                let mut here = BTreeSet::new();
                for (place, name) in definition.connections() {
                    if kinds.contains_key(name) {
                        here.insert(place);
                        continue;
                    }
                    let from = map
                        .iter()
                        .find(|(_, to)| to.as_str() == name)
                        .map_or(name, |(from, _)| from.as_str());
                    missing
                        .entry(from.to_owned())
                        .or_insert_with(|| known.get(from).cloned().flatten());
                }
                // The connections that are here are of the kind each step needs: the
                // same check an edit gets, once per flow (the missing ones are named
                // above, once each).
                errors.extend(
                    definition
                        .check_connections(&|name| kinds.get(name).copied())
                        .into_iter()
                        .filter(|error| here.contains(&error.path))
                        .map(|error| {
                            FieldError::new(
                                format!("document.{at}.definition.{}", error.path),
                                error.message,
                            )
                        }),
                );
            }
        }
        for (from, to) in map {
            if !named.contains(from) {
                errors.push(FieldError::new(
                    format!("connections.{from}"),
                    format!("no flow in the document names a connection {from:?}"),
                ));
            } else if !kinds.contains_key(to) {
                errors.push(FieldError::new(
                    format!("connections.{from}"),
                    format!("there is no connection named {to:?} here"),
                ));
                missing.remove(from);
            }
        }
        for (name, kind) in missing {
            let kind = kind.map_or_else(String::new, |kind| format!(" {kind}"));
            errors.push(FieldError::new(
                format!("connections.{name}"),
                format!(
                    "the flows use the{kind} connection {name:?}, and there is none by that name \
                     here: make one, or map it to one that is (\"connections\": {{{name:?}: \
                     \"<name here>\"}})"
                ),
            ));
        }
        errors.dedup();
        Ok((errors, renamed))
    }
}

fn document(origin: &str, integrations: Vec<ExportedIntegration>) -> ExportDocument {
    ExportDocument {
        format: FORMAT.to_owned(),
        format_version: FORMAT_VERSION,
        exported_from: origin.to_owned(),
        exported_at: Utc::now(),
        integrations,
    }
}

fn stored_flow(value: &Value) -> Result<Definition, AppError> {
    Definition::parse(value).map_err(|errors| {
        super::internal(&std::io::Error::other(format!(
            "a stored flow does not parse: {errors:?}"
        )))
    })
}
