//! The `infinispan` store, tested against a loopback stand-in: no Infinispan
//! server can be installed on this machine, so [`FakeInfinispan`] answers the
//! documented REST v2 endpoints (`GET` 200/404, `PUT` honouring
//! `timeToLiveSeconds`, `DELETE`, optional basic authentication) and records
//! what it was sent. It is not a real Infinispan.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use greenroom_backend_cache::CacheManager;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::support::{
    LogCapture, check_default_ttl, check_namespacing, check_round_trip, check_ttl, manager,
};

/// One recorded request: method, cache name, key, `timeToLiveSeconds`.
type Seen = (String, String, String, Option<String>);

#[derive(Debug, Default)]
struct ServerState {
    entries: HashMap<(String, String), (String, Option<Instant>)>,
    seen: Vec<Seen>,
}

#[derive(Debug, Clone)]
struct Shared {
    state: Arc<Mutex<ServerState>>,
    /// `Basic <base64(user:password)>` when authentication is on.
    authorization: Option<String>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, ServerState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn authorised(&self, headers: &HeaderMap) -> bool {
        match &self.authorization {
            None => true,
            Some(expected) => {
                headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(expected)
            }
        }
    }
}

async fn get_entry(
    State(shared): State<Shared>,
    Path((cache, key)): Path<(String, String)>,
    headers: HeaderMap,
) -> (StatusCode, String) {
    if !shared.authorised(&headers) {
        return (StatusCode::UNAUTHORIZED, String::new());
    }
    let mut state = shared.lock();
    state
        .seen
        .push(("GET".into(), cache.clone(), key.clone(), None));
    let slot = (cache, key);
    match state.entries.get(&slot) {
        Some((_, Some(deadline))) if *deadline <= Instant::now() => {
            state.entries.remove(&slot);
            (StatusCode::NOT_FOUND, String::new())
        }
        Some((value, _)) => (StatusCode::OK, value.clone()),
        None => (StatusCode::NOT_FOUND, String::new()),
    }
}

