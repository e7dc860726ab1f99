//! Shared fixtures: a small catalog whose uids fix the default by-query order.

use greenroom_catalog_query::{CatalogIndex, IndexedEntity};
use serde_json::{Value, json};
use std::sync::Arc;

/// A final entity with the given identity; `extra` is merged into the top level
/// (and `metadata` merged into metadata).
pub(crate) fn entity(kind: &str, name: &str, uid: &str, extra: Value) -> Value {
    let mut base = json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": name, "namespace": "default", "uid": uid, "etag": format!("etag-{uid}")},
        "relations": []
    });
    if let Value::Object(extra) = extra {
        for (k, v) in extra {
            if k == "metadata" {
                if let (Some(Value::Object(meta)), Value::Object(add)) =
                    (base.get_mut("metadata"), v)
                {
                    for (mk, mv) in add {
                        meta.insert(mk, mv);
                    }
                }
            } else if let Value::Object(base) = &mut base {
                base.insert(k, v);
            }
        }
    }
    base
}

pub(crate) fn owned_by(group: &str) -> Value {
    json!([{ "type": "ownedBy", "targetRef": format!("group:default/{group}") }])
}

/// The shared catalog: 12 entities.
pub(crate) fn catalog() -> CatalogIndex {
    let long = "x".repeat(250);
    let entities = vec![
        entity(
            "Component",
            "billing",
            "u01",
            json!({
                "metadata": {"tags": ["Java", "web"], "annotations": {"backstage.io/view-url": "https://h/billing", "github.com/project-slug": "acme/billing"}, "title": "Billing Service"},
                "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"},
                "relations": owned_by("team-a"),
            }),
        ),
        entity(
            "Component",
            "cart",
            "u05",
            json!({
                "metadata": {"tags": ["go"]},
                "spec": {"type": "website", "lifecycle": "experimental", "owner": "team-b"},
                "relations": owned_by("team-b"),
            }),
        ),
        entity(
            "Component",
            "checkout",
            "u03",
            json!({
                "metadata": {"tags": ["java"]},
                "spec": {"type": null, "lifecycle": "production", "owner": "team-a"},
                "relations": owned_by("team-a"),
            }),
        ),
        entity(
            "Component",
            "inventory",
            "u02",
            json!({
                "spec": {"type": "Service", "lifecycle": "deprecated", "owner": "team-b"},
                "relations": owned_by("team-b"),
            }),
        ),
        entity(
            "Component",
            "Payments-API",
            "u04",
            json!({
                "metadata": {"annotations": {"backstage.io/orphan": "true"}},
                "spec": {"type": "service", "lifecycle": "production", "owner": "Team-A", "ports": [8080, 8443]},
                "relations": owned_by("team-a"),
            }),
        ),
        entity(
            "API",
            "orders-api",
            "u06",
            json!({
                "spec": {"type": "openapi", "lifecycle": "production", "owner": "team-a"},
                "relations": owned_by("team-a"),
            }),
        ),
        entity(
            "API",
            "petstore",
            "u12",
            json!({
                "spec": {"type": "grpc", "lifecycle": "experimental", "owner": "team-b"},
            }),
        ),
        entity(
            "Group",
            "team-a",
            "u07",
            json!({
                "spec": {"type": "team", "children": []},
                "relations": [{"type": "hasMember", "targetRef": "user:default/adam"}, {"type": "ownerOf", "targetRef": "component:default/billing"}],
            }),
        ),
        entity(
            "Group",
            "team-b",
            "u08",
            json!({"spec": {"type": "team", "children": []}}),
        ),
        entity(
            "User",
            "adam",
            "u09",
            json!({
                "spec": {"profile": {"displayName": "Adam Ant"}},
                "relations": [{"type": "memberOf", "targetRef": "group:default/team-a"}],
            }),
        ),
        entity(
            "User",
            "zoe",
            "u10",
            json!({
                "spec": {"profile": {"displayName": "Zoe Annapolis"}},
                "relations": [{"type": "memberOf", "targetRef": "group:default/ops"}],
            }),
        ),
        entity(
            "Location",
            "far",
            "u11",
            json!({"spec": {"type": "url", "target": long}}),
        ),
    ];
    let mut index = CatalogIndex::new();
    for e in entities {
        index.upsert(e).expect("fixture entity indexes");
    }
    index
}

/// The metadata.name of each entity, in order.
pub(crate) fn names(items: &[Arc<IndexedEntity>]) -> Vec<String> {
    items
        .iter()
        .map(|e| {
            e.entity()["metadata"]["name"]
                .as_str()
                .unwrap_or("?")
                .to_owned()
        })
        .collect()
}

/// Sorted copy, for set comparisons.
pub(crate) fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

pub(crate) fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}
