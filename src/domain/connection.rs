//! Connections: named, typed settings and secrets that flows refer to by name. The
//! JSON form is public (the API takes and answers it), so parsing is strict like a
//! definition's, and every problem is reported where it is (`settings.port`). Secrets
//! travel one way: a client sends a value, or the `{"set": true}` marker that keeps
//! the stored one; an answer only ever says whether each is set.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

use crate::error::FieldError;

/// The kinds of connection. Every match over them is exhaustive: a new kind is a
/// compile error wherever it is missed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ConnectionKind {
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB.
    Mysql,
    /// An SQLite file on the server.
    Sqlite,
    /// An HTTP service: a base URL and how to authenticate.
    Http,
    /// An AMQP 0-9-1 broker (RabbitMQ).
    Amqp,
    /// An MQTT broker (3.1.1).
    Mqtt,
    /// NATS, with or without JetStream.
    Nats,
    /// Redis.
    Redis,
    /// Another Junction server, which versions are promoted to: its address and an
    /// API token of a user there (secret `token`).
    Junction,
}

impl ConnectionKind {
    pub const ALL: [ConnectionKind; 9] = [
        ConnectionKind::Postgres,
        ConnectionKind::Mysql,
        ConnectionKind::Sqlite,
        ConnectionKind::Http,
        ConnectionKind::Amqp,
        ConnectionKind::Mqtt,
        ConnectionKind::Nats,
        ConnectionKind::Redis,
        ConnectionKind::Junction,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionKind::Postgres => "postgres",
            ConnectionKind::Mysql => "mysql",
            ConnectionKind::Sqlite => "sqlite",
            ConnectionKind::Http => "http",
            ConnectionKind::Amqp => "amqp",
            ConnectionKind::Mqtt => "mqtt",
            ConnectionKind::Nats => "nats",
            ConnectionKind::Redis => "redis",
            ConnectionKind::Junction => "junction",
        }
    }

    /// What the pages call it.
    pub fn label(self) -> &'static str {
        match self {
            ConnectionKind::Postgres => "PostgreSQL",
            ConnectionKind::Mysql => "MySQL / MariaDB",
            ConnectionKind::Sqlite => "SQLite file",
            ConnectionKind::Http => "HTTP service",
            ConnectionKind::Amqp => "RabbitMQ (AMQP)",
            ConnectionKind::Mqtt => "MQTT broker",
            ConnectionKind::Nats => "NATS",
            ConnectionKind::Redis => "Redis",
            ConnectionKind::Junction => "Junction server",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// Whether `sql` steps and `sql_poll` triggers may use it, and in which dialect.
    pub fn sql_dialect(self) -> Option<SqlDialect> {
        match self {
            ConnectionKind::Postgres => Some(SqlDialect::Postgres),
            ConnectionKind::Mysql => Some(SqlDialect::Mysql),
            ConnectionKind::Sqlite => Some(SqlDialect::Sqlite),
            ConnectionKind::Http
            | ConnectionKind::Amqp
            | ConnectionKind::Mqtt
            | ConnectionKind::Nats
            | ConnectionKind::Redis
            | ConnectionKind::Junction => None,
        }
    }

    /// The default port, for kinds reached over the network by host and port.
    pub fn default_port(self) -> Option<u16> {
        match self {
            ConnectionKind::Postgres => Some(5432),
            ConnectionKind::Mysql => Some(3306),
            ConnectionKind::Amqp => Some(5672),
            ConnectionKind::Mqtt => Some(1883),
            ConnectionKind::Redis => Some(6379),
            ConnectionKind::Sqlite
            | ConnectionKind::Http
            | ConnectionKind::Nats
            | ConnectionKind::Junction => None,
        }
    }
}

impl fmt::Display for ConnectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an SQL database numbers the parameters of a statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqlDialect {
    /// `$1`, `$2`, ...
    Postgres,
    /// `?`, in order.
    Mysql,
    /// `?`, `?NNN` or `$NNN`.
    Sqlite,
}

/// A connection's name: what flows refer to it by. 1 to 64 characters from a-z, 0-9,
/// `-`, `_` and `.`, starting with a letter or digit.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ConnectionName(String);

impl ConnectionName {
    pub fn parse(text: &str) -> Result<Self, String> {
        let valid = (1..=64).contains(&text.len())
            && text.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && text.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_' || b == b'.'
            });
        match valid {
            true => Ok(Self(text.to_owned())),
            false => Err(
                "must be 1 to 64 characters from a-z, 0-9, -, _ and ., starting with a letter \
                 or digit"
                    .to_owned(),
            ),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConnectionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a database connection uses TLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// Never.
    Disable,
    /// When the server offers it (the drivers' default).
    Prefer,
    /// Always, without checking the certificate.
    Require,
    /// Always, checking the certificate and the host name.
    VerifyFull,
}

