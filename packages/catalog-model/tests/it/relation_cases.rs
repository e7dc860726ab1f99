//! Relation derivation: the defaults of §14.10 (RL01–RL08) and the complete
//! relation set of the §15 example catalog (§15.2, 84 directed edges).

use std::collections::BTreeSet;

use greenroom_catalog_model::ProblemKind;
use greenroom_catalog_model::relations::{
    ALL_RELATION_TYPES, Relation, dedupe_relations, derive_relations,
};
use greenroom_catalog_model::yaml::parse_documents;
use serde_json::{Value, json};

/// A relation as `(source, type, target)` canonical strings.
type Edge = (String, String, String);

fn edges(relations: &[Relation]) -> BTreeSet<Edge> {
    relations.iter().map(Relation::canonical_key).collect()
}

fn edge(source: &str, relation_type: &str, target: &str) -> Edge {
    (
        source.to_owned(),
        relation_type.to_owned(),
        target.to_owned(),
    )
}

fn entity(kind: &str, namespace: &str, name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    })
}

/// Derives the relations of `input` and checks that they are exactly `want`.
fn check(id: &str, input: &Value, want: &[Edge]) {
    let got = derive_relations(input).unwrap_or_else(|p| panic!("{id}: unexpected problems {p:?}"));
    let want: BTreeSet<Edge> = want.iter().cloned().collect();
    assert_eq!(edges(&got), want, "{id}");
}

#[test]
fn relation_defaults() {
    let rows: Vec<(&str, Value, Vec<Edge>)> = vec![
        (
            "RL01",
            entity(
                "Component",
                "default",
                "web",
                json!({"owner": "fleet-team"}),
            ),
            vec![
                edge(
                    "component:default/web",
                    "ownedBy",
                    "group:default/fleet-team",
                ),
                edge(
                    "group:default/fleet-team",
                    "ownerOf",
                    "component:default/web",
                ),
            ],
        ),
        (
            "RL02",
            entity("Component", "payments", "web", json!({"owner": "team-a"})),
            vec![
                edge("component:payments/web", "ownedBy", "group:payments/team-a"),
                edge("group:payments/team-a", "ownerOf", "component:payments/web"),
            ],
        ),
        (
            "RL03",
            entity(
                "Component",
                "default",
                "web",
                json!({"owner": "user:default/jdoe"}),
            ),
            vec![
                edge("component:default/web", "ownedBy", "user:default/jdoe"),
                edge("user:default/jdoe", "ownerOf", "component:default/web"),
            ],
        ),
        (
            "RL05",
            entity(
                "Component",
                "default",
                "web",
                json!({"providesApis": ["payments/pay-api"]}),
            ),
            vec![
                edge(
                    "component:default/web",
                    "providesApi",
                    "api:payments/pay-api",
                ),
                edge(
                    "api:payments/pay-api",
                    "apiProvidedBy",
                    "component:default/web",
                ),
            ],
        ),
        (
            "RL06",
            entity("Group", "default", "ops", json!({"members": ["ana"]})),
            vec![
                edge("group:default/ops", "hasMember", "user:default/ana"),
                edge("user:default/ana", "memberOf", "group:default/ops"),
            ],
        ),
        (
            "RL07",
            entity(
                "Domain",
                "default",
                "payments",
                json!({"subdomainOf": "core"}),
            ),
            vec![
                edge("domain:default/payments", "partOf", "domain:default/core"),
                edge("domain:default/core", "hasPart", "domain:default/payments"),
            ],
        ),
        (
            "RL08",
            entity(
                "Resource",
                "default",
                "db",
                json!({"dependencyOf": ["component:web"]}),
            ),
            vec![
                edge(
                    "resource:default/db",
                    "dependencyOf",
                    "component:default/web",
                ),
                edge("component:default/web", "dependsOn", "resource:default/db"),
            ],
        ),
        (
            "RL-template",
            json!({
                "apiVersion": "scaffolder.backstage.io/v1beta3",
                "kind": "Template",
                "metadata": {"name": "t"},
                "spec": {"owner": "fleet-team", "type": "service"},
            }),
            vec![
                edge("template:default/t", "ownedBy", "group:default/fleet-team"),
                edge("group:default/fleet-team", "ownerOf", "template:default/t"),
            ],
        ),
        (
            "RL-template-old-api",
            json!({
                "apiVersion": "backstage.io/v1beta2",
                "kind": "Template",
                "metadata": {"name": "t"},
                "spec": {"owner": "fleet-team"},
            }),
            vec![],
        ),
        (
            "RL-location",
            entity(
                "Location",
                "default",
                "l",
                json!({"owner": "x", "targets": ["./a.yaml"]}),
            ),
            vec![],
        ),
        (
            "RL-non-strings-skipped",
            entity(
                "Component",
                "default",
                "web",
                json!({"owner": 7, "consumesApis": [1, null, "a"]}),
            ),
            vec![
                edge("component:default/web", "consumesApi", "api:default/a"),
                edge("api:default/a", "apiConsumedBy", "component:default/web"),
            ],
        ),
        (
            "RL-scalar-in-array-field",
            entity("User", "default", "ana", json!({"memberOf": "ops"})),
            vec![
                edge("user:default/ana", "memberOf", "group:default/ops"),
                edge("group:default/ops", "hasMember", "user:default/ana"),
            ],
        ),
    ];
    for (id, input, want) in &rows {
        check(id, input, want);
    }
}

