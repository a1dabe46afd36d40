//! Users: the first administrator, adding users, changing passwords, and checking a
//! password (what signing in will do). Passwords are hashed with argon2id (the
//! `argon2` crate's defaults, OWASP's recommended parameters), on a blocking thread:
//! a hash takes tens of milliseconds of CPU by design.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use super::{Principal, Service, internal};
use crate::domain::access::{Operation, Role};
use crate::domain::audit::AuditEvent;
use crate::domain::user::{Password, User, UserName, display_name};
use crate::error::{AppError, FieldError};
use crate::store::users::{NewUser, StoredUser};

/// A user to add, as typed.
#[derive(Debug)]
pub struct UserRequest<'a> {
    pub name: &'a str,
    pub display_name: &'a str,
    pub password: &'a str,
    pub role: &'a str,
}

/// A change to a user; fields left out stay as they are.
#[derive(Debug, Default)]
pub struct UserChange<'a> {
    pub role: Option<&'a str>,
    pub disabled: Option<bool>,
    pub password: Option<&'a str>,
}

impl Service {
    /// Changes a user's role, disabled flag or password (administrators only). The
    /// last enabled administrator can be neither demoted nor disabled: nobody could
    /// manage users after that.
    pub async fn change_user(
        &self,
        who: &Principal,
        name: &str,
        change: &UserChange<'_>,
    ) -> Result<User, AppError> {
        who.may(Operation::ManageUsers)?;
        let name = UserName::parse(name).map_err(|_| AppError::NotFound {
            what: format!("user {name:?}"),
        })?;
        let current = self
            .store
            .user(&name)
            .await?
            .ok_or_else(|| AppError::NotFound {
                what: format!("user {name}"),
            })?
            .user;
        let role = change
            .role
            .map(role_field)
            .transpose()
            .map_err(|err| AppError::field("role", err))?;
        let password = change
            .password
            .map(Password::parse)
            .transpose()
            .map_err(|err| AppError::field("password", err))?;
        let loses_admin = current.role == Role::Admin
            && !current.disabled
            && (role.is_some_and(|role| role != Role::Admin) || change.disabled == Some(true));
        if loses_admin {
            let admins = self
                .store
                .users()
                .await?
                .into_iter()
                .filter(|user| user.role == Role::Admin && !user.disabled)
                .count();
            if admins <= 1 {
                return Err(AppError::field(
                    "role",
                    format!("{name} is the last enabled administrator: make another one first"),
                ));
            }
        }
        let (actor, address, subject) = (who.user(), who.address(), name.as_str());
        if let Some(role) = role.filter(|role| *role != current.role) {
            self.store.set_role(&name, role).await?;
            self.callers.forget_all();
            let detail = format!("{} → {role}", current.role);
            self.audit_event(actor, AuditEvent::RoleChanged, subject, address, &detail)
                .await?;
        }
        if let Some(disabled) = change
            .disabled
            .filter(|disabled| *disabled != current.disabled)
        {
            self.store.set_disabled(&name, disabled).await?;
            self.callers.forget_all();
            if disabled {
                // Its sessions end here; its tokens stop working with the flag.
                self.store.end_sessions_of(&name).await?;
            }
            let event = match disabled {
                true => AuditEvent::UserDisabled,
                false => AuditEvent::UserEnabled,
            };
            self.audit_event(actor, event, subject, address, "").await?;
        }
        if let Some(password) = password {
            self.replace_password(who, &name, password).await?;
        }
        self.store
            .user(&name)
            .await?
            .map(|stored| stored.user)
            .ok_or_else(|| AppError::NotFound {
                what: format!("user {name}"),
            })
    }

    /// Adds the first administrator, only while no user exists. Answers `None` when
    /// one already does (nothing is changed).
    pub async fn create_first_admin(
        &self,
        name: &str,
        display_name: &str,
        password: &str,
        address: &str,
    ) -> Result<Option<User>, AppError> {
        let request = UserRequest {
            name,
            display_name,
            password,
            role: Role::Admin.as_str(),
        };
        let Some(user) = self.insert_user(&request, true).await? else {
            return Ok(None);
        };
        let subject = user.name.as_str();
        let detail = "the first administrator";
        self.audit_event(subject, AuditEvent::UserCreated, subject, address, detail)
            .await?;
        Ok(Some(user))
    }

    /// Adds a user (administrators only).
    pub async fn add_user(
        &self,
        who: &Principal,
        request: &UserRequest<'_>,
    ) -> Result<User, AppError> {
        who.may(Operation::ManageUsers)?;
        let user = self
            .insert_user(request, false)
            .await?
            .ok_or_else(|| internal(&std::io::Error::other("a user was not added")))?;
        let detail = format!("role {}", user.role);
        self.audit_event(
            who.user(),
            AuditEvent::UserCreated,
            user.name.as_str(),
            who.address(),
            &detail,
        )
        .await?;
        Ok(user)
    }

    /// Every user (administrators only).
    pub async fn users(&self, who: &Principal) -> Result<Vec<User>, AppError> {
        who.may(Operation::ManageUsers)?;
        Ok(self.store.users().await?)
    }

