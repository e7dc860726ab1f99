//! Location and provider tests on SQLite and PostgreSQL: the location store,
//! eager pruning on removal, full mutations, the dry run, validate-entity, and
//! `url` locations read from a loopback HTTP server.

use greenroom_backend_plugin_api::ErrorName;
use greenroom_plugin_catalog_node::{DeferredEntity, EntityMutation};
use serde_json::json;

use crate::processing_support::{Fixture, component, generated_ref, group, kinds, location};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_location_store_adds_lists_updates_and_removes() {
    for kind in kinds() {
        let f = Fixture::new(
            kind,
            &[
                ("root.yaml", &location("nested", &["./svc.yaml"])),
                (
                    "svc.yaml",
                    &format!("{}---\n{}", component("svc", "team-a"), group("team-a")),
                ),
                ("other.yaml", &component("other", "team-a")),
            ],
            json!({}),
            json!({}),
        )
        .await;
        let db = f.name();
        let root = f.path("root.yaml").display().to_string();
        let row = f
            .engine
            .add_location("file", &root, None)
            .await
            .expect("add");
        assert_eq!(row.entity_ref, generated_ref("file", &root), "[{db}]");
        let duplicate = f
            .engine
            .add_location("file", &root, None)
            .await
            .expect_err("duplicate");
        assert_eq!(duplicate.name, ErrorName::ConflictError);
        assert_eq!(
            duplicate.message,
            format!("Location file:{root} already exists")
        );
        assert_eq!(
            f.engine.list_locations().await.expect("list"),
            vec![row.clone()],
            "[{db}]"
        );
        assert_eq!(f.engine.get_location(&row.id).await.expect("get"), row);
        let missing = f.engine.get_location("0000").await.expect_err("missing");
        assert_eq!(
            (missing.name, missing.message.as_str()),
            (ErrorName::NotFoundError, "Found no location with ID 0000")
        );

        f.run().await;
        assert!(
            f.refs().await.contains(&"component:default/svc".to_owned()),
            "[{db}] ingested"
        );
        let by_entity = f
            .engine
            .location_by_entity("Component:default/svc")
            .await
            .expect("by entity");
        assert_eq!(by_entity, row, "[{db}] origin of a nested child");
        let unknown = f
            .engine
            .location_by_entity("component:default/ghost")
            .await
            .expect_err("ghost");
        assert_eq!(
            unknown.message,
            "found no entity for ref component:default/ghost"
        );

        // Pretend the stitcher already served two of them, to see the change log.
        for entity_ref in ["component:default/svc", "group:default/team-a"] {
            f.exec(&format!(
                "INSERT INTO final_entities (entity_id, entity_ref, hash, final_entity, last_updated_at) \
                 SELECT entity_id, entity_ref, 'h', '{{}}', 0 FROM refresh_state WHERE entity_ref = '{entity_ref}'"
            ))
            .await;
        }
        // An entity outside the tree that relates to one inside it.
        f.engine
            .add_location("file", &f.path("other.yaml").display().to_string(), None)
            .await
            .expect("add other");
        f.run().await;
        f.exec("DELETE FROM stitch_queue").await;

        f.engine.remove_location(&row.id).await.expect("remove");
        let refs = f.refs().await;
        assert!(
            !refs.iter().any(|r| r == "component:default/svc"
                || r == "location:default/nested"
                || *r == row.entity_ref),
            "[{db}] the tree is pruned: {refs:?}"
        );
        assert!(
            refs.contains(&"component:default/other".to_owned()),
            "[{db}] other roots survive"
        );
        let deletes = f
            .column("SELECT entity_ref FROM change_log WHERE op = 'delete' ORDER BY entity_ref")
            .await;
        assert_eq!(
            deletes,
            vec!["component:default/svc", "group:default/team-a"],
            "[{db}]"
        );
        assert!(
            !f.column("SELECT entity_ref FROM stitch_queue")
                .await
                .contains(&"component:default/svc".to_owned()),
            "[{db}] deleted refs are not queued"
        );
        assert!(
            f.engine.list_locations().await.expect("list").len() == 1,
            "[{db}]"
        );
        let again = f
            .engine
            .remove_location(&row.id)
            .await
            .expect_err("removed twice");
        assert_eq!(again.name, ErrorName::NotFoundError);
        f.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_an_entity_restitches_its_relation_peers() {
    for kind in kinds() {
        let f = Fixture::new(
            kind,
            &[
                ("svc.yaml", &component("svc", "team-a")),
                ("team.yaml", &group("team-a")),
            ],
            json!({}),
            json!({}),
        )
        .await;
        let db = f.name();
        let svc = f
            .engine
            .add_location("file", &f.path("svc.yaml").display().to_string(), None)
            .await
            .expect("add");
        f.engine
            .add_location("file", &f.path("team.yaml").display().to_string(), None)
            .await
            .expect("add");
        f.run().await;
        f.exec("DELETE FROM stitch_queue").await;
        f.engine.remove_location(&svc.id).await.expect("remove");
        assert_eq!(
            f.column("SELECT entity_ref FROM stitch_queue").await,
            vec!["group:default/team-a"],
            "[{db}] the owner loses its ownerOf relation"
        );
        assert!(
            !f.relations()
                .await
                .iter()
                .any(|r| r.contains("component:default/svc")),
            "[{db}] relations of the deleted entity are gone"
        );
        f.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_mutations_insert_update_keep_and_remove() {
    for kind in kinds() {
        let f = Fixture::new(kind, &[], json!({}), json!({})).await;
        let db = f.name();
        let entity = |name: &str, owner: &str| {
            let mut e: serde_json::Value =
                greenroom_catalog_model::yaml::parse_value(&component(name, owner)).expect("yaml");
            e["metadata"]["annotations"] = json!({
                "backstage.io/managed-by-location": "url:https://example.com/x",
                "backstage.io/managed-by-origin-location": "url:https://example.com/x"
            });
            DeferredEntity {
                entity: e,
                location_key: Some("url:https://example.com/x".to_owned()),
            }
        };
        let full = |entities| EntityMutation::Full { entities };
        f.engine
            .apply_mutation(
                "test-provider",
                full(vec![entity("a", "t"), entity("b", "t")]),
            )
            .await
            .expect("full");
        f.run().await;
        let ids_before = f
            .rows("SELECT entity_ref, entity_id FROM refresh_state ORDER BY entity_ref")
            .await;
        assert_eq!(ids_before.len(), 2, "[{db}]");

        // `a` unchanged (not due again), `b` changed (due now), `c` new.
        f.engine
            .apply_mutation(
                "test-provider",
                full(vec![entity("a", "t"), entity("b", "u"), entity("c", "t")]),
            )
            .await
            .expect("full");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let due = f
            .column(&format!("SELECT entity_ref FROM refresh_state WHERE next_update_at <= {} ORDER BY entity_ref", now + 1000))
            .await;
        assert_eq!(
            due,
            vec!["component:default/b", "component:default/c"],
            "[{db}]"
        );
        assert_eq!(
            f.run().await,
            2,
            "[{db}] only the changed and the new are due"
        );
        let ids_after = f.rows("SELECT entity_ref, entity_id FROM refresh_state WHERE entity_ref <> 'component:default/c' ORDER BY entity_ref").await;
        assert_eq!(ids_before, ids_after, "[{db}] uids are stable");

        f.engine
            .apply_mutation("test-provider", full(vec![entity("c", "t")]))
            .await
            .expect("full");
        assert_eq!(f.refs().await, vec!["component:default/c"], "[{db}]");
        assert_eq!(
            f.edges().await,
            vec!["provider:test-provider -> component:default/c"],
            "[{db}]"
        );

        // Another provider cannot take over an entity claimed under another key.
        let mut stolen = entity("c", "x");
        stolen.location_key = Some("url:https://example.com/other".to_owned());
        f.engine
            .apply_mutation("thief", full(vec![stolen]))
            .await
            .expect("full");
        assert_eq!(
            f.edges().await,
            vec!["provider:test-provider -> component:default/c"],
            "[{db}]"
        );
        let bad = f
            .engine
            .apply_mutation(
                "thief",
                full(vec![DeferredEntity {
                    entity: json!({"kind": "X"}),
                    location_key: None,
                }]),
            )
            .await
            .expect_err("envelope");
        assert_eq!(bad.name, ErrorName::InputError, "[{db}]");
        f.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_runs_process_in_memory_and_store_nothing() {
    for kind in kinds() {
        let f = Fixture::new(
            kind,
            &[
                ("root.yaml", &location("nested", &["./svc.yaml"])),
                ("svc.yaml", &component("svc", "team-a")),
                (
                    "dup.yaml",
                    &location("dup", &["./svc.yaml", "./svc-again.yaml"]),
                ),
                ("svc-again.yaml", &component("svc", "team-b")),
            ],
            json!({}),
            json!({}),
        )
        .await;
        let db = f.name();
        let root = f.path("root.yaml").display().to_string();
        let result = f
            .engine
            .dry_run_location("file", &root)
            .await
            .expect("dry run");
        assert!(!result.exists, "[{db}]");
        assert_eq!(result.location.id, format!("file:{root}"));
        assert_eq!(result.location.entity_ref, generated_ref("file", &root));
        let names: Vec<&str> = result
            .entities
            .iter()
            .filter_map(|e| e["metadata"]["name"].as_str())
            .collect();
        assert_eq!(names[1..], ["nested", "svc"], "[{db}] {names:?}");
        assert_eq!(result.entities[0]["kind"], "Location");
        assert!(f.refs().await.is_empty(), "[{db}] nothing stored");

        let duplicate = f
            .engine
            .dry_run_location("file", &f.path("dup.yaml").display().to_string())
            .await
            .expect_err("duplicate");
        assert_eq!(
            duplicate.message, "Duplicate nested entity: component:default/svc",
            "[{db}]"
        );
        let missing = f
            .engine
            .dry_run_location("file", &f.path("missing.yaml").display().to_string())
            .await
            .expect_err("missing");
        assert_eq!(missing.name, ErrorName::InputError);
        assert_eq!(
            missing.message,
            format!(
                "NotFoundError: file {} does not exist",
                f.path("missing.yaml").display()
            ),
            "[{db}]"
        );
        f.engine
            .add_location("file", &root, None)
            .await
            .expect("add");
        assert!(
            f.engine
                .dry_run_location("file", &root)
                .await
                .expect("dry run")
                .exists,
            "[{db}]"
        );
        f.cleanup().await;
    }
}

/// A validate-entity case: id, entity, location, and `Ok` or the first error's
/// name and a fragment of its message.
type ValidateCase = (
    &'static str,
    serde_json::Value,
    &'static str,
    Result<(), (&'static str, &'static str)>,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_entity_reports_errors_in_backstage_shapes() {
    let f = Fixture::new(
        greenroom_backend_test_utils::database::TestDatabaseKind::Sqlite,
        &[],
        json!({}),
        json!({}),
    )
    .await;
    let good = greenroom_catalog_model::yaml::parse_value(&component("good-name", "team-a"))
        .expect("yaml");
    let mut bad_name = good.clone();
    bad_name["metadata"]["name"] = json!("bad name");
    let mut no_type = good.clone();
    if let Some(spec) = no_type["spec"].as_object_mut() {
        spec.remove("type");
    }
    let url = "url:https://git.example.com/acme/x/blob/main/catalog-info.yaml";
    let rows: [ValidateCase; 5] = [
        ("V01 valid", good.clone(), url, Ok(())),
        (
            "V02 bad name",
            bad_name,
            url,
            Err((
                "InputError",
                "Policy check failed for component:default/bad name; caused by Error: \"metadata.name\" is not valid",
            )),
        ),
        (
            "V03 kind schema",
            no_type,
            url,
            Err((
                "InputError",
                "Processor BuiltinKindsEntityProcessor threw an error while validating the entity component:default/good-name",
            )),
        ),
        (
            "V04 file location",
            good.clone(),
            "file:/data/x.yaml",
            Err((
                "TypeError",
                "Invalid location ref file:/data/x.yaml, only 'url:<target>' is supported, e.g. url:https://host/path",
            )),
        ),
        (
            "V05 no name",
            json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": {}}),
            url,
            Err(("TypeError", "metadata.name")),
        ),
    ];
    for (id, entity, location, expected) in rows {
        let got = f.engine.validate_entity(entity, location).await;
        match (got, expected) {
            (Ok(()), Ok(())) => {}
            (Err(errors), Err((name, fragment))) => {
                assert_eq!(errors[0].name, name, "{id}");
                assert!(
                    errors[0].message.starts_with(fragment) || errors[0].message.contains(fragment),
                    "{id}: {}",
                    errors[0].message
                );
            }
            (got, expected) => panic!("{id}: got {got:?}, expected {expected:?}"),
        }
    }
    // V06: the whole error as Backstage serializes it, the kind schema's first
    // problem (a TypeError) as its cause.
    let mut no_owner_no_type = good.clone();
    if let Some(spec) = no_owner_no_type["spec"].as_object_mut() {
        spec.remove("type");
        spec.remove("owner");
    }
    let errors = f
        .engine
        .validate_entity(no_owner_no_type, url)
        .await
        .expect_err("V06 invalid");
    let cause = "/spec must have required property 'type' - missingProperty: type";
    assert_eq!(
        serde_json::to_value(&errors).expect("json"),
        json!([{
            "name": "InputError",
            "message": format!(
                "Processor BuiltinKindsEntityProcessor threw an error while validating the \
                 entity component:default/good-name; caused by TypeError: {cause}"
            ),
            "cause": {"name": "TypeError", "message": cause},
        }])
    );
    assert!(f.refs().await.is_empty(), "nothing stored");
    f.cleanup().await;
}

/// A loopback HTTP server serving a fixed set of paths; stops when dropped.
struct Server {
    port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(files: Vec<(&'static str, String)>) -> Server {
    use axum::routing::get;
    let mut router = axum::Router::new();
    for (path, body) in files {
        router = router.route(path, get(move || async move { body }));
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Server { port, task }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_locations_read_allowed_hosts_only() {
    // GitHub-style URLs: the generated Location's target is resolved the way
    // the GitHub integration resolves it, with `blob` rewritten to `tree`.
    let server = serve(vec![(
        "/acme/repo/tree/main/catalog-info.yaml",
        component("web", "team-a"),
    )])
    .await;
    let base = format!("http://127.0.0.1:{}", server.port);
    for kind in kinds() {
        let f = Fixture::new(
            kind,
            &[],
            json!({}),
            json!({"allow": [{"host": format!("127.0.0.1:{}", server.port)}]}),
        )
        .await;
        let db = f.name();
        let target = format!("{base}/acme/repo/blob/main/catalog-info.yaml");
        f.engine
            .add_location("url", &target, None)
            .await
            .expect("add");
        let missing = format!("{base}/plain/missing.yaml");
        f.engine
            .add_location("url", &missing, None)
            .await
            .expect("add");
        let refused = "http://localhost:1/catalog-info.yaml";
        f.engine
            .add_location("url", refused, None)
            .await
            .expect("add");
        f.run().await;

        let read = format!("{base}/acme/repo/tree/main/catalog-info.yaml");
        let Some(web) = f.processed("component:default/web").await else {
            panic!(
                "[{db}] not ingested: {:?}",
                f.errors(&generated_ref("url", &target)).await
            );
        };
        let annotations = &web["metadata"]["annotations"];
        assert_eq!(
            annotations["backstage.io/managed-by-location"],
            json!(format!("url:{read}")),
            "[{db}]"
        );
        assert_eq!(annotations["backstage.io/view-url"], json!(read), "[{db}]");
        assert_eq!(
            annotations["backstage.io/edit-url"],
            json!(format!("{base}/acme/repo/edit/main/catalog-info.yaml")),
            "[{db}]"
        );
        assert_eq!(
            annotations["backstage.io/source-location"],
            json!(format!("url:{base}/acme/repo/tree/main/")),
            "[{db}]"
        );
        let keys = f
            .column(&format!(
                "SELECT k.key FROM refresh_keys k JOIN refresh_state s ON s.entity_id = k.entity_id WHERE s.entity_ref = '{}'",
                generated_ref("url", &target)
            ))
            .await;
        assert_eq!(keys, vec![format!("url:{read}")], "[{db}]");

        let errors = f.errors(&generated_ref("url", &missing)).await;
        assert_eq!(
            errors,
            vec![
                json!({"name": "NotFoundError", "message": format!("Unable to read url, no matching files found for {missing}")})
            ],
            "[{db}]"
        );
        let errors = f.errors(&generated_ref("url", refused)).await;
        let message = errors
            .first()
            .and_then(|e| e["message"].as_str())
            .unwrap_or("");
        assert!(
            message.starts_with(&format!(
                "Unable to read url, Reading from '{refused}' is not allowed."
            )),
            "[{db}] {message}"
        );
        f.cleanup().await;
    }
}
