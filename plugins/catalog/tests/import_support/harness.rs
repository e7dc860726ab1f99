//! Shared by the import and browser tests: a backend with the catalog, the
//! web UI and the catalog's pages over a folder of YAML files, and a loopback
//! "source host" that serves another folder over HTTP for URL locations.

#![allow(dead_code)]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::Router;
use greenroom_backend_plugin_api::BackendFeature;
use greenroom_backend_test_utils::backend::TestBackend;
use serde_json::{Value, json};

/// A loopback HTTP server that serves a folder's files at their relative
/// paths, standing in for GitHub and the like (which tests cannot reach).
#[derive(Debug)]
pub(crate) struct SourceHost {
    /// `http://127.0.0.1:<port>`.
    pub(crate) base: String,
    /// `127.0.0.1:<port>`, the form `backend.reading.allow` matches.
    pub(crate) host: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SourceHost {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SourceHost {
    /// The URL of `path` (relative, without a leading `/`).
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }
}

/// Serves `dir` on a fresh loopback port until the returned value is dropped.
pub(crate) async fn serve_dir(dir: PathBuf) -> anyhow::Result<SourceHost> {
    async fn file(
        axum::extract::State(dir): axum::extract::State<PathBuf>,
        axum::extract::Path(path): axum::extract::Path<String>,
    ) -> Result<String, axum::http::StatusCode> {
        if path.split('/').any(|segment| segment == "..") {
            return Err(axum::http::StatusCode::BAD_REQUEST);
        }
        std::fs::read_to_string(dir.join(path)).map_err(|_| axum::http::StatusCode::NOT_FOUND)
    }
    let app = Router::new()
        .route("/{*path}", axum::routing::get(file))
        .with_state(dir);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(SourceHost {
        base: format!("http://{addr}"),
        host: addr.to_string(),
        task,
    })
}

/// Every kind the example catalog and the tests use.
pub(crate) const KINDS: [&str; 9] = [
    "Component",
    "System",
    "API",
    "Resource",
    "Location",
    "Domain",
    "Group",
    "User",
    "Template",
];

/// Starts a backend with the catalog, the web UI and the catalog's pages:
/// `database` is a `backend.database` config, `root` the catalog's one file
/// location, and `allow` the host (with port) URL locations may be read from.
pub(crate) async fn start_portal(
    database: Value,
    root: &Path,
    allow: &str,
    extra: Vec<BackendFeature>,
) -> anyhow::Result<TestBackend> {
    let config = json!({
        "backend": {
            "database": database,
            "reading": { "allow": [{ "host": allow }] },
        },
        "catalog": {
            "rules": [{ "allow": KINDS }],
            "locations": [{ "type": "file", "target": root.display().to_string() }],
        },
    });
    let mut features: Vec<BackendFeature> = vec![
        greenroom_plugin_catalog_backend::plugin().into(),
        greenroom_plugin_catalog_backend::catalog_service_factory().into(),
        greenroom_web::plugin().into(),
        greenroom_plugin_catalog::module().into(),
    ];
    features.extend(extra);
    Ok(TestBackend::start(config, features).await?)
}

/// Polls `check` until it holds, failing after about a minute.
pub(crate) async fn eventually<F, Fut>(what: &str, mut check: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..600 {
        if check().await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("timed out waiting until {what}")
}

/// The entity `kind/namespace/name` through the catalog API, if it exists.
pub(crate) async fn entity(
    http: &reqwest::Client,
    backend: &TestBackend,
    triplet: &str,
) -> anyhow::Result<Option<Value>> {
    let response = http
        .get(backend.url(&format!("/api/catalog/entities/by-name/{triplet}")))
        .send()
        .await?;
    if response.status() == 404 {
        return Ok(None);
    }
    Ok(Some(response.error_for_status()?.json().await?))
}

/// Waits until the catalog serves `count` entities in total (config
/// locations add a generated Location entity of their own).
pub(crate) async fn wait_for_count(
    http: &reqwest::Client,
    backend: &TestBackend,
    count: u64,
) -> anyhow::Result<()> {
    let url = backend.url("/api/catalog/entities/by-query?limit=0");
    let last = std::cell::Cell::new(None);
    let waited = eventually(&format!("the catalog holds {count} entities"), || {
        let seen = &last;
        let url = &url;
        async move {
            let total = match http.get(url).send().await {
                Ok(response) => response
                    .json::<Value>()
                    .await
                    .ok()
                    .and_then(|body| body["totalItems"].as_u64()),
                Err(_) => None,
            };
            seen.set(total);
            total == Some(count)
        }
    })
    .await;
    waited.map_err(|e| anyhow::anyhow!("{e} (last count {:?})", last.get()))
}

/// A page's status and body.
pub(crate) async fn get(backend: &TestBackend, path: &str) -> anyhow::Result<(u16, String)> {
    let response = reqwest::get(backend.url(path)).await?;
    let status = response.status().as_u16();
    Ok((status, response.text().await?))
}

/// A page that must answer 200.
pub(crate) async fn page(backend: &TestBackend, path: &str) -> anyhow::Result<String> {
    let (status, body) = get(backend, path).await?;
    if status != 200 {
        anyhow::bail!("{path} answered {status}: {body}");
    }
    Ok(body)
}
