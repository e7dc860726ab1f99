//! Config schemas: a JSON Schema (draft-07 subset) validator with Backstage's
//! `visibility`, `deepVisibility` and `deprecated` keywords.
//!
//! Every package may declare a schema for the keys it reads; the schemas are
//! combined as an `allOf` and the merged config is checked against all of
//! them. Validation also tells, for every value of the config, its
//! visibility: `frontend` values may be sent to browsers, `secret` values are
//! masked when printed and redacted from logs, everything else is `backend`.
//!
//! Like Backstage (which runs ajv with `coerceTypes`), a value that can be
//! converted to the expected type passes the `type` check, so a
//! `port: ${PORT}` substitution (always a string) satisfies `type: number`.
//! Error texts follow ajv's wording as Backstage prints it:
//! `Config must be string { type=string } at /backend/listen/host`.

mod validate;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Map, Value};

use validate::{Annotations, Validator};

/// The meta-schema id of Backstage config schemas.
pub const CONFIG_SCHEMA_ID: &str = "https://backstage.io/schema/config-v1";

/// The deepest nesting of schema and value that is followed before giving up.
pub const MAX_SCHEMA_DEPTH: usize = 128;

/// The schema of the keys Greenroom's core reads (`app.*`, `backend.*`,
/// `organization.*`, `integrations.*`, `auth.*`, `catalog.*`, `discovery.*`).
const CORE_SCHEMA_JSON: &str = include_str!("../schemas/core.json");

/// Who may see a config value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Visibility {
    /// Sent to browsers as part of the frontend config.
    Frontend,
    /// Only the backend reads it (the default).
    #[default]
    Backend,
    /// Only the backend reads it, and it is never printed or logged.
    Secret,
}

impl Visibility {
    /// Parses a schema's `visibility` value.
    pub fn parse(text: &str) -> Option<Visibility> {
        match text {
            "frontend" => Some(Visibility::Frontend),
            "backend" => Some(Visibility::Backend),
            "secret" => Some(Visibility::Secret),
            _ => None,
        }
    }

    /// The keyword value, as written in schemas.
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Frontend => "frontend",
            Visibility::Backend => "backend",
            Visibility::Secret => "secret",
        }
    }

    /// Combines two visibilities given to the same value; `None` when they
    /// conflict (`frontend` against `secret`). `backend` is the neutral one.
    pub fn merge(self, other: Visibility) -> Option<Visibility> {
        match (self, other) {
            (Visibility::Frontend, Visibility::Secret)
            | (Visibility::Secret, Visibility::Frontend) => None,
            (Visibility::Backend, v) | (v, Visibility::Backend) => Some(v),
            (v, _) => Some(v),
        }
    }
}

impl fmt::Display for Visibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A problem found while validating a config against a schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// The value at `path` breaks a schema rule.
    #[error("Config {message} {{ {params} }} at {path}")]
    Invalid {
        /// JSON pointer of the value (`/backend/baseUrl`; empty for the root).
        path: String,
        /// What is wrong, in ajv's words (`must be string`).
        message: String,
        /// The rule's parameters as `name=value` pairs joined by spaces.
        params: String,
        /// The schema keyword that failed (`type`, `required`, ...).
        keyword: &'static str,
    },
    /// Two schemas give one value the visibilities `frontend` and `secret`.
    #[error("Config schema visibility is both 'frontend' and 'secret' for {path}")]
    VisibilityConflict {
        /// JSON pointer of the value.
        path: String,
    },
}

impl SchemaError {
    /// The JSON pointer of the value the error is about.
    pub fn path(&self) -> &str {
        match self {
            SchemaError::Invalid { path, .. } | SchemaError::VisibilityConflict { path } => path,
        }
    }

    /// The failing keyword; `visibility` for a visibility conflict.
    pub fn keyword(&self) -> &'static str {
        match self {
            SchemaError::Invalid { keyword, .. } => keyword,
            SchemaError::VisibilityConflict { .. } => "visibility",
        }
    }
}

