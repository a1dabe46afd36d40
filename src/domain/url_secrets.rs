//! The secrets a URL may carry: the password of `user:password@`, and the values of
//! query parameters named like credentials (`?token=`, `api_key=`, `signature=`).
//! They are masked wherever a definition is shown, put back from the stored one when
//! an edit sends the mask back, and compared (never shown) by diffs and the content
//! hash. URLs are read with the `url` crate, as the HTTP client reads them, so that
//! what is masked is what a request would send.

use super::definition::MASK;

/// Query parameters whose name contains one of these words hold secrets.
pub const SECRET_QUERY_WORDS: [&str; 10] = [
    "token",
    "key",
    "secret",
    "password",
    "passwd",
    "pass",
    "auth",
    "signature",
    "sig",
    "credential",
];

/// Whether a query parameter of this name holds a secret.
pub fn is_secret_parameter(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_QUERY_WORDS.iter().any(|word| lower.contains(word))
}

/// The raw pieces of a query (`name=value`), split as written.
fn pieces(query: &str) -> Vec<(&str, Option<&str>)> {
    query
        .split('&')
        .map(|piece| match piece.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (piece, None),
        })
        .collect()
}

/// A query parameter's name, decoded as servers read it.
fn decoded(name: &str) -> String {
    url::form_urlencoded::parse(format!("{name}=").as_bytes())
        .next()
        .map_or_else(|| name.to_owned(), |(name, _)| name.into_owned())
}

/// Each secret of `text`, with its place (`password`, `query.token`), as written.
pub fn secrets(text: &str) -> Vec<(String, String)> {
    let Some(url) = parse(text) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    if let Some(password) = url.password() {
        found.push(("password".to_owned(), password.to_owned()));
    }
    if let Some(query) = url.query() {
        for (name, value) in pieces(query) {
            if let Some(value) = value
                && is_secret_parameter(&decoded(name))
            {
                found.push((format!("query.{}", decoded(name)), value.to_owned()));
            }
        }
    }
    found
}

/// `text` with each secret replaced by `mask`.
pub fn masked(text: &str, mask: &str) -> String {
    replaced(text, |_, _| Ok(mask.to_owned())).unwrap_or_else(|_| text.to_owned())
}

/// `text` with each secret sent back as [`MASK`] replaced by the secret at the same
/// place in `stored`; the places where a mask has no secret behind it, if any.
pub fn unmasked(text: &str, stored: Option<&str>) -> Result<String, Vec<String>> {
    let behind = stored.map(secrets).unwrap_or_default();
    replaced(text, |place, value| match value {
        MASK => behind
            .iter()
            .find(|(at, _)| at == place)
            .map(|(_, secret)| secret.clone())
            .ok_or_else(|| place.to_owned()),
        other => Ok(other.to_owned()),
    })
}

/// A path under a connection's base URL is read as if under a placeholder origin.
const RELATIVE_BASE: &str = "http://relative.invalid";

/// `text` as the HTTP client reads it: a URL, or a path (`/orders?token=...`) that a
/// step sends under its connection's base URL.
fn parse(text: &str) -> Option<url::Url> {
    match text.starts_with('/') {
        true => url::Url::parse(&format!("{RELATIVE_BASE}{text}")).ok(),
        false => url::Url::parse(text).ok(),
    }
}

/// `url` written back as `text` was: a path stays a path.
fn written(url: &url::Url, text: &str) -> String {
    let full = url.to_string();
    match text.starts_with('/') {
        true => full.strip_prefix(RELATIVE_BASE).unwrap_or(&full).to_owned(),
        false => full,
    }
}

