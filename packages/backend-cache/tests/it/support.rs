//! Shared helpers: building managers from config, the behaviour checks every
//! store must pass, and a tracing subscriber that records log lines.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use greenroom_backend_cache::CacheManager;
use greenroom_backend_plugin_api::services::CacheService;
use greenroom_config::Config;
use serde_json::{Value, json};

/// A manager for `backend.cache` = `cache`.
pub(crate) fn manager(cache: Value) -> CacheManager {
    let config = Config::from_value(json!({ "backend": { "cache": cache } }))
        .unwrap_or_else(|e| panic!("config: {e}"));
    CacheManager::from_config(&config).unwrap_or_else(|e| panic!("from_config: {e}"))
}

/// Round trips of several JSON shapes and keys, including a long key that gets hashed.
pub(crate) async fn check_round_trip(cache: &dyn CacheService) {
    let long_key = "long/".repeat(100);
    let rows: [(&str, Value); 6] = [
        ("plain", json!("text")),
        ("number", json!(42.5)),
        ("object", json!({"a": [1, 2, {"b": null}], "c": true})),
        ("with spaces and ünïcode / : = +", json!(["x"])),
        (long_key.as_str(), json!({"long": true})),
        ("", json!("empty key")),
    ];
    for (key, value) in &rows {
        assert_eq!(cache.get(key).await, None, "fresh key {key:?}");
        cache.set(key, value.clone(), None).await;
        assert_eq!(cache.get(key).await.as_ref(), Some(value), "key {key:?}");
    }
    cache.set("plain", json!("overwritten"), None).await;
    assert_eq!(cache.get("plain").await, Some(json!("overwritten")));
    for (key, _) in &rows {
        cache.delete(key).await;
        assert_eq!(cache.get(key).await, None, "deleted key {key:?}");
    }
    // Deleting a key that is not there is fine.
    cache.delete("never-set").await;
}

/// Checklist 42: two plugins writing the same key do not see each other's values.
pub(crate) async fn check_namespacing(manager: &CacheManager, plugin_a: &str, plugin_b: &str) {
    let a = manager.for_plugin(plugin_a);
    let b = manager.for_plugin(plugin_b);
    a.set("shared", json!("from a"), None).await;
    assert_eq!(b.get("shared").await, None, "b must not see a's key");
    b.set("shared", json!("from b"), None).await;
    assert_eq!(a.get("shared").await, Some(json!("from a")));
    assert_eq!(b.get("shared").await, Some(json!("from b")));
    b.delete("shared").await;
    assert_eq!(
        a.get("shared").await,
        Some(json!("from a")),
        "b's delete leaves a alone"
    );
    // A second view of the same plugin shares its namespace.
    assert_eq!(
        manager.for_plugin(plugin_a).get("shared").await,
        Some(json!("from a"))
    );
    a.delete("shared").await;
}

/// Checklist 43: an entry set with `ttl` is there at once and gone after `wait`;
/// the same without a TTL stays.
pub(crate) async fn check_ttl(cache: &dyn CacheService, ttl: Duration, wait: Duration) {
    cache.set("short", json!(1), Some(ttl)).await;
    cache.set("forever", json!(2), None).await;
    assert_eq!(
        cache.get("short").await,
        Some(json!(1)),
        "present before the TTL"
    );
    tokio::time::sleep(wait).await;
    assert_eq!(cache.get("short").await, None, "gone after the TTL");
    assert_eq!(
        cache.get("forever").await,
        Some(json!(2)),
        "no TTL: still there"
    );
    cache.delete("forever").await;
}

/// Checklist 43: `defaultTtl` applies when `set` has no TTL; an explicit TTL and
/// `with_default_ttl` override it.
pub(crate) async fn check_default_ttl(cache: &dyn CacheService, wait: Duration) {
    let unbounded = cache.with_default_ttl(None);
    cache.set("default", json!("d"), None).await;
    cache
        .set("explicit", json!("e"), Some(Duration::from_secs(60)))
        .await;
    unbounded.set("view", json!("v"), None).await;
    assert_eq!(cache.get("default").await, Some(json!("d")));
    // The view shares the namespace (and the connection).
    assert_eq!(unbounded.get("default").await, Some(json!("d")));
    tokio::time::sleep(wait).await;
    assert_eq!(
        cache.get("default").await,
        None,
        "defaultTtl expired the entry"
    );
    assert_eq!(
        cache.get("explicit").await,
        Some(json!("e")),
        "explicit TTL wins"
    );
    assert_eq!(
        cache.get("view").await,
        Some(json!("v")),
        "view without default TTL"
    );
    for key in ["explicit", "view"] {
        cache.delete(key).await;
    }
    // A zero TTL stores nothing (rather than "forever" as memcached would read it).
    cache.set("zero", json!(0), Some(Duration::ZERO)).await;
    assert_eq!(cache.get("zero").await, None);
}

/// Records every event's message and level.
#[derive(Debug, Clone, Default)]
pub(crate) struct LogCapture {
    lines: Arc<Mutex<Vec<(tracing::Level, String)>>>,
}

impl LogCapture {
    pub(crate) fn warnings(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(level, _)| *level == tracing::Level::WARN)
            .map(|(_, line)| line.clone())
            .collect()
    }

    pub(crate) fn infos(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(level, _)| *level == tracing::Level::INFO)
            .map(|(_, line)| line.clone())
            .collect()
    }
}

struct MessageVisitor(String);

impl tracing::field::Visit for MessageVisitor {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl tracing::Subscriber for LogCapture {
    fn enabled(&self, _metadata: &tracing::Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, _span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _span: &tracing::span::Id, _values: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _span: &tracing::span::Id, _follows: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let mut visitor = MessageVisitor(String::new());
        event.record(&mut visitor);
        self.lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((*event.metadata().level(), visitor.0));
    }

    fn enter(&self, _span: &tracing::span::Id) {}

    fn exit(&self, _span: &tracing::span::Id) {}
}