impl TlsMode {
    pub const ALL: [TlsMode; 4] = [
        TlsMode::Disable,
        TlsMode::Prefer,
        TlsMode::Require,
        TlsMode::VerifyFull,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Disable => "disable",
            TlsMode::Prefer => "prefer",
            TlsMode::Require => "require",
            TlsMode::VerifyFull => "verify_full",
        }
    }
}

/// How requests through an `http` connection authenticate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "scheme", rename_all = "snake_case")]
pub enum HttpAuth {
    None,
    /// `Authorization: Bearer <token>` (secret `token`).
    Bearer,
    /// HTTP Basic as `user` (secret `password`).
    Basic {
        user: String,
    },
    /// A header of this name (secret `value`), e.g. `x-api-key`.
    Header {
        header: String,
    },
}

/// The settings of a connection: what is not secret. The JSON form is flat
/// (`{"host": ..., "port": ...}`); which fields there are depends on the kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settings {
    /// PostgreSQL and MySQL.
    Database {
        host: String,
        port: u16,
        database: String,
        user: String,
        tls: TlsMode,
    },
    Sqlite {
        path: String,
    },
    Http {
        base_url: String,
        auth: HttpAuth,
    },
    /// AMQP: the broker, the virtual host and the user (secret `password`).
    Amqp {
        host: String,
        port: u16,
        vhost: String,
        user: String,
    },
    /// MQTT: the broker, this client's id (the session is kept under it), and a user
    /// if the broker wants one (secret `password`).
    Mqtt {
        host: String,
        port: u16,
        client_id: String,
        user: Option<String>,
    },
    /// NATS: the server URL (`nats://host:4222`), and a user (secret `password`) or a
    /// token (secret `token`).
    Nats {
        url: String,
        user: Option<String>,
    },
    /// Redis: the server and the database number (secret `password`, optional).
    Redis {
        host: String,
        port: u16,
        db: u8,
    },
    /// Another Junction: its address (secret `token`, an API token of a user there).
    Junction {
        url: String,
    },
}

impl Settings {
    /// The names of the secrets these settings take.
    pub fn secret_names(&self) -> &'static [&'static str] {
        match self {
            Settings::Database { .. } => &["password"],
            Settings::Sqlite { .. } => &[],
            Settings::Http { auth, .. } => match auth {
                HttpAuth::None => &[],
                HttpAuth::Bearer => &["token"],
                HttpAuth::Basic { .. } => &["password"],
                HttpAuth::Header { .. } => &["value"],
            },
            Settings::Amqp { .. } | Settings::Redis { .. } => &["password"],
            Settings::Mqtt { user, .. } => match user {
                Some(_) => &["password"],
                None => &[],
            },
            Settings::Nats { user, .. } => match user {
                Some(_) => &["password"],
                None => &["token"],
            },
            Settings::Junction { .. } => &["token"],
        }
    }

    /// The secrets a connection cannot do without (a database password may be empty:
    /// trust and socket authentication exist).
    fn required_secrets(&self) -> &'static [&'static str] {
        match self {
            Settings::Database { .. }
            | Settings::Sqlite { .. }
            | Settings::Amqp { .. }
            | Settings::Mqtt { .. }
            | Settings::Nats { .. }
            | Settings::Redis { .. } => &[],
            Settings::Http { .. } | Settings::Junction { .. } => self.secret_names(),
        }
    }

    /// The host and port reached, for kinds that reach one over the network.
    pub fn host_and_port(&self) -> Option<(&str, u16)> {
        match self {
            Settings::Database { host, port, .. }
            | Settings::Amqp { host, port, .. }
            | Settings::Mqtt { host, port, .. }
            | Settings::Redis { host, port, .. } => Some((host, *port)),
            Settings::Sqlite { .. }
            | Settings::Http { .. }
            | Settings::Nats { .. }
            | Settings::Junction { .. } => None,
        }
    }

    /// The JSON form, as parsed: flat, `auth` named by its scheme.
    pub fn to_value(&self) -> Value {
        match self {
            Settings::Database {
                host,
                port,
                database,
                user,
                tls,
            } => serde_json::json!({
                "host": host, "port": port, "database": database, "user": user,
                "tls": tls.as_str(),
            }),
            Settings::Sqlite { path } => serde_json::json!({ "path": path }),
            Settings::Http { base_url, auth } => {
                let mut value = serde_json::json!({ "base_url": base_url });
                let scheme = match auth {
                    HttpAuth::None => "none",
                    HttpAuth::Bearer => "bearer",
                    HttpAuth::Basic { user } => {
                        value["user"] = Value::from(user.as_str());
                        "basic"
                    }
                    HttpAuth::Header { header } => {
                        value["header"] = Value::from(header.as_str());
                        "header"
                    }
                };
                value["auth"] = Value::from(scheme);
                value
            }
            Settings::Amqp {
                host,
                port,
                vhost,
                user,
            } => serde_json::json!({ "host": host, "port": port, "vhost": vhost, "user": user }),
            Settings::Mqtt {
                host,
                port,
                client_id,
                user,
            } => {
                let mut value =
                    serde_json::json!({ "host": host, "port": port, "client_id": client_id });
                if let Some(user) = user {
                    value["user"] = Value::from(user.as_str());
                }
                value
            }
            Settings::Nats { url, user } => {
                let mut value = serde_json::json!({ "url": url });
                if let Some(user) = user {
                    value["user"] = Value::from(user.as_str());
                }
                value
            }
            Settings::Redis { host, port, db } => {
                serde_json::json!({ "host": host, "port": port, "db": db })
            }
            Settings::Junction { url } => serde_json::json!({ "url": url }),
        }
    }
}

