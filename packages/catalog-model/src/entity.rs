//! The entity envelope: its accessors, the envelope check (spec §2 A.2), the default namespace and the identity freeze (§2 B.4).
//!
//! Entities are plain `serde_json::Value` objects; these helpers read the few
//! fields every stage needs without building a typed copy of the entity.

use serde_json::{Map, Value};

use crate::problem::{FieldPath, Problem, ProblemKind};

/// The namespace an entity lives in when its descriptor does not name one.
pub const DEFAULT_NAMESPACE: &str = "default";

/// The root keys a descriptor may carry; `relations` and `status` are output only.
pub const DESCRIPTOR_ROOT_KEYS: [&str; 4] = ["apiVersion", "kind", "metadata", "spec"];

/// The entity's `kind`, when it is a string.
pub fn kind(e: &Value) -> Option<&str> {
    e.get("kind").and_then(Value::as_str)
}

/// The entity's `apiVersion`, when it is a string.
pub fn api_version(e: &Value) -> Option<&str> {
    e.get("apiVersion").and_then(Value::as_str)
}

/// The entity's `metadata` object, when it is one.
pub fn metadata(e: &Value) -> Option<&Map<String, Value>> {
    e.get("metadata").and_then(Value::as_object)
}

/// The entity's `metadata.name`, when it is a string.
pub fn name(e: &Value) -> Option<&str> {
    metadata(e)?.get("name").and_then(Value::as_str)
}

/// The entity's namespace: `metadata.namespace` when it is a non-empty string, else `"default"`.
pub fn namespace(e: &Value) -> &str {
    match metadata(e)
        .and_then(|m| m.get("namespace"))
        .and_then(Value::as_str)
    {
        Some(ns) if !ns.is_empty() => ns,
        _ => DEFAULT_NAMESPACE,
    }
}

/// The entity's `metadata.annotations` object, when it is one.
pub fn annotations(e: &Value) -> Option<&Map<String, Value>> {
    metadata(e)?.get("annotations").and_then(Value::as_object)
}

/// The entity's `spec` object, when it is one.
pub fn spec(e: &Value) -> Option<&Map<String, Value>> {
    e.get("spec").and_then(Value::as_object)
}

/// Checks the minimal envelope every candidate entity must have (spec §2 A.2).
///
/// Other keys are not looked at here; the full rules run later in
/// [`crate::validation::EntityValidator`]. An empty result means the envelope is fine.
pub fn check_envelope(entity: &Value) -> Vec<Problem> {
    let mut problems = Vec::new();
    let Some(root) = entity.as_object() else {
        problems.push(envelope(FieldPath::root(), "entity must be an object"));
        return problems;
    };
    for field in ["apiVersion", "kind"] {
        if !is_non_empty_string(root.get(field)) {
            problems.push(envelope(
                FieldPath::keys(&[field]),
                format!("{field} must be a non-empty string"),
            ));
        }
    }
    match root.get("metadata") {
        Some(Value::Object(meta)) => {
            if !is_non_empty_string(meta.get("name")) {
                problems.push(envelope(
                    FieldPath::keys(&["metadata", "name"]),
                    "metadata.name must be a non-empty string",
                ));
            }
            if let Some(ns) = meta.get("namespace")
                && !is_non_empty_string(Some(ns))
            {
                problems.push(envelope(
                    FieldPath::keys(&["metadata", "namespace"]),
                    "metadata.namespace must be a non-empty string when present",
                ));
            }
        }
        _ => problems.push(envelope(
            FieldPath::keys(&["metadata"]),
            "metadata must be an object",
        )),
    }
    problems
}

/// Sets `metadata.namespace` to `"default"` when it is missing, `null` or empty.
///
/// This mirrors Backstage's default-namespace policy, which replaces any falsy
/// namespace. Validation runs before it, so an explicit `null` or `""` in a
/// descriptor is still reported as an error. Entities without a `metadata`
/// object are left alone.
pub fn apply_default_namespace(entity: &mut Value) {
    let Some(meta) = entity.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let needs_default = match meta.get("namespace") {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(_) => false,
    };
    if needs_default {
        meta.insert(
            "namespace".to_owned(),
            Value::String(DEFAULT_NAMESPACE.to_owned()),
        );
    }
}

