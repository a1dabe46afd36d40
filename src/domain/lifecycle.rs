//! The lifecycle of an integration: its states, the actions a user can take, and the
//! one function ([`decide`]) that says whether an action is allowed now and what it
//! changes. Actions only ever write the *target*; the current state is the
//! reconciler's to write.

use serde::{Deserialize, Serialize};
use std::fmt;

use super::version::{PublishNote, VersionNumber};

/// What is true of an integration now (written by the reconciler only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Created, never published.
    Draft,
    /// Running.
    Active,
    /// Was active, now stopped.
    Inactive,
    /// Unpublished: kept, never runs again, usable as a blueprint.
    Deleted,
    /// Not running because something failed.
    Error,
}

/// What the user asked for. `Error` is not among them: nobody asks for failure, and
/// the type makes it impossible to request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum TargetState {
    Draft,
    Active,
    Inactive,
    Deleted,
}

impl State {
    pub const ALL: [State; 5] = [
        State::Draft,
        State::Active,
        State::Inactive,
        State::Deleted,
        State::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Draft => "draft",
            State::Active => "active",
            State::Inactive => "inactive",
            State::Deleted => "deleted",
            State::Error => "error",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        State::ALL.into_iter().find(|state| state.as_str() == text)
    }

    /// The name people read: "Active".
    pub fn label(self) -> &'static str {
        match self {
            State::Draft => "Draft",
            State::Active => "Active",
            State::Inactive => "Inactive",
            State::Deleted => "Deleted",
            State::Error => "Error",
        }
    }
}

impl TargetState {
    pub const ALL: [TargetState; 4] = [
        TargetState::Draft,
        TargetState::Active,
        TargetState::Inactive,
        TargetState::Deleted,
    ];

    /// The state this target asks the reconciler to reach.
    pub fn state(self) -> State {
        match self {
            TargetState::Draft => State::Draft,
            TargetState::Active => State::Active,
            TargetState::Inactive => State::Inactive,
            TargetState::Deleted => State::Deleted,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.state().as_str()
    }

    pub fn parse(text: &str) -> Option<Self> {
        TargetState::ALL
            .into_iter()
            .find(|state| state.as_str() == text)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl fmt::Display for TargetState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.state().label())
    }
}

/// The kinds of action a user can take on an existing integration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    Publish,
    Stop,
    Start,
    Retry,
    Activate,
    Unpublish,
    Delete,
    DiscardDraft,
    Edit,
    RestoreAsDraft,
}

impl ActionKind {
    pub const ALL: [ActionKind; 10] = [
        ActionKind::Publish,
        ActionKind::Stop,
        ActionKind::Start,
        ActionKind::Retry,
        ActionKind::Activate,
        ActionKind::Unpublish,
        ActionKind::Delete,
        ActionKind::DiscardDraft,
        ActionKind::Edit,
        ActionKind::RestoreAsDraft,
    ];

    /// The name on the button.
    pub fn label(self) -> &'static str {
        match self {
            ActionKind::Publish => "Publish",
            ActionKind::Stop => "Stop",
            ActionKind::Start => "Start",
            ActionKind::Retry => "Retry",
            ActionKind::Activate => "Activate",
            ActionKind::Unpublish => "Unpublish",
            ActionKind::Delete => "Delete",
            ActionKind::DiscardDraft => "Discard draft",
            ActionKind::Edit => "Edit",
            ActionKind::RestoreAsDraft => "Restore as draft",
        }
    }
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A user's action on an existing integration, with its arguments: the one name for
/// an action, from the transports through the application layer to the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Freeze the draft (if any) as the new active version, with an optional note.
    Publish {
        note: PublishNote,
    },
    Stop,
    Start,
    /// Re-arm the reconciler's retries of a failing integration now.
    Retry,
    /// Make this published version the active one.
    Activate(VersionNumber),
    Unpublish,
    Delete,
    DiscardDraft,
    Edit,
    /// Replace the draft with a copy of this published version.
    RestoreAsDraft(VersionNumber),
}

