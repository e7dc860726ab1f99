//! Processing tests on SQLite and PostgreSQL: ingesting a tree of files from a
//! config location, unchanged re-processing, broken and fixed edits, orphaning,
//! conflicts, `catalog.rules` and placeholders.

use std::collections::HashSet;

use greenroom_backend_test_utils::database::TestDir;
use serde_json::{Value, json};

use crate::processing_support::{Fixture, component, generated_ref, group, kinds, location};

fn tree() -> Vec<(&'static str, String)> {
    vec![
        (
            "all.yaml",
            location("root", &["./components.yaml", "./org/*.yaml"]),
        ),
        (
            "components.yaml",
            format!(
                "{}---\n{}",
                component("payments", "team-a"),
                "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: payments-api\nspec:\n  type: openapi\n  lifecycle: production\n  owner: team-a\n  definition: x\n"
            ),
        ),
        ("org/teams.yaml", group("team-a")),
    ]
}

async fn ingested(kind: greenroom_backend_test_utils::database::TestDatabaseKind) -> Fixture {
    let files = tree();
    let files: Vec<(&str, &str)> = files.iter().map(|(n, c)| (*n, c.as_str())).collect();
    let f = Fixture::new(
        kind,
        &files,
        json!({"locations": [{"type": "file", "target": "{dir}/all.yaml"}]}),
        json!({}),
    )
    .await;
    f.run().await;
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_location_ingests_a_tree_of_files() {
    for kind in kinds() {
        let f = ingested(kind).await;
        let db = f.name();
        let generated = generated_ref("file", &f.path("all.yaml").display().to_string());
        assert_eq!(
            f.refs().await,
            vec![
                "api:default/payments-api".to_owned(),
                "component:default/payments".to_owned(),
                "group:default/team-a".to_owned(),
                generated.clone(),
                "location:default/root".to_owned(),
            ],
            "[{db}] rows"
        );
        let mut expected_edges = vec![
            format!("location:default/root -> api:default/payments-api"),
            format!("location:default/root -> component:default/payments"),
            format!("location:default/root -> group:default/team-a"),
            format!("provider:ConfigLocationProvider -> {generated}"),
            format!("{generated} -> location:default/root"),
        ];
        expected_edges.sort();
        assert_eq!(f.edges().await, expected_edges, "[{db}] edges");
        for entity_ref in f.refs().await {
            assert!(
                f.errors(&entity_ref).await.is_empty(),
                "[{db}] {entity_ref} has errors"
            );
        }
        let payments = f
            .processed("component:default/payments")
            .await
            .expect("processed");
        let ids = f
            .column("SELECT entity_id FROM refresh_state WHERE entity_ref = 'component:default/payments'")
            .await;
        assert_eq!(payments["metadata"]["uid"], json!(ids[0]), "[{db}] uid");
        assert_eq!(payments["metadata"]["namespace"], "default");
        let annotations = &payments["metadata"]["annotations"];
        assert_eq!(
            annotations["backstage.io/managed-by-location"],
            json!(f.file_ref("components.yaml"))
        );
        assert_eq!(
            annotations["backstage.io/managed-by-origin-location"],
            json!(f.file_ref("all.yaml"))
        );
        let relations = f.relations().await;
        for expected in [
            "component:default/payments ownedBy group:default/team-a",
            "group:default/team-a ownerOf component:default/payments",
            "api:default/payments-api ownedBy group:default/team-a",
        ] {
            assert!(
                relations.iter().any(|r| r == expected),
                "[{db}] relation {expected}: {relations:?}"
            );
        }
        assert_eq!(relations.len(), 4, "[{db}] {relations:?}");
        let keys = f
            .column("SELECT k.key FROM refresh_keys k JOIN refresh_state s ON s.entity_id = k.entity_id WHERE s.entity_ref = 'location:default/root' ORDER BY k.key")
            .await;
        assert_eq!(
            keys,
            vec![f.file_ref("components.yaml"), f.file_ref("org/teams.yaml")],
            "[{db}] keys"
        );
        let queued = f
            .column("SELECT entity_ref FROM stitch_queue ORDER BY entity_ref")
            .await;
        assert!(
            queued.contains(&"component:default/payments".to_owned()),
            "[{db}] stitch queued: {queued:?}"
        );
        f.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unchanged_reprocessing_writes_nothing() {
    for kind in kinds() {
        let f = ingested(kind).await;
        let db = f.name();
        let before = f.rows("SELECT entity_ref, processed_entity, result_hash FROM refresh_state ORDER BY entity_ref").await;
        let relations_before = f.relations().await;
        f.exec("DELETE FROM stitch_queue").await;
        let processed = f.rerun().await;
        assert_eq!(processed, 5, "[{db}] every row was processed again");
        let after = f.rows("SELECT entity_ref, processed_entity, result_hash FROM refresh_state ORDER BY entity_ref").await;
        assert_eq!(before, after, "[{db}] rows unchanged");
        assert_eq!(
            relations_before,
            f.relations().await,
            "[{db}] relations unchanged"
        );
        assert!(
            f.column("SELECT entity_ref FROM stitch_queue")
                .await
                .is_empty(),
            "[{db}] nothing stitched"
        );
        f.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_edit_keeps_the_last_good_version_and_a_fix_clears_the_errors() {
    for kind in kinds() {
        let f = ingested(kind).await;
        let db = f.name();

        // A YAML error fails the reading Location; its children stay as they were.
        f.write(
            "components.yaml",
            &format!("{}---\nkind: [unclosed\n", component("payments", "team-b")),
        );
        f.engine
            .refresh_keys(&[f.file_ref("components.yaml")])
            .await
            .expect("refresh");
        f.run().await;
        let errors = f.errors("location:default/root").await;
        assert_eq!(errors.len(), 1, "[{db}] {errors:?}");
        assert_eq!(errors[0]["name"], "InputError");
        let message = errors[0]["message"].as_str().unwrap_or("");
        assert!(
            message.starts_with(&format!("YAML error at {}", f.file_ref("components.yaml"))),
            "[{db}] {message}"
        );
        let payments = f
            .processed("component:default/payments")
            .await
            .expect("kept");
        assert_eq!(
            payments["spec"]["owner"], "team-a",
            "[{db}] old version kept"
        );
        assert!(
            f.edges()
                .await
                .contains(&"location:default/root -> api:default/payments-api".to_owned())
        );

        // A valid file with an invalid entity: the entity keeps its last good version.
        f.write(
            "components.yaml",
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: payments\nspec:\n  lifecycle: production\n  owner: team-b\n",
        );
        f.engine
            .refresh_keys(&[f.file_ref("components.yaml")])
            .await
            .expect("refresh");
        f.run().await;
        assert!(
            f.errors("location:default/root").await.is_empty(),
            "[{db}] location recovered"
        );
        let errors = f.errors("component:default/payments").await;
        assert_eq!(errors.len(), 1, "[{db}] {errors:?}");
        let message = errors[0]["message"].as_str().unwrap_or("");
        assert!(
            message.starts_with("Processor BuiltinKindsEntityProcessor threw an error while validating the entity component:default/payments")
                && message.contains("'type'"),
            "[{db}] {message}"
        );
        let payments = f
            .processed("component:default/payments")
            .await
            .expect("kept");
        assert_eq!(
            payments["spec"]["owner"], "team-a",
            "[{db}] old version still served"
        );
        assert!(
            f.column("SELECT entity_ref FROM stitch_queue")
                .await
                .contains(&"component:default/payments".to_owned()),
            "[{db}] the failure is stitched so that it shows in status"
        );

        // The fix clears the errors and the new version is served.
        f.write("components.yaml", &component("payments", "team-b"));
        f.engine
            .refresh_keys(&[f.file_ref("components.yaml")])
            .await
            .expect("refresh");
        f.run().await;
        assert!(
            f.errors("component:default/payments").await.is_empty(),
            "[{db}] errors cleared"
        );
        let payments = f
            .processed("component:default/payments")
            .await
            .expect("processed");
        assert_eq!(payments["spec"]["owner"], "team-b", "[{db}] new version");
        assert!(
            f.relations()
                .await
                .contains(&"group:default/team-b ownerOf component:default/payments".to_owned())
        );
        assert!(
            !f.relations()
                .await
                .contains(&"group:default/team-a ownerOf component:default/payments".to_owned())
        );
        f.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_target_orphans_its_entities_instead_of_deleting_them() {
    for kind in kinds() {
        let f = ingested(kind).await;
        let db = f.name();
        f.write("all.yaml", &location("root", &["./components.yaml"]));
        f.engine
            .refresh_keys(&[f.file_ref("all.yaml")])
            .await
            .expect("refresh");
        f.exec("DELETE FROM stitch_queue").await;
        f.run().await;
        assert!(
            f.refs().await.contains(&"group:default/team-a".to_owned()),
            "[{db}] still stored"
        );
        assert!(
            !f.edges()
                .await
                .iter()
                .any(|e| e.ends_with("-> group:default/team-a")),
            "[{db}] no incoming edge"
        );
        assert!(
            f.column("SELECT entity_ref FROM stitch_queue")
                .await
                .contains(&"group:default/team-a".to_owned()),
            "[{db}] the orphan is restitched"
        );
        f.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_location_to_claim_a_ref_keeps_it() {
    for kind in kinds() {
        let f = Fixture::new(
            kind,
            &[
                ("a.yaml", &component("shared", "team-a")),
                ("b.yaml", &component("shared", "team-b")),
            ],
            json!({}),
            json!({}),
        )
        .await;
        let db = f.name();
        let a = f.path("a.yaml").display().to_string();
        let b = f.path("b.yaml").display().to_string();
        f.engine
            .add_location("file", &a, None)
            .await
            .expect("add a");
        f.run().await;
        f.engine
            .add_location("file", &b, None)
            .await
            .expect("add b");
        f.run().await;
        let keys = f
            .column("SELECT location_key FROM refresh_state WHERE entity_ref = 'component:default/shared'")
            .await;
        assert_eq!(
            keys,
            vec![f.file_ref("a.yaml")],
            "[{db}] first claimant's key"
        );
        let shared = f
            .processed("component:default/shared")
            .await
            .expect("processed");
        assert_eq!(
            shared["spec"]["owner"], "team-a",
            "[{db}] first claimant's content"
        );
        let into_shared: Vec<String> = f
            .edges()
            .await
            .into_iter()
            .filter(|e| e.ends_with("-> component:default/shared"))
            .collect();
        assert_eq!(
            into_shared,
            vec![format!(
                "{} -> component:default/shared",
                generated_ref("file", &a)
            )],
            "[{db}]"
        );
        assert!(
            f.errors(&generated_ref("file", &b)).await.is_empty(),
            "[{db}] conflicts are not errors"
        );
        f.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kind_not_allowed_by_the_rules_fails_the_whole_run() {
    for kind in kinds() {
        let files = format!("{}---\n{}", component("svc", "team-a"), group("team-a"));
        let f = Fixture::new(
            kind,
            &[("all.yaml", &files)],
            json!({
                "rules": [{"allow": ["Component", "Location"]}],
                "locations": [{"type": "file", "target": "{dir}/all.yaml"}]
            }),
            json!({}),
        )
        .await;
        let db = f.name();
        f.run().await;
        let file = f.path("all.yaml").display().to_string();
        let generated = generated_ref("file", &file);
        assert_eq!(
            f.refs().await,
            vec![generated.clone()],
            "[{db}] no child written"
        );
        let errors = f.errors(&generated).await;
        assert_eq!(
            errors,
            vec![json!({
                "name": "NotAllowedError",
                "message": format!("Entity group:default/team-a at file:{file}, originated at file:{file}, is not of an allowed kind for that location")
            })],
            "[{db}]"
        );
        f.cleanup().await;
    }
}

/// One placeholder case: the descriptor's `description` value and what it becomes.
struct PlaceholderCase {
    id: &'static str,
    value: Value,
    expected: Result<&'static str, &'static str>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn placeholders_read_files_beside_the_descriptor_but_never_outside_the_root() {
    let cases = [
        PlaceholderCase {
            id: "P01 relative $text",
            value: json!({"$text": "./README.md"}),
            expected: Ok("Payments docs\n"),
        },
        PlaceholderCase {
            id: "P02 nested folder",
            value: json!({"$text": "docs/intro.txt"}),
            expected: Ok("intro"),
        },
        PlaceholderCase {
            id: "P03 escape refused",
            value: json!({"$text": "../outside.txt"}),
            expected: Err("path escapes the location root"),
        },
        PlaceholderCase {
            id: "P04 missing file",
            value: json!({"$text": "./nope.md"}),
            expected: Err("Placeholder $text could not read location ./nope.md"),
        },
    ];
    for kind in kinds() {
        for case in &cases {
            let descriptor = json!({
                "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
                "metadata": {"name": "payments", "description": case.value},
                "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"}
            });
            let f = Fixture::new(
                kind,
                &[
                    ("cat/catalog-info.yaml", &descriptor.to_string()),
                    ("cat/README.md", "Payments docs\n"),
                    ("cat/docs/intro.txt", "intro"),
                    ("outside.txt", "secret"),
                ],
                json!({"locations": [{"type": "file", "target": "{dir}/cat/catalog-info.yaml"}]}),
                json!({}),
            )
            .await;
            f.run().await;
            let label = format!("[{}] {}", f.name(), case.id);
            match case.expected {
                Ok(text) => {
                    let entity = f
                        .processed("component:default/payments")
                        .await
                        .expect(&label);
                    assert_eq!(entity["metadata"]["description"], text, "{label}");
                    let keys = f
                        .column("SELECT k.key FROM refresh_keys k JOIN refresh_state s ON s.entity_id = k.entity_id WHERE s.entity_ref = 'component:default/payments'")
                        .await;
                    assert_eq!(keys.len(), 1, "{label}: {keys:?}");
                    assert!(keys[0].starts_with("file:"), "{label}: {keys:?}");
                }
                Err(fragment) => {
                    assert!(
                        f.processed("component:default/payments").await.is_none(),
                        "{label}: never served"
                    );
                    let errors = f.errors("component:default/payments").await;
                    let message = errors
                        .first()
                        .and_then(|e| e["message"].as_str())
                        .unwrap_or("");
                    assert!(
                        message.starts_with(
                            "Processor PlaceholderProcessor threw an error while preprocessing"
                        ) && message.contains(fragment),
                        "{label}: {message}"
                    );
                }
            }
            f.cleanup().await;
        }
    }
}

/// A load of new entities larger than two processing batches: on SQLite the
/// relations source index is set aside while the backlog is processed, and it is
/// back, with every relation stitched onto both ends, when the load is done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_load_stitches_every_relation_and_keeps_the_source_index() {
    const COMPONENTS: usize = 4_500;
    const TEAMS: usize = 9;
    for kind in kinds() {
        let mut docs: Vec<String> = (0..TEAMS).map(|t| group(&format!("team-{t}"))).collect();
        docs.extend(
            (0..COMPONENTS)
                .map(|i| component(&format!("service-{i}"), &format!("team-{}", i % TEAMS))),
        );
        let all = location("root", &["./bulk.yaml"]);
        let bulk = docs.join("---\n");
        let f = Fixture::new(
            kind,
            &[("all.yaml", all.as_str()), ("bulk.yaml", bulk.as_str())],
            json!({"locations": [{"type": "file", "target": "{dir}/all.yaml"}]}),
            json!({}),
        )
        .await;
        let db = f.name();
        f.run_and_stitch().await;

        let finals = f
            .column("SELECT CAST(COUNT(*) AS TEXT) FROM final_entities")
            .await;
        // The teams, the components, the root Location and the generated one.
        assert_eq!(
            finals,
            vec![(TEAMS + COMPONENTS + 2).to_string()],
            "[{db}] final entities"
        );
        let text = f
            .column(
                "SELECT final_entity FROM final_entities WHERE entity_ref = 'group:default/team-4'",
            )
            .await;
        let team: Value = serde_json::from_str(text.first().expect("team-4")).expect("JSON");
        let owned: Vec<&str> = team["relations"]
            .as_array()
            .expect("relations")
            .iter()
            .filter(|r| r["type"] == "ownerOf")
            .filter_map(|r| r["targetRef"].as_str())
            .collect();
        assert_eq!(
            owned.len(),
            COMPONENTS / TEAMS,
            "[{db}] ownerOf relations of team-4"
        );
        assert!(
            owned.contains(&"component:default/service-4"),
            "[{db}] {owned:?}"
        );
        let text = f
            .column("SELECT final_entity FROM final_entities WHERE entity_ref = 'component:default/service-4001'")
            .await;
        let service: Value = serde_json::from_str(text.first().expect("service")).expect("JSON");
        assert!(
            service["relations"]
                .as_array()
                .expect("relations")
                .iter()
                .any(|r| r["type"] == "ownedBy" && r["targetRef"] == "group:default/team-5"),
            "[{db}] {service}"
        );
        let index = f.column(source_index_sql(db)).await;
        assert_eq!(index.len(), 1, "[{db}] the source index is back");
        assert!(index[0].contains("target_entity_ref"), "[{db}] {index:?}");
        f.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_location_reports_its_broken_entities_in_file_order() {
    // Enough entities that the root's children are checked on several threads.
    const COMPONENTS: usize = 1_200;
    for kind in kinds() {
        let mut docs: Vec<String> = (0..COMPONENTS)
            .map(|i| component(&format!("service-{i}"), "team-a"))
            .collect();
        // Two broken documents, one early and one late, each with its own problem.
        docs[150] = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  title: nameless\nspec:\n  owner: team-a\n".to_owned();
        docs[1_100] = "apiVersion: backstage.io/v1alpha1\nmetadata:\n  name: kindless\n".to_owned();
        let all = location("root", &["./first.yaml", "./second.yaml"]);
        let first = docs[..600].join("---\n");
        let second = docs[600..].join("---\n");
        let f = Fixture::new(
            kind,
            &[
                ("all.yaml", all.as_str()),
                ("first.yaml", first.as_str()),
                ("second.yaml", second.as_str()),
            ],
            json!({"locations": [{"type": "file", "target": "{dir}/all.yaml"}]}),
            json!({}),
        )
        .await;
        let db = f.name();
        f.run().await;

        let errors = f.errors("location:default/root").await;
        assert_eq!(errors.len(), 2, "[{db}] {errors:?}");
        let messages: Vec<&str> = errors
            .iter()
            .map(|e| e["message"].as_str().unwrap_or(""))
            .collect();
        assert!(
            messages[0].contains(&f.file_ref("first.yaml")) && messages[0].contains("name"),
            "[{db}] {messages:?}"
        );
        assert!(
            messages[1].contains(&f.file_ref("second.yaml")) && messages[1].contains("kind"),
            "[{db}] {messages:?}"
        );
        // A failed run writes none of its children.
        assert!(
            f.processed("component:default/service-0").await.is_none(),
            "[{db}] nothing written"
        );

        // Fixed, every child arrives, in the order the files list them.
        f.write("first.yaml", &docs[..150].join("---\n"));
        f.write("second.yaml", &docs[600..1_100].join("---\n"));
        // (A run that failed registered no refresh keys: every row is made due.)
        f.rerun().await;
        assert!(
            f.errors("location:default/root").await.is_empty(),
            "[{db}] recovered"
        );
        let refs = f.refs().await;
        assert!(
            refs.contains(&"component:default/service-149".to_owned())
                && refs.contains(&"component:default/service-1099".to_owned())
                && !refs.contains(&"component:default/service-150".to_owned()),
            "[{db}] {} refs",
            refs.len()
        );
        assert_eq!(refs.len(), 150 + 500 + 2, "[{db}] rows");
        // Each row holds its own entity (the children of a file are packed
        // together until they are written), annotated with its own file.
        for (i, file) in [
            (0, "first.yaml"),
            (149, "first.yaml"),
            (600, "second.yaml"),
            (1_099, "second.yaml"),
        ] {
            let stored = f
                .column(&format!(
                    "SELECT unprocessed_entity FROM refresh_state WHERE entity_ref = 'component:default/service-{i}'"
                ))
                .await;
            let entity: Value = serde_json::from_str(&stored[0]).expect("stored JSON");
            assert_eq!(
                entity["metadata"]["name"],
                json!(format!("service-{i}")),
                "[{db}]"
            );
            assert_eq!(
                entity["metadata"]["annotations"]["backstage.io/managed-by-location"],
                json!(f.file_ref(file)),
                "[{db}]"
            );
        }
        f.cleanup().await;
    }
}

/// What processing and stitching stored, in a form two databases filled by
/// different paths can be compared in: ids and uids left out, rows sorted.
async fn stored_state(f: &Fixture) -> Vec<String> {
    let strip = |text: Option<String>| -> String {
        let Some(text) = text else {
            return "null".to_owned();
        };
        let mut value: Value = serde_json::from_str(&text).expect("stored JSON");
        if let Some(metadata) = value.get_mut("metadata").and_then(Value::as_object_mut) {
            metadata.remove("uid");
            metadata.remove("etag");
        }
        value.to_string()
    };
    let mut out = Vec::new();
    for row in f
        .rows(
            "SELECT entity_ref, unprocessed_entity, unprocessed_hash, processed_entity, result_hash, \
             errors, location_key FROM refresh_state",
        )
        .await
    {
        let mut row = row.into_iter();
        let mut next = || row.next().flatten();
        let entity_ref = next().unwrap_or_default();
        let unprocessed = strip(next());
        let unprocessed_hash = next().unwrap_or_default();
        let processed = strip(next());
        let result_hash = next().unwrap_or_default();
        let errors = next().unwrap_or_default();
        let location_key = next().unwrap_or_default();
        out.push(format!(
            "state {entity_ref} {unprocessed} {unprocessed_hash} {processed} {result_hash} {errors} {location_key}"
        ));
    }
    for (sql, label) in [
        (
            "SELECT s.entity_ref, r.source_entity_ref, r.type, r.target_entity_ref FROM relations r \
             JOIN refresh_state s ON s.entity_id = r.originating_entity_id",
            "relation",
        ),
        (
            "SELECT s.entity_ref, k.key FROM refresh_keys k JOIN refresh_state s ON s.entity_id = k.entity_id",
            "key",
        ),
        (
            "SELECT source_key, source_entity_ref, target_entity_ref FROM refresh_state_references",
            "edge",
        ),
    ] {
        for row in f.rows(sql).await {
            let cells: Vec<String> = row.into_iter().map(Option::unwrap_or_default).collect();
            out.push(format!("{label} {}", cells.join(" ")));
        }
    }
    for row in f
        .rows("SELECT entity_ref, final_entity FROM final_entities")
        .await
    {
        let mut row = row.into_iter();
        let entity_ref = row.next().flatten().unwrap_or_default();
        out.push(format!(
            "final {entity_ref} {}",
            strip(row.next().flatten())
        ));
    }
    out.sort();
    out
}

/// A load large enough for new children to be processed in their parent's
/// write stores exactly what the ordinary path stores: the same rows, hashes,
/// errors, relations, refresh keys, edges and final entities. The load mixes in
/// what that path leaves to the ordinary one: a child whose own processing
/// fails, a nested Location with children of its own, and a ref two files emit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_children_processed_in_their_parents_write_store_what_the_ordinary_path_stores() {
    const COMPONENTS: usize = 1_400;
    const TEAMS: usize = 7;
    let mut docs: Vec<String> = (0..TEAMS).map(|t| group(&format!("team-{t}"))).collect();
    docs.push(
        "apiVersion: backstage.io/v1alpha1\nkind: System\nmetadata:\n  name: shop\nspec:\n  owner: team-0\n"
            .to_owned(),
    );
    docs.extend((0..COMPONENTS).map(|i| {
        format!(
            "{}  system: shop\n  dependsOn: [resource:db-{}]\n",
            component(&format!("service-{i}"), &format!("team-{}", i % TEAMS)),
            i % 3
        )
    }));
    // Fails its own processing (no lifecycle), not its parent's.
    docs.push(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: broken\nspec:\n  type: service\n  owner: team-0\n"
            .to_owned(),
    );
    docs.push(location("nested", &["./nested.yaml"]));
    let nested = format!(
        "{}---\n{}",
        component("deep", "team-1"),
        component("service-7", "team-2")
    );
    let all = location("root", &["./bulk.yaml", "./extra.yaml"]);
    let bulk = docs.join("---\n");
    let extra = component("service-9", "team-3");
    let files = [
        ("all.yaml", all.as_str()),
        ("bulk.yaml", bulk.as_str()),
        ("extra.yaml", extra.as_str()),
        ("nested.yaml", nested.as_str()),
    ];
    // One folder for both runs: the location annotations, and so every hash,
    // then agree between them.
    let folder = TestDir::new();
    for (name, content) in files {
        std::fs::write(folder.path().join(name), content).expect("write");
    }
    let target = folder.path().join("all.yaml").display().to_string();
    for kind in kinds() {
        let mut states = Vec::new();
        for inline in [true, false] {
            let f = Fixture::new(
                kind,
                &[],
                json!({"locations": [{"type": "file", "target": target}]}),
                json!({}),
            )
            .await;
            if !inline {
                f.engine.set_inline_children_min(usize::MAX);
            }
            let db = f.name();
            f.run_and_stitch().await;
            let processed = f
                .column("SELECT CAST(COUNT(*) AS TEXT) FROM refresh_state WHERE processed_entity IS NOT NULL")
                .await;
            // Everything but the broken component is processed.
            assert_eq!(
                processed,
                vec![(TEAMS + 1 + COMPONENTS + 1 + 1 + 1 + 1).to_string()],
                "[{db}] inline {inline}"
            );
            let broken = f.errors("component:default/broken").await;
            assert_eq!(broken.len(), 1, "[{db}] inline {inline}: {broken:?}");
            // The run took the path it was meant to take.
            let written = f.engine.inline_children_written();
            if inline {
                assert!(written >= COMPONENTS, "[{db}] {written} written inline");
            } else {
                assert_eq!(written, 0, "[{db}] nothing written inline");
            }
            states.push(stored_state(&f).await);
            let index = f.column(source_index_sql(db)).await;
            assert_eq!(
                index.len(),
                1,
                "[{db}] inline {inline}: the source index is there"
            );
            f.cleanup().await;
        }
        let (inline, ordinary) = (&states[0], &states[1]);
        assert!(inline.len() > COMPONENTS * 4, "{} rows", inline.len());
        let inline_set: HashSet<&String> = inline.iter().collect();
        let ordinary_set: HashSet<&String> = ordinary.iter().collect();
        let only_inline: Vec<&String> = inline
            .iter()
            .filter(|r| !ordinary_set.contains(r))
            .take(5)
            .collect();
        let only_ordinary: Vec<&String> = ordinary
            .iter()
            .filter(|r| !inline_set.contains(r))
            .take(5)
            .collect();
        assert!(
            only_inline.is_empty() && only_ordinary.is_empty() && inline.len() == ordinary.len(),
            "[{}] inline only: {only_inline:?}\nordinary only: {only_ordinary:?}",
            kind.name()
        );
    }
}

/// The definition of the relations source index, which a bulk load sets aside
/// and its end builds again, on either database.
fn source_index_sql(db: &str) -> &'static str {
    if db == "sqlite" {
        "SELECT sql FROM sqlite_master WHERE name = 'relations_source_entity_ref'"
    } else {
        "SELECT indexdef FROM pg_indexes WHERE indexname = 'relations_source_entity_ref'"
    }
}
