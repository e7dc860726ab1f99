//! Search-row flattening of a final entity (spec §8.8): the rows every filter, order, full-text
//! match and facet is evaluated against.

use std::collections::HashSet;

use serde_json::Value;

use crate::error::IndexError;

/// Keys longer than this (in UTF-16 units, as JavaScript counts) are dropped.
pub(crate) const MAX_KEY_LENGTH: usize = 200;
/// Lower-cased values longer than this are stored as null (the row stays).
pub(crate) const MAX_VALUE_LENGTH: usize = 200;

/// Paths whose subtrees (or single values) the generic walk skips.
const SKIPPED_PATHS: [&str; 7] = [
    "attachments",
    "relations",
    "status",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "metadata.etag",
];

/// One search row: lower-cased key, lower-cased value and the value as written.
///
/// The value is `None` for null values and for values too long to index.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SearchRow {
    /// Lower-cased dotted key, at most 200 characters.
    pub key: String,
    /// Lower-cased value.
    pub value: Option<String>,
    /// The original spelling, kept only when it differs from `value` (saves an allocation
    /// for the common all-lower-case value).
    spelling: Option<String>,
}

impl SearchRow {
    /// The value with its original case (used for facets); `None` exactly when `value` is.
    pub fn original(&self) -> Option<&str> {
        self.spelling.as_deref().or(self.value.as_deref())
    }
}

/// The search rows of a final entity, in Backstage's order, or the duplicate-key error.
pub fn search_rows(entity: &Value) -> Result<Vec<SearchRow>, IndexError> {
    let raw = raw_rows(entity, None);
    check_case_duplicates(&raw)?;
    Ok(to_rows(raw, None))
}

/// Only the rows whose lower-cased key is `key` (already lower-case); used for sort values.
///
/// Pruning the walk to the key's path keeps this far cheaper than a full flattening while
/// producing exactly the rows the full flattening has for that key.
pub(crate) fn rows_for_key(entity: &Value, key: &str) -> Vec<SearchRow> {
    to_rows(raw_rows(entity, Some(key)), Some(key))
}

/// Lower-cases like JavaScript's `toLocaleLowerCase`, with a fast path for ASCII.
pub(crate) fn lower(s: &str) -> String {
    if s.is_ascii() {
        s.to_ascii_lowercase()
    } else {
        s.to_lowercase()
    }
}

/// Lower-cases an owned string, reusing it when it is lower-case already.
fn into_lower(s: String) -> String {
    if s.is_ascii() {
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            s.to_ascii_lowercase()
        } else {
            s
        }
    } else {
        s.to_lowercase()
    }
}

/// A row before value lower-casing: the lower-cased key, the key as written when that
/// differs, and the stringified value.
struct RawRow {
    lower_key: String,
    spelled: Option<String>,
    value: Option<String>,
}

/// Rows beyond which the "key already emitted" check switches from a scan to a set.
const SCAN_LIMIT: usize = 32;

struct Walker<'a> {
    target: Option<&'a str>,
    rows: Vec<RawRow>,
    seen: Option<HashSet<String>>,
}

