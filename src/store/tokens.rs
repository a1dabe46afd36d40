//! API tokens: their hashes, owners and dates. The token itself never reaches the
//! store; a token is found by the SHA-256 of what the caller sends.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::users::{StoredUser, stored_user_from_row};
use super::{Store, StoreError, now_ms, time_from_ms};
use crate::domain::token::TokenInfo;
use crate::domain::user::UserName;

/// A token to add.
#[derive(Debug)]
pub struct NewTokenRow<'a> {
    pub id: &'a str,
    pub user: &'a UserName,
    pub name: &'a str,
    pub token_hash: &'a str,
    pub expires_at: Option<i64>,
}

/// A valid token's owner and the token's name, as authentication finds them.
#[derive(Debug)]
pub struct TokenOwner {
    pub owner: StoredUser,
    pub token_id: String,
    pub token_name: String,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

const TOKEN_COLUMNS: &str = "t.id, t.user_name, t.name, t.created_at, t.expires_at, t.last_used_at";

impl Store {
    /// Adds a token; its name must be new among its owner's tokens.
    pub async fn add_token(&self, new: &NewTokenRow<'_>) -> Result<TokenInfo, StoreError> {
        let now = now_ms();
        let _gate = self.write_gate().await;
        sqlx::query(
            "INSERT INTO api_tokens (id, user_name, name, token_hash, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(new.id)
        .bind(new.user.as_str())
        .bind(new.name)
        .bind(new.token_hash)
        .bind(now)
        .bind(new.expires_at)
        .execute(&self.pool)
        .await
        .map_err(|err| match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::TokenNameTaken(new.name.to_owned())
            }
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                StoreError::NotFound(format!("user {}", new.user))
            }
            _ => StoreError::Database(err),
        })?;
        Ok(TokenInfo {
            id: new.id.to_owned(),
            user: new.user.clone(),
            name: new.name.to_owned(),
            created_at: time_from_ms(now)?,
            expires_at: new.expires_at.map(time_from_ms).transpose()?,
            last_used_at: None,
        })
    }

    /// The token with this hash and its owner, whatever their state (the caller
    /// checks expiry and the owner's disabled flag).
    pub async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenOwner>, StoreError> {
        let sql = "SELECT u.name, u.display_name, u.password_hash, u.role, u.disabled,
                          u.created_at, u.password_changed_at,
                          t.id AS token_id, t.name AS token_name, t.expires_at, t.last_used_at
                   FROM api_tokens t JOIN users u ON u.name = t.user_name
                   WHERE t.token_hash = $1";
        let row = sqlx::query(sql)
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(TokenOwner {
            owner: stored_user_from_row(&row)?,
            token_id: row.try_get("token_id")?,
            token_name: row.try_get("token_name")?,
            expires_at: row.try_get("expires_at")?,
            last_used_at: row.try_get("last_used_at")?,
        }))
    }

    /// Notes that a token was used now.
    pub async fn touch_token(&self, id: &str) -> Result<(), StoreError> {
        let _gate = self.write_gate().await;
        sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Tokens, newest first: one user's, or everyone's.
    pub async fn tokens(&self, user: Option<&UserName>) -> Result<Vec<TokenInfo>, StoreError> {
        let rows = match user {
            Some(user) => {
                let sql = format!(
                    "SELECT {TOKEN_COLUMNS} FROM api_tokens t WHERE t.user_name = $1
                     ORDER BY t.created_at DESC, t.name"
                );
                sqlx::query(&sql)
                    .bind(user.as_str())
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                let sql = format!(
                    "SELECT {TOKEN_COLUMNS} FROM api_tokens t
                     ORDER BY t.created_at DESC, t.user_name, t.name"
                );
                sqlx::query(&sql).fetch_all(&self.pool).await?
            }
        };
        rows.iter().map(token_from_row).collect()
    }

    /// One token by id.
    pub async fn token(&self, id: &str) -> Result<Option<TokenInfo>, StoreError> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens t WHERE t.id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(token_from_row).transpose()
    }

    /// Revokes a token: it is gone, and answers 401 from now on.
    pub async fn delete_token(&self, id: &str) -> Result<(), StoreError> {
        let _gate = self.write_gate().await;
        let deleted = sqlx::query("DELETE FROM api_tokens WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        match deleted.rows_affected() {
            0 => Err(StoreError::NotFound(format!("token {id}"))),
            _ => Ok(()),
        }
    }
}

fn token_from_row(row: &AnyRow) -> Result<TokenInfo, StoreError> {
    let user: String = row.try_get("user_name")?;
    Ok(TokenInfo {
        id: row.try_get("id")?,
        user: UserName::parse(&user)
            .map_err(|err| StoreError::Corrupt(format!("user name {user:?}: {err}")))?,
        name: row.try_get("name")?,
        created_at: time_from_ms(row.try_get("created_at")?)?,
        expires_at: row
            .try_get::<Option<i64>, _>("expires_at")?
            .map(time_from_ms)
            .transpose()?,
        last_used_at: row
            .try_get::<Option<i64>, _>("last_used_at")?
            .map(time_from_ms)
            .transpose()?,
    })
}
