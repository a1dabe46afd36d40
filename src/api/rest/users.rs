//! The user endpoints (administrators only): list, add, change. Passwords go in, never
//! out: no answer carries a password or its hash.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{ApiError, ApiJson, Caller, ErrorBody, UserBody, UserJson, UserPatchBody};
use crate::service::{Service, UserChange, UserRequest};

/// List users, by name.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", operation_id = "list_users",
    responses((status = 200, body = Vec<UserJson>), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(service): State<Service>,
    Caller(who): Caller,
) -> Result<Json<Vec<UserJson>>, ApiError> {
    let users = service.users(&who).await?;
    Ok(Json(users.into_iter().map(UserJson::from).collect()))
}

/// Add a user.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", operation_id = "add_user", request_body = UserBody,
    responses((status = 201, body = UserJson, headers(("Location" = String))), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add(
    State(service): State<Service>,
    Caller(who): Caller,
    ApiJson(body): ApiJson<UserBody>,
) -> Result<Response, ApiError> {
    let request = UserRequest {
        name: &body.name,
        display_name: body.display_name.as_deref().unwrap_or(""),
        password: &body.password,
        role: &body.role,
    };
    let user = service.add_user(&who, &request).await?;
    let location = HeaderValue::from_str(&format!("/api/v1/users/{}", user.name));
    let mut response = (StatusCode::CREATED, Json(UserJson::from(user))).into_response();
    if let Ok(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// Change a user's role, disabled flag or password.
#[utoipa::path(patch, path = "/api/v1/users/{name}", tag = "users", operation_id = "change_user", request_body = UserPatchBody,
    params(("name" = String, Path)),
    responses((status = 200, body = UserJson), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn change(
    State(service): State<Service>,
    Caller(who): Caller,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<UserPatchBody>,
) -> Result<Json<UserJson>, ApiError> {
    let change = UserChange {
        role: body.role.as_deref(),
        disabled: body.disabled,
        password: body.password.as_deref(),
    };
    Ok(Json(
        service.change_user(&who, &name, &change).await?.into(),
    ))
}
