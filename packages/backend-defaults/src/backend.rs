//! The backend runtime: collects features, validates them, and runs Backstage's
//! startup (§7.6) and shutdown (§7.7) sequences.

mod container;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use greenroom_backend_plugin_api::feature::{InitFn, is_valid_feature_id};
use greenroom_backend_plugin_api::services::{HTTP_ROUTER, PLUGIN_METADATA, ROOT_HTTP_ROUTER};
use greenroom_backend_plugin_api::{
    AnyService, BackendError, BackendFeature, InitContext, ServiceFactory, ServiceResolver,
    ServiceScope,
};
use greenroom_config::Config;
use serde_json::Value;
use tokio::task::JoinSet;

use crate::services::default_service_factories;
use crate::state::{BACKEND_STATE, BackendState, HookKind, Phase};
use container::Container;

/// A plugin after its register function ran.
struct RegisteredPlugin {
    id: String,
    extension_points: Vec<(&'static str, AnyService)>,
    inits: Vec<InitFn>,
}

/// A module after its register function ran.
struct RegisteredModule {
    plugin_id: String,
    module_id: String,
    inits: Vec<InitFn>,
}

/// A backend being assembled: add features, then [`Backend::start`].
pub struct Backend {
    config: Arc<Config>,
    plugins: Vec<RegisteredPlugin>,
    modules: Vec<RegisteredModule>,
    services: Vec<ServiceFactory>,
}

impl fmt::Debug for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Backend")
            .field(
                "plugins",
                &self.plugins.iter().map(|p| &p.id).collect::<Vec<_>>(),
            )
            .field(
                "modules",
                &self
                    .modules
                    .iter()
                    .map(|m| format!("{}/{}", m.plugin_id, m.module_id))
                    .collect::<Vec<_>>(),
            )
            .field("services", &self.services)
            .finish_non_exhaustive()
    }
}

/// What to do when a plugin or module fails to boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BootFailure {
    Abort,
    Continue,
}

impl Backend {
    /// A backend reading `config`, with the default service factories installed.
    pub fn new(config: Arc<Config>) -> Self {
        Self {
            config,
            plugins: Vec::new(),
            modules: Vec::new(),
            services: Vec::new(),
        }
    }

    /// Adds a plugin, module or service factory. Registration functions run now;
    /// problems with them are reported by [`Backend::start`].
    pub fn add(&mut self, feature: impl Into<BackendFeature>) -> &mut Self {
        match feature.into() {
            BackendFeature::Plugin(plugin) => {
                let (id, registrar) = plugin.register();
                let (extension_points, inits) = registrar.into_parts();
                self.plugins.push(RegisteredPlugin {
                    id,
                    extension_points,
                    inits,
                });
            }
            BackendFeature::Module(module) => {
                let (plugin_id, module_id, registrar) = module.register();
                self.modules.push(RegisteredModule {
                    plugin_id,
                    module_id,
                    inits: registrar.into_inits(),
                });
            }
            BackendFeature::Service(factory) => self.services.push(factory),
        }
        self
    }

    /// Checks the features against each other (§7.6 step 2).
    fn validate(&self) -> Result<(), BackendError> {
        let mut plugin_ids = HashSet::new();
        let mut extension_points: HashMap<&str, &str> = HashMap::new();
        for plugin in &self.plugins {
            if !is_valid_feature_id(&plugin.id) {
                return Err(BackendError::input(format!(
                    "Invalid plugin id '{}': use letters, digits, '-' and '_', starting with a letter",
                    plugin.id
                )));
            }
            if !plugin_ids.insert(plugin.id.as_str()) {
                return Err(BackendError::conflict(format!(
                    "Plugin '{}' is already registered",
                    plugin.id
                )));
            }
            if plugin.inits.len() != 1 {
                return Err(BackendError::input(format!(
                    "Plugin '{}' must register an init function exactly once, but registered {}",
                    plugin.id,
                    plugin.inits.len()
                )));
            }
            for (point, _) in &plugin.extension_points {
                if let Some(owner) = extension_points.insert(point, &plugin.id) {
                    return Err(BackendError::conflict(format!(
                        "Extension point '{point}' is registered by both plugin '{owner}' and plugin '{}'",
                        plugin.id
                    )));
                }
            }
        }
        let mut module_ids = HashSet::new();
        for module in &self.modules {
            for id in [&module.plugin_id, &module.module_id] {
                if !is_valid_feature_id(id) {
                    return Err(BackendError::input(format!(
                        "Invalid module id '{}/{}': use letters, digits, '-' and '_', starting with a letter",
                        module.plugin_id, module.module_id
                    )));
                }
            }
            if !module_ids.insert((module.plugin_id.as_str(), module.module_id.as_str())) {
                return Err(BackendError::conflict(format!(
                    "Module '{}' for plugin '{}' is already registered",
                    module.module_id, module.plugin_id
                )));
            }
            if !plugin_ids.contains(module.plugin_id.as_str()) {
                return Err(BackendError::input(format!(
                    "Module '{}' extends plugin '{}', which is not installed",
                    module.module_id, module.plugin_id
                )));
            }
            if module.inits.len() != 1 {
                return Err(BackendError::input(format!(
                    "Module '{}' for plugin '{}' must register an init function exactly once, but registered {}",
                    module.module_id,
                    module.plugin_id,
                    module.inits.len()
                )));
            }
        }
        let mut service_ids = HashSet::new();
        for factory in &self.services {
            if factory.id() == PLUGIN_METADATA.id() || factory.id() == BACKEND_STATE.id() {
                return Err(BackendError::input(format!(
                    "The {} service is provided by the backend and cannot be overridden",
                    factory.id()
                )));
            }
            if !service_ids.insert(factory.id()) {
                return Err(BackendError::conflict(format!(
                    "Duplicate service implementations provided for {}",
                    factory.id()
                )));
            }
        }
        Ok(())
    }

