//! POST by-query predicates (spec §7.3; checklist 29).

use greenroom_catalog_query::{QueryRequest, parse_filter_params, parse_predicate};
use serde_json::{Value, json};

use crate::support::{catalog, names, sorted, strings};

fn matching(query: &Value) -> Result<Vec<String>, String> {
    let filter = parse_predicate(query).map_err(|e| e.message().to_owned())?;
    let page = catalog()
        .query(&QueryRequest {
            filter: Some(filter),
            ..QueryRequest::default()
        })
        .map_err(|e| e.message().to_owned())?;
    Ok(sorted(names(&page.items)))
}

#[test]
fn predicate_matching() {
    let components = ["billing", "cart", "checkout", "inventory", "Payments-API"];
    let everything = [
        "billing",
        "cart",
        "checkout",
        "inventory",
        "Payments-API",
        "orders-api",
        "petstore",
        "team-a",
        "team-b",
        "adam",
        "zoe",
        "far",
    ];
    let table: Vec<(&str, Value, Vec<&str>)> = vec![
        (
            "C29",
            json!({"kind": "component", "spec.type": {"$in": ["service", "website"]}}),
            vec!["billing", "cart", "inventory", "Payments-API"],
        ),
        (
            "primitive-case-insensitive",
            json!({"kind": "COMPONENT"}),
            components.to_vec(),
        ),
        (
            "number-primitive",
            json!({"spec.ports": 8080}),
            vec!["Payments-API"],
        ),
        (
            "boolean-primitive",
            json!({"metadata.tags.go": true}),
            vec!["cart"],
        ),
        (
            "all-empty-matches-all",
            json!({"$all": []}),
            everything.to_vec(),
        ),
        ("any-empty-matches-none", json!({"$any": []}), vec![]),
        (
            "not-any-empty-matches-all",
            json!({"$not": {"$any": []}}),
            everything.to_vec(),
        ),
        (
            "in-empty-matches-none",
            json!({"kind": {"$in": []}}),
            vec![],
        ),
        (
            "any",
            json!({"$any": [{"kind": "user"}, {"kind": "group"}]}),
            vec!["adam", "zoe", "team-a", "team-b"],
        ),
        (
            "spec-example",
            json!({"$all": [{"kind": "component", "spec.type": {"$in": ["service", "website"]}}, {"$not": {"metadata.annotations.backstage.io/orphan": "true"}}]}),
            vec!["billing", "cart", "inventory"],
        ),
        (
            "exists-true",
            json!({"kind": "component", "metadata.tags": {"$exists": true}}),
            vec!["billing", "cart", "checkout"],
        ),
        (
            "exists-false",
            json!({"kind": "component", "metadata.tags": {"$exists": false}}),
            vec!["inventory", "Payments-API"],
        ),
        (
            "has-prefix",
            json!({"metadata.name": {"$hasPrefix": "C"}}),
            vec!["cart", "checkout"],
        ),
        (
            "has-prefix-literal-percent",
            json!({"metadata.name": {"$hasPrefix": "c%"}}),
            vec![],
        ),
        (
            "contains-relation-in",
            json!({"kind": {"$in": ["component", "api"]}, "relations": {"$contains": {"type": "ownedBy", "targetRef": {"$in": ["group:default/team-a", "group:default/team-b"]}}}}),
            vec![
                "billing",
                "cart",
                "checkout",
                "inventory",
                "Payments-API",
                "orders-api",
            ],
        ),
        (
            "contains-relation-single",
            json!({"relations": {"$contains": {"type": "memberOf", "targetRef": "GROUP:default/team-a"}}}),
            vec!["adam"],
        ),
        (
            "contains-relation-type-only",
            json!({"relations": {"$contains": {"type": "hasMember"}}}),
            vec!["team-a"],
        ),
        (
            "contains-array-primitive",
            json!({"metadata.tags": {"$contains": "JAVA"}}),
            vec!["billing", "checkout"],
        ),
        (
            "relation-key-directly",
            json!({"relations.ownedby": "group:default/team-b"}),
            vec!["cart", "inventory"],
        ),
        (
            "not",
            json!({"$not": {"kind": {"$in": ["component", "api", "group", "user"]}}}),
            vec!["far"],
        ),
    ];
    for (id, query, expected) in table {
        assert_eq!(matching(&query), Ok(sorted(strings(&expected))), "{id}");
    }
}

