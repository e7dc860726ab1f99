//! Property test: for random catalogs, filters and orders, the index agrees with a naive
//! evaluation over every entity's search rows.

use greenroom_catalog_query::{
    CatalogIndex, EntityFilter, FullTextFilter, ListRequest, OrderDirective, OrderField,
    QueryRequest, SearchRow, WalkStrategy, search_rows,
};
use proptest::prelude::*;
use serde_json::{Value, json};

const KEYS: [&str; 10] = [
    "kind",
    "spec.type",
    "metadata.tags",
    "metadata.tags.java",
    "metadata.tags.go",
    "relations.ownedby",
    "spec.n",
    "metadata.name",
    "spec.nothing",
    "Spec.Type",
];
const VALUES: [&str; 9] = [
    "component",
    "API",
    "service",
    "website",
    "java",
    "go",
    "true",
    "group:default/g1",
    "3",
];

#[derive(Debug, Clone)]
struct Spec {
    kind: usize,
    name: usize,
    spec_type: usize,
    tags: Vec<usize>,
    n: Option<i64>,
    owner: Option<usize>,
}

fn spec_strategy() -> impl Strategy<Value = Spec> {
    (
        0..3usize,
        0..12usize,
        0..5usize,
        proptest::collection::vec(0..4usize, 0..4),
        proptest::option::of(0..5i64),
        proptest::option::of(0..3usize),
    )
        .prop_map(|(kind, name, spec_type, tags, n, owner)| Spec {
            kind,
            name,
            spec_type,
            tags,
            n,
            owner,
        })
}

fn build(spec: &Spec, uid: &str) -> Value {
    let kinds = ["Component", "API", "Group"];
    let types = [
        json!("service"),
        json!("Service"),
        json!("website"),
        Value::Null,
    ];
    let tags = ["java", "Go", "web", "JAVA"];
    let mut entity = json!({
        "apiVersion": "v1",
        "kind": kinds[spec.kind],
        "metadata": {"name": format!("N{}", spec.name), "namespace": "default", "uid": uid},
        "spec": {},
        "relations": [],
    });
    if let Some(t) = types.get(spec.spec_type) {
        entity["spec"]["type"] = t.clone();
    }
    if !spec.tags.is_empty() {
        entity["metadata"]["tags"] = json!(spec.tags.iter().map(|t| tags[*t]).collect::<Vec<_>>());
    }
    if let Some(n) = spec.n {
        entity["spec"]["n"] = json!(n);
    }
    if let Some(owner) = spec.owner {
        entity["relations"] =
            json!([{"type": "ownedBy", "targetRef": format!("group:default/g{owner}")}]);
    }
    entity
}

fn filter_strategy() -> impl Strategy<Value = EntityFilter> {
    let leaf = prop_oneof![
        (
            0..KEYS.len(),
            proptest::option::of(proptest::collection::vec(0..VALUES.len(), 0..3))
        )
            .prop_map(|(k, v)| EntityFilter::Key {
                key: KEYS[k].to_owned(),
                values: v.map(|v| v.into_iter().map(|i| VALUES[i].to_owned()).collect()),
            }),
        (0..KEYS.len(), 0..VALUES.len(), 0..3usize).prop_map(|(k, v, len)| {
            EntityFilter::HasPrefix {
                key: KEYS[k].to_owned(),
                prefix: VALUES[v].chars().take(len).collect(),
            }
        }),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(EntityFilter::All),
            proptest::collection::vec(inner.clone(), 0..3).prop_map(EntityFilter::Any),
            inner.prop_map(|f| EntityFilter::Not(Box::new(f))),
        ]
    })
}

fn naive(filter: &EntityFilter, rows: &[SearchRow]) -> bool {
    match filter {
        EntityFilter::All(children) => children.iter().all(|c| naive(c, rows)),
        EntityFilter::Any(children) => children.iter().any(|c| naive(c, rows)),
        EntityFilter::Not(inner) => !naive(inner, rows),
        EntityFilter::Key { key, values } => {
            let key = key.to_lowercase();
            rows.iter().any(|r| {
                r.key == key
                    && match values {
                        None => true,
                        Some(values) => values
                            .iter()
                            .any(|v| r.value.as_deref() == Some(v.to_lowercase().as_str())),
                    }
            })
        }
        EntityFilter::HasPrefix { key, prefix } => {
            let key = key.to_lowercase();
            let prefix = prefix.to_lowercase();
            rows.iter().any(|r| {
                r.key == key
                    && r.value
                        .as_deref()
                        .is_some_and(|v| v.starts_with(prefix.as_str()))
            })
        }
    }
}

