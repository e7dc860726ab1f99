//! The layered [`Config`] view and its typed getters.
//!
//! Reads follow `@backstage/config`'s `ConfigReader`: a dotted key walks the
//! merged tree, each segment must be a valid key segment, a non-object met
//! on the way is a type error, and error messages name the full key path and
//! the context (file name or `env`) of the layer the value came from. For a
//! missing key the context is that of the view's own highest layer.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::ConfigError;
use crate::key::is_valid_key_segment;
use crate::layers::{Kids, Layer, Origin, merge_layers};
use crate::schema::ConfigSchema;
use crate::secrets;

/// Secret values shorter than this are not redacted from logs.
pub const MIN_REDACTED_CHARS: usize = 4;

/// The context reported when there are no layers at all.
const EMPTY_CONTEXT: &str = "mock-config";

/// A layered configuration, or a view of one rooted at some key.
///
/// Cloning is cheap for the shared parts; a sub-view owns a copy of its
/// subtree.
#[derive(Debug, Clone)]
pub struct Config {
    /// Layer contexts, lowest priority first.
    contexts: Arc<[String]>,
    /// The merged object at this view's root, with `null`s removed.
    value: Value,
    origin: Origin,
    /// Full key of this view's root; empty for the top-level config.
    prefix: String,
}

/// The result of walking a key.
enum Found<'a> {
    Value(&'a Value, &'a Origin),
    Absent,
}

impl Config {
    /// Builds a config from `(context, data)` layers, lowest priority first.
    ///
    /// Every layer must be an object. Values built this way are never secret
    /// by origin (only by key name), as they did not come from directives.
    pub fn from_layers(
        layers: impl IntoIterator<Item = (String, Value)>,
    ) -> Result<Config, ConfigError> {
        let mut out = Vec::new();
        for (context, data) in layers {
            if !data.is_object() {
                return Err(ConfigError::LayerNotObject { context });
            }
            out.push(Layer {
                context,
                data,
                secret_paths: Default::default(),
            });
        }
        Ok(Config::from_loaded_layers(out))
    }

    /// Builds a single-layer config with the context `mock-config`, for tests.
    pub fn from_value(data: Value) -> Result<Config, ConfigError> {
        Config::from_layers([(EMPTY_CONTEXT.to_owned(), data)])
    }

    pub(crate) fn from_loaded_layers(layers: Vec<Layer>) -> Config {
        let (value, origin) = merge_layers(&layers);
        Config {
            contexts: layers.into_iter().map(|l| l.context).collect(),
            value,
            origin,
            prefix: String::new(),
        }
    }

    /// The layer contexts (file names, then `env`), lowest priority first.
    pub fn contexts(&self) -> &[String] {
        &self.contexts
    }

    /// The full key of this view's root; empty for the top-level config.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The deep-merged object of this view, without explicit `null`s.
    pub fn merged(&self) -> &Value {
        &self.value
    }

    /// The merged object with secret values replaced by `"***"`.
    ///
    /// A value is secret when its key name is secret by [`crate::is_secret_key`]
    /// (names ending in one of [`crate::SECRET_KEY_SUFFIXES`], or `key` under
    /// `certificate` or `keys`), or when it was produced by a `$env` or
    /// `$file` directive. A secret object or array is masked as a whole.
    pub fn masked(&self) -> Value {
        secrets::mask(&self.value, &self.origin)
    }

    /// The merged object with secret values replaced by `"***"`: those the
    /// schema marks `secret`, plus those [`Config::masked`] hides by key name
    /// or origin.
    pub fn masked_with_schema(&self, schema: Option<&ConfigSchema>) -> Value {
        let secrets = self.schema_secrets(schema);
        secrets::mask_with(&self.value, &self.origin, &secrets, &mut |_| {})
    }

