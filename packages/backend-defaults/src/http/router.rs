//! The root HTTP router (named routes at absolute paths, §3.2) and the plugin
//! routers mounted at `/api/<pluginId>` behind the lifecycle gate (§3.3–§3.4).
//!
//! Routes are added while the server already listens (plugins register them
//! during their init), so dispatch is dynamic: the root router looks the
//! mount up per request, strips its path and hands the request on. A plugin
//! router tries its routers in registration order, Express-style: a router
//! that matches nothing passes the request to the next one.

use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::uri::{PathAndQuery, Uri};
use axum::http::{StatusCode, uri};
use axum::response::{IntoResponse, Response};
use greenroom_backend_plugin_api::BackendError;
use greenroom_backend_plugin_api::services::{
    AuthPolicy, HttpRouterService, RootHttpRouterService,
};
use tower::ServiceExt;

use crate::http::errors::ApiError;
use crate::state::{BackendState, Phase};

/// Where requests outside `/api/` that match nothing are sent, when mounted.
pub const DEFAULT_INDEX_PATH: &str = "/api/app";

/// One named route: a path without trailing slash and its router.
#[derive(Debug, Clone)]
struct Mount {
    path: String,
    router: Router,
}

/// `core.rootHttpRouter`: routers mounted at absolute paths.
#[derive(Debug)]
pub struct DefaultRootHttpRouter {
    mounts: RwLock<Vec<Mount>>,
    index_path: Option<String>,
}

impl Default for DefaultRootHttpRouter {
    fn default() -> Self {
        Self::new(Some(DEFAULT_INDEX_PATH.to_owned()))
    }
}

impl DefaultRootHttpRouter {
    /// A router whose index path is `index_path` (`None` disables the fallback).
    pub fn new(index_path: Option<String>) -> Self {
        Self {
            mounts: RwLock::default(),
            index_path,
        }
    }