/// A secret as a client sends it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretInput {
    /// A new value.
    Value(String),
    /// `{"set": true}` (or leaving it out): keep the stored value.
    Keep,
    /// `null`: no value any more.
    Clear,
}

/// Whether a secret is set, as answers show it: never its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SecretState {
    pub set: bool,
}

/// A connection as created or changed: parsed from the JSON form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionInput {
    pub name: ConnectionName,
    pub kind: ConnectionKind,
    pub settings: Settings,
    pub secrets: BTreeMap<String, SecretInput>,
    /// Whether it may reach private and loopback addresses; `None` leaves it as it
    /// is (false for a new connection). Only administrators may set it.
    pub allow_private: Option<bool>,
}

/// A connection as answers show it: settings, and for each secret whether it is set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConnectionView {
    pub name: String,
    pub kind: ConnectionKind,
    /// Left out for viewers, who see names and kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<Value>,
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretState>,
    #[serde(default)]
    pub allow_private: bool,
    /// Goes up by one with every change; a running flow built with an older one is
    /// redeployed.
    pub revision: i64,
    #[serde(with = "crate::json::utc")]
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub updated_by: String,
}

/// The longest secret accepted, in bytes.
pub const MAX_SECRET_BYTES: usize = 4096;
const MAX_SETTING_CHARS: usize = 1000;

/// Parses the JSON form `{name, kind, settings, secrets, allow_private}`; `name` may
/// come from the URL instead (`PUT /connections/{name}`), and then must match.
pub fn parse_input(
    value: &Value,
    name_in_url: Option<&str>,
) -> Result<ConnectionInput, Vec<FieldError>> {
    let mut errors = Vec::new();
    let Some(map) = value.as_object() else {
        return Err(vec![FieldError::new("connection", "must be an object")]);
    };
    unknown_fields(
        map,
        "",
        &["name", "kind", "settings", "secrets", "allow_private"],
        &mut errors,
    );
    let name = match (map.get("name"), name_in_url) {
        (None, Some(url)) => Some(url.to_owned()),
        (Some(Value::String(name)), Some(url)) if name != url => {
            errors.push(FieldError::new(
                "name",
                format!("is {name:?}, but the address names {url:?}: a connection is renamed by creating another"),
            ));
            None
        }
        (Some(Value::String(name)), _) => Some(name.clone()),
        (Some(_), _) => {
            errors.push(FieldError::new("name", "must be a string"));
            None
        }
        (None, None) => {
            errors.push(FieldError::new("name", "is required"));
            None
        }
    };
    let name = name.and_then(|name| {
        ConnectionName::parse(&name)
            .map_err(|why| errors.push(FieldError::new("name", why)))
            .ok()
    });
    let kind = match map.get("kind") {
        Some(Value::String(kind)) => {
            let parsed = ConnectionKind::parse(kind);
            if parsed.is_none() {
                let known: Vec<&str> = ConnectionKind::ALL.iter().map(|k| k.as_str()).collect();
                errors.push(FieldError::new(
                    "kind",
                    format!(
                        "unknown kind {kind:?} (expected one of: {})",
                        known.join(", ")
                    ),
                ));
            }
            parsed
        }
        Some(_) => {
            errors.push(FieldError::new("kind", "must be a string"));
            None
        }
        None => {
            errors.push(FieldError::new("kind", "is required"));
            None
        }
    };
    let settings = kind.and_then(|kind| {
        let empty = Value::Object(Map::new());
        parse_settings(kind, map.get("settings").unwrap_or(&empty), &mut errors)
    });
    let secrets = match map.get("secrets") {
        None | Some(Value::Null) => Some(BTreeMap::new()),
        Some(Value::Object(secrets)) => parse_secrets(secrets, settings.as_ref(), &mut errors),
        Some(_) => {
            errors.push(FieldError::new(
                "secrets",
                "must be an object of secret names to values",
            ));
            None
        }
    };
    let allow_private = match map.get("allow_private") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(allow)) => Some(*allow),
        Some(_) => {
            errors.push(FieldError::new("allow_private", "must be true or false"));
            None
        }
    };
    match (name, kind, settings, secrets) {
        (Some(name), Some(kind), Some(settings), Some(secrets)) if errors.is_empty() => {
            Ok(ConnectionInput {
                name,
                kind,
                settings,
                secrets,
                allow_private,
            })
        }
        _ => Err(errors),
    }
}