/// Why a schema could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaLoadError {
    /// The schema text is not JSON.
    #[error("Schema of {name} is invalid, {message}")]
    Parse {
        /// The declaring package.
        name: String,
        /// The parser's message.
        message: String,
    },
    /// A keyword has a value the validator does not understand.
    #[error("Schema of {name} is invalid, {message} at {at}")]
    Invalid {
        /// The declaring package.
        name: String,
        /// JSON pointer inside the schema.
        at: String,
        /// What is wrong.
        message: String,
    },
    /// Two schemas give the same path the visibilities `frontend` and `secret`.
    #[error("Config schema visibility is both 'frontend' and 'secret' for {path}")]
    VisibilityConflict {
        /// The path of the value, with `*` for map entries and array items.
        path: String,
    },
}

/// One schema document and the package that declared it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SchemaDoc {
    pub(crate) name: String,
    pub(crate) root: Value,
}

/// A set of config schemas, combined as an `allOf`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConfigSchema {
    docs: Vec<SchemaDoc>,
}

/// A deprecated key that the config sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deprecation {
    /// The dotted key (`backend.auth.keys`, array indices as `[i]`).
    pub key: String,
    /// The schema's explanation; may be empty.
    pub description: String,
}

/// The outcome of checking one config value against a schema.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SchemaReport {
    /// Every rule the value breaks, in document order.
    pub errors: Vec<SchemaError>,
    /// The keys set in the config that a schema marks as deprecated.
    pub deprecations: Vec<Deprecation>,
    /// The effective visibility of every value, by JSON pointer.
    visibility: BTreeMap<String, Visibility>,
}

impl ConfigSchema {
    /// A schema that accepts everything and marks nothing.
    pub fn empty() -> ConfigSchema {
        ConfigSchema::default()
    }

    /// Parses a JSON schema declared by the package `name`.
    pub fn from_json(name: &str, text: &str) -> Result<ConfigSchema, SchemaLoadError> {
        let root: Value = serde_json::from_str(text).map_err(|e| SchemaLoadError::Parse {
            name: name.to_owned(),
            message: e.to_string(),
        })?;
        ConfigSchema::from_value(name, root)
    }

    /// Uses an already parsed JSON schema declared by the package `name`.
    ///
    /// The schema is checked once here: every keyword the validator uses must
    /// have a value of the right shape, every `$ref` must point inside the
    /// document, and `visibility` must be `frontend`, `backend` or `secret`.
    pub fn from_value(name: &str, root: Value) -> Result<ConfigSchema, SchemaLoadError> {
        let doc = SchemaDoc {
            name: name.to_owned(),
            root,
        };
        check_schema(&doc, &doc.root, &mut String::new(), 0)?;
        let schema = ConfigSchema { docs: vec![doc] };
        schema.check_static_visibilities()?;
        Ok(schema)
    }

    /// Combines schemas as an `allOf`. Fails when two of them give the same
    /// path the visibilities `frontend` and `secret`.
    pub fn combine(schemas: Vec<ConfigSchema>) -> Result<ConfigSchema, SchemaLoadError> {
        let combined = ConfigSchema {
            docs: schemas.into_iter().flat_map(|s| s.docs).collect(),
        };
        combined.check_static_visibilities()?;
        Ok(combined)
    }

    /// The names of the packages whose schemas are combined here.
    pub fn names(&self) -> Vec<&str> {
        self.docs.iter().map(|d| d.name.as_str()).collect()
    }

    /// The combined schema as one JSON Schema document: an `allOf` of the
    /// declared schemas, each with the name of its package as `title`.
    pub fn to_json(&self) -> Value {
        let parts: Vec<Value> = self
            .docs
            .iter()
            .map(|doc| {
                let mut part = doc.root.clone();
                if let Value::Object(map) = &mut part {
                    map.entry("title".to_owned())
                        .or_insert_with(|| Value::String(doc.name.clone()));
                }
                part
            })
            .collect();
        let mut out = Map::new();
        out.insert(
            "$schema".to_owned(),
            Value::String(CONFIG_SCHEMA_ID.to_owned()),
        );
        out.insert(
            "title".to_owned(),
            Value::String("Application Configuration Schema".to_owned()),
        );
        out.insert("type".to_owned(), Value::String("object".to_owned()));
        out.insert("allOf".to_owned(), Value::Array(parts));
        Value::Object(out)
    }

