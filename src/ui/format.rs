//! How times and hashes are written on pages. Deterministic (UTC), so the server's
//! HTML and the browser's agree.

use chrono::{DateTime, Utc};

pub fn time(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
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
