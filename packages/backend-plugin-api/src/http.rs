//! HTTP helpers for plugin routers: Backstage's error body and a JSON extractor.
//!
//! Handlers return [`ApiError`] (any [`BackendError`] converts into it). Its
//! response carries the error's name, message and status in an [`ErrorInfo`]
//! response extension; the runtime's error middleware, which knows the request,
//! then writes the full body
//! `{ error: { name, message }, request: { method, url }, response: { statusCode } }`.
//! Internal errors never reach the caller: they are answered as
//! `An internal error occurred logId=<20 hex chars>` and logged with that id.

use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{BackendError, ErrorName};
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
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

/// What the runtime's error middleware needs to write the body; set by [`error_response`].
#[derive(Debug, Clone)]
pub struct ErrorInfo {
    pub name: String,
    pub message: String,
    pub status: StatusCode,
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
/// The body is provisional (its `request` fields are empty) until the runtime's
/// error middleware fills them in.
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

/// The full error body for a request.
pub fn body_value(info: &ErrorInfo, method: &str, url: &str) -> Value {
    json!({
        "error": { "name": info.name, "message": info.message },
        "request": { "method": method, "url": url },
        "response": { "statusCode": info.status.as_u16() },
    })
}

/// A fresh random id of 20 hex characters for correlating an internal error
/// with its log line. Not a secret, so the standard library's randomly keyed
/// hasher is random enough.
pub fn new_log_id() -> String {
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
