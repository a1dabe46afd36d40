//! Connections' rows, their sealed secrets, and the check that the server's secret key
//! is the one they were sealed with. Secrets are sealed here, on the way in, and opened
//! here, on the way out to the runtime: no other module sees a sealed value or writes
//! a clear one.

use serde_json::Value;
use sqlx::Row;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::{Store, StoreError, now_ms, time_from_ms};
use crate::domain::IntegrationId;
use crate::domain::connection::{ConnectionKind, ConnectionView, SecretState, Settings};
use crate::secret_key::SecretKey;

/// The name of the key check in `server_keys`: a random value sealed under the key the
/// first server had, which every later start must open.
const KEY_CHECK: &str = "secret-key-check";

/// A connection as stored, without its secrets.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredConnection {
    pub name: String,
    pub kind: ConnectionKind,
    pub settings: Settings,
    /// The secrets that are set.
    pub secret_names: Vec<String>,
    pub allow_private: bool,
    pub revision: i64,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub updated_by: String,
}

impl StoredConnection {
    /// As answers show it: settings only when `with_settings`, and never a secret.
    pub fn view(&self, with_settings: bool) -> ConnectionView {
        ConnectionView {
            name: self.name.clone(),
            kind: self.kind,
            settings: with_settings.then(|| self.settings.to_value()),
            secrets: match with_settings {
                true => self
                    .settings
                    .secret_names()
                    .iter()
                    .map(|name| {
                        let set = self.secret_names.iter().any(|s| s == name);
                        ((*name).to_owned(), SecretState { set })
                    })
                    .collect(),
                false => BTreeMap::new(),
            },
            allow_private: self.allow_private,
            revision: self.revision,
            updated_at: self.updated_at,
            updated_by: self.updated_by.clone(),
        }
    }
}

/// A connection with its secrets open, for the runtime and for testing it.
#[derive(Clone, PartialEq, Eq)]
pub struct OpenConnection {
    pub name: String,
    pub kind: ConnectionKind,
    pub settings: Settings,
    pub secrets: BTreeMap<String, String>,
    pub allow_private: bool,
    pub revision: i64,
}

impl std::fmt::Debug for OpenConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secrets, whatever prints this.
        f.debug_struct("OpenConnection")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("revision", &self.revision)
            .finish_non_exhaustive()
    }
}

/// A connection to write: its secrets in clear (sealed here).
#[derive(Debug)]
pub struct ConnectionWrite<'a> {
    pub name: &'a str,
    pub kind: ConnectionKind,
    pub settings: &'a Settings,
    pub secrets: &'a BTreeMap<String, String>,
    pub allow_private: bool,
    pub actor: &'a str,
}

/// What checking the secret key found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyCheck {
    /// The database had no check yet; one is made with this key.
    Made,
    /// The key opens the check.
    Matches,
}

const COLUMNS: &str = "name, kind, settings, secret_names, allow_private, revision, created_at, \
                       updated_at, updated_by";

fn read_row(row: &sqlx::any::AnyRow) -> Result<StoredConnection, StoreError> {
    let name: String = row.try_get("name")?;
    let corrupt = |what: &str| StoreError::Corrupt(format!("connection {name}: {what}"));
    let kind: String = row.try_get("kind")?;
    let kind = ConnectionKind::parse(&kind).ok_or_else(|| corrupt("unknown kind"))?;
    let settings: String = row.try_get("settings")?;
    let settings: Value =
        serde_json::from_str(&settings).map_err(|_| corrupt("settings are not JSON"))?;
    let settings = crate::domain::connection::settings_from_stored(kind, &settings)
        .map_err(|why| corrupt(&why))?;
    let secret_names: String = row.try_get("secret_names")?;
    let secret_names: Vec<String> =
        serde_json::from_str(&secret_names).map_err(|_| corrupt("secret names are not JSON"))?;
    Ok(StoredConnection {
        settings,
        kind,
        secret_names,
        allow_private: row.try_get::<i64, _>("allow_private")? != 0,
        revision: row.try_get("revision")?,
        created_at: time_from_ms(row.try_get("created_at")?)?,
        updated_at: time_from_ms(row.try_get("updated_at")?)?,
        updated_by: row.try_get("updated_by")?,
        name,
    })
}

impl Store {
    /// The same store, sealing and opening connection secrets with `key`.
    pub fn with_secret_key(mut self, key: SecretKey) -> Self {
        self.secret_key = Some(Arc::new(key));
        self
    }

    fn key(&self) -> Result<&SecretKey, StoreError> {
        self.secret_key
            .as_deref()
            .ok_or_else(|| StoreError::SecretKey("no secret key is loaded".into()))
    }

