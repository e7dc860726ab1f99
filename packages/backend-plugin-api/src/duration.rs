//! Durations and task frequencies as Backstage configuration writes them.
//!
//! Three forms are accepted wherever a duration is configured: a number of
//! milliseconds, a HumanDuration object (`{ minutes: 30 }`, with `years`,
//! `months`, `weeks`, `days`, `hours`, `minutes`, `seconds`, `milliseconds`), or
//! an ISO 8601 duration string (`PT30M`, `P1DT2H`). A frequency may also be
//! `{ cron: '*/5 * * * *' }` or `{ trigger: 'manual' }`.

use std::time::Duration;

use serde_json::Value;

use crate::services::Frequency;

/// Days in a year and a month, as Luxon (which Backstage uses) counts them when
/// it turns a duration into milliseconds.
const DAYS_PER_YEAR: f64 = 365.0;
const DAYS_PER_MONTH: f64 = 30.0;

/// Why a duration could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DurationError(pub String);

/// Reads a duration in any of the three configured forms.
pub fn parse_duration(value: &Value) -> Result<Duration, DurationError> {
    match value {
        Value::Number(n) => {
            let ms = n
                .as_f64()
                .filter(|ms| ms.is_finite() && *ms >= 0.0)
                .ok_or_else(|| {
                    DurationError(format!(
                        "invalid duration {n}: must be a non-negative number of milliseconds"
                    ))
                })?;
            Ok(Duration::from_secs_f64(ms / 1000.0))
        }
        Value::String(s) => parse_iso_duration(s),
        Value::Object(map) => {
            if map.is_empty() {
                return Err(DurationError(
                    "invalid duration {}: no units given".to_owned(),
                ));
            }
            let mut seconds = 0.0;
            for (unit, amount) in map {
                let per = unit_seconds(unit).ok_or_else(|| {
                    DurationError(format!(
                        "invalid duration unit '{unit}', expected one of years, months, weeks, days, hours, minutes, seconds, milliseconds"
                    ))
                })?;
                let amount = amount
                    .as_f64()
                    .filter(|a| a.is_finite() && *a >= 0.0)
                    .ok_or_else(|| {
                        DurationError(format!(
                            "invalid duration: '{unit}' must be a non-negative number"
                        ))
                    })?;
                seconds += amount * per;
            }
            Duration::try_from_secs_f64(seconds)
                .map_err(|e| DurationError(format!("invalid duration: {e}")))
        }
        other => Err(DurationError(format!(
            "invalid duration {other}: expected milliseconds, an object such as {{ minutes: 30 }}, or an ISO 8601 string such as PT30M"
        ))),
    }
}

fn unit_seconds(unit: &str) -> Option<f64> {
    Some(match unit {
        "years" | "year" => DAYS_PER_YEAR * 86_400.0,
        "months" | "month" => DAYS_PER_MONTH * 86_400.0,
        "weeks" | "week" => 7.0 * 86_400.0,
        "days" | "day" => 86_400.0,
        "hours" | "hour" => 3_600.0,
        "minutes" | "minute" => 60.0,
        "seconds" | "second" => 1.0,
        "milliseconds" | "millisecond" => 0.001,
        _ => return None,
    })
}

/// Reads an ISO 8601 duration such as `P1Y2M3W4DT5H6M7.5S`.
pub fn parse_iso_duration(text: &str) -> Result<Duration, DurationError> {
    let bad = || {
        DurationError(format!(
            "invalid ISO 8601 duration '{text}', expected a form such as PT30M or P1D"
        ))
    };
    let rest = text.strip_prefix('P').ok_or_else(bad)?;
    if rest.is_empty() {
        return Err(bad());
    }
    let mut seconds = 0.0;
    let mut in_time = false;
    let mut number = String::new();
    let mut any = false;
    for c in rest.chars() {
        match c {
            'T' if !in_time && number.is_empty() => in_time = true,
            '0'..='9' | '.' | ',' => number.push(if c == ',' { '.' } else { c }),
            unit => {
                let amount: f64 = number.parse().map_err(|_| bad())?;
                number.clear();
                let per = match (in_time, unit) {
                    (false, 'Y') => DAYS_PER_YEAR * 86_400.0,
                    (false, 'M') => DAYS_PER_MONTH * 86_400.0,
                    (false, 'W') => 7.0 * 86_400.0,
                    (false, 'D') => 86_400.0,
                    (true, 'H') => 3_600.0,
                    (true, 'M') => 60.0,
                    (true, 'S') => 1.0,
                    _ => return Err(bad()),
                };
                seconds += amount * per;
                any = true;
            }
        }
    }
    if !number.is_empty() || !any {
        return Err(bad());
    }
    Duration::try_from_secs_f64(seconds).map_err(|_| bad())
}

/// Reads a task frequency: a duration, `{ cron: '...' }` or `{ trigger: 'manual' }`.
pub fn parse_frequency(value: &Value) -> Result<Frequency, DurationError> {
    if let Some(map) = value.as_object() {
        if let Some(cron) = map.get("cron") {
            let expr = cron
                .as_str()
                .filter(|s| !s.trim().is_empty())
                .ok_or_else(|| {
                    DurationError("invalid frequency: 'cron' must be a non-empty string".to_owned())
                })?;
            let fields = expr.split_whitespace().count();
            if !(5..=6).contains(&fields) {
                return Err(DurationError(format!(
                    "invalid cron expression '{expr}': expected 5 or 6 fields, found {fields}"
                )));
            }
            return Ok(Frequency::Cron(expr.to_owned()));
        }
        if map.get("trigger").and_then(Value::as_str) == Some("manual") {
            return Ok(Frequency::Manual);
        }
    }
    parse_duration(value).map(Frequency::Every)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_three_forms_agree() {
        let cases = [
            (json!(1500), Duration::from_millis(1500)),
            (json!({"minutes": 30}), Duration::from_secs(1800)),
            (json!({"hours": 1, "seconds": 5}), Duration::from_secs(3605)),
            (json!("PT30M"), Duration::from_secs(1800)),
            (json!("P1DT2H"), Duration::from_secs(93_600)),
            (json!("PT0.5S"), Duration::from_millis(500)),
            (json!("P2W"), Duration::from_secs(14 * 86_400)),
            (json!({"milliseconds": 250}), Duration::from_millis(250)),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_duration(&input), Ok(expected), "{input}");
        }
    }

    #[test]
    fn bad_durations_say_why() {
        for input in [
            json!("30 minutes"),
            json!("P"),
            json!("PT"),
            json!("PT5"),
            json!("P5H"),
            json!({"fortnights": 1}),
            json!({}),
            json!(-1),
            json!(true),
            json!({"minutes": "ten"}),
        ] {
            assert!(parse_duration(&input).is_err(), "{input}");
        }
        let err = parse_duration(&json!({"fortnights": 1})).expect_err("unknown unit");
        assert!(err.0.contains("fortnights"), "{err}");
    }

    #[test]
    fn frequencies() {
        assert_eq!(
            parse_frequency(&json!({"cron": "*/5 * * * *"})),
            Ok(Frequency::Cron("*/5 * * * *".to_owned()))
        );
        assert_eq!(
            parse_frequency(&json!({"minutes": 1})),
            Ok(Frequency::Every(Duration::from_secs(60)))
        );
        assert_eq!(
            parse_frequency(&json!({"trigger": "manual"})),
            Ok(Frequency::Manual)
        );
        assert!(parse_frequency(&json!({"cron": "* *"})).is_err());
    }
}
