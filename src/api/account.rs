//! Server functions for signing in and out, the first administrator, the signed-in
//! user, API tokens, users and the audit log: each reads its form and calls the
//! application layer.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::access::Role;
use crate::domain::audit::AuditEntry;
use crate::domain::token::{NewToken, TokenInfo};
use crate::domain::user::User;
use crate::error::AppError;

/// The signed-in user, as the header shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub name: String,
    pub display_name: String,
    pub role: Role,
}

/// Who is signed in, if anyone.
#[server(endpoint = "whoami")]
pub async fn whoami() -> Result<Option<Me>, AppError> {
    let (_, caller) = super::service_and_caller()?;
    Ok(caller.principal().ok().map(|who| Me {
        name: who.user().to_owned(),
        display_name: who.display_name().to_owned(),
        role: who.role(),
    }))
}

/// Signs in with a name and password, then goes to `next` (a path on this server).
#[server(endpoint = "sign_in")]
pub async fn sign_in(
    name: String,
    password: String,
    next: Option<String>,
) -> Result<String, AppError> {
    let next = local_path(next.as_deref());
    let result = start_session(&name, &password).await.map(|()| next.clone());
    if result.is_ok() && super::is_plain_form_post().await {
        leptos_axum::redirect(&next);
    }
    // The password is never sent back, not even into the form.
    super::reply_to_form(result, &[("name", &name), ("next", &next)]).await
}

/// Creates the first administrator (only while no user exists) and signs them in.
#[server(endpoint = "create_first_admin")]
pub async fn create_first_admin(
    name: String,
    display_name: String,
    password: String,
) -> Result<String, AppError> {
    let result = async {
        let (service, _) = super::service_and_caller()?;
        let address = server::address().await;
        match service
            .create_first_admin(&name, &display_name, &password, &address)
            .await?
        {
            Some(_) => start_session(&name, &password)
                .await
                .map(|()| "/".to_owned()),
            None => Err(AppError::Forbidden {
                message: "an administrator already exists: sign in instead".into(),
            }),
        }
    }
    .await;
    if result.is_ok() && super::is_plain_form_post().await {
        leptos_axum::redirect("/");
    }
    super::reply_to_form(result, &[("name", &name), ("display_name", &display_name)]).await
}

/// Signs out: the session ends here and on the server.
#[server(endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    let (service, caller) = super::service_and_caller()?;
    if let Ok(who) = caller.principal() {
        service.sign_out(&who).await?;
    }
    let session = server::session().await?;
    session
        .flush()
        .await
        .map_err(|err| crate::service::internal(&err))?;
    if super::is_plain_form_post().await {
        leptos_axum::redirect(crate::ui::SIGN_IN_PATH);
    }
    Ok(())
}

/// Changes the signed-in user's own password. Every session of theirs ends; this
/// browser is signed in again with the new password.
#[server(endpoint = "change_my_password")]
pub async fn change_my_password(current: String, new_password: String) -> Result<(), AppError> {
    let result = async {
        let (service, who) = super::service()?;
        service
            .change_own_password(&who, &current, &new_password)
            .await?;
        start_session(who.user(), &new_password).await
    }
    .await;
    if result.is_ok() && super::is_plain_form_post().await {
        leptos_axum::redirect(crate::ui::TOKENS_PATH);
    }
    super::reply_to_form(result, &[]).await
}

/// Makes a personal API token for the signed-in user; the answer is the only time
/// the token is shown.
#[server(endpoint = "create_token")]
pub async fn create_token(
    name: String,
    expires_in_days: Option<String>,
) -> Result<NewToken, AppError> {
    let result = async {
        let (service, who) = super::service()?;
        let days = match expires_in_days.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(days) => Some(days.parse::<i64>().map_err(|_| {
                AppError::field(
                    "expires_in_days",
                    format!("{days:?} is not a number of days"),
                )
            })?),
        };
        service.create_token(&who, &name, days).await
    }
    .await;
    // Without JavaScript the answer is a redirect, not this page: the new token waits
    // in the session (never in a URL) for the tokens page to show it once.
    if let Ok(made) = &result
        && super::is_plain_form_post().await
    {
        server::session()
            .await?
            .insert(FRESH_TOKEN_KEY, made)
            .await
            .map_err(|err| crate::service::internal(&err))?;
        leptos_axum::redirect(crate::ui::TOKENS_PATH);
    }
    let days = expires_in_days.unwrap_or_default();
    super::reply_to_form(result, &[("name", &name), ("expires_in_days", &days)]).await
}

/// The session key of a token made by a form posted without JavaScript.
#[cfg(feature = "ssr")]
const FRESH_TOKEN_KEY: &str = "fresh_token";

/// What the tokens page shows: the user's tokens, and a token just made by a form
/// posted without JavaScript (shown once, then gone from the session).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokensPage {
    pub tokens: Vec<TokenInfo>,
    pub fresh: Option<NewToken>,
}

