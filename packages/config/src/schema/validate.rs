//! The validation walk: checks a value against one schema node and records
//! the `visibility`, `deepVisibility` and `deprecated` annotations met on
//! the way, keyed by the JSON pointer of the value.
//!
//! Like ajv with `allErrors`, the walk does not stop at the first failure.
//! Annotations are recorded for every schema node evaluated, including the
//! branches of an `anyOf` that did not match, which is what Backstage's ajv
//! keywords do too.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Number, Value};

use super::{MAX_SCHEMA_DEPTH, SchemaError, Visibility, escape_segment, resolve_ref};

/// Annotations gathered during validation, by JSON pointer.
#[derive(Debug, Default)]
pub(crate) struct Annotations {
    pub(crate) visibility: BTreeMap<String, Visibility>,
    pub(crate) deep_visibility: BTreeMap<String, Visibility>,
    pub(crate) deprecated: BTreeMap<String, String>,
}

/// One annotation met during the walk, kept in order so that the ones made
/// by a failing `anyOf`/`oneOf` branch can be taken back.
#[derive(Debug)]
enum Note {
    Visibility(String, Visibility),
    Deep(String, Visibility),
    Deprecated(String, String),
}

/// The state of one validation run.
#[derive(Debug, Default)]
pub(crate) struct Validator {
    errors: Vec<SchemaError>,
    notes: Vec<Note>,
}

impl Validator {
    /// The errors found and the annotations of the schema nodes that
    /// applied. Two nodes giving one value `frontend` and `secret` add a
    /// [`SchemaError::VisibilityConflict`].
    pub(crate) fn finish(self) -> (Vec<SchemaError>, Annotations) {
        let Validator { mut errors, notes } = self;
        let mut annotations = Annotations::default();
        let mut conflicts = BTreeSet::new();
        for note in notes {
            match note {
                Note::Visibility(path, v) => {
                    record(&mut annotations.visibility, path, v, &mut conflicts);
                }
                Note::Deep(path, v) => {
                    record(&mut annotations.deep_visibility, path, v, &mut conflicts);
                }
                Note::Deprecated(path, text) => {
                    let entry = annotations.deprecated.entry(path).or_default();
                    if entry.is_empty() {
                        *entry = text;
                    }
                }
            }
        }
        errors.extend(
            conflicts
                .into_iter()
                .map(|path| SchemaError::VisibilityConflict { path }),
        );
        (errors, annotations)
    }

    fn fail(&mut self, path: &str, keyword: &'static str, message: String, params: String) {
        self.errors.push(SchemaError::Invalid {
            path: path.to_owned(),
            message,
            params,
            keyword,
        });
    }

    /// Checks `value` against one branch of a combinator; the branch's
    /// annotations are dropped when it does not match.
    fn branch(
        &mut self,
        root: &Value,
        schema: &Value,
        value: &Value,
        path: &mut String,
        depth: usize,
    ) -> bool {
        let mark = self.notes.len();
        let matched = self.check(root, schema, value, path, depth);
        if !matched {
            self.notes.truncate(mark);
        }
        matched
    }

    /// Checks `value` (at JSON pointer `path`) against `schema`, a node of
    /// the document `root`. Returns whether it is valid.
    pub(crate) fn check(
        &mut self,
        root: &Value,
        schema: &Value,
        value: &Value,
        path: &mut String,
        depth: usize,
    ) -> bool {
        let map = match schema {
            Value::Bool(true) => return true,
            Value::Bool(false) => {
                self.fail(
                    path,
                    "false schema",
                    "boolean schema is false".to_owned(),
                    String::new(),
                );
                return false;
            }
            Value::Object(map) => map,
            // Schemas are checked when loaded, so this is unreachable in
            // practice; anything else accepts everything.
            _ => return true,
        };
        if depth > MAX_SCHEMA_DEPTH {
            self.fail(
                path,
                "depth",
                format!("must not nest deeper than {MAX_SCHEMA_DEPTH} levels"),
                format!("limit={MAX_SCHEMA_DEPTH}"),
            );
            return false;
        }
        self.annotate(map, path);

        let mut valid = true;

        // `type` first: a value that can be converted to an allowed type is
        // checked further in its converted form, as ajv's `coerceTypes` does.
        let value: Cow<'_, Value> = match map.get("type") {
            Some(t) => {
                let types: Vec<&str> = match t {
                    Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
                    other => other.as_str().into_iter().collect(),
                };
                match coerce(value, &types) {
                    Some(v) => v,
                    None => {
                        let joined = types.join(",");
                        self.fail(
                            path,
                            "type",
                            format!("must be {joined}"),
                            format!("type={joined}"),
                        );
                        valid = false;
                        Cow::Borrowed(value)
                    }
                }
            }
            None => Cow::Borrowed(value),
        };
        let value = value.as_ref();

