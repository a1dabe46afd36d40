//! The integration endpoints. Each handler reads its path, query and body, calls one
//! operation of the application layer, and answers JSON.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{ActivityJson, Caller, TransitionJson};
use super::{
    ApiError, ApiJson, ApiQuery, BlueprintBody, CreateBody, DiffJson, DraftBody, ErrorBody,
    IntegrationJson, OptionalJson, PageJson, PublishBody, VersionJson, path_id, path_version,
};
use crate::domain::definition::Definition;
use crate::domain::lifecycle::Action;
use crate::domain::{PageRequest, VersionRef};
use crate::error::AppError;
use crate::service::input::publish_note;
use crate::service::{BlueprintRequest, CreateRequest, DraftRequest, ListRequest, Service};

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
    State(service): State<Service>,
    Caller(who): Caller,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<PageJson<IntegrationJson>>, ApiError> {
    let request = ListRequest {
        state: params.state.as_deref(),
        name_contains: params.q.as_deref(),
        page: PageRequest::new(params.page, params.per_page),
    };
    Ok(Json(service.list_integrations(&who, request).await?.into()))
}

/// Create an integration (in Draft, with draft v1).
#[utoipa::path(post, path = "/api/v1/integrations", tag = "integrations", request_body = CreateBody,
    responses((status = 201, body = IntegrationJson, headers(("Location" = String), ("ETag" = String))),
              (status = 400, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(service): State<Service>,
    Caller(who): Caller,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<Response, ApiError> {
    let request = CreateRequest {
        name: &body.name,
        description: body.description.as_deref().unwrap_or(""),
        definition: body.definition.as_ref().map(Definition::parse),
    };
    Ok(created(service.create(&who, request).await?.into()))
}

/// Read an integration; its revision is also the `ETag`.
#[utoipa::path(get, path = "/api/v1/integrations/{id}", tag = "integrations",
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = IntegrationJson, headers(("ETag" = String))), (status = 404, body = ErrorBody)))]
pub async fn read(
    State(service): State<Service>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let summary = service.summary(&who, path_id(&id)?).await?;
    Ok(with_revision(StatusCode::OK, summary.into()))
}

/// Delete a never-published integration.
#[utoipa::path(delete, path = "/api/v1/integrations/{id}", tag = "integrations",
    params(("id" = String, Path, format = Uuid)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    State(service): State<Service>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    service
        .perform(&who, path_id(&id)?, &Action::Delete)
        .await?;
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
    State(service): State<Service>,
    Caller(who): Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DraftBody>,
) -> Result<Response, ApiError> {
    let id = path_id(&id)?;
    let request = DraftRequest {
        expected_revision: if_match(&headers)?,
        name: body.name.as_deref(),
        description: body.description.as_deref(),
        definition: Some(Definition::parse(&body.definition)),
    };
    let summary = service.save_draft(&who, id, request).await?;
    Ok(with_revision(StatusCode::OK, summary.into()))
}

/// The revision an edit is based on, from `If-Match`.
fn if_match(headers: &HeaderMap) -> Result<i64, AppError> {
    let Some(if_match) = headers.get(header::IF_MATCH) else {
        return Err(AppError::PreconditionRequired {
            message:
                "If-Match is required: send the revision you edited (the ETag of the integration)"
                    .into(),
        });
    };
    if_match
        .to_str()
        .ok()
        .map(|text| text.trim().trim_start_matches("W/").trim_matches('"'))
        .and_then(|text| text.parse::<i64>().ok())
        .ok_or_else(|| AppError::MalformedRequest {
            message: "If-Match must be a revision number, e.g. \"3\"".into(),
        })
}

/// Runs an action and answers 202 with the integration as it now stands.
async fn act(
    service: &Service,
    who: &crate::service::Principal,
    id: &str,
    action: Action,
) -> Result<Response, ApiError> {
    let summary = service.act(who, path_id(id)?, &action).await?;
    Ok(with_revision(StatusCode::ACCEPTED, summary.into()))
}