/// Checks that a pre-processor left the entity's identity alone (spec §2 B.4).
///
/// The identity is `(kind, namespace, name)` compared case-insensitively, with a
/// missing namespace meaning `default`. The error names the first part that
/// changed.
pub fn check_identity_unchanged(before: &Value, after: &Value) -> Result<(), Problem> {
    let parts: [(IdentityPart, &[&str]); 3] = [
        (kind, &["kind"]),
        (|e| Some(namespace(e)), &["metadata", "namespace"]),
        (name, &["metadata", "name"]),
    ];
    for (read, path) in parts {
        let (a, b) = (read(before), read(after));
        let same = match (a, b) {
            (Some(a), Some(b)) => eq_lowercase(a, b),
            (None, None) => true,
            _ => false,
        };
        if !same {
            return Err(Problem::new(
                ProblemKind::Envelope,
                FieldPath::keys(path),
                format!(
                    "Fatal: The entity kind, namespace, or name changed during processing \
                     (from {} to {})",
                    ref_string(before),
                    ref_string(after)
                ),
            ));
        }
    }
    Ok(())
}

/// Reads one part of an entity's identity.
type IdentityPart = fn(&Value) -> Option<&str>;

/// The canonical `kind:namespace/name` string of an entity, lower-cased, for messages.
fn ref_string(e: &Value) -> String {
    format!(
        "{}:{}/{}",
        kind(e).unwrap_or("").to_lowercase(),
        namespace(e).to_lowercase(),
        name(e).unwrap_or("").to_lowercase()
    )
}

/// Case-insensitive equality with Unicode lower-casing, without allocating.
fn eq_lowercase(a: &str, b: &str) -> bool {
    a == b
        || a.chars()
            .flat_map(char::to_lowercase)
            .eq(b.chars().flat_map(char::to_lowercase))
}

fn is_non_empty_string(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::String(s)) if !s.is_empty())
}

fn envelope(path: FieldPath, message: impl Into<String>) -> Problem {
    Problem::new(ProblemKind::Envelope, path, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn envelope_reports_each_bad_field() {
        let problems = check_envelope(&json!({
            "apiVersion": "", "kind": 3, "metadata": {"namespace": ""}
        }));
        let paths: Vec<String> = problems.iter().map(|p| p.path.to_string()).collect();
        assert_eq!(
            paths,
            ["apiVersion", "kind", "metadata.name", "metadata.namespace"]
        );
        assert!(problems.iter().all(|p| p.kind == ProblemKind::Envelope));
    }

    #[test]
    fn envelope_accepts_minimal_entity_and_ignores_other_keys() {
        let e = json!({"apiVersion": "v1", "kind": "X", "metadata": {"name": "n"}, "extra": 1});
        assert!(check_envelope(&e).is_empty());
        assert_eq!(check_envelope(&json!([])).len(), 1);
        assert_eq!(
            check_envelope(&json!({"apiVersion": "v1", "kind": "X", "metadata": []}))[0]
                .path
                .to_string(),
            "metadata"
        );
    }

    #[test]
    fn default_namespace_fills_missing_null_and_empty_only() {
        for ns in [None, Some(json!(null)), Some(json!(""))] {
            let mut e = json!({"metadata": {"name": "n"}});
            if let Some(ns) = ns {
                e["metadata"]["namespace"] = ns;
            }
            apply_default_namespace(&mut e);
            assert_eq!(e["metadata"]["namespace"], "default");
        }
        let mut e = json!({"metadata": {"name": "n", "namespace": "ops"}});
        apply_default_namespace(&mut e);
        assert_eq!(e["metadata"]["namespace"], "ops");
    }

    #[test]
    fn accessors_read_fields() {
        let e = json!({"apiVersion": "v1", "kind": "K", "metadata": {"name": "n", "namespace": "",
            "annotations": {"a": "b"}}});
        assert_eq!(kind(&e), Some("K"));
        assert_eq!(api_version(&e), Some("v1"));
        assert_eq!(name(&e), Some("n"));
        assert_eq!(namespace(&e), "default");
        assert_eq!(annotations(&e).map(Map::len), Some(1));
        assert_eq!(namespace(&json!({"metadata": {"namespace": "x"}})), "x");
    }
}