        if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
            match resolve_ref(root, reference) {
                Some(target) => valid &= self.check(root, target, value, path, depth + 1),
                None => {
                    self.fail(
                        path,
                        "$ref",
                        format!("can't resolve reference {reference}"),
                        format!("ref={reference}"),
                    );
                    valid = false;
                }
            }
        }

        if let Some(Value::Array(allowed)) = map.get("enum")
            && !allowed.iter().any(|a| json_equal(a, value))
        {
            let list: Vec<String> = allowed.iter().map(display_js).collect();
            self.fail(
                path,
                "enum",
                "must be equal to one of the allowed values".to_owned(),
                format!("allowedValues={}", list.join(",")),
            );
            valid = false;
        }
        if let Some(constant) = map.get("const")
            && !json_equal(constant, value)
        {
            self.fail(
                path,
                "const",
                "must be equal to constant".to_owned(),
                format!("allowedValue={}", display_js(constant)),
            );
            valid = false;
        }

        match value {
            Value::Number(n) => valid &= self.check_number(map, n, path),
            Value::String(s) => valid &= self.check_string(map, s, path),
            Value::Array(items) => valid &= self.check_array(root, map, items, path, depth),
            Value::Object(object) => valid &= self.check_object(root, map, object, path, depth),
            _ => {}
        }

        valid &= self.check_combinators(root, map, value, path, depth);
        valid
    }

    fn annotate(&mut self, map: &Map<String, Value>, path: &str) {
        let parse = |keyword: &str| {
            map.get(keyword)
                .and_then(Value::as_str)
                .and_then(Visibility::parse)
        };
        if let Some(v) = parse("visibility") {
            self.notes.push(Note::Visibility(path.to_owned(), v));
        }
        if let Some(v) = parse("deepVisibility") {
            self.notes.push(Note::Deep(path.to_owned(), v));
        }
        match map.get("deprecated") {
            Some(Value::String(text)) => {
                self.notes
                    .push(Note::Deprecated(path.to_owned(), text.clone()));
            }
            Some(Value::Bool(true)) => {
                self.notes
                    .push(Note::Deprecated(path.to_owned(), String::new()));
            }
            _ => {}
        }
    }

    fn check_number(&mut self, map: &Map<String, Value>, n: &Number, path: &str) -> bool {
        let Some(x) = n.as_f64() else {
            return true;
        };
        let mut valid = true;
        let rules: [(&'static str, &'static str, Comparison); 4] = [
            ("minimum", ">=", |x, l| x >= l),
            ("maximum", "<=", |x, l| x <= l),
            ("exclusiveMinimum", ">", |x, l| x > l),
            ("exclusiveMaximum", "<", |x, l| x < l),
        ];
        for (keyword, comparison, holds) in rules {
            if let Some(Value::Number(limit)) = map.get(keyword)
                && let Some(l) = limit.as_f64()
                && !holds(x, l)
            {
                self.fail(
                    path,
                    keyword,
                    format!("must be {comparison} {limit}"),
                    format!("comparison={comparison} limit={limit}"),
                );
                valid = false;
            }
        }
        valid
    }

    fn check_string(&mut self, map: &Map<String, Value>, s: &str, path: &str) -> bool {
        let mut valid = true;
        // ajv counts characters (code points), not bytes.
        let length = s.chars().count() as u64;
        if let Some(limit) = map.get("minLength").and_then(Value::as_u64)
            && length < limit
        {
            self.fail(
                path,
                "minLength",
                format!("must NOT have fewer than {limit} characters"),
                format!("limit={limit}"),
            );
            valid = false;
        }
        if let Some(limit) = map.get("maxLength").and_then(Value::as_u64)
            && length > limit
        {
            self.fail(
                path,
                "maxLength",
                format!("must NOT have more than {limit} characters"),
                format!("limit={limit}"),
            );
            valid = false;
        }
        valid
    }

    fn check_array(
        &mut self,
        root: &Value,
        map: &Map<String, Value>,
        items: &[Value],
        path: &mut String,
        depth: usize,
    ) -> bool {
        let mut valid = true;
        let count = items.len() as u64;
        if let Some(limit) = map.get("minItems").and_then(Value::as_u64)
            && count < limit
        {
            self.fail(
                path,
                "minItems",
                format!("must NOT have fewer than {limit} items"),
                format!("limit={limit}"),
            );
            valid = false;
        }
        if let Some(limit) = map.get("maxItems").and_then(Value::as_u64)
            && count > limit
        {
            self.fail(
                path,
                "maxItems",
                format!("must NOT have more than {limit} items"),
                format!("limit={limit}"),
            );
            valid = false;
        }
        let base = path.len();
        for (index, item) in items.iter().enumerate() {
            let item_schema = match map.get("items") {
                Some(Value::Array(tuple)) => tuple.get(index),
                Some(schema) => Some(schema),
                None => None,
            };
            if let Some(item_schema) = item_schema {
                path.push_str(&format!("/{index}"));
                valid &= self.check(root, item_schema, item, path, depth + 1);
                path.truncate(base);
            }
        }
        valid
    }

    fn check_object(
        &mut self,
        root: &Value,
        map: &Map<String, Value>,
        object: &Map<String, Value>,
        path: &mut String,
        depth: usize,
    ) -> bool {
        let mut valid = true;
        if let Some(Value::Array(required)) = map.get("required") {
            for name in required.iter().filter_map(Value::as_str) {
                if !object.contains_key(name) {
                    self.fail(
                        path,
                        "required",
                        format!("must have required property '{name}'"),
                        format!("missingProperty={name}"),
                    );
                    valid = false;
                }
            }
        }
        let properties = map.get("properties").and_then(Value::as_object);
        let additional = map.get("additionalProperties");
        let base = path.len();
        for (key, child) in object {
            let declared = properties.and_then(|p| p.get(key));
            let child_schema = match (declared, additional) {
                (Some(schema), _) => schema,
                (None, Some(Value::Bool(false))) => {
                    self.fail(
                        path,
                        "additionalProperties",
                        "must NOT have additional properties".to_owned(),
                        format!("additionalProperty={key}"),
                    );
                    valid = false;
                    continue;
                }
                (None, Some(schema)) => schema,
                (None, None) => continue,
            };
            path.push('/');
            path.push_str(&escape_segment(key));
            valid &= self.check(root, child_schema, child, path, depth + 1);
            path.truncate(base);
        }
        valid
    }

    fn check_combinators(
        &mut self,
        root: &Value,
        map: &Map<String, Value>,
        value: &Value,
        path: &mut String,
        depth: usize,
    ) -> bool {
        let mut valid = true;
        if let Some(Value::Array(parts)) = map.get("allOf") {
            for part in parts {
                valid &= self.check(root, part, value, path, depth + 1);
            }
        }
        if let Some(Value::Array(branches)) = map.get("anyOf") {
            let before = self.errors.len();
            let mut any = false;
            for branch in branches {
                any |= self.branch(root, branch, value, path, depth + 1);
            }
            if any {
                // The branches' own errors only explain a failing `anyOf`.
                self.errors.truncate(before);
            } else {
                self.fail(
                    path,
                    "anyOf",
                    "must match a schema in anyOf".to_owned(),
                    String::new(),
                );
                valid = false;
            }
        }
        if let Some(Value::Array(branches)) = map.get("oneOf") {
            let before = self.errors.len();
            let mut passing = Vec::new();
            for (index, branch) in branches.iter().enumerate() {
                if self.branch(root, branch, value, path, depth + 1) {
                    passing.push(index.to_string());
                }
            }
            if passing.len() == 1 {
                self.errors.truncate(before);
            } else {
                if passing.len() > 1 {
                    self.errors.truncate(before);
                }
                let params = if passing.is_empty() {
                    "passingSchemas=null".to_owned()
                } else {
                    format!("passingSchemas={}", passing.join(","))
                };
                self.fail(
                    path,
                    "oneOf",
                    "must match exactly one schema in oneOf".to_owned(),
                    params,
                );
                valid = false;
            }
        }
        if let Some(negated) = map.get("not") {
            let before = self.errors.len();
            let mark = self.notes.len();
            let matched = self.check(root, negated, value, path, depth + 1);
            self.errors.truncate(before);
            // What a negated schema says about visibility does not apply.
            self.notes.truncate(mark);
            if matched {
                self.fail(path, "not", "must NOT be valid".to_owned(), String::new());
                valid = false;
            }
        }
        valid
    }
}

