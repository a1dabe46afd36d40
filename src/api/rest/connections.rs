//! The connection endpoints: list, create, read, replace, delete and test. Secrets go
//! in, never out: an answer says of each secret only whether it is set.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::{ApiError, ApiJson, Caller, ConnectionBody, ConnectionJson, ErrorBody};
use crate::service::{Service, TestResult};

/// List connections, by name.
#[utoipa::path(get, path = "/api/v1/connections", tag = "connections", operation_id = "list_connections",
    responses((status = 200, body = Vec<ConnectionJson>), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(service): State<Service>,
    Caller(who): Caller,
) -> Result<Json<Vec<ConnectionJson>>, ApiError> {
    let connections = service.connections(&who).await?;
    Ok(Json(
        connections.into_iter().map(ConnectionJson::from).collect(),
    ))
}

/// Create a connection.
#[utoipa::path(post, path = "/api/v1/connections", tag = "connections", operation_id = "create_connection",
    request_body = ConnectionBody,
    responses((status = 201, body = ConnectionJson, headers(("Location" = String))), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(service): State<Service>,
    Caller(who): Caller,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    let created = service.create_connection(&who, &body).await?;
    let location = HeaderValue::from_str(&format!("/api/v1/connections/{}", created.name));
    let mut response = (StatusCode::CREATED, Json(ConnectionJson::from(created))).into_response();
    if let Ok(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// One connection.
#[utoipa::path(get, path = "/api/v1/connections/{name}", tag = "connections", operation_id = "read_connection",
    params(("name" = String, Path)),
    responses((status = 200, body = ConnectionJson), (status = 404, body = ErrorBody)))]
pub async fn read(
    State(service): State<Service>,
    Caller(who): Caller,
    Path(name): Path<String>,
) -> Result<Json<ConnectionJson>, ApiError> {
    Ok(Json(service.connection(&who, &name).await?.into()))
}

/// Replace a connection's settings and secrets; flows using it are redeployed.
#[utoipa::path(put, path = "/api/v1/connections/{name}", tag = "connections", operation_id = "replace_connection",
    request_body = ConnectionBody, params(("name" = String, Path)),
    responses((status = 200, body = ConnectionJson), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn replace(
    State(service): State<Service>,
    Caller(who): Caller,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<ConnectionJson>, ApiError> {
    Ok(Json(
        service.update_connection(&who, &name, &body).await?.into(),
    ))
}

/// Delete a connection no active integration uses (409 names those that do).
#[utoipa::path(delete, path = "/api/v1/connections/{name}", tag = "connections", operation_id = "delete_connection",
    params(("name" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn delete(
    State(service): State<Service>,
    Caller(who): Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    service.delete_connection(&who, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Connect once with the stored settings: connected, or the cause.
#[utoipa::path(post, path = "/api/v1/connections/{name}/test", tag = "connections", operation_id = "test_connection",
    params(("name" = String, Path)),
    responses((status = 200, body = TestResult), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn test(
    State(service): State<Service>,
    Caller(who): Caller,
    Path(name): Path<String>,
) -> Result<Json<TestResult>, ApiError> {
    Ok(Json(service.test_connection(&who, &name).await?))
}
