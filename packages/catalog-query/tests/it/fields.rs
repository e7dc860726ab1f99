//! Field projection (spec §3; checklist 11–13).

use greenroom_catalog_query::parse_fields;
use serde_json::{Value, json};

use crate::support::{catalog, strings};

fn check(id: &str, params: &[&str], entity_ref: &str, expected: Value) {
    let index = catalog();
    let fields = parse_fields(&strings(params))
        .unwrap_or_else(|e| panic!("{id}: {e}"))
        .unwrap_or_else(|| panic!("{id}: no fields"));
    let entity = index
        .get_by_ref(entity_ref)
        .unwrap_or_else(|| panic!("{id}: no entity"));
    let projected = entity.project(&fields);
    assert_eq!(projected, expected, "{id}");
    // Key order follows the requested paths.
    assert_eq!(projected.to_string(), expected.to_string(), "{id} order");
}

#[test]
fn projection() {
    let table: Vec<(&str, Vec<&str>, &str, Value)> = vec![
        (
            "C11",
            vec!["metadata.name,kind"],
            "component:default/billing",
            json!({"metadata": {"name": "billing"}, "kind": "Component"}),
        ),
        (
            "C11-missing-path",
            vec!["metadata.name,spec.nothing"],
            "component:default/billing",
            json!({"metadata": {"name": "billing"}}),
        ),
        (
            "C11-nothing",
            vec!["spec.nothing"],
            "component:default/billing",
            json!({}),
        ),
        (
            "C12",
            vec!["metadata.annotations.backstage.io/view-url"],
            "component:default/billing",
            json!({"metadata": {"annotations": {"backstage.io/view-url": "https://h/billing"}}}),
        ),
        (
            "subtree-whole",
            vec!["spec"],
            "api:default/petstore",
            json!({"spec": {"type": "grpc", "lifecycle": "experimental", "owner": "team-b"}}),
        ),
        (
            "repeated-and-trimmed",
            vec![" kind ,", "metadata.uid"],
            "api:default/petstore",
            json!({"kind": "API", "metadata": {"uid": "u12"}}),
        ),
        (
            "arrays-not-traversed",
            vec!["relations.type"],
            "component:default/billing",
            json!({}),
        ),
        (
            "arrays-selected-whole",
            vec!["relations"],
            "component:default/cart",
            json!({"relations": [{"type": "ownedBy", "targetRef": "group:default/team-b"}]}),
        ),
        (
            "partial-path-selects-nothing",
            vec!["metadata.annotations.backstage.io"],
            "component:default/billing",
            json!({}),
        ),
        (
            "null-value-kept",
            vec!["spec.type"],
            "component:default/checkout",
            json!({"spec": {"type": null}}),
        ),
        (
            "path-through-scalar",
            vec!["kind.x"],
            "component:default/billing",
            json!({}),
        ),
    ];
    for (id, params, entity_ref, expected) in table {
        check(id, &params, entity_ref, expected);
    }
}

#[test]
fn field_parse_errors_and_empties() {
    assert_eq!(parse_fields(&strings(&[])), Ok(None));
    assert_eq!(parse_fields(&strings(&[", ,", ""])), Ok(None));
    let table = [
        (
            "C13",
            "relations[0]",
            "Invalid field \"relations[0]\", array type fields are not supported",
        ),
        (
            "bracket-in-list",
            "kind, spec[x] ",
            "Invalid field \"spec[x]\", array type fields are not supported",
        ),
    ];
    for (id, param, message) in table {
        let err = parse_fields(&strings(&[param])).expect_err(id);
        assert_eq!(err.message(), message, "{id}");
    }
}

/// Projections parse only the selected paths of the stored text; whatever they select must
/// equal the projection of the whole parsed entity, dotted keys and shadowing keys included.
#[test]
fn projection_of_stored_text_equals_projection_of_whole_entity() {
    let mut index = catalog();
    index
        .upsert(crate::support::entity(
            "Component",
            "shadowed",
            "u90",
            json!({
                "metadata": {"annotations": {"a": {"b": 1}, "a.b": 2, "a.b.c": [3, {"d": 4}]}},
                "spec": {"deep": {"list": [{"x": 1}, {"y": [2, null, true, 1.5]}]}, "Type": "T"},
            }),
        ))
        .expect("indexes");
    let paths = [
        "metadata.annotations.a.b",
        "metadata.annotations.a.b.c",
        "metadata.annotations.a",
        "metadata",
        "spec.deep.list",
        "spec.deep.list.x",
        "spec.type,spec.Type",
        "kind,metadata.name,spec.owner",
        "relations",
        "metadata.annotations.backstage.io/view-url,metadata.tags",
        "nothing.here",
    ];
    for entity in index.iter() {
        let whole = entity.entity();
        for path in paths {
            let fields = parse_fields(&strings(&[path]))
                .expect("parses")
                .expect("has paths");
            let projected = entity.project(&fields);
            let expected = fields.project(&whole);
            assert_eq!(projected, expected, "{} {path}", entity.entity_ref());
            assert_eq!(
                projected.to_string(),
                expected.to_string(),
                "{} {path} order",
                entity.entity_ref()
            );
        }
    }
}