    /// Every rule `value` breaks; empty when it is valid.
    pub fn validate(&self, value: &Value) -> Vec<SchemaError> {
        self.process(value).errors
    }

    /// Validates `value` and works out the visibility of each of its values.
    pub fn process(&self, value: &Value) -> SchemaReport {
        let mut validator = Validator::default();
        for doc in &self.docs {
            validator.check(&doc.root, &doc.root, value, &mut String::new(), 0);
        }
        let (mut errors, annotations) = validator.finish();
        let mut report = SchemaReport::default();
        annotate(
            value,
            &annotations,
            &mut AnnotateAt {
                pointer: String::new(),
                dotted: String::new(),
                inherited: Visibility::Backend,
                array_explicit: None,
            },
            &mut report,
            &mut errors,
        );
        report.errors = errors;
        report
    }

    /// The visibility the schemas give a path, without looking at any data.
    ///
    /// `pointer` is a JSON pointer (`/backend/baseUrl`). Every branch that
    /// could describe the path counts (all of `allOf`, `anyOf` and `oneOf`);
    /// map entries follow `additionalProperties` and array elements `items`.
    /// Should the branches disagree between `frontend` and `secret`, the
    /// answer is `secret`, the safe one.
    pub fn visibility_of(&self, pointer: &str) -> Visibility {
        let segments: Vec<String> = split_pointer(pointer);
        let mut found = BTreeSet::new();
        for doc in &self.docs {
            static_visibility(
                &doc.root,
                &doc.root,
                &segments,
                Visibility::Backend,
                &mut found,
                0,
            );
        }
        if found.contains(&Visibility::Secret) {
            Visibility::Secret
        } else if found.contains(&Visibility::Frontend) {
            Visibility::Frontend
        } else {
            Visibility::Backend
        }
    }

    /// Rejects `frontend` and `secret` given to the same path by different
    /// schema nodes, looking only at `properties`, `additionalProperties`,
    /// `items`, the combinators and `$ref`s (the structural part).
    fn check_static_visibilities(&self) -> Result<(), SchemaLoadError> {
        let mut seen: BTreeMap<String, BTreeSet<Visibility>> = BTreeMap::new();
        for doc in &self.docs {
            collect_static(&doc.root, &doc.root, &mut String::new(), &mut seen, 0);
        }
        for (path, set) in seen {
            if set.contains(&Visibility::Frontend) && set.contains(&Visibility::Secret) {
                return Err(SchemaLoadError::VisibilityConflict { path });
            }
        }
        Ok(())
    }
}

/// The schema of Greenroom's core keys (from `schemas/core.json`).
pub fn core_schema() -> ConfigSchema {
    // The file is part of this crate and a unit test proves that it parses;
    // the empty fallback only exists so that this can never panic.
    ConfigSchema::from_json("greenroom-config", CORE_SCHEMA_JSON).unwrap_or_default()
}

impl SchemaReport {
    /// The effective visibility of the value at `pointer`; `backend` for
    /// paths the report knows nothing about.
    pub fn visibility_at(&self, pointer: &str) -> Visibility {
        self.visibility
            .get(pointer)
            .copied()
            .unwrap_or(Visibility::Backend)
    }

