//! The `redis` and `valkey` stores: one RESP client over redis-rs's
//! auto-reconnecting `ConnectionManager`, created on first use.
//!
//! Each operation is bounded by [`crate::OP_TIMEOUT`]. When an operation fails
//! for any reason other than an error reply from the server, the manager is
//! dropped and the next operation builds a fresh one, so a server that comes
//! back is picked up without waiting for redis-rs's own back-off.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::key::normalise_key;
use crate::outage::Outage;
use crate::store::Store;

/// How a plugin's namespace is derived from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NamespaceRule {
    /// `redis`: `<namespace><separator><pluginId>` when `redis.client.namespace`
    /// is set, else the plugin id.
    Redis {
        namespace: Option<String>,
        separator: String,
    },
    /// `valkey`: `<keyPrefix><pluginId>`.
    Valkey { key_prefix: String },
}

impl NamespaceRule {
    fn namespace(&self, plugin_id: &str) -> String {
        match self {
            Self::Redis {
                namespace: Some(ns),
                separator,
            } => format!("{ns}{separator}{plugin_id}"),
            Self::Redis {
                namespace: None, ..
            } => plugin_id.to_owned(),
            Self::Valkey { key_prefix } => format!("{key_prefix}{plugin_id}"),
        }
    }

    fn separator(&self) -> &str {
        match self {
            Self::Redis { separator, .. } => separator,
            // valkey.client has no separator setting; upstream joins with ':'.
            Self::Valkey { .. } => ":",
        }
    }
}

/// A Redis or Valkey server reached over RESP.
#[derive(Debug)]
pub(crate) struct RespStore {
    client: redis::Client,
    rule: NamespaceRule,
    timeout: Duration,
    manager: Mutex<Option<ConnectionManager>>,
    outage: Outage,
}

impl RespStore {
    pub(crate) fn new(
        client: redis::Client,
        rule: NamespaceRule,
        timeout: Duration,
        label: String,
    ) -> Self {
        Self {
            client,
            rule,
            timeout,
            manager: Mutex::new(None),
            outage: Outage::new(label),
        }
    }

    /// The current manager, and whether it was already there (and so may hold a
    /// connection that died since its last use).
    fn manager(&self) -> Result<(ConnectionManager, bool), redis::RedisError> {
        let mut slot = self.manager.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(manager) = slot.as_ref() {
            return Ok((manager.clone(), true));
        }
        // One attempt per connection: retries belong to the next call, which
        // keeps every call within its time budget.
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(0)
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout));
        let manager = ConnectionManager::new_lazy_with_config(self.client.clone(), config)?;
        *slot = Some(manager.clone());
        Ok((manager, false))
    }

    fn forget_manager(&self) {
        let mut slot = self.manager.lock().unwrap_or_else(|p| p.into_inner());
        *slot = None;
    }

    /// Runs `cmd` within the time budget. A connection that turns out to have
    /// been dropped (a server restart, an idle timeout) is replaced and the
    /// command sent once more; GET, SET and DEL are idempotent.
    async fn run<T: redis::FromRedisValue>(&self, cmd: redis::Cmd) -> Option<T> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut retried = false;
        loop {
            let (mut manager, existing) = match self.manager() {
                Ok(found) => found,
                Err(e) => {
                    self.outage.failed(&e);
                    return None;
                }
            };
            let result =
                tokio::time::timeout_at(deadline, cmd.query_async::<T>(&mut manager)).await;
            match result {
                Ok(Ok(value)) => {
                    self.outage.succeeded();
                    return Some(value);
                }
                Ok(Err(e)) if matches!(e.kind(), redis::ErrorKind::Server(_)) => {
                    self.outage.failed(&e);
                    return None;
                }
                Ok(Err(e)) => {
                    self.forget_manager();
                    let stale = e.is_connection_dropped() || e.is_io_error();
                    if existing && stale && !retried {
                        retried = true;
                        continue;
                    }
                    self.outage.failed(&e);
                    return None;
                }
                Err(_) => {
                    self.forget_manager();
                    self.outage
                        .failed(&format_args!("no answer within {:?}", self.timeout));
                    return None;
                }
            }
        }
    }

    fn stored_key(&self, namespace: &str, key: &str) -> String {
        format!("{namespace}{}{}", self.rule.separator(), normalise_key(key))
    }
}

#[async_trait]
impl Store for RespStore {
    fn namespace(&self, plugin_id: &str) -> String {
        self.rule.namespace(plugin_id)
    }

    async fn get(&self, namespace: &str, key: &str) -> Option<String> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(self.stored_key(namespace, key));
        self.run::<Option<String>>(cmd).await.flatten()
    }

    async fn set(&self, namespace: &str, key: &str, text: String, ttl: Option<Duration>) {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.stored_key(namespace, key)).arg(text);
        if let Some(ttl) = ttl {
            // PX takes whole milliseconds and rejects 0; round up so that a
            // sub-millisecond TTL still stores for a moment rather than failing.
            let ms = u64::try_from(ttl.as_micros().div_ceil(1000))
                .unwrap_or(u64::MAX)
                .clamp(1, i64::MAX as u64 / 2);
            cmd.arg("PX").arg(ms);
        }
        let _: Option<()> = self.run(cmd).await;
    }

    async fn delete(&self, namespace: &str, key: &str) {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(self.stored_key(namespace, key));
        let _: Option<i64> = self.run(cmd).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_follow_the_configured_rule() {
        let rows = [
            (
                NamespaceRule::Redis {
                    namespace: None,
                    separator: ":".into(),
                },
                "catalog",
            ),
            (
                NamespaceRule::Redis {
                    namespace: Some("gr".into()),
                    separator: "|".into(),
                },
                "gr|catalog",
            ),
            (
                NamespaceRule::Valkey {
                    key_prefix: "app-".into(),
                },
                "app-catalog",
            ),
        ];
        for (rule, expected) in rows {
            assert_eq!(rule.namespace("catalog"), expected, "{rule:?}");
        }
    }
}
