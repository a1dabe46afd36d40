//! The caller, their API tokens, and the audit log. `POST /api/v1/tokens` also takes
//! HTTP Basic credentials, so that a script can turn a name and password into a token.

use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::net::SocketAddr;

use super::{
    ApiError, ApiJson, ApiQuery, AuditJson, Caller, ErrorBody, MeJson, NewTokenJson, TokenBody,
    TokenJson,
};
use crate::error::AppError;
use crate::service::{Principal, Service};

/// Who the caller is.
#[utoipa::path(get, path = "/api/v1/me", tag = "account", operation_id = "whoami",
    responses((status = 200, body = MeJson), (status = 401, body = ErrorBody)))]
pub async fn me(Caller(who): Caller) -> Json<MeJson> {
    Json(MeJson {
        name: who.user().to_owned(),
        display_name: who.display_name().to_owned(),
        role: who.role(),
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokensQuery {
    /// Every user's tokens (administrators).
    #[serde(default)]
    all: bool,
}

/// The caller's tokens (with `?all=true`, everyone's, for administrators).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "account", operation_id = "list_tokens",
    params(("all" = Option<bool>, Query, description = "every user's tokens (administrators)")),
    responses((status = 200, body = Vec<TokenJson>), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
pub async fn list_tokens(
    State(service): State<Service>,
    Caller(who): Caller,
    ApiQuery(query): ApiQuery<TokensQuery>,
) -> Result<Json<Vec<TokenJson>>, ApiError> {
    let tokens = service.tokens(&who, query.all).await?;
    Ok(Json(tokens.into_iter().map(TokenJson::from).collect()))
}

/// Make a personal token: signed in, or with HTTP Basic credentials (name and
/// password). The answer is the only time the token is shown.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "account", operation_id = "create_token",
    request_body = TokenBody,
    security((), ("bearer" = []), ("basic" = [])),
    responses((status = 201, body = NewTokenJson), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
pub async fn create_token(
    State(service): State<Service>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    caller: Result<Caller, ApiError>,
    ApiJson(body): ApiJson<TokenBody>,
) -> Result<Response, ApiError> {
    let who = match (caller, basic(&headers)?) {
        (_, Some((name, password))) => {
            let address = peer.ip().to_string();
            let (user, _) = service.sign_in(&name, &password, &address).await?;
            Principal::signed_in(&user, None).from_address(address)
        }
        (Ok(Caller(who)), None) => who,
        (Err(unauthenticated), None) => return Err(unauthenticated),
    };
    let made = service
        .create_token(&who, &body.name, body.expires_in_days)
        .await?;
    let json = NewTokenJson {
        token: made.token,
        info: made.info.into(),
    };
    Ok((StatusCode::CREATED, Json(json)).into_response())
}

/// Revoke a token: the caller's own, or anyone's (administrators).
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "account", operation_id = "revoke_token",
    params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_token(
    State(service): State<Service>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    service.revoke_token(&who, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Entries older than this id (the next page).
    #[serde(default)]
    before: Option<i64>,
    /// At most this many (1 to 500; 100 by default).
    #[serde(default)]
    limit: Option<u32>,
}

/// The audit log, newest first (administrators).
#[utoipa::path(get, path = "/api/v1/audit", tag = "account", operation_id = "list_audit",
    params(("before" = Option<i64>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = Vec<AuditJson>), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
pub async fn audit(
    State(service): State<Service>,
    Caller(who): Caller,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<Vec<AuditJson>>, ApiError> {
    let entries = service
        .audit(&who, query.before, query.limit.unwrap_or(100))
        .await?;
    Ok(Json(entries.into_iter().map(AuditJson::from).collect()))
}

/// The name and password of an `Authorization: Basic` header, if there is one.
fn basic(headers: &HeaderMap) -> Result<Option<(String, String)>, ApiError> {
    use base64::Engine;

    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let Some((scheme, encoded)) = value.to_str().ok().and_then(|v| v.trim().split_once(' ')) else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let malformed = || {
        ApiError(AppError::MalformedRequest {
            message: "the Basic credentials are not base64 of name:password".into(),
        })
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| malformed())?;
    let text = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (name, password) = text.split_once(':').ok_or_else(malformed)?;
    Ok(Some((name.to_owned(), password.to_owned())))
}
