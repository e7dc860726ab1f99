//! The runtime's half of Backstage's error body: a middleware that completes the
//! bodies of error responses with the request's method and URL.
//!
//! Handlers return [`ApiError`] (defined in the plugin API, so that plugins need
//! not depend on this crate); its response carries an [`ErrorInfo`] extension
//! that [`complete_error_body`] turns into the final body.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use greenroom_backend_plugin_api::http::body_value;
pub use greenroom_backend_plugin_api::http::{ApiError, ErrorInfo, Json, error_response};

/// Middleware: completes error bodies with the request's method and URL, and
/// logs 5xx answers at `error` (4xx are not logged, as in Backstage).
pub async fn complete_error_body(request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let url = request.uri().path_and_query().map_or_else(
        || request.uri().path().to_owned(),
        |pq| pq.as_str().to_owned(),
    );
    let response = next.run(request).await;
    let Some(info) = response.extensions().get::<ErrorInfo>().cloned() else {
        return response;
    };
    if info.status.is_server_error() {
        tracing::error!(
            method = %method,
            url = %url,
            status = info.status.as_u16(),
            error.name = %info.name,
            error.message = %info.message,
            "request failed"
        );
    }
    if info.status == StatusCode::NOT_MODIFIED {
        return response;
    }
    // Keep the status and any headers a handler set on purpose (such as
    // `WWW-Authenticate`); only the body and its framing change.
    let (mut parts, _) = response.into_parts();
    let bytes = serde_json::to_vec(&body_value(&info, &method, &url)).unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(bytes))
}
