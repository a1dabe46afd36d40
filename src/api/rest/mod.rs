//! The JSON REST API under `/api/v1`: adapters over the same application layer as the
//! server functions (no second implementation of any rule), stable paths, one error
//! shape, and an OpenAPI document generated from this code at `/api/openapi.json`.

mod account;
mod connections;
pub mod events;
mod integrations;
mod model;
mod transfer;
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
        .route("/integrations/{id}/export", get(transfer::export))
        .route("/integrations/{id}/promotions", get(transfer::promotions))
        .route(
            "/integrations/{id}/versions/{n}/promote",
            post(transfer::promote),
        )
        .route("/export", get(transfer::export_all))
        .route(
            "/import",
            post(transfer::import).layer(axum::extract::DefaultBodyLimit::max(MAX_IMPORT_BODY)),
        )
        .route(
            "/connections",
            get(connections::list).post(connections::create),
        )
        .route(
            "/connections/{name}",
            get(connections::read)
                .put(connections::replace)
                .delete(connections::delete),
        )
        .route("/connections/{name}/test", post(connections::test))
        .route("/events", get(events::stream))
        .route("/me", get(account::me))
        .route(
            "/tokens",
            get(account::list_tokens).post(account::create_token),
        )
        .route("/tokens/{id}", axum::routing::delete(account::revoke_token))
        .route("/audit", get(account::audit))
        .route("/users", get(users::list).post(users::add))
        .route("/users/{name}", axum::routing::patch(users::change))
        // Unknown paths and methods under /api/v1 answer in the API's shape, not HTML.
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY));
    Router::new()
        .route("/api/openapi.json", get(openapi))
        .route(METRICS_PATH, get(metrics))
        .nest("/api/v1", v1)
}

/// Where Prometheus scrapes: behind the same sign-in as the API (a bearer token).
pub const METRICS_PATH: &str = "/metrics";

/// `GET /metrics`: the server's numbers in the Prometheus text format, for anyone
/// who may read integrations.
async fn metrics(
    axum::extract::State(metrics): axum::extract::State<crate::metrics::Metrics>,
    Caller(who): Caller,
) -> Result<Response, ApiError> {
    who.may(crate::domain::access::Operation::Read)
        .map_err(ApiError)?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            crate::metrics::Metrics::CONTENT_TYPE,
        )],
        metrics.encode(),
    )
        .into_response())
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
        users::list, users::add, users::change, account::me, account::list_tokens,
        account::create_token, account::revoke_token, account::audit,
        connections::list, connections::create, connections::read, connections::replace,
        connections::delete, connections::test, transfer::export, transfer::export_all,
        transfer::import, transfer::promote, transfer::promotions,
    ),
    components(schemas(
        IntegrationJson, ReconcileJson, VersionJson, VersionRefJson, TransitionJson, ActivityJson,
        DiffJson, CreateBody, DraftBody, PublishBody, BlueprintBody, ErrorBody, ErrorJson,
        FieldErrorJson, PageJson<IntegrationJson>, PageJson<VersionJson>,
        PageJson<TransitionJson>, PageJson<ActivityJson>, UserJson, UserBody, UserPatchBody,
        MeJson, TokenJson, NewTokenJson, TokenBody, AuditJson, ConnectionBody, ConnectionJson,
        crate::service::TestResult, crate::domain::connection::SecretState, ExportJson,
        ImportBody, ImportJson, ImportedJson, PromoteBody, PromotionJson,
    )),
    modifiers(&SecuritySchemes),
    security(("bearer" = [])),
    tags((name = "integrations", description = "Integrations and their lifecycle"),
         (name = "users", description = "Users and their roles (administrators only)"),
         (name = "connections", description = "Named database and service connections; secrets are write-only"),
         (name = "account", description = "The caller, their API tokens, and the audit log"))
)]
pub struct ApiDoc;

/// The API's credentials: a personal token as a bearer token (every operation), and
/// HTTP Basic for making a token from a name and password.
struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A personal API token (POST /api/v1/tokens, or the Tokens page)",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
        );
        // Every operation may be refused: nobody signed in (401), a role that may not
        // (403). Declared once here rather than on each operation.
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                let responses = &mut operation.responses.responses;
                responses.entry("401".into()).or_insert_with(|| {
                    error("Nobody is signed in, or the token is not valid").into()
                });
                responses.entry("403".into()).or_insert_with(|| {
                    error(
                        "The caller's role may not do this, or the request came from another site",
                    )
                    .into()
                });
            }
        }
    }
}

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

/// Who calls the API: the signed-in user (a bearer token, or the browser's session).
/// Nobody signed in is answered 401 before the handler runs.
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let caller = parts
            .extensions
            .get::<crate::api::auth::Caller>()
            .ok_or_else(|| {
                crate::service::internal(&std::io::Error::other(
                    "the caller was not identified (the auth layer is missing)",
                ))
            })?;
        Ok(Self(caller.principal()?))
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
            AppError::InUse { users, .. } => json!({ "users": users }),
            AppError::TooManyAttempts { retry_after_secs } => {
                json!({ "retry_after_secs": retry_after_secs })
            }
            AppError::PreconditionRequired { .. }
            | AppError::Unauthenticated { .. }
            | AppError::Forbidden { .. }
            | AppError::PayloadTooLarge { .. }
            | AppError::MalformedRequest { .. }
            | AppError::NotFound { .. }
            | AppError::Unreachable { .. }
            | AppError::Unavailable { .. } => json!({}),
        };
        let status =
            StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = json!({ "error": { "code": err.code(), "message": err.to_string(), "details": details } });
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        match &err {
            AppError::Unauthenticated { .. } => {
                headers.insert(
                    axum::http::header::WWW_AUTHENTICATE,
                    axum::http::HeaderValue::from_static("Bearer realm=\"junction\""),
                );
            }
            AppError::TooManyAttempts { retry_after_secs } => {
                headers.insert(axum::http::header::RETRY_AFTER, (*retry_after_secs).into());
            }
            AppError::Unavailable { .. } => {
                headers.insert(axum::http::header::RETRY_AFTER, 1.into());
            }
            _ => {}
        }
        response
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

/// The largest import document: a long history of large flows.
pub const MAX_IMPORT_BODY: usize = 16 * 1024 * 1024;

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
