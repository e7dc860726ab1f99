//! GET `filter` parsing and matching (spec §2; checklist 2–10).

use greenroom_catalog_query::{EntityFilter, ListRequest, parse_filter_params};

use crate::support::{catalog, names, sorted, strings};

fn check(id: &str, params: &[&str], expected: &[&str]) {
    let index = catalog();
    let filter = parse_filter_params(&strings(params)).unwrap_or_else(|e| panic!("{id}: {e}"));
    let page = index
        .list(&ListRequest {
            filter,
            ..ListRequest::default()
        })
        .unwrap_or_else(|e| panic!("{id}: {e}"));
    assert_eq!(
        sorted(names(&page.items)),
        sorted(strings(expected)),
        "{id}"
    );
}

#[test]
fn filter_matching() {
    let long = format!("spec.target={}", "x".repeat(250));
    let table: Vec<(&str, Vec<&str>, Vec<&str>)> = vec![
        (
            "C02",
            vec!["kind=component,metadata.namespace=default"],
            vec!["billing", "cart", "checkout", "inventory", "Payments-API"],
        ),
        (
            "C02-case",
            vec!["kind=COMPONENT,metadata.namespace=DEFAULT"],
            vec!["billing", "cart", "checkout", "inventory", "Payments-API"],
        ),
        (
            "C02-key-case",
            vec!["KIND=component"],
            vec!["billing", "cart", "checkout", "inventory", "Payments-API"],
        ),
        (
            "C03",
            vec!["kind=user", "kind=group"],
            vec!["adam", "zoe", "team-a", "team-b"],
        ),
        (
            "C04",
            vec!["kind=component,kind=api"],
            vec![
                "billing",
                "cart",
                "checkout",
                "inventory",
                "Payments-API",
                "orders-api",
                "petstore",
            ],
        ),
        (
            "C04-values-win-over-existence",
            vec!["kind,kind=api"],
            vec!["orders-api", "petstore"],
        ),
        (
            "C05",
            vec!["kind=component,spec.type"],
            vec!["billing", "cart", "checkout", "inventory", "Payments-API"],
        ),
        ("C05-null-row", vec!["spec.type="], vec![]),
        ("C06", vec!["metadata.annotations"], vec![]),
        ("C06-spec-object", vec!["spec"], vec![]),
        (
            "C07-tag-key",
            vec!["metadata.tags.java"],
            vec!["billing", "checkout"],
        ),
        (
            "C07-tag-value",
            vec!["metadata.tags=java"],
            vec!["billing", "checkout"],
        ),
        (
            "C07-tag-true",
            vec!["metadata.tags.JAVA=true"],
            vec!["billing", "checkout"],
        ),
        (
            "C08",
            vec!["relations.ownedBy=group:default/team-a"],
            vec!["billing", "checkout", "Payments-API", "orders-api"],
        ),
        (
            "C08-lower",
            vec!["relations.ownedby=group:default/team-a"],
            vec!["billing", "checkout", "Payments-API", "orders-api"],
        ),
        (
            "C08-memberof",
            vec!["kind=user,relations.memberof=group:default/team-a"],
            vec!["adam"],
        ),
        ("C10-existence", vec!["spec.target"], vec!["far"]),
        ("C10-equality", vec![long.as_str()], vec![]),
        (
            "annotation-key-with-dots",
            vec!["metadata.annotations.backstage.io/orphan=true"],
            vec!["Payments-API"],
        ),
        (
            "annotation-existence",
            vec!["metadata.annotations.github.com/project-slug"],
            vec!["billing"],
        ),
        ("value-with-equals", vec!["spec.owner=team-a=x"], vec![]),
        (
            "trimmed",
            vec![" kind = api , spec.type = grpc "],
            vec!["petstore"],
        ),
        (
            "number-value",
            vec!["spec.ports=8443"],
            vec!["Payments-API"],
        ),
        (
            "array-of-numbers-existence",
            vec!["spec.ports"],
            vec!["Payments-API"],
        ),
        (
            "empty-occurrence-ignored",
            vec![",,", "kind=api"],
            vec!["orders-api", "petstore"],
        ),
        (
            "repeated-key-different-case-is-and",
            vec!["kind=api,KIND=component"],
            vec![],
        ),
        ("unknown-key", vec!["spec.nothing=x"], vec![]),
        (
            "namespace-value",
            vec!["metadata.namespace=default,kind=location"],
            vec!["far"],
        ),
        ("uid-row", vec!["metadata.uid=U07"], vec!["team-a"]),
    ];
    for (id, params, expected) in table {
        check(id, &params, &expected);
    }
}

#[test]
fn filter_parse_results() {
    let table: Vec<(&str, Vec<&str>, Result<Option<EntityFilter>, &str>)> = vec![
        ("no params", vec![], Ok(None)),
        ("only empties", vec![",, ,", " "], Ok(None)),
        (
            "C09",
            vec!["=x"],
            Err(
                "Invalid filter, '=x' is not a valid statement (expected a string on the form a=b or a= or a)",
            ),
        ),
        (
            "empty key after trim",
            vec!["kind=a, =b"],
            Err(
                "Invalid filter, '=b' is not a valid statement (expected a string on the form a=b or a= or a)",
            ),
        ),
        (
            "structure",
            vec!["kind=a,kind=b,spec.x", "y="],
            Ok(Some(EntityFilter::Any(vec![
                EntityFilter::All(vec![
                    EntityFilter::Key {
                        key: "kind".into(),
                        values: Some(vec!["a".into(), "b".into()]),
                    },
                    EntityFilter::Key {
                        key: "spec.x".into(),
                        values: None,
                    },
                ]),
                EntityFilter::All(vec![EntityFilter::Key {
                    key: "y".into(),
                    values: Some(vec![String::new()]),
                }]),
            ]))),
        ),
    ];
    for (id, params, expected) in table {
        let got = parse_filter_params(&strings(&params));
        match expected {
            Ok(filter) => assert_eq!(got, Ok(filter), "{id}"),
            Err(message) => assert_eq!(
                got.map_err(|e| e.message().to_owned()),
                Err(message.to_owned()),
                "{id}"
            ),
        }
    }
}
