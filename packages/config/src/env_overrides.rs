//! `APP_CONFIG_*` environment overrides, gathered into one top layer.
//!
//! Each variable `APP_CONFIG_a_b_c=value` sets the path `a.b.c` (case kept).
//! Every `_`-separated segment must pass [`is_valid_key_segment`]. The value
//! is parsed as JSON when it is valid JSON and kept as a string otherwise;
//! empty values are ignored and JSON `null` is refused. Variables are applied
//! in the (sorted) order of the injected environment map, which decides
//! which of two conflicting variables is reported.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::ConfigError;
use crate::key::is_valid_key_segment;
use crate::yaml::normalize_numbers;

/// The prefix that marks an override variable.
const PREFIX: &str = "APP_CONFIG_";

/// Builds the override object, or `None` when no variable applies.
pub(crate) fn read(env: &BTreeMap<String, String>) -> Result<Option<Value>, ConfigError> {
    let mut data: Option<Map<String, Value>> = None;
    for (name, value) in env {
        if value.is_empty() {
            continue;
        }
        let Some(key) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let root = data.get_or_insert_with(Map::new);
        insert(root, key, value)?;
    }
    Ok(data.map(Value::Object))
}

fn insert(root: &mut Map<String, Value>, key: &str, raw: &str) -> Result<(), ConfigError> {
    let parts: Vec<&str> = key.split('_').collect();
    let last = parts.len().saturating_sub(1);
    let mut obj = root;
    for (index, part) in parts.iter().enumerate() {
        if !is_valid_key_segment(part) {
            return Err(ConfigError::InvalidEnvKey {
                key: key.to_owned(),
            });
        }
        if index < last {
            let slot = obj
                .entry((*part).to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            obj = match slot {
                Value::Object(inner) => inner,
                _ => {
                    return Err(ConfigError::EnvNestConflict {
                        key: key.to_owned(),
                        existing: parts[..=index].join("_"),
                    });
                }
            };
        } else {
            if obj.contains_key(*part) {
                return Err(ConfigError::EnvOverrideConflict {
                    key: key.to_owned(),
                });
            }
            let value = match serde_json::from_str::<Value>(raw) {
                Ok(Value::Null) => {
                    return Err(ConfigError::EnvValue {
                        key: key.to_owned(),
                        reason: "value may not be null".to_owned(),
                    });
                }
                Ok(parsed) => normalize_numbers(parsed),
                Err(_) => Value::String(raw.to_owned()),
            };
            obj.insert((*part).to_owned(), value);
        }
    }
    Ok(())
}
