//! A whole backend started for one test on a random loopback port.
//!
//! The test names its plugins and its configuration; the helper adds
//! `backend.listen` (127.0.0.1, port 0) and `backend.baseUrl`, starts the
//! runtime with the default services, and hands back the address to call.

use greenroom_backend_defaults::{Backend, RunningBackend};
use greenroom_backend_plugin_api::{BackendError, BackendFeature};
use greenroom_config::Config;
use serde_json::{Value, json};

/// A running backend and its base URL (`http://127.0.0.1:<port>`).
#[derive(Debug)]
pub struct TestBackend {
    running: RunningBackend,
    base_url: String,
}

impl TestBackend {
    /// Starts a backend with `features` over `config` (merged under the listen settings).
    pub async fn start(
        config: Value,
        features: Vec<BackendFeature>,
    ) -> Result<TestBackend, BackendError> {
        let listen = json!({
            "backend": {
                "baseUrl": "http://127.0.0.1",
                "listen": { "host": "127.0.0.1", "port": 0 },
            }
        });
        let merged = greenroom_config::deep_merge(&listen, &config);
        let config = Config::from_value(merged).map_err(BackendError::from)?;
        let mut backend = Backend::new(std::sync::Arc::new(config));
        for feature in features {
            backend.add(feature);
        }
        let running = backend.start().await?;
        let addr = running
            .local_addr()
            .ok_or_else(|| BackendError::internal("the test backend has no listening address"))?;
        Ok(TestBackend {
            running,
            base_url: format!("http://{addr}"),
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The full URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Shuts the backend down gracefully and waits for it.
    pub async fn stop(self) {
        self.running.stop().await;
    }
}
