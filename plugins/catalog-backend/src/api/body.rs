//! Request bodies: the content-type and JSON checks of Backstage's body parser
//! and OpenAPI validator, and a small schema checker that words its failures
//! as that validator does (`request/body/<path> must be <type>`, …).

use axum::http::{HeaderMap, header};
use greenroom_backend_plugin_api::BackendError;
use serde_json::Value;

/// A JSON type or shape a body value must have.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Schema {
    String,
    Integer,
    Enum(&'static [&'static str]),
    Array(&'static Schema),
    Object(&'static ObjectSchema),
}

/// The properties of an object schema.
#[derive(Debug)]
pub(crate) struct ObjectSchema {
    pub(crate) properties: &'static [(&'static str, Schema)],
    /// Checked in this order; the first one missing is reported.
    pub(crate) required: &'static [&'static str],
    pub(crate) additional: bool,
}

/// The request body: `None` when the request carried none and no content type.
pub(crate) fn read_json(headers: &HeaderMap, bytes: &[u8]) -> Result<Option<Value>, BackendError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let Some(content_type) = content_type else {
        if bytes.is_empty() {
            return Ok(None);
        }
        return Err(BackendError::input("unsupported media type undefined"));
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if essence != "application/json" {
        return Err(BackendError::input(format!(
            "unsupported media type {}",
            content_type.trim()
        )));
    }
    // Express's JSON parser reads an empty body as `{}`.
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Some(Value::Object(serde_json::Map::new())));
    }
    // Express's strict JSON parser refuses anything but an object or array up
    // front, naming the first character.
    let first = bytes.iter().copied().find(|b| !b.is_ascii_whitespace());
    if let Some(first) = first.filter(|b| *b != b'{' && *b != b'[') {
        let text = String::from_utf8_lossy(bytes);
        let c = text
            .trim_start()
            .chars()
            .next()
            .unwrap_or(char::from(first));
        return Err(BackendError::input(unexpected_token(c, &text)));
    }
    serde_json::from_slice(bytes)
        .map(Some)
        .map_err(|e| BackendError::input(js_parse_message(bytes, &e)))
}

/// V8's wording for an unexpected character, with the text shortened when long.
fn unexpected_token(c: char, text: &str) -> String {
    let shown: String = if text.chars().count() <= 40 {
        text.to_owned()
    } else {
        let head: String = text.chars().take(30).collect();
        format!("{head}...")
    };
    format!("Unexpected token '{c}', \"{shown}\" is not valid JSON")
}

/// The message JavaScript's `JSON.parse` gives for a body, approximately:
/// the offending character and the text, or the end of input.
fn js_parse_message(bytes: &[u8], error: &serde_json::Error) -> String {
    if error.is_eof() {
        return "Unexpected end of JSON input".to_owned();
    }
    let text = String::from_utf8_lossy(bytes);
    // serde reports 1-based line and column; find that character.
    let offending = text
        .lines()
        .nth(error.line().saturating_sub(1))
        .and_then(|line| line.chars().nth(error.column().saturating_sub(1)))
        .or_else(|| text.trim_start().chars().next())
        .unwrap_or(' ');
    unexpected_token(offending, &text)
}

/// Checks `value` against `schema`; the error names the first failing path.
pub(crate) fn check(value: &Value, schema: &Schema) -> Result<(), BackendError> {
    check_at(value, schema, "request/body").map_err(BackendError::input)
}

