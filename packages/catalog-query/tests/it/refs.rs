//! Look-ups by ref, uid and by-refs (spec §1.3, §7.4–§7.5; checklist 35), and index updates.

use greenroom_catalog_query::{EntityFilter, PreparedEntity, parse_filter_params};
use serde_json::json;

use crate::support::{catalog, entity, strings};

#[test]
fn by_refs_rows() {
    let index = catalog();
    let kind_component = parse_filter_params(&strings(&["kind=component"])).expect("parses");
    let table: Vec<(&str, Vec<&str>, Option<EntityFilter>, Vec<Option<&str>>)> = vec![
        (
            "C35",
            vec![
                "component:default/billing",
                "component:default/missing",
                "component:default/billing",
            ],
            None,
            vec![Some("u01"), None, Some("u01")],
        ),
        (
            "case-ignored-no-defaults",
            vec![
                "Component:Default/Billing",
                "billing",
                "component:billing",
                "default/billing",
                " component:default/billing",
            ],
            None,
            vec![Some("u01"), None, None, None, None],
        ),
        (
            "filtered",
            vec![
                "component:default/billing",
                "api:default/orders-api",
                "component:default/ghost",
            ],
            kind_component,
            vec![Some("u01"), None, None],
        ),
        (
            "mixed-case-name",
            vec!["component:default/payments-api"],
            None,
            vec![Some("u04")],
        ),
    ];
    for (id, refs, filter, expected) in table {
        let got: Vec<Option<String>> = index
            .by_refs(&strings(&refs), filter.as_ref())
            .into_iter()
            .map(|e| e.map(|e| e.uid().to_owned()))
            .collect();
        let expected: Vec<Option<String>> =
            expected.into_iter().map(|u| u.map(str::to_owned)).collect();
        assert_eq!(got, expected, "{id}");
    }
}

#[test]
fn lookups_and_replacement() {
    let mut index = catalog();
    assert_eq!(index.len(), 12);
    let billing = index
        .get_by_ref("component:default/billing")
        .expect("by ref");
    assert_eq!(billing.uid(), "u01");
    assert_eq!(billing.entity_ref(), "component:default/billing");
    assert_eq!(
        billing.json().expect("readable").as_ref(),
        billing.entity().to_string()
    );
    assert_eq!(
        index.get_by_uid("u04").expect("by uid").entity_ref(),
        "component:default/payments-api"
    );
    assert!(index.get_by_uid("nope").is_none());
    assert!(index.get_by_ref("Component:default/BILLING").is_some());

    // Replacing keeps one entity per ref, drops the old uid and the old search rows.
    index
        .upsert(entity(
            "Component",
            "billing",
            "u99",
            json!({"spec": {"type": "library"}}),
        ))
        .expect("upsert");
    assert_eq!(index.len(), 12);
    assert!(index.get_by_uid("u01").is_none());
    assert_eq!(
        index
            .get_by_ref("component:default/billing")
            .expect("replaced")
            .uid(),
        "u99"
    );
    let service = parse_filter_params(&strings(&["spec.type=service"])).expect("parses");
    assert_eq!(index.count(service.as_ref()), 2);
    let tag = parse_filter_params(&strings(&["metadata.tags.web"])).expect("parses");
    assert_eq!(index.count(tag.as_ref()), 0);

    // A stale handle no longer matches once its id is reused.
    let stale = billing;
    assert!(!index.matches(&EntityFilter::All(vec![]), &stale));
    let fresh = index
        .get_by_ref("component:default/billing")
        .expect("fresh");
    assert!(index.matches(&EntityFilter::All(vec![]), &fresh));

    assert!(index.remove("component:default/billing"));
    assert!(!index.remove("component:default/billing"));
    assert_eq!(index.len(), 11);
    assert!(index.get_by_uid("u99").is_none());
    let library = parse_filter_params(&strings(&["spec.type=library"])).expect("parses");
    assert_eq!(index.count(library.as_ref()), 0);

    // The same uid arriving under another ref replaces the entity holding it.
    index
        .upsert(entity("Component", "renamed", "u05", json!({})))
        .expect("upsert");
    assert!(index.get_by_ref("component:default/cart").is_none());
    assert_eq!(
        index.get_by_uid("u05").expect("moved").entity_ref(),
        "component:default/renamed"
    );
    assert_eq!(index.len(), 11);

    // Prepared inserts behave like upserts.
    let prepared =
        PreparedEntity::new(entity("Component", "Prepared", "u77", json!({}))).expect("prepares");
    assert_eq!(prepared.entity_ref(), "component:default/prepared");
    index.insert_prepared(prepared).expect("inserts");
    assert_eq!(
        index.get_by_uid("u77").expect("prepared").entity_ref(),
        "component:default/prepared"
    );
    assert_eq!(index.len(), 12);
}

#[test]
fn identical_upserts_keep_the_indexed_entity() {
    let mut index = catalog();
    let billing = index
        .get_by_ref("component:default/billing")
        .expect("billing");
    let java = parse_filter_params(&strings(&["metadata.tags=java"])).expect("parses");
    let java_before = index.count(java.as_ref());
    // The same final entity again (as a re-stitch that changed nothing delivers it) is
    // not re-indexed: the handle stays current and the search rows stay in place.
    index.upsert(billing.entity()).expect("upsert");
    assert_eq!(index.len(), 12);
    assert!(index.matches(&EntityFilter::All(vec![]), &billing));
    assert_eq!(index.count(java.as_ref()), java_before);

    // A changed entity replaces the handle and its rows.
    let mut changed = billing.entity();
    changed["metadata"]["tags"] = json!(["rust"]);
    index.upsert(changed).expect("upsert");
    assert!(!index.matches(&EntityFilter::All(vec![]), &billing));
    assert_eq!(index.count(java.as_ref()), java_before - 1);
    let rust = parse_filter_params(&strings(&["metadata.tags=rust"])).expect("parses");
    assert_eq!(index.count(rust.as_ref()), 1);
}
