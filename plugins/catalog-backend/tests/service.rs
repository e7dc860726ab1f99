//! The in-process `catalog.service` against the same backend over HTTP, on
//! SQLite and PostgreSQL: a probe plugin obtains the service (and calls it from
//! its init, before the catalog may have filled its slot), and every answer —
//! entities, by-ref, by-refs, facets, a cursor-paged query, locations, a dry-run
//! location, validation, errors — equals what `CatalogClient` gets over HTTP.
//! Without a catalog in the backend, an early call answers
//! `ServiceUnavailableError` and later calls go over HTTP through discovery.

#[path = "it/source_host.rs"]
mod source_host;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use greenroom_backend_plugin_api::{BackendError, BackendPlugin, ErrorName};
use greenroom_backend_test_utils::backend::TestBackend;
use greenroom_backend_test_utils::database::{TestDir, TestPostgres};
use greenroom_catalog_client::{
    AddLocationRequest, CatalogApi, CatalogClient, EntityOrder, FilterValue,
    GetEntitiesByRefsRequest, GetEntitiesRequest, GetEntityFacetsRequest,
    QueryEntitiesCursorRequest, QueryEntitiesInitialRequest, QueryEntitiesRequest, SortOrder,
};
use greenroom_plugin_catalog_node::{CATALOG_SERVICE, catalog_service_factory_with_wait};
use serde_json::{Value, json};

use crate::source_host::serve_dir;

/// What the probe plugin saw during its init.
#[derive(Default)]
struct Probe {
    service: Option<Arc<dyn CatalogApi>>,
    early: Option<Result<Option<Value>, BackendError>>,
}

type Shared = Arc<Mutex<Probe>>;

/// A plugin that takes `catalog.service` and calls it once from its init.
fn probe_plugin(shared: Shared) -> BackendPlugin {
    BackendPlugin::new("probe", move |registrar| {
        registrar.register_init(move |env| async move {
            let service = env.get(&CATALOG_SERVICE).await?;
            let early = service.get_entity_by_ref("group:default/team-a").await;
            let mut probe = shared.lock().unwrap_or_else(|e| e.into_inner());
            probe.service = Some(service);
            probe.early = Some(early);
            Ok(())
        });
    })
}

fn take_service(shared: &Shared) -> Arc<dyn CatalogApi> {
    shared
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .service
        .clone()
        .expect("the probe got the service")
}

fn component(name: &str, tag: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n  tags: [{tag}]\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n"
    )
}

/// Polls `check` every 100 ms for up to 20 s.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The error's name and message, for comparing two transports.
fn error_of<T: std::fmt::Debug>(result: Result<T, BackendError>) -> (ErrorName, String) {
    let error = result.expect_err("an error");
    (error.name, error.message)
}

