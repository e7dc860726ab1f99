//! Start-up validation of `backend.cache`: bad values fail with a message that
//! names the key; good ones are accepted without touching the network.

use std::time::Duration;

use greenroom_backend_cache::{CacheManager, StoreKind};
use greenroom_config::Config;
use serde_json::{Value, json};

use crate::support::LogCapture;

fn build(cache: Value) -> Result<CacheManager, String> {
    let config = Config::from_value(json!({ "backend": { "cache": cache } }))
        .map_err(|e| format!("config: {e}"))?;
    CacheManager::from_config(&config).map_err(|e| e.to_string())
}

/// Expects an error whose message contains every one of `needles`.
fn check_rejected(case: &str, cache: Value, needles: &[&str]) {
    match build(cache) {
        Ok(_) => panic!("{case}: accepted"),
        Err(message) => {
            for needle in needles {
                assert!(
                    message.contains(needle),
                    "{case}: {message:?} lacks {needle:?}"
                );
            }
        }
    }
}

#[test]
fn bad_config_names_the_key() {
    let stores = "memory, redis, valkey, memcache, infinispan";
    let rows: Vec<(&str, Value, Vec<&str>)> = vec![
        (
            "unknown store",
            json!({"store": "mongo"}),
            vec!["backend.cache.store", "mongo", stores],
        ),
        (
            "store of wrong type",
            json!({"store": 7}),
            vec!["backend.cache.store"],
        ),
        (
            "empty store",
            json!({"store": ""}),
            vec!["backend.cache.store"],
        ),
        (
            "redis: connection missing",
            json!({"store": "redis"}),
            vec!["backend.cache.connection"],
        ),
        (
            "redis: not a URL",
            json!({"store": "redis", "connection": "not a url"}),
            vec!["backend.cache.connection"],
        ),
        (
            "redis: host:port without scheme",
            json!({"store": "redis", "connection": "localhost:6379"}),
            vec!["backend.cache.connection"],
        ),
        (
            "redis: TLS is not built in",
            json!({"store": "redis", "connection": "rediss://127.0.0.1:6379"}),
            vec!["backend.cache.connection"],
        ),
        (
            "redis: wrong scheme",
            json!({"store": "redis", "connection": "http://127.0.0.1:6379"}),
            vec!["backend.cache.connection"],
        ),
        (
            "valkey: not a URL",
            json!({"store": "valkey", "connection": "::"}),
            vec!["backend.cache.connection"],
        ),
        (
            "redis: cluster unsupported",
            json!({"store": "redis", "connection": "redis://127.0.0.1",
                   "redis": {"cluster": {"rootNodes": [{"url": "redis://127.0.0.1:7000"}]}}}),
            vec!["backend.cache.redis.cluster"],
        ),
        (
            "valkey: cluster unsupported",
            json!({"store": "valkey", "connection": "valkey://127.0.0.1",
                   "valkey": {"cluster": {"rootNodes": []}}}),
            vec!["backend.cache.valkey.cluster"],
        ),
        (
            "redis: namespace of wrong type",
            json!({"store": "redis", "connection": "redis://127.0.0.1",
                   "redis": {"client": {"namespace": 5}}}),
            vec!["backend.cache.redis.client.namespace"],
        ),
        (
            "memcache: connection missing",
            json!({"store": "memcache"}),
            vec!["backend.cache.connection"],
        ),
        (
            "memcache: no port",
            json!({"store": "memcache", "connection": "localhost"}),
            vec!["backend.cache.connection"],
        ),
        (
            "memcache: port out of range",
            json!({"store": "memcache", "connection": "127.0.0.1:99999"}),
            vec!["backend.cache.connection"],
        ),
        (
            "memcache: one bad server of two",
            json!({"store": "memcache", "connection": "127.0.0.1:11211,bad host:1"}),
            vec!["backend.cache.connection", "bad host"],
        ),
        (
            "memcache: credentials",
            json!({"store": "memcache", "connection": "user:pw@127.0.0.1:11211"}),
            vec!["backend.cache.connection", "credentials"],
        ),
        (
            "infinispan: connection missing",
            json!({"store": "infinispan"}),
            vec!["backend.cache.connection"],
        ),
        (
            "infinispan: not a URL",
            json!({"store": "infinispan", "connection": "127.0.0.1:11222"}),
            vec!["backend.cache.connection"],
        ),
        (
            "infinispan: https is not built in",
            json!({"store": "infinispan", "connection": "https://127.0.0.1:11222"}),
            vec!["backend.cache.connection", "https"],
        ),
        (
            "defaultTtl: prose",
            json!({"defaultTtl": "5 minutes"}),
            vec!["backend.cache.defaultTtl", "5 minutes"],
        ),
        (
            "defaultTtl: unknown unit",
            json!({"defaultTtl": {"fortnights": 1}}),
            vec!["backend.cache.defaultTtl", "fortnights"],
        ),
        (
            "defaultTtl: negative",
            json!({"defaultTtl": -5}),
            vec!["backend.cache.defaultTtl"],
        ),
        (
            "defaultTtl: boolean",
            json!({"defaultTtl": true}),
            vec!["backend.cache.defaultTtl"],
        ),
        (
            "defaultTtl checked for networked stores too",
            json!({"store": "redis", "connection": "redis://127.0.0.1", "defaultTtl": "PT"}),
            vec!["backend.cache.defaultTtl"],
        ),
    ];
    for (case, cache, needles) in rows {
        check_rejected(case, cache, &needles);
    }
}

