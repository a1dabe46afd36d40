//! `POST /integrations/import`: the integrations page's upload of an export file, a
//! plain multipart form (so it works without JavaScript), as an adapter over
//! `Service::import`. It answers with a redirect: to the imported integration, or
//! back to the page with what went wrong (messages, never the document).

use axum::extract::{Multipart, State};
use axum::response::{IntoResponse, Redirect, Response};

use crate::api::rest::{Caller, MAX_IMPORT_BODY};
use crate::domain::transfer::ConnectionMap;
use crate::error::AppError;
use crate::service::{ImportRequest, Service};

/// Where the form is posted.
pub const PATH: &str = crate::ui::pages::integrations::IMPORT_PATH;

pub async fn upload(
    State(service): State<Service>,
    Caller(who): Caller,
    multipart: Multipart,
) -> Response {
    match import(&service, &who, multipart).await {
        Ok(to) => Redirect::to(&to).into_response(),
        Err(err) => {
            let error = serde_json::to_string(&err).unwrap_or_default();
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("import_error", &error)
                .finish();
            Redirect::to(&format!("/?{query}")).into_response()
        }
    }
}

async fn import(
    service: &Service,
    who: &crate::service::Principal,
    mut multipart: Multipart,
) -> Result<String, AppError> {
    let mut document = None;
    let mut mapping = String::new();
    let unreadable = |err: axum::extract::multipart::MultipartError| AppError::MalformedRequest {
        message: format!("the upload could not be read: {}", err.body_text()),
    };
    while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
        match field.name() {
            Some("document") => {
                let bytes = field.bytes().await.map_err(unreadable)?;
                if bytes.len() > MAX_IMPORT_BODY {
                    return Err(AppError::PayloadTooLarge {
                        limit: MAX_IMPORT_BODY,
                    });
                }
                document = Some(bytes);
            }
            Some("connections") => mapping = field.text().await.map_err(unreadable)?,
            Some(_) | None => {}
        }
    }
    let document = match document {
        Some(bytes) if !bytes.is_empty() => bytes,
        Some(_) | None => return Err(AppError::field("document", "choose an export file")),
    };
    let value: serde_json::Value = serde_json::from_slice(&document)
        .map_err(|err| AppError::field("document", format!("the file is not JSON: {err}")))?;
    let request = ImportRequest {
        document: Some(&value),
        connections: parse_mapping(&mapping)?,
        ..ImportRequest::default()
    };
    let reports = service.import(who, request).await?;
    Ok(match reports.as_slice() {
        [one] => {
            let summary = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("imported", &one.summary())
                .finish();
            format!("/integrations/{}/history?{summary}", one.integration.id)
        }
        many => format!("/?imported={}", many.len()),
    })
}

/// `orders-db=orders-db-prod`, one per line or separated by commas.
fn parse_mapping(text: &str) -> Result<ConnectionMap, AppError> {
    let mut map = ConnectionMap::new();
    for pair in text
        .split([',', '\n'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let Some((from, to)) = pair.split_once('=') else {
            return Err(AppError::field(
                "connections",
                format!("{pair:?}: write each as name-there=name-here"),
            ));
        };
        map.insert(from.trim().to_owned(), to.trim().to_owned());
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mapping_reads_pairs_on_lines_or_between_commas() {
        let map = parse_mapping("orders-db = orders-db-prod,\ncache=cache-prod\n").unwrap();
        assert_eq!(map["orders-db"], "orders-db-prod");
        assert_eq!(map["cache"], "cache-prod");
        assert!(parse_mapping("orders-db").is_err());
    }
}