/// Reads stored settings back (they were parsed when stored).
pub fn settings_from_stored(kind: ConnectionKind, value: &Value) -> Result<Settings, String> {
    let mut errors = Vec::new();
    parse_settings(kind, value, &mut errors).ok_or_else(|| {
        errors
            .iter()
            .map(|e| format!("{}: {}", e.path, e.message))
            .collect::<Vec<_>>()
            .join("; ")
    })
}

fn unknown_fields(
    map: &Map<String, Value>,
    at: &str,
    allowed: &[&str],
    errors: &mut Vec<FieldError>,
) {
    for key in map.keys() {
        if !allowed.contains(&key.as_str()) {
            errors.push(FieldError::new(
                format!("{at}{key}"),
                format!("unknown field (expected one of: {})", allowed.join(", ")),
            ));
        }
    }
}

fn text(map: &Map<String, Value>, key: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    let path = format!("settings.{key}");
    match map.get(key) {
        Some(Value::String(text)) if text.trim().is_empty() => {
            errors.push(FieldError::new(path, "must not be empty"));
            None
        }
        Some(Value::String(text)) if text.chars().count() > MAX_SETTING_CHARS => {
            errors.push(FieldError::new(
                path,
                format!("is at most {MAX_SETTING_CHARS} characters"),
            ));
            None
        }
        Some(Value::String(text)) if text.chars().any(char::is_control) => {
            errors.push(FieldError::new(path, "must not contain control characters"));
            None
        }
        Some(Value::String(text)) => Some(text.trim().to_owned()),
        Some(_) => {
            errors.push(FieldError::new(path, "must be a string"));
            None
        }
        None => {
            errors.push(FieldError::new(path, "is required"));
            None
        }
    }
}

/// `settings.host`: a host name or an address.
fn host(map: &Map<String, Value>, errors: &mut Vec<FieldError>) -> Option<String> {
    let host = text(map, "host", errors)?;
    if host.contains(['/', '@', ' ']) || host.starts_with('-') {
        errors.push(FieldError::new(
            "settings.host",
            "must be a host name or an address",
        ));
        return None;
    }
    Some(host)
}

/// `settings.port`, or the kind's usual port when left out.
fn port(
    map: &Map<String, Value>,
    kind: ConnectionKind,
    errors: &mut Vec<FieldError>,
) -> Option<u16> {
    match map.get("port") {
        None | Some(Value::Null) => kind.default_port(),
        Some(port) => {
            let port = port
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .filter(|p| *p > 0);
            if port.is_none() {
                errors.push(FieldError::new(
                    "settings.port",
                    "must be a whole number from 1 to 65535",
                ));
            }
            port
        }
    }
}

/// A setting that may be left out (or empty).
fn optional_text(
    map: &Map<String, Value>,
    key: &str,
    errors: &mut Vec<FieldError>,
) -> Option<Option<String>> {
    match map.get(key) {
        None | Some(Value::Null) => Some(None),
        Some(Value::String(text)) if text.trim().is_empty() => Some(None),
        Some(_) => text(map, key, errors).map(Some),
    }
}

