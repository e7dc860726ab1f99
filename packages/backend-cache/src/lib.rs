//! Per-plugin cache namespaces over one shared store (`backend.cache`).
//!
//! [`CacheManager::from_config`] reads the configuration once at start-up and
//! [`CacheManager::for_plugin`] hands each plugin a [`CacheService`] whose keys
//! live in the plugin's own namespace, so two plugins using the same key never
//! see each other's values. Values are JSON, stored as JSON text.
//!
//! # Configuration
//!
//! | Key | Meaning |
//! |---|---|
//! | `backend.cache.store` | `memory` (default), `redis`, `valkey`, `memcache` or `infinispan` |
//! | `backend.cache.connection` | required for the networked stores: a `redis://` / `valkey://` URL (credentials and database index allowed), memcached `host:port[,host:port…]`, or Infinispan's `http://host:port` |
//! | `backend.cache.defaultTtl` | TTL for `set` without one: milliseconds, `{ hours: 1 }` or an ISO 8601 duration; unset means entries live until evicted |
//! | `backend.cache.useRedisSets` | deprecated, no effect; only logs a warning |
//! | `backend.cache.redis.client.namespace` | prefix of every plugin's namespace: `<namespace><separator><pluginId>` |
//! | `backend.cache.redis.client.keyPrefixSeparator` | separator for `redis` (default `:`) |
//! | `backend.cache.valkey.client.keyPrefix` | prefix of every plugin's namespace for `valkey`: `<keyPrefix><pluginId>` |
//! | `backend.cache.infinispan.cacheName` | the Infinispan cache to use (default `backstage`) |
//! | `backend.cache.infinispan.authentication.userName` / `.password` | HTTP basic authentication for Infinispan |
//!
//! In Redis and Valkey a value is stored at `<namespace><separator><key>`, the
//! key being normalised as upstream does (base64, or base64 of its SHA-256 when
//! that would be 200 characters or more). memcached and Infinispan store
//! `<pluginId>:<normalised key>`.
//!
//! Redis Cluster (`redis.cluster`, `valkey.cluster`) and TLS connections are not
//! supported and are rejected at start-up rather than silently ignored.
//!
//! # Failure behaviour
//!
//! The networked stores never fail their caller: every operation is bounded by
//! [`OP_TIMEOUT`], and an error or timeout reads as a miss (or a skipped write),
//! with one warning per outage. Connections are re-established on the next
//! operation once the server answers again.

mod infinispan;
mod key;
mod memcache;
mod memory;
mod outage;
mod resp;
mod store;
#[cfg(feature = "testing")]
pub mod testing;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use greenroom_backend_plugin_api::BackendError;
use greenroom_backend_plugin_api::duration::parse_duration;
use greenroom_backend_plugin_api::services::CacheService;
use greenroom_config::Config;
use serde_json::Value;

use crate::infinispan::{InfinispanSettings, InfinispanStore};
use crate::memcache::MemcacheStore;
use crate::memory::MemoryStore;
use crate::resp::{NamespaceRule, RespStore};
use crate::store::Store;

/// The longest a networked store may take for one operation before it counts as
/// a miss; short, because a cache exists to make requests faster.
pub const OP_TIMEOUT: Duration = Duration::from_millis(500);

/// The stores `backend.cache.store` may name.
pub const STORES: [&str; 5] = ["memory", "redis", "valkey", "memcache", "infinispan"];

/// Which store a [`CacheManager`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Memory,
    Redis,
    Valkey,
    Memcache,
    Infinispan,
}

impl StoreKind {
    /// The name used in `backend.cache.store`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Redis => "redis",
            Self::Valkey => "valkey",
            Self::Memcache => "memcache",
            Self::Infinispan => "infinispan",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "memory" => Self::Memory,
            "redis" => Self::Redis,
            "valkey" => Self::Valkey,
            "memcache" => Self::Memcache,
            "infinispan" => Self::Infinispan,
            _ => return None,
        })
    }
}

impl fmt::Display for StoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The process's cache: one store, shared by every plugin's namespaced view.
#[derive(Debug, Clone)]
pub struct CacheManager {
    kind: StoreKind,
    store: Arc<dyn Store>,
    default_ttl: Option<Duration>,
}

fn invalid(key: &str, detail: impl fmt::Display) -> BackendError {
    BackendError::config(format!("Invalid config at '{key}': {detail}"))
}

impl CacheManager {
    /// Reads `backend.cache` and prepares the store. Nothing is connected yet:
    /// networked stores connect on first use, so a cache that is down at
    /// start-up does not stop the backend.
    pub fn from_config(config: &Config) -> Result<CacheManager, BackendError> {
        let kind = match config.get_optional_string("backend.cache.store")? {
            None => StoreKind::Memory,
            Some(name) => StoreKind::parse(&name).ok_or_else(|| {
                invalid(
                    "backend.cache.store",
                    format_args!(
                        "unknown cache store '{name}', expected one of {}",
                        STORES.join(", ")
                    ),
                )
            })?,
        };
        let default_ttl = match config.get_optional_value("backend.cache.defaultTtl")? {
            None => None,
            Some(value) => {
                Some(parse_duration(value).map_err(|e| invalid("backend.cache.defaultTtl", e))?)
            }
        };
        if config.has("backend.cache.useRedisSets") {
            tracing::warn!(
                "The 'backend.cache.useRedisSets' option is deprecated and has no effect; remove it from the configuration"
            );
        }
        let store: Arc<dyn Store> = match kind {
            StoreKind::Memory => Arc::new(MemoryStore::new(memory::DEFAULT_MAX_BYTES)),
            StoreKind::Redis | StoreKind::Valkey => Arc::new(resp_store(config, kind)?),
            StoreKind::Memcache => {
                let connection = config.get_string("backend.cache.connection")?;
                let servers = memcache::parse_servers(&connection)
                    .map_err(|e| invalid("backend.cache.connection", e))?;
                Arc::new(MemcacheStore::new(servers, OP_TIMEOUT))
            }
            StoreKind::Infinispan => Arc::new(infinispan_store(config)?),
        };
        Ok(CacheManager {
            kind,
            store,
            default_ttl,
        })
    }

