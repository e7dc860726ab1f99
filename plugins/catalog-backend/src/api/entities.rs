//! The entity routes: list, by-query, by-refs, by-uid, by-name, ancestry,
//! facets (read from the index, or while it loads from [`super::warm`]) and
//! deletion by uid.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use greenroom_backend_plugin_api::BackendError;
use greenroom_backend_plugin_api::http::ApiError;
use greenroom_catalog_query::{
    EntityFilter, FacetCounts, Fields, FullTextFilter, HotTexts, IndexedEntity, ListRequest,
    OrderField, QueryError, QueryRequest, TextError, parse_fields, parse_filter_params,
    parse_order, parse_order_field, parse_predicate,
};
use serde_json::{Value, json};

use super::body::{self, ObjectSchema, STRINGS, Schema};
use super::params::{Kind, Param, next_page_query, opt, parse_query, req};
use super::{ApiState, input_error, json_bytes, json_value, warm};

type Handler = Result<Response, ApiError>;

fn query_error(e: QueryError) -> ApiError {
    input_error(e.message())
}

const LIST_PARAMS: &[Param] = &[
    opt("filter", Kind::Array),
    opt("fields", Kind::Array),
    opt("order", Kind::Array),
    opt("offset", Kind::Int { min: Some(0) }),
    opt("limit", Kind::Int { min: Some(0) }),
    opt("after", Kind::Str),
];

const QUERY_PARAMS: &[Param] = &[
    opt("filter", Kind::Array),
    opt("fields", Kind::Array),
    opt("limit", Kind::Int { min: Some(0) }),
    opt("offset", Kind::Int { min: Some(0) }),
    opt("orderField", Kind::Array),
    opt("cursor", Kind::Str),
    opt("fullTextFilterTerm", Kind::Str),
    opt("fullTextFilterFields", Kind::Array),
    opt("totalItems", Kind::Enum(&["include", "exclude"])),
];

const BY_REFS_PARAMS: &[Param] = &[opt("filter", Kind::Array)];

const FACETS_PARAMS: &[Param] = &[req("facet", Kind::Array), opt("filter", Kind::Array)];

/// Any JSON object.
const OBJECT: Schema = Schema::Object(&ObjectSchema {
    properties: &[],
    required: &[],
    additional: true,
});

const QUERY_BODY: Schema = Schema::Object(&ObjectSchema {
    properties: &[
        ("cursor", Schema::String),
        ("limit", Schema::Integer),
        ("offset", Schema::Integer),
        (
            "orderBy",
            Schema::Array(&Schema::Object(&ObjectSchema {
                properties: &[
                    ("field", Schema::String),
                    ("order", Schema::Enum(&["asc", "desc"])),
                ],
                required: &["field"],
                additional: true,
            })),
        ),
        (
            "fullTextFilter",
            Schema::Object(&ObjectSchema {
                properties: &[("term", Schema::String), ("fields", STRINGS)],
                required: &[],
                additional: true,
            }),
        ),
        ("fields", STRINGS),
        ("totalItems", Schema::Enum(&["include", "exclude"])),
        ("query", OBJECT),
    ],
    required: &[],
    additional: true,
});

const BY_REFS_BODY: Schema = Schema::Object(&ObjectSchema {
    properties: &[
        ("entityRefs", STRINGS),
        ("fields", STRINGS),
        ("query", OBJECT),
    ],
    required: &["entityRefs"],
    additional: true,
});

const FACETS_BODY: Schema = Schema::Object(&ObjectSchema {
    properties: &[("facets", STRINGS), ("query", OBJECT)],
    required: &["facets"],
    additional: true,
});

/// An entity text the index cannot read back: a bug, answered as an internal error rather
/// than with a wrong or partial body.
fn unreadable(entity: &IndexedEntity, e: &TextError) -> ApiError {
    ApiError(BackendError::internal(format!(
        "{}: {e}",
        entity.entity_ref()
    )))
}

