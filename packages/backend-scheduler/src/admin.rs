//! The scheduler's admin routes, mounted under a plugin's router:
//! `GET /.backstage/scheduler/v1/tasks`, `POST …/tasks/{id}/trigger` and
//! `POST …/tasks/{id}/cancel`.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use greenroom_backend_plugin_api::services::SchedulerService;
use greenroom_backend_plugin_api::{BackendError, ErrorName};
use serde_json::json;

use crate::PluginScheduler;

/// The admin routes for one plugin's scheduler, relative to the plugin's mount
/// point (`/api/<pluginId>`).
pub fn admin_router(scheduler: Arc<PluginScheduler>) -> Router {
    Router::new()
        .route("/.backstage/scheduler/v1/tasks", get(list))
        .route("/.backstage/scheduler/v1/tasks/{id}/trigger", post(trigger))
        .route("/.backstage/scheduler/v1/tasks/{id}/cancel", post(cancel))
        .with_state(scheduler)
}

async fn list(
    State(scheduler): State<Arc<PluginScheduler>>,
    method: Method,
    OriginalUri(uri): OriginalUri,
) -> Response {
    match scheduler.describe_tasks().await {
        Ok(body) => Json(body).into_response(),
        Err(e) => error_response(&e, &method, &uri.to_string()),
    }
}

async fn trigger(
    State(scheduler): State<Arc<PluginScheduler>>,
    Path(id): Path<String>,
    method: Method,
    OriginalUri(uri): OriginalUri,
) -> Response {
    match scheduler.trigger_task(&id).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => error_response(&e, &method, &uri.to_string()),
    }
}

async fn cancel(
    State(scheduler): State<Arc<PluginScheduler>>,
    Path(id): Path<String>,
    method: Method,
    OriginalUri(uri): OriginalUri,
) -> Response {
    match scheduler.cancel_task(&id).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => error_response(&e, &method, &uri.to_string()),
    }
}

/// Backstage's error body. Internal errors keep their detail for the log.
fn error_response(error: &BackendError, method: &Method, url: &str) -> Response {
    let status =
        StatusCode::from_u16(error.name.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let message = if error.name == ErrorName::Error {
        tracing::error!("scheduler admin request failed: {}", error.message);
        "An internal error occurred".to_owned()
    } else {
        error.message.clone()
    };
    let body = json!({
        "error": { "name": error.name.as_str(), "message": message },
        "request": { "method": method.as_str(), "url": url },
        "response": { "statusCode": status.as_u16() },
    });
    (status, Json(body)).into_response()
}
