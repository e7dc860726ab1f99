//! `by-query`: order field, full text, limits, totals and cursors (spec §4.2, §5.2, §6;
//! checklist 18–28).

use greenroom_catalog_query::{
    FullTextFilter, OrderField, QueryPage, QueryRequest, encode_base64, parse_filter_params,
    parse_order_field, uid_order_next_cursor,
};

use crate::support::{catalog, names, strings};

fn first_page(filter: &[&str], order: &[&str], limit: Option<u64>) -> QueryPage {
    catalog()
        .query(&QueryRequest {
            filter: parse_filter_params(&strings(filter)).expect("filter"),
            order_field: parse_order_field(&strings(order)).expect("order"),
            limit,
            ..QueryRequest::default()
        })
        .expect("query")
}

#[test]
fn first_pages() {
    let table: Vec<(&str, Vec<&str>, Vec<&str>, Option<u64>, Vec<&str>, u64)> = vec![
        (
            "C18-uid-order",
            vec![],
            vec![],
            None,
            vec![
                "billing",
                "inventory",
                "checkout",
                "Payments-API",
                "cart",
                "orders-api",
                "team-a",
                "team-b",
                "adam",
                "zoe",
                "far",
                "petstore",
            ],
            12,
        ),
        (
            "C19",
            vec!["kind=component"],
            vec!["metadata.name,asc"],
            Some(2),
            vec!["billing", "cart"],
            5,
        ),
        (
            "C26-desc",
            vec!["kind=component"],
            vec!["metadata.name,desc"],
            None,
            vec!["Payments-API", "inventory", "checkout", "cart", "billing"],
            5,
        ),
        (
            "order-default-asc",
            vec!["kind=api"],
            vec!["metadata.name"],
            None,
            vec!["orders-api", "petstore"],
            2,
        ),
        (
            "only-first-order-field",
            vec!["kind=api"],
            vec!["metadata.name,desc", "kind,asc"],
            None,
            vec!["petstore", "orders-api"],
            2,
        ),
        (
            "missing-field-excluded",
            vec!["kind=component"],
            vec!["metadata.tags"],
            None,
            vec!["cart", "billing", "checkout"],
            3,
        ),
        (
            "null-value-excluded",
            vec!["kind=component"],
            vec!["spec.type"],
            None,
            vec!["billing", "inventory", "Payments-API", "cart"],
            4,
        ),
        (
            "ties-by-uid-desc",
            vec!["kind=component"],
            vec!["spec.lifecycle,desc"],
            None,
            vec!["Payments-API", "checkout", "billing", "cart", "inventory"],
            5,
        ),
        (
            "C25-limit-zero",
            vec!["kind=user"],
            vec![],
            Some(0),
            vec![],
            2,
        ),
    ];
    for (id, filter, order, limit, expected, total) in table {
        let page = first_page(&filter, &order, limit);
        assert_eq!(names(&page.items), strings(&expected), "{id}");
        assert_eq!(page.total_items, total, "{id} total");
        assert!(page.prev_cursor.is_none(), "{id} first page has no prev");
        let more = limit.is_some_and(|l| l > 0 && total > l);
        assert_eq!(page.next_cursor.is_some(), more, "{id} next");
    }
}

#[test]
fn order_field_parsing() {
    assert_eq!(parse_order_field(&strings(&[])), Ok(None));
    assert_eq!(
        parse_order_field(&strings(&["metadata.name,desc", "kind"])),
        Ok(Some(OrderField {
            field: "metadata.name".into(),
            desc: true
        }))
    );
    for (id, param) in [
        ("C26-sideways", "metadata.name,sideways"),
        ("empty-direction", "kind,"),
        ("upper", "kind,ASC"),
    ] {
        let err = parse_order_field(&strings(&[param])).expect_err(id);
        assert_eq!(
            err.message(),
            "Invalid order field order, must be asc or desc",
            "{id}"
        );
    }
    let err = parse_order_field(&strings(&["kind", "kind,bad"])).expect_err("later invalid");
    assert_eq!(
        err.message(),
        "Invalid order field order, must be asc or desc"
    );
}

