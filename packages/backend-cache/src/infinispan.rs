//! The `infinispan` store, over Infinispan's REST API v2:
//! `GET`, `PUT` and `DELETE` on `/rest/v2/caches/<cacheName>/<key>`.
//!
//! Values are sent as `text/plain` JSON text; a TTL goes in the
//! `timeToLiveSeconds` header (whole seconds, rounded up; `-1` for no expiry),
//! and basic authentication is added when a user name is configured.

use std::time::Duration;

use async_trait::async_trait;
use reqwest::StatusCode;

use crate::key::normalise_key;
use crate::outage::Outage;
use crate::store::Store;

/// Where and how to reach the Infinispan REST endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InfinispanSettings {
    /// `http://host:port`, without a trailing slash.
    pub(crate) base_url: String,
    pub(crate) cache_name: String,
    pub(crate) credentials: Option<(String, String)>,
}

#[derive(Debug)]
pub(crate) struct InfinispanStore {
    http: reqwest::Client,
    settings: InfinispanSettings,
    outage: Outage,
}

/// Escapes everything but RFC 3986's unreserved characters, so that base64's
/// `/`, `+` and `=` stay inside one path segment.
fn encode_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[derive(Debug, thiserror::Error)]
enum RestError {
    #[error("{0}")]
    Http(#[from] reqwest::Error),
    #[error("answered {0}")]
    Status(StatusCode),
}

impl InfinispanStore {
    pub(crate) fn new(settings: InfinispanSettings, timeout: Duration) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| e.to_string())?;
        let outage = Outage::new(format!("infinispan {}", settings.base_url));
        Ok(Self {
            http,
            settings,
            outage,
        })
    }

    fn url(&self, namespace: &str, key: &str) -> String {
        let stored = format!("{namespace}:{}", normalise_key(key));
        format!(
            "{}/rest/v2/caches/{}/{}",
            self.settings.base_url,
            encode_segment(&self.settings.cache_name),
            encode_segment(&stored)
        )
    }

    fn request(&self, method: reqwest::Method, url: String) -> reqwest::RequestBuilder {
        let builder = self.http.request(method, url);
        match &self.settings.credentials {
            Some((user, password)) => builder.basic_auth(user, Some(password)),
            None => builder,
        }
    }

    fn record<T>(&self, result: Result<T, RestError>) -> Option<T> {
        match result {
            Ok(value) => {
                self.outage.succeeded();
                Some(value)
            }
            Err(e) => {
                self.outage.failed(&e);
                None
            }
        }
    }
}

#[async_trait]
impl Store for InfinispanStore {
    fn namespace(&self, plugin_id: &str) -> String {
        plugin_id.to_owned()
    }

    async fn get(&self, namespace: &str, key: &str) -> Option<String> {
        let url = self.url(namespace, key);
        let result = async {
            let response = self.request(reqwest::Method::GET, url).send().await?;
            match response.status() {
                StatusCode::OK => Ok(Some(response.text().await?)),
                StatusCode::NOT_FOUND => Ok(None),
                other => Err(RestError::Status(other)),
            }
        }
        .await;
        self.record(result).flatten()
    }

    async fn set(&self, namespace: &str, key: &str, text: String, ttl: Option<Duration>) {
        let url = self.url(namespace, key);
        let ttl_seconds = match ttl {
            Some(ttl) => u64::try_from(ttl.as_millis().div_ceil(1000).max(1))
                .unwrap_or(u64::MAX)
                .min(i64::MAX as u64)
                .to_string(),
            None => "-1".to_owned(),
        };
        let result = async {
            let response = self
                .request(reqwest::Method::PUT, url)
                .header("Content-Type", "text/plain; charset=UTF-8")
                .header("timeToLiveSeconds", ttl_seconds)
                .body(text)
                .send()
                .await?;
            if response.status().is_success() {
                Ok(())
            } else {
                Err(RestError::Status(response.status()))
            }
        }
        .await;
        self.record(result);
    }

    async fn delete(&self, namespace: &str, key: &str) {
        let url = self.url(namespace, key);
        let result = async {
            let response = self.request(reqwest::Method::DELETE, url).send().await?;
            match response.status() {
                s if s.is_success() || s == StatusCode::NOT_FOUND => Ok(()),
                other => Err(RestError::Status(other)),
            }
        }
        .await;
        self.record(result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_keep_base64_in_one_piece() {
        assert_eq!(encode_segment("p:a/b+c="), "p%3Aa%2Fb%2Bc%3D");
        assert_eq!(encode_segment("backstage"), "backstage");
    }
}
