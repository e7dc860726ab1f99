//! The processing routes that are neither entity reads nor locations:
//! refresh, validate-entity and analyze-location.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use greenroom_backend_plugin_api::http::ApiError;
use serde_json::{Value, json};

use super::ApiState;
use super::body::{self, ObjectSchema, Schema};
use super::params::parse_query;

type Handler = Result<Response, ApiError>;

const REFRESH_BODY: Schema = Schema::Object(&ObjectSchema {
    properties: &[
        ("entityRef", Schema::String),
        ("authorizationToken", Schema::String),
    ],
    required: &["entityRef"],
    additional: true,
});

/// `POST /refresh`: 200 with an empty body once the entity is scheduled.
pub(crate) async fn refresh(
    State(state): State<Arc<ApiState>>,
    uri: Uri,
    headers: HeaderMap,
    bytes: Bytes,
) -> Handler {
    parse_query(uri.query(), &[])?;
    let body = body::read_json(&headers, &bytes)?.unwrap_or_else(|| json!({}));
    body::check(&body, &REFRESH_BODY)?;
    let entity_ref = body
        .get("entityRef")
        .and_then(Value::as_str)
        .unwrap_or_default();
    state.engine.refresh_entity(entity_ref).await?;
    Ok(StatusCode::OK.into_response())
}
