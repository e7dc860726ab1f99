//! Reading a task schedule from configuration
//! (`{ frequency, timeout, initialDelay?, scope? }`).

use std::time::Duration;

use greenroom_backend_plugin_api::BackendError;
use greenroom_backend_plugin_api::duration::{parse_duration, parse_frequency};
use greenroom_backend_plugin_api::services::{Frequency, TaskScope};
use greenroom_config::Config;
use serde_json::Value;

/// A schedule read from configuration: frequency, timeout, initial delay and scope.
pub type ConfiguredSchedule = (Frequency, Duration, Option<Duration>, TaskScope);

/// Reads the schedule at `key`; `None` when the key is absent.
///
/// `frequency` and `timeout` are required; each duration may be a
/// HumanDuration object, an ISO 8601 string or a number of milliseconds, and
/// `frequency` may also be `{ cron: '…' }` or `{ trigger: 'manual' }`. `scope` is
/// `global` (the default) or `local`. Every error names the offending key.
pub fn read_schedule(
    config: &Config,
    key: &str,
) -> Result<Option<ConfiguredSchedule>, BackendError> {
    let Some(schedule) = config.get_optional_config(key)? else {
        return Ok(None);
    };
    let frequency_value = schedule.get_value("frequency")?;
    let frequency = parse_frequency(frequency_value)
        .map_err(|e| invalid(key, "frequency", frequency_value, &e.0))?;
    let timeout =
        read_duration(&schedule, key, "timeout")?.ok_or_else(|| missing(&schedule, "timeout"))?;
    let initial_delay = read_duration(&schedule, key, "initialDelay")?;
    let scope = match schedule.get_optional_string("scope")?.as_deref() {
        None | Some("global") => TaskScope::Global,
        Some("local") => TaskScope::Local,
        Some(other) => {
            return Err(BackendError::config(format!(
                "Invalid config value at '{key}.scope': expected 'global' or 'local', got '{other}'"
            )));
        }
    };
    Ok(Some((frequency, timeout, initial_delay, scope)))
}

fn read_duration(
    schedule: &Config,
    key: &str,
    field: &str,
) -> Result<Option<Duration>, BackendError> {
    match schedule.get_optional_value(field)? {
        None => Ok(None),
        Some(value) => parse_duration(value)
            .map(Some)
            .map_err(|e| invalid(key, field, value, &e.0)),
    }
}

fn missing(schedule: &Config, field: &str) -> BackendError {
    // Let the config reader word it, so the message matches every other
    // missing-key error.
    match schedule.get_value(field) {
        Err(e) => e.into(),
        Ok(_) => BackendError::config(format!("Missing required config value at '{field}'")),
    }
}

fn invalid(key: &str, field: &str, value: &Value, detail: &str) -> BackendError {
    let shown = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    BackendError::config(format!(
        "Invalid duration: {shown} at config key '{key}.{field}' ({detail})"
    ))
}