#[test]
fn rl04_missing_kind_reports_every_field() {
    let input = entity(
        "Component",
        "default",
        "web",
        json!({"owner": "fleet-team", "dependsOn": ["artists-db", "resource:ok", "x:"], "dependencyOf": ["lib"]}),
    );
    let problems = derive_relations(&input).expect_err("RL04 must fail");
    let got: Vec<(String, ProblemKind)> = problems
        .iter()
        .map(|p| (p.path.to_string(), p.kind))
        .collect();
    assert_eq!(
        got,
        vec![
            ("spec.dependsOn.0".to_owned(), ProblemKind::Reference),
            ("spec.dependsOn.2".to_owned(), ProblemKind::Reference),
            ("spec.dependencyOf.0".to_owned(), ProblemKind::Reference),
        ],
        "RL04"
    );
    assert!(
        problems[0]
            .message
            .contains("\"artists-db\" had missing or empty kind"),
        "RL04 message: {}",
        problems[0].message
    );
}

#[test]
fn dedupe_is_case_insensitive_and_sorted() {
    let a = entity("Group", "default", "ops", json!({"members": ["ana"]}));
    let b = entity("User", "default", "Ana", json!({"memberOf": ["Group:ops"]}));
    let mut all = derive_relations(&a).expect("group");
    all.extend(derive_relations(&b).expect("user"));
    assert_eq!(all.len(), 4);
    let deduped = dedupe_relations(all);
    assert_eq!(deduped.len(), 2);
    let keys: Vec<Edge> = deduped.iter().map(Relation::canonical_key).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "dedupe output is sorted");
    assert_eq!(ALL_RELATION_TYPES.len(), 14);
}

