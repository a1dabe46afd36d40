//! Versions: their numbers and the note a publisher may leave.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A version's number: 1, 2, 3, ... in the order versions were created, never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct VersionNumber(u32);

impl VersionNumber {
    pub const FIRST: VersionNumber = VersionNumber(1);

    pub fn new(number: i64) -> Result<Self, VersionNumberError> {
        u32::try_from(number)
            .ok()
            .filter(|number| *number >= 1)
            .map(Self)
            .ok_or(VersionNumberError(number))
    }

    /// Reads "3" or "v3".
    pub fn parse(text: &str) -> Result<Self, VersionNumberError> {
        let digits = text.trim().trim_start_matches(['v', 'V']);
        let number = digits.parse::<i64>().map_err(|_| VersionNumberError(-1))?;
        Self::new(number)
    }

    /// For constants: `None` below 1.
    pub const fn new_const(number: u32) -> Option<Self> {
        if number >= 1 {
            Some(Self(number))
        } else {
            None
        }
    }

    pub fn get(self) -> i64 {
        i64::from(self.0)
    }

    pub fn next(self) -> Self {
        Self(self.0.saturating_add(1))
    }
}

/// A number that no version can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a version number is a whole number from 1 up")]
pub struct VersionNumberError(i64);

impl TryFrom<i64> for VersionNumber {
    type Error = VersionNumberError;
    fn try_from(value: i64) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<VersionNumber> for i64 {
    fn from(value: VersionNumber) -> Self {
        value.get()
    }
}

impl fmt::Display for VersionNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

/// Longest publish note, in characters.
pub const MAX_NOTE_CHARS: usize = 500;

/// What the publisher says about a version ("fixes the currency rounding").
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct PublishNote(String);

/// Why a text is not a valid publish note.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("a publish note is at most {MAX_NOTE_CHARS} characters (this one has {0})")]
    TooLong(usize),
}

impl PublishNote {
    pub fn parse(input: &str) -> Result<Self, NoteError> {
        let trimmed = input.trim();
        let chars = trimmed.chars().count();
        if chars > MAX_NOTE_CHARS {
            return Err(NoteError::TooLong(chars));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `None` for an empty note, which is stored as no note.
    pub fn non_empty(&self) -> Option<&str> {
        (!self.0.is_empty()).then_some(self.0.as_str())
    }
}

impl<'de> Deserialize<'de> for PublishNote {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_numbers_start_at_one() {
        assert!(VersionNumber::new(0).is_err());
        assert!(VersionNumber::new(-3).is_err());
        assert_eq!(VersionNumber::new(1).unwrap(), VersionNumber::FIRST);
    }

    #[test]
    fn a_version_number_reads_with_or_without_its_v() {
        assert_eq!(VersionNumber::parse("v12").unwrap().get(), 12);
        assert_eq!(VersionNumber::parse("12").unwrap().to_string(), "v12");
        assert!(VersionNumber::parse("twelve").is_err());
    }

    #[test]
    fn a_version_number_from_json_follows_the_same_rule() {
        assert!(serde_json::from_str::<VersionNumber>("0").is_err());
        assert_eq!(serde_json::from_str::<VersionNumber>("4").unwrap().get(), 4);
    }

    #[test]
    fn a_publish_note_over_the_limit_is_refused() {
        let long = "n".repeat(MAX_NOTE_CHARS + 1);
        assert_eq!(PublishNote::parse(&long), Err(NoteError::TooLong(501)));
    }

    #[test]
    fn an_empty_publish_note_is_no_note() {
        assert_eq!(PublishNote::parse("  ").unwrap().non_empty(), None);
    }
}
