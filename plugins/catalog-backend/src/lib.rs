//! The catalog plugin (`/api/catalog`): entity providers, the processing loop,
//! stitching into final entities, the change log that in-memory indexes follow,
//! and Backstage's catalog REST API.
//!
//! [`plugin`] wires them on the backend platform: the engine lives in the
//! plugin's own database; every instance keeps an in-memory index that follows
//! the change log and serves reads (loaded in the background at start, while
//! the database answers simple reads); processing and stitching run on every
//! instance, coordinated through the database; orphan cleanup is a global
//! scheduled task; everything stops with the plugin's shutdown hook. The API
//! router is also left in the backend's [`CatalogRouterSlot`] for the in-process
//! `catalog.service`; placeholder resolvers and location analyzers added by
//! modules reach the placeholder processor and `POST /analyze-location`.

pub mod api;
pub(crate) mod db;
pub mod engine;
pub mod follower;
mod parallel;
pub mod processing;
pub mod stitching;

use std::sync::Arc;
use std::time::Duration;

use greenroom_backend_plugin_api::services::{
    DATABASE, Frequency, HTTP_ROUTER, LIFECYCLE, LOGGER, ROOT_CONFIG, ROOT_LIFECYCLE, SCHEDULER,
    TaskDefinition, TaskScope,
};
use greenroom_backend_plugin_api::{BackendError, BackendPlugin};
use greenroom_plugin_catalog_node::{
    CATALOG_ANALYSIS_EXTENSION_POINT, CATALOG_PROCESSING_EXTENSION_POINT, CatalogAnalysisExtension,
    CatalogProcessingExtension, CatalogRouterSlot,
};
use tokio_util::sync::CancellationToken;

/// The `catalog.service` factory, re-exported so that an app adding the catalog
/// needs no direct dependency on the node crate.
pub use greenroom_plugin_catalog_node::catalog_service_factory;

use crate::api::ApiState;
use crate::engine::{CatalogEngine, OrphanStrategy};

/// The plugin id, and so the path under `/api`.
pub const PLUGIN_ID: &str = "catalog";
/// The id of the task that deletes orphans when `catalog.orphanStrategy` is `delete`.
pub const ORPHAN_CLEANUP_TASK_ID: &str = "catalog_orphan_cleanup";

/// The catalog plugin, to add to a backend.
pub fn plugin() -> BackendPlugin {
    BackendPlugin::new(PLUGIN_ID, |registrar| {
        let extension = Arc::new(CatalogProcessingExtension::default());
        registrar
            .register_extension_point(CATALOG_PROCESSING_EXTENSION_POINT, Arc::clone(&extension));
        let analysis = Arc::new(CatalogAnalysisExtension::default());
        registrar.register_extension_point(CATALOG_ANALYSIS_EXTENSION_POINT, Arc::clone(&analysis));
        registrar.register_init(move |env| async move {
            let config = env.get(&ROOT_CONFIG).await?;
            let logger = env.get(&LOGGER).await?;
            let db = env.get(&DATABASE).await?.client().await?;
            let engine = CatalogEngine::new(
                db,
                &config,
                (*logger).clone(),
                extension.processors(),
                extension.providers(),
                extension.placeholder_resolvers(),
            )
            .await?;
            engine.connect_providers().await?;
            // The index loads in the background: the routes answer from the
            // database what it can serve cheaply until the index is ready, so a
            // restart with a large catalog answers at once.
            let sync = Arc::new(follower::IndexSync::loading());
            let index = Arc::clone(sync.index());

            // Requests waiting for the index must not hold up the drain of
            // in-flight requests when the backend stops during the load.
            let stopping = Arc::clone(&sync);
            env.get(&ROOT_LIFECYCLE)
                .await?
                .add_before_shutdown_hook(Box::new(move || {
                    Box::pin(async move { stopping.stop_waiting() })
                }));
            let shutdown = CancellationToken::new();
            let mut tasks = vec![follower::follow(
                Arc::clone(&engine),
                Arc::clone(&sync),
                shutdown.clone(),
            )];
            for _ in 0..engine.workers_per_kind() {
                tasks.push(engine.start_processing(shutdown.clone()));
                tasks.push(engine.start_stitching(shutdown.clone()));
            }
            env.get(&LIFECYCLE)
                .await?
                .add_shutdown_hook(Box::new(move || {
                    Box::pin(async move {
                        shutdown.cancel();
                        for task in tasks {
                            let _ = task.await;
                        }
                    })
                }));

            if engine.settings.orphan_strategy == OrphanStrategy::Delete {
                let cleaner = Arc::clone(&engine);
                env.get(&SCHEDULER)
                    .await?
                    .schedule_task(TaskDefinition {
                        id: ORPHAN_CLEANUP_TASK_ID.to_owned(),
                        frequency: Frequency::Every(Duration::from_secs(30)),
                        timeout: Duration::from_secs(60),
                        initial_delay: None,
                        scope: TaskScope::Global,
                        run: Arc::new(move |_cancel| {
                            let cleaner = Arc::clone(&cleaner);
                            Box::pin(async move {
                                let removed = cleaner.delete_orphans().await?;
                                if removed > 0 {
                                    cleaner
                                        .logger
                                        .info(&format!("deleted {removed} orphaned entities"));
                                }
                                Ok::<(), BackendError>(())
                            })
                        }),
                    })
                    .await?;
            }

            // Location analyzers reach `POST /analyze-location` as a request
            // extension; without one the default analyzer answers alone.
            let router = api::router(Arc::new(ApiState {
                engine,
                index,
                sync: Some(sync),
                hot_texts: greenroom_catalog_query::HotTexts::default(),
            }))
            .layer(axum::Extension(analysis));
            // The same router answers in-process callers of `catalog.service`,
            // so they see exactly what HTTP callers see.
            CatalogRouterSlot::for_init(&env)
                .await?
                .fill(router.clone());
            env.get(&HTTP_ROUTER).await?.use_router(router);
            Ok(())
        });
    })
}
