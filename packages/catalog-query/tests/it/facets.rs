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

/// Repeated requests may be answered from kept answers, but never across a change.
#[test]
fn facets_follow_every_change_to_the_index() {
    let mut index = CatalogIndex::new();
    let tagged = |name: &str, uid: &str, tags: &[&str]| {
        entity("Component", name, uid, json!({"metadata": {"tags": tags}}))
    };
    index.upsert(tagged("a", "u1", &["java"])).expect("upsert");
    let ask = |index: &CatalogIndex| index.facets(&strings(&["metadata.tags"]), None);
    let buckets = |pairs: &[(&str, u64)]| {
        vec![(
            "metadata.tags".to_owned(),
            pairs
                .iter()
                .map(|(v, c)| ((*v).to_owned(), *c))
                .collect::<Buckets>(),
        )]
    };
    assert_eq!(ask(&index), buckets(&[("java", 1)]));
    assert_eq!(ask(&index), buckets(&[("java", 1)]));
    index
        .upsert(tagged("b", "u2", &["go", "java"]))
        .expect("upsert");
    assert_eq!(ask(&index), buckets(&[("go", 1), ("java", 2)]));
    index.upsert(tagged("a", "u1", &["Go"])).expect("upsert");
    assert_eq!(ask(&index), buckets(&[("Go", 1), ("go", 1), ("java", 1)]));
    assert!(index.remove("component:default/b"));
    assert_eq!(ask(&index), buckets(&[("Go", 1)]));
    let filter = parse_filter_params(&strings(&["kind=component"])).expect("filter");
    let filtered = index.facets(&strings(&["metadata.tags"]), filter.as_ref());
    assert_eq!(filtered, buckets(&[("Go", 1)]));
    assert!(index.remove("component:default/a"));
    assert_eq!(ask(&index), buckets(&[]));
    assert_eq!(
        index.facets(&strings(&["metadata.tags"]), filter.as_ref()),
        buckets(&[])
    );
}