/// The naive sort value: smallest (or largest for descending) non-null value of the key.
fn naive_value(rows: &[SearchRow], key: &str, largest: bool) -> Option<String> {
    let values = rows
        .iter()
        .filter(|r| r.key == key)
        .filter_map(|r| r.value.clone());
    if largest { values.max() } else { values.min() }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn index_agrees_with_naive_evaluation(
        specs in proptest::collection::vec(spec_strategy(), 0..40),
        removals in proptest::collection::vec(0..40usize, 0..8),
        filter in filter_strategy(),
        order_key in 0..KEYS.len(),
        desc in any::<bool>(),
        limit in 1..6u64,
        strategy in prop_oneof![Just(WalkStrategy::Auto), Just(WalkStrategy::Collect), Just(WalkStrategy::Walk)],
    ) {
        let mut index = CatalogIndex::new();
        // Both ordering strategies must agree with the naive order.
        index.set_walk_strategy(strategy);
        for (i, spec) in specs.iter().enumerate() {
            // Uids are spread so that insertion order differs from uid order.
            let uid = format!("uid-{:03}", (i * 37) % 101);
            index.upsert(build(spec, &uid)).expect("indexes");
        }
        for r in removals {
            if let Some(spec) = specs.get(r) {
                let kinds = ["component", "api", "group"];
                index.remove(&format!("{}:default/n{}", kinds[spec.kind], spec.name));
            }
        }
        let entities: Vec<(String, String, Vec<SearchRow>)> = index
            .iter()
            .map(|e| (e.entity_ref().to_owned(), e.uid().to_owned(), search_rows(&e.entity()).expect("rows")))
            .collect();

        // Filtering.
        let mut expected: Vec<String> = entities.iter().filter(|(_, _, rows)| naive(&filter, rows)).map(|(r, _, _)| r.clone()).collect();
        expected.sort();
        let listed = index.list(&ListRequest { filter: Some(filter.clone()), ..ListRequest::default() }).expect("list");
        let got: Vec<String> = listed.items.iter().map(|e| e.entity_ref().to_owned()).collect();
        prop_assert_eq!(&got, &expected);
        prop_assert_eq!(index.count(Some(&filter)), expected.len() as u64);

        // by-query order: entities lacking the field excluded, ties by uid in the same direction.
        let key = KEYS[order_key].to_lowercase();
        let mut ordered: Vec<(String, String, String)> = entities
            .iter()
            .filter(|(_, _, rows)| naive(&filter, rows))
            .filter_map(|(r, uid, rows)| Some((naive_value(rows, &key, desc)?, uid.clone(), r.clone())))
            .collect();
        ordered.sort();
        if desc {
            ordered.reverse();
        }
        let expected_query: Vec<String> = ordered.into_iter().map(|(_, _, r)| r).collect();
        let req = QueryRequest {
            filter: Some(filter.clone()),
            order_field: Some(OrderField { field: KEYS[order_key].to_owned(), desc }),
            limit: Some(limit),
            ..QueryRequest::default()
        };
        let mut page = index.query(&req).expect("query");
        prop_assert_eq!(page.total_items, expected_query.len() as u64);
        let mut forward: Vec<String> = page.items.iter().map(|e| e.entity_ref().to_owned()).collect();
        let mut pages = 1;
        while let Some(next) = page.next_cursor.clone() {
            page = index.query(&QueryRequest { cursor: Some(next), limit: Some(limit), ..QueryRequest::default() }).expect("next");
            forward.extend(page.items.iter().map(|e| e.entity_ref().to_owned()));
            pages += 1;
            prop_assert!(pages < 100);
        }
        prop_assert_eq!(&forward, &expected_query);
        let mut backward: Vec<String> = page.items.iter().map(|e| e.entity_ref().to_owned()).collect();
        while let Some(prev) = page.prev_cursor.clone() {
            page = index.query(&QueryRequest { cursor: Some(prev), limit: Some(limit), ..QueryRequest::default() }).expect("prev");
            let mut items: Vec<String> = page.items.iter().map(|e| e.entity_ref().to_owned()).collect();
            items.extend(backward);
            backward = items;
        }
        prop_assert_eq!(&backward, &expected_query);

        // GET order: missing values last for both directions, ties by uid ascending.
        let mut list_order: Vec<(bool, Option<String>, String, String)> = entities
            .iter()
            .filter(|(_, _, rows)| naive(&filter, rows))
            .map(|(r, uid, rows)| {
                let value = naive_value(rows, &key, desc);
                (value.is_none(), value, uid.clone(), r.clone())
            })
            .collect();
        list_order.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| if desc { b.1.cmp(&a.1) } else { a.1.cmp(&b.1) })
                .then_with(|| a.2.cmp(&b.2))
        });
        let expected_list: Vec<String> = list_order.into_iter().map(|(_, _, _, r)| r).collect();
        let mut offset = 0;
        let mut collected = Vec::new();
        loop {
            let page = index
                .list(&ListRequest {
                    filter: Some(filter.clone()),
                    order: vec![OrderDirective { field: KEYS[order_key].to_lowercase(), desc }],
                    limit: Some(limit),
                    offset: Some(offset),
                    after: None,
                })
                .expect("list page");
            collected.extend(page.items.iter().map(|e| e.entity_ref().to_owned()));
            if page.next_after.is_none() {
                break;
            }
            offset += limit;
        }
        prop_assert_eq!(&collected, &expected_list);

        // Facets: row counts per original value over the filtered entities.
        let facets = index.facets(&[KEYS[order_key].to_owned()], Some(&filter));
        let mut naive_facets: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
        for (_, _, rows) in entities.iter().filter(|(_, _, rows)| naive(&filter, rows)) {
            for row in rows.iter().filter(|r| r.key == key) {
                if let Some(original) = row.original() {
                    *naive_facets.entry(original.to_owned()).or_default() += 1;
                }
            }
        }
        let naive_facets: Vec<(String, u64)> = naive_facets.into_iter().collect();
        prop_assert_eq!(&facets[0].1, &naive_facets);
    }
}

