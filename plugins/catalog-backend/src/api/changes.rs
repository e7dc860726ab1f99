//! `GET /changes/recent`: the entities whose final form changed most
//! recently, newest first, read from the tail of the change log. Greenroom's
//! own route (Backstage has none); the portal's home page lists them.

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use greenroom_backend_plugin_api::http::ApiError;
use serde_json::json;

use super::params::{Kind, opt, parse_query};
use super::{ApiState, json_value};
use crate::db::on_pool;

/// Entities listed when the request names no `limit`.
const DEFAULT_LIMIT: usize = 10;
/// The most entities one request lists.
const MAX_LIMIT: usize = 100;
/// Change-log rows read from the tail: several changes of one entity collapse
/// into its latest, so only a burst larger than this can shorten the list.
const TAIL_ROWS: i64 = 2000;

/// `{"items": [{"entityRef", "changedAtMs"}]}`: the refs of entities that
/// still exist, each once at its latest change, newest first.
pub(crate) async fn recent(
    State(state): State<Arc<ApiState>>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let query = parse_query(uri.query(), &[opt("limit", Kind::Int { min: Some(1) })])?;
    let limit = query
        .int("limit")
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(DEFAULT_LIMIT)
        .min(MAX_LIMIT);
    // The primary key walks the tail without reading the rest of the log.
    let rows: Vec<(String, String, i64)> = on_pool!(&state.engine.db, |pool| sqlx::query_as(
        "SELECT entity_ref, op, changed_at FROM change_log ORDER BY seq DESC LIMIT $1"
    )
    .bind(TAIL_ROWS)
    .fetch_all(pool)
    .await)
    .map_err(greenroom_backend_plugin_api::BackendError::from)?;
    let mut seen = HashSet::new();
    let items: Vec<_> = rows
        .into_iter()
        .filter(|(entity_ref, _, _)| seen.insert(entity_ref.clone()))
        .filter(|(_, op, _)| op != "delete")
        .take(limit)
        .map(|(entity_ref, _, changed_at)| json!({ "entityRef": entity_ref, "changedAtMs": changed_at }))
        .collect();
    Ok(json_value(StatusCode::OK, &json!({ "items": items })))
}