    /// The JSON pointers of every value whose visibility is `secret`.
    pub fn secret_pointers(&self) -> BTreeSet<String> {
        self.visibility
            .iter()
            .filter(|(_, v)| **v == Visibility::Secret)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Only the parts of `value` that browsers may see: values whose
    /// visibility is `frontend`, and the objects and arrays that hold them.
    ///
    /// As in Backstage, an object marked `frontend` is kept (possibly empty)
    /// but its members still need their own `frontend` mark.
    pub fn frontend_only(&self, value: &Value) -> Value {
        self.filter(value, "", Visibility::Frontend)
            .unwrap_or_else(|| Value::Object(Map::new()))
    }

    fn filter(&self, value: &Value, pointer: &str, keep: Visibility) -> Option<Value> {
        let visible = self.visibility_at(pointer) == keep;
        match value {
            Value::Object(map) => {
                let mut out = Map::new();
                for (key, child) in map {
                    let child_pointer = format!("{pointer}/{}", escape_segment(key));
                    if let Some(kept) = self.filter(child, &child_pointer, keep) {
                        out.insert(key.clone(), kept);
                    }
                }
                (visible || !out.is_empty()).then_some(Value::Object(out))
            }
            Value::Array(items) => {
                let mut out = Vec::new();
                for (index, child) in items.iter().enumerate() {
                    let child_pointer = format!("{pointer}/{index}");
                    if let Some(kept) = self.filter(child, &child_pointer, keep) {
                        out.push(kept);
                    }
                }
                (visible || !out.is_empty()).then_some(Value::Array(out))
            }
            Value::Null => None,
            scalar => visible.then(|| scalar.clone()),
        }
    }
}

/// Where [`annotate`] stands.
struct AnnotateAt {
    pointer: String,
    dotted: String,
    /// The `deepVisibility` handed down by ancestors.
    inherited: Visibility,
    /// For a scalar array element: the array's own `visibility`.
    array_explicit: Option<Visibility>,
}

/// Works out the effective visibility of every value from the annotations
/// the validator collected, and the deprecated keys the config sets.
fn annotate(
    value: &Value,
    annotations: &Annotations,
    at: &mut AnnotateAt,
    report: &mut SchemaReport,
    errors: &mut Vec<SchemaError>,
) {
    if let Some(description) = annotations.deprecated.get(&at.pointer) {
        report.deprecations.push(Deprecation {
            key: at.dotted.clone(),
            description: description.clone(),
        });
    }
    let explicit = annotations.visibility.get(&at.pointer).copied();
    let deep = annotations.deep_visibility.get(&at.pointer).copied();
    // A scalar element of an array with no visibility of its own shares the
    // array's, as Backstage's filter looks such elements up at the array path.
    let explicit = match (explicit, value.is_object() || value.is_array()) {
        (None, false) => at.array_explicit,
        (explicit, _) => explicit,
    };
    let mut inherited = at.inherited;
    let mut effective = inherited;
    let mut conflict = false;
    for v in [deep, explicit].into_iter().flatten() {
        match effective.merge(v) {
            Some(merged) => effective = merged,
            None => {
                conflict = true;
                effective = Visibility::Secret;
            }
        }
    }
    if let Some(d) = deep {
        inherited = inherited.merge(d).unwrap_or(Visibility::Secret);
    }
    if conflict
        && !errors
            .iter()
            .any(|e| matches!(e, SchemaError::VisibilityConflict { path } if *path == at.pointer))
    {
        errors.push(SchemaError::VisibilityConflict {
            path: at.pointer.clone(),
        });
    }
    report.visibility.insert(at.pointer.clone(), effective);
    let saved_pointer = at.pointer.len();
    let saved_dotted = at.dotted.len();
    let saved_inherited = at.inherited;
    let saved_array = at.array_explicit;
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                at.pointer.push('/');
                at.pointer.push_str(&escape_segment(key));
                if !at.dotted.is_empty() {
                    at.dotted.push('.');
                }
                at.dotted.push_str(key);
                at.inherited = inherited;
                at.array_explicit = None;
                annotate(child, annotations, at, report, errors);
                at.pointer.truncate(saved_pointer);
                at.dotted.truncate(saved_dotted);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                at.pointer.push_str(&format!("/{index}"));
                at.dotted.push_str(&format!("[{index}]"));
                at.inherited = inherited;
                at.array_explicit = explicit;
                annotate(child, annotations, at, report, errors);
                at.pointer.truncate(saved_pointer);
                at.dotted.truncate(saved_dotted);
            }
        }
        _ => {}
    }
    at.inherited = saved_inherited;
    at.array_explicit = saved_array;
}

/// Escapes one JSON pointer segment (`~` as `~0`, `/` as `~1`).
pub(crate) fn escape_segment(segment: &str) -> String {
    if segment.contains(['~', '/']) {
        segment.replace('~', "~0").replace('/', "~1")
    } else {
        segment.to_owned()
    }
}

/// Splits a JSON pointer into unescaped segments; `""` and `"/"`-less text
/// give no segments.
fn split_pointer(pointer: &str) -> Vec<String> {
    pointer
        .strip_prefix('/')
        .map(|rest| {
            rest.split('/')
                .map(|s| s.replace("~1", "/").replace("~0", "~"))
                .collect()
        })
        .unwrap_or_default()
}