/// Folds one visibility into `map`, noting a conflict between `frontend`
/// and `secret` (the value is then treated as `secret`).
fn record(
    map: &mut BTreeMap<String, Visibility>,
    path: String,
    v: Visibility,
    conflicts: &mut BTreeSet<String>,
) {
    let merged = match map.get(&path) {
        None => v,
        Some(old) => old.merge(v).unwrap_or_else(|| {
            conflicts.insert(path.clone());
            Visibility::Secret
        }),
    };
    map.insert(path, merged);
}

/// A numeric limit check: `(value, limit) -> holds`.
type Comparison = fn(f64, f64) -> bool;

/// The JSON type names a value has (`integer` values are also `number`s).
fn has_type(value: &Value, name: &str) -> bool {
    match (name, value) {
        ("null", Value::Null)
        | ("boolean", Value::Bool(_))
        | ("object", Value::Object(_))
        | ("array", Value::Array(_))
        | ("number", Value::Number(_))
        | ("string", Value::String(_)) => true,
        ("integer", Value::Number(n)) => is_integer(n),
        _ => false,
    }
}

fn is_integer(n: &Number) -> bool {
    n.is_i64()
        || n.is_u64()
        || n.as_f64()
            .is_some_and(|f| f.is_finite() && f.fract() == 0.0)
}