/// Follows next cursors to the end and prev cursors back to the start.
fn round_trip(id: &str, req: QueryRequest, limit: u64) {
    let index = catalog();
    let all = index
        .query(&QueryRequest {
            limit: Some(1000),
            cursor: None,
            offset: None,
            ..req.clone()
        })
        .expect("all");
    let expected = names(&all.items);
    let first = index
        .query(&QueryRequest {
            limit: Some(limit),
            ..req.clone()
        })
        .expect("first");
    let total = first.total_items;
    let mut pages = vec![names(&first.items)];
    let mut page = first;
    assert!(
        page.prev_cursor.is_none(),
        "{id}: C19 no prev on first page"
    );
    while let Some(next) = page.next_cursor.clone() {
        // C22: anything sent next to a cursor is ignored.
        page = index
            .query(&QueryRequest {
                cursor: Some(next),
                limit: Some(limit),
                filter: parse_filter_params(&strings(&["kind=nothing"])).expect("filter"),
                order_field: Some(OrderField {
                    field: "kind".into(),
                    desc: true,
                }),
                full_text: Some(FullTextFilter {
                    term: "zzz".into(),
                    fields: vec![],
                }),
                ..QueryRequest::default()
            })
            .expect("next");
        assert_eq!(page.total_items, total, "{id}: C20 stable total");
        assert!(page.prev_cursor.is_some(), "{id}: C20 prev on later pages");
        pages.push(names(&page.items));
        assert!(pages.len() < 100, "{id}: runaway");
    }
    let forward: Vec<String> = pages.concat();
    assert_eq!(
        forward, expected,
        "{id}: forward pages cover everything once, in order"
    );
    // C21: the last page has no next cursor; walk back with prev cursors.
    let mut back = vec![names(&page.items)];
    while let Some(prev) = page.prev_cursor.clone() {
        page = index
            .query(&QueryRequest {
                cursor: Some(prev),
                limit: Some(limit),
                ..QueryRequest::default()
            })
            .expect("prev");
        assert_eq!(page.total_items, total, "{id}: total carried backwards");
        assert!(page.next_cursor.is_some(), "{id}: prev pages have a next");
        back.push(names(&page.items));
        assert!(back.len() < 100, "{id}: runaway");
    }
    back.reverse();
    assert_eq!(back, pages, "{id}: C20 prev pages equal the forward pages");
}

#[test]
fn cursor_round_trips() {
    let components = parse_filter_params(&strings(&["kind=component", "kind=api", "kind=user"]))
        .expect("filter");
    let table: Vec<(&str, QueryRequest, Vec<u64>)> = vec![
        ("uid-order", QueryRequest::default(), vec![1, 2, 5, 11, 12]),
        (
            "filtered-name-asc",
            QueryRequest {
                filter: components.clone(),
                order_field: Some(OrderField {
                    field: "metadata.name".into(),
                    desc: false,
                }),
                ..QueryRequest::default()
            },
            vec![1, 2, 3],
        ),
        (
            "name-desc",
            QueryRequest {
                order_field: Some(OrderField {
                    field: "metadata.name".into(),
                    desc: true,
                }),
                ..QueryRequest::default()
            },
            vec![1, 2, 4],
        ),
        (
            "ties-lifecycle",
            QueryRequest {
                order_field: Some(OrderField {
                    field: "spec.lifecycle".into(),
                    desc: false,
                }),
                ..QueryRequest::default()
            },
            vec![1, 2, 3],
        ),
        (
            "ties-kind-desc",
            QueryRequest {
                order_field: Some(OrderField {
                    field: "KIND".into(),
                    desc: true,
                }),
                ..QueryRequest::default()
            },
            vec![1, 3],
        ),
        (
            "multi-valued-tags",
            QueryRequest {
                order_field: Some(OrderField {
                    field: "metadata.tags".into(),
                    desc: false,
                }),
                ..QueryRequest::default()
            },
            vec![1, 2],
        ),
        (
            "multi-valued-tags-desc",
            QueryRequest {
                order_field: Some(OrderField {
                    field: "metadata.tags".into(),
                    desc: true,
                }),
                ..QueryRequest::default()
            },
            vec![1, 2],
        ),
        (
            "exclude-total",
            QueryRequest {
                exclude_total_items: true,
                ..QueryRequest::default()
            },
            vec![4],
        ),
        (
            "full-text",
            QueryRequest {
                full_text: Some(FullTextFilter {
                    term: "a".into(),
                    fields: vec!["metadata.name".into()],
                }),
                ..QueryRequest::default()
            },
            vec![2],
        ),
    ];
    for (id, req, limits) in table {
        for limit in limits {
            round_trip(&format!("{id}/{limit}"), req.clone(), limit);
        }
    }
}