/// Resolves a `$ref` inside its own document (`#` or `#/a/b`).
pub(crate) fn resolve_ref<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    if pointer.is_empty() {
        return Some(root);
    }
    let mut node = root;
    for segment in split_pointer(pointer) {
        node = match node {
            Value::Object(map) => map.get(&segment)?,
            Value::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(node)
}

/// Checks the shape of the keywords the validator relies on.
fn check_schema(
    doc: &SchemaDoc,
    node: &Value,
    at: &mut String,
    depth: usize,
) -> Result<(), SchemaLoadError> {
    let fail = |at: &str, message: String| SchemaLoadError::Invalid {
        name: doc.name.clone(),
        at: if at.is_empty() {
            "/".to_owned()
        } else {
            at.to_owned()
        },
        message,
    };
    if depth > MAX_SCHEMA_DEPTH {
        return Err(fail(at, "schema is nested too deeply".to_owned()));
    }
    let map = match node {
        Value::Bool(_) => return Ok(()),
        Value::Object(map) => map,
        _ => {
            return Err(fail(
                at,
                "a schema must be an object or a boolean".to_owned(),
            ));
        }
    };
    for keyword in ["visibility", "deepVisibility"] {
        if let Some(v) = map.get(keyword)
            && v.as_str().and_then(Visibility::parse).is_none()
        {
            return Err(fail(
                at,
                format!("{keyword} must be one of frontend, backend, secret, got {v}"),
            ));
        }
    }
    if let Some(t) = map.get("type") {
        let names: Vec<&Value> = match t {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        for name in names {
            if !name.as_str().is_some_and(|n| {
                matches!(
                    n,
                    "null" | "boolean" | "object" | "array" | "number" | "integer" | "string"
                )
            }) {
                return Err(fail(at, format!("unknown type {name}")));
            }
        }
    }
    if let Some(r) = map.get("required")
        && !r.as_array().is_some_and(|a| a.iter().all(Value::is_string))
    {
        return Err(fail(at, "required must be an array of strings".to_owned()));
    }
    if let Some(e) = map.get("enum")
        && !e.is_array()
    {
        return Err(fail(at, "enum must be an array".to_owned()));
    }
    for keyword in [
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
    ] {
        if let Some(v) = map.get(keyword)
            && !v.is_number()
        {
            return Err(fail(at, format!("{keyword} must be a number")));
        }
    }
    if let Some(r) = map.get("$ref") {
        let target = r.as_str().and_then(|r| resolve_ref(&doc.root, r));
        if target.is_none() {
            return Err(fail(at, format!("can't resolve reference {r}")));
        }
    }
    let base = at.len();
    let visit = |at: &mut String, suffix: &str, child: &Value| {
        at.push_str(suffix);
        let result = check_schema(doc, child, at, depth + 1);
        at.truncate(base);
        result
    };
    for keyword in ["properties", "definitions", "$defs"] {
        if let Some(v) = map.get(keyword) {
            let Value::Object(children) = v else {
                return Err(fail(at, format!("{keyword} must be an object")));
            };
            for (key, child) in children {
                visit(at, &format!("/{keyword}/{}", escape_segment(key)), child)?;
            }
        }
    }
    for keyword in ["allOf", "anyOf", "oneOf"] {
        if let Some(v) = map.get(keyword) {
            let Value::Array(children) = v else {
                return Err(fail(at, format!("{keyword} must be an array")));
            };
            for (index, child) in children.iter().enumerate() {
                visit(at, &format!("/{keyword}/{index}"), child)?;
            }
        }
    }
    for keyword in ["additionalProperties", "not"] {
        if let Some(child) = map.get(keyword) {
            visit(at, &format!("/{keyword}"), child)?;
        }
    }
    match map.get("items") {
        Some(Value::Array(children)) => {
            for (index, child) in children.iter().enumerate() {
                visit(at, &format!("/items/{index}"), child)?;
            }
        }
        Some(child) => visit(at, "/items", child)?,
        None => {}
    }
    Ok(())
}

/// Collects the visibilities that schema nodes give each structural path.
fn collect_static(
    root: &Value,
    node: &Value,
    path: &mut String,
    seen: &mut BTreeMap<String, BTreeSet<Visibility>>,
    depth: usize,
) {
    let Value::Object(map) = node else {
        return;
    };
    if depth > MAX_SCHEMA_DEPTH {
        return;
    }
    if let Some(v) = map
        .get("visibility")
        .and_then(Value::as_str)
        .and_then(Visibility::parse)
    {
        let key = if path.is_empty() {
            "/".to_owned()
        } else {
            path.clone()
        };
        seen.entry(key).or_default().insert(v);
    }
    let base = path.len();
    if let Some(Value::Object(props)) = map.get("properties") {
        for (key, child) in props {
            path.push('/');
            path.push_str(&escape_segment(key));
            collect_static(root, child, path, seen, depth + 1);
            path.truncate(base);
        }
    }
    for keyword in ["additionalProperties", "items"] {
        match map.get(keyword) {
            Some(child @ Value::Object(_)) => {
                path.push_str("/*");
                collect_static(root, child, path, seen, depth + 1);
                path.truncate(base);
            }
            Some(Value::Array(children)) if keyword == "items" => {
                for (index, child) in children.iter().enumerate() {
                    path.push_str(&format!("/{index}"));
                    collect_static(root, child, path, seen, depth + 1);
                    path.truncate(base);
                }
            }
            _ => {}
        }
    }
    for keyword in ["allOf", "anyOf", "oneOf"] {
        if let Some(Value::Array(children)) = map.get(keyword) {
            for child in children {
                collect_static(root, child, path, seen, depth + 1);
            }
        }
    }
    if let Some(target) = map
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| resolve_ref(root, r))
    {
        collect_static(root, target, path, seen, depth + 1);
    }
}

/// Collects the visibilities the schema could give the path `segments`.
fn static_visibility(
    root: &Value,
    node: &Value,
    segments: &[String],
    inherited: Visibility,
    found: &mut BTreeSet<Visibility>,
    depth: usize,
) {
    let Value::Object(map) = node else {
        return;
    };
    if depth > MAX_SCHEMA_DEPTH {
        return;
    }
    let deep = map
        .get("deepVisibility")
        .and_then(Value::as_str)
        .and_then(Visibility::parse);
    let inherited = match deep {
        Some(d) => inherited.merge(d).unwrap_or(Visibility::Secret),
        None => inherited,
    };
    for keyword in ["allOf", "anyOf", "oneOf"] {
        if let Some(Value::Array(children)) = map.get(keyword) {
            for child in children {
                static_visibility(root, child, segments, inherited, found, depth + 1);
            }
        }
    }
    if let Some(target) = map
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| resolve_ref(root, r))
    {
        static_visibility(root, target, segments, inherited, found, depth + 1);
    }
    let Some((first, rest)) = segments.split_first() else {
        let own = map
            .get("visibility")
            .and_then(Value::as_str)
            .and_then(Visibility::parse);
        found.insert(match own {
            Some(v) => inherited.merge(v).unwrap_or(Visibility::Secret),
            None => inherited,
        });
        return;
    };
    let property = map
        .get("properties")
        .and_then(Value::as_object)
        .and_then(|p| p.get(first));
    if let Some(child) = property {
        static_visibility(root, child, rest, inherited, found, depth + 1);
    } else if let Some(child @ Value::Object(_)) = map.get("additionalProperties") {
        static_visibility(root, child, rest, inherited, found, depth + 1);
    }
    match map.get("items") {
        Some(child @ Value::Object(_)) if first.parse::<usize>().is_ok() => {
            static_visibility(root, child, rest, inherited, found, depth + 1);
        }
        Some(Value::Array(children)) => {
            if let Some(child) = first.parse::<usize>().ok().and_then(|i| children.get(i)) {
                static_visibility(root, child, rest, inherited, found, depth + 1);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_core_schema_parses() {
        let schema = ConfigSchema::from_json("core", CORE_SCHEMA_JSON);
        assert!(schema.is_ok(), "{schema:?}");
        assert_eq!(core_schema().names(), vec!["greenroom-config"]);
    }
}
