//! Export and import endpoints: adapters over `Service::export` and `Service::import`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{
    ApiError, ApiJson, ApiQuery, Caller, ErrorBody, ExportJson, ImportBody, ImportJson,
    PromoteBody, PromotionJson,
};
use super::{path_id, path_version};
use crate::domain::IntegrationId;
use crate::domain::transfer::ExportDocument;
use crate::domain::version::VersionNumber;
use crate::error::AppError;
use crate::service::{ExportOptions, ImportRequest, PromoteRequest, Service};

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    /// Include each integration's transition log.
    #[serde(default)]
    transitions: bool,
}

impl ExportParams {
    fn options(&self) -> ExportOptions {
        ExportOptions {
            transitions: self.transitions,
            up_to: None,
        }
    }
}

fn answer(document: ExportDocument) -> Response {
    Json(document).into_response()
}

/// Export one integration with its history.
#[utoipa::path(get, path = "/api/v1/integrations/{id}/export", tag = "integrations",
    params(("id" = String, Path, format = Uuid), ExportParams),
    responses((status = 200, body = ExportJson), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn export(
    State(service): State<Service>,
    Caller(who): Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<ExportParams>,
) -> Result<Response, ApiError> {
    let origin = crate::api::origin_of(&headers);
    let document = service
        .export(&who, path_id(&id)?, &origin, params.options())
        .await?;
    Ok(answer(document))
}

/// Export every integration that is not unpublished.
#[utoipa::path(get, path = "/api/v1/export", tag = "integrations", params(ExportParams),
    responses((status = 200, body = ExportJson), (status = 400, body = ErrorBody)))]
pub async fn export_all(
    State(service): State<Service>,
    Caller(who): Caller,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<ExportParams>,
) -> Result<Response, ApiError> {
    let origin = crate::api::origin_of(&headers);
    Ok(answer(
        service.export_all(&who, &origin, params.options()).await?,
    ))
}

/// Import an export: new integrations keep their id, version numbers, notes, authors
/// and hashes; existing ones get the versions they lack. Nothing starts unless
/// `activate` asks. All or nothing.
#[utoipa::path(post, path = "/api/v1/import", tag = "integrations", request_body = ImportBody,
    responses((status = 201, body = ImportJson, description = "an integration was created"),
              (status = 200, body = ImportJson, description = "versions were appended, or nothing was new"),
              (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn import(
    State(service): State<Service>,
    Caller(who): Caller,
    ApiJson(body): ApiJson<ImportBody>,
) -> Result<Response, ApiError> {
    let into = body
        .into
        .as_deref()
        .map(|id| {
            IntegrationId::parse(id)
                .map_err(|_| AppError::field("into", format!("{id:?} is not an integration id")))
        })
        .transpose()?;
    let activate = body
        .activate
        .map(|number| VersionNumber::new(number).map_err(|err| AppError::field("activate", err)))
        .transpose()?;
    let request = ImportRequest {
        document: Some(&body.document),
        connections: body.connections,
        into,
        name: body.name.as_deref(),
        activate,
    };
    let reports = service.import(&who, request).await?;
    let status = match reports.iter().any(|report| report.created) {
        true => StatusCode::CREATED,
        false => StatusCode::OK,
    };
    let json = ImportJson {
        integrations: reports.into_iter().map(Into::into).collect(),
    };
    Ok((status, Json(json)).into_response())
}

/// Promote version N to another Junction: it gets the history up to N appended
/// (imported), and runs it with `activate`. The promotion is recorded here with the
/// remote's answer; `ok` says whether the remote took it.
#[utoipa::path(post, path = "/api/v1/integrations/{id}/versions/{n}/promote", tag = "integrations",
    params(("id" = String, Path, format = Uuid), ("n" = i64, Path, minimum = 1)), request_body = PromoteBody,
    responses((status = 200, body = PromotionJson), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn promote(
    State(service): State<Service>,
    Caller(who): Caller,
    headers: HeaderMap,
    Path((id, n)): Path<(String, String)>,
    ApiJson(body): ApiJson<PromoteBody>,
) -> Result<Json<PromotionJson>, ApiError> {
    let id = path_id(&id)?;
    let number = path_version(id, &n)?;
    let request = PromoteRequest {
        remote: body.remote.trim(),
        activate: body.activate,
        connections: body.connections,
    };
    let origin = crate::api::origin_of(&headers);
    let promotion = service.promote(&who, id, number, &origin, request).await?;
    Ok(Json(promotion.into()))
}

/// The latest promotions of an integration's versions, newest first.
#[utoipa::path(get, path = "/api/v1/integrations/{id}/promotions", tag = "integrations",
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = Vec<PromotionJson>), (status = 404, body = ErrorBody)))]
pub async fn promotions(
    State(service): State<Service>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<PromotionJson>>, ApiError> {
    let list = service.promotions(&who, path_id(&id)?).await?;
    Ok(Json(list.into_iter().map(Into::into).collect()))
}
