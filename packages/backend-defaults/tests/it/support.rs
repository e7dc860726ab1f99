//! Helpers shared by the integration tests: configs, test plugins and a
//! client for a running backend.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use greenroom_backend_defaults::{BACKEND_STATE, Backend, RunningBackend};
use greenroom_backend_plugin_api::services::HTTP_ROUTER;
use greenroom_backend_plugin_api::{BackendError, BackendFeature, BackendPlugin};
use greenroom_config::{Config, deep_merge};
use serde_json::{Value, json};
use tokio::sync::{Notify, oneshot};

/// A config listening on a random loopback port, with `extra` merged over it.
pub(crate) fn config(extra: Value) -> Arc<Config> {
    let base = json!({
        "backend": {
            "baseUrl": "http://localhost:7007",
            "listen": { "host": "127.0.0.1", "port": 0 },
        }
    });
    Arc::new(Config::from_value(deep_merge(&base, &extra)).expect("test config is an object"))
}

/// Starts a backend with `features`; panics with the error if it fails.
pub(crate) async fn start(config: Arc<Config>, features: Vec<BackendFeature>) -> RunningBackend {
    try_start(config, features)
        .await
        .unwrap_or_else(|e| panic!("backend failed to start: {e}"))
}

pub(crate) async fn try_start(
    config: Arc<Config>,
    features: Vec<BackendFeature>,
) -> Result<RunningBackend, BackendError> {
    let mut backend = Backend::new(config);
    for feature in features {
        backend.add(feature);
    }
    backend.start().await
}

/// The error message of a failed start.
pub(crate) async fn start_error(config: Arc<Config>, features: Vec<BackendFeature>) -> String {
    match try_start(config, features).await {
        Ok(running) => {
            running.stop().await;
            panic!("backend started but should have failed");
        }
        Err(e) => e.to_string(),
    }
}

/// A plugin whose init mounts `router`.
pub(crate) fn routed_plugin(id: &'static str, router: fn() -> Router) -> BackendFeature {
    BackendPlugin::new(id, move |registrar| {
        registrar.register_init(move |ctx| async move {
            ctx.get(&HTTP_ROUTER).await?.use_router(router());
            Ok(())
        });
    })
    .into()
}

/// A plugin whose init mounts `router`, then reports the server's address and
/// waits until `release` is notified, so tests can act during startup.
pub(crate) fn slow_plugin(
    id: &'static str,
    router: fn() -> Router,
    address: oneshot::Sender<SocketAddr>,
    release: Arc<Notify>,
) -> BackendFeature {
    BackendPlugin::new(id, move |registrar| {
        registrar.register_init(move |ctx| async move {
            ctx.get(&HTTP_ROUTER).await?.use_router(router());
            let state = ctx.get(&BACKEND_STATE).await?;
            let addr = state
                .local_addr()
                .ok_or_else(|| BackendError::internal("server not bound"))?;
            let _ = address.send(addr);
            release.notified().await;
            Ok(())
        });
    })
    .into()
}

/// `http://<addr><path>`.
pub(crate) fn url_at(addr: SocketAddr, path: &str) -> String {
    format!("http://{addr}{path}")
}

/// `http://<backend address><path>`.
pub(crate) fn url(running: &RunningBackend, path: &str) -> String {
    url_at(running.local_addr().expect("backend listens"), path)
}

/// A status and a JSON body (`Null` when the body is empty or not JSON).
pub(crate) async fn get_json(url: &str) -> (u16, Value) {
    let response = reqwest::get(url).await.expect("request succeeds");
    read_json(response).await
}

pub(crate) async fn read_json(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("body can be read");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}
