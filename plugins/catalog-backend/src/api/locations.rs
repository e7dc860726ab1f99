//! The location routes: register (with dry run and `onConflict`), list, query,
//! get, update, delete and look up by entity, with read-only mode checks.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use greenroom_backend_plugin_api::http::ApiError;
use greenroom_backend_plugin_api::{BackendError, ErrorName};
use greenroom_catalog_model::location::Presence;
use greenroom_catalog_query::{decode_base64, encode_base64};
use serde_json::{Map, Value, json};

use super::body::{self, ObjectSchema, Schema};
use super::params::{Kind, Param, opt, parse_query};
use super::{ApiState, input_error, json_value};
use crate::processing::LocationRow;

type Handler = Result<Response, ApiError>;

const ADD_PARAMS: &[Param] = &[
    opt("dryRun", Kind::Str),
    opt("onConflict", Kind::Enum(&["refresh", "reject"])),
];

const ADD_BODY: Schema = Schema::Object(&ObjectSchema {
    properties: &[
        ("type", Schema::String),
        ("target", Schema::String),
        ("presence", Schema::Enum(&["required", "optional"])),
    ],
    required: &["type", "target"],
    additional: true,
});

const UPDATE_BODY: Schema = Schema::Object(&ObjectSchema {
    properties: &[("type", Schema::String), ("target", Schema::String)],
    required: &["type", "target"],
    additional: false,
});

const QUERY_BODY: Schema = Schema::Object(&ObjectSchema {
    properties: &[
        ("cursor", Schema::String),
        ("limit", Schema::Integer),
        (
            "query",
            Schema::Object(&ObjectSchema {
                properties: &[],
                required: &[],
                additional: true,
            }),
        ),
    ],
    required: &[],
    additional: true,
});

/// Default page size of `POST /locations/by-query`.
const DEFAULT_LOCATION_LIMIT: u64 = 1000;

fn readonly_check(state: &ApiState) -> Result<(), ApiError> {
    if state.engine.settings.readonly {
        return Err(ApiError(BackendError::not_allowed(
            "This operation not allowed in readonly mode",
        )));
    }
    Ok(())
}

/// Backstage's truthy strings for `dryRun`.
fn is_truthy(value: Option<&str>) -> bool {
    value.is_some_and(|v| {
        matches!(
            v.to_ascii_lowercase().as_str(),
            "true" | "yes" | "y" | "1" | "on"
        )
    })
}

fn row_value(row: &LocationRow) -> Value {
    serde_json::to_value(row).unwrap_or(Value::Null)
}

fn str_of<'a>(body: &'a Value, key: &str) -> &'a str {
    body.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// `POST /locations`.
pub(crate) async fn add(
    State(state): State<Arc<ApiState>>,
    uri: Uri,
    headers: HeaderMap,
    bytes: Bytes,
) -> Handler {
    let q = parse_query(uri.query(), ADD_PARAMS)?;
    let body = body::read_json(&headers, &bytes)?.unwrap_or_else(|| json!({}));
    body::check(&body, &ADD_BODY)?;
    // The handler's strict schema: unknown keys are refused with the issue list.
    let unknown: Vec<&String> = body
        .as_object()
        .map(|m| {
            m.keys()
                .filter(|k| !matches!(k.as_str(), "type" | "target" | "presence"))
                .collect()
        })
        .unwrap_or_default();
    if !unknown.is_empty() {
        let listed: Vec<String> = unknown.iter().map(|k| format!("'{k}'")).collect();
        let issues = json!([{
            "code": "unrecognized_keys",
            "keys": unknown,
            "path": [],
            "message": format!("Unrecognized key(s) in object: {}", listed.join(", ")),
        }]);
        return Err(input_error(format!(
            "Malformed request: {}",
            serde_json::to_string_pretty(&issues).unwrap_or_default()
        )));
    }
    let dry_run = is_truthy(q.one("dryRun"));
    if !dry_run {
        readonly_check(&state)?;
    }
    let location_type = str_of(&body, "type");
    let target = str_of(&body, "target");
    let allowed = &state.engine.settings.allowed_location_types;
    if !allowed.iter().any(|t| t == location_type) {
        let list: Vec<String> = allowed.iter().map(|t| format!("\"{t}\"")).collect();
        return Err(input_error(format!(
            "Registered locations must be of an allowed type [{}]",
            list.join(",")
        )));
    }
    if dry_run {
        let result = state.engine.dry_run_location(location_type, target).await?;
        let value = serde_json::to_value(&result)
            .map_err(|e| ApiError(BackendError::internal(format!("dry run: {e}"))))?;
        return Ok(json_value(StatusCode::CREATED, &value));
    }
    let presence = match body.get("presence").and_then(Value::as_str) {
        Some("optional") => Some(Presence::Optional),
        Some(_) => Some(Presence::Required),
        None => None,
    };
    let row = match state
        .engine
        .add_location(location_type, target, presence)
        .await
    {
        Ok(row) => row,
        Err(e) if e.name == ErrorName::ConflictError && q.one("onConflict") == Some("refresh") => {
            let existing = state
                .engine
                .list_locations()
                .await?
                .into_iter()
                .find(|l| l.location_type == location_type && l.target == target)
                .ok_or(e)?;
            // The Location entity may not be processed yet; then there is
            // nothing to hurry, and the registration still succeeds.
            match state.engine.refresh_entity(&existing.entity_ref).await {
                Ok(()) => {}
                Err(e) if e.name == ErrorName::NotFoundError => {}
                Err(e) => return Err(e.into()),
            }
            existing
        }
        Err(e) => return Err(e.into()),
    };
    Ok(json_value(
        StatusCode::CREATED,
        &json!({ "location": row_value(&row), "entities": [] }),
    ))
}

