//! The contract between a plugin's cache view and the store behind it.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;

/// A key-value store holding JSON text. Implementations never fail: a store that
/// cannot answer reports a miss and logs (rate-limited) instead.
#[async_trait]
pub(crate) trait Store: Send + Sync + fmt::Debug {
    /// The prefix under which `plugin_id`'s keys live in this store.
    fn namespace(&self, plugin_id: &str) -> String;
    async fn get(&self, namespace: &str, key: &str) -> Option<String>;
    /// Stores `text`; `ttl` is `None` for "until evicted" and never zero.
    async fn set(&self, namespace: &str, key: &str, text: String, ttl: Option<Duration>);
    async fn delete(&self, namespace: &str, key: &str);
}
