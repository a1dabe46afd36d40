//! Browser sessions, kept for tower-sessions: it makes the ids, the cookie and the
//! expiry; this keeps the records in Junction's own database (SQLite or PostgreSQL,
//! through the same `Any` pool as everything else), so a session made on one replica
//! works on all of them. Rows are keyed by the SHA-256 of the session id.

use sha2::{Digest, Sha256};
use sqlx::Row;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use super::{Store, StoreError, now_ms};
use crate::domain::user::UserName;

/// The record key of what a signed-in session holds (`SessionClaim`); its `user` is
/// copied into a column of its own, so that all of a user's sessions can be ended
/// at once.
pub const CLAIM_KEY: &str = "claim";

/// The session store tower-sessions calls.
#[derive(Clone, Debug)]
pub struct Sessions(pub Store);

impl Store {
    /// Ends every session of a user (password changed, user disabled).
    pub async fn end_sessions_of(&self, user: &UserName) -> Result<(), StoreError> {
        let _gate = self.write_gate().await;
        sqlx::query("DELETE FROM sessions WHERE user_name = $1")
            .bind(user.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Forgets sessions past their expiry.
    pub async fn delete_expired_sessions(&self) -> Result<u64, StoreError> {
        let _gate = self.write_gate().await;
        let deleted = sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected())
    }
}

fn id_hash(id: &Id) -> String {
    let digest = Sha256::digest(id.to_string().as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn backend(err: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(err.to_string())
}

fn expires_ms(record: &Record) -> i64 {
    i64::try_from(record.expiry_date.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

impl Sessions {
    async fn upsert(&self, record: &Record, only_new: bool) -> Result<bool, session_store::Error> {
        let data = serde_json::to_string(&record.data).map_err(backend)?;
        let user = record
            .data
            .get(CLAIM_KEY)
            .and_then(|claim| claim.get("user"))
            .and_then(|value| value.as_str())
            .map(str::to_owned);
        let conflict = if only_new {
            "DO NOTHING"
        } else {
            "DO UPDATE SET user_name = excluded.user_name, data = excluded.data,
                           expires_at = excluded.expires_at"
        };
        let sql = format!(
            "INSERT INTO sessions (id_hash, user_name, data, expires_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id_hash) {conflict}"
        );
        let _gate = self.0.write_gate().await;
        let written = sqlx::query(&sql)
            .bind(id_hash(&record.id))
            .bind(user)
            .bind(data)
            .bind(expires_ms(record))
            .execute(&self.0.pool)
            .await
            .map_err(backend)?;
        Ok(written.rows_affected() == 1)
    }
}

#[async_trait::async_trait]
impl SessionStore for Sessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // A new id until one is free: with 128 random bits, a second try never
        // happens in practice, but an existing session is never overwritten.
        while !self.upsert(record, true).await? {
            record.id = Id::default();
        }
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.upsert(record, false).await.map(|_| ())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let row = sqlx::query(
            "SELECT data, expires_at FROM sessions WHERE id_hash = $1 AND expires_at > $2",
        )
        .bind(id_hash(id))
        .bind(now_ms())
        .fetch_optional(&self.0.pool)
        .await
        .map_err(backend)?;
        let Some(row) = row else { return Ok(None) };
        let data: String = row.try_get("data").map_err(backend)?;
        let expires_at: i64 = row.try_get("expires_at").map_err(backend)?;
        let expiry_date = tower_sessions::cookie::time::OffsetDateTime::from_unix_timestamp_nanos(
            i128::from(expires_at) * 1_000_000,
        )
        .map_err(backend)?;
        Ok(Some(Record {
            id: *id,
            data: serde_json::from_str(&data)
                .map_err(|err| session_store::Error::Decode(err.to_string()))?,
            expiry_date,
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let _gate = self.0.write_gate().await;
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash(id))
            .execute(&self.0.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}
