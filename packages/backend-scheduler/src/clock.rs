//! Time arithmetic the scheduler needs: epoch milliseconds, ISO 8601 text for
//! instants and durations, and the next occurrence of a cron pattern in UTC.
//!
//! The scheduler stores instants as epoch milliseconds (BIGINT) so that one SQL
//! text works on SQLite and PostgreSQL; the calendar conversions here are the
//! only place where those numbers meet a calendar, which keeps the crate free
//! of a date library.

use std::cmp::Ordering;
use std::time::Duration;

use croner::parser::{CronParser, Seconds, Year};
use croner::{CivilDate, CivilDateTime, CivilTime, Cron, CronDateTime, Resolution, Weekday};
use greenroom_backend_plugin_api::time;

const SECONDS_PER_DAY: i64 = 86_400;

/// The current time in epoch milliseconds.
pub(crate) fn now_ms() -> i64 {
    time::now_ms()
}

/// A duration in whole milliseconds, saturating for absurdly long ones.
pub(crate) fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Days since 1970-01-01 to a (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let (year, month, day) = time::civil_from_days(days);
    // Both values are within 1..=12 and 1..=31 by construction.
    (year, month as u32, day as u32)
}

/// The inverse of [`civil_from_days`].
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    time::days_from_civil(year, i64::from(month), i64::from(day))
}

/// An instant in epoch milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub(crate) fn iso_instant(ms: i64) -> String {
    time::format_rfc3339(ms)
}

/// A duration as ISO 8601 text (`PT30M`, `P1DT2H`, `PT0.5S`), the form the
/// settings JSON stores.
pub(crate) fn iso_duration(d: Duration) -> String {
    let total_ms = d.as_millis();
    let days = total_ms / 86_400_000;
    let hours = total_ms / 3_600_000 % 24;
    let minutes = total_ms / 60_000 % 60;
    let seconds = total_ms / 1000 % 60;
    let millis = total_ms % 1000;
    let mut out = String::from("P");
    if days > 0 {
        out.push_str(&format!("{days}D"));
    }
    if hours > 0 || minutes > 0 || seconds > 0 || millis > 0 || days == 0 {
        out.push('T');
        if hours > 0 {
            out.push_str(&format!("{hours}H"));
        }
        if minutes > 0 {
            out.push_str(&format!("{minutes}M"));
        }
        if millis > 0 {
            let fraction = format!("{millis:03}");
            out.push_str(&format!("{seconds}.{}S", fraction.trim_end_matches('0')));
        } else if seconds > 0 || (hours == 0 && minutes == 0) {
            out.push_str(&format!("{seconds}S"));
        }
    }
    out
}

/// A UTC instant with one-second resolution, which is what cron patterns match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct UtcSecond(i64);

impl CronDateTime for UtcSecond {
    fn to_civil(&self) -> CivilDateTime {
        let (year, month, day) = civil_from_days(self.0.div_euclid(SECONDS_PER_DAY));
        let in_day = self.0.rem_euclid(SECONDS_PER_DAY);
        // The parts come from the calendar arithmetic above and are in range;
        // a year beyond i32 cannot come from a wall clock.
        let year = i32::try_from(year).unwrap_or(i32::MAX);
        CivilDateTime::new(
            CivilDate::from_parts_unchecked(year, month, day),
            CivilTime::from_parts_unchecked(
                (in_day / 3600) as u32,
                (in_day / 60 % 60) as u32,
                (in_day % 60) as u32,
            ),
        )
    }

    fn civil_weekday(&self) -> Weekday {
        // 1970-01-01 was a Thursday, four days after a Sunday.
        let days = self.0.div_euclid(SECONDS_PER_DAY);
        Weekday::from_days_from_sunday((days + 4).rem_euclid(7) as u32)
    }

    fn resolve_civil(
        &self,
        civil: CivilDateTime,
    ) -> Result<Resolution<Self>, croner::errors::CronError> {
        let days = days_from_civil(i64::from(civil.year()), civil.month(), civil.day());
        let seconds = i64::from(civil.hour()) * 3600
            + i64::from(civil.minute()) * 60
            + i64::from(civil.second());
        // UTC has no gaps and no repeated hours.
        Ok(Resolution::Single(UtcSecond(
            days * SECONDS_PER_DAY + seconds,
        )))
    }

    fn checked_add_seconds(&self, seconds: i64) -> Option<Self> {
        self.0.checked_add(seconds).map(UtcSecond)
    }

    fn cmp_instant(&self, other: &Self) -> Ordering {
        self.0.cmp(&other.0)
    }
}

/// Parses a five- or six-field cron pattern (the optional first field is seconds).
pub(crate) fn parse_cron(expr: &str) -> Result<Cron, String> {
    let fields = expr.split_whitespace().count();
    if !(5..=6).contains(&fields) {
        return Err(format!(
            "invalid cron expression '{expr}': expected 5 or 6 fields, found {fields}"
        ));
    }
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build()
        .parse(expr)
        .map_err(|e| format!("invalid cron expression '{expr}': {e}"))
}

/// The first occurrence of `cron` strictly after `after_ms`, in UTC, as epoch
/// milliseconds; `None` when the pattern never matches again.
pub(crate) fn next_cron_ms(cron: &Cron, after_ms: i64) -> Option<i64> {
    let start = UtcSecond(after_ms.div_euclid(1000));
    let next = cron.find_next_occurrence(&start, false).ok()?;
    next.0.checked_mul(1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_round_trips() {
        for days in [-800_000, -1, 0, 1, 59, 10_957, 19_782, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{days}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn instants_format_as_iso() {
        assert_eq!(iso_instant(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_instant(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(iso_instant(1_700_000_000_000), "2023-11-14T22:13:20.000Z");
    }

    #[test]
    fn durations_format_as_iso() {
        let cases = [
            (Duration::ZERO, "PT0S"),
            (Duration::from_secs(1), "PT1S"),
            (Duration::from_secs(1800), "PT30M"),
            (Duration::from_secs(5400), "PT1H30M"),
            (Duration::from_secs(93_600), "P1DT2H"),
            (Duration::from_secs(86_400), "P1D"),
            (Duration::from_millis(500), "PT0.5S"),
            (Duration::from_millis(61_250), "PT1M1.25S"),
        ];
        for (d, want) in cases {
            assert_eq!(iso_duration(d), want, "{d:?}");
            let back = greenroom_backend_plugin_api::duration::parse_iso_duration(want);
            assert_eq!(back, Ok(d), "{want}");
        }
    }

    #[test]
    fn cron_next_occurrence_in_utc() {
        // 2023-11-14T22:13:20Z, a Tuesday.
        let now = 1_700_000_000_000;
        let cases = [
            ("*/5 * * * *", "2023-11-14T22:15:00.000Z"),
            ("0 0 * * *", "2023-11-15T00:00:00.000Z"),
            ("*/10 * * * * *", "2023-11-14T22:13:30.000Z"),
            ("0 9 * * MON", "2023-11-20T09:00:00.000Z"),
            ("30 22 14 11 *", "2023-11-14T22:30:00.000Z"),
        ];
        for (expr, want) in cases {
            let cron = parse_cron(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
            let next = next_cron_ms(&cron, now).map(iso_instant);
            assert_eq!(next.as_deref(), Some(want), "{expr}");
        }
        for bad in ["* * * *", "* * * * * * *", "61 * * * *", "x y z a b"] {
            assert!(parse_cron(bad).is_err(), "{bad}");
        }
    }
}
