//! Sparse parsing of stored entity JSON: only the object members a caller asks for become
//! [`Value`]s, everything else is skipped while reading.
//!
//! The index keeps each entity as its compact JSON text only (a tree of `Value`s costs
//! several times the text). Projections and sort values need a few paths of an entity, so
//! they parse the text again, and building just those paths keeps that cheap: skipping a
//! member allocates nothing.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Decides which object members a sparse parse keeps.
pub(crate) trait Keep {
    /// Whether the member at `path` (object keys as written, joined with `.`; array items
    /// share their array's path) is kept. A kept member's children are asked in turn.
    fn keep(&self, path: &str) -> bool;
}

/// Parses `json`, keeping only the members `keep` selects. Text that does not parse gives
/// `Value::Null` (the index only stores text it serialised itself).
pub(crate) fn parse_sparse(json: &str, keep: &impl Keep) -> Value {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    Node { keep, path: "" }
        .deserialize(&mut deserializer)
        .unwrap_or(Value::Null)
}

/// Parses the whole text.
pub(crate) fn parse_full(json: &str) -> Value {
    serde_json::from_str(json).unwrap_or(Value::Null)
}

/// Whether `path` is `prefix` or lies inside it (a `.`-boundary after `prefix`).
pub(crate) fn within(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

struct Node<'k, 'p, K> {
    keep: &'k K,
    path: &'p str,
}

impl<'de, K: Keep> DeserializeSeed<'de> for Node<'_, '_, K> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, K: Keep> Visitor<'de> for Node<'_, '_, K> {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Node {
            keep: self.keep,
            path: self.path,
        })? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        let mut child = String::new();
        while let Some(key) = map.next_key::<String>()? {
            child.clear();
            if !self.path.is_empty() {
                child.push_str(self.path);
                child.push('.');
            }
            child.push_str(&key);
            if self.keep.keep(&child) {
                let value = map.next_value_seed(Node {
                    keep: self.keep,
                    path: &child,
                })?;
                object.insert(key, value);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Paths(&'static [&'static str]);

    impl Keep for Paths {
        fn keep(&self, path: &str) -> bool {
            self.0.iter().any(|p| within(p, path) || within(path, p))
        }
    }

    #[test]
    fn keeps_selected_paths_only() {
        let text = r#"{"a":{"b":1,"c":[{"d":2,"e":3}],"b.x":true},"f":null,"g":1.5}"#;
        assert_eq!(
            parse_sparse(text, &Paths(&["a.c.d", "g"])),
            serde_json::json!({"a": {"c": [{"d": 2}]}, "g": 1.5})
        );
        assert_eq!(
            parse_sparse(text, &Paths(&["a.b"])),
            serde_json::json!({"a": {"b": 1, "b.x": true}})
        );
        assert_eq!(
            parse_full(text),
            serde_json::from_str::<Value>(text).unwrap_or_default()
        );
        assert_eq!(parse_sparse("{", &Paths(&["a"])), Value::Null);
    }
}
