//! The difference between two definitions, line by line over their pretty JSON, as
//! people read diffs. Computed on the server only (the diff library stays out of the
//! browser bundle); the result travels to pages.

use serde::{Deserialize, Serialize};
#[cfg(feature = "ssr")]
use serde_json::Value;
#[cfg(feature = "ssr")]
use similar::{ChangeTag, TextDiff};

/// A line of a diff.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffLine {
    /// `equal`, `delete` or `insert`.
    pub tag: String,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefinitionDiff {
    /// Nothing differs, secrets included.
    pub identical: bool,
    pub unified: String,
    pub lines: Vec<DiffLine>,
    /// Where a secret differs (added, removed or changed): the lines show secrets
    /// masked, so a change of one alone would not show. Places only, never values.
    #[serde(default)]
    pub secrets_changed: Vec<String>,
}

impl DefinitionDiff {
    /// The same diff, telling where secrets differ.
    pub fn with_secrets_changed(mut self, places: Vec<String>) -> Self {
        self.identical = self.identical && places.is_empty();
        self.secrets_changed = places;
        self
    }
}

/// The places where the secrets of two definitions differ.
pub fn secrets_changed(
    old: &std::collections::BTreeMap<String, String>,
    new: &std::collections::BTreeMap<String, String>,
) -> Vec<String> {
    let places: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    places
        .into_iter()
        .filter(|place| old.get(*place) != new.get(*place))
        .cloned()
        .collect()
}

/// Diffs `old` against `new`, labelling the two sides.
#[cfg(feature = "ssr")]
pub fn definitions(old: &Value, new: &Value, old_label: &str, new_label: &str) -> DefinitionDiff {
    let old_text = pretty(old);
    let new_text = pretty(new);
    let diff = TextDiff::from_lines(&old_text, &new_text);
    let lines = diff
        .iter_all_changes()
        .map(|change| DiffLine {
            tag: match change.tag() {
                ChangeTag::Equal => "equal",
                ChangeTag::Delete => "delete",
                ChangeTag::Insert => "insert",
            }
            .to_owned(),
            text: change.value().trim_end_matches('\n').to_owned(),
        })
        .collect();
    DefinitionDiff {
        identical: old_text == new_text,
        unified: diff
            .unified_diff()
            .context_radius(3)
            .header(old_label, new_label)
            .to_string(),
        lines,
        secrets_changed: Vec::new(),
    }
}

#[cfg(feature = "ssr")]
fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_changed_value_shows_as_one_line_out_and_one_in() {
        let diff = definitions(
            &json!({"a": 1, "b": 2}),
            &json!({"a": 1, "b": 3}),
            "v1",
            "v2",
        );
        assert!(!diff.identical);
        assert!(diff.unified.starts_with("--- v1\n+++ v2\n"));
        let changed: Vec<_> = diff
            .lines
            .iter()
            .filter(|l| l.tag != "equal")
            .map(|l| format!("{} {}", l.tag, l.text.trim()))
            .collect();
        assert_eq!(changed, ["delete \"b\": 2", "insert \"b\": 3"]);
    }

    #[test]
    fn a_secret_that_changed_alone_makes_two_definitions_differ_by_its_place() {
        let old = [("steps[0].headers.x-api-key".to_owned(), "one".to_owned())].into();
        let new = [("steps[0].headers.x-api-key".to_owned(), "two".to_owned())].into();

        let diff = definitions(&json!({"a": 1}), &json!({"a": 1}), "v1", "v2")
            .with_secrets_changed(secrets_changed(&old, &new));

        assert!(!diff.identical);
        assert_eq!(diff.secrets_changed, ["steps[0].headers.x-api-key"]);
        assert!(!format!("{diff:?}").contains("one"));
    }

    #[test]
    fn equal_definitions_are_identical() {
        let diff = definitions(&json!({"a": [1]}), &json!({"a": [1]}), "v1", "v2");
        assert!(diff.identical);
        assert!(diff.unified.is_empty());
    }
}