/// `GET /locations`.
pub(crate) async fn list(State(state): State<Arc<ApiState>>, uri: Uri) -> Handler {
    parse_query(uri.query(), &[])?;
    let rows = state.engine.list_locations().await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|r| json!({ "data": row_value(r) }))
        .collect();
    Ok(json_value(StatusCode::OK, &Value::Array(items)))
}

/// `GET /locations/{id}`.
pub(crate) async fn get_one(
    State(state): State<Arc<ApiState>>,
    uri: Uri,
    Path(id): Path<String>,
) -> Handler {
    parse_query(uri.query(), &[])?;
    let row = state.engine.get_location(&id).await?;
    Ok(json_value(StatusCode::OK, &row_value(&row)))
}

/// `PUT /locations/{id}`.
pub(crate) async fn update(
    State(state): State<Arc<ApiState>>,
    uri: Uri,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Handler {
    parse_query(uri.query(), &[])?;
    let body = body::read_json(&headers, &bytes)?.unwrap_or_else(|| json!({}));
    body::check(&body, &UPDATE_BODY)?;
    readonly_check(&state)?;
    let row = state
        .engine
        .update_location(&id, str_of(&body, "type"), str_of(&body, "target"))
        .await?;
    Ok(json_value(StatusCode::OK, &row_value(&row)))
}

/// `DELETE /locations/{id}`.
pub(crate) async fn delete(
    State(state): State<Arc<ApiState>>,
    uri: Uri,
    Path(id): Path<String>,
) -> Handler {
    parse_query(uri.query(), &[])?;
    readonly_check(&state)?;
    state.engine.remove_location(&id).await?;
    state.catch_up().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /locations/by-entity/{kind}/{namespace}/{name}`.
pub(crate) async fn by_entity(
    State(state): State<Arc<ApiState>>,
    uri: Uri,
    Path((kind, namespace, name)): Path<(String, String, String)>,
) -> Handler {
    parse_query(uri.query(), &[])?;
    let row = state
        .engine
        .location_by_entity(&format!("{kind}:{namespace}/{name}"))
        .await?;
    Ok(json_value(StatusCode::OK, &row_value(&row)))
}

/// The value of a location field for predicates.
fn field<'a>(row: &'a LocationRow, key: &str) -> Option<&'a str> {
    match key.to_ascii_lowercase().as_str() {
        "id" => Some(&row.id),
        "type" => Some(&row.location_type),
        "target" => Some(&row.target),
        "entityref" => Some(&row.entity_ref),
        _ => None,
    }
}

fn primitive(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Checks a location predicate's keys and operators before any row is matched.
fn validate_predicate(predicate: &Value, depth: usize) -> Result<(), BackendError> {
    if depth > 32 {
        return Err(BackendError::input("Invalid query: nested too deeply"));
    }
    let Value::Object(map) = predicate else {
        return Err(BackendError::input("Invalid query: expected an object"));
    };
    for (key, value) in map {
        match key.as_str() {
            "$all" | "$any" => {
                let Value::Array(items) = value else {
                    return Err(BackendError::input(format!(
                        "Invalid query: {key} expects an array"
                    )));
                };
                for item in items {
                    validate_predicate(item, depth + 1)?;
                }
            }
            "$not" => validate_predicate(value, depth + 1)?,
            _ if !matches!(
                key.to_ascii_lowercase().as_str(),
                "id" | "type" | "target" | "entityref"
            ) =>
            {
                return Err(BackendError::input(format!(
                    "Invalid filter predicate, expected key to be 'id', 'type', 'target', or 'entityRef', got '{key}'"
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

fn matches(row: &LocationRow, predicate: &Value) -> bool {
    let Value::Object(map) = predicate else {
        return false;
    };
    map.iter().all(|(key, value)| match key.as_str() {
        // Unlike entity predicates, empty `$all`/`$any` match nothing here.
        "$all" => value
            .as_array()
            .is_some_and(|items| !items.is_empty() && items.iter().all(|p| matches(row, p))),
        "$any" => value
            .as_array()
            .is_some_and(|items| items.iter().any(|p| matches(row, p))),
        "$not" => !matches(row, value),
        _ => field_matches(row, key, value),
    })
}

fn field_matches(row: &LocationRow, key: &str, value: &Value) -> bool {
    let Some(actual) = field(row, key) else {
        return false;
    };
    let is_id = key.eq_ignore_ascii_case("id");
    let equal = |expected: &str| {
        if is_id {
            actual == expected
        } else {
            actual.to_lowercase() == expected.to_lowercase()
        }
    };
    if let Some(expected) = primitive(value) {
        return equal(&expected);
    }
    let Value::Object(op) = value else {
        return false;
    };
    op.iter().all(|(name, arg)| match name.as_str() {
        "$in" => arg
            .as_array()
            .is_some_and(|items| items.iter().filter_map(primitive).any(|v| equal(&v))),
        "$hasPrefix" => arg
            .as_str()
            .is_some_and(|p| actual.to_lowercase().starts_with(&p.to_lowercase())),
        "$exists" => arg.as_bool().unwrap_or(false),
        _ => false,
    })
}

/// `POST /locations/by-query`: keyset pages over `id`, `totalItems` recounted each time.
pub(crate) async fn query(
    State(state): State<Arc<ApiState>>,
    uri: Uri,
    headers: HeaderMap,
    bytes: Bytes,
) -> Handler {
    parse_query(uri.query(), &[])?;
    let body = body::read_json(&headers, &bytes)?.unwrap_or_else(|| json!({}));
    body::check(&body, &QUERY_BODY)?;
    let mut limit = body.get("limit").and_then(Value::as_i64);
    let mut after_id: Option<String> = None;
    let mut predicate = body.get("query").cloned();
    if let Some(cursor) = body.get("cursor").and_then(Value::as_str) {
        let decoded: Value = serde_json::from_slice(&decode_base64(cursor))
            .map_err(|_| input_error("Malformed cursor, unknown encoding"))?;
        let Some(id) = decoded.get("afterId").and_then(Value::as_str) else {
            return Err(input_error("Malformed cursor, unknown encoding"));
        };
        after_id = Some(id.to_owned());
        if let Some(l) = decoded.get("limit").and_then(Value::as_i64) {
            limit = Some(l);
        }
        predicate = decoded.get("query").cloned().or(predicate);
    }
    let limit = match limit {
        None => DEFAULT_LOCATION_LIMIT,
        Some(l) if l >= 1 => u64::try_from(l).unwrap_or(DEFAULT_LOCATION_LIMIT),
        Some(_) => return Err(input_error("Limit must be a positive integer >= 1")),
    };
    if let Some(p) = &predicate {
        validate_predicate(p, 0)?;
    }
    let mut rows = state.engine.list_locations().await?;
    rows.sort_by(|a, b| a.id.cmp(&b.id));
    let matching: Vec<&LocationRow> = rows
        .iter()
        .filter(|r| predicate.as_ref().is_none_or(|p| matches(r, p)))
        .collect();
    let total = matching.len();
    let page: Vec<&LocationRow> = matching
        .into_iter()
        .filter(|r| {
            after_id
                .as_ref()
                .is_none_or(|after| r.id.as_str() > after.as_str())
        })
        .take(
            usize::try_from(limit)
                .unwrap_or(usize::MAX)
                .saturating_add(1),
        )
        .collect();
    let has_more = page.len() as u64 > limit;
    let page = &page[..page.len().min(usize::try_from(limit).unwrap_or(usize::MAX))];
    let mut page_info = Map::new();
    if has_more && let Some(last) = page.last() {
        let mut cursor = json!({ "limit": limit, "afterId": last.id });
        if let Some(p) = &predicate {
            cursor["query"] = p.clone();
        }
        page_info.insert(
            "nextCursor".into(),
            Value::String(encode_base64(cursor.to_string().as_bytes())),
        );
    }
    let items: Vec<Value> = page.iter().map(|r| row_value(r)).collect();
    Ok(json_value(
        StatusCode::OK,
        &json!({ "items": items, "totalItems": total, "pageInfo": page_info }),
    ))
}
