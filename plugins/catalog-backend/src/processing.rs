//! Ingestion and processing: building the engine, the entity providers and the
//! mutations they apply, the registered-location store, the built-in processors
//! (placeholders, location annotations, kinds and relations, file and URL
//! reading), the orchestrator that runs them on one entity, and the loop that
//! claims due entities and writes their results.
//!
//! The entry points other modules call:
//! * [`CatalogEngine::new`] then [`CatalogEngine::connect_providers`] at start-up;
//! * [`CatalogEngine::start_processing`] (or [`CatalogEngine::process_pending_until_idle`]);
//! * the location store ([`CatalogEngine::add_location`] and friends, or
//!   [`DefaultLocationStore`]),
//!   [`CatalogEngine::validate_entity`] and [`CatalogEngine::dry_run_location`]
//!   for the REST API.

mod glob;
mod inline;
pub(crate) use inline::INLINE_MIN;
mod locations;
mod mutations;
mod orchestrator;
mod processors;
mod reader;
pub(crate) mod sql;
mod texts;
mod worker;

use std::sync::Arc;

use greenroom_backend_plugin_api::BackendError;
use greenroom_backend_plugin_api::services::{Database, Logger};
use greenroom_catalog_model::rules::CatalogRules;
use greenroom_config::Config;
use greenroom_plugin_catalog_node::{CatalogProcessor, EntityProvider, PlaceholderResolver};

use crate::engine::{CatalogEngine, EngineSettings};

pub use locations::{
    CONFIG_PROVIDER_NAME, ConfigLocationProvider, DefaultLocationStore, LOCATION_STORE_NAME,
    LocationRow,
};
pub use mutations::ProviderConnection;
pub use orchestrator::{DryRunLocation, DryRunResult, ProcessingErrorBody};
pub use processors::{
    AnnotateLocationEntityProcessor, BuiltinKindsEntityProcessor, FileReaderProcessor,
    PlaceholderProcessor, UrlReaderProcessor,
};
pub use reader::{MAX_FILE_BYTES, MAX_URL_BYTES, Reader, URL_TIMEOUT};

impl CatalogEngine {
    /// Builds the engine: runs the catalog's migrations, reads its settings,
    /// `catalog.rules` and `catalog.locations`, and assembles the processors
    /// (the built-in ones, then `extra_processors`, ordered by
    /// `catalog.processorOptions.<name>.priority`, default 20, lower first).
    ///
    /// Providers are not connected yet: call [`CatalogEngine::connect_providers`].
    pub async fn new(
        db: Database,
        config: &Config,
        logger: Logger,
        extra_processors: Vec<Arc<dyn CatalogProcessor>>,
        extra_providers: Vec<Arc<dyn EntityProvider>>,
        placeholder_resolvers: Vec<(String, Arc<dyn PlaceholderResolver>)>,
    ) -> Result<Arc<CatalogEngine>, BackendError> {
        crate::db::migrate(&db).await?;
        let settings = EngineSettings::from_config(config)?;
        let rules = CatalogRules::from_config(
            config.get("catalog.rules"),
            config.get("catalog.locations"),
            &settings.cwd,
        )
        .map_err(|e| BackendError::config(e.to_string()))?;
        let config_locations = locations::config_locations(config, &settings.cwd)?;

        let reader = Arc::new(Reader::new(
            settings.reading_allow.clone(),
            settings.cwd.clone(),
        ));
        let disable_defaults = config
            .get_optional_bool("catalog.disableDefaultProcessors")?
            .unwrap_or(false);
        let mut processors: Vec<Arc<dyn CatalogProcessor>> = vec![Arc::new(
            PlaceholderProcessor::with_resolvers(reader.clone(), placeholder_resolvers),
        )];
        if !disable_defaults {
            processors.push(Arc::new(FileReaderProcessor::new(reader.clone())));
            processors.push(Arc::new(UrlReaderProcessor::new(reader.clone())));
            processors.push(Arc::new(AnnotateLocationEntityProcessor));
        }
        processors.push(Arc::new(BuiltinKindsEntityProcessor::new()));
        processors.extend(extra_processors);
        let mut ranked = Vec::with_capacity(processors.len());
        for processor in processors {
            let key = format!("catalog.processorOptions.{}.priority", processor.name());
            let priority = config.get_optional_number(&key)?.unwrap_or(20.0);
            ranked.push((priority, processor));
        }
        // A stable sort keeps registration order among equal priorities.
        ranked.sort_by(|a, b| a.0.total_cmp(&b.0));
        let processors = ranked.into_iter().map(|(_, p)| p).collect();

        let orphan_provider_delete = !matches!(
            config
                .get_optional_string("catalog.orphanProviderStrategy")?
                .as_deref(),
            Some("keep")
        );
        let engine = Arc::new(CatalogEngine {
            db,
            settings,
            rules,
            config_locations,
            processors,
            providers: extra_providers,
            logger,
            wake: crate::engine::Wake::default(),
            inline_min: std::sync::atomic::AtomicUsize::new(crate::processing::INLINE_MIN),
            inline_written: std::sync::atomic::AtomicUsize::new(0),
            wal: crate::db::WalState::default(),
        });
        if orphan_provider_delete {
            engine.remove_unknown_providers().await?;
        }
        Ok(engine)
    }
}