fn parse_settings(
    kind: ConnectionKind,
    value: &Value,
    errors: &mut Vec<FieldError>,
) -> Option<Settings> {
    let Some(map) = value.as_object() else {
        errors.push(FieldError::new("settings", "must be an object"));
        return None;
    };
    match kind {
        ConnectionKind::Postgres | ConnectionKind::Mysql => {
            unknown_fields(
                map,
                "settings.",
                &["host", "port", "database", "user", "tls"],
                errors,
            );
            let host = host(map, errors);
            let port = port(map, kind, errors);
            let database = text(map, "database", errors);
            let user = text(map, "user", errors);
            let tls = match map.get("tls") {
                None | Some(Value::Null) => Some(TlsMode::Prefer),
                Some(Value::String(mode)) => {
                    let found = TlsMode::ALL.into_iter().find(|m| m.as_str() == mode);
                    if found.is_none() {
                        errors.push(FieldError::new(
                            "settings.tls",
                            "must be disable, prefer, require or verify_full",
                        ));
                    }
                    found
                }
                Some(_) => {
                    errors.push(FieldError::new("settings.tls", "must be a string"));
                    None
                }
            };
            Some(Settings::Database {
                host: host?,
                port: port?,
                database: database?,
                user: user?,
                tls: tls?,
            })
        }
        ConnectionKind::Sqlite => {
            unknown_fields(map, "settings.", &["path"], errors);
            let path = text(map, "path", errors)?;
            if path.starts_with(':') || path.contains('?') {
                errors.push(FieldError::new(
                    "settings.path",
                    "must be the path of a file (no in-memory databases or URL options)",
                ));
                return None;
            }
            Some(Settings::Sqlite { path })
        }
        ConnectionKind::Amqp => {
            unknown_fields(map, "settings.", &["host", "port", "vhost", "user"], errors);
            let (host, port) = (host(map, errors), port(map, kind, errors));
            let vhost = match map.get("vhost") {
                None | Some(Value::Null) => Some("/".to_owned()),
                Some(Value::String(vhost)) if !vhost.chars().any(char::is_control) => {
                    Some(vhost.clone())
                }
                Some(_) => {
                    errors.push(FieldError::new(
                        "settings.vhost",
                        "must be a virtual host's name",
                    ));
                    None
                }
            };
            let user = text(map, "user", errors);
            Some(Settings::Amqp {
                host: host?,
                port: port?,
                vhost: vhost?,
                user: user?,
            })
        }
        ConnectionKind::Mqtt => {
            unknown_fields(
                map,
                "settings.",
                &["host", "port", "client_id", "user"],
                errors,
            );
            let (host, port) = (host(map, errors), port(map, kind, errors));
            let client_id = text(map, "client_id", errors).and_then(|id| {
                let valid = id.len() <= 64 && id.bytes().all(|b| b.is_ascii_graphic());
                if !valid {
                    errors.push(FieldError::new(
                        "settings.client_id",
                        "must be 1 to 64 visible ASCII characters",
                    ));
                }
                valid.then_some(id)
            });
            let user = optional_text(map, "user", errors);
            Some(Settings::Mqtt {
                host: host?,
                port: port?,
                client_id: client_id?,
                user: user?,
            })
        }
        ConnectionKind::Nats => {
            unknown_fields(map, "settings.", &["url", "user"], errors);
            let url = text(map, "url", errors).and_then(|url| match url::Url::parse(&url) {
                Ok(parsed)
                    if matches!(parsed.scheme(), "nats" | "tls")
                        && parsed.host_str().is_some()
                        && parsed.username().is_empty()
                        && parsed.password().is_none() =>
                {
                    Some(url)
                }
                Ok(_) | Err(_) => {
                    errors.push(FieldError::new(
                        "settings.url",
                        "must be a nats:// or tls:// URL without credentials (they go in secrets)",
                    ));
                    None
                }
            });
            let user = optional_text(map, "user", errors);
            Some(Settings::Nats {
                url: url?,
                user: user?,
            })
        }
        ConnectionKind::Redis => {
            unknown_fields(map, "settings.", &["host", "port", "db"], errors);
            let (host, port) = (host(map, errors), port(map, kind, errors));
            let db = match map.get("db") {
                None | Some(Value::Null) => Some(0),
                Some(db) => {
                    let db = db
                        .as_u64()
                        .and_then(|db| u8::try_from(db).ok())
                        .filter(|db| *db < 16);
                    if db.is_none() {
                        errors.push(FieldError::new(
                            "settings.db",
                            "must be a whole number from 0 to 15",
                        ));
                    }
                    db
                }
            };
            Some(Settings::Redis {
                host: host?,
                port: port?,
                db: db?,
            })
        }
        ConnectionKind::Junction => {
            unknown_fields(map, "settings.", &["url"], errors);
            let url = text(map, "url", errors).and_then(|url| match url::Url::parse(&url) {
                Ok(parsed)
                    if matches!(parsed.scheme(), "http" | "https")
                        && parsed.host_str().is_some()
                        && parsed.username().is_empty()
                        && parsed.password().is_none()
                        && parsed.query().is_none() =>
                {
                    Some(url.trim_end_matches('/').to_owned())
                }
                Ok(_) | Err(_) => {
                    errors.push(FieldError::new(
                        "settings.url",
                        "must be the http(s) address of a Junction server, without credentials \
                         (the token goes in secrets)",
                    ));
                    None
                }
            });
            Some(Settings::Junction { url: url? })
        }
        ConnectionKind::Http => {
            unknown_fields(
                map,
                "settings.",
                &["base_url", "auth", "user", "header"],
                errors,
            );
            let base_url =
                text(map, "base_url", errors).and_then(|url| match url::Url::parse(&url) {
                    Ok(parsed)
                        if matches!(parsed.scheme(), "http" | "https")
                            && parsed.host_str().is_some()
                            && parsed.username().is_empty()
                            && parsed.password().is_none() =>
                    {
                        Some(url.trim_end_matches('/').to_owned())
                    }
                    Ok(_) | Err(_) => {
                        errors.push(FieldError::new(
                            "settings.base_url",
                            "must be an http(s) URL without credentials (they go in secrets)",
                        ));
                        None
                    }
                });
            let scheme = match map.get("auth") {
                None | Some(Value::Null) => Some("none".to_owned()),
                Some(_) => text(map, "auth", errors),
            }?;
            let auth = match scheme.as_str() {
                "none" => Some(HttpAuth::None),
                "bearer" => Some(HttpAuth::Bearer),
                "basic" => text(map, "user", errors).map(|user| HttpAuth::Basic { user }),
                "header" => text(map, "header", errors).and_then(|header| {
                    let header = header.to_ascii_lowercase();
                    let valid = header.len() <= 64
                        && header
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
                    if !valid {
                        errors.push(FieldError::new(
                            "settings.header",
                            "must be a header name: 1 to 64 characters from a-z, 0-9 and -",
                        ));
                    }
                    valid.then_some(HttpAuth::Header { header })
                }),
                other => {
                    errors.push(FieldError::new(
                        "settings.auth",
                        format!(
                            "unknown scheme {other:?} (expected none, bearer, basic or header)"
                        ),
                    ));
                    None
                }
            };
            Some(Settings::Http {
                base_url: base_url?,
                auth: auth?,
            })
        }
    }
}

