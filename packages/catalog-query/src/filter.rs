//! Entity filters: the GET `filter` parameter syntax (spec §2), the POST predicate language
//! (spec §7.3) and their evaluation to a set of internal entity ids.

use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::QueryError;
use crate::index::CatalogIndex;
use crate::search::stringify_scalar;

/// Predicates nest at most this deep; deeper input is rejected rather than risking the stack.
const MAX_DEPTH: usize = 32;

/// A filter over entities, matched against their search rows (keys and values compared
/// case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EntityFilter {
    /// Every child matches (empty: everything).
    All(Vec<EntityFilter>),
    /// At least one child matches (empty: nothing).
    Any(Vec<EntityFilter>),
    /// The child does not match.
    Not(Box<EntityFilter>),
    /// A row with `key` exists (`values: None`) or has one of `values`.
    Key {
        /// Dotted search key.
        key: String,
        /// Accepted values; `None` asks for existence only.
        values: Option<Vec<String>>,
    },
    /// A row with `key` has a value starting with `prefix`.
    HasPrefix {
        /// Dotted search key.
        key: String,
        /// Required value prefix.
        prefix: String,
    },
}

impl EntityFilter {
    /// Existence of `key`.
    pub fn exists(key: impl Into<String>) -> Self {
        EntityFilter::Key {
            key: key.into(),
            values: None,
        }
    }

    /// Equality of `key` with one value.
    pub fn eq(key: impl Into<String>, value: impl Into<String>) -> Self {
        EntityFilter::Key {
            key: key.into(),
            values: Some(vec![value.into()]),
        }
    }

    /// Both filters, either of which may be absent.
    pub fn and(a: Option<EntityFilter>, b: Option<EntityFilter>) -> Option<EntityFilter> {
        match (a, b) {
            (None, other) | (other, None) => other,
            (Some(a), Some(b)) => Some(EntityFilter::All(vec![a, b])),
        }
    }
}

/// Parses the repeatable GET `filter` parameter: occurrences are ORed, conditions inside one
/// occurrence ANDed, and a key repeated with values inside one occurrence becomes an IN list.
/// Returns `None` when no occurrence holds a condition.
pub fn parse_filter_params(params: &[String]) -> Result<Option<EntityFilter>, QueryError> {
    let mut sets = Vec::new();
    for param in params {
        // Conditions keep their first-seen order; keys are grouped by exact spelling.
        let mut conditions: Vec<(String, Option<Vec<String>>)> = Vec::new();
        for statement in param.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (key, value) = match statement.split_once('=') {
                Some((key, value)) => (key.trim(), Some(value.trim())),
                None => (statement, None),
            };
            if key.is_empty() {
                return Err(QueryError::new(format!(
                    "Invalid filter, '{statement}' is not a valid statement (expected a string on the form a=b or a= or a)"
                )));
            }
            let index = match conditions.iter().position(|(k, _)| k == key) {
                Some(index) => index,
                None => {
                    conditions.push((key.to_owned(), None));
                    conditions.len() - 1
                }
            };
            if let Some(value) = value {
                conditions[index]
                    .1
                    .get_or_insert_with(Vec::new)
                    .push(value.to_owned());
            }
        }
        if conditions.is_empty() {
            continue;
        }
        sets.push(EntityFilter::All(
            conditions
                .into_iter()
                .map(|(key, values)| EntityFilter::Key { key, values })
                .collect(),
        ));
    }
    Ok(match sets.len() {
        0 => None,
        _ => Some(EntityFilter::Any(sets)),
    })
}

/// Parses the POST by-query `query` predicate (`$all`, `$any`, `$not`, field sets with
/// `$exists`, `$in`, `$hasPrefix` and `$contains`).
pub fn parse_predicate(query: &Value) -> Result<EntityFilter, QueryError> {
    match query {
        Value::Object(map) => parse_node(map, "", 0),
        _ => Err(QueryError::new("request/body/query must be object")),
    }
}

fn invalid_query(detail: impl std::fmt::Display) -> QueryError {
    QueryError::new(format!("Invalid query: Validation error: {detail}"))
}

