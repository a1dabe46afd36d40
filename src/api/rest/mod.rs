//! The JSON REST API under `/api/v1`: adapters over the same application layer as the
//! server functions (no second implementation of any rule), stable paths, one error
//! shape, and an OpenAPI document generated from this code at `/api/openapi.json`.

mod events;
mod integrations;
mod model;
mod users;

use axum::Json;
use axum::Router;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde::de::DeserializeOwned;
use serde_json::json;
use utoipa::OpenApi;

use crate::domain::IntegrationId;
use crate::domain::version::VersionNumber;
use crate::error::AppError;
use crate::service::{Principal, input};
use crate::startup::AppState;

pub use model::*;

/// The API's routes, to be merged into the server's router.
pub fn routes() -> Router<AppState> {
    use integrations as i;
    let v1 = Router::new()
        .route("/integrations", get(i::list).post(i::create))
        .route("/integrations/{id}", get(i::read).delete(i::delete))
        .route(
            "/integrations/{id}/draft",
            put(i::save_draft).delete(i::discard_draft),
        )
        .route("/integrations/{id}/publish", post(i::publish))
        .route("/integrations/{id}/stop", post(i::stop))
        .route("/integrations/{id}/start", post(i::start))
        .route("/integrations/{id}/unpublish", post(i::unpublish))
        .route("/integrations/{id}/retry", post(i::retry))
        .route("/integrations/{id}/versions", get(i::versions))
        .route("/integrations/{id}/versions/{n}", get(i::version))
        .route(
            "/integrations/{id}/versions/{n}/activate",
            post(i::activate),
        )
        .route("/integrations/{id}/versions/{n}/restore", post(i::restore))
        .route(
            "/integrations/{id}/versions/{n}/blueprint",
            post(i::blueprint),
        )
        .route("/integrations/{id}/versions/{a}/diff/{b}", get(i::diff))
        .route("/integrations/{id}/transitions", get(i::transitions))
        .route("/integrations/{id}/activity", get(i::activity))
        .route("/events", get(events::stream))
        .route("/users", get(users::list).post(users::add))
        .route("/users/{name}", axum::routing::patch(users::change))
        // Unknown paths and methods under /api/v1 answer in the API's shape, not HTML.
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY));
    Router::new()
        .route("/api/openapi.json", get(openapi))
        .nest("/api/v1", v1)
}

async fn method_not_allowed() -> ApiError {
    ApiError(AppError::MalformedRequest {
        message: "this method is not allowed on this path".into(),
    })
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Junction API",
        description = "Integrations, their versions and every action on them. Errors always \
                       have the shape {\"error\": {\"code\", \"message\", \"details\"}}."
    ),
    paths(
        integrations::list, integrations::create, integrations::read, integrations::delete,
        integrations::save_draft, integrations::discard_draft, integrations::publish,
        integrations::stop, integrations::start, integrations::unpublish, integrations::retry,
        integrations::versions, integrations::version, integrations::activate,
        integrations::restore, integrations::blueprint, integrations::diff,
        integrations::transitions, integrations::activity, events::stream,
        users::list, users::add, users::change,
    ),
    components(schemas(
        IntegrationJson, ReconcileJson, VersionJson, VersionRefJson, TransitionJson, ActivityJson,
        DiffJson, CreateBody, DraftBody, PublishBody, BlueprintBody, ErrorBody, ErrorJson,
        FieldErrorJson, PageJson<IntegrationJson>, PageJson<VersionJson>,
        PageJson<TransitionJson>, PageJson<ActivityJson>, UserJson, UserBody, UserPatchBody,
    )),
    tags((name = "integrations", description = "Integrations and their lifecycle"),
         (name = "users", description = "Users and their roles (administrators only)"))
)]
pub struct ApiDoc;

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

async fn not_found() -> ApiError {
    ApiError(AppError::NotFound {
        what: "this API path".into(),
    })
}

/// An error answered in the API's one shape.
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(err: AppError) -> Self {
        Self(err)
    }
}

/// Who calls the API: the `X-Junction-Actor` header, or "api".
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let named = parts
            .headers
            .get("x-junction-actor")
            .and_then(|value| value.to_str().ok())
            .unwrap_or("api");
        Ok(Self(Principal::api_client(named)))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let err = self.0;
        let details = match &err {
            AppError::ValidationFailed { fields } => json!({ "fields": fields }),
            AppError::InvalidTransition {
                current_state,
                target_state,
                allowed_actions,
                ..
            } => json!({
                "current_state": current_state,
                "target_state": target_state,
                "allowed_actions": allowed_actions,
            }),
            AppError::RevisionMismatch {
                expected_revision,
                current_revision,
            } => {
                json!({ "expected_revision": expected_revision, "current_revision": current_revision })
            }
            AppError::Internal { request_id } => json!({ "request_id": request_id }),
            AppError::PreconditionRequired { .. }
            | AppError::Forbidden { .. }
            | AppError::PayloadTooLarge { .. }
            | AppError::MalformedRequest { .. }
            | AppError::NotFound { .. }
            | AppError::Unreachable { .. } => json!({}),
        };
        let status =
            StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = json!({ "error": { "code": err.code(), "message": err.to_string(), "details": details } });
        (status, Json(body)).into_response()
    }
}

/// A JSON body, with every way it can be wrong answered in the API's shape: not JSON,
/// wrong types, unknown fields, wrong content type (400), too large (413).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// A JSON body that may be left out entirely (an empty body is the default value).
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let declared_empty = request
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .is_some_and(|length| length == "0");
        let untyped = !request
            .headers()
            .contains_key(axum::http::header::CONTENT_TYPE);
        if declared_empty || untyped {
            let bytes = axum::body::to_bytes(request.into_body(), MAX_BODY)
                .await
                .map_err(|_| ApiError(AppError::PayloadTooLarge { limit: MAX_BODY }))?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(Self(T::default()));
            }
            return serde_json::from_slice(&bytes).map(Self).map_err(|err| {
                ApiError(AppError::MalformedRequest {
                    message: format!("the body is not valid: {err}"),
                })
            });
        }
        ApiJson::<T>::from_request(request, state)
            .await
            .map(|ApiJson(value)| Self(value))
    }
}

/// The largest request body the API reads.
pub const MAX_BODY: usize = 1024 * 1024;

fn json_rejection(rejection: JsonRejection) -> ApiError {
    let message = match &rejection {
        JsonRejection::MissingJsonContentType(_) => {
            "expected a JSON body with Content-Type: application/json".to_owned()
        }
        JsonRejection::JsonSyntaxError(err) => format!("the body is not JSON: {}", err.body_text()),
        JsonRejection::JsonDataError(err) => format!("the body is not valid: {}", err.body_text()),
        JsonRejection::BytesRejection(_) => {
            return ApiError(AppError::PayloadTooLarge { limit: MAX_BODY });
        }
        other => other.body_text(),
    };
    ApiError(AppError::MalformedRequest { message })
}

/// Query parameters, answered in the API's shape when they do not parse.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Self(value))
            .map_err(|rejection: QueryRejection| {
                ApiError(AppError::MalformedRequest {
                    message: format!("the query string is not valid: {}", rejection.body_text()),
                })
            })
    }
}

/// An id in a path: anything that is not a UUID names no integration.
pub fn path_id(id: &str) -> Result<IntegrationId, ApiError> {
    Ok(input::integration_id(id)?)
}

/// A version number in a path: anything else names no version.
pub fn path_version(id: IntegrationId, number: &str) -> Result<VersionNumber, ApiError> {
    Ok(input::version_in_path(id, number)?)
}
