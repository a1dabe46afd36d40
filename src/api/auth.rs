//! Who sends each request, found once, in front of every route: a bearer token, or
//! the browser's session (tower-sessions, records in Junction's database). The
//! answer, a [`Caller`], goes into the request's extensions, where the server
//! functions, the JSON API and the pages read it. A page asked for by nobody signed in
//! sends the browser to the sign-in page (or, before the first user exists, to the
//! page that creates the first administrator).

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use std::net::SocketAddr;
use tower_sessions::cookie::SameSite;
use tower_sessions::cookie::time::Duration as CookieDuration;
use tower_sessions::{Expiry, Session, SessionManagerLayer};

use crate::error::AppError;
use crate::service::{Principal, Service, SessionCheck, SessionClaim};
use crate::store::Store;
use crate::store::sessions::{CLAIM_KEY, Sessions};

/// Who sends a request.
#[derive(Clone, Debug)]
pub enum Caller {
    User(Principal),
    Anonymous(Anonymous),
}

/// Why nobody is signed in, as the 401 says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anonymous {
    /// No user exists yet.
    FirstRun,
    /// No credentials came with the request.
    NoCredentials,
    /// A bearer token came that is not (or no longer) valid.
    InvalidToken,
}

impl Caller {
    /// The principal, or a 401 saying how to become one.
    pub fn principal(&self) -> Result<Principal, AppError> {
        let message = match self {
            Caller::User(principal) => return Ok(principal.clone()),
            Caller::Anonymous(Anonymous::FirstRun) => {
                "no user exists yet: create the first administrator at /first-run, or start \
                 Junction with JUNCTION_ADMIN_USER and JUNCTION_ADMIN_PASSWORD"
            }
            Caller::Anonymous(Anonymous::NoCredentials) => {
                "sign in first (API clients: send Authorization: Bearer <token>)"
            }
            Caller::Anonymous(Anonymous::InvalidToken) => {
                "the token is not valid: it was revoked or has expired, or its user is disabled"
            }
        };
        Err(AppError::Unauthenticated {
            message: message.into(),
        })
    }
}

/// The session layer: an HttpOnly, SameSite=Lax cookie (Secure behind https) whose
/// records live in the database, ending after `idle` without a request.
pub fn session_layer(
    store: &Store,
    idle: std::time::Duration,
    secure: bool,
) -> SessionManagerLayer<Sessions> {
    let idle = CookieDuration::seconds(i64::try_from(idle.as_secs()).unwrap_or(i64::MAX));
    SessionManagerLayer::new(Sessions(store.clone()))
        .with_name("junction_session")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(idle))
}

use crate::ui::{FIRST_RUN_PATH as FIRST_RUN_PAGE, SIGN_IN_PATH as SIGN_IN_PAGE};

/// The middleware: finds the caller, and sends anonymous page views to sign in.
pub async fn identify(
    State(service): State<Service>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if !needs_identity(path) {
        return next.run(request).await;
    }
    let address = peer_address(&request);
    let session = request.extensions().get::<Session>().cloned();
    let caller = match find_caller(&service, request.headers(), session.as_ref(), &address).await {
        Ok(caller) => caller,
        Err(err) => return crate::api::rest::ApiError(err).into_response(),
    };
    if let Some(redirect) = sign_in_first(&request, &caller) {
        return redirect;
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// Webhooks are public, and files (the bundle, the icon) need nobody.
fn needs_identity(path: &str) -> bool {
    let file = path
        .rsplit('/')
        .next()
        .is_some_and(|last| last.contains('.'));
    !(path.starts_with("/hooks/") || path.starts_with("/pkg/") || file)
}

/// Where the request came from: the peer's address (behind a proxy, the proxy's).
fn peer_address(request: &Request) -> String {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string())
        .unwrap_or_default()
}

async fn find_caller(
    service: &Service,
    headers: &HeaderMap,
    session: Option<&Session>,
    address: &str,
) -> Result<Caller, AppError> {
    if let Some(token) = bearer(headers) {
        return Ok(match service.check_token(token).await? {
            Some(principal) => Caller::User(principal.from_address(address)),
            None => Caller::Anonymous(Anonymous::InvalidToken),
        });
    }
    if let Some(session) = session
        && let Some(claim) = session
            .get::<SessionClaim>(CLAIM_KEY)
            .await
            .map_err(|err| crate::service::internal(&err))?
    {
        match service.check_session(&claim).await? {
            SessionCheck::Valid { principal, touch } => {
                if touch {
                    let seen = SessionClaim {
                        seen_at: chrono::Utc::now().timestamp_millis(),
                        ..claim
                    };
                    session
                        .insert(CLAIM_KEY, seen)
                        .await
                        .map_err(|err| crate::service::internal(&err))?;
                }
                return Ok(Caller::User(principal.from_address(address)));
            }
            SessionCheck::Ended => {
                session
                    .flush()
                    .await
                    .map_err(|err| crate::service::internal(&err))?;
            }
        }
    }
    Ok(Caller::Anonymous(
        match service.needs_first_admin().await? {
            true => Anonymous::FirstRun,
            false => Anonymous::NoCredentials,
        },
    ))
}

/// The token of an `Authorization: Bearer` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// A page asked for by nobody signed in: the sign-in page (or the first-run page),
/// coming back here afterwards. The API and server functions answer 401 instead.
fn sign_in_first(request: &Request, caller: &Caller) -> Option<Response> {
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        return None;
    }
    let path = request.uri().path();
    // The API and the metrics answer 401 in their own shape: a script is not sent
    // to a sign-in page.
    if path.starts_with("/api/") || path == crate::api::rest::METRICS_PATH {
        return None;
    }
    let first_run = matches!(caller, Caller::Anonymous(Anonymous::FirstRun));
    let target = match caller {
        Caller::User(_) => return None,
        Caller::Anonymous(_) if first_run && path == FIRST_RUN_PAGE => return None,
        Caller::Anonymous(_) if first_run => FIRST_RUN_PAGE.to_owned(),
        Caller::Anonymous(_) if path == SIGN_IN_PAGE || path == FIRST_RUN_PAGE => return None,
        Caller::Anonymous(_) => {
            let back = request
                .uri()
                .path_and_query()
                .map_or("/", |whole| whole.as_str());
            format!("{SIGN_IN_PAGE}?next={}", crate::api::form_encode(back))
        }
    };
    Some(Redirect::to(&target).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhooks_and_files_need_nobody_signed_in() {
        assert!(!needs_identity("/hooks/orders"));
        assert!(!needs_identity("/pkg/junction.wasm"));
        assert!(!needs_identity("/favicon.svg"));
        assert!(needs_identity("/"));
        assert!(needs_identity("/api/v1/integrations"));
        assert!(needs_identity("/api/publish_version"));
    }

    #[test]
    fn only_a_bearer_authorization_carries_a_token() {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, "Bearer jct_abc".parse().unwrap());
        assert_eq!(bearer(&headers), Some("jct_abc"));
        headers.insert(header::AUTHORIZATION, "Basic YTpi".parse().unwrap());
        assert_eq!(bearer(&headers), None);
    }
}