    /// Whether the database holds secrets sealed under some key (a key check).
    pub async fn has_key_check(&self) -> Result<bool, StoreError> {
        let found: Option<String> =
            sqlx::query_scalar("SELECT value FROM server_keys WHERE name = $1")
                .bind(KEY_CHECK)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }

    /// Checks that `key` is the key of this database's secrets, making the check with
    /// it if there is none yet; a mismatch is an error saying so.
    pub async fn check_secret_key(&self, key: &SecretKey) -> Result<KeyCheck, StoreError> {
        let made = sqlx::query(
            "INSERT INTO server_keys (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(KEY_CHECK)
        .bind(key.seal(&crate::secret_key::new_key_bytes()))
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1;
        let stored: String = sqlx::query_scalar("SELECT value FROM server_keys WHERE name = $1")
            .bind(KEY_CHECK)
            .fetch_one(&self.pool)
            .await?;
        match key.open(&stored) {
            Ok(_) if made => Ok(KeyCheck::Made),
            Ok(_) => Ok(KeyCheck::Matches),
            Err(_) => Err(StoreError::SecretKey(
                "the secret key is not the one this database's secrets were encrypted with: \
                 give this server the key the others use (JUNCTION_SECRET_KEY, or their \
                 DATA_DIR/secret.key)"
                    .into(),
            )),
        }
    }

    /// Every connection, by name, without secrets.
    pub async fn connections(&self) -> Result<Vec<StoredConnection>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM connections ORDER BY name"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(read_row).collect()
    }