async fn run(database: Value, name: &str) {
    let files = TestDir::new();
    std::fs::write(
        files.path().join("team.yaml"),
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-a\nspec:\n  type: team\n  children: []\n",
    )
    .expect("write");
    for (n, tag) in ["alpha", "beta", "gamma", "delta"]
        .iter()
        .zip(["rust", "go", "rust", "java"])
    {
        std::fs::write(files.path().join(format!("{n}.yaml")), component(n, tag)).expect("write");
    }
    let root = files.path().join("catalog-info.yaml");
    std::fs::write(
        &root,
        "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: root\nspec:\n  targets: [./team.yaml, ./alpha.yaml, ./beta.yaml, ./gamma.yaml, ./delta.yaml]\n",
    )
    .expect("write");
    let remote_files = TestDir::new();
    std::fs::write(
        remote_files.path().join("remote.yaml"),
        component("remote", "python"),
    )
    .expect("write");
    let remote = serve_dir(remote_files.path().to_path_buf()).await;

    let config = json!({
        "backend": {
            "database": database,
            "reading": { "allow": [{ "host": remote.host }] },
        },
        "catalog": {
            "rules": [{ "allow": ["Component", "Group", "Location"] }],
            "locations": [{ "type": "file", "target": root.display().to_string() }],
        },
    });
    let shared = Shared::default();
    let backend = TestBackend::start(
        config,
        vec![
            // The probe comes first: its init may run before the catalog's.
            probe_plugin(Arc::clone(&shared)).into(),
            greenroom_plugin_catalog_backend::plugin().into(),
            catalog_service_factory_with_wait(Duration::from_secs(30)).into(),
        ],
    )
    .await
    .unwrap_or_else(|e| panic!("{name}: backend starts: {e}"));
    let early = shared
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .early
        .take()
        .expect("the probe called");
    // The catalog answered the early call (waiting for its slot if needed);
    // nothing is ingested yet at that point, or the group already is.
    let early = early.unwrap_or_else(|e| panic!("{name}: early call answered: {e}"));
    assert!(
        early.is_none() || early.as_ref().is_some_and(|e| e["kind"] == "Group"),
        "{name}: {early:?}"
    );

    let local = take_service(&shared);
    let http = CatalogClient::new(backend.url("/api/catalog"));
    eventually("the config location is ingested", || async {
        let page = local
            .query_entities(QueryEntitiesRequest::Initial(QueryEntitiesInitialRequest {
                limit: Some(0),
                ..Default::default()
            }))
            .await;
        page.is_ok_and(|p| p.total_items == 7)
    })
    .await;
    // Stitching of relations finishes after the count is complete.
    eventually("relations are stitched", || async {
        local
            .get_entity_by_ref("group:default/team-a")
            .await
            .ok()
            .flatten()
            .is_some_and(|g| g["relations"].as_array().is_some_and(|r| r.len() == 4))
    })
    .await;

    // Lists with a filter, a projection and an order.
    let kind = |k: &str| vec![BTreeMap::from([("kind".to_owned(), FilterValue::from(k))])];
    let request = GetEntitiesRequest {
        filter: Some(kind("component")),
        fields: Some(vec!["metadata.name".into(), "metadata.tags".into()]),
        order: Some(vec![EntityOrder {
            field: "metadata.name".into(),
            order: SortOrder::Desc,
        }]),
        ..Default::default()
    };
    let in_process = local.get_entities(request.clone()).await.expect("list");
    assert_eq!(in_process, http.get_entities(request).await.expect("list"));
    let names: Vec<&str> = in_process
        .items
        .iter()
        .filter_map(|e| e["metadata"]["name"].as_str())
        .collect();
    assert_eq!(names, ["gamma", "delta", "beta", "alpha"], "{name}");

    // By ref, by uid, by refs.
    let alpha = local
        .get_entity_by_ref("component:default/alpha")
        .await
        .expect("by ref")
        .expect("alpha exists");
    assert_eq!(
        Some(&alpha),
        http.get_entity_by_ref("component:alpha")
            .await
            .expect("by ref")
            .as_ref()
    );
    assert_eq!(
        alpha["relations"],
        json!([{"type": "ownedBy", "targetRef": "group:default/team-a"}])
    );
    let uid = alpha["metadata"]["uid"].as_str().expect("uid");
    assert_eq!(
        local.get_entity_by_uid(uid).await.expect("by uid"),
        Some(alpha.clone())
    );
    assert_eq!(
        local
            .get_entity_by_ref("component:default/nope")
            .await
            .expect("by ref"),
        None
    );
    let refs = GetEntitiesByRefsRequest {
        entity_refs: vec![
            "component:default/beta".into(),
            "component:default/missing".into(),
            "group:default/team-a".into(),
        ],
        fields: Some(vec!["kind".into(), "metadata.name".into()]),
        filter: None,
    };
    let by_refs = local
        .get_entities_by_refs(refs.clone())
        .await
        .expect("by refs");
    assert_eq!(
        by_refs,
        http.get_entities_by_refs(refs).await.expect("by refs")
    );
    assert_eq!(
        json!(by_refs.items),
        json!([{"kind": "Component", "metadata": {"name": "beta"}}, null,
               {"kind": "Group", "metadata": {"name": "team-a"}}])
    );

    // Facets, with and without a filter.
    let facets = GetEntityFacetsRequest {
        facets: vec!["metadata.tags".into(), "kind".into()],
        filter: Some(kind("component")),
        ..Default::default()
    };
    let local_facets = local
        .get_entity_facets(facets.clone())
        .await
        .expect("facets");
    assert_eq!(
        local_facets,
        http.get_entity_facets(facets).await.expect("facets")
    );
    let rust = local_facets.facets["metadata.tags"]
        .iter()
        .find(|f| f.value == "rust")
        .map(|f| f.count);
    assert_eq!(rust, Some(2), "{name}: {local_facets:?}");

    // A cursor-paged query, followed page by page on both transports.
    let first = QueryEntitiesRequest::Initial(QueryEntitiesInitialRequest {
        filter: Some(kind("component")),
        limit: Some(3),
        order_fields: Some(vec![EntityOrder {
            field: "metadata.name".into(),
            order: SortOrder::Asc,
        }]),
        ..Default::default()
    });
    let mut local_page = local.query_entities(first.clone()).await.expect("query");
    let mut http_page = http.query_entities(first).await.expect("query");
    let mut seen = Vec::new();
    loop {
        assert_eq!(local_page, http_page, "{name}");
        assert_eq!(local_page.total_items, 4);
        seen.extend(
            local_page
                .items
                .iter()
                .filter_map(|e| e["metadata"]["name"].as_str().map(str::to_owned)),
        );
        let Some(cursor) = local_page.page_info.next_cursor.clone() else {
            break;
        };
        let next = QueryEntitiesRequest::Cursor(QueryEntitiesCursorRequest {
            cursor,
            limit: None,
            fields: None,
        });
        local_page = local.query_entities(next.clone()).await.expect("next page");
        http_page = http.query_entities(next).await.expect("next page");
    }
    assert_eq!(seen, ["alpha", "beta", "delta", "gamma"], "{name}");

    // Locations, and a dry-run registration of a remote file.
    assert_eq!(
        local.get_locations().await.expect("locations"),
        http.get_locations().await.expect("locations")
    );
    let dry_run = AddLocationRequest {
        location_type: Some("url".into()),
        target: format!("{}/remote.yaml", remote.base),
        dry_run: true,
    };
    let local_dry = local.add_location(dry_run.clone()).await.expect("dry run");
    let http_dry = http.add_location(dry_run).await.expect("dry run");
    // Dry runs make up a fresh location id each time; the rest must agree.
    assert_eq!(local_dry.entities, http_dry.entities, "{name}");
    assert_eq!(local_dry.location.target, http_dry.location.target);
    assert_eq!(local_dry.exists, http_dry.exists);
    let remote_names: Vec<&str> = local_dry
        .entities
        .iter()
        .filter_map(|e| e["metadata"]["name"].as_str())
        .collect();
    assert!(remote_names.contains(&"remote"), "{name}: {remote_names:?}");
    assert_eq!(
        local
            .get_entity_by_ref("component:default/remote")
            .await
            .expect("by ref"),
        None,
        "{name}: a dry run stores nothing"
    );

    // Validation of a good and a broken entity.
    let location = format!("url:{}/remote.yaml", remote.base);
    let good = json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
        "metadata": {"name": "ok"}, "spec": {"type": "service", "lifecycle": "x", "owner": "team-a"}});
    let bad = json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
        "metadata": {"name": "not ok!"}, "spec": {}});
    for entity in [good, bad] {
        assert_eq!(
            local
                .validate_entity(&entity, &location)
                .await
                .expect("validate"),
            http.validate_entity(&entity, &location)
                .await
                .expect("validate"),
            "{name}"
        );
    }

    // Errors carry the same names and messages on both transports.
    let bad_cursor = || {
        QueryEntitiesRequest::Cursor(QueryEntitiesCursorRequest {
            cursor: "not-a-cursor".into(),
            limit: None,
            fields: None,
        })
    };
    let local_error = error_of(local.query_entities(bad_cursor()).await);
    assert_eq!(
        local_error.0,
        ErrorName::InputError,
        "{name}: {local_error:?}"
    );
    assert_eq!(
        local_error,
        error_of(http.query_entities(bad_cursor()).await)
    );
    let missing = "00000000-0000-4000-8000-000000000000";
    let local_error = error_of(local.remove_location_by_id(missing).await);
    assert_eq!(
        local_error.0,
        ErrorName::NotFoundError,
        "{name}: {local_error:?}"
    );
    assert_eq!(
        local_error,
        error_of(http.remove_location_by_id(missing).await)
    );
    let existing = AddLocationRequest {
        location_type: Some("url".into()),
        target: format!("{}/remote.yaml", remote.base),
        dry_run: false,
    };
    http.add_location(existing.clone())
        .await
        .expect("registered");
    let local_error = error_of(local.add_location(existing.clone()).await);
    assert_eq!(
        local_error.0,
        ErrorName::ConflictError,
        "{name}: {local_error:?}"
    );
    assert_eq!(local_error, error_of(http.add_location(existing).await));

    backend.stop().await;
    drop(remote);
}