#[server(endpoint = "get_tokens_page")]
pub async fn get_tokens_page() -> Result<TokensPage, AppError> {
    let (service, who) = super::service()?;
    let tokens = service.tokens(&who, false).await?;
    let fresh = server::session()
        .await?
        .remove::<NewToken>(FRESH_TOKEN_KEY)
        .await
        .map_err(|err| crate::service::internal(&err))?;
    Ok(TokensPage { tokens, fresh })
}

/// The signed-in user's tokens; with `everyone`, every user's (administrators).
#[server(endpoint = "list_tokens")]
pub async fn list_tokens(everyone: Option<bool>) -> Result<Vec<TokenInfo>, AppError> {
    let (service, who) = super::service()?;
    service.tokens(&who, everyone.unwrap_or(false)).await
}

/// Revokes a token.
#[server(endpoint = "revoke_token")]
pub async fn revoke_token(id: String) -> Result<(), AppError> {
    let (service, who) = super::service()?;
    let result = service.revoke_token(&who, &id).await;
    super::reply_to_form(result, &[]).await
}

/// Every user (administrators).
#[server(endpoint = "list_users")]
pub async fn list_users() -> Result<Vec<User>, AppError> {
    let (service, who) = super::service()?;
    service.users(&who).await
}

/// Adds a user (administrators).
#[server(endpoint = "add_user")]
pub async fn add_user(
    name: String,
    display_name: String,
    password: String,
    role: String,
) -> Result<User, AppError> {
    use crate::service::UserRequest;

    let (service, who) = super::service()?;
    let request = UserRequest {
        name: &name,
        display_name: &display_name,
        password: &password,
        role: &role,
    };
    service.add_user(&who, &request).await
}

/// Changes a user's role, disables or enables them, or resets their password
/// (administrators). Empty fields stay as they are.
#[server(endpoint = "change_user")]
pub async fn change_user(
    name: String,
    role: Option<String>,
    disabled: Option<String>,
    password: Option<String>,
) -> Result<User, AppError> {
    use crate::service::UserChange;

    let (service, who) = super::service()?;
    let disabled = match disabled.as_deref().map(str::trim) {
        None | Some("") => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(other) => {
            return Err(AppError::field(
                "disabled",
                format!("{other:?} is neither true nor false"),
            ));
        }
    };
    let change = UserChange {
        role: role.as_deref().filter(|role| !role.trim().is_empty()),
        disabled,
        password: password.as_deref().filter(|password| !password.is_empty()),
    };
    service.change_user(&who, &name, &change).await
}

/// The audit log, newest first, 100 entries before the entry `before`.
#[server(endpoint = "list_audit")]
pub async fn list_audit(before: Option<i64>) -> Result<Vec<AuditEntry>, AppError> {
    let (service, who) = super::service()?;
    service.audit(&who, before, 100).await
}

/// A path on this server to go to after signing in: anything else goes home, so a
/// link cannot send people elsewhere.
pub fn local_path(next: Option<&str>) -> String {
    match next.map(str::trim) {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.chars().any(char::is_control) =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// Checks the password and puts the user into this browser's session, under a new
/// session id (so that an id planted before signing in is worth nothing after).
#[cfg(feature = "ssr")]
async fn start_session(name: &str, password: &str) -> Result<(), AppError> {
    use crate::store::sessions::CLAIM_KEY;

    let (service, _) = super::service_and_caller()?;
    let address = server::address().await;
    let (_, claim) = service.sign_in(name, password, &address).await?;
    let session = server::session().await?;
    session
        .cycle_id()
        .await
        .map_err(|err| crate::service::internal(&err))?;
    session
        .insert(CLAIM_KEY, claim)
        .await
        .map_err(|err| crate::service::internal(&err))?;
    Ok(())
}

#[cfg(feature = "ssr")]
mod server {
    use crate::error::AppError;

    pub async fn session() -> Result<tower_sessions::Session, AppError> {
        leptos_axum::extract::<tower_sessions::Session>()
            .await
            .map_err(|why| {
                crate::service::internal(&std::io::Error::other(format!("no session layer: {why}")))
            })
    }

    /// The peer's address, for the audit and the rate limit.
    pub async fn address() -> String {
        use axum::extract::ConnectInfo;
        leptos_axum::extract::<ConnectInfo<std::net::SocketAddr>>()
            .await
            .map(|ConnectInfo(addr)| addr.ip().to_string())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_signing_in_only_paths_on_this_server_are_followed() {
        assert_eq!(
            local_path(Some("/integrations/1?x=2")),
            "/integrations/1?x=2"
        );
        assert_eq!(local_path(Some("//evil.example/")), "/");
        assert_eq!(local_path(Some("https://evil.example/")), "/");
        assert_eq!(local_path(Some("/\\evil.example")), "/");
        assert_eq!(local_path(None), "/");
    }
}
