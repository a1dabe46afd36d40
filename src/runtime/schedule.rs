//! Cron schedules: parsed by croner (five fields, or six with seconds; the usual
//! aliases such as `@hourly`), evaluated in an IANA time zone from chrono-tz, so that
//! "9:00 on weekdays in Berlin" stays 9:00 there across daylight saving changes.

use chrono::{DateTime, Utc};
use croner::Cron;

use crate::error::FieldError;

/// A schedule ready to say when it runs next.
#[derive(Clone, Debug)]
pub struct Schedule {
    cron: Cron,
    zone: chrono_tz::Tz,
}

impl Schedule {
    /// Reads a schedule and its time zone; each problem at its field of the trigger.
    pub fn parse(schedule: &str, time_zone: &str) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        // Five fields, or six with seconds first (croner's default).
        let cron = schedule
            .parse::<Cron>()
            .map_err(|err| {
                errors.push(FieldError::new(
                    "trigger.schedule",
                    format!("not a cron expression: {err}"),
                ))
            })
            .ok();
        let zone = time_zone
            .parse::<chrono_tz::Tz>()
            .map_err(|_| {
                errors.push(FieldError::new(
                    "trigger.time_zone",
                    format!("{time_zone:?} is not a time zone (e.g. Europe/Berlin, America/New_York or UTC)"),
                ))
            })
            .ok();
        match (cron, zone) {
            (Some(cron), Some(zone)) if errors.is_empty() => Ok(Self { cron, zone }),
            _ => Err(errors),
        }
    }

    /// The first time after `after` that the schedule names, if any ever comes.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&after.with_timezone(&self.zone), false)
            .ok()
            .map(|at| at.with_timezone(&Utc))
    }

    /// The next `count` times after `after`.
    pub fn upcoming(&self, after: DateTime<Utc>, count: usize) -> Vec<DateTime<Utc>> {
        let mut times = Vec::with_capacity(count);
        let mut at = after;
        while times.len() < count {
            match self.next_after(at) {
                Some(next) => {
                    times.push(next);
                    at = next;
                }
                None => break,
            }
        }
        times
    }

    /// The time zone, as schedules name it.
    pub fn zone(&self) -> chrono_tz::Tz {
        self.zone
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn nine_on_weekdays_in_berlin_stays_nine_there_across_the_clock_change() {
        let schedule = Schedule::parse("0 9 * * 1-5", "Europe/Berlin").unwrap();
        // Friday 27 March 2026; summer time begins on Sunday 29 March.
        let times = schedule.upcoming(utc("2026-03-27T12:00:00Z"), 3);
        assert_eq!(
            times,
            [
                utc("2026-03-30T07:00:00Z"),
                utc("2026-03-31T07:00:00Z"),
                utc("2026-04-01T07:00:00Z"),
            ]
        );
        let before = schedule.next_after(utc("2026-03-26T12:00:00Z")).unwrap();
        assert_eq!(before, utc("2026-03-27T08:00:00Z"), "winter time: UTC+1");
    }

    #[test]
    fn seconds_are_optional_and_aliases_read() {
        let every_second = Schedule::parse("* * * * * *", "UTC").unwrap();
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(
            every_second.upcoming(start, 2)[1],
            start + chrono::Duration::seconds(2)
        );
        let hourly = Schedule::parse("@hourly", "UTC").unwrap();
        assert_eq!(
            hourly.next_after(start).unwrap(),
            start + chrono::Duration::hours(1)
        );
    }

    #[test]
    fn a_wrong_expression_and_an_unknown_zone_are_named_at_their_fields() {
        let errors = Schedule::parse("61 * * * *", "Mars/Olympus").unwrap_err();
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["trigger.schedule", "trigger.time_zone"]);
    }
}