impl Action {
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::Publish { .. } => ActionKind::Publish,
            Action::Stop => ActionKind::Stop,
            Action::Start => ActionKind::Start,
            Action::Retry => ActionKind::Retry,
            Action::Activate(_) => ActionKind::Activate,
            Action::Unpublish => ActionKind::Unpublish,
            Action::Delete => ActionKind::Delete,
            Action::DiscardDraft => ActionKind::DiscardDraft,
            Action::Edit => ActionKind::Edit,
            Action::RestoreAsDraft(_) => ActionKind::RestoreAsDraft,
        }
    }

    /// The version the action names (Activate N, Restore N as draft), whose status the
    /// decision needs.
    pub fn named_version(&self) -> Option<VersionNumber> {
        match self {
            Action::Activate(number) | Action::RestoreAsDraft(number) => Some(*number),
            Action::Publish { .. }
            | Action::Stop
            | Action::Start
            | Action::Retry
            | Action::Unpublish
            | Action::Delete
            | Action::DiscardDraft
            | Action::Edit => None,
        }
    }

    /// Whether the action asks for the integration to run (again): it re-arms the
    /// reconciler's retries.
    pub fn rearms(&self) -> bool {
        match self {
            Action::Publish { .. } | Action::Start | Action::Activate(_) | Action::Retry => true,
            Action::Stop
            | Action::Unpublish
            | Action::Delete
            | Action::DiscardDraft
            | Action::Edit
            | Action::RestoreAsDraft(_) => false,
        }
    }
}

/// What the version an action names is, as the store found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NamedVersion {
    /// Frozen: it can be activated or copied.
    Published,
    /// The draft itself.
    Draft,
}

/// Everything about an integration that decides which actions are allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Situation {
    pub current: State,
    pub target: TargetState,
    pub has_draft: bool,
    /// Whether any version was ever published (frozen).
    pub published_before: bool,
}

/// What an allowed action does to the versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionChange {
    /// Nothing.
    None,
    /// The draft is frozen with the next number and becomes the active version.
    FreezeDraftAsActive,
    /// Version N becomes the active version.
    Activate(VersionNumber),
    /// The draft is written (created first if there is none).
    WriteDraft,
    /// The draft is replaced by a copy of version N (created if there is none).
    CopyIntoDraft(VersionNumber),
    /// The draft is removed.
    RemoveDraft,
    /// The integration and all its versions are removed.
    RemoveIntegration,
}

/// What an allowed action changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Change {
    /// The new target state, where it changes.
    pub target: Option<TargetState>,
    pub versions: VersionChange,
}

/// An action refused in the present situation, with what is allowed instead.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{}", self.message())]
pub struct InvalidTransition {
    pub action: ActionKind,
    pub current: State,
    pub target: TargetState,
    /// Why, where the state alone does not say it ("there is no draft").
    pub reason: Option<String>,
    pub allowed: Vec<ActionKind>,
}

impl InvalidTransition {
    pub fn message(&self) -> String {
        let state = if self.current == self.target.state() {
            format!("the integration is {}", self.current)
        } else {
            format!(
                "the integration is {} (going to {})",
                self.current, self.target
            )
        };
        let why = self
            .reason
            .as_deref()
            .map(|reason| format!(" and {reason}"))
            .unwrap_or_default();
        let allowed = if self.allowed.is_empty() {
            "nothing".to_owned()
        } else {
            self.allowed
                .iter()
                .map(|kind| kind.label())
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "cannot {}: {state}{why}; allowed now: {allowed}",
            self.action.label().to_lowercase()
        )
    }
}

/// Decides whether `action` is allowed in `situation`, and what it changes; a
/// refusal names the state and the actions allowed instead.
pub fn decide(
    action: &Action,
    situation: Situation,
    named: Option<NamedVersion>,
) -> Result<Change, InvalidTransition> {
    rule(action, situation, named).map_err(|reason| InvalidTransition {
        action: action.kind(),
        current: situation.current,
        target: situation.target,
        reason,
        allowed: allowed_actions(situation),
    })
}

