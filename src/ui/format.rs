//! How times and hashes are written on pages. Deterministic (UTC), so the server's
//! HTML and the browser's agree.

use chrono::{DateTime, Datelike, Timelike, Utc};

/// For people: `2026-01-02 03:04:05 UTC`.
pub fn time(at: &DateTime<Utc>) -> String {
    to_the_second(at, ' ', " UTC")
}

/// For `<time datetime>`: RFC 3339 to the second, as shown.
pub fn machine_time(at: &DateTime<Utc>) -> String {
    to_the_second(at, 'T', "Z")
}

/// Written out field by field: chrono's strftime parser and formatter would be
/// shipped to every browser for these two formats.
fn to_the_second(at: &DateTime<Utc>, between: char, zone: &str) -> String {
    format!(
        "{:04}-{:02}-{:02}{between}{:02}:{:02}:{:02}{zone}",
        at.year(),
        at.month(),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

pub fn short_hash(hash: &str) -> String {
    hash.chars().take(12).collect()
}

pub fn duration_us(micros: i64) -> String {
    if micros < 1_000 {
        format!("{micros} µs")
    } else if micros < 1_000_000 {
        format!("{} ms", decimal(micros, 1_000, 1))
    } else {
        format!("{} s", decimal(micros, 1_000_000, 2))
    }
}

/// `value / unit` rounded half up to `places` decimals, in integers: formatting an
/// f64 would ship core's float printing (~20 KB) to every browser for this one use.
fn decimal(value: i64, unit: i64, places: u32) -> String {
    let scale = 10_i64.pow(places);
    let scaled = (value * scale + unit / 2) / unit;
    format!(
        "{}.{:0width$}",
        scaled / scale,
        scaled % scale,
        width = places as usize
    )
}

/// A name as a file name: lower case letters and digits, words joined by `-`.
pub fn slug(name: &str) -> String {
    let words: Vec<String> = name
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect();
    match words.is_empty() {
        true => "integration".to_owned(),
        false => words.join("-"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_in_utc_to_the_second_with_leading_zeros() {
        let at = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.678+01:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(time(&at), "2026-01-02 02:04:05 UTC");
        assert_eq!(machine_time(&at), "2026-01-02T02:04:05Z");
    }

    #[test]
    fn durations_are_written_in_the_largest_unit_below_them_rounded_half_up() {
        assert_eq!(duration_us(0), "0 µs");
        assert_eq!(duration_us(999), "999 µs");
        assert_eq!(duration_us(1_000), "1.0 ms");
        assert_eq!(duration_us(1_049), "1.0 ms");
        assert_eq!(duration_us(1_050), "1.1 ms");
        assert_eq!(duration_us(12_345), "12.3 ms");
        assert_eq!(duration_us(999_999), "1000.0 ms");
        assert_eq!(duration_us(1_000_000), "1.00 s");
        assert_eq!(duration_us(1_005_000), "1.01 s");
        assert_eq!(duration_us(61_234_567), "61.23 s");
    }

    #[test]
    fn a_name_becomes_a_file_name() {
        assert_eq!(slug("Orders from v3 (2)"), "orders-from-v3-2");
        assert_eq!(slug("  ** "), "integration");
    }
}
