//! Pure assembly of one final entity from its processed entity, relations,
//! stored errors and orphan state (spec §8.7); no database access here.

use serde_json::{Map, Value, json};

/// The annotation stitching adds to entities no parent emits any more.
pub(crate) const ORPHAN_ANNOTATION: &str = "backstage.io/orphan";
/// What a rejected `javascript:` view or edit URL is replaced with.
pub(crate) const REJECTED_URL: &str =
    "https://backstage.io/annotation-rejected-for-security-reasons";
/// The status item type of processing errors.
pub(crate) const PROCESSING_STATUS_TYPE: &str = "backstage.io/catalog-processing";
const GUARDED_ANNOTATIONS: [&str; 2] = ["backstage.io/view-url", "backstage.io/edit-url"];

/// Everything stitching knows about one entity.
#[derive(Debug)]
pub(crate) struct StitchInput<'a> {
    pub(crate) entity_id: &'a str,
    /// The stored `processed_entity`, already parsed.
    pub(crate) processed: Value,
    /// The stored `errors` column (a JSON array text), if any.
    pub(crate) errors: Option<&'a str>,
    /// `(type, targetRef)` pairs, sorted and deduplicated by the caller.
    pub(crate) relations: &'a [(String, String)],
    /// Whether any processing edge points at the entity.
    pub(crate) has_parent: bool,
}

/// The assembled entity and its hash (which is also its etag unless it brought one).
#[derive(Debug)]
pub(crate) struct Assembled {
    pub(crate) entity: Value,
    pub(crate) hash: String,
}

/// Assembles the final entity; returns `None` when the processed entity is not
/// an object (which processing never stores, but a row is input we do not trust).
pub(crate) fn assemble(input: StitchInput<'_>) -> Option<Assembled> {
    let StitchInput {
        entity_id,
        processed,
        errors,
        relations,
        has_parent,
    } = input;
    let Value::Object(mut entity) = processed else {
        return None;
    };
    let metadata = object_field(&mut entity, "metadata");

    if !has_parent {
        object_field(metadata, "annotations").insert(
            ORPHAN_ANNOTATION.to_owned(),
            Value::String("true".to_owned()),
        );
    }
    if let Some(Value::Object(annotations)) = metadata.get_mut("annotations") {
        for key in GUARDED_ANNOTATIONS {
            if let Some(Value::String(url)) = annotations.get(key)
                && is_script_url(url)
            {
                annotations.insert(key.to_owned(), Value::String(REJECTED_URL.to_owned()));
            }
        }
    }
    metadata.insert("uid".to_owned(), Value::String(entity_id.to_owned()));

    let items = error_items(errors);
    if !items.is_empty() {
        let status = object_field(&mut entity, "status");
        // Earlier processing errors were replaced by the stored ones; other
        // producers' status items stay.
        let mut all: Vec<Value> = match status.remove("items") {
            Some(Value::Array(existing)) => existing
                .into_iter()
                .filter(|item| {
                    item.get("type").and_then(Value::as_str) != Some(PROCESSING_STATUS_TYPE)
                })
                .collect(),
            _ => Vec::new(),
        };
        all.extend(items);
        status.insert("items".to_owned(), Value::Array(all));
    }

    entity.insert(
        "relations".to_owned(),
        Value::Array(
            relations
                .iter()
                .map(|(kind, target)| json!({"type": kind, "targetRef": target}))
                .collect(),
        ),
    );

    let mut entity = Value::Object(entity);
    let hash = crate::db::hash_json(&entity);
    if let Some(Value::Object(metadata)) = entity.get_mut("metadata")
        && !metadata.contains_key("etag")
    {
        metadata.insert("etag".to_owned(), Value::String(hash.clone()));
    }
    Some(Assembled { entity, hash })
}

/// The object at `key`, replacing a missing or non-object value by `{}`.
fn object_field<'m>(map: &'m mut Map<String, Value>, key: &str) -> &'m mut Map<String, Value> {
    let slot = map
        .entry(key.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    match slot {
        Value::Object(inner) => inner,
        // Unreachable: the slot was made an object just above.
        _ => unreachable!("slot is an object"),
    }
}

/// Status items for the stored errors (a JSON array of serialized errors).
pub(crate) fn error_items(errors: Option<&str>) -> Vec<Value> {
    let Some(text) = errors.map(str::trim).filter(|t| !t.is_empty()) else {
        return Vec::new();
    };
    let Ok(Value::Array(errors)) = serde_json::from_str::<Value>(text) else {
        return Vec::new();
    };
    errors
        .into_iter()
        .map(|error| {
            let (name, message) = match &error {
                Value::Object(e) => (
                    e.get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("Error")
                        .to_owned(),
                    e.get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                ),
                Value::String(message) => ("Error".to_owned(), message.clone()),
                other => ("Error".to_owned(), other.to_string()),
            };
            // As in Backstage, the item carries the stored serialized error
            // whole (a `cause` included), not just its name and message.
            let error = match error {
                Value::Object(mut e) => {
                    e.insert("name".to_owned(), Value::String(name.clone()));
                    e.insert("message".to_owned(), Value::String(message.clone()));
                    Value::Object(e)
                }
                _ => json!({"name": name, "message": message}),
            };
            json!({
                "type": PROCESSING_STATUS_TYPE,
                "level": "error",
                "message": format!("{name}: {message}"),
                "error": error,
            })
        })
        .collect()
}

