//! Who may do what: the roles, the operations of the application layer, and the one
//! table ([`allows`]) that decides, checked once per operation in `crate::service`.
//! Like the lifecycle, it is data: an exhaustive match, table-tested over every role
//! and operation.

use serde::{Deserialize, Serialize};
use std::fmt;

use super::lifecycle::ActionKind;

/// A user's role. Each includes what the one before it may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything (secrets stay masked for everyone).
    Viewer,
    /// Also designs and runs integrations.
    Editor,
    /// Also unpublishes and deletes, and manages users, everyone's tokens and the audit.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Editor, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.as_str() == text)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a principal asks the application layer to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Read integrations, versions, the log, activity, differences.
    Read,
    /// Create an integration.
    Create,
    /// An action of the lifecycle (Edit among them).
    Act(ActionKind),
    /// "New integration from this version".
    Blueprint,
    /// Add users, change their roles, disable them, reset their passwords.
    ManageUsers,
    /// Create, list and revoke one's own API tokens.
    ManageOwnTokens,
    /// List and revoke anyone's API tokens.
    ManageAnyTokens,
    /// Read the audit log.
    ReadAudit,
    /// Create, change, test and delete connections (their secrets stay write-only).
    ManageConnections,
    /// Bring integrations and their versions in from an export.
    Import,
    /// Send a version to another Junction through a `junction` connection.
    Promote,
    /// Let a connection reach private and loopback addresses (where databases usually
    /// are), past the egress policy's default; or point one at a file on the server.
    OpenConnectionEgress,
}

impl Operation {
    /// Every operation, for the table test and for listing what a role may do.
    pub fn all() -> Vec<Operation> {
        let mut all = vec![Operation::Read, Operation::Create];
        all.extend(ActionKind::ALL.map(Operation::Act));
        all.extend([
            Operation::Blueprint,
            Operation::ManageUsers,
            Operation::ManageOwnTokens,
            Operation::ManageAnyTokens,
            Operation::ReadAudit,
            Operation::ManageConnections,
            Operation::Import,
            Operation::Promote,
            Operation::OpenConnectionEgress,
        ]);
        all
    }

    /// How a refusal names it: "publish", "manage users".
    pub fn describe(self) -> String {
        match self {
            Operation::Read => "read".to_owned(),
            Operation::Create => "create integrations".to_owned(),
            Operation::Act(kind) => kind.label().to_lowercase(),
            Operation::Blueprint => "create integrations from a version".to_owned(),
            Operation::ManageUsers => "manage users".to_owned(),
            Operation::ManageOwnTokens => "manage their API tokens".to_owned(),
            Operation::ManageAnyTokens => "manage other users' API tokens".to_owned(),
            Operation::ReadAudit => "read the audit log".to_owned(),
            Operation::ManageConnections => "manage connections".to_owned(),
            Operation::Import => "import integrations".to_owned(),
            Operation::Promote => "promote versions to another server".to_owned(),
            Operation::OpenConnectionEgress => {
                "let a connection reach private addresses or server files".to_owned()
            }
        }
    }
}

/// Whether `role` may perform `operation`.
pub fn allows(role: Role, operation: Operation) -> bool {
    let least = match operation {
        Operation::Read | Operation::ManageOwnTokens => Role::Viewer,
        Operation::Create
        | Operation::Blueprint
        | Operation::ManageConnections
        | Operation::Import
        | Operation::Promote => Role::Editor,
        Operation::Act(kind) => match kind {
            ActionKind::Publish
            | ActionKind::Stop
            | ActionKind::Start
            | ActionKind::Retry
            | ActionKind::Activate
            | ActionKind::DiscardDraft
            | ActionKind::Edit
            | ActionKind::RestoreAsDraft => Role::Editor,
            ActionKind::Unpublish | ActionKind::Delete => Role::Admin,
        },
        Operation::ManageUsers
        | Operation::ManageAnyTokens
        | Operation::ReadAudit
        | Operation::OpenConnectionEgress => Role::Admin,
    };
    role >= least
}

/// A refused operation: the message names the role and the operation.
pub fn refusal(role: Role, operation: Operation) -> String {
    format!(
        "the {role} role may not {}; ask an administrator for a role that may",
        operation.describe()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ActionKind as K;
    use Operation as O;

    /// Every operation, and the least role that may perform it.
    #[rustfmt::skip]
    const TABLE: &[(Operation, Role)] = &[
        (O::Read,                      Role::Viewer),
        (O::ManageOwnTokens,           Role::Viewer),
        (O::Create,                    Role::Editor),
        (O::Blueprint,                 Role::Editor),
        (O::Act(K::Publish),           Role::Editor),
        (O::Act(K::Stop),              Role::Editor),
        (O::Act(K::Start),             Role::Editor),
        (O::Act(K::Retry),             Role::Editor),
        (O::Act(K::Activate),          Role::Editor),
        (O::Act(K::DiscardDraft),      Role::Editor),
        (O::Act(K::Edit),              Role::Editor),
        (O::Act(K::RestoreAsDraft),    Role::Editor),
        (O::Act(K::Unpublish),         Role::Admin),
        (O::Act(K::Delete),            Role::Admin),
        (O::ManageUsers,               Role::Admin),
        (O::ManageAnyTokens,           Role::Admin),
        (O::ReadAudit,                 Role::Admin),
        (O::ManageConnections,         Role::Editor),
        (O::Import,                    Role::Editor),
        (O::Promote,                   Role::Editor),
        (O::OpenConnectionEgress,      Role::Admin),
    ];

    #[test]
    fn the_table_names_every_operation_once() {
        for operation in Operation::all() {
            let rows = TABLE.iter().filter(|(o, _)| *o == operation).count();
            assert_eq!(rows, 1, "{operation:?} appears {rows} times");
        }
        assert_eq!(TABLE.len(), Operation::all().len());
    }

    #[test]
    fn every_role_and_operation_is_decided_as_the_table_says() {
        for (operation, least) in TABLE {
            for role in Role::ALL {
                assert_eq!(
                    allows(role, *operation),
                    role >= *least,
                    "{role} x {operation:?}"
                );
            }
        }
    }

    #[test]
    fn a_viewer_reads_but_changes_nothing() {
        let allowed: Vec<Operation> = Operation::all()
            .into_iter()
            .filter(|operation| allows(Role::Viewer, *operation))
            .collect();
        assert_eq!(allowed, [O::Read, O::ManageOwnTokens]);
    }

    #[test]
    fn a_refusal_names_the_role_and_the_operation() {
        assert_eq!(
            refusal(Role::Editor, O::Act(K::Unpublish)),
            "the editor role may not unpublish; ask an administrator for a role that may"
        );
    }

    #[test]
    fn roles_read_back_from_their_names() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