fn invalid_value(field: &str, detail: impl std::fmt::Display) -> QueryError {
    QueryError::new(format!(
        "Invalid filter predicate value for field \"{field}\": {detail}"
    ))
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn parse_child(value: &Value, at: &str, depth: usize) -> Result<EntityFilter, QueryError> {
    match value {
        Value::Object(map) => parse_node(map, at, depth + 1),
        other => Err(invalid_query(format_args!(
            "Expected object, received {} at \"{at}\"",
            describe(other)
        ))),
    }
}

fn parse_node(
    map: &Map<String, Value>,
    at: &str,
    depth: usize,
) -> Result<EntityFilter, QueryError> {
    if depth > MAX_DEPTH {
        return Err(invalid_query(format_args!(
            "predicate nested deeper than {MAX_DEPTH} levels at \"{at}\""
        )));
    }
    let operators = map.keys().filter(|k| k.starts_with('$')).count();
    if operators > 0 {
        let (Some((op, value)), 1) = (map.iter().next(), map.len()) else {
            return Err(invalid_query(format_args!(
                "a logical operator must be the only key of its object at \"{at}\""
            )));
        };
        let path = format!("{at}{op}");
        return match op.as_str() {
            "$all" | "$any" => {
                let Value::Array(items) = value else {
                    return Err(invalid_query(format_args!(
                        "Expected array, received {} at \"{path}\"",
                        describe(value)
                    )));
                };
                let children = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| parse_child(item, &format!("{path}[{i}]."), depth))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(if op == "$all" {
                    EntityFilter::All(children)
                } else {
                    EntityFilter::Any(children)
                })
            }
            "$not" => Ok(EntityFilter::Not(Box::new(parse_child(
                value,
                &format!("{path}."),
                depth,
            )?))),
            _ => Err(invalid_query(format_args!(
                "Unknown operator \"{op}\" at \"{at}\""
            ))),
        };
    }
    let mut filters = map
        .iter()
        .map(|(field, value)| parse_field(field, value))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(if filters.len() == 1 {
        filters.remove(0)
    } else {
        EntityFilter::All(filters)
    })
}

fn primitive(value: &Value) -> Option<String> {
    match value {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => Some(stringify_scalar(value)),
        _ => None,
    }
}

fn parse_field(field: &str, value: &Value) -> Result<EntityFilter, QueryError> {
    if let Some(v) = primitive(value) {
        return Ok(EntityFilter::eq(field, v));
    }
    let Value::Object(matcher) = value else {
        return Err(invalid_value(
            field,
            format_args!(
                "expected a string, number, boolean or operator object, received {}",
                describe(value)
            ),
        ));
    };
    let (Some((op, operand)), 1) = (matcher.iter().next(), matcher.len()) else {
        return Err(invalid_value(
            field,
            "expected an object with exactly one operator",
        ));
    };
    match op.as_str() {
        "$exists" => match operand {
            Value::Bool(true) => Ok(EntityFilter::exists(field)),
            Value::Bool(false) => Ok(EntityFilter::Not(Box::new(EntityFilter::exists(field)))),
            other => Err(invalid_value(
                field,
                format_args!("$exists expects a boolean, received {}", describe(other)),
            )),
        },
        "$in" => Ok(EntityFilter::Key {
            key: field.to_owned(),
            values: Some(primitive_list(field, "$in", operand)?),
        }),
        "$hasPrefix" => match operand {
            Value::String(prefix) => Ok(EntityFilter::HasPrefix {
                key: field.to_owned(),
                prefix: prefix.clone(),
            }),
            other => Err(invalid_value(
                field,
                format_args!("$hasPrefix expects a string, received {}", describe(other)),
            )),
        },
        "$contains" => parse_contains(field, operand),
        other => Err(invalid_value(
            field,
            format_args!("unknown operator \"{other}\""),
        )),
    }
}

fn primitive_list(field: &str, op: &str, operand: &Value) -> Result<Vec<String>, QueryError> {
    let Value::Array(items) = operand else {
        return Err(invalid_value(
            field,
            format_args!("{op} expects an array, received {}", describe(operand)),
        ));
    };
    items
        .iter()
        .map(|item| {
            primitive(item).ok_or_else(|| {
                invalid_value(
                    field,
                    format_args!(
                        "{op} items must be strings, numbers or booleans, received {}",
                        describe(item)
                    ),
                )
            })
        })
        .collect()
}

