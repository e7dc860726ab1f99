//! The `memory` store: a process-local moka cache shared by every plugin, with a
//! TTL per entry and a bound on the total size of what it holds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use moka::Expiry;
use moka::future::Cache;

use crate::store::Store;

/// How many bytes of keys and JSON text the memory store keeps before it evicts.
pub(crate) const DEFAULT_MAX_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug, Clone)]
struct Entry {
    text: Arc<str>,
    ttl: Option<Duration>,
}

/// Each entry carries its own TTL, so creation and overwrite both restart the clock
/// with the TTL given to that `set`.
#[derive(Debug)]
struct PerEntryTtl;

impl Expiry<String, Entry> for PerEntryTtl {
    fn expire_after_create(&self, _key: &String, value: &Entry, _at: Instant) -> Option<Duration> {
        value.ttl
    }

    fn expire_after_update(
        &self,
        _key: &String,
        value: &Entry,
        _at: Instant,
        _remaining: Option<Duration>,
    ) -> Option<Duration> {
        value.ttl
    }
}

/// A bounded in-process cache.
#[derive(Debug)]
pub(crate) struct MemoryStore {
    cache: Cache<String, Entry>,
}

impl MemoryStore {
    pub(crate) fn new(max_bytes: u64) -> Self {
        let cache = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|key: &String, entry: &Entry| {
                u32::try_from(key.len() + entry.text.len()).unwrap_or(u32::MAX)
            })
            .expire_after(PerEntryTtl)
            .build();
        Self { cache }
    }
}

#[async_trait]
impl Store for MemoryStore {
    fn namespace(&self, plugin_id: &str) -> String {
        // The length prefix makes the namespace unambiguous whatever characters
        // the plugin id and the key contain.
        format!("{}:{plugin_id}:", plugin_id.len())
    }

    async fn get(&self, namespace: &str, key: &str) -> Option<String> {
        let entry = self.cache.get(&format!("{namespace}{key}")).await?;
        Some(entry.text.to_string())
    }

    async fn set(&self, namespace: &str, key: &str, text: String, ttl: Option<Duration>) {
        let entry = Entry {
            text: Arc::from(text),
            ttl,
        };
        self.cache.insert(format!("{namespace}{key}"), entry).await;
    }

    async fn delete(&self, namespace: &str, key: &str) {
        self.cache.invalidate(&format!("{namespace}{key}")).await;
    }
}
