//! `GET /api/v1/events`: server-sent events, one `integration` event (the integration
//! as it now stands) per change, and `deleted` when one is gone.

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{Stream, StreamExt};
use std::convert::Infallible;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use super::{Caller, IntegrationJson};
use crate::service::Service;

/// Changes of integrations as they happen: `event: integration` with the integration
/// as JSON; `event: deleted` with its id; `event: resync` when events were missed (the
/// client should re-read what it shows).
#[utoipa::path(get, path = "/api/v1/events", tag = "integrations",
    responses((status = 200, content_type = "text/event-stream",
               description = "`integration` events carry an IntegrationJson"),
              (status = 503, body = super::ErrorBody,
               description = "as many event streams are open as the server keeps")))]
pub async fn stream(
    State(service): State<Service>,
    State(limits): State<crate::api::limits::RequestLimits>,
    Caller(who): Caller,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, super::ApiError> {
    // Held as long as the stream lives.
    let place = limits.event_stream().map_err(super::ApiError)?;
    let stopping = service.stopping();
    let events = BroadcastStream::new(service.changes()).then(move |change| {
        let (service, who) = (service.clone(), who.clone());
        async move {
            Ok(match change {
                Ok(id) => match service.summary(&who, id).await {
                    Ok(summary) => Event::default()
                        .event("integration")
                        .json_data(IntegrationJson::from(summary))
                        .unwrap_or_else(|_| Event::default().event("resync").data("")),
                    Err(_) => Event::default().event("deleted").data(id.to_string()),
                },
                Err(BroadcastStreamRecvError::Lagged(_)) => {
                    Event::default().event("resync").data("")
                }
            })
        }
    });
    // The stream ends when the server stops: a browser tab left open must not keep
    // the server from finishing (EventSource reconnects, to whichever server is up).
    let events = events.take_until(stopping).map(move |event| {
        let _place = &place;
        event
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
