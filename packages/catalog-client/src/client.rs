//! [`CatalogClient`]: the catalog API over HTTP or in process, with Backstage's error bodies
//! mapped back to [`BackendError`]s.

use std::sync::Arc;

use async_trait::async_trait;
use greenroom_backend_plugin_api::{BackendError, ErrorName};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::CatalogApi;
use crate::query::{self, encode_component, parse_entity_ref};
use crate::types::*;

/// The catalog API, over HTTP or in process.
///
/// Both transports send the same requests (method, path, query string, JSON
/// body) and read the same answers, so the mapping code is shared and an
/// in-process caller sees exactly what an HTTP caller sees.
#[derive(Debug, Clone)]
pub struct CatalogClient {
    transport: Transport,
    token: Option<String>,
}

/// Where a [`CatalogClient`]'s requests go.
#[derive(Clone)]
enum Transport {
    Http {
        http: reqwest::Client,
        base_url: String,
    },
    InProcess {
        /// Used when the source answers with a URL instead of a router.
        http: reqwest::Client,
        source: Arc<dyn RouterSource>,
    },
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Http { base_url, .. } => f.debug_tuple("Http").field(base_url).finish(),
            Transport::InProcess { .. } => f.write_str("InProcess"),
        }
    }
}

/// What an in-process client talks to for one call.
#[derive(Debug, Clone)]
pub enum CatalogTarget {
    /// The catalog's own API router, taking paths relative to the catalog's
    /// base (`/entities`, …) as the catalog plugin mounts it.
    Router(axum::Router),
    /// A catalog reached over HTTP at this base URL, for when no catalog runs
    /// in this process.
    Url(String),
}

/// Finds the catalog for an in-process client, once per call.
///
/// Implementations may wait for the router to exist (the catalog fills it in
/// during its init) and answer an error, such as `ServiceUnavailableError`,
/// when it does not come in time.
#[async_trait]
pub trait RouterSource: Send + Sync {
    async fn target(&self) -> Result<CatalogTarget, BackendError>;
}

#[async_trait]
impl RouterSource for axum::Router {
    async fn target(&self) -> Result<CatalogTarget, BackendError> {
        Ok(CatalogTarget::Router(self.clone()))
    }
}

/// The largest answer an in-process call collects. Over HTTP the answer is
/// bounded by the server; in process the same bound protects the caller from a
/// runaway listing.
pub const MAX_IN_PROCESS_ANSWER_BYTES: usize = 512 * 1024 * 1024;

/// A response status and body, before interpretation.
struct Answer {
    status: u16,
    body: Vec<u8>,
}

impl CatalogClient {
    /// A client for the catalog at `base_url` (e.g. `http://127.0.0.1:7007/api/catalog`).
    pub fn new(base_url: impl Into<String>) -> Self {
        Self::with_http_client(reqwest::Client::new(), base_url)
    }

    /// Like [`CatalogClient::new`], sending through `http` (for its TLS or
    /// timeout settings).
    pub fn with_http_client(http: reqwest::Client, base_url: impl Into<String>) -> Self {
        let base_url = base_url.into().trim_end_matches('/').to_owned();
        Self {
            transport: Transport::Http { http, base_url },
            token: None,
        }
    }

    /// A client that calls the catalog's API router in the same process,
    /// through `tower`'s `oneshot`: no socket, but the same requests and
    /// answers as over HTTP.
    pub fn in_process(source: Arc<dyn RouterSource>) -> Self {
        Self {
            transport: Transport::InProcess {
                http: reqwest::Client::new(),
                source,
            },
            token: None,
        }
    }