    /// A memory cache with no default TTL, for tests and tools.
    pub fn in_memory() -> CacheManager {
        CacheManager {
            kind: StoreKind::Memory,
            store: Arc::new(MemoryStore::new(memory::DEFAULT_MAX_BYTES)),
            default_ttl: None,
        }
    }

    /// The configured store.
    pub fn kind(&self) -> StoreKind {
        self.kind
    }

    /// The configured `defaultTtl`.
    pub fn default_ttl(&self) -> Option<Duration> {
        self.default_ttl
    }

    /// The cache of one plugin: its own namespace in the shared store.
    pub fn for_plugin(&self, plugin_id: &str) -> Arc<dyn CacheService> {
        Arc::new(PluginCache {
            store: Arc::clone(&self.store),
            namespace: Arc::from(self.store.namespace(plugin_id)),
            default_ttl: self.default_ttl,
        })
    }
}

fn resp_store(config: &Config, kind: StoreKind) -> Result<RespStore, BackendError> {
    let section = kind.as_str();
    let cluster_key = format!("backend.cache.{section}.cluster");
    if config.has(&cluster_key) {
        return Err(invalid(
            &cluster_key,
            "cluster mode is not supported; point backend.cache.connection at a single node",
        ));
    }
    let connection = config.get_string("backend.cache.connection")?;
    let client = redis::Client::open(connection.as_str()).map_err(|e| {
        invalid(
            "backend.cache.connection",
            format_args!("not a usable {section} URL: {e}"),
        )
    })?;
    let rule = match kind {
        StoreKind::Valkey => NamespaceRule::Valkey {
            key_prefix: config
                .get_optional_string("backend.cache.valkey.client.keyPrefix")?
                .unwrap_or_default(),
        },
        _ => NamespaceRule::Redis {
            namespace: config.get_optional_string("backend.cache.redis.client.namespace")?,
            separator: config
                .get_optional_string("backend.cache.redis.client.keyPrefixSeparator")?
                .unwrap_or_else(|| ":".to_owned()),
        },
    };
    let label = format!("{section} {}", redacted(&connection));
    Ok(RespStore::new(client, rule, OP_TIMEOUT, label))
}

fn infinispan_store(config: &Config) -> Result<InfinispanStore, BackendError> {
    const KEY: &str = "backend.cache.connection";
    let connection = config.get_string(KEY)?;
    let url = url::Url::parse(&connection).map_err(|e| {
        invalid(
            KEY,
            format_args!("'{}' is not a URL: {e}", redacted(&connection)),
        )
    })?;
    if url.scheme() != "http" {
        return Err(invalid(
            KEY,
            format_args!(
                "Infinispan is reached over plain http://, not '{}'",
                url.scheme()
            ),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid(KEY, "the URL has no host"));
    }
    let cache_name = config
        .get_optional_string("backend.cache.infinispan.cacheName")?
        .unwrap_or_else(|| "backstage".to_owned());
    let credentials =
        match config.get_optional_string("backend.cache.infinispan.authentication.userName")? {
            Some(user) => Some((
                user,
                config
                    .get_optional_string("backend.cache.infinispan.authentication.password")?
                    .unwrap_or_default(),
            )),
            None => None,
        };
    let settings = InfinispanSettings {
        base_url: connection.trim_end_matches('/').to_owned(),
        cache_name,
        credentials,
    };
    InfinispanStore::new(settings, OP_TIMEOUT).map_err(|e| invalid(KEY, e))
}

/// The connection string without its password, for log lines.
fn redacted(connection: &str) -> String {
    match url::Url::parse(connection) {
        Ok(mut url) if url.password().is_some() => {
            // Setting a password only fails for URLs that cannot carry one.
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => connection.to_owned(),
    }
}

/// One plugin's view of the shared store.
#[derive(Debug)]
struct PluginCache {
    store: Arc<dyn Store>,
    namespace: Arc<str>,
    default_ttl: Option<Duration>,
}

#[async_trait]
impl CacheService for PluginCache {
    async fn get(&self, key: &str) -> Option<Value> {
        let text = self.store.get(&self.namespace, key).await?;
        match serde_json::from_str(&text) {
            Ok(value) => Some(value),
            Err(e) => {
                // Something other than this crate wrote the entry; a miss is the
                // only safe answer.
                tracing::debug!(namespace = %self.namespace, "ignoring a cache entry that is not JSON: {e}");
                None
            }
        }
    }

    async fn set(&self, key: &str, value: Value, ttl: Option<Duration>) {
        let ttl = ttl.or(self.default_ttl);
        if ttl == Some(Duration::ZERO) {
            // An entry that expires at once is no entry; stores disagree on what
            // a zero TTL means (Redis rejects it, memcached reads it as "never").
            self.store.delete(&self.namespace, key).await;
            return;
        }
        let text = value.to_string();
        self.store.set(&self.namespace, key, text, ttl).await;
    }

    async fn delete(&self, key: &str) {
        self.store.delete(&self.namespace, key).await;
    }

    fn with_default_ttl(&self, ttl: Option<Duration>) -> Arc<dyn CacheService> {
        Arc::new(PluginCache {
            store: Arc::clone(&self.store),
            namespace: Arc::clone(&self.namespace),
            default_ttl: ttl,
        })
    }
}
