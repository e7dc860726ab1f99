//! The default database, cache and scheduler services, wired from their crates.
//!
//! Each store has one root-scoped manager built from `backend.database` and
//! `backend.cache`; root services are created eagerly, so a bad value in either
//! section fails start-up with its key even when no plugin uses the store. The
//! plugin-scoped services are views of the managers for one plugin. A plugin's
//! scheduler lives in that plugin's own database, stops with the plugin's
//! shutdown hooks, and serves its admin routes under the plugin's router.

use std::sync::Arc;

use greenroom_backend_cache::CacheManager;
use greenroom_backend_database::DatabaseManager;
use greenroom_backend_plugin_api::services::{
    CACHE, CacheService, DATABASE, DatabaseService, HTTP_ROUTER, ROOT_CONFIG, SCHEDULER,
    SchedulerService,
};
use greenroom_backend_plugin_api::{BackendError, ServiceContext, ServiceFactory, ServiceRef};
use greenroom_backend_scheduler::{PluginScheduler, admin_router};
use tokio_util::sync::CancellationToken;

use crate::state::{BACKEND_STATE, HookKind};

/// The manager of every plugin's database (root).
pub const ROOT_DATABASE_MANAGER: ServiceRef<DatabaseManager> =
    ServiceRef::root("greenroom.rootDatabaseManager");
/// The manager of every plugin's cache namespace (root).
pub const ROOT_CACHE_MANAGER: ServiceRef<CacheManager> =
    ServiceRef::root("greenroom.rootCacheManager");

/// Factories for the database, cache and scheduler services and their managers.
pub fn storage_service_factories() -> Vec<ServiceFactory> {
    vec![
        ServiceFactory::new(ROOT_DATABASE_MANAGER, |ctx| async move {
            let config = ctx.get(&ROOT_CONFIG).await?;
            let state = ctx.get(&BACKEND_STATE).await?;
            let manager = Arc::new(DatabaseManager::from_config(&config)?);
            // Root shutdown hooks run after every plugin's, so pools close last.
            let closing = Arc::clone(&manager);
            state.add_hook(
                None,
                HookKind::Shutdown,
                Box::new(move || Box::pin(async move { closing.close_all().await })),
            );
            Ok(manager)
        }),
        ServiceFactory::new(ROOT_CACHE_MANAGER, |ctx| async move {
            let config = ctx.get(&ROOT_CONFIG).await?;
            Ok(Arc::new(CacheManager::from_config(&config)?))
        }),
        ServiceFactory::new(DATABASE, |ctx| async move {
            let manager = ctx.get(&ROOT_DATABASE_MANAGER).await?;
            Ok(manager.for_plugin(plugin_id(&ctx)?) as Arc<dyn DatabaseService>)
        }),
        ServiceFactory::new(CACHE, |ctx| async move {
            let manager = ctx.get(&ROOT_CACHE_MANAGER).await?;
            Ok(manager.for_plugin(plugin_id(&ctx)?) as Arc<dyn CacheService>)
        }),
        ServiceFactory::new(SCHEDULER, |ctx| async move {
            let id = plugin_id(&ctx)?.to_owned();
            let db = ctx.get(&DATABASE).await?.client().await?;
            let state = ctx.get(&BACKEND_STATE).await?;
            let stop = CancellationToken::new();
            let scheduler = Arc::new(PluginScheduler::new(&id, db, stop.clone()).await?);
            let stopping = Arc::clone(&scheduler);
            // The scheduler must finish (and release its leases) before the root
            // hooks close the database pools.
            state.add_hook(
                Some(&id),
                HookKind::Shutdown,
                Box::new(move || {
                    Box::pin(async move {
                        stop.cancel();
                        stopping.stopped().await;
                    })
                }),
            );
            ctx.get(&HTTP_ROUTER)
                .await?
                .use_router(admin_router(Arc::clone(&scheduler)));
            Ok(scheduler as Arc<dyn SchedulerService>)
        }),
    ]
}

fn plugin_id(ctx: &ServiceContext) -> Result<&str, BackendError> {
    ctx.plugin_id().ok_or_else(|| {
        BackendError::internal("a plugin-scoped service was requested without a plugin")
    })
}
