//! The `redis` and `valkey` stores against the local Redis (127.0.0.1:6379),
//! each test under its own namespace whose keys are deleted afterwards.

use std::time::Duration;

use greenroom_backend_cache::CacheManager;
use greenroom_backend_cache::testing::{
    LOCAL_REDIS_URL, RedisCleanup, redis_keys, unique_namespace,
};
use serde_json::{Value, json};

use crate::support::{check_default_ttl, check_namespacing, check_round_trip, check_ttl, manager};

/// Which flavour of the RESP store a test runs.
#[derive(Debug, Clone, Copy)]
enum Flavour {
    Redis,
    Valkey,
}

const FLAVOURS: [Flavour; 2] = [Flavour::Redis, Flavour::Valkey];

/// A manager for `flavour` whose keys all start with `<ns>:` (redis) or
/// `<ns>-` (valkey), plus the guard deleting them.
fn setup(flavour: Flavour, extra: Value) -> (CacheManager, String, RedisCleanup) {
    let ns = unique_namespace();
    let mut cache = match flavour {
        Flavour::Redis => json!({
            "store": "redis",
            "connection": LOCAL_REDIS_URL,
            "redis": {"client": {"namespace": ns}},
        }),
        Flavour::Valkey => json!({
            "store": "valkey",
            "connection": "valkey://127.0.0.1:6379",
            "valkey": {"client": {"keyPrefix": format!("{ns}-")}},
        }),
    };
    if let (Some(cache), Some(extra)) = (cache.as_object_mut(), extra.as_object()) {
        cache.extend(extra.clone());
    }
    let guard = RedisCleanup::new(LOCAL_REDIS_URL, &ns);
    (manager(cache), ns, guard)
}

#[tokio::test]
async fn round_trip() {
    for flavour in FLAVOURS {
        let (manager, _ns, _guard) = setup(flavour, json!({}));
        check_round_trip(&*manager.for_plugin("p")).await;
    }
}

#[tokio::test]
async fn plugins_do_not_share_keys_and_keys_carry_the_plugin_prefix() {
    for flavour in FLAVOURS {
        let (manager, ns, _guard) = setup(flavour, json!({}));
        check_namespacing(&manager, "alpha", "beta").await;

        manager.for_plugin("alpha").set("k", json!("a"), None).await;
        manager.for_plugin("beta").set("k", json!("b"), None).await;
        let keys = redis_keys(LOCAL_REDIS_URL, &ns).await.expect("scan");
        // base64("k") is "aw==".
        let expected = match flavour {
            Flavour::Redis => vec![format!("{ns}:alpha:aw=="), format!("{ns}:beta:aw==")],
            Flavour::Valkey => vec![format!("{ns}-alpha:aw=="), format!("{ns}-beta:aw==")],
        };
        assert_eq!(keys, expected, "{flavour:?}");
    }
}

#[tokio::test]
async fn separator_and_long_keys_follow_upstream() {
    let ns = unique_namespace();
    let _guard = RedisCleanup::new(LOCAL_REDIS_URL, &ns);
    let manager = manager(json!({
        "store": "redis",
        "connection": LOCAL_REDIS_URL,
        "redis": {"client": {"namespace": ns, "keyPrefixSeparator": "|"}},
    }));
    let cache = manager.for_plugin("p");
    cache.set("k", json!(1), None).await;
    // 150 characters encode to 200 in base64, so the key is hashed instead.
    cache.set(&"x".repeat(150), json!(2), None).await;
    let keys = redis_keys(LOCAL_REDIS_URL, &ns).await.expect("scan");
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(keys.contains(&format!("{ns}|p|aw==")), "{keys:?}");
    let hashed = keys
        .iter()
        .find(|k| !k.ends_with("|aw=="))
        .expect("the long key");
    // base64 of a 32-byte digest is 44 characters.
    assert_eq!(hashed.len(), format!("{ns}|p|").len() + 44, "{hashed}");
    assert_eq!(cache.get(&"x".repeat(150)).await, Some(json!(2)));
}

#[tokio::test]
async fn without_namespace_the_plugin_id_is_the_prefix() {
    // The plugin id itself is unique here, so the keys can still be cleaned up.
    let plugin = unique_namespace();
    let _guard = RedisCleanup::new(LOCAL_REDIS_URL, &plugin);
    let manager = manager(json!({"store": "redis", "connection": LOCAL_REDIS_URL}));
    manager
        .for_plugin(&plugin)
        .set("k", json!(true), None)
        .await;
    let keys = redis_keys(LOCAL_REDIS_URL, &plugin).await.expect("scan");
    assert_eq!(keys, vec![format!("{plugin}:aw==")]);
}

#[tokio::test]
async fn ttl_expires() {
    for flavour in FLAVOURS {
        let (manager, ns, _guard) = setup(flavour, json!({}));
        let cache = manager.for_plugin("p");
        check_ttl(
            &*cache,
            Duration::from_millis(150),
            Duration::from_millis(400),
        )
        .await;
        // A TTL is stored with the key, not emulated client-side.
        cache
            .set("t", json!(1), Some(Duration::from_secs(30)))
            .await;
        let key = redis_keys(LOCAL_REDIS_URL, &ns).await.expect("scan");
        let client = redis::Client::open(LOCAL_REDIS_URL).expect("client");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("connect");
        let pttl: i64 = redis::cmd("PTTL")
            .arg(&key[0])
            .query_async(&mut conn)
            .await
            .expect("pttl");
        assert!((29_000..=30_000).contains(&pttl), "{flavour:?}: {pttl}");
    }
}

#[tokio::test]
async fn default_ttl_applies() {
    for flavour in FLAVOURS {
        let (manager, _ns, _guard) = setup(flavour, json!({"defaultTtl": {"milliseconds": 200}}));
        check_default_ttl(&*manager.for_plugin("p"), Duration::from_millis(450)).await;
    }
}

#[tokio::test]
async fn foreign_non_json_entries_read_as_misses() {
    let (manager, ns, _guard) = setup(Flavour::Redis, json!({}));
    let client = redis::Client::open(LOCAL_REDIS_URL).expect("client");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let _: () = redis::cmd("SET")
        .arg(format!("{ns}:p:aw=="))
        .arg("{not json")
        .query_async(&mut conn)
        .await
        .expect("set");
    assert_eq!(manager.for_plugin("p").get("k").await, None);
}
