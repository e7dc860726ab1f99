//! The `memcache` store against the local memcached (127.0.0.1:11211). Plugin
//! ids are unique per test so that concurrent runs never meet.

use std::time::Duration;

use greenroom_backend_cache::testing::{LOCAL_MEMCACHED, unique_namespace};
use serde_json::json;

use crate::support::{check_default_ttl, check_namespacing, check_round_trip, check_ttl, manager};

#[tokio::test]
async fn round_trip() {
    let manager = manager(json!({"store": "memcache", "connection": LOCAL_MEMCACHED}));
    check_round_trip(&*manager.for_plugin(&unique_namespace())).await;
}

#[tokio::test]
async fn plugins_do_not_share_keys() {
    let manager = manager(json!({"store": "memcache", "connection": LOCAL_MEMCACHED}));
    let ns = unique_namespace();
    check_namespacing(&manager, &format!("{ns}-a"), &format!("{ns}-b")).await;
}

#[tokio::test]
async fn ttl_expires() {
    // memcached counts whole seconds: 300 ms is sent as 1 s and the entry is
    // gone once the server's clock has ticked past it.
    let manager = manager(json!({"store": "memcache", "connection": LOCAL_MEMCACHED}));
    let cache = manager.for_plugin(&unique_namespace());
    check_ttl(
        &*cache,
        Duration::from_millis(300),
        Duration::from_millis(2_100),
    )
    .await;
}

#[tokio::test]
async fn default_ttl_applies() {
    let manager = manager(json!({
        "store": "memcache",
        "connection": LOCAL_MEMCACHED,
        "defaultTtl": "PT0.2S",
    }));
    check_default_ttl(
        &*manager.for_plugin(&unique_namespace()),
        Duration::from_millis(2_100),
    )
    .await;
}

#[tokio::test]
async fn ttl_beyond_30_days_is_kept() {
    // Sent as an absolute unix time; sent as relative seconds it would be read
    // as a time in 1970 and the entry would expire at once.
    let manager = manager(json!({"store": "memcache", "connection": LOCAL_MEMCACHED}));
    let cache = manager.for_plugin(&unique_namespace());
    cache
        .set("k", json!("long"), Some(Duration::from_secs(40 * 86_400)))
        .await;
    assert_eq!(cache.get("k").await, Some(json!("long")));
    cache.delete("k").await;
}

#[tokio::test]
async fn concurrent_use_of_the_pool() {
    let manager = manager(json!({"store": "memcache", "connection": LOCAL_MEMCACHED}));
    let cache = manager.for_plugin(&unique_namespace());
    let mut tasks = Vec::new();
    for i in 0..32 {
        let cache = cache.clone();
        tasks.push(tokio::spawn(async move {
            let key = format!("k{i}");
            cache.set(&key, json!(i), None).await;
            let got = cache.get(&key).await;
            cache.delete(&key).await;
            got
        }));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        assert_eq!(task.await.expect("task"), Some(json!(i)));
    }
}
