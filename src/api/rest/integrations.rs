//! The integration endpoints. Each handler parses its input into domain types, calls
//! one store function, wakes the reconciler after a change, and answers JSON.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{ActivityJson, TransitionJson};
use super::{
    ApiError, ApiJson, ApiQuery, BlueprintBody, CreateBody, DiffJson, DraftBody, ErrorBody,
    IntegrationJson, OptionalJson, PageJson, PublishBody, VersionJson, path_id, path_version,
};
use crate::domain::definition::Definition;
use crate::domain::lifecycle::State as LifecycleState;
use crate::domain::version::PublishNote;
use crate::domain::{Actor, NewIntegration, PageRequest, VersionRef};
use crate::error::AppError;
use crate::startup::AppState;
use crate::store::integrations::{Command, IntegrationFilter};

/// Who acts through the API: the `X-Junction-Actor` header, or "api".
fn actor(headers: &HeaderMap) -> Actor {
    let named = headers
        .get("x-junction-actor")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("api");
    Actor::user(named)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// A current state (`draft`, `active`, `inactive`, `deleted`, `error`); without it,
    /// all but the unpublished.
    state: Option<String>,
    /// A piece of the name, whatever its case.
    q: Option<String>,
    /// From 1.
    page: Option<u32>,
    /// 1 to 200; 50 by default.
    per_page: Option<u32>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageParams {
    page: Option<u32>,
    per_page: Option<u32>,
}

impl PageParams {
    fn request(&self) -> PageRequest {
        PageRequest::new(self.page, self.per_page)
    }
}

fn with_revision(status: StatusCode, integration: IntegrationJson) -> Response {
    let etag = HeaderValue::from_str(&format!("\"{}\"", integration.revision));
    let mut response = (status, Json(integration)).into_response();
    if let Ok(etag) = etag {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

fn created(integration: IntegrationJson) -> Response {
    let location = HeaderValue::from_str(&format!("/api/v1/integrations/{}", integration.id));
    let mut response = with_revision(StatusCode::CREATED, integration);
    if let Ok(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// List integrations, newest first.
#[utoipa::path(get, path = "/api/v1/integrations", tag = "integrations", params(ListParams),
    responses((status = 200, body = PageJson<IntegrationJson>),
              (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<PageJson<IntegrationJson>>, ApiError> {
    let filter_state = match params
        .state
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(name) => Some(LifecycleState::parse(name).ok_or_else(|| {
            AppError::field(
                "state",
                format!(
                    "unknown state {name:?} (expected draft, active, inactive, deleted or error)"
                ),
            )
        })?),
    };
    let filter = IntegrationFilter {
        state: filter_state,
        name_contains: params.q.filter(|q| !q.trim().is_empty()),
    };
    let page = PageRequest::new(params.page, params.per_page);
    Ok(Json(
        state.store.find_integrations(&filter, page).await?.into(),
    ))
}

/// Create an integration (in Draft, with draft v1).
#[utoipa::path(post, path = "/api/v1/integrations", tag = "integrations", request_body = CreateBody,
    responses((status = 201, body = IntegrationJson, headers(("Location" = String), ("ETag" = String))),
              (status = 400, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<Response, ApiError> {
    let (new, definition) = crate::api::parse_new(
        &body.name,
        body.description.as_deref().unwrap_or(""),
        body.definition.as_ref().map(Definition::parse),
    )?;
    let summary = state
        .store
        .create_integration(&new, definition.as_ref(), &actor(&headers))
        .await?;
    Ok(created(summary.into()))
}

/// Read an integration; its revision is also the `ETag`.
#[utoipa::path(get, path = "/api/v1/integrations/{id}", tag = "integrations",
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = IntegrationJson, headers(("ETag" = String))), (status = 404, body = ErrorBody)))]
pub async fn read(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = path_id(&id)?;
    Ok(with_revision(
        StatusCode::OK,
        state.store.summary(id).await?.into(),
    ))
}

/// Delete a never-published integration.
#[utoipa::path(delete, path = "/api/v1/integrations/{id}", tag = "integrations",
    params(("id" = String, Path, format = Uuid)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = path_id(&id)?;
    state
        .store
        .perform(id, &Command::Delete, &actor(&headers))
        .await?;
    state.waker.wake();
    Ok(StatusCode::NO_CONTENT)
}

/// Replace the draft (creating it from the active version if there is none), and
/// optionally rename. `If-Match` must carry the revision the change is based on.
#[utoipa::path(put, path = "/api/v1/integrations/{id}/draft", tag = "integrations",
    params(("id" = String, Path, format = Uuid), ("If-Match" = String, Header, description = "the revision, e.g. \"3\"")),
    request_body = DraftBody,
    responses((status = 200, body = IntegrationJson, headers(("ETag" = String))),
              (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 412, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 428, body = ErrorBody)))]
pub async fn save_draft(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DraftBody>,
) -> Result<Response, ApiError> {
    let id = path_id(&id)?;
    let Some(if_match) = headers.get(header::IF_MATCH) else {
        return Err(AppError::PreconditionRequired {
            message:
                "If-Match is required: send the revision you edited (the ETag of the integration)"
                    .into(),
        }
        .into());
    };
    let expected_revision = if_match
        .to_str()
        .ok()
        .map(|text| text.trim().trim_start_matches("W/").trim_matches('"'))
        .and_then(|text| text.parse::<i64>().ok())
        .ok_or_else(|| AppError::MalformedRequest {
            message: "If-Match must be a revision number, e.g. \"3\"".into(),
        })?;
    let edit = crate::api::parse_edit(
        expected_revision,
        body.name.as_deref(),
        body.description.as_deref(),
        Some(Definition::parse(&body.definition)),
    )?;
    let summary = state.store.edit_draft(id, &edit).await?;
    Ok(with_revision(StatusCode::OK, summary.into()))
}

/// Runs an action and answers 202 with the integration as it now stands.
async fn act(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
    command: Command,
) -> Result<Response, ApiError> {
    let id = path_id(id)?;
    let summary = state
        .store
        .perform(id, &command, &actor(headers))
        .await?
        .ok_or_else(|| AppError::NotFound {
            what: format!("integration {id}"),
        })?;
    state.waker.wake();
    Ok(with_revision(StatusCode::ACCEPTED, summary.into()))
}

/// Discard the draft of a published integration.
#[utoipa::path(delete, path = "/api/v1/integrations/{id}/draft", tag = "integrations",
    params(("id" = String, Path, format = Uuid)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn discard_draft(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    act(&state, &headers, &id, Command::DiscardDraft).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Publish: freeze the draft as the new active version (or redeploy), target Active.
#[utoipa::path(post, path = "/api/v1/integrations/{id}/publish", tag = "integrations",
    params(("id" = String, Path, format = Uuid)), request_body(content = Option<PublishBody>),
    responses((status = 202, body = IntegrationJson), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn publish(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<PublishBody>,
) -> Result<Response, ApiError> {
    let note = PublishNote::parse(body.note.as_deref().unwrap_or(""))
        .map_err(|err| AppError::field("note", err))?;
    act(&state, &headers, &id, Command::Publish { note }).await
}

macro_rules! simple_action {
    ($name:ident, $path:literal, $command:expr, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "integrations",
            params(("id" = String, Path, format = Uuid)),
            responses((status = 202, body = IntegrationJson), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
        pub async fn $name(
            State(state): State<AppState>,
            headers: HeaderMap,
            Path(id): Path<String>,
        ) -> Result<Response, ApiError> {
            act(&state, &headers, &id, $command).await
        }
    };
}

simple_action!(
    stop,
    "/api/v1/integrations/{id}/stop",
    Command::Stop,
    "Stop: target Inactive."
);
simple_action!(
    start,
    "/api/v1/integrations/{id}/start",
    Command::Start,
    "Start: target Active, same version."
);
simple_action!(
    unpublish,
    "/api/v1/integrations/{id}/unpublish",
    Command::Unpublish,
    "Unpublish: target Deleted."
);
simple_action!(
    retry,
    "/api/v1/integrations/{id}/retry",
    Command::Retry,
    "Retry a failing integration now."
);

/// List versions, newest first.
#[utoipa::path(get, path = "/api/v1/integrations/{id}/versions", tag = "integrations",
    params(("id" = String, Path, format = Uuid), PageParams),
    responses((status = 200, body = PageJson<VersionJson>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn versions(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<PageJson<VersionJson>>, ApiError> {
    let id = path_id(&id)?;
    Ok(Json(
        state.store.versions(id, params.request()).await?.into(),
    ))
}

/// Read one version with its definition (secrets masked).
#[utoipa::path(get, path = "/api/v1/integrations/{id}/versions/{n}", tag = "integrations",
    params(("id" = String, Path, format = Uuid), ("n" = i64, Path, minimum = 1)),
    responses((status = 200, body = VersionJson), (status = 404, body = ErrorBody)))]
pub async fn version(
    State(state): State<AppState>,
    Path((id, n)): Path<(String, String)>,
) -> Result<Json<VersionJson>, ApiError> {
    let id = path_id(&id)?;
    let number = path_version(id, &n)?;
    Ok(Json(state.store.version(id, number).await?.masked().into()))
}

/// Make version N the active version; target Active.
#[utoipa::path(post, path = "/api/v1/integrations/{id}/versions/{n}/activate", tag = "integrations",
    params(("id" = String, Path, format = Uuid), ("n" = i64, Path, minimum = 1)),
    responses((status = 202, body = IntegrationJson), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn activate(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, n)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let number = path_version(path_id(&id)?, &n)?;
    act(&state, &headers, &id, Command::Activate(number)).await
}

/// Replace the draft with a copy of version N; answers with the draft.
#[utoipa::path(post, path = "/api/v1/integrations/{id}/versions/{n}/restore", tag = "integrations",
    params(("id" = String, Path, format = Uuid), ("n" = i64, Path, minimum = 1)),
    responses((status = 200, body = VersionJson), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn restore(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, n)): Path<(String, String)>,
) -> Result<Json<VersionJson>, ApiError> {
    let integration = path_id(&id)?;
    let number = path_version(integration, &n)?;
    let summary = state
        .store
        .perform(
            integration,
            &Command::RestoreAsDraft(number),
            &actor(&headers),
        )
        .await?
        .ok_or_else(|| AppError::NotFound {
            what: format!("integration {integration}"),
        })?;
    let draft = summary.draft_version.ok_or_else(|| AppError::NotFound {
        what: format!("the draft of integration {integration}"),
    })?;
    Ok(Json(
        state
            .store
            .version(integration, draft)
            .await?
            .masked()
            .into(),
    ))
}

/// New integration from version N (of any integration, even an unpublished one).
#[utoipa::path(post, path = "/api/v1/integrations/{id}/versions/{n}/blueprint", tag = "integrations",
    params(("id" = String, Path, format = Uuid), ("n" = i64, Path, minimum = 1)), request_body = BlueprintBody,
    responses((status = 201, body = IntegrationJson, headers(("Location" = String))), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn blueprint(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, n)): Path<(String, String)>,
    ApiJson(body): ApiJson<BlueprintBody>,
) -> Result<Response, ApiError> {
    let integration_id = path_id(&id)?;
    let source = VersionRef {
        integration_id,
        number: path_version(integration_id, &n)?,
    };
    let new = NewIntegration::parse(&body.name, body.description.as_deref().unwrap_or(""))?;
    let summary = state
        .store
        .create_from_version(&source, &new, &actor(&headers))
        .await?;
    Ok(created(summary.into()))
}

/// The difference between two versions' definitions.
#[utoipa::path(get, path = "/api/v1/integrations/{id}/versions/{a}/diff/{b}", tag = "integrations",
    params(("id" = String, Path, format = Uuid), ("a" = i64, Path, minimum = 1), ("b" = i64, Path, minimum = 1)),
    responses((status = 200, body = DiffJson), (status = 404, body = ErrorBody)))]
pub async fn diff(
    State(state): State<AppState>,
    Path((id, a, b)): Path<(String, String, String)>,
) -> Result<Json<DiffJson>, ApiError> {
    let id = path_id(&id)?;
    let (a, b) = (path_version(id, &a)?, path_version(id, &b)?);
    let old = state.store.version(id, a).await?.masked();
    let new = state.store.version(id, b).await?.masked();
    let diff = crate::domain::diff::definitions(
        &old.definition,
        &new.definition,
        &a.to_string(),
        &b.to_string(),
    );
    Ok(Json(DiffJson {
        from: a.get(),
        to: b.get(),
        identical: diff.identical,
        unified: diff.unified,
    }))
}

/// The transition log, newest first.
#[utoipa::path(get, path = "/api/v1/integrations/{id}/transitions", tag = "integrations",
    params(("id" = String, Path, format = Uuid), PageParams),
    responses((status = 200, body = PageJson<TransitionJson>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn transitions(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<PageJson<TransitionJson>>, ApiError> {
    let id = path_id(&id)?;
    Ok(Json(
        state.store.transitions(id, params.request()).await?.into(),
    ))
}

/// Recent activity, newest first.
#[utoipa::path(get, path = "/api/v1/integrations/{id}/activity", tag = "integrations",
    params(("id" = String, Path, format = Uuid), PageParams),
    responses((status = 200, body = PageJson<ActivityJson>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn activity(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<PageJson<ActivityJson>>, ApiError> {
    let id = path_id(&id)?;
    Ok(Json(
        state.store.activity(id, params.request()).await?.into(),
    ))
}
