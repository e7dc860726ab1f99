//! Reads while this instance's index is still loading, on SQLite and
//! PostgreSQL: the routes the database can answer give exactly the bodies the
//! loaded index gives (cursors included), and the others wait for the index.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use greenroom_backend_test_utils::database::TestDatabases;
use greenroom_plugin_catalog_backend::api::{ApiState, router};
use greenroom_plugin_catalog_backend::follower::IndexSync;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::stitching_support::{Fixture, entity};

/// Sends one request; a request that does not finish in 20 s fails the test.
async fn call(app: Router, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(path);
    let body = match body {
        Some(b) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(b.to_string())
        }
        None => Body::empty(),
    };
    let answer = tokio::time::timeout(
        Duration::from_secs(20),
        app.oneshot(request.body(body).expect("request")),
    )
    .await
    .unwrap_or_else(|_| panic!("{method} {path} did not answer"))
    .expect("router answers");
    let status = answer.status();
    let bytes = axum::body::to_bytes(answer.into_body(), 64 << 20)
        .await
        .expect("body");
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, value)
}

fn app(engine: &Fixture, sync: &Arc<IndexSync>) -> Router {
    router(Arc::new(ApiState {
        engine: Arc::clone(&engine.engine),
        index: Arc::clone(sync.index()),
        sync: Some(Arc::clone(sync)),
        hot_texts: greenroom_catalog_query::HotTexts::default(),
    }))
}

/// 30 entities of three kinds; uids are not in name order, and some names
/// have capitals.
async fn seed(f: &Fixture) -> Vec<(String, String)> {
    let mut made = Vec::new();
    for i in 0..30u32 {
        let (kind, name) = match i % 3 {
            0 => ("Component", format!("Svc-{i}")),
            1 => ("API", format!("api-{i}")),
            _ => ("Group", format!("team-{i}")),
        };
        let uid = format!("{:02x}-{i}", (i * 37) % 251);
        let entity_ref = format!("{}:default/{}", kind.to_lowercase(), name.to_lowercase());
        let spec = json!({"type": if i % 2 == 0 { "service" } else { "website" }, "tier": i});
        f.add_entity(&uid, &entity_ref, Some(entity(kind, &name, &uid, spec)))
            .await;
        f.add_edge(None, &entity_ref).await;
        made.push((uid, entity_ref));
    }
    let refs: Vec<&str> = made.iter().map(|(_, r)| r.as_str()).collect();
    f.enqueue(&refs).await;
    f.stitch().await;
    made
}

#[tokio::test]
async fn reads_while_the_index_loads_match_the_loaded_index() {
    for kind in TestDatabases::all() {
        let f = Fixture::new(kind).await;
        let db = f.name();
        let made = seed(&f).await;
        let warming = Arc::new(IndexSync::loading());
        let loaded = Arc::new(IndexSync::loading());
        assert!(
            loaded
                .load(&f.engine, &CancellationToken::new())
                .await
                .expect("load")
        );
        assert!(loaded.is_ready() && !warming.is_ready());
        let (warm_app, ready_app) = (app(&f, &warming), app(&f, &loaded));

        let (uid, _) = &made[4];
        let cases: Vec<(&str, String, Option<Value>)> = vec![
            ("GET", "/entities/by-query?limit=7".into(), None),
            ("GET", "/entities/by-query".into(), None),
            (
                "GET",
                "/entities/by-query?filter=kind=component&limit=4&offset=2".into(),
                None,
            ),
            (
                "GET",
                "/entities/by-query?filter=kind=API&filter=kind=group&limit=3&fields=metadata.name,kind"
                    .into(),
                None,
            ),
            ("GET", "/entities/by-query?filter=kind=component&limit=0".into(), None),
            ("GET", "/entities/by-query?limit=5&totalItems=exclude".into(), None),
            ("GET", "/entities/by-query?filter=kind=nothing".into(), None),
            (
                "POST",
                "/entities/by-query".into(),
                Some(json!({"query": {"kind": "Component"}, "limit": 5})),
            ),
            ("GET", "/entities/by-name/Component/default/svc-3".into(), None),
            ("GET", "/entities/by-name/component/default/missing".into(), None),
            ("GET", format!("/entities/by-uid/{uid}"), None),
            ("GET", "/entities/by-uid/no-such-uid".into(), None),
            (
                "POST",
                "/entities/by-refs".into(),
                Some(json!({
                    "entityRefs": ["group:default/team-2", "Component:default/Svc-0",
                                   "component:default/missing", "group:default/team-2"],
                    "fields": ["metadata.name", "spec.tier"],
                })),
            ),
            (
                "POST",
                "/entities/by-refs?filter=kind=group".into(),
                Some(json!({"entityRefs": ["group:default/team-5", "api:default/api-1"]})),
            ),
        ];
        for (method, path, body) in &cases {
            let warm = call(warm_app.clone(), method, path, body.clone()).await;
            let ready = call(ready_app.clone(), method, path, body.clone()).await;
            assert_eq!(warm, ready, "{db}: {method} {path}");
        }
        // Those answers came from the database: the index is still empty.
        assert!(!warming.is_ready(), "{db}");
        assert_eq!(warming.index().read().expect("lock").len(), 0, "{db}");
        let (_, page) = call(warm_app.clone(), "GET", "/entities/by-query?limit=7", None).await;
        assert_eq!(page["items"].as_array().map(Vec::len), Some(7), "{db}");
        assert_eq!(page["totalItems"], json!(30), "{db}");

        // A cursor handed out from the database continues on the index.
        let (_, first) = call(
            warm_app.clone(),
            "GET",
            "/entities/by-query?filter=kind=component&limit=4",
            None,
        )
        .await;
        let cursor = first["pageInfo"]["nextCursor"]
            .as_str()
            .expect("next cursor");
        let (_, second) = call(
            ready_app.clone(),
            "GET",
            &format!("/entities/by-query?cursor={cursor}&limit=4"),
            None,
        )
        .await;
        assert_eq!(second["items"].as_array().map(Vec::len), Some(4), "{db}");
        assert!(second["pageInfo"]["prevCursor"].is_string(), "{db}");

        // Reads the database cannot answer cheaply wait for the index.
        let waiting = [
            "/entity-facets?facet=kind",
            "/entities/by-query?orderField=metadata.name,asc&limit=3",
            "/entities/by-query?filter=spec.type=service&limit=3",
            "/entities?filter=kind=group",
            "/entities/by-query?limit=1001",
        ];
        let pending: Vec<_> = waiting
            .iter()
            .map(|path| tokio::spawn(call(warm_app.clone(), "GET", path, None)))
            .collect();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            pending.iter().all(|p| !p.is_finished()),
            "{db}: answered before the index"
        );
        assert!(
            warming
                .load(&f.engine, &CancellationToken::new())
                .await
                .expect("load")
        );
        for (path, pending) in waiting.iter().zip(pending) {
            let answered = pending.await.expect("task");
            let ready = call(ready_app.clone(), "GET", path, None).await;
            assert_eq!(answered.0, StatusCode::OK, "{db}: {path}");
            assert_eq!(answered, ready, "{db}: {path}");
        }
        f.cleanup().await;
    }
}

