//! Entity facets (spec §7.9, §8.9; checklist 38–39).

use greenroom_catalog_query::{CatalogIndex, parse_filter_params};
use serde_json::json;

use crate::support::{catalog, entity, strings};

type Buckets = Vec<(String, u64)>;

fn check(
    id: &str,
    index: &CatalogIndex,
    facets: &[&str],
    filter: &[&str],
    expected: Vec<(&str, Vec<(&str, u64)>)>,
) {
    let filter = parse_filter_params(&strings(filter)).expect("filter");
    let got = index.facets(&strings(facets), filter.as_ref());
    let expected: Vec<(String, Buckets)> = expected
        .into_iter()
        .map(|(k, b)| {
            (
                k.to_owned(),
                b.into_iter().map(|(v, c)| (v.to_owned(), c)).collect(),
            )
        })
        .collect();
    assert_eq!(got, expected, "{id}");
}

#[test]
fn facet_rows() {
    let index = catalog();
    let table: Vec<(&str, Vec<&str>, Vec<&str>, Vec<(&str, Vec<(&str, u64)>)>)> = vec![
        (
            "C38",
            vec!["kind"],
            vec![],
            vec![(
                "kind",
                vec![
                    ("API", 2),
                    ("Component", 5),
                    ("Group", 2),
                    ("Location", 1),
                    ("User", 2),
                ],
            )],
        ),
        (
            "C39",
            vec!["spec.type"],
            vec!["kind=component"],
            vec![(
                "spec.type",
                vec![("Service", 1), ("service", 2), ("website", 1)],
            )],
        ),
        (
            "case-insensitive-key-kept-spelling",
            vec!["KIND"],
            vec!["kind=api"],
            vec![("KIND", vec![("API", 2)])],
        ),
        (
            "tags-one-row-per-item",
            vec!["metadata.tags"],
            vec![],
            vec![(
                "metadata.tags",
                vec![("Java", 1), ("go", 1), ("java", 1), ("web", 1)],
            )],
        ),
        (
            "unknown-facet",
            vec!["spec.nothing"],
            vec![],
            vec![("spec.nothing", vec![])],
        ),
        (
            "long-values-omitted",
            vec!["spec.target"],
            vec![],
            vec![("spec.target", vec![])],
        ),
        (
            "duplicates-collapse",
            vec!["kind", "spec.lifecycle", "kind"],
            vec!["kind=api"],
            vec![
                ("kind", vec![("API", 2)]),
                (
                    "spec.lifecycle",
                    vec![("experimental", 1), ("production", 1)],
                ),
            ],
        ),
        (
            "relations",
            vec!["relations.ownedBy"],
            vec!["kind=api"],
            vec![("relations.ownedBy", vec![("group:default/team-a", 1)])],
        ),
        (
            "numbers",
            vec!["spec.ports"],
            vec![],
            vec![("spec.ports", vec![("8080", 1), ("8443", 1)])],
        ),
        (
            "filter-matches-nothing",
            vec!["kind"],
            vec!["kind=nothing"],
            vec![("kind", vec![])],
        ),
    ];
    for (id, facets, filter, expected) in table {
        check(id, &index, &facets, &filter, expected);
    }
}

#[test]
fn facets_count_rows_and_follow_updates() {
    let mut index = CatalogIndex::new();
    index
        .upsert(entity(
            "Component",
            "a",
            "a1",
            json!({"metadata": {"tags": ["java", "java", "Java"]}}),
        ))
        .expect("a");
    index
        .upsert(entity(
            "Component",
            "b",
            "b1",
            json!({"metadata": {"tags": ["java"]}}),
        ))
        .expect("b");
    check(
        "repeated-values-count-rows",
        &index,
        &["metadata.tags"],
        &[],
        vec![("metadata.tags", vec![("Java", 1), ("java", 3)])],
    );
    check(
        "filtered-repeats",
        &index,
        &["metadata.tags"],
        &["metadata.name=b"],
        vec![("metadata.tags", vec![("java", 1)])],
    );
    index
        .upsert(entity(
            "Component",
            "a",
            "a2",
            json!({"metadata": {"tags": ["JAVA"]}}),
        ))
        .expect("a again");
    check(
        "after-replace",
        &index,
        &["metadata.tags"],
        &[],
        vec![("metadata.tags", vec![("JAVA", 1), ("java", 1)])],
    );
    assert!(index.remove("component:default/b"));
    check(
        "after-remove",
        &index,
        &["metadata.tags", "kind"],
        &[],
        vec![
            ("metadata.tags", vec![("JAVA", 1)]),
            ("kind", vec![("Component", 1)]),
        ],
    );
    assert!(index.remove("component:default/a"));
    check("empty", &index, &["kind"], &[], vec![("kind", vec![])]);
}