/// Whether `url` uses the `javascript:` scheme the way a browser would read it:
/// leading control characters and spaces are skipped, and tabs and line breaks
/// inside the scheme name are ignored, in any letter case.
pub(crate) fn is_script_url(url: &str) -> bool {
    let mut chars = url.chars().skip_while(|c| *c <= '\u{20}').peekable();
    for expected in "javascript:".chars() {
        while chars
            .peek()
            .is_some_and(|c| matches!(c, '\t' | '\n' | '\r'))
        {
            chars.next();
        }
        match chars.next() {
            Some(c) if c.eq_ignore_ascii_case(&expected) => {}
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_urls() {
        let rows: &[(&str, &str, bool)] = &[
            ("J1", "javascript:alert(1)", true),
            ("J2", "JavaScript:alert(1)", true),
            ("J3", "  \u{1}javascript:alert(1)", true),
            ("J4", "java\tscr\nipt\r:alert(1)", true),
            ("J5", "https://example.com/javascript:x", false),
            ("J6", "javascript", false),
            ("J7", "", false),
            ("J8", "java script:alert(1)", false),
            ("J9", "vbscript:x", false),
        ];
        for (id, url, expected) in rows {
            assert_eq!(is_script_url(url), *expected, "{id}: {url:?}");
        }
    }

    fn check(id: &str, processed: Value, errors: Option<&str>, has_parent: bool, expected: Value) {
        let relations = vec![("ownedBy".to_owned(), "group:default/a".to_owned())];
        let Some(out) = assemble(StitchInput {
            entity_id: "uid-1",
            processed,
            errors,
            relations: &relations,
            has_parent,
        }) else {
            panic!("{id}: not assembled");
        };
        let mut without_etag = out.entity.clone();
        if let Some(Value::Object(m)) = without_etag.get_mut("metadata") {
            let etag = m.remove("etag");
            assert_eq!(
                etag,
                Some(Value::String(out.hash.clone())),
                "{id}: etag is the hash"
            );
        }
        assert_eq!(
            crate::db::hash_json(&without_etag),
            out.hash,
            "{id}: hash of entity without etag"
        );
        assert_eq!(without_etag, expected, "{id}");
    }

    #[test]
    fn assembles() {
        let base = json!({"apiVersion": "v1", "kind": "Component", "metadata": {"name": "a", "namespace": "default"}});
        let rel = json!([{"type": "ownedBy", "targetRef": "group:default/a"}]);
        check(
            "A1 plain",
            base.clone(),
            None,
            true,
            json!({"apiVersion": "v1", "kind": "Component",
                   "metadata": {"name": "a", "namespace": "default", "uid": "uid-1"}, "relations": rel}),
        );
        check(
            "A2 orphan",
            base.clone(),
            Some("[]"),
            false,
            json!({"apiVersion": "v1", "kind": "Component",
                   "metadata": {"name": "a", "namespace": "default", "uid": "uid-1",
                                "annotations": {"backstage.io/orphan": "true"}}, "relations": rel}),
        );
        check(
            "A3 errors",
            base.clone(),
            Some(
                r#"[{"name":"InputError","message":"bad tag; caused by Error: x","cause":{"name":"Error","message":"x"}}]"#,
            ),
            true,
            json!({"apiVersion": "v1", "kind": "Component",
                   "metadata": {"name": "a", "namespace": "default", "uid": "uid-1"}, "relations": rel,
                   "status": {"items": [{"type": "backstage.io/catalog-processing", "level": "error",
                       "message": "InputError: bad tag; caused by Error: x",
                       "error": {"name": "InputError", "message": "bad tag; caused by Error: x",
                                 "cause": {"name": "Error", "message": "x"}}}]}}),
        );
        check(
            "A4 javascript guard",
            json!({"apiVersion": "v1", "kind": "Component", "metadata": {"name": "a", "namespace": "default",
                   "annotations": {"backstage.io/view-url": "javascript:alert(1)", "backstage.io/edit-url": "https://x/e",
                                   "backstage.io/source-location": "javascript:ok"}}}),
            None,
            true,
            json!({"apiVersion": "v1", "kind": "Component", "metadata": {"name": "a", "namespace": "default", "uid": "uid-1",
                   "annotations": {"backstage.io/view-url": REJECTED_URL, "backstage.io/edit-url": "https://x/e",
                                   "backstage.io/source-location": "javascript:ok"}}, "relations": rel}),
        );
        check(
            "A5 garbage errors ignored",
            base,
            Some("not json"),
            true,
            json!({"apiVersion": "v1", "kind": "Component",
                   "metadata": {"name": "a", "namespace": "default", "uid": "uid-1"}, "relations": rel}),
        );
    }

    #[test]
    fn keeps_given_etag_and_rejects_non_objects() {
        let out = assemble(StitchInput {
            entity_id: "u",
            processed: json!({"metadata": {"name": "a", "etag": "mine"}}),
            errors: None,
            relations: &[],
            has_parent: true,
        });
        assert_eq!(
            out.map(|o| o.entity["metadata"]["etag"].clone()),
            Some(json!("mine"))
        );
        let none = assemble(StitchInput {
            entity_id: "u",
            processed: json!([1]),
            errors: None,
            relations: &[],
            has_parent: true,
        });
        assert!(none.is_none());
    }
}