/// §15.2, written as (source, type, targets) rows exactly as the spec's table.
const EXPECTED_EXAMPLE: &[(&str, &str, &[&str])] = &[
    (
        "domain:default/logistics",
        "ownedBy",
        &["group:default/logistics-division"],
    ),
    (
        "domain:default/logistics",
        "hasPart",
        &[
            "system:default/fleet-tracking",
            "system:default/route-planning",
        ],
    ),
    (
        "system:default/fleet-tracking",
        "ownedBy",
        &["group:default/fleet-team"],
    ),
    (
        "system:default/fleet-tracking",
        "partOf",
        &["domain:default/logistics"],
    ),
    (
        "system:default/fleet-tracking",
        "hasPart",
        &[
            "api:default/fleet-rest",
            "api:default/telemetry-events",
            "component:default/fleet-console",
            "component:default/telemetry-ingest",
            "resource:default/telemetry-store",
        ],
    ),
    (
        "system:default/route-planning",
        "ownedBy",
        &["group:default/routing-team"],
    ),
    (
        "system:default/route-planning",
        "partOf",
        &["domain:default/logistics"],
    ),
    (
        "system:default/route-planning",
        "hasPart",
        &[
            "api:default/route-graph",
            "component:default/geo-math",
            "component:default/route-optimizer",
            "resource:default/route-cache",
        ],
    ),
    (
        "component:default/telemetry-ingest",
        "ownedBy",
        &["group:default/fleet-team"],
    ),
    (
        "component:default/telemetry-ingest",
        "partOf",
        &["system:default/fleet-tracking"],
    ),
    (
        "component:default/telemetry-ingest",
        "providesApi",
        &["api:default/fleet-rest", "api:default/telemetry-events"],
    ),
    (
        "component:default/telemetry-ingest",
        "dependsOn",
        &["resource:default/telemetry-store"],
    ),
    (
        "component:default/fleet-console",
        "ownedBy",
        &["group:default/fleet-team"],
    ),
    (
        "component:default/fleet-console",
        "partOf",
        &["system:default/fleet-tracking"],
    ),
    (
        "component:default/fleet-console",
        "consumesApi",
        &["api:default/fleet-rest", "api:default/route-graph"],
    ),
    (
        "component:default/route-optimizer",
        "ownedBy",
        &["group:default/routing-team"],
    ),
    (
        "component:default/route-optimizer",
        "partOf",
        &["system:default/route-planning"],
    ),
    (
        "component:default/route-optimizer",
        "providesApi",
        &["api:default/route-graph"],
    ),
    (
        "component:default/route-optimizer",
        "consumesApi",
        &["api:default/telemetry-events"],
    ),
    (
        "component:default/route-optimizer",
        "dependsOn",
        &["resource:default/route-cache", "component:default/geo-math"],
    ),
    (
        "component:default/route-optimizer",
        "hasPart",
        &["component:default/geo-math"],
    ),
    (
        "component:default/geo-math",
        "ownedBy",
        &["user:default/chen"],
    ),
    (
        "component:default/geo-math",
        "partOf",
        &[
            "system:default/route-planning",
            "component:default/route-optimizer",
        ],
    ),
    (
        "component:default/geo-math",
        "dependencyOf",
        &["component:default/route-optimizer"],
    ),
    (
        "api:default/fleet-rest",
        "ownedBy",
        &["group:default/fleet-team"],
    ),
    (
        "api:default/fleet-rest",
        "partOf",
        &["system:default/fleet-tracking"],
    ),
    (
        "api:default/fleet-rest",
        "apiProvidedBy",
        &["component:default/telemetry-ingest"],
    ),
    (
        "api:default/fleet-rest",
        "apiConsumedBy",
        &["component:default/fleet-console"],
    ),
    (
        "api:default/telemetry-events",
        "ownedBy",
        &["group:default/fleet-team"],
    ),
    (
        "api:default/telemetry-events",
        "partOf",
        &["system:default/fleet-tracking"],
    ),
    (
        "api:default/telemetry-events",
        "apiProvidedBy",
        &["component:default/telemetry-ingest"],
    ),
    (
        "api:default/telemetry-events",
        "apiConsumedBy",
        &["component:default/route-optimizer"],
    ),
    (
        "api:default/route-graph",
        "ownedBy",
        &["group:default/routing-team"],
    ),
    (
        "api:default/route-graph",
        "partOf",
        &["system:default/route-planning"],
    ),
    (
        "api:default/route-graph",
        "apiProvidedBy",
        &["component:default/route-optimizer"],
    ),
    (
        "api:default/route-graph",
        "apiConsumedBy",
        &["component:default/fleet-console"],
    ),
    (
        "resource:default/telemetry-store",
        "ownedBy",
        &["group:default/fleet-team"],
    ),
    (
        "resource:default/telemetry-store",
        "partOf",
        &["system:default/fleet-tracking"],
    ),
    (
        "resource:default/telemetry-store",
        "dependencyOf",
        &[
            "component:default/telemetry-ingest",
            "resource:default/route-cache",
        ],
    ),
    (
        "resource:default/route-cache",
        "ownedBy",
        &["group:default/routing-team"],
    ),
    (
        "resource:default/route-cache",
        "partOf",
        &["system:default/route-planning"],
    ),
    (
        "resource:default/route-cache",
        "dependsOn",
        &["resource:default/telemetry-store"],
    ),
    (
        "resource:default/route-cache",
        "dependencyOf",
        &["component:default/route-optimizer"],
    ),
    (
        "group:default/logistics-division",
        "parentOf",
        &["group:default/fleet-team", "group:default/routing-team"],
    ),
    (
        "group:default/logistics-division",
        "hasMember",
        &["user:default/dara"],
    ),
    (
        "group:default/logistics-division",
        "ownerOf",
        &["domain:default/logistics"],
    ),
    (
        "group:default/fleet-team",
        "childOf",
        &["group:default/logistics-division"],
    ),
    (
        "group:default/fleet-team",
        "hasMember",
        &["user:default/ana", "user:default/chen"],
    ),
    (
        "group:default/fleet-team",
        "ownerOf",
        &[
            "system:default/fleet-tracking",
            "component:default/telemetry-ingest",
            "component:default/fleet-console",
            "api:default/fleet-rest",
            "api:default/telemetry-events",
            "resource:default/telemetry-store",
            "template:default/new-fleet-service",
        ],
    ),
    (
        "group:default/routing-team",
        "childOf",
        &["group:default/logistics-division"],
    ),
    (
        "group:default/routing-team",
        "hasMember",
        &["user:default/ben", "user:default/chen"],
    ),
    (
        "group:default/routing-team",
        "ownerOf",
        &[
            "system:default/route-planning",
            "component:default/route-optimizer",
            "api:default/route-graph",
            "resource:default/route-cache",
        ],
    ),
    (
        "user:default/ana",
        "memberOf",
        &["group:default/fleet-team"],
    ),
    (
        "user:default/ben",
        "memberOf",
        &["group:default/routing-team"],
    ),
    (
        "user:default/chen",
        "memberOf",
        &["group:default/fleet-team", "group:default/routing-team"],
    ),
    (
        "user:default/chen",
        "ownerOf",
        &["component:default/geo-math"],
    ),
    (
        "user:default/dara",
        "memberOf",
        &["group:default/logistics-division"],
    ),
    (
        "template:default/new-fleet-service",
        "ownedBy",
        &["group:default/fleet-team"],
    ),
];

#[test]
fn example_catalog_relations() {
    let text = include_str!("fixtures/logistics-catalog.yaml");
    let documents: Vec<Value> = parse_documents(text)
        .into_iter()
        .map(|d| d.expect("example document parses").value)
        .collect();
    assert_eq!(documents.len(), 21, "the example has 21 documents");

    let mut all = Vec::new();
    for doc in documents.iter().filter(|d| d["kind"] != "Location") {
        let name = &doc["metadata"]["name"];
        all.extend(derive_relations(doc).unwrap_or_else(|p| panic!("{name}: {p:?}")));
    }
    let deduped = dedupe_relations(all);

    let want: BTreeSet<Edge> = EXPECTED_EXAMPLE
        .iter()
        .flat_map(|(source, ty, targets)| targets.iter().map(move |t| edge(source, ty, t)))
        .collect();
    assert_eq!(want.len(), 84, "the expected table itself lists 84 edges");
    let got = edges(&deduped);
    let missing: Vec<&Edge> = want.difference(&got).collect();
    let extra: Vec<&Edge> = got.difference(&want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "relation mismatch\nmissing: {missing:#?}\nextra: {extra:#?}"
    );
    assert_eq!(deduped.len(), 84, "no duplicates survive dedupe");
}