fn parse_contains(field: &str, operand: &Value) -> Result<EntityFilter, QueryError> {
    if let Some(v) = primitive(operand) {
        // Containment of a primitive in an array field is equality on the array's path.
        return Ok(EntityFilter::eq(field, v));
    }
    let Value::Object(spec) = operand else {
        return Err(invalid_value(
            field,
            format_args!(
                "$contains expects a primitive or a relation object, received {}",
                describe(operand)
            ),
        ));
    };
    if !field.eq_ignore_ascii_case("relations") {
        return Err(invalid_value(
            field,
            "$contains with an object is only supported on relations",
        ));
    }
    if let Some(unknown) = spec.keys().find(|k| *k != "type" && *k != "targetRef") {
        return Err(invalid_value(
            field,
            format_args!("unknown relation property \"{unknown}\""),
        ));
    }
    let Some(Value::String(kind)) = spec.get("type") else {
        return Err(invalid_value(
            field,
            "$contains on relations requires a string \"type\"",
        ));
    };
    let key = format!("relations.{kind}");
    let values = match spec.get("targetRef") {
        None => None,
        Some(Value::String(target)) => Some(vec![target.clone()]),
        Some(Value::Object(inner)) if inner.len() == 1 && inner.contains_key("$in") => {
            Some(primitive_list(field, "$in", &inner["$in"])?)
        }
        Some(other) => {
            return Err(invalid_value(
                field,
                format_args!(
                    "targetRef must be a string or {{\"$in\": [...]}}, received {}",
                    describe(other)
                ),
            ));
        }
    };
    Ok(EntityFilter::Key { key, values })
}

impl CatalogIndex {
    /// The ids of live entities matching `filter` (all live entities for `None`).
    pub(crate) fn eval(&self, filter: Option<&EntityFilter>) -> RoaringBitmap {
        match filter {
            None => self.live.clone(),
            Some(filter) => self.eval_filter(filter),
        }
    }

    fn eval_filter(&self, filter: &EntityFilter) -> RoaringBitmap {
        match filter {
            EntityFilter::All(children) => {
                let (negated, positive): (Vec<&EntityFilter>, Vec<&EntityFilter>) = children
                    .iter()
                    .partition(|c| matches!(c, EntityFilter::Not(_)));
                let mut result: Option<RoaringBitmap> = None;
                for child in positive {
                    let set = self.eval_filter(child);
                    let merged = match result {
                        None => set,
                        Some(mut acc) => {
                            acc &= set;
                            acc
                        }
                    };
                    if merged.is_empty() {
                        return merged;
                    }
                    result = Some(merged);
                }
                let mut result = result.unwrap_or_else(|| self.live.clone());
                // Negations inside an AND subtract their inner set instead of complementing it.
                for child in negated {
                    if let EntityFilter::Not(inner) = child {
                        result -= self.eval_filter(inner);
                    }
                    if result.is_empty() {
                        break;
                    }
                }
                result
            }
            EntityFilter::Any(children) => {
                let mut result = RoaringBitmap::new();
                for child in children {
                    result |= self.eval_filter(child);
                }
                result
            }
            EntityFilter::Not(inner) => &self.live - &self.eval_filter(inner),
            EntityFilter::Key { key, values } => {
                let Some(index) = self.keys.get(key.to_lowercase().as_str()) else {
                    return RoaringBitmap::new();
                };
                match values {
                    None => index.exists.to_bitmap(),
                    Some(values) => {
                        let mut result = RoaringBitmap::new();
                        for value in values {
                            if let Some(holders) = index.get(value.to_lowercase().as_str()) {
                                holders.ids().union_into(&mut result);
                            }
                        }
                        result
                    }
                }
            }
            EntityFilter::HasPrefix { key, prefix } => {
                let Some(index) = self.keys.get(key.to_lowercase().as_str()) else {
                    return RoaringBitmap::new();
                };
                let prefix = prefix.to_lowercase();
                let mut result = RoaringBitmap::new();
                for (value, holders) in index.iter_from(prefix.as_str()) {
                    if !value.starts_with(prefix.as_str()) {
                        break;
                    }
                    holders.ids().union_into(&mut result);
                }
                result
            }
        }
    }
}