/// Discard the draft of a published integration.
#[utoipa::path(delete, path = "/api/v1/integrations/{id}/draft", tag = "integrations",
    params(("id" = String, Path, format = Uuid)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn discard_draft(
    State(service): State<Service>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    act(&service, &who, &id, Action::DiscardDraft).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Publish: freeze the draft as the new active version (or redeploy), target Active.
#[utoipa::path(post, path = "/api/v1/integrations/{id}/publish", tag = "integrations",
    params(("id" = String, Path, format = Uuid)), request_body(content = Option<PublishBody>),
    responses((status = 202, body = IntegrationJson), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn publish(
    State(service): State<Service>,
    Caller(who): Caller,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<PublishBody>,
) -> Result<Response, ApiError> {
    let note = publish_note(body.note.as_deref())?;
    act(&service, &who, &id, Action::Publish { note }).await
}

macro_rules! simple_action {
    ($name:ident, $path:literal, $action:expr, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "integrations",
            params(("id" = String, Path, format = Uuid)),
            responses((status = 202, body = IntegrationJson), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
        pub async fn $name(
            State(service): State<Service>,
            Caller(who): Caller,
            Path(id): Path<String>,
        ) -> Result<Response, ApiError> {
            act(&service, &who, &id, $action).await
        }
    };
}

simple_action!(
    stop,
    "/api/v1/integrations/{id}/stop",
    Action::Stop,
    "Stop: target Inactive."
);
simple_action!(
    start,
    "/api/v1/integrations/{id}/start",
    Action::Start,
    "Start: target Active, same version."
);
simple_action!(
    unpublish,
    "/api/v1/integrations/{id}/unpublish",
    Action::Unpublish,
    "Unpublish: target Deleted."
);
simple_action!(
    retry,
    "/api/v1/integrations/{id}/retry",
    Action::Retry,
    "Retry a failing integration now."
);

/// List versions, newest first.
#[utoipa::path(get, path = "/api/v1/integrations/{id}/versions", tag = "integrations",
    params(("id" = String, Path, format = Uuid), PageParams),
    responses((status = 200, body = PageJson<VersionJson>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn versions(
    State(service): State<Service>,
    Caller(who): Caller,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<PageJson<VersionJson>>, ApiError> {
    let page = params.request();
    Ok(Json(
        service.versions(&who, path_id(&id)?, page).await?.into(),
    ))
}

/// Read one version with its definition (secrets masked).
#[utoipa::path(get, path = "/api/v1/integrations/{id}/versions/{n}", tag = "integrations",
    params(("id" = String, Path, format = Uuid), ("n" = i64, Path, minimum = 1)),
    responses((status = 200, body = VersionJson), (status = 404, body = ErrorBody)))]
pub async fn version(
    State(service): State<Service>,
    Caller(who): Caller,
    Path((id, n)): Path<(String, String)>,
) -> Result<Json<VersionJson>, ApiError> {
    let id = path_id(&id)?;
    let number = path_version(id, &n)?;
    Ok(Json(service.version(&who, id, number).await?.into()))
}

/// Make version N the active version; target Active.
#[utoipa::path(post, path = "/api/v1/integrations/{id}/versions/{n}/activate", tag = "integrations",
    params(("id" = String, Path, format = Uuid), ("n" = i64, Path, minimum = 1)),
    responses((status = 202, body = IntegrationJson), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn activate(
    State(service): State<Service>,
    Caller(who): Caller,
    Path((id, n)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let number = path_version(path_id(&id)?, &n)?;
    act(&service, &who, &id, Action::Activate(number)).await
}

/// Replace the draft with a copy of version N; answers with the draft.
#[utoipa::path(post, path = "/api/v1/integrations/{id}/versions/{n}/restore", tag = "integrations",
    params(("id" = String, Path, format = Uuid), ("n" = i64, Path, minimum = 1)),
    responses((status = 200, body = VersionJson), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn restore(
    State(service): State<Service>,
    Caller(who): Caller,
    Path((id, n)): Path<(String, String)>,
) -> Result<Json<VersionJson>, ApiError> {
    let id = path_id(&id)?;
    let (_, draft) = service.restore(&who, id, path_version(id, &n)?).await?;
    Ok(Json(draft.into()))
}

/// New integration from version N (of any integration, even an unpublished one).
#[utoipa::path(post, path = "/api/v1/integrations/{id}/versions/{n}/blueprint", tag = "integrations",
    params(("id" = String, Path, format = Uuid), ("n" = i64, Path, minimum = 1)), request_body = BlueprintBody,
    responses((status = 201, body = IntegrationJson, headers(("Location" = String))), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn blueprint(
    State(service): State<Service>,
    Caller(who): Caller,
    Path((id, n)): Path<(String, String)>,
    ApiJson(body): ApiJson<BlueprintBody>,
) -> Result<Response, ApiError> {
    let integration_id = path_id(&id)?;
    let request = BlueprintRequest {
        source: VersionRef {
            integration_id,
            number: path_version(integration_id, &n)?,
        },
        name: Some(&body.name),
        description: body.description.as_deref(),
    };
    Ok(created(service.blueprint(&who, request).await?.into()))
}

/// The difference between two versions' definitions.
#[utoipa::path(get, path = "/api/v1/integrations/{id}/versions/{a}/diff/{b}", tag = "integrations",
    params(("id" = String, Path, format = Uuid), ("a" = i64, Path, minimum = 1), ("b" = i64, Path, minimum = 1)),
    responses((status = 200, body = DiffJson), (status = 404, body = ErrorBody)))]
pub async fn diff(
    State(service): State<Service>,
    Caller(who): Caller,
    Path((id, a, b)): Path<(String, String, String)>,
) -> Result<Json<DiffJson>, ApiError> {
    let id = path_id(&id)?;
    let (a, b) = (path_version(id, &a)?, path_version(id, &b)?);
    let diff = service.diff(&who, id, a, b).await?;
    Ok(Json(DiffJson {
        from: a.get(),
        to: b.get(),
        identical: diff.identical,
        unified: diff.unified,
        secrets_changed: diff.secrets_changed,
    }))
}

/// The transition log, newest first.
#[utoipa::path(get, path = "/api/v1/integrations/{id}/transitions", tag = "integrations",
    params(("id" = String, Path, format = Uuid), PageParams),
    responses((status = 200, body = PageJson<TransitionJson>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn transitions(
    State(service): State<Service>,
    Caller(who): Caller,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<PageJson<TransitionJson>>, ApiError> {
    let page = params.request();
    Ok(Json(
        service.transitions(&who, path_id(&id)?, page).await?.into(),
    ))
}

/// Recent activity, newest first.
#[utoipa::path(get, path = "/api/v1/integrations/{id}/activity", tag = "integrations",
    params(("id" = String, Path, format = Uuid), PageParams),
    responses((status = 200, body = PageJson<ActivityJson>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn activity(
    State(service): State<Service>,
    Caller(who): Caller,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<PageJson<ActivityJson>>, ApiError> {
    let page = params.request();
    Ok(Json(
        service.activity(&who, path_id(&id)?, page).await?.into(),
    ))
}
