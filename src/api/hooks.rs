//! `POST /hooks/{path}`: a message for the running integration whose webhook trigger
//! has that path. Answers with the flow's final body (200), nothing for a filtered
//! message (204), or the failed step (502).

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::Arc;

use crate::runtime::flow::Outcome;
use crate::runtime::{Runtime, WebhookAnswer, WebhookCall};
use crate::startup::BodyLimit;

pub async fn call_webhook(
    State(runtime): State<Arc<dyn Runtime>>,
    State(BodyLimit(limit)): State<BodyLimit>,
    Path(path): Path<String>,
    request: Request,
) -> Response {
    // The headers taken from the request, not extracted: an extracted `HeaderMap` is
    // a copy of them all, for every call.
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body is larger than the limit of {limit} bytes"),
            Value::Null,
        )
    };
    if declared.is_some_and(|length| length > DRAIN_AT_MOST) {
        return too_large();
    }
    let Some(bytes) = read_at_most(body, limit).await else {
        return too_large();
    };
    let body = if bytes.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(body) => body,
            Err(err) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "malformed_request",
                    format!("the body is not JSON: {err}"),
                    Value::Null,
                );
            }
        }
    };
    let call = WebhookCall {
        headers: &headers,
        raw: &bytes,
        body,
    };
    match runtime.call_webhook(&path, call).await {
        WebhookAnswer::NotFound => error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no running integration listens at /hooks/{path}"),
            Value::Null,
        ),
        WebhookAnswer::Refused(why) => error(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            why,
            Value::Null,
        ),
        WebhookAnswer::Ran(run) => match run.outcome {
            Outcome::Ok => (StatusCode::OK, Json(run.body)).into_response(),
            Outcome::Filtered => StatusCode::NO_CONTENT.into_response(),
            // Refusals come as WebhookAnswer::Refused; a run that says so is one too.
            Outcome::Refused => error(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                run.error
                    .unwrap_or_else(|| "this webhook requires a secret".into()),
                Value::Null,
            ),
            Outcome::Failed => {
                let step = run
                    .failed_step
                    .and_then(|index| run.steps.iter().find(|s| s.index == index));
                error(
                    StatusCode::BAD_GATEWAY,
                    "step_failed",
                    run.error.unwrap_or_else(|| "a step failed".into()),
                    json!({ "step": run.failed_step, "kind": step.map(|s| s.kind) }),
                )
            }
        },
    }
}

/// How much of an oversized body is read (and thrown away) before answering 413: a
/// client that is still sending when the connection closes sees a reset, not the
/// answer. Anything larger is cut off at once.
const DRAIN_AT_MOST: usize = 16 * 1024 * 1024;

/// The body, or `None` when it is over `limit` (or the client went away).
async fn read_at_most(mut body: axum::body::Body, limit: usize) -> Option<Vec<u8>> {
    use http_body_util::BodyExt;

    let mut collected = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.ok()?.into_data() else {
            continue;
        };
        seen = seen.saturating_add(data.len());
        if seen > DRAIN_AT_MOST {
            return None;
        }
        if seen <= limit {
            collected.extend_from_slice(&data);
        }
    }
    (seen <= limit).then_some(collected)
}

fn error(status: StatusCode, code: &str, message: String, details: Value) -> Response {
    (
        status,
        Json(json!({ "error": { "code": code, "message": message, "details": details } })),
    )
        .into_response()
}
