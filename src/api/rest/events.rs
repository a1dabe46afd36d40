//! `GET /api/v1/events`: server-sent events, one `integration` event (the integration
//! as it now stands) per change, and `deleted` when one is gone.
//!
//! One task reads each changed integration once and encodes its event once, for every
//! open stream ([`EventHub`]): with a hundred tabs open, a change costs one database
//! read, not a hundred.

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{Stream, StreamExt};
use std::convert::Infallible;
use std::sync::Arc;
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use super::{Caller, IntegrationJson};
use crate::domain::access::{Operation, Role};
use crate::service::{Principal, Service};

/// One event as every stream sends it: its name and its data, encoded once.
type Shared = Arc<(&'static str, String)>;

/// What every open stream receives.
#[derive(Clone, Debug)]
pub struct EventHub(broadcast::Sender<Shared>);

impl EventHub {
    /// Starts the task that reads each change once; it ends when the server stops.
    pub fn start(service: &Service) -> Self {
        let (events, _) = broadcast::channel(4096);
        let hub = Self(events.clone());
        let mut changes = service.changes();
        let stopping = service.stopping();
        let service = service.clone();
        // Every role may read integrations; the streams check their caller may too.
        let reader = Principal::new("event stream", Role::Viewer);
        tokio::spawn(async move {
            let work = async {
                loop {
                    let event = match changes.recv().await {
                        Ok(id) => match service.summary(&reader, id).await {
                            Ok(summary) => {
                                match serde_json::to_string(&IntegrationJson::from(summary)) {
                                    Ok(json) => ("integration", json),
                                    Err(_) => ("resync", String::new()),
                                }
                            }
                            Err(_) => ("deleted", id.to_string()),
                        },
                        Err(broadcast::error::RecvError::Lagged(_)) => ("resync", String::new()),
                        Err(broadcast::error::RecvError::Closed) => break,
                    };
                    // Nobody listening is not an error.
                    let _ = events.send(Arc::new(event));
                }
            };
            tokio::select! {
                () = work => {}
                () = stopping => {}
            }
        });
        hub
    }
}

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
    State(hub): State<EventHub>,
    State(limits): State<crate::api::limits::RequestLimits>,
    Caller(who): Caller,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, super::ApiError> {
    who.may(Operation::Read).map_err(super::ApiError)?;
    // Held as long as the stream lives.
    let place = limits.event_stream().map_err(super::ApiError)?;
    let stopping = service.stopping();
    let events = BroadcastStream::new(hub.0.subscribe()).map(move |shared| {
        let _place = &place;
        Ok(match shared {
            Ok(shared) => Event::default().event(shared.0).data(shared.1.as_str()),
            Err(BroadcastStreamRecvError::Lagged(_)) => Event::default().event("resync").data(""),
        })
    });
    // The stream ends when the server stops: a browser tab left open must not keep
    // the server from finishing (EventSource reconnects, to whichever server is up).
    Ok(Sse::new(events.take_until(stopping)).keep_alive(KeepAlive::default()))
}
