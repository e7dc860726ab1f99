//! The default service factories for the core services this crate implements:
//! config, loggers, lifecycles, HTTP routers, health and discovery. Database,
//! cache and scheduler come from their own crates.

use std::sync::Arc;

use greenroom_backend_plugin_api::services::{
    DISCOVERY, DiscoveryService, HTTP_ROUTER, HttpRouterService, LIFECYCLE, LOGGER,
    LifecycleService, Logger, ROOT_CONFIG, ROOT_HEALTH, ROOT_HTTP_ROUTER, ROOT_LIFECYCLE,
    ROOT_LOGGER, RootHealthService, RootHttpRouterService, RootLifecycleService,
};
use greenroom_backend_plugin_api::{BackendError, ServiceContext, ServiceFactory};

use crate::discovery::HostDiscovery;
use crate::health::DefaultRootHealth;
use crate::http::router::{DefaultRootHttpRouter, PluginHttpRouter};
use crate::http::server::{
    ServerOptions, bind, build_app, server_shutdown_delay, spawn_server, startup_request_pause,
};
use crate::lifecycle::{DefaultPluginLifecycle, DefaultRootLifecycle};
use crate::state::{BACKEND_STATE, HookKind};

/// The built-in factories; an app's own factory for the same service replaces one.
pub fn default_service_factories() -> Vec<ServiceFactory> {
    let mut factories = core_service_factories();
    factories.extend(crate::storage::storage_service_factories());
    factories
}

/// The factories implemented in this crate.
fn core_service_factories() -> Vec<ServiceFactory> {
    vec![
        ServiceFactory::new(ROOT_CONFIG, |ctx| async move {
            let state = ctx.get(&BACKEND_STATE).await?;
            Ok(Arc::clone(state.config()))
        }),
        ServiceFactory::new(ROOT_LOGGER, |_| async { Ok(Arc::new(Logger::root())) }),
        ServiceFactory::new(LOGGER, |ctx| async move {
            Ok(Arc::new(Logger::for_plugin(plugin_id(&ctx)?)))
        }),
        ServiceFactory::new(ROOT_LIFECYCLE, |ctx| async move {
            let state = ctx.get(&BACKEND_STATE).await?;
            Ok(Arc::new(DefaultRootLifecycle::new(state)) as Arc<dyn RootLifecycleService>)
        }),
        ServiceFactory::new(LIFECYCLE, |ctx| async move {
            let state = ctx.get(&BACKEND_STATE).await?;
            Ok(
                Arc::new(DefaultPluginLifecycle::new(plugin_id(&ctx)?, state))
                    as Arc<dyn LifecycleService>,
            )
        }),
        ServiceFactory::new(ROOT_HEALTH, |ctx| async move {
            let state = ctx.get(&BACKEND_STATE).await?;
            Ok(Arc::new(DefaultRootHealth::new(state)) as Arc<dyn RootHealthService>)
        }),
        ServiceFactory::new(ROOT_HTTP_ROUTER, |ctx| async move {
            let state = ctx.get(&BACKEND_STATE).await?;
            let config = ctx.get(&ROOT_CONFIG).await?;
            let health = ctx.get(&ROOT_HEALTH).await?;
            let options = ServerOptions::from_config(&config)?;
            // Read now so that a bad value fails start-up even without plugins.
            startup_request_pause(&config)?;
            let router = Arc::new(DefaultRootHttpRouter::default());
            let app = build_app(Arc::clone(&router), health, &options);
            let listener = bind(&options.listen).await?;
            let addr = spawn_server(listener, app, &state)?;
            if let Some(delay) = server_shutdown_delay(&config)? {
                // Lets load balancers notice the 503 readiness before the
                // server stops accepting connections.
                state.add_hook(
                    None,
                    HookKind::BeforeShutdown,
                    Box::new(move || Box::pin(tokio::time::sleep(delay))),
                );
            }
            tracing::debug!(%addr, "HTTP server listening");
            Ok(router as Arc<dyn RootHttpRouterService>)
        }),
        ServiceFactory::new(HTTP_ROUTER, |ctx| async move {
            let id = plugin_id(&ctx)?;
            let state = ctx.get(&BACKEND_STATE).await?;
            let config = ctx.get(&ROOT_CONFIG).await?;
            let root = ctx.get(&ROOT_HTTP_ROUTER).await?;
            let router = PluginHttpRouter::new(id, state, startup_request_pause(&config)?);
            root.use_router(&format!("/api/{id}"), router.to_router())?;
            Ok(Arc::new(router) as Arc<dyn HttpRouterService>)
        }),
        ServiceFactory::new(DISCOVERY, |ctx| async move {
            let state = ctx.get(&BACKEND_STATE).await?;
            let config = ctx.get(&ROOT_CONFIG).await?;
            let port = state.local_addr().map(|addr| addr.port());
            Ok(Arc::new(HostDiscovery::from_config(&config, port)?) as Arc<dyn DiscoveryService>)
        }),
    ]
}

fn plugin_id(ctx: &ServiceContext) -> Result<&str, BackendError> {
    ctx.plugin_id().ok_or_else(|| {
        BackendError::internal("a plugin-scoped service was requested without a plugin")
    })
}
