//! Task settings as stored in the lease row (Backstage's settings v2 JSON) and
//! the rule that picks a task's next start.

use std::time::Duration;

use croner::Cron;
use greenroom_backend_plugin_api::duration::parse_iso_duration;
use greenroom_backend_plugin_api::services::{Frequency, TaskDefinition};
use serde::{Deserialize, Serialize};

use crate::clock::{duration_ms, iso_duration, next_cron_ms, parse_cron};

/// The cadence value that marks a manually triggered task.
const MANUAL: &str = "manual";

/// Settings v2: `{ "version": 2, "cadence", "timeoutAfterDuration", "initialDelayDuration"? }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SettingsV2 {
    pub(crate) version: u32,
    pub(crate) cadence: String,
    pub(crate) timeout_after_duration: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) initial_delay_duration: Option<String>,
}

impl SettingsV2 {
    pub(crate) fn from_definition(task: &TaskDefinition) -> Self {
        let cadence = match &task.frequency {
            Frequency::Every(d) => iso_duration(*d),
            Frequency::Cron(expr) => expr.clone(),
            Frequency::Manual => MANUAL.to_owned(),
        };
        Self {
            version: 2,
            cadence,
            timeout_after_duration: iso_duration(task.timeout),
            initial_delay_duration: task.initial_delay.map(iso_duration),
        }
    }

    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub(crate) fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// A cadence ready for arithmetic.
#[derive(Debug, Clone)]
pub(crate) enum Cadence {
    Every(i64),
    Cron(Box<Cron>),
    Manual,
}

/// Settings read back for scheduling: what a worker needs to run and reschedule.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) cadence: Cadence,
    pub(crate) timeout: Duration,
}

impl Plan {
    /// Interprets a frequency given in code; a bad cron pattern is an input error.
    pub(crate) fn from_frequency(frequency: &Frequency, timeout: Duration) -> Result<Self, String> {
        let cadence = match frequency {
            Frequency::Every(d) if d.is_zero() => {
                return Err("frequency must be longer than zero".to_owned());
            }
            Frequency::Every(d) => Cadence::Every(duration_ms(*d)),
            Frequency::Cron(expr) => Cadence::Cron(Box::new(parse_cron(expr)?)),
            Frequency::Manual => Cadence::Manual,
        };
        Ok(Self { cadence, timeout })
    }

    /// Interprets the settings JSON of a lease row, which another instance
    /// (possibly a newer version) may have written; `None` when it is not a
    /// form this version understands.
    pub(crate) fn from_settings_json(json: &str) -> Option<Self> {
        let settings: SettingsV2 = serde_json::from_str(json).ok()?;
        if settings.version != 2 {
            return None;
        }
        let timeout = parse_iso_duration(&settings.timeout_after_duration).ok()?;
        let cadence = if settings.cadence == MANUAL {
            Cadence::Manual
        } else if settings.cadence.starts_with('P') {
            let every = parse_iso_duration(&settings.cadence).ok()?;
            if every.is_zero() {
                return None;
            }
            Cadence::Every(duration_ms(every))
        } else {
            Cadence::Cron(Box::new(parse_cron(&settings.cadence).ok()?))
        };
        Some(Self { cadence, timeout })
    }

    /// When a freshly registered task may first run.
    pub(crate) fn first_start(&self, now: i64, initial_delay: Option<Duration>) -> Option<i64> {
        let delayed = now.saturating_add(initial_delay.map_or(0, duration_ms));
        match &self.cadence {
            Cadence::Every(_) => Some(delayed),
            Cadence::Cron(cron) => next_cron_ms(cron, delayed),
            Cadence::Manual => None,
        }
    }

    /// When the task may run again after a run that was due at `scheduled`
    /// ended at `now`.
    ///
    /// Interval tasks keep their rhythm (`scheduled + every`), but never look
    /// into the past: after an outage the task runs once, not once per missed
    /// period.
    pub(crate) fn next_start(&self, scheduled: Option<i64>, now: i64) -> Option<i64> {
        match &self.cadence {
            Cadence::Every(every) => {
                let base = scheduled.unwrap_or(now);
                Some(base.saturating_add(*every).max(now))
            }
            Cadence::Cron(cron) => next_cron_ms(cron, now),
            Cadence::Manual => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_json_round_trips() {
        let cases = [
            (
                r#"{"version":2,"cadence":"PT1S","timeoutAfterDuration":"PT5S"}"#,
                true,
            ),
            (
                r#"{"version":2,"cadence":"*/5 * * * *","timeoutAfterDuration":"PT1M","initialDelayDuration":"PT2S"}"#,
                true,
            ),
            (
                r#"{"version":2,"cadence":"manual","timeoutAfterDuration":"PT1M"}"#,
                true,
            ),
            (
                r#"{"version":3,"cadence":"PT1S","timeoutAfterDuration":"PT5S"}"#,
                false,
            ),
            (
                r#"{"version":2,"cadence":"PT0S","timeoutAfterDuration":"PT5S"}"#,
                false,
            ),
            (
                r#"{"version":2,"cadence":"bogus","timeoutAfterDuration":"PT5S"}"#,
                false,
            ),
            ("not json", false),
        ];
        for (json, ok) in cases {
            assert_eq!(Plan::from_settings_json(json).is_some(), ok, "{json}");
        }
    }

    #[test]
    fn interval_next_start_keeps_rhythm_without_bursts() {
        let plan = Plan::from_frequency(&Frequency::Every(Duration::from_secs(1)), Duration::ZERO)
            .unwrap_or_else(|e| panic!("{e}"));
        // On time: one period after the scheduled start.
        assert_eq!(plan.next_start(Some(10_000), 10_300), Some(11_000));
        // Late by several periods: now, not a backlog of missed runs.
        assert_eq!(plan.next_start(Some(10_000), 14_500), Some(14_500));
        assert_eq!(plan.next_start(None, 7), Some(1007));
    }
}
