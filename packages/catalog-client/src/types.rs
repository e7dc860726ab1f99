//! Request and response types of the catalog API, spelled as on the wire.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An entity as the catalog serves it (a final entity, possibly projected).
pub type Entity = Value;

/// One value of an entity filter condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterValue {
    /// The key must exist, with any value (Backstage's `CATALOG_FILTER_EXISTS`).
    Exists,
    /// The key must have one of these values (case-insensitive).
    AnyOf(Vec<String>),
}

impl From<&str> for FilterValue {
    fn from(value: &str) -> Self {
        Self::AnyOf(vec![value.to_owned()])
    }
}

/// One filter set: all its conditions must hold.
pub type EntityFilterSet = BTreeMap<String, FilterValue>;

/// A filter: an entity matches when any of the sets matches. Each set becomes
/// one `filter=` query parameter, as Backstage's client builds them.
pub type EntityFilterQuery = Vec<EntityFilterSet>;

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SortOrder {
    Asc,
    Desc,
}

impl SortOrder {
    /// `asc` or `desc`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Asc => "asc",
            Self::Desc => "desc",
        }
    }
}

/// A sort directive on a dotted field path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityOrder {
    pub field: String,
    pub order: SortOrder,
}

/// `GET /entities`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetEntitiesRequest {
    pub filter: Option<EntityFilterQuery>,
    pub fields: Option<Vec<String>>,
    pub order: Option<Vec<EntityOrder>>,
    pub offset: Option<u64>,
    pub limit: Option<u64>,
    pub after: Option<String>,
}

/// The entities of a `GET /entities` page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GetEntitiesResponse {
    pub items: Vec<Entity>,
}

/// `POST /entities/by-refs`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetEntitiesByRefsRequest {
    pub entity_refs: Vec<String>,
    pub fields: Option<Vec<String>>,
    pub filter: Option<EntityFilterQuery>,
}

/// One slot per requested ref, `None` where the ref was not found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GetEntitiesByRefsResponse {
    pub items: Vec<Option<Entity>>,
}

/// The full-text part of a by-query request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FullTextFilter {
    pub term: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
}

/// Whether by-query counts all matches (`include`, the default) or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TotalItems {
    Include,
    Exclude,
}

/// The first request of a cursor-paginated query.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryEntitiesInitialRequest {
    /// A `filter=` style filter; sent with `GET`.
    pub filter: Option<EntityFilterQuery>,
    /// A structured predicate (`{"kind":"component"}`, `$all`, `$in`, …); when
    /// given, the request is sent as `POST /entities/by-query`.
    pub query: Option<Value>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
    pub order_fields: Option<Vec<EntityOrder>>,
    pub full_text_filter: Option<FullTextFilter>,
    pub fields: Option<Vec<String>>,
    pub total_items: Option<TotalItems>,
}

/// A follow-up request with a cursor from an earlier page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryEntitiesCursorRequest {
    pub cursor: String,
    pub limit: Option<u64>,
    pub fields: Option<Vec<String>>,
}

/// `GET|POST /entities/by-query`.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryEntitiesRequest {
    Initial(QueryEntitiesInitialRequest),
    Cursor(QueryEntitiesCursorRequest),
}

impl Default for QueryEntitiesRequest {
    fn default() -> Self {
        Self::Initial(QueryEntitiesInitialRequest::default())
    }
}

/// Cursors to the neighbouring pages; absent when there is no such page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev_cursor: Option<String>,
}

/// One page of a by-query request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryEntitiesResponse {
    pub items: Vec<Entity>,
    pub total_items: u64,
    pub page_info: PageInfo,
}

/// One entity of an ancestry walk and the refs of its parents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntityAncestor {
    pub entity: Entity,
    pub parent_entity_refs: Vec<String>,
}

/// `GET /entities/by-name/{kind}/{namespace}/{name}/ancestry`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetEntityAncestorsResponse {
    pub root_entity_ref: String,
    pub items: Vec<EntityAncestor>,
}

/// `GET /entity-facets` (or `POST` with a predicate `query`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GetEntityFacetsRequest {
    pub facets: Vec<String>,
    pub filter: Option<EntityFilterQuery>,
    /// A structured predicate; when given the request is sent as `POST`.
    pub query: Option<Value>,
}

/// One facet value and how many entities carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FacetCount {
    pub value: String,
    pub count: u64,
}

/// Facet buckets keyed by the facet names as requested.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetEntityFacetsResponse {
    pub facets: BTreeMap<String, Vec<FacetCount>>,
}

/// A location registered through the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    pub id: String,
    #[serde(rename = "type")]
    pub location_type: String,
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_ref: Option<String>,
}

/// `POST /locations`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddLocationRequest {
    /// The location type; Backstage's client defaults it to `url`.
    pub location_type: Option<String>,
    pub target: String,
    /// Process in memory and store nothing.
    pub dry_run: bool,
}

/// The answer to `POST /locations`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddLocationResponse {
    pub location: Location,
    pub entities: Vec<Entity>,
    /// Only in dry-run answers: whether an identical location is stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exists: Option<bool>,
}

/// `PUT /locations/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateLocationRequest {
    #[serde(rename = "type")]
    pub location_type: String,
    pub target: String,
}

/// `POST /locations/by-query`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QueryLocationsRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<Value>,
}

/// One page of locations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryLocationsResponse {
    pub items: Vec<Location>,
    pub total_items: u64,
    pub page_info: PageInfo,
}

/// The outcome of `POST /validate-entity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValidateEntityResponse {
    Valid,
    /// The serialised errors (`{name, message, …}`) the catalog reported.
    Invalid(Vec<SerializedError>),
}

/// An error as Backstage serialises it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SerializedError {
    pub name: String,
    pub message: String,
}

/// The `{type, target}` of a location to analyze.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocationSpec {
    #[serde(rename = "type")]
    pub location_type: String,
    pub target: String,
}

/// `POST /analyze-location`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalyzeLocationRequest {
    pub location: LocationSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog_filename: Option<String>,
}

/// A catalog file found in the analyzed repository.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalyzeLocationExistingEntity {
    pub location: LocationSpec,
    pub is_registered: bool,
    pub entity: Entity,
}

/// A suggested entity for a repository without catalog files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalyzeLocationGenerateEntity {
    pub entity: Entity,
    pub fields: Vec<Value>,
}

/// The answer to `POST /analyze-location`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalyzeLocationResponse {
    pub existing_entity_files: Vec<AnalyzeLocationExistingEntity>,
    pub generate_entities: Vec<AnalyzeLocationGenerateEntity>,
}

/// One entry of `GET /changes/recent` (Greenroom's own route).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecentChange {
    pub entity_ref: String,
    /// When the entity last changed, in milliseconds since the Unix epoch.
    pub changed_at_ms: i64,
}

/// A `kind:namespace/name` reference in parts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CompoundEntityRef {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}
