//! What the browser and API clients call: server functions, the JSON API and
//! webhooks. Each is an adapter of a few lines over the application layer
//! (`crate::service`): read the transport's input, call one operation, answer.

pub mod account;
#[cfg(feature = "ssr")]
pub mod auth;
#[cfg(feature = "ssr")]
pub mod boundary;
pub mod connections;
#[cfg(feature = "ssr")]
pub mod hooks;
#[cfg(feature = "ssr")]
pub mod import_form;
pub mod integrations;
#[cfg(feature = "ssr")]
pub mod limits;
#[cfg(feature = "ssr")]
pub mod rest;

#[cfg(feature = "ssr")]
mod server {
    use crate::error::AppError;
    use crate::service::{Principal, Service};

    /// The application layer and who is acting, as every server function needs them:
    /// nobody signed in gets 401.
    pub fn service() -> Result<(Service, Principal), AppError> {
        let (service, caller) = service_and_caller()?;
        Ok((service, caller.principal()?))
    }

    /// The application layer and whoever calls, signed in or not (signing in).
    pub fn service_and_caller() -> Result<(Service, super::auth::Caller), AppError> {
        use leptos::prelude::use_context;
        let missing = |what: &str| {
            crate::service::internal(&std::io::Error::other(format!(
                "{what} is not in the request context"
            )))
        };
        let service = use_context::<Service>().ok_or_else(|| missing("the application layer"))?;
        let caller = use_context::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<super::auth::Caller>().cloned())
            .ok_or_else(|| missing("the caller"))?;
        Ok((service, caller))
    }

    /// Percent-encodes a value for a URL's query.
    pub fn form_encode(text: &str) -> String {
        form::encode(text)
    }

    /// Gives each server function's error its own HTTP status (422, 404, ...): the
    /// server function machinery answers every error, including the arguments it
    /// could not decode before our code ran, with 500.
    pub async fn error_status(
        request: axum::extract::Request,
        next: axum::middleware::Next,
    ) -> axum::response::Response {
        use leptos::server_fn::error::SERVER_FN_ERROR_HEADER;

        let response = next.run(request).await;
        if response.status() != axum::http::StatusCode::INTERNAL_SERVER_ERROR
            || !response.headers().contains_key(SERVER_FN_ERROR_HEADER)
        {
            return response;
        }
        let (mut parts, body) = response.into_parts();
        // An encoded error is a few hundred bytes; anything far larger is not ours.
        let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
            return axum::response::Response::from_parts(parts, axum::body::Body::empty());
        };
        if let Ok(err) = serde_json::from_slice::<AppError>(&bytes)
            && let Ok(status) = axum::http::StatusCode::from_u16(err.status())
        {
            parts.status = status;
        }
        axum::response::Response::from_parts(parts, axum::body::Body::from(bytes))
    }

    /// For a server function behind a form: a form posted without JavaScript wants a
    /// page back, not a JSON error. On failure the browser is sent back to the form
    /// with the error and everything it typed, so nothing is lost. (On success
    /// leptos_axum already redirects it to the referring page.)
    pub async fn reply_to_form<T>(
        result: Result<T, AppError>,
        form: &[(&str, &str)],
    ) -> Result<T, AppError> {
        let Err(err) = &result else { return result };
        let Ok(headers) = leptos_axum::extract::<axum::http::HeaderMap>().await else {
            return result;
        };
        let referer = headers
            .get(axum::http::header::REFERER)
            .and_then(|value| value.to_str().ok());
        if let (true, Some(referer)) = (accepts_html(&headers), referer) {
            let mut query = form::url_encoded(form);
            let encoded_error = serde_json::to_string(err).unwrap_or_default();
            query.push_str("&error=");
            query.push_str(&form::encode(&encoded_error));
            leptos_axum::redirect(&format!("{}?{query}", referer_path(referer)));
        }
        result
    }

    /// Whether the request is a browser's plain form post (no JavaScript).
    pub async fn is_plain_form_post() -> bool {
        leptos_axum::extract::<axum::http::HeaderMap>()
            .await
            .is_ok_and(|headers| accepts_html(&headers))
    }

    /// A browser posting a form without JavaScript asks for a page back.
    fn accepts_html(headers: &axum::http::HeaderMap) -> bool {
        headers
            .get(axum::http::header::ACCEPT)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"))
    }

    /// The path of a Referer URL, so that a redirect never leaves this server.
    fn referer_path(referer: &str) -> String {
        let after_scheme = referer.split_once("://").map_or(referer, |(_, rest)| rest);
        let path = after_scheme
            .find('/')
            .map_or("/", |start| &after_scheme[start..]);
        let path = path.split(['?', '#']).next().unwrap_or("/");
        if path.starts_with('/') && !path.starts_with("//") {
            path.to_owned()
        } else {
            "/".to_owned()
        }
    }

    mod form {
        pub fn url_encoded(pairs: &[(&str, &str)]) -> String {
            pairs
                .iter()
                .map(|(key, value)| format!("{}={}", encode(key), encode(value)))
                .collect::<Vec<_>>()
                .join("&")
        }

        pub fn encode(text: &str) -> String {
            let mut out = String::with_capacity(text.len());
            for byte in text.bytes() {
                match byte {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                        out.push(byte as char)
                    }
                    _ => out.push_str(&format!("%{byte:02X}")),
                }
            }
            out
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn a_redirect_back_keeps_only_the_referers_path() {
            assert_eq!(referer_path("http://127.0.0.1:3000/?x=1"), "/");
            assert_eq!(
                referer_path("https://h/integrations/new#top"),
                "/integrations/new"
            );
            assert_eq!(referer_path("http://h//evil.example/"), "/");
        }

        #[test]
        fn form_values_are_percent_encoded() {
            assert_eq!(
                form::url_encoded(&[("name", "Orders & more"), ("d", "é")]),
                "name=Orders%20%26%20more&d=%C3%A9"
            );
        }
    }
}

#[cfg(feature = "ssr")]
pub use server::*;

/// The scheme and host a request was made to, for links copied elsewhere and for the
/// address an export says it came from.
#[cfg(feature = "ssr")]
pub fn origin_of(headers: &axum::http::HeaderMap) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|host| host.to_str().ok())
        .unwrap_or("127.0.0.1:3000");
    format!("http://{host}")
}