/// Full-text terms: plain substrings, LIKE wildcards, and terms nothing holds.
const TERMS: [&str; 12] = [
    "n1", "N", "ser", "_", "%", "o_p", "s%e", "1", "up:d", "x", "JAVA", "b%",
];

/// Whether `value` matches the SQL pattern `%term%`, by brute force over every split.
fn naive_like(value: &[char], pattern: &[char]) -> bool {
    match pattern.split_first() {
        None => value.is_empty(),
        Some(('%', rest)) => (0..=value.len()).any(|i| naive_like(&value[i..], rest)),
        Some((&c, rest)) => value
            .split_first()
            .is_some_and(|(&v, tail)| (c == '_' || c == v) && naive_like(tail, rest)),
    }
}

fn naive_full_text(rows: &[SearchRow], fields: &[String], term: &str) -> bool {
    let pattern: Vec<char> = format!("%{}%", term.to_lowercase()).chars().collect();
    rows.iter().any(|r| {
        fields.iter().any(|f| f.to_lowercase() == r.key)
            && r.value
                .as_deref()
                .is_some_and(|v| naive_like(&v.chars().collect::<Vec<_>>(), &pattern))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn full_text_agrees_with_naive_evaluation_across_edits(
        specs in proptest::collection::vec(spec_strategy(), 0..40),
        edits in proptest::collection::vec((0..40usize, proptest::option::of(spec_strategy())), 0..8),
        fields in proptest::collection::vec(0..KEYS.len(), 1..3),
        terms in proptest::collection::vec(0..TERMS.len(), 2..3),
        limit in 1..6u64,
    ) {
        let fields: Vec<String> = fields.into_iter().map(|k| KEYS[k].to_owned()).collect();
        let mut index = CatalogIndex::new();
        let kinds = ["component", "api", "group"];
        for (i, spec) in specs.iter().enumerate() {
            index.upsert(build(spec, &format!("uid-{:03}", (i * 37) % 101))).expect("indexes");
        }
        // Search before and after edits, so that a search structure kept from before an edit
        // would show up as a wrong answer afterwards.
        for (round, term) in terms.iter().enumerate() {
            if round > 0 {
                for (r, replacement) in &edits {
                    let Some(spec) = specs.get(*r) else { continue };
                    index.remove(&format!("{}:default/n{}", kinds[spec.kind], spec.name));
                    if let Some(new) = replacement {
                        index.upsert(build(new, &format!("uid-{:03}", 200 + r))).expect("indexes");
                    }
                }
            }
            let term = TERMS[*term];
            let mut expected: Vec<(String, String)> = index
                .iter()
                .map(|e| (e.uid().to_owned(), e.entity_ref().to_owned(), search_rows(&e.entity()).expect("rows")))
                .filter(|(_, _, rows)| naive_full_text(rows, &fields, term))
                .map(|(uid, r, _)| (uid, r))
                .collect();
            expected.sort();
            let expected: Vec<String> = expected.into_iter().map(|(_, r)| r).collect();
            let full_text = Some(FullTextFilter { term: term.to_owned(), fields: fields.clone() });
            let mut page = index
                .query(&QueryRequest { full_text, limit: Some(limit), ..QueryRequest::default() })
                .expect("query");
            prop_assert_eq!(page.total_items, expected.len() as u64);
            let mut got: Vec<String> = page.items.iter().map(|e| e.entity_ref().to_owned()).collect();
            let mut pages = 1;
            while let Some(next) = page.next_cursor.clone() {
                page = index.query(&QueryRequest { cursor: Some(next), limit: Some(limit), ..QueryRequest::default() }).expect("next");
                got.extend(page.items.iter().map(|e| e.entity_ref().to_owned()));
                pages += 1;
                prop_assert!(pages < 100);
            }
            prop_assert_eq!(&got, &expected);
        }
    }
}

/// Everything the index answers about its keys and values, for comparing two indexes: every
/// key's facet over all entities and over a kind, equality and prefix filters on every key
/// with every value, and the full order of a query on every key in both directions.
fn answers(index: &CatalogIndex) -> Vec<String> {
    let mut out = Vec::new();
    let component = EntityFilter::eq("kind", "component");
    let names: Vec<String> = (0..12).map(|n| format!("N{n}")).collect();
    let values: Vec<&str> = VALUES
        .iter()
        .copied()
        .chain(["Service", "Go", "JAVA", "web"])
        .chain(names.iter().map(String::as_str))
        .collect();
    for key in KEYS {
        out.push(format!("{key} {:?}", index.facets(&[key.to_owned()], None)));
        out.push(format!(
            "{key} component {:?}",
            index.facets(&[key.to_owned()], Some(&component))
        ));
        out.push(format!(
            "{key} exists {}",
            index.count(Some(&EntityFilter::exists(key)))
        ));
        for value in &values {
            let eq = index.count(Some(&EntityFilter::eq(key, *value)));
            let prefix = EntityFilter::HasPrefix {
                key: key.to_owned(),
                prefix: value.chars().take(2).collect(),
            };
            out.push(format!("{key}={value} {eq} {}", index.count(Some(&prefix))));
        }
        for desc in [false, true] {
            let page = index
                .query(&QueryRequest {
                    order_field: Some(OrderField {
                        field: key.to_owned(),
                        desc,
                    }),
                    limit: Some(1000),
                    ..QueryRequest::default()
                })
                .expect("query");
            let refs: Vec<&str> = page.items.iter().map(|e| e.entity_ref()).collect();
            out.push(format!("{key} desc={desc} {refs:?}"));
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    /// Values move between the compact single-holder form and entries of their own as holders
    /// come and go; after any sequence of upserts (identical, changed, under a reused uid) and
    /// removals the index must answer exactly as one built afresh from what it holds.
    #[test]
    fn index_after_edits_answers_like_a_fresh_index(
        specs in proptest::collection::vec(spec_strategy(), 0..30),
        edits in proptest::collection::vec(
            (0..30usize, proptest::option::of(spec_strategy()), 0..3usize),
            0..30,
        ),
    ) {
        let mut index = CatalogIndex::new();
        let kinds = ["component", "api", "group"];
        let uid = |i: usize| format!("uid-{:03}", (i * 37) % 101);
        for (i, spec) in specs.iter().enumerate() {
            index.upsert(build(spec, &uid(i))).expect("indexes");
        }
        for (target, replacement, how) in &edits {
            let Some(spec) = specs.get(*target) else { continue };
            match (replacement, how) {
                (None, _) => {
                    index.remove(&format!("{}:default/n{}", kinds[spec.kind], spec.name));
                }
                // The same entity again (a re-stitch that changed nothing).
                (Some(_), 0) => index.upsert(build(spec, &uid(*target))).expect("indexes"),
                // Another entity under the uid of this one: the old one is displaced.
                (Some(new), 1) => index.upsert(build(new, &uid(*target))).expect("indexes"),
                (Some(new), _) => index.upsert(build(new, &format!("new-{target}"))).expect("indexes"),
            }
        }
        let mut fresh = CatalogIndex::new();
        let held: Vec<Value> = index.iter().map(|e| e.entity()).collect();
        for entity in held.into_iter().rev() {
            fresh.upsert(entity).expect("indexes");
        }
        prop_assert_eq!(fresh.len(), index.len());
        prop_assert_eq!(answers(&index), answers(&fresh));
    }
}