    /// Sets a user's password: their own, or anyone's for an administrator. What was
    /// issued before (sessions, tokens) ends with the old password.
    pub async fn set_password(
        &self,
        who: &Principal,
        name: &str,
        password: &str,
    ) -> Result<(), AppError> {
        let name = UserName::parse(name).map_err(|err| AppError::field("name", err))?;
        if who.user() != name.as_str() {
            who.may(Operation::ManageUsers)?;
        }
        let password = Password::parse(password).map_err(|err| AppError::field("password", err))?;
        self.replace_password(who, &name, password).await
    }

    /// Changes the caller's own password; the current one must be given, and wrong
    /// guesses count as failed sign-ins. Every session of the user ends.
    pub async fn change_own_password(
        &self,
        who: &Principal,
        current: &str,
        new: &str,
    ) -> Result<(), AppError> {
        let name = UserName::parse(who.user()).map_err(|err| AppError::Forbidden {
            message: format!("only a user has a password: {err}"),
        })?;
        let password = Password::parse(new).map_err(|err| AppError::field("new_password", err));
        let checked = self
            .rate_limited_check(who.user(), current, who.address())
            .await?;
        if checked.found.is_none() {
            return Err(AppError::field(
                "current",
                "this is not your current password",
            ));
        }
        self.replace_password(who, &name, password?).await
    }

    /// Hashes and stores a new password; every session of the user ends with the old
    /// one (tokens stay: each is revoked on its own).
    async fn replace_password(
        &self,
        who: &Principal,
        name: &UserName,
        password: Password,
    ) -> Result<(), AppError> {
        let hash = hash(password).await?;
        self.store.set_password_hash(name, &hash).await?;
        self.callers.forget_all();
        self.store.end_sessions_of(name).await?;
        self.audit_event(
            who.user(),
            AuditEvent::PasswordChanged,
            name.as_str(),
            who.address(),
            "",
        )
        .await
    }

    /// The user, if the name and password match an enabled account. The answer does
    /// not tell an unknown name from a wrong password.
    pub async fn check_password(
        &self,
        name: &str,
        password: &str,
    ) -> Result<Option<User>, AppError> {
        Ok(self
            .verify_password(name, password)
            .await?
            .map(|stored| stored.user))
    }

    /// The stored user (with what sessions are checked against), if the name and
    /// password match an enabled account.
    pub(super) async fn verify_password(
        &self,
        name: &str,
        password: &str,
    ) -> Result<Option<StoredUser>, AppError> {
        let Ok(name) = UserName::parse(name) else {
            return Ok(None);
        };
        let stored = self.store.user(&name).await?;
        // An unknown name costs a hash too, so timing does not tell it apart.
        let hash = match &stored {
            Some(stored) => stored.password_hash.clone(),
            None => UNKNOWN_USER_HASH.to_owned(),
        };
        let password = password.to_owned();
        let matches = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash).is_ok_and(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
        })
        .await
        .map_err(|err| internal(&err))?;
        Ok(stored.filter(|stored| matches && !stored.user.disabled))
    }

    async fn insert_user(
        &self,
        request: &UserRequest<'_>,
        only_if_none: bool,
    ) -> Result<Option<User>, AppError> {
        let mut fields = Vec::new();
        let name = UserName::parse(request.name)
            .map_err(|err| fields.push(FieldError::new("name", err)))
            .ok();
        let password = Password::parse(request.password)
            .map_err(|err| fields.push(FieldError::new("password", err)))
            .ok();
        let role = Role::parse(request.role.trim())
            .ok_or_else(|| {
                fields.push(FieldError::new(
                    "role",
                    format!(
                        "unknown role {:?} (expected viewer, editor or admin)",
                        request.role
                    ),
                ));
            })
            .ok();
        let display = name.as_ref().and_then(|name| {
            display_name(request.display_name, name)
                .map_err(|err| fields.push(FieldError::new("display_name", err)))
                .ok()
        });
        let (Some(name), Some(password), Some(role), Some(display)) =
            (name, password, role, display)
        else {
            return Err(AppError::ValidationFailed { fields });
        };
        let hash = hash(password).await?;
        let new = NewUser {
            name: &name,
            display_name: &display,
            password_hash: &hash,
            role,
        };
        if !self.store.add_user(&new, only_if_none).await? {
            return Ok(None);
        }
        Ok(self.store.user(&name).await?.map(|stored| stored.user))
    }
}

/// A role as typed into a field.
fn role_field(text: &str) -> Result<Role, String> {
    Role::parse(text.trim())
        .ok_or_else(|| format!("unknown role {text:?} (expected viewer, editor or admin)"))
}

/// An argon2id hash of a password, made on a blocking thread.
async fn hash(password: Password) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|hash| hash.to_string())
    })
    .await
    .map_err(|err| internal(&err))?
    .map_err(|err| internal(&std::io::Error::other(err.to_string())))
}

/// A valid argon2id hash that no password is known to match, checked against when the
/// name is unknown.
const UNKNOWN_USER_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0zqjm4vJ0nE0S+4jV1Tn4o5J2mUQgF8XcVwlGX0C5dE";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_checked_for_unknown_names_is_a_valid_argon2id_hash() {
        let parsed = PasswordHash::new(UNKNOWN_USER_HASH).unwrap();
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        assert!(
            Argon2::default()
                .verify_password(b"anything", &parsed)
                .is_err()
        );
    }
}