/// The actions allowed in `situation`, in button order. The per-version actions
/// (Activate, Restore as draft) are listed when a published version exists to use.
pub fn allowed_actions(situation: Situation) -> Vec<ActionKind> {
    // A published version stands in for whichever one the person will pick.
    let named = situation
        .published_before
        .then_some(NamedVersion::Published);
    ActionKind::ALL
        .into_iter()
        .filter(|kind| {
            let action = match kind {
                ActionKind::Publish => Action::Publish {
                    note: PublishNote::default(),
                },
                ActionKind::Stop => Action::Stop,
                ActionKind::Start => Action::Start,
                ActionKind::Retry => Action::Retry,
                ActionKind::Activate => Action::Activate(VersionNumber::FIRST),
                ActionKind::Unpublish => Action::Unpublish,
                ActionKind::Delete => Action::Delete,
                ActionKind::DiscardDraft => Action::DiscardDraft,
                ActionKind::Edit => Action::Edit,
                ActionKind::RestoreAsDraft => Action::RestoreAsDraft(VersionNumber::FIRST),
            };
            rule(&action, situation, named).is_ok()
        })
        .collect()
}

/// The action table of the specification. A refusal carries the reason where the
/// state alone does not explain it.
///
/// One addition to the specification: an integration whose target is Deleted
/// (unpublished) is final even before the reconciler has caught up, so nothing but
/// reading it and using it as a blueprint is allowed.
fn rule(
    action: &Action,
    situation: Situation,
    named: Option<NamedVersion>,
) -> Result<Change, Option<String>> {
    let Situation {
        current,
        target,
        has_draft,
        published_before,
    } = situation;
    let retarget = |target: TargetState, versions: VersionChange| Change {
        target: Some(target),
        versions,
    };
    let keep_target = |versions: VersionChange| Change {
        target: None,
        versions,
    };
    let because = |reason: &str| Some(reason.to_owned());
    if current == State::Deleted || target == TargetState::Deleted {
        return Err(because("it is unpublished"));
    }
    match action {
        Action::Publish { .. } => match (has_draft, current) {
            (true, _) => Ok(retarget(
                TargetState::Active,
                VersionChange::FreezeDraftAsActive,
            )),
            (false, State::Inactive | State::Error) => {
                Ok(retarget(TargetState::Active, VersionChange::None))
            }
            (false, State::Draft | State::Active | State::Deleted) => {
                Err(because("there is no draft to publish"))
            }
        },
        Action::Stop => match current {
            State::Active | State::Error => {
                Ok(retarget(TargetState::Inactive, VersionChange::None))
            }
            State::Draft | State::Inactive | State::Deleted => Err(None),
        },
        Action::Start => match current {
            State::Inactive => Ok(retarget(TargetState::Active, VersionChange::None)),
            State::Draft | State::Active | State::Error | State::Deleted => Err(None),
        },
        Action::Retry => match current {
            State::Error => Ok(keep_target(VersionChange::None)),
            State::Draft | State::Active | State::Inactive | State::Deleted => {
                Err(because("nothing is failing"))
            }
        },
        Action::Activate(number) => match (current, named) {
            (State::Active | State::Inactive | State::Error, Some(NamedVersion::Published)) => Ok(
                retarget(TargetState::Active, VersionChange::Activate(*number)),
            ),
            (State::Active | State::Inactive | State::Error, Some(NamedVersion::Draft)) => {
                Err(because(&format!("{number} is a draft: publish it first")))
            }
            (State::Active | State::Inactive | State::Error, None) => {
                Err(because(&format!("there is no {number}")))
            }
            (State::Draft | State::Deleted, _) => Err(None),
        },
        Action::Unpublish => match current {
            State::Inactive => Ok(retarget(TargetState::Deleted, VersionChange::None)),
            State::Draft | State::Active | State::Error | State::Deleted => Err(None),
        },
        Action::Delete => match (current, published_before) {
            (State::Draft, false) => Ok(keep_target(VersionChange::RemoveIntegration)),
            (State::Draft, true) => Err(because("it was published: unpublish it instead")),
            (State::Active | State::Inactive | State::Error | State::Deleted, _) => Err(None),
        },
        Action::DiscardDraft => match (has_draft, published_before) {
            (true, true) => Ok(keep_target(VersionChange::RemoveDraft)),
            (true, false) => Err(because(
                "it was never published: delete the integration instead",
            )),
            (false, _) => Err(because("there is no draft")),
        },
        Action::Edit => Ok(keep_target(VersionChange::WriteDraft)),
        Action::RestoreAsDraft(number) => match named {
            Some(NamedVersion::Published) => Ok(keep_target(VersionChange::CopyIntoDraft(*number))),
            Some(NamedVersion::Draft) => Err(because(&format!("{number} is the draft itself"))),
            None => Err(because(&format!("there is no {number}"))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ActionKind as K;
    use State as S;
    use TargetState as T;

    const V3: VersionNumber = match VersionNumber::new_const(3) {
        Some(number) => number,
        None => VersionNumber::FIRST,
    };

    /// The usual situation of an integration that is settled in `state`.
    fn settled(state: State) -> Situation {
        match state {
            S::Draft => situation(S::Draft, T::Draft, true, false),
            S::Active => situation(S::Active, T::Active, false, true),
            S::Inactive => situation(S::Inactive, T::Inactive, false, true),
            S::Deleted => situation(S::Deleted, T::Deleted, false, true),
            S::Error => situation(S::Error, T::Active, false, true),
        }
    }

    fn situation(
        current: State,
        target: TargetState,
        has_draft: bool,
        published_before: bool,
    ) -> Situation {
        Situation {
            current,
            target,
            has_draft,
            published_before,
        }
    }

    fn action(kind: ActionKind) -> Action {
        match kind {
            K::Publish => publish(),
            K::Stop => Action::Stop,
            K::Start => Action::Start,
            K::Retry => Action::Retry,
            K::Activate => Action::Activate(V3),
            K::Unpublish => Action::Unpublish,
            K::Delete => Action::Delete,
            K::DiscardDraft => Action::DiscardDraft,
            K::Edit => Action::Edit,
            K::RestoreAsDraft => Action::RestoreAsDraft(V3),
        }
    }

    fn publish() -> Action {
        Action::Publish {
            note: PublishNote::default(),
        }
    }

    /// Decides as the store does: a version named by the action is published.
    fn decide(action: Action, situation: Situation) -> Result<Change, InvalidTransition> {
        super::decide(&action, situation, Some(NamedVersion::Published))
    }

    use VersionChange as V;
    type Expected = Option<(Option<TargetState>, VersionChange)>;
    const NO: Expected = None;

    /// Every state against every action, from the settled situation of that state.
    /// `NO` is a refusal; otherwise the new target (if it changes) and the version change.
    #[rustfmt::skip]
    const TABLE: &[(State, ActionKind, Expected)] = &[
        (S::Draft,    K::Publish,        Some((Some(T::Active),   V::FreezeDraftAsActive))),
        (S::Draft,    K::Stop,           NO),
        (S::Draft,    K::Start,          NO),
        (S::Draft,    K::Retry,          NO),
        (S::Draft,    K::Activate,       NO),
        (S::Draft,    K::Unpublish,      NO),
        (S::Draft,    K::Delete,         Some((None,              V::RemoveIntegration))),
        (S::Draft,    K::DiscardDraft,   NO),
        (S::Draft,    K::Edit,           Some((None,              V::WriteDraft))),
        (S::Draft,    K::RestoreAsDraft, Some((None,              V::CopyIntoDraft(V3)))),

        (S::Active,   K::Publish,        NO),
        (S::Active,   K::Stop,           Some((Some(T::Inactive), V::None))),
        (S::Active,   K::Start,          NO),
        (S::Active,   K::Retry,          NO),
        (S::Active,   K::Activate,       Some((Some(T::Active),   V::Activate(V3)))),
        (S::Active,   K::Unpublish,      NO),
        (S::Active,   K::Delete,         NO),
        (S::Active,   K::DiscardDraft,   NO),
        (S::Active,   K::Edit,           Some((None,              V::WriteDraft))),
        (S::Active,   K::RestoreAsDraft, Some((None,              V::CopyIntoDraft(V3)))),

        (S::Inactive, K::Publish,        Some((Some(T::Active),   V::None))),
        (S::Inactive, K::Stop,           NO),
        (S::Inactive, K::Start,          Some((Some(T::Active),   V::None))),
        (S::Inactive, K::Retry,          NO),
        (S::Inactive, K::Activate,       Some((Some(T::Active),   V::Activate(V3)))),
        (S::Inactive, K::Unpublish,      Some((Some(T::Deleted),  V::None))),
        (S::Inactive, K::Delete,         NO),
        (S::Inactive, K::DiscardDraft,   NO),
        (S::Inactive, K::Edit,           Some((None,              V::WriteDraft))),
        (S::Inactive, K::RestoreAsDraft, Some((None,              V::CopyIntoDraft(V3)))),

        (S::Deleted,  K::Publish,        NO),
        (S::Deleted,  K::Stop,           NO),
        (S::Deleted,  K::Start,          NO),
        (S::Deleted,  K::Retry,          NO),
        (S::Deleted,  K::Activate,       NO),
        (S::Deleted,  K::Unpublish,      NO),
        (S::Deleted,  K::Delete,         NO),
        (S::Deleted,  K::DiscardDraft,   NO),
        (S::Deleted,  K::Edit,           NO),
        (S::Deleted,  K::RestoreAsDraft, NO),

        (S::Error,    K::Publish,        Some((Some(T::Active),   V::None))),
        (S::Error,    K::Stop,           Some((Some(T::Inactive), V::None))),
        (S::Error,    K::Start,          NO),
        (S::Error,    K::Retry,          Some((None,              V::None))),
        (S::Error,    K::Activate,       Some((Some(T::Active),   V::Activate(V3)))),
        (S::Error,    K::Unpublish,      NO),
        (S::Error,    K::Delete,         NO),
        (S::Error,    K::DiscardDraft,   NO),
        (S::Error,    K::Edit,           Some((None,              V::WriteDraft))),
        (S::Error,    K::RestoreAsDraft, Some((None,              V::CopyIntoDraft(V3)))),
    ];

    #[test]
    fn the_table_covers_every_state_and_action() {
        for state in State::ALL {
            for kind in ActionKind::ALL {
                let rows = TABLE
                    .iter()
                    .filter(|(s, k, _)| *s == state && *k == kind)
                    .count();
                assert_eq!(rows, 1, "{state:?} x {kind:?} appears {rows} times");
            }
        }
    }

    #[test]
    fn every_state_and_action_is_decided_as_the_table_says() {
        for (state, kind, expected) in TABLE {
            let decided = decide(action(*kind), settled(*state))
                .ok()
                .map(|change| (change.target, change.versions));
            assert_eq!(decided, *expected, "{kind:?} from a settled {state:?}");
        }
    }

    #[test]
    fn the_allowed_actions_are_exactly_those_the_table_allows() {
        for state in State::ALL {
            let allowed: Vec<ActionKind> = TABLE
                .iter()
                .filter(|(s, _, expected)| *s == state && expected.is_some())
                .map(|(_, kind, _)| *kind)
                .filter(|kind| {
                    // Without a published version there is nothing to activate or restore.
                    settled(state).published_before
                        || !matches!(kind, K::Activate | K::RestoreAsDraft)
                })
                .collect();
            assert_eq!(allowed_actions(settled(state)), allowed, "{state:?}");
        }
    }

    #[test]
    fn publish_freezes_a_draft_as_the_active_version_in_any_state_but_deleted() {
        for current in [S::Draft, S::Active, S::Inactive, S::Error] {
            let change = decide(publish(), situation(current, T::Active, true, true)).unwrap();
            assert_eq!(change.versions, V::FreezeDraftAsActive, "{current:?}");
            assert_eq!(change.target, Some(T::Active));
        }
    }

    #[test]
    fn publish_without_a_draft_redeploys_an_inactive_or_failed_integration_only() {
        assert!(decide(publish(), situation(S::Inactive, T::Inactive, false, true)).is_ok());
        assert!(decide(publish(), situation(S::Error, T::Active, false, true)).is_ok());
        let refused = decide(publish(), situation(S::Active, T::Active, false, true)).unwrap_err();
        assert_eq!(
            refused.reason.as_deref(),
            Some("there is no draft to publish")
        );
    }

    #[test]
    fn stop_is_allowed_when_active_and_when_failing() {
        for current in [S::Active, S::Error] {
            let change = decide(Action::Stop, settled(current)).unwrap();
            assert_eq!(change.target, Some(T::Inactive));
        }
        assert!(decide(Action::Stop, settled(S::Inactive)).is_err());
    }

    #[test]
    fn start_is_allowed_only_when_inactive_and_keeps_the_active_version() {
        let change = decide(Action::Start, settled(S::Inactive)).unwrap();
        assert_eq!((change.target, change.versions), (Some(T::Active), V::None));
        for current in [S::Draft, S::Active, S::Error, S::Deleted] {
            assert!(
                decide(Action::Start, settled(current)).is_err(),
                "{current:?}"
            );
        }
    }

    #[test]
    fn activate_needs_a_frozen_version() {
        let refused = super::decide(
            &Action::Activate(V3),
            settled(S::Active),
            Some(NamedVersion::Draft),
        )
        .unwrap_err();
        assert_eq!(
            refused.reason.as_deref(),
            Some("v3 is a draft: publish it first")
        );
    }

    #[test]
    fn activate_is_allowed_when_active_inactive_or_failing() {
        for current in [S::Active, S::Inactive, S::Error] {
            let change = decide(action(K::Activate), settled(current)).unwrap();
            assert_eq!(
                (change.target, change.versions),
                (Some(T::Active), V::Activate(V3))
            );
        }
    }

    #[test]
    fn unpublish_is_allowed_only_when_inactive() {
        assert_eq!(
            decide(Action::Unpublish, settled(S::Inactive))
                .unwrap()
                .target,
            Some(T::Deleted)
        );
        for current in [S::Draft, S::Active, S::Error, S::Deleted] {
            assert!(
                decide(Action::Unpublish, settled(current)).is_err(),
                "{current:?}"
            );
        }
    }

    #[test]
    fn delete_is_allowed_only_for_a_never_published_draft() {
        assert_eq!(
            decide(Action::Delete, settled(S::Draft)).unwrap().versions,
            V::RemoveIntegration
        );
        let published = situation(S::Draft, T::Active, true, true);
        let refused = decide(Action::Delete, published).unwrap_err();
        assert_eq!(
            refused.reason.as_deref(),
            Some("it was published: unpublish it instead")
        );
    }

    #[test]
    fn discard_draft_needs_a_draft_of_a_published_integration() {
        let with_draft = situation(S::Active, T::Active, true, true);
        assert_eq!(
            decide(Action::DiscardDraft, with_draft).unwrap().versions,
            V::RemoveDraft
        );
        let never_published = decide(Action::DiscardDraft, settled(S::Draft)).unwrap_err();
        assert_eq!(
            never_published.reason.as_deref(),
            Some("it was never published: delete the integration instead")
        );
        let no_draft = decide(Action::DiscardDraft, settled(S::Active)).unwrap_err();
        assert_eq!(no_draft.reason.as_deref(), Some("there is no draft"));
    }

    #[test]
    fn edit_is_allowed_in_every_state_but_deleted() {
        for current in [S::Draft, S::Active, S::Inactive, S::Error] {
            assert_eq!(
                decide(Action::Edit, settled(current)).unwrap().versions,
                V::WriteDraft
            );
        }
        assert!(decide(Action::Edit, settled(S::Deleted)).is_err());
    }

    #[test]
    fn restoring_the_draft_onto_itself_is_refused() {
        let onto_itself = super::decide(
            &Action::RestoreAsDraft(V3),
            settled(S::Active),
            Some(NamedVersion::Draft),
        );
        assert!(onto_itself.is_err());
    }

    #[test]
    fn once_unpublished_nothing_is_allowed_even_before_the_reconciler_catches_up() {
        let unpublishing = situation(S::Inactive, T::Deleted, false, true);
        for kind in ActionKind::ALL {
            assert!(decide(action(kind), unpublishing).is_err(), "{kind:?}");
        }
        assert!(allowed_actions(unpublishing).is_empty());
    }

    #[test]
    fn a_refusal_names_the_state_and_the_actions_allowed_now() {
        let refused = decide(Action::Start, settled(S::Active)).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "cannot start: the integration is Active; allowed now: Stop, Activate, Edit, Restore as draft"
        );
        let pending = decide(
            Action::Unpublish,
            situation(S::Active, T::Inactive, false, true),
        )
        .unwrap_err();
        assert!(
            pending
                .to_string()
                .starts_with("cannot unpublish: the integration is Active (going to Inactive)")
        );
    }

    #[test]
    fn error_can_never_be_asked_for() {
        assert_eq!(TargetState::parse("error"), None);
        assert_eq!(State::parse("error"), Some(S::Error));
    }
}