#[test]
fn offset_and_totals() {
    let index = catalog();
    let page = index
        .query(&QueryRequest {
            offset: Some(3),
            limit: Some(2),
            ..QueryRequest::default()
        })
        .expect("offset");
    assert_eq!(names(&page.items), strings(&["Payments-API", "cart"]));
    assert_eq!(page.total_items, 12);
    assert!(page.prev_cursor.is_none(), "offset first page has no prev");
    // Going back from the second page stops at the first page of the request.
    let second = index
        .query(&QueryRequest {
            cursor: page.next_cursor.clone(),
            limit: Some(2),
            ..QueryRequest::default()
        })
        .expect("second");
    assert_eq!(names(&second.items), strings(&["orders-api", "team-a"]));
    let back = index
        .query(&QueryRequest {
            cursor: second.prev_cursor.clone(),
            limit: Some(5),
            ..QueryRequest::default()
        })
        .expect("back");
    assert_eq!(names(&back.items), strings(&["Payments-API", "cart"]));
    assert!(back.prev_cursor.is_none());

    let excluded = index
        .query(&QueryRequest {
            exclude_total_items: true,
            limit: Some(2),
            ..QueryRequest::default()
        })
        .expect("C28");
    assert_eq!(excluded.total_items, 0, "C28");
    assert_eq!(excluded.items.len(), 2, "C28 still paginates");
    assert!(excluded.next_cursor.is_some(), "C28 next");

    let zero = index
        .query(&QueryRequest {
            limit: Some(0),
            ..QueryRequest::default()
        })
        .expect("C25");
    assert!(
        zero.items.is_empty() && zero.next_cursor.is_none() && zero.prev_cursor.is_none(),
        "C25"
    );
    assert_eq!(zero.total_items, 12, "C25");

    let none = index
        .query(&QueryRequest {
            filter: parse_filter_params(&strings(&["kind=nothing"])).expect("f"),
            ..QueryRequest::default()
        })
        .expect("none");
    assert!(
        none.items.is_empty() && none.next_cursor.is_none() && none.prev_cursor.is_none(),
        "C21 empty pageInfo"
    );
}

#[test]
fn full_text_rows() {
    let table: Vec<(&str, &str, Vec<&str>, Option<&str>, Vec<&str>)> = vec![
        (
            "C27",
            "PAY",
            vec!["metadata.name"],
            None,
            vec!["Payments-API"],
        ),
        (
            "C27-blank-term",
            "   ",
            vec!["metadata.name"],
            None,
            vec![
                "billing",
                "inventory",
                "checkout",
                "Payments-API",
                "cart",
                "orders-api",
                "team-a",
                "team-b",
                "adam",
                "zoe",
                "far",
                "petstore",
            ],
        ),
        (
            "trimmed-term",
            "  ann ",
            vec!["metadata.name", "spec.profile.displayName"],
            None,
            vec!["zoe"],
        ),
        (
            "several-fields",
            "an",
            vec!["metadata.name", "spec.profile.displayName"],
            None,
            vec!["adam", "zoe"],
        ),
        (
            "default-field-uid",
            "U1",
            vec![],
            None,
            vec!["zoe", "far", "petstore"],
        ),
        (
            "default-field-order-field",
            "TE",
            vec![],
            Some("metadata.name"),
            vec!["team-a", "team-b"],
        ),
        (
            "composes-with-order",
            "e",
            vec!["metadata.name"],
            Some("metadata.name"),
            vec![
                "checkout",
                "inventory",
                "orders-api",
                "Payments-API",
                "petstore",
                "team-a",
                "team-b",
                "zoe",
            ],
        ),
    ];
    for (id, term, fields, order, expected) in table {
        let page = catalog()
            .query(&QueryRequest {
                full_text: Some(FullTextFilter {
                    term: term.into(),
                    fields: strings(&fields),
                }),
                order_field: order.map(|f| OrderField {
                    field: f.into(),
                    desc: false,
                }),
                ..QueryRequest::default()
            })
            .expect(id);
        assert_eq!(names(&page.items), strings(&expected), "{id}");
        assert_eq!(page.total_items as usize, expected.len(), "{id} total");
    }
}

