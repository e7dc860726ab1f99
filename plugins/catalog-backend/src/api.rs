//! The catalog's REST API (`/api/catalog`): Backstage's routes with its request
//! validation, error bodies and response shapes.
//!
//! Reads are answered from the in-memory [`CatalogIndex`] (the read lock is held
//! only while a page is copied out); while it is still loading, [`warm`] answers
//! what the database can serve cheaply and other reads wait. Writes go to
//! [`CatalogEngine`] methods.
//! Entity bodies are written from the index's pre-serialised JSON whenever no
//! projection is requested, so a page is assembled by concatenating texts.

mod body;
mod changes;
mod entities;
mod locations;
mod misc;
mod params;
mod warm;

use std::sync::{Arc, RwLock, RwLockReadGuard};

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use greenroom_backend_plugin_api::BackendError;
use greenroom_backend_plugin_api::http::ApiError;
use greenroom_catalog_query::CatalogIndex;
use serde_json::Value;

use crate::engine::CatalogEngine;

/// What the routes share.
#[derive(Debug)]
pub struct ApiState {
    /// The engine the write routes (and ancestry) call.
    pub engine: Arc<CatalogEngine>,
    /// The read model every read route answers from.
    pub index: Arc<RwLock<CatalogIndex>>,
    /// When set, write routes bring the index up to date before answering.
    pub sync: Option<Arc<crate::follower::IndexSync>>,
    /// Decompressed texts of the index's entities read most, shared by the read routes.
    pub hot_texts: greenroom_catalog_query::HotTexts,
}

impl ApiState {
    /// Brings the index up to date with the change log, when this state has a
    /// follower: a route that deleted something answers only once its own
    /// reads would no longer see it.
    pub(crate) async fn catch_up(&self) -> Result<(), ApiError> {
        if let Some(sync) = &self.sync {
            sync.catch_up(&self.engine).await?;
        }
        Ok(())
    }

    /// Whether the index is still loading, so reads must come from the database
    /// or wait.
    pub(crate) fn warming(&self) -> bool {
        self.sync.as_ref().is_some_and(|s| !s.is_ready())
    }

    /// Returns once the index holds the whole catalog (fails when the backend
    /// shuts down first).
    pub(crate) async fn wait_ready(&self) -> Result<(), ApiError> {
        if let Some(sync) = &self.sync {
            sync.wait_ready().await?;
        }
        Ok(())
    }

    /// A shared read lock on the index.
    pub(crate) fn index(&self) -> Result<RwLockReadGuard<'_, CatalogIndex>, ApiError> {
        self.index
            .read()
            .map_err(|_| ApiError(BackendError::internal("the catalog index lock is poisoned")))
    }
}

/// The catalog's routes, relative to the plugin base (`/entities`, …).
pub fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route("/entities", get(entities::list))
        .route(
            "/entities/by-query",
            get(entities::query_get).post(entities::query_post),
        )
        .route("/entities/by-refs", axum::routing::post(entities::by_refs))
        .route(
            "/entities/by-uid/{uid}",
            get(entities::by_uid).delete(entities::delete_by_uid),
        )
        .route(
            "/entities/by-name/{kind}/{namespace}/{name}",
            get(entities::by_name),
        )
        .route(
            "/entities/by-name/{kind}/{namespace}/{name}/ancestry",
            get(entities::ancestry),
        )
        .route(
            "/entity-facets",
            get(entities::facets_get).post(entities::facets_post),
        )
        .route("/refresh", axum::routing::post(misc::refresh))
        .route("/changes/recent", get(changes::recent))
        .route(
            "/validate-entity",
            axum::routing::post(misc::validate_entity),
        )
        .route(
            "/analyze-location",
            axum::routing::post(misc::analyze_location),
        )
        .route("/locations", get(locations::list).post(locations::add))
        .route("/locations/by-query", axum::routing::post(locations::query))
        .route(
            "/locations/{id}",
            get(locations::get_one)
                .put(locations::update)
                .delete(locations::delete),
        )
        .route(
            "/locations/by-entity/{kind}/{namespace}/{name}",
            get(locations::by_entity),
        )
        .with_state(state)
}

/// The content type of every JSON answer.
const JSON_UTF8: HeaderValue = HeaderValue::from_static("application/json; charset=utf-8");

/// A JSON answer from already serialised bytes.
pub(crate) fn json_bytes(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, JSON_UTF8);
    response
}

/// A JSON answer from a value.
pub(crate) fn json_value(status: StatusCode, value: &Value) -> Response {
    json_bytes(status, serde_json::to_vec(value).unwrap_or_default())
}

/// Shorthand for a handler's `InputError`.
pub(crate) fn input_error(message: impl Into<String>) -> ApiError {
    ApiError(BackendError::input(message))
}
