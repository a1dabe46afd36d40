//! Server functions for connections: adapters over the application layer's
//! connection operations, for the connections page and the editor's picker.

use leptos::prelude::*;

use crate::domain::connection::ConnectionView;
use crate::error::AppError;

/// What testing a connection found, as the page shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tested {
    pub ok: bool,
    pub message: String,
}

/// Every connection (names and kinds for viewers).
#[server(endpoint = "list_connections")]
pub async fn list_connections() -> Result<Vec<ConnectionView>, AppError> {
    let (service, who) = super::service()?;
    service.connections(&who).await
}

/// A connection as the connections page's form holds it: every field as typed.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConnectionForm {
    /// "true" to create, anything else to replace the connection named `name`.
    pub create: String,
    pub name: String,
    pub kind: String,
    pub host: String,
    pub port: String,
    pub database: String,
    pub user: String,
    pub tls: String,
    pub path: String,
    pub base_url: String,
    pub auth: String,
    pub header: String,
    pub vhost: String,
    pub client_id: String,
    pub url: String,
    pub db: String,
    /// The kind's one secret (password, token or header value); empty when editing
    /// keeps the stored one.
    pub secret: String,
    /// "true" when the box is ticked; `private_shown` says the box was on the form
    /// (only administrators see it), so that an unticked box means "no".
    #[serde(default)]
    pub allow_private: Option<String>,
    #[serde(default)]
    pub private_shown: Option<String>,
}

impl ConnectionForm {
    /// The JSON form the application layer takes.
    pub fn to_value(&self) -> serde_json::Value {
        use serde_json::json;
        let kind = self.kind.trim();
        // A number where one is typed, else the text (refused, at its field).
        let number = |text: &str| {
            text.trim()
                .parse::<u64>()
                .map_or_else(|_| json!(text.trim()), |n| json!(n))
        };
        let host_port = |mut settings: serde_json::Value| {
            settings["host"] = json!(self.host.trim());
            if !self.port.trim().is_empty() {
                settings["port"] = number(&self.port);
            }
            settings
        };
        let user = self.user.trim();
        let (settings, secret_name) = match kind {
            "postgres" | "mysql" => (
                host_port(json!({
                    "database": self.database.trim(), "user": user, "tls": self.tls.trim(),
                })),
                Some("password"),
            ),
            "sqlite" => (json!({ "path": self.path.trim() }), None),
            "amqp" => (
                host_port(json!({ "vhost": self.vhost, "user": user })),
                Some("password"),
            ),
            "mqtt" => (
                host_port(json!({ "client_id": self.client_id.trim(), "user": user })),
                (!user.is_empty()).then_some("password"),
            ),
            "nats" => (
                json!({ "url": self.url.trim(), "user": user }),
                Some(if user.is_empty() { "token" } else { "password" }),
            ),
            "redis" => (
                host_port(json!({ "db": number(&self.db) })),
                Some("password"),
            ),
            "junction" => (json!({ "url": self.url.trim() }), Some("token")),
            _ => {
                let mut settings =
                    json!({ "base_url": self.base_url.trim(), "auth": self.auth.trim() });
                let secret = match self.auth.trim() {
                    "bearer" => Some("token"),
                    "basic" => {
                        settings["user"] = json!(self.user.trim());
                        Some("password")
                    }
                    "header" => {
                        settings["header"] = json!(self.header.trim());
                        Some("value")
                    }
                    _ => None,
                };
                (settings, secret)
            }
        };
        let mut value = json!({ "name": self.name.trim(), "kind": kind, "settings": settings });
        if let Some(secret) = secret_name {
            value["secrets"] = match (self.secret.is_empty(), self.create == "true") {
                (true, false) => json!({ secret: { "set": true } }),
                (_, _) => json!({ secret: self.secret }),
            };
        }
        if self.private_shown.is_some() {
            value["allow_private"] = json!(self.allow_private.as_deref() == Some("true"));
        }
        value
    }
}

/// Creates or replaces a connection from the connections page's form.
#[server(endpoint = "save_connection")]
pub async fn save_connection(form: ConnectionForm) -> Result<ConnectionView, AppError> {
    let (service, who) = super::service()?;
    let body = form.to_value();
    match form.create == "true" {
        true => service.create_connection(&who, &body).await,
        false => {
            service
                .update_connection(&who, form.name.trim(), &body)
                .await
        }
    }
}

#[server(endpoint = "delete_connection")]
pub async fn delete_connection(name: String) -> Result<(), AppError> {
    let (service, who) = super::service()?;
    service.delete_connection(&who, &name).await
}

#[server(endpoint = "test_connection")]
pub async fn test_connection(name: String) -> Result<Tested, AppError> {
    let (service, who) = super::service()?;
    let result = service.test_connection(&who, &name).await?;
    Ok(Tested {
        ok: result.ok,
        message: result.message,
    })
}