#[test]
fn malformed_cursors() {
    let index = catalog();
    let table: Vec<(&str, String, &str)> = vec![
        ("C23", "notbase64json".to_owned(), "Malformed cursor: "),
        (
            "json-but-wrong-shape",
            encode_base64(br#"{"limit":2}"#),
            "Malformed cursor: ",
        ),
        ("not-an-object", encode_base64(b"[1]"), "Malformed cursor: "),
        ("empty", String::new(), "Cursor cannot be empty"),
    ];
    for (id, cursor, prefix) in table {
        let err = index
            .query(&QueryRequest {
                cursor: Some(cursor),
                ..QueryRequest::default()
            })
            .expect_err(id);
        assert!(err.message().starts_with(prefix), "{id}: {}", err.message());
    }
}

/// Uids that grow with creation time put a kind loaded last after every other entity in uid
/// order, and uids sharing their first 24 bytes tie on the index's fixed-size uid keys. Pages
/// in uid order must still come out in exact uid order, forwards and backwards, whichever way
/// the index walks (the global order, per kind after a bounded walk, or sorting the set).
#[test]
fn uid_order_with_time_ordered_and_shared_prefix_uids() {
    use greenroom_catalog_query::{CatalogIndex, EntityFilter, WalkStrategy};
    use serde_json::json;

    for strategy in [
        WalkStrategy::Auto,
        WalkStrategy::Walk,
        WalkStrategy::Collect,
    ] {
        let mut index = CatalogIndex::new();
        index.set_walk_strategy(strategy);
        let mut expected_components = Vec::new();
        // 600 users first, then 300 components and 300 APIs interleaved, uids counting up
        // like UUIDv7's timestamp; every uid shares its first 24 bytes with 99 others.
        for n in 0..1200u32 {
            let (kind, name) = match n {
                0..600 => ("User", format!("u{n}")),
                _ if n % 2 == 0 => ("Component", format!("c{n}")),
                _ => ("API", format!("a{n}")),
            };
            let uid = format!(
                "01a22ab0-3e0a-7350-{:04x}-{:012x}",
                n / 100,
                n * 7919 % 1200
            );
            index
                .upsert(json!({
                    "apiVersion": "backstage.io/v1alpha1",
                    "kind": kind,
                    "metadata": {"name": name, "namespace": "default", "uid": uid},
                }))
                .expect("indexes");
            if kind == "Component" {
                expected_components.push((uid, format!("component:default/{name}")));
            }
        }
        expected_components.sort();
        let expected: Vec<String> = expected_components.into_iter().map(|(_, r)| r).collect();
        let request = |cursor: Option<String>| QueryRequest {
            filter: Some(EntityFilter::eq("kind", "component")),
            limit: Some(7),
            cursor,
            ..QueryRequest::default()
        };
        let mut page = index.query(&request(None)).expect("query");
        assert_eq!(page.total_items, 300);
        let mut forward: Vec<String> = page
            .items
            .iter()
            .map(|e| e.entity_ref().to_owned())
            .collect();
        while let Some(next) = page.next_cursor.clone() {
            page = index.query(&request(Some(next))).expect("next");
            forward.extend(page.items.iter().map(|e| e.entity_ref().to_owned()));
        }
        assert_eq!(forward, expected, "{strategy:?}");
        let mut backward: Vec<String> = page
            .items
            .iter()
            .map(|e| e.entity_ref().to_owned())
            .collect();
        while let Some(prev) = page.prev_cursor.clone() {
            page = index.query(&request(Some(prev))).expect("prev");
            let mut items: Vec<String> = page
                .items
                .iter()
                .map(|e| e.entity_ref().to_owned())
                .collect();
            items.extend(backward);
            backward = items;
        }
        assert_eq!(backward, expected, "{strategy:?}");
    }
}

/// A first page read elsewhere in uid order gets the cursor the index itself hands out, so
/// its next page is served by the index as if the index had served the first.
#[test]
fn uid_order_cursor_matches_the_index() {
    let index = catalog();
    for (filter, offset) in [
        (vec![], 0),
        (vec!["kind=component"], 1),
        (vec!["kind=API,kind=group"], 0),
    ] {
        let filter = parse_filter_params(&strings(&filter)).expect("filter");
        let page = index
            .query(&QueryRequest {
                filter: filter.clone(),
                offset: Some(offset),
                limit: Some(2),
                ..QueryRequest::default()
            })
            .expect("page");
        let expected = page.next_cursor.expect("more than one page");
        let uids: Vec<&str> = page.items.iter().map(|e| e.uid()).collect();
        let made = uid_order_next_cursor(filter.as_ref(), uids[0], uids[1], page.total_items);
        assert_eq!(made, expected, "{filter:?}");
    }
}
