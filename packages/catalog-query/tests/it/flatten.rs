//! Search-row flattening (spec §8.8).

use greenroom_catalog_query::{CatalogIndex, IndexError, SearchRow, search_rows};
use serde_json::{Value, json};

fn rows(entity: &Value) -> Vec<(String, Option<String>, Option<String>)> {
    search_rows(entity)
        .expect("flattens")
        .into_iter()
        .map(|row: SearchRow| {
            let original = row.original().map(str::to_owned);
            (row.key, row.value, original)
        })
        .collect()
}

fn row(
    key: &str,
    value: Option<&str>,
    original: Option<&str>,
) -> (String, Option<String>, Option<String>) {
    (
        key.to_owned(),
        value.map(str::to_owned),
        original.map(str::to_owned),
    )
}

#[test]
fn spec_example_rows() {
    let entity = json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {
            "name": "x", "namespace": "default", "uid": "U-1", "etag": "e",
            "tags": ["Java", "web"],
            "annotations": {"github.com/project-slug": "acme/x"}
        },
        "spec": {"ports": [8080], "owner": "Team-A", "enabled": true, "ratio": 1.5, "none": null},
        "relations": [{"type": "ownedBy", "targetRef": "group:default/team-a"}],
        "status": {"items": [{"level": "error"}]},
        "attachments": {"a": "b"}
    });
    let expected = vec![
        row(
            "apiversion",
            Some("backstage.io/v1alpha1"),
            Some("backstage.io/v1alpha1"),
        ),
        row("kind", Some("component"), Some("Component")),
        row("metadata.tags", Some("java"), Some("Java")),
        row("metadata.tags.java", Some("true"), Some("true")),
        row("metadata.tags", Some("web"), Some("web")),
        row("metadata.tags.web", Some("true"), Some("true")),
        row(
            "metadata.annotations.github.com/project-slug",
            Some("acme/x"),
            Some("acme/x"),
        ),
        row("spec.ports", Some("8080"), Some("8080")),
        row("spec.owner", Some("team-a"), Some("Team-A")),
        row("spec.enabled", Some("true"), Some("true")),
        row("spec.ratio", Some("1.5"), Some("1.5")),
        row("spec.none", None, None),
        row("metadata.name", Some("x"), Some("x")),
        row("metadata.namespace", Some("default"), Some("default")),
        row("metadata.uid", Some("u-1"), Some("U-1")),
        row(
            "relations.ownedby",
            Some("group:default/team-a"),
            Some("group:default/team-a"),
        ),
    ];
    assert_eq!(rows(&entity), expected);
}

#[test]
fn flattening_cases() {
    type Check = fn(&[(String, Option<String>, Option<String>)]) -> bool;
    let long = "Y".repeat(201);
    let cases: Vec<(&str, Value, Check)> = vec![
        (
            "missing namespace adds default and a null row",
            json!({"kind": "A", "metadata": {"name": "n"}}),
            |r| {
                r.iter().filter(|x| x.0 == "metadata.namespace").count() == 2
                    && r.contains(&row("metadata.namespace", None, None))
                    && r.contains(&row("metadata.namespace", Some("default"), Some("default")))
            },
        ),
        (
            "etag is never indexed",
            json!({"kind": "A", "metadata": {"name": "n", "etag": "e"}}),
            |r| !r.iter().any(|x| x.0 == "metadata.etag"),
        ),
        (
            "over-long value becomes a null row",
            json!({"kind": "A", "metadata": {"name": "n"}, "spec": {"v": long}}),
            |r| r.contains(&row("spec.v", None, None)),
        ),
        (
            "over-long key is dropped",
            json!({"kind": "A", "metadata": {"name": "n"}, "spec": {"k".repeat(200): "v"}}),
            |r| !r.iter().any(|x| x.0.starts_with("spec.k")),
        ),
        (
            "array item key only once per case-insensitive spelling",
            json!({"kind": "A", "metadata": {"name": "n", "tags": ["A", "a"]}}),
            |r| {
                r.iter().filter(|x| x.0 == "metadata.tags.a").count() == 1
                    && r.iter().filter(|x| x.0 == "metadata.tags").count() == 2
            },
        ),
        (
            "nested relations key is not skipped",
            json!({"kind": "A", "metadata": {"name": "n"}, "spec": {"relations": "r"}}),
            |r| r.contains(&row("spec.relations", Some("r"), Some("r"))),
        ),
        (
            "arrays of objects are visited at the same path",
            json!({"kind": "A", "metadata": {"name": "n", "links": [{"url": "U1"}, {"url": "u2"}]}}),
            |r| {
                r.contains(&row("metadata.links.url", Some("u1"), Some("U1")))
                    && r.contains(&row("metadata.links.url", Some("u2"), Some("u2")))
            },
        ),
        (
            "empty objects and arrays produce no rows",
            json!({"kind": "A", "metadata": {"name": "n"}, "spec": {"o": {}, "a": []}}),
            |r| !r.iter().any(|x| x.0.starts_with("spec.")),
        ),
        (
            "large numbers format like JavaScript",
            json!({"kind": "A", "metadata": {"name": "n"}, "spec": {"big": 1e21, "neg": -3}}),
            |r| {
                r.contains(&row("spec.big", Some("1e+21"), Some("1e+21")))
                    && r.contains(&row("spec.neg", Some("-3"), Some("-3")))
            },
        ),
    ];
    for (name, entity, check) in cases {
        let r = rows(&entity);
        assert!(check(&r), "{name}: {r:?}");
    }
}

#[test]
fn duplicate_keys_that_vary_in_case_are_rejected() {
    let cases = vec![
        (
            json!({"kind": "A", "metadata": {"name": "n"}, "spec": {"foo": 1, "Foo": 2}}),
            "'spec.foo'",
        ),
        (
            json!({"kind": "A", "metadata": {"name": "n", "uid": "u"}, "relations": [
                {"type": "ownedBy", "targetRef": "group:default/a"}, {"type": "OwnedBy", "targetRef": "group:default/b"}]}),
            "'relations.ownedby'",
        ),
    ];
    for (entity, keys) in cases {
        let expected = format!("Entity has duplicate keys that vary only in casing, {keys}");
        let err = search_rows(&entity).expect_err("duplicate keys");
        assert_eq!(err.to_string(), expected);
        let mut index = CatalogIndex::new();
        let mut with_uid = entity.clone();
        with_uid["metadata"]["uid"] = json!("uid-1");
        assert_eq!(
            index.upsert(with_uid),
            Err(IndexError::DuplicateKeys(keys.to_owned()))
        );
        assert_eq!(index.len(), 0);
    }
}

#[test]
fn upsert_requires_identity() {
    let mut index = CatalogIndex::new();
    assert_eq!(
        index.upsert(json!({"kind": "A", "metadata": {"name": "n"}})),
        Err(IndexError::MissingUid)
    );
    assert_eq!(
        index.upsert(json!({"metadata": {"name": "n", "uid": "u"}})),
        Err(IndexError::MissingRef)
    );
}