fn check_at(value: &Value, schema: &Schema, path: &str) -> Result<(), String> {
    let type_error = |name: &str| Err(format!("{path} must be {name}"));
    match schema {
        Schema::String => match value {
            Value::String(_) => Ok(()),
            _ => type_error("string"),
        },
        Schema::Integer => match value {
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(()),
            Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0) => Ok(()),
            _ => type_error("integer"),
        },
        Schema::Enum(allowed) => match value {
            Value::String(s) if allowed.contains(&s.as_str()) => Ok(()),
            _ => Err(format!(
                "{path} must be equal to one of the allowed values: {}",
                allowed.join(", ")
            )),
        },
        Schema::Array(item) => {
            let Value::Array(items) = value else {
                return type_error("array");
            };
            for (i, v) in items.iter().enumerate() {
                check_at(v, item, &format!("{path}/{i}"))?;
            }
            Ok(())
        }
        Schema::Object(object) => {
            let Value::Object(map) = value else {
                return type_error("object");
            };
            for name in object.required {
                if !map.contains_key(*name) {
                    return Err(format!("{path} must have required property '{name}'"));
                }
            }
            if !object.additional
                && map
                    .keys()
                    .any(|k| !object.properties.iter().any(|(p, _)| p == k))
            {
                return Err(format!("{path} must NOT have additional properties"));
            }
            for (name, schema) in object.properties {
                if let Some(v) = map.get(*name) {
                    check_at(v, schema, &format!("{path}/{name}"))?;
                }
            }
            Ok(())
        }
    }
}

/// A string array, as most bodies carry for `fields` and similar.
pub(crate) const STRINGS: Schema = Schema::Array(&Schema::String);

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use serde_json::json;

    const BODY: Schema = Schema::Object(&ObjectSchema {
        properties: &[("entityRefs", STRINGS), ("limit", Schema::Integer)],
        required: &["entityRefs"],
        additional: false,
    });

    #[test]
    fn schema_messages() {
        let rows: &[(&str, Value, Option<&str>)] = &[
            ("B01 ok", json!({"entityRefs": ["a"], "limit": 2}), None),
            (
                "B02 array body",
                json!([]),
                Some("request/body must be object"),
            ),
            (
                "B03 required",
                json!({}),
                Some("request/body must have required property 'entityRefs'"),
            ),
            (
                "B04 type",
                json!({"entityRefs": 7}),
                Some("request/body/entityRefs must be array"),
            ),
            (
                "B05 item",
                json!({"entityRefs": [1]}),
                Some("request/body/entityRefs/0 must be string"),
            ),
            (
                "B06 extra",
                json!({"entityRefs": [], "x": 1}),
                Some("request/body must NOT have additional properties"),
            ),
            (
                "B07 integer",
                json!({"entityRefs": [], "limit": 1.5}),
                Some("request/body/limit must be integer"),
            ),
        ];
        for (id, value, expected) in rows {
            let got = check(value, &BODY).err().map(|e| e.message);
            assert_eq!(got.as_deref(), *expected, "{id}");
        }
    }

    #[test]
    fn content_type_and_parse_messages() {
        let with = |ct: Option<&str>| {
            let mut h = HeaderMap::new();
            if let Some(ct) = ct {
                h.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
            }
            h
        };
        type Row<'a> = (
            &'a str,
            Option<&'a str>,
            &'a [u8],
            Result<Option<Value>, &'a str>,
        );
        let rows: &[Row<'_>] = &[
            ("B08 no body", None, b"", Ok(None)),
            (
                "B09 no type",
                None,
                b"{}",
                Err("unsupported media type undefined"),
            ),
            (
                "B10 text",
                Some("text/plain"),
                b"{}",
                Err("unsupported media type text/plain"),
            ),
            (
                "B11 charset",
                Some("application/json; charset=utf-8"),
                b"{\"a\":1}",
                Ok(Some(json!({"a":1}))),
            ),
            (
                "B12 empty json",
                Some("application/json"),
                b"",
                Ok(Some(json!({}))),
            ),
            (
                "B13 not json",
                Some("application/json"),
                b"notjson",
                Err("Unexpected token 'n', \"notjson\" is not valid JSON"),
            ),
            (
                "B14 truncated",
                Some("application/json"),
                b"{\"a\":",
                Err("Unexpected end of JSON input"),
            ),
        ];
        for (id, ct, bytes, expected) in rows {
            let got = read_json(&with(*ct), bytes).map_err(|e| e.message);
            assert_eq!(got, expected.clone().map_err(str::to_owned), "{id}");
        }
    }
}
