//! `read_schedule`: schedules from configuration, and errors that name the key.

use std::time::Duration;

use greenroom_backend_plugin_api::services::{Frequency, TaskScope};
use greenroom_backend_scheduler::{ConfiguredSchedule, read_schedule};
use greenroom_config::Config;
use serde_json::{Value, json};

/// Reads `schedule` from `{ schedule: <value> }` and compares with `want`:
/// `Ok(schedule)`, or `Err(fragments)` that must all appear in the message.
fn check(case: &str, value: Value, want: Expected) {
    let config = Config::from_value(json!({ "provider": { "schedule": value } })).expect("config");
    let got = read_schedule(&config, "provider.schedule");
    match (got, want) {
        (Ok(got), Ok(want)) => assert_eq!(got, want, "{case}"),
        (Err(err), Err(fragments)) => {
            for fragment in fragments {
                assert!(
                    err.message.contains(fragment),
                    "{case}: '{}' lacks '{fragment}'",
                    err.message
                );
            }
        }
        (got, want) => panic!("{case}: got {got:?}, want {want:?}"),
    }
}

/// What a row expects: a schedule, or fragments of the error message.
type Expected = Result<Option<ConfiguredSchedule>, &'static [&'static str]>;

const MIN: Duration = Duration::from_secs(60);

#[test]
fn schedules_from_config() {
    let rows: Vec<(&str, Value, Expected)> = vec![
        (
            "object durations, default scope",
            json!({ "frequency": { "minutes": 30 }, "timeout": { "minutes": 3 } }),
            Ok(Some((
                Frequency::Every(30 * MIN),
                3 * MIN,
                None,
                TaskScope::Global,
            ))),
        ),
        (
            "ISO strings, initial delay, local",
            json!({ "frequency": "PT1H", "timeout": "PT50M", "initialDelay": "PT15S", "scope": "local" }),
            Ok(Some((
                Frequency::Every(60 * MIN),
                50 * MIN,
                Some(Duration::from_secs(15)),
                TaskScope::Local,
            ))),
        ),
        (
            "cron",
            json!({ "frequency": { "cron": "*/5 * * * *" }, "timeout": { "seconds": 30 }, "scope": "global" }),
            Ok(Some((
                Frequency::Cron("*/5 * * * *".to_owned()),
                Duration::from_secs(30),
                None,
                TaskScope::Global,
            ))),
        ),
        (
            "manual trigger",
            json!({ "frequency": { "trigger": "manual" }, "timeout": 1000 }),
            Ok(Some((
                Frequency::Manual,
                Duration::from_secs(1),
                None,
                TaskScope::Global,
            ))),
        ),
        (
            "41 PT10M",
            json!({ "frequency": "PT10M", "timeout": "PT1M" }),
            Ok(Some((
                Frequency::Every(10 * MIN),
                MIN,
                None,
                TaskScope::Global,
            ))),
        ),
        (
            "41 10 minutes",
            json!({ "frequency": "10 minutes", "timeout": "PT1M" }),
            Err(&[
                "Invalid duration: 10 minutes",
                "provider.schedule.frequency",
            ]),
        ),
        (
            "bad ISO frequency",
            json!({ "frequency": "30 minutes", "timeout": "PT1M" }),
            Err(&[
                "Invalid duration: 30 minutes",
                "provider.schedule.frequency",
            ]),
        ),
        (
            "cron as a plain string",
            json!({ "frequency": "*/5 * * * *", "timeout": "PT1M" }),
            Err(&["Invalid duration", "provider.schedule.frequency"]),
        ),
        (
            "cron with too few fields",
            json!({ "frequency": { "cron": "* * *" }, "timeout": "PT1M" }),
            Err(&["provider.schedule.frequency", "5 or 6 fields"]),
        ),
        (
            "bad timeout unit",
            json!({ "frequency": "PT1M", "timeout": { "fortnights": 1 } }),
            Err(&["provider.schedule.timeout", "fortnights"]),
        ),
        (
            "bad initial delay",
            json!({ "frequency": "PT1M", "timeout": "PT1M", "initialDelay": "soon" }),
            Err(&["Invalid duration: soon", "provider.schedule.initialDelay"]),
        ),
        (
            "missing frequency",
            json!({ "timeout": "PT1M" }),
            Err(&[
                "Missing required config value",
                "provider.schedule.frequency",
            ]),
        ),
        (
            "missing timeout",
            json!({ "frequency": "PT1M" }),
            Err(&["Missing required config value", "provider.schedule.timeout"]),
        ),
        (
            "bad scope",
            json!({ "frequency": "PT1M", "timeout": "PT1M", "scope": "everywhere" }),
            Err(&["provider.schedule.scope", "everywhere"]),
        ),
        (
            "schedule not an object",
            json!("PT1M"),
            Err(&["provider.schedule"]),
        ),
    ];
    for (case, value, want) in rows {
        check(case, value, want);
    }
}

#[test]
fn an_absent_schedule_is_none() {
    let config = Config::from_value(json!({ "provider": {} })).expect("config");
    assert_eq!(read_schedule(&config, "provider.schedule"), Ok(None));
    assert_eq!(read_schedule(&config, "other.schedule"), Ok(None));
}
