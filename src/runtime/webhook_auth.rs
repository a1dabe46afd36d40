//! Checking a webhook call against its trigger's secret: a bearer token, or an
//! HMAC-SHA256 signature of the raw body. Both compare in constant time, so the time
//! an answer takes tells nothing about how much of a guess was right.

use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::domain::definition::WebhookAuth;

/// Whether the call proves it holds the secret; if not, why (for the caller and the
/// activity: never the secret or what was expected).
pub fn check(auth: &WebhookAuth, headers: &HeaderMap, raw: &[u8]) -> Result<(), String> {
    match auth {
        WebhookAuth::Bearer { secret } => {
            let sent = headers
                .get(axum::http::header::AUTHORIZATION)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.trim().split_once(' '))
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, token)| token.trim())
                .ok_or("this webhook requires Authorization: Bearer <secret>")?;
            // Equal-length digests, so the comparison's time does not depend on the
            // secret's length either.
            let matches: bool = Sha256::digest(sent.as_bytes())
                .ct_eq(&Sha256::digest(secret.as_bytes()))
                .into();
            matches
                .then_some(())
                .ok_or_else(|| "the bearer secret is wrong".to_owned())
        }
        WebhookAuth::HmacSha256 { header, secret } => {
            let sent = headers
                .get(header.as_str())
                .and_then(|value| value.to_str().ok())
                .ok_or_else(|| {
                    format!("this webhook requires a signature in {header}: sha256=<hex HMAC-SHA256 of the body>")
                })?;
            let hex = sent.trim();
            let hex = hex.strip_prefix("sha256=").unwrap_or(hex);
            let signature = decode_hex(hex)
                .ok_or_else(|| format!("the signature in {header} is not hexadecimal"))?;
            let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
                .map_err(|_| "the webhook's secret cannot key an HMAC".to_owned())?;
            mac.update(raw);
            mac.verify_slice(&signature)
                .map_err(|_| format!("the signature in {header} does not match the body"))
        }
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(text.get(at..at + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    fn sign(secret: &str, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body);
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn a_bearer_webhook_wants_exactly_its_secret() {
        let auth = WebhookAuth::Bearer {
            secret: "a long shared secret".into(),
        };
        let right = headers(&[("authorization", "Bearer a long shared secret")]);
        let wrong = headers(&[("authorization", "Bearer a long shared secreT")]);
        assert_eq!(check(&auth, &right, b"{}"), Ok(()));
        assert!(check(&auth, &wrong, b"{}").unwrap_err().contains("wrong"));
        assert!(
            check(&auth, &HeaderMap::new(), b"{}")
                .unwrap_err()
                .contains("requires")
        );
    }

    #[test]
    fn a_signed_webhook_wants_the_hmac_of_this_very_body() {
        let auth = WebhookAuth::HmacSha256 {
            header: "x-hub-signature-256".into(),
            secret: "a long shared secret".into(),
        };
        let body = br#"{"id": 7}"#;
        let signature = sign("a long shared secret", body);
        let github_style = headers(&[("x-hub-signature-256", &format!("sha256={signature}"))]);
        let bare = headers(&[("x-hub-signature-256", &signature)]);
        assert_eq!(check(&auth, &github_style, body), Ok(()));
        assert_eq!(check(&auth, &bare, body), Ok(()));
        assert!(
            check(&auth, &github_style, br#"{"id": 8}"#)
                .unwrap_err()
                .contains("does not match")
        );
        let garbage = headers(&[("x-hub-signature-256", "sha256=zz")]);
        assert!(
            check(&auth, &garbage, body)
                .unwrap_err()
                .contains("not hexadecimal")
        );
        assert!(
            check(&auth, &HeaderMap::new(), body)
                .unwrap_err()
                .contains("requires a signature")
        );
    }
}
