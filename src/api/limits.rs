//! The limits an operator expects of a server: how many requests it answers at once,
//! how long one may take, and how many event streams may stay open. Past a limit the
//! answer is 503 (`unavailable`, with `Retry-After`), never a queue that grows until
//! the server falls over.

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::api::rest::ApiError;
use crate::error::AppError;

/// Where the event stream is served: it has a limit of its own and no time limit.
pub const EVENTS_PATH: &str = "/api/v1/events";

#[derive(Clone, Debug)]
pub struct RequestLimits {
    timeout: Duration,
    requests: Arc<Semaphore>,
    max_requests: usize,
    streams: Arc<Semaphore>,
    max_streams: usize,
}

impl RequestLimits {
    pub fn new(timeout: Duration, max_requests: usize, max_streams: usize) -> Self {
        Self {
            timeout,
            requests: Arc::new(Semaphore::new(max_requests)),
            max_requests,
            streams: Arc::new(Semaphore::new(max_streams)),
            max_streams,
        }
    }

    /// A place for one more event stream, held as long as the stream lives.
    pub fn event_stream(&self) -> Result<OwnedSemaphorePermit, AppError> {
        self.streams
            .clone()
            .try_acquire_owned()
            .map_err(|_| AppError::Unavailable {
                message: format!(
                    "{} event streams are open, the most this server keeps \
                     (--max-event-streams): try again shortly",
                    self.max_streams
                ),
            })
    }
}

/// A place among the requests answered at once, and (but for webhooks and the event
/// stream) a time limit, around `inner`. Part of the server's edge middleware
/// (`startup::edge`).
pub async fn within<F, Fut>(limits: &RequestLimits, request: Request, inner: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    let path = request.uri().path();
    if path == EVENTS_PATH {
        return inner(request).await;
    }
    let Ok(_place) = limits.requests.clone().try_acquire_owned() else {
        return ApiError(AppError::Unavailable {
            message: format!(
                "the server is answering {} requests at once, its limit \
                 (--max-concurrent-requests): try again shortly",
                limits.max_requests
            ),
        })
        .into_response();
    };
    // A webhook's flow is bounded by its steps' own timeouts and the render deadline;
    // cutting it off would lose the record of what it did.
    if path.starts_with("/hooks/") {
        return inner(request).await;
    }
    match tokio::time::timeout(limits.timeout, inner(request)).await {
        Ok(response) => response,
        Err(_) => ApiError(AppError::Unavailable {
            message: format!(
                "the request took longer than {} s, the limit (--request-timeout)",
                limits.timeout.as_secs()
            ),
        })
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    /// The limits alone as a middleware.
    async fn limit(
        axum::extract::State(limits): axum::extract::State<RequestLimits>,
        request: Request,
        next: axum::middleware::Next,
    ) -> Response {
        within(&limits, request, |request| next.run(request)).await
    }

    /// A router whose `/slow` takes 2 s and `/hooks/slow` as long, behind the limits.
    fn slow_app(limits: RequestLimits) -> Router {
        let slow = || async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            "done"
        };
        Router::new()
            .route("/slow", get(slow))
            .route("/hooks/slow", get(slow))
            .layer(axum::middleware::from_fn_with_state(limits, limit))
    }

    async fn status_of(app: Router, path: &str) -> u16 {
        let request = axum::http::Request::get(path).body(Body::empty()).unwrap();
        app.oneshot(request).await.unwrap().status().as_u16()
    }

    #[tokio::test]
    async fn a_request_past_the_timeout_is_answered_503_but_a_webhook_runs_its_course() {
        let app = slow_app(RequestLimits::new(Duration::from_secs(1), 8, 8));

        assert_eq!(status_of(app.clone(), "/slow").await, 503);
        assert_eq!(status_of(app, "/hooks/slow").await, 200);
    }
}
