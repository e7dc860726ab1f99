//! Backstage's error body for every error answered by the backend.
//!
//! Handlers return [`ApiError`] (any [`BackendError`] converts into it). Its
//! response carries the error's name, message and status in a response
//! extension; the [`complete_error_body`] middleware, which knows the request,
//! then writes the full body
//! `{ error: { name, message }, request: { method, url }, response: { statusCode } }`.
//! Internal errors never reach the caller: they are answered as
//! `An internal error occurred logId=<20 hex chars>` and logged with that id.

use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use greenroom_backend_plugin_api::{BackendError, ErrorName};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// An error a handler returns; answered with Backstage's error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError(pub BackendError);

impl From<BackendError> for ApiError {
    fn from(e: BackendError) -> Self {
        Self(e)
    }
}

/// What [`complete_error_body`] needs to write the body; set by [`error_response`].
#[derive(Debug, Clone)]
pub(crate) struct ErrorInfo {
    name: String,
    message: String,
    status: StatusCode,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let BackendError { name, message } = self.0;
        let status =
            StatusCode::from_u16(name.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if name == ErrorName::Error {
            let log_id = new_log_id();
            tracing::error!(log_id = %log_id, error = %message, "request failed with an internal error");
            return error_response(
                name.as_str(),
                &format!("An internal error occurred logId={log_id}"),
                status,
            );
        }
        error_response(name.as_str(), &message, status)
    }
}

/// An error response with any name and status, e.g. `PayloadTooLargeError` / 413.
///
/// The body is provisional (its `request` fields are empty) until the
/// [`complete_error_body`] middleware fills them in.
pub fn error_response(name: &str, message: &str, status: StatusCode) -> Response {
    let info = ErrorInfo {
        name: name.to_owned(),
        message: message.to_owned(),
        status,
    };
    let mut response = body_response(&info, "", "");
    response.extensions_mut().insert(info);
    response
}

fn body_response(info: &ErrorInfo, method: &str, url: &str) -> Response {
    // A 304 has no body by definition.
    if info.status == StatusCode::NOT_MODIFIED {
        return info.status.into_response();
    }
    (info.status, axum::Json(body_value(info, method, url))).into_response()
}

fn body_value(info: &ErrorInfo, method: &str, url: &str) -> Value {
    json!({
        "error": { "name": info.name, "message": info.message },
        "request": { "method": method, "url": url },
        "response": { "statusCode": info.status.as_u16() },
    })
}

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

/// A fresh random id of 20 hex characters for correlating an internal error
/// with its log line. Not a secret, so the standard library's randomly keyed
/// hasher is random enough.
pub(crate) fn new_log_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut first = RandomState::new().build_hasher();
    first.write_u64(count);
    let mut second = RandomState::new().build_hasher();
    second.write_u64(count.wrapping_add(0x9e37_79b9));
    format!("{:016x}{:04x}", first.finish(), second.finish() & 0xffff)
}

/// A JSON body or response. As an extractor, rejected bodies are answered with
/// an `InputError` body (or `PayloadTooLargeError` / 413 for oversized ones).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection_response(&rejection)),
        }
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

fn json_rejection_response(rejection: &JsonRejection) -> Response {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return error_response(
            "PayloadTooLargeError",
            "request entity too large",
            StatusCode::PAYLOAD_TOO_LARGE,
        );
    }
    error_response(
        ErrorName::InputError.as_str(),
        &rejection.body_text(),
        StatusCode::BAD_REQUEST,
    )
}