#[test]
fn predicate_equals_get_filter() {
    let index = catalog();
    let get = parse_filter_params(&strings(&[
        "kind=component,spec.type=service,spec.type=website",
    ]))
    .expect("parses");
    let post = parse_predicate(
        &json!({"kind": "component", "spec.type": {"$in": ["service", "website"]}}),
    )
    .expect("parses");
    let run = |filter| {
        names(
            &index
                .query(&QueryRequest {
                    filter,
                    ..QueryRequest::default()
                })
                .expect("query")
                .items,
        )
    };
    assert_eq!(run(get), run(Some(post)), "C29");
}

#[test]
fn predicate_errors() {
    let table: Vec<(&str, Value, &str)> = vec![
        (
            "C29-string",
            json!("x"),
            "request/body/query must be object",
        ),
        (
            "array-root",
            json!(["x"]),
            "request/body/query must be object",
        ),
        ("unknown-operator", json!({"$or": []}), "Invalid query: "),
        (
            "operator-with-siblings",
            json!({"$all": [], "kind": "a"}),
            "Invalid query: ",
        ),
        (
            "all-not-array",
            json!({"$all": {"kind": "a"}}),
            "Invalid query: ",
        ),
        (
            "all-item-not-object",
            json!({"$all": ["kind"]}),
            "Invalid query: ",
        ),
        (
            "not-as-value-matcher",
            json!({"kind": {"$not": "a"}}),
            "Invalid filter predicate value for field \"kind\": ",
        ),
        (
            "unknown-value-operator",
            json!({"kind": {"$regex": "a"}}),
            "Invalid filter predicate value for field \"kind\": ",
        ),
        (
            "null-value",
            json!({"kind": null}),
            "Invalid filter predicate value for field \"kind\": ",
        ),
        (
            "array-value",
            json!({"kind": ["a"]}),
            "Invalid filter predicate value for field \"kind\": ",
        ),
        (
            "exists-not-bool",
            json!({"kind": {"$exists": "yes"}}),
            "Invalid filter predicate value for field \"kind\": ",
        ),
        (
            "in-not-array",
            json!({"kind": {"$in": "a"}}),
            "Invalid filter predicate value for field \"kind\": ",
        ),
        (
            "in-object-item",
            json!({"kind": {"$in": [{}]}}),
            "Invalid filter predicate value for field \"kind\": ",
        ),
        (
            "prefix-not-string",
            json!({"kind": {"$hasPrefix": 1}}),
            "Invalid filter predicate value for field \"kind\": ",
        ),
        (
            "contains-object-on-field",
            json!({"spec": {"$contains": {"type": "x"}}}),
            "Invalid filter predicate value for field \"spec\": ",
        ),
        (
            "contains-no-type",
            json!({"relations": {"$contains": {"targetRef": "x"}}}),
            "Invalid filter predicate value for field \"relations\": ",
        ),
        (
            "two-operators",
            json!({"kind": {"$in": [], "$exists": true}}),
            "Invalid filter predicate value for field \"kind\": ",
        ),
    ];
    for (id, query, prefix) in table {
        let err = parse_predicate(&query).expect_err(id);
        assert!(err.message().starts_with(prefix), "{id}: {}", err.message());
    }
    let mut deep = json!({"kind": "a"});
    for _ in 0..100 {
        deep = json!({"$not": deep});
    }
    assert!(parse_predicate(&deep).is_err(), "deep nesting is refused");
}