impl Walker<'_> {
    fn push(&mut self, key: String, value: Option<String>) {
        let (lower_key, spelled) = if key.is_ascii() && !key.bytes().any(|b| b.is_ascii_uppercase())
        {
            (key, None)
        } else {
            let lower_key = lower(&key);
            let spelled = (lower_key != key).then_some(key);
            (lower_key, spelled)
        };
        if let Some(target) = self.target
            && lower_key != target
        {
            return;
        }
        if let Some(seen) = &mut self.seen {
            seen.insert(lower_key.clone());
        }
        self.rows.push(RawRow {
            lower_key,
            spelled,
            value,
        });
    }

    /// Whether a row with this lower-cased key was emitted already.
    fn emitted(&mut self, lower_key: &str) -> bool {
        if self.seen.is_none() && self.rows.len() > SCAN_LIMIT {
            self.seen = Some(self.rows.iter().map(|r| r.lower_key.clone()).collect());
        }
        match &self.seen {
            Some(seen) => seen.contains(lower_key),
            None => self.rows.iter().any(|r| r.lower_key == lower_key),
        }
    }

    /// Whether the walk may lead to the target key (always true for a full walk).
    fn may_reach(&self, path: &str) -> bool {
        self.target.is_none_or(|target| may_reach(target, path))
    }

    fn visit(&mut self, path: &str, current: &Value, depth: usize) {
        if SKIPPED_PATHS.contains(&path) || depth > 64 {
            return;
        }
        match current {
            Value::Null => self.push(path.to_owned(), None),
            Value::Bool(_) | Value::Number(_) | Value::String(_) => {
                self.push(path.to_owned(), Some(stringify_scalar(current)));
            }
            Value::Array(items) => {
                for item in items {
                    self.visit(path, item, depth + 1);
                    if let Value::String(s) = item {
                        let item_key = join(path, s);
                        // Only the first spelling of `<path>.<item>` gets a row, compared
                        // case-insensitively against every row emitted so far.
                        let lower_item = lower(&item_key);
                        if self.target.is_none_or(|t| t == lower_item) && !self.emitted(&lower_item)
                        {
                            self.push(item_key, Some("true".to_owned()));
                        }
                    }
                }
            }
            Value::Object(map) => {
                for (key, value) in map {
                    let child = join(path, key);
                    if self.may_reach(&child) {
                        self.visit(&child, value, depth + 1);
                    }
                }
            }
        }
    }
}

/// Whether a member at `path` may hold rows for the lower-cased `target` key: its lower-cased
/// path is the key or a leading part of it.
fn may_reach(target: &str, path: &str) -> bool {
    // Compare lower-cased characters without allocating; most paths fail early.
    let mut rest = target.chars();
    for c in path.chars().flat_map(char::to_lowercase) {
        if rest.next() != Some(c) {
            return false;
        }
    }
    matches!(rest.next(), None | Some('.'))
}

/// What a sparse parse must keep for [`rows_for_key`] to find every row of one key: the
/// members the pruned walk visits, plus the identity fields and relations that rows are
/// always made from.
struct KeyTarget<'a>(&'a str);

impl crate::sparse::Keep for KeyTarget<'_> {
    fn keep(&self, path: &str) -> bool {
        may_reach(self.0, path)
            || matches!(
                path,
                "metadata" | "metadata.name" | "metadata.namespace" | "metadata.uid"
            )
            || crate::sparse::within(path, "relations")
    }
}

/// [`rows_for_key`] over an entity's stored JSON text, parsing only what the key needs.
pub(crate) fn rows_for_key_in_text(json: &str, key: &str) -> Vec<SearchRow> {
    rows_for_key(&crate::sparse::parse_sparse(json, &KeyTarget(key)), key)
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        return key.to_owned();
    }
    let mut joined = String::with_capacity(path.len() + 1 + key.len());
    joined.push_str(path);
    joined.push('.');
    joined.push_str(key);
    joined
}

fn raw_rows(entity: &Value, target: Option<&str>) -> Vec<RawRow> {
    let mut walker = Walker {
        target,
        rows: Vec::new(),
        seen: None,
    };
    walker.visit("", entity, 0);

    let metadata = entity.get("metadata");
    let field = |name: &str| metadata.and_then(|m| m.get(name));
    for name in ["name", "namespace", "uid"] {
        let value = field(name).and_then(scalar_or_null);
        walker.push(format!("metadata.{name}"), value);
    }
    // A missing or falsy namespace also matches `default`, as in Backstage.
    let namespace_is_falsy = match field("namespace") {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Bool(b)) => !b,
        Some(Value::Number(n)) => n.as_f64() == Some(0.0),
        Some(_) => false,
    };
    if namespace_is_falsy {
        walker.push("metadata.namespace".to_owned(), Some("default".to_owned()));
    }

    if let Some(Value::Array(relations)) = entity.get("relations") {
        for relation in relations {
            let Some(kind) = relation.get("type").and_then(Value::as_str) else {
                continue;
            };
            let target_ref = match relation.get("targetRef") {
                Some(Value::String(s)) => Some(s.clone()),
                _ => relation.get("target").and_then(compound_target),
            };
            walker.push(format!("relations.{kind}"), target_ref);
        }
    }
    walker.rows
}