    /// Starts the backend: root services (the HTTP server listens from here on,
    /// answering readiness with 503), then every plugin in parallel (its
    /// modules first), then startup hooks; then readiness turns 200.
    pub async fn start(self) -> Result<RunningBackend, BackendError> {
        self.validate()?;
        let Backend {
            config,
            plugins,
            mut modules,
            services,
        } = self;
        let mut factories: HashMap<&'static str, ServiceFactory> = default_service_factories()
            .into_iter()
            .map(|f| (f.id(), f))
            .collect();
        // An explicitly added factory replaces the default for its service.
        factories.extend(services.into_iter().map(|f| (f.id(), f)));
        let state = Arc::new(BackendState::new(Arc::clone(&config)));
        let container = Container::new(factories, Arc::clone(&state));
        let running = RunningBackend {
            state: Arc::clone(&state),
            container: Arc::clone(&container),
            stopped: tokio::sync::Mutex::new(false),
        };
        match boot(&config, &container, &state, plugins, &mut modules).await {
            Ok(()) => Ok(running),
            Err(e) => {
                state.set_phase(Phase::ShuttingDown);
                state.stop_server().await;
                Err(e)
            }
        }
    }
}

async fn boot(
    config: &Config,
    container: &Arc<Container>,
    state: &BackendState,
    plugins: Vec<RegisteredPlugin>,
    modules: &mut Vec<RegisteredModule>,
) -> Result<(), BackendError> {
    // Root services are created eagerly; the HTTP router first, so that the
    // health endpoints answer as early as possible.
    let mut root_ids = container.root_service_ids();
    root_ids.sort_by_key(|id| *id != ROOT_HTTP_ROUTER.id());
    for id in root_ids {
        container
            .resolve(id, ServiceScope::Root, None, Vec::new())
            .await?;
    }

    let mut tasks = JoinSet::new();
    let plugin_ids: Vec<String> = plugins.iter().map(|p| p.id.clone()).collect();
    for plugin in plugins {
        let own_modules: Vec<RegisteredModule> = {
            let (own, rest): (Vec<_>, Vec<_>) = std::mem::take(modules)
                .into_iter()
                .partition(|m| m.plugin_id == plugin.id);
            *modules = rest;
            own
        };
        let plugin_policy = plugin_boot_failure(config, &plugin.id)?;
        let mut module_policies = Vec::with_capacity(own_modules.len());
        for module in &own_modules {
            module_policies.push(module_boot_failure(config, &plugin.id, &module.module_id)?);
        }
        let container = Arc::clone(container);
        tasks.spawn(async move {
            let id = plugin.id.clone();
            let result = boot_plugin(&container, plugin, own_modules, module_policies).await;
            (id, plugin_policy, result)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        let (plugin_id, policy, result) = joined.map_err(|e| {
            BackendError::internal(format!("a plugin's startup task ended abnormally: {e}"))
        })?;
        if let Err(cause) = result {
            let message = format!("Plugin '{plugin_id}' startup failed; caused by {cause}");
            match policy {
                BootFailure::Abort => return Err(BackendError::new(cause.name, message)),
                BootFailure::Continue => {
                    tracing::error!(plugin.id = %plugin_id, "{message}; continuing without it");
                    state.disable_plugin(&plugin_id);
                }
            }
        }
    }
    state.run_hooks(HookKind::Startup, true, true).await;
    state.set_phase(Phase::Started);
    let started: Vec<&str> = plugin_ids
        .iter()
        .map(String::as_str)
        .filter(|id| !state.is_plugin_disabled(id))
        .collect();
    tracing::info!(plugins = ?started, "backend started");
    Ok(())
}

/// Mounts the plugin's router, runs its modules' inits, then its own init.
async fn boot_plugin(
    container: &Container,
    plugin: RegisteredPlugin,
    modules: Vec<RegisteredModule>,
    module_policies: Vec<BootFailure>,
) -> Result<(), BackendError> {
    let context = container.context(Some(&plugin.id))?;
    // Every plugin gets its HTTP router, so every plugin is mounted.
    if container.has_factory(HTTP_ROUTER.id()) {
        context.get(&HTTP_ROUTER).await?;
    }
    let points: HashMap<&'static str, AnyService> = plugin.extension_points.into_iter().collect();
    let points = Arc::new(points);
    for (module, policy) in modules.into_iter().zip(module_policies) {
        for init in module.inits {
            let init_context = InitContext::new(context.clone(), Arc::clone(&points));
            if let Err(cause) = init(init_context).await {
                let message = format!(
                    "Module '{}' for plugin '{}' startup failed; caused by {cause}",
                    module.module_id, module.plugin_id
                );
                match policy {
                    BootFailure::Abort => return Err(BackendError::new(cause.name, message)),
                    BootFailure::Continue => tracing::error!(
                        plugin.id = %module.plugin_id,
                        module.id = %module.module_id,
                        "{message}; continuing without it"
                    ),
                }
            }
        }
    }
    for init in plugin.inits {
        init(InitContext::new(context.clone(), Arc::new(HashMap::new()))).await?;
    }
    Ok(())
}

fn read_policy(value: Option<&Value>, key: &str) -> Result<Option<BootFailure>, BackendError> {
    match value {
        None => Ok(None),
        Some(Value::String(s)) if s == "abort" => Ok(Some(BootFailure::Abort)),
        Some(Value::String(s)) if s == "continue" => Ok(Some(BootFailure::Continue)),
        Some(other) => Err(BackendError::config(format!(
            "Invalid value in config for key '{key}': {other}, expected 'abort' or 'continue'"
        ))),
    }
}

/// Walks `path` from `root` without the reader's key grammar, since plugin and
/// module ids may contain characters config keys do not allow.
fn lookup<'a>(root: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter()
        .try_fold(root, |value, segment| value.get(segment))
}

fn plugin_boot_failure(config: &Config, plugin_id: &str) -> Result<BootFailure, BackendError> {
    let root = config.merged();
    let specific = read_policy(
        lookup(
            root,
            &[
                "backend",
                "startup",
                "plugins",
                plugin_id,
                "onPluginBootFailure",
            ],
        ),
        &format!("backend.startup.plugins.{plugin_id}.onPluginBootFailure"),
    )?;
    let default = read_policy(
        lookup(
            root,
            &["backend", "startup", "default", "onPluginBootFailure"],
        ),
        "backend.startup.default.onPluginBootFailure",
    )?;
    Ok(specific.or(default).unwrap_or(BootFailure::Abort))
}

fn module_boot_failure(
    config: &Config,
    plugin_id: &str,
    module_id: &str,
) -> Result<BootFailure, BackendError> {
    let root = config.merged();
    let specific = read_policy(
        lookup(
            root,
            &[
                "backend",
                "startup",
                "plugins",
                plugin_id,
                "modules",
                module_id,
                "onPluginModuleBootFailure",
            ],
        ),
        &format!(
            "backend.startup.plugins.{plugin_id}.modules.{module_id}.onPluginModuleBootFailure"
        ),
    )?;
    let default = read_policy(
        lookup(
            root,
            &["backend", "startup", "default", "onPluginModuleBootFailure"],
        ),
        "backend.startup.default.onPluginModuleBootFailure",
    )?;
    Ok(specific.or(default).unwrap_or(BootFailure::Abort))
}

/// A started backend. Stop it with [`RunningBackend::stop`], or let
/// [`RunningBackend::wait_for_shutdown_signal`] do so on SIGTERM / SIGINT.
pub struct RunningBackend {
    state: Arc<BackendState>,
    container: Arc<Container>,
    stopped: tokio::sync::Mutex<bool>,
}

impl fmt::Debug for RunningBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningBackend")
            .field("state", &self.state)
            .field("container", &self.container)
            .finish_non_exhaustive()
    }
}