    /// Sends `Authorization: Bearer <token>` with every request.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The base URL requests are sent to; `None` for an in-process client.
    pub fn base_url(&self) -> Option<&str> {
        match &self.transport {
            Transport::Http { base_url, .. } => Some(base_url),
            Transport::InProcess { .. } => None,
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer, BackendError> {
        match &self.transport {
            Transport::Http { http, base_url } => {
                self.send_http(http, base_url, method, path, body).await
            }
            Transport::InProcess { http, source } => match source.target().await? {
                CatalogTarget::Router(router) => {
                    self.send_in_process(router, method, path, body).await
                }
                CatalogTarget::Url(base_url) => {
                    let base_url = base_url.trim_end_matches('/');
                    self.send_http(http, base_url, method, path, body).await
                }
            },
        }
    }

    async fn send_http(
        &self,
        http: &reqwest::Client,
        base_url: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer, BackendError> {
        let url = format!("{base_url}{path}");
        let mut request = http.request(method, &url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| BackendError::unavailable(format!("Request to {url} failed: {e}")))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| {
                BackendError::unavailable(format!("Reading the answer of {url} failed: {e}"))
            })?
            .to_vec();
        Ok(Answer { status, body })
    }

    async fn send_in_process(
        &self,
        router: axum::Router,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer, BackendError> {
        use tower::ServiceExt;

        let mut request = axum::http::Request::builder().method(method).uri(path);
        if let Some(token) = &self.token {
            request = request.header(axum::http::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let bytes = match body {
            Some(body) => {
                request = request.header(axum::http::header::CONTENT_TYPE, "application/json");
                serde_json::to_vec(body).map_err(|e| {
                    BackendError::internal(format!("cannot serialise the request: {e}"))
                })?
            }
            None => Vec::new(),
        };
        let request = request
            .body(axum::body::Body::from(bytes))
            .map_err(|e| BackendError::input(format!("invalid catalog request {path}: {e}")))?;
        let response = match router.oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let status = response.status().as_u16();
        let body = axum::body::to_bytes(response.into_body(), MAX_IN_PROCESS_ANSWER_BYTES)
            .await
            .map_err(|e| {
                BackendError::unavailable(format!("Reading the answer of {path} failed: {e}"))
            })?
            .to_vec();
        Ok(Answer { status, body })
    }

    /// Sends and expects a 2xx answer, else maps the error body.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer, BackendError> {
        let answer = self.send(method, path, body).await?;
        if (200..300).contains(&answer.status) {
            Ok(answer)
        } else {
            Err(error_from_answer(answer.status, &answer.body))
        }
    }

    async fn call_json<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<T, BackendError> {
        let answer = self.call(method, path, body).await?;
        decode(&answer.body)
    }

    /// A GET whose 404 means "no such item".
    async fn get_optional<T: DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<Option<T>, BackendError> {
        let answer = self.send(reqwest::Method::GET, path, None).await?;
        match answer.status {
            404 => Ok(None),
            200..=299 => decode(&answer.body).map(Some),
            status => Err(error_from_answer(status, &answer.body)),
        }
    }
}

fn to_value<T: Serialize>(value: &T) -> Result<Value, BackendError> {
    serde_json::to_value(value)
        .map_err(|e| BackendError::internal(format!("cannot serialise the request: {e}")))
}

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, BackendError> {
    serde_json::from_slice(body).map_err(|e| {
        BackendError::internal(format!("the catalog answered with an unexpected body: {e}"))
    })
}

/// Maps an error name from a response body to our vocabulary; names we do not
/// know (such as `TypeError`) fall back to the HTTP status.
fn error_name(name: Option<&str>, status: u16) -> ErrorName {
    let by_name = match name {
        Some("InputError") => Some(ErrorName::InputError),
        Some("AuthenticationError") => Some(ErrorName::AuthenticationError),
        Some("NotAllowedError") => Some(ErrorName::NotAllowedError),
        Some("NotFoundError") => Some(ErrorName::NotFoundError),
        Some("ConflictError") => Some(ErrorName::ConflictError),
        Some("NotModifiedError") => Some(ErrorName::NotModifiedError),
        Some("NotImplementedError") => Some(ErrorName::NotImplementedError),
        Some("ServiceUnavailableError") => Some(ErrorName::ServiceUnavailableError),
        _ => None,
    };
    by_name.unwrap_or(match status {
        304 => ErrorName::NotModifiedError,
        400 => ErrorName::InputError,
        401 => ErrorName::AuthenticationError,
        403 => ErrorName::NotAllowedError,
        404 => ErrorName::NotFoundError,
        409 => ErrorName::ConflictError,
        501 => ErrorName::NotImplementedError,
        503 => ErrorName::ServiceUnavailableError,
        _ => ErrorName::Error,
    })
}

/// The error a non-2xx answer stands for: Backstage's `{error: {name, message}}`
/// body when there is one, else the status and the body text.
pub(crate) fn error_from_answer(status: u16, body: &[u8]) -> BackendError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let error = parsed.as_ref().and_then(|v| v.get("error"));
    let name = error.and_then(|e| e.get("name")).and_then(Value::as_str);
    let message = error.and_then(|e| e.get("message")).and_then(Value::as_str);
    match message {
        Some(message) => BackendError::new(error_name(name, status), message),
        None => {
            // Bound the echoed text: an error page could be large.
            let text = String::from_utf8_lossy(body);
            let text: String = text.chars().take(500).collect();
            BackendError::new(
                error_name(None, status),
                format!("Request failed with {status}, {text}"),
            )
        }
    }
}

#[async_trait]
impl CatalogApi for CatalogClient {
    async fn get_entities(
        &self,
        request: GetEntitiesRequest,
    ) -> Result<GetEntitiesResponse, BackendError> {
        let path = query::get_entities_path(&request);
        let items: Vec<Entity> = self.call_json(reqwest::Method::GET, &path, None).await?;
        Ok(GetEntitiesResponse { items })
    }

    async fn get_entities_by_refs(
        &self,
        request: GetEntitiesByRefsRequest,
    ) -> Result<GetEntitiesByRefsResponse, BackendError> {
        let path = query::by_refs_path(request.filter.as_ref());
        let mut body = json!({ "entityRefs": request.entity_refs });
        if let Some(fields) = &request.fields {
            body["fields"] = json!(fields);
        }
        self.call_json(reqwest::Method::POST, &path, Some(&body))
            .await
    }

    async fn query_entities(
        &self,
        request: QueryEntitiesRequest,
    ) -> Result<QueryEntitiesResponse, BackendError> {
        match request {
            QueryEntitiesRequest::Cursor(cursor) => {
                let path = query::query_entities_cursor_path(&cursor);
                self.call_json(reqwest::Method::GET, &path, None).await
            }
            QueryEntitiesRequest::Initial(initial) if initial.query.is_some() => {
                let body = query_entities_body(&initial)?;
                self.call_json(reqwest::Method::POST, "/entities/by-query", Some(&body))
                    .await
            }
            QueryEntitiesRequest::Initial(initial) => {
                let path = query::query_entities_initial_path(&initial);
                self.call_json(reqwest::Method::GET, &path, None).await
            }
        }
    }

    async fn get_entity_by_ref(&self, entity_ref: &str) -> Result<Option<Entity>, BackendError> {
        let parsed = parse_entity_ref(entity_ref)?;
        self.get_optional(&query::entity_by_name_path(&parsed))
            .await
    }

    async fn get_entity_by_uid(&self, uid: &str) -> Result<Option<Entity>, BackendError> {
        self.get_optional(&format!("/entities/by-uid/{}", encode_component(uid)))
            .await
    }

    async fn get_entity_ancestors(
        &self,
        entity_ref: &str,
    ) -> Result<GetEntityAncestorsResponse, BackendError> {
        let parsed = parse_entity_ref(entity_ref)?;
        let path = format!("{}/ancestry", query::entity_by_name_path(&parsed));
        self.call_json(reqwest::Method::GET, &path, None).await
    }

    async fn get_entity_facets(
        &self,
        request: GetEntityFacetsRequest,
    ) -> Result<GetEntityFacetsResponse, BackendError> {
        if let Some(predicate) = &request.query {
            let body = json!({ "facets": request.facets, "query": predicate });
            return self
                .call_json(reqwest::Method::POST, "/entity-facets", Some(&body))
                .await;
        }
        let path = query::facets_path(&request);
        self.call_json(reqwest::Method::GET, &path, None).await
    }

    async fn refresh_entity(&self, entity_ref: &str) -> Result<(), BackendError> {
        let body = json!({ "entityRef": entity_ref });
        self.call(reqwest::Method::POST, "/refresh", Some(&body))
            .await?;
        Ok(())
    }

    async fn remove_entity_by_uid(&self, uid: &str) -> Result<(), BackendError> {
        let path = format!("/entities/by-uid/{}", encode_component(uid));
        self.call(reqwest::Method::DELETE, &path, None).await?;
        Ok(())
    }

    async fn get_locations(&self) -> Result<Vec<Location>, BackendError> {
        #[derive(serde::Deserialize)]
        struct Item {
            data: Location,
        }
        let items: Vec<Item> = self
            .call_json(reqwest::Method::GET, "/locations", None)
            .await?;
        Ok(items.into_iter().map(|i| i.data).collect())
    }

    async fn query_locations(
        &self,
        request: QueryLocationsRequest,
    ) -> Result<QueryLocationsResponse, BackendError> {
        let body = to_value(&request)?;
        self.call_json(reqwest::Method::POST, "/locations/by-query", Some(&body))
            .await
    }

    async fn get_location_by_id(&self, id: &str) -> Result<Option<Location>, BackendError> {
        self.get_optional(&format!("/locations/{}", encode_component(id)))
            .await
    }

    async fn get_location_by_ref(
        &self,
        location_ref: &str,
    ) -> Result<Option<Location>, BackendError> {
        // The API has no lookup by ref; like Backstage's client, list and match.
        let locations = self.get_locations().await?;
        Ok(locations
            .into_iter()
            .find(|l| format!("{}:{}", l.location_type, l.target) == location_ref))
    }

    async fn add_location(
        &self,
        request: AddLocationRequest,
    ) -> Result<AddLocationResponse, BackendError> {
        let path = if request.dry_run {
            "/locations?dryRun=true"
        } else {
            "/locations"
        };
        let body = json!({
            "type": request.location_type.as_deref().unwrap_or("url"),
            "target": request.target,
        });
        self.call_json(reqwest::Method::POST, path, Some(&body))
            .await
    }

    async fn update_location(
        &self,
        id: &str,
        request: UpdateLocationRequest,
    ) -> Result<Location, BackendError> {
        let body = to_value(&request)?;
        let path = format!("/locations/{}", encode_component(id));
        self.call_json(reqwest::Method::PUT, &path, Some(&body))
            .await
    }

    async fn remove_location_by_id(&self, id: &str) -> Result<(), BackendError> {
        let path = format!("/locations/{}", encode_component(id));
        self.call(reqwest::Method::DELETE, &path, None).await?;
        Ok(())
    }

    async fn get_location_by_entity(
        &self,
        entity_ref: &str,
    ) -> Result<Option<Location>, BackendError> {
        let parsed = parse_entity_ref(entity_ref)?;
        self.get_optional(&query::location_by_entity_path(&parsed))
            .await
    }

    async fn validate_entity(
        &self,
        entity: &Entity,
        location_ref: &str,
    ) -> Result<ValidateEntityResponse, BackendError> {
        let body = json!({ "entity": entity, "location": location_ref });
        let answer = self
            .send(reqwest::Method::POST, "/validate-entity", Some(&body))
            .await?;
        if (200..300).contains(&answer.status) {
            return Ok(ValidateEntityResponse::Valid);
        }
        // Validation failures come as `{errors: [...]}`; anything else (such as
        // a malformed request) is the standard error body.
        #[derive(serde::Deserialize)]
        struct Errors {
            errors: Vec<SerializedError>,
        }
        if answer.status == 400
            && let Ok(errors) = serde_json::from_slice::<Errors>(&answer.body)
        {
            return Ok(ValidateEntityResponse::Invalid(errors.errors));
        }
        Err(error_from_answer(answer.status, &answer.body))
    }

    async fn analyze_location(
        &self,
        request: AnalyzeLocationRequest,
    ) -> Result<AnalyzeLocationResponse, BackendError> {
        let body = to_value(&request)?;
        self.call_json(reqwest::Method::POST, "/analyze-location", Some(&body))
            .await
    }

    async fn get_recent_changes(&self, limit: u64) -> Result<Vec<RecentChange>, BackendError> {
        #[derive(serde::Deserialize)]
        struct Answer {
            items: Vec<RecentChange>,
        }
        let path = format!("/changes/recent?limit={limit}");
        let answer: Answer = self.call_json(reqwest::Method::GET, &path, None).await?;
        Ok(answer.items)
    }
}

/// The `POST /entities/by-query` body of a first request with a predicate.
pub(crate) fn query_entities_body(
    request: &QueryEntitiesInitialRequest,
) -> Result<Value, BackendError> {
    let mut body = serde_json::Map::new();
    if let Some(predicate) = &request.query {
        body.insert("query".into(), predicate.clone());
    }
    if let Some(limit) = request.limit {
        body.insert("limit".into(), json!(limit));
    }
    if let Some(offset) = request.offset {
        body.insert("offset".into(), json!(offset));
    }
    if let Some(order) = &request.order_fields {
        body.insert("orderBy".into(), to_value(order)?);
    }
    if let Some(full_text) = &request.full_text_filter
        && !full_text.term.trim().is_empty()
    {
        body.insert("fullTextFilter".into(), to_value(full_text)?);
    }
    if let Some(fields) = request.fields.as_ref().filter(|f| !f.is_empty()) {
        body.insert("fields".into(), json!(fields));
    }
    if let Some(total) = request.total_items {
        body.insert("totalItems".into(), to_value(&total)?);
    }
    Ok(Value::Object(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_map_to_backend_errors() {
        let cases: &[(&str, u16, &[u8], ErrorName, &str)] = &[
            (
                "named",
                404,
                br#"{"error":{"name":"NotFoundError","message":"No entity with uid x"},"response":{"statusCode":404}}"#,
                ErrorName::NotFoundError,
                "No entity with uid x",
            ),
            (
                "unknown name falls back to status",
                400,
                br#"{"error":{"name":"TypeError","message":"bad"}}"#,
                ErrorName::InputError,
                "bad",
            ),
            (
                "no body",
                503,
                b"down",
                ErrorName::ServiceUnavailableError,
                "Request failed with 503, down",
            ),
            ("500", 500, b"", ErrorName::Error, "Request failed with 500, "),
        ];
        for (id, status, body, name, message) in cases {
            let e = error_from_answer(*status, body);
            assert_eq!((e.name, e.message.as_str()), (*name, *message), "{id}");
        }
    }

    #[test]
    fn predicate_requests_become_post_bodies() {
        let request = QueryEntitiesInitialRequest {
            query: Some(json!({"kind": "component"})),
            limit: Some(5),
            order_fields: Some(vec![EntityOrder {
                field: "metadata.name".into(),
                order: SortOrder::Desc,
            }]),
            full_text_filter: Some(FullTextFilter {
                term: "  ".into(),
                fields: None,
            }),
            total_items: Some(TotalItems::Exclude),
            ..Default::default()
        };
        let body = query_entities_body(&request).unwrap();
        assert_eq!(
            body,
            json!({"query":{"kind":"component"},"limit":5,
                   "orderBy":[{"field":"metadata.name","order":"desc"}],"totalItems":"exclude"})
        );
    }
}
