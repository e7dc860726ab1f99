//! Field projection (`fields`, spec §3): selecting dotted paths out of an entity.

use serde_json::{Map, Value};

use crate::error::QueryError;

/// A parsed, non-empty list of dotted field paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields {
    paths: Vec<String>,
}

/// Parses the repeatable, comma-separated `fields` parameter. Returns `None` when no path is
/// given (no projection).
pub fn parse_fields(params: &[String]) -> Result<Option<Fields>, QueryError> {
    let mut paths = Vec::new();
    for token in params.iter().flat_map(|p| p.split(',')).map(str::trim) {
        if token.is_empty() {
            continue;
        }
        if token.contains('[') {
            return Err(QueryError::new(format!(
                "Invalid field \"{token}\", array type fields are not supported"
            )));
        }
        paths.push(token.to_owned());
    }
    Ok((!paths.is_empty()).then_some(Fields { paths }))
}

impl Fields {
    /// The paths as given.
    pub fn paths(&self) -> &[String] {
        &self.paths
    }

    /// A new object holding only the selected paths of `entity` (`{}` when none resolves).
    pub fn project(&self, entity: &Value) -> Value {
        let mut out = Value::Object(Map::new());
        for path in &self.paths {
            if let Some((segments, value)) = resolve(entity, path) {
                set_path(&mut out, &segments, value.clone());
            }
        }
        out
    }
}

/// Resolves a dotted path, re-joining consecutive segments with `.` until an existing key is
/// found, so keys that contain dots (annotation keys) can be selected. Arrays are not
/// traversed, and a path that does not resolve completely selects nothing.
fn resolve<'v>(entity: &'v Value, path: &str) -> Option<(Vec<String>, &'v Value)> {
    let mut segments = Vec::new();
    let mut current = entity;
    let mut pending: Option<String> = None;
    for part in path.split('.') {
        let candidate = match pending.take() {
            Some(prefix) => format!("{prefix}.{part}"),
            None => part.to_owned(),
        };
        match current
            .as_object()
            .and_then(|map| map.get(candidate.as_str()))
        {
            Some(next) => {
                current = next;
                segments.push(candidate);
            }
            None => pending = Some(candidate),
        }
    }
    if pending.is_some() {
        return None;
    }
    Some((segments, current))
}

fn set_path(out: &mut Value, segments: &[String], value: Value) {
    let Some((last, parents)) = segments.split_last() else {
        // An empty path selects the entity itself only if it is an object; keep projections
        // objects regardless.
        if value.is_object() {
            *out = value;
        }
        return;
    };
    let mut current = out;
    for segment in parents {
        if !current.is_object() {
            *current = Value::Object(Map::new());
        }
        let Value::Object(map) = current else {
            return;
        };
        current = map
            .entry(segment.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if !current.is_object() {
        *current = Value::Object(Map::new());
    }
    if let Value::Object(map) = current {
        map.insert(last.clone(), value);
    }
}

impl crate::sparse::Keep for Fields {
    /// Keeps every member on the way to a selected path and everything below one. Keys that
    /// contain dots make joined paths longer but never break the prefix test, so whatever
    /// [`Fields::project`] could resolve in the whole entity is kept.
    fn keep(&self, path: &str) -> bool {
        self.paths.iter().any(|selected| {
            crate::sparse::within(selected, path) || crate::sparse::within(path, selected)
        })
    }
}