/// Returns `value` when it has one of `types`, else the first conversion to
/// one of them that ajv's `coerceTypes` would make, else `None`. An empty
/// type list accepts anything.
fn coerce<'v>(value: &'v Value, types: &[&str]) -> Option<Cow<'v, Value>> {
    if types.is_empty() || types.iter().any(|t| has_type(value, t)) {
        return Some(Cow::Borrowed(value));
    }
    types
        .iter()
        .find_map(|t| coerce_to(value, t))
        .map(Cow::Owned)
}

fn coerce_to(value: &Value, target: &str) -> Option<Value> {
    match (target, value) {
        ("number" | "integer", Value::String(s)) => {
            // Like JavaScript's `+s`: surrounding whitespace is ignored, and
            // a blank string is not a number.
            let trimmed = s.trim();
            if trimmed.is_empty() {
                return None;
            }
            let x: f64 = trimmed.parse().ok()?;
            if !x.is_finite() || (target == "integer" && x.fract() != 0.0) {
                return None;
            }
            number_value(x)
        }
        ("number" | "integer", Value::Bool(b)) => Some(Value::from(u8::from(*b))),
        ("number" | "integer", Value::Null) => Some(Value::from(0)),
        ("string", Value::Number(n)) => Some(Value::String(n.to_string())),
        ("string", Value::Bool(b)) => Some(Value::String(b.to_string())),
        ("string", Value::Null) => Some(Value::String(String::new())),
        ("boolean", Value::String(s)) if s == "true" || s == "false" => {
            Some(Value::Bool(s == "true"))
        }
        ("boolean", Value::Number(n)) if n.as_f64() == Some(1.0) || n.as_f64() == Some(0.0) => {
            Some(Value::Bool(n.as_f64() == Some(1.0)))
        }
        ("boolean", Value::Null) => Some(Value::Bool(false)),
        ("null", Value::String(s)) if s.is_empty() => Some(Value::Null),
        ("null", Value::Number(n)) if n.as_f64() == Some(0.0) => Some(Value::Null),
        ("null", Value::Bool(false)) => Some(Value::Null),
        _ => None,
    }
}

/// An integral float becomes an integer number, so `"7007"` reads as `7007`.
fn number_value(x: f64) -> Option<Value> {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        #[expect(
            clippy::cast_possible_truncation,
            reason = "the value is integral and well inside the i64 range"
        )]
        let i = x as i64;
        return Some(Value::from(i));
    }
    Number::from_f64(x).map(Value::Number)
}

/// JSON equality where `1` and `1.0` are the same number, as in JavaScript.
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

/// How JavaScript's string conversion shows a value in ajv's parameters:
/// strings bare, `null` empty, objects as `[object Object]`.
fn display_js(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Object(_) => "[object Object]".to_owned(),
        Value::Array(items) => items.iter().map(display_js).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}
