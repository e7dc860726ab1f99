//! YAML parsing for config files, with the YAML 1.2 reading Backstage uses.
//!
//! Backstage's config loader parses with the JavaScript `yaml` package: core
//! schema booleans only (`yes`/`on` stay strings), `1_000` is a string, `<<`
//! is an ordinary key and repeated keys are errors. serde-saphyr's defaults
//! differ on all four, so this module is the one place that calls the parser,
//! always with the options below. Numbers are then normalised the way
//! JavaScript prints them: an integral float such as `1e3` becomes `1000`.

use serde_json::{Number, Value};
use serde_saphyr::{DuplicateKeyPolicy, MergeKeyPolicy, Options};

/// A YAML syntax error with a one-based position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct YamlError {
    pub(crate) line: u64,
    pub(crate) column: u64,
    pub(crate) message: String,
}

fn options() -> Options {
    serde_saphyr::options! {
        strict_booleans: true,
        underscored_numbers_as_strings: true,
        merge_keys: MergeKeyPolicy::AsOrdinary,
        duplicate_keys: DuplicateKeyPolicy::Error,
        with_snippet: false,
    }
}

/// Parses one YAML document. Empty text (or only comments) reads as `None`.
pub(crate) fn parse(text: &str) -> Result<Option<Value>, YamlError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match serde_saphyr::from_str_with_options::<Option<Value>>(text, options()) {
        Ok(value) => Ok(value.map(normalize_numbers)),
        Err(e) => {
            let (line, column) = e
                .location()
                .map_or((1, 1), |l| (l.line().max(1), l.column().max(1)));
            Err(YamlError {
                line,
                column,
                message: first_line_without_position(&e.to_string()),
            })
        }
    }
}

/// Keeps the parser's first message line without its own position suffix,
/// because callers print the position in a fixed place.
fn first_line_without_position(message: &str) -> String {
    let first = message.lines().next().unwrap_or(message).trim();
    match first.rfind(" at line ") {
        Some(i) => first[..i].to_owned(),
        None => first.to_owned(),
    }
}

/// The largest magnitude below which every integer is exact in an f64.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_992.0;

/// Rewrites integral floats as integers, recursively, so `1e3` prints as
/// `1000` as it does in JavaScript. Also used for JSON files and overrides.
pub(crate) fn normalize_numbers(value: Value) -> Value {
    match value {
        Value::Number(n) => Value::Number(normalize_number(n)),
        Value::Array(items) => Value::Array(items.into_iter().map(normalize_numbers).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, normalize_numbers(v)))
                .collect(),
        ),
        other => other,
    }
}

fn normalize_number(n: Number) -> Number {
    if n.is_i64() || n.is_u64() {
        return n;
    }
    match n.as_f64() {
        Some(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < MAX_SAFE_INTEGER => {
            #[expect(
                clippy::cast_possible_truncation,
                reason = "the value is integral and within the exact f64 range"
            )]
            let i = f as i64;
            Number::from(i)
        }
        _ => n,
    }
}