fn parse_secrets(
    secrets: &Map<String, Value>,
    settings: Option<&Settings>,
    errors: &mut Vec<FieldError>,
) -> Option<BTreeMap<String, SecretInput>> {
    let allowed = settings.map_or(&[][..], Settings::secret_names);
    let mut parsed = BTreeMap::new();
    let before = errors.len();
    for (name, value) in secrets {
        let path = format!("secrets.{name}");
        if settings.is_some() && !allowed.contains(&name.as_str()) {
            let expected = match allowed {
                [] => "this kind of connection takes no secrets".to_owned(),
                names => format!("unknown secret (expected one of: {})", names.join(", ")),
            };
            errors.push(FieldError::new(path, expected));
            continue;
        }
        match value {
            Value::String(secret) if secret.len() > MAX_SECRET_BYTES => {
                errors.push(FieldError::new(
                    path,
                    format!("is at most {MAX_SECRET_BYTES} bytes"),
                ));
            }
            Value::String(secret) if secret.contains(['\r', '\n', '\0']) => {
                errors.push(FieldError::new(path, "must not contain line breaks"));
            }
            Value::String(secret) => {
                parsed.insert(name.clone(), SecretInput::Value(secret.clone()));
            }
            Value::Object(marker)
                if marker.len() == 1 && marker.get("set") == Some(&Value::Bool(true)) =>
            {
                parsed.insert(name.clone(), SecretInput::Keep);
            }
            Value::Null => {
                parsed.insert(name.clone(), SecretInput::Clear);
            }
            _ => errors.push(FieldError::new(
                path,
                "must be the secret (a string), or {\"set\": true} to keep the stored one",
            )),
        }
    }
    (errors.len() == before).then_some(parsed)
}

/// Checks that every secret the settings need is there: sent now, or stored and kept.
/// `stored` names the secrets stored for the connection.
pub fn missing_secrets(
    settings: &Settings,
    sent: &BTreeMap<String, SecretInput>,
    stored: &[String],
) -> Vec<FieldError> {
    settings
        .required_secrets()
        .iter()
        .filter(|name| match sent.get(**name) {
            Some(SecretInput::Value(value)) => value.is_empty(),
            Some(SecretInput::Keep) | None => !stored.iter().any(|s| s == *name),
            Some(SecretInput::Clear) => true,
        })
        .map(|name| FieldError::new(format!("secrets.{name}"), "is required"))
        .collect()
}

