//! The paths and query strings the client builds, compared with what
//! Backstage's client sends for the same request.

use std::collections::BTreeMap;

use greenroom_catalog_client::query::{
    by_refs_path, encode_component, facets_path, get_entities_path, parse_entity_ref,
    query_entities_cursor_path, query_entities_initial_path,
};
use greenroom_catalog_client::{
    EntityFilterQuery, EntityOrder, FilterValue, FullTextFilter, GetEntitiesRequest,
    GetEntityFacetsRequest, QueryEntitiesCursorRequest, QueryEntitiesInitialRequest, SortOrder,
    TotalItems,
};

fn set(entries: &[(&str, FilterValue)]) -> BTreeMap<String, FilterValue> {
    entries
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

fn any(values: &[&str]) -> FilterValue {
    FilterValue::AnyOf(values.iter().map(|v| (*v).to_owned()).collect())
}

fn check(id: &str, actual: String, expected: &str) {
    assert_eq!(actual, expected, "{id}");
}

#[test]
fn get_entities_paths() {
    let two_sets: EntityFilterQuery = vec![
        set(&[
            ("kind", any(&["component", "api"])),
            ("spec.type", any(&["service"])),
        ]),
        set(&[(
            "metadata.annotations.backstage.io/orphan",
            FilterValue::Exists,
        )]),
        set(&[]),
    ];
    let rows: Vec<(&str, GetEntitiesRequest, &str)> = vec![
        (
            "C01 no parameters",
            GetEntitiesRequest::default(),
            "/entities",
        ),
        (
            "C02 filter sets, IN list, existence, empty set dropped",
            GetEntitiesRequest {
                filter: Some(two_sets),
                ..Default::default()
            },
            "/entities?filter=kind=component,kind=api,spec.type=service&filter=metadata.annotations.backstage.io%2Forphan",
        ),
        (
            "C03 commas and equals inside values are encoded",
            GetEntitiesRequest {
                filter: Some(vec![set(&[("metadata.name", any(&["a,b=c d"]))])]),
                ..Default::default()
            },
            "/entities?filter=metadata.name=a%2Cb%3Dc%20d",
        ),
        (
            "C04 fields, order, offset, limit, after",
            GetEntitiesRequest {
                fields: Some(vec!["kind".into(), "metadata.name".into()]),
                order: Some(vec![
                    EntityOrder {
                        field: "kind".into(),
                        order: SortOrder::Asc,
                    },
                    EntityOrder {
                        field: "metadata.name".into(),
                        order: SortOrder::Desc,
                    },
                ]),
                offset: Some(4),
                limit: Some(2),
                after: Some("eyJsaW1pdCI6Miwib2Zmc2V0IjoyfQ==".into()),
                ..Default::default()
            },
            "/entities?fields=kind,metadata.name&order=asc:kind&order=desc:metadata.name&offset=4&limit=2&after=eyJsaW1pdCI6Miwib2Zmc2V0IjoyfQ%3D%3D",
        ),
        (
            "C05 empty field list sends no fields",
            GetEntitiesRequest {
                fields: Some(vec![]),
                ..Default::default()
            },
            "/entities",
        ),
    ];
    for (id, request, expected) in rows {
        check(id, get_entities_path(&request), expected);
    }
}

#[test]
fn by_query_paths() {
    let first = QueryEntitiesInitialRequest {
        filter: Some(vec![
            set(&[("kind", any(&["component"]))]),
            set(&[("kind", any(&["api"]))]),
        ]),
        limit: Some(2),
        offset: Some(1),
        order_fields: Some(vec![EntityOrder {
            field: "metadata.name".into(),
            order: SortOrder::Desc,
        }]),
        full_text_filter: Some(FullTextFilter {
            term: "  Pay ".into(),
            fields: Some(vec!["metadata.name".into(), "spec.owner".into()]),
        }),
        fields: Some(vec!["metadata.name".into()]),
        total_items: Some(TotalItems::Exclude),
        query: None,
    };
    check(
        "C06 first request",
        query_entities_initial_path(&first),
        "/entities/by-query?fields=metadata.name&limit=2&offset=1&orderField=metadata.name%2Cdesc&filter=kind=component&filter=kind=api&fullTextFilterTerm=Pay&fullTextFilterFields=metadata.name,spec.owner&totalItems=exclude",
    );
    // A ref value is encoded once, as in the plain entity list: the server
    // decodes the parameter once before splitting it.
    let by_owner = QueryEntitiesInitialRequest {
        filter: Some(vec![set(&[(
            "relations.ownedBy",
            any(&["group:default/team-b"]),
        )])]),
        ..Default::default()
    };
    check(
        "C06b ref value encoded once",
        query_entities_initial_path(&by_owner),
        "/entities/by-query?filter=relations.ownedBy=group%3Adefault%2Fteam-b",
    );
    let blank = QueryEntitiesInitialRequest {
        full_text_filter: Some(FullTextFilter {
            term: " ".into(),
            fields: None,
        }),
        ..Default::default()
    };
    check(
        "C07 blank term left out",
        query_entities_initial_path(&blank),
        "/entities/by-query",
    );
    let next = QueryEntitiesCursorRequest {
        cursor: "eyJh+/=".into(),
        limit: Some(3),
        fields: Some(vec!["kind".into()]),
    };
    check(
        "C08 cursor request",
        query_entities_cursor_path(&next),
        "/entities/by-query?cursor=eyJh%2B%2F%3D&limit=3&fields=kind",
    );
}

#[test]
fn other_paths() {
    let filter = vec![set(&[("kind", any(&["component"]))])];
    check(
        "C09 by-refs without filter",
        by_refs_path(None),
        "/entities/by-refs",
    );
    check(
        "C10 by-refs with filter",
        by_refs_path(Some(&filter)),
        "/entities/by-refs?filter=kind=component",
    );
    let facets = GetEntityFacetsRequest {
        facets: vec![
            "kind".into(),
            "metadata.annotations.backstage.io/orphan".into(),
        ],
        filter: Some(filter),
        query: None,
    };
    check(
        "C11 facets",
        facets_path(&facets),
        "/entity-facets?facet=kind&facet=metadata.annotations.backstage.io%2Forphan&filter=kind=component",
    );
    check(
        "C12 encodeURIComponent set",
        encode_component("a-_.!~*'() /?é"),
        "a-_.!~*'()%20%2F%3F%C3%A9",
    );
}

#[test]
fn entity_refs() {
    let ok: &[(&str, &str, (&str, &str, &str))] = &[
        ("C13 full", "component:ns/name", ("component", "ns", "name")),
        (
            "C14 namespace defaults",
            "User:jane",
            ("User", "default", "jane"),
        ),
    ];
    for (id, text, (kind, namespace, name)) in ok {
        let r = parse_entity_ref(text).unwrap();
        assert_eq!(
            (r.kind.as_str(), r.namespace.as_str(), r.name.as_str()),
            (*kind, *namespace, *name),
            "{id}"
        );
    }
    for (id, text) in [
        ("C15 no kind", "jane"),
        ("C16 empty kind", ":jane"),
        ("C17 empty name", "user:ns/"),
    ] {
        let e = parse_entity_ref(text).unwrap_err();
        assert_eq!(
            e.name,
            greenroom_backend_plugin_api::ErrorName::InputError,
            "{id}"
        );
    }
}