/// Rewrites each secret of `text` through `with(place, value)`; the query keeps every
/// other byte as written, and a URL whose secrets all stay as they are is answered
/// exactly as written (the `url` crate would add a slash or lower-case the host).
fn replaced(
    text: &str,
    with: impl Fn(&str, &str) -> Result<String, String>,
) -> Result<String, Vec<String>> {
    let Some(mut url) = parse(text) else {
        return Ok(text.to_owned());
    };
    let mut unplaced = Vec::new();
    let mut changed = false;
    if let Some(password) = url.password().map(str::to_owned) {
        match with("password", &password) {
            Ok(value) if value != password => {
                let _ = url.set_password(Some(&value));
                changed = true;
            }
            Ok(_) => {}
            Err(place) => unplaced.push(place),
        }
    }
    if let Some(query) = url.query().map(str::to_owned) {
        let rewritten: Vec<String> = pieces(&query)
            .into_iter()
            .map(|(name, value)| match value {
                Some(value) if is_secret_parameter(&decoded(name)) => {
                    match with(&format!("query.{}", decoded(name)), value) {
                        Ok(new) => {
                            changed |= new != value;
                            format!("{name}={new}")
                        }
                        Err(place) => {
                            unplaced.push(place);
                            format!("{name}={value}")
                        }
                    }
                }
                Some(value) => format!("{name}={value}"),
                None => name.to_owned(),
            })
            .collect();
        url.set_query(Some(&rewritten.join("&")));
    }
    match (unplaced.is_empty(), changed) {
        (true, true) => Ok(written(&url, text)),
        (true, false) => Ok(text.to_owned()),
        (false, _) => Err(unplaced),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_path_under_a_connection_has_its_secret_parameters_masked_too() {
        let masked = super::masked("/orders?token=abc&x=1", "********");
        assert_eq!(masked, "/orders?token=********&x=1");
        assert_eq!(
            super::unmasked(&masked, Some("/orders?token=abc&x=1")),
            Ok("/orders?token=abc&x=1".to_owned())
        );
        assert_eq!(
            super::secrets("/a?api_key=k"),
            [("query.api_key".to_owned(), "k".to_owned())]
        );
    }

    use super::*;

    #[test]
    fn a_password_and_credential_parameters_are_the_secrets_of_a_url() {
        let url = "https://bob:hunter2@api.example.com/x?token=abc&page=2&api_key=k%201";

        assert_eq!(
            secrets(url),
            [
                ("password".to_owned(), "hunter2".to_owned()),
                ("query.token".to_owned(), "abc".to_owned()),
                ("query.api_key".to_owned(), "k%201".to_owned()),
            ]
        );
        assert_eq!(
            masked(url, MASK),
            "https://bob:********@api.example.com/x?token=********&page=2&api_key=********"
        );
    }

    #[test]
    fn a_mask_sent_back_gets_the_stored_secret_at_its_place_even_in_an_edited_url() {
        let stored = "https://bob:hunter2@api.example.com/x?token=abc&page=2";
        let edited = "https://bob:********@api.example.com/y?page=3&token=********";

        assert_eq!(
            unmasked(edited, Some(stored)).unwrap(),
            "https://bob:hunter2@api.example.com/y?page=3&token=abc"
        );
    }

    #[test]
    fn a_mask_with_no_secret_behind_it_is_named() {
        let edited = "https://api.example.com/?token=********&key=typed";

        assert_eq!(
            unmasked(edited, Some("https://api.example.com/")).unwrap_err(),
            ["query.token"]
        );
    }

    #[test]
    fn a_url_without_secrets_is_left_as_written() {
        for url in [
            "http://h:8080/a%20b?q=x+y&flag",
            "HTTPS://Example.COM",
            "http://h?x=1",
        ] {
            assert_eq!(masked(url, MASK), url);
            assert_eq!(unmasked(url, None).unwrap(), url);
            assert!(secrets(url).is_empty());
        }
    }

    #[test]
    fn a_url_whose_secrets_are_typed_as_they_were_stays_as_written() {
        let url = "HTTPS://Example.COM?token=abc";
        assert_eq!(unmasked(url, Some(url)).unwrap(), url);
    }
}
