//! The CatalogApi trait and an HTTP client for Backstage's catalog REST API.
//!
//! [`CatalogApi`] has the operations of Backstage's `CatalogClient`; the
//! [`CatalogClient`] implements it over HTTP against a catalog base URL such as
//! `http://127.0.0.1:7007/api/catalog`, or in process against the catalog's own
//! API router (a [`RouterSource`]), with the same requests and answers.

mod client;
pub mod query;
pub mod types;

use async_trait::async_trait;
use greenroom_backend_plugin_api::BackendError;

pub use client::{CatalogClient, CatalogTarget, MAX_IN_PROCESS_ANSWER_BYTES, RouterSource};
pub use types::*;

/// The catalog's operations, as Backstage's `CatalogApi` offers them.
///
/// Lookups of one item answer `Ok(None)` where the catalog answers 404.
#[async_trait]
pub trait CatalogApi: Send + Sync {
    /// `GET /entities`: a list, optionally filtered, projected, ordered and paged.
    async fn get_entities(
        &self,
        request: GetEntitiesRequest,
    ) -> Result<GetEntitiesResponse, BackendError>;

    /// `POST /entities/by-refs`: one slot per ref, in request order.
    async fn get_entities_by_refs(
        &self,
        request: GetEntitiesByRefsRequest,
    ) -> Result<GetEntitiesByRefsResponse, BackendError>;

    /// `GET|POST /entities/by-query`: one page of a cursor-paginated query.
    async fn query_entities(
        &self,
        request: QueryEntitiesRequest,
    ) -> Result<QueryEntitiesResponse, BackendError>;

    /// `GET /entities/by-name/{kind}/{namespace}/{name}`; `entity_ref` is
    /// `kind:[namespace/]name`.
    async fn get_entity_by_ref(&self, entity_ref: &str) -> Result<Option<Entity>, BackendError>;

    /// `GET /entities/by-uid/{uid}`.
    async fn get_entity_by_uid(&self, uid: &str) -> Result<Option<Entity>, BackendError>;

    /// `GET /entities/by-name/{kind}/{namespace}/{name}/ancestry`.
    async fn get_entity_ancestors(
        &self,
        entity_ref: &str,
    ) -> Result<GetEntityAncestorsResponse, BackendError>;

    /// `GET|POST /entity-facets`.
    async fn get_entity_facets(
        &self,
        request: GetEntityFacetsRequest,
    ) -> Result<GetEntityFacetsResponse, BackendError>;

    /// `POST /refresh`: schedules the entity for reprocessing.
    async fn refresh_entity(&self, entity_ref: &str) -> Result<(), BackendError>;

    /// `DELETE /entities/by-uid/{uid}`.
    async fn remove_entity_by_uid(&self, uid: &str) -> Result<(), BackendError>;

    /// `GET /locations`.
    async fn get_locations(&self) -> Result<Vec<Location>, BackendError>;

    /// `POST /locations/by-query`.
    async fn query_locations(
        &self,
        request: QueryLocationsRequest,
    ) -> Result<QueryLocationsResponse, BackendError>;

    /// `GET /locations/{id}`.
    async fn get_location_by_id(&self, id: &str) -> Result<Option<Location>, BackendError>;

    /// The stored location whose `type:target` is `location_ref`.
    async fn get_location_by_ref(
        &self,
        location_ref: &str,
    ) -> Result<Option<Location>, BackendError>;

    /// `POST /locations[?dryRun=true]`.
    async fn add_location(
        &self,
        request: AddLocationRequest,
    ) -> Result<AddLocationResponse, BackendError>;

    /// `PUT /locations/{id}`.
    async fn update_location(
        &self,
        id: &str,
        request: UpdateLocationRequest,
    ) -> Result<Location, BackendError>;

    /// `DELETE /locations/{id}`.
    async fn remove_location_by_id(&self, id: &str) -> Result<(), BackendError>;

    /// `GET /locations/by-entity/{kind}/{namespace}/{name}`.
    async fn get_location_by_entity(
        &self,
        entity_ref: &str,
    ) -> Result<Option<Location>, BackendError>;

    /// `POST /validate-entity`: runs the entity through processing without storing it.
    async fn validate_entity(
        &self,
        entity: &Entity,
        location_ref: &str,
    ) -> Result<ValidateEntityResponse, BackendError>;

    /// `POST /analyze-location`.
    async fn analyze_location(
        &self,
        request: AnalyzeLocationRequest,
    ) -> Result<AnalyzeLocationResponse, BackendError>;

    /// `GET /changes/recent?limit=` (Greenroom's own route): the entities
    /// changed most recently, newest first.
    async fn get_recent_changes(&self, limit: u64) -> Result<Vec<RecentChange>, BackendError>;
}