    fn find(&self, path: &str) -> Option<Mount> {
        let mounts = self.mounts.read().unwrap_or_else(PoisonError::into_inner);
        mounts
            .iter()
            .find(|m| {
                path.strip_prefix(m.path.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            })
            .cloned()
    }

    /// Answers one request: a named route, then 404 for `/api/...`, then the
    /// index route, then 404. The 404s have empty bodies, as Backstage's.
    pub async fn handle(&self, request: Request) -> Response {
        let path = request.uri().path().to_owned();
        if let Some(mount) = self.find(&path) {
            let rest = path.get(mount.path.len()..).unwrap_or_default();
            let request = match with_path(request, if rest.is_empty() { "/" } else { rest }) {
                Some(request) => request,
                None => return StatusCode::BAD_REQUEST.into_response(),
            };
            return call(mount.router, request).await;
        }
        if path == "/api" || path.starts_with("/api/") {
            return StatusCode::NOT_FOUND.into_response();
        }
        let index = self.index_path.as_deref().and_then(|index| {
            let mounts = self.mounts.read().unwrap_or_else(PoisonError::into_inner);
            mounts.iter().find(|m| m.path == index).cloned()
        });
        match index {
            // The index handler sees the full path, like a router mounted at `/`.
            Some(mount) => call(mount.router, request).await,
            None => StatusCode::NOT_FOUND.into_response(),
        }
    }
}

impl RootHttpRouterService for DefaultRootHttpRouter {
    fn use_router(&self, path: &str, router: Router) -> Result<(), BackendError> {
        let trimmed = path.trim_end_matches('/');
        if trimmed.is_empty() {
            return Err(BackendError::input("Root router path may not be empty"));
        }
        if !trimmed.starts_with('/') {
            return Err(BackendError::input(format!(
                "Root router path must start with '/', got {path}"
            )));
        }
        let mut mounts = self.mounts.write().unwrap_or_else(PoisonError::into_inner);
        let new_slash = format!("{trimmed}/");
        for existing in mounts.iter() {
            let old_slash = format!("{}/", existing.path);
            if new_slash.starts_with(&old_slash) || old_slash.starts_with(&new_slash) {
                return Err(BackendError::conflict(format!(
                    "Path {path} conflicts with the existing path {}",
                    existing.path
                )));
            }
        }
        mounts.push(Mount {
            path: trimmed.to_owned(),
            router,
        });
        Ok(())
    }
}

async fn call(router: Router, request: Request) -> Response {
    match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// The request with its path replaced by `path`, keeping the query; `None`
/// if the result is not a valid URI (it always is for a suffix of a valid path).
fn with_path(request: Request, path: &str) -> Option<Request> {
    let (mut parts, body) = request.into_parts();
    let path_and_query = match parts.uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    let mut uri_parts = uri::Parts::default();
    uri_parts.path_and_query = Some(PathAndQuery::try_from(path_and_query).ok()?);
    parts.uri = Uri::from_parts(uri_parts).ok()?;
    Some(Request::from_parts(parts, body))
}

/// Marks a response from a router that matched nothing, carrying the request
/// back so the next router can try it.
#[derive(Debug, Clone)]
struct Unmatched(Arc<Mutex<Option<Request>>>);

async fn unmatched(request: Request) -> Response {
    let mut response = StatusCode::NOT_FOUND.into_response();
    response
        .extensions_mut()
        .insert(Unmatched(Arc::new(Mutex::new(Some(request)))));
    response
}

/// `core.httpRouter`: one plugin's routes at `/api/<pluginId>`.
#[derive(Debug, Clone)]
pub struct PluginHttpRouter {
    inner: Arc<PluginRouterInner>,
}

#[derive(Debug)]
struct PluginRouterInner {
    plugin_id: String,
    state: Arc<BackendState>,
    pause_timeout: Duration,
    routers: RwLock<Vec<Router>>,
    policies: Mutex<Vec<AuthPolicy>>,
}

impl PluginHttpRouter {
    /// A router for `plugin_id` whose requests wait up to `pause_timeout` for startup.
    pub fn new(plugin_id: &str, state: Arc<BackendState>, pause_timeout: Duration) -> Self {
        Self {
            inner: Arc::new(PluginRouterInner {
                plugin_id: plugin_id.to_owned(),
                state,
                pause_timeout,
                routers: RwLock::default(),
                policies: Mutex::default(),
            }),
        }
    }

    /// The auth policies recorded so far (enforced once auth arrives).
    pub fn auth_policies(&self) -> Vec<AuthPolicy> {
        self.inner
            .policies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The axum router to mount at `/api/<pluginId>`.
    pub fn to_router(&self) -> Router {
        let inner = Arc::clone(&self.inner);
        Router::new().fallback(move |request: Request| {
            let inner = Arc::clone(&inner);
            async move { inner.handle(request).await }
        })
    }
}

impl PluginRouterInner {
    async fn handle(&self, request: Request) -> Response {
        match self.state.phase() {
            Phase::Started => {}
            Phase::ShuttingDown => return shutting_down(),
            Phase::Starting => match self.state.wait_while_starting(self.pause_timeout).await {
                Some(Phase::Started) => {}
                Some(_) => return shutting_down(),
                None => {
                    return ApiError(BackendError::unavailable("Service has not started up yet"))
                        .into_response();
                }
            },
        }
        if self.state.is_plugin_disabled(&self.plugin_id) {
            return StatusCode::NOT_FOUND.into_response();
        }
        let routers = self
            .routers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let mut request = request;
        for router in routers {
            let mut response = call(router, request).await;
            let Some(Unmatched(slot)) = response.extensions_mut().remove::<Unmatched>() else {
                return response;
            };
            let next = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
            match next {
                Some(next) => request = next,
                None => return StatusCode::NOT_FOUND.into_response(),
            }
        }
        StatusCode::NOT_FOUND.into_response()
    }
}

fn shutting_down() -> Response {
    ApiError(BackendError::unavailable("Service is shutting down")).into_response()
}

impl HttpRouterService for PluginHttpRouter {
    fn use_router(&self, router: Router) {
        // A router that matches nothing (no path, or the path but not the
        // method) passes the request on instead of answering.
        let router = router
            .fallback(unmatched)
            .method_not_allowed_fallback(unmatched);
        self.inner
            .routers
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(router);
    }

    fn add_auth_policy(&self, policy: AuthPolicy) {
        self.inner
            .policies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(policy);
    }
}
