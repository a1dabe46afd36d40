//! How times and hashes are written on pages. Deterministic (UTC), so the server's
//! HTML and the browser's agree.

use chrono::{DateTime, Datelike, Timelike, Utc};

/// Written out field by field: chrono's strftime parser and formatter would be
/// shipped to every browser for this one format.
pub fn time(at: &DateTime<Utc>) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
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
        format!("{:.1} ms", micros as f64 / 1_000.0)
    } else {
        format!("{:.2} s", micros as f64 / 1_000_000.0)
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
    }
}
