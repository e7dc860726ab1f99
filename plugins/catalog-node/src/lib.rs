//! What catalog modules code against: entity providers (which push entities into
//! the catalog), processors (which read locations, validate kinds and emit
//! relations) and the `catalog.processing` extension point that collects both.
//!
//! The shapes follow Backstage's `@backstage/plugin-catalog-node`: a provider
//! applies *full* or *delta* mutations through its connection and can ask for a
//! refresh by key; a processor takes part in the stages of processing one entity
//! (pre-process, location reading, kind validation, post-process) and emits
//! child entities, locations, relations, errors and refresh keys.
//!
//! [`placeholder`] holds the placeholder resolvers modules add through the same
//! extension point, [`analysis`] the `catalog.analysis` extension point and its
//! location analyzers, and [`service`] the `catalog.service` service other
//! plugins use to call the catalog in process.

pub mod analysis;
pub mod placeholder;
pub mod service;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use greenroom_backend_plugin_api::{BackendError, ExtensionPointRef};
use greenroom_catalog_model::location::LocationSpec;
use greenroom_catalog_model::location_ref::LocationRef;
use greenroom_catalog_model::relations::Relation;
use serde_json::Value;

pub use analysis::{
    AnalyzeRequest, CATALOG_ANALYSIS_EXTENSION_POINT, CatalogAnalysisExtension, ScmLocationAnalyzer,
};
pub use placeholder::{PlaceholderResolver, PlaceholderResolverParams, PlaceholderTargetReader};
pub use service::{
    CATALOG_SERVICE, CatalogRouterSlot, DEFAULT_CATALOG_WAIT, catalog_service_factory,
    catalog_service_factory_with_wait,
};

/// An entity handed to the catalog by a provider or emitted by a processor,
/// before processing.
#[derive(Debug, Clone, PartialEq)]
pub struct DeferredEntity {
    pub entity: Value,
    /// Where the entity came from, normally `<type>:<target>` of its file. A second
    /// source claiming the same entity ref with another key is a conflict.
    pub location_key: Option<String>,
}

/// An entity a delta mutation removes: the entity itself, or just its ref.
#[derive(Debug, Clone, PartialEq)]
pub enum RemovedEntity {
    Entity(DeferredEntity),
    Ref {
        entity_ref: String,
        location_key: Option<String>,
    },
}

/// A change a provider applies to the set of entities it owns.
#[derive(Debug, Clone, PartialEq)]
pub enum EntityMutation {
    /// Replaces everything the provider owned with `entities`.
    Full { entities: Vec<DeferredEntity> },
    /// Adds (or updates) `added` and removes `removed`.
    Delta {
        added: Vec<DeferredEntity>,
        removed: Vec<RemovedEntity>,
    },
}

/// What a provider talks to, given to it once at start-up.
#[async_trait]
pub trait EntityProviderConnection: Send + Sync {
    async fn apply_mutation(&self, mutation: EntityMutation) -> Result<(), BackendError>;
    /// Schedules every entity that registered one of `keys` for processing now.
    async fn refresh(&self, keys: Vec<String>) -> Result<(), BackendError>;
}

/// A source of entities, such as configured locations or an organisation directory.
#[async_trait]
pub trait EntityProvider: Send + Sync {
    /// A unique, stable name: the owner of the entities this provider adds.
    fn name(&self) -> &str;
    /// Called once when the catalog starts; the provider keeps the connection.
    async fn connect(
        &self,
        connection: Arc<dyn EntityProviderConnection>,
    ) -> Result<(), BackendError>;
}

/// An error a processor reports about the entity being processed. Any error makes
/// the processing run fail: the last good version of the entity stays served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessingError {
    /// A Backstage error name, e.g. `NotFoundError` or `InputError`.
    pub name: String,
    pub message: String,
    /// The location the error concerns (the file being read, say).
    pub location: LocationRef,
}

/// Something a processor emits while processing one entity.
#[derive(Debug, Clone, PartialEq)]
pub enum ProcessorEmit {
    /// A child entity read from `location` (a file of a Location entity, say).
    Entity {
        entity: Value,
        location: LocationRef,
    },
    /// A location to read, which becomes a generated Location entity.
    Location(LocationSpec),
    /// A relation between two entities, emitted in one direction.
    Relation(Relation),
    Error(ProcessingError),
    /// A key (such as `url:<target>`) whose refresh should reprocess this entity.
    RefreshKey(String),
}

/// Collects what processors emit during one processing run.
#[derive(Debug, Default)]
pub struct Emitter {
    emitted: Vec<ProcessorEmit>,
}

impl Emitter {
    pub fn emit(&mut self, item: ProcessorEmit) {
        self.emitted.push(item);
    }

    pub fn items(&self) -> &[ProcessorEmit] {
        &self.emitted
    }