/// A load stopped by shutdown leaves the index not ready and empty.
#[tokio::test]
async fn a_cancelled_load_leaves_the_index_loading() {
    for kind in TestDatabases::all() {
        let f = Fixture::new(kind).await;
        seed(&f).await;
        let sync = IndexSync::loading();
        let cancel = CancellationToken::new();
        cancel.cancel();
        assert!(
            !sync.load(&f.engine, &cancel).await.expect("load"),
            "{}",
            f.name()
        );
        assert!(!sync.is_ready());
        assert_eq!(sync.index().read().expect("lock").len(), 0);
        f.cleanup().await;
    }
}

/// Catching up before the load leaves the index to the load: the change log is
/// not replayed into an empty index, and the load then brings everything.
#[tokio::test]
async fn catching_up_before_the_load_waits_for_the_load() {
    for kind in TestDatabases::all() {
        let f = Fixture::new(kind).await;
        seed(&f).await;
        let sync = IndexSync::loading();
        sync.catch_up(&f.engine).await.expect("catch up");
        assert!(!sync.is_ready(), "{}", f.name());
        assert_eq!(sync.index().read().expect("lock").len(), 0, "{}", f.name());
        assert!(
            sync.load(&f.engine, &CancellationToken::new())
                .await
                .expect("load")
        );
        assert_eq!(sync.index().read().expect("lock").len(), 30, "{}", f.name());
        f.cleanup().await;
    }
}

/// When the backend begins to shut down during the load, requests waiting for
/// the index are answered 503 at once, and the load stops.
#[tokio::test]
async fn waiting_requests_answer_503_when_the_backend_stops_during_the_load() {
    for kind in TestDatabases::all() {
        let f = Fixture::new(kind).await;
        let db = f.name();
        seed(&f).await;
        let sync = Arc::new(IndexSync::loading());
        let app = app(&f, &sync);
        let pending = tokio::spawn(call(app.clone(), "GET", "/entity-facets?facet=kind", None));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!pending.is_finished(), "{db}: answered before the index");
        sync.stop_waiting();
        let (status, body) = pending.await.expect("task");
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{db}: {body}");
        assert_eq!(
            body["error"]["name"],
            json!("ServiceUnavailableError"),
            "{db}"
        );
        assert!(
            !sync
                .load(&f.engine, &CancellationToken::new())
                .await
                .expect("load"),
            "{db}: a stopped load does not run"
        );
        // Reads the database answers still answer.
        let (status, _) = call(app, "GET", "/entities/by-query?limit=2", None).await;
        assert_eq!(status, StatusCode::OK, "{db}");
        f.cleanup().await;
    }
}