/// Appends the whole text of one entity: through `hot`, the cache of decompressed texts,
/// when the entity comes from the shared index.
fn push_text(
    out: &mut Vec<u8>,
    entity: &Arc<IndexedEntity>,
    hot: Option<&HotTexts>,
) -> Result<(), ApiError> {
    match hot {
        Some(hot) => hot.write_json(entity, out),
        None => entity.write_json(out),
    }
    .map_err(|e| unreadable(entity, &e))
}

/// Appends one entity, whole (see [`push_text`]) or reduced to `fields`.
fn push_entity(
    out: &mut Vec<u8>,
    entity: &Arc<IndexedEntity>,
    fields: Option<&Fields>,
    hot: Option<&HotTexts>,
) -> Result<(), ApiError> {
    match fields {
        None => push_text(out, entity, hot)?,
        Some(fields) => {
            let projected = entity.project(fields);
            out.extend_from_slice(
                serde_json::to_string(&projected)
                    .unwrap_or_default()
                    .as_bytes(),
            );
        }
    }
    Ok(())
}

/// The bytes to allocate for a body of `items` plus `extra`: the exact length of whole
/// texts, so that the body is allocated once (a first guess that was then grown made
/// two large allocations per page of 50), or a guess per item for projected fields.
fn body_capacity(items: &[Arc<IndexedEntity>], fields: Option<&Fields>, extra: usize) -> usize {
    match fields {
        None => items.iter().map(|e| e.json_len() + 1).sum::<usize>() + extra,
        Some(_) => items.len() * 512 + extra,
    }
}

fn entities_array(
    out: &mut Vec<u8>,
    items: &[Arc<IndexedEntity>],
    fields: Option<&Fields>,
    hot: Option<&HotTexts>,
) -> Result<(), ApiError> {
    if fields.is_none() {
        // Whole texts: reserve their exact size (and the commas) so that the body grows once.
        out.reserve(items.iter().map(|e| e.json_len() + 1).sum::<usize>() + 2);
    }
    out.push(b'[');
    for (i, entity) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_entity(out, entity, fields, hot)?;
    }
    out.push(b']');
    Ok(())
}

fn u64_of(value: Option<i64>) -> Option<u64> {
    value.map(|v| u64::try_from(v).unwrap_or(0))
}

