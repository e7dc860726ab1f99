//! The HTTP server: its options from `backend.*`, the middleware chain of
//! §3.2 around the root router, binding `backend.listen` and serving with
//! graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use greenroom_backend_plugin_api::BackendError;
use greenroom_backend_plugin_api::duration::parse_duration;
use greenroom_backend_plugin_api::services::{HealthResponse, RootHealthService};
use greenroom_config::Config;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::cors::CorsLayer;

use crate::http::cors::cors_layer;
use crate::http::errors::complete_error_body;
use crate::http::listen::ListenAddress;
use crate::http::middleware::{DEFAULT_BODY_LIMIT, enforce_body_limit, log_request};
use crate::http::router::DefaultRootHttpRouter;
use crate::http::security::{SecurityHeaders, add_security_headers};
use crate::state::BackendState;

/// The liveness path, served outside `/api` without credentials.
pub const LIVENESS_PATH: &str = "/.backstage/health/v1/liveness";
/// The readiness path, served outside `/api` without credentials.
pub const READINESS_PATH: &str = "/.backstage/health/v1/readiness";
/// How long plugin requests wait for startup by default.
pub const DEFAULT_STARTUP_REQUEST_PAUSE: Duration = Duration::from_secs(5);

/// Everything the server reads from configuration, checked up front.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub listen: ListenAddress,
    pub body_limit: usize,
    cors: Option<CorsLayer>,
    security: SecurityHeaders,
    health_headers: Vec<(HeaderName, HeaderValue)>,
}

impl ServerOptions {
    /// Reads `backend.listen`, `backend.cors`, `backend.csp`,
    /// `backend.health.headers` and `backend.server.bodyLimit`.
    pub fn from_config(config: &Config) -> Result<Self, BackendError> {
        Ok(Self {
            listen: ListenAddress::from_config(config)?,
            body_limit: body_limit(config)?,
            cors: cors_layer(config)?,
            security: SecurityHeaders::from_config(config)?,
            health_headers: health_headers(config)?,
        })
    }
}

/// `backend.lifecycle.startupRequestPauseTimeout`, default 5 s.
pub fn startup_request_pause(config: &Config) -> Result<Duration, BackendError> {
    let key = "backend.lifecycle.startupRequestPauseTimeout";
    match config.get_optional_value(key)? {
        None => Ok(DEFAULT_STARTUP_REQUEST_PAUSE),
        Some(value) => parse_duration(value).map_err(|e| {
            BackendError::config(format!("Invalid duration in config for key '{key}': {e}"))
        }),
    }
}

/// `backend.lifecycle.serverShutdownDelay`: how long to keep serving after a
/// termination signal before closing the listener; none by default.
pub fn server_shutdown_delay(config: &Config) -> Result<Option<Duration>, BackendError> {
    let key = "backend.lifecycle.serverShutdownDelay";
    match config.get_optional_value(key)? {
        None => Ok(None),
        Some(value) => parse_duration(value).map(Some).map_err(|e| {
            BackendError::config(format!("Invalid duration in config for key '{key}': {e}"))
        }),
    }
}

/// `backend.server.bodyLimit` (a Greenroom addition): the largest request body
/// in bytes, default 10 MiB.
fn body_limit(config: &Config) -> Result<usize, BackendError> {
    let key = "backend.server.bodyLimit";
    match config.get_optional_number(key)? {
        None => Ok(DEFAULT_BODY_LIMIT),
        Some(n) if n.fract() == 0.0 && n >= 0.0 && n <= usize::MAX as f64 => Ok(n as usize),
        Some(n) => Err(BackendError::config(format!(
            "Invalid value in config for key '{key}': {n}, expected a whole number of bytes"
        ))),
    }
}

fn health_headers(config: &Config) -> Result<Vec<(HeaderName, HeaderValue)>, BackendError> {
    let Some(headers) = config.get_optional_config("backend.health.headers")? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for key in headers.keys() {
        let value = headers.get_string(&key)?;
        let invalid = || {
            BackendError::config(format!(
                "Invalid header in config for key 'backend.health.headers.{key}'"
            ))
        };
        out.push((
            HeaderName::from_bytes(key.as_bytes()).map_err(|_| invalid())?,
            HeaderValue::from_str(&value).map_err(|_| invalid())?,
        ));
    }
    Ok(out)
}

/// The whole application: middleware in Backstage's order (security headers,
/// CORS, request logging, then error bodies, body limit, health, named routes).
pub fn build_app(
    root: Arc<DefaultRootHttpRouter>,
    health: Arc<dyn RootHealthService>,
    options: &ServerOptions,
) -> Router {
    let headers = Arc::new(options.health_headers.clone());
    let health_route = |check: fn(&dyn RootHealthService) -> HealthResponse| {
        let health = Arc::clone(&health);
        let headers = Arc::clone(&headers);
        get(move || async move { health_response(check(health.as_ref()), &headers) })
    };
    let app = Router::new()
        .route(LIVENESS_PATH, health_route(|h| h.liveness()))
        .route(READINESS_PATH, health_route(|h| h.readiness()))
        .fallback(move |request: Request| {
            let root = Arc::clone(&root);
            async move { root.handle(request).await }
        })
        .layer(DefaultBodyLimit::max(options.body_limit))
        .layer(from_fn_with_state(options.body_limit, enforce_body_limit))
        .layer(from_fn(complete_error_body))
        .layer(from_fn(log_request));
    let app = match &options.cors {
        Some(cors) => app.layer(cors.clone()),
        None => app,
    };
    app.layer(from_fn_with_state(
        options.security.clone(),
        add_security_headers,
    ))
}

fn health_response(answer: HealthResponse, headers: &[(HeaderName, HeaderValue)]) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, axum::Json(answer.payload)).into_response();
    for (name, value) in headers {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}

/// Binds `listen`; an empty host means every IPv4 interface.
pub async fn bind(listen: &ListenAddress) -> Result<TcpListener, BackendError> {
    let host = if listen.host.is_empty() {
        "0.0.0.0"
    } else {
        listen.host.as_str()
    };
    TcpListener::bind((host, listen.port)).await.map_err(|e| {
        BackendError::config(format!(
            "Unable to listen on {host}:{} (config key 'backend.listen'): {e}",
            listen.port
        ))
    })
}

/// Serves `app` on `listener` until the backend stops it; records the server
/// in `state` and returns the bound address.
pub fn spawn_server(
    listener: TcpListener,
    app: Router,
    state: &BackendState,
) -> Result<SocketAddr, BackendError> {
    let addr = listener
        .local_addr()
        .map_err(|e| BackendError::internal(format!("cannot read the bound address: {e}")))?;
    let stop = CancellationToken::new();
    let signal = stop.clone().cancelled_owned();
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(signal)
            .await
        {
            tracing::error!(error = %e, "the HTTP server failed");
        }
    });
    state.set_server(addr, stop, task);
    Ok(addr)
}