/// The canonical string of a legacy `target: {kind, namespace, name}` relation object.
fn compound_target(target: &Value) -> Option<String> {
    let kind = target.get("kind")?.as_str()?;
    let name = target.get("name")?.as_str()?;
    let namespace = target.get("namespace").and_then(Value::as_str);
    Some(greenroom_catalog_model::entity_ref::stringify_entity_ref(
        kind, namespace, name,
    ))
}

fn scalar_or_null(value: &Value) -> Option<String> {
    match value {
        Value::Bool(_) | Value::Number(_) | Value::String(_) => Some(stringify_scalar(value)),
        _ => None,
    }
}

/// JavaScript's `String(v)` for a JSON scalar.
pub(crate) fn stringify_scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => {
            if n.is_i64() || n.is_u64() {
                n.to_string()
            } else {
                js_number(n.as_f64().unwrap_or(0.0))
            }
        }
        Value::Null => "null".to_owned(),
        Value::Array(_) | Value::Object(_) => value.to_string(),
    }
}

/// Formats a float the way JavaScript does for the common cases (integers without a
/// fraction, exponent notation beyond 1e21 and below 1e-6).
fn js_number(f: f64) -> String {
    if !f.is_finite() {
        return if f.is_nan() {
            "NaN".to_owned()
        } else if f > 0.0 {
            "Infinity".to_owned()
        } else {
            "-Infinity".to_owned()
        };
    }
    let abs = f.abs();
    if abs == 0.0 {
        return "0".to_owned();
    }
    if (1e-6..1e21).contains(&abs) {
        return format!("{f}");
    }
    let text = format!("{f:e}");
    match text.split_once('e') {
        Some((mantissa, exp)) if !exp.starts_with('-') => format!("{mantissa}e+{exp}"),
        _ => text,
    }
}

/// Length in UTF-16 code units, which is what Backstage's limits count.
pub(crate) fn js_len(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.encode_utf16().count()
    }
}

fn check_case_duplicates(raw: &[RawRow]) -> Result<(), IndexError> {
    // Without any key spelled differently from its lower-case form there is nothing to find.
    if raw.iter().all(|r| r.spelled.is_none()) {
        return Ok(());
    }
    let spelling = |r: &RawRow| r.spelled.clone().unwrap_or_else(|| r.lower_key.clone());
    let mut distinct: Vec<(String, &str)> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for row in raw {
        let spelled = spelling(row);
        if seen.insert(spelled.clone()) {
            distinct.push((spelled, row.lower_key.as_str()));
        }
    }
    let mut lower_keys: HashSet<&str> = distinct.iter().map(|(_, l)| *l).collect();
    if lower_keys.len() == distinct.len() {
        return Ok(());
    }
    // Every spelling after the first of a lower-cased key is reported, lower-cased.
    let difference: Vec<&str> = distinct
        .iter()
        .filter(|(_, l)| !lower_keys.remove(l))
        .map(|(_, l)| *l)
        .collect();
    Err(IndexError::DuplicateKeys(format!(
        "'{}'",
        difference.join("', '")
    )))
}

fn to_rows(raw: Vec<RawRow>, target: Option<&str>) -> Vec<SearchRow> {
    let mut rows = Vec::with_capacity(raw.len());
    for row in raw {
        if target.is_some_and(|t| t != row.lower_key) || js_len(&row.lower_key) > MAX_KEY_LENGTH {
            continue;
        }
        let (value, spelling) = match row.value {
            None => (None, None),
            Some(original) => {
                let needs_lowering =
                    !original.is_ascii() || original.bytes().any(|b| b.is_ascii_uppercase());
                if !needs_lowering {
                    if js_len(&original) > MAX_VALUE_LENGTH {
                        (None, None)
                    } else {
                        (Some(original), None)
                    }
                } else {
                    let lowered = into_lower(original.clone());
                    if js_len(&lowered) > MAX_VALUE_LENGTH {
                        (None, None)
                    } else if lowered == original {
                        (Some(lowered), None)
                    } else {
                        (Some(lowered), Some(original))
                    }
                }
            }
        };
        rows.push(SearchRow {
            key: row.lower_key,
            value,
            spelling,
        });
    }
    rows
}
