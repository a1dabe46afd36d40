//! JSON as the browser reads it: always from bytes.
//!
//! serde_json's readers are generic, so every type read both from a `&str` and from a
//! `&[u8]` has its whole deserializer compiled into the bundle twice. Server
//! functions read their responses as bytes; resources (the data the server renders
//! into the page) and the editor read text. Reading that text as bytes too leaves
//! one copy of each deserializer.

use leptos::prelude::Resource;
use leptos::server::codee::{Decoder, Encoder};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Parses JSON text (through the byte reader: see the module's comment).
pub fn parse<T: DeserializeOwned>(text: &str) -> serde_json::Result<T> {
    serde_json::from_slice(text.as_bytes())
}

/// The codec of every resource: JSON, written as text and read as bytes.
pub struct Json;

impl<T: Serialize> Encoder<T> for Json {
    type Error = serde_json::Error;
    type Encoded = String;

    fn encode(value: &T) -> Result<String, serde_json::Error> {
        serde_json::to_string(value)
    }
}

impl<T: DeserializeOwned> Decoder<T> for Json {
    type Error = serde_json::Error;
    type Encoded = str;

    fn decode(text: &str) -> Result<T, serde_json::Error> {
        parse(text)
    }
}

/// A resource: loaded on the server, its value carried in the page, read back here
/// with [`Json`]. As `Resource::new`, with the codec.
pub fn resource<T, S, Fut>(
    source: impl Fn() -> S + Send + Sync + 'static,
    fetcher: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> Resource<T, Json>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
    S: Send + Sync + Clone + PartialEq + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    Resource::new_with_options(source, fetcher, false)
}

/// Timestamps, written as chrono writes them (RFC 3339) and read by the small parser
/// below: chrono's own reader goes through its general-purpose `Parsed` machinery,
/// about 20 KB of every browser's bundle for the one format the server writes. For
/// `#[serde(with = "crate::json::utc")]`.
pub mod utc {
    use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, Utc};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
        at.serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<DateTime<Utc>, D::Error> {
        read(&String::deserialize(deserializer)?)
    }

    /// [`parse`], with an error naming the text for serde.
    fn read<E: serde::de::Error>(text: &str) -> Result<DateTime<Utc>, E> {
        parse(text).ok_or_else(|| E::custom(format!("{text:?} is not an RFC 3339 timestamp")))
    }

    /// For `Option<DateTime<Utc>>` fields (with `#[serde(default)]`).
    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(
            at: &Option<DateTime<Utc>>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            at.serialize(serializer)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            Option::<String>::deserialize(deserializer)?
                .map(|text| read(&text))
                .transpose()
        }
    }

    /// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, as an instant in UTC.
    pub fn parse(text: &str) -> Option<DateTime<Utc>> {
        let bytes = text.as_bytes();
        let number = |from: usize, to: usize| -> Option<u32> {
            bytes.get(from..to)?.iter().try_fold(0, |n, &digit| {
                digit
                    .is_ascii_digit()
                    .then(|| n * 10 + u32::from(digit - b'0'))
            })
        };
        let separators = [(4, b"-"), (7, b"-"), (10, b"T"), (13, b":"), (16, b":")];
        if separators
            .iter()
            .any(|&(at, expected)| bytes.get(at).map(u8::to_ascii_uppercase) != Some(expected[0]))
        {
            return None;
        }
        let date = NaiveDate::from_ymd_opt(
            i32::try_from(number(0, 4)?).ok()?,
            number(5, 7)?,
            number(8, 10)?,
        )?;
        let (hour, minute, mut second) = (number(11, 13)?, number(14, 16)?, number(17, 19)?);
        let mut rest = bytes.get(19..)?;
        let mut nanos = 0;
        if let Some(fraction) = rest.strip_prefix(b".") {
            let digits = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
            if digits == 0 {
                return None;
            }
            // Digits past the ninth (below a nanosecond) are read and dropped.
            for (place, digit) in fraction[..digits.min(9)].iter().enumerate() {
                nanos += u32::from(digit - b'0') * 10_u32.pow(8 - place as u32);
            }
            rest = &fraction[digits..];
        }
        if second == 60 {
            // A leap second, which chrono keeps as the 59th second's overflow.
            second = 59;
            nanos += 1_000_000_000;
        }
        let offset = match rest {
            [b'Z' | b'z'] => 0,
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                let two = |a: u8, b: u8| -> Option<i64> {
                    (a.is_ascii_digit() && b.is_ascii_digit())
                        .then(|| i64::from(a - b'0') * 10 + i64::from(b - b'0'))
                };
                let (hours, minutes) = (two(*h1, *h2)?, two(*m1, *m2)?);
                if hours > 23 || minutes > 59 {
                    return None;
                }
                let seconds = hours * 3_600 + minutes * 60;
                if *sign == b'-' { -seconds } else { seconds }
            }
            _ => return None,
        };
        let local = date.and_time(NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?);
        Some(
            local
                .checked_sub_signed(TimeDelta::seconds(offset))?
                .and_utc(),
        )
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use chrono::{SecondsFormat, TimeZone};

        fn chrono_reads(text: &str) -> DateTime<Utc> {
            text.parse().expect("chrono reads it")
        }

        #[test]
        fn what_chrono_writes_is_read_back_to_the_nanosecond() {
            let at = Utc.with_ymd_and_hms(2026, 11, 26, 8, 5, 9).unwrap()
                + TimeDelta::nanoseconds(123_456_789);
            for format in [
                SecondsFormat::Secs,
                SecondsFormat::Millis,
                SecondsFormat::Micros,
                SecondsFormat::Nanos,
                SecondsFormat::AutoSi,
            ] {
                for z in [true, false] {
                    let text = at.to_rfc3339_opts(format, z);
                    assert_eq!(parse(&text), Some(chrono_reads(&text)), "{text}");
                }
            }
            let json = serde_json::to_string(&at).unwrap();
            assert_eq!(parse(json.trim_matches('"')), Some(at));
        }

        #[test]
        fn an_offset_is_turned_into_utc_as_chrono_does() {
            for text in [
                "2026-01-02T03:04:05+01:00",
                "2026-01-02T03:04:05.5-09:30",
                "2026-01-01T00:30:00+02:00",
                "2024-02-29t23:59:59.999999999z",
                "2016-12-31T23:59:60Z",
            ] {
                assert_eq!(parse(text), Some(chrono_reads(text)), "{text}");
            }
        }

        #[test]
        fn anything_else_is_refused() {
            for text in [
                "",
                "2026-01-02",
                "2026-01-02T03:04:05",
                "2026-01-02T03:04:05+0100",
                "2026-13-02T03:04:05Z",
                "2026-02-30T03:04:05Z",
                "2026-01-02T24:00:00Z",
                "2026-01-02T03:04:05.Z",
                "2026-01-02T03:04:05Z ",
                "2026-01-02T03:04:05+24:00",
                "2026/01/02T03:04:05Z",
                "20é6-01-02T03:04:05Z",
                "+2026-01-02T03:04:05Z",
            ] {
                assert_eq!(parse(text), None, "{text:?}");
            }
        }

        #[test]
        fn a_field_that_is_not_a_timestamp_is_named_in_the_error() {
            #[derive(Debug, serde::Deserialize)]
            struct Stamped {
                #[serde(with = "super")]
                #[allow(dead_code)]
                at: DateTime<Utc>,
            }
            let err = serde_json::from_str::<Stamped>(r#"{"at":"yesterday"}"#).unwrap_err();
            assert!(
                err.to_string()
                    .contains(r#""yesterday" is not an RFC 3339 timestamp"#),
                "{err}"
            );
        }
    }
}