/// How many parameters a statement takes, where the dialect lets it be known without
/// the database: text in quotes and comments is skipped. `None` when it cannot be told
/// (SQLite's named parameters).
pub fn count_parameters(query: &str, dialect: SqlDialect) -> Option<usize> {
    let bytes = query.as_bytes();
    let mut index = 0;
    let mut positional = 0;
    let mut highest = 0;
    let mut named = false;
    while index < bytes.len() {
        let byte = bytes[index];
        match byte {
            b'\'' | b'"' | b'`' => {
                // Quoted text or name: a doubled quote is one quote inside it.
                index += 1;
                while index < bytes.len() {
                    if bytes[index] == byte {
                        if bytes.get(index + 1) == Some(&byte) {
                            index += 1;
                        } else {
                            break;
                        }
                    } else if bytes[index] == b'\\' && dialect == SqlDialect::Mysql {
                        index += 1;
                    }
                    index += 1;
                }
            }
            b'-' if bytes.get(index + 1) == Some(&b'-') => {
                while index < bytes.len() && bytes[index] != b'\n' {
                    index += 1;
                }
            }
            b'#' if dialect == SqlDialect::Mysql => {
                while index < bytes.len() && bytes[index] != b'\n' {
                    index += 1;
                }
            }
            b'/' if bytes.get(index + 1) == Some(&b'*') => {
                index += 2;
                while index + 1 < bytes.len() && !(bytes[index] == b'*' && bytes[index + 1] == b'/')
                {
                    index += 1;
                }
                index += 1;
            }
            b'$' if dialect == SqlDialect::Postgres && index > 0 && is_word(bytes[index - 1]) => {}
            b'$' if matches!(dialect, SqlDialect::Postgres | SqlDialect::Sqlite) => {
                let digits = bytes[index + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                if digits > 0 {
                    let number: usize = query[index + 1..index + 1 + digits].parse().unwrap_or(0);
                    highest = highest.max(number);
                    index += digits;
                } else if dialect == SqlDialect::Postgres {
                    // A dollar-quoted string: $tag$ ... $tag$.
                    let tag_len = bytes[index + 1..]
                        .iter()
                        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                        .count();
                    if bytes.get(index + 1 + tag_len) == Some(&b'$') {
                        let tag = &query[index..index + tag_len + 2];
                        let body = index + tag_len + 2;
                        match query[body..].find(tag) {
                            Some(end) => index = body + end + tag.len() - 1,
                            None => index = bytes.len(),
                        }
                    }
                } else {
                    named = true;
                }
            }
            b'?' if matches!(dialect, SqlDialect::Mysql | SqlDialect::Sqlite) => {
                let digits = bytes[index + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                if digits > 0 && dialect == SqlDialect::Sqlite {
                    let number: usize = query[index + 1..index + 1 + digits].parse().unwrap_or(0);
                    highest = highest.max(number);
                    index += digits;
                } else {
                    positional += 1;
                }
            }
            b':' | b'@'
                if dialect == SqlDialect::Sqlite
                    && bytes
                        .get(index + 1)
                        .is_some_and(|b| b.is_ascii_alphabetic()) =>
            {
                named = true;
            }
            _ => {}
        }
        index += 1;
    }
    match (named, dialect) {
        (true, _) => None,
        (false, SqlDialect::Postgres) => Some(highest),
        (false, SqlDialect::Mysql) => Some(positional),
        // SQLite numbers a bare `?` after the highest so far.
        (false, SqlDialect::Sqlite) => Some(highest.max(positional)),
    }
}

fn is_word(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors_of(value: Value) -> Vec<String> {
        parse_input(&value, None)
            .unwrap_err()
            .into_iter()
            .map(|e| format!("{}: {}", e.path, e.message))
            .collect()
    }

    #[test]
    fn a_postgres_connection_parses_with_the_default_port_and_tls() {
        let input = parse_input(
            &json!({"name": "orders-db", "kind": "postgres",
                    "settings": {"host": "db.internal", "database": "orders", "user": "app"},
                    "secrets": {"password": "s3cret"}}),
            None,
        )
        .unwrap();
        assert_eq!(input.name.as_str(), "orders-db");
        assert_eq!(
            input.settings,
            Settings::Database {
                host: "db.internal".into(),
                port: 5432,
                database: "orders".into(),
                user: "app".into(),
                tls: TlsMode::Prefer
            }
        );
        assert_eq!(
            input.secrets["password"],
            SecretInput::Value("s3cret".into())
        );
    }

    #[test]
    fn the_set_marker_keeps_a_secret_and_anything_else_is_refused() {
        let input = parse_input(
            &json!({"name": "m", "kind": "mysql",
                    "settings": {"host": "h", "database": "d", "user": "u"},
                    "secrets": {"password": {"set": true}}}),
            None,
        )
        .unwrap();
        assert_eq!(input.secrets["password"], SecretInput::Keep);
        assert_eq!(
            errors_of(json!({"name": "m", "kind": "mysql",
                    "settings": {"host": "h", "database": "d", "user": "u"},
                    "secrets": {"password": {"set": false}}})),
            [
                "secrets.password: must be the secret (a string), or {\"set\": true} to keep the stored one"
            ]
        );
    }

    #[test]
    fn every_problem_is_named_where_it_is() {
        assert_eq!(
            errors_of(json!({"name": "Orders DB", "kind": "postgres",
                    "settings": {"host": "h", "port": 70000, "user": "u", "colour": 1},
                    "secrets": {"token": "x"}})),
            [
                "name: must be 1 to 64 characters from a-z, 0-9, -, _ and ., starting with a letter or digit",
                "settings.colour: unknown field (expected one of: host, port, database, user, tls)",
                "settings.port: must be a whole number from 1 to 65535",
                "settings.database: is required",
            ]
        );
    }

    #[test]
    fn a_secret_the_kind_does_not_take_is_refused_by_name() {
        assert_eq!(
            errors_of(json!({"name": "a", "kind": "postgres",
                    "settings": {"host": "h", "database": "d", "user": "u"},
                    "secrets": {"token": "x"}})),
            ["secrets.token: unknown secret (expected one of: password)"]
        );
    }

    #[test]
    fn broker_settings_are_checked_and_take_the_secrets_their_sign_in_needs() {
        assert_eq!(
            errors_of(
                json!({"name": "n", "kind": "nats", "settings": {"url": "nats://u:p@h:4222"}})
            ),
            [
                "settings.url: must be a nats:// or tls:// URL without credentials (they go in secrets)"
            ]
        );
        assert_eq!(
            errors_of(json!({"name": "r", "kind": "redis", "settings": {"host": "h", "db": 16}})),
            ["settings.db: must be a whole number from 0 to 15"]
        );
        let token = parse_input(
            &json!({"name": "n", "kind": "nats", "settings": {"url": "nats://h:4222"},
                    "secrets": {"token": "t"}}),
            None,
        )
        .unwrap();
        assert_eq!(token.settings.secret_names(), ["token"]);
        let anonymous = parse_input(
            &json!({"name": "m", "kind": "mqtt", "settings": {"host": "h", "client_id": "c"}}),
            None,
        )
        .unwrap();
        assert_eq!(anonymous.settings.host_and_port(), Some(("h", 1883)));
        assert!(anonymous.settings.secret_names().is_empty());
    }

    #[test]
    fn a_name_in_the_body_must_match_the_address() {
        let errors = parse_input(
            &json!({"name": "a", "kind": "sqlite", "settings": {"path": "/tmp/a.db"}}),
            Some("b"),
        )
        .unwrap_err();
        assert_eq!(errors[0].path, "name");
    }

    #[test]
    fn an_http_connection_keeps_credentials_out_of_its_url() {
        assert_eq!(
            errors_of(json!({"name": "crm", "kind": "http",
                    "settings": {"base_url": "https://u:p@crm.example.com", "auth": "bearer"}})),
            ["settings.base_url: must be an http(s) URL without credentials (they go in secrets)"]
        );
        let input = parse_input(
            &json!({"name": "crm", "kind": "http",
                    "settings": {"base_url": "https://crm.example.com/api/", "auth": "header", "header": "X-Api-Key"},
                    "secrets": {"value": "k"}}),
            None,
        )
        .unwrap();
        assert_eq!(
            input.settings,
            Settings::Http {
                base_url: "https://crm.example.com/api".into(),
                auth: HttpAuth::Header {
                    header: "x-api-key".into()
                }
            }
        );
    }

    #[test]
    fn a_required_secret_must_be_sent_or_stored() {
        let settings = Settings::Http {
            base_url: "https://x".into(),
            auth: HttpAuth::Bearer,
        };
        let keep = BTreeMap::from([("token".to_owned(), SecretInput::Keep)]);
        assert_eq!(missing_secrets(&settings, &keep, &["token".into()]), []);
        assert_eq!(missing_secrets(&settings, &keep, &[]).len(), 1);
        assert_eq!(missing_secrets(&settings, &BTreeMap::new(), &[]).len(), 1);
    }

    #[test]
    fn stored_settings_read_back_as_they_were() {
        for settings in [
            Settings::Database {
                host: "h".into(),
                port: 1,
                database: "d".into(),
                user: "u".into(),
                tls: TlsMode::VerifyFull,
            },
            Settings::Sqlite {
                path: "/x.db".into(),
            },
            Settings::Http {
                base_url: "http://x".into(),
                auth: HttpAuth::Basic { user: "me".into() },
            },
            Settings::Amqp {
                host: "rabbit".into(),
                port: 5672,
                vhost: "/orders".into(),
                user: "app".into(),
            },
            Settings::Mqtt {
                host: "mqtt".into(),
                port: 1883,
                client_id: "junction-1".into(),
                user: Some("app".into()),
            },
            Settings::Mqtt {
                host: "mqtt".into(),
                port: 1883,
                client_id: "junction-2".into(),
                user: None,
            },
            Settings::Nats {
                url: "nats://nats:4222".into(),
                user: None,
            },
            Settings::Redis {
                host: "redis".into(),
                port: 6379,
                db: 3,
            },
            Settings::Junction {
                url: "https://prod.example".into(),
            },
        ] {
            let kind = match settings {
                Settings::Database { .. } => ConnectionKind::Postgres,
                Settings::Sqlite { .. } => ConnectionKind::Sqlite,
                Settings::Http { .. } => ConnectionKind::Http,
                Settings::Amqp { .. } => ConnectionKind::Amqp,
                Settings::Mqtt { .. } => ConnectionKind::Mqtt,
                Settings::Nats { .. } => ConnectionKind::Nats,
                Settings::Redis { .. } => ConnectionKind::Redis,
                Settings::Junction { .. } => ConnectionKind::Junction,
            };
            assert_eq!(
                settings_from_stored(kind, &settings.to_value()),
                Ok(settings.clone())
            );
        }
    }

    #[test]
    fn parameters_are_counted_outside_quotes_and_comments() {
        use SqlDialect::*;
        let pg = "INSERT INTO t (a, b) VALUES ($1, $2) -- $3\n RETURNING '$4', $$ $5 $$";
        assert_eq!(count_parameters(pg, Postgres), Some(2));
        assert_eq!(count_parameters("SELECT $2::int, $1", Postgres), Some(2));
        assert_eq!(count_parameters("SELECT 1", Postgres), Some(0));
        assert_eq!(
            count_parameters("INSERT INTO t VALUES (?, '?', \"?\", ?) # ?", Mysql),
            Some(2)
        );
        assert_eq!(count_parameters("SELECT 'it''s ?', ?", Mysql), Some(1));
        assert_eq!(count_parameters("SELECT ?, ?3", Sqlite), Some(3));
        assert_eq!(count_parameters("SELECT :id", Sqlite), None);
        assert_eq!(count_parameters("SELECT /* ? */ ?", Sqlite), Some(1));
    }
}
