//! Small middleware of the root chain: request logging and the request body limit.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::http::errors::error_response;

/// The default request body limit: 10 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 10 * 1024 * 1024;

/// Middleware: one `info` record per finished request, in the spirit of
/// Backstage's access log line, with the same facts as structured fields.
pub async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let url = request.uri().path_and_query().map_or_else(
        || request.uri().path().to_owned(),
        |pq| pq.as_str().to_owned(),
    );
    let version = format!("{:?}", request.version());
    let user_agent = header_text(&request, header::USER_AGENT);
    let referrer = header_text(&request, header::REFERER);
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let content_length = response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("0")
        .to_owned();
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    tracing::info!(
        r#type = "incomingRequest",
        method = %method,
        url = %url,
        status,
        http_version = %version,
        content_length = %content_length,
        user_agent = user_agent.as_deref(),
        referrer = referrer.as_deref(),
        duration_ms,
        "\"{method} {url} {version}\" {status} {content_length} \"{}\" \"{}\"",
        referrer.as_deref().unwrap_or("-"),
        user_agent.as_deref().unwrap_or("-"),
    );
    response
}

fn header_text(request: &Request, name: header::HeaderName) -> Option<String> {
    request
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Middleware: refuses bodies whose declared length exceeds the limit. Bodies
/// without a declared length are bounded by the extractors, which read the
/// same limit from axum's `DefaultBodyLimit`.
pub async fn enforce_body_limit(
    State(limit): State<usize>,
    request: Request,
    next: Next,
) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return error_response(
            "PayloadTooLargeError",
            "request entity too large",
            StatusCode::PAYLOAD_TOO_LARGE,
        );
    }
    next.run(request).await
}
