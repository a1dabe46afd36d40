//! What the browser and API clients call: server functions (thin: parse, fetch the
//! store from context, call one store function) and, on the server, the mapping of
//! store failures onto the error that crosses the wire.

#[cfg(feature = "ssr")]
pub mod hooks;
pub mod integrations;
#[cfg(feature = "ssr")]
pub mod rest;

#[cfg(feature = "ssr")]
mod server {
    use crate::domain::definition::Definition;
    use crate::domain::{Description, IntegrationName, NewIntegration};
    use crate::error::{AppError, FieldError};
    use crate::store::integrations::DraftEdit;
    use crate::store::{Store, StoreError};
    use crate::telemetry::{current_request_id, error_chain};

    /// The store, as provided to every request by the router.
    pub fn store() -> Result<Store, AppError> {
        leptos::prelude::use_context::<Store>().ok_or_else(|| {
            internal(&std::io::Error::other(
                "the store is not in the request context",
            ))
        })
    }

    /// Tells the reconciler that something changed, so it acts now rather than at its
    /// next tick.
    pub fn wake_reconciler() {
        if let Some(waker) = leptos::prelude::use_context::<crate::reconciler::Waker>() {
            waker.wake();
        }
    }

    /// Who acts through the web UI. Junction has no accounts yet: every person is
    /// "user" in the transition log and on published versions.
    pub fn web_user() -> crate::domain::Actor {
        crate::domain::Actor::user("user")
    }

    /// Logs an internal failure once, with its causes, and gives the caller only the
    /// id to quote.
    pub fn internal(err: &(dyn std::error::Error + 'static)) -> AppError {
        let request_id = current_request_id();
        tracing::error!(%request_id, error = %error_chain(err), "request failed");
        AppError::Internal { request_id }
    }

    impl From<StoreError> for AppError {
        fn from(err: StoreError) -> Self {
            match err {
                StoreError::NameTaken(name) => AppError::field(
                    "name",
                    format!("an integration named “{name}” already exists"),
                ),
                StoreError::NotFound(what) => AppError::NotFound { what },
                StoreError::InvalidTransition(refusal) => refusal.into(),
                StoreError::RevisionMismatch { expected, current } => AppError::RevisionMismatch {
                    expected_revision: expected,
                    current_revision: current,
                },
                StoreError::UnsupportedUrl(_)
                | StoreError::Connect { .. }
                | StoreError::Migrate(_)
                | StoreError::Corrupt(_)
                | StoreError::Database(_) => internal(&err),
            }
        }
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

    /// Checks every field of an edit, reporting all problems at once. The definition
    /// comes already read (from JSON text in forms, a JSON value in the API); its
    /// problems are placed under `definition`.
    pub fn parse_edit(
        expected_revision: i64,
        name: Option<&str>,
        description: Option<&str>,
        definition: Option<Result<Definition, Vec<FieldError>>>,
    ) -> Result<DraftEdit, AppError> {
        let mut fields = Vec::new();
        let name = name
            .map(IntegrationName::parse)
            .transpose()
            .unwrap_or_else(|err| {
                fields.push(FieldError::new("name", err));
                None
            });
        let description = description
            .map(Description::parse)
            .transpose()
            .unwrap_or_else(|err| {
                fields.push(FieldError::new("description", err));
                None
            });
        let definition = definition.transpose().unwrap_or_else(|errors| {
            fields.extend(under_definition(errors));
            None
        });
        if !fields.is_empty() {
            return Err(AppError::ValidationFailed { fields });
        }
        Ok(DraftEdit {
            expected_revision,
            name,
            description,
            definition,
        })
    }

    /// A new integration's fields and optional first flow, every problem reported at once.
    pub fn parse_new(
        name: &str,
        description: &str,
        definition: Option<Result<Definition, Vec<FieldError>>>,
    ) -> Result<(NewIntegration, Option<Definition>), AppError> {
        let edit = parse_edit(0, Some(name), Some(description), definition)?;
        match (edit.name, edit.description) {
            (Some(name), Some(description)) => {
                Ok((NewIntegration { name, description }, edit.definition))
            }
            _ => Err(AppError::field("name", "a name is required")),
        }
    }

    /// A definition's problems, located within the request (`definition.steps[2].url`).
    fn under_definition(errors: Vec<FieldError>) -> impl Iterator<Item = FieldError> {
        errors.into_iter().map(|error| FieldError {
            path: if error.path.is_empty() || error.path == "definition" {
                "definition".to_owned()
            } else {
                format!("definition.{}", error.path)
            },
            message: error.message,
        })
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