    pub async fn connection(&self, name: &str) -> Result<Option<StoredConnection>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM connections WHERE name = $1"
        ))
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(read_row).transpose()
    }

    /// A connection with its secrets opened.
    pub async fn open_connection(&self, name: &str) -> Result<OpenConnection, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS}, secrets FROM connections WHERE name = $1"
        ))
        .bind(name)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("connection {name}")))?;
        let stored = read_row(&row)?;
        let sealed: String = row.try_get("secrets")?;
        let secrets = self.open_secrets(&stored.name, &sealed)?;
        Ok(OpenConnection {
            name: stored.name,
            kind: stored.kind,
            settings: stored.settings,
            secrets,
            allow_private: stored.allow_private,
            revision: stored.revision,
        })
    }

    fn open_secrets(
        &self,
        name: &str,
        sealed: &str,
    ) -> Result<BTreeMap<String, String>, StoreError> {
        let plain = self.key()?.open(sealed).map_err(|_| {
            StoreError::SecretKey(format!(
                "the secrets of connection {name} do not decrypt with this server's key"
            ))
        })?;
        serde_json::from_slice(&plain)
            .map_err(|_| StoreError::Corrupt(format!("connection {name}: secrets are not JSON")))
    }

    fn seal_secrets(
        &self,
        secrets: &BTreeMap<String, String>,
    ) -> Result<(String, String), StoreError> {
        let plain = serde_json::to_vec(secrets).unwrap_or_default();
        let names: Vec<&String> = secrets.keys().collect();
        Ok((
            self.key()?.seal(&plain),
            serde_json::to_string(&names).unwrap_or_else(|_| "[]".into()),
        ))
    }

    pub async fn create_connection(
        &self,
        new: &ConnectionWrite<'_>,
    ) -> Result<StoredConnection, StoreError> {
        let (sealed, names) = self.seal_secrets(new.secrets)?;
        let now = now_ms();
        let _gate = self.write_gate().await;
        sqlx::query(
            "INSERT INTO connections (name, kind, settings, secrets, secret_names, allow_private,
                                      revision, created_at, updated_at, updated_by)
             VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7, $8)",
        )
        .bind(new.name)
        .bind(new.kind.as_str())
        .bind(new.settings.to_value().to_string())
        .bind(sealed)
        .bind(names)
        .bind(i64::from(new.allow_private))
        .bind(now)
        .bind(new.actor)
        .execute(&self.pool)
        .await
        .map_err(|err| match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::ConnectionTaken(new.name.to_owned())
            }
            _ => StoreError::Database(err),
        })?;
        drop(_gate);
        self.connection(new.name)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("connection {}", new.name)))
    }

    /// Replaces a connection's settings and secrets, one revision up.
    pub async fn update_connection(
        &self,
        change: &ConnectionWrite<'_>,
    ) -> Result<StoredConnection, StoreError> {
        let (sealed, names) = self.seal_secrets(change.secrets)?;
        let _gate = self.write_gate().await;
        let updated = sqlx::query(
            "UPDATE connections SET kind = $2, settings = $3, secrets = $4, secret_names = $5,
                    allow_private = $6, revision = revision + 1, updated_at = $7, updated_by = $8
             WHERE name = $1",
        )
        .bind(change.name)
        .bind(change.kind.as_str())
        .bind(change.settings.to_value().to_string())
        .bind(sealed)
        .bind(names)
        .bind(i64::from(change.allow_private))
        .bind(now_ms())
        .bind(change.actor)
        .execute(&self.pool)
        .await?
        .rows_affected();
        drop(_gate);
        if updated == 0 {
            return Err(StoreError::NotFound(format!("connection {}", change.name)));
        }
        self.connection(change.name)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("connection {}", change.name)))
    }

    pub async fn delete_connection(&self, name: &str) -> Result<(), StoreError> {
        let _gate = self.write_gate().await;
        let deleted = sqlx::query("DELETE FROM connections WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await?
            .rows_affected();
        match deleted {
            0 => Err(StoreError::NotFound(format!("connection {name}"))),
            _ => Ok(()),
        }
    }

    /// Each connection's revision, by name: what the reconciler compares running flows
    /// against.
    pub async fn connection_revisions(&self) -> Result<HashMap<String, i64>, StoreError> {
        let rows = sqlx::query("SELECT name, revision FROM connections")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("name")?, row.try_get("revision")?)))
            .collect()
    }

    /// The integrations whose active version should run (target active), with their
    /// names and that version's definition text: who uses which connection.
    pub async fn active_definitions(
        &self,
    ) -> Result<Vec<(IntegrationId, String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT i.id, i.name, v.definition FROM integrations i
             JOIN versions v ON v.integration_id = i.id AND v.number = i.target_version
             WHERE i.target_state = 'active'",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get("id")?;
                let id = IntegrationId::parse(&id)
                    .map_err(|_| StoreError::Corrupt(format!("integration id {id}")))?;
                Ok((id, row.try_get("name")?, row.try_get("definition")?))
            })
            .collect()
    }

    /// Re-seals every secret (and the key check) under `new`, in one transaction: either
    /// all are under the new key afterwards, or all under the old.
    pub async fn rotate_secret_key(&self, new: &SecretKey) -> Result<usize, StoreError> {
        let old = self.key()?;
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query("SELECT name, secrets FROM connections")
            .fetch_all(&mut **tx)
            .await?;
        let mut count = 0;
        for row in &rows {
            let name: String = row.try_get("name")?;
            let sealed: String = row.try_get("secrets")?;
            let plain = old.open(&sealed).map_err(|_| {
                StoreError::SecretKey(format!(
                    "the secrets of connection {name} do not decrypt with the current key"
                ))
            })?;
            sqlx::query("UPDATE connections SET secrets = $2 WHERE name = $1")
                .bind(&name)
                .bind(new.seal(&plain))
                .execute(&mut **tx)
                .await?;
            count += 1;
        }
        sqlx::query("DELETE FROM server_keys WHERE name = $1")
            .bind(KEY_CHECK)
            .execute(&mut **tx)
            .await?;
        sqlx::query("INSERT INTO server_keys (name, value) VALUES ($1, $2)")
            .bind(KEY_CHECK)
            .bind(new.seal(&crate::secret_key::new_key_bytes()))
            .execute(&mut **tx)
            .await?;
        tx.commit().await?;
        Ok(count)
    }

    /// Where a sql_poll trigger has got to: the cursor column and value, if it polled.
    pub async fn poll_cursor(
        &self,
        id: IntegrationId,
    ) -> Result<Option<(String, Value)>, StoreError> {
        let row =
            sqlx::query("SELECT cursor_column, value FROM poll_cursors WHERE integration_id = $1")
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?;
        row.map(|row| {
            let column: String = row.try_get("cursor_column")?;
            let value: String = row.try_get("value")?;
            let value = serde_json::from_str(&value)
                .map_err(|_| StoreError::Corrupt(format!("the poll cursor of {id}")))?;
            Ok((column, value))
        })
        .transpose()
    }

    /// Moves a sql_poll trigger's cursor (after the run of the row it comes from is
    /// recorded).
    pub async fn set_poll_cursor(
        &self,
        id: IntegrationId,
        column: &str,
        value: &Value,
    ) -> Result<(), StoreError> {
        let _gate = self.write_gate().await;
        sqlx::query(
            "INSERT INTO poll_cursors (integration_id, cursor_column, value, updated_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (integration_id) DO UPDATE
             SET cursor_column = excluded.cursor_column, value = excluded.value,
                 updated_at = excluded.updated_at",
        )
        .bind(id.to_string())
        .bind(column)
        .bind(value.to_string())
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
