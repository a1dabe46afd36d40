//! Users: their rows, with the password hash kept inside the store and the service
//! (it never crosses the wire).

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, now_ms, time_from_ms};
use crate::domain::access::Role;
use crate::domain::user::{User, UserName};

/// A user as stored, with what signing in checks.
#[derive(Clone, Debug)]
pub struct StoredUser {
    pub user: User,
    /// The argon2id hash (a PHC string).
    pub password_hash: String,
    /// Milliseconds since the epoch; what was issued before it is no longer valid.
    pub password_changed_at: i64,
}

/// A user to add: the hash is made by the caller.
#[derive(Clone, Debug)]
pub struct NewUser<'a> {
    pub name: &'a UserName,
    pub display_name: &'a str,
    pub password_hash: &'a str,
    pub role: Role,
}

const USER_COLUMNS: &str =
    "name, display_name, password_hash, role, disabled, created_at, password_changed_at";

impl Store {
    /// Adds a user. With `only_if_none`, only while no user exists at all (the first
    /// administrator): answers whether it was added.
    pub async fn add_user(
        &self,
        new: &NewUser<'_>,
        only_if_none: bool,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let guard = if only_if_none {
            " WHERE NOT EXISTS (SELECT 1 FROM users)"
        } else {
            ""
        };
        let sql = format!(
            "INSERT INTO users (name, display_name, password_hash, role, disabled, created_at,
                                password_changed_at)
             SELECT $1, $2, $3, $4, 0, $5, $5{guard}"
        );
        let mut tx = self.begin_write().await?;
        let added = sqlx::query(&sql)
            .bind(new.name.as_str())
            .bind(new.display_name)
            .bind(new.password_hash)
            .bind(new.role.as_str())
            .bind(now)
            .execute(&mut **tx)
            .await
            .map_err(|err| match &err {
                sqlx::Error::Database(db) if db.is_unique_violation() => {
                    StoreError::UserTaken(new.name.to_string())
                }
                _ => StoreError::Database(err),
            })?
            .rows_affected();
        tx.commit().await?;
        Ok(added == 1)
    }

    /// Whether any user exists (until one does, Junction asks for its first
    /// administrator).
    pub async fn has_users(&self) -> Result<bool, StoreError> {
        let any: Option<String> = sqlx::query_scalar("SELECT name FROM users LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        Ok(any.is_some())
    }

    /// One user, with the hash signing in checks.
    pub async fn user(&self, name: &UserName) -> Result<Option<StoredUser>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE name = $1");
        let row = sqlx::query(&sql)
            .bind(name.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(stored_user_from_row).transpose()
    }

    /// Every user, by name.
    pub async fn users(&self) -> Result<Vec<User>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY name");
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| stored_user_from_row(row).map(|stored| stored.user))
            .collect()
    }

    /// Replaces a user's password hash; what was issued before now ends.
    pub async fn set_password_hash(&self, name: &UserName, hash: &str) -> Result<(), StoreError> {
        let _gate = self.write_gate().await;
        let updated = sqlx::query(
            "UPDATE users SET password_hash = $2, password_changed_at = $3 WHERE name = $1",
        )
        .bind(name.as_str())
        .bind(hash)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        found(name, updated.rows_affected())
    }

    /// Changes a user's role.
    pub async fn set_role(&self, name: &UserName, role: Role) -> Result<(), StoreError> {
        let _gate = self.write_gate().await;
        let updated = sqlx::query("UPDATE users SET role = $2 WHERE name = $1")
            .bind(name.as_str())
            .bind(role.as_str())
            .execute(&self.pool)
            .await?;
        found(name, updated.rows_affected())
    }

    /// Disables or enables a user.
    pub async fn set_disabled(&self, name: &UserName, disabled: bool) -> Result<(), StoreError> {
        let _gate = self.write_gate().await;
        let updated = sqlx::query("UPDATE users SET disabled = $2 WHERE name = $1")
            .bind(name.as_str())
            .bind(i64::from(disabled))
            .execute(&self.pool)
            .await?;
        found(name, updated.rows_affected())
    }
}

/// An UPDATE of one user that touched no row names a user that does not exist.
fn found(name: &UserName, rows: u64) -> Result<(), StoreError> {
    match rows {
        0 => Err(StoreError::NotFound(format!("user {name}"))),
        _ => Ok(()),
    }
}

pub(crate) fn stored_user_from_row(row: &AnyRow) -> Result<StoredUser, StoreError> {
    let name: String = row.try_get("name")?;
    let role: String = row.try_get("role")?;
    let disabled: i64 = row.try_get("disabled")?;
    Ok(StoredUser {
        user: User {
            name: UserName::parse(&name)
                .map_err(|err| StoreError::Corrupt(format!("user name {name:?}: {err}")))?,
            display_name: row.try_get("display_name")?,
            role: Role::parse(&role)
                .ok_or_else(|| StoreError::Corrupt(format!("role {role:?}")))?,
            disabled: disabled != 0,
            created_at: time_from_ms(row.try_get("created_at")?)?,
        },
        password_hash: row.try_get("password_hash")?,
        password_changed_at: row.try_get("password_changed_at")?,
    })
}