#[tokio::test(flavor = "multi_thread")]
async fn catalog_service_in_process_equals_http_on_sqlite() {
    let data = TestDir::new();
    run(data.sqlite_database_config(), "sqlite").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn catalog_service_in_process_equals_http_on_postgres() {
    let pg = TestPostgres::new();
    run(pg.database_config(json!({})), "postgres").await;
    pg.cleanup().await;
}

/// A backend without the catalog: a call made during init waits its bound and
/// answers `ServiceUnavailableError`; once the backend has started, calls go
/// over HTTP to the catalog that discovery names (here another backend).
#[tokio::test(flavor = "multi_thread")]
async fn without_a_catalog_the_service_waits_then_falls_back_to_discovery() {
    let data = TestDir::new();
    let files = TestDir::new();
    let team = files.path().join("team.yaml");
    std::fs::write(
        &team,
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-a\nspec:\n  type: team\n  children: []\n",
    )
    .expect("write");
    let catalog = TestBackend::start(
        json!({
            "backend": { "database": data.sqlite_database_config() },
            "catalog": {
                "rules": [{ "allow": ["Group"] }],
                "locations": [{ "type": "file", "target": team.display().to_string() }],
            },
        }),
        vec![greenroom_plugin_catalog_backend::plugin().into()],
    )
    .await
    .expect("the catalog backend starts");

    let other_data = TestDir::new();
    let shared = Shared::default();
    let other = TestBackend::start(
        json!({
            "backend": { "database": other_data.sqlite_database_config() },
            "discovery": { "endpoints": [{
                "target": catalog.url("/api/catalog"),
                "plugins": ["catalog"],
            }]},
        }),
        vec![
            probe_plugin(Arc::clone(&shared)).into(),
            catalog_service_factory_with_wait(Duration::from_millis(300)).into(),
        ],
    )
    .await
    .expect("the other backend starts");

    let early = shared
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .early
        .take()
        .expect("the probe called");
    let (error_name, message) = error_of(early);
    assert_eq!(error_name, ErrorName::ServiceUnavailableError, "{message}");
    assert!(message.contains("did not become available"), "{message}");

    let service = take_service(&shared);
    let http = CatalogClient::new(catalog.url("/api/catalog"));
    eventually("the group is ingested", || async {
        http.get_entity_by_ref("group:default/team-a")
            .await
            .is_ok_and(|g| g.is_some())
    })
    .await;
    assert_eq!(
        service
            .get_entity_by_ref("group:default/team-a")
            .await
            .expect("through discovery"),
        http.get_entity_by_ref("group:default/team-a")
            .await
            .expect("over HTTP")
    );

    other.stop().await;
    catalog.stop().await;
}
