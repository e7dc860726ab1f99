//! The `memory` store.

use std::time::Duration;

use greenroom_backend_cache::CacheManager;
use serde_json::json;

use crate::support::{check_default_ttl, check_namespacing, check_round_trip, check_ttl, manager};

#[tokio::test]
async fn round_trip() {
    check_round_trip(&*CacheManager::in_memory().for_plugin("p")).await;
}

#[tokio::test]
async fn plugins_do_not_share_keys() {
    let manager = manager(json!({"store": "memory"}));
    check_namespacing(&manager, "a", "b").await;
    // Ids that could run together with a naive "<id>:<key>" join stay apart.
    check_namespacing(&manager, "a:b", "a").await;
}

#[tokio::test]
async fn ttl_expires() {
    let cache = CacheManager::in_memory().for_plugin("p");
    check_ttl(
        &*cache,
        Duration::from_millis(100),
        Duration::from_millis(300),
    )
    .await;
}

#[tokio::test]
async fn default_ttl_applies() {
    let manager = manager(json!({"defaultTtl": 150}));
    check_default_ttl(&*manager.for_plugin("p"), Duration::from_millis(400)).await;
}

#[tokio::test]
async fn overwrite_resets_the_ttl() {
    let cache = CacheManager::in_memory().for_plugin("p");
    cache
        .set("k", json!(1), Some(Duration::from_millis(100)))
        .await;
    cache.set("k", json!(2), None).await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(cache.get("k").await, Some(json!(2)));
}
