//! The browser boundary, in front of every route: a state-changing request that a
//! browser sends from another site is refused (cross-site request forgery), a request
//! for a host name this server does not serve is refused (DNS rebinding: a page on
//! evil.example whose name resolves to 127.0.0.1), and every answer carries headers
//! that keep it out of other sites' frames and stop content sniffing.
//!
//! Webhooks (`/hooks/...`) are how other systems call in: they are exempt from the
//! origin check (they carry no cookies), not from the host check.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;

/// Which host names this server answers for.
#[derive(Clone, Debug)]
pub struct Boundary {
    /// `None`: any (listening beyond loopback without a public URL).
    hosts: Option<Arc<[String]>>,
}

impl Boundary {
    /// The host names to accept: the public URL's, and loopback names when listening
    /// on loopback; any name when listening beyond loopback without a public URL.
    pub fn new(public_host: Option<&str>, listens_on_loopback: bool) -> Self {
        let mut hosts: Vec<String> = public_host
            .map(str::to_ascii_lowercase)
            .into_iter()
            .collect();
        if listens_on_loopback {
            hosts.extend(["127.0.0.1", "localhost", "[::1]"].map(str::to_owned));
        }
        Self {
            hosts: (public_host.is_some() || listens_on_loopback).then(|| hosts.into()),
        }
    }

    fn serves(&self, host: &str) -> bool {
        let Some(hosts) = &self.hosts else {
            return true;
        };
        let name = host_name(host);
        hosts.iter().any(|allowed| host_name(allowed) == name)
    }
}

/// A host without its port: `127.0.0.1:3000` → `127.0.0.1`, `[::1]:80` → `[::1]`.
fn host_name(host: &str) -> String {
    let host = host.trim().to_ascii_lowercase();
    match host.rfind(':') {
        Some(colon) if !host[colon..].contains(']') => host[..colon].to_owned(),
        Some(_) | None => host,
    }
}

/// Refuses what crosses the boundary, and adds the headers; `inner` answers the
/// rest. Part of the server's edge middleware (`startup::edge`).
pub async fn within<F, Fut>(boundary: &Boundary, request: Request, inner: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    if let Err(why) = check(
        boundary,
        request.method(),
        request.uri().path(),
        request.headers(),
    ) {
        let mut refused = (
            StatusCode::FORBIDDEN,
            axum::Json(json!({ "error": { "code": "forbidden", "message": why, "details": {} } })),
        )
            .into_response();
        add_headers(refused.headers_mut());
        return refused;
    }
    let mut response = inner(request).await;
    add_headers(response.headers_mut());
    response
}

/// Why a request is refused, if it is.
fn check(
    boundary: &Boundary,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
) -> Result<(), String> {
    let host = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .unwrap_or_default();
    if !boundary.serves(host) {
        return Err(format!(
            "this server does not answer for the host {host:?}: set --public-url to the address people use"
        ));
    }
    let changes_state = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if !changes_state || path.starts_with("/hooks/") {
        return Ok(());
    }
    // Browsers say where a request comes from; other clients (scripts, curl) send
    // neither header and are not a cross-site risk.
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return match site {
            "same-origin" | "none" => Ok(()),
            other => Err(format!(
                "a {other} request may not change anything here: use Junction's own pages"
            )),
        };
    }
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => Ok(()),
        Some(origin) => {
            let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
            if origin_host.eq_ignore_ascii_case(host) {
                Ok(())
            } else {
                Err(format!(
                    "a request from {origin} may not change anything here: use Junction's own pages"
                ))
            }
        }
    }
}

fn add_headers(headers: &mut HeaderMap) {
    let set = |headers: &mut HeaderMap, name: &'static str, value: &'static str| {
        headers
            .entry(name)
            .or_insert_with(|| HeaderValue::from_static(value));
    };
    // Pages set their own, stricter policy, with a nonce for their scripts (app.rs).
    // This one is what every other answer gets, and what a page gets should its own
    // ever be missing (it was, once in a few hundred loads in CI, not yet explained):
    // it must not stop hydration, so it says nothing of scripts.
    set(
        headers,
        "content-security-policy",
        "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'",
    );
    set(headers, "x-frame-options", "DENY");
    set(headers, "x-content-type-options", "nosniff");
    set(headers, "referrer-policy", "same-origin");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn loopback() -> Boundary {
        Boundary::new(None, true)
    }

    #[test]
    fn a_post_from_another_site_is_refused_and_from_our_own_pages_allowed() {
        let own = headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3000"),
        ]);
        let other = headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "https://evil.example"),
        ]);
        let fetched = headers(&[("host", "127.0.0.1:3000"), ("sec-fetch-site", "cross-site")]);
        let script = headers(&[("host", "127.0.0.1:3000")]);

        assert!(check(&loopback(), &Method::POST, "/api/publish", &own).is_ok());
        assert!(check(&loopback(), &Method::POST, "/api/publish", &other).is_err());
        assert!(check(&loopback(), &Method::POST, "/api/v1/integrations", &fetched).is_err());
        assert!(check(&loopback(), &Method::POST, "/api/publish", &script).is_ok());
    }

    #[test]
    fn reading_and_webhooks_are_not_origin_checked() {
        let other = headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "https://evil.example"),
        ]);
        assert!(check(&loopback(), &Method::GET, "/", &other).is_ok());
        assert!(check(&loopback(), &Method::POST, "/hooks/orders", &other).is_ok());
    }

    #[test]
    fn a_rebinding_host_name_is_refused_on_loopback() {
        let rebinding = headers(&[
            ("host", "evil.example:3000"),
            ("origin", "http://evil.example:3000"),
        ]);
        assert!(check(&loopback(), &Method::GET, "/", &rebinding).is_err());
        assert!(
            check(
                &loopback(),
                &Method::GET,
                "/",
                &headers(&[("host", "localhost:3000")])
            )
            .is_ok()
        );
        assert!(
            check(
                &loopback(),
                &Method::GET,
                "/",
                &headers(&[("host", "[::1]:3000")])
            )
            .is_ok()
        );
    }

    #[test]
    fn the_public_host_is_served_and_without_one_beyond_loopback_any_is() {
        let public = Boundary::new(Some("junction.example.com"), false);
        let named = headers(&[("host", "junction.example.com")]);
        let other = headers(&[("host", "10.0.0.5:3000")]);
        assert!(check(&public, &Method::GET, "/", &named).is_ok());
        assert!(check(&public, &Method::GET, "/", &other).is_err());
        assert!(check(&Boundary::new(None, false), &Method::GET, "/", &other).is_ok());
    }
}