    /// The literal secret values of this config, for redaction: every
    /// string or number inside a value that [`Config::masked_with_schema`]
    /// would mask, at least [`MIN_REDACTED_CHARS`] characters long (shorter
    /// ones would garble unrelated text), without duplicates, longest first.
    pub fn secret_values(&self, schema: Option<&ConfigSchema>) -> Vec<String> {
        let secrets = self.schema_secrets(schema);
        let mut found = Vec::new();
        secrets::mask_with(&self.value, &self.origin, &secrets, &mut |v| {
            secrets::scalar_texts(v, &mut found);
        });
        found.retain(|s| s.chars().count() >= MIN_REDACTED_CHARS);
        found.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        found.dedup();
        found
    }

    fn schema_secrets(&self, schema: Option<&ConfigSchema>) -> BTreeSet<String> {
        match schema {
            // Schema pointers are relative to the config root, so they only
            // apply to the top-level view.
            Some(schema) if self.prefix.is_empty() => schema.process(&self.value).secret_pointers(),
            _ => BTreeSet::new(),
        }
    }

    /// The value at `key`, or `None` when it is absent, the key is invalid
    /// or the path runs through a non-object.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self.find(key) {
            Ok(Found::Value(v, _)) => Some(v),
            _ => None,
        }
    }

    /// The value at `key`; absent is an error.
    pub fn get_value(&self, key: &str) -> Result<&Value, ConfigError> {
        self.get_optional_value(key)?
            .ok_or_else(|| self.missing(key))
    }

    /// The value at `key`, if present; invalid keys and paths are errors.
    pub fn get_optional_value(&self, key: &str) -> Result<Option<&Value>, ConfigError> {
        Ok(match self.find(key)? {
            Found::Value(v, _) => Some(v),
            Found::Absent => None,
        })
    }

    /// Whether a value is present at `key`. Invalid keys and paths through
    /// non-objects report `false`.
    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The keys of this view's root object.
    pub fn keys(&self) -> Vec<String> {
        match &self.value {
            Value::Object(map) => map.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }

    /// A required non-empty string.
    pub fn get_string(&self, key: &str) -> Result<String, ConfigError> {
        self.get_optional_string(key)?
            .ok_or_else(|| self.missing(key))
    }

    /// An optional non-empty string; an empty string is a type error.
    pub fn get_optional_string(&self, key: &str) -> Result<Option<String>, ConfigError> {
        match self.find(key)? {
            Found::Absent => Ok(None),
            Found::Value(Value::String(s), _) if !s.is_empty() => Ok(Some(s.clone())),
            Found::Value(v, o) => Err(self.invalid_type(key, o, v, "string")),
        }
    }

    /// A required number; numeric strings are converted.
    pub fn get_number(&self, key: &str) -> Result<f64, ConfigError> {
        self.get_optional_number(key)?
            .ok_or_else(|| self.missing(key))
    }

    /// An optional number. Strings are trimmed and parsed as JavaScript's
    /// `Number()` would (decimal, exponent, `0x`/`0o`/`0b`); blank or
    /// non-finite results are conversion errors.
    pub fn get_optional_number(&self, key: &str) -> Result<Option<f64>, ConfigError> {
        match self.find(key)? {
            Found::Absent => Ok(None),
            Found::Value(Value::Number(n), o) => match n.as_f64() {
                Some(f) => Ok(Some(f)),
                None => Err(self.convert(key, o, "number")),
            },
            Found::Value(Value::String(s), o) => match parse_js_number(s) {
                Some(f) => Ok(Some(f)),
                None => Err(self.convert(key, o, "number")),
            },
            Found::Value(v, o) => Err(self.invalid_type(key, o, v, "number")),
        }
    }

    /// A required boolean; see [`Config::get_optional_bool`].
    pub fn get_bool(&self, key: &str) -> Result<bool, ConfigError> {
        self.get_optional_bool(key)?
            .ok_or_else(|| self.missing(key))
    }

    /// An optional boolean. Strings and numbers are accepted when they read,
    /// case-insensitively, as `y|yes|true|1|on` or `n|no|false|0|off`.
    pub fn get_optional_bool(&self, key: &str) -> Result<Option<bool>, ConfigError> {
        let (text, origin) = match self.find(key)? {
            Found::Absent => return Ok(None),
            Found::Value(Value::Bool(b), _) => return Ok(Some(*b)),
            Found::Value(Value::String(s), o) => (s.trim().to_ascii_lowercase(), o),
            // Numbers are compared by value so that `1.0` counts as `1`, as
            // JavaScript would print it.
            Found::Value(Value::Number(n), o) => match n.as_f64() {
                Some(1.0) => return Ok(Some(true)),
                Some(0.0) => return Ok(Some(false)),
                _ => return Err(self.convert(key, o, "boolean")),
            },
            Found::Value(v, o) => return Err(self.invalid_type(key, o, v, "boolean")),
        };
        match text.as_str() {
            "y" | "yes" | "true" | "1" | "on" => Ok(Some(true)),
            "n" | "no" | "false" | "0" | "off" => Ok(Some(false)),
            _ => Err(self.convert(key, origin, "boolean")),
        }
    }

    /// A required array of non-empty strings.
    pub fn get_string_array(&self, key: &str) -> Result<Vec<String>, ConfigError> {
        self.get_optional_string_array(key)?
            .ok_or_else(|| self.missing(key))
    }

    /// An optional array of non-empty strings; a bad element is reported
    /// with its index (`key[1]`).
    pub fn get_optional_string_array(&self, key: &str) -> Result<Option<Vec<String>>, ConfigError> {
        let (items, origin) = match self.find(key)? {
            Found::Absent => return Ok(None),
            Found::Value(Value::Array(items), o) => (items, o),
            Found::Value(v, o) => return Err(self.invalid_type(key, o, v, "string-array")),
        };
        let mut out = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            match item {
                Value::String(s) if !s.is_empty() => out.push(s.clone()),
                other => {
                    return Err(self.invalid_type(
                        &format!("{key}[{index}]"),
                        origin.element(index),
                        other,
                        "string-array",
                    ));
                }
            }
        }
        Ok(Some(out))
    }

    /// A required sub-view; see [`Config::get_optional_config`].
    pub fn get_config(&self, key: &str) -> Result<Config, ConfigError> {
        self.get_optional_config(key)?
            .ok_or_else(|| self.missing(key))
    }

    /// An optional view rooted at `key`, whose messages show full key paths.
    pub fn get_optional_config(&self, key: &str) -> Result<Option<Config>, ConfigError> {
        match self.find(key)? {
            Found::Absent => Ok(None),
            Found::Value(v @ Value::Object(_), o) => Ok(Some(self.view(v, o, self.full_key(key)))),
            Found::Value(v, o) => Err(self.invalid_type(key, o, v, "object")),
        }
    }

    /// A required array of sub-views.
    pub fn get_config_array(&self, key: &str) -> Result<Vec<Config>, ConfigError> {
        self.get_optional_config_array(key)?
            .ok_or_else(|| self.missing(key))
    }

    /// An optional array of views, one per object element (`key[i]`).
    pub fn get_optional_config_array(&self, key: &str) -> Result<Option<Vec<Config>>, ConfigError> {
        let (items, origin) = match self.find(key)? {
            Found::Absent => return Ok(None),
            Found::Value(Value::Array(items), o) => (items, o),
            Found::Value(v, o) => return Err(self.invalid_type(key, o, v, "object-array")),
        };
        let mut out = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let element_key = format!("{key}[{index}]");
            let element_origin = origin.element(index);
            if !item.is_object() {
                return Err(self.invalid_type(&element_key, element_origin, item, "object-array"));
            }
            out.push(self.view(item, element_origin, self.full_key(&element_key)));
        }
        Ok(Some(out))
    }

    /// Deserializes the value at `key` into `T`; `None` when absent.
    pub fn get_typed<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, ConfigError> {
        match self.find(key)? {
            Found::Absent => Ok(None),
            Found::Value(v, o) => {
                serde_json::from_value(v.clone())
                    .map(Some)
                    .map_err(|e| ConfigError::Deserialize {
                        key: self.full_key(key),
                        context: self.context_of(o).to_owned(),
                        reason: e.to_string(),
                    })
            }
        }
    }

    fn view(&self, value: &Value, origin: &Origin, prefix: String) -> Config {
        Config {
            contexts: Arc::clone(&self.contexts),
            value: value.clone(),
            origin: origin.clone(),
            prefix,
        }
    }

    /// Walks `key` through the merged tree.
    fn find(&self, key: &str) -> Result<Found<'_>, ConfigError> {
        let parts: Vec<&str> = if key.is_empty() {
            Vec::new()
        } else {
            key.split('.').collect()
        };
        if !parts.iter().all(|p| is_valid_key_segment(p)) {
            return Err(ConfigError::InvalidKey {
                key: key.to_owned(),
            });
        }
        let mut value = &self.value;
        let mut origin = &self.origin;
        for (index, part) in parts.iter().enumerate() {
            match value {
                Value::Object(map) => match map.get(*part) {
                    Some(child) => {
                        value = child;
                        origin = origin.child(part);
                    }
                    None => return Ok(Found::Absent),
                },
                other => {
                    return Err(self.invalid_type(
                        &parts[..index].join("."),
                        origin,
                        other,
                        "object",
                    ));
                }
            }
        }
        Ok(Found::Value(value, origin))
    }

    fn full_key(&self, key: &str) -> String {
        match (self.prefix.is_empty(), key.is_empty()) {
            (true, _) => key.to_owned(),
            (false, true) => self.prefix.clone(),
            (false, false) => format!("{}.{key}", self.prefix),
        }
    }

    fn context_of(&self, origin: &Origin) -> &str {
        self.contexts
            .get(origin.layer)
            .map_or(EMPTY_CONTEXT, String::as_str)
    }

    fn missing(&self, key: &str) -> ConfigError {
        ConfigError::Missing {
            key: self.full_key(key),
            context: self.context_of(&self.origin).to_owned(),
        }
    }

    fn invalid_type(
        &self,
        key: &str,
        origin: &Origin,
        value: &Value,
        wanted: &'static str,
    ) -> ConfigError {
        ConfigError::InvalidType {
            key: self.full_key(key),
            context: self.context_of(origin).to_owned(),
            got: type_name(value),
            wanted,
        }
    }

    fn convert(&self, key: &str, origin: &Origin, wanted: &'static str) -> ConfigError {
        ConfigError::Convert {
            key: self.full_key(key),
            context: self.context_of(origin).to_owned(),
            wanted,
        }
    }
}