/// Expects the config to be accepted with this store and default TTL.
fn check_accepted(case: &str, cache: Value, kind: StoreKind, ttl: Option<Duration>) {
    let manager = build(cache).unwrap_or_else(|e| panic!("{case}: {e}"));
    assert_eq!(manager.kind(), kind, "{case}");
    assert_eq!(manager.default_ttl(), ttl, "{case}");
}

#[test]
fn good_config_is_accepted_without_connecting() {
    let ms = Duration::from_millis;
    // Port 1 on loopback has no server: accepting these proves nothing connects at start-up.
    let rows = [
        ("no cache section", json!({}), StoreKind::Memory, None),
        (
            "memory",
            json!({"store": "memory"}),
            StoreKind::Memory,
            None,
        ),
        (
            "ttl in ms",
            json!({"defaultTtl": 250}),
            StoreKind::Memory,
            Some(ms(250)),
        ),
        (
            "ttl object",
            json!({"defaultTtl": {"minutes": 2}}),
            StoreKind::Memory,
            Some(ms(120_000)),
        ),
        (
            "ttl ISO",
            json!({"defaultTtl": "PT0.5S"}),
            StoreKind::Memory,
            Some(ms(500)),
        ),
        (
            "redis with namespace",
            json!({"store": "redis", "connection": "redis://user:pw@127.0.0.1:1/2",
                   "redis": {"client": {"namespace": "app", "keyPrefixSeparator": "|"}}}),
            StoreKind::Redis,
            None,
        ),
        (
            "valkey scheme",
            json!({"store": "valkey", "connection": "valkey://127.0.0.1:1",
                   "valkey": {"client": {"keyPrefix": "app:"}}}),
            StoreKind::Valkey,
            None,
        ),
        (
            "memcache list",
            json!({"store": "memcache", "connection": "127.0.0.1:1, [::1]:2"}),
            StoreKind::Memcache,
            None,
        ),
        (
            "infinispan with auth",
            json!({"store": "infinispan", "connection": "http://127.0.0.1:1/",
                   "infinispan": {"cacheName": "c", "authentication": {"userName": "u", "password": "p"}}}),
            StoreKind::Infinispan,
            None,
        ),
    ];
    for (case, cache, kind, ttl) in rows {
        check_accepted(case, cache, kind, ttl);
    }
}

/// Checklist 44: `useRedisSets` only produces a warning.
#[test]
fn use_redis_sets_only_warns() {
    let capture = LogCapture::default();
    let result = tracing::subscriber::with_default(capture.clone(), || {
        build(json!({"store": "redis", "connection": "redis://127.0.0.1:1", "useRedisSets": true}))
    });
    assert!(result.is_ok(), "{result:?}");
    let warnings = capture.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("useRedisSets"), "{warnings:?}");

    let quiet = LogCapture::default();
    let result = tracing::subscriber::with_default(quiet.clone(), || build(json!({})));
    assert!(result.is_ok());
    assert!(quiet.warnings().is_empty(), "{:?}", quiet.warnings());
}
