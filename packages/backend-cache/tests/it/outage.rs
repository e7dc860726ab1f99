//! Outages: a private `redis-server` / `memcached` is killed mid-test. Reads
//! become misses, writes and deletes return quickly without error, one warning
//! is logged, and once the server is back on the same port the cache hits again.

use std::time::{Duration, Instant};

use greenroom_backend_cache::testing::{ServerProcess, unique_namespace};
use greenroom_backend_plugin_api::services::CacheService;
use serde_json::{Value, json};

use crate::support::{LogCapture, manager};

/// Generous bound for one operation against a dead server (the store's own
/// timeout is 500 ms; a refused connection answers at once).
const QUICK: Duration = Duration::from_millis(1_000);

async fn timed<T>(what: &str, op: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let out = op.await;
    assert!(
        started.elapsed() < QUICK,
        "{what} took {:?}",
        started.elapsed()
    );
    out
}

/// After a restart the very first write and read must work: the store finds the
/// server again by itself, without a missed call in between.
async fn hits_again(cache: &dyn CacheService) {
    timed("set", cache.set("after", json!("back"), None)).await;
    assert_eq!(
        cache.get("after").await,
        Some(json!("back")),
        "hit after restart"
    );
}

/// The whole outage story against one server, with the log captured.
async fn check_outage(server: &mut ServerProcess, cache: Value, capture: &LogCapture) {
    let manager = manager(cache);
    let cache = manager.for_plugin(&unique_namespace());
    cache.set("k", json!({"v": 1}), None).await;
    assert_eq!(
        cache.get("k").await,
        Some(json!({"v": 1})),
        "hit before the outage"
    );
    assert!(capture.warnings().is_empty(), "{:?}", capture.warnings());

    server.stop();
    for _ in 0..3 {
        assert_eq!(
            timed("get", cache.get("k")).await,
            None,
            "miss during the outage"
        );
        timed(
            "set",
            cache.set("k", json!(2), Some(Duration::from_secs(60))),
        )
        .await;
        timed("delete", cache.delete("k")).await;
    }
    let warnings = capture.warnings();
    assert_eq!(warnings.len(), 1, "one warning per outage: {warnings:?}");
    assert!(warnings[0].contains("unavailable"), "{warnings:?}");

    server.restart().expect("restart");
    hits_again(&*cache).await;
    assert_eq!(capture.warnings().len(), 1, "no more warnings once back");
    assert!(
        capture
            .infos()
            .iter()
            .any(|l| l.contains("available again")),
        "{:?}",
        capture.infos()
    );
    // The old entry died with the server (no persistence); new ones work.
    assert_eq!(cache.get("k").await, None);
}

#[tokio::test(flavor = "current_thread")]
async fn redis_outage() {
    let capture = LogCapture::default();
    let _log = tracing::subscriber::set_default(capture.clone());
    let mut server = ServerProcess::redis().expect("redis-server");
    let cache = json!({"store": "redis", "connection": server.connection()});
    check_outage(&mut server, cache, &capture).await;
}

#[tokio::test(flavor = "current_thread")]
async fn valkey_outage() {
    let capture = LogCapture::default();
    let _log = tracing::subscriber::set_default(capture.clone());
    let mut server = ServerProcess::redis().expect("redis-server");
    let connection = server.connection().replacen("redis://", "valkey://", 1);
    let cache = json!({"store": "valkey", "connection": connection});
    check_outage(&mut server, cache, &capture).await;
}

#[tokio::test(flavor = "current_thread")]
async fn memcached_outage() {
    let capture = LogCapture::default();
    let _log = tracing::subscriber::set_default(capture.clone());
    let mut server = ServerProcess::memcached().expect("memcached");
    let cache = json!({"store": "memcache", "connection": server.connection()});
    check_outage(&mut server, cache, &capture).await;
}

#[tokio::test]
async fn a_server_down_at_start_up_is_picked_up_later() {
    let mut server = ServerProcess::redis().expect("redis-server");
    server.stop();
    let manager = manager(json!({"store": "redis", "connection": server.connection()}));
    let cache = manager.for_plugin("p");
    assert_eq!(timed("get", cache.get("k")).await, None);
    server.restart().expect("restart");
    hits_again(&*cache).await;
}

#[tokio::test]
async fn memcached_keys_spread_over_several_servers() {
    let mut first = ServerProcess::memcached().expect("memcached");
    let second = ServerProcess::memcached().expect("memcached");
    let connection = format!("{},{}", first.connection(), second.connection());
    let manager = manager(json!({"store": "memcache", "connection": connection}));
    let cache = manager.for_plugin("p");
    for i in 0..40 {
        cache.set(&format!("k{i}"), json!(i), None).await;
    }
    for i in 0..40 {
        assert_eq!(cache.get(&format!("k{i}")).await, Some(json!(i)), "k{i}");
    }
    // With one server gone, its share of the keys misses and the rest still hits.
    first.stop();
    let mut hits = 0;
    for i in 0..40 {
        if timed("get", cache.get(&format!("k{i}"))).await == Some(json!(i)) {
            hits += 1;
        }
    }
    assert!(
        0 < hits && hits < 40,
        "both servers held keys: {hits} of 40 left"
    );
}

/// A restart between two calls (the client's pooled connection is dead but it
/// has not noticed yet) costs no miss and no warning.
async fn check_quick_restart(server: &mut ServerProcess, cache: Value, capture: &LogCapture) {
    let manager = manager(cache);
    let cache = manager.for_plugin(&unique_namespace());
    cache.set("k", json!(1), None).await;
    assert_eq!(cache.get("k").await, Some(json!(1)));
    server.restart().expect("restart");
    hits_again(&*cache).await;
    assert!(capture.warnings().is_empty(), "{:?}", capture.warnings());
}

#[tokio::test(flavor = "current_thread")]
async fn redis_quick_restart() {
    let capture = LogCapture::default();
    let _log = tracing::subscriber::set_default(capture.clone());
    let mut server = ServerProcess::redis().expect("redis-server");
    let cache = json!({"store": "redis", "connection": server.connection()});
    check_quick_restart(&mut server, cache, &capture).await;
}

#[tokio::test(flavor = "current_thread")]
async fn memcached_quick_restart() {
    let capture = LogCapture::default();
    let _log = tracing::subscriber::set_default(capture.clone());
    let mut server = ServerProcess::memcached().expect("memcached");
    let cache = json!({"store": "memcache", "connection": server.connection()});
    check_quick_restart(&mut server, cache, &capture).await;
}