impl Default for Config {
    /// A config with no layers.
    fn default() -> Self {
        Config {
            contexts: Arc::from(Vec::new()),
            value: Value::Object(Map::new()),
            origin: Origin {
                layer: 0,
                secret: false,
                kids: Kids::Map(Default::default()),
            },
            prefix: String::new(),
        }
    }
}

/// Backstage's type names for error messages.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(s) if s.is_empty() => "empty-string",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Parses a string the way JavaScript's `Number()` does, returning only
/// finite results. Blank strings are refused (JavaScript would give 0).
fn parse_js_number(text: &str) -> Option<f64> {
    let t = text.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    if t.is_empty() {
        return None;
    }
    let radix = match t.get(..2) {
        Some("0x" | "0X") => Some(16),
        Some("0o" | "0O") => Some(8),
        Some("0b" | "0B") => Some(2),
        _ => None,
    };
    if let Some(radix) = radix {
        let digits = &t[2..];
        if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
            return None;
        }
        // Parse digit by digit into an f64 so long inputs cannot overflow.
        let mut value = 0.0_f64;
        for c in digits.chars() {
            value = value * f64::from(radix) + f64::from(c.to_digit(radix)?);
        }
        return value.is_finite().then_some(value);
    }
    // Rust's float parser also accepts `inf` and `nan`; JavaScript spells
    // those differently and they are not finite anyway, so only the
    // characters of decimal notation are allowed through.
    if !t
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | 'e' | 'E'))
    {
        return None;
    }
    t.parse::<f64>().ok().filter(|f| f.is_finite())
}