/// `GET /entities`.
pub(crate) async fn list(State(state): State<Arc<ApiState>>, uri: Uri) -> Handler {
    let q = parse_query(uri.query(), LIST_PARAMS)?;
    let request = ListRequest {
        filter: parse_filter_params(q.all("filter")).map_err(query_error)?,
        order: parse_order(q.all("order")).map_err(query_error)?,
        offset: u64_of(q.int("offset")),
        limit: u64_of(q.int("limit")),
        after: q.one("after").map(str::to_owned),
    };
    let fields = parse_fields(q.all("fields")).map_err(query_error)?;
    state.wait_ready().await?;
    let page = state.index()?.list(&request).map_err(query_error)?;
    let mut out = Vec::with_capacity(body_capacity(&page.items, fields.as_ref(), 2));
    entities_array(
        &mut out,
        &page.items,
        fields.as_ref(),
        Some(&state.hot_texts),
    )?;
    let mut response = json_bytes(StatusCode::OK, out);
    if let Some(after) = page.next_after {
        let link = format!(
            "<{}?{}>; rel=\"next\"",
            uri.path(),
            next_page_query(uri.query(), &after)
        );
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    Ok(response)
}

/// Splits the comma lists of `fullTextFilterFields`, dropping blanks.
fn comma_list(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Runs a by-query request and writes `{items, totalItems, pageInfo}`.
async fn query_page(state: &ApiState, request: &QueryRequest, fields: Option<&Fields>) -> Handler {
    let warm_page = if state.warming() {
        warm::query(state, request).await?
    } else {
        None
    };
    // Entities of a page read from the database are made for this request only: caching
    // their texts would only push out those of the shared index.
    let hot = warm_page.is_none().then_some(&state.hot_texts);
    let page = match warm_page {
        Some(page) => page,
        None => {
            state.wait_ready().await?;
            state.index()?.query(request).map_err(query_error)?
        }
    };
    // Room for the tail (`totalItems` and the cursors); a cursor of a long query grows
    // the body once more.
    let mut out = Vec::with_capacity(body_capacity(&page.items, fields, 256));
    out.extend_from_slice(b"{\"items\":");
    entities_array(&mut out, &page.items, fields, hot)?;
    let mut page_info = serde_json::Map::new();
    if let Some(next) = page.next_cursor {
        page_info.insert("nextCursor".into(), Value::String(next));
    }
    if let Some(prev) = page.prev_cursor {
        page_info.insert("prevCursor".into(), Value::String(prev));
    }
    let mut tail = String::new();
    let _ = write!(
        tail,
        ",\"totalItems\":{},\"pageInfo\":{}}}",
        page.total_items,
        Value::Object(page_info)
    );
    out.extend_from_slice(tail.as_bytes());
    Ok(json_bytes(StatusCode::OK, out))
}

/// `GET /entities/by-query`.
pub(crate) async fn query_get(State(state): State<Arc<ApiState>>, uri: Uri) -> Handler {
    let q = parse_query(uri.query(), QUERY_PARAMS)?;
    let fields = parse_fields(q.all("fields")).map_err(query_error)?;
    let mut request = QueryRequest {
        limit: u64_of(q.int("limit")),
        exclude_total_items: q.one("totalItems") == Some("exclude"),
        ..QueryRequest::default()
    };
    if let Some(cursor) = q.one("cursor") {
        // The cursor carries the query; filter, order and full text sent
        // alongside are ignored, as Backstage does.
        request.cursor = Some(cursor.to_owned());
    } else {
        request.filter = parse_filter_params(q.all("filter")).map_err(query_error)?;
        request.order_field = parse_order_field(q.all("orderField")).map_err(query_error)?;
        request.offset = u64_of(q.int("offset"));
        if let Some(term) = q.one("fullTextFilterTerm") {
            request.full_text = Some(FullTextFilter {
                term: term.to_owned(),
                fields: comma_list(q.all("fullTextFilterFields")),
            });
        }
    }
    query_page(&state, &request, fields.as_ref()).await
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// `POST /entities/by-query`.
pub(crate) async fn query_post(
    State(state): State<Arc<ApiState>>,
    uri: Uri,
    headers: HeaderMap,
    bytes: Bytes,
) -> Handler {
    parse_query(uri.query(), &[])?;
    let body = body::read_json(&headers, &bytes)?.unwrap_or_else(|| json!({}));
    body::check(&body, &QUERY_BODY)?;
    let fields = parse_fields(&strings(body.get("fields"))).map_err(query_error)?;
    let mut request = QueryRequest {
        limit: body.get("limit").and_then(as_count),
        exclude_total_items: body.get("totalItems").and_then(Value::as_str) == Some("exclude"),
        ..QueryRequest::default()
    };
    if let Some(cursor) = body.get("cursor").and_then(Value::as_str) {
        request.cursor = Some(cursor.to_owned());
    } else {
        if let Some(predicate) = body.get("query") {
            request.filter = Some(parse_predicate(predicate).map_err(query_error)?);
        }
        request.order_field = body
            .get("orderBy")
            .and_then(Value::as_array)
            .and_then(|list| list.first())
            .and_then(|first| {
                let field = first.get("field")?.as_str()?;
                Some(OrderField {
                    field: field.to_owned(),
                    desc: first.get("order").and_then(Value::as_str) == Some("desc"),
                })
            });
        request.offset = body.get("offset").and_then(as_count);
        if let Some(full_text) = body.get("fullTextFilter")
            && let Some(term) = full_text.get("term").and_then(Value::as_str)
        {
            request.full_text = Some(FullTextFilter {
                term: term.to_owned(),
                fields: strings(full_text.get("fields")),
            });
        }
    }
    query_page(&state, &request, fields.as_ref()).await
}

/// A non-negative JSON integer (negative ones count as zero).
fn as_count(value: &Value) -> Option<u64> {
    value
        .as_u64()
        .or_else(|| value.as_i64().map(|_| 0))
        .or_else(|| {
            value
                .as_f64()
                .filter(|f| f.fract() == 0.0)
                .map(|f| if f <= 0.0 { 0 } else { f as u64 })
        })
}

/// The message Backstage's by-refs handler gives a body it cannot use: a zod
/// issue list, pretty-printed as `JSON.stringify(issues, null, 2)` does.
fn malformed_by_refs(issue: Value) -> ApiError {
    let issues = serde_json::to_string_pretty(&json!([issue])).unwrap_or_default();
    input_error(format!(
        "Malformed request body (did you remember to specify an application/json content type?), {issues}"
    ))
}

/// `POST /entities/by-refs`.
pub(crate) async fn by_refs(
    State(state): State<Arc<ApiState>>,
    uri: Uri,
    headers: HeaderMap,
    bytes: Bytes,
) -> Handler {
    let q = parse_query(uri.query(), BY_REFS_PARAMS)?;
    let Some(body) = body::read_json(&headers, &bytes)? else {
        return Err(malformed_by_refs(json!({
            "code": "invalid_type",
            "expected": "object",
            "received": "undefined",
            "path": [],
            "message": "Required"
        })));
    };
    body::check(&body, &BY_REFS_BODY)?;
    let refs = strings(body.get("entityRefs"));
    let fields = parse_fields(&strings(body.get("fields"))).map_err(query_error)?;
    let filter = parse_filter_params(q.all("filter")).map_err(query_error)?;
    // Current catalog clients send a predicate in the body (`query`); a
    // `filter` parameter given as well must hold too.
    let filter = match (body.get("query"), filter) {
        (None, filter) => filter,
        (Some(predicate), None) => Some(parse_predicate(predicate).map_err(query_error)?),
        (Some(predicate), Some(filter)) => Some(EntityFilter::All(vec![
            parse_predicate(predicate).map_err(query_error)?,
            filter,
        ])),
    };
    let warming = state.warming();
    let items = if warming {
        warm::by_refs(&state, &refs, filter.as_ref()).await?
    } else {
        state.index()?.by_refs(&refs, filter.as_ref())
    };
    let hot = (!warming).then_some(&state.hot_texts);
    let mut out = Vec::with_capacity(items.len() * 512 + 16);
    out.extend_from_slice(b"{\"items\":[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match item {
            Some(entity) => push_entity(&mut out, entity, fields.as_ref(), hot)?,
            None => out.extend_from_slice(b"null"),
        }
    }
    out.extend_from_slice(b"]}");
    Ok(json_bytes(StatusCode::OK, out))
}

fn entity_response(entity: &Arc<IndexedEntity>, hot: Option<&HotTexts>) -> Handler {
    let mut body = Vec::with_capacity(entity.json_len());
    push_text(&mut body, entity, hot)?;
    Ok(json_bytes(StatusCode::OK, body))
}

/// `GET /entities/by-uid/{uid}`.
pub(crate) async fn by_uid(
    State(state): State<Arc<ApiState>>,
    uri: Uri,
    Path(uid): Path<String>,
) -> Handler {
    parse_query(uri.query(), &[])?;
    let warming = state.warming();
    let found = if warming {
        warm::by_uid(&state, &uid).await?
    } else {
        state.index()?.get_by_uid(&uid)
    };
    match found {
        Some(entity) => entity_response(&entity, (!warming).then_some(&state.hot_texts)),
        None => Err(ApiError(BackendError::not_found(format!(
            "No entity with uid {uid}"
        )))),
    }
}

/// `DELETE /entities/by-uid/{uid}`: 204 whether or not the entity existed.
pub(crate) async fn delete_by_uid(
    State(state): State<Arc<ApiState>>,
    uri: Uri,
    Path(uid): Path<String>,
) -> Handler {
    parse_query(uri.query(), &[])?;
    state.engine.delete_entity_by_uid(&uid).await?;
    state.catch_up().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /entities/by-name/{kind}/{namespace}/{name}`.
pub(crate) async fn by_name(
    State(state): State<Arc<ApiState>>,
    uri: Uri,
    Path((kind, namespace, name)): Path<(String, String, String)>,
) -> Handler {
    parse_query(uri.query(), &[])?;
    let canonical = format!("{kind}:{namespace}/{name}").to_lowercase();
    let warming = state.warming();
    let found = if warming {
        warm::by_ref(&state, &canonical).await?
    } else {
        state.index()?.get_by_ref(&canonical)
    };
    match found {
        Some(entity) => entity_response(&entity, (!warming).then_some(&state.hot_texts)),
        None => Err(ApiError(BackendError::not_found(format!(
            "No entity named '{name}' found, with kind '{kind}' in namespace '{namespace}'"
        )))),
    }
}

/// `GET /entities/by-name/{kind}/{namespace}/{name}/ancestry`.
pub(crate) async fn ancestry(
    State(state): State<Arc<ApiState>>,
    uri: Uri,
    Path((kind, namespace, name)): Path<(String, String, String)>,
) -> Handler {
    parse_query(uri.query(), &[])?;
    let answer = state
        .engine
        .ancestry(&format!("{kind}:{namespace}/{name}"))
        .await?;
    let value = serde_json::to_value(&answer)
        .map_err(|e| ApiError(BackendError::internal(format!("ancestry: {e}"))))?;
    Ok(json_value(StatusCode::OK, &value))
}

async fn facets_response(
    state: &ApiState,
    facets: &[String],
    filter: Option<&EntityFilter>,
) -> Handler {
    state.wait_ready().await?;
    let counted = state.index()?.facets_shared(facets, filter);
    let body = serde_json::to_vec(&FacetsBody {
        facets: FacetMap(&counted),
    })
    .map_err(|e| ApiError(BackendError::internal(format!("facets: {e}"))))?;
    Ok(json_bytes(StatusCode::OK, body))
}

/// `{"facets": {name: [{"value", "count"}]}}`, written straight from the index's kept answer:
/// a tree of JSON values for a few thousand buckets cost more than counting them.
#[derive(serde::Serialize)]
struct FacetsBody<'a> {
    facets: FacetMap<'a>,
}

/// The facets in the order asked for; the index has already collapsed repeated names.
struct FacetMap<'a>(&'a FacetCounts);

impl serde::Serialize for FacetMap<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(
            self.0
                .iter()
                .map(|(name, buckets)| (name, Buckets(buckets))),
        )
    }
}

struct Buckets<'a>(&'a [(String, u64)]);

impl serde::Serialize for Buckets<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|(value, count)| Bucket {
            value,
            count: *count,
        }))
    }
}

#[derive(serde::Serialize)]
struct Bucket<'a> {
    value: &'a str,
    count: u64,
}

/// `GET /entity-facets`.
pub(crate) async fn facets_get(State(state): State<Arc<ApiState>>, uri: Uri) -> Handler {
    let q = parse_query(uri.query(), FACETS_PARAMS)?;
    let filter = parse_filter_params(q.all("filter")).map_err(query_error)?;
    facets_response(&state, q.all("facet"), filter.as_ref()).await
}

/// `POST /entity-facets`.
pub(crate) async fn facets_post(
    State(state): State<Arc<ApiState>>,
    uri: Uri,
    headers: HeaderMap,
    bytes: Bytes,
) -> Handler {
    parse_query(uri.query(), &[])?;
    let body = body::read_json(&headers, &bytes)?.unwrap_or_else(|| json!({}));
    body::check(&body, &FACETS_BODY)?;
    let filter = match body.get("query") {
        Some(predicate) => Some(parse_predicate(predicate).map_err(query_error)?),
        None => None,
    };
    facets_response(&state, &strings(body.get("facets")), filter.as_ref()).await
}