async fn put_entry(
    State(shared): State<Shared>,
    Path((cache, key)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    if !shared.authorised(&headers) {
        return StatusCode::UNAUTHORIZED;
    }
    let ttl = headers
        .get("timeToLiveSeconds")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let deadline = match ttl.as_deref().map(str::parse::<i64>) {
        None => None,
        Some(Ok(secs)) if secs > 0 => {
            Some(Instant::now() + Duration::from_secs(secs.unsigned_abs()))
        }
        Some(Ok(-1)) => None,
        Some(_) => return StatusCode::BAD_REQUEST,
    };
    let Ok(text) = String::from_utf8(body.to_vec()) else {
        return StatusCode::BAD_REQUEST;
    };
    let mut state = shared.lock();
    state
        .seen
        .push(("PUT".into(), cache.clone(), key.clone(), ttl));
    state.entries.insert((cache, key), (text, deadline));
    StatusCode::NO_CONTENT
}

async fn delete_entry(
    State(shared): State<Shared>,
    Path((cache, key)): Path<(String, String)>,
    headers: HeaderMap,
) -> StatusCode {
    if !shared.authorised(&headers) {
        return StatusCode::UNAUTHORIZED;
    }
    let mut state = shared.lock();
    state
        .seen
        .push(("DELETE".into(), cache.clone(), key.clone(), None));
    match state.entries.remove(&(cache, key)) {
        Some(_) => StatusCode::NO_CONTENT,
        None => StatusCode::NOT_FOUND,
    }
}

/// A loopback server answering Infinispan's REST v2 cache-entry endpoints.
struct FakeInfinispan {
    shared: Shared,
    addr: SocketAddr,
    running: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
}

impl FakeInfinispan {
    async fn start(authorization: Option<String>) -> FakeInfinispan {
        let shared = Shared {
            state: Arc::default(),
            authorization,
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut server = FakeInfinispan {
            shared,
            addr,
            running: None,
        };
        server.serve(listener);
        server
    }

    fn serve(&mut self, listener: TcpListener) {
        let app = Router::new()
            .route(
                "/rest/v2/caches/{cache}/{key}",
                get(get_entry).put(put_entry).delete(delete_entry),
            )
            .with_state(self.shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        self.running = Some((stop, task));
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Closes the port (idle keep-alive connections included).
    async fn stop(&mut self) {
        if let Some((stop, task)) = self.running.take() {
            let _ = stop.send(());
            let _ = task.await;
        }
    }

    async fn restart(&mut self) {
        self.stop().await;
        let listener = TcpListener::bind(self.addr).await.expect("rebind");
        self.serve(listener);
    }

    fn seen(&self) -> Vec<Seen> {
        self.shared.lock().seen.clone()
    }

    fn keys(&self) -> Vec<(String, String)> {
        let mut keys: Vec<_> = self.shared.lock().entries.keys().cloned().collect();
        keys.sort();
        keys
    }
}

impl Drop for FakeInfinispan {
    fn drop(&mut self) {
        if let Some((_, task)) = self.running.take() {
            task.abort();
        }
    }
}

fn infinispan(server: &FakeInfinispan, extra: Value) -> CacheManager {
    let mut cache = json!({"store": "infinispan", "connection": server.url()});
    if let (Some(cache), Some(extra)) = (cache.as_object_mut(), extra.as_object()) {
        cache.extend(extra.clone());
    }
    manager(cache)
}

#[tokio::test]
async fn round_trip_and_namespacing() {
    let server = FakeInfinispan::start(None).await;
    let manager = infinispan(&server, json!({}));
    check_round_trip(&*manager.for_plugin("p")).await;
    check_namespacing(&manager, "alpha", "beta").await;
    manager.for_plugin("alpha").set("k", json!(1), None).await;
    manager.for_plugin("beta").set("k", json!(2), None).await;
    // Default cache name; keys are "<pluginId>:<base64 key>".
    assert_eq!(
        server.keys(),
        vec![
            ("backstage".to_owned(), "alpha:aw==".to_owned()),
            ("backstage".to_owned(), "beta:aw==".to_owned()),
        ]
    );
}

#[tokio::test]
async fn ttl_goes_in_the_header() {
    let server = FakeInfinispan::start(None).await;
    let manager = infinispan(&server, json!({"infinispan": {"cacheName": "my cache"}}));
    let cache = manager.for_plugin("p");
    check_ttl(
        &*cache,
        Duration::from_millis(300),
        Duration::from_millis(1_200),
    )
    .await;
    cache
        .set("long", json!(1), Some(Duration::from_millis(90_001)))
        .await;
    let puts: Vec<_> = server
        .seen()
        .into_iter()
        .filter(|(method, ..)| method == "PUT")
        .map(|(_, cache, key, ttl)| (cache, key, ttl))
        .collect();
    let expected = [
        ("p:c2hvcnQ=", "1"),      // 300 ms rounds up to 1 s
        ("p:Zm9yZXZlcg==", "-1"), // no TTL: never expires
        ("p:bG9uZw==", "91"),
    ];
    let expected: Vec<_> = expected
        .iter()
        .map(|(k, t)| {
            (
                "my cache".to_owned(),
                (*k).to_owned(),
                Some((*t).to_owned()),
            )
        })
        .collect();
    assert_eq!(puts, expected);
}

#[tokio::test]
async fn default_ttl_applies() {
    let server = FakeInfinispan::start(None).await;
    let manager = infinispan(&server, json!({"defaultTtl": 200}));
    check_default_ttl(&*manager.for_plugin("p"), Duration::from_millis(1_200)).await;
}

#[tokio::test]
async fn basic_authentication() {
    // "user:secret" in base64.
    let server = FakeInfinispan::start(Some("Basic dXNlcjpzZWNyZXQ=".to_owned())).await;
    let good = infinispan(
        &server,
        json!({"infinispan": {"authentication": {"userName": "user", "password": "secret"}}}),
    );
    good.for_plugin("p").set("k", json!("v"), None).await;
    assert_eq!(good.for_plugin("p").get("k").await, Some(json!("v")));

    // Wrong credentials degrade to misses like any other failure.
    let capture = LogCapture::default();
    let _log = tracing::subscriber::set_default(capture.clone());
    let bad = infinispan(
        &server,
        json!({"infinispan": {"authentication": {"userName": "user", "password": "wrong"}}}),
    );
    assert_eq!(bad.for_plugin("p").get("k").await, None);
    bad.for_plugin("p").set("k", json!("x"), None).await;
    assert_eq!(
        good.for_plugin("p").get("k").await,
        Some(json!("v")),
        "bad write refused"
    );
    let warnings = capture.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("401"), "{warnings:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn outage_degrades_and_recovers() {
    let mut server = FakeInfinispan::start(None).await;
    let manager = infinispan(&server, json!({}));
    let cache = manager.for_plugin("p");
    cache.set("k", json!(1), None).await;
    assert_eq!(cache.get("k").await, Some(json!(1)));
    server.stop().await;
    let started = Instant::now();
    assert_eq!(cache.get("k").await, None);
    cache.set("k", json!(2), None).await;
    cache.delete("k").await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    server.restart().await;
    // The fake keeps its entries across a restart, so the old value is back.
    assert_eq!(cache.get("k").await, Some(json!(1)));
    cache.set("k", json!(3), None).await;
    assert_eq!(cache.get("k").await, Some(json!(3)));
}