impl RunningBackend {
    /// The address the HTTP server is bound to (`None` if the root HTTP router
    /// was replaced by one that does not report it).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.state.local_addr()
    }

    /// The runtime state, e.g. to read the phase.
    pub fn state(&self) -> &Arc<BackendState> {
        &self.state
    }

    /// Shuts down (§7.7): readiness 503, before-shutdown hooks, stop accepting
    /// and finish in-flight requests, plugin shutdown hooks, root shutdown
    /// hooks. Only the first call does anything; later calls return at once.
    pub async fn stop(&self) {
        let mut stopped = self.stopped.lock().await;
        if *stopped {
            return;
        }
        *stopped = true;
        tracing::info!("backend shutting down");
        self.state.set_phase(Phase::ShuttingDown);
        self.state
            .run_hooks(HookKind::BeforeShutdown, false, true)
            .await;
        self.state.stop_server().await;
        self.state.run_hooks(HookKind::Shutdown, true, false).await;
        self.state.run_hooks(HookKind::Shutdown, false, true).await;
        tracing::info!("backend stopped");
    }

    /// Waits for SIGTERM or SIGINT, then stops the backend.
    pub async fn wait_for_shutdown_signal(&self) {
        wait_for_signal().await;
        self.stop().await;
    }
}

impl Drop for RunningBackend {
    /// A backend dropped without [`RunningBackend::stop`] at least stops
    /// listening, so that it does not outlive its owner (e.g. a failed test).
    fn drop(&mut self) {
        self.state.cancel_server();
    }
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM; waiting for SIGINT only");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