    pub fn into_items(self) -> Vec<ProcessorEmit> {
        self.emitted
    }

    pub fn has_errors(&self) -> bool {
        self.emitted
            .iter()
            .any(|e| matches!(e, ProcessorEmit::Error(_)))
    }
}

/// Where the entity being processed came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessingContext {
    /// `backstage.io/managed-by-location`: the file the entity was read from.
    pub location: LocationRef,
    /// `backstage.io/managed-by-origin-location`: the registered location it descends from.
    pub origin_location: LocationRef,
}

/// One step of catalog processing, in Backstage's stages. Every method has a
/// default that does nothing, so a processor implements only what it needs.
#[async_trait]
pub trait CatalogProcessor: Send + Sync {
    /// A unique name, used in error messages ("Processor <name> threw an error ...").
    fn name(&self) -> &str;

    /// May change the entity before validation (placeholders, annotations).
    async fn pre_process(
        &self,
        entity: Value,
        _context: &ProcessingContext,
        _emit: &mut Emitter,
    ) -> Result<Value, BackendError> {
        Ok(entity)
    }

    /// Whether this processor knows the entity's kind: `Ok(true)` when it does and
    /// the entity is valid, `Ok(false)` when the kind is not its own, an error when
    /// the kind is its own but the entity is invalid.
    async fn validate_entity_kind(&self, _entity: &Value) -> Result<bool, BackendError> {
        Ok(false)
    }

    /// Reads `location` if this processor handles its type, emitting the entities
    /// found; `Ok(false)` when the type is not its own. `optional` locations that
    /// do not exist emit nothing rather than an error.
    async fn read_location(
        &self,
        _location: &LocationSpec,
        _optional: bool,
        _context: &ProcessingContext,
        _emit: &mut Emitter,
    ) -> Result<bool, BackendError> {
        Ok(false)
    }

    /// May change the entity after validation and emit relations.
    async fn post_process(
        &self,
        entity: Value,
        _context: &ProcessingContext,
        _emit: &mut Emitter,
    ) -> Result<Value, BackendError> {
        Ok(entity)
    }
}

/// The `catalog.processing` extension point: modules add processors, providers
/// and placeholder resolvers.
#[derive(Default)]
pub struct CatalogProcessingExtension {
    processors: Mutex<Vec<Arc<dyn CatalogProcessor>>>,
    providers: Mutex<Vec<Arc<dyn EntityProvider>>>,
    placeholder_resolvers: Mutex<Vec<(String, Arc<dyn PlaceholderResolver>)>>,
}

impl std::fmt::Debug for CatalogProcessingExtension {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogProcessingExtension")
            .field(
                "processors",
                &self
                    .processors()
                    .iter()
                    .map(|p| p.name().to_owned())
                    .collect::<Vec<_>>(),
            )
            .field(
                "providers",
                &self
                    .providers()
                    .iter()
                    .map(|p| p.name().to_owned())
                    .collect::<Vec<_>>(),
            )
            .field(
                "placeholder_resolvers",
                &self
                    .placeholder_resolvers()
                    .iter()
                    .map(|(key, _)| key.clone())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl CatalogProcessingExtension {
    pub fn add_processor(&self, processor: Arc<dyn CatalogProcessor>) {
        self.processors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(processor);
    }

    pub fn add_entity_provider(&self, provider: Arc<dyn EntityProvider>) {
        self.providers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(provider);
    }

    /// The processors added so far, in the order they were added.
    pub fn processors(&self) -> Vec<Arc<dyn CatalogProcessor>> {
        self.processors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The providers added so far, in the order they were added.
    pub fn providers(&self) -> Vec<Arc<dyn EntityProvider>> {
        self.providers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Adds the resolver of `{ $<key>: ... }` placeholders (`key` without the
    /// `$`, which is stripped if given). A key of a built-in resolver (`text`,
    /// `json`, `yaml`) replaces it; adding a key twice keeps the last.
    pub fn add_placeholder_resolver(
        &self,
        key: impl Into<String>,
        resolver: Arc<dyn PlaceholderResolver>,
    ) {
        let key = key.into();
        let key = key.strip_prefix('$').unwrap_or(&key).to_owned();
        let mut resolvers = self
            .placeholder_resolvers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        resolvers.retain(|(k, _)| *k != key);
        resolvers.push((key, resolver));
    }

    /// The placeholder resolvers added so far, by key.
    pub fn placeholder_resolvers(&self) -> Vec<(String, Arc<dyn PlaceholderResolver>)> {
        self.placeholder_resolvers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// The catalog's processing extension point, for modules of the `catalog` plugin.
pub const CATALOG_PROCESSING_EXTENSION_POINT: ExtensionPointRef<CatalogProcessingExtension> =
    ExtensionPointRef::new("catalog.processing");
